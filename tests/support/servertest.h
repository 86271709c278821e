/*
 * servertest.h -- cmocka helpers for black-box server tests that share one
 * server per test group: start/stop it as group setup/teardown, POST a
 * printf-formatted body, and assert on the envelope's code, message and
 * key set.  Built on testserver.h (the harness); every helper asserts, so
 * a failure stops the test at the line that called it, with the envelope
 * printed.
 */
#ifndef VS_SERVERTEST_H
#define VS_SERVERTEST_H

#include <jansson.h>
#include <stdbool.h>

#include "support/testserver.h"

/* The group's server (started by st_start_server). */
extern ts_server st_server;

/* cmocka group setup / teardown: a server on a fresh data directory. */
int st_start_server(void **state);
int st_stop_server(void **state);
/* Stops the group's server (SIGTERM, exit 0 asserted) and starts it again
 * on the same data directory. */
void st_restart_server(void);

/* POSTs a printf-formatted body to `path`; the envelope (never NULL). */
json_t *st_call(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Asserts the envelope's code, printing the envelope when it differs. */
void st_expect(json_t *env, long code);
/* POSTs `body` and asserts the code; an error has a message and no data. */
void st_expect_code(long code, const char *path, const char *body);
/* Same, and the error message contains `text`. */
void st_expect_message(long code, const char *text, const char *path, const char *body);
/* `obj` is an object with exactly the keys of the NULL-terminated list. */
void st_assert_keys(const json_t *obj, const char *const *keys);
/* True when the JSON array holds the string `name`. */
bool st_list_has(const json_t *list, const char *name);

#endif /* VS_SERVERTEST_H */
