/*
 * vectorstore.h -- the public C API of vectorstore, an embedded vector database.
 *
 * Conventions (the whole header follows them):
 *
 *  - Handles are opaque.  A constructor returns a vs_status and writes the
 *    handle to its last (out) parameter; on failure the out parameter is set
 *    to NULL.
 *  - Every function that can fail returns a vs_status.  The message that says
 *    what was wrong ("field 'vector' expects 768 floats, row 12 has 767") is
 *    kept per calling thread and read with vs_errmsg(); it stays valid until
 *    the same thread makes its next vectorstore call.
 *  - Ownership: a function named *_free / *_close releases what a *_new /
 *    *_open / result-returning call gave you.  Strings and arrays returned
 *    through `char **` / `char ***` out parameters are released with
 *    vs_free() / vs_free_strings().  Every *_free / *_close accepts NULL.
 *    Pointers returned by accessors
 *    (vs_rows_get_*, vs_result_*) borrow from their handle and live as long
 *    as it does.
 *  - A vs_db handle is safe to use from many threads at once.  vs_schema and
 *    vs_rows handles are plain values: one thread at a time.
 *  - Status codes are never renumbered; new codes are only appended.
 */
#ifndef VECTORSTORE_H
#define VECTORSTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VS_VERSION_STRING "0.1.0"
#define VS_MAX_DIM 32768u
#define VS_MAX_TOPK 16384u
#define VS_MAX_NQ 16384u
#define VS_MAX_SEARCH_RESULTS (1u << 24)   /* nq x k of one search */
#define VS_MAX_INSERT_ROWS (1u << 20)      /* rows of one write */
#define VS_MAX_VARCHAR 65535u
#define VS_MAX_ARRAY_CAPACITY 4096u
#define VS_MAX_NAME 255u
#define VS_DEFAULT_PARTITION "_default"

/*
 * The one error table.  Columns: enum name, number (never changes), short
 * name, default message, Milvus REST `code`, HTTP status.
 */
#define VS_STATUS_TABLE(X)                                                     \
  X(VS_OK, 0, "OK", "success", 0, 200)                                         \
  X(VS_ERR_INVALID, 1, "INVALID", "invalid argument", 1100, 200)               \
  X(VS_ERR_NOT_FOUND, 2, "NOT_FOUND", "not found", 100, 200)                   \
  X(VS_ERR_EXISTS, 3, "EXISTS", "already exists", 1100, 200)                   \
  X(VS_ERR_IO, 4, "IO", "input/output error", 65535, 500)                      \
  X(VS_ERR_CORRUPT, 5, "CORRUPT", "data is corrupted", 65535, 500)             \
  X(VS_ERR_NOMEM, 6, "NOMEM", "out of memory", 65535, 500)                     \
  X(VS_ERR_LIMIT, 7, "LIMIT", "limit exceeded", 1102, 200)                     \
  X(VS_ERR_BUSY, 8, "BUSY", "resource is busy", 2, 200)                        \
  X(VS_ERR_AUTH, 9, "AUTH", "not authenticated", 1800, 401)                    \
  X(VS_ERR_DENIED, 10, "DENIED", "permission denied", 1401, 403)               \
  X(VS_ERR_INTERNAL, 11, "INTERNAL", "internal error", 65535, 500)             \
  X(VS_ERR_UNSUPPORTED, 12, "UNSUPPORTED", "not supported", 1100, 200)         \
  X(VS_ERR_SCHEMA, 13, "SCHEMA", "illegal collection schema", 105, 200)        \
  X(VS_ERR_DATA, 14, "DATA", "invalid insert data", 1804, 200)                 \
  X(VS_ERR_TIMEOUT, 15, "TIMEOUT", "timed out", 10001, 408)                    \
  X(VS_ERR_PARTITION_NOT_FOUND, 16, "PARTITION_NOT_FOUND",                     \
    "partition not found", 200, 200)                                           \
  X(VS_ERR_FIELD_NOT_FOUND, 17, "FIELD_NOT_FOUND", "field not found", 1700,   \
    200)

typedef enum vs_status {
#define VS_X_ENUM(name, num, shortname, msg, milvus, http) name = num,
  VS_STATUS_TABLE(VS_X_ENUM)
#undef VS_X_ENUM
} vs_status;

