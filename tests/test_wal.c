/*
 * test_wal.c -- the write-ahead log: round trips, rotation, checkpoints,
 * group commit under concurrency, torn tails, corruption, sticky errors and
 * the offline check.
 *
 * Payloads are derived from their LSN (length, type and bytes), so a replay
 * can be checked byte for byte without keeping copies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage.h"

#define ONE_MIB (1u << 20)

/* Implemented in wal.c, proposed for storage.h (not declared there yet). */
vs_status vs_wal_flush(vs_wal *wal, uint64_t lsn);
vs_status vs_wal_open_required(const char *dir, const vs_wal_options *opt,
                               uint64_t after_lsn, uint64_t required_lsn,
                               vs_wal_replay_fn fn, void *ctx, vs_wal **out);
vs_status vs_wal_check_required(const char *dir, uint64_t required_lsn,
                                vs_report_fn report, void *ctx);
vs_status vs_wal_read(const char *dir, uint64_t after_lsn, uint64_t required_lsn,
                      vs_wal_replay_fn fn, void *ctx);

/* ---------------------------------------------------------------- helpers */

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Record `lsn` of the standard test stream: every 50th is empty, LSN 77 is
 * 1 MiB, the rest 1..3000 bytes. */
static size_t len_of(uint64_t lsn) {
  uint64_t s = lsn * 31 + 7;
  if (lsn % 50 == 0) return 0;
  if (lsn == 77) return ONE_MIB;
  return 1 + (size_t)(splitmix(&s) % 3000);
}

static uint32_t type_of(uint64_t lsn) { return (uint32_t)(lsn * 2654435761u) % 7; }

static void fill_payload(uint8_t *buf, size_t len, uint64_t lsn) {
  uint64_t s = lsn;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t v = splitmix(&s);
    size_t n = len - i < 8 ? len - i : 8;
    memcpy(buf + i, &v, n);
  }
}

static uint8_t *payload_buf;

static int setup_payload_buf(void **state) {
  (void)state;
  payload_buf = malloc(ONE_MIB);
  return payload_buf ? 0 : -1;
}

static int teardown_payload_buf(void **state) {
  (void)state;
  free(payload_buf);
  return 0;
}

static void append_std(vs_wal *wal, uint64_t lsn) {
  size_t len = len_of(lsn);
  fill_payload(payload_buf, len, lsn);
  uint64_t got = 0;
  assert_int_equal(vs_wal_append(wal, type_of(lsn), payload_buf, len, &got), VS_OK);
  assert_int_equal(got, lsn);
}

typedef struct replay_log {
  uint64_t first;
  uint64_t next;
  size_t count;
  uint8_t *scratch;
} replay_log;

/* Checks each replayed record against the standard stream. */
static vs_status replay_check(void *ctx, uint64_t lsn, uint32_t type,
                              const uint8_t *payload, size_t len) {
  replay_log *r = ctx;
  if (r->count == 0) {
    r->first = lsn;
  } else {
    assert_int_equal(lsn, r->next);
  }
  assert_int_equal(type, type_of(lsn));
  assert_int_equal(len, len_of(lsn));
  fill_payload(r->scratch, len, lsn);
  assert_memory_equal(payload, r->scratch, len);
  r->next = lsn + 1;
  r->count++;
  return VS_OK;
}

static vs_wal_options options_with(int sync, uint64_t file_bytes) {
  vs_wal_options opt;
  vs_wal_options_init(&opt);
  opt.sync = sync;
  opt.file_bytes = file_bytes;
  return opt;
}

static vs_status open_replay(const char *dir, int sync, uint64_t file_bytes,
                             uint64_t after, replay_log *log, vs_wal **out) {
  vs_wal_options opt = options_with(sync, file_bytes);
  memset(log, 0, sizeof *log);
  log->scratch = payload_buf;
  return vs_wal_open(dir, &opt, after, replay_check, log, out);
}

static int make_tmpdir(void **state) {
  char *dir = strdup("/tmp/vs-test-wal-XXXXXX");
  if (!dir || !mkdtemp(dir)) return -1;
  *state = dir;
  return 0;
}

static int remove_tmpdir(void **state) {
  char *dir = *state;
  assert_int_equal(vs_fs_remove_tree(dir), VS_OK);
  free(dir);
  return 0;
}

/* Sorted names of the wal-*.log files in dir. */
static size_t list_wal(const char *dir, char names[][64], size_t max) {
  size_t n = 0;
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "wal-", 4) != 0) continue;
    assert_true(n < max);
    assert_true(strlen(e->d_name) < 64);
    memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
  }
  closedir(d);
  qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
  return n;
}

static char *file_in(const char *dir, const char *name) {
  char *p = vs_fs_join(dir, name);
  assert_non_null(p);
  return p;
}

static void read_file(const char *path, uint8_t **data, size_t *len) {
  assert_int_equal(vs_fs_read_all(path, data, len), VS_OK);
}

static void write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  if (len) assert_int_equal(write(fd, data, len), (ssize_t)len);
  close(fd);
}

static uint64_t size_of(const char *path) {
  uint64_t size = 0;
  assert_int_equal(vs_fs_file_size(path, &size), VS_OK);
  return size;
}

