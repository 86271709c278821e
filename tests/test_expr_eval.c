/*
 * test_expr_eval.c -- evaluation of filter expressions over column data.
 *
 * Part one: a hand-built segment of eight rows and hand-computed answers
 * for every operator, the null rules, JSON paths and Array fields, checked
 * both through vs_expr_eval and the reference interpreter.
 *
 * Part two: differential testing.  Random rows (every scalar type, nulls,
 * JSON with nested keys, lists and escaped strings, Arrays) and thousands
 * of random well-typed expressions from a generator; for each, the
 * vectorised program must agree with the reference interpreter on every
 * row, over whole and unaligned row ranges.  The seed comes from
 * tu_seed() (VS_TEST_SEED replays a failure).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/schema.h"
#include "expr/expr.h"
#include "support/expr_schema.h"
#include "support/testutil.h"

static vs_schema *make_schema(void) {
  vs_schema *s = NULL;
  if (expr_test_schema(&s) != VS_OK) fail_msg("schema: %s", vs_errmsg(NULL));
  return s;
}

/* A segment: normalized rows and their column views. */
typedef struct segment {
  vs_rows *rows;
  vs_colview *cols;
  size_t n;
} segment;

static void segment_load(segment *seg, const vs_schema *s, const char *json) {
  vs_rows *in = NULL;
  if (vs_rows_from_json(s, json, &in) != VS_OK) fail_msg("rows: %s", vs_errmsg(NULL));
  if (vs_batch_normalize(s, in, VS_WRITE_INSERT, 0, &seg->rows) != VS_OK)
    fail_msg("normalize: %s", vs_errmsg(NULL));
  vs_rows_free(in);
  size_t ncols = vs_schema_column_count(s);
  assert_int_equal(seg->rows->col_count, ncols);
  seg->cols = calloc(ncols, sizeof *seg->cols);
  for (size_t k = 0; k < ncols; k++) vs_column_view(&seg->rows->cols[k], &seg->cols[k]);
  seg->n = seg->rows->n;
}

static void segment_free(segment *seg) {
  vs_rows_free(seg->rows);
  free(seg->cols);
}

/* ----------------------------------------------------------- hand cases */

static const char *hand_rows =
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
    "{\"id\":4,\"vec\":[0,0],\"flag\":false,\"i8\":-128,\"i16\":0,\"age\":31,\"big\":-9223372036854775808,"
    "\"f\":0,\"d\":0.5,\"color\":\"reddish\",\"meta\":{\"n\":null,\"a\":{\"b\":[1,{\"c\":2}]}},"
    "\"tags\":[\"a%b\",\"a_b\"],\"nums\":[-1,0],\"extra\":true}"
    "]";

static vs_schema *hand_schema;
static segment hand;

static int setup(void **state) {
  (void)state;
  hand_schema = make_schema();
  segment_load(&hand, hand_schema, hand_rows);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  segment_free(&hand);
  vs_schema_free(hand_schema);
  return 0;
}

/* Rows of `seg` passing `text`, as "0 2 5", by both evaluators (which
 * must agree). */
static char *passing(const vs_schema *s, const segment *seg, const char *text) {
  vs_expr *e = NULL;
  if (vs_expr_compile(s, text, NULL, &e) != VS_OK) fail_msg("'%s': %s", text, vs_errmsg(NULL));
  vs_bitset b;
  assert_int_equal(vs_bitset_init(&b, seg->n), VS_OK);
  vs_expr_eval(e, seg->cols, 0, seg->n, &b);
  char *out = calloc(1, seg->n * 8 + 1);
  for (size_t r = 0; r < seg->n; r++) {
    bool ref = vs_expr_eval_row_reference(e, seg->cols, r);
    if (ref != vs_bitset_test(&b, r))
      fail_msg("'%s' row %zu: program %d, reference %d", text, r, vs_bitset_test(&b, r), ref);
    if (ref) sprintf(out + strlen(out), "%s%zu", *out ? " " : "", r);
  }
  vs_bitset_free(&b);
  vs_expr_free(e);
  return out;
}

static void rows_are(const char *text, const char *want) {
  char *got = passing(hand_schema, &hand, text);
  if (strcmp(got, want) != 0) fail_msg("'%s': rows [%s], wanted [%s]", text, got, want);
  free(got);
}

