/*
 * hnsw_io.c -- the HNSW payload: writing it, loading it from hostile
 * bytes, and validate().
 *
 * The payload sits inside index.c's blob frame (magic, version, type, rows,
 * dim, metric, length, XXH3 checksum), which binds it to its vectors.  All
 * integers little-endian; floats as their IEEE-754 bit patterns.
 *
 *   offset   size           field
 *   0        4              payload version (1)
 *   4        4              flags: bit 0 = SQ8; other bits must be 0
 *   8        4              M (4..64)
 *   12       4              ef_construction (8..4096)
 *   16       8              seed
 *   24       4              n (must equal the frame's rows)
 *   28       4              dim (must equal the frame's dim)
 *   32       4              entry point (0xFFFFFFFF when n = 0)
 *   36       4              max level (int32; -1 when n = 0)
 *   40       8              L = upper lists = sum of the levels
 *   48       n              levels, one byte per node (<= 32)
 *   48+n     n*(2M+1)*4     level-0 lists: count, then 2M slots (unused 0)
 *   ...      L*(M+1)*4      upper lists: node by node, level 1 up; count,
 *                           then M slots
 *   ...      n*4            COSINE only: row norms
 *   ...      dim*4, dim*4   SQ8 only: per-dimension min, scale
 *   ...      n*dim          SQ8 only: codes, one byte per dimension
 *
 * The payload length must equal what the header implies, exactly.  The
 * SQ8 row terms (|scale * code|^2) are recomputed on load rather than
 * stored: they are derived data and cannot then disagree with the codes.
 *
 * Format history: version 1 -- 0.1.0.
 *
 * Loading: every header field is range-checked before anything is sized
 * from it; sizes are computed with overflow checks; then the graph is
 * copied and checked by the same routine as validate(): levels <= 32, the
 * entry point exists and sits at the max level (which is the max of the
 * levels), list counts within capacity (2M at level 0, M above), every link
 * in range, not a self-link, to a node that exists at that level, and no
 * duplicate within a list.  Anything else is VS_ERR_CORRUPT with a message
 * naming the node and level.  Reachability is not checked: HNSW with
 * pruning does not guarantee it.  Reciprocity is not checked either: the
 * heuristic drops back-links by design.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/hnsw_internal.h"

#define PAYLOAD_VERSION 1u
#define FLAG_SQ8 1u
#define HEADER_BYTES 48u

/* --------------------------------------------------------------- write */

static vs_status append_u32s(vs_buf *out, const uint32_t *values, size_t count) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return vs_buf_append(out, values, count * sizeof *values);
#else
  vs_status st = VS_OK;
  for (size_t i = 0; i < count && st == VS_OK; i++) st = vs_buf_append_u32(out, values[i]);
  return st;
#endif
}

_Static_assert(sizeof(float) == sizeof(uint32_t), "floats are stored as 32-bit patterns");

static vs_status append_floats(vs_buf *out, const float *values, size_t count) {
  return append_u32s(out, (const uint32_t *)(const void *)values, count);
}

static vs_status append_header(const hnsw_index *hx, vs_buf *out) {
  const hnsw_graph *g = &hx->graph;
  vs_status st = vs_buf_append_u32(out, PAYLOAD_VERSION);
  if (st == VS_OK) st = vs_buf_append_u32(out, hx->sq8 ? FLAG_SQ8 : 0);
  if (st == VS_OK) st = vs_buf_append_u32(out, g->M);
  if (st == VS_OK) st = vs_buf_append_u32(out, hx->ef_construction);
  if (st == VS_OK) st = vs_buf_append_u64(out, hx->seed);
  if (st == VS_OK) st = vs_buf_append_u32(out, g->n);
  if (st == VS_OK) st = vs_buf_append_u32(out, hx->dim);
  if (st == VS_OK) st = vs_buf_append_u32(out, g->entry);
  if (st == VS_OK) st = vs_buf_append_u32(out, (uint32_t)g->max_level);
  if (st == VS_OK) st = vs_buf_append_u64(out, g->upper_lists);
  return st;
}

