/*
 * read.c -- get by primary key, and the output-field machinery that get and
 * search share.
 *
 * Reads hold the collection's read lock for their whole duration, so the
 * segments and views they touch cannot change under them; a get therefore
 * sees every write acknowledged before it started (Strong consistency).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

static vs_status plan_add(vs_output_plan *plan, size_t col) {
  for (size_t i = 0; i < plan->count; i++) {
    if (plan->cols[i] == col) return VS_OK;
  }
  plan->cols[plan->count++] = col;
  return VS_OK;
}

vs_status vs_output_plan_make(const vs_schema *schema, const char *const *names,
                              size_t count, vs_output_plan *out) {
  size_t columns = vs_schema_column_count(schema);
  memset(out, 0, sizeof *out);
  out->cols = vs_calloc(columns + 1, sizeof *out->cols);
  if (!out->cols) return vs_fail(VS_ERR_NOMEM, "out of memory");
  plan_add(out, (size_t)vs_schema_pk_index(schema));
  for (size_t i = 0; i < count; i++) {
    const char *name = names ? names[i] : NULL;
    if (!name) continue;
    if (strcmp(name, "*") == 0) {
      for (size_t c = 0; c < columns; c++) plan_add(out, c);
      continue;
    }
    int idx = vs_schema_index(schema, name);
    if (idx < 0 && schema->dynamic && strcmp(name, VS_META_FIELD) == 0) idx = (int)schema->field_count;
    if (idx < 0) {
      vs_output_plan_free(out);
      return vs_fail(VS_ERR_FIELD_NOT_FOUND, "output field '%s' is not in the schema", name);
    }
    plan_add(out, (size_t)idx);
  }
  return VS_OK;
}

void vs_output_plan_free(vs_output_plan *plan) {
  free(plan->cols);
  memset(plan, 0, sizeof *plan);
}

vs_status vs_output_rows_new(const vs_schema *schema, const vs_output_plan *plan,
                             vs_rows **out) {
  vs_status st = vs_rows_new(0, out);
  for (size_t i = 0; st == VS_OK && i < plan->count; i++) {
    size_t col = plan->cols[i];
    vs_column *dst = NULL;
    if (col < schema->field_count) {
      const vs_field *f = &schema->fields[col];
      st = vs_rows_add_column(*out, f->name, f->type, f->element_type, f->dim, &dst);
    } else {
      st = vs_rows_add_column(*out, VS_META_FIELD, VS_TYPE_JSON, VS_TYPE_NONE, 0, &dst);
    }
  }
  if (st != VS_OK) {
    vs_rows_free(*out);
    *out = NULL;
  }
  return st;
}

vs_status vs_output_append(vs_rows *rows, const vs_output_plan *plan,
                           const vs_segment *seg, size_t row) {
  for (size_t i = 0; i < plan->count; i++) {
    vs_status st = vs_column_append_from(&rows->cols[i], &seg->views[plan->cols[i]], row);
    if (st != VS_OK) return st;
  }
  rows->n++;
  return VS_OK;
}

/* Builds a key view over vs_keys (Int64 keys point at the caller's array). */
vs_status vs_keys_view(const vs_collection *c, const vs_keys *keys, vs_colview *view,
                           uint64_t **offsets, char **bytes) {
  const vs_field *pk = vs_schema_pk(c->schema);
  memset(view, 0, sizeof *view);
  view->type = pk->type;
  view->n = keys->count;
  if (pk->type == VS_TYPE_INT64) {
    if (keys->count && !keys->int_keys) return vs_fail(VS_ERR_INVALID, "primary key '%s' is Int64: pass int_keys", pk->name);
    view->fixed = (const uint8_t *)keys->int_keys;
    return VS_OK;
  }
  if (keys->count && !keys->str_keys) return vs_fail(VS_ERR_INVALID, "primary key '%s' is VarChar: pass str_keys", pk->name);
  size_t total = 0;
  *offsets = vs_calloc(keys->count + 1, sizeof **offsets);
  for (size_t i = 0; *offsets && i < keys->count; i++) {
    if (!keys->str_keys[i]) return vs_fail(VS_ERR_INVALID, "key %zu is NULL", i);
    total += strlen(keys->str_keys[i]);
    (*offsets)[i + 1] = total;
  }
  *bytes = vs_malloc(total + 1);
  if (!*offsets || !*bytes) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < keys->count; i++) {
    memcpy(*bytes + (*offsets)[i], keys->str_keys[i], (*offsets)[i + 1] - (*offsets)[i]);
  }
  view->offsets = *offsets;
  view->bytes = *bytes;
  return VS_OK;
}

static vs_status get_locked(vs_collection *c, const vs_colview *keys,
                            const vs_output_plan *plan, vs_rows *rows) {
  for (size_t i = 0; i < keys->n; i++) {
    vs_pk_location loc;
    if (!vs_pkindex_find(&c->pks, keys, i, vs_pk_hash(keys, i), &loc)) continue;
    vs_status st = vs_output_append(rows, plan, loc.seg, loc.row);
    if (st != VS_OK) return st;
  }
  return VS_OK;
}

vs_status vs_get(vs_db *db, const char *collection, const vs_keys *keys,
                 const char *const *output_fields, size_t output_count, vs_rows **out) {
  vs_collection *c = NULL;
  vs_output_plan plan = {0};
  vs_colview view;
  uint64_t *offsets = NULL;
  char *bytes = NULL;
  vs_rows *rows = NULL;
  if (!out || !keys) return vs_fail(VS_ERR_INVALID, "NULL argument");
  *out = NULL;
  if (keys->count > VS_MAX_INSERT_ROWS) {
    return vs_fail(VS_ERR_LIMIT, "%zu keys in one get, the limit is %u", keys->count, VS_MAX_INSERT_ROWS);
  }
  vs_status st = vs_db_find(db, collection, &c);
  if (st != VS_OK) return st;
  st = vs_keys_view(c, keys, &view, &offsets, &bytes);
  if (st == VS_OK) {
    /* the plan is made under the lock: the schema may gain a field */
    pthread_rwlock_rdlock(&c->lock);
    st = vs_output_plan_make(c->schema, output_fields, output_count, &plan);
    if (st == VS_OK) st = vs_output_rows_new(c->schema, &plan, &rows);
    if (st == VS_OK) st = get_locked(c, &view, &plan, rows);
    pthread_rwlock_unlock(&c->lock);
  }
  if (st == VS_OK) {
    *out = rows;
    rows = NULL;
  }
  vs_rows_free(rows);
  vs_output_plan_free(&plan);
  free(offsets);
  free(bytes);
  vs_db_release(db, c);
  return st;
}
