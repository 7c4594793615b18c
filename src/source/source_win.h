/* source_win.h - the EVTX reader behind modus_source (internal). */
#ifndef MODUS_SOURCE_WIN_H
#define MODUS_SOURCE_WIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct evtx_reader evtx_reader;
int evtx_open(const char *path, evtx_reader **out, char *msg, size_t msz);
bool evtx_corrupted(const evtx_reader *r);
/* 0: one record's XML (valid until the next call); 1: done; -1: this record
 * is unreadable (msg says why), the next call goes on. *recno is the
 * record's EventRecordID where readable, else its index. */
int evtx_next(evtx_reader *r, const char **xml, size_t *len, uint64_t *recno, bool *recovered,
              char *msg, size_t msz);
void evtx_close(evtx_reader *r);
/* The XML of regular record `index` (0-based), for the direct reader's
 * fallback. 0, or -1 with msg. */
int evtx_record_xml(evtx_reader *r, int index, const char **xml, size_t *len, char *msg,
                    size_t msz);
/* recovered fragments that did not parse; recovered copies of live records */
void evtx_counts(const evtx_reader *r, uint64_t *fragments, uint64_t *duplicates);

#endif
