/*
 * batch.c -- vs_batch_normalize: the one gate between what a user hands to
 * insert/upsert and what reaches the WAL and the segments.
 *
 * Input: a loose vs_rows (columns by name, in any order, of the types the
 * setters and vs_rows_from_json produce).  Output: a *normalized batch*,
 * one column per schema field in schema order, then "$meta" (JSON) when the
 * schema is dynamic, every column exactly of its field's type, every value
 * checked.  Conversions accepted:
 *
 *   field type        input column types        checks
 *   Bool              Bool                      -
 *   Int8..Int64       Int8..Int64               range of the field type
 *   Float / Double    Int8..Int64, Float, Double finite; Float: no overflow
 *   VarChar           VarChar                   UTF-8, bytes <= max_length
 *   JSON              JSON                      parses; stored canonical
 *   Array             JSON or Array             array, <= max_capacity,
 *                                               elements typed, canonical
 *   FloatVector       FloatVector               same dim, every value finite
 *   $meta (dynamic)   JSON (objects) + every    one object per row: the
 *                     column not in the schema  given $meta merged with the
 *                                               unknown columns' values
 *
 * Nulls: a missing column or a null row takes the field's default if it has
 * one (Milvus does the same for an explicit null), else null if the field
 * is nullable, else it is an error naming the field and row.  The primary
 * key of an autoID collection must be absent on INSERT (zeros are written;
 * the caller assigns ids with vs_batch_set_auto_ids) and present on UPSERT.
 * Duplicate primary keys inside one batch are an error (an open-addressing
 * table of row numbers, sized 2n, keyed by vs_pk_hash).
 *
 * Failure is all-or-nothing: *out is NULL and nothing leaks.  Every error
 * is VS_ERR_DATA (VS_ERR_LIMIT for too many rows) with a message naming the
 * field and the row, e.g. "field 'age' row 4: 300 out of range for Int8",
 * "field 'id' row 9: duplicate primary key 42 (also at row 3)".
 *
 * Locking: none; the schema and input are read only.
 *
 * Alternatives rejected: converting in place inside the user's vs_rows (the
 * caller keeps it and may insert it again elsewhere), and checking
 * row-major (each column is one tight loop over one type this way).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rows_internal.h"

typedef struct field_default {
  bool has;
  uint8_t fixed[8];  /* fixed types: the value in the field's width */
  json_t *text;      /* VarChar: the parsed default string (owned) */
} field_default;

typedef struct normalizer {
  const vs_schema *schema;
  const vs_rows *in;
  vs_write_kind kind;
  size_t n;
  bool *used;        /* per input column: names a schema field */
  vs_buf scratch;    /* reused for canonical JSON texts */
} normalizer;

/* -------------------------------------------------------- nulls, defaults */

static vs_status load_default(const vs_field *f, field_default *d) {
  memset(d, 0, sizeof *d);
  if (!f->default_json) return VS_OK;
  json_t *v = json_loads(f->default_json, JSON_DECODE_ANY, NULL);
  if (!v) return vs_fail(VS_ERR_INTERNAL, "field '%s': cannot read its default", f->name);
  d->has = true;
  if (f->type == VS_TYPE_VARCHAR) {
    d->text = v;
    return VS_OK;
  }
  if (f->type == VS_TYPE_BOOL) {
    d->fixed[0] = json_is_true(v);
  } else if (vs_type_is_int(f->type)) {
    vs_store_int(d->fixed, f->type, json_integer_value(v));
  } else if (f->type == VS_TYPE_FLOAT) {
    float x = (float)json_number_value(v);
    memcpy(d->fixed, &x, sizeof x);
  } else {
    double x = json_number_value(v);
    memcpy(d->fixed, &x, sizeof x);
  }
  json_decref(v);
  return VS_OK;
}

/* Appends what a null or missing value becomes, or fails. */
static vs_status push_absent(const vs_field *f, const field_default *d,
                             vs_column *out, size_t row) {
  if (d->has && f->type == VS_TYPE_VARCHAR) {
    return vs_col_push_var(out, json_string_value(d->text), json_string_length(d->text));
  }
  if (d->has) return vs_col_push_fixed(out, d->fixed);
  if (f->nullable) return vs_col_push_null(out);
  return vs_fail(VS_ERR_DATA, "field '%s' row %zu is null but the field is not nullable",
                 f->name, row);
}

