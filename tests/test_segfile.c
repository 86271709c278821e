/*
 * test_segfile.c -- sealed segment files: round trips, alignment, damage in
 * every part of the file, truncation, hostile directory values.
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
#include <unistd.h>

#include "storage/storage.h"

enum { N_SECTIONS = 8 };
static const size_t section_lens[N_SECTIONS] = {0, 1, 63, 64, 65, 1000, 100003, 7};
static const uint32_t section_ids[N_SECTIONS] = {0x00650001, 7, 0xffffffffu, 0, 42,
                                                 0x00010000, 3, 0x80000000u};

typedef struct fixture {
  char *dir;
  char *path;
  uint8_t *data[N_SECTIONS];
} fixture;

static void fill(uint8_t *p, size_t len, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (uint8_t)(x >> 24);
  }
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->dir = strdup("/tmp/vs-test-seg-XXXXXX");
  if (!f->dir || !mkdtemp(f->dir)) return -1;
  f->path = vs_fs_join(f->dir, "seg-000001.vseg");
  for (size_t i = 0; i < N_SECTIONS; i++) {
    f->data[i] = malloc(section_lens[i] + 1);
    fill(f->data[i], section_lens[i], (uint32_t)i);
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  assert_int_equal(vs_fs_remove_tree(f->dir), VS_OK);
  for (size_t i = 0; i < N_SECTIONS; i++) free(f->data[i]);
  free(f->path);
  free(f->dir);
  free(f);
  return 0;
}

static void write_standard(const fixture *f) {
  vs_segfile_section secs[N_SECTIONS];
  for (size_t i = 0; i < N_SECTIONS; i++) {
    secs[i] = (vs_segfile_section){section_ids[i], f->data[i], section_lens[i]};
  }
  assert_int_equal(vs_segfile_write(f->path, secs, N_SECTIONS), VS_OK);
}

static void expect_message(const char *needle) {
  const char *msg = vs_error_message();
  if (!strstr(msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

static void write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  if (len) assert_int_equal(write(fd, data, len), (ssize_t)len);
  close(fd);
}

static void check_contents(const fixture *f, const vs_segfile *s) {
  assert_int_equal(vs_segfile_section_count(s), N_SECTIONS);
  for (size_t i = 0; i < N_SECTIONS; i++) {
    size_t len = 12345;
    const uint8_t *p = vs_segfile_get(s, section_ids[i], &len);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    assert_int_equal(len, section_lens[i]);
    assert_memory_equal(p, f->data[i], len);
    assert_int_equal(vs_segfile_section_id(s, i), section_ids[i]); /* file order */
  }
  size_t len = 99;
  assert_null(vs_segfile_get(s, 0x12345678, &len));
  assert_int_equal(len, 0);
}

/* ------------------------------------------------------------ round trip */

static void test_round_trip(void **state) {
  fixture *f = *state;
  write_standard(f);
  char *tmp = vs_fs_join(f->dir, "seg-000001.vseg.tmp");
  assert_false(vs_fs_exists(tmp));
  free(tmp);
  uint64_t size = 0;
  assert_int_equal(vs_fs_file_size(f->path, &size), VS_OK);
  for (int verify = 0; verify <= 1; verify++) {
    vs_segfile *s = NULL;
    assert_int_equal(vs_segfile_open(f->path, verify, &s), VS_OK);
    assert_int_equal(vs_segfile_size(s), size);
    check_contents(f, s);
    assert_int_equal(vs_segfile_verify(s), VS_OK);
    vs_segfile_close(s);
  }
  vs_segfile_close(NULL);
}

/* The callback reuses one buffer: data must be consumed before the next. */
typedef struct source {
  const fixture *f;
  uint8_t *buffer;
  size_t calls;
} source;

static vs_status produce(void *ctx, size_t i, vs_segfile_section *sec) {
  source *src = ctx;
  assert_int_equal(i, src->calls);
  src->calls++;
  memset(src->buffer, 0xee, 100003);
  memcpy(src->buffer, src->f->data[i], section_lens[i]);
  *sec = (vs_segfile_section){section_ids[i], src->buffer, section_lens[i]};
  return VS_OK;
}

static void test_write_from_callback(void **state) {
  fixture *f = *state;
  source src = {f, malloc(100003), 0};
  assert_int_equal(vs_segfile_write_from(f->path, N_SECTIONS, produce, &src), VS_OK);
  assert_int_equal(src.calls, N_SECTIONS);
  vs_segfile *s = NULL;
  assert_int_equal(vs_segfile_open(f->path, true, &s), VS_OK);
  check_contents(f, s);
  vs_segfile_close(s);
  free(src.buffer);
}

static vs_status produce_failure(void *ctx, size_t i, vs_segfile_section *sec) {
  (void)ctx;
  *sec = (vs_segfile_section){(uint32_t)i, "abc", 3};
  if (i == 2) return vs_fail(VS_ERR_NOMEM, "column buffer");
  return VS_OK;
}

