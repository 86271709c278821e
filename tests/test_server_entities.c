/*
 * test_server_entities.c -- black-box tests of /v2/vectordb/entities/...:
 * the real `vectorstore serve` binary on a loopback port (testserver.h),
 * collections created through /collections/create, every request a real
 * HTTP POST.  Expected distances and fused scores are computed here from
 * the spec's formulas (section 5.4, 7), never read back from the server.
 *
 * One server serves the whole file; each test uses its own collections.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testserver.h"

static ts_server srv;

static int group_setup(void **state) {
  (void)state;
  return ts_start(&srv, NULL, NULL, NULL) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  int rc = ts_stop(&srv);
  ts_destroy(&srv, 0);
  return rc == 0 ? 0 : -1;
}

/* Per-test setup: a test that crashed the server fails alone; the next
 * one restarts it over the same data directory. */
static int revive(void **state) {
  (void)state;
  if (srv.pid > 0 && ts_wait_exit(&srv, 0) == -2) return 0;
  fprintf(stderr, "server is down: restarting it\n");
  char *dir = strdup(srv.data_dir);
  ts_destroy(&srv, 1);
  int rc = ts_start(&srv, dir, NULL, NULL);
  free(dir);
  return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- helpers */

/* When a request fails at the HTTP level, the server's last words. */
static void print_log_tail(const char *path, long status) {
  char *log = ts_read_log(&srv);
  size_t len = log ? strlen(log) : 0;
  fprintf(stderr, "%s: HTTP %ld; server log tail:\n%s\n", path, status,
          log ? log + (len > 3000 ? len - 3000 : 0) : "(none)");
  free(log);
}

/* POST with optional headers; the parsed envelope (asserted to exist). */
static json_t *post_h(const char *path, const char *const *headers, const char *fmt, va_list ap) {
  char *body = NULL;
  assert_true(vasprintf(&body, fmt, ap) >= 0);
  char full[256];
  snprintf(full, sizeof full, "/v2/vectordb%s", path);
  ts_response r;
  int rc = ts_request(&srv, "POST", full, body, strlen(body), headers, &r);
  if (rc != 0 || r.status != 200) print_log_tail(path, r.status);
  assert_int_equal(rc, 0);
  assert_int_equal(r.status, 200);
  json_t *env = r.json;
  r.json = NULL;
  if (!env) fprintf(stderr, "not JSON: %s\n", r.body);
  assert_non_null(env);
  ts_response_free(&r);
  free(body);
  return env;
}

static json_t *call(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *call(const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  json_t *env = post_h(path, NULL, fmt, ap);
  va_end(ap);
  return env;
}

/* Accept-Type-Allow-Int64: false (as the Node SDK sends by default). */
static json_t *call_str64(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *call_str64(const char *path, const char *fmt, ...) {
  static const char *const headers[] = {"Accept-Type-Allow-Int64: false", NULL};
  va_list ap;
  va_start(ap, fmt);
  json_t *env = post_h(path, headers, fmt, ap);
  va_end(ap);
  return env;
}

static void show(const char *what, const json_t *env) {
  char *text = json_dumps(env, JSON_COMPACT);
  fprintf(stderr, "%s: %s\n", what, text ? text : "(null)");
  free(text);
}

/* Asserts the envelope's code, printing it when it differs. */
static void expect_code(json_t *env, long code) {
  if (ts_code(env) != code) show("unexpected envelope", env);
  assert_int_equal(ts_code(env), code);
}

/* Runs a call that must succeed and returns its `data` (env in *keep). */
static json_t *ok(json_t *env, json_t **keep) {
  expect_code(env, 0);
  *keep = env;
  return json_object_get(env, "data");
}

static void call_ok(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void call_ok(const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  json_t *env = post_h(path, NULL, fmt, ap);
  va_end(ap);
  expect_code(env, 0);
  json_decref(env);
}

static void call_code(long code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_code(long code, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  json_t *env = post_h(path, NULL, fmt, ap);
  va_end(ap);
  expect_code(env, code);
  assert_null(json_object_get(env, "data"));
  assert_true(json_is_string(json_object_get(env, "message")));
  json_decref(env);
}

/* Quick-setup collection: pk "id" Int64, "vector" FloatVector, dynamic. */
static void create_quick(const char *name, int dim, const char *metric) {
  call_ok("/collections/create",
          "{\"collectionName\":\"%s\",\"dimension\":%d,\"metricType\":\"%s\"}", name, dim, metric);
}

static long long count_rows(const char *name) {
  json_t *env;
  json_t *data = ok(call("/entities/query", "{\"collectionName\":\"%s\",\"outputFields\":"
                         "[\"count(*)\"]}", name), &env);
  long long n = json_integer_value(json_object_get(json_array_get(data, 0), "count(*)"));
  json_decref(env);
  return n;
}

/* The distance of hit i, and its integer key `pk`. */
static double hit_dist(const json_t *data, size_t i) {
  return json_number_value(json_object_get(json_array_get(data, i), "distance"));
}

static long long hit_id(const json_t *data, size_t i, const char *pk) {
  return json_integer_value(json_object_get(json_array_get(data, i), pk));
}

/* 10 rows: id i, vector [i, 0], color red/blue, n = i. */
static void fill_line(const char *name) {
  char rows[4096];
  size_t len = 0;
  for (int i = 0; i < 10; i++) {
    len += (size_t)snprintf(rows + len, sizeof rows - len,
                            "%s{\"id\":%d,\"vector\":[%d,0],\"color\":\"%s\",\"n\":%d}",
                            i ? "," : "", i, i, i % 2 ? "blue" : "red", i);
  }
  json_t *env;
  json_t *data = ok(call("/entities/insert", "{\"collectionName\":\"%s\",\"data\":[%s]}", name,
                         rows), &env);
  assert_int_equal(json_integer_value(json_object_get(data, "insertCount")), 10);
  json_decref(env);
}

/* ------------------------------------------------------ insert, get, Int64 */

static void test_insert_ids_and_int64_rendering(void **state) {
  (void)state;
  create_quick("ent_int64", 2, "L2");
  json_t *env;
  json_t *data = ok(call("/entities/insert", "{\"collectionName\":\"ent_int64\",\"data\":["
                         "{\"id\":1,\"vector\":[1,0]},"
                         "{\"id\":\"9007199254740993\",\"vector\":[0,1]}]}"), &env);
  assert_int_equal(json_integer_value(json_object_get(data, "insertCount")), 2);
  json_t *ids = json_object_get(data, "insertIds");
  assert_int_equal(json_integer_value(json_array_get(ids, 0)), 1);
  assert_true(json_integer_value(json_array_get(ids, 1)) == 9007199254740993LL);
  assert_int_equal(json_integer_value(json_object_get(env, "cost")), 0);
  json_decref(env);

  data = ok(call_str64("/entities/insert", "{\"collectionName\":\"ent_int64\",\"data\":["
                       "{\"id\":-5,\"vector\":[1,1]}]}"), &env);
  assert_string_equal(json_string_value(json_array_get(json_object_get(data, "insertIds"), 0)), "-5");
  json_decref(env);

  data = ok(call_str64("/entities/get", "{\"collectionName\":\"ent_int64\",\"id\":"
                       "[\"9007199254740993\"]}"), &env);
  assert_int_equal(json_array_size(data), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(data, 0), "id")),
                      "9007199254740993");
  json_decref(env);

  data = ok(call("/entities/get", "{\"collectionName\":\"ent_int64\",\"id\":9007199254740993}"),
            &env);
  assert_true(json_integer_value(json_object_get(json_array_get(data, 0), "id")) ==
              9007199254740993LL);
  json_t *vec = json_object_get(json_array_get(data, 0), "vector");
  assert_int_equal(json_array_size(vec), 2);
  assert_true(json_number_value(json_array_get(vec, 1)) == 1.0);
  json_decref(env);

  /* count(*) follows the Int64 rule too */
  data = ok(call_str64("/entities/query", "{\"collectionName\":\"ent_int64\",\"outputFields\":"
                       "[\"count(*)\"]}"), &env);
  assert_string_equal(json_string_value(json_object_get(json_array_get(data, 0), "count(*)")), "3");
  json_decref(env);
}

static void test_autoid_insert(void **state) {
  (void)state;
  call_ok("/collections/create", "{\"collectionName\":\"ent_auto\",\"dimension\":2,"
          "\"autoID\":true}");
  json_t *env;
  json_t *data = ok(call("/entities/insert", "{\"collectionName\":\"ent_auto\",\"data\":["
                         "{\"vector\":[1,0]},{\"vector\":[0,1]},{\"vector\":[1,1]}]}"), &env);
  json_t *ids = json_object_get(data, "insertIds");
  assert_int_equal(json_array_size(ids), 3);
  long long first = json_integer_value(json_array_get(ids, 0));
  assert_int_equal(json_integer_value(json_array_get(ids, 2)), first + 2);
  json_t *got;
  json_t *rows = ok(call("/entities/get", "{\"collectionName\":\"ent_auto\",\"id\":[%lld,%lld],"
                         "\"outputFields\":[\"vector\"]}", first, first + 2), &got);
  assert_int_equal(json_array_size(rows), 2);
  json_decref(got);
  json_decref(env);
  /* the pk must be absent on insert when autoID */
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_auto\",\"data\":["
            "{\"id\":5,\"vector\":[1,0]}]}");
}

/* Every value type in, and the same values out (3.x shapes). */
static const char types_schema[] =
    "{\"collectionName\":\"ent_types\",\"schema\":{\"enableDynamicField\":true,\"fields\":["
    "{\"fieldName\":\"pk\",\"dataType\":\"Int64\",\"isPrimary\":true},"
    "{\"fieldName\":\"b\",\"dataType\":\"Bool\"},"
    "{\"fieldName\":\"i8\",\"dataType\":\"Int8\"},"
    "{\"fieldName\":\"i16\",\"dataType\":\"Int16\"},"
    "{\"fieldName\":\"i32\",\"dataType\":\"Int32\"},"
    "{\"fieldName\":\"i64\",\"dataType\":\"Int64\"},"
    "{\"fieldName\":\"f\",\"dataType\":\"Float\"},"
    "{\"fieldName\":\"d\",\"dataType\":\"Double\"},"
    "{\"fieldName\":\"s\",\"dataType\":\"VarChar\",\"elementTypeParams\":{\"max_length\":32}},"
    "{\"fieldName\":\"j\",\"dataType\":\"JSON\"},"
    "{\"fieldName\":\"ai\",\"dataType\":\"Array\",\"elementDataType\":\"Int64\","
    "\"elementTypeParams\":{\"max_capacity\":8}},"
    "{\"fieldName\":\"as\",\"dataType\":\"Array\",\"elementDataType\":\"VarChar\","
    "\"elementTypeParams\":{\"max_capacity\":8,\"max_length\":8}},"
    "{\"fieldName\":\"nul\",\"dataType\":\"Int32\",\"nullable\":true},"
    "{\"fieldName\":\"def\",\"dataType\":\"Int64\",\"defaultValue\":7},"
    "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":3}}]},"
    "\"indexParams\":[{\"fieldName\":\"v\",\"indexName\":\"v\",\"metricType\":\"L2\"}]}";

