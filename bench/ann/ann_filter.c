/*
 * ann_filter.c -- filtered search in the ANN benchmark (`make bench-ann`,
 * or only this part with ANN_FILTER_ONLY=1): vectorstore's engine filter
 * against post-filtering with hnswlib and faiss, on Fashion-MNIST with
 * two scalar fields.
 *
 * The data: the 60,000 Fashion-MNIST train images (ann_main.c loads
 * them) get an Int64 field `label`, their class from Debian's
 * train-labels-idx1-ubyte.gz (10 classes of 6,000 rows: 10% each), and
 * an Int64 field `r`, uniform in [0, 1000) from a fixed-seed splitmix64.
 * The filters pass 0.1% (r < 1), 1% (r < 10), 10% (label == 3 and
 * r < 100), 50% (r < 500), 90% (r < 900) and 100% of the rows (none).
 *
 * Ground truth: for every filter, the passing rows are copied into one
 * dense array and the exact top-10 of every query over it is computed
 * here by brute force (the tiled scan of ann_main.c, with the library's
 * exact kernel); the 10th distance is recomputed in double.  recall@10
 * counts a returned row when it passes the filter, is not a duplicate,
 * and lies at most at that distance (ann-benchmarks' tie rule), divided
 * by min(10, passing rows).  A query "falls short" when it gets fewer
 * than min(10, passing) hits that pass the filter.
 *
 * The contenders:
 *   - ours, HNSW_SQ8 and HNSW, through the PUBLIC API only: a database in
 *     the scratch directory, one collection per index type (1 shard, so
 *     one sealed segment of 60,000 rows and one graph, like the peers),
 *     inserted in batches, flushed, indexed with M=16, efConstruction=200,
 *     then vs_search(nq = 1, k = 10, threads = 1, filter, {"ef":E}).  The
 *     filter is compiled and evaluated by the engine on every call, which
 *     is part of what is timed; one extra search per point with
 *     .profile = 1 records the optimizer's choice (not timed).
 *   - hnswlib and faiss HNSWFlat (the builds of ann_hnswlib.cpp and
 *     ann_faiss.cpp), post-filtering: ask for k' = min(1024, ceil(k /
 *     nominal pass rate)) hits with ef = max(E, k'), keep the first 10
 *     that pass.  This is the naive way to filter with a library that
 *     cannot; 1024 is the most ann_faiss.cpp returns in one call.  The
 *     Debian hnswlib is 0.6.2, older than its filter functor (0.7), so
 *     the functor is not shown.
 *
 * Every point runs the first `nq` queries (default 1,000) one at a time on
 * this thread after 20 untimed warm-up queries, but stops once it has run
 * at least 100 queries and POINT_BUDGET_S seconds (the CSV says how many
 * ran), so that the slowest post-filter points cannot eat the time budget.
 * The sweep interleaves contenders inside each (ef, filter) pair, like
 * ann_main.c, so that load changes hit all alike.  Post-filter points
 * whose max(ef, k') equals that of a smaller ef are the same search and
 * are not run again.
 *
 * Alternatives rejected: the ground truth from vs_search without an index
 * (it would check the engine against itself); the filter evaluated by the
 * benchmark and passed as a bitset (not what the public API offers; the
 * per-call filter cost is real); a sweep of k' for the post-filter
 * baselines (k / rate is the textbook choice and the cap shows where it
 * breaks).
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ann_filter.h"
#include "index/index.h"
#include "vectorstore.h"

#define WARMUP 20u
#define MIN_QUERIES 100u
#define POINT_BUDGET_S 3.0
#define K_PRIME_CAP 1024u
#define GT_TILE 32u
#define GT_BLOCK 1024u
#define INSERT_BATCH 5000u
#define R_SEED 0x5eed0f11u

static const filter_def filters[] = {
    {"r < 1", "r < 1", 0.001, 0, 1},         {"r < 10", "r < 10", 0.01, 0, 10},
    {"label == 3", "label == 3", 0.10, 1, 3}, {"r < 100", "r < 100", 0.10, 0, 100},
    {"r < 500", "r < 500", 0.50, 0, 500},     {"r < 900", "r < 900", 0.90, 0, 900},
    {"none", NULL, 1.0, -1, 0},
};
#define FILTER_COUNT (sizeof filters / sizeof *filters)

static const uint32_t efs[] = {16, 32, 64, 128, 256};
#define EF_COUNT (sizeof efs / sizeof *efs)

enum { C_OURS_SQ8, C_OURS_HNSW, C_HNSWLIB, C_FAISS, C_COUNT };

typedef struct bench_data {
  const ann_filter_input *in;
  int64_t *label, *r;
  double *gt_kth;           /* FILTER_COUNT x nq */
} bench_data;

