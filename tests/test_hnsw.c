/*
 * test_hnsw.c -- HNSW and HNSW_SQ8 (src/index/hnsw*.c) through the index
 * interface (index.h), measured against the exact oracle.
 *
 * Recall thresholds were measured on these data sets (fixed seeds; random
 * uniform and clustered, 4000 x 48, 200 queries, k = 10, ef = 64, M = 16,
 * efConstruction = 100) and set below the measured values with a margin
 * (see the RECALL_* constants).  Nothing here is timed.
 *
 * Also: deletes (skipped rows never returned, recall against the exact
 * answer with the same skips, and k results even when 97% are skipped),
 * k > n, n = 0 and 1, serialise/load round trips with identical results,
 * thousands of mutated and truncated payloads (re-checksummed so the HNSW
 * loader itself sees them), targeted corruptions, validate() on a damaged
 * graph, concurrent searches while another index builds on the pool,
 * range search against the exact range, parameter validation, progress
 * and cancellation, determinism for a seed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sched.h>
#include <time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/hnsw_internal.h"
#include "index/index.h"
#include "support/testutil.h"
#include "util/util.h"

#define N 4000
#define DIM 48
#define NQ 200
#define K 10

/* Thresholds: the lowest value measured over the configurations and the
 * reference/AVX2/AVX-512 kernels, minus a margin.  Uniform random data in
 * 48 dimensions is the hard case (measured 0.9575 .. 0.9635 at ef = 64);
 * clustered data measured 0.9995 .. 1.0. */
#define RECALL_RANDOM_MIN 0.93
#define RECALL_CLUSTERED_MIN 0.98
#define RECALL_SKIP_MIN 0.98     /* clustered, 30% skipped: measured 1.0 */
#define RECALL_RANGE_MIN 0.98    /* measured 0.996 .. 0.9999 */
/* A 2-thread build's graph depends on how the threads interleave.  One CI
 * run under load once measured 0.9590: a thread descheduled mid-insertion
 * left a node reachable with empty lower lists (fixed in hnsw_build.c, see
 * half_inserted_node_traps_nobody).  Under 3 CPU hogs, 28 runs measured
 * 0.9815 .. 0.9985 before the fix and 0.9965 .. 0.9985 after. */
#define RECALL_CONCURRENT_MIN 0.98

typedef struct dataset {
  float *base;
  float *queries;
  size_t n;
  uint32_t dim;
} dataset;

static dataset random_set, clustered_set;

/* ------------------------------------------------------------ data */

static void make_random(dataset *d, size_t n, uint32_t dim, uint64_t seed) {
  d->n = n;
  d->dim = dim;
  d->base = malloc(n * dim * sizeof(float));
  d->queries = malloc((size_t)NQ * dim * sizeof(float));
  assert_non_null(d->base);
  assert_non_null(d->queries);
  tu_random_floats(seed, d->base, n * dim);
  tu_random_floats(seed + 1, d->queries, (size_t)NQ * dim);
}

/* 40 centres in [-1,1)^dim, points at gaussian-ish offsets of 0.15. */
static void make_clustered(dataset *d, size_t n, uint32_t dim, uint64_t seed) {
  float centres[40 * 64];
  uint64_t state = seed;
  assert_true(dim <= 64);
  make_random(d, n, dim, seed);
  tu_random_floats(seed + 7, centres, 40 * (size_t)dim);
  for (size_t i = 0; i < n + NQ; i++) {
    float *row = i < n ? d->base + i * dim : d->queries + (i - n) * dim;
    const float *c = centres + tu_rand_below(&state, 40) * dim;
    for (uint32_t j = 0; j < dim; j++) {
      float noise = (tu_rand_float(&state) + tu_rand_float(&state) + tu_rand_float(&state)) * 0.15f;
      row[j] = c[j] + noise;
    }
  }
}

static void free_set(dataset *d) {
  free(d->base);
  free(d->queries);
  memset(d, 0, sizeof *d);
}

static int setup(void **state) {
  (void)state;
  make_random(&random_set, N, DIM, 1234);
  make_clustered(&clustered_set, N, DIM, 99);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free_set(&random_set);
  free_set(&clustered_set);
  return 0;
}

/* ------------------------------------------------------------ helpers */

static vs_index *build(vs_index_type type, const dataset *d, vs_metric metric, uint32_t M,
                       uint32_t efc, vs_pool *pool) {
  vs_index_build_params p = {.M = M, .ef_construction = efc};
  vs_index *ix = NULL;
  vs_status st = vs_index_build(type, d->base, d->n, d->dim, metric, &p, pool, NULL, &ix);
  if (st != VS_OK) fail_msg("build failed: %s", vs_error_message());
  assert_int_equal(vs_index_validate(ix), VS_OK);
  return ix;
}

