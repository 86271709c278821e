/*
 * test_index_engine.c -- indexes through the public API: definitions,
 * background builds, search through indexes, persistence, rebuilds, drops,
 * compaction, restart in the middle of a build, and a damaged index file.
 *
 * Vectors are clustered (32 centres + noise) so that ANN recall is a
 * meaningful number; recall is measured against a FLAT search of the same
 * collection (the engine's exact path) and compared with thresholds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/testutil.h"
#include "vectorstore.h"

#define DIM 32
#define ROWS 6000
#define QUERIES 50
#define K 10

static float *make_vectors(uint64_t seed, size_t n) {
  float *centres = malloc(32 * DIM * sizeof *centres);
  float *v = malloc(n * DIM * sizeof *v);
  uint64_t s = seed;
  tu_random_floats(seed ^ 0x5eed, centres, 32 * DIM);
  for (size_t i = 0; i < n; i++) {
    const float *c = centres + tu_rand_below(&s, 32) * DIM;
    for (size_t d = 0; d < DIM; d++) v[i * DIM + d] = c[d] * 4.0f + tu_rand_float(&s);
  }
  free(centres);
  return v;
}

static vs_db *open_db(const char *dir, uint64_t seal_rows) {
  vs_options opt;
  vs_db *db = NULL;
  vs_options_init(&opt);
  opt.seal_rows = seal_rows;
  opt.fsync = VS_FSYNC_NONE;
  assert_int_equal(vs_open(dir, &opt, &db), VS_OK);
  return db;
}

static void create_collection(vs_db *db, const char *name, vs_metric metric) {
  vs_schema *s = NULL;
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  vs_field_def vec = {.name = "vector", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = metric};
  assert_int_equal(vs_schema_new(&s), VS_OK);
  assert_int_equal(vs_schema_add_field(s, &id), VS_OK);
  assert_int_equal(vs_schema_add_field(s, &vec), VS_OK);
  assert_int_equal(vs_create_collection(db, name, s, NULL), VS_OK);
  vs_schema_free(s);
}

static void insert_range(vs_db *db, const char *name, const float *v, int64_t first, size_t n) {
  for (size_t off = 0; off < n; off += 1000) {
    size_t m = n - off < 1000 ? n - off : 1000;
    int64_t *ids = malloc(m * sizeof *ids);
    vs_rows *rows = NULL;
    for (size_t i = 0; i < m; i++) ids[i] = first + (int64_t)(off + i);
    assert_int_equal(vs_rows_new(m, &rows), VS_OK);
    assert_int_equal(vs_rows_set_int64(rows, "id", ids, NULL), VS_OK);
    assert_int_equal(vs_rows_set_float_vectors(rows, "vector", v + (off)*DIM, DIM), VS_OK);
    assert_int_equal(vs_insert(db, name, NULL, rows, NULL), VS_OK);
    vs_rows_free(rows);
    free(ids);
  }
}

static vs_result *search(vs_db *db, const char *name, const float *q, size_t nq, uint32_t k,
                         const char *params) {
  vs_search_request req = {.vectors = q, .nq = nq, .dim = DIM, .k = k, .params_json = params};
  vs_result *res = NULL;
  vs_status st = vs_search(db, name, &req, &res);
  if (st != VS_OK) fprintf(stderr, "search: %s\n", vs_errmsg(db));
  assert_int_equal(st, VS_OK);
  return res;
}

/* recall@k of `got` against `truth`, averaged over queries. */
static double recall(const vs_result *got, const vs_result *truth, uint32_t k) {
  double sum = 0;
  size_t nq = vs_result_nq(truth);
  for (size_t q = 0; q < nq; q++) {
    size_t hits = 0;
    for (size_t i = 0; i < vs_result_hits(got, q); i++) {
      for (size_t j = 0; j < vs_result_hits(truth, q) && j < k; j++) {
        if (vs_result_id(got, q, i) == vs_result_id(truth, q, j)) hits++;
      }
    }
    sum += (double)hits / k;
  }
  return sum / (double)nq;
}

static char *describe(vs_db *db, const char *name) {
  char *json = NULL;
  assert_int_equal(vs_describe_index(db, name, NULL, &json), VS_OK);
  return json;
}

static void wait_index(vs_db *db, const char *name) {
  vs_status st = vs_wait_for_index(db, name, NULL, 300000);
  if (st != VS_OK) fprintf(stderr, "wait: %s\n", vs_errmsg(db));
  assert_int_equal(st, VS_OK);
}

