/*
 * render.c -- rows and values to JSON in Milvus's output shapes (spec
 * section 3.3): what query, get and search put in their `data` arrays.
 *
 * One row of a vs_rows becomes one JSON object, column by column:
 *
 *   column type        rendered as
 *   Bool               true / false
 *   Int8/16/32         number
 *   Int64              number, or decimal string when the client sent
 *                      Accept-Type-Allow-Int64: false (section 3.4)
 *   Float              the double nearest to the shortest decimal that
 *                      reads back as the same float32 (0.1f -> 0.1)
 *   Double             number (every double round-trips)
 *   VarChar            string
 *   JSON               the JSON value itself            [3.x shape]
 *   Array              a plain JSON array               [3.x shape]
 *   FloatVector        array of numbers (float32 rule)
 *   "$meta"            its keys spread at the top level (a key that is
 *                      also a column name loses to the column)
 *   null cell          null
 *
 * Choice of shapes.  Section 12 lets the server pick the 2.x forms (JSON as
 * a string holding its text, Array as the protobuf wrapper
 * {"Data":{"LongData":{"data":[..]}}}) or the 3.x native forms.  We emit
 * the 3.x forms, the default of current Milvus
 * (proxy.http.nativeJSONResponse=true, legacyArrayResponse=false): a client
 * reads the values it wrote without a second parse, and the wrapper leaks
 * protobuf names into an API that is otherwise plain JSON.
 *
 * Float32 values.  The envelope is serialised by jansson, which prints
 * every real with %.17g; a float widened to double would come out as
 * 0.10000000149011612.  Milvus (Go) prints the shortest float32 text, 0.1,
 * which a client parses to the double 0.1.  Rendering a float as the double
 * nearest to its shortest decimal text gives the client exactly that
 * value, whatever digits jansson prints.  The shortest text: %.Ng is the
 * correctly rounded N-digit decimal (trailing zeros stripped), the best
 * N-digit candidate, so the shortest N whose %.Ng reads back wins.  Nine
 * digits always read back (subnormals can need as few as one).  That is
 * vs_float_shortest (src/util/float_text.c), which finds the same decimal
 * with a few double operations instead of snprintf and strtof calls.
 *
 * Alternatives rejected: vs_rows_row_to_json + json_loads (text built then
 * parsed again, and Int64 would still need rewriting), and a hand-written
 * serialiser of the whole envelope (http.c owns serialisation).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "util/util.h"

json_t *srv_render_int64(const srv_request *req, int64_t v) {
  if (req->int64_as_number) return json_integer(v);
  char text[24];
  snprintf(text, sizeof text, "%lld", (long long)v);
  return json_string(text);
}

/* The double nearest to the shortest decimal text of f; NaN/Inf -> null
 * (JSON cannot carry them and the engine never stores them).  Also used by
 * h_entities.c for distances (declared there until server.h has it). */
json_t *srv_render_float(float f) {
  return isfinite(f) ? json_real(vs_float_shortest(f)) : json_null();
}

static json_t *render_double(double d) {
  return isfinite(d) ? json_real(d) : json_null();
}

/* A stored JSON text (JSON and Array fields) as a JSON value. */
static json_t *render_json_text(const char *text, size_t len) {
  json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
  return v ? v : json_null();
}

static json_t *render_vector(const vs_rows *rows, const char *name,
                             size_t row) {
  const float *v;
  uint32_t dim;
  if (vs_rows_get_float_vector(rows, name, row, &v, &dim) != VS_OK) {
    return json_null();
  }
  json_t *out = json_array();
  for (uint32_t j = 0; out && j < dim; j++) {
    json_array_append_new(out, srv_render_float(v[j]));
  }
  return out;
}

static json_t *render_integer(const srv_request *req, const vs_rows *rows,
                              const char *name, size_t row, vs_type type) {
  int64_t v = 0;
  vs_rows_get_int64(rows, name, row, &v);
  return type == VS_TYPE_INT64 ? srv_render_int64(req, v) : json_integer(v);
}

/* One cell; `type` is the column's type. */
static json_t *render_cell(const srv_request *req, const vs_rows *rows,
                           const char *name, size_t row, vs_type type) {
  if (vs_rows_is_null(rows, name, row)) return json_null();
  const char *text = NULL;
  size_t len = 0;
  double d = 0;
  int b = 0;
  switch (type) {
    case VS_TYPE_BOOL:
      vs_rows_get_bool(rows, name, row, &b);
      return json_boolean(b);
    case VS_TYPE_FLOAT:
      vs_rows_get_double(rows, name, row, &d);
      return srv_render_float((float)d);
    case VS_TYPE_DOUBLE:
      vs_rows_get_double(rows, name, row, &d);
      return render_double(d);
    case VS_TYPE_VARCHAR:
      vs_rows_get_string(rows, name, row, &text, &len);
      return json_stringn(text ? text : "", len);
    case VS_TYPE_JSON:
    case VS_TYPE_ARRAY:
      vs_rows_get_string(rows, name, row, &text, &len);
      return render_json_text(text ? text : "null", text ? len : 4);
    case VS_TYPE_FLOAT_VECTOR:
      return render_vector(rows, name, row);
    default:
      return render_integer(req, rows, name, row, type);
  }
}

/* Spreads the keys of the row's "$meta" object into obj (columns win). */
static void spread_meta(json_t *obj, const vs_rows *rows, size_t row) {
  const char *text;
  size_t len;
  if (vs_rows_is_null(rows, "$meta", row)) return;
  if (vs_rows_get_string(rows, "$meta", row, &text, &len) != VS_OK) return;
  json_t *meta = json_loadb(text, len, 0, NULL);
  if (json_is_object(meta)) json_object_update_missing(obj, meta);
  json_decref(meta);
}

json_t *srv_render_row(const srv_request *req, const vs_rows *rows,
                       size_t row) {
  json_t *obj = json_object();
  bool has_meta = false;
  size_t columns = vs_rows_column_count(rows);
  for (size_t c = 0; obj && c < columns; c++) {
    const char *name = vs_rows_column_name(rows, c);
    vs_type type = vs_rows_column_type(rows, c);
    if (strcmp(name, "$meta") == 0 && type == VS_TYPE_JSON) {
      has_meta = true;
      continue;
    }
    json_object_set_new(obj, name, render_cell(req, rows, name, row, type));
  }
  if (obj && has_meta) spread_meta(obj, rows, row);
  return obj;
}
