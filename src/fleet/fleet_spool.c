/* fleet_spool.c - the publisher's bounded on-disk spool.
 *
 * Every document a sensor publishes is appended here first and sent from
 * here (fleet_pub.c): one ordered path whether the broker is up or not, and
 * a sensor killed at any moment leaves on disk everything not yet
 * acknowledged, which the next run sends again.
 *
 * Layout of DIR (0700; every file 0600):
 *   <16 hex>.seg  segments, named by the sequence number of their first
 *                 record; records are appended, never rewritten
 *   cursor        where the oldest unacknowledged record is (segment,
 *                 offset, sequence number), with a checksum
 * A record: a 32-byte header (magic "MSR1", total length, sequence number,
 * CRC-32 of everything after the CRC field, kind, flags, subject, id and
 * data lengths), then the subject, the id and the data. Sequence numbers
 * increase by one per record, across segments and runs.
 *
 * Invariants:
 *   - floor <= read cursor <= written end; records before the floor are
 *     acknowledged and segments wholly before it are deleted;
 *   - bytes on disk + bytes buffered <= cap: an append that would exceed it
 *     first deletes the oldest segments (their unacknowledged records are
 *     reported as dropped), so the newest data is kept;
 *   - a segment is at most cap/16 bytes (64 KiB..16 MiB): dropping the
 *     oldest costs at most a sixteenth of the spool;
 *   - only segments created by this run are appended to; a resumed
 *     segment's torn tail (a crash mid-write) is detected by the header
 *     checks and the CRC, counted and skipped.
 *
 * Cost: one buffered write per 64 KiB of records, one pread per 256 KiB
 * read back (straight from the page cache: a segment is normally deleted
 * seconds after it was written, before writeback). No fsync: a killed
 * process loses nothing written, a power cut can lose what the kernel had
 * not yet written back (the broker's acknowledged copies are not at risk).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "spool.h"

#define REC_MAGIC 0x3152534du /* "MSR1" */
#define CUR_MAGIC 0x3143534du /* "MSC1" */
#define HDR       32
#define WBUF      (64u << 10)
#define RBUF      (256u << 10)

typedef struct seg {
    uint64_t first; /* sequence number of its first record (its name) */
    uint64_t end;   /* the sequence number after its last record */
    uint64_t len;   /* bytes written (and valid) */
} seg;

struct spool {
    int dirfd;
    char dir[4096];
    uint64_t cap, seg_size;
    seg *segs;
    size_t nsegs, segcap;
    /* writing: the last segment, when this run created it */
    int wfd;
    bool wseg_open;
    char *wbuf;
    size_t wn;
    uint64_t wfirst; /* sequence number of the first buffered record */
    uint64_t lost;   /* records lost to failed writes (disk full) */
    uint64_t next_seq;
    /* reading */
    size_t rseg;
    uint64_t roff, rseq;
    int rfd;
    uint64_t rfd_seg; /* which segment rfd is open on */
    char *rbuf;
    size_t rcap, rn;
    uint64_t rb_seg, rb_off; /* rbuf holds bytes [rb_off, rb_off + rn) of segment rb_seg */
    /* acknowledged */
    size_t fseg;
    uint64_t foff, fseq;
    bool dirty;
    int cfd;
};

