/*
 * test_query.c -- filtered reads and writes without vectors (vs_query,
 * vs_query_count, vs_delete_where), checked against an oracle that the test
 * computes itself.
 *
 * Every row is a pure function of (id, version) (row_values below), so the
 * test knows what every live row holds.  Each filter in the table comes
 * with a C predicate written independently of the engine; the expected
 * answer of a filter is "the live rows whose current version satisfies the
 * predicate", and the engine's answer must be exactly that set (ids are
 * compared as sorted sets, since query returns rows in storage order).
 *
 * The data is spread the way a real collection is: two partitions, rows
 * sealed by flushes and rows left growing, every 7th row deleted and every
 * 11th row upserted with a new version (half before and half after the
 * last flush), so tombstones in sealed and growing segments and old
 * versions are all present; an old version or a deleted row must never be
 * returned.
 *
 * The schema has one field of each scalar type (Int8..Int64, Float,
 * Double, Bool, VarChar, JSON with nested keys, Array of Int64), a
 * nullable field and dynamic keys ("color" on every row, "rank" on even
 * rows only, so a comparison on it is false where it is missing).
 *
 * Rejected: comparing against the engine's own brute-force paths (a bug
 * shared by both would be invisible); random filter generation (a fixed
 * table whose predicates can be read next to the filter text is easier to
 * trust and to debug).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"
#include "vectorstore.h"
#include "support/expect.h"

#define COLL "q"
#define N_ROWS 3000
#define DIM 4
#define BATCH 250

/* ------------------------------------------------------------ row model */

typedef struct rowv {
  int64_t i8, i16, i32, i64;
  double f, d;
  bool b;
  char s[32];
  int64_t ja, jx, jl[2];
  char jtag[8];
  int64_t arr[4];
  size_t arr_len;
  bool ns_null;
  int64_t ns;
  const char *color;
  bool has_rank;
  int64_t rank;
  float vec[DIM];
} rowv;

static const char *const colors[3] = {"red", "green", "blue"};

static void row_values(int64_t id, int ver, rowv *r) {
  memset(r, 0, sizeof *r);
  r->i8 = (id * 7 + ver * 3) % 201 - 100;
  r->i16 = (id * 13) % 2001 - 1000;
  r->i32 = (id * 31 + ver * 17) % 100000;
  r->i64 = (id % 2 ? -1 : 1) * id * 1000000007LL;
  r->f = (double)((id * 3 + ver) % 400 - 200) / 4.0;
  r->d = (double)(id % 1000) / 8.0 + ver;
  r->b = (id + ver) % 3 == 0;
  if (ver) {
    snprintf(r->s, sizeof r->s, "gamma_%" PRId64, id % 100);
  } else if (id % 5 == 0) {
    snprintf(r->s, sizeof r->s, "alpha_%" PRId64, id % 100);
  } else {
    snprintf(r->s, sizeof r->s, "beta_%" PRId64, id % 100);
  }
  r->ja = id % 10;
  r->jx = (id + ver) % 7;
  r->jl[0] = id % 5;
  r->jl[1] = id % 3;
  snprintf(r->jtag, sizeof r->jtag, "t%" PRId64, id % 4);
  r->arr_len = (size_t)(id % 4);
  for (size_t i = 0; i < r->arr_len; i++) r->arr[i] = (id + (int64_t)i * 5 + ver) % 9;
  r->ns_null = id % 5 == 0;
  r->ns = id % 50;
  r->color = colors[id % 3];
  r->has_rank = id % 2 == 0;
  r->rank = id % 11 + ver;
  uint64_t state = (uint64_t)id * 1000003u + (uint64_t)ver;
  for (int i = 0; i < DIM; i++) r->vec[i] = tu_rand_float(&state);
}

/* The row as insert JSON (dynamic keys "color" and "rank" at top level). */
static void row_json(int64_t id, int ver, char *buf, size_t n) {
  rowv r;
  row_values(id, ver, &r);
  char arr[64] = "[";
  for (size_t i = 0; i < r.arr_len; i++) {
    size_t len = strlen(arr);
    snprintf(arr + len, sizeof arr - len, "%s%" PRId64, i ? "," : "", r.arr[i]);
  }
  strcat(arr, "]");
  char ns[24] = "null";
  if (!r.ns_null) snprintf(ns, sizeof ns, "%" PRId64, r.ns);
  char rank[32] = "";
  if (r.has_rank) snprintf(rank, sizeof rank, ",\"rank\":%" PRId64, r.rank);
  snprintf(buf, n,
           "{\"id\":%" PRId64 ",\"vec\":[%.9g,%.9g,%.9g,%.9g],\"i8\":%" PRId64
           ",\"i16\":%" PRId64 ",\"i32\":%" PRId64 ",\"i64\":%" PRId64
           ",\"f\":%.17g,\"d\":%.17g,\"b\":%s,\"s\":\"%s\",\"j\":{\"a\":%" PRId64
           ",\"n\":{\"x\":%" PRId64 ",\"tag\":\"%s\"},\"l\":[%" PRId64 ",%" PRId64
           "]},\"arr\":%s,\"ns\":%s,\"color\":\"%s\"%s}",
           id, (double)r.vec[0], (double)r.vec[1], (double)r.vec[2],
           (double)r.vec[3], r.i8, r.i16, r.i32, r.i64, r.f, r.d,
           r.b ? "true" : "false", r.s, r.ja, r.jx, r.jtag, r.jl[0], r.jl[1],
           arr, ns, r.color, rank);
}

