/*
 * test_fixtures.c -- every released on-disk format must stay readable.
 *
 * tests/fixtures/v<version>/ holds a data directory written by that release
 * (`test_fixtures --write DIR` made it: see make_fixture below).  The test
 * copies it to a temporary directory (opening recovers the WAL tail, which
 * writes) and checks every row of every collection against values that are
 * pure functions of the row id, searches through the stored indexes, and
 * runs `vectorstore check` on it.
 *
 * The fixture covers: every scalar type, nulls, defaults, JSON, Array, the
 * dynamic field, an Int64 and a VarChar primary key, a second partition,
 * sealed segments with a deletes file, HNSW and IVF_FLAT index files, and
 * a WAL tail that was never checkpointed (the writer exited without
 * closing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/testutil.h"
#include "vectorstore.h"

#define FIXTURE_VERSION "v0.1.0"
#define DIM 8
#define SEALED_ROWS 300
#define TAIL_ROWS 20
#define PART_ROWS 10
#define STR_ROWS 50

/* --------------------------------------------------------- the content */

static void row_vector(int64_t id, float *v) {
  for (int d = 0; d < DIM; d++) v[d] = (float)((id * 7 + d * 3) % 17) * 0.25f;
}

static bool deleted(int64_t id) { return id % 30 == 7; }

/* The JSON object of row `id` as inserted. */
static char *row_json(int64_t id) {
  char buf[1024];
  char vec[256] = "";
  float v[DIM];
  row_vector(id, v);
  for (int d = 0; d < DIM; d++) {
    char one[32];
    snprintf(one, sizeof one, "%s%g", d ? "," : "", (double)v[d]);
    strcat(vec, one);
  }
  char s_field[64];
  if (id % 5 == 0) {
    snprintf(s_field, sizeof s_field, "null");
  } else {
    snprintf(s_field, sizeof s_field, "\"name-%lld\"", (long long)id);
  }
  snprintf(buf, sizeof buf,
           "{\"id\":%lld,\"vector\":[%s],\"b\":%s,\"i8\":%lld,\"i16\":%lld,\"i32\":%lld,"
           "\"i64\":%lld,\"f\":%g,\"d\":%g,\"s\":%s,\"j\":{\"k\":%lld,\"tags\":[\"x\",\"y\"]},"
           "\"a\":[%lld,%lld],\"extra\":\"dyn-%lld\"%s}",
           (long long)id, vec, id % 2 ? "true" : "false", (long long)(id % 100 - 50),
           (long long)(id * 3 - 400), (long long)(id * 1000), (long long)id * 1000000007LL,
           (double)id * 0.5, (double)id * 0.125, s_field, (long long)id, (long long)id, (long long)-id,
           (long long)id, id % 11 == 0 ? "" : ",\"n\":3");
  return strdup(buf);
}

/* The row as read back: the default of "n" (42) appears where it was left
 * out. */
static json_t *expected_row(int64_t id) {
  char *text = row_json(id);
  json_error_t err;
  json_t *o = json_loads(text, 0, &err);
  free(text);
  if (!json_object_get(o, "n")) json_object_set_new(o, "n", json_integer(42));
  return o;
}

static char *str_row_json(int i) {
  char buf[256];
  snprintf(buf, sizeof buf, "{\"key\":\"k%03d\",\"emb\":[%d,1,%d,0.5]}", i, i % 7 + 1, i % 3);
  return strdup(buf);
}

/* --------------------------------------------------------- the writer */

static vs_schema *all_types_schema(void) {
  vs_schema *s = NULL;
  vs_field_def f[] = {
      {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1},
      {.name = "vector", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_L2},
      {.name = "b", .type = VS_TYPE_BOOL},
      {.name = "i8", .type = VS_TYPE_INT8},
      {.name = "i16", .type = VS_TYPE_INT16},
      {.name = "i32", .type = VS_TYPE_INT32},
      {.name = "i64", .type = VS_TYPE_INT64},
      {.name = "f", .type = VS_TYPE_FLOAT},
      {.name = "d", .type = VS_TYPE_DOUBLE},
      {.name = "s", .type = VS_TYPE_VARCHAR, .max_length = 32, .nullable = 1},
      {.name = "j", .type = VS_TYPE_JSON},
      {.name = "a", .type = VS_TYPE_ARRAY, .element_type = VS_TYPE_INT64, .max_capacity = 4},
      {.name = "n", .type = VS_TYPE_INT32, .default_json = "42"},
  };
  vs_schema_new(&s);
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) vs_schema_add_field(s, &f[i]);
  vs_schema_enable_dynamic(s, 1);
  return s;
}

