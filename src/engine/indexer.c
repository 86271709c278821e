/*
 * indexer.c -- vector indexes of sealed segments: their files, and the
 * background thread that builds them.
 *
 * Each sealed segment may hold, per indexed vector field, an index built by
 * src/index/ over the segment's mapped vector column and stored in its own
 * file idx-<segment>-<field id>-<generation>.vidx (a segment file with one
 * section: the index blob, which carries its own frame and checksum).  The
 * MANIFEST names the active file of each segment and field.
 *
 * The builder is one thread per database.  It does not keep a queue: it
 * scans for work -- a sealed segment whose field has a definition but no
 * index of the definition's generation -- builds it with no lock held (the
 * segment is pinned by a reference), writes its file, then takes the
 * collection's maintenance mutex and write lock to attach it and write the
 * MANIFEST.  Scanning instead of queueing makes restart trivial: after a
 * crash mid-build the same scan finds the same work, and the half-written
 * file, never named by a MANIFEST, is removed as an orphan at open.
 *
 * Generations make rebuilds online.  A rebuild bumps the definition's
 * generation; new indexes of segments that already have an older one are
 * kept *pending* and searches go on with the old ones; when every sealed
 * segment has its pending index, all are swapped in under one write lock
 * and one MANIFEST.  A segment with no index gets its first index at once.
 * A build that fails records the reason on the definition and is not
 * retried until the next rebuild.
 *
 * Scalar indexes (scalar_index.c) go through the same scan: a sealed
 * segment with no built index of a scalar definition is work.  They are
 * built in memory (no file, no MANIFEST change) and attached under the
 * write lock to the definition's list; at open the first scan rebuilds
 * them all, and filters are evaluated row by row until each is attached.
 * A scalar rebuild is not online: the new definition starts empty.
 *
 * Locking: the builder's own mutex guards its state (stop flag, the build
 * in progress); it takes, in order, the catalog lock (to pin a collection),
 * then a collection's maintenance mutex and write lock, like every writer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/engine_internal.h"

#define INDEX_SECTION 1u

struct vs_indexer {
  vs_db *db;
  pthread_t thread;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t wake;       /* work may exist, or stop */
  pthread_cond_t done;       /* a build finished (for waiters) */
  uint64_t done_count;       /* broadcasts of `done` so far */
  bool stop;
  bool kicked;
  vs_index_progress progress;  /* of the build in flight */
  vs_collection *building_collection;
  int building_field;
};

/* ------------------------------------------------------ segment indexes */

const vs_index *vs_segment_active_index(const vs_segment *seg, int field) {
  if (!seg->sealed || !seg->indexes || field < 0 || (size_t)field >= seg->field_count) return NULL;
  return seg->indexes[field].active;
}

bool vs_segment_index_uses_file(const vs_segment *seg, const char *name) {
  for (size_t f = 0; seg->indexes && f < seg->field_count; f++) {
    const vs_segment_index *si = &seg->indexes[f];
    if (si->active_file && strcmp(si->active_file, name) == 0) return true;
  }
  return false;
}

static void unlink_in(const vs_collection *c, const char *name) {
  char *path = name ? vs_fs_join(c->dir, name) : NULL;
  if (path) unlink(path);
  free(path);
}

void vs_segment_index_remove_files(const vs_collection *c, const vs_segment *seg) {
  for (size_t f = 0; seg->indexes && f < seg->field_count; f++) {
    unlink_in(c, seg->indexes[f].active_file);
    unlink_in(c, seg->indexes[f].pending_file);
  }
}

void *vs_segment_indexes_to_json(const vs_collection *c, const vs_segment *seg) {
  json_t *list = json_array();
  for (size_t f = 0; list && seg->indexes && f < seg->field_count; f++) {
    const vs_segment_index *si = &seg->indexes[f];
    if (!si->active) continue;
    json_array_append_new(list, json_pack("{s:s,s:i,s:s}", "field", c->schema->fields[f].name,
                                          "generation", (int)si->active_generation, "file",
                                          si->active_file));
  }
  return list;
}

