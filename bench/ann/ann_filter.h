/*
 * ann_filter.h -- the filtered-search part of the ANN benchmark
 * (ann_filter.c measures, ann_filter_report.c writes the CSV and the
 * markdown section "## Filtered search (make bench-ann)").
 */
#ifndef VS_BENCH_ANN_FILTER_H
#define VS_BENCH_ANN_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "ann.h"

#define FILTER_K 10u
#define FILTER_MAX_EFS 8
#define FILTER_MAX_FILTERS 8
#define FILTER_MAX_CONTENDERS 6

/* Clocks, from ann_main.c: monotonic wall time and this process's CPU
 * time, in seconds. */
double ann_now_s(void);
double ann_process_cpu_s(void);

/* What ann_main.c hands over: the loaded data, nothing computed yet. */
typedef struct ann_filter_input {
  const float *base;        /* n x dim, row-major */
  size_t n;
  uint32_t dim;
  const float *queries;     /* nq x dim; the first `nq` are measured */
  size_t nq;
  const char *data_dir;     /* where train-labels-idx1-ubyte.gz is */
  const char *work_dir;     /* scratch: the database directory goes here */
  uint32_t threads;         /* build and ground-truth threads */
  const ann_build_config *cfg;
  const char *csv, *md, *command;
  const char *load_before;  /* "1.20 1.12 1.93" of the whole run */
} ann_filter_input;

/* One filter of the benchmark. */
typedef struct filter_def {
  const char *name;         /* "r < 10" */
  const char *expr;         /* the filter text given to vs_search; NULL = none */
  double nominal_rate;      /* 0.01 */
  int field;                /* 0 = r, 1 = label, -1 = no filter */
  int64_t below;            /* r < below, or label == below */
} filter_def;

/* One measured point: a contender, a filter, a search knob. */
typedef struct filter_point {
  uint32_t ef;              /* the knob asked for */
  uint32_t ef_used;         /* post-filter: max(ef, k'); ours: ef */
  uint32_t k_prime;         /* post-filter: hits asked of the index */
  size_t queries;
  double recall;            /* recall@10 against the passing rows */
  double qps;
  double busy;              /* process CPU / wall of the timed loop */
  uint32_t min_hits;        /* fewest hits any query got */
  size_t short_queries;     /* queries with fewer than min(10, passing) */
  char choice[48];          /* ours: the optimizer's choice (profile) */
  double filter_us;         /* ours: the profile's filter phase, query 0 */
} filter_point;

typedef struct filter_contender_result {
  const char *name;         /* "vectorstore HNSW_SQ8" */
  const char *method;       /* "engine filter" / "post-filter" */
  double build_s;
  int ok;
  char error[256];
  /* points[f][e]: filter f at efs[e]; npoints 0 = skipped (duplicate) */
  filter_point points[FILTER_MAX_FILTERS][FILTER_MAX_EFS];
  int measured[FILTER_MAX_FILTERS][FILTER_MAX_EFS];
} filter_contender_result;

typedef struct filter_run {
  const filter_def *filters;
  size_t filter_count;
  size_t passing[FILTER_MAX_FILTERS];
  const uint32_t *efs;
  size_t ef_count;
  filter_contender_result contenders[FILTER_MAX_CONTENDERS];
  size_t contender_count;
  size_t n, nq;
  uint32_t dim, k_prime_cap;
  double ground_truth_s, total_s, insert_s;
  size_t segments;
  char date[32], load_before[64], load_after[64], cpu[128];
  long cores;
  const char *command;
} filter_run;

/* Runs the filtered benchmark; returns 0, or 1 after printing why not. */
int ann_filter_run(const ann_filter_input *in);

int ann_filter_write_csv(const char *path, const filter_run *run);
int ann_filter_write_markdown(const char *path, const filter_run *run);

#endif /* VS_BENCH_ANN_FILTER_H */
