/* fuzz_sigma.c - libFuzzer target: any bytes as a Sigma file through the YAML
 * reader (libyaml events -> trees), the Sigma compiler (every modifier,
 * condition, correlation) and the EQL compiler of what it produced. A
 * produced rule must compile (the compiler writes only valid EQL); an error
 * must carry a message. */
#include <stdlib.h>
#include <string.h>

#include "modus/modus.h"
#include "rules/sigma.h"

static sigma_map *map;

static modus_status on_rule(void *ctx, rule_src *src)
{
    (void)ctx;
    modus_query *q;
    modus_diag d;
    if (!src->query || !src->name || !src->id) abort();
    if (modus_query_compile(src->query, strlen(src->query), &q, &d) != MODUS_OK) abort();
    modus_query_destroy(q);
    rule_src_free(src);
    return MODUS_OK;
}

static void on_error(void *ctx, uint32_t line, uint32_t col, const char *msg)
{
    (void)ctx, (void)line, (void)col;
    if (!msg || !msg[0]) abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!map && sigma_map_load(NULL, &map, NULL) != MODUS_OK) abort();
    /* an exact-size copy, so reading past `size` is caught */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    sigma_sink sink = {NULL, on_rule, on_error, NULL};
    sigma_load(map, "fuzz.yml", buf, size, &sink);
    free(buf);
    return 0;
}
