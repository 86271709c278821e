/*
 * database.c -- a database directory: its lock, its CATALOG of collections,
 * and the collection- and partition-level DDL.
 *
 * Directory layout (docs/format.md has the byte layouts):
 *
 *   DIR/LOCK                     flock'd while open; holds the owner's pid
 *   DIR/CATALOG                  checked file "VSCATv01": JSON list of
 *                                collections {name, id} + next id
 *   DIR/c000001/MANIFEST         one directory per collection, by id, so a
 *   DIR/c000001/seg-*.vseg       rename touches only the CATALOG
 *   DIR/c000001/del-*.vdel
 *   DIR/c000001/wal/wal-*.log
 *
 * Create: the collection directory and its MANIFEST are written and synced
 * first, then the CATALOG is swapped; a crash in between leaves a directory
 * that no CATALOG names, which open deletes.  Drop: the CATALOG is swapped
 * first, then the directory removed.  Rename: only the CATALOG changes.
 *
 * Locking: `catalog_lock` guards the collection list, the CATALOG file and
 * the reference counts.  A collection in use holds a reference
 * (vs_db_find / vs_db_release); a dropped collection is freed by whoever
 * drops its last reference.  Per-collection locking is described in
 * collection.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "engine/engine_internal.h"
#include "simd/simd.h"

void vs_options_init(vs_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->fsync = VS_FSYNC_ALWAYS;
  opt->batch_interval_ms = 10;
  opt->default_shards = 0;
  opt->seal_rows = 262144;
  opt->seal_bytes = (uint64_t)256 << 20;
  opt->compact_deleted_ratio = 0.2;
  opt->auto_compact = 1;
  opt->verify_on_open = 1;
}

static uint32_t default_shards(const vs_options *opt) {
  if (opt->default_shards) return opt->default_shards;
  const char *env = getenv("MILVUS_COLLECTION_SHARDS");
  if (env && *env) {
    char *end = NULL;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 1 && v <= (long)VS_MAX_SHARDS) return (uint32_t)v;
    vs_log(VS_LOG_WARN, "db", "ignoring MILVUS_COLLECTION_SHARDS=%s (want 1..%u)", env,
           VS_MAX_SHARDS);
  }
  return 2;
}

static vs_status check_options(vs_options *opt) {
  if (opt->fsync > VS_FSYNC_NONE) return vs_fail(VS_ERR_INVALID, "unknown fsync policy %d", (int)opt->fsync);
  if (opt->seal_rows == 0) opt->seal_rows = 262144;
  if (opt->seal_bytes == 0) opt->seal_bytes = (uint64_t)256 << 20;
  if (opt->batch_interval_ms == 0) opt->batch_interval_ms = 10;
  if (!(opt->compact_deleted_ratio > 0 && opt->compact_deleted_ratio <= 1)) {
    return vs_fail(VS_ERR_INVALID, "compact_deleted_ratio must be in (0, 1]");
  }
  opt->default_shards = default_shards(opt);
  if (opt->default_shards > VS_MAX_SHARDS) {
    return vs_fail(VS_ERR_INVALID, "default_shards must be 1..%u", VS_MAX_SHARDS);
  }
  return VS_OK;
}

/* -------------------------------------------------------------- names */

static vs_status check_name(const char *what, const char *name) {
  if (!name || !*name) return vs_fail(VS_ERR_INVALID, "%s name is empty", what);
  size_t len = strlen(name);
  if (len > VS_MAX_NAME) {
    return vs_fail(VS_ERR_INVALID, "%s name is %zu characters, the limit is %u", what, len, VS_MAX_NAME);
  }
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) {
    return vs_fail(VS_ERR_INVALID, "%s name '%s' must start with a letter or '_'", what, name);
  }
  for (size_t i = 0; i < len; i++) {
    char ch = name[i];
    bool ok = ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9');
    if (!ok) {
      return vs_fail(VS_ERR_INVALID, "%s name '%s' has '%c' at position %zu; use letters, digits and '_'",
                     what, name, ch, i);
    }
  }
  return VS_OK;
}

