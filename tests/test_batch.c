/*
 * test_batch.c -- vs_batch_normalize (conversions, range checks, nulls and
 * defaults, dynamic fields, primary keys, every error message), the binary
 * batch encoding (round trips; hostile, truncated and mutated input) and
 * the primary-key hash/equality helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
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

typedef struct spec {
  const char *name;
  vs_type type;
  int nullable;
  const char *default_json;
  vs_type element_type;
  uint32_t max_length;
  uint32_t max_capacity;
} spec;

/* A schema: pk `id` (Int64, or VarChar; autoID optional), `vector` dim 4,
 * then the given fields. */
static vs_schema *make_schema(vs_type pk_type, int auto_id, int dynamic,
                              const spec *fields, size_t count) {
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_new(&s), VS_OK);
  vs_field_def d;
  memset(&d, 0, sizeof d);
  d.name = "id";
  d.type = pk_type;
  d.is_primary = 1;
  d.auto_id = auto_id;
  d.max_length = pk_type == VS_TYPE_VARCHAR ? 16 : 0;
  assert_int_equal(vs_schema_add_field(s, &d), VS_OK);
  memset(&d, 0, sizeof d);
  d.name = "vector";
  d.type = VS_TYPE_FLOAT_VECTOR;
  d.dim = 4;
  assert_int_equal(vs_schema_add_field(s, &d), VS_OK);
  for (size_t i = 0; i < count; i++) {
    memset(&d, 0, sizeof d);
    d.name = fields[i].name;
    d.type = fields[i].type;
    d.nullable = fields[i].nullable;
    d.default_json = fields[i].default_json;
    d.element_type = fields[i].element_type;
    d.max_length = fields[i].max_length;
    d.max_capacity = fields[i].max_capacity;
    if (vs_schema_add_field(s, &d) != VS_OK) fail_msg("%s", vs_errmsg(NULL));
  }
  assert_int_equal(vs_schema_enable_dynamic(s, dynamic), VS_OK);
  assert_int_equal(vs_schema_validate(s), VS_OK);
  return s;
}

static const spec wide_fields[] = {
    {"age", VS_TYPE_INT8, 1, NULL, 0, 0, 0},
    {"n16", VS_TYPE_INT16, 1, NULL, 0, 0, 0},
    {"n32", VS_TYPE_INT32, 1, NULL, 0, 0, 0},
    {"score", VS_TYPE_FLOAT, 1, NULL, 0, 0, 0},
    {"ratio", VS_TYPE_DOUBLE, 0, "0.5", 0, 0, 0},
    {"title", VS_TYPE_VARCHAR, 1, NULL, 0, 8, 0},
    {"name", VS_TYPE_VARCHAR, 0, "\"anon\"", 0, 8, 0},
    {"doc", VS_TYPE_JSON, 1, NULL, 0, 0, 0},
    {"tags", VS_TYPE_ARRAY, 1, NULL, VS_TYPE_VARCHAR, 4, 3},
    {"nums", VS_TYPE_ARRAY, 1, NULL, VS_TYPE_INT8, 0, 4},
    {"fl", VS_TYPE_ARRAY, 1, NULL, VS_TYPE_FLOAT, 0, 2},
    {"flag", VS_TYPE_BOOL, 0, "true", 0, 0, 0},
    {"count", VS_TYPE_INT32, 0, NULL, 0, 0, 0},
};
#define WIDE_COUNT (sizeof wide_fields / sizeof wide_fields[0])

static vs_schema *wide_schema(int dynamic) {
  return make_schema(VS_TYPE_INT64, 0, dynamic, wide_fields, WIDE_COUNT);
}

/* Three rows with id, vector and count set (the required fields). */
static vs_rows *base_rows(size_t n) {
  vs_rows *rows = NULL;
  assert_int_equal(vs_rows_new(n, &rows), VS_OK);
  int64_t *ids = calloc(n + 1, sizeof *ids);
  float *vecs = calloc(n * 4 + 1, sizeof *vecs);
  for (size_t i = 0; i < n; i++) {
    ids[i] = (int64_t)i + 1;
    for (int j = 0; j < 4; j++) vecs[i * 4 + j] = (float)(i + j);
  }
  assert_int_equal(vs_rows_set_int64(rows, "id", ids, NULL), VS_OK);
  assert_int_equal(vs_rows_set_float_vectors(rows, "vector", vecs, 4), VS_OK);
  assert_int_equal(vs_rows_set_int64(rows, "count", ids, NULL), VS_OK);
  free(ids);
  free(vecs);
  return rows;
}

static char *row_json(const vs_rows *rows, size_t row) {
  char *text = NULL;
  if (vs_rows_row_to_json(rows, row, &text) != VS_OK) fail_msg("%s", vs_errmsg(NULL));
  return text;
}

static void expect_normalize_error(const vs_schema *s, const vs_rows *in, vs_write_kind kind,
                                   vs_status status, const char *substr) {
  vs_rows *out = (vs_rows *)1;
  assert_fails(vs_batch_normalize(s, in, kind, 0, &out), status, substr);
  assert_null(out);
}

/* ------------------------------------------------------------ conversions */

