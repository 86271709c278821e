/*
 * test_server_collections.c -- black-box tests of the /collections/...
 * endpoints: the real `vectorstore serve` binary on a loopback port
 * (tests/support/testserver.h), spoken to over HTTP as a client would.
 *
 * One server serves the whole file (started in the group setup); every test
 * uses its own collection names, so the tests do not depend on each other's
 * order.  Success shapes are checked key by key (exact key sets where the
 * spec fixes them, MILVUS_REST_V2.md section 4.1), and every error path
 * checks its Milvus code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "support/servertest.h"


static json_t *describe(const char *name) {
  json_t *env = st_call("collections/describe", "{\"collectionName\":\"%s\"}", name);
  st_expect(env, 0);
  return env;
}

static const char *str_at(const json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  assert_non_null(s);
  return s;
}

static json_int_t int_at(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  assert_true(json_is_integer(v));
  return json_integer_value(v);
}

/* ------------------------------------------------------------ quick setup */

static const char *const describe_keys[] = {
    "collectionName", "collectionID", "description", "autoId", "fields", "functions", "aliases", "indexes",
    "load", "shardsNum", "partitionsNum", "consistencyLevel", "enableDynamicField", "properties", NULL};
static const char *const field_keys[] = {"name", "id", "type", "primaryKey", "partitionKey", "clusteringKey",
                                         "autoId", "description", "nullable", NULL};

static void test_quick_create_describe(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"q1\",\"dimension\":4}");
  json_t *env = describe("q1");
  static const char *const env_keys[] = {"code", "data", "message", NULL};
  st_assert_keys(env, env_keys);
  assert_string_equal(str_at(env, "message"), "");
  json_t *d = json_object_get(env, "data");
  st_assert_keys(d, describe_keys);
  assert_string_equal(str_at(d, "collectionName"), "q1");
  assert_true(json_is_integer(json_object_get(d, "collectionID")));
  assert_true(json_is_false(json_object_get(d, "autoId")));
  assert_int_equal(int_at(d, "shardsNum"), 1);
  assert_int_equal(int_at(d, "partitionsNum"), 1);
  assert_string_equal(str_at(d, "load"), "LoadStateLoaded");
  assert_string_equal(str_at(d, "consistencyLevel"), "Bounded");
  assert_true(json_is_true(json_object_get(d, "enableDynamicField")));
  assert_int_equal(json_array_size(json_object_get(d, "aliases")), 0);
  assert_int_equal(json_array_size(json_object_get(d, "properties")), 0);
  assert_int_equal(json_array_size(json_object_get(d, "functions")), 0);
  json_t *fields = json_object_get(d, "fields");
  assert_int_equal(json_array_size(fields), 2);
  json_t *id = json_array_get(fields, 0), *vec = json_array_get(fields, 1);
  st_assert_keys(id, field_keys);
  assert_string_equal(str_at(id, "name"), "id");
  assert_int_equal(int_at(id, "id"), 100);
  assert_string_equal(str_at(id, "type"), "Int64");
  assert_true(json_is_true(json_object_get(id, "primaryKey")));
  assert_string_equal(str_at(vec, "name"), "vector");
  assert_int_equal(int_at(vec, "id"), 101);
  assert_string_equal(str_at(vec, "type"), "FloatVector");
  json_t *params = json_object_get(vec, "params");
  assert_int_equal(json_array_size(params), 1);
  assert_string_equal(str_at(json_array_get(params, 0), "key"), "dim");
  assert_string_equal(str_at(json_array_get(params, 0), "value"), "4");
  json_t *indexes = json_object_get(d, "indexes");
  assert_int_equal(json_array_size(indexes), 1);
  static const char *const index_keys[] = {"fieldName", "indexName", "metricType", NULL};
  st_assert_keys(json_array_get(indexes, 0), index_keys);
  assert_string_equal(str_at(json_array_get(indexes, 0), "indexName"), "vector");
  assert_string_equal(str_at(json_array_get(indexes, 0), "metricType"), "COSINE");
  json_decref(env);
  /* the same create again is a no-op; a different one is refused */
  st_expect_code(0, "collections/create", "{\"collectionName\":\"q1\",\"dimension\":4}");
  st_expect_code(1100, "collections/create", "{\"collectionName\":\"q1\",\"dimension\":8}");
}

