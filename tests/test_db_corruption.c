/*
 * test_db_corruption.c -- flipped bytes and truncations in every kind of
 * database file: a clear error naming the file, or exactly the right data.
 *
 * The fixture
 * -----------
 * A child process builds a database (fsync=always, seal_rows=300): ten
 * inserts of 100 rows (ids 0..999, so a few sealed segments per shard) with
 * a small delete among them, then a delete, an upsert, an insert, a delete
 * and an insert -- and _exit()s without vs_close, so the last operations
 * live only in the WAL tail.  After every operation the child records the size of every WAL file
 * in shared memory; since the log is append-only, the sizes give the byte
 * range each operation occupies in each WAL file.  The expected database
 * state after the first j operations, state(j), is computed in the parent.
 *
 * The cases
 * ---------
 * For every file found under the database directory (CATALOG at the top,
 * MANIFEST, *.vseg segments, *.vdel deletes files and wal/ files per
 * collection, anything else as "other"; LOCK and *.tmp skipped),
 * on a fresh copy of the pristine directory: XOR a byte at a set of offsets
 * (header fields, a few interior positions, the last bytes; for WAL files
 * also the start, the length field and the middle of every operation's
 * record), or truncate at a set of lengths (0, inside the header, half,
 * size-1; for WAL files every record boundary and the middle of every
 * record).  Then vs_open must either
 *
 *   - fail with VS_ERR_CORRUPT and a message naming the file, or
 *   - succeed, and vs_count/vs_get over every id give exactly an allowed
 *     state, checked row by row (vector bits, tag, score, nulls):
 *       segment, deletes, MANIFEST, CATALOG
 *       damage:                             state(n) only;
 *       WAL flip inside the last record:    state(n-1) or state(n);
 *       WAL flip anywhere else:             state(n) (the byte did not
 *                                           matter) -- dropping records that
 *                                           valid records follow is a bug;
 *       WAL truncation at L:                state(j), j >= the number of
 *                                           operations wholly before L (a
 *                                           prefix: effects of cut records
 *                                           that other files made durable,
 *                                           e.g. compacted tombstones,
 *                                           must not survive without the
 *                                           rest of their record).
 *
 * A truncation inside the last record of the newest WAL file is a torn tail
 * and must open (recovery truncates it).  After such an open the test writes
 * one more row, closes, reopens and checks again: the torn bytes must really
 * be gone, not just skipped once.  When vs_open reported corruption, the
 * offline checker must report it too: vs_check for every case, and the
 * `vectorstore check` binary (nonzero exit) for the first case of each file
 * and damage kind.
 *
 * Alternatives rejected: parsing the WAL format here to find record
 * boundaries (the test would mirror the implementation it is testing; the
 * size snapshots find the boundaries from the outside).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/testdb.h"
#include "support/testutil.h"
#include "vectorstore.h"

#define COLL "docs"
#define SEAL_ROWS 300
#define MAX_SNAP_FILES 16
#define MAX_IDS 1200

typedef enum op_kind { OP_INSERT, OP_UPSERT, OP_DELETE } op_kind;

typedef struct fixture_op {
  op_kind kind;
  int64_t first;
  uint32_t count;
  uint32_t version;
} fixture_op;

/* The fixture's operations, in order.  A seal starts when the growing rows
 * reach seal_rows (300): after ids 300, 600 and 900.  The growing rows then
 * add up to 100 + 20 + 50 + 80 = 250 < 300, so the last six operations stay
 * in the WAL tail.  The first delete (10 of the rows sealed at 600, under
 * the compaction ratio) is saved as a deletes file by the seal at 900; the
 * later delete and the upsert tombstone 70 of the first sealed 300 rows,
 * past the default compaction ratio of 0.2, so compaction rewrites them. */
