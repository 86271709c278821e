/*
 * admin.c -- partitions, flush, compaction, statistics and describe: the
 * public functions that manage a collection rather than read or write rows.
 *
 * Partition DDL runs under the collection's maintenance mutex and write
 * lock.  Dropping a partition first seals everything (so no WAL record
 * after the new checkpoint refers to the partition), then removes its
 * segments from memory, writes the MANIFEST and only then deletes the
 * files.  Partition ids are never reused, so a WAL record of a dropped
 * partition can never land in a new partition of the same name.
 *
 * Adding a field (vs_add_field) follows the same pattern: seal everything
 * (the WAL after the new checkpoint then only holds records of the new
 * shape), prepare every allocation (a column per sealed segment, filled
 * with the default or nulls; bigger views/index arrays), write the MANIFEST
 * with the new schema (the commit point; a failure there leaves the
 * collection read-only, since the file may hold either schema), then
 * publish the schema and install what was prepared, which cannot fail.
 * The schema is replaced whole, never edited: writers normalize against an
 * unlocked snapshot and start again if it changed; readers build their
 * plans under the read lock; index builds copy the field and the column
 * view they need under it.  Replaced schemas are kept until the collection
 * is freed (an unlocked snapshot may still point at one).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/engine_internal.h"

/* Runs fn on the named collection with a reference held. */
#define WITH_COLLECTION(db, name, c, body)            \
  do {                                                \
    vs_collection *c = NULL;                          \
    vs_status with_st_ = vs_db_find(db, name, &c);    \
    if (with_st_ != VS_OK) return with_st_;           \
    body;                                             \
    vs_db_release(db, c);                             \
  } while (0)

static vs_status check_partition_name(const char *name) {
  if (!name || !*name) return vs_fail(VS_ERR_INVALID, "partition name is empty");
  size_t len = strlen(name);
  if (len > VS_MAX_NAME) return vs_fail(VS_ERR_INVALID, "partition name is longer than %u", VS_MAX_NAME);
  for (size_t i = 0; i < len; i++) {
    char ch = name[i];
    bool ok = ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (i > 0 && ch >= '0' && ch <= '9');
    if (!ok) {
      return vs_fail(VS_ERR_INVALID, "partition name '%s': character %zu must be a letter, '_' or (not first) a digit",
                     name, i);
    }
  }
  return VS_OK;
}

static vs_status create_partition_locked(vs_collection *c, const char *name) {
  if (vs_collection_partition_index(c, name) >= 0) {
    return vs_fail(VS_ERR_EXISTS, "partition '%s' already exists in collection '%s'", name, c->name);
  }
  if (c->partition_count >= VS_MAX_PARTITIONS) {
    return vs_fail(VS_ERR_LIMIT, "collection '%s' has %zu partitions, the limit", c->name,
                   c->partition_count);
  }
  vs_partition *p = vs_reallocarray(c->partitions, c->partition_count + 1, sizeof *p);
  if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory");
  c->partitions = p;
  p[c->partition_count].id = c->next_partition_id;
  p[c->partition_count].name = vs_strdup(name);
  if (!p[c->partition_count].name) return vs_fail(VS_ERR_NOMEM, "out of memory");
  c->partition_count++;
  c->next_partition_id++;
  vs_status st = vs_collection_write_manifest(c);
  if (st != VS_OK) {
    c->partition_count--;
    free(p[c->partition_count].name);
  }
  return st;
}

vs_status vs_create_partition(vs_db *db, const char *collection, const char *partition) {
  vs_status st = check_partition_name(partition);
  if (st != VS_OK) return st;
  VS_DDL_CALL(db, collection, c, st, create_partition_locked(c, partition));
  return st;
}

/* Removes the sealed segments of partition `id` and their keys; the
 * removed segments go to *gone for the caller to delete after the MANIFEST
 * swap. */
