/*
 * lex.c -- the tokenizer of filter expressions.
 *
 * Reads one token at a time from the text (the parser keeps two tokens of
 * lookahead), so a 1 MiB `pk in [...]` never becomes a token array.  String
 * literals are decoded here into the arena (escapes \" \' \\ \n \t \r \b
 * \f \v \0-\377 octal, \xHH, \uXXXX with surrogate pairs, producing
 * UTF-8).  Numbers follow Milvus: decimal, octal with a leading 0, 0x hex,
 * 0b binary, and floats (including hex floats) via strtod on the lexeme.
 * Keywords are all-lower or all-UPPER ("and", "AND", not "And"), except
 * booleans which also accept True/False.
 *
 * Rejected: a generated (flex) scanner -- one more build tool for ~300
 * lines, and its error positions would need the same care.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr/lex.h"

static const struct {
  const char *lower, *upper;
  tok_kind kind;
} keywords[] = {
    {"and", "AND", TK_AND},   {"or", "OR", TK_OR},
    {"not", "NOT", TK_NOT},   {"in", "IN", TK_IN},
    {"like", "LIKE", TK_LIKE}, {"is", "IS", TK_IS},
    {"null", "NULL", TK_NULL}, {"exists", "EXISTS", TK_EXISTS},
    {"true", "TRUE", TK_TRUE}, {"false", "FALSE", TK_FALSE},
    {"True", "True", TK_TRUE}, {"False", "False", TK_FALSE},
};

const char *tok_describe(tok_kind kind) {
  static const char *const names[] = {
      [TK_EOF] = "the end of the filter", [TK_IDENT] = "a name",
      [TK_META] = "'$meta'", [TK_INT] = "an integer", [TK_FLOAT] = "a number",
      [TK_STRING] = "a string", [TK_TRUE] = "'true'", [TK_FALSE] = "'false'",
      [TK_AND] = "'and'", [TK_OR] = "'or'", [TK_NOT] = "'not'",
      [TK_IN] = "'in'", [TK_LIKE] = "'like'", [TK_IS] = "'is'",
      [TK_NULL] = "'null'", [TK_EXISTS] = "'exists'", [TK_LPAREN] = "'('",
      [TK_RPAREN] = "')'", [TK_LBRACKET] = "'['", [TK_RBRACKET] = "']'",
      [TK_LBRACE] = "'{'", [TK_RBRACE] = "'}'", [TK_COMMA] = "','",
      [TK_EQ] = "'=='", [TK_NE] = "'!='", [TK_LT] = "'<'", [TK_LE] = "'<='",
      [TK_GT] = "'>'", [TK_GE] = "'>='", [TK_PLUS] = "'+'",
      [TK_MINUS] = "'-'", [TK_STAR] = "'*'", [TK_SLASH] = "'/'",
      [TK_PERCENT] = "'%'", [TK_POW] = "'**'", [TK_BANG] = "'!'",
      [TK_TILDE] = "'~'", [TK_AMP] = "'&'", [TK_PIPE] = "'|'",
      [TK_CARET] = "'^'", [TK_SHL] = "'<<'", [TK_SHR] = "'>>'",
      [TK_ANDAND] = "'&&'", [TK_OROR] = "'||'"};
  return names[kind];
}

static bool is_ident_start(int c) { return isalpha(c) || c == '_'; }
static bool is_ident_char(int c) { return isalnum(c) || c == '_'; }

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Reads 4 hex digits at t[*i]; -1 if malformed. */
static long read_hex4(const char *t, size_t len, size_t at) {
  if (at + 4 > len) return -1;
  long v = 0;
  for (size_t k = 0; k < 4; k++) {
    int h = hex_value((unsigned char)t[at + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* Decodes a \u escape starting at t[*i] == 'u'; advances *i past it. */
static vs_status lex_unicode(lexer *lx, size_t esc, size_t *i, char *out,
                             size_t *o) {
  const char *t = lx->src->text;
  long cp = read_hex4(t, lx->src->len, *i + 1);
  if (cp < 0) return expr_error(lx->src, esc, "bad \\u escape (4 hex digits expected)");
  *i += 5;
  if (cp >= 0xDC00 && cp <= 0xDFFF)
    return expr_error(lx->src, esc, "bad \\u escape (lone low surrogate)");
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    long lo = -1;
    if (*i + 1 < lx->src->len && t[*i] == '\\' && t[*i + 1] == 'u')
      lo = read_hex4(t, lx->src->len, *i + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
      return expr_error(lx->src, esc, "bad \\u escape (unpaired surrogate)");
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    *i += 6;
  }
  *o += put_utf8(out + *o, (uint32_t)cp);
  return VS_OK;
}

/* One escape sequence at t[*i] (just after the backslash). */
static vs_status lex_escape(lexer *lx, size_t *i, char *out, size_t *o) {
  const char *t = lx->src->text;
  size_t esc = *i - 1;
  if (*i >= lx->src->len) return expr_error(lx->src, esc, "unterminated string");
  char c = t[*i];
  const char *simple = strchr("\"'\\ntrbfv", c);
  if (simple && c) {
    static const char map[] = "\"'\\\n\t\r\b\f\v";
    out[(*o)++] = map[simple - "\"'\\ntrbfv"];
    (*i)++;
    return VS_OK;
  }
  if (c == 'x') {
    int h1 = *i + 1 < lx->src->len ? hex_value((unsigned char)t[*i + 1]) : -1;
    int h2 = *i + 2 < lx->src->len ? hex_value((unsigned char)t[*i + 2]) : -1;
    if (h1 < 0 || h2 < 0) return expr_error(lx->src, esc, "bad \\x escape (2 hex digits expected)");
    out[(*o)++] = (char)(h1 * 16 + h2);
    *i += 3;
    return VS_OK;
  }
  if (c == 'u') return lex_unicode(lx, esc, i, out, o);
  if (c >= '0' && c <= '7') {
    unsigned v = 0;
    for (int k = 0; k < 3 && *i < lx->src->len && t[*i] >= '0' && t[*i] <= '7'; k++)
      v = v * 8 + (unsigned)(t[(*i)++] - '0');
    if (v > 255) return expr_error(lx->src, esc, "bad octal escape (above \\377)");
    out[(*o)++] = (char)v;
    return VS_OK;
  }
  return expr_error(lx->src, esc, "bad escape '\\%c' in string",
                    isprint((unsigned char)c) ? c : '?');
}

static vs_status lex_string(lexer *lx, token *tk) {
  const char *t = lx->src->text;
  char quote = t[lx->pos];
  size_t i = lx->pos + 1, o = 0;
  size_t end = i;
  while (end < lx->src->len && t[end] != quote) end += t[end] == '\\' ? 2 : 1;
  if (end >= lx->src->len) return expr_error(lx->src, lx->pos, "unterminated string");
  char *out = expr_arena_alloc(lx->arena, end - i + 1);
  if (!out) return vs_fail(VS_ERR_NOMEM, "out of memory");
  while (i < end) {
    if (t[i] != '\\') {
      out[o++] = t[i++];
      continue;
    }
    i++;
    vs_status st = lex_escape(lx, &i, out, &o);
    if (st != VS_OK) return st;
  }
  tk->kind = TK_STRING;
  tk->s = out;
  tk->slen = o;
  lx->pos = end + 1;
  return VS_OK;
}

/* Integer digits in `base` from t[start, stop); range-checked to 2^63. */
static vs_status lex_int_digits(lexer *lx, size_t start, size_t stop, int base,
                                token *tk) {
  const char *t = lx->src->text;
  uint64_t v = 0;
  if (start == stop) return expr_error(lx->src, lx->pos, "malformed number");
  for (size_t k = start; k < stop; k++) {
    int d = hex_value((unsigned char)t[k]);
    if (d < 0 || d >= base)
      return expr_error(lx->src, k, "bad digit '%c' in a base-%d integer", t[k], base);
    if (v > (UINT64_C(1) << 63) / (uint64_t)base) goto range;
    v = v * (uint64_t)base + (uint64_t)d;
    if (v > (UINT64_C(1) << 63)) goto range;
  }
  tk->kind = TK_INT;
  tk->u = v;
  return VS_OK;
range:
  return expr_error(lx->src, lx->pos, "integer literal out of range");
}

static vs_status lex_float(lexer *lx, size_t stop, token *tk) {
  char buf[128];
  size_t n = stop - lx->pos;
  if (n >= sizeof buf) return expr_error(lx->src, lx->pos, "number literal too long");
  memcpy(buf, lx->src->text + lx->pos, n);
  buf[n] = 0;
  char *end = NULL;
  errno = 0;
  double d = strtod(buf, &end);
  if (end != buf + n) return expr_error(lx->src, lx->pos, "malformed number");
  if (isinf(d) || (errno == ERANGE && fabs(d) > 1.0))
    return expr_error(lx->src, lx->pos, "float literal out of range");
  tk->kind = TK_FLOAT;
  tk->f = d;
  return VS_OK;
}

static vs_status lex_number(lexer *lx, token *tk) {
  const char *t = lx->src->text;
  size_t len = lx->src->len, p = lx->pos;
  bool hex = t[p] == '0' && p + 1 < len && (t[p + 1] == 'x' || t[p + 1] == 'X');
  bool bin = t[p] == '0' && p + 1 < len && (t[p + 1] == 'b' || t[p + 1] == 'B');
  size_t q = p + (hex || bin ? 2 : 0);
  bool is_float = false;
  while (q < len) {
    char c = t[q];
    bool exp = hex ? (c == 'p' || c == 'P') : (!bin && (c == 'e' || c == 'E'));
    if (exp && q + 1 < len && (t[q + 1] == '+' || t[q + 1] == '-')) {
      is_float = true;
      q += 2;
    } else if (exp || c == '.') {
      is_float = true;
      q++;
    } else if (isalnum((unsigned char)c) || c == '_') {
      q++;
    } else {
      break;
    }
  }
  vs_status st;
  if (is_float) {
    st = lex_float(lx, q, tk);
  } else if (hex || bin) {
    st = lex_int_digits(lx, p + 2, q, hex ? 16 : 2, tk);
  } else if (t[p] == '0' && q - p > 1) {
    st = lex_int_digits(lx, p + 1, q, 8, tk);
  } else {
    st = lex_int_digits(lx, p, q, 10, tk);
  }
  lx->pos = q;
  return st;
}

static void lex_word(lexer *lx, token *tk) {
  const char *t = lx->src->text;
  size_t q = lx->pos;
  while (q < lx->src->len && is_ident_char((unsigned char)t[q])) q++;
  size_t n = q - lx->pos;
  tk->kind = TK_IDENT;
  tk->s = t + lx->pos;
  tk->slen = n;
  for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
    const char *lo = keywords[k].lower, *up = keywords[k].upper;
    if ((strlen(lo) == n && memcmp(lo, tk->s, n) == 0) ||
        (strlen(up) == n && memcmp(up, tk->s, n) == 0)) {
      tk->kind = keywords[k].kind;
      break;
    }
  }
  lx->pos = q;
}

/* Operators of one or two characters. */
static bool lex_operator(lexer *lx, token *tk) {
  static const struct {
    const char *text;
    tok_kind kind;
  } ops[] = {{"==", TK_EQ},   {"!=", TK_NE},     {"<=", TK_LE},
             {">=", TK_GE},   {"<<", TK_SHL},    {">>", TK_SHR},
             {"**", TK_POW},  {"&&", TK_ANDAND}, {"||", TK_OROR},
             {"<", TK_LT},    {">", TK_GT},      {"+", TK_PLUS},
             {"-", TK_MINUS}, {"*", TK_STAR},    {"/", TK_SLASH},
             {"%", TK_PERCENT}, {"!", TK_BANG},  {"~", TK_TILDE},
             {"&", TK_AMP},   {"|", TK_PIPE},    {"^", TK_CARET},
             {"(", TK_LPAREN}, {")", TK_RPAREN}, {"[", TK_LBRACKET},
             {"]", TK_RBRACKET}, {"{", TK_LBRACE}, {"}", TK_RBRACE},
             {",", TK_COMMA}};
  const char *t = lx->src->text + lx->pos;
  size_t left = lx->src->len - lx->pos;
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    size_t n = strlen(ops[k].text);
    if (n <= left && memcmp(t, ops[k].text, n) == 0) {
      tk->kind = ops[k].kind;
      lx->pos += n;
      return true;
    }
  }
  return false;
}

vs_status lex_next(lexer *lx, token *tk) {
  const char *t = lx->src->text;
  size_t len = lx->src->len;
  while (lx->pos < len && strchr(" \t\r\n\f\v", t[lx->pos]) && t[lx->pos]) lx->pos++;
  memset(tk, 0, sizeof *tk);
  tk->pos = lx->pos;
  vs_status st = VS_OK;
  if (lx->pos >= len) {
    tk->kind = TK_EOF;
    return VS_OK;
  }
  unsigned char c = (unsigned char)t[lx->pos];
  if (c == '"' || c == '\'') {
    st = lex_string(lx, tk);
  } else if (isdigit(c) || (c == '.' && lx->pos + 1 < len && isdigit((unsigned char)t[lx->pos + 1]))) {
    st = lex_number(lx, tk);
  } else if (is_ident_start(c)) {
    lex_word(lx, tk);
  } else if (c == '$' && len - lx->pos >= 5 && memcmp(t + lx->pos, "$meta", 5) == 0 &&
             (lx->pos + 5 == len || !is_ident_char((unsigned char)t[lx->pos + 5]))) {
    tk->kind = TK_META;
    tk->s = t + lx->pos;
    tk->slen = 5;
    lx->pos += 5;
  } else if (!lex_operator(lx, tk)) {
    if (c == '=') return expr_error(lx->src, lx->pos, "unexpected '=' (did you mean '=='?)");
    if (isprint(c)) return expr_error(lx->src, lx->pos, "unexpected character '%c'", c);
    return expr_error(lx->src, lx->pos, "unexpected byte 0x%02x", c);
  }
  tk->len = lx->pos - tk->pos;
  return st;
}
