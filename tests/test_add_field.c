/*
 * test_add_field.c -- vs_add_field (Milvus collections/fields/add): a
 * nullable scalar field joins a collection that already has sealed rows,
 * growing rows, deletes, a scalar index and dynamic keys.
 *
 * What must hold, checked through the public API only:
 *   - rows stored before the field get its default, else null, in query,
 *     get, search output and filters (`tier == "std"`, `score is null`);
 *   - dynamic keys still answer ("$meta" moves one column up in memory);
 *   - new rows carry the field; filters on it work;
 *   - all of this survives a reopen (old segment files have fewer columns
 *     than the schema), a crash copy (WAL records of the new shape replay)
 *     and a forced compaction (segments rewritten with every column);
 *   - refusals (not nullable, vector, primary key, duplicate name, unknown
 *     collection) change nothing;
 *   - inserts running while the field is added are all kept, none lost
 *     or half-applied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h" /* vs_test_hooks */
#include "index/hnsw_internal.h"    /* hnsw_set_build_hook */
#include "support/expect.h"
#include "support/testutil.h"
#include "vectorstore.h"

#define DIM 4
#define OLD_SEALED 300   /* ids [0, 300): sealed before the add */
#define OLD_GROWING 100  /* ids [300, 400): growing at the add */
#define NEW_ROWS 50      /* ids [1000, 1050): inserted after, score = id % 10 */

static vs_db *open_db(const char *dir) {
  vs_db *db = NULL;
  EXPECT_OK(vs_open(dir, NULL, &db));
  return db;
}

static vs_status insert_json(vs_db *db, const char *json) {
  vs_schema *schema = NULL;
  vs_rows *rows = NULL;
  vs_status st = vs_get_schema(db, "c", &schema);
  if (st == VS_OK) st = vs_rows_from_json(schema, json, &rows);
  if (st == VS_OK) st = vs_insert(db, "c", NULL, rows, NULL);
  vs_rows_free(rows);
  vs_schema_free(schema);
  return st;
}

/* Rows [from, to): color "red" for even ids (a dynamic key); with_score
 * adds "score": id % 10. */
static void insert_range(vs_db *db, int from, int to, bool with_score) {
  size_t cap = (size_t)(to - from) * 160 + 16;
  char *json = malloc(cap);
  assert_non_null(json);
  size_t len = 0;
  json[len++] = '[';
  for (int id = from; id < to; id++) {
    char score[32] = "";
    if (with_score) snprintf(score, sizeof score, ",\"score\":%d", id % 10);
    len += (size_t)snprintf(json + len, cap - len, "%s{\"id\":%d,\"v\":[%d,1,0,0],\"title\":\"t%d\",\"color\":\"%s\"%s}",
                            id == from ? "" : ",", id, id, id, id % 2 ? "blue" : "red", score);
  }
  json[len++] = ']';
  json[len] = 0;
  EXPECT_OK(insert_json(db, json));
  free(json);
}

static uint64_t count(vs_db *db, const char *filter) {
  uint64_t n = 0;
  EXPECT_OK(vs_query_count(db, "c", filter, NULL, NULL, 0, &n));
  return n;
}

static void create(vs_db *db) {
  vs_schema *s = NULL;
  EXPECT_OK(vs_schema_new(&s));
  EXPECT_OK(vs_schema_add_field(s, &(vs_field_def){.name = "id", .type = VS_TYPE_INT64, .is_primary = 1}));
  EXPECT_OK(vs_schema_add_field(s, &(vs_field_def){.name = "v", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM}));
  EXPECT_OK(vs_schema_add_field(s, &(vs_field_def){.name = "title", .type = VS_TYPE_VARCHAR, .max_length = 16}));
  EXPECT_OK(vs_schema_enable_dynamic(s, 1));
  EXPECT_OK(vs_create_collection(db, "c", s, NULL));
  vs_schema_free(s);
}

