/*
 * test_rows.c -- vs_rows: setters, accessors and their error paths, column
 * building and appending, vs_rows_from_json (every type and error) and
 * vs_rows_row_to_json (every type, shortest numbers, $meta spreading).
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

#include "engine/schema.h"

#define assert_fails(expr, status, substr)                                   \
  do {                                                                       \
    vs_status st_ = (expr);                                                  \
    if (st_ != (status) || !strstr(vs_errmsg(NULL), (substr))) {             \
      fail_msg("%s: got %s '%s', wanted %s containing '%s'", #expr,          \
               vs_status_name(st_), vs_errmsg(NULL), vs_status_name(status), \
               (substr));                                                    \
    }                                                                        \
  } while (0)

static void add(vs_schema *s, const char *name, vs_type type, void (*tweak)(vs_field_def *)) {
  vs_field_def d;
  memset(&d, 0, sizeof d);
  d.name = name;
  d.type = type;
  d.dim = type == VS_TYPE_FLOAT_VECTOR ? 3 : 0;
  d.max_length = type == VS_TYPE_VARCHAR ? 32 : 0;
  if (tweak) tweak(&d);
  assert_int_equal(vs_schema_add_field(s, &d), VS_OK);
}

static void make_pk(vs_field_def *d) { d->is_primary = 1; }
static void make_nullable(vs_field_def *d) { d->nullable = 1; }
static void make_int_array(vs_field_def *d) {
  d->element_type = VS_TYPE_INT32;
  d->max_capacity = 4;
  d->nullable = 1;
}
static void make_default_7(vs_field_def *d) { d->default_json = "7"; }

/* id Int64 pk, vector dim 3, flag Bool?, small Int8?, big Int64?, f Float?,
 * d Double?, title VarChar?, doc JSON?, arr Array<Int32>?, dflt Int32=7. */
static vs_schema *all_types_schema(int dynamic) {
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_new(&s), VS_OK);
  add(s, "id", VS_TYPE_INT64, make_pk);
  add(s, "vector", VS_TYPE_FLOAT_VECTOR, NULL);
  add(s, "flag", VS_TYPE_BOOL, make_nullable);
  add(s, "small", VS_TYPE_INT8, make_nullable);
  add(s, "big", VS_TYPE_INT64, make_nullable);
  add(s, "f", VS_TYPE_FLOAT, make_nullable);
  add(s, "d", VS_TYPE_DOUBLE, make_nullable);
  add(s, "title", VS_TYPE_VARCHAR, make_nullable);
  add(s, "doc", VS_TYPE_JSON, make_nullable);
  add(s, "arr", VS_TYPE_ARRAY, make_int_array);
  add(s, "dflt", VS_TYPE_INT32, make_default_7);
  assert_int_equal(vs_schema_enable_dynamic(s, dynamic), VS_OK);
  assert_int_equal(vs_schema_validate(s), VS_OK);
  return s;
}

/* --------------------------------------------------------------- setters */

static void test_new_and_limits(void **state) {
  (void)state;
  vs_rows *rows = (vs_rows *)1;
  assert_fails(vs_rows_new(((size_t)1 << 24) + 1, &rows), VS_ERR_LIMIT, "16777216");
  assert_null(rows);
  assert_int_equal(vs_rows_new(0, &rows), VS_OK);
  assert_int_equal(vs_rows_count(rows), 0);
  assert_int_equal(vs_rows_set_int64(rows, "x", NULL, NULL), VS_OK); /* no rows: NULL ok */
  vs_rows_free(rows);
  vs_rows_free(NULL);
  assert_int_equal(vs_rows_count(NULL), 0);
}

