/*
 * segment.c -- growing and sealed segments, and their tombstones.
 *
 * A segment holds the rows of one (partition, shard) pair, column by column
 * in the layout of schema.h.  It is either
 *
 *   growing: the columns live in a vs_rows in memory and are appended to by
 *            the collection's writer; its views are refreshed after each
 *            append (under the collection's write lock), so readers, who
 *            hold the read lock, always see a consistent prefix; or
 *   sealed:  written once to a segment file (storage.h) and mapped
 *            read-only; its views point into the mapping and never change.
 *
 * Deleted rows are tombstones in a bitset.  For sealed segments the bitset
 * is persisted, when the collection writes its MANIFEST, as a *deletes
 * file* named del-<segment>-<generation>.vdel; each save writes a new
 * generation and the MANIFEST names the live one, so a crash between the
 * two leaves the old file in force (the WAL replays the newer deletes).
 *
 * Sealing writes only live rows, so a new sealed segment starts with no
 * tombstones; compaction is the same operation applied to a sealed segment.
 *
 * Segment file sections (ids from engine_internal.h):
 *
 *   id                      contents
 *   0 (meta)                u64 rows, u32 columns, u32 shard,
 *                           u32 partition, u32 reserved, u64 segment id
 *   (col+1)<<8 | 1 fixed    rows * width bytes (Bool u8, Int8..Int64,
 *                           Float, Double, FloatVector dim*4)
 *   (col+1)<<8 | 2 offsets  (rows+1) u64 little-endian, var columns only
 *   (col+1)<<8 | 3 bytes    var payload
 *   (col+1)<<8 | 4 valid    rows bytes, 0 = null; absent = all present
 *
 * Fields added later (vs_add_field) are not in older files: a file whose
 * column count is smaller than the schema's holds the first fields, then
 * "$meta" when the collection is dynamic.  Opening it maps those and
 * synthesizes the missing columns in memory (every row the field's
 * default, else null: vs_column_fill_absent), exactly as a live segment
 * gains the column when the field is added.  Compaction writes the full
 * column list; a forced one (vs_compact(force)) rewrites such files even
 * without deletes, so the synthesized columns become real ones.
 *
 * Deletes file payload (checked file "VSDELv01", version 1): u64 count, then
 * count u32 row numbers, strictly ascending and < rows.
 *
 * Alternatives rejected: one file per column (more files to fsync and to
 * name in the MANIFEST for no gain at our segment sizes); row-major segment
 * files (exact search streams one column; row-major would drag every field
 * through the cache).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "segment files map u64 offsets directly: little-endian only");

#define META_BYTES 40u

static vs_type column_type(const vs_schema *schema, size_t col,
                           uint32_t *dim) {
  if (col >= schema->field_count) {
    *dim = 0;
    return VS_TYPE_JSON; /* $meta */
  }
  *dim = schema->fields[col].dim;
  return schema->fields[col].type;
}

vs_status vs_segment_new_growing(const vs_schema *schema, uint64_t id,
                                 uint32_t shard, uint32_t partition,
                                 vs_segment **out) {
  vs_status st = VS_OK;
  vs_segment *seg = vs_calloc(1, sizeof *seg);
  *out = NULL;
  if (!seg) return vs_fail(VS_ERR_NOMEM, "out of memory creating a segment");
  atomic_store(&seg->refs, 1);
  seg->id = id;
  seg->shard = shard;
  seg->partition = partition;
  seg->column_count = vs_schema_column_count(schema);
  st = vs_rows_new_for_schema(schema, &seg->data);
  if (st != VS_OK) goto done;
  seg->views = vs_calloc(seg->column_count, sizeof *seg->views);
  if (!seg->views) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory creating a segment");
    goto done;
  }
  st = vs_bitset_init(&seg->deleted, 0);
  if (st != VS_OK) goto done;
  vs_segment_refresh_views(seg);
  *out = seg;
  seg = NULL;
done:
  vs_segment_free(seg);
  return st;
}

void vs_segment_refresh_views(vs_segment *seg) {
  if (seg->sealed) return;
  for (size_t c = 0; c < seg->column_count; c++) {
    vs_column_view(&seg->data->cols[c], &seg->views[c]);
  }
  seg->rows = seg->data->n;
}

