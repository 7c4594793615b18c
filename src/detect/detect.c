/* detect.c - evaluate a rule set over events: events in, matches out.
 *
 * The pipeline's detection stage, between the rules (src/rules: compiled,
 * immutable) and the output (src/output: an alert rendered as SPEC §6).
 *
 * How it works, per alerter (one per thread), built once from the rule set:
 *  1. The shared predicate table (detect_prefilter.c). Every where clause of
 *     every rule - all stages, `until`, lineage sub-queries - is cut into
 *     leaves: a comparison of one plain field with literals (==, !=, :, like,
 *     regex, in, not in, startsWith/endsWith/stringContains/wildcard, == null).
 *     A leaf's tests, (field, operator, case, value), are unique across the
 *     rules: an exact value sits in the field's hash (folded), a prefix,
 *     suffix, substring or wildcard pattern in the field's Aho-Corasick
 *     automaton by its best literal atom, a regex or atom-less pattern in the
 *     field's "always" list. Identical leaves of different rules are one leaf.
 *  2. A program per stage (detect_program.c): the where clause as prefix-order
 *     instructions over leaf values (and, or, not, constants) with the tree
 *     walker's three-valued logic; what is not a leaf (field-to-field,
 *     arithmetic, other functions, lineage, aliases, numbers, node kinds added
 *     later) is a residual subtree that eql_eval decides. Any AST compiles.
 *  3. Candidates (the prefilter, same file): a necessary condition per rule,
 *     category and action first, matched on every event; then the rule's
 *     witnesses (detect_program.c, as rsigma has them): per program, a few
 *     clauses of necessary leaves or self-contained residuals (arraySearch,
 *     number comparisons), each clause needing one member that holds; a
 *     rule is a candidate when one of its programs' witnesses hold. The
 *     witnesses live apart from the programs (a rule's in a line or two), a
 *     leaf member with its test field and its tests' candidate bits, so that
 *     most members are answered without the program or the table. Only
 *     candidates run, in rule order, through the query runtime
 *     (detect_query.c), which keeps sequences and asks match_stage() for
 *     each stage's answer.
 *  4. Per event, a field is read and matched against all its tests once,
 *     the first time a program reads one of its leaves: hash, automaton and
 *     "always" list mark candidate tests (a bit per test); a leaf without a
 *     candidate test is false (or true, negated) at once; otherwise its
 *     candidate tests are verified, each once per event. A residual that
 *     depends on the event alone (arraySearch, a number comparison, a
 *     function of one event's fields) is one entry for all the rules that
 *     write it (pf->resids, structural equality) and is evaluated at most
 *     once per event (pf_scratch.rval).
 * Invariants: a program's answer is the tree walker's for every event (null
 * included): a leaf's value on a missing field is the walker's on an empty
 * event, computed at build time; fields of other types (numbers, objects,
 * mixed arrays) go to the walker. tests/unit/test_program.c and
 * fuzz/fuzz_program.c check random clauses; tests/cli/test_rules.sh checks
 * the alerts of 787 rules against every rule on every event.
 * The prefilter reads its fields from the event's first two path levels,
 * each found once per event ("process", then "process.Ext"), unless
 * flattened keys share them (then the whole path, as the tree walker does).
 * Cost: per event, the prefilter's fields, then each field some candidate
 * reads (hash + automaton over its bytes), then the candidates' witnesses
 * and programs. A test field whose path the prefilter reads is matched in
 * the prefilter field's automaton (one scan a string). Strings repeat
 * (a process's executable and command line on all its events, a library's
 * path, a call stack summary): what a string matched (rules, candidate
 * tests, and the tests verified on it) is kept in a value cache per thread
 * (2 MB, from a string's second sighting on) and replayed; the tree
 * walker keeps a pattern list's answer per string the same way (eql_cache's
 * memo). Memory: an automaton keeps full rows for its shallowest
 * states only (128 KB a field), deeper states as edges and fail links.
 * How to see it: MODUS_PREFILTER=explain prints each rule's condition and
 * each stage's program (MODUS_PREFILTER_FULL=1: every atom and instruction);
 * MODUS_PREFILTER=off runs every rule on every event with the tree walker (the
 * reference); MODUS_PROGRAMS=off keeps the prefilter and the tree walker;
 * MODUS_VECTORSCAN=on scans fields with many substrings with Vectorscan;
 * MODUS_WITNESS=off keeps the prefilter's candidates without witnesses;
 * MODUS_AC_DENSE_KB sets the automata's dense part (default 128 KB a field);
 * MODUS_VALUE_CACHE=off matches every string afresh (the answers are the same);
 * `modus scan --profile` prints candidate rules per event (mean, p95), the
 * value cache's hit rate, the
 * rules that keep tree-walker parts (all with MODUS_PROFILE_ALL=1) and the
 * per-rule cost.
 *
 * An alert is built only when a rule fires (src/output/out_alert.c), so
 * alerting costs nothing on the events that do not match.
 * State: the sequences' partial matches and the process tree of all the
 * rules share one byte cap (eql_state, detect_query.c); after each event the
 * stalest entries beyond it are evicted and counted (modus_alerter_state).
 * Threads: detect_pool.c runs one alerter per thread on a host's events;
 * the others borrow the first one's predicate table and programs
 * (alerter_create_like), which stay read-only while events run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../decode/event.h"
#include "../output/alert.h"
#include "../util/blob.h"
#include "../rules/ruleset.h"
#include "../util/limits.h"
#include "detect_query.h"
#include "detect_sample.h"
#include "pool.h"
#include "prefilter.h"
#include "program.h"

typedef struct rule_run {
    struct modus_alerter *a;
    size_t rule;
    modus_query_run *run;
    eql_runtime *rt;           /* run's runtime */
    uint64_t runs, ns, alerts; /* --profile */
    char robustness[4];        /* STP score, e.g. "5K": computed at the rule's first alert */
    bool scored;
    const eql_stage **st; /* every stage, `until`, lineage sub-queries ... */
    pf_prog *prog;        /* ... and its program */
    uint32_t nprog;
    const char *resid; /* why part of the rule stays with the tree walker, or NULL */
    pf_witness *wit;   /* per program: its witnesses; the rule runs only on events
                          where some program's hold (NULL: every candidate event) */
} rule_run;