static void add_fields(vs_db *db) {
  EXPECT_OK(vs_add_field(db, "c", &(vs_field_def){.name = "score", .type = VS_TYPE_INT64, .nullable = 1}));
  EXPECT_OK(vs_add_field(db, "c", &(vs_field_def){.name = "tier", .type = VS_TYPE_VARCHAR, .max_length = 8,
                                                  .nullable = 1, .default_json = "\"std\""}));
}

/* One row by id, all fields. */
static vs_rows *get_row(vs_db *db, int64_t id) {
  const char *all[] = {"*"};
  vs_rows *rows = NULL;
  vs_keys keys = {.count = 1, .int_keys = &id};
  EXPECT_OK(vs_get(db, "c", &keys, all, 1, &rows));
  assert_int_equal(vs_rows_count(rows), 1);
  return rows;
}

static void expect_text(const vs_rows *rows, const char *field, size_t row, const char *want) {
  const char *got = NULL;
  size_t len = 0;
  EXPECT_OK(vs_rows_get_string(rows, field, row, &got, &len));
  assert_int_equal(len, strlen(want));
  assert_memory_equal(got, want, len);
}

/* Everything the collection must answer once the fields exist, with
 * `live_old` rows from before the add (ids < 1000 not deleted). */
static void check_state(vs_db *db, uint64_t live_old) {
  assert_int_equal(count(db, NULL), live_old + NEW_ROWS);
  assert_int_equal(count(db, "score is null"), live_old);
  assert_int_equal(count(db, "score is not null"), NEW_ROWS);
  assert_int_equal(count(db, "score == 3"), NEW_ROWS / 10);
  assert_int_equal(count(db, "tier == \"std\""), live_old + NEW_ROWS);
  assert_int_equal(count(db, "id >= 1000 and tier == \"std\" and score < 5"), NEW_ROWS / 2);
  /* the dynamic key is still found ("$meta" moved up a column) */
  assert_int_equal(count(db, "color == \"red\" and id < 1000"), live_old / 2);
  assert_int_equal(count(db, "color == \"red\" and id >= 1000"), NEW_ROWS / 2);
  assert_int_equal(count(db, "title like \"t1%\""), count(db, "id == 1 or (id >= 10 and id < 20) or "
                                                             "(id >= 100 and id < 200) or id >= 1000"));

  vs_rows *old = get_row(db, 5);
  assert_true(vs_rows_is_null(old, "score", 0));
  expect_text(old, "tier", 0, "std");
  expect_text(old, "title", 0, "t5");
  char *text = NULL;
  EXPECT_OK(vs_rows_row_to_json(old, 0, &text));
  assert_non_null(strstr(text, "\"color\":\"blue\""));
  vs_free(text);
  vs_rows_free(old);

  vs_rows *fresh = get_row(db, 1003);
  int64_t score = -1;
  EXPECT_OK(vs_rows_get_int64(fresh, "score", 0, &score));
  assert_int_equal(score, 3);
  expect_text(fresh, "tier", 0, "std");
  vs_rows_free(fresh);

  /* search: nearest to row 350 (a growing row at the add), with output */
  float q[DIM] = {350, 1, 0, 0};
  const char *out[] = {"score", "tier", "$meta"};
  vs_search_request req = {.vectors = q, .nq = 1, .dim = DIM, .k = 3, .output_fields = out, .output_count = 3,
                           .filter = "score is null"};
  vs_result *res = NULL;
  EXPECT_OK(vs_search(db, "c", &req, &res));
  assert_int_equal(vs_result_hits(res, 0), 3);
  assert_int_equal(vs_result_id(res, 0, 0), 350);
  const vs_rows *rows = vs_result_rows(res);
  size_t r = vs_result_row_index(res, 0, 0);
  assert_true(vs_rows_is_null(rows, "score", r));
  expect_text(rows, "tier", r, "std");
  expect_text(rows, "$meta", r, "{\"color\":\"red\"}");
  vs_result_free(res);
}

/* Each test: a fresh directory with collection "c" (create()) open in
 * f->db; teardown closes it if still open and removes the directory. */
