/* baseline.h - libmodus behaviour baselines: learn what each modality
 * normally does, per program and host, and flag what deviates (issue #7).
 *
 * A profile is a table of tuples
 *   (host, program, signer, behaviour class, modality, stack shape)
 * with a count, first and last seen. The fleet view of a tuple aggregates
 * it over hosts (hosts counted distinct). Profiles live in a database:
 * SQLite (a file path) or PostgreSQL (a postgresql:// URL), same schema.
 * src/baseline/baseline.c explains the model; README.md lists the classes.
 *
 * Ownership: modus_baseline_open returns a handle the caller closes with
 * modus_baseline_close (NULL-safe). Strings handed to callbacks and the
 * texts a verdict points to are borrowed until the next call on the handle.
 * A handle is used by one thread at a time. The library never prints.
 */
#ifndef MODUS_BASELINE_H
#define MODUS_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modus/modus.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- behaviour classes -------------------------------------------------- */

/* Field sizes of a tuple (each NUL-terminated, cut to fit). */
#define MODUS_BASELINE_FIELD 512

typedef struct modus_baseline_tuple {
    char host[128];
    char program[MODUS_BASELINE_FIELD];   /* acting executable, path folded */
    char signer[256];                     /* code signature subject, "" when unknown */
    char behaviour[MODUS_BASELINE_FIELD]; /* e.g. "api:VirtualProtect:RWX" */
    char modality[32];
    char shape[MODUS_BASELINE_FIELD]; /* call_stack_summary folded, "-" without a stack */
    int64_t ts_ms;                    /* @timestamp (ms since 1970), 0 when absent */
} modus_baseline_tuple;

/* The tuple of a decoded event. */
void modus_baseline_tuple_of(const modus_event *ev, modus_baseline_tuple *out);

/* Fold the variable parts of a path (user names, SIDs, GUIDs, hex and
 * numeric runs, temp names); Windows paths are lowercased. With
 * MODUS_FOLD_NAME the file name becomes "*" plus its extension. Writes a
 * NUL-terminated result (cut to cap) and returns its length. */
enum { MODUS_FOLD_NAME = 1, MODUS_FOLD_REGISTRY = 2 };
size_t modus_baseline_fold(const char *in, size_t len, unsigned flags, char *out, size_t cap);

/* ---- profiles ------------------------------------------------------------ */

typedef struct modus_baseline modus_baseline;

/* db: a SQLite file path or a postgresql:// URL. create: make the schema
 * if the database is new (learn, merge); otherwise the profile must exist.
 * A file or database that is not a modus profile gives MODUS_EINVAL and
 * diag->message "not a modus baseline database (...)". */
modus_status modus_baseline_open(const char *db, bool create, modus_baseline **out,
                                 modus_diag *diag);
void modus_baseline_close(modus_baseline *b);
/* "sqlite" or "postgresql" */
const char *modus_baseline_backend(const modus_baseline *b);

/* Learning: events are aggregated in a bounded in-memory table, written in
 * one transaction whenever it fills (MODUS_BASELINE_MAX_PENDING) and at
 * modus_baseline_flush. */
modus_status modus_baseline_learn(modus_baseline *b, const modus_event *ev, modus_diag *diag);
modus_status modus_baseline_flush(modus_baseline *b, modus_diag *diag);
/* Tuples written so far (rows upserted over all flushes). */
uint64_t modus_baseline_written(const modus_baseline *b);

/* Merge every row of `from` into `b` (counts summed, first/last widened;
 * rows are per host, so hosts stay distinct). */
modus_status modus_baseline_merge(modus_baseline *b, modus_baseline *from, modus_diag *diag);

/* ---- checking ------------------------------------------------------------- */

typedef enum modus_baseline_scope {
    MODUS_BASELINE_FLEET = 0, /* compare with every host of the profile */
    MODUS_BASELINE_HOST = 1,  /* compare with the event's own host only */
} modus_baseline_scope;

typedef struct modus_baseline_check_opts {
    modus_baseline_scope scope;
    uint64_t rare; /* also deviant: tuples seen at most this often (0: only new ones) */
} modus_baseline_check_opts;

typedef struct modus_baseline_verdict {
    bool deviant;
    const char
        *reason; /* "new-program", "new-behaviour", "new-modality", "new-shape", "rare"; NULL */
    const char *annotated; /* the enriched event with "baseline":{...} spliced in */
    size_t annotated_len;
    const char *alert; /* the alert (SPEC §6 plus baseline.*) when deviant, else NULL */
    size_t alert_len;
} modus_baseline_verdict;

modus_status modus_baseline_check(modus_baseline *b, const modus_event *ev,
                                  const modus_baseline_check_opts *o, modus_baseline_verdict *out,
                                  modus_diag *diag);

/* ---- summaries (show, report) -------------------------------------------- */

typedef struct modus_baseline_totals {
    uint64_t rows, tuples, events, hosts, programs;
} modus_baseline_totals;
modus_status modus_baseline_totals_get(modus_baseline *b, modus_baseline_totals *out,
                                       modus_diag *diag);

/* Per (modality, behaviour family) cell: the family is the behaviour class
 * up to its second ':' ("api:VirtualProtect", "registry:set"). */
typedef struct modus_baseline_cell {
    const char *modality, *family;
    uint64_t events, tuples, rare_tuples; /* rare: seen once on one host */
} modus_baseline_cell;
typedef void (*modus_baseline_cell_fn)(void *ctx, const modus_baseline_cell *c);
modus_status modus_baseline_cells(modus_baseline *b, modus_baseline_cell_fn fn, void *ctx,
                                  modus_diag *diag);

typedef struct modus_baseline_row {
    const char *program, *signer, *behaviour, *modality, *shape;
    uint64_t count, hosts;
    int64_t first_ms, last_ms;
} modus_baseline_row;
typedef void (*modus_baseline_row_fn)(void *ctx, const modus_baseline_row *r);
/* Fleet tuples ordered by count: most frequent (rarest = false) or rarest
 * first; at most `limit`. */
modus_status modus_baseline_top(modus_baseline *b, bool rarest, size_t limit,
                                modus_baseline_row_fn fn, void *ctx, modus_diag *diag);

/* ISO 8601 UTC text of a time in ms ("2020-06-10T02:50:54.631Z"). */
void modus_baseline_iso(int64_t ms, char out[32]);

#ifdef __cplusplus
}
#endif
#endif
