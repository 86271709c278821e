/*
 * cli_common.c -- what every command shares: the flag parser, error
 * printing, timing and the progress line, opening a database, resolving a
 * collection's key and vector field, and inserting a batch of vectors.
 *
 * Flags.  Each command declares a small array of cli_option {name, kind,
 * destination, range}.  `--name value` and `--name=value` are both accepted;
 * a CLI_OPT_FLAG (--drop, --no-wait) takes no value and `--drop=1` is an
 * error, so a flag can never swallow the next argument;
 * a flag given twice, an unknown flag, a missing value, or a number out of
 * range is a usage error (exit 2) whose message names the flag.  Values are
 * borrowed from argv (it outlives the command).  Flags may come before,
 * between or after positional arguments; "--" ends the flags.
 *
 * Errors.  The library leaves its message in vs_errmsg() (per thread); the
 * command prints it as "error: <context>: <message>" and exits 1.  Files
 * the command line reads itself (cli_readers.c) print their own errors
 * naming the file and row.
 *
 * Progress.  Drawn on stderr only when stderr is a terminal, so scripts and
 * tests that capture output see just the summary line on stdout.
 *
 * Alternatives rejected: using src/util's log/time helpers -- the command
 * line is a client of the public API and keeps to it plus libc.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* ----------------------------------------------------------------- errors */

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return CLI_EXIT_FAIL;
}

int cli_fail_status(vs_status status, const char *fmt, ...) {
  const char *message = vs_errmsg(NULL);
  if (message == NULL || message[0] == '\0') message = vs_strerror(status);
  fputs("error: ", stderr);
  if (fmt != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(": ", stderr);
  }
  fprintf(stderr, "%s\n", message);
  return CLI_EXIT_FAIL;
}

void cli_print_usage(FILE *out, const cli_command *cmd) {
  fprintf(out, "usage: vectorstore %s%s%s\n", cmd->name,
          cmd->usage[0] ? " " : "", cmd->usage);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "error: %s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  cli_print_usage(stderr, cmd);
  return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------------ flags */

static cli_option *find_option(cli_option *options, const char *name,
                               size_t len) {
  for (cli_option *o = options; o != NULL && o->name != NULL; o++) {
    if (strlen(o->name) == len && memcmp(o->name, name, len) == 0) return o;
  }
  return NULL;
}

static int set_number(const cli_command *cmd, cli_option *o,
                      const char *value) {
  char *end = NULL;
  errno = 0;
  double v = strtod(value, &end);
  if (value[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v)) {
    return cli_usage_error(cmd, "flag --%s expects a number, got '%s'",
                           o->name, value);
  }
  *(double *)o->dest = v;
  return 0;
}

static int set_option(const cli_command *cmd, cli_option *o,
                      const char *value) {
  if (o->seen) return cli_usage_error(cmd, "flag --%s given twice", o->name);
  o->seen = 1;
  if (o->kind == CLI_OPT_STRING) {
    *(const char **)o->dest = value;
    return 0;
  }
  if (o->kind == CLI_OPT_FLAG) {
    *(int *)o->dest = 1;
    return 0;
  }
  if (o->kind == CLI_OPT_NUMBER) return set_number(cmd, o, value);
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(value, &end, 10);
  int bad = value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0;
  if (bad || v < o->min || v > o->max) {
    return cli_usage_error(cmd,
                           "flag --%s expects an integer in %" PRIu64
                           "..%" PRIu64 ", got '%s'",
                           o->name, o->min, o->max, value);
  }
  *(uint64_t *)o->dest = (uint64_t)v;
  return 0;
}

/* Handles argv[*i], a "--name[=value]" flag; may consume argv[*i + 1]. */
static int parse_flag(const cli_command *cmd, int argc, char **argv, int *i,
                      cli_option *options) {
  const char *name = argv[*i] + 2;
  const char *eq = strchr(name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen(name);
  cli_option *o = find_option(options, name, len);
  if (o == NULL) {
    return cli_usage_error(cmd, "unknown flag '--%.*s'", (int)len, name);
  }
  if (o->kind == CLI_OPT_FLAG) {
    if (eq != NULL) {
      return cli_usage_error(cmd, "flag --%s takes no value", o->name);
    }
    return set_option(cmd, o, NULL);
  }
  if (eq != NULL) return set_option(cmd, o, eq + 1);
  if (*i + 1 >= argc) {
    return cli_usage_error(cmd, "flag --%s needs a value", o->name);
  }
  *i += 1;
  return set_option(cmd, o, argv[*i]);
}

static int is_help(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int cli_parse_args(const cli_command *cmd, int argc, char **argv,
                   cli_option *options, const char **pos, int min_pos,
                   int max_pos, int *npos) {
  int flags_done = 0;
  *npos = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!flags_done && is_help(arg)) {
      cli_print_usage(stdout, cmd);
      return CLI_EXIT_HELP;
    }
    if (!flags_done && strcmp(arg, "--") == 0) {
      flags_done = 1;
    } else if (!flags_done && arg[0] == '-' && arg[1] == '-') {
      int rc = parse_flag(cmd, argc, argv, &i, options);
      if (rc != 0) return rc;
    } else if (!flags_done && arg[0] == '-' && arg[1] != '\0') {
      return cli_usage_error(cmd, "unknown flag '%s' (flags are --name)", arg);
    } else if (*npos >= max_pos) {
      return cli_usage_error(cmd, "unexpected argument '%s'", arg);
    } else {
      pos[(*npos)++] = arg;
    }
  }
  if (*npos < min_pos) {
    return cli_usage_error(cmd, "expected %d argument%s, got %d", min_pos,
                           min_pos == 1 ? "" : "s", *npos);
  }
  return 0;
}

int cli_parse_fsync(const cli_command *cmd, const char *name,
                    vs_fsync_policy *out) {
  *out = VS_FSYNC_ALWAYS;
  if (name == NULL) return 0;
  if (vs_fsync_policy_from_name(name, out) != VS_OK) {
    return cli_usage_error(cmd, "--fsync expects always, batch or none, got '%s'",
                           name);
  }
  return 0;
}

int cli_parse_metric(const cli_command *cmd, const char *name,
                     vs_metric *out) {
  *out = VS_METRIC_L2;
  if (name == NULL) return 0;
  if (vs_metric_from_name(name, out) != VS_OK) {
    return cli_usage_error(cmd, "--metric expects L2, IP or COSINE, got '%s'",
                           name);
  }
  return 0;
}

/* ------------------------------------------------------- timing, progress */

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return (x > y) - (x < y);
}

