/*
 * test_server_badinput.c -- hostile and malformed requests against the
 * entity endpoints of the real server: each gets its specified Milvus code
 * (HTTP 200), the server keeps answering, and the data does not change
 * (row count and one known row compared after every case).
 *
 * The server runs with small limits (1 MiB bodies, 100 vectors per
 * request) so the oversized cases stay cheap.  JSON cannot carry NaN or
 * infinities: a client that sends the token NaN or an overflowing literal
 * (1e999) sends invalid JSON, which is 1801; a finite number outside the
 * float32 range is 1801 in a search and 1804 in an insert (section 3).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testserver.h"

static ts_server srv;
static const char *const server_args[] = {"--max-body", "1048576", "--max-vectors", "100", NULL};

static json_t *post_raw(const char *path, const char *body, size_t len, long *status) {
  char full[256];
  snprintf(full, sizeof full, "/v2/vectordb%s", path);
  ts_response r;
  assert_int_equal(ts_request(&srv, "POST", full, body, len, NULL, &r), 0);
  *status = r.status;
  json_t *env = r.json;
  r.json = NULL;
  ts_response_free(&r);
  return env;
}

static json_t *post(const char *path, const char *body) {
  long status;
  json_t *env = post_raw(path, body, strlen(body), &status);
  assert_int_equal(status, 200);
  assert_non_null(env);
  return env;
}

static void expect(const char *path, const char *body, size_t len, long code) {
  long status;
  json_t *env = post_raw(path, body, len, &status);
  if (status != 200 || ts_code(env) != code) {
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    fprintf(stderr, "%s %.200s\n  -> HTTP %ld %s (expected code %ld)\n", path, body, status,
            text ? text : "(not JSON)", code);
    free(text);
  }
  assert_int_equal(status, 200);
  assert_int_equal(ts_code(env), code);
  assert_true(json_is_string(json_object_get(env, "message")));
  json_decref(env);
}

static void expect_str(const char *path, const char *body, long code) {
  expect(path, body, strlen(body), code);
}

/* The invariant checked after every case: 20 rows, row 7 unchanged, and
 * a search still answers. */
static void check_unchanged(void) {
  json_t *env = post("/entities/query", "{\"collectionName\":\"bad\",\"outputFields\":[\"count(*)\"]}");
  assert_int_equal(ts_code(env), 0);
  json_t *row = json_array_get(json_object_get(env, "data"), 0);
  assert_int_equal(json_integer_value(json_object_get(row, "count(*)")), 20);
  json_decref(env);
  env = post("/entities/get", "{\"collectionName\":\"bad\",\"id\":7}");
  row = json_array_get(json_object_get(env, "data"), 0);
  assert_string_equal(json_string_value(json_object_get(row, "tag")), "t7");
  assert_true(json_number_value(json_array_get(json_object_get(row, "vector"), 0)) == 7.0);
  json_decref(env);
  env = post("/entities/search", "{\"collectionName\":\"bad\",\"data\":[[7,0,0,0]],\"limit\":1}");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(env, "data"), 0), "id")), 7);
  json_decref(env);
}

static int group_setup(void **state) {
  (void)state;
  if (ts_start(&srv, NULL, server_args, NULL) != 0) return -1;
  json_t *env = post("/collections/create", "{\"collectionName\":\"bad\",\"dimension\":4,"
                     "\"metricType\":\"L2\"}");
  long code = ts_code(env);
  json_decref(env);
  env = post("/collections/create", "{\"collectionName\":\"bad_static\",\"schema\":{\"fields\":["
             "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
             "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":2}}]},"
             "\"indexParams\":[{\"fieldName\":\"v\",\"indexName\":\"v\",\"metricType\":\"L2\"}]}");
  code |= ts_code(env);
  json_decref(env);
  char rows[4096];
  size_t len = 0;
  for (int i = 0; i < 20; i++) {
    len += (size_t)snprintf(rows + len, sizeof rows - len, "%s{\"id\":%d,\"vector\":[%d,0,0,0],"
                            "\"tag\":\"t%d\"}", i ? "," : "", i, i, i);
  }
  char body[4200];
  snprintf(body, sizeof body, "{\"collectionName\":\"bad\",\"data\":[%s]}", rows);
  env = post("/entities/insert", body);
  code |= ts_code(env);
  json_decref(env);
  return code == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  int rc = ts_stop(&srv);
  ts_destroy(&srv, 0);
  return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ cases */

