/*
 * h_entities.c -- the /entities/... endpoints: insert, upsert, delete, get,
 * query, search, hybrid_search (alias advanced_search).  Spec sections 3,
 * 4.2, 5 and 9 of MILVUS_REST_V2.md.
 *
 * Each handler reads its arguments from the parsed body (srv_get & co,
 * case-insensitive keys; `data`, `id` and `search` case-sensitive as gjson
 * reads them in Milvus), resolves the collection (srv_resolve replies 100 /
 * 800 / 101 itself), calls one engine function and renders the answer.
 * Engine errors become Milvus codes through srv_reply_status, except where
 * Milvus uses an endpoint-specific code: 1804 for bad insert data, 1806 for
 * bad ids, 1801 for bad query vectors.
 *
 * The hot paths are the vector arrays.  Search vectors go from the jansson
 * tree straight into one float buffer (nq x dim), checked on the way (an
 * element that is not a number, or a number outside float range -> 1801).
 * Insert rows are built column by column from the same tree with the
 * vs_rows_set_* setters: one pass per schema field over the rows, no JSON
 * text produced and parsed again.  The engine's normaliser then does the
 * type, range, null/default and duplicate-key checks, so this file only
 * decides which JSON shapes a column accepts (integers also as decimal
 * strings; a JSON field given as a string holding JSON text is that
 * document; keys that are not fields go to "$meta" when the schema is
 * dynamic).  Measured against dumping `data` to text for vs_rows_from_json,
 * see docs/rest-api.md.
 *
 * searchParams (section 5.2): the nested `params` object and every other
 * key of searchParams are merged into one flat object handed to the engine
 * (which ignores keys it does not know); a key given in both places with
 * different values is 1100 "ambiguous parameter".  A metricType that
 * differs from the field's metric is 1100 as in Milvus.
 *
 * Consistency levels are validated by name (section 9) and otherwise
 * ignored: every read of the engine sees every acknowledged write, which is
 * Strong, a valid behaviour for every level.
 *
 * Alternatives rejected: dumping the insert `data` back to text for
 * vs_rows_from_json (a second serialisation and parse of the largest part
 * of the body); building search hits through vs_rows_row_to_json (text
 * again, and Int64 rendering would need a rewrite pass).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"
#include "util/util.h"

#define ENT_DEFAULT_LIMIT 100
#define ENT_MAX_WINDOW 16384
#define ENT_ERR_LEN 512

/* ------------------------------------------------------------ utilities */

static void count_metric(srv_request *req, srv_counter counter, uint64_t n) {
  if (req->server && req->server->metrics) srv_metrics_add(req->server->metrics, counter, n);
}

/* Points req->collection at the body's collectionName (it outlives the
 * handler, unlike the resolved name on the stack). */
static void note_collection(srv_request *req) {
  json_t *name = srv_get(req, "collectionName");
  if (json_is_string(name)) req->collection = json_string_value(name);
}

static const char *nonempty(const char *s) { return s && s[0] ? s : NULL; }

static size_t max_vectors(const srv_request *req) {
  size_t limit = req->server ? req->server->config.max_vectors : 0;
  return limit ? limit : VS_MAX_NQ;
}

/* The collection's schema with its field definitions unpacked. */
typedef struct ent_schema {
  vs_schema *schema;
  size_t count;
  vs_field_def *fields;
  int pk;
} ent_schema;

static void schema_free(ent_schema *s) {
  vs_schema_free(s->schema);
  free(s->fields);
  memset(s, 0, sizeof *s);
}

static bool schema_load(srv_request *req, const srv_target *t, ent_schema *s) {
  memset(s, 0, sizeof *s);
  vs_status st = vs_get_schema(t->db, t->name, &s->schema);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return false;
  }
  s->count = vs_schema_field_count(s->schema);
  s->fields = calloc(s->count ? s->count : 1, sizeof *s->fields);
  if (!s->fields) {
    schema_free(s);
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  s->pk = -1;
  for (size_t i = 0; i < s->count; i++) {
    vs_schema_field(s->schema, i, &s->fields[i]);
    if (s->fields[i].is_primary) s->pk = (int)i;
  }
  return true;
}

static int schema_index(const ent_schema *s, const char *name) {
  for (size_t i = 0; i < s->count; i++) {
    if (strcmp(s->fields[i].name, name) == 0) return (int)i;
  }
  return -1;
}

static const vs_field_def *schema_pk(const ent_schema *s) {
  return s->pk >= 0 ? &s->fields[s->pk] : NULL;
}

/* Whether the schema keeps unknown keys in "$meta" (asked only when a row
 * has such a key). */
static bool schema_dynamic(const ent_schema *s) {
  char *text = NULL;
  if (vs_schema_to_json(s->schema, &text) != VS_OK) return false;
  json_t *doc = json_loads(text, 0, NULL);
  vs_free(text);
  bool dynamic = json_is_true(json_object_get(doc, "enableDynamicField"));
  json_decref(doc);
  return dynamic;
}

/* An integer given as a JSON integer or a decimal string. */
static bool json_int64(const json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return true;
  }
  return json_is_string(v) && vs_parse_int64(json_string_value(v), out);
}

/* -------------------------------------------------------- common options */

static const char *const consistency_levels[] = {"Strong", "Session", "Bounded",
                                                 "Eventually", "Customized"};

static bool check_consistency(srv_request *req) {
  const char *level = NULL;
  if (!srv_opt_string(req, "consistencyLevel", &level)) return false;
  if (!level || !level[0]) return true;
  for (size_t i = 0; i < sizeof consistency_levels / sizeof consistency_levels[0]; i++) {
    if (strcmp(level, consistency_levels[i]) == 0) return true;
  }
  srv_reply_error(req, SRV_CODE_INVALID,
                  "consistencyLevel can only be [Strong, Session, Bounded, Eventually, "
                  "Customized], default: Bounded, err:invalid consistency level: %s", level);
  return false;
}

/* exprParams as JSON text (malloc'd) or NULL; false (1100 sent) when it is
 * not an object. */
static bool expr_params(srv_request *req, const json_t *obj, char **out) {
  *out = NULL;
  json_t *params = obj ? srv_obj_get(obj, "exprParams") : srv_get(req, "exprParams");
  if (!params || json_is_null(params)) return true;
  if (!json_is_object(params)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: exprParams must be an object");
    return false;
  }
  *out = json_dumps(params, JSON_COMPACT);
  if (*out) return true;
  srv_reply_status(req, VS_ERR_NOMEM);
  return false;
}

/* String lists; `fallback` (may be NULL) when the key is absent. */
typedef struct name_list {
  const char **names;
  size_t count;
  const char **dyn;      /* dynamic keys asked for by name (outputFields) */
  size_t dyn_count;
} name_list;

static const char *const star_names[] = {"*"};