static vs_status fill_absent(const vs_field *f, const field_default *d, size_t n,
                             vs_column *out) {
  if (n > 0 && !d->has && !f->nullable) {
    return vs_fail(VS_ERR_DATA, "row 0 is missing field '%s'", f->name);
  }
  vs_status st = vs_col_reserve(out, n, 0);
  for (size_t r = 0; st == VS_OK && r < n; r++) st = push_absent(f, d, out, r);
  return st;
}

vs_status vs_column_fill_absent(const vs_field *f, size_t n, vs_column *out) {
  field_default d;
  memset(out, 0, sizeof *out);
  vs_status st = load_default(f, &d);
  if (st == VS_OK) st = vs_col_init(out, f->name, f->type, f->element_type, f->dim);
  if (st == VS_OK) st = fill_absent(f, &d, n, out);
  if (st == VS_OK) {
    out->n = n;
  } else {
    vs_col_clear(out);
  }
  json_decref(d.text);
  return st;
}

static vs_status fill_zero_keys(const normalizer *z, vs_column *out) {
  const int64_t zero = 0;
  vs_status st = vs_col_reserve(out, z->n, 0);
  for (size_t r = 0; st == VS_OK && r < z->n; r++) st = vs_col_push_fixed(out, &zero);
  return st;
}

/* ------------------------------------------------------ scalar converters */

static vs_status convert_bool(const normalizer *z, const vs_field *f,
                              const field_default *d, const vs_column *in,
                              vs_column *out) {
  vs_status st = vs_col_reserve(out, z->n, 0);
  for (size_t r = 0; st == VS_OK && r < z->n; r++) {
    uint8_t v = in->fixed.data[r] != 0;
    st = vs_col_is_null(in, r) ? push_absent(f, d, out, r) : vs_col_push_fixed(out, &v);
  }
  return st;
}

static vs_status convert_int(const normalizer *z, const vs_field *f,
                             const field_default *d, const vs_column *in,
                             vs_column *out) {
  int64_t lo, hi;
  vs_int_range(f->type, &lo, &hi);
  vs_status st = vs_col_reserve(out, z->n, 0);
  for (size_t r = 0; st == VS_OK && r < z->n; r++) {
    if (vs_col_is_null(in, r)) {
      st = push_absent(f, d, out, r);
      continue;
    }
    int64_t v = vs_col_int(in, r);
    if (v < lo || v > hi) {
      return vs_fail(VS_ERR_DATA, "field '%s' row %zu: %lld out of range for %s",
                     f->name, r, (long long)v, vs_type_name(f->type));
    }
    uint8_t buf[8];
    vs_store_int(buf, f->type, v);
    st = vs_col_push_fixed(out, buf);
  }
  return st;
}

/* Checks a real value for a Float/Double field. */
static vs_status check_real(const vs_field *f, size_t row, double v) {
  if (isnan(v)) return vs_fail(VS_ERR_DATA, "field '%s' row %zu: NaN is not allowed", f->name, row);
  if (isinf(v)) return vs_fail(VS_ERR_DATA, "field '%s' row %zu: Inf is not allowed", f->name, row);
  if (f->type == VS_TYPE_FLOAT && !vs_fits_float(v)) {
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: %g out of range for Float", f->name, row, v);
  }
  return VS_OK;
}

static vs_status convert_real(const normalizer *z, const vs_field *f,
                              const field_default *d, const vs_column *in,
                              vs_column *out) {
  vs_status st = vs_col_reserve(out, z->n, 0);
  for (size_t r = 0; st == VS_OK && r < z->n; r++) {
    if (vs_col_is_null(in, r)) {
      st = push_absent(f, d, out, r);
      continue;
    }
    double v = vs_type_is_int(in->type) ? (double)vs_col_int(in, r) : vs_col_real(in, r);
    st = check_real(f, r, v);
    if (st != VS_OK) return st;
    float fv = f->type == VS_TYPE_FLOAT ? (float)v : 0.0f;
    st = vs_col_push_fixed(out, f->type == VS_TYPE_FLOAT ? (const void *)&fv : (const void *)&v);
  }
  return st;
}

