/*
 * test_engine.c -- the engine through the public API: databases,
 * collections, partitions, every field type, autoID, VarChar keys, upsert,
 * delete, statistics, sealing, compaction, crash recovery, read-only mode
 * and the fsync policies.
 *
 * Most tests use the standard test collection of support/testdb.h, whose
 * rows are pure functions of (id, version): a test writes ranges of ids at
 * some version and checks with tdb_read_versions that every id holds exactly
 * the version it expects (or is absent), bit for bit.  "Found by search"
 * means an exact search for the row's own vector returns the row first at
 * distance 0.
 *
 * Each test runs in its own temporary directory (removed by the teardown).
 * The fixture opens databases with fsync=none (durability is the subject of
 * the crash and fsync tests only, which use their own settings) and
 * auto_compact off, so that deleted-row counts are predictable; the tests
 * about compaction turn it on.
 *
 * Crashes are simulated by forking a child that opens the database, writes,
 * and leaves with _exit(0) without vs_close: no seal, no MANIFEST write, no
 * WAL checkpoint.  The parent never has the database open across a fork,
 * and the child never calls cmocka (it reports failure by its exit code).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "support/testdb.h"
#include "support/testutil.h"
#include "vectorstore.h"

#define COLL "docs"

#define EXPECT_OK(call)                                                    \
  do {                                                                     \
    vs_status st_ = (call);                                                \
    if (st_ != VS_OK)                                                      \
      fail_msg("line %d: %s -> %s: %s", __LINE__, #call,                   \
               vs_status_name(st_), vs_errmsg(NULL));                      \
  } while (0)

#define EXPECT_ST(want, call)                                              \
  do {                                                                     \
    vs_status st_ = (call);                                                \
    if (st_ != (want))                                                     \
      fail_msg("line %d: %s -> %s, expected %s (%s)", __LINE__, #call,     \
               vs_status_name(st_), vs_status_name(want), vs_errmsg(NULL));\
    if ((want) != VS_OK && vs_errmsg(NULL)[0] == '\0')                     \
      fail_msg("line %d: %s failed without a message", __LINE__, #call);   \
  } while (0)

/* ---------------------------------------------------------------- fixture */

typedef struct fx {
  char *dir;
  vs_db *db;
  vs_options opt;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  f->dir = tu_make_tmpdir("engine");
  if (f->dir == NULL) return -1;
  vs_options_init(&f->opt);
  f->opt.fsync = VS_FSYNC_NONE;
  f->opt.auto_compact = 0;
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

static void fx_open(fx *f) {
  f->db = NULL;
  EXPECT_OK(vs_open(f->dir, &f->opt, &f->db));
  assert_non_null(f->db);
}

static void fx_close(fx *f) {
  vs_status st = vs_close(f->db);
  f->db = NULL;
  EXPECT_OK(st);
}

static void fx_reopen(fx *f) {
  fx_close(f);
  fx_open(f);
}

/* ---------------------------------------------------------------- helpers */

static void create_tdb(vs_db *db, const char *name, uint32_t shards) {
  vs_schema *s = tdb_schema();
  assert_non_null(s);
  vs_collection_options co = {.shards = shards};
  EXPECT_OK(vs_create_collection(db, name, s, &co));
  vs_schema_free(s);
}

/* Inserts (or upserts) ids [first, first+count) at version `ver`. */
static void write_tdb(vs_db *db, const char *coll, const char *part,
                      int64_t first, uint32_t count, uint32_t ver,
                      bool upsert) {
  while (count > 0) {
    uint32_t n = count < TDB_MAX_BATCH ? count : TDB_MAX_BATCH;
    vs_rows *rows = tdb_build_rows(first, n, ver);
    vs_write_info info = {0};
    assert_non_null(rows);
    if (upsert)
      EXPECT_OK(vs_upsert(db, coll, part, rows, &info));
    else
      EXPECT_OK(vs_insert(db, coll, part, rows, &info));
    assert_int_equal(info.rows, n);
    vs_rows_free(rows);
    first += n;
    count -= n;
  }
}

static void insert_tdb(vs_db *db, const char *coll, const char *part,
                       int64_t first, uint32_t count, uint32_t ver) {
  write_tdb(db, coll, part, first, count, ver, false);
}

/* Every id of [first, first+count) holds version `ver` (-1: absent). */
static void expect_range(vs_db *db, const char *coll, int64_t first,
                         uint32_t count, int32_t ver) {
  int32_t *got = calloc(count ? count : 1, sizeof *got);
  char err[256];
  assert_non_null(got);
  if (tdb_read_versions(db, coll, first, count, got, err, sizeof err) != 0)
    fail_msg("%s", err);
  for (uint32_t i = 0; i < count; i++) {
    if (got[i] != ver)
      fail_msg("%s: id %" PRId64 " has version %d, expected %d", coll,
               first + i, got[i], ver);
  }
  free(got);
}

static uint64_t count_rows(vs_db *db, const char *coll, const char *part) {
  uint64_t n = UINT64_MAX;
  EXPECT_OK(vs_count(db, coll, part, &n));
  return n;
}

static vs_collection_stats stats_of(vs_db *db, const char *coll) {
  vs_collection_stats s;
  memset(&s, 0xff, sizeof s);
  EXPECT_OK(vs_collection_stats_get(db, coll, &s));
  return s;
}

static vs_result *search_vec(vs_db *db, const char *coll, const float *v,
                             uint32_t dim, uint32_t k,
                             const char *const *parts, size_t nparts) {
  vs_search_request req = {.vectors = v, .nq = 1, .dim = dim, .k = k,
                           .partitions = parts, .partition_count = nparts};
  vs_result *res = NULL;
  EXPECT_OK(vs_search(db, coll, &req, &res));
  assert_non_null(res);
  assert_int_equal(vs_result_nq(res), 1);
  return res;
}

/* Searches for the vector of (id, ver): returns 1 if id is the first hit
 * at distance 0, 0 if id is not among the first k hits at distance 0. */
static int found_by_search(vs_db *db, const char *coll, int64_t id,
                           uint32_t ver, const char *const *parts,
                           size_t nparts) {
  float v[TDB_DIM];
  tdb_row_vector(id, ver, v);
  vs_result *res = search_vec(db, coll, v, TDB_DIM, 5, parts, nparts);
  int found = 0;
  for (size_t i = 0; i < vs_result_hits(res, 0); i++) {
    if (vs_result_id(res, 0, i) != id) continue;
    if (vs_result_distance(res, 0, i) == 0.0f) {
      if (i != 0 && vs_result_distance(res, 0, 0) != 0.0f)
        fail_msg("id %" PRId64 " at distance 0 is not first", id);
      found = 1;
    }
  }
  vs_result_free(res);
  return found;
}

static void expect_names(char **names, size_t n, const char *const *want,
                         size_t nwant) {
  if (n != nwant) fail_msg("%zu names, expected %zu", n, nwant);
  for (size_t i = 0; i < n; i++) assert_string_equal(names[i], want[i]);
}

static void expect_collections(vs_db *db, const char *const *want,
                               size_t nwant) {
  char **names = NULL;
  size_t n = 0;
  EXPECT_OK(vs_list_collections(db, &names, &n));
  expect_names(names, n, want, nwant);
  vs_free_strings(names, n);
}

static void expect_partitions(vs_db *db, const char *coll,
                              const char *const *want, size_t nwant) {
  char **names = NULL;
  size_t n = 0;
  EXPECT_OK(vs_list_partitions(db, coll, &names, &n));
  expect_names(names, n, want, nwant);
  vs_free_strings(names, n);
}

static int has_collection(vs_db *db, const char *name) {
  int has = -1;
  EXPECT_OK(vs_has_collection(db, name, &has));
  return has;
}

static int has_partition(vs_db *db, const char *coll, const char *part) {
  int has = -1;
  EXPECT_OK(vs_has_partition(db, coll, part, &has));
  return has;
}

static uint64_t delete_ids(vs_db *db, const char *coll, const char *part,
                           int64_t first, uint32_t count) {
  int64_t *keys = calloc(count ? count : 1, sizeof *keys);
  uint64_t deleted = UINT64_MAX;
  assert_non_null(keys);
  for (uint32_t i = 0; i < count; i++) keys[i] = first + i;
  vs_keys k = {.count = count, .int_keys = keys};
  EXPECT_OK(vs_delete(db, coll, part, &k, &deleted));
  free(keys);
  return deleted;
}

/* ------------------------------------------------- database and catalog */

static void test_open_close_empty(void **state) {
  fx *f = *state;
  char *nested = tu_join(f->dir, "a/b/db");
  char *missing = tu_join(f->dir, "missing");
  vs_db *db = NULL;
  assert_non_null(nested);
  EXPECT_OK(vs_open(nested, &f->opt, &db));
  expect_collections(db, NULL, 0);
  EXPECT_OK(vs_close(db));
  db = NULL;
  EXPECT_OK(vs_open(nested, NULL, &db));
  expect_collections(db, NULL, 0);
  EXPECT_OK(vs_close(db));
  EXPECT_OK(vs_close(NULL));

  db = (vs_db *)(uintptr_t)1;
  EXPECT_ST(VS_ERR_INVALID, vs_open("", &f->opt, &db));
  assert_null(db);
  db = (vs_db *)(uintptr_t)1;
  EXPECT_ST(VS_ERR_INVALID, vs_open(NULL, &f->opt, &db));
  assert_null(db);
  vs_options ro = f->opt;
  ro.read_only = 1;
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_open(missing, &ro, &db));
  assert_null(db);
  free(nested);
  free(missing);
}

static void test_second_open_busy(void **state) {
  fx *f = *state;
  vs_db *second = (vs_db *)(uintptr_t)1;
  fx_open(f);
  create_tdb(f->db, COLL, 0);
  EXPECT_ST(VS_ERR_BUSY, vs_open(f->dir, &f->opt, &second));
  assert_null(second);
  /* Another spelling of the same directory. */
  char *dotted = tu_join(f->dir, ".");
  EXPECT_ST(VS_ERR_BUSY, vs_open(dotted, &f->opt, &second));
  assert_null(second);
  EXPECT_ST(VS_ERR_BUSY, vs_check(f->dir, NULL, NULL));
  /* The failed opens changed nothing. */
  insert_tdb(f->db, COLL, NULL, 1, 10, 0);
  fx_close(f);
  EXPECT_OK(vs_open(dotted, &f->opt, &second));
  expect_range(second, COLL, 1, 10, 0);
  EXPECT_OK(vs_close(second));
  EXPECT_OK(vs_check(f->dir, NULL, NULL));
  free(dotted);
}

