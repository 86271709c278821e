/*
 * indexable.h -- the part of a compiled filter that scalar indexes can
 * answer (implemented in indexable.c).
 *
 * A filter is *indexable* for a segment when it is an AND/OR tree whose
 * leaves are `field op constant` predicates that the caller's indexes can
 * answer: == < <= > >= (either side), chained ranges (1 < x <= 5),
 * `x in [...]`, and `x like "prefix%"` (or an exact like); for JSON
 * fields the leaf carries the path steps (meta["a"]["b"] == 1).  Under
 * Kleene logic without NOT, the rows where an AND/OR tree is TRUE are the
 * intersections/unions of the rows where its leaves are TRUE, so set
 * algebra over the index answers gives exactly the evaluator's result.
 * `!=`, `not in`, `not`, nulls tests, arithmetic and functions are never
 * indexable (NE and NOT are TRUE on rows whose value is missing, which an
 * index of present values does not list).
 *
 * The caller supplies one function that answers a leaf for one segment.
 */
#ifndef VS_EXPR_INDEXABLE_H
#define VS_EXPR_INDEXABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr/expr.h"

typedef enum vs_ixop {
  VS_IXOP_EQ = 0,
  VS_IXOP_LT,
  VS_IXOP_LE,
  VS_IXOP_GT,
  VS_IXOP_GE,
  VS_IXOP_IN,      /* values[0..count) */
  VS_IXOP_PREFIX,  /* values[0] is the literal prefix (a string) */
  VS_IXOP_RANGE    /* values[0] lo_op x hi_op values[1] */
} vs_ixop;

typedef enum vs_ixval_kind { VS_IXV_INT, VS_IXV_FLOAT, VS_IXV_STRING, VS_IXV_BOOL } vs_ixval_kind;

/* A constant of the filter (strings point into the compiled filter). */
typedef struct vs_ixval {
  vs_ixval_kind kind;
  int64_t i;
  double f;
  bool b;
  const char *s;
  size_t n;
} vs_ixval;

/* One step of a JSON path: ["key"] or [index]. */
typedef struct vs_ixstep {
  bool is_index;
  int64_t index;
  const char *key;
  size_t key_len;
} vs_ixstep;

/* `column[steps] op values`. */
typedef struct vs_ixleaf {
  int column;              /* index into the segment's columns */
  vs_type col_type;
  const vs_ixstep *steps;  /* JSON path, nsteps == 0 for a plain field */
  size_t nsteps;
  vs_ixop op;
  vs_ixop lo_op, hi_op;    /* VS_IXOP_RANGE: GT or GE, LT or LE */
  const vs_ixval *values;
  size_t count;
} vs_ixleaf;

/* Answers one leaf for a segment of `out->nbits` rows: sets the bits of
 * the rows where it is TRUE (`out` is zeroed by the caller) and returns
 * true; returns false when no index can answer it.  Called with out ==
 * NULL to ask only whether it could. */
typedef bool (*vs_ixleaf_fn)(void *ctx, const vs_ixleaf *leaf, vs_bitset *out);

typedef enum vs_ix_result {
  VS_IX_NONE = 0,    /* no part of the filter was answered */
  VS_IX_EXACT,       /* `out` = exactly the rows where the filter is TRUE */
  VS_IX_SUPERSET     /* `out` holds them all (the top-level AND terms that
                        could be answered); evaluate the filter on them */
} vs_ix_result;

/* Answers `expr` for a segment of `rows` rows through `fn`; initialises
 * *out (rows bits) unless the result is VS_IX_NONE (then *out is left
 * zero-sized).  Out of memory gives VS_IX_NONE. */
vs_ix_result vs_expr_index_eval(const vs_expr *expr, size_t rows, vs_ixleaf_fn fn, void *ctx,
                                vs_bitset *out);

/* Compares JSON path steps (for matching a leaf to an indexed path). */
bool vs_ixsteps_equal(const vs_ixstep *a, size_t na, const vs_ixstep *b, size_t nb);

/* The scalar at `steps` in JSON text (for building JSON path indexes):
 * false when missing, null, an array, an object or malformed.  A string
 * is returned raw (out->s/n inside `text`), with *escaped set when it
 * holds escapes (decode with vs_ixjson_decode). */
bool vs_ixjson_value(const char *text, size_t len, const vs_ixstep *steps, size_t nsteps, vs_ixval *out,
                     bool *escaped);
/* Decodes escaped string content into out (cap >= len); returns the
 * decoded length. */
size_t vs_ixjson_decode(const char *p, size_t len, char *out);

/* An int64 against a double, exactly (no rounding of either): -1, 0, 1,
 * or 2 when d is NaN.  The evaluator's rule (row.c), shared with the
 * scalar indexes so both order mixed keys the same way. */
int vs_cmp_int_double(int64_t i, double d);

#endif /* VS_EXPR_INDEXABLE_H */
