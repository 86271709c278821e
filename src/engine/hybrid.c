/*
 * hybrid.c -- hybrid search: several sub-searches (each over its own vector
 * field, with its own query vectors, filter, parameters and top-k) fused
 * into one ranking by Reciprocal Rank Fusion or by a weighted sum of
 * normalised scores, with Milvus's rules (MILVUS_REST_V2.md section 5.4):
 *
 *   rrf:       score(pk) = sum over routes of 1 / (k + rank), rank from 1
 *   weighted:  score(pk) = sum over routes of w_i * norm_i(distance), with
 *              norm = (1 + d) / 2 for COSINE, 0.5 + atan(d) / pi for IP and
 *              1 - 2 atan(d) / pi for L2 (so larger is better everywhere);
 *              norm_score: false uses the raw distance.
 *
 * Each route is an ordinary vs_search, so filters, indexes, the optimizer
 * and partitions behave exactly as in a single search.  Fusion works per
 * query on (key, contribution) pairs: sort by key, sum runs of equal keys,
 * sort by fused score (ties: smaller key first, deterministic).  Output
 * fields are fetched afterwards by primary key (vs_get) in hit order.
 *
 * Rejected: a hash map keyed by primary key -- the lists are short (sum of
 * the routes' k), and two sorts are simpler and allocation-light.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/engine_internal.h"

#define MAX_ROUTES 1024u

typedef struct fuse_entry {
  int64_t id;
  const char *str_id;     /* VarChar keys (borrowed from a route result) */
  double score;
} fuse_entry;

typedef struct rerank {
  bool rrf;
  double rrf_k;
  double *weights;
  bool norm_score;
} rerank;

static vs_status parse_rrf(json_t *params, rerank *r) {
  r->rrf = true;
  r->rrf_k = 60.0;
  json_t *k = params ? json_object_get(params, "k") : NULL;
  if (!k) return VS_OK;
  if (!json_is_number(k) || !(json_number_value(k) > 0) || !(json_number_value(k) < 16384)) {
    return vs_fail(VS_ERR_INVALID, "rrf: k must be a number in (0, 16384)");
  }
  r->rrf_k = json_number_value(k);
  return VS_OK;
}

static vs_status parse_weighted(json_t *params, size_t routes, rerank *r) {
  json_t *w = params ? json_object_get(params, "weights") : NULL;
  if (!json_is_array(w) || json_array_size(w) != routes) {
    return vs_fail(VS_ERR_INVALID, "weighted: params.weights must be an array of %zu numbers (one per sub-search)",
                   routes);
  }
  r->weights = vs_calloc(routes, sizeof *r->weights);
  if (!r->weights) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < routes; i++) {
    json_t *v = json_array_get(w, i);
    double x = json_is_number(v) ? json_number_value(v) : -1.0;
    if (!(x >= 0.0 && x <= 1.0)) return vs_fail(VS_ERR_INVALID, "weighted: weight %zu must be in [0, 1]", i);
    r->weights[i] = x;
  }
  json_t *norm = json_object_get(params, "norm_score");
  r->norm_score = norm ? json_is_true(norm) : true;
  if (norm && !json_is_boolean(norm)) return vs_fail(VS_ERR_INVALID, "weighted: norm_score must be a boolean");
  return VS_OK;
}

static vs_status parse_rerank(const vs_hybrid_request *req, rerank *r) {
  json_t *params = NULL;
  vs_status st = VS_OK;
  if (req->rerank_params_json && *req->rerank_params_json) {
    json_error_t err;
    params = json_loads(req->rerank_params_json, 0, &err);
    if (!json_is_object(params)) {
      json_decref(params);
      return vs_fail(VS_ERR_INVALID, "rerank params must be a JSON object");
    }
  }
  const char *name = req->rerank ? req->rerank : "";
  if (strcasecmp(name, "rrf") == 0) {
    st = parse_rrf(params, r);
  } else if (strcasecmp(name, "weighted") == 0) {
    st = parse_weighted(params, req->search_count, r);
  } else {
    st = vs_fail(VS_ERR_INVALID, "unsupported rank type '%s' (use \"rrf\" or \"weighted\")", name);
  }
  json_decref(params);
  return st;
}

/* Milvus's score normalisation: maps a distance to (0, 1), larger better. */
static double normalise(vs_metric m, double d) {
  switch (m) {
    case VS_METRIC_COSINE: return (1.0 + d) / 2.0;
    case VS_METRIC_IP: return 0.5 + atan(d) / M_PI;
    default: return 1.0 - 2.0 * atan(d) / M_PI;
  }
}

static int cmp_key(const void *a, const void *b) {
  const fuse_entry *x = a, *y = b;
  if (x->str_id) return strcmp(x->str_id, y->str_id);
  return (x->id > y->id) - (x->id < y->id);
}

