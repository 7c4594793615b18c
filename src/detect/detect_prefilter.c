/* detect_prefilter.c - which rules can an event possibly match?
 *
 * For each stage of each rule a *necessary* condition is derived from its
 * where clause at load time: a disjunction of atoms, each about one field:
 *   exact    the field (or an element of it) equals a value, case folded
 *            (`==`, `in`, `:` and `like` without wildcards);
 *   prefix / suffix / substring   from the literal pieces of wildcard
 *            patterns (`:`, `like`, wildcard()) and from startsWith(),
 *            endsWith(), stringContains() with a literal;
 *   exists   the field is present and not null (any other comparison of a
 *            field: it is null, so not true, when the field is missing).
 *   lineage  a descendant / child / event of [sub]: the sub-query marks the
 *            event's process or an ancestor in the process tree (walked once
 *            per event for every slot), or the event matches the sub-query,
 *            which makes the rule a candidate anyway (sub-queries are indexed).
 * `a and b` keeps the child with the fewer expected passes (field classes
 * and literal lengths below), `a or b` the union of both; `not`, lineage and anything
 * else gives no condition. A stage's category is one more conjunct
 * to choose from. Case is folded everywhere: the conditions are supersets,
 * the rule's full evaluation decides.
 *
 * Each field read by some atom is looked up once per event: its value goes
 * through one hash of exact values and one Aho-Corasick automaton (byte
 * classes, full transition table) holding the field's prefixes, suffixes and
 * substrings (long ones cut to PF_ATOM bytes), and marks the rules of every
 * atom it satisfies. A sequence's first stage (a join's every stage) marks the
 * rule; its later stages and `until` mark it only while it has partial matches
 * open (PF_LATE). Rules with no condition run on every event (`always`);
 * sequences with a later stage without one run on every event while open.
 * Lineage (descendant / child / event of) reads the alerter's process tree,
 * fed by every event; its sub-queries' conditions join the first stage's.
 */
#include <hs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../decode/event.h"
#include "detect_query.h"
#include "prefilter.h"

#define PF_ATOM 16          /* longest substring atom kept: longer pieces are cut */
#define PF_OUT  0x80000000u /* automaton entry: a pattern ends in the target state */
#ifndef PF_TATOM
#define PF_TATOM 8 /* longest atom of a test: a smaller automaton (the program verifies) */
#endif
#define PF_SHORT 3 /* shortest substring atom: shorter ones become presence */
#define PF_HS                                                                                      \
    24 /* with MODUS_VECTORSCAN=on: patterns with substrings on a                                  \
          field from which Vectorscan scans it */

enum { A_EXACT, A_PREFIX, A_SUFFIX, A_CONTAINS, A_EXISTS, A_LINEAGE };

/* deriving one rule's conditions */
typedef struct dctx {
    arena a;
    uint32_t lin_base; /* the rule's first slot in the process tree */
} dctx;

typedef struct atom {
    uint8_t kind;
    uint32_t slot; /* A_LINEAGE */
    bool category;
    sv field;
    sv lit; /* lower-cased */
} atom;

/* a disjunction of atoms */
typedef struct clause {
    atom *v;
    uint32_t n;
    double p; /* expected share of events that pass */
} clause;

/* a conjunction of up to two clauses; nc 0: no condition (every event passes) */
typedef struct cond {
    uint32_t nc;
    clause c[2];
    double p;
} cond;

static const cond ALL = {0, {{NULL, 0, 1.0}, {NULL, 0, 1.0}}, 1.0};
/* no event passes (an empty disjunction) */
static const cond NONE = {1, {{NULL, 0, 0.0}, {NULL, 0, 1.0}}, 0.0};

static uint32_t hash_lower(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)ascii_lower(p[i])) * 16777619u;
    return h;
}

/* ---- expected selectivity --------------------------------------------------- */

static bool low_card(sv f)
{
    return sv_istarts(f, SV_LIT("event.")) || sv_eq(f, SV_LIT("event_type")) ||
           sv_eq(f, SV_LIT("opcode"));
}

/* Guesses, checked against Elastic endpoint data: a category is 10-30 % of
 * events, an action ~10 %, one value of a name, path or hash field well
 * under 1 %; most events carry process.* and event.*, far fewer any other
 * given field. */
static double p_exact(sv f, bool category)
{
    if (category) return 0.2;
    if (sv_eq(f, SV_LIT("event.action"))) return 0.1;
    if (low_card(f)) return 0.2;
    return 0.002;
}

static double p_exists(sv f)
{
    static const char *const common[] = {"process.", "event.", "host.", "user.",   "agent.",
                                         "ecs.",     "@",      "data_", "message", NULL};
    if (sv_istarts(f, SV_LIT("process.Ext."))) return 0.3;
    for (int i = 0; common[i]; i++)
        if (sv_istarts(f, sv_cstr(common[i]))) return 0.95;
    return 0.3;
}

/* ".exe", ".dll": a file extension ends most values of a name or path field */
static bool extension(sv lit)
{
    return lit.n >= 2 && lit.n <= 5 && lit.p[0] == '.' && !memchr(lit.p + 1, '.', lit.n - 1);
}

static double p_atom(const atom *a)
{
    double p;
    if (a->kind == A_SUFFIX && extension(a->lit)) return 0.5;
    switch (a->kind) {
    case A_EXACT: return p_exact(a->field, a->category);
    case A_EXISTS: return p_exists(a->field);
    case A_LINEAGE: return 0.03; /* the event's process or an ancestor is marked */
    case A_CONTAINS: p = pow(0.65, (double)a->lit.n); break;
    default: p = pow(0.5, (double)a->lit.n); break;
    }
    if (p < 0.002) p = 0.002;
    if (low_card(a->field) && p < 0.2) p = 0.2;
    return p;
}

/* ---- deriving conditions ------------------------------------------------------ */

static bool plain_field(const eql_node *f)
{
    return f && f->kind == N_FIELD && f->var < 0 && f->alias < 0 && f->path_len &&
           !memchr(f->path, '[', f->path_len);
}

static sv field_of(const eql_node *f)
{
    return (sv){f->path, f->path_len};
}

static bool str_lit(const eql_node *n)
{
    return n->kind == N_LIT && n->val.t == V_STR;
}

static bool nonnull_lit(const eql_node *n)
{
    return n->kind == N_LIT && n->val.t != V_NULL;
}

static cond one(dctx *a, uint8_t kind, sv field, const char *s, size_t n)
{
    atom *v = arena_alloc(&a->a, sizeof *v);
    if (!v) return ALL;
    v->kind = kind;
    v->slot = 0;
    v->category = false;
    v->field = field;
    v->lit = kind == A_EXISTS ? (sv){"", 0} : arena_lower(&a->a, (sv){s, n});
    if (kind != A_EXISTS && !v->lit.p) return ALL;
    cond c = NONE;
    c.c[0].v = v;
    c.c[0].n = 1;
    c.c[0].p = c.p = p_atom(v);
    return c;
}

static cond exists(dctx *a, const eql_node *f)
{
    return plain_field(f) ? one(a, A_EXISTS, field_of(f), NULL, 0) : ALL;
}

/* Atoms on the event's kind (category, action, type...) are correlated with
 * each other, and so are two clauses on the same single field: their joint
 * share is the smaller one's, not the product. */
static bool clause_low(const clause *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->v[i].kind == A_LINEAGE || (!c->v[i].category && !low_card(c->v[i].field)))
            return false;
    return true;
}

static bool clause_one_field(const clause *c, sv *f)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->v[i].kind == A_LINEAGE) return false;
        if (i && !sv_eq(c->v[i].field, *f)) return false;
        *f = c->v[i].field;
    }
    return c->n != 0;
}

static bool same_atom(const atom *x, const atom *y)
{
    return x->kind == y->kind && x->category == y->category && x->slot == y->slot &&
           sv_eq(x->field, y->field) && sv_eq(x->lit, y->lit);
}

static double joint(const clause *x, const clause *y)
{
    double lo = x->p < y->p ? x->p : y->p;
    sv fx = {"", 0}, fy = {"", 0};
    if (clause_low(x) && clause_low(y)) return lo;
    if (clause_one_field(x, &fx) && clause_one_field(y, &fy) && sv_eq(fx, fy)) return lo;
    /* atoms in both clauses pass both: (c | x') & (c | y') = c | (x' & y') */
    double pc = 0;
    for (uint32_t i = 0; i < x->n; i++)
        for (uint32_t k = 0; k < y->n; k++)
            if (same_atom(&x->v[i], &y->v[k])) {
                pc += p_atom(&x->v[i]);
                break;
            }
    double px = x->p > pc ? x->p - pc : 0, py = y->p > pc ? y->p - pc : 0;
    double j = pc + px * py;
    return j < lo ? j : lo;
}

/* the best one or two of n candidate clauses (all necessary): the most
 * selective, then the partner that narrows it most, if it narrows it */
static cond pick(const clause *v, uint32_t n)
{
    if (!n) return ALL;
    uint32_t b = 0;
    for (uint32_t i = 1; i < n; i++)
        if (v[i].p < v[b].p) b = i;
    cond c = NONE;
    c.c[0] = v[b];
    c.p = v[b].p;
    double best = c.p * 0.5; /* a second clause must at least halve the passes */
    for (uint32_t i = 0; i < n; i++) {
        if (i == b) continue;
        double j = joint(&v[b], &v[i]);
        if (j < best) {
            best = j;
            c.nc = 2;
            c.c[1] = v[i];
            c.p = j;
        }
    }
    return c;
}

static cond either(dctx *a, cond x, cond y)
{
    if (!x.nc || !y.nc) return ALL;
    /* (x0 & x1) | (y0 & y1) = (x0|y0) & (x0|y1) & (x1|y0) & (x1|y1) */
    clause v[4];
    uint32_t n = 0;
    for (uint32_t i = 0; i < x.nc; i++)
        for (uint32_t j = 0; j < y.nc; j++) {
            clause *c = &v[n++];
            c->n = x.c[i].n + y.c[j].n;
            c->v = arena_alloc(&a->a, sizeof *c->v * (c->n + 1));
            if (!c->v) return ALL;
            if (x.c[i].n) memcpy(c->v, x.c[i].v, sizeof *c->v * x.c[i].n);
            if (y.c[j].n) memcpy(c->v + x.c[i].n, y.c[j].v, sizeof *c->v * y.c[j].n);
            c->p = x.c[i].p + y.c[j].p;
            if (c->p > 1) c->p = 1;
        }
    return pick(v, n);
}

/* The disjunction of many conditions (a list of values, a chain of `or`),
 * built in one pass: either() copies its operands' atoms, so folding a list
 * of n values through it costs n^2 / 2 atoms (SigmaHQ's lists of thousands
 * of hashes or command lines: 470 MB for one rule set). Single clauses are
 * one union, allocated once; the few two-clause operands go through either()
 * first, the union last. */
