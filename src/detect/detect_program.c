/* detect_program.c - where clauses compiled to programs over the shared
 * predicate table (see the design note in detect.c).
 *
 * A leaf is a comparison of one plain field with literals whose answer for
 * a string (or an array of strings, for comparisons) is "some test holds":
 *   f == "v", f != "v"            exact, case-sensitive (!= negated)
 *   f : ("v", "p*")               exact or wildcard, case-insensitive
 *   f like[~] ..., f regex[~] ...  wildcard (case as written), regex
 *   f in[~] ("a", "b"), not in    exact (not in negated)
 *   startsWith[~], endsWith[~], stringContains[~] (f, "lit"), wildcard[~](f, ...)
 *   f == null, f != null          no test: only the field's state decides
 * Its value for a missing (or null) field is what the tree walker gives for
 * that node on an empty event, computed once here, so every operator's own
 * null rule holds by construction. For a field of any other type (a number,
 * an object, an array with non-strings; an array for functions) the leaf
 * asks the tree walker. Anything else - field-to-field comparisons,
 * arithmetic, other functions, lineage, aliases, literals of other types,
 * and node kinds this file does not know - is a residual: the tree walker
 * evaluates that subtree. `and`, `or`, `not` are instructions with the
 * walker's three-valued logic and short circuits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"

static bool plain(const eql_node *f)
{
    return f && f->kind == N_FIELD && f->var < 0 && f->alias < 0 && f->path_len &&
           !memchr(f->path, '[', f->path_len);
}

static bool str_lit(const eql_node *n)
{
    return n && n->kind == N_LIT && n->val.t == V_STR;
}

static bool wild(const eql_val *v)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (v->s[i] == '*' || v->s[i] == '?') return true;
    return false;
}

static int truth(eql_val v)
{
    return v.t == V_NULL ? -1 : eql_true(v);
}

/* the node's value on an event without its field */
static int8_t missing_value(const eql_node *n)
{
    static const mj_node root = {.type = MJ_OBJECT};
    mj_doc d = {(mj_node *)&root, 1, 1};
    arena scratch;
    arena_init(&scratch, 256);
    eql_ctx c = {&d, &scratch, NULL, NULL, NULL, NULL};
    int8_t r = (int8_t)truth(eql_eval(&c, n));
    arena_free(&scratch);
    return r;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* the leaf of n, or UINT32_MAX when n is not one (or out of memory: the
 * node then stays with the tree walker, which is never wrong) */
static uint32_t leaf_build(prefilter *pf, const eql_node *n, uint32_t *tests)
{
    const eql_node *f = NULL;
    uint32_t nt = 0;
    bool neg = false, arr_ok = true;
    sv path;
    switch (n->kind) {
    case N_EQ:
    case N_NE: {
        const eql_node *x = n->kids[0], *y = n->kids[1];
        if (!plain(x)) {
            const eql_node *t = x;
            x = y;
            y = t;
        }
        if (!plain(x) || y->kind != N_LIT || (y->val.t != V_STR && y->val.t != V_NULL))
            return UINT32_MAX;
        f = x;
        neg = n->kind == N_NE;
        path = (sv){f->path, f->path_len};
        if (y->val.t == V_NULL) {
            arr_ok = false; /* an array may hold a null */
            break;
        }
        tests[nt++] = pf_test_add(pf, path, PT_EXACT, false, (sv){y->val.s, y->val.n}, NULL);
        break;
    }
    case N_COLON:
    case N_LIKE:
    case N_REGEX:
    case N_IN: {
        f = n->kids[0];
        if (!plain(f) || n->nkids < 2) return UINT32_MAX;
        for (uint32_t i = 1; i < n->nkids; i++)
            if (!str_lit(n->kids[i]) || (n->kind == N_REGEX && !n->pat[i])) return UINT32_MAX;
        path = (sv){f->path, f->path_len};
        bool ci = n->kind == N_COLON || n->ci;
        neg = n->kind == N_IN && n->neg;
        for (uint32_t i = 1; i < n->nkids; i++) {
            const eql_val *v = &n->kids[i]->val;
            sv lit = {v->s, v->n};
            if (n->kind == N_REGEX)
                tests[nt++] = pf_test_add(pf, path, PT_REGEX, ci, lit, n->pat[i]);
            else if (n->kind != N_IN && wild(v)) /* the pattern the parser compiled */
                tests[nt++] = pf_test_add(pf, path, PT_GLOB, ci, lit, n->pat[i]);
            else
                tests[nt++] = pf_test_add(pf, path, PT_EXACT, ci, lit, NULL);
        }
        break;
    }
    case N_CALL: {
        const char *name = eql_fn_get(n->fn)->name;
        uint8_t kind = !strcmp(name, "startswith")       ? PT_PREFIX
                       : !strcmp(name, "endswith")       ? PT_SUFFIX
                       : !strcmp(name, "stringcontains") ? PT_CONTAINS
                       : !strcmp(name, "wildcard")       ? PT_GLOB
                                                         : 0xff;
        if (kind == 0xff || n->nkids < 2 || !plain(n->kids[0])) return UINT32_MAX;
        if (kind != PT_GLOB && n->nkids != 2) return UINT32_MAX;
        for (uint32_t i = 1; i < n->nkids; i++)
            if (!str_lit(n->kids[i])) return UINT32_MAX;
        f = n->kids[0];
        path = (sv){f->path, f->path_len};
        arr_ok = false; /* functions take strings: an array gives null */
        for (uint32_t i = 1; i < n->nkids; i++) {
            const eql_val *v = &n->kids[i]->val;
            tests[nt++] = pf_test_add(pf, path, kind, n->ci, (sv){v->s, v->n}, NULL);
        }
        break;
    }
    default: return UINT32_MAX;
    }
    for (uint32_t i = 0; i < nt; i++)
        if (tests[i] == UINT32_MAX) return UINT32_MAX;
    qsort(tests, nt, sizeof *tests, cmp_u32);
    uint32_t u = 0;
    for (uint32_t i = 0; i < nt; i++)
        if (!u || tests[u - 1] != tests[i]) tests[u++] = tests[i];
    /* MODUS_PROGRAMS_FAULT=neg: negation ignored, so that tests/cli/test_rules.sh
     * shows its comparison with the tree walker can fail */
    static int fault = -1;
    if (fault < 0)
        fault = getenv("MODUS_PROGRAMS_FAULT") && !strcmp(getenv("MODUS_PROGRAMS_FAULT"), "neg");
    if (fault) neg = false;
    return pf_leaf_add(pf, path, tests, u, neg, arr_ok, missing_value(n), n->kind);
}

static uint32_t leaf_of(prefilter *pf, const eql_node *n)
{
    uint32_t *tests = malloc(sizeof *tests * (n->nkids + 2));
    if (!tests) return UINT32_MAX;
    uint32_t leaf = leaf_build(pf, n, tests);
    free(tests);
    return leaf;
}

/* what a residual is, for the list of what the tree walker still does */
/* a subtree the tree walker answers from the event alone: no earlier
 * stage's field, no lineage ($variables are arraySearch's own) */
static bool self_contained(const eql_node *n)
{
    if (n->kind == N_LINEAGE || (n->kind == N_FIELD && n->alias >= 0)) return false;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (!self_contained(n->kids[i])) return false;
    return true;
}

/* ---- shared residuals: one evaluation per event for all the rules ----------- */

static bool is_array_search(const eql_node *n)
{
    if (n->kind != N_CALL) return false;
    const char *name = eql_fn_get(n->fn)->name;
    return !strcmp(name, "arraysearch") || !strcmp(name, "_arraysearch");
}

/* no $variable outside the arraySearch that binds it: the value depends on
 * the event alone, never on the caller's bindings */
static bool closed(const eql_node *n)
{
    if (n->kind == N_FIELD && n->var >= 0) return false;
    if (is_array_search(n)) return true;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (!closed(n->kids[i])) return false;
    return true;
}

static uint32_t mix(uint32_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 16777619u;
    return h;
}

static uint32_t node_hash(const eql_node *n)
{
    uint32_t h = mix(2166136261u, &n->kind, 1);
    int fn = n->kind == N_CALL ? n->fn : -1;
    h = mix(h, &fn, sizeof fn);
    if (n->kind == N_FIELD && n->path) h = mix(h, n->path, n->path_len);
    if (n->kind == N_LIT && n->val.t == V_STR) h = mix(h, n->val.s, n->val.n);
    for (uint32_t i = 0; i < n->nkids; i++) h = h * 31 + node_hash(n->kids[i]);
    return h;
}

/* the same subtree, written by another rule */
static bool node_same(const eql_node *x, const eql_node *y)
{
    if (x->kind != y->kind || x->ci != y->ci || x->neg != y->neg || x->optional != y->optional ||
        x->nkids != y->nkids || x->kind == N_LINEAGE)
        return false;
    if (x->kind == N_FIELD &&
        (x->var != y->var || x->alias != y->alias || x->path_len != y->path_len ||
         (x->path_len && memcmp(x->path, y->path, x->path_len))))
        return false;
    if (x->kind == N_CALL && x->fn != y->fn) return false;
    if (x->kind == N_LIT) {
        const eql_val *a = &x->val, *b = &y->val;
        if (a->t != b->t) return false;
        switch (a->t) {
        case V_NULL: break;
        case V_BOOL:
            if (a->b != b->b) return false;
            break;
        case V_INT:
            if (a->i != b->i) return false;
            break;
        case V_DOUBLE:
            if (memcmp(&a->d, &b->d, sizeof a->d)) return false;
            break;
        case V_STR:
            if (a->n != b->n || (a->n && memcmp(a->s, b->s, a->n))) return false;
            break;
        default: return false;
        }
    }
    for (uint32_t i = 0; i < x->nkids; i++)
        if (!node_same(x->kids[i], y->kids[i])) return false;
    return true;
}

/* n's index among the shared residuals, UINT32_MAX when its value depends
 * on more than the event (or out of memory: it is then evaluated each time) */
static uint32_t resid_of(prefilter *pf, const eql_node *n)
{
    if (!self_contained(n) || !closed(n)) return UINT32_MAX;
    uint32_t h = node_hash(n);
    for (uint32_t i = 0; i < pf->nresids; i++)
        if (pf->resid_hash[i] == h && node_same(pf->resids[i], n)) return i;
    if (pf->nresids == pf->capresids) {
        uint32_t cap = pf->capresids ? pf->capresids * 2 : 64;
        const eql_node **r = realloc(pf->resids, sizeof *r * cap);
        if (!r) return UINT32_MAX;
        pf->resids = r;
        uint32_t *hh = realloc(pf->resid_hash, sizeof *hh * cap);
        if (!hh) return UINT32_MAX;
        pf->resid_hash = hh;
        pf->capresids = cap;
    }
    pf->resids[pf->nresids] = n;
    pf->resid_hash[pf->nresids] = h;
    return pf->nresids++;
}

static const char *resid_kind(const eql_node *n)
{
    switch (n->kind) {
    case N_LINEAGE: return "lineage";
    case N_CALL: return eql_fn_get(n->fn)->name;
    case N_ADD:
    case N_SUB:
    case N_MUL:
    case N_DIV:
    case N_MOD:
    case N_NEG: return "arithmetic";
    case N_FIELD: return "a field as a condition";
    case N_LIT: return "a literal as a condition";
    default: break;
    }
    for (uint32_t i = 0; i < n->nkids; i++) {
        const eql_node *k = n->kids[i];
        if (k->kind == N_FIELD && k->alias >= 0) return "an earlier stage's field (alias)";
        if (k->kind == N_FIELD && k->var >= 0) return "a $variable";
    }
    uint32_t fields = 0;
    for (uint32_t i = 0; i < n->nkids; i++) fields += n->kids[i]->kind == N_FIELD;
    if (fields > 1) return "field-to-field";
    for (uint32_t i = 0; i < n->nkids; i++)
        if (n->kids[i]->kind != N_FIELD && n->kids[i]->kind != N_LIT) return "a computed operand";
    return "a comparison with a number or a boolean";
}

typedef struct builder {
    pf_ins *v;
    uint32_t n, cap;
    bool oom;
    pf_prog *p;
} builder;

static uint32_t push(builder *b, uint8_t op)
{
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 16;
        pf_ins *v = realloc(b->v, sizeof *v * cap);
        if (!v) {
            b->oom = true;
            return UINT32_MAX;
        }
        b->v = v;
        b->cap = cap;
    }
    memset(&b->v[b->n], 0, sizeof b->v[b->n]);
    b->v[b->n].op = op;
    return b->n++;
}