/* The default message of a status ("not found"); never NULL. */
const char *vs_strerror(vs_status status);
/* The short name ("NOT_FOUND"); never NULL. */
const char *vs_status_name(vs_status status);
/* The Milvus REST `code` and HTTP status derived from the table. */
int vs_status_milvus_code(vs_status status);
int vs_status_http(vs_status status);

typedef struct vs_db vs_db;
typedef struct vs_schema vs_schema;
typedef struct vs_rows vs_rows;
typedef struct vs_result vs_result;

/* The calling thread's message for its last failed call.  `db` may be NULL;
 * messages are per thread so concurrent users of one handle do not clobber
 * each other.  Never NULL (empty when there is no message). */
const char *vs_errmsg(const vs_db *db);

/* Frees memory that the library returned through a `char **`. */
void vs_free(void *p);
/* Frees an array of n strings returned through a `char ***`. */
void vs_free_strings(char **strings, size_t n);

/* ---------------------------------------------------------------- version */

/* "0.1.0". */
const char *vs_version(void);
/* The SIMD level chosen at start-up: "avx512", "avx2" or "reference". */
const char *vs_simd_level(void);

/* ------------------------------------------------------------------ types */

/* Numbers match Milvus's DataType enum so they can cross the wire as is. */
typedef enum vs_type {
  VS_TYPE_NONE = 0,
  VS_TYPE_BOOL = 1,
  VS_TYPE_INT8 = 2,
  VS_TYPE_INT16 = 3,
  VS_TYPE_INT32 = 4,
  VS_TYPE_INT64 = 5,
  VS_TYPE_FLOAT = 10,
  VS_TYPE_DOUBLE = 11,
  VS_TYPE_VARCHAR = 21,
  VS_TYPE_ARRAY = 22,
  VS_TYPE_JSON = 23,
  VS_TYPE_FLOAT_VECTOR = 101
} vs_type;

/* Milvus's name of a type ("Int64", "FloatVector"); NULL if unknown. */
const char *vs_type_name(vs_type type);
/* Parses a Milvus type name (case-sensitive); VS_TYPE_NONE if unknown. */
vs_type vs_type_from_name(const char *name);

typedef enum vs_metric {
  VS_METRIC_L2 = 0,     /* squared Euclidean distance, ascending */
  VS_METRIC_IP = 1,     /* inner product, descending */
  VS_METRIC_COSINE = 2  /* cosine similarity, descending */
} vs_metric;

const char *vs_metric_name(vs_metric metric);
/* "L2", "IP", "COSINE" (case-insensitive); returns VS_ERR_INVALID if unknown. */
vs_status vs_metric_from_name(const char *name, vs_metric *out);

/* ---------------------------------------------------------------- options */

typedef enum vs_fsync_policy {
  VS_FSYNC_ALWAYS = 0, /* default: a write is acknowledged after fdatasync
                          (group commit: concurrent writers share one) */
  VS_FSYNC_BATCH = 1,  /* acknowledged once written to the OS; a background
                          thread syncs every batch_interval_ms */
  VS_FSYNC_NONE = 2    /* never sync; the OS decides */
} vs_fsync_policy;

const char *vs_fsync_policy_name(vs_fsync_policy p);
vs_status vs_fsync_policy_from_name(const char *name, vs_fsync_policy *out);

typedef struct vs_options {
  vs_fsync_policy fsync;          /* default VS_FSYNC_ALWAYS */
  uint32_t batch_interval_ms;     /* VS_FSYNC_BATCH period, default 10 */
  uint32_t threads;               /* search threads; 0 = one per core */
  uint32_t default_shards;        /* shards of new collections; 0 = the
                                     MILVUS_COLLECTION_SHARDS env or 2 */
  uint64_t seal_rows;             /* growing rows (all shards) that trigger a
                                     seal; default 262144 */
  uint64_t seal_bytes;            /* growing bytes that trigger a seal;
                                     default 256 MiB */
  double compact_deleted_ratio;   /* compact a sealed segment when this
                                     fraction is deleted; default 0.2 */
  int auto_compact;               /* compact after deletes; default 1 */
  int verify_on_open;             /* verify every checksum at open; default 1 */
  int read_only;                  /* open without WAL or writes; default 0 */
} vs_options;

