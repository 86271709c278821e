/*
 * ivf_kmeans.c -- k-means clustering, the trainer behind the IVF coarse
 * quantiser and the PQ sub-quantisers.  Standalone: it knows points,
 * centroids and a thread pool, nothing about indexes.
 *
 * Algorithm (Lloyd, as faiss's Clustering does it):
 *
 *   1. Seeding.  k-means++ (D^2 sampling: each next centroid is a point
 *      drawn with probability proportional to its squared distance to the
 *      nearest centroid so far) or k distinct points drawn uniformly.  The
 *      PRNG is splitmix64 seeded by the caller, so a seed gives the same
 *      centroids on every run.
 *   2. Assignment.  Every point to its nearest centroid (squared L2, ties
 *      to the lower centroid), in chunks of rows run on the vs_pool; each
 *      chunk writes only its own slots, so the result does not depend on
 *      the number of threads or the order chunks run in.
 *   3. Empty clusters.  An empty cluster is re-seeded by splitting the
 *      largest one: the largest cluster's point farthest from its centroid
 *      moves to the empty cluster and becomes its centroid.  Deterministic
 *      (largest = lowest index among equals; farthest = lowest row among
 *      equals).  When every point of the largest cluster sits on its
 *      centroid the split yields a duplicate centroid, which is harmless.
 *   4. Update.  Each centroid becomes the mean of its points, summed in
 *      double precision in row order (sequential and therefore
 *      deterministic; it costs n*dim, k times less than an assignment).
 *      Spherical mode renormalises centroids to unit length (for COSINE,
 *      where the points are unit vectors too).
 *   5. Repeat 2-4 for the given iterations, stopping early once no point
 *      changes cluster.
 *
 * Invariants: k <= n; after training every centroid is finite (it is a
 * mean of finite points, a point, or -- in spherical mode -- one scaled by
 * a finite positive factor).  Non-finite input points are the caller's
 * problem (the engine validates vectors on insert).
 *
 * Locking: none; the tasks share read-only inputs and write disjoint
 * slices of the outputs.  Cancellation is polled per chunk and between
 * steps through vs_index_progress.cancel.
 *
 * Short vectors (PQ sub-vectors, dim < 32) are assigned over the
 * transposed centroids, one vectorised pass per dimension (ivf_col_*), which
 * avoids k horizontal sums per point; long ones use the SIMD batch kernels.
 *
 * Alternatives rejected: the GEMM formulation of the assignment (|x|^2 +
 * |c|^2 - 2 X C^T) needs a BLAS we do not link, and loses precision for
 * near points; mini-batch k-means converges to worse centroids for the
 * same time at our sample sizes (<= 256 points per centroid); a parallel
 * update step with per-thread partial sums makes the float sums depend on
 * the thread count, i.e. non-deterministic centroids.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivf_internal.h"

/* Work per task: about this many multiply-adds, so small jobs run inline
 * and large ones split into enough tasks to balance. */
#define KMEANS_TASK_FLOPS (1u << 20)
#define KMEANS_MAX_CHUNK 4096u
/* Below this dimension the assignment runs over the transposed centroids
 * (ivf_col_*: one vectorised pass per dimension) instead of k short dot
 * products, each ending in a horizontal sum. */
#define KMEANS_COLUMN_DIM 32u

typedef struct assign_job {
  const float *x;
  size_t n;
  uint32_t dim;
  const float *centroids;
  const float *columns;    /* centroids transposed (dim x k), or NULL */
  uint32_t k;
  bool ip;
  size_t chunk;
  uint32_t *assign;
  float *dist;
  vs_index_progress *progress;
  atomic_int failed;       /* a task could not allocate its scratch */
} assign_job;

static size_t chunk_rows(uint32_t k, uint32_t dim) {
  size_t per_row = (size_t)k * dim + 1;
  size_t rows = KMEANS_TASK_FLOPS / per_row;
  if (rows < 16) rows = 16;
  if (rows > KMEANS_MAX_CHUNK) rows = KMEANS_MAX_CHUNK;
  return rows;
}

