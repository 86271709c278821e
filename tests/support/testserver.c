/*
 * testserver.c -- the black-box harness of testserver.h: a real
 * `vectorstore serve` child process on a free loopback port, spoken to with
 * libcurl.
 *
 * Port choice: the harness binds an ephemeral port on 127.0.0.1, reads it
 * back, closes the socket and hands the number to the server.  Another
 * process may grab the port in between; the server then exits early, which
 * ts_start notices (waitpid) and retries with a new port a few times.  The
 * alternative, letting the server bind port 0 and print the port, would need
 * the harness to parse the server's log, coupling it to the log format.
 *
 * Readiness: GET /readyz is polled every 20 ms until 200 or a 30 s
 * deadline; a child that exits meanwhile fails the start at once (and its
 * log is printed to stderr so the failure explains itself).
 *
 * Every request uses a fresh curl easy handle: slower than a pooled one by
 * a connect on loopback, but requests of different tests never share
 * state.  A session (ts_session_open) keeps one handle, so its requests
 * share one kept-alive connection, for tests that need to know which
 * connections the server has open.  "Expect: 100-continue" is switched
 * off so a body is sent at once, as the Node SDK (fetch) does.
 */
#include "support/testserver.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/testutil.h"

#define TS_READY_TIMEOUT_S 30.0
#define TS_STOP_TIMEOUT_S 30.0
#define TS_START_ATTEMPTS 4

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static double ts_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void ts_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* An ephemeral port that was free a moment ago, or -1. */
static int ts_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

static size_t count_list(const char *const *list) {
  size_t n = 0;
  while (list != NULL && list[n] != NULL) n++;
  return n;
}

/* The child: environment, stdout+stderr to the log, exec. */
static void ts_exec_child(const ts_server *s, const char *const *args,
                          const char *const *env) {
  for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
    putenv((char *)env[i]);
  }
  int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
  }
  size_t nargs = count_list(args);
  const char **argv = calloc(nargs + 10, sizeof *argv);
  char port[16];
  snprintf(port, sizeof port, "%d", s->port);
  size_t k = 0;
  argv[k++] = tu_vs_bin();
  argv[k++] = "serve";
  argv[k++] = "--bind";
  argv[k++] = "127.0.0.1";
  argv[k++] = "--port";
  argv[k++] = port;
  argv[k++] = "--data";
  argv[k++] = s->data_dir;
  for (size_t i = 0; i < nargs; i++) argv[k++] = args[i];
  argv[k] = NULL;
  execv(argv[0], (char *const *)argv);
  fprintf(stderr, "testserver: exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static void ts_print_log(const ts_server *s) {
  FILE *f = fopen(s->log_path, "r");
  if (f == NULL) return;
  char line[1024];
  fprintf(stderr, "---- server log (%s) ----\n", s->log_path);
  while (fgets(line, sizeof line, f) != NULL) fputs(line, stderr);
  fprintf(stderr, "---- end of server log ----\n");
  fclose(f);
}

static int ts_status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/* 1 ready, 0 exited (reaped), -1 timeout (still running). */
static int ts_wait_ready(ts_server *s) {
  double deadline = ts_now() + TS_READY_TIMEOUT_S;
  while (ts_now() < deadline) {
    int status = 0;
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
      s->pid = 0;
      s->exit_status = ts_status_code(status);
      return 0;
    }
    ts_response r;
    if (ts_request(s, "GET", "/readyz", NULL, 0, NULL, &r) == 0 &&
        r.status == 200) {
      ts_response_free(&r);
      return 1;
    }
    ts_response_free(&r);
    ts_sleep_ms(20);
  }
  return -1;
}

static int ts_spawn(ts_server *s, const char *const *args,
                    const char *const *env) {
  s->port = ts_free_port();
  if (s->port <= 0) return -1;
  snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", s->port);
  fflush(stdout);
  fflush(stderr);
  s->pid = fork();
  if (s->pid < 0) {
    s->pid = 0;
    return -1;
  }
  if (s->pid == 0) ts_exec_child(s, args, env);
  return ts_wait_ready(s);
}

char *ts_read_log(const ts_server *s);

static int ts_log_contains(const ts_server *s, const char *needle) {
  char *text = ts_read_log(s);
  int found = text != NULL && strstr(text, needle) != NULL;
  free(text);
  return found;
}

