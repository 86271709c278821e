/*
 * sq8_avx512.c -- SQ8 kernels for AVX-512 F+BW+VL (16 codes per register).
 *
 * Compiled with the AVX-512 flags CMakeLists.txt puts on every
 * src/simd/NAME_avx512.c; only reached through the table at the bottom, which
 * sq8_reference.c selects when the CPU and OS support AVX-512F/DQ (checked
 * by simd_dispatch.c) and cpuid reports BW and VL.
 *
 * Each step loads 16 code bytes (one 128-bit load), widens them to 32-bit
 * integers (vpmovzxbd) and converts to float (vcvtdq2ps): exact for 0..255,
 * so only the summation order differs from the reference.  Four
 * accumulators, 64 codes per iteration, then 16 at a time; the last
 * dim % 16 codes use a byte-masked load (vmovdqu8 with a mask, AVX512BW+VL)
 * and a float-masked load of the query, which never touch masked-out bytes,
 * so a row ending at a page boundary is safe.
 */
#if defined(__x86_64__) || defined(__i386__)
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "sq8_avx512.c must be compiled with -mavx512f -mavx512bw -mavx512vl"
#endif

#include <immintrin.h>

#include "simd/sq8.h"

/* Codes [i, i+16) as floats. */
static inline __m512 codes16(const uint8_t *code) {
  __m128i c = _mm_loadu_si128((const __m128i *)code);
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c));
}

/* The first `rest` (< 16) codes as floats, zeros after. */
static inline __m512 codes_tail(const uint8_t *code, __mmask16 m) {
  __m128i c = _mm_maskz_loadu_epi8(m, code);
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c));
}

static float avx512_ip(const float *a, const uint8_t *code, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = _mm512_fmadd_ps(codes16(code + i), _mm512_loadu_ps(a + i), s0);
    s1 = _mm512_fmadd_ps(codes16(code + i + 16), _mm512_loadu_ps(a + i + 16), s1);
    s2 = _mm512_fmadd_ps(codes16(code + i + 32), _mm512_loadu_ps(a + i + 32), s2);
    s3 = _mm512_fmadd_ps(codes16(code + i + 48), _mm512_loadu_ps(a + i + 48), s3);
  }
  for (; i + 16 <= dim; i += 16) s0 = _mm512_fmadd_ps(codes16(code + i), _mm512_loadu_ps(a + i), s0);
  if (i < dim) {
    __mmask16 m = (__mmask16)((1u << (dim - i)) - 1u);
    s1 = _mm512_fmadd_ps(codes_tail(code + i, m), _mm512_maskz_loadu_ps(m, a + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* s += w * (q - c)^2 over 16 lanes. */
static inline __m512 l2_step(__m512 q, __m512 w, __m512 c, __m512 s) {
  __m512 d = _mm512_sub_ps(q, c);
  return _mm512_fmadd_ps(_mm512_mul_ps(w, d), d, s);
}

static float avx512_l2(const float *q, const float *w, const uint8_t *code, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = l2_step(_mm512_loadu_ps(q + i), _mm512_loadu_ps(w + i), codes16(code + i), s0);
    s1 = l2_step(_mm512_loadu_ps(q + i + 16), _mm512_loadu_ps(w + i + 16), codes16(code + i + 16), s1);
    s2 = l2_step(_mm512_loadu_ps(q + i + 32), _mm512_loadu_ps(w + i + 32), codes16(code + i + 32), s2);
    s3 = l2_step(_mm512_loadu_ps(q + i + 48), _mm512_loadu_ps(w + i + 48), codes16(code + i + 48), s3);
  }
  for (; i + 16 <= dim; i += 16) {
    s0 = l2_step(_mm512_loadu_ps(q + i), _mm512_loadu_ps(w + i), codes16(code + i), s0);
  }
  if (i < dim) {
    __mmask16 m = (__mmask16)((1u << (dim - i)) - 1u);
    s1 = l2_step(_mm512_maskz_loadu_ps(m, q + i), _mm512_maskz_loadu_ps(m, w + i),
                 codes_tail(code + i, m), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

const vs_sq8_kernels vs_sq8_avx512_kernels = {avx512_ip, avx512_l2};

#else /* not x86: never selected; the reference stands in */
#include "simd/sq8.h"
const vs_sq8_kernels vs_sq8_avx512_kernels = {0};
#endif
