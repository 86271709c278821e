/*
 * search.c -- exact (FLAT) top-k search over every segment of a collection.
 *
 * A search holds the collection's read lock throughout, so it sees a fixed
 * set of segments and every write acknowledged before it began.  The work
 * is cut two ways, whichever gives the pool's threads enough independent
 * pieces:
 *
 *   few queries (nq < 2 x threads): the rows are cut into ranges and each
 *     task scans one range for every query, keeping its own top-k per query;
 *     the per-range lists are merged at the end.  A single query thus uses
 *     every core, which is what an interactive search needs.
 *   many queries: the queries are cut into blocks and each task scans all
 *     rows for its block.  Rows are visited in tiles of TILE_ROWS so that a
 *     tile, once in cache, serves every query of the block: this moves the
 *     bound from memory bandwidth towards arithmetic.
 *
 * Distances come from the SIMD batch kernels (src/simd/), a tile at a time,
 * then pass a cheap "would it enter the heap" test before the tombstone
 * check and the push.  Heap ids are (segment index << 32 | row), so equal
 * distances are ordered by storage position: deterministic for a given
 * data directory.
 *
 * Rejected: a global heap under a lock (contention on every push); sorting
 * all distances (O(n log n) and n floats of memory per query).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "simd/simd.h"

#define TILE_ROWS 256u
#define MIN_RANGE_ROWS 16384u
#define MAX_RANGE_HEAP_ENTRIES ((size_t)1 << 24)
#define MAX_RESULT_ENTRIES ((size_t)VS_MAX_SEARCH_RESULTS)

struct vs_result {
  size_t nq;
  uint32_t k;
  size_t *counts;
  size_t *row_base;
  float *dist;
  int64_t *ids;
  char **str_ids;
  vs_rows *rows;
};

typedef struct scan_range {
  uint32_t seg;
  size_t from;
  size_t to;
  const vs_index *index;  /* whole segment searched through its index */
} scan_range;

typedef struct search_job {
  const vs_collection *c;
  vs_segment **segs;
  size_t seg_count;
  scan_range *ranges;
  size_t range_count;
  int field;
  vs_metric metric;
  uint32_t dim;
  const float *queries;
  float *norms;           /* |q| for COSINE */
  size_t nq;
  uint32_t k;
  int larger;
  size_t block;           /* queries per task in the many-queries mode */
  vs_topk *heaps;         /* few: range_count x nq; many: nq */
  vs_index_search_params params;
  bool range;             /* radius given: range search */
  _Atomic uint64_t distance_computations;
  vs_status status;
} search_job;

/* Distances of one query to `n` contiguous rows. */
static void distances(const search_job *job, size_t q, const float *base, size_t n,
                      float *out) {
  const vs_simd_kernels *k = vs_simd();
  const float *query = job->queries + q * job->dim;
  switch (job->metric) {
    case VS_METRIC_L2:
      k->l2sq_batch(query, base, n, job->dim, out);
      break;
    case VS_METRIC_IP:
      k->ip_batch(query, base, n, job->dim, out);
      break;
    default:
      if (job->norms[q] > 0) {
        k->cosine_batch(query, job->norms[q], base, n, job->dim, out);
      } else {
        memset(out, 0, n * sizeof *out);
      }
      break;
  }
}

static void push_tile(const search_job *job, vs_topk *heap, const vs_segment *seg, uint32_t seg_index,
                      size_t row0, size_t n, const float *dist) {
  bool any_deleted = seg->deleted_count > 0;
  for (size_t i = 0; i < n; i++) {
    if (!vs_topk_would_accept(heap, dist[i])) continue;
    if (job->range && !vs_index_in_range(job->metric, &job->params, dist[i])) continue;
    size_t row = row0 + i;
    if (any_deleted && vs_bitset_test(&seg->deleted, row)) continue;
    vs_topk_push(heap, dist[i], (int64_t)((uint64_t)seg_index << 32 | row));
  }
}

