/*
 * test_readme.c -- every `curl` example in README.md runs against the real
 * server and prints exactly the output the README shows.
 *
 * The README's examples are shell transcripts inside ``` blocks:
 *
 *     $ curl -s http://localhost:19530/v2/vectordb/collections/list -d '{}'
 *     {"code":0,"data":["quick"]}
 *
 * A line starting with "$ curl" is a command; the lines after it, up to the
 * next "$ " line, a blank line or the end of the block, are its expected
 * output.  Commands run in order (later examples depend on earlier ones)
 * through /bin/sh against a fresh server on a free port: the test rewrites
 * "localhost:19530" to "127.0.0.1:<port>".  Output is compared byte for
 * byte (trailing newlines aside), so the README cannot drift from what the
 * server really answers.  An example without curl (make, vectorstore ...)
 * is not run here; those are covered by test_cli and CI itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testserver.h"
#include "support/testutil.h"

#define MAX_EXAMPLES 256

typedef struct example {
  char *command;
  char *expected;
  int line;
} example;

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf) buf[n] = '\0';
  fclose(f);
  return buf;
}

static char *append(char *s, const char *line, size_t len) {
  size_t old = s ? strlen(s) : 0;
  char *out = realloc(s, old + len + 2);
  if (!out) return s;
  if (old) out[old++] = '\n';
  memcpy(out + old, line, len);
  out[old + len] = '\0';
  return out;
}

/* Splits README.md into examples; returns how many. */
static size_t parse_examples(char *text, example *ex) {
  size_t n = 0;
  int in_block = 0, line_no = 0;
  example *cur = NULL;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    line_no++;
    if (strncmp(line, "```", 3) == 0) {
      in_block = !in_block;
      cur = NULL;
    } else if (in_block && strncmp(line, "$ ", 2) == 0) {
      cur = NULL;
      if (strncmp(line, "$ curl", 6) == 0 && n < MAX_EXAMPLES) {
        cur = &ex[n++];
        cur->command = strndup(line + 2, len - 2);
        cur->expected = strdup("");
        cur->line = line_no;
      }
    } else if (in_block && cur && len == 0) {
      cur = NULL;
    } else if (in_block && cur) {
      char *e = cur->expected;
      cur->expected = *e ? append(e, line, len) : (free(e), strndup(line, len));
    }
    line = nl ? nl + 1 : NULL;
  }
  return n;
}

/* The command with localhost:19530 replaced by the test server's address. */
static char *localise(const char *cmd, int port) {
  const char *needle = "localhost:19530";
  size_t cap = strlen(cmd) * 2 + 64, len = 0;
  char *out = malloc(cap);
  for (const char *p = cmd; out && *p;) {
    if (strncmp(p, needle, strlen(needle)) == 0) {
      len += (size_t)snprintf(out + len, cap - len, "127.0.0.1:%d", port);
      p += strlen(needle);
    } else {
      out[len++] = *p++;
    }
    out[len] = '\0';
  }
  return out;
}

static char *run(const char *cmd) {
  FILE *p = popen(cmd, "r");
  if (!p) return NULL;
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  size_t got;
  while (out && (got = fread(out + len, 1, cap - len - 1, p)) > 0) {
    len += got;
    if (cap - len < 2) {
      cap *= 2;
      out = realloc(out, cap);
    }
  }
  pclose(p);
  if (!out) return NULL;
  while (len && out[len - 1] == '\n') len--;
  out[len] = '\0';
  return out;
}

static void readme_examples(void **state) {
  (void)state;
  const char *src = getenv("VS_SOURCE_DIR");
  assert_non_null(src);
  char *path = tu_join(src, "README.md");
  char *text = read_file(path);
  assert_non_null(text);
  example ex[MAX_EXAMPLES] = {{0}};
  size_t n = parse_examples(text, ex);
  assert_true(n >= 5); /* the README shows a whole session */
  ts_server s;
  assert_int_equal(ts_start(&s, NULL, NULL, NULL), 0);
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    char *cmd = localise(ex[i].command, s.port);
    char *got = run(cmd);
    if (!got || strcmp(got, ex[i].expected) != 0) {
      failures++;
      fprintf(stderr, "README.md:%d: %s\n  expected: %s\n  got:      %s\n", ex[i].line, ex[i].command,
              ex[i].expected, got ? got : "(failed to run)");
    }
    free(cmd);
    free(got);
  }
  assert_int_equal(ts_stop(&s), 0);
  ts_destroy(&s, 0);
  for (size_t i = 0; i < n; i++) {
    free(ex[i].command);
    free(ex[i].expected);
  }
  free(text);
  free(path);
  assert_int_equal(failures, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(readme_examples)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
