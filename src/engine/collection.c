/*
 * collection.c -- a collection's life: its MANIFEST, recovery, sealing
 * (flush), compaction and partitions.
 *
 * State of a collection = its MANIFEST (schema, partitions, sealed segment
 * files and their deletes files, and the WAL position `checkpoint_lsn` they
 * cover) + the WAL records after that position.  Opening reads the MANIFEST,
 * maps the sealed segments, rebuilds the primary-key index from their key
 * columns and replays the WAL into growing segments.  Files in the
 * directory that the MANIFEST does not name (a seal or compaction that
 * crashed before its MANIFEST swap) are deleted at open.
 *
 * Sealing (vs_collection_flush_locked) writes every growing segment as a
 * sealed file, saves changed tombstones as new deletes files, then swaps in
 * a MANIFEST whose checkpoint is the last applied LSN, and only then lets
 * the WAL drop files.  A crash at any point leaves either the old MANIFEST
 * (and the WAL that still holds everything after it) or the new one.
 *
 * Compaction rewrites a sealed segment without its deleted rows.  It builds
 * the new file while searches and writes go on (sealed segments are
 * immutable; it works from a snapshot of the tombstones), then takes the
 * write lock only to carry over deletes that arrived meanwhile, repoint the
 * key index and swap the MANIFEST.  Deletes files written at that point may
 * hold deletes newer than the checkpoint; replaying those WAL records again
 * is harmless because a delete of a missing key does nothing.
 *
 * Locking: `lock` (rwlock) guards all in-memory state; `maintenance`
 * serialises flush, compaction and partition DDL so that two of them never
 * interleave their MANIFEST writes.  Order: maintenance, then lock.
 *
 * MANIFEST payload (checked file "VSMANv01", version 1), JSON:
 *   {"name","shards","schema",{...}, "checkpoint_lsn", "next_segment_id",
 *    "next_auto_id", "next_partition_id",
 *    "partitions":[{"id","name"}],
 *    "segments":[{"id","shard","partition","file","rows","deletes"}]}
 * JSON was chosen over a binary record list because the MANIFEST is small,
 * rewritten rarely, and a human debugging a data directory can read it.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/engine_internal.h"

char *vs_collection_dir_name(uint32_t id) {
  char name[32];
  snprintf(name, sizeof name, "c%06u", id);
  return vs_strdup(name);
}

int vs_collection_partition_index(const vs_collection *c, const char *name) {
  for (size_t i = 0; i < c->partition_count; i++) {
    if (strcmp(c->partitions[i].name, name) == 0) return (int)i;
  }
  return -1;
}

bool vs_collection_has_partition_id(const vs_collection *c, uint32_t id) {
  for (size_t i = 0; i < c->partition_count; i++) {
    if (c->partitions[i].id == id) return true;
  }
  return false;
}

static vs_status add_partition(vs_collection *c, uint32_t id,
                               const char *name) {
  vs_partition *p = vs_reallocarray(c->partitions, c->partition_count + 1,
                                    sizeof *p);
  if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory adding a partition");
  c->partitions = p;
  p[c->partition_count].id = id;
  p[c->partition_count].name = vs_strdup(name);
  if (!p[c->partition_count].name) return vs_fail(VS_ERR_NOMEM, "out of memory");
  c->partition_count++;
  if (id >= c->next_partition_id) c->next_partition_id = id + 1;
  return VS_OK;
}

static vs_status add_sealed(vs_collection *c, vs_segment *seg) {
  if (c->sealed_count == c->sealed_cap) {
    size_t cap = c->sealed_cap ? c->sealed_cap * 2 : 16;
    vs_segment **p = vs_reallocarray(c->sealed, cap, sizeof *p);
    if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory adding a segment");
    c->sealed = p;
    c->sealed_cap = cap;
  }
  c->sealed[c->sealed_count++] = seg;
  return VS_OK;
}

vs_status vs_collection_growing(vs_collection *c, uint32_t partition,
                                uint32_t shard, vs_segment **out) {
  for (size_t i = 0; i < c->growing_count; i++) {
    vs_segment *g = c->growing[i];
    if (g->partition == partition && g->shard == shard) {
      *out = g;
      return VS_OK;
    }
  }
  if (c->growing_count == c->growing_cap) {
    size_t cap = c->growing_cap ? c->growing_cap * 2 : 8;
    vs_segment **p = vs_reallocarray(c->growing, cap, sizeof *p);
    if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory adding a segment");
    c->growing = p;
    c->growing_cap = cap;
  }
  uint64_t id = atomic_fetch_add(&c->next_segment_id, 1);
  vs_status st = vs_segment_new_growing(c->schema, id, shard, partition, out);
  if (st == VS_OK) c->growing[c->growing_count++] = *out;
  return st;
}

/* ---------------------------------------------------------------- MANIFEST */

