/*
 * http.c -- the libmicrohttpd glue of `vectorstore serve`: bodies, limits,
 * timeouts, CORS, request ids, request logs, dispatch and the envelope.
 *
 * Threads.  libmicrohttpd runs a pool of `threads` event loops (epoll) that
 * read headers and bodies and write responses.  Handlers run on a separate
 * pool of `threads` workers.  When a body is complete the connection is
 * suspended (MHD_suspend_connection), the request is queued for the
 * workers, and the event loop goes on serving other connections.
 *
 * Quick reads run on the event loop instead.  The hand-off above costs a
 * suspend, a queue, two thread wake-ups and a resume -- on the 2-core VM of
 * `make bench-server` about 30 us of server CPU per search (270 -> 237 us
 * at 20,000 x 128) and 40 us of latency for a lone client (p50 229 -> 186
 * us).  So get, query, search and hybrid search (routes with a `quick`
 * slot) run their handler right in the event loop when (runs_inline):
 * the route's recent handler time (quick_note: up at once on a slow
 * request, down slowly) is below inline_max_ms (default 2 ms); no more
 * requests are in flight than there are event loops, so under load the
 * workers still spread handlers over the cores (with every request inline,
 * 16 clients gained no throughput and saw a worse p99: 5.8-7.6 ms against
 * 5.4-6.4); the connection is the only one open on its loop
 * (on_connection counts them), since a connection stays on the loop that
 * accepted it and requests still unread in their sockets are not in
 * flight yet -- 4 connections accepted by one loop otherwise ran their
 * searches one after another there, 4,450/s with 1.4 of 2 cores busy,
 * against 6,050/s with this rule; and the request has no Request-Timeout
 * header.  An inline handler that
 * overruns the default deadline gets its 408 when it ends rather than at
 * the deadline.  The price measured at 100,000 rows: a higher p99 (one
 * client 1.0-2.6 ms against 0.7-0.8 ms through the workers); where the
 * tail matters more, --inline-max-ms 0 turns the path off.
 *
 * A queued request's connection is resumed exactly once, by whichever
 * comes first:
 *
 *   - the worker, with the handler's answer, or
 *   - the deadline timer, with HTTP 408 {"code":10001,"message":"request
 *     timeout"} when the Request-Timeout header (whole seconds; default
 *     request_timeout_s) has passed.  A handler still running then is not
 *     interrupted (C has no safe way to); its answer is discarded.
 *
 * A request (struct http_job) is reference-counted: one reference for the
 * connection (dropped by MHD's completion callback), one for the worker
 * while it holds it.  Job states, changed only under http->mu:
 *
 *   RECEIVING -> QUEUED -> RUNNING -> DONE        (worker resumes)
 *                  \          \
 *                   +----------+--> TIMED_OUT     (timer resumes)
 *
 * Answers that need no handler -- 404, OPTIONS, JSON errors, oversized
 * bodies, /healthz, /readyz, /metrics -- are sent directly from the event
 * loop, so probes answer even when every worker is busy.
 *
 * Limits a client cannot exceed: the body (max_body_bytes; a declared
 * Content-Length above it is answered at once, a chunked body is drained
 * and answered at its end; either way HTTP 200 + code 1102, as Milvus
 * reports parameter errors), JSON nesting (a byte scan before parsing, code
 * 1801), request line + headers (MHD's per-connection memory pool; MHD
 * answers 431 itself), idle connections (MHD_OPTION_CONNECTION_TIMEOUT),
 * connections in total and per client address (a slowloris from one
 * address exhausts only its own share).
 *
 * The dispatch point (http_dispatch) calls srv_authorize(req, route) before
 * every handler: security plugs in there.
 *
 * Alternatives rejected:
 *  - Running every handler on MHD's own threads: simplest, but a timeout
 *    would then need to interrupt the handler, a long search would stall
 *    every connection of that event loop, and a connection stays on the
 *    loop that accepted it, so uneven loops leave a core idle.
 *  - One thread per connection (MHD_USE_THREAD_PER_CONNECTION): a
 *    slowloris then costs a thread per socket.
 *  - HTTP 413 for oversized bodies: the Node SDK throws on any non-2xx
 *    status, so a Milvus-style 200 + code 1102 tells the client more.
 */
#include <arpa/inet.h>
#include <math.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "util/util.h"

#define HTTP_MSG_BAD_JSON "can only accept json format request"
#define HTTP_NOT_FOUND_TEXT "404 page not found"
#define HTTP_JSON_TYPE "application/json; charset=utf-8"
#define HTTP_TEXT_TYPE "text/plain; charset=utf-8"
#define HTTP_MAX_LOOPS 1024 /* the `threads` setting's maximum */

typedef enum job_state {
  JOB_RECEIVING, JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_TIMED_OUT
} job_state;

typedef struct http_job http_job;
struct http_job {
  srv_http *http;
  struct MHD_Connection *conn;
  _Atomic int refs;
  job_state state;
  double start;
  char method[16];
  char *url;
  const srv_route *route;         /* an API request, or NULL */
  enum { KIND_API, KIND_PROBE, KIND_OPTIONS, KIND_NOT_FOUND } kind;
  const char *route_label;       /* metrics label */
  vs_buf body;
  srv_packed packed;             /* vector arrays taken out of the body */
  bool too_large;
  bool sent;                     /* a response is queued (MHD thread only) */
  bool counted;                  /* in the in-flight gauge */
  bool on_loop;                  /* the handler ran on the event loop */
  srv_request req;
  char db_name[VS_MAX_NAME + 1];
  /* the response, ready to send */
  int status;
  int code;                      /* envelope code, -1 if not an envelope */
  char *resp;
  size_t resp_len;
  const char *content_type;
  http_job *queue_next;
  http_job *timer_prev, *timer_next;
  bool in_timer;
};

