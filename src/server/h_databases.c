/*
 * h_databases.c -- the /databases/... endpoints: create, drop, list,
 * describe, alter (and alter_properties), drop_properties.
 *
 * A database is a vs_db of its own (catalog.c explains the layout and the
 * crash-safe create/drop order); properties and the database id live in its
 * server.json.  Milvus's rules: "default" cannot be dropped (1100), a
 * database with collections cannot be dropped (1100, "database:X not empty,
 * must drop all collections before drop database"), a missing one is 800.
 * Property values are stored as strings, as Milvus stores them.
 */
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "util/util.h"

#define SRV_CODE_UNEXPECTED 65535
#define SRV_CODE_DATABASE_LIMIT 801

static bool require_db(srv_request *req, const char **name) { return srv_require_string(req, "dbName", name); }

static void h_create(srv_request *req) {
  const char *name = NULL;
  if (!require_db(req, &name)) return;
  json_t *props = srv_get(req, "properties");
  if (props && !json_is_object(props) && !json_is_null(props)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: properties must be an object");
    return;
  }
  vs_status st = srv_catalog_create_database(srv_req_catalog(req), name, props);
  if (st == VS_ERR_EXISTS) {
    srv_reply_error(req, SRV_CODE_UNEXPECTED, "%s", vs_errmsg(NULL));
  } else if (st == VS_ERR_LIMIT) {
    srv_reply_error(req, SRV_CODE_DATABASE_LIMIT, "%s", vs_errmsg(NULL));
  } else if (st != VS_OK) {
    srv_reply_status(req, st);
  } else {
    srv_reply_ok(req, NULL);
  }
}

/* Replies to a change of database `name` that ended with `st`. */
static void reply_db_change(srv_request *req, const char *name, vs_status st) {
  if (st == VS_ERR_NOT_FOUND) {
    srv_reply_error(req, SRV_CODE_DATABASE_NOT_FOUND, "database not found[database=%s]", name);
  } else if (st != VS_OK) {
    srv_reply_status(req, st);
  } else {
    srv_reply_ok(req, NULL);
  }
}

static void h_drop(srv_request *req) {
  const char *name = NULL;
  if (!require_db(req, &name)) return;
  reply_db_change(req, name, srv_catalog_drop_database(srv_req_catalog(req), name));
}

static void h_list(srv_request *req) {
  json_t *list = srv_catalog_list_databases(srv_req_catalog(req));
  if (!list) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return;
  }
  srv_reply_ok(req, list);
}

static json_t *kv_list(json_t *map) {
  json_t *list = json_array();
  const char *key;
  json_t *v;
  json_object_foreach(map, key, v) {
    const char *value = json_is_string(v) ? json_string_value(v) : "";
    json_array_append_new(list, json_pack("{s:s,s:s}", "key", key, "value", value));
  }
  return list;
}

static void h_describe(srv_request *req) {
  const char *name = NULL;
  if (!require_db(req, &name)) return;
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), name);
  if (!meta) {
    srv_reply_error(req, SRV_CODE_DATABASE_NOT_FOUND, "database not found[database=%s]", name);
    return;
  }
  srv_reply_ok(req, json_pack("{s:s,s:O,s:o}", "dbName", name, "dbID", json_object_get(meta, "dbID"), "properties",
                              kv_list(json_object_get(meta, "properties"))));
  json_decref(meta);
}

typedef struct db_props {
  json_t *set;
  const char **drop;
  size_t drop_count;
} db_props;

static vs_status edit_db_props(json_t *meta, void *ctx) {
  const db_props *e = ctx;
  return srv_props_edit(srv_obj_child(meta, "properties"), e->set, e->drop, e->drop_count);
}

static void run_edit(srv_request *req, const char *name, db_props *e) {
  reply_db_change(req, name, srv_catalog_edit(srv_req_catalog(req), name, edit_db_props, e));
}

static void h_alter(srv_request *req) {
  const char *name = NULL;
  db_props e = {0};
  if (!require_db(req, &name)) return;
  e.set = srv_get(req, "properties");
  if (!json_is_object(e.set)) {
    srv_reply_missing(req, "DatabaseReqWithProperties", "Properties");
    return;
  }
  run_edit(req, name, &e);
}

static void h_drop_properties(srv_request *req) {
  const char *name = NULL;
  db_props e = {0};
  if (!require_db(req, &name)) return;
  if (!srv_get(req, "propertyKeys")) {
    srv_reply_missing(req, "DropDatabasePropertiesReq", "PropertyKeys");
    return;
  }
  if (!srv_opt_string_list(req, "propertyKeys", &e.drop, &e.drop_count)) return;
  run_edit(req, name, &e);
  free(e.drop);
}

const srv_route srv_routes_databases[] = {
    {"/databases/create", h_create, "Global", "CreateDatabase", 0},
    {"/databases/drop", h_drop, "Global", "DropDatabase", 0},
    {"/databases/list", h_list, "Global", "ListDatabases", 0},
    {"/databases/describe", h_describe, "Global", "DescribeDatabase", 0},
    {"/databases/alter", h_alter, "Global", "AlterDatabase", 0},
    {"/databases/alter_properties", h_alter, "Global", "AlterDatabase", 0},
    {"/databases/drop_properties", h_drop_properties, "Global", "AlterDatabase", 0},
    {NULL, NULL, NULL, NULL, 0},
};
