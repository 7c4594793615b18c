/* fuzz_source.c - libFuzzer target: a whole input file, whatever its format
 * (NDJSON, flat Windows JSON, event XML, EVTX through libevtx), read through
 * modus_source from a memory file and every document decoded. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    modus_source *src;
    modus_diag d;
    modus_source_opts o = {.max_line = 1 << 16};
    if (modus_source_open(path, &o, &src, &d) == MODUS_OK) {
        for (int n = 0; n < 100000; n++) {
            const char *line;
            size_t len;
            modus_status st = modus_source_next(src, &line, &len, &d);
            if (st == MODUS_DONE || st == MODUS_EIO || st == MODUS_ENOMEM) break;
            if (st != MODUS_OK) continue;
            const modus_event *ev;
            if (modus_scanner_decode(fuzz_scanner(), line, len, &ev, &d) == MODUS_OK)
                modus_event_render(ev, MODUS_RENDER_ENRICHED, NULL);
        }
        modus_source_close(src);
    }
    close(fd);
    return 0;
}
