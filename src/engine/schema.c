/*
 * schema.c -- collection schemas: building, validating, looking up fields,
 * and the name tables of types, metrics and fsync policies.  The JSON form
 * of a schema is in schema_json.c.
 *
 * A vs_schema is an ordered list of fields with ids 100, 101, ... (strictly
 * increasing; from_json may restore gaps), a dynamic-field flag and a
 * description.  Every field enters through schema_add_checked(), which
 * enforces the rules below, so a vs_schema in memory is always field-valid;
 * vs_schema_validate() adds the whole-schema rules (one primary key, at
 * least one vector field).
 *
 *   rule                                   error (VS_ERR_SCHEMA, names field)
 *   name 1..255 chars [A-Za-z_][A-Za-z0-9_]*, unique, not "$meta"
 *   type one of vs_type                    "unknown type 42"
 *   primary key: Int64 or VarChar, one, not nullable, no default
 *   autoID: only on an Int64 primary key
 *   FloatVector: dim 1..32768, metric L2/IP/COSINE, not nullable (Milvus
 *     2.5+ allows nullable vectors; we do not), at most 8 vector fields
 *   VarChar: max_length 1..65535
 *   Array: element type Bool/Int8..Int64/Float/Double/VarChar, max_capacity
 *     1..4096, max_length 1..65535 for VarChar elements
 *   default: JSON of the field's type (Bool, ints in range, finite numbers,
 *     strings <= max_length), kept as canonical compact JSON; only scalar
 *     and VarChar fields; `null` means "no default" and needs nullable
 *   at most 512 fields
 *
 * Parameters that do not apply to a type (a dim on an Int64) are dropped,
 * so the stored field, vs_schema_field() and the JSON form agree.
 *
 * Locking: none; a vs_schema is a plain value.  Collections keep their own
 * immutable copy (vs_schema_clone).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/rows_internal.h"

/* ------------------------------------------------------------ name tables */

static const struct {
  vs_type type;
  const char *name;
} type_names[] = {
    {VS_TYPE_BOOL, "Bool"},     {VS_TYPE_INT8, "Int8"},
    {VS_TYPE_INT16, "Int16"},   {VS_TYPE_INT32, "Int32"},
    {VS_TYPE_INT64, "Int64"},   {VS_TYPE_FLOAT, "Float"},
    {VS_TYPE_DOUBLE, "Double"}, {VS_TYPE_VARCHAR, "VarChar"},
    {VS_TYPE_ARRAY, "Array"},   {VS_TYPE_JSON, "JSON"},
    {VS_TYPE_FLOAT_VECTOR, "FloatVector"},
};

const char *vs_type_name(vs_type type) {
  for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
    if (type_names[i].type == type) return type_names[i].name;
  }
  return NULL;
}

vs_type vs_type_from_name(const char *name) {
  if (!name) return VS_TYPE_NONE;
  for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
    if (strcmp(type_names[i].name, name) == 0) return type_names[i].type;
  }
  return VS_TYPE_NONE;
}

static const char *const metric_names[] = {"L2", "IP", "COSINE"};

const char *vs_metric_name(vs_metric metric) {
  if ((unsigned)metric >= sizeof metric_names / sizeof metric_names[0]) return NULL;
  return metric_names[metric];
}

vs_status vs_metric_from_name(const char *name, vs_metric *out) {
  for (size_t i = 0; name && i < sizeof metric_names / sizeof metric_names[0]; i++) {
    if (strcasecmp(metric_names[i], name) == 0) {
      if (out) *out = (vs_metric)i;
      return VS_OK;
    }
  }
  return vs_fail(VS_ERR_INVALID, "unknown metric '%s' (expected L2, IP or COSINE)",
                 name ? name : "(null)");
}

static const char *const fsync_names[] = {"always", "batch", "none"};

const char *vs_fsync_policy_name(vs_fsync_policy p) {
  if ((unsigned)p >= sizeof fsync_names / sizeof fsync_names[0]) return NULL;
  return fsync_names[p];
}

vs_status vs_fsync_policy_from_name(const char *name, vs_fsync_policy *out) {
  for (size_t i = 0; name && i < sizeof fsync_names / sizeof fsync_names[0]; i++) {
    if (strcasecmp(fsync_names[i], name) == 0) {
      if (out) *out = (vs_fsync_policy)i;
      return VS_OK;
    }
  }
  return vs_fail(VS_ERR_INVALID, "unknown fsync policy '%s' (expected always, batch or none)",
                 name ? name : "(null)");
}

