/* detect_query.c - run a compiled query over a stream of events.
 *
 * Event queries test each event. Sequences keep, per stage and per join key,
 * the partial match waiting for the next stage: an event that matches stage i
 * advances the partial of stage i-1 with the same key (the newer candidate
 * replaces an older one at a stage), stages are tried last to first so one
 * event never advances a partial twice, `until` drops every partial of its
 * key, and maxspan drops a partial whose first event is too old. Joins keep
 * the first event of each stage per key and fire when every stage has one.
 * Lineage (descendant / child / event of) reads a process tree built from
 * the process start events (entity ids where present, pid/ppid otherwise; a
 * new process with a reused pid replaces the old entry) and, per sub-query
 * (a slot), which processes matched it. The alerter shares one tree among
 * all its rules and feeds it every event (eql_procs_event); a runtime given
 * none keeps and feeds its own.
 *
 * Sequences cost only when they can advance: a later stage is looked at only
 * while the table of the stage before it is non-empty, and only for an
 * event whose join key is in that table (category, then key, then the
 * where clause); `until` only while partials are open. There is one partial
 * per (rule, stage, key). maxspan expiry is a timer wheel per rule (WHEEL
 * slots of maxspan/64 each, by deadline): the wheel turns, on the events
 * that match a stage (as the prefilter cannot change), to the event's time,
 * and each slot passed drops its expired partials - no scans of the tables.
 * State is bounded: partials, the events they keep (each counted once,
 * however many rules keep it) and processes are counted in bytes against
 * one cap per alerter (eql_state, MODUS_STATE_BYTES); past it the stalest
 * entries, partials and processes alike, are evicted, and counted.
 * Matched events are kept as copies of their JSON text; pipes
 * other than head buffer the results until the end of input and re-parse
 * what they need (a sequence result is seen by pipes as {"events":[...]}).
 */
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect_query.h"
#include "detect_sample.h"
#include "../decode/event.h"
#include "../util/blob.h"
#include "../util/limits.h"

#define WHEEL           256 /* timer wheel slots; a slot spans maxspan / WHEEL_SPAN */
#define WHEEL_SPAN      64
#define MALLOC_OVERHEAD 16 /* counted per allocation */
enum { LRU_PARTIAL = 1, LRU_PROC = 2 };

#define KEY_MAX  EQL_KEY_MAX
#define PROC_KEY 160 /* entity ids are ~90 bytes */

typedef struct stored {
    blob *b; /* shared; NULL when empty */
    const char *text;
    uint32_t len;
} stored;

struct eql_runtime;

/* what a table holds: on the state's list, with its key */
typedef struct ent {
    eql_lru lru; /* first: the state's list points here */
    uint32_t hash, klen;
    char *key;
} ent;

/* A partial match: one allocation (record, events, key), in its stage's
 * table, on the state's list and, with maxspan, in a wheel slot. */
typedef struct partial {
    ent e;
    struct partial *wprev, *wnext;
    struct eql_runtime *rt;
    uint32_t stage; /* the table it is in: stages matched so far - 1 */
    bool wheeled;
    uint32_t wslot;
    int64_t t0;
    size_t cost;
    stored *ev; /* nst entries, after the record; the key follows them */
} partial;

/* a table of partials or processes: open addressing, linear probing */
typedef struct ptab {
    ent **slot;
    uint32_t cap, n;
} ptab;

typedef struct proc {
    ent e; /* the key is after the marks, the parent's key after it */
    struct eql_procs *t;
    uint16_t plen;
    uint32_t phash; /* the parent key's hash (in what would be padding) */
    size_t cost;
    uint64_t mem[]; /* the marks: one bit per lineage slot */
} proc;

/* The process tree: one per alerter, shared by all its rules (or one per
 * runtime that has none given). Each lineage sub-query has a slot. */
struct eql_procs {
    ptab tab;
    uint32_t nslots, nw; /* nw: mark words per process */
    uint64_t *anc;       /* the current event: marks of its process and its ancestors */
    eql_state *state;
    eql_state own_state; /* when created without one */
    /* the current event's process and parent keys, read once per event
     * whatever the number of lineage rules (idc, idgen: the event), and its
     * entry (me, valid while ver is me_ver: entries change only by proc_put
     * and proc_free) */
    const eql_cache *idc;
    uint64_t idgen;
    char k[PROC_KEY], pk[PROC_KEY];
    uint32_t kn, pn, kh, pkh;
    uint64_t ver, me_ver;
    struct proc *me;
};

typedef struct result {
    stored *ev;
    uint32_t n;
} result;

struct rt_alias {
    mj_parser *parser[64];
    mj_doc doc[64];
    const mj_doc *ptr[64];
    blob *of[64]; /* the event doc[k] was parsed from, NULL: none; a reference (so the
                     address names that event), outside the state's count: at most
                     one event per alias of the few rules with aliases */
    bool ok[64];  /* ... and whether it parsed */
};

struct eql_runtime {
    /* first, what every event the rule sees reads (two cache lines: there
     * are hundreds of runtimes, each seeing a few events) */
    const eql_query *q;
    uint8_t kind;      /* q->kind ... */
    uint32_t nlineage; /* ... and q->nlineage, read without q */
    bool done;
    bool buffer;
    int64_t head_left;  /* streaming head; -1 none */
    eql_match_fn match; /* the alerter's programs, or NULL */
    void *match_ctx;
    eql_xrt *x; /* samples and sequences with missing events: detect_sample.c */
    /* sequences: expanded stages (runs) */
    const eql_stage **st;
    uint32_t nst;
    uint32_t nparts;
    ptab *tabs; /* per stage (one for a join) */
    eql_state *state;
    eql_val *vars; /* arraySearch's $variables (q->nvars; NULL: none) */
    /* the current event, and where its shared copy lives (see blob.h) */
    blob **cur;
    const char *cur_text;
    size_t cur_len;
    eql_stats stats;
    eql_emit_fn emit;
    void *ctx;
    mj_parser *parser; /* for pipes over buffered results */
    mj_doc doc;
    arena scratch;
    bool lin[64];
    uint32_t *decl;     /* expanded stage -> declared stage */
    uint32_t *last_exp; /* declared stage -> its last expanded stage */
    /* events of earlier stages, parsed for `as` aliases (on first use:
     * most runtimes never need them, and -j N has one runtime per rule
     * per lane) */
    struct rt_alias *alias;
    partial **wheel;    /* WHEEL slots, with maxspan; allocated by the first link */
    int64_t tick;       /* ns per wheel slot */
    int64_t wheel_done; /* the last tick whose slot has been emptied of expired partials */
    bool wheel_on;
    eql_state own_state; /* when created without one */
    /* lineage */
    eql_procs *procs;
    bool own_procs;    /* fed by this runtime (no shared tree) */
    uint32_t lin_base; /* this query's first slot in the tree */
    /* results */
    result *res;
    uint32_t nres, capres;
    blob *own_cur; /* when the caller gives no slot */
};

static void free_stored(stored *s)
{
    blob_unref(s->b);
    s->b = NULL;
    s->text = NULL;
}

static void set_stored(stored *s, blob *b)
{
    s->b = b;
    s->text = b ? b->text : NULL;
    s->len = b ? b->len : 0;
}

/* keep the current event: one copy per event, shared by every rule */
static bool keep(eql_runtime *rt, stored *s)
{
    if (!*rt->cur) *rt->cur = blob_new(rt->cur_text, rt->cur_len);
    if (!*rt->cur) return false;
    set_stored(s, blob_ref(*rt->cur));
    return true;
}

