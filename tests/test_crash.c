/*
 * test_crash.c -- kill -9 the writer at random moments; every acknowledged
 * write must survive, exactly once, and `vectorstore check` must pass.
 *
 * The protocol
 * ------------
 * Each round the parent forks a child.  The child opens the database
 * (fsync=always, seal_rows=500 so seals, MANIFEST rewrites and compaction
 * happen often), creates the collection if missing, and loops over random
 * operations: insert a batch of 1..200 new ids, upsert a range of existing
 * ids with a new version, delete a range, compact, flush, or (1%) add a
 * nullable field (verified: the acknowledged ones exist, in order, null or
 * their default in every row; an in-flight add is all or nothing).  Around
 * every operation it writes a fixed-size message to a pipe:
 *
 *   INTENT (op, first_id, count, version)   before the call
 *   ACK    (same)                           after the call returned VS_OK
 *
 * A message is smaller than PIPE_BUF, so write(2) is atomic: the parent sees
 * a whole ACK or none, and the write *is* the acknowledgement.  The parent
 * kills the child with SIGKILL at a point chosen by acknowledgements read
 * (kill right after the r-th ACK, r in 1..50) or by a random number of busy
 * iterations (kill at an arbitrary moment, including inside vs_open's
 * recovery of the previous crash).  After the kill it drains the pipe: ACKs
 * that reached the pipe before the kill count too.
 *
 * The model
 * ---------
 * The parent keeps the expected state built from ACKs only: for every id
 * ever used, the version it holds (or -1 = absent), the number of live rows,
 * and whether the collection was created.  A row's content is a pure
 * function of (id, version): the vector from a splitmix64 stream, tag
 * "id<id>-v<version>", score null or a double derived from both.  The child
 * is forked from the parent, so it starts from the same model.
 *
 * Verification (in the parent, after waitpid)
 * -------------------------------------------
 *  - vs_open succeeds;
 *  - the one in-flight operation (INTENT without ACK) is all-or-nothing:
 *    every id of its range holds the old state, or every id the new one;
 *    the model then adopts whichever it was;
 *  - vs_count equals the live count (so nothing is duplicated);
 *  - vs_get over every id ever used returns exactly the live ids, each with
 *    the exact vector (bit for bit), tag and score of its version;
 *  - exact search for a few live vectors returns that id first at distance
 *    0, and not again second;
 *  - after vs_close, `$VS_BIN check DIR` exits 0.
 *
 * Rounds: env VS_CRASH_ROUNDS (default 20); seed: env VS_TEST_SEED; fsync
 * policy: env VS_CRASH_FSYNC (default always).
 * VS_KEEP_TMP=1 keeps the database directory for inspection.
 *
 * Alternatives rejected: sleeping a random time before the kill (timing is
 * not synchronisation, and the busy loop gives the same spread of kill
 * points without sleeping); verifying in a second child (the parent never
 * keeps the database open across a fork, so its state cannot leak into the
 * child, and cmocka's asserts work only in the parent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/testdb.h"
#include "support/testutil.h"
#include "vectorstore.h"

#define DIM TDB_DIM
#define COLL "crash"
#define MAX_BATCH TDB_MAX_BATCH
#define CHILD_MAX_OPS 5000
#define MAX_ADDED_FIELDS 24
#define GET_CHUNK 1000

enum { MSG_INTENT = 1, MSG_ACK = 2, MSG_ERROR = 3 };
enum {
  OP_CREATE = 1,
  OP_INSERT = 2,
  OP_UPSERT = 3,
  OP_DELETE = 4,
  OP_COMPACT = 5,
  OP_FLUSH = 6,
  OP_ADD_FIELD = 7    /* adds nullable Int64 field "x<version>" (odd
                         versions with default 7, even ones null) */
};

typedef struct msg {
  uint32_t kind;
  uint32_t op;
  int64_t first_id;
  uint32_t count;
  uint32_t version;
  char text[232];
} msg;