static bool opt_names(srv_request *req, const char *key, bool star_default, name_list *out) {
  out->names = NULL;
  out->count = 0;
  if (!srv_opt_string_list(req, key, &out->names, &out->count)) return false;
  if (out->count == 0 && star_default) {
    free(out->names);
    out->names = NULL;
    out->count = 1;
  }
  return true;
}

static const char *const *names_of(const name_list *l) {
  if (l->count && !l->names) return star_names;
  return l->count ? l->names : NULL;
}

static void names_free(name_list *l) {
  free(l->names);
  free(l->dyn);
  memset(l, 0, sizeof *l);
}

static bool list_has(const char *const *names, size_t count, const char *name) {
  for (size_t i = 0; i < count; i++) {
    if (strcmp(names[i], name) == 0) return true;
  }
  return false;
}

/* Output names that are not fields of a dynamic schema are keys of
 * "$meta" (Milvus returns just those keys): ask the engine for "$meta"
 * once and remember the keys for trim_dynamic.  With "*" nothing changes. */
static bool map_dynamic(srv_request *req, const ent_schema *s, name_list *l) {
  if (!l->names || list_has(l->names, l->count, "*") || list_has(l->names, l->count, "$meta")) {
    return true;
  }
  int dynamic = -1;
  size_t kept = 0;
  for (size_t i = 0; i < l->count; i++) {
    const char *name = l->names[i];
    bool field = schema_index(s, name) >= 0 || strcasecmp(name, "count(*)") == 0;
    if (!field && dynamic < 0) dynamic = schema_dynamic(s);
    if (field || !dynamic) { /* an unknown field is the engine's to report */
      l->names[kept++] = name;
      continue;
    }
    const char **grown = realloc(l->dyn, (l->dyn_count + 1) * sizeof *grown);
    if (!grown) {
      srv_reply_status(req, VS_ERR_NOMEM);
      return false;
    }
    l->dyn = grown;
    l->dyn[l->dyn_count++] = name;
    if (!list_has(l->names, kept, "$meta")) l->names[kept++] = "$meta";
  }
  l->count = kept;
  return true;
}

/* Drops the spread "$meta" keys of a rendered row that were not asked
 * for (only when some were asked for by name). */
static void trim_dynamic(json_t *row, const ent_schema *s, const name_list *l) {
  if (!l || l->dyn_count == 0) return;
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(row, tmp, key, v) {
    if (schema_index(s, key) >= 0 || strcmp(key, "distance") == 0) continue;
    if (!list_has(l->dyn, l->dyn_count, key)) json_object_del(row, key);
  }
}

static json_t *profile_value(srv_request *req, const char *text) {
  if (!text) return NULL;
  free(req->profile_json);
  req->profile_json = strdup(text);
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  return v ? v : json_string(text);
}

/* {"cost":0} plus "profile" when there is one (steals profile). */
static json_t *extra_cost(json_t *profile) {
  json_t *extra = json_pack("{s:i}", "cost", 0);
  if (extra && profile) json_object_set_new(extra, "profile", profile);
  return extra;
}

/* ------------------------------------------------------- insert, upsert */

/* Builds a vs_rows from the `data` array, one column per schema field that
 * some row mentions, plus "$meta" for unknown keys.  Failure: false with a
 * message in err (the caller replies 1804). */
typedef struct row_build {
  const ent_schema *s;
  const json_t *data;
  const srv_packed *packed; /* vector arrays taken out of the body, or NULL */
  size_t n;
  vs_rows *rows;
  int64_t *pk_ints;        /* the rows' Int64 keys, kept for insertIds */
  const char **pk_strs;    /* VarChar keys (borrowed from the body) */
  char err[ENT_ERR_LEN];
} row_build;

static bool build_fail(row_build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool build_fail(row_build *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err, sizeof b->err, fmt, ap);
  va_end(ap);
  return false;
}

static bool build_nomem(row_build *b) { return build_fail(b, "out of memory"); }

/* The value of field `name` in row r, or NULL when absent or null. */
static const json_t *cell(const row_build *b, size_t r, const char *name) {
  const json_t *v = json_object_get(json_array_get(b->data, r), name);
  return v && !json_is_null(v) ? v : NULL;
}

static bool any_row_has(const row_build *b, const char *name) {
  for (size_t r = 0; r < b->n; r++) {
    if (json_object_get(json_array_get(b->data, r), name)) return true;
  }
  return false;
}

static bool engine_ok(row_build *b, vs_status st) {
  if (st == VS_OK) return true;
  return build_fail(b, "%s", vs_errmsg(NULL));
}

/* valid[] is passed only when some row is null. */
static const uint8_t *valid_or_null(const uint8_t *valid, size_t n) {
  for (size_t r = 0; r < n; r++) {
    if (!valid[r]) return valid;
  }
  return NULL;
}

static bool build_bool(row_build *b, const vs_field_def *f, uint8_t *valid) {
  uint8_t *vals = calloc(b->n + 1, 1);
  if (!vals) return build_nomem(b);
  bool ok = true;
  for (size_t r = 0; ok && r < b->n; r++) {
    const json_t *v = cell(b, r, f->name);
    valid[r] = v != NULL;
    if (v && !json_is_boolean(v)) ok = build_fail(b, "row %zu key '%s': expected true or false", r, f->name);
    vals[r] = json_is_true(v);
  }
  if (ok) ok = engine_ok(b, vs_rows_set_bool(b->rows, f->name, vals, valid_or_null(valid, b->n)));
  free(vals);
  return ok;
}

static bool build_int(row_build *b, const vs_field_def *f, uint8_t *valid) {
  int64_t *vals = calloc(b->n + 1, sizeof *vals);
  if (!vals) return build_nomem(b);
  bool ok = true;
  for (size_t r = 0; ok && r < b->n; r++) {
    const json_t *v = cell(b, r, f->name);
    valid[r] = v != NULL;
    if (v && !json_int64(v, &vals[r])) ok = build_fail(b, "row %zu key '%s': expected an integer", r, f->name);
  }
  if (ok) ok = engine_ok(b, vs_rows_set_int64(b->rows, f->name, vals, valid_or_null(valid, b->n)));
  if (ok && f->is_primary) {
    b->pk_ints = vals;
    return true;
  }
  free(vals);
  return ok;
}

static bool build_real(row_build *b, const vs_field_def *f, uint8_t *valid) {
  double *vals = calloc(b->n + 1, sizeof *vals);
  if (!vals) return build_nomem(b);
  bool ok = true;
  for (size_t r = 0; ok && r < b->n; r++) {
    const json_t *v = cell(b, r, f->name);
    valid[r] = v != NULL;
    if (v && !json_is_number(v)) ok = build_fail(b, "row %zu key '%s': expected a number", r, f->name);
    vals[r] = json_number_value(v);
  }
  if (ok) ok = engine_ok(b, vs_rows_set_double(b->rows, f->name, vals, valid_or_null(valid, b->n)));
  free(vals);
  return ok;
}