void vs_free(void *p) { free(p); }

void vs_free_strings(char **strings, size_t n) {
  if (!strings) return;
  for (size_t i = 0; i < n; i++) free(strings[i]);
  free(strings);
}

/* -------------------------------------------------------------- lifecycle */

vs_status vs_schema_new(vs_schema **out) {
  if (!out) return vs_fail(VS_ERR_INVALID, "vs_schema_new: out is NULL");
  *out = NULL;
  vs_schema *s = calloc(1, sizeof *s);
  if (s) s->description = vs_strdup("");
  if (!s || !s->description) {
    free(s);
    return vs_fail(VS_ERR_NOMEM, "out of memory allocating a schema");
  }
  *out = s;
  return VS_OK;
}

static void field_clear(vs_field *f) {
  free(f->name);
  free(f->default_json);
  free(f->description);
  memset(f, 0, sizeof *f);
}

void vs_schema_free(vs_schema *schema) {
  if (!schema) return;
  for (size_t i = 0; i < schema->field_count; i++) field_clear(&schema->fields[i]);
  free(schema->fields);
  free(schema->description);
  free(schema);
}

/* ---------------------------------------------------------- field checks */

static vs_status check_name(const vs_schema *s, const char *name) {
  if (!name || !name[0]) return vs_fail(VS_ERR_SCHEMA, "a field needs a name");
  size_t len = strlen(name);
  if (len > VS_MAX_NAME) {
    return vs_fail(VS_ERR_SCHEMA, "field '%.64s...': the name is %zu characters, the limit is %u",
                   name, len, VS_MAX_NAME);
  }
  if (strcmp(name, VS_META_FIELD) == 0) {
    return vs_fail(VS_ERR_SCHEMA, "field '$meta': the name is reserved for the dynamic field");
  }
  bool ok = isalpha((unsigned char)name[0]) || name[0] == '_';
  for (size_t i = 1; ok && i < len; i++) {
    ok = isalnum((unsigned char)name[i]) || name[i] == '_';
  }
  if (!ok) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': a name must start with a letter or '_' and "
                   "hold only letters, digits and '_'", name);
  }
  if (vs_schema_find(s, name)) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s' is defined twice", name);
  }
  return VS_OK;
}

static bool is_array_element_type(vs_type t) {
  return t == VS_TYPE_BOOL || vs_type_is_int(t) || vs_type_is_real(t) ||
         t == VS_TYPE_VARCHAR;
}

static vs_status check_primary(const vs_schema *s, const vs_field_def *def) {
  if (!def->is_primary) {
    if (def->auto_id) {
      return vs_fail(VS_ERR_SCHEMA, "field '%s': autoID is only allowed on the primary key",
                     def->name);
    }
    return VS_OK;
  }
  if (def->type != VS_TYPE_INT64 && def->type != VS_TYPE_VARCHAR) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': the primary key must be Int64 or VarChar, not %s",
                   def->name, vs_type_name(def->type));
  }
  const vs_field *pk = vs_schema_pk(s);
  if (pk) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': the schema already has a primary key ('%s')",
                   def->name, pk->name);
  }
  if (def->auto_id && def->type != VS_TYPE_INT64) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': autoID needs an Int64 primary key", def->name);
  }
  if (def->nullable) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': the primary key cannot be nullable", def->name);
  }
  if (def->default_json) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': the primary key cannot have a default value",
                   def->name);
  }
  return VS_OK;
}

static vs_status check_vector(const vs_schema *s, const vs_field_def *def) {
  if (def->dim == 0 || def->dim > VS_MAX_DIM) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': dim %u is out of range 1..%u",
                   def->name, def->dim, VS_MAX_DIM);
  }
  if (!vs_metric_name(def->metric)) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': unknown metric %d (expected L2, IP or COSINE)",
                   def->name, (int)def->metric);
  }
  if (def->nullable) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': vector fields cannot be nullable (Milvus 2.5+ "
                   "allows nullable vectors; vectorstore does not)", def->name);
  }
  if (vs_schema_vector_count(s) >= VS_MAX_VECTOR_FIELDS) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': a schema has at most %u vector fields",
                   def->name, VS_MAX_VECTOR_FIELDS);
  }
  return VS_OK;
}

static vs_status check_max_length(const vs_field_def *def) {
  if (def->max_length == 0 || def->max_length > VS_MAX_VARCHAR) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': max_length %u is out of range 1..%u",
                   def->name, def->max_length, VS_MAX_VARCHAR);
  }
  return VS_OK;
}

