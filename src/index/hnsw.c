/*
 * hnsw.c -- HNSW and HNSW_SQ8: the index object, its memory, the per-search
 * contexts, the distance spaces and the 8-bit scalar quantiser.
 *
 * The files, one per phase as in pgvector:
 *
 *   hnsw.c         this essay; object lifetime; contexts; query preparation;
 *                  SQ8 training and encoding
 *   hnsw_build.c   levels, parallel insertion, neighbour selection
 *   hnsw_search.c  greedy descent, beam search, top-k with deletes, SQ8
 *                  re-ranking, range search
 *   hnsw_io.c      the payload format, the hostile loader, validate()
 *
 * The library knows nothing of the engine: it indexes rows 0..n-1 of a
 * float matrix it does not own (index.h) and returns row numbers.
 *
 * Memory layout (chosen for search speed; see hnsw_internal.h):
 *
 *   levels     n bytes               each node's top level (0..32)
 *   links0     n x (2M + 1) uint32   level 0: count, then up to 2M links
 *   upper_off  n uint32              index of the node's level-1 list
 *   upper      L x (M + 1) uint32    levels >= 1, L = sum of levels
 *   norms      n floats              COSINE only: |row|
 *   SQ8        dim min, dim scale, n x stride code bytes (stride = dim
 *              rounded up to 16, so rows are 16-byte aligned), n row terms (L2)
 *
 * Level 0 is where a search spends nearly all of its time, so its lists
 * are one flat array indexed by node number (no pointer chasing, no
 * per-node allocation); the few upper lists (a node reaches level l with
 * probability M^-l) live in a separate compact array.  Fixed-size slots
 * waste a little memory on nodes with fewer links, but a node's list is
 * found by multiplication alone.  Links are uint32: an index holds fewer
 * than 2^32 rows (index.c enforces it).  Arrays of 2 MB or more (links0,
 * codes) are 2 MB aligned and advised MADV_HUGEPAGE: a search touches rows
 * at random, and one TLB entry then covers thousands of them.
 *
 * Keys: every internal comparison is "smaller is better".  L2 keys are the
 * squared distance; IP keys are -q.x; COSINE keys are -q.x / |x| with q
 * made unit length once per query and |x| precomputed (norms), so cosine
 * costs one inner product.  Results are converted back to the metric's
 * value (hnsw_value) when pushed into the caller's vs_topk.
 *
 * SQ8.  Per dimension i, min[i] and max[i] over all rows (COSINE: over the
 * unit rows) give scale[i] = (max - min) / 255 and code = round((x - min) /
 * scale).  A query q is transformed once so that a key is one kernel call
 * (simd/sq8.h: sum a[i] * code[i]) plus constants:
 *
 *   L2:  |q - xh|^2 = |t|^2 - 2 sum t[i] s[i] c[i] + |s * c|^2, t = q - min
 *        -> base = |t|^2, a = -2 t s, plus the row's term |s * c|^2
 *   IP:  -q.xh = -q.min - sum q[i] s[i] c[i]  -> base = -q.min, a = -q s
 *
 * where xh = min + s * c is the decoded row.  Expanding around min (not
 * around 0) keeps the cancellation error proportional to the data's spread
 * rather than its offset.  The inner loop is then a uint8->float widening
 * and one FMA per dimension (the weighted-L2 kernel needs a subtract, a
 * multiply and an FMA, and measured 1.6x slower; docs/index-hnsw.md).
 *
 * HNSW_SQ8 builds its graph with exact float distances (the same graph as
 * HNSW for a given seed, single-threaded) and searches it with codes, then
 * re-ranks the best refine_k candidates with exact float distances.  Codes
 * are not used for building: the graph's quality is paid for by every
 * later query, while the build runs once in the background.
 *
 * Contexts: a search needs a visited set over n nodes and two heaps.  They
 * live in a hnsw_ctx taken from a small free list in the index (a mutex
 * around a pointer swap) and given back after the search, so the hot path
 * allocates nothing; the visited set is a uint16 tag per node compared with
 * an epoch that advances per search and is reset with memset only when it
 * wraps (once per 65535 searches).  At most CTX_CACHE_MAX contexts are
 * kept; more concurrent searches allocate and free their own.
 *
 * Locking: a built index is immutable; searches share it without locks
 * except ctx_lock around the free list.  During the build, list writes and
 * reads go through striped mutexes (hnsw_build.c).
 *
 * Alternatives rejected: hnswlib's interleaved level-0 block (links + vector
 * + label per node) -- our vectors belong to the segment and must not be
 * copied, and for SQ8 the codes are what the search reads; a std::vector-
 * like list per node (an allocation and a pointer per node); thread-local
 * contexts (they would outlive the index or need a destructor registry).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "index/hnsw_internal.h"

#define CTX_CACHE_MAX 64u
#define CODE_ALIGN 64u
#define HUGE_PAGE (2u << 20)

static size_t hnsw_memory(const vs_index *ix);

const vs_index_ops vs_hnsw_ops = {hnsw_search,   hnsw_range_search, hnsw_serialize,
                                  hnsw_validate, hnsw_memory,       hnsw_index_free};

/* ------------------------------------------------------------ lifetime */