struct modus_alerter {
    const modus_engine *eng;
    const modus_ruleset *rs;
    modus_alert_fn fn;
    void *ctx;
    rule_run *runs;
    uint64_t alerts;
    bool profile;
    prefilter pf;
    uint64_t *cand, *late; /* per event: candidate rules (prefilter_event) */
    eql_procs *procs;      /* the process tree of every lineage rule */
    size_t unguarded, residual;
    modus_scanner *side;
    const modus_event *cur; /* the event going through the rules, decoded (NULL: none) */
    buf out;
    bool programs;    /* stages run as programs over the predicate table */
    pf_scratch ps;    /* the current event's predicate bits */
    arena prog_arena; /* the programs */
    arena wit_arena;  /* the witnesses, apart: the per-event check reads only them */
    uint64_t *ncand;  /* --profile: events by number of candidate rules */
    uint64_t events;
    arena wscratch;       /* the witnesses' tree-walker comparisons ... */
    eql_val wvars[64];    /* ... and their arraySearch variables */
    modus_scorer *scorer; /* rule.robustness in alerts, created at the first alert */
    size_t witnessed;     /* rules gated by witnesses */
    eql_state state;      /* sequences and the process tree, capped (detect_query.c) */
    bool borrowed;        /* pf and the programs are another alerter's (alerter_create_like) */
};

static void emit(void *arg, const char *const *texts, const size_t *lens, uint32_t n)
{
    rule_run *rr = arg;
    modus_alerter *a = rr->a;
    if (!n) return;
    buf *b = &a->out;
    if (!rr->scored) { /* scoring every rule at load cost ~20 % of loading 787 */
        rr->scored = true;
        if (!a->scorer) modus_scorer_create(NULL, &a->scorer, NULL); /* the embedded table */
        modus_score s;
        if (a->scorer && modus_scorer_rule(a->scorer, a->rs, rr->rule, &s) == MODUS_OK)
            memcpy(rr->robustness, s.score, sizeof s.score);
    }
    /* the last event is the current one when its text is the current
     * event's own, or the shared copy rules keep of it (blob.h): its
     * decoding is at hand */
    const modus_event *cur = a->cur;
    const modus_event *last = NULL;
    if (cur && cur->sc->eng == a->eng &&
        (texts[n - 1] == cur->text ||
         (cur->sc->cur_blob && texts[n - 1] == cur->sc->cur_blob->text)) &&
        lens[n - 1] == cur->len)
        last = cur;
    if (!alert_render(b, &a->rs->r[rr->rule].src, rr->robustness, a->side, last, texts, lens, n))
        return;
    a->alerts++;
    rr->alerts++;
    a->fn(a->ctx, b->p, b->n, rr->rule);
}

