/*
 * wal.c -- the write-ahead log: a directory of append-only files of
 * checksummed, LSN-numbered records, with group commit, rotation,
 * checkpoints and crash recovery.
 *
 * On-disk layout (all integers little-endian)
 * -------------------------------------------
 * The log is a directory of files named wal-<first LSN, 16 lower-case hex
 * digits>.log.  Files that do not match that pattern are ignored.
 *
 * File header, 32 bytes:
 *
 *   offset  size  field
 *        0     8  magic "VSWALv01"
 *        8     4  u32 format version (1)
 *       12     4  u32 reserved, 0
 *       16     8  u64 first LSN of the file (must match the file name)
 *       24     8  u64 XXH3-64 of bytes [0, 24)
 *
 * Records follow back to back, not padded:
 *
 *   offset  size  field
 *        0     4  u32 payload length
 *        4     4  u32 type (the engine's; storage does not interpret it)
 *        8     8  u64 LSN
 *       16     8  u64 checksum = XXH3_64bits_withSeed(payload, length,
 *                               seed = XXH3_64bits(bytes [0, 16)))
 *       24     n  payload
 *
 * The checksum's seed is a hash of the length, type and LSN, so a record
 * that is moved, renumbered or relabelled fails its checksum even when its
 * payload is intact.  A run of zero bytes never parses as a record: LSNs
 * start at 1 and must be consecutive.
 *
 * Invariants
 * ----------
 *  - LSNs are consecutive across the whole log; a file's first record has
 *    the LSN of its header (and name); a file's last LSN is the next file's
 *    first LSN - 1.
 *  - Records are appended only at the tail of the newest file.  A failed or
 *    short write is cut off again with ftruncate, so garbage never sits in
 *    front of a later record; if even that fails the log goes read-only.
 *  - With policy ALWAYS or BATCH, every file except the newest one is fully
 *    fsynced (rotation fsyncs the old file before it creates the next), so
 *    syncing the newest file makes every record up to its tail durable.
 *
 * Locking
 * -------
 *  append_mu: the tail (fd, offset, next LSN, list of live files).  Held
 *             for the write(2) of one record, for rotation and checkpoints,
 *             never across fdatasync of the newest file.
 *  sync_mu:   group-commit state (syncing flag, durable LSN, sticky error).
 *  batch_mu:  the background thread's sleep/stop handshake.
 *  Order: append_mu may be held when taking sync_mu, never the reverse.
 *
 * Group commit (policy ALWAYS): vs_wal_sync(lsn) returns at once when
 * durable_lsn >= lsn.  Otherwise, if nobody is syncing, the caller becomes
 * the syncer: it notes the last appended LSN and dup()s the tail descriptor
 * under append_mu, releases it (appenders keep going), fdatasync()s,
 * publishes durable_lsn and wakes everyone; waiters re-check and the first
 * one still not covered becomes the next syncer.  One fdatasync thus covers
 * every record appended before it started.  The dup keeps the descriptor
 * valid if a rotation closes the tail file meanwhile.
 *
 * vs_wal_flush(lsn) is the same group commit whatever the policy (under
 * NONE it first fsyncs the older files not synced yet): the write-ahead
 * rule for a caller about to make durable a file that holds effects of
 * records up to lsn.
 *
 * A failed fsync is sticky: after it, Linux may have dropped the dirty pages
 * and cleared the error, so a retry that "succeeds" proves nothing
 * (PostgreSQL's fsyncgate).  Every later append and sync fails with
 * VS_ERR_IO; the process must reopen, which replays from the disk's truth.
 *
 * Recovery
 * --------
 * vs_wal_open reads the files in LSN order, validating every record (also
 * those <= after_lsn, which are not replayed).  A record is valid when its
 * header is complete, its payload fits in the file, the checksum matches and
 * its LSN is the next one.  At the first problem (invalid record, bad or
 * short file header, LSN gap between files) it asks whether valid data
 * exists *after* the problem: any offset later in the same file, or any
 * later file, where a record with a plausible LSN passes its checksum.  If
 * so, acknowledged data would be lost: VS_ERR_CORRUPT, naming the file and
 * offset.  If not, it is the torn tail of a crash: the file is truncated at
 * the problem, later files are removed, and appending continues there.
 * Files whose every record is <= after_lsn are not read and are deleted.
 * Unless the policy is NONE, the surviving files are fsynced before open
 * returns, so records replayed from a previous run count as durable.
 *
 * A log cut short looks exactly like a crash before the lost records were
 * written.  Only the caller knows better: vs_wal_open_required takes the
 * largest LSN whose effects its durable state already holds, and a log that
 * ends before it is VS_ERR_CORRUPT (naming the file and offset), with
 * nothing truncated.  vs_wal_check_required is the offline counterpart.
 * vs_wal_read replays like open but modifies nothing (read-only opens).
 *
 * Records reach the replay callback as they are read, so when a problem
 * further on turns out to be corruption, open fails after some records were
 * delivered: the caller must discard what it built from them.
 * The payload-length check uses the file size rather than max_record_bytes,
 * so lowering that option can never turn old records into "garbage".
 *
 * Alternatives rejected
 * ---------------------
 *  - SQLite's cumulative checksums: they make any damage end the log at
 *    that point, silently dropping everything after it; we want to *detect*
 *    damage followed by acknowledged data and refuse, so checksums are per
 *    record and LSNs carry the chaining.
 *  - O_APPEND writes: pwritev at a tracked offset makes the undo of a short
 *    write (ftruncate to the old tail) exact.
 *  - Preallocating files (fallocate) plus fdatasync: faster syncs on some
 *    file systems, but a torn tail is then followed by zeros, and telling
 *    "zeros" from "damage" needs a second mechanism.  Not worth it yet.
 *  - A writer thread with a queue: an extra copy and a context switch per
 *    record; direct writes under one mutex are simpler and as fast.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage.h"

#define WAL_MAGIC "VSWALv01"
/* Format history: 1 = first version (this layout). */
#define WAL_FORMAT_VERSION 1u
#define WAL_HEADER_BYTES 32u
#define WAL_RECORD_HEADER_BYTES 24u
#define WAL_NAME_LEN 24u /* "wal-" + 16 hex + ".log" */
#define WAL_MIN_FILE_BYTES 256u

typedef struct wal_file {
  uint64_t first_lsn; /* from the file name */
  uint64_t bytes;
  bool synced;        /* fsynced since its last append (only tracked for NONE) */
} wal_file;

struct vs_wal {
  char *dir;
  vs_wal_options opt;

  pthread_mutex_t append_mu;
  int fd;             /* the newest file, open for writing */
  uint64_t tail;      /* its length */
  uint64_t next_lsn;
  wal_file *files;    /* live files, oldest first; the last is the tail */
  size_t count;
  size_t cap;

  _Atomic uint64_t last_lsn;
  _Atomic uint64_t total_bytes;

  pthread_mutex_t sync_mu;
  pthread_cond_t sync_cv;
  bool syncing;
  uint64_t durable_lsn;
  _Atomic bool failed;
  char failure[512]; /* written once, before `failed` is set */

