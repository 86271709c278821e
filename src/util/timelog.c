/*
 * timelog.c -- clocks and the process-wide logger.
 *
 * Time: vs_now_ns reads CLOCK_MONOTONIC (never jumps with wall-clock
 * changes), for durations, timeouts and query profiles.  Wall-clock time is
 * used only for the timestamp of log lines.
 *
 * Logging: one line per message on stderr,
 *
 *     2026-11-24T05:00:00.123Z warn simd: message text
 *
 * (UTC, millisecond precision, level in lower case, then the module name).
 * The threshold comes from the environment variable VS_LOG_LEVEL
 * (debug|info|warn|error, case-insensitive; "warning" is accepted; unset or
 * unknown = warn), read once on first use; vs_log_set_level overrides it.
 * Carriage returns and newlines inside a message become spaces, so a client
 * string quoted in a message cannot forge extra log lines.
 *
 * Locking: the threshold is an atomic int (read on every call without a
 * lock).  A line is formatted into a private buffer first and written with a
 * single fwrite under flockfile(stderr), so lines from concurrent threads
 * never interleave.
 *
 * Alternatives rejected: syslog (the server runs in containers that collect
 * stderr); a logging thread with a queue (log volume is low -- warnings and
 * slow queries -- so the simplicity of writing in place wins).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/util.h"

#define LOG_LINE_STACK 1024

uint64_t vs_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double vs_now_s(void) { return (double)vs_now_ns() / 1e9; }

/* ---------------------------------------------------------------- logging */

static atomic_int log_threshold = VS_LOG_WARN;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

static void log_read_env(void) {
  const char *env = getenv("VS_LOG_LEVEL");
  if (!env || !*env) return;
  int level = -1;
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(env, log_level_names[i]) == 0) level = i;
  }
  if (strcasecmp(env, "warning") == 0) level = VS_LOG_WARN;
  if (level >= 0) atomic_store(&log_threshold, level);
}

void vs_log_set_level(vs_log_level level) {
  pthread_once(&log_once, log_read_env);
  if (level < VS_LOG_DEBUG) level = VS_LOG_DEBUG;
  if (level > VS_LOG_ERROR) level = VS_LOG_ERROR;
  atomic_store(&log_threshold, (int)level);
}

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) into out. */
static void log_timestamp(char out[32]) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* Replaces CR and LF with spaces so one message stays one line. */
static void log_flatten(char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\n' || s[i] == '\r') s[i] = ' ';
  }
}

/* Formats "ts level module: " + message + "\n" into buf (or a heap buffer
 * when it does not fit; *heap is set then and must be freed).  Returns the
 * line length, or 0 on failure. */
static size_t log_format(char *buf, size_t cap, char **heap, vs_log_level level,
                         const char *module, const char *fmt, va_list ap) {
  char ts[32];
  va_list again;
  log_timestamp(ts);
  int head = snprintf(buf, cap, "%s %s %s: ", ts, log_level_names[level], module ? module : "-");
  if (head < 0 || (size_t)head >= cap) return 0;
  va_copy(again, ap);
  int body = vsnprintf(buf + head, cap - (size_t)head, fmt, ap);
  size_t total = (size_t)head + (body > 0 ? (size_t)body : 0);
  if (body >= 0 && total + 1 >= cap) {
    char *big = malloc(total + 2);
    if (big) {
      memcpy(big, buf, (size_t)head);
      vsnprintf(big + head, (size_t)body + 1, fmt, again);
      *heap = big;
      buf = big;
    } else {
      total = cap - 2; /* keep what fitted */
    }
  }
  va_end(again);
  if (body < 0) total = (size_t)head;
  log_flatten(buf + head, total - (size_t)head);
  buf[total] = '\n';
  return total + 1;
}

void vs_log(vs_log_level level, const char *module, const char *fmt, ...) {
  pthread_once(&log_once, log_read_env);
  if (level < VS_LOG_DEBUG || level > VS_LOG_ERROR) level = VS_LOG_ERROR;
  if ((int)level < atomic_load(&log_threshold)) return;
  char stack[LOG_LINE_STACK];
  char *heap = NULL;
  va_list ap;
  va_start(ap, fmt);
  size_t len = log_format(stack, sizeof stack, &heap, level, module, fmt, ap);
  va_end(ap);
  if (len > 0) {
    flockfile(stderr);
    fwrite(heap ? heap : stack, 1, len, stderr);
    fflush(stderr);
    funlockfile(stderr);
  }
  free(heap);
}
