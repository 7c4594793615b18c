/* evtx_fast.c - EVTX records straight from their binary XML.
 *
 * Why not only libevtx: measured on this machine kind (bench/evtx.sh),
 * libevtx spends ~33 us per record just to read it and ~57 us with its XML
 * rendering - a ceiling of ~17 k records/s per core before modus does any
 * work. This reader walks each record's binary XML (templates, substitution
 * values) once and feeds the element events to the same winxml state
 * machine the text XML path uses, so both paths build the same winrec.
 *
 * It only takes files it can read whole: the file header and every chunk
 * header must carry the right magic and CRC32s (header and records). Any
 * damage and the source falls back to libevtx, which recovers what it can;
 * a record this reader cannot walk is handed to libevtx too.
 *
 * Format (libyal's EVTX documentation): a 4 KiB file header, 64 KiB chunks;
 * a chunk has a 512-byte header (string and template offset tables) and
 * records ("**\0\0", size, id, FILETIME, binary XML, size). Binary XML
 * tokens: fragment header 0x0f, template instance 0x0c (definition inline
 * or at an earlier chunk offset, then the substitution values), elements
 * 0x01/0x41 with attributes 0x06/0x46, values 0x05, substitutions 0x0d/0x0e,
 * end tokens 0x02/0x03/0x04, end of fragment 0x00. Offsets are chunk-relative.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

#include "../decode/winevt.h"
#include "../util/buf.h"
#include "evtx_fast.h"

#define HDR_SIZE   4096
#define CHUNK_SIZE 65536
#define MAX_DEPTH  64
#define MAX_VALUES 512

typedef struct val {
    uint32_t size;
    uint8_t type;
    uint32_t off; /* chunk-relative */
} val;

struct evtx_fast {
    const uint8_t *data;
    size_t size;
    unsigned nchunks, chunk;
    const uint8_t *c;  /* current chunk */
    uint32_t off, end; /* next record, end of records, chunk-relative */
    winxml *wx;
    buf text, attv, nm;
    int depth;
    char err[120];
};

static inline uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static bool chunk_ok(const uint8_t *c)
{
    if (memcmp(c, "ElfChnk", 8)) return false;
    uint32_t crc = (uint32_t)crc32(0, c, 120);
    crc = (uint32_t)crc32(crc, c + 128, 384);
    if (crc != le32(c + 124)) return false;
    uint32_t free_off = le32(c + 48);
    if (free_off < 512 || free_off > CHUNK_SIZE) return false;
    return (uint32_t)crc32(0, c + 512, free_off - 512) == le32(c + 52);
}

evtx_fast *evtx_fast_open(const uint8_t *data, size_t size, winxml *wx)
{
    if (size < HDR_SIZE || memcmp(data, "ElfFile", 8)) return NULL;
    if ((uint32_t)crc32(0, data, 120) != le32(data + 124)) return NULL;
    unsigned n = le16(data + 42);
    if ((size - HDR_SIZE) / CHUNK_SIZE < n) return NULL; /* truncated: libevtx's job */
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *c = data + HDR_SIZE + (size_t)i * CHUNK_SIZE;
        bool ok = chunk_ok(c);
        madvise((void *)c, CHUNK_SIZE, MADV_DONTNEED); /* memory stays one chunk deep */
        if (!ok) return NULL;
    }
    /* a copy of a log in use can hold more chunks than its header counts yet */
    while ((size - HDR_SIZE) / CHUNK_SIZE > n && n < 65535) {
        const uint8_t *c = data + HDR_SIZE + (size_t)n * CHUNK_SIZE;
        if (memcmp(c, "ElfChnk", 8)) break;
        bool ok = chunk_ok(c);
        madvise((void *)c, CHUNK_SIZE, MADV_DONTNEED);
        if (!ok) return NULL;
        n++;
    }
    evtx_fast *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->data = data;
    f->size = size;
    f->nchunks = n;
    f->wx = wx;
    return f;
}

void evtx_fast_close(evtx_fast *f)
{
    if (!f) return;
    buf_free(&f->text);
    buf_free(&f->attv);
    buf_free(&f->nm);
    free(f);
}

/* ---- values to text ---- */

