/*
 * scalar_index.c -- scalar indexes of sealed segments: INVERTED,
 * STL_SORT and BITMAP (Milvus's names), their type rules, their in-memory
 * structures, and the answers they give to filter leaves.
 *
 * Structures.  A sealed segment's column never changes (deletes are
 * tombstones, folded in by filter.c), so an index is built once from the
 * column view and never maintained:
 *
 *   INVERTED, STL_SORT   the distinct keys, sorted, each with a posting
 *                        list of rows (ascending), all postings in one
 *                        array.  Equality and IN are binary searches; a
 *                        range is a run of keys; `like "p%"` is the run of
 *                        keys that start with p.  The answer costs
 *                        O(log keys + matching rows).
 *   BITMAP               the same sorted distinct keys, each with a bitset
 *                        of the segment's rows; an answer ORs the bitsets
 *                        of the matching keys (words, not rows).  At most
 *                        bitmap_cardinality_limit (default 1024) distinct
 *                        values per segment: above it the build fails and
 *                        describe shows why (INVERTED is the remedy).
 *
 * STL_SORT and INVERTED share one structure here: Milvus's STL_SORT is a
 * sorted (value, row) array and its INVERTED a term dictionary with
 * postings; both answer the same predicates in the same order of cost, so
 * only their type rules differ (STL_SORT: numbers only).
 *
 * Keys compare exactly as the filter evaluator (expr/row.c) does, so the
 * rows an index returns are exactly the rows where the leaf is TRUE:
 * integers against floats exactly (no rounding through double), a Float
 * field against constants rounded to single precision, strings bytewise,
 * booleans only by equality (< on booleans is FALSE for every row).  Null
 * rows are not in an index (a comparison with null is never TRUE).  JSON
 * path indexes hold the values of json_cast_type's JSON kind at the path
 * (numbers for "double", strings for "varchar", booleans for "bool"):
 * values of other kinds never satisfy a comparison with a constant of the
 * indexed kind, so they are rightly absent; a constant of another kind
 * makes the leaf unanswerable and the filter is evaluated instead.
 *
 * Memory: 40 bytes per distinct key plus 4 per row (sorted kinds) or
 * rows/8 per key (BITMAP); measured in docs/indexes.md.
 *
 * Rejected: index files on disk.  Building from the mapped column takes
 * about the time of reading it (docs/indexes.md has the figure for 1M
 * rows), the builder does it in the background after open, and until it
 * has, filters are evaluated -- always correct, only slower.  Files would
 * add a format, orphans and a version history for little gain.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "engine/engine_internal.h"
#include "expr/indexable.h"

#define DEFAULT_BITMAP_LIMIT 1024u
#define MAX_BITMAP_LIMIT 65536u

typedef enum key_kind { K_INT, K_FLOAT, K_STR, K_BOOL } key_kind;

typedef struct skey {
  int64_t i;
  double f;
  const char *s;
  uint32_t slen;
  uint8_t kind;
  bool b;
} skey;

struct vs_scalar_index {
  vs_scalar_kind kind;
  size_t rows;             /* rows of the segment */
  size_t nkeys;
  skey *keys;              /* sorted, distinct */
  uint32_t *post_off;      /* sorted kinds: nkeys + 1 */
  uint32_t *post_rows;
  uint64_t *bitmaps;       /* BITMAP: nkeys x words */
  size_t words;
  char *strings;           /* the keys' string bytes */
  size_t memory;
};

/* ------------------------------------------------------------ type rules */

static const char *const kind_names[] = {"NONE", "INVERTED", "STL_SORT", "BITMAP"};

const char *vs_scalar_kind_name(vs_scalar_kind kind) {
  return (unsigned)kind <= VS_SCALAR_BITMAP ? kind_names[kind] : "NONE";
}

bool vs_scalar_type_name(const char *name) {
  return name && (strcasecmp(name, "INVERTED") == 0 || strcasecmp(name, "STL_SORT") == 0 ||
                  strcasecmp(name, "BITMAP") == 0);
}

