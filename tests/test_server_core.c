/*
 * test_server_core.c -- black-box tests of the server core (http.c,
 * config.c, metrics.c, server_main.c) through the real binary: dispatch,
 * CORS, body and header limits, slow clients, Request-Timeout, health,
 * /metrics under promtool, the data-directory lock, graceful shutdown and
 * `vectorstore config`.
 *
 * Dispatch tests use the test-only routes that VS_TEST_ROUTES=1 enables
 * (/v2/vectordb/_test/echo answers with what the core parsed), so they do
 * not depend on any handler group.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "support/testserver.h"
#include "support/testutil.h"

static const char *const test_env[] = {"VS_TEST_ROUTES=1", NULL};

static ts_server *start_server(const char *const *args, const char *const *env) {
  ts_server *s = calloc(1, sizeof *s);
  assert_non_null(s);
  assert_int_equal(ts_start(s, NULL, args, env ? env : test_env), 0);
  return s;
}

static void stop_server(ts_server *s) {
  assert_int_equal(ts_stop(s), 0);
  ts_destroy(s, 0);
  free(s);
}

static ts_response request(const ts_server *s, const char *method, const char *path,
                           const char *body, const char *const *headers) {
  ts_response r;
  assert_int_equal(
      ts_request(s, method, path, body, body ? strlen(body) : 0, headers, &r), 0);
  return r;
}

/* POST to the echo route; returns the envelope (HTTP 200 asserted). */
static json_t *echo(const ts_server *s, const char *body, const char *const *headers) {
  ts_response r = request(s, "POST", "/v2/vectordb/_test/echo", body, headers);
  assert_int_equal(r.status, 200);
  assert_non_null(r.json);
  json_t *env = json_incref(r.json);
  ts_response_free(&r);
  return env;
}

static const char *message_of(const json_t *env) {
  return json_string_value(json_object_get(env, "message"));
}

/* --------------------------------------------------------------- dispatch */

static void test_not_found(void **state) {
  ts_server *s = *state;
  const char *paths[] = {"/v2/vectordb/no/such", "/v2/other", "/", "/vectordb/x/y"};
  for (size_t i = 0; i < 4; i++) {
    ts_response r = request(s, "POST", paths[i], "{}", NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "404 page not found");
    ts_response_free(&r);
  }
  /* the right path with the wrong method */
  const char *methods[] = {"GET", "PUT", "DELETE"};
  for (size_t i = 0; i < 3; i++) {
    ts_response r = request(s, methods[i], "/v2/vectordb/_test/echo", NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "404 page not found");
    ts_response_free(&r);
  }
  ts_response r = request(s, "GET", "/v2/vectordb/collections/list", NULL, NULL);
  assert_int_equal(r.status, 404);
  ts_response_free(&r);
  /* both prefixes reach the same route */
  r = request(s, "POST", "/vectordb/_test/echo", "{}", NULL);
  assert_int_equal(r.status, 200);
  assert_int_equal(ts_code(r.json), 0);
  ts_response_free(&r);
}

static void assert_cors(const ts_response *r) {
  char *origin = ts_header(r, "Access-Control-Allow-Origin");
  char *methods = ts_header(r, "Access-Control-Allow-Methods");
  char *creds = ts_header(r, "Access-Control-Allow-Credentials");
  char *headers = ts_header(r, "Access-Control-Allow-Headers");
  assert_non_null(origin);
  assert_string_equal(origin, "*");
  assert_non_null(methods);
  assert_string_equal(methods, "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH");
  assert_non_null(creds);
  assert_string_equal(creds, "true");
  assert_non_null(headers);
  assert_non_null(strstr(headers, "Authorization"));
  free(origin);
  free(methods);
  free(creds);
  free(headers);
}

