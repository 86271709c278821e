/*
 * config.c -- the server's settings: one table, five layers.
 *
 * Every setting is one row of `settings[]`: its name (as printed by
 * `vectorstore config` and accepted in a --config file), its flag, the
 * environment keys that set it (the seed's MILVUS_* keys and our VS_*
 * ones), its type and range, its default, and whether it is a secret.
 * Loading applies the layers in order, each overriding the previous:
 *
 *   1. defaults            (the table)
 *   2. `.env`              in the working directory, KEY=VALUE lines
 *   3. the environment     (getenv of each key)
 *   4. the --config FILE   (also VS_CONFIG): `name = value` lines, where
 *                          name is a setting name, a flag name or an env key
 *   5. command-line flags  (--name value or --name=value)
 *
 * Within one layer, later env keys of a row win (VS_PORT over MILVUS_PORT).
 * Each setting remembers which layer gave its value (cfg->source), so
 * `vectorstore config` can say where a surprising value came from.
 *
 * Unknown keys in `.env` and the environment are ignored (they belong to
 * other programs); an unknown key in the --config file or an unknown flag
 * is a usage error, as is a value that does not parse or is out of range.
 *
 * MILVUS_COLLECTION_SHARDS is read by the engine's vs_options_init from the
 * environment; after loading, the effective value is exported so a value
 * given in `.env`, the config file or --shards reaches it too.
 *
 * Alternatives rejected:
 *  - A struct of separately parsed fields with one if-chain per layer: five
 *    copies of every key, guaranteed to drift apart.
 *  - TOML/YAML config files: no packaged C parser we already depend on, and
 *    a flat KEY=VALUE file covers a dozen scalar settings.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"

typedef enum setting_kind {
  SET_STRING,   /* char[size] */
  SET_UINT,     /* unsigned, [min, max] */
  SET_SIZE,     /* size_t, bytes with an optional KiB/MiB/GiB suffix */
  SET_DOUBLE,   /* double, [min, max] */
  SET_BOOL      /* bool: true/false/1/0/yes/no/on/off */
} setting_kind;

typedef enum setting_source {
  SRC_DEFAULT, SRC_DOTENV, SRC_ENV, SRC_FILE, SRC_FLAG
} setting_source;

static const char *const source_names[] = {"default", ".env", "environment",
                                           "config file", "flag"};

typedef struct setting {
  const char *name;        /* `vectorstore config` key, config-file key */
  const char *flag;        /* without "--" */
  const char *env[3];      /* lowest priority first; NULL-terminated */
  setting_kind kind;
  size_t offset;
  size_t size;             /* SET_STRING: buffer size */
  double min, max;
  const char *fallback;    /* the default, as text */
  bool secret;
  const char *help;
} setting;

#define OFF(f) offsetof(srv_config, f), sizeof(((srv_config *)0)->f)