/* ------------------------------------------------------------- CATALOG */

static vs_status check_new_directory(const vs_db *db);

static vs_status write_catalog(vs_db *db) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < db->collection_count; i++) {
    vs_collection *c = db->collections[i];
    json_array_append_new(list, json_pack("{s:s,s:i}", "name", c->name, "id", (int)c->id));
  }
  json_t *root = json_pack("{s:i,s:o}", "next_collection_id", (int)db->next_collection_id,
                           "collections", list);
  char *text = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
  char *path = vs_fs_join(db->dir, VS_CATALOG_FILE);
  vs_status st = (text && path) ? vs_checked_file_write(path, VS_CATALOG_MAGIC, VS_CATALOG_VERSION,
                                                        text, strlen(text))
                                : vs_fail(VS_ERR_NOMEM, "out of memory writing the CATALOG");
  json_decref(root);
  free(text);
  free(path);
  return st;
}

static vs_status add_collection(vs_db *db, vs_collection *c) {
  if (db->collection_count == db->collection_cap) {
    size_t cap = db->collection_cap ? db->collection_cap * 2 : 8;
    vs_collection **p = vs_reallocarray(db->collections, cap, sizeof *p);
    if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory");
    db->collections = p;
    db->collection_cap = cap;
  }
  db->collections[db->collection_count++] = c;
  return VS_OK;
}

static int find_index(const vs_db *db, const char *name) {
  for (size_t i = 0; i < db->collection_count; i++) {
    if (strcmp(db->collections[i]->name, name) == 0) return (int)i;
  }
  return -1;
}

static vs_status open_catalog_entry(vs_db *db, json_t *entry) {
  const char *name = json_string_value(json_object_get(entry, "name"));
  json_t *id = json_object_get(entry, "id");
  vs_collection *c = NULL;
  if (!name || check_name("collection", name) != VS_OK || !json_is_integer(id) ||
      json_integer_value(id) < 1 || json_integer_value(id) > 99999999 || find_index(db, name) >= 0) {
    return vs_fail(VS_ERR_CORRUPT, "CATALOG in %s: bad collection entry", db->dir);
  }
  vs_status st = vs_collection_open(db, name, (uint32_t)json_integer_value(id), &c);
  if (st != VS_OK) return vs_fail_prefix(st, "collection '%s'", name);
  st = add_collection(db, c);
  if (st != VS_OK) vs_collection_free(c);
  return st;
}

static vs_status load_catalog(vs_db *db) {
  uint8_t *payload = NULL;
  size_t len = 0;
  uint32_t version = 0;
  json_error_t err;
  json_t *root = NULL;
  char *path = vs_fs_join(db->dir, VS_CATALOG_FILE);
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  if (!vs_fs_exists(path)) {
    free(path);
    db->next_collection_id = 1;
    vs_status fresh = check_new_directory(db);
    if (fresh != VS_OK || db->opt.read_only) return fresh;
    return write_catalog(db);
  }
  vs_status st = vs_checked_file_read(path, VS_CATALOG_MAGIC, VS_CATALOG_VERSION, &version,
                                      &payload, &len);
  if (st != VS_OK) goto done;
  root = json_loadb((const char *)payload, len, 0, &err);
  json_t *next = json_object_get(root, "next_collection_id");
  json_t *list = json_object_get(root, "collections");
  if (!json_is_integer(next) || json_integer_value(next) < 1 || !json_is_array(list)) {
    st = vs_fail(VS_ERR_CORRUPT, "CATALOG in %s: not a catalog", db->dir);
    goto done;
  }
  db->next_collection_id = (uint32_t)json_integer_value(next);
  size_t i;
  json_t *entry;
  json_array_foreach(list, i, entry) {
    st = open_catalog_entry(db, entry);
    if (st != VS_OK) goto done;
  }
done:
  json_decref(root);
  free(payload);
  free(path);
  return st;
}

