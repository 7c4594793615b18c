/* fuzz_json.c - libFuzzer target: one input line through the whole decode
 * path (JSON node table, stack location, classification, every renderer). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    modus_scanner *S = fuzz_scanner();
    char *buf = malloc(size + MODUS_PADDING);
    if (!buf) return 0;
    memcpy(buf, data, size);
    memset(buf + size, 0, MODUS_PADDING);
    const modus_event *ev;
    modus_diag d;
    if (modus_scanner_decode(S, buf, size, &ev, &d) == MODUS_OK) {
        size_t n;
        modus_event_render(ev, MODUS_RENDER_ENRICHED, &n);
        modus_event_render(ev, MODUS_RENDER_FIELDS, &n);
        modus_event_render(ev, MODUS_RENDER_EXPLAIN, &n);
        modus_value v;
        modus_event_get(ev, "process.thread.Ext.call_stack", &v);
        if (v.type == MODUS_T_ARRAY && v.len) modus_value_index(ev, &v, v.len - 1, &v);
    }
    free(buf);
    return 0;
}