static json_t *segments_json(const vs_collection *c) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < c->sealed_count; i++) {
    const vs_segment *s = c->sealed[i];
    json_t *o = json_pack("{s:I,s:i,s:i,s:s,s:I}", "id", (json_int_t)s->id,
                          "shard", (int)s->shard, "partition", (int)s->partition,
                          "file", s->file_name, "rows", (json_int_t)s->rows);
    if (!o) goto fail;
    json_object_set_new(o, "deletes",
                        s->deletes_file ? json_string(s->deletes_file) : json_null());
    json_object_set_new(o, "indexes", vs_segment_indexes_to_json(c, s));
    json_array_append_new(list, o);
  }
  return list;
fail:
  json_decref(list);
  return NULL;
}

static json_t *partitions_json(const vs_collection *c) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < c->partition_count; i++) {
    json_array_append_new(list, json_pack("{s:i,s:s}", "id", (int)c->partitions[i].id,
                                          "name", c->partitions[i].name));
  }
  return list;
}

static vs_status manifest_payload(const vs_collection *c, const vs_schema *schema_now, char **out) {
  char *schema_text = NULL;
  json_t *root = NULL;
  json_error_t err;
  vs_status st = vs_schema_to_json(schema_now, &schema_text);
  if (st != VS_OK) return st;
  json_t *schema = json_loads(schema_text, 0, &err);
  root = json_pack("{s:s,s:i,s:o,s:I,s:I,s:I,s:I,s:i,s:o,s:o,s:o}", "name", c->name,
                   "shards", (int)c->shards, "schema", schema, "checkpoint_lsn",
                   (json_int_t)c->checkpoint_lsn, "durable_lsn", (json_int_t)c->durable_lsn,
                   "next_segment_id",
                   (json_int_t)atomic_load(&c->next_segment_id), "next_auto_id",
                   (json_int_t)__atomic_load_n(&c->next_auto_id, __ATOMIC_RELAXED), "next_partition_id",
                   (int)c->next_partition_id, "partitions", partitions_json(c),
                   "segments", segments_json(c), "indexes", vs_index_defs_to_json(c));
  vs_free(schema_text);
  if (!root) return vs_fail(VS_ERR_NOMEM, "out of memory writing the MANIFEST");
  *out = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
  json_decref(root);
  return *out ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory writing the MANIFEST");
}

vs_status vs_collection_write_manifest(vs_collection *c) {
  return vs_collection_write_manifest_schema(c, c->schema);
}

vs_engine_hooks vs_test_hooks;

vs_status vs_collection_write_manifest_schema(vs_collection *c, const vs_schema *schema) {
  char *text = NULL;
  char *path = vs_fs_join(c->dir, VS_MANIFEST_FILE);
  vs_status st = path ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st == VS_OK && vs_test_hooks.before_manifest) st = vs_test_hooks.before_manifest(vs_test_hooks.arg, c, schema);
  /* Write-ahead rule: deletes files about to be named may reflect records
   * up to applied_lsn; those records must be durable first. */
  if (st == VS_OK && c->wal && c->applied_lsn > 0) st = vs_wal_flush(c->wal, c->applied_lsn);
  if (st == VS_OK) {
    c->durable_lsn = VS_MAX(c->durable_lsn, c->applied_lsn);
    st = manifest_payload(c, schema, &text);
  }
  if (st == VS_OK) {
    st = vs_checked_file_write(path, VS_MANIFEST_MAGIC, VS_MANIFEST_VERSION,
                               text, strlen(text));
  }
  free(text);
  free(path);
  return st;
}

