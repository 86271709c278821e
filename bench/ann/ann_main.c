/*
 * ann_main.c -- the ANN benchmark driver (`make bench-ann`): vectorstore's
 * indexes side by side with hnswlib, faiss and usearch on Fashion-MNIST.
 *
 * What it does, in one run:
 *   1. loads Fashion-MNIST from Debian's dataset-fashion-mnist (60,000
 *      train images as the base, the 10,000 test images as queries; 784
 *      uint8 pixels each, used as floats 0..255; metric L2);
 *   2. computes the exact top-100 of every measured query with our exact
 *      oracle, vs_index_exact_search (src/index/index.h), on a vs_pool of
 *      `threads` threads;
 *   3. builds every contender's index with `threads` threads (M=16,
 *      efConstruction=200 or the equivalent; IVF nlist, PQ m/nbits in
 *      main), timing the build and measuring its memory, in an order that
 *      puts each of ours next to its peer (ann.h build_rank), and keeps
 *      them all (about 1.6 GB);
 *   4. sweeps the search knob (ef for graphs, nprobe for IVF) of all of
 *      them interleaved -- point i of every contender before point i+1 of
 *      any -- so that a change of machine load during the run hits all
 *      alike; at every point each query runs once, one at a time on this
 *      thread, k = 10, giving recall@10 and queries/s.  A point that
 *      follows one below SLOW_QPS runs only the first SLOW_QUERIES queries
 *      (it would otherwise take over 10 s; the CSV says how many ran);
 *   5. frees them and writes the CSV, the gnuplot data and the markdown
 *      summary (ann_report.c).  bench/ann/run turns them into the plot and
 *      the section of docs/benchmarks.md;
 *   6. runs the filtered-search part (ann_filter.c, its own essay) on the
 *      same data unless --no-filter; --filter-only skips steps 2 to 5.
 *
 * Recall@10 is ann-benchmarks' definition: a returned row counts when its
 * exact distance is at most the 10th exact neighbour's distance, so ties
 * at the boundary are not punished; distances for this check are computed
 * here in double precision (exact for integer pixels) and duplicate rows
 * count once.
 *
 * Timing: CLOCK_MONOTONIC around the whole query loop of a sweep point,
 * after an untimed warm-up of the first 200 queries; queries/s = queries /
 * seconds.  Nothing else runs in the process during a sweep.  Memory:
 * each contender's own accounting (ann.h explains what each counts) and,
 * as a cross-check, the growth of the resident set over the build (after
 * malloc_trim, so memory freed by the previous build's scratch does not
 * hide it).
 *
 * Alternatives rejected: ground truth from a cached file (the issue wants
 * it from our FLAT search in the same run); batch queries (the issue
 * measures one query at a time, as a database serves them); one process
 * per contender (simpler memory numbers, but the data and the ground truth
 * would be loaded or computed again for each); one contender after the
 * other (what the first version did: on a shared machine the load changed
 * between contenders by 2x and so did the comparison).
 *
 * Usage: ann_bench [--data DIR] [--queries N] [--only a,b] [--threads T]
 *                  [--csv F] [--plot F] [--md F] [--command TEXT]
 *                  [--filter-only | --no-filter] [--filter-queries N]
 *                  [--filter-csv F] [--filter-md F] [--work DIR]
 */
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ann.h"
#include "ann_filter.h"
#include "ann_report.h"
#include "index/index.h"

#define GT_K 100u
#define SEARCH_K 10u
#define WARMUP_QUERIES 200u
#define MAX_CONTENDERS 32
#define SLOW_QPS 1000.0
#define SLOW_QUERIES 2000u

static const uint32_t graph_sweep[] = {10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512};
static const uint32_t ivf_sweep[] = {1, 2, 4, 8, 16, 32, 64, 128};

typedef struct options {
  const char *data_dir;
  size_t queries;
  const char *only;
  uint32_t threads;
  const char *csv, *plot, *md, *command;
  int filter_mode;          /* 0 both parts, 1 filtered only, -1 no filtered */
  size_t filter_queries;
  const char *filter_csv, *filter_md, *work_dir;
} options;