static int cmp_score(const void *a, const void *b) {
  const fuse_entry *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return cmp_key(a, b);
}

/* Fuses query q of every route into entries (sorted best first); returns
 * the number of distinct keys. */
static size_t fuse_query(vs_result *const *routes, const vs_metric *metrics, size_t count,
                         const rerank *r, size_t q, fuse_entry *e) {
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    size_t hits = vs_result_hits(routes[i], q);
    for (size_t h = 0; h < hits; h++) {
      double d = vs_result_distance(routes[i], q, h);
      double s = r->rrf ? 1.0 / (r->rrf_k + (double)(h + 1))
                        : r->weights[i] * (r->norm_score ? normalise(metrics[i], d) : d);
      e[n].id = vs_result_id(routes[i], q, h);
      e[n].str_id = vs_result_id_str(routes[i], q, h);
      e[n].score = s;
      n++;
    }
  }
  qsort(e, n, sizeof *e, cmp_key);
  size_t out = 0;
  for (size_t i = 0; i < n; i++) {
    if (out && cmp_key(&e[out - 1], &e[i]) == 0) {
      e[out - 1].score += e[i].score;
    } else {
      e[out++] = e[i];
    }
  }
  qsort(e, out, sizeof *e, cmp_score);
  return out;
}

static vs_status check_hybrid(const vs_hybrid_request *req) {
  if (!req->searches || req->search_count == 0 || req->search_count > MAX_ROUTES) {
    return vs_fail(VS_ERR_INVALID, "hybrid search needs 1..%u sub-searches", MAX_ROUTES);
  }
  if (req->k == 0 || (uint64_t)req->k + req->offset > VS_MAX_TOPK) {
    return vs_fail(VS_ERR_LIMIT, "limit must be 1..%u and offset + limit <= %u", VS_MAX_TOPK, VS_MAX_TOPK);
  }
  for (size_t i = 1; i < req->search_count; i++) {
    if (req->searches[i].nq != req->searches[0].nq) {
      return vs_fail(VS_ERR_INVALID, "sub-search %zu has %zu query vectors, sub-search 0 has %zu", i,
                     req->searches[i].nq, req->searches[0].nq);
    }
  }
  return VS_OK;
}

/* Runs route i with the hybrid request's partitions and no output. */
static vs_status run_route(vs_db *db, const char *collection, const vs_hybrid_request *req,
                           size_t i, vs_result **out) {
  vs_search_request sub = req->searches[i];
  sub.partitions = req->partitions;
  sub.partition_count = req->partition_count;
  sub.output_fields = NULL;
  sub.output_count = 0;
  sub.group_by_field = NULL;
  sub.offset = 0;
  sub.profile = sub.profile || req->profile;
  vs_status st = vs_search(db, collection, &sub, out);
  if (st != VS_OK) vs_fail_prefix(st, "sub-search %zu: ", i);
  return st;
}

static vs_status route_metrics(vs_db *db, const char *collection, const vs_hybrid_request *req,
                               vs_metric *metrics, bool *str_keys) {
  vs_collection *c = NULL;
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  /* an unlocked snapshot: vector fields and the key never change when a
   * field is added, and an old schema stays alive with the collection */
  const vs_schema *schema = vs_collection_schema(c);
  for (size_t i = 0; i < req->search_count && st == VS_OK; i++) {
    const char *name = req->searches[i].vector_field;
    int f = name ? vs_schema_index(schema, name) : vs_schema_first_vector(schema);
    if (f < 0 || schema->fields[f].type != VS_TYPE_FLOAT_VECTOR) {
      st = vs_fail(VS_ERR_FIELD_NOT_FOUND, "sub-search %zu: '%s' is not a vector field", i, name ? name : "");
    } else {
      metrics[i] = schema->fields[f].metric;
    }
  }
  *str_keys = vs_schema_pk(schema)->type == VS_TYPE_VARCHAR;
  vs_db_release(db, c);
  return st;
}

/* Fuses every query into `res` (offset applied). */
static vs_status fuse_all(vs_result *const *routes, const vs_metric *metrics,
                          const vs_hybrid_request *req, const rerank *r, vs_result *res) {
  size_t cap = 0;
  for (size_t i = 0; i < req->search_count; i++) cap += routes[i]->k;
  fuse_entry *e = vs_calloc(cap + 1, sizeof *e);
  if (!e) return vs_fail(VS_ERR_NOMEM, "out of memory fusing results");
  vs_status st = VS_OK;
  for (size_t q = 0; q < res->nq && st == VS_OK; q++) {
    size_t n = fuse_query(routes, metrics, req->search_count, r, q, e);
    size_t hits = 0;
    for (size_t i = req->offset; i < n && hits < req->k && st == VS_OK; i++, hits++) {
      size_t slot = q * res->k + hits;
      res->dist[slot] = (float)e[i].score;
      res->ids[slot] = e[i].id;
      if (res->str_ids) {
        res->str_ids[slot] = vs_strdup(e[i].str_id);
        if (!res->str_ids[slot]) st = vs_fail(VS_ERR_NOMEM, "out of memory");
      }
    }
    res->counts[q] = hits;
    res->row_base[q + 1] = res->row_base[q] + hits;
  }
  free(e);
  return st;
}