typedef struct fixture {
  char *dir;
  vs_db *db;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f || !(f->dir = tu_make_tmpdir("addfield"))) return -1;
  f->db = open_db(f->dir);
  create(f->db);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->db && vs_close(f->db) != VS_OK) return -1;
  tu_remove_tree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static void close_db(fixture *f) {
  EXPECT_OK(vs_close(f->db));
  f->db = NULL;
}

/* Closes f->db and opens the directory again. */
static vs_db *reopen(fixture *f) {
  close_db(f);
  f->db = open_db(f->dir);
  return f->db;
}

/* Sealed segments of "c" whose file lacks an added field's column. */
static size_t narrow_segments(vs_db *db) {
  vs_collection *c = NULL;
  EXPECT_OK(vs_db_find(db, "c", &c));
  size_t n = 0;
  pthread_rwlock_rdlock(&c->lock);
  for (size_t i = 0; i < c->sealed_count; i++) n += c->sealed[i]->synth_count > 0;
  pthread_rwlock_unlock(&c->lock);
  vs_db_release(db, c);
  return n;
}

static void test_add_field_lifecycle(void **state) {
  fixture *f = *state;
  vs_db *db = f->db;
  insert_range(db, 0, OLD_SEALED, false);
  EXPECT_OK(vs_flush(db, "c"));
  const char *params = "{}";
  EXPECT_OK(vs_create_index(db, "c", "title", "INVERTED", params));
  insert_range(db, OLD_SEALED, OLD_SEALED + OLD_GROWING, false);
  vs_keys gone = {.count = 2, .int_keys = (int64_t[]){6, 307}};
  EXPECT_OK(vs_delete(db, "c", NULL, &gone, NULL));
  uint64_t live_old = OLD_SEALED + OLD_GROWING - 2;
  assert_int_equal(count(db, "color == \"red\""), live_old / 2);

  add_fields(db);
  insert_range(db, 1000, 1000 + NEW_ROWS, true);
  check_state(db, live_old);
  assert_int_equal(count(db, "title == \"t42\""), 1); /* the scalar index still answers */

  /* a crash copy: the rows after the add are only in the WAL */
  char *copy = tu_join(f->dir, "../addfield-crash");
  tu_remove_tree(copy);
  assert_int_equal(tu_copy_tree(f->dir, copy), 0);
  close_db(f);
  db = open_db(copy);
  check_state(db, live_old);
  EXPECT_OK(vs_close(db));
  tu_remove_tree(copy);
  free(copy);

  /* the offline checker reads the older, narrower segment files too */
  EXPECT_OK(vs_check(f->dir, NULL, NULL));
  /* reopen from files, then compact everything and reopen again */
  db = f->db = open_db(f->dir);
  check_state(db, live_old);
  vs_keys more = {.count = 2, .int_keys = (int64_t[]){8, 9}};
  EXPECT_OK(vs_delete(db, "c", NULL, &more, NULL));
  live_old -= 2;
  assert_true(narrow_segments(db) > 0);
  EXPECT_OK(vs_compact(db, "c", 1));
  assert_int_equal(narrow_segments(db), 0); /* forced: rewritten whole */
  check_state(db, live_old);
  db = reopen(f);
  assert_int_equal(narrow_segments(db), 0);
  check_state(db, live_old);
  close_db(f);
  EXPECT_OK(vs_check(f->dir, NULL, NULL));
}

