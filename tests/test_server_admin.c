/*
 * test_server_admin.c -- black-box tests of the /partitions/, /indexes/,
 * /aliases/ and /databases/ endpoints, and of the server metadata
 * surviving a restart: the real `vectorstore serve` binary on a loopback
 * port (tests/support/testserver.h).
 *
 * One server serves the group; the restart test stops it and starts a new
 * one on the same data directory (a clean SIGTERM, as an operator would).
 * Every test uses its own names.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "support/servertest.h"
#include "support/testutil.h"


/* data of a successful call */
static json_t *data_of(const char *path, const char *body) {
  json_t *env = st_call(path, "%s", body);
  st_expect(env, 0);
  json_t *d = json_incref(json_object_get(env, "data"));
  json_decref(env);
  return d;
}

static bool has_flag(const char *path, const char *body) {
  json_t *d = data_of(path, body);
  bool has = json_is_true(json_object_get(d, "has"));
  json_decref(d);
  return has;
}

static const char *load_state(const char *body) {
  json_t *d = data_of("collections/get_load_state", body);
  const char *s = json_string_value(json_object_get(d, "loadState"));
  static char buf[64];
  snprintf(buf, sizeof buf, "%s", s ? s : "");
  json_decref(d);
  return buf;
}

#define CUSTOM_SCHEMA(name)                                                                            \
  "{\"collectionName\":\"" name "\",\"schema\":{\"fields\":["                                          \
  "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"                                  \
  "{\"fieldName\":\"tag\",\"dataType\":\"VarChar\",\"elementTypeParams\":{\"max_length\":16}},"        \
  "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}"

/* ------------------------------------------------------------ partitions */

static void test_partitions(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"pt\",\"dimension\":2}");
  json_t *d = data_of("partitions/list", "{\"collectionName\":\"pt\"}");
  assert_int_equal(json_array_size(d), 1);
  assert_true(st_list_has(d, "_default"));
  json_decref(d);
  st_expect_code(0, "partitions/create", "{\"collectionName\":\"pt\",\"partitionName\":\"p1\"}");
  st_expect_code(0, "partitions/create", "{\"collectionName\":\"pt\",\"partitionName\":\"p1\"}");
  st_expect_code(1100, "partitions/create", "{\"collectionName\":\"pt\",\"partitionName\":\"p-1\"}");
  assert_true(has_flag("partitions/has", "{\"collectionName\":\"pt\",\"partitionName\":\"p1\"}"));
  assert_false(has_flag("partitions/has", "{\"collectionName\":\"pt\",\"partitionName\":\"p9\"}"));
  d = data_of("partitions/list", "{\"collectionName\":\"pt\"}");
  assert_true(st_list_has(d, "p1"));
  json_decref(d);
  d = data_of("partitions/get_stats", "{\"collectionName\":\"pt\",\"partitionName\":\"p1\"}");
  static const char *const stats_keys[] = {"rowCount", NULL};
  st_assert_keys(d, stats_keys);
  assert_int_equal(json_integer_value(json_object_get(d, "rowCount")), 0);
  json_decref(d);
  st_expect_code(200, "partitions/get_stats", "{\"collectionName\":\"pt\",\"partitionName\":\"p9\"}");
  /* a loaded partition cannot be dropped (Milvus: release first) */
  st_expect_message(65535, "please release it first", "partitions/drop",
                 "{\"collectionName\":\"pt\",\"partitionName\":\"p1\"}");
  st_expect_code(0, "partitions/release", "{\"collectionName\":\"pt\",\"partitionNames\":[\"p1\"]}");
  assert_string_equal(load_state("{\"collectionName\":\"pt\",\"partitionNames\":[\"p1\"]}"), "LoadStateNotLoad");
  assert_string_equal(load_state("{\"collectionName\":\"pt\"}"), "LoadStateLoaded");
  st_expect_code(0, "partitions/load", "{\"collectionName\":\"pt\",\"partitionNames\":[\"p1\"]}");
  assert_string_equal(load_state("{\"collectionName\":\"pt\",\"partitionNames\":[\"p1\"]}"), "LoadStateLoaded");
  /* releasing every partition releases the collection */
  st_expect_code(0, "partitions/release", "{\"collectionName\":\"pt\",\"partitionNames\":[\"p1\",\"_default\"]}");
  assert_string_equal(load_state("{\"collectionName\":\"pt\"}"), "LoadStateNotLoad");
  /* loading one partition of a released collection loads only it */
  st_expect_code(0, "partitions/load", "{\"collectionName\":\"pt\",\"partitionNames\":[\"_default\"]}");
  assert_string_equal(load_state("{\"collectionName\":\"pt\"}"), "LoadStateLoaded");
  assert_string_equal(load_state("{\"collectionName\":\"pt\",\"partitionNames\":[\"p1\"]}"), "LoadStateNotLoad");
  st_expect_code(0, "partitions/drop", "{\"collectionName\":\"pt\",\"partitionName\":\"p1\"}");
  st_expect_code(0, "partitions/drop", "{\"collectionName\":\"pt\",\"partitionName\":\"p1\"}");
  assert_false(has_flag("partitions/has", "{\"collectionName\":\"pt\",\"partitionName\":\"p1\"}"));
  st_expect_code(0, "collections/release", "{\"collectionName\":\"pt\"}");
  st_expect_code(1100, "partitions/drop", "{\"collectionName\":\"pt\",\"partitionName\":\"_default\"}");
}

