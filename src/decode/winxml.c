/* winxml.c - one Windows <Event> element -> winrec, with expat.
 *
 * Design: a single expat parser, reset per event; element text and attribute
 * values are copied into one pool (reset per event) as offsets, turned into
 * views when the event ends. Only the System fields modus maps and the
 * EventData/UserData pairs are kept; RenderingInfo and anything else is
 * skipped. Nothing is allocated per event once the pool has grown.
 * <Data> without a Name becomes param1, param2... as winlogbeat names them.
 */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "winevt.h"

enum {
    F_PROVIDER,
    F_CHANNEL,
    F_COMPUTER,
    F_TIME,
    F_SID,
    F_LEVEL,
    F_TASK,
    F_OPCODE,
    F_KEYWORDS,
    F_VERSION,
    F_EID,
    F_RID,
    F_EPID,
    F_ETID,
    F_N
};
enum { S_NONE, S_SYSTEM, S_EVENTDATA, S_USERDATA };

typedef struct span {
    size_t off, len;
    bool set;
} span;

struct winxml {
    XML_Parser p;
    buf pool;
    int depth, sect, sect_depth;
    bool root_seen, not_event, in_expat;
    char root_name[64];
    /* text capture */
    int cap_field; /* F_* or -1 */
    bool cap_data; /* capturing a data value */
    bool child_seen;
    size_t cap_start, cap_name_off, cap_name_len;
    unsigned param_no;
    span f[F_N];
    size_t nd;
    struct {
        size_t noff, nlen, voff, vlen;
    } d[WINREC_MAX_DATA];
    winrec rec;
};

static const char *local(const char *n)
{
    const char *c = strrchr(n, ':');
    return c ? c + 1 : n;
}

static void put_attr(winxml *w, int field, const char **atts, const char *name)
{
    for (int i = 0; atts[i]; i += 2) {
        if (!strcmp(local(atts[i]), name)) {
            w->f[field].off = w->pool.n;
            buf_puts(&w->pool, atts[i + 1]);
            w->f[field].len = w->pool.n - w->f[field].off;
            w->f[field].set = true;
            return;
        }
    }
}

static void start_capture(winxml *w, int field)
{
    w->cap_field = field;
    w->cap_start = w->pool.n;
}

void winxml_sax_start(winxml *w, const char *name, const char **atts)
{
    const char *n = local(name);
    w->depth++;
    w->child_seen = true; /* for the element that encloses this one */
    if (w->depth == 1) {
        w->root_seen = true;
        if (strcmp(n, "Event")) {
            w->not_event = true;
            snprintf(w->root_name, sizeof w->root_name, "%s", n);
            if (w->in_expat) XML_StopParser(w->p, XML_FALSE);
        }
        return;
    }
    if (w->depth == 2) {
        w->sect = !strcmp(n, "System")      ? S_SYSTEM
                  : !strcmp(n, "EventData") ? S_EVENTDATA
                  : !strcmp(n, "UserData")  ? S_USERDATA
                                            : S_NONE;
        w->sect_depth = 2;
        return;
    }
    w->cap_field = -1;
    w->cap_data = false;
    if (w->sect == S_SYSTEM && w->depth == 3) {
        if (!strcmp(n, "Provider")) {
            put_attr(w, F_PROVIDER, atts, "Name");
            if (!w->f[F_PROVIDER].set) put_attr(w, F_PROVIDER, atts, "EventSourceName");
        } else if (!strcmp(n, "TimeCreated")) {
            put_attr(w, F_TIME, atts, "SystemTime");
        } else if (!strcmp(n, "Execution")) {
            put_attr(w, F_EPID, atts, "ProcessID");
            put_attr(w, F_ETID, atts, "ThreadID");
        } else if (!strcmp(n, "Security")) {
            put_attr(w, F_SID, atts, "UserID");
        } else {
            static const struct {
                const char *n;
                int f;
            } text[] = {
                {"EventID", F_EID},       {"EventRecordID", F_RID}, {"Channel", F_CHANNEL},
                {"Computer", F_COMPUTER}, {"Level", F_LEVEL},       {"Task", F_TASK},
                {"Opcode", F_OPCODE},     {"Keywords", F_KEYWORDS}, {"Version", F_VERSION},
            };
            for (size_t i = 0; i < sizeof text / sizeof *text; i++)
                if (!strcmp(n, text[i].n)) start_capture(w, text[i].f);
        }
    } else if ((w->sect == S_EVENTDATA && w->depth == 3) ||
               (w->sect == S_USERDATA && w->depth >= 4)) {
        const char *dn = NULL;
        if (w->sect == S_EVENTDATA && !strcmp(n, "Data")) {
            for (int i = 0; atts[i]; i += 2)
                if (!strcmp(local(atts[i]), "Name")) dn = atts[i + 1];
        } else {
            dn = n;
        }
        char pn[24];
        if (!dn || !*dn) {
            snprintf(pn, sizeof pn, "param%u", ++w->param_no);
            dn = pn;
        }
        w->cap_name_off = w->pool.n;
        buf_puts(&w->pool, dn);
        w->cap_name_len = w->pool.n - w->cap_name_off;
        w->cap_data = true;
        w->child_seen = false;
        w->cap_start = w->pool.n;
    }
}