static void test_setters_and_getters(void **state) {
  (void)state;
  vs_rows *rows = NULL;
  assert_int_equal(vs_rows_new(3, &rows), VS_OK);
  const uint8_t bools[] = {0, 5, 1};
  const uint8_t valid[] = {1, 0, 1};
  const int64_t ints[] = {-1, 0, INT64_MAX};
  const double dbl[] = {0.5, 1.5, -2.25};
  const float flt[] = {1.0f, 2.0f, 3.0f};
  const char *strs[] = {"a", NULL, "h\xc3\xa9"};
  const char *docs[] = {"{\"a\":1}", "[1,2]", NULL};
  const float vecs[] = {1, 2, 3, 4, 5, 6};
  assert_int_equal(vs_rows_set_bool(rows, "flag", bools, NULL), VS_OK);
  assert_int_equal(vs_rows_set_int64(rows, "n", ints, valid), VS_OK);
  assert_int_equal(vs_rows_set_double(rows, "d", dbl, NULL), VS_OK);
  assert_int_equal(vs_rows_set_float(rows, "f", flt, valid), VS_OK);
  assert_int_equal(vs_rows_set_strings(rows, "s", strs), VS_OK);
  assert_int_equal(vs_rows_set_json(rows, "j", docs), VS_OK);
  assert_int_equal(vs_rows_set_float_vectors(rows, "v", vecs, 2), VS_OK);
  assert_int_equal(vs_rows_column_count(rows), 7);
  assert_string_equal(vs_rows_column_name(rows, 4), "s");
  assert_int_equal(vs_rows_column_type(rows, 4), VS_TYPE_VARCHAR);
  assert_int_equal(vs_rows_column_type(rows, 5), VS_TYPE_JSON);
  assert_null(vs_rows_column_name(rows, 7));
  assert_int_equal(vs_rows_column_type(rows, 7), VS_TYPE_NONE);

  int b = -1;
  assert_int_equal(vs_rows_get_bool(rows, "flag", 1, &b), VS_OK);
  assert_int_equal(b, 1); /* 5 is stored as true */
  int64_t i = 0;
  assert_int_equal(vs_rows_get_int64(rows, "n", 2, &i), VS_OK);
  assert_true(i == INT64_MAX);
  double x = 0;
  assert_int_equal(vs_rows_get_double(rows, "d", 2, &x), VS_OK);
  assert_true(x == -2.25);
  assert_int_equal(vs_rows_get_double(rows, "f", 2, &x), VS_OK);
  assert_true(x == 3.0);
  const char *p = NULL;
  size_t len = 0;
  assert_int_equal(vs_rows_get_string(rows, "s", 2, &p, &len), VS_OK);
  assert_int_equal(len, 3);
  assert_string_equal(p, "h\xc3\xa9");
  assert_int_equal(vs_rows_get_string(rows, "j", 1, &p, &len), VS_OK);
  assert_int_equal(len, 5);
  assert_memory_equal(p, "[1,2]", 5);
  const float *v = NULL;
  uint32_t dim = 0;
  assert_int_equal(vs_rows_get_float_vector(rows, "v", 2, &v, &dim), VS_OK);
  assert_int_equal(dim, 2);
  assert_true(v[0] == 5.0f && v[1] == 6.0f);

  assert_true(vs_rows_is_null(rows, "n", 1));
  assert_false(vs_rows_is_null(rows, "n", 0));
  assert_true(vs_rows_is_null(rows, "s", 1));
  assert_true(vs_rows_is_null(rows, "j", 2));
  assert_true(vs_rows_is_null(rows, "nope", 0));
  assert_true(vs_rows_is_null(rows, "n", 3));
  vs_rows_free(rows);
}