static void test_add_field_refusals(void **state) {
  fixture *f = *state;
  vs_db *db = f->db;
  insert_range(db, 0, 10, false);
  EXPECT_ST(VS_ERR_INVALID, vs_add_field(db, "c", &(vs_field_def){.name = "n", .type = VS_TYPE_INT64}));
  assert_non_null(strstr(vs_errmsg(db), "nullable"));
  EXPECT_ST(VS_ERR_INVALID, vs_add_field(db, "c", &(vs_field_def){.name = "w", .type = VS_TYPE_FLOAT_VECTOR,
                                                                   .dim = 2, .nullable = 1}));
  assert_non_null(strstr(vs_errmsg(db), "vector"));
  EXPECT_ST(VS_ERR_INVALID, vs_add_field(db, "c", &(vs_field_def){.name = "k", .type = VS_TYPE_INT64,
                                                                   .is_primary = 1, .nullable = 1}));
  vs_status dup = vs_add_field(db, "c", &(vs_field_def){.name = "title", .type = VS_TYPE_INT64, .nullable = 1});
  assert_int_not_equal(dup, VS_OK);
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_add_field(db, "nope", &(vs_field_def){.name = "x", .type = VS_TYPE_INT64,
                                                                       .nullable = 1}));
  EXPECT_ST(VS_ERR_INVALID, vs_add_field(db, "c", NULL));
  vs_schema *s = NULL;
  EXPECT_OK(vs_get_schema(db, "c", &s));
  assert_int_equal(vs_schema_field_count(s), 3);
  vs_schema_free(s);
  assert_int_equal(count(db, NULL), 10);
  /* a default of the wrong type is refused too */
  vs_status bad = vs_add_field(db, "c", &(vs_field_def){.name = "x", .type = VS_TYPE_INT64, .nullable = 1,
                                                        .default_json = "\"text\""});
  assert_int_not_equal(bad, VS_OK);
  EXPECT_OK(vs_get_schema(db, "c", &s));
  assert_int_equal(vs_schema_field_count(s), 3);
  vs_schema_free(s);
}

typedef struct writer_arg {
  vs_db *db;
  int from, batches, per_batch;
  int failures;
} writer_arg;

static void *writer_main(void *p) {
  writer_arg *w = p;
  char json[256];
  for (int b = 0; b < w->batches; b++) {
    for (int i = 0; i < w->per_batch; i++) {
      int id = w->from + b * w->per_batch + i;
      snprintf(json, sizeof json, "[{\"id\":%d,\"v\":[%d,0,0,1],\"title\":\"w\",\"color\":\"red\"}]", id, id);
      if (insert_json(w->db, json) != VS_OK) w->failures++;
    }
  }
  return NULL;
}

static void *adder_main(void *p) {
  vs_db *db = p;
  char name[16];
  for (int i = 0; i < 8; i++) {
    snprintf(name, sizeof name, "f%d", i);
    if (vs_add_field(db, "c", &(vs_field_def){.name = name, .type = VS_TYPE_DOUBLE, .nullable = 1}) != VS_OK) {
      return (void *)1;
    }
  }
  return NULL;
}

typedef struct reader_arg {
  vs_db *db;
  _Atomic int stop;
  int errors;      /* calls that failed */
  int regressions; /* a count smaller than an earlier one */
  int rounds;
} reader_arg;

/* Counts rows with a dynamic-key filter and reads them back with every
 * field, while fields are added: "$meta" moves a column each time. */
static void *reader_main(void *p) {
  reader_arg *r = p;
  uint64_t last = 0;
  const char *all[] = {"*"};
  while (!atomic_load(&r->stop)) {
    uint64_t n = 0;
    vs_rows *rows = NULL;
    vs_query_request q = {.filter = "color == \"red\"", .output_fields = all, .output_count = 1};
    if (vs_query_count(r->db, "c", "color == \"red\"", NULL, NULL, 0, &n) != VS_OK) r->errors++;
    if (n < last) r->regressions++;
    last = n;
    if (vs_query(r->db, "c", &q, &rows, NULL) != VS_OK || vs_rows_count(rows) < n) r->errors++;
    vs_rows_free(rows);
    r->rounds++;
  }
  return NULL;
}