typedef struct contender {
  filter_contender_result *res;
  vs_db *db;                /* ours */
  const char *collection;
  const ann_contender *peer; /* post-filter */
  void *handle;
} contender;

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "ann_bench (filtered): %s: %s\n", what, detail);
  return 1;
}

static bool passes(const filter_def *f, const bench_data *d, size_t row) {
  if (f->field < 0) return true;
  return f->field == 1 ? d->label[row] == f->below : d->r[row] < f->below;
}

/* ------------------------------------------------------------ data */

/* Reads the IDX1 uint8 label file into n int64 labels. */
static int load_labels(const char *path, size_t n, int64_t *out) {
  unsigned char header[8];
  unsigned char *raw = malloc(n);
  gzFile f = gzopen(path, "rb");
  int rc = 1;
  if (!raw || !f) goto done;
  if (gzread(f, header, sizeof header) != (int)sizeof header) goto done;
  uint32_t magic = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 | header[3];
  uint32_t count = (uint32_t)header[4] << 24 | (uint32_t)header[5] << 16 | (uint32_t)header[6] << 8 | header[7];
  if (magic != 0x00000801u || count != n) goto done;
  if (gzread(f, raw, (unsigned)n) != (int)n) goto done;
  for (size_t i = 0; i < n; i++) out[i] = raw[i];
  rc = 0;
done:
  if (f) gzclose(f);
  free(raw);
  return rc;
}

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double exact_l2(const float *a, const float *b, uint32_t dim) {
  double sum = 0;
  for (uint32_t j = 0; j < dim; j++) {
    double diff = (double)a[j] - (double)b[j];
    sum += diff * diff;
  }
  return sum;
}

/* ---------------------------------------------------- ground truth */

typedef struct gt_job {
  const bench_data *d;
  const float *dense;       /* the passing rows, packed */
  const size_t *rows;       /* dense row -> base row */
  size_t count;
  double *kth;              /* nq */
  vs_status status;
} gt_job;

static vs_status gt_block(const gt_job *job, const float *query, size_t first, vs_topk *scratch, vs_topk *best) {
  uint32_t dim = job->d->in->dim;
  size_t rows = VS_MIN((size_t)GT_BLOCK, job->count - first);
  float dist[FILTER_K];
  int64_t ids[FILTER_K];
  vs_topk_reset(scratch);
  vs_status st = vs_index_exact_search(job->dense + first * dim, rows, dim, VS_METRIC_L2, query, FILTER_K, NULL,
                                       scratch);
  if (st != VS_OK) return st;
  size_t found = scratch->size;
  vs_topk_sorted(scratch, dist, ids);
  for (size_t i = 0; i < found && vs_topk_would_accept(best, dist[i]); i++) {
    vs_topk_push(best, dist[i], ids[i] + (int64_t)first);
  }
  return VS_OK;
}

/* The 10th passing neighbour's exact distance of one tile of queries. */
static void gt_tile(void *arg, size_t tile) {
  gt_job *job = arg;
  const ann_filter_input *in = job->d->in;
  vs_topk scratch, best[GT_TILE];
  float dist[FILTER_K];
  int64_t ids[FILTER_K];
  size_t q0 = tile * GT_TILE, count = VS_MIN((size_t)GT_TILE, in->nq - q0), ready = 0;
  vs_status st = vs_topk_init(&scratch, FILTER_K, 0);
  if (st != VS_OK) goto done;
  for (; ready < count && st == VS_OK; ready++) st = vs_topk_init(&best[ready], FILTER_K, 0);
  for (size_t b = 0; st == VS_OK && b < job->count; b += GT_BLOCK) {
    for (size_t i = 0; st == VS_OK && i < count; i++) {
      st = gt_block(job, in->queries + (q0 + i) * in->dim, b, &scratch, &best[i]);
    }
  }
  for (size_t i = 0; st == VS_OK && i < count; i++) {
    size_t found = best[i].size;
    vs_topk_sorted(&best[i], dist, ids);
    size_t row = job->rows[ids[found - 1]];
    job->kth[q0 + i] = exact_l2(in->queries + (q0 + i) * in->dim, in->base + row * in->dim, in->dim);
  }
  vs_topk_free(&scratch);
done:
  for (size_t i = 0; i < ready; i++) vs_topk_free(&best[i]);
  if (st != VS_OK) job->status = st;
}