static vs_status insert_json(vs_db *db, const char *coll, const char *part, vs_schema *s,
                             int64_t first, int64_t count, char *(*make)(int64_t)) {
  size_t cap = 64 + (size_t)count * 1024;
  char *text = malloc(cap);
  vs_rows *rows = NULL;
  strcpy(text, "[");
  for (int64_t i = 0; i < count; i++) {
    char *row = make(first + i);
    if (i) strcat(text, ",");
    strcat(text, row);
    free(row);
  }
  strcat(text, "]");
  vs_status st = vs_rows_from_json(s, text, &rows);
  if (st == VS_OK) st = vs_insert(db, coll, part, rows, NULL);
  if (st != VS_OK) fprintf(stderr, "fixture insert: %s\n", vs_errmsg(db));
  vs_rows_free(rows);
  free(text);
  return st;
}

static char *str_row_of(int64_t i) { return str_row_json((int)i); }

static int make_fixture(const char *dir) {
  vs_options opt;
  vs_db *db = NULL;
  vs_options_init(&opt);
  if (vs_open(dir, &opt, &db) != VS_OK) return 1;
  vs_schema *s = all_types_schema();
  vs_collection_options co = {.shards = 2};
  if (vs_create_collection(db, "all_types", s, &co) != VS_OK) return 1;
  if (vs_create_partition(db, "all_types", "p1") != VS_OK) return 1;
  if (insert_json(db, "all_types", NULL, s, 0, SEALED_ROWS, row_json) != VS_OK) return 1;
  if (insert_json(db, "all_types", "p1", s, 10000, PART_ROWS, row_json) != VS_OK) return 1;
  if (vs_flush(db, "all_types") != VS_OK) return 1;
  for (int64_t id = 0; id < SEALED_ROWS; id++) {
    vs_keys k = {.count = 1, .int_keys = &id};
    if (deleted(id) && vs_delete(db, "all_types", NULL, &k, NULL) != VS_OK) return 1;
  }
  if (vs_create_index(db, "all_types", NULL, "HNSW", "{\"M\":8,\"efConstruction\":64}") != VS_OK) return 1;
  if (vs_flush(db, "all_types") != VS_OK) return 1;
  if (vs_wait_for_index(db, "all_types", NULL, 60000) != VS_OK) return 1;
  vs_schema *t = NULL;
  vs_field_def key = {.name = "key", .type = VS_TYPE_VARCHAR, .is_primary = 1, .max_length = 16};
  vs_field_def emb = {.name = "emb", .type = VS_TYPE_FLOAT_VECTOR, .dim = 4, .metric = VS_METRIC_COSINE};
  vs_schema_new(&t);
  vs_schema_add_field(t, &key);
  vs_schema_add_field(t, &emb);
  if (vs_create_collection(db, "varchar_pk", t, NULL) != VS_OK) return 1;
  if (insert_json(db, "varchar_pk", NULL, t, 0, STR_ROWS, str_row_of) != VS_OK) return 1;
  if (vs_create_index(db, "varchar_pk", NULL, "IVF_FLAT", "{\"nlist\":4}") != VS_OK) return 1;
  if (vs_flush(db, "varchar_pk") != VS_OK) return 1;
  if (vs_wait_for_index(db, "varchar_pk", NULL, 60000) != VS_OK) return 1;
  /* The WAL tail: written, acknowledged, never checkpointed. */
  if (insert_json(db, "all_types", NULL, s, SEALED_ROWS, TAIL_ROWS, row_json) != VS_OK) return 1;
  _exit(0);
}

/* --------------------------------------------------------- the checks */

/* json_equal, except that 1 and 1.0 are the same number. */
static bool same_json(json_t *a, json_t *b) {
  if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
  if (json_is_array(a) && json_is_array(b)) {
    if (json_array_size(a) != json_array_size(b)) return false;
    for (size_t i = 0; i < json_array_size(a); i++) {
      if (!same_json(json_array_get(a, i), json_array_get(b, i))) return false;
    }
    return true;
  }
  if (json_is_object(a) && json_is_object(b)) {
    const char *key;
    json_t *value;
    if (json_object_size(a) != json_object_size(b)) return false;
    json_object_foreach(a, key, value) {
      if (!same_json(value, json_object_get(b, key))) return false;
    }
    return true;
  }
  return json_equal(a, b);
}

