/*
 * packed.c -- the fast path for vector arrays in request bodies.
 *
 * `make bench-server` profiled an insert of 1,000 x 128 floats: 77% of the
 * server's CPU went to jansson building one node per number (malloc,
 * strtod with a localeconv call each, free).  Vectors do not need a tree.
 * Before the body is parsed, srv_pack_arrays scans its raw text once and
 * takes every array of at least PACK_MIN numbers found where vectors live
 *
 *   - {"data": [[n, n, ...], ...]}          search query vectors, and
 *   - {"data": [{"key": [n, n, ...]}, ...]} insert/upsert row values,
 *
 * parses the numbers straight into one float buffer, and rewrites the text
 * with a 0 in place of each such array.  jansson then parses a body of a
 * few hundred bytes per row instead of thousands of numbers.  Every packed
 * array keeps its (row, key) and its raw byte range: http.c puts a real
 * jansson value back for keys that are not vector fields of the target
 * collection (Array fields, JSON, dynamic keys), parsed from that raw text,
 * so those values are exactly what the slow path would have produced; the
 * handlers read vector fields from the floats.
 *
 * Numbers are parsed by JSON's grammar (anything else -- a string, a
 * nested value, a malformed token, a value outside float range -- and the
 * array is left in the text for jansson, whose errors then apply).  A
 * decimal with at most 19 significant digits and a power of ten within
 * 10^+-22 is converted exactly (the significand fits a double and the
 * power is exact, so one multiplication or division rounds correctly, as
 * strtod does); anything longer goes through strtod.  The float is the
 * double rounded to float, as the jansson path gives.
 *
 * The scan is iterative over the two levels it understands and skips
 * everything else with a small depth-checked skipper; http.c has already
 * bounded the nesting depth.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define PACK_MIN 8

typedef struct scanner {
  const char *p;
  const char *end;
  srv_packed *out;
  size_t cap_values;
  size_t cap_slots;
  int depth;
} scanner;

static void ws(scanner *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

/* Skips a string (s->p at the opening quote); *escaped reports a backslash. */
static bool skip_string(scanner *s, bool *escaped) {
  s->p++;
  while (s->p < s->end && *s->p != '"') {
    if (*s->p == '\\') {
      if (escaped) *escaped = true;
      s->p++;
    }
    s->p++;
  }
  if (s->p >= s->end) return false;
  s->p++;
  return true;
}

static bool skip_value(scanner *s);

static bool skip_container(scanner *s, char close) {
  if (++s->depth > 512) return false;
  s->p++;
  ws(s);
  if (s->p < s->end && *s->p == close) {
    s->p++;
    s->depth--;
    return true;
  }
  for (;;) {
    ws(s);
    if (close == '}') {
      if (s->p >= s->end || *s->p != '"' || !skip_string(s, NULL)) return false;
      ws(s);
      if (s->p >= s->end || *s->p++ != ':') return false;
    }
    if (!skip_value(s)) return false;
    ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == ',') {
      s->p++;
      continue;
    }
    if (*s->p++ != close) return false;
    s->depth--;
    return true;
  }
}