/* Ground truth of filter f into d->gt_kth[f * nq ...]; returns passing. */
static size_t ground_truth(bench_data *d, size_t f, vs_pool *pool) {
  const ann_filter_input *in = d->in;
  size_t *rows = malloc(in->n * sizeof *rows), count = 0;
  if (!rows) return 0;
  for (size_t i = 0; i < in->n; i++) {
    if (passes(&filters[f], d, i)) rows[count++] = i;
  }
  float *dense = count ? malloc(count * in->dim * sizeof *dense) : NULL;
  for (size_t i = 0; dense && i < count; i++) {
    memcpy(dense + i * in->dim, in->base + rows[i] * in->dim, in->dim * sizeof *dense);
  }
  gt_job job = {.d = d, .dense = dense, .rows = rows, .count = count, .kth = d->gt_kth + f * in->nq};
  if (dense) vs_pool_run(pool, (in->nq + GT_TILE - 1) / GT_TILE, 0, gt_tile, &job);
  if (!dense || job.status != VS_OK) count = 0;
  free(dense);
  free(rows);
  return count;
}

/* ------------------------------------------------------ contenders */

static vs_status add_fields(vs_schema *schema, uint32_t dim) {
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  vs_field_def label = {.name = "label", .type = VS_TYPE_INT64};
  vs_field_def r = {.name = "r", .type = VS_TYPE_INT64};
  vs_field_def vec = {.name = "vector", .type = VS_TYPE_FLOAT_VECTOR, .dim = dim, .metric = VS_METRIC_L2};
  vs_status st = vs_schema_add_field(schema, &id);
  if (st == VS_OK) st = vs_schema_add_field(schema, &label);
  if (st == VS_OK) st = vs_schema_add_field(schema, &r);
  if (st == VS_OK) st = vs_schema_add_field(schema, &vec);
  return st;
}

static vs_status insert_batch(vs_db *db, const char *name, const bench_data *d, size_t first, size_t count) {
  const ann_filter_input *in = d->in;
  int64_t ids[INSERT_BATCH];
  vs_rows *rows = NULL;
  for (size_t i = 0; i < count; i++) ids[i] = (int64_t)(first + i);
  vs_status st = vs_rows_new(count, &rows);
  if (st == VS_OK) st = vs_rows_set_int64(rows, "id", ids, NULL);
  if (st == VS_OK) st = vs_rows_set_int64(rows, "label", d->label + first, NULL);
  if (st == VS_OK) st = vs_rows_set_int64(rows, "r", d->r + first, NULL);
  if (st == VS_OK) st = vs_rows_set_float_vectors(rows, "vector", in->base + first * in->dim, in->dim);
  if (st == VS_OK) st = vs_insert(db, name, NULL, rows, NULL);
  vs_rows_free(rows);
  return st;
}

/* Creates (or recreates) collection `name` with all rows, sealed. */
static vs_status load_collection(vs_db *db, const char *name, const bench_data *d) {
  vs_schema *schema = NULL;
  vs_collection_options copt = {.shards = 1};
  int exists = 0;
  vs_status st = vs_has_collection(db, name, &exists);
  if (st == VS_OK && exists) st = vs_drop_collection(db, name);
  if (st == VS_OK) st = vs_schema_new(&schema);
  if (st == VS_OK) st = add_fields(schema, d->in->dim);
  if (st == VS_OK) st = vs_create_collection(db, name, schema, &copt);
  vs_schema_free(schema);
  for (size_t first = 0; st == VS_OK && first < d->in->n; first += INSERT_BATCH) {
    st = insert_batch(db, name, d, first, VS_MIN((size_t)INSERT_BATCH, d->in->n - first));
  }
  if (st == VS_OK) st = vs_flush(db, name);
  return st;
}

