/*
 * test_hybrid.c -- hybrid search (vs_hybrid_search) on a small collection
 * with three vector fields, where the test computes the expected fused
 * ranking itself.
 *
 * Eight rows with hand-picked 4-d vectors in fields "a" (L2), "b" (COSINE)
 * and "c" (IP).  For each sub-search ("route") the test ranks the rows by
 * brute force in double precision (and first checks that the hand-picked
 * data has no tied distances inside a route's top-k, so the route lists are
 * unambiguous), then fuses them with the formulas of MILVUS_REST_V2.md
 * section 5.4, written here independently of the engine:
 *
 *   rrf:       score = sum over routes of 1 / (K + rank), rank from 1
 *   weighted:  score = sum over routes of w * norm(d), norm(d) =
 *              COSINE (1 + d) / 2, IP 0.5 + atan(d) / pi,
 *              L2 1 - 2 atan(d) / pi; without norm_score the raw d
 *
 * Fused scores can tie (a key at rank 1 of one route and another at rank 1
 * of another), so a result is accepted when position i holds a key whose
 * expected score equals the expected i-th score: tied keys may come in
 * either order, nothing else may move.
 *
 * Half the rows are sealed and half growing, two sit in partition "p1",
 * and each route may have its own filter.  Errors: an unknown strategy,
 * a wrong number of weights, a weight outside [0, 1], sub-searches with
 * different nq, an unknown vector field, bad limits.
 *
 * Rejected: comparing with the engine's own single searches as the route
 * oracle (a bug in search would then hide here); the expected route lists
 * are computed from the vectors in the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"
#include "vectorstore.h"
#include "support/expect.h"

#define COLL "h"
#define N 8
#define DIM 4
#define NQ 2
#define MAX_ROUTES 3

/* ------------------------------------------------------------------ data */

/* Row r (0-based) has id r + 1. */
static const float vec_a[N][DIM] = {
    {0, 0, 0, 0},     {1, 0, 0, 0},    {0, 2, 0, 0},       {0, 0, 3, 0},
    {1, 1, 1, 1},     {-1, 0.5f, 0, 0}, {0.2f, 0.1f, 0, 3}, {2, 2, 0, 0},
};
static const float vec_b[N][DIM] = {
    {1, 0, 0, 0},  {0, 1, 0, 0},  {1, 1, 0, 0},           {1, 2, 3, 4},
    {-1, 0, 0, 1}, {0.5f, 0.2f, 0.1f, 0}, {0, 0, 1, 0},   {3, -1, 0, 0},
};
static const float vec_c[N][DIM] = {
    {0.1f, 0.2f, 0.3f, 0.4f}, {1, 0, 0, 0},   {0, 0.5f, 0.5f, 0}, {-1, 1, 0, 2},
    {0.3f, 0.3f, 0.3f, 0.3f}, {2, -1, 0, 0},  {0, 0, -1, 1.5f},   {0.7f, 0.1f, 0.9f, 0},
};
static const int64_t cats[N] = {1, 2, 1, 2, 1, 2, 1, 2};

static const float q_a[NQ][DIM] = {{0.3f, 0.2f, 0.1f, 0}, {1.1f, 1.25f, 0.45f, 0.7f}};
static const float q_b[NQ][DIM] = {{1, 0.3f, 0.2f, 0.1f}, {0, 1, 1.1f, 0.2f}};
static const float q_c[NQ][DIM] = {{0.5f, -0.2f, 1, 0.3f}, {1, 0.8f, 0.65f, 0.45f}};

static const char *partition_of(size_t r) { return r >= 6 ? "p1" : VS_DEFAULT_PARTITION; }

typedef struct fixture {
  char *dir;
  vs_db *db;
} fixture;