/* The id of a collection directory name "c000123", or 0. */
static uint32_t collection_dir_id(const char *name) {
  unsigned id = 0;
  char tail = 0;
  if (strlen(name) != 7 || sscanf(name, "c%6u%c", &id, &tail) != 1) return 0;
  return id;
}

static bool catalog_names(const vs_db *db, uint32_t id) {
  for (size_t i = 0; i < db->collection_count; i++) {
    if (db->collections[i]->id == id) return true;
  }
  return false;
}

/* Removes collection directories that no CATALOG entry names: a create that
 * crashed before its CATALOG swap (id == next id) or a drop that crashed
 * after it (id < next id).  A directory with a higher id was not made by
 * this CATALOG's history: it is left alone, with a warning. */
static void remove_orphan_collections(vs_db *db) {
  DIR *d = opendir(db->dir);
  struct dirent *e;
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    uint32_t id = collection_dir_id(e->d_name);
    if (id == 0 || catalog_names(db, id)) continue;
    if (id > db->next_collection_id) {
      vs_log(VS_LOG_WARN, "db", "%s/%s is not in the CATALOG; leaving it alone", db->dir, e->d_name);
      continue;
    }
    char *path = vs_fs_join(db->dir, e->d_name);
    if (path) vs_fs_remove_tree(path);
    free(path);
  }
  closedir(d);
}

/* A missing CATALOG is normal for a new directory, but not next to
 * collection directories: refuse rather than start empty and delete them. */
static vs_status check_new_directory(const vs_db *db) {
  DIR *d = opendir(db->dir);
  struct dirent *e;
  vs_status st = VS_OK;
  if (!d) return vs_fail(VS_ERR_IO, "cannot list %s", db->dir);
  while ((e = readdir(d)) != NULL && st == VS_OK) {
    if (collection_dir_id(e->d_name) != 0) {
      st = vs_fail(VS_ERR_CORRUPT, "%s has collection directory %s but no CATALOG file", db->dir,
                   e->d_name);
    }
  }
  closedir(d);
  return st;
}

/* ------------------------------------------------------------ open/close */

static void db_free(vs_db *db) {
  if (!db) return;
  vs_indexer_stop(db);
  for (size_t i = 0; i < db->collection_count; i++) vs_collection_free(db->collections[i]);
  free(db->collections);
  vs_pool_free(db->pool);
  vs_dir_lock_release(db->lock);
  pthread_mutex_destroy(&db->catalog_lock);
  free(db->dir);
  free(db);
}

vs_status vs_open(const char *dir, const vs_options *opt, vs_db **out) {
  vs_status st;
  vs_db *db = NULL;
  if (!out) return vs_fail(VS_ERR_INVALID, "out is NULL");
  *out = NULL;
  if (!dir || !*dir) return vs_fail(VS_ERR_INVALID, "database directory is empty");
  vs_simd_init();
  db = vs_calloc(1, sizeof *db);
  if (!db) return vs_fail(VS_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&db->catalog_lock, NULL);
  if (opt) {
    db->opt = *opt;
  } else {
    vs_options_init(&db->opt);
  }
  db->dir = realpath(dir, NULL);
  st = check_options(&db->opt);
  if (st != VS_OK) goto done;
  if (!db->dir) {
    st = db->opt.read_only ? vs_fail(VS_ERR_NOT_FOUND, "database directory %s does not exist", dir)
                           : vs_fs_mkdirs(dir);
    if (st != VS_OK) goto done;
    db->dir = realpath(dir, NULL);
    if (!db->dir) {
      st = vs_fail(VS_ERR_IO, "cannot resolve %s", dir);
      goto done;
    }
  }
  st = vs_dir_lock_acquire(db->dir, &db->lock);
  if (st == VS_OK) st = vs_pool_new(db->opt.threads, &db->pool);
  if (st == VS_OK) st = load_catalog(db);
  if (st == VS_OK && !db->opt.read_only) remove_orphan_collections(db);
  if (st == VS_OK && !db->opt.read_only) st = vs_indexer_start(db);
done:
  if (st != VS_OK) {
    db_free(db);
    return st;
  }
  *out = db;
  return VS_OK;
}