static vs_status check_array(const vs_field_def *def) {
  if (!is_array_element_type(def->element_type)) {
    const char *name = vs_type_name(def->element_type);
    return vs_fail(VS_ERR_SCHEMA, "field '%s': an Array's element type must be Bool, Int8..Int64, "
                   "Float, Double or VarChar, not %s", def->name, name ? name : "unset");
  }
  if (def->max_capacity == 0 || def->max_capacity > VS_MAX_ARRAY_CAPACITY) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': max_capacity %u is out of range 1..%u",
                   def->name, def->max_capacity, VS_MAX_ARRAY_CAPACITY);
  }
  if (def->element_type == VS_TYPE_VARCHAR) return check_max_length(def);
  return VS_OK;
}

static vs_status check_type_params(const vs_schema *s, const vs_field_def *def) {
  switch (def->type) {
    case VS_TYPE_BOOL: case VS_TYPE_INT8: case VS_TYPE_INT16: case VS_TYPE_INT32:
    case VS_TYPE_INT64: case VS_TYPE_FLOAT: case VS_TYPE_DOUBLE: case VS_TYPE_JSON:
      return VS_OK;
    case VS_TYPE_VARCHAR:
      return check_max_length(def);
    case VS_TYPE_ARRAY:
      return check_array(def);
    case VS_TYPE_FLOAT_VECTOR:
      return check_vector(s, def);
    default:
      return vs_fail(VS_ERR_SCHEMA, "field '%s': unknown type %d", def->name, (int)def->type);
  }
}

/* Checks a parsed, non-null default against the field's type. */
static vs_status check_default_value(const vs_field_def *def, const json_t *v) {
  const char *tname = vs_type_name(def->type);
  bool ok;
  if (def->type == VS_TYPE_BOOL) {
    ok = json_is_boolean(v);
  } else if (vs_type_is_int(def->type)) {
    int64_t lo, hi;
    vs_int_range(def->type, &lo, &hi);
    ok = json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
  } else if (vs_type_is_real(def->type)) {
    ok = json_is_number(v) &&
         (def->type == VS_TYPE_DOUBLE || vs_fits_float(json_number_value(v)));
  } else if (def->type == VS_TYPE_VARCHAR) {
    ok = json_is_string(v);
    if (ok && json_string_length(v) > def->max_length) {
      return vs_fail(VS_ERR_SCHEMA, "field '%s': the default is %zu bytes, max_length is %u",
                     def->name, json_string_length(v), def->max_length);
    }
  } else {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': %s fields cannot have a default value",
                   def->name, tname);
  }
  if (!ok) {
    return vs_fail(VS_ERR_SCHEMA, "field '%s': the default value is not a valid %s",
                   def->name, tname);
  }
  return VS_OK;
}

/* Parses and checks def->default_json; *out = canonical text or NULL. */
static vs_status check_default(const vs_field_def *def, char **out) {
  *out = NULL;
  if (!def->default_json) return VS_OK;
  char err[200];
  json_t *v = vs_json_parse(def->default_json, strlen(def->default_json), err, sizeof err);
  if (!v) return vs_fail(VS_ERR_SCHEMA, "field '%s': the default value is not JSON: %s", def->name, err);
  vs_status st = VS_OK;
  if (json_is_null(v)) {
    if (!def->nullable) {
      st = vs_fail(VS_ERR_SCHEMA, "field '%s': a null default needs a nullable field", def->name);
    }
  } else {
    st = check_default_value(def, v);
    if (st == VS_OK) {
      *out = vs_json_canonical(v);
      if (!*out) st = vs_fail(VS_ERR_NOMEM, "out of memory storing the default of '%s'", def->name);
    }
  }
  json_decref(v);
  return st;
}

static vs_status check_text(const char *what, const char *name, const char *text) {
  size_t len = strlen(text);
  if (len > VS_MAX_DESCRIPTION) {
    return vs_fail(VS_ERR_SCHEMA, "%s%s%s: the description is %zu bytes, the limit is %u",
                   what, name, name[0] ? "'" : "", len, VS_MAX_DESCRIPTION);
  }
  if (vs_utf8_check(text, len) != len) {
    return vs_fail(VS_ERR_SCHEMA, "%s%s%s: the description is not valid UTF-8",
                   what, name, name[0] ? "'" : "");
  }
  return VS_OK;
}