static bool is_int_type(vs_type t) {
  return t == VS_TYPE_INT8 || t == VS_TYPE_INT16 || t == VS_TYPE_INT32 || t == VS_TYPE_INT64;
}

static bool is_numeric_type(vs_type t) { return is_int_type(t) || t == VS_TYPE_FLOAT || t == VS_TYPE_DOUBLE; }

/*
 * AUTOINDEX on a scalar field picks by type, at definition time (no data
 * is needed, and the choice is stable):
 *   Bool                   BITMAP   two values: one bitset each, answers
 *                                   are word-wise ORs
 *   Int8..Int64, Float,    STL_SORT ranges are the common numeric
 *   Double                          predicate; a sorted run answers them
 *   VarChar                INVERTED equality, IN and prefix like over
 *                                   keys of any cardinality
 *   JSON (with json_path)  INVERTED the only kind that takes a path
 */
static vs_scalar_kind auto_kind(vs_type t) {
  if (t == VS_TYPE_BOOL) return VS_SCALAR_BITMAP;
  if (is_numeric_type(t)) return VS_SCALAR_STL_SORT;
  return VS_SCALAR_INVERTED;
}

static vs_status check_kind(const vs_field *f, vs_scalar_kind kind) {
  vs_type t = f->type;
  const char *why = NULL;
  if (t == VS_TYPE_FLOAT_VECTOR || t == VS_TYPE_ARRAY) {
    why = "only Bool, Int8..Int64, Float, Double, VarChar and JSON (with json_path) fields take scalar indexes";
  } else if (kind == VS_SCALAR_STL_SORT && !is_numeric_type(t)) {
    why = "STL_SORT needs a numeric field (Int8..Int64, Float, Double)";
  } else if (kind == VS_SCALAR_BITMAP && !(t == VS_TYPE_BOOL || is_int_type(t) || t == VS_TYPE_VARCHAR)) {
    why = "BITMAP needs a Bool, Int8..Int64 or VarChar field (use STL_SORT or INVERTED)";
  }
  if (!why) return VS_OK;
  return vs_fail(VS_ERR_INVALID, "cannot create a %s index on field '%s' of type %s: %s", vs_scalar_kind_name(kind),
                 f->name, vs_type_name(t), why);
}

/* ------------------------------------------------------------ json_path */

/* Parses `name["key"][3]...` for field `f` into def->steps. */
static vs_status parse_json_path(const vs_field *f, const char *path, vs_scalar_def *def) {
  size_t nlen = strlen(f->name), len = strlen(path);
  const char *bad = NULL;
  if (strncmp(path, f->name, nlen) != 0) bad = "it must start with the field name";
  def->keys = vs_calloc(len + 1, 1);
  def->steps = vs_calloc(len / 3 + 1, sizeof *def->steps);
  if (!def->keys || !def->steps) return vs_fail(VS_ERR_NOMEM, "out of memory");
  size_t i = nlen, k = 0;
  while (!bad && i < len) {
    struct vs_ixstep *s = &def->steps[def->nsteps];
    if (path[i] != '[') {
      bad = "expected [";
    } else if (path[i + 1] == '"') {
      s->key = def->keys + k;
      for (i += 2; i < len && path[i] != '"'; i++) {
        if (path[i] == '\\' && i + 1 < len) i++;
        def->keys[k++] = path[i];
      }
      s->key_len = (size_t)(def->keys + k - s->key);
      k++;
      if (i + 1 >= len || path[i + 1] != ']') bad = "unterminated [\"key\"]";
      i += 2;
      def->nsteps++;
    } else {
      char *end = NULL;
      long long v = strtoll(path + i + 1, &end, 10);
      if (end == path + i + 1 || *end != ']' || v < 0) bad = "expected [\"key\"] or [index]";
      s->is_index = true;
      s->index = v;
      i = end ? (size_t)(end - path) + 1 : len;
      def->nsteps++;
    }
  }
  if (!bad) return VS_OK;
  return vs_fail(VS_ERR_INVALID, "bad json_path '%s' for field '%s': %s (e.g. %s[\"a\"][\"b\"])", path, f->name,
                 bad, f->name);
}