  pthread_mutex_t batch_mu;
  pthread_cond_t batch_cv; /* CLOCK_MONOTONIC */
  bool batch_stop;
  bool batch_running;
  pthread_t batch_thread;
};

void vs_wal_options_init(vs_wal_options *opt) {
  opt->sync = VS_WAL_SYNC_ALWAYS;
  opt->batch_interval_ms = 10;
  opt->file_bytes = (uint64_t)64 << 20;
  opt->max_record_bytes = 1u << 30;
}

/* --------------------------------------------------------------- helpers */

static void wal_file_name(uint64_t first_lsn, char out[WAL_NAME_LEN + 1]) {
  snprintf(out, WAL_NAME_LEN + 1, "wal-%016" PRIx64 ".log", first_lsn);
}

static char *wal_path(const char *dir, uint64_t first_lsn) {
  char name[WAL_NAME_LEN + 1];
  wal_file_name(first_lsn, name);
  return vs_fs_join(dir, name);
}

/* True and *lsn when `name` is wal-<16 hex>.log. */
static bool wal_parse_name(const char *name, uint64_t *lsn) {
  if (strlen(name) != WAL_NAME_LEN) return false;
  if (memcmp(name, "wal-", 4) != 0 || memcmp(name + 20, ".log", 4) != 0) return false;
  uint64_t v = 0;
  for (size_t i = 4; i < 20; i++) {
    char c = name[i];
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = (uint64_t)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = (uint64_t)(c - 'a' + 10);
    } else {
      return false;
    }
    v = v << 4 | d;
  }
  *lsn = v;
  return true;
}

static uint64_t wal_record_checksum(const uint8_t *header16, const void *payload,
                                    size_t len) {
  uint64_t seed = vs_hash64(header16, 16);
  return vs_hash64_seed(payload, len, seed);
}

static void wal_build_file_header(uint8_t out[WAL_HEADER_BYTES], uint64_t first_lsn) {
  memcpy(out, WAL_MAGIC, 8);
  vs_store_u32(out + 8, WAL_FORMAT_VERSION);
  vs_store_u32(out + 12, 0);
  vs_store_u64(out + 16, first_lsn);
  vs_store_u64(out + 24, vs_hash64(out, 24));
}

static void wal_build_record_header(uint8_t out[WAL_RECORD_HEADER_BYTES],
                                    uint32_t type, uint64_t lsn,
                                    const void *payload, size_t len) {
  vs_store_u32(out, (uint32_t)len);
  vs_store_u32(out + 4, type);
  vs_store_u64(out + 8, lsn);
  vs_store_u64(out + 16, wal_record_checksum(out, payload, len));
}

static uint64_t wal_add_saturating(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ------------------------------------------------------- engine metrics
 *
 * Process-wide counters for /metrics (vs_engine_metrics_get): every
 * fdatasync of a WAL is timed into a cumulative histogram and every byte
 * pwritten is counted.  Relaxed atomics: each counter is exact on its own;
 * a reader may see one sync counted in `wal_fsyncs` a moment before its
 * bucket, which a scrape tolerates.  A mutex would serialise the group
 * commit's syncers for nothing. */

const double vs_fsync_bucket_bounds[VS_FSYNC_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0};

static _Atomic uint64_t wal_metric_fsyncs;
static _Atomic uint64_t wal_metric_fsync_ns;
static _Atomic uint64_t wal_metric_fsync_le[VS_FSYNC_BUCKETS];
static _Atomic uint64_t wal_metric_bytes;

static uint64_t wal_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void wal_metric_record_fsync(uint64_t ns) {
  double seconds = (double)ns / 1e9;
  atomic_fetch_add_explicit(&wal_metric_fsyncs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&wal_metric_fsync_ns, ns, memory_order_relaxed);
  for (int i = 0; i < VS_FSYNC_BUCKETS; i++) {
    if (seconds <= vs_fsync_bucket_bounds[i]) {
      atomic_fetch_add_explicit(&wal_metric_fsync_le[i], 1, memory_order_relaxed);
    }
  }
}

void vs_engine_metrics_get(vs_engine_metrics *out) {
  memset(out, 0, sizeof *out);
  out->wal_fsyncs = atomic_load_explicit(&wal_metric_fsyncs, memory_order_relaxed);
  out->wal_fsync_seconds =
      (double)atomic_load_explicit(&wal_metric_fsync_ns, memory_order_relaxed) / 1e9;
  for (int i = 0; i < VS_FSYNC_BUCKETS; i++) {
    out->wal_fsync_le[i] = atomic_load_explicit(&wal_metric_fsync_le[i], memory_order_relaxed);
  }
  out->wal_bytes_written = atomic_load_explicit(&wal_metric_bytes, memory_order_relaxed);
}

static int wal_fdatasync(int fd) {
  int rc;
  uint64_t start = wal_monotonic_ns();
  do {
    rc = fdatasync(fd);
  } while (rc != 0 && errno == EINTR);
  wal_metric_record_fsync(wal_monotonic_ns() - start);
  return rc;
}

/* pwrite of header + payload at `offset`, retrying EINTR and short writes. */
static int wal_pwrite_record(int fd, const uint8_t *header, size_t hlen,
                             const void *payload, size_t len, uint64_t offset) {
  size_t total = hlen + len;
  size_t done = 0;
  while (done < total) {
    struct iovec iov[2];
    int n_iov = 0;
    if (done < hlen) {
      iov[n_iov++] = (struct iovec){(void *)(header + done), hlen - done};
      if (len) iov[n_iov++] = (struct iovec){(void *)payload, len};
    } else {
      size_t at = done - hlen;
      iov[n_iov++] = (struct iovec){(uint8_t *)payload + at, len - at};
    }
    ssize_t n = pwritev(fd, iov, n_iov, (off_t)(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) {
      errno = EIO;
      return -1;
    }
    done += (size_t)n;
    atomic_fetch_add_explicit(&wal_metric_bytes, (uint64_t)n, memory_order_relaxed);
  }
  return 0;
}

/* ------------------------------------------------------------ record parse */

typedef enum wal_verdict {
  WAL_RECORD_OK = 0,
  WAL_RECORD_SHORT_HEADER,
  WAL_RECORD_SHORT_PAYLOAD,
  WAL_RECORD_BAD_CHECKSUM,
  WAL_RECORD_BAD_LSN
} wal_verdict;

typedef struct wal_record {
  uint32_t len;
  uint32_t type;
  uint64_t lsn;
  const uint8_t *payload;
} wal_record;

/* Parses the record at `off`; frames and checksums it, and checks that its
 * LSN is `expected`. */
static wal_verdict wal_parse_record(const uint8_t *buf, size_t len, size_t off,
                                    uint64_t expected, wal_record *rec) {
  if (len - off < WAL_RECORD_HEADER_BYTES) return WAL_RECORD_SHORT_HEADER;
  const uint8_t *h = buf + off;
  rec->len = vs_load_u32(h);
  rec->type = vs_load_u32(h + 4);
  rec->lsn = vs_load_u64(h + 8);
  rec->payload = h + WAL_RECORD_HEADER_BYTES;
  if (rec->len > len - off - WAL_RECORD_HEADER_BYTES) return WAL_RECORD_SHORT_PAYLOAD;
  if (wal_record_checksum(h, rec->payload, rec->len) != vs_load_u64(h + 16)) {
    return WAL_RECORD_BAD_CHECKSUM;
  }
  if (rec->lsn != expected) return WAL_RECORD_BAD_LSN;
  return WAL_RECORD_OK;
}

static void wal_verdict_text(wal_verdict v, size_t len, size_t off,
                             const wal_record *rec, uint64_t expected,
                             char *out, size_t cap) {
  switch (v) {
    case WAL_RECORD_SHORT_HEADER:
      snprintf(out, cap, "incomplete record header, %zu bytes", len - off);
      break;
    case WAL_RECORD_SHORT_PAYLOAD:
      snprintf(out, cap, "payload length %" PRIu32 " runs past the end of the file",
               rec->len);
      break;
    case WAL_RECORD_BAD_CHECKSUM:
      snprintf(out, cap, "checksum mismatch");
      break;
    case WAL_RECORD_BAD_LSN:
      snprintf(out, cap, "LSN %" PRIu64 " where LSN %" PRIu64 " was expected",
               rec->lsn, expected);
      break;
    default:
      snprintf(out, cap, "valid");
  }
}

/*
 * True when some offset in [from, len) holds a record that frames and
 * passes its checksum with min_lsn <= LSN <= base_lsn + (offset -
 * base_off) / 24 (every record takes at least 24 bytes, so a record that far
 * past `base_off`, where LSN base_lsn would start, cannot carry a larger
 * LSN).  The LSN window keeps checksum work rare on random bytes.
 */
static bool wal_find_valid_record(const uint8_t *buf, size_t len, size_t from,
                                  uint64_t min_lsn, uint64_t base_lsn,
                                  size_t base_off) {
  for (size_t c = from; c < len && len - c >= WAL_RECORD_HEADER_BYTES; c++) {
    uint64_t lsn = vs_load_u64(buf + c + 8);
    if (lsn < min_lsn || lsn == 0) continue;
    uint64_t max_lsn =
        wal_add_saturating(base_lsn, (c - base_off) / WAL_RECORD_HEADER_BYTES);
    if (lsn > max_lsn) continue;
    uint32_t plen = vs_load_u32(buf + c);
    if (plen > len - c - WAL_RECORD_HEADER_BYTES) continue;
    if (wal_record_checksum(buf + c, buf + c + WAL_RECORD_HEADER_BYTES, plen) ==
        vs_load_u64(buf + c + 16)) {
      return true;
    }
  }
  return false;
}

/* --------------------------------------------------------------- listing */

static int wal_file_cmp(const void *a, const void *b) {
  const wal_file *x = a, *y = b;
  return x->first_lsn < y->first_lsn ? -1 : x->first_lsn > y->first_lsn;
}

static vs_status wal_list_push(wal_file **files, size_t *count, size_t *cap,
                               uint64_t first_lsn, uint64_t bytes) {
  if (*count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    wal_file *p = vs_reallocarray(*files, ncap, sizeof *p);
    if (!p) return vs_fail(VS_ERR_NOMEM, "out of memory listing WAL files");
    *files = p;
    *cap = ncap;
  }
  (*files)[(*count)++] = (wal_file){first_lsn, bytes, false};
  return VS_OK;
}

/* The wal-*.log files of `dir`, sorted by first LSN. */
static vs_status wal_list_dir(const char *dir, wal_file **files, size_t *count,
                              size_t *cap) {
  vs_status st = VS_OK;
  DIR *d = opendir(dir);
  *files = NULL;
  *count = *cap = 0;
  if (!d) {
    return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO,
                   "cannot open WAL directory %s: %s", dir, strerror(errno));
  }
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      if (errno != 0) st = vs_fail(VS_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
      break;
    }
    uint64_t lsn;
    if (!wal_parse_name(e->d_name, &lsn)) continue;
    st = wal_list_push(files, count, cap, lsn, 0);
    if (st != VS_OK) break;
  }
  closedir(d);
  if (st == VS_OK && *count > 1) qsort(*files, *count, sizeof **files, wal_file_cmp);
  return st;
}