static void test_quick_create_options(void **state) {
  (void)state;
  st_expect_code(0, "collections/create",
              "{\"collectionName\":\"q2\",\"dimension\":\"3\",\"metricType\":\"L2\",\"idType\":\"VarChar\","
              "\"primaryFieldName\":\"pk\",\"vectorFieldName\":\"emb\",\"description\":\"hello\","
              "\"params\":{\"shardsNum\":\"2\",\"consistencyLevel\":\"Strong\",\"ttlSeconds\":60,"
              "\"enableDynamicField\":false,\"max_length\":64}}");
  json_t *env = describe("q2");
  json_t *d = json_object_get(env, "data");
  assert_int_equal(int_at(d, "shardsNum"), 2);
  assert_string_equal(str_at(d, "consistencyLevel"), "Strong");
  assert_string_equal(str_at(d, "description"), "hello");
  assert_true(json_is_false(json_object_get(d, "enableDynamicField")));
  json_t *props = json_object_get(d, "properties");
  assert_int_equal(json_array_size(props), 1);
  assert_string_equal(str_at(json_array_get(props, 0), "key"), "collection.ttl.seconds");
  assert_string_equal(str_at(json_array_get(props, 0), "value"), "60");
  json_t *pk = json_array_get(json_object_get(d, "fields"), 0);
  assert_string_equal(str_at(pk, "name"), "pk");
  assert_string_equal(str_at(pk, "type"), "VarChar");
  assert_string_equal(str_at(json_array_get(json_object_get(pk, "params"), 0), "value"), "64");
  json_t *idx = json_array_get(json_object_get(d, "indexes"), 0);
  assert_string_equal(str_at(idx, "fieldName"), "emb");
  assert_string_equal(str_at(idx, "indexName"), "emb");
  assert_string_equal(str_at(idx, "metricType"), "L2");
  json_decref(env);
}

static void test_quick_create_errors(void **state) {
  (void)state;
  st_expect_code(1802, "collections/create", "{\"dimension\":4}");
  st_expect_code(1802, "collections/create", "{\"collectionName\":\"\",\"dimension\":4}");
  st_expect_code(1100, "collections/create", "{\"collectionName\":\"e1\"}");
  st_expect_code(1100, "collections/create", "{\"collectionName\":\"e1\",\"dimension\":0}");
  st_expect_code(1100, "collections/create", "{\"collectionName\":\"e1\",\"dimension\":40000}");
  st_expect_code(1100, "collections/create", "{\"collectionName\":\"e1\",\"dimension\":4,\"idType\":\"Int32\"}");
  st_expect_code(1100, "collections/create", "{\"collectionName\":\"e1\",\"dimension\":4,\"metricType\":\"HAMMING\"}");
  st_expect_code(1100, "collections/create",
              "{\"collectionName\":\"e1\",\"dimension\":4,\"params\":{\"consistencyLevel\":\"Weak\"}}");
  st_expect_code(1100, "collections/create",
              "{\"collectionName\":\"e1\",\"dimension\":4,\"vectorFieldType\":\"BinaryVector\"}");
  st_expect_code(1100, "collections/create", "{\"collectionName\":\"1bad\",\"dimension\":4}");
  st_expect_code(1100, "collections/create", "{\"collectionName\":\"bad-name\",\"dimension\":4}");
  st_expect_code(800, "collections/create", "{\"collectionName\":\"e1\",\"dimension\":4,\"dbName\":\"nodb\"}");
  st_expect_code(0, "collections/has", "{\"collectionName\":\"e1\"}");
  json_t *env = st_call("collections/has", "{\"collectionName\":\"e1\"}");
  assert_true(json_is_false(json_object_get(json_object_get(env, "data"), "has")));
  json_decref(env);
}

