/* dns_wire.h - DNS messages (RFC 1035 wire format) as the sensor copies them. */
#ifndef MODUS_DECODE_DNS_WIRE_H
#define MODUS_DECODE_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX    256 /* 255 octets of presentation text + NUL (escapes may cut it) */
#define DNS_ANSWERS_MAX 16

typedef struct dns_rr {
    char name[DNS_NAME_MAX];
    uint16_t type, klass;
    uint32_t ttl;
    char data[DNS_NAME_MAX]; /* A/AAAA address, CNAME/PTR/NS target; "" otherwise */
} dns_rr;

typedef struct dns_msg {
    uint16_t id, flags;
    bool response; /* QR */
    uint8_t opcode, rcode;
    uint16_t qdcount, ancount;
    char qname[DNS_NAME_MAX];
    uint16_t qtype, qclass;
    unsigned nanswers; /* parsed, at most DNS_ANSWERS_MAX */
    dns_rr answers[DNS_ANSWERS_MAX];
    bool partial; /* the answers stop early: copy cut short or malformed */
} dns_msg;

typedef struct dns_err {
    size_t offset;   /* byte offset in the message */
    const char *msg; /* static text */
} dns_err;

/* Parse one message (no TCP length prefix). Returns true when the header and
 * the first question parsed; answers that do not parse set m->partial and
 * leave the reason in err. false: err says why and where. */
bool dns_parse(const uint8_t *p, size_t n, dns_msg *m, dns_err *err);

/* "A", "AAAA", "CNAME"... or "TYPE<n>" into buf (>= 12 bytes). */
const char *dns_type_name(uint16_t type, char *buf);
/* "NOERROR", "NXDOMAIN"... or "RCODE<n>" into buf (>= 12 bytes). */
const char *dns_rcode_name(uint8_t rcode, char *buf);

#endif