/* ------------------------------------------------------------------ scan */

/*
 * One pass over the log, shared by open (which replays and repairs) and
 * check (which only reports).  The scan decides; wal_scan_apply acts.
 */
typedef struct wal_scan {
  const char *dir;
  bool check_only;
  uint64_t after_lsn;
  vs_wal_replay_fn fn;
  void *ctx;
  vs_report_fn report;
  void *report_ctx;

  wal_file *files;
  size_t count;
  size_t cap;
  size_t first_live; /* files before it hold only LSNs <= after_lsn */
  size_t end;        /* files [end, count) are removed (tail cleanup) */
  bool cut;          /* truncate files[end - 1] at cut_offset */
  uint64_t cut_offset;
  uint64_t cut_bytes;
  bool have_expected;
  uint64_t expected; /* LSN the next record must carry */
  uint64_t required_lsn; /* the log must reach it (0 = no requirement) */
  bool torn;             /* the log ended at a problem: */
  size_t torn_file;      /* in this file */
  uint64_t torn_offset;  /* at this offset (0: the file's header) */
} wal_scan;

static void wal_scan_report(wal_scan *s, const char *fmt, ...) VS_PRINTF(2, 3);
static void wal_scan_report(wal_scan *s, const char *fmt, ...) {
  if (!s->report) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  s->report(s->report_ctx, line);
}

static vs_status wal_read_file(const wal_scan *s, size_t i, uint8_t **buf, size_t *len) {
  char *path = wal_path(s->dir, s->files[i].first_lsn);
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = vs_fs_read_all(path, buf, len);
  free(path);
  return st;
}

/* Checks the 32-byte header; *reason gets a description when it is bad.
 * A newer format version is a hard error, never "torn". */
static vs_status wal_check_header(const wal_scan *s, size_t i, const uint8_t *buf,
                                  size_t len, char *reason, size_t cap) {
  reason[0] = '\0';
  if (len < WAL_HEADER_BYTES) {
    snprintf(reason, cap, "incomplete file header (%zu bytes)", len);
  } else if (memcmp(buf, WAL_MAGIC, 8) != 0) {
    snprintf(reason, cap, "bad magic");
  } else if (vs_hash64(buf, 24) != vs_load_u64(buf + 24)) {
    snprintf(reason, cap, "file header checksum mismatch");
  } else if (vs_load_u32(buf + 8) > WAL_FORMAT_VERSION) {
    char name[WAL_NAME_LEN + 1];
    wal_file_name(s->files[i].first_lsn, name);
    return vs_fail(VS_ERR_CORRUPT,
                   "WAL file %s/%s: format version %" PRIu32
                   " is newer than this build supports (max %u)",
                   s->dir, name, vs_load_u32(buf + 8), WAL_FORMAT_VERSION);
  } else if (vs_load_u32(buf + 8) == 0) {
    snprintf(reason, cap, "format version 0 is invalid");
  } else if (vs_load_u64(buf + 16) != s->files[i].first_lsn) {
    snprintf(reason, cap,
             "header says first LSN %" PRIu64 " but the file name says %" PRIu64,
             vs_load_u64(buf + 16), s->files[i].first_lsn);
  }
  return VS_OK;
}

