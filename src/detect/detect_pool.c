/* detect_pool.c - one rule set over a stream of events on every core.
 *
 * How it works:
 *  1. The caller's thread reads lines and hands them over (modus_pool_line)
 *     with their place (file, line, byte offset). It does not parse them:
 *     it finds the event's host in the raw text (host.name, else
 *     host.hostname, host.id, winlog.computer_name, Computer; nested or
 *     dotted keys, ASCII case folded) and gives the line to its host's lane.
 *     There are as many lanes as workers. The hosts of the first chunk are
 *     counted and given lanes heaviest first, each to the least loaded; a
 *     host seen later gets the lane with the fewest events so far; a host
 *     keeps its lane. Events without a host all take lane 0. (Which lane
 *     does not change the output; that a host keeps one does.) When no rule
 *     keeps state across events (alerter_stateful: no sequence, join,
 *     sample, pipe or lineage), the host is not read: every line of a chunk
 *     takes the lane of the chunk's number (round robin by chunk).
 *  2. Lines are gathered in chunks (CHUNK_LINES lines or CHUNK_BYTES bytes);
 *     a full chunk is published. A lane owns a scanner and an alerter (the
 *     same engine as -j 1: a modus_alerter, with the lane's sequences and
 *     process tree); it runs its lines of one chunk at a time, in chunk
 *     order. Any worker runs any lane: a free worker takes, of the lanes no
 *     one runs that have a published chunk, the one furthest behind. So a
 *     worker that the machine slows (another process on its core) holds up
 *     no lane: the other one takes the lanes in turn, and both lanes move
 *     at the speed of the two cores together. What a line yields - alerts,
 *     a decode error - is kept in the lane's output for that chunk, tagged
 *     with the line.
 *  3. The caller's thread writes chunks back in input order: for each line,
 *     the output of the lane that owns it. So the alerts come out in the
 *     same order as with one thread, byte for byte: within an event, rules
 *     fire in rule order; events in input order.
 * Invariants: one lane sees every event of a host, in input order, one
 * chunk after the other (a worker hands the lane over under the pool's
 * mutex), so a sequence, a join, a `by` key or a process tree whose events
 * share a host sees what it sees with one thread. What needs every event of
 * every host (pipes: head, tail, sort, unique, count, filter; samples and
 * sequences with missing events, which end at the end of input) is found by
 * modus_pool_unsafe(): the caller runs those rule sets on one thread.
 * Correlation across hosts is not seen with -j N: a sequence or join
 * without a join key (Elastic's rules that join on `as` aliases), or with a
 * key that spans hosts (user.name), matches within one host; -j 1 sees it.
 * Not done: the split of the stateless rules by chunk and the stateful
 * ones by host (issue 11's suggestion). Measured (787 rules, gen_ecs 50 MB):
 * -j 2 spent 45 % more CPU than -j 1 and ran 1.3x instead of 1.8x, because
 * most of an event's cost is the shared predicate table's pass over its
 * fields (detect_prefilter.c: every test of every rule at once), which both
 * passes paid; the lanes' share of the events was even (50/50 %, by volume
 * and by bytes), and the per-thread CPU that differed between runs was the
 * machine's, which taking lanes in turn absorbs.
 * Memory: lane 0's alerter compiles the rules (the predicate table and
 * the programs); the other lanes' alerters borrow them (read-only while
 * events run) and hold only their runtimes, scratch and their share of the
 * state cap and value cache; every lane has a scanner. At most POOL_DEPTH
 * chunks are in flight: 256 KB chunks (~140 gen_ecs lines) instead of
 * 1 MB took peak RSS with 787 rules at -j 2 from 68.4 to 64.4 MB, lanes
 * still even (13,778 / 13,749 events).
 * Cost: on the reading thread, a skip over each line's top-level keys (none
 * by chunk); per chunk, one hand-over per lane.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../decode/event.h"
#include "../decode/json.h"
#include "../rules/ruleset.h"
#include "../util/limits.h"
#include "detect_query.h"
#include "detect_sample.h"
#include "pool.h"
#include "prefilter.h"

#define CHUNK_LINES 1024
#define CHUNK_BYTES (1u << 18)
#define POOL_DEPTH  4
#define LANE_NOTE   0xffff /* a note of the reader (too long, unreadable) */
#define LANE_HOST   0xfffe /* the first chunk: a lane once its hosts are counted */