static void put32(char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static uint32_t get32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint16_t get16(const char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void seg_name(char out[32], uint64_t first)
{
    snprintf(out, 32, "%016llx.seg", (unsigned long long)first);
}

static bool segs_push(spool *s, seg g)
{
    if (s->nsegs == s->segcap) {
        size_t nc = s->segcap ? 2 * s->segcap : 16;
        seg *n = realloc(s->segs, nc * sizeof *n);
        if (!n) return false;
        s->segs = n;
        s->segcap = nc;
    }
    s->segs[s->nsegs++] = g;
    return true;
}

static void close_rfd(spool *s)
{
    if (s->rfd >= 0) close(s->rfd);
    s->rfd = -1;
    s->rn = 0;
}

/* Removes segment 0 (the oldest) from disk and the list. */
static void seg_delete_first(spool *s)
{
    char name[32];
    seg_name(name, s->segs[0].first);
    unlinkat(s->dirfd, name, 0);
    if (s->rfd >= 0 && s->rfd_seg == s->segs[0].first) close_rfd(s);
    if (s->rb_seg == s->segs[0].first) s->rn = 0;
    if (s->wseg_open && s->nsegs == 1) {
        close(s->wfd);
        s->wfd = -1;
        s->wseg_open = false;
    }
    memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof *s->segs);
    s->nsegs--;
    /* a cursor in the deleted segment moves to the start of the next one */
    uint64_t next = s->nsegs ? s->segs[0].first : s->next_seq;
    if (s->rseg) {
        s->rseg--;
    } else {
        s->roff = 0;
        s->rseq = next;
    }
    if (s->fseg) {
        s->fseg--;
    } else {
        s->foff = 0;
        s->fseq = next;
    }
}

/* Makes sure bytes [off, off + n) of segment i are in rbuf. */
static bool fill(spool *s, size_t i, uint64_t off, size_t n)
{
    seg *g = &s->segs[i];
    if (s->rb_seg == g->first && s->rn && off >= s->rb_off && off + n <= s->rb_off + s->rn)
        return true;
    if (off + n > g->len) return false;
    if (s->rfd < 0 || s->rfd_seg != g->first) {
        close_rfd(s);
        char name[32];
        seg_name(name, g->first);
        s->rfd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (s->rfd < 0) return false;
        s->rfd_seg = g->first;
    }
    size_t want = n > RBUF ? n : RBUF;
    if (want > g->len - off) want = (size_t)(g->len - off);
    if (want > s->rcap) {
        char *nb = realloc(s->rbuf, want);
        if (!nb) return false;
        s->rbuf = nb;
        s->rcap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(s->rfd, s->rbuf + got, want - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    s->rb_seg = g->first;
    s->rb_off = off;
    s->rn = got;
    return got >= n;
}

/* Parses the record at `off` of segment i; its total length, or 0 when
 * the bytes there are not a whole valid record. */
static uint64_t parse_at(spool *s, size_t i, uint64_t off, spool_rec *r)
{
    if (!fill(s, i, off, HDR)) return 0;
    const char *h = s->rbuf + (off - s->rb_off);
    uint32_t total = get32(h + 4);
    uint16_t sl = get16(h + 22), il = get16(h + 24);
    uint32_t dl = get32(h + 28);
    if (get32(h) != REC_MAGIC || (uint64_t)total != (uint64_t)HDR + sl + il + dl) return 0;
    if (!fill(s, i, off, total)) return 0;
    h = s->rbuf + (off - s->rb_off);
    if ((uint32_t)crc32(0, (const Bytef *)h + 20, total - 20) != get32(h + 16)) return 0;
    r->seq = get64(h + 8);
    r->kind = (uint8_t)h[20];
    r->flags = (uint8_t)h[21];
    r->subject = sv_make(h + HDR, sl);
    r->id = sv_make(h + HDR + sl, il);
    r->data = sv_make(h + HDR + sl + il, dl);
    return total;
}

static void write_cursor(spool *s)
{
    char c[32];
    uint64_t segf = s->fseg < s->nsegs ? s->segs[s->fseg].first : s->fseq;
    put32(c, CUR_MAGIC);
    put64(c + 8, segf);
    put64(c + 16, s->foff);
    put64(c + 24, s->fseq);
    put32(c + 4, (uint32_t)crc32(0, (const Bytef *)c + 8, 24));
    if (s->cfd >= 0 && pwrite(s->cfd, c, sizeof c, 0) == (ssize_t)sizeof c) s->dirty = false;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Reads what a previous run left: every segment checked record by record. */
static modus_status resume(spool *s, spool_info *info)
{
    /* the cursor first: while scanning its segment, records from its
     * offset on are the ones still to send */
    uint64_t cseg = 0, coff = 0, cseq = 0;
    bool have_cursor = false;
    char c[32];
    if (pread(s->cfd, c, sizeof c, 0) == (ssize_t)sizeof c && get32(c) == CUR_MAGIC &&
        get32(c + 4) == (uint32_t)crc32(0, (const Bytef *)c + 8, 24)) {
        cseg = get64(c + 8);
        coff = get64(c + 16);
        cseq = get64(c + 24);
        have_cursor = true;
    }
    DIR *d = fdopendir(dup(s->dirfd));
    if (!d) return MODUS_EIO;
    uint64_t *names = NULL;
    size_t nn = 0, nc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        if (strlen(n) != 20 || strcmp(n + 16, ".seg")) continue;
        char *end;
        unsigned long long v = strtoull(n, &end, 16);
        if (end != n + 16) continue;
        if (nn == nc) {
            nc = nc ? 2 * nc : 16;
            uint64_t *nb = realloc(names, nc * sizeof *nb);
            if (!nb) {
                free(names);
                closedir(d);
                return MODUS_ENOMEM;
            }
            names = nb;
        }
        names[nn++] = v;
    }
    closedir(d);
    if (nn) qsort(names, nn, sizeof *names, cmp_u64);
    uint64_t last = 0;
    bool floor_set = false;
    for (size_t k = 0; k < nn; k++) {
        char name[32];
        seg_name(name, names[k]);
        struct stat st;
        if (fstatat(s->dirfd, name, &st, 0) != 0) continue;
        if (have_cursor && names[k] < cseg) { /* wholly acknowledged */
            unlinkat(s->dirfd, name, 0);
            continue;
        }
        if (!segs_push(s, (seg){names[k], names[k], (uint64_t)st.st_size})) {
            free(names);
            return MODUS_ENOMEM;
        }
        size_t i = s->nsegs - 1;
        uint64_t off = 0, expect = names[k];
        bool is_floor = have_cursor && names[k] == cseg;
        spool_rec r;
        while (off < s->segs[i].len) {
            uint64_t tl = parse_at(s, i, off, &r);
            if (!tl || r.seq != expect) {
                info->damaged++;
                break;
            }
            if (!is_floor || off >= coff) info->resumed++;
            if (is_floor && off == coff) {
                floor_set = true;
                s->fseg = i;
                s->foff = off;
                s->fseq = r.seq;
            }
            off += tl;
            expect++;
        }
        s->segs[i].len = off;
        s->segs[i].end = expect;
        if (is_floor && !floor_set && off == coff && coff) { /* acknowledged up to its end */
            floor_set = true;
            s->fseg = i;
            s->foff = off;
            s->fseq = expect;
        }
        if (off == 0) { /* nothing valid in it */
            unlinkat(s->dirfd, name, 0);
            s->nsegs--;
            continue;
        }
        if (expect > last) last = expect;
    }
    free(names);
    close_rfd(s);
    if (!floor_set) {
        /* no cursor, or it points nowhere: everything left is unacknowledged */
        s->fseg = 0;
        s->foff = 0;
        s->fseq = s->nsegs ? s->segs[0].first : 0;
        if (have_cursor && s->nsegs) {
            info->resumed = 0;
            for (size_t i = 0; i < s->nsegs; i++)
                info->resumed += s->segs[i].end - s->segs[i].first;
        }
    }
    s->next_seq = last > cseq ? last : cseq;
    if (s->next_seq == 0) s->next_seq = 1;
    if (!s->nsegs) s->fseq = s->next_seq;
    s->rseg = s->fseg;
    s->roff = s->foff;
    s->rseq = s->fseq;
    info->segments = s->nsegs;
    return MODUS_OK;
}

modus_status spool_open(const char *dir, uint64_t cap, spool **out, spool_info *info, modus_diag *d)
{
    *out = NULL;
    memset(info, 0, sizeof *info);
    spool *s = calloc(1, sizeof *s);
    if (!s) return MODUS_ENOMEM;
    s->wfd = s->rfd = s->cfd = s->dirfd = -1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->cap = cap < (256u << 10) ? (256u << 10) : cap;
    s->seg_size = s->cap / 16;
    if (s->seg_size < (64u << 10)) s->seg_size = 64u << 10;
    if (s->seg_size > (16u << 20)) s->seg_size = 16u << 20;
    s->rb_seg = UINT64_MAX;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) goto io;
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) goto io;
    s->cfd = openat(s->dirfd, "cursor", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->cfd < 0) goto io;
    if (!(s->wbuf = malloc(WBUF))) {
        spool_close(s);
        return MODUS_ENOMEM;
    }
    modus_status st = resume(s, info);
    if (st != MODUS_OK) {
        spool_close(s);
        return st;
    }
    write_cursor(s);
    *out = s;
    return MODUS_OK;
io:
    if (d) {
        memset(d, 0, sizeof *d);
        snprintf(d->file, sizeof d->file, "%s", dir);
        snprintf(d->message, sizeof d->message, "spool: %s", strerror(errno));
    }
    spool_close(s);
    return MODUS_EIO;
}

void spool_close(spool *s)
{
    if (!s) return;
    if (s->wbuf && s->wn) spool_flush(s);
    /* everything acknowledged: nothing needs keeping */
    if (s->dirfd >= 0 && s->fseq == s->next_seq) {
        if (s->wseg_open) {
            close(s->wfd);
            s->wfd = -1;
            s->wseg_open = false;
        }
        while (s->nsegs) seg_delete_first(s);
        s->fseq = s->next_seq;
    }
    if (s->cfd >= 0) {
        write_cursor(s);
        close(s->cfd);
    }
    if (s->wfd >= 0) close(s->wfd);
    close_rfd(s);
    if (s->dirfd >= 0) close(s->dirfd);
    free(s->segs);
    free(s->wbuf);
    free(s->rbuf);
    free(s);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

modus_status spool_flush(spool *s)
{
    if (!s->wn) return MODUS_OK;
    seg *g = &s->segs[s->nsegs - 1];
    bool ok = write_all(s->wfd, s->wbuf, s->wn);
    if (ok) {
        g->len += s->wn;
    } else {
        s->lost += g->end - s->wfirst;
        g->end = s->wfirst;
    }
    /* a failed write (disk full) loses the buffered records: the segment
     * ends where the file was valid, the caller counts them dropped */
    if (!ok && ftruncate(s->wfd, (off_t)g->len) != 0) {
        close(s->wfd);
        s->wfd = -1;
        s->wseg_open = false;
    }
    s->wn = 0;
    return ok ? MODUS_OK : MODUS_EIO;
}

uint64_t spool_pending(const spool *s)
{
    return s->wn;
}

uint64_t spool_lost(const spool *s)
{
    return s->lost;
}

uint64_t spool_bytes(const spool *s)
{
    uint64_t n = s->wn;
    for (size_t i = 0; i < s->nsegs; i++) n += s->segs[i].len;
    return n;
}

/* Drops the oldest segment to make room; counts its unacknowledged records. */
static void drop_oldest(spool *s, spool_drop *drop)
{
    if (s->wseg_open && s->nsegs == 1) { /* the one being written: close it first */
        spool_flush(s);
        close(s->wfd);
        s->wfd = -1;
        s->wseg_open = false;
    }
    seg g = s->segs[0];
    uint64_t from = s->fseq > g.first ? s->fseq : g.first;
    if (g.end > from) {
        if (!drop->records) drop->first = from;
        drop->records += g.end - from;
        drop->end = g.end;
    }
    bool floor_here = s->fseg == 0, read_here = s->rseg == 0;
    seg_delete_first(s);
    uint64_t next = s->nsegs ? s->segs[0].first : s->next_seq;
    if (floor_here || s->fseq < next) {
        s->fseg = 0;
        s->foff = 0;
        s->fseq = next;
        s->dirty = true;
    }
    if (read_here || s->rseq < next) {
        s->rseg = 0;
        s->roff = 0;
        s->rseq = next;
    }
}

modus_status spool_append(spool *s, uint8_t kind, uint8_t flags, sv subject, sv id, sv data,
                          uint64_t *seq, spool_drop *drop)
{
    memset(drop, 0, sizeof *drop);
    if (subject.n > 0xffff || id.n > 0xffff || data.n > 0xffffffffu - 1024) return MODUS_EINVAL;
    uint64_t total = HDR + subject.n + id.n + data.n;
    if (total > s->cap / 2) { /* would not fit beside anything else: drop it */
        drop->first = s->next_seq;
        drop->end = ++s->next_seq;
        drop->records = 1;
        return MODUS_ETOOLONG;
    }
    while (s->nsegs && spool_bytes(s) + total > s->cap) drop_oldest(s, drop);
    /* a new segment when there is none open or this one is full */
    seg *g = s->wseg_open ? &s->segs[s->nsegs - 1] : NULL;
    if (g && g->len + s->wn + total > s->seg_size) {
        if (spool_flush(s) != MODUS_OK) return MODUS_EIO;
        close(s->wfd);
        s->wfd = -1;
        s->wseg_open = false;
        g = NULL;
    }
    if (!g) {
        char name[32];
        seg_name(name, s->next_seq);
        int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return MODUS_EIO;
        if (!segs_push(s, (seg){s->next_seq, s->next_seq, 0})) {
            close(fd);
            unlinkat(s->dirfd, name, 0);
            return MODUS_ENOMEM;
        }
        s->wfd = fd;
        s->wseg_open = true;
        g = &s->segs[s->nsegs - 1];
        if (s->nsegs == 1) { /* the spool was empty: cursors start here */
            s->fseg = s->rseg = 0;
            s->foff = s->roff = 0;
            s->fseq = s->rseq = s->next_seq;
        }
    }
    if (s->wn + total > WBUF && spool_flush(s) != MODUS_OK) return MODUS_EIO;
    char h[HDR];
    memset(h, 0, sizeof h);
    put32(h, REC_MAGIC);
    put32(h + 4, (uint32_t)total);
    put64(h + 8, s->next_seq);
    h[20] = (char)kind;
    h[21] = (char)flags;
    uint16_t sl = (uint16_t)subject.n, il = (uint16_t)id.n;
    memcpy(h + 22, &sl, 2);
    memcpy(h + 24, &il, 2);
    put32(h + 28, (uint32_t)data.n);
    uLong crc = crc32(0, (const Bytef *)h + 20, HDR - 20);
    crc = crc32(crc, (const Bytef *)subject.p, (uInt)subject.n);
    crc = crc32(crc, (const Bytef *)id.p, (uInt)id.n);
    crc = crc32(crc, (const Bytef *)data.p, (uInt)data.n);
    put32(h + 16, (uint32_t)crc);
    if (total > WBUF) { /* a large record goes straight to the file */
        if (spool_flush(s) != MODUS_OK) return MODUS_EIO;
        bool ok = write_all(s->wfd, h, HDR) && write_all(s->wfd, subject.p, subject.n) &&
                  write_all(s->wfd, id.p, id.n) && write_all(s->wfd, data.p, data.n);
        if (!ok) {
            if (ftruncate(s->wfd, (off_t)g->len) != 0) s->wseg_open = false;
            return MODUS_EIO;
        }
        g->len += total;
    } else {
        if (!s->wn) s->wfirst = s->next_seq;
        memcpy(s->wbuf + s->wn, h, HDR);
        memcpy(s->wbuf + s->wn + HDR, subject.p, subject.n);
        memcpy(s->wbuf + s->wn + HDR + subject.n, id.p, id.n);
        memcpy(s->wbuf + s->wn + HDR + subject.n + id.n, data.p, data.n);
        s->wn += total;
    }
    *seq = s->next_seq++;
    g->end = s->next_seq;
    return MODUS_OK;
}

int spool_next(spool *s, spool_rec *r, spool_pos *end, uint64_t *damaged)
{
    for (;;) {
        if (s->rseg >= s->nsegs) return 0;
        seg *g = &s->segs[s->rseg];
        if (s->roff >= g->len) {
            if (s->rseg + 1 >= s->nsegs) return 0; /* the newest: more may come */
            s->rseg++;
            s->roff = 0;
            s->rseq = s->segs[s->rseg].first;
            continue;
        }
        uint64_t tl = parse_at(s, s->rseg, s->roff, r);
        if (!tl || r->seq != s->rseq) {
            /* damaged (a disk error under a segment of this run): the rest
             * of the segment is lost */
            if (damaged) *damaged += g->end > s->rseq ? g->end - s->rseq : 1;
            s->roff = g->len;
            s->rseq = g->end;
            return -1;
        }
        s->roff += tl;
        s->rseq++;
        end->seg = g->first;
        end->off = s->roff;
        end->seq = s->rseq;
        return 1;
    }
}

void spool_rewind(spool *s)
{
    s->rseg = s->fseg;
    s->roff = s->foff;
    s->rseq = s->fseq;
}

void spool_ack(spool *s, const spool_pos *end)
{
    if (end->seq <= s->fseq) return;
    size_t i = s->fseg;
    while (i < s->nsegs && s->segs[i].first != end->seg) i++;
    if (i == s->nsegs) return; /* its segment was dropped meanwhile */
    s->fseg = i;
    s->foff = end->off;
    s->fseq = end->seq;
    s->dirty = true;
    /* a segment acknowledged to its end, other than the one being written */
    if (s->foff >= s->segs[i].len && !(s->wseg_open && i == s->nsegs - 1) && i + 1 < s->nsegs) {
        s->fseg = i + 1;
        s->foff = 0;
    }
    while (s->fseg > 0) seg_delete_first(s);
    if (s->nsegs == 1 && !s->wseg_open && s->foff >= s->segs[0].len) {
        /* a resumed segment wholly sent: nothing of it is needed */
        s->fseq = s->segs[0].end;
        seg_delete_first(s);
        s->fseg = s->rseg = 0;
        s->foff = s->roff = 0;
        s->rseq = s->fseq;
    }
}

void spool_sync(spool *s)
{
    if (s->dirty) write_cursor(s);
}

uint64_t spool_floor_seq(const spool *s)
{
    return s->fseq;
}

uint64_t spool_read_seq(const spool *s)
{
    return s->rseq;
}

uint64_t spool_next_seq(const spool *s)
{
    return s->next_seq;
}
