/*
 * ivf_build.c -- building IVF_FLAT, IVF_SQ8 and IVF_PQ indexes.
 *
 * An IVF index partitions the rows into nlist inverted lists, one per
 * centroid of a coarse k-means quantiser; a search scores the query
 * against the centroids and scans only the nprobe best lists.
 *
 * Build, in phases (each parallel on the vs_pool, each polling cancel):
 *
 *   1. Params: nlist 1..65536 (default 128), capped at n; IVF_PQ m must
 *      divide dim (default: see default_pq_m), nbits 1..8 (default 8).
 *   2. Sample: at most 256 * nlist rows (faiss's max_points_per_centroid),
 *      drawn without replacement by a partial Fisher-Yates shuffle from
 *      the seeded PRNG.
 *   3. Coarse k-means (ivf_kmeans.c): k-means++ seeding, 10 Lloyd
 *      iterations.  L2 and IP cluster the raw vectors under L2; COSINE
 *      clusters unit vectors with unit centroids (spherical k-means).
 *   4. Assignment: every row to a list.  L2: nearest centroid.  IP and
 *      COSINE: the centroid of largest inner product (for COSINE the same
 *      list as the nearest unit centroid; for IP it is faiss's rule, and
 *      the search probes lists in the same order, so a row's own list is
 *      the first probed by a query pointing its way).  A counting sort
 *      groups row numbers by list, ascending within a list.
 *   5. Encoding:
 *      IVF_FLAT  nothing is stored but the lists: at build and load time
 *                the rows' vectors are copied in list order (unit length
 *                for COSINE) so a list is one contiguous block for the
 *                batched SIMD kernels.  Cost: n * dim * 4 bytes, as much
 *                as the vectors themselves.
 *      IVF_SQ8   per list and per dimension the min and max of the list's
 *                rows; a code is round((x - min) / (max - min) * 255).
 *                Ranges per list, not global, because a list is a small
 *                region of space: the 256 steps span the list, not the
 *                whole data set.  Cost: dim bytes per row + nlist * dim *
 *                8 bytes of ranges (+ 4 bytes per row for L2, derived).
 *      IVF_PQ    residuals x - centroid (faiss's by_residual) are split
 *                into m sub-vectors of dsub = dim / m floats; each
 *                sub-space has 2^nbits codewords trained by k-means on
 *                the residuals of at most 16384 sample rows.  A row's code
 *                is one byte per sub-space (also for nbits < 8: simpler
 *                and faster lookups, at the price of memory).
 *   6. Derived tables (ivf_derive, also run by the loader, so the payload
 *      holds only primary data): the IVF_FLAT copy, SQ8 code norms, PQ's
 *      transposed codebooks and L2 term table, and per-list reconstruction
 *      error bounds used by range search.
 *
 * Residuals for PQ, not raw vectors: the codebooks then quantise small
 * within-list offsets, which roughly halves the quantisation error for the
 * same code size; the price for L2 is a per-list lookup table, paid for by
 * a query-independent table term[l][s][j] = |r_sj|^2 + 2<c_ls, r_sj> (see
 * ivf_search.c) of nlist * m * 2^nbits floats, kept when it fits in
 * vs_ivf_pq_table_limit (64 MiB), else the per-list tables are computed
 * directly at search time.
 *
 * Progress units: nsample per coarse k-means iteration, n for the
 * assignment, m * ntrain per PQ training iteration, n for encoding; `done`
 * reaches `total` when the build returns VS_OK.
 *
 * Locking: none.  Build tasks write disjoint parts of the index under
 * construction; nothing is shared with searches until the build returns.
 * Errors inside tasks (out of memory) are recorded in an atomic flag and
 * reported from the calling thread, where the message belongs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivf_internal.h"

size_t vs_ivf_pq_table_limit = (size_t)64 << 20;

#define BUILD_CHUNK 256u

/* ------------------------------------------------------------- helpers */

void ivf_normalize(float *v, uint32_t dim) {
  double sum = 0;
  for (uint32_t j = 0; j < dim; j++) sum += (double)v[j] * v[j];
  if (!(sum > 0)) return;
  float inv = (float)(1.0 / sqrt(sum));
  for (uint32_t j = 0; j < dim; j++) v[j] *= inv;
}

