/*
 * pool.c -- a fixed thread pool that runs "for i in [0, count): fn(arg, i)".
 *
 * A pool of size N owns N-1 worker threads, created once by vs_pool_new;
 * the thread that calls vs_pool_run is the N-th and always works on its own
 * job.  Searches fan out over segments and queries with it.
 *
 * How a run works:
 *
 *   1. The caller puts a job (fn, arg, count, an atomic next-index counter,
 *      the number of helpers it wants) on the pool's queue -- the job lives
 *      on the caller's stack -- and wakes the workers.
 *   2. The caller and every worker that attaches to the job claim indices
 *      with one atomic fetch-add each until the counter passes count.  No
 *      index runs twice and none is skipped.
 *   3. The caller, having run out of indices, takes the job off the queue
 *      (so no new worker attaches) and waits until the workers still
 *      attached have detached.  Then every fn call has returned and the
 *      job's memory can go away with the caller's stack frame.
 *
 * Invariants (under pool->mutex):
 *   - a job is on the queue only while its caller is inside vs_pool_run;
 *   - job->attached counts workers between attaching and detaching; a worker
 *     attaches only while job->attached < job->helpers and indices remain;
 *   - the caller returns only when its job is off the queue and attached = 0.
 *
 * Deadlock freedom: every caller finishes its own job alone if no worker
 * ever comes, so progress never depends on a free worker.  That makes
 * concurrent callers and nested calls (fn itself calling vs_pool_run, on a
 * worker or on the caller) safe: a nested caller works its own job too.
 * count 0 returns at once; count 1, max_threads 1 or a pool of size 1 runs
 * inline without touching the queue.  A NULL pool runs everything inline.
 *
 * Locking: one mutex guards the queue and the attach counts; workers sleep
 * on work_cond, callers on their job's done_cond.  fn runs with no lock held.
 * vs_pool_free must not race with vs_pool_run on the same pool.
 *
 * Alternatives rejected: a task queue with one entry per index (a malloc
 * and a lock round-trip per task; ours are fine-grained, e.g. one segment);
 * OpenMP (no way to share one pool between concurrent server threads
 * without oversubscription, and it hides the thread count from the config);
 * work stealing (per-thread deques are more code than a shared counter buys
 * at the core counts we run on).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#define POOL_MAX_THREADS 1024u

typedef struct pool_job {
  vs_task_fn fn;
  void *arg;
  size_t count;
  atomic_size_t next;    /* next index to claim */
  uint32_t helpers;      /* workers wanted besides the caller */
  uint32_t attached;     /* workers currently working on it */
  bool queued;
  pthread_cond_t done_cond;
  struct pool_job *queue_next;
} pool_job;

struct vs_pool {
  pthread_mutex_t mutex;
  pthread_cond_t work_cond;
  pool_job *queue; /* singly linked, oldest first */
  bool shutdown;
  uint32_t size;   /* threads including the caller */
  uint32_t started; /* worker threads actually running */
  pthread_t *threads;
};

uint32_t vs_cpu_count(void) {
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    long allowed = CPU_COUNT(&set);
    if (allowed > 0 && (online < 1 || allowed < online)) online = allowed;
  }
  if (online < 1) return 1;
  if (online > (long)POOL_MAX_THREADS) return POOL_MAX_THREADS;
  return (uint32_t)online;
}

/* Runs indices of `job` until none remain. */
static void job_work(pool_job *job) {
  for (;;) {
    size_t i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
    if (i >= job->count) break;
    job->fn(job->arg, i);
  }
}

static bool job_has_work(const pool_job *job) {
  return atomic_load_explicit(&job->next, memory_order_relaxed) < job->count;
}

/* Under the mutex: unlinks `job` from the queue if it is still there. */
static void queue_remove(vs_pool *pool, pool_job *job) {
  if (!job->queued) return;
  for (pool_job **p = &pool->queue; *p; p = &(*p)->queue_next) {
    if (*p == job) {
      *p = job->queue_next;
      break;
    }
  }
  job->queued = false;
}

/* Under the mutex: the oldest job that wants another worker, or NULL.
 * Exhausted jobs met on the way are unlinked so workers stop seeing them. */
static pool_job *queue_pick(vs_pool *pool) {
  pool_job *job = pool->queue;
  while (job) {
    pool_job *after = job->queue_next;
    if (!job_has_work(job)) {
      queue_remove(pool, job);
    } else if (job->attached < job->helpers) {
      return job;
    }
    job = after;
  }
  return NULL;
}

