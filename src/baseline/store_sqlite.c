/* store_sqlite.c - baseline profiles in one SQLite file.
 *
 * WAL journal: a learner killed mid-transaction leaves the last committed
 * batch intact (the WAL is replayed or discarded at the next open), and
 * readers (check, show) never block the writer. synchronous=NORMAL loses at
 * most the last batches on power loss, never consistency. Several writers
 * on one file wait for each other (busy timeout), one transaction at a time.
 * A file that is not SQLite, a damaged one, or a SQLite database without our
 * meta table is refused with "not a modus baseline database (...)".
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

typedef struct sq_store {
    bl_store base;
    sqlite3 *db;
    sqlite3_stmt *up;
} sq_store;

void bl_foreign(modus_diag *d, const char *why)
{
    snprintf(d->message, sizeof d->message, "not a modus baseline database (%s)", why);
}

static modus_status sq_err(sq_store *s, modus_diag *d, const char *what)
{
    int code = sqlite3_extended_errcode(s->db) & 0xff;
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
        char why[200];
        snprintf(why, sizeof why, "%.180s", sqlite3_errmsg(s->db));
        bl_foreign(d, why);
        return MODUS_EINVAL;
    }
    snprintf(d->message, sizeof d->message, "%s: %s", what, sqlite3_errmsg(s->db));
    return MODUS_EIO;
}

static int exec(sq_store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

static modus_status sq_query(bl_store *bs, const char *sql, const char *const *params, int np,
                             bl_result_fn fn, void *ctx, modus_diag *d)
{
    sq_store *s = (sq_store *)bs;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return sq_err(s, d, "query");
    for (int i = 0; i < np; i++) sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
    int rc;
    const char *cols[16];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int nc = sqlite3_column_count(st);
        if (nc > 16) nc = 16;
        for (int i = 0; i < nc; i++) cols[i] = (const char *)sqlite3_column_text(st, i);
        if (fn) fn(ctx, cols, nc);
    }
    modus_status r = rc == SQLITE_DONE ? MODUS_OK : sq_err(s, d, "query");
    sqlite3_finalize(st);
    return r;
}

static modus_status sq_upsert(bl_store *bs, const bl_row *rows, size_t n, modus_diag *d)
{
    sq_store *s = (sq_store *)bs;
    if (!s->up &&
        sqlite3_prepare_v2(
            s->db,
            "INSERT INTO modus_baseline_tuple(program,signer,behaviour,modality,shape,host,"
            "seen_count,first_seen,last_seen) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9) "
            "ON CONFLICT(program,signer,behaviour,modality,shape,host) DO UPDATE SET "
            "seen_count=seen_count+excluded.seen_count,"
            "first_seen=min(first_seen,excluded.first_seen),"
            "last_seen=max(last_seen,excluded.last_seen)",
            -1, &s->up, NULL) != SQLITE_OK)
        return sq_err(s, d, "prepare");
    if (exec(s, "BEGIN IMMEDIATE") != SQLITE_OK) return sq_err(s, d, "begin");
    for (size_t i = 0; i < n; i++) {
        const bl_row *r = &rows[i];
        const char *t[6] = {r->program, r->signer, r->behaviour, r->modality, r->shape, r->host};
        for (int k = 0; k < 6; k++) sqlite3_bind_text(s->up, k + 1, t[k], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s->up, 7, r->count);
        sqlite3_bind_int64(s->up, 8, r->first);
        sqlite3_bind_int64(s->up, 9, r->last);
        int rc = sqlite3_step(s->up);
        sqlite3_reset(s->up);
        if (rc != SQLITE_DONE) {
            modus_status e = sq_err(s, d, "upsert");
            exec(s, "ROLLBACK");
            return e;
        }
    }
    if (exec(s, "COMMIT") != SQLITE_OK) {
        modus_status e = sq_err(s, d, "commit");
        exec(s, "ROLLBACK");
        return e;
    }
    return MODUS_OK;
}

static void sq_close(bl_store *bs)
{
    sq_store *s = (sq_store *)bs;
    if (!s) return;
    sqlite3_finalize(s->up);
    sqlite3_close(s->db);
    free(s);
}

static const bl_store_ops sq_ops = {"sqlite", sq_upsert, sq_query, sq_close};

static void one_text(void *ctx, const char *const *cols, int nc)
{
    char *out = ctx;
    snprintf(out, 64, "%s", nc && cols[0] ? cols[0] : "");
}

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS modus_baseline_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS modus_baseline_tuple(program TEXT NOT NULL, signer TEXT NOT "
    "NULL, behaviour TEXT NOT NULL, modality TEXT NOT NULL, shape TEXT NOT NULL, host TEXT NOT "
    "NULL, seen_count BIGINT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, "
    "PRIMARY KEY(program,signer,behaviour,modality,shape,host));"
    "CREATE INDEX IF NOT EXISTS modus_baseline_by_modality ON "
    "modus_baseline_tuple(program,signer,modality,behaviour);"
    "INSERT INTO modus_baseline_meta VALUES('format','modus-baseline') ON CONFLICT DO NOTHING;"
    "INSERT INTO modus_baseline_meta VALUES('schema_version','" BL_SCHEMA_VERSION
    "') ON CONFLICT DO NOTHING;";

modus_status bl_sqlite_open(const char *path, bool create, bl_store **out, modus_diag *d)
{
    *out = NULL;
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (!exists && !create) {
        snprintf(d->message, sizeof d->message, "no such database file");
        return MODUS_EIO;
    }
    if (exists && S_ISDIR(sb.st_mode)) {
        bl_foreign(d, "a directory");
        return MODUS_EINVAL;
    }
    sq_store *s = calloc(1, sizeof *s);
    if (!s) return MODUS_ENOMEM;
    s->base.ops = &sq_ops;
    /* the profile holds command lines and paths: a new database is created
     * owner-only (SQLite gives its journal and WAL files the same mode) */
    if (!exists && create) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    }
    int fl = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &s->db, fl, NULL) != SQLITE_OK) {
        snprintf(d->message, sizeof d->message, "cannot open: %s",
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sq_close(&s->base);
        return MODUS_EIO;
    }
    sqlite3_busy_timeout(s->db, 30000);
    modus_status st;
    char n[64] = "";
    if (sq_query(&s->base, "SELECT count(*) FROM sqlite_master", NULL, 0, one_text, n, d) !=
        MODUS_OK) {
        st = MODUS_EINVAL;
        if (!strstr(d->message, "not a modus")) {
            char why[200];
            snprintf(why, sizeof why, "%.180s", d->message);
            bl_foreign(d, why);
        }
        goto fail;
    }
    if (!strcmp(n, "0")) {
        if (!create) {
            bl_foreign(d, "an empty database");
            st = MODUS_EINVAL;
            goto fail;
        }
        char mode[64] = "";
        sq_query(&s->base, "PRAGMA journal_mode=WAL", NULL, 0, one_text, mode, d);
        if (exec(s, "BEGIN IMMEDIATE") != SQLITE_OK || exec(s, SCHEMA) != SQLITE_OK ||
            exec(s, "COMMIT") != SQLITE_OK) {
            st = sq_err(s, d, "create schema");
            goto fail;
        }
    }
    exec(s, "PRAGMA synchronous=NORMAL");
    char fmt[64] = "", ver[64] = "";
    if (sq_query(&s->base, "SELECT value FROM modus_baseline_meta WHERE key='format'", NULL, 0,
                 one_text, fmt, d) != MODUS_OK ||
        strcmp(fmt, "modus-baseline")) {
        bl_foreign(d, "no modus_baseline_meta table");
        st = MODUS_EINVAL;
        goto fail;
    }
    sq_query(&s->base, "SELECT value FROM modus_baseline_meta WHERE key='schema_version'", NULL, 0,
             one_text, ver, d);
    if (strcmp(ver, BL_SCHEMA_VERSION)) {
        char why[128];
        snprintf(why, sizeof why, "schema version '%.60s', this modus reads " BL_SCHEMA_VERSION,
                 ver);
        bl_foreign(d, why);
        st = MODUS_EINVAL;
        goto fail;
    }
    d->message[0] = 0;
    *out = &s->base;
    return MODUS_OK;
fail:
    sq_close(&s->base);
    return st;
}