static void test_options_and_cors(void **state) {
  ts_server *s = *state;
  ts_response r = request(s, "OPTIONS", "/v2/vectordb/collections/list", NULL, NULL);
  assert_int_equal(r.status, 204);
  assert_int_equal(r.body_len, 0);
  assert_cors(&r);
  ts_response_free(&r);
  r = request(s, "POST", "/v2/vectordb/_test/echo", "{}", NULL);
  assert_cors(&r);
  char *id1 = ts_header(&r, "X-Request-Id");
  ts_response_free(&r);
  r = request(s, "POST", "/v2/vectordb/nothing", "{}", NULL);
  assert_cors(&r);
  char *id2 = ts_header(&r, "X-Request-Id");
  ts_response_free(&r);
  assert_non_null(id1);
  assert_non_null(id2);
  assert_string_not_equal(id1, id2);
  free(id1);
  free(id2);
}

static void expect_bad_json(const ts_server *s, const char *body, size_t len) {
  ts_response r;
  assert_int_equal(ts_request(s, "POST", "/v2/vectordb/_test/echo", body, len, NULL, &r), 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(ts_code(r.json), 1801);
  const char *msg = message_of(r.json);
  assert_non_null(msg);
  assert_non_null(strstr(msg, "can only accept json format request"));
  assert_null(json_object_get(r.json, "data"));
  ts_response_free(&r);
}

static char *nested(int depth) {
  char *text = malloc((size_t)depth * 2 + 16);
  size_t k = 0;
  k += (size_t)sprintf(text, "{\"a\":");
  for (int i = 0; i < depth; i++) text[k++] = '[';
  for (int i = 0; i < depth; i++) text[k++] = ']';
  text[k++] = '}';
  text[k] = '\0';
  return text;
}

static void test_bad_bodies(void **state) {
  ts_server *s = *state;
  ts_response r = request(s, "POST", "/v2/vectordb/_test/echo", NULL, NULL);
  assert_int_equal(ts_code(r.json), 1801);
  assert_string_equal(message_of(r.json),
                      "can only accept json format request, the request body should "
                      "be nil, however {} is valid");
  ts_response_free(&r);
  const char *bad[] = {"{", "{\"collectionName\": \"book\", \"dbName\"}", "{\"a\":[1,2",
                       "nonsense", "[1,2]", "42", "\"text\"", "{\"a\":1}}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    expect_bad_json(s, bad[i], strlen(bad[i]));
  }
  const char utf8[] = "{\"a\":\"\xff\xfe\"}";
  expect_bad_json(s, utf8, sizeof utf8 - 1);
  const char nul[] = "{\"a\":1}\0";
  expect_bad_json(s, nul, sizeof nul - 1);
  char *deep = nested(200); /* default limit 64 */
  expect_bad_json(s, deep, strlen(deep));
  free(deep);
  char *fine = nested(30);
  json_t *env = echo(s, fine, NULL);
  assert_int_equal(ts_code(env), 0);
  json_decref(env);
  free(fine);
}

static void test_request_fields(void **state) {
  ts_server *s = *state;
  json_t *env = echo(s, "{}", NULL);
  json_t *data = json_object_get(env, "data");
  assert_string_equal(json_string_value(json_object_get(data, "dbName")), "default");
  assert_true(json_is_true(json_object_get(data, "int64")));
  assert_true(json_is_false(json_object_get(data, "profile")));
  json_decref(env);
  const char *const h1[] = {"DB-Name: fromheader", "Accept-Type-Allow-Int64: false", NULL};
  env = echo(s, "{\"profile\":true}", h1);
  data = json_object_get(env, "data");
  assert_string_equal(json_string_value(json_object_get(data, "dbName")), "fromheader");
  assert_true(json_is_false(json_object_get(data, "int64")));
  assert_true(json_is_true(json_object_get(data, "profile")));
  json_decref(env);
  /* the body wins over the header; keys are matched case-insensitively */
  env = echo(s, "{\"DBNAME\":\"frombody\"}", h1);
  data = json_object_get(env, "data");
  assert_string_equal(json_string_value(json_object_get(data, "dbName")), "frombody");
  json_decref(env);
  /* Content-Type is ignored */
  const char *const h2[] = {"Content-Type: text/plain;charset=UTF-8", NULL};
  env = echo(s, "{\"x\":1}", h2);
  assert_int_equal(ts_code(env), 0);
  json_decref(env);
  env = echo(s, "{\"dbName\":5}", NULL);
  assert_int_equal(ts_code(env), 1801);
  json_decref(env);
}

static void test_handler_without_answer(void **state) {
  ts_server *s = *state;
  ts_response r = request(s, "POST", "/v2/vectordb/_test/noanswer", "{}", NULL);
  assert_int_equal(r.status, 200);
  assert_int_equal(ts_code(r.json), 65535);
  assert_string_equal(message_of(r.json), "internal error: handler did not answer");
  ts_response_free(&r);
}

/* ---------------------------------------------------------------- limits */

static void test_body_limit(void **state) {
  (void)state;
  const char *const args[] = {"--max-body", "1KiB", NULL};
  ts_server *s = start_server(args, NULL);
  char *big = malloc(4096 + 32);
  int n = sprintf(big, "{\"pad\":\"");
  memset(big + n, 'x', 4000);
  strcpy(big + n + 4000, "\"}");
  ts_response r = request(s, "POST", "/v2/vectordb/_test/echo", big, NULL);
  assert_int_equal(r.status, 200);
  assert_int_equal(ts_code(r.json), 1102);
  assert_non_null(strstr(message_of(r.json), "request body too large"));
  ts_response_free(&r);
  /* a chunked body (no Content-Length) is measured as it arrives */
  const char *const chunked[] = {"Transfer-Encoding: chunked", NULL};
  r = request(s, "POST", "/v2/vectordb/_test/echo", big, chunked);
  assert_int_equal(r.status, 200);
  assert_int_equal(ts_code(r.json), 1102);
  ts_response_free(&r);
  strcpy(big + n + 900, "\"}");
  r = request(s, "POST", "/v2/vectordb/_test/echo", big, chunked);
  assert_int_equal(ts_code(r.json), 0);
  ts_response_free(&r);
  free(big);
  stop_server(s);
}

static void test_header_too_large(void **state) {
  (void)state;
  const char *const args[] = {"--max-header", "4KiB", NULL};
  ts_server *s = start_server(args, NULL);
  size_t len = 8 * 1024;
  char *h = malloc(len + 16);
  strcpy(h, "X-Big: ");
  memset(h + 7, 'y', len);
  h[7 + len] = '\0';
  const char *const headers[] = {h, NULL};
  ts_response r = request(s, "GET", "/healthz", NULL, headers);
  assert_int_equal(r.status, 431);
  ts_response_free(&r);
  h[7 + 2048] = '\0'; /* well under the limit: served */
  r = request(s, "GET", "/healthz", NULL, headers);
  assert_int_equal(r.status, 200);
  ts_response_free(&r);
  free(h);
  /* and the server goes on serving */
  r = request(s, "POST", "/v2/vectordb/_test/echo", "{}", NULL);
  assert_int_equal(ts_code(r.json), 0);
  ts_response_free(&r);
  stop_server(s);
}

/* A slow client from 127.0.0.3: connected, sending a request one byte at a
 * time.  -1 if the connection could not be made. */
static int slow_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in src = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.3", &src.sin_addr);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
      connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void test_slowloris(void **state) {
  (void)state;
  const char *const args[] = {"--max-connections", "40", "--max-connections-per-ip", "10",
                              NULL};
  ts_server *s = start_server(args, NULL);
  enum { SLOW = 50 };
  int fds[SLOW];
  const char *partial = "POST /v2/vectordb/_test/echo HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  for (int i = 0; i < SLOW; i++) {
    fds[i] = slow_connect(s->port);
    if (fds[i] >= 0) send(fds[i], partial, strlen(partial), MSG_NOSIGNAL);
  }
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < SLOW; i++) {
      if (fds[i] >= 0) send(fds[i], "a", 1, MSG_NOSIGNAL);
    }
    ts_response r = request(s, "POST", "/v2/vectordb/_test/echo", "{}", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(ts_code(r.json), 0);
    ts_response_free(&r);
  }
  for (int i = 0; i < SLOW; i++) {
    if (fds[i] >= 0) close(fds[i]);
  }
  stop_server(s);
}

