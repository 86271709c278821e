/*
 * index_api.c -- the public index-management calls: create, drop, rebuild,
 * describe, list and wait.
 *
 * Definitions change under the collection's maintenance mutex and write
 * lock and are persisted in the MANIFEST before the call returns; the
 * builds themselves happen in the background (indexer.c).  Milvus's rules:
 * one index per vector field; creating the same index again succeeds,
 * a different one fails; dropping an index that does not exist succeeds.
 * The same calls define scalar indexes (INVERTED, STL_SORT, BITMAP,
 * AUTOINDEX on a scalar field; scalar_index.c): their definition lives in
 * the MANIFEST beside the vector ones, their per-segment structures in
 * memory (vs_index_def.built), built by the background builder.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "engine/engine_internal.h"

static vs_status resolve_field(const vs_collection *c, const char *field, int *out) {
  if (!field) {
    if (vs_schema_vector_count(c->schema) != 1) {
      return vs_fail(VS_ERR_INVALID, "collection '%s' has several vector fields; name one", c->name);
    }
    *out = vs_schema_first_vector(c->schema);
    return VS_OK;
  }
  *out = vs_schema_index(c->schema, field);
  if (*out < 0) return vs_fail(VS_ERR_FIELD_NOT_FOUND, "field '%s' is not in collection '%s'", field, c->name);
  vs_type t = c->schema->fields[*out].type;
  if (t == VS_TYPE_ARRAY) {
    return vs_fail(VS_ERR_UNSUPPORTED, "field '%s' is an Array field; Array fields cannot be indexed yet", field);
  }
  return VS_OK;
}

static vs_status canonical_params(const char *json, char **out) {
  json_error_t err;
  json_t *root = json && *json ? json_loads(json, 0, &err) : json_object();
  *out = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(root);
  return *out ? VS_OK : vs_fail(VS_ERR_INVALID, "index parameters are not JSON");
}

/* Frees every index of field f in every sealed segment; returns the file
 * names to delete once the MANIFEST no longer names them. */
static char **detach_field(vs_collection *c, int f, size_t *count) {
  char **files = vs_calloc(c->sealed_count * 2 + 1, sizeof *files);
  size_t n = 0;
  for (size_t i = 0; files && i < c->sealed_count; i++) {
    vs_segment_index *si = &c->sealed[i]->indexes[f];
    vs_index_free(si->active);
    vs_index_free(si->pending);
    if (si->active_file) files[n++] = si->active_file;
    if (si->pending_file) files[n++] = si->pending_file;
    memset(si, 0, sizeof *si);
  }
  *count = n;
  return files;
}

static void remove_files(const vs_collection *c, char **files, size_t n) {
  for (size_t i = 0; files && i < n; i++) {
    char *path = vs_fs_join(c->dir, files[i]);
    if (path) remove(path);
    free(path);
    free(files[i]);
  }
  free(files);
}

static const char *def_type_name(const vs_index_def *d) {
  return d->scalar ? vs_scalar_kind_name(d->sdef.kind) : vs_index_type_name(d->type);
}

static void free_def(vs_index_def *d) {
  free(d->params_json);
  free(d->requested_type);
  free(d->fail_reason);
  vs_scalar_def_free(&d->sdef);
  vs_scalar_detach_all(d);
}

/* Parses (type, params) for field f into *next: a vector index build or
 * a scalar index definition. */
static vs_status parse_def(const vs_collection *c, int f, const char *type_name, const char *params,
                           vs_index_def *next) {
  const vs_field *field = &c->schema->fields[f];
  if (field->type == VS_TYPE_FLOAT_VECTOR) {
    return vs_index_parse_build(type_name, params, field->metric, &next->type, &next->build);
  }
  next->scalar = true;
  return vs_scalar_def_parse(field, type_name, params, &next->sdef);
}

/* Sets definition f to (type, params) with a new generation.  A scalar
 * definition's built indexes go with the old definition (the builder
 * makes new ones; filters are evaluated meanwhile). */