static void build(builder *b, prefilter *pf, const eql_node *n)
{
    if (b->oom) return;
    uint32_t at;
    switch (n->kind) {
    case N_AND:
    case N_OR:
    case N_NOT:
        at = push(b, n->kind == N_AND ? OP_AND : n->kind == N_OR ? OP_OR : OP_NOT);
        if (at == UINT32_MAX) return;
        for (uint32_t i = 0; i < (n->kind == N_NOT ? 1u : 2u); i++) build(b, pf, n->kids[i]);
        if (!b->oom) b->v[at].end = b->n;
        return;
    case N_LIT:
        if (n->val.t == V_NULL || n->val.t == V_BOOL) {
            at = push(b, OP_CONST);
            if (at == UINT32_MAX) return;
            b->v[at].val = (int8_t)truth(n->val);
            b->v[at].end = b->n;
            return;
        }
        break;
    default: {
        uint32_t leaf = leaf_of(pf, n);
        if (leaf == UINT32_MAX) break;
        at = push(b, OP_LEAF);
        if (at == UINT32_MAX) return;
        b->v[at].arg = leaf;
        b->v[at].node = n;
        b->v[at].end = b->n;
        b->p->nleaf++;
        return;
    }
    }
    at = push(b, OP_RESID);
    if (at == UINT32_MAX) return;
    b->v[at].node = n;
    b->v[at].arg = resid_of(pf, n);
    b->v[at].end = b->n;
    if (!b->p->nresid++) b->p->resid = resid_kind(n);
}

