/*
 * expr_internal.h -- private to src/expr/: the syntax tree shared by the
 * parser (parse.c), the type checker (check.c), the canonical printer
 * (print.c), the compiled program (program.c, row.c), the reference
 * interpreter (reference.c) and the JSON path scanner (json_scan.c).
 *
 * The tree keeps the byte position of every node so that type errors can
 * point at the text.  All nodes and strings live in one arena owned by the
 * vs_expr and freed with it.
 */
#ifndef VS_EXPR_INTERNAL_H
#define VS_EXPR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr/expr.h"

/* Nesting limit of the parser and of the tree (protects the stack). */
#define EXPR_MAX_DEPTH 256
/* Longest filter text accepted (bytes). */
#define EXPR_MAX_TEXT (1u << 20)

/* ------------------------------------------------------------------ arena */

typedef struct expr_arena_block expr_arena_block;
typedef struct expr_arena {
  expr_arena_block *head;
} expr_arena;

/* Zeroed memory that lives until expr_arena_free; NULL on out of memory. */
void *expr_arena_alloc(expr_arena *arena, size_t size);
char *expr_arena_strndup(expr_arena *arena, const char *s, size_t n);
void expr_arena_free(expr_arena *arena);

/* ------------------------------------------------------------------- tree */

typedef enum expr_op {
  OP_NONE = 0,
  OP_OR, OP_AND, OP_NOT,
  OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
  OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW, OP_NEG, OP_POS,
  OP_BOR, OP_BXOR, OP_BAND, OP_SHL, OP_SHR, OP_BNOT
} expr_op;

typedef enum expr_kind {
  N_BOOL, N_INT, N_FLOAT, N_STRING, N_LIST, /* constants */
  N_PATH,      /* field, JSON path, Array element */
  N_UNARY,     /* op: NOT, NEG, POS, BNOT; kids[0] */
  N_LOGIC,     /* op: AND, OR; n-ary kids */
  N_ARITH,     /* op: ADD..POW, bitwise; kids[0], kids[1] */
  N_CMP,       /* op: EQ..GE; kids[0] op kids[1] */
  N_RANGE,     /* kids[0] op kids[1] op2 kids[2] */
  N_IN,        /* kids[0] [not] in kids[1]; negated */
  N_LIKE,      /* kids[0] like str */
  N_ISNULL,    /* kids[0] is [not] null; negated */
  N_EXISTS,    /* exists kids[0] */
  N_CALL       /* fn(kids...) */
} expr_kind;

typedef enum expr_fn {
  FN_NONE = 0,
  FN_JSON_CONTAINS, FN_JSON_CONTAINS_ALL, FN_JSON_CONTAINS_ANY,
  FN_ARRAY_CONTAINS, FN_ARRAY_CONTAINS_ALL, FN_ARRAY_CONTAINS_ANY,
  FN_ARRAY_LENGTH
} expr_fn;

/* Static types assigned by the checker. */
typedef enum expr_type {
  T_NONE = 0,
  T_BOOL,     /* a boolean value (literal, Bool field, Bool element) */
  T_INT,
  T_FLOAT,
  T_NUM,      /* a number whose int/float kind is known only per row */
  T_STRING,
  T_JSON,     /* any JSON value, known per row */
  T_ARRAY,    /* a whole Array field */
  T_LIST,     /* a constant list */
  T_PRED      /* a predicate: comparison, logic, in, like, ... */
} expr_type;

/* One step of a path: ["key"] or [index]. */
typedef struct expr_step {
  bool is_index;
  int64_t index;
  const char *key;
  size_t key_len;
} expr_step;

typedef struct expr_node expr_node;
typedef struct expr_like expr_like;
struct expr_node {
  expr_kind kind;
  expr_op op, op2;
  expr_fn fn;
  uint32_t pos;          /* byte offset in the text */
  uint32_t depth;        /* 1 + deepest child */
  bool negated;          /* not in, is not null */
  expr_type type;        /* set by the checker */
  /* constants */
  bool b;
  int64_t i;
  double f;
  const char *s;         /* N_STRING, N_LIKE pattern (decoded, not NUL-free) */
  size_t slen;
  const struct expr_like *like; /* N_LIKE: compiled pattern (program.c) */
  bool big;              /* N_INT literal 9223372036854775808 (only -x ok) */
  /* paths */
  const char *name;      /* as written (N_PATH; N_CALL function name) */
  int column;            /* index into cols; set by the checker */
  vs_type col_type;      /* the column's type */
  vs_type elem_type;     /* Array field element type */
  const expr_step *steps;
  size_t nsteps;
  /* children */
  expr_node **kids;
  size_t nkids;
  size_t kids_cap;
};

