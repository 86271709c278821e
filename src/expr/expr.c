/*
 * expr.c -- the public face of src/expr/: compile (parse, check, lower),
 * evaluate, print, free; the arena; positioned error messages.
 *
 * Pipeline: parse.c builds a tree with byte positions, check.c resolves
 * names against the schema and types it, program.c lowers it into a
 * program of vectorised kernels (falling back to row.c's per-row
 * evaluator), and reference.c is an independent tree-walking interpreter
 * that the tests and the fuzzer compare the program against.
 *
 * Everything a compiled expression owns lives in one arena, so vs_expr_free
 * is one walk over a list of blocks and no node needs a destructor.  The
 * compiled expression is read-only afterwards, which makes concurrent
 * evaluation safe: per-call scratch lives on the evaluating thread.
 *
 * Error messages show the offending position with a caret under a window
 * of at most ~70 bytes of the text (newlines and tabs shown as spaces), so
 * the message stays within the per-thread error buffer even for a 1 MiB
 * filter.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"

/* ------------------------------------------------------------------ arena */

#define ARENA_BLOCK 8192

struct expr_arena_block {
  expr_arena_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void *expr_arena_alloc(expr_arena *arena, size_t size) {
  size = (size + 15) & ~(size_t)15;
  expr_arena_block *b = arena->head;
  if (!b || b->cap - b->used < size) {
    size_t cap = VS_MAX(size, (size_t)ARENA_BLOCK);
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = arena->head;
    arena->head = b;
  }
  void *p = b->data + b->used;
  b->used += size;
  memset(p, 0, size);
  return p;
}

char *expr_arena_strndup(expr_arena *arena, const char *s, size_t n) {
  char *out = expr_arena_alloc(arena, n + 1);
  if (out && n) memcpy(out, s, n);
  return out;
}

void expr_arena_free(expr_arena *arena) {
  while (arena->head) {
    expr_arena_block *next = arena->head->next;
    free(arena->head);
    arena->head = next;
  }
}

/* ----------------------------------------------------------------- errors */

#define CARET_WINDOW 60

vs_status expr_error(const expr_source *src, size_t pos, const char *fmt, ...) {
  char msg[512], line[CARET_WINDOW * 2 + 8];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (pos > src->len) pos = src->len;
  size_t from = pos > CARET_WINDOW ? pos - CARET_WINDOW : 0;
  size_t to = VS_MIN(src->len, pos + CARET_WINDOW);
  size_t n = 0;
  if (from > 0) n += (size_t)snprintf(line, sizeof line, "...");
  size_t caret = n + (pos - from);
  for (size_t k = from; k < to; k++) {
    unsigned char c = (unsigned char)src->text[k];
    line[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  line[n] = 0;
  return vs_fail(VS_ERR_INVALID, "filter: %s at position %zu\n  %s\n  %*s^", msg, pos, line,
                 (int)caret, "");
}

/* ------------------------------------------------------------- interface */

static vs_status load_params(const char *params_json, json_t **out) {
  *out = NULL;
  if (!params_json || !*params_json) return VS_OK;
  json_error_t err;
  json_t *v = json_loads(params_json, JSON_DECODE_ANY, &err);
  if (!v || !json_is_object(v)) {
    json_decref(v);
    return vs_fail(VS_ERR_INVALID, "exprParams must be a JSON object");
  }
  *out = v;
  return VS_OK;
}

static vs_status compile_tree(const vs_schema *schema, const expr_source *src,
                              const json_t *params, vs_expr *e) {
  vs_status st = expr_parse(src, params, &e->arena, &e->root);
  if (st != VS_OK || !e->root) return st;
  if ((st = expr_check(src, schema, &e->arena, &e->root)) != VS_OK) return st;
  return expr_program_build(e->root, &e->arena, &e->program);
}

vs_status vs_expr_compile(const vs_schema *schema, const char *text,
                          const char *params_json, vs_expr **out) {
  *out = NULL;
  if (!text) text = "";
  size_t len = strlen(text);
  if (len > EXPR_MAX_TEXT)
    return vs_fail(VS_ERR_INVALID, "filter: %zu bytes is longer than the limit of %u", len,
                   EXPR_MAX_TEXT);
  json_t *params = NULL;
  vs_status st = load_params(params_json, &params);
  if (st != VS_OK) return st;
  vs_expr *e = calloc(1, sizeof *e);
  if (!e) {
    json_decref(params);
    return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  expr_source src = {text, len};
  st = compile_tree(schema, &src, params, e);
  json_decref(params);
  if (st != VS_OK) {
    vs_expr_free(e);
    return st;
  }
  e->is_true = !e->root || (e->root->kind == N_BOOL && e->root->b);
  *out = e;
  return VS_OK;
}

void vs_expr_free(vs_expr *expr) {
  if (!expr) return;
  expr_arena_free(&expr->arena);
  free(expr);
}

void vs_expr_eval(const vs_expr *expr, const vs_colview *cols, size_t begin,
                  size_t end, vs_bitset *out) {
  if (begin >= end) return;
  expr_program_eval(expr->program, cols, begin, end, out);
}

bool vs_expr_eval_row_reference(const vs_expr *expr, const vs_colview *cols,
                                size_t row) {
  if (!expr->root) return true;
  return expr_reference_pred(expr->root, cols, row) == EXPR_TRUE;
}

bool vs_expr_is_true(const vs_expr *expr) { return expr->is_true; }

char *vs_expr_to_string(const vs_expr *expr) { return expr_print(expr->root); }
