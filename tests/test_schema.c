/*
 * test_schema.c -- schemas: name tables, field validation (every error
 * path), whole-schema validation, lookups, clone, and the JSON form
 * (round trips, exact shape, hostile input).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

static vs_field_def field(const char *name, vs_type type) {
  vs_field_def d;
  memset(&d, 0, sizeof d);
  d.name = name;
  d.type = type;
  if (type == VS_TYPE_FLOAT_VECTOR) d.dim = 4;
  if (type == VS_TYPE_VARCHAR) d.max_length = 16;
  return d;
}

static vs_field_def pk_field(const char *name) {
  vs_field_def d = field(name, VS_TYPE_INT64);
  d.is_primary = 1;
  return d;
}

/* A valid schema: id (Int64 pk), vector (dim 4), plus nothing else. */
static vs_schema *basic_schema(void) {
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_new(&s), VS_OK);
  vs_field_def pk = pk_field("id");
  vs_field_def vec = field("vector", VS_TYPE_FLOAT_VECTOR);
  assert_int_equal(vs_schema_add_field(s, &pk), VS_OK);
  assert_int_equal(vs_schema_add_field(s, &vec), VS_OK);
  return s;
}

/* Adds `def` to a basic schema and expects it to fail with `substr`. */
static void expect_field_error(vs_field_def def, const char *substr) {
  vs_schema *s = basic_schema();
  assert_fails(vs_schema_add_field(s, &def), VS_ERR_SCHEMA, substr);
  assert_int_equal(vs_schema_field_count(s), 2);
  vs_schema_free(s);
}

/* ------------------------------------------------------------ name tables */

static void test_type_names(void **state) {
  (void)state;
  const vs_type all[] = {VS_TYPE_BOOL,   VS_TYPE_INT8,    VS_TYPE_INT16, VS_TYPE_INT32,
                         VS_TYPE_INT64,  VS_TYPE_FLOAT,   VS_TYPE_DOUBLE, VS_TYPE_VARCHAR,
                         VS_TYPE_ARRAY,  VS_TYPE_JSON,    VS_TYPE_FLOAT_VECTOR};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    const char *name = vs_type_name(all[i]);
    assert_non_null(name);
    assert_int_equal(vs_type_from_name(name), all[i]);
  }
  assert_string_equal(vs_type_name(VS_TYPE_FLOAT_VECTOR), "FloatVector");
  assert_string_equal(vs_type_name(VS_TYPE_VARCHAR), "VarChar");
  assert_null(vs_type_name(VS_TYPE_NONE));
  assert_null(vs_type_name((vs_type)42));
  assert_int_equal(vs_type_from_name("int64"), VS_TYPE_NONE); /* case-sensitive */
  assert_int_equal(vs_type_from_name("Varchar"), VS_TYPE_NONE);
  assert_int_equal(vs_type_from_name(NULL), VS_TYPE_NONE);

  assert_int_equal(vs_type_fixed_width(VS_TYPE_INT16, 0), 2);
  assert_int_equal(vs_type_fixed_width(VS_TYPE_FLOAT_VECTOR, 768), 3072);
  assert_int_equal(vs_type_fixed_width(VS_TYPE_JSON, 0), 0);
  assert_true(vs_type_is_var(VS_TYPE_ARRAY));
  assert_false(vs_type_is_var(VS_TYPE_DOUBLE));
}

