/*
 * test_expr_parse.c -- the filter language front end: every operator and
 * precedence rule (checked through the fully parenthesised canonical text),
 * every literal form, templates, name resolution, and every error message
 * with its position and caret line.
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
#include "expr/expr.h"

static vs_schema *schema_dyn;    /* dynamic */
static vs_schema *schema_static; /* not dynamic */

static void add(vs_schema *s, const char *name, vs_type type, int nullable, vs_type elem) {
  vs_field_def d;
  memset(&d, 0, sizeof d);
  d.name = name;
  d.type = type;
  d.nullable = nullable;
  d.element_type = elem;
  d.is_primary = strcmp(name, "id") == 0;
  if (type == VS_TYPE_FLOAT_VECTOR) d.dim = 2;
  if (type == VS_TYPE_VARCHAR || elem == VS_TYPE_VARCHAR) d.max_length = 64;
  if (type == VS_TYPE_ARRAY) d.max_capacity = 16;
  if (vs_schema_add_field(s, &d) != VS_OK) fail_msg("%s", vs_errmsg(NULL));
}

static vs_schema *make_schema(int dynamic) {
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_new(&s), VS_OK);
  add(s, "id", VS_TYPE_INT64, 0, 0);
  add(s, "vec", VS_TYPE_FLOAT_VECTOR, 0, 0);
  add(s, "flag", VS_TYPE_BOOL, 1, 0);
  add(s, "i8", VS_TYPE_INT8, 0, 0);
  add(s, "age", VS_TYPE_INT32, 1, 0);
  add(s, "f", VS_TYPE_FLOAT, 0, 0);
  add(s, "d", VS_TYPE_DOUBLE, 0, 0);
  add(s, "color", VS_TYPE_VARCHAR, 1, 0);
  add(s, "meta", VS_TYPE_JSON, 1, 0);
  add(s, "tags", VS_TYPE_ARRAY, 0, VS_TYPE_VARCHAR);
  add(s, "nums", VS_TYPE_ARRAY, 1, VS_TYPE_INT64);
  assert_int_equal(vs_schema_enable_dynamic(s, dynamic), VS_OK);
  assert_int_equal(vs_schema_validate(s), VS_OK);
  return s;
}

