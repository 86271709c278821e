/*
 * filter.c -- the glue between filter expressions (src/expr/) and segments:
 * compiling a filter for a collection, turning it into a per-segment bitset
 * of passing live rows, and choosing the segments of a set of partitions.
 *
 * A filter is compiled once per request and evaluated per segment, under
 * the collection's read lock, straight over the segment's column views
 * (mmap'd for sealed segments), so nothing is copied.  The tombstones are
 * folded in here, word by word, so that callers see one bitset meaning
 * "this row is live and passes".  Query, count, delete-by-filter and
 * filtered search all start from it; the search optimizer reads the count
 * to choose between an exact scan of the passing rows and the ANN index.
 *
 * vs_filter_segment_in first asks the collection's scalar indexes
 * (scalar_index.c) through expr/indexable.c: a sealed segment whose
 * filter is wholly an AND/OR of indexed `field op constant` leaves gets
 * its bitset from the indexes in O(matching rows), without evaluating a
 * row; when only some top-level AND terms are indexed, their answer is a
 * superset of the result, and the filter is evaluated only over the
 * runs of 64-row words that hold a candidate.  The result is always the one
 * plain evaluation gives (tests/test_scalar_index.c checks this on random
 * data and predicates); `info` says which way it was produced and the
 * estimate (the indexes' candidate count), for the search profile.
 * Growing segments are never indexed: their rows are evaluated.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_internal.h"
#include "expr/expr.h"
#include "expr/indexable.h"

uint64_t vs_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool blank(const char *text) {
  if (!text) return true;
  for (; *text; text++) {
    if (*text != ' ' && *text != '\t' && *text != '\n' && *text != '\r') return false;
  }
  return true;
}

vs_status vs_filter_compile(const vs_collection *c, const char *text, const char *params_json,
                            struct vs_expr **out) {
  *out = NULL;
  if (blank(text)) return VS_OK;
  vs_expr *e = NULL;
  vs_status st = vs_expr_compile(c->schema, text, params_json, &e);
  if (st != VS_OK) return st;
  if (vs_expr_is_true(e)) {
    vs_expr_free(e);
    return VS_OK;
  }
  *out = e;
  return VS_OK;
}

static void set_all(vs_bitset *b) {
  size_t words = (b->nbits + 63) / 64;
  if (words == 0) return;
  memset(b->words, 0xff, words * sizeof *b->words);
  if (b->nbits % 64) b->words[words - 1] = ((uint64_t)1 << (b->nbits % 64)) - 1;
}

static void drop_deleted(const vs_segment *seg, vs_bitset *pass) {
  if (!seg->deleted_count) return;
  size_t words = (seg->rows + 63) / 64;
  for (size_t w = 0; w < words && w < (seg->deleted.nbits + 63) / 64; w++) {
    pass->words[w] &= ~seg->deleted.words[w];
  }
}

vs_status vs_filter_segment(const struct vs_expr *expr, const vs_segment *seg, vs_bitset *pass,
                            size_t *count) {
  vs_status st = vs_bitset_init(pass, seg->rows);
  if (st != VS_OK) return st;
  if (expr) {
    vs_expr_eval(expr, seg->views, 0, seg->rows, pass);
  } else {
    set_all(pass);
  }
  drop_deleted(seg, pass);
  *count = vs_bitset_count(pass);
  return VS_OK;
}

/* ------------------------------------------------------ scalar indexes */

typedef struct leaf_ctx {
  const vs_collection *c;
  const vs_segment *seg;
} leaf_ctx;

/* vs_ixleaf_fn: answers a leaf from the scalar index of its field in this
 * segment, if there is one. */
static bool answer_leaf(void *arg, const vs_ixleaf *leaf, vs_bitset *out) {
  const leaf_ctx *ctx = arg;
  const vs_collection *c = ctx->c;
  if (leaf->column < 0 || (size_t)leaf->column >= c->schema->field_count || !c->index_defs) return false;
  const vs_index_def *d = &c->index_defs[leaf->column];
  if (!d->defined || !d->scalar) return false;
  const vs_scalar_index *ix = vs_scalar_lookup(d, ctx->seg->id);
  return ix && vs_scalar_index_answer(ix, &d->sdef, &c->schema->fields[leaf->column], leaf, out);
}

