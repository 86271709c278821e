/*
 * ivf_search.c -- top-k and range search over IVF_FLAT, IVF_SQ8 and
 * IVF_PQ, and the ops table.
 *
 * A search:
 *
 *   1. prepares the query (unit length for COSINE) and scores it against
 *      every centroid (L2: squared distance; IP and COSINE: inner product,
 *      the rule the build assigned rows with);
 *   2. probes the nprobe best lists (default 8, capped at nlist), in order;
 *   3. scans each probed list:
 *        IVF_FLAT  batched SIMD distances over the list's contiguous copy;
 *                  the values are the metric's (COSINE = inner product of
 *                  unit vectors, equal to kern->cosine up to rounding);
 *        IVF_SQ8   asymmetric distances (float query, 8-bit codes) via a
 *                  per-list weight vector: L2 |q - x^|^2 = |q - min|^2 +
 *                  |scale*code|^2 - 2 sum (q - min)_j scale_j code_j, the
 *                  middle term precomputed per row; IP <q, x^> = <q, min> +
 *                  sum q_j scale_j code_j.  One float-times-byte dot product
 *                  per row: vs_sq8()->ip (src/simd/sq8.h, AVX2/AVX-512).
 *        IVF_PQ    ADC: per sub-space a table of 2^nbits entries, summed
 *                  over the row's m codes.  IP/COSINE: <q, c + r^> = <q, c>
 *                  + sum_s <q_s, r_s>: one table per query.  L2: |q - c -
 *                  r^|^2 = |q - c|^2 + sum_s (|r_s|^2 + 2<c_s, r_s>) - 2
 *                  sum_s <q_s, r_s>: the middle table is precomputed per
 *                  list (term, see ivf_build.c), so a list costs m * ksub
 *                  adds instead of dim * ksub multiply-adds;
 *   4. for SQ8 and PQ keeps the best refine_k approximate candidates
 *      (default: SQ8 max(2k, 32); PQ max(4k, 64); never fewer than k) and
 *      re-ranks them exactly against the original vectors, so every
 *      distance reported is the real metric value;
 *   5. widens: if fewer than k rows that pass `skip` were seen in the
 *      nprobe lists (tiny lists, or many deleted/filtered rows), it keeps
 *      probing further lists in centroid order until k were seen or no list
 *      is left.
 *
 * Range search (Milvus semantics, vs_index_in_range): probes the nprobe
 * best lists, then keeps probing further lists in centroid order while they
 * contribute, stopping after 2 consecutive lists (Milvus's
 * max_empty_result_buckets) without a hit -- a hit is a row in range that
 * entered the result heap.  Quantised lists are exact within the probed
 * lists: a row's approximate distance differs from the real one by at most
 * the list's reconstruction error bound (|x - x^| <= e_l, so for L2 the
 * real sqrt-distance is within e_l and for IP within |q| e_l, plus a small
 * rounding margin), so only rows whose approximate distance is within that
 * band of the range get an exact distance, and the range test is always
 * on the exact value.  Range search uses the direct (non-expanded) L2 form
 * for both SQ8 and PQ so that the approximation has no cancellation error.
 *
 * Thread safety: a search reads the immutable index and allocates its own
 * scratch (one block per call), so any number may run at once.
 *
 * Alternatives rejected: a per-thread scratch cache (saves a malloc per
 * query, a few hundred ns against tens of microseconds of scanning, and
 * needs thread-exit cleanup); quantising the PQ tables to 8 bits
 * (faiss's fast-scan; big speed-up but a separate code layout, left for
 * later); a probe order by full sort of all centroids on every query
 * (O(nlist log nlist) where a partial insertion of nprobe suffices; the
 * full sort runs only when nprobe is a large fraction of nlist, or when a
 * search widens).  SIMD lives in src/simd/: the PQ table loops here are
 * plain C over transposed codebooks (ivf_col_*), which the compiler
 * vectorises without ISA flags.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivf_internal.h"
#include "simd/sq8.h"

#define SCAN_BATCH 256u

typedef struct list_score {
  float score;
  uint32_t list;
} list_score;

typedef struct query_ctx {
  const vs_index *ix;
  const ivf_index *ivf;
  const float *query;      /* as given */
  float *q;                /* prepared: unit length for COSINE */
  float qnorm;             /* |q| */
  float query_norm;        /* |query| as the oracle computes it (COSINE) */
  float *cscore;           /* nlist centroid scores */
  list_score *order;       /* probe order */
  uint32_t ordered;        /* entries of order filled */
  bool fully_sorted;
  uint8_t *probed;         /* nlist flags */
  uint32_t next;           /* next entry of order to probe */
  float *dist;             /* SCAN_BATCH */
  float *work;             /* dim: SQ8 weights or query / PQ residual */
  float *work2;            /* dim: SQ8 direct L2 weights */
  float *table;            /* PQ: m * ksub, the list's table */
  float *qtab;             /* PQ: m * ksub, the query's table */
  const vs_bitset *skip;
  vs_index_stats *stats;
  uint64_t computed;       /* distance computations */
  uint64_t lists;          /* lists probed */
} query_ctx;