static int setup(void **state) {
  (void)state;
  schema_dyn = make_schema(1);
  schema_static = make_schema(0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  vs_schema_free(schema_dyn);
  vs_schema_free(schema_static);
  return 0;
}

static void tree_p(const char *text, const char *params, const char *want, const vs_schema *s) {
  vs_expr *e = NULL;
  vs_status st = vs_expr_compile(s, text, params, &e);
  if (st != VS_OK) fail_msg("compile '%s': %s", text, vs_errmsg(NULL));
  char *got = vs_expr_to_string(e);
  if (strcmp(got, want) != 0) fail_msg("'%s'\n  got  %s\n  want %s", text, got, want);
  /* The canonical text parses back to itself. */
  vs_expr *again = NULL;
  if (vs_expr_compile(s, got, params, &again) != VS_OK)
    fail_msg("reparse '%s': %s", got, vs_errmsg(NULL));
  char *got2 = vs_expr_to_string(again);
  if (strcmp(got2, got) != 0) fail_msg("reparse '%s' gave '%s'", got, got2);
  free(got);
  free(got2);
  vs_expr_free(e);
  vs_expr_free(again);
}

static void tree(const char *text, const char *want) { tree_p(text, NULL, want, schema_dyn); }

/* The error message names `substr` and position `pos`, and its caret line
 * puts '^' under that byte of the echoed text. */
static void error_p(const char *text, const char *params, const vs_schema *s, const char *substr,
                    size_t pos) {
  vs_expr *e = NULL;
  vs_status st = vs_expr_compile(s, text, params, &e);
  if (st == VS_OK) fail_msg("'%s' compiled; wanted an error with '%s'", text, substr);
  assert_null(e);
  assert_int_equal(st, VS_ERR_INVALID);
  const char *msg = vs_errmsg(NULL);
  if (!strstr(msg, substr)) fail_msg("'%s': message '%s' lacks '%s'", text, msg, substr);
  char at[64];
  snprintf(at, sizeof at, "at position %zu\n", pos);
  if (!strstr(msg, at)) fail_msg("'%s': message '%s' lacks '%s'", text, msg, at);
  const char *line1 = strchr(msg, '\n');
  const char *line2 = line1 ? strchr(line1 + 1, '\n') : NULL;
  assert_non_null(line2);
  const char *caret = strchr(line2, '^');
  assert_non_null(caret);
  size_t col = (size_t)(caret - line2 - 1);
  if (strlen(text) < 60 && col != 2 + pos)
    fail_msg("'%s': caret at column %zu, wanted %zu:\n%s", text, col, 2 + pos, msg);
  assert_int_equal(strncmp(line1 + 1, "  ", 2), 0);
}

static void error_at(const char *text, const char *substr, size_t pos) {
  error_p(text, NULL, schema_dyn, substr, pos);
}

/* ---------------------------------------------------------------- tests */

static void test_comparisons(void **state) {
  (void)state;
  tree("age > 30", "(age > 30)");
  tree("age>=30", "(age >= 30)");
  tree("age < 30", "(age < 30)");
  tree("age <= 30", "(age <= 30)");
  tree("age == 30", "(age == 30)");
  tree("age != 30", "(age != 30)");
  tree("30 < age", "(30 < age)");
  tree("age > 1.5", "(age > 1.5)");
  tree("color == \"red\"", "(color == \"red\")");
  tree("color == 'red'", "(color == \"red\")");
  tree("flag == true", "(flag == true)");
  tree("flag", "flag");
  tree("age == i8", "(age == i8)");
  tree("f > d", "(f > d)");
}

static void test_logic_and_precedence(void **state) {
  (void)state;
  tree("age > 1 and age < 9", "((age > 1) and (age < 9))");
  tree("age > 1 && age < 9", "((age > 1) and (age < 9))");
  tree("age > 1 AND age < 9", "((age > 1) and (age < 9))");
  tree("age > 1 or age < 9", "((age > 1) or (age < 9))");
  tree("age > 1 || age < 9 OR flag", "((age > 1) or (age < 9) or flag)");
  /* and binds tighter than or */
  tree("flag or age > 1 and age < 9", "(flag or ((age > 1) and (age < 9)))");
  tree("flag and age > 1 or age < 9", "((flag and (age > 1)) or (age < 9))");
  tree("(flag or age > 1) and age < 9", "((flag or (age > 1)) and (age < 9))");
  tree("not flag", "(not flag)");
  tree("NOT flag", "(not flag)");
  tree("!flag", "(not flag)");
  tree("not (age > 1)", "(not (age > 1))");
  tree("not not flag", "(not (not flag))");
  tree("not flag and flag", "((not flag) and flag)");
  tree("!(age > 1) || !flag", "((not (age > 1)) or (not flag))");
}

static void test_arithmetic(void **state) {
  (void)state;
  tree("age + 1 > 5", "((age + 1) > 5)");
  tree("age - 1 > 5", "((age - 1) > 5)");
  tree("age * 2 == 10", "((age * 2) == 10)");
  tree("age / 2 == 10", "((age / 2) == 10)");
  tree("age % 2 == 0", "((age % 2) == 0)");
  tree("age ** 2 < 100", "((age ** 2) < 100)");
  tree("age + 2 * 3 > 1", "((age + 6) > 1)");
  tree("age + i8 * 3 > 1", "((age + (i8 * 3)) > 1)");
  tree("(age + i8) * 3 > 1", "(((age + i8) * 3) > 1)");
  tree("age - i8 - 1 > 0", "(((age - i8) - 1) > 0)");
  tree("-age > 5", "((-age) > 5)");
  tree("age > -5", "(age > -5)");
  tree("age > +5", "(age > 5)");
  tree("age > - -5", "(age > 5)");
  tree("-2 ** 2 < age", "(-4.0 < age)");
  tree("age ** 2 ** 2 > 1", "(((age ** 2) ** 2) > 1)");
  tree("age ** -1 < 1", "((age ** -1) < 1)");
  tree("age ** -i8 < 1", "((age ** (-i8)) < 1)");
  tree("age * 2.5 > 1", "((age * 2.5) > 1)");
  tree("7 / 2 == age", "(3 == age)");
  tree("-7 % 3 == age", "(-1 == age)");
  tree("age > -9223372036854775808", "(age > -9223372036854775808)");
  tree("meta[\"n\"] * 2 > 3", "((meta[\"n\"] * 2) > 3)");
}

static void test_range_in_like_null(void **state) {
  (void)state;
  tree("1 < age <= 9", "(1 < age <= 9)");
  tree("9 >= age > 1", "(9 >= age > 1)");
  tree("1 <= meta[\"x\"] < 2.5", "(1 <= meta[\"x\"] < 2.5)");
  tree("1 < age < 9 and flag", "((1 < age < 9) and flag)");
  tree("age in [1, 2, 3]", "(age in [1, 2, 3])");
  tree("age in [1, 2, 3,]", "(age in [1, 2, 3])");
  tree("age IN []", "(age in [])");
  tree("age not in [1, 2]", "(age not in [1, 2])");
  tree("age NOT IN [1, 2]", "(age not in [1, 2])");
  tree("age + 1 in [1, 2]", "((age + 1) in [1, 2])");
  tree("color in ['a', \"b\"]", "(color in [\"a\", \"b\"])");
  tree("color like \"ab%\"", "(color like \"ab%\")");
  tree("color LIKE '%a_b%'", "(color like \"%a_b%\")");
  tree("not color like 'a%'", "(not (color like \"a%\"))");
  tree("meta[\"s\"] like \"x\\\\%\"", "(meta[\"s\"] like \"x\\\\%\")");
  tree("age is null", "(age is null)");
  tree("age IS NOT NULL", "(age is not null)");
  tree("age is not null and flag", "((age is not null) and flag)");
  tree("meta[\"a\"] is null", "(meta[\"a\"] is null)");
  tree("tags is null", "(tags is null)");
}

static void test_functions_and_paths(void **state) {
  (void)state;
  tree("json_contains(meta[\"l\"], 1)", "json_contains(meta[\"l\"], 1)");
  tree("JSON_CONTAINS(meta[\"l\"], 'x')", "JSON_CONTAINS(meta[\"l\"], \"x\")");
  tree("json_contains_all(meta[\"l\"], [1, 2])", "json_contains_all(meta[\"l\"], [1, 2])");
  tree("json_contains_any(meta[\"l\"], [1, 'a'])", "json_contains_any(meta[\"l\"], [1, \"a\"])");
  tree("array_contains(tags, 'x')", "array_contains(tags, \"x\")");
  tree("array_contains_all(nums, [1, 2])", "array_contains_all(nums, [1, 2])");
  tree("array_contains_any(nums, [1])", "array_contains_any(nums, [1])");
  tree("array_length(tags) > 2", "(array_length(tags) > 2)");
  tree("ARRAY_LENGTH(meta[\"l\"]) == 0", "(ARRAY_LENGTH(meta[\"l\"]) == 0)");
  tree("exists meta[\"k\"]", "(exists meta[\"k\"])");
  tree("EXISTS $meta[\"k\"]", "(exists $meta[\"k\"])");
  tree("not exists meta[\"k\"]", "(not (exists meta[\"k\"]))");
  tree("tags[0] == 'x'", "(tags[0] == \"x\")");
  tree("nums[2] > 1", "(nums[2] > 1)");
  tree("meta[\"a\"][\"b\"][0] == 1", "(meta[\"a\"][\"b\"][0] == 1)");
  tree("meta[0] == 1", "(meta[0] == 1)");
  tree("$meta[\"k\"] == 1", "($meta[\"k\"] == 1)");
  /* dynamic keys as bare names */
  tree("colour == 'red'", "($meta[\"colour\"] == \"red\")");
  tree("extra[\"x\"][1] > 2", "($meta[\"extra\"][\"x\"][1] > 2)");
  tree("exists extra", "(exists $meta[\"extra\"])");
  tree("meta[\"flag\"]", "meta[\"flag\"]");
  tree("not meta[\"flag\"] and flag", "((not meta[\"flag\"]) and flag)");
}

static void test_literals(void **state) {
  (void)state;
  tree("age == 010", "(age == 8)");
  tree("age == 0x1F", "(age == 31)");
  tree("age == 0X1f", "(age == 31)");
  tree("age == 0b101", "(age == 5)");
  tree("age == 0", "(age == 0)");
  tree("age == 00", "(age == 0)");
  tree("age == 9223372036854775807", "(age == 9223372036854775807)");
  tree("d == 1.5", "(d == 1.5)");
  tree("d == .5", "(d == 0.5)");
  tree("d == 1.", "(d == 1.0)");
  tree("d == 1e-3", "(d == 0.001)");
  tree("d == 1E3", "(d == 1000.0)");
  tree("d == 2.5e+2", "(d == 250.0)");
  tree("d == 0x1.8p1", "(d == 3.0)");
  tree("flag == True", "(flag == true)");
  tree("flag == TRUE", "(flag == true)");
  tree("flag == False", "(flag == false)");
  tree("flag == FALSE", "(flag == false)");
  tree("flag == false", "(flag == false)");
  tree("true", "true");
  tree("false", "false");
  tree("not true", "false");
  tree("color == \"a\\\"b\"", "(color == \"a\\\"b\")");
  tree("color == 'a\\'b'", "(color == \"a'b\")");
  tree("color == 'a\"b'", "(color == \"a\\\"b\")");
  tree("color == \"a\\\\b\"", "(color == \"a\\\\b\")");
  tree("color == \"a\\nb\\tc\"", "(color == \"a\\nb\\tc\")");
  tree("color == \"\\x41\\x62\"", "(color == \"Ab\")");
  tree("color == \"\\u00e9\"", "(color == \"\xc3\xa9\")");
  tree("color == \"\\ud83d\\ude00\"", "(color == \"\xf0\x9f\x98\x80\")");
  tree("color == \"\\101\"", "(color == \"A\")");
  tree("color == \"\\r\"", "(color == \"\\x0d\")");
  tree("color == ''", "(color == \"\")");
  tree("  age   >\t1\n", "(age > 1)");
}

static void test_templates(void **state) {
  (void)state;
  const char *p = "{\"a\": 5, \"s\": \"red\", \"l\": [1, 2, 3], \"f\": 1.5, \"b\": true,"
                  " \"n\": 2.0, \"ls\": [\"x\", \"y\"]}";
  tree_p("age > {a}", p, "(age > 5)", schema_dyn);
  tree_p("color == {s}", p, "(color == \"red\")", schema_dyn);
  tree_p("age in {l}", p, "(age in [1, 2, 3])", schema_dyn);
  tree_p("d < {f}", p, "(d < 1.5)", schema_dyn);
  tree_p("flag == {b}", p, "(flag == true)", schema_dyn);
  tree_p("age == {n}", p, "(age == 2)", schema_dyn);
  tree_p("json_contains_any(meta[\"x\"], {ls})", p, "json_contains_any(meta[\"x\"], [\"x\", \"y\"])",
         schema_dyn);
  tree_p("color like {s}", p, "(color like \"red\")", schema_dyn);
  tree_p("{a} < age < 9", p, "(5 < age < 9)", schema_dyn);
}

static void test_empty_and_true(void **state) {
  (void)state;
  const char *blanks[] = {"", "   ", "\n\t ", NULL};
  for (int k = 0; k < 4; k++) {
    vs_expr *e = NULL;
    assert_int_equal(vs_expr_compile(schema_dyn, blanks[k], NULL, &e), VS_OK);
    assert_true(vs_expr_is_true(e));
    char *s = vs_expr_to_string(e);
    assert_string_equal(s, "true");
    free(s);
    vs_expr_free(e);
  }
  vs_expr *e = NULL;
  assert_int_equal(vs_expr_compile(schema_dyn, "true", NULL, &e), VS_OK);
  assert_true(vs_expr_is_true(e));
  vs_expr_free(e);
  assert_int_equal(vs_expr_compile(schema_dyn, "age > 1", NULL, &e), VS_OK);
  assert_false(vs_expr_is_true(e));
  vs_expr_free(e);
}

static void test_lexical_errors(void **state) {
  (void)state;
  error_at("color == \"abc", "unterminated string", 9);
  error_at("color == 'abc\\'", "unterminated string", 9);
  error_at("color == \"a\\qb\"", "bad escape '\\q'", 11);
  error_at("color == \"\\x4\"", "bad \\x escape", 10);
  error_at("color == \"\\u12\"", "bad \\u escape", 10);
  error_at("color == \"\\udc00\"", "lone low surrogate", 10);
  error_at("color == \"\\ud800x\"", "unpaired surrogate", 10);
  error_at("color == \"\\400\"", "bad octal escape", 10);
  error_at("age == 09", "bad digit '9' in a base-8 integer", 8);
  error_at("age == 0x", "malformed number", 7);
  error_at("age == 0b102", "bad digit '2' in a base-2 integer", 11);
  error_at("age == 12ab", "bad digit 'a'", 9);
  error_at("age == 99999999999999999999", "integer literal out of range", 7);
  error_at("age == 9223372036854775808", "integer literal out of range", 7);
  error_at("d == 1e999", "float literal out of range", 5);
  error_at("age = 1", "unexpected '=' (did you mean '=='?)", 4);
  error_at("age == 1 # x", "unexpected character '#'", 9);
  error_at("age == \x01", "unexpected byte 0x01", 7);
  error_at("age > 1 And age < 2", "unexpected a name", 8);
}

static void test_syntax_errors(void **state) {
  (void)state;
  error_at("age > ", "expected a value after '>'", 6);
  error_at("age >", "expected a value after '>'", 5);
  error_at("age > 1 and", "expected a value after 'and'", 11);
  error_at("age > 1 and )", "expected a value after 'and'", 12);
  error_at("not", "expected a value after 'not'", 3);
  error_at("> 1", "expected a value, found '>'", 0);
  error_at("age > 1 age", "unexpected a name after the end of the expression", 8);
  error_at("age > 1 1", "unexpected an integer after the end", 8);
  error_at("(age > 1", "expected ')' to close the '(' at position 0", 8);
  error_at("((age > 1)", "expected ')' to close the '(' at position 0", 10);
  error_at("age > 1)", "unbalanced ')'", 7);
  error_at(")", "unbalanced ')'", 0);
  error_at("age in [1, 2", "expected ',' or ']' in a list", 12);
  error_at("age in [1 2]", "expected ',' or ']' in a list", 10);
  error_at("meta[\"a\" == 1", "expected ']' to close the path step", 9);
  error_at("meta[age] == 1", "expected a string key or an integer index", 5);
  error_at("age is 1", "expected 'null' after 'is'", 7);
  error_at("age is not 1", "expected 'null' after 'is not'", 11);
  error_at("color like 5", "'like' needs a string pattern", 11);
  error_at("color like", "'like' needs a string pattern", 10);
  error_at("json_contains(meta[\"a\"] 1)", "expected ',' or ')' in the arguments", 24);
  error_at("age in", "expected a value after 'in'", 6);
  error_at("age not in", "expected a value after 'not in'", 10);
  error_at("age > {}", "expected a template variable name", 7);
  error_at("age ** ", "expected a value after '**'", 7);
  error_at("1 < age > 5", "a range must use the same direction on both sides", 8);
  error_at("9 >= age < 1", "a range must use the same direction on both sides", 9);
  error_at("1 < age <", "expected a value after '<'", 9);
}

static void test_semantic_errors(void **state) {
  (void)state;
  error_p("nope > 1", NULL, schema_static, "field 'nope' not found", 0);
  error_p("$meta[\"a\"] > 1", NULL, schema_static, "field '$meta' not found", 0);
  error_p("age > 1 and zzz < 2", NULL, schema_static, "field 'zzz' not found", 12);
  error_at("vec > 1", "field 'vec' of type FloatVector cannot be used", 0);
  error_at("age[0] > 1", "is Int32, not JSON or Array, and cannot be indexed", 0);
  error_at("tags[\"a\"] == 'x'", "Array field 'tags' takes one integer index", 0);
  error_at("tags[0][1] == 'x'", "Array field 'tags' takes one integer index", 0);
  error_at("color > 5", "cannot compare VarChar field 'color' with a number", 6);
  error_at("age == 'x'", "cannot compare Int32 field 'age' with a string", 4);
  error_at("flag > true", "booleans can only be compared with == and !=", 5);
  error_at("flag == 1", "cannot compare Bool field 'flag' with a number", 5);
  error_at("not age > 1", "'not' needs a boolean operand, got Int32 field 'age'", 0);
  error_at("not colour > 1", "cannot compare a boolean expression with a number", 11);
  error_at("flag == age < 3", "cannot compare Bool field 'flag' with a boolean expression", 5);
  error_at("age > 1 > 2", "cannot compare a boolean expression with a number", 8);
  error_at("age", "the filter must be a boolean expression, got Int32 field 'age'", 0);
  error_at("1 + 2", "the filter must be a boolean expression, got a number", 2);
  error_at("[1, 2]", "the filter must be a boolean expression, got a list", 0);
  error_at("age in age", "'in' needs a constant list on the right", 7);
  error_at("age in [age]", "list elements must be constants", 8);
  error_at("age in [1, 'x']", "cannot compare Int32 field 'age' with a string", 11);
  error_at("age in 5", "'in' needs a constant list on the right", 7);
  error_at("age like 'x%'", "'like' needs a string operand, got Int32 field 'age'", 4);
  error_at("color + 1 > 2", "arithmetic needs numbers, got VarChar field 'color'", 0);
  error_at("age / 0 > 1", "division by zero", 4);
  error_at("age % 0 > 1", "division by zero", 4);
  error_at("age & 1 == 1", "operator '&' is not supported", 4);
  error_at("age | 1 > 0", "operator '|' is not supported", 4);
  error_at("age << 1 > 0", "operator '<<' is not supported", 4);
  error_at("~age > 0", "operator '~' is not supported", 0);
  error_at("-color > 0", "'-' needs a number", 0);
  error_at("foo(age)", "unknown function 'foo'", 0);
  error_at("Json_Contains(meta, 1)", "unknown function 'Json_Contains'", 0);
  error_at("json_contains(meta[\"a\"])", "json_contains takes 2 arguments, got 1", 0);
  error_at("array_length(tags, 1) > 0", "array_length takes 1 argument, got 2", 0);
  error_at("json_contains(age, 1)", "needs a JSON path or an Array field", 14);
  error_at("json_contains_all(meta[\"a\"], 1)", "needs a constant list as its second argument", 29);
  error_at("json_contains(meta[\"a\"], age)", "needs a constant as its second argument", 25);
  error_at("array_contains(nums, 'x')", "cannot compare elements of", 21);
  error_at("array_contains_any(tags, [1])", "cannot compare Array field 'tags' with a number", 26);
  error_at("exists age", "'exists' needs a JSON path", 7);
  error_at("exists meta", "'exists' needs a JSON path", 7);
  error_at("(age + 1) is null", "'is null' needs a field or a JSON path", 5);
  error_at("tags == 'x'", "a whole Array field cannot be used here", 0);
  error_at("age + [1] > 0", "a list is only allowed after 'in'", 6);
  error_at("color like 'abc\\\\'", "'like' pattern ends with a lone backslash", 6);
  error_at("flag and age", "'and' needs boolean operands, got Int32 field 'age'", 9);
  error_at("age or flag", "'or' needs boolean operands, got Int32 field 'age'", 0);
  error_at("age + 1e308 * 10 > 0", "constant arithmetic overflows", 12);
}

static void test_template_errors(void **state) {
  (void)state;
  error_p("age > {x}", "{\"a\": 1}", schema_dyn, "template variable 'x' is not in exprParams", 7);
  error_p("age > {x}", NULL, schema_dyn, "template variable 'x' is not in exprParams", 7);
  error_p("age > {a}", "{\"a\": {\"b\": 1}}", schema_dyn, "template value has an unsupported type", 6);
  error_p("age in {a}", "{\"a\": [[1]]}", schema_dyn, "template value has an unsupported type", 7);
  error_p("age > {a}", "{\"a\": null}", schema_dyn, "template value has an unsupported type", 6);
  error_p("color == {a}", "{\"a\": 1}", schema_dyn, "cannot compare VarChar field", 6);
  error_p("age in {a}", "{\"a\": 1}", schema_dyn, "'in' needs a constant list on the right", 7);
  vs_expr *e = NULL;
  assert_int_equal(vs_expr_compile(schema_dyn, "age > 1", "[1]", &e), VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(NULL), "exprParams must be a JSON object"));
  assert_int_equal(vs_expr_compile(schema_dyn, "age > 1", "{bad", &e), VS_ERR_INVALID);
}

