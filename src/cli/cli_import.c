/*
 * cli_import.c -- `vectorstore import DIR COLLECTION FILE`: loads vectors
 * (.fvecs, .bvecs) or rows (.jsonl) into a collection, in batches.
 *
 * Vector files.  When the collection does not exist it is created with the
 * schema {id Int64 primary key (not autoID), vector FloatVector dim=the
 * file's dim, metric from --metric (L2)} -- or from --schema when given.
 * Row r of the file gets id r, so the ids of a file are the same on every
 * import: importing the same file twice fails on the duplicate primary
 * keys (the engine rejects them and writes nothing of that batch), which is
 * what one wants from a re-run by mistake.  An existing collection must have
 * a FloatVector field of the file's dimension (the first one is used) and
 * an Int64 key (or an autoID key, then the row numbers are not used).
 *
 * JSON lines.  One JSON object per line, as vs_rows_from_json takes them;
 * blank lines are skipped.  A batch of lines is wrapped as a JSON array and
 * parsed in one call; when that fails, the lines of the batch are parsed one
 * by one to name the first bad line (1-based, like an editor), and nothing of
 * that batch is inserted.  The batch must parse into exactly as many rows as
 * it has lines, so a line cannot smuggle in two objects ("{..},{..}").  The
 * collection must exist, or --schema FILE (vs_schema_from_json format)
 * creates it.
 *
 * Invariants: every batch is validated whole by the engine (vs_insert is
 * all-or-nothing), so after an error the collection holds exactly the
 * batches before the failing one; the message says which rows or lines
 * those were.  The file is opened and its size checked before the database
 * is opened, so a missing or malformed file never creates a database.
 *
 * Output: progress on stderr when it is a terminal; one summary line on
 * stdout: "imported N rows into COLLECTION in X.XX s (R rows/s)".
 *
 * --index TYPE [--params JSON] defines the field's index *before* the
 * first row is inserted, so an unknown type, bad params or a conflicting
 * existing index fail with nothing imported (and segments sealed during a
 * long import start building at once).  After the last batch the summary
 * line is printed (its time covers the inserts only), then the growing rows
 * are sealed and the command waits for the builds and prints the index's
 * key facts and build time (cli_index.c).
 *
 * Alternatives rejected: continuing the ids after the collection's current
 * row count -- a re-import would then silently double the data.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

#define IMPORT_MAX_BATCH 1000000u
#define IMPORT_MAX_BATCH_BYTES ((size_t)1 << 30)
#define JSONL_MAX_LINE ((size_t)64 << 20)
#define JSONL_FLUSH_BYTES ((size_t)64 << 20)
#define SCHEMA_MAX_BYTES ((size_t)1 << 20)

typedef struct import_args {
  const char *dir;
  const char *collection;
  const char *file;
  const char *metric_name;
  const char *fsync_name;
  const char *partition;
  const char *schema_path;
  uint64_t batch;
  cli_index_request index; /* index.type == NULL: no --index */
  vs_metric metric;
  vs_fsync_policy fsync;
} import_args;

/* ------------------------------------------------------ shared with demo */

void cli_print_import_summary(uint64_t rows, const char *collection,
                              double seconds) {
  double rate = seconds > 0 ? (double)rows / seconds : 0.0;
  printf("imported %" PRIu64 " rows into %s in %.2f s (%.0f rows/s)\n", rows,
         collection, seconds, rate);
}

void cli_hint_duplicates(vs_status status) {
  const char *message = vs_errmsg(NULL);
  if (status == VS_ERR_EXISTS || strcasestr(message, "duplicate") != NULL ||
      strcasestr(message, "already exists") != NULL) {
    fprintf(stderr,
            "hint: ids are the file's row numbers from 0, so importing the "
            "same rows again fails on duplicate primary keys; import into a "
            "new collection, or drop this one first\n");
  }
}