/* ---- state: the cap, the list of entries, the tables ---------------------------- */

void eql_state_init(eql_state *s, size_t limit)
{
    memset(s, 0, sizeof *s);
    s->list.prev = s->list.next = &s->list;
    s->limit = limit;
}

static void state_add(eql_state *s, size_t n)
{
    s->bytes += n;
    if (s->bytes > s->peak) s->peak = s->bytes;
}

static void state_sub(eql_state *s, size_t n)
{
    s->bytes = s->bytes >= n ? s->bytes - n : 0;
}

static void lru_push(eql_state *s, eql_lru *n)
{
    n->prev = s->list.prev;
    n->next = &s->list;
    s->list.prev->next = n;
    s->list.prev = n;
}

static void lru_unlink(eql_lru *n)
{
    if (!n->prev) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

static void lru_touch(eql_state *s, eql_lru *n)
{
    lru_unlink(n);
    lru_push(s, n);
}

/* An event kept by sequence state counts once, whatever the number of
 * partials (of any rule of the alerter) that keep it. */
static size_t blob_cost(const blob *b)
{
    return sizeof *b + b->len + 64 + MALLOC_OVERHEAD;
}

static void hold(eql_runtime *rt, partial *p, const stored *s);
static void unhold(eql_runtime *rt, partial *p, const stored *s);

static ent **ptab_slot(const ptab *t, const char *k, uint32_t n, uint32_t h)
{
    uint32_t mask = t->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        ent *e = t->slot[i];
        if (!e || (e->hash == h && e->klen == n && !memcmp(e->key, k, n))) return &t->slot[i];
    }
}

static ent *ptab_find(const ptab *t, const char *k, uint32_t n, uint32_t h)
{
    return t->n ? *ptab_slot(t, k, n, h) : NULL;
}

static bool ptab_grow(ptab *t, eql_state *st)
{
    uint32_t cap = t->cap ? t->cap * 2 : 16;
    ent **ns = calloc(cap, sizeof *ns);
    if (!ns) return false;
    for (uint32_t i = 0; i < t->cap; i++) {
        ent *e = t->slot[i];
        if (!e) continue;
        uint32_t h = e->hash & (cap - 1);
        while (ns[h]) h = (h + 1) & (cap - 1);
        ns[h] = e;
    }
    state_sub(st, (size_t)t->cap * sizeof *ns);
    state_add(st, (size_t)cap * sizeof *ns);
    free(t->slot);
    t->slot = ns;
    t->cap = cap;
    return true;
}

/* Puts e (at most half full); returns the entry it replaces (same key), if any. */
static bool ptab_put(ptab *t, ent *e, eql_state *st, ent **old)
{
    *old = NULL;
    if ((t->n + 1) * 2 > t->cap && !ptab_grow(t, st)) return false;
    ent **sl = ptab_slot(t, e->key, e->klen, e->hash);
    if (*sl)
        *old = *sl;
    else
        t->n++;
    *sl = e;
    return true;
}

/* removal with backward shift: the cluster after the hole moves up */
static void ptab_remove(ptab *t, ent *e)
{
    uint32_t mask = t->cap - 1, i = e->hash & mask;
    while (t->slot[i] != e) {
        if (!t->slot[i]) return;
        i = (i + 1) & mask;
    }
    t->slot[i] = NULL;
    t->n--;
    for (uint32_t j = (i + 1) & mask; t->slot[j]; j = (j + 1) & mask) {
        uint32_t k = t->slot[j]->hash & mask;
        /* stays if its home k lies cyclically in (i, j] */
        bool stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (stays) continue;
        t->slot[i] = t->slot[j];
        t->slot[j] = NULL;
        i = j;
    }
}

static void ptab_free(ptab *t, eql_state *st)
{
    state_sub(st, (size_t)t->cap * sizeof *t->slot);
    free(t->slot);
    t->slot = NULL;
    t->cap = t->n = 0;
}

/* keys of the tables: 8 bytes at a time (entity ids are ~90 bytes) */
static uint32_t fnv(const void *p, size_t n)
{
    return (uint32_t)sv_hash64(p, n, 0x7e9u);
}

/* ---- values to keys ---------------------------------------------------------- */

static size_t put_key(char *k, size_t at, const eql_val *v)
{
    if (at + 2 + 24 > KEY_MAX) return KEY_MAX + 1;
    k[at++] = (char)('0' + v->t);
    switch (v->t) {
    case V_BOOL: k[at++] = v->b ? '1' : '0'; break;
    case V_INT: memcpy(k + at, &v->i, 8), at += 8; break;
    case V_DOUBLE: {
        /* 2 == 2.0 as join keys */
        if (v->d == (double)(int64_t)v->d) {
            k[at - 1] = (char)('0' + V_INT);
            int64_t i = (int64_t)v->d;
            memcpy(k + at, &i, 8);
        } else {
            memcpy(k + at, &v->d, 8);
        }
        at += 8;
        break;
    }
    case V_STR:
        if (at + v->n + 1 > KEY_MAX) return KEY_MAX + 1;
        memcpy(k + at, v->s, v->n);
        at += v->n;
        k[at++] = 0;
        break;
    case V_ARR:
    case V_OBJ: memcpy(k + at, &v->ref, 4), at += 4; break;
    default: break;
    }
    return at;
}

static size_t stage_key(eql_runtime *rt, eql_ctx *c, const eql_stage *st, char *k)
{
    size_t at = 0;
    for (uint32_t i = 0; i < st->nby; i++) {
        eql_val v = eql_eval(c, st->by[i]);
        at = put_key(k, at, &v);
        if (at > KEY_MAX) return KEY_MAX + 1;
    }
    (void)rt;
    return at;
}

/* ---- time ------------------------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int two(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* the common form, digits where the pattern has them: what the sscanf below
 * reads from it, without the scanf machinery */
static bool iso_fixed(const char *t, int *Y, int *M, int *D, int *h, int *m, int *sec)
{
    static const char pat[] = "dddd-dd-dd?dd:dd:dd";
    for (int i = 0; i < 19; i++)
        if (pat[i] == 'd' ? !is_digit(t[i]) : pat[i] == '?' ? !t[i] : t[i] != pat[i]) return false;
    *Y = two(t) * 100 + two(t + 2);
    *M = two(t + 5);
    *D = two(t + 8);
    *h = two(t + 11);
    *m = two(t + 14);
    *sec = two(t + 17);
    return true;
}

static int64_t iso_ns(const char *s, uint32_t n)
{
    /* YYYY-MM-DDTHH:MM:SS[.frac][Z|+hh:mm] */
    if (n < 19) return 0;
    int Y, M, D, h, m, sec;
    char tmp[40];
    size_t k = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
    memcpy(tmp, s, k);
    tmp[k] = 0;
    if (!iso_fixed(tmp, &Y, &M, &D, &h, &m, &sec) &&
        sscanf(tmp, "%4d-%2d-%2d%*c%2d:%2d:%2d", &Y, &M, &D, &h, &m, &sec) != 6)
        return 0;
    /* days from civil (Howard Hinnant) */
    Y -= M <= 2;
    int64_t era = (Y >= 0 ? Y : Y - 399) / 400;
    int64_t yoe = Y - era * 400;
    int64_t doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    int64_t ns = ((days * 86400 + h * 3600 + m * 60 + sec)) * 1000000000ll;
    const char *p = tmp + 19;
    if (*p == '.') {
        int64_t scale = 100000000;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            if (scale) ns += (*p - '0') * scale;
    }
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) >= 1) {
            int64_t off = (oh * 3600 + om * 60) * 1000000000ll;
            ns += *p == '+' ? -off : off;
        }
    }
    return ns;
}