vs_status vs_segment_append(vs_segment *seg, const vs_rows *batch,
                            const uint32_t *rows, size_t count) {
  vs_status st = vs_bitset_resize(&seg->deleted, seg->data->n + count);
  if (st != VS_OK) return st;
  for (size_t c = 0; c < seg->column_count; c++) {
    vs_colview src;
    vs_column_view(&batch->cols[c], &src);
    for (size_t i = 0; i < count; i++) {
      st = vs_column_append_from(&seg->data->cols[c], &src, rows[i]);
      if (st != VS_OK) return st;
    }
  }
  seg->data->n += count;
  vs_segment_refresh_views(seg);
  return VS_OK;
}

bool vs_segment_mark_deleted(vs_segment *seg, size_t row) {
  if (row >= seg->rows || vs_bitset_test(&seg->deleted, row)) return false;
  vs_bitset_set(&seg->deleted, row);
  seg->deleted_count++;
  seg->deletes_dirty = true;
  return true;
}

void vs_segment_acquire(vs_segment *seg) { atomic_fetch_add(&seg->refs, 1); }

static void free_indexes(vs_segment *seg) {
  for (size_t f = 0; seg->indexes && f < seg->field_count; f++) {
    vs_segment_index *si = &seg->indexes[f];
    vs_index_free(si->active);
    vs_index_free(si->pending);
    free(si->active_file);
    free(si->pending_file);
  }
  free(seg->indexes);
}

void vs_segment_free(vs_segment *seg) {
  if (!seg) return;
  if (atomic_fetch_sub(&seg->refs, 1) > 1) return;
  free_indexes(seg);
  for (size_t i = 0; i < seg->synth_count; i++) vs_col_clear(&seg->synth[i]);
  free(seg->synth);
  vs_rows_free(seg->data);
  vs_segfile_close(seg->file);
  free(seg->file_name);
  free(seg->views);
  vs_bitset_free(&seg->deleted);
  free(seg->deletes_file);
  free(seg);
}

uint64_t vs_segment_bytes(const vs_segment *seg) {
  if (seg->sealed) return vs_segfile_size(seg->file);
  return vs_rows_memory(seg->data);
}

/* ---------------------------------------------------------------- sealing */

/* The rows of `seg` that survive: not deleted and not excluded. */
static vs_status live_rows(const vs_segment *seg, const vs_bitset *drop_set,
                           uint32_t **rows_out, size_t *count_out,
                           uint32_t **old_to_new) {
  uint32_t *rows = vs_calloc(seg->rows ? seg->rows : 1, sizeof *rows);
  uint32_t *map = vs_calloc(seg->rows ? seg->rows : 1, sizeof *map);
  size_t n = 0;
  if (!rows || !map) {
    free(rows);
    free(map);
    return vs_fail(VS_ERR_NOMEM, "out of memory sealing a segment");
  }
  for (size_t r = 0; r < seg->rows; r++) {
    bool drop = r < drop_set->nbits && vs_bitset_test(drop_set, r);
    map[r] = drop ? UINT32_MAX : (uint32_t)n;
    if (!drop) rows[n++] = (uint32_t)r;
  }
  *rows_out = rows;
  *count_out = n;
  if (old_to_new) {
    *old_to_new = map;
  } else {
    free(map);
  }
  return VS_OK;
}

typedef struct seal_source {
  const vs_schema *schema;
  const vs_colview *views; /* columns of the rows to write */
  size_t rows;
  size_t columns;
  uint8_t meta[META_BYTES];
  uint32_t *ids;           /* section ids in order */
  size_t count;
} seal_source;

static vs_status seal_next(void *ctx, size_t i, vs_segfile_section *section) {
  seal_source *src = ctx;
  uint32_t id = src->ids[i];
  section->id = id;
  if (id == VS_SECTION_META) {
    section->data = src->meta;
    section->len = META_BYTES;
    return VS_OK;
  }
  size_t col = (id >> 8) - 1;
  const vs_colview *v = &src->views[col];
  uint32_t dim;
  vs_type type = column_type(src->schema, col, &dim);
  switch (id & 0xff) {
    case VS_SECTION_FIXED:
      section->data = v->fixed;
      section->len = src->rows * vs_type_fixed_width(type, dim);
      break;
    case VS_SECTION_OFFSETS:
      section->data = v->offsets;
      section->len = (src->rows + 1) * sizeof(uint64_t);
      break;
    case VS_SECTION_BYTES:
      section->data = v->bytes;
      section->len = v->offsets[src->rows];
      break;
    default:
      section->data = v->valid;
      section->len = src->rows;
      break;
  }
  return VS_OK;
}