static const fixture_op OPS[] = {
    {OP_INSERT, 0, 100, 0},    {OP_INSERT, 100, 100, 0},
    {OP_INSERT, 200, 100, 0},  {OP_INSERT, 300, 100, 0},
    {OP_INSERT, 400, 100, 0},  {OP_INSERT, 500, 100, 0},
    {OP_DELETE, 310, 10, 0},   {OP_INSERT, 600, 100, 0},
    {OP_INSERT, 700, 100, 0},
    {OP_INSERT, 800, 100, 0},  {OP_INSERT, 900, 100, 0},
    {OP_DELETE, 100, 50, 0},   {OP_UPSERT, 200, 20, 1},
    {OP_INSERT, 1000, 50, 0},  {OP_DELETE, 1000, 10, 0},
    {OP_INSERT, 1050, 80, 0},
};
#define NOPS (sizeof OPS / sizeof OPS[0])

typedef struct wal_snapshot {
  int files;
  char path[MAX_SNAP_FILES][128]; /* relative to the database dir */
  long long size[MAX_SNAP_FILES];
} wal_snapshot;

/* snap[0]: after creating the collection; snap[i+1]: after OPS[i]. */
typedef struct fixture_shared {
  int built;
  char error[256];
  wal_snapshot snap[NOPS + 1];
} fixture_shared;

typedef struct corruption_state {
  char *root;       /* temp dir: pristine/ and work/ live here */
  char *pristine;
  char *work;
  fixture_shared *shared;
  int32_t state[NOPS + 1][MAX_IDS]; /* state[j][id]: version or -1 */
  uint64_t live[NOPS + 1];
  int cases;
  int cases_corrupt;
  int cases_opened;
  int failures;
  char cli_checked[160]; /* last "file#kind" checked with the CLI */
} corruption_state;

/* --------------------------------------------------------------- fixture */

static bool is_wal_file(const char *rel) {
  return strstr(rel, "wal/") != NULL;
}

static void snapshot_wal(const char *dir, wal_snapshot *snap) {
  char **files = NULL;
  long n = tu_list_files(dir, &files);
  snap->files = 0;
  for (long i = 0; i < n; i++) {
    if (!is_wal_file(files[i]) || snap->files >= MAX_SNAP_FILES) continue;
    char *full = tu_join(dir, files[i]);
    snprintf(snap->path[snap->files], sizeof snap->path[0], "%s", files[i]);
    snap->size[snap->files] = full ? tu_file_size(full) : -1;
    snap->files++;
    free(full);
  }
  tu_free_strings(files, n > 0 ? (size_t)n : 0);
}

static vs_status apply_op(vs_db *db, const fixture_op *op) {
  vs_status st;
  if (op->kind == OP_DELETE) {
    int64_t keys[TDB_MAX_BATCH];
    for (uint32_t i = 0; i < op->count; i++) keys[i] = op->first + i;
    vs_keys k = {.count = op->count, .int_keys = keys};
    return vs_delete(db, COLL, NULL, &k, NULL);
  }
  vs_rows *rows = tdb_build_rows(op->first, op->count, op->version);
  if (rows == NULL) return VS_ERR_NOMEM;
  st = op->kind == OP_INSERT ? vs_insert(db, COLL, NULL, rows, NULL)
                             : vs_upsert(db, COLL, NULL, rows, NULL);
  vs_rows_free(rows);
  return st;
}

static void build_child(const char *dir, fixture_shared *sh) {
  vs_options opt;
  vs_db *db = NULL;
  vs_schema *schema = tdb_schema();
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_ALWAYS;
  opt.seal_rows = SEAL_ROWS;
  if (schema == NULL || vs_open(dir, &opt, &db) != VS_OK ||
      vs_create_collection(db, COLL, schema, NULL) != VS_OK) {
    snprintf(sh->error, sizeof sh->error, "setup: %s", vs_errmsg(NULL));
    _exit(1);
  }
  snapshot_wal(dir, &sh->snap[0]);
  for (size_t i = 0; i < NOPS; i++) {
    if (apply_op(db, &OPS[i]) != VS_OK) {
      snprintf(sh->error, sizeof sh->error, "op %zu: %s", i, vs_errmsg(NULL));
      _exit(1);
    }
    snapshot_wal(dir, &sh->snap[i + 1]);
  }
  sh->built = 1;
  _exit(0); /* no vs_close: the tail stays in the WAL */
}

