/*
 * test_kmeans.c -- k-means (src/index/ivf_kmeans.c): convergence on
 * well-separated clusters, determinism for a seed and across thread
 * counts, empty-cluster re-seeding, spherical mode, argument checks and
 * cancellation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivf_internal.h"

/* Deterministic test data (its own PRNG, independent of the library's). */
static uint64_t rng_state;

static float rnd_unit(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((rng_state >> 40) & 0xFFFFFF) / 16777216.0f;
}

static float rnd_gauss(void) {
  float u = rnd_unit() + 1e-7f, v = rnd_unit();
  return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v);
}

enum { SEP_K = 8, SEP_PER = 100, SEP_DIM = 16 };

/* SEP_K clusters, centre c has coordinate j = 10 * (bit (j % 3) of c) +
 * 20 * (j == c), noise sigma 0.1: far apart compared to their spread. */
static float *separated(float *centres, uint32_t *truth) {
  float *x = malloc(sizeof(float) * SEP_K * SEP_PER * SEP_DIM);
  assert_non_null(x);
  rng_state = 42;
  for (int c = 0; c < SEP_K; c++) {
    for (int j = 0; j < SEP_DIM; j++) centres[c * SEP_DIM + j] = 10.0f * ((c >> (j % 3)) & 1) + 20.0f * (j == c);
  }
  for (int i = 0; i < SEP_K * SEP_PER; i++) {
    int c = i % SEP_K;
    truth[i] = (uint32_t)c;
    for (int j = 0; j < SEP_DIM; j++) x[i * SEP_DIM + j] = centres[c * SEP_DIM + j] + 0.1f * rnd_gauss();
  }
  return x;
}

static void test_converges_on_separated_clusters(void **state) {
  (void)state;
  float centres[SEP_K * SEP_DIM], out[SEP_K * SEP_DIM];
  uint32_t truth[SEP_K * SEP_PER], assign[SEP_K * SEP_PER];
  float *x = separated(centres, truth);
  size_t n = SEP_K * SEP_PER;
  vs_kmeans_params p = {.k = SEP_K, .iterations = 20, .seed = 7, .plusplus = true};
  vs_kmeans_stats st;
  assert_int_equal(vs_kmeans_train(x, n, SEP_DIM, &p, NULL, out, &st), VS_OK);
  assert_true(st.iterations_run >= 1 && st.iterations_run <= 20);
  /* objective ~ n * dim * sigma^2 = 128 */
  assert_true(st.objective < 2.0 * n * SEP_DIM * 0.01);
  assert_int_equal(vs_kmeans_assign(x, n, SEP_DIM, out, SEP_K, false, NULL, 0, NULL, assign, NULL), VS_OK);
  /* a bijection between true clusters and centroids */
  int map[SEP_K];
  for (int c = 0; c < SEP_K; c++) map[c] = -1;
  for (size_t i = 0; i < n; i++) {
    if (map[truth[i]] < 0) map[truth[i]] = (int)assign[i];
    assert_int_equal(map[truth[i]], (int)assign[i]);
  }
  for (int a = 0; a < SEP_K; a++) {
    for (int b = a + 1; b < SEP_K; b++) assert_int_not_equal(map[a], map[b]);
    for (int j = 0; j < SEP_DIM; j++) {
      assert_true(fabsf(out[map[a] * SEP_DIM + j] - centres[a * SEP_DIM + j]) < 0.05f);
    }
  }
  free(x);
}

static void test_stops_when_stable(void **state) {
  (void)state;
  float centres[SEP_K * SEP_DIM], out[SEP_K * SEP_DIM];
  uint32_t truth[SEP_K * SEP_PER];
  float *x = separated(centres, truth);
  vs_kmeans_params p = {.k = SEP_K, .iterations = 50, .seed = 3, .plusplus = true};
  vs_kmeans_stats st;
  assert_int_equal(vs_kmeans_train(x, SEP_K * SEP_PER, SEP_DIM, &p, NULL, out, &st), VS_OK);
  assert_true(st.iterations_run < 50); /* converged and stopped early */
  free(x);
}

