/*
 * row.c -- the compiled program's per-row evaluator.
 *
 * program.c vectorises the common shapes (a column against constants,
 * `in` over a column, null tests, and/or/not); every other predicate -- JSON
 * paths, Array elements, arithmetic, like, the contains functions -- is
 * evaluated here one row at a time over the checked tree.  JSON is read
 * with the allocation-free scanner (json_scan.c); strings are compared
 * without decoding; only `like` on a JSON string holding escapes decodes
 * it, into scratch memory owned by the evaluating call.
 *
 * Values carry two kinds of "no value": NULL (the row's field is null:
 * every predicate on it is UNKNOWN, which `not` keeps UNKNOWN) and ABSENT
 * (a missing JSON key, an index out of range, a JSON value of another
 * type, a zero integer divisor: comparisons are FALSE except != which is
 * TRUE, as in Milvus).  docs/filters.md states the rules; reference.c
 * implements them independently.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"
#include "expr/indexable.h"

typedef enum rv_kind { RV_NULL, RV_ABSENT, RV_BOOL, RV_INT, RV_FLOAT, RV_STR, RV_ARR, RV_OTHER } rv_kind;

typedef struct rv {
  rv_kind k;
  bool esc;      /* RV_STR holds JSON-escaped content */
  bool b;
  int64_t i;
  double f;
  const char *s; /* RV_STR content, RV_ARR array text */
  size_t n;
} rv;

static rv make_kind(rv_kind k) {
  rv v;
  memset(&v, 0, sizeof v);
  v.k = k;
  return v;
}

static rv from_span(const json_span *sp) {
  rv v = make_kind(RV_ABSENT);
  bool is_int;
  switch (sp->kind) {
    case JV_TRUE: case JV_FALSE:
      v.k = RV_BOOL;
      v.b = sp->kind == JV_TRUE;
      break;
    case JV_NUMBER:
      if (json_number(sp, &is_int, &v.i, &v.f)) v.k = is_int ? RV_INT : RV_FLOAT;
      break;
    case JV_STRING:
      v.k = RV_STR;
      v.esc = sp->escaped;
      v.s = sp->p;
      v.n = sp->len;
      break;
    case JV_ARRAY:
      v.k = RV_ARR;
      v.s = sp->p;
      v.n = sp->len;
      break;
    case JV_OBJECT: v.k = RV_OTHER; break;
    default: break;
  }
  return v;
}

static bool row_is_null(const vs_colview *c, size_t row) { return c->valid && !c->valid[row]; }

static void var_cell(const vs_colview *c, size_t row, const char **p, size_t *n) {
  *p = c->bytes + c->offsets[row];
  *n = (size_t)(c->offsets[row + 1] - c->offsets[row]);
}

/* The JSON span of a JSON/Array path (the row must not be null). */
static json_span path_span(const expr_node *e, const vs_colview *c, size_t row) {
  const char *p;
  size_t n;
  var_cell(c, row, &p, &n);
  return json_find(p, n, e->steps, e->nsteps);
}

static rv fixed_value(const vs_colview *c, size_t row) {
  rv v = make_kind(RV_INT);
  const uint8_t *f = c->fixed;
  switch (c->type) {
    case VS_TYPE_BOOL: v.k = RV_BOOL; v.b = f[row] != 0; break;
    case VS_TYPE_INT8: v.i = ((const int8_t *)f)[row]; break;
    case VS_TYPE_INT16: v.i = ((const int16_t *)f)[row]; break;
    case VS_TYPE_INT32: v.i = ((const int32_t *)f)[row]; break;
    case VS_TYPE_INT64: v.i = ((const int64_t *)f)[row]; break;
    case VS_TYPE_FLOAT: v.k = RV_FLOAT; v.f = ((const float *)f)[row]; break;
    case VS_TYPE_DOUBLE: v.k = RV_FLOAT; v.f = ((const double *)f)[row]; break;
    default: v.k = RV_ABSENT; break;
  }
  return v;
}

static rv path_value(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  const vs_colview *c = &ctx->cols[e->column];
  if (row_is_null(c, row)) return make_kind(RV_NULL);
  if (c->type == VS_TYPE_VARCHAR) {
    rv v = make_kind(RV_STR);
    var_cell(c, row, &v.s, &v.n);
    return v;
  }
  if (c->type == VS_TYPE_JSON || c->type == VS_TYPE_ARRAY) {
    json_span sp = path_span(e, c, row);
    return from_span(&sp);
  }
  return fixed_value(c, row);
}