/* ----------------------------------------------------------------- parser */

typedef struct expr_source {
  const char *text;
  size_t len;
} expr_source;

/* Formats a positioned error (message, position, caret line) and returns
 * VS_ERR_INVALID. */
vs_status expr_error(const expr_source *src, size_t pos, const char *fmt, ...)
    VS_PRINTF(3, 4);

/* Parses `src` into a tree; template values come from `params` (a jansson
 * object, or NULL).  *out is NULL for an all-blank text. */
vs_status expr_parse(const expr_source *src, const void *params,
                     expr_arena *arena, expr_node **out);

/* Resolves names and types and folds constants; may replace *root. */
vs_status expr_check(const expr_source *src, const vs_schema *schema,
                     expr_arena *arena, expr_node **root);

/* Appends a child (arena-grown array). */
vs_status expr_add_kid(expr_arena *arena, expr_node *parent, expr_node *kid);

/* Canonical text (print.c); NULL on out of memory. */
char *expr_print(const expr_node *root);

/* --------------------------------------------------------------- program */

typedef struct expr_program expr_program;
vs_status expr_program_build(const expr_node *root, expr_arena *arena,
                             expr_program **out);
void expr_program_eval(const expr_program *prog, const vs_colview *cols,
                       size_t begin, size_t end, vs_bitset *out);

/* Three-valued truth of a predicate. */
typedef enum expr_truth { EXPR_FALSE = 0, EXPR_TRUE = 1, EXPR_UNKNOWN = 2 } expr_truth;

/* row.c: the program's per-row evaluator (allocation-free JSON scanning),
 * used for everything that has no vectorised kernel. */
typedef struct expr_row_ctx {
  const vs_colview *cols;
  char *scratch;         /* decoded strings for like */
  size_t scratch_cap;
} expr_row_ctx;
expr_truth expr_row_pred(const expr_node *e, expr_row_ctx *ctx, size_t row);
void expr_row_ctx_free(expr_row_ctx *ctx);

/* reference.c: the independent tree-walking oracle (jansson per row). */
expr_truth expr_reference_pred(const expr_node *e, const vs_colview *cols,
                               size_t row);

/* like.c: a compiled like pattern (used by the program). */
vs_status expr_like_compile(const char *pattern, size_t len,
                            expr_arena *arena, expr_like **out);
bool expr_like_match(const expr_like *like, const char *s, size_t n);

/* ------------------------------------------------------- JSON path scanner */

typedef enum json_kind {
  JV_MISSING = 0, JV_NULL, JV_FALSE, JV_TRUE, JV_NUMBER, JV_STRING, JV_ARRAY,
  JV_OBJECT
} json_kind;

/* A value inside JSON text: for strings, p/len is the raw content between
 * the quotes (escaped when `escaped`); otherwise the whole value text. */
typedef struct json_span {
  json_kind kind;
  bool escaped;
  const char *p;
  size_t len;
} json_span;

/* Finds the value at `steps` in the JSON text; JV_MISSING when absent or
 * when the text is malformed.  Never allocates, never reads past len. */
json_span json_find(const char *text, size_t len, const expr_step *steps,
                    size_t nsteps);
/* Parses a JSON number span: an integer that fits int64 gives *is_int. */
bool json_number(const json_span *v, bool *is_int, int64_t *i, double *d);
/* Iterates over the elements of an array span. */
typedef struct json_iter {
  const char *p, *end;
  bool first;
} json_iter;
void json_iter_init(json_iter *it, const json_span *array);
bool json_iter_next(json_iter *it, json_span *out);
/* Number of elements of an array span. */
size_t json_array_length(const json_span *array);
/* Compares a (possibly escaped) JSON string content with plain bytes:
 * <0, 0, >0 bytewise on the decoded text. */
int json_string_cmp(const char *a, size_t alen, bool a_escaped, const char *b,
                    size_t blen, bool b_escaped);
/* Decodes escaped string content into out (cap >= len suffices); returns
 * the decoded length. */
size_t json_string_decode(const char *p, size_t len, char *out);

/* --------------------------------------------------------- the handle */

struct vs_expr {
  expr_arena arena;
  expr_node *root;        /* NULL = constant true */
  expr_program *program;
  bool is_true;
};

#endif /* VS_EXPR_INTERNAL_H */
