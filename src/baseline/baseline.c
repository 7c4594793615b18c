/* baseline.c - behaviour baselines: what each modality normally does.
 *
 * Model. Every event becomes one tuple (baseline_class.c):
 *   host       host.name, lowercased ("-" when absent)
 *   program    the acting executable (the parent's for a process start),
 *              path folded: C:\Users\alice\x.exe and C:\Users\bob\x.exe are
 *              one program, c:\users\*\x.exe
 *   signer     its code signature subject where the source has one
 *   behaviour  a class that generalises the action without hiding what it
 *              did: api:VirtualProtect:RWX, process:access:lsass.exe:0x1010,
 *              process:exec:c:\windows\system32\cmd.exe,
 *              registry:modify:services\*\imagepath,
 *              file:create:/etc/systemd/system/\*.service (the name folded),
 *              library:load:c:\windows\system32\clr.dll, network:connect
 *   modality   modality.name (SPEC §4)
 *   shape      the call-stack summary (module sequence), numeric runs folded
 * A profile counts each tuple per host, with first and last seen. The fleet
 * view of a tuple sums its hosts' rows; its host count is their number.
 *
 * Learning aggregates tuples in a bounded open-addressing table
 * (MODUS_BASELINE_MAX_PENDING distinct tuples): a million events of a few
 * thousand behaviours cost a few thousand entries. When the table fills, and
 * at the end, it is written as one transaction of upserts (counts added,
 * first/last widened), sorted by key so that concurrent writers lock rows in
 * the same order. An interrupted learn loses only the batch in flight.
 *
 * Checking looks a tuple up (fleet or host scope). A tuple seen no more than
 * `rare` times deviates; the reason is the most general thing that is new:
 * the program (new-program), the behaviour for this program
 * (new-behaviour), the modality for this program's behaviour
 * (new-modality), the stack shape (new-shape), or only its rarity (rare).
 * Deviations carry what was expected instead: the modalities this program
 * shows for the behaviour, the behaviours it shows under the modality, and
 * its usual shapes. Verdicts are cached per tuple (MODUS_BASELINE_MAX_CACHE
 * entries, emptied when full), so a check costs one lookup per distinct
 * tuple, not per event. Each event is annotated: "baseline":{...} is spliced
 * into its enriched text, which rules can read (baseline.new, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../output/alert.h"
#include "../util/buf.h"
#include "../util/limits.h"
#include "store.h"

typedef struct agg_entry {
    uint64_t hash;
    char *key; /* program \x1f signer \x1f behaviour \x1f modality \x1f shape \x1f host */
    int64_t count, first, last;
} agg_entry;

typedef struct cache_entry {
    uint64_t hash;
    char *key;
    char *json; /* the "baseline" object */
    const char *reason;
    bool deviant;
} cache_entry;

struct modus_baseline {
    bl_store *st;
    agg_entry *agg;
    size_t agg_cap, agg_n;
    cache_entry *cache;
    size_t cache_cap, cache_n;
    uint64_t written;
    buf key, obj, ann, alert, tmp;
};

#define SEP '\x1f'

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h | 1; /* 0 marks an empty slot */
}

static void make_key(buf *k, const modus_baseline_tuple *t)
{
    buf_reset(k);
    const char *f[6] = {t->program, t->signer, t->behaviour, t->modality, t->shape, t->host};
    for (int i = 0; i < 6; i++) {
        if (i) buf_putc(k, SEP);
        buf_puts(k, f[i]);
    }
    buf_putc(k, 0);
}

modus_status modus_baseline_open(const char *db, bool create, modus_baseline **out, modus_diag *d)
{
    *out = NULL;
    memset(d, 0, sizeof *d);
    snprintf(d->file, sizeof d->file, "%s", db);
    modus_baseline *b = calloc(1, sizeof *b);
    if (!b) return MODUS_ENOMEM;
    modus_status st = !strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11)
                          ? bl_pg_open(db, create, &b->st, d)
                          : bl_sqlite_open(db, create, &b->st, d);
    if (st != MODUS_OK) {
        free(b);
        return st;
    }
    *out = b;
    return MODUS_OK;
}