static void test_metric_and_fsync_names(void **state) {
  (void)state;
  vs_metric m = VS_METRIC_L2;
  assert_int_equal(vs_metric_from_name("cosine", &m), VS_OK);
  assert_int_equal(m, VS_METRIC_COSINE);
  assert_int_equal(vs_metric_from_name("IP", &m), VS_OK);
  assert_int_equal(m, VS_METRIC_IP);
  assert_string_equal(vs_metric_name(VS_METRIC_L2), "L2");
  assert_null(vs_metric_name((vs_metric)9));
  assert_fails(vs_metric_from_name("HAMMING", &m), VS_ERR_INVALID, "HAMMING");
  assert_fails(vs_metric_from_name(NULL, &m), VS_ERR_INVALID, "metric");

  vs_fsync_policy p = VS_FSYNC_ALWAYS;
  assert_int_equal(vs_fsync_policy_from_name("Batch", &p), VS_OK);
  assert_int_equal(p, VS_FSYNC_BATCH);
  assert_string_equal(vs_fsync_policy_name(VS_FSYNC_NONE), "none");
  assert_null(vs_fsync_policy_name((vs_fsync_policy)5));
  assert_fails(vs_fsync_policy_from_name("sometimes", &p), VS_ERR_INVALID, "sometimes");

  char **strings = calloc(2, sizeof *strings);
  strings[0] = strdup("a");
  strings[1] = strdup("b");
  vs_free_strings(strings, 2);
  vs_free_strings(NULL, 3);
  vs_free(NULL);
}

/* ---------------------------------------------------------- field rules */

static void test_add_fields_and_lookup(void **state) {
  (void)state;
  vs_schema *s = basic_schema();
  vs_field_def title = field("title", VS_TYPE_VARCHAR);
  title.max_length = 256;
  title.nullable = 1;
  title.description = "the title";
  assert_int_equal(vs_schema_add_field(s, &title), VS_OK);
  vs_field_def tags = field("tags", VS_TYPE_ARRAY);
  tags.element_type = VS_TYPE_VARCHAR;
  tags.max_capacity = 8;
  tags.max_length = 10;
  tags.dim = 99; /* does not apply: dropped */
  assert_int_equal(vs_schema_add_field(s, &tags), VS_OK);
  assert_int_equal(vs_schema_validate(s), VS_OK);

  assert_int_equal(vs_schema_field_count(s), 4);
  assert_int_equal(s->fields[0].id, 100);
  assert_int_equal(s->fields[3].id, 103);
  vs_field_def out;
  assert_int_equal(vs_schema_field(s, 3, &out), VS_OK);
  assert_string_equal(out.name, "tags");
  assert_int_equal(out.dim, 0);
  assert_int_equal(out.element_type, VS_TYPE_VARCHAR);
  assert_int_equal(out.max_capacity, 8);
  assert_int_equal(vs_schema_field(s, 2, &out), VS_OK);
  assert_string_equal(out.description, "the title");
  assert_true(out.nullable);
  assert_fails(vs_schema_field(s, 4, &out), VS_ERR_INVALID, "out of range");

  assert_int_equal(vs_schema_index(s, "title"), 2);
  assert_int_equal(vs_schema_index(s, "nope"), -1);
  assert_null(vs_schema_find(s, "nope"));
  assert_string_equal(vs_schema_pk(s)->name, "id");
  assert_int_equal(vs_schema_pk_index(s), 0);
  assert_int_equal(vs_schema_vector_count(s), 1);
  assert_int_equal(vs_schema_first_vector(s), 1);
  assert_int_equal(vs_schema_column_count(s), 4);
  assert_int_equal(vs_schema_enable_dynamic(s, 1), VS_OK);
  assert_int_equal(vs_schema_column_count(s), 5);
  vs_schema_free(s);
}

static void test_name_rules(void **state) {
  (void)state;
  char long_name[300];
  memset(long_name, 'a', 256);
  long_name[256] = '\0';
  expect_field_error(field("", VS_TYPE_INT32), "needs a name");
  expect_field_error(field(long_name, VS_TYPE_INT32), "the limit is 255");
  expect_field_error(field("1abc", VS_TYPE_INT32), "field '1abc'");
  expect_field_error(field("a-b", VS_TYPE_INT32), "field 'a-b': a name must start");
  expect_field_error(field("$meta", VS_TYPE_JSON), "reserved");
  expect_field_error(field("vector", VS_TYPE_INT32), "field 'vector' is defined twice");
  long_name[255] = '\0';
  vs_schema *s = basic_schema();
  vs_field_def ok = field(long_name, VS_TYPE_INT32);
  assert_int_equal(vs_schema_add_field(s, &ok), VS_OK);
  vs_field_def underscore = field("_x9", VS_TYPE_INT32);
  assert_int_equal(vs_schema_add_field(s, &underscore), VS_OK);
  vs_schema_free(s);
  vs_field_def nameless = field(NULL, VS_TYPE_INT32);
  expect_field_error(nameless, "needs a name");
}

