/*
 * pkindex.c -- the primary-key index of a collection: key -> (segment, row)
 * for every live row.
 *
 * Open addressing with linear probing over two parallel arrays: the key's
 * 64-bit hash (forced odd, so 0 marks an empty slot) and its location.  The
 * key itself is not stored: on a hash match the candidate row's key is read
 * back from its segment and compared (vs_pk_equal), which keeps an entry at
 * 24 bytes whether keys are Int64 or long VarChars.  Removal uses backward
 * shift deletion, so there are no tombstone slots and probe chains stay
 * short after many deletes.  The table doubles at 50% load.
 *
 * Locking: none inside; the collection's lock covers it (writers modify it
 * under the write lock, get/delete read it under the read lock).
 *
 * Rejected: a sorted array per segment searched by binary search (every
 * lookup would probe every segment); storing the keys (VarChar keys would
 * double the memory of the index for nothing).  The index is rebuilt at open
 * from the primary-key columns (about 50 ms per million rows), which we
 * preferred over persisting it and keeping a second structure crash-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

static uint64_t slot_hash(uint64_t hash) { return hash | 1u; }

vs_status vs_pkindex_init(vs_pkindex *ix, size_t expected, int pk_col) {
  size_t cap = 64;
  while (cap < expected * 2 && cap < ((size_t)1 << 40)) cap *= 2;
  memset(ix, 0, sizeof *ix);
  ix->hashes = vs_calloc(cap, sizeof *ix->hashes);
  ix->values = vs_calloc(cap, sizeof *ix->values);
  if (!ix->hashes || !ix->values) {
    vs_pkindex_free(ix);
    return vs_fail(VS_ERR_NOMEM, "out of memory for the primary key index");
  }
  ix->cap = cap;
  ix->pk_col = pk_col;
  return VS_OK;
}

void vs_pkindex_free(vs_pkindex *ix) {
  free(ix->hashes);
  free(ix->values);
  memset(ix, 0, sizeof *ix);
}

static bool slot_matches(const vs_pkindex *ix, size_t slot, uint64_t h,
                         const vs_colview *key, size_t row, int pk_col) {
  if (ix->hashes[slot] != h) return false;
  const vs_pk_location *loc = &ix->values[slot];
  return vs_pk_equal(&loc->seg->views[pk_col], loc->row, key, row);
}

static size_t find_slot(const vs_pkindex *ix, const vs_colview *key,
                        size_t row, uint64_t hash, bool *found) {
  uint64_t h = slot_hash(hash);
  size_t mask = ix->cap - 1;
  size_t slot = (size_t)h & mask;
  *found = false;
  while (ix->hashes[slot] != 0) {
    if (ix->hashes[slot] == h) {
      if (slot_matches(ix, slot, h, key, row, ix->pk_col)) {
        *found = true;
        return slot;
      }
    }
    slot = (slot + 1) & mask;
  }
  return slot;
}

bool vs_pkindex_find(const vs_pkindex *ix, const vs_colview *key, size_t row,
                     uint64_t hash, vs_pk_location *loc) {
  bool found;
  size_t slot = find_slot(ix, key, row, hash, &found);
  if (found) *loc = ix->values[slot];
  return found;
}

static vs_status grow(vs_pkindex *ix) {
  vs_pkindex bigger;
  size_t cap = ix->cap * 2;
  bigger.hashes = vs_calloc(cap, sizeof *bigger.hashes);
  bigger.values = vs_calloc(cap, sizeof *bigger.values);
  if (!bigger.hashes || !bigger.values) {
    free(bigger.hashes);
    free(bigger.values);
    return vs_fail(VS_ERR_NOMEM, "out of memory growing the primary key index");
  }
  bigger.cap = cap;
  bigger.count = ix->count;
  bigger.pk_col = ix->pk_col;
  for (size_t i = 0; i < ix->cap; i++) {
    if (ix->hashes[i] == 0) continue;
    size_t slot = (size_t)ix->hashes[i] & (cap - 1);
    while (bigger.hashes[slot] != 0) slot = (slot + 1) & (cap - 1);
    bigger.hashes[slot] = ix->hashes[i];
    bigger.values[slot] = ix->values[i];
  }
  free(ix->hashes);
  free(ix->values);
  *ix = bigger;
  return VS_OK;
}

vs_status vs_pkindex_put(vs_pkindex *ix, const vs_colview *key, size_t row,
                         uint64_t hash, vs_pk_location loc) {
  bool found;
  if ((ix->count + 1) * 2 > ix->cap) {
    vs_status st = grow(ix);
    if (st != VS_OK) return st;
  }
  size_t slot = find_slot(ix, key, row, hash, &found);
  if (!found) {
    ix->hashes[slot] = slot_hash(hash);
    ix->count++;
  }
  ix->values[slot] = loc;
  return VS_OK;
}

bool vs_pkindex_remove(vs_pkindex *ix, const vs_colview *key, size_t row,
                       uint64_t hash) {
  bool found;
  size_t mask = ix->cap - 1;
  size_t hole = find_slot(ix, key, row, hash, &found);
  if (!found) return false;
  ix->hashes[hole] = 0;
  ix->count--;
  /* Backward shift: move later entries of the chain into the hole when
   * their home slot is not between the hole and their position. */
  size_t next = (hole + 1) & mask;
  while (ix->hashes[next] != 0) {
    size_t home = (size_t)ix->hashes[next] & mask;
    bool movable = (next > hole) ? (home <= hole || home > next)
                                 : (home <= hole && home > next);
    if (movable) {
      ix->hashes[hole] = ix->hashes[next];
      ix->values[hole] = ix->values[next];
      ix->hashes[next] = 0;
      hole = next;
    }
    next = (next + 1) & mask;
  }
  return true;
}