/* Index of the best of buf[0..k): smallest, or largest when ip. */
static uint32_t best_of(const float *buf, uint32_t k, bool ip) {
  uint32_t best = 0;
  for (uint32_t c = 1; c < k; c++) {
    if (ip ? buf[c] > buf[best] : buf[c] < buf[best]) best = c;
  }
  return best;
}

static void assign_task(void *arg, size_t task) {
  assign_job *job = arg;
  size_t begin = task * job->chunk;
  size_t end = VS_MIN(job->n, begin + job->chunk);
  if (ivf_cancelled(job->progress)) return;
  float *buf = malloc((size_t)job->k * sizeof *buf);
  if (!buf) {
    atomic_store(&job->failed, 1);
    return;
  }
  const vs_simd_kernels *kern = vs_simd();
  for (size_t i = begin; i < end; i++) {
    const float *xi = job->x + i * job->dim;
    if (job->columns) {
      memset(buf, 0, (size_t)job->k * sizeof *buf);
      for (uint32_t t = 0; t < job->dim; t++) {
        const float *col = job->columns + (size_t)t * job->k;
        if (job->ip) {
          ivf_col_ip(buf, col, xi[t], job->k);
        } else {
          ivf_col_l2(buf, col, xi[t], job->k);
        }
      }
    } else if (job->ip) {
      kern->ip_batch(xi, job->centroids, job->k, job->dim, buf);
    } else {
      kern->l2sq_batch(xi, job->centroids, job->k, job->dim, buf);
    }
    uint32_t best = best_of(buf, job->k, job->ip);
    job->assign[i] = best;
    if (job->dist) job->dist[i] = buf[best];
  }
  free(buf);
  ivf_progress_add(job->progress, end - begin);
}

vs_status vs_kmeans_assign(const float *x, size_t n, uint32_t dim, const float *centroids,
                           uint32_t k, bool ip, vs_pool *pool, uint32_t threads,
                           vs_index_progress *progress, uint32_t *assign, float *dist) {
  if (k == 0) return vs_fail(VS_ERR_INVALID, "k-means: no centroids to assign to");
  assign_job job = {.x = x, .n = n, .dim = dim, .centroids = centroids, .k = k, .ip = ip,
                    .chunk = chunk_rows(k, dim), .assign = assign, .dist = dist,
                    .progress = progress};
  atomic_init(&job.failed, 0);
  float *columns = NULL;
  if (dim < KMEANS_COLUMN_DIM) {
    columns = vs_malloc((size_t)k * dim * sizeof *columns);
    if (!columns) return vs_fail(VS_ERR_NOMEM, "k-means: out of memory for %u centroids", k);
    for (uint32_t c = 0; c < k; c++) {
      for (uint32_t t = 0; t < dim; t++) columns[(size_t)t * k + c] = centroids[(size_t)c * dim + t];
    }
    job.columns = columns;
  }
  size_t tasks = (n + job.chunk - 1) / job.chunk;
  vs_pool_run(pool, tasks, threads, assign_task, &job);
  free(columns);
  if (ivf_cancelled(progress)) return vs_fail(VS_ERR_BUSY, "index build cancelled");
  if (atomic_load(&job.failed)) return vs_fail(VS_ERR_NOMEM, "k-means: out of memory in assignment");
  return VS_OK;
}

/* ------------------------------------------------------------- seeding */

static void seed_random(const float *x, size_t n, uint32_t dim, uint32_t k, uint64_t *rng,
                        uint32_t *perm, float *centroids) {
  for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
  for (uint32_t c = 0; c < k; c++) {
    size_t j = c + (size_t)ivf_rand_below(rng, n - c);
    uint32_t t = perm[c];
    perm[c] = perm[j];
    perm[j] = t;
    memcpy(centroids + (size_t)c * dim, x + (size_t)perm[c] * dim, dim * sizeof(float));
  }
}

typedef struct mindist_job {
  const float *x;
  size_t n;
  uint32_t dim;
  const float *centroid;
  size_t chunk;
  float *mind;
} mindist_job;

