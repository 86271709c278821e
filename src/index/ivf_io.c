/*
 * ivf_io.c -- the IVF payload: serialisation, the hostile-bytes loader,
 * validate(), memory accounting and freeing.
 *
 * The payload sits inside index.c's blob frame (magic, version, type, rows,
 * dim, metric, length, XXH3 checksum), which binds it to its vectors.  It
 * holds only primary data; everything derivable from it and the vectors
 * (the IVF_FLAT list copy, SQ8 code norms, PQ's transposed codebooks and
 * L2 term table, list error bounds) is recomputed by the loader, so a payload cannot smuggle in
 * inconsistent derived tables and the disk copy stays small.
 *
 * Payload layout, version 1 (little-endian; arrays packed, no padding):
 *
 *   offset  size               field
 *   0       4                  payload format version (1)
 *   4       4                  nlist (0 only when rows n = 0; else 1..min(n, 65536))
 *   8       4                  pq_m (IVF_PQ: divides dim; others 0)
 *   12      4                  pq_nbits (IVF_PQ: 1..8; others 0)
 *   16      8                  rows n (equals the frame's)
 *   24      4 * nlist * dim    centroids (f32)
 *   ..      8 * (nlist + 1)    list offsets (u64): 0 = o_0 <= o_1 <= ... <= o_nlist = n
 *   ..      4 * n              row ids grouped by list (u32), each row exactly once
 *   IVF_SQ8:
 *   ..      4 * nlist * dim    per-list minimum (f32)
 *   ..      4 * nlist * dim    per-list scale = (max - min) / 255 (f32, >= 0)
 *   ..      n * dim            codes (u8), in list order
 *   IVF_PQ:
 *   ..      4 * m * 2^nbits * dim/m   codebooks (f32), sub-space major
 *   ..      n * m              codes (u8, < 2^nbits), in list order
 *
 * The payload must end exactly after the last array.  Format history:
 * version 1 -- 0.1.0.
 *
 * The loader reads every count with the bounds-checked vs_reader, checks
 * the exact total length before allocating (all sizes are products of n,
 * dim, nlist and m, which the frame and the checks above bound), copies
 * the arrays out (the blob need not be aligned or outlive the index),
 * then runs the same structural check as validate(): offsets monotone and
 * ending at n, every row in exactly one list, codes below 2^nbits, floats
 * finite and scales non-negative.  Any failure is VS_ERR_CORRUPT with a
 * message naming the field.  Floats are stored in the host's byte order,
 * which the build requires to be little-endian (checked below).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivf_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the IVF payload stores arrays in host order and assumes a little-endian host"
#endif

#define PAYLOAD_HEADER 24u

/* ---------------------------------------------------------- free, size */

void ivf_free(void *impl) {
  ivf_index *ivf = impl;
  if (!ivf) return;
  free(ivf->centroids);
  free(ivf->offsets);
  free(ivf->ids);
  free(ivf->list_error);
  free(ivf->flat);
  free(ivf->sq_codes);
  free(ivf->sq_min);
  free(ivf->sq_scale);
  free(ivf->sq_norm);
  free(ivf->pq_codebooks);
  free(ivf->pq_columns);
  free(ivf->pq_codes);
  free(ivf->pq_term);
  free(ivf);
}

size_t ivf_memory(const vs_index *ix) {
  const ivf_index *ivf = ix->impl;
  size_t nlist = ivf->nlist, n = ivf->n, dim = ivf->dim;
  size_t bytes = sizeof *ivf + nlist * dim * sizeof(float) + (nlist + 1) * sizeof(uint64_t) +
                 n * sizeof(uint32_t);
  if (ivf->list_error) bytes += nlist * sizeof(float);
  if (ivf->flat) bytes += n * dim * sizeof(float);
  if (ivf->sq_codes) bytes += n * dim + 2 * nlist * dim * sizeof(float);
  if (ivf->sq_norm) bytes += n * sizeof(float);
  if (ivf->pq_codebooks) bytes += (size_t)ivf->pq_ksub * dim * sizeof(float) + n * ivf->pq_m;
  if (ivf->pq_columns) bytes += (size_t)ivf->pq_ksub * dim * sizeof(float);
  if (ivf->pq_term) bytes += nlist * ivf->pq_m * ivf->pq_ksub * sizeof(float);
  return bytes;
}

/* ------------------------------------------------------------ serialise */

static size_t codebook_floats(const ivf_index *ivf) { return (size_t)ivf->pq_ksub * ivf->dim; }

