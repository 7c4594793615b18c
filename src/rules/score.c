/* score.c - Summiting the Pyramid robustness of a compiled rule.
 *
 * The observables table (data/observables.conf, embedded) gives every field a
 * rule may test a level (1 ephemeral ... 5 core to the technique) and maybe a
 * column, and every event category a column (A < U < K). A rule is scored
 * by walking its where clauses with STP's combination rules: AND takes the
 * minimum, OR the maximum, NOT keeps the score and swaps AND and OR beneath
 * it (so a filter `A and not (C and D)` scores as `A and (not C or not D)`),
 * and a sequence is the AND of its stages (its until stage included, as a
 * filter). Scores are (level, column) pairs ranked 1A < 1U < 1K < 2A < ... <
 * 5K. Each leaf of the walk (a comparison, a function, a field) is scored by
 * the first table line whose field pattern (and, if the line has one, value
 * patterns) matches; selectors such as event.action do not count; `filter`
 * lines apply only under a NOT. A stage's column is, most specific first:
 * that of the events a selector it requires picks (`events` lines:
 * event.code == "4663" is K whatever the category), that of a Sigma rule's
 * logsource (`logsource` lines), that of its event category (`source`). The
 * result names the leaf that decided the score and, when a level-5 observable
 * was capped by a weaker one (a modality rule that also pins process.name),
 * says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eql.h"
#include "eql_query.h"
#include "ruleset.h"
#include "score.h"
#include "../util/table.h"

extern const char modus_observables_conf[];
extern const size_t modus_observables_conf_len;

enum { OBS_SOURCE, OBS_FIELD, OBS_FILTER, OBS_EVENTS, OBS_LOGSOURCE, OBS_WITH };

typedef struct obs {
    uint8_t kind;
    sv pattern;           /* category, or field glob */
    sv values;            /* '|' globs, or empty */
    sv pattern2, values2; /* OBS_WITH: the second observable */
    int level;            /* 0: a selector, not an observable */
    int column;           /* -1: the stage's */
    sv reason;
    uint32_t line;
} obs;

struct modus_scorer {
    char *text;
    obs *o;
    size_t n;
};

static const char COLS[] = "AUK";

static int col_index(sv c)
{
    if (c.n != 1) return -2;
    const char *p = strchr(COLS, c.p[0]);
    if (c.p[0] == '-') return -1;
    return p ? (int)(p - COLS) : -2;
}

