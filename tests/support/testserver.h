/*
 * testserver.h -- black-box harness for the REST server: starts the real
 * `vectorstore serve` binary (env VS_BIN) on a free loopback port with a
 * temporary data directory, talks to it over real HTTP (libcurl), and
 * stops it the way an operator would (SIGTERM, then checks the exit code).
 *
 * Only libc, libcurl and jansson: never the library under test, so the
 * harness sees exactly what a client sees.
 */
#ifndef VS_TESTSERVER_H
#define VS_TESTSERVER_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct ts_server {
  pid_t pid;
  int port;
  char *data_dir;      /* owned; removed by ts_destroy unless keep_data */
  char *log_path;      /* the server's stderr+stdout */
  char base_url[64];   /* "http://127.0.0.1:PORT" */
  int exit_status;     /* when ts_start failed because the server exited:
                          its exit status (as ts_stop), else -1 */
} ts_server;

/* Starts the server on a free port over `data_dir` (NULL = a new temporary
 * directory) with extra argv flags (NULL-terminated, may be NULL) and extra
 * environment entries "K=V" (NULL-terminated, may be NULL); waits until
 * GET /readyz answers 200 (at most 30 s).  Returns 0 or -1. */
int ts_start(ts_server *s, const char *data_dir, const char *const *args,
             const char *const *env);
/* SIGTERM, waits for exit; returns the exit status (or -1 if it had to be
 * SIGKILLed after 30 s, or 128+signal if killed by a signal). */
int ts_stop(ts_server *s);
/* Waits up to timeout_s for the server to exit by itself; returns its exit
 * status as ts_stop does, -2 on timeout (still running), -1 if not running.
 * (Added by srvcore.) */
int ts_wait_exit(ts_server *s, double timeout_s);
/* The server's log so far (malloc'd, NUL-terminated) or NULL. */
char *ts_read_log(const ts_server *s);
/* SIGKILL and reap (crash tests). */
void ts_kill(ts_server *s);
/* Stops if running and frees; removes the data directory unless keep. */
void ts_destroy(ts_server *s, int keep_data);

typedef struct ts_response {
  long status;          /* HTTP status, 0 on transport error */
  char *body;           /* NUL-terminated */
  size_t body_len;
  char *headers;        /* raw response headers, NUL-terminated */
  json_t *json;         /* body parsed, or NULL if not JSON */
} ts_response;

/* One request.  `method` "POST"/"GET"/...; `body` may be NULL (no body);
 * `headers` NULL-terminated "Name: value" list, may be NULL. */
int ts_request(const ts_server *s, const char *method, const char *path,
               const char *body, size_t body_len, const char *const *headers,
               ts_response *out);
/* A client that keeps one connection open across its requests (HTTP/1.1
 * keep-alive on one curl handle).  NULL on allocation failure. */
typedef struct ts_session ts_session;
ts_session *ts_session_open(const ts_server *s);
/* ts_request on the session's connection (opened on first use, or again
 * if the server closed it). */
int ts_session_request(ts_session *session, const char *method, const char *path,
                       const char *body, size_t body_len, const char *const *headers,
                       ts_response *out);
/* New connections the session's last request opened: 0 when it reused the
 * kept-alive one, -1 if unknown. */
long ts_session_connects(ts_session *session);
/* Closes the connection and frees; NULL is a no-op. */
void ts_session_close(ts_session *session);

/* POST of a JSON text to a /v2/vectordb path; returns the parsed envelope
 * (caller json_decref) or NULL on a transport/parse failure.  HTTP status
 * in *status if not NULL. */
json_t *ts_post(const ts_server *s, const char *path, const char *json_text,
                long *status);
/* ts_post with printf formatting of the body. */
json_t *ts_postf(const ts_server *s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The envelope's integer "code" (-1 if absent). */
long ts_code(const json_t *envelope);
/* A header's value from a response (malloc'd) or NULL. */
char *ts_header(const ts_response *r, const char *name);
void ts_response_free(ts_response *r);

#endif /* VS_TESTSERVER_H */
