/*
 * test_db_badinput.c -- every kind of bad input through the public API gets
 * the right status, a message naming the field and the row, and writes
 * nothing.
 *
 * One database with two collections:
 *
 *   "strict"  id Int64 pk, vector FloatVector(8, L2), tag VarChar(16),
 *             score Double nullable, flag Bool, n Int32;  not dynamic
 *   "loose"   the same fields, dynamic (unknown keys go to "$meta")
 *
 * Each collection holds ROWS_BEFORE good rows (ids 1000..).  A bad batch
 * always mixes good rows (ids 1..) with one bad row, so "nothing written"
 * is checked two ways after every failure: vs_count is unchanged and
 * vs_get finds none of the batch's ids.
 *
 * Batches are built column by column (vs_rows_set_*) for type and shape
 * errors, and from JSON text (vs_rows_from_json) for per-row errors.  With
 * JSON the error may come from the parser or from vs_insert; either is
 * fine as long as it names the field and row and nothing is written.
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

#define DIM 8
#define STRICT "strict"
#define LOOSE "loose"
#define ROWS_BEFORE 5
#define MAX_ROWS 16

typedef struct bad_state {
  char *dir;
  vs_db *db;
} bad_state;

/* ---------------------------------------------------------------- fixture */

static vs_schema *make_schema(int dynamic) {
  vs_schema *s = NULL;
  vs_field_def f[] = {
      {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1},
      {.name = "vector", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM,
       .metric = VS_METRIC_L2},
      {.name = "tag", .type = VS_TYPE_VARCHAR, .max_length = 16},
      {.name = "score", .type = VS_TYPE_DOUBLE, .nullable = 1},
      {.name = "flag", .type = VS_TYPE_BOOL},
      {.name = "n", .type = VS_TYPE_INT32},
  };
  assert_int_equal(vs_schema_new(&s), VS_OK);
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    assert_int_equal(vs_schema_add_field(s, &f[i]), VS_OK);
  assert_int_equal(vs_schema_enable_dynamic(s, dynamic), VS_OK);
  return s;
}

/* Columns of a good batch of n rows with ids first..; `skip` names a column
 * to leave out so the test can set a bad one. */
typedef struct batch {
  size_t n;
  int64_t ids[MAX_ROWS];
  float vecs[MAX_ROWS * DIM];
  char tagbuf[MAX_ROWS][32];
  const char *tags[MAX_ROWS];
  double scores[MAX_ROWS];
  uint8_t flags[MAX_ROWS];
  int64_t ns[MAX_ROWS];
} batch;

static void batch_fill(batch *b, size_t n, int64_t first) {
  memset(b, 0, sizeof *b);
  b->n = n;
  for (size_t i = 0; i < n; i++) {
    b->ids[i] = first + (int64_t)i;
    tu_random_floats((uint64_t)b->ids[i], b->vecs + i * DIM, DIM);
    snprintf(b->tagbuf[i], sizeof b->tagbuf[i], "t%" PRId64, b->ids[i]);
    b->tags[i] = b->tagbuf[i];
    b->scores[i] = (double)i * 0.5;
    b->flags[i] = (uint8_t)(i & 1);
    b->ns[i] = (int64_t)i * 3;
  }
}

static vs_rows *batch_rows(const batch *b, const char *skip) {
  vs_rows *rows = NULL;
  assert_int_equal(vs_rows_new(b->n, &rows), VS_OK);
#define SKIP(name) (skip != NULL && strcmp(skip, name) == 0)
  if (!SKIP("id"))
    assert_int_equal(vs_rows_set_int64(rows, "id", b->ids, NULL), VS_OK);
  if (!SKIP("vector"))
    assert_int_equal(vs_rows_set_float_vectors(rows, "vector", b->vecs, DIM),
                     VS_OK);
  if (!SKIP("tag"))
    assert_int_equal(vs_rows_set_strings(rows, "tag", b->tags), VS_OK);
  if (!SKIP("score"))
    assert_int_equal(vs_rows_set_double(rows, "score", b->scores, NULL),
                     VS_OK);
  if (!SKIP("flag"))
    assert_int_equal(vs_rows_set_bool(rows, "flag", b->flags, NULL), VS_OK);
  if (!SKIP("n"))
    assert_int_equal(vs_rows_set_int64(rows, "n", b->ns, NULL), VS_OK);
#undef SKIP
  return rows;
}