static void test_type_and_pk_rules(void **state) {
  (void)state;
  expect_field_error(field("x", (vs_type)42), "field 'x': unknown type 42");
  expect_field_error(field("x", VS_TYPE_NONE), "unknown type 0");

  vs_field_def d = field("f", VS_TYPE_FLOAT);
  d.is_primary = 1;
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_new(&s), VS_OK);
  assert_fails(vs_schema_add_field(s, &d), VS_ERR_SCHEMA, "field 'f': the primary key must be Int64 or VarChar");
  d = field("key", VS_TYPE_VARCHAR);
  d.is_primary = 1;
  d.auto_id = 1;
  assert_fails(vs_schema_add_field(s, &d), VS_ERR_SCHEMA, "field 'key': autoID needs an Int64");
  d = pk_field("id");
  d.nullable = 1;
  assert_fails(vs_schema_add_field(s, &d), VS_ERR_SCHEMA, "field 'id': the primary key cannot be nullable");
  d = pk_field("id");
  d.default_json = "1";
  assert_fails(vs_schema_add_field(s, &d), VS_ERR_SCHEMA, "field 'id': the primary key cannot have a default");
  vs_schema_free(s);

  d = pk_field("second");
  expect_field_error(d, "field 'second': the schema already has a primary key ('id')");
  d = field("n", VS_TYPE_INT64);
  d.auto_id = 1;
  expect_field_error(d, "field 'n': autoID is only allowed on the primary key");
}

static void test_vector_varchar_array_rules(void **state) {
  (void)state;
  vs_field_def d = field("v2", VS_TYPE_FLOAT_VECTOR);
  d.dim = 0;
  expect_field_error(d, "field 'v2': dim 0 is out of range 1..32768");
  d.dim = 32769;
  expect_field_error(d, "dim 32769");
  d.dim = 8;
  d.metric = (vs_metric)7;
  expect_field_error(d, "field 'v2': unknown metric 7");
  d.metric = VS_METRIC_COSINE;
  d.nullable = 1;
  expect_field_error(d, "vectorstore does not");
  d.nullable = 0;
  d.default_json = "[1,2,3,4,5,6,7,8]";
  expect_field_error(d, "field 'v2': FloatVector fields cannot have a default value");

  vs_schema *s = basic_schema();
  for (int i = 0; i < 7; i++) {
    char name[16];
    snprintf(name, sizeof name, "v%d", i);
    vs_field_def v = field(name, VS_TYPE_FLOAT_VECTOR);
    assert_int_equal(vs_schema_add_field(s, &v), VS_OK);
  }
  vs_field_def ninth = field("ninth", VS_TYPE_FLOAT_VECTOR);
  assert_fails(vs_schema_add_field(s, &ninth), VS_ERR_SCHEMA, "field 'ninth': a schema has at most 8 vector fields");
  assert_int_equal(vs_schema_validate(s), VS_OK);
  vs_schema_free(s);

  d = field("title", VS_TYPE_VARCHAR);
  d.max_length = 0;
  expect_field_error(d, "field 'title': max_length 0 is out of range 1..65535");
  d.max_length = 65536;
  expect_field_error(d, "max_length 65536");

  d = field("arr", VS_TYPE_ARRAY);
  d.max_capacity = 4;
  d.element_type = VS_TYPE_JSON;
  expect_field_error(d, "field 'arr': an Array's element type must be");
  d.element_type = VS_TYPE_ARRAY;
  expect_field_error(d, "not Array");
  d.element_type = VS_TYPE_NONE;
  expect_field_error(d, "not unset");
  d.element_type = VS_TYPE_INT16;
  d.max_capacity = 0;
  expect_field_error(d, "field 'arr': max_capacity 0 is out of range 1..4096");
  d.max_capacity = 4097;
  expect_field_error(d, "max_capacity 4097");
  d.max_capacity = 4096;
  d.element_type = VS_TYPE_VARCHAR;
  expect_field_error(d, "field 'arr': max_length 0");
  d.default_json = "[]";
  d.max_length = 5;
  expect_field_error(d, "field 'arr': Array fields cannot have a default value");
}

