/*
 * program.c -- the compiled form of a filter and its vectorised evaluation.
 *
 * The checked tree is lowered into a small tree of program nodes, each a
 * kernel that fills two bitsets for a block of rows: T (the predicate is
 * true) and F (false); a row in neither is UNKNOWN (a null was involved).
 * Kleene logic is then word-wise: and = (T1&T2, F1|F2), or = (T1|T2,
 * F1&F2), not = (F, T).  Only T reaches the caller.
 *
 * Kernels:
 *   P_CMP    a fixed-width column (Int8..Int64, Float, Double, Bool) or a
 *            VarChar column against a constant: one tight loop per (type,
 *            operator) packing 64 comparisons into a word; the valid bytes
 *            are packed the same way.  An integer column against a float
 *            constant is rewritten at build time (age > 1.5 is age >= 2;
 *            age == 1.5 is constant false for non-null rows).  A Float
 *            column compares in single precision, as Milvus does.
 *   P_IN_INT an integer column against a sorted array of constants
 *            (binary search; a linear scan for up to 8).
 *   P_IN_STR a VarChar column against sorted strings.
 *   P_NULL   a null test on a column.
 *   P_ROW    anything else: row.c per row over the checked tree.
 * Rows are processed in blocks of 1024 (16 words per bitset, on the stack),
 * so a kernel's output stays in L1 and the depth of the tree, bounded by
 * EXPR_MAX_DEPTH, bounds the stack.  `and` skips its remaining operands
 * for a block once T is empty (unless F is needed by an enclosing `not`).
 *
 * Rejected: a stack VM interpreting one row at a time (Redis vector sets'
 * expr.c does this; here the column layout makes a column-at-a-time kernel
 * several times faster for the common filters); JIT compilation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"

#define BLOCK_ROWS 1024
#define BLOCK_WORDS (BLOCK_ROWS / 64)

typedef enum pkind { P_CONST, P_AND, P_OR, P_NOT, P_CMP, P_IN_INT, P_IN_STR, P_NULL, P_ROW } pkind;

typedef enum cmode { CM_COMPARE, CM_ALL, CM_NONE } cmode; /* for non-null rows */

typedef struct pnode pnode;
struct pnode {
  pkind kind;
  expr_op op;
  cmode mode;
  bool value;              /* P_CONST */
  bool negated;            /* P_IN_*, P_NULL */
  int column;
  vs_type ctype;
  int64_t ival;
  float fval;
  double dval;
  const char *s;
  size_t slen;
  int64_t *ints;           /* P_IN_INT, sorted unique */
  const expr_node **strs;  /* P_IN_STR, sorted unique N_STRING nodes */
  size_t nset;
  pnode **kids;
  size_t nkids;
  const expr_node *ast;    /* P_ROW */
};

struct expr_program {
  pnode *root;
};

/* ================================================================ build */

static pnode *pnew(expr_arena *a, pkind kind) {
  pnode *p = expr_arena_alloc(a, sizeof *p);
  if (p) p->kind = kind;
  return p;
}

static bool fixed_scalar(vs_type t) {
  return t == VS_TYPE_BOOL || t == VS_TYPE_INT8 || t == VS_TYPE_INT16 || t == VS_TYPE_INT32 ||
         t == VS_TYPE_INT64 || t == VS_TYPE_FLOAT || t == VS_TYPE_DOUBLE;
}
static bool is_int_type(vs_type t) {
  return t == VS_TYPE_INT8 || t == VS_TYPE_INT16 || t == VS_TYPE_INT32 || t == VS_TYPE_INT64;
}
/* A whole scalar column (no path steps). */
static bool plain_column(const expr_node *e) {
  return e->kind == N_PATH && e->nsteps == 0 &&
         (fixed_scalar(e->col_type) || e->col_type == VS_TYPE_VARCHAR);
}
static bool is_const(const expr_node *e) {
  return e->kind == N_BOOL || e->kind == N_INT || e->kind == N_FLOAT || e->kind == N_STRING;
}

