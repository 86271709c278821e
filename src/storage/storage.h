/*
 * storage.h -- the whole interface of src/storage/: crash-safe files, the
 * write-ahead log and sealed segment files.  Storage knows bytes, not
 * schemas: the engine decides what a WAL record or a segment section means.
 *
 * Every file starts with an 8-byte magic, a format version and a header
 * checksum (XXH3-64).  Readers treat every byte as hostile: lengths are
 * checked before use, unknown or newer versions are VS_ERR_CORRUPT, and a
 * message names the file and the offset.
 */
#ifndef VS_STORAGE_H
#define VS_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ------------------------------------------------------------ file system */

/* mkdir -p (mode 0755). */
vs_status vs_fs_mkdirs(const char *path);
/* fsync of a directory, so a rename or create in it is durable. */
vs_status vs_fs_sync_dir(const char *dir);
/* rm -rf. */
vs_status vs_fs_remove_tree(const char *path);
bool vs_fs_exists(const char *path);
vs_status vs_fs_file_size(const char *path, uint64_t *out);
/* Reads a whole file (adds a NUL after the bytes). */
vs_status vs_fs_read_all(const char *path, uint8_t **data, size_t *len);
/* The crash-safe write: path.tmp, write, fsync, rename over path, fsync the
 * directory. */
vs_status vs_fs_write_atomic(const char *path, const void *data, size_t len);
/* Joins dir + "/" + name into a malloc'd string (NULL on NOMEM). */
char *vs_fs_join(const char *dir, const char *name);

/* Exclusive advisory lock on dir/LOCK (flock).  VS_ERR_BUSY with a clear
 * message (naming the holder's pid when known) if another process has it. */
typedef struct vs_dir_lock vs_dir_lock;
vs_status vs_dir_lock_acquire(const char *dir, vs_dir_lock **out);
void vs_dir_lock_release(vs_dir_lock *lock);

/* ------------------------------------------------------- checked files */

/*
 * A small whole-file container used for MANIFEST and CATALOG: magic (8),
 * version u32, payload length u64, payload XXH3 u64, header XXH3 u64, then
 * the payload.  Written with vs_fs_write_atomic.
 */
vs_status vs_checked_file_write(const char *path, const char magic[8],
                                uint32_t version, const void *payload,
                                size_t len);
/* Reads and verifies; *version receives the stored version, which must be
 * <= max_version.  *payload is malloc'd (NUL-terminated) -> free(). */
vs_status vs_checked_file_read(const char *path, const char magic[8],
                               uint32_t max_version, uint32_t *version,
                               uint8_t **payload, size_t *len);

/* ---------------------------------------------------------- write-ahead log */

typedef enum vs_wal_sync {
  VS_WAL_SYNC_ALWAYS = 0,
  VS_WAL_SYNC_BATCH = 1,
  VS_WAL_SYNC_NONE = 2
} vs_wal_sync_policy;

typedef struct vs_wal vs_wal;

/* Called once per valid record with LSN > after_lsn, in LSN order. */
typedef vs_status (*vs_wal_replay_fn)(void *ctx, uint64_t lsn, uint32_t type,
                                      const uint8_t *payload, size_t len);

typedef struct vs_wal_options {
  vs_wal_sync_policy sync;
  uint32_t batch_interval_ms;   /* VS_WAL_SYNC_BATCH period */
  uint64_t file_bytes;          /* rotate after this many bytes (64 MiB) */
  uint32_t max_record_bytes;    /* larger records are refused (1 GiB) */
} vs_wal_options;

void vs_wal_options_init(vs_wal_options *opt);

/*
 * Opens the log in directory `dir` (created if missing), replays every valid
 * record with LSN > after_lsn through `fn` (may be NULL), truncates a torn
 * tail (an invalid record that no valid record follows) and positions for
 * appending.  Corruption followed by valid records is VS_ERR_CORRUPT (data
 * that was acknowledged would otherwise be silently lost).  The next LSN is
 * max(last valid LSN, after_lsn) + 1.
 */
vs_status vs_wal_open(const char *dir, const vs_wal_options *opt,
                      uint64_t after_lsn, vs_wal_replay_fn fn, void *ctx,
                      vs_wal **out);
