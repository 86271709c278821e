/*
 * check.c -- name resolution, type checking and constant folding.
 *
 * Walks the tree bottom-up and gives every node a static type (expr_type).
 * Paths resolve against the schema: a field name gives its column; a name
 * that is not a field goes through "$meta" (becoming $meta["name"]...) when
 * the schema is dynamic, else "field 'x' not found".  An Array field takes
 * one integer index (tags[0]); JSON fields take any path.
 *
 * Rules (Milvus's, stated in docs/filters.md): comparisons take values,
 * never predicates (so `not a > 1`, which parses as `(not a) > 1`, is an
 * error); numbers compare with numbers, strings with strings, booleans only
 * with == and !=, JSON values with any scalar; `in` needs a constant list;
 * `like` a string operand; bitwise operators are rejected; a constant zero
 * divisor is rejected.  Constant arithmetic is folded with the run-time
 * semantics (wrapping 64-bit integers), so `-5` and `2 * 3` are literals
 * and `age > -5` takes the vectorised column-versus-constant path.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "expr/expr_internal.h"

typedef struct checker {
  const expr_source *src;
  const vs_schema *schema;
  expr_arena *arena;
} checker;

static bool is_const(const expr_node *n) {
  return n->kind == N_BOOL || n->kind == N_INT || n->kind == N_FLOAT || n->kind == N_STRING;
}
static bool is_numeric(expr_type t) {
  return t == T_INT || t == T_FLOAT || t == T_NUM || t == T_JSON;
}
static bool is_value(expr_type t) {
  return t == T_BOOL || t == T_INT || t == T_FLOAT || t == T_NUM || t == T_STRING || t == T_JSON;
}
static bool is_boolish(expr_type t) { return t == T_PRED || t == T_BOOL || t == T_JSON; }

static const char *describe(const expr_node *n, char *buf, size_t cap) {
  if (n->kind == N_PATH && n->column >= 0 && n->type != T_JSON) {
    snprintf(buf, cap, "%s field '%s'", vs_type_name(n->col_type), n->name);
    return buf;
  }
  switch (n->type) {
    case T_BOOL: return "a boolean";
    case T_INT: case T_FLOAT: case T_NUM: return "a number";
    case T_STRING: return "a string";
    case T_JSON: return "a JSON value";
    case T_ARRAY: return "an Array";
    case T_LIST: return "a list";
    case T_PRED: return "a boolean expression";
    default: return "a value";
  }
}

static vs_status check_node(checker *c, expr_node **np);

static expr_type scalar_type(vs_type t) {
  switch (t) {
    case VS_TYPE_BOOL: return T_BOOL;
    case VS_TYPE_INT8: case VS_TYPE_INT16: case VS_TYPE_INT32: case VS_TYPE_INT64: return T_INT;
    case VS_TYPE_FLOAT: case VS_TYPE_DOUBLE: return T_FLOAT;
    case VS_TYPE_VARCHAR: return T_STRING;
    case VS_TYPE_JSON: return T_JSON;
    case VS_TYPE_ARRAY: return T_ARRAY;
    default: return T_NONE;
  }
}

/* A bare name that is not a field: $meta["name"] + the written steps. */
static vs_status resolve_dynamic(checker *c, expr_node *n) {
  expr_step *steps = expr_arena_alloc(c->arena, (n->nsteps + 1) * sizeof *steps);
  if (!steps) return vs_fail(VS_ERR_NOMEM, "out of memory");
  steps[0].key = n->name;
  steps[0].key_len = strlen(n->name);
  if (n->nsteps) memcpy(steps + 1, n->steps, n->nsteps * sizeof *steps);
  n->steps = steps;
  n->nsteps++;
  n->name = VS_META_FIELD;
  n->column = (int)c->schema->field_count;
  n->col_type = VS_TYPE_JSON;
  n->type = T_JSON;
  return VS_OK;
}

static vs_status check_path(checker *c, expr_node *n) {
  const vs_schema *s = c->schema;
  if (strcmp(n->name, VS_META_FIELD) == 0) {
    if (!s->dynamic)
      return expr_error(c->src, n->pos, "field '$meta' not found (the collection has no dynamic field)");
    n->column = (int)s->field_count;
    n->col_type = VS_TYPE_JSON;
    n->type = T_JSON;
    return VS_OK;
  }
  int idx = vs_schema_index(s, n->name);
  if (idx < 0) {
    if (s->dynamic) return resolve_dynamic(c, n);
    return expr_error(c->src, n->pos, "field '%s' not found", n->name);
  }
  const vs_field *f = &s->fields[idx];
  n->column = idx;
  n->col_type = f->type;
  n->elem_type = f->element_type;
  n->type = scalar_type(f->type);
  if (n->type == T_NONE)
    return expr_error(c->src, n->pos, "field '%s' of type %s cannot be used in a filter",
                      n->name, vs_type_name(f->type));
  if (n->nsteps == 0 || n->type == T_JSON) return VS_OK;
  if (n->type != T_ARRAY)
    return expr_error(c->src, n->pos, "field '%s' is %s, not JSON or Array, and cannot be indexed",
                      n->name, vs_type_name(f->type));
  if (n->nsteps != 1 || !n->steps[0].is_index)
    return expr_error(c->src, n->pos, "Array field '%s' takes one integer index, as in %s[0]",
                      n->name, n->name);
  n->type = scalar_type(f->element_type);
  return VS_OK;
}