static void test_partition_errors(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"pe\",\"dimension\":2}");
  static const char *const need_name[] = {"partitions/has", "partitions/create", "partitions/drop",
                                          "partitions/get_stats", NULL};
  for (size_t i = 0; need_name[i]; i++) {
    st_expect_code(1802, need_name[i], "{\"collectionName\":\"pe\"}");
    st_expect_code(1802, need_name[i], "{\"partitionName\":\"p\"}");
    st_expect_code(100, need_name[i], "{\"collectionName\":\"ghost\",\"partitionName\":\"p\"}");
  }
  st_expect_code(1802, "partitions/list", "{}");
  st_expect_code(100, "partitions/list", "{\"collectionName\":\"ghost\"}");
  st_expect_code(1802, "partitions/load", "{\"collectionName\":\"pe\"}");
  st_expect_code(1802, "partitions/release", "{\"collectionName\":\"pe\"}");
  st_expect_code(200, "partitions/load", "{\"collectionName\":\"pe\",\"partitionNames\":[\"nope\"]}");
  st_expect_code(200, "partitions/release", "{\"collectionName\":\"pe\",\"partitionNames\":[\"nope\"]}");
  st_expect_code(800, "partitions/list", "{\"collectionName\":\"pe\",\"dbName\":\"nodb\"}");
}

/* --------------------------------------------------------------- indexes */

static const char *const index_desc_keys[] = {"indexName",   "fieldName",   "indexType",  "metricType", "totalRows",
                                              "indexedRows", "pendingRows", "indexState", "failReason", NULL};