static void insert_rows(vs_db *db, size_t from, size_t to, const char *partition) {
  size_t m = to - from;
  int64_t ids[N];
  char names[N][16];
  const char *namep[N];
  for (size_t i = 0; i < m; i++) {
    ids[i] = (int64_t)(from + i + 1);
    snprintf(names[i], sizeof names[i], "row%zu", from + i + 1);
    namep[i] = names[i];
  }
  vs_rows *rows = NULL;
  EXPECT_OK(vs_rows_new(m, &rows));
  EXPECT_OK(vs_rows_set_int64(rows, "id", ids, NULL));
  EXPECT_OK(vs_rows_set_float_vectors(rows, "a", &vec_a[from][0], DIM));
  EXPECT_OK(vs_rows_set_float_vectors(rows, "b", &vec_b[from][0], DIM));
  EXPECT_OK(vs_rows_set_float_vectors(rows, "c", &vec_c[from][0], DIM));
  EXPECT_OK(vs_rows_set_int64(rows, "cat", &cats[from], NULL));
  EXPECT_OK(vs_rows_set_strings(rows, "name", namep));
  EXPECT_OK(vs_insert(db, COLL, partition, rows, NULL));
  vs_rows_free(rows);
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  fx->dir = tu_make_tmpdir("hybrid");
  assert_non_null(fx->dir);
  vs_options opt;
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  EXPECT_OK(vs_open(fx->dir, &opt, &fx->db));
  vs_schema *s = NULL;
  vs_field_def defs[] = {
      {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1},
      {.name = "a", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_L2},
      {.name = "b", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_COSINE},
      {.name = "c", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_IP},
      {.name = "cat", .type = VS_TYPE_INT64},
      {.name = "name", .type = VS_TYPE_VARCHAR, .max_length = 16},
  };
  EXPECT_OK(vs_schema_new(&s));
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) EXPECT_OK(vs_schema_add_field(s, &defs[i]));
  EXPECT_OK(vs_create_collection(fx->db, COLL, s, NULL));
  vs_schema_free(s);
  EXPECT_OK(vs_create_partition(fx->db, COLL, "p1"));
  insert_rows(fx->db, 0, 4, VS_DEFAULT_PARTITION);
  EXPECT_OK(vs_flush(fx->db, COLL));
  insert_rows(fx->db, 4, 6, VS_DEFAULT_PARTITION);
  insert_rows(fx->db, 6, 8, "p1");
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  EXPECT_OK(vs_close(fx->db));
  tu_remove_tree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

/* --------------------------------------------------------------- oracle */

typedef struct route {
  const char *field;        /* "a", "b" or "c" */
  uint32_t k;
  const char *filter;       /* NULL = none; only "cat == 1" / "cat == 2" */
} route;

typedef struct scored {
  int64_t id;
  double score;
} scored;

static vs_metric metric_of(const char *field) {
  return field[0] == 'a' ? VS_METRIC_L2 : field[0] == 'b' ? VS_METRIC_COSINE : VS_METRIC_IP;
}

static const float *row_vec(const char *field, size_t r) {
  return field[0] == 'a' ? vec_a[r] : field[0] == 'b' ? vec_b[r] : vec_c[r];
}

static const float *query_vec(const char *field, size_t q) {
  return field[0] == 'a' ? q_a[q] : field[0] == 'b' ? q_b[q] : q_c[q];
}

static double distance(vs_metric m, const float *x, const float *y) {
  double dot = 0, l2 = 0, nx = 0, ny = 0;
  for (int i = 0; i < DIM; i++) {
    dot += (double)x[i] * y[i];
    l2 += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    nx += (double)x[i] * x[i];
    ny += (double)y[i] * y[i];
  }
  if (m == VS_METRIC_L2) return l2;
  if (m == VS_METRIC_IP) return dot;
  return dot / (sqrt(nx) * sqrt(ny));
}

static bool row_passes(size_t r, const char *filter, const char *const *parts, size_t nparts) {
  if (filter && strcmp(filter, "cat == 1") == 0 && cats[r] != 1) return false;
  if (filter && strcmp(filter, "cat == 2") == 0 && cats[r] != 2) return false;
  if (!parts) return true;
  for (size_t i = 0; i < nparts; i++) {
    if (strcmp(parts[i], partition_of(r)) == 0) return true;
  }
  return false;
}

static int by_distance_l2(const void *a, const void *b) {
  const scored *x = a, *y = b;
  return (x->score > y->score) - (x->score < y->score);
}

