/*
 * cli.h -- the interface shared by the files of src/cli/, the `vectorstore`
 * command.  The command line is an application of the public API
 * (include/vectorstore.h) and includes nothing else of the library.
 *
 * Exit codes, for every command:
 *   0  success
 *   1  runtime error (a file, the database, the data); "error: ..." on stderr
 *   2  usage error (unknown command or flag, missing argument, bad value)
 */
#ifndef VS_CLI_H
#define VS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "vectorstore.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
/* Returned by cli_parse_args when --help was given: print usage, exit 0. */
#define CLI_EXIT_HELP (-1)

#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* ---------------------------------------------------------- command table */

typedef struct cli_command cli_command;
/* argv[0] is the command name; the rest are its own arguments. */
typedef int (*cli_handler)(const cli_command *cmd, int argc, char **argv);

struct cli_command {
  const char *name;
  const char *summary; /* one line, shown by `vectorstore help` */
  const char *usage;   /* arguments and flags, shown on usage errors */
  cli_handler run;
};

int cli_cmd_import(const cli_command *cmd, int argc, char **argv);
int cli_cmd_search(const cli_command *cmd, int argc, char **argv);
int cli_cmd_stats(const cli_command *cmd, int argc, char **argv);
int cli_cmd_check(const cli_command *cmd, int argc, char **argv);
int cli_cmd_version(const cli_command *cmd, int argc, char **argv);
int cli_cmd_demo(const cli_command *cmd, int argc, char **argv);
int cli_cmd_index(const cli_command *cmd, int argc, char **argv);
int cli_cmd_serve(const cli_command *cmd, int argc, char **argv);
int cli_cmd_config(const cli_command *cmd, int argc, char **argv);
int cli_cmd_query(const cli_command *cmd, int argc, char **argv);

/* ------------------------------------------------------- argument parsing */

typedef enum cli_option_kind {
  CLI_OPT_STRING, /* dest: const char ** */
  CLI_OPT_UINT,   /* dest: uint64_t *, checked against [min, max] */
  CLI_OPT_FLAG,   /* dest: int *, set to 1; takes no value */
  CLI_OPT_NUMBER  /* dest: double *, any finite number (min/max unused) */
} cli_option_kind;

typedef struct cli_option {
  const char *name; /* without the leading "--" */
  cli_option_kind kind;
  void *dest;
  uint64_t min, max;
  int seen; /* set by the parser */
} cli_option;

/*
 * Parses argv[1..argc-1] of command `cmd`: flags `--name value` and
 * `--name=value` (or a bare `--name` for CLI_OPT_FLAG) from `options`
 * (terminated by a NULL name), and positional
 * arguments into pos[0..max_pos-1].  "--" ends the flags.  Returns 0,
 * CLI_EXIT_HELP for --help/-h (usage already printed on stdout), or
 * CLI_EXIT_USAGE after printing what was wrong and the usage on stderr.
 */
int cli_parse_args(const cli_command *cmd, int argc, char **argv,
                   cli_option *options, const char **pos, int min_pos,
                   int max_pos, int *npos);
/* Prints "usage: vectorstore NAME USAGE" to `out`. */
void cli_print_usage(FILE *out, const cli_command *cmd);
/* Prints "error: CMD: <message>" and the usage to stderr; returns 2. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    CLI_PRINTF(2, 3);

/* ----------------------------------------------------------------- errors */

