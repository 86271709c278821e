/*
 * cli_demo.c -- `vectorstore demo DIR`: what `make run` runs.  Imports
 * Fashion-MNIST into DIR on the first run, then searches it and prints
 * what a person wants to see: a few hits, the speed, and whether the
 * neighbours make sense.
 *
 * Data: the Debian package dataset-fashion-mnist installs the four IDX files
 * (gzip) in /usr/share/datasets/fashion-mnist (--data overrides the folder):
 *
 *   train-images-idx3-ubyte.gz  magic 0x00000803, 60000 x 28 x 28 uint8
 *   train-labels-idx1-ubyte.gz  magic 0x00000801, 60000 uint8 (0..9)
 *   t10k-images-idx3-ubyte.gz   10000 test images, the queries
 *   t10k-labels-idx1-ubyte.gz   their labels
 *
 * First run: creates collection "fashion_mnist" {id Int64 primary key,
 * vector FloatVector dim rows*cols (784) L2, label Int64}, imports the
 * training images as float vectors (pixel values 0..255) with id = image
 * number, in batches of 1000, streaming from the gzip files (the whole set
 * is never in memory).  Later runs find the collection and only search.
 *
 * Search: the first --queries (100) test images, one vs_search per query,
 * k=10, output field "label".  Prints the hits of the first three queries
 * with their labels and the query's true label, then import rows/s (first
 * run), queries/s, latency p50/p99, and the fraction of all top-k hits whose
 * label equals the query's -- a human sanity figure (about 0.8 for exact L2
 * on raw pixels), not a recall.
 *
 * Invariant: images and labels files must hold the same number of items,
 * and the image size must match the collection's dimension; otherwise the
 * demo stops with an error naming both.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define DEMO_COLLECTION "fashion_mnist"
#define DEMO_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define DEMO_BATCH 1000
#define DEMO_SHOW 3
#define IDX_IMAGES 0x00000803u
#define IDX_LABELS 0x00000801u

typedef struct demo_args {
  const char *dir;
  const char *data_dir;
  const char *fsync_name;
  uint64_t queries;
  uint64_t k;
  vs_fsync_policy fsync;
} demo_args;

typedef struct demo_import {
  uint64_t rows;
  double seconds; /* 0 when the collection already existed */
} demo_import;

typedef struct demo_files {
  char train_images[4096];
  char train_labels[4096];
  char test_images[4096];
  char test_labels[4096];
} demo_files;

typedef struct demo_queries {
  float *vectors;
  int64_t *labels;
  size_t count;
  uint32_t dim;
} demo_queries;

static int find_files(const demo_args *a, demo_files *f) {
  struct {
    char *dst;
    const char *name;
  } list[] = {{f->train_images, "train-images-idx3-ubyte.gz"},
              {f->train_labels, "train-labels-idx1-ubyte.gz"},
              {f->test_images, "t10k-images-idx3-ubyte.gz"},
              {f->test_labels, "t10k-labels-idx1-ubyte.gz"}};
  for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
    int n = snprintf(list[i].dst, sizeof f->train_images, "%s/%s",
                     a->data_dir, list[i].name);
    if (n < 0 || (size_t)n >= sizeof f->train_images) {
      return cli_fail("--data path is too long");
    }
    if (access(list[i].dst, R_OK) != 0) {
      cli_fail("Fashion-MNIST is missing: cannot read %s", list[i].dst);
      fprintf(stderr, "install it with: sudo apt-get install "
                      "dataset-fashion-mnist, or run scripts/install-deps\n");
      return CLI_EXIT_FAIL;
    }
  }
  return 0;
}

/* Opens an images/labels pair and checks that they match. */
static int open_pair(const char *images_path, const char *labels_path,
                     cli_idx *images, cli_idx *labels) {
  int rc = cli_idx_open(images_path, IDX_IMAGES, images);
  if (rc != 0) return rc;
  rc = cli_idx_open(labels_path, IDX_LABELS, labels);
  if (rc != 0) {
    cli_idx_close(images);
    return rc;
  }
  if (images->count != labels->count) {
    cli_idx_close(images);
    cli_idx_close(labels);
    return cli_fail("%s has %u images but %s has %u labels", images_path,
                    images->count, labels_path, labels->count);
  }
  return 0;
}