void *hnsw_alloc_zeroed(size_t count, size_t size) {
  size_t bytes;
  if (!vs_mul_ok(count ? count : 1, size, &bytes)) return NULL;
  if (bytes < HUGE_PAGE) return vs_calloc(1, bytes);
  bytes = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
  void *p = vs_aligned_alloc(HUGE_PAGE, bytes);
  if (!p) return NULL;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
  memset(p, 0, bytes);
  return p;
}

vs_status hnsw_index_new(vs_index *ix, bool sq8, uint32_t M, uint32_t ef_construction,
                         uint64_t seed, hnsw_index **out) {
  hnsw_index *hx = vs_calloc(1, sizeof *hx);
  if (!hx) return vs_fail(VS_ERR_NOMEM, "out of memory allocating an HNSW index");
  if (pthread_mutex_init(&hx->ctx_lock, NULL) != 0) {
    free(hx);
    return vs_fail(VS_ERR_INTERNAL, "cannot initialise the HNSW context lock");
  }
  hx->sq8 = sq8;
  hx->ef_construction = ef_construction;
  hx->seed = seed;
  hx->vectors = ix->vectors;
  hx->dim = ix->dim;
  hx->metric = ix->metric;
  hx->fk = vs_simd();
  hx->qk = vs_sq8();
  hx->graph.M = M;
  hx->graph.M0 = 2 * M;
  hx->graph.n = (uint32_t)ix->n;
  hx->graph.entry = HNSW_NONE;
  hx->graph.max_level = -1;
  ix->ops = &vs_hnsw_ops; /* from here on index.c frees through free_impl */
  ix->impl = hx;
  *out = hx;
  return VS_OK;
}

static void graph_free(hnsw_graph *g) {
  free(g->levels);
  free(g->links0);
  free(g->upper_off);
  free(g->upper);
}

static void quant_free(hnsw_quant *q) {
  free(q->vmin);
  free(q->scale);
  free(q->codes);
  free(q->rowterm);
}

void hnsw_index_free(void *impl) {
  hnsw_index *hx = impl;
  if (!hx) return;
  graph_free(&hx->graph);
  quant_free(&hx->quant);
  free(hx->norms);
  while (hx->ctx_free) {
    hnsw_ctx *next = hx->ctx_free->next;
    hnsw_ctx_free(hx->ctx_free);
    hx->ctx_free = next;
  }
  pthread_mutex_destroy(&hx->ctx_lock);
  free(hx);
}

vs_status hnsw_graph_alloc(hnsw_graph *g, uint32_t n) {
  size_t count = n ? n : 1;
  g->levels = vs_calloc(count, 1);
  g->links0 = hnsw_alloc_zeroed(count, ((size_t)g->M0 + 1) * sizeof(uint32_t));
  g->upper_off = vs_calloc(count, sizeof(uint32_t));
  if (!g->levels || !g->links0 || !g->upper_off) {
    return vs_fail(VS_ERR_NOMEM, "out of memory allocating the HNSW graph of %u nodes", n);
  }
  return VS_OK;
}

