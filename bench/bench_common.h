/*
 * bench_common.h -- small helpers shared by the bench_*.c programs (each is
 * its own executable, so the helpers are static and header-only).
 *
 * Benchmarks use only the public API (vectorstore.h) and libc, like a user
 * program would.  They never assert on time; they print what they measured
 * (medians of repeated trials) as plain lines and then a markdown section
 * after the line "--- summary ---", which bench/run-all collects.
 *
 * The 1,000,000 x 128 collection used by bench_search and bench_open is
 * built once into CACHE_DIR/search-1m-128 and reused while it holds the
 * expected row count; delete the directory to rebuild it.
 */
#ifndef VS_BENCH_COMMON_H
#define VS_BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vectorstore.h"

#define BENCH_UNUSED __attribute__((unused))
#define BENCH_COLL "bench"
#define BENCH_1M_ROWS 1000000u
#define BENCH_1M_DIM 128u
#define BENCH_1M_DIR "search-1m-128"

BENCH_UNUSED static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

BENCH_UNUSED static void bench_die(const char *what) {
  fprintf(stderr, "bench: %s: %s\n", what, vs_errmsg(NULL));
  exit(1);
}

BENCH_UNUSED static uint64_t bench_splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* n floats uniform in [-1, 1) from seed. */
BENCH_UNUSED static void bench_random(uint64_t seed, float *out, size_t n) {
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++)
    out[i] = (float)(bench_splitmix(&s) >> 40) / (float)(1u << 23) - 1.0f;
}

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median of n values (sorts them). */
BENCH_UNUSED static double bench_median(double *v, size_t n) {
  qsort(v, n, sizeof *v, bench_cmp_double);
  if (n == 0) return 0;
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

BENCH_UNUSED static unsigned bench_env_uint(const char *name,
                                            unsigned fallback) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') return fallback;
  long x = strtol(v, NULL, 10);
  return x > 0 ? (unsigned)x : fallback;
}

BENCH_UNUSED static void bench_mkdir(const char *path) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "bench: mkdir %s: %s\n", path, strerror(errno));
    exit(1);
  }
}

/* "rm -rf path" through the shell is fine for a benchmark's scratch dirs. */
BENCH_UNUSED static void bench_rmrf(const char *path) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0) fprintf(stderr, "bench: %s failed\n", cmd);
}

BENCH_UNUSED static void bench_cp(const char *from, const char *to) {
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", from, to);
  if (system(cmd) != 0) {
    fprintf(stderr, "bench: %s failed\n", cmd);
    exit(1);
  }
}

BENCH_UNUSED static uint64_t bench_du(const char *path) {
  char cmd[4200];
  unsigned long long kb = 0;
  snprintf(cmd, sizeof cmd, "du -sk '%s' 2>/dev/null", path);
  FILE *p = popen(cmd, "r");
  if (p == NULL) return 0;
  if (fscanf(p, "%llu", &kb) != 1) kb = 0;
  pclose(p);
  return (uint64_t)kb * 1024;
}

/* Schema: id Int64 primary key, vector FloatVector(dim, L2). */
BENCH_UNUSED static vs_schema *bench_schema(uint32_t dim) {
  vs_schema *s = NULL;
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  vs_field_def vec = {.name = "vector", .type = VS_TYPE_FLOAT_VECTOR,
                      .dim = dim, .metric = VS_METRIC_L2};
  if (vs_schema_new(&s) != VS_OK) bench_die("vs_schema_new");
  if (vs_schema_add_field(s, &id) != VS_OK ||
      vs_schema_add_field(s, &vec) != VS_OK)
    bench_die("vs_schema_add_field");
  return s;
}