/* ------------------------------------------------------------- fixture */

typedef struct fixture {
  char *dir;
  vs_db *db;
  vs_schema *schema;
  int ver[N_ROWS + 1];       /* current version of each id */
  bool live[N_ROWS + 1];
} fixture;

static const char *partition_of(int64_t id) {
  return id % 4 == 1 ? "p1" : VS_DEFAULT_PARTITION;
}

static vs_schema *make_schema(void) {
  vs_schema *s = NULL;
  vs_field_def defs[] = {
      {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1},
      {.name = "vec", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_L2},
      {.name = "i8", .type = VS_TYPE_INT8},
      {.name = "i16", .type = VS_TYPE_INT16},
      {.name = "i32", .type = VS_TYPE_INT32},
      {.name = "i64", .type = VS_TYPE_INT64},
      {.name = "f", .type = VS_TYPE_FLOAT},
      {.name = "d", .type = VS_TYPE_DOUBLE},
      {.name = "b", .type = VS_TYPE_BOOL},
      {.name = "s", .type = VS_TYPE_VARCHAR, .max_length = 32},
      {.name = "j", .type = VS_TYPE_JSON},
      {.name = "arr", .type = VS_TYPE_ARRAY, .element_type = VS_TYPE_INT64, .max_capacity = 8},
      {.name = "ns", .type = VS_TYPE_INT32, .nullable = 1},
  };
  EXPECT_OK(vs_schema_new(&s));
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) EXPECT_OK(vs_schema_add_field(s, &defs[i]));
  EXPECT_OK(vs_schema_enable_dynamic(s, 1));
  return s;
}

/* Writes ids from `ids` (all in `partition`) at their current version. */
static void write_ids(fixture *fx, const int64_t *ids, size_t n, const char *partition,
                      bool upsert) {
  size_t cap = n * 512 + 16;
  char *json = malloc(cap);
  assert_non_null(json);
  size_t len = 0;
  json[len++] = '[';
  for (size_t i = 0; i < n; i++) {
    char row[512];
    row_json(ids[i], fx->ver[ids[i]], row, sizeof row);
    len += (size_t)snprintf(json + len, cap - len, "%s%s", i ? "," : "", row);
  }
  json[len++] = ']';
  json[len] = 0;
  vs_rows *rows = NULL;
  EXPECT_OK(vs_rows_from_json(fx->schema, json, &rows));
  if (upsert) {
    EXPECT_OK(vs_upsert(fx->db, COLL, partition, rows, NULL));
  } else {
    EXPECT_OK(vs_insert(fx->db, COLL, partition, rows, NULL));
  }
  vs_rows_free(rows);
  free(json);
}

/* Writes the ids in [from, to] that `want` selects, per partition. */
static void write_range(fixture *fx, int64_t from, int64_t to, bool (*want)(int64_t),
                        bool upsert) {
  static int64_t ids[N_ROWS];
  const char *parts[2] = {VS_DEFAULT_PARTITION, "p1"};
  for (int p = 0; p < 2; p++) {
    size_t n = 0;
    for (int64_t id = from; id <= to; id++) {
      if (want && !want(id)) continue;
      if (strcmp(partition_of(id), parts[p]) != 0) continue;
      ids[n++] = id;
      if (n == BATCH) {
        write_ids(fx, ids, n, parts[p], upsert);
        n = 0;
      }
    }
    if (n) write_ids(fx, ids, n, parts[p], upsert);
  }
}

static bool every_11th(int64_t id) { return id % 11 == 0; }

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  fx->dir = tu_make_tmpdir("query");
  assert_non_null(fx->dir);
  vs_options opt;
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  opt.default_shards = 2;
  EXPECT_OK(vs_open(fx->dir, &opt, &fx->db));
  fx->schema = make_schema();
  EXPECT_OK(vs_create_collection(fx->db, COLL, fx->schema, NULL));
  EXPECT_OK(vs_create_partition(fx->db, COLL, "p1"));
  for (int64_t id = 1; id <= N_ROWS; id++) fx->live[id] = true;
  write_range(fx, 1, 1000, NULL, false);
  EXPECT_OK(vs_flush(fx->db, COLL));
  write_range(fx, 1001, 2000, NULL, false);
  EXPECT_OK(vs_flush(fx->db, COLL));
  write_range(fx, 2001, N_ROWS, NULL, false);
  /* every 7th row deleted */
  static int64_t keys[N_ROWS];
  size_t nk = 0;
  for (int64_t id = 7; id <= N_ROWS; id += 7) {
    keys[nk++] = id;
    fx->live[id] = false;
  }
  vs_keys k = {.count = nk, .int_keys = keys};
  uint64_t deleted = 0;
  EXPECT_OK(vs_delete(fx->db, COLL, NULL, &k, &deleted));
  assert_int_equal(deleted, nk);
  /* every 11th upserted to version 1 (deleted ones come back), half of
   * them sealed by a flush, half left growing */
  for (int64_t id = 11; id <= N_ROWS; id += 11) {
    fx->ver[id] = 1;
    fx->live[id] = true;
  }
  write_range(fx, 1, 1500, every_11th, true);
  EXPECT_OK(vs_flush(fx->db, COLL));
  write_range(fx, 1501, N_ROWS, every_11th, true);
  vs_collection_stats stats;
  EXPECT_OK(vs_collection_stats_get(fx->db, COLL, &stats));
  size_t live = 0;
  for (int64_t id = 1; id <= N_ROWS; id++) live += fx->live[id];
  assert_int_equal(stats.rows, live);
  assert_true(stats.sealed_segments >= 2);
  assert_true(stats.growing_segments >= 1);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  EXPECT_OK(vs_close(fx->db));
  vs_schema_free(fx->schema);
  tu_remove_tree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

