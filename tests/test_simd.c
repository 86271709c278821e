/*
 * test_simd.c -- every SIMD level's kernels against the plain C reference,
 * and the reference against double precision, on random data at awkward
 * dimensions (tails of every length), unaligned rows, zero vectors and the
 * level-choice rules.  Levels the CPU lacks are skipped (and said so).
 *
 * Tolerance: float sums in a different order differ by about
 * eps * sqrt(dim) * sum|terms|, so each comparison allows
 * 1e-4 * (sum of |terms| in double) + 1e-6; for cosine the terms are divided
 * by |a||b|, which bounds the scale by 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd/simd.h"
#include "util/util.h"

vs_simd_level_id vs_simd_choose_level(const char *request, vs_simd_level_id best);

static const size_t test_dims[] = {1,   2,   3,   7,   8,   15,  16,  17,  31,  33,
                                   100, 127, 128, 129, 255, 768, 784, 1000, 32768};
#define NUM_DIMS (sizeof test_dims / sizeof test_dims[0])
#define ROWS 7 /* one group of 4 rows plus 3 left over */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static float rng_float(void) { /* in [-1, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((double)(rng_state >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

typedef enum kernel_kind { KIND_L2, KIND_IP, KIND_COSINE } kernel_kind;

/* The exact value in double and the scale that bounds rounding error. */
static double exact(kernel_kind kind, const float *a, const float *b, size_t dim,
                    double *scale) {
  double dot = 0, abs_dot = 0, l2 = 0, na = 0, nb = 0;
  for (size_t i = 0; i < dim; i++) {
    double x = a[i], y = b[i];
    dot += x * y;
    abs_dot += fabs(x * y);
    l2 += (x - y) * (x - y);
    na += x * x;
    nb += y * y;
  }
  if (kind == KIND_L2) {
    *scale = l2;
    return l2;
  }
  if (kind == KIND_IP) {
    *scale = abs_dot;
    return dot;
  }
  *scale = 1.0;
  if (na == 0 || nb == 0) return 0;
  return dot / (sqrt(na) * sqrt(nb));
}

static void assert_close(double got, double want, double scale, const char *what,
                         const char *level, size_t dim, size_t row) {
  double tol = 1e-4 * scale + 1e-6;
  if (!(fabs(got - want) <= tol)) {
    fail_msg("%s at level %s, dim %zu, row %zu: got %.9g, want %.9g (tol %.3g)", what,
             level, dim, row, got, want, tol);
  }
}

/* Query plus ROWS base rows, base deliberately misaligned by one float and
 * allocated to its exact size so an over-read would be caught by ASan. */
typedef struct fixture {
  float *q;
  float *block;
  float *base;
  size_t dim;
} fixture;

static void fixture_make(fixture *f, size_t dim) {
  f->dim = dim;
  f->q = malloc(dim * sizeof(float));
  f->block = malloc((ROWS * dim + 1) * sizeof(float));
  assert_true(f->q && f->block);
  f->base = f->block + 1;
  for (size_t i = 0; i < dim; i++) f->q[i] = rng_float();
  for (size_t i = 0; i < ROWS * dim; i++) f->base[i] = rng_float();
}

static void fixture_free(fixture *f) {
  free(f->q);
  free(f->block);
}

static void check_singles(const vs_simd_kernels *k, const char *level, const fixture *f) {
  const vs_simd_kernels *ref = &vs_simd_reference_kernels;
  for (size_t j = 0; j < ROWS; j++) {
    const float *row = f->base + j * f->dim;
    double scale;
    exact(KIND_L2, f->q, row, f->dim, &scale);
    assert_close(k->l2sq(f->q, row, f->dim), ref->l2sq(f->q, row, f->dim), scale, "l2sq",
                 level, f->dim, j);
    exact(KIND_IP, f->q, row, f->dim, &scale);
    assert_close(k->ip(f->q, row, f->dim), ref->ip(f->q, row, f->dim), scale, "ip", level,
                 f->dim, j);
    exact(KIND_COSINE, f->q, row, f->dim, &scale);
    assert_close(k->cosine(f->q, row, f->dim), ref->cosine(f->q, row, f->dim), scale,
                 "cosine", level, f->dim, j);
  }
}

static void check_batches(const vs_simd_kernels *k, const char *level, const fixture *f) {
  const vs_simd_kernels *ref = &vs_simd_reference_kernels;
  float out[ROWS + 1];
  float q_norm = sqrtf(ref->ip(f->q, f->q, f->dim));
  for (int kind = KIND_L2; kind <= KIND_COSINE; kind++) {
    for (size_t n = 0; n <= ROWS; n++) {
      out[n] = -12345.0f; /* sentinel: must not be written */
      if (kind == KIND_L2) k->l2sq_batch(f->q, f->base, n, f->dim, out);
      if (kind == KIND_IP) k->ip_batch(f->q, f->base, n, f->dim, out);
      if (kind == KIND_COSINE) k->cosine_batch(f->q, q_norm, f->base, n, f->dim, out);
      assert_true(out[n] == -12345.0f);
      for (size_t j = 0; j < n; j++) {
        const float *row = f->base + j * f->dim;
        double scale;
        exact((kernel_kind)kind, f->q, row, f->dim, &scale);
        float want = kind == KIND_L2   ? ref->l2sq(f->q, row, f->dim)
                     : kind == KIND_IP ? ref->ip(f->q, row, f->dim)
                                       : ref->cosine(f->q, row, f->dim);
        assert_close(out[j], want, scale, "batch", level, f->dim, j);
      }
    }
  }
}

static void check_level(vs_simd_level_id level) {
  const vs_simd_kernels *k = vs_simd_kernels_for(level);
  if (!k) {
    print_message("CPU lacks %s; skipping\n", vs_simd_level_name(level));
    skip();
  }
  for (size_t d = 0; d < NUM_DIMS; d++) {
    fixture f;
    fixture_make(&f, test_dims[d]);
    check_singles(k, vs_simd_level_name(level), &f);
    check_batches(k, vs_simd_level_name(level), &f);
    fixture_free(&f);
  }
}

static void test_reference_against_double(void **state) {
  const vs_simd_kernels *ref = &vs_simd_reference_kernels;
  for (size_t d = 0; d < NUM_DIMS; d++) {
    fixture f;
    fixture_make(&f, test_dims[d]);
    double scale, want;
    want = exact(KIND_L2, f.q, f.base, f.dim, &scale);
    assert_close(ref->l2sq(f.q, f.base, f.dim), want, scale, "l2sq", "double", f.dim, 0);
    want = exact(KIND_IP, f.q, f.base, f.dim, &scale);
    assert_close(ref->ip(f.q, f.base, f.dim), want, scale, "ip", "double", f.dim, 0);
    want = exact(KIND_COSINE, f.q, f.base, f.dim, &scale);
    assert_close(ref->cosine(f.q, f.base, f.dim), want, scale, "cosine", "double", f.dim, 0);
    fixture_free(&f);
  }
}

static void test_avx2(void **state) { check_level(VS_SIMD_AVX2); }
static void test_avx512(void **state) { check_level(VS_SIMD_AVX512); }
static void test_reference_self(void **state) { check_level(VS_SIMD_REFERENCE); }

/* Zero vectors give cosine 0 (not NaN) in singles and batches, in the
 * group-of-4 path and the left-over path; identical vectors give L2 0. */
static void check_zero_and_identical(const vs_simd_kernels *k, const char *level) {
  enum { DIM = 19 };
  float zero[DIM] = {0}, q[DIM], base[ROWS * DIM], out[ROWS];
  for (size_t i = 0; i < DIM; i++) q[i] = rng_float();
  for (size_t i = 0; i < ROWS * DIM; i++) base[i] = rng_float();
  memset(base + 1 * DIM, 0, DIM * sizeof(float)); /* row 1: in a group of 4 */
  memset(base + 5 * DIM, 0, DIM * sizeof(float)); /* row 5: left over */
  assert_true(k->cosine(zero, q, DIM) == 0.0f);
  assert_true(k->cosine(q, zero, DIM) == 0.0f);
  assert_true(k->cosine(zero, zero, DIM) == 0.0f);
  assert_true(k->l2sq(q, q, DIM) == 0.0f);
  assert_true(k->l2sq(zero, zero, DIM) == 0.0f);
  float q_norm = sqrtf(vs_simd_reference_kernels.ip(q, q, DIM));
  k->cosine_batch(q, q_norm, base, ROWS, DIM, out);
  for (size_t j = 0; j < ROWS; j++) {
    if (j == 1 || j == 5) {
      assert_true(out[j] == 0.0f);
    } else {
      assert_false(isnan(out[j]));
      assert_true(out[j] >= -1.0001f && out[j] <= 1.0001f);
    }
  }
  k->cosine_batch(zero, 0.0f, base, ROWS, DIM, out);
  for (size_t j = 0; j < ROWS; j++) assert_true(out[j] == 0.0f);
  memcpy(base + 2 * DIM, q, sizeof q);
  k->l2sq_batch(q, base, ROWS, DIM, out);
  assert_true(out[2] == 0.0f);
  print_message("zero vectors ok at %s\n", level);
}

static void test_zero_vectors(void **state) {
  for (int level = VS_SIMD_REFERENCE; level <= VS_SIMD_AVX512; level++) {
    const vs_simd_kernels *k = vs_simd_kernels_for((vs_simd_level_id)level);
    if (k) check_zero_and_identical(k, vs_simd_level_name((vs_simd_level_id)level));
  }
}

static void test_dispatch_table(void **state) {
  vs_simd_init();
  vs_simd_init();
  vs_simd_level_id active = vs_simd_active_level();
  assert_ptr_equal(vs_simd(), vs_simd_kernels_for(active));
  assert_string_equal(vs_simd_level(), vs_simd_level_name(active));
  assert_ptr_equal(vs_simd_kernels_for(VS_SIMD_REFERENCE), &vs_simd_reference_kernels);
  assert_null(vs_simd_kernels_for((vs_simd_level_id)7));
  assert_string_equal(vs_version(), "0.1.0");
  assert_string_equal(vs_version(), VS_VERSION_STRING);
  assert_string_equal(vs_simd_level_name((vs_simd_level_id)7), "unknown");
  print_message("active level: %s\n", vs_simd_level());
}

static void test_choose_level(void **state) {
  assert_int_equal(vs_simd_choose_level(NULL, VS_SIMD_AVX2), VS_SIMD_AVX2);
  assert_int_equal(vs_simd_choose_level("", VS_SIMD_AVX512), VS_SIMD_AVX512);
  assert_int_equal(vs_simd_choose_level("auto", VS_SIMD_REFERENCE), VS_SIMD_REFERENCE);
  assert_int_equal(vs_simd_choose_level("reference", VS_SIMD_AVX512), VS_SIMD_REFERENCE);
  assert_int_equal(vs_simd_choose_level("AVX2", VS_SIMD_AVX512), VS_SIMD_AVX2);
  assert_int_equal(vs_simd_choose_level("avx512", VS_SIMD_AVX512), VS_SIMD_AVX512);
  /* forced levels the CPU lacks fall back to the best available (warning) */
  assert_int_equal(vs_simd_choose_level("avx512", VS_SIMD_AVX2), VS_SIMD_AVX2);
  assert_int_equal(vs_simd_choose_level("avx2", VS_SIMD_REFERENCE), VS_SIMD_REFERENCE);
  assert_int_equal(vs_simd_choose_level("sse9", VS_SIMD_AVX2), VS_SIMD_AVX2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_against_double),
      cmocka_unit_test(test_reference_self),
      cmocka_unit_test(test_avx2),
      cmocka_unit_test(test_avx512),
      cmocka_unit_test(test_zero_vectors),
      cmocka_unit_test(test_dispatch_table),
      cmocka_unit_test(test_choose_level),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