_Static_assert(sizeof(msg) <= 512, "messages must stay well under PIPE_BUF");

typedef struct model {
  int32_t *ver;       /* per id: version, or -1 = absent */
  size_t cap;
  int64_t next_id;    /* ids ever used are [0, next_id) */
  uint32_t next_version;
  uint64_t live;
  bool created;
  uint32_t fields_added; /* fields "x0".."x<n-1>" exist (every row null) */
} model;

typedef struct crash_state {
  char *dir;
  model m;
} crash_state;

/* ------------------------------------------------------------------ model */

static void model_reserve(model *m, int64_t ids) {
  if ((size_t)ids <= m->cap) return;
  size_t cap = m->cap ? m->cap : 1024;
  while (cap < (size_t)ids) cap *= 2;
  int32_t *grown = realloc(m->ver, cap * sizeof *grown);
  if (grown == NULL) abort();
  for (size_t i = m->cap; i < cap; i++) grown[i] = -1;
  m->ver = grown;
  m->cap = cap;
}

static void model_set(model *m, int64_t id, int32_t ver) {
  model_reserve(m, id + 1);
  if (m->ver[id] < 0 && ver >= 0) m->live++;
  if (m->ver[id] >= 0 && ver < 0) m->live--;
  m->ver[id] = ver;
  if (id >= m->next_id) m->next_id = id + 1;
}

/* The version id holds after `op` is applied (-2 = op leaves it alone). */
static int32_t op_new_state(const msg *op) {
  switch (op->op) {
  case OP_INSERT:
  case OP_UPSERT:
    return (int32_t)op->version;
  case OP_DELETE:
    return -1;
  default:
    return -2;
  }
}

static void model_apply(model *m, const msg *op) {
  if (op->op == OP_CREATE) m->created = true;
  if (op->op == OP_ADD_FIELD) m->fields_added = op->version + 1;
  int32_t st = op_new_state(op);
  if (st == -2) return;
  for (uint32_t i = 0; i < op->count; i++) model_set(m, op->first_id + i, st);
}

static int32_t model_get(const model *m, int64_t id) {
  return (size_t)id < m->cap ? m->ver[id] : -1;
}

/* ------------------------------------------------------------------ child */

static void send_msg(int fd, uint32_t kind, const msg *op, const char *text) {
  msg out = *op;
  out.kind = kind;
  memset(out.text, 0, sizeof out.text);
  if (text != NULL) snprintf(out.text, sizeof out.text, "%s", text);
  ssize_t n;
  do {
    n = write(fd, &out, sizeof out);
  } while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof out) _exit(3);
}

static void child_fail(int fd, const msg *op, const char *what) {
  char text[232];
  snprintf(text, sizeof text, "%s (op %u first %" PRId64 " count %u): %s",
           what, op->op, op->first_id, op->count, vs_errmsg(NULL));
  send_msg(fd, MSG_ERROR, op, text);
  _exit(2);
}

/* The child's fsync policy: env VS_CRASH_FSYNC (always, batch or none;
 * default always).  A SIGKILL loses nothing acknowledged under any policy
 * (the OS keeps what was written), so every policy must pass. */
static void crash_options(vs_options *opt) {
  vs_options_init(opt);
  opt->fsync = VS_FSYNC_ALWAYS;
  const char *policy = getenv("VS_CRASH_FSYNC");
  if (policy != NULL && vs_fsync_policy_from_name(policy, &opt->fsync) != VS_OK)
    opt->fsync = VS_FSYNC_ALWAYS;
  opt->seal_rows = 500;
}