typedef struct ors {
    cond *v;
    uint32_t n, cap;
    bool all; /* some operand has no condition, or out of memory */
} ors;

static void ors_add(ors *o, cond c)
{
    if (o->all) return;
    if (!c.nc) {
        o->all = true;
        return;
    }
    if (o->n == o->cap) {
        uint32_t cap = o->cap ? o->cap * 2 : 8;
        cond *v = realloc(o->v, sizeof *v * cap);
        if (!v) {
            o->all = true;
            return;
        }
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = c;
}

static cond ors_end(dctx *a, ors *o)
{
    cond r = NONE;
    size_t total = 0;
    double p = 0;
    uint32_t single = 0;
    for (uint32_t i = 0; !o->all && i < o->n; i++) {
        if (o->v[i].nc == 2) {
            r = either(a, r, o->v[i]);
            if (!r.nc) o->all = true;
        } else {
            total += o->v[i].c[0].n;
            p += o->v[i].c[0].p;
            single++;
        }
    }
    if (!o->all && single) {
        cond u = NONE;
        u.c[0].v = arena_alloc(&a->a, sizeof *u.c[0].v * (total + 1));
        if (!u.c[0].v) {
            o->all = true;
        } else {
            for (uint32_t i = 0; i < o->n; i++)
                if (o->v[i].nc == 1 && o->v[i].c[0].n) {
                    memcpy(u.c[0].v + u.c[0].n, o->v[i].c[0].v, sizeof *u.c[0].v * o->v[i].c[0].n);
                    u.c[0].n += o->v[i].c[0].n;
                }
            u.c[0].p = u.p = p > 1 ? 1 : p;
            r = single == o->n ? u : either(a, r, u);
        }
    }
    free(o->v);
    return o->all ? ALL : r;
}

static cond derive(dctx *a, const eql_node *n);

/* the operands of a chain of `or` */
static void or_collect(dctx *a, const eql_node *n, ors *o)
{
    if (o->all) return;
    if (n->kind != N_OR) {
        ors_add(o, derive(a, n));
        return;
    }
    or_collect(a, n->kids[0], o);
    or_collect(a, n->kids[1], o);
}

static cond both(cond x, cond y)
{
    if (!x.nc) return y;
    if (!y.nc) return x;
    clause v[4];
    uint32_t n = 0;
    for (uint32_t i = 0; i < x.nc; i++) v[n++] = x.c[i];
    for (uint32_t i = 0; i < y.nc; i++) v[n++] = y.c[i];
    return pick(v, n);
}

/* The literal piece of a wildcard pattern an automaton looks for: the
 * longest (cut to PF_ATOM bytes), anchored pieces preferred, a file
 * extension last. False when the pattern has no wildcard; *len 0 when it
 * has no literal piece ("*", "?*"). */
static bool best_piece(const char *s, size_t n, uint8_t *kind, size_t *at, size_t *len)
{
    int best_score = -1;
    bool wild = false;
    *kind = A_EXISTS;
    *at = *len = 0;
    for (size_t i = 0, start = 0; i <= n; i++) {
        if (i < n && s[i] != '*' && s[i] != '?') continue;
        if (i < n) wild = true;
        size_t l = i - start;
        bool at_start = start == 0, at_end = i == n;
        if (l) {
            uint8_t k = at_start ? A_PREFIX : at_end ? A_SUFFIX : A_CONTAINS;
            size_t keep = l < PF_ATOM ? l : PF_ATOM;
            int score = (int)keep + (k == A_CONTAINS ? 0 : 3);
            if (k == A_SUFFIX && extension((sv){s + i - keep, keep})) score = 1;
            if (score > best_score) {
                best_score = score;
                *kind = k;
                *len = keep;
                *at = k == A_PREFIX ? start : i - keep; /* suffix, substring: the end */
            }
        }
        start = i + 1;
    }
    return wild;
}

/* the best atom of one wildcard pattern on field f */
static cond pattern(dctx *a, sv f, const char *s, size_t n)
{
    uint8_t kind;
    size_t at, len;
    if (!best_piece(s, n, &kind, &at, &len)) return one(a, A_EXACT, f, s, n);
    if (!len) return one(a, A_EXISTS, f, NULL, 0); /* "*", "?*": any string */
    /* a substring of one or two bytes (" ", ":\\") is in most values and would
     * stop the automaton on every other byte: the field's presence instead */
    if (kind == A_CONTAINS && len < PF_SHORT) return one(a, A_EXISTS, f, NULL, 0);
    return one(a, kind, f, s + at, len);
}

/* f op lit, lit op f, f op g: the operands must not be null */
static cond operands(dctx *a, const eql_node *n)
{
    return both(exists(a, n->kids[0]), exists(a, n->kids[1]));
}

static cond derive_call(dctx *a, const eql_node *n)
{
    const eql_fn_def *def = eql_fn_get(n->fn);
    if (!n->nkids || !plain_field(n->kids[0])) return ALL;
    sv f = field_of(n->kids[0]);
    const char *name = def->name;
    uint8_t kind = !strcmp(name, "startswith")       ? A_PREFIX
                   : !strcmp(name, "endswith")       ? A_SUFFIX
                   : !strcmp(name, "stringcontains") ? A_CONTAINS
                                                     : A_EXISTS;
    if (kind != A_EXISTS) { /* null unless both are strings */
        if (n->nkids != 2) return ALL;
        if (!str_lit(n->kids[1])) return exists(a, n->kids[0]);
        const eql_val *v = &n->kids[1]->val;
        size_t keep = v->n < PF_ATOM ? v->n : PF_ATOM;
        if (!keep || (kind == A_CONTAINS && keep < PF_SHORT)) return exists(a, n->kids[0]);
        return one(a, kind, f, kind == A_PREFIX ? v->s : v->s + v->n - keep, keep);
    }
    if (!strcmp(name, "wildcard")) { /* null unless the field is a string */
        for (uint32_t i = 1; i < n->nkids; i++)
            if (!str_lit(n->kids[i])) return exists(a, n->kids[0]);
        ors o = {0};
        for (uint32_t i = 1; i < n->nkids; i++)
            ors_add(&o, pattern(a, f, n->kids[i]->val.s, n->kids[i]->val.n));
        return ors_end(a, &o);
    }
    return ALL;
}

static cond derive(dctx *a, const eql_node *n)
{
    if (!n) return ALL;
    switch (n->kind) {
    case N_AND: return both(derive(a, n->kids[0]), derive(a, n->kids[1]));
    case N_OR: {
        ors o = {0};
        or_collect(a, n, &o);
        return ors_end(a, &o);
    }
    case N_LIT:
        if (n->val.t == V_NULL || (n->val.t == V_BOOL && !n->val.b)) return NONE;
        return ALL;
    case N_EQ:
    case N_NE: {
        const eql_node *x = n->kids[0], *y = n->kids[1];
        bool xnull = x->kind == N_LIT && x->val.t == V_NULL;
        bool ynull = y->kind == N_LIT && y->val.t == V_NULL;
        if (xnull || ynull) { /* f != null: present; f == null: no condition */
            if (n->kind == N_EQ || (xnull && ynull)) return ALL;
            return exists(a, xnull ? y : x);
        }
        if (n->kind == N_EQ) {
            if (plain_field(x) && str_lit(y))
                return one(a, A_EXACT, field_of(x), y->val.s, y->val.n);
            if (plain_field(y) && str_lit(x))
                return one(a, A_EXACT, field_of(y), x->val.s, x->val.n);
        }
        return operands(a, n);
    }
    case N_LT:
    case N_LE:
    case N_GT:
    case N_GE: return operands(a, n);
    case N_COLON:
    case N_LIKE: {
        if (!plain_field(n->kids[0])) return ALL;
        for (uint32_t i = 1; i < n->nkids; i++)
            if (!str_lit(n->kids[i])) return exists(a, n->kids[0]);
        ors o = {0};
        for (uint32_t i = 1; i < n->nkids; i++)
            ors_add(&o, pattern(a, field_of(n->kids[0]), n->kids[i]->val.s, n->kids[i]->val.n));
        return ors_end(a, &o);
    }
    case N_REGEX: return exists(a, n->kids[0]);
    case N_IN: {
        if (n->neg || !plain_field(n->kids[0])) return ALL;
        bool strs = true;
        for (uint32_t i = 1; i < n->nkids; i++) {
            if (!nonnull_lit(n->kids[i])) return ALL; /* x in (null): true when absent */
            strs = strs && str_lit(n->kids[i]);
        }
        if (!strs) return exists(a, n->kids[0]);
        ors o = {0};
        for (uint32_t i = 1; i < n->nkids; i++)
            ors_add(&o,
                    one(a, A_EXACT, field_of(n->kids[0]), n->kids[i]->val.s, n->kids[i]->val.n));
        return ors_end(a, &o);
    }
    case N_CALL: return derive_call(a, n);
    case N_LINEAGE: { /* only once some process of the tree matched the sub-query
                       * (an event that matches it now is a candidate anyway) */
        if (n->lin_slot < 0 || n->lin_slot >= 64) return ALL;
        cond c = one(a, A_EXISTS, SV_LIT(""), NULL, 0);
        if (!c.nc) return ALL;
        atom *t = &c.c[0].v[0];
        t->kind = A_LINEAGE;
        t->slot = a->lin_base + (uint32_t)n->lin_slot;
        c.c[0].p = c.p = p_atom(t);
        return c;
    }
    default: return ALL;
    }
}

static cond category(dctx *a, const eql_stage *st)
{
    if (st->any) return ALL;
    cond c = one(a, A_EXACT, SV_LIT("event.category"), st->category.p, st->category.n);
    if (c.nc) {
        c.c[0].v[0].category = true;
        c.c[0].p = c.p = p_atom(&c.c[0].v[0]);
    }
    return c;
}

static cond stage_cond(dctx *a, const eql_stage *st)
{
    return both(category(a, st), derive(a, st->where));
}

/* ---- the index -------------------------------------------------------------------- */

static bool refs_add(pf_refs *r, uint32_t ref)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (r->v[i] == ref) return true;
    if (r->n == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 2;
        uint32_t *v = realloc(r->v, sizeof *v * cap);
        if (!v) return false;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = ref;
    return true;
}

static uint32_t field_hash(sv path, bool cat)
{
    uint32_t h = (2166136261u ^ cat) * 16777619u;
    for (size_t i = 0; i < path.n; i++) h = (h ^ (uint8_t)path.p[i]) * 16777619u;
    return h;
}

/* the field (path, cat) of an array, created if needed; *index hashes the
 * array (indexes + 1, open addressing, grown at half full) */
static pf_field *field_in(prefilter *pf, pf_field **fields, size_t *nfields, size_t *capfields,
                          uint32_t **index, uint32_t *icap, sv path, bool cat)
{
    if (*nfields * 2 >= *icap) {
        uint32_t nc = *icap ? *icap * 2 : 64;
        uint32_t *t = calloc(nc, sizeof *t);
        if (!t) return NULL;
        for (size_t i = 0; i < *nfields; i++) {
            uint32_t k = field_hash((*fields)[i].path, (*fields)[i].category) & (nc - 1);
            while (t[k]) k = (k + 1) & (nc - 1);
            t[k] = (uint32_t)i + 1;
        }
        free(*index);
        *index = t;
        *icap = nc;
    }
    uint32_t h = field_hash(path, cat) & (*icap - 1);
    for (; (*index)[h]; h = (h + 1) & (*icap - 1)) {
        pf_field *f = &(*fields)[(*index)[h] - 1];
        if (f->category == cat && sv_eq(f->path, path)) return f;
    }
    if (*nfields == *capfields) {
        size_t cap = *capfields ? *capfields * 2 : 16;
        pf_field *v = realloc(*fields, sizeof *v * cap);
        if (!v) return NULL;
        *fields = v;
        *capfields = cap;
    }
    pf_field *f = &(*fields)[*nfields];
    memset(f, 0, sizeof *f);
    char *p = arena_strndup(&pf->strings, path.p, path.n);
    if (!p) return NULL;
    f->path = (sv){p, path.n};
    f->category = cat;
    f->id = cat ? -1 : eql_field_intern(path.p, (uint32_t)path.n);
    (*index)[h] = (uint32_t)++ * nfields;
    return f;
}

static pf_field *field_get(prefilter *pf, sv path, bool cat)
{
    return field_in(pf, &pf->fields, &pf->nfields, &pf->capfields, &pf->field_index,
                    &pf->field_icap, path, cat);
}

/* a leaf's tests come one after another on the same path (the same AST
 * bytes): the last one found is tried first */
static pf_field *tfield_get(prefilter *pf, sv path)
{
    if (pf->tfield_last.p == path.p && pf->tfield_last.n == path.n && path.p)
        return &pf->tfields[pf->tfield_last_i];
    pf_field *f = field_in(pf, &pf->tfields, &pf->ntfields, &pf->captfields, &pf->tfield_index,
                           &pf->tfield_icap, path, false);
    if (f) {
        pf->tfield_last = path;
        pf->tfield_last_i = (uint32_t)(f - pf->tfields);
    }
    return f;
}

/* the entry of a folded value in the field's hash, created if needed */
static pf_exact *exact_get(prefilter *pf, pf_field *f, sv value)
{
    if (f->n * 2 >= f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        pf_exact *t = calloc(cap, sizeof *t);
        if (!t) return NULL;
        for (size_t i = 0; i < f->cap; i++)
            if (f->tab[i].value.p) {
                size_t h = f->tab[i].hash & (cap - 1);
                while (t[h].value.p) h = (h + 1) & (cap - 1);
                t[h] = f->tab[i];
            }
        free(f->tab);
        f->tab = t;
        f->cap = cap;
    }
    uint32_t hv = hash_lower(value.p, value.n);
    size_t h = hv & (f->cap - 1);
    for (; f->tab[h].value.p; h = (h + 1) & (f->cap - 1))
        if (f->tab[h].hash == hv && sv_eq(f->tab[h].value, value)) return &f->tab[h];
    pf_exact *e = &f->tab[h];
    char *p = arena_strndup(&pf->strings, value.p, value.n);
    if (!p) return NULL;
    if (value.n > f->maxexact) f->maxexact = (uint32_t)value.n;
    e->value = (sv){p, value.n};
    e->hash = hv;
    f->n++;
    return e;
}

static bool add_exact(prefilter *pf, pf_field *f, sv value, uint32_t ref)
{
    pf_exact *e = exact_get(pf, f, value);
    return e && refs_add(&e->refs, ref);
}

/* the automaton's pattern (lit lower-cased, anchor), created if needed */
static uint32_t pat_hash(sv lit, uint8_t anchor)
{
    uint32_t h = (2166136261u ^ anchor) * 16777619u;
    for (size_t i = 0; i < lit.n; i++) h = (h ^ (uint8_t)lit.p[i]) * 16777619u;
    return h;
}

static pf_pat *pat_get(prefilter *pf, pf_field *f, sv lit, uint8_t anchor)
{
    if (f->npats * 2 >= f->pat_icap) { /* the index, grown at half full */
        uint32_t nc = f->pat_icap ? f->pat_icap * 2 : 16;
        uint32_t *t = calloc(nc, sizeof *t);
        if (!t) return NULL;
        for (uint32_t i = 0; i < f->npats; i++) {
            uint32_t k = pat_hash(f->pats[i].lit, f->pats[i].anchor) & (nc - 1);
            while (t[k]) k = (k + 1) & (nc - 1);
            t[k] = i + 1;
        }
        free(f->pat_index);
        f->pat_index = t;
        f->pat_icap = nc;
    }
    uint32_t h = pat_hash(lit, anchor) & (f->pat_icap - 1);
    for (; f->pat_index[h]; h = (h + 1) & (f->pat_icap - 1)) {
        pf_pat *q = &f->pats[f->pat_index[h] - 1];
        if (q->anchor == anchor && sv_eq(q->lit, lit)) return q;
    }
    if (f->npats == f->cappats) {
        uint32_t cap = f->cappats ? f->cappats * 2 : 8;
        pf_pat *v = realloc(f->pats, sizeof *v * cap);
        if (!v) return NULL;
        f->pats = v;
        f->cappats = cap;
    }
    pf_pat *p = &f->pats[f->npats];
    memset(p, 0, sizeof *p);
    char *s = arena_strndup(&pf->strings, lit.p, lit.n);
    if (!s) return NULL;
    p->lit = (sv){s, lit.n};
    p->anchor = anchor;
    f->pat_index[h] = ++f->npats;
    return p;
}

static bool add_pattern(prefilter *pf, pf_field *f, sv lit, uint8_t anchor, uint32_t ref)
{
    pf_pat *p = pat_get(pf, f, lit, anchor);
    return p && refs_add(&p->refs, ref);
}

#include <stdio.h>
static void dump(const cond *c, uint32_t ref)
{
    static int on = -1; /* MODUS_PREFILTER=explain: each rule's conditions on stderr */
    if (on < 0) on = getenv("MODUS_PREFILTER") && !strcmp(getenv("MODUS_PREFILTER"), "explain");
    if (!on) return;
    static const char *k[] = {"=", "^", "$", "~", "?", "lineage"};
    fprintf(stderr, "rule %u%s p=%.4f:", ref & ~PF_LATE, ref & PF_LATE ? " late" : "", c->p);
    for (uint32_t j = 0; j < c->nc; j++) {
        const clause *cl = &c->c[j];
        if (j) fputs(" &", stderr);
        for (uint32_t i = 0; i < cl->n && (i < 6 || getenv("MODUS_PREFILTER_FULL")); i++)
            fprintf(stderr, " %.*s%s%.*s", (int)cl->v[i].field.n, cl->v[i].field.p,
                    k[cl->v[i].kind], (int)cl->v[i].lit.n, cl->v[i].lit.p);
        if (cl->n > 6 && !getenv("MODUS_PREFILTER_FULL")) fprintf(stderr, " ... (%u)", cl->n);
    }
    fputc('\n', stderr);
}

static bool lin_add(prefilter *pf, uint32_t slot, uint32_t ref)
{
    for (uint32_t i = 0; i < pf->nlin; i++)
        if (pf->lin[i].slot == slot) return refs_add(&pf->lin[i].refs, ref);
    pf_lin *v = realloc(pf->lin, sizeof *v * (pf->nlin + 1));
    if (!v) return false;
    pf->lin = v;
    memset(&v[pf->nlin], 0, sizeof *v);
    v[pf->nlin].slot = slot;
    return refs_add(&v[pf->nlin++].refs, ref);
}

static void set_bit(uint64_t *bits, size_t i);

/* clause 0's atoms refer to the rule, clause 1's to the rule | PF_SECOND */
static bool add_cond(prefilter *pf, const cond *c, uint32_t ref)
{
    dump(c, ref);
    if (c->nc == 2) set_bit(ref & PF_LATE ? pf->late_has2 : pf->has2, ref & ~PF_LATE);
    for (uint32_t j = 0; j < c->nc; j++) {
        uint32_t r = j ? ref | PF_SECOND : ref;
        for (uint32_t i = 0; i < c->c[j].n; i++) {
            const atom *t = &c->c[j].v[i];
            if (t->kind == A_LINEAGE) {
                if (!lin_add(pf, t->slot, r)) return false;
                continue;
            }
            pf_field *f = field_get(pf, t->field, t->category);
            if (!f) return false;
            bool ok;
            switch (t->kind) {
            case A_EXACT: ok = add_exact(pf, f, t->lit, r); break;
            case A_EXISTS: ok = refs_add(&f->exists, r); break;
            case A_PREFIX: ok = add_pattern(pf, f, t->lit, PF_AT_START, r); break;
            case A_SUFFIX: ok = add_pattern(pf, f, t->lit, PF_AT_END, r); break;
            default: ok = add_pattern(pf, f, t->lit, 0, r); break;
            }
            if (!ok) return false;
        }
    }
    return true;
}

static void set_bit(uint64_t *bits, size_t i)
{
    bits[i >> 6] |= 1ull << (i & 63);
}

bool prefilter_init(prefilter *pf, size_t nrules, bool off)
{
    memset(pf, 0, sizeof *pf);
    arena_init(&pf->strings, 1 << 14);
    pf->nrules = nrules;
    pf->nwords = (nrules + 63) / 64 + 1;
    pf->off = off;
    pf->cat_id = eql_field_intern("event.category", 14);
    pf->etype_id = eql_field_intern("event_type", 10);
    pf->always = calloc(pf->nwords, sizeof *pf->always);
    pf->late_always = calloc(pf->nwords, sizeof *pf->late_always);
    pf->has2 = calloc(pf->nwords, sizeof *pf->has2);
    pf->late_has2 = calloc(pf->nwords, sizeof *pf->late_has2);
    pf->why = calloc(nrules + 1, sizeof *pf->why);
    return pf->always && pf->late_always && pf->has2 && pf->late_has2 && pf->why;
}

bool prefilter_add(prefilter *pf, const eql_query *q, size_t rule, uint32_t lin_base)
{
    if (pf->off) {
        set_bit(pf->always, rule);
        pf->why[rule] = "the prefilter is off";
        return false;
    }
    if (eql_query_has_missing(q)) { /* its windows close on time: every event (detect_sample.c) */
        set_bit(pf->always, rule);
        pf->why[rule] = "a sequence with missing events: every event, its windows close on time";
        return false;
    }
    dctx a;
    arena_init(&a.a, 1 << 12);
    a.lin_base = lin_base;
    uint32_t ref = (uint32_t)rule;
    bool ok = true, guarded = true;
    {
        cond first = stage_cond(&a, &q->stages[0]);
        for (uint32_t i = 1; (q->kind == Q_JOIN || q->kind == Q_SAMPLE) && i < q->nstages; i++)
            first = either(&a, first, stage_cond(&a, &q->stages[i]));
        /* lineage sub-queries mark the shared process tree on the events they match */
        for (uint32_t i = 0; i < q->nlineage; i++)
            first = either(&a, first, stage_cond(&a, q->lineage[i]->sub->stages));
        if (!first.nc) {
            set_bit(pf->always, rule);
            pf->why[rule] = q->kind == Q_EVENT ? "no condition on any field: every event"
                                               : "no condition on its first stage: every event";
            guarded = false;
        } else {
            ok = add_cond(pf, &first, ref);
        }
        /* later sequence stages and `until`: any of them (one condition for all) */
        bool any_late = false;
        cond late = NONE;
        for (uint32_t i = 1; guarded && q->kind == Q_SEQUENCE && i <= q->nstages; i++) {
            const eql_stage *st = i < q->nstages ? &q->stages[i] : q->until;
            if (!st) continue;
            late = either(&a, late, stage_cond(&a, st));
            any_late = true;
        }
        if (guarded && q->kind == Q_JOIN && q->until) {
            late = stage_cond(&a, q->until);
            any_late = true;
        }
        if (guarded && ok && any_late) {
            if (!late.nc) {
                set_bit(pf->late_always, rule);
                if (!pf->why[rule])
                    pf->why[rule] = "a later stage without condition: every event "
                                    "while a sequence is open";
            } else {
                ok = add_cond(pf, &late, ref | PF_LATE);
            }
        }
    }
    arena_free(&a.a);
    if (!ok) { /* out of memory: the rule runs on every event */
        set_bit(pf->always, rule);
        pf->why[rule] = "out of memory";
        return false;
    }
    return guarded;
}

/* ---- the shared table: tests and leaves ------------------------------------------ */

static uint32_t mix(uint32_t h, uint32_t x)
{
    return (h ^ x) * 16777619u;
}

static uint32_t test_hash(uint32_t field, uint8_t kind, bool ci, sv lit)
{
    uint32_t h = mix(mix(mix(2166136261u, field), kind), ci);
    for (size_t i = 0; i < lit.n; i++) h = mix(h, (uint8_t)lit.p[i]);
    return h;
}

/* open addressing over indexes + 1; grown at half full */
static bool index_grow(uint32_t **tab, uint32_t *cap, uint32_t n,
                       uint32_t (*hash)(const prefilter *, uint32_t), const prefilter *pf)
{
    if (n * 2 < *cap) return true;
    uint32_t nc = *cap ? *cap * 2 : 1024;
    uint32_t *t = calloc(nc, sizeof *t);
    if (!t) return false;
    for (uint32_t i = 0; i < *cap; i++)
        if ((*tab)[i]) {
            uint32_t h = hash(pf, (*tab)[i] - 1) & (nc - 1);
            while (t[h]) h = (h + 1) & (nc - 1);
            t[h] = (*tab)[i];
        }
    free(*tab);
    *tab = t;
    *cap = nc;
    return true;
}

static uint32_t test_hash_of(const prefilter *pf, uint32_t i)
{
    return pf->test_hv[i];
}

/* where a test's value is looked for: the exact hash, an automaton atom, or
 * every string (no literal atom worth the automaton) */
static bool place_test(prefilter *pf, pf_field *f, uint32_t ti)
{
    const pf_test *t = &pf->tests[ti];
    char low[PF_ATOM];
    uint8_t kind = A_CONTAINS;
    size_t at = 0, len = t->lit.n;
    switch (t->kind) {
    case PT_EXACT: { /* the folded value, looked up (exact_get keeps a copy if new) */
        char folded[256];
        sv v = {folded, t->lit.n};
        if (t->lit.n <= sizeof folded)
            for (size_t k = 0; k < t->lit.n; k++) folded[k] = ascii_lower(t->lit.p[k]);
        else
            v = arena_lower(&pf->strings, t->lit);
        if (!v.p && t->lit.n) return false;
        pf_exact *e = exact_get(pf, f, (sv){v.p ? v.p : "", v.n});
        return e && refs_add(&e->tests, ti);
    }
    case PT_PREFIX: kind = A_PREFIX; break;
    case PT_SUFFIX: kind = A_SUFFIX; break;
    case PT_CONTAINS: break;
    case PT_GLOB: best_piece(t->lit.p, t->lit.n, &kind, &at, &len); break;
    default: len = 0; /* regular expressions: every string */
    }
    if (len > PF_TATOM) {
        if (kind == A_SUFFIX) at += len - PF_TATOM;
        len = PF_TATOM;
    }
    if (!len || (kind == A_CONTAINS && len < PF_SHORT)) return refs_add(&f->always, ti);
    for (size_t k = 0; k < len; k++) low[k] = ascii_lower(t->lit.p[at + k]);
    pf_pat *p = pat_get(pf, f, (sv){low, len},
                        kind == A_PREFIX   ? PF_AT_START
                        : kind == A_SUFFIX ? PF_AT_END
                                           : 0);
    return p && refs_add(&p->tests, ti);
}

uint32_t pf_test_add(prefilter *pf, sv field, uint8_t kind, bool ci, sv lit, const void *pat)
{
    pf_field *f = tfield_get(pf, field);
    if (!f) return UINT32_MAX;
    uint32_t fi = (uint32_t)(f - pf->tfields);
    if (!index_grow(&pf->test_index, &pf->test_icap, pf->ntests, test_hash_of, pf))
        return UINT32_MAX;
    uint32_t hv = test_hash(fi, kind, ci, lit), h = hv & (pf->test_icap - 1);
    for (; pf->test_index[h]; h = (h + 1) & (pf->test_icap - 1)) {
        uint32_t i = pf->test_index[h] - 1;
        if (pf->test_hv[i] != hv) continue;
        const pf_test *t = &pf->tests[i];
        if (t->field == fi && t->kind == kind && t->ci == ci && sv_eq(t->lit, lit)) return i;
    }
    if (pf->ntests == pf->captests) {
        uint32_t cap = pf->captests ? pf->captests * 2 : 256;
        pf_test *v = realloc(pf->tests, sizeof *v * cap);
        if (!v) return UINT32_MAX;
        pf->tests = v;
        uint32_t *hvs = realloc(pf->test_hv, sizeof *hvs * cap);
        if (!hvs) return UINT32_MAX;
        pf->test_hv = hvs;
        pf->captests = cap;
    }
    pf_test *t = &pf->tests[pf->ntests];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->ci = ci;
    t->field = fi;
    t->lit = lit;
    t->pat =
        kind == PT_GLOB && !pat ? eql_glob_compile(&pf->strings, lit.p, (uint32_t)lit.n, ci) : pat;
    if (kind == PT_GLOB && !t->pat) return UINT32_MAX;
    uint32_t ti = pf->ntests++;
    pf->test_hv[ti] = hv;
    if (!place_test(pf, &pf->tfields[fi], ti)) {
        pf->ntests--;
        return UINT32_MAX;
    }
    pf->test_index[h] = ti + 1;
    return ti;
}

/* a leaf is its field, its sorted tests and how it reads them */
typedef struct leaf_key {
    uint32_t field;
    const uint32_t *tests;
    uint32_t ntests;
    uint8_t flags; /* neg, arr_ok, miss + 1 */
    uint8_t op;
} leaf_key;

static uint32_t leaf_hash(const leaf_key *k)
{
    uint32_t h = mix(mix(mix(2166136261u, k->field), k->flags), k->op);
    for (uint32_t i = 0; i < k->ntests; i++) h = mix(h, k->tests[i]);
    return h;
}

/* leaves keep their key's tests after the leaf array (pf_leaf_tests) */
typedef struct leaf_rec {
    uint32_t *tests;
    uint32_t ntests;
    uint8_t flags, op;
} leaf_rec;

static leaf_rec *leaf_recs(const prefilter *pf)
{
    return (leaf_rec *)(void *)(pf->leaves + pf->capleaves);
}

static uint32_t leaf_hash_of(const prefilter *pf, uint32_t i)
{
    const leaf_rec *r = &leaf_recs(pf)[i];
    leaf_key k = {pf->leaves[i].field, r->tests, r->ntests, r->flags, r->op};
    return leaf_hash(&k);
}

uint32_t pf_leaf_add(prefilter *pf, sv field, const uint32_t *tests, uint32_t ntests, bool neg,
                     bool arr_ok, int8_t miss, uint8_t op)
{
    pf_field *f = tfield_get(pf, field);
    if (!f) return UINT32_MAX;
    leaf_key k = {(uint32_t)(f - pf->tfields), tests, ntests,
                  (uint8_t)(neg | arr_ok << 1 | (miss + 1) << 2), op};
    if (!index_grow(&pf->leaf_index, &pf->leaf_icap, pf->nleaves, leaf_hash_of, pf))
        return UINT32_MAX;
    uint32_t h = leaf_hash(&k) & (pf->leaf_icap - 1);
    for (; pf->leaf_index[h]; h = (h + 1) & (pf->leaf_icap - 1)) {
        uint32_t i = pf->leaf_index[h] - 1;
        const leaf_rec *r = &leaf_recs(pf)[i];
        if (pf->leaves[i].field == k.field && r->flags == k.flags && r->op == op &&
            r->ntests == ntests && !memcmp(r->tests, tests, sizeof *tests * ntests))
            return i;
    }
    if (pf->nleaves == pf->capleaves) { /* leaves, then their records */
        uint32_t cap = pf->capleaves ? pf->capleaves * 2 : 256;
        size_t sz = sizeof(pf_leaf) * cap + sizeof(leaf_rec) * cap;
        pf_leaf *v = malloc(sz);
        if (!v) return UINT32_MAX;
        if (pf->nleaves) {
            memcpy(v, pf->leaves, sizeof(pf_leaf) * pf->nleaves);
            memcpy((leaf_rec *)(void *)(v + cap), leaf_recs(pf), sizeof(leaf_rec) * pf->nleaves);
        }
        free(pf->leaves);
        pf->leaves = v;
        pf->capleaves = cap;
    }
    uint32_t li = pf->nleaves;
    uint32_t *copy = arena_alloc(&pf->strings, sizeof *copy * (ntests ? ntests : 1));
    if (!copy) return UINT32_MAX;
    if (ntests) memcpy(copy, tests, sizeof *copy * ntests);
    for (uint32_t i = 0; i < ntests; i++)
        if (!refs_add(&pf->tests[tests[i]].leaves, li)) return UINT32_MAX;
    pf->leaves[li] = (pf_leaf){k.field, neg, arr_ok, miss};
    leaf_recs(pf)[li] = (leaf_rec){copy, ntests, k.flags, op};
    pf->nleaves++;
    pf->leaf_index[h] = li + 1;
    return li;
}

static bool find_bytes(sv hay, sv needle, bool ci)
{
    if (ci) return sv_ifind(hay, needle) != (size_t)-1;
    if (!needle.n) return true;
    return needle.n <= hay.n && memmem(hay.p, hay.n, needle.p, needle.n) != NULL;
}

bool pf_test_holds(const pf_test *t, const char *s, size_t n)
{
    sv v = {s, n}, l = t->lit;
    switch (t->kind) {
    case PT_EXACT: return t->ci ? sv_ieq(v, l) : sv_eq(v, l);
    case PT_PREFIX: return n >= l.n && (t->ci ? sv_istarts(v, l) : !memcmp(s, l.p, l.n));
    case PT_SUFFIX: return n >= l.n && (t->ci ? sv_iends(v, l) : !memcmp(s + n - l.n, l.p, l.n));
    case PT_CONTAINS: return find_bytes(v, l, t->ci);
    case PT_GLOB: return eql_glob_match(t->pat, s, (uint32_t)n);
    default: return eql_regex_match(t->pat, s, (uint32_t)n);
    }
}

const uint32_t *pf_leaf_tests(const prefilter *pf, uint32_t i, uint32_t *n)
{
    *n = leaf_recs(pf)[i].ntests;
    return leaf_recs(pf)[i].tests;
}

/* the value cache (below) */
#define PF_VC_SLOTS (1u << 14)
#define PF_VC_SEEN  (1u << 16) /* the doorkeeper: hashes seen once */
#define PF_VC_LEN   512
#define PF_VC_REC   4096
static bool vc_enabled(void);
static void vc_flush(pf_scratch *ps);

bool pf_scratch_init(const prefilter *pf, pf_scratch *ps)
{
    memset(ps, 0, sizeof *ps);
    ps->fstate = calloc(pf->ntfields + 1, 1);
    ps->fnode = calloc(pf->ntfields + 1, sizeof *ps->fnode);
    ps->cand = calloc(pf->ntests / 64 + 1, sizeof *ps->cand);
    ps->done = calloc(pf->ntests / 64 + 1, sizeof *ps->done);
    ps->holds = calloc(pf->ntests / 64 + 1, sizeof *ps->holds);
    ps->rdone = calloc(pf->nresids + 1, sizeof *ps->rdone);
    ps->rval = calloc(pf->nresids + 1, 1);
    ps->vc_cap = PF_VC_BYTES;
    if (vc_enabled() && !pf->off) {
        ps->vc = calloc(PF_VC_SLOTS, sizeof *ps->vc);
        ps->vt = calloc(pf->ntests + 1, sizeof *ps->vt);
        ps->vseen = calloc(PF_VC_SEEN, sizeof *ps->vseen);
        ps->vref = calloc(pf->ntfields + 1, sizeof *ps->vref);
        if (!ps->vc || !ps->vt || !ps->vseen || !ps->vref) { /* no cache: correct, slower */
            free(ps->vc), free(ps->vt), free(ps->vseen), free(ps->vref);
            ps->vc = NULL, ps->vt = ps->vseen = NULL, ps->vref = NULL;
        }
    }
    for (size_t i = 0; i < pf->nfields + pf->ntfields; i++) {
        const pf_field *f = i < pf->nfields ? &pf->fields[i] : &pf->tfields[i - pf->nfields];
        hs_scratch_t *hs = ps->hs;
        if (f->hs && hs_alloc_scratch(f->hs, &hs) != HS_SUCCESS) return false;
        ps->hs = hs;
    }
    return ps->fstate && ps->fnode && ps->cand && ps->done && ps->holds && ps->rdone && ps->rval;
}

void pf_scratch_free(pf_scratch *ps)
{
    free(ps->fstate);
    free(ps->fnode);
    free(ps->cand);
    free(ps->done);
    free(ps->holds);
    free(ps->rdone);
    free(ps->rval);
    vc_flush(ps);
    free(ps->vc);
    free(ps->vt);
    free(ps->vseen);
    free(ps->vref);
    free(ps->vbuf);
    free(ps->vrec);
    hs_free_scratch(ps->hs);
    memset(ps, 0, sizeof *ps);
}

/* ---- Aho-Corasick ------------------------------------------------------------------- */

/* Vectorscan: every pattern of the field as a caseless literal; anchors
 * are checked on each match, as the automaton checks them */
static bool build_hs(pf_field *f)
{
    const char **lits = malloc(sizeof *lits * f->npats);
    size_t *lens = malloc(sizeof *lens * f->npats);
    unsigned *ids = malloc(sizeof *ids * f->npats), *flags = malloc(sizeof *flags * f->npats);
    bool ok = lits && lens && ids && flags;
    for (uint32_t i = 0; ok && i < f->npats; i++) {
        lits[i] = f->pats[i].lit.p;
        lens[i] = f->pats[i].lit.n;
        ids[i] = i;
        flags[i] = HS_FLAG_CASELESS;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (ok && hs_compile_lit_multi(lits, flags, ids, lens, f->npats, HS_MODE_BLOCK, NULL, &db,
                                   &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        db = NULL;
    }
    free(lits), free(lens), free(ids), free(flags);
    f->hs = db;
    return db != NULL;
}

/* Bytes of an automaton's dense part (full transition rows): the states
 * nearest the root, where a scan spends most bytes; deeper states keep
 * their trie edges and a fail link. Bounds the table: SigmaHQ's
 * process.command_line has 23,840 states x 142 byte classes (13 MB dense).
 * MODUS_AC_DENSE_KB overrides it (to measure). */
#ifndef PF_DENSE_KB
#define PF_DENSE_KB 128
#endif

static size_t dense_bytes(void)
{
    static size_t v;
    if (!v) {
        const char *e = getenv("MODUS_AC_DENSE_KB");
        long kb = e ? atol(e) : PF_DENSE_KB;
        v = (size_t)(kb > 0 ? kb : 1) * 1024;
    }
    return v;
}

static uint32_t trie_find(const uint32_t *child, const uint32_t *sib, const uint8_t *ecl,
                          uint32_t s, uint8_t c)
{
    for (uint32_t t = child[s]; t; t = sib[t])
        if (ecl[t] == c) return t;
    return 0;
}

/* The field's Aho-Corasick automaton over byte classes: a trie (first
 * child / next sibling while building), fail links breadth first, then the
 * states renumbered breadth first; the first ndense get full rows (entries:
 * the target's encoded offset | PF_OUT), the others one record each in
 * f->sp (number, fail link, edges' targets and classes together: a deep
 * state costs the scan one or two cache lines, not four arrays' worth).
 * Memory is the dense part plus ~20 bytes a state. */
static bool build_field(pf_field *f)
{
    free(f->pat_index); /* rebuilt by pat_get if patterns are added later */
    f->pat_index = NULL;
    f->pat_icap = 0;
    if (!f->npats) return true;
    /* MODUS_VECTORSCAN=on: Vectorscan on fields with many substrings. It
     * scans them faster than the automaton, but compiling the databases of
     * Elastic's 773 rules takes ~0.27 s: off unless asked (BENCHMARKS.md) */
    static int hs_on = -1;
    if (hs_on < 0) hs_on = getenv("MODUS_VECTORSCAN") && !strcmp(getenv("MODUS_VECTORSCAN"), "on");
    uint32_t inner = 0;
    for (uint32_t i = 0; i < f->npats; i++) inner += !f->pats[i].anchor;
    if (hs_on && inner >= PF_HS && build_hs(f)) return true;
    uint8_t used[256] = {0};
    size_t total = 1;
    for (uint32_t i = 0; i < f->npats; i++) {
        const pf_pat *pt = &f->pats[i];
        uint32_t len = (uint32_t)pt->lit.n;
        if (!pt->anchor) f->inner = true;
        if ((pt->anchor & PF_AT_START) && len > f->maxpre) f->maxpre = len;
        if ((pt->anchor & PF_AT_END) && len > f->maxsuf) f->maxsuf = len;
        for (size_t k = 0; k < f->pats[i].lit.n; k++) used[(uint8_t)f->pats[i].lit.p[k]] = 1;
        total += f->pats[i].lit.n;
    }
    memset(f->cls, 0, sizeof f->cls);
    f->ncls = 1;
    for (int b = 0; b < 256; b++)
        if (used[b]) f->cls[b] = (uint8_t)f->ncls++;
    for (int b = 'A'; b <= 'Z'; b++) f->cls[b] = f->cls[b + 32];
    uint32_t nc = f->ncls;
    if (total >= PF_OUT / 2) return false;
    /* build-time arrays: child, sib, fail, queue, rn (new numbers), depth */
    uint32_t *w = calloc(total * 6, sizeof *w);
    uint8_t *ecl = calloc(total, 1);
    uint32_t *term = calloc(total, sizeof *term), *dict = calloc(total, sizeof *dict);
    uint8_t *out = calloc(total, 1);
    bool ok = w && ecl && term && dict && out;
    uint32_t *child = w, *sib = w + total, *fail = w + 2 * total, *queue = w + 3 * total,
             *rn = w + 4 * total, *depth = w + 5 * total;
    uint32_t ns = 1;
    for (uint32_t i = 0; ok && i < f->npats; i++) {
        uint32_t s = 0;
        for (size_t k = 0; k < f->pats[i].lit.n; k++) {
            uint8_t c = f->cls[(uint8_t)f->pats[i].lit.p[k]];
            uint32_t t = trie_find(child, sib, ecl, s, c);
            if (!t) {
                t = ns++;
                ecl[t] = c;
                sib[t] = child[s];
                child[s] = t;
                depth[t] = depth[s] + 1;
            }
            s = t;
        }
        f->pats[i].next = term[s];
        term[s] = i + 1;
    }
    /* breadth first: a state's fail state is shallower, already complete */
    uint32_t qh = 0, qt = 0;
    if (ok) queue[qt++] = 0;
    while (qh < qt) {
        uint32_t s = queue[qh++];
        if (s) {
            dict[s] = term[fail[s]] ? fail[s] : dict[fail[s]];
            out[s] = term[s] || dict[s];
        }
        for (uint32_t t = child[s]; t; t = sib[t]) {
            uint32_t via = 0;
            for (uint32_t x = fail[s]; s;) {
                uint32_t u = trie_find(child, sib, ecl, x, ecl[t]);
                if (u) {
                    via = u;
                    break;
                }
                if (!x) break;
                x = fail[x];
            }
            fail[t] = via;
            queue[qt++] = t;
        }
    }
    for (uint32_t i = 0; ok && i < ns; i++) rn[queue[i]] = i;
    /* the dense part: whole depths from the root while they fit */
    uint32_t nd = 1;
    size_t cap = dense_bytes() / (sizeof(uint32_t) * nc);
    while (ok && nd < ns) {
        uint32_t d = depth[queue[nd]], e = nd;
        while (e < ns && depth[queue[e]] == d) e++;
        if (e > cap) break;
        nd = e;
    }
    uint32_t dlim = nd * nc;
    /* a deeper state's record: one or two cache lines where the scan reads
     * its edges and fail link (3 words, a target a word, 4 classes a word) */
    uint32_t nsp = ok ? ns - nd : 0;
    uint32_t *roff = calloc(nsp + 1, sizeof *roff); /* records' offsets in sp */
    uint64_t words = 0;
    for (uint32_t i = nd; ok && roff && i < ns; i++) {
        uint32_t ne = 0;
        for (uint32_t t = child[queue[i]]; t; t = sib[t]) ne++;
        roff[i - nd] = (uint32_t)words;
        words += 3 + ne + (ne + 3) / 4;
    }
    if ((uint64_t)dlim + words >= PF_OUT) ok = false;
    uint32_t *next = ok ? malloc(sizeof *next * (size_t)dlim) : NULL;
    uint32_t *nterm = ok ? malloc(sizeof *nterm * ns) : NULL,
             *ndict = ok ? malloc(sizeof *ndict * ns) : NULL;
    uint8_t *nout = ok ? malloc(ns) : NULL;
    uint32_t *sp = ok ? calloc(words + 1, sizeof *sp) : NULL;
    ok = ok && roff && next && nterm && ndict && nout && sp;
#define ENC(x)     ((x) < nd ? (x)*nc : dlim + roff[(x)-nd]) /* a new number's offset */
#define ENTRY(old) (ENC(rn[old]) | (out[old] ? PF_OUT : 0))
    for (uint32_t i = 0; ok && i < ns; i++) {
        uint32_t s = queue[i];
        nterm[i] = term[s];
        ndict[i] = dict[s] ? rn[dict[s]] : 0;
        nout[i] = out[s];
        if (i < nd) { /* a full row: the trie's edge, else the fail state's row */
            uint32_t *row = next + (size_t)i * nc;
            uint32_t fr = rn[fail[s]];
            for (uint32_t c = 0; c < nc; c++) row[c] = i ? next[(size_t)fr * nc + c] : 0;
            for (uint32_t t = child[s]; t; t = sib[t]) row[ecl[t]] = ENTRY(t);
        } else {
            uint32_t *r = sp + roff[i - nd], ne = 0;
            r[0] = i;
            r[1] = ENC(rn[fail[s]]);
            for (uint32_t t = child[s]; t; t = sib[t]) ne++;
            r[2] = ne;
            uint8_t *cl = (uint8_t *)(r + 3 + ne);
            ne = 0;
            for (uint32_t t = child[s]; t; t = sib[t]) {
                cl[ne] = ecl[t];
                r[3 + ne++] = ENTRY(t);
            }
        }
    }
#undef ENTRY
#undef ENC
    free(w), free(ecl), free(term), free(dict), free(out), free(roff);
    if (!ok) {
        free(next), free(nterm), free(ndict), free(nout), free(sp);
        return false;
    }
    f->next = next;
    f->term = nterm;
    f->dict = ndict;
    f->out = nout;
    f->nstates = ns;
    f->ndense = nd;
    f->dlim = dlim;
    f->sp = sp;
    f->nsp = (uint32_t)words;
    return true;
}

/* the first component of a path ("process" of "process.name") */
static sv head_of(sv path)
{
    const char *dot = memchr(path.p, '.', path.n);
    return dot ? (sv){path.p, (size_t)(dot - path.p)} : path;
}

/* MODUS_PREFILTER=explain: each automaton's size */
static void dump_field(const pf_field *f, const char *what)
{
    if (!f->npats) return;
    size_t bytes = (size_t)f->dlim * 4 + (size_t)f->nstates * 9 + (size_t)f->nsp * 4;
    fprintf(stderr, "%s %.*s: %u patterns, %u states (%u dense) x %u classes, %zu KB\n", what,
            (int)f->path.n, f->path.p, f->npats, f->nstates, f->ndense, f->ncls, bytes / 1024);
}

/* A test field whose path the prefilter reads too is matched with it: its
 * patterns, exact values and atom-less tests join the prefilter field's, so
 * that each string is looked up and scanned once per event, by the
 * prefilter, which leaves the test field's state for the programs. */
static void refs_free(pf_refs *r);

static bool link_fields(prefilter *pf)
{
    for (size_t t = 0; t < pf->ntfields; t++) {
        pf_field *tf = &pf->tfields[t];
        size_t i = 0;
        while (i < pf->nfields && (pf->fields[i].category || pf->fields[i].link ||
                                   !sv_eq(pf->fields[i].path, tf->path)))
            i++;
        if (i == pf->nfields) continue;
        pf_field *f = &pf->fields[i];
        for (uint32_t k = 0; k < tf->npats; k++) {
            const pf_pat *p = &tf->pats[k];
            pf_pat *q = pat_get(pf, f, p->lit, p->anchor);
            if (!q) return false;
            for (uint32_t j = 0; j < p->tests.n; j++)
                if (!refs_add(&q->tests, p->tests.v[j])) return false;
        }
        for (size_t k = 0; k < tf->cap; k++) {
            const pf_exact *e = &tf->tab[k];
            if (!e->value.p) continue;
            pf_exact *x = exact_get(pf, f, e->value);
            if (!x) return false;
            for (uint32_t j = 0; j < e->tests.n; j++)
                if (!refs_add(&x->tests, e->tests.v[j])) return false;
        }
        for (uint32_t j = 0; j < tf->always.n; j++)
            if (!refs_add(&f->always, tf->always.v[j])) return false;
        f->link = (uint32_t)t + 1;
        tf->link = (uint32_t)i + 1;
        /* its values and patterns are the prefilter field's now: their
         * memory goes to the automata built next */
        for (size_t k = 0; k < tf->cap; k++) {
            refs_free(&tf->tab[k].refs);
            refs_free(&tf->tab[k].tests);
        }
        free(tf->tab);
        tf->tab = NULL;
        tf->cap = tf->n = 0;
        for (uint32_t k = 0; k < tf->npats; k++) {
            refs_free(&tf->pats[k].refs);
            refs_free(&tf->pats[k].tests);
        }
        free(tf->pats);
        free(tf->pat_index);
        tf->pats = NULL;
        tf->pat_index = NULL;
        tf->npats = tf->cappats = tf->pat_icap = 0;
        refs_free(&tf->always);
    }
    return true;
}

bool prefilter_build(prefilter *pf)
{
    static int explain = -1;
    if (explain < 0)
        explain = getenv("MODUS_PREFILTER") && !strcmp(getenv("MODUS_PREFILTER"), "explain");
    if (!link_fields(pf)) return false;
    if (explain)
        fprintf(stderr, "shared table: %u tests, %u leaves, %u shared residuals, %zu test fields\n",
                pf->ntests, pf->nleaves, pf->nresids, pf->ntfields);
    for (size_t i = 0; i < pf->nfields; i++) {
        if (!build_field(&pf->fields[i])) return false;
        if (explain) dump_field(&pf->fields[i], "prefilter field");
    }
    for (size_t i = 0; i < pf->ntfields; i++) {
        if (pf->tfields[i].link) continue; /* matched by its prefilter field */
        if (!build_field(&pf->tfields[i])) return false;
        if (explain) dump_field(&pf->tfields[i], "test field");
    }
    /* fields by their first component: a whole group is skipped on events
     * without a top-level member of that name (nor a flattened "name.x") */
    for (size_t i = 0; i < pf->nfields; i++) {
        pf_field *f = &pf->fields[i];
        f->group = UINT32_MAX;
        if (f->category) continue;
        sv h = head_of(f->path);
        uint32_t g = 0;
        while (g < pf->ngroups && !sv_eq(pf->groups[g], h)) g++;
        if (g == pf->ngroups) {
            if (g == PF_GROUPS) continue;
            pf->groups[pf->ngroups++] = h;
            uint32_t j = hash_lower(h.p, h.n) & (PF_GROUPS * 2 - 1);
            while (pf->group_tab[j]) j = (j + 1) & (PF_GROUPS * 2 - 1);
            pf->group_tab[j] = (uint8_t)(g + 1);
        }
        f->group = g;
        f->rest = f->path.n > h.n ? h.n + 1 : 0; /* after "head." */
        f->sub = UINT32_MAX;
        if (!f->rest) continue;
        sv t = {f->path.p + f->rest, f->path.n - f->rest}, h2 = head_of(t);
        if (h2.n == t.n) continue; /* "head.name": nothing below */
        uint32_t k = 0;
        while (k < pf->nsubs && !(pf->subs[k].group == g && sv_eq(pf->subs[k].name, h2))) k++;
        if (k == pf->nsubs) {
            if (k == PF_SUBS) continue;
            pf->subs[pf->nsubs].group = g;
            pf->subs[pf->nsubs++].name = h2;
        }
        f->sub = k;
        f->rest2 = (uint32_t)(f->rest + h2.n + 1);
    }
    return true;
}

/* the member `name` of object `from` when it is the only member whose key
 * is `name` or starts with "name." (then a path below it is looked up from
 * there, as mj_path would find it); 0 when there is none (the path is
 * absent); UINT32_MAX when flattened keys share the head (look up the
 * whole path) */
static uint32_t sub_node(const mj_doc *d, uint32_t from, sv name)
{
    if (d->nodes[from].type != MJ_OBJECT || !d->nodes[from].count) return 0;
    uint32_t hit = 0;
    for (uint32_t k = from + 1; k; k = d->nodes[k].next) {
        const mj_node *n = &d->nodes[k];
        if (n->key_len < name.n || memcmp(n->key, name.p, name.n) != 0 ||
            (n->key_len > name.n && n->key[name.n] != '.'))
            continue;
        if (hit || n->key_len != name.n) return UINT32_MAX;
        hit = k;
    }
    return hit;
}

/* ---- per event ------------------------------------------------------------------------ */

/* cand and late are 2 * nwords: clause 0's bits, then clause 1's */
typedef struct marks {
    uint64_t *cand, *late;
    size_t nw;
    const prefilter *pf;
    pf_scratch *ps;
    bool rec;    /* record what a string hits (the value cache) instead of marking */
    bool single; /* the string is the field's whole value (not an array's element) */
    uint32_t tf; /* the test field whose state this match gives, +1; 0 none */
} marks;

static void record(pf_scratch *ps, const void *r, uintptr_t tag)
{
    if (ps->nvrec == ps->capvrec) {
        uint32_t cap = ps->capvrec ? ps->capvrec * 2 : 64;
        const void **v = realloc(ps->vrec, sizeof *v * cap);
        if (!v) { /* recorded as lost: the caller matches again, uncached */
            ps->nvrec = UINT32_MAX;
            return;
        }
        ps->vrec = v, ps->capvrec = cap;
    }
    if (ps->nvrec != UINT32_MAX) ps->vrec[ps->nvrec++] = (const void *)((uintptr_t)r | tag);
}

static void mark(const pf_refs *r, const marks *m)
{
    if (m->rec) {
        if (r->n) record(m->ps, r, 0);
        return;
    }
    if (!m->cand) return; /* a test field's state only */
    for (uint32_t i = 0; i < r->n; i++) {
        uint32_t x = r->v[i];
        uint64_t *b = x & PF_LATE ? m->late : m->cand;
        if (x & PF_SECOND) b += m->nw;
        set_bit(b, x & ~(PF_LATE | PF_SECOND));
    }
}

/* the tests of an atom that hit (or of an exact value, or without an
 * atom) are candidates (programs verify them) */
static void candidates(const pf_refs *tests, const marks *m)
{
    pf_scratch *ps = m->ps;
    if (m->rec) {
        record(ps, tests, 1);
        return;
    }
    for (uint32_t i = 0; i < tests->n; i++) {
        uint32_t ti = tests->v[i];
        ps->cand[ti >> 6] |= 1ull << (ti & 63);
    }
}

typedef struct hs_ctx {
    const pf_field *f;
    const marks *m;
    size_t n;
} hs_ctx;

static int on_hs(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                 void *arg)
{
    const hs_ctx *h = arg;
    const pf_pat *pt = &h->f->pats[id];
    (void)from, (void)flags;
    if ((pt->anchor & PF_AT_START) && to != pt->lit.n) return 0;
    if ((pt->anchor & PF_AT_END) && to != h->n) return 0;
    mark(&pt->refs, h->m);
    if (pt->tests.n) candidates(&pt->tests, h->m);
    return 0;
}

/* the automaton from state 0 over s[from, to) of a value n bytes long;
 * `row` is a state's offset: its row in the dense part, or dlim + its
 * index among the sparse states */
static void scan(const pf_field *f, const char *s, size_t from, size_t to, size_t n, const marks *m)
{
    const uint32_t *next = f->next;
    const uint8_t *cls = f->cls;
    uint32_t nc = f->ncls, row = 0, dlim = f->dlim;
    for (size_t i = from; i < to; i++) {
        uint8_t c = cls[(uint8_t)s[i]];
        uint32_t e;
        while (row >= dlim) { /* a deep state: its edges, else its fail state */
            const uint32_t *r = f->sp + (row - dlim);
            uint32_t ne = r[2];
            const uint8_t *cl = (const uint8_t *)(r + 3 + ne);
            for (uint32_t j = 0; j < ne; j++)
                if (cl[j] == c) {
                    e = r[3 + j];
                    goto got;
                }
            row = r[1];
        }
        e = next[row + c];
    got:
        row = e & ~PF_OUT;
        if (!(e & PF_OUT)) continue;
        uint32_t st = row < dlim ? row / nc : f->sp[row - dlim];
        for (uint32_t t = f->term[st] ? st : f->dict[st]; t; t = f->dict[t])
            for (uint32_t p = f->term[t]; p; p = f->pats[p - 1].next) {
                const pf_pat *pt = &f->pats[p - 1];
                if ((pt->anchor & PF_AT_START) && i + 1 != pt->lit.n) continue;
                if ((pt->anchor & PF_AT_END) && i + 1 != n) continue;
                mark(&pt->refs, m);
                if (pt->tests.n) candidates(&pt->tests, m);
            }
    }
}

static void match_raw(const pf_field *f, const char *s, size_t n, const marks *m)
{
    if (f->cap && n <= f->maxexact) {
        uint32_t hv = hash_lower(s, n);
        for (size_t h = hv & (f->cap - 1); f->tab[h].value.p; h = (h + 1) & (f->cap - 1)) {
            const pf_exact *e = &f->tab[h];
            if (e->hash == hv && sv_ieq(e->value, (sv){s, n})) {
                mark(&e->refs, m);
                if (e->tests.n) candidates(&e->tests, m);
                break;
            }
        }
    }
    if (f->always.n) candidates(&f->always, m);
    if (f->hs) {
        hs_ctx h = {f, m, n};
        hs_scan(f->hs, s, (unsigned)n, 0, m->ps->hs, on_hs, &h);
        return;
    }
    if (!f->nstates) return;
    /* matches of prefixes start at 0 and of suffixes end at n: without
     * substrings, only the first and last bytes can complete one */
    if (!f->inner && (size_t)f->maxpre + f->maxsuf < n) {
        scan(f, s, 0, f->maxpre, n, m);
        scan(f, s, n - f->maxsuf, n, n, m);
    } else {
        scan(f, s, 0, n, n, m);
    }
}

/* ---- the value cache ---------------------------------------------------------
 *
 * Telemetry repeats its strings: every event of a process carries its
 * executable, command line and parent, a library's path comes back with
 * each load, a call stack summary with each API call. What one string of a
 * field matches (the rules its atoms mark, the candidate tests, and which
 * of those hold once verified) depends on the string alone, so it is
 * recorded once, flattened to two lists without duplicates, and replayed
 * when the same string comes again: a hash and a compare instead of the
 * automaton's walk through a table too big for the cache, and verified
 * tests (globs, regexes) not verified again when the string is a field's
 * whole value. Direct-mapped by (field, string), kept from a string's second
 * sighting (a doorkeeper of hashes seen once); strings longer than PF_VC_LEN
 * and records longer than PF_VC_REC are not kept; past vc_cap the whole
 * cache is emptied (per thread). Fields without an automaton (exact values
 * only) skip it: their hash lookup is already one probe. MODUS_VALUE_CACHE=off
 * turns it off (to measure; the answers are the same).
 */

typedef struct pf_vent {
    uint64_t h;
    uint32_t fid, n;      /* field (fields, then tfields), string length */
    uint32_t nref, ntest; /* v: refs, tests, then ... */
    uint32_t gen;
    uint32_t v[]; /* ... two bitmaps over the tests: verified, held; then the string */
} pf_vent;

#define VC_KW(nt) (((nt) + 31) / 32) /* words of a bitmap over nt tests */

static size_t vent_words(const pf_vent *e)
{
    return (size_t)e->nref + e->ntest + 2 * VC_KW(e->ntest);
}

static size_t vent_bytes(const pf_vent *e)
{
    return sizeof *e + sizeof *e->v * vent_words(e) + e->n;
}

static bool vc_enabled(void)
{
    static int on = -1;
    if (on < 0) on = !(getenv("MODUS_VALUE_CACHE") && !strcmp(getenv("MODUS_VALUE_CACHE"), "off"));
    return on;
}

static void vc_flush(pf_scratch *ps)
{
    for (uint32_t i = 0; ps->vc && i < PF_VC_SLOTS; i++) {
        free(ps->vc[i]);
        ps->vc[i] = NULL;
    }
    ps->vc_bytes = 0;
}

static bool vbuf_push(pf_scratch *ps, uint32_t x)
{
    if (ps->nvbuf == ps->capvbuf) {
        uint32_t cap = ps->capvbuf ? ps->capvbuf * 2 : 256;
        uint32_t *v = realloc(ps->vbuf, sizeof *v * cap);
        if (!v) return false;
        ps->vbuf = v, ps->capvbuf = cap;
    }
    ps->vbuf[ps->nvbuf++] = x;
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* the recorded hits as refs, tests, leaves (each without duplicates) in
 * ps->vbuf; false when out of memory */
static bool flatten(const prefilter *pf, pf_scratch *ps, uint32_t *nref, uint32_t *ntest)
{
    ps->nvbuf = 0;
    if (!++ps->vtick) {
        memset(ps->vt, 0, sizeof *ps->vt * (pf->ntests + 1));
        ps->vtick = 1;
    }
    for (uint32_t i = 0; i < ps->nvrec; i++) {
        if ((uintptr_t)ps->vrec[i] & 1) continue;
        const pf_refs *r = ps->vrec[i];
        for (uint32_t k = 0; k < r->n; k++)
            if (!vbuf_push(ps, r->v[k])) return false;
    }
    if (ps->nvbuf > 1) { /* rules: sorted, unique */
        qsort(ps->vbuf, ps->nvbuf, sizeof *ps->vbuf, cmp_u32);
        uint32_t w = 1;
        for (uint32_t i = 1; i < ps->nvbuf; i++)
            if (ps->vbuf[i] != ps->vbuf[w - 1]) ps->vbuf[w++] = ps->vbuf[i];
        ps->nvbuf = w;
    }
    *nref = ps->nvbuf;
    for (uint32_t i = 0; i < ps->nvrec; i++) {
        if (!((uintptr_t)ps->vrec[i] & 1)) continue;
        const pf_refs *r = (const pf_refs *)((uintptr_t)ps->vrec[i] & ~(uintptr_t)1);
        for (uint32_t k = 0; k < r->n; k++) {
            uint32_t t = r->v[k];
            if (ps->vt[t] == ps->vtick) continue;
            ps->vt[t] = ps->vtick;
            if (!vbuf_push(ps, t)) return false;
        }
    }
    *ntest = ps->nvbuf - *nref;
    return true;
}

/* what mark() and candidates() would have done for the recorded hits */
static void replay(const uint32_t *v, uint32_t nref, uint32_t ntest, const marks *m)
{
    pf_scratch *ps = m->ps;
    for (uint32_t i = 0; i < nref && m->cand; i++) {
        uint32_t x = v[i];
        uint64_t *b = x & PF_LATE ? m->late : m->cand;
        if (x & PF_SECOND) b += m->nw;
        set_bit(b, x & ~(PF_LATE | PF_SECOND));
    }
    for (uint32_t i = 0; i < ntest; i++) set_bit(ps->cand, v[nref + i]);
}

static void match_value(const pf_field *f, const char *s, size_t n, const marks *m)
{
    pf_scratch *ps = m->ps;
    const prefilter *pf = m->pf;
    if ((!f->nstates && !f->hs) || n > PF_VC_LEN || !ps->vc) {
        match_raw(f, s, n, m);
        return;
    }
    uint32_t fid = pf->nfields && f >= pf->fields && f < pf->fields + pf->nfields
                       ? (uint32_t)(f - pf->fields)
                       : (uint32_t)(pf->nfields + (size_t)(f - pf->tfields));
    uint64_t h = sv_hash64(s, n, fid);
    pf_vent **slot = &ps->vc[h & (PF_VC_SLOTS - 1)], *e = *slot;
    if (e && e->h == h && e->fid == fid && e->n == n && !memcmp(e->v + vent_words(e), s, n)) {
        ps->vc_hits++;
        replay(e->v, e->nref, e->ntest, m);
        if (m->single && m->tf) { /* the field's value: what its tests gave before */
            const uint32_t *known = e->v + e->nref + e->ntest, *held = known + VC_KW(e->ntest),
                           *t = e->v + e->nref;
            for (uint32_t w = 0; w < VC_KW(e->ntest); w++)
                for (uint32_t b = known[w]; b; b &= b - 1) {
                    uint32_t k = w * 32 + (uint32_t)__builtin_ctz(b), ti = t[k];
                    ps->done[ti >> 6] |= 1ull << (ti & 63);
                    if (held[w] >> (k & 31) & 1)
                        ps->holds[ti >> 6] |= 1ull << (ti & 63);
                    else
                        ps->holds[ti >> 6] &= ~(1ull << (ti & 63));
                }
            ps->vref[m->tf - 1] = (struct pf_vref){(uint32_t)(slot - ps->vc), e->gen, ps->tick};
        }
        return;
    }
    ps->vc_misses++;
    /* a string is kept from its second sighting on: most of those seen
     * once (a file's path, an API call's arguments) are never seen again */
    uint32_t *seen = &ps->vseen[(h >> 20) & (PF_VC_SEEN - 1)], tag = (uint32_t)h | 1u;
    if (*seen != tag) {
        *seen = tag;
        match_raw(f, s, n, m);
        return;
    }
    marks r = *m;
    r.rec = true;
    ps->nvrec = 0;
    match_raw(f, s, n, &r);
    uint32_t nref, ntest;
    if (ps->nvrec == UINT32_MAX || !flatten(pf, ps, &nref, &ntest)) {
        match_raw(f, s, n, m); /* out of memory: uncached */
        return;
    }
    replay(ps->vbuf, nref, ntest, m);
    if (ps->nvbuf > PF_VC_REC) return;
    size_t words = ps->nvbuf + 2 * VC_KW(ntest);
    size_t bytes = sizeof(pf_vent) + sizeof(uint32_t) * words + n;
    if (ps->vc_bytes + bytes > ps->vc_cap) {
        vc_flush(ps);
        ps->vc_flushes++;
    }
    pf_vent *x = malloc(bytes); /* (the slot's old entry may be gone with the flush) */
    if (!x) return;
    *x = (pf_vent){h, fid, (uint32_t)n, nref, ntest, ++ps->vgen};
    if (ps->nvbuf) memcpy(x->v, ps->vbuf, sizeof *x->v * ps->nvbuf);
    memset(x->v + ps->nvbuf, 0, sizeof *x->v * 2 * VC_KW(ntest));
    if (n) memcpy(x->v + words, s, n);
    if (*slot) ps->vc_bytes -= vent_bytes(*slot);
    free(*slot);
    *slot = x;
    ps->vc_bytes += bytes;
    if (m->single && m->tf)
        ps->vref[m->tf - 1] = (struct pf_vref){(uint32_t)(slot - ps->vc), x->gen, ps->tick};
}

void pf_vc_learn(const prefilter *pf, pf_scratch *ps, uint32_t tf, uint32_t ti, bool r)
{
    (void)pf;
    if (!ps->vc) return;
    const struct pf_vref *ref = &ps->vref[tf];
    pf_vent *e = ps->vc[ref->slot];
    if (ref->tick != ps->tick || !e || e->gen != ref->gen) return; /* not cached, or gone */
    const uint32_t *t = e->v + e->nref;
    uint32_t lo = 0; /* ti among the entry's tests (a few dozen: a linear search) */
    while (lo < e->ntest && t[lo] != ti) lo++;
    if (lo == e->ntest) return;
    uint32_t *known = e->v + e->nref + e->ntest, *held = known + VC_KW(e->ntest);
    known[lo / 32] |= 1u << (lo % 32);
    if (r) held[lo / 32] |= 1u << (lo % 32);
}

void pf_scratch_stats(const pf_scratch *ps, uint64_t *hits, uint64_t *misses, uint64_t *flushes)
{
    *hits = ps->vc_hits;
    *misses = ps->vc_misses;
    *flushes = ps->vc_flushes;
}

/* every string of a node (the value, or an array's elements): its state */
static uint8_t match_node(const pf_field *f, const mj_doc *d, uint32_t node, const marks *m)
{
    const mj_node *nd = &d->nodes[node];
    if (nd->type == MJ_STRING) {
        marks one = *m;
        one.single = true;
        match_value(f, nd->v.s, nd->len, &one);
        return FS_STR;
    }
    if (nd->type != MJ_ARRAY) return FS_OTHER;
    uint8_t st = FS_STRARR;
    for (uint32_t k = nd->count ? node + 1 : 0; k; k = d->nodes[k].next)
        if (d->nodes[k].type == MJ_STRING)
            match_value(f, d->nodes[k].v.s, d->nodes[k].len, m);
        else
            st = FS_OTHER;
    return st;
}

/* a field's node through the event's cache (shared with the rules' evaluation) */
static uint32_t node_of(const eql_ctx *c, int id, const char *path, uint32_t len)
{
    uint32_t i = eql_field_node(c, id, path, len);
    return i != UINT32_MAX ? i : mj_path(c->doc, 0, path, len);
}

void prefilter_event(const prefilter *pf, const mj_doc *d, eql_cache *cache, const uint64_t *anc,
                     uint64_t *cand, uint64_t *late, pf_scratch *ps)
{
    size_t nw = pf->nwords;
    marks mk = {cand, late, nw, pf, ps, false, false, 0}, *m = &mk;
    memset(ps->fstate, 0, pf->ntfields);
    memset(ps->cand, 0, (pf->ntests / 64 + 1) * sizeof *ps->cand);
    memset(ps->done, 0, (pf->ntests / 64 + 1) * sizeof *ps->done);
    ps->doc = d;
    if (!++ps->tick) { /* wrapped: forget every stamp */
        memset(ps->rdone, 0, sizeof *ps->rdone * pf->nresids);
        ps->tick = 1;
    }
    eql_ctx c = {d, NULL, NULL, NULL, NULL, cache};
    /* per group: 0 absent; the root member "head" when it is the only root
     * key with that head (the rest of the path is looked up from it); 1 when
     * it is not (flattened keys: the whole path from the root) */
    uint32_t at[PF_GROUPS] = {0};
    uint32_t sat[PF_SUBS] = {0}; /* per sub: 0 not looked up, 1 absent, 2 flattened, node + 2 */
    if (pf->ngroups && d->n && d->nodes[0].type == MJ_OBJECT && d->nodes[0].count)
        for (uint32_t k = 1; k; k = d->nodes[k].next) {
            sv key = {d->nodes[k].key, d->nodes[k].key_len};
            sv h = head_of(key);
            uint32_t j = hash_lower(h.p, h.n) & (PF_GROUPS * 2 - 1);
            for (; pf->group_tab[j]; j = (j + 1) & (PF_GROUPS * 2 - 1)) {
                uint32_t g = pf->group_tab[j] - 1u;
                if (!sv_eq(pf->groups[g], h)) continue;
                at[g] = at[g] || h.n != key.n ? 1 : k;
                break;
            }
        }
    for (uint32_t i = 0; anc && i < pf->nlin; i++)
        if (anc[pf->lin[i].slot >> 6] >> (pf->lin[i].slot & 63) & 1) mark(&pf->lin[i].refs, m);
    for (size_t i = 0; i < pf->nfields; i++) {
        const pf_field *f = &pf->fields[i];
        uint32_t node = 0;
        uint8_t st = FS_MISSING;
        if (f->category) { /* as category_ok() reads it */
            node = node_of(&c, pf->cat_id, "event.category", 14);
            if (!node || d->nodes[node].type == MJ_NULL)
                node = node_of(&c, pf->etype_id, "event_type", 10);
        } else {
            uint32_t from = f->group != UINT32_MAX ? at[f->group] : 1;
            if (!from) goto done;
            if (from > 1 && f->rest) { /* the member "head" itself: from there */
                uint32_t off = f->rest;
                if (f->sub != UINT32_MAX) { /* and from "head.sub", found once per event */
                    if (!sat[f->sub]) {
                        uint32_t k = sub_node(d, from, pf->subs[f->sub].name);
                        sat[f->sub] = k == UINT32_MAX ? 2 : k ? k + 2 : 1;
                    }
                    if (sat[f->sub] == 1) goto done; /* absent */
                    if (sat[f->sub] > 2) {
                        from = sat[f->sub] - 2;
                        off = f->rest2;
                    }
                }
                const char *r = f->path.p + off;
                uint32_t rn = (uint32_t)(f->path.n - off);
                node = eql_field_node_from(&c, f->id, from, r, rn);
                if (node == UINT32_MAX) node = mj_path(d, from, r, rn);
            } else {
                node = node_of(&c, f->id, f->path.p, (uint32_t)f->path.n);
            }
        }
        if (node && d->nodes[node].type != MJ_NULL) {
            mark(&f->exists, m);
            mk.tf = f->link;
            st = match_node(f, d, node, m);
            mk.tf = 0;
        }
    done:
        if (f->link) { /* the test field of the same path: its state too */
            ps->fstate[f->link - 1] = st + 1;
            ps->fnode[f->link - 1] = node;
        }
    }
    /* a rule with two clauses needs both */
    for (size_t w = 0; w < nw; w++) {
        cand[w] &= cand[nw + w] | ~pf->has2[w];
        late[w] &= late[nw + w] | ~pf->late_has2[w];
    }
}

uint8_t pf_field_state(const prefilter *pf, pf_scratch *ps, const eql_ctx *c, uint32_t tf)
{
    if (ps->fstate[tf]) return ps->fstate[tf] - 1;
    const pf_field *f = &pf->tfields[tf];
    if (f->link) f = &pf->fields[f->link - 1]; /* not set by the prefilter: match it here */
    const mj_doc *d = c->doc;
    uint32_t node = node_of(c, f->id, f->path.p, (uint32_t)f->path.n);
    uint8_t st = FS_MISSING;
    if (node && d->nodes[node].type != MJ_NULL) {
        marks mk = {NULL, NULL, 0, pf, ps, false, false, tf + 1};
        st = match_node(f, d, node, &mk);
    }
    ps->fnode[tf] = node;
    ps->fstate[tf] = st + 1;
    return st;
}

static void refs_free(pf_refs *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void fields_free(pf_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pf_field *f = &fields[i];
        for (size_t k = 0; k < f->cap; k++) {
            refs_free(&f->tab[k].refs);
            refs_free(&f->tab[k].tests);
        }
        free(f->tab);
        refs_free(&f->exists);
        refs_free(&f->always);
        for (uint32_t k = 0; k < f->npats; k++) {
            refs_free(&f->pats[k].refs);
            refs_free(&f->pats[k].tests);
        }
        free(f->pats);
        free(f->pat_index);
        free(f->next);
        free(f->term);
        free(f->dict);
        free(f->out);
        free(f->sp);
        hs_free_database(f->hs);
    }
    free(fields);
}

void prefilter_free(prefilter *pf)
{
    fields_free(pf->fields, pf->nfields);
    fields_free(pf->tfields, pf->ntfields);
    for (uint32_t i = 0; i < pf->nlin; i++) refs_free(&pf->lin[i].refs);
    free(pf->lin);
    free(pf->always);
    free(pf->late_always);
    free(pf->has2);
    free(pf->late_has2);
    free(pf->why);
    for (uint32_t i = 0; i < pf->ntests; i++) refs_free(&pf->tests[i].leaves);
    free(pf->tests);
    free(pf->leaves);
    free(pf->test_index);
    free(pf->field_index);
    free(pf->tfield_index);
    free(pf->test_hv);
    free(pf->leaf_index);
    free(pf->resids);
    free(pf->resid_hash);
    arena_free(&pf->strings);
    memset(pf, 0, sizeof *pf);
}