static int build_ours(contender *c, const bench_data *d, const char *type, filter_run *run) {
  char params[96];
  double t0 = ann_now_s();
  vs_status st = load_collection(c->db, c->collection, d);
  double t1 = ann_now_s();
  snprintf(params, sizeof params, "{\"M\":%u,\"efConstruction\":%u}", d->in->cfg->M, d->in->cfg->ef_construction);
  if (st == VS_OK) st = vs_create_index(c->db, c->collection, "vector", type, params);
  if (st == VS_OK) st = vs_wait_for_index(c->db, c->collection, "vector", 1800000u);
  vs_collection_stats stats = {0};
  if (st == VS_OK) st = vs_collection_stats_get(c->db, c->collection, &stats);
  if (st != VS_OK) {
    snprintf(c->res->error, sizeof c->res->error, "%s: %s", vs_status_name(st), vs_errmsg(c->db));
    return 1;
  }
  run->insert_s = t1 - t0;
  run->segments = stats.sealed_segments + stats.growing_segments;
  c->res->build_s = ann_now_s() - t1;
  c->res->ok = 1;
  return 0;
}

static int build_peer(contender *c, const bench_data *d) {
  ann_built built;
  memset(&built, 0, sizeof built);
  double t0 = ann_now_s();
  if (c->peer->build(c->peer, d->in->base, d->in->n, d->in->dim, d->in->cfg, &built, c->res->error,
                     sizeof c->res->error) != 0) {
    return 1;
  }
  c->handle = built.handle;
  c->res->build_s = ann_now_s() - t0;
  c->res->ok = 1;
  return 0;
}

/* Finds a contender of a glue file by name. */
static const ann_contender *peer_named(const ann_contender *(*list)(size_t *), const char *name) {
  size_t count = 0;
  const ann_contender *all = list(&count);
  for (size_t i = 0; i < count; i++) {
    if (strcmp(all[i].name, name) == 0) return &all[i];
  }
  return NULL;
}

/* ---------------------------------------------------------- search */

typedef struct search_ctx {
  const filter_def *f;
  const bench_data *d;
  uint32_t ef, k_prime;
  int64_t *scratch;         /* k_prime ids (post-filter) */
  int profile;
  char *choice;             /* profile: the optimizer's choices */
  size_t choice_len;
  double filter_us;         /* profile: time evaluating the filter */
} search_ctx;

/* Copies the "choice" values of a profile ("index", "sparse", ...). */
static void profile_choices(const char *profile, char *out, size_t len) {
  const char *p = profile;
  size_t used = 0;
  out[0] = '\0';
  while ((p = strstr(p, "\"choice\":\"")) != NULL) {
    p += 10;
    size_t n = strcspn(p, "\"");
    int wrote = snprintf(out + used, len - used, "%s%.*s", used ? "+" : "", (int)n, p);
    if (wrote < 0 || (size_t)wrote >= len - used) break;
    used += (size_t)wrote;
  }
}

/* Ours: one vs_search; writes up to FILTER_K row ids; returns hits or -1. */
static int search_ours(const contender *c, search_ctx *s, const float *query, int64_t *ids) {
  char params[48];
  vs_result *res = NULL;
  snprintf(params, sizeof params, "{\"ef\":%u}", s->ef);
  vs_search_request req = {.vectors = query, .nq = 1, .dim = s->d->in->dim, .k = FILTER_K, .threads = 1,
                           .params_json = params, .filter = s->f->expr, .profile = s->profile};
  if (vs_search(c->db, c->collection, &req, &res) != VS_OK) {
    snprintf(c->res->error, sizeof c->res->error, "vs_search: %s", vs_errmsg(c->db));
    return -1;
  }
  size_t hits = vs_result_hits(res, 0);
  for (size_t i = 0; i < hits && i < FILTER_K; i++) ids[i] = vs_result_id(res, 0, i);
  if (s->profile && vs_result_profile(res)) {
    const char *text = vs_result_profile(res);
    const char *filter_us = strstr(text, "\"filter\":");
    profile_choices(text, s->choice, s->choice_len);
    if (filter_us) s->filter_us = strtod(filter_us + 9, NULL);
  }
  vs_result_free(res);
  return (int)VS_MIN(hits, (size_t)FILTER_K);
}