static void test_accessor_errors(void **state) {
  (void)state;
  vs_rows *rows = NULL;
  assert_int_equal(vs_rows_new(4, &rows), VS_OK);
  const int64_t ints[] = {1, 2, 3, 4};
  const uint8_t valid[] = {1, 1, 1, 0};
  assert_int_equal(vs_rows_set_int64(rows, "age", ints, valid), VS_OK);
  int64_t i = 99;
  double d;
  int b;
  const char *s;
  size_t len;
  const float *v;
  uint32_t dim;
  assert_fails(vs_rows_get_int64(rows, "x", 0, &i), VS_ERR_FIELD_NOT_FOUND, "no field 'x'");
  assert_fails(vs_rows_get_int64(rows, "age", 4, &i), VS_ERR_INVALID, "field 'age' row 4 is out of range");
  assert_fails(vs_rows_get_int64(rows, "age", 3, &i), VS_ERR_INVALID, "field 'age' row 3 is null");
  assert_true(i == 0);
  assert_fails(vs_rows_get_double(rows, "age", 0, &d), VS_ERR_INVALID, "field 'age' is Int64, not Float or Double");
  assert_fails(vs_rows_get_bool(rows, "age", 0, &b), VS_ERR_INVALID, "not Bool");
  assert_fails(vs_rows_get_string(rows, "age", 0, &s, &len), VS_ERR_INVALID, "not VarChar, JSON or Array");
  assert_null(s);
  assert_fails(vs_rows_get_float_vector(rows, "age", 0, &v, &dim), VS_ERR_INVALID, "not FloatVector");
  assert_fails(vs_rows_get_int64(NULL, "age", 0, &i), VS_ERR_INVALID, "NULL");

  assert_fails(vs_rows_set_int64(rows, "", ints, NULL), VS_ERR_INVALID, "non-empty name");
  assert_fails(vs_rows_set_int64(rows, "n", NULL, NULL), VS_ERR_INVALID, "field 'n': values is NULL");
  assert_fails(vs_rows_set_strings(rows, "t", NULL), VS_ERR_INVALID, "field 't': values is NULL");
  const float vec[4] = {0};
  assert_fails(vs_rows_set_float_vectors(rows, "v", vec, 0), VS_ERR_INVALID, "field 'v': dim 0");
  assert_fails(vs_rows_set_float_vectors(rows, "v", vec, 40000), VS_ERR_INVALID, "dim 40000");
  assert_fails(vs_rows_set_int64(NULL, "n", ints, NULL), VS_ERR_INVALID, "rows is NULL");

  /* Setting a column twice replaces it in place. */
  const char *texts[] = {"a", "b", "c", "d"};
  assert_int_equal(vs_rows_set_strings(rows, "t", texts), VS_OK);
  assert_int_equal(vs_rows_set_double(rows, "age", (const double[]){1, 2, 3, 4}, NULL), VS_OK);
  assert_int_equal(vs_rows_column_count(rows), 2);
  assert_string_equal(vs_rows_column_name(rows, 0), "age");
  assert_int_equal(vs_rows_column_type(rows, 0), VS_TYPE_DOUBLE);
  assert_int_equal(vs_rows_get_double(rows, "age", 3, &d), VS_OK);
  assert_true(d == 4.0);
  vs_rows_free(rows);
}

/* ------------------------------------------------------ column building */

static void test_columns_and_append(void **state) {
  (void)state;
  vs_schema *s = all_types_schema(1);
  vs_rows *seg = NULL;
  assert_int_equal(vs_rows_new_for_schema(s, &seg), VS_OK);
  assert_int_equal(vs_rows_column_count(seg), 12);
  assert_string_equal(vs_rows_column_name(seg, 11), "$meta");
  assert_int_equal(seg->cols[3].type, VS_TYPE_INT8);
  assert_int_equal(seg->cols[9].element_type, VS_TYPE_INT32);
  assert_int_equal(seg->cols[1].dim, 3);

  /* An output batch of Int8 values built column-wise. */
  vs_rows *out = NULL;
  vs_column *col = NULL;
  assert_int_equal(vs_rows_new(0, &out), VS_OK);
  assert_int_equal(vs_rows_add_column(out, "small", VS_TYPE_INT8, VS_TYPE_NONE, 0, &col), VS_OK);
  assert_fails(vs_rows_add_column(out, "small", VS_TYPE_INT8, VS_TYPE_NONE, 0, NULL), VS_ERR_INVALID,
               "column 'small' already exists");
  assert_fails(vs_rows_add_column(out, "v", VS_TYPE_FLOAT_VECTOR, VS_TYPE_NONE, 0, NULL), VS_ERR_INVALID,
               "column 'v': dim 0");
  assert_fails(vs_rows_add_column(out, "q", (vs_type)77, VS_TYPE_NONE, 0, NULL), VS_ERR_INVALID,
               "column 'q': unknown type 77");
  int8_t values[] = {-5, 0, 100};
  vs_colview src = {.type = VS_TYPE_INT8, .n = 3, .valid = (const uint8_t[]){1, 0, 1},
                    .fixed = (const uint8_t *)values};
  col = vs_rows_find(out, "small");
  for (size_t r = 0; r < 3; r++) assert_int_equal(vs_column_append_from(col, &src, r), VS_OK);
  assert_fails(vs_column_append_from(col, &src, 3), VS_ERR_INTERNAL, "row 3 of a 3-row view");
  vs_colview wrong = {.type = VS_TYPE_INT16, .n = 1, .fixed = (const uint8_t *)values};
  assert_fails(vs_column_append_from(col, &wrong, 0), VS_ERR_INTERNAL, "column 'small'");
  out->n = 3;
  int64_t i = 0;
  assert_int_equal(vs_rows_get_int64(out, "small", 0, &i), VS_OK);
  assert_true(i == -5);
  assert_true(vs_rows_is_null(out, "small", 1));
  assert_int_equal(vs_rows_get_int64(out, "small", 2, &i), VS_OK);
  assert_true(i == 100);
  assert_true(vs_rows_memory(out) > 0);
  vs_rows_free(out);

  /* append_batch: two normalized batches into an empty segment. */
  const char *json =
      "[{\"id\":1,\"vector\":[1,2,3],\"title\":\"a\",\"colour\":\"red\"},"
      " {\"id\":2,\"vector\":[4,5,6],\"small\":-3,\"doc\":{\"k\":[1]}}]";
  vs_rows *in = NULL, *batch = NULL;
  assert_int_equal(vs_rows_from_json(s, json, &in), VS_OK);
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 0, &batch), VS_OK);
  assert_int_equal(vs_rows_append_batch(seg, batch), VS_OK);
  assert_int_equal(vs_rows_append_batch(seg, batch), VS_OK);
  assert_int_equal(vs_rows_count(seg), 4);
  for (size_t r = 0; r < 4; r++) {
    char *a = NULL, *b = NULL;
    assert_int_equal(vs_rows_row_to_json(seg, r, &a), VS_OK);
    assert_int_equal(vs_rows_row_to_json(batch, r % 2, &b), VS_OK);
    assert_string_equal(a, b);
    vs_free(a);
    vs_free(b);
  }
  const char *t;
  size_t len;
  assert_int_equal(vs_rows_get_string(seg, "title", 2, &t, &len), VS_OK);
  assert_int_equal(len, 1);
  assert_memory_equal(t, "a", 1);
  assert_true(vs_rows_is_null(seg, "title", 3));
  vs_colview view;
  vs_column_view(vs_rows_find(seg, "title"), &view);
  assert_int_equal(view.n, 4);
  assert_true(view.offsets[4] == 2);

  vs_rows *other = NULL;
  assert_int_equal(vs_rows_new(0, &other), VS_OK);
  assert_fails(vs_rows_append_batch(other, batch), VS_ERR_INTERNAL, "12-column batch to 0 columns");
  vs_rows_free(other);
  vs_rows_free(in);
  vs_rows_free(batch);
  vs_rows_free(seg);
  vs_schema_free(s);
}

