/*
 * ann_report.h -- what the ANN benchmark measured, and the writers of its
 * CSV, gnuplot data and markdown summary (ann_report.c).
 */
#ifndef VS_BENCH_ANN_REPORT_H
#define VS_BENCH_ANN_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ann.h"

#define ANN_MAX_POINTS 16

typedef struct ann_point {
  uint32_t param;
  double recall;  /* recall@10 over the measured queries */
  double qps;     /* single thread, one query at a time */
  size_t queries;  /* how many of the queries were run (SLOW_QUERIES after
                     a slow point) */
  double busy;    /* thread CPU time / wall time of the timed loop: below
                     ~0.95 other load took the core away part of the time */
} ann_point;

typedef struct ann_result {
  const ann_contender *contender;
  int ok;                     /* 0 when the build failed */
  int failed_search;          /* a search returned an error: sweep stopped */
  char error[256];
  double build_s;
  double build_cpu_s;         /* CPU time of all threads over the build */
  size_t index_bytes, vector_bytes;
  long long rss_delta;        /* resident set growth over the build */
  const char *accounting;
  char detail[160];
  ann_point points[ANN_MAX_POINTS];
  size_t npoints;
} ann_result;

typedef struct ann_run_info {
  size_t base_rows, query_rows, measured_queries;
  uint32_t dim, k;
  ann_build_config cfg;
  double ground_truth_s, total_s;
  char cpu[128];
  long cores;
  char date[32];
  char load_before[64], load_after[64];
  const char *command;
  double slow_qps;            /* the subset rule of ann_main.c */
  unsigned slow_queries;
} ann_run_info;

/* memory_bytes of the CSV: what the index needs resident to search. */
static inline size_t ann_memory_bytes(const ann_result *r) { return r->index_bytes + r->vector_bytes; }

int ann_write_csv(const char *path, const ann_result *results, size_t count, const ann_run_info *info);
/* One gnuplot data block per contender with points (title line first). */
int ann_write_plot_data(const char *path, const ann_result *results, size_t count);
/* The markdown section body (without its "## " heading). */
int ann_write_markdown(const char *path, const ann_result *results, size_t count, const ann_run_info *info);

#endif /* VS_BENCH_ANN_REPORT_H */