/* Wrapping 64-bit arithmetic, as at run time; false for a zero divisor. */
static bool fold_int(expr_op op, int64_t a, int64_t b, int64_t *out) {
  uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  switch (op) {
    case OP_ADD: *out = (int64_t)(ua + ub); return true;
    case OP_SUB: *out = (int64_t)(ua - ub); return true;
    case OP_MUL: *out = (int64_t)(ua * ub); return true;
    case OP_DIV:
      if (b == 0) return false;
      *out = (a == INT64_MIN && b == -1) ? INT64_MIN : a / b;
      return true;
    case OP_MOD:
      if (b == 0) return false;
      *out = (b == -1) ? 0 : a % b;
      return true;
    default: return false;
  }
}

static double num_of(const expr_node *n) { return n->kind == N_INT ? (double)n->i : n->f; }

static double fold_double(expr_op op, double a, double b) {
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_MOD: return fmod(a, b);
    default: return pow(a, b);
  }
}

static void fold_arith(expr_node *n) {
  expr_node *a = n->kids[0], *b = n->kids[1];
  if (!is_const(a) || !is_const(b)) return;
  int64_t r;
  if (n->op != OP_POW && a->kind == N_INT && b->kind == N_INT && fold_int(n->op, a->i, b->i, &r)) {
    n->kind = N_INT;
    n->i = r;
  } else {
    n->kind = N_FLOAT;
    n->f = fold_double(n->op, num_of(a), num_of(b));
  }
  n->nkids = 0;
}

static vs_status check_arith(checker *c, expr_node *n) {
  static const char *const bitwise[] = {[OP_BOR] = "|", [OP_BXOR] = "^", [OP_BAND] = "&",
                                        [OP_SHL] = "<<", [OP_SHR] = ">>"};
  char b1[300];
  if (n->op >= OP_BOR && n->op <= OP_SHR)
    return expr_error(c->src, n->pos, "operator '%s' is not supported", bitwise[n->op]);
  for (int k = 0; k < 2; k++) {
    if (!is_numeric(n->kids[k]->type))
      return expr_error(c->src, n->kids[k]->pos, "arithmetic needs numbers, got %s",
                        describe(n->kids[k], b1, sizeof b1));
  }
  const expr_node *d = n->kids[1];
  if ((n->op == OP_DIV || n->op == OP_MOD) && is_const(d) && num_of(d) == 0)
    return expr_error(c->src, n->pos, "division by zero");
  expr_type ta = n->kids[0]->type, tb = n->kids[1]->type;
  if (n->op == OP_POW || ta == T_FLOAT || tb == T_FLOAT) {
    n->type = T_FLOAT;
  } else {
    n->type = (ta == T_INT && tb == T_INT) ? T_INT : T_NUM;
  }
  fold_arith(n);
  if (n->kind == N_FLOAT && !isfinite(n->f))
    return expr_error(c->src, n->pos, "constant arithmetic overflows");
  return VS_OK;
}

static vs_status check_unary(checker *c, expr_node **np) {
  expr_node *n = *np;
  char b1[300];
  if (n->op == OP_NEG && n->kids[0]->kind == N_INT && n->kids[0]->big) {
    n->kids[0]->big = false; /* -9223372036854775808 */
    n->kids[0]->type = T_INT;
    *np = n->kids[0];
    return VS_OK;
  }
  vs_status st = check_node(c, &n->kids[0]);
  if (st != VS_OK) return st;
  expr_node *a = n->kids[0];
  if (n->op == OP_BNOT) return expr_error(c->src, n->pos, "operator '~' is not supported");
  if (n->op == OP_NOT) {
    if (!is_boolish(a->type))
      return expr_error(c->src, n->pos, "'not' needs a boolean operand, got %s "
                        "(note: 'not' binds tighter than comparisons; write not (a > b))",
                        describe(a, b1, sizeof b1));
    n->type = T_PRED;
    if (a->kind == N_BOOL) *np = a, a->b = !a->b;
    return VS_OK;
  }
  if (!is_numeric(a->type))
    return expr_error(c->src, n->pos, "'%c' needs a number, got %s", n->op == OP_NEG ? '-' : '+',
                      describe(a, b1, sizeof b1));
  n->type = a->type == T_JSON ? T_NUM : a->type;
  if (a->kind == N_INT) {
    a->i = n->op == OP_NEG ? (int64_t)(0 - (uint64_t)a->i) : a->i;
    *np = a;
  } else if (a->kind == N_FLOAT) {
    a->f = n->op == OP_NEG ? -a->f : a->f;
    *np = a;
  }
  return VS_OK;
}

