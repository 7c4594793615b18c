/* source.c - one input (file or stdin), whatever its format, as documents.
 *
 * The format is read off the content, not the name: "ElfFile" is EVTX
 * (source_evtx.c, a path is needed), a first '<' or an "<Event" element in
 * the first block is Windows event XML (wevtutil qe /f:xml, evtxexport -f
 * xml, Event Viewer exports, with or without an <Events> wrapper), anything
 * else is NDJSON. EVTX records and XML events are turned into ECS JSON
 * (decode/winxml.c, decode/winmap.c) and handed out like lines, so the
 * scanner downstream sees one kind of document; their errors name the record
 * (EVTX EventRecordID, or the event's ordinal and byte offset in XML).
 *
 * NDJSON:
 * One reusable buffer, grown on demand up to the line cap (limits.h,
 * MODUS_MAX_LINE, or the caller's max_line) plus one read block. Lines are
 * handed out as views into it, always followed by MODUS_PADDING readable
 * bytes, so the JSON parser reads them in place: no copy per line. A line
 * longer than the cap is not buffered: it is reported once (line number, byte
 * offset), skipped to its newline, and reading goes on. Memory is therefore
 * bounded by the cap whatever the input size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modus/modus.h"
#include "../util/limits.h"
#include "../util/buf.h"
#include "../decode/winevt.h"
#include "evtx_fast.h"
#include "source_win.h"

struct modus_source {
    int fd;
    bool eof, own_fd, skipping;
    char name[256];
    char *buf;
    size_t cap;        /* usable bytes (padding is extra) */
    size_t start, end; /* unread data is buf[start, end) */
    size_t scan;       /* where to resume the newline search */
    size_t max_line;
    uint64_t lineno;   /* lines started so far */
    uint64_t file_off; /* file offset of buf[0] */
    uint64_t skip_line, skip_off;
    modus_source_stats st;
    /* Windows event formats */
    enum { K_NDJSON, K_XML, K_EVTX, K_FLAT } kind;
    winflat *wf;
    bool damage_reported;
    evtx_fast *fast; /* intact EVTX files: read directly (evtx_fast.c) */
    void *map;
    size_t map_len;
    uint64_t fast_index;
    char path[4096];
    evtx_reader *evtx;
    winxml *wx;
    winmap *wm;
    buf doc;
    uint64_t events; /* XML events started */
};

static ssize_t fill(modus_source *s);
static modus_status detect(modus_source *s, const char *path, modus_diag *diag);

static void set_diag(modus_diag *d, const modus_source *s, uint64_t line, uint64_t off,
                     const char *msg)
{
    if (!d) return;
    memset(d, 0, sizeof *d);
    snprintf(d->file, sizeof d->file, "%s", s ? s->name : "");
    d->line = line;
    d->column = line ? 1 : 0; /* errors here are about whole lines */
    d->offset = off;
    snprintf(d->message, sizeof d->message, "%s", msg);
}

static modus_status too_long(modus_source *s, modus_diag *diag, uint64_t line, uint64_t off)
{
    s->st.too_long++;
    char msg[160];
    snprintf(msg, sizeof msg, "line longer than the %zu-byte cap (--max-line): skipped",
             s->max_line);
    set_diag(diag, s, line, off, msg);
    return MODUS_ETOOLONG;
}

modus_status modus_source_open(const char *path, const modus_source_opts *opts, modus_source **out,
                               modus_diag *diag)
{
    *out = NULL;
    modus_source *s = calloc(1, sizeof *s);
    if (!s) return MODUS_ENOMEM;
    snprintf(s->name, sizeof s->name, "%s", strcmp(path, "-") ? path : "<stdin>");
    s->max_line = opts && opts->max_line ? opts->max_line : MODUS_MAX_LINE;
    if (!strcmp(path, "-")) {
        s->fd = 0;
    } else {
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
            set_diag(diag, s, 0, 0, msg);
            free(s);
            return MODUS_EIO;
        }
        s->own_fd = true;
    }
    s->cap = MODUS_READ_BLOCK * 2;
    s->buf = malloc(s->cap + MODUS_PADDING);
    if (!s->buf) {
        modus_source_close(s);
        return MODUS_ENOMEM;
    }
    modus_status st = detect(s, path, diag);
    if (st != MODUS_OK) {
        modus_source_close(s);
        return st;
    }
    *out = s;
    return MODUS_OK;
}

