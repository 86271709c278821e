/*
 * h_partitions.c -- the /partitions/... endpoints: list, has, create, drop,
 * load, release, get_stats.
 *
 * Partitions themselves are the engine's (vs_create_partition, ...).  Their
 * load state is the catalog's bookkeeping: a collection is loaded or not,
 * and a loaded one keeps a list of partitions released on their own
 * ("unloadedPartitions").  Loading some partitions of a released collection
 * loads the collection with every other partition in that list; releasing
 * the last loaded partition releases the collection -- Milvus's observable
 * states, without per-partition memory to manage.
 *
 * Milvus rules kept: creating a partition that exists and dropping one that
 * does not both succeed; "_default" cannot be dropped; a loaded partition
 * must be released before it is dropped (65535, Milvus's message).
 */
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "util/util.h"

#define SRV_CODE_UNEXPECTED 65535

static bool require_partition(srv_request *req, const char **out) {
  return srv_require_string(req, "partitionName", out);
}

static void h_list(srv_request *req) {
  srv_target t;
  char **names = NULL;
  size_t n = 0;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  vs_status st = vs_list_partitions(t.db, t.name, &names, &n); /* before names and n are read */
  srv_reply_names(req, st, names, n);
}

static void h_has(srv_request *req) {
  srv_target t;
  const char *part = NULL;
  int has = 0;
  if (!srv_resolve(req, "collectionName", false, &t) || !require_partition(req, &part)) return;
  vs_status st = vs_has_partition(t.db, t.name, part, &has);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  srv_reply_ok(req, json_pack("{s:b}", "has", has));
}

static void h_create(srv_request *req) {
  srv_target t;
  const char *part = NULL;
  if (!srv_resolve(req, "collectionName", false, &t) || !require_partition(req, &part)) return;
  if (!srv_check_name(req, "partition", part)) return;
  vs_status st = vs_create_partition(t.db, t.name, part);
  if (st != VS_OK && st != VS_ERR_EXISTS) {
    srv_reply_status(req, st);
    return;
  }
  srv_reply_ok(req, NULL);
}

/* ------------------------------------------------------------ load state */

typedef enum part_op { PART_LOAD, PART_RELEASE, PART_FORGET } part_op;

typedef struct part_edit {
  const char *collection;
  const char **names;
  size_t count;
  part_op op;
  char **all;           /* every partition of the collection */
  size_t all_count;
} part_edit;

static bool listed(const json_t *list, const char *name) {
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) return true;
  }
  return false;
}

static bool named(const part_edit *e, const char *name) {
  for (size_t i = 0; i < e->count; i++) {
    if (strcmp(e->names[i], name) == 0) return true;
  }
  return false;
}

/* The new unloadedPartitions list: old list (or, for a released
 * collection being loaded, every partition), minus/plus the named ones. */
static json_t *new_unloaded(const part_edit *e, const json_t *old, bool was_loaded) {
  json_t *out = json_array();
  for (size_t i = 0; out && i < e->all_count; i++) {
    const char *p = e->all[i];
    bool unloaded = was_loaded ? listed(old, p) : true;
    if (named(e, p)) unloaded = e->op == PART_RELEASE;
    if (e->op == PART_FORGET && named(e, p)) unloaded = false;
    if (unloaded) json_array_append_new(out, json_string(p));
  }
  return out;
}

static vs_status edit_partitions(json_t *meta, void *ctx) {
  const part_edit *e = ctx;
  bool was_loaded = srv_meta_is_loaded(meta, e->collection);
  if (e->op != PART_LOAD && !was_loaded) return VS_OK;
  json_t *c = srv_meta_collection(meta, e->collection, true);
  if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
  json_t *list = new_unloaded(e, json_object_get(c, "unloadedPartitions"), was_loaded);
  if (!list) return vs_fail(VS_ERR_NOMEM, "out of memory");
  bool none_loaded = json_array_size(list) >= e->all_count;
  if (none_loaded && e->op == PART_RELEASE) {
    json_object_set_new(c, "loaded", json_false());
    json_object_del(c, "unloadedPartitions");
    json_decref(list);
    return VS_OK;
  }
  json_object_set_new(c, "loaded", json_true());
  json_object_set_new(c, "unloadedPartitions", list);
  return VS_OK;
}