/* Top-k ids (sorted best first) of one query; returns the count. */
static size_t ann_ids(const vs_index *ix, const float *q, uint32_t k, const vs_index_search_params *p,
                      const vs_bitset *skip, int64_t *ids, float *dists) {
  vs_topk h;
  assert_int_equal(vs_topk_init(&h, k, ix->metric != VS_METRIC_L2), VS_OK);
  vs_status st = vs_index_search(ix, q, k, p, skip, &h, NULL);
  if (st != VS_OK) fail_msg("search failed: %s", vs_error_message());
  size_t count = h.size;
  vs_topk_sorted(&h, dists, ids);
  vs_topk_free(&h);
  return count;
}

static size_t exact_ids(const dataset *d, vs_metric metric, const float *q, uint32_t k,
                        const vs_bitset *skip, int64_t *ids) {
  vs_topk h;
  assert_int_equal(vs_topk_init(&h, k, metric != VS_METRIC_L2), VS_OK);
  assert_int_equal(vs_index_exact_search(d->base, d->n, d->dim, metric, q, k, skip, &h), VS_OK);
  size_t count = h.size;
  vs_topk_sorted(&h, NULL, ids);
  vs_topk_free(&h);
  return count;
}

static size_t overlap(const int64_t *a, size_t na, const int64_t *b, size_t nb) {
  size_t hits = 0;
  for (size_t i = 0; i < na; i++) {
    for (size_t j = 0; j < nb; j++) {
      if (a[i] == b[j]) {
        hits++;
        break;
      }
    }
  }
  return hits;
}

/* recall@K over the data set's queries. */
static double recall(const vs_index *ix, const dataset *d, vs_metric metric, uint32_t ef,
                     const vs_bitset *skip) {
  vs_index_search_params p = {.ef = ef};
  size_t hits = 0, total = 0;
  for (size_t i = 0; i < NQ; i++) {
    const float *q = d->queries + i * d->dim;
    int64_t got[K], want[K];
    size_t ng = ann_ids(ix, q, K, &p, skip, got, NULL);
    size_t nw = exact_ids(d, metric, q, K, skip, want);
    for (size_t j = 0; skip && j < ng; j++) assert_false(vs_bitset_test(skip, (size_t)got[j]));
    hits += overlap(got, ng, want, nw);
    total += nw;
  }
  return (double)hits / (double)total;
}

static void check_recall(vs_index_type type, const dataset *d, vs_metric metric, const char *name) {
  vs_index *ix = build(type, d, metric, 16, 100, NULL);
  double r = recall(ix, d, metric, 64, NULL);
  print_message("%-8s %-9s %-6s recall@10 (ef=64) = %.4f\n", vs_index_type_name(type), name,
                metric == VS_METRIC_L2 ? "L2" : metric == VS_METRIC_IP ? "IP" : "COSINE", r);
  double min = d == &random_set ? RECALL_RANDOM_MIN : RECALL_CLUSTERED_MIN;
  if (r < min) fail_msg("recall %.4f below %.2f", r, min);
  vs_index_free(ix);
}

/* --------------------------------------------------------- recall */

static void recall_l2(void **state) {
  (void)state;
  check_recall(VS_INDEX_HNSW, &random_set, VS_METRIC_L2, "random");
  check_recall(VS_INDEX_HNSW, &clustered_set, VS_METRIC_L2, "clustered");
  check_recall(VS_INDEX_HNSW_SQ8, &random_set, VS_METRIC_L2, "random");
  check_recall(VS_INDEX_HNSW_SQ8, &clustered_set, VS_METRIC_L2, "clustered");
}

static void recall_ip(void **state) {
  (void)state;
  check_recall(VS_INDEX_HNSW, &clustered_set, VS_METRIC_IP, "clustered");
  check_recall(VS_INDEX_HNSW_SQ8, &clustered_set, VS_METRIC_IP, "clustered");
}

static void recall_cosine(void **state) {
  (void)state;
  check_recall(VS_INDEX_HNSW, &random_set, VS_METRIC_COSINE, "random");
  check_recall(VS_INDEX_HNSW_SQ8, &clustered_set, VS_METRIC_COSINE, "clustered");
}

/* --------------------------------------------------------- deletes */

static void fill_skip(vs_bitset *skip, size_t n, uint64_t per_mille, uint64_t seed) {
  uint64_t state = seed;
  assert_int_equal(vs_bitset_init(skip, n), VS_OK);
  for (size_t i = 0; i < n; i++) {
    if (tu_rand_below(&state, 1000) < per_mille) vs_bitset_set(skip, i);
  }
}

static void deletes_are_honoured(void **state) {
  (void)state;
  const vs_index_type types[] = {VS_INDEX_HNSW, VS_INDEX_HNSW_SQ8};
  vs_bitset skip;
  fill_skip(&skip, N, 300, 5);
  for (size_t t = 0; t < 2; t++) {
    vs_index *ix = build(types[t], &clustered_set, VS_METRIC_L2, 16, 100, NULL);
    double r = recall(ix, &clustered_set, VS_METRIC_L2, 64, &skip);
    print_message("%s with 30%% skipped: recall@10 = %.4f\n", vs_index_type_name(types[t]), r);
    if (r < RECALL_SKIP_MIN) fail_msg("recall with deletes %.4f below %.2f", r, RECALL_SKIP_MIN);
    vs_index_free(ix);
  }
  vs_bitset_free(&skip);
}

