/*
 * indexable.c -- answering a compiled filter from scalar indexes.
 *
 * The checked syntax tree (expr_internal.h) is walked twice: once asking
 * the caller whether each leaf could be answered (a dry run with no
 * memory), then for real, combining the leaves' row sets with word-wise
 * AND/OR.  The tree is used as it is after checking and folding, so the
 * constants are exactly those the evaluator compares with; the caller's
 * leaf function must compare the way row.c does (documented in
 * indexable.h and engine/scalar_index.c).
 *
 * Leaves recognised:
 *   path op const, const op path    op in == < <= > >= (flipped when the
 *                                   constant is on the left)
 *   c1 op path op2 c2               one key range; so are two bounds
 *                                   of one path under an AND
 *                                   (age >= 18 and age < 30)
 *   path in [c, ...]                every element a constant
 *   path like "lit%" / like "lit"   prefix / equality; the literal may
 *                                   hold backslash escapes but no % or _
 * Everything else (not, !=, not in, is null, exists, arithmetic, calls,
 * Array fields) makes its subtree unanswerable.  When the root is an AND
 * and only some of its terms can be answered, their intersection is
 * returned as a superset of the result (VS_IX_SUPERSET).
 *
 * Rejected: rewriting NOT/NE through complements -- the complement of an
 * index answer includes rows whose value is null or missing, where the
 * evaluator says UNKNOWN (not TRUE); getting this right needs the null set
 * per leaf, more machinery than the common filters justify.
 */
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"
#include "expr/indexable.h"

#define MAX_INLINE_VALUES 2

typedef struct walker {
  size_t rows;
  vs_ixleaf_fn fn;
  void *ctx;
} walker;

bool vs_ixsteps_equal(const vs_ixstep *a, size_t na, const vs_ixstep *b, size_t nb) {
  if (na != nb) return false;
  for (size_t i = 0; i < na; i++) {
    if (a[i].is_index != b[i].is_index) return false;
    if (a[i].is_index && a[i].index != b[i].index) return false;
    if (!a[i].is_index && (a[i].key_len != b[i].key_len || memcmp(a[i].key, b[i].key, a[i].key_len) != 0)) {
      return false;
    }
  }
  return true;
}

static bool const_value(const expr_node *n, vs_ixval *out) {
  memset(out, 0, sizeof *out);
  switch (n->kind) {
    case N_INT:
      if (n->big) return false;
      out->kind = VS_IXV_INT;
      out->i = n->i;
      return true;
    case N_FLOAT: out->kind = VS_IXV_FLOAT; out->f = n->f; return true;
    case N_BOOL: out->kind = VS_IXV_BOOL; out->b = n->b; return true;
    case N_STRING: out->kind = VS_IXV_STRING; out->s = n->s; out->n = n->slen; return true;
    default: return false;
  }
}

static bool plain_path(const expr_node *n) {
  if (n->kind != N_PATH || n->column < 0) return false;
  if (n->col_type == VS_TYPE_ARRAY || n->col_type == VS_TYPE_FLOAT_VECTOR) return false;
  return n->nsteps == 0 || n->col_type == VS_TYPE_JSON;
}

static vs_ixop flip(vs_ixop op) {
  switch (op) {
    case VS_IXOP_LT: return VS_IXOP_GT;
    case VS_IXOP_LE: return VS_IXOP_GE;
    case VS_IXOP_GT: return VS_IXOP_LT;
    case VS_IXOP_GE: return VS_IXOP_LE;
    default: return op;
  }
}

static bool cmp_op(expr_op op, vs_ixop *out) {
  switch (op) {
    case OP_EQ: *out = VS_IXOP_EQ; return true;
    case OP_LT: *out = VS_IXOP_LT; return true;
    case OP_LE: *out = VS_IXOP_LE; return true;
    case OP_GT: *out = VS_IXOP_GT; return true;
    case OP_GE: *out = VS_IXOP_GE; return true;
    default: return false;
  }
}

/* The leaf's column, type and steps from a path node; the steps are
 * converted into `buf` (caller-owned, at least n->nsteps entries). */
static void leaf_path(const expr_node *path, vs_ixstep *buf, vs_ixleaf *leaf) {
  for (size_t i = 0; i < path->nsteps; i++) {
    buf[i].is_index = path->steps[i].is_index;
    buf[i].index = path->steps[i].index;
    buf[i].key = path->steps[i].key;
    buf[i].key_len = path->steps[i].key_len;
  }
  leaf->column = path->column;
  leaf->col_type = path->col_type;
  leaf->steps = buf;
  leaf->nsteps = path->nsteps;
}