static int setup(void **state) {
  bad_state *bs = calloc(1, sizeof *bs);
  if (bs == NULL) return -1;
  bs->dir = tu_make_tmpdir("badinput");
  if (bs->dir == NULL) return -1;
  if (vs_open(bs->dir, NULL, &bs->db) != VS_OK) {
    fprintf(stderr, "vs_open: %s\n", vs_errmsg(NULL));
    return -1;
  }
  *state = bs;
  return 0;
}

static int teardown(void **state) {
  bad_state *bs = *state;
  if (bs == NULL) return 0;
  vs_close(bs->db);
  tu_remove_tree(bs->dir);
  free(bs->dir);
  free(bs);
  return 0;
}

static void create_collections(bad_state *bs) {
  const char *names[] = {STRICT, LOOSE};
  for (int dyn = 0; dyn < 2; dyn++) {
    vs_schema *s = make_schema(dyn);
    vs_status st = vs_create_collection(bs->db, names[dyn], s, NULL);
    if (st != VS_OK) fail_msg("create %s: %s", names[dyn], vs_errmsg(bs->db));
    vs_schema_free(s);
    batch b;
    batch_fill(&b, ROWS_BEFORE, 1000);
    vs_rows *rows = batch_rows(&b, NULL);
    st = vs_insert(bs->db, names[dyn], NULL, rows, NULL);
    if (st != VS_OK) fail_msg("insert %s: %s", names[dyn], vs_errmsg(bs->db));
    vs_rows_free(rows);
  }
}

/* --------------------------------------------------------------- checks */

static void expect_message(const char *what, const char *msg,
                           const char *sub1, const char *sub2) {
  if (sub1 != NULL && strstr(msg, sub1) == NULL)
    fail_msg("%s: message lacks '%s': %s", what, sub1, msg);
  if (sub2 != NULL && strstr(msg, sub2) == NULL)
    fail_msg("%s: message lacks '%s': %s", what, sub2, msg);
}

static void expect_status(const char *what, vs_status got, vs_status want,
                          const char *msg) {
  if (got != want)
    fail_msg("%s: status %s, expected %s (message: %s)", what,
             vs_status_name(got), vs_status_name(want), msg);
}

/* Nothing of the batch (ids[0..n)) is in `coll`, and the count is the
 * fixture's. */
static void expect_nothing_written(bad_state *bs, const char *coll,
                                   const int64_t *ids, size_t n,
                                   const char *what) {
  uint64_t count = 0;
  vs_rows *got = NULL;
  assert_int_equal(vs_count(bs->db, coll, NULL, &count), VS_OK);
  if (count != ROWS_BEFORE)
    fail_msg("%s: count %" PRIu64 " after a failed write, expected %d", what,
             count, ROWS_BEFORE);
  vs_keys k = {.count = n, .int_keys = ids};
  assert_int_equal(vs_get(bs->db, coll, &k, NULL, 0, &got), VS_OK);
  if (vs_rows_count(got) != 0)
    fail_msg("%s: %zu row(s) of the failed batch were written", what,
             vs_rows_count(got));
  vs_rows_free(got);
}

/* vs_insert of `rows` must fail with `want`, naming sub1 and sub2. */
static void expect_insert_fails(bad_state *bs, const char *coll,
                                const char *partition, vs_rows *rows,
                                const int64_t *ids, size_t n, vs_status want,
                                const char *sub1, const char *sub2,
                                const char *what) {
  vs_status st = vs_insert(bs->db, coll, partition, rows, NULL);
  const char *msg = vs_errmsg(bs->db);
  expect_status(what, st, want, msg);
  expect_message(what, msg, sub1, sub2);
  vs_rows_free(rows);
  expect_nothing_written(bs, coll, ids, n, what);
}