static void test_indexes(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", CUSTOM_SCHEMA("ix"));
  json_t *d = data_of("indexes/list", "{\"collectionName\":\"ix\"}");
  assert_true(json_is_array(d));
  assert_int_equal(json_array_size(d), 0);
  json_decref(d);
  st_expect_code(0, "indexes/create",
              "{\"collectionName\":\"ix\",\"indexParams\":[{\"fieldName\":\"v\",\"indexName\":\"vi\","
              "\"metricType\":\"COSINE\",\"indexType\":\"HNSW\",\"params\":{\"M\":8,\"efConstruction\":32}}]}");
  d = data_of("indexes/list", "{\"collectionName\":\"ix\"}");
  assert_int_equal(json_array_size(d), 1);
  assert_true(st_list_has(d, "vi"));
  json_decref(d);
  d = data_of("indexes/describe", "{\"collectionName\":\"ix\",\"indexName\":\"vi\"}");
  assert_int_equal(json_array_size(d), 1);
  json_t *one = json_array_get(d, 0);
  st_assert_keys(one, index_desc_keys);
  assert_string_equal(json_string_value(json_object_get(one, "indexType")), "HNSW");
  assert_string_equal(json_string_value(json_object_get(one, "fieldName")), "v");
  assert_string_equal(json_string_value(json_object_get(one, "metricType")), "COSINE");
  assert_string_equal(json_string_value(json_object_get(one, "indexState")), "Finished");
  json_decref(d);
  /* the same index again is fine; another name on the same field is not */
  st_expect_code(0, "indexes/create",
              "{\"collectionName\":\"ix\",\"indexParams\":[{\"fieldName\":\"v\",\"indexName\":\"vi\","
              "\"metricType\":\"COSINE\",\"indexType\":\"HNSW\",\"params\":{\"M\":8,\"efConstruction\":32}}]}");
  st_expect_code(1100, "indexes/create",
              "{\"collectionName\":\"ix\",\"indexParams\":[{\"fieldName\":\"v\",\"indexName\":\"other\"}]}");
  st_expect_code(0, "collections/load", "{\"collectionName\":\"ix\"}");
  st_expect_code(0, "indexes/alter_properties",
              "{\"collectionName\":\"ix\",\"indexName\":\"vi\",\"properties\":{\"mmap.enabled\":true}}");
  st_expect_code(0, "indexes/drop_properties",
              "{\"collectionName\":\"ix\",\"indexName\":\"vi\",\"propertyKeys\":[\"mmap.enabled\"]}");
  st_expect_message(65535, "please release it first", "indexes/drop", "{\"collectionName\":\"ix\",\"indexName\":\"vi\"}");
  st_expect_code(0, "collections/release", "{\"collectionName\":\"ix\"}");
  st_expect_code(0, "indexes/drop", "{\"collectionName\":\"ix\",\"indexName\":\"vi\"}");
  st_expect_code(0, "indexes/drop", "{\"collectionName\":\"ix\",\"indexName\":\"vi\"}");
  d = data_of("indexes/list", "{\"collectionName\":\"ix\"}");
  assert_int_equal(json_array_size(d), 0);
  json_decref(d);
  /* defaults: name = field name, type AUTOINDEX */
  st_expect_code(0, "indexes/create", "{\"collectionName\":\"ix\",\"indexParams\":[{\"fieldName\":\"v\"}]}");
  d = data_of("indexes/list", "{\"collectionName\":\"ix\"}");
  assert_true(st_list_has(d, "v"));
  json_decref(d);
  d = data_of("indexes/describe", "{\"collectionName\":\"ix\",\"indexName\":\"v\"}");
  assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "indexType")), "AUTOINDEX");
  json_decref(d);
}

static void test_index_errors(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", CUSTOM_SCHEMA("ie"));
  st_expect_code(1802, "indexes/create", "{\"collectionName\":\"ie\"}");
  st_expect_code(1802, "indexes/create", "{\"collectionName\":\"ie\",\"indexParams\":[{\"indexName\":\"x\"}]}");
  st_expect_code(1802, "indexes/create", "{\"indexParams\":[{\"fieldName\":\"v\"}]}");
  st_expect_code(100, "indexes/create", "{\"collectionName\":\"ghost\",\"indexParams\":[{\"fieldName\":\"v\"}]}");
  st_expect_code(1700, "indexes/create", "{\"collectionName\":\"ie\",\"indexParams\":[{\"fieldName\":\"nope\"}]}");
  st_expect_message(1100, "STL_SORT needs a numeric field", "indexes/create",
                 "{\"collectionName\":\"ie\",\"indexParams\":[{\"fieldName\":\"tag\",\"indexType\":\"STL_SORT\"}]}");
  st_expect_message(1100, "unknown index type", "indexes/create",
                 "{\"collectionName\":\"ie\",\"indexParams\":[{\"fieldName\":\"tag\",\"indexType\":\"TRIE\"}]}");
  st_expect_code(1100, "indexes/create",
              "{\"collectionName\":\"ie\",\"indexParams\":[{\"fieldName\":\"v\",\"indexType\":\"NO_SUCH\"}]}");
  st_expect_code(1802, "indexes/describe", "{\"collectionName\":\"ie\"}");
  st_expect_code(700, "indexes/describe", "{\"collectionName\":\"ie\",\"indexName\":\"v\"}");
  st_expect_code(700, "indexes/alter_properties",
              "{\"collectionName\":\"ie\",\"indexName\":\"v\",\"properties\":{\"a\":1}}");
  st_expect_code(1802, "indexes/alter_properties", "{\"collectionName\":\"ie\",\"indexName\":\"v\"}");
  st_expect_code(1802, "indexes/drop_properties", "{\"collectionName\":\"ie\",\"indexName\":\"v\"}");
  st_expect_code(1802, "indexes/drop", "{\"collectionName\":\"ie\"}");
  st_expect_code(1802, "indexes/list", "{}");
  st_expect_code(100, "indexes/list", "{\"collectionName\":\"ghost\"}");
  /* The metric belongs to the index: the first index picks it; another
   * metric on an indexed field is refused. */
  st_expect_code(0, "indexes/create",
              "{\"collectionName\":\"ie\",\"indexParams\":[{\"fieldName\":\"v\",\"metricType\":\"L2\"}]}");
  st_expect_code(1100, "indexes/create",
              "{\"collectionName\":\"ie\",\"indexParams\":[{\"fieldName\":\"v\",\"metricType\":\"IP\"}]}");
  json_t *r = ts_postf(&st_server, "/v2/vectordb/indexes/describe",
                       "{\"collectionName\":\"ie\",\"indexName\":\"v\"}");
  assert_non_null(r);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "data"), 0), "metricType")),
                      "L2");
  json_decref(r);
}