typedef struct dataset {
  float *base, *queries;
  size_t n, nq;
  uint32_t dim;
  int64_t *gt_ids;   /* nq x GT_K */
  double *gt_kth;    /* nq: exact distance of the SEARCH_K-th neighbour */
} dataset;

double ann_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double ann_process_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "ann_bench: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(1);
}

/* ------------------------------------------------------------ data */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads an IDX3 uint8 image file (gzip) into floats: *rows x *dim. */
static float *load_idx_images(const char *path, size_t *rows, uint32_t *dim) {
  unsigned char header[16];
  float *out = NULL;
  unsigned char *raw = NULL;
  gzFile f = gzopen(path, "rb");
  if (!f) die("cannot open %s (install dataset-fashion-mnist)", path);
  if (gzread(f, header, sizeof header) != (int)sizeof header || be32(header) != 0x00000803u) {
    die("%s: not an IDX3 uint8 image file", path);
  }
  uint32_t count = be32(header + 4), h = be32(header + 8), w = be32(header + 12);
  if (count == 0 || count > 10000000u || h == 0 || w == 0 || (uint64_t)h * w > 32768u) {
    die("%s: implausible image count or size in the header", path);
  }
  size_t cells = (size_t)count * h * w;
  raw = malloc(cells);
  out = malloc(cells * sizeof *out);
  if (!raw || !out) die("out of memory loading %s", path);
  for (size_t done = 0; done < cells;) {
    size_t chunk = cells - done > (1u << 30) ? (1u << 30) : cells - done;
    int got = gzread(f, raw + done, (unsigned)chunk);
    if (got <= 0) die("%s: truncated", path);
    done += (size_t)got;
  }
  gzclose(f);
  for (size_t i = 0; i < cells; i++) out[i] = (float)raw[i];
  free(raw);
  *rows = count;
  *dim = h * w;
  return out;
}

static double exact_l2(const float *a, const float *b, uint32_t dim) {
  double sum = 0;
  for (uint32_t j = 0; j < dim; j++) {
    double d = (double)a[j] - (double)b[j];
    sum += d * d;
  }
  return sum;
}

/* ---------------------------------------------------- ground truth */

/* Query tiles x base blocks keep a block of base rows in cache while a
 * tile of queries scans it (one pass over the base per query streams
 * 188 MB from memory and is ~10x slower).  Each block's exact top-100
 * (block-relative rows) is merged into the query's running top-100. */
#define GT_TILE 32u
#define GT_BLOCK 1024u

typedef struct gt_job {
  dataset *data;
  vs_status status;
} gt_job;

static vs_status gt_block(const dataset *d, const float *query, size_t first, size_t rows, vs_topk *scratch,
                          vs_topk *best) {
  float dist[GT_K];
  int64_t ids[GT_K];
  vs_topk_reset(scratch);
  vs_status st = vs_index_exact_search(d->base + first * d->dim, rows, d->dim, VS_METRIC_L2, query, GT_K, NULL,
                                       scratch);
  if (st != VS_OK) return st;
  size_t found = scratch->size;
  vs_topk_sorted(scratch, dist, ids);
  for (size_t i = 0; i < found && vs_topk_would_accept(best, dist[i]); i++) {
    vs_topk_push(best, dist[i], ids[i] + (int64_t)first);
  }
  return VS_OK;
}

static void ground_truth_tile(void *arg, size_t tile) {
  gt_job *job = arg;
  dataset *d = job->data;
  vs_topk scratch, best[GT_TILE];
  float dist[GT_K];
  size_t q0 = tile * GT_TILE, count = VS_MIN((size_t)GT_TILE, d->nq - q0), ready = 0;
  vs_status st = vs_topk_init(&scratch, GT_K, 0);
  if (st != VS_OK) goto done;
  for (; ready < count; ready++) {
    st = vs_topk_init(&best[ready], GT_K, 0);
    if (st != VS_OK) break;
  }
  for (size_t b = 0; st == VS_OK && b < d->n; b += GT_BLOCK) {
    for (size_t i = 0; st == VS_OK && i < count; i++) {
      st = gt_block(d, d->queries + (q0 + i) * d->dim, b, VS_MIN((size_t)GT_BLOCK, d->n - b), &scratch, &best[i]);
    }
  }
  for (size_t i = 0; st == VS_OK && i < count; i++) {
    size_t q = q0 + i;
    vs_topk_sorted(&best[i], dist, d->gt_ids + q * GT_K);
    int64_t kth = d->gt_ids[q * GT_K + SEARCH_K - 1];
    d->gt_kth[q] = exact_l2(d->queries + q * d->dim, d->base + (size_t)kth * d->dim, d->dim);
  }
  vs_topk_free(&scratch);
done:
  for (size_t i = 0; i < ready; i++) vs_topk_free(&best[i]);
  if (st != VS_OK) job->status = st;
}

