/*
 * topk.c -- a bounded heap that keeps the k best (distance, id) pairs.
 *
 * Every search path (flat scan, HNSW, IVF, the merge of per-segment results)
 * funnels candidates through one of these, so the ordering defined here is
 * the ordering of every result the database returns:
 *
 *   - larger_is_better = 0: smaller distance is better (L2);
 *     larger_is_better = 1: larger distance is better (IP, COSINE);
 *   - equal distances: the smaller id is better, so results do not depend
 *     on scan order, thread count or SIMD level tie-breaking;
 *   - NaN is worse than every number (and NaNs order by id), so a poisoned
 *     vector sinks to the end instead of breaking the heap invariant.
 *
 * Layout: two parallel arrays dist[] and id[] of capacity k, a binary heap
 * whose root (index 0) is the WORST kept item.  A candidate that is not
 * better than the root is rejected in O(1) (vs_topk_would_accept in util.h
 * is the inline pre-check; it lets ties through and vs_topk_push settles
 * them by id).  Otherwise it replaces the root and sifts down: O(log k).
 *
 * vs_topk_sorted heap-sorts in place: repeatedly swapping the worst item to
 * the end of the live region leaves the array best-first, with no second
 * buffer.  Then the heap is empty and can be reused.
 *
 * Locking: none; a heap belongs to one thread (per-thread heaps are merged
 * by pushing one into another).
 *
 * Alternatives rejected: an array of structs (dist and id interleaved) would
 * save a cache line per sift, but the parallel arrays are what callers want
 * for output and k is small enough that sifting is never the bottleneck;
 * sorting all candidates (O(n log n) and O(n) memory for a scan of millions).
 */
#include <math.h>
#include <stdlib.h>

#include "util/util.h"

vs_status vs_topk_init(vs_topk *h, size_t k, int larger_is_better) {
  h->k = 0;
  h->size = 0;
  h->larger_is_better = larger_is_better ? 1 : 0;
  h->dist = vs_calloc(k ? k : 1, sizeof(float));
  h->id = vs_calloc(k ? k : 1, sizeof(int64_t));
  if (!h->dist || !h->id) {
    vs_topk_free(h);
    return vs_fail(VS_ERR_NOMEM, "out of memory allocating a top-%zu heap", k);
  }
  h->k = k;
  return VS_OK;
}

void vs_topk_free(vs_topk *h) {
  free(h->dist);
  free(h->id);
  h->dist = NULL;
  h->id = NULL;
  h->k = 0;
  h->size = 0;
}

void vs_topk_reset(vs_topk *h) { h->size = 0; }

bool vs_topk_better(int larger_is_better, float da, int64_t ia, float db, int64_t ib) {
  bool nan_a = isnan(da);
  bool nan_b = isnan(db);
  if (nan_a || nan_b) {
    if (nan_a && nan_b) return ia < ib;
    return nan_b;
  }
  if (da != db) return larger_is_better ? da > db : da < db;
  return ia < ib;
}

/* True when item i is worse than item j (so it belongs nearer the root). */
static bool topk_worse(const vs_topk *h, size_t i, size_t j) {
  return vs_topk_better(h->larger_is_better, h->dist[j], h->id[j], h->dist[i], h->id[i]);
}

static void topk_swap(vs_topk *h, size_t i, size_t j) {
  float d = h->dist[i];
  int64_t id = h->id[i];
  h->dist[i] = h->dist[j];
  h->id[i] = h->id[j];
  h->dist[j] = d;
  h->id[j] = id;
}

static void topk_sift_up(vs_topk *h, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!topk_worse(h, i, parent)) break;
    topk_swap(h, i, parent);
    i = parent;
  }
}

/* Restores the heap below i within the first n items. */
static void topk_sift_down(vs_topk *h, size_t i, size_t n) {
  for (;;) {
    size_t left = 2 * i + 1;
    if (left >= n) break;
    size_t worst = left;
    size_t right = left + 1;
    if (right < n && topk_worse(h, right, left)) worst = right;
    if (!topk_worse(h, worst, i)) break;
    topk_swap(h, i, worst);
    i = worst;
  }
}

void vs_topk_push(vs_topk *h, float dist, int64_t id) {
  if (h->size < h->k) {
    h->dist[h->size] = dist;
    h->id[h->size] = id;
    h->size++;
    topk_sift_up(h, h->size - 1);
    return;
  }
  if (h->k == 0) return;
  if (!vs_topk_better(h->larger_is_better, dist, id, h->dist[0], h->id[0])) return;
  h->dist[0] = dist;
  h->id[0] = id;
  topk_sift_down(h, 0, h->size);
}

void vs_topk_sorted(vs_topk *h, float *dist_out, int64_t *id_out) {
  size_t n = h->size;
  for (size_t end = n; end > 1; end--) {
    topk_swap(h, 0, end - 1);
    topk_sift_down(h, 0, end - 1);
  }
  for (size_t i = 0; i < n; i++) {
    if (dist_out) dist_out[i] = h->dist[i];
    if (id_out) id_out[i] = h->id[i];
  }
  h->size = 0;
}