/* Scalar indexes: INVERTED / STL_SORT / BITMAP / AUTOINDEX on scalar
 * fields, a JSON path index, describe and drop. */
static void test_scalar_indexes(void **state) {
  (void)state;
  st_expect_code(0, "collections/create",
              "{\"collectionName\":\"sx\",\"schema\":{\"fields\":["
              "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
              "{\"fieldName\":\"tag\",\"dataType\":\"VarChar\",\"elementTypeParams\":{\"max_length\":16}},"
              "{\"fieldName\":\"ok\",\"dataType\":\"Bool\"},"
              "{\"fieldName\":\"meta\",\"dataType\":\"JSON\"},"
              "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}");
  st_expect_code(0, "indexes/create",
              "{\"collectionName\":\"sx\",\"indexParams\":[{\"fieldName\":\"tag\",\"indexName\":\"tag_idx\","
              "\"indexType\":\"INVERTED\"},{\"fieldName\":\"id\",\"indexType\":\"STL_SORT\"},"
              "{\"fieldName\":\"ok\",\"indexType\":\"AUTOINDEX\"}]}");
  st_expect_message(1100, "json_path", "indexes/create",
                 "{\"collectionName\":\"sx\",\"indexParams\":[{\"fieldName\":\"meta\",\"indexType\":\"INVERTED\"}]}");
  st_expect_code(0, "indexes/create",
              "{\"collectionName\":\"sx\",\"indexParams\":[{\"fieldName\":\"meta\",\"indexType\":\"INVERTED\","
              "\"params\":{\"json_path\":\"meta[\\\"a\\\"]\",\"json_cast_type\":\"double\"}}]}");
  json_t *d = data_of("indexes/list", "{\"collectionName\":\"sx\"}");
  assert_true(st_list_has(d, "tag_idx"));
  assert_true(st_list_has(d, "id"));
  assert_true(st_list_has(d, "ok"));
  assert_true(st_list_has(d, "meta"));
  json_decref(d);
  d = data_of("indexes/describe", "{\"collectionName\":\"sx\",\"indexName\":\"tag_idx\"}");
  json_t *one = json_array_get(d, 0);
  assert_string_equal(json_string_value(json_object_get(one, "indexType")), "INVERTED");
  assert_string_equal(json_string_value(json_object_get(one, "fieldName")), "tag");
  assert_string_equal(json_string_value(json_object_get(one, "metricType")), "");
  json_decref(d);
  st_expect_code(0, "collections/release", "{\"collectionName\":\"sx\"}");
  st_expect_code(0, "indexes/drop", "{\"collectionName\":\"sx\",\"indexName\":\"tag_idx\"}");
  d = data_of("indexes/list", "{\"collectionName\":\"sx\"}");
  assert_false(st_list_has(d, "tag_idx"));
  json_decref(d);
}

/* --------------------------------------------------------------- aliases */