static void test_conversions(void **state) {
  (void)state;
  vs_schema *s = wide_schema(0);
  vs_rows *in = base_rows(3);
  const int64_t ages[] = {1, -128, 127};
  const int64_t n16[] = {-32768, 0, 32767};
  const int64_t n32[] = {INT32_MIN, 5, INT32_MAX};
  const double scores[] = {0.1, -1e30, 3};
  const uint8_t score_valid[] = {1, 1, 0};
  const int64_t ratios[] = {1, 2, 3};
  const char *titles[] = {"h\xc3\xa9llo", "", NULL};
  const char *docs[] = {" { \"a\" : 1.50 , \"b\":[ ] } ", "\"s\"", "null"};
  const char *tags[] = {"[\"ab\", \"\"]", "[]", NULL};
  const char *nums[] = {"[ -128, 127 ]", NULL, "[0]"};
  const char *fl[] = {"[0.1, 1]", "[3.4028235e38]", NULL};
  const uint8_t flags[] = {1, 0, 1};
  assert_int_equal(vs_rows_set_int64(in, "age", ages, NULL), VS_OK);
  assert_int_equal(vs_rows_set_int64(in, "n16", n16, NULL), VS_OK);
  assert_int_equal(vs_rows_set_int64(in, "n32", n32, NULL), VS_OK);
  assert_int_equal(vs_rows_set_double(in, "score", scores, score_valid), VS_OK);
  assert_int_equal(vs_rows_set_int64(in, "ratio", ratios, NULL), VS_OK);
  assert_int_equal(vs_rows_set_strings(in, "title", titles), VS_OK);
  assert_int_equal(vs_rows_set_json(in, "doc", docs), VS_OK);
  assert_int_equal(vs_rows_set_json(in, "tags", tags), VS_OK);
  assert_int_equal(vs_rows_set_json(in, "nums", nums), VS_OK);
  assert_int_equal(vs_rows_set_json(in, "fl", fl), VS_OK);
  assert_int_equal(vs_rows_set_bool(in, "flag", flags, NULL), VS_OK);

  vs_rows *out = NULL;
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 3, &out), VS_OK);
  assert_int_equal(vs_rows_column_count(out), WIDE_COUNT + 2);
  for (size_t i = 0; i < vs_schema_field_count(s); i++) {
    assert_string_equal(vs_rows_column_name(out, i), s->fields[i].name);
    assert_int_equal(vs_rows_column_type(out, i), s->fields[i].type);
  }
  assert_null(vs_rows_find(out, "$meta"));
  assert_int_equal(vs_rows_find(out, "score")->type, VS_TYPE_FLOAT);

  char *t = row_json(out, 0);
  assert_string_equal(t,
      "{\"id\":1,\"vector\":[0.0,1.0,2.0,3.0],\"age\":1,\"n16\":-32768,\"n32\":-2147483648,"
      "\"score\":0.1,\"ratio\":1.0,\"title\":\"h\xc3\xa9llo\",\"name\":\"anon\","
      "\"doc\":{\"a\":1.5,\"b\":[]},\"tags\":[\"ab\",\"\"],\"nums\":[-128,127],\"fl\":[0.1,1.0],"
      "\"flag\":true,\"count\":1}");
  vs_free(t);
  t = row_json(out, 1);
  assert_string_equal(t,
      "{\"id\":2,\"vector\":[1.0,2.0,3.0,4.0],\"age\":-128,\"n16\":0,\"n32\":5,"
      "\"score\":-1e+30,\"ratio\":2.0,\"title\":\"\",\"name\":\"anon\",\"doc\":\"s\","
      "\"tags\":[],\"nums\":null,\"fl\":[3.4028235e+38],\"flag\":false,\"count\":2}");
  vs_free(t);
  t = row_json(out, 2);
  assert_string_equal(t,
      "{\"id\":3,\"vector\":[2.0,3.0,4.0,5.0],\"age\":127,\"n16\":32767,\"n32\":2147483647,"
      "\"score\":null,\"ratio\":3.0,\"title\":null,\"name\":\"anon\",\"doc\":null,"
      "\"tags\":null,\"nums\":[0],\"fl\":null,\"flag\":true,\"count\":3}");
  vs_free(t);
  /* The JSON text "null" is a JSON null value, not a missing row. */
  assert_false(vs_rows_is_null(out, "doc", 2));
  int64_t v;
  assert_int_equal(vs_rows_get_int64(out, "age", 1, &v), VS_OK);
  assert_true(v == -128);
  vs_rows_free(out);

  /* Float input feeds Double fields; Int8 columns feed Int64 fields. */
  const float fscores[] = {1.5f, 2.5f, 3.5f};
  assert_int_equal(vs_rows_set_float(in, "ratio", fscores, NULL), VS_OK);
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_UPSERT, 0, &out), VS_OK);
  double d;
  assert_int_equal(vs_rows_get_double(out, "ratio", 2, &d), VS_OK);
  assert_true(d == 3.5);
  vs_rows *again = NULL;
  assert_int_equal(vs_batch_normalize(s, out, VS_WRITE_UPSERT, 0, &again), VS_OK);
  for (size_t r = 0; r < 3; r++) {
    char *a = row_json(out, r), *b = row_json(again, r);
    assert_string_equal(a, b);
    vs_free(a);
    vs_free(b);
  }
  vs_rows_free(again);
  vs_rows_free(out);
  vs_rows_free(in);
  vs_schema_free(s);
}

/* Sets column `field` of a fresh base batch with a one-row-different value
 * and expects normalize to fail with `substr`. */
static void expect_int_error(const char *field, int64_t bad, const char *substr) {
  vs_schema *s = wide_schema(0);
  vs_rows *in = base_rows(3);
  const int64_t values[] = {0, bad, 0};
  assert_int_equal(vs_rows_set_int64(in, field, values, NULL), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, substr);
  vs_rows_free(in);
  vs_schema_free(s);
}

