/*
 * h_entities.c -- the /entities/... endpoints (being written).
 */
#include "server/server.h"

const srv_route srv_routes_entities[] = {
    {NULL, NULL, NULL, NULL},
};
