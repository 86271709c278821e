/*
 * catalog.c -- databases, aliases, load state (being written).
 */
#include <stdlib.h>

#include "server/server.h"

struct srv_catalog {
  srv_server *srv;
};

vs_status srv_catalog_open(srv_server *srv, srv_catalog **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) return VS_ERR_NOMEM;
  (*out)->srv = srv;
  return VS_OK;
}

void srv_catalog_close(srv_catalog *cat) { free(cat); }

bool srv_catalog_ready(srv_catalog *cat) { return cat != NULL; }

bool srv_resolve(srv_request *req, const char *key, bool need_loaded, srv_target *out) {
  (void)key;
  (void)need_loaded;
  (void)out;
  srv_reply_error(req, SRV_CODE_COLLECTION_NOT_FOUND, "not implemented yet");
  return false;
}

vs_db *srv_database(srv_request *req) {
  srv_reply_error(req, SRV_CODE_DATABASE_NOT_FOUND, "not implemented yet");
  return NULL;
}

void srv_catalog_set_loaded(srv_request *req, const char *collection, bool loaded) {
  (void)req;
  (void)collection;
  (void)loaded;
}