/* -------------------------------------------------------------- from JSON */

static void test_from_json_types(void **state) {
  (void)state;
  vs_schema *s = all_types_schema(1);
  const char *json =
      "[{\"id\":\"9007199254740993\",\"vector\":[0.1,2,-3.5e2],\"flag\":true,\"small\":-8,"
      "\"big\":-9223372036854775808,\"f\":1.25,\"d\":2,\"title\":\"t\\u00e9\",\"doc\":\"{\\\"a\\\":1}\","
      "\"arr\":[1,2],\"dflt\":3,\"colour\":\"red\",\"n\":[1,{\"x\":null}]},"
      " {\"id\":2,\"vector\":[1,1,1],\"flag\":null,\"doc\":\"not json\",\"arr\":null}]";
  vs_rows *rows = NULL;
  assert_int_equal(vs_rows_from_json(s, json, &rows), VS_OK);
  assert_int_equal(vs_rows_count(rows), 2);
  int64_t i;
  assert_int_equal(vs_rows_get_int64(rows, "id", 0, &i), VS_OK);
  assert_true(i == 9007199254740993LL);
  assert_int_equal(vs_rows_column_type(rows, 3), VS_TYPE_INT64); /* Int8 field, Int64 column */
  const float *v;
  uint32_t dim;
  assert_int_equal(vs_rows_get_float_vector(rows, "vector", 0, &v, &dim), VS_OK);
  assert_int_equal(dim, 3);
  assert_true(v[0] == 0.1f && v[2] == -350.0f);
  int b;
  assert_int_equal(vs_rows_get_bool(rows, "flag", 0, &b), VS_OK);
  assert_true(b);
  assert_true(vs_rows_is_null(rows, "flag", 1));
  assert_true(vs_rows_is_null(rows, "small", 1)); /* missing key: null */
  double d;
  assert_int_equal(vs_rows_get_double(rows, "d", 0, &d), VS_OK);
  assert_true(d == 2.0);
  const char *t;
  size_t len;
  assert_int_equal(vs_rows_get_string(rows, "doc", 0, &t, &len), VS_OK);
  /* A string that parses is the document.  Values are not NUL-terminated
   * one by one (only the last is): compare len bytes. */
  assert_int_equal(len, 7);
  assert_memory_equal(t, "{\"a\":1}", 7);
  assert_int_equal(vs_rows_get_string(rows, "doc", 1, &t, &len), VS_OK);
  assert_string_equal(t, "\"not json\"");
  assert_int_equal(vs_rows_get_string(rows, "arr", 0, &t, &len), VS_OK);
  assert_int_equal(len, 5);
  assert_memory_equal(t, "[1,2]", 5);
  assert_int_equal(vs_rows_column_type(rows, 9), VS_TYPE_ARRAY);
  assert_int_equal(vs_rows_get_string(rows, "$meta", 0, &t, &len), VS_OK);
  assert_int_equal(len, strlen("{\"colour\":\"red\",\"n\":[1,{\"x\":null}]}"));
  assert_memory_equal(t, "{\"colour\":\"red\",\"n\":[1,{\"x\":null}]}", len);
  assert_int_equal(vs_rows_get_string(rows, "$meta", 1, &t, &len), VS_OK);
  assert_string_equal(t, "{}");
  vs_rows_free(rows);

  /* No unknown keys: no $meta column at all. */
  assert_int_equal(vs_rows_from_json(s, "[{\"id\":1,\"vector\":[1,2,3]}]", &rows), VS_OK);
  assert_null(vs_rows_find(rows, "$meta"));
  assert_int_equal(vs_rows_column_count(rows), 2);
  vs_rows_free(rows);
  assert_int_equal(vs_rows_from_json(s, "[]", &rows), VS_OK);
  assert_int_equal(vs_rows_count(rows), 0);
  vs_rows_free(rows);
  vs_schema_free(s);
}