static int64_t event_time(const eql_ctx *c);

int64_t eql_event_time(const eql_ctx *c)
{
    eql_cache *k = c->cache;
    if (!k) return event_time(c);
    if (k->time_gen != k->gen) { /* once per event, whatever the number of sequence rules */
        k->time_gen = k->gen;
        k->time = event_time(c);
    }
    return k->time;
}

static int64_t event_time(const eql_ctx *c)
{
    eql_val v = eql_field(c, "@timestamp", 10, 0);
    if (v.t == V_STR) return iso_ns(v.s, v.n);
    if (v.t != V_INT && v.t != V_DOUBLE) v = eql_field(c, "timestamp", 9, 0);
    double x = v.t == V_INT ? (double)v.i : v.t == V_DOUBLE ? v.d : 0;
    /* FILETIME counts 100 ns ticks from 1601: shift to the Unix epoch first */
    const int64_t epoch_ticks = 116444736000000000ll;
    if (v.t == V_INT && v.i >= 10000000000000000ll && v.i < 1000000000000000000ll)
        return (v.i - epoch_ticks) * 100;
    if (!(x > -9e18 && x < 9e18)) return 0; /* NaN or beyond int64: no usable time */
    if (x >= 1e18) return (int64_t)x;       /* ns */
    if (x >= 1e16) return (int64_t)((x - (double)epoch_ticks) * 100); /* FILETIME */
    if (x >= 1e11) return (int64_t)(x * 1e6);                         /* ms */
    return (int64_t)(x * 1e9);                                        /* s */
}

/* ---- category ---------------------------------------------------------------------- */

/* the fields every rule reads, through the per-event cache */
enum {
    F_CATEGORY,
    F_EVENT_TYPE,
    F_TYPE,
    F_OPCODE,
    F_OWN,                /* a process's identity, in order of preference (proc_ids) ... */
    F_PARENT = F_OWN + 4, /* ... and its parent's */
    F_NFIXED = F_PARENT + 4
};
static int fixed_id[F_NFIXED];
static uint32_t fixed_len[F_NFIXED];
static pthread_once_t fixed_once = PTHREAD_ONCE_INIT;
static const char *const fixed_path[F_NFIXED] = {
    "event.category",           "event_type",         "event.type", "opcode",
    "process.entity_id",        "process.pid",        "pid",        "unique_pid",
    "process.parent.entity_id", "process.parent.pid", "ppid",       "unique_ppid"};

static void fixed_init(void)
{
    for (int i = 0; i < F_NFIXED; i++) {
        fixed_len[i] = (uint32_t)strlen(fixed_path[i]);
        fixed_id[i] = eql_field_intern(fixed_path[i], fixed_len[i]);
    }
}

static eql_val fixed(const eql_ctx *c, int f)
{
    pthread_once(&fixed_once, fixed_init);
    return eql_field_cached(c, fixed_id[f], fixed_path[f], fixed_len[f]);
}

static bool category_ok(const eql_ctx *c, const eql_stage *st)
{
    if (st->any) return true;
    eql_val v = fixed(c, F_CATEGORY);
    if (v.t == V_NULL) v = fixed(c, F_EVENT_TYPE);
    sv cat = st->category;
    if (v.t == V_STR) return sv_ieq((sv){v.s, v.n}, cat);
    if (v.t == V_ARR) {
        const mj_doc *d = c->doc;
        for (uint32_t k = v.ref + 1, j = 0; j < v.n; j++, k = d->nodes[k].next)
            if (d->nodes[k].type == MJ_STRING &&
                sv_ieq((sv){d->nodes[k].v.s, d->nodes[k].len}, cat))
                return true;
    }
    return false;
}

static bool stage_match(eql_runtime *rt, eql_ctx *c, const eql_stage *st)
{
    if (!category_ok(c, st)) return false;
    if (rt->match) return rt->match(rt->match_ctx, c, st);
    return eql_true(eql_eval(c, st->where));
}

static bool x_match(void *rt, eql_ctx *c, const eql_stage *st)
{
    return stage_match(rt, c, st);
}

size_t eql_stage_key(eql_ctx *c, const eql_stage *st, char *k)
{
    return stage_key(NULL, c, st, k);
}

/* ---- results and pipes --------------------------------------------------------------- */

/* a result straight to emit (no pipe buffers it); a streaming head ends the run */
static void emit_now(eql_runtime *rt, const char *const *t, const size_t *l, uint32_t n)
{
    if (rt->head_left == 0) {
        rt->done = true;
        return;
    }
    rt->emit(rt->ctx, t, l, n);
    if (rt->head_left > 0 && --rt->head_left == 0) rt->done = true;
}

static void deliver(eql_runtime *rt, stored *ev, uint32_t n)
{
    rt->stats.matches++;
    if (rt->buffer) {
        if (rt->nres == rt->capres) {
            uint32_t cap = rt->capres ? rt->capres * 2 : 64;
            result *r = realloc(rt->res, sizeof *r * cap);
            if (!r) {
                for (uint32_t i = 0; i < n; i++) free_stored(&ev[i]);
                free(ev);
                return;
            }
            rt->res = r;
            rt->capres = cap;
        }
        rt->res[rt->nres++] = (result){ev, n};
        return;
    }
    const char *t[256] = {NULL};
    size_t l[256] = {0};
    for (uint32_t i = 0; i < n && i < 256; i++) t[i] = ev[i].text, l[i] = ev[i].len;
    emit_now(rt, t, l, n < 256 ? n : 256);
    for (uint32_t i = 0; i < n; i++) free_stored(&ev[i]);
    free(ev);
}

/* parse a result for a pipe: the event itself, or {"events":[...]} */
static bool result_ctx(eql_runtime *rt, const result *r, eql_ctx *c, char **owned)
{
    *owned = NULL;
    const char *text;
    size_t len;
    if (rt->q->kind == Q_EVENT) {
        text = r->ev[0].text;
        len = r->ev[0].len;
    } else {
        len = 12;
        for (uint32_t i = 0; i < r->n; i++) len += r->ev[i].len + 1;
        char *b = malloc(len + MJ_PADDING);
        if (!b) return false;
        size_t k = 0;
        memcpy(b, "{\"events\":[", 11);
        k = 11;
        for (uint32_t i = 0; i < r->n; i++) {
            if (i) b[k++] = ',';
            memcpy(b + k, r->ev[i].text, r->ev[i].len);
            k += r->ev[i].len;
        }
        b[k++] = ']';
        b[k++] = '}';
        memset(b + k, ' ', MJ_PADDING);
        len = k;
        text = b;
        *owned = b;
    }
    mj_error err;
    if (!rt->parser) rt->parser = mj_parser_create(64u << 20, 128, 1u << 22); /* pipes only */
    if (!rt->parser || mj_parse(rt->parser, text, len, NULL, &rt->doc, &err)) return false;
    c->doc = &rt->doc;
    c->scratch = &rt->scratch;
    c->vars = rt->vars;
    c->lineage = NULL;
    c->alias = NULL;
    c->cache = NULL; /* a pipe's document is not the scanner's event */
    return true;
}

