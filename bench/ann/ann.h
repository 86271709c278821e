/*
 * ann.h -- the contract between the ANN benchmark driver (ann_main.c) and
 * each contender's glue (ann_ours.c, ann_hnswlib.cpp, ann_faiss.cpp,
 * ann_usearch.c).  Plain C so that the C++ glue can implement it with
 * extern "C".
 *
 * A contender builds one index over the base vectors (row-major float,
 * n x dim, owned by the driver and alive until the index is freed), then
 * answers top-k queries one at a time on the calling thread after
 * set_param() chose the search knob (ef for graphs, nprobe for IVF).
 */
#ifndef VS_BENCH_ANN_H
#define VS_BENCH_ANN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ann_kind { ANN_GRAPH = 0, ANN_IVF = 1 } ann_kind;

/* The fixed build settings every contender gets (the values). */
typedef struct ann_build_config {
  uint32_t M;               /* graph degree (hnswlib M; usearch connectivity) */
  uint32_t ef_construction; /* (usearch expansion_add) */
  uint32_t nlist;           /* IVF lists */
  uint32_t pq_m;            /* IVF_PQ sub-quantizers (divides dim) */
  uint32_t pq_nbits;
  uint32_t threads;         /* build threads */
} ann_build_config;

/* What build() hands back. */
typedef struct ann_built {
  void *handle;
  /* Bytes of the index as the library itself accounts them (see
   * `accounting`), and the bytes of float vectors that the index reads at
   * search time but does not count (ours read the segment's column; the
   * peers keep their own copy, so 0 for them). */
  size_t index_bytes;
  size_t vector_bytes;
  const char *accounting;
  char detail[160];         /* e.g. "skylake kernels" or the SIMD level */
} ann_built;

typedef struct ann_contender {
  const char *name;         /* "vectorstore HNSW", "hnswlib", ... */
  ann_kind kind;
  int ours;                 /* 1 for vectorstore's own indexes */
  /* Returns 0 on success; on failure writes a message into err. */
  int (*build)(const struct ann_contender *self, const float *base, size_t n,
               uint32_t dim, const ann_build_config *cfg, ann_built *out,
               char *err, size_t errlen);
  /* Sets ef (graphs) or nprobe (IVF) for the following searches. */
  void (*set_param)(void *handle, uint32_t param);
  /* Top-k of one query: writes k row numbers into ids (-1 pads).
   * Returns 0, or -1 on an error (the driver stops that contender). */
  int (*search)(void *handle, const float *query, uint32_t k, int64_t *ids);
  void (*release)(void *handle);
  int variant;              /* contender-specific (e.g. the index type) */
  /* Builds run in increasing build_rank (ties in list order).  The ranks
   * put each of ours next to the peer it is compared with, so both are
   * built under the same machine load. */
  int build_rank;
} ann_contender;

#define ANN_MAX_RANK 15

/* Each glue file lists its contenders; count via *count. */
const ann_contender *ann_ours_contenders(size_t *count);
const ann_contender *ann_hnswlib_contenders(size_t *count);
const ann_contender *ann_faiss_contenders(size_t *count);
const ann_contender *ann_usearch_contenders(size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* VS_BENCH_ANN_H */
