/*
 * catalog.c -- the server's databases, aliases, load states and the other
 * metadata Milvus keeps that the engine does not know about.
 *
 * One vs_db per Milvus database.  "default" is the data directory itself,
 * so the command-line tools (which open a directory) see the same
 * collections as the server; every other database is a directory of its
 * own:
 *
 *   DATA/                       the "default" database (engine files)
 *   DATA/server.json            its server metadata
 *   DATA/databases/NAME/        database NAME (engine files)
 *   DATA/databases/NAME/server.json
 *
 * server.json holds what Milvus has and the engine lacks: aliases, the load
 * state of every collection (and of its partitions), collection properties,
 * consistency level and description, index names (Milvus names indexes; the
 * engine has one index per field, named by the field), database properties
 * and id.  Its shape is spelt out in server.h ("catalog additions").  It is
 * written whole, atomically (tmp file, fsync, rename, fsync directory), after
 * each change; it is small (a few hundred bytes per collection) and changes
 * only on DDL, so rewriting it is cheaper than any log would be to read.
 * A file with a "format" newer than ours, or that is not a JSON object,
 * stops the server at start-up (VS_ERR_CORRUPT naming the file) rather than
 * being overwritten.
 *
 * Database create/drop commit points: a database exists when its
 * server.json exists.  Create opens the engine directory first and writes
 * server.json last; drop deletes server.json first (and syncs the parent)
 * and the rest of the directory after.  A directory under DATA/databases/
 * without server.json is the remains of a crash in either: it is skipped at
 * start-up (with a warning) and removed when a database of that name is
 * created.
 *
 * Locking: one rwlock guards the list of databases and every metadata
 * object.  Readers (srv_resolve, srv_catalog_meta) copy what they need
 * under the read lock; writers (srv_catalog_edit and database DDL) edit a
 * copy, write the file, and swap it in under the write lock, so a failed
 * write leaves memory and disk as they were.  Engine calls are made outside
 * the lock (the engine has its own), except vs_open/vs_close in database
 * DDL.
 *
 * Handles outlive their database: handlers get a bare vs_db pointer from
 * srv_resolve/srv_database with no release call, so a dropped database's
 * handle cannot be closed at once -- a request on another thread may still
 * be using it.  It goes to a graveyard and is closed at the next database
 * DDL once older than twice the request timeout (plus a minute), or at
 * shutdown.  Rejected: reference counts (the handler interface has no
 * release point, and adding one to every handler of three helpers for a
 * rare operation is not worth it); closing at once (use after free).
 *
 * Load state is bookkeeping only: the engine always serves every
 * collection.  A collection with no metadata (made by the CLI) counts as
 * loaded.  Partition load state is "loaded" plus a list of partitions
 * released while the collection stays loaded.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "storage/storage.h"
#include "util/util.h"

#define META_FILE "server.json"
#define META_FORMAT 1
#define DATABASES_DIR "databases"
#define DEFAULT_DB "default"
#define MAX_DATABASES 64

typedef struct cat_db {
  char name[VS_MAX_NAME + 1];
  char *dir;        /* the engine directory */
  vs_db *db;
  json_t *meta;     /* server.json content */
  double dropped_at;
} cat_db;

struct srv_catalog {
  srv_server *srv;
  pthread_rwlock_t lock;
  vs_options options;
  char *root;                 /* config.data_dir */
  cat_db *dbs[MAX_DATABASES];
  size_t count;
  cat_db **graveyard;
  size_t grave_count;
};

/* ------------------------------------------------------------ metadata */

static json_t *meta_new(int64_t db_id) {
  return json_pack("{s:i,s:I,s:{},s:{},s:{}}", "format", META_FORMAT, "dbID", (json_int_t)db_id,
                   "properties", "aliases", "collections");
}

/* Makes sure the three maps exist and have the right type. */
static vs_status meta_check(json_t *meta, const char *path) {
  static const char *const maps[] = {"properties", "aliases", "collections"};
  json_t *format = json_object_get(meta, "format");
  if (!json_is_object(meta) || !json_is_integer(format)) {
    return vs_fail(VS_ERR_CORRUPT, "%s: not a server metadata file", path);
  }
  if (json_integer_value(format) > META_FORMAT || json_integer_value(format) < 1) {
    return vs_fail(VS_ERR_CORRUPT, "%s: format %lld is not supported (this server reads %d)", path,
                   (long long)json_integer_value(format), META_FORMAT);
  }
  for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
    json_t *m = json_object_get(meta, maps[i]);
    if (!m) {
      json_object_set_new(meta, maps[i], json_object());
    } else if (!json_is_object(m)) {
      return vs_fail(VS_ERR_CORRUPT, "%s: \"%s\" is not an object", path, maps[i]);
    }
  }
  if (!json_is_integer(json_object_get(meta, "dbID"))) json_object_set_new(meta, "dbID", json_integer(1));
  return VS_OK;
}