static void drop_result(result *r)
{
    for (uint32_t i = 0; i < r->n; i++) free_stored(&r->ev[i]);
    free(r->ev);
    r->ev = NULL;
    r->n = 0;
}

typedef struct sort_item {
    uint32_t idx;
    eql_val *keys; /* copies; strings copied into the arena */
} sort_item;

static uint32_t g_nkeys;
static int cmp_items(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    for (uint32_t k = 0; k < g_nkeys; k++) {
        const eql_val *u = &x->keys[k], *v = &y->keys[k];
        if (u->t == V_NULL || v->t == V_NULL) {
            if (u->t != v->t) return u->t == V_NULL ? -1 : 1;
            continue;
        }
        bool ok;
        int r = eql_compare(u, v, &ok);
        if (!ok) r = u->t < v->t ? -1 : u->t > v->t;
        if (r) return r;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static eql_val copy_val(arena *a, eql_val v)
{
    if (v.t == V_STR) v.s = arena_strndup(a, v.s, v.n);
    if (v.t == V_ARR || v.t == V_OBJ) v.t = V_NULL; /* containers do not sort */
    return v;
}

/* unique_count: the first event of each group gains "count" and "percent" */
static void annotate(stored *ev, uint32_t count, double percent)
{
    char add[80];
    int n = snprintf(add, sizeof add, ",\"count\":%u,\"percent\":%.17g}", count, percent);
    size_t end = ev->len;
    while (end && ev->text[end - 1] != '}') end--;
    if (!end || n <= 0) return;
    char *t = malloc(end - 1 + (size_t)n);
    if (!t) return;
    memcpy(t, ev->text, end - 1);
    memcpy(t + end - 1, add, (size_t)n);
    blob *b = blob_new(t, end - 1 + (size_t)n); /* a new text: the old blob may be shared */
    free(t);
    if (!b) return;
    free_stored(ev);
    set_stored(ev, b);
}

static void apply_pipe(eql_runtime *rt, const eql_pipe *p)
{
    arena keys;
    arena_init(&keys, 1 << 16);
    switch (p->kind) {
    case P_HEAD:
        for (uint32_t i = p->n < 0 ? 0 : (uint32_t)(p->n < rt->nres ? p->n : rt->nres);
             i < rt->nres; i++)
            drop_result(&rt->res[i]);
        if ((int64_t)rt->nres > p->n) rt->nres = p->n < 0 ? 0 : (uint32_t)p->n;
        break;
    case P_TAIL: {
        uint32_t keep_n = p->n < 0 ? 0 : (uint32_t)(p->n < rt->nres ? p->n : rt->nres);
        uint32_t from = rt->nres - keep_n;
        for (uint32_t i = 0; i < from; i++) drop_result(&rt->res[i]);
        if (keep_n) memmove(rt->res, rt->res + from, sizeof(result) * keep_n);
        rt->nres = keep_n;
        break;
    }
    case P_FILTER: {
        uint32_t k = 0;
        for (uint32_t i = 0; i < rt->nres; i++) {
            eql_ctx c;
            char *owned;
            bool ok = result_ctx(rt, &rt->res[i], &c, &owned) && eql_true(eql_eval(&c, p->args[0]));
            free(owned);
            arena_reset(&rt->scratch);
            if (ok)
                rt->res[k++] = rt->res[i];
            else
                drop_result(&rt->res[i]);
        }
        rt->nres = k;
        break;
    }
    case P_SORT:
    case P_UNIQUE:
    case P_UNIQUE_COUNT: {
        uint32_t nk = p->nargs;
        sort_item *items = calloc(rt->nres ? rt->nres : 1, sizeof *items);
        if (!items) break;
        for (uint32_t i = 0; i < rt->nres; i++) {
            items[i].idx = i;
            items[i].keys = arena_alloc(&keys, sizeof(eql_val) * (nk ? nk : 1));
            eql_ctx c;
            char *owned;
            bool ok = result_ctx(rt, &rt->res[i], &c, &owned);
            for (uint32_t k = 0; k < nk; k++) {
                eql_val v = {0};
                if (ok) v = eql_eval(&c, p->args[k]);
                items[i].keys[k] = copy_val(&keys, v);
            }
            free(owned);
            arena_reset(&rt->scratch);
        }
        if (p->kind == P_SORT) {
            g_nkeys = nk;
            qsort(items, rt->nres, sizeof *items, cmp_items);
            result *sorted = malloc(sizeof(result) * (rt->nres ? rt->nres : 1));
            if (sorted && rt->nres) {
                for (uint32_t i = 0; i < rt->nres; i++) sorted[i] = rt->res[items[i].idx];
                memcpy(rt->res, sorted, sizeof(result) * rt->nres);
            }
            free(sorted);
        } else {
            uint32_t k = 0, total = rt->nres;
            uint32_t *count = calloc(total ? total : 1, sizeof *count);
            for (uint32_t i = 0; i < rt->nres; i++) {
                int32_t first = -1;
                for (uint32_t j = 0; j < i && first < 0; j++) {
                    bool same = true;
                    for (uint32_t x = 0; x < nk && same; x++)
                        same = eql_equal(&items[i].keys[x], &items[j].keys[x], false);
                    if (same) first = (int32_t)j;
                }
                while (first >= 0 && !rt->res[first].ev)
                    first = -1; /* cannot happen: firsts stay */
                if (first >= 0) {
                    if (count) count[first]++;
                    drop_result(&rt->res[i]);
                } else if (count) {
                    count[i] = 1;
                }
            }
            if (p->kind == P_UNIQUE_COUNT && count && rt->q->kind == Q_EVENT)
                for (uint32_t i = 0; i < rt->nres; i++)
                    if (rt->res[i].ev)
                        annotate(&rt->res[i].ev[0], count[i], (double)count[i] / total);
            free(count);
            for (uint32_t i = 0; i < rt->nres; i++)
                if (rt->res[i].ev) rt->res[k++] = rt->res[i];
            rt->nres = k;
        }
        free(items);
        break;
    }
    default: break;
    }
    arena_free(&keys);
}

/* ---- lineage --------------------------------------------------------------------------- */

static char *proc_parent(const proc *p)
{
    return p->e.key + p->e.klen;
}

static proc *proc_find_h(const eql_procs *t, const char *k, uint32_t n, uint32_t h)
{
    if (!n) return NULL;
    return (proc *)ptab_find(&t->tab, k, n, h);
}

static proc *proc_up(const proc *p)
{
    return proc_find_h(p->t, proc_parent(p), p->plen, p->phash);
}

static void proc_free(eql_procs *t, proc *p)
{
    t->ver++;
    lru_unlink(&p->e.lru);
    state_sub(t->state, p->cost);
    free(p);
}

/* The entry of process k (created if needed) with parent pk; its marks are
 * kept unless `fresh` (a new process, even with a reused pid). The newest
 * entry on the state's list. */
static proc *proc_put(eql_procs *t, const char *k, uint32_t n, const char *pk, uint32_t pn,
                      bool fresh)
{
    if (!n) return NULL;
    uint32_t h = fnv(k, n);
    proc *old = proc_find_h(t, k, n, h);
    size_t sz = sizeof(proc) + (size_t)t->nw * 8 + n + pn;
    proc *p = malloc(sz);
    if (!p) return old;
    memset(p, 0, sizeof *p);
    if (old && !fresh)
        memcpy(p->mem, old->mem, (size_t)t->nw * 8);
    else
        memset(p->mem, 0, (size_t)t->nw * 8);
    p->e.lru.kind = LRU_PROC;
    p->e.hash = h;
    p->e.klen = n;
    p->e.key = (char *)(p->mem + t->nw);
    memcpy(p->e.key, k, n);
    if (pn) memcpy(p->e.key + n, pk, pn);
    p->plen = (uint16_t)pn;
    p->phash = pn ? fnv(pk, pn) : 0;
    p->t = t;
    p->cost = sz + MALLOC_OVERHEAD;
    ent *was;
    if (!ptab_put(&t->tab, &p->e, t->state, &was)) {
        free(p);
        return old;
    }
    if (was) proc_free(t, (proc *)was);
    t->ver++;
    lru_push(t->state, &p->e.lru);
    state_add(t->state, p->cost);
    return p;
}

static void proc_evict(proc *p)
{
    eql_procs *t = p->t;
    ptab_remove(&t->tab, &p->e);
    proc_free(t, p);
}

eql_procs *eql_procs_create(uint32_t nslots, eql_state *state)
{
    eql_procs *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    eql_state_init(&t->own_state, MODUS_STATE_BYTES);
    t->state = state ? state : &t->own_state;
    t->nslots = nslots;
    t->nw = (nslots + 63) / 64;
    t->anc = calloc(t->nw + 1, sizeof *t->anc);
    if (!t->anc) {
        free(t);
        return NULL;
    }
    return t;
}

void eql_procs_destroy(eql_procs *t)
{
    if (!t) return;
    for (uint32_t i = 0; i < t->tab.cap; i++)
        if (t->tab.slot[i]) proc_free(t, (proc *)t->tab.slot[i]);
    ptab_free(&t->tab, t->state);
    free(t->anc);
    free(t);
}

/* identity of an event's process and of its parent (k, pk: PROC_KEY bytes):
 * the first present of the four fields from `first` */
static void proc_id(const eql_ctx *c, int first, char *k, uint32_t *kn)
{
    *kn = 0;
    for (int i = first; i < first + 4; i++) {
        eql_val v = fixed(c, i);
        if (v.t == V_NULL) continue;
        char tmp[KEY_MAX];
        size_t n = put_key(tmp, 0, &v);
        if (n <= PROC_KEY) {
            memcpy(k, tmp, n);
            *kn = (uint32_t)n;
        }
        return;
    }
}

static void proc_ids(const eql_ctx *c, char *k, uint32_t *kn, char *pk, uint32_t *pn)
{
    proc_id(c, F_OWN, k, kn);
    proc_id(c, F_PARENT, pk, pn);
}

static bool has_str(const eql_ctx *c, eql_val v, sv want)
{
    if (v.t == V_STR) return sv_ieq((sv){v.s, v.n}, want);
    if (v.t == V_ARR) {
        const mj_doc *d = c->doc;
        for (uint32_t k = v.ref + 1, j = 0; j < v.n; j++, k = d->nodes[k].next)
            if (d->nodes[k].type == MJ_STRING &&
                sv_ieq((sv){d->nodes[k].v.s, d->nodes[k].len}, want))
                return true;
    }
    return false;
}

/* A process event (category process) that starts a process: event.type
 * start, or an opcode 1, 3 or 9 (Endgame). Library loads and connections
 * also say "start" and must not restart their process. */
static bool is_process_start(const eql_ctx *c)
{
    eql_val cat = fixed(c, F_CATEGORY);
    if (cat.t == V_NULL) cat = fixed(c, F_EVENT_TYPE);
    if (!has_str(c, cat, SV_LIT("process"))) return false;
    eql_val v = fixed(c, F_OPCODE);
    if (v.t == V_INT) return v.i == 1 || v.i == 3 || v.i == 9;
    return has_str(c, fixed(c, F_TYPE), SV_LIT("start"));
}

/* The current event's process and parent keys into t (k, pk), read once per
 * event of the scanner's cache (none: every time). */
static void event_ids(eql_procs *t, const eql_ctx *c)
{
    if (c->cache && t->idc == c->cache && t->idgen == c->cache->gen) return;
    proc_ids(c, t->k, &t->kn, t->pk, &t->pn);
    t->kh = t->kn ? fnv(t->k, t->kn) : 0;
    t->pkh = t->pn ? fnv(t->pk, t->pn) : 0;
    t->idc = c->cache;
    t->idgen = c->cache ? c->cache->gen : 0;
    t->me_ver = t->ver - 1; /* the entry is looked up again */
}

/* the current event's process entry (event_ids first), or NULL */
static proc *event_me(eql_procs *t)
{
    if (t->me_ver != t->ver) {
        t->me = proc_find_h(t, t->k, t->kn, t->kh);
        t->me_ver = t->ver;
    }
    return t->me;
}

/* Feed the tree: a process start enters (or renews) its process. */
static void procs_feed(eql_procs *t, const eql_ctx *c)
{
    if (!is_process_start(c)) return;
    event_ids(t, c);
    if (t->kn) proc_put(t, t->k, t->kn, t->pk, t->pn, true);
}

const uint64_t *eql_procs_event(eql_procs *t, const mj_doc *doc, eql_cache *cache)
{
    eql_ctx c = {doc, NULL, NULL, NULL, NULL, cache};
    procs_feed(t, &c);
    memset(t->anc, 0, t->nw * sizeof *t->anc);
    event_ids(t, &c);
    proc *me = event_me(t);
    if (me)
        for (uint32_t w = 0; w < t->nw; w++) t->anc[w] |= me->mem[w];
    /* the same walk as lineage_step's */
    proc *p = me ? proc_up(me) : proc_find_h(t, t->pk, t->pn, t->pkh);
    for (int depth = 0; p && depth < 128; depth++) {
        for (uint32_t w = 0; w < t->nw; w++) t->anc[w] |= p->mem[w];
        p = proc_up(p);
    }
    return t->anc;
}

static void lineage_step(eql_runtime *rt, eql_ctx *c)
{
    const eql_query *q = rt->q;
    eql_procs *t = rt->procs;
    if (rt->own_procs) procs_feed(t, c);
    event_ids(t, c);
    uint32_t kn = t->kn;
    proc *me = event_me(t);
    /* Inner sub-queries have lower slots: for each slot in order, mark this
     * process if the event matches the sub-query (seeing the answers of the
     * inner slots), then answer the slot for this event. A process first seen
     * in a matching event is added then; others need no entry: their parent
     * comes from the event itself. */
    c->lineage = rt->lin;
    for (uint32_t s = 0; s < q->nlineage && s < 64; s++) {
        const eql_node *ln = q->lineage[s];
        uint32_t g = rt->lin_base + s;
        if (kn && stage_match(rt, c, ln->sub->stages)) {
            if (!me) me = proc_put(t, t->k, kn, t->pk, t->pn, false);
            if (me) {
                me->mem[g >> 6] |= 1ull << (g & 63);
                lru_touch(t->state, &me->e.lru);
            }
        }
        bool r = false;
        if (ln->lineage == LIN_EVENT) {
            r = me && (me->mem[g >> 6] >> (g & 63) & 1);
        } else {
            proc *p = me ? proc_up(me) : proc_find_h(t, t->pk, t->pn, t->pkh);
            for (int depth = 0; p && depth < 128; depth++) {
                if (p->mem[g >> 6] >> (g & 63) & 1) {
                    r = true;
                    break;
                }
                if (ln->lineage == LIN_CHILD) break;
                p = proc_up(p);
            }
        }
        rt->lin[s] = r;
    }
}

/* ---- sequences ---------------------------------------------------------------------------- */

static void hold(eql_runtime *rt, partial *p, const stored *s)
{
    if (!s->b) return;
    if (rt->state == &rt->own_state) { /* a runtime alone: its copies, counted per partial */
        p->cost += blob_cost(s->b);
        state_add(rt->state, blob_cost(s->b));
    } else if (s->b->held++ == 0) {
        state_add(rt->state, blob_cost(s->b));
    }
}

static void unhold(eql_runtime *rt, partial *p, const stored *s)
{
    if (!s->b) return;
    if (rt->state == &rt->own_state) {
        p->cost -= blob_cost(s->b);
        state_sub(rt->state, blob_cost(s->b));
    } else if (--s->b->held == 0) {
        state_sub(rt->state, blob_cost(s->b));
    }
}

/* keep the current event as event i of partial p */
static bool keep_in(eql_runtime *rt, partial *p, uint32_t i)
{
    if (!keep(rt, &p->ev[i])) return false;
    hold(rt, p, &p->ev[i]);
    return true;
}

static int64_t floor_div(int64_t x, int64_t d)
{
    return x >= 0 ? x / d : -((-x + d - 1) / d);
}

static void wheel_link(eql_runtime *rt, partial *p)
{
    int64_t tk = floor_div(p->t0 + rt->q->maxspan_ns, rt->tick);
    if (!rt->wheel_on) {
        rt->wheel_on = true;
        rt->wheel_done = floor_div(p->t0, rt->tick) - 1;
    }
    if (tk <= rt->wheel_done) tk = rt->wheel_done + 1; /* already due: the next turn looks */
    if (!rt->wheel && !(rt->wheel = calloc(WHEEL, sizeof *rt->wheel)))
        return; /* out of memory: not expired by the wheel (maxspan still holds) */
    p->wslot = (uint32_t)(tk & (WHEEL - 1));
    partial **head = &rt->wheel[p->wslot];
    p->wprev = NULL;
    p->wnext = *head;
    if (*head) (*head)->wprev = p;
    *head = p;
    p->wheeled = true;
}

static void wheel_unlink(eql_runtime *rt, partial *p)
{
    if (!p->wheeled) return;
    if (p->wprev)
        p->wprev->wnext = p->wnext;
    else
        rt->wheel[p->wslot] = p->wnext;
    if (p->wnext) p->wnext->wprev = p->wprev;
    p->wheeled = false;
}

static partial *part_new(eql_runtime *rt, const char *key, uint32_t kl, uint32_t h, int64_t t0)
{
    size_t sz = sizeof(partial) + (size_t)rt->nst * sizeof(stored) + kl;
    partial *p = calloc(1, sz);
    if (!p) return NULL;
    p->ev = (stored *)(p + 1);
    p->e.key = (char *)(p->ev + rt->nst);
    memcpy(p->e.key, key, kl);
    p->e.klen = kl;
    p->e.hash = h;
    p->e.lru.kind = LRU_PARTIAL;
    p->rt = rt;
    p->t0 = t0;
    p->cost = sz + MALLOC_OVERHEAD;
    state_add(rt->state, p->cost);
    return p;
}

/* a partial in no table: off the list and the wheel, its events let go */
static void part_free(eql_runtime *rt, partial *p)
{
    lru_unlink(&p->e.lru);
    wheel_unlink(rt, p);
    for (uint32_t i = 0; i < rt->nst; i++)
        if (p->ev[i].b) {
            unhold(rt, p, &p->ev[i]);
            free_stored(&p->ev[i]);
        }
    state_sub(rt->state, p->cost);
    free(p);
}

static partial *part_find(eql_runtime *rt, uint32_t s, const char *key, size_t kl, uint32_t h)
{
    return (partial *)ptab_find(&rt->tabs[s], key, (uint32_t)kl, h);
}

/* out of its table, kept */
static void part_take(eql_runtime *rt, partial *p)
{
    ptab_remove(&rt->tabs[p->stage], &p->e);
    rt->nparts--;
}

static void part_drop(eql_runtime *rt, partial *p)
{
    part_take(rt, p);
    part_free(rt, p);
}

/* into the table of stage s (replacing the partial of the same key), the
 * newest on the state's list */
static bool part_put(eql_runtime *rt, uint32_t s, partial *p)
{
    ent *old;
    p->stage = s;
    if (!ptab_put(&rt->tabs[s], &p->e, rt->state, &old)) {
        part_free(rt, p);
        return false;
    }
    if (old)
        part_free(rt, (partial *)old);
    else
        rt->nparts++;
    lru_touch(rt->state, &p->e.lru);
    if (rt->q->maxspan_ns && !p->wheeled) wheel_link(rt, p);
    return true;
}

/* the first n events of p handed to deliver() (p keeps none) */
static void deliver_partial(eql_runtime *rt, partial *p, uint32_t n)
{
    stored *ev = calloc(n ? n : 1, sizeof *ev);
    for (uint32_t i = 0; i < n; i++) {
        unhold(rt, p, &p->ev[i]);
        if (ev)
            ev[i] = p->ev[i];
        else
            free_stored(&p->ev[i]);
        p->ev[i] = (stored){0};
    }
    if (ev) deliver(rt, ev, n);
}

static void part_evict(partial *p)
{
    eql_runtime *rt = p->rt;
    part_drop(rt, p);
    rt->stats.dropped_partials++;
}

void eql_state_trim(eql_state *s)
{
    while (s->limit && s->bytes > s->limit && s->list.next != &s->list) {
        eql_lru *n = s->list.next;
        if (n->kind == LRU_PARTIAL) {
            part_evict((partial *)n);
            s->evicted_partials++;
        } else {
            proc_evict((proc *)n);
            s->evicted_procs++;
        }
    }
}

/* For a stage that reads earlier stages' events (`as` aliases): parse the
 * events of the partial this event would extend for the where clause. */
static void alias_prepare(eql_runtime *rt, eql_ctx *c, uint32_t s, const partial *prev)
{
    uint32_t upto = rt->decl[s];
    if (!rt->alias && !(rt->alias = calloc(1, sizeof *rt->alias))) {
        c->alias = NULL; /* no memory: the aliases read as missing */
        return;
    }
    struct rt_alias *a = rt->alias;
    for (uint32_t k = 0; k < 64; k++) a->ptr[k] = NULL;
    for (uint32_t k = 0; k < upto && k < 64; k++) {
        uint32_t e = rt->last_exp[k];
        if (e >= s || !prev->ev[e].text) continue;
        /* the same kept event as last time (the partial is tried by every
         * event of its key): its document is parsed already */
        blob *b = prev->ev[e].b;
        if (b && a->of[k] == b) {
            if (a->ok[k]) a->ptr[k] = &a->doc[k];
            continue;
        }
        blob_unref(a->of[k]);
        a->of[k] = NULL;
        if (!a->parser[k]) a->parser[k] = mj_parser_create(64u << 20, 128, 1u << 22);
        mj_error err;
        bool ok = a->parser[k] && !mj_parse(a->parser[k], prev->ev[e].text, prev->ev[e].len, NULL,
                                            &a->doc[k], &err);
        if (ok) a->ptr[k] = &a->doc[k];
        a->of[k] = blob_ref(b);
        a->ok[k] = ok;
    }
    c->alias = a->ptr;
}

/* Turn the wheel to `now`: every slot whose time has wholly passed drops
 * its expired partials (first event older than maxspan: with events in time
 * order they can never complete). Memory follows the time window. */
static void wheel_turn(eql_runtime *rt, int64_t now)
{
    int64_t tk = floor_div(now, rt->tick) - 1; /* the last tick wholly before now */
    if (!rt->wheel_on) {
        rt->wheel_on = true;
        rt->wheel_done = tk;
        return;
    }
    if (tk <= rt->wheel_done) return;
    if (!rt->wheel) { /* nothing linked yet */
        rt->wheel_done = tk;
        return;
    }
    int64_t from = rt->wheel_done + 1;
    if (tk - from >= WHEEL) from = tk - WHEEL + 1;
    for (int64_t x = from; x <= tk; x++) {
        partial *p = rt->wheel[x & (WHEEL - 1)];
        while (p) {
            partial *nx = p->wnext;
            if (now - p->t0 > rt->q->maxspan_ns) {
                part_drop(rt, p);
                rt->stats.expired++;
                rt->state->expired++;
            }
            p = nx;
        }
    }
    rt->wheel_done = tk;
}

static void seq_step(eql_runtime *rt, eql_ctx *c)
{
    const eql_query *q = rt->q;
    char key[KEY_MAX];
    int64_t ts = q->maxspan_ns ? eql_event_time(c) : 0;
    bool turned = false;
    if (q->until && rt->nparts && stage_match(rt, c, q->until)) {
        size_t kl = stage_key(rt, c, q->until, key);
        if (kl <= KEY_MAX) {
            uint32_t h = fnv(key, kl);
            for (uint32_t s = 0; s < rt->nst; s++) {
                partial *p = part_find(rt, s, key, kl, h);
                if (p) part_drop(rt, p);
            }
        }
    }
    for (uint32_t s = rt->nst; s-- > 0;) {
        const eql_stage *st = rt->st[s];
        partial *prev = NULL;
        size_t kl = 0;
        uint32_t h = 0;
        if (s > 0) {
            /* a later stage: only while its table before is non-empty, and
             * only for an event whose join key is in it */
            if (!rt->tabs[s - 1].n || !category_ok(c, st)) continue;
            kl = stage_key(rt, c, st, key);
            if (kl > KEY_MAX) continue;
            h = fnv(key, kl);
            if (!(prev = part_find(rt, s - 1, key, kl, h))) continue;
            if (st->uses_alias) alias_prepare(rt, c, s, prev);
        } else if (st->uses_alias) {
            continue;
        }
        bool m = stage_match(rt, c, st);
        c->alias = NULL;
        if (!m) continue;
        /* the wheel turns on the events that match a stage, so expiry does
         * not depend on which other events the rule was shown (prefilter) */
        if (q->maxspan_ns && !turned) {
            turned = true;
            wheel_turn(rt, ts);
            if (s > 0 && !(prev = part_find(rt, s - 1, key, kl, h))) continue;
        }
        if (s == 0) {
            kl = stage_key(rt, c, st, key);
            if (kl > KEY_MAX) {
                rt->stats.dropped_partials++;
                continue;
            }
            partial *p = part_new(rt, key, (uint32_t)kl, fnv(key, kl), ts);
            if (!p) continue;
            if (!keep_in(rt, p, 0)) {
                part_free(rt, p);
                continue;
            }
            if (rt->nst == 1) {
                deliver_partial(rt, p, 1);
                part_free(rt, p);
                continue;
            }
            part_put(rt, 0, p);
            continue;
        }
        if (q->maxspan_ns && ts - prev->t0 > q->maxspan_ns) {
            part_drop(rt, prev);
            rt->stats.expired++;
            rt->state->expired++;
            continue;
        }
        partial *moved;
        if (st->fork) { /* the partial stays at s-1 for later events: copy it */
            moved = part_new(rt, prev->e.key, prev->e.klen, prev->e.hash, prev->t0);
            if (!moved) continue;
            for (uint32_t i = 0; i < s; i++) {
                set_stored(&moved->ev[i], blob_ref(prev->ev[i].b));
                hold(rt, moved, &moved->ev[i]);
            }
        } else {
            moved = prev;
            part_take(rt, prev);
        }
        if (!keep_in(rt, moved, s)) {
            part_free(rt, moved);
            continue;
        }
        if (s + 1 == rt->nst) {
            deliver_partial(rt, moved, rt->nst);
            part_free(rt, moved);
            continue;
        }
        part_put(rt, s, moved);
    }
}

/* join: the first event of each stage per key, in any order */
static void join_step(eql_runtime *rt, eql_ctx *c)
{
    const eql_query *q = rt->q;
    char key[KEY_MAX];
    if (q->until && rt->nparts && stage_match(rt, c, q->until)) {
        size_t kl = stage_key(rt, c, q->until, key);
        if (kl <= KEY_MAX) {
            partial *p = part_find(rt, 0, key, kl, fnv(key, kl));
            if (p) part_drop(rt, p);
        }
    }
    for (uint32_t s = 0; s < rt->nst; s++) {
        const eql_stage *st = rt->st[s];
        if (!stage_match(rt, c, st)) continue;
        size_t kl = stage_key(rt, c, st, key);
        if (kl > KEY_MAX) continue;
        uint32_t h = fnv(key, kl);
        partial *p = part_find(rt, 0, key, kl, h);
        if (!p) {
            if (!(p = part_new(rt, key, (uint32_t)kl, h, 0)) || !part_put(rt, 0, p)) continue;
        }
        if (p->ev[s].text) continue;
        keep_in(rt, p, s);
        lru_touch(rt->state, &p->e.lru);
        bool full = true;
        for (uint32_t i = 0; i < rt->nst; i++) full = full && p->ev[i].text;
        if (full) {
            part_take(rt, p);
            deliver_partial(rt, p, rt->nst);
            part_free(rt, p);
        }
        break; /* one event fills one stage */
    }
}

/* ---- API ------------------------------------------------------------------------------------ */

/* a result of detect_sample.c, through the pipes like any other */
static void x_deliver(void *arg, blob **ev, uint32_t n)
{
    eql_runtime *rt = arg;
    stored *s = calloc(n ? n : 1, sizeof *s);
    if (!s) {
        for (uint32_t i = 0; i < n; i++) blob_unref(ev[i]);
        return;
    }
    for (uint32_t i = 0; i < n; i++) set_stored(&s[i], ev[i]);
    deliver(rt, s, n);
}

eql_runtime *eql_runtime_create(const eql_query *q, eql_emit_fn emit, void *ctx, eql_procs *procs,
                                uint32_t lin_base, eql_state *state)
{
    eql_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return NULL;
    eql_state_init(&rt->own_state, MODUS_STATE_BYTES);
    rt->state = state ? state : &rt->own_state;
    rt->q = q;
    rt->kind = (uint8_t)q->kind;
    rt->nlineage = q->nlineage;
    rt->emit = emit;
    rt->ctx = ctx;
    rt->head_left = -1;
    arena_init(&rt->scratch, 1 << 16);
    if (q->nvars && !(rt->vars = calloc(q->nvars > 64 ? q->nvars : 64, sizeof *rt->vars))) {
        free(rt);
        return NULL;
    }
    for (uint32_t i = 0; i < q->npipes; i++) {
        if (q->pipes[i].kind == P_HEAD && i == 0 && q->npipes == 1)
            rt->head_left = q->pipes[i].n;
        else
            rt->buffer = true;
    }
    if (rt->head_left < 0 && q->npipes == 1 && q->pipes[0].kind == P_HEAD) rt->head_left = 0;
    if (eql_xrt_wants(q) && !(rt->x = eql_xrt_create(q, x_deliver, rt))) {
        eql_runtime_destroy(rt);
        return NULL;
    }
    if (q->kind != Q_EVENT && !rt->x) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < q->nstages; i++) n += q->stages[i].runs;
        rt->st = calloc(n, sizeof *rt->st);
        rt->decl = calloc(n, sizeof *rt->decl);
        rt->last_exp = calloc(q->nstages, sizeof *rt->last_exp);
        if (rt->st && rt->decl && rt->last_exp)
            for (uint32_t i = 0, k = 0; i < q->nstages; i++)
                for (uint32_t r = 0; r < q->stages[i].runs; r++) {
                    rt->decl[k] = i;
                    rt->last_exp[i] = k;
                    rt->st[k++] = &q->stages[i];
                }
        rt->nst = n;
        uint32_t slots = q->kind == Q_JOIN ? 1 : n;
        rt->tabs = calloc(slots ? slots : 1, sizeof *rt->tabs); /* each grows on first use */
        rt->tick = q->maxspan_ns / WHEEL_SPAN > 0 ? q->maxspan_ns / WHEEL_SPAN : 1;
    }
    if (q->nlineage) {
        if (procs) {
            rt->procs = procs;
            rt->lin_base = lin_base;
        } else {
            rt->procs = eql_procs_create(q->nlineage < 64 ? q->nlineage : 64, rt->state);
            rt->own_procs = true;
        }
    }
    if ((q->kind != Q_EVENT && !rt->x && (!rt->st || !rt->tabs)) || (q->nlineage && !rt->procs)) {
        eql_runtime_destroy(rt);
        return NULL;
    }
    return rt;
}