vs_status vs_close(vs_db *db) {
  vs_status st = VS_OK;
  if (!db) return VS_OK;
  vs_indexer_stop(db); /* a build in flight is cancelled; it restarts at open */
  for (size_t i = 0; i < db->collection_count; i++) {
    vs_status cst = vs_collection_close(db->collections[i], !db->opt.read_only);
    if (st == VS_OK && cst != VS_OK) st = cst;
  }
  db->collection_count = 0;
  db_free(db);
  return st;
}

/* -------------------------------------------------------------- lookups */

vs_status vs_db_find(vs_db *db, const char *name, vs_collection **out) {
  *out = NULL;
  if (!db) return vs_fail(VS_ERR_INVALID, "database handle is NULL");
  if (!name) return vs_fail(VS_ERR_INVALID, "collection name is NULL");
  pthread_mutex_lock(&db->catalog_lock);
  int i = find_index(db, name);
  if (i >= 0) {
    *out = db->collections[i];
    (*out)->refs++;
  }
  pthread_mutex_unlock(&db->catalog_lock);
  if (i < 0) return vs_fail(VS_ERR_NOT_FOUND, "collection '%s' not found", name);
  return VS_OK;
}

void vs_db_release(vs_db *db, vs_collection *c) {
  if (!c) return;
  pthread_mutex_lock(&db->catalog_lock);
  bool free_it = --c->refs == 0 && c->dropped;
  pthread_mutex_unlock(&db->catalog_lock);
  if (free_it) vs_collection_free(c);
}

/* ------------------------------------------------------- collection DDL */

vs_status vs_create_collection(vs_db *db, const char *name, const vs_schema *schema,
                               const vs_collection_options *opt) {
  vs_collection *c = NULL;
  if (!db || !schema) return vs_fail(VS_ERR_INVALID, "database or schema is NULL");
  if (db->opt.read_only) return vs_fail(VS_ERR_UNSUPPORTED, "the database is open read-only");
  vs_status st = check_name("collection", name);
  if (st == VS_OK) st = vs_schema_validate(schema);
  uint32_t shards = opt && opt->shards ? opt->shards : db->opt.default_shards;
  if (st == VS_OK && shards > VS_MAX_SHARDS) {
    st = vs_fail(VS_ERR_INVALID, "shards must be 1..%u, got %u", VS_MAX_SHARDS, shards);
  }
  if (st != VS_OK) return st;
  pthread_mutex_lock(&db->catalog_lock);
  if (find_index(db, name) >= 0) {
    st = vs_fail(VS_ERR_EXISTS, "collection '%s' already exists", name);
    goto done;
  }
  st = vs_collection_create_files(db, name, db->next_collection_id, schema, shards, &c);
  if (st != VS_OK) goto done;
  db->next_collection_id++;
  st = add_collection(db, c);
  if (st == VS_OK) st = write_catalog(db);
  if (st != VS_OK) {
    if (db->collection_count && db->collections[db->collection_count - 1] == c) db->collection_count--;
    vs_fs_remove_tree(c->dir);
    vs_collection_free(c);
  }
done:
  pthread_mutex_unlock(&db->catalog_lock);
  return st;
}

