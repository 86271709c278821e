/*
 * h_collections.c -- the /collections/... endpoints: create (quick setup and
 * custom schema), list, describe, has, drop, rename, statistics, load
 * state, properties, flush and compaction.
 *
 * Create turns the Milvus request into a vs_schema in two steps: the body
 * is checked and translated field by field (every error answered with
 * Milvus's code: 1802 for a missing required key, 1100 for a bad value),
 * and only then is the engine called, so a bad request never leaves a half
 * made collection.  The indexParams are checked against the schema before
 * the collection exists (1802 for an unknown field, as Milvus does) and
 * created right after it (srv_create_indexes, shared with /indexes/create).
 *
 * The engine fixes a vector field's metric when the collection is made,
 * whereas Milvus fixes it when the index is made.  The metric is therefore
 * taken from the indexParams entry of that field (or the quick-setup
 * metricType), COSINE when there is none -- Milvus's AUTOINDEX default.
 *
 * What the engine does not store (consistency level, description,
 * properties, load state) goes to the catalog's server.json through
 * srv_edit; describe merges the two.  Types the engine does not have yet
 * (binary, half-precision, sparse and int8 vectors, Text, ...) are refused
 * with 1100 and a message that says so, never silently mapped.
 * isPartitionKey and isClusteringKey are accepted and ignored (documented
 * in docs/rest-api.md): partition-key routing is not implemented.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"
#include "util/util.h"

#define DEFAULT_CONSISTENCY "Bounded"
#define QUICK_VARCHAR_MAX 65535

typedef struct create_plan {
  vs_schema *schema;
  json_t *index_params;       /* owned array */
  bool load;
  uint32_t shards;
  const char *consistency;
  const char *description;
  json_t *properties;         /* owned object: key -> string */
} create_plan;

static void plan_free(create_plan *p) {
  vs_schema_free(p->schema);
  json_decref(p->index_params);
  json_decref(p->properties);
}

/* ------------------------------------------------------- common params */

static const char *const consistency_levels[] = {"Strong", "Session", "Bounded", "Eventually",
                                                 "Customized"};

static bool check_consistency(srv_request *req, const json_t *v, const char **out) {
  if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) return true;
  const char *s = json_string_value(v);
  for (size_t i = 0; s && i < sizeof consistency_levels / sizeof consistency_levels[0]; i++) {
    if (strcmp(s, consistency_levels[i]) == 0) {
      *out = consistency_levels[i];
      return true;
    }
  }
  srv_reply_error(req, SRV_CODE_INVALID,
                  "consistencyLevel can only be [Strong, Session, Bounded, Eventually, Customized], "
                  "default: Bounded, err:parameter:'%s' is incorrect, please check it",
                  s ? s : "(not a string)");
  return false;
}

static bool param_uint(srv_request *req, json_t *params, const char *key, int64_t min, int64_t max,
                       int64_t *out) {
  json_t *v = srv_obj_get(params, key);
  if (!v || json_is_null(v)) return true;
  if (!srv_json_int(v, out) || *out < min || *out > max) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter[expected=%s in %" PRId64 "..%" PRId64 "][actual=%s]",
                    key, min, max, json_is_string(v) ? json_string_value(v) : "(not a number)");
    return false;
  }
  return true;
}

/* params{consistencyLevel, shardsNum, ttlSeconds, ...}, top-level
 * consistencyLevel / description / properties. */
static bool read_common(srv_request *req, create_plan *p) {
  json_t *params = srv_get(req, "params");
  int64_t shards = 1, ttl = -1;
  p->consistency = DEFAULT_CONSISTENCY;
  p->properties = json_object();
  if (!p->properties) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  if (params && !json_is_object(params) && !json_is_null(params)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: params must be an object");
    return false;
  }
  if (!check_consistency(req, srv_get(req, "consistencyLevel"), &p->consistency)) return false;
  if (!check_consistency(req, srv_obj_get(params, "consistencyLevel"), &p->consistency)) return false;
  if (!param_uint(req, params, "shardsNum", 1, 16, &shards)) return false;
  if (!param_uint(req, params, "ttlSeconds", 0, INT64_MAX, &ttl)) return false;
  p->shards = (uint32_t)shards;
  if (ttl >= 0) json_object_set_new(p->properties, "collection.ttl.seconds", json_sprintf("%" PRId64, ttl));
  if (!srv_opt_string(req, "description", &p->description)) return false;
  if (srv_props_edit(p->properties, srv_get(req, "properties"), NULL, 0) != VS_OK) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  return true;
}

/* ---------------------------------------------------------- quick setup */

static bool quick_metric(srv_request *req, vs_metric *out) {
  const char *name = "COSINE";
  if (!srv_opt_string(req, "metricType", &name)) return false;
  if (!name[0]) name = "COSINE";
  if (vs_metric_from_name(name, out) == VS_OK) return true;
  srv_reply_error(req, SRV_CODE_INVALID,
                  "invalid parameter[expected=L2, IP or COSINE][actual=%s]: metric type %s is not supported",
                  name, name);
  return false;
}

