/* fleet_nats.c - the NATS JetStream backend (nats.c 3.4.1, nats-server 2.9).
 *
 * Publishing: a plain publish with a reply subject <inbox>.<sender>.<tag>
 * and a Nats-Msg-Id header; one wildcard subscription receives every
 * acknowledgement and hands it to the sender's callback with its tag. The
 * caller keeps the in-flight window and the timeouts (fleet_pub.c), so
 * nothing here waits, and nats.c's own async-publish bookkeeping is not
 * used.
 *
 * Consuming: one durable pull consumer per partition (<group>-p<N>,
 * filter modus.events.*.<N>, AckAll), pulled by hand: a request to
 * $JS.API.CONSUMER.MSG.NEXT with {"batch","expires"} and a private inbox
 * read with natsSubscription_NextMsg. natsSubscription_Fetch is NOT used:
 * in 3.4.1 it overflows its message array when messages left over from an
 * earlier pull are at least half the new batch (nats.c #749, fixed in
 * 3.9.0); here leftovers simply arrive first on the inbox and are taken in
 * order, at most `max` per call (tests/unit/test_fleet_nats.c forces it).
 *   Order and gaps: every delivery carries its stream and delivery sequence
 * numbers in its reply subject. A delivery whose stream sequence is below
 * the next one expected was handled already (a redelivery): skipped. A gap
 * in the delivery sequence means deliveries were lost on the way (a server
 * died with them in flight); acknowledging past it with AckAll would lose
 * them, so the partition is reset: its consumer is deleted and recreated
 * to start right after the last message handled.
 *   The same reset is how a partition is taken over: part_open reads the
 * consumer's acknowledgement floor and recreates it from there, so the new
 * holder starts exactly after the last batch the old one committed, and no
 * delivery the old holder still had in hand can reach the new one.
 *
 * Leases: a key-value bucket (modus_leases) with a 5 s TTL. A member puts
 * <group>.m.<member> every second; a partition is held by whoever created
 * <group>.p<N>, renewed every second by a compare-and-set on its last
 * revision. A dead member's keys expire after the TTL and another member
 * creates them (takeover within ~6 s). A holder whose renewals have failed
 * for 3 s stops fetching (fenced) before the key can expire, so two live
 * members never pull one partition at once. Each member aims at
 * ceil(partitions / members) and gives up one partition per second above it.
 *
 * Authentication: user/password or a token, over TLS with --nats-ca.
 * Credentials/NKey files are not offered: nats.c 3.4.1 fails about one
 * connect in 256 with them (an empty signature when its first byte is 0,
 * nats.c #705, fixed in 3.8.0).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "../util/limits.h"
#include "fleet.h"

#define MAX_SENDERS 64
#define MAX_SERVERS 16

struct fleet_link {
    natsConnection *nc;
    jsCtx *js;
    kvStore *leases, *config;
    natsSubscription *acks;
    char inbox[128];
    pthread_mutex_t mu;
    pthread_cond_t closed_cv;
    bool closed; /* nats.c's last callback has run */
    struct {
        fleet_ack_fn fn;
        void *ctx;
    } senders[MAX_SENDERS];
    int nsenders;
    atomic_uint_fast64_t reconnects;
    modus_fleet_log_fn log;
    void *log_ctx;
    /* leases: revision of each held key, and until when it may be used */
    uint64_t lease_rev[MODUS_FLEET_MAX_PARTITIONS];
    _Atomic int64_t lease_ok_until[MODUS_FLEET_MAX_PARTITIONS];
};

struct fleet_part {
    fleet_link *l;
    unsigned p;
    char durable[96], filter[64], next_subj[192];
    natsInbox *inbox;
    natsSubscription *sub;
    uint64_t next_sseq; /* stream sequence after the last message handed out */
    uint64_t next_dseq; /* delivery sequence expected next */
    int64_t pull_deadline;
    size_t pull_left; /* messages the open pull request may still bring */
    bool pulling;
    bool reset;     /* a gap: recreate the consumer before fetching again */
    natsMsg **msgs; /* the batch handed out */
    fleet_delivery *dl;
    size_t n, cap;
    natsMsg *last;    /* the last message of the batch (its reply acknowledges) */
    char acked[256];  /* the reply subject last acknowledged, */
    bool unconfirmed; /*   without the server's confirmation yet */
    int64_t confirmed_ms;
    size_t pull_max;
    int pull_timeout;
};

#define say(l, ...) fleet_say((l)->log, (l)->log_ctx, __VA_ARGS__)

static void drop_sub(natsSubscription **sub)
{
    if (!*sub) return;
    natsSubscription_Unsubscribe(*sub);
    natsSubscription_Destroy(*sub);
    *sub = NULL;
}

static void set_diag(modus_diag *d, const char *what, natsStatus s)
{
    if (!d) return;
    memset(d, 0, sizeof *d);
    const char *txt = nats_GetLastError(NULL);
    snprintf(d->message, sizeof d->message, "%s: %s", what,
             txt && *txt ? txt : natsStatus_GetText(s));
}