bool eql_runtime_done(const eql_runtime *rt)
{
    return rt->done;
}

bool eql_runtime_open(const eql_runtime *rt)
{
    return rt->x ? eql_xrt_open(rt->x) : rt->nparts != 0;
}

void eql_runtime_event(eql_runtime *rt, const mj_doc *doc, const char *text, size_t len,
                       arena *scratch, blob **slot, eql_cache *cache)
{
    if (rt->done) return;
    if (!slot) { /* no shared slot: a private one, for this event only */
        blob_unref(rt->own_cur);
        rt->own_cur = NULL;
        slot = &rt->own_cur;
    }
    rt->cur = slot;
    rt->cur_text = text;
    rt->cur_len = len;
    eql_ctx c = {doc, scratch, rt->vars, NULL, NULL, cache};
    rt->stats.events++;
    if (rt->nlineage) lineage_step(rt, &c);
    if (rt->x) {
        eql_xrt_event(rt->x, &c, text, len, slot, x_match, rt);
    } else if (rt->kind == Q_EVENT) {
        if (stage_match(rt, &c, rt->q->stages)) {
            if (!rt->buffer) { /* no pipe keeps it: the event's own text, no copy */
                rt->stats.matches++;
                emit_now(rt, &rt->cur_text, &rt->cur_len, 1);
            } else {
                stored *ev = malloc(sizeof *ev);
                if (ev && keep(rt, ev))
                    deliver(rt, ev, 1);
                else
                    free(ev);
            }
        }
    } else if (rt->kind == Q_SEQUENCE) {
        seq_step(rt, &c);
    } else {
        join_step(rt, &c);
    }
    if (rt->state == &rt->own_state) eql_state_trim(rt->state); /* else the alerter's, per event */
}

