/*
 * test_server_packed.c -- the server's fast path for vector arrays
 * (src/server/packed.c): bodies whose "data" holds arrays of 8 or more
 * numbers must give exactly what the plain JSON path gives.
 *
 * Checked over real HTTP: 16-d vectors inserted and read back bit for bit
 * (floats printed with %.9g round-trip); an Array field of 10 Int64 values
 * with one above 2^53, a JSON field and a dynamic key holding long numeric
 * arrays come back unchanged (they are packed, then put back from their
 * own text); search vectors are packed too; malformed numbers, values
 * outside float range, wrong lengths and an escaped key name take the
 * plain path and its errors; and a mixed array (a string inside) is left
 * alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "support/servertest.h"
#include "support/testutil.h"

#define DIM 16

static void vec_text(char *buf, size_t n, uint64_t seed, float *out) {
  size_t len = (size_t)snprintf(buf, n, "[");
  tu_random_floats(seed, out, DIM);
  for (int j = 0; j < DIM; j++) len += (size_t)snprintf(buf + len, n - len, "%s%.9g", j ? "," : "", out[j]);
  snprintf(buf + len, n - len, "]");
}

static void create(void) {
  st_expect_code(0, "/v2/vectordb/collections/create",
                 "{\"collectionName\":\"p\",\"schema\":{\"enableDynamicField\":true,\"fields\":["
                 "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
                 "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":16}},"
                 "{\"fieldName\":\"arr\",\"dataType\":\"Array\",\"elementDataType\":\"Int64\","
                 "\"elementTypeParams\":{\"max_capacity\":16}},"
                 "{\"fieldName\":\"doc\",\"dataType\":\"JSON\"}]},"
                 "\"indexParams\":[{\"fieldName\":\"v\",\"metricType\":\"L2\",\"indexType\":\"FLAT\"}]}");
}

static const char *arr_text = "[1,2,3,4,5,6,7,8,9,9007199254740993]";
static const char *doc_text = "{\"xs\":[0.5,1,2,3,4,5,6,7,8.25],\"k\":\"v\"}";
static const char *dyn_text = "[10,20,30,40,50,60,70,80]";

static void test_round_trip(void **state) {
  (void)state;
  create();
  char v1[512], v2[512];
  float f1[DIM], f2[DIM];
  vec_text(v1, sizeof v1, 1, f1);
  vec_text(v2, sizeof v2, 2, f2);
  json_t *env = st_call("/v2/vectordb/entities/insert",
                        "{\"collectionName\":\"p\",\"data\":[{\"id\":1,\"v\":%s,\"arr\":%s,\"doc\":%s,\"extra\":%s},"
                        "{\"id\":2,\"v\":%s,\"arr\":[1],\"doc\":{},\"extra\":[1,\"x\",2,3,4,5,6,7,8]}]}",
                        v1, arr_text, doc_text, dyn_text, v2);
  st_expect(env, 0);
  json_decref(env);
  static const char *const headers[] = {"Accept-Type-Allow-Int64: true", NULL};
  (void)headers;
  env = st_call("/v2/vectordb/entities/get", "{\"collectionName\":\"p\",\"id\":[1,2],\"outputFields\":[\"*\"]}");
  st_expect(env, 0);
  json_t *rows = json_object_get(env, "data");
  assert_int_equal(json_array_size(rows), 2);
  for (size_t r = 0; r < 2; r++) {
    json_t *row = json_array_get(rows, r);
    json_int_t id = json_integer_value(json_object_get(row, "id"));
    const float *want = id == 1 ? f1 : f2;
    json_t *v = json_object_get(row, "v");
    assert_int_equal(json_array_size(v), DIM);
    for (size_t j = 0; j < DIM; j++) {
      assert_true((float)json_number_value(json_array_get(v, j)) == want[j]);
    }
    if (id == 1) {
      json_error_t err;
      json_t *a = json_loads(arr_text, JSON_DECODE_ANY, &err), *d = json_loads(doc_text, 0, &err),
             *x = json_loads(dyn_text, 0, &err);
      assert_true(json_equal(json_object_get(row, "arr"), a));
      assert_true(json_equal(json_object_get(row, "doc"), d));
      assert_true(json_equal(json_object_get(row, "extra"), x));
      json_decref(a);
      json_decref(d);
      json_decref(x);
    } else {
      json_t *mixed = json_object_get(row, "extra");
      assert_int_equal(json_array_size(mixed), 9);
      assert_string_equal(json_string_value(json_array_get(mixed, 1)), "x");
    }
  }
  json_decref(env);
  /* A packed search vector finds the row it equals, at distance 0. */
  env = st_call("/v2/vectordb/entities/search", "{\"collectionName\":\"p\",\"data\":[%s,%s],\"limit\":1}", v2, v1);
  st_expect(env, 0);
  rows = json_object_get(env, "data");
  assert_int_equal(json_array_size(rows), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "id")), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "id")), 1);
  assert_true(json_number_value(json_object_get(json_array_get(rows, 0), "distance")) == 0.0);
  json_decref(env);
}

