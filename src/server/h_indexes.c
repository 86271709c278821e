/*
 * h_indexes.c -- the /indexes/... endpoints: create, list, describe, drop,
 * alter_properties, drop_properties.
 *
 * Milvus names indexes; the engine keeps one index per vector field and
 * knows it by the field.  The name -> field map (and the requested index
 * type and per-index properties) live in the catalog's server.json; an
 * engine index with no entry there (built with the CLI) is named after its
 * field, which is also Milvus's default index name.
 *
 * Index types: the engine's vector indexes (FLAT, HNSW, HNSW_SQ8, IVF_FLAT,
 * IVF_SQ8, IVF_PQ, AUTOINDEX -- docs/indexes.md says what AUTOINDEX builds)
 * are passed to vs_create_index with the request's params as JSON.  So are
 * scalar indexes on scalar fields (INVERTED, STL_SORT, BITMAP, AUTOINDEX;
 * a JSON field needs params.json_path and params.json_cast_type, Milvus
 * 2.5's names); the engine applies Milvus's type rules and its refusal
 * (STL_SORT on VarChar, BITMAP on Double, ...) comes back as 1100 with its
 * message.  Types the engine does not know (TRIE, DISKANN, SCANN, ...)
 * come back the same way.  A scalar index has no metric: describe shows
 * metricType "".
 *
 * As in Milvus, the metric belongs to the index: the first index of a field
 * may name any metric (the engine re-labels the field, docs/indexes.md);
 * while an index exists, another metric is refused by the engine.
 *
 * Drop follows Milvus: a loaded collection's index cannot be dropped
 * (65535, Milvus's own message), and dropping an index that does not exist
 * succeeds.
 */
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "util/util.h"

#define SRV_CODE_UNEXPECTED 65535

static json_t *meta_indexes(json_t *meta, const char *collection) {
  json_t *c = srv_meta_collection(meta, collection, false);
  json_t *idx = json_object_get(c, "indexes");
  return json_is_object(idx) ? idx : NULL;
}

const char *srv_meta_index_name(json_t *meta, const char *collection, const char *field) {
  const char *key;
  json_t *v;
  json_object_foreach(meta_indexes(meta, collection), key, v) {
    const char *f = json_string_value(json_object_get(v, "field"));
    if (f && strcmp(f, field) == 0) return key;
  }
  return field;
}

const char *srv_meta_index_field(json_t *meta, const char *collection, const char *index_name) {
  json_t *entry = json_object_get(meta_indexes(meta, collection), index_name);
  return json_string_value(json_object_get(entry, "field"));
}

/* Whether `field` has an engine index. */
static bool field_indexed(srv_target *t, const char *field, vs_status *st) {
  char **fields = NULL;
  size_t n = 0;
  bool found = false;
  *st = vs_list_indexes(t->db, t->name, &fields, &n);
  for (size_t i = 0; *st == VS_OK && i < n; i++) found = found || strcmp(fields[i], field) == 0;
  vs_free_strings(fields, n);
  return found;
}

/* ---------------------------------------------------------------- create */

typedef struct index_request {
  const char *field;
  const char *name;
  const char *type;
  const char *metric;     /* as requested, or NULL */
  json_t *params;         /* borrowed object, or NULL */
  vs_field_def def;
} index_request;

static bool find_field(srv_request *req, const vs_schema *schema, index_request *ir) {
  for (size_t i = 0; i < vs_schema_field_count(schema); i++) {
    if (vs_schema_field(schema, i, &ir->def) == VS_OK && strcmp(ir->def.name, ir->field) == 0) return true;
  }
  srv_reply_error(req, SRV_CODE_FIELD_NOT_FOUND, "field not found[field=%s]: cannot create index on non-exist field",
                  ir->field);
  return false;
}