/* Inserts rows [first, first+n) whose vectors come from `vecs` (n x dim). */
BENCH_UNUSED static void bench_insert(vs_db *db, int64_t first, size_t n,
                                      const float *vecs, uint32_t dim) {
  vs_rows *rows = NULL;
  int64_t *ids = malloc(n * sizeof *ids);
  if (ids == NULL) bench_die("malloc");
  for (size_t i = 0; i < n; i++) ids[i] = first + (int64_t)i;
  if (vs_rows_new(n, &rows) != VS_OK) bench_die("vs_rows_new");
  if (vs_rows_set_int64(rows, "id", ids, NULL) != VS_OK ||
      vs_rows_set_float_vectors(rows, "vector", vecs, dim) != VS_OK)
    bench_die("vs_rows_set");
  if (vs_insert(db, BENCH_COLL, NULL, rows, NULL) != VS_OK)
    bench_die("vs_insert");
  vs_rows_free(rows);
  free(ids);
}

/* Row i of the 1M collection has vector bench_random(i + 1, ...). */
BENCH_UNUSED static void bench_1m_vectors(int64_t first, size_t n,
                                          float *out) {
  for (size_t i = 0; i < n; i++)
    bench_random((uint64_t)(first + (int64_t)i) + 1, out + i * BENCH_1M_DIM,
                 BENCH_1M_DIM);
}

/* Path of the cached 1M collection's database, built if missing. */
BENCH_UNUSED static char *bench_1m_path(const char *cache_dir) {
  size_t len = strlen(cache_dir) + sizeof BENCH_1M_DIR + 2;
  char *path = malloc(len);
  if (path == NULL) bench_die("malloc");
  snprintf(path, len, "%s/%s", cache_dir, BENCH_1M_DIR);
  return path;
}

BENCH_UNUSED static int bench_1m_ready(const char *path) {
  vs_db *db = NULL;
  uint64_t count = 0;
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  if (vs_open(path, NULL, &db) != VS_OK) return 0;
  int ok = vs_count(db, BENCH_COLL, NULL, &count) == VS_OK &&
           count == BENCH_1M_ROWS;
  vs_close(db);
  return ok;
}

/* Builds (or reuses) the cached 1,000,000 x 128 collection; returns its
 * database path (malloc'd). */
BENCH_UNUSED static char *bench_1m_build(const char *cache_dir) {
  char *path = bench_1m_path(cache_dir);
  bench_mkdir(cache_dir);
  if (bench_1m_ready(path)) return path;
  bench_rmrf(path);
  fprintf(stderr, "building %s (1,000,000 x 128, once)...\n", path);
  double t0 = bench_now();
  vs_options opt;
  vs_db *db = NULL;
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  if (vs_open(path, &opt, &db) != VS_OK) bench_die("vs_open");
  vs_schema *s = bench_schema(BENCH_1M_DIM);
  if (vs_create_collection(db, BENCH_COLL, s, NULL) != VS_OK)
    bench_die("vs_create_collection");
  vs_schema_free(s);
  const size_t batch = 10000;
  float *vecs = malloc(batch * BENCH_1M_DIM * sizeof *vecs);
  if (vecs == NULL) bench_die("malloc");
  for (size_t first = 0; first < BENCH_1M_ROWS; first += batch) {
    bench_1m_vectors((int64_t)first, batch, vecs);
    bench_insert(db, (int64_t)first, batch, vecs, BENCH_1M_DIM);
  }
  free(vecs);
  if (vs_flush(db, BENCH_COLL) != VS_OK) bench_die("vs_flush");
  if (vs_close(db) != VS_OK) bench_die("vs_close");
  fprintf(stderr, "built in %.1f s\n", bench_now() - t0);
  return path;
}

BENCH_UNUSED static void bench_machine(FILE *out) {
  char model[256] = "unknown";
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "model name", 10) == 0) {
      const char *colon = strchr(line, ':');
      if (colon != NULL) snprintf(model, sizeof model, "%s", colon + 2);
      model[strcspn(model, "\n")] = '\0';
      break;
    }
  }
  if (f != NULL) fclose(f);
  fprintf(out, "machine: %ld cores, %s; simd %s; vectorstore %s\n",
          sysconf(_SC_NPROCESSORS_ONLN), model, vs_simd_level(),
          vs_version());
}

#endif /* VS_BENCH_COMMON_H */