/* ----------------------------------------------------------- set-up */

/* A total order on (score, list): better score first, NaN last, then the
 * lower list (qsort needs a consistent comparator even for a NaN query). */
static bool score_better(vs_metric m, float a, uint32_t la, float b, uint32_t lb) {
  bool nan_a = isnan(a), nan_b = isnan(b);
  if (nan_a != nan_b) return nan_b;
  if (!nan_a && a != b) return m == VS_METRIC_L2 ? a < b : a > b;
  return la < lb;
}

static void ctx_free(query_ctx *c) { free(c->q); }

static vs_status ctx_init(query_ctx *c, const vs_index *ix, const float *query,
                          const vs_bitset *skip, vs_index_stats *stats) {
  const ivf_index *ivf = ix->impl;
  size_t dim = ivf->dim, nlist = ivf->nlist, pq = (size_t)ivf->pq_m * ivf->pq_ksub;
  memset(c, 0, sizeof *c);
  size_t floats = 3 * dim + nlist + SCAN_BATCH + 2 * pq;
  size_t bytes = floats * sizeof(float) + nlist * sizeof(list_score) + nlist;
  c->q = vs_malloc(bytes);
  if (!c->q) return vs_fail(VS_ERR_NOMEM, "IVF search: out of memory for %zu bytes of scratch", bytes);
  c->work = c->q + dim;
  c->work2 = c->work + dim;
  c->cscore = c->work2 + dim;
  c->dist = c->cscore + nlist;
  c->table = c->dist + SCAN_BATCH;
  c->qtab = c->table + pq;
  c->order = (list_score *)(c->qtab + pq);
  c->probed = (uint8_t *)(c->order + nlist);
  memset(c->probed, 0, nlist);
  c->ix = ix;
  c->ivf = ivf;
  c->query = query;
  c->skip = skip;
  c->stats = stats;
  memcpy(c->q, query, dim * sizeof(float));
  if (ivf->metric == VS_METRIC_COSINE) ivf_normalize(c->q, ivf->dim);
  c->qnorm = sqrtf(vs_simd()->ip(c->q, c->q, dim));
  c->query_norm = sqrtf(vs_simd()->ip(query, query, dim));
  return VS_OK;
}

static void sort_all_lists(query_ctx *c);

/* Scores every centroid and selects the `nprobe` best, in order (by
 * insertion while nprobe is small, else by sorting all lists). */
static void rank_lists(query_ctx *c, uint32_t nprobe) {
  const ivf_index *ivf = c->ivf;
  const vs_simd_kernels *kern = vs_simd();
  if (ivf->metric == VS_METRIC_L2) {
    kern->l2sq_batch(c->q, ivf->centroids, ivf->nlist, ivf->dim, c->cscore);
  } else {
    kern->ip_batch(c->q, ivf->centroids, ivf->nlist, ivf->dim, c->cscore);
  }
  c->computed += ivf->nlist;
  if (nprobe > 64 && nprobe * 8ull > ivf->nlist) {
    sort_all_lists(c);
    return;
  }
  uint32_t kept = 0;
  for (uint32_t l = 0; l < ivf->nlist; l++) {
    float s = c->cscore[l];
    if (kept == nprobe && !score_better(ivf->metric, s, l, c->order[kept - 1].score, c->order[kept - 1].list)) continue;
    uint32_t at = kept < nprobe ? kept++ : kept - 1;
    while (at > 0 && score_better(ivf->metric, s, l, c->order[at - 1].score, c->order[at - 1].list)) {
      c->order[at] = c->order[at - 1];
      at--;
    }
    c->order[at] = (list_score){s, l};
  }
  c->ordered = kept;
}

static int cmp_scores_l2(const void *a, const void *b) {
  const list_score *x = a, *y = b;
  if (x->list == y->list) return 0;
  return score_better(VS_METRIC_L2, x->score, x->list, y->score, y->list) ? -1 : 1;
}