/* Picks the next operation from the child's copy of the model. */
static msg child_pick(model *m, uint64_t *rng) {
  msg op;
  memset(&op, 0, sizeof op);
  uint64_t r = tu_rand_below(rng, 100);
  if (m->next_id == 0 || r < 50) {
    op.op = OP_INSERT;
    op.first_id = m->next_id;
    op.count = 1 + (uint32_t)tu_rand_below(rng, MAX_BATCH);
  } else if (r < 92) {
    op.op = r < 72 ? OP_UPSERT : OP_DELETE;
    op.first_id = (int64_t)tu_rand_below(rng, (uint64_t)m->next_id);
    uint64_t room = (uint64_t)(m->next_id - op.first_id);
    op.count = 1 + (uint32_t)tu_rand_below(rng, room < MAX_BATCH ? room
                                                                 : MAX_BATCH);
  } else if (r < 99 || m->fields_added >= MAX_ADDED_FIELDS) {
    op.op = r < 96 ? OP_COMPACT : OP_FLUSH;
  } else {
    op.op = OP_ADD_FIELD;
    op.version = m->fields_added;
  }
  if (op.op == OP_INSERT || op.op == OP_UPSERT) op.version = m->next_version++;
  return op;
}

static vs_status child_do(vs_db *db, const msg *op, uint64_t *rng) {
  vs_status st = VS_OK;
  vs_rows *rows = NULL;
  int64_t keys[MAX_BATCH];
  switch (op->op) {
  case OP_INSERT:
  case OP_UPSERT:
    rows = tdb_build_rows(op->first_id, op->count, op->version);
    if (rows == NULL) return VS_ERR_NOMEM;
    st = op->op == OP_INSERT ? vs_insert(db, COLL, NULL, rows, NULL)
                             : vs_upsert(db, COLL, NULL, rows, NULL);
    vs_rows_free(rows);
    return st;
  case OP_DELETE: {
    for (uint32_t i = 0; i < op->count; i++) keys[i] = op->first_id + i;
    vs_keys k = {.count = op->count, .int_keys = keys};
    return vs_delete(db, COLL, NULL, &k, NULL);
  }
  case OP_COMPACT:
    return vs_compact(db, COLL, (int)tu_rand_below(rng, 2));
  case OP_FLUSH:
    return vs_flush(db, COLL);
  case OP_ADD_FIELD: {
    char name[16];
    snprintf(name, sizeof name, "x%u", op->version);
    return vs_add_field(db, COLL, &(vs_field_def){.name = name, .type = VS_TYPE_INT64, .nullable = 1,
                                                  .default_json = op->version % 2 ? "7" : NULL});
  }
  default:
    return VS_ERR_INTERNAL;
  }
}

static void child_ensure_collection(vs_db *db, model *m, int fd) {
  msg op;
  memset(&op, 0, sizeof op);
  op.op = OP_CREATE;
  int has = 0;
  if (vs_has_collection(db, COLL, &has) != VS_OK)
    child_fail(fd, &op, "vs_has_collection");
  if (!has) {
    vs_schema *s = tdb_schema();
    if (s == NULL) child_fail(fd, &op, "schema");
    send_msg(fd, MSG_INTENT, &op, NULL);
    if (vs_create_collection(db, COLL, s, NULL) != VS_OK)
      child_fail(fd, &op, "vs_create_collection");
    vs_schema_free(s);
  }
  send_msg(fd, MSG_ACK, &op, NULL);
  m->created = true;
}

static void child_main(const char *dir, model *m, uint64_t seed, int fd) {
  uint64_t rng = seed;
  vs_options opt;
  vs_db *db = NULL;
  msg none;
  memset(&none, 0, sizeof none);
  crash_options(&opt);
  if (vs_open(dir, &opt, &db) != VS_OK) child_fail(fd, &none, "vs_open");
  child_ensure_collection(db, m, fd);
  for (int i = 0; i < CHILD_MAX_OPS; i++) {
    msg op = child_pick(m, &rng);
    send_msg(fd, MSG_INTENT, &op, NULL);
    if (child_do(db, &op, &rng) != VS_OK) child_fail(fd, &op, "write");
    send_msg(fd, MSG_ACK, &op, NULL);
    model_apply(m, &op);
  }
  _exit(0); /* without vs_close: also a crash, just a polite one */
}