/* An index of each type gives the exact answer (FLAT) or high recall. */
static void check_type(const char *type, const char *params, const char *search_params, double min_recall,
                       vs_metric metric) {
  char *dir = tu_make_tmpdir("index-type");
  vs_db *db = open_db(dir, 2500);
  float *v = make_vectors(7, ROWS);
  float *q = make_vectors(99, QUERIES);
  create_collection(db, "c", metric);
  insert_range(db, "c", v, 0, ROWS);
  vs_result *truth = search(db, "c", q, QUERIES, K, NULL);
  assert_int_equal(vs_create_index(db, "c", NULL, type, params), VS_OK);
  assert_int_equal(vs_flush(db, "c"), VS_OK);
  wait_index(db, "c");
  char *json = describe(db, "c");
  assert_non_null(strstr(json, "\"Finished\""));
  vs_free(json);
  vs_result *got = search(db, "c", q, QUERIES, K, search_params);
  double r = recall(got, truth, K);
  printf("  %s %s: recall@10 = %.3f (threshold %.2f)\n", type, params ? params : "", r, min_recall);
  assert_true(r >= min_recall);
  vs_result_free(got);
  /* The index files survive a reopen and give the same answers. */
  assert_int_equal(vs_close(db), VS_OK);
  db = open_db(dir, 2500);
  json = describe(db, "c");
  assert_non_null(strstr(json, "\"Finished\""));
  vs_free(json);
  got = search(db, "c", q, QUERIES, K, search_params);
  assert_true(recall(got, truth, K) >= min_recall);
  vs_result_free(got);
  vs_result_free(truth);
  assert_int_equal(vs_close(db), VS_OK);
  tu_remove_tree(dir);
  free(dir);
  free(v);
  free(q);
}

static void test_flat_exact(void **state) {
  (void)state;
  check_type("FLAT", NULL, NULL, 1.0, VS_METRIC_L2);
}

static void test_hnsw(void **state) {
  (void)state;
  check_type("HNSW", "{\"M\":16,\"efConstruction\":100}", "{\"ef\":64}", 0.95, VS_METRIC_L2);
  check_type("HNSW", "{\"M\":8}", "{\"ef\":64}", 0.9, VS_METRIC_COSINE);
}

static void test_hnsw_sq8_and_auto(void **state) {
  (void)state;
  check_type("HNSW_SQ8", NULL, "{\"ef\":64}", 0.9, VS_METRIC_IP);
  check_type("AUTOINDEX", NULL, NULL, 0.9, VS_METRIC_L2);
}

static void test_ivf(void **state) {
  (void)state;
  check_type("IVF_FLAT", "{\"nlist\":32}", "{\"nprobe\":32}", 1.0, VS_METRIC_L2);
  check_type("IVF_SQ8", "{\"nlist\":32}", "{\"nprobe\":16}", 0.85, VS_METRIC_L2);
  check_type("IVF_PQ", "{\"nlist\":32,\"m\":8,\"nbits\":8}", "{\"nprobe\":16}", 0.6, VS_METRIC_L2);
}

/* Definitions: same again is fine, different is refused, drop is
 * idempotent, unknown type and bad params are clear errors. */