/* Parses JSON rows for `coll`; when the parser refuses them it must name
 * sub1/sub2; when it accepts, vs_insert must refuse with `want`. */
static void expect_json_fails(bad_state *bs, const char *coll,
                              const char *json, const int64_t *ids, size_t n,
                              vs_status want, const char *sub1,
                              const char *sub2, const char *what) {
  vs_schema *schema = NULL;
  vs_rows *rows = NULL;
  assert_int_equal(vs_get_schema(bs->db, coll, &schema), VS_OK);
  vs_status st = vs_rows_from_json(schema, json, &rows);
  vs_schema_free(schema);
  if (st != VS_OK) {
    const char *msg = vs_errmsg(bs->db);
    if (st != want && st != VS_ERR_INVALID)
      fail_msg("%s: vs_rows_from_json gave %s: %s", what, vs_status_name(st),
               msg);
    expect_message(what, msg, sub1, sub2);
    assert_null(rows);
    expect_nothing_written(bs, coll, ids, n, what);
    return;
  }
  expect_insert_fails(bs, coll, NULL, rows, ids, n, want, sub1, sub2, what);
}

/* ------------------------------------------------------------ the tests */

static void test_fixture(void **state) {
  bad_state *bs = *state;
  create_collections(bs);
}

static void test_wrong_dimension(void **state) {
  bad_state *bs = *state;
  batch b;
  batch_fill(&b, 4, 1);
  vs_rows *rows = batch_rows(&b, "vector");
  assert_int_equal(vs_rows_set_float_vectors(rows, "vector", b.vecs, DIM - 1),
                   VS_OK);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA,
                      "vector", "8", "column of dim 7");

  const char *json =
      "[{\"id\":1,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\",\"flag\":true,"
      "\"n\":1},"
      "{\"id\":2,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\",\"flag\":true,"
      "\"n\":1},"
      "{\"id\":3,\"vector\":[0,0,0,0,0,0,0],\"tag\":\"a\",\"flag\":true,"
      "\"n\":1}]";
  expect_json_fails(bs, STRICT, json, b.ids, 3, VS_ERR_DATA, "vector",
                    "row 2", "json row 2 of dim 7");
}

static void test_nan_inf(void **state) {
  bad_state *bs = *state;
  const float bad[] = {NAN, INFINITY, -INFINITY};
  const char *names[] = {"NaN vector", "+Inf vector", "-Inf vector"};
  for (int k = 0; k < 3; k++) {
    batch b;
    batch_fill(&b, 6, 1);
    b.vecs[3 * DIM + 5] = bad[k];
    vs_rows *rows = batch_rows(&b, NULL);
    expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA,
                        "vector", "row 3", names[k]);
  }
  batch b;
  batch_fill(&b, 4, 1);
  b.scores[1] = NAN;
  vs_rows *rows = batch_rows(&b, NULL);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA,
                      "score", "row 1", "NaN double");
}

static void test_wrong_types(void **state) {
  bad_state *bs = *state;
  batch b;
  batch_fill(&b, 4, 1);
  /* A Double column for a Bool field. */
  vs_rows *rows = batch_rows(&b, "flag");
  assert_int_equal(vs_rows_set_double(rows, "flag", b.scores, NULL), VS_OK);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA,
                      "flag", NULL, "double column for Bool");
  /* A string column for an Int32 field. */
  rows = batch_rows(&b, "n");
  assert_int_equal(vs_rows_set_strings(rows, "n", b.tags), VS_OK);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA, "'n'",
                      NULL, "string column for Int32");
  /* An Int64 value out of Int32 range in row 2. */
  b.ns[2] = (int64_t)1 << 40;
  rows = batch_rows(&b, NULL);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA, "'n'",
                      "row 2", "Int32 out of range");
  /* A string for the Int64 primary key in JSON row 1. */
  const char *json =
      "[{\"id\":1,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\",\"flag\":true,"
      "\"n\":1},"
      "{\"id\":\"two\",\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\","
      "\"flag\":true,\"n\":1}]";
  expect_json_fails(bs, STRICT, json, b.ids, 2, VS_ERR_DATA, "id", "row 1",
                    "string for Int64 pk");
  /* A string for an Int32 field and a number for a VarChar in JSON. */
  json = "[{\"id\":1,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\","
         "\"flag\":true,\"n\":\"abc\"}]";
  expect_json_fails(bs, STRICT, json, b.ids, 1, VS_ERR_DATA, "'n'", "row 0",
                    "string for Int32");
  json = "[{\"id\":1,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\","
         "\"flag\":true,\"n\":1},"
         "{\"id\":2,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":17,"
         "\"flag\":true,\"n\":1}]";
  expect_json_fails(bs, STRICT, json, b.ids, 2, VS_ERR_DATA, "tag", "row 1",
                    "number for VarChar");
}

