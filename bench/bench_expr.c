/*
 * bench_expr.c -- filter evaluation speed (src/expr/) in ns per row.
 *
 * Usage: bench_expr   (env BENCH_TRIALS default 5, BENCH_ROWS default
 *                      1000000)
 *
 * Builds BENCH_ROWS rows of columns in memory (no database): age Int32
 * uniform in [0, 100), color VarChar from 4 words, meta JSON
 * {"n":0..9,"s":"..","t":[..]} in compact text, as a segment holds them.
 * Then times vs_expr_eval over all rows for
 *
 *   age > 30 and age < 60     (vectorised integer kernels + word-wise and)
 *   color == "red"            (VarChar kernel: length check + memcmp)
 *   meta["n"] > 5             (per-row allocation-free JSON scan)
 *
 * and, for scale, the reference interpreter (jansson per row) on the JSON
 * filter over the first 100,000 rows.  Prints medians and a markdown
 * summary after "--- summary ---".  Uses the internal headers (expr/,
 * engine/schema.h): there is no public API for a bare filter.
 */
#include "bench_common.h"

#include "engine/schema.h"
#include "expr/expr.h"

typedef struct data {
  size_t n;
  int32_t *age;
  uint64_t *color_off, *meta_off;
  char *color_bytes, *meta_bytes;
} data;

static void build(data *d, size_t n) {
  static const char *const colors[] = {"red", "green", "blue", "black"};
  uint64_t s = 42;
  d->n = n;
  d->age = malloc(n * sizeof *d->age);
  d->color_off = malloc((n + 1) * sizeof *d->color_off);
  d->meta_off = malloc((n + 1) * sizeof *d->meta_off);
  d->color_bytes = malloc(n * 6 + 1);
  d->meta_bytes = malloc(n * 48 + 1);
  if (!d->age || !d->color_off || !d->meta_off || !d->color_bytes || !d->meta_bytes) {
    fprintf(stderr, "bench: out of memory\n");
    exit(1);
  }
  size_t cpos = 0, mpos = 0;
  d->color_off[0] = d->meta_off[0] = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t r = bench_splitmix(&s);
    d->age[i] = (int32_t)(r % 100);
    const char *c = colors[(r >> 8) % 4];
    memcpy(d->color_bytes + cpos, c, strlen(c));
    cpos += strlen(c);
    d->color_off[i + 1] = cpos;
    mpos += (size_t)sprintf(d->meta_bytes + mpos, "{\"s\":\"%s\",\"n\":%u,\"t\":[%u,%u]}", c,
                            (unsigned)((r >> 16) % 10), (unsigned)((r >> 24) % 7),
                            (unsigned)((r >> 32) % 5));
    d->meta_off[i + 1] = mpos;
  }
  d->color_bytes[cpos] = 0;
  d->meta_bytes[mpos] = 0;
}

static vs_schema *make_schema(void) {
  vs_schema *s = NULL;
  vs_field_def f;
  if (vs_schema_new(&s) != VS_OK) bench_die("schema");
  memset(&f, 0, sizeof f);
  f.name = "id"; f.type = VS_TYPE_INT64; f.is_primary = 1;
  if (vs_schema_add_field(s, &f) != VS_OK) bench_die("field");
  memset(&f, 0, sizeof f);
  f.name = "vec"; f.type = VS_TYPE_FLOAT_VECTOR; f.dim = 2;
  if (vs_schema_add_field(s, &f) != VS_OK) bench_die("field");
  memset(&f, 0, sizeof f);
  f.name = "age"; f.type = VS_TYPE_INT32;
  if (vs_schema_add_field(s, &f) != VS_OK) bench_die("field");
  memset(&f, 0, sizeof f);
  f.name = "color"; f.type = VS_TYPE_VARCHAR; f.max_length = 16;
  if (vs_schema_add_field(s, &f) != VS_OK) bench_die("field");
  memset(&f, 0, sizeof f);
  f.name = "meta"; f.type = VS_TYPE_JSON;
  if (vs_schema_add_field(s, &f) != VS_OK) bench_die("field");
  return s;
}