static vs_status parse_cast(const char *name, vs_json_cast *out) {
  if (name && strcasecmp(name, "double") == 0) *out = VS_CAST_DOUBLE;
  else if (name && strcasecmp(name, "varchar") == 0) *out = VS_CAST_VARCHAR;
  else if (name && strcasecmp(name, "bool") == 0) *out = VS_CAST_BOOL;
  else return vs_fail(VS_ERR_INVALID, "json_cast_type must be \"double\", \"varchar\" or \"bool\"");
  return VS_OK;
}

static json_t *param_of(json_t *root, const char *key) {
  json_t *v = json_object_get(root, key);
  json_t *nested = json_object_get(root, "params");
  if (!v && json_is_object(nested)) v = json_object_get(nested, key);
  return v;
}

static vs_status parse_json_params(const vs_field *f, json_t *root, vs_scalar_def *out) {
  json_t *path = param_of(root, "json_path");
  json_t *cast = param_of(root, "json_cast_type");
  if (f->type != VS_TYPE_JSON) {
    if (path || cast) return vs_fail(VS_ERR_INVALID, "json_path and json_cast_type apply to JSON fields only");
    return VS_OK;
  }
  if (!json_is_string(path) || !json_is_string(cast)) {
    return vs_fail(VS_ERR_INVALID, "an index on JSON field '%s' needs params json_path (e.g. %s[\"key\"]) and "
                   "json_cast_type (\"double\", \"varchar\" or \"bool\")", f->name, f->name);
  }
  vs_status st = parse_cast(json_string_value(cast), &out->cast);
  if (st == VS_OK) st = parse_json_path(f, json_string_value(path), out);
  if (st == VS_OK) out->json_path = vs_strdup(json_string_value(path));
  if (st == VS_OK && !out->json_path) st = vs_fail(VS_ERR_NOMEM, "out of memory");
  return st;
}

static vs_status parse_limit(json_t *root, vs_scalar_def *out) {
  json_t *v = param_of(root, "bitmap_cardinality_limit");
  out->bitmap_limit = DEFAULT_BITMAP_LIMIT;
  if (!v) return VS_OK;
  json_int_t n = json_is_integer(v) ? json_integer_value(v) : (json_is_string(v) ? atoll(json_string_value(v)) : 0);
  if (n < 1 || n > MAX_BITMAP_LIMIT) {
    return vs_fail(VS_ERR_INVALID, "bitmap_cardinality_limit must be an integer in 1..%u", MAX_BITMAP_LIMIT);
  }
  out->bitmap_limit = (uint32_t)n;
  return VS_OK;
}

static bool vector_type_name(const char *name) {
  static const char *const names[] = {"FLAT", "HNSW", "HNSW_SQ8", "IVF_FLAT", "IVF_SQ8", "IVF_PQ"};
  for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++) {
    if (strcasecmp(name, names[i]) == 0) return true;
  }
  return false;
}

