/*
 * ann_ours.c -- vectorstore's own indexes as ANN benchmark contenders,
 * through the index layer (src/index/index.h) of the library target
 * vectorstore_static, exactly as the engine uses them: vs_index_build on
 * a vs_pool of `threads` threads, then vs_index_search one query at a
 * time on the calling thread with a caller-owned vs_topk.
 *
 * Compiled with the project's flags (no -march=native): the library picks
 * its SIMD kernels at start-up (src/simd/).
 *
 * Memory: vs_index_memory() counts the index's own structure but not the
 * segment's float column, which most of our indexes read at search time:
 * HNSW computes exact distances on it, HNSW_SQ8 re-ranks its candidates
 * with it, and IVF_SQ8 / IVF_PQ re-rank their best refine_k approximate
 * candidates exactly by default (src/index/ivf_search.c).  The benchmark
 * adds that column (n x dim x 4 bytes) as vector_bytes for them, so the
 * totals compare with the peers, which keep their own copy.  IVF_FLAT
 * scans its own list-ordered copy (counted in vs_index_memory).
 */
#include <stdio.h>
#include <stdlib.h>

#include "ann.h"
#include "index/index.h"
#include "simd/simd.h"

typedef struct ours_index {
  vs_index *index;
  vs_index_search_params params;
  vs_topk heap;
  uint32_t heap_k;
  float dist[1024];
} ours_index;

static void ours_release(void *handle) {
  ours_index *ix = handle;
  if (!ix) return;
  vs_index_free(ix->index);
  if (ix->heap_k) vs_topk_free(&ix->heap);
  free(ix);
}

static bool reads_float_column(vs_index_type type) {
  return type != VS_INDEX_IVF_FLAT && type != VS_INDEX_FLAT;
}

static int ours_build(const ann_contender *self, const float *base, size_t n, uint32_t dim,
                      const ann_build_config *cfg, ann_built *out, char *err, size_t errlen) {
  vs_index_type type = (vs_index_type)self->variant;
  vs_index_build_params params = {.M = cfg->M, .ef_construction = cfg->ef_construction,
                                  .nlist = cfg->nlist, .pq_m = cfg->pq_m,
                                  .pq_nbits = cfg->pq_nbits, .threads = cfg->threads};
  vs_pool *pool = NULL;
  ours_index *ix = calloc(1, sizeof *ix);
  vs_status st = ix ? vs_pool_new(cfg->threads, &pool) : VS_ERR_NOMEM;
  if (st == VS_OK) st = vs_index_build(type, base, n, dim, VS_METRIC_L2, &params, pool, NULL, &ix->index);
  vs_pool_free(pool);
  if (st != VS_OK) {
    snprintf(err, errlen, "vs_index_build(%s): %s", vs_index_type_name(type), vs_errmsg(NULL));
    ours_release(ix);
    return -1;
  }
  out->handle = ix;
  out->index_bytes = vs_index_memory(ix->index);
  out->vector_bytes = reads_float_column(type) ? n * dim * sizeof(float) : 0;
  out->accounting = "vs_index_memory() (+ the segment's float column where search reads it)";
  snprintf(out->detail, sizeof out->detail, "vectorstore %s, SIMD %s", vs_index_type_name(type),
           vs_simd_level_name(vs_simd_active_level()));
  return 0;
}

static void ours_set_param(void *handle, uint32_t param) {
  ours_index *ix = handle;
  if (vs_index_get_type(ix->index) == VS_INDEX_HNSW || vs_index_get_type(ix->index) == VS_INDEX_HNSW_SQ8) {
    ix->params.ef = param;
  } else {
    ix->params.nprobe = param;
  }
}

static int ours_search(void *handle, const float *query, uint32_t k, int64_t *ids) {
  ours_index *ix = handle;
  if (k > 1024) return -1;
  if (ix->heap_k != k) {
    if (ix->heap_k) vs_topk_free(&ix->heap);
    ix->heap_k = 0;
    if (vs_topk_init(&ix->heap, k, 0) != VS_OK) return -1;
    ix->heap_k = k;
  }
  vs_topk_reset(&ix->heap);
  if (vs_index_search(ix->index, query, k, &ix->params, NULL, &ix->heap, NULL) != VS_OK) return -1;
  size_t found = ix->heap.size;
  vs_topk_sorted(&ix->heap, ix->dist, ids);
  for (size_t i = found; i < k; i++) ids[i] = -1;
  return 0;
}

static const ann_contender contenders[] = {
    {"vectorstore HNSW", ANN_GRAPH, 1, ours_build, ours_set_param, ours_search, ours_release, VS_INDEX_HNSW, 0},
    {"vectorstore HNSW_SQ8", ANN_GRAPH, 1, ours_build, ours_set_param, ours_search, ours_release,
     VS_INDEX_HNSW_SQ8, 2},
    {"vectorstore IVF_FLAT", ANN_IVF, 1, ours_build, ours_set_param, ours_search, ours_release,
     VS_INDEX_IVF_FLAT, 5},
    {"vectorstore IVF_SQ8", ANN_IVF, 1, ours_build, ours_set_param, ours_search, ours_release,
     VS_INDEX_IVF_SQ8, 7},
    {"vectorstore IVF_PQ", ANN_IVF, 1, ours_build, ours_set_param, ours_search, ours_release,
     VS_INDEX_IVF_PQ, 9},
};

const ann_contender *ann_ours_contenders(size_t *count) {
  *count = sizeof contenders / sizeof contenders[0];
  return contenders;
}