/* Searches a whole segment through its index for queries [q0, q1). */
static void index_scan(search_job *job, const scan_range *r, size_t q0, size_t q1, vs_topk *heaps) {
  const vs_segment *seg = job->segs[r->seg];
  const vs_bitset *skip = seg->deleted_count ? &seg->deleted : NULL;
  vs_index_stats stats = {0};
  vs_topk local;
  if (vs_topk_init(&local, job->k, job->larger) != VS_OK) {
    job->status = VS_ERR_NOMEM;
    return;
  }
  float *d = vs_calloc(job->k, sizeof *d);
  int64_t *id = vs_calloc(job->k, sizeof *id);
  for (size_t q = q0; d && id && q < q1; q++) {
    const float *query = job->queries + q * job->dim;
    vs_topk_reset(&local);
    vs_status st = job->range ? vs_index_range_search(r->index, query, job->k, &job->params, skip, &local, &stats)
                              : vs_index_search(r->index, query, job->k, &job->params, skip, &local, &stats);
    if (st != VS_OK) job->status = st;
    size_t n = local.size;
    vs_topk_sorted(&local, d, id);
    for (size_t i = 0; i < n; i++) {
      vs_topk_push(&heaps[q - q0], d[i], (int64_t)((uint64_t)r->seg << 32 | (uint64_t)id[i]));
    }
  }
  if (!d || !id) job->status = VS_ERR_NOMEM;
  atomic_fetch_add(&job->distance_computations, stats.distance_computations);
  free(d);
  free(id);
  vs_topk_free(&local);
}

/* Scans rows [from, to) of one segment for queries [q0, q1). */
static void scan(search_job *job, const scan_range *r, size_t q0, size_t q1, vs_topk *heaps) {
  if (r->index) {
    index_scan(job, r, q0, q1, heaps);
    return;
  }
  const vs_segment *seg = job->segs[r->seg];
  const float *vectors = (const float *)seg->views[job->field].fixed;
  float dist[TILE_ROWS];
  for (size_t row = r->from; row < r->to; row += TILE_ROWS) {
    size_t n = VS_MIN((size_t)TILE_ROWS, r->to - row);
    const float *base = vectors + row * job->dim;
    for (size_t q = q0; q < q1; q++) {
      distances(job, q, base, n, dist);
      push_tile(job, &heaps[q - q0], seg, r->seg, row, n, dist);
    }
  }
}

static void few_queries_task(void *arg, size_t index) {
  search_job *job = arg;
  scan(job, &job->ranges[index], 0, job->nq, &job->heaps[index * job->nq]);
}

static void many_queries_task(void *arg, size_t index) {
  search_job *job = arg;
  size_t q0 = index * job->block;
  size_t q1 = VS_MIN(job->nq, q0 + job->block);
  for (size_t r = 0; r < job->range_count; r++) {
    scan(job, &job->ranges[r], q0, q1, &job->heaps[q0]);
  }
}

/* ----------------------------------------------------------- planning */

static vs_status make_ranges(search_job *job, uint32_t threads) {
  size_t total = 0, count = 0;
  for (size_t s = 0; s < job->seg_count; s++) total += job->segs[s]->rows;
  size_t chunk = VS_MAX((size_t)MIN_RANGE_ROWS, total / ((size_t)threads * 4 + 1) + 1);
  for (size_t s = 0; s < job->seg_count; s++) count += (job->segs[s]->rows + chunk - 1) / chunk;
  job->ranges = vs_calloc(count + 1, sizeof *job->ranges);
  if (!job->ranges) return vs_fail(VS_ERR_NOMEM, "out of memory planning a search");
  for (size_t s = 0; s < job->seg_count; s++) {
    const vs_index *index = vs_segment_active_index(job->segs[s], job->field);
    if (index && job->segs[s]->rows > 0) {
      scan_range *r = &job->ranges[job->range_count++];
      r->seg = (uint32_t)s;
      r->to = job->segs[s]->rows;
      r->index = index;
      continue;
    }
    for (size_t from = 0; from < job->segs[s]->rows; from += chunk) {
      scan_range *r = &job->ranges[job->range_count++];
      r->seg = (uint32_t)s;
      r->from = from;
      r->to = VS_MIN(job->segs[s]->rows, from + chunk);
    }
  }
  return VS_OK;
}

static vs_status init_heaps(search_job *job, size_t count) {
  job->heaps = vs_calloc(count + 1, sizeof *job->heaps);
  if (!job->heaps) return vs_fail(VS_ERR_NOMEM, "out of memory for search heaps");
  for (size_t i = 0; i < count; i++) {
    vs_status st = vs_topk_init(&job->heaps[i], job->k, job->larger);
    if (st != VS_OK) return st;
  }
  return VS_OK;
}