static expr_op flip(expr_op op) {
  switch (op) {
    case OP_LT: return OP_GT;
    case OP_LE: return OP_GE;
    case OP_GT: return OP_LT;
    case OP_GE: return OP_LE;
    default: return op;
  }
}

/* x op d for an integer x, as an integer comparison or a constant. */
static void int_vs_double(pnode *p, expr_op op, double d) {
  const double lim = 9223372036854775808.0;
  p->mode = CM_COMPARE;
  if (isnan(d)) {
    p->mode = op == OP_NE ? CM_ALL : CM_NONE;
    return;
  }
  double fl = floor(d), ce = ceil(d);
  bool integral = fl == d;
  switch (op) {
    case OP_EQ: case OP_NE:
      if (!integral || d >= lim || d < -lim) p->mode = op == OP_NE ? CM_ALL : CM_NONE;
      p->ival = p->mode == CM_COMPARE ? (int64_t)d : 0;
      p->op = op;
      return;
    case OP_GT: case OP_LE: /* x > d <=> x > floor(d) */
      if (fl >= lim) p->mode = op == OP_GT ? CM_NONE : CM_ALL;
      else if (fl < -lim) p->mode = op == OP_GT ? CM_ALL : CM_NONE;
      else p->ival = (int64_t)fl;
      p->op = op;
      return;
    default: /* OP_LT, OP_GE: x < d <=> x < ceil(d) */
      if (ce >= lim) p->mode = op == OP_LT ? CM_ALL : CM_NONE;
      else if (ce < -lim) p->mode = op == OP_LT ? CM_NONE : CM_ALL;
      else p->ival = (int64_t)ce;
      p->op = op;
      return;
  }
}

/* column op constant, or NULL when no kernel applies. */
static pnode *build_cmp_const(expr_arena *a, const expr_node *col, expr_op op,
                              const expr_node *c) {
  vs_type t = col->col_type;
  bool num = c->kind == N_INT || c->kind == N_FLOAT;
  double d = c->kind == N_INT ? (double)c->i : c->f;
  if (t == VS_TYPE_DOUBLE && c->kind == N_INT && (d >= 9223372036854775808.0 || (int64_t)d != c->i))
    return NULL; /* not exactly representable: let row.c compare exactly */
  if ((t == VS_TYPE_VARCHAR) != (c->kind == N_STRING)) return NULL;
  if ((t == VS_TYPE_BOOL) != (c->kind == N_BOOL)) return NULL;
  if (t == VS_TYPE_BOOL && op != OP_EQ && op != OP_NE) return NULL;
  if (!num && t != VS_TYPE_VARCHAR && t != VS_TYPE_BOOL) return NULL;
  pnode *p = pnew(a, P_CMP);
  if (!p) return NULL;
  p->column = col->column;
  p->ctype = t;
  p->op = op;
  if (is_int_type(t) && c->kind == N_FLOAT) int_vs_double(p, op, c->f);
  p->ival = is_int_type(t) && c->kind == N_INT ? c->i : p->ival;
  p->fval = (float)d;
  p->dval = d;
  p->value = c->b;
  p->s = c->s;
  p->slen = c->slen;
  return p;
}

static pnode *build_row(expr_arena *a, const expr_node *e) {
  pnode *p = pnew(a, P_ROW);
  if (p) p->ast = e;
  return p;
}

static pnode *build_cmp(expr_arena *a, const expr_node *x, expr_op op, const expr_node *y) {
  if (plain_column(x) && is_const(y)) return build_cmp_const(a, x, op, y);
  if (plain_column(y) && is_const(x)) return build_cmp_const(a, y, flip(op), x);
  return NULL;
}

static int cmp_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int cmp_strnode(const void *a, const void *b) {
  const expr_node *x = *(const expr_node *const *)a, *y = *(const expr_node *const *)b;
  int c = memcmp(x->s, y->s, VS_MIN(x->slen, y->slen));
  if (c) return c;
  return x->slen < y->slen ? -1 : x->slen > y->slen;
}

