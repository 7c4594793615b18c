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
#include "../util/blob.h"
#include "../util/limits.h"

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
                else if (sv_eq(key, SV_LIT("module_runtime")))
                    f->runtime = v;
                else if (sv_eq(key, SV_LIT("module_origin")))
                    f->origin = v;
                else if (sv_eq(key, SV_LIT("unwind")))
                    f->guessed = sv_eq(v, SV_LIT("frame_pointer"));
                else if (sv_eq(key, SV_LIT("mapping")))
                    f->unmapped = sv_eq(v, SV_LIT("none"));
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
    "event.code",
    "EventID",
    "Image",
};

bool decode_want_init(mj_want *w)
{
    memset(w, 0, sizeof *w);
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++)
        if (!mj_want_add(w, wanted[i])) return false;
    return true;
}

/* ---- the fields modus adds, as nodes: rules read them like any field ---- */

static void add_str(mj_doc *d, uint32_t parent, const char *key, sv v)
{
    uint32_t n = mj_append(d, parent, key, strlen(key), MJ_STRING);
    if (!n) return;
    d->nodes[n].v.s = v.p ? v.p : "";
    d->nodes[n].len = (uint32_t)v.n;
}

static void add_strs(mj_doc *d, uint32_t parent, const char *key, const sv *v, int n)
{
    uint32_t a = mj_append(d, parent, key, strlen(key), MJ_ARRAY);
    for (int i = 0; a && i < n; i++) add_str(d, a, "", v[i]);
    if (a) /* array elements carry no key */
        for (uint32_t k = a + 1, i = 0; i < d->nodes[a].count; i++, k = d->nodes[k].next)
            d->nodes[k].key = NULL, d->nodes[k].key_len = 0;
}

static void add_derived(modus_scanner *sc, uint32_t ext, bool summary, bool unbacked, bool final)
{
    mj_doc *d = &sc->doc;
    modus_event *ev = &sc->ev;
    const modality_result *r = &ev->mr;
    if (summary) add_str(d, ext, "call_stack_summary", r->summary);
    if (unbacked) {
        uint32_t b = mj_append(d, ext, "call_stack_contains_unbacked", 28, MJ_BOOL);
        if (b) d->nodes[b].b = r->contains_unbacked;
    }
    if (final && r->final_user >= 0) {
        const frame *f = &ev->stk.f[r->final_user];
        uint32_t o = mj_append(d, ext, "call_stack_final_user_module", 28, MJ_OBJECT);
        if (o) {
            add_str(d, o, "name", frame_token(f));
            if (f->kind == FRAME_MODULE) add_str(d, o, "path", f->path);
            if (f->provenance.n) add_str(d, o, "protection_provenance", f->provenance);
        }
    }
}

