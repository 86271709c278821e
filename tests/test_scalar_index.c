/*
 * test_scalar_index.c -- scalar indexes (INVERTED, STL_SORT, BITMAP,
 * AUTOINDEX on scalar fields) and their use by the filter.
 *
 * The central check is equivalence: for random data spread over sealed
 * segments (with tombstones) and a growing one, and for random filters
 * from a small generator (indexable leaves, non-indexable leaves, AND/OR
 * trees), the bitset vs_filter_segment_in produces from the indexes must
 * equal plain evaluation (vs_filter_segment) on every segment, and
 * count/search answers must equal those computed before any index
 * existed.  The generator's fully indexable filters must be answered by
 * the indexes ("scalar_index") on every sealed segment, and the search
 * profile must say so.
 *
 * Then: describe/list/drop, the definition surviving vs_close/vs_open
 * (indexes rebuilt in the background), AUTOINDEX's choices, refusals, a
 * BITMAP over its cardinality limit failing with a reason, and a timing
 * on 1M rows printed (never asserted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_internal.h"
#include "expr/expr.h"
#include "support/testutil.h"
#include "vectorstore.h"
#include "support/expect.h"

#define COLL "si"
#define DIM 4
#define N_ROWS 4000
#define WAIT_MS 60000

typedef struct fixture {
  char *dir;
  vs_db *db;
  vs_schema *schema;
} fixture;

/* -------------------------------------------------------------- data */

static const char *const tags[] = {"red", "green", "blue", "cyan", "x\"q", "\xc3\xa9t\xc3\xa9"};
static const char *const words[] = {"apple", "apricot", "banana", "band", "bandana", "cherry", "ap", ""};

static vs_schema *make_schema(void) {
  vs_schema *s = NULL;
  vs_field_def defs[] = {
      {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1},
      {.name = "vec", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_L2},
      {.name = "i8", .type = VS_TYPE_INT8},
      {.name = "i32", .type = VS_TYPE_INT32, .nullable = 1},
      {.name = "i64", .type = VS_TYPE_INT64},
      {.name = "f", .type = VS_TYPE_FLOAT},
      {.name = "d", .type = VS_TYPE_DOUBLE},
      {.name = "b", .type = VS_TYPE_BOOL},
      {.name = "s", .type = VS_TYPE_VARCHAR, .max_length = 32},
      {.name = "tag", .type = VS_TYPE_VARCHAR, .max_length = 32},
      {.name = "meta", .type = VS_TYPE_JSON},
      {.name = "doc", .type = VS_TYPE_JSON},
  };
  EXPECT_OK(vs_schema_new(&s));
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) EXPECT_OK(vs_schema_add_field(s, &defs[i]));
  return s;
}

/* meta: {"a": int | float | string | bool | missing, "n": {"x": int}};
 * doc: {"s": one of the tags or words, "k": bool}. */
static void json_values(uint64_t *rng, char *meta, char *doc, size_t cap) {
  uint64_t kind = tu_rand_below(rng, 10);
  int64_t a = (int64_t)tu_rand_below(rng, 30) - 5;
  int64_t x = (int64_t)tu_rand_below(rng, 8);
  if (kind < 6) snprintf(meta, cap, "{\"a\":%" PRId64 ",\"n\":{\"x\":%" PRId64 "}}", a, x);
  else if (kind == 6) snprintf(meta, cap, "{\"a\":%" PRId64 ".5,\"n\":{\"x\":%" PRId64 "}}", a, x);
  else if (kind == 7) snprintf(meta, cap, "{\"a\":\"k%" PRId64 "\"}", a);
  else if (kind == 8) snprintf(meta, cap, "{\"a\":true,\"n\":{\"x\":%" PRId64 "}}", x);
  else snprintf(meta, cap, "{\"b\":1}");
  uint64_t w = tu_rand_below(rng, 14);
  if (w < 6) {
    json_t *str = json_string(tags[w]);
    char *t = json_dumps(str, JSON_ENCODE_ANY);
    snprintf(doc, cap, "{\"s\":%s,\"k\":%s}", t, tu_rand_below(rng, 2) ? "true" : "false");
    free(t);
    json_decref(str);
  } else {
    snprintf(doc, cap, "{\"s\":\"%s\"}", words[w - 6]);
  }
}

