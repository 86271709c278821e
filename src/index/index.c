/*
 * index.c -- the front of src/index/: type names, dispatch to each index
 * type, the serialised blob's framing, FLAT, and the exact oracle.
 *
 * Blob framing (all little-endian):
 *
 *   offset  size  field
 *   0       8     magic "VSIDXv01"
 *   8       4     format version (1)
 *   12      4     index type (vs_index_type)
 *   16      8     rows n
 *   24      4     dim
 *   28      4     metric
 *   32      8     payload length L
 *   40      L     the type's payload
 *   40+L    8     XXH3-64 of bytes [0, 40+L)
 *
 * The frame binds a payload to the rows, dimension and metric it was built
 * for: loading it next to other vectors is refused.  Format history:
 * version 1 -- 0.1.0.
 *
 * FLAT has no structure: its "index" is the exact scan, which is also the
 * oracle that tests and benchmarks measure recall against.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "index/index_internal.h"

#define BLOB_MAGIC "VSIDXv01"
#define BLOB_VERSION 1u
#define BLOB_HEADER 40u

static const char *const type_names[] = {"FLAT", "HNSW", "HNSW_SQ8", "IVF_FLAT", "IVF_SQ8", "IVF_PQ"};
#define TYPE_COUNT (sizeof type_names / sizeof type_names[0])

const char *vs_index_type_name(vs_index_type type) {
  return (unsigned)type < TYPE_COUNT ? type_names[type] : NULL;
}

vs_status vs_index_type_from_name(const char *name, vs_index_type *out) {
  for (size_t i = 0; name && i < TYPE_COUNT; i++) {
    if (strcasecmp(name, type_names[i]) == 0) {
      *out = (vs_index_type)i;
      return VS_OK;
    }
  }
  return vs_fail(VS_ERR_INVALID, "unknown index type '%s' (FLAT, HNSW, HNSW_SQ8, IVF_FLAT, IVF_SQ8, IVF_PQ, AUTOINDEX)",
                 name ? name : "(null)");
}

/* ------------------------------------------------------------ dispatch */

static vs_status new_index(vs_index_type type, const float *vectors, size_t n, uint32_t dim,
                           vs_metric metric, vs_index **out) {
  *out = NULL;
  if ((unsigned)type >= TYPE_COUNT) return vs_fail(VS_ERR_INVALID, "unknown index type %d", (int)type);
  if (dim == 0 || dim > VS_MAX_DIM) return vs_fail(VS_ERR_INVALID, "dimension %u out of range", dim);
  if (metric > VS_METRIC_COSINE) return vs_fail(VS_ERR_INVALID, "unknown metric %d", (int)metric);
  if (n >= UINT32_MAX) return vs_fail(VS_ERR_LIMIT, "%zu rows is too many for one index", n);
  if (n > 0 && !vectors) return vs_fail(VS_ERR_INVALID, "no vectors");
  vs_index *ix = vs_calloc(1, sizeof *ix);
  if (!ix) return vs_fail(VS_ERR_NOMEM, "out of memory");
  ix->type = type;
  ix->vectors = vectors;
  ix->n = n;
  ix->dim = dim;
  ix->metric = metric;
  *out = ix;
  return VS_OK;
}

/* Hands a built or loaded index out, or frees it after a failure (a
 * failing builder or loader frees its own partial state and leaves ops
 * unset; one that set ops is freed through them). */
static vs_status finish(vs_status st, vs_index *ix, vs_index **out) {
  if (st == VS_OK) {
    *out = ix;
  } else if (ix->ops) {
    vs_index_free(ix);
  } else {
    free(ix);
  }
  return st;
}

vs_status vs_index_build(vs_index_type type, const float *vectors, size_t n, uint32_t dim,
                         vs_metric metric, const vs_index_build_params *params, vs_pool *pool,
                         vs_index_progress *progress, vs_index **out) {
  vs_index_build_params defaults = {0};
  vs_index *ix = NULL;
  vs_status st = new_index(type, vectors, n, dim, metric, &ix);
  if (st != VS_OK) return st;
  if (!params) params = &defaults;
  switch (type) {
    case VS_INDEX_FLAT: st = vs_flat_build(ix); break;
    case VS_INDEX_HNSW: st = vs_hnsw_build(ix, false, params, pool, progress); break;
    case VS_INDEX_HNSW_SQ8: st = vs_hnsw_build(ix, true, params, pool, progress); break;
    default: st = vs_ivf_build(ix, params, pool, progress); break;
  }
  return finish(st, ix, out);
}

static vs_status check_query(const vs_index *ix, const float *query, uint32_t k, vs_topk *out) {
  if (!ix || !query || !out) return vs_fail(VS_ERR_INVALID, "NULL argument");
  if (k == 0 || k > VS_MAX_TOPK) return vs_fail(VS_ERR_LIMIT, "k must be 1..%u", VS_MAX_TOPK);
  if (out->k < k) return vs_fail(VS_ERR_INVALID, "result heap holds %zu, k is %u", out->k, k);
  return VS_OK;
}

