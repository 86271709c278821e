/*
 * testutil.c -- shared test helpers; see testutil.h for the contracts.
 *
 * Only libc: the helpers must stay trustworthy while the engine is broken.
 * Paths are built with snprintf into malloc'd strings; recursion over
 * directories uses nftw (FTW_PHYS, so symlinks are never followed).
 */
#include "support/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- random */

uint64_t tu_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t tu_rand_below(uint64_t *state, uint64_t n) {
  if (n == 0) return 0;
  return tu_splitmix64(state) % n;
}

float tu_rand_float(uint64_t *state) {
  uint64_t bits = tu_splitmix64(state) >> 40; /* 24 bits */
  return (float)bits / (float)(1u << 23) - 1.0f;
}

void tu_random_floats(uint64_t seed, float *out, size_t n) {
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) out[i] = tu_rand_float(&s);
}

uint64_t tu_env_u64(const char *name, uint64_t fallback) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') return fallback;
  char *end = NULL;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 0);
  if (errno != 0 || end == v || *end != '\0') return fallback;
  return (uint64_t)x;
}

uint64_t tu_seed(const char *what) {
  uint64_t seed = tu_env_u64("VS_TEST_SEED", 0);
  if (seed == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
           ((uint64_t)getpid() << 32);
  }
  fprintf(stderr, "[%s] seed %" PRIu64 " (repeat with VS_TEST_SEED=%" PRIu64
          ")\n", what, seed, seed);
  return seed;
}

/* ------------------------------------------------------------ directories */

char *tu_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p != NULL) snprintf(p, n, "%s/%s", a, b);
  return p;
}

const char *tu_basename(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

char *tu_make_tmpdir(const char *tag) {
  char buf[256];
  snprintf(buf, sizeof buf, "/tmp/vs-%s-XXXXXX", tag);
  if (mkdtemp(buf) == NULL) {
    fprintf(stderr, "mkdtemp %s: %s\n", buf, strerror(errno));
    return NULL;
  }
  return strdup(buf);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  int rc = remove(path);
  if (rc != 0) fprintf(stderr, "remove %s: %s\n", path, strerror(errno));
  return rc;
}

int tu_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int copy_file(const char *src, const char *dst, mode_t mode) {
  int rc = -1;
  int in = -1;
  int out = -1;
  char buf[65536];
  in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) goto done;
  out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
  if (out < 0) goto done;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) goto done;
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) goto done;
      off += w;
    }
  }
  rc = 0;
done:
  if (rc != 0) fprintf(stderr, "copy %s -> %s: %s\n", src, dst,
                       strerror(errno));
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  return rc;
}

/* nftw has no context pointer, so the copy's roots live in statics (tests
 * are single-threaded where they copy). */
static const char *g_copy_src;
static const char *g_copy_dst;
static int copy_entry(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw) {
  const char *rel = path + strlen(g_copy_src);
  char *target = malloc(strlen(g_copy_dst) + strlen(rel) + 1);
  int rc = 0;
  if (target == NULL) return -1;
  strcpy(target, g_copy_dst);
  strcat(target, rel);
  if (flag == FTW_D) {
    if (mkdir(target, 0755) != 0) {
      fprintf(stderr, "mkdir %s: %s\n", target, strerror(errno));
      rc = -1;
    }
  } else if (flag == FTW_F) {
    rc = copy_file(path, target, st->st_mode);
  }
  free(target);
  return rc;
}

int tu_copy_tree(const char *src, const char *dst) {
  g_copy_src = src;
  g_copy_dst = dst;
  return nftw(src, copy_entry, 16, FTW_PHYS);
}

static char **g_list;
static size_t g_list_n;
static size_t g_list_cap;
static size_t g_list_prefix;

static int list_entry(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw) {
  if (flag != FTW_F || !S_ISREG(st->st_mode)) return 0;
  if (g_list_n == g_list_cap) {
    size_t cap = g_list_cap ? g_list_cap * 2 : 32;
    char **grown = realloc(g_list, cap * sizeof *grown);
    if (grown == NULL) return -1;
    g_list = grown;
    g_list_cap = cap;
  }
  const char *rel = path + g_list_prefix;
  while (*rel == '/') rel++;
  g_list[g_list_n] = strdup(rel);
  if (g_list[g_list_n] == NULL) return -1;
  g_list_n++;
  return 0;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

long tu_list_files(const char *dir, char ***out) {
  g_list = NULL;
  g_list_n = 0;
  g_list_cap = 0;
  g_list_prefix = strlen(dir);
  if (nftw(dir, list_entry, 16, FTW_PHYS) != 0) {
    tu_free_strings(g_list, g_list_n);
    *out = NULL;
    return -1;
  }
  if (g_list_n > 1) qsort(g_list, g_list_n, sizeof *g_list, compare_strings);
  *out = g_list;
  return (long)g_list_n;
}

void tu_free_strings(char **strings, size_t n) {
  if (strings == NULL) return;
  for (size_t i = 0; i < n; i++) free(strings[i]);
  free(strings);
}

/* ------------------------------------------------------------------ files */

long long tu_file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  return (long long)st.st_size;
}

int tu_flip_byte(const char *path, long long offset, uint8_t mask) {
  int rc = -1;
  uint8_t b = 0;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) goto done;
  if (pread(fd, &b, 1, (off_t)offset) != 1) goto done;
  b ^= mask;
  if (pwrite(fd, &b, 1, (off_t)offset) != 1) goto done;
  rc = 0;
done:
  if (rc != 0) fprintf(stderr, "flip %s@%lld failed: %s\n", path, offset,
                       strerror(errno));
  if (fd >= 0) close(fd);
  return rc;
}

int tu_truncate(const char *path, long long length) {
  if (truncate(path, (off_t)length) != 0) {
    fprintf(stderr, "truncate %s to %lld: %s\n", path, length,
            strerror(errno));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------- processes */

const char *tu_vs_bin(void) {
  const char *bin = getenv("VS_BIN");
  if (bin == NULL || *bin == '\0') return NULL;
  return bin;
}

static char *read_all_fd(int fd) {
  size_t cap = 4096;
  size_t len = 0;
  char *buf = malloc(cap);
  if (buf == NULL) return NULL;
  for (;;) {
    if (len + 1 >= cap) {
      char *grown = realloc(buf, cap * 2);
      if (grown == NULL) {
        free(buf);
        return NULL;
      }
      buf = grown;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  return buf;
}

int tu_run(const char *const argv[], char **output) {
  int pipefd[2];
  if (output != NULL) *output = NULL;
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    dup2(pipefd[1], STDERR_FILENO);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(pipefd[1]);
  char *text = read_all_fd(pipefd[0]);
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      free(text);
      return -1;
    }
  }
  if (output != NULL) {
    *output = text;
  } else {
    free(text);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}
