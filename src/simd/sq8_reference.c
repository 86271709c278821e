/*
 * sq8_reference.c -- the plain C SQ8 kernels, and the choice of level.
 *
 * The reference kernels define what every level computes (sq8.h): float
 * sums in index order, the code byte converted to float exactly (0..255).
 * The AVX2 and AVX-512 files agree up to summation order.
 *
 * Choice of level: the float kernels' choice (vs_simd_active_level(), which
 * already applies cpuid, XCR0 and the VS_SIMD override) is followed, so one
 * variable forces both families.  The AVX-512 SQ8 kernels additionally use
 * AVX512BW+VL byte-masked loads, which simd_dispatch.c does not check, so
 * the AVX-512 level is taken only when cpuid leaf 7 also reports BW (bit
 * 30) and VL (bit 31); otherwise AVX2.  The choice is made once under
 * pthread_once and never changes, so readers need no lock.
 *
 * Alternative rejected: a second VS_SQ8 variable (two knobs that must be
 * kept in step for a benchmark to mean anything).
 */
#include <pthread.h>
#include <stdbool.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define VS_SQ8_X86 1
#endif

#include "simd/sq8.h"

static float ref_ip(const float *a, const uint8_t *code, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; i++) sum += a[i] * (float)code[i];
  return sum;
}

static float ref_l2(const float *q, const float *w, const uint8_t *code, size_t dim) {
  float sum = 0.0f;
  for (size_t i = 0; i < dim; i++) {
    float d = q[i] - (float)code[i];
    sum += w[i] * d * d;
  }
  return sum;
}

const vs_sq8_kernels vs_sq8_reference_kernels = {ref_ip, ref_l2};

/* ------------------------------------------------------------ dispatch */

static pthread_once_t sq8_once = PTHREAD_ONCE_INIT;
static vs_simd_level_id sq8_best = VS_SIMD_REFERENCE;
static vs_simd_level_id sq8_active = VS_SIMD_REFERENCE;
static const vs_sq8_kernels *sq8_table = &vs_sq8_reference_kernels;

static bool cpu_has_avx512_bw_vl(void) {
#ifdef VS_SQ8_X86
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return (ebx & (1u << 30)) && (ebx & (1u << 31));
#else
  return false;
#endif
}

/* The SQ8 level a float-kernel level maps to on this CPU. */
static vs_simd_level_id sq8_level_for(vs_simd_level_id level) {
  if (level == VS_SIMD_AVX512 && !cpu_has_avx512_bw_vl()) return VS_SIMD_AVX2;
  return level;
}

static const vs_sq8_kernels *table_of(vs_simd_level_id level) {
  switch (level) {
    case VS_SIMD_AVX512:
      return &vs_sq8_avx512_kernels;
    case VS_SIMD_AVX2:
      return &vs_sq8_avx2_kernels;
    case VS_SIMD_REFERENCE:
    default:
      return &vs_sq8_reference_kernels;
  }
}

static void sq8_setup(void) {
  vs_simd_level_id best = VS_SIMD_REFERENCE;
  for (int level = VS_SIMD_AVX512; level > VS_SIMD_REFERENCE; level--) {
    if (vs_simd_kernels_for((vs_simd_level_id)level)) {
      best = (vs_simd_level_id)level;
      break;
    }
  }
  sq8_best = sq8_level_for(best);
  sq8_active = sq8_level_for(vs_simd_active_level());
  sq8_table = table_of(sq8_active);
}

const vs_sq8_kernels *vs_sq8(void) {
  pthread_once(&sq8_once, sq8_setup);
  return sq8_table;
}

vs_simd_level_id vs_sq8_active_level(void) {
  pthread_once(&sq8_once, sq8_setup);
  return sq8_active;
}

const vs_sq8_kernels *vs_sq8_kernels_for(vs_simd_level_id level) {
  pthread_once(&sq8_once, sq8_setup);
  if (level < VS_SIMD_REFERENCE || level > sq8_best) return NULL;
  return table_of(level);
}