static char *index_file_name(const vs_segment *seg, uint32_t field_id, uint32_t gen) {
  char name[96];
  snprintf(name, sizeof name, "idx-%08" PRIu64 "-%u-%06u.vidx", seg->id, field_id, gen);
  return vs_strdup(name);
}

/* Reads and loads an index file of `seg`. */
static vs_status load_index_file(const vs_collection *c, const vs_segment *seg, int field,
                                 const char *name, vs_index **out) {
  vs_segfile *file = NULL;
  size_t len = 0;
  char *path = vs_fs_join(c->dir, name);
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = vs_segfile_open(path, true, &file);
  const void *blob = st == VS_OK ? vs_segfile_get(file, INDEX_SECTION, &len) : NULL;
  if (st == VS_OK && !blob) st = vs_fail(VS_ERR_CORRUPT, "index file %s has no index section", path);
  const vs_field *f = &c->schema->fields[field];
  if (st == VS_OK) {
    st = vs_index_load(blob, len, (const float *)seg->views[field].fixed, seg->rows, f->dim, f->metric, out);
    if (st != VS_OK) st = vs_fail_prefix(st, "index file %s", path);
  }
  vs_segfile_close(file);
  free(path);
  return st;
}

vs_status vs_segment_indexes_from_json(vs_collection *c, vs_segment *seg, void *json) {
  json_t *list = json;
  size_t i;
  json_t *o;
  if (!list) return VS_OK;
  if (!json_is_array(list)) return vs_fail(VS_ERR_CORRUPT, "MANIFEST in %s: bad segment index list", c->dir);
  json_array_foreach(list, i, o) {
    const char *field = json_string_value(json_object_get(o, "field"));
    const char *file = json_string_value(json_object_get(o, "file"));
    json_t *gen = json_object_get(o, "generation");
    int f = field ? vs_schema_index(c->schema, field) : -1;
    if (f < 0 || c->schema->fields[f].type != VS_TYPE_FLOAT_VECTOR || !file || strchr(file, '/') ||
        file[0] == '.' || !json_is_integer(gen) || seg->indexes[f].active) {
      return vs_fail(VS_ERR_CORRUPT, "MANIFEST in %s: bad index entry of segment %s", c->dir, seg->file_name);
    }
    vs_segment_index *si = &seg->indexes[f];
    vs_status st = load_index_file(c, seg, f, file, &si->active);
    if (st != VS_OK) return st;
    si->active_file = vs_strdup(file);
    si->active_generation = (uint32_t)json_integer_value(gen);
    if (!si->active_file) return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  return VS_OK;
}

/* ----------------------------------------------------------- the builder */

typedef struct build_job {
  vs_collection *c;
  vs_segment *seg;
  int field;
  uint32_t generation;
  vs_index_type type;
  vs_index_build_params params;
  bool scalar;
  vs_scalar_def sdef;        /* the job's own copy (the definition may be
                                dropped while it builds) */
  /* copied under the read lock, so the unlocked build reads no shared
   * array that vs_add_field may replace: the field (its strings live in a
   * schema the collection keeps) and the column's view (its data is the
   * segment's, pinned by the job) */
  vs_field fdef;
  vs_colview view;
} build_job;

static bool segment_needs(const vs_segment *seg, int f, uint32_t gen) {
  const vs_segment_index *si = &seg->indexes[f];
  return seg->rows > 0 && !(si->active && si->active_generation == gen) &&
         !(si->pending && si->pending_generation == gen);
}

static bool scalar_needs(const vs_index_def *d, const vs_segment *seg) {
  return seg->rows > 0 && !vs_scalar_lookup(d, seg->id);
}

/* Copies a scalar definition for a job by parsing it again. */
static bool copy_scalar_def(const vs_collection *c, int f, const vs_index_def *d, vs_scalar_def *out) {
  return vs_scalar_def_parse(&c->schema->fields[f], vs_scalar_kind_name(d->sdef.kind), d->params_json, out) ==
         VS_OK;
}

/* Under c->lock (read): the first segment needing an index. */
static bool find_in_collection(vs_collection *c, build_job *job) {
  for (size_t f = 0; c->index_defs && f < c->schema->field_count; f++) {
    vs_index_def *d = &c->index_defs[f];
    if (!d->defined || d->fail_reason) continue;
    for (size_t i = 0; i < c->sealed_count; i++) {
      vs_segment *seg = c->sealed[i];
      if (d->scalar ? !scalar_needs(d, seg) : !segment_needs(seg, (int)f, d->generation)) continue;
      memset(job, 0, sizeof *job);
      job->scalar = d->scalar;
      if (d->scalar && !copy_scalar_def(c, (int)f, d, &job->sdef)) continue;
      vs_segment_acquire(seg);
      job->seg = seg;
      job->field = (int)f;
      job->fdef = c->schema->fields[f];
      job->view = seg->views[f];
      job->generation = d->generation;
      job->type = d->type;
      job->params = d->build;
      return true;
    }
  }
  return false;
}

static bool find_job(vs_db *db, build_job *job) {
  bool found = false;
  pthread_mutex_lock(&db->catalog_lock);
  for (size_t i = 0; i < db->collection_count && !found; i++) {
    vs_collection *c = db->collections[i];
    if (c->failed || c->dropped || !c->wal) continue;
    pthread_rwlock_rdlock(&c->lock);
    found = find_in_collection(c, job);
    pthread_rwlock_unlock(&c->lock);
    if (found) {
      c->refs++;
      job->c = c;
    }
  }
  pthread_mutex_unlock(&db->catalog_lock);
  return found;
}

static int sealed_position(const vs_collection *c, const vs_segment *seg) {
  for (size_t i = 0; i < c->sealed_count; i++) {
    if (c->sealed[i] == seg) return (int)i;
  }
  return -1;
}

/* When every sealed segment has a pending index of `gen`, swaps them all. */
static vs_status promote_pending(vs_collection *c, int f, uint32_t gen) {
  for (size_t i = 0; i < c->sealed_count; i++) {
    const vs_segment_index *si = &c->sealed[i]->indexes[f];
    bool ready = c->sealed[i]->rows == 0 || (si->active && si->active_generation == gen) ||
                 (si->pending && si->pending_generation == gen);
    if (!ready) return VS_OK;
  }
  char **old = vs_calloc(c->sealed_count + 1, sizeof *old);
  vs_index **old_ix = vs_calloc(c->sealed_count + 1, sizeof *old_ix);
  if (!old || !old_ix) {
    free(old);
    free(old_ix);
    return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < c->sealed_count; i++) {
    vs_segment_index *si = &c->sealed[i]->indexes[f];
    if (!si->pending) continue;
    old[i] = si->active_file;
    old_ix[i] = si->active;
    si->active = si->pending;
    si->active_file = si->pending_file;
    si->active_generation = si->pending_generation;
    si->pending = NULL;
    si->pending_file = NULL;
  }
  vs_status st = vs_collection_write_manifest(c);
  for (size_t i = 0; i < c->sealed_count; i++) {
    if (st == VS_OK) unlink_in(c, old[i]);
    free(old[i]);
    vs_index_free(old_ix[i]);
  }
  free(old);
  free(old_ix);
  return st;
}

/* Under maintenance + write lock: attaches a built index, or says no. */
static vs_status attach(build_job *job, vs_index *ix, char *file, bool *kept) {
  vs_collection *c = job->c;
  vs_index_def *d = &c->index_defs[job->field];
  *kept = false;
  if (c->dropped || sealed_position(c, job->seg) < 0 || !d->defined || d->generation != job->generation) {
    return VS_OK; /* the segment or the definition moved on */
  }
  vs_segment_index *si = &job->seg->indexes[job->field];
  *kept = true;
  if (!si->active) {
    si->active = ix;
    si->active_file = file;
    si->active_generation = job->generation;
    vs_status st = vs_collection_write_manifest(c);
    if (st != VS_OK) {
      si->active = NULL;
      si->active_file = NULL;
      *kept = false;
      return st;
    }
    /* This may have been the last segment a rebuild waited for. */
    return promote_pending(c, job->field, job->generation);
  }
  vs_index_free(si->pending);
  unlink_in(c, si->pending_file);
  free(si->pending_file);
  si->pending = ix;
  si->pending_file = file;
  si->pending_generation = job->generation;
  return promote_pending(c, job->field, job->generation);
}

static vs_status write_index_file(const vs_collection *c, const vs_index *ix, const char *name) {
  vs_buf blob = {0};
  char *path = vs_fs_join(c->dir, name);
  vs_status st = path ? vs_index_serialize(ix, &blob) : vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st == VS_OK) {
    vs_segfile_section section = {INDEX_SECTION, blob.data, blob.len};
    st = vs_segfile_write(path, &section, 1);
  }
  vs_buf_free(&blob);
  free(path);
  return st;
}