/* 97% skipped: still K results (all of them allowed) when enough pass. */
static void heavy_skip_still_finds_k(void **state) {
  (void)state;
  vs_bitset skip;
  fill_skip(&skip, N, 970, 6);
  size_t allowed = N - vs_bitset_count(&skip);
  assert_true(allowed >= K);
  vs_index *ix = build(VS_INDEX_HNSW_SQ8, &random_set, VS_METRIC_L2, 16, 100, NULL);
  vs_index_search_params p = {.ef = 16};
  for (size_t i = 0; i < 20; i++) {
    int64_t ids[K];
    size_t got = ann_ids(ix, random_set.queries + i * DIM, K, &p, &skip, ids, NULL);
    assert_int_equal(got, K);
    for (size_t j = 0; j < got; j++) assert_false(vs_bitset_test(&skip, (size_t)ids[j]));
  }
  /* A bitset shorter than n: rows past its end are not skipped. */
  vs_bitset short_skip;
  assert_int_equal(vs_bitset_init(&short_skip, 10), VS_OK);
  for (size_t i = 0; i < 10; i++) vs_bitset_set(&short_skip, i);
  int64_t ids[K];
  assert_int_equal(ann_ids(ix, random_set.base, K, &p, &short_skip, ids, NULL), K);
  for (size_t j = 0; j < K; j++) assert_true(ids[j] >= 10);
  vs_bitset_free(&short_skip);
  vs_index_free(ix);
  vs_bitset_free(&skip);
}

/* ------------------------------------------------------ edge sizes */

static void k_larger_than_n(void **state) {
  (void)state;
  dataset small;
  make_random(&small, 50, 8, 77);
  for (int sq8 = 0; sq8 < 2; sq8++) {
    vs_index *ix = build(sq8 ? VS_INDEX_HNSW_SQ8 : VS_INDEX_HNSW, &small, VS_METRIC_L2, 4, 16, NULL);
    int64_t got[100], want[100];
    size_t ng = ann_ids(ix, small.queries, 100, NULL, NULL, got, NULL);
    size_t nw = exact_ids(&small, VS_METRIC_L2, small.queries, 100, NULL, want);
    assert_int_equal(nw, 50);
    assert_int_equal(ng, 50);
    assert_int_equal(overlap(got, ng, want, nw), 50);
    vs_index_free(ix);
  }
  free_set(&small);
}

static void roundtrip(vs_index *ix, const float *vectors, size_t n, uint32_t dim, vs_metric metric,
                      vs_index **out) {
  vs_buf blob = {0};
  assert_int_equal(vs_index_serialize(ix, &blob), VS_OK);
  vs_status st = vs_index_load(blob.data, blob.len, vectors, n, dim, metric, out);
  if (st != VS_OK) fail_msg("load failed: %s", vs_error_message());
  vs_buf_free(&blob);
}

static void zero_and_one_rows(void **state) {
  (void)state;
  float one[4] = {1, 2, 3, 4};
  float q[4] = {0, 0, 0, 0};
  for (int sq8 = 0; sq8 < 2; sq8++) {
    vs_index_type type = sq8 ? VS_INDEX_HNSW_SQ8 : VS_INDEX_HNSW;
    for (size_t n = 0; n <= 1; n++) {
      vs_index *ix = NULL, *loaded = NULL;
      assert_int_equal(vs_index_build(type, n ? one : NULL, n, 4, VS_METRIC_COSINE, NULL, NULL, NULL, &ix), VS_OK);
      assert_int_equal(vs_index_validate(ix), VS_OK);
      assert_int_equal(vs_index_rows(ix), n);
      roundtrip(ix, n ? one : NULL, n, 4, VS_METRIC_COSINE, &loaded);
      for (int which = 0; which < 2; which++) {
        int64_t ids[5];
        float dists[5];
        size_t got = ann_ids(which ? loaded : ix, one, 5, NULL, NULL, ids, dists);
        assert_int_equal(got, n);
        if (n) {
          assert_int_equal(ids[0], 0);
          assert_true(fabsf(dists[0] - 1.0f) < 1e-5f);
        }
        got = ann_ids(which ? loaded : ix, q, 5, NULL, NULL, ids, dists); /* zero query */
        assert_int_equal(got, n);
        if (n) assert_true(dists[0] == 0.0f);
      }
      vs_index_free(ix);
      vs_index_free(loaded);
    }
  }
}

/* NaN and infinite rows: no crash, a valid index, loadable, searchable. */
static void non_finite_rows(void **state) {
  (void)state;
  const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP, VS_METRIC_COSINE};
  dataset small;
  make_random(&small, 300, 8, 91);
  small.base[5 * 8 + 1] = NAN;
  small.base[9 * 8] = INFINITY;
  for (int d = 0; d < 8; d++) small.base[17 * 8 + d] = -INFINITY;
  for (int sq8 = 0; sq8 < 2; sq8++) {
    for (size_t m = 0; m < 3; m++) {
      vs_index *ix = build(sq8 ? VS_INDEX_HNSW_SQ8 : VS_INDEX_HNSW, &small, metrics[m], 4, 16, NULL), *loaded = NULL;
      roundtrip(ix, small.base, small.n, small.dim, metrics[m], &loaded);
      int64_t ids[K];
      assert_true(ann_ids(loaded, small.queries, K, NULL, NULL, ids, NULL) > 0);
      vs_index_free(ix);
      vs_index_free(loaded);
    }
  }
  free_set(&small);
}

