/* fuzz_symbol_info.c - libFuzzer target: frames one per line in any form
 * (Elastic symbol_info, Linux, Sysmon), for both operating systems. */
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    modus_scanner *S = fuzz_scanner();
    const modus_event *ev;
    modus_diag d;
    modus_os os = size && (data[0] & 1) ? MODUS_OS_LINUX : MODUS_OS_WINDOWS;
    modus_scanner_explain(S, os, MODUS_STACK_LINES, (const char *)data, size, "python3", &ev, &d);
    modus_event_render(ev, MODUS_RENDER_EXPLAIN, NULL);
    modus_event_render(ev, MODUS_RENDER_FIELDS, NULL);
    return 0;
}