static void expect_message(const char *needle) {
  const char *msg = vs_error_message();
  if (!strstr(msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

/* Writes LSNs 1..n of the standard stream and closes. */
static void write_stream(const char *dir, int sync, uint64_t file_bytes, uint64_t n) {
  vs_wal_options opt = options_with(sync, file_bytes);
  vs_wal *wal = NULL;
  assert_int_equal(vs_wal_open(dir, &opt, 0, NULL, NULL, &wal), VS_OK);
  for (uint64_t lsn = 1; lsn <= n; lsn++) append_std(wal, lsn);
  assert_int_equal(vs_wal_last_lsn(wal), n);
  assert_int_equal(vs_wal_close(wal), VS_OK);
}

/* ------------------------------------------------------------ round trips */

static void test_round_trip(void **state) {
  const char *dir = *state;
  const uint64_t n = 160;
  vs_wal_options opt = options_with(VS_WAL_SYNC_ALWAYS, 64u << 20);
  vs_wal *wal = NULL;
  replay_log log;
  assert_int_equal(vs_wal_open(dir, &opt, 0, replay_check, &log, &wal), VS_OK);
  assert_int_equal(vs_wal_last_lsn(wal), 0);
  assert_int_equal(vs_wal_bytes(wal), 32);
  uint64_t bytes = 32;
  for (uint64_t lsn = 1; lsn <= n; lsn++) {
    append_std(wal, lsn);
    bytes += 24 + len_of(lsn);
    if (lsn % 10 == 0) assert_int_equal(vs_wal_sync(wal, lsn), VS_OK);
  }
  assert_int_equal(vs_wal_bytes(wal), bytes);
  assert_int_equal(vs_wal_sync(wal, n + 1), VS_ERR_INVALID);
  assert_int_equal(vs_wal_close(wal), VS_OK);

  assert_int_equal(open_replay(dir, VS_WAL_SYNC_ALWAYS, 64u << 20, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, n);
  assert_int_equal(log.first, 1);
  assert_int_equal(vs_wal_last_lsn(wal), n);
  assert_int_equal(vs_wal_bytes(wal), bytes);
  append_std(wal, n + 1); /* continues the same stream */
  assert_int_equal(vs_wal_close(wal), VS_OK);
  assert_int_equal(vs_wal_close(NULL), VS_OK);

  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 64u << 20, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, n + 1);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  char names[8][64];
  assert_int_equal(list_wal(dir, names, 8), 1);
  assert_string_equal(names[0], "wal-0000000000000001.log");
}

static void test_replay_after_lsn(void **state) {
  const char *dir = *state;
  replay_log log;
  vs_wal *wal = NULL;
  write_stream(dir, VS_WAL_SYNC_NONE, 16384, 120);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 16384, 100, &log, &wal), VS_OK);
  assert_int_equal(log.count, 20);
  assert_int_equal(log.first, 101);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  /* Nothing after 120: no callbacks, and appending continues at 121. */
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 16384, 120, &log, &wal), VS_OK);
  assert_int_equal(log.count, 0);
  assert_int_equal(vs_wal_last_lsn(wal), 120);
  append_std(wal, 121);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  /* (each open deleted the files holding only LSNs <= its after_lsn, so an
   * older after_lsn now finds LSNs missing) */
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 16384, 100, &log, &wal),
                   VS_ERR_CORRUPT);
  expect_message("are missing");
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 16384, 120, &log, &wal), VS_OK);
  assert_int_equal(log.count, 1);
  assert_int_equal(log.first, 121);
  assert_int_equal(vs_wal_close(wal), VS_OK);
}

/* The checkpoint (after_lsn) is past the end of the log, as when sealed data
 * reached disk but the log tail was lost under policy NONE. */
static void test_after_lsn_beyond_log(void **state) {
  const char *dir = *state;
  replay_log log;
  vs_wal *wal = NULL;
  write_stream(dir, VS_WAL_SYNC_NONE, 4096, 30);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 40, &log, &wal), VS_OK);
  assert_int_equal(log.count, 0);
  assert_int_equal(vs_wal_last_lsn(wal), 40);
  append_std(wal, 41);
  append_std(wal, 42);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  char names[64][64];
  assert_int_equal(list_wal(dir, names, 64), 1); /* old files were all <= 40 */
  assert_string_equal(names[0], "wal-0000000000000029.log");
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 40, &log, &wal), VS_OK);
  assert_int_equal(log.count, 2);
  assert_int_equal(log.first, 41);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  /* Without the checkpoint the missing LSNs 1..40 are detected. */
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 0, &log, &wal),
                   VS_ERR_CORRUPT);
  expect_message("LSNs 1..40 are missing");
  assert_null(wal);
}