/* ------------------------------------------------------ round trip */

static void serialise_load_identical(void **state) {
  (void)state;
  const vs_metric metrics[] = {VS_METRIC_L2, VS_METRIC_IP, VS_METRIC_COSINE};
  dataset small;
  make_clustered(&small, 1500, 24, 4);
  for (int sq8 = 0; sq8 < 2; sq8++) {
    for (size_t m = 0; m < 3; m++) {
      vs_index *ix = build(sq8 ? VS_INDEX_HNSW_SQ8 : VS_INDEX_HNSW, &small, metrics[m], 8, 40, NULL);
      vs_index *loaded = NULL;
      roundtrip(ix, small.base, small.n, small.dim, metrics[m], &loaded);
      assert_int_equal(vs_index_validate(loaded), VS_OK);
      assert_int_equal(vs_index_get_type(loaded), vs_index_get_type(ix));
      assert_int_equal(vs_index_memory(loaded), vs_index_memory(ix));
      vs_buf a = {0}, b = {0};
      assert_int_equal(vs_index_serialize(ix, &a), VS_OK);
      assert_int_equal(vs_index_serialize(loaded, &b), VS_OK);
      assert_int_equal(a.len, b.len);
      assert_memory_equal(a.data, b.data, a.len);
      vs_buf_free(&a);
      vs_buf_free(&b);
      for (size_t i = 0; i < NQ; i++) {
        int64_t ia[K], ib[K];
        float da[K], db[K];
        size_t na = ann_ids(ix, small.queries + i * small.dim, K, NULL, NULL, ia, da);
        size_t nb = ann_ids(loaded, small.queries + i * small.dim, K, NULL, NULL, ib, db);
        assert_int_equal(na, nb);
        assert_memory_equal(ia, ib, na * sizeof *ia);
        assert_memory_equal(da, db, na * sizeof *da);
      }
      vs_index_free(ix);
      vs_index_free(loaded);
    }
  }
  free_set(&small);
}

/* --------------------------------------------------- corrupt payloads */

#define FRAME_HEADER 40u

/* Re-frames a blob after surgery: payload length and checksum. */
static void refresh_frame(uint8_t *blob, size_t len) {
  vs_store_u64(blob + 32, len - FRAME_HEADER - 8);
  vs_store_u64(blob + len - 8, vs_hash64(blob, len - 8));
}

/* Loads a mutated blob: must fail cleanly or give a valid, searchable index. */
static int try_load(const uint8_t *blob, size_t len, const dataset *d, vs_metric metric) {
  vs_index *ix = NULL;
  vs_status st = vs_index_load(blob, len, d->base, d->n, d->dim, metric, &ix);
  if (st != VS_OK) {
    assert_int_equal(st, VS_ERR_CORRUPT);
    assert_true(strlen(vs_error_message()) > 0);
    assert_null(ix);
    return 0;
  }
  assert_int_equal(vs_index_validate(ix), VS_OK);
  int64_t ids[K];
  (void)ann_ids(ix, d->queries, K, NULL, NULL, ids, NULL);
  vs_index_free(ix);
  return 1;
}

static void fuzz_blob(const dataset *d, vs_metric metric, vs_index_type type, uint64_t seed, int cases) {
  vs_index *ix = build(type, d, metric, 4, 16, NULL);
  vs_buf blob = {0};
  assert_int_equal(vs_index_serialize(ix, &blob), VS_OK);
  vs_index_free(ix);
  uint8_t *copy = malloc(blob.len);
  assert_non_null(copy);
  uint64_t state = seed;
  int accepted = 0;
  size_t payload = blob.len - FRAME_HEADER - 8;
  for (int c = 0; c < cases; c++) {
    memcpy(copy, blob.data, blob.len);
    size_t len = blob.len;
    uint64_t kind = tu_rand_below(&state, 4);
    if (kind == 0) { /* truncate the payload */
      len = FRAME_HEADER + tu_rand_below(&state, payload) + 8;
      memcpy(copy + len - 8, blob.data + blob.len - 8, 8);
    } else { /* flip 1..8 bytes, biased towards the header and the links */
      uint64_t flips = 1 + tu_rand_below(&state, 8);
      for (uint64_t f = 0; f < flips; f++) {
        size_t span = kind == 1 ? VS_MIN(payload, (size_t)64 + d->n) : payload;
        size_t at = FRAME_HEADER + tu_rand_below(&state, span);
        copy[at] ^= (uint8_t)(1 + tu_rand_below(&state, 255));
      }
    }
    refresh_frame(copy, len);
    accepted += try_load(copy, len, d, metric);
  }
  print_message("%s fuzz: %d of %d mutated payloads accepted (valid), the rest rejected\n",
                vs_index_type_name(type), accepted, cases);
  free(copy);
  vs_buf_free(&blob);
}

