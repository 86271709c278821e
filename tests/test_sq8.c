/*
 * test_sq8.c -- the SQ8 kernels (simd/sq8.h) of every level the CPU runs
 * against double-precision truth, at dimensions with every tail length,
 * unaligned, and with the row ending right before an unmapped page (a
 * kernel that reads one byte too far faults).  Also the level choice.
 *
 * Tolerance: float sums in another order differ by about eps * sqrt(dim) *
 * sum|terms|; each comparison allows 1e-5 * (sum of |terms|) + 1e-6.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "simd/simd.h"
#include "simd/sq8.h"
#include "util/util.h"

static const size_t test_dims[] = {0,  1,  2,  3,  7,   8,   9,   15,  16,   17,   31,  32,
                                   33, 47, 63, 64, 65,  100, 127, 128, 129, 255, 784, 1000, 4099};
#define NUM_DIMS (sizeof test_dims / sizeof test_dims[0])
#define MAX_DIM 4099

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static float rng_float(float lo, float hi) {
  return lo + (hi - lo) * (float)((double)(rng_next() >> 11) / (double)(1ull << 53));
}

static void fill(float *a, float *q, float *w, uint8_t *code, size_t dim) {
  for (size_t i = 0; i < dim; i++) {
    a[i] = rng_float(-2, 2);
    q[i] = rng_float(-10, 265);
    w[i] = rng_float(0, 3);
    uint64_t r = rng_next();
    code[i] = (r & 7) == 0 ? 255 : (r & 7) == 1 ? 0 : (uint8_t)(r >> 32);
  }
}

static void check_close(double expect, double scale, float got, const char *what, size_t dim,
                        const char *level) {
  double tol = 1e-5 * scale + 1e-6;
  if (fabs(expect - (double)got) > tol) {
    fail_msg("%s kernel %s at dim %zu: expected %.9g, got %.9g (tolerance %.3g)", level, what, dim,
             expect, (double)got, tol);
  }
}

static void check_level(const vs_sq8_kernels *k, const char *level, size_t dim, const float *a,
                        const float *q, const float *w, const uint8_t *code) {
  double ip = 0, ip_scale = 0, l2 = 0;
  for (size_t i = 0; i < dim; i++) {
    double t = (double)a[i] * code[i];
    double d = (double)q[i] - code[i];
    ip += t;
    ip_scale += fabs(t);
    l2 += (double)w[i] * d * d;
  }
  check_close(ip, ip_scale, k->ip(a, code, dim), "ip", dim, level);
  check_close(l2, l2, k->l2(q, w, code, dim), "l2", dim, level);
}

static void each_level_matches_truth(void **state) {
  (void)state;
  float *a = malloc((MAX_DIM + 1) * sizeof(float));
  float *q = malloc((MAX_DIM + 1) * sizeof(float));
  float *w = malloc((MAX_DIM + 1) * sizeof(float));
  uint8_t *code = malloc(MAX_DIM + 1);
  assert_non_null(a);
  assert_non_null(q);
  assert_non_null(w);
  assert_non_null(code);
  int levels_run = 0;
  for (int level = VS_SIMD_REFERENCE; level <= VS_SIMD_AVX512; level++) {
    const vs_sq8_kernels *k = vs_sq8_kernels_for((vs_simd_level_id)level);
    if (!k) {
      print_message("sq8 level %s not supported by this CPU: skipped\n", vs_simd_level_name((vs_simd_level_id)level));
      continue;
    }
    levels_run++;
    for (size_t d = 0; d < NUM_DIMS; d++) {
      size_t dim = test_dims[d];
      for (size_t shift = 0; shift < 2; shift++) { /* aligned and off by one */
        fill(a + shift, q + shift, w + shift, code + shift, dim);
        check_level(k, vs_simd_level_name((vs_simd_level_id)level), dim, a + shift, q + shift,
                    w + shift, code + shift);
      }
    }
  }
  assert_true(levels_run >= 1);
  free(a);
  free(q);
  free(w);
  free(code);
}

/* A code row and query that end exactly where an unmapped page begins. */
static void kernels_never_read_past_the_end(void **state) {
  (void)state;
  long page = sysconf(_SC_PAGESIZE);
  uint8_t *map = mmap(NULL, (size_t)page * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(map != MAP_FAILED);
  assert_int_equal(mprotect(map + page, (size_t)page, PROT_NONE), 0);
  assert_int_equal(mprotect(map + 3 * page, (size_t)page, PROT_NONE), 0);
  for (int level = VS_SIMD_REFERENCE; level <= VS_SIMD_AVX512; level++) {
    const vs_sq8_kernels *k = vs_sq8_kernels_for((vs_simd_level_id)level);
    if (!k) continue;
    for (size_t dim = 1; dim <= 200; dim++) {
      uint8_t *code = map + page - dim;
      float *a = (float *)(void *)(map + 3 * page) - dim;
      float *w = (float *)(void *)(map + 2 * page);
      for (size_t i = 0; i < dim; i++) {
        code[i] = (uint8_t)(i * 7);
        a[i] = 1.0f;
        w[i] = 1.0f;
      }
      double expect = 0;
      for (size_t i = 0; i < dim; i++) expect += code[i];
      check_close(expect, expect, k->ip(a, code, dim), "ip at a page end", dim,
                  vs_simd_level_name((vs_simd_level_id)level));
      (void)k->l2(a, w, code, dim);
    }
  }
  munmap(map, (size_t)page * 4);
}

static void level_choice_follows_the_float_kernels(void **state) {
  (void)state;
  vs_simd_level_id active = vs_sq8_active_level();
  assert_true(active <= vs_simd_active_level());
  assert_ptr_equal(vs_sq8(), vs_sq8_kernels_for(active));
  assert_non_null(vs_sq8_kernels_for(VS_SIMD_REFERENCE));
  assert_ptr_equal(vs_sq8_kernels_for(VS_SIMD_REFERENCE), &vs_sq8_reference_kernels);
  assert_null(vs_sq8_kernels_for((vs_simd_level_id)(VS_SIMD_AVX512 + 1)));
  if (vs_simd_kernels_for(VS_SIMD_AVX2)) assert_non_null(vs_sq8_kernels_for(VS_SIMD_AVX2));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_level_matches_truth),
      cmocka_unit_test(kernels_never_read_past_the_end),
      cmocka_unit_test(level_choice_follows_the_float_kernels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