static void check_type_row0(const json_t *row, bool str64) {
  assert_true(json_is_true(json_object_get(row, "b")));
  assert_int_equal(json_integer_value(json_object_get(row, "i8")), 127);
  assert_int_equal(json_integer_value(json_object_get(row, "i16")), -32768);
  assert_int_equal(json_integer_value(json_object_get(row, "i32")), 2147483647);
  if (str64) {
    assert_string_equal(json_string_value(json_object_get(row, "i64")), "-9007199254740993");
    assert_string_equal(json_string_value(json_object_get(row, "pk")), "1");
  } else {
    assert_true(json_integer_value(json_object_get(row, "i64")) == -9007199254740993LL);
  }
  assert_true(json_real_value(json_object_get(row, "f")) == 0.1); /* shortest float32 */
  assert_true(json_real_value(json_object_get(row, "d")) == 0.1);
  assert_string_equal(json_string_value(json_object_get(row, "s")), "h\xc3\xa9llo");
  json_t *want = json_loads("{\"a\":[1,2.5],\"b\":null}", 0, NULL);
  assert_true(json_equal(json_object_get(row, "j"), want));
  json_decref(want);
  want = json_loads("[1,2,3]", 0, NULL);
  assert_true(json_equal(json_object_get(row, "ai"), want));
  json_decref(want);
  want = json_loads("[\"x\",\"y\"]", 0, NULL);
  assert_true(json_equal(json_object_get(row, "as"), want));
  json_decref(want);
  assert_true(json_is_null(json_object_get(row, "nul")));
  assert_true(json_object_get(row, "def") != NULL);
  want = json_loads("{\"z\":true}", 0, NULL);
  assert_true(json_equal(json_object_get(row, "extra"), want));
  json_decref(want);
  json_t *v = json_object_get(row, "v");
  assert_true(json_real_value(json_array_get(v, 0)) == 0.1);
  assert_true(json_number_value(json_array_get(v, 2)) == -3.0);
}