/* ------------------------------------------------------------- timeouts */

typedef struct bg_request {
  ts_server *s;
  const char *const *headers;
  ts_response r;
  int rc;
} bg_request;

static void *bg_echo(void *arg) {
  bg_request *b = arg;
  b->rc = ts_request(b->s, "POST", "/v2/vectordb/_test/echo", "{\"x\":1}", 7, b->headers,
                     &b->r);
  return NULL;
}

/* The value of unlabelled metric `name` in a /metrics body, or -1. */
static double metric_in(const char *body, const char *name) {
  double v = -1;
  size_t n = strlen(name);
  for (const char *line = body; line && *line;) {
    if (strncmp(line, name, n) == 0 && line[n] == ' ') v = strtod(line + n + 1, NULL);
    line = strchr(line, '\n');
    if (line) line++;
  }
  return v;
}

/* The value of an unlabelled sample in /metrics, or -1. */
static double metric_value(const ts_server *s, const char *name) {
  ts_response r = request(s, "GET", "/metrics", NULL, NULL);
  double v = metric_in(r.body, name);
  ts_response_free(&r);
  return v;
}

static void test_request_timeout(void **state) {
  (void)state;
  const char *const env[] = {"VS_TEST_ROUTES=1", "VS_TEST_HANDLER_DELAY_MS=2500", NULL};
  ts_server *s = start_server(NULL, env);
  const char *const h[] = {"Request-Timeout: 1", NULL};
  ts_response r = request(s, "POST", "/v2/vectordb/_test/echo", "{}", h);
  assert_int_equal(r.status, 408);
  assert_int_equal(ts_code(r.json), 10001);
  assert_string_equal(message_of(r.json), "request timeout");
  assert_cors(&r);
  ts_response_free(&r);
  /* without the header the default (30 s) applies and the handler answers */
  r = request(s, "POST", "/v2/vectordb/_test/echo", "{}", NULL);
  assert_int_equal(r.status, 200);
  assert_int_equal(ts_code(r.json), 0);
  ts_response_free(&r);
  /* an unparseable value falls back to the default too */
  const char *const bad[] = {"Request-Timeout: soon", NULL};
  r = request(s, "POST", "/v2/vectordb/_test/echo", "{}", bad);
  assert_int_equal(r.status, 200);
  ts_response_free(&r);
  stop_server(s);
}

