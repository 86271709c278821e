/*
 * batch_codec.c -- the binary form of a normalized batch (the payload of a
 * WAL insert/upsert record), and its hostile-input decoder.
 *
 * Layout, little-endian, no padding:
 *
 *   offset  size            field
 *   0       4               tag "VSB1" (0x31425356)
 *   4       8               n, rows (<= 2^24)
 *   12      4               c, columns (= vs_schema_column_count)
 *   then per column, in schema order ("$meta" last when dynamic):
 *           4               type (vs_type number)
 *           4               dim (FloatVector; else 0)
 *           1               has_valid (0 or 1; 1 only for nullable fields)
 *           n               valid bytes (0 = null, 1 = present), if has_valid
 *     fixed types:
 *           n * width       values (Bool 0/1, ints, IEEE floats, vectors)
 *     var types (VarChar, JSON, Array):
 *           (n+1) * 8       offsets, offsets[0] = 0, non-decreasing
 *           offsets[n]      payload bytes
 *   The batch ends exactly at the end of the data.
 *
 * Format history: VSB1 (0.1.0) is the first.  A change of layout gets a
 * new tag; the decoder rejects tags it does not know.
 *
 * The decoder trusts nothing: the tag, the row and column counts, each
 * column's type and dim against the schema, has_valid against nullability,
 * valid bytes, every length before it is read (vs_reader) or multiplied
 * (vs_mul_ok), offsets (start at 0, never decrease, end at the payload
 * length, empty for null rows), Bool bytes, finiteness of Float/Double/
 * vector values, UTF-8 of every text and VarChar max_length.  JSON and
 * Array texts are not re-parsed (the WAL's checksum already vouches for
 * them, and readers parse them anyway).  Any mismatch is VS_ERR_CORRUPT
 * with a message naming the column and row; no input can make it crash.
 *
 * Locking: none.
 *
 * Alternative rejected: a row-major record per row (smaller for tiny
 * batches, but a column layout encodes and decodes with one memcpy per
 * column and matches the segment layout).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rows_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "batch_codec.c copies little-endian data directly; port it for big-endian hosts"
#endif

#define BATCH_TAG 0x31425356u /* "VSB1" */

/* ------------------------------------------------------------------ encode */

static vs_status encode_column(const vs_column *col, size_t n, vs_buf *out) {
  bool var = vs_type_is_var(col->type);
  size_t want = var ? (n + 1) * 8 : n * vs_type_fixed_width(col->type, col->dim);
  if (col->n != n || (var ? col->offsets.len : col->fixed.len) != want) {
    return vs_fail(VS_ERR_INTERNAL, "encoding a batch: column '%s' has %zu rows of %zu",
                   col->name, col->n, n);
  }
  vs_status st = vs_buf_append_u32(out, (uint32_t)col->type);
  if (st == VS_OK) st = vs_buf_append_u32(out, col->dim);
  if (st == VS_OK) st = vs_buf_append_u8(out, col->valid ? 1 : 0);
  if (st == VS_OK && col->valid) st = vs_buf_append(out, col->valid, n);
  if (st != VS_OK) return st;
  if (!vs_type_is_var(col->type)) return vs_buf_append(out, col->fixed.data, col->fixed.len);
  st = vs_buf_append(out, col->offsets.data, col->offsets.len);
  if (st == VS_OK) st = vs_buf_append(out, col->bytes.data, col->bytes.len);
  return st;
}

vs_status vs_batch_encode(const vs_rows *batch, vs_buf *out) {
  if (!batch || !out) return vs_fail(VS_ERR_INVALID, "batch and out must not be NULL");
  size_t start = out->len;
  vs_status st = vs_buf_append_u32(out, BATCH_TAG);
  if (st == VS_OK) st = vs_buf_append_u64(out, batch->n);
  if (st == VS_OK) st = vs_buf_append_u32(out, (uint32_t)batch->col_count);
  for (size_t c = 0; st == VS_OK && c < batch->col_count; c++) {
    st = encode_column(&batch->cols[c], batch->n, out);
  }
  if (st != VS_OK) out->len = start;
  return st;
}

/* ------------------------------------------------------------------ decode */

typedef struct expected_column {
  const char *name;
  vs_type type;
  vs_type element_type;
  uint32_t dim;
  bool nullable;
  uint32_t max_length;  /* VarChar only; 0 = no bound */
} expected_column;

