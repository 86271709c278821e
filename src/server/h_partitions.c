/*
 * h_partitions.c -- the /partitions/... endpoints (being written).
 */
#include "server/server.h"

const srv_route srv_routes_partitions[] = {
    {NULL, NULL, NULL, NULL},
};