bool prog_compile(prefilter *pf, arena *a, const eql_node *where, pf_prog *out)
{
    memset(out, 0, sizeof *out);
    builder b = {0};
    b.p = out;
    if (where) {
        build(&b, pf, where);
    } else {
        uint32_t at = push(&b, OP_CONST);
        if (at != UINT32_MAX) {
            b.v[at].val = 1;
            b.v[at].end = 1;
        }
    }
    if (!b.oom) {
        out->v = arena_alloc(a, sizeof *out->v * b.n);
        if (out->v) memcpy(out->v, b.v, sizeof *out->v * b.n);
        out->n = b.n;
    }
    free(b.v);
    return !b.oom && out->v;
}

/* does test t hold for the field's value (a string, or any string of an array)? */
static bool holds(const prefilter *pf, pf_scratch *ps, uint32_t ti, uint32_t field)
{
    if (ps->done[ti >> 6] >> (ti & 63) & 1) return ps->holds[ti >> 6] >> (ti & 63) & 1;
    const pf_test *t = &pf->tests[ti];
    const mj_doc *d = ps->doc;
    uint32_t node = ps->fnode[field];
    bool r = false;
    if (d->nodes[node].type == MJ_STRING) {
        r = pf_test_holds(t, d->nodes[node].v.s, d->nodes[node].len);
    } else {
        for (uint32_t k = d->nodes[node].count ? node + 1 : 0; k && !r; k = d->nodes[k].next)
            if (d->nodes[k].type == MJ_STRING)
                r = pf_test_holds(t, d->nodes[k].v.s, d->nodes[k].len);
    }
    ps->done[ti >> 6] |= 1ull << (ti & 63);
    if (r)
        ps->holds[ti >> 6] |= 1ull << (ti & 63);
    else
        ps->holds[ti >> 6] &= ~(1ull << (ti & 63));
    if (d->nodes[node].type == MJ_STRING) pf_vc_learn(pf, ps, field, ti, r);
    return r;
}