static void test_collection_ddl(void **state) {
  fx *f = *state;
  vs_schema *s = tdb_schema();
  vs_schema *empty = NULL;
  char long_name[300];
  fx_open(f);
  EXPECT_OK(vs_create_collection(f->db, "alpha", s, NULL));
  EXPECT_OK(vs_create_collection(f->db, "_beta2", s, NULL));
  EXPECT_OK(vs_create_collection(f->db, "Gamma", s, NULL));
  const char *three[] = {"alpha", "_beta2", "Gamma"};
  expect_collections(f->db, three, 3);
  assert_int_equal(has_collection(f->db, "alpha"), 1);
  assert_int_equal(has_collection(f->db, "ALPHA"), 0);
  assert_int_equal(has_collection(f->db, "delta"), 0);

  EXPECT_ST(VS_ERR_EXISTS, vs_create_collection(f->db, "alpha", s, NULL));
  const char *bad[] = {"", "1abc", "a-b", "a b", "a.b", "é", "a/b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    EXPECT_ST(VS_ERR_INVALID, vs_create_collection(f->db, bad[i], s, NULL));
  EXPECT_ST(VS_ERR_INVALID, vs_create_collection(f->db, NULL, s, NULL));
  EXPECT_ST(VS_ERR_INVALID, vs_create_collection(f->db, "nos", NULL, NULL));
  memset(long_name, 'n', 256);
  long_name[256] = '\0';
  EXPECT_ST(VS_ERR_INVALID, vs_create_collection(f->db, long_name, s, NULL));
  long_name[255] = '\0';
  EXPECT_OK(vs_create_collection(f->db, long_name, s, NULL));
  EXPECT_OK(vs_drop_collection(f->db, long_name));
  /* A schema without a vector field is not a collection schema. */
  EXPECT_OK(vs_schema_new(&empty));
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  EXPECT_OK(vs_schema_add_field(empty, &id));
  vs_status st = vs_create_collection(f->db, "novec", empty, NULL);
  assert_int_not_equal(st, VS_OK);
  assert_int_equal(has_collection(f->db, "novec"), 0);
  vs_schema_free(empty);

  /* describe and get_schema */
  char *json = NULL;
  EXPECT_OK(vs_describe_collection(f->db, "alpha", &json));
  json_error_t jerr;
  json_t *root = json_loads(json, 0, &jerr);
  assert_non_null(root);
  assert_string_equal(json_string_value(json_object_get(root, "collectionName")),
                      "alpha");
  assert_int_equal(json_integer_value(json_object_get(root, "shardsNum")), 2);
  json_decref(root);
  vs_free(json);
  vs_schema *copy = NULL;
  EXPECT_OK(vs_get_schema(f->db, "alpha", &copy));
  assert_int_equal(vs_schema_field_count(copy), 4);
  vs_schema_free(copy);
  copy = (vs_schema *)(uintptr_t)1;
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_get_schema(f->db, "nope", &copy));
  assert_null(copy);
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_describe_collection(f->db, "nope", &json));

  /* drop */
  insert_tdb(f->db, "_beta2", NULL, 1, 20, 0);
  EXPECT_OK(vs_drop_collection(f->db, "_beta2"));
  const char *two[] = {"alpha", "Gamma"};
  expect_collections(f->db, two, 2);
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_drop_collection(f->db, "_beta2"));
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_drop_collection(f->db, "never"));
  vs_collection_stats cs;
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_collection_stats_get(f->db, "_beta2", &cs));
  uint64_t n = 0;
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_count(f->db, "_beta2", NULL, &n));
  /* A new collection of a dropped name starts empty, also after reopen. */
  EXPECT_OK(vs_create_collection(f->db, "_beta2", s, NULL));
  assert_int_equal(count_rows(f->db, "_beta2", NULL), 0);
  fx_reopen(f);
  const char *again[] = {"alpha", "Gamma", "_beta2"};
  expect_collections(f->db, again, 3);
  assert_int_equal(count_rows(f->db, "_beta2", NULL), 0);
  expect_range(f->db, "_beta2", 1, 20, -1);
  vs_schema_free(s);
}

static void test_rename(void **state) {
  fx *f = *state;
  fx_open(f);
  create_tdb(f->db, "old", 0);
  create_tdb(f->db, "other", 0);
  insert_tdb(f->db, "old", NULL, 1, 150, 0);
  EXPECT_OK(vs_flush(f->db, "old"));
  insert_tdb(f->db, "old", NULL, 151, 50, 0); /* some rows only in the WAL */

  EXPECT_ST(VS_ERR_EXISTS, vs_rename_collection(f->db, "old", "other"));
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_rename_collection(f->db, "nope", "fresh"));
  EXPECT_ST(VS_ERR_INVALID, vs_rename_collection(f->db, "old", "bad name"));
  EXPECT_ST(VS_ERR_INVALID, vs_rename_collection(f->db, "old", ""));
  EXPECT_OK(vs_rename_collection(f->db, "old", "renamed"));
  assert_int_equal(has_collection(f->db, "old"), 0);
  assert_int_equal(has_collection(f->db, "renamed"), 1);
  expect_range(f->db, "renamed", 1, 200, 0);
  vs_rows *rows = tdb_build_rows(500, 5, 0);
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_insert(f->db, "old", NULL, rows, NULL));
  EXPECT_OK(vs_insert(f->db, "renamed", NULL, rows, NULL));
  vs_rows_free(rows);

  fx_reopen(f);
  const char *names[] = {"renamed", "other"};
  expect_collections(f->db, names, 2);
  assert_int_equal(has_collection(f->db, "old"), 0);
  expect_range(f->db, "renamed", 1, 200, 0);
  expect_range(f->db, "renamed", 500, 5, 0);
  assert_int_equal(count_rows(f->db, "renamed", NULL), 205);
  assert_int_equal(count_rows(f->db, "other", NULL), 0);
  /* The old name is free again and unrelated to the renamed data. */
  create_tdb(f->db, "old", 0);
  assert_int_equal(count_rows(f->db, "old", NULL), 0);
  fx_reopen(f);
  assert_int_equal(count_rows(f->db, "old", NULL), 0);
  assert_int_equal(count_rows(f->db, "renamed", NULL), 205);
}

static void test_shards(void **state) {
  fx *f = *state;
  vs_collection_options five = {.shards = 5};
  vs_collection_options too_many = {.shards = 65};
  vs_schema *s = tdb_schema();

  setenv("MILVUS_COLLECTION_SHARDS", "3", 1);
  fx_open(f);
  EXPECT_OK(vs_create_collection(f->db, "env3", s, NULL));
  EXPECT_OK(vs_create_collection(f->db, "opt5", s, &five));
  EXPECT_ST(VS_ERR_INVALID, vs_create_collection(f->db, "big", s, &too_many));
  assert_int_equal(stats_of(f->db, "env3").shards, 3);
  assert_int_equal(stats_of(f->db, "opt5").shards, 5);
  insert_tdb(f->db, "opt5", NULL, 1, 400, 0);
  assert_true(stats_of(f->db, "opt5").growing_segments <= 5);
  assert_true(stats_of(f->db, "opt5").growing_segments >= 2);
  fx_close(f);

  /* vs_options.default_shards wins over the environment. */
  f->opt.default_shards = 4;
  fx_open(f);
  EXPECT_OK(vs_create_collection(f->db, "opt4", s, NULL));
  assert_int_equal(stats_of(f->db, "opt4").shards, 4);
  fx_close(f);
  f->opt.default_shards = 0;

  /* Without the environment: 2.  A bad value is ignored. */
  unsetenv("MILVUS_COLLECTION_SHARDS");
  fx_open(f);
  EXPECT_OK(vs_create_collection(f->db, "dflt", s, NULL));
  assert_int_equal(stats_of(f->db, "dflt").shards, 2);
  fx_close(f);
  setenv("MILVUS_COLLECTION_SHARDS", "abc", 1);
  fx_open(f);
  EXPECT_OK(vs_create_collection(f->db, "badenv", s, NULL));
  assert_int_equal(stats_of(f->db, "badenv").shards, 2);
  unsetenv("MILVUS_COLLECTION_SHARDS");

  /* Shards are a property of the collection: they survive reopen. */
  fx_reopen(f);
  assert_int_equal(stats_of(f->db, "env3").shards, 3);
  assert_int_equal(stats_of(f->db, "opt5").shards, 5);
  assert_int_equal(stats_of(f->db, "opt4").shards, 4);
  assert_int_equal(stats_of(f->db, "opt5").sealed_segments, 5);
  expect_range(f->db, "opt5", 1, 400, 0);
  for (int64_t id = 1; id <= 400; id += 37)
    assert_true(found_by_search(f->db, "opt5", id, 0, NULL, 0));
  vs_schema_free(s);
}

/* ------------------------------------------------------------ partitions */

static void test_partitions(void **state) {
  fx *f = *state;
  const char *p1[] = {"p1"};
  const char *p2[] = {"p2"};
  const char *p1_default[] = {"p1", VS_DEFAULT_PARTITION};
  const char *missing[] = {"nope"};
  fx_open(f);
  create_tdb(f->db, COLL, 2);
  const char *only_default[] = {VS_DEFAULT_PARTITION};
  expect_partitions(f->db, COLL, only_default, 1);
  EXPECT_OK(vs_create_partition(f->db, COLL, "p1"));
  EXPECT_OK(vs_create_partition(f->db, COLL, "p2"));
  const char *three[] = {VS_DEFAULT_PARTITION, "p1", "p2"};
  expect_partitions(f->db, COLL, three, 3);
  assert_int_equal(has_partition(f->db, COLL, "p1"), 1);
  assert_int_equal(has_partition(f->db, COLL, "p3"), 0);
  assert_int_equal(stats_of(f->db, COLL).partitions, 3);
  EXPECT_ST(VS_ERR_EXISTS, vs_create_partition(f->db, COLL, "p1"));
  EXPECT_ST(VS_ERR_EXISTS,
            vs_create_partition(f->db, COLL, VS_DEFAULT_PARTITION));
  EXPECT_ST(VS_ERR_INVALID, vs_create_partition(f->db, COLL, ""));
  EXPECT_ST(VS_ERR_INVALID, vs_create_partition(f->db, COLL, "9p"));
  EXPECT_ST(VS_ERR_INVALID, vs_create_partition(f->db, COLL, "p-1"));
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_create_partition(f->db, "nope", "p9"));
  EXPECT_ST(VS_ERR_INVALID,
            vs_drop_partition(f->db, COLL, VS_DEFAULT_PARTITION));
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_drop_partition(f->db, COLL, "p3"));
  char long_name[300];
  memset(long_name, 'q', 256);
  long_name[256] = '\0';
  EXPECT_ST(VS_ERR_INVALID, vs_create_partition(f->db, COLL, long_name));
  long_name[255] = '\0';
  EXPECT_OK(vs_create_partition(f->db, COLL, long_name));
  EXPECT_OK(vs_drop_partition(f->db, COLL, long_name));
  assert_int_equal(has_partition(f->db, COLL, long_name), 0);

  insert_tdb(f->db, COLL, "p1", 1, 50, 0);
  EXPECT_OK(vs_flush(f->db, COLL)); /* p1 sealed, the others growing */
  insert_tdb(f->db, COLL, "p2", 51, 50, 0);
  insert_tdb(f->db, COLL, NULL, 101, 30, 0);
  vs_rows *rows = tdb_build_rows(900, 3, 0);
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND,
            vs_insert(f->db, COLL, "nope", rows, NULL));
  vs_rows_free(rows);
  assert_int_equal(count_rows(f->db, COLL, NULL), 130);
  assert_int_equal(count_rows(f->db, COLL, "p1"), 50);
  assert_int_equal(count_rows(f->db, COLL, "p2"), 50);
  assert_int_equal(count_rows(f->db, COLL, VS_DEFAULT_PARTITION), 30);
  uint64_t n = 0;
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_count(f->db, COLL, "nope", &n));

  /* search restricted to partitions */
  assert_true(found_by_search(f->db, COLL, 60, 0, p2, 1));
  assert_false(found_by_search(f->db, COLL, 60, 0, p1, 1));
  assert_false(found_by_search(f->db, COLL, 60, 0, p1_default, 2));
  assert_true(found_by_search(f->db, COLL, 110, 0, p1_default, 2));
  assert_true(found_by_search(f->db, COLL, 10, 0, p1_default, 2));
  float v[TDB_DIM];
  tdb_row_vector(60, 0, v);
  vs_result *res = search_vec(f->db, COLL, v, TDB_DIM, 100, p1, 1);
  assert_int_equal(vs_result_hits(res, 0), 50);
  for (size_t i = 0; i < 50; i++) {
    int64_t id = vs_result_id(res, 0, i);
    assert_true(id >= 1 && id <= 50);
  }
  vs_result_free(res);
  vs_search_request req = {.vectors = v, .nq = 1, .dim = TDB_DIM, .k = 3,
                           .partitions = missing, .partition_count = 1};
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_search(f->db, COLL, &req, &res));

  /* delete restricted to a partition */
  assert_int_equal(delete_ids(f->db, COLL, VS_DEFAULT_PARTITION, 1, 10), 0);
  assert_int_equal(delete_ids(f->db, COLL, "p2", 1, 10), 0);
  assert_int_equal(delete_ids(f->db, COLL, "p1", 1, 5), 5);
  assert_int_equal(delete_ids(f->db, COLL, NULL, 101, 5), 5);
  vs_keys none = {.count = 1, .int_keys = (const int64_t[]){1}};
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND,
            vs_delete(f->db, COLL, "nope", &none, NULL));
  expect_range(f->db, COLL, 1, 5, -1);
  expect_range(f->db, COLL, 6, 45, 0);
  assert_int_equal(count_rows(f->db, COLL, "p1"), 45);
  assert_int_equal(count_rows(f->db, COLL, VS_DEFAULT_PARTITION), 25);

  /* drop p2: its rows go from count, get and search */
  EXPECT_OK(vs_drop_partition(f->db, COLL, "p2"));
  const char *after_drop[] = {VS_DEFAULT_PARTITION, "p1"};
  expect_partitions(f->db, COLL, after_drop, 2);
  assert_int_equal(stats_of(f->db, COLL).partitions, 2);
  assert_int_equal(stats_of(f->db, COLL).rows, 70);
  assert_int_equal(count_rows(f->db, COLL, NULL), 70);
  expect_range(f->db, COLL, 51, 50, -1);
  assert_false(found_by_search(f->db, COLL, 60, 0, NULL, 0));
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_count(f->db, COLL, "p2", &n));
  req.partitions = p2;
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_search(f->db, COLL, &req, &res));
  fx_reopen(f);
  expect_partitions(f->db, COLL, after_drop, 2);
  assert_int_equal(count_rows(f->db, COLL, NULL), 70);
  expect_range(f->db, COLL, 51, 50, -1);
  expect_range(f->db, COLL, 6, 45, 0);
  expect_range(f->db, COLL, 106, 25, 0);
  assert_false(found_by_search(f->db, COLL, 60, 0, NULL, 0));

  /* a re-created p2 starts empty; the dropped keys are free again */
  EXPECT_OK(vs_create_partition(f->db, COLL, "p2"));
  assert_int_equal(count_rows(f->db, COLL, "p2"), 0);
  insert_tdb(f->db, COLL, "p2", 60, 1, 3);
  assert_int_equal(count_rows(f->db, COLL, "p2"), 1);
  fx_reopen(f);
  assert_int_equal(count_rows(f->db, COLL, "p2"), 1);
  assert_int_equal(count_rows(f->db, COLL, NULL), 71);
  expect_range(f->db, COLL, 60, 1, 3);
  expect_range(f->db, COLL, 51, 9, -1);
  assert_true(found_by_search(f->db, COLL, 60, 3, p2, 1));
}