static void test_definitions(void **state) {
  (void)state;
  char *dir = tu_make_tmpdir("index-defs");
  vs_db *db = open_db(dir, 100000);
  char *json = NULL;
  create_collection(db, "c", VS_METRIC_L2);
  assert_int_equal(vs_create_index(db, "c", NULL, "FLAT", "{}"), VS_OK);
  assert_int_equal(vs_create_index(db, "c", NULL, "FLAT", NULL), VS_OK);
  assert_int_equal(vs_create_index(db, "c", NULL, "HNSW", NULL), VS_ERR_EXISTS);
  assert_int_equal(vs_create_index(db, "c", "nope", "FLAT", NULL), VS_ERR_FIELD_NOT_FOUND);
  assert_int_equal(vs_create_index(db, "c", "id", "FLAT", NULL), VS_ERR_UNSUPPORTED);
  assert_int_equal(vs_drop_index(db, "c", NULL), VS_OK);
  assert_int_equal(vs_drop_index(db, "c", NULL), VS_OK);
  assert_int_equal(vs_describe_index(db, "c", NULL, &json), VS_ERR_NOT_FOUND);
  assert_int_equal(vs_create_index(db, "c", NULL, "BTREE", NULL), VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(db), "BTREE"));
  assert_int_equal(vs_create_index(db, "c", NULL, "HNSW", "{\"M\":2}"), VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(db), "'M'"));
  assert_int_equal(vs_create_index(db, "c", NULL, "HNSW", "{\"M\":"), VS_ERR_INVALID);
  assert_int_equal(vs_create_index(db, "c", NULL, "HNSW", "{\"metric_type\":\"COSINE2\"}"), VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(db), "metric"));
  /* The first index of a field may choose the metric (Milvus keeps the
   * metric on the index); the field takes it, and exact search follows. */
  assert_int_equal(vs_create_index(db, "c", NULL, "HNSW", "{\"metric_type\":\"IP\"}"), VS_OK);
  json = describe(db, "c");
  assert_non_null(strstr(json, "\"IP\""));
  vs_free(json);
  assert_int_equal(vs_create_index(db, "c", NULL, "HNSW", "{\"metric_type\":\"L2\"}"), VS_ERR_EXISTS);
  {
    float v[DIM] = {1.0f, 2.0f};
    insert_range(db, "c", v, 1, 1);
    vs_result *res = search(db, "c", v, 1, 1, NULL);
    assert_true(fabsf(vs_result_distance(res, 0, 0) - 5.0f) < 1e-5f); /* inner product */
    vs_result_free(res);
    vs_close(db);
    db = open_db(dir, 100000);
    res = search(db, "c", v, 1, 1, NULL);
    assert_true(fabsf(vs_result_distance(res, 0, 0) - 5.0f) < 1e-5f); /* persisted */
    vs_result_free(res);
  }
  assert_int_equal(vs_drop_index(db, "c", NULL), VS_OK);
  assert_int_equal(vs_create_index(db, "missing", NULL, "HNSW", NULL), VS_ERR_NOT_FOUND);
  assert_int_equal(vs_rebuild_index(db, "c", NULL, NULL, NULL), VS_ERR_NOT_FOUND);
  /* The definition persists. */
  assert_int_equal(vs_create_index(db, "c", NULL, "FLAT", "{\"nlist\":\"4\"}"), VS_OK);
  assert_int_equal(vs_close(db), VS_OK);
  db = open_db(dir, 100000);
  json = describe(db, "c");
  assert_non_null(strstr(json, "\"FLAT\""));
  vs_free(json);
  assert_int_equal(vs_close(db), VS_OK);
  tu_remove_tree(dir);
  free(dir);
}

/* Search params: range search returns exactly the rows inside the range,
 * bad ranges are refused. */
static void test_range_search(void **state) {
  (void)state;
  char *dir = tu_make_tmpdir("index-range");
  vs_db *db = open_db(dir, 1500);
  float *v = make_vectors(3, 3000);
  float *q = make_vectors(4, 5);
  create_collection(db, "c", VS_METRIC_L2);
  insert_range(db, "c", v, 0, 3000);
  assert_int_equal(vs_create_index(db, "c", NULL, "FLAT", NULL), VS_OK);
  wait_index(db, "c");
  vs_result *all = search(db, "c", q, 5, 3000, NULL);
  float radius = vs_result_distance(all, 0, 200);
  float floor_ = vs_result_distance(all, 0, 20);
  char params[128];
  snprintf(params, sizeof params, "{\"radius\":%.9g,\"range_filter\":%.9g}", (double)radius, (double)floor_);
  vs_result *got = search(db, "c", q, 1, 1000, params);
  size_t expect = 0;
  for (size_t i = 0; i < 3000; i++) {
    float d = vs_result_distance(all, 0, i);
    if (d < radius && d >= floor_) expect++;
  }
  assert_int_equal(vs_result_hits(got, 0), expect);
  for (size_t i = 0; i < vs_result_hits(got, 0); i++) {
    assert_true(vs_result_distance(got, 0, i) < radius);
    assert_true(vs_result_distance(got, 0, i) >= floor_);
  }
  vs_result_free(got);
  vs_search_request bad = {.vectors = q, .nq = 1, .dim = DIM, .k = 10,
                           .params_json = "{\"radius\":1,\"range_filter\":2}"};
  assert_int_equal(vs_search(db, "c", &bad, &got), VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(db), "radius"));
  bad.params_json = "{\"ef\":\"many\"}";
  assert_int_equal(vs_search(db, "c", &bad, &got), VS_ERR_INVALID);
  vs_result_free(all);
  assert_int_equal(vs_close(db), VS_OK);
  tu_remove_tree(dir);
  free(dir);
  free(v);
  free(q);
}

