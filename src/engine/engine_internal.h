/*
 * engine_internal.h -- the structures shared by the files of src/engine/
 * (database.c, collection.c, segment.c, pkindex.c, search.c, check.c).
 * Nothing outside src/engine/ and its tests includes this.
 */
#ifndef VS_ENGINE_INTERNAL_H
#define VS_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/schema.h"
#include "index/index.h"
#include "storage/storage.h"
#include "util/util.h"

/* File names and magics (byte layouts in docs/format.md). */
#define VS_CATALOG_FILE "CATALOG"
#define VS_MANIFEST_FILE "MANIFEST"
#define VS_WAL_DIR "wal"
#define VS_CATALOG_MAGIC "VSCATv01"
#define VS_MANIFEST_MAGIC "VSMANv01"
#define VS_DELETES_MAGIC "VSDELv01"

/*
 * Format history (the version numbers stored in the files above and in
 * segment files; a reader refuses versions newer than these):
 *   CATALOG 1, MANIFEST 1, deletes 1  -- 0.1.0, first format.
 */
#define VS_CATALOG_VERSION 1u
#define VS_MANIFEST_VERSION 1u
#define VS_DELETES_VERSION 1u

/* WAL record types of a collection's log. */
enum {
  VS_REC_INSERT = 1,
  VS_REC_UPSERT = 2,
  VS_REC_DELETE = 3
};

#define VS_ALL_PARTITIONS UINT32_MAX
#define VS_MAX_RECORD_BYTES ((size_t)512 << 20)
#define VS_MAX_SHARDS 64u
#define VS_MAX_PARTITIONS 1024u

/* Segment file section ids: column index << 8 | kind; 0 = meta. */
enum {
  VS_SECTION_META = 0,
  VS_SECTION_FIXED = 1,
  VS_SECTION_OFFSETS = 2,
  VS_SECTION_BYTES = 3,
  VS_SECTION_VALID = 4
};
#define VS_SECTION_ID(col, kind) ((((uint32_t)(col) + 1u) << 8) | (kind))

/* ------------------------------------------------------------- segments */

/* The index of one vector field of a sealed segment.  `active` serves
 * searches; `pending` is a newer generation built during a rebuild, swapped
 * in for every segment at once when all have one. */
typedef struct vs_segment_index {
  vs_index *active;
  char *active_file;        /* named in the MANIFEST */
  uint32_t active_generation;
  vs_index *pending;
  char *pending_file;       /* not yet in the MANIFEST */
  uint32_t pending_generation;
} vs_segment_index;

typedef struct vs_segment {
  _Atomic int refs;          /* the collection's list holds one; an index
                                build holds one while it works */
  uint64_t id;               /* unique within the collection */
  uint32_t shard;
  uint32_t partition;
  bool sealed;
  size_t rows;               /* rows stored (deleted ones included) */
  size_t column_count;
  /* growing: the columns, appended in place */
  vs_rows *data;
  /* sealed: the mapped file and its name */
  vs_segfile *file;
  char *file_name;
  /* column views (sealed: into the mapping; growing: refreshed by
   * vs_segment_views() under the collection lock) */
  vs_colview *views;
  /* tombstones */
  vs_bitset deleted;
  size_t deleted_count;
  bool deletes_dirty;        /* deletes not yet in a deletes file */
  char *deletes_file;        /* current deletes file, or NULL */
  uint64_t deletes_generation;
  vs_segment_index *indexes; /* sealed: one per schema field (vector
                                fields used), else NULL */
  size_t field_count;
  /* sealed: columns of fields added after the file was written (their
   * views point here) */
  vs_column *synth;
  size_t synth_count;
} vs_segment;

/* Adding a field to a sealed segment (vs_add_field): prepare allocates
 * and builds the new column (may fail, changes nothing); commit installs
 * it under the collection's write lock (cannot fail; "$meta" moves one
 * column up); abandon frees a prepared growth that will not be used. */