/* ------------------------------------------------------ every field type */

#define NT 6
#define TYPES "types"

static const int64_t t_i8[NT] = {-128, 127, 0, -1, 5, 100};
static const int64_t t_i16[NT] = {-32768, 32767, 0, -1, 300, 7};
static const int64_t t_i32[NT] = {INT32_MIN, INT32_MAX, 0, -1, 70000, 9};
static const int64_t t_i64[NT] = {INT64_MIN, INT64_MAX, 0, -1,
                                  (INT64_C(1) << 53) + 1, 42};
static const uint8_t t_bool[NT] = {1, 0, 1, 1, 0, 0};
static const float t_f[NT] = {1.5e-30f, -3.25f, FLT_MAX, 0.1f, -0.0f, 1e-45f};
static const double t_d[NT] = {0.1, -1e308, 5e-324, 1.0 / 3, -0.0,
                               123456789.123456789};
static const char *const t_s[NT] = {
    "", "h\xc3\xa9llo \xe2\x9c\x93", "a",
    "0123456789012345678901234567890123456789012345678901234567890123",
    "tab\tnew\nline", "quote\"back\\"};
static const char *const t_j[NT] = {
    "{\"a\":[1,2,{\"b\":null}],\"s\":\"x\\\"y\",\"n\":1.25}",
    "[]", "\"str\"", "123", "{\"nested\":{\"deep\":[true,false]}}", "{}"};
static const char *const t_ai[NT] = {
    "[]", "[1,2,3]", "[-9223372036854775808,9223372036854775807]", "[0]",
    "[5,5,5,5,5,5,5,5]", "[7]"};
static const char *const t_as[NT] = {"[\"a\",\"b\"]", "[]",
                                     "[\"\xc3\xbc\"]",
                                     "[\"x\",\"y\",\"z\",\"w\"]", "[\"\"]",
                                     "[\"q\"]"};
static const int64_t t_nn[NT] = {1, 0, 3, 0, 5, 0};
static const uint8_t t_nn_valid[NT] = {1, 0, 1, 0, 1, 0};
static const char *const t_ns[NT] = {"x", NULL, "y", NULL, NULL, "z"};
static const char *const t_nj[NT] = {NULL, "{\"k\":1}", NULL, "[1]", NULL,
                                     NULL};
static const char *const t_defs[NT] = {"given", NULL, NULL, "g2", NULL, "g3"};
static const double t_nd[NT] = {2.5, 0, 0, -4.0, 0, 8.0};
static const uint8_t t_nd_valid[NT] = {1, 0, 0, 1, 0, 1};
static const char *const t_color[NT] = {"red", NULL, "blue", "green", NULL,
                                        "red"};
static const int64_t t_extra[NT] = {10, 20, 30, 40, 50, 60};

static void types_vector(int64_t id, float *v) {
  tu_random_floats((uint64_t)id * 7919u, v, 3);
}

/* The schema of TYPES: every field type, nullables, defaults, dynamic. */
static vs_schema *types_schema(void) {
  vs_schema *s = NULL;
  vs_field_def f[] = {
      {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1},
      {.name = "vec", .type = VS_TYPE_FLOAT_VECTOR, .dim = 3,
       .metric = VS_METRIC_L2},
      {.name = "b", .type = VS_TYPE_BOOL},
      {.name = "i8", .type = VS_TYPE_INT8},
      {.name = "i16", .type = VS_TYPE_INT16},
      {.name = "i32", .type = VS_TYPE_INT32},
      {.name = "i64", .type = VS_TYPE_INT64},
      {.name = "f", .type = VS_TYPE_FLOAT},
      {.name = "d", .type = VS_TYPE_DOUBLE},
      {.name = "s", .type = VS_TYPE_VARCHAR, .max_length = 64},
      {.name = "j", .type = VS_TYPE_JSON},
      {.name = "ai", .type = VS_TYPE_ARRAY, .element_type = VS_TYPE_INT64,
       .max_capacity = 8},
      {.name = "as", .type = VS_TYPE_ARRAY, .element_type = VS_TYPE_VARCHAR,
       .max_length = 16, .max_capacity = 4},
      {.name = "nn", .type = VS_TYPE_INT32, .nullable = 1},
      {.name = "ns", .type = VS_TYPE_VARCHAR, .max_length = 16,
       .nullable = 1},
      {.name = "nj", .type = VS_TYPE_JSON, .nullable = 1},
      {.name = "def", .type = VS_TYPE_INT64, .default_json = "42"},
      {.name = "defs", .type = VS_TYPE_VARCHAR, .max_length = 16,
       .default_json = "\"dflt\""},
      {.name = "nd", .type = VS_TYPE_DOUBLE, .nullable = 1,
       .default_json = "1.5"},
  };
  if (vs_schema_new(&s) != VS_OK) return NULL;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    if (vs_schema_add_field(s, &f[i]) != VS_OK) {
      vs_schema_free(s);
      return NULL;
    }
  }
  if (vs_schema_enable_dynamic(s, 1) != VS_OK) {
    vs_schema_free(s);
    return NULL;
  }
  return s;
}

/* Rows id_base+0 .. id_base+NT-1; NULL on failure (no cmocka: the crash
 * child uses it too).  Column "def" is left out: it takes its default. */
static vs_rows *types_rows(int64_t id_base) {
  vs_rows *r = NULL;
  int64_t ids[NT];
  float vecs[NT * 3];
  for (int i = 0; i < NT; i++) {
    ids[i] = id_base + i;
    types_vector(ids[i], vecs + i * 3);
  }
  if (vs_rows_new(NT, &r) != VS_OK) return NULL;
  bool ok = vs_rows_set_int64(r, "id", ids, NULL) == VS_OK &&
            vs_rows_set_float_vectors(r, "vec", vecs, 3) == VS_OK &&
            vs_rows_set_bool(r, "b", t_bool, NULL) == VS_OK &&
            vs_rows_set_int64(r, "i8", t_i8, NULL) == VS_OK &&
            vs_rows_set_int64(r, "i16", t_i16, NULL) == VS_OK &&
            vs_rows_set_int64(r, "i32", t_i32, NULL) == VS_OK &&
            vs_rows_set_int64(r, "i64", t_i64, NULL) == VS_OK &&
            vs_rows_set_float(r, "f", t_f, NULL) == VS_OK &&
            vs_rows_set_double(r, "d", t_d, NULL) == VS_OK &&
            vs_rows_set_strings(r, "s", t_s) == VS_OK &&
            vs_rows_set_json(r, "j", t_j) == VS_OK &&
            vs_rows_set_json(r, "ai", t_ai) == VS_OK &&
            vs_rows_set_json(r, "as", t_as) == VS_OK &&
            vs_rows_set_int64(r, "nn", t_nn, t_nn_valid) == VS_OK &&
            vs_rows_set_strings(r, "ns", t_ns) == VS_OK &&
            vs_rows_set_json(r, "nj", t_nj) == VS_OK &&
            vs_rows_set_strings(r, "defs", t_defs) == VS_OK &&
            vs_rows_set_double(r, "nd", t_nd, t_nd_valid) == VS_OK &&
            vs_rows_set_strings(r, "color", t_color) == VS_OK &&
            vs_rows_set_int64(r, "extra_n", t_extra, NULL) == VS_OK;
  if (!ok) {
    vs_rows_free(r);
    return NULL;
  }
  return r;
}

static void expect_int(const vs_rows *rows, const char *field, size_t row,
                       int64_t want) {
  int64_t got = 0;
  EXPECT_OK(vs_rows_get_int64(rows, field, row, &got));
  if (got != want)
    fail_msg("field %s row %zu: %" PRId64 ", expected %" PRId64, field, row,
             got, want);
}

static void expect_text(const vs_rows *rows, const char *field, size_t row,
                        const char *want) {
  const char *got = NULL;
  size_t len = 0;
  EXPECT_OK(vs_rows_get_string(rows, field, row, &got, &len));
  if (len != strlen(want) || memcmp(got, want, len) != 0)
    fail_msg("field %s row %zu: '%.*s', expected '%s'", field, row, (int)len,
             got, want);
}

