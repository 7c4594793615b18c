/* test_sensor_net.c - DNS wire parsing (src/decode/dns_wire.c) on hand-built
 * messages, and the sensor decoder's network and DNS documents from records
 * laid out as bpf/sensor.bpf.c writes them. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decode/dns_wire.h"
#include "decode/sensor.h"

/* a query for NAME (dotted), type T; returns its length */
static size_t put_query(uint8_t *p, uint16_t id, const char *name, uint16_t type, bool response,
                        uint16_t ancount)
{
    memset(p, 0, 12);
    p[0] = id >> 8, p[1] = id & 0xff;
    if (response) p[2] = 0x81, p[3] = 0x80;
    p[5] = 1;
    p[7] = (uint8_t)ancount;
    size_t o = 12;
    for (const char *s = name; *s;) {
        size_t l = strcspn(s, ".");
        p[o++] = (uint8_t)l;
        memcpy(p + o, s, l);
        o += l;
        s += l + (s[l] == '.');
    }
    p[o++] = 0;
    p[o++] = 0, p[o++] = (uint8_t)type;
    p[o++] = 0, p[o++] = 1;
    return o;
}

/* an answer: name = pointer to the question (offset 12) */
static size_t put_a(uint8_t *p, size_t o, uint16_t type, const uint8_t *data, uint16_t len)
{
    p[o++] = 0xc0, p[o++] = 12;
    p[o++] = 0, p[o++] = (uint8_t)type;
    p[o++] = 0, p[o++] = 1;
    p[o++] = 0, p[o++] = 0, p[o++] = 0x0e, p[o++] = 0x10; /* ttl 3600 */
    p[o++] = len >> 8, p[o++] = len & 0xff;
    memcpy(p + o, data, len);
    return o + len;
}

static void test_dns(void)
{
    uint8_t m[512];
    dns_msg d;
    dns_err e;
    size_t n = put_query(m, 0x1234, "www.example.test", 1, false, 0);
    CHECK(dns_parse(m, n, &d, &e), "query parses: %s", e.msg ? e.msg : "");
    CHECK_STR(d.qname, "www.example.test");
    CHECK(d.qtype == 1 && !d.response && d.id == 0x1234, "query header");
    char tb[16];
    CHECK_STR(dns_type_name(d.qtype, tb), "A");
    CHECK_STR(dns_type_name(99, tb), "TYPE99");

    /* a response: A, then a CNAME whose target points into the question */
    n = put_query(m, 7, "a.example.test", 1, true, 3);
    uint8_t v4[4] = {192, 0, 2, 1};
    n = put_a(m, n, 1, v4, 4);
    uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    n = put_a(m, n, 28, v6, 16);
    uint8_t cname[] = {3, 'c', 'd', 'n', 0xc0, 14}; /* cdn.example.test */
    n = put_a(m, n, 5, cname, sizeof cname);
    CHECK(dns_parse(m, n, &d, &e) && !d.partial, "response parses: %s", e.msg ? e.msg : "");
    CHECK(d.response && d.nanswers == 3, "three answers, got %u", d.nanswers);
    CHECK_STR(d.answers[0].name, "a.example.test");
    CHECK_STR(d.answers[0].data, "192.0.2.1");
    CHECK(d.answers[0].ttl == 3600, "ttl");
    CHECK_STR(d.answers[1].data, "2001:db8::1");
    CHECK_STR(d.answers[2].data, "cdn.example.test");
    CHECK_STR(dns_rcode_name(d.rcode, tb), "NOERROR");

    /* cut anywhere inside the answers: the question still parses, partial */
    for (size_t cut = 35; cut < n; cut++) {
        bool ok = dns_parse(m, cut, &d, &e);
        if (!ok || !d.partial || !e.msg || e.offset > cut) {
            CHECK(0, "cut at %zu: ok %d partial %d offset %zu", cut, ok, d.partial, e.offset);
            break;
        }
    }
    /* a pointer loop: the question's name points at itself */
    n = put_query(m, 1, "x", 1, false, 0);
    m[12] = 0xc0, m[13] = 12;
    CHECK(!dns_parse(m, n, &d, &e) && e.offset == 12, "self pointer refused at 12: %s",
          e.msg ? e.msg : "");
    /* forward pointer */
    m[13] = 40;
    CHECK(!dns_parse(m, n, &d, &e), "forward pointer refused");
    /* a label longer than the message */
    n = put_query(m, 1, "abc", 1, false, 0);
    CHECK(!dns_parse(m, 14, &d, &e) && e.offset == 12, "label past the end at 12: %zu", e.offset);
    CHECK(!dns_parse(m, 5, &d, &e) && strstr(e.msg, "header"), "short header");
    /* unprintable label bytes are escaped */
    n = put_query(m, 1, "a b", 1, false, 0);
    CHECK(dns_parse(m, n, &d, &e), "space in a label parses");
    CHECK_STR(d.qname, "a\\032b");
    /* a 300-octet name */
    uint8_t big[600] = {0};
    big[5] = 1;
    size_t o = 12;
    for (int i = 0; i < 5; i++) {
        big[o++] = 63;
        memset(big + o, 'a', 63);
        o += 63;
    }
    big[o++] = 0;
    CHECK(!dns_parse(big, o + 4, &d, &e) && strstr(e.msg, "255"), "name over 255 octets refused");
}