static void augment(modus_scanner *sc)
{
    mj_doc *d = &sc->doc;
    modus_event *ev = &sc->ev;
    const modality_result *r = &ev->mr;
    const sigtab *t = &sc->eng->tab;
    if (!d->n || !d->nodes[0].count) return;
    if (!mj_member(d, 0, "modality", 8)) {
        uint32_t m = mj_append(d, 0, "modality", 8, MJ_OBJECT);
        if (!m) return;
        add_str(d, m, "name", sv_cstr(t->mod[r->name].name));
        sv layers[MODUS_MAX_LAYERS];
        for (int i = 0; i < r->nlayers; i++) layers[i] = sv_cstr(t->mod[r->layers[i]].name);
        add_strs(d, m, "layers", layers, r->nlayers);
        add_str(d, m, "syscall", sv_cstr(syscall_names[r->syscall]));
        add_str(d, m, "confidence", sv_cstr(confidence_names[r->confidence]));
        if (r->initiator >= 0) {
            uint32_t ini = mj_append(d, m, "initiator", 9, MJ_OBJECT);
            if (ini) {
                add_str(d, ini, "name", r->initiator_name);
                if (r->initiator_path.n) add_str(d, ini, "path", r->initiator_path);
            }
        }
        add_strs(d, m, "evidence", r->evidence, r->nevidence);
        sv an[ANOM_COUNT];
        int na = 0;
        for (int i = 0; i < ANOM_COUNT; i++)
            if (r->anomalies & (1u << i)) an[na++] = sv_cstr(anomaly_names[i]);
        add_strs(d, m, "anomalies", an, na);
    }
    if (!ev->stk.n) return;
    if ((ev->site == SITE_PROCESS || ev->site == SITE_PARENT) && ev->ext &&
        d->nodes[ev->ext].type == MJ_OBJECT) {
        add_derived(sc, ev->ext, !ev->src_summary, !ev->src_unbacked, !ev->src_final);
    } else if ((ev->site == SITE_CALLTRACE || ev->site == SITE_WINLOG) &&
               !mj_member(d, 0, "process", 7)) {
        /* Sysmon: process.thread.Ext with the stack in Elastic's form */
        uint32_t p = mj_append(d, 0, "process", 7, MJ_OBJECT);
        uint32_t th = p ? mj_append(d, p, "thread", 6, MJ_OBJECT) : 0;
        uint32_t ext = th ? mj_append(d, th, "Ext", 3, MJ_OBJECT) : 0;
        if (!ext) return;
        uint32_t arr = mj_append(d, ext, "call_stack", 10, MJ_ARRAY);
        for (uint32_t i = 0; arr && i < ev->stk.n; i++) {
            uint32_t fo = mj_append(d, arr, NULL, 0, MJ_OBJECT);
            if (!fo) break;
            const frame *f = &ev->stk.f[i];
            char text[MODUS_MAX_FRAME_TEXT + 64];
            int k;
            if (f->kind == FRAME_UNBACKED)
                k = snprintf(text, sizeof text, "Unbacked+0x%llx", (unsigned long long)f->address);
            else
                k = snprintf(text, sizeof text, "%.*s+0x%llx", (int)f->path.n, f->path.p,
                             (unsigned long long)f->offset);
            if (k < 0) break;
            if ((size_t)k >= sizeof text) k = (int)sizeof text - 1;
            add_str(d, fo, "symbol_info",
                    (sv){arena_strndup(&sc->scratch, text, (size_t)k), (size_t)k});
        }
        add_derived(sc, ext, true, true, true);
    }
}

static bool has_category(const mj_doc *d, const char *cat)
{
    uint32_t n = mj_path(d, 0, "event.category", 14);
    if (!n) return false;
    sv c = sv_cstr(cat);
    if (d->nodes[n].type == MJ_STRING) return sv_eq(str_at(d, "event.category"), c);
    if (d->nodes[n].type != MJ_ARRAY) return false;
    for (uint32_t k = n + 1, i = 0; i < d->nodes[n].count; i++, k = d->nodes[k].next)
        if (sv_eq(mj_str(d, k), c)) return true;
    return false;
}

/* Windows events with no stack where the acting process is all a source
 * offers (SPEC 3): registry writes and service installs. Sets ev->image;
 * returns what the evidence should say, or NULL: no stack, unknown. */
static const char *stackless_why(const mj_doc *d, modus_event *ev)
{
    sv os = str_at(d, "host.os.type");
    uint32_t eid = mj_path(d, 0, "EventID", 7);
    bool flat = eid && (d->nodes[eid].type == MJ_INT || d->nodes[eid].type == MJ_UINT);
    if (!flat && !(os.p && sv_ieq(os, SV_LIT("windows")))) return NULL;
    sv code = str_at(d, "event.code");
    int64_t id = flat ? d->nodes[eid].v.i : 0;
    if (has_category(d, "registry") || (flat && id >= 12 && id <= 14)) {
        ev->image = str_at(d, flat ? "Image" : "process.executable");
        if (!ev->image.p) ev->image = str_at(d, "process.name");
        return ev->image.n ? "a registry event" : NULL;
    }
    if ((code.p && (sv_eq(code, SV_LIT("7045")) || sv_eq(code, SV_LIT("4697")))) ||
        (flat && (id == 7045 || id == 4697))) {
        ev->image = SV_LIT("services.exe");
        return "a service install: the service control manager created it for a client";
    }
    return NULL;
}

modus_status decode_event(modus_scanner *sc, const char *json, size_t len, modus_diag *diag)
{
    modus_event *ev = &sc->ev;
    arena_reset(&sc->scratch);
    blob_unref(sc->cur_blob); /* rules that kept the previous event hold their own refs */
    sc->cur_blob = NULL;
    sc->cache.gen++; /* a new event: cached field nodes are stale */
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
    const char *why = ev->stk.n ? NULL : stackless_why(d, ev);
    if (why)
        classify_identity(sc->cls, STACK_OS_WINDOWS, ev->image, why, &sc->scratch, &ev->mr);
    else
        classify_stack(sc->cls, &ev->stk, ev->image, &sc->scratch, &ev->mr);
    if (sc->eng->augment) augment(sc);
    return MODUS_OK;
}