static const setting settings[] = {
    {"bind", "bind", {"VS_BIND"}, SET_STRING, OFF(bind), 0, 0, "127.0.0.1",
     false, "address to listen on"},
    {"port", "port", {"MILVUS_PORT", "VS_PORT"}, SET_UINT, OFF(port), 0, 65535,
     "19530", false, "TCP port (0 = any free port)"},
    {"data_dir", "data", {"VS_DATA_DIR", "VS_DATA"}, SET_STRING, OFF(data_dir),
     0, 0, "./data", false, "data directory"},
    {"threads", "threads", {"VS_THREADS"}, SET_UINT, OFF(threads), 0, 1024, "0",
     false, "HTTP and handler threads (0 = one per core)"},
    {"max_body_bytes", "max-body", {"VS_MAX_BODY_BYTES"}, SET_SIZE,
     OFF(max_body_bytes), 1, 1e12, "64MiB", false,
     "largest request body (code 1102 above)"},
    {"max_json_depth", "max-json-depth", {"VS_MAX_JSON_DEPTH"}, SET_UINT,
     OFF(max_json_depth), 2, 2048, "64", false,
     "deepest JSON nesting of a body (code 1801 above)"},
    {"max_vectors", "max-vectors", {"VS_MAX_VECTORS"}, SET_SIZE,
     OFF(max_vectors), 1, 1048576, "16384", false,
     "vectors per insert/search request"},
    {"max_header_bytes", "max-header", {"VS_MAX_HEADER_BYTES"}, SET_SIZE,
     OFF(max_header_bytes), 1024, 1048576, "16KiB", false,
     "largest request line + headers (HTTP 431 above)"},
    {"idle_timeout_s", "idle-timeout", {"VS_IDLE_TIMEOUT"}, SET_UINT,
     OFF(idle_timeout_s), 1, 86400, "30", false,
     "seconds a silent connection is kept"},
    {"request_timeout_s", "request-timeout", {"VS_REQUEST_TIMEOUT"}, SET_UINT,
     OFF(request_timeout_s), 1, 86400, "30", false,
     "default Request-Timeout (HTTP 408 after)"},
    {"max_connections", "max-connections", {"VS_MAX_CONNECTIONS"}, SET_UINT,
     OFF(max_connections), 1, 1000000, "1024", false,
     "simultaneous connections"},
    {"max_connections_per_ip", "max-connections-per-ip",
     {"VS_MAX_CONNECTIONS_PER_IP"}, SET_UINT, OFF(max_connections_per_ip), 0,
     1000000, "256", false, "simultaneous connections from one address (0 = no limit)"},
    {"shutdown_timeout_s", "shutdown-timeout", {"VS_SHUTDOWN_TIMEOUT"},
     SET_UINT, OFF(shutdown_timeout_s), 0, 86400, "30", false,
     "seconds to wait for in-flight requests at shutdown"},
    {"slow_query_ms", "slow-query-ms", {"VS_SLOW_QUERY_MS"}, SET_DOUBLE,
     OFF(slow_query_ms), 0, 1e9, "1000", false,
     "requests slower than this are logged with their profile"},
    {"inline_max_ms", "inline-max-ms", {"VS_INLINE_MAX_MS"}, SET_DOUBLE,
     OFF(inline_max_ms), 0, 1e6, "2", false,
     "get/query/search run on the event loop while their recent time is below this (0 = never)"},
    {"log_format", "log-format", {"VS_LOG_FORMAT"}, SET_STRING, OFF(log_format),
     0, 0, "json", false, "json or text"},
    {"log_level", "log-level", {"VS_LOG_LEVEL"}, SET_STRING, OFF(log_level), 0, 0,
     "info", false, "debug, info, warn or error"},
    {"fsync", "fsync", {"VS_FSYNC"}, SET_STRING, OFF(fsync), 0, 0, "always",
     false, "WAL fsync policy: always, batch or none"},
    {"int64_default", "accept-int64", {"VS_ACCEPT_TYPE_ALLOW_INT64"}, SET_BOOL,
     OFF(int64_default), 0, 0, "true", false,
     "Int64 as JSON numbers when Accept-Type-Allow-Int64 is absent"},
    {"shards", "shards", {"MILVUS_COLLECTION_SHARDS"}, SET_UINT, OFF(shards), 1,
     256, "2", false, "shards of new collections"},
    {"replica_factor", "replica-factor", {"MILVUS_REPLICA_FACTOR"}, SET_UINT,
     OFF(replica_factor), 1, 64, "1", false,
     "accepted for compatibility; one process holds one replica"},
    {"root_password", "root-password", {"MILVUS_ROOT_PASSWORD", "VS_ROOT_PASSWORD"},
     SET_STRING, OFF(root_password), 0, 0, "Milvus", true,
     "password of the root user"},
    {"milvus_host", "milvus-host", {"MILVUS_HOST"}, SET_STRING, OFF(milvus_host),
     0, 0, "localhost", false, "Milvus host (client adapter)"},
    {"milvus_user", "milvus-user", {"MILVUS_USER"}, SET_STRING, OFF(milvus_user),
     0, 0, "root", false, "Milvus user (client adapter)"},
    {"milvus_password", "milvus-password", {"MILVUS_PASSWORD"}, SET_STRING,
     OFF(milvus_password), 0, 0, "", true, "Milvus password (client adapter)"},
    {"config_file", "config", {"VS_CONFIG"}, SET_STRING, OFF(config_file), 0, 0,
     "", false, "KEY=VALUE settings file"},
};

#define SETTING_COUNT (sizeof settings / sizeof settings[0])
_Static_assert(SETTING_COUNT <= sizeof(((srv_config *)0)->source),
               "srv_config.source too small");

/* --------------------------------------------------------- value parsing */

static bool parse_bool(const char *text, bool *out) {
  static const char *const yes[] = {"true", "1", "yes", "on", "t"};
  static const char *const no[] = {"false", "0", "no", "off", "f"};
  for (size_t i = 0; i < 5; i++) {
    if (strcasecmp(text, yes[i]) == 0) return *out = true, true;
    if (strcasecmp(text, no[i]) == 0) return *out = false, true;
  }
  return false;
}

/* "64MiB", "16k", "1048576" -> bytes. */
static bool parse_size(const char *text, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (errno != 0 || end == text || !isfinite(v) || v < 0) return false;
  while (*end == ' ') end++;
  static const struct { const char *suffix; double scale; } units[] = {
      {"", 1}, {"b", 1}, {"k", 1024}, {"kb", 1024}, {"kib", 1024},
      {"m", 1048576}, {"mb", 1048576}, {"mib", 1048576},
      {"g", 1073741824.0}, {"gb", 1073741824.0}, {"gib", 1073741824.0}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(end, units[i].suffix) == 0) {
      *out = floor(v * units[i].scale);
      return true;
    }
  }
  return false;
}