/* ----------------------------------------------------------------- parent */

typedef struct round_result {
  msg inflight;        /* valid when inflight.kind == MSG_INTENT */
  char error[256];     /* child's MSG_ERROR text, or "" */
  uint64_t acks;
} round_result;

static bool read_msg(int fd, msg *out) {
  size_t got = 0;
  while (got < sizeof *out) {
    ssize_t n = read(fd, (char *)out + got, sizeof *out - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += (size_t)n;
  }
  return true;
}

static void handle_msg(model *m, round_result *rr, const msg *in) {
  if (in->kind == MSG_INTENT) {
    rr->inflight = *in;
    if (in->op != OP_ADD_FIELD && in->version >= m->next_version) m->next_version = in->version + 1;
  } else if (in->kind == MSG_ACK) {
    model_apply(m, in);
    rr->inflight.kind = 0;
    rr->acks++;
  } else if (in->kind == MSG_ERROR) {
    snprintf(rr->error, sizeof rr->error, "%s", in->text);
  }
}

static void busy_wait(uint64_t iterations) {
  volatile uint64_t sink = 0;
  for (uint64_t i = 0; i < iterations; i++) sink += i;
  (void)sink;
}

/* Runs one round: fork, feed on ACKs, kill, drain.  Returns the child's
 * wait status. */
static int run_round(const char *dir, model *m, uint64_t *rng,
                     round_result *rr) {
  int fds[2];
  memset(rr, 0, sizeof *rr);
  assert_int_equal(pipe(fds), 0);
  uint64_t child_seed = tu_splitmix64(rng);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child_main(dir, m, child_seed, fds[1]);
  }
  close(fds[1]);
  uint64_t mode = tu_rand_below(rng, 4);
  uint64_t want = 1 + tu_rand_below(rng, 50);
  if (mode == 3) want = 0; /* kill during open / recovery */
  msg in;
  while (rr->acks < want && read_msg(fds[0], &in)) handle_msg(m, rr, &in);
  if (mode >= 2) busy_wait(tu_rand_below(rng, 20u * 1000 * 1000));
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (read_msg(fds[0], &in)) handle_msg(m, rr, &in);
  close(fds[0]);
  return status;
}

static void read_versions(vs_db *db, int64_t first, uint32_t count,
                          int32_t *out, int round) {
  char err[512];
  if (tdb_read_versions(db, COLL, first, count, out, err, sizeof err) != 0)
    fail_msg("round %d: %s", round, err);
}

/* Decides whether the in-flight write happened, all or nothing, and folds
 * it into the model.  Returns a word for the round's log line. */
static const char *resolve_inflight(vs_db *db, model *m,
                                    const round_result *rr, int round) {
  const msg *op = &rr->inflight;
  if (rr->inflight.kind != MSG_INTENT) return "none";
  int32_t newst = op_new_state(op);
  if (newst == -2) return "no-op";
  int32_t *got = malloc(op->count * sizeof *got);
  assert_non_null(got);
  read_versions(db, op->first_id, op->count, got, round);
  bool any_old = false;
  bool any_new = false;
  for (uint32_t i = 0; i < op->count; i++) {
    int32_t old = model_get(m, op->first_id + i);
    if (old == newst) continue; /* no difference to observe */
    if (got[i] == old) {
      any_old = true;
    } else if (got[i] == newst) {
      any_new = true;
    } else {
      fail_msg("round %d: in-flight op %u: id %" PRId64 " holds version %d, "
               "expected %d (old) or %d (new)", round, op->op,
               op->first_id + i, got[i], old, newst);
    }
  }
  free(got);
  if (any_old && any_new)
    fail_msg("round %d: in-flight op %u (ids %" PRId64 "+%u) was applied "
             "partly", round, op->op, op->first_id, op->count);
  if (any_new) model_apply(m, op);
  if (op->op == OP_INSERT && op->first_id + op->count > m->next_id)
    m->next_id = op->first_id + op->count; /* never reuse maybe-used ids */
  model_reserve(m, m->next_id);
  if (!any_old && !any_new) return "invisible";
  return any_new ? "applied" : "not applied";
}

