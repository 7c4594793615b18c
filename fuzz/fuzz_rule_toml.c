/* fuzz_rule_toml.c - libFuzzer target: any bytes through the TOML rule loader
 * (toml++ parse, key checks, JSON re-serialisation), then freed; and the same
 * bytes with and without the loader's fast path for multi-line literal
 * strings (rule_toml_fast) must give the same result, field for field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rule_src_cmp.h"
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
    const char *d = rule_parse_fast_diff("fuzz.toml", buf, size);
    if (d) {
        fprintf(stderr, "rule_toml_fast changes %s\n", d);
        abort();
    }
    free(buf);
    return 0;
}