/* ---------------------------------------------------------- custom schema */

#define ALL_TYPES_SCHEMA                                                                                      \
  "{\"collectionName\":\"%s\",\"schema\":{\"autoID\":true,\"enableDynamicField\":true,\"fields\":["          \
  "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"                                        \
  "{\"fieldName\":\"b\",\"dataType\":\"Bool\",\"defaultValue\":true},"                                       \
  "{\"fieldName\":\"i8\",\"dataType\":\"Int8\"},"                                                             \
  "{\"fieldName\":\"i16\",\"dataType\":\"Int16\"},"                                                           \
  "{\"fieldName\":\"i32\",\"dataType\":\"Int32\",\"isPartitionKey\":false},"                                  \
  "{\"fieldName\":\"i64\",\"dataType\":\"Int64\",\"nullable\":true,\"defaultValue\":7},"                      \
  "{\"fieldName\":\"f\",\"dataType\":\"Float\",\"defaultValue\":1.5},"                                       \
  "{\"fieldName\":\"d\",\"dataType\":\"Double\"},"                                                            \
  "{\"fieldName\":\"s\",\"dataType\":\"VarChar\",\"defaultValue\":\"x\",\"elementTypeParams\":{\"max_length\":32}}," \
  "{\"fieldName\":\"j\",\"dataType\":\"JSON\",\"nullable\":true},"                                            \
  "{\"fieldName\":\"arr\",\"dataType\":\"Array\",\"elementDataType\":\"Int64\","                              \
  "\"elementTypeParams\":{\"max_capacity\":4}},"                                                              \
  "{\"fieldName\":\"sarr\",\"dataType\":\"Array\",\"elementDataType\":\"VarChar\","                           \
  "\"elementTypeParams\":{\"max_capacity\":\"2\",\"max_length\":\"8\"}},"                                     \
  "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":8}}]}%s}"

static json_t *field_named(json_t *d, const char *name) {
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(d, "fields"), i, f) {
    if (strcmp(str_at(f, "name"), name) == 0) return f;
  }
  fail_msg("no field %s", name);
  return NULL;
}

