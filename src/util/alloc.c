/*
 * alloc.c -- checked allocation, growable buffers, a bounds-checked reader
 * for hostile bytes, little-endian helpers and hashing.
 *
 * Every size that comes from a client or a file passes through vs_mul_ok /
 * vs_add_ok before it reaches an allocator, and every read of file bytes
 * goes through vs_reader, which turns a short buffer into a sticky `failed`
 * flag instead of an out-of-bounds read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "util/util.h"

bool vs_mul_ok(size_t a, size_t b, size_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}

bool vs_add_ok(size_t a, size_t b, size_t *out) {
  return !__builtin_add_overflow(a, b, out);
}

void *vs_malloc(size_t size) { return malloc(size ? size : 1); }

void *vs_calloc(size_t n, size_t size) {
  size_t total;
  if (!vs_mul_ok(n, size, &total)) return NULL;
  return calloc(total ? total : 1, 1);
}

void *vs_reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (!vs_mul_ok(n, size, &total)) return NULL;
  return realloc(p, total ? total : 1);
}

void *vs_aligned_alloc(size_t alignment, size_t size) {
  void *p = NULL;
  if (posix_memalign(&p, alignment, size ? size : alignment) != 0) return NULL;
  return p;
}

char *vs_strdup(const char *s) { return s ? vs_strndup(s, strlen(s)) : NULL; }

char *vs_strndup(const char *s, size_t n) {
  char *copy = malloc(n + 1);
  if (!copy) return NULL;
  memcpy(copy, s, n);
  copy[n] = '\0';
  return copy;
}

/* ------------------------------------------------------------------ vs_buf */

vs_status vs_buf_reserve(vs_buf *b, size_t extra) {
  size_t need;
  if (!vs_add_ok(b->len, extra, &need) || need == SIZE_MAX) {
    return vs_fail(VS_ERR_NOMEM, "buffer size overflow");
  }
  need += 1; /* room for a terminating NUL */
  if (need <= b->cap) return VS_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  uint8_t *p = realloc(b->data, cap);
  if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
  b->data = p;
  b->cap = cap;
  return VS_OK;
}

vs_status vs_buf_append(vs_buf *b, const void *data, size_t len) {
  vs_status st = vs_buf_reserve(b, len);
  if (st != VS_OK) return st;
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = 0;
  return VS_OK;
}

vs_status vs_buf_append_u8(vs_buf *b, uint8_t v) { return vs_buf_append(b, &v, 1); }

vs_status vs_buf_append_u32(vs_buf *b, uint32_t v) {
  uint8_t tmp[4];
  vs_store_u32(tmp, v);
  return vs_buf_append(b, tmp, 4);
}

vs_status vs_buf_append_u64(vs_buf *b, uint64_t v) {
  uint8_t tmp[8];
  vs_store_u64(tmp, v);
  return vs_buf_append(b, tmp, 8);
}

vs_status vs_buf_printf(vs_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return vs_fail(VS_ERR_INTERNAL, "bad format string");
  vs_status st = vs_buf_reserve(b, (size_t)n);
  if (st != VS_OK) return st;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return VS_OK;
}

vs_status vs_buf_align(vs_buf *b, size_t align) {
  static const uint8_t zeros[64] = {0};
  if (align == 0) return VS_OK;
  while (b->len % align != 0) {
    size_t pad = align - b->len % align;
    vs_status st = vs_buf_append(b, zeros, pad < sizeof zeros ? pad : sizeof zeros);
    if (st != VS_OK) return st;
  }
  return VS_OK;
}

void vs_buf_free(vs_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* --------------------------------------------------------------- vs_reader */

void vs_reader_init(vs_reader *r, const void *data, size_t len) {
  r->p = data;
  r->len = len;
  r->pos = 0;
  r->failed = false;
}

const void *vs_read_bytes(vs_reader *r, size_t n) {
  if (r->failed || n > r->len - r->pos) {
    r->failed = true;
    return NULL;
  }
  const void *p = r->p + r->pos;
  r->pos += n;
  return p;
}

uint8_t vs_read_u8(vs_reader *r) {
  const uint8_t *p = vs_read_bytes(r, 1);
  return p ? p[0] : 0;
}

uint32_t vs_read_u32(vs_reader *r) {
  const void *p = vs_read_bytes(r, 4);
  return p ? vs_load_u32(p) : 0;
}

uint64_t vs_read_u64(vs_reader *r) {
  const void *p = vs_read_bytes(r, 8);
  return p ? vs_load_u64(p) : 0;
}

/* ------------------------------------------------------------ endianness */

uint32_t vs_load_u32(const void *p) {
  const uint8_t *b = p;
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
}

uint64_t vs_load_u64(const void *p) {
  const uint8_t *b = p;
  return (uint64_t)vs_load_u32(b) | (uint64_t)vs_load_u32(b + 4) << 32;
}

void vs_store_u32(void *p, uint32_t v) {
  uint8_t *b = p;
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)(v >> 16);
  b[3] = (uint8_t)(v >> 24);
}

void vs_store_u64(void *p, uint64_t v) {
  vs_store_u32(p, (uint32_t)v);
  vs_store_u32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/* ----------------------------------------------------------------- hashing */

uint64_t vs_hash64(const void *data, size_t len) { return XXH3_64bits(data, len); }

uint64_t vs_hash64_seed(const void *data, size_t len, uint64_t seed) {
  return XXH3_64bits_withSeed(data, len, seed);
}
