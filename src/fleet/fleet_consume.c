/* fleet_consume.c - the consumer: events from the broker, in partitions,
 * through a handler (modus scan's rules, a baseline), alerts back.
 *
 * How it works
 *   1. Every second the main thread asks the backend for this member's
 *      partitions (assign: leases renewed, free ones taken up to its share,
 *      surplus ones given up one at a time).
 *   2. Each partition held runs on a worker thread with its own handler
 *      state (a scanner and an alerter: sequence state stays per
 *      partition, and all of a host's events are in one partition).
 *   3. A worker fetches a batch, hands each message to the handler in
 *      order; a message larger than max_message, or one the handler cannot
 *      read, is copied to modus.dead.events with its stream sequence, the
 *      subject and the reason in headers, and reported.
 *   4. The alerts of the batch and its dead letters are published with
 *      their ids as message ids; the worker waits until the stream has
 *      stored every one (sending again what was refused or timed out),
 *      lets the handler commit (a baseline writes its batch), and only then
 *      acknowledges the batch (AckAll on its last message). An event is
 *      therefore acknowledged only after the alerts it caused are stored;
 *      a crash before that redelivers it, and the same alert, having the
 *      same id, is dropped by the alerts stream's duplicate window.
 *   5. On stop (signal or duration) workers finish the batch in hand, then
 *      the member gives its leases up so that others take over at once.
 * What is not kept across a handover: a sequence whose first events were
 * acknowledged by the previous holder starts over with the new one.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../decode/json.h"
#include "../util/limits.h"
#include "fleet.h"

#define MAX_REPORTED 20 /* dead letters reported per partition; the rest counted */

enum { OUT_PENDING, OUT_SENT, OUT_DONE, OUT_FAILED };

typedef struct out_msg {
    char subject[FLEET_HOST_TOKEN + 64], id[96];
    char *data;
    size_t len;
    fleet_hdr hdrs[3];
    char hv[3][600];
    size_t nhdrs;
    int state;
    int64_t sent_ms;
    bool alert;
} out_msg;

typedef struct worker {
    struct modus_consumer *c;
    unsigned p;
    pthread_t thr;
    bool running;
    atomic_bool stop, exited;
    bool release_after; /* give the lease up once stopped (surplus, shutdown) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    out_msg *out;
    size_t nout, cap;
    uint32_t gen;
    char *buf; /* one message with MODUS_PADDING */
    size_t bufcap;
    unsigned reported;
} worker;

struct modus_consume_emit {
    worker *w;
};

struct modus_consumer {
    const fleet_backend *b;
    fleet_link *l;
    int sender;
    char group[64], member[96];
    unsigned n;
    size_t max_message;
    uint32_t batch;
    modus_consumer_handler h;
    /* one per partition, for the consumer's lifetime: acknowledgements may
     * arrive for a worker that has stopped (the generation tells them) */
    worker w[MODUS_FLEET_MAX_PARTITIONS];
    uint64_t held;
    volatile sig_atomic_t *user_stop;
    atomic_bool stopping;
    atomic_uint_fast64_t messages, alerts, dead, skipped, takeovers;
    atomic_uint_fast64_t fetched; /* batches fetched: --idle's sign of activity */
    atomic_uint busy;             /* workers inside a batch */
    int64_t idle_ms;              /* stop after this long without a message (0: never) */
    modus_fleet_log_fn log;
    void *log_ctx;
    pthread_mutex_t log_mu;
};

/* lines from several workers never mix */
static void log_locked(void *ctx, const char *line)
{
    modus_consumer *c = ctx;
    pthread_mutex_lock(&c->log_mu);
    c->log(c->log_ctx, line);
    pthread_mutex_unlock(&c->log_mu);
}
#define say(c, ...) fleet_say((c)->log ? log_locked : NULL, (c), __VA_ARGS__)

