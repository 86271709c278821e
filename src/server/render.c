/*
 * render.c -- rows and values to JSON (being written).
 */
#include "server/server.h"

json_t *srv_render_row(const srv_request *req, const vs_rows *rows, size_t row) {
  (void)req;
  (void)rows;
  (void)row;
  return json_object();
}

json_t *srv_render_int64(const srv_request *req, int64_t v) {
  if (req->int64_as_number) return json_integer(v);
  return json_sprintf("%lld", (long long)v);
}
