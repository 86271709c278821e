/*
 * ann_filter_report.c -- writes what ann_filter.c measured: the CSV
 * (bench/results/ann_filtered.csv, one row per point) and the markdown
 * body of "## Filtered search (make bench-ann)" that bench/ann/run puts
 * into docs/benchmarks.md.
 *
 * The markdown holds how the run was made, the goal (recall@10 >=
 * 0.95 at every pass rate and never fewer than 10 hits) checked per
 * contender from the measured points, the fastest point of each contender
 * that meets it per filter, every contender at ef 64 (the engine's default
 * ef) side by side, and all points in a folded table.  Every ratio is
 * computed here from the same run, never typed in.
 */
#include <stdio.h>
#include <string.h>

#include "ann_filter.h"

#define GOAL_RECALL 0.95
#define DEFAULT_EF 64u

static double rate_of(const filter_run *run, size_t f) { return (double)run->passing[f] / (double)run->n; }

static int meets_goal(const filter_point *p) { return p->recall >= GOAL_RECALL && p->short_queries == 0; }

/* The fastest measured point of contender c at filter f meeting the goal. */
static const filter_point *best_meeting(const filter_contender_result *c, const filter_run *run, size_t f) {
  const filter_point *best = NULL;
  for (size_t e = 0; e < run->ef_count; e++) {
    const filter_point *p = &c->points[f][e];
    if (c->measured[f][e] && meets_goal(p) && (!best || p->qps > best->qps)) best = p;
  }
  return best;
}

/* The point with the highest recall (ties: faster). */
static const filter_point *best_recall(const filter_contender_result *c, const filter_run *run, size_t f) {
  const filter_point *best = NULL;
  for (size_t e = 0; e < run->ef_count; e++) {
    const filter_point *p = &c->points[f][e];
    if (!c->measured[f][e]) continue;
    if (!best || p->recall > best->recall || (p->recall == best->recall && p->qps > best->qps)) best = p;
  }
  return best;
}

/* The point measured at ef (post-filter: the one whose search it is). */
static const filter_point *point_at(const filter_contender_result *c, const filter_run *run, size_t f, uint32_t ef) {
  const filter_point *found = NULL;
  for (size_t e = 0; e < run->ef_count && run->efs[e] <= ef; e++) {
    if (c->measured[f][e]) found = &c->points[f][e];
  }
  return found;
}

int ann_filter_write_csv(const char *path, const filter_run *run) {
  FILE *out = fopen(path, "w");
  if (!out) return -1;
  fprintf(out, "filter,pass_rate,passing_rows,contender,method,ef,ef_used,k_prime,queries,recall_at_10,qps,"
               "min_hits,short_queries,cpu_per_wall,plan,filter_us\n");
  for (size_t c = 0; c < run->contender_count; c++) {
    const filter_contender_result *r = &run->contenders[c];
    for (size_t f = 0; f < run->filter_count; f++) {
      for (size_t e = 0; e < run->ef_count; e++) {
        const filter_point *p = &r->points[f][e];
        if (!r->measured[f][e]) continue;
        fprintf(out, "\"%s\",%.4f,%zu,\"%s\",\"%s\",%u,%u,%u,%zu,%.4f,%.1f,%u,%zu,%.2f,\"%s\",%.0f\n",
                run->filters[f].name, rate_of(run, f), run->passing[f], r->name, r->method, p->ef, p->ef_used,
                p->k_prime, p->queries, p->recall, p->qps, p->min_hits, p->short_queries, p->busy, p->choice,
                p->filter_us);
      }
    }
  }
  return fclose(out);
}

