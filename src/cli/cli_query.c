/*
 * cli_query.c -- `vectorstore query DIR COLLECTION --filter EXPR`: prints
 * the rows that pass a filter, one JSON object per line (JSON lines, so the
 * output pipes into jq or back into `vectorstore import`).
 *
 * --output f1,f2 picks the fields (default: every field, "*"); --limit N
 * (default 100, as Milvus's REST query; 0 = no limit) and --offset N page
 * through the rows in storage order; --partition NAME restricts to one
 * partition; --count prints only the number of passing rows (count(*));
 * --profile prints the query profile to stderr.  A syntax error in the
 * filter is the engine's message, with the position and a caret, and
 * exit 1.  The database is opened read-only.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_FIELDS 64

typedef struct query_args {
  const char *dir;
  const char *collection;
  const char *filter;
  const char *output;
  const char *partition;
  uint64_t limit;
  uint64_t offset;
  int count;
  int profile;
} query_args;

static size_t split_fields(char *text, const char **fields) {
  size_t n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(text, ",", &save); tok && n < MAX_FIELDS; tok = strtok_r(NULL, ",", &save)) {
    fields[n++] = tok;
  }
  return n;
}

static int print_rows(const vs_rows *rows) {
  for (size_t i = 0; i < vs_rows_count(rows); i++) {
    char *json = NULL;
    vs_status st = vs_rows_row_to_json(rows, i, &json);
    if (st != VS_OK) return cli_fail_status(st, "row %zu", i);
    printf("%s\n", json);
    vs_free(json);
  }
  return 0;
}

static int run_query(vs_db *db, const query_args *a) {
  const char *parts[1] = {a->partition};
  if (a->count) {
    uint64_t n = 0;
    vs_status st = vs_query_count(db, a->collection, a->filter, NULL, a->partition ? parts : NULL,
                                  a->partition ? 1 : 0, &n);
    if (st != VS_OK) return cli_fail_status(st, "count");
    printf("%" PRIu64 "\n", n);
    return 0;
  }
  char *text = strdup(a->output ? a->output : "*");
  if (!text) return cli_fail("out of memory");
  const char *fields[MAX_FIELDS];
  size_t nfields = split_fields(text, fields);
  vs_query_request req = {.filter = a->filter, .output_fields = fields, .output_count = nfields,
                          .limit = a->limit, .offset = a->offset,
                          .partitions = a->partition ? parts : NULL,
                          .partition_count = a->partition ? 1 : 0, .profile = a->profile};
  vs_rows *rows = NULL;
  char *profile = NULL;
  vs_status st = vs_query(db, a->collection, &req, &rows, &profile);
  int rc = st == VS_OK ? print_rows(rows) : cli_fail_status(st, "query");
  if (rc == 0 && profile) fprintf(stderr, "profile: %s\n", profile);
  vs_free(profile);
  vs_rows_free(rows);
  free(text);
  return rc;
}

int cli_cmd_query(const cli_command *cmd, int argc, char **argv) {
  query_args a = {.limit = 100};
  cli_option options[] = {
      {"filter", CLI_OPT_STRING, &a.filter, 0, 0, 0},
      {"output", CLI_OPT_STRING, &a.output, 0, 0, 0},
      {"limit", CLI_OPT_UINT, &a.limit, 0, UINT64_MAX, 0},
      {"offset", CLI_OPT_UINT, &a.offset, 0, UINT64_MAX, 0},
      {"partition", CLI_OPT_STRING, &a.partition, 0, 0, 0},
      {"count", CLI_OPT_FLAG, &a.count, 0, 0, 0},
      {"profile", CLI_OPT_FLAG, &a.profile, 0, 0, 0},
      {NULL, CLI_OPT_STRING, NULL, 0, 0, 0}};
  const char *pos[2];
  int npos = 0;
  int rc = cli_parse_args(cmd, argc, argv, options, pos, 2, 2, &npos);
  if (rc != 0) return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
  a.dir = pos[0];
  a.collection = pos[1];
  vs_db *db = NULL;
  rc = cli_open_db(a.dir, VS_FSYNC_ALWAYS, 1, 1, &db);
  if (rc != 0) return rc;
  rc = run_query(db, &a);
  int closed = cli_close_db(db);
  return rc != 0 ? rc : closed;
}
