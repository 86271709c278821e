/*
 * parse.c -- the recursive-descent parser of filter expressions.
 *
 * Binary operators use precedence climbing over the levels of
 * MILVUS_REST_V2.md section 6.2 (lowest first):
 *
 *   1 or ||   2 and &&   3 |   4 ^   5 &   6 == !=   7 < <= > >= (and the
 *   range chain a < x <= b)   8 in, not in   9 << >>   10 + -   11 * / %
 *
 * then unary (- + ! not ~), then ** (left-associative as in Milvus's
 * grammar; its right operand may carry a sign, 2 ** -1), then `like` / `is [not] null`, then primaries.  So `not a > 1`
 * is `(not a) > 1` (a type error, as in Milvus) and `-2 ** 2` is -(2**2).
 * Chains of `and` / `or` become one n-ary node, so a long generated
 * `id == 1 or id == 2 or ...` stays shallow.  Template variables {name} are
 * replaced by constants while parsing.
 *
 * The parser nests at most EXPR_MAX_DEPTH levels (parentheses, unary
 * operators, lists, calls), and every node records its depth, so no later
 * recursion over the tree can exhaust the stack.  Precedence climbing keeps
 * about six C frames per nesting level.
 *
 * Rejected: an ANTLR-generated parser like Milvus's (C++ runtime, and the
 * error messages would not carry our caret lines); a Pratt table -- the
 * range chain and `not in` make the special cases as long as this.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "expr/lex.h"

typedef struct parser {
  lexer lx;
  token cur, next;
  const json_t *params;
  unsigned nesting;
} parser;

static vs_status advance(parser *p) {
  p->cur = p->next;
  return lex_next(&p->lx, &p->next);
}

static vs_status expect(parser *p, tok_kind kind, const char *context) {
  if (p->cur.kind != kind)
    return expr_error(p->lx.src, p->cur.pos, "expected %s %s, found %s",
                      tok_describe(kind), context, tok_describe(p->cur.kind));
  return advance(p);
}

static expr_node *new_node(parser *p, expr_kind kind, size_t pos) {
  expr_node *n = expr_arena_alloc(p->lx.arena, sizeof *n);
  if (!n) return NULL;
  n->kind = kind;
  n->pos = (uint32_t)pos;
  n->depth = 1;
  n->column = -1;
  return n;
}

static vs_status nomem(void) { return vs_fail(VS_ERR_NOMEM, "out of memory"); }

vs_status expr_add_kid(expr_arena *arena, expr_node *parent, expr_node *kid) {
  if (parent->nkids == parent->kids_cap) {
    size_t cap = parent->kids_cap ? parent->kids_cap * 2 : 2;
    expr_node **kids = expr_arena_alloc(arena, cap * sizeof *kids);
    if (!kids) return nomem();
    if (parent->nkids) memcpy(kids, parent->kids, parent->nkids * sizeof *kids);
    parent->kids = kids;
    parent->kids_cap = cap;
  }
  parent->kids[parent->nkids++] = kid;
  if (kid->depth + 1 > parent->depth) parent->depth = kid->depth + 1;
  return VS_OK;
}

static vs_status check_depth(parser *p, const expr_node *n) {
  if (n->depth > EXPR_MAX_DEPTH)
    return expr_error(p->lx.src, n->pos, "expression is nested too deeply (limit %d)",
                      EXPR_MAX_DEPTH);
  return VS_OK;
}

/* A node with the given children (NULL-terminated list of up to 3). */
static vs_status make(parser *p, expr_kind kind, expr_op op, size_t pos,
                      expr_node *a, expr_node *b, expr_node *c, expr_node **out) {
  expr_node *n = new_node(p, kind, pos);
  if (!n) return nomem();
  n->op = op;
  expr_node *kids[3] = {a, b, c};
  for (int k = 0; k < 3 && kids[k]; k++) {
    vs_status st = expr_add_kid(p->lx.arena, n, kids[k]);
    if (st != VS_OK) return st;
  }
  *out = n;
  return check_depth(p, n);
}

static vs_status parse_expr(parser *p, expr_node **out);
static vs_status parse_unary(parser *p, expr_node **out);