static void test_rotation(void **state) {
  const char *dir = *state;
  replay_log log;
  vs_wal *wal = NULL;
  const uint64_t n = 140; /* includes the 1 MiB record 77 */
  write_stream(dir, VS_WAL_SYNC_BATCH, 8192, n);
  char names[256][64];
  size_t files = list_wal(dir, names, 256);
  assert_true(files > 20);
  uint64_t prev_first = 0;
  for (size_t i = 0; i < files; i++) {
    char *path = file_in(dir, names[i]);
    uint64_t first = strtoull(names[i] + 4, NULL, 16);
    uint64_t size = size_of(path);
    assert_true(first > prev_first);
    /* a file passes file_bytes only when it holds a single record */
    if (size > 8192) {
      assert_true(i + 1 == files || strtoull(names[i + 1] + 4, NULL, 16) == first + 1);
    }
    prev_first = first;
    free(path);
  }
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_BATCH, 8192, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, n);
  for (uint64_t lsn = n + 1; lsn <= n + 40; lsn++) append_std(wal, lsn);
  assert_int_equal(vs_wal_sync(wal, n + 40), VS_OK); /* BATCH: returns at once */
  assert_int_equal(vs_wal_close(wal), VS_OK);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 8192, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, n + 40);
  assert_int_equal(vs_wal_close(wal), VS_OK);
}

static void test_checkpoint(void **state) {
  const char *dir = *state;
  replay_log log;
  vs_wal *wal = NULL;
  char names[256][64];
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_ALWAYS, 4096, 0, &log, &wal), VS_OK);
  for (uint64_t lsn = 1; lsn <= 60; lsn++) append_std(wal, lsn);
  size_t before = list_wal(dir, names, 256);
  uint64_t bytes_before = vs_wal_bytes(wal);
  assert_int_equal(vs_wal_checkpoint(wal, 61), VS_ERR_INVALID);
  assert_int_equal(vs_wal_checkpoint(wal, 45), VS_OK);
  size_t after = list_wal(dir, names, 256);
  assert_true(after < before);
  assert_true(vs_wal_bytes(wal) < bytes_before);
  /* The oldest survivor must still hold LSN 46. */
  assert_true(strtoull(names[0] + 4, NULL, 16) <= 46);
  assert_true(strtoull(names[1] + 4, NULL, 16) > 46);
  /* Checkpoint of everything: only a fresh file remains. */
  assert_int_equal(vs_wal_checkpoint(wal, 60), VS_OK);
  assert_int_equal(list_wal(dir, names, 256), 1);
  assert_string_equal(names[0], "wal-000000000000003d.log");
  assert_int_equal(vs_wal_bytes(wal), 32);
  assert_int_equal(vs_wal_checkpoint(wal, 60), VS_OK); /* idempotent, no new file */
  assert_int_equal(list_wal(dir, names, 256), 1);
  for (uint64_t lsn = 61; lsn <= 70; lsn++) append_std(wal, lsn);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_ALWAYS, 4096, 60, &log, &wal), VS_OK);
  assert_int_equal(log.count, 10);
  assert_int_equal(log.first, 61);
  assert_int_equal(vs_wal_close(wal), VS_OK);
}

static void test_open_deletes_checkpointed_files(void **state) {
  const char *dir = *state;
  replay_log log;
  vs_wal *wal = NULL;
  char names[256][64];
  write_stream(dir, VS_WAL_SYNC_NONE, 4096, 60);
  size_t before = list_wal(dir, names, 256);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 50, &log, &wal), VS_OK);
  assert_int_equal(log.count, 10);
  size_t after = list_wal(dir, names, 256);
  assert_true(after < before);
  assert_true(strtoull(names[0] + 4, NULL, 16) <= 51);
  assert_int_equal(vs_wal_close(wal), VS_OK);
}

/* -------------------------------------------------------------- concurrency */

enum { THREADS = 4, PER_THREAD = 60 };

typedef struct writer_arg {
  vs_wal *wal;
  uint32_t thread;
  uint64_t lsns[PER_THREAD];
} writer_arg;

static void *writer_main(void *p) {
  writer_arg *a = p;
  for (uint32_t seq = 0; seq < PER_THREAD; seq++) {
    uint8_t payload[40];
    memset(payload, (int)a->thread, sizeof payload);
    vs_store_u32(payload, a->thread);
    vs_store_u32(payload + 4, seq);
    size_t len = 8 + (seq * 7 + a->thread) % 32;
    if (vs_wal_append(a->wal, a->thread, payload, len, &a->lsns[seq]) != VS_OK) break;
    if (vs_wal_sync(a->wal, a->lsns[seq]) != VS_OK) break;
  }
  return NULL;
}

typedef struct seen_log {
  uint32_t next_seq[THREADS];
  size_t count;
} seen_log;

static vs_status replay_seen(void *ctx, uint64_t lsn, uint32_t type, const uint8_t *p,
                             size_t len) {
  seen_log *s = ctx;
  assert_true(len >= 8);
  uint32_t thread = vs_load_u32(p), seq = vs_load_u32(p + 4);
  assert_int_equal(type, thread);
  assert_true(thread < THREADS);
  assert_int_equal(len, 8 + (seq * 7 + thread) % 32);
  assert_int_equal(seq, s->next_seq[thread]); /* each once, in order */
  s->next_seq[thread]++;
  s->count++;
  assert_int_equal(lsn, s->count);
  return VS_OK;
}

