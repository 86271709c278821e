/*
 * rows.c -- vs_rows, the columnar row batch: column storage, appends and
 * views.  The public setters and accessors are in rows_access.c, JSON in
 * rows_json.c, the schema check in batch.c.
 *
 * Layout (see schema.h for the table): a column has a fixed part (n values
 * of vs_type_fixed_width bytes) or a var part (offsets[n+1] uint64 into a
 * byte payload), plus an optional validity array (one byte per row, 0 =
 * null).  `valid` is NULL while every row is present; the first null
 * appended materialises it (all ones for the rows before).
 *
 * Invariants, for every column c of a vs_rows built here:
 *   - fixed columns: c.fixed.len == c.n * width; null rows hold zeros;
 *   - var columns: c.offsets.len == (c.n + 1) * 8, offsets[0] == 0,
 *     offsets are non-decreasing and offsets[n] == c.bytes.len; a null row
 *     has an empty range; c.bytes is NUL-terminated after its length (as
 *     every vs_buf is once it holds data);
 *   - c.valid is NULL or holds c.n bytes that are 0 or 1 (cap valid_cap).
 * Columns of one batch built by a setter or by vs_batch_normalize have
 * c.n == rows->n.  Output batches built with vs_rows_add_column +
 * vs_column_append_from get rows->n set by their builder.
 *
 * Growth.  Appends double the buffers (vs_buf), so a growing segment pays
 * amortised O(1) per row.  vs_rows_append_batch reserves every buffer of
 * every column first and copies afterwards, so it either appends the whole
 * batch or (out of memory) changes nothing visible.
 *
 * Locking: none.  A vs_rows is a plain value; appends may move buffers, so
 * whoever shares one between threads (a growing segment) must hold its own
 * lock or hand readers views only of rows that are never reallocated.
 *
 * Alternative rejected: an array of row structs.  Columns let a vector
 * column be handed to the distance kernels as one contiguous block and let a
 * batch be encoded with a handful of memcpys.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/rows_internal.h"

bool vs_type_is_int(vs_type type) {
  return type == VS_TYPE_INT8 || type == VS_TYPE_INT16 ||
         type == VS_TYPE_INT32 || type == VS_TYPE_INT64;
}

bool vs_type_is_real(vs_type type) {
  return type == VS_TYPE_FLOAT || type == VS_TYPE_DOUBLE;
}

void vs_int_range(vs_type type, int64_t *min, int64_t *max) {
  switch (type) {
    case VS_TYPE_INT8:
      *min = INT8_MIN;
      *max = INT8_MAX;
      return;
    case VS_TYPE_INT16:
      *min = INT16_MIN;
      *max = INT16_MAX;
      return;
    case VS_TYPE_INT32:
      *min = INT32_MIN;
      *max = INT32_MAX;
      return;
    default:
      *min = INT64_MIN;
      *max = INT64_MAX;
      return;
  }
}

size_t vs_type_fixed_width(vs_type type, uint32_t dim) {
  switch (type) {
    case VS_TYPE_BOOL:
    case VS_TYPE_INT8:
      return 1;
    case VS_TYPE_INT16:
      return 2;
    case VS_TYPE_INT32:
    case VS_TYPE_FLOAT:
      return 4;
    case VS_TYPE_INT64:
    case VS_TYPE_DOUBLE:
      return 8;
    case VS_TYPE_FLOAT_VECTOR:
      return (size_t)dim * sizeof(float);
    default:
      return 0;
  }
}

bool vs_type_is_var(vs_type type) {
  return type == VS_TYPE_VARCHAR || type == VS_TYPE_JSON ||
         type == VS_TYPE_ARRAY;
}

int64_t vs_col_int(const vs_column *col, size_t row) {
  const uint8_t *p = col->fixed.data + row * vs_type_fixed_width(col->type, 0);
  switch (col->type) {
    case VS_TYPE_INT8: {
      int8_t v;
      memcpy(&v, p, 1);
      return v;
    }
    case VS_TYPE_INT16: {
      int16_t v;
      memcpy(&v, p, 2);
      return v;
    }
    case VS_TYPE_INT32: {
      int32_t v;
      memcpy(&v, p, 4);
      return v;
    }
    default: {
      int64_t v;
      memcpy(&v, p, 8);
      return v;
    }
  }
}

double vs_col_real(const vs_column *col, size_t row) {
  if (col->type == VS_TYPE_FLOAT) {
    float v;
    memcpy(&v, col->fixed.data + row * 4, 4);
    return v;
  }
  double v;
  memcpy(&v, col->fixed.data + row * 8, 8);
  return v;
}

void vs_store_int(void *dst, vs_type type, int64_t v) {
  int8_t v8 = (int8_t)v;
  int16_t v16 = (int16_t)v;
  int32_t v32 = (int32_t)v;
  switch (type) {
    case VS_TYPE_INT8:
      memcpy(dst, &v8, 1);
      return;
    case VS_TYPE_INT16:
      memcpy(dst, &v16, 2);
      return;
    case VS_TYPE_INT32:
      memcpy(dst, &v32, 4);
      return;
    default:
      memcpy(dst, &v, 8);
      return;
  }
}

/* ---------------------------------------------------------------- columns */

