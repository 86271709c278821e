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
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "expr/expr.h"
#include "simd/simd.h"

#define TILE_ROWS 256u
#define MIN_RANGE_ROWS 16384u
#define MAX_RANGE_HEAP_ENTRIES ((size_t)1 << 24)
#define MAX_RESULT_ENTRIES ((size_t)VS_MAX_SEARCH_RESULTS)

typedef struct scan_range {
  uint32_t seg;
  size_t from;
  size_t to;
  const vs_index *index;  /* whole segment searched through its index */
  bool sparse;            /* from/to index the segment plan's row list */
} scan_range;

/* The optimizer's choice for one segment (see plan_segment). */
typedef enum seg_choice {
  CHOICE_DENSE = 0,       /* scan every row, test the skip bits */
  CHOICE_SPARSE = 1,      /* compute distances for the passing rows only */
  CHOICE_INDEX = 2,       /* the ANN index with the skip bitset */
  CHOICE_NONE = 3         /* no row passes */
} seg_choice;

static const char *const choice_names[] = {"exact_scan", "exact_passing_rows", "index",
                                           "skipped_no_rows_pass"};

typedef struct seg_plan {
  vs_bitset skip;         /* filtered: rows not to return (deleted or failing) */
  bool use_skip;
  size_t passing;
  uint32_t *rows;         /* CHOICE_SPARSE: the passing rows */
  seg_choice choice;
  double index_cost;      /* the estimates behind the choice (profiles) */
  double exact_cost;
  vs_filter_info filter;  /* how the filter bitset was produced (profiles) */
} seg_plan;

typedef struct search_profile {
  uint64_t parse, plan, filter, ann, merge, fetch;
  size_t rows_scanned;
} search_profile;

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
  seg_plan *plans;        /* one per segment */
  const vs_expr *expr;    /* NULL = no filter */
  uint32_t k_final;       /* hits (or groups) returned per query */
  uint32_t offset;
  uint32_t group_size;    /* 0 = no grouping */
  int group_field;
  bool strict_groups;
  uint32_t stride;        /* result slots per query */
  search_profile prof;
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
  const seg_plan *plan = &job->plans[seg_index];
  const vs_bitset *skip = plan->use_skip ? &plan->skip : seg->deleted_count > 0 ? &seg->deleted : NULL;
  for (size_t i = 0; i < n; i++) {
    if (!vs_topk_would_accept(heap, dist[i])) continue;
    if (job->range && !vs_index_in_range(job->metric, &job->params, dist[i])) continue;
    size_t row = row0 + i;
    if (skip && vs_bitset_test(skip, row)) continue;
    vs_topk_push(heap, dist[i], (int64_t)((uint64_t)seg_index << 32 | row));
  }
}

