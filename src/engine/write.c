/*
 * write.c -- insert, upsert and delete: the write path.
 *
 *   validate + normalize (no lock) -> assign autoIDs -> encode the record
 *   -> write lock: re-check partition and keys, append to the WAL, apply to
 *      the growing segments and the key index -> unlock
 *   -> wait until the record is durable (group commit) -> acknowledge
 *   -> seal or compact if a threshold was passed.
 *
 * Appending to the WAL under the write lock makes LSN order equal apply
 * order, which is what replay reproduces.  The fsync happens after the lock
 * is released, so concurrent writers share one fsync.  A write that is
 * validated fails before the WAL sees it, so a rejected call changes
 * nothing.  If applying a logged record fails (out of memory), memory and
 * log disagree: the collection turns read-only (`failed`) and the next open
 * replays the record.
 *
 * Records (payload of a WAL record, little-endian):
 *   INSERT / UPSERT   u32 partition id, u32 0, normalized batch
 *                     (vs_batch_encode)
 *   DELETE            u32 partition id (UINT32_MAX = all), u32 key type
 *                     (5 Int64 / 21 VarChar), u64 count, then count x i64,
 *                     or count x (u32 length, bytes)
 *
 * Primary keys are unique: inserting a key that exists is an error (use
 * upsert).  Milvus instead keeps both rows and leaves which one a query sees
 * undefined; we chose the behaviour a database user expects.  On replay an
 * insert of an existing key replaces it, since the log is the truth.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

/* Appends the rows of a normalized batch to the growing segments of
 * `partition`, routed to shards by key hash, and indexes their keys.  With
 * `replace`, existing rows with the same keys are deleted first. */
static vs_status apply_rows(vs_collection *c, uint32_t partition,
                            const vs_rows *batch, bool replace) {
  vs_status st = VS_OK;
  size_t n = batch->n;
  vs_colview key;
  uint64_t *hash = vs_calloc(n + 1, sizeof *hash);
  uint32_t *idx = vs_calloc(n + 1, sizeof *idx);
  if (!hash || !idx) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory applying a write");
    goto done;
  }
  vs_column_view(&batch->cols[c->pk_index], &key);
  for (size_t i = 0; i < n; i++) {
    vs_pk_location loc;
    hash[i] = vs_pk_hash(&key, i);
    if (replace && vs_pkindex_find(&c->pks, &key, i, hash[i], &loc)) {
      if (vs_segment_mark_deleted(loc.seg, loc.row)) c->live_rows--;
    }
  }
  for (uint32_t s = 0; s < c->shards && st == VS_OK; s++) {
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
      if (hash[i] % c->shards == s) idx[cnt++] = (uint32_t)i;
    }
    if (cnt == 0) continue;
    vs_segment *g = NULL;
    st = vs_collection_growing(c, partition, s, &g);
    size_t base = g ? g->rows : 0;
    if (st == VS_OK) st = vs_segment_append(g, batch, idx, cnt);
    for (size_t j = 0; j < cnt && st == VS_OK; j++) {
      vs_pk_location loc = {g, (uint32_t)(base + j)};
      st = vs_pkindex_put(&c->pks, &g->views[c->pk_index], base + j, hash[idx[j]], loc);
    }
    c->live_rows += cnt;
  }
  c->growing_rows += n;
  c->growing_bytes += vs_rows_memory(batch);
done:
  free(hash);
  free(idx);
  return st;
}

/* Keeps the autoID counter above every key in the batch (upserts carry
 * keys of their own; replay sees keys assigned before a crash). */