static void test_add_field_concurrent_writes(void **state) {
  fixture *f = *state;
  vs_db *db = f->db;
  writer_arg w = {.db = db, .from = 0, .batches = 40, .per_batch = 10};
  reader_arg rd = {.db = db};
  pthread_t writer, adder, reader;
  assert_int_equal(pthread_create(&reader, NULL, reader_main, &rd), 0);
  assert_int_equal(pthread_create(&writer, NULL, writer_main, &w), 0);
  assert_int_equal(pthread_create(&adder, NULL, adder_main, db), 0);
  void *adder_st = NULL;
  pthread_join(adder, &adder_st);
  pthread_join(writer, NULL);
  atomic_store(&rd.stop, 1);
  pthread_join(reader, NULL);
  assert_null(adder_st);
  assert_int_equal(w.failures, 0);
  assert_int_equal(rd.errors, 0);
  assert_int_equal(rd.regressions, 0);
  assert_true(rd.rounds > 0);
  assert_int_equal(count(db, NULL), 400);
  assert_int_equal(count(db, "color == \"red\""), 400);
  assert_int_equal(count(db, "f7 is null"), 400);
  db = reopen(f);
  assert_int_equal(count(db, "f0 is null and color == \"red\""), 400);
}

/* ------------------------------------------------ a write that must retry */

typedef struct retry_hook {
  vs_db *db;
  int calls;
  vs_status added;
} retry_hook;

/* After the writer normalized its batch (no lock held): add a field, so
 * the batch no longer has the collection's shape. */
static void add_during_write(void *arg) {
  retry_hook *h = arg;
  if (h->calls++ == 0) {
    h->added = vs_add_field(h->db, "c", &(vs_field_def){.name = "late", .type = VS_TYPE_INT64, .nullable = 1,
                                                         .default_json = "5"});
  }
}

/* The rows were built against the old schema; the batch is normalized
 * again against the new one (the hook runs twice), so the row gets the new
 * field's default.  Row 2, stored before the add with a dynamic key
 * "late", keeps it in "$meta", shadowed: the field answers `late`. */
static void test_add_field_write_retry(void **state) {
  fixture *f = *state;
  vs_db *db = f->db;
  EXPECT_OK(insert_json(db, "[{\"id\":2,\"v\":[0,1,0,0],\"title\":\"b\",\"late\":7}]"));
  vs_schema *old = NULL;
  vs_rows *rows = NULL;
  EXPECT_OK(vs_get_schema(db, "c", &old));
  EXPECT_OK(vs_rows_from_json(old, "[{\"id\":1,\"v\":[1,0,0,0],\"title\":\"a\"}]", &rows));
  retry_hook h = {.db = db};
  vs_test_hooks = (vs_engine_hooks){.after_normalize = add_during_write, .arg = &h};
  vs_status st = vs_insert(db, "c", NULL, rows, NULL);
  vs_test_hooks = (vs_engine_hooks){0};
  EXPECT_OK(st);
  EXPECT_OK(h.added);
  assert_int_equal(h.calls, 2);
  vs_rows *got = get_row(db, 1);
  int64_t late = 0;
  EXPECT_OK(vs_rows_get_int64(got, "late", 0, &late));
  assert_int_equal(late, 5);
  vs_rows_free(got);
  got = get_row(db, 2);
  EXPECT_OK(vs_rows_get_int64(got, "late", 0, &late));
  assert_int_equal(late, 5);
  vs_rows_free(got);
  assert_int_equal(count(db, "late == 5"), 2);
  assert_int_equal(count(db, "$meta[\"late\"] == 7"), 1);
  vs_rows_free(rows);
  vs_schema_free(old);
}

/* ------------------------------------------- the commit write that fails */

/* Fails the MANIFEST write that would name a 4-field schema: the commit
 * of the add below, not the flush before it. */
static vs_status fail_commit(void *arg, const vs_collection *c, const vs_schema *schema) {
  (void)arg;
  (void)c;
  return vs_schema_field_count(schema) == 4 ? vs_fail(VS_ERR_IO, "injected MANIFEST failure") : VS_OK;
}