/* Reads n images as floats and n labels as int64. */
static int read_items(cli_idx *images, cli_idx *labels, size_t n,
                      uint8_t *pixels, float *vectors, int64_t *label_out) {
  uint8_t raw_labels[DEMO_BATCH];
  int rc = cli_idx_read(images, n, pixels);
  if (rc == 0) rc = cli_idx_read(labels, n, raw_labels);
  if (rc != 0) return rc;
  for (size_t i = 0; i < n * images->item_size; i++) {
    vectors[i] = (float)pixels[i];
  }
  for (size_t i = 0; i < n; i++) label_out[i] = raw_labels[i];
  return 0;
}

/* ----------------------------------------------------------------- import */

static int import_batches(vs_db *db, cli_idx *images, cli_idx *labels,
                          const cli_target *t) {
  uint8_t *pixels = malloc((size_t)DEMO_BATCH * images->item_size);
  float *vectors = malloc((size_t)DEMO_BATCH * images->item_size *
                          sizeof *vectors);
  int64_t label_values[DEMO_BATCH];
  int rc = 0;
  cli_progress progress;
  if (pixels == NULL || vectors == NULL) {
    rc = cli_fail("out of memory");
    goto done;
  }
  cli_progress_start(&progress, images->count, "rows");
  for (size_t done = 0; done < images->count && rc == 0;) {
    size_t n = images->count - done;
    if (n > DEMO_BATCH) n = DEMO_BATCH;
    rc = read_items(images, labels, n, pixels, vectors, label_values);
    if (rc != 0) break;
    cli_vector_batch b = {.target = t, .first_id = (int64_t)done, .rows = n,
                          .vectors = vectors, .int_field = "label",
                          .int_values = label_values};
    vs_status st = cli_insert_vectors(db, DEMO_COLLECTION, NULL, &b);
    if (st != VS_OK) {
      rc = cli_fail_status(st, "importing images %zu..%zu", done,
                           done + n - 1);
    }
    done += n;
    cli_progress_update(&progress, done, -1.0);
  }
  cli_progress_finish(&progress);
done:
  free(pixels);
  free(vectors);
  return rc;
}

static int import_dataset(vs_db *db, const demo_files *f, demo_import *imp) {
  cli_idx images, labels;
  cli_target t = {0};
  int rc = open_pair(f->train_images, f->train_labels, &images, &labels);
  if (rc != 0) return rc;
  printf("importing Fashion-MNIST: %u images of dimension %u from %s\n",
         images.count, images.item_size, f->train_images);
  double start = cli_now();
  rc = cli_create_vector_collection(db, DEMO_COLLECTION, images.item_size,
                                    VS_METRIC_L2, "label");
  if (rc == 0) rc = cli_target_resolve(db, DEMO_COLLECTION, NULL, &t);
  if (rc == 0) rc = import_batches(db, &images, &labels, &t);
  if (rc == 0) {
    imp->rows = images.count;
    imp->seconds = cli_now() - start;
    cli_print_import_summary(imp->rows, DEMO_COLLECTION, imp->seconds);
  }
  cli_target_free(&t);
  cli_idx_close(&images);
  cli_idx_close(&labels);
  return rc;
}

static int report_existing(vs_db *db, const demo_files *f) {
  uint64_t rows = 0;
  cli_idx labels;
  vs_status st = vs_count(db, DEMO_COLLECTION, NULL, &rows);
  if (st != VS_OK) return cli_fail_status(st, "counting '%s'", DEMO_COLLECTION);
  printf("using existing collection with %" PRIu64 " rows\n", rows);
  if (cli_idx_open(f->train_labels, IDX_LABELS, &labels) == 0) {
    if (labels.count != rows) {
      printf("note: the dataset has %u rows; an earlier import stopped "
             "early -- remove the data directory to import again\n",
             labels.count);
    }
    cli_idx_close(&labels);
  }
  return 0;
}

