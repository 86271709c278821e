/*
 * h_collections.c -- the /collections/... endpoints (being written).
 */
#include "server/server.h"

const srv_route srv_routes_collections[] = {
    {NULL, NULL, NULL, NULL},
};