static void expected_for(const vs_schema *s, size_t c, expected_column *e) {
  memset(e, 0, sizeof *e);
  if (c == s->field_count) {
    e->name = VS_META_FIELD;
    e->type = VS_TYPE_JSON;
    return;
  }
  const vs_field *f = &s->fields[c];
  e->name = f->name;
  e->type = f->type;
  e->element_type = f->element_type;
  e->dim = f->dim;
  e->nullable = f->nullable;
  e->max_length = f->type == VS_TYPE_VARCHAR ? f->max_length : 0;
}

static vs_status read_valid(vs_reader *r, const expected_column *e, size_t n,
                            vs_column *col) {
  uint8_t has_valid = vs_read_u8(r);
  if (r->failed) return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' is truncated", e->name);
  if (has_valid > 1 || (has_valid && !e->nullable)) {
    return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' has a bad null flag %u", e->name, has_valid);
  }
  if (!has_valid) return VS_OK;
  const uint8_t *p = vs_read_bytes(r, n);
  if (!p) return vs_fail(VS_ERR_CORRUPT, "batch: the nulls of column '%s' are truncated", e->name);
  for (size_t i = 0; i < n; i++) {
    if (p[i] > 1) return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' row %zu has null flag %u",
                                 e->name, i, p[i]);
  }
  col->valid = vs_malloc(n);
  if (!col->valid) return vs_fail(VS_ERR_NOMEM, "out of memory decoding column '%s'", e->name);
  if (n) memcpy(col->valid, p, n);
  col->valid_cap = n;
  return VS_OK;
}

/* Checks the values of a fixed column (Bool 0/1, reals finite). */
static vs_status check_fixed_values(const expected_column *e, const vs_column *col, size_t n) {
  const uint8_t *p = col->fixed.data;
  size_t count = n;
  if (e->type == VS_TYPE_BOOL) {
    for (size_t i = 0; i < n; i++) {
      if (p[i] > 1) return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' row %zu: Bool byte %u", e->name, i, p[i]);
    }
    return VS_OK;
  }
  if (e->type == VS_TYPE_FLOAT_VECTOR) count = n * e->dim;
  for (size_t i = 0; i < count; i++) {
    double v;
    if (e->type == VS_TYPE_DOUBLE) {
      memcpy(&v, p + i * 8, 8);
    } else if (e->type == VS_TYPE_FLOAT || e->type == VS_TYPE_FLOAT_VECTOR) {
      float f;
      memcpy(&f, p + i * 4, 4);
      v = f;
    } else {
      return VS_OK;
    }
    if (!isfinite(v)) {
      return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' row %zu holds NaN or Inf", e->name,
                     e->type == VS_TYPE_FLOAT_VECTOR ? i / e->dim : i);
    }
  }
  return VS_OK;
}

static vs_status read_fixed(vs_reader *r, const expected_column *e, size_t n, vs_column *col) {
  size_t bytes;
  if (!vs_mul_ok(n, vs_type_fixed_width(e->type, e->dim), &bytes)) {
    return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' is too large", e->name);
  }
  const void *p = vs_read_bytes(r, bytes);
  if (!p) return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' is truncated", e->name);
  vs_status st = vs_buf_append(&col->fixed, p, bytes);
  if (st == VS_OK) st = check_fixed_values(e, col, n);
  return st;
}

/* Checks offsets and the text of each row of a var column. */
static vs_status check_var_rows(const expected_column *e, const vs_column *col, size_t n,
                                const uint8_t *offsets, size_t payload) {
  uint64_t prev = vs_load_u64(offsets);
  if (prev != 0) return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' offsets do not start at 0", e->name);
  for (size_t i = 0; i < n; i++) {
    uint64_t next = vs_load_u64(offsets + (i + 1) * 8);
    if (next < prev || next > payload) {
      return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' row %zu: offset %llu is out of order",
                     e->name, i, (unsigned long long)next);
    }
    size_t len = (size_t)(next - prev);
    if (len && vs_col_is_null(col, i)) {
      return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' row %zu is null but has bytes", e->name, i);
    }
    if (len && vs_utf8_check((const char *)col->bytes.data + prev, len) != len) {
      return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' row %zu is not valid UTF-8", e->name, i);
    }
    if (e->max_length && len > e->max_length) {
      return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' row %zu: %zu bytes exceeds max_length %u",
                     e->name, i, len, e->max_length);
    }
    prev = next;
  }
  if (prev != payload) return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' offsets end early", e->name);
  return VS_OK;
}