static void test_missing_fields(void **state) {
  bad_state *bs = *state;
  batch b;
  batch_fill(&b, 4, 1);
  const char *required[] = {"id", "vector", "tag", "flag", "n"};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "missing column %s", required[i]);
    vs_rows *rows = batch_rows(&b, required[i]);
    expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA,
                        required[i], NULL, what);
  }
  /* A null in a required VarChar (row 2). */
  b.tags[2] = NULL;
  vs_rows *rows = batch_rows(&b, NULL);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA, "tag",
                      "row 2", "null in a required field");
  /* JSON row 1 without "n". */
  const char *json =
      "[{\"id\":1,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\",\"flag\":true,"
      "\"n\":1},"
      "{\"id\":2,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\",\"flag\":true}]";
  expect_json_fails(bs, STRICT, json, b.ids, 2, VS_ERR_DATA, "'n'", "row 1",
                    "json row without n");
}

static void test_nullable_may_be_missing(void **state) {
  bad_state *bs = *state;
  batch b;
  batch_fill(&b, 2, 500);
  vs_rows *rows = batch_rows(&b, "score");
  vs_status st = vs_insert(bs->db, STRICT, NULL, rows, NULL);
  if (st != VS_OK) fail_msg("nullable column left out: %s", vs_errmsg(bs->db));
  vs_rows_free(rows);
  vs_rows *got = NULL;
  const char *const fields[] = {"score"};
  vs_keys k = {.count = 2, .int_keys = b.ids};
  assert_int_equal(vs_get(bs->db, STRICT, &k, fields, 1, &got), VS_OK);
  assert_int_equal(vs_rows_count(got), 2);
  assert_true(vs_rows_is_null(got, "score", 0));
  assert_true(vs_rows_is_null(got, "score", 1));
  vs_rows_free(got);
  uint64_t deleted = 0;
  assert_int_equal(vs_delete(bs->db, STRICT, NULL, &k, &deleted), VS_OK);
  assert_int_equal(deleted, 2);
}

static void test_unknown_fields(void **state) {
  bad_state *bs = *state;
  batch b;
  batch_fill(&b, 3, 1);
  vs_rows *rows = batch_rows(&b, NULL);
  assert_int_equal(vs_rows_set_strings(rows, "colour", b.tags), VS_OK);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA,
                      "colour", NULL, "unknown column");
  const char *json =
      "[{\"id\":1,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\",\"flag\":true,"
      "\"n\":1},"
      "{\"id\":2,\"vector\":[0,0,0,0,0,0,0,0],\"tag\":\"a\",\"flag\":true,"
      "\"n\":1,\"colour\":\"red\"}]";
  expect_json_fails(bs, STRICT, json, b.ids, 2, VS_ERR_DATA, "colour",
                    "row 1", "unknown json key");
}