static vs_status check_field(const vs_schema *s, const vs_field_def *def) {
  vs_status st = check_name(s, def->name);
  if (st == VS_OK && s->field_count >= VS_MAX_FIELDS) {
    st = vs_fail(VS_ERR_SCHEMA, "field '%s': a schema has at most %u fields",
                 def->name, VS_MAX_FIELDS);
  }
  if (st == VS_OK) st = check_type_params(s, def);
  if (st == VS_OK) st = check_primary(s, def);
  if (st == VS_OK && def->description) st = check_text("field '", def->name, def->description);
  return st;
}

/* Fills a stored field from a checked definition; only applicable params. */
static vs_status field_from_def(const vs_field_def *def, uint32_t id,
                                char *default_json, vs_field *f) {
  memset(f, 0, sizeof *f);
  f->id = id;
  f->type = def->type;
  f->is_primary = def->is_primary != 0;
  f->auto_id = def->auto_id != 0;
  f->nullable = def->nullable != 0;
  if (def->type == VS_TYPE_FLOAT_VECTOR) {
    f->dim = def->dim;
    f->metric = def->metric;
  }
  if (def->type == VS_TYPE_VARCHAR ||
      (def->type == VS_TYPE_ARRAY && def->element_type == VS_TYPE_VARCHAR)) {
    f->max_length = def->max_length;
  }
  if (def->type == VS_TYPE_ARRAY) {
    f->element_type = def->element_type;
    f->max_capacity = def->max_capacity;
  }
  f->default_json = default_json;
  f->name = vs_strdup(def->name);
  f->description = vs_strdup(def->description ? def->description : "");
  if (!f->name || !f->description) {
    field_clear(f);
    return vs_fail(VS_ERR_NOMEM, "out of memory adding field '%s'", def->name);
  }
  return VS_OK;
}

static vs_status grow_fields(vs_schema *s) {
  if (s->field_count < s->field_cap) return VS_OK;
  size_t cap = s->field_cap ? s->field_cap * 2 : 8;
  vs_field *p = vs_reallocarray(s->fields, cap, sizeof *p);
  if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory growing a schema");
  s->fields = p;
  s->field_cap = cap;
  return VS_OK;
}

/* The one way a field enters a schema (add_field and from_json). */
vs_status vs_schema_add_with_id(vs_schema *s, const vs_field_def *def, uint32_t id) {
  char *default_json = NULL;
  vs_status st = check_field(s, def);
  if (st == VS_OK) st = check_default(def, &default_json);
  if (st == VS_OK) st = grow_fields(s);
  if (st == VS_OK) st = field_from_def(def, id, default_json, &s->fields[s->field_count]);
  if (st != VS_OK) {
    free(default_json);
    return st;
  }
  s->field_count++;
  return VS_OK;
}

static uint32_t next_field_id(const vs_schema *s) {
  if (s->field_count == 0) return VS_FIRST_FIELD_ID;
  return s->fields[s->field_count - 1].id + 1;
}

vs_status vs_schema_add_field(vs_schema *schema, const vs_field_def *def) {
  if (!schema || !def) return vs_fail(VS_ERR_INVALID, "schema and field must not be NULL");
  if (next_field_id(schema) == 0) return vs_fail(VS_ERR_SCHEMA, "field ids are exhausted");
  return vs_schema_add_with_id(schema, def, next_field_id(schema));
}

vs_status vs_schema_enable_dynamic(vs_schema *schema, int enable) {
  if (!schema) return vs_fail(VS_ERR_INVALID, "schema is NULL");
  schema->dynamic = enable != 0;
  return VS_OK;
}

vs_status vs_schema_set_description(vs_schema *schema, const char *text) {
  if (!schema) return vs_fail(VS_ERR_INVALID, "schema is NULL");
  if (!text) text = "";
  vs_status st = check_text("schema", "", text);
  if (st != VS_OK) return st;
  char *copy = vs_strdup(text);
  if (!copy) return vs_fail(VS_ERR_NOMEM, "out of memory copying a description");
  free(schema->description);
  schema->description = copy;
  return VS_OK;
}

vs_status vs_schema_validate(const vs_schema *schema) {
  if (!schema) return vs_fail(VS_ERR_INVALID, "schema is NULL");
  if (schema->field_count > VS_MAX_FIELDS) {
    return vs_fail(VS_ERR_SCHEMA, "the schema has %zu fields, the limit is %u",
                   schema->field_count, VS_MAX_FIELDS);
  }
  if (!vs_schema_pk(schema)) {
    return vs_fail(VS_ERR_SCHEMA, "the schema has no primary key field");
  }
  size_t vectors = vs_schema_vector_count(schema);
  if (vectors == 0) return vs_fail(VS_ERR_SCHEMA, "the schema has no FloatVector field");
  if (vectors > VS_MAX_VECTOR_FIELDS) {
    return vs_fail(VS_ERR_SCHEMA, "the schema has %zu vector fields, the limit is %u",
                   vectors, VS_MAX_VECTOR_FIELDS);
  }
  return VS_OK;
}