static void corrupted_payloads_rejected(void **state) {
  (void)state;
  dataset small;
  uint64_t seed = tu_seed("test_hnsw fuzz");
  make_random(&small, 300, 8, 21);
  fuzz_blob(&small, VS_METRIC_L2, VS_INDEX_HNSW, seed, 1500);
  fuzz_blob(&small, VS_METRIC_COSINE, VS_INDEX_HNSW_SQ8, seed + 1, 1500);
  /* The frame's checksum alone catches an unrefreshed flip. */
  vs_index *ix = build(VS_INDEX_HNSW, &small, VS_METRIC_L2, 4, 16, NULL), *out = NULL;
  vs_buf blob = {0};
  assert_int_equal(vs_index_serialize(ix, &blob), VS_OK);
  blob.data[FRAME_HEADER + 100] ^= 1;
  assert_int_equal(vs_index_load(blob.data, blob.len, small.base, small.n, small.dim, VS_METRIC_L2, &out), VS_ERR_CORRUPT);
  vs_buf_free(&blob);
  vs_index_free(ix);
  free_set(&small);
}

/* Payload offsets (hnsw_io.c): levels at 48, then level-0 lists. */
#define PAYLOAD_LEVELS 48u

static void expect_corrupt(uint8_t *blob, size_t len, const dataset *d, const char *needle) {
  vs_index *ix = NULL;
  refresh_frame(blob, len);
  assert_int_equal(vs_index_load(blob, len, d->base, d->n, d->dim, VS_METRIC_L2, &ix), VS_ERR_CORRUPT);
  if (!strstr(vs_error_message(), needle)) fail_msg("message '%s' lacks '%s'", vs_error_message(), needle);
}

static void targeted_corruptions(void **state) {
  (void)state;
  dataset small;
  make_random(&small, 200, 8, 31);
  vs_index *ix = build(VS_INDEX_HNSW, &small, VS_METRIC_L2, 4, 16, NULL);
  vs_buf blob = {0};
  assert_int_equal(vs_index_serialize(ix, &blob), VS_OK);
  vs_index_free(ix);
  uint8_t *c = malloc(blob.len);
  uint8_t *p = NULL;
  size_t list0 = FRAME_HEADER + PAYLOAD_LEVELS + small.n; /* node 0's level-0 list */
  size_t node5 = list0 + 5 * (2 * 4 + 1) * 4;
  assert_true(vs_load_u32(blob.data + node5) >= 2);
#define FRESH() (memcpy(c, blob.data, blob.len), p = c)
  FRESH();
  vs_store_u32(p + node5 + 4, 5000); /* link out of range */
  expect_corrupt(c, blob.len, &small, "out of range");
  FRESH();
  vs_store_u32(p + node5 + 4, 5); /* self-link */
  expect_corrupt(c, blob.len, &small, "itself");
  FRESH();
  vs_store_u32(p + node5, 9); /* count above 2M */
  expect_corrupt(c, blob.len, &small, "at most");
  FRESH();
  vs_store_u32(p + node5 + 8, vs_load_u32(p + node5 + 4)); /* duplicate */
  expect_corrupt(c, blob.len, &small, "duplicate");
  FRESH();
  p[FRAME_HEADER + PAYLOAD_LEVELS + 3] = 40; /* level above the cap */
  expect_corrupt(c, blob.len, &small, "level");
  FRESH();
  vs_store_u32(p + FRAME_HEADER + 32, 7777); /* entry point */
  expect_corrupt(c, blob.len, &small, "entry point");
  FRESH();
  vs_store_u32(p + FRAME_HEADER + 8, 65); /* M */
  expect_corrupt(c, blob.len, &small, "M=65");
  FRESH();
  vs_store_u32(p + FRAME_HEADER + 0, 2); /* newer payload version */
  expect_corrupt(c, blob.len, &small, "version");
  FRESH();
  vs_store_u32(p + FRAME_HEADER + 4, 1); /* SQ8 flag on an HNSW blob */
  expect_corrupt(c, blob.len, &small, "flags");
#undef FRESH
  free(c);
  vs_buf_free(&blob);
  free_set(&small);
}

static void validate_detects_damage(void **state) {
  (void)state;
  dataset small;
  make_random(&small, 300, 8, 41);
  vs_index *ix = build(VS_INDEX_HNSW, &small, VS_METRIC_L2, 4, 16, NULL);
  hnsw_index *hx = ix->impl;
  uint32_t *list = hnsw_list(&hx->graph, 7, 0);
  assert_true(list[0] >= 1);
  uint32_t saved = list[1];
  list[1] = 7;
  assert_int_equal(vs_index_validate(ix), VS_ERR_CORRUPT);
  list[1] = saved;
  assert_int_equal(vs_index_validate(ix), VS_OK);
  uint32_t entry = hx->graph.entry;
  hx->graph.entry = entry == 0 ? 1 : 0;
  if (hx->graph.levels[hx->graph.entry] != hx->graph.max_level) {
    assert_int_equal(vs_index_validate(ix), VS_ERR_CORRUPT);
  }
  hx->graph.entry = entry;
  assert_int_equal(vs_index_validate(ix), VS_OK);
  vs_index_free(ix);
  free_set(&small);
}

