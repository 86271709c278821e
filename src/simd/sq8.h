/*
 * sq8.h -- asymmetric distance kernels between a float query and an 8-bit
 * code (one uint8 per dimension), dispatched once like simd.h.
 *
 * The caller chooses what the codes mean (index/hnsw*.c: per-dimension
 * x[i] ~ min[i] + scale[i] * code[i]) and transforms the query once into
 * the code's space, so that the kernels are plain sums over the code bytes:
 *
 *   ip(a, code, dim)    = sum a[i] * code[i]
 *   l2(q, w, code, dim) = sum w[i] * (q[i] - code[i])^2
 *
 * ip is the hot loop of HNSW_SQ8 (both L2 and inner-product metrics reduce
 * to it plus per-row and per-query constants); l2 is the direct weighted
 * form, numerically the most robust (no cancellation), kept for callers
 * that cannot precompute a per-row term.
 *
 * Levels: reference (sq8_reference.c, plain C, also the dispatch), AVX2+FMA
 * (sq8_avx2.c) and AVX-512 F+BW+VL (sq8_avx512.c).  The level follows
 * vs_simd_active_level() -- so VS_SIMD=reference|avx2|avx512 forces it the
 * same way -- except that AVX-512 also needs the BW and VL extensions (for
 * byte-masked tail loads); without them the AVX2 kernels run.
 *
 * Pure functions, any dim >= 0, any alignment; they never read past
 * code[dim - 1] or a[dim - 1].
 */
#ifndef VS_SIMD_SQ8_H
#define VS_SIMD_SQ8_H

#include <stddef.h>
#include <stdint.h>

#include "simd/simd.h"

typedef struct vs_sq8_kernels {
  /* sum a[i] * code[i] */
  float (*ip)(const float *a, const uint8_t *code, size_t dim);
  /* sum w[i] * (q[i] - code[i])^2 */
  float (*l2)(const float *q, const float *w, const uint8_t *code, size_t dim);
} vs_sq8_kernels;

/* The active table (initialises on first use; thread-safe). */
const vs_sq8_kernels *vs_sq8(void);
vs_simd_level_id vs_sq8_active_level(void);
/* The table of a level, or NULL when this CPU cannot run it (tests). */
const vs_sq8_kernels *vs_sq8_kernels_for(vs_simd_level_id level);

extern const vs_sq8_kernels vs_sq8_reference_kernels;
extern const vs_sq8_kernels vs_sq8_avx2_kernels;
extern const vs_sq8_kernels vs_sq8_avx512_kernels;

#endif /* VS_SIMD_SQ8_H */