static bool is_number(const rv *v) { return v->k == RV_INT || v->k == RV_FLOAT; }

static rv arith_int(expr_op op, int64_t a, int64_t b) {
  rv v = make_kind(RV_INT);
  uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  switch (op) {
    case OP_ADD: v.i = (int64_t)(ua + ub); break;
    case OP_SUB: v.i = (int64_t)(ua - ub); break;
    case OP_MUL: v.i = (int64_t)(ua * ub); break;
    case OP_DIV:
      if (b == 0) return make_kind(RV_ABSENT);
      v.i = (a == INT64_MIN && b == -1) ? INT64_MIN : a / b;
      break;
    default:
      if (b == 0) return make_kind(RV_ABSENT);
      v.i = b == -1 ? 0 : a % b;
      break;
  }
  return v;
}

static double as_double(const rv *v) { return v->k == RV_INT ? (double)v->i : v->f; }

static rv arith(expr_op op, const rv *a, const rv *b) {
  if (a->k == RV_NULL || b->k == RV_NULL) return make_kind(RV_NULL);
  if (!is_number(a) || !is_number(b)) return make_kind(RV_ABSENT);
  if (op != OP_POW && a->k == RV_INT && b->k == RV_INT) return arith_int(op, a->i, b->i);
  rv v = make_kind(RV_FLOAT);
  double x = as_double(a), y = as_double(b);
  switch (op) {
    case OP_ADD: v.f = x + y; break;
    case OP_SUB: v.f = x - y; break;
    case OP_MUL: v.f = x * y; break;
    case OP_DIV: v.f = x / y; break;
    case OP_MOD: v.f = fmod(x, y); break;
    default: v.f = pow(x, y); break;
  }
  return v;
}

static rv row_value(const expr_node *e, expr_row_ctx *ctx, size_t row);

static rv negate(rv v) {
  if (v.k == RV_INT) {
    v.i = (int64_t)(0 - (uint64_t)v.i);
  } else if (v.k == RV_FLOAT) {
    v.f = -v.f;
  } else if (v.k != RV_NULL) {
    v = make_kind(RV_ABSENT);
  }
  return v;
}

static rv array_length_value(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  rv a = row_value(e->kids[0], ctx, row);
  if (a.k == RV_NULL) return a;
  if (a.k != RV_ARR) return make_kind(RV_ABSENT);
  json_span sp = {JV_ARRAY, false, a.s, a.n};
  rv v = make_kind(RV_INT);
  v.i = (int64_t)json_array_length(&sp);
  return v;
}

static rv row_value(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  rv v = make_kind(RV_ABSENT);
  switch (e->kind) {
    case N_BOOL: v.k = RV_BOOL; v.b = e->b; return v;
    case N_INT: v.k = RV_INT; v.i = e->i; return v;
    case N_FLOAT: v.k = RV_FLOAT; v.f = e->f; return v;
    case N_STRING: v.k = RV_STR; v.s = e->s; v.n = e->slen; return v;
    case N_PATH: return path_value(e, ctx, row);
    case N_UNARY: {
      rv a = row_value(e->kids[0], ctx, row);
      return e->op == OP_NEG ? negate(a) : (a.k == RV_NULL || is_number(&a) ? a : v);
    }
    case N_ARITH: {
      rv a = row_value(e->kids[0], ctx, row);
      rv b = row_value(e->kids[1], ctx, row);
      return arith(e->op, &a, &b);
    }
    case N_CALL: return array_length_value(e, ctx, row);
    default: return v;
  }
}

/* -------------------------------------------------------------- compare */

int vs_cmp_int_double(int64_t i, double d) {
  if (isnan(d)) return 2;
  if (d >= 9223372036854775808.0) return -1;
  if (d < -9223372036854775808.0) return 1;
  double t = trunc(d);
  int64_t ti = (int64_t)t;
  if (i != ti) return i < ti ? -1 : 1;
  return d > t ? -1 : (d < t ? 1 : 0);
}