static void test_sigterm_finishes_inflight(void **state) {
  (void)state;
  const char *const env[] = {"VS_TEST_ROUTES=1", "VS_TEST_HANDLER_DELAY_MS=1500", NULL};
  ts_server *s = start_server(NULL, env);
  bg_request b = {.s = s};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, bg_echo, &b), 0);
  /* wait until the echo is in flight (the scrape counts itself too) */
  double deadline_polls = 3000;
  while (metric_value(s, "vectorstore_http_inflight_requests") < 2 && deadline_polls-- > 0) {
    usleep(2000);
  }
  assert_true(deadline_polls > 0);
  kill(s->pid, SIGTERM);
  pthread_join(t, NULL);
  assert_int_equal(b.rc, 0);
  assert_int_equal(b.r.status, 200);
  assert_int_equal(ts_code(b.r.json), 0);
  ts_response_free(&b.r);
  assert_int_equal(ts_wait_exit(s, 30), 0);
  char *log = ts_read_log(s);
  assert_non_null(strstr(log, "\"msg\":\"stopped\""));
  free(log);
  ts_destroy(s, 0);
  free(s);
}

/* ------------------------------------------------------- health, metrics */

static void test_health(void **state) {
  ts_server *s = *state;
  ts_response r = request(s, "GET", "/healthz", NULL, NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "OK");
  ts_response_free(&r);
  const char *const json[] = {"Content-Type: application/json", NULL};
  r = request(s, "GET", "/healthz", NULL, json);
  assert_int_equal(r.status, 200);
  assert_non_null(r.json);
  assert_string_equal(json_string_value(json_object_get(r.json, "state")), "OK");
  ts_response_free(&r);
  r = request(s, "GET", "/readyz", NULL, NULL);
  assert_int_equal(r.status, 200);
  ts_response_free(&r);
  r = request(s, "POST", "/healthz", "{}", NULL);
  assert_int_equal(r.status, 404);
  ts_response_free(&r);
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return -1;
  fputs(text, f);
  return fclose(f);
}

