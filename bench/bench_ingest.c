/*
 * bench_ingest.c -- durable ingest throughput: rows/s of vs_insert with
 * batches of 1,000 rows, at 128 and 768 dimensions, under each fsync
 * policy (always, batch, none).
 *
 * Usage: bench_ingest SCRATCH_DIR    (env BENCH_REPS, default 3)
 *
 * Each trial opens a fresh database in SCRATCH_DIR/ingest, creates a
 * collection (id Int64, vector FloatVector(dim, L2)), and times the inserts
 * from the first call to the return of the last: under `always` every
 * returned call is on disk (fdatasync), so this is durable ingest.  The
 * time of the final vs_close (which seals the growing rows into a segment
 * file) is reported separately.  Vectors come from a pool of 8 pre-built
 * batches so that generating random numbers is not measured.  Reported
 * numbers are medians over the trials.
 */
#include "bench_common.h"

#define BATCH 1000u
#define POOL 8u

typedef struct ingest_config {
  uint32_t dim;
  uint32_t rows;
  vs_fsync_policy policy;
} ingest_config;

typedef struct ingest_result {
  double insert_s;
  double close_s;
  uint64_t bytes_on_disk;
} ingest_result;

static ingest_result run_trial(const char *dir, const ingest_config *c,
                               const float *pool) {
  ingest_result r = {0, 0, 0};
  vs_options opt;
  vs_db *db = NULL;
  bench_rmrf(dir);
  vs_options_init(&opt);
  opt.fsync = c->policy;
  if (vs_open(dir, &opt, &db) != VS_OK) bench_die("vs_open");
  vs_schema *s = bench_schema(c->dim);
  if (vs_create_collection(db, BENCH_COLL, s, NULL) != VS_OK)
    bench_die("vs_create_collection");
  vs_schema_free(s);
  double t0 = bench_now();
  for (uint32_t b = 0; b * BATCH < c->rows; b++) {
    const float *vecs = pool + (size_t)(b % POOL) * BATCH * c->dim;
    bench_insert(db, (int64_t)b * BATCH, BATCH, vecs, c->dim);
  }
  double t1 = bench_now();
  if (vs_close(db) != VS_OK) bench_die("vs_close");
  double t2 = bench_now();
  r.insert_s = t1 - t0;
  r.close_s = t2 - t1;
  r.bytes_on_disk = bench_du(dir);
  return r;
}

static void run_config(const char *dir, const ingest_config *c, unsigned reps,
                       double *rows_s, double *close_s) {
  float *pool = malloc((size_t)POOL * BATCH * c->dim * sizeof *pool);
  double ins[16];
  double cls[16];
  if (pool == NULL) bench_die("malloc");
  bench_random(42 + c->dim, pool, (size_t)POOL * BATCH * c->dim);
  for (unsigned t = 0; t < reps; t++) {
    ingest_result r = run_trial(dir, c, pool);
    ins[t] = c->rows / r.insert_s;
    cls[t] = r.close_s;
    printf("  dim %u rows %u fsync %-6s trial %u: insert %.2f s (%.0f rows/s)"
           ", close %.2f s, %.1f MiB on disk\n", c->dim, c->rows,
           vs_fsync_policy_name(c->policy), t + 1, r.insert_s, ins[t],
           r.close_s, (double)r.bytes_on_disk / 1048576.0);
    fflush(stdout);
  }
  *rows_s = bench_median(ins, reps);
  *close_s = bench_median(cls, reps);
  bench_rmrf(dir);
  free(pool);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  unsigned reps = bench_env_uint("BENCH_REPS", 3);
  if (reps > 16) reps = 16;
  bench_mkdir(argv[1]);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/ingest", argv[1]);
  static const ingest_config configs[] = {
      {128, 200000, VS_FSYNC_ALWAYS}, {128, 200000, VS_FSYNC_BATCH},
      {128, 200000, VS_FSYNC_NONE},   {768, 50000, VS_FSYNC_ALWAYS},
      {768, 50000, VS_FSYNC_BATCH},   {768, 50000, VS_FSYNC_NONE},
  };
  const size_t n = sizeof configs / sizeof configs[0];
  double rows_s[6];
  double close_s[6];
  bench_machine(stdout);
  printf("bench_ingest: batches of %u rows, median of %u trials\n", BATCH,
         reps);
  for (size_t i = 0; i < n; i++)
    run_config(dir, &configs[i], reps, &rows_s[i], &close_s[i]);
  printf("--- summary ---\n");
  printf("### Ingest (batches of %u rows, median of %u)\n\n", BATCH, reps);
  printf("| dim | rows | fsync | rows/s | MB/s of vectors | close (seal) s "
         "|\n|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < n; i++)
    printf("| %u | %u | %s | %.0f | %.1f | %.2f |\n", configs[i].dim,
           configs[i].rows, vs_fsync_policy_name(configs[i].policy),
           rows_s[i], rows_s[i] * configs[i].dim * 4 / 1e6, close_s[i]);
  return 0;
}