static bool quick_pk(srv_request *req, vs_field_def *pk) {
  const char *id_type = "Int64";
  bool auto_id = false;
  int64_t max_length = QUICK_VARCHAR_MAX;
  if (!srv_opt_string(req, "idType", &id_type) || !srv_opt_bool(req, "autoID", &auto_id)) return false;
  if (!param_uint(req, srv_get(req, "params"), "max_length", 1, VS_MAX_VARCHAR, &max_length)) return false;
  pk->is_primary = 1;
  pk->auto_id = auto_id;
  if (!id_type[0] || strcmp(id_type, "Int64") == 0) {
    pk->type = VS_TYPE_INT64;
  } else if (strcmp(id_type, "VarChar") == 0 || strcmp(id_type, "Varchar") == 0) {
    pk->type = VS_TYPE_VARCHAR;
    pk->max_length = (uint32_t)max_length;
  } else {
    srv_reply_error(req, SRV_CODE_INVALID, "idType can only be [Int64, VarChar], default: Int64, err: %s is invalid",
                    id_type);
    return false;
  }
  return true;
}

static bool quick_vector(srv_request *req, vs_field_def *vec) {
  int64_t dim = 0;
  const char *vtype = "FloatVector";
  if (!srv_opt_int(req, "dimension", 0, VS_MAX_DIM, &dim)) return false;
  if (dim == 0) {
    srv_reply_error(req, SRV_CODE_INVALID,
                    "invalid parameter[expected=collectionName & dimension][actual=collectionName]: dimension is "
                    "required for quickly create collection(default metric type: COSINE)");
    return false;
  }
  if (!srv_opt_string(req, "vectorFieldType", &vtype)) return false;
  if (vtype[0] && strcmp(vtype, "FloatVector") != 0) {
    srv_reply_error(req, SRV_CODE_INVALID, "vectorFieldType %s is not supported yet by this server (only FloatVector)",
                    vtype);
    return false;
  }
  vec->type = VS_TYPE_FLOAT_VECTOR;
  vec->dim = (uint32_t)dim;
  return quick_metric(req, &vec->metric);
}

static bool build_quick(srv_request *req, create_plan *p) {
  vs_field_def pk = {0}, vec = {0};
  bool dynamic = true;
  pk.name = "id";
  vec.name = "vector";
  if (!srv_opt_string(req, "primaryFieldName", &pk.name)) return false;
  if (!srv_opt_string(req, "vectorFieldName", &vec.name)) return false;
  if (!pk.name[0]) pk.name = "id";
  if (!vec.name[0]) vec.name = "vector";
  if (!quick_pk(req, &pk) || !quick_vector(req, &vec)) return false;
  json_t *dyn = srv_obj_get(srv_get(req, "params"), "enableDynamicField");
  if (dyn && !srv_json_bool(dyn, &dynamic)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: params.enableDynamicField must be a boolean");
    return false;
  }
  vs_status st = vs_schema_new(&p->schema);
  if (st == VS_OK) st = vs_schema_add_field(p->schema, &pk);
  if (st == VS_OK) st = vs_schema_add_field(p->schema, &vec);
  if (st == VS_OK) st = vs_schema_enable_dynamic(p->schema, dynamic);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return false;
  }
  p->index_params = json_pack("[{s:s,s:s,s:s}]", "fieldName", vec.name, "indexName", vec.name, "metricType",
                              vs_metric_name(vec.metric));
  p->load = true;
  return p->index_params != NULL || (srv_reply_status(req, VS_ERR_NOMEM), false);
}

/* --------------------------------------------------------- custom schema */

/* Milvus type names this server does not implement yet. */
static const char *const unsupported_types[] = {
    "BinaryVector", "Float16Vector", "BFloat16Vector", "SparseFloatVector", "Int8Vector", "Text",
    "Timestamptz", "Geometry", "ArrayOfVector", "ArrayOfStruct", "String"};

static bool parse_type(srv_request *req, const char *what, const char *name, vs_type *out) {
  *out = vs_type_from_name(name);
  if (*out != VS_TYPE_NONE) return true;
  for (size_t i = 0; i < sizeof unsupported_types / sizeof unsupported_types[0]; i++) {
    if (strcmp(name, unsupported_types[i]) == 0) {
      srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter, %s %s is not supported yet by this server", what,
                      name);
      return false;
    }
  }
  srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter, data type %s is invalid(case sensitive).", name);
  return false;
}

static bool type_param(srv_request *req, const char *field, json_t *params, const char *key, int64_t max,
                       uint32_t *out) {
  json_t *v = srv_obj_get(params, key);
  int64_t n = 0;
  if (!v) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: type param(%s) should be specified for field %s", key,
                    field);
    return false;
  }
  if (!srv_json_int(v, &n) || n < 1 || n > max) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: field %s: %s must be an integer in 1..%" PRId64, field,
                    key, max);
    return false;
  }
  *out = (uint32_t)n;
  return true;
}

/* Milvus's rule: bool for Bool, number for numeric types, string for
 * VarChar; JSON and Array fields take no default. */
static bool default_matches(vs_type type, const json_t *v) {
  switch (type) {
    case VS_TYPE_BOOL:
      return json_is_boolean(v);
    case VS_TYPE_INT8:
    case VS_TYPE_INT16:
    case VS_TYPE_INT32:
    case VS_TYPE_INT64:
      return json_is_integer(v);
    case VS_TYPE_FLOAT:
    case VS_TYPE_DOUBLE:
      return json_is_number(v);
    case VS_TYPE_VARCHAR:
      return json_is_string(v);
    default:
      return false;
  }
}

typedef struct field_text {
  char *default_json;
} field_text;