/* Post-filter: k' candidates from the library, the first 10 that pass. */
static int search_post(const contender *c, search_ctx *s, const float *query, int64_t *ids) {
  if (c->peer->search(c->handle, query, s->k_prime, s->scratch) != 0) return -1;
  int hits = 0;
  for (uint32_t i = 0; i < s->k_prime && hits < (int)FILTER_K; i++) {
    int64_t id = s->scratch[i];
    if (id >= 0 && (size_t)id < s->d->in->n && passes(s->f, s->d, (size_t)id)) ids[hits++] = id;
  }
  return hits;
}

static int search_one(const contender *c, search_ctx *s, const float *query, int64_t *ids) {
  return c->peer ? search_post(c, s, query, ids) : search_ours(c, s, query, ids);
}

/* Recall of one answer (see the essay) and whether it fell short. */
static double answer_recall(const search_ctx *s, size_t fi, size_t q, const int64_t *ids, int hits,
                            size_t passing, unsigned *good) {
  const ann_filter_input *in = s->d->in;
  const float *query = in->queries + q * in->dim;
  double kth = s->d->gt_kth[fi * in->nq + q];
  unsigned correct = 0, valid = 0;
  for (int i = 0; i < hits; i++) {
    int duplicate = 0;
    if (ids[i] < 0 || (size_t)ids[i] >= in->n || !passes(s->f, s->d, (size_t)ids[i])) continue;
    for (int j = 0; j < i; j++) duplicate |= ids[j] == ids[i];
    if (duplicate) continue;
    valid++;
    if (exact_l2(query, in->base + (size_t)ids[i] * in->dim, in->dim) <= kth) correct++;
  }
  *good = valid;
  return (double)correct / (double)VS_MIN((size_t)FILTER_K, passing);
}

/* Runs one point: warm-up, then queries until nq or the time budget. */
static int run_point(const contender *c, search_ctx *s, size_t fi, size_t passing, filter_point *p) {
  const ann_filter_input *in = s->d->in;
  size_t expect = VS_MIN((size_t)FILTER_K, passing), q = 0;
  int64_t *ids = malloc(in->nq * FILTER_K * sizeof *ids);
  int *hits = malloc(in->nq * sizeof *hits);
  if (!ids || !hits) return -1;
  for (size_t w = 0; w < WARMUP && w < in->nq; w++) {
    if (search_one(c, s, in->queries + w * in->dim, ids) < 0) goto fail;
  }
  double c0 = ann_process_cpu_s(), t0 = ann_now_s(), elapsed = 0;
  for (; q < in->nq && (q < MIN_QUERIES || elapsed < POINT_BUDGET_S); q++) {
    hits[q] = search_one(c, s, in->queries + q * in->dim, ids + q * FILTER_K);
    if (hits[q] < 0) goto fail;
    if ((q & 15) == 15) elapsed = ann_now_s() - t0;
  }
  elapsed = ann_now_s() - t0;
  p->busy = (ann_process_cpu_s() - c0) / elapsed;
  p->qps = (double)q / elapsed;
  p->queries = q;
  p->min_hits = FILTER_K;
  double recall = 0;
  for (size_t i = 0; i < q; i++) {
    unsigned good = 0;
    recall += answer_recall(s, fi, i, ids + i * FILTER_K, hits[i], passing, &good);
    if (good < p->min_hits) p->min_hits = good;
    if (good < expect) p->short_queries++;
  }
  p->recall = recall / (double)q;
  free(ids);
  free(hits);
  return 0;
fail:
  free(ids);
  free(hits);
  return -1;
}

static uint32_t k_prime_of(const filter_def *f) {
  double want = ceil((double)FILTER_K / f->nominal_rate);
  return want > K_PRIME_CAP ? K_PRIME_CAP : (uint32_t)want;
}