/* nats.c's threads and caches go at exit, before a leak checker looks */
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_close(void)
{
    nats_CloseAndWait(2000);
}
static void lib_open(void)
{
    nats_Open(-1);
    atexit(lib_close);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    say((fleet_link *)closure, "nats: disconnected");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    fleet_link *l = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    atomic_fetch_add(&l->reconnects, 1);
    say(l, "nats: connected to %s", url);
}

/* nats.c calls its connection callbacks on a thread of its own, the closed
 * one last: the link is freed only after it */
static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    fleet_link *l = closure;
    pthread_mutex_lock(&l->mu);
    l->closed = true;
    pthread_cond_broadcast(&l->closed_cv);
    pthread_mutex_unlock(&l->mu);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    (void)nc;
    (void)sub;
    say((fleet_link *)closure, "nats: %s", natsStatus_GetText(err));
}

/* <inbox>.<sender>.<tag>: one callback for every acknowledgement */
static void on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    fleet_link *l = closure;
    const char *subj = natsMsg_GetSubject(msg);
    size_t il = strlen(l->inbox);
    if (strncmp(subj, l->inbox, il) || subj[il] != '.') goto out;
    char *end;
    long sender = strtol(subj + il + 1, &end, 10);
    if (*end != '.' || sender < 0 || sender >= l->nsenders) goto out;
    unsigned long long tag = strtoull(end + 1, &end, 10);
    if (*end) goto out;
    fleet_result r;
    char why[256] = "";
    const char *status = NULL;
    if (natsMsg_GetDataLength(msg) == 0 && natsMsgHeader_Get(msg, "Status", &status) == NATS_OK &&
        status) {
        /* 503: no stream listens on the subject (no server-side mapping,
         * no stream, or its leader is being elected) */
        snprintf(why, sizeof why, "%s",
                 !strncmp(status, "503", 3) ? "no responders (no stream for the subject yet)"
                                            : status);
        r = FLEET_REFUSED;
    } else {
        r = fleet_parse_puback(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), why,
                               sizeof why);
    }
    /* under the lock: once close() has cleared a sender, none of its
     * callbacks runs any more */
    pthread_mutex_lock(&l->mu);
    if (l->senders[sender].fn) l->senders[sender].fn(l->senders[sender].ctx, (uint64_t)tag, r, why);
    pthread_mutex_unlock(&l->mu);
out:
    natsMsg_Destroy(msg);
}