vs_status vs_scalar_def_parse(const vs_field *f, const char *type_name, const char *params_json,
                              vs_scalar_def *out) {
  json_error_t err;
  memset(out, 0, sizeof *out);
  if (type_name && strcasecmp(type_name, "AUTOINDEX") == 0) out->kind = auto_kind(f->type);
  else if (type_name && strcasecmp(type_name, "INVERTED") == 0) out->kind = VS_SCALAR_INVERTED;
  else if (type_name && strcasecmp(type_name, "STL_SORT") == 0) out->kind = VS_SCALAR_STL_SORT;
  else if (type_name && strcasecmp(type_name, "BITMAP") == 0) out->kind = VS_SCALAR_BITMAP;
  else if (vector_type_name(type_name)) {
    return vs_fail(VS_ERR_UNSUPPORTED, "index type %s is for vector fields; field '%s' is %s (scalar indexes: "
                   "INVERTED, STL_SORT, BITMAP, AUTOINDEX)", type_name, f->name, vs_type_name(f->type));
  } else {
    return vs_fail(VS_ERR_INVALID, "unknown index type '%s' for scalar field '%s' (INVERTED, STL_SORT, BITMAP, "
                   "AUTOINDEX)", type_name ? type_name : "(null)", f->name);
  }
  vs_status st = check_kind(f, out->kind);
  if (st != VS_OK) return st;
  json_t *root = params_json && *params_json ? json_loads(params_json, 0, &err) : json_object();
  if (!json_is_object(root)) st = vs_fail(VS_ERR_INVALID, "index parameters must be a JSON object");
  if (st == VS_OK) st = parse_json_params(f, root, out);
  if (st == VS_OK) st = parse_limit(root, out);
  json_decref(root);
  if (st != VS_OK) vs_scalar_def_free(out);
  return st;
}

void vs_scalar_def_free(vs_scalar_def *def) {
  free(def->json_path);
  free(def->steps);
  free(def->keys);
  memset(def, 0, sizeof *def);
}

/* ------------------------------------------------------------ comparison */

static int cmp_key(const skey *a, const skey *b) {
  if (a->kind == K_STR) {
    size_t n = a->slen < b->slen ? a->slen : b->slen;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return a->slen < b->slen ? -1 : a->slen > b->slen;
  }
  if (a->kind == K_BOOL) return (int)a->b - (int)b->b;
  if (a->kind == K_INT && b->kind == K_INT) return a->i < b->i ? -1 : a->i > b->i;
  if (a->kind == K_INT) return vs_cmp_int_double(a->i, b->f);
  if (b->kind == K_INT) return -vs_cmp_int_double(b->i, a->f);
  return a->f < b->f ? -1 : a->f > b->f;
}

typedef struct pair {
  skey key;
  uint32_t row;
} pair;

static int cmp_pair(const void *x, const void *y) {
  const pair *a = x, *b = y;
  int c = cmp_key(&a->key, &b->key);
  if (c) return c;
  return a->row < b->row ? -1 : a->row > b->row;
}

/* ------------------------------------------------------------ building */

typedef struct builder {
  pair *pairs;
  size_t n;
  char **owned;            /* decoded JSON strings */
  size_t owned_n;
} builder;

static bool fixed_key(const vs_colview *col, size_t row, skey *k) {
  const uint8_t *p = col->fixed;
  switch (col->type) {
    case VS_TYPE_BOOL: k->kind = K_BOOL; k->b = p[row] != 0; return true;
    case VS_TYPE_INT8: k->kind = K_INT; k->i = ((const int8_t *)p)[row]; return true;
    case VS_TYPE_INT16: k->kind = K_INT; k->i = ((const int16_t *)p)[row]; return true;
    case VS_TYPE_INT32: k->kind = K_INT; k->i = ((const int32_t *)p)[row]; return true;
    case VS_TYPE_INT64: k->kind = K_INT; k->i = ((const int64_t *)p)[row]; return true;
    case VS_TYPE_FLOAT: k->kind = K_FLOAT; k->f = ((const float *)p)[row]; return !isnan(k->f);
    case VS_TYPE_DOUBLE: k->kind = K_FLOAT; k->f = ((const double *)p)[row]; return !isnan(k->f);
    default: return false;
  }
}

static bool cast_accepts(vs_json_cast cast, vs_ixval_kind kind) {
  switch (cast) {
    case VS_CAST_DOUBLE: return kind == VS_IXV_INT || kind == VS_IXV_FLOAT;
    case VS_CAST_VARCHAR: return kind == VS_IXV_STRING;
    case VS_CAST_BOOL: return kind == VS_IXV_BOOL;
    default: return false;
  }
}