/* -1, 0, 1; 2 = unordered (NaN); 3 = not comparable. */
static int cmp_values(const rv *a, const rv *b) {
  if (a->k == RV_INT && b->k == RV_INT) return a->i < b->i ? -1 : a->i > b->i;
  if (a->k == RV_INT && b->k == RV_FLOAT) return vs_cmp_int_double(a->i, b->f);
  if (a->k == RV_FLOAT && b->k == RV_INT) {
    int c = vs_cmp_int_double(b->i, a->f);
    return c == 2 ? 2 : -c;
  }
  if (a->k == RV_FLOAT && b->k == RV_FLOAT) {
    if (isnan(a->f) || isnan(b->f)) return 2;
    return a->f < b->f ? -1 : a->f > b->f;
  }
  if (a->k == RV_STR && b->k == RV_STR) {
    int c = json_string_cmp(a->s, a->n, a->esc, b->s, b->n, b->esc);
    return c < 0 ? -1 : c > 0;
  }
  if (a->k == RV_BOOL && b->k == RV_BOOL) return a->b == b->b ? 0 : 4;
  return 3;
}

static expr_truth compare(const rv *a, const rv *b, expr_op op) {
  if (a->k == RV_NULL || b->k == RV_NULL) return EXPR_UNKNOWN;
  int c = cmp_values(a, b);
  if (op == OP_NE) return c != 0 ? EXPR_TRUE : EXPR_FALSE;
  if (c >= 2) return EXPR_FALSE; /* NaN, not comparable, unequal booleans */
  if (a->k == RV_BOOL && op != OP_EQ) return EXPR_FALSE; /* no bool ordering */
  switch (op) {
    case OP_EQ: return c == 0 ? EXPR_TRUE : EXPR_FALSE;
    case OP_LT: return c < 0 ? EXPR_TRUE : EXPR_FALSE;
    case OP_LE: return c <= 0 ? EXPR_TRUE : EXPR_FALSE;
    case OP_GT: return c > 0 ? EXPR_TRUE : EXPR_FALSE;
    default: return c >= 0 ? EXPR_TRUE : EXPR_FALSE;
  }
}

static bool is_float_column(const expr_node *e) {
  return e->kind == N_PATH && e->col_type == VS_TYPE_FLOAT && e->nsteps == 0;
}
static bool is_number_const(const expr_node *e) { return e->kind == N_INT || e->kind == N_FLOAT; }

/* The value of `e`, rounded to float when it is a constant compared with
 * a Float field (Milvus compares Float fields in single precision). */
static rv operand(const expr_node *e, const expr_node *other, expr_row_ctx *ctx, size_t row) {
  rv v = row_value(e, ctx, row);
  if (is_number_const(e) && is_float_column(other)) {
    v.f = (double)(float)as_double(&v);
    v.k = RV_FLOAT;
  }
  return v;
}

static expr_truth compare_nodes(const expr_node *a, const expr_node *b, expr_op op,
                                expr_row_ctx *ctx, size_t row) {
  rv x = operand(a, b, ctx, row), y = operand(b, a, ctx, row);
  return compare(&x, &y, op);
}

/* ------------------------------------------------------------ predicates */

static expr_truth truth_of(bool b) { return b ? EXPR_TRUE : EXPR_FALSE; }

static expr_truth kleene_and(expr_truth a, expr_truth b) {
  if (a == EXPR_FALSE || b == EXPR_FALSE) return EXPR_FALSE;
  return (a == EXPR_UNKNOWN || b == EXPR_UNKNOWN) ? EXPR_UNKNOWN : EXPR_TRUE;
}

static expr_truth pred_logic(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  bool is_and = e->op == OP_AND, unknown = false;
  for (size_t k = 0; k < e->nkids; k++) {
    expr_truth r = expr_row_pred(e->kids[k], ctx, row);
    if (r == EXPR_UNKNOWN) unknown = true;
    if (r == (is_and ? EXPR_FALSE : EXPR_TRUE)) return r;
  }
  if (unknown) return EXPR_UNKNOWN;
  return is_and ? EXPR_TRUE : EXPR_FALSE;
}

static expr_truth pred_in(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  const expr_node *list = e->kids[1];
  rv v = row_value(e->kids[0], ctx, row);
  if (v.k == RV_NULL) return EXPR_UNKNOWN;
  bool found = false;
  for (size_t k = 0; k < list->nkids && !found; k++) {
    rv item = operand(list->kids[k], e->kids[0], ctx, row);
    found = compare(&v, &item, OP_EQ) == EXPR_TRUE;
  }
  return truth_of(found != e->negated);
}

