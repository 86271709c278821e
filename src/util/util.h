/*
 * util.h -- the whole interface of src/util/: errors, allocation, growable
 * buffers, bitsets, top-k heaps, a thread pool, hashing, time and logging.
 * Nothing here knows about databases; every other layer may include it.
 */
#ifndef VS_UTIL_H
#define VS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vectorstore.h"

#define VS_UNUSED(x) ((void)(x))
#define VS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define VS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* ----------------------------------------------------------------- errors */

/* Sets the calling thread's message (printf-style) and returns `status`, so
 * callers write `return vs_fail(VS_ERR_INVALID, "row %zu ...", row);`. */
vs_status vs_fail(vs_status status, const char *fmt, ...) VS_PRINTF(2, 3);
/* Prepends "prefix: " to the thread's current message; returns status. */
vs_status vs_fail_prefix(vs_status status, const char *fmt, ...)
    VS_PRINTF(2, 3);
/* Clears the thread's message. */
void vs_clear_error(void);
/* The thread's message ("" if none). */
const char *vs_error_message(void);

/* ------------------------------------------------------------- allocation */

/* malloc/calloc/realloc that return NULL on overflow of n*size as well. */
void *vs_malloc(size_t size);
void *vs_calloc(size_t n, size_t size);
void *vs_reallocarray(void *p, size_t n, size_t size);
void *vs_aligned_alloc(size_t alignment, size_t size); /* free with free() */
char *vs_strdup(const char *s);
char *vs_strndup(const char *s, size_t n);
/* true and *out = a*b when it does not overflow. */
bool vs_mul_ok(size_t a, size_t b, size_t *out);
bool vs_add_ok(size_t a, size_t b, size_t *out);
/* Strict decimal integer text, -?[0-9]+, fitting in int64 (text.c). */
bool vs_parse_int64(const char *s, int64_t *out);
/* The double nearest to the shortest decimal that reads back as f (0.1f
 * -> 0.1); NaN and Inf unchanged (float_text.c).  _plain: the same by
 * snprintf and strtof, the reference the fast path is tested against. */
double vs_float_shortest(float f);
double vs_float_shortest_plain(float f);

/* A growable byte buffer; zero-initialise to start.  Appends return
 * VS_ERR_NOMEM (with a message) on allocation failure. */
typedef struct vs_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} vs_buf;

vs_status vs_buf_reserve(vs_buf *b, size_t extra);
vs_status vs_buf_append(vs_buf *b, const void *data, size_t len);
vs_status vs_buf_append_u8(vs_buf *b, uint8_t v);
vs_status vs_buf_append_u32(vs_buf *b, uint32_t v);  /* little-endian */
vs_status vs_buf_append_u64(vs_buf *b, uint64_t v);  /* little-endian */
vs_status vs_buf_printf(vs_buf *b, const char *fmt, ...) VS_PRINTF(2, 3);
/* Pads with zero bytes to a multiple of `align`. */
vs_status vs_buf_align(vs_buf *b, size_t align);
void vs_buf_free(vs_buf *b);

/* A bounds-checked little-endian reader over hostile bytes. */
typedef struct vs_reader {
  const uint8_t *p;
  size_t len;
  size_t pos;
  bool failed; /* set once any read ran past the end */
} vs_reader;

void vs_reader_init(vs_reader *r, const void *data, size_t len);
uint8_t vs_read_u8(vs_reader *r);
uint32_t vs_read_u32(vs_reader *r);
uint64_t vs_read_u64(vs_reader *r);
/* Returns a pointer to the next n bytes, or NULL (and failed) if short. */
const void *vs_read_bytes(vs_reader *r, size_t n);

/* Little-endian load/store helpers. */
uint32_t vs_load_u32(const void *p);
uint64_t vs_load_u64(const void *p);
void vs_store_u32(void *p, uint32_t v);
void vs_store_u64(void *p, uint64_t v);

/* ---------------------------------------------------------------- hashing */

/* XXH3 64-bit. */
uint64_t vs_hash64(const void *data, size_t len);
uint64_t vs_hash64_seed(const void *data, size_t len, uint64_t seed);

