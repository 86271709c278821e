/*
 * hnsw_build.c -- building the graph: parameters, levels, parallel
 * insertion and the neighbour-selection heuristic (Malkov & Yashunin,
 * "Efficient and robust approximate nearest neighbor search using
 * Hierarchical Navigable Small World graphs", algorithms 1 and 4).
 *
 * Levels are drawn before any insertion, one per node in row order, as
 * floor(-ln(U) / ln(M)) with U uniform in (0, 1] from a splitmix64 stream
 * seeded by params->seed (0 = a fixed seed), capped at HNSW_MAX_LEVEL.  So
 * the levels -- and with one thread the whole graph -- are a function of
 * the data and the seed.  With several threads the insertion order
 * interleaves and the links differ from run to run (as in hnswlib); recall
 * does not.
 *
 * Insertion of node q (top level L): greedy descent from the entry point
 * down to level L + 1; then for each level l = min(L, max_level) .. 0 a
 * beam search with ef_construction, and the heuristic picks M neighbours
 * among the results.  Only then are q's lists written (every level), and
 * then q is added to each neighbour's list -- appended if there is room (M
 * links above level 0, 2M at level 0), otherwise the neighbour's links plus
 * q are re-selected with the same heuristic.  Writing every list before
 * the first back-link matters with several threads: q must not become
 * reachable at level l while its list at l - 1 is empty, or concurrent
 * insertions that descend through q find nothing below it and link to q
 * alone (seen as a recall drop of a 2-thread build under CPU contention,
 * when a thread was descheduled mid-insertion).  One thread builds the
 * same graph either way.  The heuristic keeps a candidate only if it is closer to the
 * base node than to every neighbour kept so far, which spreads links in
 * different directions; the paper's "keepPrunedConnections" variant (fill
 * up with rejected candidates) is available as KEEP_PRUNED and is off: it
 * measured the same recall per distance computation and a slower build
 * (docs/index-hnsw.md).
 *
 * Parallelism: node 0 is inserted alone (it becomes the entry point); then
 * `threads` tasks on the vs_pool each claim the next row from an atomic
 * counter until none remain, each with its own context (visited tags,
 * heaps, selection scratch).
 *
 * Locking rules (build only; a built index has no locks):
 *   - `global` guards entry and max_level.  A node whose level exceeds
 *     the current max keeps `global` for its whole insertion (so no one
 *     descends from it before it is linked); others hold it only to read.
 *   - A node's lists (all levels) are guarded by stripe (node % 4096) of
 *     hx->stripes.  Readers copy a list under the stripe; writers modify
 *     it under the stripe.  At most one stripe is held at a time, and
 *     `global` is only ever taken before a stripe, so there is no
 *     lock-order cycle.  Distances computed while re-selecting a full list
 *     run under its stripe: that is the contended section, kept short.
 *   - Vectors, levels, norms and codes are written before the pool starts
 *     and only read during it.
 *   - progress->done is an atomic counter; progress->cancel is polled
 *     before each insertion.
 * With one thread the stripes are not allocated and nothing locks.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/hnsw_internal.h"

#ifndef KEEP_PRUNED
#define KEEP_PRUNED 0
#endif
#define DEFAULT_SEED 0x5EEDB0A7C0FFEEull

static _Atomic(hnsw_build_hook_fn) build_hook;
static void *_Atomic build_hook_arg;

void hnsw_set_build_hook(hnsw_build_hook_fn fn, void *arg) {
  atomic_store(&build_hook_arg, arg);
  atomic_store(&build_hook, fn);
}

typedef struct build_job {
  hnsw_index *hx;
  vs_index_progress *progress;
  pthread_mutex_t global;
  atomic_size_t next;     /* next row to insert */
  atomic_int stop;        /* set on error or cancel */
  pthread_mutex_t error_lock;
  vs_status status;       /* first error (VS_ERR_BUSY when cancelled) */
  char message[256];
} build_job;

/* ---------------------------------------------------------- parameters */

