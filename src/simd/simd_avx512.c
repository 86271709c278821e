/*
 * simd_avx512.c -- distance kernels for AVX-512F (16 floats per register).
 *
 * Compiled with -mavx512f -mavx512dq -mavx2 -mfma (CMakeLists.txt sets the
 * flags on this file only); simd_dispatch.c selects this table only after
 * cpuid reports AVX512F and AVX512DQ and xgetbv shows that the OS saves the
 * opmask and ZMM state.  Nothing else may call these functions directly.
 *
 * Same structure as simd_avx2.c, twice as wide:
 *   - single kernels: four accumulators, 64 floats per iteration, then 16
 *     at a time, then one masked step;
 *   - batched kernels: 4 rows at a time against the query, 2 accumulators
 *     per row (32 floats per step, 8 independent FMA chains);
 *   - tails use _mm512_maskz_loadu_ps with a 16-bit mask: masked-out lanes
 *     read as zero and are never fetched, so the last row of a mapping can
 *     end exactly at a page boundary.  Full steps use plain loads: masked
 *     loads with an all-ones mask measured about 3x slower when rows
 *     stream from RAM (dim 16, 80 MB of rows);
 *   - the 4 row sums are reduced together (halves to 256 bits, then
 *     horizontal adds) instead of by four _mm512_reduce_add_ps;
 *   - no software prefetch: rows are read sequentially, the hardware
 *     prefetcher keeps up, and an explicit prefetch of the next group of
 *     rows measured no gain.
 *
 * Results differ from simd_reference.c only by summation order.  Pure
 * functions; no locking.
 *
 * Alternative rejected: a 16-row "transpose" layout for the batch (faster
 * for tiny dims, but segments store rows contiguously and the re-layout
 * would cost a copy of every segment).
 */
#if defined(__x86_64__) || defined(__i386__)
#if !defined(__AVX512F__) || !defined(__FMA__)
#error "simd_avx512.c must be compiled with -mavx512f -mavx512dq -mavx2 -mfma"
#endif

#include <immintrin.h>
#include <math.h>

#include "simd/simd.h"

/* Lanes [0, rest) set; rest >= 16 sets all. */
static inline __mmask16 tail_mask(size_t rest) {
  return rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1u);
}

/* [sum(a), sum(b), sum(c), sum(d)]: halves to 256 bits, then horizontal
 * adds -- far cheaper than four _mm512_reduce_add_ps for short rows. */
