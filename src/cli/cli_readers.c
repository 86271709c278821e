/*
 * cli_readers.c -- readers and writers for the vector file formats the
 * command line takes: .fvecs, .bvecs, .ivecs (the TEXMEX / ann-benchmarks
 * formats) and gzip-compressed IDX (MNIST, Fashion-MNIST).
 *
 * Formats (all rows are self-describing; every integer little-endian in the
 * *vecs formats, big-endian in IDX):
 *
 *   .fvecs   per row: int32 dim | dim x float32
 *   .bvecs   per row: int32 dim | dim x uint8    (read as float 0..255)
 *   .ivecs   per row: int32 dim | dim x int32
 *
 *   IDX      offset  size       field
 *            0       4          magic: 0x0000 08 NN  (08 = uint8, NN = dims)
 *            4       4 x NN     sizes, the first is the item count
 *            4+4NN   product    the items, uint8
 *
 * Invariants and hostility.  A file comes from anywhere.  Every row's
 * dimension must be in 1..32768 and equal to row 0's; a short last row is an
 * error, not silently dropped; floats must be finite (the engine would
 * reject NaN anyway, but here the error can name the file and row).  Sizes
 * are multiplied only after checking for overflow.  Rows are counted from
 * 0, like the ids `import` gives them.
 *
 * cli_vecs_open checks that the file size is a whole number of rows.  When
 * it is not, it scans the row headers (a seek per row, only in that case)
 * to name the first row whose dimension differs or that is truncated, so a
 * bad file is rejected before anything is imported.  A file whose size is
 * right but whose row header disagrees in the middle is caught while
 * streaming, at that row.
 *
 * Alternatives rejected: mmap of the whole file -- simpler reads, but a
 * file truncated underneath us turns into SIGBUS instead of an error, and
 * stdio streaming is as fast for a sequential pass.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cli/cli.h"

#define IDX_MAX_ITEMS (1u << 28)

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void store_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t load_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static size_t element_size(cli_vecs_kind kind) {
  return kind == CLI_VECS_BYTE ? 1 : 4;
}

static const char *kind_name(cli_vecs_kind kind) {
  return kind == CLI_VECS_FLOAT ? ".fvecs"
         : kind == CLI_VECS_BYTE ? ".bvecs"
                                 : ".ivecs";
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s);
  size_t m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cli_vecs_kind_from_path(const char *path) {
  if (ends_with(path, ".fvecs")) return CLI_VECS_FLOAT;
  if (ends_with(path, ".bvecs")) return CLI_VECS_BYTE;
  if (ends_with(path, ".ivecs")) return CLI_VECS_INT;
  return -1;
}

/* ---------------------------------------------------------------- opening */

static int check_dim(const cli_vecs *v, uint64_t row, int64_t dim) {
  if (dim < 1 || dim > (int64_t)VS_MAX_DIM) {
    return cli_fail("%s: row %llu: dimension %lld is out of range 1..%u",
                    v->path, (unsigned long long)row, (long long)dim,
                    VS_MAX_DIM);
  }
  return 0;
}

/* The size is not a whole number of rows: find and name the first bad row
 * by reading only the row headers. */
static int scan_headers(cli_vecs *v, uint64_t size) {
  uint64_t offset = 0;
  for (uint64_t row = 0; offset < size; row++, offset += v->row_bytes) {
    uint8_t header[4];
    if (size - offset < 4 || fseeko(v->file, (off_t)offset, SEEK_SET) != 0 ||
        fread(header, 1, 4, v->file) != 4) {
      return cli_fail("%s: row %llu is truncated (the file ends %llu bytes "
                      "into its 4-byte header)",
                      v->path, (unsigned long long)row,
                      (unsigned long long)(size - offset));
    }
    int32_t dim = (int32_t)load_le32(header);
    if ((uint32_t)dim != v->dim) {
      return cli_fail("%s: row %llu has dimension %d, but row 0 has %u",
                      v->path, (unsigned long long)row, dim, v->dim);
    }
    if (size - offset < v->row_bytes) {
      return cli_fail("%s: row %llu is truncated (%llu of %zu bytes)",
                      v->path, (unsigned long long)row,
                      (unsigned long long)(size - offset), v->row_bytes);
    }
  }
  return cli_fail("%s: size is not a whole number of rows", v->path);
}