static void mindist_task(void *arg, size_t task) {
  mindist_job *job = arg;
  size_t begin = task * job->chunk;
  size_t end = VS_MIN(job->n, begin + job->chunk);
  const vs_simd_kernels *kern = vs_simd();
  for (size_t i = begin; i < end; i++) {
    float d = kern->l2sq(job->x + i * job->dim, job->centroid, job->dim);
    if (d < job->mind[i]) job->mind[i] = d;
  }
}

/* Draws a row with probability mind[i] / total (uniform when total is 0). */
static size_t draw_weighted(const float *mind, size_t n, uint64_t *rng) {
  double total = 0;
  for (size_t i = 0; i < n; i++) total += mind[i];
  if (!(total > 0)) return (size_t)ivf_rand_below(rng, n);
  double target = ivf_rand_unit(rng) * total;
  double acc = 0;
  size_t last_positive = 0;
  for (size_t i = 0; i < n; i++) {
    if (mind[i] <= 0) continue;
    acc += mind[i];
    last_positive = i;
    if (acc > target) return i;
  }
  return last_positive; /* rounding left target just past the sum */
}

static vs_status seed_plusplus(const float *x, size_t n, uint32_t dim, const vs_kmeans_params *p,
                               vs_pool *pool, uint64_t *rng, float *mind, float *centroids) {
  size_t first = (size_t)ivf_rand_below(rng, n);
  memcpy(centroids, x + first * dim, dim * sizeof(float));
  mindist_job job = {.x = x, .n = n, .dim = dim, .chunk = chunk_rows(1, dim), .mind = mind};
  size_t tasks = (n + job.chunk - 1) / job.chunk;
  for (size_t i = 0; i < n; i++) mind[i] = INFINITY;
  for (uint32_t c = 0; c < p->k; c++) {
    if (c > 0) {
      size_t row = draw_weighted(mind, n, rng);
      memcpy(centroids + (size_t)c * dim, x + row * dim, dim * sizeof(float));
    }
    job.centroid = centroids + (size_t)c * dim;
    vs_pool_run(pool, tasks, p->threads, mindist_task, &job);
    if (ivf_cancelled(p->progress)) return vs_fail(VS_ERR_BUSY, "index build cancelled");
  }
  return VS_OK;
}

/* -------------------------------------------------------- Lloyd steps */

/* The working state of one training run. */
typedef struct kmeans_state {
  const float *x;
  size_t n;
  uint32_t dim;
  const vs_kmeans_params *p;
  vs_pool *pool;
  uint32_t *assign;  /* n: current cluster of each point */
  uint32_t *prev;    /* n: cluster at the previous step (seeding scratch) */
  float *dist;       /* n: squared distance to the assigned centroid */
  size_t *counts;    /* k */
  double *sums;      /* k * dim */
  float *centroids;  /* k * dim, the caller's */
} kmeans_state;

/* Re-seeds every empty cluster by splitting the largest (see the essay). */
static uint32_t split_empty(kmeans_state *s) {
  uint32_t k = s->p->k, splits = 0;
  for (uint32_t e = 0; e < k; e++) {
    if (s->counts[e] != 0) continue;
    uint32_t big = 0;
    for (uint32_t c = 1; c < k; c++) {
      if (s->counts[c] > s->counts[big]) big = c;
    }
    if (s->counts[big] < 2) break; /* impossible while k <= n; defensive */
    size_t far = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
      if (s->assign[i] == big && (far == SIZE_MAX || s->dist[i] > s->dist[far])) far = i;
    }
    s->assign[far] = e;
    s->dist[far] = 0;
    s->counts[big]--;
    s->counts[e] = 1;
    memcpy(s->centroids + (size_t)e * s->dim, s->x + far * s->dim, s->dim * sizeof(float));
    splits++;
  }
  return splits;
}

static void update_centroids(kmeans_state *s) {
  uint32_t dim = s->dim;
  memset(s->sums, 0, (size_t)s->p->k * dim * sizeof *s->sums);
  for (size_t i = 0; i < s->n; i++) {
    double *sum = s->sums + (size_t)s->assign[i] * dim;
    const float *xi = s->x + i * dim;
    for (uint32_t j = 0; j < dim; j++) sum[j] += xi[j];
  }
  for (uint32_t c = 0; c < s->p->k; c++) {
    if (s->counts[c] == 0) continue; /* keeps its previous centroid */
    float *cent = s->centroids + (size_t)c * dim;
    const double *sum = s->sums + (size_t)c * dim;
    for (uint32_t j = 0; j < dim; j++) cent[j] = (float)(sum[j] / (double)s->counts[c]);
    if (s->p->spherical) ivf_normalize(cent, dim);
  }
}