static bool skip_value(scanner *s) {
  ws(s);
  if (s->p >= s->end) return false;
  switch (*s->p) {
    case '"': return skip_string(s, NULL);
    case '{': return skip_container(s, '}');
    case '[': return skip_container(s, ']');
    default:
      while (s->p < s->end && !strchr(",]} \t\r\n", *s->p)) s->p++;
      return true;
  }
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* One JSON number at s->p into *out (as float); false if the token is not
 * a JSON number or is outside float range. */
static bool parse_number(scanner *s, float *out) {
  const char *p = s->p, *start = s->p;
  bool neg = false;
  uint64_t mant = 0;
  int digits = 0, exp10 = 0;
  if (p < s->end && *p == '-') {
    neg = true;
    p++;
  }
  if (p >= s->end || *p < '0' || *p > '9') return false;
  if (*p == '0' && p + 1 < s->end && p[1] >= '0' && p[1] <= '9') return false;
  for (; p < s->end && *p >= '0' && *p <= '9'; p++) {
    if (digits < 19) mant = mant * 10 + (uint64_t)(*p - '0');
    else exp10++;
    if (mant) digits++;
  }
  if (p < s->end && *p == '.') {
    p++;
    if (p >= s->end || *p < '0' || *p > '9') return false;
    for (; p < s->end && *p >= '0' && *p <= '9'; p++) {
      if (digits < 19) {
        mant = mant * 10 + (uint64_t)(*p - '0');
        exp10--;
        if (mant) digits++;
      }
    }
  }
  if (p < s->end && (*p == 'e' || *p == 'E')) {
    p++;
    int esign = 1, e = 0;
    if (p < s->end && (*p == '+' || *p == '-')) esign = *p++ == '-' ? -1 : 1;
    if (p >= s->end || *p < '0' || *p > '9') return false;
    for (; p < s->end && *p >= '0' && *p <= '9'; p++) {
      if (e < 100000) e = e * 10 + (*p - '0');
    }
    exp10 += esign * e;
  }
  double v;
  if (digits <= 19 && mant < ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
    v = exp10 < 0 ? (double)mant / pow10_exact[-exp10] : (double)mant * pow10_exact[exp10];
    if (neg) v = -v;
  } else {
    char buf[64];
    size_t n = (size_t)(p - start);
    if (n >= sizeof buf) return false;
    memcpy(buf, start, n);
    buf[n] = '\0';
    v = strtod(buf, NULL);
  }
  if (!(v > -0x1.ffffffp127 && v < 0x1.ffffffp127)) return false;
  *out = (float)v;
  s->p = p;
  return true;
}

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return true;
  size_t cap2 = *cap ? *cap * 2 : 1024;
  while (cap2 < need) cap2 *= 2;
  void *q = realloc(*p, cap2 * size);
  if (!q) return false;
  *p = q;
  *cap = cap2;
  return true;
}

/* At '[': packs an array of numbers for (row, key) or, when it holds
 * anything else (or too few numbers), skips it and packs nothing. */
static bool try_pack(scanner *s, size_t row, const char *key, size_t key_len) {
  srv_packed *o = s->out;
  const char *begin = s->p;
  size_t first = o->nvalues;
  s->p++;
  ws(s);
  bool numbers = true;
  if (s->p < s->end && *s->p == ']') {
    numbers = false;
  }
  while (numbers) {
    ws(s);
    if (!grow((void **)&o->values, &s->cap_values, o->nvalues + 1, sizeof *o->values)) return false;
    if (!parse_number(s, &o->values[o->nvalues])) {
      numbers = false;
      break;
    }
    o->nvalues++;
    ws(s);
    if (s->p < s->end && *s->p == ',') {
      s->p++;
      continue;
    }
    if (s->p < s->end && *s->p == ']') {
      s->p++;
      break;
    }
    numbers = false;
  }
  size_t count = o->nvalues - first;
  if (!numbers || count < PACK_MIN) {
    o->nvalues = first;
    s->p = begin;
    return skip_value(s);
  }
  if (!grow((void **)&o->slots, &s->cap_slots, o->nslots + 1, sizeof *o->slots)) return false;
  o->slots[o->nslots++] = (srv_packed_slot){.row = row, .key = key, .key_len = key_len, .first = first,
                                            .count = count, .raw_begin = (size_t)(begin - o->source),
                                            .raw_end = (size_t)(s->p - o->source)};
  return true;
}

/* At '{': one row object; packs its numeric arrays. */
static bool scan_row(scanner *s, size_t row) {
  s->p++;
  ws(s);
  if (s->p < s->end && *s->p == '}') {
    s->p++;
    return true;
  }
  for (;;) {
    ws(s);
    if (s->p >= s->end || *s->p != '"') return false;
    const char *key = s->p + 1;
    bool escaped = false;
    if (!skip_string(s, &escaped)) return false;
    size_t key_len = (size_t)(s->p - 1 - key);
    ws(s);
    if (s->p >= s->end || *s->p++ != ':') return false;
    ws(s);
    bool ok = s->p < s->end && *s->p == '[' && !escaped ? try_pack(s, row, key, key_len) : skip_value(s);
    if (!ok) return false;
    ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == ',') {
      s->p++;
      continue;
    }
    return *s->p++ == '}';
  }
}