struct srv_http {
  srv_server *srv;
  struct MHD_Daemon *daemon;
  pthread_mutex_t mu;
  pthread_cond_t work_cv;        /* queue not empty, or stopping */
  pthread_cond_t timer_cv;       /* timer list changed, or stopping */
  http_job *queue_head, *queue_tail;
  http_job *timers;              /* unordered; short (in-flight requests) */
  bool stop_threads;
  pthread_t *workers;
  unsigned worker_count;
  pthread_t timer;
  bool timer_started;
  double timer_wake;             /* when the timer thread wakes next */
  /* Open connections of each event loop (on_connection: a loop's slot is
   * taken by its first connection). */
  _Atomic unsigned loop_connections[HTTP_MAX_LOOPS];
  _Atomic unsigned next_loop;
  /* Recent handler time of each quick route slot, in microseconds. */
  _Atomic uint32_t quick_us[SRV_QUICK_SLOTS + 1];
  unsigned handler_delay_ms;     /* VS_TEST_HANDLER_DELAY_MS test hook */
  bool test_routes;              /* VS_TEST_ROUTES=1 */
};

static _Atomic unsigned http_inflight;
static _Atomic unsigned http_connections;
static _Atomic uint64_t http_id_salt;

unsigned srv_http_inflight(void) { return atomic_load(&http_inflight); }
unsigned srv_http_connections(void) { return atomic_load(&http_connections); }

bool srv_authorize(srv_request *req, const srv_route *route) {
  (void)req;
  (void)route;
  return true;
}

/* ------------------------------------------------------------ envelopes */

static void reply_set(srv_request *req, int http_status, json_t *envelope) {
  if (req->answered) {
    srv_log(&req->server->config, "error", "request answered twice; second answer dropped",
            json_pack("{s:s}", "request_id", req->request_id));
    json_decref(envelope);
    return;
  }
  req->answered = true;
  req->http_status = http_status;
  req->response = envelope;
}

static json_t *data_or_empty(json_t *data) { return data ? data : json_object(); }

void srv_reply_ok(srv_request *req, json_t *data) {
  reply_set(req, 200, json_pack("{s:i,s:o}", "code", 0, "data", data_or_empty(data)));
}

void srv_reply_ok_extra(srv_request *req, json_t *data, json_t *extra) {
  json_t *env = json_pack("{s:i,s:o}", "code", 0, "data", data_or_empty(data));
  if (extra != NULL) {
    json_object_update(env, extra);
    json_decref(extra);
  }
  reply_set(req, 200, env);
}

static json_t *error_envelope(int code, const char *message) {
  return json_pack("{s:i,s:s}", "code", code, "message", message ? message : "");
}

static void reply_error_status(srv_request *req, int http_status, int code,
                               const char *fmt, va_list ap) {
  char message[2048];
  vsnprintf(message, sizeof message, fmt, ap);
  reply_set(req, http_status, error_envelope(code, message));
}

void srv_reply_error(srv_request *req, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reply_error_status(req, 200, code, fmt, ap);
  va_end(ap);
}

void srv_reply_names(srv_request *req, vs_status status, char **names, size_t n) {
  if (status != VS_OK) {
    vs_free_strings(names, n);
    srv_reply_status(req, status);
    return;
  }
  json_t *list = json_array();
  for (size_t i = 0; list && i < n; i++) json_array_append_new(list, json_string(names[i]));
  vs_free_strings(names, n);
  srv_reply_ok(req, list);
}

void srv_reply_status(srv_request *req, vs_status status) {
  const char *message = vs_errmsg(NULL);
  if (message == NULL || *message == '\0') message = vs_strerror(status);
  reply_set(req, vs_status_http(status),
            error_envelope(vs_status_milvus_code(status), message));
}

/* ----------------------------------------------------------- body access */

json_t *srv_obj_get(const json_t *obj, const char *key) {
  if (!json_is_object(obj)) return NULL;
  json_t *exact = json_object_get(obj, key);
  if (exact != NULL) return exact;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    if (strcasecmp(k, key) == 0) return v;
  }
  return NULL;
}

json_t *srv_get(const srv_request *req, const char *key) {
  return srv_obj_get(req->body, key);
}

json_t *srv_get_exact(const srv_request *req, const char *key) {
  return json_is_object(req->body) ? json_object_get(req->body, key) : NULL;
}

bool srv_require_string(srv_request *req, const char *key, const char **out) {
  json_t *v = srv_get(req, key);
  if (json_is_string(v) && json_string_length(v) > 0) {
    *out = json_string_value(v);
    return true;
  }
  char field[128];
  snprintf(field, sizeof field, "%s", key);
  if (field[0] >= 'a' && field[0] <= 'z') field[0] = (char)(field[0] - 'a' + 'A');
  srv_reply_missing(req, "Request", field);
  return false;
}

void srv_reply_missing(srv_request *req, const char *go_struct, const char *go_field) {
  srv_reply_error(req, SRV_CODE_REQUIRED,
                  "missing required parameters, error: Key: '%s.%s' "
                  "Error:Field validation for '%s' failed on the 'required' tag",
                  go_struct, go_field, go_field);
}

static bool opt_wrong_type(srv_request *req, const char *key, const char *want) {
  srv_reply_error(req, SRV_CODE_INVALID,
                  "invalid parameter[expected=%s][actual=%s must be %s]", want, key, want);
  return false;
}

bool srv_opt_string(srv_request *req, const char *key, const char **out) {
  json_t *v = srv_get(req, key);
  if (v == NULL || json_is_null(v)) return true;
  if (!json_is_string(v)) return opt_wrong_type(req, key, "a string");
  *out = json_string_value(v);
  return true;
}


