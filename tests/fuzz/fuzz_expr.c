/*
 * fuzz_expr.c -- libFuzzer target for the filter language (src/expr/).
 *
 * Input: the filter text, optionally followed by a NUL byte and an
 * exprParams JSON object.  The filter is compiled against a fixed schema
 * holding every scalar type, nullable fields, a JSON field, two Array
 * fields and a dynamic field.  When it compiles, it is evaluated over a
 * fixed segment (nulls, nested JSON, escaped strings, empty arrays) both by
 * the vectorised program -- whole and over an unaligned sub-range -- and by
 * the reference interpreter; any disagreement aborts.  The canonical text
 * (vs_expr_to_string) must compile again to the same text.
 *
 * Built and run by tests/fuzz/run-fuzz (clang, -fsanitize=fuzzer,address,
 * undefined); the seed corpus is tests/fuzz/corpus/expr/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/schema.h"
#include "expr/expr.h"
#include "../support/expr_schema.h"

static vs_schema *schema;
static vs_rows *rows;
static vs_colview *cols;

static const char *segment_json =
    "["
    "{\"id\":0,\"vec\":[0,0],\"flag\":true,\"i8\":-3,\"i16\":100,\"age\":25,\"big\":9007199254740993,"
    "\"f\":0.1,\"d\":1.5,\"color\":\"red\",\"meta\":{\"n\":5,\"s\":\"abc\",\"l\":[1,2,3],"
    "\"a\":{\"b\":1}},\"tags\":[\"x\",\"y\"],\"nums\":[1,2,3],\"extra\":7,\"word\":\"hello\"},"
    "{\"id\":1,\"vec\":[0,0],\"flag\":false,\"i8\":0,\"i16\":null,\"age\":null,\"big\":-1,"
    "\"f\":null,\"d\":-2,\"color\":null,\"meta\":{\"n\":7.5,\"s\":\"a\\\"b\",\"l\":[\"x\",2]},"
    "\"tags\":[],\"nums\":null,\"extra\":\"7\"},"
    "{\"id\":2,\"vec\":[0,0],\"flag\":null,\"i8\":127,\"i16\":-5,\"age\":60,\"big\":0,"
    "\"f\":2.5,\"d\":0,\"color\":\"blue\",\"meta\":null,\"tags\":[\"y\"],\"nums\":[],\"word\":\"hel_lo\"},"
    "{\"id\":3,\"vec\":[0,0],\"flag\":true,\"i8\":5,\"i16\":5,\"age\":30,\"big\":5,"
    "\"f\":-1,\"d\":1e10,\"color\":\"\",\"meta\":{\"n\":\"5\",\"s\":\"\\u00e9t\\u00e9\",\"l\":[]},"
    "\"tags\":[\"x\"],\"nums\":[5]},"
    "{\"id\":4,\"vec\":[0,0],\"flag\":false,\"i8\":-128,\"i16\":0,\"age\":31,"
    "\"big\":-9223372036854775808,\"f\":0,\"d\":0.5,\"color\":\"reddish\","
    "\"meta\":{\"n\":null,\"a\":{\"b\":[1,{\"c\":2}]},\"flag\":true},"
    "\"tags\":[\"a%b\",\"a_b\",\"\\u00e9\"],\"nums\":[-1,0],\"extra\":true},"
    "{\"id\":5,\"vec\":[0,0],\"flag\":true,\"i8\":1,\"i16\":1,\"age\":1,\"big\":1,"
    "\"f\":1,\"d\":1,\"color\":\"a\\\\b\",\"meta\":{\"l\":[[1],{\"x\":1},null,true,\"s\"],"
    "\"n\":-0.5,\"s\":\"\"},\"tags\":[\"\"],\"nums\":[9223372036854775807],\"word\":\"\\n\"}"
    "]";

static void setup(void) {
  if (expr_test_schema(&schema) != VS_OK) {
    fprintf(stderr, "fuzz_expr: schema: %s\n", vs_errmsg(NULL));
    abort();
  }
  vs_rows *in = NULL;
  if (vs_rows_from_json(schema, segment_json, &in) != VS_OK) {
    fprintf(stderr, "fuzz_expr: rows: %s\n", vs_errmsg(NULL));
    abort();
  }
  if (vs_batch_normalize(schema, in, VS_WRITE_INSERT, 0, &rows) != VS_OK) {
    fprintf(stderr, "fuzz_expr: normalize: %s\n", vs_errmsg(NULL));
    abort();
  }
  vs_rows_free(in);
  cols = calloc(rows->col_count, sizeof *cols);
  for (size_t k = 0; k < rows->col_count; k++) vs_column_view(&rows->cols[k], &cols[k]);
}

static void check(const vs_expr *e, const char *text) {
  vs_bitset whole, part;
  if (vs_bitset_init(&whole, rows->n) != VS_OK || vs_bitset_init(&part, rows->n) != VS_OK) abort();
  vs_expr_eval(e, cols, 0, rows->n, &whole);
  vs_expr_eval(e, cols, 1, rows->n - 1, &part);
  for (size_t r = 0; r < rows->n; r++) {
    bool ref = vs_expr_eval_row_reference(e, cols, r);
    bool in_part = r >= 1 && r < rows->n - 1;
    if (vs_bitset_test(&whole, r) != ref || (in_part && vs_bitset_test(&part, r) != ref) ||
        (!in_part && vs_bitset_test(&part, r))) {
      fprintf(stderr, "fuzz_expr: '%s' row %zu: program %d/%d, reference %d\n", text, r,
              vs_bitset_test(&whole, r), vs_bitset_test(&part, r), ref);
      abort();
    }
  }
  vs_bitset_free(&whole);
  vs_bitset_free(&part);
}

static void roundtrip(const char *text, const char *params, const vs_expr *e) {
  char *canon = vs_expr_to_string(e);
  vs_expr *again = NULL;
  if (vs_expr_compile(schema, canon, params, &again) != VS_OK) {
    /* the printed parentheses may nest deeper than the input did */
    if (strstr(vs_errmsg(NULL), "nested too deeply")) {
      free(canon);
      return;
    }
    fprintf(stderr, "fuzz_expr: '%s' printed as '%s', which fails: %s\n", text, canon,
            vs_errmsg(NULL));
    abort();
  }
  char *canon2 = vs_expr_to_string(again);
  if (strcmp(canon, canon2) != 0) {
    fprintf(stderr, "fuzz_expr: '%s' printed as '%s', reprinted as '%s'\n", text, canon, canon2);
    abort();
  }
  free(canon);
  free(canon2);
  vs_expr_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!schema) setup();
  if (size > 4096) return 0;
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  size_t tlen = strlen(text);
  const char *params = tlen < size ? text + tlen + 1 : NULL;
  vs_expr *e = NULL;
  if (vs_expr_compile(schema, text, params, &e) == VS_OK) {
    check(e, text);
    roundtrip(text, params, e);
    vs_expr_free(e);
  }
  free(text);
  return 0;
}