static int by_score_desc(const void *a, const void *b) {
  const scored *x = a, *y = b;
  return (x->score < y->score) - (x->score > y->score);
}

/* The route's top-k for query q (id, raw distance), best first. */
static size_t route_list(const route *rt, size_t q, const char *const *parts, size_t nparts,
                         scored *out) {
  vs_metric m = metric_of(rt->field);
  size_t n = 0;
  for (size_t r = 0; r < N; r++) {
    if (!row_passes(r, rt->filter, parts, nparts)) continue;
    out[n].id = (int64_t)r + 1;
    out[n].score = distance(m, query_vec(rt->field, q), row_vec(rt->field, r));
    n++;
  }
  qsort(out, n, sizeof *out, m == VS_METRIC_L2 ? by_distance_l2 : by_score_desc);
  /* the hand-picked data must make each route's top-k unambiguous */
  for (size_t i = 0; i + 1 < n && i < rt->k; i++) {
    if (fabs(out[i].score - out[i + 1].score) < 1e-4) {
      fail_msg("test data: route %s query %zu has tied distances at ranks %zu and %zu", rt->field, q, i + 1,
               i + 2);
    }
  }
  return n < rt->k ? n : rt->k;
}

static double norm_score(vs_metric m, double d) {
  if (m == VS_METRIC_COSINE) return (1.0 + d) / 2.0;
  if (m == VS_METRIC_IP) return 0.5 + atan(d) / M_PI;
  return 1.0 - 2.0 * atan(d) / M_PI;
}

typedef struct fusion {
  bool rrf;
  double rrf_k;
  const double *weights;
  bool norm;
} fusion;

/* Expected fused list of query q, best first; returns its length. */
static size_t fuse(const route *routes, size_t nr, const fusion *f, size_t q,
                   const char *const *parts, size_t nparts, scored *out) {
  double score[N + 1] = {0};
  bool seen[N + 1] = {false};
  for (size_t i = 0; i < nr; i++) {
    scored list[N];
    size_t n = route_list(&routes[i], q, parts, nparts, list);
    vs_metric m = metric_of(routes[i].field);
    for (size_t h = 0; h < n; h++) {
      double s = f->rrf ? 1.0 / (f->rrf_k + (double)(h + 1))
                        : f->weights[i] * (f->norm ? norm_score(m, list[h].score) : list[h].score);
      score[list[h].id] += s;
      seen[list[h].id] = true;
    }
  }
  size_t n = 0;
  for (int64_t id = 1; id <= N; id++) {
    if (!seen[id]) continue;
    out[n].id = id;
    out[n].score = score[id];
    n++;
  }
  qsort(out, n, sizeof *out, by_score_desc);
  return n;
}

/* ------------------------------------------------------------ requests */

typedef struct hybrid_case {
  route routes[MAX_ROUTES];
  size_t nr;
  const char *rerank;
  const char *params;
  fusion fusion;
  uint32_t k;
  uint32_t offset;
  const char *const *parts;
  size_t nparts;
} hybrid_case;

static void make_searches(const hybrid_case *hc, vs_search_request *subs, float *qbuf) {
  for (size_t i = 0; i < hc->nr; i++) {
    for (size_t q = 0; q < NQ; q++) memcpy(qbuf + (i * NQ + q) * DIM, query_vec(hc->routes[i].field, q), DIM * sizeof(float));
    subs[i] = (vs_search_request){.vector_field = hc->routes[i].field, .vectors = qbuf + i * NQ * DIM,
                                  .nq = NQ, .dim = DIM, .k = hc->routes[i].k,
                                  .filter = hc->routes[i].filter};
  }
}

static double expected_score_of(const scored *e, size_t n, int64_t id) {
  for (size_t i = 0; i < n; i++) {
    if (e[i].id == id) return e[i].score;
  }
  return NAN;
}