/* Fills *opt with the defaults above (reads MILVUS_COLLECTION_SHARDS). */
void vs_options_init(vs_options *opt);

/* --------------------------------------------------------------- database */

/* Opens (creating if needed) the database in directory `dir`.  Takes an
 * exclusive lock on the directory (VS_ERR_BUSY if another process has it),
 * then recovers: reads each collection's MANIFEST, maps its sealed segments
 * and replays its WAL.  `opt` may be NULL for defaults. */
vs_status vs_open(const char *dir, const vs_options *opt, vs_db **out);
/* Seals growing data, writes MANIFESTs, syncs and frees.  NULL is a no-op. */
vs_status vs_close(vs_db *db);

/* ----------------------------------------------------------------- schema */

typedef struct vs_field_def {
  const char *name;          /* 1..255 chars: letters, digits, '_'; not
                                starting with a digit */
  vs_type type;
  int is_primary;            /* exactly one field; Int64 or VarChar */
  int auto_id;               /* Int64 primary key only */
  uint32_t dim;              /* FloatVector: 1..32768 */
  vs_metric metric;          /* FloatVector */
  uint32_t max_length;       /* VarChar, and Array of VarChar: 1..65535 */
  vs_type element_type;      /* Array: a scalar type (not JSON/Array) */
  uint32_t max_capacity;     /* Array: 1..4096 */
  int nullable;              /* not for the primary key or vectors */
  const char *default_json;  /* default value as JSON text, or NULL */
  const char *description;   /* may be NULL */
} vs_field_def;

vs_status vs_schema_new(vs_schema **out);
void vs_schema_free(vs_schema *schema);
/* Appends a field (ids are assigned from 100 in order).  Validates the
 * definition; names must be unique. */
vs_status vs_schema_add_field(vs_schema *schema, const vs_field_def *def);
/* Keeps keys that are not in the schema in the hidden JSON field "$meta". */
vs_status vs_schema_enable_dynamic(vs_schema *schema, int enable);
vs_status vs_schema_set_description(vs_schema *schema, const char *text);
/* Checks the whole schema: one primary key, at least one vector field. */
vs_status vs_schema_validate(const vs_schema *schema);
size_t vs_schema_field_count(const vs_schema *schema);
/* Borrowed view of field i (strings live as long as the schema). */
vs_status vs_schema_field(const vs_schema *schema, size_t i,
                          vs_field_def *out);
/* JSON text of the schema ({"fields":[...],"enableDynamicField":...}). */
vs_status vs_schema_to_json(const vs_schema *schema, char **out);
vs_status vs_schema_from_json(const char *json, vs_schema **out);

/* ------------------------------------------------------------ collections */

typedef struct vs_collection_options {
  uint32_t shards; /* 0 = the database default */
} vs_collection_options;

/* Creates a collection; VS_ERR_EXISTS if the name is taken.  `opt` may be
 * NULL. */
vs_status vs_create_collection(vs_db *db, const char *name,
                               const vs_schema *schema,
                               const vs_collection_options *opt);
/* Drops a collection and deletes its files.  VS_ERR_NOT_FOUND if missing. */
vs_status vs_drop_collection(vs_db *db, const char *name);
vs_status vs_rename_collection(vs_db *db, const char *old_name,
                               const char *new_name);
vs_status vs_has_collection(vs_db *db, const char *name, int *out);
/* Names in creation order; free with vs_free_strings. */
vs_status vs_list_collections(vs_db *db, char ***names, size_t *count);
/* A copy of the collection's schema; free with vs_schema_free. */
vs_status vs_get_schema(vs_db *db, const char *name, vs_schema **out);

typedef struct vs_collection_stats {
  uint64_t rows;            /* live rows (inserted minus deleted) */
  uint64_t deleted_rows;    /* tombstoned rows not yet compacted away */
  uint32_t shards;
  uint32_t partitions;
  uint32_t sealed_segments;
  uint32_t growing_segments;
  uint64_t growing_rows;
  uint64_t sealed_bytes;    /* bytes of sealed segment files */
  uint64_t wal_bytes;       /* bytes of WAL files not yet checkpointed */
  uint64_t last_lsn;        /* last WAL sequence number applied */
  uint64_t checkpoint_lsn;  /* everything up to here is in sealed files */
} vs_collection_stats;