bool srv_opt_int(srv_request *req, const char *key, int64_t min, int64_t max,
                 int64_t *out) {
  json_t *v = srv_get(req, key);
  if (v == NULL || json_is_null(v)) return true;
  int64_t x;
  if (!srv_json_int(v, &x)) return opt_wrong_type(req, key, "an integer");
  if (x < min || x > max) {
    srv_reply_error(req, SRV_CODE_INVALID,
                    "invalid parameter[expected=%s in [%lld, %lld]][actual=%lld]", key,
                    (long long)min, (long long)max, (long long)x);
    return false;
  }
  *out = x;
  return true;
}

bool srv_opt_bool(srv_request *req, const char *key, bool *out) {
  json_t *v = srv_get(req, key);
  if (v == NULL || json_is_null(v)) return true;
  if (json_is_boolean(v)) return *out = json_is_true(v), true;
  if (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0) {
    return *out = true, true;
  }
  if (json_is_string(v) && strcasecmp(json_string_value(v), "false") == 0) {
    return *out = false, true;
  }
  return opt_wrong_type(req, key, "a boolean");
}

bool srv_opt_string_list(srv_request *req, const char *key, const char ***out,
                         size_t *count) {
  json_t *v = srv_get(req, key);
  if (v == NULL || json_is_null(v)) return true;
  size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
  if (!json_is_string(v) && !json_is_array(v)) {
    return opt_wrong_type(req, key, "a list of strings");
  }
  const char **list = vs_calloc(n ? n : 1, sizeof *list);
  if (list == NULL) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *item = json_is_string(v) ? v : json_array_get(v, i);
    if (!json_is_string(item)) {
      free(list);
      return opt_wrong_type(req, key, "a list of strings");
    }
    list[i] = json_string_value(item);
  }
  *out = list;
  *count = n;
  return true;
}

/* -------------------------------------------------------------- responses */

static void job_set_text(http_job *job, int status, const char *type,
                         const char *text) {
  free(job->resp);
  job->resp = vs_strdup(text);
  job->resp_len = job->resp ? strlen(text) : 0;
  job->status = status;
  job->code = -1;
  job->content_type = type;
}

/* Serialises an envelope (stolen) into the job's response. */
static void job_set_envelope(http_job *job, int status, json_t *env) {
  free(job->resp);
  job->resp = env ? srv_json_dump(env, NULL) : NULL;
  json_t *code = json_object_get(env, "code");
  job->code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
  json_decref(env);
  if (job->resp == NULL) {
    job->resp = vs_strdup("{\"code\":65535,\"message\":\"internal error: out of memory\"}");
    job->code = 65535;
  }
  job->resp_len = job->resp ? strlen(job->resp) : 0;
  job->status = status;
  job->content_type = HTTP_JSON_TYPE;
}

static void job_set_error(http_job *job, int status, int code, const char *fmt, ...)
    VS_PRINTF(4, 5);
static void job_set_error(http_job *job, int status, int code, const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  job_set_envelope(job, status, error_envelope(code, message));
}

static void add_common_headers(struct MHD_Response *r, const http_job *job) {
  MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
  MHD_add_response_header(r, "Access-Control-Allow-Credentials", "true");
  MHD_add_response_header(r, "Access-Control-Allow-Headers",
                          "Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, "
                          "Authorization, accept, origin, Cache-Control, X-Requested-With");
  MHD_add_response_header(r, "Access-Control-Allow-Methods",
                          "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH");
  if (job->req.request_id[0]) MHD_add_response_header(r, "X-Request-Id", job->req.request_id);
  if (job->content_type) MHD_add_response_header(r, "Content-Type", job->content_type);
  if (atomic_load(&job->http->srv->stopping) || job->too_large) {
    MHD_add_response_header(r, "Connection", "close");
  }
}

/* `handled`: the handler finished and its req fields may be read. */
static const char *job_collection(const http_job *job, bool handled) {
  if (handled && job->req.collection) return job->req.collection;
  json_t *name = srv_obj_get(job->req.body, "collectionName");
  return json_is_string(name) ? json_string_value(name) : NULL;
}

static void job_log(http_job *job, double seconds, bool handled) {
  const srv_config *cfg = &job->http->srv->config;
  double ms = seconds * 1000.0;
  bool probe = job->route == NULL && job->route_label[0] == '/';
  const char *level = probe ? "debug" : "info";
  bool slow = job->route != NULL && ms >= cfg->slow_query_ms && srv_log_enabled(cfg, "warn");
  if (!slow && !srv_log_enabled(cfg, level)) return; /* nothing to build */
  json_t *fields = json_pack(
      "{s:s,s:s,s:s,s:s*,s:s*,s:i,s:i,s:f,s:s*}", "request_id", job->req.request_id,
      "method", job->method, "path", job->url ? job->url : "", "db",
      job->route ? job->req.db_name : NULL, "collection", job_collection(job, handled), "code",
      job->code, "status", job->status, "duration_ms", round(ms * 1000.0) / 1000.0,
      "ran_on", handled ? (job->on_loop ? "event_loop" : "worker") : NULL);
  srv_log(cfg, level, "request", json_deep_copy(fields));
  if (slow) {
    json_t *profile = NULL;
    if (handled && job->req.profile_json) {
      profile = json_loads(job->req.profile_json, 0, NULL);
    }
    json_object_set_new(fields, "profile", profile ? profile : json_null());
    srv_log(cfg, "warn", "slow query", fields);
  } else {
    json_decref(fields);
  }
}

