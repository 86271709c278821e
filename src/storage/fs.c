/*
 * fs.c -- the file-system primitives every durable file in vectorstore is
 * built from: mkdir -p, rm -rf, whole-file reads, the crash-safe atomic
 * write, and the exclusive lock on a database directory.
 *
 * The atomic write protocol
 * -------------------------
 *   1. open   path.tmp   O_CREAT | O_TRUNC | O_WRONLY
 *   2. write  all bytes  (retrying EINTR and short writes)
 *   3. fsync  path.tmp   -- the bytes are on disk before the name points at them
 *   4. close             -- close(2) errors are reported (NFS reports late errors here)
 *   5. rename path.tmp -> path   -- atomic replacement on POSIX file systems
 *   6. fsync  the parent directory -- the rename itself is durable
 *
 * After a crash a reader sees either the old file or the new one, never a
 * mixture; at worst a stale path.tmp is left behind, which the next write
 * truncates.  Skipping step 3 is the classic ext4 "zero-length file after
 * crash" bug; skipping step 6 lets the old file reappear after power loss.
 *
 * The directory lock
 * ------------------
 * dir/LOCK is opened (created if needed) and locked with flock(LOCK_EX |
 * LOCK_NB).  flock locks belong to the open file description, so they are
 * released automatically when the process dies (no stale locks to clean up)
 * and a second open() of LOCK in the *same* process conflicts too, which
 * catches a database opened twice by one program.  The holder writes its pid
 * into the file so that the error names it.  The LOCK file is never deleted:
 * unlinking it would let a second process lock a fresh inode while the first
 * still holds the old one.
 *
 * Alternatives rejected: fcntl(F_SETLK) record locks are per process, so a
 * second open in the same process silently "succeeds", and closing *any*
 * descriptor of the file drops the lock; O_EXCL lock files survive crashes
 * and need stale-lock heuristics.
 *
 * Every function here is thread-safe (no shared state besides errno and the
 * per-thread error message).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "storage/storage.h"

static vs_status fs_errno_fail(const char *what, const char *path) {
  int err = errno;
  vs_status st = err == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO;
  return vs_fail(st, "%s %s: %s", what, path, strerror(err));
}

/* Writes all `len` bytes at the current offset, retrying EINTR and short
 * writes.  Returns 0 or -1 with errno set. */
static int fs_write_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) {
      errno = EIO;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int fs_fsync(int fd) {
  int rc;
  do {
    rc = fsync(fd);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

/* The directory part of `path` ("." when there is none), malloc'd. */
static char *fs_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return vs_strdup(".");
  if (slash == path) return vs_strdup("/");
  return vs_strndup(path, (size_t)(slash - path));
}

char *vs_fs_join(const char *dir, const char *name) {
  size_t dlen = strlen(dir);
  size_t nlen = strlen(name);
  bool need_slash = dlen > 0 && dir[dlen - 1] != '/';
  size_t total;
  if (!vs_add_ok(dlen, nlen, &total) || !vs_add_ok(total, 2, &total)) {
    return NULL;
  }
  char *out = malloc(total);
  if (!out) return NULL;
  memcpy(out, dir, dlen);
  size_t pos = dlen;
  if (need_slash) out[pos++] = '/';
  memcpy(out + pos, name, nlen);
  out[pos + nlen] = '\0';
  return out;
}

bool vs_fs_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

vs_status vs_fs_file_size(const char *path, uint64_t *out) {
  struct stat st;
  *out = 0;
  if (stat(path, &st) != 0) return fs_errno_fail("cannot stat", path);
  *out = (uint64_t)st.st_size;
  return VS_OK;
}

/* mkdir one component; an existing directory is fine. */
static vs_status fs_mkdir_one(const char *path) {
  struct stat st;
  if (mkdir(path, 0755) == 0) return VS_OK;
  if (errno != EEXIST) return fs_errno_fail("cannot create directory", path);
  if (stat(path, &st) != 0) return fs_errno_fail("cannot stat", path);
  if (!S_ISDIR(st.st_mode)) {
    return vs_fail(VS_ERR_IO,
                   "cannot create directory %s: it exists and is not a directory", path);
  }
  return VS_OK;
}

vs_status vs_fs_mkdirs(const char *path) {
  if (!path || !path[0]) return vs_fail(VS_ERR_INVALID, "empty directory path");
  vs_status st = VS_OK;
  char *copy = vs_strdup(path);
  if (!copy) return vs_fail(VS_ERR_NOMEM, "out of memory");
  for (char *p = copy + 1; *p; p++) {
    if (*p != '/' || p[-1] == '/') continue;
    *p = '\0';
    st = fs_mkdir_one(copy);
    *p = '/';
    if (st != VS_OK) goto done;
  }
  st = fs_mkdir_one(copy);
done:
  free(copy);
  return st;
}

vs_status vs_fs_sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fs_errno_fail("cannot open directory", dir);
  vs_status st = VS_OK;
  if (fs_fsync(fd) != 0) st = fs_errno_fail("cannot fsync directory", dir);
  close(fd);
  return st;
}

/* nftw has no context pointer; the failing path goes through a per-thread
 * slot instead. */
static _Thread_local char fs_remove_failed_path[PATH_MAX];
static _Thread_local int fs_remove_errno;

static int fs_remove_entry(const char *path, const struct stat *sb, int type,
                           struct FTW *ftw) {
  VS_UNUSED(sb);
  VS_UNUSED(type);
  VS_UNUSED(ftw);
  if (remove(path) == 0 || errno == ENOENT) return 0;
  fs_remove_errno = errno;
  snprintf(fs_remove_failed_path, sizeof fs_remove_failed_path, "%s", path);
  return 1;
}

vs_status vs_fs_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) return VS_OK;
    return fs_errno_fail("cannot stat", path);
  }
  fs_remove_errno = 0;
  int rc = nftw(path, fs_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (rc == 0) return VS_OK;
  if (rc > 0) {
    return vs_fail(VS_ERR_IO, "cannot remove %s: %s", fs_remove_failed_path,
                   strerror(fs_remove_errno));
  }
  return fs_errno_fail("cannot walk", path);
}

