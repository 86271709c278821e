/*
 * reference.c -- the slow, obviously-correct interpreter of a checked tree
 * for one row (vs_expr_eval_row_reference): the oracle that the tests and
 * the fuzzer hold the compiled program to.
 *
 * It shares nothing with the program but the tree: JSON cells are parsed
 * with jansson into a tree per lookup (not the scanner), numbers are
 * compared as long double (exact for int64 and double on x86-64, where
 * the program uses integer/fraction splitting), `like` is a
 * dynamic-programming matcher (the program uses greedy glob matching with
 * memmem fast paths), and `in` is a linear scan (the program sorts and
 * binary-searches).  Semantics, as in docs/filters.md: three-valued logic
 * where a null field makes a predicate UNKNOWN; a missing JSON key, an
 * index out of range or a value of another type makes a comparison FALSE
 * (and != TRUE).
 *
 * Speed is no goal here; allocation per row is fine.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"

typedef enum rkind { R_NULL, R_ABSENT, R_BOOL, R_NUM, R_STR, R_ARR, R_OTHER } rkind;

typedef struct rval {
  rkind k;
  bool b;
  bool is_int;
  int64_t i;
  double d;
  const char *s;
  size_t n;
  const json_t *arr;
} rval;

/* JSON documents loaded for the current row; freed after the row. */
typedef struct rctx {
  const vs_colview *cols;
  size_t row;
  json_t **docs;
  size_t ndocs, cap;
} rctx;

static rval rk(rkind k) {
  rval v;
  memset(&v, 0, sizeof v);
  v.k = k;
  return v;
}

static rval rint_(int64_t i) {
  rval v = rk(R_NUM);
  v.is_int = true;
  v.i = i;
  return v;
}

static rval rdouble(double d) {
  rval v = rk(R_NUM);
  v.d = d;
  return v;
}

static long double as_ld(const rval *v) { return v->is_int ? (long double)v->i : (long double)v->d; }
static double as_d(const rval *v) { return v->is_int ? (double)v->i : v->d; }

static rval from_json(const json_t *j) {
  rval v = rk(R_ABSENT);
  if (json_is_boolean(j)) {
    v.k = R_BOOL;
    v.b = json_is_true(j);
  } else if (json_is_integer(j)) {
    v = rint_(json_integer_value(j));
  } else if (json_is_real(j)) {
    v = rdouble(json_real_value(j));
  } else if (json_is_string(j)) {
    v.k = R_STR;
    v.s = json_string_value(j);
    v.n = json_string_length(j);
  } else if (json_is_array(j)) {
    v.k = R_ARR;
    v.arr = j;
  } else if (json_is_object(j)) {
    v.k = R_OTHER;
  }
  return v;
}

static json_t *load_cell(rctx *c, const vs_colview *col) {
  const char *p = col->bytes + col->offsets[c->row];
  size_t n = (size_t)(col->offsets[c->row + 1] - col->offsets[c->row]);
  json_error_t err;
  json_t *doc = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!doc) return NULL;
  if (c->ndocs == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    json_t **grown = realloc(c->docs, cap * sizeof *grown);
    if (!grown) {
      json_decref(doc);
      return NULL;
    }
    c->docs = grown;
    c->cap = cap;
  }
  c->docs[c->ndocs++] = doc;
  return doc;
}

/* The JSON value at the node's path, or NULL when absent. */
static const json_t *walk(const json_t *j, const expr_node *e) {
  for (size_t k = 0; k < e->nsteps && j; k++) {
    const expr_step *s = &e->steps[k];
    if (s->is_index) {
      j = json_is_array(j) && s->index >= 0 && (size_t)s->index < json_array_size(j)
              ? json_array_get(j, (size_t)s->index) : NULL;
    } else {
      j = json_is_object(j) ? json_object_getn(j, s->key, s->key_len) : NULL;
    }
  }
  return j;
}

static bool null_row(const vs_colview *col, size_t row) { return col->valid && col->valid[row] == 0; }