static int read_first_header(cli_vecs *v, uint64_t size) {
  uint8_t header[4];
  if (size == 0) return cli_fail("%s: the file is empty", v->path);
  if (size < 4 || fread(header, 1, 4, v->file) != 4) {
    return cli_fail("%s: row 0 is truncated (the file has %llu bytes)",
                    v->path, (unsigned long long)size);
  }
  int32_t dim = (int32_t)load_le32(header);
  int rc = check_dim(v, 0, dim);
  if (rc != 0) return rc;
  v->dim = (uint32_t)dim;
  v->row_bytes = 4 + (size_t)v->dim * element_size(v->kind);
  v->total_rows = size / v->row_bytes;
  if (size % v->row_bytes != 0) return scan_headers(v, size);
  return 0;
}

int cli_vecs_open(const char *path, cli_vecs_kind kind, cli_vecs *out) {
  struct stat st;
  int rc = CLI_EXIT_FAIL;
  memset(out, 0, sizeof *out);
  out->path = path;
  out->kind = kind;
  out->file = fopen(path, "rb");
  if (out->file == NULL) {
    return cli_fail("cannot open %s file '%s': %s", kind_name(kind), path,
                    strerror(errno));
  }
  if (fstat(fileno(out->file), &st) != 0 || !S_ISREG(st.st_mode)) {
    cli_fail("%s: not a regular file", path);
    goto done;
  }
  rc = read_first_header(out, (uint64_t)st.st_size);
  if (rc != 0) goto done;
  rc = CLI_EXIT_FAIL;
  if (fseeko(out->file, 0, SEEK_SET) != 0) {
    cli_fail("%s: cannot seek: %s", path, strerror(errno));
    goto done;
  }
  out->row_buffer = malloc(out->row_bytes);
  if (out->row_buffer == NULL) {
    cli_fail("%s: out of memory for one row", path);
    goto done;
  }
  rc = 0;
done:
  if (rc != 0) cli_vecs_close(out);
  return rc;
}

void cli_vecs_close(cli_vecs *v) {
  if (v->file != NULL) fclose(v->file);
  free(v->row_buffer);
  v->file = NULL;
  v->row_buffer = NULL;
}

/* ---------------------------------------------------------------- reading */

/* Reads the next row's payload into v->row_buffer.  *end = 1 at a clean end
 * of file. */
static int read_row(cli_vecs *v, int *end) {
  uint8_t header[4];
  size_t payload = v->row_bytes - 4;
  *end = 0;
  size_t got = fread(header, 1, 4, v->file);
  if (got == 0 && feof(v->file)) {
    *end = 1;
    return 0;
  }
  if (got != 4) {
    return cli_fail("%s: row %llu is truncated", v->path,
                    (unsigned long long)v->next_row);
  }
  int32_t dim = (int32_t)load_le32(header);
  if ((uint32_t)dim != v->dim) {
    return cli_fail("%s: row %llu has dimension %d, but row 0 has %u",
                    v->path, (unsigned long long)v->next_row, dim, v->dim);
  }
  got = fread(v->row_buffer, 1, payload, v->file);
  if (got != payload) {
    return cli_fail("%s: row %llu is truncated (%zu of %zu bytes)", v->path,
                    (unsigned long long)v->next_row, got + 4, v->row_bytes);
  }
  return 0;
}

static int convert_floats(cli_vecs *v, float *out) {
  const uint8_t *p = v->row_buffer;
  for (uint32_t i = 0; i < v->dim; i++) {
    if (v->kind == CLI_VECS_BYTE) {
      out[i] = (float)p[i];
      continue;
    }
    uint32_t bits = load_le32(p + 4 * (size_t)i);
    memcpy(&out[i], &bits, sizeof bits);
    if (!isfinite(out[i])) {
      return cli_fail("%s: row %llu, component %u is not a finite number",
                      v->path, (unsigned long long)v->next_row, i);
    }
  }
  return 0;
}