/* True when file j (> the problem) holds any valid record with LSN >= min_lsn. */
static vs_status wal_file_has_data(const wal_scan *s, size_t j, uint64_t min_lsn,
                                   bool *found) {
  uint8_t *buf = NULL;
  size_t len = 0;
  *found = false;
  vs_status st = wal_read_file(s, j, &buf, &len);
  if (st != VS_OK) return st;
  uint64_t base = s->files[j].first_lsn;
  if (len >= WAL_HEADER_BYTES && memcmp(buf, WAL_MAGIC, 8) == 0 &&
      vs_hash64(buf, 24) == vs_load_u64(buf + 24)) {
    base = vs_load_u64(buf + 16);
  }
  *found = wal_find_valid_record(buf, len, WAL_HEADER_BYTES, min_lsn, base,
                                 WAL_HEADER_BYTES);
  free(buf);
  return VS_OK;
}

/* Is there valid data after a problem in file i?  `buf`/`from` cover the
 * rest of file i (from = len when there is nothing to search there). */
static vs_status wal_data_follows(const wal_scan *s, size_t i, const uint8_t *buf,
                                  size_t len, size_t from, uint64_t base_lsn,
                                  size_t base_off, bool *found) {
  uint64_t min_lsn = s->have_expected ? s->expected : s->after_lsn + 1;
  *found = wal_find_valid_record(buf, len, from, min_lsn, base_lsn, base_off);
  for (size_t j = i + 1; j < s->count && !*found; j++) {
    vs_status st = wal_file_has_data(s, j, min_lsn, found);
    if (st != VS_OK) return st;
  }
  return VS_OK;
}

/* A problem at (file i, offset off): corruption if valid data follows,
 * otherwise the tail is cut there.  `search_from` etc. as in
 * wal_data_follows. */
static vs_status wal_scan_problem(wal_scan *s, size_t i, const uint8_t *buf, size_t len,
                                  size_t off, size_t search_from, uint64_t base_lsn,
                                  const char *reason) {
  bool follows = false;
  vs_status st = wal_data_follows(s, i, buf, len, search_from, base_lsn, off, &follows);
  if (st != VS_OK) return st;
  char name[WAL_NAME_LEN + 1];
  wal_file_name(s->files[i].first_lsn, name);
  if (follows && off < WAL_HEADER_BYTES) {
    return vs_fail(VS_ERR_CORRUPT,
                   "WAL file %s/%s: %s, and valid records follow; refusing to drop "
                   "acknowledged data", s->dir, name, reason);
  }
  if (follows) {
    return vs_fail(VS_ERR_CORRUPT,
                   "WAL file %s/%s: record at offset %zu is corrupted (%s) and valid "
                   "records follow; refusing to drop acknowledged data",
                   s->dir, name, off, reason);
  }
  s->torn = true;
  s->torn_file = i;
  s->torn_offset = off;
  if (off < WAL_HEADER_BYTES) {
    s->end = i; /* the whole file goes */
  } else {
    s->end = i + 1;
    s->cut = off < len;
    s->cut_offset = off;
    s->cut_bytes = len - off;
    s->files[i].bytes = off;
  }
  if (s->cut) {
    wal_scan_report(s, "WAL file %s/%s: torn tail at offset %zu (%zu bytes: %s), "
                    "would be truncated at open", s->dir, name, off, len - off, reason);
  }
  return VS_OK;
}

/* The first LSN of file i must continue the chain (or the gap must lie
 * entirely at or below after_lsn). */
static bool wal_chain_ok(const wal_scan *s, uint64_t first, char *reason, size_t cap) {
  uint64_t want = s->have_expected ? s->expected : s->after_lsn + 1;
  if (!s->have_expected && (s->check_only || first <= want)) return true;
  if (first == want) return true;
  if (first > want && first - 1 <= s->after_lsn) return true;
  if (first > want) {
    snprintf(reason, cap, "file starts at LSN %" PRIu64 " but LSN %" PRIu64
             " was expected: LSNs %" PRIu64 "..%" PRIu64 " are missing",
             first, want, want, first - 1);
  } else {
    snprintf(reason, cap, "file starts at LSN %" PRIu64 " but LSN %" PRIu64
             " was expected: LSNs overlap the previous file", first, want);
  }
  return false;
}

/* Replays (or skips) the valid record `rec`. */
static vs_status wal_scan_deliver(wal_scan *s, const wal_record *rec) {
  s->expected = rec->lsn + 1;
  if (rec->lsn <= s->after_lsn || !s->fn) return VS_OK;
  vs_status st = s->fn(s->ctx, rec->lsn, rec->type, rec->payload, rec->len);
  if (st != VS_OK) {
    return vs_fail_prefix(st, "WAL replay of LSN %" PRIu64 " (type %" PRIu32 ")",
                          rec->lsn, rec->type);
  }
  return VS_OK;
}

/* The records of file i, from offset 32.  *stop is set when the tail ended
 * here. */
static vs_status wal_scan_records(wal_scan *s, size_t i, const uint8_t *buf,
                                  size_t len, bool *stop) {
  size_t off = WAL_HEADER_BYTES;
  while (off < len) {
    wal_record rec;
    wal_verdict v = wal_parse_record(buf, len, off, s->expected, &rec);
    if (v != WAL_RECORD_OK) {
      char reason[160];
      wal_verdict_text(v, len, off, &rec, s->expected, reason, sizeof reason);
      *stop = true;
      return wal_scan_problem(s, i, buf, len, off, off + 1, s->expected, reason);
    }
    vs_status st = wal_scan_deliver(s, &rec);
    if (st != VS_OK) return st;
    off += WAL_RECORD_HEADER_BYTES + rec.len;
  }
  s->files[i].bytes = len;
  return VS_OK;
}

/* One file: header, chaining, records. */
static vs_status wal_scan_file(wal_scan *s, size_t i, bool *stop) {
  uint8_t *buf = NULL;
  size_t len = 0;
  char reason[256];
  vs_status st = wal_read_file(s, i, &buf, &len);
  if (st != VS_OK) return st;
  st = wal_check_header(s, i, buf, len, reason, sizeof reason);
  if (st != VS_OK) goto done;
  uint64_t first = s->files[i].first_lsn;
  /* wal_chain_ok fills `reason` for a gap: then any valid record in this
   * file or a later one is evidence of loss. */
  if (reason[0] == '\0' && wal_chain_ok(s, first, reason, sizeof reason)) {
    s->have_expected = true;
    s->expected = first;
    st = wal_scan_records(s, i, buf, len, stop);
    goto done;
  }
  *stop = true;
  st = wal_scan_problem(s, i, buf, len, 0, WAL_HEADER_BYTES, first, reason);
  if (st == VS_OK && s->end == i) {
    char name[WAL_NAME_LEN + 1];
    wal_file_name(first, name);
    wal_scan_report(s, "WAL file %s/%s: %s and no valid records, would be removed at open",
                    s->dir, name, reason);
  }
done:
  free(buf);
  return st;
}