static void test_add_field_manifest_failure(void **state) {
  fixture *f = *state;
  vs_db *db = f->db;
  insert_range(db, 0, 20, false);
  vs_test_hooks = (vs_engine_hooks){.before_manifest = fail_commit};
  vs_status st = vs_add_field(db, "c", &(vs_field_def){.name = "x", .type = VS_TYPE_INT64, .nullable = 1});
  vs_test_hooks = (vs_engine_hooks){0};
  EXPECT_ST(VS_ERR_IO, st);
  /* the schema was never published; the collection reads on, writes no more
   * (the file might have held either schema) */
  vs_schema *s = NULL;
  EXPECT_OK(vs_get_schema(db, "c", &s));
  assert_int_equal(vs_schema_field_count(s), 3);
  vs_schema_free(s);
  assert_int_equal(count(db, "color == \"red\""), 10);
  EXPECT_ST(VS_ERR_IO, insert_json(db, "[{\"id\":99,\"v\":[0,0,0,1],\"title\":\"z\"}]"));
  /* reopened: the old schema and every acknowledged row; adding works */
  db = reopen(f);
  EXPECT_OK(vs_get_schema(db, "c", &s));
  assert_int_equal(vs_schema_field_count(s), 3);
  vs_schema_free(s);
  assert_int_equal(count(db, NULL), 20);
  EXPECT_OK(vs_add_field(db, "c", &(vs_field_def){.name = "x", .type = VS_TYPE_INT64, .nullable = 1}));
  assert_int_equal(count(db, "x is null"), 20);
}

/* ------------------------------------------- while an index is being built */

typedef struct build_adder {
  vs_db *db;
  atomic_int calls;
  vs_status added[2];
} build_adder;

/* Runs on the index builder's thread, in the middle of the HNSW build of
 * a sealed segment (after the links of its 100th insertion are chosen):
 * adds two fields there, while the build reads its copy of the column. */
static void add_during_build(void *arg, uint32_t node, int level, const uint32_t *chosen, uint32_t count,
                             bool holds_global) {
  (void)chosen;
  (void)count;
  (void)holds_global;
  build_adder *b = arg;
  if (node < 100 || level != 0 || atomic_fetch_add(&b->calls, 1) != 0) return;
  b->added[0] = vs_add_field(b->db, "c", &(vs_field_def){.name = "a", .type = VS_TYPE_DOUBLE, .nullable = 1});
  b->added[1] = vs_add_field(b->db, "c", &(vs_field_def){.name = "b", .type = VS_TYPE_BOOL, .nullable = 1,
                                                         .default_json = "true"});
}

/* Fields added while the background builder builds an HNSW index of the
 * sealed rows (from inside the build, through its test hook): the build
 * finishes and attaches, the index answers the new fields' filters, and
 * nothing is read after being freed (ASan). */
static void test_add_field_during_index_build(void **state) {
  fixture *f = *state;
  vs_db *db = f->db;
  enum { ROWS = 6000 };
  for (int from = 0; from < ROWS; from += 1000) insert_range(db, from, from + 1000, false);
  EXPECT_OK(vs_flush(db, "c"));
  build_adder b = {.db = db};
  hnsw_set_build_hook(add_during_build, &b);
  EXPECT_OK(vs_create_index(db, "c", "v", "HNSW", "{\"M\":16,\"efConstruction\":200}"));
  vs_status waited = vs_wait_for_index(db, "c", "v", 120000);
  hnsw_set_build_hook(NULL, NULL);
  EXPECT_OK(waited);
  assert_true(atomic_load(&b.calls) >= 1);
  EXPECT_OK(b.added[0]);
  EXPECT_OK(b.added[1]);
  float q[DIM] = {4321, 1, 0, 0};
  vs_search_request req = {.vectors = q, .nq = 1, .dim = DIM, .k = 1, .filter = "b == true and a is null",
                           .profile = 1};
  vs_result *res = NULL;
  EXPECT_OK(vs_search(db, "c", &req, &res));
  assert_int_equal(vs_result_hits(res, 0), 1);
  assert_int_equal(vs_result_id(res, 0, 0), 4321);
  assert_non_null(strstr(vs_result_profile(res), "\"index\":\"HNSW\""));
  vs_result_free(res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_add_field_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_field_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_field_concurrent_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_field_write_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_field_manifest_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_field_during_index_build, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