vs_status vs_col_init(vs_column *col, const char *name, vs_type type,
                      vs_type element_type, uint32_t dim) {
  memset(col, 0, sizeof *col);
  col->name = vs_strdup(name);
  if (!col->name) return vs_fail(VS_ERR_NOMEM, "out of memory naming column '%s'", name);
  col->type = type;
  col->element_type = type == VS_TYPE_ARRAY ? element_type : VS_TYPE_NONE;
  col->dim = type == VS_TYPE_FLOAT_VECTOR ? dim : 0;
  if (vs_type_is_var(type)) {
    vs_status st = vs_buf_append_u64(&col->offsets, 0);
    if (st != VS_OK) {
      vs_col_clear(col);
      return st;
    }
  }
  return VS_OK;
}

void vs_col_clear(vs_column *col) {
  free(col->name);
  free(col->valid);
  vs_buf_free(&col->fixed);
  vs_buf_free(&col->offsets);
  vs_buf_free(&col->bytes);
  memset(col, 0, sizeof *col);
}

/* Makes valid hold at least `rows` bytes; a new array starts all present. */
static vs_status col_reserve_valid(vs_column *col, size_t rows) {
  if (col->valid && col->valid_cap >= rows) return VS_OK;
  size_t cap = col->valid_cap ? col->valid_cap : 64;
  while (cap < rows) cap = cap > SIZE_MAX / 2 ? rows : cap * 2;
  uint8_t *p = realloc(col->valid, cap ? cap : 1);
  if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory for the nulls of '%s'", col->name);
  if (!col->valid) memset(p, 1, col->n);
  col->valid = p;
  col->valid_cap = cap;
  return VS_OK;
}

vs_status vs_col_reserve(vs_column *col, size_t rows, size_t var_bytes) {
  size_t bytes;
  if (vs_type_is_var(col->type)) {
    if (!vs_mul_ok(rows, 8, &bytes)) return vs_fail(VS_ERR_NOMEM, "column '%s' is too large", col->name);
    vs_status st = vs_buf_reserve(&col->offsets, bytes);
    if (st != VS_OK) return st;
    return vs_buf_reserve(&col->bytes, var_bytes);
  }
  if (!vs_mul_ok(rows, vs_type_fixed_width(col->type, col->dim), &bytes)) {
    return vs_fail(VS_ERR_NOMEM, "column '%s' is too large", col->name);
  }
  return vs_buf_reserve(&col->fixed, bytes);
}

/* Marks the row about to be appended present (only when valid exists). */
static vs_status col_mark(vs_column *col, bool present) {
  if (!col->valid && present) return VS_OK;
  vs_status st = col_reserve_valid(col, col->n + 1);
  if (st != VS_OK) return st;
  col->valid[col->n] = present ? 1 : 0;
  return VS_OK;
}

vs_status vs_col_push_fixed(vs_column *col, const void *value) {
  return vs_col_push_fixed_many(col, value, 1);
}

vs_status vs_col_push_fixed_many(vs_column *col, const void *values,
                                 size_t count) {
  size_t bytes;
  if (!vs_mul_ok(count, vs_type_fixed_width(col->type, col->dim), &bytes)) {
    return vs_fail(VS_ERR_NOMEM, "column '%s' is too large", col->name);
  }
  vs_status st = vs_buf_append(&col->fixed, values, bytes);
  if (st != VS_OK) return st;
  if (col->valid) {
    st = col_reserve_valid(col, col->n + count);
    if (st != VS_OK) {
      col->fixed.len -= bytes;
      return st;
    }
    memset(col->valid + col->n, 1, count);
  }
  col->n += count;
  return VS_OK;
}

vs_status vs_col_push_var(vs_column *col, const void *data, size_t len) {
  vs_status st = vs_buf_reserve(&col->offsets, 8);
  if (st == VS_OK) st = col_mark(col, true);
  if (st == VS_OK) st = vs_buf_append(&col->bytes, data, len);
  if (st != VS_OK) return st;
  vs_buf_append_u64(&col->offsets, col->bytes.len); /* reserved: cannot fail */
  col->n++;
  return VS_OK;
}