typedef struct bad_case {
  const char *path;
  const char *body;
  long code;
} bad_case;

static void run_cases(const bad_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    expect_str(cases[i].path, cases[i].body, cases[i].code);
    check_unchanged();
  }
}

static void test_malformed_json(void **state) {
  (void)state;
  static const bad_case cases[] = {
      {"/entities/insert", "", 1801},
      {"/entities/search", "", 1801},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,", 1801},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[1,2,3,4]}]", 1801},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]", 1801},
      {"/entities/query", "{\"collectionName\":\"bad\" \"filter\":\"id > 1\"}", 1801},
      {"/entities/insert", "[1,2]", 1801},
      {"/entities/insert", "null", 1801},
      {"/entities/delete", "\"id\"", 1801},
      {"/entities/get", "{'collectionName':'bad','id':1}", 1801},
      {"/entities/delete", "{\"collectionName\":\"bad\",\"filter\":\"id > 1\"}}", 1801},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_nan_and_infinity(void **state) {
  (void)state;
  static const bad_case cases[] = {
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[NaN,0,0,0]}]}", 1801},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[1e999,0,0,0]}]}", 1801},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[-Infinity,0,0,0]}]}", 1801},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[NaN,0,0,0]]}", 1801},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1e999,0,0,0]]}", 1801},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[0,0,0,-1e999]]}", 1801},
      /* valid JSON, but outside float32 */
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1e39,0,0,0]]}", 1801},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[1e39,0,0,0]}]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[0,0,0,0],\"x\":1e999}]}", 1801},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_wrong_types_and_dimensions(void **state) {
  (void)state;
  static const bad_case cases[] = {
      {"/entities/insert", "{\"collectionName\":5,\"data\":[]}", 1802},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":\"rows\"}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[1,2]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[1,2,3]}]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[1,2,3,4,5]}]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":\"1,2,3,4\"}]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":[100],\"vector\":[1,2,3,4]}]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":1.5,\"vector\":[1,2,3,4]}]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":\"99999999999999999999\",\"vector\":[1,2,3,4]}]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,\"vector\":[1,2,3,4]}],\"partitionName\":5}", 1100},
      {"/entities/upsert", "{\"collectionName\":\"bad\",\"data\":[{\"vector\":[1,2,3,4]}]}", 1804},
      {"/entities/insert", "{\"collectionName\":\"bad_static\",\"data\":[{\"id\":100,\"v\":[1,2],\"extra\":1}]}", 1804},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2]]}", 1801},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":\"abc\"}", 1801},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,\"4\"]]}", 1801},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[{\"a\":1}]}", 1801},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]],\"limit\":\"abc\"}", 1100},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]],\"limit\":-1}", 1100},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]],\"offset\":99999}", 1100},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]],\"filter\":5}", 1100},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]],\"outputFields\":5}", 1100},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]],\"searchParams\":7}", 1100},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]],\"exprParams\":\"x\"}", 1100},
      {"/entities/search", "{\"collectionName\":\"bad\",\"data\":[[1,2,3,4]],\"annsField\":\"tag\"}", 1700},
      {"/entities/query", "{\"collectionName\":\"bad\",\"filter\":\"tag ==\"}", 1100},
      {"/entities/query", "{\"collectionName\":\"bad\",\"filter\":\"id > 'x' +\"}", 1100},
      {"/entities/get", "{\"collectionName\":\"bad\",\"id\":{}}", 1806},
      {"/entities/get", "{\"collectionName\":\"bad\",\"id\":[[1]]}", 1806},
      {"/entities/get", "{\"collectionName\":\"bad\",\"id\":null}", 1806},
      {"/entities/delete", "{\"collectionName\":\"bad\",\"id\":[\"x\"]}", 1806},
      {"/entities/delete", "{\"collectionName\":\"bad\",\"filter\":\"vector > 1\"}", 1100},
      {"/entities/hybrid_search", "{\"collectionName\":\"bad\",\"search\":{},\"rerank\":{\"strategy\":\"rrf\"}}", 1100},
      {"/entities/hybrid_search", "{\"collectionName\":\"bad\",\"search\":[1],\"rerank\":{\"strategy\":\"rrf\"}}", 1100},
      {"/entities/hybrid_search", "{\"collectionName\":\"bad\",\"search\":[{\"data\":[[1,2,3,4]]}],\"rerank\":\"rrf\"}", 1802},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_unknown_names(void **state) {
  (void)state;
  static const bad_case cases[] = {
      {"/entities/insert", "{\"collectionName\":\"nope\",\"data\":[{\"id\":1,\"vector\":[1,2,3,4]}]}", 100},
      {"/entities/search", "{\"collectionName\":\"nope\",\"data\":[[1,2,3,4]]}", 100},
      {"/entities/query", "{\"collectionName\":\"bad\",\"dbName\":\"nodb\"}", 800},
      {"/entities/insert", "{\"collectionName\":\"bad\",\"partitionName\":\"nope\",\"data\":[{\"id\":100,\"vector\":[1,2,3,4]}]}", 200},
      {"/entities/query", "{\"collectionName\":\"bad\",\"partitionNames\":[\"nope\"]}", 200},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_invalid_utf8_and_nesting(void **state) {
  (void)state;
  expect_str("/entities/insert", "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,"
             "\"vector\":[1,2,3,4],\"tag\":\"\xff\xfe\"}]}", 1801);
  check_unchanged();
  expect_str("/entities/query", "{\"collectionName\":\"bad\",\"filter\":\"tag == \\\"\xc3\x28\\\"\"}", 1801);
  check_unchanged();
  /* 200 levels of nesting inside a dynamic value, and as the whole body */
  char deep[1024];
  int n = snprintf(deep, sizeof deep, "{\"collectionName\":\"bad\",\"data\":[{\"id\":100,"
                   "\"vector\":[1,2,3,4],\"j\":");
  for (int i = 0; i < 200; i++) deep[n++] = '[';
  for (int i = 0; i < 200; i++) deep[n++] = ']';
  n += snprintf(deep + n, sizeof deep - (size_t)n, "}]}");
  expect("/entities/insert", deep, (size_t)n, 1801);
  check_unchanged();
  size_t big = 200000;
  char *nest = malloc(2 * big + 1);
  for (size_t i = 0; i < big; i++) nest[i] = '[';
  for (size_t i = 0; i < big; i++) nest[big + i] = ']';
  expect("/entities/search", nest, 2 * big, 1801);
  free(nest);
  check_unchanged();
}

static void test_oversized(void **state) {
  (void)state;
  /* a body over --max-body (1 MiB) */
  size_t len = 2u << 20;
  char *body = malloc(len + 64);
  int head = snprintf(body, 64, "{\"collectionName\":\"bad\",\"filter\":\"");
  memset(body + head, 'x', len - (size_t)head - 2);
  memcpy(body + len - 2, "\"}", 2);
  expect("/entities/query", body, len, 1102);
  free(body);
  check_unchanged();
  /* more vectors than --max-vectors (100) */
  char vecs[8192];
  size_t n = 0;
  for (int i = 0; i < 101; i++) n += (size_t)snprintf(vecs + n, sizeof vecs - n, "%s[1,2,3,4]", i ? "," : "");
  char *req = NULL;
  assert_true(asprintf(&req, "{\"collectionName\":\"bad\",\"data\":[%s]}", vecs) > 0);
  expect_str("/entities/search", req, 1102);
  free(req);
  n = 0;
  for (int i = 0; i < 101; i++) {
    n += (size_t)snprintf(vecs + n, sizeof vecs - n, "%s{\"id\":%d,\"vector\":[1,2,3,4]}",
                          i ? "," : "", 1000 + i);
  }
  assert_true(asprintf(&req, "{\"collectionName\":\"bad\",\"data\":[%s]}", vecs) > 0);
  expect_str("/entities/insert", req, 1102);
  free(req);
  check_unchanged();
  /* a filter of 100 KB of nonsense inside the limit */
  len = 100000;
  body = malloc(len + 64);
  head = snprintf(body, 64, "{\"collectionName\":\"bad\",\"filter\":\"");
  for (size_t i = (size_t)head; i < len - 2; i++) body[i] = "(((a>"[i % 5];
  memcpy(body + len - 2, "\"}", 2);
  expect("/entities/query", body, len, 1100);
  free(body);
  check_unchanged();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_malformed_json),
      cmocka_unit_test(test_nan_and_infinity),
      cmocka_unit_test(test_wrong_types_and_dimensions),
      cmocka_unit_test(test_unknown_names),
      cmocka_unit_test(test_invalid_utf8_and_nesting),
      cmocka_unit_test(test_oversized),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