void ivf_prepare_row(const ivf_index *ivf, const float *vectors, size_t row, float *out) {
  memcpy(out, vectors + row * ivf->dim, ivf->dim * sizeof(float));
  if (ivf->metric == VS_METRIC_COSINE) ivf_normalize(out, ivf->dim);
}

void ivf_decode(const ivf_index *ivf, uint32_t l, size_t pos, float *out) {
  uint32_t dim = ivf->dim;
  if (ivf->type == VS_INDEX_IVF_SQ8) {
    const uint8_t *code = ivf->sq_codes + pos * dim;
    const float *mn = ivf->sq_min + (size_t)l * dim;
    const float *sc = ivf->sq_scale + (size_t)l * dim;
    for (uint32_t j = 0; j < dim; j++) out[j] = mn[j] + sc[j] * (float)code[j];
    return;
  }
  const uint8_t *code = ivf->pq_codes + pos * ivf->pq_m;
  const float *cent = ivf->centroids + (size_t)l * dim;
  for (uint32_t s = 0; s < ivf->pq_m; s++) {
    const float *word = ivf->pq_codebooks + ((size_t)s * ivf->pq_ksub + code[s]) * ivf->pq_dsub;
    for (uint32_t j = 0; j < ivf->pq_dsub; j++) {
      size_t at = (size_t)s * ivf->pq_dsub + j;
      out[at] = cent[at] + word[j];
    }
  }
}

/* The largest divisor of dim that is at most max(1, dim / 8) and at most
 * 64: sub-vectors of 8 floats or more, at most 64 bytes of code per row. */
static uint32_t default_pq_m(uint32_t dim) {
  uint32_t cap = VS_MIN(VS_MAX(1u, dim / 8), 64u);
  for (uint32_t m = cap; m > 1; m--) {
    if (dim % m == 0) return m;
  }
  return 1;
}

static vs_status resolve_params(const vs_index *ix, const vs_index_build_params *p, ivf_index *ivf) {
  const char *name = vs_index_type_name(ix->type);
  uint32_t nlist = p->nlist ? p->nlist : IVF_DEFAULT_NLIST;
  if (nlist > IVF_MAX_NLIST) {
    return vs_fail(VS_ERR_INVALID, "%s: nlist=%u is out of range 1..%u", name, nlist, IVF_MAX_NLIST);
  }
  ivf->nlist = (uint32_t)VS_MIN((size_t)nlist, ix->n);
  if (ix->type != VS_INDEX_IVF_PQ) return VS_OK;
  uint32_t m = p->pq_m ? p->pq_m : default_pq_m(ix->dim);
  if (m > ix->dim || ix->dim % m != 0) {
    return vs_fail(VS_ERR_INVALID, "IVF_PQ: m=%u must divide the dimension %u", m, ix->dim);
  }
  uint32_t nbits = p->pq_nbits ? p->pq_nbits : IVF_DEFAULT_NBITS;
  if (nbits > IVF_MAX_NBITS) {
    return vs_fail(VS_ERR_INVALID, "IVF_PQ: nbits=%u is out of range 1..%u", nbits, IVF_MAX_NBITS);
  }
  ivf->pq_m = m;
  ivf->pq_nbits = nbits;
  ivf->pq_ksub = 1u << nbits;
  ivf->pq_dsub = ix->dim / m;
  return VS_OK;
}

/* `want` distinct rows of [0, n) in random order (all rows when want >= n). */
static vs_status pick_sample(size_t n, size_t want, uint64_t *rng, uint32_t **out) {
  uint32_t *rows = vs_malloc(n * sizeof *rows);
  if (!rows) return vs_fail(VS_ERR_NOMEM, "IVF: out of memory for the training sample");
  for (size_t i = 0; i < n; i++) rows[i] = (uint32_t)i;
  size_t take = VS_MIN(want, n);
  if (take < n) {
    for (size_t i = 0; i < take; i++) {
      size_t j = i + (size_t)ivf_rand_below(rng, n - i);
      uint32_t t = rows[i];
      rows[i] = rows[j];
      rows[j] = t;
    }
  }
  *out = rows;
  return VS_OK;
}

/* ------------------------------------------------------ build context */

typedef struct build_job {
  const vs_index *ix;
  ivf_index *ivf;
  const float *vectors;
  const uint32_t *row_list;    /* list of each row (build only) */
  const float *train;          /* PQ: residuals, ntrain x dim */
  size_t ntrain;
  uint64_t seed;
  size_t chunk;
  vs_index_progress *progress;
  atomic_int failed;           /* a task ran out of memory */
} build_job;