static void test_numeric_columns(void **state) {
  (void)state;
  rows_are("age > 30", "2 4");
  rows_are("age >= 30", "2 3 4");
  rows_are("age < 30", "0");
  rows_are("age <= 30", "0 3");
  rows_are("age == 30", "3");
  rows_are("age != 30", "0 2 4");          /* null row 1 never matches */
  rows_are("30 < age", "2 4");
  rows_are("age > 30.5", "2 4");
  rows_are("age >= 30.5", "2 4");
  rows_are("age < 30.5", "0 3");
  rows_are("age == 30.0", "3");
  rows_are("age == 30.5", "");
  rows_are("age != 30.5", "0 2 3 4");
  rows_are("age > 1e30", "");
  rows_are("age < 1e30", "0 2 3 4");
  rows_are("i8 > 200", "");
  rows_are("i8 >= -128", "0 1 2 3 4");
  rows_are("i8 == 127", "2");
  rows_are("i16 < 1", "2 4");
  rows_are("big == 9007199254740993", "0");
  rows_are("big > 9007199254740992.0", "0");
  rows_are("big == -9223372036854775808", "4");
  rows_are("big < -9223372036854775807", "4");
  rows_are("d > 1", "0 3");
  rows_are("d == 1.5", "0");
  rows_are("d < 9007199254740993", "0 1 2 3 4");
  rows_are("f == 0.1", "0");               /* Float compares in single precision */
  rows_are("f > 0.1", "2");
  rows_are("f <= 0", "3 4");
  rows_are("f != 2.5", "0 3 4");
  rows_are("flag", "0 3");
  rows_are("flag == true", "0 3");
  rows_are("flag != true", "1 4");
  rows_are("flag == false", "1 4");
  rows_are("not flag", "1 4");
  rows_are("i8 == i16", "3");
  rows_are("i8 < age", "0 3 4");
  rows_are("f < d", "0 3 4");
}

static void test_logic_and_nulls(void **state) {
  (void)state;
  rows_are("age > 24 and age < 31", "0 3");
  rows_are("age < 26 or age > 59", "0 2");
  rows_are("not (age > 30)", "0 3");       /* row 1 (null) stays out */
  rows_are("not (age > 30) or age is null", "0 1 3");
  rows_are("age > 30 or i8 == 0", "1 2 4");  /* unknown or true = true */
  rows_are("age > 30 and i8 == 0", "");    /* unknown and true = unknown */
  rows_are("not (age > 30 and i8 == 0)", "0 2 3 4");  /* not(false)=true; row 1 unknown */
  rows_are("not (age > 30 and i8 == 1)", "0 1 2 3 4");
  rows_are("not not (age > 30)", "2 4");
  rows_are("age is null", "1");
  rows_are("age is not null", "0 2 3 4");
  rows_are("flag is null", "2");
  rows_are("color is null", "1");
  rows_are("meta is null", "2");
  rows_are("nums is null", "1");
  rows_are("nums is not null", "0 2 3 4");
  rows_are("i8 is null", "");
  rows_are("true", "0 1 2 3 4");
  rows_are("false", "");
  rows_are("not false", "0 1 2 3 4");
  rows_are("flag or not flag", "0 1 3 4");
  rows_are("1 < age < 31", "0 3");
  rows_are("31 >= age > 25", "3 4");
  rows_are("0 < i16 <= 100", "0 3");
  rows_are("-1 <= meta[\"n\"] < 6", "0");
}

static void test_arith(void **state) {
  (void)state;
  rows_are("age + 1 > 31", "2 4");
  rows_are("age - 5 == 20", "0");
  rows_are("age * 2 == 60", "3");
  rows_are("age / 2 == 15", "3 4");        /* integer division */
  rows_are("age / 2.0 == 15.5", "4");
  rows_are("age % 2 == 1", "0 4");
  rows_are("i8 % 3 == -1", "");
  rows_are("i8 % 3 == 2", "3");
  rows_are("i8 % -3 == 2", "3");
  rows_are("age ** 2 > 900", "2 4");
  rows_are("-age < -30", "2 4");
  rows_are("age + i8 == 22", "0");
  rows_are("d * 2 > 2", "0 3");
  rows_are("d % 1 == 0.5", "0 4");
  rows_are("meta[\"n\"] * 2 == 15", "1");
  rows_are("meta[\"n\"] + 1 > 5", "0 1");
  rows_are("big + 1 == -9223372036854775807", "4");  /* wraps */
  rows_are("big * 2 == -2", "1");
  rows_are("age / meta[\"n\"] == 5", "0");
  rows_are("i8 / big == 0", "0 1 4");      /* row 2: divisor 0 => absent */
  rows_are("i8 / big != 0", "2 3");        /* ... and != is true */
}