static int cmp_scores_ip(const void *a, const void *b) {
  const list_score *x = a, *y = b;
  if (x->list == y->list) return 0;
  return score_better(VS_METRIC_IP, x->score, x->list, y->score, y->list) ? -1 : 1;
}

static void sort_all_lists(query_ctx *c) {
  const ivf_index *ivf = c->ivf;
  for (uint32_t l = 0; l < ivf->nlist; l++) c->order[l] = (list_score){c->cscore[l], l};
  qsort(c->order, ivf->nlist, sizeof *c->order, ivf->metric == VS_METRIC_L2 ? cmp_scores_l2 : cmp_scores_ip);
  c->ordered = ivf->nlist;
  c->fully_sorted = true;
  c->next = 0;
}

/* The next list to probe, in centroid order; false when all were probed. */
static bool next_list(query_ctx *c, uint32_t *out) {
  while (true) {
    if (c->next < c->ordered) {
      uint32_t l = c->order[c->next++].list;
      if (c->probed[l]) continue;
      c->probed[l] = 1;
      c->lists++;
      *out = l;
      return true;
    }
    if (c->fully_sorted) return false;
    sort_all_lists(c); /* widening past the first nprobe: the rest in order */
  }
}

static bool skipped(const query_ctx *c, uint32_t row) {
  return c->skip && row < c->skip->nbits && vs_bitset_test(c->skip, row);
}

/* -------------------------------------------------- distance kernels */

static float pq_adc(const float *table, const uint8_t *code, uint32_t m, uint32_t ksub) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  uint32_t s = 0;
  for (; s + 4 <= m; s += 4) {
    s0 += table[(size_t)s * ksub + code[s]];
    s1 += table[(size_t)(s + 1) * ksub + code[s + 1]];
    s2 += table[(size_t)(s + 2) * ksub + code[s + 2]];
    s3 += table[(size_t)(s + 3) * ksub + code[s + 3]];
  }
  for (; s < m; s++) s0 += table[(size_t)s * ksub + code[s]];
  return (s0 + s1) + (s2 + s3);
}

/* The real metric value of `row` (re-ranking), computed exactly as the
 * oracle vs_index_exact_search does (the same batch kernels and query
 * norm), so the values agree to the last bit. */
static float exact_distance(const query_ctx *c, uint32_t row) {
  const vs_simd_kernels *kern = vs_simd();
  const float *v = c->ix->vectors + (size_t)row * c->ivf->dim;
  float d = 0;
  if (c->ivf->metric == VS_METRIC_L2) {
    kern->l2sq_batch(c->query, v, 1, c->ivf->dim, &d);
  } else if (c->ivf->metric == VS_METRIC_IP) {
    kern->ip_batch(c->query, v, 1, c->ivf->dim, &d);
  } else if (c->query_norm > 0) {
    kern->cosine_batch(c->query, c->query_norm, v, 1, c->ivf->dim, &d);
  }
  return d;
}

/* ------------------------------------------------ per-list preparation */

/* SQ8, per list: the weights (c->work) and bias such that the approximate
 * distance of a code is bias + vs_sq8()->ip(work, code) (+ the row's code
 * norm for L2).  `direct` L2 instead prepares bias + vs_sq8()->l2(work,
 * work2, code) = sum (q - min - scale * code)^2, with work = (q - min) /
 * scale and work2 = scale^2 (dimensions of scale 0 go to the bias). */
static float sq8_prepare(query_ctx *c, uint32_t l, bool direct) {
  const ivf_index *ivf = c->ivf;
  const float *mn = ivf->sq_min + (size_t)l * ivf->dim;
  const float *sc = ivf->sq_scale + (size_t)l * ivf->dim;
  float bias = 0;
  for (uint32_t j = 0; j < ivf->dim; j++) {
    if (ivf->metric != VS_METRIC_L2) {
      bias += c->q[j] * mn[j];
      c->work[j] = c->q[j] * sc[j];
      continue;
    }
    float a = c->q[j] - mn[j];
    if (!direct) {
      bias += a * a;
      c->work[j] = -2 * a * sc[j];
    } else if (sc[j] > 0) {
      c->work[j] = a / sc[j];
      c->work2[j] = sc[j] * sc[j];
    } else {
      bias += a * a;
      c->work[j] = 0;
      c->work2[j] = 0;
    }
  }
  return bias;
}