static void test_dynamic_field_accepts(void **state) {
  bad_state *bs = *state;
  const char *json =
      "[{\"id\":77,\"vector\":[0,0,0,0,0,0,0,1],\"tag\":\"a\",\"flag\":true,"
      "\"n\":1,\"colour\":\"red\",\"size\":3}]";
  vs_schema *schema = NULL;
  vs_rows *rows = NULL;
  assert_int_equal(vs_get_schema(bs->db, LOOSE, &schema), VS_OK);
  vs_status st = vs_rows_from_json(schema, json, &rows);
  vs_schema_free(schema);
  if (st != VS_OK) fail_msg("dynamic json: %s", vs_errmsg(bs->db));
  st = vs_insert(bs->db, LOOSE, NULL, rows, NULL);
  if (st != VS_OK) fail_msg("dynamic insert: %s", vs_errmsg(bs->db));
  vs_rows_free(rows);
  int64_t id = 77;
  vs_keys k = {.count = 1, .int_keys = &id};
  const char *const all[] = {"*"};
  vs_rows *got = NULL;
  assert_int_equal(vs_get(bs->db, LOOSE, &k, all, 1, &got), VS_OK);
  assert_int_equal(vs_rows_count(got), 1);
  const char *meta = NULL;
  size_t len = 0;
  assert_int_equal(vs_rows_get_string(got, "$meta", 0, &meta, &len), VS_OK);
  expect_message("$meta", meta, "\"colour\"", "\"red\"");
  char *text = NULL;
  assert_int_equal(vs_rows_row_to_json(got, 0, &text), VS_OK);
  expect_message("row json", text, "\"colour\"", "\"size\"");
  vs_free(text);
  vs_rows_free(got);
  uint64_t deleted = 0;
  assert_int_equal(vs_delete(bs->db, LOOSE, NULL, &k, &deleted), VS_OK);
  assert_int_equal(deleted, 1);
}

static void test_long_varchar(void **state) {
  bad_state *bs = *state;
  batch b;
  batch_fill(&b, 5, 1);
  strcpy(b.tagbuf[3], "0123456789abcdefg"); /* 17 bytes > 16 */
  vs_rows *rows = batch_rows(&b, NULL);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA, "tag",
                      "row 3", "17-byte VarChar(16)");
  /* Exactly max_length is fine. */
  batch_fill(&b, 1, 600);
  strcpy(b.tagbuf[0], "0123456789abcdef");
  rows = batch_rows(&b, NULL);
  vs_status st = vs_insert(bs->db, STRICT, NULL, rows, NULL);
  if (st != VS_OK) fail_msg("16-byte VarChar(16): %s", vs_errmsg(bs->db));
  vs_rows_free(rows);
  vs_keys k = {.count = 1, .int_keys = b.ids};
  assert_int_equal(vs_delete(bs->db, STRICT, NULL, &k, NULL), VS_OK);
}

static void test_duplicate_keys(void **state) {
  bad_state *bs = *state;
  batch b;
  batch_fill(&b, 4, 1);
  b.ids[3] = 2;
  vs_rows *rows = batch_rows(&b, NULL);
  expect_insert_fails(bs, STRICT, NULL, rows, b.ids, b.n, VS_ERR_DATA, "'id'",
                      "row 3", "duplicate in batch");
  /* Upsert with a duplicate inside the batch is refused too. */
  rows = batch_rows(&b, NULL);
  vs_status st = vs_upsert(bs->db, STRICT, NULL, rows, NULL);
  expect_status("upsert duplicate", st, VS_ERR_DATA, vs_errmsg(bs->db));
  vs_rows_free(rows);
  expect_nothing_written(bs, STRICT, b.ids, b.n, "upsert duplicate");
  /* Against a stored row: id 1002 exists. */
  batch_fill(&b, 4, 1);
  b.ids[2] = 1002;
  rows = batch_rows(&b, NULL);
  int64_t fresh[] = {1, 2, 4};
  expect_insert_fails(bs, STRICT, NULL, rows, fresh, 3, VS_ERR_DATA, "1002",
                      "row 2", "duplicate of a stored row");
  /* The stored row is untouched: its tag is still t1002. */
  int64_t id = 1002;
  vs_keys k = {.count = 1, .int_keys = &id};
  const char *const fields[] = {"tag"};
  vs_rows *got = NULL;
  assert_int_equal(vs_get(bs->db, STRICT, &k, fields, 1, &got), VS_OK);
  assert_int_equal(vs_rows_count(got), 1);
  const char *tag = NULL;
  size_t len = 0;
  assert_int_equal(vs_rows_get_string(got, "tag", 0, &tag, &len), VS_OK);
  assert_string_equal(tag, "t1002");
  vs_rows_free(got);
}