static void insert_rows(vs_db *db, const char *coll, int64_t first, size_t n, uint64_t *rng) {
  vs_rows *rows = NULL;
  int64_t *ids = calloc(n, sizeof *ids), *i8 = calloc(n, sizeof *i8), *i32 = calloc(n, sizeof *i32);
  int64_t *i64 = calloc(n, sizeof *i64);
  float *f = calloc(n, sizeof *f), *vec = calloc(n * DIM, sizeof *vec);
  double *d = calloc(n, sizeof *d);
  uint8_t *b = calloc(n, 1), *valid = calloc(n, 1);
  const char **s = calloc(n, sizeof *s), **tag = calloc(n, sizeof *tag);
  char **meta = calloc(n, sizeof *meta), **doc = calloc(n, sizeof *doc);
  assert_true(ids && i8 && i32 && i64 && f && vec && d && b && valid && s && tag && meta && doc);
  for (size_t r = 0; r < n; r++) {
    ids[r] = first + (int64_t)r;
    i8[r] = (int64_t)tu_rand_below(rng, 256) - 128;
    i32[r] = (int64_t)tu_rand_below(rng, 200) - 100;
    valid[r] = tu_rand_below(rng, 5) != 0;
    i64[r] = ((int64_t)tu_rand_below(rng, 2000) - 1000) * 1000003LL;
    f[r] = (float)((double)tu_rand_below(rng, 400) / 8.0 - 25.0) + 0.1f;
    d[r] = (double)tu_rand_below(rng, 1000) / 4.0 - 100.0;
    b[r] = (uint8_t)tu_rand_below(rng, 2);
    s[r] = words[tu_rand_below(rng, 8)];
    tag[r] = tags[tu_rand_below(rng, 6)];
    meta[r] = calloc(128, 1);
    doc[r] = calloc(128, 1);
    json_values(rng, meta[r], doc[r], 128);
    for (int k = 0; k < DIM; k++) vec[r * DIM + (size_t)k] = tu_rand_float(rng);
  }
  EXPECT_OK(vs_rows_new(n, &rows));
  EXPECT_OK(vs_rows_set_int64(rows, "id", ids, NULL));
  EXPECT_OK(vs_rows_set_float_vectors(rows, "vec", vec, DIM));
  EXPECT_OK(vs_rows_set_int64(rows, "i8", i8, NULL));
  EXPECT_OK(vs_rows_set_int64(rows, "i32", i32, valid));
  EXPECT_OK(vs_rows_set_int64(rows, "i64", i64, NULL));
  EXPECT_OK(vs_rows_set_float(rows, "f", f, NULL));
  EXPECT_OK(vs_rows_set_double(rows, "d", d, NULL));
  EXPECT_OK(vs_rows_set_bool(rows, "b", b, NULL));
  EXPECT_OK(vs_rows_set_strings(rows, "s", s));
  EXPECT_OK(vs_rows_set_strings(rows, "tag", tag));
  EXPECT_OK(vs_rows_set_json(rows, "meta", (const char *const *)meta));
  EXPECT_OK(vs_rows_set_json(rows, "doc", (const char *const *)doc));
  EXPECT_OK(vs_insert(db, coll, NULL, rows, NULL));
  vs_rows_free(rows);
  for (size_t r = 0; r < n; r++) {
    free(meta[r]);
    free(doc[r]);
  }
  free(ids), free(i8), free(i32), free(i64), free(f), free(vec), free(d), free(b), free(valid);
  free(s), free(tag), free(meta), free(doc);
}

static void delete_every(vs_db *db, int64_t step, int64_t upto) {
  size_t n = 0;
  int64_t *keys = calloc((size_t)(upto / step) + 1, sizeof *keys);
  for (int64_t id = step; id <= upto; id += step) keys[n++] = id;
  vs_keys k = {.count = n, .int_keys = keys};
  EXPECT_OK(vs_delete(db, COLL, NULL, &k, NULL));
  free(keys);
}