static void test_depth_limits(void **state) {
  (void)state;
  char *text = malloc(4096);
  /* 200 parentheses: fine */
  size_t n = 0;
  for (int k = 0; k < 200; k++) text[n++] = '(';
  n += (size_t)sprintf(text + n, "age > 1");
  for (int k = 0; k < 200; k++) text[n++] = ')';
  text[n] = 0;
  vs_expr *e = NULL;
  assert_int_equal(vs_expr_compile(schema_dyn, text, NULL, &e), VS_OK);
  vs_expr_free(e);
  /* 300 parentheses: refused at the 257th */
  n = 0;
  for (int k = 0; k < 300; k++) text[n++] = '(';
  n += (size_t)sprintf(text + n, "age > 1");
  for (int k = 0; k < 300; k++) text[n++] = ')';
  text[n] = 0;
  error_at(text, "expression is nested too deeply (limit 256)", 256);
  /* 300 nots */
  n = 0;
  for (int k = 0; k < 300; k++) n += (size_t)sprintf(text + n, "!");
  sprintf(text + n, "flag");
  error_at(text, "nested too deeply", 255);
  /* a long chain of or stays shallow */
  free(text);
  size_t cap = 300000;
  text = malloc(cap);
  n = 0;
  for (int k = 0; k < 10000; k++) n += (size_t)sprintf(text + n, "%sage == %d", k ? " or " : "", k);
  assert_int_equal(vs_expr_compile(schema_dyn, text, NULL, &e), VS_OK);
  vs_expr_free(e);
  /* a long arithmetic chain is deep: refused */
  n = (size_t)sprintf(text, "age");
  for (int k = 0; k < 400; k++) n += (size_t)sprintf(text + n, " + age");
  sprintf(text + n, " > 1");
  vs_status st = vs_expr_compile(schema_dyn, text, NULL, &e);
  assert_int_equal(st, VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(NULL), "nested too deeply"));
  /* a long text: the caret window shows "..." and stays short */
  n = 0;
  for (int k = 0; k < 1000; k++) n += (size_t)sprintf(text + n, "age > %d and ", k);
  sprintf(text + n, "age >");
  st = vs_expr_compile(schema_dyn, text, NULL, &e);
  assert_int_equal(st, VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(NULL), "\n  ...")); 
  assert_true(strlen(vs_errmsg(NULL)) < 400);
  /* too long a text */
  free(text);
  text = malloc((1u << 20) + 16);
  memset(text, ' ', (1u << 20) + 8);
  text[(1u << 20) + 8] = 0;
  assert_int_equal(vs_expr_compile(schema_dyn, text, NULL, &e), VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(NULL), "longer than the limit"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_comparisons),
      cmocka_unit_test(test_logic_and_precedence),
      cmocka_unit_test(test_arithmetic),
      cmocka_unit_test(test_range_in_like_null),
      cmocka_unit_test(test_functions_and_paths),
      cmocka_unit_test(test_literals),
      cmocka_unit_test(test_templates),
      cmocka_unit_test(test_empty_and_true),
      cmocka_unit_test(test_lexical_errors),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_semantic_errors),
      cmocka_unit_test(test_template_errors),
      cmocka_unit_test(test_depth_limits),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
