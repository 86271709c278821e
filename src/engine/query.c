/*
 * query.c -- filtered reads and writes without vectors: query (rows that
 * pass a filter, with output fields, offset and limit), count(*), and
 * delete by filter.
 *
 * All three run the same loop under the collection's read lock: pick the
 * segments of the requested partitions (sealed oldest first, then growing:
 * a stable "storage order", so offset/limit paging is repeatable while no
 * writes happen), evaluate the compiled filter into a bitset per segment
 * (filter.c folds the tombstones in), and walk the set bits.  A query stops
 * evaluating segments once `offset + limit` rows are collected.
 *
 * Delete by filter collects the matching primary keys under the read lock,
 * releases it and deletes them through vs_delete, which logs one record and
 * applies it under the write lock.  A row inserted between the two steps is
 * not deleted and a row deleted meanwhile is simply absent: the same
 * semantics as Milvus, whose delete-by-expression is a query followed by a
 * delete by keys.
 *
 * Rejected: holding the write lock across evaluation for delete (it would
 * stall every search for the length of a full scan).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "expr/expr.h"

typedef struct query_profile {
  uint64_t t_parse, t_filter, t_fetch;
  size_t segments, rows_scanned, rows_passed;
  size_t by_index;           /* segments whose bitset came from scalar indexes */
} query_profile;

/* Calls visit(ctx, seg, row) for each passing row in storage order, until
 * visit returns false.  *profile is filled. */
typedef bool (*row_visitor)(void *ctx, const vs_segment *seg, size_t row, vs_status *st);

static vs_status walk_locked(vs_collection *c, const vs_expr *expr, const uint32_t *ids,
                             size_t id_count, row_visitor visit, void *ctx,
                             query_profile *prof) {
  vs_segment **segs = NULL;
  size_t n = 0;
  vs_status st = vs_pick_segments(c, ids, id_count, &segs, &n);
  bool more = true;
  for (size_t s = 0; s < n && st == VS_OK && more; s++) {
    vs_bitset pass = {0};
    size_t count = 0;
    uint64_t t0 = vs_now_us();
    vs_filter_info info = {0};
    st = vs_filter_segment_in(c, expr, segs[s], &pass, &count, &info);
    if (info.method && strncmp(info.method, "scalar_index", 12) == 0) prof->by_index++;
    prof->t_filter += vs_now_us() - t0;
    prof->segments++;
    prof->rows_scanned += segs[s]->rows;
    prof->rows_passed += count;
    t0 = vs_now_us();
    size_t words = (pass.nbits + 63) / 64;
    for (size_t w = 0; w < words && st == VS_OK && more && count; w++) {
      uint64_t bits = pass.words[w];
      while (bits && more && st == VS_OK) {
        size_t row = w * 64 + (size_t)__builtin_ctzll(bits);
        bits &= bits - 1;
        more = visit(ctx, segs[s], row, &st);
      }
    }
    prof->t_fetch += vs_now_us() - t0;
    vs_bitset_free(&pass);
  }
  free(segs);
  return st;
}

/* Makes what a walk needs from the schema (an output plan), under the
 * walk's read lock; may be NULL. */
typedef vs_status (*walk_prepare)(void *ctx, const vs_collection *c);

/* Runs `visit` over the rows of `collection` that pass `filter`.  The
 * filter is compiled, and `prepare` run, under the read lock the walk holds:
 * the schema may gain a field (vs_add_field) between unlocked steps. */
static vs_status walk(vs_db *db, const char *collection, const char *filter,
                      const char *params_json, const char *const *partitions,
                      size_t partition_count, walk_prepare prepare, row_visitor visit,
                      void *ctx, query_profile *prof) {
  vs_collection *c = NULL;
  vs_expr *expr = NULL;
  uint32_t *ids = NULL;
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  pthread_rwlock_rdlock(&c->lock);
  uint64_t t0 = vs_now_us();
  st = vs_filter_compile(c, filter, params_json, &expr);
  prof->t_parse = vs_now_us() - t0;
  if (st == VS_OK && prepare) st = prepare(ctx, c);
  if (st == VS_OK) st = vs_partition_ids(c, partitions, partition_count, &ids);
  if (st == VS_OK) st = walk_locked(c, expr, ids, partition_count, visit, ctx, prof);
  pthread_rwlock_unlock(&c->lock);
  free(ids);
  vs_expr_free(expr);
  vs_db_release(db, c);
  return st;
}

