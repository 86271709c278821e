/*
 * schema.h -- schemas, row batches (vs_rows) and their validation and
 * encoding.  Internal to src/engine/ and its tests.
 *
 * A vs_rows is a list of named, typed columns of equal length.  Users fill
 * one loosely (an Int64 column for an Int16 field, a JSON array text for an
 * Array field, columns in any order); vs_batch_normalize turns it into a
 * *normalized batch*: one column per schema field in schema order (plus
 * "$meta" last when the schema is dynamic), each column exactly of its
 * field's type, defaults filled in, every value checked.  Only normalized
 * batches reach the WAL and the segments.
 *
 * Physical layout of a column (vs_column, and its read-only view vs_colview
 * that sealed segments expose over mmap'd bytes):
 *
 *   type                      fixed (per row)           var
 *   Bool                      uint8_t 0/1               -
 *   Int8/16/32/64             int8..int64               -
 *   Float / Double            float / double            -
 *   FloatVector               dim floats                -
 *   VarChar                   -                         UTF-8 bytes
 *   JSON                      -                         compact JSON text
 *   Array                     -                         compact JSON array
 *
 * var columns keep offsets[n+1] (uint64) into bytes; row i is
 * bytes[offsets[i] .. offsets[i+1]).  Values are NOT NUL-terminated one by
 * one (the next value starts right after); only the whole buffer ends in a
 * NUL, so always use the length.  `valid` is NULL (all present) or one
 * byte per row, 0 = null; a null row still occupies its fixed slot (zeros)
 * and an empty var range.
 *
 * Implemented in schema.c, schema_json.c (schemas), rows.c, rows_access.c,
 * rows_json.c, rows_jsontext.c (row batches), batch.c (normalize, primary
 * keys) and batch_codec.c (encode/decode); rows_internal.h is private to
 * those files.
 */
#ifndef VS_ENGINE_SCHEMA_H
#define VS_ENGINE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define VS_FIRST_FIELD_ID 100u
#define VS_META_FIELD "$meta"

typedef struct vs_field {
  uint32_t id;             /* 100, 101, ... in declaration order */
  char *name;
  vs_type type;
  bool is_primary;
  bool auto_id;
  bool nullable;
  uint32_t dim;            /* FloatVector */
  vs_metric metric;        /* FloatVector */
  uint32_t max_length;     /* VarChar; Array of VarChar */
  vs_type element_type;    /* Array */
  uint32_t max_capacity;   /* Array */
  char *default_json;      /* canonical compact JSON text, or NULL */
  char *description;       /* never NULL ("" if none) */
} vs_field;

struct vs_schema {
  vs_field *fields;
  size_t field_count;
  size_t field_cap;
  bool dynamic;
  char *description;       /* never NULL */
};

/* ------------------------------------------------------------------ schema */

vs_status vs_schema_clone(const vs_schema *src, vs_schema **out);
/* Field by name, or NULL. */
const vs_field *vs_schema_find(const vs_schema *schema, const char *name);
/* Index of a field by name, or -1. */
int vs_schema_index(const vs_schema *schema, const char *name);
/* The primary key field (schema must be valid). */
const vs_field *vs_schema_pk(const vs_schema *schema);
int vs_schema_pk_index(const vs_schema *schema);
/* Number of FloatVector fields; the index of the first, or -1. */
size_t vs_schema_vector_count(const vs_schema *schema);
int vs_schema_first_vector(const vs_schema *schema);
/* Columns of a normalized batch: field_count (+1 when dynamic). */
size_t vs_schema_column_count(const vs_schema *schema);
/* Bytes per row of a fixed-width type (vectors: dim*4), 0 for var types. */
size_t vs_type_fixed_width(vs_type type, uint32_t dim);
bool vs_type_is_var(vs_type type);

/* ------------------------------------------------------------------ columns */

typedef struct vs_column {
  char *name;
  vs_type type;
  vs_type element_type;   /* Array */
  uint32_t dim;           /* FloatVector */
  size_t n;               /* rows */
  uint8_t *valid;         /* NULL = all present; else n bytes (cap rows) */
  vs_buf fixed;           /* fixed-width values */
  vs_buf offsets;         /* var: (n+1) uint64, offsets[0] = 0 */
  vs_buf bytes;           /* var: payload; kept NUL-terminated after len */
  size_t valid_cap;
} vs_column;

struct vs_rows {
  size_t n;
  vs_column *cols;
  size_t col_count;
  size_t col_cap;
};

