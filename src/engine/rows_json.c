/*
 * rows_json.c -- rows to and from JSON: vs_rows_from_json turns the `data`
 * array of a Milvus insert/upsert request into a vs_rows typed by the
 * schema; vs_rows_row_to_json renders one row for query/get/search output.
 *
 * Input typing (Milvus REST v2 section 3.1), per schema field:
 *
 *   field type      JSON accepted                    column built
 *   Bool            true / false                     Bool
 *   Int8..Int64     integer, or a decimal string     Int64 (range-checked
 *                   ("9007199254740993")             later by normalize)
 *   Float, Double   number                           Double
 *   VarChar         string                           VarChar
 *   JSON            any value; a string whose text   JSON (canonical text)
 *                   parses as JSON is that document
 *   Array           array                            Array (canonical text;
 *                                                    elements checked later)
 *   FloatVector     array of exactly dim numbers     FloatVector
 *   any             null                             a null row
 *
 * A key missing from a row is a null row, except that a field that must be
 * present (not nullable, no default, not an autoID key) gives "row N is
 * missing field 'x'".  Keys that are not fields go, per row, into a "$meta"
 * object column when the schema is dynamic and are an error otherwise; the
 * key "$meta" itself is rejected (as Milvus does).  Building "$meta" here,
 * rather than one column per unknown key, keeps memory proportional to the
 * input when every row invents new keys.
 *
 * Bounds: the document nests at most VS_JSON_MAX_DEPTH (64) levels (checked
 * before jansson builds anything) and holds at most 2^24 rows.  The caller
 * bounds the body size.  Malformed JSON is VS_ERR_DATA with jansson's line,
 * column and position.
 *
 * Output: scalars as JSON scalars (Int64 as numbers; the server turns them
 * into strings when the client asks), Float/Double and vector components in
 * their shortest round-tripping form, JSON and Array fields as the values
 * themselves (Milvus 3.x shape), null as null, and the keys of "$meta"
 * spread at the top level (a key that is also a column name is skipped).
 *
 * Locking: none.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/rows_internal.h"

/* ------------------------------------------------------------ from JSON */

static vs_type column_type_for(vs_type field) {
  if (vs_type_is_int(field)) return VS_TYPE_INT64;
  if (vs_type_is_real(field)) return VS_TYPE_DOUBLE;
  return field;
}

static bool field_required(const vs_field *f) {
  return !f->nullable && !f->default_json && !(f->is_primary && f->auto_id);
}

static vs_status push_int(vs_column *col, const vs_field *f, size_t row, const json_t *v) {
  int64_t x;
  if (json_is_integer(v)) {
    x = json_integer_value(v);
  } else if (json_is_string(v) && vs_parse_int64(json_string_value(v), &x)) {
    /* Milvus accepts Int64 values as decimal strings. */
  } else {
    return vs_fail(VS_ERR_DATA, "row %zu key '%s': expected an integer", row, f->name);
  }
  return vs_col_push_fixed(col, &x);
}

static vs_status push_vector(vs_column *col, const vs_field *f, size_t row,
                             const json_t *v, float *tmp) {
  if (!json_is_array(v)) {
    return vs_fail(VS_ERR_DATA, "row %zu key '%s': expected an array of %u numbers",
                   row, f->name, f->dim);
  }
  if (json_array_size(v) != f->dim) {
    return vs_fail(VS_ERR_DATA, "field '%s' expects %u floats, row %zu has %zu",
                   f->name, f->dim, row, json_array_size(v));
  }
  for (size_t j = 0; j < f->dim; j++) {
    const json_t *e = json_array_get(v, j);
    if (!json_is_number(e)) {
      return vs_fail(VS_ERR_DATA, "row %zu key '%s' element %zu: not a number", row, f->name, j);
    }
    double x = json_number_value(e);
    if (!vs_fits_float(x)) {
      return vs_fail(VS_ERR_DATA, "row %zu key '%s' element %zu: %g is out of float range",
                     row, f->name, j, x);
    }
    tmp[j] = (float)x;
  }
  return vs_col_push_fixed(col, tmp);
}

/* Pushes the canonical text of a JSON field value (a string that parses
 * as JSON stands for that document). */