/* -------------------------------------------------------- filter table */

typedef bool (*row_pred)(const rowv *r, int64_t id);

static bool p_all(const rowv *r, int64_t id) { (void)r; (void)id; return true; }
static bool p_i8(const rowv *r, int64_t id) { (void)id; return r->i8 > 10; }
static bool p_i16(const rowv *r, int64_t id) { (void)id; return r->i16 <= -500 || r->i16 == 0; }
static bool p_i32mod(const rowv *r, int64_t id) { (void)id; return r->i32 % 7 == 3; }
static bool p_i64(const rowv *r, int64_t id) { (void)id; return r->i64 < 0 && r->i64 > -500000000000LL; }
static bool p_f(const rowv *r, int64_t id) { (void)id; return r->f >= 12.5 && r->f < 30; }
static bool p_d(const rowv *r, int64_t id) { (void)id; return r->d > 50.5 && r->d <= 100; }
static bool p_b(const rowv *r, int64_t id) { (void)id; return r->b; }
static bool p_notb(const rowv *r, int64_t id) { (void)id; return !r->b && r->i8 < 0; }
static bool p_like(const rowv *r, int64_t id) { (void)id; return strncmp(r->s, "alpha", 5) == 0; }
static bool p_seq(const rowv *r, int64_t id) { (void)id; return strcmp(r->s, "beta_7") == 0; }
static bool p_sin(const rowv *r, int64_t id) {
  (void)id;
  return !strcmp(r->s, "alpha_10") || !strcmp(r->s, "gamma_22") || !strcmp(r->s, "beta_3");
}
static bool p_ja(const rowv *r, int64_t id) { (void)id; return r->ja == 3; }
static bool p_jx(const rowv *r, int64_t id) { (void)id; return r->jx >= 5; }
static bool p_jtag(const rowv *r, int64_t id) { (void)id; return strcmp(r->jtag, "t2") == 0; }
static bool p_jcontains(const rowv *r, int64_t id) { (void)id; return r->jl[0] == 2 || r->jl[1] == 2; }
static bool p_acontains(const rowv *r, int64_t id) {
  (void)id;
  for (size_t i = 0; i < r->arr_len; i++) {
    if (r->arr[i] == 3) return true;
  }
  return false;
}
static bool p_alen(const rowv *r, int64_t id) { (void)id; return r->arr_len == 2; }
static bool p_a0(const rowv *r, int64_t id) { (void)id; return r->arr_len > 0 && r->arr[0] == 1; }
static bool p_null(const rowv *r, int64_t id) { (void)id; return r->ns_null; }
static bool p_notnull(const rowv *r, int64_t id) { (void)id; return !r->ns_null && r->ns > 40; }
static bool p_color(const rowv *r, int64_t id) { (void)id; return strcmp(r->color, "red") == 0; }
static bool p_rank(const rowv *r, int64_t id) { (void)id; return r->has_rank && r->rank > 5; }
static bool p_blue(const rowv *r, int64_t id) { (void)id; return strcmp(r->color, "blue") == 0; }
static bool p_pk(const rowv *r, int64_t id) {
  (void)r;
  return id == 1 || id == 2 || id == 3 || id == 50 || id == 77 || id == 2999;
}
static bool p_combo(const rowv *r, int64_t id) {
  (void)id;
  size_t n = strlen(r->s);
  /* '_' is the one-character wildcard of like */
  return (r->i8 > 0 && r->b) || (n >= 2 && r->s[n - 1] == '1');
}
static bool p_escaped(const rowv *r, int64_t id) {
  (void)id;
  size_t n = strlen(r->s);
  return n >= 2 && strcmp(r->s + n - 2, "_1") == 0;
}
static bool p_tmpl(const rowv *r, int64_t id) { (void)id; return r->i32 > 50000 && r->i8 < 0; }
static bool p_chain(const rowv *r, int64_t id) { (void)id; return 1 < r->i8 && r->i8 < 20; }
static bool p_not(const rowv *r, int64_t id) { (void)id; return !(r->i8 > 0); }
static bool p_notin(const rowv *r, int64_t id) { (void)id; return r->i8 < 1 || r->i8 > 5; }
static bool p_pkmod(const rowv *r, int64_t id) { (void)r; return id % 3 == 0 && id > 2500; }
static bool p_none(const rowv *r, int64_t id) { (void)r; (void)id; return false; }
static bool p_i8_and_b(const rowv *r, int64_t id) { (void)id; return r->i8 > 10 && r->b; }
static bool p_i8_low(const rowv *r, int64_t id) { (void)id; return r->i8 < -50; }
static bool p_jx_or_red(const rowv *r, int64_t id) {
  (void)id;
  return r->jx >= 5 || strcmp(r->color, "red") == 0;
}