/* Runs the case and compares every query with the oracle. */
static vs_result *run_case(fixture *fx, const hybrid_case *hc, const char *const *out_fields,
                           size_t out_count) {
  vs_search_request subs[MAX_ROUTES];
  float qbuf[MAX_ROUTES * NQ * DIM];
  make_searches(hc, subs, qbuf);
  vs_hybrid_request req = {.searches = subs, .search_count = hc->nr, .rerank = hc->rerank,
                           .rerank_params_json = hc->params, .k = hc->k, .offset = hc->offset,
                           .partitions = hc->parts, .partition_count = hc->nparts,
                           .output_fields = out_fields, .output_count = out_count};
  vs_result *res = NULL;
  EXPECT_OK(vs_hybrid_search(fx->db, COLL, &req, &res));
  assert_int_equal(vs_result_nq(res), NQ);
  for (size_t q = 0; q < NQ; q++) {
    scored e[N];
    size_t n = fuse(hc->routes, hc->nr, &hc->fusion, q, hc->parts, hc->nparts, e);
    size_t want = n > hc->offset ? n - hc->offset : 0;
    if (want > hc->k) want = hc->k;
    size_t hits = vs_result_hits(res, q);
    if (hits != want) fail_msg("%s %s query %zu: %zu hits, expected %zu", hc->rerank, hc->params, q, hits, want);
    for (size_t i = 0; i < hits; i++) {
      int64_t id = vs_result_id(res, q, i);
      double got = vs_result_distance(res, q, i);
      double exp_i = e[hc->offset + i].score;
      double exp_id = expected_score_of(e, n, id);
      if (!(fabs(got - exp_i) <= 1e-5 * fmax(1.0, fabs(exp_i))) ||
          !(fabs(exp_id - exp_i) <= 1e-5 * fmax(1.0, fabs(exp_i)))) {
        fail_msg("%s %s query %zu hit %zu: id %" PRId64 " score %.7f; expected score %.7f (id %" PRId64
                 "), that id's expected score %.7f",
                 hc->rerank, hc->params, q, i, id, got, exp_i, e[hc->offset + i].id, exp_id);
      }
      for (size_t j = 0; j < i; j++) assert_int_not_equal(vs_result_id(res, q, j), id);
      if (i) assert_true(vs_result_distance(res, q, i - 1) >= got);
    }
  }
  return res;
}

static void check_case(fixture *fx, const hybrid_case *hc) {
  vs_result *res = run_case(fx, hc, NULL, 0);
  assert_null(vs_result_rows(res));
  assert_null(vs_result_profile(res));
  vs_result_free(res);
}

/* ----------------------------------------------------------------- tests */

static void test_rrf(void **state) {
  fixture *fx = *state;
  hybrid_case hc = {.routes = {{"a", 5, NULL}, {"b", 5, NULL}}, .nr = 2, .rerank = "rrf",
                    .params = "{\"k\":60}", .fusion = {.rrf = true, .rrf_k = 60}, .k = 6};
  check_case(fx, &hc);
  hc.params = "{\"k\":1}";
  hc.fusion.rrf_k = 1;
  check_case(fx, &hc);
  hc.params = "{\"k\":7.5}";
  hc.fusion.rrf_k = 7.5;
  check_case(fx, &hc);
  /* three routes, different k per route, final k larger than any route's */
  hybrid_case three = {.routes = {{"a", 3, NULL}, {"b", 2, NULL}, {"c", 4, NULL}}, .nr = 3,
                       .rerank = "RRF", .params = "{\"k\":10}", .fusion = {.rrf = true, .rrf_k = 10},
                       .k = 8};
  check_case(fx, &three);
  /* the default k is 60 */
  hc.params = NULL;
  hc.fusion.rrf_k = 60;
  check_case(fx, &hc);
  /* one route: RRF of a single list keeps its order */
  hybrid_case one = {.routes = {{"c", 8, NULL}}, .nr = 1, .rerank = "rrf", .params = "{\"k\":60}",
                     .fusion = {.rrf = true, .rrf_k = 60}, .k = 8};
  check_case(fx, &one);
}

