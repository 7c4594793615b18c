/* decode_ecs.c - one JSON document into an event with a classified stack.
 *
 * The document is parsed whole into the node table (json.h), so every field
 * stays reachable by path. Then the event's call stack is located, in this
 * order of preference:
 *   process.thread.Ext.call_stack          Elastic Defend, modus live: the
 *                                          acting thread
 *   process.parent.thread.Ext.call_stack   process start: the creating thread
 *   CallTrace (+ SourceImage)              flat Sysmon JSON records
 *   winlog.event_data.CallTrace            winlogbeat / Elastic Agent
 * and classified (classify.c) with the acting process's image as context.
 * The OS is host.os.type when present, otherwise guessed from the frames
 * ('/' paths are Linux). All per-event memory is in the scanner's arena.
 */
#include <stdio.h>

#include "event.h"

static sv str_at(const mj_doc *d, const char *path)
{
    uint32_t n = mj_path(d, 0, path, strlen(path));
    return n && d->nodes[n].type == MJ_STRING ? (sv){d->nodes[n].v.s, d->nodes[n].len}
                                              : (sv){NULL, 0};
}

/* Frames of an Elastic call_stack array. */
static void frames_from_array(modus_scanner *sc, uint32_t arr, uint8_t os)
{
    const mj_doc *d = &sc->doc;
    modus_event *ev = &sc->ev;
    if (!d->nodes[arr].count) return;
    for (uint32_t c = arr + 1; c; c = d->nodes[c].next) {
        frame *f = stack_push(&ev->stk, &sc->scratch);
        if (!f) return;
        const mj_node *nd = &d->nodes[c];
        if (nd->type == MJ_STRING) {
            if (!stack_parse_any(f, &sc->scratch, (sv){nd->v.s, nd->len}, os)) ev->stk.errors++;
            continue;
        }
        if (nd->type != MJ_OBJECT) {
            f->kind = FRAME_UNKNOWN;
            continue;
        }
        /* one pass over the frame's members */
        sv si = {NULL, 0};
        for (uint32_t m = nd->count ? c + 1 : 0; m; m = d->nodes[m].next) {
            const mj_node *mn = &d->nodes[m];
            sv key = {mn->key, mn->key_len};
            if (mn->type == MJ_STRING) {
                sv v = {mn->v.s, mn->len};
                if (sv_eq(key, SV_LIT("symbol_info")))
                    si = v;
                else if (sv_eq(key, SV_LIT("protection")))
                    f->protection = v;
                else if (sv_eq(key, SV_LIT("protection_provenance")))
                    f->provenance = v;
                else if (sv_eq(key, SV_LIT("callsite_leading_bytes")))
                    f->leading = v;
                else if (sv_eq(key, SV_LIT("callsite_trailing_bytes")))
                    f->trailing = v;
                else if (sv_eq(key, SV_LIT("module_path")))
                    f->module_path = v;
            } else if (sv_eq(key, SV_LIT("allocation_private_bytes"))) {
                if (mn->type == MJ_UINT)
                    f->alloc_private = mn->v.u > INT64_MAX ? INT64_MAX : (int64_t)mn->v.u;
                else if (mn->type == MJ_INT)
                    f->alloc_private = mn->v.i;
                else if (mn->type == MJ_DOUBLE)
                    f->alloc_private = (int64_t)mn->v.d;
            }
        }
        if (si.p) {
            if (!stack_parse_symbol_info(f, &sc->scratch, si, os)) ev->stk.errors++;
        } else {
            f->kind = FRAME_UNKNOWN;
        }
    }
}

static uint8_t guess_os(const mj_doc *d)
{
    sv os = str_at(d, "host.os.type");
    if (!os.p) os = str_at(d, "host.os.family");
    if (os.p) return sv_ieq(os, SV_LIT("linux")) ? STACK_OS_LINUX : STACK_OS_WINDOWS;
    return STACK_OS_WINDOWS;
}

static void fix_os_from_frames(modus_event *ev)
{
    for (uint32_t i = 0; i < ev->stk.n; i++) {
        const frame *f = &ev->stk.f[i];
        if (f->kind == FRAME_MODULE && f->path.n) {
            ev->os = f->path.p[0] == '/' ? STACK_OS_LINUX : STACK_OS_WINDOWS;
            ev->stk.os = ev->os;
            return;
        }
    }
}

