/*
 * test_fs.c -- file-system primitives, checked files and the directory lock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/storage.h"

static const char test_magic[8] = {'V', 'S', 'T', 'E', 'S', 'T', '0', '1'};

static int make_tmpdir(void **state) {
  char *dir = strdup("/tmp/vs-test-fs-XXXXXX");
  assert_non_null(dir);
  assert_non_null(mkdtemp(dir));
  *state = dir;
  return 0;
}

static int remove_tmpdir(void **state) {
  char *dir = *state;
  assert_int_equal(vs_fs_remove_tree(dir), VS_OK);
  assert_false(vs_fs_exists(dir));
  free(dir);
  return 0;
}

static char *path_in(void **state, const char *name) {
  char *p = vs_fs_join(*state, name);
  assert_non_null(p);
  return p;
}

static void write_raw(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (len) assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void expect_message(const char *needle) {
  const char *msg = vs_error_message();
  if (!strstr(msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

/* ------------------------------------------------------------------ fs */

static void test_join(void **state) {
  (void)state;
  char *a = vs_fs_join("/db", "MANIFEST");
  char *b = vs_fs_join("/db/", "MANIFEST");
  char *c = vs_fs_join("", "x");
  assert_string_equal(a, "/db/MANIFEST");
  assert_string_equal(b, "/db/MANIFEST");
  assert_string_equal(c, "x");
  free(a);
  free(b);
  free(c);
}

static void test_mkdirs_and_exists(void **state) {
  char *deep = path_in(state, "a/b//c/d/");
  assert_int_equal(vs_fs_mkdirs(deep), VS_OK);
  assert_true(vs_fs_exists(deep));
  assert_int_equal(vs_fs_mkdirs(deep), VS_OK); /* idempotent */
  char *file = path_in(state, "a/plain");
  write_raw(file, "x", 1);
  char *under = path_in(state, "a/plain/sub");
  assert_int_equal(vs_fs_mkdirs(under), VS_ERR_IO);
  assert_int_equal(vs_fs_mkdirs(file), VS_ERR_IO);
  expect_message("not a directory");
  assert_int_equal(vs_fs_mkdirs(""), VS_ERR_INVALID);
  free(deep);
  free(file);
  free(under);
}

static void test_write_atomic_round_trip(void **state) {
  char *path = path_in(state, "blob");
  char *tmp = path_in(state, "blob.tmp");
  uint8_t data[5000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + 3);
  assert_int_equal(vs_fs_write_atomic(path, data, sizeof data), VS_OK);
  assert_false(vs_fs_exists(tmp));
  uint64_t size = 0;
  assert_int_equal(vs_fs_file_size(path, &size), VS_OK);
  assert_int_equal(size, sizeof data);
  uint8_t *back = NULL;
  size_t len = 0;
  assert_int_equal(vs_fs_read_all(path, &back, &len), VS_OK);
  assert_int_equal(len, sizeof data);
  assert_memory_equal(back, data, sizeof data);
  assert_int_equal(back[len], 0);
  free(back);
  /* Replace with an empty file. */
  assert_int_equal(vs_fs_write_atomic(path, NULL, 0), VS_OK);
  assert_int_equal(vs_fs_read_all(path, &back, &len), VS_OK);
  assert_int_equal(len, 0);
  assert_int_equal(back[0], 0);
  free(back);
  free(path);
  free(tmp);
}

static void test_missing_files(void **state) {
  char *path = path_in(state, "nope");
  uint8_t *data = (uint8_t *)"sentinel";
  size_t len = 99;
  uint64_t size = 1;
  assert_int_equal(vs_fs_read_all(path, &data, &len), VS_ERR_NOT_FOUND);
  assert_null(data);
  assert_int_equal(len, 0);
  expect_message("nope");
  assert_int_equal(vs_fs_file_size(path, &size), VS_ERR_NOT_FOUND);
  assert_int_equal(vs_fs_sync_dir(path), VS_ERR_NOT_FOUND);
  assert_int_equal(vs_fs_remove_tree(path), VS_OK);
  char *in_missing = path_in(state, "nodir/file");
  assert_int_equal(vs_fs_write_atomic(in_missing, "x", 1), VS_ERR_NOT_FOUND);
  assert_int_equal(vs_fs_read_all(*state, &data, &len), VS_ERR_IO); /* a directory */
  free(path);
  free(in_missing);
}

