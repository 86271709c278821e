/*
 * like.c -- `like` patterns for the compiled program.
 *
 * A pattern is a list of units: % (any run of characters), _ (one
 * character) and literal characters; a backslash makes the next character
 * literal.  A "character" is a byte plus the UTF-8 continuation bytes
 * (10xxxxxx) that follow it, in the text and in the pattern alike, so `_`
 * matches one code point of valid UTF-8 and behaves predictably on invalid
 * bytes.  (docs/filters.md states this; reference.c implements the same
 * definition independently with a dynamic-programming matcher.)
 *
 * The common shapes -- exact, prefix "abc%", suffix "%abc" and infix
 * "%abc%" -- are one memcmp/memmem plus a check that the match starts and
 * ends on character boundaries.  Everything else uses the classic greedy
 * glob match that backtracks only to the last %, which is O(n*m) in the
 * worst case and needs no memory.
 *
 * Rejected: translating to a regex (POSIX regcomp is locale-dependent and
 * allocates; Milvus does this with RE2).
 */
#include <string.h>

#include "expr/expr_internal.h"

typedef enum like_unit_kind { LU_RUN, LU_ONE, LU_LIT } like_unit_kind;

typedef struct like_unit {
  like_unit_kind kind;
  uint32_t off, len; /* LU_LIT: bytes in `lit` */
} like_unit;

typedef enum like_shape { LS_GENERAL, LS_EXACT, LS_PREFIX, LS_SUFFIX, LS_INFIX } like_shape;

struct expr_like {
  like_unit *units;
  size_t nunits;
  char *lit;         /* the literal characters, concatenated */
  size_t lit_len;
  like_shape shape;
};

static bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

static size_t char_len(const char *s, size_t at, size_t n) {
  size_t k = at + 1;
  while (k < n && is_cont((unsigned char)s[k])) k++;
  return k - at;
}

static like_shape classify(const expr_like *l) {
  size_t first = 0, last = l->nunits;
  bool lead = l->nunits && l->units[0].kind == LU_RUN;
  bool trail = l->nunits > (size_t)lead && l->units[l->nunits - 1].kind == LU_RUN;
  if (lead) first++;
  if (trail) last--;
  for (size_t k = first; k < last; k++) {
    if (l->units[k].kind != LU_LIT) return LS_GENERAL;
    if (k > first && is_cont((unsigned char)l->lit[l->units[k].off])) return LS_GENERAL;
  }
  if (lead && trail) return LS_INFIX;
  if (lead) return LS_SUFFIX;
  return trail ? LS_PREFIX : LS_EXACT;
}

vs_status expr_like_compile(const char *pattern, size_t len, expr_arena *arena,
                            expr_like **out) {
  expr_like *l = expr_arena_alloc(arena, sizeof *l);
  like_unit *units = l ? expr_arena_alloc(arena, (len + 1) * sizeof *units) : NULL;
  char *lit = units ? expr_arena_alloc(arena, len + 1) : NULL;
  if (!lit) return vs_fail(VS_ERR_NOMEM, "out of memory");
  size_t n = 0, nlit = 0;
  for (size_t k = 0; k < len;) {
    char c = pattern[k];
    if ((c == '%' || c == '_')) {
      /* collapse %% into one run */
      if (c == '%' && n && units[n - 1].kind == LU_RUN) {
        k++;
        continue;
      }
      units[n++] = (like_unit){c == '%' ? LU_RUN : LU_ONE, 0, 0};
      k++;
      continue;
    }
    if (c == '\\') k++; /* check.c rejected a trailing lone backslash */
    size_t cl = char_len(pattern, k, len);
    units[n++] = (like_unit){LU_LIT, (uint32_t)nlit, (uint32_t)cl};
    memcpy(lit + nlit, pattern + k, cl);
    nlit += cl;
    k += cl;
  }
  l->units = units;
  l->nunits = n;
  l->lit = lit;
  l->lit_len = nlit;
  l->shape = classify(l);
  *out = l;
  return VS_OK;
}

static bool boundary(const char *s, size_t at, size_t n) {
  return at == 0 || at >= n || !is_cont((unsigned char)s[at]);
}

static bool match_infix(const expr_like *l, const char *s, size_t n) {
  size_t m = l->lit_len;
  if (m == 0) return true;
  for (size_t at = 0; at + m <= n;) {
    const char *hit = memmem(s + at, n - at, l->lit, m);
    if (!hit) return false;
    size_t h = (size_t)(hit - s);
    if (boundary(s, h, n) && boundary(s, h + m, n)) return true;
    at = h + 1;
  }
  return false;
}

static bool unit_matches(const expr_like *l, const like_unit *u, const char *s,
                         size_t at, size_t n, size_t *next) {
  size_t cl = char_len(s, at, n);
  *next = at + cl;
  if (u->kind == LU_ONE) return true;
  return cl == u->len && memcmp(s + at, l->lit + u->off, cl) == 0;
}

static bool match_general(const expr_like *l, const char *s, size_t n) {
  size_t ti = 0, ui = 0, star_ui = SIZE_MAX, star_ti = 0, next;
  while (ti < n) {
    const like_unit *u = ui < l->nunits ? &l->units[ui] : NULL;
    if (u && u->kind == LU_RUN) {
      star_ui = ui++;
      star_ti = ti;
    } else if (u && unit_matches(l, u, s, ti, n, &next)) {
      ti = next;
      ui++;
    } else if (star_ui != SIZE_MAX) {
      ui = star_ui + 1;
      star_ti += char_len(s, star_ti, n);
      ti = star_ti;
    } else {
      return false;
    }
  }
  while (ui < l->nunits && l->units[ui].kind == LU_RUN) ui++;
  return ui == l->nunits;
}

bool expr_like_match(const expr_like *l, const char *s, size_t n) {
  size_t m = l->lit_len;
  switch (l->shape) {
    case LS_EXACT: return n == m && memcmp(s, l->lit, m) == 0;
    case LS_PREFIX: return n >= m && memcmp(s, l->lit, m) == 0 && boundary(s, m, n);
    case LS_SUFFIX: return n >= m && memcmp(s + n - m, l->lit, m) == 0 && boundary(s, n - m, n);
    case LS_INFIX: return match_infix(l, s, n);
    default: return match_general(l, s, n);
  }
}