static vs_status check_params(const vs_index_build_params *p, uint32_t *M, uint32_t *efc) {
  *M = p->M ? p->M : HNSW_M_DEFAULT;
  *efc = p->ef_construction ? p->ef_construction : HNSW_EFC_DEFAULT;
  if (*M < HNSW_M_MIN || *M > HNSW_M_MAX) {
    return vs_fail(VS_ERR_INVALID, "HNSW build param M=%u out of range (%u..%u)", *M, HNSW_M_MIN, HNSW_M_MAX);
  }
  if (*efc < HNSW_EFC_MIN || *efc > HNSW_EFC_MAX) {
    return vs_fail(VS_ERR_INVALID, "HNSW build param efConstruction=%u out of range (%u..%u)", *efc,
                   HNSW_EFC_MIN, HNSW_EFC_MAX);
  }
  return VS_OK;
}

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void draw_levels(hnsw_graph *g, uint64_t seed) {
  uint64_t state = seed ? seed : DEFAULT_SEED;
  double mult = 1.0 / log((double)g->M);
  for (uint32_t i = 0; i < g->n; i++) {
    double u = (double)((splitmix64(&state) >> 11) + 1) * 0x1p-53; /* (0, 1] */
    double level = floor(-log(u) * mult);
    g->levels[i] = (uint8_t)(level < HNSW_MAX_LEVEL ? level : HNSW_MAX_LEVEL);
  }
}

/* ----------------------------------------------------------- selection */

/* Insertion sort, best first: lists are at most 2M + 1 = 129 long. */
static void sort_cands(hnsw_cand *items, size_t count) {
  for (size_t i = 1; i < count; i++) {
    hnsw_cand item = items[i];
    size_t j = i;
    while (j > 0 && items[j - 1].key > item.key) {
      items[j] = items[j - 1];
      j--;
    }
    items[j] = item;
  }
}

/* The heuristic over `sorted` (best first): up to `limit` into b->kept. */
static size_t select_neighbours(const hnsw_index *hx, const hnsw_cand *sorted, size_t count,
                                size_t limit, hnsw_build_scratch *b) {
  size_t kept = 0, pruned = 0;
  if (count <= limit) {
    memcpy(b->kept, sorted, count * sizeof *sorted);
    return count;
  }
  for (size_t i = 0; i < count && kept < limit; i++) {
    hnsw_cand e = sorted[i];
    bool good = true;
    for (size_t j = 0; j < kept && good; j++) good = !(hnsw_node_key(hx, e.id, b->kept[j].id) < e.key);
    if (good) {
      b->kept[kept++] = e;
    } else {
      b->pruned[pruned++] = e;
    }
  }
  for (size_t j = 0; KEEP_PRUNED && j < pruned && kept < limit; j++) b->kept[kept++] = b->pruned[j];
  return kept;
}

static inline void lock_node(const hnsw_index *hx, uint32_t node) {
  if (hx->stripes) pthread_mutex_lock(&hx->stripes[node % HNSW_LOCK_STRIPES]);
}

static inline void unlock_node(const hnsw_index *hx, uint32_t node) {
  if (hx->stripes) pthread_mutex_unlock(&hx->stripes[node % HNSW_LOCK_STRIPES]);
}

/* Adds `node` (at distance key) to the list of r at `level`. */
static void add_backlink(hnsw_index *hx, hnsw_ctx *ctx, uint32_t r, uint32_t node, int level,
                         float key) {
  hnsw_graph *g = &hx->graph;
  hnsw_build_scratch *b = &ctx->build;
  uint32_t cap = hnsw_list_cap(g, level);
  lock_node(hx, r);
  uint32_t *list = hnsw_list(g, r, level);
  uint32_t count = list[0];
  if (count < cap) {
    list[1 + count] = node;
    list[0] = count + 1;
  } else {
    for (uint32_t j = 0; j < count; j++) b->sorted[j] = (hnsw_cand){hnsw_node_key(hx, r, list[1 + j]), list[1 + j]};
    b->sorted[count] = (hnsw_cand){key, node};
    sort_cands(b->sorted, (size_t)count + 1);
    size_t kept = select_neighbours(hx, b->sorted, (size_t)count + 1, cap, b);
    for (size_t j = 0; j < kept; j++) list[1 + j] = b->kept[j].id;
    for (size_t j = kept; j < count; j++) list[1 + j] = 0; /* unused slots stay 0 */
    list[0] = (uint32_t)kept;
    ctx->distances += count;
  }
  unlock_node(hx, r);
}

/* After a beam search at `level` for `node` (ctx->res): chooses node's
 * links at that level (kept in the scratch, not yet written) and returns
 * the closest node found as the entry for the next level down. */
