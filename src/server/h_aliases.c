/*
 * h_aliases.c -- the /aliases/... endpoints (being written).
 */
#include "server/server.h"

const srv_route srv_routes_aliases[] = {
    {NULL, NULL, NULL, NULL},
};
