/* store_pg.c - baseline profiles in PostgreSQL, for a fleet.
 *
 * Same schema as SQLite (store.h). Many writers at once: each batch is one
 * transaction of INSERT ... ON CONFLICT DO UPDATE, which PostgreSQL applies
 * atomically per row, so concurrent counts add up; rows are sent in key
 * order (the caller sorts them) so two writers lock rows in the same order,
 * and a deadlock or serialization failure is retried. The schema is created
 * under an advisory lock so that writers starting together do not race.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

typedef struct pg_store {
    bl_store base;
    PGconn *c;
    bool prepared;
} pg_store;

#define PG_LOCK_KEY "700707" /* advisory lock id for schema creation */
#define PG_RETRIES  8

static void pg_msg(pg_store *s, const PGresult *r, modus_diag *d, const char *what)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m) m = PQerrorMessage(s->c);
    snprintf(d->message, sizeof d->message, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
}

static bool pg_ok(PGresult *r)
{
    ExecStatusType t = PQresultStatus(r);
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

static modus_status pg_exec(pg_store *s, const char *sql, modus_diag *d)
{
    PGresult *r = PQexec(s->c, sql);
    modus_status st = MODUS_OK;
    if (!pg_ok(r)) {
        pg_msg(s, r, d, "postgresql");
        st = MODUS_EIO;
    }
    PQclear(r);
    return st;
}

static modus_status pg_query(bl_store *bs, const char *sql, const char *const *params, int np,
                             bl_result_fn fn, void *ctx, modus_diag *d)
{
    pg_store *s = (pg_store *)bs;
    PGresult *r = PQexecParams(s->c, sql, np, NULL, params, NULL, NULL, 0);
    if (!pg_ok(r)) {
        pg_msg(s, r, d, "query");
        PQclear(r);
        return MODUS_EIO;
    }
    int rows = PQntuples(r), nc = PQnfields(r);
    if (nc > 16) nc = 16;
    const char *cols[16];
    for (int i = 0; i < rows && fn; i++) {
        for (int k = 0; k < nc; k++) cols[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
        fn(ctx, cols, nc);
    }
    PQclear(r);
    return MODUS_OK;
}

static modus_status pg_upsert(bl_store *bs, const bl_row *rows, size_t n, modus_diag *d)
{
    pg_store *s = (pg_store *)bs;
    if (!s->prepared) {
        PGresult *r = PQprepare(
            s->c, "bl_up",
            "INSERT INTO modus_baseline_tuple AS t(program,signer,behaviour,modality,shape,host,"
            "seen_count,first_seen,last_seen) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9) "
            "ON CONFLICT(program,signer,behaviour,modality,shape,host) DO UPDATE SET "
            "seen_count=t.seen_count+excluded.seen_count,"
            "first_seen=LEAST(t.first_seen,excluded.first_seen),"
            "last_seen=GREATEST(t.last_seen,excluded.last_seen)",
            9, NULL);
        bool ok = pg_ok(r);
        if (!ok) pg_msg(s, r, d, "prepare");
        PQclear(r);
        if (!ok) return MODUS_EIO;
        s->prepared = true;
    }
    for (int attempt = 0;; attempt++) {
        if (pg_exec(s, "BEGIN", d) != MODUS_OK) return MODUS_EIO;
        bool retry = false, failed = false;
        for (size_t i = 0; i < n; i++) {
            const bl_row *w = &rows[i];
            char cnt[24], fst[24], lst[24];
            snprintf(cnt, sizeof cnt, "%lld", (long long)w->count);
            snprintf(fst, sizeof fst, "%lld", (long long)w->first);
            snprintf(lst, sizeof lst, "%lld", (long long)w->last);
            const char *p[9] = {w->program, w->signer, w->behaviour, w->modality, w->shape,
                                w->host,    cnt,       fst,          lst};
            PGresult *r = PQexecPrepared(s->c, "bl_up", 9, p, NULL, NULL, 0);
            if (!pg_ok(r)) {
                const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                retry = state && (!strcmp(state, "40P01") || !strcmp(state, "40001"));
                pg_msg(s, r, d, "upsert");
                failed = true;
            }
            PQclear(r);
            if (failed) break;
        }
        if (!failed) {
            PGresult *r = PQexec(s->c, "COMMIT");
            if (pg_ok(r)) {
                PQclear(r);
                return MODUS_OK;
            }
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            retry = state && (!strcmp(state, "40P01") || !strcmp(state, "40001"));
            pg_msg(s, r, d, "commit");
            PQclear(r);
        }
        PGresult *r = PQexec(s->c, "ROLLBACK");
        PQclear(r);
        if (!retry || attempt >= PG_RETRIES) return MODUS_EIO;
        usleep(10000u << (attempt < 5 ? attempt : 5));
    }
}

static void pg_close(bl_store *bs)
{
    pg_store *s = (pg_store *)bs;
    if (!s) return;
    PQfinish(s->c);
    free(s);
}

static const bl_store_ops pg_ops = {"postgresql", pg_upsert, pg_query, pg_close};

static void one_text(void *ctx, const char *const *cols, int nc)
{
    char *out = ctx;
    snprintf(out, 64, "%s", nc && cols[0] ? cols[0] : "");
}

modus_status bl_pg_open(const char *url, bool create, bl_store **out, modus_diag *d)
{
    *out = NULL;
    pg_store *s = calloc(1, sizeof *s);
    if (!s) return MODUS_ENOMEM;
    s->base.ops = &pg_ops;
    s->c = PQconnectdb(url);
    if (!s->c || PQstatus(s->c) != CONNECTION_OK) {
        const char *m = s->c ? PQerrorMessage(s->c) : "out of memory";
        snprintf(d->message, sizeof d->message, "cannot connect: %.*s", (int)strcspn(m, "\n"), m);
        pg_close(&s->base);
        return MODUS_EIO;
    }
    pg_exec(s, "SET client_min_messages=warning", d);
    modus_status st = MODUS_EINVAL;
    char have[64] = "";
    if (pg_query(&s->base, "SELECT to_regclass('modus_baseline_meta') IS NOT NULL", NULL, 0,
                 one_text, have, d) != MODUS_OK) {
        st = MODUS_EIO;
        goto fail;
    }
    if (strcmp(have, "t")) {
        if (!create) {
            bl_foreign(d, "no modus_baseline_meta table");
            goto fail;
        }
        if (pg_exec(s, "SELECT pg_advisory_lock(" PG_LOCK_KEY ")", d) != MODUS_OK ||
            pg_exec(s,
                    "CREATE TABLE IF NOT EXISTS modus_baseline_meta(key TEXT PRIMARY KEY, value "
                    "TEXT NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS modus_baseline_tuple(program TEXT NOT NULL, "
                    "signer TEXT NOT NULL, behaviour TEXT NOT NULL, modality TEXT NOT NULL, "
                    "shape TEXT NOT NULL, host TEXT NOT NULL, seen_count BIGINT NOT NULL, "
                    "first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY "
                    "KEY(program,signer,behaviour,modality,shape,host));"
                    "CREATE INDEX IF NOT EXISTS modus_baseline_by_modality ON "
                    "modus_baseline_tuple(program,signer,modality,behaviour);"
                    "INSERT INTO modus_baseline_meta VALUES('format','modus-baseline') ON "
                    "CONFLICT DO NOTHING;"
                    "INSERT INTO modus_baseline_meta VALUES('schema_version','" BL_SCHEMA_VERSION
                    "') ON CONFLICT DO NOTHING;",
                    d) != MODUS_OK) {
            pg_exec(s, "SELECT pg_advisory_unlock(" PG_LOCK_KEY ")", d);
            st = MODUS_EIO;
            goto fail;
        }
        pg_exec(s, "SELECT pg_advisory_unlock(" PG_LOCK_KEY ")", d);
    }
    char fmt[64] = "", ver[64] = "";
    pg_query(&s->base, "SELECT value FROM modus_baseline_meta WHERE key='format'", NULL, 0,
             one_text, fmt, d);
    pg_query(&s->base, "SELECT value FROM modus_baseline_meta WHERE key='schema_version'", NULL, 0,
             one_text, ver, d);
    if (strcmp(fmt, "modus-baseline")) {
        bl_foreign(d, "modus_baseline_meta has no format 'modus-baseline'");
        goto fail;
    }
    if (strcmp(ver, BL_SCHEMA_VERSION)) {
        char why[128];
        snprintf(why, sizeof why, "schema version '%.60s', this modus reads " BL_SCHEMA_VERSION,
                 ver);
        bl_foreign(d, why);
        goto fail;
    }
    d->message[0] = 0;
    *out = &s->base;
    return MODUS_OK;
fail:
    pg_close(&s->base);
    return st;
}