/* The key of a JSON row at the definition's path; false when absent. */
static bool json_key(builder *b, const vs_scalar_def *def, const char *text, size_t len, skey *k,
                     vs_status *st) {
  vs_ixval v;
  bool escaped = false;
  if (!vs_ixjson_value(text, len, def->steps, def->nsteps, &v, &escaped) || !cast_accepts(def->cast, v.kind)) {
    return false;
  }
  k->kind = v.kind == VS_IXV_INT ? K_INT : v.kind == VS_IXV_FLOAT ? K_FLOAT : v.kind == VS_IXV_BOOL ? K_BOOL : K_STR;
  k->i = v.i;
  k->f = v.f;
  k->b = v.b;
  if (k->kind == K_FLOAT && isnan(k->f)) return false;
  if (k->kind != K_STR) return true;
  if (v.n > UINT32_MAX) return false;
  k->s = v.s;
  k->slen = (uint32_t)v.n;
  if (!escaped) return true;
  char *copy = malloc(v.n + 1);
  if (!copy) {
    *st = vs_fail(VS_ERR_NOMEM, "out of memory building a scalar index");
    return false;
  }
  b->owned[b->owned_n++] = copy;
  k->slen = (uint32_t)vs_ixjson_decode(v.s, v.n, copy);
  k->s = copy;
  return true;
}

/* Collects (key, row) for every row with an indexable value. */
static vs_status collect(builder *b, const vs_scalar_def *def, const vs_colview *col, size_t rows) {
  vs_status st = VS_OK;
  b->pairs = vs_calloc(rows + 1, sizeof *b->pairs);
  if (col->type == VS_TYPE_JSON) b->owned = vs_calloc(rows + 1, sizeof *b->owned);
  if (!b->pairs || (col->type == VS_TYPE_JSON && !b->owned)) {
    return vs_fail(VS_ERR_NOMEM, "out of memory building a scalar index of %zu rows", rows);
  }
  for (size_t r = 0; r < rows && st == VS_OK; r++) {
    skey k;
    memset(&k, 0, sizeof k);
    if (col->valid && !col->valid[r]) continue;
    bool have;
    if (col->type == VS_TYPE_VARCHAR) {
      uint64_t len = col->offsets[r + 1] - col->offsets[r];
      k.kind = K_STR;
      k.s = col->bytes + col->offsets[r];
      k.slen = (uint32_t)len;
      have = len <= UINT32_MAX;
    } else if (col->type == VS_TYPE_JSON) {
      have = json_key(b, def, col->bytes + col->offsets[r], (size_t)(col->offsets[r + 1] - col->offsets[r]), &k, &st);
    } else {
      have = fixed_key(col, r, &k);
    }
    if (have) b->pairs[b->n++] = (pair){k, (uint32_t)r};
  }
  return st;
}

/* Turns sorted pairs into distinct keys with postings; copies strings. */
static vs_status group(builder *b, vs_scalar_index *ix) {
  size_t nkeys = 0, bytes = 0;
  for (size_t i = 0; i < b->n; i++) {
    if (i == 0 || cmp_key(&b->pairs[i - 1].key, &b->pairs[i].key) != 0) {
      nkeys++;
      bytes += b->pairs[i].key.slen;
    }
  }
  ix->keys = vs_calloc(nkeys + 1, sizeof *ix->keys);
  ix->post_off = vs_calloc(nkeys + 1, sizeof *ix->post_off);
  ix->post_rows = vs_calloc(b->n + 1, sizeof *ix->post_rows);
  ix->strings = vs_calloc(bytes + 1, 1);
  if (!ix->keys || !ix->post_off || !ix->post_rows || !ix->strings) {
    return vs_fail(VS_ERR_NOMEM, "out of memory building a scalar index");
  }
  size_t k = 0, at = 0;
  for (size_t i = 0; i < b->n; i++) {
    if (i == 0 || cmp_key(&b->pairs[i - 1].key, &b->pairs[i].key) != 0) {
      skey key = b->pairs[i].key;
      if (key.kind == K_STR) {
        if (key.slen) memcpy(ix->strings + at, key.s, key.slen);
        key.s = ix->strings + at;
        at += key.slen;
      }
      ix->post_off[k] = (uint32_t)i;
      ix->keys[k++] = key;
    }
    ix->post_rows[i] = b->pairs[i].row;
  }
  ix->post_off[k] = (uint32_t)b->n;
  ix->nkeys = nkeys;
  ix->memory = nkeys * (sizeof *ix->keys + sizeof *ix->post_off) + b->n * sizeof *ix->post_rows + bytes;
  return VS_OK;
}