static bool field_type_params(srv_request *req, json_t *f, vs_field_def *def) {
  json_t *params = srv_obj_get(f, "elementTypeParams");
  if (def->type == VS_TYPE_FLOAT_VECTOR) {
    uint32_t dim = 0;
    if (!type_param(req, def->name, params, "dim", VS_MAX_DIM, &dim)) return false;
    def->dim = dim;
  }
  if (def->type == VS_TYPE_ARRAY) {
    json_t *et = srv_obj_get(f, "elementDataType");
    if (!json_is_string(et) || json_string_length(et) == 0) {
      srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: field %s: elementDataType is required for Array",
                      def->name);
      return false;
    }
    if (!parse_type(req, "element type", json_string_value(et), &def->element_type)) return false;
    if (!type_param(req, def->name, params, "max_capacity", VS_MAX_ARRAY_CAPACITY, &def->max_capacity)) return false;
  }
  if (def->type == VS_TYPE_VARCHAR || (def->type == VS_TYPE_ARRAY && def->element_type == VS_TYPE_VARCHAR)) {
    if (!type_param(req, def->name, params, "max_length", VS_MAX_VARCHAR, &def->max_length)) return false;
  }
  return true;
}

static bool field_flags(srv_request *req, json_t *f, vs_field_def *def, char **default_json) {
  bool b = false;
  static const char *const flags[] = {"isPrimary", "nullable"};
  for (size_t i = 0; i < 2; i++) {
    json_t *v = srv_obj_get(f, flags[i]);
    b = false;
    if (v && !json_is_null(v) && !srv_json_bool(v, &b)) {
      srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: field %s: %s must be a boolean", def->name, flags[i]);
      return false;
    }
    if (i == 0) def->is_primary = b;
    if (i == 1) def->nullable = b;
  }
  const char *desc = json_string_value(srv_obj_get(f, "description"));
  def->description = desc;
  json_t *dv = srv_obj_get(f, "defaultValue");
  if (!dv || json_is_null(dv)) return true;
  if (!default_matches(def->type, dv)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: field %s: the defaultValue does not match its type %s",
                    def->name, vs_type_name(def->type));
    return false;
  }
  *default_json = json_dumps(dv, JSON_ENCODE_ANY | JSON_COMPACT);
  def->default_json = *default_json;
  return *default_json != NULL || (srv_reply_status(req, VS_ERR_NOMEM), false);
}

/* The metric a vector field gets: its indexParams entry's, else COSINE. */
static bool field_metric(srv_request *req, json_t *index_params, const char *field, vs_metric *out) {
  size_t i;
  json_t *ip;
  *out = VS_METRIC_COSINE;
  json_array_foreach(index_params, i, ip) {
    const char *fname = json_string_value(srv_obj_get(ip, "fieldName"));
    const char *m = json_string_value(srv_obj_get(ip, "metricType"));
    if (!m) m = json_string_value(srv_obj_get(srv_obj_get(ip, "params"), "metric_type"));
    if (!fname || strcmp(fname, field) != 0 || !m || !m[0]) continue;
    if (vs_metric_from_name(m, out) != VS_OK) {
      srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: metric type %s is not supported (L2, IP, COSINE)", m);
      return false;
    }
  }
  return true;
}

/* A FieldSchema object as a field definition (strings borrowed from f;
 * *default_json is the caller's to free).  index_params may be NULL. */
static bool parse_field(srv_request *req, json_t *f, json_t *index_params, vs_field_def *def,
                        char **default_json) {
  const char *type_name = json_string_value(srv_obj_get(f, "dataType"));
  memset(def, 0, sizeof *def);
  def->name = json_string_value(srv_obj_get(f, "fieldName"));
  if (!json_is_object(f) || !def->name || !def->name[0] || !type_name || !type_name[0]) {
    srv_reply_missing(req, "FieldSchema", (def->name && def->name[0]) ? "DataType" : "FieldName");
    return false;
  }
  bool ok = parse_type(req, "data type", type_name, &def->type) && field_type_params(req, f, def) &&
            field_flags(req, f, def, default_json);
  if (ok && def->type == VS_TYPE_FLOAT_VECTOR) ok = field_metric(req, index_params, def->name, &def->metric);
  return ok;
}

static bool add_custom_field(srv_request *req, create_plan *p, json_t *f, bool auto_id) {
  vs_field_def def;
  char *default_json = NULL;
  bool ok = parse_field(req, f, p->index_params, &def, &default_json);
  if (ok && def.is_primary) def.auto_id = auto_id;
  if (ok) {
    vs_status st = vs_schema_add_field(p->schema, &def);
    if (st != VS_OK) {
      srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: %s", vs_errmsg(NULL));
      ok = false;
    }
  }
  free(default_json);
  return ok;
}

static bool schema_flags(srv_request *req, json_t *schema, bool *auto_id, bool *dynamic) {
  json_t *a = srv_obj_get(schema, "autoID");
  json_t *d = srv_obj_get(schema, "enableDynamicField");
  *auto_id = false;
  *dynamic = false;
  if ((a && !json_is_null(a) && !srv_json_bool(a, auto_id)) || (d && !json_is_null(d) && !srv_json_bool(d, dynamic))) {
    srv_reply_error(req, SRV_CODE_INVALID,
                    "invalid parameter: schema.autoID and schema.enableDynamicField are booleans");
    return false;
  }
  return true;
}

