/*
 * test_concurrency.c -- many threads on one vs_db handle, under ASan.
 *
 * test_write_read_compact
 *   Two writers insert disjoint id ranges in batches of 50 (and upsert
 *   some of their own earlier batches to version 1), two readers search
 *   and get all the while, and a fifth thread deletes half of a pre-loaded
 *   range chunk by chunk and calls vs_compact after each chunk.  seal_rows
 *   is 150, so segments are sealed (and compacted) under the readers'
 *   feet.  Readers check Strong consistency: every id a writer has
 *   acknowledged (published through an atomic counter after vs_insert
 *   returned) must be returned by a later vs_get, with the right content;
 *   a search for the vector of an acknowledged, never-upserted row must
 *   return it first at distance 0; every hit is a valid id, once.  At the
 *   end every expected row is present exactly once (vs_count, vs_get, and a
 *   search with k = all rows), before and after reopening.
 *
 * test_ddl_while_searching
 *   Two threads create, fill, search and drop collections of their own
 *   names while two others search and get a third collection, and a fifth
 *   creates, fills, searches and drops partitions of that third collection
 *   (reusing the same ids every round).
 *
 * test_drop_while_in_use
 *   Readers and a writer use a collection while the main thread drops it:
 *   every call returns VS_OK or VS_ERR_NOT_FOUND, and ASan sees no use
 *   after free.
 *
 * No sleeps: threads start together on a barrier, readers run until the
 * writers have finished (an atomic flag) and at least a minimum number of
 * rounds, and the main thread joins.  Worker threads never call cmocka
 * (its asserts longjmp); they record the first failure in a mutex-guarded
 * box that the main thread asserts on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testdb.h"
#include "support/testutil.h"
#include "vectorstore.h"
#include "support/expect.h"

#define COLL "c"

/* ------------------------------------------------------------ fail box */

typedef struct failbox {
  pthread_mutex_t mu;
  int count;
  char first[512];
} failbox;