static bool build_varchar(row_build *b, const vs_field_def *f) {
  const char **vals = calloc(b->n + 1, sizeof *vals);
  if (!vals) return build_nomem(b);
  bool ok = true;
  for (size_t r = 0; ok && r < b->n; r++) {
    const json_t *v = cell(b, r, f->name);
    if (v && !json_is_string(v)) ok = build_fail(b, "row %zu key '%s': expected a string", r, f->name);
    if (ok && v && strlen(json_string_value(v)) != json_string_length(v)) {
      ok = build_fail(b, "row %zu key '%s': the string contains a NUL character", r, f->name);
    }
    vals[r] = v ? json_string_value(v) : NULL;
  }
  if (ok) ok = engine_ok(b, vs_rows_set_strings(b->rows, f->name, vals));
  if (ok && f->is_primary) {
    b->pk_strs = vals;
    return true;
  }
  free(vals);
  return ok;
}

/* JSON text of a JSON-field value: a string holding JSON text stands for
 * that document (Milvus's legacy mode), anything else is itself. */
static char *json_field_text(const json_t *v) {
  if (json_is_string(v)) {
    json_t *doc = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
    if (doc) {
      json_decref(doc);
      return strdup(json_string_value(v));
    }
  }
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void free_texts(char **texts, size_t n) {
  for (size_t r = 0; texts && r < n; r++) free(texts[r]);
  free(texts);
}

static bool build_json(row_build *b, const vs_field_def *f) {
  char **texts = calloc(b->n + 1, sizeof *texts);
  if (!texts) return build_nomem(b);
  bool ok = true;
  for (size_t r = 0; ok && r < b->n; r++) {
    const json_t *v = cell(b, r, f->name);
    if (!v) continue;
    if (f->type == VS_TYPE_ARRAY && !json_is_array(v)) {
      ok = build_fail(b, "row %zu key '%s': expected an array", r, f->name);
      break;
    }
    texts[r] = f->type == VS_TYPE_ARRAY ? json_dumps(v, JSON_COMPACT) : json_field_text(v);
    if (!texts[r]) ok = build_nomem(b);
  }
  if (ok) ok = engine_ok(b, vs_rows_set_json(b->rows, f->name, (const char *const *)texts));
  free_texts(texts, b->n);
  return ok;
}

/* A JSON number as a float; false if not a number or out of float range. */
static bool json_float(const json_t *v, float *out) {
  if (!json_is_number(v)) return false;
  double d = json_number_value(v);
  if (!(d > -0x1.ffffffp127 && d < 0x1.ffffffp127)) return false;
  *out = (float)d;
  return true;
}

static bool build_vector_row(row_build *b, const vs_field_def *f, size_t r, float *dst) {
  const srv_packed_slot *sl = srv_packed_find(b->packed, r, f->name);
  if (sl) {
    if (sl->count != f->dim) {
      return build_fail(b, "field '%s' expects %u floats, row %zu has %zu", f->name, f->dim, r, sl->count);
    }
    memcpy(dst, b->packed->values + sl->first, f->dim * sizeof *dst);
    return true;
  }
  const json_t *v = cell(b, r, f->name);
  if (!v) return build_fail(b, "row %zu is missing field '%s'", r, f->name);
  if (!json_is_array(v) || json_array_size(v) != f->dim) {
    return build_fail(b, "field '%s' expects %u floats, row %zu has %zu", f->name, f->dim, r,
                      json_is_array(v) ? json_array_size(v) : (size_t)0);
  }
  for (uint32_t j = 0; j < f->dim; j++) {
    if (!json_float(json_array_get(v, j), &dst[j])) {
      return build_fail(b, "row %zu key '%s' element %u: not a finite float", r, f->name, j);
    }
  }
  return true;
}

static bool build_vector(row_build *b, const vs_field_def *f) {
  size_t total;
  if (__builtin_mul_overflow(b->n, (size_t)f->dim, &total)) return build_nomem(b);
  float *vals = malloc((total + 1) * sizeof *vals);
  if (!vals) return build_nomem(b);
  bool ok = true;
  for (size_t r = 0; ok && r < b->n; r++) ok = build_vector_row(b, f, r, vals + r * f->dim);
  if (ok) ok = engine_ok(b, vs_rows_set_float_vectors(b->rows, f->name, vals, f->dim));
  free(vals);
  return ok;
}

static bool build_field(row_build *b, const vs_field_def *f, uint8_t *valid) {
  if (!any_row_has(b, f->name)) return true; /* the engine fills or complains */
  switch (f->type) {
    case VS_TYPE_BOOL: return build_bool(b, f, valid);
    case VS_TYPE_FLOAT: case VS_TYPE_DOUBLE: return build_real(b, f, valid);
    case VS_TYPE_VARCHAR: return build_varchar(b, f);
    case VS_TYPE_JSON: case VS_TYPE_ARRAY: return build_json(b, f);
    case VS_TYPE_FLOAT_VECTOR: return build_vector(b, f);
    default: return build_int(b, f, valid);
  }
}

/* The unknown keys of row r as a "$meta" JSON text in *text (NULL if the
 * row has none). */
static bool meta_of_row(row_build *b, size_t r, int *dynamic, char **text) {
  json_t *row = json_array_get(b->data, r);
  json_t *meta = NULL;
  const char *key;
  json_t *v;
  *text = NULL;
  json_object_foreach(row, key, v) {
    if (schema_index(b->s, key) >= 0) continue;
    if (strcmp(key, "$meta") == 0) {
      json_decref(meta);
      return build_fail(b, "row %zu: the key '$meta' is reserved", r);
    }
    if (*dynamic < 0) *dynamic = schema_dynamic(b->s);
    if (!*dynamic) {
      json_decref(meta);
      return build_fail(b, "row %zu: field '%s' is not in the schema and the collection has no "
                        "dynamic field (has pass more field without dynamic schema, please check it)",
                        r, key);
    }
    if (!meta) meta = json_object();
    if (!meta || json_object_set(meta, key, v) != 0) return build_nomem(b);
  }
  if (!meta) return true;
  *text = json_dumps(meta, JSON_COMPACT);
  json_decref(meta);
  return *text ? true : build_nomem(b);
}

static bool build_meta(row_build *b) {
  char **texts = calloc(b->n + 1, sizeof *texts);
  if (!texts) return build_nomem(b);
  int dynamic = -1;
  bool ok = true, any = false;
  for (size_t r = 0; ok && r < b->n; r++) {
    ok = meta_of_row(b, r, &dynamic, &texts[r]);
    any |= texts[r] != NULL;
  }
  if (ok && any) ok = engine_ok(b, vs_rows_set_json(b->rows, "$meta", (const char *const *)texts));
  free_texts(texts, b->n);
  return ok;
}

static bool build_rows(row_build *b, const ent_schema *s, const json_t *data) {
  b->s = s;
  b->data = data;
  b->n = json_array_size(data);
  for (size_t r = 0; r < b->n; r++) {
    if (!json_is_object(json_array_get(data, r))) return build_fail(b, "row %zu is not a JSON object", r);
  }
  if (!engine_ok(b, vs_rows_new(b->n, &b->rows))) return false;
  uint8_t *valid = malloc(b->n + 1);
  if (!valid) return build_nomem(b);
  bool ok = true;
  for (size_t i = 0; ok && i < s->count; i++) ok = build_field(b, &s->fields[i], valid);
  free(valid);
  return ok && build_meta(b);
}

static void build_free(row_build *b) {
  vs_rows_free(b->rows);
  free(b->pk_ints);
  free(b->pk_strs);
  memset(b, 0, sizeof *b);
}

/* The ids of the written rows, rendered per the Int64 rule. */
static json_t *written_ids(const srv_request *req, const row_build *b, const ent_schema *s,
                           const vs_write_info *info, bool auto_ids) {
  json_t *ids = json_array();
  const vs_field_def *pk = schema_pk(s);
  for (size_t r = 0; ids && pk && r < b->n; r++) {
    json_t *id;
    if (auto_ids) {
      id = srv_render_int64(req, (int64_t)((uint64_t)info->first_auto_id + r));
    } else if (pk->type == VS_TYPE_VARCHAR) {
      id = json_string(b->pk_strs ? b->pk_strs[r] : "");
    } else {
      id = srv_render_int64(req, b->pk_ints ? b->pk_ints[r] : 0);
    }
    json_array_append_new(ids, id);
  }
  return ids;
}

static void reply_written(srv_request *req, const row_build *b, const ent_schema *s,
                          const vs_write_info *info, bool upsert) {
  const vs_field_def *pk = schema_pk(s);
  bool auto_ids = !upsert && pk && pk->auto_id;
  json_t *data = json_object();
  json_object_set_new(data, upsert ? "upsertCount" : "insertCount", json_integer((json_int_t)b->n));
  json_object_set_new(data, upsert ? "upsertIds" : "insertIds", written_ids(req, b, s, info, auto_ids));
  count_metric(req, upsert ? SRV_ROWS_UPSERTED : SRV_ROWS_INSERTED, b->n);
  srv_reply_ok_extra(req, data, extra_cost(NULL));
}

static void reply_write_error(srv_request *req, vs_db *db, vs_status st) {
  if (st == VS_ERR_DATA || st == VS_ERR_INVALID) {
    srv_reply_error(req, SRV_CODE_INSERT_DATA, "fail to deal the insert data, error: %s",
                    vs_errmsg(db));
  } else {
    srv_reply_status(req, st);
  }
}

/* `data` must be a non-empty array of at most max_vectors rows. */
static bool check_write_data(srv_request *req, const json_t *data) {
  if (!data) {
    srv_reply_missing(req, "InsertReq", "Data");
    return false;
  }
  if (!json_is_array(data) || json_array_size(data) == 0) {
    srv_reply_error(req, SRV_CODE_INSERT_DATA, "fail to deal the insert data, error: "
                    "data must be a non-empty array of row objects");
    return false;
  }
  if (json_array_size(data) > max_vectors(req)) {
    srv_reply_error(req, SRV_CODE_TOO_LARGE, "parameter too large: %zu rows in one request, "
                    "the limit is %zu", json_array_size(data), max_vectors(req));
    return false;
  }
  return true;
}

/* Packed arrays under keys that are not vector fields (Array and JSON
 * fields, dynamic keys) go back into their rows as the JSON values the
 * body held, parsed from their own text, so they are exactly what an
 * unpacked body would have given. */
static bool unpack_other_keys(srv_request *req, const ent_schema *s, json_t *data) {
  const srv_packed *p = req->packed;
  for (size_t i = 0; p && i < p->nslots; i++) {
    const srv_packed_slot *sl = &p->slots[i];
    json_t *row = json_array_get(data, sl->row);
    if (!sl->key || !json_is_object(row)) continue;
    char *key = strndup(sl->key, sl->key_len);
    if (!key) return false;
    int f = schema_index(s, key);
    bool vector = f >= 0 && s->fields[f].type == VS_TYPE_FLOAT_VECTOR;
    json_error_t err;
    json_t *v = vector ? NULL : json_loadb(p->source + sl->raw_begin, sl->raw_end - sl->raw_begin, 0, &err);
    bool ok = vector || (v && json_object_set_new(row, key, v) == 0);
    free(key);
    if (!ok) return false;
  }
  return true;
}

static void write_rows(srv_request *req, bool upsert) {
  srv_target t;
  ent_schema s = {0};
  row_build b = {0};
  const char *partition = NULL;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  note_collection(req);
  const json_t *data = srv_get_exact(req, "data");
  if (!check_write_data(req, data)) return;
  if (!srv_opt_string(req, "partitionName", &partition)) return;
  if (!schema_load(req, &t, &s)) return;
  b.packed = req->packed;
  if (!unpack_other_keys(req, &s, (json_t *)data)) {
    srv_reply_status(req, VS_ERR_NOMEM);
  } else if (!build_rows(&b, &s, data)) {
    srv_reply_error(req, SRV_CODE_INSERT_DATA, "fail to deal the insert data, error: %s", b.err);
  } else {
    vs_write_info info = {0};
    vs_status st = upsert ? vs_upsert(t.db, t.name, nonempty(partition), b.rows, &info)
                          : vs_insert(t.db, t.name, nonempty(partition), b.rows, &info);
    if (st == VS_OK) reply_written(req, &b, &s, &info, upsert);
    else reply_write_error(req, t.db, st);
  }
  build_free(&b);
  schema_free(&s);
}

static void h_insert(srv_request *req) { write_rows(req, false); }
static void h_upsert(srv_request *req) { write_rows(req, true); }

/* ------------------------------------------------------- ids: get, delete */

typedef struct key_list {
  vs_keys keys;
  int64_t *ints;
  const char **strs;     /* borrowed from the body */
} key_list;

static void keys_free(key_list *k) {
  free(k->ints);
  free(k->strs);
  memset(k, 0, sizeof *k);
}

static bool bad_key(srv_request *req, size_t i, const char *type) {
  srv_reply_error(req, SRV_CODE_BAD_PK, "please check the primary key and its' type can only in "
                  "[int, string], error: id %zu is not a valid %s primary key", i, type);
  return false;
}

/* `id` (a scalar or an array) as keys of the pk's type; 1806 if not. */
static bool parse_keys(srv_request *req, const ent_schema *s, const json_t *id, key_list *out) {
  memset(out, 0, sizeof *out);
  const vs_field_def *pk = schema_pk(s);
  bool scalar = !json_is_array(id);
  size_t n = scalar ? 1 : json_array_size(id);
  if (!pk || json_is_object(id) || json_is_null(id)) return bad_key(req, 0, "");
  if (n > VS_MAX_INSERT_ROWS) return bad_key(req, n, "(too many ids)");
  bool str = pk->type == VS_TYPE_VARCHAR;
  out->ints = str ? NULL : calloc(n + 1, sizeof *out->ints);
  out->strs = str ? calloc(n + 1, sizeof *out->strs) : NULL;
  if (!out->ints && !out->strs) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *v = scalar ? id : json_array_get(id, i);
    if (str && !json_is_string(v)) return bad_key(req, i, "VarChar");
    if (str) out->strs[i] = json_string_value(v);
    else if (!json_int64(v, &out->ints[i])) return bad_key(req, i, "Int64");
  }
  out->keys.count = n;
  out->keys.int_keys = out->ints;
  out->keys.str_keys = out->strs;
  return true;
}