static void put_utf8(buf *b, uint32_t cp)
{
    char o[4];
    if (cp < 0x80) {
        buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        buf_put(b, o, 2);
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        buf_put(b, o, 3);
    } else {
        o[0] = (char)(0xf0 | cp >> 18);
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        buf_put(b, o, 4);
    }
}

/* n UTF-16LE code units; stops at a NUL */
static void utf16(buf *b, const uint8_t *p, size_t n)
{
    /* ASCII runs straight into the buffer */
    if (!buf_reserve(b, n)) return;
    size_t i = 0;
    while (i + 4 <= n) { /* four ASCII code units at a time */
        uint64_t w;
        memcpy(&w, p + 2 * i, 8);
        w = le64((const uint8_t *)&w);
        if (w & 0xff80ff80ff80ff80ull) break;
        uint8_t c0 = (uint8_t)w, c1 = (uint8_t)(w >> 16), c2 = (uint8_t)(w >> 32),
                c3 = (uint8_t)(w >> 48);
        if (!c0 || !c1 || !c2 || !c3) break;
        char *o = b->p + b->n;
        o[0] = (char)c0, o[1] = (char)c1, o[2] = (char)c2, o[3] = (char)c3;
        b->n += 4;
        i += 4;
    }
    while (i < n && p[2 * i + 1] == 0 && p[2 * i] && p[2 * i] < 0x80) {
        b->p[b->n++] = (char)p[2 * i];
        i++;
    }
    if (i < n && p[2 * i + 1] == 0 && p[2 * i] == 0) return;
    for (; i < n; i++) {
        uint32_t u = le16(p + 2 * i);
        if (!u) break;
        if (u >= 0xd800 && u < 0xdc00 && i + 1 < n) {
            uint32_t l = le16(p + 2 * i + 2);
            if (l >= 0xdc00 && l < 0xe000) {
                put_utf8(b, 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00));
                i++;
                continue;
            }
        }
        if (u >= 0xd800 && u < 0xe000) u = 0xfffd;
        put_utf8(b, u);
    }
}

static void filetime(buf *b, uint64_t ft)
{
    uint64_t secs = ft / 10000000u, frac = ft % 10000000u;
    int64_t days = (int64_t)(secs / 86400) - 134774; /* 1601 -> 1970 */
    uint64_t rem = secs % 86400;
    /* civil from days (Howard Hinnant's algorithm) */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    if (y < 0 || y > 9999) return;
    char t[32] = "0000-00-00T00:00:00.000000000Z";
    unsigned f[] = {(unsigned)y,         m, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
                    (unsigned)(rem % 60)};
    static const int at[] = {0, 5, 8, 11, 14, 17}, w[] = {4, 2, 2, 2, 2, 2};
    for (int k = 0; k < 6; k++)
        for (int j = w[k] - 1, v = (int)f[k]; j >= 0; j--, v /= 10)
            t[at[k] + j] = (char)('0' + v % 10);
    for (int j = 26; j >= 20; j--, frac /= 10) t[j] = (char)('0' + frac % 10);
    buf_put(b, t, 30);
}

static int walk(evtx_fast *f, uint32_t *pos, uint32_t end, const val *v, unsigned nv);

