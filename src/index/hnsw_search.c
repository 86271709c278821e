/*
 * hnsw_search.c -- searching the graph: greedy descent through the upper
 * levels, beam search on a level, top-k with deletes, SQ8 re-ranking and
 * range search.  Also used by hnsw_build.c to find a new node's neighbours.
 *
 * Beam search (the paper's SEARCH-LAYER) keeps two heaps: `cand`, a
 * min-heap of discovered nodes still to expand, and `res`, a max-heap of
 * the best ef nodes that may be returned.  It stops when the closest node
 * left to expand is farther than the worst of a full `res`.
 *
 * Deletes and filters (`skip`): a skipped node is traversed like any other
 * (it enters `cand`, so the graph stays connected through it) but never
 * enters `res`.  Because the stopping rule needs a *full* res, the search
 * widens by itself until it has ef non-skipped nodes or has exhausted the
 * reachable graph; k <= ef non-skipped results come back whenever that
 * many rows pass.  With heavy filtering this explores much of the graph;
 * the engine should prefer an exact scan when few rows pass.
 *
 * The inner loop, per expanded node: read its level-0 list (one flat
 * array; copied under its stripe lock only while building), mark the
 * unvisited neighbours with the context's epoch tag and gather them, then
 * score them one by one while prefetching the row PREFETCH_AHEAD
 * neighbours further on (all of an SQ8 code row: a dozen cache lines for
 * 784 dimensions; the first 512 bytes of a float row -- the hardware
 * prefetcher follows a sequential row on its own).  Scoring is bound by
 * memory, not arithmetic: with the codes out of cache, prefetching 8 rows
 * ahead doubled the queries per second against no prefetch.
 *
 * HNSW_SQ8: the search runs in the code space with a pool of
 * max(ef, refine_k) nodes; the best refine_k (default max(2k, ef)) are then
 * scored with exact float distances and pushed into the caller's heap, so
 * every returned distance is exact.
 *
 * Range search (Milvus semantics, vs_index_in_range): a top-ef beam search
 * whose results are scored exactly; if the worst of them still lies inside
 * the radius, some rows inside may not have been reached, so ef doubles
 * and the search runs again.  It stops when the worst result is outside
 * the radius, when `limit` rows in range are among the results (they are
 * the best in range), when the search returned fewer than ef nodes (the
 * reachable graph is exhausted) or when ef reaches n.  Recall limits: the
 * same as a top-k search at the final ef; re-running costs at most twice a
 * single search at the final ef.  Rows unreachable in the graph (possible
 * with pruning, rare) are never found.
 *
 * Locking: none here beyond the build's stripes; contexts are private.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/hnsw_internal.h"

/* Rows prefetched ahead of the one being scored, and how much of a float
 * row (measured on Fashion-MNIST 60k x 784, docs/index-hnsw.md: SQ8 QPS
 * 7.9k with no prefetch, 12.2k at 1 row ahead, 15k at 6..12). */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 8u
#endif
#ifndef PREFETCH_FLOAT_BYTES
#define PREFETCH_FLOAT_BYTES 512u
#endif

/* ---------------------------------------------------------------- heaps */

static bool heap_grow(hnsw_heap *h) {
  size_t cap = h->cap ? h->cap * 2 : 64;
  hnsw_cand *items = vs_reallocarray(h->items, cap, sizeof *items);
  if (!items) return false;
  h->items = items;
  h->cap = cap;
  return true;
}

static inline bool minheap_push(hnsw_heap *h, float key, uint32_t id) {
  if (h->size == h->cap && !heap_grow(h)) return false;
  size_t i = h->size++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h->items[parent].key <= key) break;
    h->items[i] = h->items[parent];
    i = parent;
  }
  h->items[i] = (hnsw_cand){key, id};
  return true;
}

static inline void minheap_pop(hnsw_heap *h) {
  hnsw_cand last = h->items[--h->size];
  size_t n = h->size, i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && h->items[child + 1].key < h->items[child].key) child++;
    if (last.key <= h->items[child].key) break;
    h->items[i] = h->items[child];
    i = child;
  }
  if (n) h->items[i] = last;
}

static inline void maxheap_sift_down(hnsw_heap *h, hnsw_cand item) {
  size_t n = h->size, i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && h->items[child + 1].key > h->items[child].key) child++;
    if (item.key >= h->items[child].key) break;
    h->items[i] = h->items[child];
    i = child;
  }
  h->items[i] = item;
}

static inline bool maxheap_push(hnsw_heap *h, float key, uint32_t id) {
  if (h->size == h->cap && !heap_grow(h)) return false;
  size_t i = h->size++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h->items[parent].key >= key) break;
    h->items[i] = h->items[parent];
    i = parent;
  }
  h->items[i] = (hnsw_cand){key, id};
  return true;
}

