/*
 * test_search.c -- exact search checked against a brute-force oracle that
 * the test computes itself, in double precision.
 *
 * The data set of each case is spread the way a real collection is: two
 * shards, rows sealed by two flushes, more rows left in growing segments,
 * every 7th row deleted (in sealed and in growing segments alike) and every
 * 11th row upserted with a new vector (its old version must never come
 * back).  For COSINE a few stored vectors are zero (similarity 0, never NaN).
 * Half the queries are random, half are copies of stored vectors.
 *
 * A result is accepted when, for every query q and hit i:
 *   - the number of hits is min(k, live rows);
 *   - the id is a live row, and appears once per query;
 *   - the distance reported equals the oracle's distance of that row
 *     within 1e-4 relative (absolute below 1);
 *   - the oracle's distance of that row equals the oracle's i-th best
 *     distance within the same tolerance (so the hits are a top-k, and ids
 *     are in effect compared as sets inside groups of tied distances);
 *   - where the oracle's i-th distance is not tied with its neighbours,
 *     the id is exactly the oracle's i-th id;
 *   - distances are ordered best first (L2 ascending, IP/COSINE descending).
 *
 * Each case runs k in {1, 10, 100, more than the rows} x nq in {1, 7, 64} x
 * threads in {0 (the pool), 1, 2, 8}: the engine splits rows among tasks
 * when nq < 2 x threads and splits queries otherwise, so both paths run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"
#include "vectorstore.h"
#include "support/expect.h"

#define COLL "s"
#define NQ_MAX 64
#define BATCH 500

/* ------------------------------------------------------------- data set */

/* Rows have ids 1..n; row r (0-based) has id r + 1. */
typedef struct dataset {
  vs_metric metric;
  uint32_t dim;
  size_t n;
  float *vecs;     /* n x dim: the current version of every row */
  bool *live;
  size_t live_count;
} dataset;

static void ds_free(dataset *d) {
  free(d->vecs);
  free(d->live);
  memset(d, 0, sizeof *d);
}

static void row_tag(int64_t id, char *buf, size_t n) {
  snprintf(buf, n, "row-%" PRId64, id);
}

/* Inserts or upserts rows [from, to) of d (ids from+1..to) into
 * `partition` of `coll`, taking vectors from d->vecs. */
static void ds_write(vs_db *db, const char *coll, const char *partition,
                     const dataset *d, size_t from, size_t to, bool upsert) {
  for (size_t b = from; b < to; b += BATCH) {
    size_t m = to - b < BATCH ? to - b : BATCH;
    int64_t ids[BATCH];
    double nums[BATCH];
    char tags[BATCH][24];
    const char *tagp[BATCH];
    vs_rows *rows = NULL;
    for (size_t i = 0; i < m; i++) {
      ids[i] = (int64_t)(b + i + 1);
      nums[i] = (double)ids[i] * 0.5;
      row_tag(ids[i], tags[i], sizeof tags[i]);
      tagp[i] = tags[i];
    }
    EXPECT_OK(vs_rows_new(m, &rows));
    EXPECT_OK(vs_rows_set_int64(rows, "id", ids, NULL));
    EXPECT_OK(vs_rows_set_float_vectors(rows, "vec", d->vecs + b * d->dim,
                                        d->dim));
    EXPECT_OK(vs_rows_set_strings(rows, "tag", tagp));
    EXPECT_OK(vs_rows_set_double(rows, "num", nums, NULL));
    if (upsert)
      EXPECT_OK(vs_upsert(db, coll, partition, rows, NULL));
    else
      EXPECT_OK(vs_insert(db, coll, partition, rows, NULL));
    vs_rows_free(rows);
  }
}

static void create_collection(vs_db *db, const char *name, vs_metric metric,
                              uint32_t dim, uint32_t shards) {
  vs_schema *s = NULL;
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  vs_field_def vec = {.name = "vec", .type = VS_TYPE_FLOAT_VECTOR,
                      .dim = dim, .metric = metric};
  vs_field_def tag = {.name = "tag", .type = VS_TYPE_VARCHAR,
                      .max_length = 24};
  vs_field_def num = {.name = "num", .type = VS_TYPE_DOUBLE};
  EXPECT_OK(vs_schema_new(&s));
  EXPECT_OK(vs_schema_add_field(s, &id));
  EXPECT_OK(vs_schema_add_field(s, &vec));
  EXPECT_OK(vs_schema_add_field(s, &tag));
  EXPECT_OK(vs_schema_add_field(s, &num));
  vs_collection_options co = {.shards = shards};
  EXPECT_OK(vs_create_collection(db, name, s, &co));
  vs_schema_free(s);
}