int cli_create_vector_collection(vs_db *db, const char *name, uint32_t dim,
                                 vs_metric metric, const char *int_field) {
  vs_schema *schema = NULL;
  vs_field_def id = {.name = "id", .type = VS_TYPE_INT64, .is_primary = 1};
  vs_field_def vec = {.name = "vector", .type = VS_TYPE_FLOAT_VECTOR,
                      .dim = dim, .metric = metric};
  vs_field_def extra = {.name = int_field, .type = VS_TYPE_INT64};
  vs_status st = vs_schema_new(&schema);
  if (st == VS_OK) st = vs_schema_add_field(schema, &id);
  if (st == VS_OK) st = vs_schema_add_field(schema, &vec);
  if (st == VS_OK && int_field != NULL) st = vs_schema_add_field(schema, &extra);
  if (st == VS_OK) st = vs_create_collection(db, name, schema, NULL);
  vs_schema_free(schema);
  if (st != VS_OK) return cli_fail_status(st, "creating collection '%s'", name);
  printf("created collection '%s': id Int64 primary key, vector FloatVector "
         "dim %u metric %s%s%s%s\n",
         name, dim, vs_metric_name(metric), int_field ? ", " : "",
         int_field ? int_field : "", int_field ? " Int64" : "");
  return 0;
}

/* ------------------------------------------------------------ collection */

static int read_small_file(const char *path, char **out) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  int rc = CLI_EXIT_FAIL;
  *out = NULL;
  if (f == NULL) return cli_fail("cannot open '%s': %s", path, strerror(errno));
  text = malloc(SCHEMA_MAX_BYTES + 1);
  if (text == NULL) {
    cli_fail("out of memory reading '%s'", path);
    goto done;
  }
  size_t len = fread(text, 1, SCHEMA_MAX_BYTES + 1, f);
  if (ferror(f) || len > SCHEMA_MAX_BYTES) {
    cli_fail("%s: %s", path,
             ferror(f) ? "read error" : "larger than 1 MiB, not a schema");
    goto done;
  }
  text[len] = '\0';
  *out = text;
  text = NULL;
  rc = 0;
done:
  free(text);
  fclose(f);
  return rc;
}

/*
 * vs_schema_from_json reads the stored form, in which every field carries
 * its field id ("id": 100, 101, ... increasing).  A schema written by hand
 * leaves ids out, so they are numbered here in field order when no field
 * has one; a file that gives ids is passed on untouched.
 */
static char *number_field_ids(const char *json) {
  json_error_t err;
  json_t *root = json_loads(json, 0, &err);
  json_t *fields = json_object_get(root, "fields");
  char *out = NULL;
  size_t i;
  json_t *f;
  int has_ids = 0;
  json_array_foreach(fields, i, f) has_ids |= json_object_get(f, "id") != NULL;
  if (json_is_array(fields) && !has_ids) {
    json_array_foreach(fields, i, f) {
      if (json_is_object(f)) {
        json_object_set_new(f, "id", json_integer((json_int_t)(100 + i)));
      }
    }
    out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
  }
  json_decref(root);
  return out;
}

static int create_from_schema_file(vs_db *db, const import_args *a) {
  char *json = NULL;
  char *numbered = NULL;
  vs_schema *schema = NULL;
  int rc = read_small_file(a->schema_path, &json);
  if (rc != 0) return rc;
  numbered = number_field_ids(json);
  vs_status st = vs_schema_from_json(numbered ? numbered : json, &schema);
  if (st != VS_OK) {
    rc = cli_fail_status(st, "%s", a->schema_path);
    goto done;
  }
  st = vs_create_collection(db, a->collection, schema, NULL);
  if (st != VS_OK) {
    rc = cli_fail_status(st, "creating collection '%s' from %s",
                         a->collection, a->schema_path);
    goto done;
  }
  printf("created collection '%s' from %s\n", a->collection, a->schema_path);
done:
  vs_schema_free(schema);
  free(numbered);
  free(json);
  return rc;
}