static void run_concurrent(const char *dir, int sync) {
  vs_wal_options opt = options_with(sync, 2048); /* rotates too */
  opt.batch_interval_ms = 1;
  vs_wal *wal = NULL;
  assert_int_equal(vs_wal_open(dir, &opt, 0, NULL, NULL, &wal), VS_OK);
  pthread_t threads[THREADS];
  static writer_arg args[THREADS];
  for (uint32_t t = 0; t < THREADS; t++) {
    args[t].wal = wal;
    args[t].thread = t;
    assert_int_equal(pthread_create(&threads[t], NULL, writer_main, &args[t]), 0);
  }
  for (uint32_t t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  assert_int_equal(vs_wal_last_lsn(wal), THREADS * PER_THREAD);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  for (uint32_t t = 0; t < THREADS; t++) {
    for (uint32_t s = 1; s < PER_THREAD; s++) {
      assert_true(args[t].lsns[s] > args[t].lsns[s - 1]);
    }
  }
  seen_log seen = {{0}, 0};
  assert_int_equal(vs_wal_open(dir, &opt, 0, replay_seen, &seen, &wal), VS_OK);
  assert_int_equal(seen.count, THREADS * PER_THREAD);
  assert_int_equal(vs_wal_close(wal), VS_OK);
}

static void test_concurrent_group_commit(void **state) {
  run_concurrent(*state, VS_WAL_SYNC_ALWAYS);
}

static void test_concurrent_batch(void **state) {
  run_concurrent(*state, VS_WAL_SYNC_BATCH);
}

/* -------------------------------------------------------------- torn tails */

/* The single log file of dir, its bytes, and the offset of its last record. */
typedef struct one_file {
  char *path;
  uint8_t *bytes;
  size_t len;
  size_t last_record;
} one_file;

static void load_one_file(const char *dir, uint64_t n, one_file *f) {
  char names[4][64];
  assert_int_equal(list_wal(dir, names, 4), 1);
  f->path = file_in(dir, names[0]);
  read_file(f->path, &f->bytes, &f->len);
  f->last_record = f->len - 24 - len_of(n);
}

static void free_one_file(one_file *f) {
  free(f->path);
  free(f->bytes);
}

static void check_torn_at(const char *dir, const one_file *f, size_t cut, uint64_t n) {
  replay_log log;
  vs_wal *wal = NULL;
  write_file(f->path, f->bytes, cut);
  /* check reports it but does not modify anything */
  assert_int_equal(vs_wal_check(dir, NULL, NULL), VS_OK);
  assert_int_equal(size_of(f->path), cut);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 30, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, n - 1);
  assert_int_equal(size_of(f->path), f->last_record); /* torn record cut off */
  append_std(wal, n);                                 /* same LSN again */
  assert_int_equal(vs_wal_close(wal), VS_OK);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 30, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, n);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  assert_int_equal(size_of(f->path), f->len);
}

static void test_torn_tail_every_offset(void **state) {
  const char *dir = *state;
  const uint64_t n = 12;
  one_file f;
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 30, n);
  load_one_file(dir, n, &f);
  /* every offset in the header, then a sample through the payload */
  for (size_t cut = f.last_record + 1; cut < f.len;
       cut += cut < f.last_record + 30 ? 1 : 97) {
    check_torn_at(dir, &f, cut, n);
  }
  check_torn_at(dir, &f, f.len - 1, n);
  /* A cut exactly at a record boundary is a clean log. */
  replay_log log;
  vs_wal *wal = NULL;
  write_file(f.path, f.bytes, f.last_record);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 30, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, n - 1);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  free_one_file(&f);
}

static void test_flipped_byte_in_last_record_is_torn(void **state) {
  const char *dir = *state;
  const uint64_t n = 12;
  one_file f;
  replay_log log;
  vs_wal *wal = NULL;
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 30, n);
  load_one_file(dir, n, &f);
  size_t positions[] = {f.last_record, f.last_record + 5, f.last_record + 9,
                        f.last_record + 17, f.last_record + 24, f.len - 1};
  for (size_t k = 0; k < sizeof positions / sizeof positions[0]; k++) {
    f.bytes[positions[k]] ^= 0x10;
    write_file(f.path, f.bytes, f.len);
    f.bytes[positions[k]] ^= 0x10;
    assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 30, 0, &log, &wal), VS_OK);
    assert_int_equal(log.count, n - 1);
    assert_int_equal(vs_wal_close(wal), VS_OK);
    assert_int_equal(size_of(f.path), f.last_record);
  }
  free_one_file(&f);
}

static void test_flipped_byte_in_middle_is_corruption(void **state) {
  const char *dir = *state;
  const uint64_t n = 12;
  one_file f;
  replay_log log;
  vs_wal *wal = NULL;
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 30, n);
  load_one_file(dir, n, &f);
  /* Offset of record 6: header 32 + records 1..5. */
  size_t off = 32;
  for (uint64_t lsn = 1; lsn < 6; lsn++) off += 24 + len_of(lsn);
  char want[64];
  snprintf(want, sizeof want, "record at offset %zu is corrupted", off);
  size_t positions[] = {off,      off + 4,  off + 8,
                        off + 16, off + 24, off + 24 + len_of(6) - 1};
  for (size_t k = 0; k < sizeof positions / sizeof positions[0]; k++) {
    f.bytes[positions[k]] ^= 0x01;
    write_file(f.path, f.bytes, f.len);
    f.bytes[positions[k]] ^= 0x01;
    assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 30, 0, &log, &wal),
                     VS_ERR_CORRUPT);
    assert_null(wal);
    expect_message(want);
    expect_message("refusing to drop acknowledged data");
    assert_int_equal(size_of(f.path), f.len); /* nothing truncated */
  }
  free_one_file(&f);
}