static void test_strings_and_like(void **state) {
  (void)state;
  rows_are("color == \"red\"", "0");
  rows_are("color != 'red'", "2 3 4");
  rows_are("color < 'red'", "2 3");
  rows_are("color >= 'red'", "0 4");
  rows_are("color > ''", "0 2 4");
  rows_are("color in ['red', 'blue', 'x']", "0 2");
  rows_are("color not in ['red', 'blue']", "3 4");
  rows_are("color like 'red%'", "0 4");
  rows_are("color like '%e%'", "0 2 4");
  rows_are("color like '%ish'", "4");
  rows_are("color like 'red'", "0");
  rows_are("color like 'r_d'", "0");
  rows_are("color like '_'", "");
  rows_are("color like ''", "3");
  rows_are("color like '%'", "0 2 3 4");
  rows_are("color like 'r%d%h'", "4");
  rows_are("color like 'b__e'", "2");
  rows_are("not (color like 'r%')", "2 3");
  rows_are("meta[\"s\"] like 'a%'", "0 1");
  rows_are("meta[\"s\"] like '_t_'", "3"); /* é is one character */
  rows_are("meta[\"s\"] like '%\"%'", "1");
  rows_are("meta[\"s\"] == 'a\"b'", "1");
  rows_are("meta[\"s\"] == '\\u00e9t\\u00e9'", "3");
  rows_are("meta[\"s\"] > 'abc'", "3");
  rows_are("tags[0] like 'a\\\\%b'", "4");
  rows_are("tags[1] like 'a\\\\_b'", "4");
  rows_are("tags[0] like 'a_b'", "4");
  rows_are("word like 'hel\\\\_lo'", "2");
  rows_are("word like 'hel_lo'", "2");
  rows_are("word like 'hello'", "0");
}

static void test_json_and_arrays(void **state) {
  (void)state;
  rows_are("meta[\"n\"] == 5", "0");      /* row 3 holds the string "5" */
  rows_are("meta[\"n\"] == '5'", "3");
  rows_are("meta[\"n\"] != 5", "1 3 4");  /* missing/other types: != is true; row 2 null */
  rows_are("meta[\"n\"] > 5", "1");
  rows_are("meta[\"n\"] in [5, 7.5]", "0 1");
  rows_are("meta[\"n\"] not in [5]", "1 3 4");
  rows_are("meta[\"n\"] is null", "2 4");
  rows_are("meta[\"n\"] is not null", "0 1 3");
  rows_are("meta[\"zz\"] is null", "0 1 2 3 4");
  rows_are("exists meta[\"n\"]", "0 1 3 4");
  rows_are("exists meta[\"a\"][\"b\"]", "0 4");
  rows_are("meta[\"a\"][\"b\"] == 1", "0");
  rows_are("meta[\"a\"][\"b\"][1][\"c\"] == 2", "4");
  rows_are("meta[\"l\"][0] == 1", "0");
  rows_are("meta[\"l\"][0] == 'x'", "1");
  rows_are("meta[\"l\"][5] == 1", "");
  rows_are("json_contains(meta[\"l\"], 2)", "0 1");
  rows_are("json_contains(meta[\"l\"], 2.0)", "0 1");
  rows_are("json_contains(meta[\"l\"], 'x')", "1");
  rows_are("json_contains_all(meta[\"l\"], [1, 3])", "0");
  rows_are("json_contains_all(meta[\"l\"], [])", "0 1 3");
  rows_are("json_contains_any(meta[\"l\"], [3, 'x'])", "0 1");
  rows_are("json_contains_any(meta[\"l\"], [])", "");
  rows_are("not json_contains(meta[\"l\"], 2)", "3 4");
  rows_are("array_length(meta[\"l\"]) == 3", "0");
  rows_are("array_length(meta[\"l\"]) < 3", "1 3");
  rows_are("array_length(tags) == 0", "1");
  rows_are("array_length(tags) >= 1", "0 2 3 4");
  rows_are("array_length(nums) > 0", "0 3 4");
  rows_are("array_contains(tags, 'x')", "0 3");
  rows_are("array_contains_all(tags, ['x', 'y'])", "0");
  rows_are("array_contains_any(nums, [0, 5])", "3 4");
  rows_are("array_contains(nums, 1)", "0");
  rows_are("not array_contains(nums, 1)", "2 3 4"); /* row 1 null */
  rows_are("tags[0] == 'x'", "0 3");
  rows_are("tags[1] == 'y'", "0");
  rows_are("tags[0] != 'x'", "1 2 4");
  rows_are("nums[0] < 1", "4");
  rows_are("nums[1] in [0, 2]", "0 4");
  rows_are("extra == 7", "0");             /* dynamic fields */
  rows_are("extra == '7'", "1");
  rows_are("extra == true", "4");
  rows_are("exists extra", "0 1 4");
  rows_are("$meta[\"extra\"] > 6", "0");
  rows_are("word is null", "1 3 4");
  rows_are("meta[\"a\"]", "");             /* a JSON path as predicate: true only for true */
  rows_are("extra", "4");
}