static vs_status detach_partition(vs_collection *c, uint32_t id, vs_segment ***gone,
                                  size_t *ngone) {
  vs_segment **list = vs_calloc(c->sealed_count + 1, sizeof *list);
  size_t kept = 0, n = 0;
  if (!list) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < c->sealed_count; i++) {
    vs_segment *s = c->sealed[i];
    if (s->partition != id) {
      c->sealed[kept++] = s;
      continue;
    }
    list[n++] = s;
    const vs_colview *key = &s->views[c->pk_index];
    for (size_t r = 0; r < s->rows; r++) {
      if (vs_bitset_test(&s->deleted, r)) continue;
      vs_pkindex_remove(&c->pks, key, r, vs_pk_hash(key, r));
      c->live_rows--;
    }
  }
  c->sealed_count = kept;
  *gone = list;
  *ngone = n;
  return VS_OK;
}

static vs_status drop_partition_locked(vs_collection *c, const char *name) {
  vs_segment **gone = NULL;
  size_t ngone = 0;
  int i = vs_collection_partition_index(c, name);
  if (i < 0) return vs_fail(VS_ERR_PARTITION_NOT_FOUND, "partition '%s' not found", name);
  vs_status st = vs_collection_flush_locked(c);
  if (st == VS_OK) st = detach_partition(c, c->partitions[i].id, &gone, &ngone);
  if (st != VS_OK) return st;
  free(c->partitions[i].name);
  memmove(&c->partitions[i], &c->partitions[i + 1],
          (c->partition_count - (size_t)i - 1) * sizeof *c->partitions);
  c->partition_count--;
  st = vs_collection_write_manifest(c);
  for (size_t k = 0; k < ngone; k++) {
    if (st == VS_OK) {
      char *a = vs_fs_join(c->dir, gone[k]->file_name);
      char *b = gone[k]->deletes_file ? vs_fs_join(c->dir, gone[k]->deletes_file) : NULL;
      if (a) unlink(a);
      if (b) unlink(b);
      free(a);
      free(b);
      vs_segment_index_remove_files(c, gone[k]);
    }
    vs_segment_free(gone[k]);
  }
  free(gone);
  if (st != VS_OK) c->failed = true; /* memory no longer matches the MANIFEST */
  return st;
}

vs_status vs_drop_partition(vs_db *db, const char *collection, const char *partition) {
  if (!partition) return vs_fail(VS_ERR_INVALID, "partition name is NULL");
  if (strcmp(partition, VS_DEFAULT_PARTITION) == 0) {
    return vs_fail(VS_ERR_INVALID, "the _default partition cannot be dropped");
  }
  vs_status st;
  VS_DDL_CALL(db, collection, c, st, drop_partition_locked(c, partition));
  return st;
}

vs_status vs_has_partition(vs_db *db, const char *collection, const char *partition, int *out) {
  if (!partition || !out) return vs_fail(VS_ERR_INVALID, "NULL argument");
  WITH_COLLECTION(db, collection, c, {
    pthread_rwlock_rdlock(&c->lock);
    *out = vs_collection_partition_index(c, partition) >= 0;
    pthread_rwlock_unlock(&c->lock);
  });
  return VS_OK;
}

vs_status vs_list_partitions(vs_db *db, const char *collection, char ***names, size_t *count) {
  vs_status st = VS_OK;
  if (!names || !count) return vs_fail(VS_ERR_INVALID, "NULL argument");
  WITH_COLLECTION(db, collection, c, {
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->partition_count;
    char **list = vs_calloc(n + 1, sizeof *list);
    for (size_t i = 0; list && i < n; i++) list[i] = vs_strdup(c->partitions[i].name);
    pthread_rwlock_unlock(&c->lock);
    for (size_t i = 0; list && i < n; i++) {
      if (!list[i]) st = VS_ERR_NOMEM;
    }
    if (!list || st != VS_OK) {
      vs_free_strings(list, n);
      st = vs_fail(VS_ERR_NOMEM, "out of memory");
    } else {
      *names = list;
      *count = n;
    }
  });
  return st;
}

/* ------------------------------------------------------ flush / compact */

vs_status vs_flush(vs_db *db, const char *collection) {
  vs_status st;
  VS_DDL_CALL(db, collection, c, st, vs_collection_flush_locked(c));
  return st;
}

vs_status vs_compact(vs_db *db, const char *collection, int force) {
  vs_status st;
  if (db && db->opt.read_only) return vs_fail(VS_ERR_UNSUPPORTED, "the database is open read-only");
  WITH_COLLECTION(db, collection, c, { st = vs_collection_compact(c, force != 0); });
  return st;
}