void cli_sort_doubles(double *values, size_t n) {
  if (n > 1) qsort(values, n, sizeof *values, compare_doubles);
}

double cli_quantile(const double *sorted, size_t n, double q) {
  if (n == 0) return 0.0;
  size_t rank = (size_t)(q * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

void cli_progress_start(cli_progress *p, uint64_t total, const char *unit) {
  p->enabled = isatty(STDERR_FILENO);
  p->total = total;
  p->start = cli_now();
  p->last_draw = 0.0;
  p->unit = unit;
}

void cli_progress_update(cli_progress *p, uint64_t done, double fraction) {
  if (!p->enabled) return;
  double now = cli_now();
  if (now - p->last_draw < 0.2) return;
  p->last_draw = now;
  double elapsed = now - p->start;
  double rate = elapsed > 0 ? (double)done / elapsed : 0.0;
  if (fraction < 0 && p->total > 0) {
    fraction = (double)done / (double)p->total;
  }
  fprintf(stderr, "\r  %" PRIu64 " %s", done, p->unit);
  if (fraction >= 0) {
    fprintf(stderr, "  %5.1f%%", 100.0 * (fraction > 1.0 ? 1.0 : fraction));
  }
  fprintf(stderr, "  %.0f %s/s   ", rate, p->unit);
  fflush(stderr);
}

void cli_progress_finish(cli_progress *p) {
  if (!p->enabled || p->last_draw == 0.0) return;
  fprintf(stderr, "\r%*s\r", 72, "");
  fflush(stderr);
}

/* --------------------------------------------------------------- database */

int cli_open_db(const char *dir, vs_fsync_policy fsync, int must_exist,
                int read_only, vs_db **out) {
  *out = NULL;
  if (must_exist) {
    struct stat st;
    if (stat(dir, &st) != 0) {
      return cli_fail("database directory '%s': %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
      return cli_fail("database directory '%s' is not a directory", dir);
    }
  }
  vs_options opt;
  vs_options_init(&opt);
  opt.fsync = fsync;
  opt.read_only = read_only;
  vs_status st = vs_open(dir, &opt, out);
  if (st == VS_ERR_BUSY) {
    cli_fail_status(st, "cannot open database '%s'", dir);
    fprintf(stderr, "hint: another process (a server, or another vectorstore "
                    "command) has it open\n");
    return CLI_EXIT_FAIL;
  }
  if (st != VS_OK) return cli_fail_status(st, "cannot open database '%s'", dir);
  return 0;
}

int cli_close_db(vs_db *db) {
  vs_status st = vs_close(db);
  if (st != VS_OK) return cli_fail_status(st, "closing the database");
  return 0;
}

/* Fills the key fields of *t from field `f`; returns 1 if it was the key. */
static int take_primary(cli_target *t, const vs_field_def *f) {
  if (!f->is_primary) return 0;
  t->pk_field = f->name;
  t->pk_type = f->type;
  t->pk_auto_id = f->auto_id;
  return 1;
}

static int find_fields(cli_target *t, const char *collection,
                       const char *want_field) {
  size_t n = vs_schema_field_count(t->schema);
  for (size_t i = 0; i < n; i++) {
    vs_field_def f;
    if (vs_schema_field(t->schema, i, &f) != VS_OK) continue;
    if (take_primary(t, &f)) continue;
    if (t->vector_field != NULL) continue;
    int named = want_field != NULL && strcmp(f.name, want_field) == 0;
    if (named && f.type != VS_TYPE_FLOAT_VECTOR) {
      return cli_fail("field '%s' of collection '%s' is %s, not a FloatVector",
                      want_field, collection, vs_type_name(f.type));
    }
    if (f.type == VS_TYPE_FLOAT_VECTOR && (want_field == NULL || named)) {
      t->vector_field = f.name;
      t->dim = f.dim;
      t->metric = f.metric;
    }
  }
  if (t->pk_field == NULL) {
    return cli_fail("collection '%s' has no primary key field", collection);
  }
  if (t->vector_field == NULL && want_field != NULL) {
    return cli_fail("collection '%s' has no field '%s'", collection,
                    want_field);
  }
  if (t->vector_field == NULL) {
    return cli_fail("collection '%s' has no FloatVector field", collection);
  }
  return 0;
}

int cli_target_resolve(vs_db *db, const char *collection,
                       const char *want_field, cli_target *out) {
  memset(out, 0, sizeof *out);
  vs_status st = vs_get_schema(db, collection, &out->schema);
  if (st != VS_OK) {
    return cli_fail_status(st, "collection '%s'", collection);
  }
  int rc = find_fields(out, collection, want_field);
  if (rc != 0) cli_target_free(out);
  return rc;
}

void cli_target_free(cli_target *t) {
  vs_schema_free(t->schema);
  memset(t, 0, sizeof *t);
}

static vs_status set_key_column(vs_rows *rows, const cli_vector_batch *b) {
  int64_t *ids = malloc((b->rows ? b->rows : 1) * sizeof *ids);
  if (ids == NULL) return VS_ERR_NOMEM;
  for (size_t i = 0; i < b->rows; i++) ids[i] = b->first_id + (int64_t)i;
  vs_status st = vs_rows_set_int64(rows, b->target->pk_field, ids, NULL);
  free(ids);
  return st;
}

vs_status cli_insert_vectors(vs_db *db, const char *collection,
                             const char *partition,
                             const cli_vector_batch *b) {
  vs_rows *rows = NULL;
  vs_status st = vs_rows_new(b->rows, &rows);
  if (st != VS_OK) goto done;
  if (!b->target->pk_auto_id) {
    st = set_key_column(rows, b);
    if (st != VS_OK) goto done;
  }
  st = vs_rows_set_float_vectors(rows, b->target->vector_field, b->vectors,
                                 b->target->dim);
  if (st != VS_OK) goto done;
  if (b->int_field != NULL) {
    st = vs_rows_set_int64(rows, b->int_field, b->int_values, NULL);
    if (st != VS_OK) goto done;
  }
  st = vs_insert(db, collection, partition, rows, NULL);
done:
  vs_rows_free(rows);
  return st;
}

int cli_ensure_partition(vs_db *db, const char *collection,
                         const char *partition) {
  if (partition == NULL || strcmp(partition, VS_DEFAULT_PARTITION) == 0) {
    return 0;
  }
  int exists = 0;
  vs_status st = vs_has_partition(db, collection, partition, &exists);
  if (st != VS_OK) return cli_fail_status(st, "partition '%s'", partition);
  if (exists) return 0;
  st = vs_create_partition(db, collection, partition);
  if (st != VS_OK) {
    return cli_fail_status(st, "creating partition '%s'", partition);
  }
  fprintf(stderr, "created partition '%s' in collection '%s'\n", partition,
          collection);
  return 0;
}