/* Queues the job's response on its connection; logs and counts it.  Runs
 * on the connection's event loop. */
static enum MHD_Result job_send(http_job *job, bool handled) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      job->resp_len, job->resp, MHD_RESPMEM_MUST_FREE);
  if (r == NULL) return MHD_NO;
  job->resp = NULL;
  add_common_headers(r, job);
  enum MHD_Result rc = MHD_queue_response(job->conn, (unsigned)job->status, r);
  MHD_destroy_response(r);
  job->sent = true;
  double seconds = vs_now_s() - job->start;
  srv_metrics_request(job->http->srv->metrics, job->route_label, job->code,
                      job->status, seconds);
  job_log(job, seconds, handled);
  return rc;
}

/* ------------------------------------------------------------------- jobs */

static void job_unref(http_job *job) {
  if (atomic_fetch_sub(&job->refs, 1) != 1) return;
  json_decref(job->req.body);
  json_decref(job->req.response);
  free(job->req.profile_json);
  vs_buf_free(&job->body);
  free(job->resp);
  free(job->url);
  srv_packed_free(&job->packed);
  free(job);
}

static void job_new_id(http_job *job) {
  srv_server *srv = job->http->srv;
  uint64_t n = atomic_fetch_add(&srv->next_request_id, 1) + 1;
  snprintf(job->req.request_id, sizeof job->req.request_id, "%08llx%08llx",
           (unsigned long long)(atomic_load(&http_id_salt) & 0xffffffffu),
           (unsigned long long)n);
}

static http_job *job_new(srv_http *http, struct MHD_Connection *c, const char *url,
                         const char *method) {
  http_job *job = vs_calloc(1, sizeof *job);
  if (job == NULL) return NULL;
  job->http = http;
  job->conn = c;
  atomic_init(&job->refs, 1);
  job->start = vs_now_s();
  snprintf(job->method, sizeof job->method, "%s", method);
  job->url = vs_strdup(url);
  job->route_label = "unknown";
  job->req.server = http->srv;
  job->req.path = job->url;
  job->req.db_name = "default";
  job->req.int64_as_number = http->srv->config.int64_default;
  job->code = -1;
  job_new_id(job);
  job->counted = true;
  atomic_fetch_add(&http_inflight, 1);
  return job;
}

/* ---------------------------------------------------------- test routes */

static void test_echo(srv_request *req) {
  req->profile_json = vs_strdup("{\"phase\":\"echo\",\"rows\":0}");
  req->collection = "echo_collection";
  srv_reply_ok(req, json_pack("{s:s,s:b,s:b,s:O}", "dbName", req->db_name, "int64",
                              req->int64_as_number, "profile", req->profile, "body",
                              req->body));
}

static void test_no_answer(srv_request *req) { (void)req; }

static const srv_route test_routes[] = {
    {"/_test/echo", test_echo, "Global", "Test", 0},
    {"/_test/noanswer", test_no_answer, "Global", "Test", 0},
    {"/_test/quick", test_echo, "Global", "Test", SRV_QUICK_SLOTS},
    {NULL, NULL, NULL, NULL, 0},
};

static const srv_route *find_route(const srv_http *http, const char *url) {
  if (http->test_routes) {
    const char *rest = NULL;
    if (strncmp(url, "/v2/vectordb/", 13) == 0) rest = url + 12;
    if (strncmp(url, "/vectordb/", 10) == 0) rest = url + 9;
    for (const srv_route *r = test_routes; rest && r->path; r++) {
      if (strcmp(r->path, rest) == 0) return r;
    }
  }
  return srv_route_find(url);
}

/* --------------------------------------------------------- request parse */

/* Nesting depth of a JSON text, by a scan that skips strings. */
static size_t json_depth(const char *p, size_t n) {
  size_t depth = 0, max = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (in_string) {
      if (ch == '\\') i++;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '{' || ch == '[') {
      if (++depth > max) max = depth;
    } else if ((ch == '}' || ch == ']') && depth > 0) {
      depth--;
    }
  }
  return max;
}

static const char *header(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Go's strconv.ParseBool. */
static bool parse_go_bool(const char *s, bool *out) {
  static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (size_t i = 0; s && i < 6; i++) {
    if (strcmp(s, yes[i]) == 0) return *out = true, true;
    if (strcmp(s, no[i]) == 0) return *out = false, true;
  }
  return false;
}

static void apply_headers(http_job *job) {
  const srv_config *cfg = &job->http->srv->config;
  bool b;
  if (parse_go_bool(header(job->conn, "Accept-Type-Allow-Int64"), &b)) {
    job->req.int64_as_number = b;
  }
  unsigned timeout = cfg->request_timeout_s;
  const char *t = header(job->conn, "Request-Timeout");
  if (t != NULL) {
    char *end = NULL;
    long v = strtol(t, &end, 10);
    if (end != t && *end == '\0' && v > 0 && v <= 86400) timeout = (unsigned)v;
  }
  job->req.deadline = job->start + timeout;
}

/* dbName: body, then DB-Name header, then "default".  False (and the
 * job's response set) when dbName is not a string. */
static bool resolve_db(http_job *job) {
  json_t *v = srv_obj_get(job->req.body, "dbName");
  const char *name = NULL;
  if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
    job_set_error(job, 200, SRV_CODE_BAD_JSON,
                  HTTP_MSG_BAD_JSON ", error: json: cannot unmarshal into Go struct "
                  "field .dbName of type string");
    return false;
  }
  if (json_is_string(v) && json_string_length(v) > 0) name = json_string_value(v);
  if (name == NULL) name = header(job->conn, "DB-Name");
  if (name == NULL || *name == '\0') name = "default";
  snprintf(job->db_name, sizeof job->db_name, "%s", name);
  job->req.db_name = job->db_name;
  return true;
}

