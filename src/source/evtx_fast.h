/* evtx_fast.h - the direct EVTX reader (internal); see evtx_fast.c. */
#ifndef MODUS_EVTX_FAST_H
#define MODUS_EVTX_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "../decode/winevt.h"

typedef struct evtx_fast evtx_fast;
/* NULL unless every chunk of the file is intact (magic, CRC32s). */
evtx_fast *evtx_fast_open(const uint8_t *data, size_t size, winxml *wx);
/* 0: *rec filled; 1: done; -1: this record could not be walked (it is the
 * *index-th record, 1-based: ask libevtx). *recno is its EventRecordID. */
int evtx_fast_next(evtx_fast *f, const winrec **rec, uint64_t *recno, uint64_t *index);
void evtx_fast_close(evtx_fast *f);

#endif
