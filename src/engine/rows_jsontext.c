/*
 * rows_jsontext.c -- JSON and UTF-8 text helpers for schemas and rows.
 *
 * What it does.  jansson parses; this file adds what jansson lacks for us:
 *
 *  - a depth pre-scan, so a hostile document nested 2,000 levels deep is
 *    refused before jansson builds it (jansson's own limit is 2048; ours is
 *    VS_JSON_MAX_DEPTH = 64, a bound a client cannot raise);
 *  - a compact writer that prints reals in their *shortest* round-tripping
 *    form.  jansson prints every real with %.17g, so 0.1 would be stored and
 *    returned as 0.10000000000000001; Milvus (Go) answers 0.1.  Integral
 *    reals keep a ".0" so a Double stays a real when read back;
 *  - a strict UTF-8 checker for VarChar values, which arrive as raw bytes
 *    from the C API.
 *
 * Invariants.  Every JSON text that this module writes is compact (no
 * spaces), has object keys in insertion order (jansson keeps it), and
 * parses back to an equal value.  The writer recurses, but only over trees
 * that passed the depth bound (all trees here come from vs_json_parse or
 * are built by us two levels deep).
 *
 * Shortest numbers.  For a float we try %.6g, %.7g, %.8g, %.9g and keep the
 * first that strtof maps back to the same bits.  Starting at 6 is exact:
 * if a decimal of p <= 6 digits round-trips, it lies within half a float
 * ulp (relative 2^-24) of x, far closer than the 10^-6 spacing of 6-digit
 * decimals, so it *is* the 6-digit rounding and %g strips the zeros.  The
 * same argument starts doubles at %.15g (2^-53 against 10^-15).  It
 * fails for subnormals (fewer significant bits), which start at %.1g.
 *
 * Alternatives rejected: JSON_REAL_PRECISION(n) in jansson (a fixed n is
 * either lossy or long); writing a Grisu/Ryu printer (more code than the
 * four snprintf calls it would save, and this is not on the hot path of
 * inserts: vectors are binary there).
 *
 * Locking: none; all functions are reentrant.  The C locale is assumed for
 * printf/strtod (the library never calls setlocale).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rows_internal.h"

/* ------------------------------------------------------------------ UTF-8 */

static size_t utf8_sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

/* True when the continuation bytes of the sequence at s are valid. */
static bool utf8_continuation_ok(const unsigned char *s, size_t n) {
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (s[0] == 0xE0) lo = 0xA0;      /* overlong 3-byte */
  if (s[0] == 0xED) hi = 0x9F;      /* UTF-16 surrogates */
  if (s[0] == 0xF0) lo = 0x90;      /* overlong 4-byte */
  if (s[0] == 0xF4) hi = 0x8F;      /* above U+10FFFF */
  if (s[1] < lo || s[1] > hi) return false;
  for (size_t i = 2; i < n; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF) return false;
  }
  return true;
}

size_t vs_utf8_check(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_sequence_length(p[i]);
    if (n == 0 || n > len - i) return i;
    if (!utf8_continuation_ok(p + i, n)) return i;
    i += n;
  }
  return len;
}

/* ---------------------------------------------------------- depth, parse */

bool vs_json_depth_ok(const char *text, size_t len, unsigned max_depth) {
  unsigned depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return true;
}

json_t *vs_json_parse(const char *text, size_t len, char *err,
                      size_t err_len) {
  if (!vs_json_depth_ok(text, len, VS_JSON_MAX_DEPTH)) {
    snprintf(err, err_len, "JSON nests deeper than %u levels",
             VS_JSON_MAX_DEPTH);
    return NULL;
  }
  json_error_t je;
  json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                         &je);
  if (!v) {
    snprintf(err, err_len, "invalid JSON at line %d column %d (position %d): %s",
             je.line, je.column, je.position, je.text);
  }
  return v;
}

/* ----------------------------------------------------------------- writer */