vs_status hnsw_graph_alloc_upper(hnsw_graph *g) {
  size_t lists = 0;
  for (uint32_t i = 0; i < g->n; i++) {
    g->upper_off[i] = (uint32_t)lists;
    lists += g->levels[i];
    if (lists > UINT32_MAX) return vs_fail(VS_ERR_LIMIT, "too many HNSW upper-level lists");
  }
  g->upper_lists = lists;
  g->upper = vs_calloc(lists ? lists : 1, ((size_t)g->M + 1) * sizeof(uint32_t));
  if (!g->upper) return vs_fail(VS_ERR_NOMEM, "out of memory allocating %zu HNSW upper lists", lists);
  return VS_OK;
}

static size_t ctx_bytes(const hnsw_index *hx, const hnsw_ctx *ctx) {
  size_t stride = hx->quant.stride ? hx->quant.stride : hx->dim;
  return sizeof *ctx + (size_t)hx->graph.n * sizeof(uint16_t) +
         (ctx->cand.cap + ctx->res.cap) * sizeof(hnsw_cand) + (hx->dim + stride) * sizeof(float) +
         ((size_t)hx->graph.M0 + 1) * 3 * sizeof(uint32_t);
}

/* The graph, norms, SQ8 data and the cached search contexts. */
static size_t hnsw_memory(const vs_index *ix) {
  hnsw_index *hx = ix->impl;
  const hnsw_graph *g = &hx->graph;
  size_t n = g->n;
  size_t bytes = sizeof *hx + n + n * sizeof(uint32_t) * (g->M0 + 2);
  bytes += g->upper_lists * (g->M + 1) * sizeof(uint32_t);
  if (hx->norms) bytes += n * sizeof(float);
  if (hx->sq8) {
    bytes += 2 * (size_t)hx->dim * sizeof(float) + n * hx->quant.stride;
    if (hx->quant.rowterm) bytes += n * sizeof(float);
  }
  pthread_mutex_lock(&hx->ctx_lock);
  for (const hnsw_ctx *ctx = hx->ctx_free; ctx; ctx = ctx->next) bytes += ctx_bytes(hx, ctx);
  pthread_mutex_unlock(&hx->ctx_lock);
  return bytes;
}

/* ------------------------------------------------------------ contexts */

void hnsw_ctx_free(hnsw_ctx *ctx) {
  if (!ctx) return;
  free(ctx->visited);
  free(ctx->cand.items);
  free(ctx->res.items);
  free(ctx->qvec);
  free(ctx->qcode);
  free(ctx->ids);
  free(ctx->links);
  free(ctx->keys);
  free(ctx->build.sorted);
  free(ctx->build.kept);
  free(ctx->build.pruned);
  free(ctx->build.chosen);
  free(ctx);
}

static bool heap_init(hnsw_heap *h, size_t cap) {
  h->items = vs_malloc(cap * sizeof *h->items);
  h->cap = h->items ? cap : 0;
  h->size = 0;
  return h->items != NULL;
}

vs_status hnsw_ctx_new(const hnsw_index *hx, bool for_build, hnsw_ctx **out) {
  const hnsw_graph *g = &hx->graph;
  size_t stride = hx->quant.stride ? hx->quant.stride : hx->dim;
  hnsw_ctx *ctx = vs_calloc(1, sizeof *ctx);
  bool ok = ctx != NULL;
  if (ok) {
    ctx->visited = vs_calloc(g->n ? g->n : 1, sizeof(uint16_t));
    ctx->qvec = vs_malloc(hx->dim * sizeof(float));
    ctx->qcode = vs_calloc(stride, sizeof(float));
    ctx->ids = vs_malloc(((size_t)g->M0 + 1) * sizeof(uint32_t));
    ctx->links = vs_malloc(((size_t)g->M0 + 1) * sizeof(uint32_t));
    ctx->keys = vs_malloc(((size_t)g->M0 + 1) * sizeof(float));
    ok = ctx->visited && ctx->qvec && ctx->qcode && ctx->ids && ctx->links && ctx->keys;
    ok = ok && heap_init(&ctx->cand, 256) && heap_init(&ctx->res, 256);
  }
  if (ok && for_build) {
    hnsw_build_scratch *b = &ctx->build;
    b->cap = VS_MAX((size_t)hx->ef_construction, (size_t)g->M0 + 1) + 1;
    b->sorted = vs_malloc(b->cap * sizeof(hnsw_cand));
    b->kept = vs_malloc(b->cap * sizeof(hnsw_cand));
    b->pruned = vs_malloc(b->cap * sizeof(hnsw_cand));
    b->chosen = vs_malloc(((size_t)HNSW_MAX_LEVEL + 1) * g->M * sizeof(hnsw_cand));
    ok = b->sorted && b->kept && b->pruned && b->chosen;
  }
  if (!ok) {
    hnsw_ctx_free(ctx);
    return vs_fail(VS_ERR_NOMEM, "out of memory allocating an HNSW search context");
  }
  *out = ctx;
  return VS_OK;
}