static void test_remove_tree(void **state) {
  char *root = path_in(state, "tree");
  char *deep = path_in(state, "tree/x/y/z");
  char *f1 = path_in(state, "tree/x/f1");
  char *f2 = path_in(state, "tree/x/y/z/f2");
  char *link = path_in(state, "tree/link");
  char *outside = path_in(state, "outside");
  assert_int_equal(vs_fs_mkdirs(deep), VS_OK);
  write_raw(f1, "1", 1);
  write_raw(f2, "2", 1);
  write_raw(outside, "keep", 4);
  assert_int_equal(symlink(outside, link), 0);
  assert_int_equal(vs_fs_remove_tree(root), VS_OK);
  assert_false(vs_fs_exists(root));
  assert_true(vs_fs_exists(outside)); /* symlinks are not followed */
  assert_int_equal(vs_fs_remove_tree(outside), VS_OK); /* a plain file */
  assert_false(vs_fs_exists(outside));
  free(root);
  free(deep);
  free(f1);
  free(f2);
  free(link);
  free(outside);
}

/* ------------------------------------------------------------ dir lock */

static void test_dir_lock_same_process(void **state) {
  vs_dir_lock *a = NULL, *b = NULL;
  assert_int_equal(vs_dir_lock_acquire(*state, &a), VS_OK);
  assert_non_null(a);
  assert_int_equal(vs_dir_lock_acquire(*state, &b), VS_ERR_BUSY);
  assert_null(b);
  char pid[32];
  snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
  expect_message(pid);
  expect_message(*state);
  vs_dir_lock_release(a);
  assert_int_equal(vs_dir_lock_acquire(*state, &b), VS_OK);
  vs_dir_lock_release(b);
  vs_dir_lock_release(NULL);
}

/* Child: exit 0 when the lock is busy and the message names `holder`. */
static int child_expect_busy(const char *dir, long holder) {
  vs_dir_lock *lock = NULL;
  char want[64];
  snprintf(want, sizeof want, "in use by another process (pid %ld)", holder);
  if (vs_dir_lock_acquire(dir, &lock) != VS_ERR_BUSY) return 1;
  if (!strstr(vs_error_message(), want)) return 2;
  return 0;
}

static int run_child(int (*fn)(const char *, long), const char *dir, long arg) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(fn(dir, arg));
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static int child_expect_free(const char *dir, long unused) {
  (void)unused;
  vs_dir_lock *lock = NULL;
  if (vs_dir_lock_acquire(dir, &lock) != VS_OK) return 1;
  vs_dir_lock_release(lock);
  return 0;
}

static void test_dir_lock_other_process(void **state) {
  vs_dir_lock *lock = NULL;
  assert_int_equal(vs_dir_lock_acquire(*state, &lock), VS_OK);
  assert_int_equal(run_child(child_expect_busy, *state, (long)getpid()), 0);
  vs_dir_lock_release(lock);
  assert_int_equal(run_child(child_expect_free, *state, 0), 0);
}

/* -------------------------------------------------------- checked files */

static void test_checked_round_trip(void **state) {
  char *path = path_in(state, "MANIFEST");
  const char *text = "{\"collections\": []}";
  assert_int_equal(vs_checked_file_write(path, test_magic, 3, text, strlen(text)), VS_OK);
  uint32_t version = 0;
  uint8_t *payload = NULL;
  size_t len = 0;
  assert_int_equal(vs_checked_file_read(path, test_magic, 3, &version, &payload, &len),
                   VS_OK);
  assert_int_equal(version, 3);
  assert_int_equal(len, strlen(text));
  assert_string_equal((char *)payload, text); /* NUL-terminated */
  free(payload);
  /* Empty payload. */
  assert_int_equal(vs_checked_file_write(path, test_magic, 1, NULL, 0), VS_OK);
  assert_int_equal(vs_checked_file_read(path, test_magic, 1, &version, &payload, &len),
                   VS_OK);
  assert_int_equal(len, 0);
  assert_int_equal(payload[0], 0);
  free(payload);
  assert_int_equal(vs_checked_file_write(path, test_magic, 0, NULL, 0), VS_ERR_INVALID);
  free(path);
}