void eql_runtime_finish(eql_runtime *rt)
{
    if (rt->x) eql_xrt_finish(rt->x);
    if (!rt->buffer) return;
    for (uint32_t i = 0; i < rt->q->npipes; i++) apply_pipe(rt, &rt->q->pipes[i]);
    for (uint32_t i = 0; i < rt->nres; i++) {
        const char *t[256];
        size_t l[256];
        result *r = &rt->res[i];
        for (uint32_t k = 0; k < r->n && k < 256; k++) t[k] = r->ev[k].text, l[k] = r->ev[k].len;
        rt->emit(rt->ctx, t, l, r->n < 256 ? r->n : 256);
        drop_result(r);
    }
    rt->nres = 0;
}

void eql_runtime_stats(const eql_runtime *rt, eql_stats *out)
{
    *out = rt->stats;
}

void eql_runtime_destroy(eql_runtime *rt)
{
    if (!rt) return;
    if (rt->tabs) {
        uint32_t slots = rt->q->kind == Q_JOIN ? 1 : rt->nst;
        for (uint32_t s = 0; s < slots; s++) {
            ptab *t = &rt->tabs[s];
            for (uint32_t i = 0; i < t->cap; i++)
                if (t->slot[i]) part_free(rt, (partial *)t->slot[i]);
            ptab_free(t, rt->state);
        }
        free(rt->tabs);
    }
    free(rt->wheel);
    for (uint32_t i = 0; i < rt->nres; i++) drop_result(&rt->res[i]);
    free(rt->res);
    free(rt->st);
    free(rt->decl);
    free(rt->last_exp);
    for (int i = 0; rt->alias && i < 64; i++) {
        blob_unref(rt->alias->of[i]);
        mj_parser_destroy(rt->alias->parser[i]);
        mj_doc_free(&rt->alias->doc[i]);
    }
    free(rt->alias);
    free(rt->vars);
    if (rt->own_procs) eql_procs_destroy(rt->procs);
    eql_xrt_destroy(rt->x);
    blob_unref(rt->own_cur);
    mj_parser_destroy(rt->parser);
    mj_doc_free(&rt->doc);
    arena_free(&rt->scratch);
    free(rt);
}

