/* out_prefilter.c - which rules can an event possibly match?
 *
 * Most rules pin a field to literal values somewhere in the AND chain at
 * the top of their where clause: `process.name in ("a.exe", "b.exe")`,
 * `event.action == "load"`, `dll.name : "x.dll"`. At load time each stage of
 * each rule picks one such conjunct (its guard), preferring fields with many
 * distinct values (names, extensions, API names) over low-cardinality ones
 * (event.action, event.type). Guards go into one hash table per field, keyed
 * by the value lower-cased (a superset for case-sensitive `==`; the rule's
 * full evaluation decides). For an event, every guarded field is read once
 * and looked up: only the rules whose guard fires, plus the rules without a
 * guard, are evaluated. A rule is guarded only if all its stages (and its
 * until stage) are; lineage sub-queries make it unguarded. `modus rules
 * check` says which rules defeat the prefilter.
 */
#include <stdlib.h>
#include <string.h>

#include "../decode/event.h"
#include "../rules/eql_query.h"
#include "prefilter.h"

static uint32_t hash_lower(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)ascii_lower(p[i])) * 16777619u;
    return h;
}

/* how much a field narrows the candidates: higher is better */
static int field_rank(sv f)
{
    if (sv_iends(f, SV_LIT(".name")) || sv_iends(f, SV_LIT(".extension")) ||
        sv_iends(f, SV_LIT("api.name")) || sv_iends(f, SV_LIT(".executable")))
        return 3;
    if (sv_istarts(f, SV_LIT("event.")) || sv_eq(f, SV_LIT("event_type")) ||
        sv_eq(f, SV_LIT("opcode")))
        return 1;
    return 2;
}

static bool literal_values(const eql_node *n, bool wildcard_ok)
{
    for (uint32_t i = 1; i < n->nkids; i++) {
        const eql_node *k = n->kids[i];
        if (k->kind != N_LIT || k->val.t != V_STR) return false;
        if (!wildcard_ok && (memchr(k->val.s, '*', k->val.n) || memchr(k->val.s, '?', k->val.n)))
            return false;
    }
    return n->nkids > 1;
}

/* Is n a conjunct of the form FIELD op literal(s) that can guard? */
static bool guard_of(const eql_node *n, const eql_node **field)
{
    const eql_node *f = n->nkids ? n->kids[0] : NULL;
    if (!f || f->kind != N_FIELD || f->var >= 0 || f->alias >= 0 || !f->path_len ||
        memchr(f->path, '[', f->path_len))
        return false;
    switch (n->kind) {
    case N_EQ:
        if (n->kids[1]->kind != N_LIT || n->kids[1]->val.t != V_STR) return false;
        break;
    case N_IN:
        if (n->neg || !literal_values(n, true)) return false;
        break;
    case N_COLON:
    case N_LIKE:
        if (!literal_values(n, false)) return false; /* wildcards: no exact value to index */
        break;
    default: return false;
    }
    *field = f;
    return true;
}

static void best_guard(const eql_node *n, const eql_node **best_n, const eql_node **best_f)
{
    if (!n) return;
    if (n->kind == N_AND) {
        best_guard(n->kids[0], best_n, best_f);
        best_guard(n->kids[1], best_n, best_f);
        return;
    }
    const eql_node *f;
    if (!guard_of(n, &f)) return;
    if (!*best_n || field_rank((sv){f->path, f->path_len}) >
                        field_rank((sv){(*best_f)->path, (*best_f)->path_len})) {
        *best_n = n;
        *best_f = f;
    }
}

static int field_index(prefilter *pf, sv f)
{
    for (size_t i = 0; i < pf->nfields; i++)
        if (sv_eq(pf->fields[i].path, f)) return (int)i;
    if (pf->nfields == PF_MAX_FIELDS) return -1;
    pf_field *pfld = &pf->fields[pf->nfields];
    memset(pfld, 0, sizeof *pfld);
    pfld->path = f;
    return (int)pf->nfields++;
}