/* Creates the collection when missing; *created says whether it did. */
static int ensure_collection(vs_db *db, const import_args *a, uint32_t dim,
                             int *created) {
  int exists = 0;
  *created = 0;
  vs_status st = vs_has_collection(db, a->collection, &exists);
  if (st != VS_OK) return cli_fail_status(st, "collection '%s'", a->collection);
  if (exists) {
    if (a->schema_path != NULL) {
      fprintf(stderr, "note: collection '%s' exists; --schema is ignored\n",
              a->collection);
    }
    return 0;
  }
  *created = 1;
  if (a->schema_path != NULL) return create_from_schema_file(db, a);
  if (dim == 0) {
    cli_fail("collection '%s' does not exist in %s", a->collection, a->dir);
    fprintf(stderr,
            "hint: create it first, e.g. vectorstore import %s %s %s "
            "--schema schema.json (the schema format is in docs/cli.md)\n",
            a->dir, a->collection, a->file);
    return CLI_EXIT_FAIL;
  }
  return cli_create_vector_collection(db, a->collection, dim, a->metric,
                                      NULL);
}

static int check_target(const import_args *a, const cli_target *t,
                        uint32_t dim, int created) {
  if (t->dim != dim) {
    return cli_fail("collection '%s' field '%s' has dimension %u, but %s has "
                    "%u",
                    a->collection, t->vector_field, t->dim, a->file, dim);
  }
  if (!created && a->metric_name != NULL && t->metric != a->metric) {
    return cli_fail("collection '%s' exists with metric %s; --metric %s "
                    "conflicts",
                    a->collection, vs_metric_name(t->metric), a->metric_name);
  }
  if (!t->pk_auto_id && t->pk_type != VS_TYPE_INT64) {
    return cli_fail("collection '%s' has a %s primary key '%s'; importing a "
                    "vector file needs an Int64 key (its ids are row "
                    "numbers)",
                    a->collection, vs_type_name(t->pk_type), t->pk_field);
  }
  return 0;
}

/* ----------------------------------------------------------------- index */

/* With --index: defines the index on `field` (NULL = the only vector
 * field) before any row is inserted. */
static int define_index(vs_db *db, import_args *a, const char *field) {
  if (a->index.type == NULL) return 0;
  a->index.field = field;
  return cli_index_define(db, a->collection, &a->index);
}

/* With --index: prints the import summary (inserts only), then seals, waits
 * for the builds and reports the index. */
static int finish_import(vs_db *db, const import_args *a, uint64_t imported,
                         double start) {
  if (a->index.type == NULL) return 0;
  cli_print_import_summary(imported, a->collection, cli_now() - start);
  return cli_index_finish(db, a->collection, &a->index);
}

/* ------------------------------------------------------------ vector files */

static int insert_vector_batches(vs_db *db, const import_args *a,
                                 cli_vecs *v, const cli_target *t,
                                 float *buf, uint64_t *imported) {
  cli_progress progress;
  cli_progress_start(&progress, v->total_rows, "rows");
  for (;;) {
    size_t got = 0;
    int rc = cli_vecs_read_floats(v, (size_t)a->batch, buf, &got);
    if (rc != 0 || got == 0) {
      cli_progress_finish(&progress);
      return rc;
    }
    cli_vector_batch b = {.target = t, .first_id = (int64_t)*imported,
                          .rows = got, .vectors = buf};
    vs_status st = cli_insert_vectors(db, a->collection, a->partition, &b);
    if (st != VS_OK) {
      cli_progress_finish(&progress);
      cli_fail_status(st, "%s: rows %" PRIu64 "..%" PRIu64 " (not imported; "
                      "%" PRIu64 " rows before them were)",
                      a->file, *imported, *imported + got - 1, *imported);
      cli_hint_duplicates(st);
      return CLI_EXIT_FAIL;
    }
    *imported += got;
    cli_progress_update(&progress, *imported, -1.0);
  }
}

