/*
 * rows_access.c -- the public vs_rows API: construction-time setters and
 * the typed accessors.  Storage and appends are in rows.c.
 *
 * Setters copy what they are given into a fresh column and then install
 * it: a column of the same name is replaced in place (its position in the
 * batch is kept), otherwise the column is appended.  If anything fails the
 * batch is unchanged.  A setter does not know the schema yet, so it only
 * checks what it can see (names, dimensions, pointers); vs_batch_normalize
 * does the type and range checks when the batch is inserted.
 *
 * Accessors check, in this order: the column exists (VS_ERR_FIELD_NOT_FOUND),
 * the row is in range, the column has a compatible type, and the row is not
 * null (all VS_ERR_INVALID, with a message naming the field and row).  A
 * caller who expects nulls asks vs_rows_is_null first.  Pointers returned
 * borrow from the batch.
 *
 * Locking: none (a vs_rows is used by one thread at a time).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/rows_internal.h"

/* --------------------------------------------------------------- setters */

static vs_status check_setter(const vs_rows *rows, const char *field,
                              const void *values) {
  if (!rows) return vs_fail(VS_ERR_INVALID, "rows is NULL");
  if (!field || !field[0]) return vs_fail(VS_ERR_INVALID, "a column needs a non-empty name");
  if (strlen(field) > VS_MAX_COLUMN_NAME) {
    return vs_fail(VS_ERR_INVALID, "column name '%.64s...' is longer than %u bytes",
                   field, VS_MAX_COLUMN_NAME);
  }
  if (!values && rows->n > 0) {
    return vs_fail(VS_ERR_INVALID, "field '%s': values is NULL", field);
  }
  return VS_OK;
}

/* Moves *col into rows, replacing a column of the same name. */
static vs_status install_column(vs_rows *rows, vs_column *col) {
  vs_column *old = vs_rows_find(rows, col->name);
  if (old) {
    vs_col_clear(old);
    *old = *col;
    memset(col, 0, sizeof *col);
    return VS_OK;
  }
  vs_status st = vs_rows_adopt(rows, col);
  if (st != VS_OK) vs_col_clear(col);
  return st;
}

static vs_status set_fixed(vs_rows *rows, const char *field, vs_type type,
                           uint32_t dim, const void *values,
                           const uint8_t *valid) {
  vs_status st = check_setter(rows, field, values);
  if (st != VS_OK) return st;
  vs_column col;
  st = vs_col_init(&col, field, type, VS_TYPE_NONE, dim);
  if (st != VS_OK) return st;
  size_t width = vs_type_fixed_width(type, dim);
  const uint8_t *p = values;
  st = vs_col_reserve(&col, rows->n, 0);
  if (st == VS_OK && !valid) st = vs_col_push_fixed_many(&col, p, rows->n);
  for (size_t r = 0; st == VS_OK && valid && r < rows->n; r++) {
    st = valid[r] ? vs_col_push_fixed(&col, p + r * width) : vs_col_push_null(&col);
  }
  if (st != VS_OK) {
    vs_col_clear(&col);
    return st;
  }
  return install_column(rows, &col);
}

vs_status vs_rows_set_bool(vs_rows *rows, const char *field,
                           const uint8_t *values, const uint8_t *valid) {
  vs_status st = set_fixed(rows, field, VS_TYPE_BOOL, 0, values, valid);
  if (st != VS_OK) return st;
  vs_column *col = vs_rows_find(rows, field);
  for (size_t r = 0; r < col->n; r++) {
    col->fixed.data[r] = col->fixed.data[r] != 0;
  }
  return VS_OK;
}

vs_status vs_rows_set_int64(vs_rows *rows, const char *field,
                            const int64_t *values, const uint8_t *valid) {
  return set_fixed(rows, field, VS_TYPE_INT64, 0, values, valid);
}

vs_status vs_rows_set_double(vs_rows *rows, const char *field,
                             const double *values, const uint8_t *valid) {
  return set_fixed(rows, field, VS_TYPE_DOUBLE, 0, values, valid);
}

vs_status vs_rows_set_float(vs_rows *rows, const char *field,
                            const float *values, const uint8_t *valid) {
  return set_fixed(rows, field, VS_TYPE_FLOAT, 0, values, valid);
}

vs_status vs_rows_set_float_vectors(vs_rows *rows, const char *field,
                                    const float *values, uint32_t dim) {
  if (dim == 0 || dim > VS_MAX_DIM) {
    return vs_fail(VS_ERR_INVALID, "field '%s': dim %u is out of range 1..%u",
                   field ? field : "(null)", dim, VS_MAX_DIM);
  }
  return set_fixed(rows, field, VS_TYPE_FLOAT_VECTOR, dim, values, NULL);
}

static vs_status set_texts(vs_rows *rows, const char *field, vs_type type,
                           const char *const *values) {
  vs_status st = check_setter(rows, field, values);
  if (st != VS_OK) return st;
  vs_column col;
  st = vs_col_init(&col, field, type, VS_TYPE_NONE, 0);
  if (st == VS_OK) st = vs_col_reserve(&col, rows->n, 0);
  for (size_t r = 0; st == VS_OK && r < rows->n; r++) {
    if (values[r]) {
      st = vs_col_push_var(&col, values[r], strlen(values[r]));
    } else {
      st = vs_col_push_null(&col);
    }
  }
  if (st != VS_OK) {
    vs_col_clear(&col);
    return st;
  }
  return install_column(rows, &col);
}