static void test_defaults(void **state) {
  (void)state;
  vs_field_def d = field("age", VS_TYPE_INT8);
  d.default_json = "300";
  expect_field_error(d, "field 'age': the default value is not a valid Int8");
  d.default_json = "1.5";
  expect_field_error(d, "not a valid Int8");
  d.default_json = "{oops";
  expect_field_error(d, "field 'age': the default value is not JSON");
  d.default_json = "null";
  expect_field_error(d, "field 'age': a null default needs a nullable field");
  d = field("flag", VS_TYPE_BOOL);
  d.default_json = "1";
  expect_field_error(d, "field 'flag': the default value is not a valid Bool");
  d = field("score", VS_TYPE_FLOAT);
  d.default_json = "1e300";
  expect_field_error(d, "field 'score': the default value is not a valid Float");
  d = field("name", VS_TYPE_VARCHAR);
  d.max_length = 3;
  d.default_json = "\"abcd\"";
  expect_field_error(d, "field 'name': the default is 4 bytes, max_length is 3");
  d.default_json = "3";
  expect_field_error(d, "not a valid VarChar");
  d = field("doc", VS_TYPE_JSON);
  d.default_json = "{}";
  expect_field_error(d, "field 'doc': JSON fields cannot have a default value");

  vs_schema *s = basic_schema();
  struct {
    vs_type type;
    const char *in;
    const char *canonical;
  } ok[] = {
      {VS_TYPE_INT16, " 5 ", "5"},        {VS_TYPE_DOUBLE, "0.1", "0.1"},
      {VS_TYPE_DOUBLE, "1.50", "1.5"},    {VS_TYPE_FLOAT, "2", "2"},
      {VS_TYPE_DOUBLE, "1e300", "1e+300"}, {VS_TYPE_BOOL, "true", "true"},
      {VS_TYPE_VARCHAR, " \"h\\u00e9\" ", "\"h\xc3\xa9\""},
      {VS_TYPE_INT64, "-9223372036854775808", "-9223372036854775808"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    char name[16];
    snprintf(name, sizeof name, "d%zu", i);
    vs_field_def f = field(name, ok[i].type);
    f.default_json = ok[i].in;
    assert_int_equal(vs_schema_add_field(s, &f), VS_OK);
    assert_string_equal(vs_schema_find(s, name)->default_json, ok[i].canonical);
  }
  vs_field_def nul = field("maybe", VS_TYPE_JSON);
  nul.nullable = 1;
  nul.default_json = "null";
  assert_int_equal(vs_schema_add_field(s, &nul), VS_OK);
  assert_null(vs_schema_find(s, "maybe")->default_json);
  vs_schema_free(s);
}

static void test_descriptions_and_limits(void **state) {
  (void)state;
  vs_field_def d = field("x", VS_TYPE_INT32);
  d.description = "bad \xff utf8";
  expect_field_error(d, "field 'x': the description is not valid UTF-8");
  vs_schema *s = basic_schema();
  assert_int_equal(vs_schema_set_description(s, "photos"), VS_OK);
  assert_string_equal(s->description, "photos");
  assert_fails(vs_schema_set_description(s, "\xc0\x80"), VS_ERR_SCHEMA, "schema: the description is not valid UTF-8");
  assert_int_equal(vs_schema_set_description(s, NULL), VS_OK);
  assert_string_equal(s->description, "");
  for (int i = 2; i < 512; i++) {
    char name[16];
    snprintf(name, sizeof name, "f%d", i);
    vs_field_def f = field(name, VS_TYPE_BOOL);
    assert_int_equal(vs_schema_add_field(s, &f), VS_OK);
  }
  vs_field_def extra = field("extra", VS_TYPE_BOOL);
  assert_fails(vs_schema_add_field(s, &extra), VS_ERR_SCHEMA, "field 'extra': a schema has at most 512 fields");
  assert_int_equal(vs_schema_validate(s), VS_OK);
  vs_schema_free(s);
  assert_fails(vs_schema_add_field(NULL, &extra), VS_ERR_INVALID, "NULL");
}

static void test_validate(void **state) {
  (void)state;
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_new(&s), VS_OK);
  assert_fails(vs_schema_validate(s), VS_ERR_SCHEMA, "no primary key");
  vs_field_def pk = pk_field("id");
  assert_int_equal(vs_schema_add_field(s, &pk), VS_OK);
  assert_fails(vs_schema_validate(s), VS_ERR_SCHEMA, "no FloatVector field");
  vs_field_def vec = field("vector", VS_TYPE_FLOAT_VECTOR);
  assert_int_equal(vs_schema_add_field(s, &vec), VS_OK);
  assert_int_equal(vs_schema_validate(s), VS_OK);
  vs_schema_free(s);
  assert_fails(vs_schema_validate(NULL), VS_ERR_INVALID, "NULL");
}