vs_status vs_collection_stats_get(vs_db *db, const char *name,
                                  vs_collection_stats *out);
/* JSON description: name, schema, shards, partitions, stats. */
vs_status vs_describe_collection(vs_db *db, const char *name, char **json);

/* Seals every growing segment and checkpoints the WAL. */
vs_status vs_flush(vs_db *db, const char *collection);
/* Rewrites sealed segments whose deleted fraction passes the threshold (or
 * every segment with a deleted row if `force`).  Online: searches continue. */
vs_status vs_compact(vs_db *db, const char *collection, int force);

/* Raises a field's limits: max_length of a VarChar field (or of an Array's
 * VarChar elements) and max_capacity of an Array field; 0 keeps a limit.
 * Limits only grow, so every stored value stays valid; a smaller value is
 * VS_ERR_INVALID.  (Milvus: collections/fields/alter_properties.) */
vs_status vs_alter_field(vs_db *db, const char *collection, const char *field,
                         uint32_t max_length, uint32_t max_capacity);
/* Adds a field to an existing collection (Milvus 2.6: collections/fields/
 * add).  Only nullable scalar fields (not vectors, not a primary key); the
 * rows stored before get the field's default, else null.  Growing rows are
 * sealed first; sealed segments gain the column in memory (their files are
 * left as written and the column is rebuilt at each open, about 9 bytes per
 * row for an Int64, until vs_compact(force) rewrites them).  Readers and
 * writers may run concurrently; a write normalized against the old schema
 * is normalized again (rows built against the old schema with a dynamic key
 * the new field now names then fail with VS_ERR_DATA: build them again).
 * A failed MANIFEST write leaves the collection read-only until reopened
 * (VS_ERR_IO), with the old schema. */
vs_status vs_add_field(vs_db *db, const char *collection, const vs_field_def *def);

/* ------------------------------------------------------------- partitions */

vs_status vs_create_partition(vs_db *db, const char *collection,
                              const char *partition);
/* Drops a partition and its rows.  "_default" cannot be dropped. */
vs_status vs_drop_partition(vs_db *db, const char *collection,
                            const char *partition);
vs_status vs_has_partition(vs_db *db, const char *collection,
                           const char *partition, int *out);
vs_status vs_list_partitions(vs_db *db, const char *collection,
                             char ***names, size_t *count);

/* ------------------------------------------------------------------- rows */

/*
 * vs_rows is a batch of rows kept column by column.  You fill one to insert
 * (columns named after schema fields, in any order), and you get one back
 * from vs_get / vs_result_rows.  Setters copy the data you pass.  `valid`
 * (may be NULL = all present) has one byte per row: 0 marks a null (or, on
 * insert, "use the default").
 */
vs_status vs_rows_new(size_t row_count, vs_rows **out);
void vs_rows_free(vs_rows *rows);
size_t vs_rows_count(const vs_rows *rows);
size_t vs_rows_column_count(const vs_rows *rows);
const char *vs_rows_column_name(const vs_rows *rows, size_t column);
vs_type vs_rows_column_type(const vs_rows *rows, size_t column);

vs_status vs_rows_set_bool(vs_rows *rows, const char *field,
                           const uint8_t *values, const uint8_t *valid);
/* Int8/Int16/Int32/Int64 columns; the values are range-checked at insert
 * against the schema type. */
vs_status vs_rows_set_int64(vs_rows *rows, const char *field,
                            const int64_t *values, const uint8_t *valid);
/* Float and Double columns. */
vs_status vs_rows_set_double(vs_rows *rows, const char *field,
                             const double *values, const uint8_t *valid);
vs_status vs_rows_set_float(vs_rows *rows, const char *field,
                            const float *values, const uint8_t *valid);
/* VarChar (UTF-8); a NULL entry is a null. */
vs_status vs_rows_set_strings(vs_rows *rows, const char *field,
                              const char *const *values);
/* JSON field, or an Array field given as a JSON array; NULL entry = null. */
vs_status vs_rows_set_json(vs_rows *rows, const char *field,
                           const char *const *json_texts);
/* row_count x dim floats, row-major. */
vs_status vs_rows_set_float_vectors(vs_rows *rows, const char *field,
                                    const float *values, uint32_t dim);