/* Records whose checksums are fine but whose LSNs break the chain. */
static void test_lsn_chaining(void **state) {
  const char *dir = *state;
  const uint64_t n = 12;
  one_file f;
  replay_log log;
  vs_wal *wal = NULL;
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 30, n);
  load_one_file(dir, n, &f);
  size_t off5 = 32;
  for (uint64_t lsn = 1; lsn < 5; lsn++) off5 += 24 + len_of(lsn);
  size_t rec5 = 24 + len_of(5);
  /* Record 5 duplicated right after itself. */
  uint8_t *dup = malloc(f.len + rec5);
  memcpy(dup, f.bytes, off5 + rec5);
  memcpy(dup + off5 + rec5, f.bytes + off5, f.len - off5);
  write_file(f.path, dup, f.len + rec5);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 30, 0, &log, &wal),
                   VS_ERR_CORRUPT);
  expect_message("LSN 5 where LSN 6 was expected");
  /* Record 5 dropped: 4 is followed by 6. */
  memcpy(dup, f.bytes, off5);
  memcpy(dup + off5, f.bytes + off5 + rec5, f.len - off5 - rec5);
  write_file(f.path, dup, f.len - rec5);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 30, 0, &log, &wal),
                   VS_ERR_CORRUPT);
  expect_message("LSN 6 where LSN 5 was expected");
  /* The last record duplicated at the end: nothing valid follows, so it is
   * cut like a torn tail. */
  size_t last = 24 + len_of(n);
  memcpy(dup, f.bytes, f.len);
  memcpy(dup + f.len, f.bytes + f.len - last, last);
  write_file(f.path, dup, f.len + last);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 30, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, n);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  assert_int_equal(size_of(f.path), f.len);
  free(dup);
  free_one_file(&f);
}

/* Three files; damage in the middle one. */
static void test_damage_in_earlier_file(void **state) {
  const char *dir = *state;
  replay_log log;
  vs_wal *wal = NULL;
  char names[64][64];
  write_stream(dir, VS_WAL_SYNC_NONE, 4096, 20);
  size_t files = list_wal(dir, names, 64);
  assert_true(files >= 3);
  char *mid = file_in(dir, names[1]);
  uint8_t *bytes;
  size_t len;
  read_file(mid, &bytes, &len);
  /* A torn end of a middle file, with valid later files: corruption. */
  write_file(mid, bytes, len - 3);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 0, &log, &wal), VS_ERR_CORRUPT);
  expect_message(names[1]);
  /* Bad magic in a file that holds records. */
  bytes[2] ^= 0xff;
  write_file(mid, bytes, len);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 0, &log, &wal), VS_ERR_CORRUPT);
  expect_message("bad magic");
  bytes[2] ^= 0xff;
  /* A whole missing middle file is a gap. */
  assert_int_equal(unlink(mid), 0);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 0, &log, &wal), VS_ERR_CORRUPT);
  expect_message("are missing");
  write_file(mid, bytes, len);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, 20);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  free(bytes);
  free(mid);
}

/* The last file is torn in its header or holds no valid record. */
static void test_torn_new_file(void **state) {
  const char *dir = *state;
  replay_log log;
  vs_wal *wal = NULL;
  char names[64][64];
  write_stream(dir, VS_WAL_SYNC_NONE, 4096, 20);
  assert_true(list_wal(dir, names, 64) > 1);
  /* A rotation that crashed after creating wal-...15.log (LSN 21). */
  char *next = file_in(dir, "wal-0000000000000015.log");
  uint8_t header[32];
  memset(header, 0, sizeof header);
  write_file(next, "VSWAL", 5);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, 20);
  assert_false(vs_fs_exists(next));
  append_std(wal, 21);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  /* A zero-filled header with no records after it is removed as well. */
  char *newer = file_in(dir, "wal-0000000000000016.log");
  write_file(newer, header, sizeof header);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 4096, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, 21);
  assert_false(vs_fs_exists(newer));
  assert_int_equal(vs_wal_close(wal), VS_OK);
  free(next);
  free(newer);
}

static void test_newer_format_version(void **state) {
  const char *dir = *state;
  replay_log log;
  vs_wal *wal = NULL;
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 20, 3);
  char *path = file_in(dir, "wal-0000000000000001.log");
  uint8_t *bytes;
  size_t len;
  read_file(path, &bytes, &len);
  vs_store_u32(bytes + 8, 2);
  vs_store_u64(bytes + 24, vs_hash64(bytes, 24));
  write_file(path, bytes, len);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 20, 0, &log, &wal),
                   VS_ERR_CORRUPT);
  expect_message("format version 2 is newer than this build supports (max 1)");
  /* The file name and the header must agree. */
  vs_store_u32(bytes + 8, 1);
  vs_store_u64(bytes + 16, 5);
  vs_store_u64(bytes + 24, vs_hash64(bytes, 24));
  write_file(path, bytes, len);
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 20, 0, &log, &wal),
                   VS_ERR_CORRUPT);
  expect_message("header says first LSN 5");
  free(bytes);
  free(path);
}