int cli_vecs_read_floats(cli_vecs *v, size_t max_rows, float *out,
                         size_t *got) {
  *got = 0;
  if (v->kind == CLI_VECS_INT) {
    return cli_fail("%s: an .ivecs file holds ids, not vectors", v->path);
  }
  while (*got < max_rows) {
    int end = 0;
    int rc = read_row(v, &end);
    if (rc != 0 || end) return rc;
    rc = convert_floats(v, out + *got * (size_t)v->dim);
    if (rc != 0) return rc;
    v->next_row++;
    (*got)++;
  }
  return 0;
}

int cli_vecs_read_ints(cli_vecs *v, size_t max_rows, int32_t *out,
                       size_t *got) {
  *got = 0;
  while (*got < max_rows) {
    int end = 0;
    int rc = read_row(v, &end);
    if (rc != 0 || end) return rc;
    const uint8_t *p = v->row_buffer;
    int32_t *row = out + *got * (size_t)v->dim;
    for (uint32_t i = 0; i < v->dim; i++) {
      row[i] = (int32_t)load_le32(p + 4 * (size_t)i);
    }
    v->next_row++;
    (*got)++;
  }
  return 0;
}

/* ------------------------------------------------------- whole-file loads */

static int alloc_rows(const cli_vecs *v, size_t elem, void **out) {
  size_t cells = 0;
  size_t bytes = 0;
  *out = NULL;
  if (v->total_rows > SIZE_MAX ||
      __builtin_mul_overflow((size_t)v->total_rows, (size_t)v->dim, &cells) ||
      __builtin_mul_overflow(cells, elem, &bytes)) {
    return cli_fail("%s: %llu rows of dimension %u do not fit in memory",
                    v->path, (unsigned long long)v->total_rows, v->dim);
  }
  *out = malloc(bytes ? bytes : 1);
  if (*out == NULL) {
    return cli_fail("%s: out of memory for %zu bytes", v->path, bytes);
  }
  return 0;
}

int cli_load_floats(const char *path, float **data, size_t *rows,
                    uint32_t *dim) {
  cli_vecs v;
  float *buf = NULL;
  int kind = cli_vecs_kind_from_path(path);
  *data = NULL;
  if (kind != CLI_VECS_FLOAT && kind != CLI_VECS_BYTE) {
    return cli_fail("%s: expected an .fvecs or .bvecs file", path);
  }
  int rc = cli_vecs_open(path, (cli_vecs_kind)kind, &v);
  if (rc != 0) return rc;
  rc = alloc_rows(&v, sizeof(float), (void **)&buf);
  if (rc != 0) goto done;
  rc = cli_vecs_read_floats(&v, (size_t)v.total_rows, buf, rows);
  if (rc != 0) goto done;
  *dim = v.dim;
  *data = buf;
  buf = NULL;
done:
  free(buf);
  cli_vecs_close(&v);
  return rc;
}

int cli_load_ints(const char *path, int32_t **data, size_t *rows,
                  uint32_t *dim) {
  cli_vecs v;
  int32_t *buf = NULL;
  *data = NULL;
  int rc = cli_vecs_open(path, CLI_VECS_INT, &v);
  if (rc != 0) return rc;
  rc = alloc_rows(&v, sizeof(int32_t), (void **)&buf);
  if (rc != 0) goto done;
  rc = cli_vecs_read_ints(&v, (size_t)v.total_rows, buf, rows);
  if (rc != 0) goto done;
  *dim = v.dim;
  *data = buf;
  buf = NULL;
done:
  free(buf);
  cli_vecs_close(&v);
  return rc;
}

/* ---------------------------------------------------------------- writing */

static int write_rows(FILE *f, const int32_t *data, size_t rows,
                      uint32_t dim) {
  uint8_t cell[4];
  for (size_t r = 0; r < rows; r++) {
    store_le32(cell, dim);
    if (fwrite(cell, 1, 4, f) != 4) return -1;
    for (uint32_t i = 0; i < dim; i++) {
      store_le32(cell, (uint32_t)data[r * dim + i]);
      if (fwrite(cell, 1, 4, f) != 4) return -1;
    }
  }
  return 0;
}