static void check_row(vs_db *db, int64_t id) {
  vs_keys k = {.count = 1, .int_keys = &id};
  const char *all[] = {"*"};
  vs_rows *rows = NULL;
  char *text = NULL;
  json_error_t err;
  assert_int_equal(vs_get(db, "all_types", &k, all, 1, &rows), VS_OK);
  assert_int_equal(vs_rows_count(rows), 1);
  assert_int_equal(vs_rows_row_to_json(rows, 0, &text), VS_OK);
  json_t *got = json_loads(text, 0, &err);
  json_t *want = expected_row(id);
  if (!same_json(got, want)) fprintf(stderr, "row %lld: got %s\n", (long long)id, text);
  assert_true(same_json(got, want));
  json_decref(got);
  json_decref(want);
  vs_free(text);
  vs_rows_free(rows);
}

static void check_all_types(vs_db *db) {
  uint64_t n = 0, expect = 0;
  for (int64_t id = 0; id < SEALED_ROWS; id++) expect += !deleted(id);
  expect += TAIL_ROWS + PART_ROWS;
  assert_int_equal(vs_count(db, "all_types", NULL, &n), VS_OK);
  assert_int_equal(n, expect);
  assert_int_equal(vs_count(db, "all_types", "p1", &n), VS_OK);
  assert_int_equal(n, PART_ROWS);
  for (int64_t id = 0; id < SEALED_ROWS + TAIL_ROWS; id++) {
    if (!deleted(id)) check_row(db, id);
  }
  for (int64_t id = 10000; id < 10000 + PART_ROWS; id++) check_row(db, id);
  /* Through the stored HNSW index: each row finds itself at distance 0. */
  for (int64_t id = 1; id < SEALED_ROWS; id += 37) {
    float v[DIM];
    row_vector(id, v);
    vs_search_request req = {.vectors = v, .nq = 1, .dim = DIM, .k = 3, .params_json = "{\"ef\":64}"};
    vs_result *res = NULL;
    assert_int_equal(vs_search(db, "all_types", &req, &res), VS_OK);
    assert_true(vs_result_distance(res, 0, 0) == 0.0f);
    vs_result_free(res);
  }
  char *json = NULL;
  assert_int_equal(vs_describe_index(db, "all_types", NULL, &json), VS_OK);
  assert_non_null(strstr(json, "\"HNSW\""));
  vs_free(json);
}

static void check_varchar_pk(vs_db *db) {
  uint64_t n = 0;
  assert_int_equal(vs_count(db, "varchar_pk", NULL, &n), VS_OK);
  assert_int_equal(n, STR_ROWS);
  const char *keys[] = {"k000", "k017", "k049"};
  vs_keys k = {.count = 3, .str_keys = keys};
  const char *out[] = {"emb"};
  vs_rows *rows = NULL;
  assert_int_equal(vs_get(db, "varchar_pk", &k, out, 1, &rows), VS_OK);
  assert_int_equal(vs_rows_count(rows), 3);
  const float *v = NULL;
  uint32_t dim = 0;
  assert_int_equal(vs_rows_get_float_vector(rows, "emb", 1, &v, &dim), VS_OK);
  assert_int_equal(dim, 4);
  assert_true(v[0] == (float)(17 % 7 + 1) && v[2] == (float)(17 % 3) && v[3] == 0.5f);
  vs_rows_free(rows);
}

static void test_fixture_opens(void **state) {
  (void)state;
  const char *src = getenv("VS_SOURCE_DIR");
  assert_non_null(src);
  char fixture[1024];
  snprintf(fixture, sizeof fixture, "%s/tests/fixtures/%s", src, FIXTURE_VERSION);
  char *dir = tu_make_tmpdir("fixture");
  char *copy = tu_join(dir, "db");
  assert_int_equal(tu_copy_tree(fixture, copy), 0);
  vs_db *db = NULL;
  vs_options opt;
  vs_options_init(&opt);
  vs_status st = vs_open(copy, &opt, &db);
  if (st != VS_OK) fprintf(stderr, "open: %s\n", vs_errmsg(NULL));
  assert_int_equal(st, VS_OK);
  check_all_types(db);
  check_varchar_pk(db);
  assert_int_equal(vs_close(db), VS_OK);
  assert_int_equal(vs_check(copy, NULL, NULL), VS_OK);
  tu_remove_tree(dir);
  free(copy);
  free(dir);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write") == 0) return make_fixture(argv[2]);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fixture_opens)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
