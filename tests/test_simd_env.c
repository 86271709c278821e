/*
 * test_simd_env.c -- the VS_SIMD override, seen from a fresh process.
 *
 * The level is chosen once per process, so each case runs in a forked child
 * that sets VS_SIMD before its first use of the kernels and reports through
 * its exit status.  The parent never touches the dispatcher itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "simd/simd.h"
#include "util/util.h"

/* Best level this CPU supports (call only in a child: it initialises). */
static vs_simd_level_id best_level(void) {
  if (vs_simd_kernels_for(VS_SIMD_AVX512)) return VS_SIMD_AVX512;
  if (vs_simd_kernels_for(VS_SIMD_AVX2)) return VS_SIMD_AVX2;
  return VS_SIMD_REFERENCE;
}

/* In the child: VS_SIMD=value (NULL = unset); expect the level `want`, or
 * the best level when want < 0, or min(want, best) when capped. */
static int child_check(const char *value, int want) {
  if (value) {
    setenv("VS_SIMD", value, 1);
  } else {
    unsetenv("VS_SIMD");
  }
  const vs_simd_kernels *table = vs_simd(); /* first use: reads VS_SIMD */
  vs_simd_level_id best = best_level();
  vs_simd_level_id expect = want < 0 ? best : (vs_simd_level_id)want;
  if (expect > best) expect = best;
  if (vs_simd_active_level() != expect) return 1;
  if (table != vs_simd_kernels_for(expect)) return 2;
  if (strcmp(vs_simd_level(), vs_simd_level_name(expect)) != 0) return 3;
  /* a later change of the variable has no effect */
  setenv("VS_SIMD", expect == VS_SIMD_REFERENCE ? "avx2" : "reference", 1);
  vs_simd_init();
  if (vs_simd_active_level() != expect || vs_simd() != table) return 4;
  return 0;
}

static void run_case(const char *value, int want) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(child_check(value, want));
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) != 0) {
    fail_msg("VS_SIMD=%s: child check %d failed", value ? value : "(unset)",
             WEXITSTATUS(status));
  }
}

static void test_force_reference(void **state) { run_case("reference", VS_SIMD_REFERENCE); }
static void test_force_reference_case(void **state) { run_case("Reference", VS_SIMD_REFERENCE); }
static void test_force_avx2(void **state) { run_case("avx2", VS_SIMD_AVX2); }
static void test_force_avx512(void **state) { run_case("avx512", VS_SIMD_AVX512); }
static void test_unset_is_best(void **state) { run_case(NULL, -1); }
static void test_auto_is_best(void **state) { run_case("auto", -1); }
static void test_unknown_is_best(void **state) { run_case("neon", -1); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_force_reference), cmocka_unit_test(test_force_reference_case),
      cmocka_unit_test(test_force_avx2),      cmocka_unit_test(test_force_avx512),
      cmocka_unit_test(test_unset_is_best),   cmocka_unit_test(test_auto_is_best),
      cmocka_unit_test(test_unknown_is_best),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