/* ----------------------------------------------------------------- bitset */

typedef struct vs_bitset {
  uint64_t *words;
  size_t nbits;
} vs_bitset;

vs_status vs_bitset_init(vs_bitset *b, size_t nbits); /* all zero */
/* Grows (new bits zero). */
vs_status vs_bitset_resize(vs_bitset *b, size_t nbits);
void vs_bitset_free(vs_bitset *b);
static inline bool vs_bitset_test(const vs_bitset *b, size_t i) {
  return (b->words[i >> 6] >> (i & 63)) & 1u;
}
static inline void vs_bitset_set(vs_bitset *b, size_t i) {
  b->words[i >> 6] |= (uint64_t)1 << (i & 63);
}
static inline void vs_bitset_clear(vs_bitset *b, size_t i) {
  b->words[i >> 6] &= ~((uint64_t)1 << (i & 63));
}
size_t vs_bitset_count(const vs_bitset *b);
vs_status vs_bitset_copy(vs_bitset *dst, const vs_bitset *src);

/* ------------------------------------------------------------ top-k heaps */

/*
 * Keeps the k best (distance, id) pairs.  `larger_is_better` = 0 keeps the
 * smallest distances (L2), 1 the largest (IP, COSINE).  Ties: the smaller id
 * wins, so results are deterministic.  The heap's root is the worst kept
 * item, so vs_topk_push is O(1) when a candidate is not good enough.
 */
typedef struct vs_topk {
  float *dist;
  int64_t *id;
  size_t k;
  size_t size;
  int larger_is_better;
} vs_topk;

vs_status vs_topk_init(vs_topk *h, size_t k, int larger_is_better);
void vs_topk_free(vs_topk *h);
void vs_topk_reset(vs_topk *h);
/* True when `dist` (with id) would enter the heap. */
static inline bool vs_topk_would_accept(const vs_topk *h, float dist) {
  if (h->size < h->k) return true;
  return h->larger_is_better ? !(dist < h->dist[0]) : !(dist > h->dist[0]);
}
void vs_topk_push(vs_topk *h, float dist, int64_t id);
/* Sorts the kept items best first into dist/id (size h->size) and empties
 * the heap. */
void vs_topk_sorted(vs_topk *h, float *dist_out, int64_t *id_out);
/* True when a is strictly better than b under the ordering above. */
bool vs_topk_better(int larger_is_better, float da, int64_t ia, float db,
                    int64_t ib);

/* ------------------------------------------------------------ thread pool */

typedef struct vs_pool vs_pool;
typedef void (*vs_task_fn)(void *arg, size_t index);

/* `threads` 0 = one per online core. */
vs_status vs_pool_new(uint32_t threads, vs_pool **out);
void vs_pool_free(vs_pool *pool);
uint32_t vs_pool_size(const vs_pool *pool);
/* Runs fn(arg, i) for i in [0, count) on up to `max_threads` workers of the
 * pool (0 = all; the calling thread works too) and returns when all are
 * done.  Safe to call from several threads at once. */
void vs_pool_run(vs_pool *pool, size_t count, uint32_t max_threads,
                 vs_task_fn fn, void *arg);
/* Online cores. */
uint32_t vs_cpu_count(void);

/* ------------------------------------------------------------------- time */

uint64_t vs_now_ns(void);  /* CLOCK_MONOTONIC */
double vs_now_s(void);

/* ---------------------------------------------------------------- logging */

typedef enum vs_log_level {
  VS_LOG_DEBUG = 0,
  VS_LOG_INFO = 1,
  VS_LOG_WARN = 2,
  VS_LOG_ERROR = 3
} vs_log_level;

/* Messages at or above the level (env VS_LOG_LEVEL, default warn) go to
 * stderr as one line each: "ts level module: message". */
void vs_log(vs_log_level level, const char *module, const char *fmt, ...)
    VS_PRINTF(3, 4);
void vs_log_set_level(vs_log_level level);

#endif /* VS_UTIL_H */