static void test_unknown_collection_partition(void **state) {
  bad_state *bs = *state;
  batch b;
  batch_fill(&b, 2, 1);
  vs_rows *rows = batch_rows(&b, NULL);
  vs_status st = vs_insert(bs->db, "nosuch", NULL, rows, NULL);
  expect_status("insert nosuch", st, VS_ERR_NOT_FOUND, vs_errmsg(bs->db));
  expect_message("insert nosuch", vs_errmsg(bs->db), "nosuch", NULL);
  vs_rows_free(rows);
  uint64_t count = 0;
  st = vs_count(bs->db, "nosuch", NULL, &count);
  expect_status("count nosuch", st, VS_ERR_NOT_FOUND, vs_errmsg(bs->db));
  float q[DIM] = {0};
  vs_search_request req = {.vectors = q, .nq = 1, .dim = DIM, .k = 1};
  vs_result *res = NULL;
  st = vs_search(bs->db, "nosuch", &req, &res);
  expect_status("search nosuch", st, VS_ERR_NOT_FOUND, vs_errmsg(bs->db));
  assert_null(res);
  st = vs_drop_collection(bs->db, "nosuch");
  expect_status("drop nosuch", st, VS_ERR_NOT_FOUND, vs_errmsg(bs->db));

  rows = batch_rows(&b, NULL);
  expect_insert_fails(bs, STRICT, "nopart", rows, b.ids, b.n,
                      VS_ERR_PARTITION_NOT_FOUND, "nopart", NULL,
                      "unknown partition");
  st = vs_count(bs->db, STRICT, "nopart", &count);
  expect_status("count nopart", st, VS_ERR_PARTITION_NOT_FOUND,
                vs_errmsg(bs->db));
  const char *parts[] = {"nopart"};
  req.partitions = parts;
  req.partition_count = 1;
  st = vs_search(bs->db, STRICT, &req, &res);
  expect_status("search nopart", st, VS_ERR_PARTITION_NOT_FOUND,
                vs_errmsg(bs->db));
}

static void test_bad_names(void **state) {
  bad_state *bs = *state;
  char long_name[VS_MAX_NAME + 2];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0'; /* 256 chars */
  const char *bad[] = {"", "1abc", "a-b", "a b", "$meta", "x/y", long_name};
  vs_schema *s = make_schema(0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    vs_status st = vs_create_collection(bs->db, bad[i], s, NULL);
    char what[64];
    snprintf(what, sizeof what, "collection name #%zu", i);
    expect_status(what, st, VS_ERR_INVALID, vs_errmsg(bs->db));
    int has = 1;
    if (bad[i][0] != '\0') {
      st = vs_has_collection(bs->db, bad[i], &has);
      if (st == VS_OK) assert_false(has);
    }
  }
  long_name[VS_MAX_NAME] = '\0'; /* 255 chars: allowed */
  vs_status st = vs_create_collection(bs->db, long_name, s, NULL);
  if (st != VS_OK) fail_msg("255-char name: %s", vs_errmsg(bs->db));
  assert_int_equal(vs_drop_collection(bs->db, long_name), VS_OK);
  st = vs_create_collection(bs->db, STRICT, s, NULL);
  expect_status("create existing", st, VS_ERR_EXISTS, vs_errmsg(bs->db));
  expect_message("create existing", vs_errmsg(bs->db), STRICT, NULL);
  vs_schema_free(s);
  st = vs_create_partition(bs->db, STRICT, "bad name");
  expect_status("partition name", st, VS_ERR_INVALID, vs_errmsg(bs->db));
}

static void test_drop_default_partition(void **state) {
  bad_state *bs = *state;
  vs_status st = vs_drop_partition(bs->db, STRICT, VS_DEFAULT_PARTITION);
  expect_status("drop _default", st, VS_ERR_INVALID, vs_errmsg(bs->db));
  expect_message("drop _default", vs_errmsg(bs->db), "_default", NULL);
  int has = 0;
  assert_int_equal(vs_has_partition(bs->db, STRICT, "_default", &has), VS_OK);
  assert_true(has);
  uint64_t count = 0;
  assert_int_equal(vs_count(bs->db, STRICT, NULL, &count), VS_OK);
  assert_int_equal(count, ROWS_BEFORE);
  st = vs_create_partition(bs->db, STRICT, "_default");
  expect_status("create _default", st, VS_ERR_EXISTS, vs_errmsg(bs->db));
}