/* The keys as a JSON array for an "in {ids}" template. */
static json_t *keys_json(const key_list *k) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < k->keys.count; i++) {
    json_array_append_new(arr, k->strs ? json_string(k->strs[i]) : json_integer(k->ints[i]));
  }
  return arr;
}

static void reply_deleted(srv_request *req, uint64_t deleted) {
  count_metric(req, SRV_ROWS_DELETED, deleted);
  srv_reply_ok(req, json_pack("{s:I}", "deleteCount", (json_int_t)deleted));
}

static void delete_by_ids(srv_request *req, const srv_target *t, const char *partition) {
  const json_t *id = srv_get_exact(req, "id");
  ent_schema s;
  key_list k = {0};
  uint64_t deleted = 0;
  if (!id) {
    srv_reply_missing(req, "CollectionFilterReq", "Filter");
    return;
  }
  if (!schema_load(req, t, &s)) return;
  if (parse_keys(req, &s, id, &k)) {
    vs_status st = vs_delete(t->db, t->name, partition, &k.keys, &deleted);
    if (st == VS_OK) reply_deleted(req, deleted);
    else srv_reply_status(req, st);
  }
  keys_free(&k);
  schema_free(&s);
}

static void h_delete(srv_request *req) {
  srv_target t;
  const char *filter = NULL, *partition = NULL;
  char *params = NULL;
  if (!srv_resolve(req, "collectionName", false, &t)) return;
  note_collection(req);
  if (!srv_opt_string(req, "filter", &filter)) return;
  if (!srv_opt_string(req, "partitionName", &partition)) return;
  if (!nonempty(filter)) {
    delete_by_ids(req, &t, nonempty(partition));
    return;
  }
  if (!expr_params(req, NULL, &params)) return;
  uint64_t deleted = 0;
  vs_status st = vs_delete_where(t.db, t.name, nonempty(partition), filter, params, &deleted);
  if (st == VS_OK) reply_deleted(req, deleted);
  else srv_reply_status(req, st);
  free(params);
}

