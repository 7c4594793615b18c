/* winflat.c - flat Windows event JSON (OTRF Security-Datasets, NXLog, the
 * shape most Sysmon-to-JSON shippers write) -> winrec, for winmap.
 *
 * Design: the line is parsed whole with the same simdjson shim the ECS
 * decoder uses; top-level members become the record: the System fields by
 * their usual names (EventID, Channel, Computer/Hostname, SourceName/
 * ProviderName, EventRecordID/RecordNumber, the shipper's ProcessID/ThreadID
 * with that exact case), everything else an EventData pair (numbers and
 * booleans as text), nested values kept raw. A record without a provider
 * gets one from its channel and event id (Sysmon, Security, the SCM).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/limits.h"
#include "json.h"
#include "winevt.h"

struct winflat {
    mj_parser *p;
    mj_doc doc;
    char num[WINREC_MAX_DATA][24];
    winrec rec;
};

winflat *winflat_new(void)
{
    winflat *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->p = mj_parser_create(MODUS_MAX_LINE, MODUS_MAX_JSON_DEPTH, MODUS_MAX_JSON_NODES);
    if (!w->p) {
        free(w);
        return NULL;
    }
    return w;
}

void winflat_free(winflat *w)
{
    if (!w) return;
    mj_parser_destroy(w->p);
    mj_doc_free(&w->doc);
    free(w);
}

static bool key_is(sv k, const char *a)
{
    return sv_eq(k, sv_cstr(a));
}

/* A scalar node as text (numbers into w->num[slot]); {NULL, 0} for others. */
static sv scalar(winflat *w, const mj_node *n, size_t slot)
{
    char *nb = slot < WINREC_MAX_DATA ? w->num[slot] : NULL;
    switch (n->type) {
    case MJ_STRING: return (sv){n->v.s, n->len};
    case MJ_INT:
        return nb ? (sv){nb, (size_t)snprintf(nb, 24, "%lld", (long long)n->v.i)} : (sv){0};
    case MJ_UINT:
        return nb ? (sv){nb, (size_t)snprintf(nb, 24, "%llu", (unsigned long long)n->v.u)}
                  : (sv){0};
    case MJ_DOUBLE: return nb ? (sv){nb, (size_t)snprintf(nb, 24, "%.17g", n->v.d)} : (sv){0};
    case MJ_BOOL: return sv_cstr(n->b ? "true" : "false");
    default: return (sv){NULL, 0};
    }
}

/* A top-level member kept as its JSON text (nested values, other documents' fields). */
static void keep_raw(winrec *r, const char *json, size_t len, sv key)
{
    char path[128];
    if (key.n >= sizeof path || memchr(key.p, '.', key.n) || r->nraw >= 16) return;
    memcpy(path, key.p, key.n);
    path[key.n] = 0;
    size_t end;
    long at = mj_locate_span(json, len, path, &end);
    if (at < 0) return;
    r->raw_name[r->nraw] = key;
    r->raw_json[r->nraw++] = (sv){json + at, end - (size_t)at};
}

/* winlogbeat / Elastic Agent documents that no ingest pipeline has mapped:
 * {"@timestamp", "winlog": {"event_id", "provider_name", "channel",
 * "computer_name", "record_id", "process": {...}, "event_data": {...}}, ...}
 * with no event.category. 1: taken into r; 0: not that shape; the other
 * top-level members are kept raw (host, agent, ...), except event, which is
 * rebuilt. */
static int winlogbeat(winflat *w, const char *json, size_t len, winrec *r)
{
    const mj_doc *d = &w->doc;
    uint32_t wl = mj_member(d, 0, "winlog", 6);
    if (!wl || d->nodes[wl].type != MJ_OBJECT) return 0;
    uint32_t id = mj_member(d, wl, "event_id", 8);
    if (!id || mj_path(d, 0, "event.category", 14)) return 0;
    size_t slot = WINREC_MAX_DATA - 1; /* number text for the event id */
    sv idt = scalar(w, &d->nodes[id], slot);
    bool ok = idt.n > 0;
    uint64_t v = 0;
    for (size_t i = 0; i < idt.n; i++) {
        if (idt.p[i] < '0' || idt.p[i] > '9') ok = false;
        v = v * 10 + (uint64_t)(idt.p[i] - '0');
    }
    if (!ok || v > UINT32_MAX) return 0;
    r->event_id = (uint32_t)v;
    r->event_id_text = idt;
    r->provider = mj_str(d, mj_member(d, wl, "provider_name", 13));
    r->channel = mj_str(d, mj_member(d, wl, "channel", 7));
    r->computer = mj_str(d, mj_member(d, wl, "computer_name", 13));
    r->time = mj_str(d, mj_member(d, 0, "@timestamp", 10));
    uint32_t rid = mj_member(d, wl, "record_id", 9);
    if (rid) {
        r->record_id_text = scalar(w, &d->nodes[rid], WINREC_MAX_DATA - 2);
        r->record_id = strtoull(r->record_id_text.p ? r->record_id_text.p : "0", NULL, 10);
    }
    uint32_t pid = mj_path(d, wl, "process.pid", 11);
    if (pid && (d->nodes[pid].type == MJ_INT || d->nodes[pid].type == MJ_UINT)) {
        r->exec_pid = d->nodes[pid].v.u;
        r->has_exec = true;
        uint32_t tid = mj_path(d, wl, "process.thread.id", 17);
        if (tid && (d->nodes[tid].type == MJ_INT || d->nodes[tid].type == MJ_UINT))
            r->exec_tid = d->nodes[tid].v.u;
    }
    r->user_sid = mj_str(d, mj_path(d, wl, "user.identifier", 15));
    static const char *const data_keys[] = {"event_data", "user_data"};
    for (size_t q = 0; q < 2; q++) {
        uint32_t ed = mj_member(d, wl, data_keys[q], strlen(data_keys[q]));
        if (!ed || d->nodes[ed].type != MJ_OBJECT) continue;
        for (uint32_t k = ed + 1, i = 0; i < d->nodes[ed].count; i++, k = d->nodes[k].next) {
            if (r->ndata >= WINREC_MAX_DATA - 2) break;
            sv val = scalar(w, &d->nodes[k], r->ndata);
            if (!val.p) continue;
            r->data_name[r->ndata] = (sv){d->nodes[k].key, d->nodes[k].key_len};
            r->data_val[r->ndata++] = val;
        }
    }
    /* everything else at the top level, as it was */
    for (uint32_t k = 1, i = 0; i < d->nodes[0].count; i++, k = d->nodes[k].next) {
        sv key = {d->nodes[k].key, d->nodes[k].key_len};
        if (!sv_eq(key, SV_LIT("winlog")) && !sv_eq(key, SV_LIT("event")) &&
            !sv_eq(key, SV_LIT("@timestamp")))
            keep_raw(r, json, len, key);
    }
    return 1;
}