static vs_status read_checked(const char *path, uint32_t max_version) {
  uint32_t version = 77;
  uint8_t *payload = (uint8_t *)"sentinel";
  size_t len = 77;
  vs_status st = vs_checked_file_read(path, test_magic, max_version, &version, &payload,
                                      &len);
  if (st != VS_OK) {
    assert_null(payload);
    assert_int_equal(len, 0);
  } else {
    free(payload);
  }
  return st;
}

static void test_checked_every_flipped_byte(void **state) {
  char *path = path_in(state, "CATALOG");
  uint8_t payload[100];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)i;
  assert_int_equal(vs_checked_file_write(path, test_magic, 1, payload, sizeof payload),
                   VS_OK);
  uint8_t *good = NULL;
  size_t size = 0;
  assert_int_equal(vs_fs_read_all(path, &good, &size), VS_OK);
  assert_int_equal(size, 36 + sizeof payload);
  for (size_t i = 0; i < size; i++) {
    good[i] ^= 0x40;
    write_raw(path, good, size);
    good[i] ^= 0x40;
    assert_int_equal(read_checked(path, 1), VS_ERR_CORRUPT);
    expect_message(path);
    if (i < 8) expect_message("bad magic");
    if (i >= 36) expect_message("checksum mismatch (file corrupted)");
  }
  write_raw(path, good, size);
  assert_int_equal(read_checked(path, 1), VS_OK);
  free(good);
  free(path);
}

static void test_checked_truncation(void **state) {
  char *path = path_in(state, "MANIFEST");
  const char *text = "0123456789abcdef0123456789";
  assert_int_equal(vs_checked_file_write(path, test_magic, 1, text, strlen(text)), VS_OK);
  uint8_t *good = NULL;
  size_t size = 0;
  assert_int_equal(vs_fs_read_all(path, &good, &size), VS_OK);
  for (size_t cut = 0; cut < size; cut++) {
    write_raw(path, good, cut);
    assert_int_equal(read_checked(path, 1), VS_ERR_CORRUPT);
    expect_message("truncated (expected ");
  }
  write_raw(path, good, 36 + 10);
  assert_int_equal(read_checked(path, 1), VS_ERR_CORRUPT);
  expect_message("truncated (expected 62 bytes, found 46)");
  /* Trailing bytes. */
  uint8_t *longer = malloc(size + 3);
  memcpy(longer, good, size);
  memcpy(longer + size, "xyz", 3);
  write_raw(path, longer, size + 3);
  assert_int_equal(read_checked(path, 1), VS_ERR_CORRUPT);
  expect_message("trailing bytes");
  free(longer);
  free(good);
  free(path);
}

static void test_checked_versions_and_magic(void **state) {
  char *path = path_in(state, "MANIFEST");
  assert_int_equal(vs_checked_file_write(path, test_magic, 7, "abc", 3), VS_OK);
  assert_int_equal(read_checked(path, 1), VS_ERR_CORRUPT);
  expect_message("format version 7 is newer than this build supports (max 1)");
  assert_int_equal(read_checked(path, 7), VS_OK);
  static const char other[8] = {'V', 'S', 'O', 'T', 'H', 'E', 'R', 0};
  uint32_t version;
  uint8_t *payload = NULL;
  size_t len;
  assert_int_equal(vs_checked_file_read(path, other, 9, &version, &payload, &len),
                   VS_ERR_CORRUPT);
  expect_message("bad magic");
  expect_message("\\x00");
  assert_null(payload);
  char *missing = path_in(state, "missing");
  assert_int_equal(read_checked(missing, 1), VS_ERR_NOT_FOUND);
  free(missing);
  free(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_join),
      cmocka_unit_test_setup_teardown(test_mkdirs_and_exists, make_tmpdir, remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_write_atomic_round_trip, make_tmpdir,
                                      remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_missing_files, make_tmpdir, remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_remove_tree, make_tmpdir, remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_dir_lock_same_process, make_tmpdir,
                                      remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_dir_lock_other_process, make_tmpdir,
                                      remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_checked_round_trip, make_tmpdir, remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_checked_every_flipped_byte, make_tmpdir,
                                      remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_checked_truncation, make_tmpdir, remove_tmpdir),
      cmocka_unit_test_setup_teardown(test_checked_versions_and_magic, make_tmpdir,
                                      remove_tmpdir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
