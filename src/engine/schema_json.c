/*
 * schema_json.c -- the JSON form of a schema, used by the MANIFEST and by
 * describe.  One stable shape, compact, keys in this order:
 *
 *   {"description":"","enableDynamicField":false,"fields":[
 *     {"id":100,"name":"id","type":"Int64","isPrimary":true,"autoID":false,
 *      "nullable":false,
 *      "dim":768,"metric":"L2",              FloatVector only
 *      "maxLength":256,                      VarChar, Array of VarChar
 *      "elementType":"Int64","maxCapacity":16,   Array only
 *      "default":<JSON value>,               when the field has one
 *      "description":""}, ...]}
 *
 * vs_schema_from_json reads text that comes back from disk, so it trusts
 * nothing: unknown keys, wrong JSON types, out-of-range numbers, ids that do
 * not increase, and every rule of vs_schema_add_field (the same function
 * checks both paths) are errors; the result must pass vs_schema_validate.
 * Field ids are restored exactly, so ids written into segment files keep
 * naming the same fields.  Errors are VS_ERR_SCHEMA; a MANIFEST reader may
 * re-label them VS_ERR_CORRUPT.
 *
 * Alternative rejected: Milvus's describe shape (params as key/value
 * string pairs, defaults in protobuf shape).  It is lossy and awkward to
 * validate; the server renders that shape from a vs_schema when needed.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/rows_internal.h"

/* ---------------------------------------------------------------- to JSON */

static int set_new(json_t *obj, const char *key, json_t *value) {
  return json_object_set_new(obj, key, value);
}

static int add_type_params(json_t *o, const vs_field *f) {
  int rc = 0;
  if (f->type == VS_TYPE_FLOAT_VECTOR) {
    rc |= set_new(o, "dim", json_integer(f->dim));
    rc |= set_new(o, "metric", json_string(vs_metric_name(f->metric)));
  }
  if (f->max_length) rc |= set_new(o, "maxLength", json_integer(f->max_length));
  if (f->type == VS_TYPE_ARRAY) {
    rc |= set_new(o, "elementType", json_string(vs_type_name(f->element_type)));
    rc |= set_new(o, "maxCapacity", json_integer(f->max_capacity));
  }
  return rc;
}

static json_t *field_to_json(const vs_field *f) {
  json_t *o = json_object();
  if (!o) return NULL;
  int rc = set_new(o, "id", json_integer(f->id));
  rc |= set_new(o, "name", json_string(f->name));
  rc |= set_new(o, "type", json_string(vs_type_name(f->type)));
  rc |= set_new(o, "isPrimary", json_boolean(f->is_primary));
  rc |= set_new(o, "autoID", json_boolean(f->auto_id));
  rc |= set_new(o, "nullable", json_boolean(f->nullable));
  rc |= add_type_params(o, f);
  if (f->default_json) {
    json_t *d = json_loads(f->default_json, JSON_DECODE_ANY, NULL);
    rc |= d ? set_new(o, "default", d) : -1;
  }
  rc |= set_new(o, "description", json_string(f->description));
  if (rc != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *schema_to_tree(const vs_schema *s) {
  json_t *root = json_object();
  json_t *fields = json_array();
  int rc = root && fields ? 0 : -1;
  if (rc == 0) rc |= set_new(root, "description", json_string(s->description));
  if (rc == 0) rc |= set_new(root, "enableDynamicField", json_boolean(s->dynamic));
  for (size_t i = 0; rc == 0 && i < s->field_count; i++) {
    json_t *f = field_to_json(&s->fields[i]);
    rc |= f ? json_array_append_new(fields, f) : -1;
  }
  if (rc == 0) {
    rc = set_new(root, "fields", fields);
    fields = NULL;
  }
  json_decref(fields);
  if (rc != 0) {
    json_decref(root);
    return NULL;
  }
  return root;
}

vs_status vs_schema_to_json(const vs_schema *schema, char **out) {
  if (!schema || !out) return vs_fail(VS_ERR_INVALID, "schema and out must not be NULL");
  *out = NULL;
  json_t *tree = schema_to_tree(schema);
  if (!tree) return vs_fail(VS_ERR_NOMEM, "out of memory writing a schema as JSON");
  *out = vs_json_canonical(tree);
  json_decref(tree);
  if (!*out) return vs_fail(VS_ERR_NOMEM, "out of memory writing a schema as JSON");
  return VS_OK;
}

/* -------------------------------------------------------------- from JSON */

static const char *const top_keys[] = {"description", "enableDynamicField", "fields", NULL};
static const char *const field_keys[] = {
    "id",          "name",        "type",    "isPrimary", "autoID",
    "nullable",    "dim",         "metric",  "maxLength", "elementType",
    "maxCapacity", "default",     "description", NULL};

static vs_status only_known_keys(const json_t *obj, const char *const *known,
                                 const char *where) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    bool found = false;
    for (size_t i = 0; known[i] && !found; i++) found = strcmp(known[i], key) == 0;
    if (!found) return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s has an unknown key '%.64s'", where, key);
  }
  return VS_OK;
}