typedef struct line_info {
    size_t off; /* in the chunk's text */
    uint32_t len;
    uint32_t lane;
    const char *file;
    uint64_t lineno, offset;
    uint64_t host; /* hash of its host, 0: none */
} line_info;

typedef struct outbuf {
    char *p;
    size_t n, cap;
} outbuf;

/* a record of a lane's output: header, then `len` bytes, padded to 8 */
enum { R_ALERT, R_ERROR };
typedef struct rec {
    uint32_t line, kind;
    size_t rule;
    size_t len;
} rec;

typedef struct chunk {
    char *text;
    size_t ntext, captext;
    line_info *li;
    uint32_t nlines, caplines;
    modus_diag *notes; /* LANE_NOTE lines: li[i].off indexes these */
    modus_status *note_st;
    uint32_t nnotes, capnotes;
    outbuf *out;      /* per lane */
    unsigned pending; /* lanes still working */
} chunk;

/* A lane: a share of the hosts, with its scanner and alerter (its state).
 * Any worker may run it, one chunk at a time, in input order. */
typedef struct lane_run {
    modus_pool *p;
    unsigned id;
    modus_scanner *sc;
    modus_alerter *al;
    uint64_t next; /* the next chunk to work on */
    bool busy;     /* a worker runs it */
    outbuf *cur;   /* while working: where alerts go */
    uint32_t line;
    bool direct; /* at finish: alerts go straight to the caller */
} lane_run;

typedef struct worker {
    modus_pool *p;
    unsigned id;
    pthread_t th;
    bool started;
    uint64_t events, bad;
} worker;

typedef struct host_slot {
    uint64_t h; /* 0: free */
    unsigned lane;
} host_slot;

struct modus_pool {
    const modus_engine *eng;
    unsigned n;
    bool by_chunk;    /* no rule keeps state: lines go to lanes by chunk, not by host */
    host_slot *hosts; /* host -> lane, open addressing (the reading thread's) */
    uint32_t nhosts, caphosts;
    uint64_t *lane_events; /* lines given to each lane so far */
    worker *w;
    lane_run *l;
    chunk ring[POOL_DEPTH];
    uint64_t published, flushed; /* chunks handed out; chunks written back */
    bool filling, closing;
    pthread_mutex_t m;
    pthread_cond_t work, done;
    modus_alert_fn on_alert;
    modus_pool_event_fn on_event;
    modus_pool_error_fn on_error;
    void *ctx;
    uint64_t alerts;
    bool n_merged;
};

/* ---- the lane of a line ------------------------------------------------------ */

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) i++;
    return i;
}

/* i at an opening quote; the index after the closing one (memchr, then
 * the backslashes before it) */
static bool key_is(const char *p, size_t ks, size_t ke, const char *want)
{
    size_t n = strlen(want);
    return ke - ks == n + 2 && !memcmp(p + ks + 1, want, n);
}

/* rank of a host key: lower is preferred; 0 none */
static int host_rank(const char *p, size_t ks, size_t ke, bool in_host, bool in_winlog)
{
    if (in_host)
        return key_is(p, ks, ke, "name")       ? 1
               : key_is(p, ks, ke, "hostname") ? 2
               : key_is(p, ks, ke, "id")       ? 3
                                               : 0;
    if (in_winlog) return key_is(p, ks, ke, "computer_name") ? 4 : 0;
    return key_is(p, ks, ke, "host.name")              ? 1
           : key_is(p, ks, ke, "host.hostname")        ? 2
           : key_is(p, ks, ke, "host.id")              ? 3
           : key_is(p, ks, ke, "winlog.computer_name") ? 4
           : key_is(p, ks, ke, "Computer")             ? 5
                                                       : 0;
}