static void test_metrics_promtool(void **state) {
  ts_server *s = *state;
  json_t *env = echo(s, "{\"collectionName\":\"c\"}", NULL);
  json_decref(env);
  ts_response r = request(s, "POST", "/v2/vectordb/no/such", "{}", NULL);
  ts_response_free(&r);
  /* a collection, if the collections handlers are there yet */
  env = ts_post(s, "/collections/create", "{\"collectionName\":\"m1\",\"dimension\":4}", NULL);
  bool have_collection = ts_code(env) == 0;
  json_decref(env);
  r = request(s, "GET", "/metrics", NULL, NULL);
  assert_int_equal(r.status, 200);
  const char *must[] = {
      "vectorstore_http_requests_total{route=\"/_test/echo\",code=\"0\",status=\"200\"} ",
      "vectorstore_http_requests_total{route=\"unknown\",code=\"-1\",status=\"404\"} 1",
      "vectorstore_http_request_duration_seconds_bucket{route=\"/_test/echo\",le=\"+Inf\"}",
      "vectorstore_rows_inserted_total ", "vectorstore_searches_total ",
      "vectorstore_wal_fsync_duration_seconds_bucket{le=\"+Inf\"}",
      "process_resident_memory_bytes ", "vectorstore_simd_info{level=\"",
      "vectorstore_build_info{version=\"", "# TYPE vectorstore_collection_rows gauge",
      "# TYPE vectorstore_index_indexed_rows gauge"};
  for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
    if (strstr(r.body, must[i]) == NULL) fail_msg("/metrics lacks %s", must[i]);
  }
  if (have_collection) {
    assert_non_null(strstr(r.body, "vectorstore_collection_rows{db=\"default\",collection=\"m1\"}"));
  } else {
    fprintf(stderr, "note: /collections/create not available yet; per-collection "
                    "samples not checked\n");
  }
  char *dir = tu_make_tmpdir("metrics");
  char *path = tu_join(dir, "metrics.txt");
  assert_int_equal(write_file(path, r.body), 0);
  ts_response_free(&r);
  if (access("/usr/bin/promtool", X_OK) != 0 && system("command -v promtool >/dev/null") != 0) {
    fprintf(stderr, "note: promtool not installed; exposition not linted\n");
  } else {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    const char *const argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *out = NULL;
    int rc = tu_run(argv, &out);
    if (rc != 0) fail_msg("promtool check metrics failed (%d):\n%s", rc, out ? out : "");
    free(out);
  }
  tu_remove_tree(dir);
  free(path);
  free(dir);
}