static bool add_entry(pf_field *f, sv value, size_t rule)
{
    if (f->n * 2 >= f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        pf_entry *t = calloc(cap, sizeof *t);
        if (!t) return false;
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
    while (f->tab[h].value.p) {
        pf_entry *e = &f->tab[h];
        if (e->hash == hv && sv_ieq(e->value, value)) {
            for (size_t i = 0; i < e->nrules; i++)
                if (e->rules[i] == rule) return true;
            size_t *r = realloc(e->rules, sizeof *r * (e->nrules + 1));
            if (!r) return false;
            r[e->nrules++] = rule;
            e->rules = r;
            return true;
        }
        h = (h + 1) & (f->cap - 1);
    }
    pf_entry *e = &f->tab[h];
    e->value = value;
    e->hash = hv;
    e->rules = malloc(sizeof *e->rules);
    if (!e->rules) return false;
    e->rules[0] = rule;
    e->nrules = 1;
    f->n++;
    return true;
}

/* guard one stage; false if it cannot be guarded */
static bool guard_stage(prefilter *pf, const eql_stage *st, size_t rule)
{
    const eql_node *n = NULL, *f = NULL;
    best_guard(st->where, &n, &f);
    if (!n) return false;
    int fi = field_index(pf, (sv){f->path, f->path_len});
    if (fi < 0) return false;
    if (n->kind == N_EQ)
        return add_entry(&pf->fields[fi], (sv){n->kids[1]->val.s, n->kids[1]->val.n}, rule);
    for (uint32_t i = 1; i < n->nkids; i++)
        if (!add_entry(&pf->fields[fi], (sv){n->kids[i]->val.s, n->kids[i]->val.n}, rule))
            return false;
    return true;
}

bool prefilter_add(prefilter *pf, const eql_query *q, size_t rule)
{
    if (q->nlineage) return false;
    for (uint32_t i = 0; i < q->nstages; i++)
        if (!guard_stage(pf, &q->stages[i], rule)) return false;
    if (q->until && !guard_stage(pf, q->until, rule)) return false;
    return true;
}

static void fire(prefilter *pf, const pf_field *f, const char *s, size_t n, pf_fire_fn fn,
                 void *ctx)
{
    if (!f->cap) return;
    uint32_t hv = hash_lower(s, n);
    for (size_t h = hv & (f->cap - 1); f->tab[h].value.p; h = (h + 1) & (f->cap - 1)) {
        const pf_entry *e = &f->tab[h];
        if (e->hash == hv && sv_ieq(e->value, (sv){s, n}))
            for (size_t i = 0; i < e->nrules; i++) fn(ctx, e->rules[i]);
    }
    (void)pf;
}

void prefilter_event(prefilter *pf, const mj_doc *d, pf_fire_fn fn, void *ctx)
{
    for (size_t i = 0; i < pf->nfields; i++) {
        const pf_field *f = &pf->fields[i];
        uint32_t node = mj_path(d, 0, f->path.p, f->path.n);
        if (!node) continue;
        const mj_node *nd = &d->nodes[node];
        if (nd->type == MJ_STRING) {
            fire(pf, f, nd->v.s, nd->len, fn, ctx);
        } else if (nd->type == MJ_ARRAY) {
            for (uint32_t k = nd->count ? node + 1 : 0; k; k = d->nodes[k].next)
                if (d->nodes[k].type == MJ_STRING)
                    fire(pf, f, d->nodes[k].v.s, d->nodes[k].len, fn, ctx);
        }
    }
}

void prefilter_free(prefilter *pf)
{
    for (size_t i = 0; i < pf->nfields; i++) {
        pf_field *f = &pf->fields[i];
        for (size_t k = 0; k < f->cap; k++) free(f->tab[k].rules);
        free(f->tab);
    }
    pf->nfields = 0;
}
