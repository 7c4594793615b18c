/* fuzz_winevt.c - libFuzzer target: Windows event decoders. The first byte
 * picks the form: an <Event> element (winxml) or a flat JSON event (winflat);
 * whatever parses is mapped to ECS (winmap) and must come out as a JSON
 * document the ECS decoder accepts - anything else is a bug, so it aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/winevt.h"
#include "fuzz_winmap.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static winxml *wx;
    static winflat *wf;
    static winmap *wm;
    if (!wx && (!(wx = winxml_new()) || !(wf = winflat_new()) || !(wm = winmap_new()))) abort();
    if (!size) return 0;
    bool flat = data[0] & 1;
    data++;
    size--;
    char *in = malloc(size + MODUS_PADDING);
    if (!in) return 0;
    memcpy(in, data, size);
    memset(in + size, ' ', MODUS_PADDING);
    const winrec *rec = NULL;
    char msg[200];
    size_t off;
    int ok = flat ? winflat_parse(wf, in, size, &rec) == 1
                  : winxml_parse(wx, in, size, &rec, msg, sizeof msg, &off) == 0;
    if (ok) fuzz_winmap_check(wm, rec);
    free(in);
    return 0;
}
