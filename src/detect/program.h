/* program.h - a rule stage's where clause as a program over the shared
 * predicate table (detect_program.c; the design note is in detect.c). */
#ifndef MODUS_PROGRAM_H
#define MODUS_PROGRAM_H

#include "prefilter.h"

enum { OP_AND, OP_OR, OP_NOT, OP_LEAF, OP_RESID, OP_CONST };

/* One instruction, in prefix order: an operator's operands follow it;
 * `end` is the index after its subtree (short circuits jump there). */
typedef struct pf_ins {
    uint8_t op;
    int8_t val;   /* OP_CONST: -1 null, 0, 1 */
    uint32_t arg; /* OP_LEAF: the leaf */
    uint32_t end;
    const eql_node *node; /* OP_LEAF (fields of other types), OP_RESID: the tree walker's */
} pf_ins;

typedef struct pf_prog {
    pf_ins *v;
    uint32_t n;
    uint32_t nleaf, nresid; /* instructions of each kind */
    const char *resid;      /* what the first residual test is, e.g. "field-to-field" */
} pf_prog;

/* Compile a where clause (NULL: true) into pf's table; the program lives in
 * `a`. Any node compiles: what is not a leaf is a residual, evaluated by
 * the tree walker (eql_eval). False when out of memory. */
bool prog_compile(prefilter *pf, arena *a, const eql_node *where, pf_prog *out);

/* The clause's value for the event ps describes: 1 true, 0 false, -1 null,
 * as cond(eql_eval(c, where)) gives it. c->doc must be ps->doc. */
int prog_run(const pf_prog *p, const prefilter *pf, pf_scratch *ps, eql_ctx *c);

/* Witnesses (as rsigma has them): a necessary condition of a program being
 * true, in conjunctive form over its own instructions - every clause must
 * have a true member. A member is a leaf that is false when its tests do not
 * hold (not negated, not true on a missing field) or a residual the tree
 * walker answers from the event alone (a comparison with a number or a
 * boolean, arraySearch, field-to-field...). `and` keeps the most selective
 * clauses of both sides (up to PF_WCLAUSES), `or` pairs its sides' clauses
 * ((x0 & x1) | (y0 & y1) implies (x0 | y0) & (x1 | y1)), `not` has none.
 * Members are evaluated exactly, so a witness never drops a true clause. */
#define PF_WCLAUSES 3
typedef struct pf_wclause {
    uint32_t *ins; /* instruction indexes */
    uint32_t n;
    double p;    /* expected share of events where some member holds */
    bool walker; /* some member asks the tree walker (checked last) */
} pf_wclause;

/* A witness member as the check reads it, the clauses of a program one
 * after the other in one array (a rule's programs' arrays are allocated
 * together: a rule's check reads a line or two). A leaf's member carries its
 * test field and the candidate bits of its tests (when they fit one word of
 * ps->cand): a leaf whose field is missing, or none of whose tests is a
 * candidate in the event, is false without reading the program or the
 * table; anything else runs its instruction. */
enum { WM_ARR_OK = 1, WM_NEVER = 2 };
typedef struct pf_wm {
    uint64_t mask;  /* the leaf's tests' bits in ps->cand[word] */
    uint32_t word;  /* ... */
    uint32_t field; /* the leaf's test field; UINT32_MAX: run the instruction */
    uint32_t leaf;  /* the leaf (field set) */
    uint32_t ins;   /* the instruction */
    float p;        /* the clause's expected share of events (MODUS_PREFILTER=explain) */
    uint16_t next;  /* the first member of the next clause (the array's length: none) */
    uint8_t flags;  /* WM_ARR_OK: the leaf reads arrays of strings; WM_NEVER: an empty
                       clause (never true) */
} pf_wm;

typedef struct pf_witness {
    const pf_prog *p;
    pf_wm *m; /* the clauses' members */
    uint32_t n;
} pf_witness;

/* The program's witnesses (in `a`); false when it has none (any event may
 * make it true) or out of memory. */
bool prog_witness(const prefilter *pf, arena *a, const pf_prog *p, pf_witness *out);
/* can the program be true on this event (every clause has a member that is)? */
bool prog_witness_holds(const pf_witness *w, const prefilter *pf, pf_scratch *ps, eql_ctx *c);
/* MODUS_PREFILTER=explain: the witnesses as text, on stderr */
void prog_witness_dump(const pf_witness *w, const prefilter *pf, const char *label);

/* MODUS_PREFILTER=explain: the program as text, on stderr */
void prog_dump(const pf_prog *p, const prefilter *pf, const char *label);

#endif