/* ------------------------------------------------------------------ JSON */

static const char *full_schema_json =
    "{\"description\":\"d\",\"enableDynamicField\":true,\"fields\":["
    "{\"id\":100,\"name\":\"id\",\"type\":\"VarChar\",\"isPrimary\":true,\"autoID\":false,"
    "\"nullable\":false,\"maxLength\":64,\"description\":\"\"},"
    "{\"id\":101,\"name\":\"vector\",\"type\":\"FloatVector\",\"isPrimary\":false,\"autoID\":false,"
    "\"nullable\":false,\"dim\":768,\"metric\":\"COSINE\",\"description\":\"emb\"},"
    "{\"id\":102,\"name\":\"age\",\"type\":\"Int8\",\"isPrimary\":false,\"autoID\":false,"
    "\"nullable\":true,\"default\":18,\"description\":\"\"},"
    "{\"id\":105,\"name\":\"tags\",\"type\":\"Array\",\"isPrimary\":false,\"autoID\":false,"
    "\"nullable\":true,\"maxLength\":10,\"elementType\":\"VarChar\",\"maxCapacity\":4,\"description\":\"\"},"
    "{\"id\":106,\"name\":\"score\",\"type\":\"Double\",\"isPrimary\":false,\"autoID\":false,"
    "\"nullable\":false,\"default\":0.1,\"description\":\"\"},"
    "{\"id\":107,\"name\":\"meta\",\"type\":\"JSON\",\"isPrimary\":false,\"autoID\":false,"
    "\"nullable\":true,\"description\":\"\"}]}";

static void test_json_round_trip(void **state) {
  (void)state;
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_from_json(full_schema_json, &s), VS_OK);
  assert_true(s->dynamic);
  assert_int_equal(vs_schema_find(s, "tags")->id, 105);
  assert_int_equal(vs_schema_find(s, "vector")->metric, VS_METRIC_COSINE);
  char *text = NULL;
  assert_int_equal(vs_schema_to_json(s, &text), VS_OK);
  assert_string_equal(text, full_schema_json);
  vs_free(text);

  /* New fields continue after the highest restored id. */
  vs_field_def extra = field("extra", VS_TYPE_BOOL);
  assert_int_equal(vs_schema_add_field(s, &extra), VS_OK);
  assert_int_equal(vs_schema_find(s, "extra")->id, 108);

  vs_schema *copy = NULL;
  assert_int_equal(vs_schema_clone(s, &copy), VS_OK);
  char *a = NULL, *b = NULL;
  assert_int_equal(vs_schema_to_json(s, &a), VS_OK);
  assert_int_equal(vs_schema_to_json(copy, &b), VS_OK);
  assert_string_equal(a, b);
  vs_free(a);
  vs_free(b);
  vs_schema_free(copy);
  vs_schema_free(s);

  s = basic_schema();
  assert_int_equal(vs_schema_to_json(s, &text), VS_OK);
  assert_string_equal(text,
      "{\"description\":\"\",\"enableDynamicField\":false,\"fields\":["
      "{\"id\":100,\"name\":\"id\",\"type\":\"Int64\",\"isPrimary\":true,\"autoID\":false,"
      "\"nullable\":false,\"description\":\"\"},"
      "{\"id\":101,\"name\":\"vector\",\"type\":\"FloatVector\",\"isPrimary\":false,"
      "\"autoID\":false,\"nullable\":false,\"dim\":4,\"metric\":\"L2\",\"description\":\"\"}]}");
  vs_schema *back = NULL;
  assert_int_equal(vs_schema_from_json(text, &back), VS_OK);
  vs_free(text);
  vs_schema_free(back);
  vs_schema_free(s);
}