/* Members of the object at i: the best-ranked string host value so far in
 * (*best_rank, *vs, *ve); descends into "host" and "winlog" at the top.
 * Stops (returns n) at host.name: nothing ranks higher. */
static size_t scan_obj(const char *p, size_t n, size_t i, int depth, bool in_host, bool in_winlog,
                       int *best_rank, size_t *vs, size_t *ve)
{
    if (i >= n || p[i] != '{') return json_skip_value(p, n, i);
    i = skip_ws(p, n, i + 1);
    while (i < n && p[i] == '"') {
        size_t ks = i, ke = json_skip_string(p, n, i);
        i = skip_ws(p, n, ke);
        if (i >= n || p[i] != ':') return n;
        i = skip_ws(p, n, i + 1);
        if (i >= n) return n;
        int r = host_rank(p, ks, ke, in_host, in_winlog);
        if (r && p[i] == '"' && (!*best_rank || r < *best_rank)) {
            *best_rank = r;
            *vs = i + 1;
            *ve = json_skip_string(p, n, i) - 1;
            if (r == 1) return n;
            i = *ve + 1;
        } else if (depth == 0 && p[i] == '{' &&
                   (key_is(p, ks, ke, "host") || key_is(p, ks, ke, "winlog"))) {
            i = scan_obj(p, n, i, 1, key_is(p, ks, ke, "host"), key_is(p, ks, ke, "winlog"),
                         best_rank, vs, ve);
        } else {
            i = json_skip_value(p, n, i);
        }
        i = skip_ws(p, n, i);
        if (i < n && p[i] == ',') i = skip_ws(p, n, i + 1);
    }
    return i < n ? i + 1 : n;
}

bool pool_host(const char *line, size_t len, uint64_t *hash)
{
    int rank = 0;
    size_t vs = 0, ve = 0;
    scan_obj(line, len, skip_ws(line, len, 0), 0, false, false, &rank, &vs, &ve);
    if (!rank) return false;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = vs; i < ve && i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        h = (h ^ c) * 1099511628211ull;
    }
    *hash = h ^ (h >> 32);
    return true;
}

unsigned pool_lane(const char *line, size_t len, unsigned nlanes)
{
    uint64_t h;
    if (nlanes <= 1 || !pool_host(line, len, &h)) return 0;
    return (unsigned)(h % nlanes);
}

/* The lane of a host: given on its first event, to the lane with the fewest
 * events so far (a hash alone left 14 of gen_ecs's 24 hosts on one of two
 * lanes), then kept. Past HOSTS_MAX hosts, the hash picks. */
#define HOSTS_MAX (1u << 20)
static unsigned host_lane_to(modus_pool *p, uint64_t h, int want);
static unsigned host_lane(modus_pool *p, uint64_t h)
{
    return host_lane_to(p, h, -1);
}

/* the host's lane; a new host gets `want` (-1: the least loaded lane) */
static unsigned host_lane_to(modus_pool *p, uint64_t h, int want)
{
    if (!h) h = 1; /* 0 marks a free slot */
    if (p->nhosts * 2 >= p->caphosts && p->caphosts < 2 * HOSTS_MAX) {
        uint32_t cap = p->caphosts ? p->caphosts * 2 : 1024;
        host_slot *n = calloc(cap, sizeof *n);
        if (n) {
            for (uint32_t i = 0; i < p->caphosts; i++) {
                if (!p->hosts[i].h) continue;
                uint32_t k = (uint32_t)p->hosts[i].h & (cap - 1);
                while (n[k].h) k = (k + 1) & (cap - 1);
                n[k] = p->hosts[i];
            }
            free(p->hosts);
            p->hosts = n;
            p->caphosts = cap;
        }
    }
    if (!p->caphosts) return (unsigned)(h % p->n);
    uint32_t k = (uint32_t)h & (p->caphosts - 1);
    for (; p->hosts[k].h; k = (k + 1) & (p->caphosts - 1))
        if (p->hosts[k].h == h) return p->hosts[k].lane;
    if (p->nhosts * 2 >= p->caphosts) return (unsigned)(h % p->n); /* full */
    unsigned best = 0;
    for (unsigned i = 1; i < p->n; i++)
        if (p->lane_events[i] < p->lane_events[best]) best = i;
    if (want >= 0) best = (unsigned)want;
    p->hosts[k] = (host_slot){h, best};
    p->nhosts++;
    return best;
}