static double compute_ground_truth(dataset *d, uint32_t threads) {
  vs_pool *pool = NULL;
  gt_job job = {.data = d, .status = VS_OK};
  double t0 = ann_now_s();
  d->gt_ids = malloc(d->nq * GT_K * sizeof *d->gt_ids);
  d->gt_kth = malloc(d->nq * sizeof *d->gt_kth);
  if (!d->gt_ids || !d->gt_kth) die("%s", "out of memory for the ground truth");
  if (vs_pool_new(threads, &pool) != VS_OK) die("vs_pool_new: %s", vs_errmsg(NULL));
  vs_pool_run(pool, (d->nq + GT_TILE - 1) / GT_TILE, 0, ground_truth_tile, &job);
  vs_pool_free(pool);
  if (job.status != VS_OK) die("exact search failed: %s", vs_strerror(job.status));
  return ann_now_s() - t0;
}

/* ---------------------------------------------------------- measure */

static double recall_at_k(const dataset *d, size_t q, const int64_t *ids) {
  const float *query = d->queries + q * d->dim;
  unsigned hits = 0;
  for (uint32_t i = 0; i < SEARCH_K; i++) {
    int64_t id = ids[i];
    int duplicate = 0;
    if (id < 0 || (size_t)id >= d->n) continue;
    for (uint32_t j = 0; j < i; j++) duplicate |= ids[j] == id;
    if (duplicate) continue;
    if (exact_l2(query, d->base + (size_t)id * d->dim, d->dim) <= d->gt_kth[q]) hits++;
  }
  return (double)hits / SEARCH_K;
}

/* Runs the first `nq` queries at one setting of the knob. */
static int sweep_point(const ann_contender *c, void *handle, const dataset *d, uint32_t param, size_t nq,
                       int64_t *ids, ann_point *out) {
  c->set_param(handle, param);
  size_t warm = nq < WARMUP_QUERIES ? nq : WARMUP_QUERIES;
  for (size_t q = 0; q < warm; q++) {
    if (c->search(handle, d->queries + q * d->dim, SEARCH_K, ids + q * SEARCH_K) != 0) return -1;
  }
  double cpu0 = thread_cpu_s();
  double t0 = ann_now_s();
  for (size_t q = 0; q < nq; q++) {
    if (c->search(handle, d->queries + q * d->dim, SEARCH_K, ids + q * SEARCH_K) != 0) return -1;
  }
  double elapsed = ann_now_s() - t0;
  out->busy = (thread_cpu_s() - cpu0) / elapsed;
  double recall = 0;
  for (size_t q = 0; q < nq; q++) recall += recall_at_k(d, q, ids + q * SEARCH_K);
  out->param = param;
  out->queries = nq;
  out->recall = recall / (double)nq;
  out->qps = (double)nq / elapsed;
  return 0;
}

static long long rss_bytes(void) {
  long long pages_total = 0, pages_resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%lld %lld", &pages_total, &pages_resident) != 2) pages_resident = 0;
  fclose(f);
  return pages_resident * (long long)sysconf(_SC_PAGESIZE);
}

/* Builds c's index into r (r->ok, timings, memory); returns its handle or
 * NULL when the build failed. */