/* May values of these types meet in a comparison with `op`? */
static bool comparable(expr_type a, expr_type b, expr_op op) {
  if (!is_value(a) || !is_value(b)) return false;
  if (a == T_JSON || b == T_JSON) return true;
  if (is_numeric(a) && is_numeric(b)) return true;
  if (a == T_STRING && b == T_STRING) return true;
  return a == T_BOOL && b == T_BOOL && (op == OP_EQ || op == OP_NE);
}

static vs_status compare_error(checker *c, const expr_node *at, const expr_node *a,
                               const expr_node *b) {
  char b1[300], b2[300];
  if (a->type == T_PRED || b->type == T_PRED)
    return expr_error(c->src, at->pos, "cannot compare %s with %s (note: 'not' binds tighter "
                      "than comparisons; write not (a > b))", describe(a, b1, sizeof b1),
                      describe(b, b2, sizeof b2));
  if (a->type == T_BOOL && b->type == T_BOOL)
    return expr_error(c->src, at->pos, "booleans can only be compared with == and !=");
  return expr_error(c->src, at->pos, "cannot compare %s with %s", describe(a, b1, sizeof b1),
                    describe(b, b2, sizeof b2));
}

static vs_status check_relation(checker *c, expr_node *n) {
  if (n->kind == N_RANGE) {
    if (!comparable(n->kids[0]->type, n->kids[1]->type, n->op))
      return compare_error(c, n, n->kids[0], n->kids[1]);
    if (!comparable(n->kids[1]->type, n->kids[2]->type, n->op2))
      return compare_error(c, n, n->kids[1], n->kids[2]);
  } else if (!comparable(n->kids[0]->type, n->kids[1]->type, n->op)) {
    return compare_error(c, n, n->kids[0], n->kids[1]);
  }
  n->type = T_PRED;
  return VS_OK;
}

/* Every element of `list` must be a constant comparable with `with`. */
static vs_status check_list_items(checker *c, const expr_node *list, expr_type with,
                                  const expr_node *owner) {
  char b1[300], b2[300];
  for (size_t k = 0; k < list->nkids; k++) {
    const expr_node *item = list->kids[k];
    if (!is_const(item))
      return expr_error(c->src, item->pos, "list elements must be constants");
    if (!comparable(with, item->type, OP_EQ))
      return expr_error(c->src, item->pos, "cannot compare %s with %s",
                        describe(owner, b1, sizeof b1), describe(item, b2, sizeof b2));
  }
  return VS_OK;
}

static vs_status check_in(checker *c, expr_node *n) {
  char b1[300];
  expr_node *a = n->kids[0], *list = n->kids[1];
  if (!is_value(a->type))
    return expr_error(c->src, a->pos, "'in' needs a value on the left, got %s", describe(a, b1, sizeof b1));
  if (list->kind != N_LIST)
    return expr_error(c->src, list->pos, "'in' needs a constant list on the right, as in x in [1, 2]");
  n->type = T_PRED;
  return check_list_items(c, list, a->type, a);
}

static vs_status check_like(checker *c, expr_node *n) {
  char b1[300];
  expr_node *a = n->kids[0];
  if (a->type != T_STRING && a->type != T_JSON)
    return expr_error(c->src, n->pos, "'like' needs a string operand, got %s", describe(a, b1, sizeof b1));
  size_t k = 0;
  while (k < n->slen) k += n->s[k] == '\\' ? 2 : 1;
  if (k > n->slen) return expr_error(c->src, n->pos, "'like' pattern ends with a lone backslash");
  n->type = T_PRED;
  return VS_OK;
}

static vs_status check_call_arity(checker *c, const expr_node *n, size_t want) {
  if (n->nkids != want)
    return expr_error(c->src, n->pos, "%s takes %zu argument%s, got %zu", n->name, want,
                      want == 1 ? "" : "s", n->nkids);
  return VS_OK;
}