/* Bodies the fast path leaves to jansson, or rejects as jansson would. */
static void test_errors_match_plain_path(void **state) {
  (void)state;
  const char *bad_numbers[] = {"01", "1.", "-", ".5", "+1", "1e", "NaN", "1e39", "\"1\""};
  for (size_t i = 0; i < sizeof bad_numbers / sizeof *bad_numbers; i++) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"collectionName\":\"p\",\"data\":[[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,%s]],\"limit\":1}",
             bad_numbers[i]);
    json_t *env = st_call("/v2/vectordb/entities/search", "%s", body);
    assert_int_equal(ts_code(env), 1801);
    json_decref(env);
    snprintf(body, sizeof body,
             "{\"collectionName\":\"p\",\"data\":[{\"id\":9,\"v\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,%s]}]}",
             bad_numbers[i]);
    env = st_call("/v2/vectordb/entities/insert", "%s", body);
    long code = ts_code(env);
    assert_true(code == 1801 || code == 1804);
    json_decref(env);
  }
  /* Wrong length: the plain path's messages. */
  st_expect_message(1801, "dimension: 16, but length of []float: 9", "/v2/vectordb/entities/search",
                    "{\"collectionName\":\"p\",\"data\":[[1,2,3,4,5,6,7,8,9]]}");
  st_expect_message(1804, "expects 16 floats", "/v2/vectordb/entities/insert",
                    "{\"collectionName\":\"p\",\"data\":[{\"id\":9,\"v\":[1,2,3,4,5,6,7,8,9]}]}");
  /* An escaped key is left to jansson and still means "v". */
  st_expect_code(0, "/v2/vectordb/entities/insert",
                 "{\"collectionName\":\"p\",\"data\":[{\"id\":9,\"\\u0076\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15],"
                 "\"arr\":[],\"doc\":{}}]}");
  json_t *env = st_call("/v2/vectordb/entities/query",
                        "{\"collectionName\":\"p\",\"filter\":\"id == 9\",\"outputFields\":[\"v\"]}");
  st_expect(env, 0);
  json_t *v = json_object_get(json_array_get(json_object_get(env, "data"), 0), "v");
  assert_int_equal(json_array_size(v), DIM);
  assert_true(json_number_value(json_array_get(v, 15)) == 15.0);
  json_decref(env);
  /* Nothing of the refused writes is there: ids 1, 2 and 9 only. */
  env = st_call("/v2/vectordb/entities/query",
                "{\"collectionName\":\"p\",\"filter\":\"\",\"outputFields\":[\"count(*)\"]}");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(env, "data"), 0), "count(*)")),
                   3);
  json_decref(env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_errors_match_plain_path),
  };
  return cmocka_run_group_tests(tests, st_start_server, st_stop_server);
}