vs_status hnsw_ctx_acquire(hnsw_index *hx, hnsw_ctx **out) {
  pthread_mutex_lock(&hx->ctx_lock);
  hnsw_ctx *ctx = hx->ctx_free;
  if (ctx) {
    hx->ctx_free = ctx->next;
    hx->ctx_cached--;
  }
  pthread_mutex_unlock(&hx->ctx_lock);
  if (ctx) {
    ctx->next = NULL;
    *out = ctx;
    return VS_OK;
  }
  return hnsw_ctx_new(hx, false, out);
}

void hnsw_ctx_release(hnsw_index *hx, hnsw_ctx *ctx) {
  bool keep;
  pthread_mutex_lock(&hx->ctx_lock);
  keep = hx->ctx_cached < CTX_CACHE_MAX;
  if (keep) {
    ctx->next = hx->ctx_free;
    hx->ctx_free = ctx;
    hx->ctx_cached++;
  }
  pthread_mutex_unlock(&hx->ctx_lock);
  if (!keep) hnsw_ctx_free(ctx);
}

/* ------------------------------------------------------- query spaces */

void hnsw_query_prepare(const hnsw_index *hx, hnsw_ctx *ctx, const float *query, bool codes,
                        hnsw_query *out) {
  const float *vec = query;
  uint32_t dim = hx->dim;
  if (hx->metric == VS_METRIC_COSINE) {
    float norm = sqrtf(hx->fk->ip(query, query, dim));
    float inv = norm > 0 ? 1.0f / norm : 0.0f;
    for (uint32_t i = 0; i < dim; i++) ctx->qvec[i] = query[i] * inv;
    vec = ctx->qvec;
  }
  out->codes = codes;
  out->vec = vec;
  out->a = NULL;
  out->base = 0;
  if (!codes) return;
  const hnsw_quant *qu = &hx->quant;
  float *a = ctx->qcode;
  double base = 0;
  for (uint32_t i = 0; i < dim; i++) {
    if (hx->metric == VS_METRIC_L2) {
      double t = (double)vec[i] - qu->vmin[i];
      base += t * t;
      a[i] = (float)(-2.0 * t * qu->scale[i]);
    } else {
      base -= (double)vec[i] * qu->vmin[i];
      a[i] = -vec[i] * qu->scale[i];
    }
  }
  for (size_t i = dim; i < qu->stride; i++) a[i] = 0.0f;
  out->a = a;
  out->base = (float)base;
}

vs_status hnsw_compute_norms(hnsw_index *hx) {
  size_t n = hx->graph.n;
  hx->norms = vs_malloc((n ? n : 1) * sizeof(float));
  if (!hx->norms) return vs_fail(VS_ERR_NOMEM, "out of memory for %zu row norms", n);
  for (size_t i = 0; i < n; i++) {
    const float *row = hx->vectors + i * hx->dim;
    float norm = sqrtf(hx->fk->ip(row, row, hx->dim));
    hx->norms[i] = isfinite(norm) ? norm : 0.0f; /* a NaN/inf row ranks as cosine 0 */
  }
  return VS_OK;
}

/* -------------------------------------------------------------- SQ8 */