static void test_weighted(void **state) {
  fixture *fx = *state;
  static const double w1[] = {0.7, 0.3};
  hybrid_case hc = {.routes = {{"a", 5, NULL}, {"b", 5, NULL}}, .nr = 2, .rerank = "weighted",
                    .params = "{\"weights\":[0.7,0.3],\"norm_score\":true}",
                    .fusion = {.weights = w1, .norm = true}, .k = 8};
  check_case(fx, &hc);
  /* norm_score defaults to true */
  hc.params = "{\"weights\":[0.7,0.3]}";
  check_case(fx, &hc);
  static const double w3[] = {0.2, 1.0, 0.5};
  hybrid_case three = {.routes = {{"a", 4, NULL}, {"b", 6, NULL}, {"c", 3, NULL}}, .nr = 3,
                       .rerank = "weighted", .params = "{\"weights\":[0.2,1,0.5],\"norm_score\":true}",
                       .fusion = {.weights = w3, .norm = true}, .k = 5};
  check_case(fx, &three);
  /* without normalisation: the raw scores (both routes larger-is-better) */
  static const double w2[] = {0.4, 0.9};
  hybrid_case raw = {.routes = {{"b", 5, NULL}, {"c", 5, NULL}}, .nr = 2, .rerank = "weighted",
                     .params = "{\"weights\":[0.4,0.9],\"norm_score\":false}",
                     .fusion = {.weights = w2, .norm = false}, .k = 8};
  check_case(fx, &raw);
  /* a zero weight leaves a route's keys in the list, with no score from it */
  static const double w0[] = {0.0, 1.0};
  hc.params = "{\"weights\":[0,1]}";
  hc.fusion.weights = w0;
  check_case(fx, &hc);
}

static void test_offset_and_partitions(void **state) {
  fixture *fx = *state;
  hybrid_case hc = {.routes = {{"a", 6, NULL}, {"b", 6, NULL}}, .nr = 2, .rerank = "rrf",
                    .params = "{\"k\":60}", .fusion = {.rrf = true, .rrf_k = 60}, .k = 3};
  for (uint32_t off = 0; off <= 9; off++) {
    hc.offset = off;
    check_case(fx, &hc);
  }
  /* offset = hits [offset, offset + k) of the list without offset */
  hc.offset = 0;
  hc.k = 8;
  vs_result *all = run_case(fx, &hc, NULL, 0);
  hc.offset = 2;
  hc.k = 3;
  vs_result *page = run_case(fx, &hc, NULL, 0);
  for (size_t q = 0; q < NQ; q++) {
    for (size_t i = 0; i < vs_result_hits(page, q); i++) {
      assert_true(vs_result_distance(page, q, i) == vs_result_distance(all, q, i + 2));
    }
  }
  vs_result_free(all);
  vs_result_free(page);
  /* partitions apply to every route */
  static const char *const p1[] = {"p1"};
  static const char *const def[] = {VS_DEFAULT_PARTITION};
  hc.offset = 0;
  hc.k = 8;
  hc.parts = p1;
  hc.nparts = 1;
  check_case(fx, &hc);
  hc.parts = def;
  check_case(fx, &hc);
  static const char *const nope[] = {"nope"};
  hc.parts = nope;
  vs_search_request subs[MAX_ROUTES];
  float qbuf[MAX_ROUTES * NQ * DIM];
  make_searches(&hc, subs, qbuf);
  vs_hybrid_request req = {.searches = subs, .search_count = 2, .rerank = "rrf", .k = 3,
                           .partitions = nope, .partition_count = 1};
  vs_result *res = (vs_result *)1;
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_hybrid_search(fx->db, COLL, &req, &res));
  assert_null(res);
}