typedef struct vs_segment_growth {
  vs_colview *views;
  vs_segment_index *indexes;
  vs_column *synth;
  vs_column column;
} vs_segment_growth;
vs_status vs_segment_grow_prepare(const vs_segment *seg, const vs_schema *schema,
                                  vs_segment_growth *g);
void vs_segment_grow_commit(vs_segment *seg, vs_segment_growth *g);
void vs_segment_grow_abandon(vs_segment_growth *g);

vs_status vs_segment_new_growing(const vs_schema *schema, uint64_t id,
                                 uint32_t shard, uint32_t partition,
                                 vs_segment **out);
/* Appends rows [from, to) of a normalized batch. */
vs_status vs_segment_append(vs_segment *seg, const vs_rows *batch,
                            const uint32_t *rows, size_t count);
/* Recomputes a growing segment's views after appends. */
void vs_segment_refresh_views(vs_segment *seg);
/* Writes the live rows of `seg` as a sealed segment file `dir/name` and
 * opens it; *old_to_new (may be NULL) receives, per old row, its new row or
 * UINT32_MAX when dropped.  `drop` marks the rows to leave out (the
 * segment's tombstones, or a snapshot of them taken under the lock). */
vs_status vs_segment_write_sealed(const vs_schema *schema,
                                  const vs_segment *seg,
                                  const vs_bitset *drop, const char *dir,
                                  uint64_t new_id, vs_segment **out,
                                  uint32_t **old_to_new);
/* Opens a sealed segment file and checks it against the schema. */
vs_status vs_segment_open_sealed(const vs_schema *schema, const char *dir,
                                 const char *file_name, uint64_t id,
                                 uint32_t shard, uint32_t partition,
                                 bool verify, vs_segment **out);
/* Loads a deletes file into seg->deleted. */
vs_status vs_segment_load_deletes(vs_segment *seg, const char *dir,
                                  const char *file_name);
/* Writes seg's tombstones as a new deletes file (new generation). */
vs_status vs_segment_save_deletes(vs_segment *seg, const char *dir);
bool vs_segment_mark_deleted(vs_segment *seg, size_t row);
/* Reference counting: vs_segment_free drops one reference and frees the
 * segment (unmapping it) when none is left. */
void vs_segment_acquire(vs_segment *seg);
void vs_segment_free(vs_segment *seg);
uint64_t vs_segment_bytes(const vs_segment *seg);
/* Verifies a deletes file offline (for vs_check). */
vs_status vs_deletes_file_check(const char *path, size_t rows);

/* ----------------------------------------------------------- pk index */

typedef struct vs_pk_location {
  vs_segment *seg;
  uint32_t row;
} vs_pk_location;

typedef struct vs_pkindex {
  uint64_t *hashes;          /* 0 = empty slot (real hashes are forced odd) */
  vs_pk_location *values;
  size_t cap;                /* power of two */
  size_t count;
  int pk_col;                /* column of the key in every segment */
} vs_pkindex;

vs_status vs_pkindex_init(vs_pkindex *ix, size_t expected, int pk_col);
void vs_pkindex_free(vs_pkindex *ix);
/* Finds row `row` of view `key`'s value; returns true and *loc. */
bool vs_pkindex_find(const vs_pkindex *ix, const vs_colview *key, size_t row,
                     uint64_t hash, vs_pk_location *loc);
/* Inserts or replaces the location of a key. */
vs_status vs_pkindex_put(vs_pkindex *ix, const vs_colview *key, size_t row,
                         uint64_t hash, vs_pk_location loc);
/* Removes a key; returns true if present. */
bool vs_pkindex_remove(vs_pkindex *ix, const vs_colview *key, size_t row,
                       uint64_t hash);

/* ------------------------------------------------------------ collection */

typedef struct vs_partition {
  uint32_t id;
  char *name;
} vs_partition;

/* ------------------------------------------------------ scalar indexes */