static vs_status define(vs_collection *c, int f, const char *type_name, const char *params) {
  vs_index_def next = {0};
  char *canonical = NULL;
  vs_status st = parse_def(c, f, type_name, params, &next);
  if (st == VS_OK) st = canonical_params(params, &canonical);
  if (st != VS_OK) {
    vs_scalar_def_free(&next.sdef);
    return st;
  }
  vs_index_def *d = &c->index_defs[f];
  vs_index_def old = *d;
  next.defined = true;
  next.params_json = canonical;
  next.requested_type = vs_strdup(type_name);
  next.generation = c->next_index_generation++;
  if (!next.requested_type) {
    free(canonical);
    vs_scalar_def_free(&next.sdef);
    return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  *d = next;
  st = vs_collection_write_manifest(c);
  if (st != VS_OK) {
    *d = old;
    free_def(&next);
    return st;
  }
  free_def(&old);
  return VS_OK;
}

static bool same_definition(const vs_index_def *d, const char *type_name, const char *params) {
  char *canonical = NULL;
  if (canonical_params(params, &canonical) != VS_OK) return false;
  bool same = strcasecmp(d->requested_type, type_name) == 0 && strcmp(d->params_json, canonical) == 0;
  free(canonical);
  return same;
}

/* The metric named by "metric_type"/"metricType" in build params, if any
 * (a malformed one is left for vs_index_parse_build to report). */
static bool requested_metric(const char *params, vs_metric *out) {
  json_error_t err;
  json_t *root = params ? json_loads(params, 0, &err) : NULL;
  json_t *v = json_object_get(root, "metric_type");
  if (!v) v = json_object_get(root, "metricType");
  bool found = json_is_string(v) && vs_metric_from_name(json_string_value(v), out) == VS_OK;
  json_decref(root);
  return found;
}

/*
 * In Milvus the metric belongs to the index, not to the field: a collection
 * is created, then indexed with the metric of choice.  Here the field keeps
 * the metric (exact search needs one before any index exists), so creating
 * the first index of a field with another metric re-labels the field.  The
 * stored vectors do not depend on the metric, so nothing else changes; the
 * new metric is persisted with the index definition in the MANIFEST.  A
 * field that has an index keeps its metric (drop the index first).
 */
static vs_status create_locked(vs_collection *c, const char *field, const char *type, const char *params) {
  int f;
  vs_status st = resolve_field(c, field, &f);
  if (st != VS_OK) return st;
  vs_index_def *d = &c->index_defs[f];
  if (d->defined) {
    if (same_definition(d, type, params)) return VS_OK;
    return vs_fail(VS_ERR_EXISTS, "field '%s' already has a %s index; drop it or rebuild it to change it",
                   c->schema->fields[f].name, def_type_name(d));
  }
  vs_metric old = c->schema->fields[f].metric, wanted;
  bool vector = c->schema->fields[f].type == VS_TYPE_FLOAT_VECTOR;
  if (vector && requested_metric(params, &wanted)) c->schema->fields[f].metric = wanted;
  st = define(c, f, type, params);
  if (st != VS_OK) c->schema->fields[f].metric = old;
  return st;
}

vs_status vs_create_index(vs_db *db, const char *collection, const char *field, const char *type,
                          const char *params_json) {
  vs_status st;
  if (!type) return vs_fail(VS_ERR_INVALID, "index type is NULL");
  VS_DDL_CALL(db, collection, c, st, create_locked(c, field, type, params_json));
  if (st == VS_OK) vs_indexer_kick(db);
  return st;
}

static vs_status drop_locked(vs_collection *c, const char *field) {
  int f;
  size_t n = 0;
  vs_status st = resolve_field(c, field, &f);
  if (st != VS_OK || !c->index_defs[f].defined) return st;
  vs_index_def old = c->index_defs[f];
  memset(&c->index_defs[f], 0, sizeof old);
  char **files = detach_field(c, f, &n);
  st = vs_collection_write_manifest(c);
  if (st == VS_OK) {
    remove_files(c, files, n);
    free_def(&old);
  } else {
    c->index_defs[f] = old; /* segments fall back to exact search until rebuilt */
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
    vs_indexer_kick(c->db);
  }
  return st;
}

vs_status vs_drop_index(vs_db *db, const char *collection, const char *field) {
  vs_status st;
  VS_DDL_CALL(db, collection, c, st, drop_locked(c, field));
  return st;
}

static vs_status rebuild_locked(vs_collection *c, const char *field, const char *type, const char *params) {
  int f;
  vs_status st = resolve_field(c, field, &f);
  if (st != VS_OK) return st;
  vs_index_def *d = &c->index_defs[f];
  if (!d->defined) {
    return vs_fail(VS_ERR_NOT_FOUND, "field '%s' has no index to rebuild", c->schema->fields[f].name);
  }
  char *keep_type = vs_strdup(type ? type : d->requested_type);
  char *keep_params = vs_strdup(params ? params : d->params_json);
  st = keep_type && keep_params ? define(c, f, keep_type, keep_params) : vs_fail(VS_ERR_NOMEM, "out of memory");
  free(keep_type);
  free(keep_params);
  return st;
}

vs_status vs_rebuild_index(vs_db *db, const char *collection, const char *field, const char *type,
                           const char *params_json) {
  vs_status st;
  VS_DDL_CALL(db, collection, c, st, rebuild_locked(c, field, type, params_json));
  if (st == VS_OK) vs_indexer_kick(db);
  return st;
}

/* ------------------------------------------------------------ describe */

typedef struct index_state {
  uint64_t indexed_rows;
  uint64_t total_rows;
  uint32_t ready_segments;
  uint32_t sealed_segments;
  bool finished;
} index_state;

static void state_of(const vs_collection *c, int f, index_state *s) {
  const vs_index_def *d = &c->index_defs[f];
  memset(s, 0, sizeof *s);
  s->total_rows = c->live_rows;
  for (size_t i = 0; i < c->sealed_count; i++) {
    const vs_segment *seg = c->sealed[i];
    const vs_segment_index *si = &seg->indexes[f];
    s->sealed_segments++;
    bool ready = d->scalar ? vs_scalar_lookup(d, seg->id) != NULL
                           : si->active && si->active_generation == d->generation;
    if (seg->rows == 0 || ready) {
      s->ready_segments++;
      s->indexed_rows += seg->rows - seg->deleted_count;
    }
  }
  s->finished = s->ready_segments == s->sealed_segments;
}

/* Scalar definitions: the JSON path, and the built indexes' sizes. */
static void add_scalar_facts(json_t *o, const vs_index_def *d) {
  size_t bytes = 0, keys = 0;
  for (size_t i = 0; i < d->built_count; i++) {
    bytes += vs_scalar_index_memory(d->built[i].index);
    keys += vs_scalar_index_keys(d->built[i].index);
  }
  static const char *const casts[] = {"", "double", "varchar", "bool"};
  if (d->sdef.json_path) json_object_set_new(o, "jsonPath", json_string(d->sdef.json_path));
  if (d->sdef.json_path) json_object_set_new(o, "jsonCastType", json_string(casts[d->sdef.cast]));
  json_object_set_new(o, "memoryBytes", json_integer((json_int_t)bytes));
  json_object_set_new(o, "distinctKeys", json_integer((json_int_t)keys));
}

static json_t *describe_json(const vs_collection *c, int f, uint64_t done, uint64_t total) {
  const vs_index_def *d = &c->index_defs[f];
  index_state s;
  json_error_t err;
  state_of(c, f, &s);
  const char *state = d->fail_reason ? "Failed" : s.finished ? "Finished" : "InProgress";
  json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:I,s:i,s:i,s:I,s:I,s:f}", "fieldName",
                        c->schema->fields[f].name, "indexName", c->schema->fields[f].name, "indexType",
                        def_type_name(d), "requestedType", d->requested_type, "params",
                        json_loads(d->params_json, 0, &err), "state", state, "indexedRows",
                        (json_int_t)s.indexed_rows, "totalRows", (json_int_t)s.total_rows, "pendingRows",
                        (json_int_t)(s.total_rows - VS_MIN(s.total_rows, s.indexed_rows)), "indexedSegments",
                        (int)s.ready_segments, "sealedSegments", (int)s.sealed_segments,
                        "buildRowsDone", (json_int_t)done, "buildRowsTotal", (json_int_t)total,
                        "buildSeconds", (double)d->build_ns / 1e9);
  if (o && !d->scalar) json_object_set_new(o, "metricType", json_string(vs_metric_name(c->schema->fields[f].metric)));
  if (o && d->scalar) add_scalar_facts(o, d);
  if (o && d->fail_reason) json_object_set_new(o, "failReason", json_string(d->fail_reason));
  return o;
}