vs_status ivf_serialize(const vs_index *ix, vs_buf *out) {
  const ivf_index *ivf = ix->impl;
  size_t nlist = ivf->nlist, n = ivf->n, dim = ivf->dim;
  vs_status st = vs_buf_append_u32(out, IVF_FORMAT_VERSION);
  if (st == VS_OK) st = vs_buf_append_u32(out, ivf->nlist);
  if (st == VS_OK) st = vs_buf_append_u32(out, ivf->pq_m);
  if (st == VS_OK) st = vs_buf_append_u32(out, ivf->pq_nbits);
  if (st == VS_OK) st = vs_buf_append_u64(out, ivf->n);
  if (st == VS_OK) st = vs_buf_append(out, ivf->centroids, nlist * dim * sizeof(float));
  if (st == VS_OK) st = vs_buf_append(out, ivf->offsets, (nlist + 1) * sizeof(uint64_t));
  if (st == VS_OK) st = vs_buf_append(out, ivf->ids, n * sizeof(uint32_t));
  if (st == VS_OK && ivf->type == VS_INDEX_IVF_SQ8) {
    st = vs_buf_append(out, ivf->sq_min, nlist * dim * sizeof(float));
    if (st == VS_OK) st = vs_buf_append(out, ivf->sq_scale, nlist * dim * sizeof(float));
    if (st == VS_OK) st = vs_buf_append(out, ivf->sq_codes, n * dim);
  } else if (st == VS_OK && ivf->type == VS_INDEX_IVF_PQ) {
    st = vs_buf_append(out, ivf->pq_codebooks, codebook_floats(ivf) * sizeof(float));
    if (st == VS_OK) st = vs_buf_append(out, ivf->pq_codes, n * ivf->pq_m);
  }
  return st;
}

/* ------------------------------------------------------------ structure */

static vs_status check_finite(const float *v, size_t count, const char *what) {
  for (size_t i = 0; i < count; i++) {
    if (!isfinite(v[i])) return vs_fail(VS_ERR_CORRUPT, "IVF index: %s[%zu] is not finite", what, i);
  }
  return VS_OK;
}

static vs_status check_lists(const ivf_index *ivf) {
  if (ivf->offsets[0] != 0) return vs_fail(VS_ERR_CORRUPT, "IVF index: list 0 starts at %llu, not 0",
                                           (unsigned long long)ivf->offsets[0]);
  for (uint32_t l = 0; l < ivf->nlist; l++) {
    if (ivf->offsets[l + 1] < ivf->offsets[l] || ivf->offsets[l + 1] > ivf->n) {
      return vs_fail(VS_ERR_CORRUPT, "IVF index: list %u ends at %llu (starts at %llu, %zu rows)", l,
                     (unsigned long long)ivf->offsets[l + 1], (unsigned long long)ivf->offsets[l], ivf->n);
    }
  }
  if (ivf->offsets[ivf->nlist] != ivf->n) {
    return vs_fail(VS_ERR_CORRUPT, "IVF index: the lists hold %llu rows, the index has %zu",
                   (unsigned long long)ivf->offsets[ivf->nlist], ivf->n);
  }
  vs_status st = VS_OK;
  uint8_t *seen = vs_calloc(ivf->n ? ivf->n : 1, 1);
  if (!seen) return vs_fail(VS_ERR_NOMEM, "IVF index: out of memory checking %zu rows", ivf->n);
  for (size_t pos = 0; pos < ivf->n && st == VS_OK; pos++) {
    uint32_t row = ivf->ids[pos];
    if (row >= ivf->n) {
      st = vs_fail(VS_ERR_CORRUPT, "IVF index: list entry %zu names row %u of %zu", pos, row, ivf->n);
    } else if (seen[row]++) {
      st = vs_fail(VS_ERR_CORRUPT, "IVF index: row %u is listed twice (entry %zu)", row, pos);
    }
  }
  free(seen); /* n entries, n distinct rows < n: every row exactly once */
  return st;
}

static vs_status check_codes(const ivf_index *ivf) {
  size_t nlist = ivf->nlist, dim = ivf->dim;
  if (ivf->type == VS_INDEX_IVF_SQ8) {
    vs_status st = check_finite(ivf->sq_min, nlist * dim, "SQ8 minimum");
    if (st == VS_OK) st = check_finite(ivf->sq_scale, nlist * dim, "SQ8 scale");
    for (size_t i = 0; st == VS_OK && i < nlist * dim; i++) {
      if (ivf->sq_scale[i] < 0) st = vs_fail(VS_ERR_CORRUPT, "IVF index: SQ8 scale[%zu] is negative", i);
    }
    return st;
  }
  if (ivf->type != VS_INDEX_IVF_PQ) return VS_OK;
  vs_status st = check_finite(ivf->pq_codebooks, codebook_floats(ivf), "PQ codebook");
  size_t codes = ivf->n * ivf->pq_m;
  for (size_t i = 0; st == VS_OK && i < codes; i++) {
    if (ivf->pq_codes[i] >= ivf->pq_ksub) {
      st = vs_fail(VS_ERR_CORRUPT, "IVF index: PQ code %u at entry %zu, sub-space %zu exceeds %u codewords",
                   ivf->pq_codes[i], i / ivf->pq_m, i % ivf->pq_m, ivf->pq_ksub);
    }
  }
  return st;
}

