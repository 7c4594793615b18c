/* fuzz_common.h - one engine and scanner per fuzzing process. */
#ifndef MODUS_FUZZ_COMMON_H
#define MODUS_FUZZ_COMMON_H

#include <stdlib.h>

#include "modus/modus.h"

static inline modus_scanner *fuzz_scanner(void)
{
    static modus_engine *e;
    static modus_scanner *s;
    if (!s) {
        modus_diag d;
        if (modus_engine_create(NULL, &e, &d) || modus_scanner_create(e, &s)) abort();
    }
    return s;
}

#endif