vs_status vs_rows_set_strings(vs_rows *rows, const char *field,
                              const char *const *values) {
  return set_texts(rows, field, VS_TYPE_VARCHAR, values);
}

vs_status vs_rows_set_json(vs_rows *rows, const char *field,
                           const char *const *json_texts) {
  return set_texts(rows, field, VS_TYPE_JSON, json_texts);
}

/* ------------------------------------------------------------- inspection */

size_t vs_rows_count(const vs_rows *rows) { return rows ? rows->n : 0; }

size_t vs_rows_column_count(const vs_rows *rows) {
  return rows ? rows->col_count : 0;
}

const char *vs_rows_column_name(const vs_rows *rows, size_t column) {
  if (!rows || column >= rows->col_count) return NULL;
  return rows->cols[column].name;
}

vs_type vs_rows_column_type(const vs_rows *rows, size_t column) {
  if (!rows || column >= rows->col_count) return VS_TYPE_NONE;
  return rows->cols[column].type;
}

/* -------------------------------------------------------------- accessors */

typedef bool (*type_ok_fn)(vs_type type);

static bool is_bool(vs_type t) { return t == VS_TYPE_BOOL; }
static bool is_text(vs_type t) { return vs_type_is_var(t); }
static bool is_vector(vs_type t) { return t == VS_TYPE_FLOAT_VECTOR; }

/* Finds the cell (field,row) and checks its type and that it is present. */
static vs_status lookup(const vs_rows *rows, const char *field, size_t row,
                        type_ok_fn type_ok, const char *wanted,
                        const vs_column **out) {
  *out = NULL;
  if (!rows || !field) return vs_fail(VS_ERR_INVALID, "rows and field must not be NULL");
  const vs_column *col = vs_rows_find(rows, field);
  if (!col) return vs_fail(VS_ERR_FIELD_NOT_FOUND, "the batch has no field '%s'", field);
  if (row >= rows->n || row >= col->n) {
    return vs_fail(VS_ERR_INVALID, "field '%s' row %zu is out of range (the batch has %zu rows)",
                   field, row, col->n < rows->n ? col->n : rows->n);
  }
  if (!type_ok(col->type)) {
    return vs_fail(VS_ERR_INVALID, "field '%s' is %s, not %s", field,
                   vs_type_label(col->type), wanted);
  }
  if (vs_col_is_null(col, row)) {
    return vs_fail(VS_ERR_INVALID, "field '%s' row %zu is null", field, row);
  }
  *out = col;
  return VS_OK;
}

int vs_rows_is_null(const vs_rows *rows, const char *field, size_t row) {
  const vs_column *col = vs_rows_find(rows, field);
  if (!col || row >= rows->n || row >= col->n) return 1;
  return vs_col_is_null(col, row) ? 1 : 0;
}

vs_status vs_rows_get_bool(const vs_rows *rows, const char *field, size_t row,
                           int *out) {
  const vs_column *col;
  vs_status st = lookup(rows, field, row, is_bool, "Bool", &col);
  if (out) *out = st == VS_OK ? col->fixed.data[row] != 0 : 0;
  return st;
}

vs_status vs_rows_get_int64(const vs_rows *rows, const char *field, size_t row,
                            int64_t *out) {
  const vs_column *col;
  vs_status st = lookup(rows, field, row, vs_type_is_int, "an integer type", &col);
  if (out) *out = st == VS_OK ? vs_col_int(col, row) : 0;
  return st;
}

vs_status vs_rows_get_double(const vs_rows *rows, const char *field,
                             size_t row, double *out) {
  const vs_column *col;
  vs_status st = lookup(rows, field, row, vs_type_is_real, "Float or Double", &col);
  if (out) *out = st == VS_OK ? vs_col_real(col, row) : 0.0;
  return st;
}

vs_status vs_rows_get_string(const vs_rows *rows, const char *field,
                             size_t row, const char **out, size_t *len) {
  const vs_column *col;
  vs_status st = lookup(rows, field, row, is_text, "VarChar, JSON or Array", &col);
  const char *p = NULL;
  size_t n = 0;
  if (st == VS_OK) {
    p = vs_col_var(col, row, &n);
  }
  if (out) *out = p;
  if (len) *len = n;
  return st;
}

vs_status vs_rows_get_float_vector(const vs_rows *rows, const char *field,
                                   size_t row, const float **out,
                                   uint32_t *dim) {
  const vs_column *col;
  vs_status st = lookup(rows, field, row, is_vector, "FloatVector", &col);
  const float *p = NULL;
  if (st == VS_OK) {
    p = (const float *)(col->fixed.data + row * vs_type_fixed_width(col->type, col->dim));
  }
  if (out) *out = p;
  if (dim) *dim = st == VS_OK ? col->dim : 0;
  return st;
}