static uint64_t delete_rows(vs_db *db, const char *coll, dataset *d,
                            size_t from, size_t to, size_t every) {
  int64_t *keys = calloc(d->n + 1, sizeof *keys);
  size_t nk = 0;
  uint64_t deleted = 0;
  assert_non_null(keys);
  for (size_t r = from; r < to; r++) {
    if (r % every != 3 || !d->live[r]) continue;
    keys[nk++] = (int64_t)r + 1;
    d->live[r] = false;
    d->live_count--;
  }
  vs_keys k = {.count = nk, .int_keys = keys};
  EXPECT_OK(vs_delete(db, coll, NULL, &k, &deleted));
  assert_int_equal(deleted, nk);
  free(keys);
  return deleted;
}

/*
 * Builds the case's collection: rows [0, 40%) inserted and flushed, [40%,
 * 70%) inserted and flushed, the rest inserted and left growing; then every
 * 7th row deleted and every 11th live row upserted with a new vector.
 */
static void ds_build(vs_db *db, dataset *d, vs_metric metric, uint32_t dim,
                     size_t n, uint64_t seed) {
  memset(d, 0, sizeof *d);
  d->metric = metric;
  d->dim = dim;
  d->n = n;
  d->vecs = malloc(n * dim * sizeof *d->vecs);
  d->live = malloc(n * sizeof *d->live);
  assert_non_null(d->vecs);
  assert_non_null(d->live);
  tu_random_floats(seed, d->vecs, n * dim);
  if (metric == VS_METRIC_COSINE) {
    for (size_t r = 5; r < n; r += 500) memset(d->vecs + r * dim, 0, dim * sizeof(float));
  }
  for (size_t r = 0; r < n; r++) d->live[r] = true;
  d->live_count = n;
  create_collection(db, COLL, metric, dim, 2);
  size_t a = n * 4 / 10, b = n * 7 / 10;
  ds_write(db, COLL, NULL, d, 0, a, false);
  EXPECT_OK(vs_flush(db, COLL));
  ds_write(db, COLL, NULL, d, a, b, false);
  EXPECT_OK(vs_flush(db, COLL));
  ds_write(db, COLL, NULL, d, b, n, false);
  delete_rows(db, COLL, d, 0, n, 7);
  /* upsert every 11th live row (ids in runs, so batches stay simple) */
  for (size_t r = 2; r < n; r += 11) {
    if (!d->live[r]) continue;
    tu_random_floats(seed * 31u + r, d->vecs + r * dim, dim);
    ds_write(db, COLL, NULL, d, r, r + 1, true);
  }
  vs_collection_stats st;
  EXPECT_OK(vs_collection_stats_get(db, COLL, &st));
  assert_int_equal(st.rows, d->live_count);
  assert_true(st.sealed_segments >= 2);
  assert_true(st.growing_segments >= 1);
  assert_true(st.deleted_rows > 0);
}

/* --------------------------------------------------------------- oracle */

typedef struct oracle {
  size_t nq;
  size_t n;
  vs_metric metric;
  double *dist;     /* nq x n, NAN for rows not eligible */
  uint32_t *order;  /* nq x eligible rows, best first */
  size_t eligible;
} oracle;

static double exact_distance(vs_metric metric, const float *q, const float *x,
                             uint32_t dim) {
  double dot = 0, qq = 0, xx = 0, l2 = 0;
  for (uint32_t j = 0; j < dim; j++) {
    double a = q[j], b = x[j];
    dot += a * b;
    qq += a * a;
    xx += b * b;
    l2 += (a - b) * (a - b);
  }
  if (metric == VS_METRIC_L2) return l2;
  if (metric == VS_METRIC_IP) return dot;
  if (qq == 0 || xx == 0) return 0;
  return dot / (sqrt(qq) * sqrt(xx));
}

static const double *g_sort_dist;
static int g_sort_larger;

static int cmp_rows(const void *pa, const void *pb) {
  uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
  double da = g_sort_dist[a], db = g_sort_dist[b];
  if (da != db) return (g_sort_larger ? da > db : da < db) ? -1 : 1;
  return a < b ? -1 : a > b;
}

/* Distances of nq queries to the rows with eligible[r]. */
static void oracle_build(oracle *o, vs_metric metric, uint32_t dim,
                         const float *vecs, size_t n, const bool *eligible,
                         const float *queries, size_t nq) {
  o->nq = nq;
  o->n = n;
  o->metric = metric;
  o->dist = malloc(nq * n * sizeof *o->dist);
  o->eligible = 0;
  for (size_t r = 0; r < n; r++) o->eligible += eligible[r];
  o->order = malloc(nq * (o->eligible + 1) * sizeof *o->order);
  assert_non_null(o->dist);
  assert_non_null(o->order);
  for (size_t q = 0; q < nq; q++) {
    double *dist = o->dist + q * n;
    uint32_t *order = o->order + q * o->eligible;
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
      dist[r] = eligible[r] ? exact_distance(metric, queries + q * dim,
                                             vecs + r * dim, dim)
                            : NAN;
      if (eligible[r]) order[m++] = (uint32_t)r;
    }
    g_sort_dist = dist;
    g_sort_larger = metric != VS_METRIC_L2;
    qsort(order, m, sizeof *order, cmp_rows);
  }
}