modus_status modus_scorer_create(const char *path, modus_scorer **out, modus_diag *diag)
{
    *out = NULL;
    modus_scorer *s = calloc(1, sizeof *s);
    if (!s) return MODUS_ENOMEM;
    const char *name = path ? path : "<embedded observables.conf>";
    size_t len = 0;
    s->text = table_text(path, modus_observables_conf, modus_observables_conf_len, 1u << 20, &len);
    if (!s->text) {
        table_diag(diag, name, 0, "cannot read the observables table");
        free(s);
        return path ? MODUS_EIO : MODUS_ENOMEM;
    }
    size_t cap = 0;
    uint32_t lineno = 0;
    const char *err = NULL;
    sv line;
    for (size_t pos = 0; !err && table_line(s->text, len, &pos, &line);) {
        lineno++;
        sv kw = table_word(&line);
        if (!kw.n || kw.p[0] == '#') continue;
        obs o;
        memset(&o, 0, sizeof o);
        o.line = lineno;
        if (sv_eq(kw, SV_LIT("source"))) {
            o.kind = OBS_SOURCE;
            o.pattern = table_word(&line);
            o.column = col_index(table_word(&line));
            o.level = 0;
            if (o.column < 0) err = "a source needs a column: A, U or K";
        } else if (sv_eq(kw, SV_LIT("logsource"))) {
            o.kind = OBS_LOGSOURCE;
            o.pattern = table_word(&line);
            o.column = col_index(table_word(&line));
            if (o.column < 0) err = "a logsource needs a column: A, U or K";
        } else if (sv_eq(kw, SV_LIT("events"))) {
            o.kind = OBS_EVENTS;
            sv pat = table_word(&line);
            const char *eq = memchr(pat.p, '=', pat.n);
            if (!eq) {
                err = "events needs FIELD=VALUES";
            } else {
                o.values = (sv){eq + 1, pat.n - (size_t)(eq + 1 - pat.p)};
                o.pattern = (sv){pat.p, (size_t)(eq - pat.p)};
            }
            o.column = col_index(table_word(&line));
            if (!err && o.column < 0) err = "events needs a column: A, U or K";
        } else if (sv_eq(kw, SV_LIT("with"))) {
            o.kind = OBS_WITH;
            for (int k = 0; k < 2; k++) {
                sv pat = table_word(&line);
                const char *eq = memchr(pat.p, '=', pat.n);
                sv v = {NULL, 0};
                if (eq) {
                    v = (sv){eq + 1, pat.n - (size_t)(eq + 1 - pat.p)};
                    pat.n = (size_t)(eq - pat.p);
                }
                if (k == 0)
                    o.pattern = pat, o.values = v;
                else
                    o.pattern2 = pat, o.values2 = v;
            }
            sv lv = table_word(&line);
            if (lv.n == 1 && lv.p[0] >= '1' && lv.p[0] <= '5')
                o.level = lv.p[0] - '0';
            else
                err = "with needs a level from 1 to 5";
            o.column = col_index(table_word(&line));
            if (!err && (o.column < -1 || !o.pattern2.n))
                err = "with needs FIELD FIELD LEVEL COLUMN";
        } else if (sv_eq(kw, SV_LIT("field")) || sv_eq(kw, SV_LIT("filter"))) {
            o.kind = sv_eq(kw, SV_LIT("field")) ? OBS_FIELD : OBS_FILTER;
            sv pat = table_word(&line);
            const char *eq = memchr(pat.p, '=', pat.n);
            if (eq) {
                o.values = (sv){eq + 1, pat.n - (size_t)(eq + 1 - pat.p)};
                pat.n = (size_t)(eq - pat.p);
            }
            o.pattern = pat;
            sv lv = table_word(&line);
            if (sv_eq(lv, SV_LIT("-")))
                o.level = 0;
            else if (lv.n == 1 && lv.p[0] >= '1' && lv.p[0] <= '5')
                o.level = lv.p[0] - '0';
            else
                err = "a field needs a level from 1 to 5, or -";
            o.column = col_index(table_word(&line));
            if (o.column < -1) err = "a field needs a column A, U, K or -";
        } else {
            err = "expected source, field, filter, with, events or logsource";
        }
        while (line.n && (*line.p == ' ' || *line.p == '\t')) line.p++, line.n--;
        o.reason = line;
        if (!err && !o.pattern.n) err = "missing pattern";
        if (!err && !table_push((void **)&s->o, &s->n, &cap, &o, sizeof o)) err = "out of memory";
    }
    if (err) {
        table_diag(diag, name, lineno, err);
        modus_scorer_destroy(s);
        return MODUS_ETABLE;
    }
    *out = s;
    return MODUS_OK;
}

void modus_scorer_destroy(modus_scorer *s)
{
    if (!s) return;
    free(s->text);
    free(s->o);
    free(s);
}

/* ---- the walk ------------------------------------------------------------------ */

typedef struct sc {
    bool set;
    int level, column;
    const obs *o;
    char field[160];
} sc;

static int rank(const sc *x)
{
    return x->level * 3 + x->column;
}

typedef struct walk {
    const modus_scorer *s;
    int stage_column;
    /* leaves that, with another leaf of their AND, form a stronger observable */
    const eql_node *boosted[16];
    const obs *boost[16];
    int nboosted;
    /* arraySearch variables: slot -> the array's path */
    char var_path[16][160];
    sc best5; /* the strongest observable seen: for "capped by" */
} walk;

static bool alt_iglob(sv pats, sv text)
{
    size_t start = 0;
    for (size_t i = 0; i <= pats.n; i++) {
        if (i < pats.n && pats.p[i] != '|') continue;
        sv p = {pats.p + start, i - start};
        if (p.n && sv_iglob(p, text)) return true;
        start = i + 1;
    }
    return false;
}

