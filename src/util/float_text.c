/*
 * float_text.c -- the shortest decimal of a float32, as the double nearest
 * to it: what the server renders for Float cells, vector components and
 * search distances (render.c), so that a client reads back 0.1 rather
 * than 0.10000000149011612.
 *
 * The definition is the one render.c always used: the smallest N (1..9)
 * whose correctly rounded N-digit decimal reads back (strtof) as the same
 * float; that decimal, parsed as a double.  The plain way to compute it,
 * snprintf("%.Ng") and strtof until the text reads back, costs two or
 * three glibc float conversions (multi-precision arithmetic inside) per
 * value: in the `make bench-server` profile about 4% of the server's CPU
 * for the ten distances of a k=10 search.
 *
 * The fast path does the same with doubles and no text.  For each N the
 * float v, scaled by the exact power of ten 10^k (k = N-1-e, e the decimal
 * exponent of v, |k| <= 22 so 10^k is exact), is rounded to an integer n:
 * the correctly rounded N-digit decimal is n x 10^-k.  It reads back as v
 * exactly when it lies strictly inside v's rounding interval (lo, hi),
 * whose ends -- the midpoints to the neighbouring floats -- are exact
 * doubles; the test compares n with lo x 10^k and hi x 10^k.  Every
 * product carries one rounding error, at most 2^-24 for the integers up to
 * 10^9 that appear, so a decision is certain when its two sides differ by
 * more than MARGIN; when they do not -- a product within 1e-6 of a
 * half-integer or of an interval end, ties included -- the value takes the
 * plain path instead, as do zero, subnormals and magnitudes outside
 * [1e-30, 1e30].  The answer n / 10^k (or n x 10^-k) is one correctly
 * rounded operation on exact operands, so it is the double strtod would
 * give for the decimal text.  test_float_text compares both paths over
 * millions of floats.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define MARGIN 1e-6

static const double pow10_table[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

double vs_float_shortest_plain(float f) {
  if (!isfinite(f)) return (double)f;
  char text[32], shorter[32];
  snprintf(text, sizeof text, "%.8g", (double)f);
  if (strtof(text, NULL) != f) {
    snprintf(text, sizeof text, "%.9g", (double)f); /* 9 digits always read back */
  } else {
    for (int digits = 7; digits >= 1; digits--) {
      snprintf(shorter, sizeof shorter, "%.*g", digits, (double)f);
      if (strtof(shorter, NULL) != f) break;
      memcpy(text, shorter, sizeof text);
    }
  }
  return strtod(text, NULL);
}

/* x scaled by 10^k, |k| <= 22: one correctly rounded operation. */
static double scale10(double x, int k) {
  return k >= 0 ? x * pow10_table[k] : x / pow10_table[-k];
}

/* The shortest decimal of v > 0 (normal, in range) as a double, or NAN
 * when some decision is too close to call. */
static double shortest_fast(float v) {
  double d = (double)v;
  double lo = (d + (double)nextafterf(v, 0.0f)) / 2.0;
  double hi = (d + (double)nextafterf(v, INFINITY)) / 2.0;
  int e = (int)floor(log10(d));
  if (e < -22 || e > 22) return NAN;
  double lead = scale10(d, -e); /* in [1, 10) unless log10 rounded across */
  if (lead >= 10.0) e++;
  else if (lead < 1.0) e--;
  for (int digits = 1; digits <= 9; digits++) {
    int k = digits - 1 - e;
    if (k > 22 || k < -22) return NAN;
    double scaled = scale10(d, k);
    double n = nearbyint(scaled);
    if (fabs(scaled - floor(scaled) - 0.5) < MARGIN) return NAN; /* near a tie */
    double lo_k = scale10(lo, k), hi_k = scale10(hi, k);
    if (fabs(n - lo_k) < MARGIN || fabs(n - hi_k) < MARGIN) return NAN;
    if (n > lo_k && n < hi_k) return scale10(n, -k);
  }
  return NAN;
}

double vs_float_shortest(float f) {
  float v = fabsf(f);
  if (isnormal(v) && v >= 1e-30f && v <= 1e30f) {
    double r = shortest_fast(v);
    if (!isnan(r)) return f < 0 ? -r : r;
  }
  return vs_float_shortest_plain(f);
}