static float sq8_distance(const query_ctx *c, uint64_t pos, float bias, bool direct) {
  const ivf_index *ivf = c->ivf;
  const uint8_t *code = ivf->sq_codes + pos * ivf->dim;
  if (direct) return bias + vs_sq8()->l2(c->work, c->work2, code, ivf->dim);
  float d = bias + vs_sq8()->ip(c->work, code, ivf->dim);
  return ivf->sq_norm ? d + ivf->sq_norm[pos] : d;
}

/* PQ, once per query: qtab[s][j] = <q_s, r_sj> (times -2 for L2), over
 * the transposed codebooks. */
static void pq_query_table(query_ctx *c) {
  const ivf_index *ivf = c->ivf;
  size_t ksub = ivf->pq_ksub, dsub = ivf->pq_dsub;
  float factor = ivf->metric == VS_METRIC_L2 ? -2.0f : 1.0f;
  memset(c->qtab, 0, (size_t)ivf->pq_m * ksub * sizeof(float));
  for (size_t s = 0; s < ivf->pq_m; s++) {
    float *row = c->qtab + s * ksub;
    const float *cols = ivf->pq_columns + s * dsub * ksub;
    for (size_t t = 0; t < dsub; t++) ivf_col_ip(row, cols + t * ksub, c->q[s * dsub + t] * factor, ksub);
  }
}

/* PQ, per list: the table to sum and the bias to add.  `direct` forces the
 * per-list L2 table |(q - c)_s - r_sj|^2 (no cancellation). */
static const float *pq_prepare(query_ctx *c, uint32_t l, bool direct, float *bias) {
  const ivf_index *ivf = c->ivf;
  size_t ksub = ivf->pq_ksub, dsub = ivf->pq_dsub, cells = (size_t)ivf->pq_m * ksub;
  if (ivf->metric != VS_METRIC_L2) {
    *bias = c->cscore[l];
    return c->qtab;
  }
  if (ivf->pq_term && !direct) {
    const float *term = ivf->pq_term + (size_t)l * cells;
    for (size_t i = 0; i < cells; i++) c->table[i] = term[i] + c->qtab[i];
    *bias = c->cscore[l];
    return c->table;
  }
  const float *cent = ivf->centroids + (size_t)l * ivf->dim;
  memset(c->table, 0, cells * sizeof(float));
  for (size_t s = 0; s < ivf->pq_m; s++) {
    const float *cols = ivf->pq_columns + s * dsub * ksub;
    for (size_t t = 0; t < dsub; t++) {
      size_t j = s * dsub + t;
      ivf_col_l2(c->table + s * ksub, cols + t * ksub, c->q[j] - cent[j], ksub);
    }
  }
  *bias = 0;
  return c->table;
}

/* -------------------------------------------------------------- top-k */

/* IVF_FLAT: exact distances of the m stored vectors from list position
 * `pos` into c->dist (top-k and range scans share it). */
static void flat_tile_distances(query_ctx *c, uint64_t pos, size_t m) {
  const ivf_index *ivf = c->ivf;
  const vs_simd_kernels *kern = vs_simd();
  const float *base = ivf->flat + pos * ivf->dim;
  if (ivf->metric == VS_METRIC_L2) {
    kern->l2sq_batch(c->q, base, m, ivf->dim, c->dist);
  } else {
    kern->ip_batch(c->q, base, m, ivf->dim, c->dist);
  }
  c->computed += m;
}

/* IVF_FLAT: pushes real distances into out; returns rows that passed. */
static size_t flat_scan(query_ctx *c, uint32_t l, vs_topk *out) {
  const ivf_index *ivf = c->ivf;
  size_t seen = 0;
  for (uint64_t pos = ivf->offsets[l]; pos < ivf->offsets[l + 1]; pos += SCAN_BATCH) {
    size_t m = (size_t)VS_MIN((uint64_t)SCAN_BATCH, ivf->offsets[l + 1] - pos);
    flat_tile_distances(c, pos, m);
    for (size_t i = 0; i < m; i++) {
      uint32_t row = ivf->ids[pos + i];
      if (skipped(c, row)) continue;
      seen++;
      if (vs_topk_would_accept(out, c->dist[i])) vs_topk_push(out, c->dist[i], row);
    }
  }
  return seen;
}