static failbox g_fail = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void record_failure(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void record_failure(const char *fmt, ...) {
  va_list ap;
  pthread_mutex_lock(&g_fail.mu);
  if (g_fail.count++ == 0) {
    va_start(ap, fmt);
    vsnprintf(g_fail.first, sizeof g_fail.first, fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&g_fail.mu);
}

static void expect_no_failures(void) {
  pthread_mutex_lock(&g_fail.mu);
  int n = g_fail.count;
  char first[512];
  memcpy(first, g_fail.first, sizeof first);
  g_fail.count = 0;
  g_fail.first[0] = '\0';
  pthread_mutex_unlock(&g_fail.mu);
  if (n > 0) fail_msg("%d failures in threads; first: %s", n, first);
}

static bool failed(void) {
  pthread_mutex_lock(&g_fail.mu);
  bool f = g_fail.count > 0;
  pthread_mutex_unlock(&g_fail.mu);
  return f;
}

/* ------------------------------------------------------------- helpers */

static void create_tdb(vs_db *db, const char *name) {
  vs_schema *s = tdb_schema();
  assert_non_null(s);
  vs_collection_options co = {.shards = 2};
  EXPECT_OK(vs_create_collection(db, name, s, &co));
  vs_schema_free(s);
}

/* Thread-safe write of ids [first, first+count) at `ver`; false on error
 * (recorded). */
static bool write_range(vs_db *db, const char *coll, int64_t first,
                        uint32_t count, uint32_t ver, bool upsert) {
  vs_rows *rows = tdb_build_rows(first, count, ver);
  if (rows == NULL) {
    record_failure("tdb_build_rows failed");
    return false;
  }
  vs_write_info info = {0};
  vs_status st = upsert ? vs_upsert(db, coll, NULL, rows, &info)
                        : vs_insert(db, coll, NULL, rows, &info);
  vs_rows_free(rows);
  if (st != VS_OK || info.rows != count) {
    record_failure("%s of %" PRId64 "+%u: %s: %s", upsert ? "upsert" : "insert",
                   first, count, vs_status_name(st), vs_errmsg(NULL));
    return false;
  }
  return true;
}

static void main_write(vs_db *db, const char *coll, int64_t first,
                       uint32_t count, uint32_t ver) {
  while (count > 0) {
    uint32_t n = count < TDB_MAX_BATCH ? count : TDB_MAX_BATCH;
    assert_true(write_range(db, coll, first, n, ver, false));
    first += n;
    count -= n;
  }
}

/* Ids [first, first+count) hold the versions in want[] (-1 absent). */
static void expect_versions(vs_db *db, const char *coll, int64_t first,
                            uint32_t count, const int32_t *want) {
  int32_t *got = calloc(count, sizeof *got);
  char err[256];
  assert_non_null(got);
  if (tdb_read_versions(db, coll, first, count, got, err, sizeof err) != 0)
    fail_msg("%s", err);
  for (uint32_t i = 0; i < count; i++) {
    if (got[i] != want[i])
      fail_msg("id %" PRId64 ": version %d, expected %d", first + i, got[i],
               want[i]);
  }
  free(got);
}

/* Searches for the vector of (id, ver) with k hits; checks that every hit
 * passes valid(id) once, distances are ordered and finite, and (if
 * must_find) that id comes first at distance 0. */
typedef bool (*id_ok_fn)(int64_t id);

static bool search_check(vs_db *db, const char *coll, int64_t id, uint32_t ver,
                         uint32_t k, size_t nq, id_ok_fn valid, bool must_find,
                         vs_status *status) {
  float v[8 * TDB_DIM];
  for (size_t q = 0; q < nq; q++) tdb_row_vector(id, ver, v + q * TDB_DIM);
  vs_search_request req = {.vectors = v, .nq = nq, .dim = TDB_DIM, .k = k};
  vs_result *res = NULL;
  vs_status st = vs_search(db, coll, &req, &res);
  if (status) *status = st;
  if (st != VS_OK) {
    if (status == NULL)
      record_failure("search %s: %s: %s", coll, vs_status_name(st), vs_errmsg(NULL));
    return false;
  }
  bool ok = true;
  for (size_t q = 0; q < nq && ok; q++) {
    size_t hits = vs_result_hits(res, q);
    if (must_find && (hits == 0 || vs_result_id(res, q, 0) != id ||
                      vs_result_distance(res, q, 0) != 0.0f)) {
      record_failure("search for acknowledged id %" PRId64 " did not find it first "
                     "(hits %zu, first %" PRId64 ")", id, hits,
                     hits ? vs_result_id(res, q, 0) : -1);
      ok = false;
    }
    for (size_t i = 0; i < hits && ok; i++) {
      int64_t hid = vs_result_id(res, q, i);
      float d = vs_result_distance(res, q, i);
      if (!valid(hid) || !isfinite(d) || (i > 0 && d < vs_result_distance(res, q, i - 1))) {
        record_failure("search hit %zu: id %" PRId64 " distance %g is not valid", i, hid, d);
        ok = false;
      }
      for (size_t j = 0; j < i && ok; j++) {
        if (vs_result_id(res, q, j) == hid) {
          record_failure("search returned id %" PRId64 " twice", hid);
          ok = false;
        }
      }
    }
  }
  vs_result_free(res);
  return ok;
}

/* ------------------------------------------- writers, readers, compaction */

#define WRITERS 2
#define BATCH 50
#define BATCHES 30
#define PER_WRITER (BATCH * BATCHES)
#define DEL_BASE 50000
#define DEL_CHUNKS 12
#define DEL_CHUNK 50
#define MIN_READER_ROUNDS 40

static const int64_t writer_base[WRITERS] = {0, 100000};

/* Writer batch b is upserted to version 1 by batch b + 2 when b % 5 == 2. */
static bool batch_upserted(int b) { return b % 5 == 2 && b + 2 < BATCHES; }

typedef struct shared {
  vs_db *db;
  pthread_barrier_t start;
  _Atomic int64_t acked[WRITERS]; /* ids base+1 .. base+acked are durable */
  atomic_int running;              /* writers and deleter still working */
  uint64_t seed;
} shared;

typedef struct worker {
  shared *sh;
  int index;
} worker;

static bool valid_id(int64_t id) {
  for (int w = 0; w < WRITERS; w++) {
    if (id > writer_base[w] && id <= writer_base[w] + PER_WRITER) return true;
  }
  return id > DEL_BASE && id <= DEL_BASE + DEL_CHUNKS * DEL_CHUNK;
}

static void *writer_main(void *arg) {
  worker *wk = arg;
  shared *sh = wk->sh;
  int64_t base = writer_base[wk->index];
  pthread_barrier_wait(&sh->start);
  for (int b = 0; b < BATCHES && !failed(); b++) {
    if (!write_range(sh->db, COLL, base + 1 + b * BATCH, BATCH, 0, false)) break;
    atomic_store(&sh->acked[wk->index], (int64_t)(b + 1) * BATCH);
    if (b >= 2 && batch_upserted(b - 2)) {
      if (!write_range(sh->db, COLL, base + 1 + (b - 2) * BATCH, BATCH, 1, true)) break;
    }
  }
  atomic_fetch_sub(&sh->running, 1);
  return NULL;
}

static void *deleter_main(void *arg) {
  worker *wk = arg;
  shared *sh = wk->sh;
  pthread_barrier_wait(&sh->start);
  for (int c = 0; c < DEL_CHUNKS && !failed(); c++) {
    int64_t keys[DEL_CHUNK / 2];
    for (int i = 0; i < DEL_CHUNK / 2; i++) keys[i] = DEL_BASE + 1 + c * DEL_CHUNK + i;
    vs_keys k = {.count = DEL_CHUNK / 2, .int_keys = keys};
    uint64_t deleted = 0;
    vs_status st = vs_delete(sh->db, COLL, NULL, &k, &deleted);
    if (st != VS_OK || deleted != DEL_CHUNK / 2) {
      record_failure("delete chunk %d: %s, deleted %" PRIu64 ": %s", c,
                     vs_status_name(st), deleted, vs_errmsg(NULL));
      break;
    }
    st = vs_compact(sh->db, COLL, c % 2);
    if (st == VS_OK && c == DEL_CHUNKS / 2) st = vs_flush(sh->db, COLL);
    if (st != VS_OK) {
      record_failure("compact/flush after chunk %d: %s: %s", c, vs_status_name(st),
                     vs_errmsg(NULL));
      break;
    }
  }
  atomic_fetch_sub(&sh->running, 1);
  return NULL;
}

/* One reader round: a get of 20 acknowledged ids of one writer, and a
 * search for one acknowledged row that is never upserted. */
static void reader_round(shared *sh, uint64_t *rng, size_t nq) {
  int w = (int)tu_rand_below(rng, WRITERS);
  int64_t acked = atomic_load(&sh->acked[w]);
  if (acked < 20) return;
  int64_t first = writer_base[w] + 1 + (int64_t)tu_rand_below(rng, (uint64_t)acked - 19);
  int32_t got[20];
  char err[256];
  if (tdb_read_versions(sh->db, COLL, first, 20, got, err, sizeof err) != 0) {
    record_failure("reader get: %s", err);
    return;
  }
  for (int i = 0; i < 20; i++) {
    if (got[i] != 0 && got[i] != 1) {
      record_failure("acknowledged id %" PRId64 " read as version %d", first + i, got[i]);
      return;
    }
  }
  int64_t pick = (int64_t)tu_rand_below(rng, (uint64_t)acked);
  if (batch_upserted((int)(pick / BATCH))) return;
  search_check(sh->db, COLL, writer_base[w] + 1 + pick, 0, 10, nq, valid_id, true, NULL);
}

static void *reader_main(void *arg) {
  worker *wk = arg;
  shared *sh = wk->sh;
  uint64_t rng = sh->seed + (uint64_t)wk->index * 7919u;
  pthread_barrier_wait(&sh->start);
  for (int round = 0; !failed(); round++) {
    if (atomic_load(&sh->running) == 0 && round >= MIN_READER_ROUNDS) break;
    reader_round(sh, &rng, round % 2 ? 1 : 5);
    uint64_t n = 0;
    vs_status st = vs_count(sh->db, COLL, NULL, &n);
    if (st != VS_OK) record_failure("count: %s", vs_errmsg(NULL));
  }
  return NULL;
}

static void expect_final_state(vs_db *db) {
  int32_t want[PER_WRITER];
  uint64_t n = 0;
  EXPECT_OK(vs_count(db, COLL, NULL, &n));
  assert_int_equal(n, WRITERS * PER_WRITER + DEL_CHUNKS * DEL_CHUNK / 2);
  for (int w = 0; w < WRITERS; w++) {
    for (int i = 0; i < PER_WRITER; i++) want[i] = batch_upserted(i / BATCH) ? 1 : 0;
    expect_versions(db, COLL, writer_base[w] + 1, PER_WRITER, want);
  }
  for (int i = 0; i < DEL_CHUNKS * DEL_CHUNK; i++) want[i] = i % DEL_CHUNK < DEL_CHUNK / 2 ? -1 : 0;
  expect_versions(db, COLL, DEL_BASE + 1, DEL_CHUNKS * DEL_CHUNK, want);
  /* a search that returns every row sees each exactly once */
  float v[TDB_DIM] = {0};
  vs_search_request req = {.vectors = v, .nq = 1, .dim = TDB_DIM, .k = VS_MAX_TOPK};
  vs_result *res = NULL;
  EXPECT_OK(vs_search(db, COLL, &req, &res));
  assert_int_equal(vs_result_hits(res, 0), n);
  uint8_t *seen = calloc(200000, 1);
  assert_non_null(seen);
  for (size_t i = 0; i < n; i++) {
    int64_t id = vs_result_id(res, 0, i);
    assert_true(valid_id(id));
    if (seen[id]) fail_msg("id %" PRId64 " returned twice", id);
    seen[id] = 1;
    if (id > DEL_BASE && id <= DEL_BASE + DEL_CHUNKS * DEL_CHUNK)
      assert_true((id - DEL_BASE - 1) % DEL_CHUNK >= DEL_CHUNK / 2);
  }
  free(seen);
  vs_result_free(res);
  vs_collection_stats st;
  EXPECT_OK(vs_collection_stats_get(db, COLL, &st));
  assert_int_equal(st.rows, n);
}

static void test_write_read_compact(void **state) {
  const char *dir = *state;
  vs_options opt;
  shared sh;
  pthread_t threads[5];
  worker workers[5];
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_ALWAYS;
  opt.seal_rows = 150;
  opt.threads = 2;
  memset(&sh, 0, sizeof sh);
  sh.seed = tu_seed("test_concurrency");
  EXPECT_OK(vs_open(dir, &opt, &sh.db));
  create_tdb(sh.db, COLL);
  main_write(sh.db, COLL, DEL_BASE + 1, DEL_CHUNKS * DEL_CHUNK, 0);
  EXPECT_OK(vs_flush(sh.db, COLL));
  atomic_store(&sh.running, WRITERS + 1);
  assert_int_equal(pthread_barrier_init(&sh.start, NULL, 5), 0);
  void *(*mains[5])(void *) = {writer_main, writer_main, deleter_main, reader_main,
                               reader_main};
  for (int t = 0; t < 5; t++) {
    workers[t].sh = &sh;
    workers[t].index = t < WRITERS ? t : t - WRITERS;
    assert_int_equal(pthread_create(&threads[t], NULL, mains[t], &workers[t]), 0);
  }
  for (int t = 0; t < 5; t++) pthread_join(threads[t], NULL);
  pthread_barrier_destroy(&sh.start);
  expect_no_failures();
  vs_collection_stats st;
  EXPECT_OK(vs_collection_stats_get(sh.db, COLL, &st));
  assert_true(st.sealed_segments >= 4);
  expect_final_state(sh.db);
  EXPECT_OK(vs_close(sh.db));
  EXPECT_OK(vs_open(dir, &opt, &sh.db));
  expect_final_state(sh.db);
  EXPECT_OK(vs_close(sh.db));
  EXPECT_OK(vs_check(dir, NULL, NULL));
}

/* --------------------------------------------------- DDL while searching */

#define DDL_THREADS 2
#define DDL_ROUNDS 12
#define STABLE "stable"
#define STABLE_ROWS 300

typedef struct ddl_shared {
  vs_db *db;
  pthread_barrier_t start;
  atomic_int running;
} ddl_shared;

typedef struct ddl_worker {
  ddl_shared *sh;
  int index;
} ddl_worker;

static bool small_id(int64_t id) { return id >= 1 && id <= 20; }
static bool churn_id(int64_t id) { return id >= 1001 && id <= 1020; }
/* STABLE's rows, and the rows of the partitions that come and go. */
static bool stable_id(int64_t id) {
  return (id >= 1 && id <= STABLE_ROWS) || churn_id(id);
}

static bool ddl_round(vs_db *db, int t, int r) {
  char name[32];
  int has = -1;
  uint64_t n = 0;
  vs_schema *s = tdb_schema();
  snprintf(name, sizeof name, "ddl_%d_%d", t, r);
  vs_collection_options co = {.shards = 1 + (uint32_t)(r % 3)};
  vs_status st = s ? vs_create_collection(db, name, s, &co) : VS_ERR_NOMEM;
  vs_schema_free(s);
  if (st != VS_OK) {
    record_failure("create %s: %s", name, vs_errmsg(NULL));
    return false;
  }
  if (!write_range(db, name, 1, 20, 0, false)) return false;
  if (r % 2 && vs_flush(db, name) != VS_OK) {
    record_failure("flush %s: %s", name, vs_errmsg(NULL));
    return false;
  }
  if (vs_has_collection(db, name, &has) != VS_OK || has != 1 ||
      vs_count(db, name, NULL, &n) != VS_OK || n != 20) {
    record_failure("%s: has %d count %" PRIu64, name, has, n);
    return false;
  }
  if (!search_check(db, name, 7, 0, 5, 1, small_id, true, NULL)) return false;
  if (vs_drop_collection(db, name) != VS_OK) {
    record_failure("drop %s: %s", name, vs_errmsg(NULL));
    return false;
  }
  vs_rows *rows = tdb_build_rows(1, 1, 0);
  bool gone = vs_has_collection(db, name, &has) == VS_OK && has == 0 &&
              vs_drop_collection(db, name) == VS_ERR_NOT_FOUND &&
              vs_insert(db, name, NULL, rows, NULL) == VS_ERR_NOT_FOUND &&
              vs_count(db, name, NULL, &n) == VS_ERR_NOT_FOUND;
  vs_rows_free(rows);
  if (!gone) record_failure("%s still answers after its drop", name);
  return gone;
}

static void *ddl_main(void *arg) {
  ddl_worker *wk = arg;
  pthread_barrier_wait(&wk->sh->start);
  for (int r = 0; r < DDL_ROUNDS && !failed(); r++) {
    if (!ddl_round(wk->sh->db, wk->index, r)) break;
  }
  atomic_fetch_sub(&wk->sh->running, 1);
  return NULL;
}

/* Partition churn on STABLE: create, fill (the same ids every round),
 * search inside, drop.  Dropping seals the whole collection under the
 * readers' feet. */
static bool partition_round(vs_db *db, int r) {
  char name[32];
  const char *parts[1] = {name};
  uint64_t n = 0;
  snprintf(name, sizeof name, "tmp_%d", r);
  if (vs_create_partition(db, STABLE, name) != VS_OK) {
    record_failure("create partition %s: %s", name, vs_errmsg(NULL));
    return false;
  }
  vs_rows *rows = tdb_build_rows(1001, 20, (uint32_t)r);
  vs_status st = vs_insert(db, STABLE, name, rows, NULL);
  vs_rows_free(rows);
  if (st != VS_OK || vs_count(db, STABLE, name, &n) != VS_OK || n != 20) {
    record_failure("partition %s: insert %s, count %" PRIu64 ": %s", name,
                   vs_status_name(st), n, vs_errmsg(NULL));
    return false;
  }
  float v[TDB_DIM];
  tdb_row_vector(1005, (uint32_t)r, v);
  vs_search_request req = {.vectors = v, .nq = 1, .dim = TDB_DIM, .k = 30,
                           .partitions = parts, .partition_count = 1};
  vs_result *res = NULL;
  st = vs_search(db, STABLE, &req, &res);
  bool ok = st == VS_OK && vs_result_hits(res, 0) == 20 &&
            vs_result_id(res, 0, 0) == 1005 && vs_result_distance(res, 0, 0) == 0.0f;
  for (size_t i = 0; ok && i < 20; i++) ok = churn_id(vs_result_id(res, 0, i));
  vs_result_free(res);
  if (!ok) {
    record_failure("search in partition %s: %s", name, vs_status_name(st));
    return false;
  }
  if (vs_drop_partition(db, STABLE, name) != VS_OK) {
    record_failure("drop partition %s: %s", name, vs_errmsg(NULL));
    return false;
  }
  int32_t ver = 0;
  char err[256];
  if (tdb_read_versions(db, STABLE, 1005, 1, &ver, err, sizeof err) != 0 || ver != -1) {
    record_failure("id 1005 survived the drop of %s (%d %s)", name, ver, err);
    return false;
  }
  return true;
}

static void *partition_churn_main(void *arg) {
  ddl_worker *wk = arg;
  pthread_barrier_wait(&wk->sh->start);
  for (int r = 0; r < DDL_ROUNDS && !failed(); r++) {
    if (!partition_round(wk->sh->db, r)) break;
  }
  atomic_fetch_sub(&wk->sh->running, 1);
  return NULL;
}

static void *stable_reader_main(void *arg) {
  ddl_worker *wk = arg;
  uint64_t rng = 1234u + (uint64_t)wk->index;
  pthread_barrier_wait(&wk->sh->start);
  for (int round = 0; !failed(); round++) {
    if (atomic_load(&wk->sh->running) == 0 && round >= MIN_READER_ROUNDS) break;
    int64_t id = 1 + (int64_t)tu_rand_below(&rng, STABLE_ROWS);
    search_check(wk->sh->db, STABLE, id, 0, 5, 1 + (size_t)(round % 3), stable_id, true, NULL);
    int32_t ver = -2;
    char err[256];
    if (tdb_read_versions(wk->sh->db, STABLE, id, 1, &ver, err, sizeof err) != 0 || ver != 0)
      record_failure("get stable id %" PRId64 ": %d %s", id, ver, err);
    char **names = NULL;
    size_t n = 0;
    if (vs_list_collections(wk->sh->db, &names, &n) != VS_OK) {
      record_failure("list: %s", vs_errmsg(NULL));
    } else {
      bool found = false;
      for (size_t i = 0; i < n; i++) found |= strcmp(names[i], STABLE) == 0;
      if (!found) record_failure("list lost %s", STABLE);
      vs_free_strings(names, n);
    }
  }
  return NULL;
}

/* Collection directories (c000123) in dir. */
static int collection_dirs(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == 'c' && strlen(e->d_name) == 7) n++;
  }
  closedir(d);
  return n;
}