/* ------------------------------------------------------- count / stats */

static uint64_t live_in_partition(const vs_collection *c, uint32_t id) {
  uint64_t n = 0;
  for (size_t i = 0; i < c->sealed_count; i++) {
    const vs_segment *s = c->sealed[i];
    if (s->partition == id) n += s->rows - s->deleted_count;
  }
  for (size_t i = 0; i < c->growing_count; i++) {
    const vs_segment *s = c->growing[i];
    if (s->partition == id) n += s->rows - s->deleted_count;
  }
  return n;
}

vs_status vs_count(vs_db *db, const char *collection, const char *partition, uint64_t *out) {
  vs_status st = VS_OK;
  if (!out) return vs_fail(VS_ERR_INVALID, "out is NULL");
  WITH_COLLECTION(db, collection, c, {
    pthread_rwlock_rdlock(&c->lock);
    if (!partition) {
      *out = c->live_rows;
    } else {
      int i = vs_collection_partition_index(c, partition);
      if (i < 0) {
        st = vs_fail(VS_ERR_PARTITION_NOT_FOUND, "partition '%s' not found", partition);
      } else {
        *out = live_in_partition(c, c->partitions[i].id);
      }
    }
    pthread_rwlock_unlock(&c->lock);
  });
  return st;
}

static void fill_stats(const vs_collection *c, vs_collection_stats *s) {
  memset(s, 0, sizeof *s);
  s->rows = c->live_rows;
  s->shards = c->shards;
  s->partitions = (uint32_t)c->partition_count;
  s->sealed_segments = (uint32_t)c->sealed_count;
  s->growing_segments = (uint32_t)c->growing_count;
  s->growing_rows = c->growing_rows;
  for (size_t i = 0; i < c->sealed_count; i++) {
    s->deleted_rows += c->sealed[i]->deleted_count;
    s->sealed_bytes += vs_segment_bytes(c->sealed[i]);
  }
  for (size_t i = 0; i < c->growing_count; i++) s->deleted_rows += c->growing[i]->deleted_count;
  s->wal_bytes = c->wal ? vs_wal_bytes(c->wal) : 0;
  s->last_lsn = c->applied_lsn;
  s->checkpoint_lsn = c->checkpoint_lsn;
}

vs_status vs_collection_stats_get(vs_db *db, const char *name, vs_collection_stats *out) {
  if (!out) return vs_fail(VS_ERR_INVALID, "out is NULL");
  WITH_COLLECTION(db, name, c, {
    pthread_rwlock_rdlock(&c->lock);
    fill_stats(c, out);
    pthread_rwlock_unlock(&c->lock);
  });
  return VS_OK;
}

static json_t *stats_json(const vs_collection_stats *s) {
  return json_pack("{s:I,s:I,s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:I}", "rows", (json_int_t)s->rows,
                   "deletedRows", (json_int_t)s->deleted_rows, "shards", (int)s->shards,
                   "partitions", (int)s->partitions, "sealedSegments", (int)s->sealed_segments,
                   "growingSegments", (int)s->growing_segments, "growingRows",
                   (json_int_t)s->growing_rows, "sealedBytes", (json_int_t)s->sealed_bytes,
                   "walBytes", (json_int_t)s->wal_bytes, "lastLsn", (json_int_t)s->last_lsn,
                   "checkpointLsn", (json_int_t)s->checkpoint_lsn);
}

static vs_status describe_locked(const vs_collection *c, char **json) {
  vs_collection_stats stats;
  char *schema_text = NULL;
  json_error_t err;
  vs_status st = vs_schema_to_json(c->schema, &schema_text);
  if (st != VS_OK) return st;
  fill_stats(c, &stats);
  json_t *parts = json_array();
  for (size_t i = 0; parts && i < c->partition_count; i++) {
    json_array_append_new(parts, json_string(c->partitions[i].name));
  }
  json_t *root = json_pack("{s:s,s:i,s:o,s:i,s:o,s:o}", "collectionName", c->name, "collectionID",
                           (int)c->id, "schema", json_loads(schema_text, 0, &err), "shardsNum",
                           (int)c->shards, "partitions", parts, "stats", stats_json(&stats));
  vs_free(schema_text);
  *json = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  return *json ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory describing a collection");
}