/* ----------------------------------------------------------------- lookup */

size_t vs_schema_field_count(const vs_schema *schema) {
  return schema ? schema->field_count : 0;
}

vs_status vs_schema_field(const vs_schema *schema, size_t i,
                          vs_field_def *out) {
  if (!schema || !out) return vs_fail(VS_ERR_INVALID, "schema and out must not be NULL");
  if (i >= schema->field_count) {
    return vs_fail(VS_ERR_INVALID, "field index %zu is out of range (the schema has %zu fields)",
                   i, schema->field_count);
  }
  const vs_field *f = &schema->fields[i];
  memset(out, 0, sizeof *out);
  out->name = f->name;
  out->type = f->type;
  out->is_primary = f->is_primary;
  out->auto_id = f->auto_id;
  out->dim = f->dim;
  out->metric = f->metric;
  out->max_length = f->max_length;
  out->element_type = f->element_type;
  out->max_capacity = f->max_capacity;
  out->nullable = f->nullable;
  out->default_json = f->default_json;
  out->description = f->description;
  return VS_OK;
}

const vs_field *vs_schema_find(const vs_schema *schema, const char *name) {
  int i = vs_schema_index(schema, name);
  return i < 0 ? NULL : &schema->fields[i];
}

int vs_schema_index(const vs_schema *schema, const char *name) {
  if (!schema || !name) return -1;
  for (size_t i = 0; i < schema->field_count; i++) {
    if (strcmp(schema->fields[i].name, name) == 0) return (int)i;
  }
  return -1;
}

int vs_schema_pk_index(const vs_schema *schema) {
  for (size_t i = 0; schema && i < schema->field_count; i++) {
    if (schema->fields[i].is_primary) return (int)i;
  }
  return -1;
}

const vs_field *vs_schema_pk(const vs_schema *schema) {
  int i = vs_schema_pk_index(schema);
  return i < 0 ? NULL : &schema->fields[i];
}

size_t vs_schema_vector_count(const vs_schema *schema) {
  size_t count = 0;
  for (size_t i = 0; schema && i < schema->field_count; i++) {
    count += schema->fields[i].type == VS_TYPE_FLOAT_VECTOR;
  }
  return count;
}

int vs_schema_first_vector(const vs_schema *schema) {
  for (size_t i = 0; schema && i < schema->field_count; i++) {
    if (schema->fields[i].type == VS_TYPE_FLOAT_VECTOR) return (int)i;
  }
  return -1;
}

size_t vs_schema_column_count(const vs_schema *schema) {
  if (!schema) return 0;
  return schema->field_count + (schema->dynamic ? 1 : 0);
}

/* ------------------------------------------------------------------ clone */

static vs_status field_copy(const vs_field *src, vs_field *dst) {
  *dst = *src;
  dst->name = vs_strdup(src->name);
  dst->description = vs_strdup(src->description);
  dst->default_json = src->default_json ? vs_strdup(src->default_json) : NULL;
  if (!dst->name || !dst->description || (src->default_json && !dst->default_json)) {
    field_clear(dst);
    return vs_fail(VS_ERR_NOMEM, "out of memory copying field '%s'", src->name);
  }
  return VS_OK;
}

vs_status vs_schema_clone(const vs_schema *src, vs_schema **out) {
  vs_schema *s = NULL;
  vs_status st = vs_schema_new(&s);
  if (st == VS_OK) st = vs_schema_set_description(s, src->description);
  if (st == VS_OK && src->field_count > 0) {
    s->fields = vs_calloc(src->field_count, sizeof *s->fields);
    if (!s->fields) st = vs_fail(VS_ERR_NOMEM, "out of memory copying a schema");
    else s->field_cap = src->field_count;
  }
  for (size_t i = 0; st == VS_OK && i < src->field_count; i++) {
    st = field_copy(&src->fields[i], &s->fields[i]);
    if (st == VS_OK) s->field_count++;
  }
  if (st != VS_OK) {
    vs_schema_free(s);
    s = NULL;
  } else {
    s->dynamic = src->dynamic;
  }
  *out = s;
  return st;
}
