/* prefilter.h - candidate rules for an event (detect_prefilter.c). */
#ifndef MODUS_PREFILTER_H
#define MODUS_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../decode/json.h"
#include "../rules/eql.h"

/* A reference to a rule from an atom; PF_LATE: the atom belongs to a later
 * sequence stage or an `until`, which matters only while the rule has partial
 * matches open. */
#define PF_LATE 0x80000000u
/* the atom belongs to the second of two clauses the rule needs together */
#define PF_SECOND 0x40000000u

#define PF_GROUPS 64
#define PF_SUBS   64

typedef struct pf_refs {
    uint32_t *v;
    uint32_t n, cap;
} pf_refs;

typedef struct pf_exact {
    sv value; /* lower-cased, owned by the prefilter's arena */
    uint32_t hash;
    pf_refs refs;
    pf_refs tests; /* exact tests with this folded value (pf_test indexes) */
} pf_exact;

typedef struct pf_pat {
    sv lit;         /* lower-cased atom */
    uint8_t anchor; /* PF_AT_START / PF_AT_END */
    pf_refs refs;
    pf_refs tests; /* tests this atom is the literal of: verified on a hit */
    uint32_t next; /* next pattern ending in the same automaton state, +1 */
} pf_pat;

/* One test of the shared table: (field, operator, case, value), unique
 * across every loaded rule. A test that holds for the event's value (or an
 * element of it) sets the bits of its leaves. */
enum { PT_EXACT, PT_PREFIX, PT_SUFFIX, PT_CONTAINS, PT_GLOB, PT_REGEX };
typedef struct pf_test {
    uint8_t kind;
    bool ci;
    uint32_t field;  /* prefilter.fields index */
    sv lit;          /* as written, owned by the prefilter's arena */
    const void *pat; /* PT_GLOB: compiled glob; PT_REGEX: the first rule's regex */
    pf_refs leaves;
} pf_test;

/* A leaf: one comparison of one field with literals, shared by every rule
 * that writes it alike; its value for an event is a bit of the predicate
 * bitset, given the field's state (pf_fstate). */
typedef struct pf_leaf {
    uint32_t field;
    bool neg;    /* the value is the negation of "some test holds" (!=, not in) */
    bool arr_ok; /* arrays of strings: any element (comparisons; not functions) */
    int8_t miss; /* the value when the field is missing or null: -1 null, 0, 1 */
} pf_leaf;

/* the state of a field in the current event */
enum { FS_MISSING, FS_STR, FS_STRARR, FS_OTHER };

enum { PF_AT_START = 1, PF_AT_END = 2 };

typedef struct pf_field {
    sv path;
    bool category;  /* event.category, else event_type (as a stage's category) */
    int id;         /* eql_field_intern(path): the per-event field cache */
    uint32_t group; /* prefilter.groups: its first path component, UINT32_MAX none */
    uint32_t rest;  /* where the path after the first component starts, 0 none */
    uint32_t sub;   /* prefilter.subs: its first two components, UINT32_MAX none */
    uint32_t rest2; /* where the path after the second component starts */
    pf_exact *tab;  /* exact values, open addressing */
    size_t n, cap;
    pf_refs exists; /* rules that need the field present (not null) */
    pf_pat *pats;   /* prefixes, suffixes and substrings: one Aho-Corasick automaton */
    uint32_t npats, cappats;
    uint32_t *pat_index; /* pats by (lit, anchor) while building: indexes + 1, open addressing */
    uint32_t pat_icap;
    uint8_t cls[256]; /* byte -> class (both cases alike) */
    uint32_t ncls, nstates;
    uint32_t *next;          /* dense rows: ndense * ncls; entries: target offset | PF_OUT */
    uint32_t ndense, dlim;   /* states with a dense row (the shallowest); dlim = ndense * ncls */
    uint32_t *sp;            /* deeper states, a record each at offset - dlim: its number,
                                its fail state's offset, its n edges' targets (offset |
                                PF_OUT), then their n byte classes, 4 a word */
    uint32_t nsp;            /* words of sp */
    uint32_t *term;          /* per state: first pattern ending there, +1 */
    uint32_t *dict;          /* per state: nearest proper suffix state with patterns, 0 none */
    uint8_t *out;            /* per state: any pattern ends here or in a suffix state */
    uint32_t maxpre, maxsuf; /* longest prefix, suffix pattern */
    bool inner;              /* some pattern is a substring: every byte is scanned */
    pf_refs always;          /* tests without a literal atom: verified on every string */
    uint32_t maxexact;       /* longest exact value: longer values skip the hash */
    void *hs;                /* many substrings: a Vectorscan database of every pattern
                                (id = pats index) instead of the automaton */
    uint32_t link;           /* a prefilter field: the test field of the same path it also
                                matches, +1; a test field: the prefilter field that does, +1 */
} pf_field;