static void expect_double_error(const char *field, double bad, const char *substr) {
  vs_schema *s = wide_schema(0);
  vs_rows *in = base_rows(3);
  const double values[] = {0, 0, bad};
  assert_int_equal(vs_rows_set_double(in, field, values, NULL), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, substr);
  vs_rows_free(in);
  vs_schema_free(s);
}

static void expect_text_error(const char *field, int json, const char *bad, const char *substr) {
  vs_schema *s = wide_schema(0);
  vs_rows *in = base_rows(3);
  const char *values[] = {NULL, bad, NULL};
  if (json) {
    assert_int_equal(vs_rows_set_json(in, field, values), VS_OK);
  } else {
    assert_int_equal(vs_rows_set_strings(in, field, values), VS_OK);
  }
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, substr);
  vs_rows_free(in);
  vs_schema_free(s);
}

static void test_range_and_value_errors(void **state) {
  (void)state;
  expect_int_error("age", 300, "field 'age' row 1: 300 out of range for Int8");
  expect_int_error("age", -129, "field 'age' row 1: -129 out of range for Int8");
  expect_int_error("n16", 40000, "field 'n16' row 1: 40000 out of range for Int16");
  expect_int_error("n32", 3000000000LL, "field 'n32' row 1: 3000000000 out of range for Int32");
  expect_double_error("score", 1e300, "field 'score' row 2: 1e+300 out of range for Float");
  expect_double_error("score", NAN, "field 'score' row 2: NaN is not allowed");
  expect_double_error("ratio", -INFINITY, "field 'ratio' row 2: Inf is not allowed");
  expect_double_error("age", 1.0, "field 'age' is Int8 and cannot take a Double column");
  expect_int_error("flag", 1, "field 'flag' is Bool and cannot take a Int64 column");
  expect_text_error("title", 0, "a\xff", "field 'title' row 1: invalid UTF-8 at byte 1");
  expect_text_error("title", 0, "\xed\xa0\x80", "field 'title' row 1: invalid UTF-8 at byte 0");
  expect_text_error("title", 0, "123456789", "field 'title' row 1: 9 bytes exceeds max_length 8");
  expect_text_error("title", 1, "\"x\"", "field 'title' is VarChar and cannot take a JSON column");
  expect_text_error("doc", 0, "{}", "field 'doc' is JSON and cannot take a VarChar column");
  expect_text_error("doc", 1, "{\"a\":}", "field 'doc' row 1: invalid JSON at line 1");
  expect_text_error("doc", 1, "", "field 'doc' row 1: invalid JSON");
  char deep[200];
  memset(deep, '[', 65);
  memset(deep + 65, ']', 65);
  deep[130] = '\0';
  expect_text_error("doc", 1, deep, "field 'doc' row 1: JSON nests deeper than 64 levels");
  expect_text_error("tags", 1, "{\"a\":1}", "field 'tags' row 1: expected a JSON array");
  expect_text_error("tags", 1, "[\"a\",\"b\",\"c\",\"d\"]", "field 'tags' row 1: 4 elements exceed max_capacity 3");
  expect_text_error("tags", 1, "[\"a\",5]", "field 'tags' row 1: element 1 is not a VarChar");
  expect_text_error("tags", 1, "[\"abcde\"]", "field 'tags' row 1: element 0: 5 bytes exceeds max_length 4");
  expect_text_error("nums", 1, "[1,128]", "field 'nums' row 1: element 1: 128 out of range for Int8");
  expect_text_error("nums", 1, "[1.5]", "field 'nums' row 1: element 0 is not a Int8");
  expect_text_error("fl", 1, "[1e39]", "field 'fl' row 1: element 0: 1e+39 out of range for Float");
  expect_text_error("fl", 1, "[true]", "element 0 is not a Float");
  expect_text_error("nums", 0, "[1]", "field 'nums' is Array and cannot take a VarChar column");

  /* Vectors: dimension and finiteness. */
  vs_schema *s = wide_schema(0);
  vs_rows *in = base_rows(2);
  float v3[6] = {0};
  assert_int_equal(vs_rows_set_float_vectors(in, "vector", v3, 3), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'vector' expects 4 floats per row, got 3");
  float v4[8] = {0, 0, 0, 0, 0, 0, NAN, 0};
  assert_int_equal(vs_rows_set_float_vectors(in, "vector", v4, 4), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'vector' row 1: value 2 is NaN");
  v4[6] = 0;
  v4[1] = INFINITY;
  assert_int_equal(vs_rows_set_float_vectors(in, "vector", v4, 4), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'vector' row 0: value 1 is Inf");
  assert_int_equal(vs_rows_set_json(in, "vector", (const char *[]){"[1,2,3,4]", "[1,2,3,4]"}), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA,
                         "field 'vector' is FloatVector and cannot take a JSON column");
  vs_rows_free(in);
  vs_schema_free(s);
}

/* ------------------------------------------------------- nulls, defaults */

static void test_nulls_and_defaults(void **state) {
  (void)state;
  vs_schema *s = wide_schema(0);
  vs_rows *in = base_rows(2);
  const double ratios[] = {9.0, 0};
  const uint8_t second_null[] = {1, 0};
  assert_int_equal(vs_rows_set_double(in, "ratio", ratios, second_null), VS_OK);
  assert_int_equal(vs_rows_set_strings(in, "name", (const char *[]){NULL, "bob"}), VS_OK);
  assert_int_equal(vs_rows_set_bool(in, "flag", (const uint8_t[]){0, 0}, second_null), VS_OK);
  vs_rows *out = NULL;
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 0, &out), VS_OK);
  double d;
  assert_int_equal(vs_rows_get_double(out, "ratio", 0, &d), VS_OK);
  assert_true(d == 9.0);
  assert_int_equal(vs_rows_get_double(out, "ratio", 1, &d), VS_OK);
  assert_true(d == 0.5); /* null takes the default */
  const char *p;
  size_t len;
  assert_int_equal(vs_rows_get_string(out, "name", 0, &p, &len), VS_OK);
  assert_int_equal(len, 4);
  assert_memory_equal(p, "anon", 4);
  int b;
  assert_int_equal(vs_rows_get_bool(out, "flag", 0, &b), VS_OK);
  assert_false(b);
  assert_int_equal(vs_rows_get_bool(out, "flag", 1, &b), VS_OK);
  assert_true(b);
  /* Nullable fields that were not given are null; defaults fill the rest. */
  assert_true(vs_rows_is_null(out, "age", 0));
  assert_true(vs_rows_is_null(out, "tags", 1));
  assert_non_null(vs_rows_find(out, "age")->valid);
  assert_null(vs_rows_find(out, "ratio")->valid);
  assert_fails(vs_rows_get_int64(out, "age", 1, NULL), VS_ERR_INVALID, "field 'age' row 1 is null");
  vs_rows_free(out);

  /* A required field: missing column, then a null row. */
  vs_rows *missing = NULL;
  assert_int_equal(vs_rows_new(2, &missing), VS_OK);
  assert_int_equal(vs_rows_set_int64(missing, "id", (const int64_t[]){1, 2}, NULL), VS_OK);
  assert_int_equal(vs_rows_set_float_vectors(missing, "vector", (const float[8]){0}, 4), VS_OK);
  expect_normalize_error(s, missing, VS_WRITE_INSERT, VS_ERR_DATA, "row 0 is missing field 'count'");
  assert_int_equal(vs_rows_set_int64(missing, "count", (const int64_t[]){1, 2}, second_null), VS_OK);
  expect_normalize_error(s, missing, VS_WRITE_INSERT, VS_ERR_DATA,
                         "field 'count' row 1 is null but the field is not nullable");
  vs_rows_free(missing);

  /* A vector read back from JSON with a null row. */
  vs_rows *json_rows = NULL;
  assert_int_equal(vs_rows_from_json(s, "[{\"id\":1,\"vector\":null,\"count\":1}]", &json_rows), VS_OK);
  expect_normalize_error(s, json_rows, VS_WRITE_INSERT, VS_ERR_DATA,
                         "field 'vector' row 0 is null but the field is not nullable");
  vs_rows_free(json_rows);
  vs_rows_free(in);
  vs_schema_free(s);
}

/* ---------------------------------------------------------------- dynamic */

static void test_dynamic_fields(void **state) {
  (void)state;
  vs_schema *s = wide_schema(1);
  vs_rows *in = base_rows(2);
  assert_int_equal(vs_rows_set_strings(in, "colour", (const char *[]){"red", NULL}), VS_OK);
  assert_int_equal(vs_rows_set_double(in, "weight", (const double[]){0.25, 2}, NULL), VS_OK);
  assert_int_equal(vs_rows_set_int64(in, "rank", (const int64_t[]){-1, 7}, NULL), VS_OK);
  assert_int_equal(vs_rows_set_bool(in, "ok", (const uint8_t[]){1, 0}, NULL), VS_OK);
  assert_int_equal(vs_rows_set_json(in, "extra", (const char *[]){"{\"z\":[1]}", "null"}), VS_OK);
  assert_int_equal(vs_rows_set_float_vectors(in, "emb", (const float[]){0.5f, 1.0f}, 1), VS_OK);
  assert_int_equal(vs_rows_set_json(in, "$meta", (const char *[]){"{\"given\":1,\"rank\":0}", NULL}), VS_OK);
  vs_rows *out = NULL;
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 0, &out), VS_OK);
  assert_int_equal(vs_rows_column_count(out), WIDE_COUNT + 3);
  assert_string_equal(vs_rows_column_name(out, WIDE_COUNT + 2), "$meta");
  const char *p;
  size_t len;
  assert_int_equal(vs_rows_get_string(out, "$meta", 0, &p, &len), VS_OK);
  const char *want0 = "{\"given\":1,\"rank\":-1,\"colour\":\"red\",\"weight\":0.25,\"ok\":true,"
                      "\"extra\":{\"z\":[1]},\"emb\":[0.5]}";
  assert_int_equal(len, strlen(want0));
  assert_memory_equal(p, want0, len);
  char *t = row_json(out, 1);
  assert_true(strstr(t, ",\"weight\":2.0,\"rank\":7,\"ok\":false,\"extra\":null,\"emb\":[1.0]}") != NULL);
  assert_null(strstr(t, "colour"));
  vs_free(t);
  vs_rows_free(out);

  /* Without dynamic keys every row gets an empty object. */
  vs_rows *plain = base_rows(2);
  assert_int_equal(vs_batch_normalize(s, plain, VS_WRITE_INSERT, 0, &out), VS_OK);
  assert_int_equal(vs_rows_get_string(out, "$meta", 1, &p, &len), VS_OK);
  assert_int_equal(len, 2);
  assert_memory_equal(p, "{}", 2);
  vs_rows_free(out);

  assert_int_equal(vs_rows_set_json(plain, "$meta", (const char *[]){"[1]", "{}"}), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA, "field '$meta' row 0: expected a JSON object");
  assert_int_equal(vs_rows_set_json(plain, "$meta", (const char *[]){"{}", "{\"age\":1}"}), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA, "field '$meta' row 1: key 'age' is a schema field");
  assert_int_equal(vs_rows_set_json(plain, "$meta", (const char *[]){"{}", "{"}), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA, "field '$meta' row 1: invalid JSON");
  assert_int_equal(vs_rows_set_json(plain, "$meta", (const char *[]){"{}", "{}"}), VS_OK);
  assert_int_equal(vs_rows_set_json(plain, "odd", (const char *[]){"{}", "[,]"}), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA, "field 'odd' row 1: invalid JSON");
  assert_int_equal(vs_rows_set_double(plain, "odd", (const double[]){1, NAN}, NULL), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA, "field 'odd' row 1: NaN and Inf are not allowed");
  assert_int_equal(vs_rows_set_strings(plain, "odd", (const char *[]){"\xc3", "x"}), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA, "field 'odd' row 0: invalid UTF-8");
  assert_int_equal(vs_rows_set_strings(plain, "bad\xff", (const char *[]){"x", "x"}), VS_OK);
  assert_int_equal(vs_rows_set_strings(plain, "odd", (const char *[]){"x", "x"}), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA, "the name is not valid UTF-8");
  vs_rows_free(plain);
  vs_rows_free(in);
  vs_schema_free(s);

  /* Not dynamic: unknown columns and $meta are rejected. */
  s = wide_schema(0);
  plain = base_rows(3);
  assert_int_equal(vs_rows_set_strings(plain, "colour", (const char *[]){NULL, NULL, "red"}), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA,
                         "row 2: field 'colour' is not in the schema and the collection has no dynamic field");
  vs_rows_free(plain);
  plain = base_rows(1);
  assert_int_equal(vs_rows_set_json(plain, "$meta", (const char *[]){"{}"}), VS_OK);
  expect_normalize_error(s, plain, VS_WRITE_INSERT, VS_ERR_DATA,
                         "field '$meta' was given but the collection has no dynamic field");
  vs_rows_free(plain);
  vs_schema_free(s);
}

