/*
 * test_alter_field.c -- vs_alter_field: a VarChar's max_length and an
 * Array's max_capacity can grow (and the new limit is what inserts are
 * checked against, also after a reopen); they cannot shrink, and the wrong
 * kind of field or an unknown field is refused without change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"
#include "vectorstore.h"

static vs_status insert_title(vs_db *db, int64_t id, const char *title) {
  vs_schema *schema = NULL;
  vs_rows *rows = NULL;
  char json[256];
  snprintf(json, sizeof json, "[{\"id\":%lld,\"v\":[1,2],\"title\":\"%s\",\"tags\":[1,2,3]}]", (long long)id,
           title);
  assert_int_equal(vs_get_schema(db, "c", &schema), VS_OK);
  vs_status st = vs_rows_from_json(schema, json, &rows);
  if (st == VS_OK) st = vs_insert(db, "c", NULL, rows, NULL);
  vs_rows_free(rows);
  vs_schema_free(schema);
  return st;
}

static vs_db *open_db(const char *dir) {
  vs_db *db = NULL;
  assert_int_equal(vs_open(dir, NULL, &db), VS_OK);
  return db;
}

static void test_alter_field(void **state) {
  (void)state;
  char *dir = tu_make_tmpdir("alter");
  vs_db *db = open_db(dir);
  vs_schema *s = NULL;
  assert_int_equal(vs_schema_new(&s), VS_OK);
  assert_int_equal(vs_schema_add_field(s, &(vs_field_def){.name = "id", .type = VS_TYPE_INT64, .is_primary = 1}), VS_OK);
  assert_int_equal(vs_schema_add_field(s, &(vs_field_def){.name = "v", .type = VS_TYPE_FLOAT_VECTOR, .dim = 2}), VS_OK);
  assert_int_equal(vs_schema_add_field(s, &(vs_field_def){.name = "title", .type = VS_TYPE_VARCHAR, .max_length = 4}),
                   VS_OK);
  assert_int_equal(vs_schema_add_field(s, &(vs_field_def){.name = "tags", .type = VS_TYPE_ARRAY,
                                                          .element_type = VS_TYPE_INT64, .max_capacity = 3}),
                   VS_OK);
  assert_int_equal(vs_create_collection(db, "c", s, NULL), VS_OK);
  vs_schema_free(s);

  assert_int_equal(insert_title(db, 1, "abcd"), VS_OK);
  assert_int_equal(insert_title(db, 2, "abcdefgh"), VS_ERR_DATA);
  assert_int_equal(vs_alter_field(db, "c", "title", 8, 0), VS_OK);
  assert_int_equal(insert_title(db, 2, "abcdefgh"), VS_OK);
  assert_int_equal(insert_title(db, 3, "abcdefghi"), VS_ERR_DATA);

  /* Refusals change nothing. */
  assert_int_equal(vs_alter_field(db, "c", "title", 5, 0), VS_ERR_INVALID);
  assert_non_null(strstr(vs_errmsg(db), "only grow"));
  assert_int_equal(vs_alter_field(db, "c", "title", 0, 9), VS_ERR_INVALID);
  assert_int_equal(vs_alter_field(db, "c", "title", 70000, 0), VS_ERR_INVALID);
  assert_int_equal(vs_alter_field(db, "c", "nope", 9, 0), VS_ERR_FIELD_NOT_FOUND);
  assert_int_equal(vs_alter_field(db, "nope", "title", 9, 0), VS_ERR_NOT_FOUND);
  assert_int_equal(vs_alter_field(db, "c", "tags", 0, 16), VS_OK);
  assert_int_equal(vs_close(db), VS_OK);

  /* The new limits persist. */
  db = open_db(dir);
  assert_int_equal(insert_title(db, 4, "12345678"), VS_OK);
  assert_int_equal(insert_title(db, 5, "123456789"), VS_ERR_DATA);
  vs_schema *got = NULL;
  vs_field_def f;
  assert_int_equal(vs_get_schema(db, "c", &got), VS_OK);
  assert_int_equal(vs_schema_field(got, 2, &f), VS_OK);
  assert_int_equal(f.max_length, 8);
  assert_int_equal(vs_schema_field(got, 3, &f), VS_OK);
  assert_int_equal(f.max_capacity, 16);
  vs_schema_free(got);
  uint64_t n = 0;
  assert_int_equal(vs_count(db, "c", NULL, &n), VS_OK);
  assert_int_equal(n, 3);
  assert_int_equal(vs_close(db), VS_OK);
  tu_remove_tree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_alter_field)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
