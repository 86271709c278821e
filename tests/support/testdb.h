/*
 * testdb.h -- a standard test collection whose rows are pure functions of
 * (id, version), so a test can recompute what any row must hold.
 *
 * Schema: id Int64 primary key, vector FloatVector(16, L2), tag
 * VarChar(64) = "id<id>-v<version>", score Double nullable (null for about
 * one row in seven, else a double derived from id and version).
 *
 * Readers return 0 on success and -1 with a message in err[] on any
 * mismatch, so callers can compare one database against several candidate
 * states (the corruption test) or fail at once (the crash test).
 */
#ifndef VS_TESTDB_H
#define VS_TESTDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vectorstore.h"

#define TDB_DIM 16
#define TDB_MAX_BATCH 200

/* The schema above; NULL on failure. */
vs_schema *tdb_schema(void);
void tdb_row_vector(int64_t id, uint32_t ver, float *v);
void tdb_row_tag(int64_t id, uint32_t ver, char *buf, size_t n);
/* false = null. */
bool tdb_row_score(int64_t id, uint32_t ver, double *out);
/* Rows for ids first..first+count-1 (count <= TDB_MAX_BATCH) at version
 * `ver`; NULL on failure. */
vs_rows *tdb_build_rows(int64_t first, uint32_t count, uint32_t ver);
/* Checks row i of a batch (vs_get output with "*") against (id, ver). */
int tdb_check_row(const vs_rows *rows, size_t i, int64_t id, uint32_t ver,
                  char *err, size_t errlen);
/* Reads ids [first, first+count) of `coll` with vs_get: out[i] = version
 * parsed from the tag (the whole row is checked against it) or -1 when
 * absent.  Fails on a duplicate, an id not asked for, or wrong content. */
int tdb_read_versions(vs_db *db, const char *coll, int64_t first,
                      uint32_t count, int32_t *out, char *err, size_t errlen);

#endif /* VS_TESTDB_H */
