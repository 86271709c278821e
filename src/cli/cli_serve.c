/*
 * cli_serve.c -- `vectorstore serve` and `vectorstore config`: thin rows of
 * the command table over the server (src/server/).  The server parses its
 * own flags, because the same settings table (config.c) also reads `.env`,
 * the environment and a --config file; duplicating the flags here would
 * give two lists to keep in step.
 */
#include "cli/cli.h"

int srv_serve_main(int argc, char **argv);
int srv_config_main(int argc, char **argv);

int cli_cmd_serve(const cli_command *cmd, int argc, char **argv) {
  (void)cmd;
  return srv_serve_main(argc, argv);
}

int cli_cmd_config(const cli_command *cmd, int argc, char **argv) {
  (void)cmd;
  return srv_config_main(argc, argv);
}
