/*
 * cli_search.c -- `vectorstore search DIR COLLECTION QUERIES.fvecs`: runs
 * every query of a file against a collection, times the calls, and
 * optionally measures recall against a ground-truth file or writes the
 * result ids.
 *
 * Measurement.  Queries are sent --batch Q at a time (default 1: one
 * vs_search per query, which is what a latency figure means).  queries/s is
 * the number of queries over the wall time of the search loop only (not
 * loading files, not opening the database).  Latency p50/p99 are per call,
 * nearest rank.  recall@k = |result ids of a query  ∩  its first k truth
 * ids| / k, averaged over the queries; the truth file (.ivecs: per query
 * int32 n + n ids, n >= k) is the ann-benchmarks / TEXMEX layout.
 *
 * --out writes the result ids as .ivecs, one row of exactly k ids per query
 * (-1 where a query had fewer than k hits), written to PATH.tmp, synced and
 * renamed.  Ids must fit int32 for --out and --truth; a VarChar key cannot
 * be used with either.
 *
 * Without --truth or --out, the first three queries' hits (id, distance and
 * the --output fields) are printed for a human.  Their results are kept
 * from the timed loop, not searched again.
 *
 * Search parameters.  --params JSON is passed unchanged as the request's
 * params_json ({"ef":64} for HNSW, {"nprobe":16} for IVF, ...); the engine
 * judges it, so a malformed or out-of-range value is its message and exit
 * 1.  --radius R [--range-filter F] is a shorthand that adds "radius" and
 * "range_filter" to those params (Milvus semantics: for L2, F <= distance
 * < R; for IP and COSINE, R < distance <= F).
 *
 * Range search.  When the params hold a radius (from --radius or --params),
 * a query returns every hit inside the range, up to k, so a count of hits
 * is the result and recall@k against a top-k truth file means nothing: the
 * command reports the mean, min and max hits per query and how many queries
 * were cut off at k; --truth is ignored with a note.
 *
 * --filter EXPR restricts every query to the rows that pass a boolean
 * expression (Milvus's language, docs/filters.md); --profile prints the
 * query profile (phases, segments, the optimizer's choice per segment) of
 * the first call.
 *
 * The database is opened read-only: a search writes nothing.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define SHOW_QUERIES 3
#define MAX_OUTPUT_FIELDS 64
#define MAX_THREADS 4096

typedef struct search_args {
  const char *dir;
  const char *collection;
  const char *queries_path;
  const char *truth_path;
  const char *out_path;
  const char *field;
  const char *output;
  const char *params;  /* --params, or NULL */
  const char *filter;  /* --filter, or NULL */
  int profile;         /* --profile */
  double radius;       /* --radius, when has_radius */
  double range_filter; /* --range-filter, when has_range_filter */
  int has_radius;
  int has_range_filter;
  uint64_t k;
  uint64_t threads;
  uint64_t batch;
} search_args;

typedef struct kept_result {
  vs_result *result;
  size_t first_query;
} kept_result;

typedef struct search_run {
  float *queries;
  size_t nq;
  uint32_t dim;
  char *output_text;                       /* --output, split in place */
  const char *outputs[MAX_OUTPUT_FIELDS];
  size_t output_count;
  char *params_json;                       /* sent with every request */
  int range;                               /* params hold a radius */
  int64_t *ids;                            /* nq x k; -1 = no hit */
  size_t *hit_counts;                      /* per query */
  double *latencies;                       /* per call, seconds */
  size_t calls;
  double seconds;
  kept_result kept[SHOW_QUERIES];
  size_t kept_count;
} search_run;

