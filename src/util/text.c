/*
 * text.c -- strict parsing of numbers written as text, shared by the
 * engine's JSON row reader and the server's request readers.
 *
 * strtoll alone accepts leading spaces, a '+', trailing garbage (when the
 * caller forgets to look at `end`) and saturates on overflow; the readers
 * of primary keys and Int64 values sent as strings must reject all of
 * that, so the checks live here once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

bool vs_parse_int64(const char *s, int64_t *out) {
  const char *digits = s[0] == '-' ? s + 1 : s;
  if (!digits[0] || strspn(digits, "0123456789") != strlen(digits)) return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}