typedef struct fcase {
  const char *filter;
  const char *params;
  row_pred pred;
} fcase;

static const fcase cases[] = {
    {"", NULL, p_all},
    {"i8 > 10", NULL, p_i8},
    {"i16 <= -500 or i16 == 0", NULL, p_i16},
    {"i32 % 7 == 3", NULL, p_i32mod},
    {"i64 < 0 and i64 > -500000000000", NULL, p_i64},
    {"f >= 12.5 and f < 30", NULL, p_f},
    {"d > 50.5 && d <= 100", NULL, p_d},
    {"b == true", NULL, p_b},
    {"b == false and i8 < 0", NULL, p_notb},
    {"s like \"alpha%\"", NULL, p_like},
    {"s == \"beta_7\"", NULL, p_seq},
    {"s in [\"alpha_10\", 'gamma_22', \"beta_3\"]", NULL, p_sin},
    {"j[\"a\"] == 3", NULL, p_ja},
    {"j[\"n\"][\"x\"] >= 5", NULL, p_jx},
    {"j[\"n\"][\"tag\"] == \"t2\"", NULL, p_jtag},
    {"json_contains(j[\"l\"], 2)", NULL, p_jcontains},
    {"array_contains(arr, 3)", NULL, p_acontains},
    {"array_length(arr) == 2", NULL, p_alen},
    {"arr[0] == 1", NULL, p_a0},
    {"ns is null", NULL, p_null},
    {"ns is not null and ns > 40", NULL, p_notnull},
    {"ns > 40", NULL, p_notnull},
    {"color == \"red\"", NULL, p_color},
    {"rank > 5", NULL, p_rank},
    {"$meta[\"color\"] == \"blue\"", NULL, p_blue},
    {"id in [1, 2, 3, 50, 77, 2999, 100000]", NULL, p_pk},
    {"(i8 > 0 and b) or s like \"%_1\"", NULL, p_combo},
    {"i32 > {lo} and i8 < {hi}", "{\"lo\":50000,\"hi\":0}", p_tmpl},
    {"s like \"%\\\\_1\"", NULL, p_escaped},
    {"1 < i8 < 20", NULL, p_chain},
    {"not (i8 > 0)", NULL, p_not},
    {"i8 not in [1, 2, 3, 4, 5]", NULL, p_notin},
    {"id % 3 == 0 and id > 2500", NULL, p_pkmod},
    {"i8 > 1000", NULL, p_none},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* ------------------------------------------------------------ oracle */

static bool in_partitions(int64_t id, const char *const *parts, size_t n) {
  if (!parts || n == 0) return true;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(parts[i], partition_of(id)) == 0) return true;
  }
  return false;
}