/* A file name from the MANIFEST must be a plain name in the directory. */
static bool safe_file_name(const char *name) {
  if (!name || !name[0] || strlen(name) > 128 || name[0] == '.') return false;
  return strchr(name, '/') == NULL;
}

static vs_status manifest_error(const vs_collection *c, const char *what) {
  return vs_fail(VS_ERR_CORRUPT, "MANIFEST of collection in %s: %s", c->dir, what);
}

static vs_status load_partitions(vs_collection *c, json_t *list) {
  size_t i;
  json_t *p;
  if (!json_is_array(list) || json_array_size(list) == 0 ||
      json_array_size(list) > VS_MAX_PARTITIONS) {
    return manifest_error(c, "bad partition list");
  }
  json_array_foreach(list, i, p) {
    json_t *id = json_object_get(p, "id");
    json_t *name = json_object_get(p, "name");
    if (!json_is_integer(id) || !json_is_string(name) || json_integer_value(id) < 0 ||
        json_integer_value(id) >= (json_int_t)UINT32_MAX ||
        json_string_length(name) > VS_MAX_NAME) {
      return manifest_error(c, "bad partition entry");
    }
    vs_status st = add_partition(c, (uint32_t)json_integer_value(id), json_string_value(name));
    if (st != VS_OK) return st;
  }
  return vs_collection_partition_index(c, VS_DEFAULT_PARTITION) < 0
             ? manifest_error(c, "no _default partition")
             : VS_OK;
}

static vs_status load_segment(vs_collection *c, json_t *o) {
  json_t *id = json_object_get(o, "id");
  json_t *shard = json_object_get(o, "shard");
  json_t *part = json_object_get(o, "partition");
  const char *file = json_string_value(json_object_get(o, "file"));
  json_t *del = json_object_get(o, "deletes");
  json_t *rows = json_object_get(o, "rows");
  vs_segment *seg = NULL;
  if (!json_is_integer(id) || json_integer_value(id) < 0 || !json_is_integer(shard) ||
      json_integer_value(shard) < 0 || json_integer_value(shard) >= (json_int_t)c->shards ||
      !json_is_integer(part) || !vs_collection_has_partition_id(c, (uint32_t)json_integer_value(part)) ||
      !safe_file_name(file) || !json_is_integer(rows) ||
      (!json_is_null(del) && !safe_file_name(json_string_value(del)))) {
    return manifest_error(c, "bad segment entry");
  }
  vs_status st = vs_segment_open_sealed(
      c->schema, c->dir, file, (uint64_t)json_integer_value(id),
      (uint32_t)json_integer_value(shard), (uint32_t)json_integer_value(part),
      c->db->opt.verify_on_open != 0, &seg);
  if (st != VS_OK) return st;
  if ((json_int_t)seg->rows != json_integer_value(rows)) {
    vs_segment_free(seg);
    return vs_fail(VS_ERR_CORRUPT, "segment %s has %zu rows, the MANIFEST says %" JSON_INTEGER_FORMAT,
                   file, seg->rows, json_integer_value(rows));
  }
  if (json_is_string(del)) st = vs_segment_load_deletes(seg, c->dir, json_string_value(del));
  if (st == VS_OK) st = vs_segment_indexes_from_json(c, seg, json_object_get(o, "indexes"));
  if (st == VS_OK) st = add_sealed(c, seg);
  if (st != VS_OK) vs_segment_free(seg);
  return st;
}