static vs_status check_varchar(const vs_field *f, size_t row, const char *p,
                               size_t len, uint32_t max_length) {
  size_t bad = vs_utf8_check(p, len);
  if (bad != len) {
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: invalid UTF-8 at byte %zu", f->name, row, bad);
  }
  if (len > max_length) {
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: %zu bytes exceeds max_length %u",
                   f->name, row, len, max_length);
  }
  return VS_OK;
}

static vs_status convert_varchar(const normalizer *z, const vs_field *f,
                                 const field_default *d, const vs_column *in,
                                 vs_column *out) {
  vs_status st = vs_col_reserve(out, z->n, in->bytes.len);
  for (size_t r = 0; st == VS_OK && r < z->n; r++) {
    if (vs_col_is_null(in, r)) {
      st = push_absent(f, d, out, r);
      continue;
    }
    size_t len;
    const char *p = vs_col_var(in, r, &len);
    st = check_varchar(f, r, p, len, f->max_length);
    if (st == VS_OK) st = vs_col_push_var(out, p, len);
  }
  return st;
}

/* ------------------------------------------------- JSON, Array converters */

static vs_status parse_cell(const vs_field *f, const vs_column *in, size_t row,
                            json_t **out) {
  char err[200];
  size_t len;
  const char *p = vs_col_var(in, row, &len);
  *out = vs_json_parse(p ? p : "", len, err, sizeof err);
  if (!*out) return vs_fail(VS_ERR_DATA, "field '%s' row %zu: %s", f->name, row, err);
  return VS_OK;
}

/* Canonical text of one JSON-typed cell (a JSON field, or an Array field
 * checked against its element type). */
typedef vs_status (*cell_writer)(vs_buf *b, const vs_field *f, size_t row, const json_t *v);

static vs_status write_json_cell(vs_buf *b, const vs_field *f, size_t row, const json_t *v) {
  VS_UNUSED(f);
  VS_UNUSED(row);
  return vs_json_write(b, v);
}

/* Parses every present cell of a text column and stores its canonical
 * form; absent cells take the default or null. */
static vs_status convert_parsed(normalizer *z, const vs_field *f, const field_default *d,
                                const vs_column *in, vs_column *out, cell_writer write) {
  vs_status st = vs_col_reserve(out, z->n, in->bytes.len);
  for (size_t r = 0; st == VS_OK && r < z->n; r++) {
    if (vs_col_is_null(in, r)) {
      st = push_absent(f, d, out, r);
      continue;
    }
    json_t *v;
    st = parse_cell(f, in, r, &v);
    if (st != VS_OK) return st;
    z->scratch.len = 0;
    st = write(&z->scratch, f, r, v);
    json_decref(v);
    if (st == VS_OK) st = vs_col_push_var(out, z->scratch.data, z->scratch.len);
  }
  return st;
}

/* Writes one Array element in its canonical form for the element type. */
static vs_status write_element(vs_buf *b, const vs_field *f, size_t row,
                               size_t i, const json_t *e) {
  vs_type t = f->element_type;
  const char *tname = vs_type_name(t);
  if (t == VS_TYPE_BOOL && json_is_boolean(e)) return vs_json_write(b, e);
  if (vs_type_is_int(t) && json_is_integer(e)) {
    int64_t lo, hi, v = json_integer_value(e);
    vs_int_range(t, &lo, &hi);
    if (v >= lo && v <= hi) return vs_json_write(b, e);
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: element %zu: %lld out of range for %s",
                   f->name, row, i, (long long)v, tname);
  }
  if (vs_type_is_real(t) && json_is_number(e)) {
    double v = json_number_value(e);
    if (t == VS_TYPE_DOUBLE) return vs_json_write_double(b, v);
    if (vs_fits_float(v)) return vs_json_write_float(b, (float)v);
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: element %zu: %g out of range for Float",
                   f->name, row, i, v);
  }
  if (t == VS_TYPE_VARCHAR && json_is_string(e)) {
    if (json_string_length(e) > f->max_length) {
      return vs_fail(VS_ERR_DATA, "field '%s' row %zu: element %zu: %zu bytes exceeds max_length %u",
                     f->name, row, i, json_string_length(e), f->max_length);
    }
    return vs_json_write(b, e);
  }
  return vs_fail(VS_ERR_DATA, "field '%s' row %zu: element %zu is not a %s",
                 f->name, row, i, tname);
}