/* scalar_index.c: INVERTED / STL_SORT / BITMAP indexes of scalar fields,
 * built in memory per sealed segment by the background builder. */
typedef enum vs_scalar_kind {
  VS_SCALAR_NONE = 0,
  VS_SCALAR_INVERTED = 1,
  VS_SCALAR_STL_SORT = 2,
  VS_SCALAR_BITMAP = 3
} vs_scalar_kind;

/* json_cast_type of a JSON path index: which JSON values it holds. */
typedef enum vs_json_cast {
  VS_CAST_NONE = 0,
  VS_CAST_DOUBLE = 1,        /* numbers */
  VS_CAST_VARCHAR = 2,       /* strings */
  VS_CAST_BOOL = 3           /* true/false */
} vs_json_cast;

struct vs_ixstep;
struct vs_ixleaf;
struct vs_expr;
typedef struct vs_scalar_index vs_scalar_index;

/* What a scalar index definition asks for (parsed from type + params). */
typedef struct vs_scalar_def {
  vs_scalar_kind kind;
  vs_json_cast cast;
  char *json_path;           /* JSON field: as given, e.g. meta["a"]["b"] */
  struct vs_ixstep *steps;   /* json_path parsed (keys point into keys) */
  size_t nsteps;
  char *keys;
  uint32_t bitmap_limit;     /* BITMAP: most distinct values per segment */
} vs_scalar_def;

/* One built scalar index: of sealed segment `segment_id`. */
typedef struct vs_scalar_built {
  uint64_t segment_id;
  vs_scalar_index *index;
} vs_scalar_built;

/* The index defined on one vector field (by vs_create_index). */
typedef struct vs_index_def {
  bool defined;
  vs_index_type type;
  char *requested_type;      /* as asked ("AUTOINDEX" or the type) */
  char *params_json;         /* build params as given, canonical JSON */
  vs_index_build_params build;
  uint32_t generation;       /* bumps on create/rebuild; never reused */
  char *fail_reason;         /* last build failure, or NULL */
  uint64_t build_ns;         /* total build time of this generation */
  /* scalar fields (then `type` and `build` are unused) */
  bool scalar;
  vs_scalar_def sdef;
  vs_scalar_built *built;    /* per sealed segment, sorted by segment id;
                                changed under the write lock */
  size_t built_count;
} vs_index_def;

typedef struct vs_collection {
  char *name;
  uint32_t id;
  char *dir;                 /* absolute path of the collection directory */
  vs_schema *schema;         /* replaced whole by vs_add_field */
  vs_schema **old_schemas;   /* replaced ones, freed with the collection */
  size_t old_schema_count;
  int pk_index;
  uint32_t shards;
  struct vs_db *db;

  pthread_rwlock_t lock;     /* readers: search/get/count; writers: apply,
                                seal, swap */
  pthread_mutex_t maintenance; /* one flush/compaction/DDL at a time */

  vs_partition *partitions;
  size_t partition_count;
  uint32_t next_partition_id;

  vs_segment **sealed;
  size_t sealed_count;
  size_t sealed_cap;
  vs_segment **growing;      /* one per (partition, shard) with rows */
  size_t growing_count;
  size_t growing_cap;
  uint64_t growing_rows;
  uint64_t growing_bytes;
  _Atomic uint64_t next_segment_id;
  int64_t next_auto_id;

  vs_pkindex pks;
  uint64_t live_rows;

  vs_index_def *index_defs;  /* one per schema field */
  uint32_t next_index_generation;

  vs_wal *wal;
  uint64_t applied_lsn;
  uint64_t checkpoint_lsn;
  uint64_t durable_lsn;      /* the MANIFEST's files reflect records up to
                                here (>= checkpoint_lsn): the WAL must
                                still hold them at open */
  bool failed;               /* an apply failed after logging: read only */
  int refs;                  /* users holding it (catalog_lock) */
  bool dropped;              /* removed from the catalog; free at refs 0 */
} vs_collection;