/* Calls the leaf function for `path op values`; handles the step buffer. */
static bool ask(walker *w, const expr_node *path, vs_ixop op, const vs_ixval *values, size_t count,
                vs_bitset *out) {
  vs_ixstep inline_steps[8];
  vs_ixstep *steps = path->nsteps <= 8 ? inline_steps : calloc(path->nsteps, sizeof *steps);
  if (!steps) return false;
  vs_ixleaf leaf = {.op = op, .values = values, .count = count};
  leaf_path(path, steps, &leaf);
  bool ok = w->fn(w->ctx, &leaf, out);
  if (steps != inline_steps) free(steps);
  return ok;
}

static bool cmp_leaf(walker *w, const expr_node *path, vs_ixop op, const expr_node *constant,
                     vs_bitset *out) {
  vs_ixval v;
  if (!plain_path(path) || !const_value(constant, &v)) return false;
  return ask(w, path, op, &v, 1, out);
}

static bool in_leaf(walker *w, const expr_node *e, vs_bitset *out) {
  const expr_node *list = e->kids[1];
  if (e->negated || !plain_path(e->kids[0]) || list->kind != N_LIST) return false;
  vs_ixval inline_values[MAX_INLINE_VALUES];
  vs_ixval *values = list->nkids <= MAX_INLINE_VALUES ? inline_values : calloc(list->nkids, sizeof *values);
  bool ok = values != NULL;
  for (size_t k = 0; ok && k < list->nkids; k++) ok = const_value(list->kids[k], &values[k]);
  if (ok) ok = ask(w, e->kids[0], VS_IXOP_IN, values, list->nkids, out);
  if (values != inline_values) free(values);
  return ok;
}

/* The literal of an exact or prefix like pattern, unescaped into `lit`
 * (cap >= len); *prefix says whether it ended in %.  False for any other
 * shape. */
static bool like_literal(const char *p, size_t len, char *lit, size_t *lit_len, bool *prefix) {
  size_t n = 0, i = 0;
  *prefix = false;
  while (i < len) {
    char ch = p[i];
    if (ch == '%') {
      while (i < len && p[i] == '%') i++;
      if (i != len) return false;
      *prefix = true;
      break;
    }
    if (ch == '_') return false;
    if (ch == '\\') {
      if (++i == len) return false;
      ch = p[i];
    }
    lit[n++] = ch;
    i++;
  }
  *lit_len = n;
  /* A literal starting with a UTF-8 continuation byte has no clean
   * character boundary to start a prefix range from. */
  return !(n > 0 && ((unsigned char)lit[0] & 0xC0) == 0x80);
}

static bool like_leaf(walker *w, const expr_node *e, vs_bitset *out) {
  const expr_node *path = e->kids[0];
  if (!plain_path(path) || !e->s) return false;
  char inline_lit[64];
  char *lit = e->slen <= sizeof inline_lit ? inline_lit : malloc(e->slen);
  size_t lit_len = 0;
  bool prefix = false;
  bool ok = lit && like_literal(e->s, e->slen, lit, &lit_len, &prefix);
  if (ok) {
    vs_ixval v = {.kind = VS_IXV_STRING, .s = lit, .n = lit_len};
    ok = ask(w, path, prefix ? VS_IXOP_PREFIX : VS_IXOP_EQ, &v, 1, out);
  }
  if (lit != inline_lit) free(lit);
  return ok;
}

static bool node_eval(walker *w, const expr_node *e, vs_bitset *out);
static bool and_kid_eval(walker *w, const expr_node *e, size_t k, bool *used, vs_bitset *out);

/* AND/OR of kids; `out` NULL = dry run.  Paired bounds of an AND on one
 * path are looked up as one range. */
static bool logic_eval(walker *w, const expr_node *e, vs_bitset *out) {
  bool is_and = e->op == OP_AND;
  if (!out) {
    for (size_t k = 0; k < e->nkids; k++) {
      if (!node_eval(w, e->kids[k], NULL)) return false;
    }
    return true;
  }
  vs_bitset tmp = {0};
  bool *used = calloc(e->nkids, sizeof *used);
  bool ok = used && vs_bitset_init(&tmp, w->rows) == VS_OK, first = true;
  size_t words = (w->rows + 63) / 64;
  for (size_t k = 0; ok && k < e->nkids; k++) {
    if (used[k]) continue;
    vs_bitset *target = first ? out : &tmp;
    if (!first) memset(tmp.words, 0, words * sizeof *tmp.words);
    ok = is_and ? and_kid_eval(w, e, k, used, target) : node_eval(w, e->kids[k], target);
    for (size_t i = 0; ok && !first && i < words; i++) {
      out->words[i] = is_and ? out->words[i] & tmp.words[i] : out->words[i] | tmp.words[i];
    }
    first = false;
  }
  vs_bitset_free(&tmp);
  free(used);
  return ok;
}