static vs_status write_typed_array(vs_buf *b, const vs_field *f, size_t row,
                                   const json_t *a) {
  if (!json_is_array(a)) {
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: expected a JSON array", f->name, row);
  }
  if (json_array_size(a) > f->max_capacity) {
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: %zu elements exceed max_capacity %u",
                   f->name, row, json_array_size(a), f->max_capacity);
  }
  vs_status st = vs_buf_append_u8(b, '[');
  for (size_t i = 0; st == VS_OK && i < json_array_size(a); i++) {
    if (i > 0) st = vs_buf_append_u8(b, ',');
    if (st == VS_OK) st = write_element(b, f, row, i, json_array_get(a, i));
  }
  if (st == VS_OK) st = vs_buf_append_u8(b, ']');
  return st;
}

/* ------------------------------------------------------- vector converter */

static vs_status check_vector_row(const vs_field *f, const vs_column *in, size_t row) {
  const float *v = (const float *)(in->fixed.data + row * (size_t)in->dim * sizeof(float));
  for (uint32_t j = 0; j < in->dim; j++) {
    if (!isfinite(v[j])) {
      return vs_fail(VS_ERR_DATA, "field '%s' row %zu: value %u is %s", f->name, row, j,
                     isnan(v[j]) ? "NaN" : "Inf");
    }
  }
  return VS_OK;
}

static vs_status convert_vector(const normalizer *z, const vs_field *f,
                                const field_default *d, const vs_column *in,
                                vs_column *out) {
  if (in->dim != f->dim) {
    return vs_fail(VS_ERR_DATA, "field '%s' expects %u floats per row, got %u",
                   f->name, f->dim, in->dim);
  }
  for (size_t r = 0; r < z->n; r++) {
    vs_status st = vs_col_is_null(in, r) ? push_absent(f, d, out, r) : check_vector_row(f, in, r);
    if (st != VS_OK) return st;
  }
  return vs_col_push_fixed_many(out, in->fixed.data, z->n);
}

/* ---------------------------------------------------------- one field */

static bool input_type_ok(vs_type field, vs_type in) {
  switch (field) {
    case VS_TYPE_INT8: case VS_TYPE_INT16: case VS_TYPE_INT32: case VS_TYPE_INT64:
      return vs_type_is_int(in);
    case VS_TYPE_FLOAT: case VS_TYPE_DOUBLE:
      return vs_type_is_int(in) || vs_type_is_real(in);
    case VS_TYPE_ARRAY:
      return in == VS_TYPE_JSON || in == VS_TYPE_ARRAY;
    default:
      return in == field;
  }
}

static vs_status convert(normalizer *z, const vs_field *f, const field_default *d,
                         const vs_column *in, vs_column *out) {
  if (!input_type_ok(f->type, in->type)) {
    return vs_fail(VS_ERR_DATA, "field '%s' is %s and cannot take a %s column",
                   f->name, vs_type_name(f->type), vs_type_label(in->type));
  }
  switch (f->type) {
    case VS_TYPE_BOOL: return convert_bool(z, f, d, in, out);
    case VS_TYPE_FLOAT: case VS_TYPE_DOUBLE: return convert_real(z, f, d, in, out);
    case VS_TYPE_VARCHAR: return convert_varchar(z, f, d, in, out);
    case VS_TYPE_JSON: return convert_parsed(z, f, d, in, out, write_json_cell);
    case VS_TYPE_ARRAY: return convert_parsed(z, f, d, in, out, write_typed_array);
    case VS_TYPE_FLOAT_VECTOR: return convert_vector(z, f, d, in, out);
    default: return convert_int(z, f, d, in, out);
  }
}