static modus_status detect(modus_source *s, const char *path, modus_diag *diag)
{
    ssize_t r = 1;
    while (r > 0 &&
           (s->end - s->start < 4096 || (s->end - s->start < (1u << 20) &&
                                         !memchr(s->buf + s->start, '\n', s->end - s->start))))
        r = fill(s);
    if (r < 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "read error: %s", strerror(errno));
        set_diag(diag, s, 0, 0, msg);
        return MODUS_EIO;
    }
    if (r == 0) s->eof = true;
    const char *b = s->buf + s->start;
    size_t n = s->end - s->start;
    if (n >= 8 && !memcmp(b, "ElfFile", 8)) {
        if (!s->own_fd) {
            set_diag(diag, s, 0, 0, "EVTX on standard input: give the file's path instead");
            return MODUS_EINVAL;
        }
        char msg[240];
        snprintf(s->path, sizeof s->path, "%s", path);
        struct stat sb;
        if (fstat(s->fd, &sb) == 0) s->st.bytes = (uint64_t)sb.st_size;
        s->wx = winxml_new();
        if (!s->wx) return MODUS_ENOMEM;
        if (getenv("MODUS_EVTX_LIBEVTX") == NULL && sb.st_size > 0) {
            void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, s->fd, 0);
            if (m != MAP_FAILED) {
                s->map = m;
                s->map_len = (size_t)sb.st_size;
                s->fast = evtx_fast_open(m, s->map_len, s->wx);
            }
        }
        if (!s->fast && evtx_open(path, &s->evtx, msg, sizeof msg) != 0) {
            set_diag(diag, s, 0, 0, msg);
            return MODUS_EIO;
        }
        s->kind = K_EVTX;
    } else {
        size_t i = 0;
        if (n >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3)) i = 3;
        while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
        if (i < n && (b[i] == '<' || (b[i] != '{' && memmem(b, n, "<Event", 6)))) {
            s->kind = K_XML;
        } else if (i < n && b[i] == '{') {
            /* flat Windows events (a numeric top-level EventID) or unmapped winlogbeat
             * documents (winlog.event_id and no event.category), told by the first line */
            const char *nl = memchr(b + i, '\n', n - i);
            size_t ln = nl ? (size_t)(nl - b) - i : n - i;
            const winrec *rec;
            if ((memmem(b + i, ln, "\"EventID\"", 9) || memmem(b + i, ln, "\"winlog\"", 8)) &&
                (s->wf = winflat_new()) != NULL && winflat_parse(s->wf, b + i, ln, &rec) == 1)
                s->kind = K_FLAT;
            if (s->kind != K_FLAT) { /* ECS documents: no use for it */
                winflat_free(s->wf);
                s->wf = NULL;
            }
        }
    }
    if (s->kind == K_XML && !(s->wx = winxml_new())) return MODUS_ENOMEM; /* EVTX made its own */
    if (s->kind != K_NDJSON && !(s->wm = winmap_new())) return MODUS_ENOMEM;
    return MODUS_OK;
}

void modus_source_close(modus_source *s)
{
    if (!s) return;
    if (s->own_fd) close(s->fd);
    evtx_close(s->evtx);
    evtx_fast_close(s->fast);
    if (s->map) munmap(s->map, s->map_len);
    winxml_free(s->wx);
    winflat_free(s->wf);
    winmap_free(s->wm);
    buf_free(&s->doc);
    free(s->buf);
    free(s);
}

void modus_source_stats_get(const modus_source *s, modus_source_stats *out)
{
    *out = s->st;
}