/* Optional bool: missing = false. */
static vs_status read_bool(const json_t *o, const char *key, const char *where, int *out) {
  json_t *v = json_object_get(o, key);
  *out = 0;
  if (!v) return VS_OK;
  if (!json_is_boolean(v)) return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s: '%s' must be true or false", where, key);
  *out = json_is_true(v);
  return VS_OK;
}

/* Optional unsigned 32-bit integer: missing = 0. */
static vs_status read_u32(const json_t *o, const char *key, const char *where, uint32_t *out) {
  json_t *v = json_object_get(o, key);
  *out = 0;
  if (!v) return VS_OK;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX) {
    return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s: '%s' must be an integer in 0..%u",
                   where, key, UINT32_MAX);
  }
  *out = (uint32_t)json_integer_value(v);
  return VS_OK;
}

/* String: missing = NULL unless required. */
static vs_status read_string(const json_t *o, const char *key, const char *where,
                             bool required, const char **out) {
  json_t *v = json_object_get(o, key);
  *out = NULL;
  if (!v && !required) return VS_OK;
  if (!v) return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s has no '%s'", where, key);
  if (!json_is_string(v)) return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s: '%s' must be a string", where, key);
  if (strlen(json_string_value(v)) != json_string_length(v)) {
    return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s: '%s' holds a NUL byte", where, key);
  }
  *out = json_string_value(v);
  return VS_OK;
}

static vs_status read_type(const json_t *o, const char *key, const char *where,
                           bool required, vs_type *out) {
  const char *name;
  *out = VS_TYPE_NONE;
  vs_status st = read_string(o, key, where, required, &name);
  if (st != VS_OK || !name) return st;
  *out = vs_type_from_name(name);
  if (*out == VS_TYPE_NONE) {
    return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s: unknown %s '%.64s'", where, key, name);
  }
  return VS_OK;
}

static vs_status read_metric(const json_t *o, const char *where, vs_type type, vs_metric *out) {
  const char *name;
  *out = VS_METRIC_L2;
  vs_status st = read_string(o, "metric", where, type == VS_TYPE_FLOAT_VECTOR, &name);
  if (st != VS_OK || !name) return st;
  if (vs_metric_from_name(name, out) != VS_OK) {
    return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s: unknown metric '%.64s'", where, name);
  }
  return VS_OK;
}

static vs_status read_field_id(const json_t *o, const char *where, uint32_t prev, uint32_t *id) {
  json_t *v = json_object_get(o, "id");
  if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)VS_FIRST_FIELD_ID ||
      json_integer_value(v) > UINT32_MAX) {
    return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s: 'id' must be an integer in %u..%u",
                   where, VS_FIRST_FIELD_ID, UINT32_MAX);
  }
  *id = (uint32_t)json_integer_value(v);
  if (*id <= prev) {
    return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s: id %u does not follow id %u",
                   where, *id, prev);
  }
  return VS_OK;
}