/* ----------------------------------------------------------------- search */

static int load_queries(const demo_args *a, const demo_files *f,
                        demo_queries *q) {
  cli_idx images, labels;
  uint8_t *pixels = NULL;
  int rc = open_pair(f->test_images, f->test_labels, &images, &labels);
  if (rc != 0) return rc;
  q->count = images.count < a->queries ? images.count : (size_t)a->queries;
  q->dim = images.item_size;
  pixels = malloc(q->count * q->dim);
  q->vectors = malloc(q->count * q->dim * sizeof *q->vectors);
  q->labels = malloc(q->count * sizeof *q->labels);
  if (pixels == NULL || q->vectors == NULL || q->labels == NULL) {
    rc = cli_fail("out of memory for %zu queries", q->count);
    goto done;
  }
  for (size_t i = 0; i < q->count && rc == 0; i += DEMO_BATCH) {
    size_t n = q->count - i < DEMO_BATCH ? q->count - i : DEMO_BATCH;
    rc = read_items(&images, &labels, n, pixels, q->vectors + i * q->dim,
                    q->labels + i);
  }
done:
  free(pixels);
  cli_idx_close(&images);
  cli_idx_close(&labels);
  return rc;
}

typedef struct demo_stats {
  double *latencies;
  double seconds;
  uint64_t hits;
  uint64_t same_label;
} demo_stats;

static void print_query(const vs_result *res, size_t qi, int64_t label) {
  const vs_rows *rows = vs_result_rows(res);
  printf("query %zu (true label %" PRId64 "):\n", qi, label);
  for (size_t i = 0; i < vs_result_hits(res, 0); i++) {
    int64_t hit_label = -1;
    if (rows != NULL) {
      vs_rows_get_int64(rows, "label", vs_result_row_index(res, 0, i),
                        &hit_label);
    }
    printf("  %2zu. id %-6" PRId64 " distance %-12.6g label %" PRId64 "\n",
           i + 1, vs_result_id(res, 0, i), vs_result_distance(res, 0, i),
           hit_label);
  }
}

static void count_labels(const vs_result *res, int64_t label, demo_stats *s) {
  const vs_rows *rows = vs_result_rows(res);
  for (size_t i = 0; i < vs_result_hits(res, 0); i++) {
    int64_t hit_label = -1;
    s->hits++;
    if (rows != NULL &&
        vs_rows_get_int64(rows, "label", vs_result_row_index(res, 0, i),
                          &hit_label) == VS_OK &&
        hit_label == label) {
      s->same_label++;
    }
  }
}

static int run_search(vs_db *db, const demo_args *a, const cli_target *t,
                      const demo_queries *q, demo_stats *s) {
  const char *outputs[] = {"label"};
  double loop_start = cli_now();
  for (size_t i = 0; i < q->count; i++) {
    vs_search_request req = {.vector_field = t->vector_field,
                             .vectors = q->vectors + i * q->dim,
                             .nq = 1,
                             .dim = q->dim,
                             .k = (uint32_t)a->k,
                             .output_fields = outputs,
                             .output_count = 1};
    vs_result *res = NULL;
    double t0 = cli_now();
    vs_status st = vs_search(db, DEMO_COLLECTION, &req, &res);
    s->latencies[i] = cli_now() - t0;
    if (st != VS_OK) return cli_fail_status(st, "search of query %zu", i);
    if (i < DEMO_SHOW) print_query(res, i, q->labels[i]);
    count_labels(res, q->labels[i], s);
    vs_result_free(res);
  }
  s->seconds = cli_now() - loop_start;
  return 0;
}