/* Output fields of every hit, by primary key, in hit order. */
static vs_status fetch_rows(vs_db *db, const char *collection, const vs_hybrid_request *req,
                            vs_result *res) {
  size_t total = res->row_base[res->nq];
  int64_t *ints = vs_calloc(total + 1, sizeof *ints);
  const char **strs = vs_calloc(total + 1, sizeof *strs);
  vs_status st = ints && strs ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t q = 0, n = 0; st == VS_OK && q < res->nq; q++) {
    for (size_t i = 0; i < res->counts[q]; i++, n++) {
      ints[n] = res->ids[q * res->k + i];
      if (res->str_ids) strs[n] = res->str_ids[q * res->k + i];
    }
  }
  vs_keys keys = {.count = total, .int_keys = res->str_ids ? NULL : ints,
                  .str_keys = res->str_ids ? strs : NULL};
  if (st == VS_OK) st = vs_get(db, collection, &keys, req->output_fields, req->output_count, &res->rows);
  if (st == VS_OK && vs_rows_count(res->rows) != total) {
    st = vs_fail(VS_ERR_BUSY, "rows were deleted while the hybrid search ran; retry");
  }
  free(ints);
  free(strs);
  return st;
}

static char *hybrid_profile(vs_result *const *routes, size_t count, uint64_t fuse_us, uint64_t fetch_us) {
  vs_buf b = {0};
  vs_status st = vs_buf_printf(&b, "{\"kind\":\"hybrid_search\",\"phases_us\":{\"merge\":%" PRIu64
                               ",\"fetch\":%" PRIu64 "},\"routes\":[", fuse_us, fetch_us);
  for (size_t i = 0; st == VS_OK && i < count; i++) {
    const char *p = vs_result_profile(routes[i]);
    st = vs_buf_printf(&b, "%s%s", i ? "," : "", p ? p : "null");
  }
  if (st == VS_OK) st = vs_buf_append(&b, "]}", 3);
  if (st != VS_OK) {
    vs_buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}

static vs_status hybrid_run(vs_db *db, const char *collection, const vs_hybrid_request *req,
                            vs_result **routes, vs_metric *metrics, const rerank *r, vs_result **out) {
  bool str_keys = false;
  vs_status st = route_metrics(db, collection, req, metrics, &str_keys);
  for (size_t i = 0; i < req->search_count && st == VS_OK; i++) st = run_route(db, collection, req, i, &routes[i]);
  if (st == VS_OK) st = vs_result_alloc(out, req->searches[0].nq, req->k, str_keys);
  uint64_t t0 = vs_now_us();
  if (st == VS_OK) st = fuse_all(routes, metrics, req, r, *out);
  uint64_t t1 = vs_now_us();
  if (st == VS_OK && req->output_fields && req->output_count) st = fetch_rows(db, collection, req, *out);
  if (st == VS_OK && req->profile) {
    (*out)->profile = hybrid_profile(routes, req->search_count, t1 - t0, vs_now_us() - t1);
    if (!(*out)->profile) st = vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  return st;
}

vs_status vs_hybrid_search(vs_db *db, const char *collection, const vs_hybrid_request *req,
                           vs_result **out) {
  if (!req || !out) return vs_fail(VS_ERR_INVALID, "NULL argument");
  *out = NULL;
  rerank r = {0};
  vs_status st = check_hybrid(req);
  if (st == VS_OK) st = parse_rerank(req, &r);
  if (st != VS_OK) {
    free(r.weights);
    return st;
  }
  vs_result **routes = vs_calloc(req->search_count, sizeof *routes);
  vs_metric *metrics = vs_calloc(req->search_count, sizeof *metrics);
  st = routes && metrics ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st == VS_OK) {
    st = hybrid_run(db, collection, req, routes, metrics, &r, out);
  }
  if (st != VS_OK) {
    vs_result_free(*out);
    *out = NULL;
  }
  for (size_t i = 0; routes && i < req->search_count; i++) vs_result_free(routes[i]);
  free(routes);
  free(metrics);
  free(r.weights);
  return st;
}