static int value_text(evtx_fast *f, const val *x, buf *b)
{
    const uint8_t *p = f->c + x->off;
    uint32_t n = x->size;
    switch (x->type) {
    case 0x00: return 0;
    case 0x01: utf16(b, p, n / 2); return 0;
    case 0x02: {
        size_t k = strnlen((const char *)p, n);
        for (size_t i = 0; i < k; i++) {
            if (p[i] < 0x80)
                buf_putc(b, (char)p[i]);
            else
                put_utf8(b, p[i]); /* as Windows-1252's Latin-1 range */
        }
        return 0;
    }
    case 0x03:
        if (n >= 1) buf_printf(b, "%d", (int8_t)p[0]);
        return 0;
    case 0x04:
        if (n >= 1) buf_put_u64(b, p[0]);
        return 0;
    case 0x05:
        if (n >= 2) buf_printf(b, "%d", (int16_t)le16(p));
        return 0;
    case 0x06:
        if (n >= 2) buf_put_u64(b, le16(p));
        return 0;
    case 0x07:
        if (n >= 4) buf_printf(b, "%d", (int32_t)le32(p));
        return 0;
    case 0x08:
        if (n >= 4) buf_put_u64(b, le32(p));
        return 0;
    case 0x09:
        if (n >= 8) buf_printf(b, "%lld", (long long)le64(p));
        return 0;
    case 0x0a:
        if (n >= 8) buf_put_u64(b, le64(p));
        return 0;
    case 0x0d:
        if (n >= 4) buf_puts(b, le32(p) ? "true" : "false");
        return 0;
    case 0x0e:
        for (uint32_t i = 0; i < n; i++) buf_printf(b, "%02X", p[i]);
        return 0;
    case 0x0f:
        if (n >= 16) { /* {Data1-Data2-Data3-Data4[0..1]-Data4[2..7]}, upper case */
            static const char hx[] = "0123456789ABCDEF";
            static const int8_t order[16] = {3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11};
            char g[38], *o = g;
            *o++ = '{';
            for (int k = 0; k < 16; k++) {
                if (order[k] < 0) {
                    *o++ = '-';
                    continue;
                }
                *o++ = hx[p[order[k]] >> 4];
                *o++ = hx[p[order[k]] & 15];
            }
            for (int k = 12; k < 16; k++) {
                *o++ = hx[p[k] >> 4];
                *o++ = hx[p[k] & 15];
            }
            *o++ = '}';
            buf_put(b, g, (size_t)(o - g));
        }
        return 0;
    case 0x10:
        if (n >= 8)
            buf_printf(b, "0x%016llx", (unsigned long long)le64(p));
        else if (n >= 4)
            buf_printf(b, "0x%08x", le32(p));
        return 0;
    case 0x11:
        if (n >= 8) filetime(b, le64(p));
        return 0;
    case 0x13:
        if (n >= 8 && p[1] <= 15 && n >= 8u + 4u * p[1]) {
            uint64_t auth = 0;
            for (int i = 2; i < 8; i++) auth = auth << 8 | p[i];
            buf_printf(b, "S-%u-%llu", p[0], (unsigned long long)auth);
            for (unsigned i = 0; i < p[1]; i++) buf_printf(b, "-%u", le32(p + 8 + 4 * i));
        }
        return 0;
    case 0x14:
        if (n >= 4) buf_printf(b, "0x%08x", le32(p));
        return 0;
    case 0x15:
        if (n >= 8) {
            static const char hx[] = "0123456789abcdef";
            char h[18] = {'0', 'x'};
            uint64_t q = le64(p);
            for (int k = 17; k >= 2; k--, q >>= 4) h[k] = hx[q & 15];
            buf_put(b, h, 18);
        }
        return 0;
    case 0x21: { /* nested binary XML: the elements go to the sink, no text */
        uint32_t pos = x->off;
        return walk(f, &pos, x->off + n, NULL, 0);
    }
    default: return -1; /* arrays, SYSTEMTIME, floats: let libevtx render them */
    }
}

/* ---- binary XML ---- */

#define NEED(k)                                                                                    \
    do {                                                                                           \
        if ((uint64_t)*pos + (k) > end) return -1;                                                 \
    } while (0)

/* Name at chunk offset `at` (UTF-16 string structure), into b; skips the
 * structure when it is defined right here (at == *pos). */
static int name(evtx_fast *f, uint32_t at, uint32_t *pos, uint32_t end, buf *b)
{
    if ((uint64_t)at + 8 > CHUNK_SIZE) return -1;
    uint16_t nch = le16(f->c + at + 6);
    if ((uint64_t)at + 8 + 2u * nch + 2 > CHUNK_SIZE) return -1;
    if (b) utf16(b, f->c + at + 8, nch);
    if (at == *pos) {
        NEED(8u + 2u * nch + 2);
        *pos += 8u + 2u * nch + 2;
    }
    return 0;
}

