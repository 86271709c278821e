/*
 * h_databases.c -- the /databases/... endpoints (being written).
 */
#include "server/server.h"

const srv_route srv_routes_databases[] = {
    {NULL, NULL, NULL, NULL},
};