typedef struct pf_lin {
    uint32_t slot; /* in the process tree */
    pf_refs refs;
} pf_lin;

typedef struct prefilter {
    pf_field *fields;  /* the prefilter's atoms: matched on every event */
    pf_field *tfields; /* the tests: a field is matched when a program first reads it */
    size_t ntfields, captfields;
    /* while building: fields, tfields by (path, category), indexes + 1; each
     * test's hash (test_index holds indexes: probes and growth compare these) */
    uint32_t *field_index, *tfield_index, *test_hv;
    uint32_t field_icap, tfield_icap;
    sv tfield_last; /* while building: the path of the last test field looked up */
    uint32_t tfield_last_i;
    pf_lin *lin; /* lineage atoms: rules that may match when a slot marks an ancestor */
    uint32_t nlin;
    size_t nfields, capfields;
    arena strings;
    size_t nrules, nwords;
    uint64_t *always;           /* rules with no derived condition: every event */
    uint64_t *late_always;      /* sequences whose later stage has none: every event while open */
    uint64_t *has2, *late_has2; /* conditions of two clauses: both must hold */
    const char **why;           /* per rule: why it defeats the prefilter, or NULL */
    int cat_id, etype_id;       /* event.category, event_type in the field cache */
    sv groups[PF_GROUPS];       /* the fields' first path components */
    uint32_t ngroups;
    uint8_t group_tab[PF_GROUPS * 2]; /* hash of the heads: group + 1 */
    struct {
        uint32_t group;
        sv name;
    } subs[PF_SUBS]; /* second components under a group ("Ext" of "process.Ext.x") */
    uint32_t nsubs;
    bool off;
    pf_test *tests; /* the shared table */
    uint32_t ntests, captests;
    pf_leaf *leaves;
    uint32_t nleaves, capleaves;
    const eql_node **resids; /* residuals the walker answers from the event alone, unique */
    uint32_t *resid_hash;    /* ... across rules: each evaluated once per event */
    uint32_t nresids, capresids;
    uint32_t *test_index, *leaf_index; /* while building: hashes of tests, leaves (+1) */
    uint32_t test_icap, leaf_icap;
} prefilter;

/* Per event, per alerter (thread): the candidate tests and what they were
 * computed from. Sized by pf_scratch_init after prefilter_build. A test is
 * a candidate when its atom hit, its exact value is the field's, or it has
 * no atom; a leaf a program reads is false (true, negated) unless one of its
 * tests is a candidate that holds: candidates are verified, each once per
 * event. (Leaves have no bits of their own: a value sets ~100 tests, whose
 * ~250 leaves programs mostly never read.) */