/* ------------------------------------------------------------ get, query */

static json_t *render_rows(const srv_request *req, const vs_rows *rows, const ent_schema *s,
                           const name_list *out) {
  json_t *arr = json_array();
  size_t n = vs_rows_count(rows);
  for (size_t r = 0; arr && r < n; r++) {
    json_t *row = srv_render_row(req, rows, r);
    trim_dynamic(row, s, out);
    json_array_append_new(arr, row);
  }
  return arr;
}

static void reply_rows(srv_request *req, const vs_rows *rows, const char *profile,
                       const ent_schema *s, const name_list *out) {
  count_metric(req, SRV_QUERIES, 1);
  srv_reply_ok_extra(req, render_rows(req, rows, s, out), extra_cost(profile_value(req, profile)));
}

/* get with partitionNames: a query "pk in {ids}" restricted to them. */
static vs_status get_in_partitions(const srv_target *t, const ent_schema *s, const key_list *k,
                                   const name_list *out, const name_list *parts,
                                   vs_rows **rows) {
  char filter[VS_MAX_NAME + 16];
  snprintf(filter, sizeof filter, "%s in {ids}", schema_pk(s)->name);
  json_t *params = json_pack("{s:o}", "ids", keys_json(k));
  char *params_text = params ? json_dumps(params, JSON_COMPACT) : NULL;
  json_decref(params);
  if (!params_text) return VS_ERR_NOMEM;
  vs_query_request q = {.filter = filter, .filter_params_json = params_text,
                        .output_fields = names_of(out), .output_count = out->count,
                        .partitions = parts->names, .partition_count = parts->count};
  vs_status st = vs_query(t->db, t->name, &q, rows, NULL);
  free(params_text);
  return st;
}

static void get_rows(srv_request *req, const srv_target *t, const ent_schema *s,
                     const key_list *k) {
  name_list out = {0}, parts = {0};
  vs_rows *rows = NULL;
  if (!opt_names(req, "outputFields", true, &out)) return;
  if (!map_dynamic(req, s, &out)) goto done;
  if (!opt_names(req, "partitionNames", false, &parts)) goto done;
  vs_status st = parts.count
      ? get_in_partitions(t, s, k, &out, &parts, &rows)
      : vs_get(t->db, t->name, &k->keys, names_of(&out), out.count, &rows);
  if (st == VS_OK) reply_rows(req, rows, NULL, s, &out);
  else srv_reply_status(req, st);
done:
  vs_rows_free(rows);
  names_free(&out);
  names_free(&parts);
}

static void h_get(srv_request *req) {
  srv_target t;
  ent_schema s;
  key_list k = {0};
  if (!srv_resolve(req, "collectionName", true, &t)) return;
  note_collection(req);
  if (!check_consistency(req)) return;
  const json_t *id = srv_get_exact(req, "id");
  if (!id) {
    srv_reply_missing(req, "CollectionIDReq", "ID");
    return;
  }
  if (!schema_load(req, &t, &s)) return;
  if (parse_keys(req, &s, id, &k)) get_rows(req, &t, &s, &k);
  keys_free(&k);
  schema_free(&s);
}

/* limit (default 100) and offset with offset + limit <= 16384. */
static bool read_window(srv_request *req, const json_t *obj, int64_t *limit, int64_t *offset);

typedef struct query_args {
  const char *filter;
  char *params;
  name_list out, parts;
  int64_t limit, offset;
  bool count_star;
} query_args;

static void query_args_free(query_args *a) {
  free(a->params);
  names_free(&a->out);
  names_free(&a->parts);
}

static bool has_count_star(srv_request *req, const name_list *out, bool *count_star) {
  *count_star = false;
  for (size_t i = 0; out->names && i < out->count; i++) {
    if (strcasecmp(out->names[i], "count(*)") == 0) *count_star = true;
  }
  if (*count_star && out->count > 1) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: count(*) must be the only "
                    "output field");
    return false;
  }
  return true;
}

