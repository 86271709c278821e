/*
 * server.h -- the interface shared by the files of src/server/, the
 * `vectorstore serve` process: the Milvus RESTful API v2 over the engine.
 *
 * Layers inside the server (each file names its part in its own essay):
 *
 *   server_main.c  start-up, signals, graceful shutdown    (core)
 *   config.c       defaults < .env < environment < flags  (core)
 *   http.c         libmicrohttpd glue: bodies, limits, timeouts, CORS,
 *                  request ids, logs, the envelope          (core)
 *   metrics.c      Prometheus registry and /metrics          (core)
 *   routes.c       the route table: path -> handler + privilege
 *   catalog.c      databases (one vs_db each), aliases, load state,
 *                  collection properties (server.json per database)
 *   h_*.c          the handlers, one file per endpoint group
 *   render.c       rows and values to JSON (Int64 rendering, 3.x shapes)
 *
 * A handler sees one srv_request: the parsed JSON body, the resolved
 * database name and the rendering options.  It answers exactly once with
 * srv_reply_ok / srv_reply_error / srv_reply_status; http.c turns that into
 * the Milvus envelope ({"code":0,"data":...} or {"code":N,"message":...},
 * HTTP 200) and the HTTP response.  Handlers never touch libmicrohttpd.
 *
 * Privileges: every route names the Milvus object type and privilege it
 * needs ("Collection"/"Search", "Global"/"CreateCollection", ...).  Nothing
 * checks them yet; the security work plugs in at the single dispatch point
 * in http.c without touching handlers.
 */
#ifndef VS_SERVER_H
#define VS_SERVER_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vectorstore.h"

/* ------------------------------------------------------------- settings */

typedef struct srv_config {
  char bind[64];                 /* VS_BIND / --bind, default 127.0.0.1 */
  unsigned port;                 /* VS_PORT / MILVUS_PORT / --port, 19530 */
  char data_dir[PATH_MAX];       /* VS_DATA / --data, default ./data */
  unsigned threads;              /* HTTP worker threads, 0 = cores */
  size_t max_body_bytes;         /* default 64 MiB */
  unsigned max_json_depth;       /* default 64 */
  size_t max_vectors;            /* query/insert vectors per request, 16384 */
  size_t max_header_bytes;       /* default 16 KiB */
  unsigned idle_timeout_s;       /* idle/slow connection cut-off, 30 */
  unsigned request_timeout_s;    /* default Request-Timeout, 30 */
  unsigned max_connections;      /* default 1024 */
  double slow_query_ms;          /* slow-query log threshold, 1000 */
  double inline_max_ms;          /* quick routes run on the event loop
                                    while their recent handler time is
                                    below this; 0 = never, 2 */
  char log_format[16];           /* "json" (default) or "text" */
  char log_level[16];            /* "debug" "info" "warn" "error" */
  char fsync[16];                /* engine fsync policy name */
  bool int64_default;            /* Accept-Type-Allow-Int64 default: true */
  char root_password[128];       /* MILVUS_ROOT_PASSWORD (secret; masked) */
  char config_file[PATH_MAX];    /* --config FILE, "" if none */
  /* added by the core (config.c documents each in its table) */
  unsigned max_connections_per_ip; /* slowloris guard, default 256 */
  unsigned shutdown_timeout_s;   /* wait for in-flight requests, 30 */
  unsigned shards;               /* MILVUS_COLLECTION_SHARDS, default 2 */
  unsigned replica_factor;       /* MILVUS_REPLICA_FACTOR (accepted, 1) */
  char milvus_host[256];         /* MILVUS_HOST (client adapter) */
  char milvus_user[128];         /* MILVUS_USER (client adapter) */
  char milvus_password[128];     /* MILVUS_PASSWORD (secret; masked) */
  unsigned char source[40];      /* per setting: where its value came from */
} srv_config;

/* Fills defaults, then reads `.env` in the working directory (if any), the
 * environment, the --config file, then argv flags (--bind --port --data
 * --config --threads ...).  Returns 0, or 2 with a message on stderr for a
 * usage error, or -1 after printing the flags for --help. */
int srv_config_load(srv_config *cfg, int argc, char **argv);
/* Prints every effective setting, `key = value` per line, secrets masked. */
void srv_config_print(const srv_config *cfg, FILE *out);