static char *read_token(const char *path, modus_diag *d)
{
    FILE *f = fopen(path, "r");
    char buf[4096];
    if (!f || !fgets(buf, sizeof buf, f)) {
        if (d) {
            memset(d, 0, sizeof *d);
            snprintf(d->file, sizeof d->file, "%s", path);
            snprintf(d->message, sizeof d->message, "cannot read the token: %s",
                     f ? "empty file" : strerror(errno));
        }
        if (f) fclose(f);
        return NULL;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = 0;
    return strdup(buf);
}

static modus_status nats_open(const modus_fleet_opts *o, bool wait, modus_fleet_log_fn log,
                              void *ctx, fleet_link **out, modus_diag *d)
{
    *out = NULL;
    pthread_once(&lib_once, lib_open);
    fleet_link *l = calloc(1, sizeof *l);
    if (!l) return MODUS_ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->closed_cv, NULL);
    l->log = log;
    l->log_ctx = ctx;
    natsOptions *no = NULL;
    modus_status rc = MODUS_EIO;
    char *urls = NULL, *token = NULL;
    const char *servers[MAX_SERVERS];
    int nservers = 0;
    natsStatus s = natsOptions_Create(&no);
    if (s != NATS_OK) goto fail;
    /* nats://a:1,b:2 -> nats://a:1, nats://b:2 (tls:// with a CA) */
    const char *scheme = o->ca_file ? "tls://" : "nats://";
    const char *u = o->url;
    if (!strncmp(u, "nats://", 7))
        u += 7;
    else if (!strncmp(u, "tls://", 6))
        u += 6, scheme = "tls://";
    urls = calloc(1, strlen(u) * 2 + 64 * MAX_SERVERS);
    if (!urls) {
        rc = MODUS_ENOMEM;
        goto fail;
    }
    char *w = urls;
    for (const char *p = u; *p && nservers < MAX_SERVERS;) {
        size_t n = strcspn(p, ",");
        if (n) {
            if (!strncmp(p, "nats://", 7) || !strncmp(p, "tls://", 6)) {
                memcpy(w, p, n);
                w[n] = 0;
            } else {
                sprintf(w, "%s%.*s", scheme, (int)n, p);
            }
            servers[nservers++] = w;
            w += strlen(w) + 1;
        }
        p += n + (p[n] == ',');
    }
    if (!nservers) {
        if (d) {
            memset(d, 0, sizeof *d);
            snprintf(d->message, sizeof d->message, "no server in '%s'", o->url);
        }
        rc = MODUS_EINVAL;
        goto fail;
    }
    s = natsOptions_SetServers(no, servers, nservers);
    if (s == NATS_OK && o->user) s = natsOptions_SetUserInfo(no, o->user, o->password);
    if (s == NATS_OK && o->token_file) {
        if (!(token = read_token(o->token_file, d))) {
            rc = MODUS_EIO;
            goto fail_quiet;
        }
        s = natsOptions_SetToken(no, token);
    }
    if (s == NATS_OK && (o->ca_file || !strcmp(scheme, "tls://"))) {
        s = natsOptions_SetSecure(no, true);
        if (s == NATS_OK && o->ca_file) s = natsOptions_LoadCATrustedCertificates(no, o->ca_file);
        if (s != NATS_OK) {
            set_diag(d, o->ca_file ? o->ca_file : "tls", s);
            goto fail_quiet;
        }
    }
    if (s == NATS_OK && o->name) s = natsOptions_SetName(no, o->name);
    if (s == NATS_OK) s = natsOptions_SetTimeout(no, 2000);
    if (s == NATS_OK) s = natsOptions_SetPingInterval(no, 2000);
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(no, 2);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(no, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(no, 250);
    if (s == NATS_OK) s = natsOptions_SetReconnectJitter(no, 100, 500);
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(no, 1 << 20);
    if (s == NATS_OK) s = natsOptions_SetMaxPendingMsgs(no, 1 << 20);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(no, on_disconnected, l);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(no, on_reconnected, l);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(no, on_error, l);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(no, on_closed, l);
    if (s == NATS_OK && !wait) s = natsOptions_SetRetryOnFailedConnect(no, true, on_reconnected, l);
    if (s != NATS_OK) goto fail;
    s = natsConnection_Connect(&l->nc, no);
    if (s == NATS_NOT_YET_CONNECTED && !wait) {
        say(l, "nats: %s unreachable; retrying in the background", o->url);
        s = NATS_OK;
    }
    if (s != NATS_OK) {
        set_diag(d, o->url, s);
        goto fail_quiet;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    natsInbox *ib = NULL;
    s = natsConnection_JetStream(&l->js, l->nc, &jo);
    if (s == NATS_OK) s = natsInbox_Create(&ib);
    if (s == NATS_OK) {
        snprintf(l->inbox, sizeof l->inbox, "%s", (const char *)ib);
        natsInbox_Destroy(ib);
        char subj[160];
        snprintf(subj, sizeof subj, "%s.>", l->inbox);
        s = natsConnection_Subscribe(&l->acks, l->nc, subj, on_ack, l);
    }
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(l->acks, -1, -1);
    if (s != NATS_OK) goto fail;
    natsOptions_Destroy(no);
    free(urls);
    free(token);
    *out = l;
    return MODUS_OK;
fail:
    set_diag(d, "nats", s);
    if (s == NATS_NO_MEMORY) rc = MODUS_ENOMEM;
fail_quiet:
    natsOptions_Destroy(no);
    free(urls);
    free(token);
    l->log = NULL;
    fleet_nats.close(l);
    return rc;
}

static void nats_close(fleet_link *l)
{
    if (!l) return;
    l->log = NULL; /* closing is not news */
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < l->nsenders; i++) l->senders[i].fn = NULL;
    pthread_mutex_unlock(&l->mu);
    drop_sub(&l->acks);
    kvStore_Destroy(l->leases);
    kvStore_Destroy(l->config);
    jsCtx_Destroy(l->js);
    if (l->nc) {
        natsConnection_Close(l->nc);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        pthread_mutex_lock(&l->mu);
        while (!l->closed && pthread_cond_timedwait(&l->closed_cv, &l->mu, &ts) == 0) {
        }
        bool closed = l->closed;
        pthread_mutex_unlock(&l->mu);
        natsConnection_Destroy(l->nc);
        if (!closed) return; /* a callback may still come: leave the link to it */
    }
    pthread_cond_destroy(&l->closed_cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static bool nats_connected(fleet_link *l, uint64_t *reconnects)
{
    if (reconnects) *reconnects = atomic_load(&l->reconnects);
    return natsConnection_Status(l->nc) == NATS_CONN_STATUS_CONNECTED;
}

static int nats_sender(fleet_link *l, fleet_ack_fn fn, void *ctx)
{
    pthread_mutex_lock(&l->mu);
    int id = -1;
    if (l->nsenders < MAX_SENDERS) {
        id = l->nsenders++;
        l->senders[id].fn = fn;
        l->senders[id].ctx = ctx;
    }
    pthread_mutex_unlock(&l->mu);
    return id;
}

static modus_status nats_send(fleet_link *l, int sender, uint64_t tag, const fleet_msg *m)
{
    char reply[192];
    snprintf(reply, sizeof reply, "%s.%d.%llu", l->inbox, sender, (unsigned long long)tag);
    natsMsg *nm = NULL;
    natsStatus s = natsMsg_Create(&nm, m->subject, reply, m->data, (int)m->len);
    if (s == NATS_OK && m->id && *m->id) s = natsMsgHeader_Set(nm, "Nats-Msg-Id", m->id);
    for (size_t i = 0; s == NATS_OK && i < m->nhdrs; i++)
        s = natsMsgHeader_Set(nm, m->hdrs[i].key, m->hdrs[i].value);
    if (s == NATS_OK) s = natsConnection_PublishMsg(l->nc, nm);
    natsMsg_Destroy(nm);
    return s == NATS_OK ? MODUS_OK : s == NATS_NO_MEMORY ? MODUS_ENOMEM : MODUS_EIO;
}

/* ---- key-value buckets ---------------------------------------------------------------- */

static kvStore *bucket(fleet_link *l, kvStore **slot, const char *name)
{
    if (!*slot && js_KeyValue(slot, l->js, name) != NATS_OK) *slot = NULL;
    return *slot;
}

static unsigned nats_partitions(fleet_link *l)
{
    kvStore *kv = bucket(l, &l->config, FLEET_CONFIG_BUCKET);
    kvEntry *e = NULL;
    if (!kv || kvStore_Get(&e, kv, "partitions") != NATS_OK) return 0;
    const char *v = kvEntry_ValueString(e);
    unsigned long n = v ? strtoul(v, NULL, 10) : 0;
    kvEntry_Destroy(e);
    return n <= MODUS_FLEET_MAX_PARTITIONS ? (unsigned)n : 0;
}

static void lease_key(char *out, size_t cap, const char *group, unsigned p)
{
    snprintf(out, cap, "%s.p%u", group, p);
}

static modus_status nats_assign(fleet_link *l, const char *group, const char *member, unsigned n,
                                uint64_t *held, uint64_t release, uint64_t *surplus, modus_diag *d)
{
    *surplus = 0;
    kvStore *kv = bucket(l, &l->leases, FLEET_LEASES_BUCKET);
    if (!kv) {
        if (d) {
            memset(d, 0, sizeof *d);
            snprintf(d->message, sizeof d->message,
                     "no bucket %s on the server (run modus fleet init first): %s",
                     FLEET_LEASES_BUCKET, nats_GetLastError(NULL));
        }
        return MODUS_ENOTFOUND;
    }
    char key[256];
    snprintf(key, sizeof key, "%s.m.%s", group, member);
    kvStore_PutString(NULL, kv, key, member);
    /* renew, or give up */
    for (unsigned p = 0; p < n; p++) {
        uint64_t bit = 1ull << p;
        if (!(*held & bit)) continue;
        lease_key(key, sizeof key, group, p);
        if (release & bit) {
            kvStore_Delete(kv, key);
            *held &= ~bit;
            atomic_store(&l->lease_ok_until[p], 0);
            continue;
        }
        int64_t t0 = fleet_now_ms();
        uint64_t rev = 0;
        natsStatus s = kvStore_UpdateString(&rev, kv, key, member, l->lease_rev[p]);
        if (s != NATS_OK) {
            /* refused (someone else's now), or lost on the way: look */
            kvEntry *e = NULL;
            natsStatus g = kvStore_Get(&e, kv, key);
            if (g == NATS_OK && kvEntry_ValueString(e) && !strcmp(kvEntry_ValueString(e), member)) {
                rev = kvEntry_Revision(e);
                s = NATS_OK;
            } else if (g == NATS_OK || g == NATS_NOT_FOUND) {
                *held &= ~bit;
                atomic_store(&l->lease_ok_until[p], 0);
                say(l, "partition %u: lease lost", p);
            } else if (t0 > atomic_load(&l->lease_ok_until[p]) +
                                (FLEET_LEASE_TTL_MS - FLEET_LEASE_SAFE_MS)) {
                *held &= ~bit; /* expired by now, whoever holds it */
                atomic_store(&l->lease_ok_until[p], 0);
                say(l, "partition %u: lease expired (no answer from the server)", p);
            }
            kvEntry_Destroy(e);
        }
        if (s == NATS_OK) {
            l->lease_rev[p] = rev;
            atomic_store(&l->lease_ok_until[p], t0 + FLEET_LEASE_SAFE_MS);
        }
    }
    /* who is there, and which partitions are taken */
    kvKeysList keys = {0};
    kvWatchOptions wo;
    kvWatchOptions_Init(&wo);
    wo.Timeout = 2000;
    natsStatus s = kvStore_Keys(&keys, kv, &wo);
    if (s != NATS_OK && s != NATS_NOT_FOUND) {
        set_diag(d, "leases", s);
        return MODUS_EIO;
    }
    unsigned members = 0;
    uint64_t taken = 0;
    size_t gl = strlen(group);
    for (int i = 0; i < keys.Count; i++) {
        const char *k = keys.Keys[i];
        if (strncmp(k, group, gl) || k[gl] != '.') continue;
        if (k[gl + 1] == 'm' && k[gl + 2] == '.')
            members++;
        else if (k[gl + 1] == 'p') {
            unsigned long p = strtoul(k + gl + 2, NULL, 10);
            if (p < MODUS_FLEET_MAX_PARTITIONS) taken |= 1ull << p;
        }
    }
    kvKeysList_Destroy(&keys);
    if (!members) members = 1;
    unsigned target = (n + members - 1) / members, nheld = 0;
    for (unsigned p = 0; p < n; p++) nheld += (*held >> p) & 1;
    if (nheld > target) { /* one per round: the highest */
        for (unsigned p = n; p-- > 0;)
            if (*held & (1ull << p)) {
                *surplus = 1ull << p;
                break;
            }
    }
    for (unsigned p = 0; p < n && nheld < target; p++) {
        uint64_t bit = 1ull << p;
        if ((*held & bit) || (taken & bit)) continue;
        lease_key(key, sizeof key, group, p);
        int64_t t0 = fleet_now_ms();
        uint64_t rev = 0;
        if (kvStore_CreateString(&rev, kv, key, member) != NATS_OK) continue;
        l->lease_rev[p] = rev;
        atomic_store(&l->lease_ok_until[p], t0 + FLEET_LEASE_SAFE_MS);
        *held |= bit;
        nheld++;
    }
    return MODUS_OK;
}

static void nats_leave(fleet_link *l, const char *group, const char *member, unsigned n,
                       uint64_t held)
{
    kvStore *kv = bucket(l, &l->leases, FLEET_LEASES_BUCKET);
    if (!kv) return;
    char key[256];
    for (unsigned p = 0; p < n; p++)
        if (held & (1ull << p)) {
            lease_key(key, sizeof key, group, p);
            kvStore_Delete(kv, key);
            atomic_store(&l->lease_ok_until[p], 0);
        }
    snprintf(key, sizeof key, "%s.m.%s", group, member);
    kvStore_Delete(kv, key);
}

/* ---- partitions ------------------------------------------------------------------------- */

static void batch_free(fleet_part *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->msgs[i] != p->last) natsMsg_Destroy(p->msgs[i]);
    p->n = 0;
}

/* (Re)creates the partition's consumer to start after the last message
 * committed (the consumer's acknowledgement floor), or after next_sseq - 1
 * when this holder knows better (a reset after a gap). */
static modus_status recreate(fleet_part *p, bool from_floor, modus_diag *d)
{
    fleet_link *l = p->l;
    jsErrCode err = 0;
    jsConsumerInfo *ci = NULL;
    uint64_t start = p->next_sseq;
    natsStatus s = js_GetConsumerInfo(&ci, l->js, FLEET_EVENTS_STREAM, p->durable, NULL, &err);
    if (s == NATS_OK) {
        if (from_floor) {
            uint64_t floor = ci->AckFloor.Stream;
            if (!floor && ci->Config && ci->Config->OptStartSeq)
                floor = ci->Config->OptStartSeq - 1;
            start = floor + 1;
        }
        jsConsumerInfo_Destroy(ci);
        s = js_DeleteConsumer(l->js, FLEET_EVENTS_STREAM, p->durable, NULL, &err);
        if (s != NATS_OK) {
            set_diag(d, p->durable, s);
            return MODUS_EIO;
        }
    } else if (err != 10014 /* consumer not found */) {
        set_diag(d, p->durable, s);
        return MODUS_EIO;
    }
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = p->durable;
    cc.FilterSubject = p->filter;
    cc.AckPolicy = js_AckAll;
    cc.AckWait = 30ll * 1000000000;
    cc.MaxAckPending = 16384;
    cc.MaxWaiting = 64;
    cc.MaxDeliver = -1;
    cc.DeliverPolicy = start > 1 ? js_DeliverByStartSequence : js_DeliverAll;
    cc.OptStartSeq = start > 1 ? start : 0;
    s = js_AddConsumer(&ci, l->js, FLEET_EVENTS_STREAM, &cc, NULL, &err);
    if (s != NATS_OK) {
        set_diag(d, p->durable, s);
        return MODUS_EIO;
    }
    jsConsumerInfo_Destroy(ci);
    p->next_sseq = start > 1 ? start : 1;
    p->next_dseq = 1;
    p->pulling = false;
    p->reset = false;
    /* deliveries of the old consumer still on the way are dropped with
     * the old inbox */
    drop_sub(&p->sub);
    natsInbox_Destroy(p->inbox);
    p->inbox = NULL;
    s = natsInbox_Create(&p->inbox);
    if (s == NATS_OK) s = natsConnection_SubscribeSync(&p->sub, l->nc, (const char *)p->inbox);
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(p->sub, 1 << 16, 1 << 30);
    if (s != NATS_OK) {
        set_diag(d, "subscribe", s);
        return MODUS_EIO;
    }
    return MODUS_OK;
}

static modus_status nats_part_open(fleet_link *l, const char *group, unsigned p, fleet_part **out,
                                   modus_diag *d)
{
    *out = NULL;
    fleet_part *fp = calloc(1, sizeof *fp);
    if (!fp) return MODUS_ENOMEM;
    fp->l = l;
    fp->p = p;
    snprintf(fp->durable, sizeof fp->durable, "%s-p%u", group, p);
    snprintf(fp->filter, sizeof fp->filter, "%s*.%u", FLEET_EVENTS_PREFIX, p);
    snprintf(fp->next_subj, sizeof fp->next_subj, "$JS.API.CONSUMER.MSG.NEXT.%s.%s",
             FLEET_EVENTS_STREAM, fp->durable);
    modus_status st = recreate(fp, true, d);
    if (st != MODUS_OK) {
        fleet_nats.part_close(fp);
        return st;
    }
    *out = fp;
    return MODUS_OK;
}

static modus_status ack_confirmed(fleet_part *p, const char *reply);

static void nats_part_close(fleet_part *p)
{
    if (!p) return;
    if (p->unconfirmed) ack_confirmed(p, p->acked); /* before another holder reads the floor */
    batch_free(p);
    natsMsg_Destroy(p->last);
    drop_sub(&p->sub);
    natsInbox_Destroy(p->inbox);
    free(p->msgs);
    free(p->dl);
    free(p);
}

const char *fleet_nats_part_inbox(const fleet_part *p)
{
    return (const char *)p->inbox;
}

const char *fleet_nats_part_next_subject(const fleet_part *p)
{
    return p->next_subj;
}

static bool grow(fleet_part *p, size_t max)
{
    if (max <= p->cap) return true;
    natsMsg **m = realloc(p->msgs, max * sizeof *m);
    if (!m) return false;
    p->msgs = m;
    fleet_delivery *dl = realloc(p->dl, max * sizeof *dl);
    if (!dl) return false;
    p->dl = dl;
    p->cap = max;
    return true;
}

/* Asks for the next batch; the server ends the request 100 ms before the
 * fetch stops waiting. */
static bool send_pull(fleet_part *p, int64_t t0)
{
    char req[96];
    int64_t exp = p->pull_timeout > 200 ? p->pull_timeout - 100 : 100;
    int len = snprintf(req, sizeof req, "{\"batch\":%zu,\"expires\":%lld}", p->pull_max,
                       (long long)exp * 1000000);
    if (natsConnection_PublishRequest(p->l->nc, p->next_subj, (const char *)p->inbox, req, len) !=
        NATS_OK)
        return false;
    p->pulling = true;
    p->pull_left = p->pull_max;
    p->pull_deadline = t0 + p->pull_timeout + 500;
    return true;
}

static modus_status nats_part_fetch(fleet_part *p, size_t max, int timeout_ms, fleet_delivery **out,
                                    size_t *n, uint64_t *skipped)
{
    *n = 0;
    *out = NULL;
    batch_free(p);
    if (!grow(p, max)) return MODUS_ENOMEM;
    int64_t t0 = fleet_now_ms();
    if (t0 >= atomic_load(&p->l->lease_ok_until[p->p])) return MODUS_DONE; /* fenced */
    if (p->reset) {
        modus_diag d;
        if (recreate(p, false, &d) != MODUS_OK) return MODUS_EIO;
    }
    int64_t deadline = t0 + timeout_ms;
    p->pull_max = max;
    p->pull_timeout = timeout_ms;
    if ((!p->pulling || t0 > p->pull_deadline) && !send_pull(p, t0)) return MODUS_EIO;
    int64_t linger = 0;
    while (*n < max) {
        /* until the deadline for the first message; then 5 ms more for the
         * rest of a burst (a batch is handled as soon as the burst ends) */
        int64_t t = fleet_now_ms(), left = deadline - t;
        if (*n && !linger) linger = t + 5;
        if (linger && linger - t < left) left = linger - t;
        if (left <= 0) break;
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, p->sub, left);
        if (s == NATS_TIMEOUT) break;
        if (s != NATS_OK) return MODUS_EIO;
        const char *status = NULL;
        if (natsMsg_GetDataLength(m) == 0 && natsMsgHeader_Get(m, "Status", &status) == NATS_OK &&
            status) {
            /* 404 no messages / 408 the request expired: the pull is over;
             * 409: consumer deleted, leadership change...: pull again;
             * 100: heartbeat */
            bool over = strncmp(status, "100", 3) != 0;
            natsMsg_Destroy(m);
            if (over) {
                p->pulling = false;
                break;
            }
            continue;
        }
        const char *reply = natsMsg_GetReply(m);
        fleet_ack_meta meta;
        if (!reply || !fleet_parse_ack_subject(reply, strlen(reply), &meta)) {
            natsMsg_Destroy(m); /* not a JetStream delivery: not ours */
            continue;
        }
        if (meta.delivery_seq != p->next_dseq) {
            /* deliveries were lost on the way: stop here, start over after
             * the last one handed out */
            natsMsg_Destroy(m);
            p->reset = true;
            break;
        }
        p->next_dseq++;
        if (p->pull_left && !--p->pull_left) p->pulling = false; /* the request is complete */
        if (meta.stream_seq < p->next_sseq) {                    /* handled already */
            if (skipped) ++*skipped;
            natsMsg_Destroy(m);
            continue;
        }
        p->next_sseq = meta.stream_seq + 1;
        p->msgs[*n] = m;
        fleet_delivery *dl = &p->dl[*n];
        dl->data = natsMsg_GetData(m);
        dl->len = (size_t)natsMsg_GetDataLength(m);
        dl->subject = natsMsg_GetSubject(m);
        dl->stream_seq = meta.stream_seq;
        ++*n;
    }
    p->n = *n;
    if (*n) {
        natsMsg_Destroy(p->last);
        p->last = p->msgs[*n - 1];
        /* the next batch is on its way while this one is handled */
        if (!p->pulling && !p->reset) send_pull(p, fleet_now_ms());
    }
    *out = p->dl;
    return MODUS_OK;
}

/* AckAll on the last message handed out, confirmed by the server. */
/* An acknowledgement the server confirms (a request). */
static modus_status ack_confirmed(fleet_part *p, const char *reply)
{
    natsMsg *resp = NULL;
    natsStatus s = natsConnection_RequestString(&resp, p->l->nc, reply, "+ACK", 3000);
    natsMsg_Destroy(resp);
    if (s != NATS_OK) return MODUS_EIO;
    p->unconfirmed = false;
    p->confirmed_ms = fleet_now_ms();
    return MODUS_OK;
}

/* AckAll on the last message handed out: sent without waiting, confirmed
 * once a second and when the partition is closed. A lost acknowledgement
 * only means a redelivery, which part_fetch skips. */
static modus_status nats_part_commit(fleet_part *p)
{
    if (!p->last) return MODUS_OK;
    const char *reply = natsMsg_GetReply(p->last);
    snprintf(p->acked, sizeof p->acked, "%s", reply);
    modus_status st = MODUS_OK;
    if (fleet_now_ms() - p->confirmed_ms >= 1000) {
        st = ack_confirmed(p, p->acked);
    } else {
        p->unconfirmed = true;
        if (natsConnection_PublishString(p->l->nc, reply, "+ACK") != NATS_OK) st = MODUS_EIO;
    }
    if (p->n && p->msgs[p->n - 1] == p->last) p->n--; /* keep batch_free off it */
    natsMsg_Destroy(p->last);
    p->last = NULL;
    return st;
}

/* ---- streams (modus fleet init) ------------------------------------------------------- */

static bool stream_same(const jsStreamConfig *a, const jsStreamConfig *b)
{
    if (a->SubjectsLen != b->SubjectsLen) return false;
    for (int i = 0; i < a->SubjectsLen; i++)
        if (strcmp(a->Subjects[i], b->Subjects[i])) return false;
    return a->MaxAge == b->MaxAge && a->MaxBytes == b->MaxBytes && a->Duplicates == b->Duplicates &&
           a->Replicas == b->Replicas && a->Storage == b->Storage && a->Discard == b->Discard;
}

static modus_status ensure_stream(fleet_link *l, jsStreamConfig *cfg, modus_fleet_log_fn log,
                                  void *ctx, modus_diag *d)
{
    jsStreamInfo *si = NULL;
    jsErrCode err = 0;
    char line[512];
    natsStatus s = js_GetStreamInfo(&si, l->js, cfg->Name, NULL, &err);
    const char *what;
    if (s == NATS_OK) {
        bool same = si->Config && stream_same(si->Config, cfg);
        jsStreamInfo_Destroy(si);
        si = NULL;
        if (same) {
            what = "unchanged";
        } else {
            s = js_UpdateStream(&si, l->js, cfg, NULL, &err);
            what = "updated";
        }
    } else if (err == 10059 /* stream not found */) {
        s = js_AddStream(&si, l->js, cfg, NULL, &err);
        what = "created";
    } else {
        what = "checked";
    }
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK) {
        char w[128];
        snprintf(w, sizeof w, "stream %s (%s)", cfg->Name, what);
        set_diag(d, w, s);
        return MODUS_EIO;
    }
    snprintf(line, sizeof line,
             "stream %-13s %-9s subjects %s, replicas %lld, max age %.0f s, "
             "duplicate window %.0f s",
             cfg->Name, what, cfg->Subjects[0], (long long)cfg->Replicas, cfg->MaxAge / 1e9,
             cfg->Duplicates / 1e9);
    log(ctx, line);
    return MODUS_OK;
}

