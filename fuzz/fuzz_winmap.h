/* fuzz_winmap.h - the invariant the Windows fuzz targets share: a record that
 * parsed maps to a JSON document the ECS decoder accepts; anything else is a
 * bug, so it aborts with the document. */
#ifndef MODUS_FUZZ_WINMAP_H
#define MODUS_FUZZ_WINMAP_H

#include <stdio.h>
#include <string.h>

#include "decode/winevt.h"
#include "fuzz_common.h"

static inline void fuzz_winmap_check(winmap *wm, const winrec *rec)
{
    static buf out;
    buf_reset(&out);
    winmap_ecs(wm, rec, &out);
    if (!buf_reserve(&out, MODUS_PADDING)) abort();
    memset(out.p + out.n, ' ', MODUS_PADDING);
    const modus_event *ev;
    modus_diag d;
    if (modus_scanner_decode(fuzz_scanner(), out.p, out.n, &ev, &d) != MODUS_OK) {
        fprintf(stderr, "winmap wrote JSON the decoder rejects: %s\n%.*s\n", d.message, (int)out.n,
                out.p);
        abort();
    }
    modus_event_render(ev, MODUS_RENDER_ENRICHED, NULL);
}

#endif