static vs_status job_status(build_job *job, const char *what) {
  if (ivf_cancelled(job->progress)) return vs_fail(VS_ERR_BUSY, "index build cancelled");
  if (atomic_load(&job->failed)) return vs_fail(VS_ERR_NOMEM, "IVF: out of memory while %s", what);
  return VS_OK;
}

static void run_chunks(vs_pool *pool, uint32_t threads, size_t count, vs_task_fn fn, build_job *job) {
  job->chunk = BUILD_CHUNK;
  vs_pool_run(pool, (count + BUILD_CHUNK - 1) / BUILD_CHUNK, threads, fn, job);
}

/* --------------------------------------------------------- coarse step */

static vs_status train_coarse(vs_index *ix, ivf_index *ivf, const vs_index_build_params *p,
                              vs_pool *pool, vs_index_progress *progress, const uint32_t *rows,
                              size_t nsample) {
  vs_status st = VS_OK;
  uint32_t dim = ix->dim;
  float *sample = vs_malloc(nsample * dim * sizeof(float));
  if (!sample) return vs_fail(VS_ERR_NOMEM, "IVF: out of memory for %zu sample rows", nsample);
  for (size_t i = 0; i < nsample; i++) ivf_prepare_row(ivf, ix->vectors, rows[i], sample + i * dim);
  vs_kmeans_params kp = {.k = ivf->nlist, .iterations = IVF_KMEANS_ITERATIONS,
                         .seed = p->seed ? p->seed : IVF_DEFAULT_SEED, .plusplus = true,
                         .spherical = ix->metric == VS_METRIC_COSINE, .threads = p->threads,
                         .progress = progress};
  st = vs_kmeans_train(sample, nsample, dim, &kp, pool, ivf->centroids, NULL);
  free(sample);
  return st;
}

/* Groups rows by list: offsets and ids (ascending rows within a list). */
static void bucket_rows(ivf_index *ivf, const uint32_t *row_list) {
  memset(ivf->offsets, 0, ((size_t)ivf->nlist + 1) * sizeof *ivf->offsets);
  for (size_t i = 0; i < ivf->n; i++) ivf->offsets[row_list[i] + 1]++;
  for (uint32_t l = 0; l < ivf->nlist; l++) ivf->offsets[l + 1] += ivf->offsets[l];
  uint64_t *fill = ivf->offsets; /* reused as cursors, then restored */
  for (size_t i = 0; i < ivf->n; i++) ivf->ids[fill[row_list[i]]++] = (uint32_t)i;
  for (uint32_t l = ivf->nlist; l > 0; l--) ivf->offsets[l] = ivf->offsets[l - 1];
  ivf->offsets[0] = 0;
}

/* ------------------------------------------------------------------ SQ8 */

static void sq8_encode_list(const build_job *job, uint32_t l, float *row) {
  ivf_index *ivf = job->ivf;
  uint32_t dim = ivf->dim;
  float *mn = ivf->sq_min + (size_t)l * dim;
  float *sc = ivf->sq_scale + (size_t)l * dim; /* holds the max until scaled */
  uint64_t begin = ivf->offsets[l], end = ivf->offsets[l + 1];
  for (uint32_t j = 0; j < dim; j++) {
    mn[j] = begin < end ? INFINITY : 0;
    sc[j] = begin < end ? -INFINITY : 0;
  }
  for (uint64_t pos = begin; pos < end; pos++) {
    ivf_prepare_row(ivf, job->vectors, ivf->ids[pos], row);
    for (uint32_t j = 0; j < dim; j++) {
      mn[j] = row[j] < mn[j] ? row[j] : mn[j];
      sc[j] = row[j] > sc[j] ? row[j] : sc[j];
    }
  }
  for (uint32_t j = 0; j < dim; j++) sc[j] = (sc[j] - mn[j]) / 255.0f;
  for (uint64_t pos = begin; pos < end; pos++) {
    ivf_prepare_row(ivf, job->vectors, ivf->ids[pos], row);
    uint8_t *code = ivf->sq_codes + pos * dim;
    for (uint32_t j = 0; j < dim; j++) {
      float q = sc[j] > 0 ? (row[j] - mn[j]) / sc[j] : 0;
      code[j] = q <= 0 ? 0 : q >= 255 ? 255 : (uint8_t)lrintf(q);
    }
  }
}