static int split_outputs(const search_args *a, search_run *r) {
  if (a->output == NULL || a->output[0] == '\0') return 0;
  r->output_text = strdup(a->output);
  if (r->output_text == NULL) return cli_fail("out of memory");
  char *save = NULL;
  for (char *tok = strtok_r(r->output_text, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    if (r->output_count == MAX_OUTPUT_FIELDS) {
      return cli_fail("--output names more than %d fields",
                      MAX_OUTPUT_FIELDS);
    }
    r->outputs[r->output_count++] = tok;
  }
  return 0;
}

/* ------------------------------------------------------------- params */

/* The object that holds the search keys: the root, or its "params" member
 * when the keys are nested Milvus-style. */
static json_t *search_keys(json_t *root) {
  json_t *nested = json_object_get(root, "params");
  return json_is_object(nested) ? nested : root;
}

/* Adds --radius/--range-filter to the --params object (or to a new one). */
static int merge_range(const search_args *a, json_t **root) {
  json_error_t err;
  *root = a->params ? json_loads(a->params, 0, &err) : json_object();
  if (*root == NULL) return cli_fail("--params is not valid JSON: %s", err.text);
  if (!json_is_object(*root)) {
    return cli_fail("--params must be a JSON object to add --radius to it");
  }
  json_t *keys = search_keys(*root);
  json_object_set_new(keys, "radius", json_real(a->radius));
  if (a->has_range_filter) {
    json_object_set_new(keys, "range_filter", json_real(a->range_filter));
  }
  return 0;
}

/* Builds the params_json of the requests and notes whether it asks for a
 * range search.  Params that do not parse are passed on as they are for
 * the engine to reject with its own message. */
static int build_params(const search_args *a, search_run *r) {
  json_t *root = NULL;
  json_error_t err;
  int rc = 0;
  if (a->has_radius) {
    rc = merge_range(a, &root);
    r->params_json = rc == 0 ? json_dumps(root, JSON_COMPACT) : NULL;
    if (rc == 0 && r->params_json == NULL) rc = cli_fail("out of memory");
  } else if (a->params != NULL) {
    r->params_json = strdup(a->params);
    if (r->params_json == NULL) rc = cli_fail("out of memory");
    root = json_loads(a->params, 0, &err);
  }
  if (rc == 0 && json_is_object(root)) {
    r->range = json_object_get(search_keys(root), "radius") != NULL;
  }
  json_decref(root);
  return rc;
}

static int allocate_run(const search_args *a, search_run *r) {
  size_t cells = 0;
  if (__builtin_mul_overflow(r->nq, (size_t)a->k, &cells)) {
    return cli_fail("%zu queries x k %" PRIu64 " is too large", r->nq, a->k);
  }
  r->ids = malloc((cells ? cells : 1) * sizeof *r->ids);
  r->latencies = malloc((r->nq ? r->nq : 1) * sizeof *r->latencies);
  r->hit_counts = calloc(r->nq ? r->nq : 1, sizeof *r->hit_counts);
  if (r->ids == NULL || r->latencies == NULL || r->hit_counts == NULL) {
    return cli_fail("out of memory for %zu results", cells);
  }
  for (size_t i = 0; i < cells; i++) r->ids[i] = -1;
  return 0;
}

static void collect_ids(const search_args *a, search_run *r,
                        const vs_result *res, size_t first, int int_keys) {
  size_t n = vs_result_nq(res);
  for (size_t q = 0; q < n && first + q < r->nq; q++) {
    size_t hits = vs_result_hits(res, q);
    if (hits > a->k) hits = (size_t)a->k;
    r->hit_counts[first + q] = hits;
    for (size_t i = 0; int_keys && i < hits; i++) {
      r->ids[(first + q) * a->k + i] = vs_result_id(res, q, i);
    }
  }
}

/* Keeps a result that holds one of the first SHOW_QUERIES queries. */
static int keep_result(search_run *r, vs_result *res, size_t first) {
  if (first >= SHOW_QUERIES || r->kept_count == SHOW_QUERIES) return 0;
  r->kept[r->kept_count].result = res;
  r->kept[r->kept_count].first_query = first;
  r->kept_count++;
  return 1;
}

static int run_queries(vs_db *db, const search_args *a, const cli_target *t,
                       search_run *r) {
  double loop_start = cli_now();
  for (size_t first = 0; first < r->nq; first += (size_t)a->batch) {
    size_t n = r->nq - first < a->batch ? r->nq - first : (size_t)a->batch;
    vs_search_request req = {
        .vector_field = t->vector_field,
        .vectors = r->queries + first * r->dim,
        .nq = n,
        .dim = r->dim,
        .k = (uint32_t)a->k,
        .output_fields = r->output_count ? r->outputs : NULL,
        .output_count = r->output_count,
        .threads = (uint32_t)a->threads,
        .params_json = r->params_json,
        .filter = a->filter,
        .profile = a->profile && first == 0};
    vs_result *res = NULL;
    double t0 = cli_now();
    vs_status st = vs_search(db, a->collection, &req, &res);
    r->latencies[r->calls++] = cli_now() - t0;
    if (st != VS_OK) {
      return cli_fail_status(st, "search of queries %zu..%zu%s%s", first,
                             first + n - 1,
                             r->params_json ? " with params " : "",
                             r->params_json ? r->params_json : "");
    }
    if (req.profile && vs_result_profile(res)) {
      printf("profile: %s\n", vs_result_profile(res));
    }
    collect_ids(a, r, res, first, t->pk_type == VS_TYPE_INT64);
    if (!keep_result(r, res, first)) vs_result_free(res);
  }
  r->seconds = cli_now() - loop_start;
  return 0;
}

/* ---------------------------------------------------------------- reports */

static void print_hit(const vs_result *res, size_t q, size_t i, int int_keys,
                      size_t rank) {
  if (int_keys) {
    printf("  %2zu. id %-10" PRId64, rank, vs_result_id(res, q, i));
  } else {
    const char *id = vs_result_id_str(res, q, i);
    printf("  %2zu. id %-10s", rank, id ? id : "?");
  }
  printf("  distance %-12.6g", vs_result_distance(res, q, i));
  const vs_rows *rows = vs_result_rows(res);
  char *json = NULL;
  if (rows != NULL &&
      vs_rows_row_to_json(rows, vs_result_row_index(res, q, i), &json) ==
          VS_OK) {
    printf("  %s", json);
  }
  vs_free(json);
  printf("\n");
}

static void print_kept(const search_run *r, int int_keys) {
  for (size_t j = 0; j < r->kept_count; j++) {
    const kept_result *kr = &r->kept[j];
    size_t n = vs_result_nq(kr->result);
    for (size_t q = 0; q < n && kr->first_query + q < SHOW_QUERIES; q++) {
      size_t hits = vs_result_hits(kr->result, q);
      printf("query %zu: %zu hits\n", kr->first_query + q, hits);
      for (size_t i = 0; i < hits; i++) {
        print_hit(kr->result, q, i, int_keys, i + 1);
      }
    }
  }
}

static void print_timing(const search_args *a, search_run *r) {
  if (r->params_json != NULL) printf("search params: %s\n", r->params_json);
  double qps = r->seconds > 0 ? (double)r->nq / r->seconds : 0.0;
  char threads[32] = "default";
  if (a->threads) snprintf(threads, sizeof threads, "%" PRIu64, a->threads);
  cli_sort_doubles(r->latencies, r->calls);
  printf("searched %zu queries (k=%" PRIu64 ", %zu calls of up to %" PRIu64
         " queries, threads %s) in %.3f s: %.1f queries/s\n",
         r->nq, a->k, r->calls, a->batch, threads, r->seconds, qps);
  printf("latency per call: p50 %.3f ms, p99 %.3f ms\n",
         1e3 * cli_quantile(r->latencies, r->calls, 0.50),
         1e3 * cli_quantile(r->latencies, r->calls, 0.99));
}

static void print_range_summary(const search_args *a, const search_run *r) {
  size_t min = SIZE_MAX, max = 0, capped = 0;
  double sum = 0.0;
  for (size_t q = 0; q < r->nq; q++) {
    size_t hits = r->hit_counts[q];
    sum += (double)hits;
    if (hits < min) min = hits;
    if (hits > max) max = hits;
    if (hits >= a->k) capped++;
  }
  printf("range search: %.2f hits per query on average (min %zu, max %zu)\n",
         r->nq ? sum / (double)r->nq : 0.0, r->nq ? min : 0, max);
  if (capped > 0) {
    printf("%zu of %zu queries reached k=%" PRIu64 "; raise --k to see every "
           "hit in range\n", capped, r->nq, a->k);
  }
}

static int compare_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a;
  int32_t y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* |ids ∩ truth| / k for one query; sorts `truth` (k ids) in place. */
static double query_recall(const int64_t *ids, int32_t *truth, size_t k) {
  size_t found = 0;
  qsort(truth, k, sizeof *truth, compare_int32);
  for (size_t i = 0; i < k; i++) {
    int32_t key = (int32_t)ids[i];
    if (ids[i] < 0 || ids[i] > INT32_MAX) continue;
    if (bsearch(&key, truth, k, sizeof *truth, compare_int32)) found++;
  }
  return (double)found / (double)k;
}

static int measure_recall(const search_args *a, const search_run *r) {
  int32_t *truth = NULL;
  int32_t *row = NULL;
  size_t truth_rows = 0;
  uint32_t truth_k = 0;
  int rc = cli_load_ints(a->truth_path, &truth, &truth_rows, &truth_k);
  if (rc != 0) return rc;
  rc = CLI_EXIT_FAIL;
  if (truth_rows < r->nq) {
    cli_fail("%s has %zu rows, fewer than the %zu queries", a->truth_path,
             truth_rows, r->nq);
    goto done;
  }
  if (truth_k < a->k) {
    cli_fail("%s has %u ids per query, fewer than --k %" PRIu64,
             a->truth_path, truth_k, a->k);
    goto done;
  }
  row = malloc((size_t)a->k * sizeof *row);
  if (row == NULL) {
    cli_fail("out of memory");
    goto done;
  }
  double sum = 0.0;
  for (size_t q = 0; q < r->nq; q++) {
    memcpy(row, truth + q * truth_k, (size_t)a->k * sizeof *row);
    sum += query_recall(r->ids + q * a->k, row, (size_t)a->k);
  }
  printf("recall@%" PRIu64 ": %.4f\n", a->k, r->nq ? sum / (double)r->nq : 0.0);
  rc = 0;
done:
  free(row);
  free(truth);
  return rc;
}

static int write_out(const search_args *a, const search_run *r) {
  size_t cells = r->nq * (size_t)a->k;
  int32_t *out = malloc((cells ? cells : 1) * sizeof *out);
  if (out == NULL) return cli_fail("out of memory");
  for (size_t i = 0; i < cells; i++) {
    if (r->ids[i] < -1 || r->ids[i] > INT32_MAX) {
      free(out);
      return cli_fail("id %" PRId64 " does not fit the int32 ids of .ivecs",
                      r->ids[i]);
    }
    out[i] = (int32_t)r->ids[i];
  }
  int rc = cli_write_ivecs(a->out_path, out, r->nq, (uint32_t)a->k);
  if (rc == 0) printf("wrote %zu result rows to %s\n", r->nq, a->out_path);
  free(out);
  return rc;
}

/* ---------------------------------------------------------------- command */

static int check_inputs(const search_args *a, const cli_target *t,
                        const search_run *r) {
  if (r->dim != t->dim) {
    return cli_fail("%s has dimension %u, but field '%s' of collection '%s' "
                    "has %u",
                    a->queries_path, r->dim, t->vector_field, a->collection,
                    t->dim);
  }
  if (t->pk_type != VS_TYPE_INT64 && (a->truth_path || a->out_path)) {
    return cli_fail("collection '%s' has a %s primary key; --truth and --out "
                    "need Int64 ids",
                    a->collection, vs_type_name(t->pk_type));
  }
  if (r->nq == 0) return cli_fail("%s has no queries", a->queries_path);
  return 0;
}

static void free_run(search_run *r) {
  for (size_t j = 0; j < r->kept_count; j++) vs_result_free(r->kept[j].result);
  free(r->queries);
  free(r->output_text);
  free(r->ids);
  free(r->latencies);
  free(r->hit_counts);
  free(r->params_json);
}

static int search_main(const search_args *a) {
  search_run r = {0};
  cli_target t = {0};
  vs_db *db = NULL;
  int rc = split_outputs(a, &r);
  if (rc == 0) rc = build_params(a, &r);
  if (rc == 0) rc = cli_load_floats(a->queries_path, &r.queries, &r.nq, &r.dim);
  if (rc == 0) rc = allocate_run(a, &r);
  if (rc == 0) rc = cli_open_db(a->dir, VS_FSYNC_ALWAYS, 1, 1, &db);
  if (rc == 0) rc = cli_target_resolve(db, a->collection, a->field, &t);
  if (rc == 0) rc = check_inputs(a, &t, &r);
  if (rc == 0) rc = run_queries(db, a, &t, &r);
  if (rc == 0) {
    if (a->truth_path == NULL && a->out_path == NULL) {
      print_kept(&r, t.pk_type == VS_TYPE_INT64);
    }
    print_timing(a, &r);
    if (r.range) print_range_summary(a, &r);
  }
  if (rc == 0 && a->truth_path != NULL && r.range) {
    fprintf(stderr, "note: --truth ignored: recall@k is not meaningful for "
                    "a range search; the hits per query are reported "
                    "instead\n");
  } else if (rc == 0 && a->truth_path != NULL) {
    rc = measure_recall(a, &r);
  }
  if (rc == 0 && a->out_path != NULL) rc = write_out(a, &r);
  cli_target_free(&t);
  free_run(&r);
  if (db != NULL) {
    int closed = cli_close_db(db);
    if (rc == 0) rc = closed;
  }
  return rc;
}

int cli_cmd_search(const cli_command *cmd, int argc, char **argv) {
  search_args a = {.k = 10, .batch = 1};
  cli_option options[] = {
      {"k", CLI_OPT_UINT, &a.k, 1, VS_MAX_TOPK, 0},
      {"threads", CLI_OPT_UINT, &a.threads, 0, MAX_THREADS, 0},
      {"truth", CLI_OPT_STRING, &a.truth_path, 0, 0, 0},
      {"out", CLI_OPT_STRING, &a.out_path, 0, 0, 0},
      {"batch", CLI_OPT_UINT, &a.batch, 1, VS_MAX_NQ, 0},
      {"field", CLI_OPT_STRING, &a.field, 0, 0, 0},
      {"output", CLI_OPT_STRING, &a.output, 0, 0, 0},
      {"params", CLI_OPT_STRING, &a.params, 0, 0, 0},
      {"radius", CLI_OPT_NUMBER, &a.radius, 0, 0, 0},
      {"range-filter", CLI_OPT_NUMBER, &a.range_filter, 0, 0, 0},
      {"filter", CLI_OPT_STRING, &a.filter, 0, 0, 0},
      {"profile", CLI_OPT_FLAG, &a.profile, 0, 0, 0},
      {NULL, CLI_OPT_STRING, NULL, 0, 0, 0}};
  const char *pos[3];
  int npos = 0;
  int rc = cli_parse_args(cmd, argc, argv, options, pos, 3, 3, &npos);
  if (rc != 0) return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
  a.dir = pos[0];
  a.collection = pos[1];
  a.queries_path = pos[2];
  a.has_radius = options[8].seen;       /* "radius" */
  a.has_range_filter = options[9].seen; /* "range-filter" */
  if (a.has_range_filter && !a.has_radius) {
    return cli_usage_error(cmd, "--range-filter needs --radius");
  }
  return search_main(&a);
}