int winflat_parse(winflat *w, const char *json, size_t len, const winrec **out)
{
    mj_error err;
    if (mj_parse(w->p, json, len, NULL, &w->doc, &err)) return -1;
    const mj_doc *d = &w->doc;
    if (!d->n || d->nodes[0].type != MJ_OBJECT) return 0;
    winrec *r = &w->rec;
    memset(r, 0, sizeof *r);
    int wb = winlogbeat(w, json, len, r);
    if (wb) return wb > 0 ? (*out = r, 1) : 0;
    bool have_id = false;
    bool sysmonish = false;
    for (uint32_t k = 1, i = 0; i < d->nodes[0].count; i++, k = d->nodes[k].next) {
        const mj_node *n = &d->nodes[k];
        sv key = {n->key, n->key_len};
        if (n->type == MJ_NULL) continue;
        if (n->type == MJ_ARRAY || n->type == MJ_OBJECT) { /* nested: kept raw */
            keep_raw(r, json, len, key);
            continue;
        }
        sv val = scalar(w, n, r->ndata);
        if (key_is(key, "EventID") || key_is(key, "EventId") || key_is(key, "event_id")) {
            if (n->type == MJ_INT || n->type == MJ_UINT) {
                r->event_id = (uint32_t)n->v.u;
                r->event_id_text = val;
                have_id = true;
                continue;
            }
        } else if (key_is(key, "Channel") || key_is(key, "channel")) {
            r->channel = val;
            continue;
        } else if (key_is(key, "Computer") || key_is(key, "Hostname") ||
                   key_is(key, "computer_name")) {
            r->computer = val;
            continue;
        } else if (key_is(key, "SourceName") || key_is(key, "ProviderName") ||
                   key_is(key, "Provider_Name") || key_is(key, "provider_name")) {
            r->provider = val;
            continue;
        } else if (key_is(key, "EventRecordID") || key_is(key, "RecordNumber") ||
                   key_is(key, "record_id")) {
            r->record_id_text = val;
            r->record_id = strtoull(val.p ? val.p : "0", NULL, 10);
            continue;
        } else if (key_is(key, "TimeCreated") || key_is(key, "@timestamp") ||
                   key_is(key, "EventTime")) {
            r->time = val;
            continue;
        } else if (key_is(key, "ProcessID") && (n->type == MJ_INT || n->type == MJ_UINT)) {
            r->exec_pid = n->v.u;
            r->has_exec = true;
            continue;
        } else if (key_is(key, "ThreadID") && (n->type == MJ_INT || n->type == MJ_UINT)) {
            r->exec_tid = n->v.u;
            continue;
        } else if (key_is(key, "UtcTime") || key_is(key, "ProcessGuid") ||
                   key_is(key, "SourceProcessGUID") || key_is(key, "SourceProcessGuid")) {
            sysmonish = true;
        }
        if (r->ndata < WINREC_MAX_DATA && val.p) {
            r->data_name[r->ndata] = key;
            r->data_val[r->ndata++] = val;
        }
    }
    if (!have_id) return 0;
    if (!r->provider.p) {
        sv ch = r->channel;
        uint32_t id = r->event_id;
        if (ch.p ? sv_ieq(ch, sv_cstr("Microsoft-Windows-Sysmon/Operational"))
                 : (sysmonish && id < 256))
            r->provider = sv_cstr("Microsoft-Windows-Sysmon");
        else if (ch.p && sv_ieq(ch, sv_cstr("Security")))
            r->provider = sv_cstr("Microsoft-Windows-Security-Auditing");
        else if (ch.p && sv_ieq(ch, sv_cstr("System")) && id >= 7000 && id < 7100)
            r->provider = sv_cstr("Service Control Manager");
    }
    *out = r;
    return 1;
}