static void sq8_list_task(void *arg, size_t l) {
  build_job *job = arg;
  if (ivf_cancelled(job->progress)) return;
  float *row = malloc(job->ivf->dim * sizeof *row);
  if (!row) {
    atomic_store(&job->failed, 1);
    return;
  }
  sq8_encode_list(job, (uint32_t)l, row);
  free(row);
  ivf_progress_add(job->progress, job->ivf->offsets[l + 1] - job->ivf->offsets[l]);
}

/* ------------------------------------------------------------------- PQ */

vs_status ivf_pq_columns(ivf_index *ivf) {
  size_t ksub = ivf->pq_ksub, dsub = ivf->pq_dsub;
  free(ivf->pq_columns);
  ivf->pq_columns = vs_malloc(ksub * ivf->dim * sizeof(float));
  if (!ivf->pq_columns) return vs_fail(VS_ERR_NOMEM, "IVF_PQ: out of memory for the codebook columns");
  for (size_t s = 0; s < ivf->pq_m; s++) {
    const float *book = ivf->pq_codebooks + s * ksub * dsub;
    float *cols = ivf->pq_columns + s * dsub * ksub;
    for (size_t j = 0; j < ksub; j++) {
      for (size_t t = 0; t < dsub; t++) cols[t * ksub + j] = book[j * dsub + t];
    }
  }
  return VS_OK;
}

/* Nearest of the ksub codewords of sub-space s to sub-vector v; dist is
 * ksub floats of scratch. */
static uint8_t pq_nearest(const ivf_index *ivf, uint32_t s, const float *v, float *dist) {
  size_t ksub = ivf->pq_ksub;
  const float *cols = ivf->pq_columns + (size_t)s * ivf->pq_dsub * ksub;
  memset(dist, 0, ksub * sizeof *dist);
  for (uint32_t t = 0; t < ivf->pq_dsub; t++) ivf_col_l2(dist, cols + t * ksub, v[t], ksub);
  uint32_t best = 0;
  for (uint32_t j = 1; j < ksub; j++) {
    if (dist[j] < dist[best]) best = j;
  }
  return (uint8_t)best;
}

static void pq_train_task(void *arg, size_t s) {
  build_job *job = arg;
  ivf_index *ivf = job->ivf;
  uint32_t dsub = ivf->pq_dsub;
  if (ivf_cancelled(job->progress)) return;
  float *buf = malloc(job->ntrain * dsub * sizeof *buf);
  if (!buf) {
    atomic_store(&job->failed, 1);
    return;
  }
  for (size_t i = 0; i < job->ntrain; i++) {
    memcpy(buf + i * dsub, job->train + i * ivf->dim + s * dsub, dsub * sizeof *buf);
  }
  float *book = ivf->pq_codebooks + s * ivf->pq_ksub * dsub;
  uint32_t k = (uint32_t)VS_MIN((size_t)ivf->pq_ksub, job->ntrain);
  vs_kmeans_params kp = {.k = k, .iterations = IVF_PQ_ITERATIONS, .seed = job->seed + s,
                         .plusplus = true, .progress = job->progress};
  vs_status st = vs_kmeans_train(buf, job->ntrain, dsub, &kp, NULL, book, NULL);
  if (st == VS_ERR_NOMEM) atomic_store(&job->failed, 1);
  /* Unused codewords repeat codeword 0, so the encoder never picks them. */
  for (uint32_t j = k; st == VS_OK && j < ivf->pq_ksub; j++) memcpy(book + (size_t)j * dsub, book, dsub * sizeof *book);
  free(buf);
}

static void pq_encode_task(void *arg, size_t task) {
  build_job *job = arg;
  ivf_index *ivf = job->ivf;
  uint64_t begin = task * job->chunk, end = VS_MIN((uint64_t)ivf->n, begin + job->chunk);
  if (ivf_cancelled(job->progress)) return;
  float *res = malloc((ivf->dim + ivf->pq_ksub) * sizeof *res);
  if (!res) {
    atomic_store(&job->failed, 1);
    return;
  }
  for (uint64_t pos = begin; pos < end; pos++) {
    uint32_t row = ivf->ids[pos];
    const float *cent = ivf->centroids + (size_t)job->row_list[row] * ivf->dim;
    ivf_prepare_row(ivf, job->vectors, row, res);
    for (uint32_t j = 0; j < ivf->dim; j++) res[j] -= cent[j];
    for (uint32_t s = 0; s < ivf->pq_m; s++) {
      ivf->pq_codes[pos * ivf->pq_m + s] = pq_nearest(ivf, s, res + (size_t)s * ivf->pq_dsub, res + ivf->dim);
    }
  }
  free(res);
  ivf_progress_add(job->progress, end - begin);
}

