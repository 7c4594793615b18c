/* query_api.c - the public face of the EQL engine (modus_query_*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../decode/event.h"
#include "eql_query.h"

struct modus_query_run {
    eql_runtime *rt;
};

/* fields the runtime reads besides the query's own */
static const char *const runtime_fields[] = {"event.category",
                                             "event_type",
                                             "@timestamp",
                                             "timestamp",
                                             "process.entity_id",
                                             "process.pid",
                                             "pid",
                                             "unique_pid",
                                             "process.parent.entity_id",
                                             "process.parent.pid",
                                             "ppid",
                                             "unique_ppid",
                                             "opcode",
                                             "event.type",
                                             NULL};

modus_status modus_query_compile(const char *text, size_t len, modus_query **out, modus_diag *diag)
{
    *out = NULL;
    modus_query *mq = calloc(1, sizeof *mq);
    if (!mq) return MODUS_ENOMEM;
    arena_init(&mq->a, 4096);
    eql_error err;
    mq->q = eql_compile(&mq->a, text, len, &err);
    if (!mq->q) {
        if (diag) {
            memset(diag, 0, sizeof *diag);
            diag->line = err.line;
            diag->column = err.col;
            snprintf(diag->message, sizeof diag->message, "%s", err.msg);
        }
        modus_query_destroy(mq);
        return MODUS_EPARSE;
    }
    *out = mq;
    return MODUS_OK;
}

void modus_query_destroy(modus_query *q)
{
    if (!q) return;
    eql_query_free(q->q);
    arena_free(&q->a);
    free(q);
}

bool query_want(const modus_query *q, mj_want *w)
{
    for (uint32_t i = 0; i < q->q->nfields; i++)
        if (!mj_want_add(w, q->q->fields[i])) return false;
    for (int i = 0; runtime_fields[i]; i++)
        if (!mj_want_add(w, runtime_fields[i])) return false;
    return true;
}

modus_status modus_query_run_create(const modus_query *q, modus_emit_fn emit, void *ctx,
                                    modus_query_run **out)
{
    return query_run_create_shared(q, emit, ctx, NULL, 0, out);
}

modus_status query_run_create_shared(const modus_query *q, modus_emit_fn emit, void *ctx,
                                     eql_procs *procs, uint32_t lin_base, modus_query_run **out)
{
    *out = NULL;
    modus_query_run *r = calloc(1, sizeof *r);
    if (!r) return MODUS_ENOMEM;
    r->rt = eql_runtime_create(q->q, emit, ctx, procs, lin_base);
    if (!r->rt) {
        free(r);
        return MODUS_ENOMEM;
    }
    *out = r;
    return MODUS_OK;
}

void modus_query_run_event(modus_query_run *r, const modus_event *ev)
{
    if (!ev->is_json) return;
    eql_runtime_event(r->rt, &ev->sc->doc, ev->text, ev->len, &ev->sc->scratch, &ev->sc->cur_blob,
                      &ev->sc->cache);
}

bool modus_query_run_done(const modus_query_run *r)
{
    return eql_runtime_done(r->rt);
}

bool modus_query_run_open(const modus_query_run *r)
{
    return eql_runtime_open(r->rt);
}

void modus_query_run_finish(modus_query_run *r)
{
    eql_runtime_finish(r->rt);
}

void modus_query_run_destroy(modus_query_run *r)
{
    if (!r) return;
    eql_runtime_destroy(r->rt);
    free(r);
}