static int import_vectors(import_args *a, cli_vecs_kind kind) {
  cli_vecs v;
  cli_target t = {0};
  vs_db *db = NULL;
  float *buf = NULL;
  uint64_t imported = 0;
  int created = 0;
  int rc = cli_vecs_open(a->file, kind, &v);
  if (rc != 0) return rc;
  size_t bytes = 0;
  if (__builtin_mul_overflow((size_t)a->batch, (size_t)v.dim * sizeof(float),
                             &bytes) ||
      bytes > IMPORT_MAX_BATCH_BYTES) {
    rc = cli_fail("--batch %" PRIu64 " rows of dimension %u exceed 1 GiB; "
                  "use a smaller --batch", a->batch, v.dim);
    goto done;
  }
  buf = malloc(bytes);
  if (buf == NULL) {
    rc = cli_fail("out of memory for a batch of %" PRIu64 " rows", a->batch);
    goto done;
  }
  double start = cli_now();
  rc = cli_open_db(a->dir, a->fsync, 0, 0, &db);
  if (rc == 0) rc = ensure_collection(db, a, v.dim, &created);
  if (rc == 0) rc = cli_target_resolve(db, a->collection, NULL, &t);
  if (rc == 0) rc = check_target(a, &t, v.dim, created);
  if (rc == 0) rc = cli_ensure_partition(db, a->collection, a->partition);
  if (rc == 0) rc = define_index(db, a, t.vector_field);
  if (rc == 0) rc = insert_vector_batches(db, a, &v, &t, buf, &imported);
  if (rc == 0) rc = finish_import(db, a, imported, start);
  if (db != NULL) {
    int closed = cli_close_db(db);
    if (rc == 0) rc = closed;
  }
  if (rc == 0 && a->index.type == NULL) {
    cli_print_import_summary(imported, a->collection, cli_now() - start);
  }
done:
  cli_target_free(&t);
  free(buf);
  cli_vecs_close(&v);
  return rc;
}

/* ---------------------------------------------------------------- jsonl */

typedef struct jsonl_batch {
  char *text; /* "[line,line,...]" */
  size_t len, cap;
  size_t *starts; /* offset of each line's text */
  size_t *lens;
  uint64_t *line_numbers;
  size_t count, count_cap;
} jsonl_batch;

typedef struct jsonl_state {
  const import_args *args;
  vs_db *db;
  vs_schema *schema;
  jsonl_batch batch;
  uint64_t imported;
} jsonl_state;

static int text_append(jsonl_batch *b, const char *s, size_t n) {
  if (n > SIZE_MAX - b->len - 2) return -1;
  if (b->len + n + 2 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 2) {
      if (cap > SIZE_MAX / 2) return -1;
      cap *= 2;
    }
    char *p = realloc(b->text, cap);
    if (p == NULL) return -1;
    b->text = p;
    b->cap = cap;
  }
  memcpy(b->text + b->len, s, n);
  b->len += n;
  b->text[b->len] = '\0';
  return 0;
}

static int grow_line_arrays(jsonl_batch *b) {
  if (b->count < b->count_cap) return 0;
  size_t cap = b->count_cap ? b->count_cap * 2 : 64;
  size_t *starts = realloc(b->starts, cap * sizeof *starts);
  if (starts != NULL) b->starts = starts;
  size_t *lens = realloc(b->lens, cap * sizeof *lens);
  if (lens != NULL) b->lens = lens;
  uint64_t *numbers = realloc(b->line_numbers, cap * sizeof *numbers);
  if (numbers != NULL) b->line_numbers = numbers;
  if (starts == NULL || lens == NULL || numbers == NULL) return -1;
  b->count_cap = cap;
  return 0;
}

static int batch_add_line(jsonl_batch *b, const char *line, size_t n,
                          uint64_t line_number) {
  if (grow_line_arrays(b) != 0) return -1;
  if (text_append(b, b->count == 0 ? "[" : ",", 1) != 0) return -1;
  b->starts[b->count] = b->len;
  b->lens[b->count] = n;
  b->line_numbers[b->count] = line_number;
  if (text_append(b, line, n) != 0) return -1;
  b->count++;
  return 0;
}

static void batch_reset(jsonl_batch *b) {
  b->len = 0;
  b->count = 0;
}

static void batch_free(jsonl_batch *b) {
  free(b->text);
  free(b->starts);
  free(b->lens);
  free(b->line_numbers);
  memset(b, 0, sizeof *b);
}

/* Parses line i of the batch alone; prints its error and returns 1 when it
 * is the bad one, 0 when it parses into exactly one row. */