static vs_status meta_read(const char *dir, int64_t fresh_id, json_t **out) {
  char *path = vs_fs_join(dir, META_FILE);
  uint8_t *data = NULL;
  size_t len = 0;
  json_error_t err;
  vs_status st = VS_OK;
  *out = NULL;
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  if (!vs_fs_exists(path)) {
    *out = meta_new(fresh_id);
    goto done;
  }
  st = vs_fs_read_all(path, &data, &len);
  if (st != VS_OK) goto done;
  *out = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
  if (!*out) {
    st = vs_fail(VS_ERR_CORRUPT, "%s: line %d: %s", path, err.line, err.text);
    goto done;
  }
  st = meta_check(*out, path);
done:
  if (st != VS_OK) {
    json_decref(*out);
    *out = NULL;
  } else if (!*out) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  free(data);
  free(path);
  return st;
}

static vs_status meta_write(const char *dir, const json_t *meta) {
  char *path = vs_fs_join(dir, META_FILE);
  char *text = json_dumps(meta, JSON_INDENT(1) | JSON_SORT_KEYS);
  vs_status st = (path && text) ? vs_fs_write_atomic(path, text, strlen(text))
                                : vs_fail(VS_ERR_NOMEM, "out of memory writing %s", META_FILE);
  free(text);
  free(path);
  return st;
}

json_t *srv_meta_collection(json_t *meta, const char *name, bool create) {
  json_t *colls = json_object_get(meta, "collections");
  json_t *c = json_object_get(colls, name);
  if (c || !create || !json_is_object(colls)) return json_is_object(c) ? c : NULL;
  c = json_object();
  if (json_object_set_new(colls, name, c) != 0) return NULL;
  return c;
}

bool srv_meta_is_loaded(json_t *meta, const char *collection) {
  json_t *c = srv_meta_collection(meta, collection, false);
  json_t *loaded = json_object_get(c, "loaded");
  return loaded ? json_is_true(loaded) : true;
}

bool srv_meta_partition_loaded(json_t *meta, const char *collection, const char *partition) {
  if (!srv_meta_is_loaded(meta, collection)) return false;
  json_t *c = srv_meta_collection(meta, collection, false);
  json_t *unloaded = json_object_get(c, "unloadedPartitions");
  size_t i;
  json_t *v;
  json_array_foreach(unloaded, i, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), partition) == 0) return false;
  }
  return true;
}

/* ------------------------------------------------------------ databases */

static cat_db *find_db(const srv_catalog *cat, const char *name) {
  for (size_t i = 0; i < cat->count; i++) {
    if (strcmp(cat->dbs[i]->name, name) == 0) return cat->dbs[i];
  }
  return NULL;
}

static void db_free(cat_db *d) {
  if (!d) return;
  if (d->db) {
    vs_status st = vs_close(d->db);
    if (st != VS_OK) vs_log(VS_LOG_ERROR, "catalog", "closing database %s: %s", d->name, vs_errmsg(NULL));
  }
  json_decref(d->meta);
  free(d->dir);
  free(d);
}

static int64_t new_db_id(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Drops metadata of collections the engine no longer has (dropped with the
 * CLI while the server was down) and aliases pointing at them. */
static void meta_prune(cat_db *d) {
  json_t *colls = json_object_get(d->meta, "collections");
  json_t *aliases = json_object_get(d->meta, "aliases");
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(colls, tmp, key, v) {
    int has = 0;
    if (vs_has_collection(d->db, key, &has) == VS_OK && !has) json_object_del(colls, key);
  }
  json_object_foreach_safe(aliases, tmp, key, v) {
    int has = 0;
    const char *target = json_string_value(v);
    if (!target || (vs_has_collection(d->db, target, &has) == VS_OK && !has)) {
      json_object_del(aliases, key);
    }
  }
}

/* Opens the engine directory `dir` as database `name`. */
static vs_status db_open(srv_catalog *cat, const char *name, const char *dir, int64_t fresh_id,
                         cat_db **out) {
  cat_db *d = vs_calloc(1, sizeof *d);
  vs_status st;
  *out = NULL;
  if (!d) return vs_fail(VS_ERR_NOMEM, "out of memory");
  snprintf(d->name, sizeof d->name, "%s", name);
  d->dir = vs_strdup(dir);
  st = d->dir ? vs_open(dir, &cat->options, &d->db) : vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st != VS_OK) st = vs_fail_prefix(st, "database '%s' (%s)", name, dir);
  if (st == VS_OK) st = meta_read(dir, fresh_id, &d->meta);
  if (st == VS_OK) meta_prune(d);
  if (st != VS_OK) {
    db_free(d);
    return st;
  }
  *out = d;
  return VS_OK;
}

