/*
 * metrics.c -- the Prometheus registry of `vectorstore serve` and the text
 * of GET /metrics (exposition format 0.0.4, checked by `promtool check
 * metrics` in tests/test_server_core.c).
 *
 * What is kept here, and how:
 *
 *   - per route: requests by (Milvus code, HTTP status) and a latency
 *     histogram.  Routes are pre-registered from the route table so every
 *     series exists from the first scrape; labels come only from the table
 *     and a few fixed names ("unknown", "options", "/healthz", ...), never
 *     from the client's path, so a scanner cannot blow up the series count.
 *     One mutex guards the table: an update is a short linear search and a
 *     few additions, far cheaper than the request it counts.
 *   - handler counters (srv_metrics_add): relaxed atomics.
 *
 * Everything else is read at scrape time from its owner: per-collection
 * rows, segments and bytes (vs_collection_stats_get for every collection
 * of every database: srv_catalog_list_databases + srv_catalog_db), index progress
 * (vs_describe_index), WAL fsync latency (vs_engine_metrics_get), resident
 * memory (/proc/self/statm), the SIMD level and the version.  A scrape
 * therefore costs O(collections) engine calls and holds no lock of ours
 * while making them.
 *
 * The exposition format wants every sample of a family together, so the
 * per-collection families are gathered into one buffer each and printed
 * after the walk.
 *
 * Alternatives rejected:
 *  - libprom / prometheus-client-c: not packaged in Debian.
 *  - Per-thread counter shards: contention on one mutex is not measurable
 *    at the request rates one process serves.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"
#include "util/util.h"

#define LATENCY_BUCKETS 14
static const double latency_bounds[LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

typedef struct code_count {
  int code;
  int status;
  uint64_t n;
} code_count;

typedef struct route_stats {
  char *route;
  uint64_t le[LATENCY_BUCKETS];
  uint64_t count;
  double sum;
  code_count *codes;
  size_t code_count, code_cap;
} route_stats;

struct srv_metrics {
  pthread_mutex_t mu;
  route_stats *routes;
  size_t route_count, route_cap;
  _Atomic uint64_t counters[SRV_COUNTER_COUNT];
};

static const struct {
  const char *name;
  const char *help;
} counter_info[SRV_COUNTER_COUNT] = {
    [SRV_ROWS_INSERTED] = {"vectorstore_rows_inserted_total", "Rows inserted."},
    [SRV_ROWS_UPSERTED] = {"vectorstore_rows_upserted_total", "Rows upserted."},
    [SRV_ROWS_DELETED] = {"vectorstore_rows_deleted_total", "Rows deleted."},
    [SRV_SEARCHES] = {"vectorstore_searches_total", "Search requests executed."},
    [SRV_SEARCH_QUERIES] = {"vectorstore_search_vectors_total",
                            "Query vectors searched (nq summed over searches)."},
    [SRV_QUERIES] = {"vectorstore_queries_total", "Query and get requests executed."},
};

/* --------------------------------------------------------------- registry */

/* Under m->mu. */
static route_stats *route_find(srv_metrics *m, const char *route) {
  for (size_t i = 0; i < m->route_count; i++) {
    if (strcmp(m->routes[i].route, route) == 0) return &m->routes[i];
  }
  if (m->route_count == m->route_cap) {
    size_t cap = m->route_cap ? m->route_cap * 2 : 64;
    route_stats *grown = vs_reallocarray(m->routes, cap, sizeof *grown);
    if (grown == NULL) return NULL;
    m->routes = grown;
    m->route_cap = cap;
  }
  route_stats *r = &m->routes[m->route_count];
  memset(r, 0, sizeof *r);
  r->route = vs_strdup(route);
  if (r->route == NULL) return NULL;
  m->route_count++;
  return r;
}

static void register_route(void *ctx, const srv_route *route) {
  srv_metrics *m = ctx;
  route_find(m, route->path);
}

vs_status srv_metrics_new(srv_metrics **out) {
  srv_metrics *m = vs_calloc(1, sizeof *m);
  *out = NULL;
  if (m == NULL) return VS_ERR_NOMEM;
  pthread_mutex_init(&m->mu, NULL);
  srv_route_each(register_route, m);
  *out = m;
  return VS_OK;
}