/* ----------------------------------------------------------- primary keys */

static void test_primary_keys(void **state) {
  (void)state;
  const spec count_only[] = {{"count", VS_TYPE_INT32, 0, NULL, 0, 0, 0}};
  vs_schema *s = make_schema(VS_TYPE_INT64, 1, 0, count_only, 1);
  vs_rows *in = base_rows(3);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'id' is autoID; do not pass it on insert");
  vs_rows *out = NULL;
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_UPSERT, 0, &out), VS_OK); /* upsert: pk given */
  vs_rows_free(out);
  vs_rows *no_pk = NULL;
  assert_int_equal(vs_rows_new(3, &no_pk), VS_OK);
  assert_int_equal(vs_rows_set_float_vectors(no_pk, "vector", (const float[12]){0}, 4), VS_OK);
  assert_int_equal(vs_rows_set_int64(no_pk, "count", (const int64_t[]){1, 2, 3}, NULL), VS_OK);
  expect_normalize_error(s, no_pk, VS_WRITE_UPSERT, VS_ERR_DATA, "row 0 is missing field 'id'");
  assert_int_equal(vs_batch_normalize(s, no_pk, VS_WRITE_INSERT, 0, &out), VS_OK);
  int64_t id = -1;
  assert_int_equal(vs_rows_get_int64(out, "id", 2, &id), VS_OK);
  assert_true(id == 0);
  vs_batch_set_auto_ids(out, s, 1000);
  assert_int_equal(vs_rows_get_int64(out, "id", 2, &id), VS_OK);
  assert_true(id == 1002);
  vs_rows_free(out);
  vs_rows_free(no_pk);
  vs_rows_free(in);
  vs_schema_free(s);

  /* Duplicate Int64 keys inside one batch. */
  s = make_schema(VS_TYPE_INT64, 0, 0, count_only, 1);
  in = base_rows(5);
  assert_int_equal(vs_rows_set_int64(in, "id", (const int64_t[]){1, 42, 3, 4, 42}, NULL), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'id' row 4: duplicate primary key 42 (also at row 1)");
  expect_normalize_error(s, in, VS_WRITE_UPSERT, VS_ERR_DATA, "duplicate primary key 42");
  assert_int_equal(vs_rows_set_int64(in, "id", (const int64_t[]){1, 2, 3, 4, 5},
                                     (const uint8_t[]){1, 1, 1, 0, 1}), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'id' row 3 is null but the field is not nullable");
  vs_rows_free(in);
  vs_schema_free(s);

  /* VarChar keys. */
  s = make_schema(VS_TYPE_VARCHAR, 0, 0, count_only, 1);
  in = base_rows(3);
  assert_int_equal(vs_rows_set_strings(in, "id", (const char *[]){"abc", "", "ab"}), VS_OK);
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 0, &out), VS_OK);
  vs_rows_free(out);
  assert_int_equal(vs_rows_set_strings(in, "id", (const char *[]){"abc", "x", "abc"}), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'id' row 2: duplicate primary key 'abc' (also at row 0)");
  assert_int_equal(vs_rows_set_strings(in, "id", (const char *[]){"", "x", ""}), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'id' row 2: duplicate primary key '' (also at row 0)");
  assert_int_equal(vs_rows_set_strings(in, "id", (const char *[]){"a", NULL, "b"}), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'id' row 1 is null");
  assert_int_equal(vs_rows_set_int64(in, "id", (const int64_t[]){1, 2, 3}, NULL), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'id' is VarChar and cannot take a Int64 column");
  vs_rows_free(in);
  vs_schema_free(s);
}

static void test_batch_shape(void **state) {
  (void)state;
  vs_schema *s = wide_schema(0);
  vs_rows *in = base_rows(5);
  vs_rows *out = (vs_rows *)1;
  assert_fails(vs_batch_normalize(s, in, VS_WRITE_INSERT, 4, &out), VS_ERR_LIMIT, "batch has 5 rows, the limit is 4");
  assert_null(out);
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 5, &out), VS_OK);
  vs_rows_free(out);
  assert_int_equal(vs_rows_add_column(in, "age", VS_TYPE_INT8, VS_TYPE_NONE, 0, NULL), VS_OK);
  expect_normalize_error(s, in, VS_WRITE_INSERT, VS_ERR_DATA, "field 'age' has 0 rows, the batch has 5");
  vs_rows_free(in);
  assert_fails(vs_batch_normalize(s, NULL, VS_WRITE_INSERT, 0, &out), VS_ERR_INVALID, "must not be NULL");

  vs_rows *empty = NULL;
  assert_int_equal(vs_rows_new(0, &empty), VS_OK);
  assert_int_equal(vs_batch_normalize(s, empty, VS_WRITE_INSERT, 0, &out), VS_OK);
  assert_int_equal(vs_rows_count(out), 0);
  assert_int_equal(vs_rows_column_count(out), WIDE_COUNT + 2);
  vs_rows_free(out);
  vs_rows_free(empty);
  vs_schema_free(s);
}

/* --------------------------------------------------------------- encoding */

static const spec codec_fields[] = {
    {"title", VS_TYPE_VARCHAR, 1, NULL, 0, 8, 0},
    {"flag", VS_TYPE_BOOL, 0, "false", 0, 0, 0},
};

static vs_schema *codec_schema(void) { return make_schema(VS_TYPE_INT64, 0, 1, codec_fields, 2); }

/* Rows: ids 1..3, titles "ab", null, "c", flags 1,0,1, colour dynamic. */
static vs_rows *codec_batch(const vs_schema *s) {
  const char *json =
      "[{\"id\":1,\"vector\":[1,2,3,4],\"title\":\"ab\",\"flag\":true,\"colour\":\"red\"},"
      " {\"id\":2,\"vector\":[5,6,7,8],\"flag\":false},"
      " {\"id\":3,\"vector\":[0.5,0,0,-1],\"title\":\"c\",\"flag\":true}]";
  vs_rows *in = NULL, *out = NULL;
  assert_int_equal(vs_rows_from_json(s, json, &in), VS_OK);
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 0, &out), VS_OK);
  vs_rows_free(in);
  return out;
}