/* some candidate test of the leaf holds */
static int leaf_value(const prefilter *pf, pf_scratch *ps, uint32_t li)
{
    const pf_leaf *l = &pf->leaves[li];
    uint32_t n;
    const uint32_t *t = pf_leaf_tests(pf, li, &n);
    for (uint32_t i = 0; i < n; i++)
        if ((ps->cand[t[i] >> 6] >> (t[i] & 63) & 1) && holds(pf, ps, t[i], l->field))
            return !l->neg;
    return l->neg;
}

static int run(const pf_ins *v, uint32_t i, const prefilter *pf, pf_scratch *ps, eql_ctx *c)
{
    const pf_ins *p = &v[i];
    switch (p->op) {
    case OP_AND: {
        int x = run(v, i + 1, pf, ps, c);
        if (x == 0) return 0;
        int y = run(v, v[i + 1].end, pf, ps, c);
        if (y == 0) return 0;
        return x == 1 && y == 1 ? 1 : -1;
    }
    case OP_OR: {
        int x = run(v, i + 1, pf, ps, c);
        if (x == 1) return 1;
        int y = run(v, v[i + 1].end, pf, ps, c);
        if (y == 1) return 1;
        return x == 0 && y == 0 ? 0 : -1;
    }
    case OP_NOT: {
        int x = run(v, i + 1, pf, ps, c);
        return x < 0 ? -1 : !x;
    }
    case OP_LEAF: {
        const pf_leaf *l = &pf->leaves[p->arg];
        uint8_t st = pf_field_state(pf, ps, c, l->field);
        if (st == FS_MISSING) return l->miss;
        if (st == FS_STR || (st == FS_STRARR && l->arr_ok)) return leaf_value(pf, ps, p->arg);
        return truth(eql_eval(c, p->node));
    }
    case OP_CONST: return p->val;
    default:
        if (p->arg == UINT32_MAX) return truth(eql_eval(c, p->node));
        if (ps->rdone[p->arg] != ps->tick) {
            ps->rval[p->arg] = (int8_t)truth(eql_eval(c, p->node));
            ps->rdone[p->arg] = ps->tick;
        }
        return ps->rval[p->arg];
    }
}