/* ------------------------------------------------------------- templates */

static vs_status template_value(parser *p, const json_t *v, size_t pos,
                                bool allow_list, expr_node **out);

static vs_status template_list(parser *p, const json_t *v, size_t pos,
                               expr_node **out) {
  expr_node *list = new_node(p, N_LIST, pos);
  if (!list) return nomem();
  for (size_t k = 0; k < json_array_size(v); k++) {
    expr_node *item = NULL;
    vs_status st = template_value(p, json_array_get(v, k), pos, false, &item);
    if (st == VS_OK) st = expr_add_kid(p->lx.arena, list, item);
    if (st != VS_OK) return st;
  }
  *out = list;
  return VS_OK;
}

static vs_status template_value(parser *p, const json_t *v, size_t pos,
                                bool allow_list, expr_node **out) {
  expr_node *n = NULL;
  if (json_is_array(v) && allow_list) return template_list(p, v, pos, out);
  if (json_is_boolean(v)) {
    n = new_node(p, N_BOOL, pos);
    if (n) n->b = json_is_true(v);
  } else if (json_is_integer(v)) {
    n = new_node(p, N_INT, pos);
    if (n) n->i = json_integer_value(v);
  } else if (json_is_real(v)) {
    double d = json_real_value(v);
    bool integral = d == floor(d) && fabs(d) < 9.2e18;
    n = new_node(p, integral ? N_INT : N_FLOAT, pos);
    if (n && integral) n->i = (int64_t)d;
    if (n) n->f = d;
  } else if (json_is_string(v)) {
    n = new_node(p, N_STRING, pos);
    if (n) n->slen = json_string_length(v);
    if (n) n->s = expr_arena_strndup(p->lx.arena, json_string_value(v), n->slen);
    if (n && !n->s) n = NULL;
  } else {
    return expr_error(p->lx.src, pos, "template value has an unsupported type "
                      "(numbers, strings, booleans and lists of them are allowed)");
  }
  if (!n) return nomem();
  *out = n;
  return VS_OK;
}

static vs_status parse_template(parser *p, expr_node **out) {
  size_t pos = p->cur.pos;
  vs_status st = advance(p);
  if (st != VS_OK) return st;
  if (p->cur.kind != TK_IDENT)
    return expr_error(p->lx.src, p->cur.pos, "expected a template variable name after '{'");
  char name[256];
  size_t n = VS_MIN(p->cur.slen, sizeof name - 1);
  memcpy(name, p->cur.s, n);
  name[n] = 0;
  const json_t *v = p->params ? json_object_get(p->params, name) : NULL;
  if (!v) return expr_error(p->lx.src, p->cur.pos, "template variable '%s' is not in exprParams", name);
  if ((st = advance(p)) != VS_OK) return st;
  if ((st = expect(p, TK_RBRACE, "to close the template variable")) != VS_OK) return st;
  return template_value(p, v, pos, true, out);
}

/* -------------------------------------------------------------- primaries */

static vs_status parse_path(parser *p, expr_node **out) {
  expr_node *n = new_node(p, N_PATH, p->cur.pos);
  if (!n) return nomem();
  n->name = expr_arena_strndup(p->lx.arena, p->cur.s, p->cur.slen);
  if (!n->name) return nomem();
  vs_status st = advance(p);
  size_t cap = 0;
  expr_step *steps = NULL;
  while (st == VS_OK && p->cur.kind == TK_LBRACKET) {
    if ((st = advance(p)) != VS_OK) return st;
    if (n->nsteps == cap) {
      cap = cap ? cap * 2 : 4;
      expr_step *grown = expr_arena_alloc(p->lx.arena, cap * sizeof *grown);
      if (!grown) return nomem();
      if (n->nsteps) memcpy(grown, steps, n->nsteps * sizeof *grown);
      steps = grown;
    }
    expr_step *s = &steps[n->nsteps];
    if (p->cur.kind == TK_STRING) {
      s->key = p->cur.s;
      s->key_len = p->cur.slen;
    } else if (p->cur.kind == TK_INT && p->cur.u < (UINT64_C(1) << 63)) {
      s->is_index = true;
      s->index = (int64_t)p->cur.u;
    } else {
      return expr_error(p->lx.src, p->cur.pos,
                        "expected a string key or an integer index in '[...]' after '%s'", n->name);
    }
    n->nsteps++;
    if ((st = advance(p)) != VS_OK) return st;
    st = expect(p, TK_RBRACKET, "to close the path step");
  }
  n->steps = steps;
  *out = n;
  return st;
}