vs_status vs_drop_collection(vs_db *db, const char *name) {
  if (!db || !name) return vs_fail(VS_ERR_INVALID, "database or name is NULL");
  if (db->opt.read_only) return vs_fail(VS_ERR_UNSUPPORTED, "the database is open read-only");
  pthread_mutex_lock(&db->catalog_lock);
  int i = find_index(db, name);
  vs_status st = VS_OK;
  vs_collection *c = NULL;
  if (i < 0) {
    st = vs_fail(VS_ERR_NOT_FOUND, "collection '%s' not found", name);
    goto done;
  }
  c = db->collections[i];
  memmove(&db->collections[i], &db->collections[i + 1],
          (db->collection_count - (size_t)i - 1) * sizeof *db->collections);
  db->collection_count--;
  st = write_catalog(db);
  if (st != VS_OK) {
    memmove(&db->collections[i + 1], &db->collections[i],
            (db->collection_count - (size_t)i) * sizeof *db->collections);
    db->collections[i] = c;
    db->collection_count++;
    goto done;
  }
  pthread_rwlock_wrlock(&c->lock);
  c->dropped = true; /* writers holding a reference now fail */
  pthread_rwlock_unlock(&c->lock);
  vs_fs_remove_tree(c->dir);
  if (c->refs == 0) {
    vs_collection_free(c);
  }
done:
  pthread_mutex_unlock(&db->catalog_lock);
  return st;
}

vs_status vs_rename_collection(vs_db *db, const char *old_name, const char *new_name) {
  if (!db || !old_name) return vs_fail(VS_ERR_INVALID, "database or name is NULL");
  if (db->opt.read_only) return vs_fail(VS_ERR_UNSUPPORTED, "the database is open read-only");
  vs_status st = check_name("collection", new_name);
  if (st != VS_OK) return st;
  pthread_mutex_lock(&db->catalog_lock);
  int i = find_index(db, old_name);
  char *copy = vs_strdup(new_name);
  if (i < 0) {
    st = vs_fail(VS_ERR_NOT_FOUND, "collection '%s' not found", old_name);
  } else if (find_index(db, new_name) >= 0) {
    st = vs_fail(VS_ERR_EXISTS, "collection '%s' already exists", new_name);
  } else if (!copy) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  if (st != VS_OK) goto done;
  vs_collection *c = db->collections[i];
  pthread_rwlock_wrlock(&c->lock);
  char *previous = c->name;
  c->name = copy;
  copy = NULL;
  st = write_catalog(db);
  if (st == VS_OK) st = vs_collection_write_manifest(c);
  if (st != VS_OK) {
    copy = c->name;
    c->name = previous;
    write_catalog(db);
  } else {
    free(previous);
  }
  pthread_rwlock_unlock(&c->lock);
done:
  free(copy);
  pthread_mutex_unlock(&db->catalog_lock);
  return st;
}

vs_status vs_has_collection(vs_db *db, const char *name, int *out) {
  if (!db || !name || !out) return vs_fail(VS_ERR_INVALID, "NULL argument");
  pthread_mutex_lock(&db->catalog_lock);
  *out = find_index(db, name) >= 0;
  pthread_mutex_unlock(&db->catalog_lock);
  return VS_OK;
}

vs_status vs_list_collections(vs_db *db, char ***names, size_t *count) {
  if (!db || !names || !count) return vs_fail(VS_ERR_INVALID, "NULL argument");
  pthread_mutex_lock(&db->catalog_lock);
  size_t n = db->collection_count;
  char **list = vs_calloc(n + 1, sizeof *list);
  vs_status st = list ? VS_OK : vs_fail(VS_ERR_NOMEM, "out of memory");
  for (size_t i = 0; st == VS_OK && i < n; i++) {
    list[i] = vs_strdup(db->collections[i]->name);
    if (!list[i]) st = vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  pthread_mutex_unlock(&db->catalog_lock);
  if (st != VS_OK) {
    vs_free_strings(list, n);
    return st;
  }
  *names = list;
  *count = n;
  return VS_OK;
}

vs_status vs_get_schema(vs_db *db, const char *name, vs_schema **out) {
  vs_collection *c = NULL;
  if (!out) return vs_fail(VS_ERR_INVALID, "out is NULL");
  *out = NULL;
  vs_status st = vs_db_find(db, name, &c);
  if (st == VS_OK) st = vs_schema_clone(vs_collection_schema(c), out);
  vs_db_release(db, c);
  return st;
}
