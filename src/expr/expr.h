/*
 * expr.h -- the whole interface of src/expr/: Milvus boolean filter
 * expressions, compiled once per request and evaluated over the columnar
 * data of a segment into a bitset.
 *
 * The language is Milvus's (shared/MILVUS_REST_V2.md section 6; our
 * reference in docs/filters.md).  Compilation parses, resolves names
 * against the schema (a bare name that is not a field resolves through the
 * dynamic field "$meta" when the schema has one), binds template values
 * ({name} from exprParams), type-checks, and lowers the tree into a
 * program.  A syntax or type error is VS_ERR_INVALID with a message that
 * names the byte position and shows a caret line, e.g.
 *
 *     filter: expected a value after '>' at position 6
 *       age > 
 *             ^
 *
 * Evaluation never fails: a missing JSON key, a null, or a value of the
 * wrong JSON type simply makes the comparison false.
 *
 * Columns: `cols` is the normalized layout of a segment -- one vs_colview
 * per schema field in schema order, then "$meta" when the schema is
 * dynamic (engine/schema.h describes the physical layout).
 *
 * Depends on engine/schema.h for the schema and column view types only.
 */
#ifndef VS_EXPR_H
#define VS_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/schema.h"
#include "util/util.h"

typedef struct vs_expr vs_expr;

/* Compiles `text` for `schema`.  `params_json` is the exprParams object
 * text (or NULL).  An empty or all-blank text compiles to "true".  On
 * error *out is NULL and the message is set (vs_fail). */
vs_status vs_expr_compile(const vs_schema *schema, const char *text,
                          const char *params_json, vs_expr **out);
void vs_expr_free(vs_expr *expr);

/* Evaluates rows [begin, end) and writes their bits into `out` (bit
 * `row` set = passes; `out` must hold at least `end` bits; bits outside
 * [begin, end) are left alone).  Thread-safe: many threads may evaluate
 * one compiled expression at once. */
void vs_expr_eval(const vs_expr *expr, const vs_colview *cols, size_t begin,
                  size_t end, vs_bitset *out);

/* The slow reference: walks the syntax tree for one row.  Independent of
 * the compiled program; tests compare the two. */
bool vs_expr_eval_row_reference(const vs_expr *expr, const vs_colview *cols,
                                size_t row);

/* True when the expression is the constant true (an empty filter). */
bool vs_expr_is_true(const vs_expr *expr);

/* Canonical text of the compiled tree, fully parenthesised (for profiles
 * and tests); free with free(). */
char *vs_expr_to_string(const vs_expr *expr);

#endif /* VS_EXPR_H */
