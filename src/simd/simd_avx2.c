/*
 * simd_avx2.c -- distance kernels for AVX2 + FMA (8 floats per register).
 *
 * Compiled with -mavx2 -mfma (CMakeLists.txt sets the flags on this file
 * only); nothing here may run before simd_dispatch.c has checked, with
 * cpuid and xgetbv, that the CPU and the OS support AVX2 and FMA.  No other
 * file may call these functions except through the table at the bottom.
 *
 * Single kernels (l2sq, ip, cosine) keep four independent accumulators and
 * consume 32 floats per iteration, so consecutive FMAs do not wait on each
 * other's 4-cycle latency; then 8 at a time; the last dim % 8 floats are
 * read with a masked load (_mm256_maskload_ps never touches the masked-out
 * bytes, so reading at the very end of a mapping is safe).  Masked loads
 * are used for the tail only: in full steps they measured markedly slower
 * than plain loads when rows stream from RAM.
 *
 * Batched kernels are the inner loop of exact search over a segment's
 * contiguous rows.  They take 4 rows at a time against the query: each
 * query chunk is loaded once for 4 rows, and each row has 2 accumulators
 * (16 floats per step), giving 8 independent FMA chains.  The 4 sums are
 * reduced together with horizontal adds and stored with one 128-bit store.
 * Left-over rows (n % 4) go through the single kernels.  Rows are
 * streamed sequentially, which the hardware prefetcher follows on its own;
 * an explicit prefetch of the next group of rows measured no gain (within
 * noise, 80 MB of rows, dims 16-960), so there is none.
 *
 * Results differ from simd_reference.c only by summation order (the tests
 * bound the difference).  Pure functions; no locking.
 *
 * Alternative rejected: _mm256_dp_ps (slow, 4-wide per lane) and hadd in
 * the inner loop (a shuffle per step instead of one reduction at the end).
 */
#if defined(__x86_64__) || defined(__i386__)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "simd_avx2.c must be compiled with -mavx2 -mfma"
#endif

#include <immintrin.h>
#include <math.h>

#include "simd/simd.h"

static const int32_t tail_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                            0,  0,  0,  0,  0,  0,  0,  0};

/* Lanes [0, rest) set, rest in [0, 8]. */
static inline __m256i tail_mask(size_t rest) {
  return _mm256_loadu_si256((const __m256i *)(tail_mask_table + 8 - rest));
}

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 shuf = _mm_movehdup_ps(s);
  s = _mm_add_ps(s, shuf);
  shuf = _mm_movehl_ps(shuf, s);
  s = _mm_add_ss(s, shuf);
  return _mm_cvtss_f32(s);
}

/* [sum(a), sum(b), sum(c), sum(d)] */
static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  __m256 ab = _mm256_hadd_ps(a, b);
  __m256 cd = _mm256_hadd_ps(c, d);
  __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* ------------------------------------------------------------- singles */