/* One (contender, filter, ef) point, unless it repeats an earlier one. */
static void measure(contender *c, const bench_data *d, size_t fi, size_t ei, const filter_run *run,
                    int64_t *scratch) {
  filter_contender_result *r = c->res;
  filter_point *p = &r->points[fi][ei];
  search_ctx s = {.f = &filters[fi], .d = d, .ef = efs[ei], .k_prime = FILTER_K, .scratch = scratch,
                  .choice = p->choice, .choice_len = sizeof p->choice};
  if (c->peer) {
    s.k_prime = k_prime_of(s.f);
    s.ef = VS_MAX(efs[ei], s.k_prime);
    if (ei > 0 && s.ef == VS_MAX(efs[ei - 1], s.k_prime)) return;
    c->peer->set_param(c->handle, s.ef);
  }
  memset(p, 0, sizeof *p);
  p->ef = efs[ei];
  p->ef_used = s.ef;
  p->k_prime = s.k_prime;
  if (run_point(c, &s, fi, run->passing[fi], p) != 0) {
    r->ok = 0;
    fprintf(stderr, "== %s: search failed: %s\n", r->name, r->error);
    return;
  }
  if (!c->peer) {
    int64_t ids[FILTER_K];
    s.profile = 1;
    if (search_ours(c, &s, d->in->queries, ids) < 0) p->choice[0] = '\0';
    p->filter_us = s.filter_us;
  }
  r->measured[fi][ei] = 1;
  fprintf(stderr, "   %-22s %-10s ef %-4u (used %-4u k' %-4u) recall@10 %.4f %8.0f q/s min hits %u short %zu %s %.0f\n",
          r->name, s.f->name, p->ef, p->ef_used, p->k_prime, p->recall, p->qps, p->min_hits, p->short_queries,
          p->choice, p->filter_us);
}

/* ----------------------------------------------------------- driver */

static void read_load(char *out, size_t len) {
  double a = 0, b = 0, c = 0;
  FILE *f = fopen("/proc/loadavg", "r");
  snprintf(out, len, "unknown");
  if (!f) return;
  if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) snprintf(out, len, "%.2f %.2f %.2f", a, b, c);
  fclose(f);
}

static void read_cpu(char *out, size_t len) {
  char line[512];
  FILE *f = fopen("/proc/cpuinfo", "r");
  snprintf(out, len, "unknown");
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) != 0 || !colon) continue;
    colon[strcspn(colon, "\n")] = '\0';
    snprintf(out, len, "%s", colon + 2);
    break;
  }
  if (f) fclose(f);
}

static int prepare_data(bench_data *d, filter_run *run) {
  const ann_filter_input *in = d->in;
  char path[4096];
  uint64_t state = R_SEED;
  vs_pool *pool = NULL;
  d->label = malloc(in->n * sizeof *d->label);
  d->r = malloc(in->n * sizeof *d->r);
  d->gt_kth = malloc(FILTER_COUNT * in->nq * sizeof *d->gt_kth);
  if (!d->label || !d->r || !d->gt_kth) return fail("data", "out of memory");
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", in->data_dir);
  if (load_labels(path, in->n, d->label) != 0) return fail(path, "cannot read the IDX1 labels");
  for (size_t i = 0; i < in->n; i++) d->r[i] = (int64_t)(splitmix64(&state) % 1000u);
  if (vs_pool_new(in->threads, &pool) != VS_OK) return fail("vs_pool_new", vs_errmsg(NULL));
  double t0 = ann_now_s();
  for (size_t f = 0; f < FILTER_COUNT; f++) {
    run->passing[f] = ground_truth(d, f, pool);
    if (run->passing[f] == 0) {
      vs_pool_free(pool);
      return fail(filters[f].name, "no passing rows or the exact search failed");
    }
    fprintf(stderr, "ann_bench (filtered): %-10s passes %zu rows (%.2f%%)\n", filters[f].name, run->passing[f],
            100.0 * (double)run->passing[f] / (double)in->n);
  }
  run->ground_truth_s = ann_now_s() - t0;
  vs_pool_free(pool);
  return 0;
}

static int open_db(const ann_filter_input *in, vs_db **db) {
  char dir[4096];
  vs_options opt;
  vs_options_init(&opt);
  opt.fsync = VS_FSYNC_NONE;
  opt.threads = in->threads;
  opt.default_shards = 1;
  snprintf(dir, sizeof dir, "%s/filter-db", in->work_dir);
  mkdir(in->work_dir, 0755);
  if (vs_open(dir, &opt, db) != VS_OK) return fail(dir, vs_errmsg(NULL));
  return 0;
}

