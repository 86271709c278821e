/*
 * ann_report.c -- writes what ann_main.c measured: the CSV (one row per
 * sweep point), the gnuplot data (one block per contender, its name on
 * the block's first line, for ann.gp) and the markdown section that
 * bench/ann/run places in docs/benchmarks.md.
 *
 * The markdown holds: how the run was made, the best queries/s of every
 * contender at recall@10 >= 0.90 / 0.95 / 0.99, build time and memory,
 * and the goals as ratios computed from these numbers (never
 * typed in).  "our best" is the fastest of vectorstore's indexes at that
 * recall; the reference peer is hnswlib.
 */
#include <stdio.h>
#include <string.h>

#include "ann_report.h"

static const double thresholds[] = {0.90, 0.95, 0.99};
#define MIB (1024.0 * 1024.0)

/* Best point of r with recall >= min; NULL when none reaches it. */
static const ann_point *best_at(const ann_result *r, double min) {
  const ann_point *best = NULL;
  for (size_t i = 0; r->ok && i < r->npoints; i++) {
    const ann_point *p = &r->points[i];
    if (p->recall >= min && (!best || p->qps > best->qps)) best = p;
  }
  return best;
}

static const ann_result *find(const ann_result *results, size_t count, const char *name) {
  for (size_t i = 0; i < count; i++) {
    if (strcmp(results[i].contender->name, name) == 0 && results[i].ok) return &results[i];
  }
  return NULL;
}

static const char *param_name(const ann_result *r) { return r->contender->kind == ANN_GRAPH ? "ef" : "nprobe"; }

int ann_write_csv(const char *path, const ann_result *results, size_t count, const ann_run_info *info) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "contender,param,recall,qps,build_s,memory_bytes,param_name,index_bytes,vector_bytes,"
             "rss_delta_bytes,queries,cpu_wall,build_cpu_s\n");
  for (size_t i = 0; i < count; i++) {
    const ann_result *r = &results[i];
    for (size_t j = 0; r->ok && j < r->npoints; j++) {
      const ann_point *p = &r->points[j];
      fprintf(f, "%s,%u,%.4f,%.1f,%.2f,%zu,%s,%zu,%zu,%lld,%zu,%.3f,%.2f\n", r->contender->name, p->param,
              p->recall, p->qps, r->build_s, ann_memory_bytes(r), param_name(r), r->index_bytes, r->vector_bytes,
              r->rss_delta, p->queries, p->busy, r->build_cpu_s);
    }
  }
  return fclose(f) == 0 ? 0 : -1;
}

