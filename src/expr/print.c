/*
 * print.c -- the canonical text of a checked tree (vs_expr_to_string).
 *
 * Every operator node is wrapped in parentheses, so tests can read the
 * precedence the parser chose: `a or b and c` prints as
 * `(a or (b and c))`.  Names print resolved: a dynamic key `color` prints
 * as `$meta["color"]`.  Strings print with the escapes the lexer reads
 * back, floats with 17 significant digits and always a '.' or exponent, so
 * the output parses again to the same tree.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"

static const char *op_text(expr_op op) {
  static const char *const text[] = {
      [OP_NONE] = "?", [OP_OR] = "or", [OP_AND] = "and", [OP_NOT] = "not",
      [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<", [OP_LE] = "<=",
      [OP_GT] = ">", [OP_GE] = ">=", [OP_ADD] = "+", [OP_SUB] = "-",
      [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%", [OP_POW] = "**",
      [OP_NEG] = "-", [OP_POS] = "+", [OP_BOR] = "|", [OP_BXOR] = "^",
      [OP_BAND] = "&", [OP_SHL] = "<<", [OP_SHR] = ">>", [OP_BNOT] = "~"};
  return text[op];
}

static void print_string(vs_buf *b, const char *s, size_t n) {
  vs_buf_append_u8(b, '"');
  for (size_t k = 0; k < n; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c == '"' || c == '\\') {
      vs_buf_printf(b, "\\%c", c);
    } else if (c == '\n') {
      vs_buf_printf(b, "\\n");
    } else if (c == '\t') {
      vs_buf_printf(b, "\\t");
    } else if (c < 0x20 || c == 0x7f) {
      vs_buf_printf(b, "\\x%02x", c);
    } else {
      vs_buf_append_u8(b, c);
    }
  }
  vs_buf_append_u8(b, '"');
}

static void print_float(vs_buf *b, double f) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.17g", f);
  if (!strpbrk(tmp, ".eEn")) strcat(tmp, ".0");
  vs_buf_printf(b, "%s", tmp);
}

static void print_path(vs_buf *b, const expr_node *n) {
  vs_buf_printf(b, "%s", n->name);
  for (size_t k = 0; k < n->nsteps; k++) {
    const expr_step *s = &n->steps[k];
    vs_buf_append_u8(b, '[');
    if (s->is_index) {
      vs_buf_printf(b, "%lld", (long long)s->index);
    } else {
      print_string(b, s->key, s->key_len);
    }
    vs_buf_append_u8(b, ']');
  }
}

static void print_node(vs_buf *b, const expr_node *n);

static void print_kids(vs_buf *b, const expr_node *n, const char *sep, size_t from) {
  for (size_t k = from; k < n->nkids; k++) {
    if (k > from) vs_buf_printf(b, "%s", sep);
    print_node(b, n->kids[k]);
  }
}

static void print_node(vs_buf *b, const expr_node *n) {
  switch (n->kind) {
    case N_BOOL: vs_buf_printf(b, "%s", n->b ? "true" : "false"); return;
    case N_INT: vs_buf_printf(b, "%lld", (long long)n->i); return;
    case N_FLOAT: print_float(b, n->f); return;
    case N_STRING: print_string(b, n->s, n->slen); return;
    case N_LIST:
      vs_buf_append_u8(b, '[');
      print_kids(b, n, ", ", 0);
      vs_buf_append_u8(b, ']');
      return;
    case N_PATH: print_path(b, n); return;
    case N_CALL:
      vs_buf_printf(b, "%s(", n->name);
      print_kids(b, n, ", ", 0);
      vs_buf_append_u8(b, ')');
      return;
    default: break;
  }
  vs_buf_append_u8(b, '(');
  switch (n->kind) {
    case N_UNARY:
      vs_buf_printf(b, n->op == OP_NOT ? "not " : "%s", op_text(n->op));
      print_node(b, n->kids[0]);
      break;
    case N_LOGIC: print_kids(b, n, n->op == OP_AND ? " and " : " or ", 0); break;
    case N_ARITH: case N_CMP:
      print_node(b, n->kids[0]);
      vs_buf_printf(b, " %s ", op_text(n->op));
      print_node(b, n->kids[1]);
      break;
    case N_RANGE:
      print_node(b, n->kids[0]);
      vs_buf_printf(b, " %s ", op_text(n->op));
      print_node(b, n->kids[1]);
      vs_buf_printf(b, " %s ", op_text(n->op2));
      print_node(b, n->kids[2]);
      break;
    case N_IN:
      print_node(b, n->kids[0]);
      vs_buf_printf(b, n->negated ? " not in " : " in ");
      print_node(b, n->kids[1]);
      break;
    case N_LIKE:
      print_node(b, n->kids[0]);
      vs_buf_printf(b, " like ");
      print_string(b, n->s, n->slen);
      break;
    case N_ISNULL:
      print_node(b, n->kids[0]);
      vs_buf_printf(b, n->negated ? " is not null" : " is null");
      break;
    default: /* N_EXISTS */
      vs_buf_printf(b, "exists ");
      print_node(b, n->kids[0]);
      break;
  }
  vs_buf_append_u8(b, ')');
}

char *expr_print(const expr_node *root) {
  vs_buf b = {0};
  if (root) {
    print_node(&b, root);
  } else {
    vs_buf_printf(&b, "true");
  }
  if (vs_buf_append_u8(&b, 0) != VS_OK) {
    vs_buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}