static vs_status check_kmeans_args(const float *x, size_t n, uint32_t dim, const vs_kmeans_params *p,
                                   const float *centroids) {
  if (!p || !centroids || (n > 0 && !x)) return vs_fail(VS_ERR_INVALID, "k-means: NULL argument");
  if (dim == 0) return vs_fail(VS_ERR_INVALID, "k-means: dimension is 0");
  if (p->k == 0 || p->k > n) {
    return vs_fail(VS_ERR_INVALID, "k-means: k=%u must be 1..n (n=%zu points)", p->k, n);
  }
  if (n > UINT32_MAX) return vs_fail(VS_ERR_LIMIT, "k-means: %zu points is too many", n);
  return VS_OK;
}

/* Runs the Lloyd loop on seeded centroids. */
static vs_status lloyd(kmeans_state *s, vs_kmeans_stats *st) {
  const vs_kmeans_params *p = s->p;
  uint32_t iterations = p->iterations ? p->iterations : 10;
  for (size_t i = 0; i < s->n; i++) s->prev[i] = UINT32_MAX;
  for (uint32_t it = 0; it < iterations; it++) {
    vs_status status = vs_kmeans_assign(s->x, s->n, s->dim, s->centroids, p->k, false, s->pool, p->threads,
                                        p->progress, s->assign, s->dist);
    if (status != VS_OK) return status;
    size_t changed = 0;
    st->objective = 0;
    for (size_t i = 0; i < s->n; i++) {
      changed += s->assign[i] != s->prev[i];
      st->objective += s->dist[i];
    }
    if (it > 0 && changed == 0) break;
    memset(s->counts, 0, (size_t)p->k * sizeof *s->counts);
    for (size_t i = 0; i < s->n; i++) s->counts[s->assign[i]]++;
    st->empty_splits += split_empty(s);
    memcpy(s->prev, s->assign, s->n * sizeof *s->assign);
    update_centroids(s);
    st->iterations_run++;
  }
  return VS_OK;
}

vs_status vs_kmeans_train(const float *x, size_t n, uint32_t dim, const vs_kmeans_params *p,
                          vs_pool *pool, float *centroids, vs_kmeans_stats *stats) {
  vs_status st = check_kmeans_args(x, n, dim, p, centroids);
  if (st != VS_OK) return st;
  vs_kmeans_stats local = {0};
  uint64_t rng = p->seed ? p->seed : IVF_DEFAULT_SEED;
  kmeans_state s = {.x = x, .n = n, .dim = dim, .p = p, .pool = pool, .centroids = centroids};
  s.assign = vs_malloc(n * sizeof *s.assign);
  s.prev = vs_malloc(n * sizeof *s.prev);
  s.dist = vs_malloc(n * sizeof *s.dist);
  s.counts = vs_malloc((size_t)p->k * sizeof *s.counts);
  s.sums = vs_calloc((size_t)p->k * dim, sizeof *s.sums);
  if (!s.assign || !s.prev || !s.dist || !s.counts || !s.sums) {
    st = vs_fail(VS_ERR_NOMEM, "k-means: out of memory for %zu points, k=%u", n, p->k);
    goto done;
  }
  if (p->plusplus) {
    st = seed_plusplus(x, n, dim, p, pool, &rng, s.dist, centroids);
  } else {
    seed_random(x, n, dim, p->k, &rng, s.prev, centroids);
  }
  if (st != VS_OK) goto done;
  if (p->spherical) {
    for (uint32_t c = 0; c < p->k; c++) ivf_normalize(centroids + (size_t)c * dim, dim);
  }
  st = lloyd(&s, &local);
  if (st == VS_OK && stats) *stats = local;
done:
  free(s.assign);
  free(s.prev);
  free(s.dist);
  free(s.counts);
  free(s.sums);
  return st;
}