static void test_value_types_roundtrip(void **state) {
  (void)state;
  call_ok("/collections/create", "%s", types_schema);
  call_ok("/entities/insert", "{\"collectionName\":\"ent_types\",\"data\":["
          "{\"pk\":1,\"b\":true,\"i8\":127,\"i16\":-32768,\"i32\":2147483647,"
          "\"i64\":\"-9007199254740993\",\"f\":0.1,\"d\":0.1,\"s\":\"h\\u00e9llo\","
          "\"j\":{\"a\":[1,2.5],\"b\":null},\"ai\":[1,2,3],\"as\":[\"x\",\"y\"],"
          "\"v\":[0.1,0.2,-3],\"extra\":{\"z\":true}},"
          "{\"pk\":2,\"b\":false,\"i8\":-1,\"i16\":0,\"i32\":0,\"i64\":0,\"f\":1e30,"
          "\"d\":-2.5e300,\"s\":\"\",\"j\":\"{\\\"k\\\":1}\",\"ai\":[],\"as\":[\"z\"],\"nul\":5,"
          "\"def\":9,\"v\":[0,0,0]}]}");
  json_t *env;
  json_t *data = ok(call("/entities/get", "{\"collectionName\":\"ent_types\",\"id\":[1,2],"
                         "\"outputFields\":[\"*\"]}"), &env);
  assert_int_equal(json_array_size(data), 2);
  check_type_row0(json_array_get(data, 0), false);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(data, 0), "def")), 7);
  const json_t *row1 = json_array_get(data, 1);
  assert_true(json_is_false(json_object_get(row1, "b")));
  assert_true(json_real_value(json_object_get(row1, "f")) == 1e30);
  assert_true(json_real_value(json_object_get(row1, "d")) == -2.5e300);
  json_t *want = json_loads("{\"k\":1}", 0, NULL);
  assert_true(json_equal(json_object_get(row1, "j"), want)); /* a JSON string is a document */
  json_decref(want);
  assert_int_equal(json_array_size(json_object_get(row1, "ai")), 0);
  assert_int_equal(json_array_size(json_object_get(row1, "as")), 1);
  assert_int_equal(json_integer_value(json_object_get(row1, "nul")), 5);
  assert_int_equal(json_integer_value(json_object_get(row1, "def")), 9);
  json_decref(env);

  data = ok(call_str64("/entities/query", "{\"collectionName\":\"ent_types\",\"filter\":"
                       "\"pk == 1\",\"outputFields\":[\"*\"]}"), &env);
  assert_int_equal(json_array_size(data), 1);
  check_type_row0(json_array_get(data, 0), true);
  json_decref(env);

  /* out-of-range Int8, over-long VarChar, wrong element type: 1804 */
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_types\",\"data\":[{\"pk\":3,"
            "\"b\":true,\"i8\":128,\"i16\":0,\"i32\":0,\"i64\":0,\"f\":0,\"d\":0,\"s\":\"\","
            "\"j\":{},\"ai\":[],\"as\":[],\"v\":[0,0,0]}]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_types\",\"data\":[{\"pk\":3,"
            "\"b\":1,\"i8\":1,\"i16\":0,\"i32\":0,\"i64\":0,\"f\":0,\"d\":0,\"s\":\"\","
            "\"j\":{},\"ai\":[],\"as\":[],\"v\":[0,0,0]}]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_types\",\"data\":[{\"pk\":3,"
            "\"b\":true,\"i8\":1,\"i16\":0,\"i32\":0,\"i64\":0,\"f\":0,\"d\":0,\"s\":\"\","
            "\"j\":{},\"ai\":[\"x\"],\"as\":[],\"v\":[0,0,0]}]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_types\",\"data\":[{\"pk\":3,"
            "\"b\":true,\"i8\":1,\"i16\":0,\"i32\":0,\"i64\":0,\"f\":0,\"d\":0,"
            "\"s\":\"0123456789012345678901234567890123\","
            "\"j\":{},\"ai\":[],\"as\":[],\"v\":[0,0,0]}]}");
  /* the key $meta is reserved */
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_types\",\"data\":[{\"pk\":3,"
            "\"b\":true,\"i8\":1,\"i16\":0,\"i32\":0,\"i64\":0,\"f\":0,\"d\":0,\"s\":\"\","
            "\"j\":{},\"ai\":[],\"as\":[],\"v\":[0,0,0],\"$meta\":{}}]}");
  assert_int_equal(count_rows("ent_types"), 2);
}