static vs_status push_json_text(vs_column *col, const json_t *v, vs_buf *scratch) {
  json_t *doc = NULL;
  if (json_is_string(v)) {
    char err[8];
    doc = vs_json_parse(json_string_value(v), json_string_length(v), err, sizeof err);
  }
  scratch->len = 0;
  vs_status st = vs_json_write(scratch, doc ? doc : v);
  json_decref(doc);
  if (st == VS_OK) st = vs_col_push_var(col, scratch->data, scratch->len);
  return st;
}

static vs_status push_value(vs_column *col, const vs_field *f, size_t row,
                            const json_t *v, float *tmp, vs_buf *scratch) {
  const char *expected = NULL;
  switch (f->type) {
    case VS_TYPE_BOOL: {
      uint8_t b = json_is_true(v);
      if (json_is_boolean(v)) return vs_col_push_fixed(col, &b);
      expected = "true or false";
      break;
    }
    case VS_TYPE_FLOAT: case VS_TYPE_DOUBLE: {
      double d = json_number_value(v);
      if (json_is_number(v)) return vs_col_push_fixed(col, &d);
      expected = "a number";
      break;
    }
    case VS_TYPE_VARCHAR:
      if (json_is_string(v)) return vs_col_push_var(col, json_string_value(v), json_string_length(v));
      expected = "a string";
      break;
    case VS_TYPE_JSON:
      return push_json_text(col, v, scratch);
    case VS_TYPE_ARRAY:
      if (json_is_array(v)) return push_json_text(col, v, scratch);
      expected = "an array";
      break;
    case VS_TYPE_FLOAT_VECTOR:
      return push_vector(col, f, row, v, tmp);
    default:
      return push_int(col, f, row, v);
  }
  return vs_fail(VS_ERR_DATA, "row %zu key '%s': expected %s", row, f->name, expected);
}

static bool any_row_has(const json_t *doc, const char *key) {
  size_t r;
  json_t *row;
  json_array_foreach(doc, r, row) {
    if (json_object_get(row, key)) return true;
  }
  return false;
}

static vs_status fill_field_column(const json_t *doc, const vs_field *f, vs_column *col,
                                   float *tmp, vs_buf *scratch) {
  size_t r;
  json_t *row;
  vs_status st = vs_col_reserve(col, json_array_size(doc), 0);
  json_array_foreach(doc, r, row) {
    if (st != VS_OK) break;
    json_t *v = json_object_get(row, f->name);
    if (!v && field_required(f)) return vs_fail(VS_ERR_DATA, "row %zu is missing field '%s'", r, f->name);
    if (!v || json_is_null(v)) {
      st = vs_col_push_null(col);
    } else {
      st = push_value(col, f, r, v, tmp, scratch);
    }
  }
  return st;
}

static vs_status build_field_column(const json_t *doc, const vs_field *f, vs_rows *rows,
                                    vs_buf *scratch) {
  if (!any_row_has(doc, f->name)) {
    if (json_array_size(doc) > 0 && field_required(f)) {
      return vs_fail(VS_ERR_DATA, "row 0 is missing field '%s'", f->name);
    }
    return VS_OK;
  }
  float *tmp = NULL;
  if (f->type == VS_TYPE_FLOAT_VECTOR) {
    tmp = vs_calloc(f->dim, sizeof *tmp);
    if (!tmp) return vs_fail(VS_ERR_NOMEM, "out of memory reading field '%s'", f->name);
  }
  vs_column col;
  vs_status st = vs_col_init(&col, f->name, column_type_for(f->type), f->element_type, f->dim);
  if (st == VS_OK) st = fill_field_column(doc, f, &col, tmp, scratch);
  if (st == VS_OK) st = vs_rows_adopt(rows, &col);
  vs_col_clear(&col);
  free(tmp);
  return st;
}

/* Checks the keys that are not fields; *any = some row has one. */
static vs_status check_dynamic_keys(const json_t *doc, const vs_schema *schema, bool *any) {
  size_t r;
  json_t *row;
  *any = false;
  json_array_foreach(doc, r, row) {
    const char *key;
    json_t *v;
    json_object_foreach(row, key, v) {
      if (vs_schema_find(schema, key)) continue;
      if (strcmp(key, VS_META_FIELD) == 0) {
        return vs_fail(VS_ERR_DATA, "row %zu: the key '$meta' is reserved", r);
      }
      if (!schema->dynamic) {
        return vs_fail(VS_ERR_DATA, "row %zu: field '%s' is not in the schema and the "
                       "collection has no dynamic field", r, key);
      }
      *any = true;
    }
  }
  return VS_OK;
}