static float avx2_l2sq(const float *a, const float *b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  for (; i + 8 <= dim; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d, d, s0);
  }
  if (i < dim) {
    __m256i m = tail_mask(dim - i);
    __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
    s1 = _mm256_fmadd_ps(d, d, s1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static float avx2_ip(const float *a, const float *b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  if (i < dim) {
    __m256i m = tail_mask(dim - i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* dot, |a|^2 and |b|^2 in one pass (two chains each). */
static void avx2_dot_norms(const float *a, const float *b, size_t dim, float out[3]) {
  __m256 dot0 = _mm256_setzero_ps(), dot1 = dot0, na0 = dot0, na1 = dot0, nb0 = dot0,
         nb1 = dot0;
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 a0 = _mm256_loadu_ps(a + i), a1 = _mm256_loadu_ps(a + i + 8);
    __m256 b0 = _mm256_loadu_ps(b + i), b1 = _mm256_loadu_ps(b + i + 8);
    dot0 = _mm256_fmadd_ps(a0, b0, dot0);
    dot1 = _mm256_fmadd_ps(a1, b1, dot1);
    na0 = _mm256_fmadd_ps(a0, a0, na0);
    na1 = _mm256_fmadd_ps(a1, a1, na1);
    nb0 = _mm256_fmadd_ps(b0, b0, nb0);
    nb1 = _mm256_fmadd_ps(b1, b1, nb1);
  }
  for (; i < dim; i += 8) {
    __m256 a0, b0;
    if (i + 8 <= dim) {
      a0 = _mm256_loadu_ps(a + i), b0 = _mm256_loadu_ps(b + i);
    } else {
      __m256i m = tail_mask(dim - i);
      a0 = _mm256_maskload_ps(a + i, m), b0 = _mm256_maskload_ps(b + i, m);
    }
    dot0 = _mm256_fmadd_ps(a0, b0, dot0);
    na0 = _mm256_fmadd_ps(a0, a0, na0);
    nb0 = _mm256_fmadd_ps(b0, b0, nb0);
  }
  out[0] = hsum(_mm256_add_ps(dot0, dot1));
  out[1] = hsum(_mm256_add_ps(na0, na1));
  out[2] = hsum(_mm256_add_ps(nb0, nb1));
}

static float avx2_cosine(const float *a, const float *b, size_t dim) {
  float s[3];
  avx2_dot_norms(a, b, dim, s);
  if (s[1] == 0.0f || s[2] == 0.0f) return 0.0f;
  return s[0] / (sqrtf(s[1]) * sqrtf(s[2]));
}

/* ------------------------------------------------------------- batches */

/* Loads 8 floats at offset i of q (v[0]) and of 4 rows starting at r
 * (v[1..4]); a masked load when fewer than 8 remain.  Masked loads are kept
 * to the tail: they are markedly slower than plain ones when streaming. */
static inline void rows4_chunk(const float *q, const float *r, size_t dim, size_t i,
                               __m256 v[5]) {
  if (i + 8 <= dim) {
    v[0] = _mm256_loadu_ps(q + i);
    for (int k = 0; k < 4; k++) v[k + 1] = _mm256_loadu_ps(r + (size_t)k * dim + i);
  } else {
    __m256i m = tail_mask(dim - i);
    v[0] = _mm256_maskload_ps(q + i, m);
    for (int k = 0; k < 4; k++) v[k + 1] = _mm256_maskload_ps(r + (size_t)k * dim + i, m);
  }
}

/* L2 of q against 4 rows starting at r (row stride dim), into out[0..3]. */
static void l2sq_rows4(const float *q, const float *r, size_t dim, float *out) {
  const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 qa = _mm256_loadu_ps(q + i), qb = _mm256_loadu_ps(q + i + 8);
    __m256 d;
#define VS_L2_STEP(acc_a, acc_b, row)                    \
  d = _mm256_sub_ps(_mm256_loadu_ps(row + i), qa);       \
  acc_a = _mm256_fmadd_ps(d, d, acc_a);                  \
  d = _mm256_sub_ps(_mm256_loadu_ps(row + i + 8), qb);   \
  acc_b = _mm256_fmadd_ps(d, d, acc_b);
    VS_L2_STEP(a0, b0, r0)
    VS_L2_STEP(a1, b1, r1)
    VS_L2_STEP(a2, b2, r2)
    VS_L2_STEP(a3, b3, r3)
#undef VS_L2_STEP
  }
  for (; i < dim; i += 8) { /* one full step at most, then the tail */
    __m256 v[5];
    rows4_chunk(q, r, dim, i, v);
    __m256 d0 = _mm256_sub_ps(v[1], v[0]), d1 = _mm256_sub_ps(v[2], v[0]);
    __m256 d2 = _mm256_sub_ps(v[3], v[0]), d3 = _mm256_sub_ps(v[4], v[0]);
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    a1 = _mm256_fmadd_ps(d1, d1, a1);
    a2 = _mm256_fmadd_ps(d2, d2, a2);
    a3 = _mm256_fmadd_ps(d3, d3, a3);
  }
  _mm_storeu_ps(out, hsum4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1),
                           _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3)));
}

static void avx2_l2sq_batch(const float *q, const float *base, size_t n, size_t dim,
                            float *out) {
  size_t j = 0;
  for (; j + 4 <= n; j += 4) l2sq_rows4(q, base + j * dim, dim, out + j);
  for (; j < n; j++) out[j] = avx2_l2sq(q, base + j * dim, dim);
}

