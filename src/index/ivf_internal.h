/*
 * ivf_internal.h -- what the IVF files of src/index/ share: k-means, the
 * IVF index object, and the helpers the build, search and I/O files have in
 * common.  Not for other layers (tests may include it).
 *
 * Files:
 *   ivf_kmeans.c  k-means (k-means++ or random init, Lloyd iterations on
 *                 the pool, empty clusters re-seeded by splitting the
 *                 largest); standalone, knows nothing about indexes
 *   ivf_build.c   params, sampling, coarse quantiser, list assignment,
 *                 SQ8 / PQ training and encoding; derived tables
 *   ivf_search.c  top-k and range search, the ops table
 *   ivf_io.c      payload format, the hostile-bytes loader, validate(),
 *                 memory accounting, free
 */
#ifndef VS_IVF_INTERNAL_H
#define VS_IVF_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index/index_internal.h"

/* ------------------------------------------------------------ constants */

#define IVF_DEFAULT_NLIST 128u
#define IVF_MAX_NLIST 65536u
#define IVF_DEFAULT_NPROBE 8u
#define IVF_MAX_NPROBE 65536u
#define IVF_MAX_REFINE 65536u
#define IVF_DEFAULT_NBITS 8u
#define IVF_MAX_NBITS 8u
/* Training sample: at most this many points per centroid (faiss's
 * max_points_per_centroid). */
#define IVF_POINTS_PER_CENTROID 256u
/* Coarse k-means Lloyd iterations (faiss's default is 10). */
#define IVF_KMEANS_ITERATIONS 10u
/* PQ sub-quantiser training: sample cap and iterations. */
#define IVF_PQ_TRAIN_MAX 16384u
#define IVF_PQ_ITERATIONS 10u
#define IVF_DEFAULT_SEED 0x5EEDC0FFEE123457ull
/* Max consecutive probed lists without a hit before a range search stops
 * widening (Milvus's max_empty_result_buckets default). */
#define IVF_MAX_EMPTY_BUCKETS 2u

/* Payload format version, see ivf_io.c for the layout and history. */
#define IVF_FORMAT_VERSION 1u

/* IVF_PQ with L2 keeps a query-independent table of nlist * m * 2^nbits
 * floats (see ivf_build.c) when it is at most this many bytes; above it the
 * per-list tables are computed at search time.  Tests lower it to cover
 * both paths; read when an index is built or loaded. */
extern size_t vs_ivf_pq_table_limit;

/* ------------------------------------------------------------- PRNG */