static char *ts_make_log_path(void) {
  char tmpl[] = "/tmp/vs-serverlog-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return NULL;
  close(fd);
  return strdup(tmpl);
}

int ts_start(ts_server *s, const char *data_dir, const char *const *args,
             const char *const *env) {
  memset(s, 0, sizeof *s);
  s->exit_status = -1;
  pthread_once(&curl_once, curl_init_once);
  if (tu_vs_bin() == NULL) {
    fprintf(stderr, "testserver: VS_BIN is not set\n");
    return -1;
  }
  s->data_dir = data_dir ? strdup(data_dir) : tu_make_tmpdir("srv");
  s->log_path = ts_make_log_path();
  if (s->data_dir == NULL || s->log_path == NULL) return -1;
  for (int attempt = 0; attempt < TS_START_ATTEMPTS; attempt++) {
    int rc = ts_spawn(s, args, env);
    if (rc == 1) return 0;
    if (rc < 0 || !ts_log_contains(s, "cannot listen")) break;
    /* the port was taken between ts_free_port and the server's bind */
  }
  ts_print_log(s);
  if (s->pid > 0) ts_kill(s);
  return -1;
}

int ts_wait_exit(ts_server *s, double timeout_s) {
  if (s->pid <= 0) return -1;
  double deadline = ts_now() + timeout_s;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(s->pid, &status, WNOHANG);
    if (r == s->pid) {
      s->pid = 0;
      return ts_status_code(status);
    }
    if (r < 0 && errno != EINTR) return -1;
    if (ts_now() >= deadline) return -2;
    ts_sleep_ms(10);
  }
}

int ts_stop(ts_server *s) {
  if (s->pid <= 0) return -1;
  kill(s->pid, SIGTERM);
  int rc = ts_wait_exit(s, TS_STOP_TIMEOUT_S);
  if (rc == -2) {
    fprintf(stderr, "testserver: pid %d ignored SIGTERM; killing\n",
            (int)s->pid);
    ts_kill(s);
    return -1;
  }
  return rc;
}

void ts_kill(ts_server *s) {
  if (s->pid <= 0) return;
  kill(s->pid, SIGKILL);
  int status = 0;
  while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
  }
  s->pid = 0;
}

void ts_destroy(ts_server *s, int keep_data) {
  if (s->pid > 0) ts_stop(s);
  if (s->data_dir != NULL && !keep_data) tu_remove_tree(s->data_dir);
  if (s->log_path != NULL) unlink(s->log_path);
  free(s->data_dir);
  free(s->log_path);
  s->data_dir = NULL;
  s->log_path = NULL;
}

char *ts_read_log(const ts_server *s) {
  FILE *f = s->log_path ? fopen(s->log_path, "r") : NULL;
  if (f == NULL) return NULL;
  size_t cap = 4096, len = 0;
  char *text = malloc(cap);
  size_t n;
  while (text != NULL && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) {
      char *bigger = realloc(text, cap * 2);
      if (bigger == NULL) {
        free(text);
        text = NULL;
        break;
      }
      text = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  if (text != NULL) text[len] = '\0';
  return text;
}

/* ------------------------------------------------------------- requests */

typedef struct ts_buffer {
  char *data;
  size_t len;
} ts_buffer;

static size_t ts_collect(char *ptr, size_t size, size_t nmemb, void *ctx) {
  ts_buffer *b = ctx;
  size_t n = size * nmemb;
  char *grown = realloc(b->data, b->len + n + 1);
  if (grown == NULL) return 0;
  memcpy(grown + b->len, ptr, n);
  b->len += n;
  grown[b->len] = '\0';
  b->data = grown;
  return n;
}

static struct curl_slist *ts_header_list(const char *const *headers) {
  struct curl_slist *list = curl_slist_append(NULL, "Expect:");
  for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
    list = curl_slist_append(list, headers[i]);
  }
  return list;
}

static void ts_set_method(CURL *c, const char *method, const char *body,
                          size_t body_len) {
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET") != 0 || body != NULL) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }
  if (body != NULL) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  } else if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  }
}