/* ------------------------------------------------------------ limits/errors */

static void test_limits_and_options(void **state) {
  const char *dir = *state;
  vs_wal_options opt = options_with(VS_WAL_SYNC_NONE, 1u << 20);
  opt.max_record_bytes = 1000;
  vs_wal *wal = NULL;
  uint64_t lsn = 99;
  assert_int_equal(vs_wal_open(dir, &opt, 0, NULL, NULL, &wal), VS_OK);
  assert_int_equal(vs_wal_append(wal, 1, payload_buf, 1001, &lsn), VS_ERR_LIMIT);
  assert_int_equal(lsn, 0);
  expect_message("exceeds the limit of 1000 bytes");
  assert_int_equal(vs_wal_append(wal, 1, payload_buf, 1000, &lsn), VS_OK);
  assert_int_equal(lsn, 1);
  assert_int_equal(vs_wal_append(wal, 1, NULL, 5, &lsn), VS_ERR_INVALID);
  assert_int_equal(vs_wal_append(wal, 1, NULL, 0, NULL), VS_OK);
  assert_int_equal(vs_wal_last_lsn(wal), 2);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  vs_wal_options bad = options_with(VS_WAL_SYNC_NONE, 100);
  assert_int_equal(vs_wal_open(dir, &bad, 0, NULL, NULL, &wal), VS_ERR_INVALID);
  bad = options_with(VS_WAL_SYNC_BATCH, 1u << 20);
  bad.batch_interval_ms = 0;
  assert_int_equal(vs_wal_open(dir, &bad, 0, NULL, NULL, &wal), VS_ERR_INVALID);
  bad = options_with(7, 1u << 20);
  assert_int_equal(vs_wal_open(dir, &bad, 0, NULL, NULL, &wal), VS_ERR_INVALID);
  /* NULL options are the defaults. */
  assert_int_equal(vs_wal_open(dir, NULL, 0, NULL, NULL, &wal), VS_OK);
  assert_int_equal(vs_wal_last_lsn(wal), 2);
  assert_int_equal(vs_wal_close(wal), VS_OK);
}

static vs_status replay_fail_at_3(void *ctx, uint64_t lsn, uint32_t type,
                                  const uint8_t *p, size_t len) {
  (void)ctx;
  (void)type;
  (void)p;
  (void)len;
  if (lsn == 3) return vs_fail(VS_ERR_DATA, "bad row");
  return VS_OK;
}

static void test_replay_error_propagates(void **state) {
  const char *dir = *state;
  vs_wal *wal = NULL;
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 20, 5);
  vs_wal_options opt = options_with(VS_WAL_SYNC_NONE, 1u << 20);
  assert_int_equal(vs_wal_open(dir, &opt, 0, replay_fail_at_3, NULL, &wal), VS_ERR_DATA);
  assert_null(wal);
  expect_message("WAL replay of LSN 3");
  expect_message("bad row");
}

typedef struct lines {
  char text[8][512];
  size_t count;
} lines;

static void collect_line(void *ctx, const char *line) {
  lines *l = ctx;
  if (l->count < 8) snprintf(l->text[l->count], sizeof l->text[0], "%s", line);
  l->count++;
}

/* The descriptor of the open file `path` in this process. */
static int fd_of(const char *path) {
  char resolved[PATH_MAX];
  assert_non_null(realpath(path, resolved));
  for (int fd = 3; fd < 1024; fd++) {
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (strcmp(target, resolved) == 0) return fd;
  }
  fail_msg("no descriptor for %s", path);
  return -1;
}

static size_t seen_count;

static vs_status count_records(void *ctx, uint64_t lsn, uint32_t type, const uint8_t *p,
                               size_t len) {
  (void)ctx;
  (void)lsn;
  (void)type;
  (void)p;
  (void)len;
  seen_count++;
  return VS_OK;
}

/* fdatasync on a pipe fails (EINVAL): the error must stick. */
static void test_sync_failure_is_sticky(void **state) {
  const char *dir = *state;
  vs_wal_options opt = options_with(VS_WAL_SYNC_ALWAYS, 1u << 20);
  vs_wal *wal = NULL;
  uint64_t lsn = 0;
  assert_int_equal(vs_wal_open(dir, &opt, 0, NULL, NULL, &wal), VS_OK);
  assert_int_equal(vs_wal_append(wal, 1, "abc", 3, &lsn), VS_OK);
  char *path = file_in(dir, "wal-0000000000000001.log");
  int fd = fd_of(path);
  int pipe_fds[2];
  assert_int_equal(pipe(pipe_fds), 0);
  assert_true(dup2(pipe_fds[0], fd) == fd); /* the WAL now syncs a pipe */
  assert_int_equal(vs_wal_sync(wal, lsn), VS_ERR_IO);
  expect_message("fdatasync");
  assert_int_equal(vs_wal_append(wal, 1, "abc", 3, &lsn), VS_ERR_IO);
  expect_message("WAL fsync failed earlier");
  assert_int_equal(vs_wal_sync(wal, 1), VS_ERR_IO);
  assert_int_equal(vs_wal_checkpoint(wal, 1), VS_ERR_IO);
  assert_int_equal(vs_wal_close(wal), VS_ERR_IO);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  /* The record written before the failure is still in the file. */
  seen_count = 0;
  assert_int_equal(vs_wal_open(dir, &opt, 0, count_records, NULL, &wal), VS_OK);
  assert_int_equal(seen_count, 1);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  free(path);
}