/* ---- which rule sets can be partitioned ----------------------------------------- */

const char *modus_pool_unsafe(const modus_ruleset *rs, size_t *which)
{
    for (size_t i = 0; rs && i < rs->n; i++) {
        const eql_query *q = rs->r[i].q->q;
        *which = i;
        if (q->npipes) return "a pipe reads the results of every host";
        if (eql_xrt_wants(q)) return "a sample or a sequence with missing events";
    }
    return NULL;
}

/* ---- workers ---------------------------------------------------------------------- */

static bool out_put(outbuf *o, uint32_t line, uint32_t kind, size_t ridx, const void *data,
                    size_t len)
{
    size_t need = sizeof(rec) + ((len + 7) & ~(size_t)7);
    if (o->n + need > o->cap) {
        size_t cap = o->cap ? o->cap : 1 << 14;
        while (cap < o->n + need) cap *= 2;
        char *np = realloc(o->p, cap);
        if (!np) return false;
        o->p = np;
        o->cap = cap;
    }
    rec r = {line, kind, ridx, len};
    memcpy(o->p + o->n, &r, sizeof r);
    memcpy(o->p + o->n + sizeof r, data, len);
    o->n += need;
    return true;
}

static void on_lane_alert(void *ctx, const char *json, size_t len, size_t ridx)
{
    lane_run *l = ctx;
    if (l->direct) {
        l->p->on_alert(l->p->ctx, json, len, ridx);
        l->p->alerts++;
        return;
    }
    out_put(l->cur, l->line, R_ALERT, ridx, json, len);
}

/* lane l's lines of chunk c, on worker w */
static void work_unit(worker *w, lane_run *l, chunk *c)
{
    modus_pool *p = w->p;
    outbuf *o = &c->out[l->id];
    o->n = 0;
    l->cur = o;
    for (uint32_t i = 0; i < c->nlines; i++) {
        line_info *li = &c->li[i];
        if (li->lane != l->id) continue;
        l->line = i;
        const modus_event *ev;
        modus_diag d = {0};
        if (modus_scanner_decode(l->sc, c->text + li->off, li->len, &ev, &d) != MODUS_OK) {
            snprintf(d.file, sizeof d.file, "%s", li->file);
            d.line = li->lineno;
            d.offset = li->offset + (d.column ? d.column - 1 : 0);
            out_put(o, i, R_ERROR, 0, &d, sizeof d);
            w->bad++;
            continue;
        }
        w->events++;
        if (p->on_event) p->on_event(p->ctx, w->id, ev);
        if (l->al) modus_alerter_event(l->al, ev);
    }
    l->cur = NULL;
}

/* The next unit of work, under p->m: of the lanes that no worker runs and
 * that have a published chunk, the one furthest behind (so the oldest
 * chunk is finished first and the lanes take turns on the workers). NULL:
 * none now. */
static lane_run *next_lane(modus_pool *p)
{
    lane_run *best = NULL;
    for (unsigned i = 0; i < p->n; i++) {
        lane_run *l = &p->l[i];
        if (!l->busy && l->next < p->published && (!best || l->next < best->next)) best = l;
    }
    return best;
}

static bool all_done(const modus_pool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->l[i].next < p->published) return false;
    return true;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    modus_pool *p = w->p;
    pthread_mutex_lock(&p->m);
    for (;;) {
        lane_run *l = next_lane(p);
        if (!l) {
            if (p->closing && all_done(p)) break;
            pthread_cond_wait(&p->work, &p->m);
            continue;
        }
        l->busy = true;
        chunk *c = &p->ring[l->next % POOL_DEPTH];
        pthread_mutex_unlock(&p->m);
        work_unit(w, l, c);
        pthread_mutex_lock(&p->m);
        l->busy = false;
        l->next++;
        if (--c->pending == 0) pthread_cond_broadcast(&p->done);
        /* its next chunk may be waiting for a worker that waits */
        pthread_cond_broadcast(&p->work);
    }
    pthread_mutex_unlock(&p->m);
    return NULL;
}