static void open_db(fixture *fx) {
  vs_options opt;
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  opt.default_shards = 1;
  EXPECT_OK(vs_open(fx->dir, &opt, &fx->db));
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  uint64_t rng = tu_seed("scalar_index");
  fx->dir = tu_make_tmpdir("scalar");
  open_db(fx);
  fx->schema = make_schema();
  EXPECT_OK(vs_create_collection(fx->db, COLL, fx->schema, NULL));
  insert_rows(fx->db, COLL, 1, 1500, &rng);
  EXPECT_OK(vs_flush(fx->db, COLL));
  insert_rows(fx->db, COLL, 1501, 1500, &rng);
  EXPECT_OK(vs_flush(fx->db, COLL));
  insert_rows(fx->db, COLL, 3001, N_ROWS - 3000, &rng);
  delete_every(fx->db, 13, N_ROWS);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  if (fx->db) EXPECT_OK(vs_close(fx->db));
  vs_schema_free(fx->schema);
  tu_remove_tree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

/* The index definitions used by the equivalence test. */
typedef struct index_spec {
  const char *field, *type, *params;
} index_spec;

static const index_spec specs[] = {
    {"i8", "BITMAP", NULL},
    {"i32", "STL_SORT", NULL},
    {"i64", "INVERTED", NULL},
    {"f", "STL_SORT", NULL},
    {"d", "INVERTED", NULL},
    {"b", "AUTOINDEX", NULL},
    {"s", "INVERTED", NULL},
    {"tag", "BITMAP", NULL},
    {"meta", "INVERTED", "{\"json_path\":\"meta[\\\"a\\\"]\",\"json_cast_type\":\"double\"}"},
    {"doc", "INVERTED", "{\"json_path\":\"doc[\\\"s\\\"]\",\"json_cast_type\":\"varchar\"}"},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static void create_all(vs_db *db) {
  for (size_t i = 0; i < N_SPECS; i++) EXPECT_OK(vs_create_index(db, COLL, specs[i].field, specs[i].type, specs[i].params));
  for (size_t i = 0; i < N_SPECS; i++) EXPECT_OK(vs_wait_for_index(db, COLL, specs[i].field, WAIT_MS));
}

/* ------------------------------------------------------------ generator */

typedef struct gen {
  uint64_t rng;
  char buf[2048];
  size_t len;
  bool indexable;  /* every leaf so far is indexable */
} gen;

static void emit(gen *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(g->buf + g->len, sizeof g->buf - g->len, fmt, ap);
  va_end(ap);
  if (n > 0) g->len += (size_t)n;
  if (g->len >= sizeof g->buf) g->len = sizeof g->buf - 1;
}

static const char *pick(gen *g, const char *const *list, size_t n) { return list[tu_rand_below(&g->rng, n)]; }

static const char *const ops[] = {"==", "<", "<=", ">", ">="};

static void numeric_leaf(gen *g, const char *field, int64_t lo, int64_t span, bool fractions) {
  int64_t v = lo + (int64_t)tu_rand_below(&g->rng, (uint64_t)span);
  uint64_t shape = tu_rand_below(&g->rng, 5);
  const char *frac = fractions && tu_rand_below(&g->rng, 2) ? ".5" : "";
  if (shape == 0) {
    emit(g, "%" PRId64 "%s %s %s", v, frac, pick(g, ops + 1, 4), field); /* constant on the left */
  } else if (shape == 1) {
    emit(g, "%" PRId64 " <= %s < %" PRId64 "%s", v, field, v + (int64_t)tu_rand_below(&g->rng, (uint64_t)span / 4 + 2), frac);
  } else if (shape == 2) {
    emit(g, "%s in [%" PRId64 ", %" PRId64 "%s, %" PRId64 "]", field, v, v + 1, frac, v + 3);
  } else {
    emit(g, "%s %s %" PRId64 "%s", field, pick(g, ops, 5), v, frac);
  }
}

static const char *const like_patterns[] = {"ap%", "ban%", "band%", "%an", "b_nd", "apple", "%", "x\\\"%",
                                            "\xc3\xa9%", "c%"};

static void string_leaf(gen *g, const char *field, const char *const *values, size_t n) {
  uint64_t shape = tu_rand_below(&g->rng, 4);
  json_t *a = json_string(pick(g, values, n)), *b = json_string(pick(g, values, n));
  char *ta = json_dumps(a, JSON_ENCODE_ANY), *tb = json_dumps(b, JSON_ENCODE_ANY);
  if (shape == 0) {
    const char *pat = pick(g, like_patterns, sizeof like_patterns / sizeof like_patterns[0]);
    if (pat[0] == '%' || strchr(pat, '_')) g->indexable = false;
    emit(g, "%s like \"%s\"", field, pat);
  } else if (shape == 1) {
    emit(g, "%s in [%s, %s]", field, ta, tb);
  } else {
    emit(g, "%s %s %s", field, pick(g, ops, 5), ta);
  }
  free(ta), free(tb);
  json_decref(a), json_decref(b);
}

static void leaf(gen *g) {
  switch (tu_rand_below(&g->rng, 13)) {
    case 0: numeric_leaf(g, "i8", -130, 260, false); break;
    case 1: numeric_leaf(g, "i32", -100, 200, true); break;
    case 2: emit(g, "i8 + 1 > %d", (int)tu_rand_below(&g->rng, 100)); g->indexable = false; break;
    case 3: numeric_leaf(g, "f", -26, 52, true); break;
    case 4: numeric_leaf(g, "d", -100, 250, true); break;
    case 5: emit(g, "b == %s", tu_rand_below(&g->rng, 2) ? "true" : "false"); break;
    case 6: string_leaf(g, "s", words, 8); break;
    case 7: string_leaf(g, "tag", tags, 6); break;
    case 8: numeric_leaf(g, "meta[\"a\"]", -6, 30, true); break;
    case 9: string_leaf(g, "doc[\"s\"]", tags, 6); break;
    case 10: emit(g, "i8 %% 3 == 1"); g->indexable = false; break;
    case 11: emit(g, "i32 != %d", (int)tu_rand_below(&g->rng, 10)); g->indexable = false; break;
    default:
      emit(g, "i64 %s %" PRId64, pick(g, ops, 5), ((int64_t)tu_rand_below(&g->rng, 2000) - 1000) * 1000003LL);
      break;
  }
}

static void tree(gen *g, int depth) {
  uint64_t k = depth > 0 ? tu_rand_below(&g->rng, 3) : 0;
  if (k == 0) {
    leaf(g);
    return;
  }
  size_t n = 2 + tu_rand_below(&g->rng, 2);
  const char *op = k == 1 ? " and " : " or ";
  emit(g, "(");
  for (size_t i = 0; i < n; i++) {
    if (i) emit(g, "%s", op);
    tree(g, depth - 1);
  }
  emit(g, ")");
}

static void generate(gen *g) {
  g->len = 0;
  g->buf[0] = 0;
  g->indexable = true;
  tree(g, 2);
}

/* ---------------------------------------------------------- equivalence */

typedef struct compare_stats {
  size_t filters, index_answers, partial_answers, scans;
} compare_stats;

/* Compares, per segment, the index-backed bitset with plain evaluation;
 * when `must_use_index`, sealed segments must be answered by indexes. */
static void compare_filter(vs_db *db, const char *text, bool must_use_index, compare_stats *cs) {
  vs_collection *c = NULL;
  vs_expr *e = NULL;
  EXPECT_OK(vs_db_find(db, COLL, &c));
  vs_status st = vs_filter_compile(c, text, NULL, &e);
  if (st != VS_OK) fail_msg("filter '%s' does not compile: %s", text, vs_errmsg(NULL));
  pthread_rwlock_rdlock(&c->lock);
  vs_segment **segs = NULL;
  size_t n = 0;
  EXPECT_OK(vs_pick_segments(c, NULL, 0, &segs, &n));
  for (size_t s = 0; s < n; s++) {
    vs_bitset plain = {0}, fast = {0};
    size_t pc = 0, fc = 0;
    vs_filter_info info = {0};
    EXPECT_OK(vs_filter_segment(e, segs[s], &plain, &pc));
    EXPECT_OK(vs_filter_segment_in(c, e, segs[s], &fast, &fc, &info));
    if (pc != fc || memcmp(plain.words, fast.words, (segs[s]->rows + 63) / 64 * 8) != 0) {
      fail_msg("filter '%s' segment %" PRIu64 " (%s): index %zu rows, evaluation %zu rows", text, segs[s]->id,
               info.method, fc, pc);
    }
    if (segs[s]->sealed && must_use_index && strcmp(info.method, "scalar_index") != 0) {
      fail_msg("filter '%s' segment %" PRIu64 ": answered by %s, expected scalar_index", text, segs[s]->id,
               info.method);
    }
    if (segs[s]->sealed) {
      if (!strcmp(info.method, "scalar_index")) cs->index_answers++;
      else if (!strcmp(info.method, "scalar_index+scan")) cs->partial_answers++;
      else cs->scans++;
      assert_true(info.estimate >= fc);
    }
    vs_bitset_free(&plain);
    vs_bitset_free(&fast);
  }
  free(segs);
  pthread_rwlock_unlock(&c->lock);
  vs_expr_free(e);
  vs_db_release(db, c);
  cs->filters++;
}

#define N_FILTERS 400

static void test_random_filters_equal_evaluation(void **state) {
  fixture *fx = *state;
  gen g = {.rng = tu_seed("scalar_filters")};
  /* answers before any index exists */
  uint64_t *counts = calloc(N_FILTERS, sizeof *counts);
  char **texts = calloc(N_FILTERS, sizeof *texts);
  bool *indexable = calloc(N_FILTERS, sizeof *indexable);
  for (size_t i = 0; i < N_FILTERS; i++) {
    generate(&g);
    texts[i] = strdup(g.buf);
    indexable[i] = g.indexable;
    EXPECT_OK(vs_query_count(fx->db, COLL, texts[i], NULL, NULL, 0, &counts[i]));
  }
  create_all(fx->db);
  compare_stats cs = {0};
  for (size_t i = 0; i < N_FILTERS; i++) {
    compare_filter(fx->db, texts[i], indexable[i], &cs);
    uint64_t after = 0;
    EXPECT_OK(vs_query_count(fx->db, COLL, texts[i], NULL, NULL, 0, &after));
    if (after != counts[i]) fail_msg("count of '%s': %" PRIu64 " with indexes, %" PRIu64 " before", texts[i], after, counts[i]);
  }
  print_message("scalar index equivalence: %zu filters, sealed-segment answers: %zu by indexes, %zu narrowed, %zu scans\n",
                cs.filters, cs.index_answers, cs.partial_answers, cs.scans);
  assert_true(cs.index_answers > 100);
  assert_true(cs.partial_answers > 10);
  for (size_t i = 0; i < N_FILTERS; i++) free(texts[i]);
  free(texts);
  free(counts);
  free(indexable);
}

/* Hand-written leaves of each kind, each fully indexable. */
static const char *const fixed_filters[] = {
    "i8 == 7", "i8 in [1, 2, 3, 200]", "-5 < i8 <= 5", "i32 > 99.5", "i32 >= -100 and i32 < -90", "i64 == 3000009",
    "f < 0.6", "f == 0.1", "f >= 1.1 and f <= 2.1", "d >= 150.25", "d == -100", "b == true", "b == false or b == true",
    "s like \"ban%\"", "s like \"ap%\" or s == \"cherry\"", "s == \"\"", "s >= \"band\"", "tag == \"x\\\"q\"",
    "tag in [\"red\", \"blue\"]", "tag like \"\xc3\xa9%\"", "meta[\"a\"] == 3", "meta[\"a\"] > 20.5",
    "meta[\"a\"] in [1, 2.5]", "doc[\"s\"] == \"cyan\"", "doc[\"s\"] like \"ba%\"", "doc[\"s\"] < \"b\"",
    "(i8 > 0 and tag == \"red\") or (s like \"ch%\" and meta[\"a\"] < 0)",
};

static void test_fixed_filters_use_indexes(void **state) {
  fixture *fx = *state;
  create_all(fx->db);
  compare_stats cs = {0};
  for (size_t i = 0; i < sizeof fixed_filters / sizeof fixed_filters[0]; i++) {
    compare_filter(fx->db, fixed_filters[i], true, &cs);
  }
  /* not indexable: evaluated, same answer */
  compare_filter(fx->db, "not (i8 == 7)", false, &cs);
  compare_filter(fx->db, "meta[\"a\"] == \"k3\"", false, &cs);
  compare_filter(fx->db, "meta[\"n\"][\"x\"] == 3", false, &cs);
  compare_filter(fx->db, "i8 == 7 and i8 % 2 == 1", false, &cs);
}

/* ------------------------------------------------------------- search */

static void search_ids(vs_db *db, const char *filter, bool profile, int64_t *ids, size_t *n, char **prof) {
  float q[DIM] = {0.5f, 0.5f, 0.5f, 0.5f};
  vs_search_request req = {.vectors = q, .nq = 1, .dim = DIM, .k = 20, .filter = filter};
  vs_result *res = NULL;
  EXPECT_OK(vs_search(db, COLL, &req, &res));
  if (profile) {
    req.profile = 1;
    vs_result_free(res);
    EXPECT_OK(vs_search(db, COLL, &req, &res));
    *prof = strdup(vs_result_profile(res));
  }
  *n = vs_result_hits(res, 0);
  for (size_t i = 0; i < *n; i++) ids[i] = vs_result_id(res, 0, i);
  vs_result_free(res);
}

static void test_search_profile(void **state) {
  fixture *fx = *state;
  const char *filter = "i8 > 100 and tag in [\"red\", \"cyan\"]";
  int64_t before[20], after[20];
  size_t nb = 0, na = 0;
  char *prof = NULL;
  search_ids(fx->db, filter, false, before, &nb, NULL);
  create_all(fx->db);
  search_ids(fx->db, filter, true, after, &na, &prof);
  assert_int_equal(nb, na);
  assert_memory_equal(before, after, nb * sizeof *before);
  if (!strstr(prof, "\"filter\":\"scalar_index\"")) fail_msg("profile without scalar_index: %s", prof);
  assert_non_null(strstr(prof, "\"filter\":\"scan\"")); /* the growing segment */
  assert_non_null(strstr(prof, "\"filter_estimate\":"));
  free(prof);
  search_ids(fx->db, "i8 > 100 and i8 % 2 == 0", true, after, &na, &prof);
  if (!strstr(prof, "\"filter\":\"scalar_index+scan\"")) fail_msg("profile without narrowing: %s", prof);
  free(prof);
}

/* ---------------------------------------------------- describe and drop */

static json_t *describe(vs_db *db, const char *coll, const char *field) {
  char *text = NULL;
  json_error_t err;
  EXPECT_OK(vs_describe_index(db, coll, field, &text));
  json_t *o = json_loads(text, 0, &err);
  vs_free(text);
  assert_non_null(o);
  return o;
}

static const char *str_of(json_t *o, const char *key) {
  const char *v = json_string_value(json_object_get(o, key));
  return v ? v : "";
}

static void test_describe_list_drop_persist(void **state) {
  fixture *fx = *state;
  create_all(fx->db);
  json_t *o = describe(fx->db, COLL, "b");
  assert_string_equal(str_of(o, "indexType"), "BITMAP");
  assert_string_equal(str_of(o, "requestedType"), "AUTOINDEX");
  assert_string_equal(str_of(o, "state"), "Finished");
  assert_null(json_object_get(o, "metricType"));
  json_decref(o);
  o = describe(fx->db, COLL, "meta");
  assert_string_equal(str_of(o, "jsonPath"), "meta[\"a\"]");
  assert_string_equal(str_of(o, "jsonCastType"), "double");
  assert_true(json_integer_value(json_object_get(o, "memoryBytes")) > 0);
  json_decref(o);
  char **fields = NULL;
  size_t n = 0;
  EXPECT_OK(vs_list_indexes(fx->db, COLL, &fields, &n));
  assert_int_equal(n, N_SPECS);
  vs_free_strings(fields, n);
  /* same definition again succeeds; another one is refused */
  EXPECT_OK(vs_create_index(fx->db, COLL, "i32", "STL_SORT", NULL));
  EXPECT_ST(VS_ERR_EXISTS, vs_create_index(fx->db, COLL, "i32", "INVERTED", NULL));
  /* drop: gone from list, filters on the field are evaluated */
  EXPECT_OK(vs_drop_index(fx->db, COLL, "s"));
  EXPECT_OK(vs_drop_index(fx->db, COLL, "s"));
  EXPECT_ST(VS_ERR_NOT_FOUND, vs_describe_index(fx->db, COLL, "s", &(char *){NULL}));
  EXPECT_OK(vs_list_indexes(fx->db, COLL, &fields, &n));
  assert_int_equal(n, N_SPECS - 1);
  vs_free_strings(fields, n);
  compare_stats cs = {0};
  compare_filter(fx->db, "s like \"ban%\"", false, &cs);
  assert_int_equal(cs.index_answers, 0);
  /* across close/open: definitions kept, indexes rebuilt by the builder */
  EXPECT_OK(vs_close(fx->db));
  fx->db = NULL;
  open_db(fx);
  EXPECT_OK(vs_list_indexes(fx->db, COLL, &fields, &n));
  assert_int_equal(n, N_SPECS - 1);
  vs_free_strings(fields, n);
  for (size_t i = 0; i < N_SPECS; i++) {
    if (strcmp(specs[i].field, "s") != 0) EXPECT_OK(vs_wait_for_index(fx->db, COLL, specs[i].field, WAIT_MS));
  }
  o = describe(fx->db, COLL, "doc");
  assert_string_equal(str_of(o, "indexType"), "INVERTED");
  assert_string_equal(str_of(o, "jsonPath"), "doc[\"s\"]");
  json_decref(o);
  compare_filter(fx->db, "doc[\"s\"] like \"ban%\" and i32 > 10", true, &cs);
  /* a new sealed segment gets its index too; compaction replaces them */
  EXPECT_OK(vs_flush(fx->db, COLL));
  EXPECT_OK(vs_compact(fx->db, COLL, 1));
  EXPECT_OK(vs_wait_for_index(fx->db, COLL, "i8", WAIT_MS));
  compare_filter(fx->db, "i8 == 5 or i8 == 6", true, &cs);
}

/* ---------------------------------------------------- types and refusals */

static void test_autoindex_and_refusals(void **state) {
  fixture *fx = *state;
  static const struct {
    const char *field, *want;
  } autos[] = {{"i8", "STL_SORT"}, {"f", "STL_SORT"}, {"d", "STL_SORT"}, {"b", "BITMAP"},
               {"s", "INVERTED"}, {"meta", "INVERTED"}};
  for (size_t i = 0; i < sizeof autos / sizeof autos[0]; i++) {
    const char *params = strcmp(autos[i].field, "meta") == 0
                             ? "{\"json_path\":\"meta[\\\"n\\\"][\\\"x\\\"]\",\"json_cast_type\":\"double\"}"
                             : NULL;
    EXPECT_OK(vs_create_index(fx->db, COLL, autos[i].field, "AUTOINDEX", params));
    json_t *o = describe(fx->db, COLL, autos[i].field);
    assert_string_equal(str_of(o, "indexType"), autos[i].want);
    json_decref(o);
  }
  EXPECT_OK(vs_wait_for_index(fx->db, COLL, "meta", WAIT_MS));
  compare_stats cs = {0};
  compare_filter(fx->db, "meta[\"n\"][\"x\"] >= 6", true, &cs);
  /* refusals */
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "tag", "STL_SORT", NULL));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "i64", "NO_SUCH", NULL));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "doc", "INVERTED", NULL));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "doc", "INVERTED", "{\"json_path\":\"doc[\\\"s\\\"]\"}"));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "doc", "BITMAP",
                                            "{\"json_path\":\"doc[\\\"s\\\"]\",\"json_cast_type\":\"varchar\"}"));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "doc", "INVERTED",
                                            "{\"json_path\":\"other[\\\"s\\\"]\",\"json_cast_type\":\"varchar\"}"));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "doc", "INVERTED",
                                            "{\"json_path\":\"doc[\\\"s\\\"]\",\"json_cast_type\":\"int\"}"));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "i32", "INVERTED", "{\"json_path\":\"i32\"}"));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "vec", "INVERTED", NULL));
  EXPECT_OK(vs_drop_index(fx->db, COLL, "d"));
  EXPECT_ST(VS_ERR_INVALID, vs_create_index(fx->db, COLL, "d", "BITMAP", NULL));
  /* BITMAP above its cardinality limit: the build fails with a reason */
  EXPECT_OK(vs_create_index(fx->db, COLL, "i32", "BITMAP", "{\"bitmap_cardinality_limit\":8}"));
  EXPECT_ST(VS_ERR_INTERNAL, vs_wait_for_index(fx->db, COLL, "i32", WAIT_MS));
  json_t *o = describe(fx->db, COLL, "i32");
  assert_string_equal(str_of(o, "state"), "Failed");
  assert_non_null(strstr(str_of(o, "failReason"), "bitmap_cardinality_limit"));
  json_decref(o);
  compare_filter(fx->db, "i32 == 5", false, &cs);
}