/* Sorted ids of live rows passing `pred` in `parts`; returns the count. */
static size_t oracle_ids(const fixture *fx, row_pred pred, const char *const *parts,
                         size_t nparts, int64_t *out) {
  size_t n = 0;
  for (int64_t id = 1; id <= N_ROWS; id++) {
    if (!fx->live[id] || !in_partitions(id, parts, nparts)) continue;
    rowv r;
    row_values(id, fx->ver[id], &r);
    if (pred(&r, id)) out[n++] = id;
  }
  return n;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The ids of a query result, in result order; returns the count. */
static size_t result_ids(const vs_rows *rows, int64_t *out, size_t cap) {
  size_t n = vs_rows_count(rows);
  assert_true(n <= cap);
  for (size_t i = 0; i < n; i++) EXPECT_OK(vs_rows_get_int64(rows, "id", i, &out[i]));
  return n;
}

/* Checks query and count of one filter against the oracle. */
static void check_filter(fixture *fx, const char *filter, const char *params, row_pred pred,
                         const char *const *parts, size_t nparts) {
  static int64_t want[N_ROWS], got[N_ROWS + 1];
  size_t nw = oracle_ids(fx, pred, parts, nparts, want);
  vs_query_request req = {.filter = filter, .filter_params_json = params,
                          .partitions = parts, .partition_count = nparts};
  vs_rows *rows = NULL;
  vs_status st = vs_query(fx->db, COLL, &req, &rows, NULL);
  if (st != VS_OK) fail_msg("filter '%s': %s: %s", filter, vs_status_name(st), vs_errmsg(NULL));
  assert_int_equal(vs_rows_column_count(rows), 1);
  size_t ng = result_ids(rows, got, N_ROWS + 1);
  vs_rows_free(rows);
  qsort(got, ng, sizeof *got, cmp_i64);
  for (size_t i = 0; i < ng && i < nw; i++) {
    if (got[i] != want[i]) {
      fail_msg("filter '%s': %zu-th id (sorted) is %" PRId64 ", expected %" PRId64 " (%zu vs %zu rows)",
               filter, i, got[i], want[i], ng, nw);
    }
  }
  if (ng != nw) fail_msg("filter '%s': %zu rows, expected %zu", filter, ng, nw);
  uint64_t count = 0;
  st = vs_query_count(fx->db, COLL, filter, params, parts, nparts, &count);
  if (st != VS_OK) fail_msg("count '%s': %s: %s", filter, vs_status_name(st), vs_errmsg(NULL));
  if (count != nw) fail_msg("count '%s' = %" PRIu64 ", expected %zu", filter, count, nw);
}

static void check_all_filters(fixture *fx, const char *const *parts, size_t nparts) {
  for (size_t c = 0; c < N_CASES; c++) {
    check_filter(fx, cases[c].filter, cases[c].params, cases[c].pred, parts, nparts);
  }
}

/* --------------------------------------------------------------- tests */

static void test_filters_every_type(void **state) {
  fixture *fx = *state;
  check_all_filters(fx, NULL, 0);
  /* the oracle is not vacuous: most filters select some rows, not all */
  size_t nonempty = 0;
  static int64_t ids[N_ROWS];
  for (size_t c = 1; c + 1 < N_CASES; c++) {
    size_t n = oracle_ids(fx, cases[c].pred, NULL, 0, ids);
    nonempty += n > 0 && n < N_ROWS / 2 + 600;
  }
  assert_true(nonempty >= N_CASES - 4);
  /* a NULL filter is every row, like "" */
  check_filter(fx, NULL, NULL, p_all, NULL, 0);
  /* keywords in upper case */
  check_filter(fx, "i8 > 10 AND b == TRUE", NULL, p_i8_and_b, NULL, 0);
}

/* Compares row i of `rows` (with the given columns) with (id, ver). */
static void check_row(const vs_rows *rows, size_t i, int64_t id, int ver, bool all) {
  rowv r;
  row_values(id, ver, &r);
  int64_t v = 0;
  double x = 0;
  int b = 0;
  const char *s = NULL;
  size_t len = 0;
  EXPECT_OK(vs_rows_get_int64(rows, "id", i, &v));
  assert_int_equal(v, id);
  EXPECT_OK(vs_rows_get_string(rows, "s", i, &s, &len));
  assert_int_equal(len, strlen(r.s));
  assert_memory_equal(s, r.s, len);
  EXPECT_OK(vs_rows_get_string(rows, "j", i, &s, &len));
  char want_j[160];
  snprintf(want_j, sizeof want_j,
           "{\"a\":%" PRId64 ",\"n\":{\"x\":%" PRId64 ",\"tag\":\"%s\"},\"l\":[%" PRId64 ",%" PRId64 "]}",
           r.ja, r.jx, r.jtag, r.jl[0], r.jl[1]);
  json_t *gj = json_loadb(s, len, 0, NULL), *wj = json_loads(want_j, 0, NULL);
  assert_non_null(gj);
  assert_true(json_equal(gj, wj));
  json_decref(gj);
  json_decref(wj);
  if (!all) return;
  EXPECT_OK(vs_rows_get_int64(rows, "i8", i, &v));
  assert_int_equal(v, r.i8);
  EXPECT_OK(vs_rows_get_int64(rows, "i16", i, &v));
  assert_int_equal(v, r.i16);
  EXPECT_OK(vs_rows_get_int64(rows, "i32", i, &v));
  assert_int_equal(v, r.i32);
  EXPECT_OK(vs_rows_get_int64(rows, "i64", i, &v));
  assert_int_equal(v, r.i64);
  EXPECT_OK(vs_rows_get_double(rows, "f", i, &x));
  assert_true(x == r.f);
  EXPECT_OK(vs_rows_get_double(rows, "d", i, &x));
  assert_true(x == r.d);
  EXPECT_OK(vs_rows_get_bool(rows, "b", i, &b));
  assert_int_equal(b != 0, r.b);
  EXPECT_OK(vs_rows_get_string(rows, "arr", i, &s, &len));
  json_t *ga = json_loadb(s, len, 0, NULL);
  assert_true(json_is_array(ga));
  assert_int_equal(json_array_size(ga), r.arr_len);
  for (size_t e = 0; e < r.arr_len; e++) {
    assert_int_equal(json_integer_value(json_array_get(ga, e)), r.arr[e]);
  }
  json_decref(ga);
  assert_int_equal(vs_rows_is_null(rows, "ns", i) != 0, r.ns_null);
  if (!r.ns_null) {
    EXPECT_OK(vs_rows_get_int64(rows, "ns", i, &v));
    assert_int_equal(v, r.ns);
  }
  const float *vec = NULL;
  uint32_t dim = 0;
  EXPECT_OK(vs_rows_get_float_vector(rows, "vec", i, &vec, &dim));
  assert_int_equal(dim, DIM);
  assert_memory_equal(vec, r.vec, sizeof r.vec);
  /* the dynamic keys come back spread at the top level of the row */
  char *text = NULL;
  EXPECT_OK(vs_rows_row_to_json(rows, i, &text));
  json_t *row = json_loads(text, 0, NULL);
  vs_free(text);
  assert_non_null(row);
  assert_string_equal(json_string_value(json_object_get(row, "color")), r.color);
  json_t *rank = json_object_get(row, "rank");
  if (r.has_rank) {
    assert_int_equal(json_integer_value(rank), r.rank);
  } else {
    assert_null(rank);
  }
  json_decref(row);
}

static void test_output_fields(void **state) {
  fixture *fx = *state;
  static int64_t want[N_ROWS];
  size_t nw = oracle_ids(fx, p_i8, NULL, 0, want);
  assert_true(nw > 100);
  /* "*": every column, every value */
  const char *star[] = {"*"};
  vs_query_request req = {.filter = "i8 > 10", .output_fields = star, .output_count = 1};
  vs_rows *rows = NULL;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, NULL));
  assert_int_equal(vs_rows_count(rows), nw);
  for (size_t i = 0; i < vs_rows_count(rows); i++) {
    int64_t id = 0;
    EXPECT_OK(vs_rows_get_int64(rows, "id", i, &id));
    assert_true(id >= 1 && id <= N_ROWS);
    assert_true(bsearch(&id, want, nw, sizeof *want, cmp_i64) != NULL);
    check_row(rows, i, id, fx->ver[id], true);
  }
  vs_rows_free(rows);
  /* a subset: the key first, then the named fields only */
  const char *some[] = {"s", "j"};
  req.output_fields = some;
  req.output_count = 2;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, NULL));
  assert_int_equal(vs_rows_count(rows), nw);
  assert_int_equal(vs_rows_column_count(rows), 3);
  assert_string_equal(vs_rows_column_name(rows, 0), "id");
  for (size_t i = 0; i < vs_rows_count(rows); i++) {
    int64_t id = 0;
    EXPECT_OK(vs_rows_get_int64(rows, "id", i, &id));
    check_row(rows, i, id, fx->ver[id], false);
  }
  assert_int_not_equal(vs_rows_get_int64(rows, "i8", 0, NULL), VS_OK);
  vs_rows_free(rows);
  /* none: the primary key only */
  req.output_fields = NULL;
  req.output_count = 0;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, NULL));
  assert_int_equal(vs_rows_column_count(rows), 1);
  assert_string_equal(vs_rows_column_name(rows, 0), "id");
  vs_rows_free(rows);
  /* an unknown output field fails */
  const char *bad[] = {"nosuch"};
  req.output_fields = bad;
  req.output_count = 1;
  rows = (vs_rows *)1;
  EXPECT_ST(VS_ERR_FIELD_NOT_FOUND, vs_query(fx->db, COLL, &req, &rows, NULL));
  assert_null(rows);
}