static modus_status ensure_bucket(fleet_link *l, const char *name, int64_t ttl_ns, int replicas,
                                  kvStore **slot, modus_fleet_log_fn log, void *ctx, modus_diag *d)
{
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = name;
    kc.History = 1;
    kc.TTL = ttl_ns;
    kc.Replicas = replicas;
    kc.StorageType = js_FileStorage;
    /* js_CreateKeyValue returns the existing bucket when it matches;
     * otherwise the stream behind it is updated */
    kvStore *kv = NULL;
    natsStatus s = js_CreateKeyValue(&kv, l->js, &kc);
    const char *what = "ready";
    if (s != NATS_OK) {
        jsStreamInfo *si = NULL;
        char sname[128];
        snprintf(sname, sizeof sname, "KV_%s", name);
        if (js_GetStreamInfo(&si, l->js, sname, NULL, NULL) == NATS_OK && si->Config) {
            jsStreamConfig c = *si->Config;
            c.MaxAge = ttl_ns;
            c.Replicas = replicas;
            jsStreamInfo *si2 = NULL;
            s = js_UpdateStream(&si2, l->js, &c, NULL, NULL);
            jsStreamInfo_Destroy(si2);
            if (s == NATS_OK) s = js_KeyValue(&kv, l->js, name);
            what = "updated";
        }
        jsStreamInfo_Destroy(si);
    }
    if (s != NATS_OK) {
        char w[128];
        snprintf(w, sizeof w, "bucket %s", name);
        set_diag(d, w, s);
        return MODUS_EIO;
    }
    kvStore_Destroy(*slot);
    *slot = kv;
    char line[256];
    snprintf(line, sizeof line, "bucket %-13s %-9s replicas %d", name, what, replicas);
    if (ttl_ns)
        snprintf(line + strlen(line), sizeof line - strlen(line),
                 ", entries expire %.0f s after their last renewal (leases)", ttl_ns / 1e9);
    log(ctx, line);
    return MODUS_OK;
}

