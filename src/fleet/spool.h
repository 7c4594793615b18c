/* spool.h - a bounded on-disk log of messages waiting for the broker
 * (fleet_spool.c explains the format). Not thread-safe: the publisher
 * serialises calls under its lock. */
#ifndef MODUS_FLEET_SPOOL_H
#define MODUS_FLEET_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "modus/modus.h"
#include "../util/sv.h"

typedef struct spool spool;

/* One record; the views point into the spool's read buffer and are valid
 * until the next spool call. */
typedef struct spool_rec {
    uint64_t seq;
    uint8_t kind, flags;
    sv subject, id, data;
} spool_rec;

/* Where a record ends: handed back to spool_ack once it is acknowledged. */
typedef struct spool_pos {
    uint64_t seg; /* the segment's first sequence number (its name) */
    uint64_t off; /* byte offset after the record */
    uint64_t seq; /* the sequence number after the record */
} spool_pos;

typedef struct spool_info {
    uint64_t resumed; /* records a previous run left unacknowledged */
    uint64_t damaged; /* records lost to damage (a torn write, a bad checksum) */
    uint64_t segments;
} spool_info;

/* Records dropped to make room: sequence numbers [first, end). */
typedef struct spool_drop {
    uint64_t first, end, records;
} spool_drop;

/* Opens (creating it 0700) or resumes the spool in dir, bounded to cap
 * bytes. Damaged records found while resuming are counted and skipped. */
modus_status spool_open(const char *dir, uint64_t cap, spool **out, spool_info *info,
                        modus_diag *d);
/* Persists the acknowledged position and closes. NULL-safe. */
void spool_close(spool *s);

/* Appends one record (buffered). When the spool would exceed its bound the
 * oldest segments go first; *drop says which records went (records: how
 * many of them were not yet acknowledged). A record larger than the whole
 * bound is itself dropped (MODUS_ETOOLONG). */
modus_status spool_append(spool *s, uint8_t kind, uint8_t flags, sv subject, sv id, sv data,
                          uint64_t *seq, spool_drop *drop);
/* Writes the buffered records (they become readable). */
modus_status spool_flush(spool *s);
/* Bytes buffered and not yet written. */
uint64_t spool_pending(const spool *s);
/* Records lost so far because a write failed (a full disk). */
uint64_t spool_lost(const spool *s);

/* The next written record at the read cursor: 1, with *end its end
 * position; 0 when there is none yet; -1 on damage (the rest of that
 * segment is skipped and counted in *damaged). */
int spool_next(spool *s, spool_rec *r, spool_pos *end, uint64_t *damaged);
/* Moves the read cursor back to the oldest unacknowledged record. */
void spool_rewind(spool *s);
/* Every record before `end` is acknowledged: whole segments before it are
 * deleted; the position is persisted by spool_sync (or close). */
void spool_ack(spool *s, const spool_pos *end);
void spool_sync(spool *s);

uint64_t spool_bytes(const spool *s);     /* on disk and buffered */
uint64_t spool_floor_seq(const spool *s); /* the oldest unacknowledged record's number */
uint64_t spool_read_seq(const spool *s);  /* the record the read cursor is at */
uint64_t spool_next_seq(const spool *s);  /* the number the next append gets */

#endif
