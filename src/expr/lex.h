/*
 * lex.h -- private to src/expr/: the tokenizer of filter expressions.
 */
#ifndef VS_EXPR_LEX_H
#define VS_EXPR_LEX_H

#include "expr/expr_internal.h"

typedef enum tok_kind {
  TK_EOF = 0,
  TK_IDENT, TK_META, TK_INT, TK_FLOAT, TK_STRING, TK_TRUE, TK_FALSE,
  TK_AND, TK_OR, TK_NOT, TK_IN, TK_LIKE, TK_IS, TK_NULL, TK_EXISTS,
  TK_LPAREN, TK_RPAREN, TK_LBRACKET, TK_RBRACKET, TK_LBRACE, TK_RBRACE,
  TK_COMMA,
  TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
  TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT, TK_POW,
  TK_BANG, TK_TILDE, TK_AMP, TK_PIPE, TK_CARET, TK_SHL, TK_SHR,
  TK_ANDAND, TK_OROR
} tok_kind;

typedef struct token {
  tok_kind kind;
  size_t pos;
  size_t len;        /* bytes of text */
  uint64_t u;        /* TK_INT (may be 2^63: the caller decides) */
  double f;          /* TK_FLOAT */
  const char *s;     /* TK_STRING decoded (arena), TK_IDENT raw text */
  size_t slen;
} token;

typedef struct lexer {
  const expr_source *src;
  size_t pos;
  expr_arena *arena;
} lexer;

/* Reads the next token; VS_ERR_INVALID (positioned message) on a bad one. */
vs_status lex_next(lexer *lx, token *out);
/* Printable description of a token kind ("'>='", "a string", ...). */
const char *tok_describe(tok_kind kind);

#endif /* VS_EXPR_LEX_H */