static void test_custom_schema_all_types(void **state) {
  (void)state;
  json_t *env = st_call("collections/create", ALL_TYPES_SCHEMA, "c1", "");
  st_expect(env, 0);
  json_decref(env);
  env = describe("c1");
  json_t *d = json_object_get(env, "data");
  st_assert_keys(d, describe_keys);
  assert_int_equal(json_array_size(json_object_get(d, "fields")), 13);
  assert_true(json_is_true(json_object_get(d, "autoId")));
  assert_true(json_is_true(json_object_get(d, "enableDynamicField")));
  assert_string_equal(str_at(d, "load"), "LoadStateNotLoad");
  assert_int_equal(json_array_size(json_object_get(d, "indexes")), 0);
  json_t *id = field_named(d, "id");
  assert_true(json_is_true(json_object_get(id, "autoId")));
  static const char *const types[][2] = {{"b", "Bool"},     {"i8", "Int8"},   {"i16", "Int16"}, {"i32", "Int32"},
                                         {"i64", "Int64"},  {"f", "Float"},   {"d", "Double"},  {"s", "VarChar"},
                                         {"j", "JSON"},     {"arr", "Array"}, {"v", "FloatVector"}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    assert_string_equal(str_at(field_named(d, types[i][0]), "type"), types[i][1]);
  }
  for (size_t i = 0; i < 13; i++) {
    assert_int_equal(int_at(json_array_get(json_object_get(d, "fields"), i), "id"), 100 + (json_int_t)i);
  }
  assert_true(json_is_true(json_object_get(field_named(d, "i64"), "nullable")));
  assert_true(json_is_false(json_object_get(field_named(d, "d"), "nullable")));
  assert_string_equal(str_at(field_named(d, "arr"), "elementType"), "Int64");
  assert_string_equal(str_at(field_named(d, "sarr"), "elementType"), "VarChar");
  json_t *dv = json_object_get(json_object_get(field_named(d, "f"), "defaultValue"), "Data");
  assert_true(json_real_value(json_object_get(dv, "FloatData")) == 1.5);
  dv = json_object_get(json_object_get(field_named(d, "i64"), "defaultValue"), "Data");
  assert_int_equal(int_at(dv, "LongData"), 7);
  dv = json_object_get(json_object_get(field_named(d, "s"), "defaultValue"), "Data");
  assert_string_equal(str_at(dv, "StringData"), "x");
  dv = json_object_get(json_object_get(field_named(d, "b"), "defaultValue"), "Data");
  assert_true(json_is_true(json_object_get(dv, "BoolData")));
  json_t *sparams = json_object_get(field_named(d, "s"), "params");
  assert_string_equal(str_at(json_array_get(sparams, 0), "key"), "max_length");
  assert_string_equal(str_at(json_array_get(sparams, 0), "value"), "32");
  assert_null(json_object_get(field_named(d, "d"), "params"));
  json_decref(env);
  /* no index: loading is refused as in Milvus, until one exists */
  st_expect_code(700, "collections/load", "{\"collectionName\":\"c1\"}");
  st_expect_code(101, "collections/refresh_load", "{\"collectionName\":\"c1\"}");
  st_expect_code(0, "indexes/create", "{\"collectionName\":\"c1\",\"indexParams\":[{\"fieldName\":\"v\"}]}");
  st_expect_code(0, "collections/load", "{\"collectionName\":\"c1\"}");
  env = st_call("collections/get_load_state", "{\"collectionName\":\"c1\"}");
  st_expect(env, 0);
  assert_string_equal(str_at(json_object_get(env, "data"), "loadState"), "LoadStateLoaded");
  json_decref(env);
}

static void test_custom_schema_with_indexes(void **state) {
  (void)state;
  json_t *env = st_call("collections/create", ALL_TYPES_SCHEMA, "c2",
                     ",\"indexParams\":[{\"fieldName\":\"v\",\"indexName\":\"vidx\",\"metricType\":\"L2\","
                     "\"params\":{\"index_type\":\"HNSW\",\"M\":8,\"efConstruction\":64}}]");
  st_expect(env, 0);
  json_decref(env);
  env = describe("c2");
  json_t *d = json_object_get(env, "data");
  assert_string_equal(str_at(d, "load"), "LoadStateLoaded");
  json_t *idx = json_array_get(json_object_get(d, "indexes"), 0);
  assert_string_equal(str_at(idx, "indexName"), "vidx");
  assert_string_equal(str_at(idx, "fieldName"), "v");
  assert_string_equal(str_at(idx, "metricType"), "L2");
  json_decref(env);
  env = st_call("indexes/describe", "{\"collectionName\":\"c2\",\"indexName\":\"vidx\"}");
  st_expect(env, 0);
  assert_string_equal(str_at(json_array_get(json_object_get(env, "data"), 0), "indexType"), "HNSW");
  json_decref(env);
}