/* The public face of the runtime (modus_query_run_*). */
struct modus_query_run {
    eql_runtime *rt;
};

modus_status modus_query_run_create(const modus_query *q, modus_emit_fn emit, void *ctx,
                                    modus_query_run **out)
{
    return query_run_create_shared(q, emit, ctx, NULL, 0, NULL, out);
}

modus_status query_run_create_shared(const modus_query *q, modus_emit_fn emit, void *ctx,
                                     eql_procs *procs, uint32_t lin_base, eql_state *state,
                                     modus_query_run **out)
{
    *out = NULL;
    modus_query_run *r = calloc(1, sizeof *r);
    if (!r) return MODUS_ENOMEM;
    r->rt = eql_runtime_create(q->q, emit, ctx, procs, lin_base, state);
    if (!r->rt) {
        free(r);
        return MODUS_ENOMEM;
    }
    *out = r;
    return MODUS_OK;
}

eql_runtime *query_run_runtime(const modus_query_run *r)
{
    return r->rt;
}

void query_run_set_match(modus_query_run *r, eql_match_fn fn, void *ctx)
{
    r->rt->match = fn;
    r->rt->match_ctx = ctx;
}

void modus_query_run_event(modus_query_run *r, const modus_event *ev)
{
    if (!ev->is_json) return;
    eql_runtime_event(r->rt, &ev->sc->doc, ev->text, ev->len, &ev->sc->scratch, &ev->sc->cur_blob,
                      &ev->sc->cache);
}

bool modus_query_run_done(const modus_query_run *r)
{
    return eql_runtime_done(r->rt);
}

bool modus_query_run_open(const modus_query_run *r)
{
    return eql_runtime_open(r->rt);
}

void modus_query_run_finish(modus_query_run *r)
{
    eql_runtime_finish(r->rt);
}

void modus_query_run_destroy(modus_query_run *r)
{
    if (!r) return;
    eql_runtime_destroy(r->rt);
    free(r);
}
