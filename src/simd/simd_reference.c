/*
 * simd_reference.c -- the plain C distance kernels.
 *
 * These define what every kernel computes; the AVX2 and AVX-512 files must
 * agree with them up to floating-point rounding, and the tests hold them to
 * it.  They are also what runs on CPUs without AVX2 and when VS_SIMD=reference
 * is set.
 *
 * Each kernel accumulates in float, one element at a time, in index order:
 * the simplest thing that is obviously right.  (Without -ffast-math the
 * compiler may not reorder the sums, so this stays scalar; speed is the
 * other files' job.)  The SIMD versions sum in a different order, so results
 * differ in the last bits -- callers must not expect bit-identical distances
 * across levels.
 *
 * cosine = a.b / (|a| |b|), and 0 when either norm is 0 (the zero vector has
 * no direction; 0 keeps it in the middle of the ranking instead of a NaN
 * that breaks comparisons).  The norms are multiplied after the square roots
 * so that large vectors do not overflow |a|^2 |b|^2.
 *
 * No locking: pure functions.
 */
#include <math.h>

#include "simd/simd.h"

static float ref_l2sq(const float *a, const float *b, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; i++) {
    float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

static float ref_ip(const float *a, const float *b, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; i++) sum += a[i] * b[i];
  return sum;
}

static float ref_cosine(const float *a, const float *b, size_t dim) {
  float dot = 0.0f, na = 0.0f, nb = 0.0f;
  for (size_t i = 0; i < dim; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na == 0.0f || nb == 0.0f) return 0.0f;
  return dot / (sqrtf(na) * sqrtf(nb));
}

static void ref_l2sq_batch(const float *q, const float *base, size_t n, size_t dim,
                           float *out) {
  for (size_t j = 0; j < n; j++) out[j] = ref_l2sq(q, base + j * dim, dim);
}

static void ref_ip_batch(const float *q, const float *base, size_t n, size_t dim,
                         float *out) {
  for (size_t j = 0; j < n; j++) out[j] = ref_ip(q, base + j * dim, dim);
}

static void ref_cosine_batch(const float *q, float q_norm, const float *base, size_t n,
                             size_t dim, float *out) {
  for (size_t j = 0; j < n; j++) {
    const float *row = base + j * dim;
    float dot = 0.0f, nb = 0.0f;
    for (size_t i = 0; i < dim; i++) {
      dot += q[i] * row[i];
      nb += row[i] * row[i];
    }
    out[j] = (nb == 0.0f || q_norm == 0.0f) ? 0.0f : dot / (q_norm * sqrtf(nb));
  }
}

const vs_simd_kernels vs_simd_reference_kernels = {
    .l2sq = ref_l2sq,
    .ip = ref_ip,
    .cosine = ref_cosine,
    .l2sq_batch = ref_l2sq_batch,
    .ip_batch = ref_ip_batch,
    .cosine_batch = ref_cosine_batch,
};