typedef struct pf_scratch {
    uint8_t *fstate; /* per field: FS_* */
    uint32_t *fnode; /* per field: its node in the event */
    uint64_t *cand;  /* bit per test: a candidate in this event (cleared per event: a
                        bitset stays in the L1 cache, stamps per test did not) */
    uint64_t *done;  /* bit per test: verified in this event ... */
    uint64_t *holds; /* ... with this answer */
    uint32_t *rdone; /* per shared residual: == tick when evaluated in this event ... */
    int8_t *rval;    /* ... with this value (-1 null, 0, 1) */
    uint32_t tick;
    const mj_doc *doc; /* the event the bits describe */
    void *hs;          /* Vectorscan scratch for every database of the table */
    /* the value cache (detect_prefilter.c): what a string of a field
     * matched, replayed when the same string comes again */
    struct pf_vent **vc;            /* PF_VC_SLOTS entries, direct-mapped */
    size_t vc_bytes, vc_cap;        /* held by the entries; emptied past vc_cap */
    uint32_t *vt, *vl, vtick;       /* per test, per leaf: stamps while flattening */
    uint32_t *vseen;                /* hashes of strings seen once */
    uint32_t *vbuf, nvbuf, capvbuf; /* the flattened record */
    const void **vrec;              /* pf_refs hit while recording ... */
    uint32_t nvrec, capvrec;        /* ... tagged in bit 0: tests, not refs */
    uint64_t vc_hits, vc_misses, vc_flushes;
    uint32_t vgen;   /* entries made so far: an entry's generation */
    struct pf_vref { /* per test field: the entry of its value in this event */
        uint32_t slot, gen, tick;
    } * vref;
} pf_scratch;

/* off: every rule runs on every event (MODUS_PREFILTER=off, to check it). */
bool prefilter_init(prefilter *pf, size_t nrules, bool off);
/* Index a rule: a necessary condition derived from its where clauses. */
bool prefilter_add(prefilter *pf, const eql_query *q, size_t rule, uint32_t lin_base);
/* After the last prefilter_add: build the automata. */
bool prefilter_build(prefilter *pf);
/* Set the bits of the rules the event may match in cand (all stages) and
 * late (later sequence stages only); both 2 * nwords long (the first nwords
 * are the answer, the rest scratch), cleared by the caller.
 * anc: the lineage slots that mark the event's process or an ancestor;
 * cache: the event's field cache (eql.h), may be NULL. */
void prefilter_event(const prefilter *pf, const mj_doc *d, eql_cache *cache, const uint64_t *anc,
                     uint64_t *cand, uint64_t *late, pf_scratch *ps);
void prefilter_free(prefilter *pf);

/* the value cache's bytes per alerter (a pool of N threads gives each 1/N) */
#define PF_VC_BYTES (2u << 20)
bool pf_scratch_init(const prefilter *pf, pf_scratch *ps);
/* --profile: the value cache's hits and misses so far */
void pf_scratch_stats(const pf_scratch *ps, uint64_t *hits, uint64_t *misses, uint64_t *flushes);
void pf_scratch_free(pf_scratch *ps);

/* ---- the shared table's entries (detect_program.c builds them) ---------- */

/* The test (field, kind, ci, lit), added once: its index, or UINT32_MAX
 * when out of memory. `pat`: PT_REGEX's compiled regex, PT_GLOB's compiled
 * pattern (eql_glob_compile with this ci) or NULL. The field and the
 * literal are not copied: they are a rule's AST's, which the alerter
 * outlives (the programs' leaves point at its nodes). */
uint32_t pf_test_add(prefilter *pf, sv field, uint8_t kind, bool ci, sv lit, const void *pat);
/* The leaf on `field` over `tests` (sorted, unique), added once. */
uint32_t pf_leaf_add(prefilter *pf, sv field, const uint32_t *tests, uint32_t ntests, bool neg,
                     bool arr_ok, int8_t miss, uint8_t op);
/* does test t hold for s? (the same answer as the rule's own evaluation) */
bool pf_test_holds(const pf_test *t, const char *s, size_t n);
/* the state of test field tf in the current event (FS_*): looked up and
 * matched against all its tests on the first call for the event */
uint8_t pf_field_state(const prefilter *pf, pf_scratch *ps, const eql_ctx *c, uint32_t tf);
/* test ti of test field tf held (r) for the field's string in this event:
 * kept with the string in the value cache, answered from it next time */
void pf_vc_learn(const prefilter *pf, pf_scratch *ps, uint32_t tf, uint32_t ti, bool r);
/* the tests of leaf i */
const uint32_t *pf_leaf_tests(const prefilter *pf, uint32_t i, uint32_t *n);

#endif