typedef struct vs_indexer vs_indexer;

struct vs_db {
  vs_indexer *indexer;       /* background index builds */
  char *dir;
  vs_options opt;
  vs_dir_lock *lock;
  vs_pool *pool;
  pthread_mutex_t catalog_lock; /* collection list and CATALOG */
  vs_collection **collections;
  size_t collection_count;
  size_t collection_cap;
  uint32_t next_collection_id;
};

/* The collection's schema, read with no lock.  vs_add_field replaces the
 * pointer (under the write lock) and keeps the old schema until the
 * collection is freed, so a snapshot stays readable; whatever is made from
 * it must be checked (c->schema == snapshot) or made under the lock. */
static inline const vs_schema *vs_collection_schema(const vs_collection *c) {
  return __atomic_load_n(&c->schema, __ATOMIC_ACQUIRE);
}

/* Test hooks (set only by tests, before the calls they watch; all NULL in
 * production, where each costs one load):
 *   after_normalize   write_rows: the batch is normalized, no lock held
 *                     (test_add_field adds a field here to force a retry)
 *   before_manifest   a MANIFEST write is about to start, with `schema`;
 *                     a status other than VS_OK fails the write with it */
typedef struct vs_engine_hooks {
  void (*after_normalize)(void *arg);
  vs_status (*before_manifest)(void *arg, const vs_collection *c, const vs_schema *schema);
  void *arg;
} vs_engine_hooks;
extern vs_engine_hooks vs_test_hooks;

/* DDL on one collection: refused on a read-only database; otherwise
 * `call` (an expression that may use `c`; its vs_status goes to `st`) runs
 * with a reference held, under the maintenance mutex and the write lock.
 * An unknown collection returns its status from the enclosing function. */
#define VS_DDL_CALL(db, collection, c, st, call)                                                 \
  do {                                                                                           \
    if ((db) && (db)->opt.read_only) {                                                           \
      return vs_fail(VS_ERR_UNSUPPORTED, "the database is open read-only");                      \
    }                                                                                            \
    vs_collection *c = NULL;                                                                     \
    vs_status ddl_st_ = vs_db_find(db, collection, &c);                                          \
    if (ddl_st_ != VS_OK) return ddl_st_;                                                        \
    pthread_mutex_lock(&c->maintenance);                                                         \
    pthread_rwlock_wrlock(&c->lock);                                                             \
    st = call;                                                                                   \
    pthread_rwlock_unlock(&c->lock);                                                             \
    pthread_mutex_unlock(&c->maintenance);                                                       \
    vs_db_release(db, c);                                                                        \
  } while (0)

/* collection.c */
vs_status vs_collection_create_files(struct vs_db *db, const char *name,
                                     uint32_t id, const vs_schema *schema,
                                     uint32_t shards, vs_collection **out);
vs_status vs_collection_open(struct vs_db *db, const char *name, uint32_t id,
                             vs_collection **out);
vs_status vs_collection_close(vs_collection *c, bool seal);
void vs_collection_free(vs_collection *c);
vs_status vs_collection_write_manifest(vs_collection *c);
/* The same with `schema` in place of c->schema (vs_add_field writes the
 * new schema before it publishes it). */
vs_status vs_collection_write_manifest_schema(vs_collection *c, const vs_schema *schema);
char *vs_collection_dir_name(uint32_t id);
vs_status vs_collection_flush_locked(vs_collection *c);
int vs_collection_partition_index(const vs_collection *c, const char *name);
bool vs_collection_has_partition_id(const vs_collection *c, uint32_t id);
/* The growing segment of (partition, shard), created if missing. */
vs_status vs_collection_growing(vs_collection *c, uint32_t partition,
                                uint32_t shard, vs_segment **out);
/* Applies a logged write (insert/upsert/delete) to memory.  `replay` is
 * true during recovery (an insert of an existing key then replaces it). */
vs_status vs_collection_apply(vs_collection *c, uint32_t type,
                              const uint8_t *payload, size_t len, bool replay);
