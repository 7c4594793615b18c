/* input.c - every event of every input file, with bad input reported (file,
 * line, column, byte offset; at most CLI_MAX_REPORTED per file), counted and
 * skipped. Shared by the subcommands that read telemetry. */
#include <string.h>

#include "common.h"

int cli_each_event(modus_scanner *sc, const char *path, const cli_input_opts *o, cli_counts *n,
                   cli_event_fn fn, void *ctx)
{
    modus_source *src;
    modus_diag d = {0};
    modus_source_opts so = {.max_line = o->max_line};
    if (modus_source_open(path, &so, &src, &d) != MODUS_OK) {
        cli_diag(NULL, &d);
        n->files_failed++;
        return 0;
    }
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    unsigned reported = 0;
    int rc = 0;
    for (;;) {
        const char *line;
        size_t len;
        modus_status s = modus_source_next(src, &line, &len, &d);
        if (s == MODUS_DONE) break;
        if (s != MODUS_OK) {
            if (s == MODUS_ETOOLONG)
                n->too_long++;
            else if (s == MODUS_EPARSE) /* a damaged record or event */
                n->bad_json++;
            else
                n->io_errors++;
            if (!o->quiet && reported++ < CLI_MAX_REPORTED) cli_diag(NULL, &d);
            if (s == MODUS_EIO) break;
            continue;
        }
        uint64_t lineno = d.line, off = d.offset;
        const modus_event *ev;
        if (modus_scanner_decode(sc, line, len, &ev, &d) != MODUS_OK) {
            n->bad_json++;
            if (!o->quiet && reported++ < CLI_MAX_REPORTED) {
                snprintf(d.file, sizeof d.file, "%s", name);
                d.line = lineno;
                d.offset = off + (d.column ? d.column - 1 : 0);
                cli_diag(NULL, &d);
            }
            continue;
        }
        n->events++;
        modus_source_stats ss;
        modus_source_stats_get(src, &ss);
        n->bytes_read = n->bytes_done + ss.bytes;
        if ((rc = fn(ev, name, lineno, ctx)) != 0) break;
    }
    if (reported > CLI_MAX_REPORTED)
        cli_error("%s: %u more errors not shown", name, reported - CLI_MAX_REPORTED);
    modus_source_stats ss;
    modus_source_stats_get(src, &ss);
    n->bytes_done += ss.bytes;
    n->bytes_read = n->bytes_done;
    modus_source_close(src);
    return rc;
}

int cli_each_line(const char *path, const cli_input_opts *o, cli_counts *n, cli_line_fn fn,
                  cli_note_fn note, void *ctx)
{
    modus_source *src;
    modus_diag d = {0};
    modus_source_opts so = {.max_line = o->max_line};
    if (modus_source_open(path, &so, &src, &d) != MODUS_OK) {
        cli_diag(NULL, &d);
        n->files_failed++;
        return 0;
    }
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    int rc = 0;
    for (;;) {
        const char *line;
        size_t len;
        modus_status s = modus_source_next(src, &line, &len, &d);
        if (s == MODUS_DONE) break;
        if (s != MODUS_OK) {
            note(s, &d, ctx); /* counted and reported where it sits in the input */
            if (s == MODUS_EIO) break;
            continue;
        }
        modus_source_stats ss;
        modus_source_stats_get(src, &ss);
        n->bytes_read = n->bytes_done + ss.bytes;
        if ((rc = fn(line, len, name, d.line, d.offset, ctx)) != 0) break;
    }
    modus_source_stats ss;
    modus_source_stats_get(src, &ss);
    n->bytes_done += ss.bytes;
    n->bytes_read = n->bytes_done;
    modus_source_close(src);
    return rc;
}
