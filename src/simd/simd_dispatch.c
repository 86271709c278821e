/*
 * simd_dispatch.c -- picks the distance kernels once, at start-up.
 *
 * What the CPU can run is read with cpuid and xgetbv:
 *
 *   level     cpuid bits needed                                 XCR0 bits (OS saves)
 *   --------  ------------------------------------------------  ----------------------------
 *   avx2      1:ECX OSXSAVE(27) AVX(28) FMA(12); 7.0:EBX AVX2(5)  SSE(1) AVX(2)
 *   avx512    the above + 7.0:EBX AVX512F(16) DQ(17) BW(30) VL(31) + opmask(5) ZMM_Hi256(6)
 *                                                                 Hi16_ZMM(7)
 *
 * The CPU flag alone is not enough: a kernel (or hypervisor) that does not
 * save the wide registers on context switch makes them unusable, and only
 * XCR0 (read with xgetbv, legal once OSXSAVE is set) says so.  xgetbv is
 * issued as inline assembly so this file needs no -mxsave, and nothing here
 * is compiled with wide-ISA flags: only simd_avx2.c / simd_avx512.c are.
 *
 * Choice: the best level the CPU supports, unless the environment variable
 * VS_SIMD is reference|avx2|avx512 (case-insensitive; "auto" or empty =
 * best).  A forced level the CPU lacks, or an unknown value, logs a warning
 * and uses the best available level.
 *
 * Invariants and locking: detection and choice run exactly once, under
 * pthread_once; afterwards the active table pointer never changes, so every
 * reader may use it without a lock.  VS_SIMD is read at that moment only:
 * setting it later has no effect in this process.
 *
 * Alternatives rejected: GCC function multi-versioning / ifunc (hides the
 * choice from /metrics and cannot be forced by an environment variable);
 * compiling for the build machine's CPU (a binary that dies with SIGILL on an older CPU);
 * choosing per call (a branch in the hottest loop for nothing).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define VS_SIMD_X86 1
#endif

#include "simd/simd.h"
#include "util/util.h"

/* Chooses the level to use given VS_SIMD's value (NULL = unset) and the best
 * level the CPU supports; logs a warning on an unknown or unsupported
 * request.  Not static so tests can check the fallback rules on any CPU. */
vs_simd_level_id vs_simd_choose_level(const char *request, vs_simd_level_id best);

static pthread_once_t simd_once = PTHREAD_ONCE_INIT;
static vs_simd_level_id simd_best = VS_SIMD_REFERENCE;   /* what the CPU can run */
static vs_simd_level_id simd_active = VS_SIMD_REFERENCE; /* what we use */
static const vs_simd_kernels *simd_table = &vs_simd_reference_kernels;

#ifdef VS_SIMD_X86
static uint64_t read_xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t)hi << 32 | lo;
}

static vs_simd_level_id detect_cpu(void) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return VS_SIMD_REFERENCE;
  bool osxsave = ecx & (1u << 27), avx = ecx & (1u << 28), fma = ecx & (1u << 12);
  if (!osxsave || !avx || !fma) return VS_SIMD_REFERENCE;
  uint64_t xcr0 = read_xcr0();
  if ((xcr0 & 0x6) != 0x6) return VS_SIMD_REFERENCE;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return VS_SIMD_REFERENCE;
  if (!(ebx & (1u << 5))) return VS_SIMD_REFERENCE;
  bool avx512f = ebx & (1u << 16), avx512dq = ebx & (1u << 17);
  /* *_avx512.c files are compiled with BW and VL as well: require them. */
  bool avx512bw = ebx & (1u << 30), avx512vl = ebx & (1u << 31);
  if (avx512f && avx512dq && avx512bw && avx512vl && (xcr0 & 0xE0) == 0xE0) return VS_SIMD_AVX512;
  return VS_SIMD_AVX2;
}
#else
static vs_simd_level_id detect_cpu(void) { return VS_SIMD_REFERENCE; }
#endif

static const vs_simd_kernels *table_of(vs_simd_level_id level) {
  switch (level) {
    case VS_SIMD_AVX512:
      return &vs_simd_avx512_kernels;
    case VS_SIMD_AVX2:
      return &vs_simd_avx2_kernels;
    case VS_SIMD_REFERENCE:
    default:
      return &vs_simd_reference_kernels;
  }
}

const char *vs_simd_level_name(vs_simd_level_id level) {
  switch (level) {
    case VS_SIMD_AVX512:
      return "avx512";
    case VS_SIMD_AVX2:
      return "avx2";
    case VS_SIMD_REFERENCE:
      return "reference";
  }
  return "unknown";
}

vs_simd_level_id vs_simd_choose_level(const char *request, vs_simd_level_id best) {
  if (!request || !*request || strcasecmp(request, "auto") == 0) return best;
  for (int level = VS_SIMD_REFERENCE; level <= VS_SIMD_AVX512; level++) {
    if (strcasecmp(request, vs_simd_level_name((vs_simd_level_id)level)) != 0) continue;
    if ((vs_simd_level_id)level <= best) return (vs_simd_level_id)level;
    vs_log(VS_LOG_WARN, "simd", "VS_SIMD=%s requested but this CPU supports at most %s; using %s",
           request, vs_simd_level_name(best), vs_simd_level_name(best));
    return best;
  }
  vs_log(VS_LOG_WARN, "simd", "unknown VS_SIMD value '%s' (expected reference, avx2 or avx512); using %s",
         request, vs_simd_level_name(best));
  return best;
}

static void simd_setup(void) {
  simd_best = detect_cpu();
  simd_active = vs_simd_choose_level(getenv("VS_SIMD"), simd_best);
  simd_table = table_of(simd_active);
  vs_log(VS_LOG_DEBUG, "simd", "distance kernels: %s (CPU supports %s)",
         vs_simd_level_name(simd_active), vs_simd_level_name(simd_best));
}

void vs_simd_init(void) { pthread_once(&simd_once, simd_setup); }

const vs_simd_kernels *vs_simd(void) {
  vs_simd_init();
  return simd_table;
}

vs_simd_level_id vs_simd_active_level(void) {
  vs_simd_init();
  return simd_active;
}

const vs_simd_kernels *vs_simd_kernels_for(vs_simd_level_id level) {
  vs_simd_init();
  if (level < VS_SIMD_REFERENCE || level > simd_best) return NULL;
  return table_of(level);
}

const char *vs_simd_level(void) { return vs_simd_level_name(vs_simd_active_level()); }

const char *vs_version(void) { return VS_VERSION_STRING; }