/* The caller's durable state holds effects of records up to required_lsn:
 * a log that ends before it lost acknowledged data, even when its end looks
 * like a torn tail. */
static vs_status wal_scan_require(const wal_scan *s) {
  uint64_t last = s->have_expected ? s->expected - 1 : 0;
  if (s->required_lsn <= VS_MAX(last, s->after_lsn)) return VS_OK;
  char name[WAL_NAME_LEN + 1];
  if (s->count == 0) {
    return vs_fail(VS_ERR_CORRUPT, "WAL directory %s holds no records but LSN %" PRIu64
                   " is required (the database already holds its effects)", s->dir,
                   s->required_lsn);
  }
  size_t at = s->torn ? s->torn_file : s->count - 1;
  wal_file_name(s->files[at].first_lsn, name);
  char where[64] = "";
  if (s->torn) snprintf(where, sizeof where, " at offset %" PRIu64, s->torn_offset);
  return vs_fail(VS_ERR_CORRUPT, "WAL file %s/%s: the log ends%s after LSN %" PRIu64
                 " but LSN %" PRIu64 " is required (the database already holds its "
                 "effects); refusing to drop acknowledged data", s->dir, name, where,
                 last, s->required_lsn);
}

/* Index of the first file that may hold an LSN > after_lsn. */
static size_t wal_first_live(const wal_scan *s) {
  size_t i = 0;
  while (i + 1 < s->count && s->files[i + 1].first_lsn - 1 <= s->after_lsn &&
         s->files[i + 1].first_lsn > 0) {
    i++;
  }
  return i;
}

static vs_status wal_scan_run(wal_scan *s) {
  vs_status st = wal_list_dir(s->dir, &s->files, &s->count, &s->cap);
  if (st != VS_OK) return st;
  s->first_live = s->check_only ? 0 : wal_first_live(s);
  s->end = s->count;
  for (size_t i = s->first_live; i < s->count; i++) {
    bool stop = false;
    st = wal_scan_file(s, i, &stop);
    if (st != VS_OK || stop) break;
  }
  if (st == VS_OK) st = wal_scan_require(s);
  if (st == VS_OK && s->check_only) {
    for (size_t j = s->end; j < s->count; j++) {
      char name[WAL_NAME_LEN + 1];
      wal_file_name(s->files[j].first_lsn, name);
      if (j > s->end || s->cut) {
        wal_scan_report(s, "WAL file %s/%s: follows the torn tail and holds no valid "
                        "records, would be removed at open", s->dir, name);
      }
    }
  }
  return st;
}

static vs_status wal_unlink(const char *dir, uint64_t first_lsn) {
  char *path = wal_path(dir, first_lsn);
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = VS_OK;
  if (unlink(path) != 0 && errno != ENOENT) {
    st = vs_fail(VS_ERR_IO, "cannot remove WAL file %s: %s", path, strerror(errno));
  }
  free(path);
  return st;
}

static vs_status wal_truncate(const char *dir, uint64_t first_lsn, uint64_t size) {
  vs_status st = VS_OK;
  char *path = wal_path(dir, first_lsn);
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    st = vs_fail(VS_ERR_IO, "cannot open WAL file %s: %s", path, strerror(errno));
    goto done;
  }
  if (ftruncate(fd, (off_t)size) != 0 || fsync(fd) != 0) {
    st = vs_fail(VS_ERR_IO, "cannot truncate the torn tail of WAL file %s: %s", path,
                 strerror(errno));
  }
  close(fd);
done:
  free(path);
  return st;
}

/* Open-mode repairs decided by the scan: cut the torn tail, remove files
 * after it and files entirely <= after_lsn.  Leaves the surviving files in
 * s->files[0, s->count). */
static vs_status wal_scan_apply(wal_scan *s) {
  vs_status st = VS_OK;
  bool removed = false;
  if (s->cut) st = wal_truncate(s->dir, s->files[s->end - 1].first_lsn, s->cut_offset);
  for (size_t j = s->end; j < s->count && st == VS_OK; j++) {
    st = wal_unlink(s->dir, s->files[j].first_lsn);
    removed = true;
  }
  for (size_t j = 0; j < s->first_live && st == VS_OK; j++) {
    st = wal_unlink(s->dir, s->files[j].first_lsn);
    removed = true;
  }
  if (st == VS_OK && removed) st = vs_fs_sync_dir(s->dir);
  if (st != VS_OK) return st;
  size_t live = s->end - s->first_live;
  if (live > 0 && s->first_live > 0) {
    memmove(s->files, s->files + s->first_live, live * sizeof *s->files);
  }
  s->count = live;
  return VS_OK;
}

/* ------------------------------------------------------------ sticky error */

static vs_status wal_failed_status(vs_wal *wal) {
  return vs_fail(VS_ERR_IO, "WAL fsync failed earlier: %s", wal->failure);
}

/* Records the first failure (sync_mu held) and wakes waiters. */
static void wal_set_failed_locked(vs_wal *wal, const char *message) {
  if (!atomic_load(&wal->failed)) {
    snprintf(wal->failure, sizeof wal->failure, "%s", message);
    atomic_store(&wal->failed, true);
  }
  pthread_cond_broadcast(&wal->sync_cv);
}

/* Makes the log read-only after a failed fsync (or an undo that failed);
 * returns VS_ERR_IO with the message. */
static vs_status wal_set_failed_message(vs_wal *wal, const char *message) {
  char copy[sizeof wal->failure];
  snprintf(copy, sizeof copy, "%s", message); /* may be the thread's message */
  pthread_mutex_lock(&wal->sync_mu);
  wal_set_failed_locked(wal, copy);
  pthread_mutex_unlock(&wal->sync_mu);
  return vs_fail(VS_ERR_IO, "%s", copy);
}

static vs_status wal_set_failed(vs_wal *wal, const char *what, int err) {
  char message[sizeof wal->failure];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  return wal_set_failed_message(wal, message);
}

/* ------------------------------------------------------------ file create */

/* Creates the log file starting at `first_lsn` with its header; *fd_out is
 * open for writing.  The directory is fsynced when `sync_dir`. */
static vs_status wal_create_file(const vs_wal *wal, uint64_t first_lsn, bool sync_dir,
                                 int *fd_out) {
  vs_status st = VS_OK;
  uint8_t header[WAL_HEADER_BYTES];
  *fd_out = -1;
  char *path = wal_path(wal->dir, first_lsn);
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    st = vs_fail(VS_ERR_IO, "cannot create WAL file %s: %s", path, strerror(errno));
    goto done;
  }
  wal_build_file_header(header, first_lsn);
  if (wal_pwrite_record(fd, header, sizeof header, NULL, 0, 0) != 0) {
    st = vs_fail(VS_ERR_IO, "cannot write WAL file %s: %s", path, strerror(errno));
    goto done;
  }
  if (sync_dir) st = vs_fs_sync_dir(wal->dir);
done:
  if (st != VS_OK && fd >= 0) {
    close(fd);
    unlink(path);
    fd = -1;
  }
  *fd_out = fd;
  free(path);
  return st;
}

