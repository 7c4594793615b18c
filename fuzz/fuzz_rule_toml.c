/* fuzz_rule_toml.c - libFuzzer target: any bytes through the TOML rule loader
 * (toml++ parse, key checks, JSON re-serialisation), then freed. */
#include <stdlib.h>
#include <string.h>

#include "rules/rule_toml.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    /* an exact-size copy, so reading past `size` is caught */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    rule_src r;
    uint32_t line, col;
    char msg[256];
    if (rule_toml_parse("fuzz.toml", buf, size, &r, &line, &col, msg, sizeof msg) == 0) {
        if (!r.query || r.query_offset > size) abort();
        rule_src_free(&r);
    } else if (!line || !col || !memchr(msg, 0, sizeof msg)) {
        abort();
    }
    free(buf);
    return 0;
}