static bool read_query_args(srv_request *req, const ent_schema *s, query_args *a) {
  if (!check_consistency(req)) return false;
  if (!srv_opt_string(req, "filter", &a->filter)) return false;
  if (!opt_names(req, "outputFields", true, &a->out)) return false;
  if (!has_count_star(req, &a->out, &a->count_star)) return false;
  if (!map_dynamic(req, s, &a->out)) return false;
  if (!opt_names(req, "partitionNames", false, &a->parts)) return false;
  if (!expr_params(req, NULL, &a->params)) return false;
  return a->count_star || read_window(req, NULL, &a->limit, &a->offset);
}

static void query_count(srv_request *req, const srv_target *t, const query_args *a) {
  uint64_t n = 0;
  vs_status st = vs_query_count(t->db, t->name, nonempty(a->filter), a->params,
                                a->parts.names, a->parts.count, &n);
  if (st != VS_OK) {
    srv_reply_status(req, st);
    return;
  }
  json_t *row = json_object();
  json_object_set_new(row, "count(*)", srv_render_int64(req, (int64_t)n));
  count_metric(req, SRV_QUERIES, 1);
  srv_reply_ok_extra(req, json_pack("[o]", row), extra_cost(NULL));
}

static void h_query(srv_request *req) {
  srv_target t;
  ent_schema s;
  query_args a = {0};
  if (!srv_resolve(req, "collectionName", true, &t)) return;
  note_collection(req);
  if (!schema_load(req, &t, &s)) return;
  if (read_query_args(req, &s, &a)) {
    if (a.count_star) {
      query_count(req, &t, &a);
    } else {
      vs_query_request q = {.filter = nonempty(a.filter), .filter_params_json = a.params,
                            .output_fields = names_of(&a.out), .output_count = a.out.count,
                            .limit = (uint64_t)a.limit, .offset = (uint64_t)a.offset,
                            .partitions = a.parts.names, .partition_count = a.parts.count,
                            .profile = req->profile};
      vs_rows *rows = NULL;
      char *profile = NULL;
      vs_status st = vs_query(t.db, t.name, &q, &rows, &profile);
      if (st == VS_OK) reply_rows(req, rows, profile, &s, &a.out);
      else srv_reply_status(req, st);
      vs_rows_free(rows);
      vs_free(profile);
    }
  }
  query_args_free(&a);
  schema_free(&s);
}

/* ------------------------------------------------- options of sub-objects */

/* Integer option of `obj` (NULL = the body); numbers may be strings. */
static bool get_int(srv_request *req, const json_t *obj, const char *key, int64_t *out) {
  if (!obj) return srv_opt_int(req, key, INT64_MIN, INT64_MAX, out);
  const json_t *v = srv_obj_get(obj, key);
  if (!v || json_is_null(v) || json_int64(v, out)) return true;
  srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: '%s' must be an integer", key);
  return false;
}

static bool get_string(srv_request *req, const json_t *obj, const char *key, const char **out) {
  if (!obj) return srv_opt_string(req, key, out);
  const json_t *v = srv_obj_get(obj, key);
  if (!v || json_is_null(v)) return true;
  if (json_is_string(v)) {
    *out = json_string_value(v);
    return true;
  }
  srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: '%s' must be a string", key);
  return false;
}

static bool get_bool(srv_request *req, const json_t *obj, const char *key, bool *out) {
  if (!obj) return srv_opt_bool(req, key, out);
  const json_t *v = srv_obj_get(obj, key);
  if (!v || json_is_null(v)) return true;
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return true;
  }
  srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: '%s' must be a boolean", key);
  return false;
}

static bool read_window(srv_request *req, const json_t *obj, int64_t *limit, int64_t *offset) {
  *limit = 0;
  *offset = 0;
  if (!get_int(req, obj, "limit", limit) || !get_int(req, obj, "offset", offset)) return false;
  if (*limit == 0) *limit = ENT_DEFAULT_LIMIT;
  if (*limit < 0 || *offset < 0 || *limit > ENT_MAX_WINDOW || *offset > ENT_MAX_WINDOW ||
      *limit + *offset > ENT_MAX_WINDOW) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid max query result window, (offset+limit) "
                    "should be in range [1, %d], but got %lld (limit %lld, offset %lld)",
                    ENT_MAX_WINDOW, (long long)(*limit + *offset), (long long)*limit,
                    (long long)*offset);
    return false;
  }
  return true;
}

/* ----------------------------------------------------------------- search */

static bool bad_vectors(srv_request *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool bad_vectors(srv_request *req, const char *fmt, ...) {
  char msg[ENT_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  srv_reply_error(req, SRV_CODE_BAD_JSON, "can only accept json format request, error: %s", msg);
  return false;
}

/* `data` (a list of dim-float arrays) straight into one nq x dim buffer. */
static bool parse_vectors(srv_request *req, const json_t *data, uint32_t dim, float **out,
                          size_t *nq) {
  *out = NULL;
  *nq = json_is_array(data) ? json_array_size(data) : 0;
  if (*nq == 0) return bad_vectors(req, "data must be a non-empty list of vectors");
  if (*nq > max_vectors(req)) {
    srv_reply_error(req, SRV_CODE_TOO_LARGE, "parameter too large: nq %zu, the limit is %zu",
                    *nq, max_vectors(req));
    return false;
  }
  float *buf = malloc(*nq * dim * sizeof *buf);
  if (!buf) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  for (size_t q = 0; q < *nq; q++) {
    const srv_packed_slot *sl = srv_packed_find(req->packed, q, NULL);
    if (sl && data == srv_get_exact(req, "data")) {
      if (sl->count != dim) {
        free(buf);
        return bad_vectors(req, "vector %zu: dimension: %u, but length of []float: %zu", q, dim, sl->count);
      }
      memcpy(buf + q * dim, req->packed->values + sl->first, dim * sizeof *buf);
      continue;
    }
    const json_t *v = json_array_get(data, q);
    size_t len = json_is_array(v) ? json_array_size(v) : 0;
    if (len != dim) {
      free(buf);
      return bad_vectors(req, "vector %zu: dimension: %u, but length of []float: %zu", q, dim, len);
    }
    for (size_t j = 0; j < dim; j++) {
      if (json_float(json_array_get(v, j), &buf[q * dim + j])) continue;
      free(buf);
      return bad_vectors(req, "vector %zu element %zu is not a finite float32 number", q, j);
    }
  }
  *out = buf;
  return true;
}

static bool pick_vector_field(srv_request *req, const ent_schema *s, const char *name,
                              const vs_field_def **out) {
  *out = NULL;
  size_t found = 0;
  for (size_t i = 0; i < s->count; i++) {
    const vs_field_def *f = &s->fields[i];
    if (f->type != VS_TYPE_FLOAT_VECTOR) continue;
    if (name && strcmp(f->name, name) == 0) *out = f;
    if (!name && found++ == 0) *out = f;
  }
  if (name && !*out) {
    srv_reply_error(req, SRV_CODE_FIELD_NOT_FOUND, "field not found[field=%s]: annsField is not "
                    "a vector field of the collection", name);
    return false;
  }
  if (!name && found > 1) {
    srv_reply_error(req, SRV_CODE_INVALID, "search without annsField, but already found "
                    "multiple vector fields");
    return false;
  }
  if (*out) return true;
  srv_reply_error(req, SRV_CODE_INVALID, "the collection has no vector field");
  return false;
}

static bool metric_matches(srv_request *req, const json_t *sp, const vs_field_def *f) {
  const char *keys[] = {"metricType", "metric_type"};
  for (size_t i = 0; i < 2; i++) {
    const json_t *m = json_object_get(sp, keys[i]);
    if (!json_is_string(m) || !json_string_value(m)[0]) continue;
    if (strcasecmp(json_string_value(m), vs_metric_name(f->metric)) == 0) continue;
    srv_reply_error(req, SRV_CODE_INVALID, "metric type not match: invalid parameter"
                    "[expected=%s][actual=%s]", vs_metric_name(f->metric), json_string_value(m));
    return false;
  }
  return true;
}

/* searchParams: `params` merged with the flattened keys (section 5.2). */
static bool merge_params(srv_request *req, const json_t *sp, const vs_field_def *f, char **out) {
  *out = NULL;
  if (!sp || json_is_null(sp)) return true;
  if (!json_is_object(sp)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: searchParams must be an object");
    return false;
  }
  const json_t *nested = json_object_get(sp, "params");
  if (nested && !json_is_null(nested) && !json_is_object(nested)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: searchParams.params must be an object");
    return false;
  }
  if (!metric_matches(req, sp, f)) return false;
  json_t *merged = json_is_object(nested) ? json_deep_copy(nested) : json_object();
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)sp, key, v) {
    if (strcmp(key, "params") == 0) continue;
    const json_t *old = json_object_get(merged, key);
    if (old && !json_equal(old, v)) {
      json_decref(merged);
      srv_reply_error(req, SRV_CODE_INVALID, "ambiguous parameter: key '%s' is set both in "
                      "searchParams and in searchParams.params with different values", key);
      return false;
    }
    json_object_set(merged, key, v);
  }
  *out = json_dumps(merged, JSON_COMPACT);
  json_decref(merged);
  return true;
}