static vs_status seal_section_ids(seal_source *src) {
  src->ids = vs_calloc(1 + src->columns * 3, sizeof *src->ids);
  if (!src->ids) return vs_fail(VS_ERR_NOMEM, "out of memory sealing");
  src->ids[src->count++] = VS_SECTION_META;
  for (size_t c = 0; c < src->columns; c++) {
    uint32_t dim;
    vs_type type = column_type(src->schema, c, &dim);
    if (vs_type_is_var(type)) {
      src->ids[src->count++] = VS_SECTION_ID(c, VS_SECTION_OFFSETS);
      src->ids[src->count++] = VS_SECTION_ID(c, VS_SECTION_BYTES);
    } else {
      src->ids[src->count++] = VS_SECTION_ID(c, VS_SECTION_FIXED);
    }
    if (src->views[c].valid) {
      src->ids[src->count++] = VS_SECTION_ID(c, VS_SECTION_VALID);
    }
  }
  return VS_OK;
}

/* Copies the chosen rows of seg into a fresh normalized batch. */
static vs_status gather_rows(const vs_schema *schema, const vs_segment *seg,
                             const uint32_t *rows, size_t n, vs_rows **out) {
  vs_rows *copy = NULL;
  vs_status st = vs_rows_new_for_schema(schema, &copy);
  if (st != VS_OK) return st;
  for (size_t c = 0; c < seg->column_count && st == VS_OK; c++) {
    for (size_t i = 0; i < n && st == VS_OK; i++) {
      st = vs_column_append_from(&copy->cols[c], &seg->views[c], rows[i]);
    }
  }
  if (st != VS_OK) {
    vs_rows_free(copy);
    return st;
  }
  copy->n = n;
  *out = copy;
  return VS_OK;
}

static char *segment_file_name(uint64_t id) {
  char name[64];
  snprintf(name, sizeof name, "seg-%08" PRIu64 ".vseg", id);
  return vs_strdup(name);
}

vs_status vs_segment_write_sealed(const vs_schema *schema,
                                  const vs_segment *seg,
                                  const vs_bitset *drop, const char *dir,
                                  uint64_t new_id, vs_segment **out,
                                  uint32_t **old_to_new) {
  uint32_t *rows = NULL;
  size_t n = 0;
  vs_rows *copy = NULL;
  vs_colview *views = NULL;
  char *name = NULL;
  char *path = NULL;
  seal_source src = {0};
  *out = NULL;
  vs_status st = live_rows(seg, drop, &rows, &n, old_to_new);
  if (st != VS_OK) goto done;
  views = vs_calloc(seg->column_count, sizeof *views);
  if (!views) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory sealing a segment");
    goto done;
  }
  if (n == seg->rows) {
    memcpy(views, seg->views, seg->column_count * sizeof *views);
  } else {
    st = gather_rows(schema, seg, rows, n, &copy);
    if (st != VS_OK) goto done;
    for (size_t c = 0; c < seg->column_count; c++) {
      vs_column_view(&copy->cols[c], &views[c]);
    }
  }
  src.schema = schema;
  src.views = views;
  src.rows = n;
  src.columns = seg->column_count;
  vs_store_u64(src.meta, n);
  vs_store_u32(src.meta + 8, (uint32_t)seg->column_count);
  vs_store_u32(src.meta + 12, seg->shard);
  vs_store_u32(src.meta + 16, seg->partition);
  vs_store_u32(src.meta + 20, 0);
  vs_store_u64(src.meta + 24, new_id);
  vs_store_u64(src.meta + 32, 0);
  st = seal_section_ids(&src);
  if (st != VS_OK) goto done;
  name = segment_file_name(new_id);
  path = name ? vs_fs_join(dir, name) : NULL;
  if (!path) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory sealing a segment");
    goto done;
  }
  st = vs_segfile_write_from(path, src.count, seal_next, &src);
  if (st != VS_OK) goto done;
  st = vs_segment_open_sealed(schema, dir, name, new_id, seg->shard,
                              seg->partition, false, out);
