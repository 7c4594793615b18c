/* detect_sample.h - Elasticsearch's samples and missing events (internal;
 * detect_sample.c). The query runtime (detect_query.c) hands these queries
 * over whole: eql_xrt_wants() says which. */
#ifndef MODUS_DETECT_SAMPLE_H
#define MODUS_DETECT_SAMPLE_H

#include "../rules/eql.h"

struct blob;
typedef struct eql_xrt eql_xrt;
/* one result: the events in stage order; the callee takes over the references */
typedef void (*eql_xrt_deliver_fn)(void *ctx, struct blob **ev, uint32_t n);

/* `sample by ...`, or a sequence with missing-event stages (![...]) */
bool eql_xrt_wants(const eql_query *q);
eql_xrt *eql_xrt_create(const eql_query *q, eql_xrt_deliver_fn deliver, void *ctx);
/* does the event match a stage (category and where clause)? the runtime's answer */
typedef bool (*eql_xrt_match_fn)(void *ctx, eql_ctx *c, const eql_stage *st);
/* `slot`: the current event's shared copy (made on first use) */
void eql_xrt_event(eql_xrt *x, eql_ctx *c, const char *text, size_t len, struct blob **slot,
                   eql_xrt_match_fn match, void *match_ctx);
/* end of input: sequences whose trailing missing-event windows are still open match */
void eql_xrt_finish(eql_xrt *x);
bool eql_xrt_open(const eql_xrt *x);
uint64_t eql_xrt_dropped(const eql_xrt *x);
void eql_xrt_destroy(eql_xrt *x);

#endif