static vs_status read_var(vs_reader *r, const expected_column *e, size_t n, vs_column *col) {
  size_t bytes;
  if (!vs_mul_ok(n + 1, 8, &bytes)) return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' is too large", e->name);
  const uint8_t *offsets = vs_read_bytes(r, bytes);
  if (!offsets) return vs_fail(VS_ERR_CORRUPT, "batch: the offsets of column '%s' are truncated", e->name);
  uint64_t payload = vs_load_u64(offsets + n * 8);
  if (payload > r->len - r->pos) {
    return vs_fail(VS_ERR_CORRUPT, "batch: column '%s' claims %llu bytes, %zu remain",
                   e->name, (unsigned long long)payload, r->len - r->pos);
  }
  const void *p = vs_read_bytes(r, (size_t)payload);
  col->offsets.len = 0;
  vs_status st = vs_buf_append(&col->offsets, offsets, bytes);
  if (st == VS_OK) st = vs_buf_append(&col->bytes, p, (size_t)payload);
  if (st == VS_OK) st = check_var_rows(e, col, n, offsets, (size_t)payload);
  return st;
}

static vs_status read_column(vs_reader *r, const expected_column *e, size_t n,
                             size_t index, vs_column *col) {
  uint32_t type = vs_read_u32(r);
  uint32_t dim = vs_read_u32(r);
  if (r->failed) return vs_fail(VS_ERR_CORRUPT, "batch: column %zu is truncated", index);
  if (type != (uint32_t)e->type || dim != e->dim) {
    return vs_fail(VS_ERR_CORRUPT, "batch: column %zu ('%s') is type %u dim %u, the schema says %s dim %u",
                   index, e->name, type, dim, vs_type_name(e->type), e->dim);
  }
  vs_status st = vs_col_init(col, e->name, e->type, e->element_type, e->dim);
  if (st == VS_OK) st = read_valid(r, e, n, col);
  if (st == VS_OK) st = vs_type_is_var(e->type) ? read_var(r, e, n, col) : read_fixed(r, e, n, col);
  if (st == VS_OK) col->n = n;
  return st;
}

static vs_status read_header(vs_reader *r, const vs_schema *schema, size_t *n) {
  uint32_t tag = vs_read_u32(r);
  uint64_t rows = vs_read_u64(r);
  uint32_t cols = vs_read_u32(r);
  if (r->failed) return vs_fail(VS_ERR_CORRUPT, "batch: truncated header (%zu bytes)", r->len);
  if (tag != BATCH_TAG) return vs_fail(VS_ERR_CORRUPT, "batch: unknown format tag 0x%08x", tag);
  if (rows > VS_MAX_ROWS) {
    return vs_fail(VS_ERR_CORRUPT, "batch: %llu rows is more than %zu",
                   (unsigned long long)rows, VS_MAX_ROWS);
  }
  if (cols != vs_schema_column_count(schema)) {
    return vs_fail(VS_ERR_CORRUPT, "batch: %u columns, the schema has %zu",
                   cols, vs_schema_column_count(schema));
  }
  *n = (size_t)rows;
  return VS_OK;
}

vs_status vs_batch_decode(const vs_schema *schema, const uint8_t *data,
                          size_t len, vs_rows **out) {
  if (!out) return vs_fail(VS_ERR_INVALID, "vs_batch_decode: out is NULL");
  *out = NULL;
  if (!schema || (!data && len)) return vs_fail(VS_ERR_INVALID, "schema and data must not be NULL");
  vs_reader r;
  vs_reader_init(&r, data, len);
  size_t n = 0;
  vs_rows *rows = NULL;
  vs_status st = read_header(&r, schema, &n);
  if (st == VS_OK) st = vs_rows_alloc(n, &rows);
  for (size_t c = 0; st == VS_OK && c < vs_schema_column_count(schema); c++) {
    expected_column e;
    vs_column col;
    memset(&col, 0, sizeof col);
    expected_for(schema, c, &e);
    st = read_column(&r, &e, n, c, &col);
    if (st == VS_OK) st = vs_rows_adopt(rows, &col);
    vs_col_clear(&col);
  }
  if (st == VS_OK && r.pos != len) {
    st = vs_fail(VS_ERR_CORRUPT, "batch: %zu bytes after the last column", len - r.pos);
  }
  if (st != VS_OK) {
    vs_rows_free(rows);
    return st;
  }
  *out = rows;
  return VS_OK;
}