vs_status vs_describe_index(vs_db *db, const char *collection, const char *field, char **json) {
  vs_collection *c = NULL;
  int f = -1;
  uint64_t done = 0, total = 0;
  if (!json) return vs_fail(VS_ERR_INVALID, "json is NULL");
  *json = NULL;
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  st = resolve_field(c, field, &f);
  if (st == VS_OK) vs_indexer_progress(db, c, f, &done, &total);
  if (st == VS_OK) {
    pthread_rwlock_rdlock(&c->lock);
    if (!c->index_defs[f].defined) {
      st = vs_fail(VS_ERR_NOT_FOUND, "field '%s' has no index", c->schema->fields[f].name);
    } else {
      json_t *o = describe_json(c, f, done, total);
      *json = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
      json_decref(o);
      if (!*json) st = vs_fail(VS_ERR_NOMEM, "out of memory");
    }
    pthread_rwlock_unlock(&c->lock);
  }
  vs_db_release(db, c);
  return st;
}

vs_status vs_list_indexes(vs_db *db, const char *collection, char ***fields, size_t *count) {
  vs_collection *c = NULL;
  if (!fields || !count) return vs_fail(VS_ERR_INVALID, "NULL argument");
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  pthread_rwlock_rdlock(&c->lock);
  size_t n = 0;
  char **list = vs_calloc(c->schema->field_count + 1, sizeof *list);
  for (size_t f = 0; list && f < c->schema->field_count; f++) {
    if (c->index_defs[f].defined) list[n++] = vs_strdup(c->schema->fields[f].name);
  }
  pthread_rwlock_unlock(&c->lock);
  for (size_t i = 0; list && i < n; i++) {
    if (!list[i]) st = VS_ERR_NOMEM;
  }
  if (!list || st != VS_OK) {
    vs_free_strings(list, n);
    st = vs_fail(VS_ERR_NOMEM, "out of memory");
  } else {
    *fields = list;
    *count = n;
  }
  vs_db_release(db, c);
  return st;
}