static rval ref_path(rctx *c, const expr_node *e) {
  const vs_colview *col = &c->cols[e->column];
  size_t r = c->row;
  if (null_row(col, r)) return rk(R_NULL);
  const uint8_t *f = col->fixed;
  switch (e->col_type) {
    case VS_TYPE_BOOL: { rval v = rk(R_BOOL); v.b = f[r] != 0; return v; }
    case VS_TYPE_INT8: return rint_(((const int8_t *)f)[r]);
    case VS_TYPE_INT16: return rint_(((const int16_t *)f)[r]);
    case VS_TYPE_INT32: return rint_(((const int32_t *)f)[r]);
    case VS_TYPE_INT64: return rint_(((const int64_t *)f)[r]);
    case VS_TYPE_FLOAT: return rdouble(((const float *)f)[r]);
    case VS_TYPE_DOUBLE: return rdouble(((const double *)f)[r]);
    case VS_TYPE_VARCHAR: {
      rval v = rk(R_STR);
      v.s = col->bytes + col->offsets[r];
      v.n = (size_t)(col->offsets[r + 1] - col->offsets[r]);
      return v;
    }
    default: {
      const json_t *doc = load_cell(c, col);
      const json_t *j = doc ? walk(doc, e) : NULL;
      return j ? from_json(j) : rk(R_ABSENT);
    }
  }
}

static rval ref_value(rctx *c, const expr_node *e);

static rval ref_arith(rctx *c, const expr_node *e) {
  rval a = ref_value(c, e->kids[0]), b = ref_value(c, e->kids[1]);
  if (a.k == R_NULL || b.k == R_NULL) return rk(R_NULL);
  if (a.k != R_NUM || b.k != R_NUM) return rk(R_ABSENT);
  if (e->op != OP_POW && a.is_int && b.is_int) {
    uint64_t x = (uint64_t)a.i, y = (uint64_t)b.i;
    switch (e->op) {
      case OP_ADD: return rint_((int64_t)(x + y));
      case OP_SUB: return rint_((int64_t)(x - y));
      case OP_MUL: return rint_((int64_t)(x * y));
      case OP_DIV:
        if (b.i == 0) return rk(R_ABSENT);
        if (b.i == -1) return rint_((int64_t)(0 - x));
        return rint_(a.i / b.i);
      default:
        if (b.i == 0) return rk(R_ABSENT);
        if (b.i == -1) return rint_(0);
        return rint_(a.i % b.i);
    }
  }
  double x = as_d(&a), y = as_d(&b);
  switch (e->op) {
    case OP_ADD: return rdouble(x + y);
    case OP_SUB: return rdouble(x - y);
    case OP_MUL: return rdouble(x * y);
    case OP_DIV: return rdouble(x / y);
    case OP_MOD: return rdouble(fmod(x, y));
    default: return rdouble(pow(x, y));
  }
}

static rval ref_value(rctx *c, const expr_node *e) {
  switch (e->kind) {
    case N_BOOL: { rval v = rk(R_BOOL); v.b = e->b; return v; }
    case N_INT: return rint_(e->i);
    case N_FLOAT: return rdouble(e->f);
    case N_STRING: { rval v = rk(R_STR); v.s = e->s; v.n = e->slen; return v; }
    case N_PATH: return ref_path(c, e);
    case N_ARITH: return ref_arith(c, e);
    case N_UNARY: {
      rval v = ref_value(c, e->kids[0]);
      if (v.k == R_NULL) return v;
      if (v.k != R_NUM) return rk(R_ABSENT);
      if (e->op == OP_POS) return v;
      return v.is_int ? rint_((int64_t)(0 - (uint64_t)v.i)) : rdouble(-v.d);
    }
    case N_CALL: { /* array_length */
      rval v = ref_value(c, e->kids[0]);
      if (v.k == R_NULL) return v;
      return v.k == R_ARR ? rint_((int64_t)json_array_size(v.arr)) : rk(R_ABSENT);
    }
    default: return rk(R_ABSENT);
  }
}

/* ------------------------------------------------------------ comparing */

static bool float_field(const expr_node *e) {
  return e->kind == N_PATH && e->nsteps == 0 && e->col_type == VS_TYPE_FLOAT;
}

static rval ref_operand(rctx *c, const expr_node *e, const expr_node *other) {
  rval v = ref_value(c, e);
  if ((e->kind == N_INT || e->kind == N_FLOAT) && float_field(other)) {
    float f = (float)as_d(&v);
    v = rdouble((double)f);
  }
  return v;
}

static int sign_of(long double a, long double b) { return a < b ? -1 : (a > b ? 1 : 0); }