/* Inner products of q with 4 rows starting at r, into out[0..3]. */
static void ip_rows4(const float *q, const float *r, size_t dim, float *out) {
  const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 qa = _mm256_loadu_ps(q + i), qb = _mm256_loadu_ps(q + i + 8);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + i), qa, a0);
    b0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + i + 8), qb, b0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + i), qa, a1);
    b1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + i + 8), qb, b1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + i), qa, a2);
    b2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + i + 8), qb, b2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + i), qa, a3);
    b3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + i + 8), qb, b3);
  }
  for (; i < dim; i += 8) { /* one full step at most, then the tail */
    __m256 v[5];
    rows4_chunk(q, r, dim, i, v);
    a0 = _mm256_fmadd_ps(v[1], v[0], a0);
    a1 = _mm256_fmadd_ps(v[2], v[0], a1);
    a2 = _mm256_fmadd_ps(v[3], v[0], a2);
    a3 = _mm256_fmadd_ps(v[4], v[0], a3);
  }
  _mm_storeu_ps(out, hsum4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1),
                           _mm256_add_ps(a2, b2), _mm256_add_ps(a3, b3)));
}

static void avx2_ip_batch(const float *q, const float *base, size_t n, size_t dim,
                          float *out) {
  size_t j = 0;
  for (; j + 4 <= n; j += 4) ip_rows4(q, base + j * dim, dim, out + j);
  for (; j < n; j++) out[j] = avx2_ip(q, base + j * dim, dim);
}

/* One 8-float step of dot_norm_rows4 with chunks loaded by LOAD(ptr). */
#define VS_DOT_NORM_STEP(LOAD)                                               \
  do {                                                                       \
    __m256 qv = LOAD(q + i);                                                 \
    __m256 v0 = LOAD(r0 + i), v1 = LOAD(r1 + i);                             \
    __m256 v2 = LOAD(r2 + i), v3 = LOAD(r3 + i);                             \
    d0 = _mm256_fmadd_ps(v0, qv, d0);                                        \
    n0 = _mm256_fmadd_ps(v0, v0, n0);                                        \
    d1 = _mm256_fmadd_ps(v1, qv, d1);                                        \
    n1 = _mm256_fmadd_ps(v1, v1, n1);                                        \
    d2 = _mm256_fmadd_ps(v2, qv, d2);                                        \
    n2 = _mm256_fmadd_ps(v2, v2, n2);                                        \
    d3 = _mm256_fmadd_ps(v3, qv, d3);                                        \
    n3 = _mm256_fmadd_ps(v3, v3, n3);                                        \
  } while (0)
#define VS_MASKED_LOAD(p) _mm256_maskload_ps((p), m)

/* Dots of q with 4 rows starting at r and the rows' squared norms. */
static void dot_norm_rows4(const float *q, const float *r, size_t dim, __m128 *dots,
                           __m128 *norms) {
  const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
  __m256 d0 = _mm256_setzero_ps(), d1 = d0, d2 = d0, d3 = d0;
  __m256 n0 = d0, n1 = d0, n2 = d0, n3 = d0;
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) VS_DOT_NORM_STEP(_mm256_loadu_ps);
  if (i < dim) {
    __m256i m = tail_mask(dim - i);
    VS_DOT_NORM_STEP(VS_MASKED_LOAD);
  }
  *dots = hsum4(d0, d1, d2, d3);
  *norms = hsum4(n0, n1, n2, n3);
}
#undef VS_MASKED_LOAD
#undef VS_DOT_NORM_STEP

static void avx2_cosine_batch(const float *q, float q_norm, const float *base, size_t n,
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
    avx2_dot_norms(q, base + j * dim, dim, s);
    out[j] = s[2] == 0.0f ? 0.0f : s[0] / (q_norm * sqrtf(s[2]));
  }
}

const vs_simd_kernels vs_simd_avx2_kernels = {
    .l2sq = avx2_l2sq,
    .ip = avx2_ip,
    .cosine = avx2_cosine,
    .l2sq_batch = avx2_l2sq_batch,
    .ip_batch = avx2_ip_batch,
    .cosine_batch = avx2_cosine_batch,
};

#else /* not x86: never selected by the dispatcher */
#include "simd/simd.h"
const vs_simd_kernels vs_simd_avx2_kernels = {0};
#endif