/* ---- the caller's side ----------------------------------------------------------------- */

/* write chunk `seq` back in input order (it must be finished) */
static void flush_one(modus_pool *p, uint64_t seq)
{
    chunk *c = &p->ring[seq % POOL_DEPTH];
    pthread_mutex_lock(&p->m);
    while (c->pending) pthread_cond_wait(&p->done, &p->m);
    pthread_mutex_unlock(&p->m);
    size_t *at = calloc(p->n, sizeof *at);
    for (uint32_t i = 0; at && i < c->nlines; i++) {
        unsigned lane = c->li[i].lane;
        if (lane == LANE_NOTE) {
            if (p->on_error) p->on_error(p->ctx, c->note_st[c->li[i].off], &c->notes[c->li[i].off]);
            continue;
        }
        outbuf *o = &c->out[lane];
        while (at[lane] < o->n) {
            rec r;
            memcpy(&r, o->p + at[lane], sizeof r);
            if (r.line != i) break;
            const char *data = o->p + at[lane] + sizeof r;
            if (r.kind == R_ALERT) {
                p->on_alert(p->ctx, data, r.len, r.rule);
                p->alerts++;
            } else if (p->on_error) {
                modus_diag d;
                memcpy(&d, data, sizeof d);
                p->on_error(p->ctx, MODUS_EPARSE, &d);
            }
            at[lane] += sizeof r + ((r.len + 7) & ~(size_t)7);
        }
    }
    free(at);
    c->nlines = 0;
    c->ntext = 0;
    c->nnotes = 0;
    p->flushed = seq + 1;
}

typedef struct host_count {
    uint64_t h, n;
} host_count;

static int by_count(const void *a, const void *b)
{
    const host_count *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return x->h < y->h ? -1 : x->h > y->h; /* ties: by hash, deterministic */
}

/* The first chunk's hosts, heaviest first, each to the least loaded lane
 * (longest processing time first): the first 1,024 lines stand for the
 * hosts' volumes. Later hosts get a lane on their first event. */
static void assign_first(modus_pool *p, chunk *c)
{
    host_count *hc = calloc(c->nlines ? c->nlines : 1, sizeof *hc);
    uint32_t n = 0;
    for (uint32_t i = 0; hc && i < c->nlines; i++)
        if (c->li[i].lane == LANE_HOST) hc[n++] = (host_count){c->li[i].host, 1};
    if (hc) {                               /* count per host: sort by hash, fold runs */
        qsort(hc, n, sizeof *hc, by_count); /* all counts 1: by hash */
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++)
            if (k && hc[k - 1].h == hc[i].h)
                hc[k - 1].n++;
            else
                hc[k++] = hc[i];
        n = k;
        qsort(hc, n, sizeof *hc, by_count);
        uint64_t *load = calloc(p->n, sizeof *load);
        for (uint32_t i = 0; load && i < c->nlines; i++)
            if (c->li[i].lane == 0) load[0]++; /* no host */
        for (uint32_t i = 0; load && i < n; i++) {
            unsigned best = 0;
            for (unsigned l = 1; l < p->n; l++)
                if (load[l] < load[best]) best = l;
            load[host_lane_to(p, hc[i].h, (int)best)] += hc[i].n;
        }
        free(load);
    }
    free(hc);
    for (uint32_t i = 0; i < c->nlines; i++)
        if (c->li[i].lane == LANE_HOST) {
            c->li[i].lane = host_lane(p, c->li[i].host);
            p->lane_events[c->li[i].lane]++;
        }
}

static void publish(modus_pool *p)
{
    chunk *c = &p->ring[p->published % POOL_DEPTH];
    if (p->published == 0 && p->n > 1 && !p->by_chunk) assign_first(p, c);
    pthread_mutex_lock(&p->m);
    c->pending = p->n;
    p->published++;
    p->filling = false;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->m);
}