static void write_header(FILE *out, const filter_run *run) {
  fprintf(out, "Command: `%s` (this part alone: `ANN_FILTER_ONLY=1 make bench-ann`), %s, %.0f s for the "
               "filtered part on %s, %ld online cores.\n", run->command, run->date, run->total_s, run->cpu, run->cores);
  fprintf(out, "Load average (1/5/15 min) at the start of the run: %s; after the filtered part: %s.\n\n",
          run->load_before, run->load_after);
  fprintf(out, "- Data: the %zu Fashion-MNIST train images x %u (L2) with an Int64 `label` (their class from "
               "`train-labels-idx1-ubyte.gz`, 10%% per class) and an Int64 `r` uniform in [0, 1000) "
               "(fixed-seed splitmix64); the first %zu test images are the queries, k = 10.\n",
          run->n, run->dim, run->nq);
  fprintf(out, "- Ground truth: brute force over the passing rows of every filter, in the benchmark (%.1f s); "
               "recall@10 counts a returned row that passes the filter and lies within the 10th passing "
               "neighbour's exact distance, over min(10, passing rows). \"short\" = queries that got fewer "
               "than min(10, passing) passing hits.\n", run->ground_truth_s);
  fprintf(out, "- vectorstore: public API only -- one collection per index type (1 shard: %zu segment(s) of "
               "60,000 rows, inserted in %.1f s), M=16, efConstruction=200; `vs_search` with nq=1, k=10, "
               "threads=1, `filter` = the expression, params `{\"ef\":E}`. The engine compiles and evaluates "
               "the filter on every call (timed). \"plan\" is the optimizer's choice from `vs_result_profile` "
               "(`index` = the graph with the filter's bitset, `exact_passing_rows` = brute force over the passing rows); "
               "\"filter us\" = its filter phase (compile + evaluation over all rows) for one query.\n",
          run->segments, run->insert_s);
  fprintf(out, "- Baselines, post-filtering: hnswlib 0.6.2 (Debian; it predates hnswlib's filter functor) and "
               "faiss 1.7.3 HNSWFlat, same M/efConstruction, asked for k' = min(%u, ceil(10 / nominal rate)) "
               "hits with ef = max(E, k'); the first 10 passing hits are kept.\n", run->k_prime_cap);
  fprintf(out, "- Timing: single thread, one query per call, after 20 warm-up queries; a point stops after "
               "100 queries once it has run 3 s (column `queries` in the CSV). Sweep: ef 16, 32, 64, 128, 256, "
               "interleaved over contenders.\n\n");
}

static void write_cell(FILE *out, const filter_contender_result *c, const filter_run *run, size_t f) {
  const filter_point *p = best_meeting(c, run, f);
  const filter_point *b = best_recall(c, run, f);
  if (p) fprintf(out, " %.0f (ef %u, %.3f) |", p->qps, p->ef, p->recall);
  else if (b) fprintf(out, " - (best %.3f, %zu short) |", b->recall, b->short_queries);
  else fprintf(out, " - |");
}

static void write_goal_table(FILE *out, const filter_run *run) {
  fprintf(out, "Fastest queries/s (single thread) with recall@10 >= %.2f and no short query, per filter; "
               "in brackets the ef and the recall; - = not reached in the sweep (its best recall).\n\n", GOAL_RECALL);
  fprintf(out, "| filter | pass rate | passing rows |");
  for (size_t c = 0; c < run->contender_count; c++) {
    fprintf(out, " %s%s |", run->contenders[c].name,
            strcmp(run->contenders[c].method, "post-filter") == 0 ? " (post-filter)" : "");
  }
  fprintf(out, "\n|---|---:|---:|");
  for (size_t c = 0; c < run->contender_count; c++) fprintf(out, "---:|");
  fprintf(out, "\n");
  for (size_t f = 0; f < run->filter_count; f++) {
    fprintf(out, "| %s | %.2f%% | %zu |", run->filters[f].name, 100.0 * rate_of(run, f), run->passing[f]);
    for (size_t c = 0; c < run->contender_count; c++) write_cell(out, &run->contenders[c], run, f);
    fprintf(out, "\n");
  }
  fprintf(out, "\n");
}

/* "met at all 7 filters" or the filters where c misses the goal. */
static void write_verdict(FILE *out, const filter_contender_result *c, const filter_run *run) {
  size_t met = 0;
  fprintf(out, "- %s (%s): ", c->name, c->method);
  for (size_t f = 0; f < run->filter_count; f++) met += best_meeting(c, run, f) != NULL;
  if (met == run->filter_count) {
    fprintf(out, "**met** at all %zu filters\n", met);
    return;
  }
  fprintf(out, "**not met** at");
  for (size_t f = 0, listed = 0; f < run->filter_count; f++) {
    if (!best_meeting(c, run, f)) fprintf(out, "%s `%s`", listed++ ? "," : "", run->filters[f].name);
  }
  fprintf(out, " (met at %zu of %zu)\n", met, run->filter_count);
}