/* Parses the body into job->req; false with the response set on error. */
/* Routes whose handlers read packed vector arrays (h_entities.c). */
static bool route_packs(const srv_route *route) {
  return strcmp(route->path, "/entities/insert") == 0 || strcmp(route->path, "/entities/upsert") == 0 ||
         strcmp(route->path, "/entities/search") == 0;
}

static bool parse_body(http_job *job) {
  const srv_config *cfg = &job->http->srv->config;
  const char *text = (const char *)job->body.data;
  size_t len = job->body.len;
  if (len == 0) {
    job_set_error(job, 200, SRV_CODE_BAD_JSON, HTTP_MSG_BAD_JSON
                  ", the request body should be nil, however {} is valid");
    return false;
  }
  if (json_depth(text, len) > cfg->max_json_depth) {
    job_set_error(job, 200, SRV_CODE_BAD_JSON,
                  HTTP_MSG_BAD_JSON ", error: JSON nested deeper than %u levels",
                  cfg->max_json_depth);
    return false;
  }
  /* Vector arrays go straight to floats (packed.c) on the routes whose
   * handlers read them from there; the rest of the body is parsed. */
  bool packed = job->route && route_packs(job->route) && srv_pack_arrays(text, len, &job->packed);
  json_error_t err;
  json_t *body = packed ? json_loadb(job->packed.text, job->packed.text_len, 0, &err)
                        : json_loadb(text, len, 0, &err);
  if (body == NULL) {
    job_set_error(job, 200, SRV_CODE_BAD_JSON, HTTP_MSG_BAD_JSON ", error: %s", err.text);
    return false;
  }
  if (!json_is_object(body)) {
    json_decref(body);
    job_set_error(job, 200, SRV_CODE_BAD_JSON,
                  HTTP_MSG_BAD_JSON ", error: the body must be a JSON object");
    return false;
  }
  job->req.body = body;
  if (packed) {
    job->req.packed = &job->packed; /* its slots point into job->body */
  } else {
    vs_buf_free(&job->body);
  }
  json_t *profile = srv_obj_get(body, "profile");
  job->req.profile = json_is_true(profile);
  apply_headers(job);
  return resolve_db(job);
}

/* ----------------------------------------------------------- the workers */

