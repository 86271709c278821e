/*
 * index_internal.h -- what the files of src/index/ share: the index object,
 * the per-type operations, and the blob framing.  Not for other layers.
 */
#ifndef VS_INDEX_INTERNAL_H
#define VS_INDEX_INTERNAL_H

#include "index/index.h"
#include "simd/simd.h"

typedef struct vs_index_ops {
  vs_status (*search)(const vs_index *ix, const float *query, uint32_t k,
                      const vs_index_search_params *p, const vs_bitset *skip,
                      vs_topk *out, vs_index_stats *stats);
  vs_status (*range_search)(const vs_index *ix, const float *query, uint32_t limit,
                            const vs_index_search_params *p, const vs_bitset *skip,
                            vs_topk *out, vs_index_stats *stats);
  /* Appends the type's payload (the framing is index.c's). */
  vs_status (*serialize)(const vs_index *ix, vs_buf *out);
  vs_status (*validate)(const vs_index *ix);
  size_t (*memory)(const vs_index *ix);
  void (*free_impl)(void *impl);
} vs_index_ops;

struct vs_index {
  const vs_index_ops *ops;
  vs_index_type type;
  const float *vectors;   /* n x dim, not owned */
  size_t n;
  uint32_t dim;
  vs_metric metric;
  void *impl;             /* the type's own state */
};

/* Builders and loaders of each type: fill ix->ops and ix->impl (the common
 * fields are set by index.c before the call).  `payload` is the type's
 * bytes inside a frame whose checksum index.c has verified. */
vs_status vs_flat_build(vs_index *ix);
vs_status vs_flat_load(vs_index *ix, const uint8_t *payload, size_t len);

vs_status vs_hnsw_build(vs_index *ix, bool sq8, const vs_index_build_params *p,
                        vs_pool *pool, vs_index_progress *progress);
vs_status vs_hnsw_load(vs_index *ix, bool sq8, const uint8_t *payload, size_t len);

vs_status vs_ivf_build(vs_index *ix, const vs_index_build_params *p, vs_pool *pool,
                       vs_index_progress *progress);
vs_status vs_ivf_load(vs_index *ix, const uint8_t *payload, size_t len);

/* Distance of the metric (L2 squared; IP; COSINE) between a query and a
 * row, and whether larger is better.  Cosine uses the row's norm from
 * `norms` when given (precomputed), else computes it. */
static inline bool vs_metric_larger_is_better(vs_metric m) { return m != VS_METRIC_L2; }

#endif /* VS_INDEX_INTERNAL_H */
