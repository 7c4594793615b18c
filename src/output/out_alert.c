/* out_alert.c - evaluate a rule set over events and write alerts (SPEC §6).
 *
 * Prefilter, two levels. Rules whose every stage pins a field to literal
 * values are indexed by those values (out_prefilter.c) and run only when the
 * event carries one. The others are filed under the event categories they can use
 * (the categories of its stages, `until` and lineage sub-queries; `any`
 * rules in a bucket of their own). For each event the alerter reads its
 * categories once and runs only the rules of those buckets, so a registry
 * event never reaches an api rule. Within a bucket the EQL runtime tests
 * the where clause (eql_query.c).
 *
 * An alert is built only when a rule fires: the last event is decoded again
 * by the alerter's own scanner to render its modality, and the raw host and
 * process objects are copied from its text (json_locate.c), so alerting
 * costs nothing on the events that do not match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../decode/event.h"
#include "../rules/eql_query.h"
#include "../rules/ruleset.h"
#include "prefilter.h"

#define MAX_CATS 64

typedef struct rule_run {
    struct modus_alerter *a;
    size_t rule;
    modus_query_run *run;
    uint64_t seen;             /* event generation: a rule in two buckets runs once */
    uint64_t runs, ns, alerts; /* --profile */
    char robustness[4];        /* STP score, e.g. "5K" */
} rule_run;

struct modus_alerter {
    const modus_engine *eng;
    const modus_ruleset *rs;
    modus_alert_fn fn;
    void *ctx;
    rule_run *runs;
    /* buckets: category name -> rules; bucket ncat is `any` */
    sv cats[MAX_CATS];
    size_t ncat;
    size_t *bucket[MAX_CATS + 1];
    size_t nbucket[MAX_CATS + 1];
    uint64_t gen, alerts;
    bool profile;
    prefilter pf;
    size_t unguarded;
    const modus_event *cur;
    modus_scanner *side;
    buf out;
};

static int cat_index(modus_alerter *a, sv c, bool add)
{
    for (size_t i = 0; i < a->ncat; i++)
        if (sv_ieq(a->cats[i], c)) return (int)i;
    if (!add || a->ncat == MAX_CATS) return -1;
    a->cats[a->ncat] = c;
    return (int)a->ncat++;
}

static void file_rule(modus_alerter *a, size_t r, int b)
{
    for (size_t i = 0; i < a->nbucket[b]; i++)
        if (a->bucket[b][i] == r) return;
    size_t *v = realloc(a->bucket[b], sizeof *v * (a->nbucket[b] + 1));
    if (!v) return;
    v[a->nbucket[b]++] = r;
    a->bucket[b] = v;
}

static void file_stage(modus_alerter *a, size_t r, const eql_stage *st)
{
    int c = st->any ? -1 : cat_index(a, st->category, true);
    file_rule(a, r, c < 0 ? MAX_CATS : c);
}

static void file_query(modus_alerter *a, size_t r, const eql_query *q)
{
    for (uint32_t i = 0; i < q->nstages; i++) file_stage(a, r, &q->stages[i]);
    if (q->until) file_stage(a, r, q->until);
    for (uint32_t i = 0; i < q->nlineage; i++) file_query(a, r, q->lineage[i]->sub);
}

static void put_span(buf *b, const char *text, size_t len, const char *key, const char *path)
{
    size_t end;
    long at = mj_locate_span(text, len, path, &end);
    if (at < 0 || end <= (size_t)at) return;
    buf_printf(b, ",\"%s\":", key);
    buf_put(b, text + at, end - (size_t)at);
}

static void put_str_or_null(buf *b, const char *s)
{
    if (s)
        buf_put_json_str(b, s, strlen(s));
    else
        buf_puts(b, "null");
}