/* Evaluates the filter only on the runs of 64-row words that hold a
 * candidate, then keeps the candidates that pass. */
static void eval_candidates(const vs_expr *expr, const vs_segment *seg, const vs_bitset *cand, vs_bitset *pass) {
  size_t words = (seg->rows + 63) / 64;
  for (size_t w = 0; w < words;) {
    if (!cand->words[w]) {
      w++;
      continue;
    }
    size_t end = w + 1;
    while (end < words && cand->words[end]) end++;
    vs_expr_eval(expr, seg->views, w * 64, VS_MIN(seg->rows, end * 64), pass);
    w = end;
  }
  for (size_t w = 0; w < words; w++) pass->words[w] &= cand->words[w];
}

vs_status vs_filter_segment_in(const vs_collection *c, const struct vs_expr *expr, const vs_segment *seg,
                               vs_bitset *pass, size_t *count, vs_filter_info *info) {
  vs_filter_info local;
  if (!info) info = &local;
  info->method = expr ? "scan" : "none";
  vs_bitset cand = {0};
  vs_ix_result r = VS_IX_NONE;
  if (expr && seg->sealed && seg->rows) {
    leaf_ctx ctx = {c, seg};
    r = vs_expr_index_eval(expr, seg->rows, answer_leaf, &ctx, &cand);
  }
  if (r == VS_IX_NONE) {
    vs_status st = vs_filter_segment(expr, seg, pass, count);
    info->estimate = *count;
    return st;
  }
  info->estimate = vs_bitset_count(&cand);
  if (r == VS_IX_EXACT) {
    info->method = "scalar_index";
    *pass = cand;
  } else {
    info->method = "scalar_index+scan";
    vs_status st = vs_bitset_init(pass, seg->rows);
    if (st != VS_OK) {
      vs_bitset_free(&cand);
      return st;
    }
    eval_candidates(expr, seg, &cand, pass);
    vs_bitset_free(&cand);
  }
  drop_deleted(seg, pass);
  *count = vs_bitset_count(pass);
  return VS_OK;
}

vs_status vs_partition_ids(const vs_collection *c, const char *const *names, size_t count,
                           uint32_t **ids) {
  *ids = NULL;
  if (!names || count == 0) return VS_OK;
  *ids = vs_calloc(count, sizeof **ids);
  if (!*ids) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < count; i++) {
    int p = names[i] ? vs_collection_partition_index(c, names[i]) : -1;
    if (p < 0) {
      free(*ids);
      *ids = NULL;
      return vs_fail(VS_ERR_PARTITION_NOT_FOUND, "partition '%s' not found",
                     names[i] ? names[i] : "(null)");
    }
    (*ids)[i] = c->partitions[p].id;
  }
  return VS_OK;
}

bool vs_segment_in_partitions(const vs_segment *seg, const uint32_t *ids, size_t count) {
  if (!ids) return true;
  for (size_t i = 0; i < count; i++) {
    if (ids[i] == seg->partition) return true;
  }
  return false;
}

vs_status vs_pick_segments(const vs_collection *c, const uint32_t *ids, size_t count,
                           vs_segment ***segs, size_t *seg_count) {
  *seg_count = 0;
  *segs = vs_calloc(c->sealed_count + c->growing_count + 1, sizeof **segs);
  if (!*segs) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < c->sealed_count; i++) {
    if (vs_segment_in_partitions(c->sealed[i], ids, count)) (*segs)[(*seg_count)++] = c->sealed[i];
  }
  for (size_t i = 0; i < c->growing_count; i++) {
    if (vs_segment_in_partitions(c->growing[i], ids, count)) (*segs)[(*seg_count)++] = c->growing[i];
  }
  return VS_OK;
}
