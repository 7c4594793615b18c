/* fuzz_dns.c - libFuzzer target: DNS messages (src/decode/dns_wire.c) as the
 * sensor copies them off the wire. Invariants: no crash, no read past the
 * message; every name and answer is a NUL-terminated string within its
 * buffer; an error names an offset inside (or at the end of) the message. */
#include <stdlib.h>
#include <string.h>

#include "decode/dns_wire.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    /* an exact-size copy, so ASan sees any read past the end */
    unsigned char *p = malloc(size ? size : 1);
    if (!p) return 0;
    memcpy(p, data, size);
    dns_msg m;
    dns_err e;
    bool ok = dns_parse(p, size, &m, &e);
    if (!ok && !e.msg) abort();
    if (e.msg && e.offset > size) abort();
    if (ok) {
        if (memchr(m.qname, 0, sizeof m.qname) == NULL) abort();
        if (m.nanswers > DNS_ANSWERS_MAX) abort();
        for (unsigned i = 0; i < m.nanswers; i++)
            if (!memchr(m.answers[i].name, 0, DNS_NAME_MAX) ||
                !memchr(m.answers[i].data, 0, DNS_NAME_MAX))
                abort();
        char tb[16];
        if (!dns_type_name(m.qtype, tb) || !dns_rcode_name(m.rcode, tb)) abort();
    }
    free(p);
    return 0;
}