/* the chunk being filled; the oldest one is written back when the ring is full */
static chunk *filling(modus_pool *p)
{
    if (!p->filling) {
        if (p->published - p->flushed >= POOL_DEPTH) flush_one(p, p->flushed);
        p->filling = true;
    }
    return &p->ring[p->published % POOL_DEPTH];
}

static bool add_line_info(chunk *c, line_info li)
{
    if (c->nlines == c->caplines) {
        uint32_t cap = c->caplines ? c->caplines * 2 : 256;
        line_info *n = realloc(c->li, sizeof *n * cap);
        if (!n) return false;
        c->li = n;
        c->caplines = cap;
    }
    c->li[c->nlines++] = li;
    return true;
}

static void maybe_publish(modus_pool *p, chunk *c)
{
    if (c->nlines >= CHUNK_LINES || c->ntext >= CHUNK_BYTES) publish(p);
}

modus_status modus_pool_line(modus_pool *p, const char *line, size_t len, const char *file,
                             uint64_t lineno, uint64_t offset)
{
    chunk *c = filling(p);
    size_t need = c->ntext + len + MODUS_PADDING;
    if (need > c->captext) {
        size_t cap = c->captext ? c->captext : CHUNK_BYTES + (1u << 16);
        while (cap < need) cap *= 2;
        char *n = realloc(c->text, cap);
        if (!n) return MODUS_ENOMEM;
        c->text = n;
        c->captext = cap;
    }
    uint64_t h = 0;
    unsigned lane = 0;
    if (p->by_chunk) {
        lane = (unsigned)(p->published % p->n);
    } else if (p->n > 1 && pool_host(line, len, &h)) {
        if (!h) h = 1; /* 0 marks a free slot of the host table */
        lane = p->published ? host_lane(p, h) : LANE_HOST; /* the first chunk: at publish */
    }
    if (lane != LANE_HOST) p->lane_events[lane]++;
    line_info li = {c->ntext, (uint32_t)len, lane, file, lineno, offset, h};
    if (!add_line_info(c, li)) return MODUS_ENOMEM;
    memcpy(c->text + c->ntext, line, len);
    memset(c->text + c->ntext + len, ' ', MODUS_PADDING);
    c->ntext += len + MODUS_PADDING;
    maybe_publish(p, c);
    return MODUS_OK;
}

modus_status modus_pool_note(modus_pool *p, modus_status s, const modus_diag *d)
{
    chunk *c = filling(p);
    if (c->nnotes == c->capnotes) {
        uint32_t cap = c->capnotes ? c->capnotes * 2 : 16;
        modus_diag *n = realloc(c->notes, sizeof *n * cap);
        if (!n) return MODUS_ENOMEM;
        c->notes = n;
        modus_status *ns = realloc(c->note_st, sizeof *ns * cap);
        if (!ns) return MODUS_ENOMEM;
        c->note_st = ns;
        c->capnotes = cap;
    }
    c->notes[c->nnotes] = *d;
    c->note_st[c->nnotes] = s;
    line_info li = {c->nnotes, 0, LANE_NOTE, NULL, 0, 0, 0};
    if (!add_line_info(c, li)) return MODUS_ENOMEM;
    c->nnotes++;
    maybe_publish(p, c);
    return MODUS_OK;
}