static void timer_remove(srv_http *http, http_job *job) {
  if (!job->in_timer) return;
  if (job->timer_prev) job->timer_prev->timer_next = job->timer_next;
  else http->timers = job->timer_next;
  if (job->timer_next) job->timer_next->timer_prev = job->timer_prev;
  job->timer_prev = job->timer_next = NULL;
  job->in_timer = false;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Records a quick route's handler time: the estimate jumps up to a slower
 * sample at once and moves an eighth of the way down towards a faster one,
 * so one slow request sends the route to the workers and only a run of
 * fast ones brings it back.  Racing updates may lose a sample. */
static void quick_note(srv_http *http, const srv_route *route, double seconds) {
  if (route->quick == 0 || route->quick > SRV_QUICK_SLOTS) return;
  double us = seconds * 1e6;
  uint32_t sample = us >= 4e9 ? 4000000000u : (uint32_t)us;
  _Atomic uint32_t *slot = &http->quick_us[route->quick];
  uint32_t old = atomic_load_explicit(slot, memory_order_relaxed);
  uint32_t next = sample >= old ? sample : old - (old - sample) / 8;
  atomic_store_explicit(slot, next, memory_order_relaxed);
}

/* The open connections of the event loop that owns the job's connection
 * (on_connection counts them). */
static unsigned loop_connection_count(const http_job *job) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(job->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  _Atomic unsigned *count = info ? info->socket_context : NULL;
  return count ? atomic_load(count) : 0;
}

/* Whether a parsed request runs on the event loop (see the top of the
 * file): a quick route whose recent handler time is below inline_max_ms,
 * while no more requests are in flight than there are event loops (under
 * load the workers spread the handlers over the cores), while the loop has
 * no other connection (whose requests would wait behind this handler:
 * the in-flight count cannot see them, as a request still unread in its
 * socket is not in flight yet), without a Request-Timeout
 * header (whose 408 must come at the deadline, which only the worker path
 * can do), and not under the test delay hook of the worker path. */
static bool runs_inline(const http_job *job) {
  srv_http *http = job->http;
  double max_ms = http->srv->config.inline_max_ms;
  unsigned slot = job->route->quick;
  if (slot == 0 || slot > SRV_QUICK_SLOTS || max_ms <= 0) return false;
  if (atomic_load(&http_inflight) > http->worker_count) return false;
  if (loop_connection_count(job) != 1) return false;
  if (header(job->conn, "Request-Timeout") != NULL) return false;
  if (http->handler_delay_ms && slot != SRV_QUICK_SLOTS) return false;
  return (double)atomic_load_explicit(&http->quick_us[slot], memory_order_relaxed) <
         max_ms * 1000.0;
}

/* Runs the handler (off the event loop) and serialises its answer into
 * `out`, a scratch job: the timer may be writing the real job's response
 * meanwhile, so the answer is moved in under the lock (job_take_answer). */
static void job_run(http_job *job, http_job *out) {
  srv_http *http = job->http;
  double t0 = vs_now_s();
  if (http->handler_delay_ms) sleep_ms(http->handler_delay_ms);
  job->route->handler(&job->req);
  quick_note(http, job->route, vs_now_s() - t0);
  if (!job->req.answered) {
    srv_log(&http->srv->config, "error", "handler did not answer",
            json_pack("{s:s,s:s}", "route", job->route->path, "request_id",
                      job->req.request_id));
    srv_reply_error(&job->req, 65535, "internal error: handler did not answer");
  }
  json_t *env = job->req.response;
  job->req.response = NULL;
  job_set_envelope(out, job->req.http_status ? job->req.http_status : 200, env);
}

/* Runs the handler on the event loop and answers at once; a handler that
 * overran the default deadline gets the 408 the timer would have sent. */
static enum MHD_Result job_run_inline(http_job *job) {
  job->on_loop = true;
  job_run(job, job);
  if (vs_now_s() > job->req.deadline) {
    job_set_error(job, 408, SRV_CODE_TIMEOUT, "request timeout");
  }
  return job_send(job, true);
}

static void job_take_answer(http_job *job, http_job *from) {
  free(job->resp);
  job->resp = from->resp;
  job->resp_len = from->resp_len;
  job->status = from->status;
  job->code = from->code;
  job->content_type = from->content_type;
  from->resp = NULL;
}

static void *worker_main(void *arg) {
  srv_http *http = arg;
  pthread_mutex_lock(&http->mu);
  for (;;) {
    while (!http->queue_head && !http->stop_threads) {
      pthread_cond_wait(&http->work_cv, &http->mu);
    }
    http_job *job = http->queue_head;
    if (job == NULL) break;
    http->queue_head = job->queue_next;
    if (http->queue_head == NULL) http->queue_tail = NULL;
    if (job->state != JOB_QUEUED) {
      pthread_mutex_unlock(&http->mu);
      job_unref(job);
      pthread_mutex_lock(&http->mu);
      continue;
    }
    job->state = JOB_RUNNING;
    pthread_mutex_unlock(&http->mu);
    http_job answer;
    memset(&answer, 0, sizeof answer);
    job_run(job, &answer);
    pthread_mutex_lock(&http->mu);
    bool resume = job->state == JOB_RUNNING;
    if (resume) {
      job->state = JOB_DONE;
      job_take_answer(job, &answer);
      timer_remove(http, job);
    }
    pthread_mutex_unlock(&http->mu);
    free(answer.resp);
    if (resume) MHD_resume_connection(job->conn);
    job_unref(job);
    pthread_mutex_lock(&http->mu);
  }
  pthread_mutex_unlock(&http->mu);
  return NULL;
}

static struct timespec abs_time(double monotonic_s) {
  struct timespec ts;
  ts.tv_sec = (time_t)monotonic_s;
  ts.tv_nsec = (long)((monotonic_s - (double)ts.tv_sec) * 1e9);
  return ts;
}

/* Under the lock: every job past its deadline becomes TIMED_OUT with the
 * 408 answer; up to `cap` of them are returned for resuming. */
static size_t timer_collect(srv_http *http, double now, http_job **out, size_t cap,
                            double *next_deadline) {
  size_t n = 0;
  *next_deadline = now + 1.0;
  for (http_job *job = http->timers, *next; job != NULL; job = next) {
    next = job->timer_next;
    if (job->req.deadline <= now && n < cap) {
      timer_remove(http, job);
      job->state = JOB_TIMED_OUT;
      job_set_error(job, 408, SRV_CODE_TIMEOUT, "request timeout");
      out[n++] = job;
    } else if (job->req.deadline < *next_deadline) {
      *next_deadline = job->req.deadline;
    }
  }
  return n;
}

static void *timer_main(void *arg) {
  srv_http *http = arg;
  http_job *expired[64];
  pthread_mutex_lock(&http->mu);
  while (!http->stop_threads) {
    double next;
    size_t n = timer_collect(http, vs_now_s(), expired, 64, &next);
    pthread_mutex_unlock(&http->mu);
    for (size_t i = 0; i < n; i++) MHD_resume_connection(expired[i]->conn);
    pthread_mutex_lock(&http->mu);
    if (n > 0) continue;
    http->timer_wake = next;
    struct timespec ts = abs_time(next);
    pthread_cond_timedwait(&http->timer_cv, &http->mu, &ts);
  }
  pthread_mutex_unlock(&http->mu);
  return NULL;
}

/* Suspends the connection and hands the job to the workers. */
static void job_enqueue(http_job *job) {
  srv_http *http = job->http;
  atomic_fetch_add(&job->refs, 1);
  MHD_suspend_connection(job->conn);
  pthread_mutex_lock(&http->mu);
  job->state = JOB_QUEUED;
  if (http->queue_tail) http->queue_tail->queue_next = job;
  else http->queue_head = job;
  http->queue_tail = job;
  job->timer_next = http->timers;
  if (http->timers) http->timers->timer_prev = job;
  http->timers = job;
  job->in_timer = true;
  pthread_cond_signal(&http->work_cv);
  /* the timer wakes at least once a second; wake it early only if this
   * deadline comes before its next wake-up (saves two futex calls) */
  if (job->req.deadline < http->timer_wake) {
    http->timer_wake = job->req.deadline;
    pthread_cond_signal(&http->timer_cv);
  }
  pthread_mutex_unlock(&http->mu);
}

/* ------------------------------------------------------------- dispatch */

static enum MHD_Result answer_probe(http_job *job, const char *url) {
  srv_server *srv = job->http->srv;
  if (strcmp(url, "/healthz") == 0) {
    const char *type = header(job->conn, "Content-Type");
    if (type && strncasecmp(type, "application/json", 16) == 0) {
      job_set_envelope(job, 200, json_pack("{s:s,s:[{s:s,s:i}]}", "state", "OK",
                                           "detail", "name", "vectorstore", "code", 1));
      job->code = -1;
    } else {
      job_set_text(job, 200, HTTP_TEXT_TYPE, "OK");
    }
  } else if (strcmp(url, "/readyz") == 0) {
    bool ready = !atomic_load(&srv->stopping) && srv_catalog_ready(srv->catalog);
    job_set_text(job, ready ? 200 : 503, HTTP_TEXT_TYPE, ready ? "OK" : "not ready");
  } else {
    char *text = srv_metrics_render(srv);
    job_set_text(job, text ? 200 : 500, "text/plain; version=0.0.4; charset=utf-8",
                 text ? text : "metrics unavailable\n");
    free(text);
  }
  return job_send(job, false);
}

static bool is_probe(const char *url) {
  return strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
         strcmp(url, "/metrics") == 0;
}

/* First call of a request: classifies it from the request line and
 * headers.  Answers at once only an oversized declared body (MHD then
 * closes the connection); everything else is answered when the body is
 * complete, because MHD closes a keep-alive connection whose response was
 * queued before that. */
static enum MHD_Result on_headers(http_job *job, const char *url, const char *method) {
  srv_http *http = job->http;
  bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  if (strcmp(method, "OPTIONS") == 0) {
    job->kind = KIND_OPTIONS;
    job->route_label = "options";
    return MHD_YES;
  }
  if (get && is_probe(url)) {
    job->kind = KIND_PROBE;
    job->route_label = url;
    return MHD_YES;
  }
  job->route = strcmp(method, "POST") == 0 ? find_route(http, url) : NULL;
  if (job->route == NULL) {
    job->kind = KIND_NOT_FOUND;
    return MHD_YES;
  }
  job->kind = KIND_API;
  job->route_label = job->route->path;
  const char *length = header(job->conn, "Content-Length");
  if (length != NULL && strtoull(length, NULL, 10) > http->srv->config.max_body_bytes) {
    job->too_large = true;
    job_set_error(job, 200, SRV_CODE_TOO_LARGE,
                  "request body too large: %s bytes, the limit is %zu", length,
                  http->srv->config.max_body_bytes);
    return job_send(job, false);
  }
  return MHD_YES;
}

static void on_body_data(http_job *job, const char *data, size_t size) {
  if (job->kind != KIND_API) return; /* drained */
  size_t limit = job->http->srv->config.max_body_bytes;
  if (job->too_large || job->body.len + size > limit) {
    job->too_large = true;
    vs_buf_free(&job->body);
    return;
  }
  if (vs_buf_append(&job->body, data, size) != VS_OK) {
    job->too_large = true;
    vs_buf_free(&job->body);
  }
}

/* The body is complete: answer errors at once, else queue the handler. */
static enum MHD_Result on_body_done(http_job *job) {
  if (job->kind == KIND_OPTIONS) {
    job_set_text(job, 204, NULL, "");
    return job_send(job, false);
  }
  if (job->kind == KIND_PROBE) return answer_probe(job, job->url);
  if (job->kind == KIND_NOT_FOUND) {
    job_set_text(job, 404, HTTP_TEXT_TYPE, HTTP_NOT_FOUND_TEXT);
    return job_send(job, false);
  }
  if (job->too_large) {
    job_set_error(job, 200, SRV_CODE_TOO_LARGE,
                  "request body too large: the limit is %zu bytes",
                  job->http->srv->config.max_body_bytes);
    return job_send(job, false);
  }
  if (!parse_body(job)) return job_send(job, false);
  if (!srv_authorize(&job->req, job->route)) {
    if (!job->req.answered) srv_reply_error(&job->req, 1401, "permission denied");
    json_t *env = job->req.response;
    job->req.response = NULL;
    job_set_envelope(job, job->req.http_status, env);
    return job_send(job, false);
  }
  if (runs_inline(job)) return job_run_inline(job);
  job_enqueue(job);
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)version;
  http_job *job = *con_cls;
  if (job == NULL) {
    job = job_new(cls, c, url, method);
    if (job == NULL) return MHD_NO;
    *con_cls = job;
    return on_headers(job, url, method);
  }
  if (job->sent) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  srv_http *http = cls;
  pthread_mutex_lock(&http->mu);
  job_state state = job->state;
  pthread_mutex_unlock(&http->mu);
  if (state == JOB_DONE || state == JOB_TIMED_OUT) return job_send(job, state == JOB_DONE);
  if (state != JOB_RECEIVING) return MHD_YES;
  if (*upload_data_size > 0) {
    on_body_data(job, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  return on_body_done(job);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  http_job *job = *con_cls;
  if (job == NULL) return;
  *con_cls = NULL;
  if (job->counted) atomic_fetch_sub(&http_inflight, 1);
  job_unref(job);
}

/* Counts the open connections of each event loop.  MHD calls this on the
 * loop that accepted (STARTED) and owns the connection; the counter's
 * address rides in the socket context, so CLOSED finds it wherever it
 * runs.  A loop's slot is fixed on its first connection. */
static _Thread_local int loop_slot = -1;

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  (void)c;
  srv_http *http = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    if (loop_slot < 0) {
      unsigned slot = atomic_fetch_add(&http->next_loop, 1);
      loop_slot = (int)(slot < HTTP_MAX_LOOPS ? slot : HTTP_MAX_LOOPS - 1);
    }
    _Atomic unsigned *count = &http->loop_connections[loop_slot];
    atomic_fetch_add(count, 1);
    atomic_fetch_add(&http_connections, 1);
    *socket_context = (void *)count;
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL) {
    atomic_fetch_sub((_Atomic unsigned *)*socket_context, 1);
    atomic_fetch_sub(&http_connections, 1);
    *socket_context = NULL;
  }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  srv_http *http = cls;
  char message[1024];
  vsnprintf(message, sizeof message, fmt, ap);
  size_t n = strlen(message);
  while (n > 0 && message[n - 1] == '\n') message[--n] = '\0';
  srv_log(&http->srv->config, "warn", "libmicrohttpd", json_pack("{s:s}", "detail", message));
}