vs_status vs_fs_read_all(const char *path, uint8_t **data, size_t *len) {
  vs_status st = VS_OK;
  vs_buf buf = {0};
  struct stat sb;
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fs_errno_fail("cannot open", path);
  if (fstat(fd, &sb) != 0) {
    st = fs_errno_fail("cannot stat", path);
    goto done;
  }
  if (!S_ISREG(sb.st_mode)) {
    st = vs_fail(VS_ERR_IO, "cannot read %s: not a regular file", path);
    goto done;
  }
  /* +1 so a file that did not grow hits EOF without a second reserve. */
  st = vs_buf_reserve(&buf, (size_t)sb.st_size + 1);
  if (st != VS_OK) goto done;
  for (;;) {
    if (buf.cap - buf.len < 2) {
      st = vs_buf_reserve(&buf, buf.cap);
      if (st != VS_OK) goto done;
    }
    ssize_t n = read(fd, buf.data + buf.len, buf.cap - buf.len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = fs_errno_fail("cannot read", path);
      goto done;
    }
    if (n == 0) break;
    buf.len += (size_t)n;
  }
  buf.data[buf.len] = '\0';
  *data = buf.data;
  *len = buf.len;
  buf.data = NULL;
done:
  close(fd);
  vs_buf_free(&buf);
  return st;
}

/* Steps 1-4 of the protocol: the bytes are durable in `tmp`. */
static vs_status fs_write_tmp(const char *tmp, const void *data, size_t len) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fs_errno_fail("cannot create", tmp);
  vs_status st = VS_OK;
  if (fs_write_all(fd, data, len) != 0) {
    st = fs_errno_fail("cannot write", tmp);
  } else if (fs_fsync(fd) != 0) {
    st = fs_errno_fail("cannot fsync", tmp);
  }
  if (close(fd) != 0 && st == VS_OK) st = fs_errno_fail("cannot close", tmp);
  return st;
}

vs_status vs_fs_write_atomic(const char *path, const void *data, size_t len) {
  vs_status st = VS_OK;
  char *tmp = NULL;
  char *parent = NULL;
  size_t plen = strlen(path);
  tmp = malloc(plen + 5);
  parent = fs_parent_dir(path);
  if (!tmp || !parent) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory");
    goto done;
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  st = fs_write_tmp(tmp, data, len);
  if (st != VS_OK) {
    unlink(tmp);
    goto done;
  }
  if (rename(tmp, path) != 0) {
    st = fs_errno_fail("cannot rename to", path);
    unlink(tmp);
    goto done;
  }
  st = vs_fs_sync_dir(parent);
done:
  free(tmp);
  free(parent);
  return st;
}

/* ------------------------------------------------------------ dir lock */

struct vs_dir_lock {
  int fd;
  char *path;
};

/* The pid recorded in an already-locked LOCK file, or -1. */
static long fs_lock_holder(int fd) {
  char text[32];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return -1;
  text[n] = '\0';
  char *end = NULL;
  errno = 0;
  long pid = strtol(text, &end, 10);
  if (errno != 0 || end == text || pid <= 0) return -1;
  return pid;
}

static vs_status fs_lock_busy(const char *dir, int fd) {
  long pid = fs_lock_holder(fd);
  if (pid < 0) {
    return vs_fail(VS_ERR_BUSY,
                   "database directory %s is in use by another process (pid unknown)",
                   dir);
  }
  if (pid == (long)getpid()) {
    return vs_fail(VS_ERR_BUSY,
                   "database directory %s is already open in this process (pid %ld)",
                   dir, pid);
  }
  return vs_fail(VS_ERR_BUSY,
                 "database directory %s is in use by another process (pid %ld)",
                 dir, pid);
}

static int fs_flock_nonblocking(int fd) {
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

/* Records our pid in the locked file (best effort: the lock is what counts). */
static void fs_lock_write_pid(int fd) {
  char text[32];
  int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0) return;
  if (pwrite(fd, text, (size_t)n, 0) != n) return;
}

vs_status vs_dir_lock_acquire(const char *dir, vs_dir_lock **out) {
  vs_status st = VS_OK;
  vs_dir_lock *lock = NULL;
  int fd = -1;
  *out = NULL;
  char *path = vs_fs_join(dir, "LOCK");
  if (!path) return vs_fail(VS_ERR_NOMEM, "out of memory");
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    st = fs_errno_fail("cannot open lock file", path);
    goto done;
  }
  if (fs_flock_nonblocking(fd) != 0) {
    st = errno == EWOULDBLOCK ? fs_lock_busy(dir, fd)
                              : fs_errno_fail("cannot lock", path);
    goto done;
  }
  lock = malloc(sizeof *lock);
  if (!lock) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory");
    goto done;
  }
  fs_lock_write_pid(fd);
  lock->fd = fd;
  lock->path = path;
  *out = lock;
  fd = -1;
  path = NULL;
done:
  if (fd >= 0) close(fd);
  free(path);
  return st;
}

void vs_dir_lock_release(vs_dir_lock *lock) {
  if (!lock) return;
  close(lock->fd); /* closing the last descriptor releases the flock */
  free(lock->path);
  free(lock);
}