static bool read_index_param(srv_request *req, json_t *ip, index_request *ir) {
  if (!json_is_object(ip)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: every indexParams entry must be an object");
    return false;
  }
  ir->field = json_string_value(srv_obj_get(ip, "fieldName"));
  if (!ir->field || !ir->field[0]) {
    srv_reply_missing(req, "IndexParam", "FieldName");
    return false;
  }
  ir->params = srv_obj_get(ip, "params");
  if (ir->params && !json_is_object(ir->params)) ir->params = NULL;
  ir->name = json_string_value(srv_obj_get(ip, "indexName"));
  if (!ir->name || !ir->name[0]) ir->name = ir->field;
  ir->type = json_string_value(srv_obj_get(ip, "indexType"));
  if (!ir->type || !ir->type[0]) ir->type = json_string_value(srv_obj_get(ir->params, "index_type"));
  if (!ir->type || !ir->type[0]) ir->type = "AUTOINDEX";
  ir->metric = json_string_value(srv_obj_get(ip, "metricType"));
  if (!ir->metric || !ir->metric[0]) ir->metric = json_string_value(srv_obj_get(ir->params, "metric_type"));
  if (ir->metric && !ir->metric[0]) ir->metric = NULL;
  return true;
}

static bool check_index_kind(srv_request *req, const srv_target *t, const index_request *ir) {
  if (ir->def.type != VS_TYPE_FLOAT_VECTOR) return true; /* scalar: the engine checks type and params */
  vs_metric m;
  if (ir->metric && vs_metric_from_name(ir->metric, &m) != VS_OK) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: metric type %s is not supported (L2, IP, COSINE)",
                    ir->metric);
    return false;
  }
  (void)t;
  return true;
}

/* The metric the index gets: the requested one, else the field's. */
static const char *effective_metric(const index_request *ir) {
  vs_metric m;
  if (ir->def.type != VS_TYPE_FLOAT_VECTOR) return "";
  if (ir->metric && vs_metric_from_name(ir->metric, &m) == VS_OK) return vs_metric_name(m);
  return vs_metric_name(ir->def.metric);
}

/* An index name maps to one field and a field has one index. */
static bool check_index_name(srv_request *req, const srv_target *t, const index_request *ir) {
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  const char *other_field = srv_meta_index_field(meta, t->name, ir->name);
  const char *current = srv_meta_index_name(meta, t->name, ir->field);
  vs_status st = VS_OK;
  bool indexed = field_indexed((srv_target *)t, ir->field, &st);
  bool ok = true;
  if (other_field && strcmp(other_field, ir->field) != 0) {
    srv_reply_error(req, SRV_CODE_INVALID, "CreateIndex failed: index name %s is already used on field %s",
                    ir->name, other_field);
    ok = false;
  } else if (indexed && strcmp(current, ir->name) != 0) {
    srv_reply_error(req, SRV_CODE_INVALID,
                    "CreateIndex failed: at most one distinct index is allowed per field (field %s has index %s)",
                    ir->field, current);
    ok = false;
  } else if (st != VS_OK) {
    srv_reply_status(req, st);
    ok = false;
  }
  json_decref(meta);
  return ok;
}

typedef struct index_edit {
  const char *collection;
  const index_request *ir;
  const char *drop_name;
} index_edit;

static vs_status record_index(json_t *meta, void *ctx) {
  const index_edit *e = ctx;
  json_t *c = srv_meta_collection(meta, e->collection, true);
  if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
  json_t *idx = json_object_get(c, "indexes");
  if (!json_is_object(idx)) {
    idx = json_object();
    json_object_set_new(c, "indexes", idx);
  }
  if (e->drop_name) {
    json_object_del(idx, e->drop_name);
    return VS_OK;
  }
  json_t *old = json_object_get(idx, e->ir->name);
  json_t *props = json_object_get(old, "properties");
  json_object_set_new(idx, e->ir->name,
                      json_pack("{s:s,s:s,s:s,s:o}", "field", e->ir->field, "indexType", e->ir->type, "metricType",
                                effective_metric(e->ir), "properties",
                                json_is_object(props) ? json_deep_copy(props) : json_object()));
  return VS_OK;
}

static bool create_one(srv_request *req, const srv_target *t, const index_request *ir) {
  json_t *params = ir->params ? json_deep_copy(ir->params) : json_object();
  char *text = NULL;
  if (params) {
    json_object_del(params, "index_type");
    if (ir->def.type == VS_TYPE_FLOAT_VECTOR) json_object_set_new(params, "metric_type", json_string(effective_metric(ir)));
    text = json_dumps(params, JSON_COMPACT);
  }
  json_decref(params);
  if (!text) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  vs_status st = vs_create_index(t->db, t->name, ir->field, ir->type, text);
  free(text);
  if (st == VS_ERR_EXISTS) {
    srv_reply_error(req, SRV_CODE_INVALID,
                    "CreateIndex failed: at most one distinct index is allowed per field: %s", vs_errmsg(NULL));
    return false;
  }
  if (st != VS_OK) {
    srv_reply_error(req, SRV_CODE_INVALID, "CreateIndex failed: %s", vs_errmsg(NULL));
    return false;
  }
  index_edit e = {t->name, ir, NULL};
  return srv_edit(req, record_index, &e);
}

