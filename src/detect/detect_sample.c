/* detect_sample.c - Elasticsearch's EQL samples and sequences with missing
 * events, over a stream of events.
 *
 * Samples (`sample by k [filter1] [filter2] ...`): events that share the
 * join key values, one per filter, in any order and at any distance in time.
 * Per key, each filter keeps the first event that matched it; an event fills
 * at most one filter (the first empty one it matches, in filter order); when
 * every filter holds an event the sample is delivered, its events in filter
 * order, and the key is done: one sample per key, as Elasticsearch's default
 * max_samples_per_key of 1. A join key must not be null unless the by field
 * is optional (`?field`), as Elasticsearch requires.
 *
 * Missing events (`sequence with maxspan=T [A] ![B] [C] ![D]`): the positive
 * stages run as a sequence (per key and stage, the newest partial match
 * waiting for the next stage replaces an older one, as Elasticsearch's state
 * machine does), and each missing stage forbids its events, with the same
 * join key, in its window of the sequence:
 *   between two positive stages  an event of it drops the partial match
 *                                waiting between them;
 *   after the last one           none in (last, first + T]: a complete match
 *                                waits until an event later than first + T
 *                                (or the end of input) before it is delivered;
 *   before the first one         none in [last - T, first): each key keeps the
 *                                time of the last such event, checked when
 *                                the match completes.
 * Delivered matches hold the positive events only.
 *
 * State is bounded: at most EQL_XRT_MAX_KEYS keys per rule (new keys beyond
 * it are dropped and counted; finished sample keys are forgotten first), and
 * partial matches expire after maxspan. Events are kept as shared copies
 * (util/blob.h).
 */
#include <stdlib.h>
#include <string.h>

#include "../util/blob.h"
#include "../util/limits.h"
#include "detect_query.h"
#include "detect_sample.h"

#define EQL_XRT_MAX_KEYS    20000
#define EQL_XRT_MAX_PENDING 20000

typedef struct xpart {
    bool used;
    int64_t t0, lead_t;
    blob **ev; /* np slots */
} xpart;

typedef struct xrec {
    bool used, done;
    char *key;
    uint32_t klen, hash;
    blob **ev;     /* samples: one slot per filter */
    xpart *part;   /* sequences: part[j] has matched stages 0..j-1 and waits for j */
    int64_t *lead; /* sequences: per leading missing stage, the last time one occurred */
} xrec;

typedef struct xpend {
    char *key;
    uint32_t klen;
    int64_t deadline;
    blob **ev;
} xpend;

struct eql_xrt {
    const eql_query *q;
    eql_xrt_deliver_fn deliver;
    void *ctx;
    bool sample;
    /* expanded stages (runs) */
    const eql_stage **st;
    uint32_t nst;
    /* sequences: positive stages, and each missing stage's place */
    uint32_t *pos, np;
    uint32_t *miss_at; /* per expanded stage: missing -> index of the positive stage it precedes
                          (np: trailing) */
    uint32_t nlead;
    xrec *recs;
    uint32_t cap, n;
    xpend *pend;
    uint32_t npend, cappend;
    int64_t min_deadline;
    int64_t now; /* the current event's time (sequences) */
    uint64_t dropped;
    blob **slot;
    const char *text;
    size_t len;
    eql_xrt_match_fn match;
    void *mctx;
};