static vs_status search(bad_state *bs, const float *q, size_t nq,
                        uint32_t dim, uint32_t k) {
  vs_search_request req = {.vectors = q, .nq = nq, .dim = dim, .k = k};
  vs_result *res = NULL;
  vs_status st = vs_search(bs->db, STRICT, &req, &res);
  if (st != VS_OK) assert_null(res);
  vs_result_free(res);
  return st;
}

static void test_search_limits(void **state) {
  bad_state *bs = *state;
  size_t big = (size_t)VS_MAX_NQ + 1;
  float *q = calloc(big * DIM, sizeof *q);
  assert_non_null(q);
  vs_status st = search(bs, q, big, DIM, 10);
  expect_status("nq 16385", st, VS_ERR_LIMIT, vs_errmsg(bs->db));
  expect_message("nq 16385", vs_errmsg(bs->db), "16384", NULL);
  st = search(bs, q, 2, DIM, VS_MAX_TOPK + 1);
  expect_status("k 16385", st, VS_ERR_LIMIT, vs_errmsg(bs->db));
  expect_message("k 16385", vs_errmsg(bs->db), "16384", NULL);
  st = search(bs, q, 2, DIM, 0); /* out of the range 1..16384 */
  expect_status("k 0", st, VS_ERR_LIMIT, vs_errmsg(bs->db));
  expect_message("k 0", vs_errmsg(bs->db), "k", "16384");
  st = search(bs, q, 0, DIM, 10);
  expect_status("nq 0", st, VS_ERR_LIMIT, vs_errmsg(bs->db));
  expect_message("nq 0", vs_errmsg(bs->db), "nq", "16384");
  st = search(bs, q, 2, DIM + 1, 10);
  expect_status("dim 9", st, VS_ERR_INVALID, vs_errmsg(bs->db));
  expect_message("dim 9", vs_errmsg(bs->db), "vector", "8");
  q[DIM + 2] = NAN;
  st = search(bs, q, 2, DIM, 10);
  expect_status("NaN query", st, VS_ERR_INVALID, vs_errmsg(bs->db));
  q[DIM + 2] = 0;
  /* The limits themselves are allowed: nq = 16384 queries, and k = 16384
   * (over 5 rows it gives 5 hits).  Both at once pass the engine's cap on
   * results per call (nq x k <= 16,777,216 = 16384 x 1024). */
  vs_search_request req = {.vectors = q, .nq = VS_MAX_NQ, .dim = DIM,
                           .k = 10};
  vs_result *res = NULL;
  st = vs_search(bs->db, STRICT, &req, &res);
  if (st != VS_OK) fail_msg("nq=16384: %s", vs_errmsg(bs->db));
  assert_int_equal(vs_result_nq(res), VS_MAX_NQ);
  assert_int_equal(vs_result_hits(res, VS_MAX_NQ - 1), ROWS_BEFORE);
  vs_result_free(res);
  req.nq = 1;
  req.k = VS_MAX_TOPK;
  st = vs_search(bs->db, STRICT, &req, &res);
  if (st != VS_OK) fail_msg("k=16384: %s", vs_errmsg(bs->db));
  assert_int_equal(vs_result_hits(res, 0), ROWS_BEFORE);
  vs_result_free(res);
  res = NULL;
  req.nq = VS_MAX_NQ;
  st = vs_search(bs->db, STRICT, &req, &res);
  expect_status("nq x k", st, VS_ERR_LIMIT, vs_errmsg(bs->db));
  assert_null(res);
  vs_result_free(res);
  free(q);
}