bool srv_create_indexes(srv_request *req, const srv_target *t, json_t *index_params) {
  vs_schema *schema = NULL;
  vs_status st = vs_get_schema(t->db, t->name, &schema);
  bool ok = st == VS_OK;
  if (!ok) srv_reply_status(req, st);
  size_t i;
  json_t *ip;
  json_array_foreach(index_params, i, ip) {
    index_request ir;
    memset(&ir, 0, sizeof ir);
    ok = ok && read_index_param(req, ip, &ir) && find_field(req, schema, &ir) && check_index_kind(req, t, &ir) &&
         check_index_name(req, t, &ir) && create_one(req, t, &ir);
    if (!ok) break;
  }
  vs_schema_free(schema);
  return ok;
}

static void h_create(srv_request *req) {
  srv_target t;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  json_t *ip = srv_get(req, "indexParams");
  if (!json_is_array(ip) || json_array_size(ip) == 0) {
    srv_reply_missing(req, "IndexParamReq", "IndexParams");
    return;
  }
  if (srv_create_indexes(req, &t, ip)) srv_reply_ok(req, NULL);
}

/* ------------------------------------------------------------ list/describe */

static void h_list(srv_request *req) {
  srv_target t;
  char **fields = NULL;
  size_t n = 0;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  vs_status st = vs_list_indexes(t.db, t.name, &fields, &n);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  json_t *list = json_array();
  for (size_t i = 0; list && i < n; i++) {
    json_array_append_new(list, json_string(srv_meta_index_name(meta, t.name, fields[i])));
  }
  json_decref(meta);
  vs_free_strings(fields, n);
  srv_reply_ok(req, list);
}

/* The field of index `name`, or NULL after a 700 reply. */
static char *index_field(srv_request *req, srv_target *t, const char *name, bool reply) {
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  const char *field = srv_meta_index_field(meta, t->name, name);
  char *out = vs_strdup(field ? field : name);
  vs_status st = VS_OK;
  json_decref(meta);
  if (out && field_indexed(t, out, &st)) return out;
  free(out);
  if (st != VS_OK) {
    srv_reply_status(req, st);
  } else if (reply) {
    srv_reply_error(req, SRV_CODE_INDEX_NOT_FOUND, "index not found[indexName=%s]", name);
  }
  return NULL;
}

static json_t *describe_one(srv_request *req, srv_target *t, const char *name, const char *field) {
  char *text = NULL;
  vs_status st = vs_describe_index(t->db, t->name, field, &text);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return NULL;
  }
  json_t *eng = json_loads(text, 0, NULL);
  vs_free(text);
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  json_t *entry = json_object_get(meta_indexes(meta, t->name), name);
  const char *type = json_string_value(json_object_get(entry, "indexType"));
  if (!type) type = json_string_value(json_object_get(eng, "requestedType"));
  if (!type) type = json_string_value(json_object_get(eng, "indexType"));
  const char *state = json_string_value(json_object_get(eng, "state"));
  const char *reason = json_string_value(json_object_get(eng, "failReason"));
  const char *metric = json_string_value(json_object_get(eng, "metricType"));
  json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:O,s:O,s:O,s:s,s:s}", "indexName", name, "fieldName", field,
                          "indexType", type ? type : "", "metricType", metric ? metric : "",
                          "totalRows", json_object_get(eng, "totalRows"), "indexedRows",
                          json_object_get(eng, "indexedRows"), "pendingRows", json_object_get(eng, "pendingRows"),
                          "indexState", state ? state : "Finished", "failReason", reason ? reason : "");
  json_decref(meta);
  json_decref(eng);
  if (!out) srv_reply_status(req, VS_ERR_NOMEM);
  return out;
}

