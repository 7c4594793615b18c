/* modus.c - engine, scanner and event accessors: the public API's glue. */
#include <stdio.h>
#include <stdlib.h>

#include "decode/event.h"
#include "rules/ruleset.h"
#include "util/blob.h"
#include "util/limits.h"

extern const char modus_modalities_conf[];
extern const size_t modus_modalities_conf_len;

const char *modus_default_modalities(size_t *len)
{
    if (len) *len = modus_modalities_conf_len;
    return modus_modalities_conf;
}

const char *modus_strerror(modus_status st)
{
    switch (st) {
    case MODUS_OK: return "success";
    case MODUS_DONE: return "end of input";
    case MODUS_ENOMEM: return "out of memory";
    case MODUS_EINVAL: return "invalid argument";
    case MODUS_EIO: return "input/output error";
    case MODUS_EPARSE: return "malformed input";
    case MODUS_ETOOLONG: return "line too long";
    case MODUS_ENOTFOUND: return "not found";
    case MODUS_ETABLE: return "bad modality table";
    }
    return "unknown status";
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *p = malloc(cap);
    for (size_t r; p && (r = fread(p + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            if (cap >= (1u << 24)) break;
            char *q = realloc(p, cap *= 2);
            if (!q) {
                free(p);
                p = NULL;
            }
            p = q;
        }
    }
    fclose(f);
    *len = n;
    return p;
}

modus_status modus_engine_create(const modus_engine_opts *opts, modus_engine **out,
                                 modus_diag *diag)
{
    *out = NULL;
    modus_engine *e = calloc(1, sizeof *e);
    if (!e) return MODUS_ENOMEM;
    const char *text = modus_modalities_conf;
    size_t len = modus_modalities_conf_len;
    char *owned = NULL;
    const char *name = "<embedded modalities.conf>";
    if (opts && opts->modalities_path) {
        name = opts->modalities_path;
        owned = slurp(opts->modalities_path, &len);
        if (!owned) {
            if (diag) {
                memset(diag, 0, sizeof *diag);
                snprintf(diag->file, sizeof diag->file, "%s", name);
                snprintf(diag->message, sizeof diag->message, "cannot read the modality table");
            }
            free(e);
            return MODUS_EIO;
        }
        text = owned;
    }
    bool want_ok = decode_want_init(&e->want);
    e->augment = opts && (opts->nqueries || (opts->rules && opts->rules->n));
    for (size_t i = 0; want_ok && opts && opts->rules && i < opts->rules->n; i++)
        want_ok = query_want(opts->rules->r[i].q, &e->want);
    for (size_t i = 0; want_ok && opts && i < opts->nqueries; i++)
        want_ok = query_want(opts->queries[i], &e->want);
    if (!want_ok) {
        free(owned);
        free(e);
        return MODUS_ENOMEM;
    }
    uint32_t line = 0;
    char msg[200];
    bool ok = sigtab_parse(&e->tab, text, len, &line, msg, sizeof msg);
    free(owned);
    if (!ok) {
        if (diag) {
            memset(diag, 0, sizeof *diag);
            snprintf(diag->file, sizeof diag->file, "%s", name);
            diag->line = line;
            snprintf(diag->message, sizeof diag->message, "%s", msg);
        }
        sigtab_free(&e->tab);
        mj_want_free(&e->want);
        free(e);
        return MODUS_ETABLE;
    }
    *out = e;
    return MODUS_OK;
}

void modus_engine_destroy(modus_engine *e)
{
    if (!e) return;
    sigtab_free(&e->tab);
    mj_want_free(&e->want);
    free(e);
}

modus_status modus_scanner_create(const modus_engine *e, modus_scanner **out)
{
    *out = NULL;
    modus_scanner *s = calloc(1, sizeof *s);
    if (!s) return MODUS_ENOMEM;
    s->eng = e;
    s->parser = mj_parser_create(MODUS_MAX_LINE, MODUS_MAX_JSON_DEPTH, MODUS_MAX_JSON_NODES);
    s->cls = classifier_create(&e->tab);
    arena_init(&s->scratch, 64 * 1024);
    /* pattern lists' answers per string, across events; not with
     * MODUS_PREFILTER=off, the plain tree walker that the rest is checked against */
    const char *pf = getenv("MODUS_PREFILTER");
    if (!(pf && !strcmp(pf, "off"))) (void)eql_cache_memo(&s->cache);
    if (!s->parser || !s->cls) {
        modus_scanner_destroy(s);
        return MODUS_ENOMEM;
    }
    *out = s;
    return MODUS_OK;
}

void modus_scanner_destroy(modus_scanner *s)
{
    if (!s) return;
    blob_unref(s->cur_blob);
    eql_cache_free(&s->cache);
    mj_parser_destroy(s->parser);
    mj_doc_free(&s->doc);
    mj_doc_free(&s->full);
    classifier_destroy(s->cls);
    arena_free(&s->scratch);
    buf_free(&s->out);
    free(s);
}

modus_status modus_scanner_decode(modus_scanner *s, const char *json, size_t len,
                                  const modus_event **out, modus_diag *diag)
{
    *out = NULL;
    modus_status st = decode_event(s, json, len, diag);
    if (st == MODUS_OK) *out = &s->ev;
    return st;
}

modus_status modus_scanner_explain(modus_scanner *s, modus_os os, modus_stack_form form,
                                   const char *text, size_t len, const char *image,
                                   const modus_event **out, modus_diag *diag)
{
    modus_event *ev = &s->ev;
    arena_reset(&s->scratch);
    memset(ev, 0, sizeof *ev);
    ev->sc = s;
    ev->site = SITE_TEXT;
    ev->os = os == MODUS_OS_LINUX ? STACK_OS_LINUX : STACK_OS_WINDOWS;
    ev->image = image ? sv_cstr(image) : (sv){NULL, 0};
    sv t = {text, len};
    uint32_t bad_line = 0;
    size_t bad_col = 0;
    if (form == MODUS_STACK_CALLTRACE) {
        stack_init(&ev->stk, ev->os, SRC_SYSMON);
        stack_parse_calltrace(&ev->stk, &s->scratch, t);
    } else {
        stack_init(&ev->stk, ev->os, SRC_TEXT);
        uint32_t lineno = 0;
        for (size_t b = 0; b < t.n;) {
            size_t e = b;
            while (e < t.n && t.p[e] != '\n') e++;
            sv line = {t.p + b, e - b};
            lineno++;
            size_t k = 0;
            while (k < line.n && (line.p[k] == ' ' || line.p[k] == '\t' || line.p[k] == '\r')) k++;
            if (k < line.n && line.p[k] != '#') {
                frame *f = stack_push(&ev->stk, &s->scratch);
                if (!f) break;
                if (!stack_parse_any(f, &s->scratch, line, ev->os) && !ev->stk.errors++) {
                    bad_line = lineno;
                    bad_col = 1;
                }
            }
            b = e + 1;
        }
        for (uint32_t i = 0; i < ev->stk.n && os != MODUS_OS_LINUX; i++)
            if (ev->stk.f[i].kind == FRAME_MODULE && ev->stk.f[i].path.n) {
                if (ev->stk.f[i].path.p[0] == '/') ev->os = ev->stk.os = STACK_OS_LINUX;
                break;
            }
    }
    classify_stack(s->cls, &ev->stk, ev->image, &s->scratch, &ev->mr);
    *out = ev;
    if (ev->stk.errors) {
        if (diag) {
            memset(diag, 0, sizeof *diag);
            if (form == MODUS_STACK_CALLTRACE) {
                diag->column = ev->stk.err_off + 1;
                diag->offset = ev->stk.err_off;
                snprintf(diag->message, sizeof diag->message, "frame %u: %s (%u malformed frames)",
                         ev->stk.err_frame, ev->stk.err_msg, ev->stk.errors);
            } else {
                diag->line = bad_line;
                diag->column = bad_col;
                snprintf(diag->message, sizeof diag->message,
                         "malformed frame (%u malformed frames)", ev->stk.errors);
            }
        }
        return MODUS_EPARSE;
    }
    return MODUS_OK;
}

/* ---- accessors ---------------------------------------------------------- */

#define REF_FULL 0x80000000u

static const mj_doc *ref_doc(const modus_event *ev, uint32_t ref)
{
    return ref & REF_FULL ? &ev->sc->full : &ev->sc->doc;
}

static void fill_value(const modus_event *ev, uint32_t ref, modus_value *out)
{
    const mj_node *nd = &ref_doc(ev, ref)->nodes[ref & ~REF_FULL];
    memset(out, 0, sizeof *out);
    out->ref = ref;
    switch (nd->type) {
    case MJ_NULL: out->type = MODUS_T_NULL; break;
    case MJ_BOOL:
        out->type = MODUS_T_BOOL;
        out->b = nd->b;
        break;
    case MJ_INT:
        out->type = MODUS_T_INT;
        out->i = nd->v.i;
        break;
    case MJ_UINT:
        out->type = MODUS_T_UINT;
        out->u = nd->v.u;
        break;
    case MJ_DOUBLE:
        out->type = MODUS_T_DOUBLE;
        out->d = nd->v.d;
        break;
    case MJ_STRING:
        out->type = MODUS_T_STRING;
        out->str = nd->v.s;
        out->len = nd->len;
        break;
    case MJ_ARRAY:
        out->type = MODUS_T_ARRAY;
        out->len = nd->count;
        break;
    default:
        out->type = MODUS_T_OBJECT;
        out->len = nd->count;
        break;
    }
}

modus_status modus_event_get(const modus_event *ev, const char *path, modus_value *out)
{
    return modus_value_get(ev, NULL, path, out);
}

modus_status modus_value_get(const modus_event *ev, const modus_value *obj, const char *path,
                             modus_value *out)
{
    memset(out, 0, sizeof *out);
    if (!ev || !ev->is_json || !path) return MODUS_EINVAL;
    if (obj && obj->type != MODUS_T_OBJECT) return MODUS_EINVAL;
    uint32_t from = obj ? obj->ref : 0;
    size_t plen = strlen(path);
    if (!(from & REF_FULL)) {
        uint32_t n = mj_path(&ev->sc->doc, from, path, plen);
        if (n) {
            fill_value(ev, n, out);
            return MODUS_OK;
        }
        if (from) return MODUS_ENOTFOUND; /* a wanted container is complete */
        /* not among the decoded fields: parse the whole document once */
        modus_scanner *sc = ev->sc;
        if (!sc->full_done) {
            mj_error err;
            if (mj_parse_full(sc->parser, &sc->full, &err)) return MODUS_ENOMEM;
            sc->full_done = true;
        }
    }
    uint32_t n = mj_path(&ev->sc->full, from & ~REF_FULL, path, plen);
    if (!n) return MODUS_ENOTFOUND;
    fill_value(ev, n | REF_FULL, out);
    return MODUS_OK;
}

modus_status modus_value_index(const modus_event *ev, const modus_value *arr, size_t idx,
                               modus_value *out)
{
    memset(out, 0, sizeof *out);
    if (!ev || !ev->is_json || !arr || arr->type != MODUS_T_ARRAY) return MODUS_EINVAL;
    if (idx >= arr->len) return MODUS_ENOTFOUND;
    const mj_doc *d = ref_doc(ev, arr->ref);
    uint32_t c = (arr->ref & ~REF_FULL) + 1;
    for (size_t i = 0; i < idx; i++) c = d->nodes[c].next;
    fill_value(ev, c | (arr->ref & REF_FULL), out);
    return MODUS_OK;
}

const char *modus_event_modality(const modus_event *ev)
{
    return ev->sc->eng->tab.mod[ev->mr.name].name;
}

const char *modus_event_confidence(const modus_event *ev)
{
    return confidence_names[ev->mr.confidence];
}

const char *modus_event_syscall(const modus_event *ev)
{
    return syscall_names[ev->mr.syscall];
}

size_t modus_event_frame_count(const modus_event *ev)
{
    return ev->stk.n;
}

bool modus_event_has_stack(const modus_event *ev)
{
    return ev->stk.n > 0;
}

const char *modus_event_initiator(const modus_event *ev, size_t *len)
{
    *len = ev->mr.initiator_name.n;
    return ev->mr.initiator_name.p ? ev->mr.initiator_name.p : "";
}

const char *modus_event_summary(const modus_event *ev, size_t *len)
{
    *len = ev->mr.summary.n;
    return ev->mr.summary.p ? ev->mr.summary.p : "";
}

const char *modus_event_image(const modus_event *ev, size_t *len)
{
    *len = ev->image.n;
    return ev->image.p ? ev->image.p : "";
}