done:
  if (st != VS_OK && old_to_new) {
    free(*old_to_new);
    *old_to_new = NULL;
  }
  free(rows);
  free(views);
  free(src.ids);
  vs_rows_free(copy);
  free(name);
  free(path);
  return st;
}

/* -------------------------------------------------------------- opening */

static vs_status check_var_column(const char *file, size_t col,
                                  const vs_colview *v) {
  if (v->offsets[0] != 0) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: column %zu offsets do not start at 0",
                   file, col);
  }
  for (size_t r = 0; r < v->n; r++) {
    if (v->offsets[r + 1] < v->offsets[r]) {
      return vs_fail(VS_ERR_CORRUPT,
                     "segment %s: column %zu offsets decrease at row %zu", file,
                     col, r);
    }
  }
  return VS_OK;
}

/* Maps column `col` of the schema from column `file_col` of the file. */
static vs_status map_column(const vs_schema *schema, vs_segment *seg,
                            size_t col, size_t file_col) {
  uint32_t dim;
  vs_type type = column_type(schema, col, &dim);
  vs_colview *v = &seg->views[col];
  const char *file = seg->file_name;
  size_t len = 0;
  v->type = type;
  v->dim = dim;
  v->n = seg->rows;
  v->valid = vs_segfile_get(seg->file, VS_SECTION_ID(file_col, VS_SECTION_VALID), &len);
  if (v->valid && len != seg->rows) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: column %zu validity has %zu bytes, expected %zu",
                   file, col, len, seg->rows);
  }
  if (!vs_type_is_var(type)) {
    size_t want;
    v->fixed = vs_segfile_get(seg->file, VS_SECTION_ID(file_col, VS_SECTION_FIXED), &len);
    if (!vs_mul_ok(seg->rows, vs_type_fixed_width(type, dim), &want) ||
        !v->fixed || len != want) {
      return vs_fail(VS_ERR_CORRUPT, "segment %s: column %zu data has the wrong size",
                     file, col);
    }
    return VS_OK;
  }
  size_t blen = 0;
  v->offsets = vs_segfile_get(seg->file, VS_SECTION_ID(file_col, VS_SECTION_OFFSETS), &len);
  v->bytes = vs_segfile_get(seg->file, VS_SECTION_ID(file_col, VS_SECTION_BYTES), &blen);
  if (!v->offsets || !v->bytes || len != (seg->rows + 1) * sizeof(uint64_t) ||
      v->offsets[seg->rows] != blen) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: column %zu offsets have the wrong size",
                   file, col);
  }
  return check_var_column(file, col, v);
}

/* Reads the meta section; *file_fields = the schema fields the file has
 * (fields added since it was written are missing from its end). */
static vs_status read_meta(vs_segment *seg, const vs_schema *schema, size_t *file_fields) {
  size_t len = 0;
  const uint8_t *meta = vs_segfile_get(seg->file, VS_SECTION_META, &len);
  if (!meta || len != META_BYTES) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: missing or short meta section",
                   seg->file_name);
  }
  uint64_t rows = vs_load_u64(meta);
  uint32_t columns = vs_load_u32(meta + 8);
  size_t has_meta = schema->dynamic ? 1 : 0;
  if (rows >= UINT32_MAX || columns <= has_meta || columns > vs_schema_column_count(schema)) {
    return vs_fail(VS_ERR_CORRUPT,
                   "segment %s: %" PRIu64 " rows / %u columns do not match the schema",
                   seg->file_name, rows, columns);
  }
  *file_fields = columns - has_meta;
  for (size_t f = *file_fields; f < schema->field_count; f++) {
    const vs_field *field = &schema->fields[f];
    if (!field->nullable && !field->default_json) {
      return vs_fail(VS_ERR_CORRUPT, "segment %s: has no column for field '%s', which is neither nullable nor defaulted",
                     seg->file_name, field->name);
    }
  }
  if (vs_load_u64(meta + 24) != seg->id || vs_load_u32(meta + 12) != seg->shard ||
      vs_load_u32(meta + 16) != seg->partition) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: id/shard/partition differ from the MANIFEST",
                   seg->file_name);
  }
  seg->rows = (size_t)rows;
  return VS_OK;
}