static void expect_json_error(const char *json, const char *substr) {
  vs_schema *s = (vs_schema *)1;
  assert_fails(vs_schema_from_json(json, &s), VS_ERR_SCHEMA, substr);
  assert_null(s);
}

#define PK "{\"id\":100,\"name\":\"id\",\"type\":\"Int64\",\"isPrimary\":true}"
#define VEC "{\"id\":101,\"name\":\"v\",\"type\":\"FloatVector\",\"dim\":4,\"metric\":\"L2\"}"

static void test_json_hostile(void **state) {
  (void)state;
  expect_json_error("", "invalid JSON");
  expect_json_error("{\"fields\":[", "invalid JSON at line 1");
  expect_json_error("[]", "not an object");
  expect_json_error("{}", "no 'fields'");
  expect_json_error("{\"fields\":{}}", "'fields' must be an array");
  expect_json_error("{\"fields\":[], \"x\":1}", "unknown key 'x'");
  expect_json_error("{\"fields\":[],\"enableDynamicField\":1}", "'enableDynamicField' must be true or false");
  expect_json_error("{\"fields\":[],\"description\":5}", "'description' must be a string");
  expect_json_error("{\"fields\":[]}", "no primary key");
  expect_json_error("{\"fields\":[" PK "]}", "no FloatVector");
  expect_json_error("{\"fields\":[1]}", "field 0 is not an object");
  expect_json_error("{\"fields\":[{\"name\":\"id\",\"type\":\"Int64\"}]}", "field 0: 'id' must be an integer");
  expect_json_error("{\"fields\":[{\"id\":99,\"name\":\"id\",\"type\":\"Int64\"}]}", "in 100..");
  expect_json_error("{\"fields\":[{\"id\":1e3,\"name\":\"id\",\"type\":\"Int64\"}]}", "'id' must be an integer");
  expect_json_error("{\"fields\":[{\"id\":4294967296,\"name\":\"id\",\"type\":\"Int64\"}]}", "'id' must be");
  expect_json_error("{\"fields\":[" PK ",{\"id\":100,\"name\":\"v\",\"type\":\"Bool\"}]}",
                    "field 1: id 100 does not follow id 100");
  expect_json_error("{\"fields\":[{\"id\":100,\"type\":\"Int64\"}]}", "field 0 has no 'name'");
  expect_json_error("{\"fields\":[{\"id\":100,\"name\":7,\"type\":\"Int64\"}]}", "'name' must be a string");
  expect_json_error("{\"fields\":[{\"id\":100,\"name\":\"a\\u0000b\",\"type\":\"Int64\"}]}", "invalid JSON");
  expect_json_error("{\"fields\":[{\"id\":100,\"name\":\"id\",\"type\":\"int64\"}]}", "unknown type 'int64'");
  expect_json_error("{\"fields\":[{\"id\":100,\"name\":\"id\",\"type\":5}]}", "'type' must be a string");
  expect_json_error("{\"fields\":[{\"id\":100,\"name\":\"id\",\"type\":\"Int64\",\"colour\":1}]}",
                    "field 0 has an unknown key 'colour'");
  expect_json_error("{\"fields\":[" PK ",{\"id\":101,\"name\":\"v\",\"type\":\"FloatVector\",\"dim\":-4,\"metric\":\"L2\"}]}",
                    "'dim' must be an integer");
  expect_json_error("{\"fields\":[" PK ",{\"id\":101,\"name\":\"v\",\"type\":\"FloatVector\",\"dim\":4}]}",
                    "field 1 has no 'metric'");
  expect_json_error("{\"fields\":[" PK ",{\"id\":101,\"name\":\"v\",\"type\":\"FloatVector\",\"dim\":4,\"metric\":\"XX\"}]}",
                    "unknown metric 'XX'");
  expect_json_error("{\"fields\":[" PK ",{\"id\":101,\"name\":\"v\",\"type\":\"FloatVector\",\"dim\":40000,\"metric\":\"L2\"}]}",
                    "field 'v': dim 40000");
  expect_json_error("{\"fields\":[" PK "," VEC ",{\"id\":102,\"name\":\"a\",\"type\":\"Int8\",\"default\":\"x\"}]}",
                    "field 'a': the default value is not a valid Int8");
  expect_json_error("{\"fields\":[" PK "," VEC ",{\"id\":102,\"name\":\"a\",\"type\":\"Array\",\"elementType\":\"Blob\"}]}",
                    "unknown elementType 'Blob'");
  expect_json_error("{\"fields\":[" PK "," VEC ",{\"id\":102,\"name\":\"id\",\"type\":\"Bool\"}]}",
                    "field 'id' is defined twice");
  expect_json_error("{\"fields\":[" PK "," VEC ",{\"id\":102,\"name\":\"b\",\"type\":\"Bool\",\"isPrimary\":true}]}",
                    "primary key must be Int64 or VarChar");
  expect_json_error("{\"fields\":[{\"id\":100,\"name\":\"id\",\"type\":\"Int64\",\"isPrimary\":true,"
                    "\"description\":\"\\udc00\"}]}", "invalid JSON");
  expect_json_error("{\"fields\":[],\"fields\":[]}", "duplicate");
  /* nesting deeper than 64 levels is refused before parsing */
  char deep[200];
  size_t len = 0;
  for (int i = 0; i < 70; i++) deep[len++] = '[';
  for (int i = 0; i < 70; i++) deep[len++] = ']';
  deep[len] = '\0';
  expect_json_error(deep, "deeper than 64");

  vs_schema *s = NULL;
  assert_int_equal(vs_schema_from_json("{\"fields\":[" PK "," VEC "]}", &s), VS_OK);
  assert_false(s->dynamic);
  assert_string_equal(s->description, "");
  vs_schema_free(s);
}

