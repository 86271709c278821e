/*
 * simd.h -- distance kernels, dispatched once at start-up.
 *
 * Each kernel exists as a plain C reference (simd_reference.c), an AVX2+FMA
 * version (simd_avx2.c, compiled with -mavx2 -mfma) and an AVX-512F version
 * (simd_avx512.c, compiled with -mavx512f).  vs_simd_init() reads cpuid (and
 * the OS's XSAVE state via xgetbv) and fills one table of function pointers;
 * the environment variable VS_SIMD=reference|avx2|avx512 forces a level (a
 * level the CPU lacks falls back to the best available, with a warning).
 */
#ifndef VS_SIMD_H
#define VS_SIMD_H

#include <stddef.h>
#include <stdint.h>

typedef enum vs_simd_level_id {
  VS_SIMD_REFERENCE = 0,
  VS_SIMD_AVX2 = 1,
  VS_SIMD_AVX512 = 2
} vs_simd_level_id;

typedef struct vs_simd_kernels {
  /* sum (a[i]-b[i])^2 */
  float (*l2sq)(const float *a, const float *b, size_t dim);
  /* sum a[i]*b[i] */
  float (*ip)(const float *a, const float *b, size_t dim);
  /* a.b / (|a||b|); 0 when either norm is 0 */
  float (*cosine)(const float *a, const float *b, size_t dim);
  /* Batched: out[j] = kernel(q, base + j*dim) for j < n.  base rows are
   * contiguous.  These are the hot loops of exact search. */
  void (*l2sq_batch)(const float *q, const float *base, size_t n, size_t dim,
                     float *out);
  void (*ip_batch)(const float *q, const float *base, size_t n, size_t dim,
                   float *out);
  /* cosine with a precomputed query norm |q| (> 0) */
  void (*cosine_batch)(const float *q, float q_norm, const float *base,
                       size_t n, size_t dim, float *out);
} vs_simd_kernels;

/* Idempotent and thread-safe; called by vs_open and vs_simd(). */
void vs_simd_init(void);
/* The active table (initialises on first use). */
const vs_simd_kernels *vs_simd(void);
vs_simd_level_id vs_simd_active_level(void);
const char *vs_simd_level_name(vs_simd_level_id level);
/* The table of a given level, or NULL if the CPU cannot run it (tests). */
const vs_simd_kernels *vs_simd_kernels_for(vs_simd_level_id level);

/* Per-ISA tables (defined in their own files). */
extern const vs_simd_kernels vs_simd_reference_kernels;
extern const vs_simd_kernels vs_simd_avx2_kernels;
extern const vs_simd_kernels vs_simd_avx512_kernels;

#endif /* VS_SIMD_H */
