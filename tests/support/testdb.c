/*
 * testdb.c -- the standard test collection; see testdb.h.
 *
 * Content functions are deterministic and cheap, and reads compare bit for
 * bit (vectors with memcmp, scores with ==): a database that returns a
 * slightly different float has lost data, not rounded it.
 */
#include "support/testdb.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

vs_schema *tdb_schema(void) {
  vs_schema *s = NULL;
  if (vs_schema_new(&s) != VS_OK) return NULL;
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  vs_field_def vec = {.name = "vector", .type = VS_TYPE_FLOAT_VECTOR,
                      .dim = TDB_DIM, .metric = VS_METRIC_L2};
  vs_field_def tag = {.name = "tag", .type = VS_TYPE_VARCHAR,
                      .max_length = 64};
  vs_field_def score = {.name = "score", .type = VS_TYPE_DOUBLE,
                        .nullable = 1};
  if (vs_schema_add_field(s, &id) != VS_OK ||
      vs_schema_add_field(s, &vec) != VS_OK ||
      vs_schema_add_field(s, &tag) != VS_OK ||
      vs_schema_add_field(s, &score) != VS_OK) {
    vs_schema_free(s);
    return NULL;
  }
  return s;
}

void tdb_row_vector(int64_t id, uint32_t ver, float *v) {
  uint64_t seed = (uint64_t)id * 0x100000001B3ull ^ ((uint64_t)ver << 40) ^
                  0xC0FFEEull;
  tu_random_floats(seed, v, TDB_DIM);
}

void tdb_row_tag(int64_t id, uint32_t ver, char *buf, size_t n) {
  snprintf(buf, n, "id%" PRId64 "-v%" PRIu32, id, ver);
}

bool tdb_row_score(int64_t id, uint32_t ver, double *out) {
  uint64_t s = (uint64_t)id * 31u + ver;
  uint64_t x = tu_splitmix64(&s);
  if (x % 7 == 3) return false;
  *out = (double)(x >> 11) / 9007199254740992.0 * 1000.0 - 500.0;
  return true;
}

vs_rows *tdb_build_rows(int64_t first, uint32_t count, uint32_t ver) {
  vs_rows *rows = NULL;
  int64_t ids[TDB_MAX_BATCH];
  float vecs[TDB_MAX_BATCH * TDB_DIM];
  char tags[TDB_MAX_BATCH][40];
  const char *tagp[TDB_MAX_BATCH];
  double scores[TDB_MAX_BATCH];
  uint8_t valid[TDB_MAX_BATCH];
  if (count == 0 || count > TDB_MAX_BATCH) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    ids[i] = first + i;
    tdb_row_vector(ids[i], ver, vecs + (size_t)i * TDB_DIM);
    tdb_row_tag(ids[i], ver, tags[i], sizeof tags[i]);
    tagp[i] = tags[i];
    scores[i] = 0;
    valid[i] = tdb_row_score(ids[i], ver, &scores[i]) ? 1 : 0;
  }
  if (vs_rows_new(count, &rows) != VS_OK) return NULL;
  if (vs_rows_set_int64(rows, "id", ids, NULL) != VS_OK ||
      vs_rows_set_float_vectors(rows, "vector", vecs, TDB_DIM) != VS_OK ||
      vs_rows_set_strings(rows, "tag", tagp) != VS_OK ||
      vs_rows_set_double(rows, "score", scores, valid) != VS_OK) {
    vs_rows_free(rows);
    return NULL;
  }
  return rows;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int check_score(const vs_rows *rows, size_t i, int64_t id,
                       uint32_t ver, char *err, size_t errlen) {
  double want = 0;
  double got = 0;
  if (!tdb_row_score(id, ver, &want)) {
    if (!vs_rows_is_null(rows, "score", i))
      return fail(err, errlen, "id %" PRId64 ": score should be null", id);
    return 0;
  }
  if (vs_rows_is_null(rows, "score", i))
    return fail(err, errlen, "id %" PRId64 ": score is null", id);
  if (vs_rows_get_double(rows, "score", i, &got) != VS_OK)
    return fail(err, errlen, "id %" PRId64 ": no score: %s", id,
                vs_errmsg(NULL));
  if (got != want)
    return fail(err, errlen, "id %" PRId64 ": score %.17g, expected %.17g",
                id, got, want);
  return 0;
}