/* BITMAP: postings -> one bitset per key. */
static vs_status to_bitmaps(vs_scalar_index *ix, const vs_scalar_def *def, const vs_field *f, uint64_t segment_id) {
  if (ix->nkeys > def->bitmap_limit) {
    return vs_fail(VS_ERR_LIMIT, "BITMAP index of field '%s': segment %" PRIu64 " has %zu distinct values, more than "
                   "bitmap_cardinality_limit %u (use INVERTED or STL_SORT)", f->name, segment_id, ix->nkeys,
                   def->bitmap_limit);
  }
  ix->words = (ix->rows + 63) / 64;
  ix->bitmaps = vs_calloc(ix->nkeys * ix->words + 1, sizeof *ix->bitmaps);
  if (!ix->bitmaps) return vs_fail(VS_ERR_NOMEM, "out of memory building a BITMAP index");
  for (size_t k = 0; k < ix->nkeys; k++) {
    uint64_t *bits = ix->bitmaps + k * ix->words;
    for (uint32_t p = ix->post_off[k]; p < ix->post_off[k + 1]; p++) {
      bits[ix->post_rows[p] >> 6] |= (uint64_t)1 << (ix->post_rows[p] & 63);
    }
  }
  free(ix->post_rows);
  ix->post_rows = NULL;
  ix->memory = ix->nkeys * (sizeof *ix->keys + ix->words * 8) + ix->rows / 8;
  return VS_OK;
}

vs_status vs_scalar_index_build(const vs_scalar_def *def, const vs_field *f, const vs_colview *col,
                                size_t rows, uint64_t segment_id, vs_scalar_index **out) {
  builder b = {0};
  *out = NULL;
  if (rows >= UINT32_MAX) return vs_fail(VS_ERR_LIMIT, "%zu rows is too many for one scalar index", rows);
  vs_scalar_index *ix = vs_calloc(1, sizeof *ix);
  if (!ix) return vs_fail(VS_ERR_NOMEM, "out of memory");
  ix->kind = def->kind;
  ix->rows = rows;
  vs_status st = collect(&b, def, col, rows);
  if (st == VS_OK) {
    qsort(b.pairs, b.n, sizeof *b.pairs, cmp_pair);
    st = group(&b, ix);
  }
  if (st == VS_OK && def->kind == VS_SCALAR_BITMAP) st = to_bitmaps(ix, def, f, segment_id);
  for (size_t i = 0; i < b.owned_n; i++) free(b.owned[i]);
  free(b.owned);
  free(b.pairs);
  if (st != VS_OK) {
    vs_scalar_index_free(ix);
    return st;
  }
  *out = ix;
  return VS_OK;
}

void vs_scalar_index_free(vs_scalar_index *ix) {
  if (!ix) return;
  free(ix->keys);
  free(ix->post_off);
  free(ix->post_rows);
  free(ix->bitmaps);
  free(ix->strings);
  free(ix);
}

size_t vs_scalar_index_memory(const vs_scalar_index *ix) { return ix ? ix->memory : 0; }
size_t vs_scalar_index_keys(const vs_scalar_index *ix) { return ix ? ix->nkeys : 0; }

/* ------------------------------------------------------------ answering */