/* Builds the columns of fields [from, field_count) of a sealed segment
 * whose file predates them, and points their views at them. */
static vs_status synthesize(vs_segment *seg, const vs_schema *schema, size_t from) {
  if (from >= schema->field_count) return VS_OK;
  seg->synth = vs_calloc(schema->field_count - from, sizeof *seg->synth);
  if (!seg->synth) return vs_fail(VS_ERR_NOMEM, "out of memory opening a segment");
  for (size_t f = from; f < schema->field_count; f++) {
    vs_status st = vs_column_fill_absent(&schema->fields[f], seg->rows, &seg->synth[seg->synth_count]);
    if (st != VS_OK) return st;
    vs_column_view(&seg->synth[seg->synth_count++], &seg->views[f]);
  }
  return VS_OK;
}

vs_status vs_segment_grow_prepare(const vs_segment *seg, const vs_schema *schema,
                                  vs_segment_growth *g) {
  memset(g, 0, sizeof *g);
  size_t field = schema->field_count - 1;
  g->views = vs_calloc(seg->column_count + 1, sizeof *g->views);
  g->indexes = vs_calloc(seg->field_count + 1, sizeof *g->indexes);
  g->synth = vs_calloc(seg->synth_count + 1, sizeof *g->synth);
  if (!g->views || !g->indexes || !g->synth) {
    vs_segment_grow_abandon(g);
    return vs_fail(VS_ERR_NOMEM, "out of memory adding a field");
  }
  vs_status st = vs_column_fill_absent(&schema->fields[field], seg->rows, &g->column);
  if (st != VS_OK) vs_segment_grow_abandon(g);
  return st;
}

void vs_segment_grow_commit(vs_segment *seg, vs_segment_growth *g) {
  size_t field = seg->field_count; /* the new field's column */
  memcpy(g->views, seg->views, field * sizeof *g->views);
  if (seg->column_count > field) g->views[field + 1] = seg->views[field]; /* "$meta" moves up */
  if (seg->synth_count) memcpy(g->synth, seg->synth, seg->synth_count * sizeof *g->synth);
  g->synth[seg->synth_count] = g->column;
  vs_column_view(&g->synth[seg->synth_count], &g->views[field]);
  if (seg->indexes) memcpy(g->indexes, seg->indexes, seg->field_count * sizeof *g->indexes);
  /* Every reader of seg->views holds the collection lock (index builds
   * copy the view they need under it), so the old array can go. */
  free(seg->views);
  seg->views = g->views;
  free(seg->synth);
  seg->synth = g->synth;
  seg->synth_count++;
  free(seg->indexes);
  seg->indexes = g->indexes;
  seg->field_count++;
  seg->column_count++;
  memset(g, 0, sizeof *g);
}

void vs_segment_grow_abandon(vs_segment_growth *g) {
  free(g->views);
  free(g->indexes);
  free(g->synth);
  vs_col_clear(&g->column);
  memset(g, 0, sizeof *g);
}

vs_status vs_segment_open_sealed(const vs_schema *schema, const char *dir,
                                 const char *file_name, uint64_t id,
                                 uint32_t shard, uint32_t partition,
                                 bool verify, vs_segment **out) {
  vs_status st = VS_OK;
  char *path = NULL;
  vs_segment *seg = vs_calloc(1, sizeof *seg);
  *out = NULL;
  if (!seg) return vs_fail(VS_ERR_NOMEM, "out of memory opening a segment");
  atomic_store(&seg->refs, 1);
  seg->id = id;
  seg->shard = shard;
  seg->partition = partition;
  seg->sealed = true;
  seg->column_count = vs_schema_column_count(schema);
  seg->file_name = vs_strdup(file_name);
  path = vs_fs_join(dir, file_name);
  seg->views = vs_calloc(seg->column_count, sizeof *seg->views);
  seg->field_count = schema->field_count;
  seg->indexes = vs_calloc(schema->field_count, sizeof *seg->indexes);
  if (!seg->file_name || !path || !seg->views || !seg->indexes) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory opening a segment");
    goto done;
  }
  st = vs_segfile_open(path, verify, &seg->file);
  if (st != VS_OK) goto done;
  size_t file_fields = 0;
  st = read_meta(seg, schema, &file_fields);
  for (size_t c = 0; c < file_fields && st == VS_OK; c++) st = map_column(schema, seg, c, c);
  if (st == VS_OK && schema->dynamic) st = map_column(schema, seg, schema->field_count, file_fields);
  if (st == VS_OK) st = synthesize(seg, schema, file_fields);
  if (st != VS_OK) goto done;
  st = vs_bitset_init(&seg->deleted, seg->rows);
  if (st != VS_OK) goto done;
  *out = seg;
  seg = NULL;