static int template_instance(evtx_fast *f, uint32_t *pos, uint32_t end)
{
    NEED(10);
    uint32_t def = le32(f->c + *pos + 6);
    *pos += 10;
    if ((uint64_t)def + 24 > CHUNK_SIZE) return -1;
    uint32_t dsize = le32(f->c + def + 20);
    if ((uint64_t)def + 24 + dsize > CHUNK_SIZE) return -1;
    uint32_t body = def + 24, body_end = body + dsize;
    if (def == *pos) {
        NEED(24u + dsize);
        *pos = body_end;
    }
    NEED(4);
    uint32_t nv = le32(f->c + *pos);
    *pos += 4;
    if (nv > MAX_VALUES) return -1;
    NEED(4u * nv);
    val v[MAX_VALUES];
    uint32_t data = *pos + 4u * nv;
    for (uint32_t i = 0; i < nv; i++) {
        v[i].size = le16(f->c + *pos + 4 * i);
        v[i].type = f->c[*pos + 4 * i + 2];
        v[i].off = data;
        data += v[i].size;
    }
    if (data > end) return -1;
    *pos = data;
    uint32_t bp = body;
    return walk(f, &bp, body_end, v, nv);
}

/* Text of one substitution or value token, appended to out (attribute values)
 * or sent to the sink. */
static int content_token(evtx_fast *f, uint32_t *pos, uint32_t end, const val *v, unsigned nv,
                         buf *out)
{
    uint8_t t = f->c[*pos] & 0xbf;
    buf *b = out ? out : &f->text;
    if (!out) buf_reset(&f->text);
    if (t == 0x05) {
        NEED(4);
        uint8_t type = f->c[*pos + 1];
        if (type != 0x01) return -1;
        uint16_t nch = le16(f->c + *pos + 2);
        NEED(4u + 2u * nch);
        utf16(b, f->c + *pos + 4, nch);
        *pos += 4u + 2u * nch;
    } else if (t == 0x0d || t == 0x0e) {
        NEED(4);
        uint16_t id = le16(f->c + *pos + 1);
        *pos += 4;
        if (!v || id >= nv) return -1;
        if (v[id].type == 0x21 && out) return -1;
        if (value_text(f, &v[id], b)) return -1;
    } else if (t == 0x07) {
        NEED(3);
        uint16_t nch = le16(f->c + *pos + 1);
        NEED(3u + 2u * nch);
        utf16(b, f->c + *pos + 3, nch);
        *pos += 3u + 2u * nch;
    } else if (t == 0x08) {
        NEED(3);
        put_utf8(b, le16(f->c + *pos + 1));
        *pos += 3;
    } else if (t == 0x09) {
        NEED(5);
        uint32_t at = le32(f->c + *pos + 1);
        *pos += 5;
        buf_reset(&f->nm);
        if (name(f, at, pos, end, &f->nm)) return -1;
        sv e = {f->nm.p, f->nm.n};
        buf_puts(b, sv_eq(e, SV_LIT("amp"))    ? "&"
                    : sv_eq(e, SV_LIT("lt"))   ? "<"
                    : sv_eq(e, SV_LIT("gt"))   ? ">"
                    : sv_eq(e, SV_LIT("quot")) ? "\""
                    : sv_eq(e, SV_LIT("apos")) ? "'"
                                               : "");
    } else {
        return -1;
    }
    if (!out && f->text.n) winxml_sax_text(f->wx, f->text.p, f->text.n);
    return 0;
}