static pnode *build_in(expr_arena *a, const expr_node *e) {
  const expr_node *col = e->kids[0], *list = e->kids[1];
  bool ints = is_int_type(col->col_type), strs = col->col_type == VS_TYPE_VARCHAR;
  if (!plain_column(col) || (!ints && !strs)) return NULL;
  pnode *p = pnew(a, ints ? P_IN_INT : P_IN_STR);
  if (!p) return NULL;
  p->column = col->column;
  p->ctype = col->col_type;
  p->negated = e->negated;
  p->ints = expr_arena_alloc(a, (list->nkids + 1) * sizeof *p->ints);
  p->strs = expr_arena_alloc(a, (list->nkids + 1) * sizeof *p->strs);
  if (!p->ints || !p->strs) return NULL;
  for (size_t k = 0; k < list->nkids; k++) {
    const expr_node *it = list->kids[k];
    if (ints && it->kind == N_INT) p->ints[p->nset++] = it->i;
    if (ints && it->kind == N_FLOAT && it->f == floor(it->f) && fabs(it->f) < 9.2e18)
      p->ints[p->nset++] = (int64_t)it->f;
    if (strs) p->strs[p->nset++] = it;
  }
  if (ints) qsort(p->ints, p->nset, sizeof *p->ints, cmp_int64);
  if (strs) qsort(p->strs, p->nset, sizeof *p->strs, cmp_strnode);
  return p;
}

static vs_status build(expr_arena *a, expr_node *e, pnode **out);

static vs_status build_kids(expr_arena *a, expr_node *e, pkind kind, pnode **out) {
  pnode *p = pnew(a, kind);
  if (!p || !(p->kids = expr_arena_alloc(a, e->nkids * sizeof *p->kids)))
    return vs_fail(VS_ERR_NOMEM, "out of memory");
  p->nkids = e->nkids;
  for (size_t k = 0; k < e->nkids; k++) {
    vs_status st = build(a, e->kids[k], &p->kids[k]);
    if (st != VS_OK) return st;
  }
  *out = p;
  return VS_OK;
}

static pnode *build_range(expr_arena *a, const expr_node *e) {
  pnode *lo = build_cmp(a, e->kids[0], e->op, e->kids[1]);
  pnode *hi = build_cmp(a, e->kids[1], e->op2, e->kids[2]);
  pnode *p = lo && hi ? pnew(a, P_AND) : NULL;
  if (!p || !(p->kids = expr_arena_alloc(a, 2 * sizeof *p->kids))) return NULL;
  p->kids[0] = lo;
  p->kids[1] = hi;
  p->nkids = 2;
  return p;
}

/* Lowers one predicate node; may attach a compiled `like` to the tree. */
static vs_status build(expr_arena *a, expr_node *e, pnode **out) {
  pnode *p = NULL;
  switch (e->kind) {
    case N_LOGIC: return build_kids(a, e, e->op == OP_AND ? P_AND : P_OR, out);
    case N_UNARY: return build_kids(a, e, P_NOT, out);
    case N_BOOL:
      p = pnew(a, P_CONST);
      if (p) p->value = e->b;
      break;
    case N_CMP: p = build_cmp(a, e->kids[0], e->op, e->kids[1]); break;
    case N_RANGE: p = build_range(a, e); break;
    case N_IN: p = build_in(a, e); break;
    case N_PATH:
      if (e->col_type == VS_TYPE_BOOL && e->nsteps == 0) {
        expr_node t = {.kind = N_BOOL, .b = true};
        p = build_cmp_const(a, e, OP_EQ, &t);
      }
      break;
    case N_ISNULL:
      if (plain_column(e->kids[0]) && (p = pnew(a, P_NULL)) != NULL) {
        p->column = e->kids[0]->column;
        p->negated = e->negated;
      }
      break;
    case N_LIKE: {
      expr_like *like = NULL;
      vs_status st = expr_like_compile(e->s, e->slen, a, &like);
      if (st != VS_OK) return st;
      e->like = like;
      break;
    }
    default: break;
  }
  if (!p) p = build_row(a, e);
  if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory");
  *out = p;
  return VS_OK;
}

vs_status expr_program_build(const expr_node *root, expr_arena *arena,
                             expr_program **out) {
  expr_program *prog = expr_arena_alloc(arena, sizeof *prog);
  if (!prog) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = build(arena, (expr_node *)root, &prog->root);
  if (st != VS_OK) return st;
  *out = prog;
  return VS_OK;
}

