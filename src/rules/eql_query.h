/* eql_query.h - the query runtime (internal; see eql_query.c). */
#ifndef MODUS_EQL_QUERY_H
#define MODUS_EQL_QUERY_H

#include "eql.h"

/* the public modus_query: a compiled query and the arena of its AST */
struct modus_query {
    arena a;
    eql_query *q;
};

typedef struct eql_runtime eql_runtime;
/* one result: an event, or every event of a sequence, as JSON text */
typedef void (*eql_emit_fn)(void *ctx, const char *const *texts, const size_t *lens, uint32_t n);

typedef struct eql_stats {
    uint64_t events, matches, dropped_partials, expired, dropped_procs;
} eql_stats;

eql_runtime *eql_runtime_create(const eql_query *q, eql_emit_fn emit, void *ctx);
struct blob;
/* `slot`: where the current event's shared copy is kept (NULL: private). */
void eql_runtime_event(eql_runtime *rt, const mj_doc *doc, const char *text, size_t len,
                       arena *scratch, struct blob **slot, eql_cache *cache);
/* Results buffered by pipes are emitted here. */
void eql_runtime_finish(eql_runtime *rt);
/* No later event can produce output (head reached). */
bool eql_runtime_done(const eql_runtime *rt);
void eql_runtime_stats(const eql_runtime *rt, eql_stats *out);
void eql_runtime_destroy(eql_runtime *rt);
int64_t eql_event_time(const eql_ctx *c);

#endif
