/*
 * cli_index.c -- `vectorstore index DIR COLLECTION`: creates, rebuilds,
 * drops and describes a vector field's index; and the index steps that
 * `import --index` and `stats` share.
 *
 * Forms:
 *   index DIR C --type T [--params JSON] [--field F] [--no-wait]
 *         [--timeout S]                       create, seal, wait, report
 *   index DIR C --rebuild [--type T] [--params JSON] ...
 *                                             online rebuild, same steps
 *   index DIR C --drop [--field F]            drop
 *   index DIR C [--field F]                   describe (JSON, per field)
 *
 * Why the command seals.  The engine builds indexes in a background thread
 * per *sealed* segment; rows still in a growing segment are searched
 * exactly and are not counted as indexed.  A user who runs `index` right
 * after an import expects every row to be indexed when it returns, so the
 * command calls vs_flush after defining the index (sealing the growing
 * rows) and then vs_wait_for_index.
 *
 * Waiting.  With stderr a terminal, the wait is cut into 200 ms slices and
 * a progress line is drawn from vs_describe_index between slices (indexed
 * rows plus the rows done by the build in flight, of the total; see
 * wait_progress for how a rebuild is counted); otherwise it is one
 * vs_wait_for_index call.  The overall deadline is --timeout
 * seconds (default 3600).  On timeout or failure the command exits 1: the
 * definition stays, and since vs_close cancels a build in flight, the build
 * resumes the next time the database is opened for writing (e.g. by a
 * server).  --no-wait says exactly that and exits 0.
 *
 * Output.  After a build, the describe JSON's key facts (type, params,
 * metric, state, indexed rows, segments, build seconds, failure reason) as
 * aligned "key: value" lines; `stats` prints the same block per index.  The
 * describe form prints the engine's JSON unchanged, one object per indexed
 * field, so scripts can parse it.
 *
 * Errors.  Flag combinations that make no sense (--drop with --type, --params
 * without --type or --rebuild, --no-wait with --timeout) are usage errors,
 * exit 2.  An unknown type, malformed params JSON or a parameter out of
 * range is the engine's to judge: exit 1 with its message, so the command
 * line never disagrees with the library about what is valid.
 *
 * Alternatives rejected: parsing the type and params here to fail earlier --
 * the engine already says precisely what is wrong, and a second validator
 * would drift from it.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define WAIT_SLICE_MS 200u

/* ------------------------------------------------------ the describe JSON */

static const char *json_text(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "?";
}