static void test_aliases(void **state) {
  (void)state;
  st_expect_code(0, "collections/create", "{\"collectionName\":\"al1\",\"dimension\":2}");
  st_expect_code(0, "collections/create", "{\"collectionName\":\"al2\",\"dimension\":2}");
  st_expect_code(0, "aliases/create", "{\"collectionName\":\"al1\",\"aliasName\":\"a1\"}");
  st_expect_code(0, "aliases/create", "{\"collectionName\":\"al1\",\"aliasName\":\"a1\"}");
  st_expect_code(1602, "aliases/create", "{\"collectionName\":\"al2\",\"aliasName\":\"a1\"}");
  st_expect_code(1601, "aliases/create", "{\"collectionName\":\"al1\",\"aliasName\":\"al2\"}");
  st_expect_code(100, "aliases/create", "{\"collectionName\":\"ghost\",\"aliasName\":\"a9\"}");
  st_expect_code(1100, "aliases/create", "{\"collectionName\":\"al1\",\"aliasName\":\"a-9\"}");
  json_t *d = data_of("aliases/list", "{}");
  assert_true(st_list_has(d, "a1"));
  json_decref(d);
  d = data_of("aliases/list", "{\"collectionName\":\"al2\"}");
  assert_int_equal(json_array_size(d), 0);
  json_decref(d);
  d = data_of("aliases/describe", "{\"aliasName\":\"a1\"}");
  static const char *const alias_keys[] = {"dbName", "collectionName", "aliasName", NULL};
  st_assert_keys(d, alias_keys);
  assert_string_equal(json_string_value(json_object_get(d, "collectionName")), "al1");
  assert_string_equal(json_string_value(json_object_get(d, "dbName")), "default");
  json_decref(d);
  /* an alias works where a collection name does */
  d = data_of("collections/describe", "{\"collectionName\":\"a1\"}");
  assert_string_equal(json_string_value(json_object_get(d, "collectionName")), "al1");
  assert_true(st_list_has(json_object_get(d, "aliases"), "a1"));
  json_decref(d);
  assert_true(has_flag("collections/has", "{\"collectionName\":\"a1\"}"));
  st_expect_code(1100, "collections/drop", "{\"collectionName\":\"a1\"}");
  st_expect_code(1601, "collections/create", "{\"collectionName\":\"a1\",\"dimension\":2}");
  st_expect_code(1601, "collections/rename", "{\"collectionName\":\"al1\",\"newCollectionName\":\"a1\"}");
  /* alter re-points */
  st_expect_code(0, "aliases/alter", "{\"collectionName\":\"al2\",\"aliasName\":\"a1\"}");
  d = data_of("aliases/describe", "{\"aliasName\":\"a1\"}");
  assert_string_equal(json_string_value(json_object_get(d, "collectionName")), "al2");
  json_decref(d);
  st_expect_code(1600, "aliases/alter", "{\"collectionName\":\"al2\",\"aliasName\":\"a8\"}");
  st_expect_code(0, "aliases/drop", "{\"aliasName\":\"a1\"}");
  st_expect_code(1600, "aliases/drop", "{\"aliasName\":\"a1\"}");
  st_expect_code(1600, "aliases/describe", "{\"aliasName\":\"a1\"}");
  st_expect_code(1802, "aliases/drop", "{}");
  st_expect_code(1802, "aliases/describe", "{}");
  st_expect_code(1802, "aliases/create", "{\"collectionName\":\"al1\"}");
  st_expect_code(1802, "aliases/alter", "{\"aliasName\":\"a1\"}");
  /* dropping a collection drops its aliases */
  st_expect_code(0, "aliases/create", "{\"collectionName\":\"al2\",\"aliasName\":\"a2\"}");
  st_expect_code(0, "collections/drop", "{\"collectionName\":\"al2\"}");
  st_expect_code(1600, "aliases/describe", "{\"aliasName\":\"a2\"}");
  st_expect_code(100, "collections/describe", "{\"collectionName\":\"a2\"}");
}

/* ------------------------------------------------------------- databases */