/* ------------------------------------------------------ concurrency */

typedef struct search_thread {
  const vs_index *ix;
  const dataset *d;
  const int64_t *expect;
  int failures;
} search_thread;

static void *search_main(void *arg) {
  search_thread *t = arg;
  vs_index_search_params p = {.ef = 32};
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < 100; i++) {
      vs_topk h;
      int64_t ids[K];
      if (vs_topk_init(&h, K, 0) != VS_OK) return NULL;
      if (vs_index_search(t->ix, t->d->queries + i * t->d->dim, K, &p, NULL, &h, NULL) != VS_OK) t->failures++;
      vs_topk_sorted(&h, NULL, ids);
      vs_topk_free(&h);
      if (memcmp(ids, t->expect + i * K, sizeof ids) != 0) t->failures++;
    }
  }
  return NULL;
}

/* State of half_inserted_node_traps_nobody's build hook. */
typedef struct pause_state {
  vs_index_progress *progress;
  size_t n;
  _Atomic int64_t paused;      /* the node held mid-insertion, or -1 */
  atomic_uint only_paused;     /* level-0 choices that are the paused node alone */
  atomic_uint after_pause;     /* level-0 choices made while it was held */
  atomic_bool holding;
} pause_state;

static void pause_hook(void *arg, uint32_t node, int level, const uint32_t *chosen, uint32_t count,
                       bool holds_global) {
  pause_state *p = arg;
  int64_t x = atomic_load(&p->paused);
  if (level == 0 && x >= 0 && node != (uint32_t)x && atomic_load(&p->holding)) {
    atomic_fetch_add(&p->after_pause, 1);
    if (count == 1 && chosen[0] == (uint32_t)x) atomic_fetch_add(&p->only_paused, 1);
  }
  if (x >= 0 || holds_global || level != 2 || node < 200) return;
  int64_t none = -1;
  if (!atomic_compare_exchange_strong(&p->paused, &none, (int64_t)node)) return;
  /* Hold this insertion (its level-2 links chosen, levels 1 and 0 not)
   * while the other thread inserts 400 nodes.  The deadline only guards
   * against a pool that never starts the second thread. */
  atomic_store(&p->holding, true);
  uint64_t target = atomic_load(&p->progress->done) + 400;
  if (target > p->n - 1) target = p->n - 1;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    sched_yield();
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while (atomic_load(&p->progress->done) < target && t.tv_sec - t0.tv_sec < 60);
  atomic_store(&p->holding, false);
}

/* A node is written (every level's list) before any back-link makes it
 * reachable.  Holding one insertion half-way while the other thread
 * inserts 400 nodes must not make any of them link to the held node alone
 * (as happened when a node became reachable at level 2 with empty lists
 * below it: a descent through it found nothing else). */
static void half_inserted_node_traps_nobody(void **state) {
  (void)state;
  dataset d;
  make_clustered(&d, 1500, 16, 31);
  vs_pool *pool = NULL;
  assert_int_equal(vs_pool_new(2, &pool), VS_OK);
  vs_index_progress progress = {0};
  pause_state p = {.progress = &progress, .n = d.n};
  atomic_init(&p.paused, -1);
  hnsw_set_build_hook(pause_hook, &p);
  vs_index_build_params bp = {.M = 8, .ef_construction = 40, .threads = 2};
  vs_index *ix = NULL;
  vs_status st = vs_index_build(VS_INDEX_HNSW, d.base, d.n, d.dim, VS_METRIC_L2, &bp, pool, &progress, &ix);
  hnsw_set_build_hook(NULL, NULL);
  assert_int_equal(st, VS_OK);
  assert_true(atomic_load(&p.paused) >= 0);
  print_message("held node %lld: %u level-0 choices made meanwhile, %u of them the held node alone\n",
                (long long)atomic_load(&p.paused), atomic_load(&p.after_pause), atomic_load(&p.only_paused));
  assert_true(atomic_load(&p.after_pause) >= 300);
  assert_int_equal(atomic_load(&p.only_paused), 0);
  assert_int_equal(vs_index_validate(ix), VS_OK);
  double r = recall(ix, &d, VS_METRIC_L2, 64, NULL);
  print_message("recall@10 (ef=64) = %.4f\n", r);
  if (r < RECALL_CLUSTERED_MIN) fail_msg("recall %.4f below %.2f", r, RECALL_CLUSTERED_MIN);
  vs_index_free(ix);
  vs_pool_free(pool);
  free_set(&d);
}