static void free_heaps(vs_topk *heaps, size_t count) {
  for (size_t i = 0; heaps && i < count; i++) vs_topk_free(&heaps[i]);
  free(heaps);
}

/* Merges per-range heaps of query q into `into`. */
static void merge_query(search_job *job, size_t q, vs_topk *into) {
  float *d = vs_calloc(job->k, sizeof *d);
  int64_t *id = vs_calloc(job->k, sizeof *id);
  if (!d || !id) {
    job->status = vs_fail(VS_ERR_NOMEM, "out of memory merging results");
    goto done;
  }
  for (size_t r = 0; r < job->range_count; r++) {
    vs_topk *h = &job->heaps[r * job->nq + q];
    size_t n = h->size;
    vs_topk_sorted(h, d, id);
    for (size_t i = 0; i < n && vs_topk_would_accept(into, d[i]); i++) vs_topk_push(into, d[i], id[i]);
  }
done:
  free(d);
  free(id);
}

/* ------------------------------------------------------------- results */

static vs_status result_alloc(vs_result **out, size_t nq, uint32_t k, bool str_keys) {
  vs_result *r = vs_calloc(1, sizeof *r);
  size_t slots;
  if (!r || !vs_mul_ok(nq, k, &slots)) goto nomem;
  r->nq = nq;
  r->k = k;
  r->counts = vs_calloc(nq, sizeof *r->counts);
  r->row_base = vs_calloc(nq + 1, sizeof *r->row_base);
  r->dist = vs_calloc(slots, sizeof *r->dist);
  r->ids = vs_calloc(slots, sizeof *r->ids);
  if (str_keys) r->str_ids = vs_calloc(slots, sizeof *r->str_ids);
  if (!r->counts || !r->row_base || !r->dist || !r->ids || (str_keys && !r->str_ids)) goto nomem;
  *out = r;
  return VS_OK;
nomem:
  vs_result_free(r);
  return vs_fail(VS_ERR_NOMEM, "out of memory for %zu x %u results", nq, k);
}

static vs_status fill_hit(vs_result *res, const search_job *job, const vs_output_plan *plan,
                          size_t q, size_t i, float dist, int64_t ref) {
  const vs_segment *seg = job->segs[(uint64_t)ref >> 32];
  size_t row = (size_t)((uint64_t)ref & 0xffffffffu);
  const vs_colview *pk = &seg->views[job->c->pk_index];
  size_t slot = q * job->k + i;
  res->dist[slot] = dist;
  if (pk->type == VS_TYPE_INT64) {
    res->ids[slot] = (int64_t)vs_load_u64(pk->fixed + row * 8);
  } else {
    res->str_ids[slot] = vs_strndup(pk->bytes + pk->offsets[row], pk->offsets[row + 1] - pk->offsets[row]);
    if (!res->str_ids[slot]) return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  return plan ? vs_output_append(res->rows, plan, seg, row) : VS_OK;
}

static vs_status collect(search_job *job, vs_result *res, const vs_output_plan *plan, bool few) {
  vs_status st = VS_OK;
  vs_topk merged = {0};
  float *d = vs_calloc(job->k, sizeof *d);
  int64_t *id = vs_calloc(job->k, sizeof *id);
  if (!d || !id) st = vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st == VS_OK && few) st = vs_topk_init(&merged, job->k, job->larger);
  for (size_t q = 0; q < job->nq && st == VS_OK; q++) {
    vs_topk *h = &job->heaps[q];
    if (few) {
      vs_topk_reset(&merged);
      merge_query(job, q, &merged);
      h = &merged;
    }
    size_t n = h->size;
    vs_topk_sorted(h, d, id);
    res->counts[q] = n;
    res->row_base[q + 1] = res->row_base[q] + n;
    for (size_t i = 0; i < n && st == VS_OK; i++) st = fill_hit(res, job, plan, q, i, d[i], id[i]);
  }
  if (st == VS_OK) st = job->status;
  vs_topk_free(&merged);
  free(d);
  free(id);
  return st;
}

/* ------------------------------------------------------------ validation */

