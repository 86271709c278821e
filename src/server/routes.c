/*
 * routes.c -- the route table of the REST API: every path the server
 * answers, gathered from the per-group tables of the h_*.c files.
 *
 * Milvus serves its v2 API under /v2/vectordb; the Node SDK, given a
 * baseURL without /v2, calls /vectordb/... directly, so both prefixes lead
 * to the same table (MILVUS_REST_V2.md section 11).  Lookup is a linear
 * scan over about sixty entries: a few hundred nanoseconds, far below the
 * JSON parse of any body, so a hash table would buy nothing measurable.
 */
#include <string.h>

#include "server/server.h"

static const srv_route *const groups[] = {
    srv_routes_collections, srv_routes_partitions, srv_routes_indexes,
    srv_routes_aliases,     srv_routes_databases,  srv_routes_entities,
};

#define GROUP_COUNT (sizeof groups / sizeof groups[0])

static const char *strip_prefix(const char *path) {
  static const char *const prefixes[] = {"/v2/vectordb", "/vectordb"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    size_t n = strlen(prefixes[i]);
    if (strncmp(path, prefixes[i], n) == 0 && path[n] == '/') return path + n;
  }
  return NULL;
}

const srv_route *srv_route_find(const char *path) {
  const char *rest = path ? strip_prefix(path) : NULL;
  if (!rest) return NULL;
  for (size_t g = 0; g < GROUP_COUNT; g++) {
    for (const srv_route *r = groups[g]; r->path; r++) {
      if (strcmp(r->path, rest) == 0) return r;
    }
  }
  return NULL;
}

void srv_route_each(void (*fn)(void *ctx, const srv_route *route), void *ctx) {
  for (size_t g = 0; g < GROUP_COUNT; g++) {
    for (const srv_route *r = groups[g]; r->path; r++) fn(ctx, r);
  }
}