vs_status vs_index_search(const vs_index *ix, const float *query, uint32_t k,
                          const vs_index_search_params *params, const vs_bitset *skip,
                          vs_topk *out, vs_index_stats *stats) {
  vs_index_search_params defaults = {0};
  vs_status st = check_query(ix, query, k, out);
  if (st != VS_OK || ix->n == 0) return st;
  return ix->ops->search(ix, query, k, params ? params : &defaults, skip, out, stats);
}

vs_status vs_index_range_search(const vs_index *ix, const float *query, uint32_t limit,
                                const vs_index_search_params *params, const vs_bitset *skip,
                                vs_topk *out, vs_index_stats *stats) {
  vs_index_search_params defaults = {0};
  vs_status st = check_query(ix, query, limit, out);
  if (st != VS_OK || ix->n == 0) return st;
  return ix->ops->range_search(ix, query, limit, params ? params : &defaults, skip, out, stats);
}

vs_status vs_index_validate(const vs_index *ix) {
  if (!ix) return vs_fail(VS_ERR_INVALID, "NULL index");
  return ix->ops->validate(ix);
}

vs_index_type vs_index_get_type(const vs_index *ix) { return ix->type; }
size_t vs_index_rows(const vs_index *ix) { return ix->n; }
size_t vs_index_memory(const vs_index *ix) { return ix ? sizeof *ix + ix->ops->memory(ix) : 0; }

void vs_index_free(vs_index *ix) {
  if (!ix) return;
  if (ix->ops && ix->impl) ix->ops->free_impl(ix->impl);
  free(ix);
}

/* ------------------------------------------------------------- framing */

vs_status vs_index_serialize(const vs_index *ix, vs_buf *out) {
  size_t start = out->len;
  vs_status st = vs_buf_append(out, BLOB_MAGIC, 8);
  if (st == VS_OK) st = vs_buf_append_u32(out, BLOB_VERSION);
  if (st == VS_OK) st = vs_buf_append_u32(out, (uint32_t)ix->type);
  if (st == VS_OK) st = vs_buf_append_u64(out, ix->n);
  if (st == VS_OK) st = vs_buf_append_u32(out, ix->dim);
  if (st == VS_OK) st = vs_buf_append_u32(out, (uint32_t)ix->metric);
  if (st == VS_OK) st = vs_buf_append_u64(out, 0);
  size_t payload_at = out->len;
  if (st == VS_OK) st = ix->ops->serialize(ix, out);
  if (st != VS_OK) return st;
  vs_store_u64(out->data + start + 32, out->len - payload_at);
  return vs_buf_append_u64(out, vs_hash64(out->data + start, out->len - start));
}

static vs_status check_frame(const uint8_t *p, size_t len, size_t n, uint32_t dim, vs_metric metric,
                             vs_index_type *type, size_t *payload_len) {
  if (len < BLOB_HEADER + 8 || memcmp(p, BLOB_MAGIC, 8) != 0) {
    return vs_fail(VS_ERR_CORRUPT, "index blob: bad magic or too short (%zu bytes)", len);
  }
  uint32_t version = vs_load_u32(p + 8);
  if (version == 0 || version > BLOB_VERSION) {
    return vs_fail(VS_ERR_CORRUPT, "index blob: format version %u is not supported (max %u)", version, BLOB_VERSION);
  }
  uint64_t plen = vs_load_u64(p + 32);
  if (plen != len - BLOB_HEADER - 8) return vs_fail(VS_ERR_CORRUPT, "index blob: payload length mismatch");
  if (vs_hash64(p, len - 8) != vs_load_u64(p + len - 8)) {
    return vs_fail(VS_ERR_CORRUPT, "index blob: checksum mismatch (file corrupted)");
  }
  *type = (vs_index_type)vs_load_u32(p + 12);
  if ((unsigned)*type >= TYPE_COUNT) return vs_fail(VS_ERR_CORRUPT, "index blob: unknown type %u", (unsigned)*type);
  if (vs_load_u64(p + 16) != n || vs_load_u32(p + 24) != dim || vs_load_u32(p + 28) != (uint32_t)metric) {
    return vs_fail(VS_ERR_CORRUPT, "index blob: built for other vectors (rows, dim or metric differ)");
  }
  *payload_len = (size_t)plen;
  return VS_OK;
}