/* Reads the field definition; *default_text is malloc'd (or NULL). */
static vs_status read_field_def(const json_t *o, const char *where, vs_field_def *def,
                                char **default_text) {
  memset(def, 0, sizeof *def);
  *default_text = NULL;
  vs_status st = only_known_keys(o, field_keys, where);
  if (st == VS_OK) st = read_string(o, "name", where, true, &def->name);
  if (st == VS_OK) st = read_type(o, "type", where, true, &def->type);
  if (st == VS_OK) st = read_bool(o, "isPrimary", where, &def->is_primary);
  if (st == VS_OK) st = read_bool(o, "autoID", where, &def->auto_id);
  if (st == VS_OK) st = read_bool(o, "nullable", where, &def->nullable);
  if (st == VS_OK) st = read_u32(o, "dim", where, &def->dim);
  if (st == VS_OK) st = read_metric(o, where, def->type, &def->metric);
  if (st == VS_OK) st = read_u32(o, "maxLength", where, &def->max_length);
  if (st == VS_OK) st = read_type(o, "elementType", where, false, &def->element_type);
  if (st == VS_OK) st = read_u32(o, "maxCapacity", where, &def->max_capacity);
  if (st == VS_OK) st = read_string(o, "description", where, false, &def->description);
  json_t *d = json_object_get(o, "default");
  if (st == VS_OK && d) {
    *default_text = vs_json_canonical(d);
    if (!*default_text) st = vs_fail(VS_ERR_NOMEM, "out of memory reading a default value");
    def->default_json = *default_text;
  }
  return st;
}

static vs_status read_fields(vs_schema *s, const json_t *fields) {
  if (!json_is_array(fields)) return vs_fail(VS_ERR_SCHEMA, "schema JSON: 'fields' must be an array");
  if (json_array_size(fields) > VS_MAX_FIELDS) {
    return vs_fail(VS_ERR_SCHEMA, "schema JSON: %zu fields, the limit is %u",
                   json_array_size(fields), VS_MAX_FIELDS);
  }
  uint32_t prev = VS_FIRST_FIELD_ID - 1;
  size_t i;
  json_t *o;
  json_array_foreach(fields, i, o) {
    char where[32];
    snprintf(where, sizeof where, "field %zu", i);
    if (!json_is_object(o)) return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s is not an object", where);
    vs_field_def def;
    char *default_text = NULL;
    uint32_t id = 0;
    vs_status st = read_field_id(o, where, prev, &id);
    if (st == VS_OK) st = read_field_def(o, where, &def, &default_text);
    if (st == VS_OK) st = vs_schema_add_with_id(s, &def, id);
    free(default_text);
    if (st != VS_OK) return st;
    prev = id;
  }
  return VS_OK;
}

static vs_status schema_from_tree(const json_t *root, vs_schema *s) {
  if (!json_is_object(root)) return vs_fail(VS_ERR_SCHEMA, "schema JSON: not an object");
  vs_status st = only_known_keys(root, top_keys, "the schema");
  const char *description = NULL;
  int dynamic = 0;
  if (st == VS_OK) st = read_string(root, "description", "the schema", false, &description);
  if (st == VS_OK && description) st = vs_schema_set_description(s, description);
  if (st == VS_OK) st = read_bool(root, "enableDynamicField", "the schema", &dynamic);
  if (st == VS_OK) {
    s->dynamic = dynamic != 0;
    json_t *fields = json_object_get(root, "fields");
    st = fields ? read_fields(s, fields)
                : vs_fail(VS_ERR_SCHEMA, "schema JSON: no 'fields'");
  }
  if (st == VS_OK) st = vs_schema_validate(s);
  return st;
}

vs_status vs_schema_from_json(const char *json, vs_schema **out) {
  if (!json || !out) return vs_fail(VS_ERR_INVALID, "json and out must not be NULL");
  *out = NULL;
  char err[200];
  json_t *root = vs_json_parse(json, strlen(json), err, sizeof err);
  if (!root) return vs_fail(VS_ERR_SCHEMA, "schema JSON: %s", err);
  vs_schema *s = NULL;
  vs_status st = vs_schema_new(&s);
  if (st == VS_OK) st = schema_from_tree(root, s);
  json_decref(root);
  if (st != VS_OK) {
    vs_schema_free(s);
    return st;
  }
  *out = s;
  return VS_OK;
}