/* Makes the file starting at next_lsn the tail (append_mu held).  The old
 * tail is fdatasynced first unless the policy is NONE. */
static vs_status wal_rotate(vs_wal *wal) {
  bool durable = wal->opt.sync != VS_WAL_SYNC_NONE;
  if (wal->count == wal->cap) {
    vs_status st = wal_list_push(&wal->files, &wal->count, &wal->cap, 0, 0);
    if (st != VS_OK) return st;
    wal->count--; /* only reserved room */
  }
  if (durable) {
    if (wal_fdatasync(wal->fd) != 0) {
      return wal_set_failed(wal, "fdatasync of the WAL file being rotated failed", errno);
    }
    pthread_mutex_lock(&wal->sync_mu);
    if (wal->durable_lsn < wal->next_lsn - 1) wal->durable_lsn = wal->next_lsn - 1;
    pthread_mutex_unlock(&wal->sync_mu);
  }
  int fd;
  vs_status st = wal_create_file(wal, wal->next_lsn, durable, &fd);
  if (st != VS_OK) return st;
  close(wal->fd);
  wal->fd = fd;
  wal->tail = WAL_HEADER_BYTES;
  wal->files[wal->count - 1].synced = durable;
  wal->files[wal->count++] = (wal_file){wal->next_lsn, WAL_HEADER_BYTES, false};
  atomic_fetch_add(&wal->total_bytes, WAL_HEADER_BYTES);
  return VS_OK;
}

/* ------------------------------------------------------------------ append */

vs_status vs_wal_append(vs_wal *wal, uint32_t type, const void *payload, size_t len,
                        uint64_t *lsn) {
  vs_status st = VS_OK;
  uint8_t header[WAL_RECORD_HEADER_BYTES];
  if (lsn) *lsn = 0;
  if (len > wal->opt.max_record_bytes) {
    return vs_fail(VS_ERR_LIMIT, "WAL record of %zu bytes exceeds the limit of %" PRIu32
                   " bytes (max_record_bytes)", len, wal->opt.max_record_bytes);
  }
  if (len > 0 && !payload) return vs_fail(VS_ERR_INVALID, "WAL record payload is NULL");
  pthread_mutex_lock(&wal->append_mu);
  if (atomic_load(&wal->failed)) {
    st = wal_failed_status(wal);
    goto done;
  }
  uint64_t record_bytes = WAL_RECORD_HEADER_BYTES + (uint64_t)len;
  if (wal->tail > WAL_HEADER_BYTES && wal->tail + record_bytes > wal->opt.file_bytes) {
    st = wal_rotate(wal);
    if (st != VS_OK) goto done;
  }
  wal_build_record_header(header, type, wal->next_lsn, payload, len);
  if (wal_pwrite_record(wal->fd, header, sizeof header, payload, len, wal->tail) != 0) {
    int err = errno;
    st = vs_fail(VS_ERR_IO, "WAL append to %s failed: %s", wal->dir, strerror(err));
    if (ftruncate(wal->fd, (off_t)wal->tail) != 0) {
      wal_set_failed(wal, "a failed WAL write could not be cut off again", errno);
      st = vs_fail(VS_ERR_IO, "WAL append to %s failed: %s; the partial record could "
                   "not be removed, the log is now read-only", wal->dir, strerror(err));
    }
    goto done;
  }
  wal->tail += record_bytes;
  wal->files[wal->count - 1].bytes = wal->tail;
  atomic_fetch_add(&wal->total_bytes, record_bytes);
  if (lsn) *lsn = wal->next_lsn;
  atomic_store(&wal->last_lsn, wal->next_lsn);
  wal->next_lsn++;
done:
  pthread_mutex_unlock(&wal->append_mu);
  return st;
}

/* -------------------------------------------------------------- group sync */

/* Under append_mu: the last appended LSN and a private descriptor of the
 * tail file.  -1 with errno when dup fails. */
static int wal_sync_target(vs_wal *wal, uint64_t *target) {
  pthread_mutex_lock(&wal->append_mu);
  *target = wal->next_lsn - 1;
  int fd = dup(wal->fd);
  pthread_mutex_unlock(&wal->append_mu);
  return fd;
}

/* Group commit: returns when `lsn` is durable (see the essay). */
static vs_status wal_sync_to(vs_wal *wal, uint64_t lsn) {
  vs_status st = VS_OK;
  pthread_mutex_lock(&wal->sync_mu);
  for (;;) {
    if (atomic_load(&wal->failed)) {
      st = wal_failed_status(wal);
      break;
    }
    if (wal->durable_lsn >= lsn) break;
    if (wal->syncing) {
      pthread_cond_wait(&wal->sync_cv, &wal->sync_mu);
      continue;
    }
    wal->syncing = true;
    pthread_mutex_unlock(&wal->sync_mu);
    uint64_t target = 0;
    int fd = wal_sync_target(wal, &target);
    int err = 0;
    if (fd < 0) {
      err = errno;
    } else if (wal_fdatasync(fd) != 0) {
      err = errno;
    }
    if (fd >= 0) close(fd);
    pthread_mutex_lock(&wal->sync_mu);
    wal->syncing = false;
    pthread_cond_broadcast(&wal->sync_cv);
    if (fd < 0) {
      st = vs_fail(VS_ERR_IO, "cannot duplicate the WAL descriptor: %s", strerror(err));
      break;
    }
    if (err != 0) {
      char message[sizeof wal->failure];
      snprintf(message, sizeof message, "fdatasync of the WAL failed: %s", strerror(err));
      wal_set_failed_locked(wal, message);
      continue; /* reports the sticky error */
    }
    if (target > wal->durable_lsn) wal->durable_lsn = target;
  }
  pthread_mutex_unlock(&wal->sync_mu);
  return st;
}

vs_status vs_wal_sync(vs_wal *wal, uint64_t lsn) {
  if (atomic_load(&wal->failed)) return wal_failed_status(wal);
  if (wal->opt.sync != VS_WAL_SYNC_ALWAYS) return VS_OK;
  uint64_t last = atomic_load(&wal->last_lsn);
  if (lsn > last) {
    return vs_fail(VS_ERR_INVALID, "WAL sync of LSN %" PRIu64 ", but the last appended "
                   "LSN is %" PRIu64, lsn, last);
  }
  return wal_sync_to(wal, lsn);
}

/* ----------------------------------------------------------- batch thread */