static void test_varchar_pk_and_static_schema(void **state) {
  (void)state;
  call_ok("/collections/create", "{\"collectionName\":\"ent_str\",\"schema\":{\"fields\":["
          "{\"fieldName\":\"name\",\"dataType\":\"VarChar\",\"isPrimary\":true,"
          "\"elementTypeParams\":{\"max_length\":16}},"
          "{\"fieldName\":\"emb\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":2}}]},"
          "\"indexParams\":[{\"fieldName\":\"emb\",\"indexName\":\"emb\",\"metricType\":\"IP\"}]}");
  json_t *env;
  json_t *data = ok(call_str64("/entities/insert", "{\"collectionName\":\"ent_str\",\"data\":["
                               "{\"name\":\"a\",\"emb\":[1,0]},{\"name\":\"b\",\"emb\":[0,1]}]}"),
                    &env);
  assert_string_equal(json_string_value(json_array_get(json_object_get(data, "insertIds"), 1)), "b");
  json_decref(env);
  /* no dynamic field: unknown keys are rejected */
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_str\",\"data\":["
            "{\"name\":\"c\",\"emb\":[1,0],\"other\":1}]}");
  /* search: pk under its real name, IP distances descending */
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_str\",\"data\":[[2,1]],"
                 "\"limit\":2}"), &env);
  assert_int_equal(json_array_size(data), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(data, 0), "name")), "a");
  assert_true(hit_dist(data, 0) == 2.0);
  assert_true(hit_dist(data, 1) == 1.0);
  assert_null(json_object_get(json_array_get(data, 0), "id"));
  json_decref(env);
  /* get by VarChar id; an integer id is 1806 */
  data = ok(call("/entities/get", "{\"collectionName\":\"ent_str\",\"id\":\"b\"}"), &env);
  assert_int_equal(json_array_size(data), 1);
  json_decref(env);
  call_code(1806, "/entities/get", "{\"collectionName\":\"ent_str\",\"id\":[1]}");
  call_code(1700, "/entities/query", "{\"collectionName\":\"ent_str\",\"outputFields\":"
            "[\"nope\"]}");
  call_code(1700, "/entities/search", "{\"collectionName\":\"ent_str\",\"data\":[[1,0]],"
            "\"outputFields\":[\"nope\"]}");
  call_code(1806, "/entities/delete", "{\"collectionName\":\"ent_str\",\"id\":{\"a\":1}}");
}

static void test_upsert(void **state) {
  (void)state;
  create_quick("ent_upsert", 2, "L2");
  call_ok("/entities/insert", "{\"collectionName\":\"ent_upsert\",\"data\":["
          "{\"id\":1,\"vector\":[1,0],\"tag\":\"old\"}]}");
  json_t *env;
  json_t *data = ok(call_str64("/entities/upsert", "{\"collectionName\":\"ent_upsert\",\"data\":["
                               "{\"id\":1,\"vector\":[2,0],\"tag\":\"new\"},"
                               "{\"id\":2,\"vector\":[3,0]}]}"), &env);
  assert_int_equal(json_integer_value(json_object_get(data, "upsertCount")), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(data, "upsertIds"), 0)), "1");
  json_decref(env);
  data = ok(call("/entities/get", "{\"collectionName\":\"ent_upsert\",\"id\":1}"), &env);
  assert_string_equal(json_string_value(json_object_get(json_array_get(data, 0), "tag")), "new");
  json_decref(env);
  assert_int_equal(count_rows("ent_upsert"), 2);
}

/* ----------------------------------------------------------------- search */