int prog_run(const pf_prog *p, const prefilter *pf, pf_scratch *ps, eql_ctx *c)
{
    return run(p->v, 0, pf, ps, c);
}

void prog_dump(const pf_prog *p, const prefilter *pf, const char *label)
{
    fprintf(stderr, "%s: %u instructions, %u leaves, %u residual%s%s\n", label, p->n, p->nleaf,
            p->nresid, p->nresid ? " (first: " : "", p->nresid ? p->resid : "");
    for (uint32_t i = 0; i < p->n && getenv("MODUS_PREFILTER_FULL"); i++) {
        const pf_ins *x = &p->v[i];
        static const char *const names[] = {"and", "or", "not", "leaf", "resid", "const"};
        fprintf(stderr, "  %3u %-5s", i, names[x->op]);
        if (x->op == OP_LEAF) {
            const pf_leaf *l = &pf->leaves[x->arg];
            const pf_field *f = &pf->tfields[l->field];
            fprintf(stderr, " #%u %.*s%s miss=%d", x->arg, (int)f->path.n, f->path.p,
                    l->neg ? " (negated)" : "", l->miss);
        } else if (x->op == OP_CONST) {
            fprintf(stderr, " %d", x->val);
        } else if (x->op == OP_RESID) {
            fprintf(stderr, " line %u col %u", x->node->line, x->node->col);
        }
        fputc('\n', stderr);
    }
}