/* Is the mapping in place? A plain publish to modus.events.%00probe with an
 * expected-stream header no stream has: the mapping rewrites its subject
 * (our subscription sees which partition it chose), and the stream, which
 * captures the rewritten subject, refuses to store it. */
static int probe_mapping(fleet_link *l, unsigned *partition)
{
    natsSubscription *sub = NULL;
    natsMsg *m = NULL, *got = NULL;
    int rc = -1;
    if (natsConnection_SubscribeSync(&sub, l->nc, FLEET_EVENTS_PREFIX "%00probe.*") != NATS_OK)
        return -1;
    natsConnection_Flush(l->nc);
    if (natsMsg_Create(&m, FLEET_EVENTS_PREFIX "%00probe", NULL, "{}", 2) == NATS_OK &&
        natsMsgHeader_Set(m, "Nats-Expected-Stream", "MODUS_PROBE_NOT_A_STREAM") == NATS_OK &&
        natsConnection_PublishMsg(l->nc, m) == NATS_OK) {
        if (natsSubscription_NextMsg(&got, sub, 1500) == NATS_OK) {
            const char *subj = natsMsg_GetSubject(got);
            const char *dot = strrchr(subj, '.');
            *partition = dot ? (unsigned)strtoul(dot + 1, NULL, 10) : 0;
            rc = 1;
        } else {
            rc = 0;
        }
    }
    natsMsg_Destroy(m);
    natsMsg_Destroy(got);
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return rc;
}