static bool parse_number(const setting *s, const char *text, double *out) {
  if (s->kind == SET_SIZE) return parse_size(text, out);
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite(v)) return false;
  if (s->kind == SET_UINT && v != floor(v)) return false;
  *out = v;
  return true;
}

static bool check_choice(const setting *s, const char *text) {
  static const char *const formats[] = {"json", "text", NULL};
  static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
  const char *const *choices = NULL;
  if (strcmp(s->name, "log_format") == 0) choices = formats;
  if (strcmp(s->name, "log_level") == 0) choices = levels;
  if (strcmp(s->name, "fsync") == 0) {
    vs_fsync_policy p;
    return vs_fsync_policy_from_name(text, &p) == VS_OK;
  }
  if (choices == NULL) return true;
  for (size_t i = 0; choices[i]; i++) {
    if (strcmp(choices[i], text) == 0) return true;
  }
  return false;
}

/* Stores `text` into the setting; prints why not and returns false. */
static bool setting_apply(srv_config *cfg, size_t index, const char *text,
                          setting_source source, const char *origin) {
  const setting *s = &settings[index];
  char *field = (char *)cfg + s->offset;
  double v = 0;
  bool ok = true;
  switch (s->kind) {
    case SET_STRING:
      ok = strlen(text) < s->size && check_choice(s, text);
      if (ok) snprintf(field, s->size, "%s", text);
      break;
    case SET_BOOL:
      ok = parse_bool(text, (bool *)field);
      break;
    case SET_UINT:
    case SET_SIZE:
    case SET_DOUBLE:
      ok = parse_number(s, text, &v) && v >= s->min && v <= s->max;
      if (ok && s->kind == SET_UINT) *(unsigned *)field = (unsigned)v;
      if (ok && s->kind == SET_SIZE) *(size_t *)field = (size_t)v;
      if (ok && s->kind == SET_DOUBLE) *(double *)field = v;
      break;
  }
  if (!ok) {
    fprintf(stderr, "error: %s: invalid value '%s' for %s (%s)\n", origin,
            text, s->name, s->help);
    return false;
  }
  cfg->source[index] = (unsigned char)source;
  return true;
}

/* ---------------------------------------------------------------- lookup */

static int find_by_env(const char *key) {
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    for (size_t k = 0; k < 3 && settings[i].env[k]; k++) {
      if (strcmp(settings[i].env[k], key) == 0) return (int)i;
    }
  }
  return -1;
}

/* A config-file key: setting name, flag name or env key. */
static int find_by_any(const char *key) {
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    if (strcmp(settings[i].name, key) == 0) return (int)i;
    if (strcmp(settings[i].flag, key) == 0) return (int)i;
  }
  return find_by_env(key);
}

static int find_by_flag(const char *flag, size_t len) {
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    if (strlen(settings[i].flag) == len && strncmp(settings[i].flag, flag, len) == 0) {
      return (int)i;
    }
  }
  return -1;
}

/* ------------------------------------------------------------ key files */

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
  return s;
}

static char *unquote(char *v) {
  size_t n = strlen(v);
  if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
    v[n - 1] = '\0';
    return v + 1;
  }
  return v;
}

/* Reads KEY=VALUE lines (`export ` prefix, # comments, quotes).  With
 * `strict`, an unknown key is an error (our own --config file); without,
 * it is ignored (.env files are shared with other programs). */
static int load_key_file(srv_config *cfg, const char *path,
                         setting_source source, bool strict) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    if (!strict) return 0;
    fprintf(stderr, "error: cannot read config file %s: %s\n", path, strerror(errno));
    return 2;
  }
  char line[4096];
  int rc = 0;
  unsigned lineno = 0;
  while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
    lineno++;
    char *p = trim(line);
    if (*p == '\0' || *p == '#') continue;
    if (strncmp(p, "export ", 7) == 0) p = trim(p + 7);
    char *eq = strchr(p, '=');
    if (eq == NULL) {
      if (strict) {
        fprintf(stderr, "error: %s:%u: expected KEY=VALUE\n", path, lineno);
        rc = 2;
      }
      continue;
    }
    *eq = '\0';
    char *key = trim(p), *value = unquote(trim(eq + 1));
    int index = strict ? find_by_any(key) : find_by_env(key);
    char origin[PATH_MAX + 32];
    snprintf(origin, sizeof origin, "%s:%u", path, lineno);
    if (index < 0) {
      if (strict) {
        fprintf(stderr, "error: %s: unknown setting '%s'\n", origin, key);
        rc = 2;
      }
    } else if (!setting_apply(cfg, (size_t)index, value, source, origin)) {
      rc = 2;
    }
  }
  fclose(f);
  return rc;
}