/* ---- witnesses ------------------------------------------------------------------ */

#define PF_WMAX 32 /* members of a clause: a wider one is no witness */

typedef struct wform {
    bool top; /* no condition */
    pf_wclause c[PF_WCLAUSES];
    uint32_t nc;
} wform;

static const wform W_TOP = {.top = true};

static bool low_card_field(sv f)
{
    return (f.n >= 6 && !memcmp(f.p, "event.", 6)) || (f.n == 10 && !memcmp(f.p, "event_type", 10));
}

/* guesses, as the prefilter's: an exact value of a name or path is rare, a
 * category or action common, a short or atom-less pattern common */
static double leaf_p(const prefilter *pf, uint32_t li)
{
    const pf_leaf *l = &pf->leaves[li];
    uint32_t n;
    const uint32_t *t = pf_leaf_tests(pf, li, &n);
    double p = 0;
    for (uint32_t i = 0; i < n; i++) {
        const pf_test *x = &pf->tests[t[i]];
        size_t lit = 0, run = 0;
        for (size_t k = 0; k < x->lit.n; k++) { /* the longest literal run */
            run = x->lit.p[k] == '*' || x->lit.p[k] == '?' ? 0 : run + 1;
            if (run > lit) lit = run;
        }
        if (x->kind == PT_EXACT)
            p += 0.005;
        else if (x->kind == PT_REGEX)
            p += 0.3;
        else
            p += lit >= 4 ? 0.02 : 0.5;
    }
    if (!n) p = 0.9;
    if (low_card_field(pf->tfields[l->field].path) && p < 0.2) p = 0.2;
    return p > 1 ? 1 : p;
}

/* field <op> number or boolean: the tree walker answers it cheaply */
static bool simple_cmp(const eql_node *n)
{
    if (n->kind != N_LT && n->kind != N_LE && n->kind != N_GT && n->kind != N_GE && n->kind != N_EQ)
        return false;
    const eql_node *x = n->kids[0], *y = n->kids[1];
    if (!plain(x)) {
        const eql_node *t = x;
        x = y;
        y = t;
    }
    return plain(x) && y->kind == N_LIT &&
           (y->val.t == V_INT || y->val.t == V_DOUBLE || y->val.t == V_BOOL);
}

/* a residual as a witness member: its expected share of events, or 0 when it
 * is none */
static double resid_p(const eql_node *n)
{
    if (!self_contained(n)) return 0;
    if (simple_cmp(n)) return 0.3;
    if (n->kind == N_CALL) {
        const char *name = eql_fn_get(n->fn)->name;
        if (!strcmp(name, "arraysearch") || !strcmp(name, "_arraysearch")) return 0.05;
    }
    return 0.5;
}

static wform one_member(arena *a, uint32_t i, double p, bool walker)
{
    wform w = {0};
    w.c[0].ins = arena_alloc(a, sizeof *w.c[0].ins);
    if (!w.c[0].ins) return W_TOP;
    w.c[0].ins[0] = i;
    w.c[0].n = 1;
    w.c[0].p = p;
    w.c[0].walker = walker;
    w.nc = 1;
    return w;
}