static void choose_links(const hnsw_index *hx, hnsw_ctx *ctx, uint32_t node, int level, uint32_t *entry,
                         float *entry_key) {
  const hnsw_graph *g = &hx->graph;
  hnsw_build_scratch *b = &ctx->build;
  hnsw_heap *res = &ctx->res;
  size_t count = 0;
  b->chosen_count[level] = 0;
  hnsw_res_sort(res);
  for (size_t i = 0; i < res->size && count < b->cap; i++) {
    if (res->items[i].id != node) b->sorted[count++] = res->items[i];
  }
  if (count == 0) return;
  *entry = b->sorted[0].id;
  *entry_key = b->sorted[0].key;
  size_t kept = select_neighbours(hx, b->sorted, count, g->M, b);
  memcpy(b->chosen + (size_t)level * g->M, b->kept, kept * sizeof *b->kept);
  b->chosen_count[level] = (uint32_t)kept;
}

/* Writes node's own lists at levels 0..top, then the back-links that make
 * it reachable.  All of its lists exist before anyone can reach it: a node
 * reachable at level l whose level l-1 list is still empty would trap
 * every concurrent insertion whose descent passes through it (its lower
 * searches would return that node alone, and they would link to it only). */
static void link_node(hnsw_index *hx, hnsw_ctx *ctx, uint32_t node, int top) {
  hnsw_graph *g = &hx->graph;
  hnsw_build_scratch *b = &ctx->build;
  lock_node(hx, node);
  for (int l = 0; l <= top; l++) {
    uint32_t *list = hnsw_list(g, node, l);
    const hnsw_cand *c = b->chosen + (size_t)l * g->M;
    for (uint32_t j = 0; j < b->chosen_count[l]; j++) list[1 + j] = c[j].id;
    list[0] = b->chosen_count[l];
  }
  unlock_node(hx, node);
  for (int l = 0; l <= top; l++) {
    const hnsw_cand *c = b->chosen + (size_t)l * g->M;
    for (uint32_t j = 0; j < b->chosen_count[l]; j++) add_backlink(hx, ctx, c[j].id, node, l, c[j].key);
  }
}

/* ----------------------------------------------------------- insertion */

static void call_hook(hnsw_build_hook_fn hook, const hnsw_index *hx, const hnsw_ctx *ctx, uint32_t node,
                      int level, bool top) {
  const hnsw_build_scratch *b = &ctx->build;
  const hnsw_cand *c = b->chosen + (size_t)level * hx->graph.M;
  uint32_t ids[HNSW_M_MAX];
  for (uint32_t j = 0; j < b->chosen_count[level]; j++) ids[j] = c[j].id;
  hook(atomic_load(&build_hook_arg), node, level, ids, b->chosen_count[level], top);
}

static vs_status insert_node(build_job *job, hnsw_ctx *ctx, uint32_t node) {
  hnsw_index *hx = job->hx;
  hnsw_graph *g = &hx->graph;
  int level = g->levels[node];
  hnsw_query q;
  vs_status st = VS_OK;
  hnsw_query_prepare(hx, ctx, hx->vectors + (size_t)node * hx->dim, false, &q);
  pthread_mutex_lock(&job->global);
  uint32_t cur = g->entry;
  int max_level = g->max_level;
  bool top = level > max_level;
  if (!top) pthread_mutex_unlock(&job->global);
  float key = hnsw_key(hx, &q, cur);
  if (max_level > level) cur = hnsw_greedy(hx, ctx, &q, cur, &key, max_level, level + 1);
  int linked = VS_MIN(level, max_level);
  hnsw_build_hook_fn hook = atomic_load_explicit(&build_hook, memory_order_acquire);
  for (int l = linked; l >= 0 && st == VS_OK; l--) {
    st = hnsw_search_layer(hx, ctx, &q, cur, key, l, hx->ef_construction, NULL);
    if (st == VS_OK) choose_links(hx, ctx, node, l, &cur, &key);
    if (st == VS_OK && hook) call_hook(hook, hx, ctx, node, l, top);
  }
  if (st == VS_OK) link_node(hx, ctx, node, linked);
  if (top) {
    if (st == VS_OK) {
      g->entry = node;
      g->max_level = level;
    }
    pthread_mutex_unlock(&job->global);
  }
  return st;
}