static void *build_contender(const ann_contender *c, const dataset *d, const ann_build_config *cfg,
                             ann_result *r) {
  ann_built built;
  memset(&built, 0, sizeof built);
  fprintf(stderr, "== %s: building\n", c->name);
  malloc_trim(0);
  long long rss0 = rss_bytes();
  double cpu0 = ann_process_cpu_s();
  double t0 = ann_now_s();
  if (c->build(c, d->base, d->n, d->dim, cfg, &built, r->error, sizeof r->error) != 0) {
    fprintf(stderr, "== %s: build failed: %s\n", c->name, r->error);
    return NULL;
  }
  r->build_s = ann_now_s() - t0;
  r->build_cpu_s = ann_process_cpu_s() - cpu0;
  r->rss_delta = rss_bytes() - rss0;
  r->ok = 1;
  r->index_bytes = built.index_bytes;
  r->vector_bytes = built.vector_bytes;
  r->accounting = built.accounting;
  memcpy(r->detail, built.detail, sizeof r->detail);
  fprintf(stderr, "== %s: built in %.1f s (%.1f CPU s), %zu + %zu bytes (%s)\n", c->name, r->build_s,
          r->build_cpu_s, r->index_bytes, r->vector_bytes, r->detail);
  return built.handle;
}

static size_t sweep_length(const ann_contender *c) {
  return c->kind == ANN_GRAPH ? sizeof graph_sweep / sizeof *graph_sweep : sizeof ivf_sweep / sizeof *ivf_sweep;
}

/* Point i of r's sweep.  A point after one that ran below SLOW_QPS uses
 * the first SLOW_QUERIES queries only (it would take over 10 s). */
static void run_point(ann_result *r, void *handle, const dataset *d, size_t i, int64_t *ids) {
  const ann_contender *c = r->contender;
  uint32_t param = (c->kind == ANN_GRAPH ? graph_sweep : ivf_sweep)[i];
  size_t nq = d->nq;
  if (r->npoints > 0 && r->points[r->npoints - 1].qps < SLOW_QPS && nq > SLOW_QUERIES) nq = SLOW_QUERIES;
  ann_point *p = &r->points[r->npoints];
  if (sweep_point(c, handle, d, param, nq, ids, p) != 0) {
    snprintf(r->error, sizeof r->error, "search failed at %s=%u", c->kind == ANN_GRAPH ? "ef" : "nprobe", param);
    fprintf(stderr, "== %s: %s\n", c->name, r->error);
    r->failed_search = 1;
    return;
  }
  r->npoints++;
  fprintf(stderr, "   %-22s %s=%-4u recall@10 %.4f  %9.0f q/s  (%zu queries, cpu/wall %.2f)\n", c->name,
          c->kind == ANN_GRAPH ? "ef" : "nprobe", p->param, p->recall, p->qps, p->queries, p->busy);
}

/* Build order: by build_rank (ann.h), stable within a rank. */
static void build_order(const ann_contender **list, size_t count, size_t *order) {
  size_t filled = 0;
  for (int rank = 0; rank <= ANN_MAX_RANK; rank++) {
    for (size_t i = 0; i < count; i++) {
      if (list[i]->build_rank == rank) order[filled++] = i;
    }
  }
}

/* Builds every index, in `order` (so that each of ours is built next to
 * its nearest peer, under the same machine load), keeps them all, then
 * sweeps them interleaved: point i of every contender before point i+1 of
 * any, so that a change of load over the run hits all of them alike. */
static void run_all(const ann_contender **list, size_t count, const dataset *d, const ann_build_config *cfg,
                    ann_result *results) {
  void *handles[MAX_CONTENDERS] = {0};
  size_t order[MAX_CONTENDERS], longest = 0;
  int64_t *ids = malloc(d->nq * SEARCH_K * sizeof *ids);
  if (!ids) die("%s", "out of memory");
  build_order(list, count, order);
  for (size_t i = 0; i < count; i++) {
    ann_result *r = &results[order[i]];
    r->contender = list[order[i]];
    handles[order[i]] = build_contender(r->contender, d, cfg, r);
  }
  for (size_t i = 0; i < count; i++) longest = VS_MAX(longest, sweep_length(list[i]));
  for (size_t point = 0; point < longest; point++) {
    for (size_t i = 0; i < count; i++) {
      ann_result *r = &results[order[i]];
      if (handles[order[i]] && !r->failed_search && point < sweep_length(r->contender)) {
        run_point(r, handles[order[i]], d, point, ids);
      }
    }
  }
  for (size_t i = 0; i < count; i++) {
    if (handles[i]) list[i]->release(handles[i]);
  }
  free(ids);
}