static void oracle_free(oracle *o) {
  free(o->dist);
  free(o->order);
  memset(o, 0, sizeof *o);
}

static double tolerance(double d) { return 1e-4 * (fabs(d) > 1 ? fabs(d) : 1); }

/* Checks query q's hits (see the top of the file). */
static void check_query(const oracle *o, const vs_result *res, size_t q,
                        size_t k, uint8_t *seen) {
  size_t want = k < o->eligible ? k : o->eligible;
  size_t hits = vs_result_hits(res, q);
  const double *dist = o->dist + q * o->n;
  const uint32_t *order = o->order + q * o->eligible;
  if (hits != want) fail_msg("query %zu: %zu hits, expected %zu", q, hits, want);
  memset(seen, 0, o->n);
  for (size_t i = 0; i < hits; i++) {
    int64_t id = vs_result_id(res, q, i);
    float got = vs_result_distance(res, q, i);
    if (id < 1 || (size_t)id > o->n || isnan(dist[id - 1]))
      fail_msg("query %zu hit %zu: id %" PRId64 " is not an eligible row", q, i, id);
    size_t r = (size_t)id - 1;
    if (seen[r]) fail_msg("query %zu: id %" PRId64 " returned twice", q, id);
    seen[r] = 1;
    if (!isfinite(got)) fail_msg("query %zu hit %zu: distance %f", q, i, got);
    double best_i = dist[order[i]];
    if (fabs(got - dist[r]) > tolerance(dist[r]))
      fail_msg("query %zu hit %zu (id %" PRId64 "): distance %.9g, exact %.9g",
               q, i, id, got, dist[r]);
    if (fabs(dist[r] - best_i) > tolerance(best_i))
      fail_msg("query %zu hit %zu: id %" PRId64 " at %.9g, but the %zu-th best "
               "is id %u at %.9g", q, i, id, dist[r], i, order[i] + 1, best_i);
    bool tied = (i > 0 && fabs(dist[order[i - 1]] - best_i) <= 2 * tolerance(best_i)) ||
                (i + 1 < o->eligible &&
                 fabs(dist[order[i + 1]] - best_i) <= 2 * tolerance(best_i));
    if (!tied && r != order[i])
      fail_msg("query %zu hit %zu: id %" PRId64 ", expected id %u", q, i, id,
               order[i] + 1);
    if (i > 0) {
      float prev = vs_result_distance(res, q, i - 1);
      bool ordered = o->metric == VS_METRIC_L2 ? got >= prev : got <= prev;
      if (!ordered)
        fail_msg("query %zu: hit %zu at %.9g after %.9g", q, i, got, prev);
    }
  }
}

static void check_result(const oracle *o, const vs_result *res, size_t nq,
                         size_t k) {
  uint8_t *seen = malloc(o->n + 1);
  assert_non_null(seen);
  assert_int_equal(vs_result_nq(res), nq);
  for (size_t q = 0; q < nq; q++) check_query(o, res, q, k, seen);
  free(seen);
}

/* Queries: even ones random, odd ones copies of live rows. */
static float *make_queries(const dataset *d, uint64_t seed) {
  float *qs = malloc(NQ_MAX * d->dim * sizeof *qs);
  uint64_t state = seed;
  assert_non_null(qs);
  tu_random_floats(seed + 99, qs, NQ_MAX * d->dim);
  for (size_t q = 1; q < NQ_MAX; q += 2) {
    size_t r;
    do {
      r = (size_t)tu_rand_below(&state, d->n);
    } while (!d->live[r]);
    memcpy(qs + q * d->dim, d->vecs + r * d->dim, d->dim * sizeof *qs);
  }
  return qs;
}

static vs_result *run_search(vs_db *db, const char *coll, const float *qs,
                             uint32_t dim, size_t nq, uint32_t k,
                             uint32_t threads) {
  vs_search_request req = {.vectors = qs, .nq = nq, .dim = dim, .k = k,
                           .threads = threads};
  vs_result *res = NULL;
  EXPECT_OK(vs_search(db, coll, &req, &res));
  assert_non_null(res);
  return res;
}