/* Pages of `page` rows concatenate to the unlimited result, in order. */
static void check_paging(fixture *fx, const char *filter, uint64_t page) {
  static int64_t full[N_ROWS + 1], paged[N_ROWS + 1];
  vs_query_request req = {.filter = filter};
  vs_rows *rows = NULL;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, NULL));
  size_t n = result_ids(rows, full, N_ROWS + 1);
  vs_rows_free(rows);
  size_t got = 0;
  for (uint64_t off = 0;; off += page) {
    req.offset = off;
    req.limit = page;
    EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, NULL));
    size_t m = vs_rows_count(rows);
    assert_true(m <= page);
    assert_true(got + m <= n);
    result_ids(rows, paged + got, N_ROWS + 1 - got);
    vs_rows_free(rows);
    got += m;
    if (m < page) break;
  }
  assert_int_equal(got, n);
  assert_memory_equal(paged, full, n * sizeof *full);
  /* an offset past the end gives nothing; a limit alone takes a prefix */
  req.offset = n + 5;
  req.limit = 10;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, NULL));
  assert_int_equal(vs_rows_count(rows), 0);
  vs_rows_free(rows);
  req.offset = 0;
  req.limit = 3;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, NULL));
  assert_int_equal(vs_rows_count(rows), n < 3 ? n : 3);
  for (size_t i = 0; i < vs_rows_count(rows); i++) {
    int64_t id = 0;
    EXPECT_OK(vs_rows_get_int64(rows, "id", i, &id));
    assert_int_equal(id, full[i]);
  }
  vs_rows_free(rows);
}

static void test_paging(void **state) {
  fixture *fx = *state;
  check_paging(fx, "b == false", 37);
  check_paging(fx, "", 500);
  check_paging(fx, "i8 > 10", 1);
  check_paging(fx, "ns is null", 1000);
}

static void test_partitions(void **state) {
  fixture *fx = *state;
  const char *p1[] = {"p1"};
  const char *def[] = {VS_DEFAULT_PARTITION};
  const char *both[] = {"p1", VS_DEFAULT_PARTITION};
  check_all_filters(fx, p1, 1);
  check_all_filters(fx, def, 1);
  check_filter(fx, "i8 > 10", NULL, p_i8, both, 2);
  const char *missing[] = {"nope"};
  vs_query_request req = {.filter = "i8 > 10", .partitions = missing, .partition_count = 1};
  vs_rows *rows = NULL;
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_query(fx->db, COLL, &req, &rows, NULL));
  uint64_t n = 0;
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_query_count(fx->db, COLL, "", NULL, missing, 1, &n));
}

/* Deletes by filter and checks the count against the oracle; returns it. */
static uint64_t delete_where(fixture *fx, const char *partition, const char *filter,
                             row_pred pred) {
  const char *parts[1] = {partition};
  static int64_t ids[N_ROWS];
  size_t n = oracle_ids(fx, pred, partition ? parts : NULL, partition ? 1 : 0, ids);
  uint64_t deleted = 0;
  EXPECT_OK(vs_delete_where(fx->db, COLL, partition, filter, NULL, &deleted));
  assert_int_equal(deleted, n);
  for (size_t i = 0; i < n; i++) fx->live[ids[i]] = false;
  return deleted;
}