int tdb_check_row(const vs_rows *rows, size_t i, int64_t id, uint32_t ver,
                  char *err, size_t errlen) {
  float want[TDB_DIM];
  const float *got = NULL;
  uint32_t dim = 0;
  const char *tag = NULL;
  size_t tag_len = 0;
  char want_tag[40];
  tdb_row_vector(id, ver, want);
  tdb_row_tag(id, ver, want_tag, sizeof want_tag);
  if (vs_rows_get_float_vector(rows, "vector", i, &got, &dim) != VS_OK)
    return fail(err, errlen, "id %" PRId64 ": no vector: %s", id,
                vs_errmsg(NULL));
  if (dim != TDB_DIM || memcmp(got, want, sizeof want) != 0)
    return fail(err, errlen, "id %" PRId64 " v%" PRIu32 ": vector differs",
                id, ver);
  if (vs_rows_get_string(rows, "tag", i, &tag, &tag_len) != VS_OK)
    return fail(err, errlen, "id %" PRId64 ": no tag: %s", id,
                vs_errmsg(NULL));
  if (tag_len != strlen(want_tag) || memcmp(tag, want_tag, tag_len) != 0)
    return fail(err, errlen, "id %" PRId64 ": tag '%.*s', expected '%s'", id,
                (int)tag_len, tag, want_tag);
  return check_score(rows, i, id, ver, err, errlen);
}

/* Version of row i from its tag; -1 with err set on a malformed tag. */
static int row_version(const vs_rows *rows, size_t i, int64_t id,
                       uint32_t *ver, char *err, size_t errlen) {
  const char *tag = NULL;
  size_t len = 0;
  int64_t tag_id = -1;
  if (vs_rows_get_string(rows, "tag", i, &tag, &len) != VS_OK)
    return fail(err, errlen, "id %" PRId64 ": no tag: %s", id,
                vs_errmsg(NULL));
  if (sscanf(tag, "id%" SCNd64 "-v%" SCNu32, &tag_id, ver) != 2 ||
      tag_id != id)
    return fail(err, errlen, "id %" PRId64 " has tag '%.*s'", id, (int)len,
                tag);
  return 0;
}

static int read_rows(const vs_rows *rows, int64_t first, uint32_t count,
                     int32_t *out, char *err, size_t errlen) {
  for (size_t i = 0; i < vs_rows_count(rows); i++) {
    int64_t id = -1;
    uint32_t ver = 0;
    if (vs_rows_get_int64(rows, "id", i, &id) != VS_OK)
      return fail(err, errlen, "row %zu has no id: %s", i, vs_errmsg(NULL));
    if (id < first || id >= first + (int64_t)count)
      return fail(err, errlen, "vs_get returned id %" PRId64 " not asked",
                  id);
    if (out[id - first] != -1)
      return fail(err, errlen, "vs_get returned id %" PRId64 " twice", id);
    if (row_version(rows, i, id, &ver, err, errlen) != 0) return -1;
    if (tdb_check_row(rows, i, id, ver, err, errlen) != 0) return -1;
    out[id - first] = (int32_t)ver;
  }
  return 0;
}

int tdb_read_versions(vs_db *db, const char *coll, int64_t first,
                      uint32_t count, int32_t *out, char *err,
                      size_t errlen) {
  const char *const all[] = {"*"};
  vs_rows *rows = NULL;
  int rc = -1;
  int64_t *keys = malloc((count ? count : 1) * sizeof *keys);
  if (keys == NULL) return fail(err, errlen, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    keys[i] = first + i;
    out[i] = -1;
  }
  vs_keys k = {.count = count, .int_keys = keys};
  vs_status st = vs_get(db, coll, &k, all, 1, &rows);
  if (st != VS_OK) {
    fail(err, errlen, "vs_get: %s: %s", vs_status_name(st), vs_errmsg(db));
    goto done;
  }
  rc = read_rows(rows, first, count, out, err, errlen);
done:
  vs_rows_free(rows);
  free(keys);
  return rc;
}
