/* dns_wire.c - DNS messages from the wire, as the live sensor copies them
 * (at most MSR_DNS_MAX bytes of a message a process sent to or received from
 * port 53).
 *
 * What it reads: the 12-byte header, the first question (name, type,
 * class), and up to DNS_ANSWERS_MAX answer records with their data where it
 * is an address (A, AAAA) or a name (CNAME, PTR, NS, DNAME). Authority and
 * additional sections are not read: no rule asks for them.
 *
 * Names: labels of 1-63 bytes; compression pointers (two top bits set) jump
 * to an earlier offset. Every loop is bounded: a name is at most 255 octets
 * on the wire and 127 labels, and a name may follow at most 16 pointers, each
 * strictly backwards from where it was read, so a pointer cycle ends as an
 * error instead of a hang. Label bytes outside printable ASCII, '.' and '\'
 * are written as \DDD (RFC 4343), so the text names the bytes and stays valid.
 *
 * Errors carry the offset of the byte that broke the rule and a static
 * message; the decoder reports them on the event (dns.Ext.error) and counts
 * them. Nothing here allocates; the cost is linear in the message.
 */
#include "dns_wire.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define HDR_LEN   12
#define MAX_HOPS  16
#define MAX_WIRE  255
#define MAX_LABEL 63

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool fail(dns_err *e, size_t off, const char *msg)
{
    e->offset = off;
    e->msg = msg;
    return false;
}

/* The name at *off into out (presentation form, no trailing dot; "." for the
 * root); *off moves past the name as it sits at that place in the message. */
static bool read_name(const uint8_t *p, size_t n, size_t *off, char *out, dns_err *e)
{
    size_t at = *off, o = 0, wire = 0, end = 0;
    int hops = 0;
    bool jumped = false;
    out[0] = 0;
    for (int labels = 0;; labels++) {
        if (at >= n) return fail(e, at, "name runs past the end of the message");
        uint8_t len = p[at];
        if ((len & 0xc0) == 0xc0) {
            if (at + 1 >= n) return fail(e, at, "compression pointer cut short");
            size_t to = (size_t)(len & 0x3f) << 8 | p[at + 1];
            if (to >= at) return fail(e, at, "compression pointer does not point backwards");
            if (++hops > MAX_HOPS) return fail(e, at, "too many compression pointers");
            if (!jumped) end = at + 2;
            jumped = true;
            at = to;
            continue;
        }
        if (len & 0xc0) return fail(e, at, "reserved label type");
        if (len == 0) {
            if (!jumped) end = at + 1;
            break;
        }
        if (labels >= 127 || (wire += len + 1u) > MAX_WIRE)
            return fail(e, at, "name longer than 255 octets");
        if (at + 1 + len > n) return fail(e, at, "label runs past the end of the message");
        if (o) out[o++] = '.';
        for (size_t i = 0; i < len; i++) {
            uint8_t c = p[at + 1 + i];
            if (o + 5 >= DNS_NAME_MAX) return fail(e, at, "name too long to print");
            if (c > 0x20 && c < 0x7f && c != '.' && c != '\\')
                out[o++] = (char)c;
            else
                o += (size_t)snprintf(out + o, DNS_NAME_MAX - o, "\\%03u", c);
        }
        out[o] = 0;
        at += 1u + len;
    }
    if (!o) strcpy(out, ".");
    *off = end;
    return true;
}

bool dns_parse(const uint8_t *p, size_t n, dns_msg *m, dns_err *e)
{
    memset(m, 0, sizeof *m);
    e->offset = 0;
    e->msg = NULL;
    if (n < HDR_LEN) return fail(e, n, "shorter than a DNS header (12 bytes)");
    m->id = be16(p);
    m->flags = be16(p + 2);
    m->response = m->flags >> 15;
    m->opcode = (m->flags >> 11) & 0xf;
    m->rcode = m->flags & 0xf;
    m->qdcount = be16(p + 4);
    m->ancount = be16(p + 6);
    if (m->qdcount == 0) return fail(e, 4, "no question");
    size_t off = HDR_LEN;
    if (!read_name(p, n, &off, m->qname, e)) return false;
    if (off + 4 > n) return fail(e, off, "question type and class cut short");
    m->qtype = be16(p + off);
    m->qclass = be16(p + off + 2);
    off += 4;
    /* further questions (servers accept one; skip any others) */
    for (unsigned q = 1; q < m->qdcount; q++) {
        char skip[DNS_NAME_MAX];
        if (!read_name(p, n, &off, skip, e) || off + 4 > n) {
            if (!e->msg) fail(e, off, "question type and class cut short");
            m->partial = true;
            return true;
        }
        off += 4;
    }
    for (unsigned i = 0; i < m->ancount && m->nanswers < DNS_ANSWERS_MAX; i++) {
        dns_rr *r = &m->answers[m->nanswers];
        size_t rr_at = off;
        if (!read_name(p, n, &off, r->name, e)) {
            m->partial = true;
            return true;
        }
        if (off + 10 > n) {
            fail(e, rr_at, "answer record cut short");
            m->partial = true;
            return true;
        }
        r->type = be16(p + off);
        r->klass = be16(p + off + 2);
        r->ttl = be32(p + off + 4);
        size_t rdlen = be16(p + off + 8);
        off += 10;
        if (off + rdlen > n) {
            fail(e, off, "answer data runs past the end of the message");
            m->partial = true;
            return true;
        }
        r->data[0] = 0;
        if (r->type == 1 && rdlen == 4)
            inet_ntop(AF_INET, p + off, r->data, sizeof r->data);
        else if (r->type == 28 && rdlen == 16)
            inet_ntop(AF_INET6, p + off, r->data, sizeof r->data);
        else if (r->type == 5 || r->type == 12 || r->type == 2 || r->type == 39) {
            size_t at = off;
            if (!read_name(p, off + rdlen, &at, r->data, e)) {
                m->partial = true;
                return true;
            }
        }
        off += rdlen;
        m->nanswers++;
    }
    if (m->nanswers < m->ancount) m->partial = true;
    return true;
}

const char *dns_type_name(uint16_t type, char *buf)
{
    switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 39: return "DNAME";
    case 41: return "OPT";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    }
    snprintf(buf, 12, "TYPE%u", type);
    return buf;
}

const char *dns_rcode_name(uint8_t rcode, char *buf)
{
    static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                        "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                        "NXRRSET", "NOTAUTH", "NOTZONE"};
    if (rcode < sizeof names / sizeof *names) return names[rcode];
    snprintf(buf, 12, "RCODE%u", rcode);
    return buf;
}