static void test_search_shapes(void **state) {
  (void)state;
  create_quick("ent_search", 2, "L2");
  fill_line("ent_search");
  json_t *env;
  json_t *data = ok(call("/entities/search", "{\"collectionName\":\"ent_search\","
                         "\"data\":[[0.1,0]],\"limit\":3,\"outputFields\":[\"color\"]}"), &env);
  assert_int_equal(json_array_size(data), 3);
  json_t *topks = json_object_get(env, "topks");
  assert_int_equal(json_array_size(topks), 1);
  assert_int_equal(json_integer_value(json_array_get(topks, 0)), 3);
  assert_int_equal(json_integer_value(json_object_get(env, "cost")), 0);
  for (int i = 0; i < 3; i++) {
    float d = (float)i - 0.1f;
    assert_int_equal(hit_id(data, (size_t)i, "id"), i);
    assert_true(fabs(hit_dist(data, (size_t)i) - (double)(d * d)) < 1e-6);
  }
  assert_string_equal(json_string_value(json_object_get(json_array_get(data, 1), "color")), "blue");
  assert_null(json_object_get(json_array_get(data, 0), "vector"));
  assert_null(json_object_get(json_array_get(data, 0), "n")); /* only the dynamic key asked */
  json_decref(env);

  /* nq = 2: flat list, query 0 first, topks [2,2] */
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_search\",\"data\":[[0,0],[9,0]],"
                 "\"limit\":2}"), &env);
  assert_int_equal(json_array_size(data), 4);
  assert_int_equal(hit_id(data, 0, "id"), 0);
  assert_int_equal(hit_id(data, 2, "id"), 9);
  assert_int_equal(hit_id(data, 3, "id"), 8);
  topks = json_object_get(env, "topks");
  assert_int_equal(json_integer_value(json_array_get(topks, 1)), 2);
  json_decref(env);

  /* default limit 100 (10 rows), offset, filter, exprParams */
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_search\",\"data\":[[0,0]]}"), &env);
  assert_int_equal(json_array_size(data), 10);
  json_decref(env);
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_search\",\"data\":[[0,0]],"
                 "\"limit\":2,\"offset\":3}"), &env);
  assert_int_equal(hit_id(data, 0, "id"), 3);
  json_decref(env);
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_search\",\"data\":[[0,0]],"
                 "\"filter\":\"color == {c} and n > 2\",\"exprParams\":{\"c\":\"red\"},"
                 "\"limit\":2,\"outputFields\":[\"*\"]}"), &env);
  assert_int_equal(json_array_size(data), 2);
  assert_int_equal(hit_id(data, 0, "id"), 4);
  assert_int_equal(hit_id(data, 1, "id"), 6);
  assert_int_equal(json_array_size(json_object_get(json_array_get(data, 0), "vector")), 2);
  json_decref(env);

  /* an empty result has no topks */
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_search\",\"data\":[[0,0]],"
                 "\"filter\":\"n > 100\"}"), &env);
  assert_int_equal(json_array_size(data), 0);
  assert_null(json_object_get(env, "topks"));
  json_decref(env);
}

static void test_search_range_and_params(void **state) {
  (void)state;
  create_quick("ent_range", 2, "L2");
  fill_line("ent_range");
  json_t *env;
  /* L2: range_filter <= d < radius -> 0.01, 0.81 */
  json_t *data = ok(call("/entities/search", "{\"collectionName\":\"ent_range\","
                         "\"data\":[[0.1,0]],\"searchParams\":{\"params\":{\"radius\":1.0,"
                         "\"range_filter\":0.0}}}"), &env);
  assert_int_equal(json_array_size(data), 2);
  json_decref(env);
  /* the same flattened, plus metricType and an agreeing duplicate */
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_range\",\"data\":[[0.1,0]],"
                 "\"searchParams\":{\"metricType\":\"L2\",\"radius\":1.0,\"range_filter\":0.5,"
                 "\"params\":{\"radius\":1.0}}}"), &env);
  assert_int_equal(json_array_size(data), 1);
  assert_int_equal(hit_id(data, 0, "id"), 1);
  json_decref(env);
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_range\",\"data\":[[0.1,0]],"
            "\"searchParams\":{\"radius\":1.0,\"params\":{\"radius\":2.0}}}");
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_range\",\"data\":[[0.1,0]],"
            "\"searchParams\":{\"metricType\":\"IP\"}}");
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_range\",\"data\":[[0.1,0]],"
            "\"searchParams\":{\"params\":[1]}}");
}

static void test_search_partitions(void **state) {
  (void)state;
  create_quick("ent_parts", 2, "L2");
  call_ok("/partitions/create", "{\"collectionName\":\"ent_parts\",\"partitionName\":\"p1\"}");
  call_ok("/entities/insert", "{\"collectionName\":\"ent_parts\",\"data\":["
          "{\"id\":1,\"vector\":[0,0]},{\"id\":2,\"vector\":[1,0]}]}");
  call_ok("/entities/insert", "{\"collectionName\":\"ent_parts\",\"partitionName\":\"p1\","
          "\"data\":[{\"id\":3,\"vector\":[5,0]}]}");
  json_t *env;
  json_t *data = ok(call("/entities/search", "{\"collectionName\":\"ent_parts\",\"data\":[[0,0]],"
                         "\"partitionNames\":[\"p1\"]}"), &env);
  assert_int_equal(json_array_size(data), 1);
  assert_int_equal(hit_id(data, 0, "id"), 3);
  json_decref(env);
  data = ok(call("/entities/query", "{\"collectionName\":\"ent_parts\",\"filter\":\"id > 0\","
                 "\"partitionNames\":[\"_default\"]}"), &env);
  assert_int_equal(json_array_size(data), 2);
  json_decref(env);
  data = ok(call("/entities/get", "{\"collectionName\":\"ent_parts\",\"id\":[1,3],"
                 "\"partitionNames\":[\"p1\"]}"), &env);
  assert_int_equal(json_array_size(data), 1);
  assert_int_equal(hit_id(data, 0, "id"), 3);
  json_decref(env);
  call_code(200, "/entities/insert", "{\"collectionName\":\"ent_parts\",\"partitionName\":"
            "\"nope\",\"data\":[{\"id\":9,\"vector\":[0,0]}]}");
  /* delete by filter within one partition */
  data = ok(call("/entities/delete", "{\"collectionName\":\"ent_parts\",\"filter\":\"id >= 1\","
                 "\"partitionName\":\"p1\"}"), &env);
  assert_int_equal(json_integer_value(json_object_get(data, "deleteCount")), 1);
  json_decref(env);
  assert_int_equal(count_rows("ent_parts"), 2);
}

