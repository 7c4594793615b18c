/* fleet_pub.c - the publisher: a sensor's documents to the broker, in order,
 * through a bounded on-disk spool.
 *
 * How it works
 *   1. put() appends the document to the spool (fleet_spool.c) under the
 *      publisher's lock: a memcpy into a 64 KiB write buffer. The caller's
 *      thread never touches the network.
 *   2. The publisher's own thread (pump) reads records from the spool in
 *      order and sends each with its message id, while fewer than
 *      max_inflight are unacknowledged. Each in-flight record has a slot in
 *      a ring (sequence number modulo the window): sent time, end position.
 *   3. Acknowledgements arrive on the backend's thread and mark slots. The
 *      pump moves the spool's acknowledged floor over every leading
 *      acknowledged slot; whole segments behind it are deleted.
 *   4. A refusal, a send error, or an acknowledgement older than
 *      ack_timeout_ms rewinds: the read cursor goes back to the floor and
 *      every unacknowledged record is sent again, in order, after a backoff
 *      (250 ms doubling to 2 s) and only while connected. Records already
 *      acknowledged in the window are skipped; a resend of one whose first
 *      send did arrive is dropped by the stream's duplicate window.
 *   5. While the broker is unreachable nothing is sent and records pile up
 *      in the spool; a full spool deletes its oldest segment (drop-oldest)
 *      and the records lost are counted, never silently.
 * Invariants: floor <= read cursor <= next sequence; read - floor <= the
 * window; every record put is counted once as published (acknowledged,
 * duplicates included) or dropped, or is in the backlog (on disk, resumed
 * by the next run, or in flight after the spool dropped it: an "orphan",
 * published if its acknowledgement comes, dropped if it times out — then it
 * may have been stored after all, the one case where drops overcount).
 * Order: records are sent in spool order. A record refused while later ones
 * in the same window were stored lands after them (within one window) —
 * only when a send fails while the next ones succeed; an outage fails the
 * whole window, which is then sent again in order.
 * Cost per document: a memcpy under a lock on the caller's side; on the
 * pump's, a share of one pread per 256 KiB and one publish.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../decode/json.h"
#include "../util/limits.h"
#include "../util/sha256.h"
#include "fleet.h"
#include "spool.h"

#define FLAG_SPOOLED 1 /* waited for the broker (or resumed from a previous run) */

/* SLOT_ORPHAN: sent, then the spool dropped its segment (full): it cannot
 * be sent again; its acknowledgement counts it published, a timeout or a
 * refusal dropped. */
enum { SLOT_EMPTY, SLOT_SENT, SLOT_ACKED, SLOT_FAILED, SLOT_ORPHAN };

typedef struct slot {
    uint64_t seq;
    spool_pos end;
    int64_t sent_ms;
    uint8_t state, flags;
} slot;

struct modus_publisher {
    const fleet_backend *b;
    fleet_link *l;
    int sender;
    spool *sp;
    char host[FLEET_HOST_TOKEN];
    uint32_t window, ack_timeout_ms;
    slot *ring;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thr;
    bool started, stop, idle;
    int64_t drain_until; /* close(): keep sending until then */
    int64_t backoff_until, backoff_ms;
    bool rewind;
    char why[256];       /* the last refusal */
    uint64_t resume_end; /* records before it came from a previous run */
    uint64_t orphans;    /* SLOT_ORPHAN slots */
    modus_publisher_stats st;
    uint64_t lost_seen;
    int64_t last_sync_ms, last_drop_log_ms;
    modus_fleet_log_fn log;
    void *log_ctx;
    char subj[FLEET_HOST_TOKEN + 64], id[256];
};

#define say(p, ...) fleet_say((p)->log, (p)->log_ctx, __VA_ARGS__)

static slot *slot_of(modus_publisher *p, uint64_t seq)
{
    return &p->ring[seq % p->window];
}

