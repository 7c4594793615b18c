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

int winflat_parse(winflat *w, const char *json, size_t len, const winrec **out)
{
    mj_error err;
    if (mj_parse(w->p, json, len, NULL, &w->doc, &err)) return -1;
    const mj_doc *d = &w->doc;
    if (!d->n || d->nodes[0].type != MJ_OBJECT) return 0;
    winrec *r = &w->rec;
    memset(r, 0, sizeof *r);
    bool have_id = false;
    bool sysmonish = false;
    for (uint32_t k = 1, i = 0; i < d->nodes[0].count; i++, k = d->nodes[k].next) {
        const mj_node *n = &d->nodes[k];
        sv key = {n->key, n->key_len};
        sv val = {NULL, 0};
        char *nb = r->ndata < WINREC_MAX_DATA ? w->num[r->ndata] : NULL;
        switch (n->type) {
        case MJ_STRING: val = (sv){n->v.s, n->len}; break;
        case MJ_INT:
            if (nb) val = (sv){nb, (size_t)snprintf(nb, 24, "%lld", (long long)n->v.i)};
            break;
        case MJ_UINT:
            if (nb) val = (sv){nb, (size_t)snprintf(nb, 24, "%llu", (unsigned long long)n->v.u)};
            break;
        case MJ_DOUBLE:
            if (nb) val = (sv){nb, (size_t)snprintf(nb, 24, "%.17g", n->v.d)};
            break;
        case MJ_BOOL: val = sv_cstr(n->b ? "true" : "false"); break;
        case MJ_NULL: continue;
        default: { /* nested: kept raw */
            size_t end;
            char path[128];
            if (key.n >= sizeof path || memchr(key.p, '.', key.n) || r->nraw >= 16) continue;
            memcpy(path, key.p, key.n);
            path[key.n] = 0;
            long at = mj_locate_span(json, len, path, &end);
            if (at < 0) continue;
            r->raw_name[r->nraw] = key;
            r->raw_json[r->nraw++] = (sv){json + at, end - (size_t)at};
            continue;
        }
        }
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