static void cache_clear(modus_baseline *b)
{
    for (size_t i = 0; i < b->cache_cap; i++)
        if (b->cache[i].hash) {
            free(b->cache[i].key);
            free(b->cache[i].json);
        }
    if (b->cache) memset(b->cache, 0, b->cache_cap * sizeof *b->cache);
    b->cache_n = 0;
}

void modus_baseline_close(modus_baseline *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->agg_cap; i++)
        if (b->agg[i].hash) free(b->agg[i].key);
    free(b->agg);
    cache_clear(b);
    free(b->cache);
    if (b->st) b->st->ops->close(b->st);
    buf_free(&b->key);
    buf_free(&b->obj);
    buf_free(&b->ann);
    buf_free(&b->alert);
    buf_free(&b->tmp);
    free(b);
}

const char *modus_baseline_backend(const modus_baseline *b)
{
    return b->st->ops->name;
}

uint64_t modus_baseline_written(const modus_baseline *b)
{
    return b->written;
}

/* ---- learning -------------------------------------------------------------- */

static int by_key(const void *x, const void *y)
{
    const agg_entry *a = x, *c = y;
    return strcmp(a->key, c->key);
}

modus_status modus_baseline_flush(modus_baseline *b, modus_diag *d)
{
    if (!b->agg_n) return MODUS_OK;
    agg_entry *e = malloc(b->agg_n * sizeof *e);
    bl_row *rows = malloc(b->agg_n * sizeof *rows);
    if (!e || !rows) {
        free(e);
        free(rows);
        return MODUS_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->agg_cap; i++)
        if (b->agg[i].hash) e[n++] = b->agg[i];
    qsort(e, n, sizeof *e, by_key);
    for (size_t i = 0; i < n; i++) {
        const char *f[6];
        char *p = e[i].key;
        for (int k = 0; k < 6; k++) {
            f[k] = p;
            char *q = strchr(p, SEP);
            if (q) {
                *q = 0;
                p = q + 1;
            } else {
                p += strlen(p);
            }
        }
        rows[i] = (bl_row){f[0], f[1], f[2], f[3], f[4], f[5], e[i].count, e[i].first, e[i].last};
    }
    modus_status st = b->st->ops->upsert(b->st, rows, n, d);
    for (size_t i = 0; i < n; i++) free(e[i].key);
    free(e);
    free(rows);
    memset(b->agg, 0, b->agg_cap * sizeof *b->agg);
    b->agg_n = 0;
    if (st == MODUS_OK) b->written += n;
    return st;
}