done:
  free(path);
  vs_segment_free(seg);
  return st;
}

/* ---------------------------------------------------------------- deletes */

static vs_status parse_deletes(const char *name, const uint8_t *payload,
                               size_t len, size_t rows, vs_bitset *into,
                               size_t *count_out) {
  vs_reader r;
  vs_reader_init(&r, payload, len);
  uint64_t count = vs_read_u64(&r);
  if (r.failed || count > rows || len != 8 + count * 4) {
    return vs_fail(VS_ERR_CORRUPT, "deletes file %s: bad row count", name);
  }
  int64_t prev = -1;
  for (uint64_t i = 0; i < count; i++) {
    uint32_t row = vs_read_u32(&r);
    if ((int64_t)row <= prev || row >= rows) {
      return vs_fail(VS_ERR_CORRUPT,
                     "deletes file %s: entry %" PRIu64 " (row %u) is out of order or range",
                     name, i, row);
    }
    prev = row;
    if (into) vs_bitset_set(into, row);
  }
  *count_out = (size_t)count;
  return VS_OK;
}

static vs_status read_deletes(const char *path, size_t rows, vs_bitset *into,
                              size_t *count) {
  uint8_t *payload = NULL;
  size_t len = 0;
  uint32_t version = 0;
  vs_status st = vs_checked_file_read(path, VS_DELETES_MAGIC, VS_DELETES_VERSION,
                                      &version, &payload, &len);
  if (st == VS_OK) st = parse_deletes(path, payload, len, rows, into, count);
  free(payload);
  return st;
}

vs_status vs_deletes_file_check(const char *path, size_t rows) {
  size_t count = 0;
  return read_deletes(path, rows, NULL, &count);
}

vs_status vs_segment_load_deletes(vs_segment *seg, const char *dir,
                                  const char *file_name) {
  char *path = vs_fs_join(dir, file_name);
  unsigned long long gen = 0;
  size_t count = 0;
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = read_deletes(path, seg->rows, &seg->deleted, &count);
  free(path);
  if (st != VS_OK) return st;
  seg->deleted_count = count;
  free(seg->deletes_file);
  seg->deletes_file = vs_strdup(file_name);
  if (sscanf(file_name, "del-%*u-%llu.vdel", &gen) == 1) {
    seg->deletes_generation = gen;
  }
  seg->deletes_dirty = false;
  return seg->deletes_file ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
}

vs_status vs_segment_save_deletes(vs_segment *seg, const char *dir) {
  vs_buf buf = {0};
  char name[96];
  char *path = NULL;
  vs_status st = vs_buf_append_u64(&buf, seg->deleted_count);
  for (size_t r = 0; r < seg->rows && st == VS_OK; r++) {
    if (vs_bitset_test(&seg->deleted, r)) st = vs_buf_append_u32(&buf, (uint32_t)r);
  }
  if (st != VS_OK) goto done;
  snprintf(name, sizeof name, "del-%08" PRIu64 "-%06" PRIu64 ".vdel", seg->id,
           seg->deletes_generation + 1);
  path = vs_fs_join(dir, name);
  if (!path) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory");
    goto done;
  }
  st = vs_checked_file_write(path, VS_DELETES_MAGIC, VS_DELETES_VERSION,
                             buf.data, buf.len);
  if (st != VS_OK) goto done;
  free(seg->deletes_file);
  seg->deletes_file = vs_strdup(name);
  seg->deletes_generation++;
  seg->deletes_dirty = false;
done:
  free(path);
  vs_buf_free(&buf);
  return st;
}
