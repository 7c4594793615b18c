/* prefilter.h - candidate rules for an event (out_prefilter.c). */
#ifndef MODUS_PREFILTER_H
#define MODUS_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "../decode/json.h"
#include "../rules/eql.h"

#define PF_MAX_FIELDS 64

typedef struct pf_entry {
    sv value; /* borrowed from the rule's AST */
    uint32_t hash;
    size_t *rules;
    size_t nrules;
} pf_entry;

typedef struct pf_field {
    sv path;
    pf_entry *tab; /* open addressing */
    size_t n, cap;
} pf_field;

typedef struct prefilter {
    pf_field fields[PF_MAX_FIELDS];
    size_t nfields;
} prefilter;

/* Index a rule; false if it cannot be guarded (it must then see every event
 * of its categories). A partly indexed rule stays harmless: it is run anyway. */
bool prefilter_add(prefilter *pf, const eql_query *q, size_t rule);
typedef void (*pf_fire_fn)(void *ctx, size_t rule);
/* Call fn for every rule whose guard the event satisfies (maybe twice). */
void prefilter_event(prefilter *pf, const mj_doc *d, pf_fire_fn fn, void *ctx);
void prefilter_free(prefilter *pf);

#endif