static char *db_dir(const srv_catalog *cat, const char *name) {
  char *parent = vs_fs_join(cat->root, DATABASES_DIR);
  char *dir = parent ? vs_fs_join(parent, name) : NULL;
  free(parent);
  return dir;
}

static bool valid_name(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > VS_MAX_NAME) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  for (size_t i = 0; i < len; i++) {
    char ch = name[i];
    if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) {
      return false;
    }
  }
  return true;
}

/* Opens every DATA/databases/NAME that has a server.json. */
static vs_status open_named_databases(srv_catalog *cat) {
  char *parent = vs_fs_join(cat->root, DATABASES_DIR);
  DIR *dir = parent ? opendir(parent) : NULL;
  struct dirent *e;
  vs_status st = VS_OK;
  if (!dir) {
    free(parent);
    return VS_OK;
  }
  while (st == VS_OK && (e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.' || !valid_name(e->d_name) || strcmp(e->d_name, DEFAULT_DB) == 0) continue;
    char *path = vs_fs_join(parent, e->d_name);
    char *meta = path ? vs_fs_join(path, META_FILE) : NULL;
    cat_db *d = NULL;
    if (!meta) {
      st = vs_fail(VS_ERR_NOMEM, "out of memory");
    } else if (!vs_fs_exists(meta)) {
      vs_log(VS_LOG_WARN, "catalog", "%s has no %s (an interrupted create or drop); skipped", path,
             META_FILE);
    } else if (cat->count == MAX_DATABASES) {
      st = vs_fail(VS_ERR_LIMIT, "more than %d databases under %s", MAX_DATABASES, parent);
    } else {
      st = db_open(cat, e->d_name, path, new_db_id(), &d);
      if (st == VS_OK) cat->dbs[cat->count++] = d;
    }
    free(meta);
    free(path);
  }
  closedir(dir);
  free(parent);
  return st;
}

static vs_status catalog_options(srv_catalog *cat) {
  vs_options_init(&cat->options);
  const char *policy = cat->srv->config.fsync;
  if (policy[0] == '\0') return VS_OK;
  return vs_fsync_policy_from_name(policy, &cat->options.fsync);
}

vs_status srv_catalog_open(srv_server *srv, srv_catalog **out) {
  srv_catalog *cat = vs_calloc(1, sizeof *cat);
  cat_db *d = NULL;
  vs_status st;
  *out = NULL;
  if (!cat) return vs_fail(VS_ERR_NOMEM, "out of memory");
  cat->srv = srv;
  pthread_rwlock_init(&cat->lock, NULL);
  cat->root = vs_strdup(srv->config.data_dir[0] ? srv->config.data_dir : "./data");
  st = cat->root ? catalog_options(cat) : vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st == VS_OK) st = db_open(cat, DEFAULT_DB, cat->root, 1, &d);
  if (st == VS_OK) {
    cat->dbs[cat->count++] = d;
    st = open_named_databases(cat);
  }
  if (st != VS_OK) {
    srv_catalog_close(cat);
    return st;
  }
  *out = cat;
  return VS_OK;
}

void srv_catalog_close(srv_catalog *cat) {
  if (!cat) return;
  for (size_t i = 0; i < cat->count; i++) db_free(cat->dbs[i]);
  for (size_t i = 0; i < cat->grave_count; i++) db_free(cat->graveyard[i]);
  free(cat->graveyard);
  free(cat->root);
  pthread_rwlock_destroy(&cat->lock);
  free(cat);
}

