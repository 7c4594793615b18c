/* fleet_parse.c - reading what the broker says: the reply subject of a
 * JetStream delivery (its stream and delivery sequence numbers) and a
 * publish acknowledgement. Both come off the network, so both are fuzzed
 * (fuzz/fuzz_fleet.c) and neither trusts a length or a number. */
#include <stdio.h>
#include <string.h>

#include "../decode/json.h"
#include "fleet.h"

static bool parse_u64(const char *p, size_t n, uint64_t *out)
{
    if (!n || n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool fleet_parse_ack_subject(const char *s, size_t n, fleet_ack_meta *m)
{
    memset(m, 0, sizeof *m);
    const char *tok[16];
    size_t len[16], nt = 0;
    for (size_t b = 0; b <= n && nt < 16;) {
        size_t e = b;
        while (e < n && s[e] != '.') e++;
        tok[nt] = s + b;
        len[nt++] = e - b;
        b = e + 1;
        if (e == n) break;
    }
    if (nt < 9 || len[0] != 3 || memcmp(tok[0], "$JS", 3) || len[1] != 3 ||
        memcmp(tok[1], "ACK", 3))
        return false;
    /* $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending> (9 tokens), or
     * $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
     * [.<token>] (11 or 12) */
    size_t at = nt == 9 ? 4 : (nt == 11 || nt == 12) ? 6 : 0;
    if (!at) return false;
    return parse_u64(tok[at], len[at], &m->delivered) &&
           parse_u64(tok[at + 1], len[at + 1], &m->stream_seq) &&
           parse_u64(tok[at + 2], len[at + 2], &m->delivery_seq) && m->stream_seq > 0;
}

fleet_result fleet_parse_puback(const char *json, size_t n, char *why, size_t cap)
{
    if (cap) why[0] = 0;
    size_t end;
    long at = mj_locate_span(json, n, "error", &end);
    if (at >= 0) {
        size_t dend;
        long d = mj_locate_span(json, n, "error.description", &dend);
        if (cap && d >= 0 && dend > (size_t)d + 1 && json[d] == '"')
            snprintf(why, cap, "%.*s", (int)(dend - (size_t)d - 2), json + d + 1);
        else if (cap)
            snprintf(why, cap, "refused by the server");
        return FLEET_REFUSED;
    }
    at = mj_locate_span(json, n, "seq", &end);
    uint64_t seq;
    if (at < 0 || !parse_u64(json + at, end - (size_t)at, &seq)) {
        if (cap) snprintf(why, cap, "not a publish acknowledgement");
        return FLEET_REFUSED;
    }
    at = mj_locate_span(json, n, "duplicate", &end);
    if (at >= 0 && end - (size_t)at == 4 && !memcmp(json + at, "true", 4)) return FLEET_DUPLICATE;
    return FLEET_STORED;
}
