/*
 * errors.c -- the error table and per-thread messages.
 *
 * Every code, name, message, Milvus REST code and HTTP status comes from the
 * one X-macro list VS_STATUS_TABLE in vectorstore.h; this file only derives
 * lookups from it.  Messages live in a thread-local buffer: a vs_db handle
 * is shared by many threads, so a per-handle buffer would let one thread's
 * error overwrite another's before it is read (faiss's C API keeps its last
 * error per thread for the same reason).
 */
#include <stdio.h>
#include <string.h>

#include "util/util.h"

#define VS_ERRMSG_MAX 1024

static _Thread_local char thread_message[VS_ERRMSG_MAX];

typedef struct status_entry {
  vs_status status;
  const char *name;
  const char *message;
  int milvus_code;
  int http_status;
} status_entry;

static const status_entry status_table[] = {
#define VS_X_ENTRY(name, num, shortname, msg, milvus, http) \
  {name, shortname, msg, milvus, http},
    VS_STATUS_TABLE(VS_X_ENTRY)
#undef VS_X_ENTRY
};

static const status_entry *status_lookup(vs_status status) {
  for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++) {
    if (status_table[i].status == status) return &status_table[i];
  }
  return NULL;
}

const char *vs_strerror(vs_status status) {
  const status_entry *e = status_lookup(status);
  return e ? e->message : "unknown status";
}

const char *vs_status_name(vs_status status) {
  const status_entry *e = status_lookup(status);
  return e ? e->name : "UNKNOWN";
}

int vs_status_milvus_code(vs_status status) {
  const status_entry *e = status_lookup(status);
  return e ? e->milvus_code : 65535;
}

int vs_status_http(vs_status status) {
  const status_entry *e = status_lookup(status);
  return e ? e->http_status : 500;
}

vs_status vs_fail(vs_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(thread_message, sizeof thread_message, fmt, ap);
  va_end(ap);
  return status;
}

vs_status vs_fail_prefix(vs_status status, const char *fmt, ...) {
  char prefix[VS_ERRMSG_MAX];
  char old[VS_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, thread_message, sizeof old);
  size_t used = strnlen(prefix, sizeof prefix - 1);
  memcpy(thread_message, prefix, used);
  if (old[0] != '\0' && used + 2 < sizeof thread_message) {
    memcpy(thread_message + used, ": ", 2);
    used += 2;
    size_t rest = strnlen(old, sizeof old);
    if (rest > sizeof thread_message - 1 - used) rest = sizeof thread_message - 1 - used;
    memcpy(thread_message + used, old, rest);
    used += rest;
  }
  thread_message[used] = '\0';
  return status;
}

void vs_clear_error(void) { thread_message[0] = '\0'; }

const char *vs_error_message(void) { return thread_message; }

const char *vs_errmsg(const vs_db *db) {
  VS_UNUSED(db);
  return thread_message;
}