static void init_contenders(filter_run *run, contender *cs, vs_db *db) {
  static const char *names[C_COUNT] = {"vectorstore HNSW_SQ8", "vectorstore HNSW", "hnswlib HNSW", "faiss HNSWFlat"};
  memset(cs, 0, C_COUNT * sizeof *cs);
  for (size_t i = 0; i < C_COUNT; i++) {
    cs[i].res = &run->contenders[i];
    cs[i].res->name = names[i];
    cs[i].res->method = i < C_HNSWLIB ? "engine filter, public API" : "post-filter";
  }
  cs[C_OURS_SQ8].db = cs[C_OURS_HNSW].db = db;
  cs[C_OURS_SQ8].collection = "bench_filter_hnsw_sq8";
  cs[C_OURS_HNSW].collection = "bench_filter_hnsw";
  cs[C_HNSWLIB].peer = peer_named(ann_hnswlib_contenders, "hnswlib HNSW");
  cs[C_FAISS].peer = peer_named(ann_faiss_contenders, "faiss HNSWFlat");
  run->contender_count = C_COUNT;
}

static void build_all(filter_run *run, contender *cs, const bench_data *d) {
  static const char *types[2] = {"HNSW_SQ8", "HNSW"};
  for (size_t i = 0; i < C_COUNT; i++) {
    fprintf(stderr, "== %s (filtered): building\n", cs[i].res->name);
    malloc_trim(0);
    int rc = cs[i].peer ? build_peer(&cs[i], d) : cs[i].collection ? build_ours(&cs[i], d, types[i], run) : 1;
    if (rc != 0) fprintf(stderr, "== %s: build failed: %s\n", cs[i].res->name, cs[i].res->error);
    else fprintf(stderr, "== %s (filtered): built in %.1f s\n", cs[i].res->name, cs[i].res->build_s);
  }
}

static void sweep_all(filter_run *run, contender *cs, const bench_data *d) {
  int64_t *scratch = malloc(K_PRIME_CAP * sizeof *scratch);
  if (!scratch) return;
  for (size_t e = 0; e < EF_COUNT; e++) {
    for (size_t f = 0; f < FILTER_COUNT; f++) {
      for (size_t i = 0; i < C_COUNT; i++) {
        if (cs[i].res->ok) measure(&cs[i], d, f, e, run, scratch);
      }
    }
  }
  free(scratch);
}

static void fill_run(filter_run *run, const ann_filter_input *in) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(run->date, sizeof run->date, "%Y-%m-%d", &tm);
  run->filters = filters;
  run->filter_count = FILTER_COUNT;
  run->efs = efs;
  run->ef_count = EF_COUNT;
  run->n = in->n;
  run->nq = in->nq;
  run->dim = in->dim;
  run->k_prime_cap = K_PRIME_CAP;
  run->command = in->command;
  run->cores = sysconf(_SC_NPROCESSORS_ONLN);
  read_cpu(run->cpu, sizeof run->cpu);
  snprintf(run->load_before, sizeof run->load_before, "%s", in->load_before ? in->load_before : "unknown");
}

int ann_filter_run(const ann_filter_input *in) {
  bench_data d = {.in = in};
  contender cs[C_COUNT];
  vs_db *db = NULL;
  double start = ann_now_s();
  filter_run *run = calloc(1, sizeof *run);
  int rc = run ? 0 : fail("run", "out of memory");
  if (rc == 0) fill_run(run, in);
  if (rc == 0) rc = prepare_data(&d, run);
  if (rc == 0) rc = open_db(in, &db);
  if (rc == 0) {
    init_contenders(run, cs, db);
    build_all(run, cs, &d);
    sweep_all(run, cs, &d);
    for (size_t i = 0; i < C_COUNT; i++) {
      if (cs[i].peer && cs[i].handle) cs[i].peer->release(cs[i].handle);
    }
    read_load(run->load_after, sizeof run->load_after);
    run->total_s = ann_now_s() - start;
    if (ann_filter_write_csv(in->csv, run) != 0 || ann_filter_write_markdown(in->md, run) != 0) {
      rc = fail("cannot write the results", strerror(errno));
    }
  }
  if (db && vs_close(db) != VS_OK) fprintf(stderr, "ann_bench (filtered): vs_close: %s\n", vs_errmsg(NULL));
  free(d.label);
  free(d.r);
  free(d.gt_kth);
  free(run);
  return rc;
}