/* ------------------------------------------------------------- the server */

typedef struct srv_catalog srv_catalog;   /* catalog.c */
typedef struct srv_request srv_request;   /* below */
typedef struct srv_metrics srv_metrics;   /* metrics.c */

typedef struct srv_server {
  srv_config config;
  srv_catalog *catalog;
  srv_metrics *metrics;
  _Atomic uint64_t next_request_id;
  _Atomic bool stopping;
} srv_server;

/* `vectorstore serve` and `vectorstore config` (called from src/cli/). */
int srv_serve_main(int argc, char **argv);
int srv_config_main(int argc, char **argv);

typedef struct srv_packed srv_packed; /* packed.c, below */

/* -------------------------------------------------------------- requests */

struct srv_request {
  srv_server *server;
  const char *path;              /* "/v2/vectordb/collections/create" */
  json_t *body;                  /* the parsed body: always an object */
  const char *db_name;           /* body dbName, DB-Name header, "default" */
  bool int64_as_number;          /* Accept-Type-Allow-Int64 */
  bool profile;                  /* body "profile": true */
  char request_id[32];
  double deadline;               /* CLOCK_MONOTONIC seconds */
  /* the answer (set by srv_reply_*; read by http.c) */
  bool answered;
  int http_status;               /* 200 unless the spec says otherwise */
  json_t *response;              /* the whole envelope */
  char *profile_json;            /* for the slow-query log, or NULL */
  const srv_packed *packed;      /* vector arrays of "data", or NULL */
  const char *collection;        /* for logs/metrics, may be NULL */
};

typedef void (*srv_handler)(srv_request *req);

typedef struct srv_route {
  const char *path;              /* after the /v2/vectordb prefix:
                                    "/collections/create" */
  srv_handler handler;
  const char *object_type;       /* "Global", "Collection", "User", ... */
  const char *privilege;         /* Milvus privilege name, e.g. "Search" */
  unsigned quick;                /* 0, or a slot 1..SRV_QUICK_SLOTS: a read
                                    that may run on the event loop (http.c) */
} srv_route;

#define SRV_QUICK_SLOTS 8

/* The route tables, one per handler file, each ended by {NULL}. */
extern const srv_route srv_routes_collections[];  /* h_collections.c */
extern const srv_route srv_routes_partitions[];   /* h_partitions.c */
extern const srv_route srv_routes_indexes[];      /* h_indexes.c */
extern const srv_route srv_routes_aliases[];      /* h_aliases.c */
extern const srv_route srv_routes_databases[];    /* h_databases.c */
extern const srv_route srv_routes_entities[];     /* h_entities.c */
/* routes.c: finds the route of a path (with the "/v2/vectordb" prefix or
 * the bare "/vectordb" one); NULL if none. */
const srv_route *srv_route_find(const char *path);
/* Calls fn for every route (metrics pre-registers them). */
void srv_route_each(void (*fn)(void *ctx, const srv_route *route), void *ctx);

/* The one authorization hook, called by http.c for every API request
 * before its handler (true = go on).  It answers the request itself when
 * it refuses.  Today it admits everything (http.c); the security work
 * replaces its body without touching handlers. */
bool srv_authorize(srv_request *req, const srv_route *route);

/* ------------------------------------------------------------ body access */

/* Struct keys are matched case-insensitively (Go encoding/json); `data`,
 * `id` and `search` are read case-sensitively (gjson) with _exact. */
json_t *srv_get(const srv_request *req, const char *key);
json_t *srv_get_exact(const srv_request *req, const char *key);
json_t *srv_obj_get(const json_t *obj, const char *key); /* ci, any object */

/* Required string: on absence/empty/wrong type replies 1802 ("missing
 * required parameters, error: ... 'collectionName' ...") and returns false. */
bool srv_require_string(srv_request *req, const char *key, const char **out);
/* Replies 1802 as Milvus's Go validator words a missing required value:
 * "missing required parameters, error: Key: '<Struct>.<Field>' Error:Field
 * validation for '<Field>' failed on the 'required' tag". */
void srv_reply_missing(srv_request *req, const char *go_struct, const char *go_field);
/* Optional values: false (and a 1100 reply) only when present with the
 * wrong type; *out keeps the default otherwise.  Numbers may be given as
 * numeric strings. */