static vs_status meta_text(const json_t *row, const vs_schema *schema, vs_buf *scratch) {
  json_t *obj = json_object();
  if (!obj) return vs_fail(VS_ERR_NOMEM, "out of memory building $meta");
  const char *key;
  json_t *v;
  int rc = 0;
  json_object_foreach((json_t *)row, key, v) {
    if (!vs_schema_find(schema, key)) rc |= json_object_set(obj, key, v);
  }
  scratch->len = 0;
  vs_status st = rc == 0 ? vs_json_write(scratch, obj)
                         : vs_fail(VS_ERR_NOMEM, "out of memory building $meta");
  json_decref(obj);
  return st;
}

static vs_status build_meta_column(const json_t *doc, const vs_schema *schema, vs_rows *rows,
                                   vs_buf *scratch) {
  bool any;
  vs_status st = check_dynamic_keys(doc, schema, &any);
  if (st != VS_OK || !any) return st;
  vs_column col;
  st = vs_col_init(&col, VS_META_FIELD, VS_TYPE_JSON, VS_TYPE_NONE, 0);
  size_t r;
  json_t *row;
  json_array_foreach(doc, r, row) {
    if (st == VS_OK) st = meta_text(row, schema, scratch);
    if (st == VS_OK) st = vs_col_push_var(&col, scratch->data, scratch->len);
  }
  if (st == VS_OK) st = vs_rows_adopt(rows, &col);
  vs_col_clear(&col);
  return st;
}

static vs_status check_document(const json_t *doc) {
  if (!json_is_array(doc)) return vs_fail(VS_ERR_DATA, "rows JSON: expected an array of row objects");
  if (json_array_size(doc) > VS_MAX_ROWS) {
    return vs_fail(VS_ERR_LIMIT, "rows JSON: %zu rows, the limit is %zu",
                   json_array_size(doc), VS_MAX_ROWS);
  }
  size_t r;
  json_t *row;
  json_array_foreach(doc, r, row) {
    if (!json_is_object(row)) return vs_fail(VS_ERR_DATA, "row %zu is not a JSON object", r);
  }
  return VS_OK;
}

vs_status vs_rows_from_json(const vs_schema *schema, const char *json,
                            vs_rows **out) {
  if (!out) return vs_fail(VS_ERR_INVALID, "vs_rows_from_json: out is NULL");
  *out = NULL;
  if (!schema || !json) return vs_fail(VS_ERR_INVALID, "schema and json must not be NULL");
  char err[256];
  json_t *doc = vs_json_parse(json, strlen(json), err, sizeof err);
  if (!doc) return vs_fail(VS_ERR_DATA, "rows JSON: %s", err);
  vs_rows *rows = NULL;
  vs_buf scratch = {0};
  vs_status st = check_document(doc);
  if (st == VS_OK) st = vs_rows_alloc(json_array_size(doc), &rows);
  for (size_t i = 0; st == VS_OK && i < schema->field_count; i++) {
    st = build_field_column(doc, &schema->fields[i], rows, &scratch);
  }
  if (st == VS_OK) st = build_meta_column(doc, schema, rows, &scratch);
  json_decref(doc);
  vs_buf_free(&scratch);
  if (st != VS_OK) {
    vs_rows_free(rows);
    return st;
  }
  *out = rows;
  return VS_OK;
}

/* -------------------------------------------------------------- to JSON */

static vs_status write_parsed(vs_buf *b, const vs_column *c, size_t row) {
  char err[200];
  size_t len;
  const char *p = vs_col_var(c, row, &len);
  json_t *v = vs_json_parse(p, len, err, sizeof err);
  if (!v) return vs_fail(VS_ERR_DATA, "%s", err);
  vs_status st = vs_json_write(b, v);
  json_decref(v);
  return st;
}

static vs_status write_vector(vs_buf *b, const vs_column *c, size_t row) {
  const float *v = (const float *)(c->fixed.data + row * (size_t)c->dim * sizeof(float));
  vs_status st = vs_buf_append_u8(b, '[');
  for (uint32_t j = 0; st == VS_OK && j < c->dim; j++) {
    if (j > 0) st = vs_buf_append_u8(b, ',');
    if (st == VS_OK) st = vs_json_write_float(b, v[j]);
  }
  if (st == VS_OK) st = vs_buf_append_u8(b, ']');
  return st;
}