static vs_status pq_train(build_job *job, const uint32_t *rows, size_t ntrain, vs_pool *pool,
                          uint32_t threads) {
  ivf_index *ivf = job->ivf;
  float *train = vs_malloc(ntrain * ivf->dim * sizeof(float));
  if (!train) return vs_fail(VS_ERR_NOMEM, "IVF_PQ: out of memory for %zu training rows", ntrain);
  for (size_t i = 0; i < ntrain; i++) {
    float *r = train + i * ivf->dim;
    const float *cent = ivf->centroids + (size_t)job->row_list[rows[i]] * ivf->dim;
    ivf_prepare_row(ivf, job->vectors, rows[i], r);
    for (uint32_t j = 0; j < ivf->dim; j++) r[j] -= cent[j];
  }
  job->train = train;
  job->ntrain = ntrain;
  vs_pool_run(pool, ivf->pq_m, threads, pq_train_task, job);
  free(train);
  job->train = NULL;
  vs_status st = job_status(job, "training the PQ codebooks");
  return st == VS_OK ? ivf_pq_columns(ivf) : st;
}

/* ------------------------------------------------------ derived tables */

static void flat_copy_task(void *arg, size_t task) {
  build_job *job = arg;
  ivf_index *ivf = job->ivf;
  uint64_t begin = task * job->chunk, end = VS_MIN((uint64_t)ivf->n, begin + job->chunk);
  for (uint64_t pos = begin; pos < end; pos++) {
    ivf_prepare_row(ivf, job->vectors, ivf->ids[pos], ivf->flat + pos * ivf->dim);
  }
}

/* SQ8 code norms (L2) and the list's reconstruction error bound. */
static void list_error_task(void *arg, size_t l) {
  build_job *job = arg;
  ivf_index *ivf = job->ivf;
  uint32_t dim = ivf->dim;
  float *buf = malloc(2 * (size_t)dim * sizeof *buf);
  if (!buf) {
    atomic_store(&job->failed, 1);
    return;
  }
  double worst = 0;
  for (uint64_t pos = ivf->offsets[l]; pos < ivf->offsets[l + 1]; pos++) {
    ivf_prepare_row(ivf, job->vectors, ivf->ids[pos], buf);
    ivf_decode(ivf, (uint32_t)l, pos, buf + dim);
    double err = 0;
    for (uint32_t j = 0; j < dim; j++) err += ((double)buf[j] - buf[dim + j]) * ((double)buf[j] - buf[dim + j]);
    worst = err > worst ? err : worst;
    if (ivf->sq_norm) {
      const float *sc = ivf->sq_scale + l * dim;
      const uint8_t *code = ivf->sq_codes + pos * dim;
      double norm = 0;
      for (uint32_t j = 0; j < dim; j++) norm += (double)(sc[j] * code[j]) * (sc[j] * code[j]);
      ivf->sq_norm[pos] = (float)norm;
    }
  }
  ivf->list_error[l] = (float)sqrt(worst);
  free(buf);
}

/* term[l][s][j] = |r_sj|^2 + 2 <c_l,s, r_sj> */
static void pq_term_task(void *arg, size_t l) {
  build_job *job = arg;
  ivf_index *ivf = job->ivf;
  const float *cent = ivf->centroids + l * ivf->dim;
  float *term = ivf->pq_term + l * ivf->pq_m * ivf->pq_ksub;
  for (uint32_t s = 0; s < ivf->pq_m; s++) {
    for (uint32_t j = 0; j < ivf->pq_ksub; j++) {
      const float *word = ivf->pq_codebooks + ((size_t)s * ivf->pq_ksub + j) * ivf->pq_dsub;
      const float *c = cent + (size_t)s * ivf->pq_dsub;
      float acc = 0;
      for (uint32_t t = 0; t < ivf->pq_dsub; t++) acc += word[t] * word[t] + 2 * c[t] * word[t];
      term[(size_t)s * ivf->pq_ksub + j] = acc;
    }
  }
}

