/* out_render.c - an event as enriched JSON, as the bare SPEC §3 fields, or as
 * a human explanation.
 *
 * Enriched output is zero-copy: the input line is written as is, with the
 * derived call_stack_* members spliced in right after the '{' of the Ext
 * object that holds the stack (only those the source lacks; found in the text
 * by mj_locate, json_locate.c) and the
 * `modality` object appended before the document's final '}'. A document
 * that already carries `modality` (modus's own output) is written unchanged,
 * so enriching twice is harmless.
 */
#include <stdio.h>

#include "../decode/event.h"

static void put_str(buf *b, sv s)
{
    buf_put_json_str(b, s.p ? s.p : "", s.n);
}

static void put_frame_text(buf *b, const frame *f)
{
    switch (f->kind) {
    case FRAME_UNKNOWN: buf_puts(b, "Unknown"); return;
    case FRAME_UNBACKED:
        buf_puts(b, "Unbacked");
        if (f->has_offset)
            buf_printf(b, "+0x%llx", (unsigned long long)f->offset);
        else if (f->has_address)
            buf_printf(b, "+0x%llx", (unsigned long long)f->address);
        return;
    default:
        buf_putsv(b, f->path);
        if (f->symbol.n) {
            buf_putc(b, '!');
            buf_putsv(b, f->symbol);
        }
        if (f->has_offset) buf_printf(b, "+0x%llx", (unsigned long long)f->offset);
    }
}

static void put_frame_json_text(buf *b, arena *a, const frame *f)
{
    buf tmp = {0};
    put_frame_text(&tmp, f);
    buf_put_json_str(b, tmp.p ? tmp.p : "", tmp.n);
    buf_free(&tmp);
    (void)a;
}

/* "call_stack_summary":..,"call_stack_contains_unbacked":..,"call_stack_final_user_module":{..}
 * members the source lacks; returns whether anything was written. */
static bool put_derived(buf *b, const modus_event *ev, bool all)
{
    const modality_result *r = &ev->mr;
    bool any = false;
    if (all || !ev->src_summary) {
        buf_puts(b, "\"call_stack_summary\":");
        put_str(b, r->summary);
        any = true;
    }
    if (all || !ev->src_unbacked) {
        if (any) buf_putc(b, ',');
        buf_puts(b, r->contains_unbacked ? "\"call_stack_contains_unbacked\":true"
                                         : "\"call_stack_contains_unbacked\":false");
        any = true;
    }
    if ((all || !ev->src_final) && r->final_user >= 0) {
        const frame *f = &ev->stk.f[r->final_user];
        if (any) buf_putc(b, ',');
        buf_puts(b, "\"call_stack_final_user_module\":{\"name\":");
        put_str(b, frame_token(f));
        if (f->kind == FRAME_MODULE) {
            buf_puts(b, ",\"path\":");
            put_str(b, f->path);
        }
        if (f->provenance.n) {
            buf_puts(b, ",\"protection_provenance\":");
            put_str(b, f->provenance);
        }
        if (f->protection.n) {
            buf_puts(b, ",\"protection\":");
            put_str(b, f->protection);
        }
        buf_putc(b, '}');
        any = true;
    }
    return any;
}

void render_modality(buf *b, const modus_event *ev)
{
    const modality_result *r = &ev->mr;
    const sigtab *t = &ev->sc->eng->tab;
    buf_puts(b, "\"modality\":{\"name\":");
    put_str(b, sv_cstr(t->mod[r->name].name));
    buf_puts(b, ",\"layers\":[");
    for (int i = 0; i < r->nlayers; i++) {
        if (i) buf_putc(b, ',');
        put_str(b, sv_cstr(t->mod[r->layers[i]].name));
    }
    buf_puts(b, "],\"syscall\":");
    put_str(b, sv_cstr(syscall_names[r->syscall]));
    if (r->initiator >= 0) {
        buf_puts(b, ",\"initiator\":{\"name\":");
        put_str(b, r->initiator_name);
        if (r->initiator_path.n) {
            buf_puts(b, ",\"path\":");
            put_str(b, r->initiator_path);
        }
        buf_putc(b, '}');
    }
    buf_puts(b, ",\"confidence\":");
    put_str(b, sv_cstr(confidence_names[r->confidence]));
    buf_puts(b, ",\"evidence\":[");
    for (int i = 0; i < r->nevidence; i++) {
        if (i) buf_putc(b, ',');
        put_str(b, r->evidence[i]);
    }
    buf_puts(b, "],\"anomalies\":[");
    bool first = true;
    for (int i = 0; i < ANOM_COUNT; i++)
        if (r->anomalies & (1u << i)) {
            if (!first) buf_putc(b, ',');
            first = false;
            put_str(b, sv_cstr(anomaly_names[i]));
        }
    buf_puts(b, "]}");
}