static void test_databases(void **state) {
  (void)state;
  json_t *d = data_of("databases/list", "{}");
  assert_true(st_list_has(d, "default"));
  json_decref(d);
  st_expect_code(0, "databases/create", "{\"dbName\":\"db1\",\"properties\":{\"database.replica.number\":1}}");
  st_expect_code(65535, "databases/create", "{\"dbName\":\"db1\"}");
  st_expect_code(1100, "databases/create", "{\"dbName\":\"bad-db\"}");
  st_expect_code(1802, "databases/create", "{}");
  d = data_of("databases/list", "{}");
  assert_true(st_list_has(d, "db1"));
  json_decref(d);
  d = data_of("databases/describe", "{\"dbName\":\"db1\"}");
  static const char *const db_keys[] = {"dbName", "dbID", "properties", NULL};
  st_assert_keys(d, db_keys);
  assert_true(json_is_integer(json_object_get(d, "dbID")));
  json_t *kv = json_array_get(json_object_get(d, "properties"), 0);
  assert_string_equal(json_string_value(json_object_get(kv, "key")), "database.replica.number");
  assert_string_equal(json_string_value(json_object_get(kv, "value")), "1");
  json_decref(d);
  /* collections live per database */
  st_expect_code(0, "collections/create", "{\"dbName\":\"db1\",\"collectionName\":\"dc\",\"dimension\":2}");
  d = data_of("collections/list", "{\"dbName\":\"db1\"}");
  assert_true(st_list_has(d, "dc"));
  json_decref(d);
  d = data_of("collections/list", "{}");
  assert_false(st_list_has(d, "dc"));
  json_decref(d);
  st_expect_code(100, "collections/describe", "{\"collectionName\":\"dc\"}");
  st_expect_message(1100, "not empty", "databases/drop", "{\"dbName\":\"db1\"}");
  st_expect_code(0, "databases/alter", "{\"dbName\":\"db1\",\"properties\":{\"k\":\"v\"}}");
  st_expect_code(0, "databases/alter_properties", "{\"dbName\":\"db1\",\"properties\":{\"k2\":true}}");
  d = data_of("databases/describe", "{\"dbName\":\"db1\"}");
  assert_int_equal(json_array_size(json_object_get(d, "properties")), 3);
  json_decref(d);
  st_expect_code(0, "databases/drop_properties", "{\"dbName\":\"db1\",\"propertyKeys\":[\"k\",\"k2\"]}");
  d = data_of("databases/describe", "{\"dbName\":\"db1\"}");
  assert_int_equal(json_array_size(json_object_get(d, "properties")), 1);
  json_decref(d);
  st_expect_code(1802, "databases/alter", "{\"dbName\":\"db1\"}");
  st_expect_code(1802, "databases/drop_properties", "{\"dbName\":\"db1\"}");
  st_expect_code(800, "databases/alter", "{\"dbName\":\"nodb\",\"properties\":{}}");
  st_expect_code(800, "databases/describe", "{\"dbName\":\"nodb\"}");
  st_expect_code(800, "databases/drop", "{\"dbName\":\"nodb\"}");
  st_expect_message(1100, "can not drop default database", "databases/drop", "{\"dbName\":\"default\"}");
  st_expect_code(0, "collections/drop", "{\"dbName\":\"db1\",\"collectionName\":\"dc\"}");
  st_expect_code(0, "databases/drop", "{\"dbName\":\"db1\"}");
  d = data_of("databases/list", "{}");
  assert_false(st_list_has(d, "db1"));
  json_decref(d);
  st_expect_code(800, "collections/list", "{\"dbName\":\"db1\"}");
  /* a database of the same name can be made again, empty */
  st_expect_code(0, "databases/create", "{\"dbName\":\"db1\"}");
  d = data_of("collections/list", "{\"dbName\":\"db1\"}");
  assert_int_equal(json_array_size(d), 0);
  json_decref(d);
  st_expect_code(0, "databases/drop", "{\"dbName\":\"db1\"}");
}

/* ------------------------------------------------------------- restart */