/* Prints "error: <message>" to stderr; returns CLI_EXIT_FAIL. */
int cli_fail(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Prints "error: <context>: <vs_errmsg>" (or the status's default message
 * when the library left none) to stderr; returns CLI_EXIT_FAIL.  `fmt` may
 * be NULL for no context. */
int cli_fail_status(vs_status status, const char *fmt, ...) CLI_PRINTF(2, 3);

/* ------------------------------------------------------ timing, progress */

/* Seconds on CLOCK_MONOTONIC. */
double cli_now(void);
/* Value at quantile q (0..1, nearest rank) of n sorted values; 0 if n==0. */
double cli_quantile(const double *sorted, size_t n, double q);
void cli_sort_doubles(double *values, size_t n);

/* A one-line progress display on stderr, only when stderr is a terminal. */
typedef struct cli_progress {
  int enabled;
  uint64_t total; /* 0 = unknown */
  double start;
  double last_draw;
  const char *unit;
} cli_progress;

void cli_progress_start(cli_progress *p, uint64_t total, const char *unit);
/* Redraws at most ~5 times a second: `done` rows so far, and the fraction
 * of the work done (0..1), or a negative number to derive it from `total`
 * (or to leave it out when the total is unknown). */
void cli_progress_update(cli_progress *p, uint64_t done, double fraction);
/* Clears the line. */
void cli_progress_finish(cli_progress *p);

/* ------------------------------------------------------------ database */

/* Parses an --fsync value (NULL = the default, "always"); prints a usage
 * error and returns CLI_EXIT_USAGE when it is not always|batch|none. */
int cli_parse_fsync(const cli_command *cmd, const char *name,
                    vs_fsync_policy *out);
/* Parses an --metric value like cli_parse_fsync (NULL = L2). */
int cli_parse_metric(const cli_command *cmd, const char *name,
                     vs_metric *out);

/*
 * Opens the database in `dir` with the default options and `fsync`.  With
 * `must_exist`, a missing directory is an error instead of a new empty
 * database.  Prints the error; returns 0 or CLI_EXIT_FAIL.
 */
int cli_open_db(const char *dir, vs_fsync_policy fsync, int must_exist,
                int read_only, vs_db **out);
/* Closes the database; prints and returns CLI_EXIT_FAIL on failure. */
int cli_close_db(vs_db *db);

/* What a vector command needs to know about a collection's schema. */
typedef struct cli_target {
  vs_schema *schema;        /* owned */
  const char *pk_field;     /* borrowed from schema */
  vs_type pk_type;          /* VS_TYPE_INT64 or VS_TYPE_VARCHAR */
  int pk_auto_id;
  const char *vector_field; /* borrowed from schema */
  uint32_t dim;
  vs_metric metric;
} cli_target;

/* Resolves the primary key and the vector field `want_field` (NULL = the
 * first FloatVector field) of `collection`.  Prints the error; returns 0 or
 * CLI_EXIT_FAIL. */
int cli_target_resolve(vs_db *db, const char *collection,
                       const char *want_field, cli_target *out);
void cli_target_free(cli_target *t);

/* A batch of vectors with integer keys and an optional extra Int64 column. */
typedef struct cli_vector_batch {
  const cli_target *target;
  int64_t first_id; /* ids first_id.. (ignored for autoID keys) */
  size_t rows;
  const float *vectors; /* rows x target->dim */
  const char *int_field; /* optional extra Int64 column, or NULL */
  const int64_t *int_values;
} cli_vector_batch;

/* Inserts one batch; returns the library's status (message left in
 * vs_errmsg). */
vs_status cli_insert_vectors(vs_db *db, const char *collection,
                             const char *partition,
                             const cli_vector_batch *batch);

/* Prints "imported N rows into COLLECTION in X.XX s (R rows/s)" on stdout. */
void cli_print_import_summary(uint64_t rows, const char *collection,
                              double seconds);
/* After a failed insert: explains duplicate keys when that was the cause. */
void cli_hint_duplicates(vs_status status);
/* Creates {id Int64 primary key, vector FloatVector dim/metric} plus an
 * optional Int64 field `int_field`.  Prints the error; returns 0 or
 * CLI_EXIT_FAIL. */
int cli_create_vector_collection(vs_db *db, const char *name, uint32_t dim,
                                 vs_metric metric, const char *int_field);

/* Creates `partition` in `collection` if it does not exist (NULL or
 * "_default" is a no-op).  Prints the error; returns 0 or CLI_EXIT_FAIL. */
int cli_ensure_partition(vs_db *db, const char *collection,
                         const char *partition);

/* -------------------------------------------------------------- indexes */

/* What to do about a field's index (cli_index.c). */
typedef struct cli_index_request {
  const char *type;   /* FLAT, HNSW, ...; NULL with `rebuild` = keep it */
  const char *params; /* build params JSON; NULL = the type's defaults (or,
                         for a rebuild without a new type, keep them) */
  const char *field;  /* NULL = the collection's only vector field */
  int rebuild;        /* vs_rebuild_index instead of vs_create_index */
  int no_wait;        /* define and seal, but do not wait for the build */
  uint64_t timeout_s; /* for the wait */
} cli_index_request;

#define CLI_INDEX_DEFAULT_TIMEOUT 3600u
#define CLI_INDEX_MAX_TIMEOUT 4294967u /* seconds; ms must fit uint32 */

/* Creates or rebuilds the index `r` asks for and prints one line about it.
 * Prints the error; returns 0 or CLI_EXIT_FAIL. */
int cli_index_define(vs_db *db, const char *collection,
                     const cli_index_request *r);
/* Seals the growing rows (vs_flush) so they get indexed, waits for the
 * builds (progress on a terminal) unless r->no_wait, and prints the index's
 * key facts.  Prints the error; returns 0 or CLI_EXIT_FAIL. */
int cli_index_finish(vs_db *db, const char *collection,
                     const cli_index_request *r);
/* Prints the key facts of every index of `collection` as "key: value"
 * lines under `indent` ("none" when it has no index).  Returns 0 or
 * CLI_EXIT_FAIL. */
int cli_print_indexes(vs_db *db, const char *collection, const char *indent);

/* -------------------------------------------------------------- readers */

/* All readers treat files as hostile: dimensions must be in 1..32768, every
 * row's header must agree with the first row, sizes must add up, and an
 * error names the file and the 0-based row.  Each returns 0, or prints the
 * error and returns CLI_EXIT_FAIL. */

typedef enum cli_vecs_kind {
  CLI_VECS_FLOAT, /* .fvecs: int32 dim, dim float32, per row */
  CLI_VECS_BYTE,  /* .bvecs: int32 dim, dim uint8, per row */
  CLI_VECS_INT    /* .ivecs: int32 dim, dim int32, per row */
} cli_vecs_kind;

typedef struct cli_vecs {
  FILE *file;
  const char *path;
  cli_vecs_kind kind;
  uint32_t dim;         /* from the first row */
  size_t row_bytes;     /* 4 + dim * element size */
  uint64_t total_rows;  /* file size / row_bytes */
  uint64_t next_row;
  void *row_buffer;     /* one row's payload */
} cli_vecs;

/* Opens a vector file, reads the first row's dimension and checks that the
 * file size is a whole number of rows (when it is not, the header scan
 * names the first bad row before anything is imported). */
int cli_vecs_open(const char *path, cli_vecs_kind kind, cli_vecs *out);
/* Reads up to `max_rows` rows as floats (out: max_rows x dim); *got = 0 at
 * the end.  Floats must be finite. */
int cli_vecs_read_floats(cli_vecs *v, size_t max_rows, float *out,
                         size_t *got);
/* Reads up to `max_rows` rows of an .ivecs file (out: max_rows x dim). */
int cli_vecs_read_ints(cli_vecs *v, size_t max_rows, int32_t *out,
                       size_t *got);
void cli_vecs_close(cli_vecs *v);

/* Kind from the file name's extension; -1 if not .fvecs/.bvecs/.ivecs. */
int cli_vecs_kind_from_path(const char *path);

/* Loads a whole .fvecs/.bvecs file (float) or .ivecs file (int32). */
int cli_load_floats(const char *path, float **data, size_t *rows,
                    uint32_t *dim);
int cli_load_ints(const char *path, int32_t **data, size_t *rows,
                  uint32_t *dim);
/* Writes rows x dim int32 as .ivecs (to PATH.tmp, then renamed). */
int cli_write_ivecs(const char *path, const int32_t *data, size_t rows,
                    uint32_t dim);

/* IDX files (MNIST format, gzip-compressed): a big-endian header of magic
 * (0x00000801 = 1-dimensional uint8, 0x00000803 = 3-dimensional uint8),
 * then the sizes, then the items. */
typedef struct cli_idx {
  void *gz; /* gzFile */
  const char *path;
  uint32_t count;     /* items */
  uint32_t item_size; /* bytes per item (rows x cols, or 1) */
  uint32_t next;
} cli_idx;

int cli_idx_open(const char *path, uint32_t magic, cli_idx *out);
/* Reads `n` items (n <= count - next) into out (n x item_size bytes). */
int cli_idx_read(cli_idx *x, size_t n, uint8_t *out);
void cli_idx_close(cli_idx *x);

#endif /* VS_CLI_H */
