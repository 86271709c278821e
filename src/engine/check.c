/*
 * check.c -- `vectorstore check`: offline verification of a data directory.
 *
 * Takes the directory lock (so it never races a live process), then loads
 * every collection exactly as open would, but read-only and with every
 * checksum verified: CATALOG, MANIFEST, each segment file (all sections),
 * each deletes file, the primary-key columns (duplicates are reported), and
 * the WAL framing (vs_wal_check; a torn tail is reported but is not an
 * error, since open truncates it by design).  Nothing is written.
 *
 * Reusing the open path rather than writing a second reader keeps one
 * definition of "valid"; the price is that a collection's check stops at
 * its first broken file, which the report says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/engine_internal.h"
#include "simd/simd.h"

typedef struct check_ctx {
  vs_report_fn report;
  void *ctx;
  size_t problems;
} check_ctx;

static void say(check_ctx *k, bool problem, const char *fmt, ...) VS_PRINTF(3, 4);

static void say(check_ctx *k, bool problem, const char *fmt, ...) {
  char line[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (problem) k->problems++;
  if (k->report) k->report(k->ctx, line);
}

static void wal_line(void *ctx, const char *line) {
  check_ctx *k = ctx;
  if (k->report) k->report(k->ctx, line);
}

static void check_collection(vs_db *db, check_ctx *k, const char *name, uint32_t id) {
  vs_collection *c = NULL;
  vs_status st = vs_collection_open(db, name, id, &c);
  if (st != VS_OK) {
    say(k, true, "collection '%s': %s", name, vs_error_message());
    return;
  }
  uint64_t rows = 0;
  for (size_t i = 0; i < c->sealed_count; i++) rows += c->sealed[i]->rows - c->sealed[i]->deleted_count;
  for (size_t i = 0; i < c->growing_count; i++) rows += c->growing[i]->rows - c->growing[i]->deleted_count;
  if (rows != c->live_rows || c->pks.count != c->live_rows) {
    say(k, true, "collection '%s': %llu live rows but %zu distinct primary keys (duplicates)", name,
        (unsigned long long)rows, c->pks.count);
  }
  say(k, false, "collection '%s': %zu sealed segments, %llu live rows (%llu from the WAL), checksums ok",
      name, c->sealed_count, (unsigned long long)c->live_rows, (unsigned long long)c->growing_rows);
  char *wal = vs_fs_join(c->dir, VS_WAL_DIR);
  if (wal && vs_fs_exists(wal) && vs_wal_check_required(wal, c->durable_lsn, wal_line, k) != VS_OK) {
    say(k, true, "collection '%s': WAL: %s", name, vs_error_message());
  }
  free(wal);
  vs_collection_free(c);
}

static void check_catalog(vs_db *db, check_ctx *k) {
  uint8_t *payload = NULL;
  size_t len = 0;
  uint32_t version = 0;
  json_error_t err;
  char *path = vs_fs_join(db->dir, VS_CATALOG_FILE);
  vs_status st = vs_checked_file_read(path, VS_CATALOG_MAGIC, VS_CATALOG_VERSION, &version, &payload, &len);
  if (st != VS_OK) {
    say(k, true, "%s", vs_error_message());
    free(path);
    return;
  }
  json_t *root = json_loadb((const char *)payload, len, 0, &err);
  json_t *list = json_object_get(root, "collections");
  size_t i;
  json_t *e;
  if (!json_is_array(list)) say(k, true, "CATALOG: no collection list");
  json_array_foreach(list, i, e) {
    const char *name = json_string_value(json_object_get(e, "name"));
    json_int_t id = json_integer_value(json_object_get(e, "id"));
    if (!name || id < 1 || id > 99999999) {
      say(k, true, "CATALOG: entry %zu is malformed", i);
      continue;
    }
    check_collection(db, k, name, (uint32_t)id);
  }
  json_decref(root);
  free(payload);
  free(path);
}

vs_status vs_check(const char *dir, vs_report_fn report, void *ctx) {
  check_ctx k = {report, ctx, 0};
  vs_db db;
  memset(&db, 0, sizeof db);
  if (!dir) return vs_fail(VS_ERR_INVALID, "directory is NULL");
  vs_simd_init();
  vs_options_init(&db.opt);
  db.opt.read_only = 1;
  db.opt.verify_on_open = 1;
  db.dir = realpath(dir, NULL);
  if (!db.dir) return vs_fail(VS_ERR_NOT_FOUND, "database directory %s does not exist", dir);
  vs_status st = vs_dir_lock_acquire(db.dir, &db.lock);
  if (st != VS_OK) {
    free(db.dir);
    return vs_fail_prefix(st, "cannot check while the database is open (stop the server first)");
  }
  check_catalog(&db, &k);
  vs_dir_lock_release(db.lock);
  free(db.dir);
  if (k.problems) return vs_fail(VS_ERR_CORRUPT, "%zu problem%s found", k.problems, k.problems == 1 ? "" : "s");
  return VS_OK;
}