static bool build_custom(srv_request *req, json_t *schema, create_plan *p) {
  bool auto_id, dynamic;
  json_t *fields = srv_obj_get(schema, "fields");
  json_t *ip = srv_get(req, "indexParams");
  if (ip && !json_is_null(ip) && !json_is_array(ip)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: indexParams must be an array");
    return false;
  }
  p->index_params = json_is_array(ip) ? json_incref(ip) : json_array();
  p->load = json_array_size(p->index_params) > 0;
  if (!schema_flags(req, schema, &auto_id, &dynamic)) return false;
  vs_status st = vs_schema_new(&p->schema);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return false;
  }
  size_t i;
  json_t *f;
  json_array_foreach(fields, i, f) {
    if (!add_custom_field(req, p, f, auto_id)) return false;
  }
  st = vs_schema_enable_dynamic(p->schema, dynamic);
  if (st == VS_OK) st = vs_schema_validate(p->schema);
  if (st != VS_OK) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: %s", vs_errmsg(NULL));
    return false;
  }
  return true;
}

/* Every indexParams entry must name a field of the schema (1802). */
static bool check_index_fields(srv_request *req, const create_plan *p) {
  size_t i;
  json_t *ip;
  json_array_foreach(p->index_params, i, ip) {
    const char *fname = json_string_value(srv_obj_get(ip, "fieldName"));
    bool found = false;
    for (size_t k = 0; fname && k < vs_schema_field_count(p->schema); k++) {
      vs_field_def def;
      if (vs_schema_field(p->schema, k, &def) == VS_OK && strcmp(def.name, fname) == 0) found = true;
    }
    if (!found) {
      srv_reply_error(req, SRV_CODE_REQUIRED,
                      "missing required parameters, error: `%s` hasn't defined in schema", fname ? fname : "");
      return false;
    }
  }
  return true;
}

typedef struct create_meta {
  const char *name;
  const create_plan *plan;
} create_meta;

static vs_status record_created(json_t *meta, void *ctx) {
  const create_meta *cm = ctx;
  json_object_del(json_object_get(meta, "collections"), cm->name);
  json_t *c = srv_meta_collection(meta, cm->name, true);
  if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
  json_object_set_new(c, "loaded", json_boolean(cm->plan->load));
  json_object_set_new(c, "consistencyLevel", json_string(cm->plan->consistency));
  json_object_set_new(c, "description", json_string(cm->plan->description ? cm->plan->description : ""));
  json_object_set(c, "properties", cm->plan->properties);
  json_object_set_new(c, "indexes", json_object());
  return VS_OK;
}

/* Whether collection `name` already has exactly this schema. */
static bool same_schema(vs_db *db, const char *name, const vs_schema *schema) {
  vs_schema *existing = NULL;
  char *a = NULL, *b = NULL;
  bool same = vs_get_schema(db, name, &existing) == VS_OK && vs_schema_to_json(existing, &a) == VS_OK &&
              vs_schema_to_json(schema, &b) == VS_OK && strcmp(a, b) == 0;
  vs_free(a);
  vs_free(b);
  vs_schema_free(existing);
  return same;
}

static void create_collection(srv_request *req, vs_db *db, const char *name, create_plan *p) {
  vs_collection_options opt = {p->shards};
  srv_target t;
  if (p->description) vs_schema_set_description(p->schema, p->description);
  vs_status st = vs_create_collection(db, name, p->schema, &opt);
  if (st == VS_ERR_EXISTS) {
    if (same_schema(db, name, p->schema)) {
      srv_reply_ok(req, NULL); /* Milvus: an identical create is a no-op */
    } else {
      srv_reply_error(req, SRV_CODE_INVALID,
                      "create duplicate collection with different parameters, collection: %s", name);
    }
    return;
  }
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  create_meta cm = {name, p};
  if (!srv_edit(req, record_created, &cm)) return;
  t.db = db;
  snprintf(t.name, sizeof t.name, "%s", name);
  if (json_array_size(p->index_params) > 0 && !srv_create_indexes(req, &t, p->index_params)) return;
  srv_reply_ok(req, NULL);
}

/* A collection may not take the name of an alias (1601). */
static bool name_free_of_alias(srv_request *req, const char *name) {
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  bool taken = json_object_get(json_object_get(meta, "aliases"), name) != NULL;
  json_decref(meta);
  if (taken) {
    srv_reply_error(req, SRV_CODE_ALIAS_CONFLICT, "alias and collection name conflict[database=%s][alias=%s]",
                    srv_req_db(req), name);
  }
  return !taken;
}

static void h_create(srv_request *req) {
  const char *name = NULL;
  create_plan plan = {0};
  if (!srv_require_string(req, "collectionName", &name) || !srv_check_name(req, "collection", name)) return;
  vs_db *db = srv_database(req);
  if (!db || !name_free_of_alias(req, name)) return;
  json_t *schema = srv_get(req, "schema");
  bool custom = json_array_size(srv_obj_get(schema, "fields")) > 0;
  bool ok = read_common(req, &plan) && (custom ? build_custom(req, schema, &plan) : build_quick(req, &plan)) &&
            check_index_fields(req, &plan);
  if (ok) create_collection(req, db, name, &plan);
  plan_free(&plan);
}

/* ------------------------------------------------------- simple queries */

static void h_list(srv_request *req) {
  vs_db *db = srv_database(req);
  char **names = NULL;
  size_t n = 0;
  if (!db) return;
  vs_status st = vs_list_collections(db, &names, &n); /* before names and n are read */
  srv_reply_names(req, st, names, n);
}

