/*
 * expr_schema.h -- the schema the filter-language tests compile against
 * (test_expr_eval.c and the libFuzzer target tests/fuzz/fuzz_expr.c):
 * every scalar type, nullable fields, a JSON field, two Array fields, a
 * 2-d vector and a dynamic field.  Header-only, because the fuzz target is
 * built by tests/fuzz/run-fuzz outside CMake.
 */
#ifndef VS_TEST_EXPR_SCHEMA_H
#define VS_TEST_EXPR_SCHEMA_H

#include <string.h>

#include "engine/schema.h"

static vs_status expr_test_schema(vs_schema **out) {
  static const struct {
    const char *name;
    vs_type type;
    int nullable;
    vs_type elem;
  } fields[] = {
      {"id", VS_TYPE_INT64, 0, 0},       {"vec", VS_TYPE_FLOAT_VECTOR, 0, 0},
      {"flag", VS_TYPE_BOOL, 1, 0},      {"i8", VS_TYPE_INT8, 0, 0},
      {"i16", VS_TYPE_INT16, 1, 0},      {"age", VS_TYPE_INT32, 1, 0},
      {"big", VS_TYPE_INT64, 0, 0},      {"f", VS_TYPE_FLOAT, 1, 0},
      {"d", VS_TYPE_DOUBLE, 0, 0},       {"color", VS_TYPE_VARCHAR, 1, 0},
      {"meta", VS_TYPE_JSON, 1, 0},      {"tags", VS_TYPE_ARRAY, 0, VS_TYPE_VARCHAR},
      {"nums", VS_TYPE_ARRAY, 1, VS_TYPE_INT64},
  };
  vs_schema *s = NULL;
  vs_status st = vs_schema_new(&s);
  for (size_t i = 0; st == VS_OK && i < sizeof fields / sizeof fields[0]; i++) {
    vs_field_def d;
    memset(&d, 0, sizeof d);
    d.name = fields[i].name;
    d.type = fields[i].type;
    d.nullable = fields[i].nullable;
    d.element_type = fields[i].elem;
    d.is_primary = i == 0;
    if (d.type == VS_TYPE_FLOAT_VECTOR) d.dim = 2;
    if (d.type == VS_TYPE_VARCHAR || d.element_type == VS_TYPE_VARCHAR) d.max_length = 64;
    if (d.type == VS_TYPE_ARRAY) d.max_capacity = 16;
    st = vs_schema_add_field(s, &d);
  }
  if (st == VS_OK) st = vs_schema_enable_dynamic(s, 1);
  if (st == VS_OK) st = vs_schema_validate(s);
  if (st != VS_OK) {
    vs_schema_free(s);
    s = NULL;
  }
  *out = s;
  return st;
}

#endif