static void test_deterministic(void **state) {
  (void)state;
  size_t n = 2000;
  uint32_t dim = 12, k = 37;
  float *x = malloc(sizeof(float) * n * dim);
  float *a = malloc(sizeof(float) * k * dim), *b = malloc(sizeof(float) * k * dim);
  float *c = malloc(sizeof(float) * k * dim);
  assert_true(x && a && b && c);
  rng_state = 99;
  for (size_t i = 0; i < n * dim; i++) x[i] = rnd_unit();
  vs_pool *pool = NULL;
  assert_int_equal(vs_pool_new(4, &pool), VS_OK);
  for (int pp = 0; pp < 2; pp++) {
    vs_kmeans_params p = {.k = k, .iterations = 8, .seed = 1234, .plusplus = pp != 0};
    assert_int_equal(vs_kmeans_train(x, n, dim, &p, NULL, a, NULL), VS_OK);
    assert_int_equal(vs_kmeans_train(x, n, dim, &p, pool, b, NULL), VS_OK);
    assert_memory_equal(a, b, sizeof(float) * k * dim); /* same with 1 or 4 threads */
    p.threads = 2;
    assert_int_equal(vs_kmeans_train(x, n, dim, &p, pool, b, NULL), VS_OK);
    assert_memory_equal(a, b, sizeof(float) * k * dim);
    p.seed = 1235;
    assert_int_equal(vs_kmeans_train(x, n, dim, &p, pool, c, NULL), VS_OK);
    assert_memory_not_equal(a, c, sizeof(float) * k * dim);
  }
  vs_pool_free(pool);
  free(x);
  free(a);
  free(b);
  free(c);
}

/* 50 points at 0, one at 5, 50 at 10 (1-D), k = 3, random seeding: most
 * seeds pick two centroids on the same spot, leaving a cluster empty; the
 * split of the largest cluster must move its farthest point (5) there. */
static void test_empty_cluster_split(void **state) {
  (void)state;
  float x[101];
  for (int i = 0; i < 50; i++) x[i] = 0;
  x[50] = 5;
  for (int i = 51; i < 101; i++) x[i] = 10;
  uint32_t splits = 0;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    float cent[3];
    vs_kmeans_params p = {.k = 3, .iterations = 10, .seed = seed};
    vs_kmeans_stats st;
    assert_int_equal(vs_kmeans_train(x, 101, 1, &p, NULL, cent, &st), VS_OK);
    splits += st.empty_splits;
    bool has0 = false, has5 = false, has10 = false;
    for (int c = 0; c < 3; c++) {
      has0 |= cent[c] == 0;
      has5 |= cent[c] == 5;
      has10 |= cent[c] == 10;
    }
    assert_true(has0 && has5 && has10);
  }
  assert_true(splits > 0);
}

static void test_identical_points(void **state) {
  (void)state;
  float x[40 * 3], cent[5 * 3];
  for (int i = 0; i < 40 * 3; i++) x[i] = (float)(i % 3) + 0.5f;
  for (int pp = 0; pp < 2; pp++) {
    vs_kmeans_params p = {.k = 5, .iterations = 5, .plusplus = pp != 0};
    assert_int_equal(vs_kmeans_train(x, 40, 3, &p, NULL, cent, NULL), VS_OK);
    for (int i = 0; i < 5 * 3; i++) assert_true(cent[i] == (float)(i % 3) + 0.5f);
  }
  /* k == n */
  vs_kmeans_params p = {.k = 40, .iterations = 3, .plusplus = true};
  float big[40 * 3];
  assert_int_equal(vs_kmeans_train(x, 40, 3, &p, NULL, big, NULL), VS_OK);
  for (int i = 0; i < 40 * 3; i++) assert_true(isfinite(big[i]));
}