static void h_describe(srv_request *req) {
  srv_target t;
  const char *name = NULL;
  if (!srv_resolve(req, "collectionName", false, &t) || !srv_require_string(req, "indexName", &name)) return;
  char *field = index_field(req, &t, name, true);
  if (!field) return;
  json_t *one = describe_one(req, &t, name, field);
  free(field);
  if (one) srv_reply_ok(req, json_pack("[o]", one));
}

/* ------------------------------------------------------------------ drop */

static void h_drop(srv_request *req) {
  srv_target t;
  const char *name = NULL;
  if (!srv_resolve(req, "collectionName", false, &t) || !srv_require_string(req, "indexName", &name)) return;
  char *field = index_field(req, &t, name, false);
  if (!field) {
    if (!req->answered) srv_reply_ok(req, NULL);
    return;
  }
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  bool loaded = srv_meta_is_loaded(meta, t.name);
  json_decref(meta);
  vs_status st = VS_OK;
  if (loaded) {
    srv_reply_error(req, SRV_CODE_UNEXPECTED, "index cannot be dropped, collection is loaded, please release it first");
  } else {
    st = vs_drop_index(t.db, t.name, field);
    if (st != VS_OK) srv_reply_status(req, st);
  }
  free(field);
  if (loaded || st != VS_OK) return;
  index_edit e = {t.name, NULL, name};
  if (srv_edit(req, record_index, &e)) srv_reply_ok(req, NULL);
}

/* ------------------------------------------------------------ properties */

typedef struct index_props {
  const char *collection;
  const char *name;
  const char *field;
  json_t *set;
  const char **drop;
  size_t drop_count;
} index_props;

static vs_status edit_index_props(json_t *meta, void *ctx) {
  const index_props *e = ctx;
  json_t *idx = srv_obj_child(srv_meta_collection(meta, e->collection, true), "indexes");
  if (!idx) return vs_fail(VS_ERR_NOMEM, "out of memory");
  json_t *entry = json_object_get(idx, e->name);
  if (!entry) {
    entry = json_pack("{s:s,s:{}}", "field", e->field, "properties");
    json_object_set_new(idx, e->name, entry);
  }
  return srv_props_edit(srv_obj_child(entry, "properties"), e->set, e->drop, e->drop_count);
}

static void h_alter_properties(srv_request *req) {
  srv_target t;
  index_props e = {0};
  if (!srv_resolve(req, "collectionName", false, &t) || !srv_require_string(req, "indexName", &e.name)) return;
  e.set = srv_get(req, "properties");
  if (!json_is_object(e.set)) {
    srv_reply_missing(req, "IndexReqWithProperties", "Properties");
    return;
  }
  char *field = index_field(req, &t, e.name, true);
  if (!field) return;
  e.collection = t.name;
  e.field = field;
  if (srv_edit(req, edit_index_props, &e)) srv_reply_ok(req, NULL);
  free(field);
}

static void h_drop_properties(srv_request *req) {
  srv_target t;
  index_props e = {0};
  if (!srv_resolve(req, "collectionName", false, &t) || !srv_require_string(req, "indexName", &e.name)) return;
  if (!srv_get(req, "propertyKeys")) {
    srv_reply_missing(req, "DropIndexPropertiesReq", "PropertyKeys");
    return;
  }
  if (!srv_opt_string_list(req, "propertyKeys", &e.drop, &e.drop_count)) return;
  char *field = index_field(req, &t, e.name, true);
  if (field) {
    e.collection = t.name;
    e.field = field;
    if (srv_edit(req, edit_index_props, &e)) srv_reply_ok(req, NULL);
  }
  free(field);
  free(e.drop);
}

const srv_route srv_routes_indexes[] = {
    {"/indexes/create", h_create, "Collection", "CreateIndex", 0},
    {"/indexes/list", h_list, "Collection", "IndexDetail", 0},
    {"/indexes/describe", h_describe, "Collection", "IndexDetail", 0},
    {"/indexes/drop", h_drop, "Collection", "DropIndex", 0},
    {"/indexes/alter_properties", h_alter_properties, "Collection", "CreateIndex", 0},
    {"/indexes/drop_properties", h_drop_properties, "Collection", "DropIndex", 0},
    {NULL, NULL, NULL, NULL, 0},
};
