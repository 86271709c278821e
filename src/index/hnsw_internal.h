/*
 * hnsw_internal.h -- what the HNSW files share (hnsw.c, hnsw_build.c,
 * hnsw_search.c, hnsw_io.c) and their tests.  The design essay is at the
 * top of hnsw.c; the on-disk layout at the top of hnsw_io.c.
 */
#ifndef VS_HNSW_INTERNAL_H
#define VS_HNSW_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "index/index_internal.h"
#include "simd/sq8.h"

#define HNSW_M_MIN 4u
#define HNSW_M_MAX 64u
#define HNSW_M_DEFAULT 16u
#define HNSW_EFC_MIN 8u
#define HNSW_EFC_MAX 4096u
#define HNSW_EFC_DEFAULT 200u
#define HNSW_EF_DEFAULT 64u
#define HNSW_EF_MAX 32768u     /* search ef and refine_k */
#define HNSW_MAX_LEVEL 32      /* a node's top level is 0..HNSW_MAX_LEVEL */
#define HNSW_NONE UINT32_MAX   /* "no node" (entry point of an empty graph) */
#define HNSW_LOCK_STRIPES 4096u

/* A (key, node) pair; keys are "smaller is better" (see hnsw.c). */
typedef struct hnsw_cand {
  float key;
  uint32_t id;
} hnsw_cand;

/* A growable binary heap (min or max by key, per the functions used). */
typedef struct hnsw_heap {
  hnsw_cand *items;
  size_t size;
  size_t cap;
} hnsw_heap;

/*
 * The graph.  Level 0: links0[node * (M0 + 1)] is the count, followed by
 * M0 slots.  Levels 1..levels[node]: list (upper_off[node] + level - 1) of
 * `upper`, each M + 1 uint32 (count, then M slots).
 */
typedef struct hnsw_graph {
  uint32_t M;            /* links per upper-level list */
  uint32_t M0;           /* links per level-0 list (2M) */
  uint32_t n;
  uint32_t entry;        /* HNSW_NONE when n == 0 */
  int max_level;         /* -1 when n == 0 */
  uint8_t *levels;       /* n: each node's top level */
  uint32_t *links0;      /* n x (M0 + 1) */
  uint32_t *upper_off;   /* n: first upper list of the node */
  uint32_t *upper;       /* upper_lists x (M + 1) */
  size_t upper_lists;
} hnsw_graph;

/* SQ8: x[i] ~ vmin[i] + scale[i] * code[i]  (COSINE: of the unit row). */
typedef struct hnsw_quant {
  float *vmin;           /* dim */
  float *scale;          /* dim */
  uint8_t *codes;        /* n x stride, 64-byte aligned, zero padded */
  size_t stride;         /* dim rounded up to 16 */
  float *rowterm;        /* L2 only: |scale * code|^2 per row, else NULL */
} hnsw_quant;

/* A query prepared for one distance space. */
typedef struct hnsw_query {
  bool codes;            /* SQ8 space, else exact float */
  const float *vec;      /* float space: the query, unit length for COSINE */
  const float *a;        /* SQ8: per-dimension weights, stride floats */
  float base;            /* SQ8: the query's constant term */
} hnsw_query;

/* Build-only scratch of a context. */
typedef struct hnsw_build_scratch {
  hnsw_cand *sorted;     /* candidates best first */
  hnsw_cand *kept;       /* heuristic output */
  hnsw_cand *pruned;     /* heuristic rejects */
  size_t cap;
  /* the links chosen for the node being inserted, per level (M each),
   * written only once every level is chosen (hnsw_build.c) */
  hnsw_cand *chosen;     /* (HNSW_MAX_LEVEL + 1) x M */
  uint32_t chosen_count[HNSW_MAX_LEVEL + 1];
} hnsw_build_scratch;

/* Per-search scratch, reused: no allocation in the hot path. */
typedef struct hnsw_ctx {
  uint16_t *visited;     /* n tags; == epoch means seen in this search */
  uint16_t epoch;
  hnsw_heap cand;        /* min-heap: nodes to expand */
  hnsw_heap res;         /* max-heap: best non-skipped nodes found */
  float *qvec;           /* dim: unit query (COSINE) */
  float *qcode;          /* stride: SQ8 weights */
  uint32_t *ids;         /* M0: neighbours to score */
  uint32_t *links;       /* M0 + 1: a list copied under its lock (build) */
  float *keys;           /* M0 */
  hnsw_build_scratch build;
  uint64_t distances;
  uint64_t visits;
  struct hnsw_ctx *next; /* free list */
} hnsw_ctx;

typedef struct hnsw_index {
  hnsw_graph graph;
  bool sq8;
  uint32_t ef_construction;
  uint64_t seed;
  const float *vectors;  /* the vs_index's rows, not owned */
  uint32_t dim;
  vs_metric metric;
  float *norms;          /* COSINE: n row norms, else NULL */
  hnsw_quant quant;
  const vs_simd_kernels *fk;
  const vs_sq8_kernels *qk;
  pthread_mutex_t *stripes; /* during build only: node list locks */
  pthread_mutex_t ctx_lock;
  hnsw_ctx *ctx_free;
  unsigned ctx_cached;
} hnsw_index;

/* Test instrumentation of the build (hnsw_build.c): when set, called by
 * the inserting thread after it has chosen `node`'s links at `level` and
 * before any of them is written; `holds_global` says the node is becoming
 * the new entry point (it holds the build's global lock).  test_hnsw pauses
 * an insertion here to check that a half-inserted node cannot trap others.
 * Process-wide; NULL (the default) costs one load per level. */
typedef void (*hnsw_build_hook_fn)(void *arg, uint32_t node, int level, const uint32_t *chosen,
                                   uint32_t count, bool holds_global);