modus_status modus_pool_create(const modus_engine *e, const modus_ruleset *rs,
                               const modus_pool_opts *o, modus_alert_fn on_alert,
                               modus_pool_event_fn on_event, modus_pool_error_fn on_error,
                               void *ctx, modus_pool **out)
{
    *out = NULL;
    unsigned n = o && o->threads ? o->threads : 1;
    if (n > 256) n = 256;
    modus_pool *p = calloc(1, sizeof *p);
    if (!p) return MODUS_ENOMEM;
    p->eng = e;
    p->n = n;
    p->on_alert = on_alert;
    p->on_event = on_event;
    p->on_error = on_error;
    p->ctx = ctx;
    pthread_mutex_init(&p->m, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->w = calloc(n, sizeof *p->w);
    p->l = calloc(n, sizeof *p->l);
    p->lane_events = calloc(n, sizeof *p->lane_events);
    if (!p->w || !p->l || !p->lane_events) goto fail;
    for (unsigned i = 0; i < POOL_DEPTH; i++)
        if (!(p->ring[i].out = calloc(n, sizeof(outbuf)))) goto fail;
    /* every alerter is built here, on one thread, before any worker starts */
    for (unsigned i = 0; i < n; i++) {
        lane_run *l = &p->l[i];
        l->p = p;
        l->id = i;
        p->w[i].p = p;
        p->w[i].id = i;
        if (modus_scanner_create(e, &l->sc) != MODUS_OK) goto fail;
        /* lane 0 compiles the rules; the others borrow them */
        if (rs && (i == 0 ? modus_alerter_create(e, rs, on_lane_alert, l, &l->al)
                          : alerter_create_like(p->l[0].al, on_lane_alert, l, &l->al)) != MODUS_OK)
            goto fail;
        if (l->al && o && o->profile) modus_alerter_profile(l->al, true);
        size_t total = o && o->state_bytes ? o->state_bytes : MODUS_STATE_BYTES;
        if (l->al) modus_alerter_state_limit(l->al, total / n);       /* the cap is shared */
        if (l->al) alerter_value_cache_limit(l->al, PF_VC_BYTES / n); /* so is the cache's */
    }
    p->by_chunk = !p->l[0].al || alerter_stateful(p->l[0].al) == 0;
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i])) goto fail;
        p->w[i].started = true;
    }
    *out = p;
    return MODUS_OK;
fail:
    modus_pool_destroy(p);
    return MODUS_ENOMEM;
}

static void stop(modus_pool *p)
{
    pthread_mutex_lock(&p->m);
    p->closing = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->m);
    for (unsigned i = 0; i < p->n; i++)
        if (p->w[i].started) {
            pthread_join(p->w[i].th, NULL);
            p->w[i].started = false;
        }
}

void modus_pool_finish(modus_pool *p)
{
    if (p->filling) publish(p);
    while (p->flushed < p->published) flush_one(p, p->flushed);
    stop(p);
    /* what the alerters hold to the end (nothing, for the rule sets that
     * modus_pool_unsafe accepts), lane by lane */
    for (unsigned i = 0; i < p->n; i++) {
        p->l[i].direct = true;
        if (p->l[i].al) modus_alerter_finish(p->l[i].al);
    }
}

uint64_t modus_pool_alerts(const modus_pool *p)
{
    return p->alerts;
}

void modus_pool_counts(const modus_pool *p, uint64_t *events, uint64_t *bad)
{
    *events = *bad = 0;
    for (unsigned i = 0; i < p->n; i++) {
        *events += p->w[i].events;
        *bad += p->w[i].bad;
    }
}

unsigned modus_pool_threads(const modus_pool *p)
{
    return p->n;
}

uint64_t modus_pool_worker_events(const modus_pool *p, unsigned i)
{
    return i < p->n ? p->w[i].events : 0;
}

modus_alerter *modus_pool_alerter(modus_pool *p, unsigned i)
{
    return i < p->n ? p->l[i].al : NULL;
}

void modus_pool_merge_profile(modus_pool *p)
{
    if (p->n_merged) return;
    for (unsigned i = 1; i < p->n && p->l[0].al; i++) alerter_absorb(p->l[0].al, p->l[i].al);
    p->n_merged = true;
}

void modus_pool_destroy(modus_pool *p)
{
    if (!p) return;
    if (p->w) stop(p);
    for (unsigned i = p->l ? p->n : 0; i-- > 0;) { /* lane 0's compiled rules last */
        modus_alerter_destroy(p->l[i].al);
        modus_scanner_destroy(p->l[i].sc);
    }
    free(p->w);
    free(p->l);
    for (unsigned i = 0; i < POOL_DEPTH; i++) {
        chunk *c = &p->ring[i];
        free(c->text);
        free(c->li);
        free(c->notes);
        free(c->note_st);
        for (unsigned k = 0; c->out && k < p->n; k++) free(c->out[k].p);
        free(c->out);
    }
    free(p->hosts);
    free(p->lane_events);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->m);
    free(p);
}