static void expect_from_json_error(const vs_schema *s, const char *json, vs_status status,
                                   const char *substr) {
  vs_rows *rows = (vs_rows *)1;
  assert_fails(vs_rows_from_json(s, json, &rows), status, substr);
  assert_null(rows);
}

static void test_from_json_errors(void **state) {
  (void)state;
  vs_schema *s = all_types_schema(0);
  expect_from_json_error(s, "[{\"id\":1,", VS_ERR_DATA, "invalid JSON at line 1 column 9");
  expect_from_json_error(s, "{\"id\":1}", VS_ERR_DATA, "expected an array of row objects");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2,3]}, 5]", VS_ERR_DATA, "row 1 is not a JSON object");
  expect_from_json_error(s, "[{\"vector\":[1,2,3]}]", VS_ERR_DATA, "row 0 is missing field 'id'");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2,3]},{\"id\":2}]", VS_ERR_DATA,
                         "row 1 is missing field 'vector'");
  expect_from_json_error(s, "[{\"id\":1.5,\"vector\":[1,2,3]}]", VS_ERR_DATA, "row 0 key 'id': expected an integer");
  expect_from_json_error(s, "[{\"id\":\"12x\",\"vector\":[1,2,3]}]", VS_ERR_DATA, "row 0 key 'id'");
  expect_from_json_error(s, "[{\"id\":\"99999999999999999999\",\"vector\":[1,2,3]}]", VS_ERR_DATA, "key 'id'");
  expect_from_json_error(s, "[{\"id\":\"\",\"vector\":[1,2,3]}]", VS_ERR_DATA, "key 'id'");
  expect_from_json_error(s, "[{\"id\":99999999999999999999,\"vector\":[1,2,3]}]", VS_ERR_DATA, "too big integer");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2]}]", VS_ERR_DATA, "field 'vector' expects 3 floats, row 0 has 2");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":\"abc\"}]", VS_ERR_DATA, "row 0 key 'vector': expected an array");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,\"2\",3]}]", VS_ERR_DATA,
                         "row 0 key 'vector' element 1: not a number");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,1e39,3]}]", VS_ERR_DATA, "element 1: 1e+39 is out of float range");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2,3],\"flag\":1}]", VS_ERR_DATA, "row 0 key 'flag': expected true or false");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2,3],\"d\":\"1\"}]", VS_ERR_DATA, "row 0 key 'd': expected a number");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2,3],\"title\":5}]", VS_ERR_DATA, "row 0 key 'title': expected a string");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2,3],\"arr\":{}}]", VS_ERR_DATA, "row 0 key 'arr': expected an array");
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2,3]},{\"id\":2,\"vector\":[1,2,3],\"colour\":1}]",
                         VS_ERR_DATA, "row 1: field 'colour' is not in the schema and the collection has no dynamic field");
  expect_from_json_error(s, "[{\"id\":1,\"id\":2}]", VS_ERR_DATA, "duplicate object key");
  char deep[600];
  size_t len = 0;
  deep[len++] = '[';
  for (int i = 0; i < 64; i++) deep[len++] = '{', deep[len++] = '"', deep[len++] = 'a',
                                  deep[len++] = '"', deep[len++] = ':';
  deep[len++] = '1';
  for (int i = 0; i < 64; i++) deep[len++] = '}';
  deep[len++] = ']';
  deep[len] = '\0';
  expect_from_json_error(s, deep, VS_ERR_DATA, "deeper than 64");
  vs_schema_free(s);

  s = all_types_schema(1);
  expect_from_json_error(s, "[{\"id\":1,\"vector\":[1,2,3],\"$meta\":{}}]", VS_ERR_DATA,
                         "row 0: the key '$meta' is reserved");
  vs_schema_free(s);
}

