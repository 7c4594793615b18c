/* query_api.c - the public face of the EQL compiler (modus_query_compile);
 * running a query is src/detect/detect_query.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../decode/event.h"
#include "eql_query.h"

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
    return query_compile_in(NULL, text, len, out, diag);
}

modus_status query_compile_in(arena *asts, const char *text, size_t len, modus_query **out,
                              modus_diag *diag)
{
    *out = NULL;
    modus_query *mq = calloc(1, sizeof *mq);
    if (!mq) return MODUS_ENOMEM;
    arena_init(&mq->a, 4096);
    eql_error err;
    mq->q = eql_compile(asts ? asts : &mq->a, text, len, &err);
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