/* Parses a JSON array of row objects ([{"id":1,"vector":[...]}, ...]) into
 * a batch typed by `schema` (fields not in the schema go to "$meta" when the
 * schema is dynamic, else an error naming the row and key). */
vs_status vs_rows_from_json(const vs_schema *schema, const char *json,
                            vs_rows **out);

/* Accessors; `field` is a column name, `row` < vs_rows_count. */
int vs_rows_is_null(const vs_rows *rows, const char *field, size_t row);
vs_status vs_rows_get_bool(const vs_rows *rows, const char *field, size_t row,
                           int *out);
vs_status vs_rows_get_int64(const vs_rows *rows, const char *field, size_t row,
                            int64_t *out);
vs_status vs_rows_get_double(const vs_rows *rows, const char *field,
                             size_t row, double *out);
/* VarChar, JSON and Array columns (JSON text).  Values sit back to back
 * and are not NUL-terminated: always use *len. */
vs_status vs_rows_get_string(const vs_rows *rows, const char *field,
                             size_t row, const char **out, size_t *len);
vs_status vs_rows_get_float_vector(const vs_rows *rows, const char *field,
                                   size_t row, const float **out,
                                   uint32_t *dim);
/* One row as a JSON object (dynamic keys spread at top level). */
vs_status vs_rows_row_to_json(const vs_rows *rows, size_t row, char **out);

/* ------------------------------------------------------------------ writes */

typedef struct vs_write_info {
  uint64_t rows;          /* rows written (upsert: rows inserted/replaced) */
  int64_t first_auto_id;  /* autoID collections: ids are first..first+rows-1 */
  uint64_t lsn;           /* WAL sequence number of the write */
} vs_write_info;

/*
 * Inserts a batch into `partition` (NULL = "_default").  The batch is checked
 * against the schema first; any error (wrong dimension, NaN/Inf, wrong type,
 * missing required field, unknown field without a dynamic field, over-long
 * VarChar, duplicate primary key) fails the whole call with VS_ERR_DATA (or
 * VS_ERR_LIMIT for an oversized batch) and a message naming the field and
 * row ("row 3: primary key 42 already exists"), and nothing is written.  Returns once the write is
 * durable under the fsync policy.  `info` may be NULL.
 */
vs_status vs_insert(vs_db *db, const char *collection, const char *partition,
                    const vs_rows *rows, vs_write_info *info);
/* Like vs_insert, but rows whose primary key exists replace the old row. */
vs_status vs_upsert(vs_db *db, const char *collection, const char *partition,
                    const vs_rows *rows, vs_write_info *info);

/* Primary keys: `int_keys` for Int64 keys, or `str_keys` for VarChar. */
typedef struct vs_keys {
  size_t count;
  const int64_t *int_keys;
  const char *const *str_keys;
} vs_keys;

/* Deletes rows by primary key (keys that do not exist are ignored).
 * `partition` NULL = every partition.  `deleted` may be NULL. */
vs_status vs_delete(vs_db *db, const char *collection, const char *partition,
                    const vs_keys *keys, uint64_t *deleted);

/* ------------------------------------------------------------------- reads */

/* Rows with the given keys, in key order (missing keys skipped), with the
 * named output fields ("*" = all, NULL/0 = primary key only). */
vs_status vs_get(vs_db *db, const char *collection, const vs_keys *keys,
                 const char *const *output_fields, size_t output_count,
                 vs_rows **out);
/* Live rows; `partition` NULL = all. */
vs_status vs_count(vs_db *db, const char *collection, const char *partition,
                   uint64_t *out);

