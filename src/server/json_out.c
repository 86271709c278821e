/*
 * json_out.c -- the writer of every JSON response: compact text from a
 * jansson tree, with numbers as Milvus (Go's encoding/json) writes them.
 *
 * jansson's own json_dumps prints every real with "%.17g", so a distance
 * of float32 0.99999994 -- which render.c stores as the double nearest
 * "0.99999994" -- comes out as 0.99999994000000003, and 1.0 as "1.0".  Go
 * writes the shortest text that reads back as the same double (and "1" for
 * an integral value), and so do we: "%.15g", then 16, then 17 digits, the
 * first that strtod maps back to the value.  Most values stop at 15 (every
 * float32 does), so a number costs one snprintf and one strtod.
 *
 * The writer is also the hot path of search responses (a hit is a small
 * object; k hits x nq queries of them), so it appends into one growing
 * buffer rather than through jansson's callback machinery.  Strings are
 * written as UTF-8 (jansson has already checked them), escaping only what
 * JSON requires: '"', '\\' and control characters.
 *
 * Rejected: JSON_REAL_PRECISION(9) -- it would cut true Double fields to
 * 9 digits; a third-party shortest-float library (Ryu) -- not packaged in
 * Debian, and the three-try loop measured cheap enough next to the rest of
 * a request.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

typedef struct out_buf {
  char *data;
  size_t len;
  size_t cap;
  bool failed;
} out_buf;

static void put(out_buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + n + 1 > cap) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void put_c(out_buf *b, char c) { put(b, &c, 1); }

/* The shortest "%.Ng" text (N = 15..17) that reads back as v. */
static int format_real(double v, char *buf, size_t n) {
  if (!isfinite(v)) return snprintf(buf, n, "null");
  int len = 0;
  for (int digits = 15; digits <= 17; digits++) {
    len = snprintf(buf, n, "%.*g", digits, v);
    if (strtod(buf, NULL) == v) break;
  }
  return len;
}

static void put_string(out_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  put_c(b, '"');
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(b, s + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': put(b, "\\\"", 2); break;
      case '\\': put(b, "\\\\", 2); break;
      case '\n': put(b, "\\n", 2); break;
      case '\r': put(b, "\\r", 2); break;
      case '\t': put(b, "\\t", 2); break;
      case '\b': put(b, "\\b", 2); break;
      case '\f': put(b, "\\f", 2); break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        put(b, esc, 6);
      }
    }
  }
  put(b, s + run, n - run);
  put_c(b, '"');
}

static void put_value(out_buf *b, const json_t *v, int depth);

static void put_object(out_buf *b, const json_t *v, int depth) {
  const char *key;
  json_t *member;
  bool first = true;
  put_c(b, '{');
  json_object_foreach((json_t *)v, key, member) {
    if (!first) put_c(b, ',');
    first = false;
    put_string(b, key, strlen(key));
    put_c(b, ':');
    put_value(b, member, depth + 1);
  }
  put_c(b, '}');
}

static void put_array(out_buf *b, const json_t *v, int depth) {
  put_c(b, '[');
  for (size_t i = 0; i < json_array_size(v); i++) {
    if (i) put_c(b, ',');
    put_value(b, json_array_get(v, i), depth + 1);
  }
  put_c(b, ']');
}

static void put_value(out_buf *b, const json_t *v, int depth) {
  char num[40];
  if (depth > 1000) {
    b->failed = true; /* never built by our handlers; refuse rather than recurse */
    return;
  }
  switch (json_typeof(v)) {
    case JSON_OBJECT: put_object(b, v, depth); break;
    case JSON_ARRAY: put_array(b, v, depth); break;
    case JSON_STRING: put_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER:
      put(b, num, (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)));
      break;
    case JSON_REAL: put(b, num, (size_t)format_real(json_real_value(v), num, sizeof num)); break;
    case JSON_TRUE: put(b, "true", 4); break;
    case JSON_FALSE: put(b, "false", 5); break;
    default: put(b, "null", 4); break;
  }
}

char *srv_json_dump(const json_t *value, size_t *len) {
  out_buf b = {0};
  if (value) put_value(&b, value, 0);
  if (b.failed || !b.data) {
    free(b.data);
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = b.len;
  return b.data;
}