/* Make room and read one block. Returns bytes read, 0 at EOF, -1 on error. */
static ssize_t fill(modus_source *s)
{
    if (s->start > 0 && (s->start == s->end || s->cap - s->end < MODUS_READ_BLOCK)) {
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->file_off += s->start;
        s->end -= s->start;
        s->scan -= s->start;
        s->start = 0;
    }
    if (s->cap - s->end < MODUS_READ_BLOCK) {
        size_t cap = s->cap * 2;
        char *b = realloc(s->buf, cap + MODUS_PADDING);
        if (!b) return -1;
        s->buf = b;
        s->cap = cap;
    }
    for (;;) {
        ssize_t r = read(s->fd, s->buf + s->end, MODUS_READ_BLOCK);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) {
            s->end += (size_t)r;
            s->st.bytes += (uint64_t)r;
        }
        return r;
    }
}

static modus_status next_evtx(modus_source *s, const char **line, size_t *len, modus_diag *diag);
static modus_status next_xml(modus_source *s, const char **line, size_t *len, modus_diag *diag);

static modus_status next_line(modus_source *s, const char **line, size_t *len, modus_diag *diag);

/* One Windows record as an ECS document in s->doc, handed out like a line. */
static modus_status emit_doc(modus_source *s, const winrec *rec, const char **line, size_t *len)
{
    buf_reset(&s->doc);
    winmap_ecs(s->wm, rec, &s->doc);
    if (!buf_reserve(&s->doc, MODUS_PADDING) || s->doc.oom) return MODUS_ENOMEM;
    memset(s->doc.p + s->doc.n, ' ', MODUS_PADDING);
    *line = s->doc.p;
    *len = s->doc.n;
    return MODUS_OK;
}

modus_status modus_source_next(modus_source *s, const char **line, size_t *len, modus_diag *diag)
{
    if (s->kind == K_EVTX) return next_evtx(s, line, len, diag);
    if (s->kind == K_XML) return next_xml(s, line, len, diag);
    modus_status st = next_line(s, line, len, diag);
    if (st != MODUS_OK || s->kind != K_FLAT) return st;
    /* a flat Windows event becomes ECS; anything else goes on as it is, and
     * the decoder reports what is wrong with it */
    const winrec *rec;
    if (winflat_parse(s->wf, *line, *len, &rec) != 1) return MODUS_OK;
    return emit_doc(s, rec, line, len);
}

static modus_status next_line(modus_source *s, const char **line, size_t *len, modus_diag *diag)
{
    for (;;) {
        char *nl = s->scan < s->end ? memchr(s->buf + s->scan, '\n', s->end - s->scan) : NULL;
        if (s->skipping) {
            if (nl) {
                s->start = s->scan = (size_t)(nl - s->buf) + 1;
                s->skipping = false;
                return too_long(s, diag, s->skip_line, s->skip_off);
            }
            /* drop what we have, keep reading */
            s->file_off += s->end;
            s->start = s->end = s->scan = 0;
        } else if (nl || (s->eof && s->start < s->end)) {
            size_t e = nl ? (size_t)(nl - s->buf) : s->end;
            size_t b = s->start;
            s->start = s->scan = nl ? e + 1 : e;
            s->lineno++;
            s->st.lines++;
            size_t n = e - b;
            if (n && s->buf[b + n - 1] == '\r') n--;
            if (n > s->max_line) {
                return too_long(s, diag, s->lineno, s->file_off + b);
            }
            size_t k = 0;
            while (k < n && (s->buf[b + k] == ' ' || s->buf[b + k] == '\t')) k++;
            if (k == n) continue; /* blank line */
            *line = s->buf + b;
            *len = n;
            if (diag) {
                diag->line = s->lineno;
                diag->offset = s->file_off + b;
            }
            return MODUS_OK;
        } else if (s->eof) {
            return MODUS_DONE;
        } else if (s->end - s->start > s->max_line + 1) { /* +1: a CR before the LF */
            s->lineno++;
            s->st.lines++;
            s->skipping = true;
            s->skip_line = s->lineno;
            s->skip_off = s->file_off + s->start;
            s->file_off += s->end;
            s->start = s->end = s->scan = 0;
        } else {
            s->scan = s->end;
        }
        ssize_t r = fill(s);
        if (r < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "read error: %s", strerror(errno));
            set_diag(diag, s, s->lineno, s->file_off + s->end, msg);
            s->eof = true;
            return MODUS_EIO;
        }
        if (r == 0) {
            s->eof = true;
            if (s->skipping) {
                s->skipping = false;
                return too_long(s, diag, s->skip_line, s->skip_off);
            }
        }
    }
}

