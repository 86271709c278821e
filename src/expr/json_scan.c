/*
 * json_scan.c -- finds a path (["a"][0]["b"]) in JSON text without
 * building a tree or allocating.
 *
 * The program evaluates `meta["n"] > 5` for every row of a segment, and
 * the JSON cells are compact text written by our own encoder.  Parsing each
 * cell into a jansson tree costs an allocation per value; this scanner
 * walks the bytes once, skipping unwanted members by counting brackets
 * outside strings, and returns a span (kind + bytes) of the value found.
 * Numbers are parsed only when compared, strings compared without
 * decoding (escapes are decoded on the fly by json_string_cmp).
 *
 * The text is treated as hostile: every read is bounded by `end`, and
 * malformed input yields JV_MISSING rather than an error.  It is not a
 * validator (the encoder validated the cell when it was written).  With
 * duplicate keys the first wins (our encoder never writes duplicates).
 *
 * Rejected: jansson per row (an allocation per value; the reference
 * interpreter uses it on purpose, so the two are independent); caching
 * parsed trees per segment (memory proportional to the data).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* p at the opening quote; returns the closing quote or NULL. */
static const char *string_end(const char *p, const char *end, bool *escaped) {
  *escaped = false;
  for (p++; p < end; p++) {
    if (*p == '"') return p;
    if (*p == '\\') {
      *escaped = true;
      p++;
    }
  }
  return NULL;
}

/* Returns the byte after the value starting at p, or NULL if malformed. */
static const char *skip_value(const char *p, const char *end) {
  bool esc;
  if (p >= end) return NULL;
  if (*p == '"') {
    const char *q = string_end(p, end, &esc);
    return q ? q + 1 : NULL;
  }
  if (*p != '[' && *p != '{') {
    while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != ':') p++;
    return p;
  }
  size_t depth = 0;
  for (; p < end; p++) {
    if (*p == '"') {
      p = string_end(p, end, &esc);
      if (!p) return NULL;
    } else if (*p == '[' || *p == '{') {
      depth++;
    } else if (*p == ']' || *p == '}') {
      if (--depth == 0) return p + 1;
    }
  }
  return NULL;
}

static json_span span_at(const char *p, const char *end) {
  json_span v = {JV_MISSING, false, NULL, 0};
  p = skip_ws(p, end);
  if (p >= end) return v;
  if (*p == '"') {
    const char *q = string_end(p, end, &v.escaped);
    if (!q) return v;
    v.kind = JV_STRING;
    v.p = p + 1;
    v.len = (size_t)(q - p - 1);
    return v;
  }
  const char *q = skip_value(p, end);
  if (!q || q == p) return v;
  v.p = p;
  v.len = (size_t)(q - p);
  switch (*p) {
    case '[': v.kind = JV_ARRAY; break;
    case '{': v.kind = JV_OBJECT; break;
    case 't': v.kind = v.len == 4 && !memcmp(p, "true", 4) ? JV_TRUE : JV_MISSING; break;
    case 'f': v.kind = v.len == 5 && !memcmp(p, "false", 5) ? JV_FALSE : JV_MISSING; break;
    case 'n': v.kind = v.len == 4 && !memcmp(p, "null", 4) ? JV_NULL : JV_MISSING; break;
    default: v.kind = (*p == '-' || (*p >= '0' && *p <= '9')) ? JV_NUMBER : JV_MISSING; break;
  }
  return v;
}

void json_iter_init(json_iter *it, const json_span *array) {
  it->p = array->p + 1;
  it->end = array->p + array->len - 1;
  it->first = true;
}

bool json_iter_next(json_iter *it, json_span *out) {
  const char *p = skip_ws(it->p, it->end);
  if (!it->first) {
    if (p >= it->end || *p != ',') return false;
    p = skip_ws(p + 1, it->end);
  }
  if (p >= it->end) return false;
  it->first = false;
  *out = span_at(p, it->end);
  if (out->kind == JV_MISSING) return false;
  const char *q = out->kind == JV_STRING ? out->p + out->len + 1 : out->p + out->len;
  it->p = q;
  return true;
}

size_t json_array_length(const json_span *array) {
  json_iter it;
  json_span v;
  size_t n = 0;
  json_iter_init(&it, array);
  while (json_iter_next(&it, &v)) n++;
  return n;
}

static json_span step_index(const json_span *cur, int64_t index) {
  json_span v = {JV_MISSING, false, NULL, 0};
  if (cur->kind != JV_ARRAY || index < 0) return v;
  json_iter it;
  json_iter_init(&it, cur);
  for (int64_t k = 0; json_iter_next(&it, &v); k++) {
    if (k == index) return v;
  }
  v.kind = JV_MISSING;
  return v;
}

static json_span step_key(const json_span *cur, const char *key, size_t key_len) {
  json_span none = {JV_MISSING, false, NULL, 0};
  if (cur->kind != JV_OBJECT) return none;
  const char *p = cur->p + 1, *end = cur->p + cur->len - 1;
  for (bool first = true;; first = false) {
    p = skip_ws(p, end);
    if (!first) {
      if (p >= end || *p != ',') return none;
      p = skip_ws(p + 1, end);
    }
    if (p >= end || *p != '"') return none;
    json_span k = span_at(p, end);
    if (k.kind != JV_STRING) return none;
    p = skip_ws(k.p + k.len + 1, end);
    if (p >= end || *p != ':') return none;
    json_span v = span_at(p + 1, end);
    if (v.kind == JV_MISSING) return none;
    if (json_string_cmp(k.p, k.len, k.escaped, key, key_len, false) == 0) return v;
    p = v.kind == JV_STRING ? v.p + v.len + 1 : v.p + v.len;
  }
}

