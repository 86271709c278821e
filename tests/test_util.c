/*
 * test_util.c -- unit tests for src/util: bitsets, top-k heaps, the thread
 * pool, buffers and the hostile-bytes reader, errors, time and logging.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* ------------------------------------------------------------------ logging */

/* Runs fn with stderr redirected to a temporary file; returns the captured
 * text (malloc'd). */
static char *capture_stderr(void (*fn)(void)) {
  char dir[] = "/tmp/vs_test_util_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/stderr.txt", dir);
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fd, STDERR_FILENO) >= 0);
  fn();
  fflush(stderr);
  assert_true(dup2(saved, STDERR_FILENO) >= 0);
  close(saved);
  off_t size = lseek(fd, 0, SEEK_END);
  assert_true(size >= 0);
  char *text = calloc(1, (size_t)size + 1);
  assert_non_null(text);
  assert_int_equal(pread(fd, text, (size_t)size, 0), size);
  close(fd);
  unlink(path);
  rmdir(dir);
  return text;
}

static void log_with_env_level(void) {
  vs_log(VS_LOG_WARN, "test", "warn is below error");
  vs_log(VS_LOG_ERROR, "test", "error passes");
}

/* Must run before anything in this process logs: VS_LOG_LEVEL is read once,
 * so the check runs in a forked child whose logger is still unread. */
static void test_log_level_from_env(void **state) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setenv("VS_LOG_LEVEL", "ERROR", 1);
    char *text = capture_stderr(log_with_env_level);
    int ok = strstr(text, "warn is below error") == NULL &&
             strstr(text, " error test: error passes\n") != NULL;
    free(text);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