/* ============================================================== kernels */

/* Bits of `n` (<= 64) rows from `cond(j)`, 64 at a time so the compiler
 * can vectorise the constant-trip-count loop. */
#define PACK(bits, n, cond)                                          \
  do {                                                               \
    for (size_t w_ = 0; w_ * 64 < (n); w_++) {                       \
      size_t base_ = w_ * 64, lim_ = VS_MIN((size_t)64, (n) - base_); \
      uint64_t m_ = 0;                                               \
      if (lim_ == 64) {                                              \
        for (size_t j_ = 0; j_ < 64; j_++) {                         \
          size_t j = base_ + j_;                                     \
          m_ |= (uint64_t)(cond) << j_;                              \
        }                                                            \
      } else {                                                       \
        for (size_t j_ = 0; j_ < lim_; j_++) {                       \
          size_t j = base_ + j_;                                     \
          m_ |= (uint64_t)(cond) << j_;                              \
        }                                                            \
      }                                                              \
      (bits)[w_] = m_;                                               \
    }                                                                \
  } while (0)

#define CMP_KERNEL(name, T, CT)                                                   \
  static void name(const T *v, size_t n, expr_op op, CT c, uint64_t *bits) {      \
    switch (op) {                                                                 \
      case OP_EQ: PACK(bits, n, v[j] == c); break;                                \
      case OP_NE: PACK(bits, n, v[j] != c); break;                                \
      case OP_LT: PACK(bits, n, v[j] < c); break;                                 \
      case OP_LE: PACK(bits, n, v[j] <= c); break;                                \
      case OP_GT: PACK(bits, n, v[j] > c); break;                                 \
      default: PACK(bits, n, v[j] >= c); break;                                   \
    }                                                                             \
  }

CMP_KERNEL(cmp_i8, int8_t, int64_t)
CMP_KERNEL(cmp_i16, int16_t, int64_t)
CMP_KERNEL(cmp_i32, int32_t, int64_t)
CMP_KERNEL(cmp_i64, int64_t, int64_t)
CMP_KERNEL(cmp_f32, float, float)
CMP_KERNEL(cmp_f64, double, double)

static size_t nwords(size_t n) { return (n + 63) / 64; }

static uint64_t tail_mask(size_t n, size_t w) {
  size_t left = n - w * 64;
  return left >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << left) - 1;
}

/* T = cmp & valid, F = ~cmp & valid. */
static void finish_with_valid(const vs_colview *c, size_t base, size_t n, uint64_t *t,
                              uint64_t *f) {
  uint64_t valid[BLOCK_WORDS];
  const uint8_t *vb = c->valid ? c->valid + base : NULL;
  if (vb) PACK(valid, n, vb[j] != 0);
  for (size_t w = 0; w < nwords(n); w++) {
    uint64_t m = tail_mask(n, w) & (vb ? valid[w] : ~UINT64_C(0));
    f[w] = ~t[w] & m;
    t[w] &= m;
  }
}

static void kernel_varchar(const pnode *p, const vs_colview *c, size_t base, size_t n,
                           uint64_t *bits) {
  const uint64_t *off = c->offsets + base;
  const char *bytes = c->bytes;
  const char *s = p->s;
  size_t m = p->slen;
  if (p->op == OP_EQ || p->op == OP_NE) {
    bool eq = p->op == OP_EQ;
    PACK(bits, n, ((off[j + 1] - off[j] == m) && memcmp(bytes + off[j], s, m) == 0) == eq);
    return;
  }
  for (size_t j = 0; j < n; j++) {
    size_t len = (size_t)(off[j + 1] - off[j]);
    int r = memcmp(bytes + off[j], s, VS_MIN(len, m));
    if (r == 0) r = len < m ? -1 : len > m;
    bool ok = p->op == OP_LT ? r < 0 : p->op == OP_LE ? r <= 0 : p->op == OP_GT ? r > 0 : r >= 0;
    if (j % 64 == 0) bits[j / 64] = 0;
    bits[j / 64] |= (uint64_t)ok << (j % 64);
  }
}