static char *profile_text(const query_profile *p, const char *kind) {
  vs_buf b = {0};
  vs_status st = vs_buf_printf(&b,
      "{\"kind\":\"%s\",\"phases_us\":{\"parse\":%" PRIu64 ",\"plan\":0,\"filter\":%" PRIu64
      ",\"ann\":0,\"merge\":0,\"fetch\":%" PRIu64 "},\"segments_scanned\":%zu,"
      "\"segments_filtered_by_scalar_index\":%zu,"
      "\"rows_scanned\":%zu,\"rows_passed\":%zu,\"distance_computations\":0}",
      kind, p->t_parse, p->t_filter, p->t_fetch, p->segments, p->by_index, p->rows_scanned, p->rows_passed);
  if (st != VS_OK || vs_buf_append_u8(&b, 0) != VS_OK) {
    vs_buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}

/* ------------------------------------------------------------------ query */

typedef struct query_ctx {
  vs_output_plan *plan;
  const vs_query_request *req;
  vs_rows *rows;
  uint64_t skip;
  uint64_t limit;
  uint64_t taken;
} query_ctx;

static bool query_visit(void *arg, const vs_segment *seg, size_t row, vs_status *st) {
  query_ctx *q = arg;
  if (q->skip) {
    q->skip--;
    return true;
  }
  *st = vs_output_append(q->rows, q->plan, seg, row);
  q->taken++;
  return q->limit == 0 || q->taken < q->limit;
}

static vs_status query_prepare(void *arg, const vs_collection *c) {
  query_ctx *q = arg;
  vs_status st = vs_output_plan_make(c->schema, q->req->output_fields, q->req->output_count, q->plan);
  if (st == VS_OK) st = vs_output_rows_new(c->schema, q->plan, &q->rows);
  return st;
}

vs_status vs_query(vs_db *db, const char *collection, const vs_query_request *req,
                   vs_rows **out, char **profile_json) {
  if (!req || !out) return vs_fail(VS_ERR_INVALID, "NULL argument");
  *out = NULL;
  if (profile_json) *profile_json = NULL;
  vs_output_plan plan = {0};
  query_ctx q = {.plan = &plan, .req = req, .skip = req->offset, .limit = req->limit};
  query_profile prof = {0};
  vs_status st = walk(db, collection, req->filter, req->filter_params_json, req->partitions,
                      req->partition_count, query_prepare, query_visit, &q, &prof);
  if (st == VS_OK && req->profile && profile_json) {
    *profile_json = profile_text(&prof, "query");
    if (!*profile_json) st = vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  if (st == VS_OK) {
    *out = q.rows;
    q.rows = NULL;
  }
  vs_rows_free(q.rows);
  vs_output_plan_free(&plan);
  return st;
}

/* ------------------------------------------------------------------ count */

static bool count_visit(void *arg, const vs_segment *seg, size_t row, vs_status *st) {
  VS_UNUSED(seg);
  VS_UNUSED(row);
  VS_UNUSED(st);
  (*(uint64_t *)arg)++;
  return true;
}

vs_status vs_query_count(vs_db *db, const char *collection, const char *filter,
                         const char *filter_params_json, const char *const *partitions,
                         size_t partition_count, uint64_t *out) {
  if (!out) return vs_fail(VS_ERR_INVALID, "NULL argument");
  *out = 0;
  query_profile prof = {0};
  uint64_t n = 0;
  vs_status st = walk(db, collection, filter, filter_params_json, partitions, partition_count,
                      NULL, count_visit, &n, &prof);
  if (st == VS_OK) *out = n;
  return st;
}

/* ----------------------------------------------------------------- delete */

typedef struct delete_ctx {
  vs_type key_type;
  int pk_col;
  int64_t *ints;
  char **strs;
  size_t n, cap;
} delete_ctx;

static bool delete_visit(void *arg, const vs_segment *seg, size_t row, vs_status *st) {
  delete_ctx *d = arg;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 1024;
    void *p = d->key_type == VS_TYPE_INT64 ? vs_reallocarray(d->ints, cap, sizeof *d->ints)
                                           : vs_reallocarray(d->strs, cap, sizeof *d->strs);
    if (!p) {
      *st = vs_fail(VS_ERR_NOMEM, "out of memory collecting keys");
      return false;
    }
    if (d->key_type == VS_TYPE_INT64) {
      d->ints = p;
    } else {
      d->strs = p;
    }
    d->cap = cap;
  }
  const vs_colview *pk = &seg->views[d->pk_col];
  if (d->key_type == VS_TYPE_INT64) {
    d->ints[d->n++] = (int64_t)vs_load_u64(pk->fixed + row * 8);
  } else {
    char *s = vs_strndup(pk->bytes + pk->offsets[row], pk->offsets[row + 1] - pk->offsets[row]);
    if (!s) {
      *st = vs_fail(VS_ERR_NOMEM, "out of memory collecting keys");
      return false;
    }
    d->strs[d->n++] = s;
  }
  return d->n < VS_MAX_INSERT_ROWS;
}

vs_status vs_delete_where(vs_db *db, const char *collection, const char *partition,
                          const char *filter, const char *filter_params_json, uint64_t *deleted) {
  if (deleted) *deleted = 0;
  if (!filter || !filter[strspn(filter, " \t\r\n")]) {
    return vs_fail(VS_ERR_INVALID, "delete needs a filter (use \"pk >= 0\"-style filters to delete everything)");
  }
  vs_collection *c = NULL;
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  delete_ctx d = {.key_type = vs_schema_pk(vs_collection_schema(c))->type, .pk_col = c->pk_index};
  vs_db_release(db, c);
  query_profile prof = {0};
  const char *parts[1] = {partition};
  do {
    for (size_t i = 0; d.strs && i < d.n; i++) free(d.strs[i]);
    d.n = 0;
    st = walk(db, collection, filter, filter_params_json, partition ? parts : NULL, partition ? 1 : 0,
              NULL, delete_visit, &d, &prof);
    if (st != VS_OK || d.n == 0) break;
    vs_keys keys = {.count = d.n, .int_keys = d.ints, .str_keys = (const char *const *)d.strs};
    uint64_t n = 0;
    st = vs_delete(db, collection, partition, &keys, &n);
    if (deleted) *deleted += n;
  } while (st == VS_OK && d.n == VS_MAX_INSERT_ROWS);
  for (size_t i = 0; d.strs && i < d.n; i++) free(d.strs[i]);
  free(d.ints);
  free(d.strs);
  return st;
}
