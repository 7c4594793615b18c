/* source_ndjson.c - newline-delimited input from a file or stdin.
 *
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
#include <unistd.h>

#include "modus/modus.h"
#include "../util/limits.h"

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
};

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
    *out = s;
    return MODUS_OK;
}

void modus_source_close(modus_source *s)
{
    if (!s) return;
    if (s->own_fd) close(s->fd);
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

modus_status modus_source_next(modus_source *s, const char **line, size_t *len, modus_diag *diag)
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