/* splitmix64: deterministic, seedable, good enough for sampling. */
static inline uint64_t ivf_rand_next(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (multiply-shift; bias below 2^-32 for our n). */
static inline uint64_t ivf_rand_below(uint64_t *state, uint64_t n) {
  return (uint64_t)(((unsigned __int128)ivf_rand_next(state) * n) >> 64);
}

/* Uniform double in [0, 1). */
static inline double ivf_rand_unit(uint64_t *state) {
  return (double)(ivf_rand_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static inline bool ivf_cancelled(vs_index_progress *progress) {
  return progress && atomic_load_explicit(&progress->cancel, memory_order_relaxed) != 0;
}

static inline void ivf_progress_add(vs_index_progress *progress, uint64_t units) {
  if (progress) atomic_fetch_add_explicit(&progress->done, units, memory_order_relaxed);
}

/* Column kernels over a transposed table (rows of k contiguous floats):
 * acc[j] += v * col[j] and acc[j] += (v - col[j])^2 for j < k.  Written
 * in blocks of 8 so that the compiler vectorises them at -O2 on any
 * target; they replace k short dot products (and k horizontal sums) by
 * one pass per dimension when vectors are short (PQ sub-vectors). */
static inline void ivf_col_ip(float *restrict acc, const float *restrict col, float v, size_t k) {
  size_t j = 0;
  for (; j + 8 <= k; j += 8) {
    for (size_t u = 0; u < 8; u++) acc[j + u] += v * col[j + u];
  }
  for (; j < k; j++) acc[j] += v * col[j];
}

static inline void ivf_col_l2(float *restrict acc, const float *restrict col, float v, size_t k) {
  size_t j = 0;
  for (; j + 8 <= k; j += 8) {
    for (size_t u = 0; u < 8; u++) {
      float d = v - col[j + u];
      acc[j + u] += d * d;
    }
  }
  for (; j < k; j++) {
    float d = v - col[j];
    acc[j] += d * d;
  }
}

/* ------------------------------------------------------------ k-means */

typedef struct vs_kmeans_params {
  uint32_t k;              /* clusters, 1..n */
  uint32_t iterations;     /* Lloyd iterations, 0 = 10 */
  uint64_t seed;           /* PRNG seed; 0 = a fixed constant */
  bool plusplus;           /* k-means++ seeding, else k distinct random points */
  bool spherical;          /* renormalise centroids to unit length after
                              each update (points must be unit length) */
  uint32_t threads;        /* pool threads to use, 0 = all */
  vs_index_progress *progress; /* may be NULL: done += n per iteration;
                                  cancel honoured between steps */
} vs_kmeans_params;

typedef struct vs_kmeans_stats {
  uint32_t iterations_run;  /* Lloyd iterations done (stops early when no
                               point changes cluster) */
  uint32_t empty_splits;    /* empty clusters re-seeded */
  double objective;         /* sum of squared distances of the points to
                               their centroids at the last assignment step
                               (before the last update, which can only
                               lower it) */
} vs_kmeans_stats;

/*
 * Clusters x[0 .. n*dim) into p->k centroids (written to centroids, k*dim
 * floats, caller-allocated), under squared L2.  Deterministic for a given
 * seed, whatever the pool's size.  `pool` may be NULL; `stats` may be NULL.
 * VS_ERR_INVALID if k is 0 or larger than n; VS_ERR_BUSY when cancelled.
 */
vs_status vs_kmeans_train(const float *x, size_t n, uint32_t dim, const vs_kmeans_params *p,
                          vs_pool *pool, float *centroids, vs_kmeans_stats *stats);

/*
 * For each of the n points, the nearest of the k centroids: under squared
 * L2 (ip = false; ties go to the lower centroid) or the largest inner
 * product (ip = true).  assign[i] gets the centroid, dist[i] (may be NULL)
 * the squared distance or the inner product.  Parallel on the pool.
 * VS_ERR_BUSY when cancelled (progress may be NULL); adds n to progress.
 */
vs_status vs_kmeans_assign(const float *x, size_t n, uint32_t dim, const float *centroids,
                           uint32_t k, bool ip, vs_pool *pool, uint32_t threads,
                           vs_index_progress *progress, uint32_t *assign, float *dist);

/* ------------------------------------------------------------ the index */

typedef struct ivf_index {
  vs_index_type type;
  vs_metric metric;
  uint32_t dim;
  size_t n;
  uint32_t nlist;          /* 0 only when n == 0 */
  float *centroids;        /* nlist * dim */
  uint64_t *offsets;       /* nlist + 1: list l is rows [offsets[l], offsets[l+1]) */
  uint32_t *ids;           /* n row numbers grouped by list */
  /* Per-list bound on |x - decode(x)| over its rows (SQ8, PQ), in the
   * space distances are computed in: range search uses it to know which
   * approximate distances may hide an in-range row.  Derived at build and
   * load. */
  float *list_error;       /* nlist */

  /* IVF_FLAT: the rows' vectors in list order (unit length for COSINE). */
  float *flat;             /* n * dim, 64-byte aligned */

  /* IVF_SQ8: codes in list order; per list and dimension x ~ vmin +
   * vscale * code. */
  uint8_t *sq_codes;       /* n * dim */
  float *sq_min;           /* nlist * dim */
  float *sq_scale;         /* nlist * dim */
  float *sq_norm;          /* n: sum_j (scale_j code_j)^2, derived (L2) */

  /* IVF_PQ: residuals x - centroid encoded by m sub-quantisers of ksub
   * codewords of dsub floats; one byte per code. */
  uint32_t pq_m, pq_nbits, pq_ksub, pq_dsub;
  float *pq_codebooks;     /* m * ksub * dsub */
  float *pq_columns;       /* derived: the codebooks transposed, m * dsub * ksub */
  uint8_t *pq_codes;       /* n * m, in list order */
  /* L2 only, derived: term[l][s][j] = |r_sj|^2 + 2 <c_l,s, r_sj>, or NULL
   * when over vs_ivf_pq_table_limit (then computed per query and list). */
  float *pq_term;          /* nlist * m * ksub */
} ivf_index;

/* The operations table (ivf_search.c). */
extern const vs_index_ops vs_ivf_ops;

/* ivf_build.c: tables derived from the primary data (SQ8 norms, PQ term
 * table, FLAT list copy, list error bounds), shared by build and load. */
vs_status ivf_derive(ivf_index *ivf, const float *vectors, vs_pool *pool, uint32_t threads);
/* Copies row `row` of `vectors` into out, unit length for COSINE. */
void ivf_prepare_row(const ivf_index *ivf, const float *vectors, size_t row, float *out);
/* Normalises v in place (left as is when its norm is 0). */
void ivf_normalize(float *v, uint32_t dim);
/* Decodes the row at list position pos (of list l) into out (SQ8, PQ);
 * PQ adds the centroid back. */
void ivf_decode(const ivf_index *ivf, uint32_t l, size_t pos, float *out);

/* Fills ivf->pq_columns from the codebooks (allocating it). */
vs_status ivf_pq_columns(ivf_index *ivf);

/* ivf_io.c */
vs_status ivf_check_structure(const ivf_index *ivf);
void ivf_free(void *impl);
size_t ivf_memory(const vs_index *ix);
vs_status ivf_serialize(const vs_index *ix, vs_buf *out);
vs_status ivf_validate(const vs_index *ix);

#endif /* VS_IVF_INTERNAL_H */