void srv_metrics_free(srv_metrics *m) {
  if (m == NULL) return;
  for (size_t i = 0; i < m->route_count; i++) {
    free(m->routes[i].route);
    free(m->routes[i].codes);
  }
  free(m->routes);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

void srv_metrics_add(srv_metrics *m, srv_counter counter, uint64_t n) {
  if (m == NULL || counter < 0 || counter >= SRV_COUNTER_COUNT) return;
  atomic_fetch_add_explicit(&m->counters[counter], n, memory_order_relaxed);
}

static void count_code(route_stats *r, int code, int status) {
  for (size_t i = 0; i < r->code_count; i++) {
    if (r->codes[i].code == code && r->codes[i].status == status) {
      r->codes[i].n++;
      return;
    }
  }
  if (r->code_count == r->code_cap) {
    size_t cap = r->code_cap ? r->code_cap * 2 : 4;
    code_count *grown = vs_reallocarray(r->codes, cap, sizeof *grown);
    if (grown == NULL) return;
    r->codes = grown;
    r->code_cap = cap;
  }
  r->codes[r->code_count++] = (code_count){code, status, 1};
}

void srv_metrics_request(srv_metrics *m, const char *route, int code,
                         int http_status, double seconds) {
  if (m == NULL) return;
  pthread_mutex_lock(&m->mu);
  route_stats *r = route_find(m, route);
  if (r != NULL) {
    count_code(r, code, http_status);
    for (int i = 0; i < LATENCY_BUCKETS; i++) {
      if (seconds <= latency_bounds[i]) r->le[i]++;
    }
    r->count++;
    r->sum += seconds;
  }
  pthread_mutex_unlock(&m->mu);
}

/* ---------------------------------------------------------------- output */

/* A label value with \, " and newline escaped. */
static void put_label(vs_buf *b, const char *value) {
  for (const char *p = value ? value : ""; *p; p++) {
    if (*p == '\\' || *p == '"') vs_buf_append_u8(b, '\\');
    if (*p == '\n') {
      vs_buf_append(b, "\\n", 2);
      continue;
    }
    vs_buf_append_u8(b, (uint8_t)*p);
  }
}

static void put_header(vs_buf *b, const char *name, const char *type, const char *help) {
  vs_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_double(vs_buf *b, double v) {
  if (isinf(v)) vs_buf_printf(b, v > 0 ? "+Inf" : "-Inf");
  else vs_buf_printf(b, "%.17g", v);
}

static void render_requests(srv_metrics *m, vs_buf *b) {
  put_header(b, "vectorstore_http_requests_total", "counter",
             "HTTP requests by route, Milvus code (-1 when not an envelope) and HTTP status.");
  for (size_t i = 0; i < m->route_count; i++) {
    route_stats *r = &m->routes[i];
    for (size_t k = 0; k < r->code_count; k++) {
      vs_buf_printf(b, "vectorstore_http_requests_total{route=\"");
      put_label(b, r->route);
      vs_buf_printf(b, "\",code=\"%d\",status=\"%d\"} %llu\n", r->codes[k].code,
                    r->codes[k].status, (unsigned long long)r->codes[k].n);
    }
  }
}

static void render_latency(srv_metrics *m, vs_buf *b) {
  const char *name = "vectorstore_http_request_duration_seconds";
  put_header(b, name, "histogram", "Time from request arrival to response, by route.");
  for (size_t i = 0; i < m->route_count; i++) {
    route_stats *r = &m->routes[i];
    for (int k = 0; k < LATENCY_BUCKETS; k++) {
      vs_buf_printf(b, "%s_bucket{route=\"", name);
      put_label(b, r->route);
      vs_buf_printf(b, "\",le=\"%g\"} %llu\n", latency_bounds[k],
                    (unsigned long long)r->le[k]);
    }
    vs_buf_printf(b, "%s_bucket{route=\"", name);
    put_label(b, r->route);
    vs_buf_printf(b, "\",le=\"+Inf\"} %llu\n%s_sum{route=\"", (unsigned long long)r->count,
                  name);
    put_label(b, r->route);
    vs_buf_printf(b, "\"} ");
    put_double(b, r->sum);
    vs_buf_printf(b, "\n%s_count{route=\"", name);
    put_label(b, r->route);
    vs_buf_printf(b, "\"} %llu\n", (unsigned long long)r->count);
  }
}

static void render_counters(srv_metrics *m, vs_buf *b) {
  for (int i = 0; i < SRV_COUNTER_COUNT; i++) {
    put_header(b, counter_info[i].name, "counter", counter_info[i].help);
    vs_buf_printf(b, "%s %llu\n", counter_info[i].name,
                  (unsigned long long)atomic_load(&m->counters[i]));
  }
}

static void render_wal(vs_buf *b) {
  vs_engine_metrics e;
  vs_engine_metrics_get(&e);
  const char *name = "vectorstore_wal_fsync_duration_seconds";
  put_header(b, name, "histogram", "Duration of fdatasync calls on write-ahead logs.");
  for (int i = 0; i < VS_FSYNC_BUCKETS; i++) {
    vs_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, vs_fsync_bucket_bounds[i],
                  (unsigned long long)e.wal_fsync_le[i]);
  }
  vs_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum ", name,
                (unsigned long long)e.wal_fsyncs, name);
  put_double(b, e.wal_fsync_seconds);
  vs_buf_printf(b, "\n%s_count %llu\n", name, (unsigned long long)e.wal_fsyncs);
  put_header(b, "vectorstore_wal_written_bytes_total", "counter",
             "Bytes written to write-ahead logs.");
  vs_buf_printf(b, "vectorstore_wal_written_bytes_total %llu\n",
                (unsigned long long)e.wal_bytes_written);
}

