/*
 * main.c -- the `vectorstore` command: a table of sub-commands and the
 * dispatch into it.
 *
 * Every sub-command is one row of `commands[]`: its name, a one-line summary
 * for `vectorstore help`, its usage line, and a handler that parses its own
 * flags (cli_parse_args in cli_common.c) and returns the process exit code.
 * Adding a command (serve, query, index, config, ...) is one row and one
 * handler; nothing else here changes.
 *
 * Exit codes are the same for every command: 0 success, 1 runtime error
 * ("error: ..." on stderr), 2 usage error (unknown command or flag, missing
 * or malformed argument; the usage follows the message).
 *
 * Alternatives rejected:
 *  - getopt_long: it permutes argv, accepts unique prefixes of long flags
 *    (so adding a flag can break an existing abbreviation), and has no
 *    notion of typed, range-checked values.  The parser here is forty lines.
 *  - One big main() switch: a table keeps help, usage and dispatch in one
 *    place and makes the list of commands impossible to get out of sync.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int cli_cmd_help(const cli_command *cmd, int argc, char **argv);

static const cli_command commands[] = {
    {"import", "import vectors (.fvecs, .bvecs) or rows (.jsonl) into a collection",
     "DIR COLLECTION FILE [--metric L2|IP|COSINE] [--batch ROWS] "
     "[--fsync always|batch|none] [--partition NAME] [--schema SCHEMA.json] "
     "[--index TYPE [--params JSON] [--timeout SECONDS]]",
     cli_cmd_import},
    {"search", "run the queries of an .fvecs file; time them and measure recall",
     "DIR COLLECTION QUERIES.fvecs [--k K] [--threads N] [--truth GT.ivecs] "
     "[--out RESULT.ivecs] [--batch Q] [--field NAME] [--output F1,F2] "
     "[--params JSON] [--radius R [--range-filter F]] [--filter EXPR] "
     "[--profile]",
     cli_cmd_search},
    {"query", "print the rows that pass a filter, as JSON lines",
     "DIR COLLECTION [--filter EXPR] [--output F1,F2] [--limit N] "
     "[--offset N] [--partition NAME] [--count] [--profile]",
     cli_cmd_query},
    {"index", "create, rebuild, drop or describe a vector field's index",
     "DIR COLLECTION [--type FLAT|HNSW|HNSW_SQ8|IVF_FLAT|IVF_SQ8|IVF_PQ|"
     "AUTOINDEX] [--params JSON] [--field NAME] [--rebuild] [--drop] "
     "[--no-wait] [--timeout SECONDS]",
     cli_cmd_index},
    {"stats", "print the statistics and schema of collections",
     "DIR [COLLECTION]", cli_cmd_stats},
    {"check", "verify every file of a stopped database (checksums, structure)",
     "DIR", cli_cmd_check},
    {"version", "print the version and the SIMD level in use", "",
     cli_cmd_version},
    {"demo", "import Fashion-MNIST (first run) and search it",
     "DIR [--data DATASET_DIR] [--queries N] [--k K] [--fsync always|batch|none]",
     cli_cmd_demo},
    {"serve", "serve the Milvus RESTful API v2 over a data directory",
     "[--data DIR] [--bind ADDR] [--port PORT] [--config FILE] [--FLAG VALUE ...] "
     "(see `vectorstore serve --help`)",
     cli_cmd_serve},
    {"config", "print the effective server settings (secrets masked)",
     "[--config FILE] [--FLAG VALUE ...]", cli_cmd_config},
    {"help", "print this list, or the usage of one command", "[COMMAND]",
     cli_cmd_help},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void print_table(FILE *out) {
  fprintf(out, "usage: vectorstore COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; i < COMMAND_COUNT; i++) {
    fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  }
  fprintf(out,
          "\nRun `vectorstore help COMMAND` or `vectorstore COMMAND --help` "
          "for a command's arguments.\n");
}

static const cli_command *find_command(const char *name) {
  for (size_t i = 0; i < COMMAND_COUNT; i++) {
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  }
  return NULL;
}

static int cli_cmd_help(const cli_command *cmd, int argc, char **argv) {
  if (argc < 2) {
    print_table(stdout);
    return CLI_EXIT_OK;
  }
  if (argc > 2) return cli_usage_error(cmd, "expected at most one COMMAND");
  const cli_command *target = find_command(argv[1]);
  if (target == NULL) {
    fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
    print_table(stderr);
    return CLI_EXIT_USAGE;
  }
  cli_print_usage(stdout, target);
  printf("\n%s\n", target->summary);
  return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    print_table(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    return cli_cmd_version(find_command("version"), 1, argv + 1);
  }
  const cli_command *cmd = find_command(argv[1]);
  if (cmd == NULL) {
    fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
    print_table(stderr);
    return CLI_EXIT_USAGE;
  }
  return cmd->run(cmd, argc - 1, argv + 1);
}