static void compute_states(corruption_state *cs) {
  for (size_t id = 0; id < MAX_IDS; id++) cs->state[0][id] = -1;
  cs->live[0] = 0;
  for (size_t j = 0; j < NOPS; j++) {
    const fixture_op *op = &OPS[j];
    memcpy(cs->state[j + 1], cs->state[j], sizeof cs->state[j]);
    cs->live[j + 1] = cs->live[j];
    for (uint32_t i = 0; i < op->count; i++) {
      int32_t *v = &cs->state[j + 1][op->first + i];
      int32_t nv = op->kind == OP_DELETE ? -1 : (int32_t)op->version;
      if (*v < 0 && nv >= 0) cs->live[j + 1]++;
      if (*v >= 0 && nv < 0) cs->live[j + 1]--;
      *v = nv;
    }
  }
}

static int setup(void **state) {
  corruption_state *cs = calloc(1, sizeof *cs);
  if (cs == NULL) return -1;
  cs->root = tu_make_tmpdir("corrupt");
  if (cs->root == NULL) return -1;
  cs->pristine = tu_join(cs->root, "pristine");
  cs->work = tu_join(cs->root, "work");
  cs->shared = mmap(NULL, sizeof *cs->shared, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (cs->shared == MAP_FAILED) return -1;
  memset(cs->shared, 0, sizeof *cs->shared);
  compute_states(cs);
  *state = cs;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) build_child(cs->pristine, cs->shared);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!cs->shared->built) {
    fprintf(stderr, "fixture build failed (status %d): %s\n", status,
            cs->shared->error);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  corruption_state *cs = *state;
  if (cs == NULL) return 0;
  if (getenv("VS_KEEP_TMP") == NULL) {
    tu_remove_tree(cs->root);
  } else {
    fprintf(stderr, "kept %s\n", cs->root);
  }
  if (cs->shared != NULL && cs->shared != MAP_FAILED)
    munmap(cs->shared, sizeof *cs->shared);
  free(cs->root);
  free(cs->pristine);
  free(cs->work);
  free(cs);
  return 0;
}

/* ------------------------------------------------------- reading a state */

/* Which state(j) the open database holds: j, or -1 (err says why). */
static int match_state(vs_db *db, const corruption_state *cs,
                       const bool *allowed, char *err, size_t errlen) {
  static int32_t got[MAX_IDS];
  uint64_t count = 0;
  vs_status st = vs_count(db, COLL, NULL, &count);
  if (st != VS_OK) {
    snprintf(err, errlen, "vs_count: %s", vs_errmsg(db));
    return -1;
  }
  if (tdb_read_versions(db, COLL, 0, MAX_IDS, got, err, errlen) != 0)
    return -1;
  for (int j = (int)NOPS; j >= 0; j--) {
    if (!allowed[j] || cs->live[j] != count) continue;
    if (memcmp(got, cs->state[j], sizeof got) == 0) return j;
  }
  int closest = 0;
  for (int j = 0; j <= (int)NOPS; j++)
    if (memcmp(got, cs->state[j], sizeof got) == 0) closest = j;
  snprintf(err, errlen, "data matches no allowed state (count %" PRIu64
           ", matches state(%d) of %zu: %s)", count, closest, NOPS,
           memcmp(got, cs->state[closest], sizeof got) == 0 ? "not allowed"
                                                            : "no");
  return -1;
}

/* ------------------------------------------------------- WAL geometry */

static long long snap_size(const wal_snapshot *s, const char *rel) {
  for (int i = 0; i < s->files; i++)
    if (strcmp(s->path[i], rel) == 0) return s->size[i];
  return 0;
}

/* Byte range [start, end) of OPS[op] in WAL file rel; start == end if the
 * operation wrote nothing there. */
