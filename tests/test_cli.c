/*
 * test_cli.c -- black-box tests of the `vectorstore` command line.
 *
 * Each test runs the real binary (env VS_BIN) with posix_spawn in a fresh
 * temporary directory, stdout and stderr captured to files, and asserts on
 * the exit code and the output.  Data files (.fvecs, .bvecs, .ivecs,
 * .jsonl, gzip IDX) are written by the test; the ground truth for recall is
 * computed here by brute force, and since search is exact the expected
 * recall is 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

extern char **environ;

typedef struct ctx {
  char dir[256];
  char db[300];
  char *out;
  char *err;
} ctx;

static const char *vs_bin(void) { return getenv("VS_BIN"); }

/* ---------------------------------------------------------------- helpers */

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return strdup("");
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  buf[len] = '\0';
  fclose(f);
  return buf;
}

static void path_in(const ctx *c, char *out, size_t size, const char *name) {
  snprintf(out, size, "%s/%s", c->dir, name);
}

/* Runs VS_BIN with the NULL-terminated arguments; returns its exit code
 * (128 + signal if it was killed). */
static int run_cli(ctx *c, const char *first, ...) {
  const char *argv[64];
  int argc = 0;
  argv[argc++] = vs_bin();
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
    assert_true(argc < 63);
    argv[argc++] = a;
  }
  va_end(ap);
  argv[argc] = NULL;

  char out_path[512], err_path[512];
  path_in(c, out_path, sizeof out_path, "stdout.txt");
  path_in(c, err_path, sizeof err_path, "stderr.txt");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int rc = posix_spawn(&pid, vs_bin(), &fa, NULL, (char *const *)argv,
                       environ);
  posix_spawn_file_actions_destroy(&fa);
  assert_int_equal(rc, 0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  free(c->out);
  free(c->err);
  c->out = read_text(out_path);
  c->err = read_text(err_path);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

/* Asserts `needle` is in `hay`, printing both otherwise. */
#define assert_contains(hay, needle)                                        \
  do {                                                                      \
    if (strstr((hay), (needle)) == NULL) {                                  \
      print_error("expected to find \"%s\" in:\n%s\n", (needle), (hay));    \
      fail();                                                               \
    }                                                                       \
  } while (0)

#define assert_run(c, expected, ...)                                        \
  do {                                                                      \
    int code_ = run_cli((c), __VA_ARGS__, (const char *)NULL);              \
    if (code_ != (expected)) {                                              \
      print_error("exit %d, expected %d\nstdout:\n%s\nstderr:\n%s\n",       \
                  code_, (expected), (c)->out, (c)->err);                   \
      fail();                                                               \
    }                                                                       \
  } while (0)

static uint64_t rng_state = 88172645463325252ull;

static float rand_float(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((rng_state >> 11) % 1000000) / 1000000.0f;
}

static void random_vectors(float *v, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] = rand_float() * 2.0f - 1.0f;
}

static void put_le32(FILE *f, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  assert_int_equal(fwrite(b, 1, 4, f), 4);
}

static void put_float(FILE *f, float x) {
  uint32_t bits;
  memcpy(&bits, &x, 4);
  put_le32(f, bits);
}

/* Writes rows x dim floats as .fvecs. */
static void write_fvecs(const char *path, const float *v, size_t rows,
                        uint32_t dim) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t r = 0; r < rows; r++) {
    put_le32(f, dim);
    for (uint32_t i = 0; i < dim; i++) put_float(f, v[r * dim + i]);
  }
  assert_int_equal(fclose(f), 0);
}

static void write_ivecs(const char *path, const int32_t *v, size_t rows,
                        uint32_t dim) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t r = 0; r < rows; r++) {
    put_le32(f, dim);
    for (uint32_t i = 0; i < dim; i++) put_le32(f, (uint32_t)v[r * dim + i]);
  }
  assert_int_equal(fclose(f), 0);
}