static vs_status parse_list(parser *p, expr_node **out) {
  expr_node *list = new_node(p, N_LIST, p->cur.pos);
  if (!list) return nomem();
  vs_status st = advance(p);
  while (st == VS_OK && p->cur.kind != TK_RBRACKET) {
    expr_node *item = NULL;
    if ((st = parse_expr(p, &item)) != VS_OK) return st;
    if ((st = expr_add_kid(p->lx.arena, list, item)) != VS_OK) return st;
    if ((st = check_depth(p, list)) != VS_OK) return st;
    if (p->cur.kind == TK_COMMA) {
      st = advance(p);
    } else if (p->cur.kind != TK_RBRACKET) {
      return expr_error(p->lx.src, p->cur.pos, "expected ',' or ']' in a list, found %s",
                        tok_describe(p->cur.kind));
    }
  }
  if (st == VS_OK) st = advance(p);
  *out = list;
  return st;
}

static const struct {
  const char *name;
  expr_fn fn;
} functions[] = {
    {"json_contains", FN_JSON_CONTAINS},   {"json_contains_all", FN_JSON_CONTAINS_ALL},
    {"json_contains_any", FN_JSON_CONTAINS_ANY}, {"array_contains", FN_ARRAY_CONTAINS},
    {"array_contains_all", FN_ARRAY_CONTAINS_ALL}, {"array_contains_any", FN_ARRAY_CONTAINS_ANY},
    {"array_length", FN_ARRAY_LENGTH}};

static expr_fn lookup_function(const char *s, size_t n) {
  for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++) {
    const char *name = functions[k].name;
    if (strlen(name) != n) continue;
    bool lower = memcmp(name, s, n) == 0, upper = true;
    for (size_t j = 0; j < n && upper; j++)
      upper = s[j] == (name[j] == '_' ? '_' : name[j] - 'a' + 'A');
    if (lower || upper) return functions[k].fn;
  }
  return FN_NONE;
}

static vs_status parse_call(parser *p, expr_node **out) {
  expr_node *call = new_node(p, N_CALL, p->cur.pos);
  if (!call) return nomem();
  call->fn = lookup_function(p->cur.s, p->cur.slen);
  call->name = expr_arena_strndup(p->lx.arena, p->cur.s, p->cur.slen);
  if (!call->name) return nomem();
  if (call->fn == FN_NONE)
    return expr_error(p->lx.src, p->cur.pos, "unknown function '%s'", call->name);
  vs_status st = advance(p);
  if (st == VS_OK) st = advance(p); /* '(' */
  while (st == VS_OK && p->cur.kind != TK_RPAREN) {
    expr_node *arg = NULL;
    if ((st = parse_expr(p, &arg)) != VS_OK) return st;
    if ((st = expr_add_kid(p->lx.arena, call, arg)) != VS_OK) return st;
    if ((st = check_depth(p, call)) != VS_OK) return st;
    if (p->cur.kind == TK_COMMA) {
      st = advance(p);
    } else if (p->cur.kind != TK_RPAREN) {
      return expr_error(p->lx.src, p->cur.pos, "expected ',' or ')' in the arguments of %s, found %s",
                        call->name, tok_describe(p->cur.kind));
    }
  }
  if (st == VS_OK) st = advance(p);
  *out = call;
  return st;
}