/* Searches a whole segment through its index for queries [q0, q1). */
static void index_scan(search_job *job, const scan_range *r, size_t q0, size_t q1, vs_topk *heaps) {
  const vs_segment *seg = job->segs[r->seg];
  const seg_plan *plan = &job->plans[r->seg];
  const vs_bitset *skip = plan->use_skip ? &plan->skip : seg->deleted_count ? &seg->deleted : NULL;
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

/* Distance of query q to one row (the sparse path). */
static float distance_one(const search_job *job, size_t q, const float *row) {
  const vs_simd_kernels *k = vs_simd();
  const float *query = job->queries + q * job->dim;
  if (job->metric == VS_METRIC_L2) return k->l2sq(query, row, job->dim);
  float ip = k->ip(query, row, job->dim);
  if (job->metric == VS_METRIC_IP) return ip;
  float norm = sqrtf(k->ip(row, row, job->dim));
  return job->norms[q] > 0 && norm > 0 ? ip / (job->norms[q] * norm) : 0.0f;
}

/* Scans the passing rows list[from, to) of a segment for queries [q0, q1). */
static void sparse_scan(search_job *job, const scan_range *r, size_t q0, size_t q1,
                        vs_topk *heaps) {
  const vs_segment *seg = job->segs[r->seg];
  const uint32_t *rows = job->plans[r->seg].rows;
  const float *vectors = (const float *)seg->views[job->field].fixed;
  for (size_t i = r->from; i < r->to; i++) {
    const float *v = vectors + (size_t)rows[i] * job->dim;
    for (size_t q = q0; q < q1; q++) {
      float d = distance_one(job, q, v);
      if (!vs_topk_would_accept(&heaps[q - q0], d)) continue;
      if (job->range && !vs_index_in_range(job->metric, &job->params, d)) continue;
      vs_topk_push(&heaps[q - q0], d, (int64_t)((uint64_t)r->seg << 32 | rows[i]));
    }
  }
  atomic_fetch_add(&job->distance_computations, (uint64_t)(r->to - r->from) * (q1 - q0));
}

/* Scans rows [from, to) of one segment for queries [q0, q1). */
static void scan(search_job *job, const scan_range *r, size_t q0, size_t q1, vs_topk *heaps) {
  if (r->index) {
    index_scan(job, r, q0, q1, heaps);
    return;
  }
  if (r->sparse) {
    sparse_scan(job, r, q0, q1, heaps);
    return;
  }
  atomic_fetch_add(&job->distance_computations, (uint64_t)(r->to - r->from) * (q1 - q0));
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

/* Rows (or passing rows, for the sparse path) a segment's scan covers. */
static size_t scan_length(const search_job *job, size_t s) {
  switch (job->plans[s].choice) {
    case CHOICE_SPARSE: return job->plans[s].passing;
    case CHOICE_DENSE: return job->segs[s]->rows;
    default: return 0;
  }
}

static vs_status make_ranges(search_job *job, uint32_t threads) {
  size_t total = 0, count = 0;
  for (size_t s = 0; s < job->seg_count; s++) total += scan_length(job, s);
  size_t chunk = VS_MAX((size_t)MIN_RANGE_ROWS, total / ((size_t)threads * 4 + 1) + 1);
  for (size_t s = 0; s < job->seg_count; s++) count += (scan_length(job, s) + chunk - 1) / chunk + 1;
  job->ranges = vs_calloc(count + 1, sizeof *job->ranges);
  if (!job->ranges) return vs_fail(VS_ERR_NOMEM, "out of memory planning a search");
  for (size_t s = 0; s < job->seg_count; s++) {
    const seg_plan *plan = &job->plans[s];
    if (plan->choice == CHOICE_INDEX) {
      scan_range *r = &job->ranges[job->range_count++];
      r->seg = (uint32_t)s;
      r->to = job->segs[s]->rows;
      r->index = vs_segment_active_index(job->segs[s], job->field);
      continue;
    }
    size_t len = scan_length(job, s);
    for (size_t from = 0; from < len; from += chunk) {
      scan_range *r = &job->ranges[job->range_count++];
      r->seg = (uint32_t)s;
      r->from = from;
      r->to = VS_MIN(len, from + chunk);
      r->sparse = plan->choice == CHOICE_SPARSE;
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

/* Key of hit `ref` into slot `slot`. */
static vs_status fill_key(vs_result *res, const search_job *job, size_t slot, float dist,
                          int64_t ref) {
  const vs_segment *seg = job->segs[(uint64_t)ref >> 32];
  size_t row = (size_t)((uint64_t)ref & 0xffffffffu);
  const vs_colview *pk = &seg->views[job->c->pk_index];
  res->dist[slot] = dist;
  if (pk->type == VS_TYPE_INT64) {
    res->ids[slot] = (int64_t)vs_load_u64(pk->fixed + row * 8);
  } else {
    res->str_ids[slot] = vs_strndup(pk->bytes + pk->offsets[row], pk->offsets[row + 1] - pk->offsets[row]);
    if (!res->str_ids[slot]) return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  return VS_OK;
}

/* True when rows (a) and (b) hold the same value of the group field. */
static bool same_group(const search_job *job, int64_t a, int64_t b) {
  const vs_colview *x = &job->segs[(uint64_t)a >> 32]->views[job->group_field];
  const vs_colview *y = &job->segs[(uint64_t)b >> 32]->views[job->group_field];
  size_t ra = (size_t)((uint64_t)a & 0xffffffffu), rb = (size_t)((uint64_t)b & 0xffffffffu);
  bool na = x->valid && !x->valid[ra], nb = y->valid && !y->valid[rb];
  if (na || nb) return na && nb;
  if (vs_type_is_var(x->type)) {
    size_t la = x->offsets[ra + 1] - x->offsets[ra], lb = y->offsets[rb + 1] - y->offsets[rb];
    return la == lb && memcmp(x->bytes + x->offsets[ra], y->bytes + y->offsets[rb], la) == 0;
  }
  size_t w = vs_type_fixed_width(x->type, 0);
  return memcmp(x->fixed + ra * w, y->fixed + rb * w, w) == 0;
}

/* Hash of row `ref`'s group value (nulls hash alike). */
static uint64_t group_hash(const search_job *job, int64_t ref) {
  const vs_colview *x = &job->segs[(uint64_t)ref >> 32]->views[job->group_field];
  size_t row = (size_t)((uint64_t)ref & 0xffffffffu);
  if (x->valid && !x->valid[row]) return 0x9e3779b97f4a7c15u;
  if (vs_type_is_var(x->type)) return vs_hash64(x->bytes + x->offsets[row], x->offsets[row + 1] - x->offsets[row]);
  size_t w = vs_type_fixed_width(x->type, 0);
  return vs_hash64(x->fixed + row * w, w);
}

typedef struct group_table {
  size_t *slots;        /* open addressing: group index + 1, 0 = empty */
  size_t mask;
  size_t *leader;       /* per group: its first (best) candidate */
  size_t *last;         /* per group: its last member so far */
  size_t *members;      /* per group: member count (<= group_size) */
  size_t *next;         /* per candidate: next member of its group */
  size_t count;
} group_table;

static bool group_table_init(group_table *t, size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  t->mask = cap - 1;
  t->count = 0;
  t->slots = vs_calloc(cap, sizeof *t->slots);
  t->leader = vs_calloc(n + 1, sizeof *t->leader);
  t->last = vs_calloc(n + 1, sizeof *t->last);
  t->members = vs_calloc(n + 1, sizeof *t->members);
  t->next = vs_calloc(n + 1, sizeof *t->next);
  return t->slots && t->leader && t->last && t->members && t->next;
}

static void group_table_free(group_table *t) {
  free(t->slots);
  free(t->leader);
  free(t->last);
  free(t->members);
  free(t->next);
}

/* The group of candidate i (created if new). */
static size_t group_of(const search_job *job, group_table *t, const int64_t *id, size_t i) {
  size_t h = (size_t)group_hash(job, id[i]) & t->mask;
  while (t->slots[h] && !same_group(job, id[t->leader[t->slots[h] - 1]], id[i])) h = (h + 1) & t->mask;
  if (t->slots[h]) return t->slots[h] - 1;
  size_t g = t->count++;
  t->slots[h] = g + 1;
  t->leader[g] = i;
  return g;
}

/*
 * Grouping search: walks the candidates best first, keeping at most
 * group_size hits per distinct value of the group field (found through a
 * hash of the value).  Groups are then taken in the order of their best
 * hit -- with strict_group_size only the full ones -- skipping `offset`
 * groups and keeping k.  Hits come out group by group, as Milvus returns
 * them.  `order` receives candidate indexes; returns their count.
 */
static size_t group_hits(const search_job *job, const int64_t *id, size_t n, size_t *order) {
  group_table t;
  size_t out = 0;
  if (!group_table_init(&t, n)) goto done;
  for (size_t i = 0; i < n; i++) {
    size_t g = group_of(job, &t, id, i);
    t.next[i] = SIZE_MAX;
    if (t.members[g] == job->group_size) continue;
    if (t.members[g]++) t.next[t.last[g]] = i;
    t.last[g] = i;
  }
  size_t skipped = 0, taken = 0;
  for (size_t g = 0; g < t.count && taken < job->k_final; g++) {
    if (job->strict_groups && t.members[g] < job->group_size) continue;
    if (skipped < job->offset) {
      skipped++;
      continue;
    }
    taken++;
    for (size_t i = t.leader[g]; i != SIZE_MAX; i = t.next[i]) order[out++] = i;
  }
done:
  group_table_free(&t);
  return out;
}

/* The candidates of one query (sorted best first) -> the slots of the
 * result: offset dropped, grouping applied.  Returns the hit count. */
static size_t select_hits(const search_job *job, const int64_t *id, size_t n, size_t *order) {
  if (job->group_size) return group_hits(job, id, n, order);
  size_t out = 0;
  for (size_t i = job->offset; i < n && out < job->k_final; i++) order[out++] = i;
  return out;
}

static vs_status collect(search_job *job, vs_result *res, const vs_output_plan *plan, bool few) {
  vs_status st = VS_OK;
  vs_topk merged = {0};
  float *d = vs_calloc(job->k, sizeof *d);
  int64_t *id = vs_calloc(job->k, sizeof *id);
  size_t *order = vs_calloc(job->k + 1, sizeof *order);
  int64_t *refs = vs_calloc((size_t)job->nq * job->stride + 1, sizeof *refs);
  if (!d || !id || !order || !refs) st = vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st == VS_OK && few) st = vs_topk_init(&merged, job->k, job->larger);
  uint64_t t0 = vs_now_us();
  for (size_t q = 0; q < job->nq && st == VS_OK; q++) {
    vs_topk *h = &job->heaps[q];
    if (few) {
      vs_topk_reset(&merged);
      merge_query(job, q, &merged);
      h = &merged;
    }
    size_t n = h->size;
    vs_topk_sorted(h, d, id);
    size_t hits = select_hits(job, id, n, order);
    res->counts[q] = hits;
    res->row_base[q + 1] = res->row_base[q] + hits;
    for (size_t i = 0; i < hits && st == VS_OK; i++) {
      refs[q * job->stride + i] = id[order[i]];
      st = fill_key(res, job, q * job->stride + i, d[order[i]], id[order[i]]);
    }
  }
  uint64_t t1 = vs_now_us();
  job->prof.merge = t1 - t0;
  for (size_t q = 0; plan && q < job->nq && st == VS_OK; q++) {
    for (size_t i = 0; i < res->counts[q] && st == VS_OK; i++) {
      int64_t ref = refs[q * job->stride + i];
      st = vs_output_append(res->rows, plan, job->segs[(uint64_t)ref >> 32],
                            (size_t)((uint64_t)ref & 0xffffffffu));
    }
  }
  job->prof.fetch = vs_now_us() - t1;
  if (st == VS_OK) st = job->status;
  vs_topk_free(&merged);
  free(d);
  free(id);
  free(order);
  free(refs);
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
  if ((uint64_t)req->k + req->offset > VS_MAX_TOPK) {
    return vs_fail(VS_ERR_LIMIT, "offset + limit = %u + %u exceeds %u", req->offset, req->k,
                   VS_MAX_TOPK);
  }
  uint64_t per_query = (uint64_t)req->k * (req->group_by_field ? VS_MAX(1u, req->group_size) : 1u);
  if (req->group_by_field && req->group_size > 1024) {
    return vs_fail(VS_ERR_LIMIT, "group_size must be 1..1024, got %u", req->group_size);
  }
  if (req->nq * per_query > MAX_RESULT_ENTRIES) {
    return vs_fail(VS_ERR_LIMIT, "nq x k = %zu x %" PRIu64 " exceeds the %zu results one search may return",
                   req->nq, per_query, MAX_RESULT_ENTRIES);
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

/*
 * The optimizer, per segment.  Without a filter: the index when the segment
 * has one, else an exact scan.  With a filter, the filter is evaluated into
 * a bitset first (that is the estimate: an exact count, cheap next to any
 * vector work), then the cheaper of
 *
 *   exact over the passing rows:  cost = passing (one distance each)
 *   the index with the bitset:    cost = 40 x max(ef, k) / pass_rate
 *
 * is taken.  The second formula models a graph search that must expand
 * about max(ef, k) / pass_rate nodes to collect ef passing ones, each
 * expansion costing a few dozen distance computations (M neighbours); it
 * deliberately overestimates at low pass rates, where a graph restricted to
 * few rows also loses connectivity and recall, so small pass rates go to
 * the exact path -- which is always right.  A segment without an index is
 * scanned densely (testing the bits) unless fewer than half its rows pass.
 */
static void plan_segment(search_job *job, size_t s) {
  seg_plan *plan = &job->plans[s];
  const vs_segment *seg = job->segs[s];
  const vs_index *index = vs_segment_active_index(seg, job->field);
  size_t live = seg->rows - seg->deleted_count;
  if (!job->expr) {
    plan->passing = live;
    plan->choice = live == 0 ? CHOICE_NONE : index ? CHOICE_INDEX : CHOICE_DENSE;
    return;
  }
  plan->use_skip = true;
  double rate = live ? (double)plan->passing / (double)live : 0.0;
  double ef = VS_MAX(job->params.ef ? job->params.ef : 64u, job->k);
  plan->exact_cost = (double)plan->passing;
  plan->index_cost = rate > 0 ? 40.0 * ef / rate : INFINITY;
  if (plan->passing == 0) {
    plan->choice = CHOICE_NONE;
  } else if (index && plan->index_cost < plan->exact_cost) {
    plan->choice = CHOICE_INDEX;
  } else if (!index && rate >= 0.5) {
    plan->choice = CHOICE_DENSE;
  } else {
    plan->choice = CHOICE_SPARSE;
  }
}

/* The passing rows of a CHOICE_SPARSE segment as a list. */
static vs_status list_rows(seg_plan *plan) {
  plan->rows = vs_calloc(plan->passing + 1, sizeof *plan->rows);
  if (!plan->rows) return vs_fail(VS_ERR_NOMEM, "out of memory listing filtered rows");
  size_t n = 0, words = (plan->skip.nbits + 63) / 64;
  for (size_t w = 0; w < words; w++) {
    for (uint64_t bits = plan->skip.words[w]; bits; bits &= bits - 1) {
      plan->rows[n++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
    }
  }
  return VS_OK;
}

/* Turns a pass bitset into the skip bitset (the complement, within nbits). */
static void invert(vs_bitset *b) {
  size_t words = (b->nbits + 63) / 64;
  for (size_t w = 0; w < words; w++) b->words[w] = ~b->words[w];
  if (words && b->nbits % 64) b->words[words - 1] &= ((uint64_t)1 << (b->nbits % 64)) - 1;
}

/* Under the read lock: the segments of the chosen partitions, filtered and
 * planned. */
static vs_status pick_segments(const vs_collection *c, const vs_search_request *req,
                               search_job *job) {
  uint32_t *ids = NULL;
  vs_status st = vs_partition_ids(c, req->partitions, req->partition_count, &ids);
  if (st == VS_OK) st = vs_pick_segments(c, ids, req->partition_count, &job->segs, &job->seg_count);
  free(ids);
  if (st != VS_OK) return st;
  job->plans = vs_calloc(job->seg_count + 1, sizeof *job->plans);
  if (!job->plans) return vs_fail(VS_ERR_NOMEM, "out of memory planning a search");
  uint64_t t0 = vs_now_us();
  for (size_t s = 0; s < job->seg_count && st == VS_OK; s++) {
    job->prof.rows_scanned += job->segs[s]->rows;
    if (job->expr) {
      st = vs_filter_segment_in(job->c, job->expr, job->segs[s], &job->plans[s].skip, &job->plans[s].passing,
                                &job->plans[s].filter);
    }
  }
  job->prof.filter = vs_now_us() - t0;
  for (size_t s = 0; s < job->seg_count && st == VS_OK; s++) {
    plan_segment(job, s);
    if (job->plans[s].choice == CHOICE_SPARSE) st = list_rows(&job->plans[s]);
    if (job->expr) invert(&job->plans[s].skip);
  }
  return st;
}

static void free_plans(search_job *job) {
  for (size_t s = 0; job->plans && s < job->seg_count; s++) {
    vs_bitset_free(&job->plans[s].skip);
    free(job->plans[s].rows);
  }
  free(job->plans);
  job->plans = NULL;
}

/* --------------------------------------------------------------- search */

static vs_status run_locked(vs_db *db, vs_collection *c, const vs_search_request *req,
                            search_job *job, const vs_output_plan *plan, vs_result *res) {
  uint32_t threads = req->threads ? req->threads : vs_pool_size(db->pool);
  uint64_t t0 = vs_now_us();
  vs_status st = pick_segments(c, req, job);
  if (st == VS_OK) st = make_ranges(job, threads);
  job->prof.plan = vs_now_us() - t0 - job->prof.filter;
  if (st != VS_OK) return st;
  /* Per-range heaps cost range_count x nq x k entries: bound them. */
  bool few = job->nq < (size_t)threads * 2 &&
             job->range_count * job->nq * job->k <= MAX_RANGE_HEAP_ENTRIES;
  size_t heaps = few ? job->range_count * job->nq : job->nq;
  st = init_heaps(job, heaps);
  job->block = VS_MAX((size_t)1, VS_MIN((size_t)16, job->nq / ((size_t)threads * 2)));
  size_t tasks = few ? job->range_count : (job->nq + job->block - 1) / job->block;
  t0 = vs_now_us();
  if (st == VS_OK && tasks) vs_pool_run(db->pool, tasks, threads, few ? few_queries_task : many_queries_task, job);
  job->prof.ann = vs_now_us() - t0;
  if (st == VS_OK) st = collect(job, res, plan, few);
  free_heaps(job->heaps, heaps);
  job->heaps = NULL;
  return st;
}

static vs_status prepare_grouping(const vs_collection *c, const vs_search_request *req,
                                  search_job *job) {
  job->group_size = VS_MAX(1u, req->group_size);
  job->strict_groups = req->strict_group_size != 0;
  job->group_field = vs_schema_index(c->schema, req->group_by_field);
  if (job->group_field < 0) {
    return vs_fail(VS_ERR_FIELD_NOT_FOUND, "group_by_field '%s' is not a field of collection '%s'",
                   req->group_by_field, c->name);
  }
  vs_type t = c->schema->fields[job->group_field].type;
  if (t != VS_TYPE_BOOL && t != VS_TYPE_INT8 && t != VS_TYPE_INT16 && t != VS_TYPE_INT32 &&
      t != VS_TYPE_INT64 && t != VS_TYPE_VARCHAR) {
    return vs_fail(VS_ERR_INVALID, "cannot group by field '%s' of type %s (Bool, Int and VarChar only)",
                   req->group_by_field, vs_type_name(t));
  }
  /* Candidates: enough for every group to fill up when groups are of
   * similar size, bounded by the top-k limit. */
  uint64_t want = ((uint64_t)job->offset + job->k_final) * job->group_size * 4u;
  job->k = (uint32_t)VS_MIN((uint64_t)VS_MAX_TOPK, VS_MAX(want, (uint64_t)64));
  job->stride = job->k_final * job->group_size;
  return VS_OK;
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
  job->k_final = req->k;
  job->offset = req->offset;
  job->k = req->k + req->offset;
  job->stride = req->k;
  job->larger = f->metric != VS_METRIC_L2;
  vs_status st = VS_OK;
  if (req->group_by_field) st = prepare_grouping(c, req, job);
  if (st == VS_OK) st = vs_index_parse_search(req->params_json, &job->params);
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

/* The profile of a finished search as JSON text. */
static char *profile_text(const search_job *job) {
  vs_buf b = {0};
  const search_profile *p = &job->prof;
  vs_status st = vs_buf_printf(&b,
      "{\"kind\":\"search\",\"phases_us\":{\"parse\":%" PRIu64 ",\"plan\":%" PRIu64 ",\"filter\":%" PRIu64
      ",\"ann\":%" PRIu64 ",\"merge\":%" PRIu64 ",\"fetch\":%" PRIu64 "},\"segments_scanned\":%zu,"
      "\"rows_scanned\":%zu,\"distance_computations\":%" PRIu64 ",\"filtered\":%s,\"segments\":[",
      p->parse, p->plan, p->filter, p->ann, p->merge, p->fetch, job->seg_count, p->rows_scanned,
      (uint64_t)atomic_load(&job->distance_computations), job->expr ? "true" : "false");
  for (size_t s = 0; st == VS_OK && s < job->seg_count; s++) {
    const seg_plan *plan = &job->plans[s];
    const vs_index *ix = vs_segment_active_index(job->segs[s], job->field);
    st = vs_buf_printf(&b, "%s{\"segment\":%" PRIu64 ",\"sealed\":%s,\"rows\":%zu,\"passing\":%zu,"
                       "\"choice\":\"%s\",\"index\":\"%s\"",
                       s ? "," : "", job->segs[s]->id, job->segs[s]->sealed ? "true" : "false",
                       job->segs[s]->rows, plan->passing, choice_names[plan->choice],
                       ix ? vs_index_type_name(vs_index_get_type(ix)) : "none");
    if (st == VS_OK && job->expr) {
      st = vs_buf_printf(&b, ",\"exact_cost\":%.0f,\"index_cost\":%.0f,\"filter\":\"%s\",\"filter_estimate\":%zu",
                         plan->exact_cost, isfinite(plan->index_cost) ? plan->index_cost : -1.0,
                         plan->filter.method ? plan->filter.method : "scan", plan->filter.estimate);
    }
    if (st == VS_OK) st = vs_buf_append_u8(&b, '}');
  }
  if (st == VS_OK) st = vs_buf_append(&b, "]}", 3);
  if (st != VS_OK) {
    vs_buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}

static vs_status search_locked(vs_db *db, vs_collection *c, const vs_search_request *request,
                               search_job *job, const vs_output_plan *plan, vs_result *res) {
  vs_status st = run_locked(db, c, request, job, plan, res);
  if (st == VS_OK && request->profile) {
    res->profile = profile_text(job);
    if (!res->profile) st = vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  free_plans(job);
  return st;
}

vs_status vs_search(vs_db *db, const char *collection, const vs_search_request *request,
                    vs_result **out) {
  vs_collection *c = NULL;
  vs_output_plan plan = {0};
  search_job job = {0};
  vs_result *res = NULL;
  vs_expr *expr = NULL;
  int field = -1;
  if (!request || !out) return vs_fail(VS_ERR_INVALID, "NULL argument");
  *out = NULL;
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  /* Everything made from the schema (filter, output plan) is made under
   * the read lock that the search runs under: the schema may gain a
   * field (vs_add_field) between two unlocked steps. */
  pthread_rwlock_rdlock(&c->lock);
  st = check_request(c, request, &field);
  uint64_t t0 = vs_now_us();
  if (st == VS_OK) st = vs_filter_compile(c, request->filter, request->filter_params_json, &expr);
  job.prof.parse = vs_now_us() - t0;
  job.expr = expr;
  bool want_rows = request->output_fields && request->output_count;
  if (st == VS_OK && want_rows) {
    st = vs_output_plan_make(c->schema, request->output_fields, request->output_count, &plan);
  }
  if (st == VS_OK) st = prepare(c, request, field, &job);
  if (st == VS_OK) st = vs_result_alloc(&res, request->nq, job.stride, vs_schema_pk(c->schema)->type == VS_TYPE_VARCHAR);
  if (st == VS_OK && want_rows) st = vs_output_rows_new(c->schema, &plan, &res->rows);
  if (st == VS_OK) st = search_locked(db, c, request, &job, want_rows ? &plan : NULL, res);
  pthread_rwlock_unlock(&c->lock);
  if (st == VS_OK) {
    *out = res;
    res = NULL;
  }
  vs_result_free(res);
  vs_output_plan_free(&plan);
  vs_expr_free(expr);
  free(job.segs);
  free(job.ranges);
  free(job.norms);
  vs_db_release(db, c);
  return st;
}