static void test_spherical(void **state) {
  (void)state;
  size_t n = 500;
  uint32_t dim = 8, k = 6;
  float *x = malloc(sizeof(float) * n * dim), cent[6 * 8];
  assert_non_null(x);
  rng_state = 5;
  for (size_t i = 0; i < n; i++) {
    for (uint32_t j = 0; j < dim; j++) x[i * dim + j] = rnd_gauss();
    ivf_normalize(x + i * dim, dim);
  }
  vs_kmeans_params p = {.k = k, .iterations = 10, .plusplus = true, .spherical = true};
  assert_int_equal(vs_kmeans_train(x, n, dim, &p, NULL, cent, NULL), VS_OK);
  for (uint32_t c = 0; c < k; c++) {
    double norm = 0;
    for (uint32_t j = 0; j < dim; j++) norm += (double)cent[c * dim + j] * cent[c * dim + j];
    assert_true(fabs(norm - 1.0) < 1e-4);
  }
  free(x);
}

static void test_assign_inner_product(void **state) {
  (void)state;
  float cent[] = {1, 0, 0, 2, -1, -1};
  float x[] = {3, 0.5f, 0.1f, 1, -5, -5};
  uint32_t assign[3];
  float dist[3];
  assert_int_equal(vs_kmeans_assign(x, 3, 2, cent, 3, true, NULL, 0, NULL, assign, dist), VS_OK);
  assert_int_equal(assign[0], 0); /* 3 vs 1 vs -3.5 */
  assert_int_equal(assign[1], 1); /* 0.1 vs 2 vs -1.1 */
  assert_int_equal(assign[2], 2); /* -5 vs -10 vs 10 */
  assert_true(dist[2] == 10.0f);
  assert_int_equal(vs_kmeans_assign(x, 3, 2, cent, 3, false, NULL, 0, NULL, assign, dist), VS_OK);
  assert_int_equal(assign[0], 0);
  assert_true(dist[0] == 4.25f); /* (3-1)^2 + 0.5^2 */
}

static void test_bad_arguments(void **state) {
  (void)state;
  float x[10] = {0}, cent[20];
  vs_kmeans_params p = {.k = 0};
  assert_int_equal(vs_kmeans_train(x, 10, 1, &p, NULL, cent, NULL), VS_ERR_INVALID);
  assert_non_null(strstr(vs_error_message(), "k=0"));
  p.k = 11;
  assert_int_equal(vs_kmeans_train(x, 10, 1, &p, NULL, cent, NULL), VS_ERR_INVALID);
  assert_non_null(strstr(vs_error_message(), "k=11"));
  p.k = 2;
  assert_int_equal(vs_kmeans_train(x, 10, 0, &p, NULL, cent, NULL), VS_ERR_INVALID);
  assert_int_equal(vs_kmeans_train(x, 0, 1, &p, NULL, cent, NULL), VS_ERR_INVALID);
}

static void test_cancel(void **state) {
  (void)state;
  float centres[SEP_K * SEP_DIM], out[SEP_K * SEP_DIM];
  uint32_t truth[SEP_K * SEP_PER];
  float *x = separated(centres, truth);
  vs_index_progress progress;
  atomic_init(&progress.done, 0);
  atomic_init(&progress.total, 0);
  atomic_init(&progress.cancel, 1);
  for (int pp = 0; pp < 2; pp++) {
    vs_kmeans_params p = {.k = SEP_K, .plusplus = pp != 0, .progress = &progress};
    assert_int_equal(vs_kmeans_train(x, SEP_K * SEP_PER, SEP_DIM, &p, NULL, out, NULL), VS_ERR_BUSY);
    assert_string_equal(vs_error_message(), "index build cancelled");
  }
  /* progress counts n per iteration when not cancelled */
  atomic_store(&progress.cancel, 0);
  vs_kmeans_params p = {.k = SEP_K, .iterations = 3, .plusplus = true, .progress = &progress};
  vs_kmeans_stats st;
  assert_int_equal(vs_kmeans_train(x, SEP_K * SEP_PER, SEP_DIM, &p, NULL, out, &st), VS_OK);
  assert_true(atomic_load(&progress.done) >= (uint64_t)SEP_K * SEP_PER * st.iterations_run);
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_converges_on_separated_clusters),
      cmocka_unit_test(test_stops_when_stable),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_empty_cluster_split),
      cmocka_unit_test(test_identical_points),
      cmocka_unit_test(test_spherical),
      cmocka_unit_test(test_assign_inner_product),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_cancel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