static void record_error(build_job *job, vs_status st, const char *message) {
  pthread_mutex_lock(&job->error_lock);
  if (job->status == VS_OK) {
    job->status = st;
    snprintf(job->message, sizeof job->message, "%s", message);
  }
  pthread_mutex_unlock(&job->error_lock);
  atomic_store(&job->stop, 1);
}

static bool cancelled(const build_job *job) {
  return job->progress && atomic_load_explicit(&job->progress->cancel, memory_order_relaxed);
}

static void build_worker(void *arg, size_t task) {
  build_job *job = arg;
  hnsw_ctx *ctx = NULL;
  vs_status st = hnsw_ctx_new(job->hx, true, &ctx);
  VS_UNUSED(task);
  if (st != VS_OK) {
    record_error(job, st, vs_error_message());
    return;
  }
  while (!atomic_load_explicit(&job->stop, memory_order_relaxed)) {
    if (cancelled(job)) {
      record_error(job, VS_ERR_BUSY, "index build cancelled");
      break;
    }
    size_t node = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
    if (node >= job->hx->graph.n) break;
    st = insert_node(job, ctx, (uint32_t)node);
    if (st != VS_OK) {
      record_error(job, st, vs_error_message());
      break;
    }
    if (job->progress) atomic_fetch_add_explicit(&job->progress->done, 1, memory_order_relaxed);
  }
  hnsw_ctx_free(ctx);
}

static vs_status stripes_init(hnsw_index *hx) {
  hx->stripes = vs_calloc(HNSW_LOCK_STRIPES, sizeof *hx->stripes);
  if (!hx->stripes) return vs_fail(VS_ERR_NOMEM, "out of memory for HNSW build locks");
  for (uint32_t i = 0; i < HNSW_LOCK_STRIPES; i++) pthread_mutex_init(&hx->stripes[i], NULL);
  return VS_OK;
}

static void stripes_free(hnsw_index *hx) {
  if (!hx->stripes) return;
  for (uint32_t i = 0; i < HNSW_LOCK_STRIPES; i++) pthread_mutex_destroy(&hx->stripes[i]);
  free(hx->stripes);
  hx->stripes = NULL;
}

/* Inserts every node; node 0 first, alone, as the entry point. */
static vs_status build_graph(hnsw_index *hx, vs_pool *pool, uint32_t threads,
                             vs_index_progress *progress) {
  build_job job = {.hx = hx, .progress = progress, .status = VS_OK};
  vs_status st = threads > 1 ? stripes_init(hx) : VS_OK;
  if (st != VS_OK) return st;
  pthread_mutex_init(&job.global, NULL);
  pthread_mutex_init(&job.error_lock, NULL);
  hx->graph.entry = 0;
  hx->graph.max_level = hx->graph.levels[0];
  atomic_init(&job.next, 1);
  atomic_init(&job.stop, 0);
  if (progress) atomic_fetch_add(&progress->done, 1);
  vs_pool_run(pool, threads, threads, build_worker, &job);
  pthread_mutex_destroy(&job.global);
  pthread_mutex_destroy(&job.error_lock);
  stripes_free(hx);
  if (job.status != VS_OK) return vs_fail(job.status, "%s", job.message);
  return VS_OK;
}

vs_status vs_hnsw_build(vs_index *ix, bool sq8, const vs_index_build_params *p, vs_pool *pool,
                        vs_index_progress *progress) {
  uint32_t M, efc;
  hnsw_index *hx = NULL;
  vs_status st = check_params(p, &M, &efc);
  if (st == VS_OK) st = hnsw_index_new(ix, sq8, M, efc, p->seed, &hx);
  if (st != VS_OK) return st;
  uint32_t threads = pool ? vs_pool_size(pool) : 1;
  if (p->threads && p->threads < threads) threads = p->threads;
  if (progress) {
    atomic_store(&progress->total, (uint64_t)ix->n);
    atomic_store(&progress->done, 0);
  }
  st = hnsw_graph_alloc(&hx->graph, hx->graph.n);
  if (st != VS_OK) return st;
  draw_levels(&hx->graph, p->seed);
  st = hnsw_graph_alloc_upper(&hx->graph);
  if (st == VS_OK && hx->metric == VS_METRIC_COSINE) st = hnsw_compute_norms(hx);
  if (st == VS_OK && sq8) st = hnsw_quant_train(hx);
  if (st != VS_OK || hx->graph.n == 0) return st;
  return build_graph(hx, pool, VS_MAX(threads, 1u), progress);
}