static void test_access_log(void **state) {
  ts_server *s = *state;
  json_t *env = echo(s, "{\"collectionName\":\"logged\"}", NULL);
  json_decref(env);
  char *log = ts_read_log(s);
  assert_non_null(log);
  /* one JSON line per request, with the handler's collection */
  const char *line = strstr(log, "\"collection\":\"echo_collection\"");
  assert_non_null(line);
  const char *start = line;
  while (start > log && start[-1] != '\n') start--;
  const char *end = strchr(line, '\n');
  char *text = strndup(start, (size_t)(end - start));
  json_t *obj = json_loads(text, 0, NULL);
  assert_non_null(obj);
  const char *keys[] = {"time", "request_id", "method", "path", "db", "code",
                        "status", "duration_ms"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (json_object_get(obj, keys[i]) == NULL) fail_msg("log line lacks %s", keys[i]);
  }
  json_decref(obj);
  free(text);
  free(log);
}

static void test_slow_query_log(void **state) {
  (void)state;
  const char *const args[] = {"--slow-query-ms", "0", NULL};
  ts_server *s = start_server(args, NULL);
  json_t *env = echo(s, "{\"profile\":true}", NULL);
  json_decref(env);
  char *log = ts_read_log(s);
  assert_non_null(strstr(log, "\"msg\":\"slow query\""));
  assert_non_null(strstr(log, "\"profile\":{\"phase\":\"echo\",\"rows\":0}"));
  free(log);
  stop_server(s);
}

/* Where the handler of response `r` ran, from the request log line with
 * its request id: "event_loop" or "worker" (asserted present). */
static char *ran_on(const ts_server *s, const ts_response *r) {
  char *id = ts_header(r, "X-Request-Id");
  assert_non_null(id);
  char needle[96];
  snprintf(needle, sizeof needle, "\"request_id\":\"%s\"", id);
  free(id);
  char *log = ts_read_log(s);
  assert_non_null(log);
  char *line = strstr(log, needle);
  assert_non_null(line);
  while (line > log && line[-1] != '\n') line--;
  char *end = strchr(line, '\n');
  if (end) *end = '\0';
  json_t *obj = json_loads(line, 0, NULL);
  assert_non_null(obj);
  const char *where = json_string_value(json_object_get(obj, "ran_on"));
  assert_non_null(where);
  char *out = strdup(where);
  json_decref(obj);
  free(log);
  return out;
}

/* POSTs `path` and returns where its handler ran (HTTP 200, code 0). */
static char *post_ran_on(const ts_server *s, const char *path, const char *const *headers) {
  ts_response r = request(s, "POST", path, "{}", headers);
  assert_int_equal(r.status, 200);
  assert_int_equal(ts_code(r.json), 0);
  char *where = ran_on(s, &r);
  ts_response_free(&r);
  return where;
}

static void assert_ran_on(const ts_server *s, const char *path, const char *const *headers,
                          const char *want) {
  char *where = post_ran_on(s, path, headers);
  assert_string_equal(where, want);
  free(where);
}

/* POSTs `path` on a connection that is the only one the server has open:
 * the connections of earlier requests are closed by the client, but the
 * server drops them from its counts only once it has read the close, so
 * the session scrapes /metrics on its kept-alive connection until the
 * open-connection gauge says 1 (at most 6 s).  Returns the response;
 * `where` gets where the handler ran. */
static ts_response post_alone(const ts_server *s, const char *path, char **where) {
  ts_session *session = ts_session_open(s);
  assert_non_null(session);
  double open = -1;
  for (int polls = 0; polls < 3000; polls++) {
    ts_response m;
    assert_int_equal(ts_session_request(session, "GET", "/metrics", NULL, 0, NULL, &m), 0);
    open = metric_in(m.body, "vectorstore_http_open_connections");
    ts_response_free(&m);
    if (open == 1) break;
    usleep(2000);
  }
  assert_true(open == 1);
  ts_response r;
  assert_int_equal(ts_session_request(session, "POST", path, "{}", 2, NULL, &r), 0);
  assert_int_equal(ts_session_connects(session), 0); /* the same connection */
  *where = ran_on(s, &r);
  ts_session_close(session);
  return r;
}