static vs_status load_counters(vs_collection *c, json_t *root) {
  json_t *shards = json_object_get(root, "shards");
  json_t *ckpt = json_object_get(root, "checkpoint_lsn");
  json_t *nseg = json_object_get(root, "next_segment_id");
  json_t *nauto = json_object_get(root, "next_auto_id");
  json_t *durable = json_object_get(root, "durable_lsn");
  if (!json_is_integer(shards) || json_integer_value(shards) < 1 ||
      json_integer_value(shards) > VS_MAX_SHARDS || !json_is_integer(ckpt) ||
      json_integer_value(ckpt) < 0 || !json_is_integer(nseg) ||
      json_integer_value(nseg) < 0 || !json_is_integer(nauto) || !json_is_integer(durable) ||
      json_integer_value(durable) < json_integer_value(ckpt)) {
    return manifest_error(c, "bad counters");
  }
  c->durable_lsn = (uint64_t)json_integer_value(durable);
  c->shards = (uint32_t)json_integer_value(shards);
  c->checkpoint_lsn = (uint64_t)json_integer_value(ckpt);
  c->applied_lsn = c->checkpoint_lsn;
  atomic_store(&c->next_segment_id, (uint64_t)json_integer_value(nseg));
  c->next_auto_id = json_integer_value(nauto);
  return VS_OK;
}

static vs_status load_schema(vs_collection *c, json_t *root) {
  json_t *schema = json_object_get(root, "schema");
  if (!json_is_object(schema)) return manifest_error(c, "no schema");
  char *text = json_dumps(schema, JSON_COMPACT);
  if (!text) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = vs_schema_from_json(text, &c->schema);
  free(text);
  if (st != VS_OK) return vs_fail_prefix(VS_ERR_CORRUPT, "MANIFEST in %s: schema", c->dir);
  c->pk_index = vs_schema_pk_index(c->schema);
  return VS_OK;
}

static vs_status load_manifest(vs_collection *c) {
  uint8_t *payload = NULL;
  size_t len = 0;
  uint32_t version = 0;
  json_t *root = NULL;
  json_error_t err;
  char *path = vs_fs_join(c->dir, VS_MANIFEST_FILE);
  vs_status st = path ? vs_checked_file_read(path, VS_MANIFEST_MAGIC, VS_MANIFEST_VERSION,
                                             &version, &payload, &len)
                      : vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st != VS_OK) goto done;
  root = json_loadb((const char *)payload, len, 0, &err);
  if (!json_is_object(root)) {
    st = manifest_error(c, "not a JSON object");
    goto done;
  }
  st = load_schema(c, root);
  if (st == VS_OK) st = load_counters(c, root);
  if (st == VS_OK) st = load_partitions(c, json_object_get(root, "partitions"));
  if (st == VS_OK) st = vs_index_defs_from_json(c, json_object_get(root, "indexes"));
  if (st != VS_OK) goto done;
  json_t *segs = json_object_get(root, "segments");
  size_t i;
  json_t *o;
  if (!json_is_array(segs)) {
    st = manifest_error(c, "no segment list");
    goto done;
  }
  json_array_foreach(segs, i, o) {
    st = load_segment(c, o);
    if (st != VS_OK) goto done;
  }
done:
  json_decref(root);
  free(payload);
  free(path);
  return st;
}

/* ------------------------------------------------------------- lifecycle */

static vs_status collection_alloc(vs_db *db, const char *name, uint32_t id,
                                  vs_collection **out) {
  vs_collection *c = vs_calloc(1, sizeof *c);
  char *dir_name = vs_collection_dir_name(id);
  *out = NULL;
  if (!c || !dir_name) goto nomem;
  c->db = db;
  c->id = id;
  c->name = vs_strdup(name);
  c->dir = vs_fs_join(db->dir, dir_name);
  if (!c->name || !c->dir) goto nomem;
  pthread_rwlock_init(&c->lock, NULL);
  pthread_mutex_init(&c->maintenance, NULL);
  free(dir_name);
  *out = c;
  return VS_OK;
nomem:
  free(dir_name);
  if (c) {
    free(c->name);
    free(c->dir);
  }
  free(c);
  return vs_fail(VS_ERR_NOMEM, "out of memory opening a collection");
}

