/*
 * testutil.h -- helpers shared by the tests (compiled into every test
 * executable by CMake): temporary directories, a deterministic PRNG, file
 * surgery for corruption tests, and running the `vectorstore` binary.
 *
 * Everything here uses libc only, never the library under test, so a bug in
 * the engine cannot hide a bug in the harness.  Functions that can fail
 * print the reason to stderr and return -1 (or NULL); tests assert on that.
 */
#ifndef VS_TESTUTIL_H
#define VS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- random */

/* splitmix64: advances *state and returns the next value. */
uint64_t tu_splitmix64(uint64_t *state);
/* A value in [0, n) (n > 0). */
uint64_t tu_rand_below(uint64_t *state, uint64_t n);
/* A float in [-1, 1). */
float tu_rand_float(uint64_t *state);
/* Fills n floats in [-1, 1) from `seed`. */
void tu_random_floats(uint64_t seed, float *out, size_t n);
/* The run's seed: env VS_TEST_SEED if set, else time ^ pid.  Printed once
 * to stderr (with `what`) so a failing run can be repeated. */
uint64_t tu_seed(const char *what);
/* Unsigned integer from env `name`, or `fallback` if unset/invalid. */
uint64_t tu_env_u64(const char *name, uint64_t fallback);

/* ------------------------------------------------------------ directories */

/* Creates /tmp/vs-<tag>-XXXXXX; returns a malloc'd path or NULL. */
char *tu_make_tmpdir(const char *tag);
/* rm -rf; returns 0 on success. */
int tu_remove_tree(const char *path);
/* Copies the tree `src` into `dst` (created; must not exist). */
int tu_copy_tree(const char *src, const char *dst);
/* Every regular file under `dir`, as paths relative to it, sorted.
 * Returns the count (or -1); free with tu_free_strings. */
long tu_list_files(const char *dir, char ***out);
void tu_free_strings(char **strings, size_t n);
/* malloc'd "a/b". */
char *tu_join(const char *a, const char *b);
/* Last path component (points into `path`). */
const char *tu_basename(const char *path);

/* ------------------------------------------------------------------ files */

/* Size of a file, or -1. */
long long tu_file_size(const char *path);
/* XORs the byte at `offset` with `mask` (nonzero). */
int tu_flip_byte(const char *path, long long offset, uint8_t mask);
int tu_truncate(const char *path, long long length);

/* ------------------------------------------------------------- processes */

/* Path of the vectorstore CLI (env VS_BIN), or NULL. */
const char *tu_vs_bin(void);
/* Runs argv (argv[0] is a path; NULL-terminated), collecting stdout and
 * stderr together into *output (malloc'd, NUL-terminated; may be NULL to
 * discard).  Returns the exit status, 128+signal if killed, -1 if it could
 * not run. */
int tu_run(const char *const argv[], char **output);

#endif /* VS_TESTUTIL_H */