static void assert_same_rows(const vs_rows *a, const vs_rows *b) {
  assert_int_equal(vs_rows_count(a), vs_rows_count(b));
  assert_int_equal(vs_rows_column_count(a), vs_rows_column_count(b));
  for (size_t r = 0; r < vs_rows_count(a); r++) {
    char *x = row_json(a, r), *y = row_json(b, r);
    assert_string_equal(x, y);
    vs_free(x);
    vs_free(y);
  }
}

static void test_encode_decode(void **state) {
  (void)state;
  vs_schema *s = codec_schema();
  vs_rows *batch = codec_batch(s);
  vs_buf buf = {0};
  assert_int_equal(vs_buf_append(&buf, "xy", 2), VS_OK); /* encode appends */
  assert_int_equal(vs_batch_encode(batch, &buf), VS_OK);
  vs_rows *back = NULL;
  assert_int_equal(vs_batch_decode(s, buf.data + 2, buf.len - 2, &back), VS_OK);
  assert_same_rows(batch, back);
  assert_true(vs_rows_is_null(back, "title", 1));
  vs_buf again = {0};
  assert_int_equal(vs_batch_encode(back, &again), VS_OK);
  assert_int_equal(again.len, buf.len - 2);
  assert_memory_equal(again.data, buf.data + 2, again.len);
  vs_buf_free(&again);
  vs_rows_free(back);

  /* The wide schema, every type, with nulls and dynamic keys. */
  vs_schema *w = wide_schema(1);
  vs_rows *in = NULL, *wide = NULL;
  assert_int_equal(vs_rows_from_json(w,
      "[{\"id\":1,\"vector\":[1,2,3,4],\"count\":1,\"tags\":[\"a\"],\"doc\":{\"q\":[1,2]},\"k\":1},"
      " {\"id\":2,\"vector\":[1,2,3,4],\"count\":2,\"age\":5,\"score\":1.5,\"fl\":[1,2],\"nums\":[]}]",
      &in), VS_OK);
  assert_int_equal(vs_batch_normalize(w, in, VS_WRITE_INSERT, 0, &wide), VS_OK);
  vs_buf wbuf = {0};
  assert_int_equal(vs_batch_encode(wide, &wbuf), VS_OK);
  assert_int_equal(vs_batch_decode(w, wbuf.data, wbuf.len, &back), VS_OK);
  assert_same_rows(wide, back);
  vs_rows_free(back);
  /* The same bytes against another schema are refused. */
  assert_fails(vs_batch_decode(s, wbuf.data, wbuf.len, &back), VS_ERR_CORRUPT, "columns, the schema has");
  assert_null(back);
  vs_buf_free(&wbuf);
  vs_rows_free(wide);
  vs_rows_free(in);
  vs_schema_free(w);

  /* An empty batch. */
  vs_rows *empty = NULL, *norm = NULL;
  assert_int_equal(vs_rows_new(0, &empty), VS_OK);
  assert_int_equal(vs_batch_normalize(s, empty, VS_WRITE_INSERT, 0, &norm), VS_OK);
  vs_buf ebuf = {0};
  assert_int_equal(vs_batch_encode(norm, &ebuf), VS_OK);
  assert_int_equal(vs_batch_decode(s, ebuf.data, ebuf.len, &back), VS_OK);
  assert_int_equal(vs_rows_count(back), 0);
  vs_rows_free(back);
  vs_buf_free(&ebuf);
  vs_rows_free(norm);
  vs_rows_free(empty);

  vs_buf_free(&buf);
  vs_rows_free(batch);
  vs_schema_free(s);
}