/* The JSON text of a cell is equal (as JSON) to `want`. */
static void expect_json(const vs_rows *rows, const char *field, size_t row,
                        const char *want) {
  const char *got = NULL;
  size_t len = 0;
  json_error_t err;
  EXPECT_OK(vs_rows_get_string(rows, field, row, &got, &len));
  json_t *a = json_loadb(got, len, JSON_DECODE_ANY, &err);
  json_t *b = json_loads(want, JSON_DECODE_ANY, &err);
  assert_non_null(b);
  if (a == NULL || !json_equal(a, b))
    fail_msg("field %s row %zu: %.*s, expected %s", field, row, (int)len, got,
             want);
  json_decref(a);
  json_decref(b);
}

static void expect_meta(const vs_rows *rows, size_t row, int i) {
  const char *text = NULL;
  size_t len = 0;
  json_error_t err;
  EXPECT_OK(vs_rows_get_string(rows, "$meta", row, &text, &len));
  json_t *meta = json_loadb(text, len, 0, &err);
  assert_non_null(meta);
  json_t *color = json_object_get(meta, "color");
  if (t_color[i] == NULL) {
    assert_null(color);
  } else {
    assert_non_null(color);
    assert_string_equal(json_string_value(color), t_color[i]);
  }
  assert_int_equal(json_integer_value(json_object_get(meta, "extra_n")),
                   t_extra[i]);
  assert_int_equal(json_object_size(meta), t_color[i] ? 2 : 1);
  json_decref(meta);
}

static void expect_types_row(const vs_rows *rows, size_t row, int64_t id_base,
                             int i) {
  float want_v[3];
  const float *v = NULL;
  uint32_t dim = 0;
  int b = -1;
  double d = 0;
  expect_int(rows, "id", row, id_base + i);
  types_vector(id_base + i, want_v);
  EXPECT_OK(vs_rows_get_float_vector(rows, "vec", row, &v, &dim));
  assert_int_equal(dim, 3);
  assert_memory_equal(v, want_v, sizeof want_v);
  EXPECT_OK(vs_rows_get_bool(rows, "b", row, &b));
  assert_int_equal(b, t_bool[i]);
  expect_int(rows, "i8", row, t_i8[i]);
  expect_int(rows, "i16", row, t_i16[i]);
  expect_int(rows, "i32", row, t_i32[i]);
  expect_int(rows, "i64", row, t_i64[i]);
  EXPECT_OK(vs_rows_get_double(rows, "f", row, &d));
  float fv = (float)d;
  assert_memory_equal(&fv, &t_f[i], sizeof fv);
  EXPECT_OK(vs_rows_get_double(rows, "d", row, &d));
  assert_memory_equal(&d, &t_d[i], sizeof d);
  expect_text(rows, "s", row, t_s[i]);
  expect_json(rows, "j", row, t_j[i]);
  expect_json(rows, "ai", row, t_ai[i]);
  expect_json(rows, "as", row, t_as[i]);
  if (t_nn_valid[i]) {
    expect_int(rows, "nn", row, t_nn[i]);
  } else {
    assert_true(vs_rows_is_null(rows, "nn", row));
  }
  if (t_ns[i]) {
    expect_text(rows, "ns", row, t_ns[i]);
  } else {
    assert_true(vs_rows_is_null(rows, "ns", row));
  }
  if (t_nj[i]) {
    expect_json(rows, "nj", row, t_nj[i]);
  } else {
    assert_true(vs_rows_is_null(rows, "nj", row));
  }
  expect_int(rows, "def", row, 42);
  expect_text(rows, "defs", row, t_defs[i] ? t_defs[i] : "dflt");
  EXPECT_OK(vs_rows_get_double(rows, "nd", row, &d));
  assert_true(d == (t_nd_valid[i] ? t_nd[i] : 1.5));
  expect_meta(rows, row, i);
}

/* vs_get("*") of the NT rows from id_base, asked in reverse order plus a
 * missing key: rows come back in key order, missing skipped. */
static void check_types(vs_db *db, int64_t id_base) {
  int64_t keys[NT + 1];
  const char *const all[] = {"*"};
  vs_rows *rows = NULL;
  for (int i = 0; i < NT; i++) keys[i] = id_base + NT - 1 - i;
  keys[NT] = id_base + 1000;
  vs_keys k = {.count = NT + 1, .int_keys = keys};
  EXPECT_OK(vs_get(db, TYPES, &k, all, 1, &rows));
  assert_int_equal(vs_rows_count(rows), NT);
  assert_int_equal(vs_rows_column_count(rows), 20);
  assert_string_equal(vs_rows_column_name(rows, 0), "id");
  assert_string_equal(vs_rows_column_name(rows, 19), "$meta");
  for (size_t r = 0; r < NT; r++) {
    int64_t id = 0;
    EXPECT_OK(vs_rows_get_int64(rows, "id", r, &id));
    assert_true(id >= id_base && id < id_base + NT);
    expect_types_row(rows, r, id_base, (int)(id - id_base));
  }
  vs_rows_free(rows);
}

static void create_types(vs_db *db) {
  vs_schema *s = types_schema();
  assert_non_null(s);
  EXPECT_OK(vs_create_collection(db, TYPES, s, NULL));
  vs_schema_free(s);
}

static void test_field_types(void **state) {
  fx *f = *state;
  fx_open(f);
  create_types(f->db);
  vs_rows *rows = types_rows(1);
  assert_non_null(rows);
  EXPECT_OK(vs_insert(f->db, TYPES, NULL, rows, NULL));
  vs_rows_free(rows);
  check_types(f->db, 1); /* growing */
  EXPECT_OK(vs_flush(f->db, TYPES));
  check_types(f->db, 1); /* sealed */
  rows = types_rows(101);
  EXPECT_OK(vs_insert(f->db, TYPES, NULL, rows, NULL));
  vs_rows_free(rows);
  fx_reopen(f);
  check_types(f->db, 1);
  check_types(f->db, 101);

  /* Chosen output fields: the key first, then the fields asked. */
  const char *const some[] = {"s", "i8", "$meta"};
  int64_t key = 3;
  vs_keys k = {.count = 1, .int_keys = &key};
  EXPECT_OK(vs_get(f->db, TYPES, &k, some, 3, &rows));
  assert_int_equal(vs_rows_column_count(rows), 4);
  assert_string_equal(vs_rows_column_name(rows, 0), "id");
  assert_string_equal(vs_rows_column_name(rows, 1), "s");
  assert_string_equal(vs_rows_column_name(rows, 2), "i8");
  assert_string_equal(vs_rows_column_name(rows, 3), "$meta");
  expect_int(rows, "i8", 0, t_i8[2]);
  expect_meta(rows, 0, 2);
  char *json = NULL;
  EXPECT_OK(vs_rows_row_to_json(rows, 0, &json));
  json_error_t jerr;
  json_t *obj = json_loads(json, 0, &jerr);
  assert_non_null(obj);
  assert_string_equal(json_string_value(json_object_get(obj, "color")),
                      "blue");
  json_decref(obj);
  vs_free(json);
  vs_rows_free(rows);
  EXPECT_OK(vs_get(f->db, TYPES, &k, NULL, 0, &rows));
  assert_int_equal(vs_rows_column_count(rows), 1);
  vs_rows_free(rows);
  const char *const unknown[] = {"s", "nope"};
  rows = (vs_rows *)(uintptr_t)1;
  EXPECT_ST(VS_ERR_FIELD_NOT_FOUND, vs_get(f->db, TYPES, &k, unknown, 2,
                                           &rows));
  assert_null(rows);
}

/* ---------------------------------------------------------------- autoID */

static vs_schema *auto_schema(void) {
  vs_schema *s = NULL;
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1,
                     .auto_id = 1};
  vs_field_def vec = {.name = "vector", .type = VS_TYPE_FLOAT_VECTOR,
                      .dim = 4, .metric = VS_METRIC_L2};
  if (vs_schema_new(&s) != VS_OK) return NULL;
  if (vs_schema_add_field(s, &id) != VS_OK ||
      vs_schema_add_field(s, &vec) != VS_OK) {
    vs_schema_free(s);
    return NULL;
  }
  return s;
}

static vs_rows *auto_rows(size_t n, uint64_t seed) {
  vs_rows *r = NULL;
  float *v = malloc(n * 4 * sizeof *v);
  if (v == NULL || vs_rows_new(n, &r) != VS_OK) {
    free(v);
    return NULL;
  }
  tu_random_floats(seed, v, n * 4);
  if (vs_rows_set_float_vectors(r, "vector", v, 4) != VS_OK) {
    vs_rows_free(r);
    r = NULL;
  }
  free(v);
  return r;
}

/* Inserts n autoID rows; returns the first id. */
static int64_t auto_insert(vs_db *db, const char *coll, size_t n) {
  vs_rows *rows = auto_rows(n, (uint64_t)n * 31u);
  vs_write_info info = {0};
  assert_non_null(rows);
  EXPECT_OK(vs_insert(db, coll, NULL, rows, &info));
  assert_int_equal(info.rows, n);
  vs_rows_free(rows);
  return info.first_auto_id;
}

/* Every id in [first, first+n) is present, and the count matches. */
static void expect_ids(vs_db *db, const char *coll, const int64_t *ids,
                       size_t n) {
  vs_rows *rows = NULL;
  vs_keys k = {.count = n, .int_keys = ids};
  EXPECT_OK(vs_get(db, coll, &k, NULL, 0, &rows));
  if (vs_rows_count(rows) != n)
    fail_msg("vs_get found %zu of %zu ids", vs_rows_count(rows), n);
  vs_rows_free(rows);
  assert_int_equal(count_rows(db, coll, NULL), n);
}

static void test_autoid(void **state) {
  fx *f = *state;
  int64_t ids[64];
  size_t n = 0;
  vs_schema *s = auto_schema();
  fx_open(f);
  EXPECT_OK(vs_create_collection(f->db, "auto", s, NULL));
  vs_schema_free(s);
  int64_t a = auto_insert(f->db, "auto", 10);
  int64_t b = auto_insert(f->db, "auto", 25);
  assert_int_equal(b, a + 10); /* contiguous, one range per batch */
  for (int64_t i = 0; i < 35; i++) ids[n++] = a + i;
  expect_ids(f->db, "auto", ids, n);
  fx_reopen(f);
  int64_t c = auto_insert(f->db, "auto", 5);
  assert_true(c >= a + 35);
  for (int64_t i = 0; i < 5; i++) ids[n++] = c + i;
  EXPECT_OK(vs_flush(f->db, "auto"));
  int64_t d = auto_insert(f->db, "auto", 3);
  assert_true(d >= c + 5);
  for (int64_t i = 0; i < 3; i++) ids[n++] = d + i;
  expect_ids(f->db, "auto", ids, n);
  fx_reopen(f);
  expect_ids(f->db, "auto", ids, n);

  /* Giving the key of an autoID collection on insert is an error. */
  vs_rows *rows = auto_rows(2, 5);
  int64_t explicit_ids[2] = {1000, 1001};
  EXPECT_OK(vs_rows_set_int64(rows, "id", explicit_ids, NULL));
  EXPECT_ST(VS_ERR_DATA, vs_insert(f->db, "auto", NULL, rows, NULL));
  vs_rows_free(rows);
  assert_int_equal(count_rows(f->db, "auto", NULL), n);
}

/* An upsert may name any key; later autoID inserts must not collide with
 * it.  (Upserting the key the next insert would get, then inserting.) */