static void kernel_cmp(const pnode *p, const vs_colview *c, size_t base, size_t n, uint64_t *t,
                       uint64_t *f) {
  const uint8_t *fx = c->fixed;
  if (p->mode != CM_COMPARE) {
    for (size_t w = 0; w < nwords(n); w++) t[w] = p->mode == CM_ALL ? ~UINT64_C(0) : 0;
  } else {
    switch (p->ctype) {
      case VS_TYPE_BOOL: {
        const uint8_t *v = fx + base;
        bool want = p->value == (p->op == OP_EQ);
        PACK(t, n, (v[j] != 0) == want);
        break;
      }
      case VS_TYPE_INT8: cmp_i8((const int8_t *)fx + base, n, p->op, p->ival, t); break;
      case VS_TYPE_INT16: cmp_i16((const int16_t *)fx + base, n, p->op, p->ival, t); break;
      case VS_TYPE_INT32: cmp_i32((const int32_t *)fx + base, n, p->op, p->ival, t); break;
      case VS_TYPE_INT64: cmp_i64((const int64_t *)fx + base, n, p->op, p->ival, t); break;
      case VS_TYPE_FLOAT: cmp_f32((const float *)fx + base, n, p->op, p->fval, t); break;
      case VS_TYPE_DOUBLE: cmp_f64((const double *)fx + base, n, p->op, p->dval, t); break;
      default: kernel_varchar(p, c, base, n, t); break;
    }
  }
  finish_with_valid(c, base, n, t, f);
}

