/* fuzz_fleet.c - libFuzzer target: what the broker sends back, parsed by the
 * fleet tier (src/fleet/fleet_parse.c): a JetStream delivery's reply subject
 * and a publish acknowledgement. Invariants: a parsed reply subject has a
 * stream sequence > 0; a refusal always comes with a NUL-terminated reason. */
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    /* exact-size copies: any read past the end is caught */
    char *p = malloc(size ? size : 1);
    if (!p) return 0;
    memcpy(p, data, size);
    fleet_ack_meta m;
    if (fleet_parse_ack_subject(p, size, &m) && m.stream_seq == 0) abort();
    char why[64];
    memset(why, 'x', sizeof why);
    fleet_result r = fleet_parse_puback(p, size, why, sizeof why);
    if (r == FLEET_REFUSED && !memchr(why, 0, sizeof why)) abort();
    if (r != FLEET_REFUSED && r != FLEET_STORED && r != FLEET_DUPLICATE) abort();
    free(p);
    return 0;
}