/* The program of a stage (the alerter's), else the tree walker. */
static bool match_stage(void *arg, eql_ctx *c, const eql_stage *st)
{
    rule_run *rr = arg;
    modus_alerter *a = rr->a;
    if (c->doc == a->ps.doc)
        for (uint32_t i = 0; i < rr->nprog; i++)
            if (rr->st[i] == st) return prog_run(&rr->prog[i], &a->pf, &a->ps, c) == 1;
    return eql_true(eql_eval(c, st->where));
}

static bool compile_stage(modus_alerter *a, rule_run *rr, const eql_stage *st)
{
    uint32_t i = rr->nprog++;
    rr->st[i] = st;
    if (!prog_compile(&a->pf, &a->prog_arena, st->where, &rr->prog[i])) return false;
    if (rr->prog[i].nresid && !rr->resid) rr->resid = rr->prog[i].resid;
    static int explain = -1;
    if (explain < 0)
        explain = getenv("MODUS_PREFILTER") && !strcmp(getenv("MODUS_PREFILTER"), "explain");
    if (explain) {
        char label[64];
        snprintf(label, sizeof label, "rule %zu stage %u program", rr->rule, i);
        prog_dump(&rr->prog[i], &a->pf, label);
    }
    return true;
}

/* every where clause of a rule, as programs over the shared table */
static bool compile_rule(modus_alerter *a, rule_run *rr, const eql_query *q)
{
    uint32_t n = q->nstages + (q->until ? 1 : 0);
    for (uint32_t i = 0; i < q->nlineage; i++) n += q->lineage[i]->sub->nstages;
    rr->st = arena_alloc(&a->prog_arena, sizeof *rr->st * (n ? n : 1));
    rr->prog = arena_alloc(&a->prog_arena, sizeof *rr->prog * (n ? n : 1));
    if (!rr->st || !rr->prog) return false;
    for (uint32_t i = 0; i < q->nstages; i++)
        if (!compile_stage(a, rr, &q->stages[i])) return false;
    if (q->until && !compile_stage(a, rr, q->until)) return false;
    for (uint32_t i = 0; i < q->nlineage; i++)
        for (uint32_t k = 0; k < q->lineage[i]->sub->nstages; k++)
            if (!compile_stage(a, rr, &q->lineage[i]->sub->stages[k])) return false;
    if (rr->resid) a->residual++;
    query_run_set_match(rr->run, match_stage, rr);
    /* witnesses: every program (stage, `until`, sub-query) needs one; a
     * sequence with missing events sees every event (its windows close on time) */
    static int wit_on = -1;
    if (wit_on < 0) wit_on = !(getenv("MODUS_WITNESS") && !strcmp(getenv("MODUS_WITNESS"), "off"));
    if (!wit_on || eql_query_has_missing(q) || !rr->nprog) return true;
    pf_witness *w = arena_alloc(&a->wit_arena, sizeof *w * rr->nprog);
    if (!w) return false;
    for (uint32_t i = 0; i < rr->nprog; i++)
        if (!prog_witness(&a->pf, &a->wit_arena, &rr->prog[i], &w[i])) return true;
    rr->wit = w;
    a->witnessed++;
    static int explain = -1;
    if (explain < 0)
        explain = getenv("MODUS_PREFILTER") && !strcmp(getenv("MODUS_PREFILTER"), "explain");
    for (uint32_t i = 0; explain && i < rr->nprog; i++) {
        char label[64];
        snprintf(label, sizeof label, "rule %zu stage %u witnesses", rr->rule, i);
        prog_witness_dump(&w[i], &a->pf, label);
    }
    return true;
}

/* can some program of the rule be true on the event (its witnesses)? */
static bool witnessed(modus_alerter *a, const rule_run *rr, const modus_event *ev)
{
    if (!rr->wit) return true;
    eql_ctx c = {&ev->sc->doc, &a->wscratch, a->wvars, NULL, NULL, &ev->sc->cache};
    for (uint32_t i = 0; i < rr->nprog; i++)
        if (prog_witness_holds(&rr->wit[i], &a->pf, &a->ps, &c)) return true;
    return false;
}