static void test_filters_per_route(void **state) {
  fixture *fx = *state;
  hybrid_case hc = {.routes = {{"a", 4, "cat == 1"}, {"b", 4, "cat == 2"}}, .nr = 2, .rerank = "rrf",
                    .params = "{\"k\":60}", .fusion = {.rrf = true, .rrf_k = 60}, .k = 8};
  check_case(fx, &hc);
  static const double w[] = {0.5, 0.5};
  hybrid_case wc = {.routes = {{"a", 4, "cat == 1"}, {"c", 3, NULL}}, .nr = 2, .rerank = "weighted",
                    .params = "{\"weights\":[0.5,0.5]}", .fusion = {.weights = w, .norm = true}, .k = 8};
  check_case(fx, &wc);
  /* a route whose filter passes nothing contributes nothing */
  vs_search_request subs[MAX_ROUTES];
  float qbuf[MAX_ROUTES * NQ * DIM];
  make_searches(&hc, subs, qbuf);
  subs[1].filter = "cat == 3";
  vs_hybrid_request req = {.searches = subs, .search_count = 2, .rerank = "rrf", .k = 8};
  vs_result *res = NULL;
  EXPECT_OK(vs_hybrid_search(fx->db, COLL, &req, &res));
  for (size_t q = 0; q < NQ; q++) {
    assert_int_equal(vs_result_hits(res, q), 4);
    for (size_t i = 0; i < 4; i++) assert_int_equal(cats[vs_result_id(res, q, i) - 1], 1);
  }
  vs_result_free(res);
  /* a bad filter in one route fails the whole call */
  subs[1].filter = "cat ==";
  res = (vs_result *)1;
  EXPECT_ST(VS_ERR_INVALID, vs_hybrid_search(fx->db, COLL, &req, &res));
  assert_null(res);
}

static void test_output_fields(void **state) {
  fixture *fx = *state;
  hybrid_case hc = {.routes = {{"a", 5, NULL}, {"c", 5, NULL}}, .nr = 2, .rerank = "rrf",
                    .params = "{\"k\":60}", .fusion = {.rrf = true, .rrf_k = 60}, .k = 4, .offset = 1};
  static const char *const fields[] = {"name", "cat"};
  vs_result *res = run_case(fx, &hc, fields, 2);
  const vs_rows *rows = vs_result_rows(res);
  assert_non_null(rows);
  size_t total = 0;
  for (size_t q = 0; q < NQ; q++) {
    for (size_t i = 0; i < vs_result_hits(res, q); i++, total++) {
      int64_t id = vs_result_id(res, q, i);
      size_t row = vs_result_row_index(res, q, i);
      int64_t v = 0;
      EXPECT_OK(vs_rows_get_int64(rows, "id", row, &v));
      assert_int_equal(v, id);
      EXPECT_OK(vs_rows_get_int64(rows, "cat", row, &v));
      assert_int_equal(v, cats[id - 1]);
      const char *s = NULL;
      size_t len = 0;
      char want[16];
      snprintf(want, sizeof want, "row%" PRId64, id);
      EXPECT_OK(vs_rows_get_string(rows, "name", row, &s, &len));
      assert_int_equal(len, strlen(want));
      assert_memory_equal(s, want, len);
    }
  }
  assert_int_equal(vs_rows_count(rows), total);
  vs_result_free(res);
  /* "*" includes the vectors */
  static const char *const star[] = {"*"};
  res = run_case(fx, &hc, star, 1);
  rows = vs_result_rows(res);
  const float *v = NULL;
  uint32_t dim = 0;
  int64_t id = vs_result_id(res, 0, 0);
  EXPECT_OK(vs_rows_get_float_vector(rows, "b", vs_result_row_index(res, 0, 0), &v, &dim));
  assert_int_equal(dim, DIM);
  assert_memory_equal(v, vec_b[id - 1], sizeof vec_b[0]);
  vs_result_free(res);
  /* profile: one entry per route */
  vs_search_request subs[MAX_ROUTES];
  float qbuf[MAX_ROUTES * NQ * DIM];
  make_searches(&hc, subs, qbuf);
  vs_hybrid_request req = {.searches = subs, .search_count = 2, .rerank = "rrf", .k = 3, .profile = 1};
  EXPECT_OK(vs_hybrid_search(fx->db, COLL, &req, &res));
  assert_non_null(vs_result_profile(res));
  json_t *p = json_loads(vs_result_profile(res), 0, NULL);
  assert_non_null(p);
  assert_true(json_is_array(json_object_get(p, "routes")));
  assert_int_equal(json_array_size(json_object_get(p, "routes")), 2);
  json_decref(p);
  vs_result_free(res);
}