static inline __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
#define VS_HALVES(v) \
  _mm256_add_ps(_mm512_castps512_ps256(v), \
                _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
  __m256 ab = _mm256_hadd_ps(VS_HALVES(a), VS_HALVES(b));
  __m256 cd = _mm256_hadd_ps(VS_HALVES(c), VS_HALVES(d));
#undef VS_HALVES
  __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* ------------------------------------------------------------- singles */

static float avx512_l2sq(const float *a, const float *b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
    __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
    s2 = _mm512_fmadd_ps(d2, d2, s2);
    s3 = _mm512_fmadd_ps(d3, d3, s3);
  }
  for (; i + 16 <= dim; i += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  if (i < dim) {
    __mmask16 m = tail_mask(dim - i);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s1 = _mm512_fmadd_ps(d, d, s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float avx512_ip(const float *a, const float *b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= dim; i += 16) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  }
  if (i < dim) {
    __mmask16 m = tail_mask(dim - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* dot, |a|^2 and |b|^2 in one pass (two chains each). */
static void avx512_dot_norms(const float *a, const float *b, size_t dim, float out[3]) {
  __m512 dot0 = _mm512_setzero_ps(), dot1 = dot0, na0 = dot0, na1 = dot0, nb0 = dot0,
         nb1 = dot0;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 a0 = _mm512_loadu_ps(a + i), a1 = _mm512_loadu_ps(a + i + 16);
    __m512 b0 = _mm512_loadu_ps(b + i), b1 = _mm512_loadu_ps(b + i + 16);
    dot0 = _mm512_fmadd_ps(a0, b0, dot0);
    dot1 = _mm512_fmadd_ps(a1, b1, dot1);
    na0 = _mm512_fmadd_ps(a0, a0, na0);
    na1 = _mm512_fmadd_ps(a1, a1, na1);
    nb0 = _mm512_fmadd_ps(b0, b0, nb0);
    nb1 = _mm512_fmadd_ps(b1, b1, nb1);
  }
  for (; i < dim; i += 16) {
    __mmask16 m = tail_mask(dim - i);
    __m512 a0, b0;
    if (m == 0xFFFF) {
      a0 = _mm512_loadu_ps(a + i), b0 = _mm512_loadu_ps(b + i);
    } else {
      a0 = _mm512_maskz_loadu_ps(m, a + i), b0 = _mm512_maskz_loadu_ps(m, b + i);
    }
    dot0 = _mm512_fmadd_ps(a0, b0, dot0);
    na0 = _mm512_fmadd_ps(a0, a0, na0);
    nb0 = _mm512_fmadd_ps(b0, b0, nb0);
  }
  out[0] = _mm512_reduce_add_ps(_mm512_add_ps(dot0, dot1));
  out[1] = _mm512_reduce_add_ps(_mm512_add_ps(na0, na1));
  out[2] = _mm512_reduce_add_ps(_mm512_add_ps(nb0, nb1));
}

static float avx512_cosine(const float *a, const float *b, size_t dim) {
  float s[3];
  avx512_dot_norms(a, b, dim, s);
  if (s[1] == 0.0f || s[2] == 0.0f) return 0.0f;
  return s[0] / (sqrtf(s[1]) * sqrtf(s[2]));
}

/* ------------------------------------------------------------- batches */

/* L2 of q against 4 rows starting at r (row stride dim), into out[0..3]. */
static void l2sq_rows4(const float *q, const float *r, size_t dim, float *out) {
  const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  __m512 d;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 qa = _mm512_loadu_ps(q + i), qb = _mm512_loadu_ps(q + i + 16);
#define VS_L2_STEP(acc_a, acc_b, row)                    \
  d = _mm512_sub_ps(_mm512_loadu_ps(row + i), qa);       \
  acc_a = _mm512_fmadd_ps(d, d, acc_a);                  \
  d = _mm512_sub_ps(_mm512_loadu_ps(row + i + 16), qb);  \
  acc_b = _mm512_fmadd_ps(d, d, acc_b);
    VS_L2_STEP(a0, b0, r0)
    VS_L2_STEP(a1, b1, r1)
    VS_L2_STEP(a2, b2, r2)
    VS_L2_STEP(a3, b3, r3)
#undef VS_L2_STEP
  }
  /* then at most one full step of 16 and one masked step: masked loads
   * only for the tail, they are markedly slower when streaming from RAM */
  for (; i < dim; i += 16) {
    __mmask16 m = tail_mask(dim - i);
    __m512 qv, v0, v1, v2, v3;
    if (m == 0xFFFF) {
      qv = _mm512_loadu_ps(q + i);
      v0 = _mm512_loadu_ps(r0 + i), v1 = _mm512_loadu_ps(r1 + i);
      v2 = _mm512_loadu_ps(r2 + i), v3 = _mm512_loadu_ps(r3 + i);
    } else {
      qv = _mm512_maskz_loadu_ps(m, q + i);
      v0 = _mm512_maskz_loadu_ps(m, r0 + i), v1 = _mm512_maskz_loadu_ps(m, r1 + i);
      v2 = _mm512_maskz_loadu_ps(m, r2 + i), v3 = _mm512_maskz_loadu_ps(m, r3 + i);
    }
    d = _mm512_sub_ps(v0, qv);
    a0 = _mm512_fmadd_ps(d, d, a0);
    d = _mm512_sub_ps(v1, qv);
    a1 = _mm512_fmadd_ps(d, d, a1);
    d = _mm512_sub_ps(v2, qv);
    a2 = _mm512_fmadd_ps(d, d, a2);
    d = _mm512_sub_ps(v3, qv);
    a3 = _mm512_fmadd_ps(d, d, a3);
  }
  _mm_storeu_ps(out, hsum4(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1),
                           _mm512_add_ps(a2, b2), _mm512_add_ps(a3, b3)));
}

static void avx512_l2sq_batch(const float *q, const float *base, size_t n, size_t dim,
                              float *out) {
  size_t j = 0;
  for (; j + 4 <= n; j += 4) l2sq_rows4(q, base + j * dim, dim, out + j);
  for (; j < n; j++) out[j] = avx512_l2sq(q, base + j * dim, dim);
}

/* Inner products of q with 4 rows starting at r, into out[0..3]. */
static void ip_rows4(const float *q, const float *r, size_t dim, float *out) {
  const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 qa = _mm512_loadu_ps(q + i), qb = _mm512_loadu_ps(q + i + 16);
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + i), qa, a0);
    b0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + i + 16), qb, b0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + i), qa, a1);
    b1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + i + 16), qb, b1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + i), qa, a2);
    b2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + i + 16), qb, b2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + i), qa, a3);
    b3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + i + 16), qb, b3);
  }
  for (; i < dim; i += 16) { /* one full step at most, then the tail */
    __mmask16 m = tail_mask(dim - i);
    __m512 qv, v0, v1, v2, v3;
    if (m == 0xFFFF) {
      qv = _mm512_loadu_ps(q + i);
      v0 = _mm512_loadu_ps(r0 + i), v1 = _mm512_loadu_ps(r1 + i);
      v2 = _mm512_loadu_ps(r2 + i), v3 = _mm512_loadu_ps(r3 + i);
    } else {
      qv = _mm512_maskz_loadu_ps(m, q + i);
      v0 = _mm512_maskz_loadu_ps(m, r0 + i), v1 = _mm512_maskz_loadu_ps(m, r1 + i);
      v2 = _mm512_maskz_loadu_ps(m, r2 + i), v3 = _mm512_maskz_loadu_ps(m, r3 + i);
    }
    a0 = _mm512_fmadd_ps(v0, qv, a0);
    a1 = _mm512_fmadd_ps(v1, qv, a1);
    a2 = _mm512_fmadd_ps(v2, qv, a2);
    a3 = _mm512_fmadd_ps(v3, qv, a3);
  }
  _mm_storeu_ps(out, hsum4(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1),
                           _mm512_add_ps(a2, b2), _mm512_add_ps(a3, b3)));
}