static vs_status normalize_field(normalizer *z, const vs_field *f, vs_column *out) {
  const vs_column *in = vs_rows_find(z->in, f->name);
  if (f->is_primary && f->auto_id && z->kind == VS_WRITE_INSERT) {
    if (in) return vs_fail(VS_ERR_DATA, "field '%s' is autoID; do not pass it on insert", f->name);
    return fill_zero_keys(z, out);
  }
  field_default d;
  vs_status st = load_default(f, &d);
  if (st == VS_OK) st = in ? convert(z, f, &d, in, out) : fill_absent(f, &d, z->n, out);
  json_decref(d.text);
  return st;
}

/* ------------------------------------------------------------- $meta */

/* The value of one cell as a JSON value (for dynamic keys). */
static vs_status cell_to_json(const vs_column *c, size_t row, json_t **out) {
  *out = NULL;
  if (c->type == VS_TYPE_BOOL) *out = json_boolean(c->fixed.data[row]);
  else if (vs_type_is_int(c->type)) *out = json_integer(vs_col_int(c, row));
  else if (vs_type_is_real(c->type) && isfinite(vs_col_real(c, row))) *out = json_real(vs_col_real(c, row));
  else if (vs_type_is_real(c->type)) {
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: NaN and Inf are not allowed", c->name, row);
  } else if (c->type == VS_TYPE_VARCHAR) {
    size_t len;
    const char *p = vs_col_var(c, row, &len);
    if (vs_utf8_check(p, len) != len) {
      return vs_fail(VS_ERR_DATA, "field '%s' row %zu: invalid UTF-8", c->name, row);
    }
    *out = json_stringn(p ? p : "", len);
  } else if (c->type == VS_TYPE_JSON || c->type == VS_TYPE_ARRAY) {
    vs_field f = {.name = c->name};
    return parse_cell(&f, c, row, out);
  } else {
    *out = json_array();
    const float *v = (const float *)(c->fixed.data + row * (size_t)c->dim * sizeof(float));
    for (uint32_t j = 0; *out && j < c->dim; j++) {
      if (!isfinite(v[j]) || json_array_append_new(*out, json_real(v[j])) != 0) {
        json_decref(*out);
        return vs_fail(VS_ERR_DATA, "field '%s' row %zu: value %u is not a finite number", c->name, row, j);
      }
    }
  }
  return *out ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory converting field '%s'", c->name);
}

/* The given "$meta" object of a row (a fresh object when absent/null). */
static vs_status meta_base(const normalizer *z, const vs_column *meta, size_t row,
                           json_t **out) {
  *out = NULL;
  if (!meta || vs_col_is_null(meta, row)) {
    *out = json_object();
    return *out ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory building $meta");
  }
  vs_field f = {.name = VS_META_FIELD};
  vs_status st = parse_cell(&f, meta, row, out);
  if (st != VS_OK) return st;
  if (!json_is_object(*out)) {
    json_decref(*out);
    *out = NULL;
    return vs_fail(VS_ERR_DATA, "field '$meta' row %zu: expected a JSON object", row);
  }
  const char *key;
  json_t *v;
  json_object_foreach(*out, key, v) {
    if (vs_schema_find(z->schema, key)) {
      vs_status st_key = vs_fail(VS_ERR_DATA, "field '$meta' row %zu: key '%s' is a schema field",
                                 row, key);
      json_decref(*out);
      *out = NULL;
      return st_key;
    }
  }
  return VS_OK;
}

static vs_status meta_row(normalizer *z, const vs_column *meta, size_t row) {
  json_t *obj;
  vs_status st = meta_base(z, meta, row, &obj);
  for (size_t c = 0; st == VS_OK && c < z->in->col_count; c++) {
    const vs_column *col = &z->in->cols[c];
    if (z->used[c] || col == meta || vs_col_is_null(col, row)) continue;
    json_t *v;
    st = cell_to_json(col, row, &v);
    if (st == VS_OK && json_object_set_new(obj, col->name, v) != 0) {
      st = vs_fail(VS_ERR_DATA, "field '%s': the name is not valid UTF-8", col->name);
    }
  }
  z->scratch.len = 0;
  if (st == VS_OK) st = vs_json_write(&z->scratch, obj);
  json_decref(obj);
  return st;
}

