/*
 * segfile.c -- sealed segment files: written once, crash-safely, as a
 * sequence of checksummed sections, then mapped read-only.  The engine
 * names sections with 32-bit ids and decides what is in them; this file
 * knows only bytes.
 *
 * On-disk layout (all integers little-endian)
 * -------------------------------------------
 * Header, 64 bytes at offset 0:
 *
 *   offset  size  field
 *        0     8  magic "VSSEGv01"
 *        8     4  u32 format version (1)
 *       12     4  u32 section count (<= 2^20)
 *       16     8  u64 directory offset (a multiple of 64, >= 64)
 *       24     8  u64 directory length (= section count * 32)
 *       32     8  u64 file length (= directory offset + directory length)
 *       40     8  u64 reserved, 0
 *       48     8  u64 XXH3-64 of the directory bytes
 *       56     8  u64 XXH3-64 of header bytes [0, 56)
 *
 * Sections follow the header, each starting at a multiple of 64 bytes
 * (zero padding between them), in directory order.  The directory sits at
 * the end, after the last section, so a writer can stream sections without
 * knowing their sizes in advance.  Directory entry, 32 bytes:
 *
 *   offset  size  field
 *        0     4  u32 section id (unique within the file)
 *        4     4  u32 reserved, 0
 *        8     8  u64 section offset (multiple of 64)
 *       16     8  u64 section length in bytes
 *       24     8  u64 XXH3-64 of the section bytes
 *
 * Reader checks (every one names the file; section errors name the id):
 * the file is at least 64 bytes, magic, header checksum, version <= 1,
 * section count <= 2^20, directory length = count * 32 without overflow,
 * file length in the header = the real size ("truncated" or "trailing
 * bytes"), the directory lies after the header and ends the file, its
 * checksum, and per section: aligned offset, inside [64, directory offset)
 * without overflow, in ascending order without overlap, unique id.  Section
 * checksums are the expensive part (a full read of the file); they are
 * checked at open when `verify`, else on demand with vs_segfile_verify.
 *
 * Writing: path.tmp is streamed section by section (checksums computed on
 * the caller's memory as it is written), then the directory, then the
 * header at offset 0 -- the header goes last so a crash mid-write never
 * leaves a file with a valid header -- then fsync, rename, fsync of the
 * directory.  Readers and writers share nothing; a segfile handle is
 * immutable after open and safe to use from any number of threads.
 *
 * Mapping: MAP_SHARED, PROT_READ.  MAP_POPULATE is used only when the whole
 * file is about to be read anyway (verify at open): it replaces a page
 * fault per 64 KiB with one bulk call, while a plain open must stay cheap
 * (it touches only the header and directory).  See the report numbers in
 * docs/format.md.
 *
 * Alternatives rejected: a directory at the front (the writer would need
 * every section size before writing the first byte, i.e. the whole segment
 * assembled in memory); one checksum for the whole file (a damaged file
 * could not say which section is bad, and opening would always read
 * everything); reading into malloc'd memory (doubles resident memory for
 * large vector sections that the page cache holds anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/storage.h"

#define SEG_MAGIC "VSSEGv01"
/* Format history: 1 = first version (this layout). */
#define SEG_FORMAT_VERSION 1u
#define SEG_HEADER_BYTES 64u
#define SEG_HEADER_HASHED 56u
#define SEG_ENTRY_BYTES 32u
#define SEG_ALIGN 64u
#define SEG_MAX_SECTIONS (1u << 20)

typedef struct seg_entry {
  uint32_t id;
  uint64_t offset;
  uint64_t length;
  uint64_t hash;
} seg_entry;

typedef struct seg_id_index {
  uint32_t id;
  uint32_t index; /* into entries */
} seg_id_index;

struct vs_segfile {
  char *path;
  const uint8_t *map;
  size_t size;
  size_t count;
  seg_entry *entries; /* directory order (= ascending offset) */
  seg_id_index *by_id; /* sorted by id, for vs_segfile_get */
};

/* ------------------------------------------------------------------ writer */

typedef struct seg_writer {
  const char *path;
  char *tmp;
  int fd;
  uint64_t offset; /* bytes written so far */
  vs_buf dir;
  uint32_t *ids;
  size_t count;
} seg_writer;