void hnsw_set_build_hook(hnsw_build_hook_fn fn, void *arg);

/* ----------------------------------------------------- hnsw.c */

extern const vs_index_ops vs_hnsw_ops;

/* calloc for the big arrays: 2 MB aligned and advised as huge pages when
 * at least 2 MB (fewer TLB misses on random rows); free with free(). */
void *hnsw_alloc_zeroed(size_t count, size_t size);
vs_status hnsw_index_new(vs_index *ix, bool sq8, uint32_t M, uint32_t ef_construction,
                         uint64_t seed, hnsw_index **out);
void hnsw_index_free(void *impl);
/* Allocates levels, links0 and upper_off for n nodes (zeroed). */
vs_status hnsw_graph_alloc(hnsw_graph *g, uint32_t n);
/* Allocates `upper` from the levels already set (zeroed). */
vs_status hnsw_graph_alloc_upper(hnsw_graph *g);
vs_status hnsw_ctx_acquire(hnsw_index *hx, hnsw_ctx **out);
void hnsw_ctx_release(hnsw_index *hx, hnsw_ctx *ctx);
vs_status hnsw_ctx_new(const hnsw_index *hx, bool for_build, hnsw_ctx **out);
void hnsw_ctx_free(hnsw_ctx *ctx);
/* Prepares `query` (float, dim) for the float or SQ8 space in ctx. */
void hnsw_query_prepare(const hnsw_index *hx, hnsw_ctx *ctx, const float *query, bool codes,
                        hnsw_query *out);
vs_status hnsw_compute_norms(hnsw_index *hx);
vs_status hnsw_quant_train(hnsw_index *hx);
/* Allocates codes storage and rowterm; vmin/scale must be set. */
vs_status hnsw_quant_alloc(hnsw_index *hx);
void hnsw_quant_rowterms(hnsw_index *hx);

/* ----------------------------------------------- hnsw_search.c */

vs_status hnsw_search(const vs_index *ix, const float *query, uint32_t k,
                      const vs_index_search_params *p, const vs_bitset *skip, vs_topk *out,
                      vs_index_stats *stats);
vs_status hnsw_range_search(const vs_index *ix, const float *query, uint32_t limit,
                            const vs_index_search_params *p, const vs_bitset *skip,
                            vs_topk *out, vs_index_stats *stats);
/* Greedy descent from `entry` through levels from..to (from >= to >= 1);
 * returns the closest node found and its key in *key. */
uint32_t hnsw_greedy(const hnsw_index *hx, hnsw_ctx *ctx, const hnsw_query *q, uint32_t entry,
                     float *key, int from, int to);
/* Beam search at `level` from `entry`: leaves ctx->res, a max-heap of up
 * to ef non-skipped nodes. */
vs_status hnsw_search_layer(const hnsw_index *hx, hnsw_ctx *ctx, const hnsw_query *q,
                            uint32_t entry, float entry_key, int level, size_t ef,
                            const vs_bitset *skip);
/* Sorts the max-heap ctx->res in place, best first (no longer a heap). */
void hnsw_res_sort(hnsw_heap *res);

/* ------------------------------------------------ hnsw_io.c */

vs_status hnsw_serialize(const vs_index *ix, vs_buf *out);
vs_status hnsw_validate(const vs_index *ix);

/* --------------------------------------------------- inlines */

static inline uint32_t *hnsw_list(const hnsw_graph *g, uint32_t node, int level) {
  if (level == 0) return g->links0 + (size_t)node * (g->M0 + 1);
  return g->upper + ((size_t)g->upper_off[node] + (size_t)level - 1) * (g->M + 1);
}

static inline uint32_t hnsw_list_cap(const hnsw_graph *g, int level) {
  return level == 0 ? g->M0 : g->M;
}

/* The metric's value of a key (keys negate similarities). */
static inline float hnsw_value(vs_metric metric, float key) {
  return metric == VS_METRIC_L2 ? key : -key;
}

static inline bool hnsw_skipped(const vs_bitset *skip, uint32_t id) {
  return skip && id < skip->nbits && vs_bitset_test(skip, id);
}

/* Key between a prepared query and a node. */
static inline float hnsw_key(const hnsw_index *hx, const hnsw_query *q, uint32_t id) {
  if (q->codes) {
    const hnsw_quant *qu = &hx->quant;
    float d = q->base + hx->qk->ip(q->a, qu->codes + (size_t)id * qu->stride, qu->stride);
    return qu->rowterm ? d + qu->rowterm[id] : d;
  }
  const float *row = hx->vectors + (size_t)id * hx->dim;
  if (hx->metric == VS_METRIC_L2) return hx->fk->l2sq(q->vec, row, hx->dim);
  if (hx->metric == VS_METRIC_IP) return -hx->fk->ip(q->vec, row, hx->dim);
  float norm = hx->norms[id];
  return norm > 0 ? -hx->fk->ip(q->vec, row, hx->dim) / norm : 0.0f;
}

/* Exact key between two nodes (build). */
static inline float hnsw_node_key(const hnsw_index *hx, uint32_t a, uint32_t b) {
  const float *ra = hx->vectors + (size_t)a * hx->dim;
  const float *rb = hx->vectors + (size_t)b * hx->dim;
  if (hx->metric == VS_METRIC_L2) return hx->fk->l2sq(ra, rb, hx->dim);
  if (hx->metric == VS_METRIC_IP) return -hx->fk->ip(ra, rb, hx->dim);
  float norms = hx->norms[a] * hx->norms[b];
  return norms > 0 ? -hx->fk->ip(ra, rb, hx->dim) / norms : 0.0f;
}

#endif /* VS_HNSW_INTERNAL_H */
