/*
 * bench_open.c -- time to open the 1,000,000 x 128 collection, after a
 * clean shutdown and after a crash that leaves N rows to replay from the WAL.
 *
 * Usage: bench_open CACHE_DIR   (env BENCH_TRIALS default 5,
 *                                BENCH_CRASH_ROWS default 100000)
 *
 * Clean: the cached collection (see bench_common.h) is opened and closed
 * BENCH_TRIALS times; vs_open is timed (median), with verify_on_open on
 * (the default: every section checksum is checked) and off.  The files are
 * in the page cache, so this measures the engine, not the disk.
 *
 * Crash: the cached database is copied to a template, a child process opens
 * the template with fsync=always, inserts BENCH_CRASH_ROWS rows in batches
 * of 1,000 (below the seal threshold, so they live only in the WAL and the
 * growing segment) and SIGKILLs itself.  Each trial copies the template to
 * a scratch directory and times vs_open, which replays the WAL; the row
 * count is checked after every open.  The copy is not timed.
 */
#include <signal.h>
#include <sys/wait.h>

#include "bench_common.h"

#define CRASH_BATCH 1000u

static double time_open(const char *path, int verify, uint64_t expect_rows) {
  vs_options opt;
  vs_db *db = NULL;
  uint64_t count = 0;
  vs_options_init(&opt);
  opt.verify_on_open = verify;
  double t0 = bench_now();
  if (vs_open(path, &opt, &db) != VS_OK) bench_die("vs_open");
  double dt = bench_now() - t0;
  if (vs_count(db, BENCH_COLL, NULL, &count) != VS_OK) bench_die("vs_count");
  if (count != expect_rows) {
    fprintf(stderr, "bench: opened %s with %" PRIu64 " rows, expected %"
            PRIu64 "\n", path, count, expect_rows);
    exit(1);
  }
  if (vs_close(db) != VS_OK) bench_die("vs_close");
  return dt;
}

static void crash_child(const char *path, unsigned rows) {
  vs_options opt;
  vs_db *db = NULL;
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_ALWAYS;
  if (vs_open(path, &opt, &db) != VS_OK) bench_die("child vs_open");
  float *vecs = malloc((size_t)CRASH_BATCH * BENCH_1M_DIM * sizeof *vecs);
  if (vecs == NULL) bench_die("malloc");
  for (unsigned first = 0; first < rows; first += CRASH_BATCH) {
    int64_t id = (int64_t)BENCH_1M_ROWS + first;
    bench_1m_vectors(id, CRASH_BATCH, vecs);
    bench_insert(db, id, CRASH_BATCH, vecs, BENCH_1M_DIM);
  }
  kill(getpid(), SIGKILL);
  _exit(1);
}

static void make_crash_template(const char *clean, const char *tmpl,
                                unsigned rows) {
  bench_rmrf(tmpl);
  bench_cp(clean, tmpl);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) bench_die("fork");
  if (pid == 0) crash_child(tmpl, rows);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    fprintf(stderr, "bench: crash child did not die by SIGKILL (%d)\n",
            status);
    exit(1);
  }
}

static double crash_trials(const char *tmpl, const char *work, int verify,
                           unsigned trials, uint64_t rows) {
  double t[16];
  for (unsigned i = 0; i < trials; i++) {
    bench_rmrf(work);
    bench_cp(tmpl, work);
    t[i] = time_open(work, verify, rows);
    printf("  after crash, verify %d, trial %u: %.3f s\n", verify, i + 1,
           t[i]);
    fflush(stdout);
  }
  bench_rmrf(work);
  return bench_median(t, trials);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CACHE_DIR\n", argv[0]);
    return 2;
  }
  unsigned trials = bench_env_uint("BENCH_TRIALS", 5);
  unsigned crash_rows = bench_env_uint("BENCH_CRASH_ROWS", 100000);
  if (trials > 16) trials = 16;
  crash_rows = (crash_rows + CRASH_BATCH - 1) / CRASH_BATCH * CRASH_BATCH;
  char *clean = bench_1m_build(argv[1]);
  bench_machine(stdout);
  printf("database: %s, %.0f MiB on disk\n", clean,
         (double)bench_du(clean) / 1048576.0);

  double clean_t[2][16];
  for (int verify = 1; verify >= 0; verify--) {
    for (unsigned i = 0; i < trials; i++) {
      clean_t[verify][i] = time_open(clean, verify, BENCH_1M_ROWS);
      printf("  clean, verify %d, trial %u: %.3f s\n", verify, i + 1,
             clean_t[verify][i]);
      fflush(stdout);
    }
  }
  double clean_v = bench_median(clean_t[1], trials);
  double clean_nv = bench_median(clean_t[0], trials);

  char tmpl[4096], work[4096];
  snprintf(tmpl, sizeof tmpl, "%s/open-crash-template", argv[1]);
  snprintf(work, sizeof work, "%s/open-crash-work", argv[1]);
  double t0 = bench_now();
  make_crash_template(clean, tmpl, crash_rows);
  printf("crash template: %u rows inserted (fsync=always) then SIGKILL, "
         "%.1f s\n", crash_rows, bench_now() - t0);
  uint64_t total = (uint64_t)BENCH_1M_ROWS + crash_rows;
  double crash_v = crash_trials(tmpl, work, 1, trials, total);
  double crash_nv = crash_trials(tmpl, work, 0, trials, total);
  bench_rmrf(tmpl);
  free(clean);

  printf("--- summary ---\n");
  printf("### Open time, 1,000,000 x 128 (median of %u, warm page cache)\n\n",
         trials);
  printf("| state | verify_on_open | open s | WAL rows replayed/s |\n"
         "|---|---|---|---|\n");
  printf("| clean shutdown | on (default) | %.3f | - |\n", clean_v);
  printf("| clean shutdown | off | %.3f | - |\n", clean_nv);
  printf("| crash, %u rows in WAL | on (default) | %.3f | %.0f |\n",
         crash_rows, crash_v, crash_rows / crash_v);
  printf("| crash, %u rows in WAL | off | %.3f | %.0f |\n", crash_rows,
         crash_nv, crash_rows / crash_nv);
  return 0;
}