/* Every truncation and many byte mutations of a valid schema JSON either
 * parse to a valid schema or fail cleanly. */
static void test_json_mutations(void **state) {
  (void)state;
  size_t len = strlen(full_schema_json);
  char *buf = malloc(len + 1);
  for (size_t cut = 0; cut < len; cut++) {
    memcpy(buf, full_schema_json, cut);
    buf[cut] = '\0';
    vs_schema *s = NULL;
    assert_int_not_equal(vs_schema_from_json(buf, &s), VS_OK);
    assert_null(s);
  }
  uint64_t seed = 12345;
  const char alphabet[] = "{}[]\":,0123456789-.eEtrufalsn \\x\xff";
  for (int iter = 0; iter < 3000; iter++) {
    memcpy(buf, full_schema_json, len + 1);
    for (int k = 0; k < 3; k++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      size_t pos = (size_t)(seed >> 33) % len;
      buf[pos] = alphabet[(seed >> 13) % (sizeof alphabet - 1)];
    }
    vs_schema *s = NULL;
    vs_status st = vs_schema_from_json(buf, &s);
    if (st == VS_OK) {
      assert_int_equal(vs_schema_validate(s), VS_OK);
      vs_schema_free(s);
    } else {
      assert_null(s);
    }
  }
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_type_names),
      cmocka_unit_test(test_metric_and_fsync_names),
      cmocka_unit_test(test_add_fields_and_lookup),
      cmocka_unit_test(test_name_rules),
      cmocka_unit_test(test_type_and_pk_rules),
      cmocka_unit_test(test_vector_varchar_array_rules),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_descriptions_and_limits),
      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_json_hostile),
      cmocka_unit_test(test_json_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