static void write_verdicts(FILE *out, const filter_run *run) {
  fprintf(out, "The goal (recall@10 >= %.2f at every pass rate, never fewer than 10 hits), from this run:\n\n",
          GOAL_RECALL);
  for (size_t c = 0; c < run->contender_count; c++) write_verdict(out, &run->contenders[c], run);
  fprintf(out, "\nSpeed where both meet it, ours / hnswlib post-filter (fastest qualifying points):");
  int any = 0;
  for (size_t f = 0; f < run->filter_count; f++) {
    const filter_point *peer = best_meeting(&run->contenders[2], run, f);
    for (size_t c = 0; c < 2 && peer; c++) {
      const filter_point *p = best_meeting(&run->contenders[c], run, f);
      if (p) fprintf(out, "%s %s at `%s` %.2fx", any++ ? ";" : "", run->contenders[c].name, run->filters[f].name,
                     p->qps / peer->qps);
    }
  }
  fprintf(out, "%s\n\n", any ? "." : " none (hnswlib post-filter meets it nowhere).");
}

static void write_default_table(FILE *out, const filter_run *run) {
  fprintf(out, "Every contender at ef %u (the engine's default ef; post-filter: ef = max(64, k')):\n\n", DEFAULT_EF);
  fprintf(out, "| filter | contender | ef used | k' | recall@10 | q/s | min hits | short | plan | filter us |\n");
  fprintf(out, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n");
  for (size_t f = 0; f < run->filter_count; f++) {
    for (size_t c = 0; c < run->contender_count; c++) {
      const filter_contender_result *r = &run->contenders[c];
      const filter_point *p = point_at(r, run, f, DEFAULT_EF);
      if (!p) continue;
      fprintf(out, "| %s | %s | %u | %u | %.4f | %.0f | %u | %zu | %s |", run->filters[f].name, r->name,
              p->ef_used, p->k_prime, p->recall, p->qps, p->min_hits, p->short_queries, p->choice);
      if (p->choice[0]) fprintf(out, " %.0f |\n", p->filter_us);
      else fprintf(out, " - |\n");
    }
  }
  fprintf(out, "\n");
}

static void write_all_points(FILE *out, const filter_run *run) {
  fprintf(out, "<details><summary>Every point (also in bench/results/ann_filtered.csv)</summary>\n\n");
  fprintf(out, "| filter | contender | ef | ef used | k' | queries | recall@10 | q/s | min hits | short | "
               "CPU/wall | plan |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (size_t f = 0; f < run->filter_count; f++) {
    for (size_t c = 0; c < run->contender_count; c++) {
      const filter_contender_result *r = &run->contenders[c];
      for (size_t e = 0; e < run->ef_count; e++) {
        const filter_point *p = &r->points[f][e];
        if (!r->measured[f][e]) continue;
        fprintf(out, "| %s | %s | %u | %u | %u | %zu | %.4f | %.0f | %u | %zu | %.2f | %s |\n",
                run->filters[f].name, r->name, p->ef, p->ef_used, p->k_prime, p->queries, p->recall, p->qps,
                p->min_hits, p->short_queries, p->busy, p->choice);
      }
    }
  }
  fprintf(out, "\n</details>\n");
}

int ann_filter_write_markdown(const char *path, const filter_run *run) {
  FILE *out = fopen(path, "w");
  if (!out) return -1;
  write_header(out, run);
  for (size_t c = 0; c < run->contender_count; c++) {
    const filter_contender_result *r = &run->contenders[c];
    if (!r->ok && r->error[0]) fprintf(out, "- %s failed: %s\n\n", r->name, r->error);
  }
  write_goal_table(out, run);
  write_verdicts(out, run);
  write_default_table(out, run);
  write_all_points(out, run);
  return fclose(out);
}