static void record_failure(build_job *job, const char *message) {
  vs_collection *c = job->c;
  pthread_rwlock_wrlock(&c->lock);
  vs_index_def *d = &c->index_defs[job->field];
  if (d->defined && d->generation == job->generation && !d->fail_reason) d->fail_reason = vs_strdup(message);
  pthread_rwlock_unlock(&c->lock);
  vs_log(VS_LOG_WARN, "indexer", "building the index of '%s' segment %" PRIu64 " failed: %s", c->name,
         job->seg->id, message);
}

/* A scalar index: built with no lock (the segment is pinned and sealed
 * columns never change), attached under the write lock. */
static void run_scalar_job(build_job *job) {
  vs_collection *c = job->c;
  vs_scalar_index *ix = NULL;
  uint64_t t0 = vs_now_ns();
  vs_status st = vs_scalar_index_build(&job->sdef, &job->fdef, &job->view, job->seg->rows, job->seg->id, &ix);
  bool kept = false;
  if (st == VS_OK) {
    pthread_rwlock_wrlock(&c->lock);
    vs_index_def *d = &c->index_defs[job->field];
    if (!c->dropped && sealed_position(c, job->seg) >= 0 && d->defined && d->generation == job->generation) {
      st = vs_scalar_attach(c, d, job->seg->id, ix);
      kept = st == VS_OK;
      if (kept) d->build_ns += vs_now_ns() - t0;
    }
    pthread_rwlock_unlock(&c->lock);
  }
  if (st != VS_OK) record_failure(job, vs_error_message());
  if (!kept) vs_scalar_index_free(ix);
  vs_scalar_def_free(&job->sdef);
}