static void test_restart_keeps_metadata(void **state) {
  (void)state;
  st_expect_code(0, "databases/create", "{\"dbName\":\"keep\",\"properties\":{\"p\":\"1\"}}");
  st_expect_code(0, "collections/create", "{\"dbName\":\"keep\",\"collectionName\":\"kc\",\"dimension\":3}");
  st_expect_code(0, "aliases/create", "{\"dbName\":\"keep\",\"collectionName\":\"kc\",\"aliasName\":\"ka\"}");
  st_expect_code(0, "collections/create", "{\"collectionName\":\"rk\",\"dimension\":3,"
                                       "\"params\":{\"consistencyLevel\":\"Session\"}}");
  st_expect_code(0, "collections/release", "{\"collectionName\":\"rk\"}");
  st_expect_code(0, "aliases/create", "{\"collectionName\":\"rk\",\"aliasName\":\"rka\"}");
  st_expect_code(0, "collections/alter_properties", "{\"collectionName\":\"rk\",\"properties\":{\"x\":5}}");
  st_expect_code(0, "collections/create", CUSTOM_SCHEMA("rk2"));
  st_expect_code(0, "indexes/create",
              "{\"collectionName\":\"rk2\",\"indexParams\":[{\"fieldName\":\"v\",\"indexName\":\"named\"}]}");
  st_restart_server();
  json_t *d = data_of("databases/list", "{}");
  assert_true(st_list_has(d, "keep"));
  json_decref(d);
  d = data_of("databases/describe", "{\"dbName\":\"keep\"}");
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(d, "properties"), 0), "value")),
                      "1");
  json_decref(d);
  d = data_of("aliases/describe", "{\"dbName\":\"keep\",\"aliasName\":\"ka\"}");
  assert_string_equal(json_string_value(json_object_get(d, "collectionName")), "kc");
  json_decref(d);
  d = data_of("collections/describe", "{\"collectionName\":\"rka\"}");
  assert_string_equal(json_string_value(json_object_get(d, "collectionName")), "rk");
  assert_string_equal(json_string_value(json_object_get(d, "load")), "LoadStateNotLoad");
  assert_string_equal(json_string_value(json_object_get(d, "consistencyLevel")), "Session");
  json_t *kv = json_array_get(json_object_get(d, "properties"), 0);
  assert_string_equal(json_string_value(json_object_get(kv, "value")), "5");
  json_decref(d);
  assert_string_equal(load_state("{\"dbName\":\"keep\",\"collectionName\":\"kc\"}"), "LoadStateLoaded");
  d = data_of("indexes/list", "{\"collectionName\":\"rk2\"}");
  assert_true(st_list_has(d, "named"));
  json_decref(d);
}

/* ----------------------------------------------------------- concurrency */

#define RACE_THREADS 8

typedef struct race_arg {
  int index;
  long codes[4];
} race_arg;

static long post_code(const char *path, const char *body) {
  json_t *env = ts_post(&st_server, path, body, NULL);
  long code = ts_code(env);
  json_decref(env);
  return code;
}

/* No cmocka asserts off the main thread: codes are recorded and checked
 * after the join. */
static void *race_worker(void *p) {
  race_arg *a = p;
  char body[256];
  snprintf(body, sizeof body, "{\"collectionName\":\"cc_%d\",\"dimension\":2}", a->index);
  a->codes[0] = post_code("collections/create", body);
  snprintf(body, sizeof body, "{\"collectionName\":\"cc_%d\",\"aliasName\":\"race\"}", a->index);
  a->codes[1] = post_code("aliases/create", body);
  snprintf(body, sizeof body, "{\"collectionName\":\"cc_%d\",\"aliasName\":\"al_%d\"}", a->index, a->index);
  a->codes[2] = post_code("aliases/create", body);
  snprintf(body, sizeof body, "{\"collectionName\":\"cc_%d\",\"properties\":{\"t\":%d}}", a->index, a->index);
  a->codes[3] = post_code("collections/alter_properties", body);
  return NULL;
}

static void check_race_results(void) {
  for (int i = 0; i < RACE_THREADS; i++) {
    char body[128];
    snprintf(body, sizeof body, "{\"aliasName\":\"al_%d\"}", i);
    json_t *d = data_of("aliases/describe", body);
    char want[32];
    snprintf(want, sizeof want, "cc_%d", i);
    assert_string_equal(json_string_value(json_object_get(d, "collectionName")), want);
    json_decref(d);
    snprintf(body, sizeof body, "{\"collectionName\":\"cc_%d\"}", i);
    d = data_of("collections/describe", body);
    json_t *kv = json_array_get(json_object_get(d, "properties"), 0);
    char value[16];
    snprintf(value, sizeof value, "%d", i);
    assert_string_equal(json_string_value(json_object_get(kv, "value")), value);
    json_decref(d);
  }
}