/* Replaces the worst item of a non-empty max-heap. */
static inline void maxheap_replace_top(hnsw_heap *h, float key, uint32_t id) {
  maxheap_sift_down(h, (hnsw_cand){key, id});
}

/* In-place heapsort of a max-heap: leaves it sorted best (smallest key)
 * first.  No comparator calls: this runs once per level per insertion
 * during the build. */
void hnsw_res_sort(hnsw_heap *res) {
  size_t size = res->size;
  for (size_t n = size; n > 1; n--) {
    hnsw_cand top = res->items[0];
    res->size = n - 1;
    maxheap_sift_down(res, res->items[n - 1]);
    res->items[n - 1] = top;
  }
  res->size = size;
}

/* ---------------------------------------------------------- primitives */

static inline uint16_t next_epoch(hnsw_ctx *ctx, uint32_t n) {
  if (++ctx->epoch == 0) {
    memset(ctx->visited, 0, (size_t)n * sizeof *ctx->visited);
    ctx->epoch = 1;
  }
  return ctx->epoch;
}

/* Prefetches a node's row: all of an SQ8 code row, the first lines of a
 * float row.  The empty asm statement is there because GCC treats
 * __builtin_prefetch as free of side effects and deletes a loop of them
 * once inlined (measured: no prefetch left in the object code). */
static inline void prefetch_row(const hnsw_index *hx, const hnsw_query *q, uint32_t id) {
  const char *p;
  size_t lines;
  if (q->codes) {
    p = (const char *)(hx->quant.codes + (size_t)id * hx->quant.stride);
    lines = (hx->quant.stride + 63) / 64;
  } else {
    p = (const char *)(hx->vectors + (size_t)id * hx->dim);
    lines = VS_MIN(((size_t)hx->dim * sizeof(float) + 63) / 64, (size_t)PREFETCH_FLOAT_BYTES / 64);
  }
  for (size_t i = 0; i < lines; i++) {
    __builtin_prefetch(p + 64 * i, 0, 3);
    __asm__ volatile("");
  }
}

/* The node's list at `level`: in place, or copied under its lock while
 * the graph is being built.  The count is clamped to the list's capacity. */
static inline const uint32_t *read_list(const hnsw_index *hx, hnsw_ctx *ctx, uint32_t node,
                                        int level, uint32_t *count) {
  const uint32_t *list = hnsw_list(&hx->graph, node, level);
  uint32_t cap = hnsw_list_cap(&hx->graph, level);
  if (hx->stripes) {
    pthread_mutex_t *lock = &hx->stripes[node % HNSW_LOCK_STRIPES];
    pthread_mutex_lock(lock);
    uint32_t n = VS_MIN(list[0], cap);
    memcpy(ctx->links, list, ((size_t)n + 1) * sizeof *list);
    pthread_mutex_unlock(lock);
    list = ctx->links;
  }
  *count = VS_MIN(list[0], cap);
  return list + 1;
}

uint32_t hnsw_greedy(const hnsw_index *hx, hnsw_ctx *ctx, const hnsw_query *q, uint32_t entry,
                     float *key, int from, int to) {
  uint32_t cur = entry;
  float best = *key;
  for (int level = from; level >= to; level--) {
    bool changed = true;
    while (changed) {
      uint32_t count;
      const uint32_t *list = read_list(hx, ctx, cur, level, &count);
      changed = false;
      for (uint32_t j = 0; j < count; j++) {
        if (j + 1 < count) prefetch_row(hx, q, list[j + 1]);
        float k = hnsw_key(hx, q, list[j]);
        if (k < best) {
          best = k;
          cur = list[j];
          changed = true;
        }
      }
      ctx->distances += count;
      ctx->visits++;
    }
  }
  *key = best;
  return cur;
}

/* Gathers the unvisited nodes of `list` into ctx->ids, marking them. */
static inline uint32_t gather_unvisited(hnsw_ctx *ctx, const uint32_t *list, uint32_t count,
                                        uint16_t epoch) {
  uint16_t *visited = ctx->visited;
  uint32_t m = 0;
  for (uint32_t j = 0; j < count; j++) {
    uint32_t id = list[j];
    if (visited[id] == epoch) continue;
    visited[id] = epoch;
    ctx->ids[m++] = id;
  }
  return m;
}

