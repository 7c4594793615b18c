/* fuzz_calltrace.c - libFuzzer target: Sysmon CallTrace strings, classified
 * and explained, with and without a PowerShell host image. */
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    modus_scanner *S = fuzz_scanner();
    const modus_event *ev;
    modus_diag d;
    const char *image = size && (data[0] & 1) ? "powershell.exe" : NULL;
    modus_scanner_explain(S, MODUS_OS_WINDOWS, MODUS_STACK_CALLTRACE, (const char *)data, size,
                          image, &ev, &d);
    modus_event_render(ev, MODUS_RENDER_EXPLAIN, NULL);
    modus_event_render(ev, MODUS_RENDER_FIELDS, NULL);
    return 0;
}