static void render_process(srv_server *srv, vs_buf *b) {
  unsigned long long pages_virtual = 0, pages_resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%llu %llu", &pages_virtual, &pages_resident) != 2) {
      pages_virtual = pages_resident = 0;
    }
    fclose(f);
  }
  unsigned long long page = (unsigned long long)sysconf(_SC_PAGESIZE);
  put_header(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  vs_buf_printf(b, "process_resident_memory_bytes %llu\n", pages_resident * page);
  put_header(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  vs_buf_printf(b, "process_virtual_memory_bytes %llu\n", pages_virtual * page);
  put_header(b, "vectorstore_http_inflight_requests", "gauge",
             "Requests received and not yet answered.");
  vs_buf_printf(b, "vectorstore_http_inflight_requests %u\n", srv_http_inflight());
  put_header(b, "vectorstore_http_open_connections", "gauge",
             "Client connections open now.");
  vs_buf_printf(b, "vectorstore_http_open_connections %u\n", srv_http_connections());
  bool ready = !atomic_load(&srv->stopping) && srv_catalog_ready(srv->catalog);
  put_header(b, "vectorstore_ready", "gauge", "1 when /readyz answers 200.");
  vs_buf_printf(b, "vectorstore_ready %d\n", ready ? 1 : 0);
  put_header(b, "vectorstore_build_info", "gauge", "Version of this build (always 1).");
  vs_buf_printf(b, "vectorstore_build_info{version=\"");
  put_label(b, vs_version());
  vs_buf_printf(b, "\"} 1\n");
  put_header(b, "vectorstore_simd_info", "gauge",
             "SIMD level chosen at start-up for distance kernels (always 1).");
  vs_buf_printf(b, "vectorstore_simd_info{level=\"");
  put_label(b, vs_simd_level());
  vs_buf_printf(b, "\"} 1\n");
}

/* ------------------------------------------------------------ collections */

enum {
  FAM_ROWS, FAM_DELETED, FAM_SEGMENTS, FAM_GROWING_ROWS, FAM_SEALED_BYTES,
  FAM_WAL_BYTES, FAM_INDEXED_ROWS, FAM_INDEX_TOTAL_ROWS, FAM_INDEX_PENDING_ROWS,
  FAM_INDEX_BUILD_SECONDS, FAM_INDEX_BUILD_PROGRESS, FAM_COUNT
};

static const struct {
  const char *name;
  const char *help;
} families[FAM_COUNT] = {
    {"vectorstore_collection_rows", "Live rows of a collection."},
    {"vectorstore_collection_deleted_rows", "Deleted rows not yet compacted away."},
    {"vectorstore_collection_segments", "Segments of a collection by state."},
    {"vectorstore_collection_growing_rows", "Rows in growing (unsealed) segments."},
    {"vectorstore_collection_sealed_bytes", "Bytes of sealed segment files."},
    {"vectorstore_collection_wal_bytes", "Bytes of write-ahead log not yet checkpointed."},
    {"vectorstore_index_indexed_rows", "Rows covered by a field's index."},
    {"vectorstore_index_total_rows", "Rows of a field that an index should cover."},
    {"vectorstore_index_pending_rows", "Rows waiting for an index build."},
    {"vectorstore_index_build_seconds", "Duration of the last or current index build."},
    {"vectorstore_index_build_progress", "Fraction (0..1) of the rows indexed."},
};

typedef struct walk {
  vs_buf fam[FAM_COUNT];
} walk;

static void put_sample(walk *w, int fam, const char *db, const char *coll,
                       const char *extra_key, const char *extra_value, double v) {
  vs_buf *b = &w->fam[fam];
  vs_buf_printf(b, "%s{db=\"", families[fam].name);
  put_label(b, db);
  vs_buf_printf(b, "\",collection=\"");
  put_label(b, coll);
  if (extra_key != NULL) {
    vs_buf_printf(b, "\",%s=\"", extra_key);
    put_label(b, extra_value);
  }
  vs_buf_printf(b, "\"} ");
  put_double(b, v);
  vs_buf_append_u8(b, '\n');
}

static double json_number(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : 0.0;
}

static void walk_index(walk *w, vs_db *db, const char *dbname, const char *coll,
                       const char *field) {
  char *text = NULL;
  if (vs_describe_index(db, coll, field, &text) != VS_OK) return;
  json_t *d = json_loads(text, 0, NULL);
  vs_free(text);
  if (d == NULL) return;
  double indexed = json_number(d, "indexedRows"), total = json_number(d, "totalRows");
  put_sample(w, FAM_INDEXED_ROWS, dbname, coll, "field", field, indexed);
  put_sample(w, FAM_INDEX_TOTAL_ROWS, dbname, coll, "field", field, total);
  put_sample(w, FAM_INDEX_PENDING_ROWS, dbname, coll, "field", field,
             json_number(d, "pendingRows"));
  put_sample(w, FAM_INDEX_BUILD_SECONDS, dbname, coll, "field", field,
             json_number(d, "buildSeconds"));
  put_sample(w, FAM_INDEX_BUILD_PROGRESS, dbname, coll, "field", field,
             total > 0 ? indexed / total : 1.0);
  json_decref(d);
}

static void walk_collection(walk *w, vs_db *db, const char *dbname, const char *coll) {
  vs_collection_stats s;
  if (vs_collection_stats_get(db, coll, &s) != VS_OK) return;
  put_sample(w, FAM_ROWS, dbname, coll, NULL, NULL, (double)s.rows);
  put_sample(w, FAM_DELETED, dbname, coll, NULL, NULL, (double)s.deleted_rows);
  put_sample(w, FAM_SEGMENTS, dbname, coll, "state", "sealed", s.sealed_segments);
  put_sample(w, FAM_SEGMENTS, dbname, coll, "state", "growing", s.growing_segments);
  put_sample(w, FAM_GROWING_ROWS, dbname, coll, NULL, NULL, (double)s.growing_rows);
  put_sample(w, FAM_SEALED_BYTES, dbname, coll, NULL, NULL, (double)s.sealed_bytes);
  put_sample(w, FAM_WAL_BYTES, dbname, coll, NULL, NULL, (double)s.wal_bytes);
  char **fields = NULL;
  size_t n = 0;
  if (vs_list_indexes(db, coll, &fields, &n) != VS_OK) return;
  for (size_t i = 0; i < n; i++) walk_index(w, db, dbname, coll, fields[i]);
  vs_free_strings(fields, n);
}

static void walk_db(void *ctx, const char *dbname, vs_db *db) {
  char **names = NULL;
  size_t n = 0;
  if (db == NULL || vs_list_collections(db, &names, &n) != VS_OK) return;
  for (size_t i = 0; i < n; i++) walk_collection(ctx, db, dbname, names[i]);
  vs_free_strings(names, n);
}

/* Every database of the catalog (handles stay valid until it closes). */
static void walk_databases(srv_server *srv, walk *w) {
  json_t *names = srv_catalog_list_databases(srv->catalog);
  size_t i;
  json_t *name;
  json_array_foreach(names, i, name) {
    const char *text = json_string_value(name);
    vs_db *db = text ? srv_catalog_db(srv->catalog, text) : NULL;
    if (db != NULL) walk_db(w, text, db);
  }
  json_decref(names);
}

static void render_collections(srv_server *srv, vs_buf *b) {
  walk w;
  memset(&w, 0, sizeof w);
  if (srv->catalog != NULL) walk_databases(srv, &w);
  for (int f = 0; f < FAM_COUNT; f++) {
    put_header(b, families[f].name, "gauge", families[f].help);
    if (w.fam[f].len) vs_buf_append(b, w.fam[f].data, w.fam[f].len);
    vs_buf_free(&w.fam[f]);
  }
}

char *srv_metrics_render(srv_server *srv) {
  vs_buf b = {0};
  srv_metrics *m = srv->metrics;
  if (m != NULL) {
    pthread_mutex_lock(&m->mu);
    render_requests(m, &b);
    render_latency(m, &b);
    pthread_mutex_unlock(&m->mu);
    render_counters(m, &b);
  }
  render_wal(&b);
  render_process(srv, &b);
  render_collections(srv, &b);
  if (vs_buf_append_u8(&b, '\0') != VS_OK) {
    vs_buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}