static void test_write_errors(void **state) {
  fixture *f = *state;
  char *tmp = vs_fs_join(f->dir, "seg-000001.vseg.tmp");
  assert_int_equal(vs_segfile_write_from(f->path, 5, produce_failure, NULL), VS_ERR_NOMEM);
  expect_message("producing section 2");
  expect_message("column buffer");
  assert_false(vs_fs_exists(tmp));
  assert_false(vs_fs_exists(f->path));
  vs_segfile_section dup[2] = {{9, "a", 1}, {9, "b", 1}};
  assert_int_equal(vs_segfile_write(f->path, dup, 2), VS_ERR_INVALID);
  expect_message("0x00000009 appears more than once");
  assert_false(vs_fs_exists(tmp));
  assert_false(vs_fs_exists(f->path));
  vs_segfile_section null_data = {1, NULL, 5};
  assert_int_equal(vs_segfile_write(f->path, &null_data, 1), VS_ERR_INVALID);
  assert_int_equal(vs_segfile_write(f->path, dup, (size_t)1 << 21), VS_ERR_LIMIT);
  /* Zero sections is a valid (empty) segment. */
  vs_segfile *s = NULL;
  assert_int_equal(vs_segfile_write(f->path, NULL, 0), VS_OK);
  assert_int_equal(vs_segfile_open(f->path, true, &s), VS_OK);
  assert_int_equal(vs_segfile_section_count(s), 0);
  assert_null(vs_segfile_get(s, 0, NULL));
  assert_int_equal(vs_segfile_size(s), 64);
  vs_segfile_close(s);
  char *missing = vs_fs_join(f->dir, "missing.vseg");
  assert_int_equal(vs_segfile_open(missing, false, &s), VS_ERR_NOT_FOUND);
  assert_null(s);
  free(missing);
  free(tmp);
}

/* ------------------------------------------------------------------ damage */

static uint8_t *read_standard(const fixture *f, size_t *len) {
  uint8_t *bytes = NULL;
  write_standard(f);
  assert_int_equal(vs_fs_read_all(f->path, &bytes, len), VS_OK);
  return bytes;
}

static void test_flipped_byte_in_section(void **state) {
  fixture *f = *state;
  size_t len = 0;
  uint8_t *bytes = read_standard(f, &len);
  /* Section 0 (id 0x00650001) is empty; flip inside section 6 (id 3) and the
   * first byte of section 1 (id 7). */
  vs_segfile *s = NULL;
  assert_int_equal(vs_segfile_open(f->path, false, &s), VS_OK);
  size_t off6 = (size_t)((const uint8_t *)vs_segfile_get(s, 3, NULL) -
                         (const uint8_t *)vs_segfile_get(s, 0x00650001, NULL));
  size_t off1 = (size_t)((const uint8_t *)vs_segfile_get(s, 7, NULL) -
                         (const uint8_t *)vs_segfile_get(s, 0x00650001, NULL));
  vs_segfile_close(s);
  off6 += 64 + 5000; /* section 0 is at offset 64 */
  off1 += 64;
  const size_t where[2] = {off6, off1};
  const char *names[2] = {"section 0x00000003 checksum mismatch (file corrupted)",
                          "section 0x00000007 checksum mismatch (file corrupted)"};
  for (size_t k = 0; k < 2; k++) {
    bytes[where[k]] ^= 0x02;
    write_file(f->path, bytes, len);
    bytes[where[k]] ^= 0x02;
    assert_int_equal(vs_segfile_open(f->path, true, &s), VS_ERR_CORRUPT);
    assert_null(s);
    expect_message(names[k]);
    expect_message(f->path);
    assert_int_equal(vs_segfile_open(f->path, false, &s), VS_OK);
    assert_int_equal(vs_segfile_verify(s), VS_ERR_CORRUPT);
    expect_message(names[k]);
    vs_segfile_close(s);
  }
  free(bytes);
}

static void test_flipped_byte_in_header_and_directory(void **state) {
  fixture *f = *state;
  size_t len = 0;
  uint8_t *bytes = read_standard(f, &len);
  uint64_t dir_offset = vs_load_u64(bytes + 16);
  assert_int_equal(dir_offset + N_SECTIONS * 32, len);
  for (size_t i = 0; i < len; i++) {
    if (i >= 64 && i < dir_offset) i = (size_t)dir_offset; /* header, then directory */
    bytes[i] ^= 0x20;
    write_file(f->path, bytes, len);
    bytes[i] ^= 0x20;
    for (int verify = 0; verify <= 1; verify++) {
      vs_segfile *s = NULL;
      assert_int_equal(vs_segfile_open(f->path, verify, &s), VS_ERR_CORRUPT);
      assert_null(s);
      expect_message("segment ");
    }
  }
  free(bytes);
}