static vs_status seg_write(seg_writer *w, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    size_t chunk = len < ((size_t)1 << 30) ? len : ((size_t)1 << 30);
    ssize_t n = write(w->fd, p, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return vs_fail(VS_ERR_IO, "cannot write %s: %s", w->tmp,
                     n < 0 ? strerror(errno) : "no progress");
    }
    p += n;
    len -= (size_t)n;
    w->offset += (uint64_t)n;
  }
  return VS_OK;
}

static vs_status seg_pad(seg_writer *w) {
  static const uint8_t zeros[SEG_ALIGN];
  size_t pad = (size_t)((SEG_ALIGN - w->offset % SEG_ALIGN) % SEG_ALIGN);
  return pad ? seg_write(w, zeros, pad) : VS_OK;
}

/* Streams section i and records its directory entry. */
static vs_status seg_write_section(seg_writer *w, size_t i,
                                   const vs_segfile_section *sec) {
  if (sec->len > 0 && !sec->data) {
    return vs_fail(VS_ERR_INVALID, "segment %s: section %zu (id 0x%08" PRIx32
                   ") has no data", w->path, i, sec->id);
  }
  uint64_t hash = vs_hash64(sec->data, sec->len);
  uint64_t offset = w->offset;
  vs_status st = seg_write(w, sec->data, sec->len);
  if (st == VS_OK) st = seg_pad(w);
  if (st == VS_OK) st = vs_buf_append_u32(&w->dir, sec->id);
  if (st == VS_OK) st = vs_buf_append_u32(&w->dir, 0);
  if (st == VS_OK) st = vs_buf_append_u64(&w->dir, offset);
  if (st == VS_OK) st = vs_buf_append_u64(&w->dir, (uint64_t)sec->len);
  if (st == VS_OK) st = vs_buf_append_u64(&w->dir, hash);
  w->ids[i] = sec->id;
  return st;
}

static int seg_u32_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static vs_status seg_check_unique(const seg_writer *w) {
  if (w->count > 1) qsort(w->ids, w->count, sizeof *w->ids, seg_u32_cmp);
  for (size_t i = 1; i < w->count; i++) {
    if (w->ids[i] == w->ids[i - 1]) {
      return vs_fail(VS_ERR_INVALID, "segment %s: section id 0x%08" PRIx32
                     " appears more than once", w->path, w->ids[i]);
    }
  }
  return VS_OK;
}

/* Directory at the (aligned) end, then the header at offset 0. */
static vs_status seg_write_trailer(seg_writer *w) {
  uint8_t header[SEG_HEADER_BYTES] = {0};
  uint64_t dir_offset = w->offset;
  vs_status st = seg_write(w, w->dir.data, w->dir.len);
  if (st != VS_OK) return st;
  memcpy(header, SEG_MAGIC, 8);
  vs_store_u32(header + 8, SEG_FORMAT_VERSION);
  vs_store_u32(header + 12, (uint32_t)w->count);
  vs_store_u64(header + 16, dir_offset);
  vs_store_u64(header + 24, (uint64_t)w->dir.len);
  vs_store_u64(header + 32, w->offset);
  vs_store_u64(header + 48, vs_hash64(w->dir.data, w->dir.len));
  vs_store_u64(header + 56, vs_hash64(header, SEG_HEADER_HASHED));
  if (pwrite(w->fd, header, sizeof header, 0) != (ssize_t)sizeof header) {
    return vs_fail(VS_ERR_IO, "cannot write the header of %s: %s", w->tmp, strerror(errno));
  }
  return VS_OK;
}