vs_status hnsw_serialize(const vs_index *ix, vs_buf *out) {
  const hnsw_index *hx = ix->impl;
  const hnsw_graph *g = &hx->graph;
  const hnsw_quant *qu = &hx->quant;
  size_t bytes = HEADER_BYTES + (size_t)g->n * (1 + 4 * ((size_t)g->M0 + 1)) + g->upper_lists * 4 * (g->M + 1);
  if (hx->norms) bytes += (size_t)g->n * 4;
  if (hx->sq8) bytes += 8 * (size_t)hx->dim + (size_t)g->n * hx->dim;
  vs_status st = vs_buf_reserve(out, bytes);
  if (st == VS_OK) st = append_header(hx, out);
  if (st == VS_OK) st = vs_buf_append(out, g->levels, g->n);
  if (st == VS_OK) st = append_u32s(out, g->links0, (size_t)g->n * (g->M0 + 1));
  if (st == VS_OK) st = append_u32s(out, g->upper, g->upper_lists * (g->M + 1));
  if (st == VS_OK && hx->metric == VS_METRIC_COSINE) st = append_floats(out, hx->norms, g->n);
  if (st == VS_OK && hx->sq8) st = append_floats(out, qu->vmin, hx->dim);
  if (st == VS_OK && hx->sq8) st = append_floats(out, qu->scale, hx->dim);
  for (size_t i = 0; st == VS_OK && hx->sq8 && i < g->n; i++) {
    st = vs_buf_append(out, qu->codes + i * qu->stride, hx->dim);
  }
  return st;
}

/* -------------------------------------------------------------- checks */

/* Checks one list: count, range, self-link, level, duplicates.  `marks`
 * is n zero bytes, left zero on return. */
static vs_status check_list(const hnsw_index *hx, uint32_t node, int level, uint8_t *marks) {
  const hnsw_graph *g = &hx->graph;
  const uint32_t *list = hnsw_list(g, node, level);
  uint32_t count = list[0], cap = hnsw_list_cap(g, level);
  vs_status st = VS_OK;
  if (count > cap) {
    return vs_fail(VS_ERR_CORRUPT, "HNSW node %u level %d: %u links, at most %u allowed", node, level, count, cap);
  }
  uint32_t j = 0;
  for (; j < count && st == VS_OK; j++) {
    uint32_t link = list[1 + j];
    if (link >= g->n) {
      st = vs_fail(VS_ERR_CORRUPT, "HNSW node %u level %d: link %u out of range (n=%u)", node, level, link, g->n);
    } else if (link == node) {
      st = vs_fail(VS_ERR_CORRUPT, "HNSW node %u level %d: links to itself", node, level);
    } else if (g->levels[link] < level) {
      st = vs_fail(VS_ERR_CORRUPT, "HNSW node %u level %d: link %u only reaches level %u", node, level, link,
                   g->levels[link]);
    } else if (marks[link]) {
      st = vs_fail(VS_ERR_CORRUPT, "HNSW node %u level %d: duplicate link %u", node, level, link);
    } else {
      marks[link] = 1;
    }
  }
  for (uint32_t i = 0; i < count && i < cap; i++) {
    if (list[1 + i] < g->n) marks[list[1 + i]] = 0;
  }
  return st;
}

static vs_status check_levels(const hnsw_graph *g) {
  int top = -1;
  size_t lists = 0;
  for (uint32_t i = 0; i < g->n; i++) {
    if (g->levels[i] > HNSW_MAX_LEVEL) {
      return vs_fail(VS_ERR_CORRUPT, "HNSW node %u: level %u exceeds %d", i, g->levels[i], HNSW_MAX_LEVEL);
    }
    if (g->upper_off[i] != lists) return vs_fail(VS_ERR_CORRUPT, "HNSW node %u: upper lists misplaced", i);
    lists += g->levels[i];
    if (g->levels[i] > top) top = g->levels[i];
  }
  if (lists != g->upper_lists) {
    return vs_fail(VS_ERR_CORRUPT, "HNSW: %zu upper lists recorded, levels imply %zu", g->upper_lists, lists);
  }
  if (g->n == 0) {
    if (g->entry != HNSW_NONE || g->max_level != -1) return vs_fail(VS_ERR_CORRUPT, "HNSW: empty graph has an entry point");
    return VS_OK;
  }
  if (g->entry >= g->n) return vs_fail(VS_ERR_CORRUPT, "HNSW: entry point %u out of range (n=%u)", g->entry, g->n);
  if (g->max_level != top || g->levels[g->entry] != top) {
    return vs_fail(VS_ERR_CORRUPT, "HNSW: max level %d / entry point %u at level %u, but the top level is %d",
                   g->max_level, g->entry, g->levels[g->entry], top);
  }
  return VS_OK;
}