/* The k x nq x threads matrix on collection COLL. */
static void run_matrix(vs_db *db, const dataset *d, const oracle *o,
                       const float *qs, bool full) {
  const uint32_t ks[] = {1, 10, 100, (uint32_t)d->live_count + 13};
  const size_t nqs[] = {1, 7, NQ_MAX};
  const uint32_t threads[] = {0, 1, 2, 8};
  for (size_t ki = 0; ki < 4; ki++) {
    for (size_t qi = 0; qi < 3; qi++) {
      for (size_t ti = 0; ti < 4; ti++) {
        /* all thread counts for one k, a rotating one otherwise */
        if (!full && ki != 1 && ti != (ki + qi) % 4) continue;
        vs_result *res = run_search(db, COLL, qs, d->dim, nqs[qi], ks[ki], threads[ti]);
        check_result(o, res, nqs[qi], ks[ki]);
        vs_result_free(res);
      }
    }
  }
}

static uint64_t g_seed; /* tu_seed, once per run */

typedef struct fx {
  char *dir;
  vs_db *db;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  vs_options opt;
  if (f == NULL) return -1;
  f->dir = tu_make_tmpdir("search");
  if (f->dir == NULL) return -1;
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  opt.auto_compact = 0;
  if (vs_open(f->dir, &opt, &f->db) != VS_OK) {
    fprintf(stderr, "vs_open: %s\n", vs_errmsg(NULL));
    return -1;
  }
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  if (f == NULL) return 0;
  vs_close(f->db);
  tu_remove_tree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static void run_case(void **state, vs_metric metric, uint32_t dim, size_t n) {
  fx *f = *state;
  dataset d;
  oracle o;
  uint64_t seed = g_seed + dim * 1000u + (uint64_t)metric;
  ds_build(f->db, &d, metric, dim, n, seed);
  float *qs = make_queries(&d, seed);
  oracle_build(&o, metric, dim, d.vecs, d.n, d.live, qs, NQ_MAX);
  run_matrix(f->db, &d, &o, qs, dim == 17);
  if (dim == 3 || dim == 17) {
    /* all sealed, then with the deleted rows compacted away */
    EXPECT_OK(vs_flush(f->db, COLL));
    run_matrix(f->db, &d, &o, qs, false);
    EXPECT_OK(vs_compact(f->db, COLL, 1));
    run_matrix(f->db, &d, &o, qs, false);
  }
  oracle_free(&o);
  free(qs);
  ds_free(&d);
}

#define CASE(metric, dim, n)                                        \
  static void test_##metric##_##dim(void **state) {                 \
    run_case(state, VS_METRIC_##metric, dim, n);                    \
  }
CASE(L2, 1, 1200)
CASE(L2, 3, 1200)
CASE(L2, 17, 1200)
CASE(L2, 128, 800)
CASE(L2, 784, 300)
CASE(IP, 1, 1200)
CASE(IP, 3, 1200)
CASE(IP, 17, 1200)
CASE(IP, 128, 800)
CASE(IP, 784, 300)
CASE(COSINE, 1, 1200)
CASE(COSINE, 3, 1200)
CASE(COSINE, 17, 1200)
CASE(COSINE, 128, 800)
CASE(COSINE, 784, 300)

/* ------------------------------------------------------- other features */

/* Output fields of every hit equal what vs_get returns for its id. */
static void test_output_fields(void **state) {
  fx *f = *state;
  dataset d;
  ds_build(f->db, &d, VS_METRIC_L2, 8, 600, 7);
  float *qs = make_queries(&d, 8);
  const char *const sets[3][3] = {{"tag", "num", "vec"}, {"*"}, {"num"}};
  const size_t counts[3] = {3, 1, 1};
  for (int s = 0; s < 3; s++) {
    vs_search_request req = {.vectors = qs, .nq = 7, .dim = 8, .k = 10,
                             .output_fields = sets[s],
                             .output_count = counts[s]};
    vs_result *res = NULL;
    EXPECT_OK(vs_search(f->db, COLL, &req, &res));
    const vs_rows *rows = vs_result_rows(res);
    assert_non_null(rows);
    assert_int_equal(vs_rows_count(rows), 70);
    for (size_t q = 0; q < 7; q++) {
      for (size_t i = 0; i < vs_result_hits(res, q); i++) {
        int64_t id = vs_result_id(res, q, i);
        size_t row = vs_result_row_index(res, q, i);
        int64_t got_id = 0;
        double num = 0;
        EXPECT_OK(vs_rows_get_int64(rows, "id", row, &got_id));
        assert_int_equal(got_id, id);
        EXPECT_OK(vs_rows_get_double(rows, "num", row, &num));
        assert_true(num == (double)id * 0.5);
        if (s == 2) {
          assert_int_equal(vs_rows_column_count(rows), 2);
          continue;
        }
        vs_rows *want = NULL;
        vs_keys k = {.count = 1, .int_keys = &id};
        EXPECT_OK(vs_get(f->db, COLL, &k, sets[s], counts[s], &want));
        assert_int_equal(vs_rows_count(want), 1);
        assert_int_equal(vs_rows_column_count(rows), vs_rows_column_count(want));
        const char *t1, *t2;
        size_t l1, l2;
        EXPECT_OK(vs_rows_get_string(rows, "tag", row, &t1, &l1));
        EXPECT_OK(vs_rows_get_string(want, "tag", 0, &t2, &l2));
        assert_int_equal(l1, l2);
        assert_memory_equal(t1, t2, l1);
        const float *v1, *v2;
        EXPECT_OK(vs_rows_get_float_vector(rows, "vec", row, &v1, NULL));
        EXPECT_OK(vs_rows_get_float_vector(want, "vec", 0, &v2, NULL));
        assert_memory_equal(v1, v2, 8 * sizeof(float));
        assert_memory_equal(v1, d.vecs + (size_t)(id - 1) * 8, 8 * sizeof(float));
        vs_rows_free(want);
      }
    }
    vs_result_free(res);
  }
  /* no output fields: no rows */
  vs_result *res = run_search(f->db, COLL, qs, 8, 2, 5, 0);
  assert_null(vs_result_rows(res));
  assert_int_equal(vs_result_row_index(res, 0, 5), SIZE_MAX);
  assert_int_equal(vs_result_hits(res, 2), 0);
  vs_result_free(res);
  free(qs);
  ds_free(&d);
}

/* Restricting a search to partitions is the same as searching only their
 * rows. */
static void test_partition_filter(void **state) {
  fx *f = *state;
  const size_t n = 900;
  const uint32_t dim = 6;
  dataset d = {.metric = VS_METRIC_IP, .dim = dim, .n = n};
  const char *names[3] = {VS_DEFAULT_PARTITION, "p1", "p2"};
  d.vecs = malloc(n * dim * sizeof *d.vecs);
  d.live = malloc(n * sizeof *d.live);
  tu_random_floats(42, d.vecs, n * dim);
  create_collection(f->db, COLL, VS_METRIC_IP, dim, 2);
  EXPECT_OK(vs_create_partition(f->db, COLL, "p1"));
  EXPECT_OK(vs_create_partition(f->db, COLL, "p2"));
  /* row r goes to partition (r / 50) % 3, half sealed */
  for (size_t r = 0; r < n; r += 50) {
    ds_write(f->db, COLL, names[(r / 50) % 3], &d, r, r + 50, false);
    if (r == n / 2) EXPECT_OK(vs_flush(f->db, COLL));
  }
  for (size_t r = 0; r < n; r++) d.live[r] = true;
  d.live_count = n;
  delete_rows(f->db, COLL, &d, 0, n, 13);
  float *qs = make_queries(&d, 43);
  const char *const sel[][2] = {{"p1", NULL}, {"p1", "p2"}, {VS_DEFAULT_PARTITION, NULL},
                                {"p2", "p2"}};
  const size_t nsel[] = {1, 2, 1, 2};
  bool *eligible = malloc(n * sizeof *eligible);
  for (int s = 0; s < 4; s++) {
    for (size_t r = 0; r < n; r++) {
      const char *p = names[(r / 50) % 3];
      eligible[r] = d.live[r] && (strcmp(p, sel[s][0]) == 0 ||
                                  (nsel[s] > 1 && strcmp(p, sel[s][1]) == 0));
    }
    oracle o;
    oracle_build(&o, VS_METRIC_IP, dim, d.vecs, n, eligible, qs, NQ_MAX);
    const size_t nqs[] = {1, NQ_MAX};
    for (int qi = 0; qi < 2; qi++) {
      for (uint32_t k = 5; k <= 1000; k *= 14) {
        vs_search_request req = {.vectors = qs, .nq = nqs[qi], .dim = dim, .k = k,
                                 .partitions = sel[s], .partition_count = nsel[s]};
        vs_result *res = NULL;
        EXPECT_OK(vs_search(f->db, COLL, &req, &res));
        check_result(&o, res, nqs[qi], k);
        vs_result_free(res);
      }
    }
    oracle_free(&o);
  }
  free(eligible);
  free(qs);
  ds_free(&d);
}

static void test_zero_query_cosine(void **state) {
  fx *f = *state;
  dataset d;
  ds_build(f->db, &d, VS_METRIC_COSINE, 12, 700, 5);
  float zero[2 * 12] = {0};
  zero[12] = 1.0f; /* the second query is a unit vector */
  for (uint32_t threads = 0; threads <= 2; threads++) {
    vs_result *res = run_search(f->db, COLL, zero, 12, 2, 50, threads);
    assert_int_equal(vs_result_hits(res, 0), 50);
    for (size_t i = 0; i < 50; i++) {
      float dist = vs_result_distance(res, 0, i);
      assert_false(isnan(dist));
      assert_true(dist == 0.0f);
      int64_t id = vs_result_id(res, 0, i);
      assert_true(id >= 1 && (size_t)id <= d.n && d.live[id - 1]);
    }
    for (size_t i = 0; i < 50; i++) {
      float dist = vs_result_distance(res, 1, i);
      assert_true(isfinite(dist) && dist <= 1.0001f && dist >= -1.0001f);
    }
    vs_result_free(res);
  }
  ds_free(&d);
}

static void test_bad_requests(void **state) {
  fx *f = *state;
  dataset d;
  float q[17 * 2];
  ds_build(f->db, &d, VS_METRIC_L2, 17, 300, 3);
  tu_random_floats(1, q, 17 * 2);
  vs_search_request good = {.vectors = q, .nq = 1, .dim = 17, .k = 5};
  vs_search_request req;
  vs_result *res = (vs_result *)(uintptr_t)1;
#define BAD(code, coll)                                 \
  do {                                                  \
    res = (vs_result *)(uintptr_t)1;                    \
    EXPECT_ST(code, vs_search(f->db, coll, &req, &res)); \
    assert_null(res);                                   \
    assert_true(vs_errmsg(NULL)[0] != '\0');            \
  } while (0)
  req = good;
  req.dim = 16;
  BAD(VS_ERR_INVALID, COLL);
  req.dim = 18;
  BAD(VS_ERR_INVALID, COLL);
  req = good;
  q[5] = NAN;
  BAD(VS_ERR_INVALID, COLL);
  q[5] = INFINITY;
  BAD(VS_ERR_INVALID, COLL);
  q[5] = 0.5f;
  req.nq = 2;
  q[17 + 16] = -INFINITY; /* the last value of the second query */
  BAD(VS_ERR_INVALID, COLL);
  q[17 + 16] = 0.25f;
  req = good;
  req.k = 0;
  BAD(VS_ERR_LIMIT, COLL);
  req.k = VS_MAX_TOPK + 1;
  BAD(VS_ERR_LIMIT, COLL);
  req = good;
  req.nq = 0;
  BAD(VS_ERR_LIMIT, COLL);
  req.nq = VS_MAX_NQ + 1;
  BAD(VS_ERR_LIMIT, COLL);
  req = good;
  req.vectors = NULL;
  BAD(VS_ERR_INVALID, COLL);
  req = good;
  req.vector_field = "nope";
  BAD(VS_ERR_FIELD_NOT_FOUND, COLL);
  req.vector_field = "tag";
  BAD(VS_ERR_FIELD_NOT_FOUND, COLL);
  req = good;
  const char *const out_bad[] = {"tag", "nope"};
  req.output_fields = out_bad;
  req.output_count = 2;
  BAD(VS_ERR_FIELD_NOT_FOUND, COLL);
  req = good;
  const char *const part_bad[] = {VS_DEFAULT_PARTITION, "nope"};
  req.partitions = part_bad;
  req.partition_count = 2;
  BAD(VS_ERR_PARTITION_NOT_FOUND, COLL);
  const char *const part_null[] = {NULL};
  req.partitions = part_null;
  req.partition_count = 1;
  BAD(VS_ERR_PARTITION_NOT_FOUND, COLL);
  req = good;
  BAD(VS_ERR_NOT_FOUND, "nope");
  EXPECT_ST(VS_ERR_INVALID, vs_search(f->db, COLL, NULL, &res));
  EXPECT_ST(VS_ERR_INVALID, vs_search(f->db, COLL, &good, NULL));
  /* nq x k above 16,777,216 */
  float *many = calloc((size_t)VS_MAX_NQ * 17, sizeof *many);
  assert_non_null(many);
  req = good;
  req.vectors = many;
  req.nq = VS_MAX_NQ;
  req.k = 1025;
  BAD(VS_ERR_LIMIT, COLL);
  /* the largest k is allowed and returns every row */
  req = good;
  req.k = VS_MAX_TOPK;
  res = NULL;
  EXPECT_OK(vs_search(f->db, COLL, &req, &res));
  assert_int_equal(vs_result_hits(res, 0), d.live_count);
  /* accessors out of range */
  assert_true(isnan(vs_result_distance(res, 0, d.live_count)));
  assert_true(isnan(vs_result_distance(res, 1, 0)));
  assert_int_equal(vs_result_hits(res, 1), 0);
  assert_null(vs_result_id_str(res, 0, 0)); /* Int64 keys */
  vs_result_free(res);
  free(many);
  vs_result_free(NULL);
  assert_int_equal(vs_result_nq(NULL), 0);
#undef BAD
  ds_free(&d);
}

/* A collection with two vector fields: searching must name one. */
static void test_two_vector_fields(void **state) {
  fx *f = *state;
  const size_t n = 500;
  vs_schema *s = NULL;
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  vs_field_def a = {.name = "a", .type = VS_TYPE_FLOAT_VECTOR, .dim = 8,
                    .metric = VS_METRIC_L2};
  vs_field_def b = {.name = "b", .type = VS_TYPE_FLOAT_VECTOR, .dim = 5,
                    .metric = VS_METRIC_COSINE};
  EXPECT_OK(vs_schema_new(&s));
  EXPECT_OK(vs_schema_add_field(s, &id));
  EXPECT_OK(vs_schema_add_field(s, &a));
  EXPECT_OK(vs_schema_add_field(s, &b));
  EXPECT_OK(vs_create_collection(f->db, "two", s, NULL));
  vs_schema_free(s);
  float *va = malloc(n * 8 * sizeof *va), *vb = malloc(n * 5 * sizeof *vb);
  int64_t *ids = malloc(n * sizeof *ids);
  bool *all = malloc(n * sizeof *all);
  tu_random_floats(11, va, n * 8);
  tu_random_floats(12, vb, n * 5);
  for (size_t r = 0; r < n; r++) {
    ids[r] = (int64_t)r + 1;
    all[r] = true;
  }
  for (size_t half = 0; half < 2; half++) {
    vs_rows *rows = NULL;
    size_t from = half * n / 2, m = n / 2;
    EXPECT_OK(vs_rows_new(m, &rows));
    EXPECT_OK(vs_rows_set_int64(rows, "id", ids + from, NULL));
    EXPECT_OK(vs_rows_set_float_vectors(rows, "a", va + from * 8, 8));
    EXPECT_OK(vs_rows_set_float_vectors(rows, "b", vb + from * 5, 5));
    EXPECT_OK(vs_insert(f->db, "two", NULL, rows, NULL));
    vs_rows_free(rows);
    if (half == 0) EXPECT_OK(vs_flush(f->db, "two"));
  }
  float qa[NQ_MAX * 8], qb[NQ_MAX * 5];
  tu_random_floats(13, qa, NQ_MAX * 8);
  tu_random_floats(14, qb, NQ_MAX * 5);
  vs_search_request req = {.vectors = qb, .nq = 3, .dim = 5, .k = 10};
  vs_result *res = NULL;
  EXPECT_ST(VS_ERR_INVALID, vs_search(f->db, "two", &req, &res));
  req.vector_field = "a"; /* dim 5 is b's */
  EXPECT_ST(VS_ERR_INVALID, vs_search(f->db, "two", &req, &res));
  oracle ob, oa;
  oracle_build(&ob, VS_METRIC_COSINE, 5, vb, n, all, qb, NQ_MAX);
  oracle_build(&oa, VS_METRIC_L2, 8, va, n, all, qa, NQ_MAX);
  const size_t nqs[] = {1, 7, NQ_MAX};
  for (int i = 0; i < 3; i++) {
    req = (vs_search_request){.vector_field = "b", .vectors = qb, .nq = nqs[i],
                              .dim = 5, .k = 20};
    EXPECT_OK(vs_search(f->db, "two", &req, &res));
    check_result(&ob, res, nqs[i], 20);
    vs_result_free(res);
    req = (vs_search_request){.vector_field = "a", .vectors = qa, .nq = nqs[i],
                              .dim = 8, .k = 20};
    EXPECT_OK(vs_search(f->db, "two", &req, &res));
    check_result(&oa, res, nqs[i], 20);
    vs_result_free(res);
  }
  oracle_free(&oa);
  oracle_free(&ob);
  free(va);
  free(vb);
  free(ids);
  free(all);
}

/* A sealed segment larger than one scan range (16384 rows) is cut into
 * several ranges whose per-range results are merged. */
static void test_large_segment(void **state) {
  fx *f = *state;
  const size_t n = 40000, nq = 8;
  const uint32_t dim = 4;
  dataset d = {.metric = VS_METRIC_L2, .dim = dim, .n = n};
  d.vecs = malloc(n * dim * sizeof *d.vecs);
  d.live = malloc(n * sizeof *d.live);
  assert_non_null(d.vecs);
  assert_non_null(d.live);
  tu_random_floats(g_seed ^ 77u, d.vecs, n * dim);
  for (size_t r = 0; r < n; r++) d.live[r] = true;
  d.live_count = n;
  create_collection(f->db, COLL, VS_METRIC_L2, dim, 1);
  ds_write(f->db, COLL, NULL, &d, 0, 36000, false);
  EXPECT_OK(vs_flush(f->db, COLL));
  ds_write(f->db, COLL, NULL, &d, 36000, n, false);
  delete_rows(f->db, COLL, &d, 0, n, 7);
  float *qs = make_queries(&d, g_seed ^ 78u);
  oracle o;
  oracle_build(&o, VS_METRIC_L2, dim, d.vecs, n, d.live, qs, nq);
  const uint32_t threads[] = {0, 1, 2, 8};
  const size_t nqs[] = {1, 3, nq};
  for (size_t ti = 0; ti < 4; ti++) {
    for (size_t qi = 0; qi < 3; qi++) {
      for (uint32_t k = 1; k <= 1000; k *= 31) {
        vs_result *res = run_search(f->db, COLL, qs, dim, nqs[qi], k, threads[ti]);
        check_result(&o, res, nqs[qi], k);
        vs_result_free(res);
      }
    }
  }
  oracle_free(&o);
  free(qs);
  ds_free(&d);
}

/* Equal distances come back in one order (storage order), whatever the
 * thread count or the path (few or many queries) the engine takes. */
static void test_ties_deterministic(void **state) {
  fx *f = *state;
  const size_t n = 600, dim = 5;
  dataset d = {.metric = VS_METRIC_L2, .dim = dim, .n = n};
  float base[3 * 5];
  d.vecs = malloc(n * dim * sizeof *d.vecs);
  d.live = malloc(n * sizeof *d.live);
  tu_random_floats(3, base, sizeof base / sizeof base[0]);
  for (size_t r = 0; r < n; r++) {
    memcpy(d.vecs + r * dim, base + (r % 3) * dim, dim * sizeof(float));
    d.live[r] = true;
  }
  d.live_count = n;
  create_collection(f->db, COLL, VS_METRIC_L2, dim, 2);
  ds_write(f->db, COLL, NULL, &d, 0, 200, false);
  EXPECT_OK(vs_flush(f->db, COLL));
  ds_write(f->db, COLL, NULL, &d, 200, 400, false);
  EXPECT_OK(vs_flush(f->db, COLL));
  ds_write(f->db, COLL, NULL, &d, 400, n, false);
  delete_rows(f->db, COLL, &d, 0, n, 5);
  float qs[9 * 5];
  for (int q = 0; q < 9; q++) memcpy(qs + q * dim, base, dim * sizeof(float));
  int64_t first[50];
  const uint32_t threads[] = {0, 1, 2, 8};
  const size_t nqs[] = {1, 9};
  for (int ti = 0; ti < 4; ti++) {
    for (int qi = 0; qi < 2; qi++) {
      vs_result *res = run_search(f->db, COLL, qs, dim, nqs[qi], 50, threads[ti]);
      for (size_t q = 0; q < nqs[qi]; q++) {
        assert_int_equal(vs_result_hits(res, q), 50);
        for (size_t i = 0; i < 50; i++) {
          int64_t id = vs_result_id(res, q, i);
          assert_true(vs_result_distance(res, q, i) == 0.0f);
          assert_int_equal((id - 1) % 3, 0);
          assert_true(d.live[id - 1]);
          if (ti == 0 && qi == 0 && q == 0) first[i] = id;
          else if (first[i] != id)
            fail_msg("threads %u nq %zu query %zu: hit %zu is id %" PRId64
                     ", first run had %" PRId64, threads[ti], nqs[qi], q, i, id,
                     first[i]);
        }
      }
      vs_result_free(res);
    }
  }
  ds_free(&d);
}

static void test_empty_collection(void **state) {
  fx *f = *state;
  float q[4 * 3] = {0};
  create_collection(f->db, "empty", VS_METRIC_L2, 4, 2);
  for (size_t nq = 1; nq <= 3; nq++) {
    vs_search_request req = {.vectors = q, .nq = nq, .dim = 4, .k = 100};
    vs_result *res = NULL;
    EXPECT_OK(vs_search(f->db, "empty", &req, &res));
    assert_int_equal(vs_result_nq(res), nq);
    for (size_t i = 0; i < nq; i++) assert_int_equal(vs_result_hits(res, i), 0);
    vs_result_free(res);
  }
}

int main(void) {
  g_seed = tu_seed("test_search");
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
  const struct CMUnitTest tests[] = {
      T(test_L2_1),         T(test_L2_3),      T(test_L2_17),
      T(test_L2_128),       T(test_L2_784),    T(test_IP_1),
      T(test_IP_3),         T(test_IP_17),     T(test_IP_128),
      T(test_IP_784),       T(test_COSINE_1),  T(test_COSINE_3),
      T(test_COSINE_17),    T(test_COSINE_128), T(test_COSINE_784),
      T(test_output_fields), T(test_partition_filter),
      T(test_zero_query_cosine), T(test_bad_requests),
      T(test_two_vector_fields), T(test_large_segment),
      T(test_ties_deterministic), T(test_empty_collection),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