static modus_status add_key(modus_baseline *b, const char *key, size_t klen, int64_t count,
                            int64_t first, int64_t last, modus_diag *d)
{
    if (!b->agg) {
        b->agg_cap = 2 * (size_t)MODUS_BASELINE_MAX_PENDING;
        b->agg = calloc(b->agg_cap, sizeof *b->agg);
        if (!b->agg) return MODUS_ENOMEM;
    }
    uint64_t h = fnv(key, klen);
    size_t mask = b->agg_cap - 1, i = h & mask;
    for (; b->agg[i].hash; i = (i + 1) & mask)
        if (b->agg[i].hash == h && !strcmp(b->agg[i].key, key)) {
            agg_entry *e = &b->agg[i];
            e->count += count;
            if (first < e->first) e->first = first;
            if (last > e->last) e->last = last;
            return MODUS_OK;
        }
    char *k = malloc(klen + 1);
    if (!k) return MODUS_ENOMEM;
    memcpy(k, key, klen + 1);
    b->agg[i] = (agg_entry){h, k, count, first, last};
    if (++b->agg_n >= MODUS_BASELINE_MAX_PENDING) return modus_baseline_flush(b, d);
    return MODUS_OK;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

modus_status modus_baseline_learn(modus_baseline *b, const modus_event *ev, modus_diag *d)
{
    modus_baseline_tuple t;
    modus_baseline_tuple_of(ev, &t);
    int64_t ts = t.ts_ms ? t.ts_ms : now_ms();
    make_key(&b->key, &t);
    if (b->key.oom) return MODUS_ENOMEM;
    return add_key(b, b->key.p, b->key.n - 1, 1, ts, ts, d);
}

typedef struct merge_ctx {
    modus_baseline *b;
    modus_status st;
    modus_diag *d;
} merge_ctx;

static void merge_row(void *arg, const char *const *c, int nc)
{
    merge_ctx *m = arg;
    if (m->st != MODUS_OK || nc < 9) return;
    buf *k = &m->b->key;
    buf_reset(k);
    for (int i = 0; i < 6; i++) {
        if (i) buf_putc(k, SEP);
        buf_puts(k, c[i] ? c[i] : "");
    }
    buf_putc(k, 0);
    if (k->oom) {
        m->st = MODUS_ENOMEM;
        return;
    }
    m->st = add_key(m->b, k->p, k->n - 1, c[6] ? atoll(c[6]) : 0, c[7] ? atoll(c[7]) : 0,
                    c[8] ? atoll(c[8]) : 0, m->d);
}

modus_status modus_baseline_merge(modus_baseline *b, modus_baseline *from, modus_diag *d)
{
    merge_ctx m = {b, MODUS_OK, d};
    modus_status st = from->st->ops->query(
        from->st,
        "SELECT program,signer,behaviour,modality,shape,host,seen_count,first_seen,last_seen "
        "FROM modus_baseline_tuple",
        NULL, 0, merge_row, &m, d);
    if (st != MODUS_OK) return st;
    if (m.st != MODUS_OK) return m.st;
    return modus_baseline_flush(b, d);
}

/* ---- checking ------------------------------------------------------------- */

typedef struct list_ctx {
    buf *b;
    int n;
} list_ctx;

static void list_row(void *arg, const char *const *c, int nc)
{
    list_ctx *l = arg;
    if (nc < 1 || !c[0]) return;
    if (l->n++) buf_putc(l->b, ',');
    buf_put_json_str(l->b, c[0], strlen(c[0]));
}

typedef struct stat_ctx {
    uint64_t count, hosts;
    int64_t first, last;
    bool any;
} stat_ctx;

static void stat_row(void *arg, const char *const *c, int nc)
{
    stat_ctx *s = arg;
    if (nc < 4) return;
    s->count = c[0] ? strtoull(c[0], NULL, 10) : 0;
    s->first = c[1] ? atoll(c[1]) : 0;
    s->last = c[2] ? atoll(c[2]) : 0;
    s->hosts = c[3] ? strtoull(c[3], NULL, 10) : 0;
    s->any = s->count > 0;
}

static void put_time(buf *o, const char *key, bool any, int64_t ms)
{
    buf_printf(o, ",\"%s\":", key);
    if (!any) {
        buf_puts(o, "null");
        return;
    }
    char iso[32];
    modus_baseline_iso(ms, iso);
    buf_printf(o, "\"%s\"", iso);
}

/* The "baseline" object of a tuple and whether it deviates. */
static modus_status verdict(modus_baseline *b, const modus_baseline_tuple *t,
                            const modus_baseline_check_opts *o, buf *out, const char **reason,
                            bool *deviant, modus_diag *d)
{
    const char *p[6] = {t->program, t->signer, t->behaviour, t->modality, t->shape, t->host};
    bool host = o->scope == MODUS_BASELINE_HOST;
    stat_ctx fleet = {0}, here = {0};
    static const char *Q_TUPLE =
        "SELECT COALESCE(SUM(seen_count),0),MIN(first_seen),MAX(last_seen),COUNT(*) FROM "
        "modus_baseline_tuple WHERE program=$1 AND signer=$2 AND behaviour=$3 AND modality=$4 "
        "AND shape=$5";
    static const char *Q_TUPLE_HOST =
        "SELECT COALESCE(SUM(seen_count),0),MIN(first_seen),MAX(last_seen),COUNT(*) FROM "
        "modus_baseline_tuple WHERE program=$1 AND signer=$2 AND behaviour=$3 AND modality=$4 "
        "AND shape=$5 AND host=$6";
    modus_status st = b->st->ops->query(b->st, Q_TUPLE, p, 5, stat_row, &fleet, d);
    if (st == MODUS_OK) st = b->st->ops->query(b->st, Q_TUPLE_HOST, p, 6, stat_row, &here, d);
    if (st != MODUS_OK) return st;
    const stat_ctx *s = host ? &here : &fleet;
    *deviant = s->count <= o->rare;
    *reason = NULL;
    buf_reset(out);
    buf_printf(out, "{\"scope\":\"%s\",\"new\":%s", host ? "host" : "fleet",
               s->count ? "false" : "true");
    buf_printf(out, ",\"seen_count\":%llu,\"host_seen_count\":%llu,\"hosts\":%llu",
               (unsigned long long)s->count, (unsigned long long)here.count,
               (unsigned long long)fleet.hosts);
    put_time(out, "first_seen", s->any, s->first);
    put_time(out, "last_seen", s->any, s->last);
    const char *names[5] = {"program", "signer", "behaviour", "modality", "shape"};
    for (int i = 0; i < 5; i++) {
        buf_printf(out, ",\"%s\":", names[i]);
        buf_put_json_str(out, p[i], strlen(p[i]));
    }
    if (*deviant) {
        /* what this program normally does instead (same scope) */
        const char *hp[6] = {t->program, t->signer, t->behaviour, t->modality, t->shape, t->host};
        char sql[512];
        int known = 0;
        list_ctx lm = {out, 0}, lb = {out, 0}, ls = {out, 0};
        buf *x = &b->tmp;
        buf_reset(x);
        const char *hc = host ? " AND host=$3" : "";
        snprintf(sql, sizeof sql,
                 "SELECT program FROM modus_baseline_tuple WHERE program=$1 AND signer=$2%s "
                 "LIMIT 1",
                 hc);
        const char *pp[3] = {t->program, t->signer, t->host};
        list_ctx lp = {x, 0};
        st = b->st->ops->query(b->st, sql, pp, host ? 3 : 2, list_row, &lp, d);
        known = lp.n;
        buf_puts(out, ",\"expected\":{\"modalities\":[");
        const char *pm[4] = {t->program, t->signer, t->behaviour, t->host};
        snprintf(sql, sizeof sql,
                 "SELECT modality,SUM(seen_count) FROM modus_baseline_tuple WHERE program=$1 AND "
                 "signer=$2 AND behaviour=$3%s GROUP BY modality ORDER BY 2 DESC,1 LIMIT 5",
                 host ? " AND host=$4" : "");
        if (st == MODUS_OK) st = b->st->ops->query(b->st, sql, pm, host ? 4 : 3, list_row, &lm, d);
        buf_puts(out, "],\"behaviours\":[");
        const char *pb[4] = {t->program, t->signer, t->modality, t->host};
        snprintf(sql, sizeof sql,
                 "SELECT behaviour,SUM(seen_count) FROM modus_baseline_tuple WHERE program=$1 AND "
                 "signer=$2 AND modality=$3%s GROUP BY behaviour ORDER BY 2 DESC,1 LIMIT 5",
                 host ? " AND host=$4" : "");
        if (st == MODUS_OK) st = b->st->ops->query(b->st, sql, pb, host ? 4 : 3, list_row, &lb, d);
        buf_puts(out, "],\"shapes\":[");
        snprintf(sql, sizeof sql,
                 "SELECT shape,SUM(seen_count) FROM modus_baseline_tuple WHERE program=$1 AND "
                 "signer=$2 AND behaviour=$3 AND modality=$4%s GROUP BY shape ORDER BY 2 DESC,1 "
                 "LIMIT 3",
                 host ? " AND host=$5" : "");
        const char *ps[5] = {hp[0], hp[1], hp[2], hp[3], hp[5]};
        if (st == MODUS_OK) st = b->st->ops->query(b->st, sql, ps, host ? 5 : 4, list_row, &ls, d);
        buf_puts(out, "]}");
        if (st != MODUS_OK) return st;
        if (s->count)
            *reason = "rare";
        else if (!known)
            *reason = "new-program";
        else if (ls.n)
            *reason = "new-shape";
        else if (lm.n)
            *reason = "new-modality";
        else
            *reason = "new-behaviour";
        buf_printf(out, ",\"reason\":\"%s\"", *reason);
    }
    buf_putc(out, '}');
    return out->oom ? MODUS_ENOMEM : MODUS_OK;
}

static const struct {
    const char *reason, *name, *what;
} RULES[] = {
    {"new-program", "Baseline: a program never seen before",
     "a program the profile has never seen"},
    {"new-behaviour", "Baseline: a behaviour never seen for this program",
     "a behaviour class this program has never shown"},
    {"new-modality", "Baseline: a behaviour under a modality never seen for this program",
     "a behaviour this program shows, but never under this modality"},
    {"new-shape", "Baseline: a call-stack shape never seen for this behaviour",
     "a call-stack shape never seen for this program, behaviour and modality"},
    {"rare", "Baseline: a rare behaviour", "a tuple the profile has seen only rarely"},
};

static void build_alert(modus_baseline *b, const modus_baseline_tuple *t, const char *reason,
                        const char *ann, size_t alen)
{
    buf *o = &b->alert;
    buf_reset(o);
    size_t i = 0;
    while (i + 1 < sizeof RULES / sizeof *RULES && strcmp(RULES[i].reason, reason)) i++;
    alert_put_head(o, ann, alen);
    char rid[64], id[33];
    snprintf(rid, sizeof rid, "modus-baseline-%s", reason);
    alert_id(id, rid, &ann, &alen, 1);
    buf_printf(o, ",\"event\":{\"kind\":\"alert\",\"id\":\"%s\"},\"rule\":{\"id\":\"%s\",\"name\":",
               id, rid);
    buf_put_json_str(o, RULES[i].name, strlen(RULES[i].name));
    buf_reset(&b->tmp);
    buf_printf(&b->tmp, "%s: %s did %s under modality %s (stack %s)", RULES[i].what, t->program,
               t->behaviour, t->modality, t->shape);
    buf_puts(o, ",\"description\":");
    buf_put_json_str(o, b->tmp.p, b->tmp.n);
    buf_puts(o, ",\"version\":\"1\"},\"threat\":[]");
    alert_put_span(o, ann, alen, "modality", "modality");
    alert_put_span(o, ann, alen, "baseline", "baseline");
    alert_put_span(o, ann, alen, "host", "host");
    alert_put_span(o, ann, alen, "process", "process");
    buf_puts(o, ",\"events\":[");
    buf_put(o, ann, alen);
    buf_puts(o, "]}");
}

modus_status modus_baseline_check(modus_baseline *b, const modus_event *ev,
                                  const modus_baseline_check_opts *o, modus_baseline_verdict *out,
                                  modus_diag *d)
{
    memset(out, 0, sizeof *out);
    modus_baseline_tuple t;
    modus_baseline_tuple_of(ev, &t);
    make_key(&b->key, &t);
    if (b->key.oom) return MODUS_ENOMEM;
    if (!b->cache) {
        b->cache_cap = 2 * (size_t)MODUS_BASELINE_MAX_CACHE;
        b->cache = calloc(b->cache_cap, sizeof *b->cache);
        if (!b->cache) return MODUS_ENOMEM;
    }
    uint64_t h = fnv(b->key.p, b->key.n - 1);
    size_t mask = b->cache_cap - 1, i = h & mask;
    cache_entry *c = NULL;
    for (; b->cache[i].hash; i = (i + 1) & mask)
        if (b->cache[i].hash == h && !strcmp(b->cache[i].key, b->key.p)) {
            c = &b->cache[i];
            break;
        }
    if (!c) {
        const char *reason;
        bool deviant;
        modus_status st = verdict(b, &t, o, &b->obj, &reason, &deviant, d);
        if (st != MODUS_OK) return st;
        if (b->cache_n + 1 >= MODUS_BASELINE_MAX_CACHE) {
            cache_clear(b);
            for (i = h & mask; b->cache[i].hash; i = (i + 1) & mask) {
            }
        }
        char *k = strdup(b->key.p), *j = malloc(b->obj.n + 1);
        if (!k || !j) {
            free(k);
            free(j);
            return MODUS_ENOMEM;
        }
        memcpy(j, b->obj.p, b->obj.n);
        j[b->obj.n] = 0;
        b->cache[i] = (cache_entry){h, k, j, reason, deviant};
        b->cache_n++;
        c = &b->cache[i];
    }
    /* the enriched event with "baseline":{...} before its closing brace */
    size_t n;
    const char *en = modus_event_render(ev, MODUS_RENDER_ENRICHED, &n);
    if (!en) return MODUS_ENOMEM;
    while (n && en[n - 1] != '}') n--;
    buf_reset(&b->ann);
    if (n) {
        buf_put(&b->ann, en, n - 1);
        size_t k = n - 1;
        while (k && (en[k - 1] == ' ' || en[k - 1] == '\n')) k--;
        if (k && en[k - 1] != '{') buf_putc(&b->ann, ',');
    } else {
        buf_putc(&b->ann, '{');
    }
    buf_puts(&b->ann, "\"baseline\":");
    buf_puts(&b->ann, c->json);
    buf_putc(&b->ann, '}');
    if (b->ann.oom) return MODUS_ENOMEM;
    out->annotated = b->ann.p;
    out->annotated_len = b->ann.n;
    out->deviant = c->deviant;
    out->reason = c->reason;
    if (c->deviant) {
        build_alert(b, &t, c->reason, b->ann.p, b->ann.n);
        if (b->alert.oom) return MODUS_ENOMEM;
        out->alert = b->alert.p;
        out->alert_len = b->alert.n;
    }
    return MODUS_OK;
}

/* ---- summaries ------------------------------------------------------------ */

static void totals_row(void *arg, const char *const *c, int nc)
{
    modus_baseline_totals *t = arg;
    if (nc < 4) return;
    t->rows = c[0] ? strtoull(c[0], NULL, 10) : 0;
    t->events = c[1] ? strtoull(c[1], NULL, 10) : 0;
    t->hosts = c[2] ? strtoull(c[2], NULL, 10) : 0;
    t->programs = c[3] ? strtoull(c[3], NULL, 10) : 0;
}

static void count_row(void *arg, const char *const *c, int nc)
{
    uint64_t *v = arg;
    *v = nc && c[0] ? strtoull(c[0], NULL, 10) : 0;
}

modus_status modus_baseline_totals_get(modus_baseline *b, modus_baseline_totals *out, modus_diag *d)
{
    memset(out, 0, sizeof *out);
    modus_status st = b->st->ops->query(
        b->st,
        "SELECT COUNT(*),COALESCE(SUM(seen_count),0),COUNT(DISTINCT host),COUNT(DISTINCT "
        "program) FROM modus_baseline_tuple",
        NULL, 0, totals_row, out, d);
    if (st != MODUS_OK) return st;
    return b->st->ops->query(b->st,
                             "SELECT COUNT(*) FROM (SELECT 1 FROM modus_baseline_tuple GROUP BY "
                             "program,signer,behaviour,modality,shape) x",
                             NULL, 0, count_row, &out->tuples, d);
}

typedef struct cell_acc {
    char *modality, *family;
    uint64_t events, tuples, rare;
} cell_acc;

typedef struct cells_ctx {
    cell_acc *v;
    size_t n, cap;
    bool oom;
} cells_ctx;

/* the behaviour class up to its second ':' */
static size_t family_len(const char *s)
{
    const char *c = strchr(s, ':');
    if (!c) return strlen(s);
    const char *c2 = strchr(c + 1, ':');
    return c2 ? (size_t)(c2 - s) : strlen(s);
}

static void cells_row(void *arg, const char *const *c, int nc)
{
    cells_ctx *x = arg;
    if (nc < 5 || !c[0] || !c[1] || x->oom) return;
    size_t fl = family_len(c[1]);
    for (size_t i = 0; i < x->n; i++)
        if (!strcmp(x->v[i].modality, c[0]) && strlen(x->v[i].family) == fl &&
            !memcmp(x->v[i].family, c[1], fl)) {
            x->v[i].events += strtoull(c[2], NULL, 10);
            x->v[i].tuples += strtoull(c[3], NULL, 10);
            x->v[i].rare += strtoull(c[4], NULL, 10);
            return;
        }
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 64;
        cell_acc *v = realloc(x->v, cap * sizeof *v);
        if (!v) {
            x->oom = true;
            return;
        }
        x->v = v;
        x->cap = cap;
    }
    cell_acc *a = &x->v[x->n];
    a->modality = strdup(c[0]);
    a->family = strndup(c[1], fl);
    if (!a->modality || !a->family) {
        free(a->modality);
        free(a->family);
        x->oom = true;
        return;
    }
    a->events = strtoull(c[2], NULL, 10);
    a->tuples = strtoull(c[3], NULL, 10);
    a->rare = strtoull(c[4], NULL, 10);
    x->n++;
}