static void check_all_rows(vs_db *db, const model *m, int round) {
  int32_t got[GET_CHUNK];
  for (int64_t first = 0; first < m->next_id; first += GET_CHUNK) {
    int64_t left = m->next_id - first;
    uint32_t n = (uint32_t)(left < GET_CHUNK ? left : GET_CHUNK);
    read_versions(db, first, n, got, round);
    for (uint32_t i = 0; i < n; i++) {
      int32_t want = model_get(m, first + i);
      if (got[i] != want)
        fail_msg("round %d: id %" PRId64 " holds version %d, expected %d "
                 "(-1 = absent)", round, first + i, got[i], want);
    }
  }
}

static void check_search(vs_db *db, const model *m, uint64_t *rng,
                         int round) {
  if (m->live == 0) return;
  for (int q = 0; q < 8; q++) {
    int64_t id = (int64_t)tu_rand_below(rng, (uint64_t)m->next_id);
    while (model_get(m, id) < 0) id = (id + 1) % m->next_id;
    float v[DIM];
    tdb_row_vector(id, (uint32_t)model_get(m, id), v);
    vs_search_request req = {.vectors = v, .nq = 1, .dim = DIM, .k = 2};
    vs_result *res = NULL;
    vs_status st = vs_search(db, COLL, &req, &res);
    if (st != VS_OK) fail_msg("round %d: vs_search: %s", round, vs_errmsg(db));
    assert_true(vs_result_hits(res, 0) >= 1);
    if (vs_result_id(res, 0, 0) != id || vs_result_distance(res, 0, 0) > 1e-6f)
      fail_msg("round %d: search for id %" PRId64 " found %" PRId64 " at %g",
               round, id, vs_result_id(res, 0, 0),
               (double)vs_result_distance(res, 0, 0));
    if (vs_result_hits(res, 0) > 1 && vs_result_id(res, 0, 1) == id)
      fail_msg("round %d: id %" PRId64 " found twice by search", round, id);
    vs_result_free(res);
  }
}

/* The added fields: "x0".."x<n-1>" after the schema's own, n = the acked
 * count, or one more if the in-flight operation was an add that happened
 * (adopted into the model).  No row sets them: every row is null in the
 * even ones and 7 (their default) in the odd ones. */
static void check_fields(vs_db *db, model *m, const round_result *rr, int round) {
  vs_schema *s = NULL;
  assert_int_equal(vs_get_schema(db, COLL, &s), VS_OK);
  vs_schema *base = tdb_schema();
  assert_non_null(base);
  size_t own = vs_schema_field_count(base);
  vs_schema_free(base);
  size_t added = vs_schema_field_count(s) - own;
  bool inflight_add = rr->inflight.kind == MSG_INTENT && rr->inflight.op == OP_ADD_FIELD;
  if (added == m->fields_added + 1 && inflight_add) {
    m->fields_added++;
  } else if (added != m->fields_added) {
    fail_msg("round %d: %zu added fields, expected %u%s", round, added, m->fields_added,
             inflight_add ? " (or one more)" : "");
  }
  for (size_t i = 0; i < added; i++) {
    vs_field_def f;
    char name[24], filter[64];
    assert_int_equal(vs_schema_field(s, own + i, &f), VS_OK);
    snprintf(name, sizeof name, "x%zu", i);
    if (strcmp(f.name, name) != 0 || f.type != VS_TYPE_INT64 || !f.nullable)
      fail_msg("round %d: added field %zu is '%s'", round, i, f.name);
    uint64_t hits = 0;
    snprintf(filter, sizeof filter, i % 2 ? "%s == 7" : "%s is null", name);
    assert_int_equal(vs_query_count(db, COLL, filter, NULL, NULL, 0, &hits), VS_OK);
    if (hits != m->live)
      fail_msg("round %d: %" PRIu64 " rows match '%s', expected %" PRIu64, round, hits, filter, m->live);
  }
  vs_schema_free(s);
}