static uint64_t live_rows(const fixture *fx) {
  uint64_t n = 0;
  for (int64_t id = 1; id <= N_ROWS; id++) n += fx->live[id];
  return n;
}

static void test_delete_where(void **state) {
  fixture *fx = *state;
  assert_true(delete_where(fx, NULL, "i8 < -50", p_i8_low) > 0);
  uint64_t total = 0;
  EXPECT_OK(vs_count(fx->db, COLL, NULL, &total));
  assert_int_equal(total, live_rows(fx));
  check_all_filters(fx, NULL, 0);
  /* in one partition only */
  uint64_t d = delete_where(fx, "p1", "b == true", p_b);
  assert_true(d > 0);
  check_filter(fx, "b == true", NULL, p_b, NULL, 0);
  uint64_t n = 0;
  EXPECT_OK(vs_query_count(fx->db, COLL, "b == true", NULL, (const char *const[]){"p1"}, 1, &n));
  assert_int_equal(n, 0);
  /* on JSON and dynamic keys, across sealed and growing rows */
  assert_true(delete_where(fx, NULL, "j[\"n\"][\"x\"] >= 5 or color == \"red\"", p_jx_or_red) > 0);
  check_all_filters(fx, NULL, 0);
  /* nothing matches: deletes nothing */
  assert_int_equal(delete_where(fx, NULL, "i8 > 1000", p_none), 0);
  /* rows written after a delete are not affected by it */
  fx->live[7] = true;
  write_range(fx, 7, 7, NULL, false);
  check_all_filters(fx, NULL, 0);
  /* flushing and compacting do not bring deleted rows back */
  EXPECT_OK(vs_flush(fx->db, COLL));
  EXPECT_OK(vs_compact(fx->db, COLL, 1));
  check_all_filters(fx, NULL, 0);
  EXPECT_OK(vs_count(fx->db, COLL, NULL, &total));
  assert_int_equal(total, live_rows(fx));
}

static void test_syntax_errors(void **state) {
  fixture *fx = *state;
  static const char *const bad[] = {
      "i8 >", "(i8 > 1", "i8 > 1)", "and", "i8 >> ", "s like", "i8 == \"x", "i8 in [1, 2",
      "j[\"a\" == 1", "1 +", "i8 > 1 and", "@", "i8 > {nosuchparam}",
  };
  uint64_t before = 0, after = 0;
  EXPECT_OK(vs_count(fx->db, COLL, NULL, &before));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    vs_query_request req = {.filter = bad[i], .profile = 1};
    vs_rows *rows = (vs_rows *)1;
    char *profile = (char *)1;
    vs_status st = vs_query(fx->db, COLL, &req, &rows, &profile);
    if (st != VS_ERR_INVALID) fail_msg("query '%s' -> %s, expected INVALID", bad[i], vs_status_name(st));
    assert_true(strlen(vs_errmsg(NULL)) > 0);
    assert_null(rows);
    assert_null(profile);
    uint64_t n = 7;
    st = vs_query_count(fx->db, COLL, bad[i], NULL, NULL, 0, &n);
    if (st != VS_ERR_INVALID) fail_msg("count '%s' -> %s, expected INVALID", bad[i], vs_status_name(st));
    uint64_t deleted = 7;
    st = vs_delete_where(fx->db, COLL, NULL, bad[i], NULL, &deleted);
    if (st != VS_ERR_INVALID) fail_msg("delete '%s' -> %s, expected INVALID", bad[i], vs_status_name(st));
    assert_int_equal(deleted, 0);
  }
  EXPECT_OK(vs_count(fx->db, COLL, NULL, &after));
  assert_int_equal(after, before);
  check_all_filters(fx, NULL, 0);
  /* other errors */
  uint64_t n = 0, deleted = 0;
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_query_count(fx->db, "nosuch", "", NULL, NULL, 0, &n));
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_delete_where(fx->db, "nosuch", NULL, "i8 > 1", NULL, &deleted));
  EXPECT_ST(VS_ERR_PARTITION_NOT_FOUND, vs_delete_where(fx->db, COLL, "nope", "i8 > 1", NULL, &deleted));
  EXPECT_OK(vs_count(fx->db, COLL, NULL, &after));
  assert_int_equal(after, before);
}

/* A delete needs a filter: a missing, empty or blank one (which would
 * compile to "every row") is refused and deletes nothing. */
static void test_delete_needs_filter(void **state) {
  fixture *fx = *state;
  static const char *const empty[] = {NULL, "", "   ", " \t\n "};
  uint64_t before = 0, after = 0;
  EXPECT_OK(vs_count(fx->db, COLL, NULL, &before));
  for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
    uint64_t deleted = 7;
    vs_status st = vs_delete_where(fx->db, COLL, NULL, empty[i], NULL, &deleted);
    EXPECT_OK(vs_count(fx->db, COLL, NULL, &after));
    if (st != VS_ERR_INVALID || after != before) {
      fail_msg("delete_where with filter \"%s\" -> %s, deleted %" PRIu64 " of %" PRIu64 " rows",
               empty[i] ? empty[i] : "(null)", vs_status_name(st), deleted, before);
    }
    assert_int_equal(deleted, 0);
  }
  check_all_filters(fx, NULL, 0);
}