static vs_status check_params(const ivf_index *ivf) {
  size_t max_nlist = VS_MIN(ivf->n, (size_t)IVF_MAX_NLIST);
  if (ivf->n == 0 ? ivf->nlist != 0 : (ivf->nlist == 0 || ivf->nlist > max_nlist)) {
    return vs_fail(VS_ERR_CORRUPT, "IVF index: nlist %u is out of range for %zu rows", ivf->nlist, ivf->n);
  }
  if (ivf->type != VS_INDEX_IVF_PQ) {
    if (ivf->pq_m || ivf->pq_nbits) return vs_fail(VS_ERR_CORRUPT, "IVF index: PQ parameters on a %s index",
                                                   vs_index_type_name(ivf->type));
    return VS_OK;
  }
  if (ivf->pq_m == 0 || ivf->pq_m > ivf->dim || ivf->dim % ivf->pq_m != 0) {
    return vs_fail(VS_ERR_CORRUPT, "IVF index: PQ m=%u does not divide the dimension %u", ivf->pq_m, ivf->dim);
  }
  if (ivf->pq_nbits == 0 || ivf->pq_nbits > IVF_MAX_NBITS) {
    return vs_fail(VS_ERR_CORRUPT, "IVF index: PQ nbits=%u is out of range 1..%u", ivf->pq_nbits, IVF_MAX_NBITS);
  }
  return VS_OK;
}

vs_status ivf_check_structure(const ivf_index *ivf) {
  vs_status st = check_params(ivf);
  if (st == VS_OK) st = check_finite(ivf->centroids, (size_t)ivf->nlist * ivf->dim, "centroid");
  if (st == VS_OK) st = check_lists(ivf);
  if (st == VS_OK) st = check_codes(ivf);
  return st;
}

vs_status ivf_validate(const vs_index *ix) {
  const ivf_index *ivf = ix->impl;
  if (!ivf || ivf->n != ix->n || ivf->dim != ix->dim || ivf->type != ix->type || ivf->metric != ix->metric) {
    return vs_fail(VS_ERR_CORRUPT, "IVF index: header does not match the index (rows, dim, type or metric)");
  }
  vs_status st = ivf_check_structure(ivf);
  if (st != VS_OK) return st;
  bool derived = ivf->type == VS_INDEX_IVF_FLAT ? ivf->flat != NULL : ivf->list_error != NULL;
  if (ivf->type == VS_INDEX_IVF_PQ && !ivf->pq_columns) derived = false;
  if (!derived || (ivf->type == VS_INDEX_IVF_SQ8 && ivf->metric == VS_METRIC_L2 && !ivf->sq_norm)) {
    return vs_fail(VS_ERR_CORRUPT, "IVF index: derived search tables are missing");
  }
  return VS_OK;
}

/* ----------------------------------------------------------------- load */

/* Bytes the payload must have after its header, or 0 on overflow. */
static size_t payload_body_size(const ivf_index *ivf) {
  size_t nlist = ivf->nlist, n = ivf->n, dim = ivf->dim, total = 0, part = 0;
  bool ok = vs_mul_ok(nlist, dim * sizeof(float), &part) && vs_add_ok(total, part, &total);
  ok = ok && vs_mul_ok(nlist + 1, sizeof(uint64_t), &part) && vs_add_ok(total, part, &total);
  ok = ok && vs_mul_ok(n, sizeof(uint32_t), &part) && vs_add_ok(total, part, &total);
  if (ivf->type == VS_INDEX_IVF_SQ8) {
    ok = ok && vs_mul_ok(nlist, 2 * dim * sizeof(float), &part) && vs_add_ok(total, part, &total);
    ok = ok && vs_mul_ok(n, dim, &part) && vs_add_ok(total, part, &total);
  } else if (ivf->type == VS_INDEX_IVF_PQ) {
    ok = ok && vs_mul_ok(codebook_floats(ivf), sizeof(float), &part) && vs_add_ok(total, part, &total);
    ok = ok && vs_mul_ok(n, ivf->pq_m, &part) && vs_add_ok(total, part, &total);
  }
  return ok ? total : 0;
}