static void test_autoid_after_upsert(void **state) {
  fx *f = *state;
  vs_schema *s = auto_schema();
  fx_open(f);
  EXPECT_OK(vs_create_collection(f->db, "auto", s, NULL));
  vs_schema_free(s);
  int64_t a = auto_insert(f->db, "auto", 5);
  vs_rows *rows = auto_rows(2, 77);
  int64_t keys[2] = {a + 5, a + 6};
  EXPECT_OK(vs_rows_set_int64(rows, "id", keys, NULL));
  EXPECT_OK(vs_upsert(f->db, "auto", NULL, rows, NULL));
  vs_rows_free(rows);
  assert_int_equal(count_rows(f->db, "auto", NULL), 7);
  rows = auto_rows(3, 78);
  vs_write_info info = {0};
  vs_status st = vs_insert(f->db, "auto", NULL, rows, &info);
  vs_rows_free(rows);
  if (st != VS_OK)
    fail_msg("autoID insert after an upsert of key %" PRId64 " failed: %s: %s",
             a + 5, vs_status_name(st), vs_errmsg(NULL));
  assert_true(info.first_auto_id > a + 6 || info.first_auto_id + 3 <= a);
  assert_int_equal(count_rows(f->db, "auto", NULL), 10);
}

/* ------------------------------------------------------ VarChar primary key */

static vs_schema *str_schema(void) {
  vs_schema *s = NULL;
  vs_field_def id = {.name = "name", .type = VS_TYPE_VARCHAR,
                     .is_primary = 1, .max_length = 32};
  vs_field_def vec = {.name = "v", .type = VS_TYPE_FLOAT_VECTOR, .dim = 4,
                      .metric = VS_METRIC_IP};
  vs_field_def n = {.name = "n", .type = VS_TYPE_INT64};
  if (vs_schema_new(&s) != VS_OK) return NULL;
  if (vs_schema_add_field(s, &id) != VS_OK ||
      vs_schema_add_field(s, &vec) != VS_OK ||
      vs_schema_add_field(s, &n) != VS_OK) {
    vs_schema_free(s);
    return NULL;
  }
  return s;
}

#define NSTR 40

static void str_key(int i, char *buf, size_t len) {
  if (i == 0)
    snprintf(buf, len, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"); /* "ключ" */
  else
    snprintf(buf, len, "key-%d", i);
}

/* Unit vectors: the inner product of a row with itself is the largest. */
static void str_vector(int i, int ver, float *v) {
  double norm = 0;
  tu_random_floats((uint64_t)i * 131u + (uint64_t)ver * 7u + 1u, v, 4);
  for (int j = 0; j < 4; j++) norm += (double)v[j] * v[j];
  for (int j = 0; j < 4; j++) v[j] = (float)(v[j] / sqrt(norm));
}

/* Rows first..first+count-1 of "strs" at `ver`; NULL on failure (no
 * cmocka: the crash child uses it). */
static vs_rows *str_rows(int first, int count, int ver) {
  char bufs[NSTR][32];
  const char *keys[NSTR];
  float v[NSTR * 4];
  int64_t n[NSTR];
  vs_rows *rows = NULL;
  if (count < 1 || count > NSTR) return NULL;
  for (int i = 0; i < count; i++) {
    str_key(first + i, bufs[i], sizeof bufs[i]);
    keys[i] = bufs[i];
    str_vector(first + i, ver, v + i * 4);
    n[i] = (first + i) * 10 + ver;
  }
  if (vs_rows_new((size_t)count, &rows) != VS_OK) return NULL;
  if (vs_rows_set_strings(rows, "name", keys) != VS_OK ||
      vs_rows_set_float_vectors(rows, "v", v, 4) != VS_OK ||
      vs_rows_set_int64(rows, "n", n, NULL) != VS_OK) {
    vs_rows_free(rows);
    return NULL;
  }
  return rows;
}

static void str_write(vs_db *db, int first, int count, int ver, bool upsert) {
  vs_rows *rows = str_rows(first, count, ver);
  assert_non_null(rows);
  if (upsert)
    EXPECT_OK(vs_upsert(db, "strs", NULL, rows, NULL));
  else
    EXPECT_OK(vs_insert(db, "strs", NULL, rows, NULL));
  vs_rows_free(rows);
}

/* Row i holds version ver (-1 absent), looked up by key. */
static void str_expect(vs_db *db, int i, int ver) {
  char key[32];
  const char *keys[1] = {key};
  const char *const all[] = {"*"};
  vs_rows *rows = NULL;
  str_key(i, key, sizeof key);
  vs_keys k = {.count = 1, .str_keys = keys};
  EXPECT_OK(vs_get(db, "strs", &k, all, 1, &rows));
  if (ver < 0) {
    assert_int_equal(vs_rows_count(rows), 0);
    vs_rows_free(rows);
    return;
  }
  assert_int_equal(vs_rows_count(rows), 1);
  expect_text(rows, "name", 0, key);
  expect_int(rows, "n", 0, i * 10 + ver);
  float want[4];
  const float *got = NULL;
  str_vector(i, ver, want);
  EXPECT_OK(vs_rows_get_float_vector(rows, "v", 0, &got, NULL));
  assert_memory_equal(got, want, sizeof want);
  vs_rows_free(rows);
}

/* A search for row i's vector finds it first; output fields carry the
 * key and n of every hit. */
static void str_expect_top(vs_db *db, int i, int ver) {
  char key[32];
  float v[4];
  const char *const out[] = {"n"};
  str_key(i, key, sizeof key);
  str_vector(i, ver, v);
  vs_search_request req = {.vectors = v, .nq = 1, .dim = 4, .k = 3,
                           .output_fields = out, .output_count = 1};
  vs_result *res = NULL;
  EXPECT_OK(vs_search(db, "strs", &req, &res));
  assert_true(vs_result_hits(res, 0) >= 1);
  assert_non_null(vs_result_id_str(res, 0, 0));
  assert_string_equal(vs_result_id_str(res, 0, 0), key);
  assert_int_equal(vs_result_id(res, 0, 0), 0);
  const vs_rows *rows = vs_result_rows(res);
  expect_text(rows, "name", vs_result_row_index(res, 0, 0), key);
  expect_int(rows, "n", vs_result_row_index(res, 0, 0), i * 10 + ver);
  for (size_t h = 1; h < vs_result_hits(res, 0); h++) {
    const char *other = vs_result_id_str(res, 0, h);
    assert_non_null(other);
    assert_string_not_equal(other, key);
    expect_text(rows, "name", vs_result_row_index(res, 0, h), other);
  }
  vs_result_free(res);
}

static void test_varchar_pk(void **state) {
  fx *f = *state;
  vs_schema *s = str_schema();
  fx_open(f);
  EXPECT_OK(vs_create_collection(f->db, "strs", s, NULL));
  vs_schema_free(s);
  str_write(f->db, 0, 20, 0, false);
  EXPECT_OK(vs_flush(f->db, "strs"));
  str_write(f->db, 20, 20, 0, false);
  for (int i = 0; i < NSTR; i++) str_expect(f->db, i, 0);
  str_expect_top(f->db, 0, 0);
  str_expect_top(f->db, 33, 0);

  /* get: key order, missing skipped */
  const char *asked[] = {"key-7", "nope", "key-3", ""};
  vs_keys k = {.count = 4, .str_keys = asked};
  vs_rows *rows = NULL;
  EXPECT_OK(vs_get(f->db, "strs", &k, NULL, 0, &rows));
  assert_int_equal(vs_rows_count(rows), 2);
  expect_text(rows, "name", 0, "key-7");
  expect_text(rows, "name", 1, "key-3");
  vs_rows_free(rows);
  int64_t ints[1] = {3};
  vs_keys wrong = {.count = 1, .int_keys = ints};
  EXPECT_ST(VS_ERR_INVALID, vs_get(f->db, "strs", &wrong, NULL, 0, &rows));

  /* insert of an existing key fails and writes nothing */
  char kb[2][32];
  const char *dup_keys[2] = {"fresh-key", kb[1]};
  str_key(8, kb[1], sizeof kb[1]);
  float dv[8] = {0};
  EXPECT_OK(vs_rows_new(2, &rows));
  EXPECT_OK(vs_rows_set_strings(rows, "name", dup_keys));
  EXPECT_OK(vs_rows_set_float_vectors(rows, "v", dv, 4));
  EXPECT_OK(vs_rows_set_int64(rows, "n", (const int64_t[]){1, 2}, NULL));
  EXPECT_ST(VS_ERR_DATA, vs_insert(f->db, "strs", NULL, rows, NULL));
  vs_rows_free(rows);
  assert_int_equal(count_rows(f->db, "strs", NULL), NSTR);

  /* delete: missing keys ignored */
  const char *del[] = {"key-3", "nope", "key-25"};
  vs_keys dk = {.count = 3, .str_keys = del};
  uint64_t deleted = 0;
  EXPECT_OK(vs_delete(f->db, "strs", NULL, &dk, &deleted));
  assert_int_equal(deleted, 2);
  str_expect(f->db, 3, -1);
  str_expect(f->db, 25, -1);

  /* upsert: one sealed row, one growing row, one new key */
  str_write(f->db, 5, 1, 1, true);
  str_write(f->db, 30, 1, 1, true);
  str_write(f->db, 25, 1, 1, true);
  assert_int_equal(count_rows(f->db, "strs", NULL), NSTR - 1);
  str_expect(f->db, 5, 1);
  str_expect(f->db, 30, 1);
  str_expect(f->db, 25, 1);
  str_expect_top(f->db, 5, 1);
  str_expect_top(f->db, 30, 1);
  fx_reopen(f);
  assert_int_equal(count_rows(f->db, "strs", NULL), NSTR - 1);
  for (int i = 0; i < NSTR; i++) {
    int ver = (i == 5 || i == 30 || i == 25) ? 1 : 0;
    str_expect(f->db, i, i == 3 ? -1 : ver);
  }
  str_expect_top(f->db, 30, 1);
  str_expect_top(f->db, 0, 0);
}

/* ------------------------------------------------- upsert, delete, insert */

static void test_upsert(void **state) {
  fx *f = *state;
  fx_open(f);
  create_tdb(f->db, COLL, 2);
  insert_tdb(f->db, COLL, NULL, 1, 300, 0);
  EXPECT_OK(vs_flush(f->db, COLL));
  insert_tdb(f->db, COLL, NULL, 301, 100, 0);
  /* 250..350: half in sealed segments, half in growing ones */
  write_tdb(f->db, COLL, NULL, 250, 101, 1, true);
  assert_int_equal(count_rows(f->db, COLL, NULL), 400);
  expect_range(f->db, COLL, 1, 249, 0);
  expect_range(f->db, COLL, 250, 101, 1);
  expect_range(f->db, COLL, 351, 50, 0);
  vs_collection_stats st = stats_of(f->db, COLL);
  assert_int_equal(st.rows, 400);
  assert_int_equal(st.deleted_rows, 101);
  for (int64_t id = 250; id <= 350; id += 20) {
    assert_true(found_by_search(f->db, COLL, id, 1, NULL, 0));
    assert_false(found_by_search(f->db, COLL, id, 0, NULL, 0));
  }
  /* upsert of new keys inserts them; twice in a row is fine */
  write_tdb(f->db, COLL, NULL, 395, 10, 2, true);
  write_tdb(f->db, COLL, NULL, 395, 10, 3, true);
  assert_int_equal(count_rows(f->db, COLL, NULL), 404);
  expect_range(f->db, COLL, 395, 10, 3);
  /* a key twice in one batch is an error, and nothing is written */
  vs_rows *rows = tdb_build_rows(1, 3, 9);
  int64_t dup[3] = {1, 2, 1};
  EXPECT_OK(vs_rows_set_int64(rows, "id", dup, NULL));
  EXPECT_ST(VS_ERR_DATA, vs_upsert(f->db, COLL, NULL, rows, NULL));
  vs_rows_free(rows);
  expect_range(f->db, COLL, 1, 2, 0);

  /* upsert into another partition moves the row */
  EXPECT_OK(vs_create_partition(f->db, COLL, "other"));
  write_tdb(f->db, COLL, "other", 10, 5, 4, true);
  assert_int_equal(count_rows(f->db, COLL, "other"), 5);
  assert_int_equal(count_rows(f->db, COLL, VS_DEFAULT_PARTITION), 399);
  assert_int_equal(count_rows(f->db, COLL, NULL), 404);

  fx_reopen(f);
  assert_int_equal(count_rows(f->db, COLL, NULL), 404);
  assert_int_equal(count_rows(f->db, COLL, "other"), 5);
  expect_range(f->db, COLL, 1, 9, 0);
  expect_range(f->db, COLL, 10, 5, 4);
  expect_range(f->db, COLL, 15, 235, 0);
  expect_range(f->db, COLL, 250, 101, 1);
  expect_range(f->db, COLL, 351, 44, 0);
  expect_range(f->db, COLL, 395, 10, 3);
  assert_true(found_by_search(f->db, COLL, 300, 1, NULL, 0));
  assert_false(found_by_search(f->db, COLL, 300, 0, NULL, 0));
  const char *other[] = {"other"};
  assert_true(found_by_search(f->db, COLL, 12, 4, other, 1));
}

static void test_delete(void **state) {
  fx *f = *state;
  fx_open(f);
  create_tdb(f->db, COLL, 2);
  insert_tdb(f->db, COLL, NULL, 1, 100, 0);
  EXPECT_OK(vs_flush(f->db, COLL));
  insert_tdb(f->db, COLL, NULL, 101, 100, 0);

  int64_t keys[] = {5, 6, 7, 1000, 5, 150, -3};
  vs_keys k = {.count = 7, .int_keys = keys};
  uint64_t deleted = UINT64_MAX;
  EXPECT_OK(vs_delete(f->db, COLL, NULL, &k, &deleted));
  assert_int_equal(deleted, 4);
  deleted = UINT64_MAX;
  EXPECT_OK(vs_delete(f->db, COLL, NULL, &k, &deleted));
  assert_int_equal(deleted, 0);
  vs_keys none = {.count = 0, .int_keys = NULL};
  deleted = UINT64_MAX;
  EXPECT_OK(vs_delete(f->db, COLL, NULL, &none, &deleted));
  assert_int_equal(deleted, 0);
  EXPECT_OK(vs_delete(f->db, COLL, NULL, &k, NULL));
  assert_int_equal(count_rows(f->db, COLL, NULL), 196);
  expect_range(f->db, COLL, 5, 3, -1);
  expect_range(f->db, COLL, 150, 1, -1);
  expect_range(f->db, COLL, 8, 142, 0);
  assert_false(found_by_search(f->db, COLL, 6, 0, NULL, 0));
  assert_false(found_by_search(f->db, COLL, 150, 0, NULL, 0));
  assert_int_equal(stats_of(f->db, COLL).deleted_rows, 4);

  /* bad arguments */
  EXPECT_ST(VS_ERR_INVALID, vs_delete(f->db, COLL, NULL, NULL, &deleted));
  const char *strs[] = {"5"};
  vs_keys wrong = {.count = 1, .str_keys = strs};
  EXPECT_ST(VS_ERR_INVALID, vs_delete(f->db, COLL, NULL, &wrong, &deleted));
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_delete(f->db, "nope", NULL, &k, &deleted));

  /* a deleted key can be inserted again */
  insert_tdb(f->db, COLL, NULL, 5, 1, 2);
  insert_tdb(f->db, COLL, NULL, 150, 1, 2);
  assert_true(found_by_search(f->db, COLL, 150, 2, NULL, 0));
  fx_reopen(f);
  assert_int_equal(count_rows(f->db, COLL, NULL), 198);
  expect_range(f->db, COLL, 5, 1, 2);
  expect_range(f->db, COLL, 6, 2, -1);
  expect_range(f->db, COLL, 150, 1, 2);
  expect_range(f->db, COLL, 151, 50, 0);
  /* delete everything */
  assert_int_equal(delete_ids(f->db, COLL, NULL, 1, 300), 198);
  assert_int_equal(count_rows(f->db, COLL, NULL), 0);
  float v[TDB_DIM] = {0};
  vs_result *res = search_vec(f->db, COLL, v, TDB_DIM, 10, NULL, 0);
  assert_int_equal(vs_result_hits(res, 0), 0);
  vs_result_free(res);
  fx_reopen(f);
  assert_int_equal(count_rows(f->db, COLL, NULL), 0);
}