vs_status vs_json_write_string(vs_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  if (vs_utf8_check(s, len) != len) {
    return vs_fail(VS_ERR_DATA, "string is not valid UTF-8 (byte %zu)",
                   vs_utf8_check(s, len));
  }
  vs_status st = vs_buf_reserve(b, len + 2);
  if (st != VS_OK) return st;
  st = vs_buf_append_u8(b, '"');
  size_t start = 0;
  for (size_t i = 0; i < len && st == VS_OK; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    st = vs_buf_append(b, s + start, i - start);
    start = i + 1;
    char esc[7] = {'\\', (char)c, 0, 0, 0, 0, 0};
    size_t esc_len = 2;
    if (c == '\n') esc[1] = 'n';
    else if (c == '\r') esc[1] = 'r';
    else if (c == '\t') esc[1] = 't';
    else if (c == '\b') esc[1] = 'b';
    else if (c == '\f') esc[1] = 'f';
    else if (c < 0x20) {
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      esc_len = 6;
    }
    if (st == VS_OK) st = vs_buf_append(b, esc, esc_len);
  }
  if (st == VS_OK) st = vs_buf_append(b, s + start, len - start);
  if (st == VS_OK) st = vs_buf_append_u8(b, '"');
  return st;
}

/* Appends ".0" when text looks like an integer, so a real stays a real. */
static vs_status append_real_text(vs_buf *b, const char *text) {
  vs_status st = vs_buf_append(b, text, strlen(text));
  if (st == VS_OK && strpbrk(text, ".eE") == NULL) {
    st = vs_buf_append(b, ".0", 2);
  }
  return st;
}

vs_status vs_json_write_double(vs_buf *b, double v) {
  char text[40];
  if (!isfinite(v)) return vs_fail(VS_ERR_INVALID, "%s is not a JSON number",
                                   isnan(v) ? "NaN" : "Inf");
  int start = v != 0 && fabs(v) < DBL_MIN ? 1 : 15; /* subnormals: fewer digits */
  for (int precision = start; precision <= 17; precision++) {
    snprintf(text, sizeof text, "%.*g", precision, v);
    if (strtod(text, NULL) == v) break;
  }
  return append_real_text(b, text);
}

vs_status vs_json_write_float(vs_buf *b, float v) {
  char text[40];
  if (!isfinite(v)) return vs_fail(VS_ERR_INVALID, "%s is not a JSON number",
                                   isnan(v) ? "NaN" : "Inf");
  int start = v != 0 && fabsf(v) < FLT_MIN ? 1 : 6; /* subnormals: fewer digits */
  for (int precision = start; precision <= 9; precision++) {
    snprintf(text, sizeof text, "%.*g", precision, (double)v);
    if (strtof(text, NULL) == v) break;
  }
  return append_real_text(b, text);
}

static vs_status write_array(vs_buf *b, const json_t *v) {
  vs_status st = vs_buf_append_u8(b, '[');
  size_t i;
  json_t *item;
  json_array_foreach(v, i, item) {
    if (st == VS_OK && i > 0) st = vs_buf_append_u8(b, ',');
    if (st == VS_OK) st = vs_json_write(b, item);
  }
  if (st == VS_OK) st = vs_buf_append_u8(b, ']');
  return st;
}

static vs_status write_object(vs_buf *b, const json_t *v) {
  vs_status st = vs_buf_append_u8(b, '{');
  const char *key;
  json_t *item;
  bool first = true;
  json_object_foreach((json_t *)v, key, item) {
    if (st == VS_OK && !first) st = vs_buf_append_u8(b, ',');
    first = false;
    if (st == VS_OK) st = vs_json_write_string(b, key, strlen(key));
    if (st == VS_OK) st = vs_buf_append_u8(b, ':');
    if (st == VS_OK) st = vs_json_write(b, item);
  }
  if (st == VS_OK) st = vs_buf_append_u8(b, '}');
  return st;
}

vs_status vs_json_write(vs_buf *b, const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT:
      return write_object(b, v);
    case JSON_ARRAY:
      return write_array(b, v);
    case JSON_STRING:
      return vs_json_write_string(b, json_string_value(v),
                                  json_string_length(v));
    case JSON_INTEGER:
      return vs_buf_printf(b, "%lld", (long long)json_integer_value(v));
    case JSON_REAL:
      return vs_json_write_double(b, json_real_value(v));
    case JSON_TRUE:
      return vs_buf_append(b, "true", 4);
    case JSON_FALSE:
      return vs_buf_append(b, "false", 5);
    case JSON_NULL:
      return vs_buf_append(b, "null", 4);
  }
  return vs_fail(VS_ERR_INTERNAL, "unknown JSON value type");
}

char *vs_json_canonical(const json_t *v) {
  vs_buf b = {0};
  vs_status st = vs_json_write(&b, v);
  if (st == VS_OK) st = vs_buf_reserve(&b, 0); /* data non-NULL, NUL-ended */
  if (st != VS_OK) {
    vs_buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}