modus_status modus_alerter_create(const modus_engine *e, const modus_ruleset *rs, modus_alert_fn fn,
                                  void *ctx, modus_alerter **out)
{
    *out = NULL;
    modus_alerter *a = calloc(1, sizeof *a);
    if (!a) return MODUS_ENOMEM;
    a->eng = e;
    a->rs = rs;
    a->fn = fn;
    a->ctx = ctx;
    eql_state_init(&a->state, MODUS_STATE_BYTES);
    a->runs = calloc(rs->n ? rs->n : 1, sizeof *a->runs);
    if (!a->runs || modus_scanner_create(e, &a->side) != MODUS_OK) {
        modus_alerter_destroy(a);
        return MODUS_ENOMEM;
    }
    const char *env = getenv("MODUS_PREFILTER");
    bool pf_off = env && !strcmp(env, "off");
    const char *penv = getenv("MODUS_PROGRAMS");
    a->programs = !pf_off && !(penv && !strcmp(penv, "off"));
    arena_init(&a->prog_arena, 1 << 16);
    arena_init(&a->wit_arena, 1 << 16);
    arena_init(&a->wscratch, 1 << 12);
    if (!prefilter_init(&a->pf, rs->n, pf_off) ||
        !(a->cand = calloc(2 * a->pf.nwords, sizeof *a->cand)) ||
        !(a->late = calloc(2 * a->pf.nwords, sizeof *a->late))) {
        modus_alerter_destroy(a);
        return MODUS_ENOMEM;
    }
    uint32_t lin_base = 0, nslots = 0;
    for (size_t i = 0; i < rs->n; i++) {
        uint32_t n = rs->r[i].q->q->nlineage;
        nslots += n < 64 ? n : 64;
    }
    if (nslots && !(a->procs = eql_procs_create(nslots, &a->state))) {
        modus_alerter_destroy(a);
        return MODUS_ENOMEM;
    }
    for (size_t i = 0; i < rs->n; i++) {
        a->runs[i].a = a;
        a->runs[i].rule = i;
        const eql_query *q = rs->r[i].q->q;
        uint32_t nlin = q->nlineage < 64 ? q->nlineage : 64;
        if (query_run_create_shared(rs->r[i].q, emit, &a->runs[i], nlin ? a->procs : NULL, lin_base,
                                    &a->state, &a->runs[i].run) != MODUS_OK) {
            modus_alerter_destroy(a);
            return MODUS_ENOMEM;
        }
        a->runs[i].rt = query_run_runtime(a->runs[i].run);
        /* a rule runs only on the events that satisfy its derived condition;
         * MODUS_PREFILTER=off evaluates every rule (to check the prefilter) */
        if (!prefilter_add(&a->pf, q, i, lin_base)) a->unguarded++;
        lin_base += nlin;
        if (a->programs && !compile_rule(a, &a->runs[i], q)) {
            modus_alerter_destroy(a);
            return MODUS_ENOMEM;
        }
    }
    if (!prefilter_build(&a->pf) || !pf_scratch_init(&a->pf, &a->ps) ||
        !(a->ncand = calloc(rs->n + 1, sizeof *a->ncand))) {
        modus_alerter_destroy(a);
        return MODUS_ENOMEM;
    }
    *out = a;
    return MODUS_OK;
}

/* -j N: an alerter that borrows base's compiled rules - the predicate table
 * and the programs, read-only while events run (all per-event bits live in
 * pf_scratch) - and keeps its own runtimes, process tree, state and
 * scratch. base must outlive it. */
