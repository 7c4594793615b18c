/* store.h - where baseline profiles live: one small vtable, two backends
 * (store_sqlite.c, store_pg.c) over the same schema and the same SQL text
 * (parameters written $1, $2... in order of first use, which both accept).
 *
 * Schema (schema_version 1):
 *   modus_baseline_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)
 *       format = modus-baseline, schema_version = 1
 *   modus_baseline_tuple(program, signer, behaviour, modality, shape, host TEXT,
 *                        seen_count BIGINT, first_seen BIGINT, last_seen BIGINT,
 *                        PRIMARY KEY (program, signer, behaviour, modality, shape, host))
 *       index (program, signer, modality, behaviour)
 * Times are ms since 1970 (UTC). Rows are per host: the fleet view is the
 * sum over hosts, and the number of rows is the number of distinct hosts.
 */
#ifndef MODUS_BASELINE_STORE_H
#define MODUS_BASELINE_STORE_H

#include <stdint.h>

#include "modus/baseline.h"

#define BL_SCHEMA_VERSION "1"

typedef struct bl_row {
    const char *program, *signer, *behaviour, *modality, *shape, *host;
    int64_t count, first, last;
} bl_row;

/* one result row: ncols text columns (NULL for SQL NULL) */
typedef void (*bl_result_fn)(void *ctx, const char *const *cols, int ncols);

typedef struct bl_store bl_store;
typedef struct bl_store_ops {
    const char *name;
    /* upsert rows in one transaction (retried on deadlock) */
    modus_status (*upsert)(bl_store *s, const bl_row *rows, size_t n, modus_diag *d);
    /* run a query with text parameters */
    modus_status (*query)(bl_store *s, const char *sql, const char *const *params, int nparams,
                          bl_result_fn fn, void *ctx, modus_diag *d);
    void (*close)(bl_store *s);
} bl_store_ops;

struct bl_store {
    const bl_store_ops *ops;
};

modus_status bl_sqlite_open(const char *path, bool create, bl_store **out, modus_diag *d);
modus_status bl_pg_open(const char *url, bool create, bl_store **out, modus_diag *d);

/* "not a modus baseline database (why)" in d->message */
void bl_foreign(modus_diag *d, const char *why);

#endif