static int check_one_line(jsonl_state *s, size_t i) {
  jsonl_batch *b = &s->batch;
  size_t n = b->lens[i];
  char *one = malloc(n + 3);
  vs_rows *rows = NULL;
  int bad = 1;
  if (one == NULL) return cli_fail("out of memory");
  one[0] = '[';
  memcpy(one + 1, b->text + b->starts[i], n);
  memcpy(one + 1 + n, "]", 2);
  vs_status st = vs_rows_from_json(s->schema, one, &rows);
  if (st != VS_OK) {
    cli_fail_status(st, "%s: line %" PRIu64, s->args->file,
                    b->line_numbers[i]);
  } else if (vs_rows_count(rows) != 1) {
    cli_fail("%s: line %" PRIu64 ": expected one JSON object per line, "
             "found %zu",
             s->args->file, b->line_numbers[i], vs_rows_count(rows));
  } else {
    bad = 0;
  }
  vs_rows_free(rows);
  free(one);
  return bad;
}

static void report_nothing_imported(const jsonl_state *s) {
  const jsonl_batch *b = &s->batch;
  fprintf(stderr, "nothing of lines %" PRIu64 "..%" PRIu64
                  " was imported; %" PRIu64 " rows before them were\n",
          b->line_numbers[0], b->line_numbers[b->count - 1], s->imported);
}

static int report_bad_batch(jsonl_state *s, vs_status st) {
  jsonl_batch *b = &s->batch;
  size_t i = 0;
  while (i < b->count && !check_one_line(s, i)) i++;
  if (i == b->count) {
    cli_fail_status(st, "%s: lines %" PRIu64 "..%" PRIu64, s->args->file,
                    b->line_numbers[0], b->line_numbers[b->count - 1]);
  }
  report_nothing_imported(s);
  return CLI_EXIT_FAIL;
}

static int flush_batch(jsonl_state *s) {
  jsonl_batch *b = &s->batch;
  vs_rows *rows = NULL;
  int rc = 0;
  if (b->count == 0) return 0;
  if (text_append(b, "]", 1) != 0) return cli_fail("out of memory");
  vs_status st = vs_rows_from_json(s->schema, b->text, &rows);
  if (st != VS_OK || vs_rows_count(rows) != b->count) {
    rc = report_bad_batch(s, st);
    goto done;
  }
  st = vs_insert(s->db, s->args->collection, s->args->partition, rows, NULL);
  if (st != VS_OK) {
    cli_fail_status(st, "%s: lines %" PRIu64 "..%" PRIu64, s->args->file,
                    b->line_numbers[0], b->line_numbers[b->count - 1]);
    report_nothing_imported(s);
    cli_hint_duplicates(st);
    rc = CLI_EXIT_FAIL;
    goto done;
  }
  s->imported += b->count;
  batch_reset(b);
done:
  vs_rows_free(rows);
  return rc;
}

static int is_blank(const char *line, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') return 0;
  }
  return 1;
}

static int read_lines(jsonl_state *s, FILE *f, uint64_t file_size) {
  char *line = NULL;
  size_t line_cap = 0;
  uint64_t line_number = 0, bytes = 0;
  int rc = 0;
  cli_progress progress;
  cli_progress_start(&progress, 0, "rows");
  for (;;) {
    ssize_t n = getline(&line, &line_cap, f);
    if (n < 0) break;
    line_number++;
    bytes += (uint64_t)n;
    size_t len = (size_t)n;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    if ((size_t)n > JSONL_MAX_LINE) {
      rc = cli_fail("%s: line %" PRIu64 " is longer than 64 MiB",
                    s->args->file, line_number);
      break;
    }
    if (is_blank(line, len)) continue;
    if (batch_add_line(&s->batch, line, len, line_number) != 0) {
      rc = cli_fail("out of memory at line %" PRIu64, line_number);
      break;
    }
    if (s->batch.count >= s->args->batch || s->batch.len >= JSONL_FLUSH_BYTES) {
      rc = flush_batch(s);
      if (rc != 0) break;
      double fraction = file_size ? (double)bytes / (double)file_size : -1.0;
      cli_progress_update(&progress, s->imported, fraction);
    }
  }
  if (rc == 0 && ferror(f)) {
    rc = cli_fail("%s: read error after line %" PRIu64, s->args->file,
                  line_number);
  }
  if (rc == 0) rc = flush_batch(s);
  cli_progress_finish(&progress);
  free(line);
  return rc;
}