static void sort_clauses(pf_wclause *v, uint32_t n)
{
    for (uint32_t k = 1; k < n; k++) /* by p, the most selective first */
        for (uint32_t j = k; j && v[j].p < v[j - 1].p; j--) {
            pf_wclause t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* x | y as one clause; false when it would be too wide */
static bool clause_or(arena *a, const pf_wclause *x, const pf_wclause *y, pf_wclause *out)
{
    if (x->n + y->n > PF_WMAX) return false;
    out->n = x->n + y->n;
    out->ins = arena_alloc(a, sizeof *out->ins * (out->n ? out->n : 1));
    if (!out->ins) return false;
    if (x->n) memcpy(out->ins, x->ins, sizeof *x->ins * x->n);
    if (y->n) memcpy(out->ins + x->n, y->ins, sizeof *y->ins * y->n);
    out->p = x->p + y->p > 1 ? 1 : x->p + y->p;
    out->walker = x->walker || y->walker;
    return true;
}

static wform witness(const prefilter *pf, arena *a, const pf_ins *v, uint32_t i)
{
    const pf_ins *x = &v[i];
    switch (x->op) {
    case OP_LEAF: {
        const pf_leaf *l = &pf->leaves[x->arg];
        if (l->neg || l->miss == 1) return W_TOP; /* true on most events */
        return one_member(a, i, leaf_p(pf, x->arg), false);
    }
    case OP_RESID: {
        double p = resid_p(x->node);
        return p > 0 ? one_member(a, i, p, true) : W_TOP;
    }
    case OP_CONST: {
        if (x->val == 1) return W_TOP;
        wform w = {0}; /* never true: an empty clause */
        w.nc = 1;
        return w;
    }
    case OP_AND: { /* both hold: every clause of each */
        wform l = witness(pf, a, v, i + 1), r = witness(pf, a, v, v[i + 1].end);
        if (l.top) return r;
        if (r.top) return l;
        pf_wclause all[2 * PF_WCLAUSES];
        uint32_t n = 0;
        for (uint32_t k = 0; k < l.nc; k++) all[n++] = l.c[k];
        for (uint32_t k = 0; k < r.nc; k++) all[n++] = r.c[k];
        sort_clauses(all, n);
        wform w = {0};
        w.nc = n < PF_WCLAUSES ? n : PF_WCLAUSES;
        memcpy(w.c, all, sizeof *all * w.nc);
        return w;
    }
    case OP_OR: { /* (x0 & x1 ...) | (y0 & y1 ...) implies (x0 | y0) & (x1 | y1) ... */
        wform l = witness(pf, a, v, i + 1), r = witness(pf, a, v, v[i + 1].end);
        if (l.top || r.top) return W_TOP;
        wform w = {0};
        uint32_t k = l.nc > r.nc ? l.nc : r.nc;
        for (uint32_t j = 0; j < k; j++) {
            const pf_wclause *cx = &l.c[j < l.nc ? j : l.nc - 1];
            const pf_wclause *cy = &r.c[j < r.nc ? j : r.nc - 1];
            if (clause_or(a, cx, cy, &w.c[w.nc])) w.nc++;
        }
        if (!w.nc) return W_TOP;
        sort_clauses(w.c, w.nc);
        return w;
    }
    default: return W_TOP; /* not: no witness */
    }
}

/* member i (an instruction of v) as the check reads it: a leaf that is
 * false when its field is missing and when none of its tests holds, with
 * its tests in one word of the candidate bits, gets the quick check */
static pf_wm member_of(const prefilter *pf, const pf_ins *v, uint32_t i)
{
    pf_wm m = {0, 0, UINT32_MAX, 0, i, 0, 0, 0};
    if (v[i].op != OP_LEAF) return m;
    const pf_leaf *l = &pf->leaves[v[i].arg];
    if (l->neg || l->miss == 1) return m;
    uint32_t n;
    const uint32_t *t = pf_leaf_tests(pf, v[i].arg, &n);
    uint64_t mask = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (t[k] >> 6 != t[0] >> 6) return m;
        mask |= 1ull << (t[k] & 63);
    }
    m.word = n ? t[0] >> 6 : 0;
    m.mask = mask;
    m.field = l->field;
    m.leaf = v[i].arg;
    m.flags = l->arr_ok ? WM_ARR_OK : 0;
    return m;
}

bool prog_witness(const prefilter *pf, arena *a, const pf_prog *p, pf_witness *out)
{
    memset(out, 0, sizeof *out);
    if (!p->n) return false;
    arena tmp; /* the clauses while they are built: only the members go to `a` */
    arena_init(&tmp, 1 << 12);
    wform w = witness(pf, &tmp, p->v, 0);
    bool ok = !w.top;
    pf_wclause c[PF_WCLAUSES];
    uint32_t nc = 0, n = 0;
    /* the clauses of leaves first (bits and cached tests), then those that
     * ask the tree walker; each part by p */
    for (uint32_t walker = 0; ok && walker < 2; walker++)
        for (uint32_t k = 0; k < w.nc; k++)
            if (w.c[k].walker == (walker == 1)) {
                c[nc++] = w.c[k];
                n += w.c[k].n ? w.c[k].n : 1;
            }
    if (ok) ok = (out->m = arena_alloc(a, sizeof *out->m * n)) != NULL;
    for (uint32_t k = 0, at = 0; ok && k < nc; k++) {
        uint32_t end = at + (c[k].n ? c[k].n : 1);
        for (uint32_t j = 0; j < c[k].n; j++) out->m[at + j] = member_of(pf, p->v, c[k].ins[j]);
        if (!c[k].n) out->m[at] = (pf_wm){0, 0, UINT32_MAX, 0, 0, 0, 0, WM_NEVER};
        for (; at < end; at++) {
            out->m[at].next = (uint16_t)end;
            out->m[at].p = (float)c[k].p;
        }
    }
    arena_free(&tmp);
    if (!ok) return false; /* no witness (or out of memory): the rule runs */
    out->p = p;
    out->n = n;
    return true;
}

/* is the member true on the event? A quick no from the field's state and
 * the candidate bits, else its instruction's answer */
static bool member_holds(const pf_witness *w, const pf_wm *m, const prefilter *pf, pf_scratch *ps,
                         eql_ctx *c)
{
    if (m->flags & WM_NEVER) return false;
    if (m->field != UINT32_MAX) {
        uint8_t st = pf_field_state(pf, ps, c, m->field);
        if (st == FS_MISSING) return false; /* the leaf's value: false or null */
        if (st == FS_STR || (st == FS_STRARR && (m->flags & WM_ARR_OK))) {
            if (!(ps->cand[m->word] & m->mask)) return false; /* no test is a candidate */
            return leaf_value(pf, ps, m->leaf) == 1;          /* as run() reads the leaf */
        }
    }
    return run(w->p->v, m->ins, pf, ps, c) == 1;
}

bool prog_witness_holds(const pf_witness *w, const prefilter *pf, pf_scratch *ps, eql_ctx *c)
{
    for (uint32_t i = 0; i < w->n;) {
        uint32_t end = w->m[i].next;
        bool any = false;
        for (uint32_t j = i; j < end && !any; j++) any = member_holds(w, &w->m[j], pf, ps, c);
        if (!any) return false;
        i = end;
    }
    return true;
}

void prog_witness_dump(const pf_witness *w, const prefilter *pf, const char *label)
{
    fprintf(stderr, "%s:", label);
    for (uint32_t i = 0; i < w->n; i = w->m[i].next) {
        fprintf(stderr, "%s (p=%.3f", i ? " &" : "", (double)w->m[i].p);
        for (uint32_t j = i; j < w->m[i].next; j++) {
            const pf_wm *m = &w->m[j];
            const pf_ins *x = &w->p->v[m->ins];
            if (m->flags & WM_NEVER) {
                fprintf(stderr, " never");
            } else if (x->op == OP_LEAF) {
                const pf_field *f = &pf->tfields[pf->leaves[x->arg].field];
                fprintf(stderr, " #%u %.*s%s", x->arg, (int)f->path.n, f->path.p,
                        m->field == UINT32_MAX ? " (runs)" : "");
            } else {
                fprintf(stderr, " walker line %u col %u", x->node->line, x->node->col);
            }
        }
        fputc(')', stderr);
    }
    fputc('\n', stderr);
}