static int32_t *read_ivecs(const char *path, size_t *rows, uint32_t *dim) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t cap = 1024, len = 0;
  int32_t *data = malloc(cap * sizeof *data);
  *rows = 0;
  *dim = 0;
  uint8_t b[4];
  while (fread(b, 1, 4, f) == 4) {
    uint32_t d = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                 (uint32_t)b[3] << 24;
    if (*dim == 0) *dim = d;
    assert_int_equal(d, *dim);
    for (uint32_t i = 0; i < d; i++) {
      assert_int_equal(fread(b, 1, 4, f), 4);
      if (len == cap) data = realloc(data, (cap *= 2) * sizeof *data);
      data[len++] = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                              (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    }
    (*rows)++;
  }
  fclose(f);
  return data;
}

/* Brute-force top-k by squared L2 (ties: smaller id). */
static void brute_force(const float *base, size_t n, const float *queries,
                        size_t nq, uint32_t dim, uint32_t k, int32_t *out) {
  double *dist = malloc(n * sizeof *dist);
  for (size_t q = 0; q < nq; q++) {
    for (size_t r = 0; r < n; r++) {
      double s = 0;
      for (uint32_t i = 0; i < dim; i++) {
        double d = (double)base[r * dim + i] - (double)queries[q * dim + i];
        s += d * d;
      }
      dist[r] = s;
    }
    for (uint32_t j = 0; j < k; j++) {
      size_t best = SIZE_MAX;
      for (size_t r = 0; r < n; r++) {
        if (dist[r] < 0) continue;
        if (best == SIZE_MAX || dist[r] < dist[best]) best = r;
      }
      out[q * k + j] = (int32_t)best;
      dist[best] = -1.0;
    }
  }
  free(dist);
}