static void test_search_grouping(void **state) {
  (void)state;
  call_ok("/collections/create", "{\"collectionName\":\"ent_group\",\"schema\":{\"fields\":["
          "{\"fieldName\":\"pk\",\"dataType\":\"Int64\",\"isPrimary\":true},"
          "{\"fieldName\":\"grp\",\"dataType\":\"Int64\"},"
          "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":2}}]},"
          "\"indexParams\":[{\"fieldName\":\"v\",\"indexName\":\"v\",\"metricType\":\"L2\"}]}");
  call_ok("/entities/insert", "{\"collectionName\":\"ent_group\",\"data\":["
          "{\"pk\":1,\"grp\":0,\"v\":[1,0]},{\"pk\":2,\"grp\":0,\"v\":[2,0]},"
          "{\"pk\":3,\"grp\":1,\"v\":[3,0]},{\"pk\":4,\"grp\":1,\"v\":[4,0]},"
          "{\"pk\":5,\"grp\":2,\"v\":[5,0]},{\"pk\":6,\"grp\":2,\"v\":[6,0]}]}");
  json_t *env;
  json_t *data = ok(call("/entities/search", "{\"collectionName\":\"ent_group\",\"data\":[[0,0]],"
                         "\"limit\":2,\"groupingField\":\"grp\"}"), &env);
  assert_int_equal(json_array_size(data), 2);
  assert_int_equal(hit_id(data, 0, "pk"), 1);
  assert_int_equal(hit_id(data, 1, "pk"), 3);
  assert_int_equal(hit_id(data, 1, "grp"), 1);
  json_decref(env);
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_group\",\"data\":[[0,0]],"
                 "\"limit\":2,\"groupingField\":\"grp\",\"groupSize\":2}"), &env);
  assert_int_equal(json_array_size(data), 4);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(env, "topks"), 0)), 4);
  json_decref(env);
}

/* --------------------------------------------------------------- hybrid */

static const char hybrid_schema[] =
    "{\"collectionName\":\"ent_hybrid\",\"schema\":{\"fields\":["
    "{\"fieldName\":\"pk\",\"dataType\":\"Int64\",\"isPrimary\":true},"
    "{\"fieldName\":\"v1\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":2}},"
    "{\"fieldName\":\"v2\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":2}}]},"
    "\"indexParams\":[{\"fieldName\":\"v1\",\"indexName\":\"v1\",\"metricType\":\"L2\"},"
    "{\"fieldName\":\"v2\",\"indexName\":\"v2\",\"metricType\":\"L2\"}]}";

/* Route A: v1 from [0,0] -> pk1 d0, pk2 d1, pk3 d4.
 * Route B: v2 from [0.9,0] -> pk3 d0.01, pk4 d0.81, pk2 d1.21. */
static const char hybrid_routes[] =
    "\"search\":[{\"data\":[[0,0]],\"annsField\":\"v1\",\"limit\":3},"
    "{\"data\":[[0.9,0]],\"annsField\":\"v2\",\"limit\":3}]";

static void setup_hybrid(void) {
  call_ok("/collections/create", "%s", hybrid_schema);
  call_ok("/entities/insert", "{\"collectionName\":\"ent_hybrid\",\"data\":["
          "{\"pk\":1,\"v1\":[0,0],\"v2\":[3,0]},{\"pk\":2,\"v1\":[1,0],\"v2\":[2,0]},"
          "{\"pk\":3,\"v1\":[2,0],\"v2\":[1,0]},{\"pk\":4,\"v1\":[3,0],\"v2\":[0,0]}]}");
}

static void expect_hits(const json_t *data, const int *pks, const double *scores, size_t n) {
  assert_int_equal(json_array_size(data), n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(hit_id(data, i, "pk"), pks[i]);
    if (fabs(hit_dist(data, i) - scores[i]) > 1e-6) {
      fprintf(stderr, "hit %zu: %.9g, expected %.9g\n", i, hit_dist(data, i), scores[i]);
    }
    assert_true(fabs(hit_dist(data, i) - scores[i]) <= 1e-6);
  }
}

static double l2_norm(double d) { return 1.0 - 2.0 * atan(d) / M_PI; }

static void test_hybrid_rrf_and_weighted(void **state) {
  (void)state;
  setup_hybrid();
  json_t *env;
  /* RRF k=60: pk3 1/63+1/61, pk2 1/62+1/63, pk1 1/61, pk4 1/62 */
  json_t *data = ok(call("/entities/hybrid_search", "{\"collectionName\":\"ent_hybrid\",%s,"
                         "\"rerank\":{\"strategy\":\"rrf\",\"params\":{\"k\":60}},\"limit\":4}",
                         hybrid_routes), &env);
  const int rrf_pks[] = {3, 2, 1, 4};
  const double rrf[] = {1.0 / 63 + 1.0 / 61, 1.0 / 62 + 1.0 / 63, 1.0 / 61, 1.0 / 62};
  expect_hits(data, rrf_pks, rrf, 4);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(env, "topks"), 0)), 4);
  json_decref(env);

  /* weighted [0.7, 0.3], L2 normalised by 1 - 2 atan(d)/pi */
  double w[5] = {0};
  w[1] = 0.7 * l2_norm(0);
  w[2] = 0.7 * l2_norm(1) + 0.3 * l2_norm(1.21f);
  w[3] = 0.7 * l2_norm(4) + 0.3 * l2_norm(0.01f);
  w[4] = 0.3 * l2_norm(0.81f);
  data = ok(call("/entities/advanced_search", "{\"collectionName\":\"ent_hybrid\",%s,"
                 "\"rerank\":{\"strategy\":\"weighted\",\"params\":{\"weights\":[0.7,0.3]}},"
                 "\"limit\":3}", hybrid_routes), &env);
  int pks[4] = {1, 2, 3, 4};
  for (int i = 0; i < 4; i++) { /* sort descending by score */
    for (int j = i + 1; j < 4; j++) {
      if (w[pks[j]] > w[pks[i]]) {
        int t = pks[i];
        pks[i] = pks[j];
        pks[j] = t;
      }
    }
  }
  double scores[3] = {w[pks[0]], w[pks[1]], w[pks[2]]};
  expect_hits(data, pks, scores, 3);
  json_decref(env);

  call_code(1100, "/entities/hybrid_search", "{\"collectionName\":\"ent_hybrid\",%s,"
            "\"rerank\":{\"strategy\":\"bogus\"}}", hybrid_routes);
  call_code(1802, "/entities/hybrid_search", "{\"collectionName\":\"ent_hybrid\",%s}",
            hybrid_routes);
  call_code(1802, "/entities/hybrid_search", "{\"collectionName\":\"ent_hybrid\","
            "\"rerank\":{\"strategy\":\"rrf\",\"params\":{\"k\":60}}}");
  /* weights must match the number of routes */
  call_code(1100, "/entities/hybrid_search", "{\"collectionName\":\"ent_hybrid\",%s,"
            "\"rerank\":{\"strategy\":\"weighted\",\"params\":{\"weights\":[1]}}}", hybrid_routes);
  /* two vector fields: a plain search needs annsField */
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_hybrid\",\"data\":[[0,0]]}");
  call_code(1700, "/entities/search", "{\"collectionName\":\"ent_hybrid\",\"data\":[[0,0]],"
            "\"annsField\":\"nope\"}");
  data = ok(call("/entities/search", "{\"collectionName\":\"ent_hybrid\",\"data\":[[0,0]],"
                 "\"annsField\":\"v2\",\"limit\":1}"), &env);
  assert_int_equal(hit_id(data, 0, "pk"), 4);
  json_decref(env);
}