vs_status vs_collection_compact(vs_collection *c, bool force);
bool vs_collection_wants_compaction(vs_collection *c);

/* indexer.c: index definitions, files and the background builder. */
vs_status vs_indexer_start(vs_db *db);
void vs_indexer_stop(vs_db *db);
/* Wakes the builder (new sealed segments or a new definition). */
void vs_indexer_kick(vs_db *db);
/* MANIFEST parts: the definitions, and a segment's index files. */
void *vs_index_defs_to_json(const vs_collection *c);
vs_status vs_index_defs_from_json(vs_collection *c, void *json);
void *vs_segment_indexes_to_json(const vs_collection *c, const vs_segment *seg);
vs_status vs_segment_indexes_from_json(vs_collection *c, vs_segment *seg, void *json);
/* Files a segment's indexes use (for orphan detection and removal). */
bool vs_segment_index_uses_file(const vs_segment *seg, const char *name);
void vs_segment_index_remove_files(const vs_collection *c, const vs_segment *seg);
void vs_index_defs_free(vs_collection *c);
void vs_indexer_progress(vs_db *db, const vs_collection *c, int field, uint64_t *done,
                         uint64_t *total);
vs_status vs_indexer_wait(vs_db *db, bool (*ready)(void *ctx), void *ctx, uint32_t timeout_ms);
/* index_params.c */
vs_status vs_index_parse_build(const char *type_name, const char *json, vs_metric metric,
                               vs_index_type *type, vs_index_build_params *out);
vs_status vs_index_parse_search(const char *json, vs_index_search_params *out);
vs_status vs_index_check_range(vs_metric metric, const vs_index_search_params *p);
/* The active index of field `field` of a sealed segment, or NULL. */
const vs_index *vs_segment_active_index(const vs_segment *seg, int field);

/* scalar_index.c */
/* True for INVERTED, STL_SORT and BITMAP (any case). */
bool vs_scalar_type_name(const char *name);
const char *vs_scalar_kind_name(vs_scalar_kind kind);
/* Checks `type_name` (INVERTED/STL_SORT/BITMAP/AUTOINDEX) and params
 * (json_path, json_cast_type, bitmap_cardinality_limit) against field `f`
 * and fills *out; AUTOINDEX resolves to a kind by field type. */
vs_status vs_scalar_def_parse(const vs_field *f, const char *type_name, const char *params_json,
                              vs_scalar_def *out);
void vs_scalar_def_free(vs_scalar_def *def);
/* Builds the index of one sealed segment column (no lock needed: sealed
 * columns are immutable).  `segment_id` only names it in messages. */
vs_status vs_scalar_index_build(const vs_scalar_def *def, const vs_field *f, const vs_colview *col,
                                size_t rows, uint64_t segment_id, vs_scalar_index **out);
void vs_scalar_index_free(vs_scalar_index *ix);
size_t vs_scalar_index_memory(const vs_scalar_index *ix);
size_t vs_scalar_index_keys(const vs_scalar_index *ix);
/* Answers a leaf (see expr/indexable.h) from the index; false when the
 * index cannot (e.g. a string constant against a numeric JSON index). */
bool vs_scalar_index_answer(const vs_scalar_index *ix, const vs_scalar_def *def, const vs_field *f,
                            const struct vs_ixleaf *leaf, vs_bitset *out);
/* The definition's index of sealed segment `segment_id`, or NULL (under
 * the read lock). */
vs_scalar_index *vs_scalar_lookup(const vs_index_def *d, uint64_t segment_id);
/* Under the write lock: keeps `ix` as the index of `segment_id`, and
 * frees the indexes of segments no longer sealed in `c`. */
vs_status vs_scalar_attach(const vs_collection *c, vs_index_def *d, uint64_t segment_id, vs_scalar_index *ix);
/* Frees every built index of the definition. */
void vs_scalar_detach_all(vs_index_def *d);

