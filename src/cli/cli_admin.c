/*
 * cli_admin.c -- the small administrative commands: `stats`, `check` and
 * `version`.
 *
 * stats DIR [COLLECTION]: opens the database read-only and prints, per
 * collection, the fields of vs_collection_stats as aligned "key: value"
 * lines, the key facts of each index (vs_list_indexes + vs_describe_index,
 * the same block `vectorstore index` prints), then the
 * vs_describe_collection JSON (schema, shards, partitions), indented.  The database directory must already exist: looking at a
 * mistyped path must not create an empty database there.
 *
 * check DIR: vs_check verifies every file offline (checksums, structure,
 * WAL framing) and reports what it finds as lines (a summary per collection
 * and each problem), printed as they come.  Exit 0 with "ok: 0 problems"
 * when the database is sound; exit 1 with "corrupt: N problems found" (the
 * library's count) when it is not, or "error: ..." when it cannot check.  vs_check takes the directory lock itself,
 * so it refuses to run while a server or another command has the database
 * open: stop the server first.
 *
 * version: "vectorstore 0.1.0 (simd: avx512)" -- the library version and
 * the SIMD level the distance kernels chose at start-up.
 *
 * Alternatives rejected: pretty-printing the JSON by re-indenting tokens by
 * hand -- jansson (already a dependency of the library) does it exactly.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* ------------------------------------------------------------------ stats */

static void print_bytes(const char *key, uint64_t bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
    v /= 1024.0;
    u++;
  }
  if (u == 0) {
    printf("  %-18s %" PRIu64 "\n", key, bytes);
  } else {
    printf("  %-18s %" PRIu64 " (%.1f %s)\n", key, bytes, v, units[u]);
  }
}

static void print_stats(const vs_collection_stats *s) {
  printf("  %-18s %" PRIu64 "\n", "rows:", s->rows);
  printf("  %-18s %" PRIu64 "\n", "deleted rows:", s->deleted_rows);
  printf("  %-18s %u\n", "shards:", s->shards);
  printf("  %-18s %u\n", "partitions:", s->partitions);
  printf("  %-18s %u\n", "sealed segments:", s->sealed_segments);
  printf("  %-18s %u\n", "growing segments:", s->growing_segments);
  printf("  %-18s %" PRIu64 "\n", "growing rows:", s->growing_rows);
  print_bytes("sealed bytes:", s->sealed_bytes);
  print_bytes("WAL bytes:", s->wal_bytes);
  printf("  %-18s %" PRIu64 "\n", "last LSN:", s->last_lsn);
  printf("  %-18s %" PRIu64 "\n", "checkpoint LSN:", s->checkpoint_lsn);
}

/* Prints `json` indented by two more spaces, pretty when it parses. */
static void print_json_indented(const char *json) {
  json_error_t err;
  json_t *root = json_loads(json, 0, &err);
  char *pretty = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                      : NULL;
  const char *text = pretty ? pretty : json;
  printf("  ");
  for (const char *p = text; *p; p++) {
    putchar(*p);
    if (*p == '\n') printf("  ");
  }
  printf("\n");
  free(pretty);
  json_decref(root);
}

static int stats_one(vs_db *db, const char *name) {
  vs_collection_stats s;
  char *json = NULL;
  vs_status st = vs_collection_stats_get(db, name, &s);
  if (st != VS_OK) return cli_fail_status(st, "collection '%s'", name);
  st = vs_describe_collection(db, name, &json);
  if (st != VS_OK) return cli_fail_status(st, "describing '%s'", name);
  printf("collection %s\n", name);
  print_stats(&s);
  int rc = cli_print_indexes(db, name, "  ");
  if (rc != 0) {
    vs_free(json);
    return rc;
  }
  printf("  description:\n");
  print_json_indented(json);
  vs_free(json);
  return 0;
}

static int stats_all(vs_db *db, const char *dir) {
  char **names = NULL;
  size_t count = 0;
  vs_status st = vs_list_collections(db, &names, &count);
  if (st != VS_OK) return cli_fail_status(st, "listing collections");
  if (count == 0) printf("no collections in %s\n", dir);
  int rc = 0;
  for (size_t i = 0; i < count && rc == 0; i++) {
    if (i > 0) printf("\n");
    rc = stats_one(db, names[i]);
  }
  vs_free_strings(names, count);
  return rc;
}

int cli_cmd_stats(const cli_command *cmd, int argc, char **argv) {
  cli_option options[] = {{NULL, CLI_OPT_STRING, NULL, 0, 0, 0}};
  const char *pos[2];
  int npos = 0;
  vs_db *db = NULL;
  int rc = cli_parse_args(cmd, argc, argv, options, pos, 1, 2, &npos);
  if (rc != 0) return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
  rc = cli_open_db(pos[0], VS_FSYNC_ALWAYS, 1, 1, &db);
  if (rc != 0) return rc;
  rc = npos == 2 ? stats_one(db, pos[1]) : stats_all(db, pos[0]);
  int closed = cli_close_db(db);
  return rc != 0 ? rc : closed;
}

/* ------------------------------------------------------------------ check */

static void report_line(void *ctx, const char *line) {
  (void)ctx;
  printf("  %s\n", line);
  fflush(stdout);
}

int cli_cmd_check(const cli_command *cmd, int argc, char **argv) {
  cli_option options[] = {{NULL, CLI_OPT_STRING, NULL, 0, 0, 0}};
  const char *pos[1];
  int npos = 0;
  int rc = cli_parse_args(cmd, argc, argv, options, pos, 1, 1, &npos);
  if (rc != 0) return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
  printf("checking %s\n", pos[0]);
  vs_status st = vs_check(pos[0], report_line, NULL);
  if (st == VS_OK) {
    printf("ok: 0 problems\n");
    return CLI_EXIT_OK;
  }
  if (st == VS_ERR_CORRUPT) {
    printf("corrupt: %s\n", vs_errmsg(NULL));
    return CLI_EXIT_FAIL;
  }
  cli_fail_status(st, "checking '%s'", pos[0]);
  if (st == VS_ERR_BUSY) {
    fprintf(stderr, "hint: check runs offline; stop the server (or the other "
                    "command) using the database first\n");
  }
  return CLI_EXIT_FAIL;
}

/* ---------------------------------------------------------------- version */

int cli_cmd_version(const cli_command *cmd, int argc, char **argv) {
  cli_option options[] = {{NULL, CLI_OPT_STRING, NULL, 0, 0, 0}};
  const char *pos[1];
  int npos = 0;
  int rc = cli_parse_args(cmd, argc, argv, options, pos, 0, 0, &npos);
  if (rc != 0) return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
  printf("vectorstore %s (simd: %s)\n", vs_version(), vs_simd_level());
  return CLI_EXIT_OK;
}