/* What decoding reads; everything else is skipped until someone asks. */
static const char *const wanted[] = {
    "process.thread.Ext.call_stack",
    "process.thread.Ext.call_stack_summary",
    "process.thread.Ext.call_stack_contains_unbacked",
    "process.thread.Ext.call_stack_final_user_module",
    "process.parent.thread.Ext.call_stack",
    "process.parent.thread.Ext.call_stack_summary",
    "process.parent.thread.Ext.call_stack_contains_unbacked",
    "process.parent.thread.Ext.call_stack_final_user_module",
    "process.executable",
    "process.name",
    "process.parent.executable",
    "process.parent.name",
    "host.os.type",
    "host.os.family",
    "CallTrace",
    "SourceImage",
    "winlog.event_data.CallTrace",
    "winlog.event_data.SourceImage",
    "modality",
    "event.category",
    "EventID",
};

bool decode_want_init(mj_want *w)
{
    memset(w, 0, sizeof *w);
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++)
        if (!mj_want_add(w, wanted[i])) return false;
    return true;
}

modus_status decode_event(modus_scanner *sc, const char *json, size_t len, modus_diag *diag)
{
    modus_event *ev = &sc->ev;
    arena_reset(&sc->scratch);
    ev->sc = sc;
    ev->text = json;
    ev->len = len;
    ev->is_json = false;
    ev->site = SITE_NONE;
    ev->ext = 0;
    ev->src_summary = ev->src_unbacked = ev->src_final = false;
    ev->image = (sv){NULL, 0};
    mj_error err;
    sc->full_done = false;
    if (mj_parse(sc->parser, json, len, &sc->eng->want, &sc->doc, &err)) {
        if (diag) {
            diag->column = err.offset + 1;
            snprintf(diag->message, sizeof diag->message, "invalid JSON: %s", err.msg);
        }
        return MODUS_EPARSE;
    }
    ev->is_json = true;
    const mj_doc *d = &sc->doc;
    ev->os = guess_os(d);
    stack_init(&ev->stk, ev->os, SRC_ELASTIC);

    static const struct {
        const char *path, *ext_prefix;
        uint8_t site;
    } arrays[] = {
        {"process.thread.Ext.call_stack", "process.thread.Ext", SITE_PROCESS},
        {"process.parent.thread.Ext.call_stack", "process.parent.thread.Ext", SITE_PARENT},
    };
    for (size_t k = 0; k < sizeof arrays / sizeof *arrays && ev->site == SITE_NONE; k++) {
        uint32_t n = mj_path(d, 0, arrays[k].path, strlen(arrays[k].path));
        if (!n || d->nodes[n].type != MJ_ARRAY) continue;
        ev->site = arrays[k].site;
        ev->ext = d->nodes[n].parent;
        char p[64];
        snprintf(p, sizeof p, "%s.call_stack_summary", arrays[k].ext_prefix);
        ev->src_summary = mj_path(d, 0, p, strlen(p)) != 0;
        snprintf(p, sizeof p, "%s.call_stack_contains_unbacked", arrays[k].ext_prefix);
        ev->src_unbacked = mj_path(d, 0, p, strlen(p)) != 0;
        snprintf(p, sizeof p, "%s.call_stack_final_user_module", arrays[k].ext_prefix);
        ev->src_final = mj_path(d, 0, p, strlen(p)) != 0;
        frames_from_array(sc, n, ev->os);
        fix_os_from_frames(ev);
        if (ev->site == SITE_PROCESS) {
            ev->image = str_at(d, "process.executable");
            if (!ev->image.p) ev->image = str_at(d, "process.name");
        } else {
            ev->image = str_at(d, "process.parent.executable");
            if (!ev->image.p) ev->image = str_at(d, "process.parent.name");
        }
    }
    if (ev->site == SITE_NONE) {
        sv ct = str_at(d, "CallTrace");
        uint8_t site = SITE_CALLTRACE;
        if (!ct.p) {
            ct = str_at(d, "winlog.event_data.CallTrace");
            site = SITE_WINLOG;
        }
        if (ct.p) {
            ev->site = site;
            ev->os = STACK_OS_WINDOWS;
            stack_init(&ev->stk, STACK_OS_WINDOWS, SRC_SYSMON);
            stack_parse_calltrace(&ev->stk, &sc->scratch, ct);
            ev->image =
                str_at(d, site == SITE_CALLTRACE ? "SourceImage" : "winlog.event_data.SourceImage");
        }
    }
    classify_stack(sc->cls, &ev->stk, ev->image, &sc->scratch, &ev->mr);
    return MODUS_OK;
}