static vs_status build_meta(normalizer *z, vs_column *out) {
  const vs_column *meta = vs_rows_find(z->in, VS_META_FIELD);
  bool any_unknown = false;
  for (size_t c = 0; c < z->in->col_count; c++) {
    any_unknown |= !z->used[c] && &z->in->cols[c] != meta;
  }
  vs_status st = vs_col_reserve(out, z->n, 2 * z->n);
  for (size_t r = 0; st == VS_OK && r < z->n; r++) {
    if (!meta && !any_unknown) {
      st = vs_col_push_var(out, "{}", 2);
      continue;
    }
    st = meta_row(z, meta, r);
    if (st == VS_OK) st = vs_col_push_var(out, z->scratch.data, z->scratch.len);
  }
  return st;
}

/* --------------------------------------------------------- whole batch */

static size_t first_present_row(const vs_column *c) {
  for (size_t r = 0; r < c->n; r++) {
    if (!vs_col_is_null(c, r)) return r;
  }
  return 0;
}

/* Checks column lengths; marks columns naming schema fields; rejects
 * unknown columns when the schema is not dynamic. */
static vs_status check_columns(normalizer *z) {
  for (size_t c = 0; c < z->in->col_count; c++) {
    const vs_column *col = &z->in->cols[c];
    if (col->n != z->n) {
      return vs_fail(VS_ERR_DATA, "field '%s' has %zu rows, the batch has %zu",
                     col->name, col->n, z->n);
    }
    z->used[c] = vs_schema_find(z->schema, col->name) != NULL;
    if (z->used[c] || z->schema->dynamic) continue;
    if (strcmp(col->name, VS_META_FIELD) == 0) {
      return vs_fail(VS_ERR_DATA, "field '$meta' was given but the collection has no dynamic field");
    }
    return vs_fail(VS_ERR_DATA, "row %zu: field '%s' is not in the schema and the collection "
                   "has no dynamic field", first_present_row(col), col->name);
  }
  return VS_OK;
}

static vs_status duplicate_error(const char *name, const vs_colview *pk, size_t first,
                                 size_t second) {
  if (pk->type == VS_TYPE_INT64) {
    int64_t v;
    memcpy(&v, pk->fixed + second * 8, 8);
    return vs_fail(VS_ERR_DATA, "field '%s' row %zu: duplicate primary key %lld (also at row %zu)",
                   name, second, (long long)v, first);
  }
  int len = (int)VS_MIN(pk->offsets[second + 1] - pk->offsets[second], 64);
  return vs_fail(VS_ERR_DATA, "field '%s' row %zu: duplicate primary key '%.*s' (also at row %zu)",
                 name, second, len, len ? pk->bytes + pk->offsets[second] : "", first);
}

static vs_status check_duplicate_keys(const vs_column *pk_col) {
  vs_colview pk;
  vs_column_view(pk_col, &pk);
  size_t cap = 16;
  while (cap < 2 * pk.n) cap *= 2;
  uint32_t *slots = vs_calloc(cap, sizeof *slots); /* row + 1; 0 = empty */
  if (!slots) return vs_fail(VS_ERR_NOMEM, "out of memory checking primary keys");
  vs_status st = VS_OK;
  for (size_t r = 0; r < pk.n && st == VS_OK; r++) {
    size_t i = vs_pk_hash(&pk, r) & (cap - 1);
    while (slots[i] && !vs_pk_equal(&pk, slots[i] - 1, &pk, r)) i = (i + 1) & (cap - 1);
    if (slots[i]) st = duplicate_error(pk_col->name, &pk, slots[i] - 1, r);
    slots[i] = (uint32_t)(r + 1);
  }
  free(slots);
  return st;
}