/* Ranges and tails: unaligned begin/end leave other bits alone. */
static void test_ranges(void **state) {
  (void)state;
  vs_expr *e = NULL;
  assert_int_equal(vs_expr_compile(hand_schema, "age >= 30", NULL, &e), VS_OK);
  vs_bitset b;
  assert_int_equal(vs_bitset_init(&b, 5), VS_OK);
  vs_bitset_set(&b, 0);
  vs_expr_eval(e, hand.cols, 1, 4, &b); /* rows 1..3 */
  assert_true(vs_bitset_test(&b, 0));   /* untouched */
  assert_false(vs_bitset_test(&b, 1));
  assert_true(vs_bitset_test(&b, 2));
  assert_true(vs_bitset_test(&b, 3));
  assert_false(vs_bitset_test(&b, 4));  /* untouched (was 0) */
  vs_expr_eval(e, hand.cols, 3, 3, &b); /* empty range: nothing */
  vs_bitset_free(&b);
  vs_expr_free(e);
}

/* ------------------------------------------------------- random testing */

static uint64_t rng;

static uint64_t below(uint64_t n) { return tu_rand_below(&rng, n); }
static bool chance(int percent) { return below(100) < (uint64_t)percent; }

static const char *const words[] = {"", "a", "ab", "abc", "b", "ba", "\xc3\xa9", "a_b", "a%b",
                                    "x\"y", "back\\slash", "red", "reddish", "tab\there"};
#define NWORDS (sizeof words / sizeof words[0])

static json_t *rand_scalar_json(void) {
  switch (below(6)) {
    case 0: return json_integer((json_int_t)below(11) - 5);
    case 1: return json_real((double)((int64_t)below(21) - 10) / 2);
    case 2: return json_string(words[below(NWORDS)]);
    case 3: return json_boolean(chance(50));
    case 4: return json_null();
    default: return json_integer((json_int_t)below(3));
  }
}

static json_t *rand_list_json(void) {
  json_t *l = json_array();
  size_t n = below(5);
  for (size_t k = 0; k < n; k++) json_array_append_new(l, rand_scalar_json());
  return l;
}

static json_t *rand_meta(void) {
  json_t *o = json_object();
  if (chance(80)) json_object_set_new(o, "n", rand_scalar_json());
  if (chance(70)) json_object_set_new(o, "s", json_string(words[below(NWORDS)]));
  if (chance(60)) json_object_set_new(o, "l", chance(85) ? rand_list_json() : rand_scalar_json());
  if (chance(50)) {
    json_t *a = json_object();
    json_object_set_new(a, "b", chance(70) ? rand_scalar_json() : rand_list_json());
    json_object_set_new(o, "a", a);
  }
  if (chance(40)) json_object_set_new(o, "flag", json_boolean(chance(50)));
  return o;
}