/* The whole cell: a container is trusted to span the text (its end is
 * checked when stepping into it), which saves a full scan per row. */
static json_span root_span(const char *text, size_t len) {
  const char *p = skip_ws(text, text + len), *end = text + len;
  while (end > p && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\t' || end[-1] == '\r')) end--;
  if (end - p >= 2 && ((*p == '{' && end[-1] == '}') || (*p == '[' && end[-1] == ']'))) {
    json_span v = {*p == '{' ? JV_OBJECT : JV_ARRAY, false, p, (size_t)(end - p)};
    return v;
  }
  return span_at(text, text + len);
}

json_span json_find(const char *text, size_t len, const expr_step *steps,
                    size_t nsteps) {
  json_span cur = root_span(text, len);
  for (size_t k = 0; k < nsteps && cur.kind != JV_MISSING; k++) {
    cur = steps[k].is_index ? step_index(&cur, steps[k].index)
                            : step_key(&cur, steps[k].key, steps[k].key_len);
  }
  return cur;
}

/* Plain integers of up to 18 digits, the common case, without libc. */
static bool small_int(const json_span *v, int64_t *out) {
  const char *p = v->p, *end = v->p + v->len;
  bool neg = p < end && *p == '-';
  p += neg;
  if (p == end || end - p > 18) return false;
  int64_t x = 0;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9') return false;
    x = x * 10 + (*p - '0');
  }
  *out = neg ? -x : x;
  return true;
}

bool json_number(const json_span *v, bool *is_int, int64_t *i, double *d) {
  char buf[64];
  if (v->kind == JV_NUMBER && small_int(v, i)) {
    *is_int = true;
    *d = (double)*i;
    return true;
  }
  if (v->kind != JV_NUMBER || v->len >= sizeof buf) return false;
  memcpy(buf, v->p, v->len);
  buf[v->len] = 0;
  bool integral = strpbrk(buf, ".eE") == NULL;
  char *end = NULL;
  if (integral) {
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno == 0 && *end == 0) {
      *is_int = true;
      *i = x;
      *d = (double)x;
      return true;
    }
  }
  errno = 0;
  *d = strtod(buf, &end);
  *is_int = false;
  return *end == 0 && isfinite(*d);
}

/* ------------------------------------------------------ string decoding */

typedef struct str_reader {
  const char *p, *end;
  bool escaped;
  unsigned char pending[4];
  int npending, ipending;
} str_reader;

static int hex4(const char *p, const char *end) {
  if (end - p < 4) return -1;
  int v = 0;
  for (int k = 0; k < 4; k++) {
    char c = p[k];
    int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static void queue_utf8(str_reader *r, uint32_t cp) {
  unsigned char *o = r->pending;
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    r->npending = 1;
  } else if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    r->npending = 2;
  } else if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    r->npending = 3;
  } else {
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    r->npending = 4;
  }
  r->ipending = 0;
}

/* Decodes one escape at r->p (the backslash) into pending bytes. */
static void decode_escape(str_reader *r) {
  const char *p = r->p + 1;
  char c = p < r->end ? *p : 0;
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *m = c ? strchr(from, c) : NULL;
  if (m) {
    queue_utf8(r, (unsigned char)to[m - from]);
    r->p = p + 1;
    return;
  }
  int cp = c == 'u' ? hex4(p + 1, r->end) : -1;
  if (cp < 0) { /* malformed: take the backslash literally */
    queue_utf8(r, '\\');
    r->p = p;
    return;
  }
  r->p = p + 5;
  if (cp >= 0xD800 && cp <= 0xDBFF && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
    int lo = hex4(r->p + 2, r->end);
    if (lo >= 0xDC00 && lo <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      r->p += 6;
    }
  }
  queue_utf8(r, (uint32_t)cp);
}

/* Next decoded byte, or -1 at the end. */
static int str_next(str_reader *r) {
  if (r->ipending < r->npending) return r->pending[r->ipending++];
  if (r->p >= r->end) return -1;
  if (!r->escaped || *r->p != '\\') return (unsigned char)*r->p++;
  decode_escape(r);
  return r->pending[r->ipending++];
}

int json_string_cmp(const char *a, size_t alen, bool a_escaped, const char *b,
                    size_t blen, bool b_escaped) {
  if (!a_escaped && !b_escaped) {
    int c = memcmp(a, b, VS_MIN(alen, blen));
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
  }
  str_reader ra = {a, a + alen, a_escaped, {0}, 0, 0};
  str_reader rb = {b, b + blen, b_escaped, {0}, 0, 0};
  for (;;) {
    int x = str_next(&ra), y = str_next(&rb);
    if (x != y) return x < y ? -1 : 1;
    if (x < 0) return 0;
  }
}

size_t json_string_decode(const char *p, size_t len, char *out) {
  str_reader r = {p, p + len, true, {0}, 0, 0};
  size_t n = 0;
  for (int c = str_next(&r); c >= 0; c = str_next(&r)) out[n++] = (char)c;
  return n;
}