static const obs *lookup_kind(const modus_scorer *s, sv path, const eql_node *leaf, uint8_t kind,
                              bool negated)
{
    for (size_t i = 0; i < s->n; i++) {
        const obs *o = &s->o[i];
        bool kind_ok = o->kind == kind || (kind == OBS_FIELD && negated && o->kind == OBS_FILTER);
        if (!kind_ok || !sv_iglob(o->pattern, path)) continue;
        if (o->values.n) {
            /* every string literal the leaf compares with must match */
            uint32_t lits = 0, ok = 0;
            for (uint32_t k = 0; leaf && k < leaf->nkids; k++) {
                const eql_node *c = leaf->kids[k];
                if (c->kind == N_LIT && c->val.t == V_STR) {
                    lits++;
                    ok += alt_iglob(o->values, (sv){c->val.s, c->val.n});
                }
            }
            if (!lits || ok != lits) continue;
        }
        return o;
    }
    return NULL;
}

/* does a leaf test field `pat` (with literals matching `values`, if any)? */
static bool leaf_is(const eql_node *leaf, const char *path, sv pat, sv values)
{
    if (!sv_iglob(pat, sv_cstr(path))) return false;
    if (!values.n) return true;
    uint32_t lits = 0, ok = 0;
    for (uint32_t k = 0; k < leaf->nkids; k++) {
        const eql_node *c = leaf->kids[k];
        if (c->kind == N_LIT && c->val.t == V_STR) {
            lits++;
            ok += alt_iglob(values, (sv){c->val.s, c->val.n});
        }
    }
    return lits && ok == lits;
}

static const obs *lookup_field(const modus_scorer *s, sv path, const eql_node *leaf, bool negated)
{
    return lookup_kind(s, path, leaf, OBS_FIELD, negated);
}

static int source_column(const modus_scorer *s, const eql_stage *st)
{
    sv cat = st->any ? SV_LIT("*") : st->category;
    for (size_t i = 0; i < s->n; i++)
        if (s->o[i].kind == OBS_SOURCE && sv_ieq(s->o[i].pattern, cat)) return s->o[i].column;
    for (size_t i = 0; i < s->n; i++)
        if (s->o[i].kind == OBS_SOURCE && sv_eq(s->o[i].pattern, SV_LIT("*")))
            return s->o[i].column;
    return 1;
}

static const eql_node *first_field(const eql_node *n)
{
    if (!n) return NULL;
    if (n->kind == N_FIELD) return n;
    if (n->kind == N_LINEAGE) return NULL;
    for (uint32_t i = 0; i < n->nkids; i++) {
        const eql_node *f = first_field(n->kids[i]);
        if (f) return f;
    }
    return NULL;
}

static sc combine(sc a, sc b, bool take_min)
{
    if (!a.set) return b;
    if (!b.set) return a;
    bool a_wins = take_min ? rank(&a) <= rank(&b) : rank(&a) >= rank(&b);
    return a_wins ? a : b;
}

static sc score_where(walk *w, const eql_node *n, bool negated);

static sc score_leaf(walk *w, const eql_node *n, bool negated)
{
    for (int b = 0; b < w->nboosted && !negated; b++)
        if (w->boosted[b] == n) { /* with another leaf of its AND: a stronger observable */
            const obs *o = w->boost[b];
            const eql_node *f = first_field(n);
            sc r;
            memset(&r, 0, sizeof r);
            r.set = true;
            r.level = o->level;
            r.column = o->column >= 0 ? o->column : w->stage_column;
            r.o = o;
            snprintf(r.field, sizeof r.field, "%.*s", f ? (int)f->path_len : 0, f ? f->path : "");
            if (!w->best5.set || rank(&r) > rank(&w->best5)) w->best5 = r;
            return r;
        }
    sc r;
    memset(&r, 0, sizeof r);
    const eql_node *f = first_field(n);
    if (!f) return r; /* literals only: no observable */
    char path[160];
    if (f->var >= 0 && f->var < 16) {
        snprintf(path, sizeof path, "%s%s%.*s", w->var_path[f->var], f->path_len ? "." : "",
                 (int)f->path_len, f->path);
    } else {
        snprintf(path, sizeof path, "%.*s", (int)f->path_len, f->path);
    }
    const obs *o = lookup_field(w->s, sv_cstr(path), n, negated);
    if (!o || !o->level) return r;
    r.set = true;
    r.level = o->level;
    r.column = o->column >= 0 ? o->column : w->stage_column;
    r.o = o;
    snprintf(r.field, sizeof r.field, "%s", path);
    if (!w->best5.set || rank(&r) > rank(&w->best5)) w->best5 = r;
    return r;
}