static void concurrent_search_during_build(void **state) {
  (void)state;
  dataset small;
  make_clustered(&small, 1500, 16, 8);
  vs_pool *pool = NULL;
  assert_int_equal(vs_pool_new(2, &pool), VS_OK);
  vs_index *ix = build(VS_INDEX_HNSW_SQ8, &small, VS_METRIC_L2, 8, 40, pool);
  int64_t *expect = malloc(100 * K * sizeof *expect);
  vs_index_search_params p = {.ef = 32};
  for (size_t i = 0; i < 100; i++) ann_ids(ix, small.queries + i * small.dim, K, &p, NULL, expect + i * K, NULL);
  search_thread threads[4];
  pthread_t tids[4];
  for (int t = 0; t < 4; t++) {
    threads[t] = (search_thread){ix, &small, expect, 0};
    assert_int_equal(pthread_create(&tids[t], NULL, search_main, &threads[t]), 0);
  }
  vs_index_progress progress = {0};
  vs_index_build_params bp = {.M = 8, .ef_construction = 40, .threads = 2};
  vs_index *other = NULL;
  assert_int_equal(vs_index_build(VS_INDEX_HNSW, small.base, small.n, small.dim, VS_METRIC_IP, &bp, pool,
                                  &progress, &other), VS_OK);
  for (int t = 0; t < 4; t++) {
    pthread_join(tids[t], NULL);
    assert_int_equal(threads[t].failures, 0);
  }
  assert_int_equal(atomic_load(&progress.done), small.n);
  assert_int_equal(atomic_load(&progress.total), small.n);
  assert_int_equal(vs_index_validate(other), VS_OK);
  double r = recall(other, &small, VS_METRIC_IP, 64, NULL);
  print_message("HNSW IP built with 2 threads during searches: recall@10 = %.4f\n", r);
  if (r < RECALL_CONCURRENT_MIN) fail_msg("recall %.4f below %.2f", r, RECALL_CONCURRENT_MIN);
  vs_index_free(other);
  vs_index_free(ix);
  free(expect);
  vs_pool_free(pool);
  free_set(&small);
}

/* ----------------------------------------------------------- range */

static void check_range(vs_index_type type, const dataset *d, vs_metric metric) {
  vs_index *ix = build(type, d, metric, 16, 100, NULL), *flat = NULL;
  assert_int_equal(vs_index_build(VS_INDEX_FLAT, d->base, d->n, d->dim, metric, NULL, NULL, NULL, &flat), VS_OK);
  bool larger = metric != VS_METRIC_L2;
  size_t found = 0, truth = 0;
  for (size_t i = 0; i < 50; i++) {
    const float *q = d->queries + i * d->dim;
    /* the range: from the 3rd to the 150th nearest (more than ef = 64,
     * so the search must widen) */
    float dists[150];
    int64_t ids[150];
    vs_topk h;
    assert_int_equal(vs_topk_init(&h, 150, larger), VS_OK);
    assert_int_equal(vs_index_exact_search(d->base, d->n, d->dim, metric, q, 150, NULL, &h), VS_OK);
    vs_topk_sorted(&h, dists, ids);
    vs_index_search_params p = {.has_radius = true, .radius = dists[149], .has_range_filter = true, .range_filter = dists[2]};
    uint32_t limit = 1000;
    vs_topk a, b;
    assert_int_equal(vs_topk_init(&a, limit, larger), VS_OK);
    assert_int_equal(vs_topk_init(&b, limit, larger), VS_OK);
    assert_int_equal(vs_index_range_search(ix, q, limit, &p, NULL, &a, NULL), VS_OK);
    assert_int_equal(vs_index_range_search(flat, q, limit, &p, NULL, &b, NULL), VS_OK);
    size_t na = a.size, nb = b.size;
    int64_t *ia = malloc(limit * sizeof *ia), *ib = malloc(limit * sizeof *ib);
    float *da = malloc(limit * sizeof *da);
    vs_topk_sorted(&a, da, ia);
    vs_topk_sorted(&b, NULL, ib);
    for (size_t j = 0; j < na; j++) assert_true(vs_index_in_range(metric, &p, da[j]));
    found += overlap(ia, na, ib, nb);
    truth += nb;
    /* limit below the count in range: exactly `limit`, the best ones */
    vs_topk c;
    assert_int_equal(vs_topk_init(&c, 5, larger), VS_OK);
    assert_int_equal(vs_index_range_search(ix, q, 5, &p, NULL, &c, NULL), VS_OK);
    assert_int_equal(c.size, 5);
    vs_topk_free(&c);
    free(ia);
    free(ib);
    free(da);
    vs_topk_free(&a);
    vs_topk_free(&b);
    vs_topk_free(&h);
  }
  double r = (double)found / (double)truth;
  print_message("%s range search recall = %.4f (%zu of %zu)\n", vs_index_type_name(type), r, found, truth);
  assert_true(r >= RECALL_RANGE_MIN);
  vs_index_free(ix);
  vs_index_free(flat);
}

static void range_search_matches_exact(void **state) {
  (void)state;
  check_range(VS_INDEX_HNSW, &clustered_set, VS_METRIC_L2);
  check_range(VS_INDEX_HNSW_SQ8, &clustered_set, VS_METRIC_COSINE);
}

/* ------------------------------------------------------- params */