vs_status vs_col_push_null(vs_column *col) {
  vs_status st = col_mark(col, false);
  if (st != VS_OK) return st;
  if (vs_type_is_var(col->type)) {
    st = vs_buf_append_u64(&col->offsets, col->bytes.len);
  } else {
    size_t width = vs_type_fixed_width(col->type, col->dim);
    st = vs_buf_reserve(&col->fixed, width);
    if (st == VS_OK) {
      memset(col->fixed.data + col->fixed.len, 0, width);
      col->fixed.len += width;
    }
  }
  if (st != VS_OK) return st;
  col->n++;
  return VS_OK;
}

/* ------------------------------------------------------------------ rows */

vs_status vs_rows_alloc(size_t n, vs_rows **out) {
  *out = NULL;
  vs_rows *rows = calloc(1, sizeof *rows);
  if (!rows) return vs_fail(VS_ERR_NOMEM, "out of memory allocating a row batch");
  rows->n = n;
  *out = rows;
  return VS_OK;
}

vs_status vs_rows_new(size_t row_count, vs_rows **out) {
  if (!out) return vs_fail(VS_ERR_INVALID, "vs_rows_new: out is NULL");
  *out = NULL;
  if (row_count > VS_MAX_ROWS) {
    return vs_fail(VS_ERR_LIMIT, "a batch has at most %zu rows; %zu asked",
                   VS_MAX_ROWS, row_count);
  }
  return vs_rows_alloc(row_count, out);
}

void vs_rows_free(vs_rows *rows) {
  if (!rows) return;
  for (size_t i = 0; i < rows->col_count; i++) vs_col_clear(&rows->cols[i]);
  free(rows->cols);
  free(rows);
}

vs_status vs_rows_adopt(vs_rows *rows, vs_column *col) {
  if (rows->col_count == rows->col_cap) {
    size_t cap = rows->col_cap ? rows->col_cap * 2 : 16;
    vs_column *p = vs_reallocarray(rows->cols, cap, sizeof *p);
    if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory adding column '%s'", col->name);
    rows->cols = p;
    rows->col_cap = cap;
  }
  rows->cols[rows->col_count++] = *col;
  memset(col, 0, sizeof *col);
  return VS_OK;
}

vs_column *vs_rows_find(const vs_rows *rows, const char *name) {
  if (!rows || !name) return NULL;
  for (size_t i = 0; i < rows->col_count; i++) {
    if (strcmp(rows->cols[i].name, name) == 0) return &rows->cols[i];
  }
  return NULL;
}

static bool known_column_type(vs_type type) {
  return type == VS_TYPE_BOOL || vs_type_is_int(type) ||
         vs_type_is_real(type) || vs_type_is_var(type) ||
         type == VS_TYPE_FLOAT_VECTOR;
}

vs_status vs_rows_add_column(vs_rows *rows, const char *name, vs_type type,
                             vs_type element_type, uint32_t dim,
                             vs_column **out) {
  if (out) *out = NULL;
  if (!rows || !name || !name[0]) return vs_fail(VS_ERR_INVALID, "a column needs a name");
  if (!known_column_type(type)) {
    return vs_fail(VS_ERR_INVALID, "column '%s': unknown type %d", name, (int)type);
  }
  if (type == VS_TYPE_FLOAT_VECTOR && (dim == 0 || dim > VS_MAX_DIM)) {
    return vs_fail(VS_ERR_INVALID, "column '%s': dim %u is out of range 1..%u",
                   name, dim, VS_MAX_DIM);
  }
  if (vs_rows_find(rows, name)) {
    return vs_fail(VS_ERR_INVALID, "column '%s' already exists", name);
  }
  vs_column col;
  vs_status st = vs_col_init(&col, name, type, element_type, dim);
  if (st != VS_OK) return st;
  st = vs_rows_adopt(rows, &col);
  if (st != VS_OK) {
    vs_col_clear(&col);
    return st;
  }
  if (out) *out = &rows->cols[rows->col_count - 1];
  return VS_OK;
}

void vs_column_view(const vs_column *col, vs_colview *out) {
  out->type = col->type;
  out->dim = col->dim;
  out->n = col->n;
  out->valid = col->valid;
  out->fixed = col->fixed.data;
  out->offsets = vs_type_is_var(col->type) ? (const uint64_t *)col->offsets.data : NULL;
  out->bytes = (const char *)col->bytes.data;
}

