/*
 * index_params.c -- index definitions in the MANIFEST, and the JSON
 * parameters of index builds and searches.
 *
 * Parameters arrive as Milvus sends them: build params {"M":16,
 * "efConstruction":200, "nlist":128, "m":8, "nbits":8, "metric_type":"L2"}
 * and search params {"ef":64, "nprobe":8, "radius":..., "range_filter":...},
 * possibly nested under "params", with numbers possibly as strings ("16").
 * Unknown keys are ignored, as Milvus does; known keys with bad values are
 * errors naming the key.
 *
 * AUTOINDEX resolves, at definition time, to HNSW_SQ8 with M=16 and
 * efConstruction=200: the fastest of our indexes at recall >= 0.95 in
 * `make bench-ann`, with a quarter of HNSW's vector memory for traversal.
 * The definition keeps "AUTOINDEX" as the requested type so describe can
 * show both.
 *
 * Scalar index definitions (INVERTED, STL_SORT, BITMAP; scalar_index.c
 * parses their params) share the MANIFEST's "indexes" list: {"field",
 * "type" (the resolved kind), "requested", "params", "generation"}, the
 * same keys as vector definitions, so MANIFESTs from before scalar indexes
 * read unchanged.  A scalar entry is told apart by its field's type.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "engine/engine_internal.h"

/* A number given as a JSON number or a numeric string. */
static bool json_number_of(json_t *v, double *out) {
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return true;
  }
  if (json_is_string(v)) {
    char *end = NULL;
    errno = 0;
    *out = strtod(json_string_value(v), &end);
    return errno == 0 && end && *end == '\0' && end != json_string_value(v);
  }
  return false;
}

/* Looks `key` up at the top level or under "params". */
static json_t *param(json_t *root, const char *key) {
  json_t *v = json_object_get(root, key);
  json_t *nested = json_object_get(root, "params");
  if (!v && json_is_object(nested)) v = json_object_get(nested, key);
  return v;
}

static vs_status uint_param(json_t *root, const char *key, uint32_t lo, uint32_t hi, uint32_t *out) {
  json_t *v = param(root, key);
  double d;
  if (!v) return VS_OK;
  if (!json_number_of(v, &d) || d != (double)(uint32_t)d || d < lo || d > hi) {
    return vs_fail(VS_ERR_INVALID, "index parameter '%s' must be an integer in %u..%u", key, lo, hi);
  }
  *out = (uint32_t)d;
  return VS_OK;
}

static vs_status float_param(json_t *root, const char *key, bool *has, float *out) {
  json_t *v = param(root, key);
  double d;
  if (!v) return VS_OK;
  if (!json_number_of(v, &d) || d != d) return vs_fail(VS_ERR_INVALID, "search parameter '%s' must be a number", key);
  *has = true;
  *out = (float)d;
  return VS_OK;
}

static vs_status parse_object(const char *json, json_t **out) {
  json_error_t err;
  *out = NULL;
  if (!json || !*json) {
    *out = json_object();
    return VS_OK;
  }
  json_t *root = json_loads(json, 0, &err);
  if (!json_is_object(root)) {
    json_decref(root);
    return vs_fail(VS_ERR_INVALID, "parameters must be a JSON object (%s at position %d)",
                   root ? "not an object" : err.text, err.position);
  }
  *out = root;
  return VS_OK;
}

/* Checks "metric_type"/"metricType" (if given) against the field. */
static vs_status check_metric(json_t *root, vs_metric metric) {
  json_t *v = param(root, "metric_type");
  if (!v) v = param(root, "metricType");
  if (!v) return VS_OK;
  vs_metric given;
  if (!json_is_string(v) || vs_metric_from_name(json_string_value(v), &given) != VS_OK) {
    return vs_fail(VS_ERR_INVALID, "metric_type must be L2, IP or COSINE");
  }
  if (given != metric) {
    return vs_fail(VS_ERR_INVALID, "metric_type %s does not match the field's metric %s",
                   vs_metric_name(given), vs_metric_name(metric));
  }
  return VS_OK;
}

vs_status vs_index_parse_build(const char *type_name, const char *json, vs_metric metric,
                               vs_index_type *type, vs_index_build_params *out) {
  json_t *root = NULL;
  bool automatic = type_name && strcasecmp(type_name, "AUTOINDEX") == 0;
  memset(out, 0, sizeof *out);
  vs_status st = automatic ? VS_OK : vs_index_type_from_name(type_name, type);
  if (st == VS_OK) st = parse_object(json, &root);
  if (st == VS_OK) st = check_metric(root, metric);
  if (st == VS_OK && automatic) {
    *type = VS_INDEX_HNSW_SQ8;
    out->M = 16;
    out->ef_construction = 200;
  }
  if (st == VS_OK) st = uint_param(root, "M", 4, 64, &out->M);
  if (st == VS_OK) st = uint_param(root, "efConstruction", 8, 4096, &out->ef_construction);
  if (st == VS_OK) st = uint_param(root, "nlist", 1, 65536, &out->nlist);
  if (st == VS_OK) st = uint_param(root, "m", 1, VS_MAX_DIM, &out->pq_m);
  if (st == VS_OK) st = uint_param(root, "nbits", 1, 8, &out->pq_nbits);
  json_decref(root);
  return st;
}