static void test_concurrent_metadata_edits(void **state) {
  (void)state;
  pthread_t threads[RACE_THREADS];
  race_arg args[RACE_THREADS];
  for (int i = 0; i < RACE_THREADS; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].index = i;
    assert_int_equal(pthread_create(&threads[i], NULL, race_worker, &args[i]), 0);
  }
  int winners = 0;
  for (int i = 0; i < RACE_THREADS; i++) {
    pthread_join(threads[i], NULL);
    assert_int_equal(args[i].codes[0], 0);
    assert_int_equal(args[i].codes[2], 0);
    assert_int_equal(args[i].codes[3], 0);
    if (args[i].codes[1] == 0) {
      winners++;
    } else {
      assert_int_equal(args[i].codes[1], 1602);
    }
  }
  assert_int_equal(winners, 1);
  check_race_results();
  st_restart_server();
  check_race_results();
}

/* ------------------------------------------------------ hostile metadata */

static void write_file(const char *dir, const char *name, const char *text) {
  char *path = tu_join(dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  free(path);
}

/* A server.json from a newer format, or not JSON, stops the start-up
 * instead of being overwritten; a database directory without server.json
 * (an interrupted create) is skipped and can be created again. */
static void test_metadata_on_disk(void **state) {
  (void)state;
  ts_server other;
  char *dir = tu_make_tmpdir("srvmeta");
  assert_non_null(dir);
  write_file(dir, "server.json", "{\"format\":99}");
  assert_int_equal(ts_start(&other, dir, NULL, NULL), -1);
  ts_destroy(&other, 1);
  write_file(dir, "server.json", "not json");
  assert_int_equal(ts_start(&other, dir, NULL, NULL), -1);
  ts_destroy(&other, 1);
  write_file(dir, "server.json", "{\"format\":1,\"aliases\":{\"x\":\"gone\"}}");
  char *dbs = tu_join(dir, "databases");
  char *ghost = tu_join(dbs, "ghost");
  assert_int_equal(mkdir(dbs, 0755), 0);
  assert_int_equal(mkdir(ghost, 0755), 0);
  write_file(ghost, "junk", "leftover");
  assert_int_equal(ts_start(&other, dir, NULL, NULL), 0);
  json_t *env = ts_post(&other, "databases/list", "{}", NULL);
  assert_int_equal(ts_code(env), 0);
  assert_false(st_list_has(json_object_get(env, "data"), "ghost"));
  json_decref(env);
  env = ts_post(&other, "aliases/list", "{}", NULL); /* the dangling alias was pruned */
  assert_int_equal(json_array_size(json_object_get(env, "data")), 0);
  json_decref(env);
  env = ts_post(&other, "databases/create", "{\"dbName\":\"ghost\"}", NULL);
  assert_int_equal(ts_code(env), 0);
  json_decref(env);
  env = ts_post(&other, "collections/list", "{\"dbName\":\"ghost\"}", NULL);
  assert_int_equal(ts_code(env), 0);
  assert_int_equal(json_array_size(json_object_get(env, "data")), 0);
  json_decref(env);
  assert_int_equal(ts_stop(&other), 0);
  ts_destroy(&other, 1);
  free(ghost);
  free(dbs);
  tu_remove_tree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_partitions), cmocka_unit_test(test_partition_errors),
      cmocka_unit_test(test_indexes),    cmocka_unit_test(test_index_errors),
      cmocka_unit_test(test_scalar_indexes),
      cmocka_unit_test(test_aliases),    cmocka_unit_test(test_databases),
      cmocka_unit_test(test_restart_keeps_metadata), cmocka_unit_test(test_concurrent_metadata_edits),
      cmocka_unit_test(test_metadata_on_disk),
  };
  return cmocka_run_group_tests(tests, st_start_server, st_stop_server);
}