/* ---- Windows events ---------------------------------------------------- */

static void rec_diag(modus_diag *d, const modus_source *s, const char *what, uint64_t rec,
                     uint64_t off, bool has_off, const char *msg)
{
    if (!d) return;
    char m[256];
    if (has_off)
        snprintf(m, sizeof m, "%s %llu (byte %llu): %.180s", what, (unsigned long long)rec,
                 (unsigned long long)off, msg);
    else
        snprintf(m, sizeof m, "%s %llu: %.200s", what, (unsigned long long)rec, msg);
    set_diag(d, s, 0, 0, m); /* the offset is in the message, after the record */
}

/* XML text of one event -> s->doc. */
static modus_status to_doc(modus_source *s, const char *xml, size_t n, const char **line,
                           size_t *len, char *msg, size_t msz, size_t *err_off)
{
    const winrec *rec;
    if (winxml_parse(s->wx, xml, n, &rec, msg, msz, err_off) != 0) return MODUS_EPARSE;
    modus_status st = emit_doc(s, rec, line, len);
    if (st != MODUS_OK) snprintf(msg, msz, "out of memory");
    return st;
}

static modus_status next_fast(modus_source *s, const char **line, size_t *len, modus_diag *diag)
{
    const winrec *rec;
    uint64_t recno = 0;
    char msg[240];
    int r = evtx_fast_next(s->fast, &rec, &recno, &s->fast_index);
    if (r > 0) return MODUS_DONE;
    s->st.lines++;
    if (r < 0) { /* a record the direct reader cannot walk: libevtx renders it */
        const char *xml;
        size_t n, err_off;
        if (!s->evtx && evtx_open(s->path, &s->evtx, msg, sizeof msg) != 0) {
            rec_diag(diag, s, "record", recno, 0, false, msg);
            return MODUS_EPARSE;
        }
        if (evtx_record_xml(s->evtx, (int)s->fast_index - 1, &xml, &n, msg, sizeof msg) != 0 ||
            winxml_parse(s->wx, xml, n, &rec, msg, sizeof msg, &err_off) != 0) {
            rec_diag(diag, s, "record", recno, 0, false, msg);
            return MODUS_EPARSE;
        }
    }
    if (emit_doc(s, rec, line, len) != MODUS_OK) return MODUS_ENOMEM;
    if (diag) {
        diag->line = recno;
        diag->offset = 0;
    }
    return MODUS_OK;
}

static modus_status next_evtx(modus_source *s, const char **line, size_t *len, modus_diag *diag)
{
    if (s->fast) return next_fast(s, line, len, diag);
    const char *xml;
    size_t n, err_off;
    uint64_t recno;
    bool recovered;
    char msg[240];
    int r = evtx_next(s->evtx, &xml, &n, &recno, &recovered, msg, sizeof msg);
    if (r > 0) {
        if (evtx_corrupted(s->evtx) && !s->damage_reported) {
            /* libevtx skips chunks it cannot read whole (a truncated copy, a
             * damaged chunk): what they held is lost, say so once */
            s->damage_reported = true;
            uint64_t frag, dup;
            evtx_counts(s->evtx, &frag, &dup);
            snprintf(msg, sizeof msg,
                     "damaged or truncated EVTX file: %llu records read, records in unreadable "
                     "chunks are lost",
                     (unsigned long long)s->st.lines);
            set_diag(diag, s, 0, 0, msg);
            return MODUS_EPARSE;
        }
        return MODUS_DONE;
    }
    s->st.lines++;
    const char *what = recovered ? "recovered record" : "record";
    if (r < 0) {
        rec_diag(diag, s, what, recno, 0, false, msg);
        return MODUS_EPARSE;
    }
    modus_status st = to_doc(s, xml, n, line, len, msg, sizeof msg, &err_off);
    if (st != MODUS_OK) {
        rec_diag(diag, s, what, recno, 0, false, msg);
        return st;
    }
    if (diag) {
        diag->line = recno;
        diag->offset = 0;
    }
    return MODUS_OK;
}