static void test_ddl_while_searching(void **state) {
  const char *dir = *state;
  vs_options opt;
  ddl_shared sh;
  pthread_t threads[5];
  ddl_worker workers[5];
  void *(*mains[5])(void *) = {ddl_main, ddl_main, partition_churn_main,
                               stable_reader_main, stable_reader_main};
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  memset(&sh, 0, sizeof sh);
  EXPECT_OK(vs_open(dir, &opt, &sh.db));
  create_tdb(sh.db, STABLE);
  main_write(sh.db, STABLE, 1, 200, 0);
  EXPECT_OK(vs_flush(sh.db, STABLE));
  main_write(sh.db, STABLE, 201, STABLE_ROWS - 200, 0);
  atomic_store(&sh.running, DDL_THREADS + 1);
  assert_int_equal(pthread_barrier_init(&sh.start, NULL, 5), 0);
  for (int t = 0; t < 5; t++) {
    workers[t].sh = &sh;
    workers[t].index = t % 2;
    assert_int_equal(pthread_create(&threads[t], NULL, mains[t], &workers[t]), 0);
  }
  for (int t = 0; t < 5; t++) pthread_join(threads[t], NULL);
  pthread_barrier_destroy(&sh.start);
  expect_no_failures();
  char **names = NULL;
  size_t n = 0;
  for (int pass = 0; pass < 2; pass++) {
    EXPECT_OK(vs_list_collections(sh.db, &names, &n));
    assert_int_equal(n, 1);
    assert_string_equal(names[0], STABLE);
    vs_free_strings(names, n);
    uint64_t count = 0;
    EXPECT_OK(vs_count(sh.db, STABLE, NULL, &count));
    assert_int_equal(count, STABLE_ROWS);
    size_t np = 0;
    EXPECT_OK(vs_list_partitions(sh.db, STABLE, &names, &np));
    assert_int_equal(np, 1);
    vs_free_strings(names, np);
    EXPECT_OK(vs_close(sh.db));
    assert_int_equal(collection_dirs(dir), 1);
    EXPECT_OK(vs_open(dir, &opt, &sh.db));
  }
  EXPECT_OK(vs_close(sh.db));
}