/* Reads partitionNames (required, each must exist) and every partition. */
static bool read_partition_names(srv_request *req, srv_target *t, part_edit *e) {
  if (!srv_get(req, "partitionNames")) {
    srv_reply_missing(req, "PartitionsReq", "PartitionNames");
    return false;
  }
  if (!srv_opt_string_list(req, "partitionNames", &e->names, &e->count)) return false;
  vs_status st = vs_list_partitions(t->db, t->name, &e->all, &e->all_count);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return false;
  }
  for (size_t i = 0; i < e->count; i++) {
    bool found = false;
    for (size_t k = 0; k < e->all_count; k++) found = found || strcmp(e->all[k], e->names[i]) == 0;
    if (!found) {
      srv_reply_error(req, SRV_CODE_PARTITION_NOT_FOUND, "partition not found[partition=%s]", e->names[i]);
      return false;
    }
  }
  return true;
}

static void load_or_release(srv_request *req, part_op op) {
  srv_target t;
  part_edit e = {0};
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  e.collection = t.name;
  e.op = op;
  if (read_partition_names(req, &t, &e) && srv_edit(req, edit_partitions, &e)) srv_reply_ok(req, NULL);
  free(e.names);
  vs_free_strings(e.all, e.all_count);
}

static void h_load(srv_request *req) { load_or_release(req, PART_LOAD); }
static void h_release(srv_request *req) { load_or_release(req, PART_RELEASE); }

/* ------------------------------------------------------------------ drop */

static bool drop_allowed(srv_request *req, srv_target *t, const char *part) {
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  bool loaded = srv_meta_partition_loaded(meta, t->name, part);
  json_decref(meta);
  if (strcmp(part, VS_DEFAULT_PARTITION) == 0) {
    srv_reply_error(req, SRV_CODE_INVALID, "default partition cannot be deleted");
    return false;
  }
  if (loaded) {
    srv_reply_error(req, SRV_CODE_UNEXPECTED,
                    "partition cannot be dropped, partition is loaded, please release it first");
    return false;
  }
  return true;
}

static void h_drop(srv_request *req) {
  srv_target t;
  const char *part = NULL;
  int has = 0;
  if (!srv_resolve(req, "collectionName", false, &t) || !require_partition(req, &part)) return;
  vs_status st = vs_has_partition(t.db, t.name, part, &has);
  if (st == VS_OK && !has) {
    srv_reply_ok(req, NULL);
    return;
  }
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  if (!drop_allowed(req, &t, part)) return;
  st = vs_drop_partition(t.db, t.name, part);
  if (st != VS_OK && st != VS_ERR_PARTITION_NOT_FOUND) {
    srv_reply_status(req, st);
    return;
  }
  part_edit e = {t.name, &part, 1, PART_FORGET, NULL, 0};
  st = vs_list_partitions(t.db, t.name, &e.all, &e.all_count);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  if (srv_edit(req, edit_partitions, &e)) srv_reply_ok(req, NULL);
  vs_free_strings(e.all, e.all_count);
}

static void h_get_stats(srv_request *req) {
  srv_target t;
  const char *part = NULL;
  uint64_t rows = 0;
  if (!srv_resolve(req, "collectionName", false, &t) || !require_partition(req, &part)) return;
  vs_status st = vs_count(t.db, t.name, part, &rows);
  if (st == VS_ERR_PARTITION_NOT_FOUND) {
    srv_reply_error(req, SRV_CODE_PARTITION_NOT_FOUND, "partition not found[partition=%s]", part);
    return;
  }
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  srv_reply_ok(req, json_pack("{s:I}", "rowCount", (json_int_t)rows));
}

const srv_route srv_routes_partitions[] = {
    {"/partitions/list", h_list, "Collection", "ShowPartitions", 0},
    {"/partitions/has", h_has, "Collection", "HasPartition", 0},
    {"/partitions/create", h_create, "Collection", "CreatePartition", 0},
    {"/partitions/drop", h_drop, "Collection", "DropPartition", 0},
    {"/partitions/load", h_load, "Collection", "Load", 0},
    {"/partitions/release", h_release, "Collection", "Release", 0},
    {"/partitions/get_stats", h_get_stats, "Collection", "GetStatistics", 0},
    {NULL, NULL, NULL, NULL, 0},
};