void winxml_sax_end(winxml *w)
{
    if (w->cap_field >= 0) {
        span *s = &w->f[w->cap_field];
        s->off = w->cap_start;
        s->len = w->pool.n - w->cap_start;
        s->set = true;
        w->cap_field = -1;
    } else if (w->cap_data) {
        if (!w->child_seen && w->nd < WINREC_MAX_DATA) {
            w->d[w->nd].noff = w->cap_name_off;
            w->d[w->nd].nlen = w->cap_name_len;
            w->d[w->nd].voff = w->cap_start;
            w->d[w->nd].vlen = w->pool.n - w->cap_start;
            w->nd++;
        }
        w->cap_data = false;
    }
    if (w->depth == 2) w->sect = S_NONE;
    w->depth--;
}

void winxml_sax_text(winxml *w, const char *s, size_t len)
{
    if (w->cap_field >= 0 || w->cap_data) buf_put(&w->pool, s, len);
}

static void XMLCALL on_start(void *ud, const char *name, const char **atts)
{
    winxml_sax_start(ud, name, atts);
}

static void XMLCALL on_end(void *ud, const char *name)
{
    (void)name;
    winxml_sax_end(ud);
}

static void XMLCALL on_text(void *ud, const char *s, int len)
{
    winxml_sax_text(ud, s, (size_t)len);
}

winxml *winxml_new(void)
{
    winxml *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->p = XML_ParserCreate("UTF-8");
    if (!w->p) {
        free(w);
        return NULL;
    }
    return w;
}

void winxml_free(winxml *w)
{
    if (!w) return;
    XML_ParserFree(w->p);
    buf_free(&w->pool);
    free(w);
}

static sv view(const winxml *w, span s)
{
    return s.set ? (sv){w->pool.p + s.off, s.len} : (sv){NULL, 0};
}

static uint64_t to_u64(sv s, bool *ok)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\n' || s.p[i] == '\t' || s.p[i] == '\r')) i++;
    size_t b = i;
    for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) v = v * 10 + (uint64_t)(s.p[i] - '0');
    *ok = i > b;
    return v;
}

void winxml_sax_begin(winxml *w)
{
    buf_reset(&w->pool);
    w->depth = 0;
    w->sect = S_NONE;
    w->root_seen = w->not_event = false;
    w->cap_field = -1;
    w->cap_data = false;
    w->param_no = 0;
    w->nd = 0;
    memset(w->f, 0, sizeof w->f);
}

int winxml_parse(winxml *w, const char *xml, size_t len, const winrec **out, char *msg, size_t msz,
                 size_t *err_off)
{
    XML_ParserReset(w->p, "UTF-8");
    XML_SetUserData(w->p, w);
    XML_SetElementHandler(w->p, on_start, on_end);
    XML_SetCharacterDataHandler(w->p, on_text);
    winxml_sax_begin(w);
    *err_off = 0;
    if (len > (size_t)INT32_MAX) {
        snprintf(msg, msz, "event too large");
        return -1;
    }
    w->in_expat = true;
    enum XML_Status st = XML_Parse(w->p, xml, (int)len, XML_TRUE);
    w->in_expat = false;
    if (w->not_event) {
        snprintf(msg, msz, "not a Windows event: root element <%s>", w->root_name);
        return -1;
    }
    if (st != XML_STATUS_OK) {
        XML_Index at = XML_GetCurrentByteIndex(w->p);
        *err_off = at < 0 ? 0 : (size_t)at;
        snprintf(msg, msz, "malformed XML: %s", XML_ErrorString(XML_GetErrorCode(w->p)));
        return -1;
    }
    return winxml_sax_finish(w, out, msg, msz);
}

int winxml_sax_finish(winxml *w, const winrec **out, char *msg, size_t msz)
{
    if (w->not_event) {
        snprintf(msg, msz, "not a Windows event: root element <%s>", w->root_name);
        return -1;
    }
    if (w->pool.oom) {
        snprintf(msg, msz, "out of memory");
        return -1;
    }
    winrec *r = &w->rec;
    r->provider = view(w, w->f[F_PROVIDER]);
    r->channel = view(w, w->f[F_CHANNEL]);
    r->computer = view(w, w->f[F_COMPUTER]);
    r->time = view(w, w->f[F_TIME]);
    r->user_sid = view(w, w->f[F_SID]);
    r->level = view(w, w->f[F_LEVEL]);
    r->task = view(w, w->f[F_TASK]);
    r->opcode = view(w, w->f[F_OPCODE]);
    r->keywords = view(w, w->f[F_KEYWORDS]);
    r->version = view(w, w->f[F_VERSION]);
    r->event_id_text = view(w, w->f[F_EID]);
    r->record_id_text = view(w, w->f[F_RID]);
    bool ok;
    r->event_id = (uint32_t)to_u64(r->event_id_text, &ok);
    if (!w->f[F_EID].set || !ok) {
        snprintf(msg, msz, "event without a numeric <EventID>");
        return -1;
    }
    r->record_id = to_u64(r->record_id_text, &ok);
    r->exec_pid = to_u64(view(w, w->f[F_EPID]), &ok);
    r->has_exec = ok;
    r->exec_tid = to_u64(view(w, w->f[F_ETID]), &ok);
    r->ndata = w->nd;
    for (size_t i = 0; i < w->nd; i++) {
        r->data_name[i] = (sv){w->pool.p + w->d[i].noff, w->d[i].nlen};
        r->data_val[i] = (sv){w->pool.p + w->d[i].voff, w->d[i].vlen};
    }
    *out = r;
    return 0;
}