static void test_too_many_rows(void **state) {
  bad_state *bs = *state;
  /* The engine caps rows per vs_insert at VS_MAX_INSERT_ROWS; one more
   * row must be VS_ERR_LIMIT. */
  size_t n = (size_t)VS_MAX_INSERT_ROWS + 1;
  int64_t *ids = malloc(n * sizeof *ids);
  float *vecs = calloc(n * DIM, sizeof *vecs);
  const char **tags = malloc(n * sizeof *tags);
  uint8_t *flags = calloc(n, 1);
  int64_t *ns = calloc(n, sizeof *ns);
  assert_true(ids && vecs && tags && flags && ns);
  for (size_t i = 0; i < n; i++) {
    ids[i] = 100000 + (int64_t)i;
    tags[i] = "x";
  }
  vs_rows *rows = NULL;
  assert_int_equal(vs_rows_new(n, &rows), VS_OK);
  assert_int_equal(vs_rows_set_int64(rows, "id", ids, NULL), VS_OK);
  assert_int_equal(vs_rows_set_float_vectors(rows, "vector", vecs, DIM),
                   VS_OK);
  assert_int_equal(vs_rows_set_strings(rows, "tag", tags), VS_OK);
  assert_int_equal(vs_rows_set_bool(rows, "flag", flags, NULL), VS_OK);
  assert_int_equal(vs_rows_set_int64(rows, "n", ns, NULL), VS_OK);
  expect_insert_fails(bs, STRICT, NULL, rows, ids, 100, VS_ERR_LIMIT, "rows",
                      NULL, "too many rows");
  free(ids);
  free(vecs);
  free(tags);
  free(flags);
  free(ns);
}

static void test_bad_schemas(void **state) {
  bad_state *bs = *state;
  (void)bs;
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_new(&s), VS_OK);
  vs_field_def dim0 = {.name = "v", .type = VS_TYPE_FLOAT_VECTOR, .dim = 0};
  vs_field_def dimbig = {.name = "v", .type = VS_TYPE_FLOAT_VECTOR,
                         .dim = VS_MAX_DIM + 1};
  vs_field_def vc0 = {.name = "s", .type = VS_TYPE_VARCHAR, .max_length = 0};
  vs_field_def vcbig = {.name = "s", .type = VS_TYPE_VARCHAR,
                        .max_length = VS_MAX_VARCHAR + 1};
  vs_field_def badname = {.name = "9lives", .type = VS_TYPE_INT64};
  vs_field_def pkfloat = {.name = "p", .type = VS_TYPE_FLOAT,
                          .is_primary = 1};
  const vs_field_def *bad[] = {&dim0, &dimbig, &vc0, &vcbig, &badname,
                               &pkfloat};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    vs_status st = vs_schema_add_field(s, bad[i]);
    if (st == VS_OK) fail_msg("bad field #%zu (%s) accepted", i, bad[i]->name);
    expect_message("bad field", vs_errmsg(NULL), bad[i]->name, NULL);
  }
  assert_int_equal(vs_schema_field_count(s), 0);
  /* No vector field: the schema is refused as a whole. */
  vs_field_def pk = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  assert_int_equal(vs_schema_add_field(s, &pk), VS_OK);
  assert_int_not_equal(vs_schema_validate(s), VS_OK);
  assert_int_not_equal(vs_create_collection(bs->db, "novector", s, NULL),
                       VS_OK);
  vs_schema_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture),
      cmocka_unit_test(test_wrong_dimension),
      cmocka_unit_test(test_nan_inf),
      cmocka_unit_test(test_wrong_types),
      cmocka_unit_test(test_missing_fields),
      cmocka_unit_test(test_nullable_may_be_missing),
      cmocka_unit_test(test_unknown_fields),
      cmocka_unit_test(test_dynamic_field_accepts),
      cmocka_unit_test(test_long_varchar),
      cmocka_unit_test(test_duplicate_keys),
      cmocka_unit_test(test_unknown_collection_partition),
      cmocka_unit_test(test_bad_names),
      cmocka_unit_test(test_drop_default_partition),
      cmocka_unit_test(test_search_limits),
      cmocka_unit_test(test_too_many_rows),
      cmocka_unit_test(test_bad_schemas),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