static void test_insert_existing_key(void **state) {
  fx *f = *state;
  fx_open(f);
  create_tdb(f->db, COLL, 2);
  insert_tdb(f->db, COLL, NULL, 1, 10, 0);
  EXPECT_OK(vs_flush(f->db, COLL));
  insert_tdb(f->db, COLL, NULL, 11, 10, 0);
  uint64_t lsn = stats_of(f->db, COLL).last_lsn;
  /* 5 is sealed, 15 growing */
  int64_t clash[2] = {5, 15};
  for (int c = 0; c < 2; c++) {
    vs_rows *rows = tdb_build_rows(100, 4, 1);
    int64_t ids[4] = {100, 101, clash[c], 103};
    EXPECT_OK(vs_rows_set_int64(rows, "id", ids, NULL));
    EXPECT_ST(VS_ERR_DATA, vs_insert(f->db, COLL, NULL, rows, NULL));
    char want[32];
    snprintf(want, sizeof want, "%" PRId64, clash[c]);
    assert_non_null(strstr(vs_errmsg(NULL), want));
    assert_non_null(strstr(vs_errmsg(NULL), "already exists"));
    vs_rows_free(rows);
  }
  /* keys are unique across partitions too */
  EXPECT_OK(vs_create_partition(f->db, COLL, "other"));
  vs_rows *other = tdb_build_rows(5, 1, 1);
  EXPECT_ST(VS_ERR_DATA, vs_insert(f->db, COLL, "other", other, NULL));
  vs_rows_free(other);
  assert_int_equal(count_rows(f->db, COLL, "other"), 0);
  assert_int_equal(count_rows(f->db, COLL, NULL), 20);
  expect_range(f->db, COLL, 100, 4, -1);
  expect_range(f->db, COLL, 1, 20, 0);
  assert_int_equal(stats_of(f->db, COLL).last_lsn, lsn);
  /* a duplicate inside the batch */
  vs_rows *rows = tdb_build_rows(200, 3, 0);
  int64_t ids[3] = {200, 201, 200};
  EXPECT_OK(vs_rows_set_int64(rows, "id", ids, NULL));
  EXPECT_ST(VS_ERR_DATA, vs_insert(f->db, COLL, NULL, rows, NULL));
  vs_rows_free(rows);
  fx_reopen(f);
  assert_int_equal(count_rows(f->db, COLL, NULL), 20);
  expect_range(f->db, COLL, 100, 4, -1);
  expect_range(f->db, COLL, 200, 2, -1);
}

/* ------------------------------------------------ stats, seal, compaction */

static void test_stats(void **state) {
  fx *f = *state;
  fx_open(f);
  create_tdb(f->db, COLL, 2);
  vs_collection_stats s = stats_of(f->db, COLL);
  assert_int_equal(s.rows, 0);
  assert_int_equal(s.deleted_rows, 0);
  assert_int_equal(s.shards, 2);
  assert_int_equal(s.partitions, 1);
  assert_int_equal(s.sealed_segments, 0);
  assert_int_equal(s.growing_segments, 0);
  assert_int_equal(s.sealed_bytes, 0);

  insert_tdb(f->db, COLL, NULL, 1, 100, 0);
  s = stats_of(f->db, COLL);
  assert_int_equal(s.rows, 100);
  assert_int_equal(s.growing_rows, 100);
  assert_int_equal(s.growing_segments, 2);
  assert_int_equal(s.sealed_segments, 0);
  assert_true(s.last_lsn > s.checkpoint_lsn);
  assert_true(s.wal_bytes > 0);
  uint64_t lsn1 = s.last_lsn;

  EXPECT_OK(vs_flush(f->db, COLL));
  s = stats_of(f->db, COLL);
  assert_int_equal(s.rows, 100);
  assert_int_equal(s.growing_rows, 0);
  assert_int_equal(s.growing_segments, 0);
  assert_int_equal(s.sealed_segments, 2);
  assert_true(s.sealed_bytes > 100 * TDB_DIM * sizeof(float));
  assert_int_equal(s.checkpoint_lsn, s.last_lsn);
  assert_true(s.checkpoint_lsn >= lsn1);
  uint64_t ck = s.checkpoint_lsn;

  assert_int_equal(delete_ids(f->db, COLL, NULL, 1, 10), 10);
  insert_tdb(f->db, COLL, NULL, 101, 20, 0);
  s = stats_of(f->db, COLL);
  assert_int_equal(s.rows, 110);
  assert_int_equal(s.deleted_rows, 10);
  assert_int_equal(s.growing_rows, 20);
  assert_true(s.last_lsn > ck);
  assert_int_equal(s.checkpoint_lsn, ck);
  EXPECT_OK(vs_flush(f->db, COLL));
  s = stats_of(f->db, COLL);
  assert_true(s.checkpoint_lsn > ck);
  assert_int_equal(s.checkpoint_lsn, s.last_lsn);
  assert_int_equal(s.sealed_segments, 4);
  assert_int_equal(s.deleted_rows, 10);

  fx_reopen(f);
  s = stats_of(f->db, COLL);
  assert_int_equal(s.rows, 110);
  assert_int_equal(s.deleted_rows, 10);
  assert_int_equal(s.sealed_segments, 4);
  assert_int_equal(s.growing_segments, 0);
  EXPECT_ST(VS_ERR_INVALID, vs_collection_stats_get(f->db, COLL, NULL));
}

static void test_auto_seal(void **state) {
  fx *f = *state;
  f->opt.seal_rows = 100;
  fx_open(f);
  create_tdb(f->db, COLL, 2);
  for (int64_t id = 1; id <= 1000; id += 50) insert_tdb(f->db, COLL, NULL, id, 50, 0);
  vs_collection_stats s = stats_of(f->db, COLL);
  assert_true(s.sealed_segments >= 10);
  assert_true(s.growing_rows < 100);
  assert_int_equal(s.rows, 1000);
  assert_true(s.checkpoint_lsn > 0);
  uint32_t sealed = s.sealed_segments;
  expect_range(f->db, COLL, 1, 1000, 0);
  for (int64_t id = 1; id <= 1000; id += 97)
    assert_true(found_by_search(f->db, COLL, id, 0, NULL, 0));
  fx_reopen(f);
  s = stats_of(f->db, COLL);
  assert_true(s.sealed_segments >= sealed);
  assert_int_equal(s.rows, 1000);
  expect_range(f->db, COLL, 1, 1000, 0);
  fx_close(f);

  /* seal_bytes: growing data of 16 KiB triggers a seal */
  f->opt.seal_rows = (uint64_t)1 << 40;
  f->opt.seal_bytes = 16384;
  fx_open(f);
  sealed = stats_of(f->db, COLL).sealed_segments;
  for (int64_t id = 1001; id <= 1500; id += 50) insert_tdb(f->db, COLL, NULL, id, 50, 0);
  s = stats_of(f->db, COLL);
  assert_true(s.sealed_segments >= sealed + 4);
  assert_true(s.growing_rows < 500);
  expect_range(f->db, COLL, 1, 1500, 0);
}