static void op_range(const corruption_state *cs, const char *rel, size_t op,
                     long long *start, long long *end) {
  *start = snap_size(&cs->shared->snap[op], rel);
  *end = snap_size(&cs->shared->snap[op + 1], rel);
  if (*end < *start) *end = *start; /* rotated away: not this file */
}

/* The operation whose bytes hold `offset` in rel, or -1. */
static int op_at(const corruption_state *cs, const char *rel,
                 long long offset) {
  for (size_t i = 0; i < NOPS; i++) {
    long long s, e;
    op_range(cs, rel, i, &s, &e);
    if (offset >= s && offset < e) return (int)i;
  }
  return -1;
}

/* ----------------------------------------------------------- the cases */

typedef enum damage { DAMAGE_FLIP, DAMAGE_TRUNCATE } damage;

typedef struct damage_case {
  const char *rel;      /* file relative to the database dir */
  damage kind;
  long long where;      /* offset (flip) or length (truncate) */
  bool allowed[NOPS + 1];
  bool must_open;       /* a torn WAL tail: opening must succeed */
  bool wal;
} damage_case;

/* A case that went wrong: printed, counted, and the run goes on so one
 * report lists every bad case; damage_files fails the test at the end. */
static void case_fail(corruption_state *cs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void case_fail(corruption_state *cs, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  cs->failures++;
}

static void count_line(void *ctx, const char *line) {
  (*(int *)ctx)++;
}

/* vs_open refused the damaged copy: the offline checker must agree.  The
 * check runs in-process (vs_check) for every case, and through the
 * `vectorstore check` binary for the first refusal of each file and damage
 * kind -- exec'ing it 400 times would dominate the run under ASan. */
static void run_check_expect_failure(corruption_state *cs,
                                     const damage_case *c, const char *what) {
  int lines = 0;
  vs_status st = vs_check(cs->work, count_line, &lines);
  if (st == VS_OK)
    case_fail(cs, "%s: vs_open says corrupt but vs_check passes", what);
  else if (lines == 0)
    case_fail(cs, "%s: vs_check failed without reporting a problem", what);
  char key[160];
  snprintf(key, sizeof key, "%s#%d", c->rel, (int)c->kind);
  const char *bin = tu_vs_bin();
  if (bin == NULL || strcmp(key, cs->cli_checked) == 0) return;
  snprintf(cs->cli_checked, sizeof cs->cli_checked, "%s", key);
  const char *argv[] = {bin, "check", cs->work, NULL};
  char *out = NULL;
  int rc = tu_run(argv, &out);
  if (rc == 0)
    case_fail(cs, "%s: vs_open says corrupt but `vectorstore check` passes:"
              "\n%s", what, out ? out : "");
  if (rc >= 128) case_fail(cs, "%s: `vectorstore check` crashed (%d)", what,
                           rc);
  free(out);
}

/* After a torn-tail recovery: write a row, reopen, and expect state j plus
 * that row -- the torn bytes must be gone for good.  Closes db. */
static void check_write_after_recovery(corruption_state *cs, vs_db *db,
                                       int j, const char *what) {
  char err[512] = "";
  int32_t got[1] = {-1};
  uint64_t count = 0;
  vs_rows *rows = tdb_build_rows(MAX_IDS, 1, 7);
  assert_non_null(rows);
  vs_status st = vs_insert(db, COLL, NULL, rows, NULL);
  vs_rows_free(rows);
  if (st != VS_OK) {
    case_fail(cs, "%s: insert after recovery: %s", what, vs_errmsg(db));
    vs_close(db);
    return;
  }
  assert_int_equal(vs_close(db), VS_OK);
  db = NULL;
  if (vs_open(cs->work, NULL, &db) != VS_OK) {
    case_fail(cs, "%s: second open after recovery: %s", what,
              vs_errmsg(NULL));
    return;
  }
  assert_int_equal(vs_count(db, COLL, NULL, &count), VS_OK);
  if (count != cs->live[j] + 1)
    case_fail(cs, "%s: count %" PRIu64 " after reopen, expected %" PRIu64,
              what, count, cs->live[j] + 1);
  if (tdb_read_versions(db, COLL, MAX_IDS, 1, got, err, sizeof err) != 0 ||
      got[0] != 7)
    case_fail(cs, "%s: row written after recovery lost %s", what, err);
  assert_int_equal(vs_close(db), VS_OK);
}

static void check_opened(corruption_state *cs, const damage_case *c,
                         vs_db *db, const char *what) {
  char err[512];
  int j = match_state(db, cs, c->allowed, err, sizeof err);
  if (j < 0) {
    case_fail(cs, "%s: opened with wrong data: %s", what, err);
    vs_close(db);
    return;
  }
  cs->cases_opened++;
  if (c->wal && c->kind == DAMAGE_TRUNCATE) {
    check_write_after_recovery(cs, db, j, what);
    return;
  }
  assert_int_equal(vs_close(db), VS_OK);
}

static void run_case(corruption_state *cs, const damage_case *c) {
  char what[300];
  snprintf(what, sizeof what, "%s %s@%lld", c->rel,
           c->kind == DAMAGE_FLIP ? "flip" : "truncate", c->where);
  assert_int_equal(tu_remove_tree(cs->work), 0);
  assert_int_equal(tu_copy_tree(cs->pristine, cs->work), 0);
  char *path = tu_join(cs->work, c->rel);
  assert_non_null(path);
  if (c->kind == DAMAGE_FLIP) {
    assert_int_equal(tu_flip_byte(path, c->where, 0xA5), 0);
  } else {
    assert_int_equal(tu_truncate(path, c->where), 0);
  }
  free(path);
  cs->cases++;
  vs_db *db = NULL;
  vs_status st = vs_open(cs->work, NULL, &db);
  if (st == VS_OK) {
    check_opened(cs, c, db, what);
    return;
  }
  const char *msg = vs_errmsg(NULL);
  if (st != VS_ERR_CORRUPT) {
    case_fail(cs, "%s: vs_open gave %s, expected CORRUPT or success: %s",
              what, vs_status_name(st), msg);
    return;
  }
  if (c->must_open)
    case_fail(cs, "%s: a torn WAL tail must be truncated, not refused: %s",
              what, msg);
  if (strstr(msg, tu_basename(c->rel)) == NULL)
    case_fail(cs, "%s: message does not name the file: %s", what, msg);
  cs->cases_corrupt++;
  run_check_expect_failure(cs, c, what);
}

/* Fills allowed[] and must_open for a WAL case. */
static void wal_expectations(const corruption_state *cs, damage_case *c,
                             long long size) {
  size_t last = NOPS - 1;
  long long ls, le;
  op_range(cs, c->rel, last, &ls, &le);
  bool newest = le > ls; /* holds the last operation's record */
  if (c->kind == DAMAGE_FLIP) {
    int op = op_at(cs, c->rel, c->where);
    c->allowed[NOPS] = true;
    if (op == (int)last) c->allowed[NOPS - 1] = true;
    return;
  }
  /* Truncation: operations with any byte at or after `where` may be lost. */
  size_t intact = NOPS;
  for (size_t i = 0; i < NOPS; i++) {
    long long s, e;
    op_range(cs, c->rel, i, &s, &e);
    if (e > s && e > c->where) {
      intact = i;
      break;
    }
  }
  for (size_t j = intact; j <= NOPS; j++) c->allowed[j] = true;
  /* Cutting into the last record is the classic torn tail of a write that
   * was never acknowledged.  Earlier cuts may be refused: the MANIFEST may
   * know of records (e.g. tombstones made durable by compaction) that the
   * cut removed. */
  c->must_open = newest && c->where > ls && c->where < le && c->where < size;
}

static void run_file_case(corruption_state *cs, const char *rel, damage kind,
                          long long where, long long size) {
  damage_case c;
  memset(&c, 0, sizeof c);
  c.rel = rel;
  c.kind = kind;
  c.where = where;
  c.wal = is_wal_file(rel);
  if (c.wal) {
    wal_expectations(cs, &c, size);
  } else {
    c.allowed[NOPS] = true;
  }
  run_case(cs, &c);
}

/* Appends v to list (deduplicated, within [0, limit)). */
static void add_pos(long long *list, int *n, int cap, long long v,
                    long long limit) {
  if (v < 0 || v >= limit || *n >= cap) return;
  for (int i = 0; i < *n; i++)
    if (list[i] == v) return;
  list[(*n)++] = v;
}

static int positions(const corruption_state *cs, const char *rel,
                     long long size, damage kind, long long *list, int cap) {
  int n = 0;
  static const long long head[] = {0, 1, 4, 7, 8, 12, 16, 20, 24, 31, 32, 40};
  for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
    add_pos(list, &n, cap, head[i], size);
  add_pos(list, &n, cap, size / 4, size);
  add_pos(list, &n, cap, size / 2, size);
  add_pos(list, &n, cap, size * 3 / 4, size);
  add_pos(list, &n, cap, size - 2, size);
  add_pos(list, &n, cap, size - 1, size);
  if (!is_wal_file(rel)) return n;
  for (size_t op = 0; op < NOPS; op++) {
    long long s, e;
    op_range(cs, rel, op, &s, &e);
    if (e <= s) continue;
    add_pos(list, &n, cap, s, size); /* record start / boundary */
    add_pos(list, &n, cap, s + 1, size);
    add_pos(list, &n, cap, s + 4, size);
    add_pos(list, &n, cap, s + 8, size);
    add_pos(list, &n, cap, s + 12, size);
    add_pos(list, &n, cap, s + 20, size);
    add_pos(list, &n, cap, (s + e) / 2, size);
    add_pos(list, &n, cap, e - 1, size);
  }
  (void)kind;
  return n;
}

static bool damageable(const char *rel) {
  const char *base = tu_basename(rel);
  if (strcmp(base, "LOCK") == 0) return false;
  size_t len = strlen(base);
  if (len >= 4 && strcmp(base + len - 4, ".tmp") == 0) return false;
  return true;
}

/* Runs every case for files whose kind() is true; returns files seen. */
static int damage_files(corruption_state *cs, bool (*kind)(const char *)) {
  char **files = NULL;
  long n = tu_list_files(cs->pristine, &files);
  int seen = 0;
  int failures_before = cs->failures;
  assert_true(n > 0);
  for (long i = 0; i < n; i++) {
    if (!damageable(files[i]) || !kind(files[i])) continue;
    char *full = tu_join(cs->pristine, files[i]);
    long long size = tu_file_size(full);
    free(full);
    long long pos[256];
    seen++;
    int np = positions(cs, files[i], size, DAMAGE_FLIP, pos, 256);
    for (int p = 0; p < np; p++)
      run_file_case(cs, files[i], DAMAGE_FLIP, pos[p], size);
    for (int p = 0; p < np; p++)
      run_file_case(cs, files[i], DAMAGE_TRUNCATE, pos[p], size);
  }
  tu_free_strings(files, (size_t)n);
  if (cs->failures != failures_before)
    fail_msg("%d case(s) failed (listed above)",
             cs->failures - failures_before);
  return seen;
}

static bool kind_catalog(const char *rel) {
  return strcmp(tu_basename(rel), "CATALOG") == 0;
}
static bool kind_manifest(const char *rel) {
  return strcmp(tu_basename(rel), "MANIFEST") == 0;
}
static bool kind_segment(const char *rel) {
  size_t len = strlen(rel);
  return len > 5 && strcmp(rel + len - 5, ".vseg") == 0;
}
static bool kind_deletes(const char *rel) {
  size_t len = strlen(rel);
  return len > 5 && strcmp(rel + len - 5, ".vdel") == 0;
}
static bool kind_wal(const char *rel) { return is_wal_file(rel); }
static bool kind_other(const char *rel) {
  return !kind_catalog(rel) && !kind_manifest(rel) && !kind_segment(rel) &&
         !kind_deletes(rel) && !kind_wal(rel);
}

static void report(const corruption_state *cs, const char *kind, int files) {
  fprintf(stderr, "%s: %d file(s), %d cases so far: %d refused as corrupt, "
          "%d opened with correct data\n", kind, files, cs->cases,
          cs->cases_corrupt, cs->cases_opened);
}

/* ----------------------------------------------------------------- tests */

static void test_pristine_opens(void **state) {
  corruption_state *cs = *state;
  char **files = NULL;
  long n = tu_list_files(cs->pristine, &files);
  for (long i = 0; i < n; i++) fprintf(stderr, "  fixture file %s\n", files[i]);
  tu_free_strings(files, n > 0 ? (size_t)n : 0);
  bool all[NOPS + 1] = {false};
  all[NOPS] = true;
  damage_case c = {.rel = "(none)", .kind = DAMAGE_FLIP};
  memcpy(c.allowed, all, sizeof all);
  assert_int_equal(tu_remove_tree(cs->work), 0);
  assert_int_equal(tu_copy_tree(cs->pristine, cs->work), 0);
  vs_db *db = NULL;
  if (vs_open(cs->work, NULL, &db) != VS_OK)
    fail_msg("pristine fixture does not open: %s", vs_errmsg(NULL));
  check_opened(cs, &c, db, "pristine");
  if (cs->failures != 0) fail_msg("the pristine fixture has wrong data");
  const char *bin = tu_vs_bin();
  if (bin != NULL) {
    const char *argv[] = {bin, "check", cs->pristine, NULL};
    char *out = NULL;
    int rc = tu_run(argv, &out);
    if (rc != 0) fail_msg("check of the pristine fixture: %d\n%s", rc, out);
    free(out);
  }
}

static void test_catalog(void **state) {
  corruption_state *cs = *state;
  int files = damage_files(cs, kind_catalog);
  report(cs, "CATALOG", files);
  assert_int_equal(files, 1);
}

static void test_manifest(void **state) {
  corruption_state *cs = *state;
  int files = damage_files(cs, kind_manifest);
  report(cs, "MANIFEST", files);
  assert_true(files >= 1);
}

static void test_segments(void **state) {
  corruption_state *cs = *state;
  int files = damage_files(cs, kind_segment);
  report(cs, "segments", files);
  assert_true(files >= 2); /* 900 sealed rows at seal_rows 300 */
}

/* Prints where each operation's record lies in each WAL file. */
static void print_wal_geometry(const corruption_state *cs) {
  const wal_snapshot *last = &cs->shared->snap[NOPS];
  for (int f = 0; f < last->files; f++) {
    fprintf(stderr, "  %s (%lld bytes):", last->path[f], last->size[f]);
    for (size_t i = 0; i < NOPS; i++) {
      long long s, e;
      op_range(cs, last->path[f], i, &s, &e);
      if (e > s) fprintf(stderr, " op%zu=[%lld,%lld)", i, s, e);
    }
    fprintf(stderr, "\n");
  }
}

static void test_deletes_files(void **state) {
  corruption_state *cs = *state;
  int files = damage_files(cs, kind_deletes);
  report(cs, "deletes files", files);
  assert_true(files >= 1); /* the delete of 310..319, saved by a seal */
}

static void test_wal(void **state) {
  corruption_state *cs = *state;
  print_wal_geometry(cs);
  int files = damage_files(cs, kind_wal);
  report(cs, "WAL", files);
  assert_true(files >= 1);
}

static void test_other_files(void **state) {
  corruption_state *cs = *state;
  int files = damage_files(cs, kind_other);
  report(cs, "other files", files);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pristine_opens),
      cmocka_unit_test(test_catalog),
      cmocka_unit_test(test_manifest),
      cmocka_unit_test(test_segments),
      cmocka_unit_test(test_deletes_files),
      cmocka_unit_test(test_wal),
      cmocka_unit_test(test_other_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