bool srv_catalog_ready(srv_catalog *cat) {
  if (!cat) return false;
  bool ok = true;
  pthread_rwlock_rdlock(&cat->lock);
  for (size_t i = 0; ok && i < cat->count; i++) {
    ok = cat->dbs[i]->db != NULL && access(cat->dbs[i]->dir, W_OK) == 0;
  }
  pthread_rwlock_unlock(&cat->lock);
  return ok;
}

vs_db *srv_catalog_db(srv_catalog *cat, const char *name) {
  pthread_rwlock_rdlock(&cat->lock);
  cat_db *d = name ? find_db(cat, name) : NULL;
  vs_db *db = d ? d->db : NULL;
  pthread_rwlock_unlock(&cat->lock);
  return db;
}

json_t *srv_catalog_meta(srv_catalog *cat, const char *name) {
  pthread_rwlock_rdlock(&cat->lock);
  cat_db *d = name ? find_db(cat, name) : NULL;
  json_t *copy = d ? json_deep_copy(d->meta) : NULL;
  pthread_rwlock_unlock(&cat->lock);
  return copy;
}

vs_status srv_catalog_edit(srv_catalog *cat, const char *name, srv_meta_edit_fn fn, void *ctx) {
  vs_status st;
  pthread_rwlock_wrlock(&cat->lock);
  cat_db *d = name ? find_db(cat, name) : NULL;
  json_t *copy = d ? json_deep_copy(d->meta) : NULL;
  if (!d) {
    st = vs_fail(VS_ERR_NOT_FOUND, "database not found[database=%s]", name ? name : "");
  } else if (!copy) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory");
  } else {
    st = fn(copy, ctx);
    if (st == VS_OK) st = meta_write(d->dir, copy);
    if (st == VS_OK) {
      json_decref(d->meta);
      d->meta = copy;
      copy = NULL;
    }
  }
  pthread_rwlock_unlock(&cat->lock);
  json_decref(copy);
  return st;
}

/* Closes graveyard handles that no request can still be using. */
static void reap_graveyard(srv_catalog *cat, double now) {
  double keep = 2.0 * cat->srv->config.request_timeout_s + 60.0;
  size_t kept = 0;
  for (size_t i = 0; i < cat->grave_count; i++) {
    cat_db *d = cat->graveyard[i];
    if (now - d->dropped_at > keep) {
      db_free(d);
    } else {
      cat->graveyard[kept++] = d;
    }
  }
  cat->grave_count = kept;
}

static vs_status property_map(json_t *properties, json_t **out) {
  *out = json_object();
  if (!*out) return vs_fail(VS_ERR_NOMEM, "out of memory");
  if (!properties || json_is_null(properties)) return VS_OK;
  if (!json_is_object(properties)) return vs_fail(VS_ERR_INVALID, "properties must be an object");
  return srv_props_edit(*out, properties, NULL, 0);
}

static vs_status create_database_locked(srv_catalog *cat, const char *name, json_t *props) {
  cat_db *d = NULL;
  char *dir = NULL;
  vs_status st;
  if (find_db(cat, name)) return vs_fail(VS_ERR_EXISTS, "database already exist: %s", name);
  if (cat->count == MAX_DATABASES) {
    return vs_fail(VS_ERR_LIMIT, "database number (%d) exceeds max configuration (%d)", (int)cat->count,
                   MAX_DATABASES);
  }
  dir = db_dir(cat, name);
  if (!dir) return vs_fail(VS_ERR_NOMEM, "out of memory");
  if (vs_fs_exists(dir)) vs_fs_remove_tree(dir); /* remains of a crash: no server.json */
  st = db_open(cat, name, dir, new_db_id(), &d);
  if (st == VS_OK) json_object_set(d->meta, "properties", props);
  if (st == VS_OK) st = meta_write(dir, d->meta);
  if (st == VS_OK) {
    cat->dbs[cat->count++] = d;
  } else {
    db_free(d);
    vs_fs_remove_tree(dir);
  }
  free(dir);
  return st;
}

vs_status srv_catalog_create_database(srv_catalog *cat, const char *name, json_t *properties) {
  json_t *props = NULL;
  vs_status st = property_map(properties, &props);
  if (st == VS_OK && !valid_name(name)) {
    st = vs_fail(VS_ERR_INVALID, "invalid database name %s: use letters, digits and '_', not starting with a digit",
                 name);
  }
  if (st == VS_OK) {
    pthread_rwlock_wrlock(&cat->lock);
    reap_graveyard(cat, vs_now_s());
    st = create_database_locked(cat, name, props);
    pthread_rwlock_unlock(&cat->lock);
  }
  json_decref(props);
  return st;
}

