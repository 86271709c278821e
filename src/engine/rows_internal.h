/*
 * rows_internal.h -- helpers shared by schema*.c, rows*.c and batch*.c:
 * column building, UTF-8 checking, and the JSON text helpers (a depth
 * pre-scan, a bounded parser front-end and a compact writer that prints
 * numbers in their shortest round-tripping form).  Not for the rest of the
 * engine: it includes jansson, which the engine core does not need.
 */
#ifndef VS_ENGINE_ROWS_INTERNAL_H
#define VS_ENGINE_ROWS_INTERNAL_H

#include <jansson.h>

#include "engine/schema.h"

/* Rows in one vs_rows (vs_rows_new and every decoder). */
#define VS_MAX_ROWS ((size_t)1 << 24)
/* Nesting depth of any JSON text we accept (documents, JSON values). */
#define VS_JSON_MAX_DEPTH 64u
#define VS_MAX_FIELDS 512u
#define VS_MAX_VECTOR_FIELDS 8u
/* Longest column name a vs_rows accepts (dynamic keys can be long). */
#define VS_MAX_COLUMN_NAME 65535u
/* Longest schema / field description. */
#define VS_MAX_DESCRIPTION 65535u

/* ------------------------------------------------------------- columns */

/* Initialises *col as an empty column (var columns get offsets = {0}). */
vs_status vs_col_init(vs_column *col, const char *name, vs_type type,
                      vs_type element_type, uint32_t dim);
/* Reserves room for `rows` more rows and `var_bytes` more payload bytes. */
vs_status vs_col_reserve(vs_column *col, size_t rows, size_t var_bytes);
/* Appends one present fixed-width value (vs_type_fixed_width bytes). */
vs_status vs_col_push_fixed(vs_column *col, const void *value);
/* Appends `count` present fixed-width values in one copy. */
vs_status vs_col_push_fixed_many(vs_column *col, const void *values,
                                 size_t count);
/* Appends one present var value. */
vs_status vs_col_push_var(vs_column *col, const void *data, size_t len);
/* Appends a null (zeroed fixed slot or empty var range). */
vs_status vs_col_push_null(vs_column *col);
static inline bool vs_col_is_null(const vs_column *col, size_t row) {
  return col->valid != NULL && col->valid[row] == 0;
}
/* Var column accessors (row < col->n). */
static inline const char *vs_col_var(const vs_column *col, size_t row,
                                     size_t *len) {
  const uint64_t *off = (const uint64_t *)col->offsets.data;
  *len = (size_t)(off[row + 1] - off[row]);
  if (!col->bytes.data) return "";
  return (const char *)col->bytes.data + off[row];
}
/* Integer value of row `row` of an Int8..Int64 column. */
int64_t vs_col_int(const vs_column *col, size_t row);
/* Real value of row `row` of a Float or Double column. */
double vs_col_real(const vs_column *col, size_t row);
/* Stores `v` (already range-checked) as an Int8..Int64 of type `type`. */
void vs_store_int(void *dst, vs_type type, int64_t v);
/* True when the double v rounds to a finite float: |v| < FLT_MAX + half
 * an ulp = 2^128 - 2^103 (exactly half way rounds to even, i.e. to Inf).
 * Test before converting: C leaves an overflowing conversion undefined. */
static inline bool vs_fits_float(double v) {
  return v > -0x1.ffffffp127 && v < 0x1.ffffffp127;
}
/* Allocates an empty vs_rows of n rows (no columns). */
vs_status vs_rows_alloc(size_t n, vs_rows **out);
/* Appends *col to rows (moving it: *col is zeroed). */
vs_status vs_rows_adopt(vs_rows *rows, vs_column *col);
/* vs_type_name, or "unknown" for a number that is not a type. */
static inline const char *vs_type_label(vs_type type) {
  const char *name = vs_type_name(type);
  return name ? name : "unknown";
}
bool vs_type_is_int(vs_type type);
bool vs_type_is_real(vs_type type);
/* Range of an integer type. */
void vs_int_range(vs_type type, int64_t *min, int64_t *max);

/* ------------------------------------------------------------- schema */

/* Checks def like vs_schema_add_field and appends it with field id `id`
 * (the caller keeps ids increasing). */
vs_status vs_schema_add_with_id(vs_schema *s, const vs_field_def *def,
                                uint32_t id);

/* -------------------------------------------------------------- UTF-8 */

/* Offset of the first byte of an invalid UTF-8 sequence, or len if valid
 * (overlongs, surrogates and code points above U+10FFFF are invalid). */
size_t vs_utf8_check(const char *s, size_t len);

/* --------------------------------------------------------------- JSON */

/* False when text nests arrays/objects deeper than max_depth. */
bool vs_json_depth_ok(const char *text, size_t len, unsigned max_depth);
/* Parses any JSON value (depth <= VS_JSON_MAX_DEPTH, duplicate keys
 * rejected).  On failure returns NULL and writes a message to err. */
json_t *vs_json_parse(const char *text, size_t len, char *err,
                      size_t err_len);
/* Compact JSON text of v appended to b; numbers in shortest form.  Fails
 * (VS_ERR_INVALID) only on memory or on a non-finite real. */
vs_status vs_json_write(vs_buf *b, const json_t *v);
/* A JSON string literal; VS_ERR_DATA if s is not valid UTF-8. */
vs_status vs_json_write_string(vs_buf *b, const char *s, size_t len);
/* Shortest text that reads back to the same double / float. */
vs_status vs_json_write_double(vs_buf *b, double v);
vs_status vs_json_write_float(vs_buf *b, float v);
/* Canonical compact text of v as a malloc'd string (NULL on failure). */
char *vs_json_canonical(const json_t *v);

#endif /* VS_ENGINE_ROWS_INTERNAL_H */