static int load_environment(srv_config *cfg) {
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    for (size_t k = 0; k < 3 && settings[i].env[k]; k++) {
      const char *v = getenv(settings[i].env[k]);
      if (v == NULL) continue;
      if (!setting_apply(cfg, i, v, SRC_ENV, settings[i].env[k])) return 2;
    }
  }
  return 0;
}

/* ----------------------------------------------------------------- flags */

static void print_flags(FILE *out, const char *command) {
  fprintf(out, "usage: vectorstore %s [--FLAG VALUE ...]\n\nflags (env keys; default):\n",
          command);
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    const setting *s = &settings[i];
    fprintf(out, "  --%-24s %s (", s->flag, s->help);
    for (size_t k = 0; k < 3 && s->env[k]; k++) fprintf(out, "%s, ", s->env[k]);
    fprintf(out, "default %s)\n", s->secret ? "****" : (*s->fallback ? s->fallback : "\"\""));
  }
}

/* Finds the value of flag argv[*i]; advances *i past it. */
static int flag_value(int argc, char **argv, int *i, const char **name,
                      size_t *name_len, const char **value) {
  const char *arg = argv[*i] + 2;
  const char *eq = strchr(arg, '=');
  *name = arg;
  *name_len = eq ? (size_t)(eq - arg) : strlen(arg);
  if (eq) {
    *value = eq + 1;
    return 0;
  }
  if (*i + 1 >= argc) return -1;
  *value = argv[++*i];
  return 0;
}

/* Parses every flag; with only_config, applies --config alone (the file
 * layer needs its name before the flags are applied). */
static int load_flags(srv_config *cfg, int argc, char **argv, bool only_config) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      if (!only_config) print_flags(stdout, argv[0]);
      return -1;
    }
    if (strncmp(argv[i], "--", 2) != 0) {
      fprintf(stderr, "error: %s: unexpected argument '%s'\n", argv[0], argv[i]);
      return 2;
    }
    const char *name, *value;
    size_t len;
    if (flag_value(argc, argv, &i, &name, &len, &value) != 0) {
      fprintf(stderr, "error: %s: flag %s needs a value\n", argv[0], argv[i]);
      return 2;
    }
    int index = find_by_flag(name, len);
    if (index < 0) {
      fprintf(stderr, "error: %s: unknown flag --%.*s (see --help)\n", argv[0],
              (int)len, name);
      return 2;
    }
    bool is_config = strcmp(settings[index].name, "config_file") == 0;
    if (only_config != is_config) continue;
    if (!setting_apply(cfg, (size_t)index, value, SRC_FLAG, "flag")) return 2;
  }
  return 0;
}

/* ------------------------------------------------------------------ load */

int srv_config_load(srv_config *cfg, int argc, char **argv) {
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    if (!setting_apply(cfg, i, settings[i].fallback, SRC_DEFAULT, "default")) return 2;
  }
  int rc = load_key_file(cfg, ".env", SRC_DOTENV, false);
  if (rc == 0) rc = load_environment(cfg);
  if (rc == 0) rc = load_flags(cfg, argc, argv, true);
  if (rc == 0 && cfg->config_file[0]) {
    rc = load_key_file(cfg, cfg->config_file, SRC_FILE, true);
  }
  if (rc == 0) rc = load_flags(cfg, argc, argv, false);
  if (rc == -1) return -1;
  if (rc != 0) return rc;
  char shards[16];
  snprintf(shards, sizeof shards, "%u", cfg->shards);
  setenv("MILVUS_COLLECTION_SHARDS", shards, 1);
  return 0;
}

static void print_value(const srv_config *cfg, const setting *s, FILE *out) {
  const char *field = (const char *)cfg + s->offset;
  switch (s->kind) {
    case SET_STRING:
      if (s->secret) {
        fputs(field[0] ? "********" : "", out);
      } else {
        fputs(field, out);
      }
      break;
    case SET_BOOL:
      fputs(*(const bool *)field ? "true" : "false", out);
      break;
    case SET_UINT:
      fprintf(out, "%u", *(const unsigned *)field);
      break;
    case SET_SIZE:
      fprintf(out, "%zu", *(const size_t *)field);
      break;
    case SET_DOUBLE:
      fprintf(out, "%g", *(const double *)field);
      break;
  }
}

void srv_config_print(const srv_config *cfg, FILE *out) {
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    fprintf(out, "%s = ", settings[i].name);
    print_value(cfg, &settings[i], out);
    unsigned src = cfg->source[i];
    fprintf(out, "    # %s\n", src < 5 ? source_names[src] : "?");
  }
}

int srv_config_main(int argc, char **argv) {
  srv_config cfg;
  int rc = srv_config_load(&cfg, argc, argv);
  if (rc == -1) return 0;
  if (rc != 0) return rc;
  srv_config_print(&cfg, stdout);
  return 0;
}