static void test_truncation(void **state) {
  fixture *f = *state;
  size_t len = 0;
  uint8_t *bytes = read_standard(f, &len);
  for (size_t cut = 0; cut < len; cut += (cut < 200 || cut > len - 300) ? 1 : 331) {
    write_file(f->path, bytes, cut);
    vs_segfile *s = NULL;
    assert_int_equal(vs_segfile_open(f->path, cut % 2 == 0, &s), VS_ERR_CORRUPT);
    assert_null(s);
    expect_message("truncated");
  }
  /* Trailing bytes are rejected too. */
  uint8_t *longer = malloc(len + 64);
  memcpy(longer, bytes, len);
  memset(longer + len, 0, 64);
  write_file(f->path, longer, len + 64);
  vs_segfile *s = NULL;
  assert_int_equal(vs_segfile_open(f->path, false, &s), VS_ERR_CORRUPT);
  expect_message("trailing bytes");
  free(longer);
  free(bytes);
}

/* -------------------------------------------------------- hostile values */

/* Re-seals header and directory checksums so that structural checks run. */
static void reseal(uint8_t *bytes) {
  uint64_t dir_offset = vs_load_u64(bytes + 16);
  uint64_t dir_length = vs_load_u64(bytes + 24);
  vs_store_u64(bytes + 48, vs_hash64(bytes + dir_offset, (size_t)dir_length));
  vs_store_u64(bytes + 56, vs_hash64(bytes, 56));
}

typedef void (*mutator)(uint8_t *bytes, size_t len);

static void mut_count_huge(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u32(b + 12, (1u << 20) + 1);
}
static void mut_count_mismatch(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u32(b + 12, 3);
}
static void mut_dir_offset_huge(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u64(b + 16, UINT64_MAX - 63);
}
static void mut_dir_offset_in_header(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u64(b + 16, 0);
}
static void mut_file_length(uint8_t *b, size_t len) {
  vs_store_u64(b + 32, (uint64_t)len + (1ull << 40));
}
static uint8_t *entry(uint8_t *b, size_t k) { return b + vs_load_u64(b + 16) + k * 32; }
static void mut_entry_offset_overflow(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u64(entry(b, 6) + 8, UINT64_MAX - 63);
  vs_store_u64(entry(b, 6) + 16, 128);
}
static void mut_entry_length_overflow(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u64(entry(b, 6) + 16, UINT64_MAX);
}
static void mut_entry_into_directory(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u64(entry(b, 7) + 16, 1000);
}
static void mut_entry_misaligned(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u64(entry(b, 5) + 8, vs_load_u64(entry(b, 5) + 8) + 8);
}
static void mut_entry_overlap(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u64(entry(b, 5) + 8, vs_load_u64(entry(b, 4) + 8));
}
static void mut_entry_in_header(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u64(entry(b, 0) + 8, 0);
}
static void mut_duplicate_id(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u32(entry(b, 2), vs_load_u32(entry(b, 1)));
}
static void mut_newer_version(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u32(b + 8, 2);
}
static void mut_version_zero(uint8_t *b, size_t len) {
  (void)len;
  vs_store_u32(b + 8, 0);
}

static void test_hostile_values(void **state) {
  fixture *f = *state;
  size_t len = 0;
  uint8_t *good = read_standard(f, &len);
  uint8_t *bytes = malloc(len);
  const struct {
    mutator fn;
    const char *message;
  } cases[] = {
      {mut_count_huge, "exceeds the limit"},
      {mut_count_mismatch, "does not match 3 sections"},
      {mut_dir_offset_huge, "does not end the"},
      {mut_dir_offset_in_header, "does not end the"},
      {mut_file_length, "truncated (expected"},
      {mut_entry_offset_overflow, "lies outside the data area"},
      {mut_entry_length_overflow, "lies outside the data area"},
      {mut_entry_into_directory, "lies outside the data area"},
      {mut_entry_misaligned, "misaligned"},
      {mut_entry_overlap, "overlaps"},
      {mut_entry_in_header, "lies outside the data area"},
      {mut_duplicate_id, "0x00000007 appears more than once"},
      {mut_newer_version, "format version 2 is newer than this build supports (max 1)"},
      {mut_version_zero, "format version 0 is invalid"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    memcpy(bytes, good, len);
    cases[k].fn(bytes, len);
    if (cases[k].fn != mut_dir_offset_huge && cases[k].fn != mut_dir_offset_in_header) {
      reseal(bytes);
    } else {
      vs_store_u64(bytes + 56, vs_hash64(bytes, 56));
    }
    write_file(f->path, bytes, len);
    vs_segfile *s = NULL;
    assert_int_equal(vs_segfile_open(f->path, false, &s), VS_ERR_CORRUPT);
    assert_null(s);
    expect_message(cases[k].message);
  }
  free(bytes);
  free(good);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_from_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flipped_byte_in_section, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flipped_byte_in_header_and_directory, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_values, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