/* First key >= v (upper: first key > v). */
static size_t bound(const vs_scalar_index *ix, const skey *v, bool upper) {
  size_t lo = 0, hi = ix->nkeys;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_key(&ix->keys[mid], v);
    if (c < 0 || (upper && c == 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void set_key(const vs_scalar_index *ix, size_t k, vs_bitset *out) {
  if (ix->bitmaps) {
    const uint64_t *bits = ix->bitmaps + k * ix->words;
    for (size_t w = 0; w < ix->words; w++) out->words[w] |= bits[w];
    return;
  }
  for (uint32_t p = ix->post_off[k]; p < ix->post_off[k + 1]; p++) vs_bitset_set(out, ix->post_rows[p]);
}

static void set_keys(const vs_scalar_index *ix, size_t from, size_t to, vs_bitset *out) {
  for (size_t k = from; k < to; k++) set_key(ix, k, out);
}

/* The family of the index's keys: K_INT stands for numbers. */
static key_kind index_family(const vs_field *f, const vs_scalar_index *ix, vs_json_cast cast) {
  if (f->type == VS_TYPE_JSON) return cast == VS_CAST_VARCHAR ? K_STR : cast == VS_CAST_BOOL ? K_BOOL : K_INT;
  if (f->type == VS_TYPE_VARCHAR) return K_STR;
  if (f->type == VS_TYPE_BOOL) return K_BOOL;
  (void)ix;
  return K_INT;
}

/* A constant as a key comparable with the index's; false when its kind
 * differs from the index's family (or it is NaN). */
static bool value_key(const vs_field *f, key_kind family, const vs_ixval *v, skey *k) {
  memset(k, 0, sizeof *k);
  switch (v->kind) {
    case VS_IXV_INT: k->kind = K_INT; k->i = v->i; break;
    case VS_IXV_FLOAT: k->kind = K_FLOAT; k->f = v->f; break;
    case VS_IXV_BOOL: k->kind = K_BOOL; k->b = v->b; break;
    case VS_IXV_STRING:
      if (v->n > UINT32_MAX) return false;
      k->kind = K_STR;
      k->s = v->s;
      k->slen = (uint32_t)v->n;
      break;
  }
  bool numeric = k->kind == K_INT || k->kind == K_FLOAT;
  if (family == K_INT ? !numeric : k->kind != family) return false;
  if (f->type == VS_TYPE_FLOAT && numeric) { /* Milvus compares Float fields in single precision */
    k->f = (double)(float)(k->kind == K_INT ? (double)k->i : k->f);
    k->kind = K_FLOAT;
  }
  return !(k->kind == K_FLOAT && isnan(k->f));
}

static void answer_prefix(const vs_scalar_index *ix, const skey *p, vs_bitset *out) {
  for (size_t k = bound(ix, p, false); k < ix->nkeys; k++) {
    const skey *key = &ix->keys[k];
    if (key->slen < p->slen || (p->slen && memcmp(key->s, p->s, p->slen) != 0)) break;
    /* the match must end on a character boundary, as like.c requires */
    if (key->slen > p->slen && ((unsigned char)key->s[p->slen] & 0xC0) == 0x80) continue;
    set_key(ix, k, out);
  }
}

static void answer_cmp(const vs_scalar_index *ix, vs_ixop op, const skey *v, vs_bitset *out) {
  if (v->kind == K_BOOL && op != VS_IXOP_EQ) return; /* booleans have no order: FALSE everywhere */
  switch (op) {
    case VS_IXOP_EQ: set_keys(ix, bound(ix, v, false), bound(ix, v, true), out); break;
    case VS_IXOP_LT: set_keys(ix, 0, bound(ix, v, false), out); break;
    case VS_IXOP_LE: set_keys(ix, 0, bound(ix, v, true), out); break;
    case VS_IXOP_GT: set_keys(ix, bound(ix, v, true), ix->nkeys, out); break;
    case VS_IXOP_GE: set_keys(ix, bound(ix, v, false), ix->nkeys, out); break;
    default: break;
  }
}

/* lo lo_op x hi_op hi: one run of keys. */
static void answer_range(const vs_scalar_index *ix, const vs_field *f, key_kind family, const struct vs_ixleaf *leaf,
                         vs_bitset *out) {
  skey lo, hi;
  value_key(f, family, &leaf->values[0], &lo);
  value_key(f, family, &leaf->values[1], &hi);
  if (lo.kind == K_BOOL) return; /* booleans have no order */
  size_t from = bound(ix, &lo, leaf->lo_op == VS_IXOP_GT);
  size_t to = bound(ix, &hi, leaf->hi_op == VS_IXOP_LE);
  if (from < to) set_keys(ix, from, to, out);
}

bool vs_scalar_index_answer(const vs_scalar_index *ix, const vs_scalar_def *def, const vs_field *f,
                            const struct vs_ixleaf *leaf, vs_bitset *out) {
  if (f->type == VS_TYPE_JSON ? !vs_ixsteps_equal(leaf->steps, leaf->nsteps, def->steps, def->nsteps)
                              : leaf->nsteps != 0) {
    return false;
  }
  key_kind family = index_family(f, ix, def->cast);
  size_t count = leaf->op == VS_IXOP_IN || leaf->op == VS_IXOP_RANGE ? leaf->count : 1;
  skey k;
  for (size_t i = 0; i < count; i++) {
    if (!value_key(f, family, &leaf->values[i], &k)) return false;
  }
  if (leaf->op == VS_IXOP_PREFIX && family != K_STR) return false;
  if (!out) return true;
  if (leaf->op == VS_IXOP_RANGE) {
    answer_range(ix, f, family, leaf, out);
    return true;
  }
  for (size_t i = 0; i < count; i++) {
    value_key(f, family, &leaf->values[i], &k);
    if (leaf->op == VS_IXOP_PREFIX) answer_prefix(ix, &k, out);
    else answer_cmp(ix, leaf->op == VS_IXOP_IN ? VS_IXOP_EQ : leaf->op, &k, out);
  }
  return true;
}

/* ------------------------------------------------------------ registry */

static size_t built_position(const vs_index_def *d, uint64_t segment_id) {
  size_t lo = 0, hi = d->built_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->built[mid].segment_id < segment_id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

vs_scalar_index *vs_scalar_lookup(const vs_index_def *d, uint64_t segment_id) {
  size_t i = built_position(d, segment_id);
  return i < d->built_count && d->built[i].segment_id == segment_id ? d->built[i].index : NULL;
}

static bool is_sealed(const vs_collection *c, uint64_t segment_id) {
  for (size_t i = 0; i < c->sealed_count; i++) {
    if (c->sealed[i]->id == segment_id) return true;
  }
  return false;
}

/* Drops the indexes of segments compaction removed. */
static void prune(const vs_collection *c, vs_index_def *d) {
  size_t n = 0;
  for (size_t i = 0; i < d->built_count; i++) {
    if (is_sealed(c, d->built[i].segment_id)) {
      d->built[n++] = d->built[i];
    } else {
      vs_scalar_index_free(d->built[i].index);
    }
  }
  d->built_count = n;
}

vs_status vs_scalar_attach(const vs_collection *c, vs_index_def *d, uint64_t segment_id, vs_scalar_index *ix) {
  prune(c, d);
  size_t i = built_position(d, segment_id);
  if (i < d->built_count && d->built[i].segment_id == segment_id) {
    vs_scalar_index_free(d->built[i].index);
    d->built[i].index = ix;
    return VS_OK;
  }
  vs_scalar_built *grown = realloc(d->built, (d->built_count + 1) * sizeof *grown);
  if (!grown) return vs_fail(VS_ERR_NOMEM, "out of memory");
  d->built = grown;
  memmove(&d->built[i + 1], &d->built[i], (d->built_count - i) * sizeof *grown);
  d->built[i] = (vs_scalar_built){segment_id, ix};
  d->built_count++;
  return VS_OK;
}

void vs_scalar_detach_all(vs_index_def *d) {
  for (size_t i = 0; i < d->built_count; i++) vs_scalar_index_free(d->built[i].index);
  free(d->built);
  d->built = NULL;
  d->built_count = 0;
}