/* ------------------------------------------------------------ start/stop */

static unsigned thread_count(const srv_config *cfg) {
  if (cfg->threads) return cfg->threads;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

static vs_status resolve_bind(const srv_config *cfg, struct sockaddr_storage *addr,
                              bool *ipv6) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  char port[16];
  snprintf(port, sizeof port, "%u", cfg->port);
  int rc = getaddrinfo(cfg->bind[0] ? cfg->bind : NULL, port, &hints, &res);
  if (rc != 0 || res == NULL) {
    return vs_fail(VS_ERR_INVALID, "cannot resolve bind address '%s': %s", cfg->bind,
                   gai_strerror(rc));
  }
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *ipv6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  return VS_OK;
}

static vs_status start_threads(srv_http *http, unsigned n) {
  http->workers = vs_calloc(n, sizeof *http->workers);
  if (http->workers == NULL) return VS_ERR_NOMEM;
  for (unsigned i = 0; i < n; i++) {
    if (pthread_create(&http->workers[i], NULL, worker_main, http) != 0) {
      return vs_fail(VS_ERR_INTERNAL, "cannot start handler threads");
    }
    http->worker_count++;
  }
  if (pthread_create(&http->timer, NULL, timer_main, http) != 0) {
    return vs_fail(VS_ERR_INTERNAL, "cannot start the timer thread");
  }
  http->timer_started = true;
  return VS_OK;
}