vs_status vs_index_parse_search(const char *json, vs_index_search_params *out) {
  json_t *root = NULL;
  memset(out, 0, sizeof *out);
  vs_status st = parse_object(json, &root);
  if (st == VS_OK) st = uint_param(root, "ef", 1, 32768, &out->ef);
  if (st == VS_OK) st = uint_param(root, "nprobe", 1, 65536, &out->nprobe);
  if (st == VS_OK) st = uint_param(root, "refine_k", 1, 65536, &out->refine_k);
  if (st == VS_OK) st = float_param(root, "radius", &out->has_radius, &out->radius);
  if (st == VS_OK) st = float_param(root, "range_filter", &out->has_range_filter, &out->range_filter);
  json_decref(root);
  return st;
}

vs_status vs_index_check_range(vs_metric metric, const vs_index_search_params *p) {
  if (!p->has_range_filter) return VS_OK;
  if (!p->has_radius) return vs_fail(VS_ERR_INVALID, "range_filter needs radius");
  if (metric == VS_METRIC_L2 && !(p->radius > p->range_filter)) {
    return vs_fail(VS_ERR_INVALID, "for L2, radius (%g) must be greater than range_filter (%g)",
                   (double)p->radius, (double)p->range_filter);
  }
  if (metric != VS_METRIC_L2 && !(p->radius < p->range_filter)) {
    return vs_fail(VS_ERR_INVALID, "for %s, radius (%g) must be less than range_filter (%g)",
                   vs_metric_name(metric), (double)p->radius, (double)p->range_filter);
  }
  return VS_OK;
}

/* ------------------------------------------------------ MANIFEST parts */

void *vs_index_defs_to_json(const vs_collection *c) {
  json_t *list = json_array();
  json_error_t err;
  for (size_t f = 0; list && c->index_defs && f < c->schema->field_count; f++) {
    const vs_index_def *d = &c->index_defs[f];
    if (!d->defined) continue;
    json_t *params = json_loads(d->params_json ? d->params_json : "{}", 0, &err);
    const char *type = d->scalar ? vs_scalar_kind_name(d->sdef.kind) : vs_index_type_name(d->type);
    json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:o,s:i}", "field", c->schema->fields[f].name,
                                          "type", type, "requested",
                                          d->requested_type, "params", params ? params : json_object(),
                                          "generation", (int)d->generation));
  }
  return list;
}

static vs_status load_def(vs_collection *c, json_t *o) {
  const char *field = json_string_value(json_object_get(o, "field"));
  const char *type = json_string_value(json_object_get(o, "type"));
  const char *requested = json_string_value(json_object_get(o, "requested"));
  json_t *params = json_object_get(o, "params");
  json_t *gen = json_object_get(o, "generation");
  int f = field ? vs_schema_index(c->schema, field) : -1;
  if (f < 0 || !type || !requested || !json_is_object(params) || !json_is_integer(gen) ||
      json_integer_value(gen) < 1 || json_integer_value(gen) >= (json_int_t)UINT32_MAX ||
      c->index_defs[f].defined) {
    return vs_fail(VS_ERR_CORRUPT, "MANIFEST in %s: bad index definition", c->dir);
  }
  vs_index_def *d = &c->index_defs[f];
  const vs_field *fd = &c->schema->fields[f];
  char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
  vs_index_type parsed;
  vs_status st = VS_OK;
  if (fd->type == VS_TYPE_FLOAT_VECTOR) {
    st = vs_index_type_from_name(type, &parsed);
    if (st == VS_OK) st = vs_index_parse_build(type, text, fd->metric, &d->type, &d->build);
  } else {
    /* a scalar index (MANIFESTs written since scalar indexes exist) */
    st = vs_scalar_type_name(type) ? vs_scalar_def_parse(fd, type, text, &d->sdef)
                                   : vs_fail(VS_ERR_CORRUPT, "unknown scalar index type '%s'", type);
    d->scalar = true;
  }
  if (st != VS_OK || !text) {
    free(text);
    return vs_fail(VS_ERR_CORRUPT, "MANIFEST in %s: index definition of '%s': %s", c->dir, field,
                   vs_error_message());
  }
  d->defined = true;
  d->params_json = text;
  d->requested_type = vs_strdup(requested);
  d->generation = (uint32_t)json_integer_value(gen);
  if (d->generation >= c->next_index_generation) c->next_index_generation = d->generation + 1;
  return d->requested_type ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
}

vs_status vs_index_defs_from_json(vs_collection *c, void *json) {
  json_t *list = json;
  size_t i;
  json_t *o;
  c->index_defs = vs_calloc(c->schema->field_count, sizeof *c->index_defs);
  if (!c->index_defs) return vs_fail(VS_ERR_NOMEM, "out of memory");
  if (c->next_index_generation == 0) c->next_index_generation = 1;
  if (!list) return VS_OK; /* a MANIFEST from before indexes existed */
  if (!json_is_array(list)) return vs_fail(VS_ERR_CORRUPT, "MANIFEST in %s: bad index list", c->dir);
  json_array_foreach(list, i, o) {
    vs_status st = load_def(c, o);
    if (st != VS_OK) return st;
  }
  return VS_OK;
}

void vs_index_defs_free(vs_collection *c) {
  for (size_t f = 0; c->index_defs && c->schema && f < c->schema->field_count; f++) {
    free(c->index_defs[f].params_json);
    free(c->index_defs[f].requested_type);
    free(c->index_defs[f].fail_reason);
    vs_scalar_def_free(&c->index_defs[f].sdef);
    vs_scalar_detach_all(&c->index_defs[f]);
  }
  free(c->index_defs);
  c->index_defs = NULL;
}