/* ------------------------------------------------------ drop while in use */

#define VICTIM "victim"

typedef struct drop_shared {
  vs_db *db;
  pthread_barrier_t start;
  atomic_int rounds; /* completed rounds of all users */
} drop_shared;

static bool any_id(int64_t id) { return id >= 1 && id <= 1000000; }

static void *drop_user_main(void *arg) {
  drop_shared *sh = arg;
  uint64_t rng = (uint64_t)(uintptr_t)arg;
  pthread_barrier_wait(&sh->start);
  for (;;) {
    vs_status st = VS_OK;
    int64_t id = 1 + (int64_t)tu_rand_below(&rng, 400);
    search_check(sh->db, VICTIM, id, 0, 5, 2, any_id, false, &st);
    if (st == VS_ERR_NOT_FOUND) break;
    if (st != VS_OK) {
      record_failure("search during drop: %s: %s", vs_status_name(st), vs_errmsg(NULL));
      break;
    }
    uint64_t n = 0;
    st = vs_count(sh->db, VICTIM, NULL, &n);
    if (st != VS_OK && st != VS_ERR_NOT_FOUND) record_failure("count during drop: %s", vs_errmsg(NULL));
    atomic_fetch_add(&sh->rounds, 1);
  }
  return NULL;
}

static void *drop_writer_main(void *arg) {
  drop_shared *sh = arg;
  pthread_barrier_wait(&sh->start);
  for (int64_t first = 1000;; first += 20) {
    vs_rows *rows = tdb_build_rows(first, 20, 0);
    vs_status st = vs_insert(sh->db, VICTIM, NULL, rows, NULL);
    vs_rows_free(rows);
    if (st == VS_OK) {
      int64_t keys[5] = {first, first + 1, first + 2, first + 3, first + 4};
      vs_keys k = {.count = 5, .int_keys = keys};
      st = vs_delete(sh->db, VICTIM, NULL, &k, NULL);
    }
    if (st == VS_ERR_NOT_FOUND) break;
    if (st != VS_OK) {
      record_failure("write during drop: %s: %s", vs_status_name(st), vs_errmsg(NULL));
      break;
    }
    atomic_fetch_add(&sh->rounds, 1);
  }
  return NULL;
}