static json_t *maybe_null(json_t *v, int percent) {
  if (chance(percent)) {
    json_decref(v);
    return json_null();
  }
  return v;
}

static json_t *rand_row(size_t id) {
  json_t *r = json_object();
  json_object_set_new(r, "id", json_integer((json_int_t)id));
  json_object_set_new(r, "vec", json_pack("[f,f]", 0.0, 0.0));
  json_object_set_new(r, "flag", maybe_null(json_boolean(chance(50)), 15));
  json_object_set_new(r, "i8", json_integer((json_int_t)below(11) - 5));
  json_object_set_new(r, "i16", maybe_null(json_integer((json_int_t)below(11) - 5), 15));
  json_object_set_new(r, "age", maybe_null(json_integer((json_int_t)below(11) - 5), 15));
  json_int_t bigs[] = {INT64_MAX, INT64_MIN, 9007199254740993LL, -3, 0, 4};
  json_object_set_new(r, "big", json_integer(chance(30) ? bigs[below(6)] : (json_int_t)below(11) - 5));
  json_object_set_new(r, "f", maybe_null(json_real((double)((int64_t)below(21) - 10) / 4 + (chance(20) ? 0.1 : 0)), 15));
  json_object_set_new(r, "d", json_real((double)((int64_t)below(21) - 10) / 2));
  json_object_set_new(r, "color", maybe_null(json_string(words[below(NWORDS)]), 15));
  json_object_set_new(r, "meta", maybe_null(rand_meta(), 10));
  json_t *tags = json_array(), *nums = json_array();
  for (size_t k = below(4); k > 0; k--) json_array_append_new(tags, json_string(words[below(NWORDS)]));
  for (size_t k = below(4); k > 0; k--) json_array_append_new(nums, json_integer((json_int_t)below(7) - 3));
  json_object_set_new(r, "tags", tags);
  json_object_set_new(r, "nums", maybe_null(nums, 15));
  if (chance(60)) json_object_set_new(r, "dn", rand_scalar_json());
  if (chance(60)) json_object_set_new(r, "ds", json_string(words[below(NWORDS)]));
  return r;
}

/* ----- expression generator: appends text to a buffer */

typedef struct gen {
  char *buf;
  size_t len, cap;
} gen;