/* SQ8 / PQ: pushes approximate distances into cand. */
static size_t quantized_scan(query_ctx *c, uint32_t l, vs_topk *cand) {
  const ivf_index *ivf = c->ivf;
  float bias = 0;
  const float *table = NULL;
  size_t seen = 0;
  if (ivf->type == VS_INDEX_IVF_SQ8) {
    bias = sq8_prepare(c, l, false);
  } else {
    table = pq_prepare(c, l, false, &bias);
  }
  for (uint64_t pos = ivf->offsets[l]; pos < ivf->offsets[l + 1]; pos++) {
    uint32_t row = ivf->ids[pos];
    if (skipped(c, row)) continue;
    seen++;
    float d = table ? bias + pq_adc(table, ivf->pq_codes + pos * ivf->pq_m, ivf->pq_m, ivf->pq_ksub)
                    : sq8_distance(c, pos, bias, false);
    if (vs_topk_would_accept(cand, d)) vs_topk_push(cand, d, row);
  }
  c->computed += ivf->offsets[l + 1] - ivf->offsets[l];
  return seen;
}

static void rerank(query_ctx *c, const vs_topk *cand, vs_topk *out) {
  for (size_t i = 0; i < cand->size; i++) {
    uint32_t row = (uint32_t)cand->id[i];
    float d = exact_distance(c, row);
    if (vs_topk_would_accept(out, d)) vs_topk_push(out, d, row);
  }
  c->computed += cand->size;
}

static vs_status resolve_nprobe(const ivf_index *ivf, const vs_index_search_params *p, uint32_t *nprobe) {
  uint32_t v = p->nprobe ? p->nprobe : IVF_DEFAULT_NPROBE;
  if (v > IVF_MAX_NPROBE) {
    return vs_fail(VS_ERR_INVALID, "%s: nprobe=%u is out of range 1..%u", vs_index_type_name(ivf->type), v,
                   IVF_MAX_NPROBE);
  }
  *nprobe = VS_MIN(v, ivf->nlist);
  return VS_OK;
}

static vs_status resolve_refine(const ivf_index *ivf, uint32_t k, const vs_index_search_params *p,
                                uint32_t *refine) {
  if (p->refine_k > IVF_MAX_REFINE) {
    return vs_fail(VS_ERR_INVALID, "%s: refine_k=%u is out of range 0..%u", vs_index_type_name(ivf->type),
                   p->refine_k, IVF_MAX_REFINE);
  }
  uint32_t dflt = ivf->type == VS_INDEX_IVF_SQ8 ? VS_MAX(2 * k, 32u) : VS_MAX(4 * k, 64u);
  *refine = VS_MAX(k, p->refine_k ? p->refine_k : dflt);
  return VS_OK;
}

static void finish_stats(const query_ctx *c) {
  if (!c->stats) return;
  c->stats->distance_computations += c->computed;
  c->stats->nodes_visited += c->lists;
}

static vs_status ivf_search(const vs_index *ix, const float *query, uint32_t k,
                            const vs_index_search_params *p, const vs_bitset *skip, vs_topk *out,
                            vs_index_stats *stats) {
  const ivf_index *ivf = ix->impl;
  query_ctx c;
  vs_topk cand = {0};
  uint32_t nprobe = 0, refine = 0;
  bool quantized = ivf->type != VS_INDEX_IVF_FLAT;
  vs_status st = resolve_nprobe(ivf, p, &nprobe);
  if (st == VS_OK && quantized) st = resolve_refine(ivf, k, p, &refine);
  if (st != VS_OK) return st;
  st = ctx_init(&c, ix, query, skip, stats);
  if (st == VS_OK && quantized) st = vs_topk_init(&cand, refine, ivf->metric != VS_METRIC_L2);
  if (st != VS_OK) goto done;
  rank_lists(&c, nprobe);
  if (ivf->type == VS_INDEX_IVF_PQ) pq_query_table(&c);
  size_t seen = 0;
  uint32_t l;
  for (uint32_t probed = 0; (probed < nprobe || seen < k) && next_list(&c, &l); probed++) {
    seen += quantized ? quantized_scan(&c, l, &cand) : flat_scan(&c, l, out);
  }
  if (quantized) rerank(&c, &cand, out);
  finish_stats(&c);
done:
  vs_topk_free(&cand);
  ctx_free(&c);
  return st;
}

/* -------------------------------------------------------------- range */

/* Could a row whose approximate distance is `approx` be in range, given the
 * list's error bound?  See the essay. */