vs_status vs_column_append_from(vs_column *dst, const vs_colview *src,
                                size_t row) {
  if (dst->type != src->type || dst->dim != src->dim) {
    return vs_fail(VS_ERR_INTERNAL, "column '%s': appending a %s/%u value to a %s/%u column",
                   dst->name, vs_type_label(src->type), src->dim,
                   vs_type_label(dst->type), dst->dim);
  }
  if (row >= src->n) {
    return vs_fail(VS_ERR_INTERNAL, "column '%s': row %zu of a %zu-row view",
                   dst->name, row, src->n);
  }
  if (src->valid && !src->valid[row]) return vs_col_push_null(dst);
  if (!vs_type_is_var(src->type)) {
    size_t width = vs_type_fixed_width(src->type, src->dim);
    return vs_col_push_fixed(dst, src->fixed + row * width);
  }
  uint64_t start = src->offsets[row];
  uint64_t end = src->offsets[row + 1];
  if (end < start) {
    return vs_fail(VS_ERR_CORRUPT, "column '%s': offsets decrease at row %zu",
                   dst->name, row);
  }
  if (end == start) return vs_col_push_var(dst, "", 0);
  return vs_col_push_var(dst, src->bytes + start, (size_t)(end - start));
}

/* ------------------------------------------------------- batch appending */

static bool same_layout(const vs_column *a, const vs_column *b) {
  return a->type == b->type && a->dim == b->dim &&
         strcmp(a->name, b->name) == 0;
}

/* Reserves everything `src` needs in `dst` so the copy cannot fail. */
static vs_status reserve_for(vs_column *dst, const vs_column *src) {
  vs_status st = vs_col_reserve(dst, src->n, src->bytes.len);
  if (st == VS_OK && (dst->valid || src->valid)) {
    size_t rows;
    if (!vs_add_ok(dst->n, src->n, &rows)) return vs_fail(VS_ERR_NOMEM, "column '%s' is too large", dst->name);
    st = col_reserve_valid(dst, rows);
  }
  return st;
}

static void copy_column(vs_column *dst, const vs_column *src) {
  if (dst->valid) {
    if (src->valid) memcpy(dst->valid + dst->n, src->valid, src->n);
    else memset(dst->valid + dst->n, 1, src->n);
  }
  if (!vs_type_is_var(src->type)) {
    vs_buf_append(&dst->fixed, src->fixed.data, src->fixed.len);
  } else {
    uint64_t base = dst->bytes.len;
    const uint64_t *off = (const uint64_t *)src->offsets.data;
    uint64_t *out = (uint64_t *)(dst->offsets.data + dst->offsets.len);
    for (size_t i = 1; i <= src->n; i++) out[i - 1] = base + off[i];
    dst->offsets.len += src->n * sizeof(uint64_t);
    vs_buf_append(&dst->bytes, src->bytes.data, src->bytes.len);
  }
  dst->n += src->n;
}

vs_status vs_rows_append_batch(vs_rows *dst, const vs_rows *src) {
  if (dst->col_count != src->col_count) {
    return vs_fail(VS_ERR_INTERNAL, "appending a %zu-column batch to %zu columns",
                   src->col_count, dst->col_count);
  }
  for (size_t c = 0; c < src->col_count; c++) {
    if (!same_layout(&dst->cols[c], &src->cols[c]) ||
        src->cols[c].n != src->n || dst->cols[c].n != dst->n) {
      return vs_fail(VS_ERR_INTERNAL, "appending a batch: column %zu ('%s') does not match",
                     c, src->cols[c].name);
    }
  }
  for (size_t c = 0; c < src->col_count; c++) {
    vs_status st = reserve_for(&dst->cols[c], &src->cols[c]);
    if (st != VS_OK) return st;
  }
  for (size_t c = 0; c < src->col_count; c++) copy_column(&dst->cols[c], &src->cols[c]);
  dst->n += src->n;
  return VS_OK;
}

vs_status vs_rows_new_for_schema(const vs_schema *schema, vs_rows **out) {
  vs_rows *rows = NULL;
  vs_status st = vs_rows_alloc(0, &rows);
  for (size_t i = 0; st == VS_OK && i < schema->field_count; i++) {
    const vs_field *f = &schema->fields[i];
    st = vs_rows_add_column(rows, f->name, f->type, f->element_type, f->dim, NULL);
  }
  if (st == VS_OK && schema->dynamic) {
    st = vs_rows_add_column(rows, VS_META_FIELD, VS_TYPE_JSON, VS_TYPE_NONE, 0, NULL);
  }
  if (st != VS_OK) {
    vs_rows_free(rows);
    rows = NULL;
  }
  *out = rows;
  return st;
}

size_t vs_rows_memory(const vs_rows *rows) {
  if (!rows) return 0;
  size_t total = rows->col_cap * sizeof(vs_column);
  for (size_t i = 0; i < rows->col_count; i++) {
    const vs_column *c = &rows->cols[i];
    total += c->fixed.cap + c->offsets.cap + c->bytes.cap + c->valid_cap;
  }
  return total;
}