static int import_jsonl(import_args *a) {
  jsonl_state s = {.args = a};
  struct stat st;
  int created = 0;
  if (a->metric_name != NULL) {
    fprintf(stderr, "note: --metric is ignored for .jsonl files (the schema "
                    "sets the metric)\n");
  }
  FILE *f = fopen(a->file, "rb");
  if (f == NULL) {
    return cli_fail("cannot open .jsonl file '%s': %s", a->file,
                    strerror(errno));
  }
  uint64_t file_size = fstat(fileno(f), &st) == 0 ? (uint64_t)st.st_size : 0;
  double start = cli_now();
  int rc = cli_open_db(a->dir, a->fsync, 0, 0, &s.db);
  if (rc == 0) rc = ensure_collection(s.db, a, 0, &created);
  if (rc == 0) {
    vs_status got = vs_get_schema(s.db, a->collection, &s.schema);
    if (got != VS_OK) rc = cli_fail_status(got, "collection '%s'", a->collection);
  }
  if (rc == 0) rc = cli_ensure_partition(s.db, a->collection, a->partition);
  if (rc == 0) rc = define_index(s.db, a, NULL);
  if (rc == 0) rc = read_lines(&s, f, file_size);
  if (rc == 0) rc = finish_import(s.db, a, s.imported, start);
  if (s.db != NULL) {
    int closed = cli_close_db(s.db);
    if (rc == 0) rc = closed;
  }
  if (rc == 0 && a->index.type == NULL) {
    cli_print_import_summary(s.imported, a->collection, cli_now() - start);
  }
  vs_schema_free(s.schema);
  batch_free(&s.batch);
  fclose(f);
  return rc;
}

/* ---------------------------------------------------------------- command */

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s);
  size_t m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cli_cmd_import(const cli_command *cmd, int argc, char **argv) {
  import_args a = {.batch = 1000,
                   .index = {.timeout_s = CLI_INDEX_DEFAULT_TIMEOUT}};
  cli_option options[] = {
      {"metric", CLI_OPT_STRING, &a.metric_name, 0, 0, 0},
      {"batch", CLI_OPT_UINT, &a.batch, 1, IMPORT_MAX_BATCH, 0},
      {"fsync", CLI_OPT_STRING, &a.fsync_name, 0, 0, 0},
      {"partition", CLI_OPT_STRING, &a.partition, 0, 0, 0},
      {"schema", CLI_OPT_STRING, &a.schema_path, 0, 0, 0},
      {"index", CLI_OPT_STRING, &a.index.type, 0, 0, 0},
      {"params", CLI_OPT_STRING, &a.index.params, 0, 0, 0},
      {"timeout", CLI_OPT_UINT, &a.index.timeout_s, 1, CLI_INDEX_MAX_TIMEOUT,
       0},
      {NULL, CLI_OPT_STRING, NULL, 0, 0, 0}};
  const char *pos[3];
  int npos = 0;
  int rc = cli_parse_args(cmd, argc, argv, options, pos, 3, 3, &npos);
  if (rc != 0) return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
  a.dir = pos[0];
  a.collection = pos[1];
  a.file = pos[2];
  if (a.index.type == NULL && (a.index.params != NULL || options[7].seen)) {
    return cli_usage_error(cmd, "--params and --timeout need --index TYPE");
  }
  rc = cli_parse_metric(cmd, a.metric_name, &a.metric);
  if (rc == 0) rc = cli_parse_fsync(cmd, a.fsync_name, &a.fsync);
  if (rc != 0) return rc;
  int kind = cli_vecs_kind_from_path(a.file);
  if (kind == CLI_VECS_FLOAT || kind == CLI_VECS_BYTE) {
    return import_vectors(&a, (cli_vecs_kind)kind);
  }
  if (ends_with(a.file, ".jsonl") || ends_with(a.file, ".ndjson")) {
    return import_jsonl(&a);
  }
  return cli_usage_error(cmd, "FILE '%s' must end in .fvecs, .bvecs or .jsonl",
                         a.file);
}
