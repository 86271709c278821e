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
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_internal.h"
#include "expr/expr.h"

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

vs_status vs_filter_segment(const struct vs_expr *expr, const vs_segment *seg, vs_bitset *pass,
                            size_t *count) {
  vs_status st = vs_bitset_init(pass, seg->rows);
  if (st != VS_OK) return st;
  if (expr) {
    vs_expr_eval(expr, seg->views, 0, seg->rows, pass);
  } else {
    set_all(pass);
  }
  if (seg->deleted_count) {
    size_t words = (seg->rows + 63) / 64;
    for (size_t w = 0; w < words && w < (seg->deleted.nbits + 63) / 64; w++) {
      pass->words[w] &= ~seg->deleted.words[w];
    }
  }
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