/* ------------------------------------------------------------ query, delete */

static void test_query(void **state) {
  (void)state;
  create_quick("ent_query", 2, "L2");
  char rows[16384];
  size_t len = 0;
  for (int i = 0; i < 150; i++) {
    len += (size_t)snprintf(rows + len, sizeof rows - len, "%s{\"id\":%d,\"vector\":[%d,1]}",
                            i ? "," : "", i, i);
  }
  call_ok("/entities/insert", "{\"collectionName\":\"ent_query\",\"data\":[%s]}", rows);
  json_t *env;
  json_t *data = ok(call("/entities/query", "{\"collectionName\":\"ent_query\"}"), &env);
  assert_int_equal(json_array_size(data), 100); /* default limit */
  assert_int_equal(json_integer_value(json_object_get(env, "cost")), 0);
  json_decref(env);
  data = ok(call("/entities/query", "{\"collectionName\":\"ent_query\",\"filter\":\"id >= 140\","
                 "\"limit\":5,\"offset\":2,\"outputFields\":[\"id\"]}"), &env);
  assert_int_equal(json_array_size(data), 5);
  assert_int_equal(hit_id(data, 0, "id"), 142);
  assert_null(json_object_get(json_array_get(data, 0), "vector"));
  json_decref(env);
  data = ok(call("/entities/query", "{\"collectionName\":\"ent_query\",\"filter\":\"id in {ids}\","
                 "\"exprParams\":{\"ids\":[3,5,700]},\"consistencyLevel\":\"Strong\"}"), &env);
  assert_int_equal(json_array_size(data), 2);
  json_decref(env);
  data = ok(call("/entities/query", "{\"collectionName\":\"ent_query\",\"filter\":\"id < 10\","
                 "\"outputFields\":[\"count(*)\"]}"), &env);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(data, 0), "count(*)")), 10);
  json_decref(env);
  data = ok(call("/entities/query", "{\"collectionName\":\"ent_query\",\"filter\":\"id < 10\","
                 "\"profile\":true,\"limit\":1}"), &env);
  assert_true(json_is_object(json_object_get(env, "profile")));
  json_decref(env);
  call_code(1100, "/entities/query", "{\"collectionName\":\"ent_query\",\"limit\":16000,"
            "\"offset\":1000}");
  call_code(1100, "/entities/query", "{\"collectionName\":\"ent_query\",\"consistencyLevel\":"
            "\"Sometimes\"}");
  call_code(1100, "/entities/query", "{\"collectionName\":\"ent_query\",\"filter\":\"id >>> 1\"}");
  call_code(1100, "/entities/query", "{\"collectionName\":\"ent_query\",\"outputFields\":"
            "[\"count(*)\",\"id\"]}");
  /* dynamic collection: an unknown output name is a (missing) dynamic key */
  data = ok(call("/entities/query", "{\"collectionName\":\"ent_query\",\"filter\":\"id == 1\","
                 "\"outputFields\":[\"nope\"]}"), &env);
  assert_int_equal(json_array_size(data), 1);
  assert_int_equal(json_object_size(json_array_get(data, 0)), 1);
  json_decref(env);
}

static void test_delete(void **state) {
  (void)state;
  create_quick("ent_delete", 2, "L2");
  fill_line("ent_delete");
  json_t *env;
  json_t *data = ok(call("/entities/delete", "{\"collectionName\":\"ent_delete\",\"id\":[1,2,99]}"),
                    &env);
  assert_int_equal(json_integer_value(json_object_get(data, "deleteCount")), 2);
  json_decref(env);
  data = ok(call("/entities/delete", "{\"collectionName\":\"ent_delete\",\"id\":\"3\"}"), &env);
  assert_int_equal(json_integer_value(json_object_get(data, "deleteCount")), 1);
  json_decref(env);
  data = ok(call("/entities/delete", "{\"collectionName\":\"ent_delete\",\"filter\":"
                 "\"color == \\\"red\\\"\"}"), &env);
  assert_int_equal(json_integer_value(json_object_get(data, "deleteCount")), 4); /* 0 4 6 8 */
  json_decref(env);
  assert_int_equal(count_rows("ent_delete"), 3);                                /* 5 7 9 */
  data = ok(call("/entities/get", "{\"collectionName\":\"ent_delete\",\"id\":[1,5]}"), &env);
  assert_int_equal(json_array_size(data), 1);
  json_decref(env);
  call_code(1802, "/entities/delete", "{\"collectionName\":\"ent_delete\"}");
  call_code(1806, "/entities/delete", "{\"collectionName\":\"ent_delete\",\"id\":[1.5]}");
  call_code(1100, "/entities/delete", "{\"collectionName\":\"ent_delete\",\"filter\":\"(((\"}");
  assert_int_equal(count_rows("ent_delete"), 3);
}