/* Copies the encoding, lets `mutate` change it, and expects CORRUPT. */
static void expect_corrupt(const vs_schema *s, const vs_buf *good, size_t pos,
                           const void *bytes, size_t n, const char *substr) {
  uint8_t *copy = malloc(good->len + 1);
  memcpy(copy, good->data, good->len);
  memcpy(copy + pos, bytes, n);
  vs_rows *out = (vs_rows *)1;
  assert_fails(vs_batch_decode(s, copy, good->len, &out), VS_ERR_CORRUPT, substr);
  assert_null(out);
  free(copy);
}

static void test_decode_hostile(void **state) {
  (void)state;
  vs_schema *s = codec_schema();
  vs_rows *batch = codec_batch(s);
  vs_buf good = {0};
  assert_int_equal(vs_batch_encode(batch, &good), VS_OK);
  /* Layout: header 16; id @16 (9 + 24); vector @49 (9 + 48); title @106:
   * 9 + 3 valid + 32 offsets + 3 bytes; flag @153: 9 + 3; $meta @165. */
  assert_int_equal(vs_load_u32(good.data + 16), VS_TYPE_INT64);
  assert_int_equal(vs_load_u32(good.data + 49), VS_TYPE_FLOAT_VECTOR);
  assert_int_equal(vs_load_u32(good.data + 106), VS_TYPE_VARCHAR);
  assert_int_equal(good.data[114], 1);
  assert_int_equal(vs_load_u32(good.data + 153), VS_TYPE_BOOL);
  assert_int_equal(vs_load_u32(good.data + 165), VS_TYPE_JSON);

  const uint8_t one = 1, two = 2, ff = 0xff, zero = 0;
  uint8_t u32[4], u64[8];
  expect_corrupt(s, &good, 0, "VSB2", 4, "unknown format tag");
  vs_store_u64(u64, (uint64_t)1 << 25);
  expect_corrupt(s, &good, 4, u64, 8, "33554432 rows is more than 16777216");
  vs_store_u64(u64, 4);
  expect_corrupt(s, &good, 4, u64, 8, "batch: ");
  vs_store_u32(u32, 4);
  expect_corrupt(s, &good, 12, u32, 4, "4 columns, the schema has 5");
  vs_store_u32(u32, VS_TYPE_INT32);
  expect_corrupt(s, &good, 16, u32, 4, "column 0 ('id') is type 4 dim 0, the schema says Int64");
  vs_store_u32(u32, 3);
  expect_corrupt(s, &good, 53, u32, 4, "column 1 ('vector') is type 101 dim 3");
  expect_corrupt(s, &good, 24, &one, 1, "column 'id' has a bad null flag 1");
  expect_corrupt(s, &good, 114, &two, 1, "column 'title' has a bad null flag 2");
  float nan = NAN;
  expect_corrupt(s, &good, 58 + 4, &nan, 4, "column 'vector' row 0 holds NaN or Inf");
  expect_corrupt(s, &good, 58 + 16, &nan, 4, "column 'vector' row 1 holds NaN or Inf");
  expect_corrupt(s, &good, 115, &two, 1, "column 'title' row 0 has null flag 2");
  expect_corrupt(s, &good, 115, &zero, 1, "column 'title' row 0 is null but has bytes");
  vs_store_u64(u64, 1);
  expect_corrupt(s, &good, 118, u64, 8, "offsets do not start at 0");
  vs_store_u64(u64, 3);
  expect_corrupt(s, &good, 126, u64, 8, "column 'title' row 1: offset 2 is out of order");
  vs_store_u64(u64, 2);
  expect_corrupt(s, &good, 142, u64, 8, "column 3 ('flag') is type");
  vs_store_u64(u64, 1000);
  expect_corrupt(s, &good, 142, u64, 8, "claims 1000 bytes");
  expect_corrupt(s, &good, 150, &ff, 1, "column 'title' row 0 is not valid UTF-8");
  expect_corrupt(s, &good, 162, &two, 1, "column 'flag' row 0: Bool byte 2");

  /* Trailing bytes, and a schema with a shorter max_length. */
  uint8_t *longer = malloc(good.len + 1);
  memcpy(longer, good.data, good.len);
  longer[good.len] = 0;
  vs_rows *out = NULL;
  assert_fails(vs_batch_decode(s, longer, good.len + 1, &out), VS_ERR_CORRUPT, "1 bytes after the last column");
  free(longer);
  const spec short_title[] = {{"title", VS_TYPE_VARCHAR, 1, NULL, 0, 1, 0},
                              {"flag", VS_TYPE_BOOL, 0, "false", 0, 0, 0}};
  vs_schema *s2 = make_schema(VS_TYPE_INT64, 0, 1, short_title, 2);
  assert_fails(vs_batch_decode(s2, good.data, good.len, &out), VS_ERR_CORRUPT,
               "column 'title' row 0: 2 bytes exceeds max_length 1");
  vs_schema_free(s2);
  assert_fails(vs_batch_decode(s, NULL, 0, &out), VS_ERR_CORRUPT, "truncated header");

  /* Every truncation fails cleanly. */
  for (size_t cut = 0; cut < good.len; cut++) {
    out = (vs_rows *)1;
    assert_int_equal(vs_batch_decode(s, good.data, cut, &out), VS_ERR_CORRUPT);
    assert_null(out);
  }
  vs_buf_free(&good);
  vs_rows_free(batch);
  vs_schema_free(s);
}