/* vs_wal_flush syncs whatever the policy (a pipe in place of the file makes
 * the fdatasync visible by failing); vs_wal_sync under NONE does not. */
static void test_flush_ignores_policy(void **state) {
  const char *dir = *state;
  vs_wal_options opt = options_with(VS_WAL_SYNC_NONE, 4096);
  vs_wal *wal = NULL;
  assert_int_equal(vs_wal_open(dir, &opt, 0, NULL, NULL, &wal), VS_OK);
  for (uint64_t lsn = 1; lsn <= 30; lsn++) append_std(wal, lsn); /* several files */
  assert_int_equal(vs_wal_flush(wal, 30), VS_OK);
  assert_int_equal(vs_wal_flush(wal, 31), VS_ERR_INVALID);
  assert_int_equal(vs_wal_flush(wal, 30), VS_OK); /* already durable */
  append_std(wal, 31);
  char names[64][64];
  size_t n = list_wal(dir, names, 64);
  char *path = file_in(dir, names[n - 1]);
  int fd = fd_of(path);
  int pipe_fds[2];
  assert_int_equal(pipe(pipe_fds), 0);
  assert_true(dup2(pipe_fds[0], fd) == fd);
  assert_int_equal(vs_wal_sync(wal, 31), VS_OK); /* NONE: no fsync */
  assert_int_equal(vs_wal_flush(wal, 31), VS_ERR_IO);
  assert_int_equal(vs_wal_append(wal, 1, "x", 1, NULL), VS_ERR_IO);
  expect_message("WAL fsync failed earlier");
  assert_int_equal(vs_wal_close(wal), VS_ERR_IO);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  free(path);
}

/* The caller's state holds effects up to some LSN: the log must reach it. */
static void test_required_lsn(void **state) {
  const char *dir = *state;
  const uint64_t n = 12;
  one_file f;
  replay_log log;
  vs_wal *wal = NULL;
  vs_wal_options opt = options_with(VS_WAL_SYNC_NONE, 1u << 30);
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 30, n);
  load_one_file(dir, n, &f);
  memset(&log, 0, sizeof log);
  log.scratch = payload_buf;
  assert_int_equal(vs_wal_open_required(dir, &opt, 0, n, replay_check, &log, &wal), VS_OK);
  assert_int_equal(log.count, n);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  assert_int_equal(vs_wal_open_required(dir, &opt, 0, n + 1, NULL, NULL, &wal),
                   VS_ERR_CORRUPT);
  expect_message("the log ends after LSN 12 but LSN 13 is required");
  expect_message("wal-0000000000000001.log");
  /* A cut inside record 12 with 12 required: refused, nothing truncated. */
  write_file(f.path, f.bytes, f.len - 5);
  assert_int_equal(vs_wal_open_required(dir, &opt, 0, n, NULL, NULL, &wal), VS_ERR_CORRUPT);
  char want[96];
  snprintf(want, sizeof want, "the log ends at offset %zu after LSN 11", f.last_record);
  expect_message(want);
  assert_int_equal(size_of(f.path), f.len - 5);
  lines out = {0};
  assert_int_equal(vs_wal_check_required(dir, n, collect_line, &out), VS_ERR_CORRUPT);
  assert_int_equal(out.count, 2); /* the torn tail, then the requirement */
  assert_non_null(strstr(out.text[1], "LSN 12 is required"));
  assert_int_equal(vs_wal_check_required(dir, n - 1, NULL, NULL), VS_OK);
  /* A requirement covered by the checkpoint is met. */
  assert_int_equal(vs_wal_open_required(dir, &opt, n, n, NULL, NULL, &wal), VS_OK);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  free_one_file(&f);
}

/* Read-only replay: same records and errors as open, nothing modified. */
static void test_read_only_replay(void **state) {
  const char *dir = *state;
  const uint64_t n = 12;
  one_file f;
  replay_log log = {.scratch = payload_buf};
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 30, n);
  load_one_file(dir, n, &f);
  assert_int_equal(vs_wal_read(dir, 0, 0, replay_check, &log), VS_OK);
  assert_int_equal(log.count, n);
  memset(&log, 0, sizeof log);
  log.scratch = payload_buf;
  assert_int_equal(vs_wal_read(dir, 5, 0, replay_check, &log), VS_OK);
  assert_int_equal(log.count, n - 5);
  assert_int_equal(log.first, 6);
  /* A torn tail is skipped, not cut. */
  write_file(f.path, f.bytes, f.len - 5);
  memset(&log, 0, sizeof log);
  log.scratch = payload_buf;
  assert_int_equal(vs_wal_read(dir, 0, 0, replay_check, &log), VS_OK);
  assert_int_equal(log.count, n - 1);
  assert_int_equal(size_of(f.path), f.len - 5);
  assert_int_equal(vs_wal_read(dir, 0, n, NULL, NULL), VS_ERR_CORRUPT);
  expect_message("LSN 12 is required");
  /* Corruption is reported as at open. */
  f.bytes[100] ^= 1;
  write_file(f.path, f.bytes, f.len);
  assert_int_equal(vs_wal_read(dir, 0, 0, NULL, NULL), VS_ERR_CORRUPT);
  expect_message("refusing to drop acknowledged data");
  /* No directory: no records. */
  char *missing = file_in(dir, "nope");
  assert_int_equal(vs_wal_read(missing, 0, 0, NULL, NULL), VS_OK);
  assert_int_equal(vs_wal_read(missing, 3, 3, NULL, NULL), VS_OK);
  assert_int_equal(vs_wal_read(missing, 0, 3, NULL, NULL), VS_ERR_CORRUPT);
  assert_false(vs_fs_exists(missing));
  free(missing);
  free_one_file(&f);
}