static expr_truth pred_like(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  rv v = row_value(e->kids[0], ctx, row);
  if (v.k == RV_NULL) return EXPR_UNKNOWN;
  if (v.k != RV_STR) return EXPR_FALSE;
  const char *s = v.s;
  size_t n = v.n;
  if (v.esc) {
    if (ctx->scratch_cap < n) {
      char *grown = realloc(ctx->scratch, n);
      if (!grown) return EXPR_FALSE; /* out of memory: no match */
      ctx->scratch = grown;
      ctx->scratch_cap = n;
    }
    n = json_string_decode(v.s, v.n, ctx->scratch);
    s = ctx->scratch;
  }
  return truth_of(expr_like_match(e->like, s, n));
}

static expr_truth pred_isnull(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  const expr_node *p = e->kids[0];
  const vs_colview *c = &ctx->cols[p->column];
  bool is_null = row_is_null(c, row);
  if (!is_null && (c->type == VS_TYPE_JSON || c->type == VS_TYPE_ARRAY)) {
    json_span sp = path_span(p, c, row);
    is_null = sp.kind == JV_MISSING || sp.kind == JV_NULL;
  }
  return truth_of(is_null != e->negated);
}

static expr_truth pred_exists(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  const expr_node *p = e->kids[0];
  const vs_colview *c = &ctx->cols[p->column];
  if (row_is_null(c, row)) return EXPR_FALSE;
  return truth_of(path_span(p, c, row).kind != JV_MISSING);
}

/* Does the array text contain an element equal to `want`? */
static bool array_has(const rv *arr, const rv *want) {
  json_span sp = {JV_ARRAY, false, arr->s, arr->n}, el;
  json_iter it;
  json_iter_init(&it, &sp);
  while (json_iter_next(&it, &el)) {
    rv v = from_span(&el);
    if (compare(&v, want, OP_EQ) == EXPR_TRUE) return true;
  }
  return false;
}

static expr_truth pred_contains(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  rv arr = row_value(e->kids[0], ctx, row);
  if (arr.k == RV_NULL) return EXPR_UNKNOWN;
  if (arr.k != RV_ARR) return EXPR_FALSE;
  const expr_node *v = e->kids[1];
  if (e->fn == FN_JSON_CONTAINS || e->fn == FN_ARRAY_CONTAINS) {
    rv want = row_value(v, ctx, row);
    return truth_of(array_has(&arr, &want));
  }
  bool all = e->fn == FN_JSON_CONTAINS_ALL || e->fn == FN_ARRAY_CONTAINS_ALL;
  for (size_t k = 0; k < v->nkids; k++) {
    rv want = row_value(v->kids[k], ctx, row);
    bool has = array_has(&arr, &want);
    if (has != all) return truth_of(has);
  }
  return truth_of(all);
}

static expr_truth pred_value(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  rv v = row_value(e, ctx, row);
  if (v.k == RV_NULL) return EXPR_UNKNOWN;
  return truth_of(v.k == RV_BOOL && v.b);
}

expr_truth expr_row_pred(const expr_node *e, expr_row_ctx *ctx, size_t row) {
  switch (e->kind) {
    case N_UNARY: {
      expr_truth r = expr_row_pred(e->kids[0], ctx, row);
      return r == EXPR_UNKNOWN ? r : truth_of(r == EXPR_FALSE);
    }
    case N_LOGIC: return pred_logic(e, ctx, row);
    case N_CMP: return compare_nodes(e->kids[0], e->kids[1], e->op, ctx, row);
    case N_RANGE:
      return kleene_and(compare_nodes(e->kids[0], e->kids[1], e->op, ctx, row),
                        compare_nodes(e->kids[1], e->kids[2], e->op2, ctx, row));
    case N_IN: return pred_in(e, ctx, row);
    case N_LIKE: return pred_like(e, ctx, row);
    case N_ISNULL: return pred_isnull(e, ctx, row);
    case N_EXISTS: return pred_exists(e, ctx, row);
    case N_CALL: return pred_contains(e, ctx, row);
    default: return pred_value(e, ctx, row);
  }
}

void expr_row_ctx_free(expr_row_ctx *ctx) {
  free(ctx->scratch);
  ctx->scratch = NULL;
  ctx->scratch_cap = 0;
}