static void emit(void *arg, const char *const *texts, const size_t *lens, uint32_t n)
{
    rule_run *rr = arg;
    modus_alerter *a = rr->a;
    const rule *r = &a->rs->r[rr->rule];
    if (!n) return;
    buf *b = &a->out;
    buf_reset(b);
    const char *last = texts[n - 1];
    size_t last_len = lens[n - 1];
    /* @timestamp: the last event's, else now */
    size_t tend;
    long ts = mj_locate_span(last, last_len, "@timestamp", &tend);
    buf_puts(b, "{\"@timestamp\":");
    if (ts >= 0 && last[ts] == '"') {
        buf_put(b, last + ts, tend - (size_t)ts);
    } else {
        char now[40];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
        buf_puts(b, now);
    }
    buf_puts(b, ",\"event\":{\"kind\":\"alert\"},\"rule\":{\"id\":");
    put_str_or_null(b, r->src.id);
    buf_puts(b, ",\"name\":");
    put_str_or_null(b, r->src.name);
    buf_puts(b, ",\"description\":");
    put_str_or_null(b, r->src.description);
    buf_puts(b, ",\"version\":");
    put_str_or_null(b, r->src.version);
    if (r->src.severity) {
        buf_puts(b, ",\"severity\":");
        put_str_or_null(b, r->src.severity);
    }
    if (rr->robustness[0]) buf_printf(b, ",\"robustness\":\"%s\"", rr->robustness);
    buf_puts(b, "},\"threat\":");
    buf_puts(b, r->src.threat_json ? r->src.threat_json : "[]");
    /* the modality of the triggering (last) event */
    char *copy = malloc(last_len + MODUS_PADDING);
    const modus_event *ev;
    modus_diag d;
    if (copy) {
        memcpy(copy, last, last_len);
        memset(copy + last_len, ' ', MODUS_PADDING);
        if (modus_scanner_decode(a->side, copy, last_len, &ev, &d) == MODUS_OK) {
            buf_putc(b, ',');
            render_modality(b, ev);
        }
    }
    put_span(b, last, last_len, "host", "host");
    put_span(b, last, last_len, "process", "process");
    buf_puts(b, ",\"events\":[");
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_putc(b, ',');
        buf_put(b, texts[i], lens[i]);
    }
    buf_putc(b, ']');
    if (r->src.actions_json) {
        buf_puts(b, ",\"actions\":");
        buf_puts(b, r->src.actions_json);
    }
    buf_putc(b, '}');
    free(copy);
    if (b->oom) return;
    a->alerts++;
    rr->alerts++;
    a->fn(a->ctx, b->p, b->n, rr->rule);
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
    a->runs = calloc(rs->n ? rs->n : 1, sizeof *a->runs);
    if (!a->runs || modus_scanner_create(e, &a->side) != MODUS_OK) {
        modus_alerter_destroy(a);
        return MODUS_ENOMEM;
    }
    modus_scorer *scorer = NULL;
    modus_scorer_create(NULL, &scorer, NULL); /* the embedded table: rule.robustness in alerts */
    const char *env = getenv("MODUS_PREFILTER");
    bool use_pf = !env || strcmp(env, "off");
    for (size_t i = 0; i < rs->n; i++) {
        a->runs[i].a = a;
        a->runs[i].rule = i;
        modus_score s;
        if (scorer && modus_scorer_rule(scorer, rs, i, &s) == MODUS_OK)
            memcpy(a->runs[i].robustness, s.score, sizeof s.score);
        if (modus_query_run_create(rs->r[i].q, emit, &a->runs[i], &a->runs[i].run) != MODUS_OK) {
            modus_scorer_destroy(scorer);
            modus_alerter_destroy(a);
            return MODUS_ENOMEM;
        }
        /* a rule with a literal guard on every stage runs only when it fires;
         * MODUS_PREFILTER=off evaluates every rule (to check the prefilter) */
        if (!use_pf || !prefilter_add(&a->pf, rs->r[i].q->q, i)) {
            file_query(a, i, rs->r[i].q->q);
            a->unguarded++;
        }
    }
    modus_scorer_destroy(scorer);
    *out = a;
    return MODUS_OK;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run_one(modus_alerter *a, rule_run *rr, const modus_event *ev)
{
    if (rr->seen == a->gen) return;
    rr->seen = a->gen;
    if (!a->profile) {
        modus_query_run_event(rr->run, ev);
        return;
    }
    uint64_t t0 = now_ns();
    modus_query_run_event(rr->run, ev);
    rr->ns += now_ns() - t0;
    rr->runs++;
}

static void run_rule(void *ctx, size_t idx)
{
    modus_alerter *a = ctx;
    run_one(a, &a->runs[idx], a->cur);
}

static void run_bucket(modus_alerter *a, int b, const modus_event *ev)
{
    for (size_t i = 0; i < a->nbucket[b]; i++) run_one(a, &a->runs[a->bucket[b][i]], ev);
}

void modus_alerter_event(modus_alerter *a, const modus_event *ev)
{
    if (!ev->is_json) return;
    a->gen++;
    const mj_doc *d = &ev->sc->doc;
    a->cur = ev;
    prefilter_event(&a->pf, d, run_rule, a);
    uint32_t c = mj_path(d, 0, "event.category", 14);
    if (!c) c = mj_path(d, 0, "event_type", 10);
    if (c && d->nodes[c].type == MJ_STRING) {
        int k = cat_index(a, mj_str(d, c), false);
        if (k >= 0) run_bucket(a, k, ev);
    } else if (c && d->nodes[c].type == MJ_ARRAY) {
        for (uint32_t k = d->nodes[c].count ? c + 1 : 0; k; k = d->nodes[k].next) {
            int b = cat_index(a, mj_str(d, k), false);
            if (b >= 0) run_bucket(a, b, ev);
        }
    }
    run_bucket(a, MAX_CATS, ev);
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

void modus_alerter_destroy(modus_alerter *a)
{
    if (!a) return;
    if (a->runs)
        for (size_t i = 0; i < a->rs->n; i++) modus_query_run_destroy(a->runs[i].run);
    free(a->runs);
    for (size_t i = 0; i <= MAX_CATS; i++) free(a->bucket[i]);
    prefilter_free(&a->pf);
    modus_scanner_destroy(a->side);
    buf_free(&a->out);
    free(a);
}