static void test_custom_schema_errors(void **state) {
  (void)state;
  const char *path = "collections/create";
  static const char *const bodies_1100[] = {
      "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"int64\",\"isPrimary\":true}]}}",
      "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
      "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\"}]}}",
      "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
      "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":0}}]}}",
      "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"VarChar\",\"isPrimary\":true},"
      "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}",
      "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
      "{\"fieldName\":\"a\",\"dataType\":\"Array\",\"elementTypeParams\":{\"max_capacity\":4}},"
      "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}",
      "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
      "{\"fieldName\":\"n\",\"dataType\":\"Int32\",\"defaultValue\":\"seven\"},"
      "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}",
      "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
      "{\"fieldName\":\"v\",\"dataType\":\"BinaryVector\",\"elementTypeParams\":{\"dim\":16}}]}}",
      "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\"},"
      "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}",
      NULL};
  for (size_t i = 0; bodies_1100[i]; i++) st_expect_code(1100, path, bodies_1100[i]);
  json_t *env = st_call(path, "%s", bodies_1100[0]);
  assert_non_null(strstr(str_at(env, "message"), "data type int64 is invalid(case sensitive)"));
  json_decref(env);
  env = st_call(path, "%s", bodies_1100[6]);
  assert_non_null(strstr(str_at(env, "message"), "not supported yet"));
  json_decref(env);
  st_expect_code(1802, path,
              "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"isPrimary\":true}]}}");
  st_expect_code(1802, path,
              "{\"collectionName\":\"x1\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
              "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]},"
              "\"indexParams\":[{\"fieldName\":\"nope\",\"metricType\":\"L2\"}]}");
  env = st_call("collections/has", "{\"collectionName\":\"x1\"}");
  assert_true(json_is_false(json_object_get(json_object_get(env, "data"), "has")));
  json_decref(env);
  /* isPartitionKey is accepted (and ignored) */
  st_expect_code(0, path,
              "{\"collectionName\":\"x2\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
              "\"isPrimary\":true},{\"fieldName\":\"k\",\"dataType\":\"Int64\",\"isPartitionKey\":true},"
              "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}");
}

/* ------------------------------------------------------ list, has, drop */

static void test_list_has_drop(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"l1\",\"dimension\":2}");
  json_t *env = st_call("collections/list", "{}");
  st_expect(env, 0);
  assert_true(json_is_array(json_object_get(env, "data")));
  assert_true(st_list_has(json_object_get(env, "data"), "l1"));
  json_decref(env);
  env = st_call("collections/has", "{\"collectionName\":\"l1\"}");
  static const char *const has_keys[] = {"has", NULL};
  st_assert_keys(json_object_get(env, "data"), has_keys);
  assert_true(json_is_true(json_object_get(json_object_get(env, "data"), "has")));
  json_decref(env);
  st_expect_code(0, "collections/drop", "{\"collectionName\":\"l1\"}");
  st_expect_code(0, "collections/drop", "{\"collectionName\":\"l1\"}");
  st_expect_code(100, "collections/describe", "{\"collectionName\":\"l1\"}");
  env = st_call("collections/list", "{}");
  assert_false(st_list_has(json_object_get(env, "data"), "l1"));
  json_decref(env);
  st_expect_code(800, "collections/list", "{\"dbName\":\"nodb\"}");
  st_expect_code(800, "collections/drop", "{\"collectionName\":\"l1\",\"dbName\":\"nodb\"}");
  env = st_call("collections/drop", "{\"collectionName\":\"l1\"}");
  static const char *const ok_keys[] = {"code", "data", NULL};
  st_assert_keys(env, ok_keys);
  assert_int_equal(json_object_size(json_object_get(env, "data")), 0);
  json_decref(env);
}

/* Every collection-scoped endpoint: 1802 without collectionName, 100 for a
 * collection that does not exist. */
static void test_missing_and_unknown(void **state) {
  (void)state;
  static const char *const paths[] = {
      "collections/describe",       "collections/has",         "collections/drop",
      "collections/rename",         "collections/get_stats",   "collections/get_load_state",
      "collections/load",           "collections/release",     "collections/refresh_load",
      "collections/alter_properties", "collections/drop_properties", "collections/flush",
      "collections/compact",        NULL};
  for (size_t i = 0; paths[i]; i++) st_expect_code(1802, paths[i], "{}");
  for (size_t i = 0; paths[i]; i++) {
    if (strcmp(paths[i], "collections/has") == 0 || strcmp(paths[i], "collections/drop") == 0) continue;
    st_expect_code(100, paths[i],
                "{\"collectionName\":\"ghost\",\"newCollectionName\":\"g2\",\"properties\":{\"a\":1},"
                "\"propertyKeys\":[\"a\"]}");
  }
}

/* --------------------------------------------------------------- rename */