vs_status hnsw_search_layer(const hnsw_index *hx, hnsw_ctx *ctx, const hnsw_query *q,
                            uint32_t entry, float entry_key, int level, size_t ef,
                            const vs_bitset *skip) {
  hnsw_heap *cand = &ctx->cand, *res = &ctx->res;
  uint16_t epoch = next_epoch(ctx, hx->graph.n);
  float bound = INFINITY;
  cand->size = 0;
  res->size = 0;
  ctx->visited[entry] = epoch;
  if (!minheap_push(cand, entry_key, entry)) goto nomem;
  if (!hnsw_skipped(skip, entry) && !maxheap_push(res, entry_key, entry)) goto nomem;
  if (res->size >= ef) bound = res->items[0].key;
  while (cand->size) {
    hnsw_cand c = cand->items[0];
    if (c.key > bound) break;
    minheap_pop(cand);
    if (cand->size) __builtin_prefetch(hnsw_list(&hx->graph, cand->items[0].id, level));
    uint32_t count;
    const uint32_t *list = read_list(hx, ctx, c.id, level, &count);
    uint32_t m = gather_unvisited(ctx, list, count, epoch);
    for (uint32_t j = 0; j < m && j < PREFETCH_AHEAD; j++) prefetch_row(hx, q, ctx->ids[j]);
    for (uint32_t j = 0; j < m; j++) {
      uint32_t id = ctx->ids[j];
      if (j + PREFETCH_AHEAD < m) prefetch_row(hx, q, ctx->ids[j + PREFETCH_AHEAD]);
      float key = hnsw_key(hx, q, id);
      if (!(key < bound)) continue;
      if (!minheap_push(cand, key, id)) goto nomem;
      if (hnsw_skipped(skip, id)) continue;
      if (res->size < ef) {
        if (!maxheap_push(res, key, id)) goto nomem;
      } else {
        maxheap_replace_top(res, key, id);
      }
      if (res->size >= ef) bound = res->items[0].key;
    }
    ctx->distances += m;
    ctx->visits++;
  }
  return VS_OK;
nomem:
  return vs_fail(VS_ERR_NOMEM, "out of memory growing an HNSW search heap");
}

/* ------------------------------------------------------------- top-k */

typedef struct search_plan {
  uint32_t ef;      /* beam width asked for */
  uint32_t refine;  /* SQ8: candidates re-ranked exactly */
  size_t pool;      /* beam width run: max(ef, refine) for SQ8 */
} search_plan;

static vs_status plan_search(const hnsw_index *hx, uint32_t k, const vs_index_search_params *p,
                             search_plan *plan) {
  if (p->ef > HNSW_EF_MAX) return vs_fail(VS_ERR_INVALID, "HNSW search param ef=%u out of range (1..%u)", p->ef, HNSW_EF_MAX);
  if (p->refine_k > HNSW_EF_MAX) {
    return vs_fail(VS_ERR_INVALID, "HNSW search param refine_k=%u out of range (1..%u)", p->refine_k, HNSW_EF_MAX);
  }
  plan->ef = VS_MAX(p->ef ? p->ef : VS_MAX(k, HNSW_EF_DEFAULT), k);
  plan->refine = p->refine_k ? VS_MAX(p->refine_k, k) : VS_MAX(2 * k, plan->ef);
  plan->pool = hx->sq8 ? VS_MAX(plan->ef, plan->refine) : plan->ef;
  return VS_OK;
}

/* Descends the upper levels and beam-searches level 0 with width `pool`. */
static vs_status run_search(const hnsw_index *hx, hnsw_ctx *ctx, const hnsw_query *q, size_t pool,
                            const vs_bitset *skip) {
  const hnsw_graph *g = &hx->graph;
  float key = hnsw_key(hx, q, g->entry);
  uint32_t start = g->entry;
  ctx->distances++;
  if (g->max_level > 0) start = hnsw_greedy(hx, ctx, q, start, &key, g->max_level, 1);
  return hnsw_search_layer(hx, ctx, q, start, key, 0, pool, skip);
}

/* Exact keys for the first `count` items of ctx->res (already sorted). */
static void exact_keys(const hnsw_index *hx, hnsw_ctx *ctx, const hnsw_query *q, size_t count) {
  hnsw_query exact = *q;
  exact.codes = false;
  hnsw_cand *items = ctx->res.items;
  for (size_t i = 0; i < count && i < PREFETCH_AHEAD; i++) prefetch_row(hx, &exact, items[i].id);
  for (size_t i = 0; i < count; i++) {
    if (i + PREFETCH_AHEAD < count) prefetch_row(hx, &exact, items[i + PREFETCH_AHEAD].id);
    items[i].key = hnsw_key(hx, &exact, items[i].id);
  }
  ctx->distances += count;
}