modus_status modus_baseline_cells(modus_baseline *b, modus_baseline_cell_fn fn, void *ctx,
                                  modus_diag *d)
{
    cells_ctx x = {0};
    modus_status st = b->st->ops->query(
        b->st,
        "SELECT modality,behaviour,SUM(c),COUNT(*),SUM(CASE WHEN c=1 THEN 1 ELSE 0 END) FROM "
        "(SELECT modality,behaviour,SUM(seen_count) AS c FROM modus_baseline_tuple GROUP BY "
        "program,signer,behaviour,modality,shape) x GROUP BY modality,behaviour ORDER BY 1,2",
        NULL, 0, cells_row, &x, d);
    if (st == MODUS_OK && x.oom) st = MODUS_ENOMEM;
    for (size_t i = 0; i < x.n; i++) {
        if (st == MODUS_OK) {
            modus_baseline_cell c = {x.v[i].modality, x.v[i].family, x.v[i].events, x.v[i].tuples,
                                     x.v[i].rare};
            fn(ctx, &c);
        }
        free(x.v[i].modality);
        free(x.v[i].family);
    }
    free(x.v);
    return st;
}

typedef struct top_ctx {
    modus_baseline_row_fn fn;
    void *ctx;
} top_ctx;

static void top_row(void *arg, const char *const *c, int nc)
{
    top_ctx *x = arg;
    if (nc < 9) return;
    modus_baseline_row r = {c[0] ? c[0] : "",
                            c[1] ? c[1] : "",
                            c[2] ? c[2] : "",
                            c[3] ? c[3] : "",
                            c[4] ? c[4] : "",
                            c[5] ? strtoull(c[5], NULL, 10) : 0,
                            c[6] ? strtoull(c[6], NULL, 10) : 0,
                            c[7] ? atoll(c[7]) : 0,
                            c[8] ? atoll(c[8]) : 0};
    x->fn(x->ctx, &r);
}

modus_status modus_baseline_top(modus_baseline *b, bool rarest, size_t limit,
                                modus_baseline_row_fn fn, void *ctx, modus_diag *d)
{
    char sql[512], lim[24];
    snprintf(lim, sizeof lim, "%zu", limit);
    snprintf(sql, sizeof sql,
             "SELECT program,signer,behaviour,modality,shape,SUM(seen_count) AS c,COUNT(*),"
             "MIN(first_seen),MAX(last_seen) FROM modus_baseline_tuple GROUP BY "
             "program,signer,behaviour,modality,shape ORDER BY c %s,1,3,4,5 LIMIT $1",
             rarest ? "ASC" : "DESC");
    const char *p[1] = {lim};
    top_ctx x = {fn, ctx};
    return b->st->ops->query(b->st, sql, p, 1, top_row, &x, d);
}