static void test_rename(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"r1\",\"dimension\":2}");
  st_expect_code(0, "collections/create", "{\"collectionName\":\"r3\",\"dimension\":2}");
  st_expect_code(0, "collections/release", "{\"collectionName\":\"r1\"}");
  st_expect_code(1802, "collections/rename", "{\"collectionName\":\"r1\"}");
  st_expect_code(1100, "collections/rename", "{\"collectionName\":\"r1\",\"newCollectionName\":\"r3\"}");
  st_expect_code(1100, "collections/rename", "{\"collectionName\":\"r1\",\"newCollectionName\":\"r-2\"}");
  st_expect_code(1100, "collections/rename",
              "{\"collectionName\":\"r1\",\"newCollectionName\":\"r2\",\"newDbName\":\"other\"}");
  st_expect_code(0, "collections/rename", "{\"collectionName\":\"r1\",\"newCollectionName\":\"r2\"}");
  st_expect_code(100, "collections/describe", "{\"collectionName\":\"r1\"}");
  json_t *env = describe("r2");
  assert_string_equal(str_at(json_object_get(env, "data"), "collectionName"), "r2");
  assert_string_equal(str_at(json_object_get(env, "data"), "load"), "LoadStateNotLoad");
  json_decref(env);
}

/* ------------------------------------------------- stats, flush, compact */

static void test_stats_flush_compact(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"s1\",\"dimension\":2}");
  json_t *env = st_call("collections/get_stats", "{\"collectionName\":\"s1\"}");
  st_expect(env, 0);
  static const char *const stats_keys[] = {"rowCount", NULL};
  st_assert_keys(json_object_get(env, "data"), stats_keys);
  assert_int_equal(int_at(json_object_get(env, "data"), "rowCount"), 0);
  json_decref(env);
  st_expect_code(0, "collections/flush", "{\"collectionName\":\"s1\"}");
  env = st_call("collections/compact", "{\"collectionName\":\"s1\",\"isClustering\":false}");
  st_expect(env, 0);
  static const char *const compact_keys[] = {"compactionID", NULL};
  st_assert_keys(json_object_get(env, "data"), compact_keys);
  json_int_t id = int_at(json_object_get(env, "data"), "compactionID");
  assert_true(id > 0);
  json_decref(env);
  static const char *const state_keys[] = {"compactionID", "state", "executingPlanNumber", "timeoutPlanNumber",
                                           "completedPlanNumber", NULL};
  env = st_call("collections/get_compaction_state", "{\"jobID\":%lld}", (long long)id);
  st_expect(env, 0);
  st_assert_keys(json_object_get(env, "data"), state_keys);
  assert_string_equal(str_at(json_object_get(env, "data"), "state"), "Completed");
  json_decref(env);
  env = st_call("collections/get_compaction_state", "{\"compactionID\":%lld}", (long long)id);
  assert_string_equal(str_at(json_object_get(env, "data"), "state"), "Completed");
  json_decref(env);
  env = st_call("collections/get_compaction_state", "{\"jobID\":%lld}", (long long)id + 1000000);
  assert_string_equal(str_at(json_object_get(env, "data"), "state"), "UndefiedState");
  json_decref(env);
}

/* ------------------------------------------------------------ load state */

static void expect_load_state(const char *body, const char *want) {
  json_t *env = st_call("collections/get_load_state", "%s", body);
  st_expect(env, 0);
  assert_string_equal(str_at(env, "message"), "");
  json_t *d = json_object_get(env, "data");
  assert_string_equal(str_at(d, "loadState"), want);
  if (strcmp(want, "LoadStateLoaded") == 0) {
    assert_int_equal(int_at(d, "loadProgress"), 100);
    assert_int_equal(json_object_size(d), 2);
  } else {
    assert_int_equal(json_object_size(d), 1);
  }
  json_decref(env);
}