static void emit_topk(const hnsw_index *hx, hnsw_ctx *ctx, const hnsw_query *q, size_t refine,
                      vs_topk *out) {
  hnsw_heap *res = &ctx->res;
  size_t count = res->size;
  if (hx->sq8) {
    hnsw_res_sort(res);
    count = VS_MIN(count, refine);
    exact_keys(hx, ctx, q, count);
  }
  for (size_t i = 0; i < count; i++) {
    float value = hnsw_value(hx->metric, res->items[i].key);
    if (vs_topk_would_accept(out, value)) vs_topk_push(out, value, (int64_t)res->items[i].id);
  }
}

static void add_stats(vs_index_stats *stats, hnsw_ctx *ctx) {
  if (stats) {
    stats->distance_computations += ctx->distances;
    stats->nodes_visited += ctx->visits;
  }
  ctx->distances = 0;
  ctx->visits = 0;
}

vs_status hnsw_search(const vs_index *ix, const float *query, uint32_t k,
                      const vs_index_search_params *p, const vs_bitset *skip, vs_topk *out,
                      vs_index_stats *stats) {
  hnsw_index *hx = ix->impl;
  hnsw_ctx *ctx = NULL;
  hnsw_query q;
  search_plan plan = {0};
  vs_status st = plan_search(hx, k, p, &plan);
  if (st != VS_OK || hx->graph.n == 0) return st;
  st = hnsw_ctx_acquire(hx, &ctx);
  if (st != VS_OK) return st;
  hnsw_query_prepare(hx, ctx, query, hx->sq8, &q);
  st = run_search(hx, ctx, &q, plan.pool, skip);
  if (st == VS_OK) emit_topk(hx, ctx, &q, plan.refine, out);
  add_stats(stats, ctx);
  hnsw_ctx_release(hx, ctx);
  return st;
}

/* -------------------------------------------------------------- range */

/* True when a value is past the outer bound (the radius) of the range. */
static bool beyond_radius(vs_metric metric, const vs_index_search_params *p, float value) {
  if (!p->has_radius) return false;
  return metric == VS_METRIC_L2 ? !(value < p->radius) : !(value > p->radius);
}

/* One round at width ef: exact keys for all results (sorted best first);
 * *done when widening cannot or need not find more. */
static vs_status range_round(const hnsw_index *hx, hnsw_ctx *ctx, const hnsw_query *q, size_t ef,
                             uint32_t limit, const vs_index_search_params *p,
                             const vs_bitset *skip, bool *done) {
  vs_status st = run_search(hx, ctx, q, ef, skip);
  if (st != VS_OK) return st;
  hnsw_heap *res = &ctx->res;
  hnsw_res_sort(res);
  if (hx->sq8) exact_keys(hx, ctx, q, res->size);
  size_t in_range = 0;
  float worst = -INFINITY; /* the largest key = the worst value */
  for (size_t i = 0; i < res->size; i++) {
    float value = hnsw_value(hx->metric, res->items[i].key);
    if (vs_index_in_range(hx->metric, p, value)) in_range++;
    if (res->items[i].key > worst) worst = res->items[i].key;
  }
  *done = res->size < ef || ef >= hx->graph.n || in_range >= limit ||
          (res->size > 0 && beyond_radius(hx->metric, p, hnsw_value(hx->metric, worst)));
  return VS_OK;
}

vs_status hnsw_range_search(const vs_index *ix, const float *query, uint32_t limit,
                            const vs_index_search_params *p, const vs_bitset *skip,
                            vs_topk *out, vs_index_stats *stats) {
  hnsw_index *hx = ix->impl;
  hnsw_ctx *ctx = NULL;
  hnsw_query q;
  bool done = false;
  if (p->ef > HNSW_EF_MAX) return vs_fail(VS_ERR_INVALID, "HNSW search param ef=%u out of range (1..%u)", p->ef, HNSW_EF_MAX);
  if (hx->graph.n == 0) return VS_OK;
  vs_status st = hnsw_ctx_acquire(hx, &ctx);
  if (st != VS_OK) return st;
  hnsw_query_prepare(hx, ctx, query, hx->sq8, &q);
  size_t ef = VS_MIN((size_t)(p->ef ? p->ef : HNSW_EF_DEFAULT), (size_t)hx->graph.n);
  while (st == VS_OK && !done) {
    st = range_round(hx, ctx, &q, ef, limit, p, skip, &done);
    ef = VS_MIN(ef * 2, (size_t)hx->graph.n);
  }
  for (size_t i = 0; st == VS_OK && i < ctx->res.size; i++) {
    float value = hnsw_value(hx->metric, ctx->res.items[i].key);
    if (!vs_index_in_range(hx->metric, p, value) || !vs_topk_would_accept(out, value)) continue;
    vs_topk_push(out, value, (int64_t)ctx->res.items[i].id);
  }
  add_stats(stats, ctx);
  hnsw_ctx_release(hx, ctx);
  return st;
}