static void log_some_lines(void) {
  vs_log_set_level(VS_LOG_INFO);
  vs_log(VS_LOG_DEBUG, "test", "debug is hidden");
  vs_log(VS_LOG_INFO, "test", "hello %d", 42);
  vs_log(VS_LOG_WARN, "storage", "two\nlines\r");
  char big[5000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  vs_log(VS_LOG_ERROR, "big", "%s|end", big);
  vs_log_set_level(VS_LOG_WARN);
  vs_log(VS_LOG_INFO, "test", "info is hidden again");
}

static void test_log_format(void **state) {
  char *text = capture_stderr(log_some_lines);
  assert_null(strstr(text, "hidden"));
  regex_t re;
  const char *pattern =
      "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z info test: hello 42\n"
      "[0-9T:.Z-]{24} warn storage: two lines \n"
      "[0-9T:.Z-]{24} error big: x{4999}\\|end\n$";
  assert_int_equal(regcomp(&re, pattern, REG_EXTENDED), 0);
  int rc = regexec(&re, text, 0, NULL, 0);
  if (rc != 0) print_error("log output did not match:\n%s\n", text);
  assert_int_equal(rc, 0);
  regfree(&re);
  free(text);
}

static void test_time(void **state) {
  uint64_t prev = vs_now_ns();
  for (int i = 0; i < 1000; i++) {
    uint64_t now = vs_now_ns();
    assert_true(now >= prev);
    prev = now;
  }
  double s = vs_now_s();
  double from_ns = (double)vs_now_ns() / 1e9;
  assert_true(from_ns >= s && from_ns - s < 1.0);
}

/* ------------------------------------------------------------------- errors */

static void test_errors(void **state) {
  vs_clear_error();
  assert_string_equal(vs_error_message(), "");
  assert_int_equal(vs_fail(VS_ERR_INVALID, "row %d is bad", 12), VS_ERR_INVALID);
  assert_string_equal(vs_error_message(), "row 12 is bad");
  assert_int_equal(vs_fail_prefix(VS_ERR_CORRUPT, "file %s", "a.seg"), VS_ERR_CORRUPT);
  assert_string_equal(vs_errmsg(NULL), "file a.seg: row 12 is bad");
  assert_string_equal(vs_status_name(VS_ERR_NOT_FOUND), "NOT_FOUND");
  assert_string_equal(vs_strerror((vs_status)9999), "unknown status");
  assert_int_equal(vs_status_http(VS_ERR_AUTH), 401);
  vs_clear_error();
}

/* ------------------------------------------------------------------- bitset */

static void test_bitset_basic(void **state) {
  vs_bitset b;
  assert_int_equal(vs_bitset_init(&b, 130), VS_OK);
  assert_int_equal(vs_bitset_count(&b), 0);
  vs_bitset_set(&b, 0);
  vs_bitset_set(&b, 63);
  vs_bitset_set(&b, 64);
  vs_bitset_set(&b, 129);
  assert_true(vs_bitset_test(&b, 0) && vs_bitset_test(&b, 63));
  assert_true(vs_bitset_test(&b, 64) && vs_bitset_test(&b, 129));
  assert_false(vs_bitset_test(&b, 1) || vs_bitset_test(&b, 128));
  assert_int_equal(vs_bitset_count(&b), 4);
  vs_bitset_clear(&b, 63);
  assert_int_equal(vs_bitset_count(&b), 3);

  /* grow keeps bits, new bits are zero */
  assert_int_equal(vs_bitset_resize(&b, 1000), VS_OK);
  assert_int_equal(b.nbits, 1000);
  assert_int_equal(vs_bitset_count(&b), 3);
  for (size_t i = 130; i < 1000; i++) assert_false(vs_bitset_test(&b, i));
  vs_bitset_set(&b, 999);
  assert_int_equal(vs_bitset_count(&b), 4);

  /* shrink drops bits past the end (in the same word too); growing again
   * does not resurrect them */
  vs_bitset_set(&b, 100);
  assert_int_equal(vs_bitset_resize(&b, 65), VS_OK);
  assert_int_equal(vs_bitset_count(&b), 2);
  assert_int_equal(vs_bitset_resize(&b, 1000), VS_OK);
  assert_false(vs_bitset_test(&b, 100));
  assert_false(vs_bitset_test(&b, 129));
  assert_false(vs_bitset_test(&b, 999));
  assert_int_equal(vs_bitset_count(&b), 2);
  vs_bitset_free(&b);
  assert_null(b.words);
  assert_int_equal(b.nbits, 0);
}

static void test_bitset_empty_and_copy(void **state) {
  vs_bitset empty;
  assert_int_equal(vs_bitset_init(&empty, 0), VS_OK);
  assert_int_equal(vs_bitset_count(&empty), 0);
  vs_bitset_free(&empty);

  vs_bitset grown = {0};
  assert_int_equal(vs_bitset_resize(&grown, 1), VS_OK);
  vs_bitset_set(&grown, 0);
  assert_int_equal(vs_bitset_count(&grown), 1);

  vs_bitset src;
  assert_int_equal(vs_bitset_init(&src, 200), VS_OK);
  for (size_t i = 0; i < 200; i += 3) vs_bitset_set(&src, i);
  vs_bitset dst = {0};
  assert_int_equal(vs_bitset_copy(&dst, &src), VS_OK);
  assert_int_equal(dst.nbits, 200);
  assert_int_equal(vs_bitset_count(&dst), 67);
  vs_bitset_clear(&src, 0);
  assert_true(vs_bitset_test(&dst, 0));
  /* copying into a live bitset replaces its storage */
  assert_int_equal(vs_bitset_copy(&grown, &src), VS_OK);
  assert_int_equal(grown.nbits, 200);
  assert_int_equal(vs_bitset_count(&grown), 66);
  vs_bitset_free(&grown);
  vs_bitset_free(&src);
  vs_bitset_free(&dst);
}

static void test_bitset_random(void **state) {
  enum { N = 777 };
  bool truth[N] = {false};
  vs_bitset b;
  assert_int_equal(vs_bitset_init(&b, N), VS_OK);
  for (int step = 0; step < 20000; step++) {
    size_t i = rng_next() % N;
    if (rng_next() & 1) {
      vs_bitset_set(&b, i);
      truth[i] = true;
    } else {
      vs_bitset_clear(&b, i);
      truth[i] = false;
    }
  }
  size_t expected = 0;
  for (size_t i = 0; i < N; i++) {
    assert_int_equal(vs_bitset_test(&b, i), truth[i]);
    expected += truth[i];
  }
  assert_int_equal(vs_bitset_count(&b), expected);
  vs_bitset_free(&b);
}

/* --------------------------------------------------------------------- topk */

typedef struct pair {
  float dist;
  int64_t id;
} pair;

static int cmp_ascending(const void *a, const void *b) {
  const pair *x = a, *y = b;
  if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_descending(const void *a, const void *b) {
  const pair *x = a, *y = b;
  if (x->dist != y->dist) return x->dist > y->dist ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Pushes n pairs into a top-k heap and checks the result equals the first
 * min(k, n) pairs of a full sort. */
static void check_topk(const pair *items, size_t n, size_t k, int larger) {
  vs_topk h;
  assert_int_equal(vs_topk_init(&h, k, larger), VS_OK);
  for (size_t i = 0; i < n; i++) {
    size_t before = h.size;
    bool accept = vs_topk_would_accept(&h, items[i].dist);
    float root = h.size ? h.dist[0] : 0;
    int64_t root_id = h.size ? h.id[0] : 0;
    vs_topk_push(&h, items[i].dist, items[i].id);
    bool changed = h.size != before || h.dist[0] != root || h.id[0] != root_id;
    if (changed) assert_true(accept);
  }
  size_t want = n < k ? n : k;
  assert_int_equal(h.size, want);
  pair *sorted = malloc((n ? n : 1) * sizeof *sorted);
  float *dist = malloc((want ? want : 1) * sizeof *dist);
  int64_t *id = malloc((want ? want : 1) * sizeof *id);
  assert_true(sorted && dist && id);
  memcpy(sorted, items, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, larger ? cmp_descending : cmp_ascending);
  vs_topk_sorted(&h, dist, id);
  assert_int_equal(h.size, 0);
  for (size_t i = 0; i < want; i++) {
    assert_true(dist[i] == sorted[i].dist);
    assert_int_equal(id[i], sorted[i].id);
  }
  free(sorted);
  free(dist);
  free(id);
  vs_topk_free(&h);
}

static void test_topk_against_sort(void **state) {
  enum { N = 3000 };
  pair *items = malloc(N * sizeof *items);
  assert_non_null(items);
  for (size_t i = 0; i < N; i++) {
    /* few distinct distances: many ties, settled by id */
    items[i].dist = (float)(rng_next() % 50) * 0.5f - 5.0f;
    items[i].id = (int64_t)(rng_next() % 100000) - 50000;
  }
  static const size_t ks[] = {1, 2, 7, 100, 1000, 2999, 3000, 5000};
  for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
    check_topk(items, N, ks[t], 0);
    check_topk(items, N, ks[t], 1);
  }
  check_topk(items, 0, 10, 0);
  check_topk(items, 5, 0, 1);
  free(items);
}

static void test_topk_large_k(void **state) {
  enum { N = 40000, K = 16384 };
  pair *items = malloc(N * sizeof *items);
  assert_non_null(items);
  for (size_t i = 0; i < N; i++) {
    items[i].dist = (float)(rng_next() % 1000000) / 1000.0f;
    items[i].id = (int64_t)i;
  }
  check_topk(items, N, K, 0);
  check_topk(items, N, K, 1);
  free(items);
}

static void test_topk_ties_nan_reuse(void **state) {
  vs_topk h;
  assert_int_equal(vs_topk_init(&h, 3, 0), VS_OK);
  vs_topk_push(&h, 1.0f, 9);
  vs_topk_push(&h, NAN, 1);
  vs_topk_push(&h, 1.0f, 5);
  vs_topk_push(&h, 1.0f, 7); /* evicts the NaN */
  vs_topk_push(&h, 1.0f, 8); /* evicts id 9 */
  vs_topk_push(&h, 1.0f, 8); /* equal to the worst: not better, ignored */
  float dist[3];
  int64_t id[3];
  vs_topk_sorted(&h, dist, id);
  assert_int_equal(id[0], 5);
  assert_int_equal(id[1], 7);
  assert_int_equal(id[2], 8);

  /* reuse after sorted, and reset */
  vs_topk_push(&h, 2.0f, 1);
  vs_topk_push(&h, NAN, 0);
  assert_int_equal(h.size, 2);
  vs_topk_sorted(&h, dist, NULL);
  assert_true(dist[0] == 2.0f);
  assert_true(isnan(dist[1]));
  vs_topk_push(&h, 2.0f, 1);
  vs_topk_reset(&h);
  assert_int_equal(h.size, 0);
  vs_topk_free(&h);

  assert_true(vs_topk_better(0, 1.0f, 5, 2.0f, 1));
  assert_true(vs_topk_better(1, 2.0f, 5, 1.0f, 1));
  assert_true(vs_topk_better(1, 2.0f, 1, 2.0f, 5));
  assert_false(vs_topk_better(0, 2.0f, 5, 2.0f, 5));
  assert_true(vs_topk_better(1, -1e30f, 5, NAN, 1));
  assert_false(vs_topk_better(0, NAN, 1, 1e30f, 5));
}

/* --------------------------------------------------------------------- pool */

typedef struct sum_job {
  uint8_t *hits;
  atomic_ullong total;
  pthread_t caller;
  atomic_int off_caller;
} sum_job;

static void sum_task(void *arg, size_t i) {
  sum_job *job = arg;
  job->hits[i]++;
  atomic_fetch_add(&job->total, i);
  if (!pthread_equal(pthread_self(), job->caller)) atomic_fetch_add(&job->off_caller, 1);
}

static void run_sum(vs_pool *pool, size_t count, uint32_t max_threads, sum_job *job) {
  job->hits = calloc(count ? count : 1, 1);
  assert_non_null(job->hits);
  atomic_init(&job->total, 0);
  atomic_init(&job->off_caller, 0);
  job->caller = pthread_self();
  vs_pool_run(pool, count, max_threads, sum_task, job);
  for (size_t i = 0; i < count; i++) assert_int_equal(job->hits[i], 1);
  assert_int_equal(atomic_load(&job->total), (unsigned long long)count * (count - 1) / 2);
  free(job->hits);
}

static void test_pool_sums(void **state) {
  vs_pool *pool = NULL;
  assert_int_equal(vs_pool_new(0, &pool), VS_OK);
  assert_int_equal(vs_pool_size(pool), vs_cpu_count());
  vs_pool_free(pool);

  assert_int_equal(vs_pool_new(4, &pool), VS_OK);
  assert_int_equal(vs_pool_size(pool), 4);
  sum_job job;
  run_sum(pool, 200000, 0, &job);
  run_sum(pool, 1, 0, &job);
  run_sum(pool, 3, 2, &job);
  run_sum(pool, 0, 0, &job);
  /* max_threads 1: the caller does everything */
  run_sum(pool, 1000, 1, &job);
  assert_int_equal(atomic_load(&job.off_caller), 0);
  vs_pool_free(pool);

  /* a pool of one has no workers; a NULL pool runs inline */
  assert_int_equal(vs_pool_new(1, &pool), VS_OK);
  run_sum(pool, 5000, 0, &job);
  assert_int_equal(atomic_load(&job.off_caller), 0);
  vs_pool_free(pool);
  run_sum(NULL, 100, 0, &job);
  assert_int_equal(atomic_load(&job.off_caller), 0);
}

static void never_called(void *arg, size_t i) { fail_msg("task %zu ran for count 0", i); }

static void test_pool_count_zero_and_limits(void **state) {
  vs_pool *pool = NULL;
  assert_int_equal(vs_pool_new(3, &pool), VS_OK);
  for (int i = 0; i < 100; i++) vs_pool_run(pool, 0, 0, never_called, NULL);
  vs_pool_free(pool);
  vs_pool_free(NULL);
  pool = (vs_pool *)&pool;
  assert_int_equal(vs_pool_new(100000, &pool), VS_ERR_LIMIT);
  assert_null(pool);
  assert_non_null(strstr(vs_error_message(), "100000"));
}

typedef struct concurrent_arg {
  vs_pool *pool;
  int rounds;
  int failures;
} concurrent_arg;

static void *concurrent_caller(void *opaque) {
  concurrent_arg *ca = opaque;
  for (int r = 0; r < ca->rounds; r++) {
    size_t count = 1 + (size_t)r * 37 % 3000;
    sum_job job;
    job.hits = calloc(count, 1);
    if (!job.hits) {
      ca->failures++;
      continue;
    }
    atomic_init(&job.total, 0);
    atomic_init(&job.off_caller, 0);
    job.caller = pthread_self();
    vs_pool_run(ca->pool, count, (uint32_t)(r % 4), sum_task, &job);
    for (size_t i = 0; i < count; i++) ca->failures += job.hits[i] != 1;
    ca->failures += atomic_load(&job.total) != (unsigned long long)count * (count - 1) / 2;
    free(job.hits);
  }
  return NULL;
}

static void test_pool_concurrent_callers(void **state) {
  enum { CALLERS = 6 };
  vs_pool *pool = NULL;
  assert_int_equal(vs_pool_new(3, &pool), VS_OK);
  pthread_t threads[CALLERS];
  concurrent_arg args[CALLERS];
  for (int i = 0; i < CALLERS; i++) {
    args[i] = (concurrent_arg){.pool = pool, .rounds = 200, .failures = 0};
    assert_int_equal(pthread_create(&threads[i], NULL, concurrent_caller, &args[i]), 0);
  }
  for (int i = 0; i < CALLERS; i++) {
    assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(args[i].failures, 0);
  }
  vs_pool_free(pool);
}

typedef struct nested_arg {
  vs_pool *pool;
  atomic_int inner_calls;
} nested_arg;

static void nested_inner(void *opaque, size_t i) {
  nested_arg *na = opaque;
  atomic_fetch_add(&na->inner_calls, 1);
}

static void nested_outer(void *opaque, size_t i) {
  nested_arg *na = opaque;
  vs_pool_run(na->pool, 50, 0, nested_inner, na);
}

static void test_pool_nested(void **state) {
  nested_arg na;
  assert_int_equal(vs_pool_new(8, &na.pool), VS_OK);
  atomic_init(&na.inner_calls, 0);
  vs_pool_run(na.pool, 40, 0, nested_outer, &na);
  assert_int_equal(atomic_load(&na.inner_calls), 40 * 50);
  vs_pool_free(na.pool);
}

/* ------------------------------------------------------- allocation, buffers */

static void test_alloc_overflow(void **state) {
  size_t out = 0;
  assert_true(vs_mul_ok(1000, 1000, &out));
  assert_int_equal(out, 1000000);
  assert_false(vs_mul_ok(SIZE_MAX / 2 + 1, 2, &out));
  assert_true(vs_add_ok(SIZE_MAX - 1, 1, &out));
  assert_false(vs_add_ok(SIZE_MAX, 1, &out));
  assert_null(vs_calloc(SIZE_MAX / 4, 8));
  assert_null(vs_reallocarray(NULL, SIZE_MAX / 2 + 1, 2));
  void *p = vs_malloc(0);
  assert_non_null(p);
  free(p);
  p = vs_aligned_alloc(64, 100);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % 64, 0);
  free(p);
  char *s = vs_strndup("abcdef", 3);
  assert_string_equal(s, "abc");
  free(s);
  s = vs_strdup("xyz");
  assert_string_equal(s, "xyz");
  free(s);
  assert_null(vs_strdup(NULL));
}

static void test_buf(void **state) {
  vs_buf b = {0};
  assert_int_equal(vs_buf_append(&b, "ab", 2), VS_OK);
  assert_int_equal(vs_buf_append_u8(&b, 0x7f), VS_OK);
  assert_int_equal(vs_buf_append_u32(&b, 0x11223344u), VS_OK);
  assert_int_equal(vs_buf_append_u64(&b, 0x0102030405060708ull), VS_OK);
  static const uint8_t expect[] = {'a', 'b', 0x7f, 0x44, 0x33, 0x22, 0x11,
                                   8,   7,   6,    5,    4,    3,    2,   1};
  assert_int_equal(b.len, sizeof expect);
  assert_memory_equal(b.data, expect, sizeof expect);
  assert_int_equal(vs_buf_align(&b, 8), VS_OK);
  assert_int_equal(b.len, 16);
  assert_int_equal(b.data[15], 0);
  assert_int_equal(vs_buf_printf(&b, "%0300d", 7), VS_OK);
  assert_int_equal(b.len, 316);
  assert_int_equal(b.data[315], '7');
  assert_int_equal(b.data[316], '\0');
  assert_int_equal(vs_load_u32(b.data + 3), 0x11223344u);
  assert_int_equal(vs_load_u64(b.data + 7), 0x0102030405060708ull);

  vs_clear_error();
  assert_int_equal(vs_buf_reserve(&b, SIZE_MAX), VS_ERR_NOMEM);
  assert_string_not_equal(vs_error_message(), "");
  assert_int_equal(b.len, 316);
  vs_buf_free(&b);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
}

static void test_reader(void **state) {
  uint8_t bytes[13];
  vs_store_u32(bytes, 0xdeadbeefu);
  vs_store_u64(bytes + 4, 0x1122334455667788ull);
  bytes[12] = 0x5a;
  vs_reader r;
  vs_reader_init(&r, bytes, sizeof bytes);
  assert_int_equal(vs_read_u32(&r), 0xdeadbeefu);
  assert_int_equal(vs_read_u64(&r), 0x1122334455667788ull);
  assert_non_null(vs_read_bytes(&r, 0));
  assert_int_equal(vs_read_u8(&r), 0x5a);
  assert_false(r.failed);
  assert_int_equal(r.pos, 13);
  /* past the end: zero and a sticky failure */
  assert_int_equal(vs_read_u8(&r), 0);
  assert_true(r.failed);

  vs_reader_init(&r, bytes, sizeof bytes);
  assert_int_equal(vs_read_u64(&r), vs_load_u64(bytes));
  assert_int_equal(vs_read_u64(&r), 0); /* 5 bytes left: short */
  assert_true(r.failed);
  assert_null(vs_read_bytes(&r, 1)); /* sticky even though bytes remain */
  assert_int_equal(vs_read_u32(&r), 0);

  vs_reader_init(&r, bytes, sizeof bytes);
  vs_read_u8(&r);
  assert_null(vs_read_bytes(&r, SIZE_MAX)); /* no wrap-around */
  assert_true(r.failed);
  vs_reader_init(&r, bytes, sizeof bytes);
  assert_ptr_equal(vs_read_bytes(&r, 13), bytes);
  assert_false(r.failed);
  vs_reader_init(&r, NULL, 0);
  assert_int_equal(vs_read_u32(&r), 0);
  assert_true(r.failed);
}

static void test_hash(void **state) {
  assert_int_equal(vs_hash64("abc", 3), vs_hash64("abc", 3));
  assert_int_not_equal(vs_hash64("abc", 3), vs_hash64("abd", 3));
  assert_int_not_equal(vs_hash64_seed("abc", 3, 1), vs_hash64_seed("abc", 3, 2));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_log_level_from_env), /* first: nothing logged yet */
      cmocka_unit_test(test_log_format),
      cmocka_unit_test(test_time),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_bitset_basic),
      cmocka_unit_test(test_bitset_empty_and_copy),
      cmocka_unit_test(test_bitset_random),
      cmocka_unit_test(test_topk_against_sort),
      cmocka_unit_test(test_topk_large_k),
      cmocka_unit_test(test_topk_ties_nan_reuse),
      cmocka_unit_test(test_pool_sums),
      cmocka_unit_test(test_pool_count_zero_and_limits),
      cmocka_unit_test(test_pool_concurrent_callers),
      cmocka_unit_test(test_pool_nested),
      cmocka_unit_test(test_alloc_overflow),
      cmocka_unit_test(test_buf),
      cmocka_unit_test(test_reader),
      cmocka_unit_test(test_hash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