/* Appends one record (written to the OS before returning) and returns its
 * LSN.  Thread-safe; LSNs are consecutive in append order. */
vs_status vs_wal_append(vs_wal *wal, uint32_t type, const void *payload,
                        size_t len, uint64_t *lsn);
/* Returns when the record `lsn` is durable under the policy (ALWAYS:
 * fdatasync, shared by concurrent callers -- group commit; BATCH/NONE:
 * immediately).  A failed fsync makes every later call fail with VS_ERR_IO. */
vs_status vs_wal_sync(vs_wal *wal, uint64_t lsn);
/* Everything up to `lsn` is now in sealed files: start a new log file and
 * delete files that hold only records <= lsn. */
vs_status vs_wal_checkpoint(vs_wal *wal, uint64_t lsn);
/* Makes `lsn` durable whatever the policy: the write-ahead rule before a
 * MANIFEST or deletes file that reflects records up to `lsn` is written. */
vs_status vs_wal_flush(vs_wal *wal, uint64_t lsn);
/* vs_wal_open, but VS_ERR_CORRUPT (naming file and offset, nothing
 * truncated) if the valid log ends before `required_lsn`: the caller's
 * durable state already holds the effects of records up to there. */
vs_status vs_wal_open_required(const char *dir, const vs_wal_options *opt,
                               uint64_t after_lsn, uint64_t required_lsn,
                               vs_wal_replay_fn fn, void *ctx, vs_wal **out);
/* Replays like vs_wal_open_required but never modifies `dir` (a torn tail
 * is skipped, not truncated): for read-only opens. */
vs_status vs_wal_read(const char *dir, uint64_t after_lsn, uint64_t required_lsn,
                      vs_wal_replay_fn fn, void *ctx);
/* vs_wal_check with the requirement of vs_wal_open_required. */
vs_status vs_wal_check_required(const char *dir, uint64_t required_lsn,
                                vs_report_fn report, void *ctx);
uint64_t vs_wal_last_lsn(const vs_wal *wal);
/* Bytes in live log files. */
uint64_t vs_wal_bytes(const vs_wal *wal);
/* Syncs (whatever the policy) and closes.  NULL is a no-op. */
vs_status vs_wal_close(vs_wal *wal);

/* Offline verification of a log directory for `vectorstore check`: reports
 * each problem through `report` and returns VS_ERR_CORRUPT if any. */
vs_status vs_wal_check(const char *dir, vs_report_fn report, void *ctx);

/* --------------------------------------------------------- segment files */

/*
 * A sealed segment file: header, a section directory, then sections, each
 * aligned to 64 bytes and checksummed.  The engine names sections with
 * 32-bit ids and decides their contents.  Files are written once and
 * mapped read-only.
 */
typedef struct vs_segfile_section {
  uint32_t id;
  const void *data;
  size_t len;
} vs_segfile_section;

/* Writes sections (ids unique) to `path` crash-safely (tmp, fsync, rename,
 * fsync dir). */
vs_status vs_segfile_write(const char *path, const vs_segfile_section *sections,
                           size_t count);
/* Same, but sections are produced by a callback so large segments need not
 * be assembled in memory: for section i, fn fills *section. */
typedef vs_status (*vs_segfile_source_fn)(void *ctx, size_t i,
                                          vs_segfile_section *section);
vs_status vs_segfile_write_from(const char *path, size_t count,
                                vs_segfile_source_fn fn, void *ctx);

typedef struct vs_segfile vs_segfile;

/* Maps `path` read-only and checks the header and directory; with `verify`
 * also every section checksum.  Errors name the file and section. */
vs_status vs_segfile_open(const char *path, bool verify, vs_segfile **out);
/* Checks every section checksum. */
vs_status vs_segfile_verify(const vs_segfile *f);
/* Borrowed pointer to a section (64-byte aligned), or NULL if absent. */
const void *vs_segfile_get(const vs_segfile *f, uint32_t id, size_t *len);
size_t vs_segfile_section_count(const vs_segfile *f);
uint32_t vs_segfile_section_id(const vs_segfile *f, size_t i);
uint64_t vs_segfile_size(const vs_segfile *f);
void vs_segfile_close(vs_segfile *f);

#endif /* VS_STORAGE_H */