static void note_auto_ids(vs_collection *c, const vs_rows *batch) {
  const vs_field *pk = vs_schema_pk(c->schema);
  if (!pk->auto_id || pk->type != VS_TYPE_INT64) return;
  const int64_t *ids = (const int64_t *)batch->cols[c->pk_index].fixed.data;
  int64_t top = INT64_MIN;
  for (size_t i = 0; i < batch->n; i++) top = VS_MAX(top, ids[i]);
  if (top == INT64_MAX || batch->n == 0) return;
  int64_t seen = __atomic_load_n(&c->next_auto_id, __ATOMIC_RELAXED);
  while (seen <= top &&
         !__atomic_compare_exchange_n(&c->next_auto_id, &seen, top + 1, false,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

/* ------------------------------------------------------------- deletes */

typedef struct key_list {
  vs_colview view;
  int64_t *ints;
  uint64_t *offsets;
  char *bytes;
} key_list;

static void key_list_free(key_list *k) {
  free(k->ints);
  free(k->offsets);
  free(k->bytes);
}

static vs_status key_list_from_keys(const vs_collection *c, const vs_keys *keys,
                                    key_list *out) {
  memset(out, 0, sizeof *out);
  return vs_keys_view(c, keys, &out->view, &out->offsets, &out->bytes);
}

static vs_status encode_delete(uint32_t partition, const vs_colview *keys,
                               vs_buf *out) {
  vs_status st = vs_buf_append_u32(out, partition);
  if (st == VS_OK) st = vs_buf_append_u32(out, (uint32_t)keys->type);
  if (st == VS_OK) st = vs_buf_append_u64(out, keys->n);
  for (size_t i = 0; i < keys->n && st == VS_OK; i++) {
    if (keys->type == VS_TYPE_INT64) {
      st = vs_buf_append_u64(out, vs_load_u64(keys->fixed + i * 8));
    } else {
      uint64_t len = keys->offsets[i + 1] - keys->offsets[i];
      st = vs_buf_append_u32(out, (uint32_t)len);
      if (st == VS_OK) st = vs_buf_append(out, keys->bytes + keys->offsets[i], len);
    }
  }
  return st;
}

static vs_status decode_delete(const vs_collection *c, const uint8_t *p,
                               size_t len, uint32_t *partition, key_list *out) {
  vs_reader r;
  vs_reader_init(&r, p, len);
  memset(out, 0, sizeof *out);
  *partition = vs_read_u32(&r);
  uint32_t type = vs_read_u32(&r);
  uint64_t n = vs_read_u64(&r);
  if (r.failed || type != (uint32_t)vs_schema_pk(c->schema)->type || n > len) {
    return vs_fail(VS_ERR_CORRUPT, "bad delete record header");
  }
  out->view.type = (vs_type)type;
  out->view.n = (size_t)n;
  if (type == VS_TYPE_INT64) {
    out->ints = vs_calloc((size_t)n + 1, sizeof *out->ints);
    for (size_t i = 0; out->ints && i < n; i++) out->ints[i] = (int64_t)vs_read_u64(&r);
    out->view.fixed = (const uint8_t *)out->ints;
  } else {
    out->offsets = vs_calloc((size_t)n + 1, sizeof *out->offsets);
    out->bytes = vs_malloc(len);
    for (size_t i = 0; out->offsets && out->bytes && i < n && !r.failed; i++) {
      uint32_t klen = vs_read_u32(&r);
      const void *kb = vs_read_bytes(&r, klen);
      if (!kb) break;
      memcpy(out->bytes + out->offsets[i], kb, klen);
      out->offsets[i + 1] = out->offsets[i] + klen;
    }
    out->view.offsets = out->offsets;
    out->view.bytes = out->bytes;
  }
  if (!(out->ints || (out->offsets && out->bytes))) return vs_fail(VS_ERR_NOMEM, "out of memory");
  return r.failed || r.pos != len ? vs_fail(VS_ERR_CORRUPT, "bad delete record keys") : VS_OK;
}

/* Deletes the keys that exist (in `partition`, or any); returns how many. */
static uint64_t apply_delete(vs_collection *c, uint32_t partition,
                             const vs_colview *keys) {
  uint64_t deleted = 0;
  for (size_t i = 0; i < keys->n; i++) {
    vs_pk_location loc;
    uint64_t h = vs_pk_hash(keys, i);
    if (!vs_pkindex_find(&c->pks, keys, i, h, &loc)) continue;
    if (partition != VS_ALL_PARTITIONS && loc.seg->partition != partition) continue;
    vs_pkindex_remove(&c->pks, keys, i, h);
    if (vs_segment_mark_deleted(loc.seg, loc.row)) {
      c->live_rows--;
      deleted++;
    }
  }
  return deleted;
}

static uint64_t count_present(vs_collection *c, uint32_t partition,
                              const vs_colview *keys) {
  uint64_t present = 0;
  for (size_t i = 0; i < keys->n; i++) {
    vs_pk_location loc;
    if (vs_pkindex_find(&c->pks, keys, i, vs_pk_hash(keys, i), &loc) &&
        (partition == VS_ALL_PARTITIONS || loc.seg->partition == partition)) {
      present++;
    }
  }
  return present;
}

/* ---------------------------------------------------------------- replay */

static vs_status apply_batch_record(vs_collection *c, uint32_t type,
                                    const uint8_t *payload, size_t len) {
  vs_rows *batch = NULL;
  if (len < 8) return vs_fail(VS_ERR_CORRUPT, "short insert record");
  uint32_t partition = vs_load_u32(payload);
  vs_status st = vs_batch_decode(c->schema, payload + 8, len - 8, &batch);
  if (st != VS_OK) return st;
  if (vs_collection_has_partition_id(c, partition)) {
    st = apply_rows(c, partition, batch, true);
    if (st == VS_OK) note_auto_ids(c, batch);
  }
  vs_rows_free(batch);
  VS_UNUSED(type);
  return st;
}

vs_status vs_collection_apply(vs_collection *c, uint32_t type,
                              const uint8_t *payload, size_t len, bool replay) {
  VS_UNUSED(replay);
  if (type == VS_REC_INSERT || type == VS_REC_UPSERT) {
    return apply_batch_record(c, type, payload, len);
  }
  if (type != VS_REC_DELETE) {
    return vs_fail(VS_ERR_CORRUPT, "unknown WAL record type %u", type);
  }
  key_list keys;
  uint32_t partition;
  vs_status st = decode_delete(c, payload, len, &partition, &keys);
  if (st == VS_OK) apply_delete(c, partition, &keys.view);
  key_list_free(&keys);
  return st;
}

/* ------------------------------------------------------------ public API */

static vs_status resolve_partition(vs_collection *c, const char *name,
                                   uint32_t *id) {
  const char *want = name ? name : VS_DEFAULT_PARTITION;
  pthread_rwlock_rdlock(&c->lock);
  int i = vs_collection_partition_index(c, want);
  if (i >= 0) *id = c->partitions[i].id;
  pthread_rwlock_unlock(&c->lock);
  if (i < 0) {
    return vs_fail(VS_ERR_PARTITION_NOT_FOUND, "partition '%s' not found in collection '%s'",
                   want, c->name);
  }
  return VS_OK;
}

static vs_status writable(const vs_db *db, const vs_collection *c) {
  if (db->opt.read_only) return vs_fail(VS_ERR_UNSUPPORTED, "the database is open read-only");
  if (c->dropped) return vs_fail(VS_ERR_NOT_FOUND, "collection '%s' was dropped", c->name);
  if (c->failed) {
    return vs_fail(VS_ERR_IO, "collection '%s' is read-only after a failed write; reopen the database",
                   c->name);
  }
  return VS_OK;
}

/* Under the write lock: the first key of the batch that exists already. */
static vs_status check_new_keys(vs_collection *c, const vs_rows *batch) {
  vs_colview key;
  vs_column_view(&batch->cols[c->pk_index], &key);
  for (size_t i = 0; i < batch->n; i++) {
    vs_pk_location loc;
    if (!vs_pkindex_find(&c->pks, &key, i, vs_pk_hash(&key, i), &loc)) continue;
    const vs_field *pk = vs_schema_pk(c->schema);
    if (pk->type == VS_TYPE_INT64) {
      return vs_fail(VS_ERR_DATA, "row %zu: primary key %" PRId64 " already exists (use upsert to replace it)",
                     i, (int64_t)vs_load_u64(key.fixed + i * 8));
    }
    return vs_fail(VS_ERR_DATA, "row %zu: primary key '%.*s' already exists (use upsert to replace it)",
                   i, (int)(key.offsets[i + 1] - key.offsets[i]), key.bytes + key.offsets[i]);
  }
  return VS_OK;
}

static bool wants_seal(const vs_collection *c) {
  const vs_options *o = &c->db->opt;
  return c->growing_rows >= o->seal_rows || c->growing_bytes >= o->seal_bytes;
}

/* After an acknowledged write: seal or compact when a threshold is passed.
 * Failures are logged, not returned: the write itself is durable. */
static void after_write(vs_collection *c, bool seal, bool compact) {
  if (seal) {
    pthread_mutex_lock(&c->maintenance);
    pthread_rwlock_wrlock(&c->lock);
    vs_status st = wants_seal(c) ? vs_collection_flush_locked(c) : VS_OK;
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->maintenance);
    if (st != VS_OK) vs_log(VS_LOG_WARN, "write", "sealing '%s' failed: %s", c->name, vs_error_message());
  }
  if (compact && c->db->opt.auto_compact) {
    vs_status st = vs_collection_compact(c, false);
    if (st != VS_OK) vs_log(VS_LOG_WARN, "write", "compacting '%s' failed: %s", c->name, vs_error_message());
  }
}

/* Logs and applies one record under the write lock. */
static vs_status log_and_apply(vs_collection *c, uint32_t type, const vs_buf *payload,
                               uint32_t partition, const vs_rows *batch,
                               uint64_t *lsn, bool *seal) {
  vs_status st = vs_wal_append(c->wal, type, payload->data, payload->len, lsn);
  if (st != VS_OK) return st;
  st = apply_rows(c, partition, batch, type == VS_REC_UPSERT);
  if (st != VS_OK) {
    c->failed = true;
    return vs_fail_prefix(st, "collection '%s' could not apply a logged write", c->name);
  }
  if (type == VS_REC_UPSERT) note_auto_ids(c, batch);
  c->applied_lsn = *lsn;
  *seal = wants_seal(c);
  return VS_OK;
}

/* Normalizes and encodes `rows` against `schema` (a snapshot of the
 * collection's, taken with no lock: the caller checks under the write lock
 * that it is still the current one). */
static vs_status prepare_batch(vs_collection *c, const vs_schema *schema, const vs_rows *rows,
                               vs_write_kind kind, uint32_t partition, vs_rows **batch,
                               vs_buf *payload, int64_t *first_auto) {
  vs_status st = vs_batch_normalize(schema, rows, kind, VS_MAX_INSERT_ROWS, batch);
  if (st != VS_OK) return st;
  const vs_field *pk = vs_schema_pk(schema);
  *first_auto = 0;
  if (kind == VS_WRITE_INSERT && pk->auto_id) {
    *first_auto = __atomic_fetch_add(&c->next_auto_id, (int64_t)(*batch)->n, __ATOMIC_RELAXED);
    vs_batch_set_auto_ids(*batch, schema, *first_auto);
  }
  st = vs_buf_append_u32(payload, partition);
  if (st == VS_OK) st = vs_buf_append_u32(payload, 0);
  if (st == VS_OK) st = vs_batch_encode(*batch, payload);
  if (st == VS_OK && payload->len > VS_MAX_RECORD_BYTES) {
    st = vs_fail(VS_ERR_LIMIT, "the batch encodes to %zu bytes, more than the %zu-byte limit of one write; split it",
                 payload->len, VS_MAX_RECORD_BYTES);
  }
  return st;
}

static vs_status write_rows(vs_db *db, const char *collection, const char *partition,
                            const vs_rows *rows, vs_write_kind kind, vs_write_info *info) {
  vs_collection *c = NULL;
  vs_rows *batch = NULL;
  vs_buf payload = {0};
  uint32_t part = 0;
  uint64_t lsn = 0;
  int64_t first_auto = 0;
  bool seal = false;
  if (!rows) return vs_fail(VS_ERR_INVALID, "rows is NULL");
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  st = writable(db, c);
  if (st == VS_OK) st = resolve_partition(c, partition, &part);
  for (;;) {
    const vs_schema *schema = vs_collection_schema(c);
    if (st == VS_OK) st = prepare_batch(c, schema, rows, kind, part, &batch, &payload, &first_auto);
    if (st != VS_OK) goto done;
    if (vs_test_hooks.after_normalize) vs_test_hooks.after_normalize(vs_test_hooks.arg);
    if (batch->n == 0) { /* nothing to log */
      if (info) memset(info, 0, sizeof *info);
      goto done;
    }
    pthread_rwlock_wrlock(&c->lock);
    if (c->schema == schema) break;
    /* a field was added meanwhile: normalize again (rarely taken; an
     * autoID batch takes new ids, leaving a gap, as a failed insert does) */
    pthread_rwlock_unlock(&c->lock);
    vs_rows_free(batch);
    batch = NULL;
    payload.len = 0;
  }
  st = writable(db, c);
  if (st == VS_OK && !vs_collection_has_partition_id(c, part)) {
    st = vs_fail(VS_ERR_PARTITION_NOT_FOUND, "partition '%s' was dropped", partition);
  }
  if (st == VS_OK && kind == VS_WRITE_INSERT) st = check_new_keys(c, batch);
  uint32_t type = kind == VS_WRITE_INSERT ? VS_REC_INSERT : VS_REC_UPSERT;
  if (st == VS_OK) st = log_and_apply(c, type, &payload, part, batch, &lsn, &seal);
  pthread_rwlock_unlock(&c->lock);
  if (st == VS_OK) st = vs_wal_sync(c->wal, lsn);
  if (st != VS_OK) goto done;
  if (info) {
    info->rows = batch->n;
    info->first_auto_id = first_auto;
    info->lsn = lsn;
  }
  after_write(c, seal, false);
done:
  vs_rows_free(batch);
  vs_buf_free(&payload);
  vs_db_release(db, c);
  return st;
}

vs_status vs_insert(vs_db *db, const char *collection, const char *partition,
                    const vs_rows *rows, vs_write_info *info) {
  return write_rows(db, collection, partition, rows, VS_WRITE_INSERT, info);
}

vs_status vs_upsert(vs_db *db, const char *collection, const char *partition,
                    const vs_rows *rows, vs_write_info *info) {
  return write_rows(db, collection, partition, rows, VS_WRITE_UPSERT, info);
}

static vs_status delete_locked(vs_collection *c, uint32_t part, const key_list *keys,
                               uint64_t *deleted, uint64_t *lsn, bool *compact) {
  vs_buf payload = {0};
  vs_status st = writable(c->db, c);
  if (st != VS_OK) return st;
  if (part != VS_ALL_PARTITIONS && !vs_collection_has_partition_id(c, part)) {
    return vs_fail(VS_ERR_PARTITION_NOT_FOUND, "partition was dropped");
  }
  if (count_present(c, part, &keys->view) == 0) return VS_OK;
  st = encode_delete(part, &keys->view, &payload);
  if (st == VS_OK) st = vs_wal_append(c->wal, VS_REC_DELETE, payload.data, payload.len, lsn);
  if (st == VS_OK) {
    *deleted = apply_delete(c, part, &keys->view);
    c->applied_lsn = *lsn;
    *compact = vs_collection_wants_compaction(c);
  }
  vs_buf_free(&payload);
  return st;
}

vs_status vs_delete(vs_db *db, const char *collection, const char *partition,
                    const vs_keys *keys, uint64_t *deleted) {
  vs_collection *c = NULL;
  key_list list = {0};
  uint32_t part = VS_ALL_PARTITIONS;
  uint64_t lsn = 0, count = 0;
  bool compact = false;
  if (!keys) return vs_fail(VS_ERR_INVALID, "keys is NULL");
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  if (partition) st = resolve_partition(c, partition, &part);
  if (st == VS_OK) st = key_list_from_keys(c, keys, &list);
  if (st != VS_OK) goto done;
  pthread_rwlock_wrlock(&c->lock);
  st = delete_locked(c, part, &list, &count, &lsn, &compact);
  pthread_rwlock_unlock(&c->lock);
  if (st == VS_OK && lsn) st = vs_wal_sync(c->wal, lsn);
  if (st == VS_OK) {
    if (deleted) *deleted = count;
    after_write(c, false, compact);
  }
done:
  key_list_free(&list);
  vs_db_release(db, c);
  return st;
}