static vs_status open_wal(vs_collection *c, vs_wal_replay_fn fn) {
  vs_wal_options wo;
  char *wal_dir = vs_fs_join(c->dir, VS_WAL_DIR);
  if (!wal_dir) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_wal_options_init(&wo);
  wo.sync = (vs_wal_sync_policy)c->db->opt.fsync;
  wo.batch_interval_ms = c->db->opt.batch_interval_ms;
  wo.max_record_bytes = (uint32_t)VS_MAX_RECORD_BYTES + 64;
  vs_status st = c->db->opt.read_only
                     ? vs_wal_read(wal_dir, c->checkpoint_lsn, c->durable_lsn, fn, c)
                     : vs_wal_open_required(wal_dir, &wo, c->checkpoint_lsn, c->durable_lsn, fn,
                                            c, &c->wal);
  free(wal_dir);
  return st;
}

vs_status vs_collection_create_files(vs_db *db, const char *name, uint32_t id,
                                     const vs_schema *schema, uint32_t shards,
                                     vs_collection **out) {
  vs_collection *c = NULL;
  vs_status st = collection_alloc(db, name, id, &c);
  if (st != VS_OK) return st;
  c->shards = shards;
  atomic_store(&c->next_segment_id, 1);
  c->next_auto_id = 1;
  st = vs_schema_clone(schema, &c->schema);
  if (st == VS_OK) st = vs_index_defs_from_json(c, NULL);
  if (st == VS_OK) st = add_partition(c, 0, VS_DEFAULT_PARTITION);
  if (st == VS_OK) st = vs_fs_mkdirs(c->dir);
  if (st != VS_OK) goto done;
  c->pk_index = vs_schema_pk_index(c->schema);
  st = vs_pkindex_init(&c->pks, 0, c->pk_index);
  if (st == VS_OK) st = vs_collection_write_manifest(c);
  if (st == VS_OK) st = vs_fs_sync_dir(c->dir);
  if (st == VS_OK) st = vs_fs_sync_dir(db->dir);
  if (st == VS_OK && !db->opt.read_only) st = open_wal(c, NULL);
done:
  if (st != VS_OK) {
    vs_collection_free(c);
    c = NULL;
  }
  *out = c;
  return st;
}

static vs_status index_sealed_keys(vs_collection *c) {
  size_t total = 0;
  for (size_t i = 0; i < c->sealed_count; i++) total += c->sealed[i]->rows;
  vs_status st = vs_pkindex_init(&c->pks, total, c->pk_index);
  for (size_t i = 0; i < c->sealed_count && st == VS_OK; i++) {
    vs_segment *seg = c->sealed[i];
    const vs_colview *key = &seg->views[c->pk_index];
    for (size_t r = 0; r < seg->rows && st == VS_OK; r++) {
      if (vs_bitset_test(&seg->deleted, r)) continue;
      vs_pk_location loc = {seg, (uint32_t)r};
      st = vs_pkindex_put(&c->pks, key, r, vs_pk_hash(key, r), loc);
      c->live_rows++;
    }
  }
  return st;
}

static vs_status replay_record(void *ctx, uint64_t lsn, uint32_t type,
                               const uint8_t *payload, size_t len) {
  vs_collection *c = ctx;
  vs_status st = vs_collection_apply(c, type, payload, len, true);
  if (st != VS_OK) {
    return vs_fail_prefix(VS_ERR_CORRUPT, "collection '%s': WAL record %" PRIu64,
                          c->name, lsn);
  }
  c->applied_lsn = lsn;
  return VS_OK;
}

/* Is `name` a file that this MANIFEST names (or must keep)? */
static bool file_is_live(const vs_collection *c, const char *name) {
  if (strcmp(name, VS_MANIFEST_FILE) == 0 || strcmp(name, VS_WAL_DIR) == 0 ||
      name[0] == '.') {
    return true;
  }
  for (size_t i = 0; i < c->sealed_count; i++) {
    const vs_segment *s = c->sealed[i];
    if (strcmp(name, s->file_name) == 0) return true;
    if (s->deletes_file && strcmp(name, s->deletes_file) == 0) return true;
    if (vs_segment_index_uses_file(s, name)) return true;
  }
  return false;
}