static vs_status derive_alloc(ivf_index *ivf) {
  size_t bytes = 0;
  if (ivf->type == VS_INDEX_IVF_FLAT) {
    if (!vs_mul_ok(ivf->n, (size_t)ivf->dim * sizeof(float), &bytes)) return vs_fail(VS_ERR_NOMEM, "IVF_FLAT: list copy too large");
    ivf->flat = vs_aligned_alloc(64, bytes ? bytes : 64);
    return ivf->flat ? VS_OK : vs_fail(VS_ERR_NOMEM, "IVF_FLAT: out of memory for the list copy (%zu bytes)", bytes);
  }
  ivf->list_error = vs_calloc(ivf->nlist ? ivf->nlist : 1, sizeof(float));
  if (!ivf->list_error) return vs_fail(VS_ERR_NOMEM, "IVF: out of memory for list bounds");
  if (ivf->type == VS_INDEX_IVF_SQ8 && ivf->metric == VS_METRIC_L2) {
    ivf->sq_norm = vs_calloc(ivf->n ? ivf->n : 1, sizeof(float));
    if (!ivf->sq_norm) return vs_fail(VS_ERR_NOMEM, "IVF_SQ8: out of memory for code norms");
  }
  size_t cells = 0;
  if (ivf->type == VS_INDEX_IVF_PQ && ivf->metric == VS_METRIC_L2 &&
      vs_mul_ok((size_t)ivf->nlist * ivf->pq_m, (size_t)ivf->pq_ksub * sizeof(float), &cells) &&
      cells <= vs_ivf_pq_table_limit && cells > 0) {
    ivf->pq_term = vs_malloc(cells);
    if (!ivf->pq_term) return vs_fail(VS_ERR_NOMEM, "IVF_PQ: out of memory for the L2 term table");
  }
  return VS_OK;
}

vs_status ivf_derive(ivf_index *ivf, const float *vectors, vs_pool *pool, uint32_t threads) {
  build_job job = {.ivf = ivf, .vectors = vectors};
  atomic_init(&job.failed, 0);
  vs_status st = derive_alloc(ivf);
  if (st != VS_OK) return st;
  if (ivf->type == VS_INDEX_IVF_FLAT) {
    run_chunks(pool, threads, ivf->n, flat_copy_task, &job);
    return VS_OK;
  }
  if (ivf->type == VS_INDEX_IVF_PQ && !ivf->pq_columns) {
    st = ivf_pq_columns(ivf);
    if (st != VS_OK) return st;
  }
  vs_pool_run(pool, ivf->nlist, threads, list_error_task, &job);
  if (ivf->pq_term) vs_pool_run(pool, ivf->nlist, threads, pq_term_task, &job);
  return job_status(&job, "deriving the search tables");
}

/* --------------------------------------------------------------- build */

static vs_status alloc_primary(ivf_index *ivf) {
  size_t nlist = ivf->nlist, n = ivf->n, dim = ivf->dim;
  ivf->centroids = vs_calloc(nlist ? nlist * dim : 1, sizeof(float));
  ivf->offsets = vs_calloc(nlist + 1, sizeof(uint64_t));
  ivf->ids = vs_calloc(n ? n : 1, sizeof(uint32_t));
  bool ok = ivf->centroids && ivf->offsets && ivf->ids;
  if (ivf->type == VS_INDEX_IVF_SQ8) {
    ivf->sq_codes = vs_calloc(n ? n : 1, dim);
    ivf->sq_min = vs_calloc(nlist ? nlist * dim : 1, sizeof(float));
    ivf->sq_scale = vs_calloc(nlist ? nlist * dim : 1, sizeof(float));
    ok = ok && ivf->sq_codes && ivf->sq_min && ivf->sq_scale;
  } else if (ivf->type == VS_INDEX_IVF_PQ) {
    ivf->pq_codebooks = vs_calloc((size_t)ivf->pq_m * ivf->pq_ksub, ivf->pq_dsub * sizeof(float));
    ivf->pq_codes = vs_calloc(n ? n : 1, ivf->pq_m);
    ok = ok && ivf->pq_codebooks && ivf->pq_codes;
  }
  return ok ? VS_OK : vs_fail(VS_ERR_NOMEM, "%s: out of memory for %zu rows x %zu dims",
                              vs_index_type_name(ivf->type), n, dim);
}