static void views(const data *d, vs_colview *cols) {
  memset(cols, 0, 5 * sizeof *cols);
  for (int k = 0; k < 5; k++) cols[k].n = d->n;
  cols[0].type = VS_TYPE_INT64;      /* id: not read */
  cols[1].type = VS_TYPE_FLOAT_VECTOR;
  cols[2].type = VS_TYPE_INT32;
  cols[2].fixed = (const uint8_t *)d->age;
  cols[3].type = VS_TYPE_VARCHAR;
  cols[3].offsets = d->color_off;
  cols[3].bytes = d->color_bytes;
  cols[4].type = VS_TYPE_JSON;
  cols[4].offsets = d->meta_off;
  cols[4].bytes = d->meta_bytes;
}

static double time_filter(const vs_schema *s, const vs_colview *cols, size_t n,
                          const char *text, int trials, size_t *passing) {
  vs_expr *e = NULL;
  vs_bitset b;
  double *t = malloc((size_t)trials * sizeof *t);
  if (vs_expr_compile(s, text, NULL, &e) != VS_OK) bench_die(text);
  if (vs_bitset_init(&b, n) != VS_OK) bench_die("bitset");
  for (int k = 0; k < trials; k++) {
    double t0 = bench_now();
    vs_expr_eval(e, cols, 0, n, &b);
    t[k] = (bench_now() - t0) * 1e9 / (double)n;
  }
  *passing = vs_bitset_count(&b);
  double med = bench_median(t, (size_t)trials);
  free(t);
  vs_bitset_free(&b);
  vs_expr_free(e);
  return med;
}

static double time_reference(const vs_schema *s, const vs_colview *cols, size_t n,
                             const char *text) {
  vs_expr *e = NULL;
  size_t pass = 0;
  if (vs_expr_compile(s, text, NULL, &e) != VS_OK) bench_die(text);
  double t0 = bench_now();
  for (size_t r = 0; r < n; r++) pass += vs_expr_eval_row_reference(e, cols, r);
  double dt = (bench_now() - t0) * 1e9 / (double)n;
  vs_expr_free(e);
  if (pass > n) bench_die("impossible count");
  return dt;
}

int main(void) {
  const char *env_trials = getenv("BENCH_TRIALS"), *env_rows = getenv("BENCH_ROWS");
  int trials = env_trials ? atoi(env_trials) : 5;
  size_t n = env_rows ? (size_t)strtoull(env_rows, NULL, 10) : 1000000u;
  if (trials < 1) trials = 1;
  data d;
  build(&d, n);
  vs_schema *s = make_schema();
  vs_colview cols[5];
  views(&d, cols);
  static const char *const filters[] = {"age > 30 and age < 60", "color == \"red\"",
                                        "meta[\"n\"] > 5"};
  double ns[3];
  for (int k = 0; k < 3; k++) {
    size_t pass = 0;
    ns[k] = time_filter(s, cols, n, filters[k], trials, &pass);
    printf("%-24s %8.2f ns/row  (%zu of %zu rows pass)\n", filters[k], ns[k], pass, n);
  }
  size_t ref_rows = n < 100000 ? n : 100000;
  double ref = time_reference(s, cols, ref_rows, filters[2]);
  printf("%-24s %8.2f ns/row  (reference interpreter, jansson per row, %zu rows)\n",
         filters[2], ref, ref_rows);
  printf("--- summary ---\n");
  printf("### Filter evaluation (%zu rows, median of %d)\n\n", n, trials);
  printf("| filter | ns/row |\n|---|---|\n");
  for (int k = 0; k < 3; k++) printf("| `%s` | %.2f |\n", filters[k], ns[k]);
  printf("| `%s` (reference interpreter) | %.1f |\n", filters[2], ref);
  vs_schema_free(s);
  free(d.age);
  free(d.color_off);
  free(d.meta_off);
  free(d.color_bytes);
  free(d.meta_bytes);
  return 0;
}