/* Deletes files left by a seal or compaction that crashed before its
 * MANIFEST swap. */
static void remove_orphans(vs_collection *c) {
  DIR *d = opendir(c->dir);
  struct dirent *e;
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    if (file_is_live(c, e->d_name)) continue;
    char *path = vs_fs_join(c->dir, e->d_name);
    if (path && unlink(path) == 0) {
      vs_log(VS_LOG_INFO, "collection", "removed orphan file %s", path);
    }
    free(path);
  }
  closedir(d);
}

vs_status vs_collection_open(vs_db *db, const char *name, uint32_t id,
                             vs_collection **out) {
  vs_collection *c = NULL;
  vs_status st = collection_alloc(db, name, id, &c);
  if (st != VS_OK) return st;
  st = load_manifest(c);
  if (st == VS_OK) st = index_sealed_keys(c);
  if (st == VS_OK && !db->opt.read_only) remove_orphans(c);
  if (st == VS_OK) st = open_wal(c, replay_record);
  if (st != VS_OK) {
    vs_collection_free(c);
    c = NULL;
  }
  *out = c;
  return st;
}

void vs_collection_free(vs_collection *c) {
  if (!c) return;
  vs_wal_close(c->wal);
  for (size_t i = 0; i < c->sealed_count; i++) vs_segment_free(c->sealed[i]);
  for (size_t i = 0; i < c->growing_count; i++) vs_segment_free(c->growing[i]);
  for (size_t i = 0; i < c->partition_count; i++) free(c->partitions[i].name);
  free(c->sealed);
  free(c->growing);
  free(c->partitions);
  vs_pkindex_free(&c->pks);
  vs_index_defs_free(c);
  vs_schema_free(c->schema);
  for (size_t i = 0; i < c->old_schema_count; i++) vs_schema_free(c->old_schemas[i]);
  free(c->old_schemas);
  pthread_rwlock_destroy(&c->lock);
  pthread_mutex_destroy(&c->maintenance);
  free(c->name);
  free(c->dir);
  free(c);
}

vs_status vs_collection_close(vs_collection *c, bool seal) {
  vs_status st = VS_OK;
  if (!c) return VS_OK;
  if (seal && c->wal && !c->failed) {
    pthread_mutex_lock(&c->maintenance);
    pthread_rwlock_wrlock(&c->lock);
    st = vs_collection_flush_locked(c);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->maintenance);
  }
  vs_status wst = vs_wal_close(c->wal);
  c->wal = NULL;
  if (st == VS_OK) st = wst;
  vs_collection_free(c);
  return st;
}

/* ------------------------------------------------------------------ flush */

/* Points the key index at the rows' new home after a rewrite. */
static vs_status repoint_keys(vs_collection *c, vs_segment *from,
                              vs_segment *to, const uint32_t *old_to_new) {
  const vs_colview *key = &to->views[c->pk_index];
  for (size_t r = 0; r < from->rows; r++) {
    uint32_t nr = old_to_new[r];
    if (nr == UINT32_MAX) continue;
    vs_pk_location loc = {to, nr};
    vs_status st = vs_pkindex_put(&c->pks, key, nr, vs_pk_hash(key, nr), loc);
    if (st != VS_OK) return st;
  }
  return VS_OK;
}

static vs_status seal_growing(vs_collection *c, vs_segment *g) {
  vs_segment *sealed = NULL;
  uint32_t *map = NULL;
  uint64_t id = atomic_fetch_add(&c->next_segment_id, 1);
  vs_status st = vs_segment_write_sealed(c->schema, g, &g->deleted, c->dir, id,
                                         &sealed, &map);
  if (st != VS_OK) return st;
  st = repoint_keys(c, g, sealed, map);
  free(map);
  if (st == VS_OK && sealed->rows > 0) st = add_sealed(c, sealed);
  if (st != VS_OK || sealed->rows == 0) {
    char *path = vs_fs_join(c->dir, sealed->file_name);
    if (path) unlink(path);
    free(path);
    vs_segment_free(sealed);
  }
  return st;
}

