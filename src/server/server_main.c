/*
 * server_main.c -- `vectorstore serve`: start-up, signals, graceful
 * shutdown, and the structured log every part of the server writes to.
 *
 * Start-up order: settings (config.c) -> signals blocked in every thread
 * -> metrics registry -> databases (catalog.c; vs_open takes an exclusive
 * lock on the data directory, so a second server on the same directory
 * stops here with a clear message and exit code 1) -> HTTP (http.c) ->
 * one "listening" log line.
 *
 * Signals: SIGTERM, SIGINT and SIGHUP are blocked before any thread starts
 * (threads inherit the mask), and the main thread waits for them with
 * sigwait().  No handler runs in signal context, so shutdown is ordinary
 * code: stop accepting, let in-flight requests finish (up to
 * shutdown_timeout_s), stop the threads, close the databases
 * (srv_catalog_close makes every acknowledged write durable), exit 0.
 * SIGPIPE is ignored: a client that hangs up must not kill the server.
 *
 * Logs: one line per event on stderr, JSON by default (time, level, msg and
 * the event's fields), or "text" for humans.  A line is written with one
 * write(2), which POSIX keeps whole on a pipe up to PIPE_BUF and Linux keeps
 * whole on regular files, so concurrent requests never interleave.
 *
 * Alternatives rejected:
 *  - A signal handler setting a flag polled by a loop: a wake-up latency or
 *    a self-pipe, for what sigwait gives directly.
 *  - syslog: containers collect stderr; a JSON line per event is what log
 *    shippers parse without configuration.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "util/util.h"

/* ------------------------------------------------------------------ logs */

static int level_rank(const char *level) {
  static const char *const names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++) {
    if (strcmp(level, names[i]) == 0) return i;
  }
  return 1;
}

static void format_time(char *out, size_t cap) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, cap, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

static void write_line(char *line) {
  size_t n = strlen(line);
  line[n] = '\n';
  size_t done = 0;
  while (done < n + 1) {
    ssize_t w = write(STDERR_FILENO, line + done, n + 1 - done);
    if (w <= 0) break;
    done += (size_t)w;
  }
  line[n] = '\0';
}

static char *text_line(const char *time_text, const char *level, const char *msg,
                       json_t *fields) {
  vs_buf b = {0};
  vs_buf_printf(&b, "%s %-5s %s", time_text, level, msg);
  const char *key;
  json_t *v;
  json_object_foreach(fields, key, v) {
    if (json_is_string(v)) {
      vs_buf_printf(&b, " %s=%s", key, json_string_value(v));
    } else {
      char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
      vs_buf_printf(&b, " %s=%s", key, text ? text : "?");
      free(text);
    }
  }
  vs_buf_append_u8(&b, '\0');
  vs_buf_append_u8(&b, '\0'); /* room for write_line's newline */
  return (char *)b.data;
}

bool srv_log_enabled(const srv_config *cfg, const char *level) {
  return level_rank(level) >= level_rank(cfg->log_level);
}

void srv_log(const srv_config *cfg, const char *level, const char *msg,
             json_t *fields) {
  if (!srv_log_enabled(cfg, level)) {
    json_decref(fields);
    return;
  }
  char time_text[48];
  format_time(time_text, sizeof time_text);
  if (fields == NULL) fields = json_object();
  char *line = NULL;
  if (strcmp(cfg->log_format, "text") == 0) {
    line = text_line(time_text, level, msg, fields);
  } else {
    json_t *obj = json_pack("{s:s,s:s,s:s}", "time", time_text, "level", level, "msg", msg);
    json_object_update(obj, fields);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(obj);
    if (text != NULL) {
      line = malloc(strlen(text) + 2);
      if (line) strcpy(line, text);
      free(text);
    }
  }
  json_decref(fields);
  if (line != NULL) write_line(line);
  free(line);
}

/* --------------------------------------------------------------- serving */

static void block_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static vs_log_level engine_log_level(const char *level) {
  static const vs_log_level levels[] = {VS_LOG_DEBUG, VS_LOG_INFO, VS_LOG_WARN,
                                        VS_LOG_ERROR};
  return levels[level_rank(level)];
}

static int open_catalog(srv_server *srv) {
  vs_status st = srv_catalog_open(srv, &srv->catalog);
  if (st == VS_OK) return 0;
  const char *why = vs_errmsg(NULL);
  if (st == VS_ERR_BUSY) {
    fprintf(stderr,
            "error: the data directory %s is in use by another vectorstore "
            "process (%s); stop it first or choose another --data\n",
            srv->config.data_dir, *why ? why : vs_strerror(st));
  } else {
    fprintf(stderr, "error: cannot open the data directory %s: %s\n",
            srv->config.data_dir, *why ? why : vs_strerror(st));
  }
  return 1;
}

static void log_listening(srv_server *srv, srv_http *http) {
  const srv_config *cfg = &srv->config;
  srv_log(cfg, "info", "listening",
          json_pack("{s:s,s:i,s:s,s:i,s:s,s:s}", "bind", cfg->bind, "port",
                    (int)srv_http_port(http), "data", cfg->data_dir, "threads",
                    (int)srv_http_threads(http), "simd", vs_simd_level(), "version",
                    vs_version()));
}

static int wait_for_signal(const sigset_t *set) {
  int sig = 0;
  while (sigwait(set, &sig) != 0) {
  }
  return sig;
}

int srv_serve_main(int argc, char **argv) {
  static srv_server srv; /* one server per process; large (PATH_MAX) */
  memset(&srv, 0, sizeof srv);
  int rc = srv_config_load(&srv.config, argc, argv);
  if (rc != 0) return rc == -1 ? 0 : rc;
  sigset_t set;
  block_signals(&set);
  vs_log_set_level(engine_log_level(srv.config.log_level));
  if (srv_metrics_new(&srv.metrics) != VS_OK) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  if (open_catalog(&srv) != 0) {
    srv_metrics_free(srv.metrics);
    return 1;
  }
  srv_http *http = NULL;
  if (srv_http_start(&srv, &http) != VS_OK) {
    fprintf(stderr, "error: %s\n", vs_errmsg(NULL));
    srv_catalog_close(srv.catalog);
    srv_metrics_free(srv.metrics);
    return 1;
  }
  log_listening(&srv, http);
  int sig = wait_for_signal(&set);
  srv_log(&srv.config, "info", "shutting down",
          json_pack("{s:s,s:i}", "signal", strsignal(sig), "inflight",
                    (int)srv_http_inflight()));
  srv_http_stop(http);
  srv_catalog_close(srv.catalog);
  srv_metrics_free(srv.metrics);
  srv_log(&srv.config, "info", "stopped", NULL);
  return 0;
}