static vs_status parse_literal(parser *p, expr_node **out) {
  expr_node *n = NULL;
  switch (p->cur.kind) {
    case TK_INT:
      n = new_node(p, N_INT, p->cur.pos);
      if (!n) return nomem();
      n->big = p->cur.u == (UINT64_C(1) << 63);
      n->i = n->big ? INT64_MIN : (int64_t)p->cur.u;
      break;
    case TK_FLOAT:
      n = new_node(p, N_FLOAT, p->cur.pos);
      if (!n) return nomem();
      n->f = p->cur.f;
      break;
    case TK_STRING:
      n = new_node(p, N_STRING, p->cur.pos);
      if (!n) return nomem();
      n->s = p->cur.s;
      n->slen = p->cur.slen;
      break;
    default:
      n = new_node(p, N_BOOL, p->cur.pos);
      if (!n) return nomem();
      n->b = p->cur.kind == TK_TRUE;
      break;
  }
  *out = n;
  return advance(p);
}

static vs_status parse_paren(parser *p, expr_node **out) {
  size_t open = p->cur.pos;
  vs_status st = advance(p);
  if (st == VS_OK) st = parse_expr(p, out);
  if (st != VS_OK) return st;
  if (p->cur.kind != TK_RPAREN)
    return expr_error(p->lx.src, p->cur.pos, "expected ')' to close the '(' at position %zu, found %s",
                      open, tok_describe(p->cur.kind));
  return advance(p);
}

static vs_status parse_primary(parser *p, expr_node **out) {
  switch (p->cur.kind) {
    case TK_INT: case TK_FLOAT: case TK_STRING: case TK_TRUE: case TK_FALSE:
      return parse_literal(p, out);
    case TK_LBRACE:
      return parse_template(p, out);
    case TK_LPAREN:
      return parse_paren(p, out);
    case TK_LBRACKET:
      return parse_list(p, out);
    case TK_IDENT:
      if (p->next.kind == TK_LPAREN) return parse_call(p, out);
      return parse_path(p, out);
    case TK_META:
      return parse_path(p, out);
    case TK_EXISTS: {
      size_t pos = p->cur.pos;
      expr_node *arg = NULL;
      vs_status st = advance(p);
      if (st == VS_OK) st = parse_unary(p, &arg);
      if (st != VS_OK) return st;
      return make(p, N_EXISTS, OP_NONE, pos, arg, NULL, NULL, out);
    }
    case TK_RPAREN:
      return expr_error(p->lx.src, p->cur.pos, "unbalanced ')'");
    default:
      return expr_error(p->lx.src, p->cur.pos, "expected a value, found %s",
                        tok_describe(p->cur.kind));
  }
}

/* primary [like STRING | is [not] null] */
static vs_status parse_like(parser *p, expr_node **out) {
  vs_status st = parse_primary(p, out);
  if (st != VS_OK) return st;
  if (p->cur.kind == TK_LIKE) {
    size_t pos = p->cur.pos;
    if ((st = advance(p)) != VS_OK) return st;
    expr_node *pattern = NULL;
    if (p->cur.kind == TK_STRING || p->cur.kind == TK_LBRACE) {
      if ((st = parse_primary(p, &pattern)) != VS_OK) return st;
    }
    if (!pattern || pattern->kind != N_STRING)
      return expr_error(p->lx.src, pattern ? pattern->pos : p->cur.pos,
                        "'like' needs a string pattern");
    if ((st = make(p, N_LIKE, OP_NONE, pos, *out, NULL, NULL, out)) != VS_OK) return st;
    (*out)->s = pattern->s;
    (*out)->slen = pattern->slen;
  } else if (p->cur.kind == TK_IS) {
    size_t pos = p->cur.pos;
    bool negated = p->next.kind == TK_NOT;
    if ((st = advance(p)) != VS_OK) return st;
    if (negated && (st = advance(p)) != VS_OK) return st;
    if ((st = expect(p, TK_NULL, negated ? "after 'is not'" : "after 'is'")) != VS_OK) return st;
    if ((st = make(p, N_ISNULL, OP_NONE, pos, *out, NULL, NULL, out)) != VS_OK) return st;
    (*out)->negated = negated;
  }
  return VS_OK;
}