static void params_validated(void **state) {
  (void)state;
  dataset small;
  make_random(&small, 100, 8, 51);
  const struct {
    uint32_t M, efc;
    const char *needle;
  } bad[] = {{3, 0, "M=3"}, {65, 0, "M=65"}, {0, 7, "efConstruction=7"}, {0, 4097, "efConstruction=4097"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    vs_index_build_params p = {.M = bad[i].M, .ef_construction = bad[i].efc};
    vs_index *ix = NULL;
    assert_int_equal(vs_index_build(VS_INDEX_HNSW, small.base, small.n, small.dim, VS_METRIC_L2, &p, NULL, NULL, &ix),
                     VS_ERR_INVALID);
    assert_null(ix);
    if (!strstr(vs_error_message(), bad[i].needle)) fail_msg("'%s' lacks '%s'", vs_error_message(), bad[i].needle);
  }
  vs_index *ix = build(VS_INDEX_HNSW_SQ8, &small, VS_METRIC_L2, 4, 8, NULL);
  vs_topk h;
  assert_int_equal(vs_topk_init(&h, K, 0), VS_OK);
  vs_index_search_params p = {.ef = HNSW_EF_MAX + 1};
  assert_int_equal(vs_index_search(ix, small.queries, K, &p, NULL, &h, NULL), VS_ERR_INVALID);
  assert_non_null(strstr(vs_error_message(), "ef="));
  p = (vs_index_search_params){.refine_k = HNSW_EF_MAX + 1};
  assert_int_equal(vs_index_search(ix, small.queries, K, &p, NULL, &h, NULL), VS_ERR_INVALID);
  assert_non_null(strstr(vs_error_message(), "refine_k="));
  p = (vs_index_search_params){.ef = 1, .refine_k = 1}; /* below k: raised to k */
  assert_int_equal(vs_index_search(ix, small.queries, K, &p, NULL, &h, NULL), VS_OK);
  assert_int_equal(h.size, K);
  vs_topk_free(&h);
  vs_index_stats stats = {0};
  assert_int_equal(vs_topk_init(&h, K, 0), VS_OK);
  assert_int_equal(vs_index_search(ix, small.queries, K, NULL, NULL, &h, &stats), VS_OK);
  assert_true(stats.distance_computations > 0 && stats.nodes_visited > 0);
  assert_true(vs_index_memory(ix) > small.n * 8);
  vs_topk_free(&h);
  vs_index_free(ix);
  free_set(&small);
}

static void progress_cancel_and_determinism(void **state) {
  (void)state;
  dataset small;
  make_random(&small, 500, 8, 61);
  vs_index_progress progress = {0};
  atomic_store(&progress.cancel, 1);
  vs_index *ix = NULL;
  vs_pool *pool = NULL;
  assert_int_equal(vs_pool_new(2, &pool), VS_OK);
  assert_int_equal(vs_index_build(VS_INDEX_HNSW, small.base, small.n, small.dim, VS_METRIC_L2, NULL, pool, &progress, &ix),
                   VS_ERR_BUSY);
  assert_string_equal(vs_error_message(), "index build cancelled");
  assert_null(ix);
  assert_true(atomic_load(&progress.done) <= 1); /* only the entry point */
  /* one thread, same seed: byte-identical; another seed: different levels */
  vs_index_build_params p = {.M = 8, .ef_construction = 32, .threads = 1, .seed = 42};
  vs_buf blobs[3] = {{0}, {0}, {0}};
  for (int i = 0; i < 3; i++) {
    if (i == 2) p.seed = 43;
    assert_int_equal(vs_index_build(VS_INDEX_HNSW_SQ8, small.base, small.n, small.dim, VS_METRIC_IP, &p, pool, NULL, &ix), VS_OK);
    assert_int_equal(vs_index_serialize(ix, &blobs[i]), VS_OK);
    vs_index_free(ix);
  }
  assert_int_equal(blobs[0].len, blobs[1].len);
  assert_memory_equal(blobs[0].data, blobs[1].data, blobs[0].len);
  assert_true(blobs[0].len != blobs[2].len || memcmp(blobs[0].data, blobs[2].data, blobs[0].len) != 0);
  for (int i = 0; i < 3; i++) vs_buf_free(&blobs[i]);
  vs_pool_free(pool);
  free_set(&small);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(recall_l2),
      cmocka_unit_test(recall_ip),
      cmocka_unit_test(recall_cosine),
      cmocka_unit_test(deletes_are_honoured),
      cmocka_unit_test(heavy_skip_still_finds_k),
      cmocka_unit_test(k_larger_than_n),
      cmocka_unit_test(zero_and_one_rows),
      cmocka_unit_test(non_finite_rows),
      cmocka_unit_test(serialise_load_identical),
      cmocka_unit_test(corrupted_payloads_rejected),
      cmocka_unit_test(targeted_corruptions),
      cmocka_unit_test(validate_detects_damage),
      cmocka_unit_test(concurrent_search_during_build),
      cmocka_unit_test(half_inserted_node_traps_nobody),
      cmocka_unit_test(range_search_matches_exact),
      cmocka_unit_test(params_validated),
      cmocka_unit_test(progress_cancel_and_determinism),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