static vs_status check_request(const vs_collection *c, const vs_search_request *req, int *field) {
  if (req->nq == 0 || req->nq > VS_MAX_NQ) {
    return vs_fail(VS_ERR_LIMIT, "nq must be 1..%u, got %zu", VS_MAX_NQ, req->nq);
  }
  if (req->k == 0 || req->k > VS_MAX_TOPK) {
    return vs_fail(VS_ERR_LIMIT, "k (limit) must be 1..%u, got %u", VS_MAX_TOPK, req->k);
  }
  if (req->nq * req->k > MAX_RESULT_ENTRIES) {
    return vs_fail(VS_ERR_LIMIT, "nq x k = %zu x %u exceeds the %zu results one search may return",
                   req->nq, req->k, MAX_RESULT_ENTRIES);
  }
  if (!req->vectors) return vs_fail(VS_ERR_INVALID, "no query vectors");
  if (req->vector_field) {
    *field = vs_schema_index(c->schema, req->vector_field);
    if (*field < 0 || c->schema->fields[*field].type != VS_TYPE_FLOAT_VECTOR) {
      return vs_fail(VS_ERR_FIELD_NOT_FOUND, "'%s' is not a vector field of collection '%s'",
                     req->vector_field, c->name);
    }
  } else if (vs_schema_vector_count(c->schema) != 1) {
    return vs_fail(VS_ERR_INVALID, "collection '%s' has several vector fields; name one", c->name);
  } else {
    *field = vs_schema_first_vector(c->schema);
  }
  uint32_t dim = c->schema->fields[*field].dim;
  if (req->dim != dim) {
    return vs_fail(VS_ERR_INVALID, "field '%s' expects %u floats per query vector, got %u",
                   c->schema->fields[*field].name, dim, req->dim);
  }
  for (size_t i = 0; i < req->nq * dim; i++) {
    if (!isfinite(req->vectors[i])) {
      return vs_fail(VS_ERR_INVALID, "query vector %zu has a NaN or Inf at position %zu", i / dim, i % dim);
    }
  }
  return VS_OK;
}

static bool partition_selected(const vs_collection *c, const vs_segment *seg,
                               const uint32_t *ids, size_t n) {
  if (!ids) return true;
  for (size_t i = 0; i < n; i++) {
    if (ids[i] == seg->partition) return true;
  }
  VS_UNUSED(c);
  return false;
}

/* Under the read lock: the segments of the chosen partitions. */
static vs_status pick_segments(const vs_collection *c, const vs_search_request *req,
                               search_job *job) {
  uint32_t *ids = NULL;
  if (req->partitions && req->partition_count) {
    ids = vs_calloc(req->partition_count, sizeof *ids);
    if (!ids) return vs_fail(VS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < req->partition_count; i++) {
      int p = req->partitions[i] ? vs_collection_partition_index(c, req->partitions[i]) : -1;
      if (p < 0) {
        free(ids);
        return vs_fail(VS_ERR_PARTITION_NOT_FOUND, "partition '%s' not found",
                       req->partitions[i] ? req->partitions[i] : "(null)");
      }
      ids[i] = c->partitions[p].id;
    }
  }
  job->segs = vs_calloc(c->sealed_count + c->growing_count + 1, sizeof *job->segs);
  if (!job->segs) {
    free(ids);
    return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < c->sealed_count; i++) {
    if (partition_selected(c, c->sealed[i], ids, req->partition_count)) job->segs[job->seg_count++] = c->sealed[i];
  }
  for (size_t i = 0; i < c->growing_count; i++) {
    if (partition_selected(c, c->growing[i], ids, req->partition_count)) job->segs[job->seg_count++] = c->growing[i];
  }
  free(ids);
  return VS_OK;
}

/* --------------------------------------------------------------- search */

static vs_status run_locked(vs_db *db, vs_collection *c, const vs_search_request *req,
                            search_job *job, const vs_output_plan *plan, vs_result *res) {
  uint32_t threads = req->threads ? req->threads : vs_pool_size(db->pool);
  vs_status st = pick_segments(c, req, job);
  if (st == VS_OK) st = make_ranges(job, threads);
  if (st != VS_OK) return st;
  /* Per-range heaps cost range_count x nq x k entries: bound them. */
  bool few = job->nq < (size_t)threads * 2 &&
             job->range_count * job->nq * job->k <= MAX_RANGE_HEAP_ENTRIES;
  size_t heaps = few ? job->range_count * job->nq : job->nq;
  st = init_heaps(job, heaps);
  job->block = VS_MAX((size_t)1, VS_MIN((size_t)16, job->nq / ((size_t)threads * 2)));
  size_t tasks = few ? job->range_count : (job->nq + job->block - 1) / job->block;
  if (st == VS_OK && tasks) vs_pool_run(db->pool, tasks, threads, few ? few_queries_task : many_queries_task, job);
  if (st == VS_OK) st = collect(job, res, plan, few);
  free_heaps(job->heaps, heaps);
  job->heaps = NULL;
  return st;
}