vs_status vs_describe_collection(vs_db *db, const char *name, char **json) {
  vs_status st;
  if (!json) return vs_fail(VS_ERR_INVALID, "json is NULL");
  WITH_COLLECTION(db, name, c, {
    pthread_rwlock_rdlock(&c->lock);
    st = describe_locked(c, json);
    pthread_rwlock_unlock(&c->lock);
  });
  return st;
}

/* ---------------------------------------------------------- field limits */

/* Checks one limit change: 0 keeps it; it may only grow, up to `cap`. */
static vs_status check_raise(const vs_field *f, const char *what, uint32_t old, uint32_t want,
                             uint32_t cap) {
  if (want == 0 || want == old) return VS_OK;
  if (old == 0) return vs_fail(VS_ERR_INVALID, "field '%s' (%s) has no %s", f->name, vs_type_name(f->type), what);
  if (want < old) {
    return vs_fail(VS_ERR_INVALID, "field '%s': %s can only grow (%u -> %u would invalidate stored values)",
                   f->name, what, old, want);
  }
  if (want > cap) return vs_fail(VS_ERR_INVALID, "field '%s': %s %u exceeds %u", f->name, what, want, cap);
  return VS_OK;
}

static vs_status alter_field_locked(vs_collection *c, const char *field, uint32_t max_length,
                                    uint32_t max_capacity) {
  if (c->dropped) return vs_fail(VS_ERR_NOT_FOUND, "collection '%s' not found", c->name);
  int i = field ? vs_schema_index(c->schema, field) : -1;
  if (i < 0) {
    return vs_fail(VS_ERR_FIELD_NOT_FOUND, "field '%s' not found in collection '%s'", field ? field : "(null)",
                   c->name);
  }
  vs_field *f = &c->schema->fields[i];
  vs_status st = check_raise(f, "max_length", f->max_length, max_length, VS_MAX_VARCHAR);
  if (st == VS_OK) st = check_raise(f, "max_capacity", f->max_capacity, max_capacity, VS_MAX_ARRAY_CAPACITY);
  if (st != VS_OK) return st;
  uint32_t old_length = f->max_length, old_capacity = f->max_capacity;
  if (max_length) f->max_length = max_length;
  if (max_capacity) f->max_capacity = max_capacity;
  st = vs_collection_write_manifest(c);
  if (st != VS_OK) {
    f->max_length = old_length;
    f->max_capacity = old_capacity;
  }
  return st;
}

vs_status vs_alter_field(vs_db *db, const char *collection, const char *field, uint32_t max_length,
                         uint32_t max_capacity) {
  vs_status st = VS_OK;
  VS_DDL_CALL(db, collection, c, st, alter_field_locked(c, field, max_length, max_capacity));
  return st;
}

/* ------------------------------------------------------------ add a field */

/* The schema with `def` appended, checked against the rules for a field
 * added to a collection that already has rows (Milvus 2.6's). */
static vs_status grown_schema(const vs_collection *c, const vs_field_def *def, vs_schema **out) {
  *out = NULL;
  if (!def || !def->name) return vs_fail(VS_ERR_INVALID, "the new field has no name");
  if (def->is_primary || def->auto_id) {
    return vs_fail(VS_ERR_INVALID, "field '%s': a primary key cannot be added to an existing collection", def->name);
  }
  if (def->type == VS_TYPE_FLOAT_VECTOR) {
    return vs_fail(VS_ERR_INVALID, "field '%s': vector fields cannot be added to an existing collection", def->name);
  }
  if (!def->nullable) {
    return vs_fail(VS_ERR_INVALID,
                   "field '%s': a field added to an existing collection must be nullable (its rows have no value)",
                   def->name);
  }
  vs_schema *s = NULL;
  vs_status st = vs_schema_clone(c->schema, &s);
  if (st == VS_OK) st = vs_schema_add_field(s, def);
  if (st == VS_OK) st = vs_schema_validate(s);
  if (st != VS_OK) {
    vs_schema_free(s);
    return st;
  }
  *out = s;
  return VS_OK;
}