static void plan_progress(const ivf_index *ivf, size_t nsample, size_t ntrain, vs_index_progress *progress) {
  if (!progress) return;
  uint64_t total = (uint64_t)nsample * IVF_KMEANS_ITERATIONS + ivf->n;
  if (ivf->type != VS_INDEX_IVF_FLAT) total += ivf->n;
  if (ivf->type == VS_INDEX_IVF_PQ) total += (uint64_t)ivf->pq_m * ntrain * IVF_PQ_ITERATIONS;
  atomic_store(&progress->total, total);
  atomic_store(&progress->done, 0);
}

static void mark_progress(vs_index_progress *progress, uint64_t done) {
  if (progress) atomic_store(&progress->done, done);
}

/* Phases 3-5 of the essay on an allocated index with nlist >= 1. */
static vs_status build_lists(vs_index *ix, ivf_index *ivf, const vs_index_build_params *p,
                             vs_pool *pool, vs_index_progress *progress, uint32_t *row_list) {
  uint64_t rng = p->seed ? p->seed : IVF_DEFAULT_SEED;
  size_t nsample = VS_MIN(ix->n, (size_t)ivf->nlist * IVF_POINTS_PER_CENTROID);
  size_t ntrain = VS_MIN(nsample, (size_t)IVF_PQ_TRAIN_MAX);
  uint32_t *rows = NULL;
  build_job job = {.ix = ix, .ivf = ivf, .vectors = ix->vectors, .row_list = row_list,
                   .seed = rng, .progress = progress};
  atomic_init(&job.failed, 0);
  plan_progress(ivf, nsample, ntrain, progress);
  vs_status st = pick_sample(ix->n, nsample, &rng, &rows);
  if (st == VS_OK) st = train_coarse(ix, ivf, p, pool, progress, rows, nsample);
  mark_progress(progress, (uint64_t)nsample * IVF_KMEANS_ITERATIONS);
  bool ip = ix->metric != VS_METRIC_L2;
  if (st == VS_OK) st = vs_kmeans_assign(ix->vectors, ix->n, ix->dim, ivf->centroids, ivf->nlist, ip,
                                         pool, p->threads, progress, row_list, NULL);
  if (st == VS_OK) bucket_rows(ivf, row_list);
  if (st == VS_OK && ivf->type == VS_INDEX_IVF_PQ) st = pq_train(&job, rows, ntrain, pool, p->threads);
  if (st == VS_OK && ivf->type == VS_INDEX_IVF_SQ8) {
    vs_pool_run(pool, ivf->nlist, p->threads, sq8_list_task, &job);
    st = job_status(&job, "encoding SQ8 codes");
  } else if (st == VS_OK && ivf->type == VS_INDEX_IVF_PQ) {
    run_chunks(pool, p->threads, ix->n, pq_encode_task, &job);
    st = job_status(&job, "encoding PQ codes");
  }
  free(rows);
  return st;
}

vs_status vs_ivf_build(vs_index *ix, const vs_index_build_params *p, vs_pool *pool,
                       vs_index_progress *progress) {
  uint32_t *row_list = NULL;
  ivf_index *ivf = vs_calloc(1, sizeof *ivf);
  if (!ivf) return vs_fail(VS_ERR_NOMEM, "IVF: out of memory");
  ivf->type = ix->type;
  ivf->metric = ix->metric;
  ivf->dim = ix->dim;
  ivf->n = ix->n;
  ix->ops = &vs_ivf_ops; /* from here index.c frees ivf on failure */
  ix->impl = ivf;
  vs_status st = resolve_params(ix, p, ivf);
  if (st == VS_OK) st = alloc_primary(ivf);
  if (st == VS_OK && ix->n > 0) {
    row_list = vs_malloc(ix->n * sizeof *row_list);
    st = row_list ? VS_OK : vs_fail(VS_ERR_NOMEM, "IVF: out of memory for %zu row assignments", ix->n);
    if (st == VS_OK) st = build_lists(ix, ivf, p, pool, progress, row_list);
  }
  if (st == VS_OK && ivf_cancelled(progress)) st = vs_fail(VS_ERR_BUSY, "index build cancelled");
  if (st == VS_OK) st = ivf_derive(ivf, ix->vectors, pool, p->threads);
  if (st == VS_OK && progress) atomic_store(&progress->done, atomic_load(&progress->total));
  free(row_list);
  return st;
}