static void test_profile(void **state) {
  fixture *fx = *state;
  vs_query_request req = {.filter = "i8 > 10", .profile = 1, .limit = 5};
  vs_rows *rows = NULL;
  char *profile = NULL;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, &profile));
  assert_int_equal(vs_rows_count(rows), 5);
  vs_rows_free(rows);
  assert_non_null(profile);
  json_error_t err;
  json_t *p = json_loads(profile, 0, &err);
  if (!p) fail_msg("profile is not JSON (%s): %s", err.text, profile);
  json_t *phases = json_object_get(p, "phases_us");
  assert_true(json_is_object(phases));
  static const char *const keys[] = {"parse", "plan", "filter", "ann", "merge", "fetch"};
  for (size_t i = 0; i < 6; i++) {
    if (!json_is_integer(json_object_get(phases, keys[i]))) fail_msg("no phases_us.%s in %s", keys[i], profile);
  }
  assert_true(json_is_integer(json_object_get(p, "segments_scanned")));
  assert_true(json_integer_value(json_object_get(p, "segments_scanned")) >= 1);
  assert_true(json_is_integer(json_object_get(p, "rows_scanned")));
  json_decref(p);
  vs_free(profile);
  /* not asked: no profile */
  req.profile = 0;
  profile = (char *)1;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, &profile));
  assert_null(profile);
  vs_rows_free(rows);
  /* asked, but nowhere to put it: fine */
  req.profile = 1;
  EXPECT_OK(vs_query(fx->db, COLL, &req, &rows, NULL));
  vs_rows_free(rows);
}

/* VarChar primary keys go through the string paths of delete_where. */
static void test_varchar_key(void **state) {
  (void)state;
  char *dir = tu_make_tmpdir("queryvc");
  assert_non_null(dir);
  vs_db *db = NULL;
  vs_options opt;
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  EXPECT_OK(vs_open(dir, &opt, &db));
  vs_schema *s = NULL;
  vs_field_def pk = {.name = "pk", .type = VS_TYPE_VARCHAR, .is_primary = 1, .max_length = 16};
  vs_field_def vec = {.name = "v", .type = VS_TYPE_FLOAT_VECTOR, .dim = 2, .metric = VS_METRIC_IP};
  vs_field_def n = {.name = "n", .type = VS_TYPE_INT64};
  EXPECT_OK(vs_schema_new(&s));
  EXPECT_OK(vs_schema_add_field(s, &pk));
  EXPECT_OK(vs_schema_add_field(s, &vec));
  EXPECT_OK(vs_schema_add_field(s, &n));
  EXPECT_OK(vs_create_collection(db, "vc", s, NULL));
  enum { M = 300 };
  char names[M][16];
  const char *keys[M];
  int64_t nums[M];
  float vecs[M * 2];
  for (int i = 0; i < M; i++) {
    snprintf(names[i], sizeof names[i], "key-%03d", i);
    keys[i] = names[i];
    nums[i] = i;
    vecs[2 * i] = (float)i;
    vecs[2 * i + 1] = 1.0f;
  }
  for (int half = 0; half < 2; half++) {
    vs_rows *rows = NULL;
    EXPECT_OK(vs_rows_new(M / 2, &rows));
    EXPECT_OK(vs_rows_set_strings(rows, "pk", keys + half * (M / 2)));
    EXPECT_OK(vs_rows_set_int64(rows, "n", nums + half * (M / 2), NULL));
    EXPECT_OK(vs_rows_set_float_vectors(rows, "v", vecs + half * M, 2));
    EXPECT_OK(vs_insert(db, "vc", NULL, rows, NULL));
    vs_rows_free(rows);
    if (half == 0) EXPECT_OK(vs_flush(db, "vc"));
  }
  uint64_t deleted = 0, count = 0;
  EXPECT_OK(vs_delete_where(db, "vc", NULL, "n % 3 == 0", NULL, &deleted));
  assert_int_equal(deleted, M / 3);
  EXPECT_OK(vs_query_count(db, "vc", "", NULL, NULL, 0, &count));
  assert_int_equal(count, M - M / 3);
  EXPECT_OK(vs_query_count(db, "vc", "pk like \"key-0%\" and n % 3 == 0", NULL, NULL, 0, &count));
  assert_int_equal(count, 0);
  EXPECT_OK(vs_delete_where(db, "vc", NULL, "pk in [\"key-001\", \"key-299\", \"key-003\"]", NULL, &deleted));
  assert_int_equal(deleted, 2);
  vs_query_request req = {.filter = "pk > \"key-290\""};
  vs_rows *rows = NULL;
  EXPECT_OK(vs_query(db, "vc", &req, &rows, NULL));
  /* 291..298 minus multiples of 3 (291, 294, 297): 292 293 295 296 298 */
  assert_int_equal(vs_rows_count(rows), 5);
  vs_rows_free(rows);
  vs_schema_free(s);
  EXPECT_OK(vs_close(db));
  tu_remove_tree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_filters_every_type, setup, teardown),
      cmocka_unit_test_setup_teardown(test_output_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partitions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_where, setup, teardown),
      cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_needs_filter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_profile, setup, teardown),
      cmocka_unit_test(test_varchar_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