static uint32_t hash_key(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

bool eql_xrt_wants(const eql_query *q)
{
    return q->kind == Q_SAMPLE || eql_query_has_missing(q);
}

eql_xrt *eql_xrt_create(const eql_query *q, eql_xrt_deliver_fn deliver, void *ctx)
{
    eql_xrt *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->q = q;
    x->deliver = deliver;
    x->ctx = ctx;
    x->sample = q->kind == Q_SAMPLE;
    x->min_deadline = INT64_MAX;
    uint32_t n = 0;
    for (uint32_t i = 0; i < q->nstages; i++) n += q->stages[i].missing ? 1 : q->stages[i].runs;
    x->st = calloc(n, sizeof *x->st);
    x->pos = calloc(n, sizeof *x->pos);
    x->miss_at = calloc(n, sizeof *x->miss_at);
    x->cap = 64;
    x->recs = calloc(x->cap, sizeof *x->recs);
    if (!x->st || !x->pos || !x->miss_at || !x->recs) {
        eql_xrt_destroy(x);
        return NULL;
    }
    for (uint32_t i = 0; i < q->nstages; i++)
        for (uint32_t r = 0; r < (q->stages[i].missing ? 1 : q->stages[i].runs); r++)
            x->st[x->nst++] = &q->stages[i];
    for (uint32_t i = 0; i < x->nst; i++)
        if (!x->st[i]->missing) x->pos[x->np++] = i;
    for (uint32_t i = 0, next = 0; i < x->nst; i++) {
        if (!x->st[i]->missing) {
            next++;
            continue;
        }
        x->miss_at[i] = next; /* the positive stage it precedes; np: after the last */
        if (next == 0) x->nlead++;
    }
    return x;
}

/* ---- the key table ------------------------------------------------------------------ */

static void rec_clear(eql_xrt *x, xrec *r)
{
    if (r->ev)
        for (uint32_t i = 0; i < x->nst; i++) blob_unref(r->ev[i]);
    if (r->part)
        for (uint32_t j = 0; j < x->np; j++) {
            if (r->part[j].ev)
                for (uint32_t i = 0; i < x->np; i++) blob_unref(r->part[j].ev[i]);
            free(r->part[j].ev);
        }
    free(r->ev);
    free(r->part);
    free(r->lead);
    free(r->key);
    memset(r, 0, sizeof *r);
}

static xrec *probe(xrec *v, uint32_t cap, const char *key, uint32_t klen, uint32_t h)
{
    for (uint32_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        xrec *r = &v[i];
        if (!r->used || (r->hash == h && r->klen == klen && !memcmp(r->key, key, klen))) return r;
    }
}

static bool grow(eql_xrt *x)
{
    uint32_t cap = x->cap * 2;
    xrec *v = calloc(cap, sizeof *v);
    if (!v) return false;
    for (uint32_t i = 0; i < x->cap; i++)
        if (x->recs[i].used)
            *probe(v, cap, x->recs[i].key, x->recs[i].klen, x->recs[i].hash) = x->recs[i];
    free(x->recs);
    x->recs = v;
    x->cap = cap;
    return true;
}

static bool rec_idle(const eql_xrt *x, xrec *r)
{
    if (r->done) return true;
    if (x->sample) return false;
    int64_t span = x->q->maxspan_ns;
    bool live = false;
    for (uint32_t j = 0; r->part && j <= x->np; j++) {
        xpart *p = &r->part[j];
        if (p->used && x->now - p->t0 > span) {
            if (p->ev)
                for (uint32_t i = 0; i < x->np; i++) blob_unref(p->ev[i]);
            free(p->ev);
            memset(p, 0, sizeof *p);
        }
        live = live || p->used;
    }
    return !live && (!r->lead || r->lead[0] < x->now - span);
}

/* forget finished samples, and sequence keys with nothing open (then the
 * table has room again) */
static void forget_done(eql_xrt *x)
{
    xrec *old = x->recs;
    uint32_t cap = x->cap;
    xrec *v = calloc(cap, sizeof *v);
    if (!v) return;
    x->recs = v;
    x->n = 0;
    for (uint32_t i = 0; i < cap; i++) {
        if (!old[i].used) continue;
        if (rec_idle(x, &old[i])) {
            rec_clear(x, &old[i]);
            continue;
        }
        *probe(v, cap, old[i].key, old[i].klen, old[i].hash) = old[i];
        x->n++;
    }
    free(old);
}

static xrec *rec_get(eql_xrt *x, const char *key, uint32_t klen, bool create)
{
    uint32_t h = hash_key(key, klen);
    xrec *r = probe(x->recs, x->cap, key, klen, h);
    if (r->used || !create) return r->used ? r : NULL;
    if (x->n >= EQL_XRT_MAX_KEYS) {
        forget_done(x);
        if (x->n >= EQL_XRT_MAX_KEYS) {
            x->dropped++;
            return NULL;
        }
        r = probe(x->recs, x->cap, key, klen, h);
    }
    if ((x->n + 1) * 2 > x->cap) {
        if (!grow(x)) return NULL;
        r = probe(x->recs, x->cap, key, klen, h);
    }
    memset(r, 0, sizeof *r);
    r->key = malloc(klen ? klen : 1);
    if (!r->key) return NULL;
    memcpy(r->key, key, klen);
    r->klen = klen;
    r->hash = h;
    r->used = true;
    x->n++;
    return r;
}

/* the stage's join key; false when a key that is not optional is null */
static bool key_of(eql_ctx *c, const eql_stage *st, char *k, size_t *kl)
{
    for (uint32_t i = 0; i < st->nby; i++) {
        const eql_node *b = st->by[i];
        if (b->kind == N_FIELD && !b->optional && eql_eval(c, b).t == V_NULL) return false;
    }
    *kl = eql_stage_key(c, st, k);
    return *kl <= EQL_KEY_MAX;
}

static blob *keep(eql_xrt *x)
{
    if (!*x->slot) *x->slot = blob_new(x->text, x->len);
    return blob_ref(*x->slot);
}

/* ---- samples -------------------------------------------------------------------------- */

static void sample_event(eql_xrt *x, eql_ctx *c)
{
    char key[EQL_KEY_MAX + 1];
    size_t kl;
    for (uint32_t s = 0; s < x->nst; s++) {
        if (!x->match(x->mctx, c, x->st[s]) || !key_of(c, x->st[s], key, &kl)) continue;
        xrec *r = rec_get(x, key, (uint32_t)kl, true);
        if (!r || r->done) continue;
        if (!r->ev && !(r->ev = calloc(x->nst, sizeof *r->ev))) continue;
        if (r->ev[s]) continue;
        r->ev[s] = keep(x);
        bool full = true;
        for (uint32_t i = 0; i < x->nst && full; i++) full = r->ev[i] != NULL;
        if (full) {
            blob **ev = r->ev;
            r->ev = NULL;
            r->done = true;
            x->deliver(x->ctx, ev, x->nst);
            free(ev);
        }
        return; /* one event fills one filter */
    }
}

/* ---- sequences with missing events ---------------------------------------------------------- */

static void part_drop(eql_xrt *x, xpart *p)
{
    if (p->ev)
        for (uint32_t i = 0; i < x->np; i++) blob_unref(p->ev[i]);
    free(p->ev);
    memset(p, 0, sizeof *p);
}

static void pend_add(eql_xrt *x, const char *key, uint32_t klen, int64_t deadline, blob **ev)
{
    if (x->npend == EQL_XRT_MAX_PENDING) {
        x->dropped++;
        goto drop;
    }
    if (x->npend == x->cappend) {
        uint32_t cap = x->cappend ? x->cappend * 2 : 16;
        xpend *v = realloc(x->pend, sizeof *v * cap);
        if (!v) goto drop;
        x->pend = v;
        x->cappend = cap;
    }
    xpend *p = &x->pend[x->npend];
    p->key = malloc(klen ? klen : 1);
    if (!p->key) goto drop;
    memcpy(p->key, key, klen);
    p->klen = klen;
    p->deadline = deadline;
    p->ev = ev;
    x->npend++;
    if (deadline < x->min_deadline) x->min_deadline = deadline;
    return;
drop:
    for (uint32_t i = 0; i < x->np; i++) blob_unref(ev[i]);
    free(ev);
}

/* deliver (time > deadline) or drop (a trailing missing event of the key) pending matches */
static void pend_sweep(eql_xrt *x, int64_t now, const char *key, uint32_t klen, bool finish)
{
    uint32_t k = 0;
    x->min_deadline = INT64_MAX;
    for (uint32_t i = 0; i < x->npend; i++) {
        xpend *p = &x->pend[i];
        bool killed = key && p->klen == klen && !memcmp(p->key, key, klen) && now <= p->deadline;
        bool ripe = finish || now > p->deadline;
        if (killed) {
            for (uint32_t e = 0; e < x->np; e++) blob_unref(p->ev[e]);
            free(p->ev);
            free(p->key);
        } else if (ripe) {
            x->deliver(x->ctx, p->ev, x->np);
            free(p->ev);
            free(p->key);
        } else {
            if (p->deadline < x->min_deadline) x->min_deadline = p->deadline;
            x->pend[k++] = *p;
        }
    }
    x->npend = k;
}

static void complete(eql_xrt *x, const char *key, uint32_t klen, xpart *p, int64_t now)
{
    int64_t span = x->q->maxspan_ns;
    /* leading missing events: none in [last - maxspan, first) */
    if (x->nlead && p->lead_t != INT64_MIN && p->lead_t >= now - span) {
        part_drop(x, p);
        return;
    }
    blob **ev = p->ev;
    p->ev = NULL;
    p->used = false;
    if (x->nst > x->pos[x->np - 1] + 1) { /* trailing missing stages */
        pend_add(x, key, klen, p->t0 + span, ev);
        return;
    }
    x->deliver(x->ctx, ev, x->np);
    free(ev);
}

static void seq_event(eql_xrt *x, eql_ctx *c)
{
    int64_t now = x->now = eql_event_time(c), span = x->q->maxspan_ns;
    char key[EQL_KEY_MAX + 1];
    size_t kl;
    if (x->npend && now > x->min_deadline) pend_sweep(x, now, NULL, 0, false);
    /* missing stages first: they close windows */
    for (uint32_t s = 0; s < x->nst; s++) {
        const eql_stage *st = x->st[s];
        if (!st->missing || !x->match(x->mctx, c, st) || !key_of(c, st, key, &kl)) continue;
        uint32_t at = x->miss_at[s];
        if (at == x->np) {
            if (x->npend) pend_sweep(x, now, key, (uint32_t)kl, false);
            continue;
        }
        xrec *r = rec_get(x, key, (uint32_t)kl, at == 0);
        if (!r) continue;
        if (at == 0) {
            if (!r->lead && !(r->lead = calloc(1, sizeof *r->lead))) continue;
            r->lead[0] = now;
        } else if (r->part) {
            part_drop(x, &r->part[at]);
        }
    }
    /* positive stages, last to first, so that one event advances one match once */
    for (uint32_t j = x->np; j-- > 0;) {
        const eql_stage *st = x->st[x->pos[j]];
        if (!x->match(x->mctx, c, st) || !key_of(c, st, key, &kl)) continue;
        xrec *r = rec_get(x, key, (uint32_t)kl, j == 0);
        if (!r) continue;
        if (!r->part && !(r->part = calloc(x->np + 1, sizeof *r->part))) continue;
        xpart cur;
        if (j == 0) {
            memset(&cur, 0, sizeof cur);
            cur.ev = calloc(x->np, sizeof *cur.ev);
            if (!cur.ev) continue;
            cur.used = true;
            cur.t0 = now;
            cur.lead_t = r->lead ? r->lead[0] : INT64_MIN;
        } else {
            xpart *p = &r->part[j];
            if (!p->used) continue;
            if (now - p->t0 > span) { /* expired */
                part_drop(x, p);
                continue;
            }
            cur = *p;
            memset(p, 0, sizeof *p);
        }
        cur.ev[j] = keep(x);
        if (j + 1 == x->np) {
            complete(x, key, (uint32_t)kl, &cur, now);
            part_drop(x, &cur);
        } else {
            part_drop(x, &r->part[j + 1]); /* the newer partial replaces an older one */
            r->part[j + 1] = cur;
        }
    }
}

void eql_xrt_event(eql_xrt *x, eql_ctx *c, const char *text, size_t len, struct blob **slot,
                   eql_xrt_match_fn match, void *match_ctx)
{
    x->match = match;
    x->mctx = match_ctx;
    x->slot = slot;
    x->text = text;
    x->len = len;
    if (x->sample)
        sample_event(x, c);
    else
        seq_event(x, c);
}

void eql_xrt_finish(eql_xrt *x)
{
    if (x->npend) pend_sweep(x, INT64_MAX, NULL, 0, true);
}

bool eql_xrt_open(const eql_xrt *x)
{
    return x->n > 0 || x->npend > 0;
}

uint64_t eql_xrt_dropped(const eql_xrt *x)
{
    return x->dropped;
}

void eql_xrt_destroy(eql_xrt *x)
{
    if (!x) return;
    if (x->recs)
        for (uint32_t i = 0; i < x->cap; i++)
            if (x->recs[i].used) rec_clear(x, &x->recs[i]);
    for (uint32_t i = 0; i < x->npend; i++) {
        for (uint32_t e = 0; e < x->np; e++) blob_unref(x->pend[i].ev[e]);
        free(x->pend[i].ev);
        free(x->pend[i].key);
    }
    free(x->pend);
    free(x->recs);
    free(x->st);
    free(x->pos);
    free(x->miss_at);
    free(x);
}