/* The truth of a op b, both non-null. */
static expr_truth ref_cmp_values(const rval *a, const rval *b, expr_op op) {
  int c;
  bool ordered = true;
  if (a->k == R_NUM && b->k == R_NUM) {
    long double x = as_ld(a), y = as_ld(b);
    if (isnan(x) || isnan(y)) ordered = false;
    c = sign_of(x, y);
  } else if (a->k == R_STR && b->k == R_STR) {
    size_t m = a->n < b->n ? a->n : b->n;
    c = memcmp(a->s, b->s, m);
    if (c == 0) c = a->n < b->n ? -1 : (a->n > b->n ? 1 : 0);
  } else if (a->k == R_BOOL && b->k == R_BOOL) {
    if (op == OP_EQ) return a->b == b->b ? EXPR_TRUE : EXPR_FALSE;
    if (op == OP_NE) return a->b != b->b ? EXPR_TRUE : EXPR_FALSE;
    return EXPR_FALSE;
  } else {
    return op == OP_NE ? EXPR_TRUE : EXPR_FALSE;
  }
  bool r;
  if (!ordered) return op == OP_NE ? EXPR_TRUE : EXPR_FALSE;
  switch (op) {
    case OP_EQ: r = c == 0; break;
    case OP_NE: r = c != 0; break;
    case OP_LT: r = c < 0; break;
    case OP_LE: r = c <= 0; break;
    case OP_GT: r = c > 0; break;
    default: r = c >= 0; break;
  }
  return r ? EXPR_TRUE : EXPR_FALSE;
}

static expr_truth ref_compare(rctx *c, const expr_node *x, expr_op op, const expr_node *y) {
  rval a = ref_operand(c, x, y), b = ref_operand(c, y, x);
  if (a.k == R_NULL || b.k == R_NULL) return EXPR_UNKNOWN;
  return ref_cmp_values(&a, &b, op);
}

/* ----------------------------------------------------------------- like */

static size_t unit_len(const char *s, size_t at, size_t n) {
  size_t k = at + 1;
  while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80) k++;
  return k - at;
}

typedef struct lunit {
  char kind; /* '%', '_', 'c' */
  const char *p;
  size_t n;
} lunit;

static bool ref_like(const char *pat, size_t plen, const char *s, size_t n) {
  lunit *u = malloc((plen + 1) * sizeof *u);
  size_t *starts = malloc((n + 1) * sizeof *starts);
  bool *prev = calloc(n + 2, 1), *cur = calloc(n + 2, 1);
  bool result = false;
  if (!u || !starts || !prev || !cur) goto done;
  size_t nu = 0, nt = 0;
  for (size_t k = 0; k < plen;) {
    if (pat[k] == '%' || pat[k] == '_') {
      u[nu++] = (lunit){pat[k], NULL, 0};
      k++;
      continue;
    }
    if (pat[k] == '\\') k++;
    size_t l = unit_len(pat, k, plen);
    u[nu++] = (lunit){'c', pat + k, l};
    k += l;
  }
  for (size_t k = 0; k < n; k += unit_len(s, k, n)) starts[nt++] = k;
  starts[nt] = n;
  /* prev[j]: units[0..i) match chars[0..j) */
  prev[0] = true;
  for (size_t i = 0; i < nu; i++) {
    memset(cur, 0, nt + 1);
    for (size_t j = 0; j <= nt; j++) {
      if (u[i].kind == '%') {
        cur[j] = prev[j] || (j > 0 && cur[j - 1]);
      } else if (j > 0 && prev[j - 1]) {
        size_t cl = starts[j] - starts[j - 1];
        cur[j] = u[i].kind == '_' ||
                 (cl == u[i].n && memcmp(s + starts[j - 1], u[i].p, cl) == 0);
      }
    }
    bool *tmp = prev;
    prev = cur;
    cur = tmp;
  }
  result = prev[nt];
done:
  free(u);
  free(starts);
  free(prev);
  free(cur);
  return result;
}

/* ------------------------------------------------------------ predicates */

static expr_truth ref_pred(rctx *c, const expr_node *e);

static expr_truth tv(bool b) { return b ? EXPR_TRUE : EXPR_FALSE; }

static expr_truth ref_not(expr_truth t) {
  if (t == EXPR_UNKNOWN) return t;
  return t == EXPR_TRUE ? EXPR_FALSE : EXPR_TRUE;
}

static expr_truth ref_and(expr_truth a, expr_truth b) {
  if (a == EXPR_FALSE || b == EXPR_FALSE) return EXPR_FALSE;
  if (a == EXPR_TRUE && b == EXPR_TRUE) return EXPR_TRUE;
  return EXPR_UNKNOWN;
}

static expr_truth ref_or(expr_truth a, expr_truth b) {
  return ref_not(ref_and(ref_not(a), ref_not(b)));
}