/* Allocates `count` elements of `size` and copies them from the reader. */
static void *read_array(vs_reader *r, size_t count, size_t size) {
  size_t bytes = count * size; /* bounded by payload_body_size */
  void *dst = vs_malloc(bytes ? bytes : 1);
  const void *src = vs_read_bytes(r, bytes);
  if (!dst || !src) {
    free(dst);
    return NULL;
  }
  memcpy(dst, src, bytes);
  return dst;
}

static vs_status read_header(vs_reader *r, const vs_index *ix, ivf_index *ivf) {
  uint32_t version = vs_read_u32(r);
  ivf->nlist = vs_read_u32(r);
  ivf->pq_m = vs_read_u32(r);
  ivf->pq_nbits = vs_read_u32(r);
  uint64_t rows = vs_read_u64(r);
  if (r->failed) return vs_fail(VS_ERR_CORRUPT, "IVF index: payload of %zu bytes is too short", r->len);
  if (version == 0 || version > IVF_FORMAT_VERSION) {
    return vs_fail(VS_ERR_CORRUPT, "IVF index: payload version %u is not supported (max %u)", version,
                   IVF_FORMAT_VERSION);
  }
  if (rows != ix->n) return vs_fail(VS_ERR_CORRUPT, "IVF index: payload has %llu rows, frame %zu",
                                    (unsigned long long)rows, ix->n);
  vs_status st = check_params(ivf);
  if (st != VS_OK) return st;
  if (ivf->type == VS_INDEX_IVF_PQ) {
    ivf->pq_ksub = 1u << ivf->pq_nbits;
    ivf->pq_dsub = ivf->dim / ivf->pq_m;
  }
  size_t body = payload_body_size(ivf);
  if (body == 0 || r->len - r->pos != body) {
    return vs_fail(VS_ERR_CORRUPT, "IVF index: payload body is %zu bytes, expected %zu", r->len - r->pos, body);
  }
  return VS_OK;
}

static vs_status read_arrays(vs_reader *r, ivf_index *ivf) {
  size_t nlist = ivf->nlist, n = ivf->n, dim = ivf->dim;
  ivf->centroids = read_array(r, nlist * dim, sizeof(float));
  ivf->offsets = read_array(r, nlist + 1, sizeof(uint64_t));
  ivf->ids = read_array(r, n, sizeof(uint32_t));
  bool ok = ivf->centroids && ivf->offsets && ivf->ids;
  if (ivf->type == VS_INDEX_IVF_SQ8) {
    ivf->sq_min = read_array(r, nlist * dim, sizeof(float));
    ivf->sq_scale = read_array(r, nlist * dim, sizeof(float));
    ivf->sq_codes = read_array(r, n, dim);
    ok = ok && ivf->sq_min && ivf->sq_scale && ivf->sq_codes;
  } else if (ivf->type == VS_INDEX_IVF_PQ) {
    ivf->pq_codebooks = read_array(r, codebook_floats(ivf), sizeof(float));
    ivf->pq_codes = read_array(r, n, ivf->pq_m);
    ok = ok && ivf->pq_codebooks && ivf->pq_codes;
  }
  if (r->failed) return vs_fail(VS_ERR_CORRUPT, "IVF index: payload ends early");
  return ok ? VS_OK : vs_fail(VS_ERR_NOMEM, "IVF index: out of memory loading %zu rows", n);
}

vs_status vs_ivf_load(vs_index *ix, const uint8_t *payload, size_t len) {
  if (ix->type != VS_INDEX_IVF_FLAT && ix->type != VS_INDEX_IVF_SQ8 && ix->type != VS_INDEX_IVF_PQ) {
    return vs_fail(VS_ERR_CORRUPT, "IVF loader called for index type %d", (int)ix->type);
  }
  ivf_index *ivf = vs_calloc(1, sizeof *ivf);
  if (!ivf) return vs_fail(VS_ERR_NOMEM, "IVF index: out of memory");
  ivf->type = ix->type;
  ivf->metric = ix->metric;
  ivf->dim = ix->dim;
  ivf->n = ix->n;
  ix->ops = &vs_ivf_ops; /* from here index.c frees ivf on failure */
  ix->impl = ivf;
  vs_reader r;
  vs_reader_init(&r, payload, len);
  vs_status st = read_header(&r, ix, ivf);
  if (st == VS_OK) st = read_arrays(&r, ivf);
  if (st == VS_OK) st = ivf_check_structure(ivf);
  if (st == VS_OK) st = ivf_derive(ivf, ix->vectors, NULL, 0);
  return st;
}