static bool maybe_in_range(const query_ctx *c, const vs_index_search_params *p, uint32_t l, float approx) {
  float err = c->ivf->list_error[l] * 1.01f;
  if (c->ivf->metric == VS_METRIC_L2) {
    float r = sqrtf(VS_MAX(approx, 0.0f));
    float slack = err + 1e-4f * r + 1e-6f;
    float lo = VS_MAX(r - slack, 0.0f), hi = r + slack;
    if (p->has_radius && !(lo * lo < p->radius)) return false;
    if (p->has_range_filter && !(hi * hi >= p->range_filter)) return false;
    return true;
  }
  float slack = c->qnorm * err + 1e-4f * (fabsf(approx) + c->qnorm * err) + 1e-6f;
  if (p->has_radius && !(approx + slack > p->radius)) return false;
  if (p->has_range_filter && !(approx - slack <= p->range_filter)) return false;
  return true;
}

/* Pushes in-range rows of list l; returns how many entered `out`. */
static size_t range_scan_flat(query_ctx *c, uint32_t l, const vs_index_search_params *p, vs_topk *out) {
  const ivf_index *ivf = c->ivf;
  size_t hits = 0;
  for (uint64_t pos = ivf->offsets[l]; pos < ivf->offsets[l + 1]; pos += SCAN_BATCH) {
    size_t m = (size_t)VS_MIN((uint64_t)SCAN_BATCH, ivf->offsets[l + 1] - pos);
    flat_tile_distances(c, pos, m);
    for (size_t i = 0; i < m; i++) {
      uint32_t row = ivf->ids[pos + i];
      float d = c->dist[i];
      if (skipped(c, row) || !vs_index_in_range(ivf->metric, p, d) || !vs_topk_would_accept(out, d)) continue;
      vs_topk_push(out, d, row);
      hits++;
    }
  }
  return hits;
}

static size_t range_scan_quantized(query_ctx *c, uint32_t l, const vs_index_search_params *p, vs_topk *out) {
  const ivf_index *ivf = c->ivf;
  float bias = 0;
  const float *table = NULL;
  size_t hits = 0;
  bool sq8 = ivf->type == VS_INDEX_IVF_SQ8;
  if (sq8) {
    bias = sq8_prepare(c, l, ivf->metric == VS_METRIC_L2);
  } else {
    table = pq_prepare(c, l, true, &bias);
  }
  for (uint64_t pos = ivf->offsets[l]; pos < ivf->offsets[l + 1]; pos++) {
    uint32_t row = ivf->ids[pos];
    if (skipped(c, row)) continue;
    float approx = sq8 ? sq8_distance(c, pos, bias, ivf->metric == VS_METRIC_L2)
                       : bias + pq_adc(table, ivf->pq_codes + pos * ivf->pq_m, ivf->pq_m, ivf->pq_ksub);
    c->computed++;
    if (!maybe_in_range(c, p, l, approx)) continue;
    float d = exact_distance(c, row);
    c->computed++;
    if (!vs_index_in_range(ivf->metric, p, d) || !vs_topk_would_accept(out, d)) continue;
    vs_topk_push(out, d, row);
    hits++;
  }
  return hits;
}

static vs_status ivf_range_search(const vs_index *ix, const float *query, uint32_t limit,
                                  const vs_index_search_params *p, const vs_bitset *skip, vs_topk *out,
                                  vs_index_stats *stats) {
  const ivf_index *ivf = ix->impl;
  query_ctx c;
  uint32_t nprobe = 0;
  VS_UNUSED(limit); /* out holds at most its capacity: the best `limit` */
  vs_status st = resolve_nprobe(ivf, p, &nprobe);
  if (st != VS_OK) return st;
  st = ctx_init(&c, ix, query, skip, stats);
  if (st != VS_OK) return st;
  rank_lists(&c, nprobe);
  if (ivf->type == VS_INDEX_IVF_PQ) pq_query_table(&c);
  uint32_t empty_run = 0, l;
  for (uint32_t probed = 0; (probed < nprobe || empty_run < IVF_MAX_EMPTY_BUCKETS) && next_list(&c, &l); probed++) {
    size_t hits = ivf->type == VS_INDEX_IVF_FLAT ? range_scan_flat(&c, l, p, out) : range_scan_quantized(&c, l, p, out);
    empty_run = hits ? 0 : empty_run + 1;
  }
  finish_stats(&c);
  ctx_free(&c);
  return VS_OK;
}

const vs_index_ops vs_ivf_ops = {ivf_search, ivf_range_search, ivf_serialize,
                                 ivf_validate, ivf_memory, ivf_free};