static int64_t json_int(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static double json_num(const json_t *o, const char *key) {
  return json_number_value(json_object_get(o, key));
}

/* Parses the describe JSON of `field`; prints the error on failure. */
static int describe_parsed(vs_db *db, const char *collection,
                           const char *field, json_t **out) {
  char *text = NULL;
  json_error_t err;
  *out = NULL;
  vs_status st = vs_describe_index(db, collection, field, &text);
  if (st != VS_OK) {
    return cli_fail_status(st, "describing the index of collection '%s'",
                           collection);
  }
  *out = json_loads(text, 0, &err);
  vs_free(text);
  if (*out == NULL) {
    return cli_fail("the index description is not JSON: %s", err.text);
  }
  return 0;
}

static void print_fact(const char *indent, const char *key, const char *fmt,
                       ...) CLI_PRINTF(3, 4);

static void print_fact(const char *indent, const char *key, const char *fmt,
                       ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s%-15s ", indent, key);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
}

static void print_type_line(const char *indent, const json_t *o) {
  const char *type = json_text(o, "indexType");
  const char *requested = json_text(o, "requestedType");
  if (strcmp(type, requested) == 0) {
    print_fact(indent, "type:", "%s", type);
  } else {
    print_fact(indent, "type:", "%s (requested %s)", type, requested);
  }
}

static void print_facts(const char *indent, const json_t *o) {
  char *params = json_dumps(json_object_get(o, "params"),
                            JSON_COMPACT | JSON_ENCODE_ANY);
  print_type_line(indent, o);
  print_fact(indent, "params:", "%s", params ? params : "{}");
  print_fact(indent, "metric:", "%s", json_text(o, "metricType"));
  print_fact(indent, "state:", "%s", json_text(o, "state"));
  print_fact(indent, "indexed rows:", "%" PRId64 " of %" PRId64,
             json_int(o, "indexedRows"), json_int(o, "totalRows"));
  print_fact(indent, "segments:", "%" PRId64 " of %" PRId64 " indexed",
             json_int(o, "indexedSegments"), json_int(o, "sealedSegments"));
  print_fact(indent, "build seconds:", "%.3f", json_num(o, "buildSeconds"));
  if (json_object_get(o, "failReason") != NULL) {
    print_fact(indent, "fail reason:", "%s", json_text(o, "failReason"));
  }
  free(params);
}

static int print_field_facts(vs_db *db, const char *collection,
                             const char *field, const char *indent) {
  json_t *o = NULL;
  int rc = describe_parsed(db, collection, field, &o);
  if (rc != 0) return rc;
  printf("%sindex on field '%s':\n", indent, json_text(o, "fieldName"));
  char deeper[64];
  snprintf(deeper, sizeof deeper, "%s  ", indent);
  print_facts(deeper, o);
  json_decref(o);
  return 0;
}

int cli_print_indexes(vs_db *db, const char *collection, const char *indent) {
  char **fields = NULL;
  size_t count = 0;
  vs_status st = vs_list_indexes(db, collection, &fields, &count);
  if (st != VS_OK) {
    return cli_fail_status(st, "listing the indexes of '%s'", collection);
  }
  if (count == 0) printf("%s%-18s none\n", indent, "indexes:");
  int rc = 0;
  for (size_t i = 0; i < count && rc == 0; i++) {
    rc = print_field_facts(db, collection, fields[i], indent);
  }
  vs_free_strings(fields, count);
  return rc;
}

/* ---------------------------------------------------------------- define */

/* The params to pass: a rebuild to a new type without --params starts from
 * that type's defaults rather than carrying the old type's parameters. */
static const char *params_to_pass(const cli_index_request *r) {
  if (r->params != NULL) return r->params;
  if (r->rebuild && r->type != NULL) return "{}";
  return NULL;
}

/* "field 'NAME'", or "the vector field" when none was named. */
static const char *field_label(const cli_index_request *r, char *buf,
                               size_t size) {
  if (r->field == NULL) return "the vector field";
  snprintf(buf, size, "field '%s'", r->field);
  return buf;
}

int cli_index_define(vs_db *db, const char *collection,
                     const cli_index_request *r) {
  const char *params = params_to_pass(r);
  char label[300];
  const char *what = field_label(r, label, sizeof label);
  vs_status st;
  if (r->rebuild) {
    st = vs_rebuild_index(db, collection, r->field, r->type, params);
  } else {
    st = vs_create_index(db, collection, r->field, r->type, params);
  }
  if (st != VS_OK) {
    cli_fail_status(st, "%s the index on %s of collection '%s'",
                    r->rebuild ? "rebuilding" : "creating", what,
                    collection);
    if (st == VS_ERR_EXISTS) {
      fprintf(stderr, "hint: `vectorstore index DIR %s --rebuild --type T` "
                      "changes an index online\n", collection);
    }
    return CLI_EXIT_FAIL;
  }
  printf("%s %s index on %s of collection '%s'\n",
         r->rebuild ? "rebuilding" : "created", r->type ? r->type : "the same",
         what, collection);
  return 0;
}

/* ------------------------------------------------------------------ wait */

/* The progress line of a wait.  Describe counts a segment as indexed only
 * once its current index is active, and during a rebuild the new indexes
 * stay pending until they all swap in, so the rows of segments finished in
 * this wait are also accumulated here (a drop of buildRowsDone means the
 * builder moved on to the next segment), keeping the line monotonic. */
typedef struct wait_progress {
  cli_progress bar;
  int64_t finished;  /* rows of segments seen finishing during the wait */
  int64_t last_done; /* buildRowsDone/Total at the previous poll */
  int64_t last_total;
} wait_progress;

static void draw_progress(vs_db *db, const char *collection,
                          const char *field, wait_progress *w) {
  char *text = NULL;
  json_error_t err;
  if (vs_describe_index(db, collection, field, &text) != VS_OK) return;
  json_t *o = json_loads(text, 0, &err);
  vs_free(text);
  if (o == NULL) return;
  /* The build in flight counts towards its segment's rows at most (some
   * builders count passes over the rows, e.g. k-means iterations). */
  int64_t in_flight = json_int(o, "buildRowsDone");
  int64_t segment = json_int(o, "buildRowsTotal");
  if (in_flight > segment) in_flight = segment;
  if (in_flight < w->last_done) w->finished += w->last_total;
  w->last_done = in_flight;
  w->last_total = segment;
  int64_t indexed = json_int(o, "indexedRows");
  int64_t done = (indexed > w->finished ? indexed : w->finished) + in_flight;
  int64_t total = json_int(o, "totalRows");
  json_decref(o);
  if (done < 0 || total <= 0) return;
  w->bar.total = (uint64_t)total;
  cli_progress_update(&w->bar, (uint64_t)(done < total ? done : total), -1.0);
}

static uint32_t slice_ms(double left_s, int sliced) {
  double ms = left_s > 0 ? left_s * 1000.0 + 1.0 : 0.0;
  if (sliced && ms > WAIT_SLICE_MS) ms = WAIT_SLICE_MS;
  if (ms > (double)UINT32_MAX) ms = (double)UINT32_MAX;
  return (uint32_t)ms;
}

static int report_wait_error(vs_status st, const char *collection,
                             const cli_index_request *r) {
  char label[300];
  const char *what = field_label(r, label, sizeof label);
  if (st == VS_ERR_TIMEOUT) {
    cli_fail("the index build on %s of collection '%s' did not finish "
             "within %" PRIu64 " s",
             what, collection, r->timeout_s);
  } else {
    cli_fail_status(st, "index on %s of collection '%s'", what, collection);
  }
  fprintf(stderr, "hint: the definition stays; an unfinished build resumes "
                  "whenever the database is next opened for writing, and "
                  "`vectorstore index DIR %s --rebuild` retries a failed one\n",
          collection);
  return CLI_EXIT_FAIL;
}

static int wait_for_build(vs_db *db, const char *collection,
                          const cli_index_request *r) {
  wait_progress progress = {0};
  cli_progress_start(&progress.bar, 0, "rows indexed");
  double deadline = cli_now() + (double)r->timeout_s;
  vs_status st;
  for (;;) {
    uint32_t ms = slice_ms(deadline - cli_now(), progress.bar.enabled);
    st = vs_wait_for_index(db, collection, r->field, ms);
    if (st != VS_ERR_TIMEOUT || cli_now() >= deadline) break;
    draw_progress(db, collection, r->field, &progress);
  }
  cli_progress_finish(&progress.bar);
  if (st != VS_OK) return report_wait_error(st, collection, r);
  return 0;
}

int cli_index_finish(vs_db *db, const char *collection,
                     const cli_index_request *r) {
  vs_status st = vs_flush(db, collection);
  if (st != VS_OK) {
    return cli_fail_status(st, "sealing the rows of collection '%s'",
                           collection);
  }
  double start = cli_now();
  int rc = r->no_wait ? 0 : wait_for_build(db, collection, r);
  if (rc != 0) return rc;
  if (r->no_wait) {
    printf("not waiting: the build runs while the database is open for "
           "writing; this command closes it now, so the build resumes the "
           "next time it is opened (e.g. by a server)\n");
  } else {
    printf("index ready after %.2f s\n", cli_now() - start);
  }
  return print_field_facts(db, collection, r->field, "");
}

/* --------------------------------------------------------------- command */

typedef struct index_args {
  const char *dir;
  const char *collection;
  cli_index_request request;
  int drop;
  int timeout_given;
} index_args;

/* Whether `field` (NULL = any field) is among the indexed `fields`. */
static int has_index(char **fields, size_t count, const char *field) {
  for (size_t i = 0; i < count; i++) {
    if (field == NULL || strcmp(fields[i], field) == 0) return 1;
  }
  return 0;
}

static int drop_index(vs_db *db, const index_args *a) {
  const cli_index_request *r = &a->request;
  char **fields = NULL;
  size_t count = 0;
  int had = 0;
  char label[300];
  const char *what = field_label(r, label, sizeof label);
  vs_status st = vs_list_indexes(db, a->collection, &fields, &count);
  if (st == VS_OK) {
    had = has_index(fields, count, r->field);
    vs_free_strings(fields, count);
    st = vs_drop_index(db, a->collection, r->field);
  }
  if (st != VS_OK) {
    return cli_fail_status(st, "dropping the index on %s of collection '%s'",
                           what, a->collection);
  }
  if (!had) {
    printf("%s of collection '%s' has no index; nothing to drop\n", what,
           a->collection);
  } else {
    printf("dropped the index on %s of collection '%s'\n", what,
           a->collection);
  }
  return 0;
}

static int describe_one(vs_db *db, const char *collection,
                        const char *field) {
  char *json = NULL;
  vs_status st = vs_describe_index(db, collection, field, &json);
  if (st != VS_OK) {
    return cli_fail_status(st, "describing the index of collection '%s'",
                           collection);
  }
  printf("%s\n", json);
  vs_free(json);
  return 0;
}

static int describe_all(vs_db *db, const index_args *a) {
  if (a->request.field != NULL) {
    return describe_one(db, a->collection, a->request.field);
  }
  char **fields = NULL;
  size_t count = 0;
  vs_status st = vs_list_indexes(db, a->collection, &fields, &count);
  if (st != VS_OK) {
    return cli_fail_status(st, "listing the indexes of '%s'", a->collection);
  }
  if (count == 0) printf("collection '%s' has no index\n", a->collection);
  int rc = 0;
  for (size_t i = 0; i < count && rc == 0; i++) {
    rc = describe_one(db, a->collection, fields[i]);
  }
  vs_free_strings(fields, count);
  return rc;
}

static int build_index(vs_db *db, const index_args *a) {
  int rc = cli_index_define(db, a->collection, &a->request);
  if (rc == 0) rc = cli_index_finish(db, a->collection, &a->request);
  return rc;
}

static int check_combination(const cli_command *cmd, const index_args *a) {
  const cli_index_request *r = &a->request;
  int building = r->type != NULL || r->rebuild;
  if (a->drop && (building || r->params || r->no_wait || a->timeout_given)) {
    return cli_usage_error(cmd, "--drop takes only --field");
  }
  if (!building && (r->params || r->no_wait || a->timeout_given)) {
    return cli_usage_error(cmd, "--params, --no-wait and --timeout need "
                                "--type or --rebuild");
  }
  if (r->no_wait && a->timeout_given) {
    return cli_usage_error(cmd, "--no-wait and --timeout exclude each other");
  }
  return 0;
}

static int index_main(const index_args *a) {
  const cli_index_request *r = &a->request;
  int writes = a->drop || r->type != NULL || r->rebuild;
  vs_db *db = NULL;
  int rc = cli_open_db(a->dir, VS_FSYNC_ALWAYS, 1, !writes, &db);
  if (rc != 0) return rc;
  if (a->drop) {
    rc = drop_index(db, a);
  } else if (writes) {
    rc = build_index(db, a);
  } else {
    rc = describe_all(db, a);
  }
  int closed = cli_close_db(db);
  return rc != 0 ? rc : closed;
}

int cli_cmd_index(const cli_command *cmd, int argc, char **argv) {
  index_args a = {.request = {.timeout_s = CLI_INDEX_DEFAULT_TIMEOUT}};
  cli_index_request *r = &a.request;
  cli_option options[] = {
      {"type", CLI_OPT_STRING, &r->type, 0, 0, 0},
      {"params", CLI_OPT_STRING, &r->params, 0, 0, 0},
      {"field", CLI_OPT_STRING, &r->field, 0, 0, 0},
      {"rebuild", CLI_OPT_FLAG, &r->rebuild, 0, 0, 0},
      {"drop", CLI_OPT_FLAG, &a.drop, 0, 0, 0},
      {"no-wait", CLI_OPT_FLAG, &r->no_wait, 0, 0, 0},
      {"timeout", CLI_OPT_UINT, &r->timeout_s, 1, CLI_INDEX_MAX_TIMEOUT, 0},
      {NULL, CLI_OPT_STRING, NULL, 0, 0, 0}};
  const char *pos[2];
  int npos = 0;
  int rc = cli_parse_args(cmd, argc, argv, options, pos, 2, 2, &npos);
  if (rc != 0) return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
  a.dir = pos[0];
  a.collection = pos[1];
  a.timeout_given = options[6].seen; /* the "timeout" row */
  rc = check_combination(cmd, &a);
  if (rc != 0) return rc;
  return index_main(&a);
}