/* the leaves of an AND (through nested ANDs) */
static void and_leaves(const eql_node *n, const eql_node **v, int *nv)
{
    if (n->kind == N_AND) {
        and_leaves(n->kids[0], v, nv);
        and_leaves(n->kids[1], v, nv);
    } else if (*nv < 64 && n->kind != N_OR && n->kind != N_NOT) {
        v[(*nv)++] = n;
    }
}

/* `with` lines: two observables ANDed together that make a stronger one
 * (STP implementations.rst: lsass as TargetImage is 3, with an access mask 4) */
static void find_pairs(walk *w, const eql_node *n)
{
    const eql_node *v[64];
    int nv = 0;
    and_leaves(n, v, &nv);
    for (size_t i = 0; i < w->s->n; i++) {
        const obs *o = &w->s->o[i];
        if (o->kind != OBS_WITH) continue;
        for (int a = 0; a < nv; a++) {
            const eql_node *fa = first_field(v[a]);
            if (!fa || fa->var >= 0) continue;
            char pa[160];
            snprintf(pa, sizeof pa, "%.*s", (int)fa->path_len, fa->path);
            if (!leaf_is(v[a], pa, o->pattern, o->values)) continue;
            for (int b = 0; b < nv; b++) {
                const eql_node *fb = first_field(v[b]);
                if (b == a || !fb || fb->var >= 0) continue;
                char pb[160];
                snprintf(pb, sizeof pb, "%.*s", (int)fb->path_len, fb->path);
                if (leaf_is(v[b], pb, o->pattern2, o->values2) && w->nboosted < 16) {
                    w->boosted[w->nboosted] = v[a];
                    w->boost[w->nboosted++] = o;
                    break;
                }
            }
        }
    }
}

static sc score_where(walk *w, const eql_node *n, bool negated)
{
    sc none;
    memset(&none, 0, sizeof none);
    if (!n) return none;
    switch (n->kind) {
    case N_AND:
    case N_OR: {
        bool take_min = (n->kind == N_AND) != negated; /* NOT swaps AND and OR */
        if (n->kind == N_AND && !negated) find_pairs(w, n);
        return combine(score_where(w, n->kids[0], negated), score_where(w, n->kids[1], negated),
                       take_min);
    }
    case N_NOT: return score_where(w, n->kids[0], !negated);
    case N_LIT: return none;
    case N_LINEAGE: return score_where(w, n->sub->stages[0].where, negated);
    case N_CALL: {
        const eql_fn_def *def = eql_fn_get(n->fn);
        if (def->lazy && n->nkids == 3) { /* arraySearch: the predicate over the array's elements */
            const eql_node *arr = first_field(n->kids[0]);
            int slot = (int)n->kids[1]->val.i;
            if (arr && slot >= 0 && slot < 16) {
                if (arr->var >= 0 && arr->var < 16) {
                    char base[160];
                    memcpy(base, w->var_path[arr->var], sizeof base);
                    int bl = (int)strnlen(base, 80),
                        pl = (int)(arr->path_len > 70 ? 70 : arr->path_len);
                    snprintf(w->var_path[slot], sizeof w->var_path[slot], "%.*s.%.*s", bl, base, pl,
                             arr->path);
                } else
                    snprintf(w->var_path[slot], sizeof w->var_path[slot], "%.*s",
                             (int)arr->path_len, arr->path);
            }
            return score_where(w, n->kids[2], negated);
        }
        return score_leaf(w, n, negated);
    }
    default: return score_leaf(w, n, negated);
    }
}

/* The column of the events a selector picks (`events` lines), for a comparison
 * or an OR of comparisons; -1 when it names none. */