/* fsync, close, rename over path, fsync the directory. */
static vs_status seg_commit(seg_writer *w) {
  int rc;
  do {
    rc = fsync(w->fd);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return vs_fail(VS_ERR_IO, "cannot fsync %s: %s", w->tmp, strerror(errno));
  rc = close(w->fd);
  w->fd = -1;
  if (rc != 0) return vs_fail(VS_ERR_IO, "cannot close %s: %s", w->tmp, strerror(errno));
  if (rename(w->tmp, w->path) != 0) {
    return vs_fail(VS_ERR_IO, "cannot rename %s to %s: %s", w->tmp, w->path,
                   strerror(errno));
  }
  const char *slash = strrchr(w->path, '/');
  if (!slash) return vs_fs_sync_dir(".");
  if (slash == w->path) return vs_fs_sync_dir("/");
  char *parent = vs_strndup(w->path, (size_t)(slash - w->path));
  if (!parent) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = vs_fs_sync_dir(parent);
  free(parent);
  return st;
}

static vs_status seg_writer_open(seg_writer *w, const char *path, size_t count) {
  static const uint8_t zeros[SEG_HEADER_BYTES];
  size_t plen = strlen(path);
  w->path = path;
  w->fd = -1;
  w->count = count;
  w->tmp = malloc(plen + 5);
  w->ids = vs_calloc(count ? count : 1, sizeof *w->ids);
  if (!w->tmp || !w->ids) return vs_fail(VS_ERR_NOMEM, "out of memory");
  memcpy(w->tmp, path, plen);
  memcpy(w->tmp + plen, ".tmp", 5);
  w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd < 0) return vs_fail(VS_ERR_IO, "cannot create %s: %s", w->tmp, strerror(errno));
  return seg_write(w, zeros, sizeof zeros); /* header placeholder */
}

vs_status vs_segfile_write_from(const char *path, size_t count, vs_segfile_source_fn fn,
                                void *ctx) {
  seg_writer w = {0};
  if (count > SEG_MAX_SECTIONS) {
    return vs_fail(VS_ERR_LIMIT, "segment %s: %zu sections exceed the limit of %u", path,
                   count, SEG_MAX_SECTIONS);
  }
  vs_status st = seg_writer_open(&w, path, count);
  for (size_t i = 0; i < count && st == VS_OK; i++) {
    vs_segfile_section sec = {0};
    st = fn(ctx, i, &sec);
    if (st != VS_OK) {
      st = vs_fail_prefix(st, "segment %s: producing section %zu", path, i);
      break;
    }
    st = seg_write_section(&w, i, &sec);
  }
  if (st == VS_OK) st = seg_check_unique(&w);
  if (st == VS_OK) st = seg_write_trailer(&w);
  if (st == VS_OK) st = seg_commit(&w);
  if (w.fd >= 0) close(w.fd);
  if (st != VS_OK && w.tmp) unlink(w.tmp);
  free(w.tmp);
  free(w.ids);
  vs_buf_free(&w.dir);
  return st;
}

static vs_status seg_array_source(void *ctx, size_t i, vs_segfile_section *section) {
  const vs_segfile_section *sections = ctx;
  *section = sections[i];
  return VS_OK;
}

vs_status vs_segfile_write(const char *path, const vs_segfile_section *sections,
                           size_t count) {
  return vs_segfile_write_from(path, count, seg_array_source, (void *)sections);
}

/* ------------------------------------------------------------------ reader */

/* Header fields needed after validation. */
typedef struct seg_header {
  uint32_t count;
  uint64_t dir_offset;
  uint64_t dir_length;
  uint64_t dir_hash;
} seg_header;

static vs_status seg_check_header_fields(const vs_segfile *f, const uint8_t *h,
                                         seg_header *out) {
  uint64_t file_length = vs_load_u64(h + 32);
  out->count = vs_load_u32(h + 12);
  out->dir_offset = vs_load_u64(h + 16);
  out->dir_length = vs_load_u64(h + 24);
  out->dir_hash = vs_load_u64(h + 48);
  if (file_length > f->size) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: truncated (expected %" PRIu64
                   " bytes, found %zu)", f->path, file_length, f->size);
  }
  if (file_length < f->size) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: trailing bytes (expected %" PRIu64
                   " bytes, found %zu)", f->path, file_length, f->size);
  }
  if (out->count > SEG_MAX_SECTIONS) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: section count %" PRIu32
                   " exceeds the limit of %u", f->path, out->count, SEG_MAX_SECTIONS);
  }
  if (out->dir_length != (uint64_t)out->count * SEG_ENTRY_BYTES) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: directory length %" PRIu64
                   " does not match %" PRIu32 " sections", f->path, out->dir_length,
                   out->count);
  }
  if (out->dir_offset < SEG_HEADER_BYTES || out->dir_offset % SEG_ALIGN != 0 ||
      out->dir_offset > file_length || file_length - out->dir_offset != out->dir_length) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: directory at offset %" PRIu64
                   " (%" PRIu64 " bytes) does not end the %" PRIu64 "-byte file",
                   f->path, out->dir_offset, out->dir_length, file_length);
  }
  return VS_OK;
}

