/*
 * ann_usearch.c -- usearch through its C API (c/usearch.h) as an ANN
 * benchmark contender.  The C API (c/lib.cpp) and NumKong, its SIMD
 * kernel library, come from the npm package `usearch` (pinned in
 * package-lock.json) and are compiled -O3 -march=native into the
 * benchmark (see Makefile); NumKong picks its kernels at run time.
 *
 * Build: f32 vectors, L2 squared, connectivity = M, expansion_add =
 * efConstruction (usearch's base layer holds 2 x connectivity links, like
 * hnswlib's maxM0 = 2M).  `threads` pthreads add rows pulled from an
 * atomic counter after usearch_reserve and usearch_change_threads_add.
 * Search: expansion_search = ef, usearch_search(q, k).
 *
 * Memory: usearch_memory_usage (its own accounting; it stores the
 * vectors, so vector_bytes is 0).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ann.h"
#include "usearch.h"

typedef struct add_job {
  usearch_index_t index;
  const float *base;
  size_t n;
  uint32_t dim;
  atomic_size_t next;
  atomic_int failed;
  usearch_error_t error;
} add_job;

static void *add_rows(void *arg) {
  add_job *job = arg;
  for (;;) {
    size_t row = atomic_fetch_add(&job->next, 1);
    if (row >= job->n || atomic_load(&job->failed)) return NULL;
    usearch_error_t error = NULL;
    usearch_add(job->index, (usearch_key_t)row, job->base + row * job->dim, usearch_scalar_f32_k, &error);
    if (error) {
      job->error = error;
      atomic_store(&job->failed, 1);
    }
  }
}

static usearch_index_t new_index(uint32_t dim, const ann_build_config *cfg, size_t n, usearch_error_t *error) {
  usearch_init_options_t opt;
  memset(&opt, 0, sizeof opt);
  opt.metric_kind = usearch_metric_l2sq_k;
  opt.quantization = usearch_scalar_f32_k;
  opt.dimensions = dim;
  opt.connectivity = cfg->M;
  opt.expansion_add = cfg->ef_construction;
  opt.expansion_search = 64;
  usearch_index_t index = usearch_init(&opt, error);
  if (*error) return index;
  usearch_reserve(index, n, error);
  if (*error) return index;
  usearch_change_threads_add(index, cfg->threads, error);
  if (*error) return index;
  usearch_change_threads_search(index, 1, error);
  return index;
}

static int usearch_build(const ann_contender *self, const float *base, size_t n, uint32_t dim,
                         const ann_build_config *cfg, ann_built *out, char *err, size_t errlen) {
  usearch_error_t error = NULL;
  pthread_t workers[64];
  uint32_t started = 0;
  add_job job = {.base = base, .n = n, .dim = dim};
  (void)self;
  job.index = new_index(dim, cfg, n, &error);
  if (error) goto done;
  for (uint32_t t = 1; t < cfg->threads && t < 64; t++) {
    if (pthread_create(&workers[started], NULL, add_rows, &job) != 0) break;
    started++;
  }
  add_rows(&job);
  for (uint32_t t = 0; t < started; t++) pthread_join(workers[t], NULL);
  error = job.error;
  if (error) goto done;
  out->handle = job.index;
  out->index_bytes = usearch_memory_usage(job.index, &error);
  out->vector_bytes = 0;
  out->accounting = "usearch_memory_usage()";
  snprintf(out->detail, sizeof out->detail, "usearch %s, %s kernels", usearch_version(),
           usearch_hardware_acceleration(job.index, &error));
done:
  if (error) {
    snprintf(err, errlen, "usearch: %s", error);
    if (job.index) usearch_free(job.index, &error);
    return -1;
  }
  return 0;
}

static void usearch_set_param(void *handle, uint32_t ef) {
  usearch_error_t error = NULL;
  usearch_change_expansion_search(handle, ef, &error);
}

static int usearch_search_one(void *handle, const float *query, uint32_t k, int64_t *ids) {
  usearch_key_t keys[1024];
  usearch_distance_t dist[1024];
  usearch_error_t error = NULL;
  if (k > 1024) return -1;
  size_t found = usearch_search(handle, query, usearch_scalar_f32_k, k, keys, dist, &error);
  if (error) return -1;
  for (uint32_t i = 0; i < k; i++) ids[i] = i < found ? (int64_t)keys[i] : -1;
  return 0;
}

static void usearch_release(void *handle) {
  usearch_error_t error = NULL;
  usearch_free(handle, &error);
}

static const ann_contender contenders[] = {
    {"usearch HNSW", ANN_GRAPH, 0, usearch_build, usearch_set_param, usearch_search_one, usearch_release, 0, 3},
};

const ann_contender *ann_usearch_contenders(size_t *count) {
  *count = sizeof contenders / sizeof contenders[0];
  return contenders;
}