/* ----------------------------------------------------------- measurement */

#define BIG_ROWS 1000000
#define BIG_BATCH 100000

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void insert_big(vs_db *db, uint64_t *rng) {
  int64_t *ids = calloc(BIG_BATCH, sizeof *ids), *x = calloc(BIG_BATCH, sizeof *x);
  float *vec = calloc((size_t)BIG_BATCH * DIM, sizeof *vec);
  for (int64_t first = 0; first < BIG_ROWS; first += BIG_BATCH) {
    vs_rows *rows = NULL;
    for (size_t r = 0; r < BIG_BATCH; r++) {
      ids[r] = first + (int64_t)r;
      x[r] = (int64_t)tu_rand_below(rng, 1000000);
    }
    EXPECT_OK(vs_rows_new(BIG_BATCH, &rows));
    EXPECT_OK(vs_rows_set_int64(rows, "id", ids, NULL));
    EXPECT_OK(vs_rows_set_int64(rows, "x", x, NULL));
    EXPECT_OK(vs_rows_set_float_vectors(rows, "vec", vec, DIM));
    EXPECT_OK(vs_insert(db, "big", NULL, rows, NULL));
    vs_rows_free(rows);
  }
  free(ids), free(x), free(vec);
}

/* Time of filtering every segment, best of 3 (µs). */
static double filter_time(vs_db *db, const char *text, bool use_index, size_t *passing) {
  vs_collection *c = NULL;
  vs_expr *e = NULL;
  double best = 1e30;
  EXPECT_OK(vs_db_find(db, "big", &c));
  EXPECT_OK(vs_filter_compile(c, text, NULL, &e));
  pthread_rwlock_rdlock(&c->lock);
  for (int rep = 0; rep < 3; rep++) {
    double t0 = seconds_now();
    *passing = 0;
    for (size_t s = 0; s < c->sealed_count; s++) {
      vs_bitset b = {0};
      size_t n = 0;
      if (use_index) EXPECT_OK(vs_filter_segment_in(c, e, c->sealed[s], &b, &n, NULL));
      else EXPECT_OK(vs_filter_segment(e, c->sealed[s], &b, &n));
      *passing += n;
      vs_bitset_free(&b);
    }
    double t = (seconds_now() - t0) * 1e6;
    if (t < best) best = t;
  }
  pthread_rwlock_unlock(&c->lock);
  vs_expr_free(e);
  vs_db_release(db, c);
  return best;
}