static bool int_in_set(const pnode *p, int64_t x) {
  if (p->nset <= 8) {
    for (size_t k = 0; k < p->nset; k++)
      if (p->ints[k] == x) return true;
    return false;
  }
  size_t lo = 0, hi = p->nset;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (p->ints[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < p->nset && p->ints[lo] == x;
}

static bool str_in_set(const pnode *p, const char *s, size_t len) {
  size_t lo = 0, hi = p->nset;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const expr_node *e = p->strs[mid];
    int c = memcmp(e->s, s, VS_MIN(e->slen, len));
    if (c == 0) c = e->slen < len ? -1 : e->slen > len;
    if (c == 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

static int64_t int_at(const vs_colview *c, size_t row) {
  switch (c->type) {
    case VS_TYPE_INT8: return ((const int8_t *)c->fixed)[row];
    case VS_TYPE_INT16: return ((const int16_t *)c->fixed)[row];
    case VS_TYPE_INT32: return ((const int32_t *)c->fixed)[row];
    default: return ((const int64_t *)c->fixed)[row];
  }
}

static void kernel_in(const pnode *p, const vs_colview *c, size_t base, size_t n, uint64_t *t,
                      uint64_t *f) {
  bool neg = p->negated;
  if (p->kind == P_IN_INT) {
    PACK(t, n, int_in_set(p, int_at(c, base + j)) != neg);
  } else {
    const uint64_t *off = c->offsets + base;
    PACK(t, n, str_in_set(p, c->bytes + off[j], (size_t)(off[j + 1] - off[j])) != neg);
  }
  finish_with_valid(c, base, n, t, f);
}

static void kernel_null(const pnode *p, const vs_colview *c, size_t base, size_t n, uint64_t *t,
                        uint64_t *f) {
  const uint8_t *vb = c->valid ? c->valid + base : NULL;
  bool want_null = !p->negated;
  if (vb) {
    PACK(t, n, (vb[j] == 0) == want_null);
  } else {
    for (size_t w = 0; w < nwords(n); w++) t[w] = want_null ? 0 : ~UINT64_C(0);
  }
  for (size_t w = 0; w < nwords(n); w++) {
    t[w] &= tail_mask(n, w);
    f[w] = ~t[w] & tail_mask(n, w);
  }
}

static void kernel_row(const pnode *p, expr_row_ctx *ctx, size_t base, size_t n, uint64_t *t,
                       uint64_t *f) {
  memset(t, 0, nwords(n) * sizeof *t);
  memset(f, 0, nwords(n) * sizeof *f);
  for (size_t j = 0; j < n; j++) {
    expr_truth r = expr_row_pred(p->ast, ctx, base + j);
    if (r == EXPR_TRUE) t[j / 64] |= UINT64_C(1) << (j % 64);
    if (r == EXPR_FALSE) f[j / 64] |= UINT64_C(1) << (j % 64);
  }
}

/* ============================================================ evaluation */

static bool none_set(const uint64_t *bits, size_t n) {
  for (size_t w = 0; w < nwords(n); w++)
    if (bits[w]) return false;
  return true;
}

static bool all_set(const uint64_t *bits, size_t n) {
  for (size_t w = 0; w < nwords(n); w++)
    if (bits[w] != tail_mask(n, w)) return false;
  return true;
}

static void eval_node(const pnode *p, expr_row_ctx *ctx, size_t base, size_t n, uint64_t *t,
                      uint64_t *f, bool need_f);

static void eval_logic(const pnode *p, expr_row_ctx *ctx, size_t base, size_t n, uint64_t *t,
                       uint64_t *f, bool need_f) {
  uint64_t t2[BLOCK_WORDS], f2[BLOCK_WORDS];
  bool is_and = p->kind == P_AND;
  eval_node(p->kids[0], ctx, base, n, t, f, need_f);
  for (size_t k = 1; k < p->nkids; k++) {
    if (!need_f && (is_and ? none_set(t, n) : all_set(t, n))) return;
    eval_node(p->kids[k], ctx, base, n, t2, f2, need_f);
    for (size_t w = 0; w < nwords(n); w++) {
      t[w] = is_and ? t[w] & t2[w] : t[w] | t2[w];
      f[w] = is_and ? f[w] | f2[w] : f[w] & f2[w];
    }
  }
}

static void eval_node(const pnode *p, expr_row_ctx *ctx, size_t base, size_t n, uint64_t *t,
                      uint64_t *f, bool need_f) {
  const vs_colview *c = &ctx->cols[p->column];
  switch (p->kind) {
    case P_CONST:
      for (size_t w = 0; w < nwords(n); w++) {
        t[w] = p->value ? tail_mask(n, w) : 0;
        f[w] = p->value ? 0 : tail_mask(n, w);
      }
      return;
    case P_AND: case P_OR: eval_logic(p, ctx, base, n, t, f, need_f); return;
    case P_NOT: eval_node(p->kids[0], ctx, base, n, f, t, true); return;
    case P_CMP: kernel_cmp(p, c, base, n, t, f); return;
    case P_IN_INT: case P_IN_STR: kernel_in(p, c, base, n, t, f); return;
    case P_NULL: kernel_null(p, c, base, n, t, f); return;
    default: kernel_row(p, ctx, base, n, t, f); return;
  }
}

static void store_bits(vs_bitset *out, size_t base, size_t n, const uint64_t *t) {
  if (base % 64 == 0) {
    uint64_t *dst = out->words + base / 64;
    for (size_t w = 0; w < nwords(n); w++) {
      uint64_t m = tail_mask(n, w);
      dst[w] = (dst[w] & ~m) | (t[w] & m);
    }
    return;
  }
  for (size_t j = 0; j < n; j++) {
    if ((t[j / 64] >> (j % 64)) & 1) vs_bitset_set(out, base + j);
    else vs_bitset_clear(out, base + j);
  }
}

void expr_program_eval(const expr_program *prog, const vs_colview *cols,
                       size_t begin, size_t end, vs_bitset *out) {
  uint64_t t[BLOCK_WORDS], f[BLOCK_WORDS];
  expr_row_ctx ctx = {cols, NULL, 0};
  for (size_t base = begin; base < end; base += BLOCK_ROWS) {
    size_t n = VS_MIN((size_t)BLOCK_ROWS, end - base);
    if (prog) {
      eval_node(prog->root, &ctx, base, n, t, f, false);
    } else {
      for (size_t w = 0; w < nwords(n); w++) t[w] = tail_mask(n, w);
    }
    store_bits(out, base, n, t);
  }
  expr_row_ctx_free(&ctx);
}