/* backend thread */
static void on_ack(void *ctx, uint64_t tag, fleet_result r, const char *why)
{
    modus_publisher *p = ctx;
    pthread_mutex_lock(&p->mu);
    slot *s = slot_of(p, tag);
    if (s->seq == tag && s->state == SLOT_ORPHAN) {
        if (r == FLEET_REFUSED) {
            p->st.dropped++;
        } else {
            p->st.published++;
            if (r == FLEET_DUPLICATE) p->st.duplicates++;
            if ((s->flags & FLAG_SPOOLED) || tag < p->resume_end) p->st.replayed++;
        }
        s->state = SLOT_EMPTY;
        p->orphans--;
        pthread_cond_signal(&p->cv);
    } else if (s->seq == tag && s->state == SLOT_SENT) {
        if (r == FLEET_REFUSED) {
            s->state = SLOT_FAILED;
            snprintf(p->why, sizeof p->why, "%s", why);
        } else {
            s->state = SLOT_ACKED;
            p->st.published++;
            if (r == FLEET_DUPLICATE) p->st.duplicates++;
            if ((s->flags & FLAG_SPOOLED) || tag < p->resume_end) p->st.replayed++;
            p->backoff_ms = 0;
        }
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Records the spool dropped to make room: their slots are forgotten. */
static void dropped(modus_publisher *p, const spool_drop *d)
{
    if (!d->records) return;
    for (uint64_t s = d->first; s < d->end; s++) {
        slot *x = slot_of(p, s);
        if (x->seq == s && x->state == SLOT_ACKED) { /* published already */
            x->state = SLOT_EMPTY;
        } else if (x->seq == s && x->state == SLOT_SENT) { /* its answer decides */
            x->state = SLOT_ORPHAN;
            p->orphans++;
        } else {
            if (x->seq == s) x->state = SLOT_EMPTY;
            p->st.dropped++;
        }
    }
    int64_t t = fleet_now_ms();
    if (t - p->last_drop_log_ms >= 10000) {
        p->last_drop_log_ms = t;
        say(p, "spool full: dropped the oldest documents (%llu so far)",
            (unsigned long long)p->st.dropped);
    }
}

static void account_lost(modus_publisher *p)
{
    uint64_t lost = spool_lost(p->sp);
    if (lost > p->lost_seen) {
        p->st.dropped += lost - p->lost_seen;
        say(p, "spool: a write failed (disk full?): %llu documents lost",
            (unsigned long long)(lost - p->lost_seen));
        p->lost_seen = lost;
    }
}

/* Moves the floor over the acknowledged slots; true when it moved. */
static bool advance(modus_publisher *p)
{
    uint64_t f = spool_floor_seq(p->sp), r = spool_read_seq(p->sp);
    spool_pos end;
    bool moved = false;
    while (f < r) {
        slot *s = slot_of(p, f);
        if (s->seq != f || s->state != SLOT_ACKED) break;
        end = s->end;
        s->state = SLOT_EMPTY;
        f++;
        moved = true;
    }
    if (moved) spool_ack(p->sp, &end);
    return moved;
}

/* Orphans not answered in time: dropped (they cannot be sent again). */
static void expire_orphans(modus_publisher *p, int64_t t)
{
    for (uint32_t i = 0; p->orphans && i < p->window; i++) {
        slot *x = &p->ring[i];
        if (x->state == SLOT_ORPHAN && t - x->sent_ms >= p->ack_timeout_ms) {
            x->state = SLOT_EMPTY;
            p->orphans--;
            p->st.dropped++;
        }
    }
}

/* A failure or a timeout in the window: send it again from the floor. */
static bool must_rewind(modus_publisher *p, int64_t t)
{
    uint64_t f = spool_floor_seq(p->sp), r = spool_read_seq(p->sp);
    for (uint64_t s = f; s < r; s++) {
        slot *x = slot_of(p, s);
        if (x->seq != s) continue;
        if (x->state == SLOT_FAILED) return true;
        if (x->state == SLOT_SENT && t - x->sent_ms >= p->ack_timeout_ms) {
            snprintf(p->why, sizeof p->why, "no acknowledgement within %u ms", p->ack_timeout_ms);
            return true;
        }
    }
    return false;
}

static void do_rewind(modus_publisher *p, int64_t t)
{
    uint64_t f = spool_floor_seq(p->sp), r = spool_read_seq(p->sp);
    for (uint64_t s = f; s < r; s++) {
        slot *x = slot_of(p, s);
        if (x->seq == s && x->state != SLOT_ACKED) x->state = SLOT_EMPTY;
    }
    spool_rewind(p->sp);
    p->backoff_ms = p->backoff_ms ? (p->backoff_ms * 2 > 2000 ? 2000 : p->backoff_ms * 2) : 250;
    p->backoff_until = t + p->backoff_ms;
    if (p->backoff_ms == 250)
        say(p, "publish failed (%s): %llu documents to send again", p->why,
            (unsigned long long)(r - f));
}

/* Sends what the window allows; called with the lock held. */
static void send_some(modus_publisher *p)
{
    for (;;) {
        uint64_t f = spool_floor_seq(p->sp), r = spool_read_seq(p->sp);
        if (r - f >= p->window || (p->stop && !p->drain_until)) return;
        /* an orphan keeps its slot until it is answered or times out */
        if (slot_of(p, r)->state == SLOT_ORPHAN) return;
        spool_rec rec;
        spool_pos end;
        uint64_t damaged = 0;
        int got = spool_next(p->sp, &rec, &end, &damaged);
        if (got == 0 && spool_pending(p->sp)) {
            spool_flush(p->sp);
            account_lost(p);
            got = spool_next(p->sp, &rec, &end, &damaged);
        }
        if (got < 0) {
            p->st.dropped += damaged;
            say(p, "spool: damaged data: %llu documents lost", (unsigned long long)damaged);
            continue;
        }
        if (got == 0) return;
        slot *s = slot_of(p, rec.seq);
        if (s->seq == rec.seq && s->state == SLOT_ACKED) continue; /* stored already */
        if (s->state == SLOT_ORPHAN) { /* (after damage skipped records) */
            p->orphans--;
            p->st.dropped++;
        }
        bool again = s->seq == rec.seq;
        s->seq = rec.seq;
        s->end = end;
        s->flags = rec.flags;
        s->state = SLOT_SENT;
        s->sent_ms = fleet_now_ms();
        if (again) p->st.resent++;
        snprintf(p->subj, sizeof p->subj, "%.*s", (int)rec.subject.n, rec.subject.p);
        snprintf(p->id, sizeof p->id, "%.*s", (int)rec.id.n, rec.id.p);
        fleet_msg m = {p->subj, p->id, rec.data.p, rec.data.n, NULL, 0};
        /* the record's bytes stay in the spool's read buffer, which only
         * this thread changes: safe to send from it unlocked */
        pthread_mutex_unlock(&p->mu);
        modus_status st = p->b->send(p->l, p->sender, rec.seq, &m);
        pthread_mutex_lock(&p->mu);
        if (st != MODUS_OK && s->seq == rec.seq && s->state == SLOT_SENT) {
            s->state = SLOT_FAILED;
            snprintf(p->why, sizeof p->why, "send: %s", modus_strerror(st));
            return;
        }
    }
}

static void *pump(void *arg)
{
    modus_publisher *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int64_t t = fleet_now_ms();
        advance(p);
        bool empty = spool_floor_seq(p->sp) == spool_next_seq(p->sp);
        if (p->stop && (!p->drain_until || t >= p->drain_until || empty)) break;
        uint64_t reconnects = 0;
        bool up = p->b->connected(p->l, &reconnects);
        p->st.connected = up;
        p->st.reconnects = reconnects;
        if (p->orphans) expire_orphans(p, t);
        if (must_rewind(p, t)) do_rewind(p, t);
        if (up && t >= p->backoff_until) send_some(p);
        if (t - p->last_sync_ms >= 200) {
            spool_sync(p->sp);
            p->last_sync_ms = t;
        }
        /* sleep until woken (an acknowledgement, a put) or 50 ms */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        p->idle = true;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        p->idle = false;
    }
    spool_sync(p->sp);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

modus_status modus_publisher_open(const modus_fleet_opts *o, const modus_publisher_opts *po,
                                  modus_publisher **out, modus_diag *d)
{
    *out = NULL;
    if (!po->spool_dir) {
        if (d) {
            memset(d, 0, sizeof *d);
            snprintf(d->message, sizeof d->message, "a spool directory is needed");
        }
        return MODUS_EINVAL;
    }
    const fleet_backend *b = fleet_backend_for(o->url, d);
    if (!b) return MODUS_EINVAL;
    modus_publisher *p = calloc(1, sizeof *p);
    if (!p) return MODUS_ENOMEM;
    p->b = b;
    p->log = po->log;
    p->log_ctx = po->log_ctx;
    p->window = po->max_inflight ? po->max_inflight : MODUS_FLEET_INFLIGHT;
    p->ack_timeout_ms = po->ack_timeout_ms ? po->ack_timeout_ms : MODUS_FLEET_ACK_TIMEOUT_MS;
    char hn[256] = "";
    const char *host = po->host;
    if (!host) {
        if (gethostname(hn, sizeof hn - 1) != 0) strcpy(hn, "localhost");
        host = hn;
    }
    modus_fleet_host_token(host, strlen(host), p->host, sizeof p->host);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->ring = calloc(p->window, sizeof *p->ring);
    if (!p->ring) {
        modus_publisher_close(p, 0);
        return MODUS_ENOMEM;
    }
    for (uint32_t i = 0; i < p->window; i++) p->ring[i].seq = UINT64_MAX;
    spool_info si;
    modus_status st = spool_open(
        po->spool_dir, po->spool_bytes ? po->spool_bytes : MODUS_FLEET_SPOOL_BYTES, &p->sp, &si, d);
    if (st != MODUS_OK) {
        modus_publisher_close(p, 0);
        return st;
    }
    p->resume_end = spool_next_seq(p->sp);
    p->st.backlog = si.resumed;
    p->st.dropped = si.damaged;
    if (si.resumed || si.damaged)
        say(p, "spool %s: %llu documents from a previous run to send%s", po->spool_dir,
            (unsigned long long)si.resumed, si.damaged ? " (damaged records skipped)" : "");
    st = b->open(o, false, po->log, po->log_ctx, &p->l, d);
    if (st != MODUS_OK) {
        modus_publisher_close(p, 0);
        return st;
    }
    p->sender = b->sender(p->l, on_ack, p);
    if (pthread_create(&p->thr, NULL, pump, p) != 0) {
        modus_publisher_close(p, 0);
        return MODUS_ENOMEM;
    }
    p->started = true;
    *out = p;
    return MODUS_OK;
}

modus_status modus_publisher_put(modus_publisher *p, modus_fleet_kind kind, const char *json,
                                 size_t len)
{
    char subj[FLEET_HOST_TOKEN + 64], idbuf[33];
    const char *prefix = kind == MODUS_FLEET_ALERT ? FLEET_ALERTS_PREFIX : FLEET_EVENTS_PREFIX;
    size_t end, idlen = 0;
    long at = mj_locate_span(json, len, "host.name", &end);
    if (at >= 0 && json[at] == '"' && end - (size_t)at >= 2)
        fleet_subject(subj, sizeof subj, prefix, json + at + 1, end - (size_t)at - 2);
    else
        snprintf(subj, sizeof subj, "%s%s", prefix, p->host);
    const char *id = NULL;
    at = mj_locate_span(json, len, "event.id", &end);
    if (at >= 0 && json[at] == '"' && end - (size_t)at >= 3 && end - (size_t)at - 2 <= 200) {
        id = json + at + 1;
        idlen = end - (size_t)at - 2;
    } else { /* no id of its own: the bytes are its id */
        sha256 h;
        uint8_t dg[32];
        sha256_init(&h);
        sha256_update(&h, json, len);
        sha256_final(&h, dg);
        for (int i = 0; i < 16; i++) snprintf(idbuf + 2 * i, 3, "%02x", dg[i]);
        id = idbuf;
        idlen = 32;
    }
    pthread_mutex_lock(&p->mu);
    uint64_t backlog = spool_next_seq(p->sp) - spool_floor_seq(p->sp);
    bool waiting = !p->st.connected || fleet_now_ms() < p->backoff_until || backlog >= p->window;
    uint64_t seq;
    spool_drop drop;
    modus_status st = spool_append(p->sp, (uint8_t)kind, waiting ? FLAG_SPOOLED : 0, sv_cstr(subj),
                                   sv_make(id, idlen), sv_make(json, len), &seq, &drop);
    dropped(p, &drop);
    account_lost(p);
    if (st == MODUS_OK || st == MODUS_ETOOLONG) {
        p->st.queued++;
        if (waiting && st == MODUS_OK) p->st.spooled++;
    }
    if (p->idle && spool_pending(p->sp) >= (32u << 10)) pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return st == MODUS_ETOOLONG ? MODUS_OK : st;
}

void modus_publisher_flush(modus_publisher *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (spool_pending(p->sp)) {
        spool_flush(p->sp);
        account_lost(p);
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

void modus_publisher_stats_get(modus_publisher *p, modus_publisher_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    out->backlog = spool_next_seq(p->sp) - spool_floor_seq(p->sp) + p->orphans;
    out->spool_bytes = spool_bytes(p->sp);
    pthread_mutex_unlock(&p->mu);
}

void modus_publisher_close(modus_publisher *p, int timeout_ms)
{
    if (!p) return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        if (p->sp) spool_flush(p->sp);
        p->stop = true;
        p->drain_until = timeout_ms > 0 ? fleet_now_ms() + timeout_ms : 0;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thr, NULL);
        advance(p);
    }
    if (p->l) p->b->close(p->l);
    spool_close(p->sp);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p);
}