/* At '[': the data array. */
static bool scan_data(scanner *s) {
  s->p++;
  ws(s);
  if (s->p < s->end && *s->p == ']') {
    s->p++;
    return true;
  }
  for (size_t row = 0;; row++) {
    ws(s);
    if (s->p >= s->end) return false;
    bool ok = *s->p == '[' ? try_pack(s, row, NULL, 0) : *s->p == '{' ? scan_row(s, row) : skip_value(s);
    if (!ok) return false;
    ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == ',') {
      s->p++;
      continue;
    }
    return *s->p++ == ']';
  }
}

/* The top-level object: finds "data" (once). */
static bool scan_top(scanner *s) {
  bool seen = false;
  ws(s);
  if (s->p >= s->end || *s->p != '{') return false;
  s->p++;
  for (;;) {
    ws(s);
    if (s->p < s->end && *s->p == '}') return true;
    if (s->p >= s->end || *s->p != '"') return false;
    const char *key = s->p + 1;
    bool escaped = false;
    if (!skip_string(s, &escaped)) return false;
    bool is_data = !escaped && s->p - 1 - key == 4 && memcmp(key, "data", 4) == 0;
    ws(s);
    if (s->p >= s->end || *s->p++ != ':') return false;
    ws(s);
    if (is_data && seen) return false; /* duplicate "data": leave it to jansson */
    bool ok = is_data && s->p < s->end && *s->p == '[' ? scan_data(s) : skip_value(s);
    seen |= is_data;
    if (!ok) return false;
    ws(s);
    if (s->p < s->end && *s->p == ',') s->p++;
  }
}

/* Writes the body with a 0 in place of each packed array. */
static bool rewrite(srv_packed *o, size_t len) {
  o->text = malloc(len + 1);
  if (!o->text) return false;
  size_t from = 0, n = 0;
  for (size_t i = 0; i < o->nslots; i++) {
    memcpy(o->text + n, o->source + from, o->slots[i].raw_begin - from);
    n += o->slots[i].raw_begin - from;
    o->text[n++] = '0';
    from = o->slots[i].raw_end;
  }
  memcpy(o->text + n, o->source + from, len - from);
  n += len - from;
  o->text[n] = '\0';
  o->text_len = n;
  return true;
}

bool srv_pack_arrays(const char *text, size_t len, srv_packed *out) {
  memset(out, 0, sizeof *out);
  out->source = text;
  scanner s = {.p = text, .end = text + len, .out = out};
  if (!scan_top(&s) || out->nslots == 0 || !rewrite(out, len)) {
    srv_packed_free(out);
    return false;
  }
  return true;
}

void srv_packed_free(srv_packed *p) {
  if (!p) return;
  free(p->values);
  free(p->slots);
  free(p->text);
  memset(p, 0, sizeof *p);
}

const srv_packed_slot *srv_packed_find(const srv_packed *p, size_t row, const char *key) {
  if (!p || !p->nslots) return NULL;
  size_t lo = 0, hi = p->nslots;
  while (lo < hi) { /* first slot of the row */
    size_t mid = (lo + hi) / 2;
    if (p->slots[mid].row < row) lo = mid + 1;
    else hi = mid;
  }
  size_t klen = key ? strlen(key) : 0;
  for (size_t i = lo; i < p->nslots && p->slots[i].row == row; i++) {
    const srv_packed_slot *sl = &p->slots[i];
    if (!key && !sl->key) return sl;
    if (key && sl->key && sl->key_len == klen && memcmp(sl->key, key, klen) == 0) return sl;
  }
  return NULL;
}