static int element(evtx_fast *f, uint32_t *pos, uint32_t end, const val *v, unsigned nv)
{
    bool has_att = f->c[*pos] & 0x40;
    NEED(11);
    uint32_t at = le32(f->c + *pos + 7);
    *pos += 11;
    char ename[128];
    buf_reset(&f->nm);
    if (name(f, at, pos, end, &f->nm)) return -1;
    size_t el = utf8_cut(f->nm.p, f->nm.n < sizeof ename - 1 ? f->nm.n : sizeof ename - 1, f->nm.n);
    if (el) memcpy(ename, f->nm.p, el);
    ename[el] = 0;
    if (has_att) {
        NEED(4);
        *pos += 4;
    }
    /* attributes: name/value offsets into attv, then pointers */
    buf *a = &f->attv;
    buf_reset(a);
    size_t offs[32];
    unsigned na = 0;
    while (*pos < end && (f->c[*pos] & 0xbf) == 0x06) {
        NEED(5);
        uint32_t an = le32(f->c + *pos + 1);
        *pos += 5;
        if (na + 2 > 30) return -1;
        offs[na++] = a->n;
        if (name(f, an, pos, end, a)) return -1;
        buf_putc(a, 0);
        offs[na++] = a->n;
        size_t vstart = a->n;
        while (*pos < end) {
            uint8_t t = f->c[*pos] & 0xbf;
            if (t == 0x06 || t == 0x02 || t == 0x03) break;
            if (content_token(f, pos, end, v, nv, a)) return -1;
        }
        if (a->n == vstart) { /* a null optional value: no attribute, as libevtx renders it */
            na -= 2;
            a->n = offs[na];
            continue;
        }
        buf_putc(a, 0);
    }
    if (a->oom) return -1;
    const char *atts[33];
    for (unsigned i = 0; i < na; i++) atts[i] = a->p + offs[i];
    atts[na] = NULL;
    NEED(1);
    uint8_t close = f->c[*pos];
    *pos += 1;
    if (++f->depth > MAX_DEPTH) return -1;
    winxml_sax_start(f->wx, ename, atts);
    if (close == 0x02) {
        if (walk(f, pos, end, v, nv)) return -1;
        NEED(1);
        if (f->c[*pos] != 0x04) return -1;
        *pos += 1;
    } else if (close != 0x03) {
        return -1;
    }
    winxml_sax_end(f->wx);
    f->depth--;
    return 0;
}

/* A token sequence, up to the end of the fragment (consumed) or the end of
 * the enclosing element (left for the caller). */
static int walk(evtx_fast *f, uint32_t *pos, uint32_t end, const val *v, unsigned nv)
{
    if (++f->depth > MAX_DEPTH) return -1;
    while (*pos < end) {
        uint8_t t = f->c[*pos] & 0xbf;
        int r = 0;
        switch (t) {
        case 0x00:
            *pos += 1;
            f->depth--;
            return 0;
        case 0x04: f->depth--; return 0;
        case 0x0f:
            NEED(4);
            *pos += 4;
            break;
        case 0x0c: r = template_instance(f, pos, end); break;
        case 0x01: r = element(f, pos, end, v, nv); break;
        case 0x0a: { /* processing instruction: target name, then 0x0b data */
            NEED(5);
            uint32_t at = le32(f->c + *pos + 1);
            *pos += 5;
            r = name(f, at, pos, end, NULL);
            break;
        }
        case 0x0b: {
            NEED(3);
            uint16_t nch = le16(f->c + *pos + 1);
            NEED(3u + 2u * nch);
            *pos += 3u + 2u * nch;
            break;
        }
        default: r = content_token(f, pos, end, v, nv, NULL); break;
        }
        if (r) return -1;
    }
    f->depth--;
    return 0;
}

int evtx_fast_next(evtx_fast *f, const winrec **rec, uint64_t *recno, uint64_t *index)
{
    for (;;) {
        if (!f->c || f->off + 24 > f->end) {
            if (f->c) { /* done with this chunk: its pages can go */
                madvise((void *)f->c, CHUNK_SIZE, MADV_DONTNEED);
                f->chunk++;
            }
            if (f->chunk >= f->nchunks) return 1;
            f->c = f->data + HDR_SIZE + (size_t)f->chunk * CHUNK_SIZE;
            f->off = 512;
            f->end = le32(f->c + 48);
            continue;
        }
        const uint8_t *r = f->c + f->off;
        uint32_t size = le32(r + 4);
        if (memcmp(r, "**\0\0", 4) || size < 28 || f->off + size > f->end) {
            f->off = f->end; /* the rest of this chunk is not records */
            continue;
        }
        uint32_t pos = f->off + 24, end = f->off + size - 4;
        *recno = le64(r + 8);
        f->off += size;
        ++*index;
        f->depth = 0;
        winxml_sax_begin(f->wx);
        char msg[160];
        if (walk(f, &pos, end, NULL, 0) || f->text.oom || f->attv.oom ||
            winxml_sax_finish(f->wx, rec, msg, sizeof msg))
            return -1; /* the caller asks libevtx for this one */
        return 0;
    }
}