static vs_status seg_check_header(const vs_segfile *f, seg_header *out) {
  const uint8_t *h = f->map;
  if (memcmp(h, SEG_MAGIC, 8) != 0) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: bad magic (not a segment file)", f->path);
  }
  uint32_t version = vs_load_u32(h + 8);
  if (vs_hash64(h, SEG_HEADER_HASHED) != vs_load_u64(h + 56)) {
    if (version > SEG_FORMAT_VERSION) {
      return vs_fail(VS_ERR_CORRUPT, "segment %s: header checksum mismatch (file "
                     "corrupted, or format version %" PRIu32 " is newer than this "
                     "build supports (max %u))", f->path, version, SEG_FORMAT_VERSION);
    }
    return vs_fail(VS_ERR_CORRUPT, "segment %s: header checksum mismatch (file corrupted)",
                   f->path);
  }
  if (version > SEG_FORMAT_VERSION) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: format version %" PRIu32
                   " is newer than this build supports (max %u)", f->path, version,
                   SEG_FORMAT_VERSION);
  }
  if (version == 0) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: format version 0 is invalid", f->path);
  }
  return seg_check_header_fields(f, h, out);
}

/* Entry k: aligned, inside [64, dir_offset), after entry k-1. */
static vs_status seg_check_entry(const vs_segfile *f, const seg_header *hdr, size_t k,
                                 uint64_t prev_end) {
  const seg_entry *e = &f->entries[k];
  if (e->offset % SEG_ALIGN != 0 || e->offset < SEG_HEADER_BYTES ||
      e->offset > hdr->dir_offset || e->length > hdr->dir_offset - e->offset) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: section 0x%08" PRIx32 " at offset %"
                   PRIu64 " (%" PRIu64 " bytes) lies outside the data area [64, %"
                   PRIu64 ") or is misaligned", f->path, e->id, e->offset, e->length,
                   hdr->dir_offset);
  }
  if (e->offset < prev_end) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: section 0x%08" PRIx32 " at offset %"
                   PRIu64 " overlaps the previous section or is out of order",
                   f->path, e->id, e->offset);
  }
  return VS_OK;
}