static void test_load_release(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"ld1\",\"dimension\":2}");
  expect_load_state("{\"collectionName\":\"ld1\"}", "LoadStateLoaded");
  st_expect_code(0, "collections/refresh_load", "{\"collectionName\":\"ld1\"}");
  st_expect_code(0, "collections/release", "{\"collectionName\":\"ld1\"}");
  expect_load_state("{\"collectionName\":\"ld1\"}", "LoadStateNotLoad");
  st_expect_code(101, "collections/refresh_load", "{\"collectionName\":\"ld1\"}");
  st_expect_code(0, "collections/load", "{\"collectionName\":\"ld1\"}");
  expect_load_state("{\"collectionName\":\"ld1\",\"partitionNames\":[\"_default\"]}", "LoadStateLoaded");
  st_expect_code(200, "collections/get_load_state", "{\"collectionName\":\"ld1\",\"partitionNames\":[\"nope\"]}");
  st_expect_code(100, "collections/get_load_state", "{\"collectionName\":\"nope\"}");
}

/* ------------------------------------------------------------ properties */

static void test_properties(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"p1\",\"dimension\":2}");
  st_expect_code(1802, "collections/alter_properties", "{\"collectionName\":\"p1\"}");
  st_expect_code(1802, "collections/drop_properties", "{\"collectionName\":\"p1\"}");
  st_expect_code(0, "collections/alter_properties",
              "{\"collectionName\":\"p1\",\"properties\":{\"collection.ttl.seconds\":3600,\"mmap.enabled\":true}}");
  json_t *env = describe("p1");
  json_t *props = json_object_get(json_object_get(env, "data"), "properties");
  assert_int_equal(json_array_size(props), 2);
  size_t i;
  json_t *kv;
  int seen = 0;
  json_array_foreach(props, i, kv) {
    if (strcmp(str_at(kv, "key"), "collection.ttl.seconds") == 0) {
      assert_string_equal(str_at(kv, "value"), "3600");
      seen++;
    }
    if (strcmp(str_at(kv, "key"), "mmap.enabled") == 0) {
      assert_string_equal(str_at(kv, "value"), "true");
      seen++;
    }
  }
  assert_int_equal(seen, 2);
  json_decref(env);
  st_expect_code(0, "collections/drop_properties", "{\"collectionName\":\"p1\",\"propertyKeys\":[\"mmap.enabled\"]}");
  env = describe("p1");
  props = json_object_get(json_object_get(env, "data"), "properties");
  assert_int_equal(json_array_size(props), 1);
  assert_string_equal(str_at(json_array_get(props, 0), "key"), "collection.ttl.seconds");
  json_decref(env);
}

/* collections/fields/add: rows inserted before read the default (or null),
 * rows after can set it, over a flush (sealed rows) and a restart; every
 * refusal leaves the fields as they were. */