/* ----------------------------------------------------------- driver */

static int selected(const char *only, const char *name) {
  if (!only || !*only) return 1;
  const char *p = only;
  while (*p) {
    size_t len = strcspn(p, ",");
    char want[128];
    if (len > 0 && len < sizeof want) {
      memcpy(want, p, len);
      want[len] = '\0';
      if (strcasestr(name, want)) return 1;
    }
    p += len;
    if (*p == ',') p++;
  }
  return 0;
}

static size_t gather(const options *opt, const ann_contender **out) {
  const ann_contender *(*lists[])(size_t *) = {ann_ours_contenders, ann_hnswlib_contenders,
                                                ann_faiss_contenders, ann_usearch_contenders};
  size_t count = 0;
  for (size_t l = 0; l < sizeof lists / sizeof *lists; l++) {
    size_t n = 0;
    const ann_contender *list = lists[l](&n);
    for (size_t i = 0; i < n && count < MAX_CONTENDERS; i++) {
      if (selected(opt->only, list[i].name)) out[count++] = &list[i];
    }
  }
  return count;
}

static void parse_args(int argc, char **argv, options *opt) {
  *opt = (options){.data_dir = "/usr/share/datasets/fashion-mnist", .queries = 10000, .threads = 2,
                   .csv = "ann.csv", .plot = "ann.dat", .md = "ann.md", .command = "make bench-ann",
                   .filter_queries = 1000, .filter_csv = "ann_filtered.csv", .filter_md = "ann_filtered.md",
                   .work_dir = "."};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--filter-only") == 0 || strcmp(a, "--no-filter") == 0) {
      opt->filter_mode = a[2] == 'f' ? 1 : -1;
      continue;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) die("option %s needs a value", a);
    if (strcmp(a, "--data") == 0) opt->data_dir = v;
    else if (strcmp(a, "--queries") == 0) opt->queries = strtoul(v, NULL, 10);
    else if (strcmp(a, "--only") == 0) opt->only = v;
    else if (strcmp(a, "--threads") == 0) opt->threads = (uint32_t)strtoul(v, NULL, 10);
    else if (strcmp(a, "--csv") == 0) opt->csv = v;
    else if (strcmp(a, "--plot") == 0) opt->plot = v;
    else if (strcmp(a, "--md") == 0) opt->md = v;
    else if (strcmp(a, "--command") == 0) opt->command = v;
    else if (strcmp(a, "--filter-queries") == 0) opt->filter_queries = strtoul(v, NULL, 10);
    else if (strcmp(a, "--filter-csv") == 0) opt->filter_csv = v;
    else if (strcmp(a, "--filter-md") == 0) opt->filter_md = v;
    else if (strcmp(a, "--work") == 0) opt->work_dir = v;
    else die("unknown option %s", a);
    i++;
  }
  if (opt->queries == 0 || opt->threads == 0 || opt->threads > 64 || opt->filter_queries == 0) {
    die("%s", "bad --queries, --filter-queries or --threads");
  }
}

static void read_line(const char *path, const char *prefix, char *out, size_t len) {
  char line[512];
  FILE *f = fopen(path, "r");
  snprintf(out, len, "unknown");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (prefix && strncmp(line, prefix, strlen(prefix)) != 0) continue;
    char *p = prefix ? strchr(line, ':') : line;
    if (!p) continue;
    p += prefix ? 1 : 0;
    while (isspace((unsigned char)*p)) p++;
    p[strcspn(p, "\n")] = '\0';
    snprintf(out, len, "%s", p);
    break;
  }
  fclose(f);
}

/* The 1, 5 and 15 minute load averages. */
static void read_load(char *out, size_t len) {
  double a = 0, b = 0, c = 0;
  FILE *f = fopen("/proc/loadavg", "r");
  snprintf(out, len, "unknown");
  if (!f) return;
  if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) snprintf(out, len, "%.2f %.2f %.2f", a, b, c);
  fclose(f);
}