/* The number after "key" in text, or -1. */
static long long number_after(const char *text, const char *key) {
  const char *p = strstr(text, key);
  if (p == NULL) return -1;
  p += strlen(key);
  while (*p == ' ') p++;
  return strtoll(p, NULL, 10);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int setup(void **state) {
  if (vs_bin() == NULL) {
    print_message("VS_BIN is not set (ctest sets it to the vectorstore binary)\n");
    return -1;
  }
  ctx *c = calloc(1, sizeof *c);
  snprintf(c->dir, sizeof c->dir, "/tmp/vs-test-cli-XXXXXX");
  assert_non_null(mkdtemp(c->dir));
  snprintf(c->db, sizeof c->db, "%s/db", c->dir);
  *state = c;
  return 0;
}

static int teardown(void **state) {
  ctx *c = *state;
  nftw(c->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(c->out);
  free(c->err);
  free(c);
  return 0;
}

/* Imports `rows` random vectors of `dim` into collection `name`; returns
 * the vectors (caller frees). */
static float *import_random(ctx *c, const char *name, size_t rows,
                            uint32_t dim, const char *file) {
  char path[512];
  path_in(c, path, sizeof path, file);
  float *v = malloc(rows * dim * sizeof *v);
  random_vectors(v, rows * dim);
  write_fvecs(path, v, rows, dim);
  assert_run(c, 0, "import", c->db, name, path, "--fsync", "none",
             "--batch", "64");
  return v;
}

/* ------------------------------------------------------------------ tests */

static void test_version(void **state) {
  ctx *c = *state;
  assert_run(c, 0, "version");
  assert_true(strncmp(c->out, "vectorstore 0.1.0 (simd: ", 25) == 0);
  const char *level = c->out + 25;
  assert_true(strcmp(level, "avx512)\n") == 0 ||
              strcmp(level, "avx2)\n") == 0 ||
              strcmp(level, "reference)\n") == 0);
  assert_run(c, 2, "version", "extra");
}

static void test_help_and_unknown_command(void **state) {
  ctx *c = *state;
  assert_run(c, 0, "help");
  assert_contains(c->out, "import");
  assert_contains(c->out, "search");
  assert_contains(c->out, "check");
  assert_run(c, 0, "--help");
  assert_contains(c->out, "demo");
  assert_run(c, 0, "help", "search");
  assert_contains(c->out, "--truth");
  assert_run(c, 0, "import", "--help");
  assert_contains(c->out, "usage: vectorstore import");
  assert_run(c, 2, "frobnicate");
  assert_contains(c->err, "unknown command 'frobnicate'");
  assert_contains(c->err, "import");
}

static void test_usage_errors(void **state) {
  ctx *c = *state;
  assert_run(c, 2, "import", c->db, "x", "f.fvecs", "--bogus", "1");
  assert_contains(c->err, "unknown flag '--bogus'");
  assert_contains(c->err, "usage: vectorstore import");
  assert_run(c, 2, "search", c->db, "x", "q.fvecs", "--k", "abc");
  assert_contains(c->err, "--k");
  assert_run(c, 2, "search", c->db, "x", "q.fvecs", "--k=0");
  assert_run(c, 2, "search", c->db, "x", "q.fvecs", "--k");
  assert_contains(c->err, "needs a value");
  assert_run(c, 2, "import", c->db, "x");
  assert_contains(c->err, "expected 3 arguments");
  assert_run(c, 2, "import", c->db, "x", "f.fvecs", "--fsync", "sometimes");
  assert_run(c, 2, "import", c->db, "x", "f.fvecs", "--metric", "HAMMING");
  assert_run(c, 2, "import", c->db, "x", "f.csv");
  assert_contains(c->err, ".fvecs, .bvecs or .jsonl");
  assert_run(c, 2, "import", c->db, "x", "f.fvecs", "--batch", "5",
             "--batch", "6");
  assert_contains(c->err, "given twice");
  /* Nothing above may have created the database. */
  assert_int_not_equal(access(c->db, F_OK), 0);
}

static void test_import_search_truth_out(void **state) {
  ctx *c = *state;
  const size_t n = 300, nq = 20;
  const uint32_t dim = 16, k = 10;
  float *base = import_random(c, "vecs", n, dim, "base.fvecs");
  assert_contains(c->out, "imported 300 rows into vecs in ");
  assert_contains(c->out, "rows/s)");

  float *queries = malloc(nq * dim * sizeof *queries);
  random_vectors(queries, nq * dim);
  int32_t *truth = malloc(nq * k * sizeof *truth);
  brute_force(base, n, queries, nq, dim, k, truth);
  char qpath[512], tpath[512], opath[512];
  path_in(c, qpath, sizeof qpath, "queries.fvecs");
  path_in(c, tpath, sizeof tpath, "truth.ivecs");
  path_in(c, opath, sizeof opath, "result.ivecs");
  write_fvecs(qpath, queries, nq, dim);
  write_ivecs(tpath, truth, nq, k);

  assert_run(c, 0, "search", c->db, "vecs", qpath, "--k=10", "--truth",
             tpath, "--out", opath, "--batch", "7", "--threads", "2");
  assert_contains(c->out, "recall@10: 1.0000");
  assert_contains(c->out, "searched 20 queries");
  assert_contains(c->out, "queries/s");
  assert_contains(c->out, "p50");
  assert_contains(c->out, "p99");

  size_t rows = 0;
  uint32_t out_dim = 0;
  int32_t *result = read_ivecs(opath, &rows, &out_dim);
  assert_int_equal(rows, nq);
  assert_int_equal(out_dim, k);
  for (size_t q = 0; q < nq; q++) {
    assert_int_equal(result[q * k], truth[q * k]); /* nearest first */
    for (uint32_t i = 0; i < k; i++) {
      int found = 0;
      for (uint32_t j = 0; j < k; j++) found |= result[q * k + i] == truth[q * k + j];
      assert_true(found);
    }
  }

  /* A truth file with fewer ids per query than k is refused. */
  assert_run(c, 1, "search", c->db, "vecs", qpath, "--k", "11", "--truth",
             tpath);
  assert_contains(c->err, "fewer than --k");

  assert_run(c, 0, "stats", c->db);
  assert_contains(c->out, "collection vecs");
  assert_int_equal(number_after(c->out, "rows:"), 300);
  assert_contains(c->out, "\"vector\"");
  assert_run(c, 0, "stats", c->db, "vecs");
  assert_int_equal(number_after(c->out, "rows:"), 300);
  assert_run(c, 1, "stats", c->db, "nope");

  assert_run(c, 0, "check", c->db);
  assert_contains(c->out, "ok: ");
  free(result);
  free(truth);
  free(queries);
  free(base);
}

static void test_search_prints_hits(void **state) {
  ctx *c = *state;
  const uint32_t dim = 5;
  char bpath[512], qpath[512];
  path_in(c, bpath, sizeof bpath, "base.bvecs");
  path_in(c, qpath, sizeof qpath, "q.fvecs");
  FILE *f = fopen(bpath, "wb");
  assert_non_null(f);
  float query[5];
  for (uint32_t r = 0; r < 40; r++) {
    put_le32(f, dim);
    for (uint32_t i = 0; i < dim; i++) {
      uint8_t b = (uint8_t)((r * 37 + i * 11) % 251);
      assert_int_equal(fwrite(&b, 1, 1, f), 1);
      if (r == 7) query[i] = (float)b;
    }
  }
  assert_int_equal(fclose(f), 0);
  write_fvecs(qpath, query, 1, dim);
  assert_run(c, 0, "import", c->db, "bytes", bpath, "--fsync", "none",
             "--metric", "L2", "--partition", "p1");
  assert_contains(c->out, "imported 40 rows into bytes");
  assert_run(c, 0, "stats", c->db, "bytes");
  assert_int_equal(number_after(c->out, "partitions:"), 2);
  assert_int_equal(number_after(c->out, "rows:"), 40);
  assert_run(c, 0, "search", c->db, "bytes", qpath, "--k", "3");
  assert_contains(c->out, "query 0: 3 hits");
  assert_contains(c->out, " 1. id 7 ");
  assert_contains(c->out, "distance 0 ");
}

static void test_reimport_fails_on_duplicates(void **state) {
  ctx *c = *state;
  float *v = import_random(c, "dup", 50, 4, "dup.fvecs");
  char path[512];
  path_in(c, path, sizeof path, "dup.fvecs");
  assert_run(c, 1, "import", c->db, "dup", path, "--fsync", "none");
  assert_non_null(strcasestr(c->err, "duplicate"));
  assert_run(c, 0, "stats", c->db, "dup");
  assert_int_equal(number_after(c->out, "rows:"), 50);
  /* A file of another dimension does not fit the collection. */
  float w[6] = {0};
  path_in(c, path, sizeof path, "other.fvecs");
  write_fvecs(path, w, 2, 3);
  assert_run(c, 1, "import", c->db, "dup", path, "--fsync", "none");
  assert_contains(c->err, "dimension 4");
  free(v);
}

static void test_missing_file(void **state) {
  ctx *c = *state;
  char path[512];
  path_in(c, path, sizeof path, "absent.fvecs");
  assert_run(c, 1, "import", c->db, "x", path);
  assert_contains(c->err, "error: ");
  assert_contains(c->err, "absent.fvecs");
  assert_int_not_equal(access(c->db, F_OK), 0);
  assert_run(c, 1, "stats", c->db);
  assert_run(c, 1, "search", c->db, "x", path);
}

static void test_truncated_fvecs(void **state) {
  ctx *c = *state;
  char path[512];
  path_in(c, path, sizeof path, "trunc.fvecs");
  float v[24];
  random_vectors(v, 24);
  write_fvecs(path, v, 6, 4);
  assert_int_equal(truncate(path, 6 * 20 - 9), 0); /* row 5 loses 9 bytes */
  assert_run(c, 1, "import", c->db, "t", path, "--fsync", "none");
  assert_contains(c->err, "row 5 is truncated");
  assert_contains(c->err, "trunc.fvecs");
  assert_int_not_equal(access(c->db, F_OK), 0);

  /* An empty file and a zero dimension are refused too. */
  assert_int_equal(truncate(path, 0), 0);
  assert_run(c, 1, "import", c->db, "t", path);
  assert_contains(c->err, "empty");
  FILE *f = fopen(path, "wb");
  put_le32(f, 0);
  fclose(f);
  assert_run(c, 1, "import", c->db, "t", path);
  assert_contains(c->err, "out of range");
  f = fopen(path, "wb");
  put_le32(f, 40000);
  fclose(f);
  assert_run(c, 1, "import", c->db, "t", path);
  assert_contains(c->err, "out of range");
}

static void test_inconsistent_dim(void **state) {
  ctx *c = *state;
  char path[512];
  path_in(c, path, sizeof path, "mixed.fvecs");
  /* Row 3 has dimension 3: the size no longer adds up, the header scan
   * names the row before anything is imported. */
  FILE *f = fopen(path, "wb");
  for (int r = 0; r < 5; r++) {
    uint32_t d = r == 3 ? 3 : 4;
    put_le32(f, d);
    for (uint32_t i = 0; i < d; i++) put_float(f, (float)(r + i));
  }
  fclose(f);
  assert_run(c, 1, "import", c->db, "m", path, "--fsync", "none");
  assert_contains(c->err, "row 3 has dimension 3, but row 0 has 4");
  assert_int_not_equal(access(c->db, F_OK), 0);

  /* Row 2's header says 5 but the size adds up: caught while streaming. */
  f = fopen(path, "wb");
  for (int r = 0; r < 5; r++) {
    put_le32(f, r == 2 ? 5 : 4);
    for (uint32_t i = 0; i < 4; i++) put_float(f, (float)(r + i));
  }
  fclose(f);
  assert_run(c, 1, "import", c->db, "m", path, "--fsync", "none");
  assert_contains(c->err, "row 2 has dimension 5, but row 0 has 4");

  /* A NaN is named by row and component. */
  float v[8] = {1, 2, 3, 4, 5, NAN, 7, 8};
  write_fvecs(path, v, 2, 4);
  assert_run(c, 1, "import", c->db, "m2", path, "--fsync", "none");
  assert_contains(c->err, "row 1, component 1 is not a finite number");
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static const char *schema_json =
    "{\"enableDynamicField\":false,\"fields\":["
    "{\"name\":\"id\",\"type\":\"Int64\",\"isPrimary\":true,\"autoID\":false},"
    "{\"name\":\"vector\",\"type\":\"FloatVector\",\"dim\":3,\"metric\":\"L2\"},"
    "{\"name\":\"title\",\"type\":\"VarChar\",\"maxLength\":32}]}";

static void jsonl_lines(char *buf, size_t size, int count, int bad_line) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 1; i <= count; i++) {
    if (i == bad_line) {
      len += (size_t)snprintf(buf + len, size - len,
                              "{\"id\":%d,\"vector\":[1,2,\n",
                              i);
    } else {
      len += (size_t)snprintf(buf + len, size - len,
                              "{\"id\":%d,\"vector\":[%d,0.5,1],"
                              "\"title\":\"row %d\"}\n",
                              i, i, i);
    }
  }
}

static void test_jsonl(void **state) {
  ctx *c = *state;
  char spath[512], jpath[512], qpath[512];
  char text[4096];
  path_in(c, spath, sizeof spath, "schema.json");
  path_in(c, jpath, sizeof jpath, "rows.jsonl");
  path_in(c, qpath, sizeof qpath, "q.fvecs");
  write_text(spath, schema_json);

  /* Without the collection and without --schema: a hint, nothing created. */
  jsonl_lines(text, sizeof text, 10, 0);
  write_text(jpath, text);
  assert_run(c, 1, "import", c->db, "docs", jpath, "--fsync", "none");
  assert_contains(c->err, "create it first");

  assert_run(c, 0, "import", c->db, "docs", jpath, "--schema", spath,
             "--fsync", "none", "--batch", "3");
  assert_contains(c->out, "imported 10 rows into docs");
  assert_run(c, 0, "stats", c->db, "docs");
  assert_int_equal(number_after(c->out, "rows:"), 10);
  assert_contains(c->out, "\"title\"");

  float q[3] = {4, 0.5f, 1};
  write_fvecs(qpath, q, 1, 3);
  assert_run(c, 0, "search", c->db, "docs", qpath, "--k", "2", "--output",
             "title");
  assert_contains(c->out, " 1. id 4 ");
  assert_contains(c->out, "row 4");

  /* Line 5 is bad; with batches of 2, lines 1-4 are in, nothing of 5-6. */
  jsonl_lines(text, sizeof text, 6, 5);
  write_text(jpath, text);
  assert_run(c, 1, "import", c->db, "docs2", jpath, "--schema", spath,
             "--fsync", "none", "--batch", "2");
  assert_contains(c->err, "line 5");
  assert_contains(c->err, "nothing of lines 5..6 was imported");
  assert_run(c, 0, "stats", c->db, "docs2");
  assert_int_equal(number_after(c->out, "rows:"), 4);

  /* A line cannot carry two objects; blank lines are skipped. */
  write_text(jpath,
             "{\"id\":1,\"vector\":[1,2,3],\"title\":\"a\"}\n\n"
             "{\"id\":2,\"vector\":[1,2,3],\"title\":\"b\"},"
             "{\"id\":3,\"vector\":[1,2,3],\"title\":\"c\"}\n");
  assert_run(c, 1, "import", c->db, "docs3", jpath, "--schema", spath,
             "--fsync", "none");
  assert_contains(c->err, "line 3");
  assert_run(c, 0, "stats", c->db, "docs3");
  assert_int_equal(number_after(c->out, "rows:"), 0);
}

/* The output is exactly these lines, in any order (rows come out in
 * storage order, which spreads ids over shards). */
static void assert_lines(const char *out, const char *const *lines) {
  size_t n = 0, got = 0;
  for (; lines[n]; n++) {
    char line[256];
    snprintf(line, sizeof line, "%s\n", lines[n]);
    assert_contains(out, line);
  }
  for (const char *p = out; *p; p++) got += *p == '\n';
  assert_int_equal(got, n);
}

/* `query` and `search --filter --profile` over rows imported from .jsonl
 * with scalar, JSON and dynamic fields: the printed rows are exactly the
 * ones the filter selects (the test knows the data), --count agrees, and a
 * bad filter is exit 1 with the position and a caret. */
static void test_query_and_filtered_search(void **state) {
  ctx *c = *state;
  char spath[512], jpath[512], qpath[512];
  char text[8192];
  size_t len = 0;
  path_in(c, spath, sizeof spath, "schema.json");
  path_in(c, jpath, sizeof jpath, "rows.jsonl");
  path_in(c, qpath, sizeof qpath, "q.fvecs");
  write_text(spath,
             "{\"enableDynamicField\":true,\"fields\":["
             "{\"name\":\"id\",\"type\":\"Int64\",\"isPrimary\":true},"
             "{\"name\":\"vector\",\"type\":\"FloatVector\",\"dim\":2,\"metric\":\"L2\"},"
             "{\"name\":\"year\",\"type\":\"Int32\"},"
             "{\"name\":\"info\",\"type\":\"JSON\"}]}");
  for (int i = 1; i <= 20; i++) {
    len += (size_t)snprintf(text + len, sizeof text - len,
                            "{\"id\":%d,\"vector\":[%d,0],\"year\":%d,"
                            "\"info\":{\"tags\":[\"t%d\"],\"n\":%d},\"color\":\"%s\"}\n",
                            i, i, 2000 + i, i % 3, i, i % 2 ? "red" : "blue");
  }
  write_text(jpath, text);
  assert_run(c, 0, "import", c->db, "q", jpath, "--schema", spath, "--fsync", "none");

  /* year > 2015 and color == "red": ids 17, 19 (odd ids are red). */
  assert_run(c, 0, "query", c->db, "q", "--filter", "year > 2015 and color == \"red\"",
             "--output", "year");
  assert_lines(c->out, (const char *const[]){"{\"id\":17,\"year\":2017}", "{\"id\":19,\"year\":2019}", NULL});
  /* JSON path and json_contains: ids with i % 3 == 1 and n >= 10. */
  assert_run(c, 0, "query", c->db, "q", "--filter",
             "json_contains(info[\"tags\"], \"t1\") and info[\"n\"] >= 10", "--output", "id");
  assert_lines(c->out, (const char *const[]){"{\"id\":10}", "{\"id\":13}", "{\"id\":16}", "{\"id\":19}", NULL});
  assert_run(c, 0, "query", c->db, "q", "--filter", "id <= 10", "--count");
  assert_string_equal(c->out, "10\n");
  assert_run(c, 0, "query", c->db, "q", "--filter", "id > 0", "--limit", "2", "--offset", "3",
             "--output", "id");
  size_t lines = 0;
  for (const char *p = c->out; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 2);
  assert_run(c, 1, "query", c->db, "q", "--filter", "year >");
  assert_contains(c->err, "position 6");
  assert_contains(c->err, "^");

  /* Filtered search: the nearest blue row to (5, 0) is 4 or 6; with
   * id > 5 it must be 6; the profile names the optimizer's choice. */
  float q[2] = {5, 0};
  write_fvecs(qpath, q, 1, 2);
  assert_run(c, 0, "search", c->db, "q", qpath, "--k", "1", "--filter",
             "color == \"blue\" and id > 5", "--profile");
  assert_contains(c->out, " 1. id 6 ");
  assert_contains(c->out, "profile: {");
  assert_contains(c->out, "\"choice\":");
  assert_run(c, 1, "search", c->db, "q", qpath, "--filter", "year == \"x\"");
  assert_contains(c->err, "year");
  /* A name that is not a field is a dynamic key (Milvus): no row has it. */
  assert_run(c, 0, "search", c->db, "q", qpath, "--filter", "nope == 1");
  assert_contains(c->out, "query 0: 0 hits");
}

static void test_search_dimension_mismatch(void **state) {
  ctx *c = *state;
  float *v = import_random(c, "d16", 20, 16, "d16.fvecs");
  char qpath[512];
  path_in(c, qpath, sizeof qpath, "q8.fvecs");
  float q[8] = {0};
  write_fvecs(qpath, q, 1, 8);
  assert_run(c, 1, "search", c->db, "d16", qpath);
  assert_contains(c->err, "has dimension 8");
  assert_run(c, 1, "search", c->db, "nope", qpath);
  assert_contains(c->err, "nope");
  free(v);
}

static void test_check_fresh_db(void **state) {
  ctx *c = *state;
  float *v = import_random(c, "small", 10, 2, "s.fvecs");
  assert_run(c, 0, "check", c->db);
  assert_contains(c->out, "ok: 0 problems");
  free(v);
}

/* Flips one byte in the middle of the first file named *suffix under dir. */
static int flip_byte_in(const char *dir, const char *suffix) {
  char cmd[700];
  char path[600] = "";
  snprintf(cmd, sizeof cmd, "find '%s' -name '*%s' -type f | sort | head -1",
           dir, suffix);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  if (fgets(path, sizeof path, p) == NULL) path[0] = '\0';
  pclose(p);
  path[strcspn(path, "\n")] = '\0';
  if (path[0] == '\0') return -1;
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  assert_true(size > 2);
  assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
  int byte = fgetc(f);
  assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
  fputc(byte ^ 0x5a, f);
  assert_int_equal(fclose(f), 0);
  return 0;
}

static void test_check_detects_corruption(void **state) {
  ctx *c = *state;
  float *v = import_random(c, "small", 30, 3, "s.fvecs");
  assert_int_equal(flip_byte_in(c->db, ".vseg"), 0);
  assert_run(c, 1, "check", c->db);
  assert_contains(c->out, "corrupt: ");
  assert_run(c, 1, "check", c->dir /* not a database: no catalog */);
  free(v);
}

/* ------------------------------------------------------------------- demo */

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Writes a gzip IDX file of `count` items: images 4x4 (label*60 + noise)
 * when `images`, else labels (i % 3). */
static void write_idx(const char *path, uint32_t magic, uint32_t count,
                      int images) {
  gzFile gz = gzopen(path, "wb");
  assert_non_null(gz);
  uint8_t header[16];
  put_be32(header, magic);
  put_be32(header + 4, count);
  put_be32(header + 8, 4);
  put_be32(header + 12, 4);
  int header_len = images ? 16 : 8;
  assert_int_equal(gzwrite(gz, header, (unsigned)header_len), header_len);
  for (uint32_t i = 0; i < count; i++) {
    uint8_t item[16];
    uint32_t label = i % 3;
    for (int p = 0; p < 16; p++) {
      item[p] = (uint8_t)(label * 60 + (i * 7 + (uint32_t)p * 3) % 10);
    }
    if (images) {
      assert_int_equal(gzwrite(gz, item, 16), 16);
    } else {
      uint8_t l = (uint8_t)label;
      assert_int_equal(gzwrite(gz, &l, 1), 1);
    }
  }
  assert_int_equal(gzclose(gz), Z_OK);
}

static void make_dataset(const ctx *c, char *data, size_t size) {
  char path[600];
  path_in(c, data, size, "fmnist");
  assert_int_equal(mkdir(data, 0755), 0);
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", data);
  write_idx(path, 0x803, 60, 1);
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", data);
  write_idx(path, 0x801, 60, 0);
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", data);
  write_idx(path, 0x803, 9, 1);
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", data);
  write_idx(path, 0x801, 9, 0);
}

static void test_demo(void **state) {
  ctx *c = *state;
  char data[512];
  make_dataset(c, data, sizeof data);
  assert_run(c, 0, "demo", c->db, "--data", data, "--k", "5", "--fsync",
             "none");
  assert_contains(c->out, "imported 60 rows into fashion_mnist");
  assert_contains(c->out, "query 0 (true label 0):");
  assert_contains(c->out, "query 2 (true label 2):");
  assert_contains(c->out, "searched 9 queries");
  assert_contains(c->out, "label agreement: 1.000");

  assert_run(c, 0, "demo", c->db, "--data", data, "--k", "5", "--queries",
             "4");
  assert_contains(c->out, "using existing collection with 60 rows");
  assert_contains(c->out, "searched 4 queries");
  assert_true(strstr(c->out, "imported") == NULL);

  /* Labels that do not match the images in count, and a wrong magic. */
  char path[600];
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", data);
  write_idx(path, 0x801, 8, 0);
  assert_run(c, 1, "demo", c->db, "--data", data);
  assert_contains(c->err, "9 images but");
  write_idx(path, 0x803, 9, 1);
  assert_run(c, 1, "demo", c->db, "--data", data);
  assert_contains(c->err, "magic 0x00000803, expected 0x00000801");
}

static void test_demo_missing_dataset(void **state) {
  ctx *c = *state;
  char data[512];
  path_in(c, data, sizeof data, "no-such-dataset");
  assert_run(c, 1, "demo", c->db, "--data", data);
  assert_contains(c->err, "apt-get install dataset-fashion-mnist");
  assert_contains(c->err, "scripts/install-deps");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_version, setup, teardown),
      cmocka_unit_test_setup_teardown(test_help_and_unknown_command, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_import_search_truth_out, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_search_prints_hits, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_reimport_fails_on_duplicates,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_fvecs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_inconsistent_dim, setup, teardown),
      cmocka_unit_test_setup_teardown(test_jsonl, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_and_filtered_search, setup, teardown),
      cmocka_unit_test_setup_teardown(test_search_dimension_mismatch, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_check_fresh_db, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_detects_corruption, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_demo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_demo_missing_dataset, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