/* post_alone, asserting HTTP 200, code 0 and where the handler ran. */
static void assert_alone_ran_on(const ts_server *s, const char *path, const char *want) {
  char *where = NULL;
  ts_response r = post_alone(s, path, &where);
  assert_int_equal(r.status, 200);
  assert_int_equal(ts_code(r.json), 0);
  assert_string_equal(where, want);
  free(where);
  ts_response_free(&r);
}

/* Quick routes run on the event loop while they have been fast; one slow
 * request sends the route to the workers; a Request-Timeout header, a
 * route that is not quick, another connection open on the same event loop
 * and --inline-max-ms 0 always use the workers. */
static void test_inline_quick_routes(void **state) {
  ts_server *s = *state;
  const char *quick = "/v2/vectordb/_test/quick";
  assert_alone_ran_on(s, quick, "event_loop");
  assert_ran_on(s, "/v2/vectordb/_test/echo", NULL, "worker");
  const char *const timeout[] = {"Request-Timeout: 5", NULL};
  assert_ran_on(s, quick, timeout, "worker");
  assert_alone_ran_on(s, quick, "event_loop");

  const char *const slow_env[] = {"VS_TEST_ROUTES=1", "VS_TEST_HANDLER_DELAY_MS=300", NULL};
  const char *const slow_args[] = {"--inline-max-ms", "100", NULL};
  ts_server *slow = start_server(slow_args, slow_env);
  assert_alone_ran_on(slow, quick, "event_loop"); /* no estimate yet: 300 ms */
  assert_ran_on(slow, quick, NULL, "worker");     /* the estimate is now 300 ms */
  stop_server(slow);

  /* an inline handler that overruns the default deadline answers 408 */
  const char *const late_env[] = {"VS_TEST_ROUTES=1", "VS_TEST_HANDLER_DELAY_MS=1500", NULL};
  const char *const late_args[] = {"--request-timeout", "1", "--inline-max-ms", "5000", NULL};
  ts_server *late = start_server(late_args, late_env);
  char *where = NULL;
  ts_response r = post_alone(late, quick, &where);
  assert_int_equal(r.status, 408);
  assert_int_equal(ts_code(r.json), 10001);
  assert_string_equal(where, "event_loop");
  free(where);
  ts_response_free(&r);
  stop_server(late);

  /* One event loop: with another connection open on it, a quick request
   * goes to the workers (requests on that connection would otherwise wait
   * behind the handler). */
  const char *const one_loop[] = {"--threads", "1", NULL};
  ts_server *shared = start_server(one_loop, NULL);
  assert_alone_ran_on(shared, quick, "event_loop");
  int idle = slow_connect(shared->port);
  assert_true(idle >= 0);
  assert_ran_on(shared, quick, NULL, "worker");
  assert_ran_on(shared, quick, NULL, "worker");
  close(idle);
  stop_server(shared);

  const char *const off[] = {"--inline-max-ms", "0", NULL};
  ts_server *never = start_server(off, NULL);
  assert_ran_on(never, quick, NULL, "worker");
  stop_server(never);
}

/* ------------------------------------------------------------ processes */

static void test_second_server_refused(void **state) {
  ts_server *s = *state;
  ts_server second;
  int rc = ts_start(&second, s->data_dir, NULL, test_env);
  if (rc == 0) {
    ts_stop(&second);
    ts_destroy(&second, 1);
    skip(); /* the catalog does not open (and lock) the databases yet */
  }
  assert_int_equal(second.exit_status, 1);
  char *log = ts_read_log(&second);
  assert_non_null(log);
  assert_non_null(strstr(log, "in use by another vectorstore process"));
  free(log);
  ts_destroy(&second, 1); /* keep: it is the first server's directory */
}

static char *run_config(const char *const *extra) {
  const char *argv[16] = {tu_vs_bin(), "config"};
  size_t k = 2;
  for (size_t i = 0; extra && extra[i]; i++) argv[k++] = extra[i];
  argv[k] = NULL;
  char *out = NULL;
  assert_int_equal(tu_run(argv, &out), 0);
  return out;
}