static void test_errors(void **state) {
  fixture *fx = *state;
  hybrid_case hc = {.routes = {{"a", 5, NULL}, {"b", 5, NULL}}, .nr = 2};
  vs_search_request subs[MAX_ROUTES];
  float qbuf[MAX_ROUTES * NQ * DIM];
  make_searches(&hc, subs, qbuf);
  vs_hybrid_request req = {.searches = subs, .search_count = 2, .rerank = "rrf", .k = 3};
  vs_result *res = NULL;
  EXPECT_OK(vs_hybrid_search(fx->db, COLL, &req, &res));
  vs_result_free(res);
  struct {
    const char *rerank, *params;
    vs_status want;
  } bad[] = {
      {"foo", NULL, VS_ERR_INVALID},
      {"", NULL, VS_ERR_INVALID},
      {NULL, NULL, VS_ERR_INVALID},
      {"weighted", NULL, VS_ERR_INVALID},
      {"weighted", "{\"weights\":[0.5]}", VS_ERR_INVALID},
      {"weighted", "{\"weights\":[0.5,0.5,0.5]}", VS_ERR_INVALID},
      {"weighted", "{\"weights\":[0.5,1.5]}", VS_ERR_INVALID},
      {"weighted", "{\"weights\":[-0.1,0.5]}", VS_ERR_INVALID},
      {"weighted", "{\"weights\":[\"a\",0.5]}", VS_ERR_INVALID},
      {"weighted", "{\"weights\":[0.5,0.5],\"norm_score\":3}", VS_ERR_INVALID},
      {"rrf", "{\"k\":0}", VS_ERR_INVALID},
      {"rrf", "{\"k\":-1}", VS_ERR_INVALID},
      {"rrf", "{\"k\":16384}", VS_ERR_INVALID},
      {"rrf", "{\"k\":\"x\"}", VS_ERR_INVALID},
      {"rrf", "[1]", VS_ERR_INVALID},
      {"rrf", "{", VS_ERR_INVALID},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    req.rerank = bad[i].rerank;
    req.rerank_params_json = bad[i].params;
    res = (vs_result *)1;
    vs_status st = vs_hybrid_search(fx->db, COLL, &req, &res);
    if (st != bad[i].want) {
      fail_msg("rerank %s %s -> %s, expected %s", bad[i].rerank ? bad[i].rerank : "(null)",
               bad[i].params ? bad[i].params : "(null)", vs_status_name(st), vs_status_name(bad[i].want));
    }
    assert_null(res);
  }
  req.rerank = "rrf";
  req.rerank_params_json = NULL;
  /* mismatched nq */
  subs[1].nq = 1;
  EXPECT_ST(VS_ERR_INVALID, vs_hybrid_search(fx->db, COLL, &req, &res));
  subs[1].nq = NQ;
  /* unknown vector field, and a field that is not a vector */
  subs[1].vector_field = "nosuch";
  EXPECT_ST(VS_ERR_FIELD_NOT_FOUND, vs_hybrid_search(fx->db, COLL, &req, &res));
  subs[1].vector_field = "cat";
  EXPECT_ST(VS_ERR_FIELD_NOT_FOUND, vs_hybrid_search(fx->db, COLL, &req, &res));
  subs[1].vector_field = "b";
  /* wrong dimension in one route */
  subs[1].dim = 3;
  EXPECT_ST(VS_ERR_INVALID, vs_hybrid_search(fx->db, COLL, &req, &res));
  subs[1].dim = DIM;
  /* no routes, bad limits */
  req.search_count = 0;
  EXPECT_ST(VS_ERR_INVALID, vs_hybrid_search(fx->db, COLL, &req, &res));
  req.search_count = 2;
  req.k = 0;
  EXPECT_ST(VS_ERR_LIMIT, vs_hybrid_search(fx->db, COLL, &req, &res));
  req.k = 10;
  req.offset = VS_MAX_TOPK;
  EXPECT_ST(VS_ERR_LIMIT, vs_hybrid_search(fx->db, COLL, &req, &res));
  req.offset = 0;
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_hybrid_search(fx->db, "nosuch", &req, &res));
  EXPECT_ST(VS_ERR_INVALID, vs_hybrid_search(fx->db, COLL, NULL, &res));
  /* still works afterwards */
  EXPECT_OK(vs_hybrid_search(fx->db, COLL, &req, &res));
  assert_true(vs_result_hits(res, 0) >= 5 && vs_result_hits(res, 0) <= N);
  vs_result_free(res);
}