static void put(gen *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (g->len + (size_t)n + 1 > g->cap) {
    g->cap = (g->len + (size_t)n + 1) * 2;
    g->buf = realloc(g->buf, g->cap);
  }
  va_start(ap, fmt);
  vsnprintf(g->buf + g->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  g->len += (size_t)n;
}

static const char *pick(const char *const *list, size_t n) { return list[below(n)]; }
#define PICK(list) pick(list, sizeof list / sizeof list[0])

static void gen_string_lit(gen *g) {
  const char *w = words[below(NWORDS)];
  put(g, "\"");
  for (const char *p = w; *p; p++) {
    if (*p == '"' || *p == '\\') put(g, "\\%c", *p);
    else if (*p == '\t') put(g, "\\t");
    else put(g, "%c", *p);
  }
  put(g, "\"");
}

static void gen_number_lit(gen *g) {
  switch (below(6)) {
    case 0: put(g, "%d", (int)below(11) - 5); break;
    case 1: put(g, "%.1f", (double)((int)below(21) - 10) / 2); break;
    case 2: put(g, "%s", PICK(((const char *const[]){"9223372036854775807", "-9223372036854775808",
                                                      "9007199254740993", "1e30", "-1e30", "0.1",
                                                      "0x10", "010", "0b11", "2.25"}))); break;
    case 3: put(g, "%.2f", (double)((int)below(41) - 20) / 4); break;
    default: put(g, "%d", (int)below(5) - 2); break;
  }
}

static const char *const num_paths[] = {"i8", "i16", "age", "big", "f", "d", "meta[\"n\"]",
                                        "meta[\"a\"][\"b\"]", "meta[\"l\"][0]", "meta[\"l\"][1]",
                                        "dn", "nums[0]", "nums[2]", "$meta[\"dn\"]"};
static const char *const str_paths[] = {"color", "meta[\"s\"]", "tags[0]", "tags[1]", "ds",
                                        "meta[\"n\"]", "meta[\"l\"][0]"};
static const char *const cmp_ops[] = {"==", "!=", "<", "<=", ">", ">="};

static void gen_num_value(gen *g, int depth) {
  int r = (int)below(10);
  if (depth > 0 && r < 2) {
    const char *ops[] = {"+", "-", "*", "/", "%", "**"};
    const char *op = PICK(ops);
    put(g, "(");
    gen_num_value(g, depth - 1);
    put(g, " %s ", op);
    if ((op[0] == '/' || op[0] == '%') && chance(70)) {
      put(g, "%d", (int)below(4) + 1);
    } else {
      gen_num_value(g, depth - 1);
    }
    put(g, ")");
  } else if (r == 2) {
    put(g, "array_length(%s)", PICK(((const char *const[]){"tags", "nums", "meta[\"l\"]"})));
  } else if (r == 3 && depth > 0) {
    put(g, "-");
    gen_num_value(g, depth - 1);
  } else {
    put(g, "%s", PICK(num_paths));
  }
}

static void gen_list(gen *g, bool strings, bool mixed) {
  size_t n = below(5);
  put(g, "[");
  for (size_t k = 0; k < n; k++) {
    if (k) put(g, ", ");
    if (strings || (mixed && chance(40))) gen_string_lit(g);
    else gen_number_lit(g);
  }
  put(g, chance(10) && n ? ",]" : "]");
}

static void gen_like_pattern(gen *g) {
  static const char *const parts[] = {"a", "b", "%", "_", "\\\\%", "\\\\_", "r", "e", "\xc3\xa9",
                                      "x\\\"", "ed", "ish"};
  size_t n = below(5);
  put(g, "\"");
  for (size_t k = 0; k < n; k++) put(g, "%s", PICK(parts));
  put(g, "\"");
}

static void gen_pred(gen *g, int depth);

static void gen_leaf(gen *g) {
  switch (below(16)) {
    case 0: case 1: case 2:
      put(g, "%s %s ", PICK(num_paths), PICK(cmp_ops));
      gen_number_lit(g);
      break;
    case 3:
      gen_number_lit(g);
      put(g, " %s %s", PICK(cmp_ops), PICK(num_paths));
      break;
    case 4:
      gen_num_value(g, 2);
      put(g, " %s ", PICK(cmp_ops));
      if (chance(60)) gen_number_lit(g);
      else gen_num_value(g, 1);
      break;
    case 5:
      put(g, "%s %s ", PICK(str_paths), PICK(cmp_ops));
      gen_string_lit(g);
      break;
    case 6: {
      bool lower = chance(50);
      gen_number_lit(g);
      put(g, " %s %s %s ", lower ? (chance(50) ? "<" : "<=") : (chance(50) ? ">" : ">="),
          PICK(num_paths), lower ? (chance(50) ? "<" : "<=") : (chance(50) ? ">" : ">="));
      gen_number_lit(g);
      break;
    }
    case 7: {
      bool s = chance(40);
      put(g, "%s %s ", s ? PICK(str_paths) : PICK(num_paths), chance(50) ? "in" : "not in");
      gen_list(g, s, false);
      break;
    }
    case 8:
      put(g, "%s like ", PICK(str_paths));
      gen_like_pattern(g);
      break;
    case 9:
      put(g, "%s %s", PICK(((const char *const[]){"age", "flag", "color", "meta", "nums", "f",
                                                   "meta[\"n\"]", "tags[1]", "dn", "meta[\"a\"][\"b\"]"})),
          chance(50) ? "is null" : "is not null");
      break;
    case 10:
      put(g, "exists %s", PICK(((const char *const[]){"meta[\"n\"]", "meta[\"a\"][\"b\"]", "dn",
                                                       "$meta[\"ds\"]", "meta[\"l\"][2]"})));
      break;
    case 11: {
      const char *fns[] = {"json_contains", "json_contains_all", "json_contains_any"};
      const char *fn = PICK(fns);
      put(g, "%s(%s, ", fn, PICK(((const char *const[]){"meta[\"l\"]", "meta[\"a\"][\"b\"]",
                                                         "meta[\"n\"]", "dn"})));
      if (strcmp(fn, "json_contains") == 0) {
        if (chance(50)) gen_number_lit(g);
        else gen_string_lit(g);
      } else {
        gen_list(g, false, true);
      }
      put(g, ")");
      break;
    }
    case 12: {
      bool tags = chance(50);
      const char *fns[] = {"array_contains", "array_contains_all", "array_contains_any"};
      const char *fn = PICK(fns);
      put(g, "%s(%s, ", fn, tags ? "tags" : "nums");
      if (strcmp(fn, "array_contains") == 0) {
        if (tags) gen_string_lit(g);
        else gen_number_lit(g);
      } else {
        gen_list(g, tags, false);
      }
      put(g, ")");
      break;
    }
    case 13:
      put(g, "%s", PICK(((const char *const[]){"flag", "flag == true", "flag != false",
                                                "meta[\"flag\"]", "meta[\"n\"] == true", "true",
                                                "false", "dn"})));
      break;
    case 14:
      put(g, "%s %s %s", PICK(num_paths), PICK(cmp_ops), PICK(num_paths));
      break;
    default:
      put(g, "%s %s %s", PICK(str_paths), PICK(cmp_ops), PICK(str_paths));
      break;
  }
}

static void gen_pred(gen *g, int depth) {
  int r = (int)below(10);
  if (depth <= 0 || r < 4) {
    gen_leaf(g);
    return;
  }
  if (r < 6) {
    put(g, "%s(", chance(50) ? "not " : "!");
    gen_pred(g, depth - 1);
    put(g, ")");
    return;
  }
  size_t n = 2 + below(3);
  const char *op = PICK(((const char *const[]){"and", "or", "&&", "||", "AND", "OR"}));
  put(g, "(");
  for (size_t k = 0; k < n; k++) {
    if (k) put(g, " %s ", op);
    gen_pred(g, depth - 1);
  }
  put(g, ")");
}

static void check_agreement(const vs_schema *s, const segment *seg, const char *text,
                            uint64_t seed) {
  vs_expr *e = NULL;
  if (vs_expr_compile(s, text, NULL, &e) != VS_OK)
    fail_msg("seed %llu: generated '%s' did not compile: %s", (unsigned long long)seed, text,
             vs_errmsg(NULL));
  vs_bitset b;
  assert_int_equal(vs_bitset_init(&b, seg->n), VS_OK);
  size_t begin = chance(50) ? 0 : below(seg->n);
  size_t end = chance(50) ? seg->n : begin + below(seg->n - begin + 1);
  vs_expr_eval(e, seg->cols, begin, end, &b);
  for (size_t r = begin; r < end; r++) {
    bool ref = vs_expr_eval_row_reference(e, seg->cols, r);
    if (ref != vs_bitset_test(&b, r)) {
      char *tree = vs_expr_to_string(e);
      fail_msg("seed %llu: '%s' (%s) row %zu: program %d, reference %d",
               (unsigned long long)seed, text, tree, r, vs_bitset_test(&b, r), ref);
    }
  }
  vs_bitset_free(&b);
  vs_expr_free(e);
}

static void test_random_agreement(void **state) {
  (void)state;
  uint64_t seed = tu_seed("test_expr_eval random");
  rng = seed;
  vs_schema *s = make_schema();
  size_t rounds = tu_env_u64("VS_EXPR_ROUNDS", 4);
  size_t exprs = 0;
  for (size_t round = 0; round < rounds; round++) {
    size_t n = 64 + below(700);
    json_t *rows = json_array();
    for (size_t k = 0; k < n; k++) json_array_append_new(rows, rand_row(k));
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    segment seg;
    segment_load(&seg, s, text);
    free(text);
    gen g = {NULL, 0, 0};
    for (int k = 0; k < 1000; k++) {
      g.len = 0;
      put(&g, "%s", "");
      gen_pred(&g, 4);
      check_agreement(s, &seg, g.buf, seed);
      exprs++;
    }
    free(g.buf);
    segment_free(&seg);
  }
  fprintf(stderr, "checked %zu random expressions\n", exprs);
  vs_schema_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numeric_columns),
      cmocka_unit_test(test_logic_and_nulls),
      cmocka_unit_test(test_arith),
      cmocka_unit_test(test_strings_and_like),
      cmocka_unit_test(test_json_and_arrays),
      cmocka_unit_test(test_ranges),
      cmocka_unit_test(test_random_agreement),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