static bool stop_wanted(modus_consumer *c)
{
    return atomic_load(&c->stopping) || (c->user_stop && *c->user_stop);
}

/* tag: partition (8 bits), batch generation (24), message index (32) */
static void on_ack(void *ctx, uint64_t tag, fleet_result r, const char *why)
{
    modus_consumer *c = ctx;
    unsigned p = (unsigned)(tag >> 56);
    if (p >= MODUS_FLEET_MAX_PARTITIONS) return;
    worker *w = &c->w[p];
    pthread_mutex_lock(&w->mu);
    uint32_t gen = (uint32_t)(tag >> 32) & 0xffffff, i = (uint32_t)tag;
    if (gen == (w->gen & 0xffffff) && i < w->nout && w->out[i].state == OUT_SENT) {
        w->out[i].state = r == FLEET_REFUSED ? OUT_FAILED : OUT_DONE;
        if (r == FLEET_REFUSED && w->reported < MAX_REPORTED)
            say(c, "partition %u: %s refused: %s", p, w->out[i].subject, why);
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

static out_msg *out_add(worker *w)
{
    if (w->nout == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 16;
        out_msg *n = realloc(w->out, nc * sizeof *n);
        if (!n) return NULL;
        w->out = n;
        w->cap = nc;
    }
    out_msg *m = &w->out[w->nout++];
    memset(m, 0, sizeof *m);
    return m;
}

void modus_consume_alert(modus_consume_emit *e, const char *json, size_t len)
{
    worker *w = e->w;
    out_msg *m = out_add(w);
    if (!m || !(m->data = malloc(len ? len : 1))) {
        if (m) w->nout--;
        return;
    }
    memcpy(m->data, json, len);
    m->len = len;
    m->alert = true;
    size_t end;
    long at = mj_locate_span(json, len, "event.id", &end);
    if (at >= 0 && json[at] == '"' && end - (size_t)at - 2 < sizeof m->id)
        snprintf(m->id, sizeof m->id, "%.*s", (int)(end - (size_t)at - 2), json + at + 1);
    at = mj_locate_span(json, len, "host.name", &end);
    if (at >= 0 && json[at] == '"')
        fleet_subject(m->subject, sizeof m->subject, FLEET_ALERTS_PREFIX, json + at + 1,
                      end - (size_t)at - 2);
    else
        fleet_subject(m->subject, sizeof m->subject, FLEET_ALERTS_PREFIX, "", 0);
}

static void dead_letter(worker *w, const fleet_delivery *dl, const char *why)
{
    modus_consumer *c = w->c;
    out_msg *m = out_add(w);
    if (!m || !(m->data = malloc(dl->len ? dl->len : 1))) {
        if (m) w->nout--;
        return;
    }
    memcpy(m->data, dl->data, dl->len);
    m->len = dl->len;
    snprintf(m->subject, sizeof m->subject, "%sevents", FLEET_DEAD_PREFIX);
    snprintf(m->id, sizeof m->id, "dead-%s-%llu", FLEET_EVENTS_STREAM,
             (unsigned long long)dl->stream_seq);
    snprintf(m->hv[0], sizeof m->hv[0], "%llu", (unsigned long long)dl->stream_seq);
    snprintf(m->hv[1], sizeof m->hv[1], "%s", dl->subject);
    snprintf(m->hv[2], sizeof m->hv[2], "%s", why);
    static const char *const keys[] = {"Modus-Stream-Seq", "Modus-Subject", "Modus-Reason"};
    for (int i = 0; i < 3; i++) m->hdrs[i] = (fleet_hdr){keys[i], m->hv[i]};
    m->nhdrs = 3;
    atomic_fetch_add(&c->dead, 1);
    if (w->reported++ < MAX_REPORTED)
        say(c, "%s seq %llu (%s): %s; copied to %s", FLEET_EVENTS_STREAM,
            (unsigned long long)dl->stream_seq, dl->subject, why, m->subject);
    else if (w->reported == MAX_REPORTED + 1)
        say(c, "partition %u: more messages dead-lettered; counted, not shown", w->p);
}

static void out_clear(worker *w)
{
    for (size_t i = 0; i < w->nout; i++) free(w->out[i].data);
    w->nout = 0;
}

/* Publishes the batch's alerts and dead letters; true once all are stored. */
static bool flush_out(worker *w)
{
    modus_consumer *c = w->c;
    if (!w->nout) return true;
    int64_t backoff = 0, stop_since = 0;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        w->gen++;
        for (size_t i = 0; i < w->nout; i++)
            if (w->out[i].state != OUT_DONE) w->out[i].state = OUT_PENDING;
        uint64_t base = (uint64_t)w->p << 56 | (uint64_t)(w->gen & 0xffffff) << 32;
        pthread_mutex_unlock(&w->mu);
        for (size_t i = 0; i < w->nout; i++) {
            out_msg *m = &w->out[i];
            if (m->state == OUT_DONE) continue;
            pthread_mutex_lock(&w->mu);
            m->state = OUT_SENT;
            m->sent_ms = fleet_now_ms();
            pthread_mutex_unlock(&w->mu);
            fleet_msg fm = {m->subject, m->id[0] ? m->id : NULL, m->data, m->len, m->hdrs,
                            m->nhdrs};
            if (c->b->send(c->l, c->sender, base | i, &fm) != MODUS_OK) {
                pthread_mutex_lock(&w->mu);
                m->state = OUT_FAILED;
                pthread_mutex_unlock(&w->mu);
            }
        }
        /* wait for every answer, 5 s at most */
        int64_t until = fleet_now_ms() + 5000;
        bool all = false;
        pthread_mutex_lock(&w->mu);
        for (;;) {
            size_t done = 0, open = 0;
            for (size_t i = 0; i < w->nout; i++) {
                done += w->out[i].state == OUT_DONE;
                open += w->out[i].state == OUT_SENT;
            }
            if (done == w->nout) {
                all = true;
                break;
            }
            if (!open || fleet_now_ms() >= until) break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 100 * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
        pthread_mutex_unlock(&w->mu);
        if (all) {
            size_t na = 0;
            for (size_t i = 0; i < w->nout; i++) na += w->out[i].alert;
            atomic_fetch_add(&c->alerts, na);
            return true;
        }
        /* keep trying while running; once asked to stop, for 10 s more at
         * most (then the batch is not acknowledged and is handled again by
         * whoever holds the partition next) */
        if ((stop_wanted(c) || atomic_load(&w->stop)) && !stop_since) stop_since = fleet_now_ms();
        if (stop_since && fleet_now_ms() - stop_since > 10000) return false;
        backoff = backoff ? (backoff < 2000 ? backoff * 2 : 2000) : 250;
        fleet_sleep_ms((int)backoff);
    }
}

static void *work(void *arg)
{
    worker *w = arg;
    modus_consumer *c = w->c;
    void *state = c->h.open ? c->h.open(c->h.ctx, w->p) : NULL;
    fleet_part *part = NULL;
    modus_diag d;
    int64_t last_err = 0;
    uint64_t skipped = 0;
    bool in_batch = false; /* counted in c->busy */
    while (!atomic_load(&w->stop) && !stop_wanted(c)) {
        if (!part) {
            memset(&d, 0, sizeof d);
            if (c->b->part_open(c->l, c->group, w->p, &part, &d) != MODUS_OK) {
                if (fleet_now_ms() - last_err > 10000) {
                    last_err = fleet_now_ms();
                    say(c, "partition %u: cannot start consuming: %s", w->p, d.message);
                }
                fleet_sleep_ms(500);
                continue;
            }
        }
        fleet_delivery *dl;
        size_t n = 0;
        modus_status st = c->b->part_fetch(part, c->batch, 1000, &dl, &n, &skipped);
        if (st == MODUS_DONE) { /* fenced: the lease is not fresh */
            fleet_sleep_ms(100);
            continue;
        }
        if (st != MODUS_OK) {
            fleet_sleep_ms(200);
            continue;
        }
        if (skipped) {
            atomic_fetch_add(&c->skipped, skipped);
            skipped = 0;
        }
        if (!n) continue;
        atomic_fetch_add(&c->fetched, 1);
        atomic_fetch_add(&c->busy, 1);
        in_batch = true;
        modus_consume_emit emit = {w};
        for (size_t i = 0; i < n; i++) {
            char why[300];
            if (dl[i].len > c->max_message) {
                snprintf(why, sizeof why, "oversized: %zu bytes (at most %zu)", dl[i].len,
                         c->max_message);
                dead_letter(w, &dl[i], why);
                continue;
            }
            if (dl[i].len + MODUS_PADDING > w->bufcap) {
                char *nb = realloc(w->buf, dl[i].len + MODUS_PADDING);
                if (!nb) continue;
                w->buf = nb;
                w->bufcap = dl[i].len + MODUS_PADDING;
            }
            memcpy(w->buf, dl[i].data, dl[i].len);
            memset(w->buf + dl[i].len, ' ', MODUS_PADDING);
            memset(&d, 0, sizeof d);
            modus_status hs = c->h.message(state, w->buf, dl[i].len, &emit, &d);
            if (hs == MODUS_EPARSE) {
                if (d.column)
                    snprintf(why, sizeof why, "malformed: column %llu: %s",
                             (unsigned long long)d.column, d.message);
                else
                    snprintf(why, sizeof why, "malformed: %s", d.message);
                dead_letter(w, &dl[i], why);
            } else if (hs != MODUS_OK) {
                /* the handler cannot go on (out of memory, its database):
                 * nothing of this batch is acknowledged; the worker starts
                 * again from the last acknowledged batch */
                say(c, "partition %u: cannot handle events (%s)%s%s; starting over", w->p,
                    modus_strerror(hs), d.message[0] ? ": " : "", d.message);
                fleet_sleep_ms(1000);
                goto out;
            }
        }
        atomic_fetch_add(&c->messages, n);
        bool stored = flush_out(w);
        out_clear(w);
        if (!stored) break; /* stopping without the alerts stored: not acknowledged */
        memset(&d, 0, sizeof d);
        while (c->h.commit && c->h.commit(state, &d) != MODUS_OK) {
            say(c, "partition %u: cannot commit the batch: %s", w->p, d.message);
            if (stop_wanted(c) || atomic_load(&w->stop)) goto out;
            fleet_sleep_ms(1000);
        }
        if (c->b->part_commit(part) != MODUS_OK)
            say(c, "partition %u: acknowledgement not confirmed (the next one covers it)", w->p);
        atomic_fetch_sub(&c->busy, 1);
        in_batch = false;
    }
out:
    if (in_batch) atomic_fetch_sub(&c->busy, 1); /* left inside a batch */
    if (c->h.close) c->h.close(state);
    c->b->part_close(part);
    atomic_store(&w->exited, true);
    return NULL;
}

modus_status modus_consumer_open(const modus_fleet_opts *o, const modus_consumer_opts *co,
                                 const modus_consumer_handler *h, modus_consumer **out,
                                 modus_diag *d)
{
    *out = NULL;
    const fleet_backend *b = fleet_backend_for(o->url, d);
    if (!b) return MODUS_EINVAL;
    const char *group = co->group ? co->group : "scan";
    for (const char *g = group; *g; g++)
        if (!((*g >= 'a' && *g <= 'z') || (*g >= 'A' && *g <= 'Z') || (*g >= '0' && *g <= '9') ||
              *g == '-' || *g == '_') ||
            g - group >= 48) {
            if (d) {
                memset(d, 0, sizeof *d);
                snprintf(d->message, sizeof d->message,
                         "group '%s': letters, digits, - and _ only (at most 48)", group);
            }
            return MODUS_EINVAL;
        }
    modus_consumer *c = calloc(1, sizeof *c);
    if (!c) return MODUS_ENOMEM;
    c->b = b;
    c->h = *h;
    c->log = co->log;
    c->log_ctx = co->log_ctx;
    pthread_mutex_init(&c->log_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (unsigned p = 0; p < MODUS_FLEET_MAX_PARTITIONS; p++) {
        c->w[p].c = c;
        c->w[p].p = p;
        pthread_mutex_init(&c->w[p].mu, NULL);
        pthread_cond_init(&c->w[p].cv, &ca);
    }
    pthread_condattr_destroy(&ca);
    snprintf(c->group, sizeof c->group, "%s", group);
    c->max_message = co->max_message ? co->max_message : MODUS_MAX_LINE;
    c->batch = co->batch ? co->batch : MODUS_FLEET_BATCH;
    c->idle_ms = co->idle_seconds > 0 ? (int64_t)(co->idle_seconds * 1000) : 0;
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint32_t)fleet_now_ms();
    char tok[64];
    modus_fleet_host_token(host, strlen(host), tok, sizeof tok);
    for (char *t = tok; *t; t++)
        if (*t == '%') *t = '_'; /* key-value keys take no % */
    snprintf(c->member, sizeof c->member, "%s-%d-%08x", tok, (int)getpid(), r);
    modus_status st = b->open(o, true, co->log, co->log_ctx, &c->l, d);
    if (st != MODUS_OK) {
        modus_consumer_close(c);
        return st;
    }
    c->sender = b->sender(c->l, on_ack, c);
    unsigned stored = b->partitions(c->l);
    c->n = co->partitions ? co->partitions : stored;
    if (!c->n || c->n > MODUS_FLEET_MAX_PARTITIONS ||
        (co->partitions && stored && co->partitions != stored)) {
        if (d) {
            memset(d, 0, sizeof *d);
            if (!c->n)
                snprintf(d->message, sizeof d->message,
                         "how many partitions? none stored on the server (run modus fleet init) "
                         "and no --partitions");
            else
                snprintf(d->message, sizeof d->message,
                         "--partitions %u, but modus fleet init set %u (every partition must "
                         "have a consumer)",
                         co->partitions, stored);
        }
        modus_consumer_close(c);
        return MODUS_EINVAL;
    }
    *out = c;
    return MODUS_OK;
}

static void start_worker(modus_consumer *c, unsigned p)
{
    worker *w = &c->w[p];
    out_clear(w);
    w->reported = 0;
    w->release_after = false;
    atomic_store(&w->stop, false);
    atomic_store(&w->exited, false);
    if (pthread_create(&w->thr, NULL, work, w) != 0) return;
    w->running = true;
    atomic_fetch_add(&c->takeovers, 1);
    say(c, "partition %u: consuming (member %s)", p, c->member);
}

/* Joins a stopped worker; true when its lease is to be given up. */
static bool reap(modus_consumer *c, unsigned p)
{
    worker *w = &c->w[p];
    pthread_join(w->thr, NULL);
    w->running = false;
    out_clear(w);
    return w->release_after;
}

/* --idle: no batch fetched for idle_ms while every partition of the group
 * is held here and no worker is inside a batch (a batch is counted when it
 * is fetched, so a slow one is never taken for silence) */
typedef struct idle_clock {
    uint64_t fetched;
    int64_t since;
} idle_clock;

static bool idle_over(modus_consumer *c, idle_clock *k)
{
    if (!c->idle_ms) return false;
    int64_t t = fleet_now_ms();
    uint64_t f = atomic_load(&c->fetched);
    bool all = c->n >= 64 ? c->held == UINT64_MAX : c->held == (1ull << c->n) - 1;
    if (f != k->fetched || atomic_load(&c->busy) || !all) {
        k->fetched = f;
        k->since = t;
        return false;
    }
    return t - k->since >= c->idle_ms;
}

modus_status modus_consumer_run(modus_consumer *c, double seconds, volatile sig_atomic_t *stop)
{
    c->user_stop = stop;
    int64_t end = seconds > 0 ? fleet_now_ms() + (int64_t)(seconds * 1000) : 0;
    uint64_t release = 0;
    modus_diag d;
    int64_t last_err = 0;
    idle_clock idle = {atomic_load(&c->fetched), fleet_now_ms()};
    while (!stop_wanted(c) && !(end && fleet_now_ms() >= end) && !idle_over(c, &idle)) {
        /* workers that ended: asked to (surplus), or lost their lease */
        for (unsigned p = 0; p < c->n; p++)
            if (c->w[p].running && atomic_load(&c->w[p].exited) && reap(c, p)) release |= 1ull << p;
        uint64_t surplus = 0, before = c->held;
        memset(&d, 0, sizeof d);
        if (c->b->assign(c->l, c->group, c->member, c->n, &c->held, release, &surplus, &d) !=
                MODUS_OK &&
            fleet_now_ms() - last_err > 10000) {
            last_err = fleet_now_ms();
            say(c, "leases: %s", d.message);
        }
        release = 0;
        for (unsigned p = 0; p < c->n; p++) {
            uint64_t bit = 1ull << p;
            worker *w = &c->w[p];
            if ((c->held & bit) && !w->running) start_worker(c, p);
            if (w->running && !(c->held & bit) && !atomic_load(&w->stop)) {
                atomic_store(&w->stop, true); /* lost: stop at once */
                if (before & bit) say(c, "partition %u: given up (lease lost)", p);
            }
            if (w->running && (surplus & bit) && !atomic_load(&w->stop)) {
                w->release_after = true;
                atomic_store(&w->stop, true);
                say(c, "partition %u: handing over (rebalancing)", p);
            }
        }
        for (int i = 0;
             i < 10 && !stop_wanted(c) && !(end && fleet_now_ms() >= end) && !idle_over(c, &idle);
             i++)
            fleet_sleep_ms(100);
    }
    /* finish the batches in hand, then give every lease up */
    atomic_store(&c->stopping, true);
    for (unsigned p = 0; p < c->n; p++)
        if (c->w[p].running) {
            c->w[p].release_after = true;
            atomic_store(&c->w[p].stop, true);
        }
    for (unsigned p = 0; p < c->n; p++)
        if (c->w[p].running && reap(c, p)) release |= 1ull << p;
    c->b->leave(c->l, c->group, c->member, c->n, c->held & release);
    c->held = 0;
    return MODUS_OK;
}

void modus_consumer_stats_get(modus_consumer *c, modus_consumer_stats *out)
{
    memset(out, 0, sizeof *out);
    out->messages = atomic_load(&c->messages);
    out->alerts = atomic_load(&c->alerts);
    out->dead = atomic_load(&c->dead);
    out->skipped = atomic_load(&c->skipped);
    out->takeovers = atomic_load(&c->takeovers);
    for (unsigned p = 0; p < c->n; p++) out->held += (c->held >> p) & 1;
}

void modus_consumer_close(modus_consumer *c)
{
    if (!c) return;
    atomic_store(&c->stopping, true);
    for (unsigned p = 0; p < MODUS_FLEET_MAX_PARTITIONS; p++)
        if (c->w[p].running) {
            atomic_store(&c->w[p].stop, true);
            reap(c, p);
        }
    if (c->l) c->b->close(c->l); /* no acknowledgement arrives after this */
    for (unsigned p = 0; p < MODUS_FLEET_MAX_PARTITIONS; p++) {
        worker *w = &c->w[p];
        out_clear(w);
        free(w->out);
        free(w->buf);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
    }
    pthread_mutex_destroy(&c->log_mu);
    free(c);
}