static void test_compaction(void **state) {
  fx *f = *state;
  fx_open(f);
  create_tdb(f->db, COLL, 1);
  insert_tdb(f->db, COLL, NULL, 1, 400, 0);
  EXPECT_OK(vs_flush(f->db, COLL));
  EXPECT_OK(vs_compact(f->db, COLL, 1)); /* nothing to do */
  vs_collection_stats s0 = stats_of(f->db, COLL);
  assert_int_equal(s0.sealed_segments, 1);
  int64_t even[200];
  for (int i = 0; i < 200; i++) even[i] = 2 * (i + 1);
  vs_keys k = {.count = 200, .int_keys = even};
  uint64_t deleted = 0;
  EXPECT_OK(vs_delete(f->db, COLL, NULL, &k, &deleted));
  assert_int_equal(deleted, 200);
  vs_collection_stats s1 = stats_of(f->db, COLL);
  assert_int_equal(s1.deleted_rows, 200);
  assert_int_equal(s1.rows, 200);
  EXPECT_OK(vs_compact(f->db, COLL, 1));
  vs_collection_stats s2 = stats_of(f->db, COLL);
  assert_int_equal(s2.deleted_rows, 0);
  assert_int_equal(s2.rows, 200);
  assert_int_equal(s2.sealed_segments, 1);
  assert_true(s2.sealed_bytes < s1.sealed_bytes * 3 / 4);
  for (int64_t id = 1; id <= 400; id++) {
    if (id % 50 != 1 && id % 50 != 2) continue;
    assert_int_equal(found_by_search(f->db, COLL, id, 0, NULL, 0), id % 2);
  }
  for (int pass = 0; pass < 2; pass++) {
    for (int64_t id = 1; id <= 400; id += 2) expect_range(f->db, COLL, id, 1, 0);
    for (int64_t id = 2; id <= 400; id += 2) expect_range(f->db, COLL, id, 1, -1);
    assert_int_equal(count_rows(f->db, COLL, NULL), 200);
    if (pass == 0) fx_reopen(f);
  }
  assert_int_equal(stats_of(f->db, COLL).deleted_rows, 0);
  /* rows deleted after compaction can be upserted back */
  write_tdb(f->db, COLL, NULL, 2, 1, 5, true);
  expect_range(f->db, COLL, 2, 1, 5);
  /* deleting a whole segment and compacting removes it */
  EXPECT_OK(vs_flush(f->db, COLL));
  assert_int_equal(delete_ids(f->db, COLL, NULL, 1, 400), 201);
  EXPECT_OK(vs_compact(f->db, COLL, 1));
  vs_collection_stats s3 = stats_of(f->db, COLL);
  assert_int_equal(s3.rows, 0);
  assert_int_equal(s3.sealed_segments, 0);
  assert_int_equal(s3.deleted_rows, 0);
  fx_reopen(f);
  assert_int_equal(count_rows(f->db, COLL, NULL), 0);
  assert_int_equal(stats_of(f->db, COLL).sealed_segments, 0);
  insert_tdb(f->db, COLL, NULL, 1, 10, 7);
  expect_range(f->db, COLL, 1, 10, 7);
}

static void test_auto_compaction(void **state) {
  fx *f = *state;
  f->opt.compact_deleted_ratio = 0.3;
  f->opt.auto_compact = 1;
  fx_open(f);
  create_tdb(f->db, COLL, 1);
  insert_tdb(f->db, COLL, NULL, 1, 100, 0);
  EXPECT_OK(vs_flush(f->db, COLL));
  uint64_t bytes = stats_of(f->db, COLL).sealed_bytes;
  assert_int_equal(delete_ids(f->db, COLL, NULL, 1, 20), 20);
  assert_int_equal(stats_of(f->db, COLL).deleted_rows, 20); /* 0.2 < 0.3 */
  EXPECT_OK(vs_compact(f->db, COLL, 0));                    /* not forced */
  assert_int_equal(stats_of(f->db, COLL).deleted_rows, 20);
  assert_int_equal(delete_ids(f->db, COLL, NULL, 21, 15), 15);
  vs_collection_stats s = stats_of(f->db, COLL);
  assert_int_equal(s.deleted_rows, 0); /* 0.35 >= 0.3: compacted */
  assert_int_equal(s.rows, 65);
  assert_true(s.sealed_bytes < bytes);
  expect_range(f->db, COLL, 1, 35, -1);
  expect_range(f->db, COLL, 36, 65, 0);
  fx_reopen(f);
  expect_range(f->db, COLL, 1, 35, -1);
  expect_range(f->db, COLL, 36, 65, 0);
  assert_int_equal(stats_of(f->db, COLL).deleted_rows, 0);
  fx_close(f);

  /* auto_compact off: only vs_compact compacts */
  f->opt.auto_compact = 0;
  fx_open(f);
  assert_int_equal(delete_ids(f->db, COLL, NULL, 36, 40), 40);
  assert_int_equal(stats_of(f->db, COLL).deleted_rows, 40);
  EXPECT_OK(vs_compact(f->db, COLL, 0));
  assert_int_equal(stats_of(f->db, COLL).deleted_rows, 0);
  expect_range(f->db, COLL, 76, 25, 0);
}

/* -------------------------------------------------- crash and durability */

/* The script a crashing child runs on COLL; returns 0 or a step number. */
static int child_script(vs_db *db) {
  vs_schema *s = tdb_schema();
  vs_collection_options co = {.shards = 2};
  if (s == NULL || vs_create_collection(db, COLL, s, &co) != VS_OK) return 2;
  vs_schema_free(s);
  struct {
    int op;  /* 0 insert, 1 upsert, 2 delete, 3 flush, 4 partition */
    int64_t first;
    uint32_t count;
    uint32_t ver;
    const char *part;
  } steps[] = {
      {0, 1, 200, 0, NULL},  {3, 0, 0, 0, NULL},   {0, 201, 100, 0, NULL},
      {1, 50, 31, 1, NULL},  {2, 90, 10, 0, NULL}, {4, 0, 0, 0, "p"},
      {0, 400, 21, 0, "p"},  {2, 250, 10, 0, NULL},
  };
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    vs_status st = VS_OK;
    if (steps[i].op == 3) {
      st = vs_flush(db, COLL);
    } else if (steps[i].op == 4) {
      st = vs_create_partition(db, COLL, steps[i].part);
    } else if (steps[i].op == 2) {
      int64_t keys[TDB_MAX_BATCH];
      for (uint32_t j = 0; j < steps[i].count; j++) keys[j] = steps[i].first + j;
      vs_keys k = {.count = steps[i].count, .int_keys = keys};
      st = vs_delete(db, COLL, NULL, &k, NULL);
    } else {
      vs_rows *rows = tdb_build_rows(steps[i].first, steps[i].count, steps[i].ver);
      if (rows == NULL) return 10 + (int)i;
      st = steps[i].op == 0 ? vs_insert(db, COLL, steps[i].part, rows, NULL)
                            : vs_upsert(db, COLL, steps[i].part, rows, NULL);
      vs_rows_free(rows);
    }
    if (st != VS_OK) return 10 + (int)i;
  }
  return 0;
}

/* VarChar keys through the WAL: 40 rows, 2 deletes, 3 upserts. */
static int str_child_script(vs_db *db) {
  vs_schema *s = str_schema();
  const char *del[] = {"key-3", "nope", "key-25"};
  vs_keys dk = {.count = 3, .str_keys = del};
  if (s == NULL || vs_create_collection(db, "strs", s, NULL) != VS_OK) return 1;
  vs_schema_free(s);
  const int steps[][4] = {/* first, count, ver, upsert */
                          {0, 20, 0, 0}, {20, 20, 0, 0}, {-1, 0, 0, 0},
                          {5, 1, 1, 1},  {30, 1, 1, 1},  {25, 1, 1, 1}};
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    if (steps[i][0] < 0) {
      if (vs_delete(db, "strs", NULL, &dk, NULL) != VS_OK) return 2;
      continue;
    }
    vs_rows *rows = str_rows(steps[i][0], steps[i][1], steps[i][2]);
    vs_status st = rows == NULL ? VS_ERR_NOMEM
                   : steps[i][3] ? vs_upsert(db, "strs", NULL, rows, NULL)
                                 : vs_insert(db, "strs", NULL, rows, NULL);
    vs_rows_free(rows);
    if (st != VS_OK) return 3;
  }
  return 0;
}

static void str_expect_child_state(vs_db *db) {
  assert_int_equal(count_rows(db, "strs", NULL), NSTR - 1);
  for (int i = 0; i < NSTR; i++) {
    int ver = (i == 5 || i == 30 || i == 25) ? 1 : 0;
    str_expect(db, i, i == 3 ? -1 : ver);
  }
  str_expect_top(db, 30, 1);
  str_expect_top(db, 7, 0);
}

/* What child_script leaves. */
static void expect_child_state(vs_db *db) {
  assert_int_equal(count_rows(db, COLL, NULL), 301);
  assert_int_equal(count_rows(db, COLL, "p"), 21);
  expect_range(db, COLL, 1, 49, 0);
  expect_range(db, COLL, 50, 31, 1);
  expect_range(db, COLL, 81, 9, 0);
  expect_range(db, COLL, 90, 10, -1);
  expect_range(db, COLL, 100, 150, 0);
  expect_range(db, COLL, 250, 10, -1);
  expect_range(db, COLL, 260, 41, 0);
  expect_range(db, COLL, 301, 99, -1);
  expect_range(db, COLL, 400, 21, 0);
  const char *p[] = {"p"};
  assert_true(found_by_search(db, COLL, 410, 0, p, 1));
  assert_true(found_by_search(db, COLL, 60, 1, NULL, 0));
  assert_false(found_by_search(db, COLL, 60, 0, NULL, 0));
  assert_false(found_by_search(db, COLL, 95, 0, NULL, 0));
}

/* Runs the child: open with `opt`, child_script, then more (autoID and
 * all types when `full`), _exit(0) without closing.  The first autoID id
 * comes back through a pipe. */
static int64_t crash_child(const char *dir, const vs_options *opt, bool full) {
  int fds[2];
  int64_t first_auto = -1;
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    vs_db *db = NULL;
    close(fds[0]);
    if (vs_open(dir, opt, &db) != VS_OK) _exit(1);
    int rc = child_script(db);
    if (rc != 0) _exit(rc);
    if (full) {
      vs_schema *s = auto_schema();
      vs_rows *rows = auto_rows(10, 1);
      vs_write_info info = {0};
      if (s == NULL || rows == NULL ||
          vs_create_collection(db, "auto", s, NULL) != VS_OK ||
          vs_insert(db, "auto", NULL, rows, &info) != VS_OK)
        _exit(3);
      if (write(fds[1], &info.first_auto_id, sizeof info.first_auto_id) !=
          (ssize_t)sizeof info.first_auto_id)
        _exit(4);
      vs_schema *ts = types_schema();
      vs_rows *trows = types_rows(1);
      if (ts == NULL || trows == NULL ||
          vs_create_collection(db, TYPES, ts, NULL) != VS_OK ||
          vs_insert(db, TYPES, NULL, trows, NULL) != VS_OK)
        _exit(5);
      if (str_child_script(db) != 0) _exit(6);
    }
    _exit(0); /* no vs_close: the WAL holds what was not sealed */
  }
  close(fds[1]);
  if (full) {
    assert_int_equal(read(fds[0], &first_auto, sizeof first_auto),
                     (ssize_t)sizeof first_auto);
  }
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) != 0)
    fail_msg("crash child failed at step %d", WEXITSTATUS(status));
  return first_auto;
}

