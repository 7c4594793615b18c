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

/* MODUS_PREFILTER=explain: the program as text, on stderr */
void prog_dump(const pf_prog *p, const prefilter *pf, const char *label);

#endif