int ann_write_plot_data(const char *path, const ann_result *results, size_t count) {
  FILE *f = fopen(path, "w");
  size_t ours = 0;
  if (!f) return -1;
  for (size_t i = 0; i < count; i++) ours += results[i].ok && results[i].npoints && results[i].contender->ours;
  /* bench/ann/run passes this to ann.gp: our blocks come first. */
  fprintf(f, "# ours=%zu\n", ours);
  for (size_t i = 0; i < count; i++) {
    const ann_result *r = &results[i];
    if (!r->ok || r->npoints == 0) continue;
    fprintf(f, "\"%s\" qps\n", r->contender->name);
    for (size_t j = 0; j < r->npoints; j++) fprintf(f, "%.4f %.1f\n", r->points[j].recall, r->points[j].qps);
    fprintf(f, "\n\n");
  }
  return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ markdown */

/* The smallest CPU/wall ratio of any timed query loop. */
static double min_busy(const ann_result *results, size_t count) {
  double least = 1.0;
  for (size_t i = 0; i < count; i++) {
    for (size_t j = 0; results[i].ok && j < results[i].npoints; j++) {
      if (results[i].points[j].busy < least) least = results[i].points[j].busy;
    }
  }
  return least;
}

static void write_header(FILE *f, const ann_run_info *info, double busy) {
  const ann_build_config *c = &info->cfg;
  fprintf(f, "Command: `%s` (%s, total %.0f s on %s, %ld online cores).\n", info->command, info->date,
          info->total_s, info->cpu, info->cores);
  fprintf(f, "Load average (1/5/15 min) before: %s; after: %s.\n\n", info->load_before, info->load_after);
  fprintf(f, "- Data: Fashion-MNIST from Debian's `dataset-fashion-mnist`: %zu base vectors x %u (pixels as "
             "floats 0..255), %zu of its %zu test images as queries, L2.\n",
          info->base_rows, info->dim, info->measured_queries, info->query_rows);
  fprintf(f, "- Ground truth: exact top-100 of every query by `vs_index_exact_search` (our FLAT oracle) in "
             "the same run, %.1f s on %u threads. recall@%u counts a returned row when its exact distance "
             "is at most the %u-th true neighbour's (ann-benchmarks' rule for ties).\n",
          info->ground_truth_s, c->threads, info->k, info->k);
  fprintf(f, "- Builds: %u threads; graphs M=%u, efConstruction=%u (usearch: connectivity %u, "
             "expansion_add %u); IVF nlist=%u (k-means on all rows), IVF_PQ m=%u x %u bits.\n",
          c->threads, c->M, c->ef_construction, c->M, c->ef_construction, c->nlist, c->pq_m, c->pq_nbits);
  fprintf(f, "- Searches: k=%u, one query at a time on one thread, each query once per sweep point after a "
             "warm-up of 200 (a point that follows one below %.0f queries/s runs the first %u queries only; "
             "the CSV's `queries` column says how many); all indexes are built first, each of ours next to "
             "its peer, then swept interleaved (point i of every contender before point i+1 of any), so "
             "that changing machine load hits all alike; graphs sweep ef 10..512, IVF nprobe 1..128. Our quantised indexes "
             "re-rank their best candidates exactly by default (HNSW_SQ8: max(2k, ef), its beam is at least "
             "that wide, so its ef 10 searches like ef 20; IVF_SQ8: max(2k, 32); "
             "IVF_PQ: max(4k, 64)); faiss's IVFSQ8 and IVFPQ return their approximate ranking.\n",
          info->k, info->slow_qps, info->slow_queries);
  fprintf(f, "- Interference check: the searching thread had the CPU for at least %.0f%% of the wall time of "
             "every timed loop%s.\n\n",
          busy * 100, busy < 0.95 ? " -- **other load on the machine disturbed this run; its queries/s are "
                                    "lower than an idle machine's**" : "");
}

static void write_best_table(FILE *f, const ann_result *results, size_t count) {
  fprintf(f, "Best queries/s (single thread) at recall@10 >= threshold; the knob that gave it in brackets; "
             "- = not reached in the sweep.\n\n");
  fprintf(f, "| contender | >= 0.90 | >= 0.95 | >= 0.99 | max recall |\n|---|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < count; i++) {
    const ann_result *r = &results[i];
    double max_recall = 0;
    fprintf(f, "| %s |", r->contender->name);
    if (!r->ok) {
      fprintf(f, " build failed: %s | | | |\n", r->error);
      continue;
    }
    for (size_t t = 0; t < sizeof thresholds / sizeof *thresholds; t++) {
      const ann_point *p = best_at(r, thresholds[t]);
      if (p) fprintf(f, " %.0f (%s %u) |", p->qps, param_name(r), p->param);
      else fprintf(f, " - |");
    }
    for (size_t j = 0; j < r->npoints; j++) max_recall = r->points[j].recall > max_recall ? r->points[j].recall : max_recall;
    fprintf(f, " %.4f |\n", max_recall);
  }
  fprintf(f, "\n");
}

static void write_build_table(FILE *f, const ann_result *results, size_t count) {
  fprintf(f, "| contender | build s | build CPU s | index MiB (own accounting) | + float vectors read at search, MiB | "
             "total MiB | RSS growth over build, MiB | implementation |\n|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (size_t i = 0; i < count; i++) {
    const ann_result *r = &results[i];
    if (!r->ok) continue;
    fprintf(f, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s |\n", r->contender->name, r->build_s,
            r->build_cpu_s, (double)r->index_bytes / MIB, (double)r->vector_bytes / MIB, (double)ann_memory_bytes(r) / MIB,
            (double)r->rss_delta / MIB, r->detail);
  }
  fprintf(f, "\nMemory accounting:\n\n");
  for (size_t i = 0; i < count; i++) {
    const ann_result *r = &results[i];
    size_t first = 0;
    while (first < i && !(results[first].ok && strcmp(results[first].accounting, r->accounting) == 0)) first++;
    if (!r->ok || first < i) continue; /* listed with an earlier contender */
    fprintf(f, "- %s", r->contender->name);
    for (size_t j = i + 1; j < count; j++) {
      if (results[j].ok && strcmp(results[j].accounting, r->accounting) == 0) fprintf(f, ", %s", results[j].contender->name);
    }
    fprintf(f, ": %s\n", r->accounting);
  }
  fprintf(f, "\n");
}

static const char *verdict(int met) { return met ? "**met**" : "**missed**"; }

static void write_speed_goals(FILE *f, const ann_result *results, size_t count, const ann_result *ref) {
  static const double goal[] = {0, 1.5, 1.2};
  for (size_t t = 1; t < 3; t++) {
    const ann_point *rp = best_at(ref, thresholds[t]);
    const ann_result *best_r = NULL;
    const ann_point *best_p = NULL;
    for (size_t i = 0; i < count; i++) {
      const ann_point *p = results[i].contender->ours ? best_at(&results[i], thresholds[t]) : NULL;
      if (p && (!best_p || p->qps > best_p->qps)) {
        best_p = p;
        best_r = &results[i];
      }
    }
    if (!rp || !best_p) {
      fprintf(f, "- recall@10 >= %.2f: %s (goal >= %.1fx hnswlib): cannot be computed, %s\n", thresholds[t],
              verdict(0), goal[t], best_p ? "hnswlib did not reach it" : "none of ours reached it");
      continue;
    }
    double ratio = best_p->qps / rp->qps;
    fprintf(f, "- recall@10 >= %.2f: our best, %s (%.0f q/s, %s %u) / hnswlib (%.0f q/s, ef %u) = **%.2fx** "
               "(goal >= %.1fx): %s\n",
            thresholds[t], best_r->contender->name, best_p->qps, param_name(best_r), best_p->param, rp->qps,
            rp->param, ratio, goal[t], verdict(ratio >= goal[t]));
  }
}

static void write_goals(FILE *f, const ann_result *results, size_t count) {
  const ann_result *ref = find(results, count, "hnswlib HNSW");
  const ann_result *hnsw = find(results, count, "vectorstore HNSW");
  const ann_result *sq8 = find(results, count, "vectorstore HNSW_SQ8");
  fprintf(f, "Goals of the issue, as ratios measured in this run:\n\n");
  if (!ref) {
    fprintf(f, "- hnswlib did not run, so no ratio can be computed.\n\n");
    return;
  }
  write_speed_goals(f, results, count, ref);
  const ann_result *graphs[] = {hnsw, sq8};
  for (size_t i = 0; i < 2; i++) {
    const ann_result *r = graphs[i];
    if (!r) continue;
    double build = r->build_s / ref->build_s;
    double total = (double)ann_memory_bytes(r) / (double)ann_memory_bytes(ref);
    double own = (double)r->index_bytes / (double)ann_memory_bytes(ref);
    fprintf(f, "- %s build %.1f s / hnswlib %.1f s = **%.2fx** (goal <= 1.0x): %s; in CPU time %.1f s / "
               "%.1f s = %.2fx\n",
            r->contender->name, r->build_s, ref->build_s, build, verdict(build <= 1.0), r->build_cpu_s,
            ref->build_cpu_s, r->build_cpu_s / ref->build_cpu_s);
    fprintf(f, "- %s memory %.1f MiB (%.1f index + %.1f float column it reads) / hnswlib %.1f MiB = **%.2fx** "
               "(goal <= 1.2x): %s; the index structure alone is %.2fx\n",
            r->contender->name, (double)ann_memory_bytes(r) / MIB, (double)r->index_bytes / MIB,
            (double)r->vector_bytes / MIB, (double)ann_memory_bytes(ref) / MIB, total, verdict(total <= 1.2), own);
  }
  fprintf(f, "\n");
}

static void write_sweeps(FILE *f, const ann_result *results, size_t count) {
  fprintf(f, "<details><summary>Every sweep point (also in bench/results/ann.csv)</summary>\n\n");
  fprintf(f, "| contender | knob | recall@10 | queries/s | CPU/wall |\n|---|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < count; i++) {
    const ann_result *r = &results[i];
    for (size_t j = 0; r->ok && j < r->npoints; j++) {
      fprintf(f, "| %s | %s %u | %.4f | %.0f | %.2f |\n", r->contender->name, param_name(r), r->points[j].param,
              r->points[j].recall, r->points[j].qps, r->points[j].busy);
    }
  }
  fprintf(f, "\n</details>\n");
}

static void write_notes(FILE *f) {
  fprintf(f, "Notes on the contenders:\n\n"
             "- Every search is one call for one query on one thread, so each library's per-call work "
             "(allocations, result conversion, the coarse-centroid scan of IVF) is part of its number.\n"
             "- hnswlib is Debian's 0.6.2 headers, compiled here with -O3 -march=native (its AVX-512 "
             "distance).\n"
             "- faiss is Debian's 1.7.3 static library, compiled for the baseline x86-64 ISA (its distance "
             "loops use SSE, not AVX2/AVX-512; a source build for this CPU would be faster). "
             "IndexIVFPQ runs inside IndexRefineFlat so that it re-ranks like our IVF_PQ.\n"
             "- usearch is the C API (c/lib.cpp) of the npm package, compiled with -O3 -march=native "
             "together with its NumKong kernels (run-time dispatch; the kernel used is in the table).\n"
             "- Ours use the product build (RelWithDebInfo, -O2, no -march=native) and pick SIMD kernels "
             "at start-up.\n\n");
}

int ann_write_markdown(const char *path, const ann_result *results, size_t count, const ann_run_info *info) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  write_header(f, info, min_busy(results, count));
  write_best_table(f, results, count);
  write_goals(f, results, count);
  fprintf(f, "![recall@10 against queries/s, log scale](ann-recall-qps.png)\n\n");
  write_build_table(f, results, count);
  write_notes(f);
  write_sweeps(f, results, count);
  return fclose(f) == 0 ? 0 : -1;
}