typedef struct vs_search_request {
  const char *vector_field;     /* NULL = the only vector field */
  const float *vectors;         /* nq x dim, row-major */
  size_t nq;                    /* 1..16384 */
  uint32_t dim;
  uint32_t k;                   /* 1..16384 */
  const char *const *partitions;/* NULL = all */
  size_t partition_count;
  const char *const *output_fields; /* "*" = all; NULL = none */
  size_t output_count;
  uint32_t threads;             /* 0 = the database pool's size */
  const char *params_json;      /* search params, Milvus style, or NULL:
                                   {"ef":64} (HNSW), {"nprobe":16} (IVF),
                                   {"refine_k":40} (SQ8/PQ re-ranking),
                                   {"radius":R,"range_filter":F} (range
                                   search); keys may be nested under
                                   "params" and numbers given as strings */
  /* --- filtered search, paging, grouping, profiles (zero = off) --- */
  const char *filter;           /* boolean expression (Milvus language,
                                   docs/filters.md), NULL/"" = every row */
  const char *filter_params_json; /* template values for {name} in the
                                   filter (Milvus exprParams), or NULL */
  uint32_t offset;              /* skip the best `offset` hits of each
                                   query (offset + k <= 16384) */
  const char *group_by_field;   /* grouping search: at most k groups of
                                   at most group_size hits each */
  uint32_t group_size;          /* 0 = 1 */
  int strict_group_size;        /* only groups with group_size hits */
  int profile;                  /* nonzero: vs_result_profile() is set */
} vs_search_request;

/* Exact (FLAT) top-k search.  Results are ordered best first: L2 ascending,
 * IP and COSINE descending; equal distances in storage order.  nq x k is at
 * most 16,777,216 (VS_ERR_LIMIT beyond). */
vs_status vs_search(vs_db *db, const char *collection,
                    const vs_search_request *request, vs_result **out);

void vs_result_free(vs_result *result);
size_t vs_result_nq(const vs_result *result);
/* Hits of query q (<= k). */
size_t vs_result_hits(const vs_result *result, size_t q);
float vs_result_distance(const vs_result *result, size_t q, size_t i);
/* Primary key of hit i of query q; for VarChar keys use _str. */
int64_t vs_result_id(const vs_result *result, size_t q, size_t i);
const char *vs_result_id_str(const vs_result *result, size_t q, size_t i);
/* Output fields of all hits, query 0 first; hit (q,i) is row
 * vs_result_row_index(q,i).  NULL when no output fields were asked. */
const vs_rows *vs_result_rows(const vs_result *result);
size_t vs_result_row_index(const vs_result *result, size_t q, size_t i);

/* The query profile of a search or query made with `profile` set: JSON
 * text with the time per phase (parse, plan, filter, ann, merge, fetch, in
 * microseconds), rows and segments scanned, distance computations and the
 * optimizer's choice per segment.  NULL when not asked for. */
const char *vs_result_profile(const vs_result *result);

/* ----------------------------------------------------------------- queries */

typedef struct vs_query_request {
  const char *filter;           /* NULL/"" = every row */
  const char *filter_params_json; /* exprParams, or NULL */
  const char *const *output_fields; /* "*" = all; NULL = primary key */
  size_t output_count;
  uint64_t limit;               /* 0 = no limit */
  uint64_t offset;
  const char *const *partitions;/* NULL = all */
  size_t partition_count;
  int profile;                  /* nonzero: *profile_json is set */
} vs_query_request;

/* The rows that pass the filter, in storage order (sealed segments oldest
 * first, then growing ones), after `offset`, at most `limit`.  A syntax or
 * type error in the filter is VS_ERR_INVALID with the byte position and a
 * caret line.  `profile_json` may be NULL; if the request asks for a
 * profile it receives JSON text (free with vs_free). */
vs_status vs_query(vs_db *db, const char *collection,
                   const vs_query_request *request, vs_rows **out,
                   char **profile_json);
/* count(*): rows that pass the filter (NULL/"" = all live rows). */
vs_status vs_query_count(vs_db *db, const char *collection,
                         const char *filter, const char *filter_params_json,
                         const char *const *partitions,
                         size_t partition_count, uint64_t *out);
/* Deletes every row that passes `filter` (required, non-empty) in
 * `partition` (NULL = all).  The matching keys are collected under the
 * read lock and deleted as one logged write. */
vs_status vs_delete_where(vs_db *db, const char *collection,
                          const char *partition, const char *filter,
                          const char *filter_params_json, uint64_t *deleted);

/* ---------------------------------------------------------- hybrid search */

typedef struct vs_hybrid_request {
  const vs_search_request *searches; /* each: its field, vectors, filter,
                                        params and k (its route's top-k);
                                        all with the same nq */
  size_t search_count;          /* 1..1024 */
  const char *rerank;           /* "rrf" or "weighted" */
  const char *rerank_params_json; /* rrf: {"k":60}; weighted:
                                   {"weights":[..],"norm_score":true} */
  uint32_t k;                   /* final hits per query */
  uint32_t offset;
  const char *const *partitions;/* NULL = all (applies to every route) */
  size_t partition_count;
  const char *const *output_fields;
  size_t output_count;
  int profile;
} vs_hybrid_request;