static void test_measure_million_rows(void **state) {
  fixture *fx = *state;
  vs_schema *s = NULL;
  vs_field_def defs[] = {{.name = "id", .type = VS_TYPE_INT64, .is_primary = 1},
                         {.name = "vec", .type = VS_TYPE_FLOAT_VECTOR, .dim = DIM, .metric = VS_METRIC_L2},
                         {.name = "x", .type = VS_TYPE_INT64}};
  EXPECT_OK(vs_schema_new(&s));
  for (size_t i = 0; i < 3; i++) EXPECT_OK(vs_schema_add_field(s, &defs[i]));
  EXPECT_OK(vs_create_collection(fx->db, "big", s, NULL));
  vs_schema_free(s);
  uint64_t rng = tu_seed("scalar_big");
  insert_big(fx->db, &rng);
  EXPECT_OK(vs_flush(fx->db, "big"));
  double t0 = seconds_now();
  EXPECT_OK(vs_create_index(fx->db, "big", "x", "STL_SORT", NULL));
  EXPECT_OK(vs_wait_for_index(fx->db, "big", "x", 600000));
  double build = seconds_now() - t0;
  static const char *const filters[] = {"x == 123456", "x < 1000", "500000 <= x < 510000", "x < 1000 and id % 2 == 0"};
  for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
    size_t p1 = 0, p2 = 0;
    double scan = filter_time(fx->db, filters[i], false, &p1);
    double fast = filter_time(fx->db, filters[i], true, &p2);
    assert_int_equal(p1, p2);
    print_message("1M rows, filter '%s' (%zu pass): evaluation %.0f us, STL_SORT index %.0f us (x%.1f)\n",
                  filters[i], p1, scan, fast, scan / (fast > 0 ? fast : 1));
  }
  json_t *o = describe(fx->db, "big", "x");
  print_message("1M rows: STL_SORT build (in the background, all sealed segments) %.3f s, %" JSON_INTEGER_FORMAT
                " bytes, %" JSON_INTEGER_FORMAT " distinct keys\n",
                build, json_integer_value(json_object_get(o, "memoryBytes")),
                json_integer_value(json_object_get(o, "distinctKeys")));
  json_decref(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_random_filters_equal_evaluation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fixed_filters_use_indexes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_search_profile, setup, teardown),
      cmocka_unit_test_setup_teardown(test_describe_list_drop_persist, setup, teardown),
      cmocka_unit_test_setup_teardown(test_autoindex_and_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_measure_million_rows, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