int cli_write_ivecs(const char *path, const int32_t *data, size_t rows,
                    uint32_t dim) {
  int rc = CLI_EXIT_FAIL;
  size_t len = strlen(path) + 5;
  char *tmp = malloc(len);
  FILE *f = NULL;
  if (tmp == NULL) return cli_fail("out of memory");
  snprintf(tmp, len, "%s.tmp", path);
  f = fopen(tmp, "wb");
  if (f == NULL) {
    cli_fail("cannot create '%s': %s", tmp, strerror(errno));
    goto done;
  }
  int bad = write_rows(f, data, rows, dim) != 0 || fflush(f) != 0 ||
            fsync(fileno(f)) != 0;
  int closed = fclose(f);
  f = NULL;
  if (bad || closed != 0 || rename(tmp, path) != 0) {
    cli_fail("cannot write '%s': %s", path, strerror(errno));
    unlink(tmp);
    goto done;
  }
  rc = 0;
done:
  if (f != NULL) fclose(f);
  free(tmp);
  return rc;
}

/* -------------------------------------------------------------------- IDX */

static int gz_read_exact(cli_idx *x, void *out, size_t n, const char *what) {
  uint8_t *p = out;
  while (n > 0) {
    unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
    int got = gzread((gzFile)x->gz, p, chunk);
    if (got <= 0) {
      int errnum = 0;
      const char *msg = gzerror((gzFile)x->gz, &errnum);
      return cli_fail("%s: %s: %s", x->path, what,
                      got == 0 ? "unexpected end of file"
                               : (msg ? msg : "read error"));
    }
    p += got;
    n -= (size_t)got;
  }
  return 0;
}

static int idx_read_sizes(cli_idx *x, uint32_t ndims) {
  uint8_t raw[4 * 3];
  int rc = gz_read_exact(x, raw, 4 * (size_t)ndims, "truncated header");
  if (rc != 0) return rc;
  x->count = load_be32(raw);
  if (x->count == 0 || x->count > IDX_MAX_ITEMS) {
    return cli_fail("%s: item count %u is out of range 1..%u", x->path,
                    x->count, IDX_MAX_ITEMS);
  }
  uint64_t item = 1;
  for (uint32_t d = 1; d < ndims; d++) {
    uint32_t size = load_be32(raw + 4 * d);
    item *= size;
    if (size == 0 || item > VS_MAX_DIM) {
      return cli_fail("%s: item size (dimension %u = %u) makes items empty "
                      "or larger than %u values",
                      x->path, d, size, VS_MAX_DIM);
    }
  }
  x->item_size = (uint32_t)item;
  return 0;
}

int cli_idx_open(const char *path, uint32_t magic, cli_idx *out) {
  uint8_t raw[4];
  memset(out, 0, sizeof *out);
  out->path = path;
  out->gz = gzopen(path, "rb");
  if (out->gz == NULL) {
    return cli_fail("cannot open '%s': %s", path,
                    errno ? strerror(errno) : "gzopen failed");
  }
  int rc = gz_read_exact(out, raw, 4, "truncated header");
  if (rc == 0 && load_be32(raw) != magic) {
    rc = cli_fail("%s: magic 0x%08x, expected 0x%08x (not an IDX file of "
                  "this kind)",
                  path, load_be32(raw), magic);
  }
  uint32_t ndims = magic & 0xffu;
  if (rc == 0 && (ndims < 1 || ndims > 3)) {
    rc = cli_fail("%s: IDX files with %u dimensions are not supported", path,
                  ndims);
  }
  if (rc == 0) rc = idx_read_sizes(out, ndims);
  if (rc != 0) cli_idx_close(out);
  return rc;
}

int cli_idx_read(cli_idx *x, size_t n, uint8_t *out) {
  if (n > x->count - x->next) {
    return cli_fail("%s: asked for %zu items past item %u of %u", x->path, n,
                    x->next, x->count);
  }
  int rc = gz_read_exact(x, out, n * (size_t)x->item_size,
                         "truncated items");
  if (rc == 0) x->next += (uint32_t)n;
  return rc;
}

void cli_idx_close(cli_idx *x) {
  if (x->gz != NULL) gzclose((gzFile)x->gz);
  x->gz = NULL;
}