static int seg_id_cmp(const void *a, const void *b) {
  const seg_id_index *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Builds by_id and rejects duplicate ids. */
static vs_status seg_index_ids(vs_segfile *f) {
  for (size_t k = 0; k < f->count; k++) {
    f->by_id[k] = (seg_id_index){f->entries[k].id, (uint32_t)k};
  }
  if (f->count > 1) qsort(f->by_id, f->count, sizeof *f->by_id, seg_id_cmp);
  for (size_t k = 1; k < f->count; k++) {
    if (f->by_id[k].id == f->by_id[k - 1].id) {
      return vs_fail(VS_ERR_CORRUPT, "segment %s: section id 0x%08" PRIx32
                     " appears more than once", f->path, f->by_id[k].id);
    }
  }
  return VS_OK;
}

static vs_status seg_load_directory(vs_segfile *f, const seg_header *hdr) {
  const uint8_t *dir = f->map + hdr->dir_offset;
  if (vs_hash64(dir, (size_t)hdr->dir_length) != hdr->dir_hash) {
    return vs_fail(VS_ERR_CORRUPT, "segment %s: directory checksum mismatch (file "
                   "corrupted)", f->path);
  }
  f->count = hdr->count;
  f->entries = vs_calloc(f->count ? f->count : 1, sizeof *f->entries);
  f->by_id = vs_calloc(f->count ? f->count : 1, sizeof *f->by_id);
  if (!f->entries || !f->by_id) return vs_fail(VS_ERR_NOMEM, "out of memory");
  uint64_t prev_end = SEG_HEADER_BYTES;
  for (size_t k = 0; k < f->count; k++) {
    const uint8_t *p = dir + k * SEG_ENTRY_BYTES;
    f->entries[k] = (seg_entry){vs_load_u32(p), vs_load_u64(p + 8), vs_load_u64(p + 16),
                                vs_load_u64(p + 24)};
    vs_status st = seg_check_entry(f, hdr, k, prev_end);
    if (st != VS_OK) return st;
    prev_end = f->entries[k].offset + f->entries[k].length;
  }
  return seg_index_ids(f);
}

/* open + fstat + mmap. */
static vs_status seg_map(vs_segfile *f, bool populate) {
  struct stat sb;
  vs_status st = VS_OK;
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return vs_fail(errno == ENOENT ? VS_ERR_NOT_FOUND : VS_ERR_IO,
                   "cannot open segment %s: %s", f->path, strerror(errno));
  }
  if (fstat(fd, &sb) != 0) {
    st = vs_fail(VS_ERR_IO, "cannot stat segment %s: %s", f->path, strerror(errno));
    goto done;
  }
  if (!S_ISREG(sb.st_mode) || sb.st_size < (off_t)SEG_HEADER_BYTES) {
    st = vs_fail(VS_ERR_CORRUPT, "segment %s: truncated (%lld bytes, shorter than the "
                 "%u-byte header)", f->path, (long long)sb.st_size, SEG_HEADER_BYTES);
    goto done;
  }
  f->size = (size_t)sb.st_size;
  void *map = mmap(NULL, f->size, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0),
                   fd, 0);
  if (map == MAP_FAILED) {
    st = vs_fail(VS_ERR_IO, "cannot map segment %s: %s", f->path, strerror(errno));
    goto done;
  }
  f->map = map;
done:
  close(fd);
  return st;
}

vs_status vs_segfile_open(const char *path, bool verify, vs_segfile **out) {
  seg_header hdr = {0};
  *out = NULL;
  vs_segfile *f = calloc(1, sizeof *f);
  if (!f) return vs_fail(VS_ERR_NOMEM, "out of memory");
  vs_status st = VS_OK;
  f->path = vs_strdup(path);
  if (!f->path) {
    st = vs_fail(VS_ERR_NOMEM, "out of memory");
    goto done;
  }
  st = seg_map(f, verify);
  if (st == VS_OK) st = seg_check_header(f, &hdr);
  if (st == VS_OK) st = seg_load_directory(f, &hdr);
  if (st == VS_OK && verify) st = vs_segfile_verify(f);
done:
  if (st != VS_OK) {
    vs_segfile_close(f);
    return st;
  }
  *out = f;
  return VS_OK;
}

vs_status vs_segfile_verify(const vs_segfile *f) {
  for (size_t k = 0; k < f->count; k++) {
    const seg_entry *e = &f->entries[k];
    if (vs_hash64(f->map + e->offset, (size_t)e->length) != e->hash) {
      return vs_fail(VS_ERR_CORRUPT, "segment %s: section 0x%08" PRIx32
                     " checksum mismatch (file corrupted)", f->path, e->id);
    }
  }
  return VS_OK;
}

const void *vs_segfile_get(const vs_segfile *f, uint32_t id, size_t *len) {
  size_t lo = 0, hi = f->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (f->by_id[mid].id == id) {
      const seg_entry *e = &f->entries[f->by_id[mid].index];
      if (len) *len = (size_t)e->length;
      return f->map + e->offset;
    }
    if (f->by_id[mid].id < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (len) *len = 0;
  return NULL;
}

size_t vs_segfile_section_count(const vs_segfile *f) { return f->count; }

uint32_t vs_segfile_section_id(const vs_segfile *f, size_t i) {
  return i < f->count ? f->entries[i].id : 0;
}

uint64_t vs_segfile_size(const vs_segfile *f) { return (uint64_t)f->size; }

void vs_segfile_close(vs_segfile *f) {
  if (!f) return;
  if (f->map) munmap((void *)f->map, f->size);
  free(f->entries);
  free(f->by_id);
  free(f->path);
  free(f);
}