static void test_drop_while_in_use(void **state) {
  const char *dir = *state;
  vs_options opt;
  drop_shared sh;
  pthread_t threads[3];
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  opt.seal_rows = 100;
  memset(&sh, 0, sizeof sh);
  EXPECT_OK(vs_open(dir, &opt, &sh.db));
  for (int round = 0; round < 3; round++) {
    create_tdb(sh.db, VICTIM);
    main_write(sh.db, VICTIM, 1, 400, 0);
    if (round == 1) EXPECT_OK(vs_flush(sh.db, VICTIM));
    atomic_store(&sh.rounds, 0);
    assert_int_equal(pthread_barrier_init(&sh.start, NULL, 4), 0);
    for (int t = 0; t < 3; t++)
      assert_int_equal(pthread_create(&threads[t], NULL,
                                      t < 2 ? drop_user_main : drop_writer_main, &sh), 0);
    pthread_barrier_wait(&sh.start);
    /* let the users get going (progress, not time), then drop */
    while (atomic_load(&sh.rounds) < 10 * (round + 1) && !failed()) sched_yield();
    EXPECT_OK(vs_drop_collection(sh.db, VICTIM));
    for (int t = 0; t < 3; t++) pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&sh.start);
    expect_no_failures();
    int has = -1;
    EXPECT_OK(vs_has_collection(sh.db, VICTIM, &has));
    assert_int_equal(has, 0);
  }
  create_tdb(sh.db, VICTIM);
  uint64_t n = 1;
  EXPECT_OK(vs_count(sh.db, VICTIM, NULL, &n));
  assert_int_equal(n, 0);
  EXPECT_OK(vs_close(sh.db));
  assert_int_equal(collection_dirs(dir), 1);
  EXPECT_OK(vs_open(dir, &opt, &sh.db));
  EXPECT_OK(vs_count(sh.db, VICTIM, NULL, &n));
  assert_int_equal(n, 0);
  EXPECT_OK(vs_close(sh.db));
}

/* Each test gets a fresh directory, removed even when the test fails. */
static int dir_setup(void **state) {
  *state = tu_make_tmpdir("concurrency");
  return *state ? 0 : -1;
}

static int dir_teardown(void **state) {
  tu_remove_tree(*state);
  free(*state);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_write_read_compact, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_ddl_while_searching, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_drop_while_in_use, dir_setup, dir_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
