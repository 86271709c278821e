/*
 * h_aliases.c -- the /aliases/... endpoints: create, alter, drop, describe,
 * list.
 *
 * Aliases are names of collections kept in the catalog's server.json
 * ("aliases": {alias: collection}), per database as in Milvus.  srv_resolve
 * accepts an alias wherever a collectionName is read; dropping or renaming
 * a collection updates its aliases in the same metadata write.
 *
 * The checks that depend on the alias map run inside the edit callback,
 * under the catalog's write lock, so two concurrent creates of one alias
 * cannot both succeed.  The callback reports a conflict through the
 * context (and an error status, so nothing is written); the handler then
 * answers with Milvus's code: 1600 not found, 1601 alias/collection name
 * conflict, 1602 alias already points elsewhere.  Creating an alias that
 * already points at the same collection succeeds, as in Milvus 2.4+.
 */
#include <string.h>

#include "server/server.h"
#include "util/util.h"

typedef enum alias_op { ALIAS_CREATE, ALIAS_ALTER, ALIAS_DROP } alias_op;

typedef struct alias_edit {
  alias_op op;
  const char *alias;
  const char *collection;
  int code;               /* Milvus code of a conflict, 0 if none */
  char other[VS_MAX_NAME + 1];
} alias_edit;

static vs_status edit_alias(json_t *meta, void *ctx) {
  alias_edit *e = ctx;
  json_t *aliases = json_object_get(meta, "aliases");
  const char *current = json_string_value(json_object_get(aliases, e->alias));
  if (current) snprintf(e->other, sizeof e->other, "%s", current);
  if (e->op == ALIAS_CREATE && current && strcmp(current, e->collection) != 0) e->code = SRV_CODE_ALIAS_EXISTS;
  if (e->op != ALIAS_CREATE && !current) e->code = SRV_CODE_ALIAS_NOT_FOUND;
  if (e->code) return vs_fail(VS_ERR_INVALID, "alias conflict");
  if (e->op == ALIAS_DROP) {
    json_object_del(aliases, e->alias);
  } else {
    json_object_set_new(aliases, e->alias, json_string(e->collection));
  }
  return VS_OK;
}

static void reply_conflict(srv_request *req, const alias_edit *e) {
  const char *db = srv_req_db(req);
  if (e->code == SRV_CODE_ALIAS_EXISTS) {
    srv_reply_error(req, e->code, "alias already exist[database=%s][alias=%s]: %s is alias to another collection: %s",
                    db, e->alias, e->alias, e->other);
  } else {
    srv_reply_error(req, e->code, "alias not found[database=%s][alias=%s]", db, e->alias);
  }
}

static void run_edit(srv_request *req, alias_edit *e) {
  srv_catalog *cat = srv_req_catalog(req);
  vs_status st = srv_catalog_edit(cat, srv_req_db(req), edit_alias, e);
  if (e->code) {
    reply_conflict(req, e);
  } else if (st == VS_ERR_NOT_FOUND) {
    srv_reply_error(req, SRV_CODE_DATABASE_NOT_FOUND, "database not found[database=%s]", srv_req_db(req));
  } else if (st != VS_OK) {
    srv_reply_status(req, st);
  } else {
    srv_reply_ok(req, NULL);
  }
}

/* collectionName must be a collection (not an alias); aliasName must be a
 * valid name that is not a collection. */
static bool check_pair(srv_request *req, const char **collection, const char **alias) {
  int has = 0;
  if (!srv_require_string(req, "collectionName", collection) || !srv_require_string(req, "aliasName", alias)) {
    return false;
  }
  if (!srv_check_name(req, "alias", *alias)) return false;
  vs_db *db = srv_database(req);
  if (!db) return false;
  vs_status st = vs_has_collection(db, *alias, &has);
  if (st == VS_OK && has) {
    srv_reply_error(req, SRV_CODE_ALIAS_CONFLICT, "alias and collection name conflict[database=%s][alias=%s]",
                    srv_req_db(req), *alias);
    return false;
  }
  if (st == VS_OK) st = vs_has_collection(db, *collection, &has);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return false;
  }
  if (!has) {
    srv_reply_error(req, SRV_CODE_COLLECTION_NOT_FOUND, "collection not found[database=%s][collection=%s]",
                    srv_req_db(req), *collection);
    return false;
  }
  return true;
}

static void h_create(srv_request *req) {
  alias_edit e = {ALIAS_CREATE, NULL, NULL, 0, ""};
  if (check_pair(req, &e.collection, &e.alias)) run_edit(req, &e);
}

static void h_alter(srv_request *req) {
  alias_edit e = {ALIAS_ALTER, NULL, NULL, 0, ""};
  if (check_pair(req, &e.collection, &e.alias)) run_edit(req, &e);
}

static void h_drop(srv_request *req) {
  alias_edit e = {ALIAS_DROP, NULL, NULL, 0, ""};
  if (!srv_require_string(req, "aliasName", &e.alias) || !srv_database(req)) return;
  run_edit(req, &e);
}

static void h_describe(srv_request *req) {
  const char *alias = NULL;
  if (!srv_require_string(req, "aliasName", &alias) || !srv_database(req)) return;
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  const char *target = json_string_value(json_object_get(json_object_get(meta, "aliases"), alias));
  if (!target) {
    srv_reply_error(req, SRV_CODE_ALIAS_NOT_FOUND, "alias not found[database=%s][alias=%s]", srv_req_db(req), alias);
  } else {
    srv_reply_ok(req, json_pack("{s:s,s:s,s:s}", "dbName", srv_req_db(req), "collectionName", target, "aliasName",
                                alias));
  }
  json_decref(meta);
}

static void h_list(srv_request *req) {
  srv_target t;
  const char *filter = NULL;
  json_t *given = srv_get(req, "collectionName");
  if (given && !(json_is_string(given) && json_string_length(given) == 0)) {
    if (!srv_resolve(req, "collectionName", false, &t)) return;
    filter = t.name;
  } else if (!srv_database(req)) {
    return;
  }
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  json_t *list = json_array();
  const char *key;
  json_t *v;
  json_object_foreach(json_object_get(meta, "aliases"), key, v) {
    if (!filter || (json_is_string(v) && strcmp(json_string_value(v), filter) == 0)) {
      json_array_append_new(list, json_string(key));
    }
  }
  json_decref(meta);
  srv_reply_ok(req, list);
}

const srv_route srv_routes_aliases[] = {
    {"/aliases/create", h_create, "Global", "CreateAlias", 0},
    {"/aliases/alter", h_alter, "Global", "CreateAlias", 0},
    {"/aliases/drop", h_drop, "Global", "DropAlias", 0},
    {"/aliases/describe", h_describe, "Global", "DescribeAlias", 0},
    {"/aliases/list", h_list, "Global", "ListAliases", 0},
    {NULL, NULL, NULL, NULL, 0},
};