static vs_status check_floats(const float *values, size_t count, bool nonnegative, const char *what) {
  for (size_t i = 0; i < count; i++) {
    if (!isfinite(values[i]) || (nonnegative && values[i] < 0)) {
      return vs_fail(VS_ERR_CORRUPT, "HNSW %s[%zu] is %g", what, i, (double)values[i]);
    }
  }
  return VS_OK;
}

/* Everything validate() promises (see the top of this file). */
static vs_status check_index(const hnsw_index *hx) {
  const hnsw_graph *g = &hx->graph;
  vs_status st = check_levels(g);
  if (st == VS_OK && hx->norms) st = check_floats(hx->norms, g->n, true, "row norm");
  if (st == VS_OK && hx->sq8) st = check_floats(hx->quant.vmin, hx->dim, false, "SQ8 min");
  if (st == VS_OK && hx->sq8) st = check_floats(hx->quant.scale, hx->dim, true, "SQ8 scale");
  if (st != VS_OK || g->n == 0) return st;
  uint8_t *marks = vs_calloc(g->n, 1);
  if (!marks) return vs_fail(VS_ERR_NOMEM, "out of memory validating an HNSW graph");
  for (uint32_t i = 0; i < g->n && st == VS_OK; i++) {
    for (int level = 0; level <= g->levels[i] && st == VS_OK; level++) st = check_list(hx, i, level, marks);
  }
  free(marks);
  return st;
}

vs_status hnsw_validate(const vs_index *ix) {
  const hnsw_index *hx = ix->impl;
  if (hx->graph.n != ix->n || hx->dim != ix->dim) return vs_fail(VS_ERR_CORRUPT, "HNSW: size differs from its index");
  return check_index(hx);
}

/* ---------------------------------------------------------------- load */

typedef struct payload_header {
  uint32_t version, flags, M, efc, n, dim, entry;
  int32_t max_level;
  uint64_t seed, lists;
} payload_header;

static vs_status read_header(vs_reader *r, payload_header *h) {
  h->version = vs_read_u32(r);
  h->flags = vs_read_u32(r);
  h->M = vs_read_u32(r);
  h->efc = vs_read_u32(r);
  h->seed = vs_read_u64(r);
  h->n = vs_read_u32(r);
  h->dim = vs_read_u32(r);
  h->entry = vs_read_u32(r);
  h->max_level = (int32_t)vs_read_u32(r);
  h->lists = vs_read_u64(r);
  if (r->failed) return vs_fail(VS_ERR_CORRUPT, "HNSW payload truncated in its header (%zu bytes)", r->len);
  return VS_OK;
}

static vs_status check_header(const vs_index *ix, bool sq8, const payload_header *h) {
  if (h->version == 0 || h->version > PAYLOAD_VERSION) {
    return vs_fail(VS_ERR_CORRUPT, "HNSW payload version %u is not supported (max %u)", h->version, PAYLOAD_VERSION);
  }
  if (h->flags != (sq8 ? FLAG_SQ8 : 0u)) return vs_fail(VS_ERR_CORRUPT, "HNSW payload flags 0x%x do not match the index type", h->flags);
  if (h->M < HNSW_M_MIN || h->M > HNSW_M_MAX) return vs_fail(VS_ERR_CORRUPT, "HNSW payload: M=%u out of range", h->M);
  if (h->efc < HNSW_EFC_MIN || h->efc > HNSW_EFC_MAX) {
    return vs_fail(VS_ERR_CORRUPT, "HNSW payload: efConstruction=%u out of range", h->efc);
  }
  if (h->n != ix->n || h->dim != ix->dim) {
    return vs_fail(VS_ERR_CORRUPT, "HNSW payload: %u rows x %u dims, the index has %zu x %u", h->n, h->dim, ix->n, ix->dim);
  }
  if (h->lists > (uint64_t)h->n * HNSW_MAX_LEVEL) return vs_fail(VS_ERR_CORRUPT, "HNSW payload: %llu upper lists for %u nodes", (unsigned long long)h->lists, h->n);
  return VS_OK;
}

/* The exact payload size the header implies (no overflow: n < 2^32,
 * M <= 64, lists <= 32 n, dim <= 32768 keep it far below 2^64). */