static bool is_lower(vs_ixop op) { return op == VS_IXOP_GT || op == VS_IXOP_GE; }
static bool is_upper(vs_ixop op) { return op == VS_IXOP_LT || op == VS_IXOP_LE; }

/* One key-range lookup for `path lo_op lo and path hi_op hi` (rather than
 * two half-open ranges intersected, which would touch most rows twice). */
static bool range_leaf(walker *w, const expr_node *path, vs_ixop lo_op, const expr_node *lo, vs_ixop hi_op,
                       const expr_node *hi, vs_bitset *out) {
  vs_ixval v[2];
  if (!plain_path(path) || !const_value(lo, &v[0]) || !const_value(hi, &v[1])) return false;
  vs_ixstep inline_steps[8];
  vs_ixstep *steps = path->nsteps <= 8 ? inline_steps : calloc(path->nsteps, sizeof *steps);
  if (!steps) return false;
  vs_ixleaf leaf = {.op = VS_IXOP_RANGE, .lo_op = lo_op, .hi_op = hi_op, .values = v, .count = 2};
  leaf_path(path, steps, &leaf);
  bool ok = w->fn(w->ctx, &leaf, out);
  if (steps != inline_steps) free(steps);
  return ok;
}

static bool range_eval(walker *w, const expr_node *e, vs_bitset *out) {
  vs_ixop a, b;
  if (!cmp_op(e->op, &a) || !cmp_op(e->op2, &b) || a == VS_IXOP_EQ || b == VS_IXOP_EQ) return false;
  a = flip(a); /* c0 op path  ==  path flip(op) c0 */
  if (is_lower(a) && is_upper(b)) return range_leaf(w, e->kids[1], a, e->kids[0], b, e->kids[2], out);
  if (is_upper(a) && is_lower(b)) return range_leaf(w, e->kids[1], b, e->kids[2], a, e->kids[0], out);
  return false;
}

/* A comparison `path op constant` (either side), for merging bounds. */
static bool as_bound(const expr_node *e, const expr_node **path, vs_ixop *op, const expr_node **constant) {
  if (e->kind != N_CMP || !cmp_op(e->op, op) || *op == VS_IXOP_EQ) return false;
  bool left = e->kids[0]->kind == N_PATH;
  *path = e->kids[left ? 0 : 1];
  *constant = e->kids[left ? 1 : 0];
  if (!left) *op = flip(*op);
  return plain_path(*path);
}

static bool same_path(const expr_node *a, const expr_node *b) {
  if (a->column != b->column || a->nsteps != b->nsteps) return false;
  for (size_t i = 0; i < a->nsteps; i++) {
    const expr_step *x = &a->steps[i], *y = &b->steps[i];
    if (x->is_index != y->is_index || (x->is_index && x->index != y->index)) return false;
    if (!x->is_index && (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0)) return false;
  }
  return true;
}

/* In an AND: the later sibling that bounds the same path from the other
 * side of kid k (age >= 18 and age < 30), or -1. */
static long partner(const expr_node *and, size_t k, const bool *used) {
  const expr_node *p1, *p2, *c1, *c2;
  vs_ixop o1, o2;
  if (!as_bound(and->kids[k], &p1, &o1, &c1)) return -1;
  for (size_t j = k + 1; j < and->nkids; j++) {
    if (used[j] || !as_bound(and->kids[j], &p2, &o2, &c2) || !same_path(p1, p2)) continue;
    if (is_lower(o1) != is_lower(o2)) return (long)j;
  }
  return -1;
}

/* Evaluates kid k of an AND, merged with its partner bound if it has one. */
static bool and_kid_eval(walker *w, const expr_node *e, size_t k, bool *used, vs_bitset *out) {
  long j = partner(e, k, used);
  if (j < 0) return node_eval(w, e->kids[k], out);
  const expr_node *p1, *p2, *c1, *c2;
  vs_ixop o1, o2;
  as_bound(e->kids[k], &p1, &o1, &c1);
  as_bound(e->kids[j], &p2, &o2, &c2);
  used[j] = true;
  if (is_lower(o1)) return range_leaf(w, p1, o1, c1, o2, c2, out);
  return range_leaf(w, p1, o2, c2, o1, c1, out);
}