static vs_status write_cell(vs_buf *b, const vs_column *c, size_t row) {
  size_t len;
  if (vs_col_is_null(c, row)) return vs_buf_append(b, "null", 4);
  switch (c->type) {
    case VS_TYPE_BOOL:
      return c->fixed.data[row] ? vs_buf_append(b, "true", 4) : vs_buf_append(b, "false", 5);
    case VS_TYPE_FLOAT:
      return vs_json_write_float(b, (float)vs_col_real(c, row));
    case VS_TYPE_DOUBLE:
      return vs_json_write_double(b, vs_col_real(c, row));
    case VS_TYPE_VARCHAR: {
      const char *p = vs_col_var(c, row, &len);
      return vs_json_write_string(b, p, len);
    }
    case VS_TYPE_JSON: case VS_TYPE_ARRAY:
      return write_parsed(b, c, row);
    case VS_TYPE_FLOAT_VECTOR:
      return write_vector(b, c, row);
    default:
      return vs_buf_printf(b, "%lld", (long long)vs_col_int(c, row));
  }
}

/* Spreads the keys of a "$meta" object, skipping names of real columns. */
static vs_status write_meta(vs_buf *b, const vs_rows *rows, const vs_column *meta,
                            size_t row, bool first) {
  if (vs_col_is_null(meta, row)) return VS_OK;
  char err[200];
  size_t len;
  const char *p = vs_col_var(meta, row, &len);
  json_t *obj = vs_json_parse(p, len, err, sizeof err);
  if (!obj || !json_is_object(obj)) {
    json_decref(obj);
    return vs_fail(VS_ERR_DATA, "field '$meta' row %zu is not a JSON object", row);
  }
  vs_status st = VS_OK;
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    if (st != VS_OK || vs_rows_find(rows, key)) continue;
    if (!first) st = vs_buf_append_u8(b, ',');
    first = false;
    if (st == VS_OK) st = vs_json_write_string(b, key, strlen(key));
    if (st == VS_OK) st = vs_buf_append_u8(b, ':');
    if (st == VS_OK) st = vs_json_write(b, v);
  }
  json_decref(obj);
  return st;
}

static vs_status write_row(vs_buf *b, const vs_rows *rows, size_t row) {
  const vs_column *meta = NULL;
  bool first = true;
  vs_status st = vs_buf_append_u8(b, '{');
  for (size_t i = 0; st == VS_OK && i < rows->col_count; i++) {
    const vs_column *c = &rows->cols[i];
    if (strcmp(c->name, VS_META_FIELD) == 0 && c->type == VS_TYPE_JSON) {
      meta = c;
      continue;
    }
    if (row >= c->n) return vs_fail(VS_ERR_INVALID, "field '%s' has no row %zu", c->name, row);
    if (!first) st = vs_buf_append_u8(b, ',');
    first = false;
    if (st == VS_OK) st = vs_json_write_string(b, c->name, strlen(c->name));
    if (st == VS_OK) st = vs_buf_append_u8(b, ':');
    if (st == VS_OK) st = write_cell(b, c, row);
    if (st != VS_OK) return vs_fail_prefix(st, "field '%s' row %zu", c->name, row);
  }
  if (st == VS_OK && meta && row < meta->n) st = write_meta(b, rows, meta, row, first);
  if (st == VS_OK) st = vs_buf_append_u8(b, '}');
  return st;
}

vs_status vs_rows_row_to_json(const vs_rows *rows, size_t row, char **out) {
  if (!out) return vs_fail(VS_ERR_INVALID, "vs_rows_row_to_json: out is NULL");
  *out = NULL;
  if (!rows) return vs_fail(VS_ERR_INVALID, "rows is NULL");
  if (row >= rows->n) {
    return vs_fail(VS_ERR_INVALID, "row %zu is out of range (the batch has %zu rows)", row, rows->n);
  }
  vs_buf b = {0};
  vs_status st = write_row(&b, rows, row);
  if (st != VS_OK) {
    vs_buf_free(&b);
    return st;
  }
  *out = (char *)b.data;
  return VS_OK;
}