static vs_status init_sync(srv_http *http) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_mutex_init(&http->mu, NULL);
  pthread_cond_init(&http->work_cv, NULL);
  pthread_cond_init(&http->timer_cv, &attr);
  pthread_condattr_destroy(&attr);
  return VS_OK;
}

static struct MHD_Daemon *start_daemon(srv_http *http, unsigned threads) {
  const srv_config *cfg = &http->srv->config;
  struct sockaddr_storage addr;
  bool ipv6 = false;
  if (resolve_bind(cfg, &addr, &ipv6) != VS_OK) return NULL;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                   MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                   (ipv6 ? MHD_USE_IPv6 : 0);
  size_t pool = cfg->max_header_bytes + 2048; /* + room for the reply headers */
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, (uint16_t)cfg->port, NULL, NULL, on_request, http,
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, http,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip,
      MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, http,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, http,
      MHD_OPTION_END);
  if (d == NULL) {
    vs_fail(VS_ERR_IO, "cannot listen on %s:%u (is the port in use?)", cfg->bind,
            cfg->port);
  }
  return d;
}

static unsigned env_unsigned(const char *name) {
  const char *v = getenv(name);
  return v ? (unsigned)strtoul(v, NULL, 10) : 0;
}

vs_status srv_http_start(srv_server *srv, srv_http **out) {
  *out = NULL;
  srv_http *http = vs_calloc(1, sizeof *http);
  if (http == NULL) return VS_ERR_NOMEM;
  http->srv = srv;
  http->handler_delay_ms = env_unsigned("VS_TEST_HANDLER_DELAY_MS");
  http->test_routes = env_unsigned("VS_TEST_ROUTES") != 0;
  atomic_store(&http_id_salt, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16));
  init_sync(http);
  unsigned threads = thread_count(&srv->config);
  vs_status st = start_threads(http, threads);
  if (st == VS_OK) {
    http->daemon = start_daemon(http, threads);
    if (http->daemon == NULL) st = VS_ERR_IO;
  }
  if (st != VS_OK) {
    srv_http_stop(http);
    return st;
  }
  *out = http;
  return VS_OK;
}

unsigned srv_http_threads(srv_http *http) { return http->worker_count; }

unsigned srv_http_port(srv_http *http) {
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info ? info->port : http->srv->config.port;
}

/* Stopping: no new connections; wait for in-flight requests. */
static void drain(srv_http *http) {
  MHD_socket fd = MHD_quiesce_daemon(http->daemon);
  if (fd != MHD_INVALID_SOCKET) close(fd);
  double deadline = vs_now_s() + http->srv->config.shutdown_timeout_s;
  while (atomic_load(&http_inflight) > 0 && vs_now_s() < deadline) sleep_ms(10);
  /* Past the deadline: answer what is still waiting (408) so every
   * suspended connection is resumed before MHD stops. */
  pthread_mutex_lock(&http->mu);
  for (http_job *job = http->timers; job != NULL; job = job->timer_next) {
    job->req.deadline = 0;
  }
  pthread_cond_signal(&http->timer_cv);
  pthread_mutex_unlock(&http->mu);
  deadline = vs_now_s() + 2.0;
  while (atomic_load(&http_inflight) > 0 && vs_now_s() < deadline) sleep_ms(10);
}

void srv_http_stop(srv_http *http) {
  if (http == NULL) return;
  atomic_store(&http->srv->stopping, true);
  if (http->daemon) {
    drain(http);
    MHD_stop_daemon(http->daemon);
  }
  pthread_mutex_lock(&http->mu);
  http->stop_threads = true;
  pthread_cond_broadcast(&http->work_cv);
  pthread_cond_broadcast(&http->timer_cv);
  pthread_mutex_unlock(&http->mu);
  for (unsigned i = 0; i < http->worker_count; i++) pthread_join(http->workers[i], NULL);
  if (http->timer_started) pthread_join(http->timer, NULL);
  free(http->workers);
  pthread_mutex_destroy(&http->mu);
  pthread_cond_destroy(&http->work_cv);
  pthread_cond_destroy(&http->timer_cv);
  free(http);
}