/* -------------------------------------------------------------- errors */

static void test_error_codes(void **state) {
  (void)state;
  create_quick("ent_err", 2, "L2");
  fill_line("ent_err");
  const char *paths[] = {"/entities/insert", "/entities/upsert", "/entities/delete",
                         "/entities/get", "/entities/query", "/entities/search",
                         "/entities/hybrid_search"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    call_code(100, paths[i], "{\"collectionName\":\"no_such_collection\",\"data\":[[0,0]],"
              "\"id\":1,\"filter\":\"id > 0\"}");
    call_code(1802, paths[i], "{\"data\":[[0,0]]}");
  }
  call_code(1802, "/entities/insert", "{\"collectionName\":\"ent_err\"}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":{}}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[1]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[{\"id\":50}]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[{\"id\":50,"
            "\"vector\":[1,2,3]}]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[{\"id\":50,"
            "\"vector\":[1,\"x\"]}]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[{\"id\":\"x\","
            "\"vector\":[1,2]}]}");
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[{\"id\":1,"
            "\"vector\":[1,2]}]}"); /* duplicate key */
  call_code(1804, "/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[{\"id\":50,"
            "\"vector\":[1,2]},{\"id\":50,\"vector\":[1,2]}]}");
  call_code(1802, "/entities/search", "{\"collectionName\":\"ent_err\"}");
  call_code(1801, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,2,3]]}");
  call_code(1801, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[]}");
  call_code(1801, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,\"a\"]]}");
  call_code(1801, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,1e39]]}");
  call_code(1801, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[\"text\"]}");
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,2]],"
            "\"limit\":16385}");
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,2]],"
            "\"limit\":\"many\"}");
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,2]],"
            "\"filter\":\"nope ==\"}");
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,2]],"
            "\"consistencyLevel\":\"strong\"}");
  call_code(1100, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,2]],"
            "\"exprParams\":[1]}");
  call_code(1806, "/entities/get", "{\"collectionName\":\"ent_err\",\"id\":[true]}");
  call_code(1806, "/entities/get", "{\"collectionName\":\"ent_err\",\"id\":\"12x\"}");
  call_code(1802, "/entities/get", "{\"collectionName\":\"ent_err\"}");
  /* released collection: 101 for reads, writes still work */
  call_ok("/collections/release", "{\"collectionName\":\"ent_err\"}");
  call_code(101, "/entities/search", "{\"collectionName\":\"ent_err\",\"data\":[[1,2]]}");
  call_code(101, "/entities/query", "{\"collectionName\":\"ent_err\"}");
  call_code(101, "/entities/get", "{\"collectionName\":\"ent_err\",\"id\":1}");
  call_ok("/entities/insert", "{\"collectionName\":\"ent_err\",\"data\":[{\"id\":77,"
          "\"vector\":[1,2]}]}");
  call_ok("/collections/load", "{\"collectionName\":\"ent_err\"}");
  assert_int_equal(count_rows("ent_err"), 11);
}

static void test_too_many_vectors(void **state) {
  (void)state;
  create_quick("ent_big", 1, "L2");
  size_t n = 16385;
  char *vecs = malloc(n * 8 + 16);
  size_t len = 0;
  for (size_t i = 0; i < n; i++) len += (size_t)sprintf(vecs + len, "%s[%zu]", i ? "," : "", i % 10);
  call_code(1102, "/entities/search", "{\"collectionName\":\"ent_big\",\"data\":[%s]}", vecs);
  free(vecs);
}

static void test_search_profile_and_alias(void **state) {
  (void)state;
  create_quick("ent_prof", 2, "COSINE");
  fill_line("ent_prof");
  call_ok("/aliases/create", "{\"collectionName\":\"ent_prof\",\"aliasName\":\"ent_prof_alias\"}");
  json_t *env;
  json_t *data = ok(call("/entities/search", "{\"collectionName\":\"ent_prof_alias\","
                         "\"data\":[[1,0]],\"limit\":3,\"profile\":true}"), &env);
  assert_int_equal(json_array_size(data), 3);
  assert_true(json_is_object(json_object_get(env, "profile")));
  assert_true(fabs(hit_dist(data, 0) - 1.0) < 1e-6); /* COSINE, descending */
  json_decref(env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_insert_ids_and_int64_rendering, revive),
      cmocka_unit_test_setup(test_autoid_insert, revive),
      cmocka_unit_test_setup(test_value_types_roundtrip, revive),
      cmocka_unit_test_setup(test_varchar_pk_and_static_schema, revive),
      cmocka_unit_test_setup(test_upsert, revive),
      cmocka_unit_test_setup(test_search_shapes, revive),
      cmocka_unit_test_setup(test_search_range_and_params, revive),
      cmocka_unit_test_setup(test_search_partitions, revive),
      cmocka_unit_test_setup(test_search_grouping, revive),
      cmocka_unit_test_setup(test_hybrid_rrf_and_weighted, revive),
      cmocka_unit_test_setup(test_query, revive),
      cmocka_unit_test_setup(test_delete, revive),
      cmocka_unit_test_setup(test_error_codes, revive),
      cmocka_unit_test_setup(test_too_many_vectors, revive),
      cmocka_unit_test_setup(test_search_profile_and_alias, revive),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