static void h_has(srv_request *req) {
  const char *name = NULL;
  if (!srv_require_string(req, "collectionName", &name)) return;
  vs_db *db = srv_database(req);
  if (!db) return;
  int has = 0;
  vs_status st = vs_has_collection(db, name, &has);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  if (!has) {
    json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
    const char *target = json_string_value(json_object_get(json_object_get(meta, "aliases"), name));
    if (target && vs_has_collection(db, target, &has) != VS_OK) has = 0;
    json_decref(meta);
  }
  srv_reply_ok(req, json_pack("{s:b}", "has", has));
}

static void h_get_stats(srv_request *req) {
  srv_target t;
  vs_collection_stats stats;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  vs_status st = vs_collection_stats_get(t.db, t.name, &stats);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  srv_reply_ok(req, json_pack("{s:I}", "rowCount", (json_int_t)stats.rows));
}

/* ------------------------------------------------------------- describe */

static json_t *kv_list(json_t *map) {
  json_t *list = json_array();
  const char *key;
  json_t *v;
  json_object_foreach(map, key, v) {
    char *text = srv_property_string(v);
    json_array_append_new(list, json_pack("{s:s,s:s}", "key", key, "value", text ? text : ""));
    free(text);
  }
  return list;
}

/* Milvus's protobuf shape of a default value: {"Data":{"LongData":5}}. */
static json_t *default_value(const char *type, json_t *v) {
  const char *kind = "StringData";
  if (strcmp(type, "Bool") == 0) kind = "BoolData";
  if (strcmp(type, "Int8") == 0 || strcmp(type, "Int16") == 0 || strcmp(type, "Int32") == 0) kind = "IntData";
  if (strcmp(type, "Int64") == 0) kind = "LongData";
  if (strcmp(type, "Float") == 0) kind = "FloatData";
  if (strcmp(type, "Double") == 0) kind = "DoubleData";
  return json_pack("{s:{s:O}}", "Data", kind, v);
}

static void add_param(json_t *params, const char *key, json_t *v) {
  if (!json_is_integer(v)) return;
  json_array_append_new(params, json_pack("{s:s,s:o}", "key", key, "value",
                                          json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v))));
}

static json_t *field_desc(json_t *f) {
  const char *type = json_string_value(json_object_get(f, "type"));
  bool pk = json_is_true(json_object_get(f, "isPrimary"));
  json_t *d = json_pack("{s:O,s:O,s:s,s:b,s:b,s:b,s:b,s:O,s:b}", "name", json_object_get(f, "name"), "id",
                        json_object_get(f, "id"), "type", type ? type : "", "primaryKey", pk, "partitionKey", 0,
                        "clusteringKey", 0, "autoId", json_is_true(json_object_get(f, "autoID")), "description",
                        json_object_get(f, "description"), "nullable",
                        json_is_true(json_object_get(f, "nullable")));
  if (!d) return NULL;
  json_t *params = json_array();
  add_param(params, "dim", json_object_get(f, "dim"));
  add_param(params, "max_length", json_object_get(f, "maxLength"));
  add_param(params, "max_capacity", json_object_get(f, "maxCapacity"));
  if (json_array_size(params) > 0) {
    json_object_set_new(d, "params", params);
  } else {
    json_decref(params);
  }
  json_t *et = json_object_get(f, "elementType");
  if (et) json_object_set(d, "elementType", et);
  json_t *dv = json_object_get(f, "default");
  if (dv && !json_is_null(dv)) json_object_set_new(d, "defaultValue", default_value(type ? type : "", dv));
  return d;
}

static json_t *alias_list(json_t *meta, const char *collection) {
  json_t *list = json_array();
  const char *key;
  json_t *v;
  json_object_foreach(json_object_get(meta, "aliases"), key, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), collection) == 0) {
      json_array_append_new(list, json_string(key));
    }
  }
  return list;
}

static bool has_index(srv_target *t, const char *field) {
  char **fields = NULL;
  size_t n = 0;
  bool found = false;
  if (vs_list_indexes(t->db, t->name, &fields, &n) != VS_OK) return false;
  for (size_t i = 0; i < n; i++) found = found || strcmp(fields[i], field) == 0;
  vs_free_strings(fields, n);
  return found;
}

/* Indexes of the first vector field: [{fieldName, indexName, metricType}]. */
static json_t *first_vector_indexes(srv_target *t, json_t *meta, json_t *fields) {
  json_t *list = json_array();
  size_t i;
  json_t *f;
  json_array_foreach(fields, i, f) {
    if (!json_object_get(f, "dim")) continue;
    const char *field = json_string_value(json_object_get(f, "name"));
    if (field && has_index(t, field)) {
      json_array_append_new(list, json_pack("{s:s,s:s,s:O}", "fieldName", field, "indexName",
                                            srv_meta_index_name(meta, t->name, field), "metricType",
                                            json_object_get(f, "metric")));
    }
    break;
  }
  return list;
}