static const char *verify_round(const char *dir, model *m,
                                const round_result *rr, uint64_t *rng,
                                int round) {
  const char *inflight = "none";
  vs_options opt;
  vs_db *db = NULL;
  crash_options(&opt);
  vs_status st = vs_open(dir, &opt, &db);
  if (st != VS_OK)
    fail_msg("round %d: reopen failed: %s: %s", round, vs_status_name(st),
             vs_errmsg(NULL));
  int has = 0;
  assert_int_equal(vs_has_collection(db, COLL, &has), VS_OK);
  if (!m->created) {
    if (has) m->created = true; /* the in-flight create happened */
  } else if (!has) {
    fail_msg("round %d: acknowledged collection is missing", round);
  }
  if (m->created) {
    inflight = resolve_inflight(db, m, rr, round);
    uint64_t count = 0;
    assert_int_equal(vs_count(db, COLL, NULL, &count), VS_OK);
    if (count != m->live)
      fail_msg("round %d: vs_count %" PRIu64 ", expected %" PRIu64, round,
               count, m->live);
    check_all_rows(db, m, round);
    check_search(db, m, rng, round);
    check_fields(db, m, rr, round);
  }
  st = vs_close(db);
  if (st != VS_OK) fail_msg("round %d: close: %s", round, vs_errmsg(NULL));
  return inflight;
}

static void run_check(const char *dir, int round) {
  const char *bin = tu_vs_bin();
  if (bin == NULL) {
    fprintf(stderr, "VS_BIN not set: skipping `vectorstore check`\n");
    return;
  }
  const char *argv[] = {bin, "check", dir, NULL};
  char *out = NULL;
  int rc = tu_run(argv, &out);
  if (rc != 0) fail_msg("round %d: `vectorstore check` exit %d:\n%s", round,
                        rc, out ? out : "");
  free(out);
}

static void check_child_status(int status, const round_result *rr, int round) {
  if (rr->error[0] != '\0') fail_msg("round %d: child: %s", round, rr->error);
  if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
    fail_msg("round %d: child died of signal %d", round, WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    fail_msg("round %d: child exit %d", round, WEXITSTATUS(status));
}

static void test_crash_rounds(void **state) {
  crash_state *cs = *state;
  uint64_t rounds = tu_env_u64("VS_CRASH_ROUNDS", 20);
  uint64_t rng = tu_seed("test_crash");
  for (uint64_t r = 0; r < rounds; r++) {
    round_result rr;
    int status = run_round(cs->dir, &cs->m, &rng, &rr);
    check_child_status(status, &rr, (int)r);
    const char *inflight = verify_round(cs->dir, &cs->m, &rr, &rng, (int)r);
    run_check(cs->dir, (int)r);
    fprintf(stderr, "round %" PRIu64 ": %" PRIu64 " acks, in-flight op %u %s"
            ", %" PRIu64 " live rows, %" PRId64 " ids used, %u fields added\n", r, rr.acks,
            rr.inflight.kind == MSG_INTENT ? rr.inflight.op : 0, inflight,
            cs->m.live, cs->m.next_id, cs->m.fields_added);
  }
}

static int setup(void **state) {
  crash_state *cs = calloc(1, sizeof *cs);
  if (cs == NULL) return -1;
  cs->dir = tu_make_tmpdir("crash");
  if (cs->dir == NULL) return -1;
  *state = cs;
  return 0;
}

static int teardown(void **state) {
  crash_state *cs = *state;
  if (getenv("VS_KEEP_TMP") == NULL) {
    tu_remove_tree(cs->dir);
  } else {
    fprintf(stderr, "kept %s\n", cs->dir);
  }
  free(cs->dir);
  free(cs->m.ver);
  free(cs);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_crash_rounds, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
