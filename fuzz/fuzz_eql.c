/* fuzz_eql.c - libFuzzer target: EQL text through the compiler, and when it
 * compiles, through the runtime over two small events. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static void sink(void *ctx, const char *const *ev, const size_t *len, uint32_t n)
{
    (void)ctx, (void)ev, (void)len, (void)n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    modus_query *q;
    modus_diag d;
    if (modus_query_compile((const char *)data, size, &q, &d) != MODUS_OK) return 0;
    static char ev1[] = "{\"event\":{\"category\":\"process\",\"type\":\"start\"},\"@timestamp\":"
                        "\"2026-01-01T00:00:00Z\",\"process\":{\"pid\":4,\"name\":\"cmd.exe\","
                        "\"args\":[\"a\",\"b\"],\"parent\":{\"pid\":1}}}"
                        "                                                                ";
    static char ev2[] =
        "{\"event\":{\"category\":[\"file\"]},\"@timestamp\":\"2026-01-01T00:00:01Z\","
        "\"process\":{\"pid\":4,\"thread\":{\"Ext\":{\"call_stack\":[{\"symbol_info\":"
        "\"Unbacked+0x1\"}]}}},\"file\":{\"path\":\"C:\\\\x.exe\"}}"
        "                                                                ";
    const modus_query *qs[1] = {q};
    modus_engine_opts eo = {.queries = qs, .nqueries = 1};
    modus_engine *e;
    modus_scanner *s;
    modus_query_run *r;
    if (modus_engine_create(&eo, &e, &d) == MODUS_OK) {
        if (modus_scanner_create(e, &s) == MODUS_OK) {
            if (modus_query_run_create(q, sink, NULL, &r) == MODUS_OK) {
                const modus_event *ev;
                for (int i = 0; i < 3; i++) {
                    char *t = i % 2 ? ev2 : ev1;
                    size_t n = strlen(t) - 64;
                    if (modus_scanner_decode(s, t, n, &ev, &d) == MODUS_OK)
                        modus_query_run_event(r, ev);
                }
                modus_query_run_finish(r);
                modus_query_run_destroy(r);
            }
            modus_scanner_destroy(s);
        }
        modus_engine_destroy(e);
    }
    modus_query_destroy(q);
    return 0;
}