static int events_column(const modus_scorer *s, const eql_node *n)
{
    if (!n) return -1;
    if (n->kind == N_OR) {
        int a = events_column(s, n->kids[0]), b = events_column(s, n->kids[1]);
        return a >= 0 && b >= 0 ? (a > b ? a : b) : -1; /* OR: the maximum */
    }
    if (n->kind == N_AND || n->kind == N_NOT || n->kind == N_LINEAGE) return -1;
    const eql_node *f = first_field(n);
    if (!f || f->var >= 0) return -1;
    char path[160];
    snprintf(path, sizeof path, "%.*s", (int)f->path_len, f->path);
    const obs *o = lookup_kind(s, sv_cstr(path), n, OBS_EVENTS, false);
    return o ? o->column : -1;
}

/* the first conjunct of the where clause that picks events of a known column */
static int required_events_column(const modus_scorer *s, const eql_node *n)
{
    if (!n) return -1;
    if (n->kind == N_AND) {
        int a = required_events_column(s, n->kids[0]);
        return a >= 0 ? a : required_events_column(s, n->kids[1]);
    }
    return events_column(s, n);
}

/* a Sigma rule's logsource ("product=windows,category=process_creation") against
 * a logsource line's KEYS: every key of the line present and matching */
static bool logsource_match(sv keys, const char *ls)
{
    if (sv_eq(keys, SV_LIT("*"))) return true;
    size_t start = 0;
    for (size_t i = 0; i <= keys.n; i++) {
        if (i < keys.n && keys.p[i] != ',') continue;
        sv kv = {keys.p + start, i - start};
        start = i + 1;
        const char *eq = memchr(kv.p, '=', kv.n);
        if (!eq) return false;
        sv k = {kv.p, (size_t)(eq - kv.p)}, pat = {eq + 1, kv.n - k.n - 1};
        /* find k= in ls */
        const char *p = ls;
        sv val = {NULL, 0};
        while (p && *p) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len > k.n && p[k.n] == '=' && !memcmp(p, k.p, k.n)) {
                val = (sv){p + k.n + 1, len - k.n - 1};
                break;
            }
            p = e ? e + 1 : NULL;
        }
        if (!val.p || !sv_iglob(pat, val)) return false;
    }
    return true;
}

static int logsource_column(const modus_scorer *s, const char *ls)
{
    if (!ls) return -1;
    for (size_t i = 0; i < s->n; i++)
        if (s->o[i].kind == OBS_LOGSOURCE && logsource_match(s->o[i].pattern, ls))
            return s->o[i].column;
    return -1;
}

modus_status modus_scorer_rule(const modus_scorer *s, const modus_ruleset *rs, size_t i,
                               modus_score *out)
{
    memset(out, 0, sizeof *out);
    const eql_query *q = rs->r[i].q->q;
    walk w;
    memset(&w, 0, sizeof w);
    w.s = s;
    sc total;
    memset(&total, 0, sizeof total);
    int col_min = 2;
    for (uint32_t k = 0; k <= q->nstages; k++) {
        const eql_stage *st = k < q->nstages ? &q->stages[k] : q->until;
        if (!st) continue;
        int ev = required_events_column(s, st->where);
        int ls = logsource_column(s, rs->r[i].src.logsource);
        w.stage_column = ev >= 0 ? ev : ls >= 0 ? ls : source_column(s, st);
        if (w.stage_column < col_min) col_min = w.stage_column;
        /* until and missing events (![...]) are filters: scored negated */
        total = combine(total, score_where(&w, st->where, k == q->nstages || st->missing), true);
    }
    if (!total.set) {
        out->level = 1;
        out->column = COLS[col_min];
        snprintf(out->reason, sizeof out->reason,
                 "no observable narrows the events of its source: level 1");
    } else {
        out->level = total.level;
        out->column = COLS[total.column];
        snprintf(out->reason, sizeof out->reason, "%s (%d%c): %.*s", total.field, total.level,
                 COLS[total.column], (int)(total.o->reason.n > 250 ? 250 : total.o->reason.n),
                 total.o->reason.p);
        if (w.best5.set && w.best5.level > total.level) {
            size_t k = strlen(out->reason);
            snprintf(out->reason + k, sizeof out->reason - k,
                     "; capped by it: %s alone would score %d%c (STP: AND takes the minimum)",
                     w.best5.field, w.best5.level, COLS[w.best5.column]);
        }
    }
    snprintf(out->score, sizeof out->score, "%d%c", out->level, out->column);
    return MODUS_OK;
}
