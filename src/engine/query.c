/*
 * query.c -- filtered reads: query, count(*), delete by filter.
 * (Being written; these entry points answer VS_ERR_UNSUPPORTED until then.)
 */
#include "engine/engine_internal.h"

vs_status vs_query(vs_db *db, const char *collection, const vs_query_request *request,
                   vs_rows **out, char **profile_json) {
  VS_UNUSED(db);
  VS_UNUSED(collection);
  VS_UNUSED(request);
  if (out) *out = NULL;
  if (profile_json) *profile_json = NULL;
  return vs_fail(VS_ERR_UNSUPPORTED, "query is not implemented yet");
}

vs_status vs_query_count(vs_db *db, const char *collection, const char *filter,
                         const char *filter_params_json, const char *const *partitions,
                         size_t partition_count, uint64_t *out) {
  VS_UNUSED(db);
  VS_UNUSED(collection);
  VS_UNUSED(filter);
  VS_UNUSED(filter_params_json);
  VS_UNUSED(partitions);
  VS_UNUSED(partition_count);
  if (out) *out = 0;
  return vs_fail(VS_ERR_UNSUPPORTED, "count is not implemented yet");
}

vs_status vs_delete_where(vs_db *db, const char *collection, const char *partition,
                          const char *filter, const char *filter_params_json, uint64_t *deleted) {
  VS_UNUSED(db);
  VS_UNUSED(collection);
  VS_UNUSED(partition);
  VS_UNUSED(filter);
  VS_UNUSED(filter_params_json);
  if (deleted) *deleted = 0;
  return vs_fail(VS_ERR_UNSUPPORTED, "delete by filter is not implemented yet");
}

vs_status vs_hybrid_search(vs_db *db, const char *collection, const vs_hybrid_request *request,
                           vs_result **out) {
  VS_UNUSED(db);
  VS_UNUSED(collection);
  VS_UNUSED(request);
  if (out) *out = NULL;
  return vs_fail(VS_ERR_UNSUPPORTED, "hybrid search is not implemented yet");
}

const char *vs_result_profile(const vs_result *result) {
  VS_UNUSED(result);
  return NULL;
}