/* Runs every sub-search and fuses the lists (Milvus section 5.4 rules):
 * RRF score = sum 1/(k + rank); weighted = sum w_i * norm(d_i).  Result
 * distances are the fused scores, best (largest) first. */
vs_status vs_hybrid_search(vs_db *db, const char *collection,
                           const vs_hybrid_request *request, vs_result **out);

/* --------------------------------------------------------------- indexes */

/*
 * One index per field (`field` NULL = the only vector field).  Scalar
 * fields take "INVERTED", "STL_SORT", "BITMAP" or "AUTOINDEX" (filters then
 * use them, docs/indexes.md); a JSON field needs {"json_path":"meta[\"k\"]",
 * "json_cast_type":"double|varchar|bool"}.  Vector types:
 * "FLAT", "HNSW", "HNSW_SQ8", "IVF_FLAT", "IVF_SQ8", "IVF_PQ" and
 * "AUTOINDEX" (see docs/indexes.md for what it picks).  Build params as a
 * JSON object: {"M":16,"efConstruction":200} (HNSW*), {"nlist":128}
 * (IVF*), {"nlist":128,"m":16,"nbits":8} (IVF_PQ); "metric_type" may be
 * given and must match the field.  Indexes are built in the background per
 * sealed segment; until a segment's index is ready it is searched exactly,
 * and growing data always is, so fresh rows are always visible.
 */
vs_status vs_create_index(vs_db *db, const char *collection, const char *field,
                          const char *type, const char *params_json);
/* Succeeds if there is no index. */
vs_status vs_drop_index(vs_db *db, const char *collection, const char *field);
/* Online rebuild with a new type/params (NULL = keep): searches use the
 * old index until every segment's new one is built, then all swap at once. */
vs_status vs_rebuild_index(vs_db *db, const char *collection,
                           const char *field, const char *type,
                           const char *params_json);
/* JSON: fieldName, indexType, requestedType, metricType, params, state
 * ("Finished", "InProgress", "Failed"), indexedRows, totalRows,
 * pendingRows, indexedSegments, sealedSegments, buildRowsDone/Total (the
 * build in flight), buildSeconds, failReason.  Free with vs_free. */
vs_status vs_describe_index(vs_db *db, const char *collection,
                            const char *field, char **json);
/* Names of the fields that have an index. */
vs_status vs_list_indexes(vs_db *db, const char *collection, char ***fields,
                          size_t *count);
/* Waits until every sealed segment has the current index (VS_ERR_TIMEOUT
 * after timeout_ms; VS_ERR_INTERNAL with the reason if the build failed). */
vs_status vs_wait_for_index(vs_db *db, const char *collection,
                            const char *field, uint32_t timeout_ms);

/* ---------------------------------------------------------------- metrics */

#define VS_FSYNC_BUCKETS 10
/* Upper bounds (seconds) of the fsync latency histogram buckets. */
extern const double vs_fsync_bucket_bounds[VS_FSYNC_BUCKETS];

/* Process-wide engine counters, for a metrics endpoint. */
typedef struct vs_engine_metrics {
  uint64_t wal_fsyncs;                      /* fdatasync calls on WALs */
  double wal_fsync_seconds;                 /* their total duration */
  uint64_t wal_fsync_le[VS_FSYNC_BUCKETS];  /* cumulative: count <= bound */
  uint64_t wal_bytes_written;
} vs_engine_metrics;

void vs_engine_metrics_get(vs_engine_metrics *out);

/* -------------------------------------------------------------- checking */

/* Verifies every file of the database in `dir` offline (checksums,
 * structure, WAL framing).  Each finding -- a problem, a torn WAL tail, or a
 * per-collection summary -- is passed to `report` (may be NULL) as one line;
 * returns VS_OK when clean, VS_ERR_CORRUPT (message: "N problems found")
 * when not, VS_ERR_BUSY if a process has the database open. */
typedef void (*vs_report_fn)(void *ctx, const char *line);
vs_status vs_check(const char *dir, vs_report_fn report, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* VECTORSTORE_H */