/* Random mutations of valid encodings never crash; what decodes is a
 * usable batch. */
static void test_decode_mutations(void **state) {
  (void)state;
  vs_schema *s = wide_schema(1);
  vs_rows *in = NULL, *batch = NULL;
  assert_int_equal(vs_rows_from_json(s,
      "[{\"id\":1,\"vector\":[1,2,3,4],\"count\":1,\"tags\":[\"a\"],\"doc\":{\"q\":[1,2]},\"k\":1},"
      " {\"id\":2,\"vector\":[1,2,3,4],\"count\":2,\"age\":5,\"title\":\"xy\",\"fl\":[1,2],\"nums\":[]}]",
      &in), VS_OK);
  assert_int_equal(vs_batch_normalize(s, in, VS_WRITE_INSERT, 0, &batch), VS_OK);
  vs_buf good = {0};
  assert_int_equal(vs_batch_encode(batch, &good), VS_OK);
  uint8_t *copy = malloc(good.len);
  uint64_t seed = 99;
  size_t decoded = 0;
  for (int iter = 0; iter < 20000; iter++) {
    memcpy(copy, good.data, good.len);
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    int flips = 1 + (int)((seed >> 60) & 3);
    for (int k = 0; k < flips; k++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      size_t pos = (size_t)(seed >> 20) % good.len;
      uint8_t value = (uint8_t)(seed >> 8);
      copy[pos] = (seed >> 40) & 1 ? value : (uint8_t)(copy[pos] ^ (1u << ((seed >> 5) & 7)));
    }
    size_t len = (seed >> 44) % 8 == 0 ? (size_t)(seed >> 24) % good.len : good.len;
    vs_rows *out = NULL;
    vs_status st = vs_batch_decode(s, copy, len, &out);
    if (st == VS_OK) {
      decoded++;
      for (size_t r = 0; r < vs_rows_count(out); r++) {
        char *text = NULL;
        if (vs_rows_row_to_json(out, r, &text) == VS_OK) vs_free(text);
      }
      vs_rows_free(out);
    } else {
      assert_int_equal(st, VS_ERR_CORRUPT);
      assert_null(out);
    }
  }
  assert_true(decoded > 0); /* some mutations land in payload bytes */
  free(copy);
  vs_buf_free(&good);
  vs_rows_free(batch);
  vs_rows_free(in);
  vs_schema_free(s);
}