static json_t *describe_data(srv_target *t, json_t *meta, json_t *eng) {
  json_t *schema = json_object_get(eng, "schema");
  json_t *fields = json_object_get(schema, "fields");
  json_t *c = srv_meta_collection(meta, t->name, false);
  json_t *out_fields = json_array();
  bool auto_id = false;
  size_t i;
  json_t *f;
  json_array_foreach(fields, i, f) {
    json_array_append_new(out_fields, field_desc(f));
    if (json_is_true(json_object_get(f, "isPrimary"))) auto_id = json_is_true(json_object_get(f, "autoID"));
  }
  const char *desc = json_string_value(json_object_get(c, "description"));
  if (!desc) desc = json_string_value(json_object_get(schema, "description"));
  const char *consistency = json_string_value(json_object_get(c, "consistencyLevel"));
  json_t *props = json_object_get(c, "properties");
  return json_pack("{s:s,s:O,s:s,s:b,s:o,s:[],s:o,s:o,s:s,s:O,s:I,s:s,s:b,s:o}", "collectionName", t->name,
                   "collectionID", json_object_get(eng, "collectionID"), "description", desc ? desc : "", "autoId",
                   auto_id, "fields", out_fields, "functions", "aliases", alias_list(meta, t->name), "indexes",
                   first_vector_indexes(t, meta, fields), "load",
                   srv_meta_is_loaded(meta, t->name) ? "LoadStateLoaded" : "LoadStateNotLoad", "shardsNum",
                   json_object_get(eng, "shardsNum"), "partitionsNum",
                   (json_int_t)json_array_size(json_object_get(eng, "partitions")), "consistencyLevel",
                   consistency ? consistency : DEFAULT_CONSISTENCY, "enableDynamicField",
                   json_is_true(json_object_get(schema, "enableDynamicField")), "properties",
                   props ? kv_list(props) : json_array());
}

static void h_describe(srv_request *req) {
  srv_target t;
  char *text = NULL;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  vs_status st = vs_describe_collection(t.db, t.name, &text);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  json_t *eng = json_loads(text, 0, NULL);
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  vs_free(text);
  json_t *data = (eng && meta) ? describe_data(&t, meta, eng) : NULL;
  json_decref(eng);
  json_decref(meta);
  if (!data) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return;
  }
  srv_reply_ok_extra(req, data, json_pack("{s:s}", "message", ""));
}

/* ---------------------------------------------------------- drop/rename */

static vs_status forget_collection(json_t *meta, void *ctx) {
  const char *name = ctx;
  json_t *aliases = json_object_get(meta, "aliases");
  const char *key;
  json_t *v;
  void *tmp;
  json_object_del(json_object_get(meta, "collections"), name);
  json_object_foreach_safe(aliases, tmp, key, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) json_object_del(aliases, key);
  }
  return VS_OK;
}

static void h_drop(srv_request *req) {
  const char *name = NULL;
  if (!srv_require_string(req, "collectionName", &name)) return;
  vs_db *db = srv_database(req);
  if (!db) return;
  int has = 0;
  vs_status st = vs_has_collection(db, name, &has);
  if (st == VS_OK && !has) {
    json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
    bool alias = json_object_get(json_object_get(meta, "aliases"), name) != NULL;
    json_decref(meta);
    if (alias) {
      srv_reply_error(req, SRV_CODE_INVALID, "cannot drop the collection via alias = %s", name);
      return;
    }
  }
  if (st == VS_OK) st = vs_drop_collection(db, name);
  if (st != VS_OK && st != VS_ERR_NOT_FOUND) {
    srv_reply_status(req, st);
    return;
  }
  if (!srv_edit(req, forget_collection, (void *)name)) return;
  srv_reply_ok(req, NULL);
}

typedef struct rename_edit {
  const char *from;
  const char *to;
} rename_edit;

static vs_status rename_meta(json_t *meta, void *ctx) {
  const rename_edit *r = ctx;
  json_t *colls = json_object_get(meta, "collections");
  json_t *c = json_object_get(colls, r->from);
  const char *key;
  json_t *v;
  if (c) {
    json_object_set(colls, r->to, c);
    json_object_del(colls, r->from);
  }
  json_object_foreach(json_object_get(meta, "aliases"), key, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), r->from) == 0) json_string_set(v, r->to);
  }
  return VS_OK;
}

static void h_rename(srv_request *req) {
  srv_target t;
  const char *to = NULL, *new_db = "";
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  if (!srv_require_string(req, "newCollectionName", &to) || !srv_check_name(req, "collection", to)) return;
  if (!srv_opt_string(req, "newDbName", &new_db)) return;
  if (new_db[0] && strcmp(new_db, srv_req_db(req)) != 0) {
    srv_reply_error(req, SRV_CODE_INVALID, "renaming a collection into another database (%s) is not supported yet",
                    new_db);
    return;
  }
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  bool alias_taken = json_object_get(json_object_get(meta, "aliases"), to) != NULL;
  json_decref(meta);
  if (alias_taken) {
    srv_reply_error(req, SRV_CODE_ALIAS_CONFLICT, "alias and collection name conflict: %s is an alias", to);
    return;
  }
  vs_status st = vs_rename_collection(t.db, t.name, to);
  if (st == VS_ERR_EXISTS) {
    srv_reply_error(req, SRV_CODE_INVALID,
                    "duplicated new collection name default:%s with other collection name or alias",
                    to);
    return;
  }
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  rename_edit r = {t.name, to};
  if (!srv_edit(req, rename_meta, &r)) return;
  srv_reply_ok(req, NULL);
}

/* ----------------------------------------------------------- load state */

static bool partitions_exist(srv_request *req, srv_target *t, const char **names, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int has = 0;
    vs_status st = vs_has_partition(t->db, t->name, names[i], &has);
    if (st != VS_OK) {
      srv_reply_status(req, st);
      return false;
    }
    if (!has) {
      srv_reply_error(req, SRV_CODE_PARTITION_NOT_FOUND, "partition not found[partition=%s]", names[i]);
      return false;
    }
  }
  return true;
}