static const char *field(const char *json, const char *needle)
{
    return strstr(json, needle);
}

static void test_records(void)
{
    msdec *d = msdec_create("test-host");
    CHECK(d != NULL, "decoder");
    if (!d) return;
    struct msr_hdr h;
    memset(&h, 0, sizeof h);
    h.type = MSR_NET_CONNECT;
    h.size = sizeof h;
    h.tgid = h.tid = 4000000; /* no such process: comm names it */
    memcpy(h.comm, "curl", 5);
    h.u.net.family = 2;
    h.u.net.proto = 6;
    h.u.net.sport = 40000;
    h.u.net.dport = 443;
    inet_pton(AF_INET, "10.1.2.3", h.u.net.saddr);
    inet_pton(AF_INET, "198.51.100.7", h.u.net.daddr);
    h.u.net.result = -111;
    h.u.net.fd = 3;
    const char *json;
    size_t len;
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1, "connect record -> document");
    CHECK(field(json, "\"category\":[\"network\"]"), "category network: %.*s", (int)len, json);
    CHECK(field(json, "\"action\":\"connection_attempted\""), "action");
    CHECK(
        field(
            json,
            "\"destination\":{\"address\":\"198.51.100.7\",\"ip\":\"198.51.100.7\",\"port\":443}"),
        "destination");
    CHECK(field(json, "\"source\":{\"address\":\"10.1.2.3\",\"ip\":\"10.1.2.3\",\"port\":40000}"),
          "source");
    CHECK(field(json, "\"transport\":\"tcp\",\"type\":\"ipv4\",\"direction\":\"egress\""),
          "network: %.*s", (int)len, json);
    CHECK(field(json, "\"result\":\"ECONNREFUSED\""), "result");

    /* accepted over IPv6, a v4-mapped peer is written as IPv4 */
    h.type = MSR_NET_ACCEPT;
    h.u.net.family = 10;
    memset(h.u.net.saddr, 0, 16);
    h.u.net.saddr[10] = h.u.net.saddr[11] = 0xff;
    inet_pton(AF_INET, "203.0.113.5", h.u.net.saddr + 12);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", h.u.net.daddr);
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1, "accept record");
    CHECK(field(json, "\"action\":\"connection_accepted\""), "accepted");
    CHECK(field(json, "\"source\":{\"address\":\"203.0.113.5\",\"ip\":\"203.0.113.5\""),
          "mapped peer as IPv4: %.*s", (int)len, json);
    CHECK(field(json, "\"type\":\"ipv4\",\"direction\":\"ingress\""), "ipv4 ingress");
    inet_pton(AF_INET6, "2001:db8::5", h.u.net.saddr);
    inet_pton(AF_INET6, "2001:db8::1", h.u.net.daddr);
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1 &&
              field(json, "\"ip\":\"2001:db8::5\"") && field(json, "\"type\":\"ipv6\""),
          "ipv6 peer");

    /* DNS: a response received */
    memset(&h.u, 0, sizeof h.u);
    h.type = MSR_DNS;
    h.u.dns.net.family = 2;
    h.u.dns.net.proto = 17;
    h.u.dns.net.sport = 53;
    h.u.dns.net.dport = 5353;
    inet_pton(AF_INET, "127.0.0.53", h.u.dns.net.saddr);
    inet_pton(AF_INET, "127.0.0.1", h.u.dns.net.daddr);
    size_t n = put_query(h.u.dns.payload, 9, "c2.example.test", 1, true, 1);
    uint8_t v4[4] = {192, 0, 2, 9};
    n = put_a(h.u.dns.payload, n, 1, v4, 4);
    h.u.dns.len = (uint32_t)n;
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1, "dns record");
    CHECK(field(json, "\"action\":\"lookup_result\""), "lookup_result: %.*s", (int)len, json);
    CHECK(field(json, "\"type\":[\"protocol\",\"info\"]"), "event.type protocol, info");
    CHECK(field(json, "\"category\":[\"network\",\"dns\"]"), "event.category network, dns");
    CHECK(field(json, "\"question\":{\"name\":\"c2.example.test\",\"type\":\"A\""), "question");
    CHECK(field(json, "\"resolved_ip\":[\"192.0.2.9\"]"), "resolved_ip");
    CHECK(field(json, "\"protocol\":\"dns\""), "network.protocol");
    /* the query, sent */
    h.flags = MSR_F_DNS_SENT;
    n = put_query(h.u.dns.payload, 9, "c2.example.test", 28, false, 0);
    h.u.dns.len = (uint32_t)n;
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1 &&
              field(json, "\"action\":\"lookup_requested\"") && field(json, "\"type\":\"AAAA\""),
          "lookup_requested AAAA");
    /* garbage to port 53: an event with the error and its offset */
    memset(h.u.dns.payload, 0xc0, 40);
    h.u.dns.len = 40;
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1 && field(json, "\"error\":\"byte 12: "),
          "malformed message: error with offset: %.*s", (int)len, json);
    /* a length past the copy: message_bytes keeps it, truncated says so */
    h.u.dns.len = 4000;
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1 && field(json, "\"truncated\":true"),
          "truncated copy");

    /* exec with a socket for stdin/stdout */
    memset(&h.u, 0, sizeof h.u);
    h.type = MSR_EXEC;
    h.flags = MSR_F_STDIO_SOCK;
    strcpy(h.u.exec.filename, "/bin/sh");
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1 && field(json, "\"stdio_socket\":true"),
          "exec: stdio_socket");

    /* argv as bytes: ASCII escaped as JSON, invalid UTF-8 as U+FFFD, valid
     * UTF-8 kept */
    {
        static const char argv[] = "/bin/sh\0a\"b\\c\0x\xffy\0caf\xc3\xa9";
        struct {
            struct msr_hdr h;
            char data[sizeof argv];
        } r;
        memset(&r, 0, sizeof r);
        r.h = h;
        r.h.flags = 0;
        r.h.tgid = r.h.tid = 4000001;
        memcpy(r.data, argv, sizeof argv);
        r.h.data_len = sizeof argv - 1;
        r.h.size = sizeof r.h + r.h.data_len;
        CHECK(
            msdec_record(d, &r, sizeof r, &json, &len) == 1 &&
                field(json, "\"args\":[\"/bin/sh\",\"a\\\"b\\\\c\",\"x\\ufffdy\",\"caf\xc3\xa9\"]"),
            "exec args escaped: %.*s", (int)len, json);
    }

    /* a stack's frame 0 carries the 16 bytes before ip, in hex */
    memset(&h.u, 0, sizeof h.u);
    h.type = MSR_MPROTECT;
    h.flags = MSR_F_STACK | MSR_F_IPBYTES;
    h.tgid = h.tid = 4000002;
    h.regs.ip = 0x401000;
    h.regs.sp = 0x7ffc0000;
    for (int i = 0; i < 16; i++) h.ip_bytes[i] = (uint8_t)(i * 17);
    h.u.mem.prot = 7;
    CHECK(msdec_record(d, &h, sizeof h, &json, &len) == 1 &&
              field(json, "\"callsite_leading_bytes\":\"00112233445566778899aabbccddeeff\""),
          "callsite_leading_bytes: %.*s", (int)len, json);
    msdec_destroy(d);
}

int main(void)
{
    test_dns();
    test_records();
    return check_done();
}