static void test_config_command(void **state) {
  (void)state;
  char *dir = tu_make_tmpdir("config");
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(dir), 0);
  assert_int_equal(write_file(".env", "MILVUS_PORT=1111\nVS_THREADS=3\nOTHER=1\n"), 0);
  assert_int_equal(write_file("vs.conf", "# comment\nport = 3333\nmax-body=2MiB\n"), 0);
  setenv("MILVUS_ROOT_PASSWORD", "hunter2", 1);
  setenv("VS_THREADS", "5", 1);
  char *out = run_config(NULL);
  assert_null(strstr(out, "hunter2"));
  assert_non_null(strstr(out, "root_password = ********"));
  assert_non_null(strstr(out, "port = 1111")); /* .env over the default */
  assert_non_null(strstr(out, "threads = 5")); /* environment over .env */
  free(out);
  const char *const with_file[] = {"--config", "vs.conf", NULL};
  out = run_config(with_file);
  assert_non_null(strstr(out, "port = 3333")); /* file over environment */
  assert_non_null(strstr(out, "max_body_bytes = 2097152"));
  free(out);
  const char *const with_flag[] = {"--config", "vs.conf", "--port=4444", NULL};
  out = run_config(with_flag);
  assert_non_null(strstr(out, "port = 4444")); /* flag over everything */
  free(out);
  const char *argv[] = {tu_vs_bin(), "config", "--port", "99999", NULL};
  assert_int_equal(tu_run(argv, NULL), 2);
  const char *argv2[] = {tu_vs_bin(), "config", "--no-such-flag", "1", NULL};
  assert_int_equal(tu_run(argv2, NULL), 2);
  unsetenv("MILVUS_ROOT_PASSWORD");
  unsetenv("VS_THREADS");
  assert_int_equal(chdir(cwd), 0);
  tu_remove_tree(dir);
  free(dir);
}

/* --------------------------------------------------------------- fixture */

static int setup_shared(void **state) {
  ts_server *s = calloc(1, sizeof *s);
  if (s == NULL || ts_start(s, NULL, NULL, test_env) != 0) return -1;
  *state = s;
  return 0;
}

static int teardown_failures;

static int teardown_shared(void **state) {
  ts_server *s = *state;
  int rc = ts_stop(s);
  if (rc != 0) {
    char *log = ts_read_log(s);
    fprintf(stderr, "server exited with %d; its log:\n%s\n", rc, log ? log : "");
    free(log);
  }
  ts_destroy(s, 0);
  free(s);
  if (rc != 0) teardown_failures++;
  return rc == 0 ? 0 : -1;
}

int main(void) {
  if (tu_vs_bin() == NULL) {
    fprintf(stderr, "VS_BIN not set; skipping\n");
    return 0;
  }
  const struct CMUnitTest shared[] = {
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_options_and_cors),
      cmocka_unit_test(test_bad_bodies),
      cmocka_unit_test(test_request_fields),
      cmocka_unit_test(test_handler_without_answer),
      cmocka_unit_test(test_health),
      cmocka_unit_test(test_metrics_promtool),
      cmocka_unit_test(test_access_log),
      cmocka_unit_test(test_inline_quick_routes),
      cmocka_unit_test(test_second_server_refused),
  };
  const struct CMUnitTest own[] = {
      cmocka_unit_test(test_body_limit),
      cmocka_unit_test(test_header_too_large),
      cmocka_unit_test(test_slowloris),
      cmocka_unit_test(test_request_timeout),
      cmocka_unit_test(test_sigterm_finishes_inflight),
      cmocka_unit_test(test_slow_query_log),
      cmocka_unit_test(test_config_command),
  };
  int failed = cmocka_run_group_tests_name("server core (one server)", shared, setup_shared,
                                           teardown_shared);
  failed += cmocka_run_group_tests_name("server core (own servers)", own, NULL, NULL);
  return failed + teardown_failures;
}