static vs_status parse_pow(parser *p, expr_node **out) {
  vs_status st = parse_like(p, out);
  while (st == VS_OK && p->cur.kind == TK_POW) {
    size_t pos = p->cur.pos;
    expr_node *rhs = NULL;
    if ((st = advance(p)) != VS_OK) return st;
    if (p->cur.kind == TK_EOF) return expr_error(p->lx.src, p->cur.pos, "expected a value after '**'");
    bool sign = p->cur.kind == TK_MINUS || p->cur.kind == TK_PLUS;
    st = sign ? parse_unary(p, &rhs) : parse_like(p, &rhs); /* 2 ** -1 */
    if (st != VS_OK) return st;
    st = make(p, N_ARITH, OP_POW, pos, *out, rhs, NULL, out);
  }
  return st;
}

static vs_status enter(parser *p) {
  if (++p->nesting > EXPR_MAX_DEPTH)
    return expr_error(p->lx.src, p->cur.pos, "expression is nested too deeply (limit %d)",
                      EXPR_MAX_DEPTH);
  return VS_OK;
}

static vs_status parse_unary(parser *p, expr_node **out) {
  expr_op op = OP_NONE;
  switch (p->cur.kind) {
    case TK_MINUS: op = OP_NEG; break;
    case TK_PLUS: op = OP_POS; break;
    case TK_BANG: case TK_NOT: op = OP_NOT; break;
    case TK_TILDE: op = OP_BNOT; break;
    default: return parse_pow(p, out);
  }
  size_t pos = p->cur.pos;
  tok_kind kind = p->cur.kind;
  expr_node *arg = NULL;
  vs_status st = enter(p);
  if (st == VS_OK) st = advance(p);
  if (st == VS_OK && p->cur.kind == TK_EOF)
    return expr_error(p->lx.src, p->cur.pos, "expected a value after %s", tok_describe(kind));
  if (st == VS_OK) st = parse_unary(p, &arg);
  p->nesting--;
  if (st != VS_OK) return st;
  return make(p, N_UNARY, op, pos, arg, NULL, NULL, out);
}

/* ------------------------------------------------------- binary operators */

typedef struct binop {
  int prec;        /* 0 = not a binary operator */
  expr_kind kind;
  expr_op op;
} binop;

static binop current_binop(const parser *p) {
  switch (p->cur.kind) {
    case TK_OR: case TK_OROR: return (binop){1, N_LOGIC, OP_OR};
    case TK_AND: case TK_ANDAND: return (binop){2, N_LOGIC, OP_AND};
    case TK_PIPE: return (binop){3, N_ARITH, OP_BOR};
    case TK_CARET: return (binop){4, N_ARITH, OP_BXOR};
    case TK_AMP: return (binop){5, N_ARITH, OP_BAND};
    case TK_EQ: return (binop){6, N_CMP, OP_EQ};
    case TK_NE: return (binop){6, N_CMP, OP_NE};
    case TK_LT: return (binop){7, N_CMP, OP_LT};
    case TK_LE: return (binop){7, N_CMP, OP_LE};
    case TK_GT: return (binop){7, N_CMP, OP_GT};
    case TK_GE: return (binop){7, N_CMP, OP_GE};
    case TK_IN: return (binop){8, N_IN, OP_NONE};
    case TK_NOT: return p->next.kind == TK_IN ? (binop){8, N_IN, OP_NONE} : (binop){0, N_CMP, OP_NONE};
    case TK_SHL: return (binop){9, N_ARITH, OP_SHL};
    case TK_SHR: return (binop){9, N_ARITH, OP_SHR};
    case TK_PLUS: return (binop){10, N_ARITH, OP_ADD};
    case TK_MINUS: return (binop){10, N_ARITH, OP_SUB};
    case TK_STAR: return (binop){11, N_ARITH, OP_MUL};
    case TK_SLASH: return (binop){11, N_ARITH, OP_DIV};
    case TK_PERCENT: return (binop){11, N_ARITH, OP_MOD};
    default: return (binop){0, N_CMP, OP_NONE};
  }
}

static bool lower_direction(expr_op op) { return op == OP_LT || op == OP_LE; }

static vs_status parse_binary(parser *p, int min_prec, expr_node **out);