static void remove_file(const vs_collection *c, const char *name) {
  char *path = name ? vs_fs_join(c->dir, name) : NULL;
  if (path) unlink(path);
  free(path);
}

vs_status vs_collection_flush_locked(vs_collection *c) {
  vs_status st = VS_OK;
  size_t kept = 0;
  if (c->dropped) return VS_OK;
  if (c->failed) return vs_fail(VS_ERR_IO, "collection '%s' is read-only after a failed write", c->name);
  for (size_t i = 0; i < c->growing_count; i++) {
    vs_segment *g = c->growing[i];
    if (st == VS_OK && g->rows > 0) st = seal_growing(c, g);
    if (st == VS_OK) {
      vs_segment_free(g);
    } else {
      c->growing[kept++] = g;
    }
  }
  c->growing_count = kept;
  if (st != VS_OK) return st;
  c->growing_rows = 0;
  c->growing_bytes = 0;
  char **old = vs_calloc(c->sealed_count + 1, sizeof *old);
  if (!old) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < c->sealed_count && st == VS_OK; i++) {
    vs_segment *s = c->sealed[i];
    if (!s->deletes_dirty) continue;
    old[i] = s->deletes_file ? vs_strdup(s->deletes_file) : NULL;
    st = vs_segment_save_deletes(s, c->dir);
  }
  uint64_t previous = c->checkpoint_lsn;
  c->checkpoint_lsn = c->applied_lsn;
  if (st == VS_OK) st = vs_collection_write_manifest(c);
  if (st == VS_OK && c->wal) st = vs_wal_checkpoint(c->wal, c->checkpoint_lsn);
  if (st == VS_OK) vs_indexer_kick(c->db);
  if (st != VS_OK) c->checkpoint_lsn = previous;
  for (size_t i = 0; i < c->sealed_count; i++) {
    if (st == VS_OK && old[i]) remove_file(c, old[i]);
    free(old[i]);
  }
  free(old);
  return st;
}

/* ------------------------------------------------------------- compaction */

bool vs_collection_wants_compaction(vs_collection *c) {
  double ratio = c->db->opt.compact_deleted_ratio;
  for (size_t i = 0; i < c->sealed_count; i++) {
    const vs_segment *s = c->sealed[i];
    if (s->rows > 0 && s->deleted_count > 0 &&
        (double)s->deleted_count >= ratio * (double)s->rows) {
      return true;
    }
  }
  return false;
}

static int sealed_index(const vs_collection *c, const vs_segment *s) {
  for (size_t i = 0; i < c->sealed_count; i++) {
    if (c->sealed[i] == s) return (int)i;
  }
  return -1;
}

/* Under the write lock: carries deletes made during the rewrite over to
 * `fresh`, repoints keys and swaps it in for `old`. */
static vs_status swap_compacted(vs_collection *c, vs_segment *old,
                                vs_segment *fresh, const vs_bitset *snapshot,
                                const uint32_t *map) {
  vs_status st = vs_bitset_resize(&fresh->deleted, fresh->rows);
  for (size_t r = 0; r < old->rows && st == VS_OK; r++) {
    if (map[r] == UINT32_MAX) continue;
    if (vs_bitset_test(&old->deleted, r) && !vs_bitset_test(snapshot, r)) {
      vs_segment_mark_deleted(fresh, map[r]);
    }
  }
  if (st == VS_OK) {
    for (size_t r = 0; r < old->rows && st == VS_OK; r++) {
      if (map[r] == UINT32_MAX || vs_bitset_test(&old->deleted, r)) continue;
      const vs_colview *key = &fresh->views[c->pk_index];
      vs_pk_location loc = {fresh, map[r]};
      st = vs_pkindex_put(&c->pks, key, map[r], vs_pk_hash(key, map[r]), loc);
    }
  }
  if (st != VS_OK) return st;
  if (fresh->deletes_dirty) st = vs_segment_save_deletes(fresh, c->dir);
  if (st != VS_OK) return st;
  int i = sealed_index(c, old);
  c->sealed[i] = fresh;
  st = vs_collection_write_manifest(c);
  if (st != VS_OK) c->sealed[i] = old;
  return st;
}