/* One search: the top-level body of /search or one element of `search[]`
 * of /hybrid_search (obj). */
typedef struct sub_search {
  vs_search_request r;
  float *vectors;
  char *params;
  char *expr;
  int64_t limit, offset, group_size;
  bool strict_group;
} sub_search;

static void sub_free(sub_search *a) {
  free(a->vectors);
  free(a->params);
  free(a->expr);
}

static bool read_grouping(srv_request *req, const json_t *obj, sub_search *a) {
  a->group_size = 0;
  a->strict_group = false;
  if (!get_string(req, obj, "groupingField", &a->r.group_by_field)) return false;
  if (!get_int(req, obj, "groupSize", &a->group_size)) return false;
  if (!get_bool(req, obj, "strictGroupSize", &a->strict_group)) return false;
  if (a->group_size < 0 || a->group_size > ENT_MAX_WINDOW) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: groupSize must be in 1..%d",
                    ENT_MAX_WINDOW);
    return false;
  }
  a->r.group_by_field = nonempty(a->r.group_by_field);
  a->r.group_size = (uint32_t)a->group_size;
  a->r.strict_group_size = a->strict_group;
  return true;
}

static bool read_search(srv_request *req, const ent_schema *s, const json_t *obj, sub_search *a) {
  memset(a, 0, sizeof *a);
  const char *ann = NULL;
  const vs_field_def *f;
  const json_t *data = obj ? json_object_get(obj, "data") : srv_get_exact(req, "data");
  const json_t *sp = obj ? srv_obj_get(obj, "params") : srv_get(req, "searchParams");
  if (!data) {
    srv_reply_missing(req, "SearchReq", "Data");
    return false;
  }
  if (!get_string(req, obj, "annsField", &ann)) return false;
  if (!pick_vector_field(req, s, nonempty(ann), &f)) return false;
  if (!parse_vectors(req, data, f->dim, &a->vectors, &a->r.nq)) return false;
  if (!merge_params(req, sp, f, &a->params)) return false;
  if (!get_string(req, obj, "filter", &a->r.filter)) return false;
  if (!expr_params(req, obj, &a->expr)) return false;
  if (!read_window(req, obj, &a->limit, &a->offset)) return false;
  if (!read_grouping(req, obj, a)) return false;
  a->r.vector_field = f->name;
  a->r.vectors = a->vectors;
  a->r.dim = f->dim;
  a->r.k = (uint32_t)a->limit;
  a->r.offset = (uint32_t)a->offset;
  a->r.filter = nonempty(a->r.filter);
  a->r.filter_params_json = a->expr;
  a->r.params_json = a->params;
  a->r.profile = req->profile;
  return true;
}

/* Appends `name` to an output list unless it is there (or "*" is). */
static bool add_output(name_list *l, const char *name) {
  for (size_t i = 0; i < l->count; i++) {
    if (strcmp(l->names[i], name) == 0 || strcmp(l->names[i], "*") == 0) return true;
  }
  const char **grown = realloc(l->names, (l->count + 1) * sizeof *grown);
  if (!grown) return false;
  grown[l->count++] = name;
  l->names = grown;
  return true;
}

static json_t *hit_row(const srv_request *req, const vs_result *res, const ent_schema *s,
                       const name_list *out, size_t q, size_t i) {
  const vs_field_def *pk = schema_pk(s);
  json_t *row = json_object();
  json_t *id = pk->type == VS_TYPE_VARCHAR
      ? json_string(vs_result_id_str(res, q, i) ? vs_result_id_str(res, q, i) : "")
      : srv_render_int64(req, vs_result_id(res, q, i));
  json_object_set_new(row, pk->name, id);
  json_object_set_new(row, "distance", srv_render_float(vs_result_distance(res, q, i)));
  const vs_rows *rows = vs_result_rows(res);
  if (rows) {
    json_t *fields = srv_render_row(req, rows, vs_result_row_index(res, q, i));
    json_object_update_missing(row, fields);
    json_decref(fields);
    trim_dynamic(row, s, out);
  }
  return row;
}

/* The flat hit list, "topks" and "cost" (section 5.3). */
static void reply_hits(srv_request *req, const vs_result *res, const ent_schema *s,
                       const name_list *out) {
  size_t nq = vs_result_nq(res), total = 0;
  json_t *data = json_array(), *topks = json_array();
  for (size_t q = 0; q < nq; q++) {
    size_t hits = vs_result_hits(res, q);
    total += hits;
    json_array_append_new(topks, json_integer((json_int_t)hits));
    for (size_t i = 0; i < hits; i++) json_array_append_new(data, hit_row(req, res, s, out, q, i));
  }
  json_t *extra = extra_cost(profile_value(req, vs_result_profile(res)));
  if (total > 0) json_object_set_new(extra, "topks", topks);
  else json_decref(topks);
  count_metric(req, SRV_SEARCHES, 1);
  count_metric(req, SRV_SEARCH_QUERIES, nq);
  srv_reply_ok_extra(req, data, extra);
}