/* --------------------------------------------------------------- wait */

typedef struct wait_ctx {
  vs_collection *c;
  int field;
} wait_ctx;

static bool index_ready(void *arg) {
  wait_ctx *w = arg;
  index_state s;
  pthread_rwlock_rdlock(&w->c->lock);
  const vs_index_def *d = &w->c->index_defs[w->field];
  bool done = !d->defined || d->fail_reason != NULL;
  if (!done) {
    state_of(w->c, w->field, &s);
    done = s.finished;
  }
  pthread_rwlock_unlock(&w->c->lock);
  return done;
}

vs_status vs_wait_for_index(vs_db *db, const char *collection, const char *field, uint32_t timeout_ms) {
  vs_collection *c = NULL;
  wait_ctx w;
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  st = resolve_field(c, field, &w.field);
  w.c = c;
  if (st == VS_OK) st = vs_indexer_wait(db, index_ready, &w, timeout_ms);
  if (st == VS_OK) {
    pthread_rwlock_rdlock(&c->lock);
    const vs_index_def *d = &c->index_defs[w.field];
    if (d->fail_reason) st = vs_fail(VS_ERR_INTERNAL, "index build failed: %s", d->fail_reason);
    pthread_rwlock_unlock(&c->lock);
  }
  vs_db_release(db, c);
  return st;
}
