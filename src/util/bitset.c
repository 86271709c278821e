/*
 * bitset.c -- fixed-size bitsets over 64-bit words.
 *
 * A vs_bitset marks rows: tombstones of a segment, the rows that pass a
 * filter, the nodes an index search already visited.  Bit i lives in word
 * i / 64 at position i % 64.  Test/set/clear are static inline in util.h so
 * the hot loops of filtered search pay no call; this file holds what
 * allocates or walks every word.
 *
 * Invariants:
 *   - words has room for ceil(nbits / 64) words (at least one word is
 *     allocated, so an empty bitset still has a valid pointer).
 *   - Bits at positions >= nbits are always zero.  vs_bitset_resize
 *     re-establishes this when it shrinks, so growing later yields zero
 *     bits and vs_bitset_count never counts stale bits.  Callers must not
 *     set bits at or past nbits (the inline setters do not check).
 *
 * Locking: none.  A bitset is a plain value; concurrent readers are fine,
 * a writer needs exclusive access (segments publish a new bitset instead of
 * changing one that readers hold).
 *
 * Alternatives rejected: roaring bitmaps (CRoaring is not packaged and a
 * segment's row count is bounded, so the flat bitset is at most a few MB and
 * its test is one load and a shift); a byte per row (8x the memory and the
 * cache misses for tombstone checks in the scan loop).
 */
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static size_t bitset_words(size_t nbits) { return nbits / 64 + (nbits % 64 != 0); }

/* Clears the bits of the last word at positions >= nbits. */
static void bitset_clear_tail(vs_bitset *b) {
  size_t used = b->nbits % 64;
  if (used != 0) b->words[b->nbits / 64] &= ((uint64_t)1 << used) - 1;
}

vs_status vs_bitset_init(vs_bitset *b, size_t nbits) {
  size_t nwords = bitset_words(nbits);
  b->words = vs_calloc(nwords ? nwords : 1, sizeof(uint64_t));
  b->nbits = 0;
  if (!b->words) {
    return vs_fail(VS_ERR_NOMEM, "out of memory allocating a bitset of %zu bits", nbits);
  }
  b->nbits = nbits;
  return VS_OK;
}

vs_status vs_bitset_resize(vs_bitset *b, size_t nbits) {
  size_t old_words = bitset_words(b->nbits);
  size_t new_words = bitset_words(nbits);
  if (nbits <= b->nbits) {
    b->nbits = nbits;
    if (new_words < old_words) memset(b->words + new_words, 0, (old_words - new_words) * 8);
    bitset_clear_tail(b);
    return VS_OK;
  }
  if (new_words > old_words || !b->words) {
    uint64_t *w = vs_reallocarray(b->words, new_words, sizeof(uint64_t));
    if (!w) {
      return vs_fail(VS_ERR_NOMEM, "out of memory growing a bitset to %zu bits", nbits);
    }
    memset(w + old_words, 0, (new_words - old_words) * sizeof(uint64_t));
    b->words = w;
  }
  b->nbits = nbits;
  return VS_OK;
}

void vs_bitset_free(vs_bitset *b) {
  free(b->words);
  b->words = NULL;
  b->nbits = 0;
}

size_t vs_bitset_count(const vs_bitset *b) {
  size_t full = b->nbits / 64;
  size_t count = 0;
  for (size_t i = 0; i < full; i++) count += (size_t)__builtin_popcountll(b->words[i]);
  size_t used = b->nbits % 64;
  if (used != 0) {
    uint64_t mask = ((uint64_t)1 << used) - 1;
    count += (size_t)__builtin_popcountll(b->words[full] & mask);
  }
  return count;
}

/* dst must be zero-initialised or a live bitset; its storage is replaced
 * only after the new copy is allocated, so on failure dst is unchanged. */
vs_status vs_bitset_copy(vs_bitset *dst, const vs_bitset *src) {
  size_t nwords = bitset_words(src->nbits);
  uint64_t *w = vs_calloc(nwords ? nwords : 1, sizeof(uint64_t));
  if (!w) {
    return vs_fail(VS_ERR_NOMEM, "out of memory copying a bitset of %zu bits", src->nbits);
  }
  if (nwords) memcpy(w, src->words, nwords * sizeof(uint64_t));
  free(dst->words);
  dst->words = w;
  dst->nbits = src->nbits;
  bitset_clear_tail(dst);
  return VS_OK;
}