static void run_job(vs_indexer *ix_state, build_job *job) {
  if (job->scalar) {
    run_scalar_job(job);
    return;
  }
  vs_collection *c = job->c;
  const vs_field *f = &job->fdef;
  vs_index *ix = NULL;
  char *file = index_file_name(job->seg, f->id, job->generation);
  uint64_t t0 = vs_now_ns();
  vs_status st = file ? vs_index_build(job->type, (const float *)job->view.fixed,
                                       job->seg->rows, f->dim, f->metric, &job->params, c->db->pool,
                                       &ix_state->progress, &ix)
                      : vs_fail(VS_ERR_NOMEM, "out of memory");
  if (st == VS_OK) st = write_index_file(c, ix, file);
  bool kept = false;
  if (st == VS_OK) {
    pthread_mutex_lock(&c->maintenance);
    pthread_rwlock_wrlock(&c->lock);
    st = attach(job, ix, file, &kept);
    if (kept) c->index_defs[job->field].build_ns += vs_now_ns() - t0;
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->maintenance);
  }
  bool cancelled = atomic_load(&ix_state->progress.cancel) != 0;
  if (st != VS_OK && !cancelled) record_failure(job, vs_error_message());
  if (!kept) {
    if (file) unlink_in(c, file);
    vs_index_free(ix);
    free(file);
  }
}