static vs_status check_call(checker *c, expr_node *n) {
  vs_status st = check_call_arity(c, n, n->fn == FN_ARRAY_LENGTH ? 1 : 2);
  if (st != VS_OK) return st;
  expr_node *a = n->kids[0];
  if (a->kind != N_PATH || (a->type != T_JSON && a->type != T_ARRAY))
    return expr_error(c->src, a->pos, "%s needs a JSON path or an Array field as its first argument",
                      n->name);
  n->type = n->fn == FN_ARRAY_LENGTH ? T_INT : T_PRED;
  if (n->fn == FN_ARRAY_LENGTH) return VS_OK;
  expr_type elem = a->type == T_ARRAY ? scalar_type(a->elem_type) : T_JSON;
  expr_node *v = n->kids[1];
  bool many = n->fn != FN_JSON_CONTAINS && n->fn != FN_ARRAY_CONTAINS;
  if (many && v->kind != N_LIST)
    return expr_error(c->src, v->pos, "%s needs a constant list as its second argument", n->name);
  if (many) return check_list_items(c, v, elem, a);
  if (!is_const(v))
    return expr_error(c->src, v->pos, "%s needs a constant as its second argument", n->name);
  if (!comparable(elem, v->type, OP_EQ)) {
    char b1[300], b2[300];
    return expr_error(c->src, v->pos, "cannot compare elements of %s with %s",
                      describe(a, b1, sizeof b1), describe(v, b2, sizeof b2));
  }
  return VS_OK;
}

static vs_status check_kids(checker *c, expr_node *n) {
  for (size_t k = 0; k < n->nkids; k++) {
    vs_status st = check_node(c, &n->kids[k]);
    if (st != VS_OK) return st;
  }
  return VS_OK;
}

static vs_status check_logic(checker *c, expr_node *n) {
  char b1[300];
  for (size_t k = 0; k < n->nkids; k++) {
    if (!is_boolish(n->kids[k]->type))
      return expr_error(c->src, n->kids[k]->pos, "'%s' needs boolean operands, got %s",
                        n->op == OP_AND ? "and" : "or", describe(n->kids[k], b1, sizeof b1));
  }
  n->type = T_PRED;
  return VS_OK;
}

static vs_status check_special(checker *c, expr_node *n) {
  const expr_node *a = n->nkids ? n->kids[0] : NULL;
  switch (n->kind) {
    case N_ISNULL:
      if (a->kind != N_PATH)
        return expr_error(c->src, a->pos, "'is null' needs a field or a JSON path");
      n->type = T_PRED;
      return VS_OK;
    case N_EXISTS:
      if (a->kind != N_PATH || a->type != T_JSON || a->nsteps == 0)
        return expr_error(c->src, a->pos, "'exists' needs a JSON path, as in exists meta[\"key\"]");
      n->type = T_PRED;
      return VS_OK;
    case N_LIKE: return check_like(c, n);
    case N_IN: return check_in(c, n);
    case N_CALL: return check_call(c, n);
    case N_LOGIC: return check_logic(c, n);
    case N_ARITH: return check_arith(c, n);
    default: return check_relation(c, n);
  }
}

static vs_status check_node(checker *c, expr_node **np) {
  expr_node *n = *np;
  switch (n->kind) {
    case N_BOOL: n->type = T_BOOL; return VS_OK;
    case N_INT:
      if (n->big) return expr_error(c->src, n->pos, "integer literal out of range");
      n->type = T_INT;
      return VS_OK;
    case N_FLOAT: n->type = T_FLOAT; return VS_OK;
    case N_STRING: n->type = T_STRING; return VS_OK;
    case N_LIST: {
      n->type = T_LIST;
      return check_kids(c, n);
    }
    case N_PATH: return check_path(c, n);
    case N_UNARY: return check_unary(c, np);
    default: break;
  }
  vs_status st = check_kids(c, n);
  if (st != VS_OK) return st;
  for (size_t k = 0; k < n->nkids; k++) {
    if (n->kids[k]->type == T_LIST && !(n->kind == N_IN && k == 1) && n->kind != N_CALL)
      return expr_error(c->src, n->kids[k]->pos, "a list is only allowed after 'in' or as "
                        "the second argument of a *_contains_all/_any function");
    if (n->kids[k]->type == T_ARRAY && n->kind != N_CALL && n->kind != N_ISNULL)
      return expr_error(c->src, n->kids[k]->pos, "a whole Array field cannot be used here; "
                        "index it (%s[0]) or use array_contains/array_length", n->kids[k]->name);
  }
  return check_special(c, n);
}

vs_status expr_check(const expr_source *src, const vs_schema *schema,
                     expr_arena *arena, expr_node **root) {
  checker c = {src, schema, arena};
  char b1[300];
  vs_status st = check_node(&c, root);
  if (st != VS_OK) return st;
  if ((*root)->type == T_LIST)
    return expr_error(src, (*root)->pos, "the filter must be a boolean expression, got a list");
  if ((*root)->type == T_ARRAY)
    return expr_error(src, (*root)->pos, "the filter must be a boolean expression, got an Array");
  if (!is_boolish((*root)->type))
    return expr_error(src, (*root)->pos, "the filter must be a boolean expression, got %s",
                      describe(*root, b1, sizeof b1));
  return VS_OK;
}
