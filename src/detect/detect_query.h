/* detect_query.h - the query runtime (internal; see detect_query.c). */
#ifndef MODUS_DETECT_QUERY_H
#define MODUS_DETECT_QUERY_H

#include "../rules/eql_query.h"

typedef struct eql_runtime eql_runtime;
/* one result: an event, or every event of a sequence, as JSON text */
typedef void (*eql_emit_fn)(void *ctx, const char *const *texts, const size_t *lens, uint32_t n);

typedef struct eql_stats {
    uint64_t events, matches, dropped_partials, expired, dropped_procs;
} eql_stats;

/* Sequence and process-tree state, capped in bytes for all the runtimes of
 * an alerter together: every partial match and process is on one list from
 * the stalest (least recently created, advanced or started) to the newest;
 * past the cap the stalest go (eql_state_trim), counted. */
typedef struct eql_lru {
    struct eql_lru *prev, *next;
    uint32_t kind; /* LRU_PARTIAL, LRU_PROC */
} eql_lru;
typedef struct eql_state {
    eql_lru list; /* sentinel: list.next is the stalest */
    size_t bytes, peak, limit;
    uint64_t evicted_partials, evicted_procs, expired;
} eql_state;
void eql_state_init(eql_state *s, size_t limit);
/* evict the stalest entries until the state fits its cap */
void eql_state_trim(eql_state *s);

/* The process tree that lineage (descendant / child / event of) reads: one
 * per alerter, fed every event (eql_procs_event) before its rules run; each
 * query with lineage owns slots [lin_base, lin_base + nlineage). */
typedef struct eql_procs eql_procs;
eql_procs *eql_procs_create(uint32_t nslots, eql_state *state);
/* Returns the marks (bit per slot) of the event's process and its ancestors:
 * a lineage answer can be true only for those slots, or if the event
 * matches the sub-query itself. */
const uint64_t *eql_procs_event(eql_procs *t, const mj_doc *doc, eql_cache *cache);
void eql_procs_destroy(eql_procs *t);

/* procs NULL: the runtime keeps and feeds a tree of its own. */
/* state NULL: the runtime keeps its own (MODUS_STATE_BYTES). */
eql_runtime *eql_runtime_create(const eql_query *q, eql_emit_fn emit, void *ctx, eql_procs *procs,
                                uint32_t lin_base, eql_state *state);
struct blob;
/* `slot`: where the current event's shared copy is kept (NULL: private). */
void eql_runtime_event(eql_runtime *rt, const mj_doc *doc, const char *text, size_t len,
                       arena *scratch, struct blob **slot, eql_cache *cache);
/* Results buffered by pipes are emitted here. */
void eql_runtime_finish(eql_runtime *rt);
/* No later event can produce output (head reached). */
bool eql_runtime_done(const eql_runtime *rt);
/* Partial matches are open: a later sequence stage or `until` can act. */
bool eql_runtime_open(const eql_runtime *rt);
void eql_runtime_stats(const eql_runtime *rt, eql_stats *out);
void eql_runtime_destroy(eql_runtime *rt);
int64_t eql_event_time(const eql_ctx *c);
/* for detect_sample.c: a stage's join key (> EQL_KEY_MAX when too long) */
#define EQL_KEY_MAX 512
size_t eql_stage_key(eql_ctx *c, const eql_stage *st, char *k);

/* Who decides a stage's where clause (after its category): the alerter's
 * compiled programs; without one, the tree walker. */
typedef bool (*eql_match_fn)(void *ctx, eql_ctx *c, const eql_stage *st);
void query_run_set_match(modus_query_run *r, eql_match_fn fn, void *ctx);

/* the runtime under r: the alerter calls it directly (one pointer less per
 * rule and event) */
eql_runtime *query_run_runtime(const modus_query_run *r);

/* modus_query_run_create on a shared process tree (the alerter's) */
modus_status query_run_create_shared(const modus_query *q, modus_emit_fn emit, void *ctx,
                                     eql_procs *procs, uint32_t lin_base, eql_state *state,
                                     modus_query_run **out);

#endif