modus_status alerter_create_like(const modus_alerter *base, modus_alert_fn fn, void *ctx,
                                 modus_alerter **out)
{
    *out = NULL;
    const modus_ruleset *rs = base->rs;
    modus_alerter *a = calloc(1, sizeof *a);
    if (!a) return MODUS_ENOMEM;
    a->eng = base->eng;
    a->rs = rs;
    a->fn = fn;
    a->ctx = ctx;
    a->borrowed = true;
    a->pf = base->pf;
    a->programs = base->programs;
    a->unguarded = base->unguarded;
    a->residual = base->residual;
    a->witnessed = base->witnessed;
    eql_state_init(&a->state, base->state.limit);
    arena_init(&a->prog_arena, 64);
    arena_init(&a->wit_arena, 64);
    arena_init(&a->wscratch, 1 << 12);
    uint32_t nslots = 0;
    for (size_t i = 0; i < rs->n; i++) {
        uint32_t n = rs->r[i].q->q->nlineage;
        nslots += n < 64 ? n : 64;
    }
    if (!(a->runs = calloc(rs->n ? rs->n : 1, sizeof *a->runs)) ||
        modus_scanner_create(a->eng, &a->side) != MODUS_OK ||
        !(a->cand = calloc(2 * a->pf.nwords, sizeof *a->cand)) ||
        !(a->late = calloc(2 * a->pf.nwords, sizeof *a->late)) ||
        (nslots && !(a->procs = eql_procs_create(nslots, &a->state))) ||
        !pf_scratch_init(&a->pf, &a->ps) || !(a->ncand = calloc(rs->n + 1, sizeof *a->ncand))) {
        modus_alerter_destroy(a);
        return MODUS_ENOMEM;
    }
    uint32_t lin_base = 0;
    for (size_t i = 0; i < rs->n; i++) {
        rule_run *rr = &a->runs[i];
        const rule_run *br = &base->runs[i];
        rr->a = a;
        rr->rule = i;
        memcpy(rr->robustness, br->robustness, sizeof rr->robustness);
        rr->st = br->st;
        rr->prog = br->prog;
        rr->nprog = br->nprog;
        rr->resid = br->resid;
        rr->wit = br->wit;
        uint32_t nlin = rs->r[i].q->q->nlineage < 64 ? rs->r[i].q->q->nlineage : 64;
        if (query_run_create_shared(rs->r[i].q, emit, rr, nlin ? a->procs : NULL, lin_base,
                                    &a->state, &rr->run) != MODUS_OK) {
            modus_alerter_destroy(a);
            return MODUS_ENOMEM;
        }
        rr->rt = query_run_runtime(rr->run);
        lin_base += nlin;
        if (a->programs) query_run_set_match(rr->run, match_stage, rr);
    }
    *out = a;
    return MODUS_OK;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* as modus_query_run_event (the event is JSON), on the runtime directly */
static void run_event(rule_run *rr, const modus_event *ev)
{
    modus_scanner *sc = ev->sc;
    eql_runtime_event(rr->rt, &sc->doc, ev->text, ev->len, &sc->scratch, &sc->cur_blob, &sc->cache);
}

static void run_one(modus_alerter *a, rule_run *rr, const modus_event *ev)
{
    if (!a->profile) {
        run_event(rr, ev);
        return;
    }
    uint64_t t0 = now_ns();
    run_event(rr, ev);
    rr->ns += now_ns() - t0;
    rr->runs++;
}

/* The candidates, in rule order (as with the prefilter off): rules whose
 * condition the event satisfies, rules without one, and sequences with
 * partial matches open whose later stages the event may advance. */
void modus_alerter_event(modus_alerter *a, const modus_event *ev)
{
    if (!ev->is_json) return;
    const prefilter *pf = &a->pf;
    size_t nw = pf->nwords;
    memset(a->cand, 0, 2 * nw * sizeof *a->cand);
    memset(a->late, 0, 2 * nw * sizeof *a->late);
    const uint64_t *anc = a->procs ? eql_procs_event(a->procs, &ev->sc->doc, &ev->sc->cache) : NULL;
    prefilter_event(pf, &ev->sc->doc, &ev->sc->cache, anc, a->cand, a->late, &a->ps);
    uint32_t ncand = 0;
    a->cur = ev;
    for (size_t w = 0; w < nw; w++) {
        uint64_t bits = a->cand[w] | pf->always[w];
        uint64_t maybe = (a->late[w] | pf->late_always[w]) & ~bits;
        while (maybe) {
            size_t r = w * 64 + (size_t)__builtin_ctzll(maybe);
            maybe &= maybe - 1;
            if (eql_runtime_open(a->runs[r].rt)) bits |= 1ull << (r & 63);
        }
        while (bits) {
            size_t r = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (!witnessed(a, &a->runs[r], ev)) continue;
            ncand++;
            run_one(a, &a->runs[r], ev);
        }
    }
    a->cur = NULL;
    arena_reset(&a->wscratch);
    a->ps.doc = NULL;          /* the bits describe no other event */
    eql_state_trim(&a->state); /* the stalest go, once the event is through every rule */
    a->events++;
    a->ncand[ncand <= a->rs->n ? ncand : a->rs->n]++;
}

void modus_alerter_candidates(const modus_alerter *a, double *mean, uint64_t *p95)
{
    uint64_t sum = 0, seen = 0;
    *mean = 0;
    *p95 = 0;
    if (!a->events) return;
    for (size_t i = 0; i <= a->rs->n; i++) sum += a->ncand[i] * i;
    *mean = (double)sum / (double)a->events;
    for (size_t i = 0; i <= a->rs->n; i++) {
        seen += a->ncand[i];
        if (seen * 100 >= a->events * 95) {
            *p95 = i;
            return;
        }
    }
}

void alerter_value_cache_limit(modus_alerter *a, size_t bytes)
{
    a->ps.vc_cap = bytes;
}

void modus_alerter_value_cache(const modus_alerter *a, uint64_t *hits, uint64_t *misses)
{
    uint64_t flushes;
    pf_scratch_stats(&a->ps, hits, misses, &flushes);
}

size_t modus_alerter_residual(const modus_alerter *a)
{
    return a->residual;
}

const char *modus_alerter_residual_why(const modus_alerter *a, size_t idx)
{
    return idx < a->rs->n ? a->runs[idx].resid : NULL;
}

void modus_alerter_finish(modus_alerter *a)
{
    for (size_t i = 0; i < a->rs->n; i++) modus_query_run_finish(a->runs[i].run);
}

uint64_t modus_alerter_count(const modus_alerter *a)
{
    return a->alerts;
}

size_t modus_alerter_unguarded(const modus_alerter *a)
{
    return a->unguarded;
}

const char *modus_alerter_unguarded_why(const modus_alerter *a, size_t idx)
{
    return idx < a->rs->n ? a->pf.why[idx] : NULL;
}

void modus_alerter_profile(modus_alerter *a, bool on)
{
    a->profile = on;
}

void modus_alerter_rule_stats(const modus_alerter *a, size_t idx, uint64_t *runs, uint64_t *ns,
                              uint64_t *alerts)
{
    *runs = a->runs[idx].runs;
    *ns = a->runs[idx].ns;
    *alerts = a->runs[idx].alerts;
}

void modus_alerter_state_limit(modus_alerter *a, size_t bytes)
{
    a->state.limit = bytes;
    eql_state_trim(&a->state);
}

void modus_alerter_state(const modus_alerter *a, modus_state_stats *out)
{
    out->bytes = a->state.bytes;
    out->peak = a->state.peak;
    out->limit = a->state.limit;
    out->evicted_partials = a->state.evicted_partials;
    out->evicted_procs = a->state.evicted_procs;
    out->expired = a->state.expired;
}

/* -j N: the workers' counts into worker 0's (the state: sums of each
 * worker's bytes, peak and cap, an upper bound of the whole) */
/* Rules that keep state across events: not one event's query (a sequence,
 * join or sample), a pipe, or lineage (the process tree). */
size_t alerter_stateful(const modus_alerter *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->rs->n; i++) {
        const eql_query *q = a->rs->r[i].q->q;
        n += q->kind != Q_EVENT || q->nlineage || q->npipes || eql_xrt_wants(q);
    }
    return n;
}