/* --------------------------------------------------------------- to JSON */

static void test_row_to_json(void **state) {
  (void)state;
  vs_schema *s = all_types_schema(1);
  const char *json =
      "[{\"id\":9007199254740993,\"vector\":[0.1,1e-7,3.4028234e38],\"flag\":false,\"small\":-8,"
      "\"big\":-9223372036854775808,\"f\":0.1,\"d\":0.1,\"title\":\"q\\\"\\n\\u0001\",\"doc\":{\"b\":[true,null],\"a\":1.0},"
      "\"arr\":[1,-2],\"colour\":\"red\",\"dflt\":1},"
      " {\"id\":2,\"vector\":[1,2,3],\"d\":1}]";
  vs_rows *in = NULL, *batch = NULL;
  assert_int_equal(vs_rows_from_json(s, json, &in), VS_OK);
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 0, &batch), VS_OK);
  char *text = NULL;
  assert_int_equal(vs_rows_row_to_json(batch, 0, &text), VS_OK);
  assert_string_equal(text,
      "{\"id\":9007199254740993,\"vector\":[0.1,1e-07,3.4028235e+38],\"flag\":false,\"small\":-8,"
      "\"big\":-9223372036854775808,\"f\":0.1,\"d\":0.1,\"title\":\"q\\\"\\n\\u0001\","
      "\"doc\":{\"b\":[true,null],\"a\":1.0},\"arr\":[1,-2],\"dflt\":1,\"colour\":\"red\"}");
  vs_free(text);
  assert_int_equal(vs_rows_row_to_json(batch, 1, &text), VS_OK);
  assert_string_equal(text,
      "{\"id\":2,\"vector\":[1.0,2.0,3.0],\"flag\":null,\"small\":null,\"big\":null,\"f\":null,"
      "\"d\":1.0,\"title\":null,\"doc\":null,\"arr\":null,\"dflt\":7}");
  vs_free(text);
  assert_fails(vs_rows_row_to_json(batch, 2, &text), VS_ERR_INVALID, "row 2 is out of range");
  assert_null(text);

  /* The row JSON reads back to the same normalized row. */
  assert_int_equal(vs_rows_row_to_json(batch, 0, &text), VS_OK);
  char *wrapped = malloc(strlen(text) + 3);
  sprintf(wrapped, "[%s]", text);
  vs_rows *in2 = NULL, *batch2 = NULL;
  if (vs_rows_from_json(s, wrapped, &in2) != VS_OK) fail_msg("%s: %s", wrapped, vs_errmsg(NULL));
  assert_int_equal(vs_batch_normalize(s, in2, VS_WRITE_INSERT, 0, &batch2), VS_OK);
  char *again = NULL;
  assert_int_equal(vs_rows_row_to_json(batch2, 0, &again), VS_OK);
  assert_string_equal(text, again);
  vs_free(again);
  vs_free(text);
  free(wrapped);
  vs_rows_free(in2);
  vs_rows_free(batch2);
  vs_rows_free(in);
  vs_rows_free(batch);
  vs_schema_free(s);
}