/* Rebuild swaps in the new type; drop returns to exact search; deletes
 * are honoured through the index; compaction re-indexes. */
static void test_rebuild_drop_compact(void **state) {
  (void)state;
  char *dir = tu_make_tmpdir("index-rebuild");
  vs_db *db = open_db(dir, 2000);
  float *v = make_vectors(11, 4000);
  create_collection(db, "c", VS_METRIC_L2);
  insert_range(db, "c", v, 0, 4000);
  assert_int_equal(vs_create_index(db, "c", NULL, "FLAT", NULL), VS_OK);
  assert_int_equal(vs_flush(db, "c"), VS_OK);
  wait_index(db, "c");
  assert_int_equal(vs_rebuild_index(db, "c", NULL, "HNSW", "{\"M\":8}"), VS_OK);
  wait_index(db, "c");
  char *json = describe(db, "c");
  assert_non_null(strstr(json, "\"HNSW\""));
  assert_non_null(strstr(json, "\"Finished\""));
  vs_free(json);
  /* Delete every other row: deleted rows never come back. */
  int64_t *ids = malloc(2000 * sizeof *ids);
  for (size_t i = 0; i < 2000; i++) ids[i] = (int64_t)(2 * i);
  vs_keys keys = {.count = 2000, .int_keys = ids};
  uint64_t deleted = 0;
  assert_int_equal(vs_delete(db, "c", NULL, &keys, &deleted), VS_OK);
  assert_int_equal(deleted, 2000);
  vs_result *res = search(db, "c", v, 20, K, "{\"ef\":64}");
  for (size_t q = 0; q < 20; q++) {
    assert_int_equal(vs_result_hits(res, q), K);
    for (size_t i = 0; i < K; i++) assert_int_equal(vs_result_id(res, q, i) % 2, 1);
  }
  vs_result_free(res);
  assert_int_equal(vs_compact(db, "c", 1), VS_OK);
  wait_index(db, "c");
  json = describe(db, "c");
  assert_non_null(strstr(json, "\"indexedRows\": 2000"));
  vs_free(json);
  assert_int_equal(vs_drop_index(db, "c", NULL), VS_OK);
  res = search(db, "c", v + DIM, 1, 1, NULL);
  assert_int_equal(vs_result_id(res, 0, 0), 1);
  vs_result_free(res);
  assert_int_equal(vs_close(db), VS_OK);
  long files = 0;
  char **names = NULL;
  char *cdir = tu_join(dir, "c000001");
  files = tu_list_files(cdir, &names);
  for (long i = 0; i < files; i++) assert_null(strstr(names[i], ".vidx"));
  tu_free_strings(names, (size_t)files);
  free(cdir);
  free(ids);
  tu_remove_tree(dir);
  free(dir);
  free(v);
}

/* A process killed in the middle of index builds: the next open finishes
 * them, and a damaged index file is refused with its name. */
static void test_restart_and_damage(void **state) {
  (void)state;
  char *dir = tu_make_tmpdir("index-restart");
  vs_db *db = open_db(dir, 3000);
  float *v = make_vectors(5, 9000);
  create_collection(db, "c", VS_METRIC_L2);
  insert_range(db, "c", v, 0, 9000);
  assert_int_equal(vs_close(db), VS_OK);
  pid_t pid = fork();
  if (pid == 0) {
    vs_db *child = open_db(dir, 3000);
    vs_create_index(child, "c", NULL, "HNSW", "{\"efConstruction\":400}");
    _exit(0); /* no close: builds in flight die with the process */
  }
  int status = 0;
  waitpid(pid, &status, 0);
  db = open_db(dir, 3000);
  wait_index(db, "c");
  char *json = describe(db, "c");
  assert_non_null(strstr(json, "\"indexedRows\": 9000"));
  vs_free(json);
  assert_int_equal(vs_close(db), VS_OK);
  char **names = NULL;
  char *cdir = tu_join(dir, "c000001");
  long files = tu_list_files(cdir, &names);
  char *victim = NULL;
  for (long i = 0; i < files; i++) {
    if (strstr(names[i], ".vidx") && !victim) victim = tu_join(cdir, names[i]);
  }
  assert_non_null(victim);
  assert_int_equal(tu_flip_byte(victim, tu_file_size(victim) / 2, 0x10), 0);
  vs_options opt;
  vs_options_init(&opt);
  assert_int_equal(vs_open(dir, &opt, &db), VS_ERR_CORRUPT);
  assert_non_null(strstr(vs_errmsg(NULL), tu_basename(victim)));
  tu_free_strings(names, (size_t)files);
  free(victim);
  free(cdir);
  tu_remove_tree(dir);
  free(dir);
  free(v);
}