static void wal_deadline(struct timespec *ts, uint32_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static void *wal_batch_main(void *arg) {
  vs_wal *wal = arg;
  pthread_mutex_lock(&wal->batch_mu);
  while (!wal->batch_stop) {
    struct timespec deadline;
    wal_deadline(&deadline, wal->opt.batch_interval_ms);
    int rc = 0;
    while (!wal->batch_stop && rc != ETIMEDOUT) {
      rc = pthread_cond_timedwait(&wal->batch_cv, &wal->batch_mu, &deadline);
    }
    if (wal->batch_stop) break;
    pthread_mutex_unlock(&wal->batch_mu);
    uint64_t last = atomic_load(&wal->last_lsn);
    if (last > 0) wal_sync_to(wal, last); /* a failure is sticky; appends report it */
    pthread_mutex_lock(&wal->batch_mu);
  }
  pthread_mutex_unlock(&wal->batch_mu);
  return NULL;
}

static vs_status wal_batch_start(vs_wal *wal) {
  int rc = pthread_create(&wal->batch_thread, NULL, wal_batch_main, wal);
  if (rc != 0) {
    return vs_fail(VS_ERR_IO, "cannot start the WAL sync thread: %s", strerror(rc));
  }
  wal->batch_running = true;
  return VS_OK;
}

static void wal_batch_stop(vs_wal *wal) {
  if (!wal->batch_running) return;
  pthread_mutex_lock(&wal->batch_mu);
  wal->batch_stop = true;
  pthread_cond_signal(&wal->batch_cv);
  pthread_mutex_unlock(&wal->batch_mu);
  pthread_join(wal->batch_thread, NULL);
  wal->batch_running = false;
}

/* -------------------------------------------------------------- open/close */

static vs_status wal_check_options(const vs_wal_options *opt) {
  if (opt->sync != VS_WAL_SYNC_ALWAYS && opt->sync != VS_WAL_SYNC_BATCH &&
      opt->sync != VS_WAL_SYNC_NONE) {
    return vs_fail(VS_ERR_INVALID, "unknown WAL sync policy %d", (int)opt->sync);
  }
  if (opt->file_bytes < WAL_MIN_FILE_BYTES) {
    return vs_fail(VS_ERR_INVALID, "WAL file_bytes %" PRIu64 " is below the minimum %u",
                   opt->file_bytes, WAL_MIN_FILE_BYTES);
  }
  if (opt->sync == VS_WAL_SYNC_BATCH && opt->batch_interval_ms == 0) {
    return vs_fail(VS_ERR_INVALID, "WAL batch_interval_ms must be at least 1");
  }
  return VS_OK;
}

static vs_status wal_alloc(const char *dir, const vs_wal_options *opt, vs_wal **out) {
  vs_wal *wal = calloc(1, sizeof *wal);
  if (!wal) return vs_fail(VS_ERR_NOMEM, "out of memory");
  wal->dir = vs_strdup(dir);
  if (!wal->dir) {
    free(wal);
    return vs_fail(VS_ERR_NOMEM, "out of memory");
  }
  wal->opt = *opt;
  wal->fd = -1;
  pthread_mutex_init(&wal->append_mu, NULL);
  pthread_mutex_init(&wal->sync_mu, NULL);
  pthread_cond_init(&wal->sync_cv, NULL);
  pthread_mutex_init(&wal->batch_mu, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&wal->batch_cv, &attr);
  pthread_condattr_destroy(&attr);
  *out = wal;
  return VS_OK;
}

static void wal_free(vs_wal *wal) {
  if (wal->fd >= 0) close(wal->fd);
  pthread_mutex_destroy(&wal->append_mu);
  pthread_mutex_destroy(&wal->sync_mu);
  pthread_cond_destroy(&wal->sync_cv);
  pthread_mutex_destroy(&wal->batch_mu);
  pthread_cond_destroy(&wal->batch_cv);
  free(wal->files);
  free(wal->dir);
  free(wal);
}

/* After the scan: continue in the last surviving file, or -- when there is
 * none or its records end below after_lsn -- remove what is left and start
 * a fresh file at next_lsn. */
static vs_status wal_position(vs_wal *wal, const wal_scan *s) {
  uint64_t last = s->have_expected ? s->expected - 1 : 0;
  wal->next_lsn = VS_MAX(last, s->after_lsn) + 1;
  atomic_store(&wal->last_lsn, wal->next_lsn - 1);
  /* wal_sync_replayed makes the replayed records durable, except under
   * NONE, where vs_wal_flush must still sync them. */
  wal->durable_lsn = wal->opt.sync == VS_WAL_SYNC_NONE ? 0 : wal->next_lsn - 1;
  if (wal->count > 0 && s->have_expected && s->expected == wal->next_lsn) {
    char *path = wal_path(wal->dir, wal->files[wal->count - 1].first_lsn);
    if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
    wal->fd = open(path, O_WRONLY | O_CLOEXEC);
    int err = errno;
    free(path);
    if (wal->fd < 0) {
      return vs_fail(VS_ERR_IO, "cannot open the WAL tail in %s: %s", wal->dir,
                     strerror(err));
    }
    wal->tail = wal->files[wal->count - 1].bytes;
    return VS_OK;
  }
  for (size_t i = 0; i < wal->count; i++) {
    vs_status st = wal_unlink(wal->dir, wal->files[i].first_lsn);
    if (st != VS_OK) return st;
  }
  wal->count = 0;
  vs_status st = wal_list_push(&wal->files, &wal->count, &wal->cap, wal->next_lsn,
                               WAL_HEADER_BYTES);
  if (st != VS_OK) return st;
  wal->tail = WAL_HEADER_BYTES;
  return wal_create_file(wal, wal->next_lsn, true, &wal->fd);
}

/* fsync of a log file by name. */
static vs_status wal_sync_file(const char *dir, uint64_t first_lsn) {
  char *path = wal_path(dir, first_lsn);
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = VS_OK;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    st = vs_fail(VS_ERR_IO, "cannot fsync WAL file %s: %s", path, strerror(errno));
  }
  if (fd >= 0) close(fd);
  free(path);
  return st;
}

/* Unless the policy is NONE, what was replayed is made durable before the
 * first new record is acknowledged on top of it (a previous process may
 * have run with NONE). */
static vs_status wal_sync_replayed(vs_wal *wal) {
  if (wal->opt.sync == VS_WAL_SYNC_NONE) return VS_OK;
  for (size_t i = 0; i < wal->count; i++) {
    vs_status st = wal_sync_file(wal->dir, wal->files[i].first_lsn);
    if (st != VS_OK) return st;
    wal->files[i].synced = true;
  }
  return VS_OK;
}

/* vs_wal_open with a requirement: the valid log must reach required_lsn
 * (0 = none), else VS_ERR_CORRUPT naming the file and offset where it ends,
 * and nothing is modified.  The caller passes the largest LSN whose effects
 * its durable state (e.g. deletes files named by a MANIFEST) already holds:
 * a log that ends before it lost acknowledged data even when its end looks
 * like a torn tail. */