static void h_get_load_state(srv_request *req) {
  srv_target t;
  const char **parts = NULL;
  size_t n = 0;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  if (!srv_opt_string_list(req, "partitionNames", &parts, &n)) return;
  if (!partitions_exist(req, &t, parts, n)) {
    free(parts);
    return;
  }
  json_t *meta = srv_catalog_meta(srv_req_catalog(req), srv_req_db(req));
  bool loaded = srv_meta_is_loaded(meta, t.name);
  for (size_t i = 0; i < n; i++) loaded = loaded && srv_meta_partition_loaded(meta, t.name, parts[i]);
  json_decref(meta);
  free(parts);
  json_t *data = loaded ? json_pack("{s:s,s:i}", "loadState", "LoadStateLoaded", "loadProgress", 100)
                        : json_pack("{s:s}", "loadState", "LoadStateNotLoad");
  srv_reply_ok_extra(req, data, json_pack("{s:s}", "message", ""));
}

/* Milvus loads only collections whose vector fields all have an index. */
static bool vector_indexes_exist(srv_request *req, srv_target *t) {
  vs_schema *schema = NULL;
  char **fields = NULL;
  size_t n = 0;
  vs_status st = vs_get_schema(t->db, t->name, &schema);
  if (st == VS_OK) st = vs_list_indexes(t->db, t->name, &fields, &n);
  const char *missing = NULL;
  for (size_t i = 0; st == VS_OK && !missing && i < vs_schema_field_count(schema); i++) {
    vs_field_def def;
    if (vs_schema_field(schema, i, &def) != VS_OK || def.type != VS_TYPE_FLOAT_VECTOR) continue;
    bool found = false;
    for (size_t k = 0; k < n; k++) found = found || strcmp(fields[k], def.name) == 0;
    if (!found) missing = def.name;
  }
  if (st != VS_OK) {
    srv_reply_status(req, st);
  } else if (missing) {
    srv_reply_error(req, SRV_CODE_INDEX_NOT_FOUND,
                    "there is no vector index on field: [%s], please create index firstly: "
                    "collection=%s: index not found",
                    missing, t->name);
  }
  vs_free_strings(fields, n);
  vs_schema_free(schema);
  return st == VS_OK && !missing;
}

static void h_load(srv_request *req) {
  srv_target t;
  if (!srv_resolve(req, "collectionName", false, &t) || !vector_indexes_exist(req, &t)) return;
  srv_load_edit e = {t.name, true};
  if (srv_edit(req, srv_meta_set_loaded, &e)) srv_reply_ok(req, NULL);
}

static void h_release(srv_request *req) {
  srv_target t;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  srv_load_edit e = {t.name, false};
  if (srv_edit(req, srv_meta_set_loaded, &e)) srv_reply_ok(req, NULL);
}

static void h_refresh_load(srv_request *req) {
  srv_target t;
  if (!srv_resolve(req, "collectionName", true, &t)) return;
  srv_reply_ok(req, NULL);
}

/* ------------------------------------------------------------ properties */

typedef struct prop_edit {
  const char *collection;
  json_t *set;          /* object, or NULL */
  const char **drop;
  size_t drop_count;
} prop_edit;

static vs_status edit_props(json_t *meta, void *ctx) {
  const prop_edit *e = ctx;
  json_t *c = srv_meta_collection(meta, e->collection, true);
  return srv_props_edit(srv_obj_child(c, "properties"), e->set, e->drop, e->drop_count);
}

static void h_alter_properties(srv_request *req) {
  srv_target t;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  json_t *props = srv_get(req, "properties");
  if (!json_is_object(props)) {
    srv_reply_missing(req, "CollectionReqWithProperties", "Properties");
    return;
  }
  prop_edit e = {t.name, props, NULL, 0};
  if (srv_edit(req, edit_props, &e)) srv_reply_ok(req, NULL);
}

static void h_drop_properties(srv_request *req) {
  srv_target t;
  prop_edit e = {0};
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  if (!srv_get(req, "propertyKeys")) {
    srv_reply_missing(req, "DropCollectionPropertiesReq", "PropertyKeys");
    return;
  }
  if (!srv_opt_string_list(req, "propertyKeys", &e.drop, &e.drop_count)) return;
  e.collection = t.name;
  if (srv_edit(req, edit_props, &e)) srv_reply_ok(req, NULL);
  free(e.drop);
}

/* ------------------------------------------------------- field changes */

/* A fieldParams value as a limit: a number or a numeric string, 1..2^32-1. */
static bool limit_param(srv_request *req, json_t *v, const char *key, uint32_t *out) {
  long long n = -1;
  if (json_is_integer(v)) {
    n = json_integer_value(v);
  } else if (json_is_string(v)) {
    char *end = NULL;
    n = strtoll(json_string_value(v), &end, 10);
    if (end == json_string_value(v) || *end) n = -1;
  }
  if (n < 1 || n > (long long)UINT32_MAX) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: fieldParams.%s must be a positive integer", key);
    return false;
  }
  *out = (uint32_t)n;
  return true;
}

/*
 * collections/fields/alter_properties: max_length (VarChar, Array of
 * VarChar) and max_capacity (Array) may grow (vs_alter_field); mmap.enabled
 * is accepted and has no effect (segments are always mmap'd).
 */