void alerter_absorb(modus_alerter *dst, const modus_alerter *src)
{
    if (!dst || !src) return;
    for (size_t i = 0; i < dst->rs->n; i++) {
        dst->runs[i].runs += src->runs[i].runs;
        dst->runs[i].ns += src->runs[i].ns;
        dst->runs[i].alerts += src->runs[i].alerts;
    }
    for (size_t i = 0; i <= dst->rs->n; i++) dst->ncand[i] += src->ncand[i];
    dst->events += src->events;
    dst->alerts += src->alerts;
    dst->ps.vc_hits += src->ps.vc_hits;
    dst->ps.vc_misses += src->ps.vc_misses;
    dst->ps.vc_flushes += src->ps.vc_flushes;
    dst->state.bytes += src->state.bytes;
    dst->state.peak += src->state.peak;
    dst->state.limit += src->state.limit;
    dst->state.evicted_partials += src->state.evicted_partials;
    dst->state.evicted_procs += src->state.evicted_procs;
    dst->state.expired += src->state.expired;
}

void modus_alerter_destroy(modus_alerter *a)
{
    if (!a) return;
    if (a->runs)
        for (size_t i = 0; i < a->rs->n; i++) modus_query_run_destroy(a->runs[i].run);
    free(a->runs);
    free(a->cand);
    free(a->late);
    eql_procs_destroy(a->procs);
    pf_scratch_free(&a->ps);
    free(a->ncand);
    arena_free(&a->prog_arena);
    arena_free(&a->wit_arena);
    arena_free(&a->wscratch);
    modus_scorer_destroy(a->scorer);
    if (!a->borrowed) prefilter_free(&a->pf);
    modus_scanner_destroy(a->side);
    buf_free(&a->out);
    free(a);
}