/* filter.c: how vs_filter_segment_in produced a segment's bitset. */
typedef struct vs_filter_info {
  const char *method;        /* "none" (no filter), "scan", "scalar_index"
                                (answered wholly by indexes), or
                                "scalar_index+scan" (indexes narrowed the
                                rows, the filter was evaluated on those) */
  size_t estimate;           /* rows the indexes say may pass (before
                                tombstones); the scan's count otherwise */
} vs_filter_info;
/* vs_filter_segment, answering from the collection's scalar indexes when
 * the filter allows; the result is always identical.  `info` may be NULL.
 * Under the read lock. */
vs_status vs_filter_segment_in(const vs_collection *c, const struct vs_expr *expr, const vs_segment *seg,
                               vs_bitset *pass, size_t *count, vs_filter_info *info);

/* read.c: output fields of get and search. */
typedef struct vs_output_plan {
  size_t *cols;              /* column indexes of the normalized layout */
  size_t count;
} vs_output_plan;

/* Resolves names ("*" = every field and $meta) into columns; the primary
 * key always comes first. */
vs_status vs_output_plan_make(const vs_schema *schema, const char *const *names,
                              size_t count, vs_output_plan *out);
void vs_output_plan_free(vs_output_plan *plan);
vs_status vs_output_rows_new(const vs_schema *schema, const vs_output_plan *plan,
                             vs_rows **out);
vs_status vs_output_append(vs_rows *rows, const vs_output_plan *plan,
                           const vs_segment *seg, size_t row);

/* A key column view over vs_keys of the collection's key type; VarChar keys
 * are copied into *offsets / *bytes (caller frees). */
vs_status vs_keys_view(const vs_collection *c, const vs_keys *keys, vs_colview *view,
                       uint64_t **offsets, char **bytes);

/* result.c: search results.  Hit i of query q is slot q * k + i; output
 * rows (if any) are appended in hit order, query 0 first. */
struct vs_result {
  size_t nq;
  uint32_t k;                /* slots per query */
  size_t *counts;
  size_t *row_base;
  float *dist;
  int64_t *ids;
  char **str_ids;
  vs_rows *rows;
  char *profile;             /* JSON text, or NULL */
};

vs_status vs_result_alloc(vs_result **out, size_t nq, uint32_t k, bool str_keys);

/* filter.c: filters and partition selection shared by query and search. */
struct vs_expr;
/* Compiles a filter for the collection's schema; *out is NULL for an empty
 * filter (every row passes). */
vs_status vs_filter_compile(const vs_collection *c, const char *text, const char *params_json,
                            struct vs_expr **out);
/* Initialises *pass with seg->rows bits: the live rows of `seg` that pass
 * `expr` (NULL = every live row); *count = how many.  Under the read lock. */
vs_status vs_filter_segment(const struct vs_expr *expr, const vs_segment *seg, vs_bitset *pass,
                            size_t *count);
/* Partition names -> ids (*ids NULL when count is 0 = all partitions);
 * VS_ERR_PARTITION_NOT_FOUND names the first unknown one. */
vs_status vs_partition_ids(const vs_collection *c, const char *const *names, size_t count,
                           uint32_t **ids);
bool vs_segment_in_partitions(const vs_segment *seg, const uint32_t *ids, size_t count);
/* Every segment of the chosen partitions: sealed (oldest first), then
 * growing.  Under the read lock; free(*segs). */
vs_status vs_pick_segments(const vs_collection *c, const uint32_t *ids, size_t count,
                           vs_segment ***segs, size_t *seg_count);
/* Monotonic clock in microseconds (profiles). */
uint64_t vs_now_us(void);

/* Lookup of a collection by name; takes a reference that the caller gives
 * back with vs_db_release. */
vs_status vs_db_find(vs_db *db, const char *name, vs_collection **out);
void vs_db_release(vs_db *db, vs_collection *c);

#endif /* VS_ENGINE_INTERNAL_H */