static vs_status prepare(const vs_collection *c, const vs_search_request *req, int field,
                         search_job *job) {
  const vs_field *f = &c->schema->fields[field];
  job->c = c;
  job->field = field;
  job->metric = f->metric;
  job->dim = f->dim;
  job->queries = req->vectors;
  job->nq = req->nq;
  job->k = req->k;
  job->larger = f->metric != VS_METRIC_L2;
  vs_status st = vs_index_parse_search(req->params_json, &job->params);
  if (st == VS_OK) st = vs_index_check_range(f->metric, &job->params);
  if (st != VS_OK) return st;
  job->range = job->params.has_radius;
  if (f->metric != VS_METRIC_COSINE) return VS_OK;
  job->norms = vs_calloc(req->nq, sizeof *job->norms);
  if (!job->norms) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t q = 0; q < req->nq; q++) {
    const float *v = req->vectors + q * f->dim;
    job->norms[q] = sqrtf(vs_simd()->ip(v, v, f->dim));
  }
  return VS_OK;
}

vs_status vs_search(vs_db *db, const char *collection, const vs_search_request *request,
                    vs_result **out) {
  vs_collection *c = NULL;
  vs_output_plan plan = {0};
  search_job job = {0};
  vs_result *res = NULL;
  int field = -1;
  if (!request || !out) return vs_fail(VS_ERR_INVALID, "NULL argument");
  *out = NULL;
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  st = check_request(c, request, &field);
  bool want_rows = request->output_fields && request->output_count;
  if (st == VS_OK && want_rows) {
    st = vs_output_plan_make(c->schema, request->output_fields, request->output_count, &plan);
  }
  if (st == VS_OK) st = prepare(c, request, field, &job);
  if (st == VS_OK) st = result_alloc(&res, request->nq, request->k, vs_schema_pk(c->schema)->type == VS_TYPE_VARCHAR);
  if (st == VS_OK && want_rows) st = vs_output_rows_new(c->schema, &plan, &res->rows);
  if (st == VS_OK) {
    pthread_rwlock_rdlock(&c->lock);
    st = run_locked(db, c, request, &job, want_rows ? &plan : NULL, res);
    pthread_rwlock_unlock(&c->lock);
  }
  if (st == VS_OK) {
    *out = res;
    res = NULL;
  }
  vs_result_free(res);
  vs_output_plan_free(&plan);
  free(job.segs);
  free(job.ranges);
  free(job.norms);
  vs_db_release(db, c);
  return st;
}

/* ------------------------------------------------------------ accessors */

void vs_result_free(vs_result *r) {
  if (!r) return;
  if (r->str_ids) {
    for (size_t i = 0; i < r->nq * r->k; i++) free(r->str_ids[i]);
  }
  free(r->str_ids);
  free(r->counts);
  free(r->row_base);
  free(r->dist);
  free(r->ids);
  vs_rows_free(r->rows);
  free(r);
}

size_t vs_result_nq(const vs_result *r) { return r ? r->nq : 0; }

size_t vs_result_hits(const vs_result *r, size_t q) {
  return r && q < r->nq ? r->counts[q] : 0;
}

static bool hit_ok(const vs_result *r, size_t q, size_t i) {
  return r && q < r->nq && i < r->counts[q];
}

float vs_result_distance(const vs_result *r, size_t q, size_t i) {
  return hit_ok(r, q, i) ? r->dist[q * r->k + i] : NAN;
}

int64_t vs_result_id(const vs_result *r, size_t q, size_t i) {
  return hit_ok(r, q, i) ? r->ids[q * r->k + i] : 0;
}

const char *vs_result_id_str(const vs_result *r, size_t q, size_t i) {
  return hit_ok(r, q, i) && r->str_ids ? r->str_ids[q * r->k + i] : NULL;
}

const vs_rows *vs_result_rows(const vs_result *r) { return r ? r->rows : NULL; }

size_t vs_result_row_index(const vs_result *r, size_t q, size_t i) {
  return hit_ok(r, q, i) ? r->row_base[q] + i : SIZE_MAX;
}