static vs_status normalize_all(normalizer *z, vs_rows *out) {
  vs_status st = VS_OK;
  for (size_t i = 0; st == VS_OK && i < z->schema->field_count; i++) {
    const vs_field *f = &z->schema->fields[i];
    vs_column col;
    st = vs_col_init(&col, f->name, f->type, f->element_type, f->dim);
    if (st != VS_OK) break;
    st = normalize_field(z, f, &col);
    if (st == VS_OK) st = vs_rows_adopt(out, &col);
    vs_col_clear(&col);
  }
  if (st == VS_OK && z->schema->dynamic) {
    vs_column col;
    st = vs_col_init(&col, VS_META_FIELD, VS_TYPE_JSON, VS_TYPE_NONE, 0);
    if (st == VS_OK) st = build_meta(z, &col);
    if (st == VS_OK) st = vs_rows_adopt(out, &col);
    vs_col_clear(&col);
  }
  int pk = vs_schema_pk_index(z->schema);
  const vs_field *pkf = pk >= 0 ? &z->schema->fields[pk] : NULL;
  if (st == VS_OK && pkf && !(pkf->auto_id && z->kind == VS_WRITE_INSERT)) {
    st = check_duplicate_keys(&out->cols[pk]);
  }
  return st;
}

vs_status vs_batch_normalize(const vs_schema *schema, const vs_rows *in,
                             vs_write_kind kind, size_t max_rows,
                             vs_rows **out) {
  if (!out) return vs_fail(VS_ERR_INVALID, "vs_batch_normalize: out is NULL");
  *out = NULL;
  if (!schema || !in) return vs_fail(VS_ERR_INVALID, "schema and rows must not be NULL");
  size_t limit = max_rows ? VS_MIN(max_rows, VS_MAX_ROWS) : VS_MAX_ROWS;
  if (in->n > limit) {
    return vs_fail(VS_ERR_LIMIT, "batch has %zu rows, the limit is %zu", in->n, limit);
  }
  normalizer z = {.schema = schema, .in = in, .kind = kind, .n = in->n};
  vs_rows *batch = NULL;
  z.used = vs_calloc(in->col_count, sizeof *z.used);
  vs_status st = z.used ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory normalizing a batch");
  if (st == VS_OK) st = check_columns(&z);
  if (st == VS_OK) st = vs_rows_alloc(in->n, &batch);
  if (st == VS_OK) st = normalize_all(&z, batch);
  free(z.used);
  vs_buf_free(&z.scratch);
  if (st != VS_OK) {
    vs_rows_free(batch);
    return st;
  }
  *out = batch;
  return VS_OK;
}

void vs_batch_set_auto_ids(vs_rows *batch, const vs_schema *schema,
                           int64_t first) {
  int pk = vs_schema_pk_index(schema);
  if (pk < 0 || (size_t)pk >= batch->col_count) return;
  vs_column *col = &batch->cols[pk];
  if (col->type != VS_TYPE_INT64) return;
  for (size_t r = 0; r < col->n; r++) {
    int64_t id = (int64_t)((uint64_t)first + r);
    memcpy(col->fixed.data + r * 8, &id, 8);
  }
}

/* ------------------------------------------------------------ primary keys */

uint64_t vs_pk_hash(const vs_colview *pk, size_t row) {
  if (vs_type_is_var(pk->type)) {
    uint64_t start = pk->offsets[row];
    size_t len = (size_t)(pk->offsets[row + 1] - start);
    return len ? vs_hash64(pk->bytes + start, len) : vs_hash64("", 0);
  }
  size_t width = vs_type_fixed_width(pk->type, pk->dim);
  return vs_hash64(pk->fixed + row * width, width);
}

bool vs_pk_equal(const vs_colview *x, size_t a, const vs_colview *y,
                 size_t b) {
  if (x->type != y->type || x->dim != y->dim) return false;
  if (!vs_type_is_var(x->type)) {
    size_t width = vs_type_fixed_width(x->type, x->dim);
    return memcmp(x->fixed + a * width, y->fixed + b * width, width) == 0;
  }
  uint64_t la = x->offsets[a + 1] - x->offsets[a];
  uint64_t lb = y->offsets[b + 1] - y->offsets[b];
  if (la != lb) return false;
  return la == 0 || memcmp(x->bytes + x->offsets[a], y->bytes + y->offsets[b], (size_t)la) == 0;
}