bool srv_opt_string(srv_request *req, const char *key, const char **out);
bool srv_opt_int(srv_request *req, const char *key, int64_t min, int64_t max,
                 int64_t *out);
bool srv_opt_bool(srv_request *req, const char *key, bool *out);
/* Optional array of strings (a lone string counts as one).  *out is a
 * NULL-free array owned by the caller (free(*out), strings borrowed from
 * the body). */
bool srv_opt_string_list(srv_request *req, const char *key,
                         const char ***out, size_t *count);

/* --------------------------------------------------------------- replies */

/* {"code":0,"data":data}; steals `data` (NULL = {}). */
void srv_reply_ok(srv_request *req, json_t *data);
/* Same with extra top-level keys merged in (steals both; extra may be
 * NULL), e.g. {"cost":0,"topks":[...]} or {"message":""}. */
void srv_reply_ok_extra(srv_request *req, json_t *data, json_t *extra);
/* {"code":code,"message":...}; HTTP 200. */
void srv_reply_error(srv_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps an engine status and the thread's vs_errmsg() to code/HTTP via the
 * status table (VS_ERR_NOT_FOUND -> 100, ...). */
void srv_reply_status(srv_request *req, vs_status status);
/* Replies with `names` as a JSON list, or with `status` when it is not
 * VS_OK; frees the names either way (vs_free_strings). */
void srv_reply_names(srv_request *req, vs_status status, char **names, size_t n);

/* Milvus codes used by handlers. */
enum {
  SRV_CODE_COLLECTION_NOT_FOUND = 100,
  SRV_CODE_COLLECTION_NOT_LOADED = 101,
  SRV_CODE_PARTITION_NOT_FOUND = 200,
  SRV_CODE_INDEX_NOT_FOUND = 700,
  SRV_CODE_DATABASE_NOT_FOUND = 800,
  SRV_CODE_INVALID = 1100,
  SRV_CODE_MISSING = 1101,
  SRV_CODE_TOO_LARGE = 1102,
  SRV_CODE_ALIAS_NOT_FOUND = 1600,
  SRV_CODE_ALIAS_CONFLICT = 1601,
  SRV_CODE_ALIAS_EXISTS = 1602,
  SRV_CODE_FIELD_NOT_FOUND = 1700,
  SRV_CODE_BAD_JSON = 1801,
  SRV_CODE_REQUIRED = 1802,
  SRV_CODE_INSERT_DATA = 1804,
  SRV_CODE_BAD_PK = 1806,
  SRV_CODE_TIMEOUT = 10001
};

/* --------------------------------------------------------------- catalog */

/* A resolved collection: the database handle and the real name (an alias
 * resolved). */
typedef struct srv_target {
  vs_db *db;
  char name[VS_MAX_NAME + 1];
} srv_target;

vs_status srv_catalog_open(srv_server *srv, srv_catalog **out);
void srv_catalog_close(srv_catalog *cat);
/* True when every database is open and its WAL directory writable. */
bool srv_catalog_ready(srv_catalog *cat);
/* Resolves body[key] (usually "collectionName", alias allowed) in the
 * request's database.  On failure replies (1802 missing, 800 database not
 * found, 100 collection not found, 101 not loaded when need_loaded) and
 * returns false. */
bool srv_resolve(srv_request *req, const char *key, bool need_loaded,
                 srv_target *out);
/* The handle of the request's database; replies 800 and returns NULL if
 * it does not exist. */
vs_db *srv_database(srv_request *req);
/* Load state bookkeeping (server-side; the engine always serves):
 * srv_meta_set_loaded is the srv_edit function, its ctx a srv_load_edit. */
typedef struct srv_load_edit {
  const char *collection;
  bool loaded;
} srv_load_edit;
vs_status srv_meta_set_loaded(json_t *meta, void *ctx);
void srv_catalog_set_loaded(srv_request *req, const char *collection,
                            bool loaded);

/* ------------------------------------------------- catalog additions
 * (srvadmin: catalog.c and the management handlers h_collections.c,
 * h_partitions.c, h_indexes.c, h_aliases.c, h_databases.c) */

/* The server-side metadata of one database (its server.json) is a JSON
 * object:
 *   {"format":1, "dbID":N, "properties":{k:"v"}, "aliases":{alias:coll},
 *    "collections":{name:{"loaded":bool, "unloadedPartitions":[..],
 *        "consistencyLevel":"Bounded", "description":"", "properties":{},
 *        "indexes":{indexName:{"field":f, "indexType":t, "metricType":m,
 *                              "properties":{}}}}}}
 * Readers take a copy; writers go through srv_catalog_edit. */
typedef vs_status (*srv_meta_edit_fn)(json_t *meta, void *ctx);

/* Runs fn on a copy of database `db`'s metadata under the catalog's write
 * lock; when fn returns VS_OK the copy is written to server.json (atomic
 * replace) and becomes current.  VS_ERR_NOT_FOUND if no such database. */
vs_status srv_catalog_edit(srv_catalog *cat, const char *db,
                           srv_meta_edit_fn fn, void *ctx);
/* A deep copy of database `db`'s metadata (json_decref it), NULL if the
 * database does not exist. */
json_t *srv_catalog_meta(srv_catalog *cat, const char *db);
/* meta.collections[name], created (empty object) when `create`; NULL if
 * absent and not created. */
json_t *srv_meta_collection(json_t *meta, const char *name, bool create);
/* Whether a collection (no metadata: loaded) / one of its partitions is
 * loaded, from a metadata copy. */
bool srv_meta_is_loaded(json_t *meta, const char *collection);
bool srv_meta_partition_loaded(json_t *meta, const char *collection,
                               const char *partition);

/* The engine handle of database `name`, NULL if none.  Valid until the
 * catalog is closed (a dropped database's handle is kept for a while for
 * requests still using it). */
vs_db *srv_catalog_db(srv_catalog *cat, const char *name);
/* Database DDL (h_databases.c).  create: VS_ERR_EXISTS if present,
 * properties (object or NULL) stored as strings.  drop: VS_ERR_INVALID for
 * "default" or a database that still has collections, VS_ERR_NOT_FOUND if
 * absent. */
vs_status srv_catalog_create_database(srv_catalog *cat, const char *name,
                                      json_t *properties);
vs_status srv_catalog_drop_database(srv_catalog *cat, const char *name);
/* Names of every database, "default" first (a new JSON array). */
json_t *srv_catalog_list_databases(srv_catalog *cat);

/* The request's catalog (req->server->catalog). */
srv_catalog *srv_req_catalog(const srv_request *req);
/* Replies 1100 and returns false unless `name` is a valid collection /
 * alias / database name (Milvus rules: letters, digits, '_', first not a
 * digit, at most 255). */
bool srv_check_name(srv_request *req, const char *what, const char *name);
/* Turns a JSON value of a "properties" map into its string form as Milvus
 * stores it ("3600", "true", text as is); malloc'd. */
char *srv_property_string(const json_t *value);
/* Stores every key of the object `set` (NULL: none) into `props` in its
 * string form, then removes the `drop` keys. */
vs_status srv_props_edit(json_t *props, const json_t *set, const char *const *drop,
                         size_t drop_count);
/* parent[key] when it is an object, else a new empty object put there
 * (NULL when out of memory or parent is NULL). */
json_t *srv_obj_child(json_t *parent, const char *key);
/* Creates the indexes of an indexParams array on collection t (shared by
 * collections/create and indexes/create).  Replies and returns false on
 * the first error. */
bool srv_create_indexes(srv_request *req, const srv_target *t,
                        json_t *index_params);
/* The Milvus index name of `field`'s index (the field name when the
 * metadata names none), and the field of index `index_name` (NULL if the
 * metadata has no such name).  Both borrow from meta / the arguments. */
const char *srv_meta_index_name(json_t *meta, const char *collection,
                                const char *field);
const char *srv_meta_index_field(json_t *meta, const char *collection,
                                 const char *index_name);
/* A JSON integer, integral real or decimal string -> *out; false if not. */
bool srv_json_int(const json_t *v, int64_t *out);
/* true/false or "true"/"false" (any case) -> *out; false if not. */
bool srv_json_bool(const json_t *v, bool *out);
/* Like srv_catalog_edit on the request's database; replies (800 for a
 * missing database, the status otherwise) and returns false on failure. */
bool srv_edit(srv_request *req, srv_meta_edit_fn fn, void *ctx);
/* The request's database name ("default" when none was given). */
const char *srv_req_db(const srv_request *req);

/* ---------------------------------------------------------------- packed */

/* Vector arrays taken out of a request body before it is parsed
 * (packed.c): slot i holds values[first .. first+count) of row `row` of
 * the top-level "data" array, under `key` (NULL: the element itself, a
 * search vector), and the array's raw text source[raw_begin .. raw_end). */
typedef struct srv_packed_slot {
  size_t row;
  const char *key;       /* into the source text, not NUL-terminated */
  size_t key_len;
  size_t first;
  size_t count;
  size_t raw_begin;
  size_t raw_end;
} srv_packed_slot;

struct srv_packed {
  const char *source;    /* the original body (kept alive by http.c) */
  float *values;
  size_t nvalues;
  srv_packed_slot *slots; /* in text order: rows ascending */
  size_t nslots;
  char *text;            /* the body with a 0 for every packed array */
  size_t text_len;
};

/* Scans a body; true when something was packed (then parse out->text). */
bool srv_pack_arrays(const char *text, size_t len, srv_packed *out);
void srv_packed_free(srv_packed *p);
/* The slot of (row, key), key NULL for a bare element; NULL if none. */
const srv_packed_slot *srv_packed_find(const srv_packed *p, size_t row, const char *key);

/* ---------------------------------------------------------------- render */

/* Row `row` of `rows` as a JSON object in Milvus's output shape: Int64 as
 * number or decimal string per req->int64_as_number, JSON fields as native
 * values, Array fields as plain arrays, $meta keys spread at top level,
 * nulls as null, vectors as arrays. */
json_t *srv_render_row(const srv_request *req, const vs_rows *rows,
                       size_t row);
/* An Int64 value rendered per req->int64_as_number. */
json_t *srv_render_int64(const srv_request *req, int64_t v);
/* Compact JSON text of a tree, numbers written as Go writes them (shortest
 * round-trip reals); malloc'd, NULL on failure (json_out.c). */
char *srv_json_dump(const json_t *value, size_t *len);
/* A float32 as the double nearest its shortest decimal text (null for
 * NaN/Inf); distances and Float fields. */
json_t *srv_render_float(float f);

/* --------------------------------------------------------------- metrics */

typedef enum srv_counter {
  SRV_ROWS_INSERTED,
  SRV_ROWS_UPSERTED,
  SRV_ROWS_DELETED,
  SRV_SEARCHES,
  SRV_SEARCH_QUERIES,            /* nq summed */
  SRV_QUERIES,
  SRV_COUNTER_COUNT
} srv_counter;

vs_status srv_metrics_new(srv_metrics **out);
void srv_metrics_free(srv_metrics *m);
void srv_metrics_add(srv_metrics *m, srv_counter counter, uint64_t n);
/* Called by http.c once per request. */
void srv_metrics_request(srv_metrics *m, const char *route, int code,
                         int http_status, double seconds);
/* The whole exposition text (free with free()). */
char *srv_metrics_render(srv_server *srv);

/* ------------------------------------------------- core internals (core) */

typedef struct srv_http srv_http;  /* http.c */
/* Starts listening (MHD thread pool + handler workers).  Prints why not. */
vs_status srv_http_start(srv_server *srv, srv_http **out);
/* Stops accepting, waits (up to shutdown_timeout_s) for in-flight
 * requests, then stops every thread.  NULL is a no-op. */
void srv_http_stop(srv_http *http);
/* Event-loop threads = handler threads (config threads, or the cores). */
unsigned srv_http_threads(srv_http *http);
/* The port actually bound (differs from config.port when that is 0). */
unsigned srv_http_port(srv_http *http);
/* Requests received but not yet answered (gauge in /metrics). */
unsigned srv_http_inflight(void);
/* Client connections open now, counted from MHD's STARTED to its CLOSED
 * notification (gauge in /metrics). */
unsigned srv_http_connections(void);

/* One structured log line on stderr (server_main.c): JSON
 * {"time":...,"level":...,"msg":...,<fields>} or, with log_format "text",
 * "TIME LEVEL msg key=value ...".  Lines below cfg->log_level are dropped.
 * Steals `fields` (may be NULL).  One write(2) per line, so lines of
 * concurrent requests never interleave. */
void srv_log(const srv_config *cfg, const char *level, const char *msg,
             json_t *fields);

/* Whether srv_log would write a line of `level`. */
bool srv_log_enabled(const srv_config *cfg, const char *level);

#endif /* VS_SERVER_H */