static void avx512_ip_batch(const float *q, const float *base, size_t n, size_t dim,
                            float *out) {
  size_t j = 0;
  for (; j + 4 <= n; j += 4) ip_rows4(q, base + j * dim, dim, out + j);
  for (; j < n; j++) out[j] = avx512_ip(q, base + j * dim, dim);
}

/* One 16-float step of dot_norm_rows4 with chunks loaded by LOAD(ptr). */
#define VS_DOT_NORM_STEP(LOAD)                        \
  do {                                                \
    __m512 qv = LOAD(q + i);                          \
    __m512 v0 = LOAD(r0 + i), v1 = LOAD(r1 + i);      \
    __m512 v2 = LOAD(r2 + i), v3 = LOAD(r3 + i);      \
    d0 = _mm512_fmadd_ps(v0, qv, d0);                 \
    n0 = _mm512_fmadd_ps(v0, v0, n0);                 \
    d1 = _mm512_fmadd_ps(v1, qv, d1);                 \
    n1 = _mm512_fmadd_ps(v1, v1, n1);                 \
    d2 = _mm512_fmadd_ps(v2, qv, d2);                 \
    n2 = _mm512_fmadd_ps(v2, v2, n2);                 \
    d3 = _mm512_fmadd_ps(v3, qv, d3);                 \
    n3 = _mm512_fmadd_ps(v3, v3, n3);                 \
  } while (0)
#define VS_MASKED_LOAD(p) _mm512_maskz_loadu_ps(m, (p))

/* Dots of q with 4 rows starting at r and the rows' squared norms. */
static void dot_norm_rows4(const float *q, const float *r, size_t dim, __m128 *dots,
                           __m128 *norms) {
  const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
  __m512 d0 = _mm512_setzero_ps(), d1 = d0, d2 = d0, d3 = d0;
  __m512 n0 = d0, n1 = d0, n2 = d0, n3 = d0;
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) VS_DOT_NORM_STEP(_mm512_loadu_ps);
  if (i < dim) {
    __mmask16 m = tail_mask(dim - i);
    VS_DOT_NORM_STEP(VS_MASKED_LOAD);
  }
  *dots = hsum4(d0, d1, d2, d3);
  *norms = hsum4(n0, n1, n2, n3);
}
#undef VS_MASKED_LOAD
#undef VS_DOT_NORM_STEP

static void avx512_cosine_batch(const float *q, float q_norm, const float *base, size_t n,
                                size_t dim, float *out) {
  size_t j = 0;
  if (q_norm == 0.0f) {
    for (; j < n; j++) out[j] = 0.0f;
    return;
  }
  __m128 qn = _mm_set1_ps(q_norm);
  for (; j + 4 <= n; j += 4) {
    __m128 dots, norms;
    dot_norm_rows4(q, base + j * dim, dim, &dots, &norms);
    __m128 zero = _mm_cmpeq_ps(norms, _mm_setzero_ps());
    __m128 cos = _mm_div_ps(dots, _mm_mul_ps(qn, _mm_sqrt_ps(norms)));
    _mm_storeu_ps(out + j, _mm_andnot_ps(zero, cos));
  }
  for (; j < n; j++) {
    float s[3];
    avx512_dot_norms(q, base + j * dim, dim, s);
    out[j] = s[2] == 0.0f ? 0.0f : s[0] / (q_norm * sqrtf(s[2]));
  }
}

const vs_simd_kernels vs_simd_avx512_kernels = {
    .l2sq = avx512_l2sq,
    .ip = avx512_ip,
    .cosine = avx512_cosine,
    .l2sq_batch = avx512_l2sq_batch,
    .ip_batch = avx512_ip_batch,
    .cosine_batch = avx512_cosine_batch,
};

#else /* not x86: never selected by the dispatcher */
#include "simd/simd.h"
const vs_simd_kernels vs_simd_avx512_kernels = {0};
#endif