static void *builder_main(void *arg) {
  vs_indexer *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    while (!s->stop && !s->kicked) pthread_cond_wait(&s->wake, &s->mu);
    s->kicked = false;
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    if (stop) break;
    build_job job;
    while (!stop && find_job(s->db, &job)) {
      pthread_mutex_lock(&s->mu);
      atomic_store(&s->progress.done, 0);
      atomic_store(&s->progress.total, job.seg->rows);
      s->building_collection = job.c;
      s->building_field = job.field;
      pthread_mutex_unlock(&s->mu);
      run_job(s, &job);
      vs_segment_free(job.seg);
      pthread_mutex_lock(&s->mu);
      s->building_collection = NULL;
      stop = s->stop;
      s->done_count++;
      pthread_cond_broadcast(&s->done);
      pthread_mutex_unlock(&s->mu);
      vs_db_release(s->db, job.c);
    }
    pthread_mutex_lock(&s->mu);
    s->done_count++;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
  }
  return NULL;
}

vs_status vs_indexer_start(vs_db *db) {
  vs_indexer *s = vs_calloc(1, sizeof *s);
  if (!s) return vs_fail(VS_ERR_NOMEM, "out of memory");
  s->db = db;
  s->kicked = true; /* look for work left by the last run */
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_cond_init(&s->done, NULL);
  if (pthread_create(&s->thread, NULL, builder_main, s) != 0) {
    free(s);
    return vs_fail(VS_ERR_INTERNAL, "cannot start the index builder thread");
  }
  s->started = true;
  db->indexer = s;
  return VS_OK;
}

void vs_indexer_stop(vs_db *db) {
  vs_indexer *s = db->indexer;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  atomic_store(&s->progress.cancel, 1);
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->done);
  free(s);
  db->indexer = NULL;
}

void vs_indexer_kick(vs_db *db) {
  vs_indexer *s = db->indexer;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->kicked = true;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->mu);
}

/* Progress of the build in flight on (c, field): rows done of total. */
void vs_indexer_progress(vs_db *db, const vs_collection *c, int field, uint64_t *done,
                         uint64_t *total) {
  vs_indexer *s = db->indexer;
  *done = *total = 0;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  if (s->building_collection == c && s->building_field == field) {
    *done = atomic_load(&s->progress.done);
    *total = atomic_load(&s->progress.total);
  }
  pthread_mutex_unlock(&s->mu);
}

/* Waits until `ready(ctx)` or the deadline; ready is re-checked after each
 * build.  Returns VS_ERR_TIMEOUT at the deadline. */
vs_status vs_indexer_wait(vs_db *db, bool (*ready)(void *ctx), void *ctx, uint32_t timeout_ms) {
  vs_indexer *s = db->indexer;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  if (!s) return ready(ctx) ? VS_OK : vs_fail(VS_ERR_UNSUPPORTED, "no index builder (read-only database)");
  /* ready() takes collection locks, so it runs without s->mu: a flush
   * kicks the builder (s->mu) while it holds a collection's write lock. */
  bool ok = false;
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    uint64_t seen = s->done_count;
    pthread_mutex_unlock(&s->mu);
    ok = ready(ctx);
    pthread_mutex_lock(&s->mu);
    if (ok || rc != 0) break;
    while (s->done_count == seen && rc == 0) rc = pthread_cond_timedwait(&s->done, &s->mu, &deadline);
  }
  pthread_mutex_unlock(&s->mu);
  return ok ? VS_OK : vs_fail(VS_ERR_TIMEOUT, "index build not finished after %u ms", timeout_ms);
}
