/*
 * result.c -- the vs_result handle of searches and hybrid searches: a flat
 * array of k slots per query (distances, keys), the hit counts, and the
 * output rows in hit order.
 */
#include <math.h>
#include <stdlib.h>

#include "engine/engine_internal.h"

vs_status vs_result_alloc(vs_result **out, size_t nq, uint32_t k, bool str_keys) {
  vs_result *r = vs_calloc(1, sizeof *r);
  size_t slots;
  if (!r || !vs_mul_ok(nq, k, &slots)) goto nomem;
  r->nq = nq;
  r->k = k;
  r->counts = vs_calloc(nq, sizeof *r->counts);
  r->row_base = vs_calloc(nq + 1, sizeof *r->row_base);
  r->dist = vs_calloc(slots + 1, sizeof *r->dist);
  r->ids = vs_calloc(slots + 1, sizeof *r->ids);
  if (str_keys) r->str_ids = vs_calloc(slots + 1, sizeof *r->str_ids);
  if (!r->counts || !r->row_base || !r->dist || !r->ids || (str_keys && !r->str_ids)) goto nomem;
  *out = r;
  return VS_OK;
nomem:
  vs_result_free(r);
  return vs_fail(VS_ERR_NOMEM, "out of memory for %zu x %u results", nq, k);
}

const char *vs_result_profile(const vs_result *r) { return r ? r->profile : NULL; }



void vs_result_free(vs_result *r) {
  if (!r) return;
  if (r->str_ids) {
    for (size_t i = 0; i < r->nq * r->k; i++) free(r->str_ids[i]);
  }
  free(r->str_ids);
  free(r->counts);
  free(r->row_base);
  free(r->dist);
  free(r->ids);
  vs_rows_free(r->rows);
  free(r->profile);
  free(r);
}

size_t vs_result_nq(const vs_result *r) { return r ? r->nq : 0; }

size_t vs_result_hits(const vs_result *r, size_t q) {
  return r && q < r->nq ? r->counts[q] : 0;
}

static bool hit_ok(const vs_result *r, size_t q, size_t i) {
  return r && q < r->nq && i < r->counts[q];
}

float vs_result_distance(const vs_result *r, size_t q, size_t i) {
  return hit_ok(r, q, i) ? r->dist[q * r->k + i] : NAN;
}

int64_t vs_result_id(const vs_result *r, size_t q, size_t i) {
  return hit_ok(r, q, i) ? r->ids[q * r->k + i] : 0;
}

const char *vs_result_id_str(const vs_result *r, size_t q, size_t i) {
  return hit_ok(r, q, i) && r->str_ids ? r->str_ids[q * r->k + i] : NULL;
}

const vs_rows *vs_result_rows(const vs_result *r) { return r ? r->rows : NULL; }

size_t vs_result_row_index(const vs_result *r, size_t q, size_t i) {
  return hit_ok(r, q, i) ? r->row_base[q] + i : SIZE_MAX;
}