static void test_crash_replay(void **state) {
  fx *f = *state;
  vs_options opt = f->opt;
  opt.fsync = VS_FSYNC_ALWAYS;
  int64_t first_auto = crash_child(f->dir, &opt, true);
  fx_open(f);
  expect_child_state(f->db);
  const char *all[] = {COLL, "auto", TYPES, "strs"};
  expect_collections(f->db, all, 4);
  int64_t ids[15];
  for (int i = 0; i < 10; i++) ids[i] = first_auto + i;
  expect_ids(f->db, "auto", ids, 10);
  int64_t next = auto_insert(f->db, "auto", 5);
  assert_true(next >= first_auto + 10);
  for (int i = 0; i < 5; i++) ids[10 + i] = next + i;
  expect_ids(f->db, "auto", ids, 15);
  check_types(f->db, 1);
  str_expect_child_state(f->db);
  /* Recovery is repeatable: close (seals) and open again. */
  fx_reopen(f);
  expect_child_state(f->db);
  expect_ids(f->db, "auto", ids, 15);
  check_types(f->db, 1);
  str_expect_child_state(f->db);
  fx_close(f);
  EXPECT_OK(vs_check(f->dir, NULL, NULL));
}

/* Forks a child that opens `dir` with `opt`, runs fn, and _exits without
 * closing; fails the test if fn returns nonzero. */
static void run_crashing_child(const char *dir, const vs_options *opt,
                               int (*fn)(vs_db *db)) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    vs_db *db = NULL;
    if (vs_open(dir, opt, &db) != VS_OK) _exit(1);
    _exit(fn(db));
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) != 0)
    fail_msg("crash child failed at step %d", WEXITSTATUS(status));
}

static int ins(vs_db *db, const char *part, int64_t first, uint32_t n,
               uint32_t ver, bool upsert) {
  vs_rows *rows = tdb_build_rows(first, n, ver);
  vs_status st = rows == NULL ? VS_ERR_NOMEM
                 : upsert     ? vs_upsert(db, COLL, part, rows, NULL)
                              : vs_insert(db, COLL, part, rows, NULL);
  vs_rows_free(rows);
  return st == VS_OK ? 0 : 1;
}

static int del(vs_db *db, int64_t first, uint32_t n) {
  int64_t keys[TDB_MAX_BATCH];
  for (uint32_t i = 0; i < n; i++) keys[i] = first + i;
  vs_keys k = {.count = n, .int_keys = keys};
  return vs_delete(db, COLL, NULL, &k, NULL) == VS_OK ? 0 : 1;
}

static int child_more_rows(vs_db *db) {
  if (ins(db, NULL, 101, 10, 0, false) != 0) return 2;
  if (del(db, 1, 5) != 0) return 3;
  return 0;
}

static int child_more_rows2(vs_db *db) {
  return ins(db, NULL, 111, 10, 0, false) != 0 ? 4 : 0;
}

/* The WAL keeps numbering after a clean close, so records written after a
 * reopen are above the checkpoint and replayed after a crash. */
static void test_crash_after_clean_reopen(void **state) {
  fx *f = *state;
  f->opt.fsync = VS_FSYNC_ALWAYS;
  fx_open(f);
  create_tdb(f->db, COLL, 2);
  insert_tdb(f->db, COLL, NULL, 1, 100, 0);
  uint64_t lsn = stats_of(f->db, COLL).last_lsn;
  fx_close(f);
  run_crashing_child(f->dir, &f->opt, child_more_rows);
  fx_open(f);
  assert_int_equal(count_rows(f->db, COLL, NULL), 105);
  expect_range(f->db, COLL, 1, 5, -1);
  expect_range(f->db, COLL, 6, 105, 0);
  vs_collection_stats s = stats_of(f->db, COLL);
  assert_true(s.last_lsn > lsn);
  lsn = s.last_lsn;
  fx_close(f);
  run_crashing_child(f->dir, &f->opt, child_more_rows2);
  fx_open(f);
  assert_int_equal(count_rows(f->db, COLL, NULL), 115);
  expect_range(f->db, COLL, 6, 115, 0);
  assert_true(stats_of(f->db, COLL).last_lsn > lsn);
}

static int child_compact_script(vs_db *db) {
  vs_schema *s = tdb_schema();
  vs_collection_options co = {.shards = 1};
  if (s == NULL || vs_create_collection(db, COLL, s, &co) != VS_OK) return 2;
  vs_schema_free(s);
  if (vs_create_partition(db, COLL, "q") != VS_OK) return 3;
  if (ins(db, "q", 300, 11, 0, false) != 0) return 4;
  if (ins(db, NULL, 1, 200, 0, false) != 0) return 5;
  if (vs_flush(db, COLL) != VS_OK) return 6;
  if (vs_drop_partition(db, COLL, "q") != VS_OK) return 7;
  if (ins(db, NULL, 1, 30, 1, true) != 0) return 8;
  if (del(db, 31, 30) != 0) return 9; /* 60 of 200 deleted: compacts */
  vs_collection_stats st;
  if (vs_collection_stats_get(db, COLL, &st) != VS_OK || st.deleted_rows != 0) return 10;
  if (ins(db, NULL, 31, 10, 2, false) != 0) return 11;
  if (vs_create_partition(db, COLL, "q") != VS_OK) return 12;
  if (ins(db, "q", 305, 1, 3, false) != 0) return 13;
  if (ins(db, NULL, 100, 5, 4, true) != 0) return 14;
  return 0;
}

/* A crash after compaction and partition drops: the MANIFEST written by
 * compaction is newer than its checkpoint, and the WAL replays over it. */
static void test_crash_after_compaction(void **state) {
  fx *f = *state;
  vs_options opt = f->opt;
  opt.fsync = VS_FSYNC_ALWAYS;
  opt.auto_compact = 1;
  run_crashing_child(f->dir, &opt, child_compact_script);
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 0) fx_open(f); else fx_reopen(f);
    assert_int_equal(count_rows(f->db, COLL, NULL), 181);
    assert_int_equal(count_rows(f->db, COLL, "q"), 1);
    expect_range(f->db, COLL, 1, 30, 1);
    expect_range(f->db, COLL, 31, 10, 2);
    expect_range(f->db, COLL, 41, 20, -1);
    expect_range(f->db, COLL, 61, 39, 0);
    expect_range(f->db, COLL, 100, 5, 4);
    expect_range(f->db, COLL, 105, 96, 0);
    expect_range(f->db, COLL, 300, 5, -1);
    expect_range(f->db, COLL, 305, 1, 3);
    expect_range(f->db, COLL, 306, 5, -1);
    assert_false(found_by_search(f->db, COLL, 10, 0, NULL, 0));
    assert_true(found_by_search(f->db, COLL, 10, 1, NULL, 0));
    assert_false(found_by_search(f->db, COLL, 45, 0, NULL, 0));
  }
  fx_close(f);
  EXPECT_OK(vs_check(f->dir, NULL, NULL));
}

/* A read-only open must not serve a state older than what was
 * acknowledged: it either replays the WAL or refuses to open. */
static void test_read_only_after_crash(void **state) {
  fx *f = *state;
  vs_options opt = f->opt;
  opt.fsync = VS_FSYNC_ALWAYS;
  crash_child(f->dir, &opt, false);
  vs_options ro = f->opt;
  ro.read_only = 1;
  vs_status st = vs_open(f->dir, &ro, &f->db);
  if (st != VS_OK) {
    assert_null(f->db);
    assert_true(vs_errmsg(NULL)[0] != '\0');
  } else {
    uint64_t n = count_rows(f->db, COLL, NULL);
    if (n != 301)
      fail_msg("read-only open after a crash shows %" PRIu64
               " rows; 301 were acknowledged (WAL not replayed)", n);
    expect_child_state(f->db);
    fx_close(f);
  }
  fx_open(f);
  expect_child_state(f->db);
}

static void test_read_only(void **state) {
  fx *f = *state;
  fx_open(f);
  create_tdb(f->db, COLL, 2);
  insert_tdb(f->db, COLL, NULL, 1, 50, 0);
  EXPECT_OK(vs_create_partition(f->db, COLL, "p"));
  fx_close(f);
  f->opt.read_only = 1;
  fx_open(f);
  expect_range(f->db, COLL, 1, 50, 0);
  assert_int_equal(count_rows(f->db, COLL, NULL), 50);
  assert_true(found_by_search(f->db, COLL, 7, 0, NULL, 0));
  vs_rows *rows = tdb_build_rows(100, 2, 0);
  vs_schema *s = tdb_schema();
  int64_t key = 1;
  vs_keys k = {.count = 1, .int_keys = &key};
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_insert(f->db, COLL, NULL, rows, NULL));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_upsert(f->db, COLL, NULL, rows, NULL));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_delete(f->db, COLL, NULL, &k, NULL));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_create_collection(f->db, "x", s, NULL));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_drop_collection(f->db, COLL));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_rename_collection(f->db, COLL, "y"));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_create_partition(f->db, COLL, "q"));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_drop_partition(f->db, COLL, "p"));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_flush(f->db, COLL));
  EXPECT_ST(VS_ERR_UNSUPPORTED, vs_compact(f->db, COLL, 1));
  vs_rows_free(rows);
  vs_schema_free(s);
  const char *one[] = {COLL};
  expect_collections(f->db, one, 1);
  fx_close(f);
  f->opt.read_only = 0;
  fx_open(f);
  const char *parts[] = {VS_DEFAULT_PARTITION, "p"};
  expect_partitions(f->db, COLL, parts, 2);
  expect_range(f->db, COLL, 1, 50, 0);
  expect_range(f->db, COLL, 100, 2, -1);
  assert_int_equal(count_rows(f->db, COLL, NULL), 50);
}

static void test_fsync_policies(void **state) {
  fx *f = *state;
  const vs_fsync_policy policies[] = {VS_FSYNC_ALWAYS, VS_FSYNC_BATCH,
                                      VS_FSYNC_NONE};
  for (size_t i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "p%zu", i);
    char *dir = tu_join(f->dir, name);
    vs_options opt = f->opt;
    opt.fsync = policies[i];
    opt.batch_interval_ms = 5;
    /* a process crash loses nothing acknowledged, whatever the policy */
    crash_child(dir, &opt, false);
    vs_db *db = NULL;
    EXPECT_OK(vs_open(dir, &opt, &db));
    expect_child_state(db);
    /* a clean close keeps everything */
    insert_tdb(db, COLL, NULL, 500, 30, 2);
    write_tdb(db, COLL, NULL, 1, 5, 3, true);
    EXPECT_OK(vs_close(db));
    db = NULL;
    EXPECT_OK(vs_open(dir, &opt, &db));
    expect_range(db, COLL, 500, 30, 2);
    expect_range(db, COLL, 1, 5, 3);
    assert_int_equal(count_rows(db, COLL, NULL), 331);
    EXPECT_OK(vs_close(db));
    EXPECT_OK(vs_check(dir, NULL, NULL));
    free(dir);
  }
}

int main(void) {
  unsetenv("MILVUS_COLLECTION_SHARDS");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_open_close_empty, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_second_open_busy, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_collection_ddl, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_rename, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_shards, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_partitions, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_field_types, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_autoid, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_autoid_after_upsert, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_varchar_pk, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_upsert, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_delete, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_insert_existing_key, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_stats, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_auto_seal, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_compaction, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_auto_compaction, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_crash_replay, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_crash_after_clean_reopen, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_crash_after_compaction, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_read_only, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_read_only_after_crash, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_fsync_policies, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