/* "<Event" followed by a name end, in [from, end) */
static const char *find_event_start(const char *p, const char *end)
{
    while ((p = memmem(p, (size_t)(end - p), "<Event", 6)) != NULL) {
        if (p + 6 >= end) return NULL; /* need the next byte */
        char c = p[6];
        if (c == ' ' || c == '>' || c == '\t' || c == '\r' || c == '\n') return p;
        p += 6;
    }
    return NULL;
}

static modus_status next_xml(modus_source *s, const char **line, size_t *len, modus_diag *diag)
{
    for (;;) {
        const char *b = s->buf + s->start, *e = s->buf + s->end;
        const char *ev = find_event_start(b, e);
        if (ev) {
            const char *from =
                s->buf + (s->scan > (size_t)(ev - s->buf) ? s->scan : (size_t)(ev - s->buf));
            const char *close = memmem(from, (size_t)(e - from), "</Event>", 8);
            if (close) {
                size_t evoff = (size_t)(ev - s->buf), n = (size_t)(close + 8 - ev);
                uint64_t at = s->file_off + evoff;
                s->start = s->scan = evoff + n;
                s->events++;
                s->st.lines++;
                if (n > s->max_line) {
                    s->st.too_long++;
                    rec_diag(diag, s, "event", s->events, at, true,
                             "event longer than the cap (--max-line): skipped");
                    return MODUS_ETOOLONG;
                }
                char msg[200];
                size_t err_off = 0;
                modus_status st =
                    to_doc(s, s->buf + evoff, n, line, len, msg, sizeof msg, &err_off);
                if (st != MODUS_OK) {
                    rec_diag(diag, s, "event", s->events, at + err_off, true, msg);
                    return st;
                }
                if (diag) {
                    diag->line = s->events;
                    diag->offset = at;
                }
                return MODUS_OK;
            }
            /* keep the event's start, look for its end further on */
            s->start = (size_t)(ev - s->buf);
            s->scan = s->end >= 7 ? s->end - 7 : 0;
            if (s->scan < s->start) s->scan = s->start;
            if (s->end - s->start > s->max_line + 8) { /* no end within the cap */
                s->events++;
                s->st.lines++;
                s->st.too_long++;
                uint64_t at = s->file_off + s->start;
                s->start += 6;
                s->scan = s->start;
                rec_diag(diag, s, "event", s->events, at, true,
                         "event longer than the cap (--max-line): skipped");
                return MODUS_ETOOLONG;
            }
        } else {
            /* nothing to keep but a possible partial "<Event" at the end */
            size_t keep = s->end - s->start < 6 ? s->end - s->start : 6;
            s->start = s->end - keep;
            s->scan = s->start;
        }
        if (s->eof) {
            if (ev) { /* an event that never ends */
                s->events++;
                s->st.lines++;
                uint64_t at = s->file_off + s->start;
                s->start = s->end;
                rec_diag(diag, s, "event", s->events, at, true,
                         "truncated: input ends inside the event");
                return MODUS_EPARSE;
            }
            return MODUS_DONE;
        }
        ssize_t r = fill(s);
        if (r < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "read error: %s", strerror(errno));
            set_diag(diag, s, 0, s->file_off + s->end, msg);
            s->eof = true;
            return MODUS_EIO;
        }
        if (r == 0) s->eof = true;
    }
}