static void fill_info(ann_run_info *info, const options *opt, const dataset *d, size_t query_rows) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(info->date, sizeof info->date, "%Y-%m-%d", &tm);
  read_line("/proc/cpuinfo", "model name", info->cpu, sizeof info->cpu);
  info->cores = sysconf(_SC_NPROCESSORS_ONLN);
  info->base_rows = d->n;
  info->query_rows = query_rows;
  info->measured_queries = d->nq;
  info->dim = d->dim;
  info->k = SEARCH_K;
  info->command = opt->command;
  info->slow_qps = SLOW_QPS;
  info->slow_queries = SLOW_QUERIES;
}

/* Steps 2 to 5: ground truth, builds, the interleaved sweep, the reports. */
static void run_unfiltered(const options *opt, dataset *d, ann_run_info *info, size_t query_rows, double start) {
  const ann_contender *list[MAX_CONTENDERS];
  info->ground_truth_s = compute_ground_truth(d, opt->threads);
  fprintf(stderr, "ann_bench: exact top-%u of %zu queries in %.1f s\n", GT_K, d->nq, info->ground_truth_s);
  size_t count = gather(opt, list);
  ann_result *results = calloc(count ? count : 1, sizeof *results);
  if (!results) die("%s", "out of memory");
  run_all(list, count, d, &info->cfg, results);
  fill_info(info, opt, d, query_rows);
  read_load(info->load_after, sizeof info->load_after);
  info->total_s = ann_now_s() - start;
  if (ann_write_csv(opt->csv, results, count, info) != 0 || ann_write_plot_data(opt->plot, results, count) != 0 ||
      ann_write_markdown(opt->md, results, count, info) != 0) {
    die("cannot write the results: %s", strerror(errno));
  }
  fprintf(stderr, "ann_bench: done in %.0f s\n", info->total_s);
  free(results);
  free(d->gt_ids);
  free(d->gt_kth);
  d->gt_ids = NULL;
  d->gt_kth = NULL;
}

/* Step 6: the filtered part on the same base and queries. */
static int run_filtered(const options *opt, const dataset *d, const ann_run_info *info, size_t query_rows) {
  ann_filter_input in = {.base = d->base, .n = d->n, .dim = d->dim, .queries = d->queries,
                         .nq = VS_MIN(opt->filter_queries, query_rows), .data_dir = opt->data_dir,
                         .work_dir = opt->work_dir, .threads = opt->threads, .cfg = &info->cfg,
                         .csv = opt->filter_csv, .md = opt->filter_md, .command = opt->command,
                         .load_before = info->load_before};
  fprintf(stderr, "ann_bench: filtered search, %zu queries\n", in.nq);
  return ann_filter_run(&in);
}

int main(int argc, char **argv) {
  options opt;
  dataset d = {0};
  char path[4096];
  uint32_t qdim = 0;
  size_t query_rows = 0;
  ann_run_info info = {0};
  double start = ann_now_s();
  parse_args(argc, argv, &opt);
  read_load(info.load_before, sizeof info.load_before);
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", opt.data_dir);
  d.base = load_idx_images(path, &d.n, &d.dim);
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", opt.data_dir);
  d.queries = load_idx_images(path, &query_rows, &qdim);
  if (qdim != d.dim) die("%s", "queries and base differ in dimension");
  d.nq = opt.queries < query_rows ? opt.queries : query_rows;
  fprintf(stderr, "ann_bench: %zu base x %u, %zu of %zu queries, %u threads\n", d.n, d.dim, d.nq, query_rows,
          opt.threads);
  info.cfg = (ann_build_config){.M = 16, .ef_construction = 200, .nlist = 1024, .pq_m = 98, .pq_nbits = 8,
                                .threads = opt.threads};
  if (opt.filter_mode != 1) run_unfiltered(&opt, &d, &info, query_rows, start);
  int rc = opt.filter_mode == -1 ? 0 : run_filtered(&opt, &d, &info, query_rows);
  free(d.base);
  free(d.queries);
  return rc;
}