vs_status vs_wal_open_required(const char *dir, const vs_wal_options *opt,
                               uint64_t after_lsn, uint64_t required_lsn,
                               vs_wal_replay_fn fn, void *ctx, vs_wal **out) {
  vs_wal_options defaults;
  vs_wal *wal = NULL;
  wal_scan scan = {.dir = dir, .after_lsn = after_lsn, .fn = fn, .ctx = ctx,
                   .required_lsn = required_lsn};
  *out = NULL;
  if (!opt) {
    vs_wal_options_init(&defaults);
    opt = &defaults;
  }
  vs_status st = wal_check_options(opt);
  if (st != VS_OK) return st;
  st = vs_fs_mkdirs(dir);
  if (st != VS_OK) return st;
  st = wal_alloc(dir, opt, &wal);
  if (st != VS_OK) return st;
  st = wal_scan_run(&scan);
  if (st != VS_OK) goto done;
  st = wal_scan_apply(&scan);
  if (st != VS_OK) goto done;
  wal->files = scan.files;
  wal->count = scan.count;
  wal->cap = scan.cap;
  scan.files = NULL;
  st = wal_position(wal, &scan);
  if (st == VS_OK) st = wal_sync_replayed(wal);
  if (st != VS_OK) goto done;
  uint64_t total = 0;
  for (size_t i = 0; i < wal->count; i++) total += wal->files[i].bytes;
  atomic_store(&wal->total_bytes, total);
  if (opt->sync == VS_WAL_SYNC_BATCH) st = wal_batch_start(wal);
done:
  free(scan.files);
  if (st != VS_OK) {
    wal_free(wal);
    return st;
  }
  *out = wal;
  return VS_OK;
}

vs_status vs_wal_open(const char *dir, const vs_wal_options *opt, uint64_t after_lsn,
                      vs_wal_replay_fn fn, void *ctx, vs_wal **out) {
  return vs_wal_open_required(dir, opt, after_lsn, 0, fn, ctx, out);
}

/* Under policy NONE: fsync the older files not yet synced, then the
 * directory (append_mu held).  A failure is sticky like any fsync failure. */
static vs_status wal_sync_older_locked(vs_wal *wal) {
  bool any = false;
  for (size_t i = 0; i + 1 < wal->count; i++) {
    if (wal->files[i].synced) continue;
    vs_status st = wal_sync_file(wal->dir, wal->files[i].first_lsn);
    if (st != VS_OK) return wal_set_failed_message(wal, vs_error_message());
    wal->files[i].synced = true;
    any = true;
  }
  if (any && vs_fs_sync_dir(wal->dir) != VS_OK) {
    return wal_set_failed_message(wal, vs_error_message());
  }
  return VS_OK;
}

/* Makes `lsn` durable whatever the policy: the write-ahead rule for a
 * caller about to make durable a file that holds the effects of records up
 * to `lsn` (a MANIFEST, a deletes file).  Group commit as in vs_wal_sync. */
vs_status vs_wal_flush(vs_wal *wal, uint64_t lsn) {
  if (atomic_load(&wal->failed)) return wal_failed_status(wal);
  uint64_t last = atomic_load(&wal->last_lsn);
  if (lsn > last) {
    return vs_fail(VS_ERR_INVALID, "WAL flush of LSN %" PRIu64 ", but the last appended "
                   "LSN is %" PRIu64, lsn, last);
  }
  if (wal->opt.sync == VS_WAL_SYNC_NONE) {
    pthread_mutex_lock(&wal->append_mu);
    vs_status st = wal_sync_older_locked(wal);
    pthread_mutex_unlock(&wal->append_mu);
    if (st != VS_OK) return st;
  }
  return wal_sync_to(wal, lsn);
}

vs_status vs_wal_close(vs_wal *wal) {
  if (!wal) return VS_OK;
  vs_status st = VS_OK;
  wal_batch_stop(wal);
  if (atomic_load(&wal->failed)) {
    st = wal_failed_status(wal);
    goto done;
  }
  if (wal->opt.sync == VS_WAL_SYNC_NONE) {
    st = wal_sync_older_locked(wal); /* no other thread may use wal now */
    if (st != VS_OK) goto done;
  }
  if (wal_fdatasync(wal->fd) != 0) {
    st = vs_fail(VS_ERR_IO, "fdatasync of the WAL in %s failed at close: %s", wal->dir,
                 strerror(errno));
  }
done:
  wal_free(wal);
  return st;
}

/* -------------------------------------------------------------- checkpoint */

vs_status vs_wal_checkpoint(vs_wal *wal, uint64_t lsn) {
  vs_status st = VS_OK;
  size_t removed = 0;
  pthread_mutex_lock(&wal->append_mu);
  if (atomic_load(&wal->failed)) {
    st = wal_failed_status(wal);
    goto done;
  }
  if (lsn > wal->next_lsn - 1) {
    st = vs_fail(VS_ERR_INVALID, "WAL checkpoint at LSN %" PRIu64 ", but the last "
                 "appended LSN is %" PRIu64, lsn, wal->next_lsn - 1);
    goto done;
  }
  /* The tail holds a record <= lsn: move on so that its file can go. */
  if (wal->tail > WAL_HEADER_BYTES && wal->files[wal->count - 1].first_lsn <= lsn) {
    st = wal_rotate(wal);
    if (st != VS_OK) goto done;
  }
  while (removed + 1 < wal->count && wal->files[removed + 1].first_lsn - 1 <= lsn) {
    st = wal_unlink(wal->dir, wal->files[removed].first_lsn);
    if (st != VS_OK) break;
    atomic_fetch_sub(&wal->total_bytes, wal->files[removed].bytes);
    removed++;
  }
  if (removed > 0) {
    wal->count -= removed;
    memmove(wal->files, wal->files + removed, wal->count * sizeof *wal->files);
    vs_status sync_st = vs_fs_sync_dir(wal->dir);
    if (st == VS_OK) st = sync_st;
  }
done:
  pthread_mutex_unlock(&wal->append_mu);
  return st;
}

uint64_t vs_wal_last_lsn(const vs_wal *wal) { return atomic_load(&wal->last_lsn); }

uint64_t vs_wal_bytes(const vs_wal *wal) { return atomic_load(&wal->total_bytes); }

/* ------------------------------------------------------------------ check */

/* Read-only replay for a read-only open: the records vs_wal_open would
 * replay, with the same errors, but nothing in `dir` is modified (a torn
 * tail is skipped, not cut).  A missing directory holds no records. */
vs_status vs_wal_read(const char *dir, uint64_t after_lsn, uint64_t required_lsn,
                      vs_wal_replay_fn fn, void *ctx) {
  wal_scan scan = {.dir = dir, .after_lsn = after_lsn, .fn = fn, .ctx = ctx,
                   .required_lsn = required_lsn};
  vs_status st = wal_scan_run(&scan);
  if (st == VS_ERR_NOT_FOUND && !vs_fs_exists(dir)) {
    st = wal_scan_require(&scan);
  }
  free(scan.files);
  return st;
}

/* vs_wal_check with the requirement of vs_wal_open_required. */
vs_status vs_wal_check_required(const char *dir, uint64_t required_lsn,
                                vs_report_fn report, void *ctx) {
  wal_scan scan = {.dir = dir, .check_only = true, .report = report, .report_ctx = ctx,
                   .required_lsn = required_lsn};
  vs_status st = wal_scan_run(&scan);
  if (st == VS_ERR_NOT_FOUND) {
    st = vs_fail(VS_ERR_CORRUPT, "WAL directory %s is missing", dir);
  }
  if (st != VS_OK && report) report(ctx, vs_error_message());
  free(scan.files);
  return st;
}

vs_status vs_wal_check(const char *dir, vs_report_fn report, void *ctx) {
  return vs_wal_check_required(dir, 0, report, ctx);
}