/* Fills `out` (zeroed, rows bits) with the rows where `e` is TRUE; with
 * out == NULL only answers whether it could. */
static bool node_eval(walker *w, const expr_node *e, vs_bitset *out) {
  vs_ixop op;
  switch (e->kind) {
    case N_LOGIC: return logic_eval(w, e, out);
    case N_CMP:
      if (!cmp_op(e->op, &op)) return false;
      if (e->kids[0]->kind == N_PATH) return cmp_leaf(w, e->kids[0], op, e->kids[1], out);
      return cmp_leaf(w, e->kids[1], flip(op), e->kids[0], out);
    case N_RANGE: return range_eval(w, e, out);
    case N_IN: return in_leaf(w, e, out);
    case N_LIKE: return like_leaf(w, e, out);
    default: return false;
  }
}

/* The top-level AND terms that can be answered, intersected (bounds of
 * one path merged into ranges, as in logic_eval). */
static vs_ix_result partial_and(walker *w, const expr_node *root, vs_bitset *out) {
  vs_bitset tmp = {0};
  size_t words = (w->rows + 63) / 64, used_terms = 0;
  bool *used = calloc(root->nkids, sizeof *used);
  bool ok = used && vs_bitset_init(&tmp, w->rows) == VS_OK;
  for (size_t k = 0; ok && k < root->nkids; k++) used[k] = !node_eval(w, root->kids[k], NULL);
  for (size_t k = 0; ok && k < root->nkids; k++) {
    if (used[k]) continue;
    vs_bitset *target = used_terms == 0 ? out : &tmp;
    memset(target->words, 0, words * sizeof *target->words);
    ok = and_kid_eval(w, root, k, used, target);
    for (size_t i = 0; ok && used_terms > 0 && i < words; i++) out->words[i] &= tmp.words[i];
    used_terms++;
  }
  vs_bitset_free(&tmp);
  free(used);
  return ok && used_terms ? VS_IX_SUPERSET : VS_IX_NONE;
}

vs_ix_result vs_expr_index_eval(const vs_expr *expr, size_t rows, vs_ixleaf_fn fn, void *ctx,
                                vs_bitset *out) {
  memset(out, 0, sizeof *out);
  if (!expr || !expr->root || expr->is_true) return VS_IX_NONE;
  walker w = {.rows = rows, .fn = fn, .ctx = ctx};
  const expr_node *root = expr->root;
  bool whole = node_eval(&w, root, NULL);
  bool partial = !whole && root->kind == N_LOGIC && root->op == OP_AND;
  if (!whole && !partial) return VS_IX_NONE;
  if (vs_bitset_init(out, rows) != VS_OK) return VS_IX_NONE;
  vs_ix_result r = VS_IX_NONE;
  if (whole) {
    r = node_eval(&w, root, out) ? VS_IX_EXACT : VS_IX_NONE;
  } else {
    r = partial_and(&w, root, out);
  }
  if (r == VS_IX_NONE) vs_bitset_free(out);
  return r;
}

/* ------------------------------------------------------ JSON values */

#define MAX_JSON_STEPS 32

bool vs_ixjson_value(const char *text, size_t len, const vs_ixstep *steps, size_t nsteps, vs_ixval *out,
                     bool *escaped) {
  expr_step buf[MAX_JSON_STEPS];
  memset(out, 0, sizeof *out);
  *escaped = false;
  if (nsteps > MAX_JSON_STEPS) return false;
  for (size_t i = 0; i < nsteps; i++) {
    buf[i].is_index = steps[i].is_index;
    buf[i].index = steps[i].index;
    buf[i].key = steps[i].key;
    buf[i].key_len = steps[i].key_len;
  }
  json_span sp = json_find(text, len, buf, nsteps);
  bool is_int = false;
  switch (sp.kind) {
    case JV_TRUE: case JV_FALSE:
      out->kind = VS_IXV_BOOL;
      out->b = sp.kind == JV_TRUE;
      return true;
    case JV_NUMBER:
      if (!json_number(&sp, &is_int, &out->i, &out->f)) return false;
      out->kind = is_int ? VS_IXV_INT : VS_IXV_FLOAT;
      return true;
    case JV_STRING:
      out->kind = VS_IXV_STRING;
      out->s = sp.p;
      out->n = sp.len;
      *escaped = sp.escaped;
      return true;
    default: return false;
  }
}

size_t vs_ixjson_decode(const char *p, size_t len, char *out) { return json_string_decode(p, len, out); }
