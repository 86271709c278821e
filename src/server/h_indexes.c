/*
 * h_indexes.c -- the /indexes/... endpoints (being written).
 */
#include "server/server.h"

const srv_route srv_routes_indexes[] = {
    {NULL, NULL, NULL, NULL},
};