/* VarChar primary keys: the same rows keyed "k<id>" fuse to the same
 * ranking, and output rows follow the hits. */
static void test_varchar_keys(void **state) {
  fixture *fx = *state;
  vs_schema *s = NULL;
  vs_field_def defs[] = {
      {.name = "pk", .type = VS_TYPE_VARCHAR, .is_primary = 1, .max_length = 8},
      {.name = "a", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_L2},
      {.name = "b", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_COSINE},
      {.name = "cat", .type = VS_TYPE_INT64},
  };
  EXPECT_OK(vs_schema_new(&s));
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) EXPECT_OK(vs_schema_add_field(s, &defs[i]));
  EXPECT_OK(vs_create_collection(fx->db, "hv", s, NULL));
  vs_schema_free(s);
  char keys[N][8];
  const char *keyp[N];
  for (size_t r = 0; r < N; r++) {
    snprintf(keys[r], sizeof keys[r], "k%zu", r + 1);
    keyp[r] = keys[r];
  }
  vs_rows *rows = NULL;
  EXPECT_OK(vs_rows_new(N, &rows));
  EXPECT_OK(vs_rows_set_strings(rows, "pk", keyp));
  EXPECT_OK(vs_rows_set_float_vectors(rows, "a", &vec_a[0][0], DIM));
  EXPECT_OK(vs_rows_set_float_vectors(rows, "b", &vec_b[0][0], DIM));
  EXPECT_OK(vs_rows_set_int64(rows, "cat", cats, NULL));
  EXPECT_OK(vs_insert(fx->db, "hv", NULL, rows, NULL));
  vs_rows_free(rows);
  static const double w[] = {0.6, 0.4};
  hybrid_case hc = {.routes = {{"a", 5, NULL}, {"b", 5, NULL}}, .nr = 2, .rerank = "weighted",
                    .params = "{\"weights\":[0.6,0.4]}", .fusion = {.weights = w, .norm = true},
                    .k = 6, .offset = 1};
  vs_result *want = run_case(fx, &hc, NULL, 0);
  vs_search_request subs[MAX_ROUTES];
  float qbuf[MAX_ROUTES * NQ * DIM];
  make_searches(&hc, subs, qbuf);
  static const char *const fields[] = {"cat"};
  vs_hybrid_request req = {.searches = subs, .search_count = 2, .rerank = hc.rerank,
                           .rerank_params_json = hc.params, .k = hc.k, .offset = hc.offset,
                           .output_fields = fields, .output_count = 1};
  vs_result *got = NULL;
  EXPECT_OK(vs_hybrid_search(fx->db, "hv", &req, &got));
  const vs_rows *out = vs_result_rows(got);
  assert_non_null(out);
  for (size_t q = 0; q < NQ; q++) {
    assert_int_equal(vs_result_hits(got, q), vs_result_hits(want, q));
    for (size_t i = 0; i < vs_result_hits(got, q); i++) {
      char key[8];
      snprintf(key, sizeof key, "k%" PRId64, vs_result_id(want, q, i));
      assert_non_null(vs_result_id_str(got, q, i));
      assert_string_equal(vs_result_id_str(got, q, i), key);
      assert_true(fabs(vs_result_distance(got, q, i) - vs_result_distance(want, q, i)) < 1e-6);
      size_t row = vs_result_row_index(got, q, i);
      const char *pk = NULL;
      size_t len = 0;
      int64_t cat = 0;
      EXPECT_OK(vs_rows_get_string(out, "pk", row, &pk, &len));
      assert_int_equal(len, strlen(key));
      assert_memory_equal(pk, key, len);
      EXPECT_OK(vs_rows_get_int64(out, "cat", row, &cat));
      assert_int_equal(cat, cats[vs_result_id(want, q, i) - 1]);
    }
  }
  vs_result_free(got);
  vs_result_free(want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rrf, setup, teardown),
      cmocka_unit_test_setup_teardown(test_weighted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_offset_and_partitions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters_per_route, setup, teardown),
      cmocka_unit_test_setup_teardown(test_output_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_varchar_keys, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