static bool ref_array_has(const json_t *arr, const rval *want) {
  for (size_t k = 0; k < json_array_size(arr); k++) {
    rval el = from_json(json_array_get(arr, k));
    if (ref_cmp_values(&el, want, OP_EQ) == EXPR_TRUE) return true;
  }
  return false;
}

static expr_truth ref_call(rctx *c, const expr_node *e) {
  rval a = ref_value(c, e->kids[0]);
  if (a.k == R_NULL) return EXPR_UNKNOWN;
  if (a.k != R_ARR) return EXPR_FALSE;
  const expr_node *v = e->kids[1];
  if (e->fn == FN_JSON_CONTAINS || e->fn == FN_ARRAY_CONTAINS) {
    rval w = ref_value(c, v);
    return tv(ref_array_has(a.arr, &w));
  }
  size_t found = 0;
  for (size_t k = 0; k < v->nkids; k++) {
    rval w = ref_value(c, v->kids[k]);
    found += ref_array_has(a.arr, &w);
  }
  if (e->fn == FN_JSON_CONTAINS_ALL || e->fn == FN_ARRAY_CONTAINS_ALL) return tv(found == v->nkids);
  return tv(found > 0);
}

static expr_truth ref_in(rctx *c, const expr_node *e) {
  rval v = ref_value(c, e->kids[0]);
  if (v.k == R_NULL) return EXPR_UNKNOWN;
  bool found = false;
  for (size_t k = 0; k < e->kids[1]->nkids; k++) {
    rval item = ref_operand(c, e->kids[1]->kids[k], e->kids[0]);
    if (ref_cmp_values(&v, &item, OP_EQ) == EXPR_TRUE) found = true;
  }
  return tv(e->negated ? !found : found);
}

/* Is the path null/absent?  Never UNKNOWN. */
static bool ref_is_null(rctx *c, const expr_node *p) {
  const vs_colview *col = &c->cols[p->column];
  if (null_row(col, c->row)) return true;
  if (p->col_type != VS_TYPE_JSON && p->col_type != VS_TYPE_ARRAY) return false;
  const json_t *doc = load_cell(c, col);
  const json_t *j = doc ? walk(doc, p) : NULL;
  return !j || json_is_null(j);
}

static bool ref_exists(rctx *c, const expr_node *p) {
  const vs_colview *col = &c->cols[p->column];
  if (null_row(col, c->row)) return false;
  const json_t *doc = load_cell(c, col);
  return doc && walk(doc, p) != NULL;
}

static expr_truth ref_logic(rctx *c, const expr_node *e) {
  expr_truth r = ref_pred(c, e->kids[0]);
  for (size_t k = 1; k < e->nkids; k++) {
    expr_truth x = ref_pred(c, e->kids[k]);
    r = e->op == OP_AND ? ref_and(r, x) : ref_or(r, x);
  }
  return r;
}

static expr_truth ref_pred(rctx *c, const expr_node *e) {
  switch (e->kind) {
    case N_LOGIC: return ref_logic(c, e);
    case N_UNARY: return ref_not(ref_pred(c, e->kids[0]));
    case N_CMP: return ref_compare(c, e->kids[0], e->op, e->kids[1]);
    case N_RANGE:
      return ref_and(ref_compare(c, e->kids[0], e->op, e->kids[1]),
                     ref_compare(c, e->kids[1], e->op2, e->kids[2]));
    case N_IN: return ref_in(c, e);
    case N_LIKE: {
      rval v = ref_value(c, e->kids[0]);
      if (v.k == R_NULL) return EXPR_UNKNOWN;
      return tv(v.k == R_STR && ref_like(e->s, e->slen, v.s, v.n));
    }
    case N_ISNULL: return tv(ref_is_null(c, e->kids[0]) != e->negated);
    case N_EXISTS: return tv(ref_exists(c, e->kids[0]));
    case N_CALL: return ref_call(c, e);
    default: {
      rval v = ref_value(c, e);
      if (v.k == R_NULL) return EXPR_UNKNOWN;
      return tv(v.k == R_BOOL && v.b);
    }
  }
}

expr_truth expr_reference_pred(const expr_node *e, const vs_colview *cols,
                               size_t row) {
  rctx c = {cols, row, NULL, 0, 0};
  expr_truth r = ref_pred(&c, e);
  for (size_t k = 0; k < c.ndocs; k++) json_decref(c.docs[k]);
  free(c.docs);
  return r;
}