static modus_status nats_init(fleet_link *l, const modus_fleet_init_opts *io,
                              modus_fleet_log_fn log, void *ctx, modus_diag *d)
{
    int64_t age = (int64_t)((io->max_age > 0 ? io->max_age : 7 * 86400.0) * 1e9);
    int64_t dup = (int64_t)((io->duplicate_window > 0 ? io->duplicate_window : 120.0) * 1e9);
    if (dup > age) dup = age;
    int replicas = io->replicas ? io->replicas : 1;
    unsigned parts = io->partitions ? io->partitions : 1;
    const char *ev[] = {FLEET_EVENTS_PREFIX "*.*"}, *al[] = {FLEET_ALERTS_PREFIX "*"},
               *dl[] = {FLEET_DEAD_PREFIX ">"};
    struct {
        const char *name, **subjects;
    } streams[] = {{FLEET_EVENTS_STREAM, ev}, {FLEET_ALERTS_STREAM, al}, {FLEET_DEAD_STREAM, dl}};
    for (size_t i = 0; i < 3; i++) {
        jsStreamConfig c;
        jsStreamConfig_Init(&c);
        c.Name = streams[i].name;
        c.Subjects = streams[i].subjects;
        c.SubjectsLen = 1;
        c.Retention = js_LimitsPolicy;
        c.MaxAge = age;
        c.MaxBytes = io->max_bytes > 0 ? io->max_bytes : -1;
        c.Duplicates = dup;
        c.Replicas = replicas;
        c.Storage = js_FileStorage;
        c.Discard = js_DiscardOld;
        modus_status st = ensure_stream(l, &c, log, ctx, d);
        if (st != MODUS_OK) return st;
    }
    modus_status st = ensure_bucket(l, FLEET_LEASES_BUCKET, (int64_t)FLEET_LEASE_TTL_MS * 1000000,
                                    replicas, &l->leases, log, ctx, d);
    if (st == MODUS_OK)
        st = ensure_bucket(l, FLEET_CONFIG_BUCKET, 0, replicas, &l->config, log, ctx, d);
    if (st != MODUS_OK) return st;
    char v[16], line[512];
    snprintf(v, sizeof v, "%u", parts);
    unsigned before = nats_partitions(l);
    if (kvStore_PutString(NULL, l->config, "partitions", v) != NATS_OK) {
        set_diag(d, "partitions", NATS_ERR);
        return MODUS_EIO;
    }
    if (before && before != parts) {
        snprintf(line, sizeof line,
                 "partitions changed from %u to %u: change the mapping on every server, then "
                 "restart the scanners",
                 before, parts);
        log(ctx, line);
    }
    snprintf(line, sizeof line,
             "server-side mapping (in the account the sensors publish to, on every node):\n"
             "  mappings = {\n"
             "    \"%s*\": \"%s{{wildcard(1)}}.{{partition(%u,1)}}\"\n"
             "  }",
             FLEET_EVENTS_PREFIX, FLEET_EVENTS_PREFIX, parts);
    log(ctx, line);
    unsigned got = 0;
    int pr = probe_mapping(l, &got);
    if (pr == 1 && got < parts)
        snprintf(line, sizeof line,
                 "mapping: active on this server (a probe host went to "
                 "partition %u)",
                 got);
    else if (pr == 1)
        snprintf(line, sizeof line,
                 "mapping: active, but with more partitions than %u (a probe went to %u): fix "
                 "the servers' mapping",
                 parts, got);
    else
        snprintf(line, sizeof line,
                 "mapping: NOT active on this server: sensors' events are refused (no "
                 "responders) until it is configured");
    log(ctx, line);
    return MODUS_OK;
}

const fleet_backend fleet_nats = {
    .scheme = "nats",
    .open = nats_open,
    .close = nats_close,
    .connected = nats_connected,
    .sender = nats_sender,
    .send = nats_send,
    .partitions = nats_partitions,
    .assign = nats_assign,
    .leave = nats_leave,
    .part_open = nats_part_open,
    .part_fetch = nats_part_fetch,
    .part_commit = nats_part_commit,
    .part_close = nats_part_close,
    .init = nats_init,
};
