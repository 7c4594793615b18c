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
 * patterns) matches; selectors such as event.action do not count. The result
 * names the leaf that decided the score and, when a level-5 observable was
 * capped by a weaker one (a modality rule that also pins process.name), says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eql.h"
#include "eql_query.h"
#include "ruleset.h"
#include "score.h"

extern const char modus_observables_conf[];
extern const size_t modus_observables_conf_len;

enum { OBS_SOURCE, OBS_FIELD };

typedef struct obs {
    uint8_t kind;
    sv pattern; /* category, or field glob */
    sv values;  /* '|' globs, or empty */
    int level;  /* 0: a selector, not an observable */
    int column; /* -1: the stage's */
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

static sv tok(sv *line)
{
    while (line->n && (*line->p == ' ' || *line->p == '\t')) line->p++, line->n--;
    size_t i = 0;
    while (i < line->n && line->p[i] != ' ' && line->p[i] != '\t') i++;
    sv t = {line->p, i};
    line->p += i;
    line->n -= i;
    return t;
}

modus_status modus_scorer_create(const char *path, modus_scorer **out, modus_diag *diag)
{
    *out = NULL;
    modus_scorer *s = calloc(1, sizeof *s);
    if (!s) return MODUS_ENOMEM;
    const char *name = path ? path : "<embedded observables.conf>";
    size_t len = modus_observables_conf_len;
    if (path) {
        FILE *f = fopen(path, "rb");
        s->text = f ? malloc(1u << 20) : NULL;
        len = s->text ? fread(s->text, 1, (1u << 20) - 1, f) : 0;
        if (f) fclose(f);
        if (!s->text) {
            if (diag) {
                memset(diag, 0, sizeof *diag);
                snprintf(diag->file, sizeof diag->file, "%s", name);
                snprintf(diag->message, sizeof diag->message, "cannot read the observables table");
            }
            free(s);
            return MODUS_EIO;
        }
    } else {
        s->text = malloc(len + 1);
        if (!s->text) {
            free(s);
            return MODUS_ENOMEM;
        }
        memcpy(s->text, modus_observables_conf, len);
    }
    s->text[len] = 0;
    size_t cap = 0;
    uint32_t lineno = 0;
    const char *err = NULL;
    for (size_t pos = 0; pos < len && !err;) {
        size_t e = pos;
        while (e < len && s->text[e] != '\n') e++;
        sv line = {s->text + pos, e - pos};
        pos = e + 1;
        lineno++;
        while (line.n && (line.p[line.n - 1] == '\r' || line.p[line.n - 1] == ' ')) line.n--;
        sv kw = tok(&line);
        if (!kw.n || kw.p[0] == '#') continue;
        obs o;
        memset(&o, 0, sizeof o);
        o.line = lineno;
        if (sv_eq(kw, SV_LIT("source"))) {
            o.kind = OBS_SOURCE;
            o.pattern = tok(&line);
            o.column = col_index(tok(&line));
            o.level = 0;
            if (o.column < 0) err = "a source needs a column: A, U or K";
        } else if (sv_eq(kw, SV_LIT("field"))) {
            o.kind = OBS_FIELD;
            sv pat = tok(&line);
            const char *eq = memchr(pat.p, '=', pat.n);
            if (eq) {
                o.values = (sv){eq + 1, pat.n - (size_t)(eq + 1 - pat.p)};
                pat.n = (size_t)(eq - pat.p);
            }
            o.pattern = pat;
            sv lv = tok(&line);
            if (sv_eq(lv, SV_LIT("-")))
                o.level = 0;
            else if (lv.n == 1 && lv.p[0] >= '1' && lv.p[0] <= '5')
                o.level = lv.p[0] - '0';
            else
                err = "a field needs a level from 1 to 5, or -";
            o.column = col_index(tok(&line));
            if (o.column < -1) err = "a field needs a column A, U, K or -";
        } else {
            err = "expected 'source' or 'field'";
        }
        while (line.n && (*line.p == ' ' || *line.p == '\t')) line.p++, line.n--;
        o.reason = line;
        if (!err && !o.pattern.n) err = "missing pattern";
        if (err) break;
        if (s->n == cap) {
            cap = cap ? cap * 2 : 128;
            obs *v = realloc(s->o, sizeof *v * cap);
            if (!v) {
                err = "out of memory";
                break;
            }
            s->o = v;
        }
        s->o[s->n++] = o;
    }
    if (err) {
        if (diag) {
            memset(diag, 0, sizeof *diag);
            snprintf(diag->file, sizeof diag->file, "%s", name);
            diag->line = lineno;
            snprintf(diag->message, sizeof diag->message, "%s", err);
        }
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

static const obs *lookup_field(const modus_scorer *s, sv path, const eql_node *leaf)
{
    for (size_t i = 0; i < s->n; i++) {
        const obs *o = &s->o[i];
        if (o->kind != OBS_FIELD || !sv_iglob(o->pattern, path)) continue;
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

static sc score_leaf(walk *w, const eql_node *n)
{
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
    const obs *o = lookup_field(w->s, sv_cstr(path), n);
    if (!o || !o->level) return r;
    r.set = true;
    r.level = o->level;
    r.column = o->column >= 0 ? o->column : w->stage_column;
    r.o = o;
    snprintf(r.field, sizeof r.field, "%s", path);
    if (!w->best5.set || rank(&r) > rank(&w->best5)) w->best5 = r;
    return r;
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
        return score_leaf(w, n);
    }
    default: return score_leaf(w, n);
    }
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
        w.stage_column = source_column(s, st);
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