/* outputFields and partitionNames of a search or hybrid search. */
typedef struct search_lists {
  name_list out, parts;
} search_lists;

static bool read_lists(srv_request *req, const ent_schema *s, search_lists *l,
                       const char *group_field) {
  memset(l, 0, sizeof *l);
  if (!opt_names(req, "outputFields", false, &l->out)) return false;
  if (!map_dynamic(req, s, &l->out)) return false;
  if (!opt_names(req, "partitionNames", false, &l->parts)) return false;
  if (group_field && !add_output(&l->out, group_field)) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  return true;
}

static void lists_free(search_lists *l) {
  names_free(&l->out);
  names_free(&l->parts);
}

static bool search_prelude(srv_request *req, srv_target *t, ent_schema *s) {
  if (!srv_resolve(req, "collectionName", true, t)) return false;
  note_collection(req);
  if (!check_consistency(req)) return false;
  return schema_load(req, t, s);
}

static void h_search(srv_request *req) {
  srv_target t;
  ent_schema s;
  sub_search a;
  search_lists l = {0};
  vs_result *res = NULL;
  if (!search_prelude(req, &t, &s)) return;
  if (read_search(req, &s, NULL, &a) && read_lists(req, &s, &l, a.r.group_by_field)) {
    a.r.output_fields = l.out.names;
    a.r.output_count = l.out.count;
    a.r.partitions = l.parts.names;
    a.r.partition_count = l.parts.count;
    /* Alone, a search may use every core; next to other requests, the
     * cores are already busy and waking the pool only adds hand-offs. */
    a.r.threads = srv_http_inflight() > 1 ? 1 : 0;
    vs_status st = vs_search(t.db, t.name, &a.r, &res);
    if (st == VS_OK) reply_hits(req, res, &s, &l.out);
    else srv_reply_status(req, st);
  }
  vs_result_free(res);
  lists_free(&l);
  sub_free(&a);
  schema_free(&s);
}

/* ---------------------------------------------------------- hybrid search */

#define ENT_MAX_ROUTES 1024

typedef struct hybrid_args {
  sub_search *subs;
  vs_search_request *reqs;
  size_t count;
  const char *strategy;
  char *rerank_params;
  int64_t limit, offset;
  search_lists lists;
} hybrid_args;

static void hybrid_free(hybrid_args *h) {
  for (size_t i = 0; h->subs && i < h->count; i++) sub_free(&h->subs[i]);
  free(h->subs);
  free(h->reqs);
  free(h->rerank_params);
  lists_free(&h->lists);
}

static bool read_routes(srv_request *req, const ent_schema *s, hybrid_args *h) {
  const json_t *search = srv_get_exact(req, "search");
  if (!search) {
    srv_reply_missing(req, "HybridSearchReq", "Search");
    return false;
  }
  size_t n = json_is_array(search) ? json_array_size(search) : 0;
  if (n == 0 || n > ENT_MAX_ROUTES) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: search must be a list of 1..%d "
                    "sub-requests", ENT_MAX_ROUTES);
    return false;
  }
  h->subs = calloc(n, sizeof *h->subs);
  h->reqs = calloc(n, sizeof *h->reqs);
  if (!h->subs || !h->reqs) {
    srv_reply_status(req, VS_ERR_NOMEM);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *obj = json_array_get(search, i);
    if (!json_is_object(obj)) {
      srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: search[%zu] is not an object", i);
      return false;
    }
    h->count = i + 1;
    if (!read_search(req, s, obj, &h->subs[i])) return false;
    h->reqs[i] = h->subs[i].r;
  }
  return true;
}

static bool read_rerank(srv_request *req, hybrid_args *h) {
  const json_t *rerank = srv_get(req, "rerank");
  if (!json_is_object(rerank)) {
    srv_reply_missing(req, "HybridSearchReq", "Rerank");
    return false;
  }
  const json_t *strategy = srv_obj_get(rerank, "strategy");
  const char *name = json_is_string(strategy) ? json_string_value(strategy) : "";
  if (strcasecmp(name, "rrf") != 0 && strcasecmp(name, "weighted") != 0) {
    srv_reply_error(req, SRV_CODE_INVALID, "unsupported rank type %s (use rrf or weighted)", name);
    return false;
  }
  h->strategy = strcasecmp(name, "rrf") == 0 ? "rrf" : "weighted";
  const json_t *params = srv_obj_get(rerank, "params");
  if (params && !json_is_null(params) && !json_is_object(params)) {
    srv_reply_error(req, SRV_CODE_INVALID, "invalid parameter: rerank.params must be an object");
    return false;
  }
  if (params && json_is_object(params)) h->rerank_params = json_dumps(params, JSON_COMPACT);
  return true;
}

static void h_hybrid(srv_request *req) {
  srv_target t;
  ent_schema s;
  hybrid_args h = {0};
  vs_result *res = NULL;
  if (!search_prelude(req, &t, &s)) return;
  if (read_routes(req, &s, &h) && read_rerank(req, &h) &&
      read_window(req, NULL, &h.limit, &h.offset) && read_lists(req, &s, &h.lists, NULL)) {
    vs_hybrid_request hr = {
        .searches = h.reqs, .search_count = h.count, .rerank = h.strategy,
        .rerank_params_json = h.rerank_params, .k = (uint32_t)h.limit,
        .offset = (uint32_t)h.offset, .partitions = h.lists.parts.names,
        .partition_count = h.lists.parts.count, .output_fields = h.lists.out.names,
        .output_count = h.lists.out.count, .profile = req->profile};
    vs_status st = vs_hybrid_search(t.db, t.name, &hr, &res);
    if (st == VS_OK) reply_hits(req, res, &s, &h.lists.out);
    else srv_reply_status(req, st);
  }
  vs_result_free(res);
  hybrid_free(&h);
  schema_free(&s);
}

/* ----------------------------------------------------------------- routes */

const srv_route srv_routes_entities[] = {
    {"/entities/insert", h_insert, "Collection", "Insert", 0},
    {"/entities/upsert", h_upsert, "Collection", "Upsert", 0},
    {"/entities/delete", h_delete, "Collection", "Delete", 0},
    {"/entities/get", h_get, "Collection", "Query", 1},
    {"/entities/query", h_query, "Collection", "Query", 2},
    {"/entities/search", h_search, "Collection", "Search", 3},
    {"/entities/hybrid_search", h_hybrid, "Collection", "Search", 4},
    {"/entities/advanced_search", h_hybrid, "Collection", "Search", 4},
    {NULL, NULL, NULL, NULL, 0},
};