static void test_add_field(void **state) {
  (void)state;
  const char *path = "collections/fields/add";
  st_expect_code(0, "collections/create", "{\"collectionName\":\"af\",\"dimension\":2}");
  st_expect_code(0, "entities/insert",
                 "{\"collectionName\":\"af\",\"data\":[{\"id\":1,\"vector\":[1,0],\"k\":\"a\"},"
                 "{\"id\":2,\"vector\":[0,1],\"k\":\"b\"}]}");
  st_expect_code(0, "collections/flush", "{\"collectionName\":\"af\"}");
  st_expect_code(0, "entities/insert",
                 "{\"collectionName\":\"af\",\"data\":[{\"id\":3,\"vector\":[1,1],\"k\":\"c\"}]}");
  st_expect_code(1802, path, "{\"collectionName\":\"af\"}");
  st_expect_code(1802, path, "{\"collectionName\":\"af\",\"schema\":{\"fieldName\":\"x\"}}");
  st_expect_message(1100, "nullable", path,
                    "{\"collectionName\":\"af\",\"schema\":{\"fieldName\":\"x\",\"dataType\":\"Int64\"}}");
  st_expect_message(1100, "vector", path,
                    "{\"collectionName\":\"af\",\"schema\":{\"fieldName\":\"x\",\"dataType\":\"FloatVector\","
                    "\"nullable\":true,\"elementTypeParams\":{\"dim\":2}}}");
  st_expect_code(1100, path,
                 "{\"collectionName\":\"af\",\"schema\":{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"nullable\":true}}");
  st_expect_code(1100, path,
                 "{\"collectionName\":\"af\",\"schema\":{\"fieldName\":\"x\",\"dataType\":\"Int64\",\"nullable\":true,"
                 "\"defaultValue\":\"text\"}}");
  st_expect_code(100, path,
                 "{\"collectionName\":\"nope\",\"schema\":{\"fieldName\":\"x\",\"dataType\":\"Int64\",\"nullable\":true}}");
  json_t *env = describe("af");
  assert_int_equal(json_array_size(json_object_get(json_object_get(env, "data"), "fields")), 2);
  json_decref(env);

  st_expect_code(0, path,
                 "{\"collectionName\":\"af\",\"schema\":{\"fieldName\":\"grade\",\"dataType\":\"VarChar\","
                 "\"nullable\":true,\"defaultValue\":\"none\",\"elementTypeParams\":{\"max_length\":8}}}");
  st_expect_code(0, path,
                 "{\"collectionName\":\"af\",\"schema\":{\"fieldName\":\"n\",\"dataType\":\"Int32\",\"nullable\":true}}");
  env = describe("af");
  json_t *d = json_object_get(env, "data");
  assert_int_equal(json_array_size(json_object_get(d, "fields")), 4);
  assert_string_equal(str_at(field_named(d, "grade"), "type"), "VarChar");
  assert_true(json_is_true(json_object_get(field_named(d, "n"), "nullable")));
  json_decref(env);
  st_expect_code(0, "entities/insert",
                 "{\"collectionName\":\"af\",\"data\":[{\"id\":4,\"vector\":[2,1],\"k\":\"d\",\"grade\":\"A\",\"n\":7}]}");
  for (int round = 0; round < 2; round++) {
    env = st_call("entities/query", "{\"collectionName\":\"af\",\"filter\":\"id > 0\",\"outputFields\":[\"*\"]}");
    st_expect(env, 0);
    json_t *rows = json_object_get(env, "data");
    assert_int_equal(json_array_size(rows), 4);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
      json_int_t id = int_at(row, "id");
      assert_string_equal(str_at(row, "grade"), id == 4 ? "A" : "none");
      static const char *const keys[] = {"a", "b", "c", "d"};
      assert_true(id >= 1 && id <= 4);
      assert_string_equal(str_at(row, "k"), keys[id - 1]);
      if (id == 4) {
        assert_int_equal(int_at(row, "n"), 7);
      } else {
        assert_true(json_is_null(json_object_get(row, "n")));
      }
    }
    json_decref(env);
    env = st_call("entities/query",
                  "{\"collectionName\":\"af\",\"filter\":\"grade == \\\"none\\\" and n is null\",\"outputFields\":[\"count(*)\"]}");
    st_expect(env, 0);
    assert_int_equal(int_at(json_array_get(json_object_get(env, "data"), 0), "count(*)"), 3);
    json_decref(env);
    if (round == 0) {
      st_restart_server();
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quick_create_describe),  cmocka_unit_test(test_quick_create_options),
      cmocka_unit_test(test_quick_create_errors),    cmocka_unit_test(test_custom_schema_all_types),
      cmocka_unit_test(test_custom_schema_with_indexes), cmocka_unit_test(test_custom_schema_errors),
      cmocka_unit_test(test_list_has_drop),          cmocka_unit_test(test_missing_and_unknown),
      cmocka_unit_test(test_rename),                 cmocka_unit_test(test_stats_flush_compact),
      cmocka_unit_test(test_load_release),           cmocka_unit_test(test_properties),
      cmocka_unit_test(test_add_field),
  };
  return cmocka_run_group_tests(tests, st_start_server, st_stop_server);
}