/* One request on easy handle `c` (a fresh one, or a session's). */
static int ts_perform(CURL *c, const ts_server *s, const char *method, const char *path,
                      const char *body, size_t body_len, const char *const *headers,
                      ts_response *out) {
  memset(out, 0, sizeof *out);
  curl_easy_reset(c); /* a session's earlier method and body; keeps its connection */
  char url[2048];
  snprintf(url, sizeof url, "%s%s", s->base_url, path);
  ts_buffer bodybuf = {NULL, 0}, headbuf = {NULL, 0};
  struct curl_slist *list = ts_header_list(headers);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ts_collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &bodybuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, ts_collect);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &headbuf);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  ts_set_method(c, method, body, body_len);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  curl_slist_free_all(list);
  out->body = bodybuf.data ? bodybuf.data : strdup("");
  out->body_len = bodybuf.len;
  out->headers = headbuf.data ? headbuf.data : strdup("");
  out->json = json_loadb(out->body, out->body_len, 0, NULL);
  return rc == CURLE_OK ? 0 : -1;
}

int ts_request(const ts_server *s, const char *method, const char *path,
               const char *body, size_t body_len, const char *const *headers,
               ts_response *out) {
  memset(out, 0, sizeof *out);
  pthread_once(&curl_once, curl_init_once);
  CURL *c = curl_easy_init();
  if (c == NULL) return -1;
  int rc = ts_perform(c, s, method, path, body, body_len, headers, out);
  curl_easy_cleanup(c);
  return rc;
}

struct ts_session {
  const ts_server *server;
  CURL *curl;
};

ts_session *ts_session_open(const ts_server *s) {
  pthread_once(&curl_once, curl_init_once);
  ts_session *session = calloc(1, sizeof *session);
  if (session == NULL) return NULL;
  session->server = s;
  session->curl = curl_easy_init();
  if (session->curl == NULL) {
    free(session);
    return NULL;
  }
  return session;
}

int ts_session_request(ts_session *session, const char *method, const char *path,
                       const char *body, size_t body_len, const char *const *headers,
                       ts_response *out) {
  return ts_perform(session->curl, session->server, method, path, body, body_len, headers,
                    out);
}

long ts_session_connects(ts_session *session) {
  long n = -1;
  if (curl_easy_getinfo(session->curl, CURLINFO_NUM_CONNECTS, &n) != CURLE_OK) return -1;
  return n;
}

void ts_session_close(ts_session *session) {
  if (session == NULL) return;
  curl_easy_cleanup(session->curl);
  free(session);
}

static const char *ts_full_path(const char *path, char *buf, size_t cap) {
  if (strncmp(path, "/v2/", 4) == 0 || strncmp(path, "/vectordb/", 10) == 0) {
    return path;
  }
  snprintf(buf, cap, "/v2/vectordb%s%s", path[0] == '/' ? "" : "/", path);
  return buf;
}

json_t *ts_post(const ts_server *s, const char *path, const char *json_text,
                long *status) {
  char buf[1024];
  ts_response r;
  const char *full = ts_full_path(path, buf, sizeof buf);
  int rc = ts_request(s, "POST", full, json_text, strlen(json_text), NULL, &r);
  if (status != NULL) *status = r.status;
  json_t *env = NULL;
  if (rc == 0) {
    env = r.json;
    r.json = NULL;
  }
  ts_response_free(&r);
  return env;
}

json_t *ts_postf(const ts_server *s, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = NULL;
  int n = vasprintf(&text, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  json_t *env = ts_post(s, path, text, NULL);
  free(text);
  return env;
}

long ts_code(const json_t *envelope) {
  json_t *code = envelope ? json_object_get(envelope, "code") : NULL;
  return json_is_integer(code) ? (long)json_integer_value(code) : -1;
}

char *ts_header(const ts_response *r, const char *name) {
  size_t n = strlen(name);
  for (const char *line = r->headers; line != NULL && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
      const char *v = line + n + 1;
      const char *stop = line + len;
      while (v < stop && (*v == ' ' || *v == '\t')) v++;
      while (stop > v && (stop[-1] == '\r' || stop[-1] == ' ')) stop--;
      return strndup(v, (size_t)(stop - v));
    }
    line = end ? end + 1 : NULL;
  }
  return NULL;
}

void ts_response_free(ts_response *r) {
  free(r->body);
  free(r->headers);
  json_decref(r->json);
  memset(r, 0, sizeof *r);
}