static void print_search_summary(const demo_args *a, const demo_queries *q,
                                 demo_stats *s, const demo_import *imp) {
  cli_sort_doubles(s->latencies, q->count);
  if (imp->seconds > 0) {
    printf("import: %" PRIu64 " rows in %.2f s, %.0f rows/s\n", imp->rows,
           imp->seconds, (double)imp->rows / imp->seconds);
  }
  printf("searched %zu queries (k=%" PRIu64 ", exact) in %.3f s: %.1f "
         "queries/s\n",
         q->count, a->k, s->seconds,
         s->seconds > 0 ? (double)q->count / s->seconds : 0.0);
  printf("latency per query: p50 %.3f ms, p99 %.3f ms\n",
         1e3 * cli_quantile(s->latencies, q->count, 0.50),
         1e3 * cli_quantile(s->latencies, q->count, 0.99));
  printf("label agreement: %.3f of the top-%" PRIu64
         " hits share the query's label\n",
         s->hits ? (double)s->same_label / (double)s->hits : 0.0, a->k);
}

static int search_dataset(vs_db *db, const demo_args *a, const demo_files *f,
                          const demo_import *imp) {
  demo_queries q = {0};
  demo_stats s = {0};
  cli_target t = {0};
  int rc = load_queries(a, f, &q);
  if (rc == 0) rc = cli_target_resolve(db, DEMO_COLLECTION, NULL, &t);
  if (rc == 0 && t.dim != q.dim) {
    rc = cli_fail("collection '%s' has dimension %u, the queries %u",
                  DEMO_COLLECTION, t.dim, q.dim);
  }
  if (rc == 0) {
    s.latencies = malloc((q.count ? q.count : 1) * sizeof *s.latencies);
    if (s.latencies == NULL) rc = cli_fail("out of memory");
  }
  if (rc == 0) rc = run_search(db, a, &t, &q, &s);
  if (rc == 0) print_search_summary(a, &q, &s, imp);
  free(s.latencies);
  cli_target_free(&t);
  free(q.vectors);
  free(q.labels);
  return rc;
}

/* ---------------------------------------------------------------- command */

static int demo_main(const demo_args *a) {
  demo_files f;
  demo_import imp = {0};
  vs_db *db = NULL;
  int exists = 0;
  int rc = find_files(a, &f);
  if (rc == 0) rc = cli_open_db(a->dir, a->fsync, 0, 0, &db);
  if (rc == 0) {
    vs_status st = vs_has_collection(db, DEMO_COLLECTION, &exists);
    if (st != VS_OK) rc = cli_fail_status(st, "collection '%s'", DEMO_COLLECTION);
  }
  if (rc == 0) {
    rc = exists ? report_existing(db, &f) : import_dataset(db, &f, &imp);
  }
  if (rc == 0) rc = search_dataset(db, a, &f, &imp);
  if (db != NULL) {
    int closed = cli_close_db(db);
    if (rc == 0) rc = closed;
  }
  return rc;
}

int cli_cmd_demo(const cli_command *cmd, int argc, char **argv) {
  demo_args a = {.data_dir = DEMO_DATA_DIR, .queries = 100, .k = 10};
  cli_option options[] = {
      {"data", CLI_OPT_STRING, &a.data_dir, 0, 0, 0},
      {"queries", CLI_OPT_UINT, &a.queries, 1, 10000, 0},
      {"k", CLI_OPT_UINT, &a.k, 1, VS_MAX_TOPK, 0},
      {"fsync", CLI_OPT_STRING, &a.fsync_name, 0, 0, 0},
      {NULL, CLI_OPT_STRING, NULL, 0, 0, 0}};
  const char *pos[1];
  int npos = 0;
  int rc = cli_parse_args(cmd, argc, argv, options, pos, 1, 1, &npos);
  if (rc != 0) return rc == CLI_EXIT_HELP ? CLI_EXIT_OK : rc;
  a.dir = pos[0];
  rc = cli_parse_fsync(cmd, a.fsync_name, &a.fsync);
  if (rc != 0) return rc;
  return demo_main(&a);
}