static void *worker_main(void *opaque) {
  vs_pool *pool = opaque;
  pthread_mutex_lock(&pool->mutex);
  for (;;) {
    pool_job *job = queue_pick(pool);
    if (!job) {
      if (pool->shutdown) break;
      pthread_cond_wait(&pool->work_cond, &pool->mutex);
      continue;
    }
    job->attached++;
    pthread_mutex_unlock(&pool->mutex);
    job_work(job);
    pthread_mutex_lock(&pool->mutex);
    job->attached--;
    queue_remove(pool, job);
    if (job->attached == 0) pthread_cond_signal(&job->done_cond);
  }
  pthread_mutex_unlock(&pool->mutex);
  return NULL;
}

/* Stops and joins the started workers; frees the pool. */
static void pool_destroy(vs_pool *pool) {
  pthread_mutex_lock(&pool->mutex);
  pool->shutdown = true;
  pthread_cond_broadcast(&pool->work_cond);
  pthread_mutex_unlock(&pool->mutex);
  for (uint32_t i = 0; i < pool->started; i++) pthread_join(pool->threads[i], NULL);
  pthread_cond_destroy(&pool->work_cond);
  pthread_mutex_destroy(&pool->mutex);
  free(pool->threads);
  free(pool);
}

vs_status vs_pool_new(uint32_t threads, vs_pool **out) {
  vs_status st = VS_OK;
  vs_pool *pool = NULL;
  *out = NULL;
  if (threads == 0) threads = vs_cpu_count();
  if (threads > POOL_MAX_THREADS) {
    return vs_fail(VS_ERR_LIMIT, "thread pool size %u exceeds the maximum %u", threads,
                   POOL_MAX_THREADS);
  }
  pool = vs_calloc(1, sizeof *pool);
  if (!pool) return vs_fail(VS_ERR_NOMEM, "out of memory allocating a thread pool");
  pool->size = threads;
  pthread_mutex_init(&pool->mutex, NULL);
  pthread_cond_init(&pool->work_cond, NULL);
  pool->threads = vs_calloc(threads, sizeof(pthread_t));
  if (!pool->threads) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory allocating %u thread handles", threads);
    goto done;
  }
  for (uint32_t i = 0; i + 1 < threads; i++) {
    int rc = pthread_create(&pool->threads[i], NULL, worker_main, pool);
    if (rc != 0) {
      st = vs_fail(VS_ERR_INTERNAL, "cannot start thread pool worker %u of %u: %s", i + 1,
                   threads - 1, strerror(rc));
      goto done;
    }
    pool->started++;
  }
done:
  if (st != VS_OK) {
    pool_destroy(pool);
    return st;
  }
  *out = pool;
  return VS_OK;
}

void vs_pool_free(vs_pool *pool) {
  if (pool) pool_destroy(pool);
}

uint32_t vs_pool_size(const vs_pool *pool) { return pool ? pool->size : 1; }

/* Workers (besides the caller) that a run of `count` tasks should use. */
static uint32_t pool_helpers(const vs_pool *pool, size_t count, uint32_t max_threads) {
  uint32_t threads = pool->size;
  if (max_threads != 0 && max_threads < threads) threads = max_threads;
  if (count < threads) threads = (uint32_t)count;
  return threads > 0 ? threads - 1 : 0;
}

void vs_pool_run(vs_pool *pool, size_t count, uint32_t max_threads, vs_task_fn fn,
                 void *arg) {
  if (count == 0) return;
  uint32_t helpers = pool ? pool_helpers(pool, count, max_threads) : 0;
  if (helpers == 0) {
    for (size_t i = 0; i < count; i++) fn(arg, i);
    return;
  }
  pool_job job = {.fn = fn, .arg = arg, .count = count, .helpers = helpers};
  atomic_init(&job.next, 0);
  pthread_cond_init(&job.done_cond, NULL);

  pthread_mutex_lock(&pool->mutex);
  pool_job **tail = &pool->queue;
  while (*tail) tail = &(*tail)->queue_next;
  *tail = &job;
  job.queued = true;
  pthread_cond_broadcast(&pool->work_cond);
  pthread_mutex_unlock(&pool->mutex);

  job_work(&job);

  pthread_mutex_lock(&pool->mutex);
  queue_remove(pool, &job);
  while (job.attached > 0) pthread_cond_wait(&job.done_cond, &pool->mutex);
  pthread_mutex_unlock(&pool->mutex);
  pthread_cond_destroy(&job.done_cond);
}