/* After `lhs op mid`: a second relational operator makes a range chain. */
static vs_status finish_relation(parser *p, binop b, size_t pos, expr_node *lhs,
                                 expr_node *mid, expr_node **out) {
  binop b2 = current_binop(p);
  if (b2.prec != 7 || mid->kind != N_PATH)
    return make(p, N_CMP, b.op, pos, lhs, mid, NULL, out);
  if (lower_direction(b.op) != lower_direction(b2.op))
    return expr_error(p->lx.src, p->cur.pos,
                      "a range must use the same direction on both sides "
                      "(a < x <= b or a > x >= b)");
  expr_node *hi = NULL;
  tok_kind kind2 = p->cur.kind;
  vs_status st = advance(p);
  if (st == VS_OK && p->cur.kind == TK_EOF)
    return expr_error(p->lx.src, p->cur.pos, "expected a value after %s", tok_describe(kind2));
  if (st == VS_OK) st = parse_binary(p, 8, &hi);
  if (st == VS_OK) st = make(p, N_RANGE, b.op, pos, lhs, mid, hi, out);
  if (st == VS_OK) (*out)->op2 = b2.op;
  return st;
}

static vs_status combine(parser *p, binop b, size_t pos, bool negated,
                         expr_node *lhs, expr_node *rhs, expr_node **out) {
  if (b.kind == N_LOGIC && lhs->kind == N_LOGIC && lhs->op == b.op) {
    vs_status st = expr_add_kid(p->lx.arena, lhs, rhs);
    *out = lhs;
    return st == VS_OK ? check_depth(p, lhs) : st;
  }
  vs_status st = make(p, b.kind, b.op, pos, lhs, rhs, NULL, out);
  if (st == VS_OK) (*out)->negated = negated;
  return st;
}

static vs_status parse_binary(parser *p, int min_prec, expr_node **out) {
  expr_node *lhs = NULL;
  vs_status st = parse_unary(p, &lhs);
  for (binop b = current_binop(p); st == VS_OK && b.prec >= min_prec && b.prec;
       b = current_binop(p)) {
    size_t pos = p->cur.pos;
    tok_kind kind = p->cur.kind;
    bool negated = kind == TK_NOT;
    if ((st = advance(p)) != VS_OK) break;
    if (negated && (st = advance(p)) != VS_OK) break;
    if (p->cur.kind == TK_EOF || p->cur.kind == TK_RPAREN || p->cur.kind == TK_COMMA ||
        p->cur.kind == TK_RBRACKET)
      return expr_error(p->lx.src, p->cur.pos, "expected a value after %s",
                        negated ? "'not in'" : tok_describe(kind));
    expr_node *rhs = NULL;
    if ((st = parse_binary(p, b.prec + 1, &rhs)) != VS_OK) break;
    if (b.prec == 7) {
      st = finish_relation(p, b, pos, lhs, rhs, &lhs);
    } else {
      st = combine(p, b, pos, negated, lhs, rhs, &lhs);
    }
  }
  *out = lhs;
  return st;
}

static vs_status parse_expr(parser *p, expr_node **out) {
  vs_status st = enter(p);
  if (st == VS_OK) st = parse_binary(p, 1, out);
  p->nesting--;
  return st;
}

vs_status expr_parse(const expr_source *src, const void *params,
                     expr_arena *arena, expr_node **out) {
  parser p;
  memset(&p, 0, sizeof p);
  *out = NULL;
  p.lx.src = src;
  p.lx.arena = arena;
  p.params = params;
  vs_status st = lex_next(&p.lx, &p.cur);
  if (st == VS_OK) st = lex_next(&p.lx, &p.next);
  if (st != VS_OK) return st;
  if (p.cur.kind == TK_EOF) return VS_OK;
  expr_node *root = NULL;
  if ((st = parse_expr(&p, &root)) != VS_OK) return st;
  if (p.cur.kind == TK_RPAREN) return expr_error(src, p.cur.pos, "unbalanced ')'");
  if (p.cur.kind != TK_EOF)
    return expr_error(src, p.cur.pos, "unexpected %s after the end of the expression",
                      tok_describe(p.cur.kind));
  *out = root;
  return VS_OK;
}