vs_status vs_index_load(const void *data, size_t len, const float *vectors, size_t n, uint32_t dim,
                        vs_metric metric, vs_index **out) {
  vs_index_type type = VS_INDEX_FLAT;
  size_t plen = 0;
  vs_index *ix = NULL;
  if (!out) return vs_fail(VS_ERR_INVALID, "out is NULL");
  *out = NULL;
  if (!data) return vs_fail(VS_ERR_INVALID, "no data");
  vs_status st = check_frame(data, len, n, dim, metric, &type, &plen);
  if (st == VS_OK) st = new_index(type, vectors, n, dim, metric, &ix);
  if (st != VS_OK) return st;
  const uint8_t *payload = (const uint8_t *)data + BLOB_HEADER;
  switch (type) {
    case VS_INDEX_FLAT: st = vs_flat_load(ix, payload, plen); break;
    case VS_INDEX_HNSW: st = vs_hnsw_load(ix, false, payload, plen); break;
    case VS_INDEX_HNSW_SQ8: st = vs_hnsw_load(ix, true, payload, plen); break;
    default: st = vs_ivf_load(ix, payload, plen); break;
  }
  return finish(st, ix, out);
}

/* ------------------------------------------------------- exact / FLAT */

vs_status vs_index_exact_search(const float *vectors, size_t n, uint32_t dim, vs_metric metric,
                                const float *query, uint32_t k, const vs_bitset *skip,
                                vs_topk *out) {
  const vs_simd_kernels *kern = vs_simd();
  float dist[256];
  float qnorm = metric == VS_METRIC_COSINE ? sqrtf(kern->ip(query, query, dim)) : 0;
  if (!vectors || !query || !out || k == 0) return vs_fail(VS_ERR_INVALID, "bad exact search arguments");
  for (size_t row = 0; row < n; row += 256) {
    size_t m = VS_MIN((size_t)256, n - row);
    const float *base = vectors + row * dim;
    if (metric == VS_METRIC_L2) {
      kern->l2sq_batch(query, base, m, dim, dist);
    } else if (metric == VS_METRIC_IP) {
      kern->ip_batch(query, base, m, dim, dist);
    } else if (qnorm > 0) {
      kern->cosine_batch(query, qnorm, base, m, dim, dist);
    } else {
      memset(dist, 0, m * sizeof *dist);
    }
    for (size_t i = 0; i < m; i++) {
      if (skip && row + i < skip->nbits && vs_bitset_test(skip, row + i)) continue;
      if (vs_topk_would_accept(out, dist[i])) vs_topk_push(out, dist[i], (int64_t)(row + i));
    }
  }
  return VS_OK;
}

static vs_status flat_search(const vs_index *ix, const float *query, uint32_t k,
                             const vs_index_search_params *p, const vs_bitset *skip, vs_topk *out,
                             vs_index_stats *stats) {
  VS_UNUSED(p);
  VS_UNUSED(k);
  if (stats) stats->distance_computations += ix->n;
  return vs_index_exact_search(ix->vectors, ix->n, ix->dim, ix->metric, query, (uint32_t)out->k, skip, out);
}

static vs_status flat_range_search(const vs_index *ix, const float *query, uint32_t limit,
                                   const vs_index_search_params *p, const vs_bitset *skip,
                                   vs_topk *out, vs_index_stats *stats) {
  const vs_simd_kernels *kern = vs_simd();
  float qnorm = ix->metric == VS_METRIC_COSINE ? sqrtf(kern->ip(query, query, ix->dim)) : 0;
  VS_UNUSED(limit);
  for (size_t row = 0; row < ix->n; row++) {
    if (skip && row < skip->nbits && vs_bitset_test(skip, row)) continue;
    const float *v = ix->vectors + row * ix->dim;
    float d;
    if (ix->metric == VS_METRIC_L2) {
      d = kern->l2sq(query, v, ix->dim);
    } else if (ix->metric == VS_METRIC_IP) {
      d = kern->ip(query, v, ix->dim);
    } else {
      d = qnorm > 0 ? kern->cosine(query, v, ix->dim) : 0;
    }
    if (vs_index_in_range(ix->metric, p, d) && vs_topk_would_accept(out, d)) vs_topk_push(out, d, (int64_t)row);
  }
  if (stats) stats->distance_computations += ix->n;
  return VS_OK;
}

static vs_status flat_serialize(const vs_index *ix, vs_buf *out) {
  VS_UNUSED(ix);
  VS_UNUSED(out);
  return VS_OK;
}

static vs_status flat_validate(const vs_index *ix) {
  VS_UNUSED(ix);
  return VS_OK;
}

static size_t flat_memory(const vs_index *ix) {
  VS_UNUSED(ix);
  return 0;
}

static void flat_free(void *impl) { VS_UNUSED(impl); }

static const vs_index_ops flat_ops = {flat_search, flat_range_search, flat_serialize,
                                      flat_validate, flat_memory, flat_free};

vs_status vs_flat_build(vs_index *ix) {
  ix->ops = &flat_ops;
  return VS_OK;
}

vs_status vs_flat_load(vs_index *ix, const uint8_t *payload, size_t len) {
  VS_UNUSED(payload);
  if (len != 0) return vs_fail(VS_ERR_CORRUPT, "FLAT index blob has a payload of %zu bytes", len);
  ix->ops = &flat_ops;
  return VS_OK;
}