static void put_call_stack(buf *b, const modus_event *ev)
{
    buf_puts(b, "\"call_stack\":[");
    for (uint32_t i = 0; i < ev->stk.n; i++) {
        if (i) buf_putc(b, ',');
        buf_puts(b, "{\"symbol_info\":");
        put_frame_json_text(b, NULL, &ev->stk.f[i]);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
}

static void render_enriched(buf *b, const modus_event *ev)
{
    const mj_doc *d = &ev->sc->doc;
    const char *t = ev->text;
    size_t len = ev->len;
    while (len && (t[len - 1] == ' ' || t[len - 1] == '\t' || t[len - 1] == '\r')) len--;
    /* a document that has modality.* already is left alone; with rules the
     * node table may hold a "modality" node the rules asked for, so the
     * text has the last word */
    bool has_modality = mj_member(d, 0, "modality", 8) && mj_locate(t, len, "modality") >= 0;
    if (has_modality || !len || t[len - 1] != '}') {
        buf_put(b, t, ev->len);
        return;
    }
    size_t pos = 0;
    bool has_stack = ev->stk.n > 0;
    bool spliced = ev->ext && has_stack && d->nodes[ev->ext].type == MJ_OBJECT &&
                   (ev->site == SITE_PROCESS || ev->site == SITE_PARENT);
    if (spliced && !(ev->src_summary && ev->src_unbacked && ev->src_final)) {
        long at = mj_locate(
            t, len, ev->site == SITE_PROCESS ? "process.thread.Ext" : "process.parent.thread.Ext");
        if (at >= 0 && t[at] == '{') { /* not found: a flattened document, no splice */
            buf_put(b, t, (size_t)at + 1);
            if (put_derived(b, ev, false)) buf_putc(b, ',');
            pos = (size_t)at + 1;
        }
    }
    buf_put(b, t + pos, len - 1 - pos);
    size_t k = 1;
    while (k < len && (t[k] == ' ' || t[k] == '\t' || t[k] == '\n' || t[k] == '\r')) k++;
    bool empty = t[0] == '{' && k == len - 1;
    if (!empty) buf_putc(b, ',');
    if (has_stack && (ev->site == SITE_CALLTRACE || ev->site == SITE_WINLOG) &&
        !mj_member(d, 0, "process", 7)) {
        buf_puts(b, "\"process\":{\"thread\":{\"Ext\":{");
        put_call_stack(b, ev);
        buf_putc(b, ',');
        put_derived(b, ev, true);
        buf_puts(b, "}}},");
    }
    render_modality(b, ev);
    buf_putc(b, '}');
}

static void render_fields(buf *b, const modus_event *ev)
{
    buf_putc(b, '{');
    render_modality(b, ev);
    if (ev->stk.n) {
        buf_puts(b, ",\"process\":{\"thread\":{\"Ext\":{");
        put_call_stack(b, ev);
        buf_putc(b, ',');
        put_derived(b, ev, true);
        buf_puts(b, "}}}");
    }
    buf_putc(b, '}');
}

static const char *class_name(uint8_t c, int mod, const sigtab *t)
{
    switch (c) {
    case C_STUB: return "os-stub";
    case C_API: return "os-api";
    case C_KERNEL: return "kernel";
    case C_RUNTIME:
    case C_DISPATCH: return mod >= 0 ? t->mod[mod].name : "?";
    case C_UNBACKED: return mod >= 0 ? t->mod[mod].name : "unbacked";
    case C_UNKNOWN: return "unknown";
    default: return "user";
    }
}

static void render_explain(buf *b, const modus_event *ev)
{
    const modality_result *r = &ev->mr;
    const sigtab *t = &ev->sc->eng->tab;
    const uint8_t *cls = classifier_classes(ev->sc->cls);
    const int16_t *mods = classifier_frame_modalities(ev->sc->cls);
    buf_printf(b, "frames (%u, most recent first)\n", ev->stk.n);
    for (uint32_t i = 0; i < ev->stk.n; i++) {
        const frame *f = &ev->stk.f[i];
        buf_printf(b, "  %3u  %-10s ", i, class_name(cls[i], mods[i], t));
        put_frame_text(b, f);
        if (f->wow64) buf_puts(b, " (wow64)");
        bool extra = f->protection.n || f->provenance.n || f->alloc_private > 0 || f->runtime.n;
        if (extra) {
            buf_puts(b, "  [");
            bool sep = false;
            if (f->runtime.n) { /* the sensor recognised the module by its code or build */
                buf_printf(b, "%.*s by %.*s", (int)f->runtime.n, f->runtime.p,
                           (int)(f->origin.n ? f->origin.n : 4),
                           f->origin.n ? f->origin.p : "code");
                sep = true;
            }
            if (f->protection.n) {
                buf_printf(b, "%.*s", (int)f->protection.n, f->protection.p);
                sep = true;
            }
            if (f->provenance.n) {
                buf_printf(b, "%sprovenance %.*s", sep ? ", " : "", (int)f->provenance.n,
                           f->provenance.p);
                sep = true;
            }
            if (f->alloc_private > 0)
                buf_printf(b, "%sprivate bytes %lld", sep ? ", " : "", (long long)f->alloc_private);
            buf_putc(b, ']');
        }
        if (i == (uint32_t)r->initiator) buf_puts(b, "   <- initiator");
        buf_putc(b, '\n');
    }
    buf_printf(b, "summary      %.*s\n", (int)r->summary.n, r->summary.p ? r->summary.p : "");
    buf_printf(b, "modality     %s (confidence %s)\n", t->mod[r->name].name,
               confidence_names[r->confidence]);
    buf_puts(b, "layers       ");
    for (int i = 0; i < r->nlayers; i++)
        buf_printf(b, "%s%s", i ? ", " : "", t->mod[r->layers[i]].name);
    if (!r->nlayers) buf_puts(b, "-");
    buf_printf(b, "\nsyscall      %s\n", syscall_names[r->syscall]);
    if (r->initiator >= 0)
        buf_printf(b, "initiator    %.*s\n", (int)r->initiator_name.n, r->initiator_name.p);
    if (r->final_user >= 0) {
        sv fu = frame_token(&ev->stk.f[r->final_user]);
        buf_printf(b, "final user   %.*s\n", (int)fu.n, fu.p);
    }
    buf_puts(b, "anomalies    ");
    bool any = false;
    for (int i = 0; i < ANOM_COUNT; i++)
        if (r->anomalies & (1u << i)) {
            buf_printf(b, "%s%s", any ? ", " : "", anomaly_names[i]);
            any = true;
        }
    if (!any) buf_puts(b, "-");
    buf_puts(b, "\nevidence\n");
    for (int i = 0; i < r->nevidence; i++)
        buf_printf(b, "  - %.*s\n", (int)r->evidence[i].n, r->evidence[i].p);
}

const char *modus_event_render(const modus_event *ev, modus_render kind, size_t *len)
{
    buf *b = &ev->sc->out;
    buf_reset(b);
    switch (kind) {
    case MODUS_RENDER_ENRICHED: render_enriched(b, ev); break;
    case MODUS_RENDER_FIELDS: render_fields(b, ev); break;
    default: render_explain(b, ev); break;
    }
    if (b->oom) {
        if (len) *len = 0;
        return NULL;
    }
    if (!buf_reserve(b, 1)) return NULL;
    b->p[b->n] = 0;
    if (len) *len = b->n;
    return b->p;
}
