/*
 * index.h -- the whole interface of src/index/: vector indexes over one
 * sealed segment's vector column.
 *
 * An index never owns the vectors it indexes: it is built over, and loaded
 * next to, a row-major float matrix (n x dim) that the caller keeps alive
 * (a sealed segment's mmap'd column).  Row numbers are the ids: searches
 * return row numbers 0..n-1 and the engine maps them to primary keys.
 *
 * Distances follow the metric's own convention, as in vs_search: L2 is the
 * squared distance (smaller is better), IP and COSINE similarities (larger
 * is better).  Results go into a vs_topk (util.h) created by the caller
 * with larger_is_better = (metric != L2); ids pushed are row numbers.
 *
 * `skip` is the filter hook: a bitset of rows that must not be returned
 * (tombstones today, a filter's complement tomorrow); NULL = none.  Graph
 * indexes still traverse skipped rows but never report them, and widen the
 * search so that k results are still found when enough rows pass.
 *
 * Indexes are immutable once built; a search is safe from any number of
 * threads at once.  Building may use the pool's threads.
 *
 * Nothing here includes engine/: the dependency points down only.
 */
#ifndef VS_INDEX_H
#define VS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef enum vs_index_type {
  VS_INDEX_FLAT = 0,      /* exact scan; no structure */
  VS_INDEX_HNSW = 1,
  VS_INDEX_HNSW_SQ8 = 2,  /* graph over 8-bit codes + exact re-ranking */
  VS_INDEX_IVF_FLAT = 3,
  VS_INDEX_IVF_SQ8 = 4,
  VS_INDEX_IVF_PQ = 5
} vs_index_type;

/* "HNSW", "IVF_FLAT", ... (Milvus names); NULL if unknown. */
const char *vs_index_type_name(vs_index_type type);
/* Parses a Milvus index type name (case-insensitive). */
vs_status vs_index_type_from_name(const char *name, vs_index_type *out);

/* Build parameters; 0 means "the default" for every field. */
typedef struct vs_index_build_params {
  uint32_t M;               /* HNSW: 4..64, default 16 */
  uint32_t ef_construction; /* HNSW: 8..4096, default 200 */
  uint32_t nlist;           /* IVF: 1..65536, default 128 (capped at n) */
  uint32_t pq_m;            /* IVF_PQ: sub-quantizers, must divide dim */
  uint32_t pq_nbits;        /* IVF_PQ: 1..8 (default 8) */
  uint32_t threads;         /* build threads, 0 = the pool's size */
  uint64_t seed;            /* k-means / level generator seed; 0 = fixed */
} vs_index_build_params;

/* Search parameters; 0 means "the default". */
typedef struct vs_index_search_params {
  uint32_t ef;              /* HNSW: candidate list, default max(k, 64) */
  uint32_t nprobe;          /* IVF: lists to scan, default 8 */
  uint32_t refine_k;        /* SQ8/PQ: candidates re-ranked exactly;
                               defaults: HNSW_SQ8 max(2k, ef), IVF_SQ8
                               max(2k, 32), IVF_PQ max(4k, 64) */
  bool has_radius;          /* range search (Milvus semantics):          */
  float radius;             /*  L2: range_filter <= d < radius;          */
  bool has_range_filter;    /*  IP/COSINE: radius < d <= range_filter    */
  float range_filter;
} vs_index_search_params;

/* True when distance d passes the range bounds of p for metric m. */
static inline bool vs_index_in_range(vs_metric m, const vs_index_search_params *p, float d) {
  if (m == VS_METRIC_L2) {
    if (p->has_radius && !(d < p->radius)) return false;
    if (p->has_range_filter && !(d >= p->range_filter)) return false;
  } else {
    if (p->has_radius && !(d > p->radius)) return false;
    if (p->has_range_filter && !(d <= p->range_filter)) return false;
  }
  return true;
}

/* Counters a search adds to (for query profiles); may be NULL. */
typedef struct vs_index_stats {
  uint64_t distance_computations;
  uint64_t nodes_visited;
} vs_index_stats;

/* Build progress, readable from another thread while building. */
typedef struct vs_index_progress {
  _Atomic uint64_t done;    /* rows inserted into the structure */
  _Atomic uint64_t total;
  _Atomic int cancel;       /* nonzero aborts the build (VS_ERR_BUSY) */
} vs_index_progress;

typedef struct vs_index vs_index;

/*
 * Builds an index over vectors[0 .. n*dim).  `pool` may be NULL (single
 * thread); `progress` may be NULL.  A cancelled build returns
 * VS_ERR_BUSY with the message "index build cancelled".
 */
vs_status vs_index_build(vs_index_type type, const float *vectors, size_t n,
                         uint32_t dim, vs_metric metric,
                         const vs_index_build_params *params, vs_pool *pool,
                         vs_index_progress *progress, vs_index **out);

/* Top-k search: pushes up to k (distance, row) pairs into `out` (a vs_topk
 * of capacity k, ordered by the metric). */
vs_status vs_index_search(const vs_index *index, const float *query,
                          uint32_t k, const vs_index_search_params *params,
                          const vs_bitset *skip, vs_topk *out,
                          vs_index_stats *stats);

/* Range search: every row inside [radius, range_filter] (see above), at
 * most `limit` of the best, pushed into `out` (capacity limit).  Graph and
 * IVF indexes widen their search until the boundary is passed. */
vs_status vs_index_range_search(const vs_index *index, const float *query,
                                uint32_t limit,
                                const vs_index_search_params *params,
                                const vs_bitset *skip, vs_topk *out,
                                vs_index_stats *stats);

/* Serialises the index (not the vectors) to bytes: a versioned,
 * checksummed blob. */
vs_status vs_index_serialize(const vs_index *index, vs_buf *out);

/* Loads a serialised index for the given vectors.  The bytes are hostile:
 * sizes, counts, levels, degrees and every link are checked, and a broken
 * blob is VS_ERR_CORRUPT with a message saying what was wrong.  `data`
 * need not outlive the index (it is copied or parsed). */
vs_status vs_index_load(const void *data, size_t len, const float *vectors,
                        size_t n, uint32_t dim, vs_metric metric,
                        vs_index **out);

/* Checks the structure (graph links in range, reciprocity where the
 * algorithm guarantees it, levels, list membership covering every row
 * exactly once, ...).  VS_ERR_CORRUPT with a message on failure. */
vs_status vs_index_validate(const vs_index *index);

vs_index_type vs_index_get_type(const vs_index *index);
size_t vs_index_rows(const vs_index *index);
/* Bytes of memory the index holds (not counting the vectors). */
size_t vs_index_memory(const vs_index *index);
void vs_index_free(vs_index *index);

/* The exact oracle: brute-force top-k over the same vectors (tests and the
 * benchmark measure recall against it). */
vs_status vs_index_exact_search(const float *vectors, size_t n, uint32_t dim,
                                vs_metric metric, const float *query,
                                uint32_t k, const vs_bitset *skip,
                                vs_topk *out);

#endif /* VS_INDEX_H */