static vs_status drop_database_locked(srv_catalog *cat, const char *name) {
  size_t i = 0;
  while (i < cat->count && strcmp(cat->dbs[i]->name, name) != 0) i++;
  if (i == cat->count) return vs_fail(VS_ERR_NOT_FOUND, "database not found[database=%s]", name);
  cat_db *d = cat->dbs[i];
  char **names = NULL;
  size_t n = 0;
  vs_status st = vs_list_collections(d->db, &names, &n);
  vs_free_strings(names, n);
  if (st != VS_OK) return st;
  if (n > 0) {
    return vs_fail(VS_ERR_INVALID, "database:%s not empty, must drop all collections before drop database",
                   name);
  }
  cat_db **grave = vs_reallocarray(cat->graveyard, cat->grave_count + 1, sizeof *grave);
  char *meta = vs_fs_join(d->dir, META_FILE);
  if (grave) cat->graveyard = grave;
  if (!grave || !meta) {
    free(meta);
    return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  if (unlink(meta) != 0 && errno != ENOENT) {
    st = vs_fail(VS_ERR_IO, "cannot remove %s: %s", meta, strerror(errno));
    free(meta);
    return st;
  }
  free(meta);
  vs_fs_sync_dir(d->dir);
  memmove(&cat->dbs[i], &cat->dbs[i + 1], (cat->count - i - 1) * sizeof *cat->dbs);
  cat->count--;
  d->dropped_at = vs_now_s();
  cat->graveyard[cat->grave_count++] = d;
  /* The engine files go now; the open handle keeps only its lock file and
   * idle threads until the graveyard closes it. */
  vs_fs_remove_tree(d->dir);
  return VS_OK;
}

vs_status srv_catalog_drop_database(srv_catalog *cat, const char *name) {
  if (strcmp(name, DEFAULT_DB) == 0) return vs_fail(VS_ERR_INVALID, "can not drop default database");
  pthread_rwlock_wrlock(&cat->lock);
  reap_graveyard(cat, vs_now_s());
  vs_status st = drop_database_locked(cat, name);
  pthread_rwlock_unlock(&cat->lock);
  return st;
}

json_t *srv_catalog_list_databases(srv_catalog *cat) {
  json_t *list = json_array();
  pthread_rwlock_rdlock(&cat->lock);
  for (size_t i = 0; list && i < cat->count; i++) {
    json_array_append_new(list, json_string(cat->dbs[i]->name));
  }
  pthread_rwlock_unlock(&cat->lock);
  return list;
}

/* ------------------------------------------------------- request helpers */

srv_catalog *srv_req_catalog(const srv_request *req) { return req->server->catalog; }

static const char *req_db_name(const srv_request *req) {
  return (req->db_name && req->db_name[0]) ? req->db_name : DEFAULT_DB;
}

vs_db *srv_database(srv_request *req) {
  vs_db *db = srv_catalog_db(srv_req_catalog(req), req_db_name(req));
  if (!db) {
    srv_reply_error(req, SRV_CODE_DATABASE_NOT_FOUND, "database not found[database=%s]", req_db_name(req));
  }
  return db;
}

bool srv_check_name(srv_request *req, const char *what, const char *name) {
  if (valid_name(name)) return true;
  srv_reply_error(req, SRV_CODE_INVALID,
                  "invalid parameter[expected=valid %s name][actual=%s]: the first character must be a "
                  "letter or '_', the others letters, digits or '_', at most %u characters",
                  what, name, VS_MAX_NAME);
  return false;
}

char *srv_property_string(const json_t *value) {
  if (json_is_string(value)) return vs_strdup(json_string_value(value));
  if (json_is_true(value)) return vs_strdup("true");
  if (json_is_false(value)) return vs_strdup("false");
  if (json_is_null(value)) return vs_strdup("");
  return json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
}

vs_status srv_props_edit(json_t *props, const json_t *set, const char *const *drop,
                         size_t drop_count) {
  if (!props) return vs_fail(VS_ERR_NOMEM, "out of memory");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)set, key, v) {
    char *text = srv_property_string(v);
    if (!text) return vs_fail(VS_ERR_NOMEM, "out of memory");
    json_object_set_new(props, key, json_string(text));
    free(text);
  }
  for (size_t i = 0; i < drop_count; i++) json_object_del(props, drop[i]);
  return VS_OK;
}

