/*
 * checked_file.c -- a small whole-file container with a magic, a version
 * and two checksums, used for the MANIFEST and the CATALOG.  The file is
 * always replaced as a whole with vs_fs_write_atomic, so a reader sees the
 * old or the new contents, and any damage that happened at rest is caught
 * by the checksums.
 *
 * On-disk layout (all integers little-endian)
 *
 *   offset  size  field
 *   ------  ----  ---------------------------------------------------------
 *        0     8  magic, chosen by the caller ("VSMANIFS", ...)
 *        8     4  u32 format version of the payload (1 = first)
 *       12     8  u64 payload length in bytes
 *       20     8  u64 XXH3-64 of the payload
 *       28     8  u64 XXH3-64 of bytes [0, 28)
 *       36     n  payload
 *
 * The file length must be exactly 36 + payload length: a shorter file is
 * "truncated", a longer one has "trailing bytes"; both are VS_ERR_CORRUPT.
 *
 * Check order on read: length >= 36, magic, header checksum, version, total
 * length, payload checksum.  The header checksum comes before the version
 * so that a flipped bit in the version field is reported as corruption, not
 * as "written by a newer build"; when the header checksum fails and the
 * stored version is newer than we know, the message mentions both
 * possibilities.  Version 0 is never written and is rejected.
 *
 * Alternatives rejected: a single checksum over header and payload (the
 * header could not be trusted before reading everything, and the message
 * could not tell "header damaged" from "payload damaged"); CRC32 (XXH3 is
 * both faster and 64 bits wide, and libxxhash is already a dependency).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"

#define CHECKED_HEADER_BYTES 36u
#define CHECKED_HASHED_BYTES 28u

/* Printable rendering of an 8-byte magic for messages. */
static void checked_magic_text(const uint8_t *magic, char out[33]) {
  size_t pos = 0;
  for (size_t i = 0; i < 8; i++) {
    uint8_t c = magic[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out[pos++] = (char)c;
    } else {
      pos += (size_t)snprintf(out + pos, 5, "\\x%02x", c);
    }
  }
  out[pos] = '\0';
}

vs_status vs_checked_file_write(const char *path, const char magic[8],
                                uint32_t version, const void *payload,
                                size_t len) {
  if (version == 0) {
    return vs_fail(VS_ERR_INVALID, "%s: format version 0 is reserved", path);
  }
  size_t total;
  if (!vs_add_ok(len, CHECKED_HEADER_BYTES, &total)) {
    return vs_fail(VS_ERR_LIMIT, "%s: payload of %zu bytes is too large", path, len);
  }
  uint8_t *file = malloc(total);
  if (!file) {
    return vs_fail(VS_ERR_NOMEM, "%s: out of memory for %zu bytes", path, total);
  }
  memcpy(file, magic, 8);
  vs_store_u32(file + 8, version);
  vs_store_u64(file + 12, (uint64_t)len);
  vs_store_u64(file + 20, vs_hash64(payload, len));
  vs_store_u64(file + 28, vs_hash64(file, CHECKED_HASHED_BYTES));
  if (len) memcpy(file + CHECKED_HEADER_BYTES, payload, len);
  vs_status st = vs_fs_write_atomic(path, file, total);
  free(file);
  return st;
}

/* Validates the 36-byte header of a file of `size` bytes; *payload_len
 * receives the declared payload length. */
static vs_status checked_parse_header(const char *path, const uint8_t *file,
                                      size_t size, const char magic[8],
                                      uint32_t max_version, uint32_t *version,
                                      uint64_t *payload_len) {
  char want[33], found[33];
  if (size < CHECKED_HEADER_BYTES) {
    return vs_fail(VS_ERR_CORRUPT, "%s: truncated (expected at least %u bytes, found %zu)",
                   path, CHECKED_HEADER_BYTES, size);
  }
  if (memcmp(file, magic, 8) != 0) {
    checked_magic_text((const uint8_t *)magic, want);
    checked_magic_text(file, found);
    return vs_fail(VS_ERR_CORRUPT, "%s: bad magic (expected \"%s\", found \"%s\")",
                   path, want, found);
  }
  uint32_t stored = vs_load_u32(file + 8);
  if (vs_hash64(file, CHECKED_HASHED_BYTES) != vs_load_u64(file + 28)) {
    if (stored > max_version) {
      return vs_fail(VS_ERR_CORRUPT,
                     "%s: header checksum mismatch (file corrupted, or format "
                     "version %u is newer than this build supports (max %u))",
                     path, stored, max_version);
    }
    return vs_fail(VS_ERR_CORRUPT, "%s: header checksum mismatch (file corrupted)", path);
  }
  if (stored > max_version) {
    return vs_fail(VS_ERR_CORRUPT,
                   "%s: format version %u is newer than this build supports (max %u)",
                   path, stored, max_version);
  }
  if (stored == 0) {
    return vs_fail(VS_ERR_CORRUPT, "%s: format version 0 is invalid", path);
  }
  *version = stored;
  *payload_len = vs_load_u64(file + 12);
  return VS_OK;
}

static vs_status checked_check_length(const char *path, uint64_t payload_len,
                                      size_t size) {
  uint64_t have = (uint64_t)(size - CHECKED_HEADER_BYTES);
  if (payload_len > have) {
    if (payload_len > UINT64_MAX - CHECKED_HEADER_BYTES) {
      return vs_fail(VS_ERR_CORRUPT, "%s: absurd payload length %llu", path,
                     (unsigned long long)payload_len);
    }
    return vs_fail(VS_ERR_CORRUPT, "%s: truncated (expected %llu bytes, found %zu)",
                   path, (unsigned long long)(payload_len + CHECKED_HEADER_BYTES), size);
  }
  if (payload_len < have) {
    return vs_fail(VS_ERR_CORRUPT, "%s: trailing bytes (expected %llu bytes, found %zu)",
                   path, (unsigned long long)(payload_len + CHECKED_HEADER_BYTES), size);
  }
  return VS_OK;
}

vs_status vs_checked_file_read(const char *path, const char magic[8],
                               uint32_t max_version, uint32_t *version,
                               uint8_t **payload, size_t *len) {
  uint8_t *file = NULL;
  size_t size = 0;
  uint32_t stored = 0;
  uint64_t payload_len = 0;
  *payload = NULL;
  *len = 0;
  *version = 0;
  vs_status st = vs_fs_read_all(path, &file, &size);
  if (st != VS_OK) return st;
  st = checked_parse_header(path, file, size, magic, max_version, &stored,
                            &payload_len);
  if (st != VS_OK) goto done;
  st = checked_check_length(path, payload_len, size);
  if (st != VS_OK) goto done;
  if (vs_hash64(file + CHECKED_HEADER_BYTES, (size_t)payload_len) !=
      vs_load_u64(file + 20)) {
    st = vs_fail(VS_ERR_CORRUPT, "%s: checksum mismatch (file corrupted)", path);
    goto done;
  }
  /* Shift the payload to the front; read_all left a NUL after the bytes. */
  memmove(file, file + CHECKED_HEADER_BYTES, (size_t)payload_len + 1);
  *payload = file;
  *len = (size_t)payload_len;
  *version = stored;
  file = NULL;
done:
  free(file);
  return st;
}