/* ----------------------------------------------------------- pk helpers */

static void test_pk_hash_equal(void **state) {
  (void)state;
  int64_t a[] = {5, 6, 5};
  int64_t b[] = {6};
  vs_colview x = {.type = VS_TYPE_INT64, .n = 3, .fixed = (const uint8_t *)a};
  vs_colview y = {.type = VS_TYPE_INT64, .n = 1, .fixed = (const uint8_t *)b};
  assert_true(vs_pk_equal(&x, 0, &x, 2));
  assert_false(vs_pk_equal(&x, 0, &x, 1));
  assert_true(vs_pk_equal(&x, 1, &y, 0));
  assert_true(vs_pk_hash(&x, 1) == vs_pk_hash(&y, 0));
  assert_true(vs_pk_hash(&x, 0) == vs_pk_hash(&x, 2));

  uint64_t off1[] = {0, 3, 3, 6};
  uint64_t off2[] = {0, 0, 3};
  vs_colview s1 = {.type = VS_TYPE_VARCHAR, .n = 3, .offsets = off1, .bytes = "abcabc"};
  vs_colview s2 = {.type = VS_TYPE_VARCHAR, .n = 2, .offsets = off2, .bytes = "abc"};
  assert_true(vs_pk_equal(&s1, 0, &s1, 2));
  assert_true(vs_pk_equal(&s1, 1, &s2, 0)); /* empty keys */
  assert_true(vs_pk_equal(&s1, 2, &s2, 1));
  assert_false(vs_pk_equal(&s1, 0, &s1, 1));
  assert_false(vs_pk_equal(&s1, 0, &x, 0)); /* different types */
  assert_true(vs_pk_hash(&s1, 0) == vs_pk_hash(&s2, 1));
  assert_true(vs_pk_hash(&s1, 1) == vs_pk_hash(&s2, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conversions),
      cmocka_unit_test(test_range_and_value_errors),
      cmocka_unit_test(test_nulls_and_defaults),
      cmocka_unit_test(test_dynamic_fields),
      cmocka_unit_test(test_primary_keys),
      cmocka_unit_test(test_batch_shape),
      cmocka_unit_test(test_encode_decode),
      cmocka_unit_test(test_decode_hostile),
      cmocka_unit_test(test_decode_mutations),
      cmocka_unit_test(test_pk_hash_equal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