static uint64_t expected_size(const vs_index *ix, const payload_header *h) {
  uint64_t n = h->n;
  uint64_t bytes = HEADER_BYTES + n + n * (2ull * h->M + 1) * 4 + h->lists * (h->M + 1ull) * 4;
  if (ix->metric == VS_METRIC_COSINE) bytes += n * 4;
  if (h->flags & FLAG_SQ8) bytes += 8ull * h->dim + n * h->dim;
  return bytes;
}

static void read_u32s(vs_reader *r, uint32_t *dst, size_t count) {
  const uint8_t *src = vs_read_bytes(r, count * sizeof *dst);
  if (!src) return;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(dst, src, count * sizeof *dst);
#else
  for (size_t i = 0; i < count; i++) dst[i] = vs_load_u32(src + 4 * i);
#endif
}

static vs_status read_graph(vs_reader *r, hnsw_graph *g) {
  const uint8_t *levels = vs_read_bytes(r, g->n);
  if (!levels) return vs_fail(VS_ERR_CORRUPT, "HNSW payload truncated in the levels");
  size_t lists = 0;
  for (uint32_t i = 0; i < g->n; i++) {
    if (levels[i] > HNSW_MAX_LEVEL) return vs_fail(VS_ERR_CORRUPT, "HNSW node %u: level %u exceeds %d", i, levels[i], HNSW_MAX_LEVEL);
    g->levels[i] = levels[i];
    lists += levels[i];
  }
  if (lists != g->upper_lists) {
    return vs_fail(VS_ERR_CORRUPT, "HNSW payload: %zu upper lists recorded, levels imply %zu", g->upper_lists, lists);
  }
  vs_status st = hnsw_graph_alloc_upper(g);
  if (st != VS_OK) return st;
  read_u32s(r, g->links0, (size_t)g->n * (g->M0 + 1));
  read_u32s(r, g->upper, g->upper_lists * (g->M + 1));
  if (r->failed) return vs_fail(VS_ERR_CORRUPT, "HNSW payload truncated in the links");
  return VS_OK;
}

static vs_status read_extras(vs_reader *r, hnsw_index *hx) {
  size_t n = hx->graph.n;
  if (hx->metric == VS_METRIC_COSINE) {
    hx->norms = vs_malloc((n ? n : 1) * sizeof(float));
    if (!hx->norms) return vs_fail(VS_ERR_NOMEM, "out of memory loading HNSW norms");
    read_u32s(r, (uint32_t *)(void *)hx->norms, n);
  }
  if (!hx->sq8) return r->failed ? vs_fail(VS_ERR_CORRUPT, "HNSW payload truncated in the norms") : VS_OK;
  vs_status st = hnsw_quant_alloc(hx);
  if (st != VS_OK) return st;
  read_u32s(r, (uint32_t *)(void *)hx->quant.vmin, hx->dim);
  read_u32s(r, (uint32_t *)(void *)hx->quant.scale, hx->dim);
  for (size_t i = 0; i < n && !r->failed; i++) {
    const void *code = vs_read_bytes(r, hx->dim);
    if (code) memcpy(hx->quant.codes + i * hx->quant.stride, code, hx->dim);
  }
  if (r->failed) return vs_fail(VS_ERR_CORRUPT, "HNSW payload truncated in the SQ8 data");
  return VS_OK;
}

vs_status vs_hnsw_load(vs_index *ix, bool sq8, const uint8_t *payload, size_t len) {
  vs_reader r;
  payload_header h;
  hnsw_index *hx = NULL;
  vs_reader_init(&r, payload, len);
  vs_status st = read_header(&r, &h);
  if (st == VS_OK) st = check_header(ix, sq8, &h);
  if (st == VS_OK && expected_size(ix, &h) != len) {
    st = vs_fail(VS_ERR_CORRUPT, "HNSW payload is %zu bytes, its header implies %llu", len,
                 (unsigned long long)expected_size(ix, &h));
  }
  if (st == VS_OK) st = hnsw_index_new(ix, sq8, h.M, h.efc, h.seed, &hx);
  if (st != VS_OK) return st; /* from here index.c frees hx on failure */
  hx->graph.entry = h.entry;
  hx->graph.max_level = h.max_level;
  hx->graph.upper_lists = (size_t)h.lists;
  st = hnsw_graph_alloc(&hx->graph, h.n);
  if (st == VS_OK) st = read_graph(&r, &hx->graph);
  if (st == VS_OK) st = read_extras(&r, hx);
  if (st == VS_OK) st = check_index(hx);
  if (st == VS_OK && sq8) hnsw_quant_rowterms(hx);
  return st;
}