/* Read-only view of a column, over memory the caller keeps alive. */
typedef struct vs_colview {
  vs_type type;
  uint32_t dim;
  size_t n;
  const uint8_t *valid;
  const uint8_t *fixed;
  const uint64_t *offsets;
  const char *bytes;
} vs_colview;

void vs_column_view(const vs_column *col, vs_colview *out);
/* Frees the column's memory (the struct itself is the caller's). */
void vs_col_clear(vs_column *col);
/* The column named `name`, or NULL. */
vs_column *vs_rows_find(const vs_rows *rows, const char *name);
/* Adds an empty column (0 rows) to an output batch.  rows->n is left
 * alone: the builder appends with vs_column_append_from and then sets
 * rows->n itself once every column holds that many rows.  *out (may be
 * NULL) stays valid only until the next column is added to `rows` (the
 * column array may move). */
vs_status vs_rows_add_column(vs_rows *rows, const char *name, vs_type type,
                             vs_type element_type, uint32_t dim,
                             vs_column **out);
/* Appends row `row` of `src` to `dst` (types must match; nulls kept). */
vs_status vs_column_append_from(vs_column *dst, const vs_colview *src,
                                size_t row);
/* Appends all rows of a normalized batch `src` to `dst` (same column list,
 * e.g. a growing segment's columns).  dst->n += src->n. */
vs_status vs_rows_append_batch(vs_rows *dst, const vs_rows *src);
/* An empty normalized batch for `schema` (growing segments start so). */
vs_status vs_rows_new_for_schema(const vs_schema *schema, vs_rows **out);
/* Bytes of memory held by the columns' data. */
size_t vs_rows_memory(const vs_rows *rows);

/* ------------------------------------------------------------------ batches */

typedef enum vs_write_kind {
  VS_WRITE_INSERT = 0,
  VS_WRITE_UPSERT = 1
} vs_write_kind;

/*
 * Checks `in` against `schema` and builds a normalized batch.  Any error
 * returns VS_ERR_DATA (or VS_ERR_LIMIT for too many rows) with a message
 * naming the field and row, e.g. "field 'vector' expects 768 floats per
 * row, got 767", "field 'score' row 3: NaN is not allowed", "row 0: field
 * 'colour' is not in the schema and the collection has no dynamic field",
 * "field 'title' row 5: 300 bytes exceeds max_length 256".  Also checks
 * duplicate primary keys inside the batch ("field 'id' row 9: duplicate
 * primary key 42 (also at row 3)").  On error *out is NULL.  For INSERT
 * into an autoID collection the primary key must be absent and the pk
 * column is filled with zeros (the caller assigns ids with
 * vs_batch_set_auto_ids); for UPSERT it is required.  `max_rows` bounds
 * in->n (0 = no bound; never more than 2^24).
 */
vs_status vs_batch_normalize(const vs_schema *schema, const vs_rows *in,
                             vs_write_kind kind, size_t max_rows,
                             vs_rows **out);
/* Fills *out (uninitialised) with n rows of what an absent value of `f`
 * becomes: its default, else null (the field must have one or the other).
 * Used for the rows stored before `f` was added to the schema. */
vs_status vs_column_fill_absent(const vs_field *f, size_t n, vs_column *out);
/* Writes first, first+1, ... into the pk column of a normalized batch. */
void vs_batch_set_auto_ids(vs_rows *batch, const vs_schema *schema,
                           int64_t first);
/* Serialises a normalized batch (appends to `out`). */
vs_status vs_batch_encode(const vs_rows *batch, vs_buf *out);
/* Parses bytes from vs_batch_encode, checking them against `schema` as
 * hostile input; the result is a normalized batch. */
vs_status vs_batch_decode(const vs_schema *schema, const uint8_t *data,
                          size_t len, vs_rows **out);

/* Hash of a primary key value at `row` of a pk column view (Int64: the
 * 8 bytes; VarChar: the bytes), used by shard routing and the pk index. */
uint64_t vs_pk_hash(const vs_colview *pk, size_t row);
/* True when row a of view x and row b of view y hold the same key. */
bool vs_pk_equal(const vs_colview *x, size_t a, const vs_colview *y,
                 size_t b);

/* JSON (jansson-free interface so the engine core need not include it). */
/* Schema <-> JSON object text, used by MANIFEST and describe. */
/* (vs_schema_to_json / vs_schema_from_json are public.) */

#endif /* VS_ENGINE_SCHEMA_H */