/* A write that fails half-way (file size limit) is cut off again, and the
 * LSN is not consumed. */
static void test_failed_write_is_undone(void **state) {
  const char *dir = *state;
  vs_wal_options opt = options_with(VS_WAL_SYNC_NONE, 1u << 20);
  vs_wal *wal = NULL;
  uint64_t lsn = 0;
  assert_int_equal(vs_wal_open(dir, &opt, 0, NULL, NULL, &wal), VS_OK);
  append_std(wal, 1);
  char *path = file_in(dir, "wal-0000000000000001.log");
  uint64_t size = size_of(path);
  struct rlimit old, small;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  small = old;
  small.rlim_cur = size + 100;
  signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  vs_status st = vs_wal_append(wal, 5, payload_buf, 1000, &lsn);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_DFL);
  assert_int_equal(st, VS_ERR_IO);
  assert_int_equal(lsn, 0);
  assert_int_equal(size_of(path), size);
  append_std(wal, 2); /* gets LSN 2: nothing was consumed */
  assert_int_equal(vs_wal_close(wal), VS_OK);
  replay_log log;
  assert_int_equal(open_replay(dir, VS_WAL_SYNC_NONE, 1u << 20, 0, &log, &wal), VS_OK);
  assert_int_equal(log.count, 2);
  assert_int_equal(vs_wal_close(wal), VS_OK);
  free(path);
}

/* ------------------------------------------------------------------ check */

static void test_check(void **state) {
  const char *dir = *state;
  const uint64_t n = 12;
  lines out = {0};
  write_stream(dir, VS_WAL_SYNC_NONE, 1u << 30, n);
  assert_int_equal(vs_wal_check(dir, collect_line, &out), VS_OK);
  assert_int_equal(out.count, 0);
  one_file f;
  load_one_file(dir, n, &f);
  /* torn tail: reported, still OK, file untouched */
  write_file(f.path, f.bytes, f.len - 10);
  assert_int_equal(vs_wal_check(dir, collect_line, &out), VS_OK);
  assert_int_equal(out.count, 1);
  char want[96];
  snprintf(want, sizeof want, "torn tail at offset %zu (%zu bytes", f.last_record,
           f.len - 10 - f.last_record);
  assert_non_null(strstr(out.text[0], want));
  assert_non_null(strstr(out.text[0], "would be truncated at open"));
  assert_int_equal(size_of(f.path), f.len - 10);
  /* corruption in the middle: an error line and VS_ERR_CORRUPT */
  out.count = 0;
  f.bytes[100] ^= 0x80;
  write_file(f.path, f.bytes, f.len);
  assert_int_equal(vs_wal_check(dir, collect_line, &out), VS_ERR_CORRUPT);
  assert_int_equal(out.count, 1);
  assert_non_null(strstr(out.text[0], "is corrupted"));
  assert_int_equal(size_of(f.path), f.len);
  /* a missing directory */
  out.count = 0;
  char *missing = file_in(dir, "nope");
  assert_int_equal(vs_wal_check(missing, collect_line, &out), VS_ERR_CORRUPT);
  assert_int_equal(out.count, 1);
  free(missing);
  free_one_file(&f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, make_tmpdir, remove_tmpdir)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_round_trip),
      T(test_replay_after_lsn),
      T(test_after_lsn_beyond_log),
      T(test_rotation),
      T(test_checkpoint),
      T(test_open_deletes_checkpointed_files),
      T(test_concurrent_group_commit),
      T(test_concurrent_batch),
      T(test_torn_tail_every_offset),
      T(test_flipped_byte_in_last_record_is_torn),
      T(test_flipped_byte_in_middle_is_corruption),
      T(test_lsn_chaining),
      T(test_damage_in_earlier_file),
      T(test_torn_new_file),
      T(test_newer_format_version),
      T(test_limits_and_options),
      T(test_replay_error_propagates),
      T(test_sync_failure_is_sticky),
      T(test_failed_write_is_undone),
      T(test_flush_ignores_policy),
      T(test_required_lsn),
      T(test_read_only_replay),
      T(test_check),
  };
  return cmocka_run_group_tests(tests, setup_payload_buf, teardown_payload_buf);
}