static vs_status compact_one(vs_collection *c, vs_segment *victim) {
  vs_bitset snapshot = {0};
  vs_segment *fresh = NULL;
  uint32_t *map = NULL;
  pthread_rwlock_rdlock(&c->lock);
  vs_status st = vs_bitset_copy(&snapshot, &victim->deleted);
  pthread_rwlock_unlock(&c->lock);
  if (st != VS_OK) return st;
  uint64_t id = atomic_fetch_add(&c->next_segment_id, 1);
  st = vs_segment_write_sealed(c->schema, victim, &snapshot, c->dir, id, &fresh, &map);
  if (st != VS_OK) goto done;
  pthread_rwlock_wrlock(&c->lock);
  st = swap_compacted(c, victim, fresh, &snapshot, map);
  pthread_rwlock_unlock(&c->lock);
  if (st == VS_OK) {
    remove_file(c, victim->file_name);
    remove_file(c, victim->deletes_file);
    vs_segment_index_remove_files(c, victim);
    vs_segment_free(victim);
    fresh = NULL;
  }
done:
  if (fresh) {
    remove_file(c, fresh->file_name);
    remove_file(c, fresh->deletes_file);
    vs_segment_free(fresh);
  }
  free(map);
  vs_bitset_free(&snapshot);
  return st;
}

/* Removes sealed segments that compaction emptied entirely. */
static vs_status drop_empty_sealed(vs_collection *c) {
  size_t kept = 0;
  vs_segment **gone = vs_calloc(c->sealed_count + 1, sizeof *gone);
  size_t ngone = 0;
  if (!gone) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < c->sealed_count; i++) {
    vs_segment *s = c->sealed[i];
    if (s->rows == s->deleted_count) {
      gone[ngone++] = s;
    } else {
      c->sealed[kept++] = s;
    }
  }
  size_t before = c->sealed_count;
  c->sealed_count = kept;
  vs_status st = ngone ? vs_collection_write_manifest(c) : VS_OK;
  if (st != VS_OK) {
    c->sealed_count = before; /* order changed but the set is intact */
    for (size_t i = 0; i < ngone; i++) c->sealed[kept + i] = gone[i];
  } else {
    for (size_t i = 0; i < ngone; i++) {
      remove_file(c, gone[i]->file_name);
      remove_file(c, gone[i]->deletes_file);
      vs_segment_index_remove_files(c, gone[i]);
      vs_segment_free(gone[i]);
    }
  }
  free(gone);
  return st;
}

vs_status vs_collection_compact(vs_collection *c, bool force) {
  vs_status st = VS_OK;
  pthread_mutex_lock(&c->maintenance);
  pthread_rwlock_wrlock(&c->lock);
  st = c->failed ? vs_fail(VS_ERR_IO, "collection '%s' is read-only after a failed write", c->name)
                 : drop_empty_sealed(c);
  size_t n = c->sealed_count;
  vs_segment **victims = vs_calloc(n + 1, sizeof *victims);
  size_t nv = 0;
  double ratio = c->db->opt.compact_deleted_ratio;
  for (size_t i = 0; victims && i < n; i++) {
    vs_segment *s = c->sealed[i];
    bool deletes = s->deleted_count > 0 && (force || (double)s->deleted_count >= ratio * (double)s->rows);
    /* forced: also files written before a field was added (their column
     * is rebuilt in memory at every open until the file has it) */
    if (deletes || (force && s->synth_count > 0)) victims[nv++] = s;
  }
  pthread_rwlock_unlock(&c->lock);
  if (!victims) st = vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < nv && st == VS_OK; i++) st = compact_one(c, victims[i]);
  free(victims);
  if (st == VS_OK && nv > 0) {
    pthread_rwlock_wrlock(&c->lock);
    st = drop_empty_sealed(c);
    pthread_rwlock_unlock(&c->lock);
    vs_indexer_kick(c->db);
  }
  pthread_mutex_unlock(&c->maintenance);
  return st;
}