static void test_row_to_json_loose_rows(void **state) {
  (void)state;
  vs_rows *rows = NULL;
  assert_int_equal(vs_rows_new(1, &rows), VS_OK);
  const char *bad_json[] = {"{oops"};
  assert_int_equal(vs_rows_set_json(rows, "j", bad_json), VS_OK);
  char *text = NULL;
  assert_fails(vs_rows_row_to_json(rows, 0, &text), VS_ERR_DATA, "field 'j' row 0: invalid JSON");
  const float nan_value[] = {NAN};
  assert_int_equal(vs_rows_set_float(rows, "j", nan_value, NULL), VS_OK);
  assert_fails(vs_rows_row_to_json(rows, 0, &text), VS_ERR_INVALID, "field 'j' row 0: NaN");
  const char *bad_utf8[] = {"\xff"};
  assert_int_equal(vs_rows_set_strings(rows, "j", bad_utf8), VS_OK);
  assert_fails(vs_rows_row_to_json(rows, 0, &text), VS_ERR_DATA, "field 'j' row 0: string is not valid UTF-8");
  const char *meta[] = {"{\"x\":1,\"j\":2}"};
  const char *ok[] = {"v"};
  assert_int_equal(vs_rows_set_strings(rows, "j", ok), VS_OK);
  assert_int_equal(vs_rows_set_json(rows, "$meta", meta), VS_OK);
  assert_int_equal(vs_rows_row_to_json(rows, 0, &text), VS_OK);
  assert_string_equal(text, "{\"j\":\"v\",\"x\":1}"); /* "j" in $meta shadowed */
  vs_free(text);
  const char *not_object[] = {"[1]"};
  assert_int_equal(vs_rows_set_json(rows, "$meta", not_object), VS_OK);
  assert_fails(vs_rows_row_to_json(rows, 0, &text), VS_ERR_DATA, "field '$meta' row 0 is not a JSON object");
  vs_rows_free(rows);
}

/* Float output is the shortest text that reads back to the same float. */
static void test_shortest_floats(void **state) {
  (void)state;
  vs_rows *rows = NULL;
  enum { N = 4000 };
  float *values = malloc(N * sizeof *values);
  uint32_t seed = 7;
  for (int i = 0; i < N; i++) {
    seed = seed * 1664525u + 1013904223u;
    uint32_t bits = seed;
    float f;
    memcpy(&f, &bits, 4);
    if (!isfinite(f)) f = (float)i / 7.0f;
    values[i] = f;
  }
  values[0] = 0.1f;
  values[1] = -0.0f;
  values[2] = 1e-45f;
  values[3] = 16777216.0f;
  assert_int_equal(vs_rows_new(N, &rows), VS_OK);
  assert_int_equal(vs_rows_set_float(rows, "f", values, NULL), VS_OK);
  for (int i = 0; i < N; i++) {
    char *text = NULL;
    assert_int_equal(vs_rows_row_to_json(rows, (size_t)i, &text), VS_OK);
    const char *num = text + strlen("{\"f\":");
    float back = strtof(num, NULL);
    assert_true(memcmp(&back, &values[i], 4) == 0 || (back == 0 && values[i] == 0));
    int digits = 0;
    bool leading = true;
    for (const char *p = num; *p && *p != 'e' && *p != '}'; p++) {
      if (*p >= '1' && *p <= '9') leading = false;
      digits += !leading && *p >= '0' && *p <= '9';
    }
    assert_true(digits <= 10); /* 9 significant plus a ".0" */
    if (i == 0) assert_string_equal(text, "{\"f\":0.1}");
    if (i == 1) assert_string_equal(text, "{\"f\":-0.0}");
    if (i == 2) assert_string_equal(text, "{\"f\":1e-45}");
    if (i == 3) assert_string_equal(text, "{\"f\":16777216.0}");
    vs_free(text);
  }
  free(values);
  vs_rows_free(rows);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_and_limits),
      cmocka_unit_test(test_setters_and_getters),
      cmocka_unit_test(test_accessor_errors),
      cmocka_unit_test(test_columns_and_append),
      cmocka_unit_test(test_from_json_types),
      cmocka_unit_test(test_from_json_errors),
      cmocka_unit_test(test_row_to_json),
      cmocka_unit_test(test_row_to_json_loose_rows),
      cmocka_unit_test(test_shortest_floats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
