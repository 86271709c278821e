/*
 * test_server_crash.c -- acknowledged inserts survive SIGKILL of the real
 * server.
 *
 * Each round: a client thread inserts batches through /entities/insert
 * (ids increasing, each batch's ids recorded once the server answers code
 * 0), while the main thread waits a random 20..400 ms and SIGKILLs the
 * server.  The server is restarted on the same data directory and every
 * acknowledged id must be readable with /entities/get, with its vector
 * intact.  Batches in flight at the kill may or may not be there; the next
 * round starts above every id ever sent so it never collides with them.
 *
 * Rounds: env VS_CRASH_ROUNDS (default 5).  Seed: env VS_TEST_SEED.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/testserver.h"
#include "support/testutil.h"

#define BATCH 64
#define DIM 8
#define MAX_IDS (1 << 20)

static ts_server srv;

typedef struct writer {
  int64_t next_id;              /* first id of the next batch */
  int64_t *acked;               /* acknowledged ids */
  size_t acked_count;
  atomic_bool stop;
  size_t batches;
} writer;

static float component(int64_t id, int j) { return (float)((id * 31 + j * 7) % 1000) / 8.0f; }

static char *batch_body(int64_t first) {
  size_t cap = 64 + BATCH * (48 + DIM * 16);
  char *body = malloc(cap);
  size_t n = (size_t)snprintf(body, cap, "{\"collectionName\":\"crash\",\"data\":[");
  for (int r = 0; r < BATCH; r++) {
    n += (size_t)snprintf(body + n, cap - n, "%s{\"id\":%lld,\"vector\":[", r ? "," : "",
                          (long long)(first + r));
    for (int j = 0; j < DIM; j++) {
      n += (size_t)snprintf(body + n, cap - n, "%s%.3f", j ? "," : "", (double)component(first + r, j));
    }
    n += (size_t)snprintf(body + n, cap - n, "]}");
  }
  snprintf(body + n, cap - n, "]}");
  return body;
}

static void *writer_main(void *arg) {
  writer *w = arg;
  while (!atomic_load(&w->stop) && w->acked_count + BATCH <= MAX_IDS) {
    int64_t first = w->next_id;
    w->next_id += BATCH;  /* never reused, acknowledged or not */
    char *body = batch_body(first);
    json_t *env = ts_post(&srv, "/entities/insert", body, NULL);
    free(body);
    long code = ts_code(env);
    json_decref(env);
    if (code != 0) break; /* the server is gone (or refused): stop */
    for (int r = 0; r < BATCH; r++) w->acked[w->acked_count++] = first + r;
    w->batches++;
  }
  return NULL;
}

static void restart(void) {
  char *dir = strdup(srv.data_dir);
  ts_destroy(&srv, 1);
  assert_int_equal(ts_start(&srv, dir, NULL, NULL), 0);
  free(dir);
}

/* Every acknowledged id is there, with its vector. */
static void verify(const writer *w) {
  for (size_t start = 0; start < w->acked_count; start += 256) {
    size_t end = start + 256 < w->acked_count ? start + 256 : w->acked_count;
    size_t cap = 32 + (end - start) * 24;
    char *body = malloc(cap);
    size_t n = (size_t)snprintf(body, cap, "{\"collectionName\":\"crash\",\"id\":[");
    for (size_t i = start; i < end; i++) {
      n += (size_t)snprintf(body + n, cap - n, "%s%lld", i > start ? "," : "", (long long)w->acked[i]);
    }
    snprintf(body + n, cap - n, "]}");
    json_t *env = ts_post(&srv, "/entities/get", body, NULL);
    free(body);
    assert_int_equal(ts_code(env), 0);
    json_t *rows = json_object_get(env, "data");
    if (json_array_size(rows) != end - start) {
      fprintf(stderr, "ids %lld..%lld: %zu of %zu acknowledged rows found\n",
              (long long)w->acked[start], (long long)w->acked[end - 1], json_array_size(rows),
              end - start);
    }
    assert_int_equal(json_array_size(rows), end - start);
    json_t *row = json_array_get(rows, 0);
    int64_t id = json_integer_value(json_object_get(row, "id"));
    json_t *vec = json_object_get(row, "vector");
    assert_int_equal(json_array_size(vec), DIM);
    for (int j = 0; j < DIM; j++) {
      assert_true(json_number_value(json_array_get(vec, j)) == (double)component(id, j));
    }
    json_decref(env);
  }
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_acknowledged_inserts_survive_sigkill(void **state) {
  (void)state;
  uint64_t rng = tu_seed("test_server_crash");
  unsigned rounds = (unsigned)tu_env_u64("VS_CRASH_ROUNDS", 5);
  writer w = {.next_id = 1, .acked = malloc(MAX_IDS * sizeof(int64_t))};
  assert_int_equal(ts_start(&srv, NULL, NULL, NULL), 0);
  json_t *env = ts_post(&srv, "/collections/create", "{\"collectionName\":\"crash\","
                        "\"dimension\":8,\"metricType\":\"L2\"}", NULL);
  assert_int_equal(ts_code(env), 0);
  json_decref(env);
  for (unsigned round = 0; round < rounds; round++) {
    pthread_t thread;
    atomic_store(&w.stop, false);
    assert_int_equal(pthread_create(&thread, NULL, writer_main, &w), 0);
    sleep_ms(20 + (long)tu_rand_below(&rng, 380)); /* the random moment of the crash */
    ts_kill(&srv);
    atomic_store(&w.stop, true);
    pthread_join(thread, NULL);
    fprintf(stderr, "round %u: %zu ids acknowledged so far (%zu batches)\n", round,
            w.acked_count, w.batches);
    restart();
    verify(&w);
  }
  assert_true(w.acked_count > 0);
  assert_int_equal(ts_stop(&srv), 0);
  ts_destroy(&srv, 0);
  free(w.acked);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_acknowledged_inserts_survive_sigkill),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