/* ------------------------------------------- waiting while others flush */

typedef struct flusher {
  vs_db *db;
  const float *v;
  int rounds;
  atomic_int finished;
  int failures;
} flusher;

/* Inserts a small batch and flushes, in a loop: every flush kicks the
 * index builder while it holds the collection's write lock. */
static void *flush_main(void *arg) {
  flusher *f = arg;
  for (int r = 0; r < f->rounds; r++) {
    int64_t id = ROWS + r;
    vs_rows *rows = NULL;
    bool ok = vs_rows_new(1, &rows) == VS_OK && vs_rows_set_int64(rows, "id", &id, NULL) == VS_OK &&
              vs_rows_set_float_vectors(rows, "vector", f->v + (size_t)(r % ROWS) * DIM, DIM) == VS_OK &&
              vs_insert(f->db, "w", NULL, rows, NULL) == VS_OK && vs_flush(f->db, "w") == VS_OK;
    if (!ok) f->failures++;
    vs_rows_free(rows);
  }
  atomic_store(&f->finished, 1);
  return NULL;
}

typedef struct waiter {
  flusher *f;
  int waits;
  int errors;
} waiter;

static void *wait_main(void *arg) {
  waiter *w = arg;
  while (!atomic_load(&w->f->finished)) {
    vs_status st = vs_wait_for_index(w->f->db, "w", NULL, 120000);
    if (st != VS_OK && st != VS_ERR_TIMEOUT) w->errors++;
    w->waits++;
  }
  return NULL;
}

static void join_or_fail(pthread_t t, const char *what) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 120;
  if (pthread_timedjoin_np(t, NULL, &deadline) != 0) fail_msg("%s did not finish in 120 s: deadlock", what);
}

/* vs_wait_for_index running while another thread flushes, over and over.
 * A waiter once asked whether the index was ready (collection read lock)
 * while holding the builder's mutex, and a flush kicks the builder (that
 * mutex) while holding the write lock: the two deadlocked (every one of 3
 * runs of this test hung with that order).  Both threads must finish. */
static void test_wait_during_flushes(void **state) {
  (void)state;
  char *dir = tu_make_tmpdir("ixwait");
  vs_db *db = open_db(dir, 1000000);
  float *v = make_vectors(77, ROWS);
  create_collection(db, "w", VS_METRIC_L2);
  insert_range(db, "w", v, 0, 2000);
  assert_int_equal(vs_create_index(db, "w", "vector", "HNSW", "{\"M\":8,\"efConstruction\":40}"), VS_OK);
  flusher f = {.db = db, .v = v, .rounds = 150};
  waiter w = {.f = &f};
  pthread_t ft, wt;
  assert_int_equal(pthread_create(&ft, NULL, flush_main, &f), 0);
  assert_int_equal(pthread_create(&wt, NULL, wait_main, &w), 0);
  join_or_fail(ft, "the flushing thread");
  join_or_fail(wt, "the waiting thread");
  assert_int_equal(f.failures, 0);
  assert_int_equal(w.errors, 0);
  assert_true(w.waits > 0);
  print_message("%d waits during %d flushes\n", w.waits, f.rounds);
  wait_index(db, "w");
  assert_int_equal(vs_close(db), VS_OK);
  free(v);
  tu_remove_tree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_definitions),     cmocka_unit_test(test_flat_exact),
      cmocka_unit_test(test_range_search),    cmocka_unit_test(test_hnsw),
      cmocka_unit_test(test_hnsw_sq8_and_auto), cmocka_unit_test(test_ivf),
      cmocka_unit_test(test_rebuild_drop_compact), cmocka_unit_test(test_restart_and_damage),
      cmocka_unit_test(test_wait_during_flushes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
