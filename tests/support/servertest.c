/*
 * servertest.c -- the helpers of servertest.h (see there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/servertest.h"

ts_server st_server;

int st_start_server(void **state) {
  (void)state;
  return ts_start(&st_server, NULL, NULL, NULL);
}

int st_stop_server(void **state) {
  (void)state;
  int rc = ts_stop(&st_server);
  ts_destroy(&st_server, 0);
  return rc == 0 ? 0 : -1;
}

json_t *st_call(const char *path, const char *fmt, ...) {
  va_list ap;
  char *text = NULL;
  va_start(ap, fmt);
  int n = vasprintf(&text, fmt, ap);
  va_end(ap);
  assert_true(n >= 0);
  json_t *env = ts_post(&st_server, path, text, NULL);
  if (!env) fprintf(stderr, "no JSON answer for %s %s\n", path, text);
  free(text);
  assert_non_null(env);
  return env;
}

void st_expect(json_t *env, long code) {
  if (ts_code(env) != code) {
    char *text = json_dumps(env, 0);
    fprintf(stderr, "expected code %ld, got %s\n", code, text);
    free(text);
  }
  assert_int_equal(ts_code(env), code);
}

void st_expect_code(long code, const char *path, const char *body) {
  json_t *env = st_call(path, "%s", body);
  st_expect(env, code);
  if (code != 0) {
    assert_true(json_is_string(json_object_get(env, "message")));
    assert_null(json_object_get(env, "data"));
  }
  json_decref(env);
}

void st_expect_message(long code, const char *text, const char *path, const char *body) {
  json_t *env = st_call(path, "%s", body);
  st_expect(env, code);
  const char *msg = json_string_value(json_object_get(env, "message"));
  assert_non_null(msg);
  if (!strstr(msg, text)) fprintf(stderr, "message \"%s\" lacks \"%s\"\n", msg, text);
  assert_non_null(strstr(msg, text));
  json_decref(env);
}

void st_assert_keys(const json_t *obj, const char *const *keys) {
  size_t n = 0;
  assert_true(json_is_object(obj));
  for (; keys[n]; n++) {
    if (!json_object_get(obj, keys[n])) fprintf(stderr, "missing key %s\n", keys[n]);
    assert_non_null(json_object_get(obj, keys[n]));
  }
  assert_int_equal(json_object_size(obj), n);
}

bool st_list_has(const json_t *list, const char *name) {
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) return true;
  }
  return false;
}

void st_restart_server(void) {
  char *dir = strdup(st_server.data_dir);
  assert_non_null(dir);
  assert_int_equal(ts_stop(&st_server), 0);
  ts_destroy(&st_server, 1);
  assert_int_equal(ts_start(&st_server, dir, NULL, NULL), 0);
  free(dir);
}
