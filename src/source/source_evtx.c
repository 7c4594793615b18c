/* source_evtx.c - records of an EVTX file, as XML, through libevtx.
 *
 * libevtx walks the file's chunks and renders each record's binary XML with
 * its templates. A damaged chunk costs only its own records: the file is
 * opened even when flagged corrupted, each record that cannot be read or
 * rendered is reported by index and skipped, and the records libevtx
 * recovers from slack and damaged chunks are read after the regular ones.
 */
#include <libevtx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_win.h"

struct evtx_reader {
    libevtx_file_t *file;
    int n, nrec, i, irec; /* regular and recovered records, next indexes */
    uint8_t *xml;
    size_t cap;
    bool corrupted;
    uint64_t *ids; /* EventRecordIDs of the regular records, sorted */
    size_t nids, idcap;
    uint64_t fragments, duplicates;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void evtx_counts(const evtx_reader *r, uint64_t *fragments, uint64_t *duplicates)
{
    *fragments = r->fragments;
    *duplicates = r->duplicates;
}

static void err_text(libevtx_error_t *e, char *msg, size_t msz, const char *what)
{
    char detail[160] = "";
    if (e) {
        libevtx_error_sprint(e, detail, sizeof detail);
        libevtx_error_free(&e);
        /* libevtx stacks messages one per line: keep the first, innermost last */
        char *nl = strchr(detail, '\n');
        if (nl) *nl = 0;
    }
    snprintf(msg, msz, "%s%s%s", what, *detail ? ": " : "", detail);
}

int evtx_open(const char *path, evtx_reader **out, char *msg, size_t msz)
{
    libevtx_error_t *e = NULL;
    evtx_reader *r = calloc(1, sizeof *r);
    if (!r) return -1;
    if (libevtx_file_initialize(&r->file, &e) != 1) {
        err_text(e, msg, msz, "cannot initialise libevtx");
        free(r);
        return -1;
    }
    int opened = libevtx_file_open(r->file, path, LIBEVTX_OPEN_READ, &e);
    if (opened != 1) { /* libevtx refuses some relative names ("../x.evtx") */
        char *real = realpath(path, NULL);
        if (real) {
            libevtx_error_free(&e);
            opened = libevtx_file_open(r->file, real, LIBEVTX_OPEN_READ, &e);
            free(real);
        }
    }
    if (opened != 1) {
        err_text(e, msg, msz, "not a readable EVTX file");
        libevtx_file_free(&r->file, NULL);
        free(r);
        return -1;
    }
    r->corrupted = libevtx_file_is_corrupted(r->file, NULL) == 1;
    if (libevtx_file_get_number_of_records(r->file, &r->n, NULL) != 1) r->n = 0;
    if (libevtx_file_get_number_of_recovered_records(r->file, &r->nrec, NULL) != 1) r->nrec = 0;
    *out = r;
    return 0;
}

bool evtx_corrupted(const evtx_reader *r)
{
    return r->corrupted;
}

void evtx_close(evtx_reader *r)
{
    if (!r) return;
    libevtx_file_close(r->file, NULL);
    libevtx_file_free(&r->file, NULL);
    free(r->xml);
    free(r->ids);
    free(r);
}

/* The record's XML into r->xml; frees rec either way. */
static int render(evtx_reader *r, libevtx_record_t *rec, const char **xml, size_t *len, char *msg,
                  size_t msz)
{
    libevtx_error_t *e = NULL;
    size_t n = 0;
    int ok = libevtx_record_get_utf8_xml_string_size(rec, &n, &e) == 1 && n > 0;
    if (ok && n > r->cap) {
        uint8_t *p = realloc(r->xml, n);
        if (!p) {
            libevtx_record_free(&rec, NULL);
            snprintf(msg, msz, "out of memory");
            return -1;
        }
        r->xml = p;
        r->cap = n;
    }
    ok = ok && libevtx_record_get_utf8_xml_string(rec, r->xml, n, &e) == 1;
    libevtx_record_free(&rec, NULL);
    if (!ok) {
        err_text(e, msg, msz, "record cannot be rendered as XML");
        return -1;
    }
    *xml = (const char *)r->xml;
    *len = strnlen((const char *)r->xml, n);
    return 0;
}

int evtx_record_xml(evtx_reader *r, int index, const char **xml, size_t *len, char *msg, size_t msz)
{
    libevtx_record_t *rec = NULL;
    libevtx_error_t *e = NULL;
    if (libevtx_file_get_record_by_index(r->file, index, &rec, &e) != 1) {
        err_text(e, msg, msz, "unreadable record");
        return -1;
    }
    return render(r, rec, xml, len, msg, msz);
}

/* Recovered records are read from slack space and damaged chunks: most are
 * stale copies of live records (same EventRecordID, skipped) or fragments
 * that no longer parse (counted, not reported: slack is not damage). */
int evtx_next(evtx_reader *r, const char **xml, size_t *len, uint64_t *recno, bool *recovered,
              char *msg, size_t msz)
{
    libevtx_record_t *rec = NULL;
    libevtx_error_t *e = NULL;
    uint64_t id = 0;
    for (;;) {
        int got;
        if (r->i < r->n) {
            *recovered = false;
            *recno = (uint64_t)r->i + 1;
            got = libevtx_file_get_record_by_index(r->file, r->i++, &rec, &e);
        } else if (r->irec < r->nrec) {
            if (r->irec == 0 && r->nids) qsort(r->ids, r->nids, sizeof *r->ids, cmp_u64);
            *recovered = true;
            *recno = (uint64_t)r->irec + 1;
            got = libevtx_file_get_recovered_record_by_index(r->file, r->irec++, &rec, &e);
            if (got != 1) {
                libevtx_error_free(&e);
                r->fragments++;
                continue;
            }
        } else {
            return 1; /* done */
        }
        if (got != 1) {
            err_text(e, msg, msz, "unreadable record");
            return -1;
        }
        id = 0;
        if (libevtx_record_get_identifier(rec, &id, NULL) == 1 && id) *recno = id;
        if (!*recovered) {
            if (r->nids == r->idcap) {
                size_t cap = r->idcap ? r->idcap * 2 : 256;
                uint64_t *p = realloc(r->ids, cap * sizeof *p);
                if (p) {
                    r->ids = p;
                    r->idcap = cap;
                }
            }
            if (r->nids < r->idcap) r->ids[r->nids++] = id;
            break;
        }
        if (id && r->nids && bsearch(&id, r->ids, r->nids, sizeof id, cmp_u64)) {
            r->duplicates++;
            libevtx_record_free(&rec, NULL);
            continue;
        }
        break;
    }
    return render(r, rec, xml, len, msg, msz);
}