vs_status hnsw_quant_alloc(hnsw_index *hx) {
  hnsw_quant *qu = &hx->quant;
  size_t n = hx->graph.n ? hx->graph.n : 1;
  size_t bytes;
  qu->stride = ((size_t)hx->dim + 15) & ~(size_t)15;
  if (!vs_mul_ok(n, qu->stride, &bytes)) return vs_fail(VS_ERR_LIMIT, "SQ8 codes too large");
  qu->codes = hnsw_alloc_zeroed(1, (bytes + CODE_ALIGN - 1) & ~(size_t)(CODE_ALIGN - 1));
  if (!qu->vmin) qu->vmin = vs_calloc(hx->dim, sizeof(float));
  if (!qu->scale) qu->scale = vs_calloc(hx->dim, sizeof(float));
  if (hx->metric == VS_METRIC_L2) qu->rowterm = vs_calloc(n, sizeof(float));
  if (!qu->codes || !qu->vmin || !qu->scale || (hx->metric == VS_METRIC_L2 && !qu->rowterm)) {
    return vs_fail(VS_ERR_NOMEM, "out of memory for SQ8 codes of %zu rows", n);
  }
  return VS_OK;
}

/* Row i as quantised: the unit row for COSINE (into buf), else the row. */
static const float *quant_source(const hnsw_index *hx, size_t i, float *buf) {
  const float *row = hx->vectors + i * hx->dim;
  if (hx->metric != VS_METRIC_COSINE) return row;
  float inv = hx->norms[i] > 0 ? 1.0f / hx->norms[i] : 0.0f;
  for (uint32_t d = 0; d < hx->dim; d++) buf[d] = row[d] * inv;
  return buf;
}

static void quant_minmax(hnsw_index *hx, float *vmax, float *buf) {
  hnsw_quant *qu = &hx->quant;
  for (uint32_t d = 0; d < hx->dim; d++) {
    qu->vmin[d] = INFINITY;
    vmax[d] = -INFINITY;
  }
  for (size_t i = 0; i < hx->graph.n; i++) {
    const float *x = quant_source(hx, i, buf);
    for (uint32_t d = 0; d < hx->dim; d++) {
      if (x[d] < qu->vmin[d]) qu->vmin[d] = x[d];
      if (x[d] > vmax[d]) vmax[d] = x[d];
    }
  }
  for (uint32_t d = 0; d < hx->dim; d++) {
    float scale = (vmax[d] - qu->vmin[d]) / 255.0f;
    if (!isfinite(qu->vmin[d])) qu->vmin[d] = 0;
    qu->scale[d] = isfinite(scale) && scale > 0 ? scale : 0.0f;
  }
}

static uint8_t quant_code(float x, float vmin, float scale) {
  float v = scale > 0 ? (x - vmin) / scale : 0.0f;
  if (!(v > 0)) return 0;
  if (v >= 255.0f) return 255;
  return (uint8_t)(v + 0.5f);
}

void hnsw_quant_rowterms(hnsw_index *hx) {
  hnsw_quant *qu = &hx->quant;
  if (!qu->rowterm) return;
  for (size_t i = 0; i < hx->graph.n; i++) {
    const uint8_t *code = qu->codes + i * qu->stride;
    double sum = 0;
    for (uint32_t d = 0; d < hx->dim; d++) {
      double v = (double)qu->scale[d] * code[d];
      sum += v * v;
    }
    qu->rowterm[i] = (float)sum;
  }
}

vs_status hnsw_quant_train(hnsw_index *hx) {
  hnsw_quant *qu = &hx->quant;
  float *vmax = vs_malloc(hx->dim * sizeof(float));
  float *buf = vs_malloc(hx->dim * sizeof(float));
  vs_status st = vmax && buf ? hnsw_quant_alloc(hx) : vs_fail(VS_ERR_NOMEM, "out of memory training SQ8");
  if (st != VS_OK) goto done;
  quant_minmax(hx, vmax, buf);
  for (size_t i = 0; i < hx->graph.n; i++) {
    const float *x = quant_source(hx, i, buf);
    uint8_t *code = qu->codes + i * qu->stride;
    for (uint32_t d = 0; d < hx->dim; d++) code[d] = quant_code(x[d], qu->vmin[d], qu->scale[d]);
  }
  hnsw_quant_rowterms(hx);
done:
  free(vmax);
  free(buf);
  return st;
}