json_t *srv_obj_child(json_t *parent, const char *key) {
  json_t *child = json_object_get(parent, key);
  if (json_is_object(child) || !parent) return child;
  child = json_object();
  if (child && json_object_set_new(parent, key, child) != 0) return NULL;
  return child;
}

/* Looks `name` up as a collection, then as an alias; fills t->name. */
static bool resolve_name(vs_db *db, json_t *meta, const char *name, srv_target *t) {
  int has = 0;
  if (vs_has_collection(db, name, &has) == VS_OK && has) {
    snprintf(t->name, sizeof t->name, "%s", name);
    return true;
  }
  const char *target = json_string_value(json_object_get(json_object_get(meta, "aliases"), name));
  if (!target) return false;
  if (vs_has_collection(db, target, &has) != VS_OK || !has) return false;
  snprintf(t->name, sizeof t->name, "%s", target);
  return true;
}

bool srv_resolve(srv_request *req, const char *key, bool need_loaded, srv_target *out) {
  const char *name = NULL;
  if (!srv_require_string(req, key, &name)) return false;
  srv_catalog *cat = srv_req_catalog(req);
  const char *dbname = req_db_name(req);
  json_t *meta = srv_catalog_meta(cat, dbname);
  vs_db *db = srv_catalog_db(cat, dbname);
  bool ok = false;
  if (!meta || !db) {
    srv_reply_error(req, SRV_CODE_DATABASE_NOT_FOUND, "database not found[database=%s]", dbname);
  } else if (!resolve_name(db, meta, name, out)) {
    srv_reply_error(req, SRV_CODE_COLLECTION_NOT_FOUND, "collection not found[database=%s][collection=%s]",
                    dbname, name);
  } else if (need_loaded && !srv_meta_is_loaded(meta, out->name)) {
    srv_reply_error(req, SRV_CODE_COLLECTION_NOT_LOADED, "collection not loaded[collection=%s]", out->name);
  } else {
    out->db = db;
    req->collection = name;
    ok = true;
  }
  json_decref(meta);
  return ok;
}

vs_status srv_meta_set_loaded(json_t *meta, void *ctx) {
  const srv_load_edit *e = ctx;
  json_t *c = srv_meta_collection(meta, e->collection, true);
  if (!c) return vs_fail(VS_ERR_NOMEM, "out of memory");
  json_object_set_new(c, "loaded", json_boolean(e->loaded));
  json_object_del(c, "unloadedPartitions");
  return VS_OK;
}

void srv_catalog_set_loaded(srv_request *req, const char *collection, bool loaded) {
  srv_load_edit e = {collection, loaded};
  vs_status st = srv_catalog_edit(srv_req_catalog(req), req_db_name(req), srv_meta_set_loaded, &e);
  if (st != VS_OK) {
    vs_log(VS_LOG_ERROR, "catalog", "recording the load state of %s: %s", collection, vs_errmsg(NULL));
  }
}

const char *srv_req_db(const srv_request *req) { return req_db_name(req); }

bool srv_edit(srv_request *req, srv_meta_edit_fn fn, void *ctx) {
  vs_status st = srv_catalog_edit(srv_req_catalog(req), req_db_name(req), fn, ctx);
  if (st == VS_OK) return true;
  if (st == VS_ERR_NOT_FOUND && !srv_catalog_db(srv_req_catalog(req), req_db_name(req))) {
    srv_reply_error(req, SRV_CODE_DATABASE_NOT_FOUND, "database not found[database=%s]", req_db_name(req));
  } else {
    srv_reply_status(req, st);
  }
  return false;
}

bool srv_json_int(const json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return true;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    /* in range before the cast: out-of-range conversion is undefined */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (double)(int64_t)d) {
      return false;
    }
    *out = (int64_t)d;
    return true;
  }
  if (!json_is_string(v)) return false;
  const char *s = json_string_value(v);
  char *end = NULL;
  errno = 0;
  long long n = strtoll(s, &end, 10);
  if (end == s || *end != '\0' || errno != 0) return false;
  *out = n;
  return true;
}

bool srv_json_bool(const json_t *v, bool *out) {
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return true;
  }
  const char *s = json_string_value(v);
  if (s && strcasecmp(s, "true") == 0) {
    *out = true;
    return true;
  }
  if (s && strcasecmp(s, "false") == 0) {
    *out = false;
    return true;
  }
  return false;
}