/* Everything vs_add_field allocates before it changes anything. */
typedef struct field_growth {
  vs_schema *schema;
  vs_segment_growth *segs;     /* one per sealed segment */
  size_t seg_count;
  vs_index_def *defs;          /* field_count + 1 */
  vs_schema **old_schemas;     /* old_schema_count + 1 */
} field_growth;

static void growth_free(field_growth *g) {
  for (size_t i = 0; g->segs && i < g->seg_count; i++) vs_segment_grow_abandon(&g->segs[i]);
  free(g->segs);
  free(g->defs);
  free(g->old_schemas);
  vs_schema_free(g->schema);
  memset(g, 0, sizeof *g);
}

static vs_status growth_prepare(const vs_collection *c, field_growth *g) {
  size_t fields = c->schema->field_count;
  g->segs = vs_calloc(c->sealed_count + 1, sizeof *g->segs);
  g->defs = vs_calloc(fields + 1, sizeof *g->defs);
  g->old_schemas = vs_calloc(c->old_schema_count + 1, sizeof *g->old_schemas);
  if (!g->segs || !g->defs || !g->old_schemas) return vs_fail(VS_ERR_NOMEM, "out of memory adding a field");
  vs_status st = VS_OK;
  for (size_t i = 0; i < c->sealed_count && st == VS_OK; i++) {
    st = vs_segment_grow_prepare(c->sealed[i], g->schema, &g->segs[i]);
    if (st == VS_OK) g->seg_count++;
  }
  return st;
}

/* Installs the rest of a prepared growth (index_defs and the schema are
 * already in place); cannot fail. */
static void growth_commit(vs_collection *c, field_growth *g, vs_schema *old) {
  for (size_t i = 0; i < g->seg_count; i++) vs_segment_grow_commit(c->sealed[i], &g->segs[i]);
  if (c->old_schema_count) memcpy(g->old_schemas, c->old_schemas, c->old_schema_count * sizeof *g->old_schemas);
  g->old_schemas[c->old_schema_count++] = old;
  free(c->old_schemas);
  c->old_schemas = g->old_schemas;
  g->old_schemas = NULL;
  g->schema = NULL; /* now c->schema */
  g->seg_count = 0;
}

/* Under the maintenance mutex and the write lock.  Growing rows are sealed
 * first (so the WAL after the new checkpoint holds only records of the new
 * shape, and no growing segment needs the column); sealed segments get a
 * synthesized column; the MANIFEST with the new schema is the commit. */
static vs_status add_field_locked(vs_collection *c, const vs_field_def *def) {
  field_growth g = {0};
  if (c->dropped) return vs_fail(VS_ERR_NOT_FOUND, "collection '%s' not found", c->name);
  if (c->failed) return vs_fail(VS_ERR_IO, "collection '%s' is read-only after a failed write", c->name);
  vs_status st = grown_schema(c, def, &g.schema);
  if (st == VS_OK) st = vs_collection_flush_locked(c);
  if (st == VS_OK) st = growth_prepare(c, &g);
  if (st != VS_OK) {
    growth_free(&g);
    return st;
  }
  /* The MANIFEST names the new schema before anyone can see it (unlocked
   * readers take c->schema).  index_defs gets its new, empty slot first:
   * only lock holders read it, and one more undefined entry is harmless. */
  vs_schema *old = c->schema;
  vs_index_def *old_defs = c->index_defs;
  if (old_defs) memcpy(g.defs, old_defs, old->field_count * sizeof *g.defs);
  c->index_defs = g.defs;
  g.defs = NULL;
  free(old_defs);
  st = vs_collection_write_manifest_schema(c, g.schema);
  if (st != VS_OK) {
    /* The file may hold the new schema even so (an error after the
     * rename): memory would no longer match it, and a write logged now
     * could not be replayed.  Read-only until reopened, as after a failed
     * partition drop. */
    c->failed = true;
    growth_free(&g);
    return st;
  }
  __atomic_store_n(&c->schema, g.schema, __ATOMIC_RELEASE);
  growth_commit(c, &g, old);
  growth_free(&g);
  return VS_OK;
}

vs_status vs_add_field(vs_db *db, const char *collection, const vs_field_def *def) {
  vs_status st = VS_OK;
  VS_DDL_CALL(db, collection, c, st, add_field_locked(c, def));
  return st;
}
