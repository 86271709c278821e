/*
 * sq8_avx2.c -- SQ8 kernels for AVX2 + FMA (8 codes per register).
 *
 * Compiled with -mavx2 -mfma (CMakeLists.txt sets the flags on every
 * src/simd/NAME_avx2.c); only reached through the table at the bottom, which
 * sq8_reference.c selects after the CPU checks.
 *
 * Each step loads 8 code bytes with one 64-bit load, widens them to 32-bit
 * integers (vpmovzxbd) and converts to float (vcvtdq2ps); 0..255 converts
 * exactly, so the only difference from the reference is summation order.
 * Four independent accumulators hide the FMA latency (32 codes per
 * iteration); then 8 at a time; the last dim % 8 codes run scalar, so no
 * load ever touches a byte past the end of the row.
 *
 * Alternative rejected: vpmaddubsw on codes against a query rounded to
 * int8 (twice the throughput, but the query's rounding error is of the
 * order of the quantisation error itself, and re-ranking then has to
 * work harder for the same recall).
 */
#if defined(__x86_64__) || defined(__i386__)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "sq8_avx2.c must be compiled with -mavx2 -mfma"
#endif

#include <immintrin.h>

#include "simd/sq8.h"

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 shuf = _mm_movehdup_ps(s);
  s = _mm_add_ps(s, shuf);
  shuf = _mm_movehl_ps(shuf, s);
  s = _mm_add_ss(s, shuf);
  return _mm_cvtss_f32(s);
}

/* Codes [i, i+8) as floats. */
static inline __m256 codes8(const uint8_t *code) {
  __m128i c = _mm_loadl_epi64((const __m128i *)code);
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c));
}

static float avx2_ip(const float *a, const uint8_t *code, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm256_fmadd_ps(codes8(code + i), _mm256_loadu_ps(a + i), s0);
    s1 = _mm256_fmadd_ps(codes8(code + i + 8), _mm256_loadu_ps(a + i + 8), s1);
    s2 = _mm256_fmadd_ps(codes8(code + i + 16), _mm256_loadu_ps(a + i + 16), s2);
    s3 = _mm256_fmadd_ps(codes8(code + i + 24), _mm256_loadu_ps(a + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8) s0 = _mm256_fmadd_ps(codes8(code + i), _mm256_loadu_ps(a + i), s0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < dim; i++) sum += a[i] * (float)code[i];
  return sum;
}

/* One weighted squared-difference step: s += w * (q - c)^2. */
static inline __m256 l2_step(const float *q, const float *w, const uint8_t *code, __m256 s) {
  __m256 d = _mm256_sub_ps(_mm256_loadu_ps(q), codes8(code));
  return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(w), d), d, s);
}

static float avx2_l2(const float *q, const float *w, const uint8_t *code, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = l2_step(q + i, w + i, code + i, s0);
    s1 = l2_step(q + i + 8, w + i + 8, code + i + 8, s1);
    s2 = l2_step(q + i + 16, w + i + 16, code + i + 16, s2);
    s3 = l2_step(q + i + 24, w + i + 24, code + i + 24, s3);
  }
  for (; i + 8 <= dim; i += 8) s0 = l2_step(q + i, w + i, code + i, s0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < dim; i++) {
    float d = q[i] - (float)code[i];
    sum += w[i] * d * d;
  }
  return sum;
}

const vs_sq8_kernels vs_sq8_avx2_kernels = {avx2_ip, avx2_l2};

#else /* not x86: never selected; the reference stands in */
#include "simd/sq8.h"
const vs_sq8_kernels vs_sq8_avx2_kernels = {0};
#endif