static void h_alter_field(srv_request *req) {
  srv_target t;
  const char *field = NULL;
  if (!srv_resolve(req, "collectionName", false, &t) || !srv_require_string(req, "fieldName", &field)) return;
  json_t *params = srv_get(req, "fieldParams");
  if (!json_is_object(params)) {
    srv_reply_missing(req, "FieldPropertiesReq", "FieldParams");
    return;
  }
  uint32_t max_length = 0, max_capacity = 0;
  const char *key;
  json_t *v;
  json_object_foreach(params, key, v) {
    if (strcmp(key, "max_length") == 0) {
      if (!limit_param(req, v, key, &max_length)) return;
    } else if (strcmp(key, "max_capacity") == 0) {
      if (!limit_param(req, v, key, &max_capacity)) return;
    } else if (strcmp(key, "mmap.enabled") != 0) {
      srv_reply_error(req, SRV_CODE_INVALID,
                      "invalid parameter: field property %s cannot be altered (max_length, max_capacity, "
                      "mmap.enabled)", key);
      return;
    }
  }
  vs_status st = vs_alter_field(t.db, t.name, field, max_length, max_capacity);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  srv_reply_ok(req, NULL);
}

/*
 * collections/fields/add [2.6]: `schema` is one FieldSchema, as in create.
 * As in Milvus, only nullable scalar fields may be added; rows stored before
 * get the field's defaultValue, else null (vs_add_field).
 */
static void h_add_field(srv_request *req) {
  srv_target t;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  json_t *f = srv_get(req, "schema");
  if (!json_is_object(f)) {
    srv_reply_missing(req, "CollectionFieldReq", "Schema");
    return;
  }
  vs_field_def def;
  char *default_json = NULL;
  if (parse_field(req, f, NULL, &def, &default_json)) {
    vs_status st = vs_add_field(t.db, t.name, &def);
    if (st == VS_OK) {
      srv_reply_ok(req, NULL);
    } else if (st == VS_ERR_INVALID || st == VS_ERR_SCHEMA) {
      srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: %s", vs_errmsg(NULL));
    } else {
      srv_reply_status(req, st);
    }
  }
  free(default_json);
}

/* ------------------------------------------------------ flush / compact */

static void h_flush(srv_request *req) {
  srv_target t;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  vs_status st = vs_flush(t.db, t.name);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  srv_reply_ok(req, NULL);
}

/* Compaction runs synchronously, so every id handed out is complete.  Ids
 * start from the wall clock in milliseconds, so ids of an earlier process
 * are lower than this one's and still answer "Completed". */
static _Atomic int64_t last_compaction_id;

static int64_t next_compaction_id(void) {
  int64_t expected = atomic_load(&last_compaction_id);
  if (expected == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t base = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    atomic_compare_exchange_strong(&last_compaction_id, &expected, base);
  }
  return atomic_fetch_add(&last_compaction_id, 1) + 1;
}

static void h_compact(srv_request *req) {
  srv_target t;
  bool clustering = false;
  if (!srv_resolve(req, "collectionName", false, &t) || !srv_opt_bool(req, "isClustering", &clustering)) return;
  vs_status st = vs_compact(t.db, t.name, 1);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  srv_reply_ok(req, json_pack("{s:I}", "compactionID", (json_int_t)next_compaction_id()));
}

static void h_get_compaction_state(srv_request *req) {
  int64_t id = 0;
  if (!srv_opt_int(req, "compactionID", INT64_MIN, INT64_MAX, &id)) return;
  if (srv_get(req, "jobID") && !srv_opt_int(req, "jobID", INT64_MIN, INT64_MAX, &id)) return;
  int64_t last = atomic_load(&last_compaction_id);
  bool known = id > 0 && (last == 0 ? id < (int64_t)time(NULL) * 1000 : id <= last);
  srv_reply_ok(req, json_pack("{s:I,s:s,s:i,s:i,s:i}", "compactionID", (json_int_t)id, "state",
                              known ? "Completed" : "UndefiedState", "executingPlanNumber", 0, "timeoutPlanNumber", 0,
                              "completedPlanNumber", known ? 1 : 0));
}

const srv_route srv_routes_collections[] = {
    {"/collections/create", h_create, "Global", "CreateCollection", 0},
    {"/collections/list", h_list, "Global", "ShowCollections", 0},
    {"/collections/describe", h_describe, "Collection", "DescribeCollection", 0},
    {"/collections/has", h_has, "Collection", "HasCollection", 0},
    {"/collections/drop", h_drop, "Global", "DropCollection", 0},
    {"/collections/rename", h_rename, "Global", "RenameCollection", 0},
    {"/collections/get_stats", h_get_stats, "Collection", "GetStatistics", 0},
    {"/collections/get_load_state", h_get_load_state, "Collection", "GetLoadState", 0},
    {"/collections/load", h_load, "Collection", "Load", 0},
    {"/collections/release", h_release, "Collection", "Release", 0},
    {"/collections/refresh_load", h_refresh_load, "Collection", "Load", 0},
    {"/collections/alter_properties", h_alter_properties, "Global", "AlterCollection", 0},
    {"/collections/drop_properties", h_drop_properties, "Global", "AlterCollection", 0},
    {"/collections/flush", h_flush, "Collection", "Flush", 0},
    {"/collections/compact", h_compact, "Collection", "Compaction", 0},
    {"/collections/get_compaction_state", h_get_compaction_state, "Collection", "GetCompactionState", 0},
    {"/collections/fields/alter_properties", h_alter_field, "Global", "AlterCollectionField", 0},
    {"/collections/fields/add", h_add_field, "Global", "AddCollectionField", 0},
    {NULL, NULL, NULL, NULL, 0},
};
