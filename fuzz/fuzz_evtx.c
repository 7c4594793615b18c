/* fuzz_evtx.c - libFuzzer target: the direct EVTX reader's binary XML walker.
 * The input is the records area of one chunk (bytes from chunk offset 512);
 * the target wraps it in a file header and chunk header with correct magic
 * and CRC32s, so the fuzzer spends its time in the records, not in
 * checksums. Every record that walks must map to JSON the decoder accepts.
 * Seeds: scripts/test.sh cuts them from the corpus EVTX files at run time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "decode/winevt.h"
#include "fuzz_winmap.h"
#include "source/evtx_fast.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static uint8_t img[4096 + 65536];
    static winxml *wx;
    static winmap *wm;
    if (!wx && (!(wx = winxml_new()) || !(wm = winmap_new()))) abort();
    if (size > 65536 - 512) size = 65536 - 512;
    memset(img, 0, sizeof img);
    memcpy(img, "ElfFile", 8);
    img[32] = 128, img[36] = 1, img[38] = 3, img[41] = 0x10, img[42] = 1;
    put32(img + 124, (uint32_t)crc32(0, img, 120));
    uint8_t *c = img + 4096;
    memcpy(c, "ElfChnk", 8);
    c[40] = 128;
    memcpy(c + 512, data, size);
    put32(c + 48, (uint32_t)(512 + size));
    put32(c + 52, (uint32_t)crc32(0, c + 512, (uInt)size));
    uint32_t crc = (uint32_t)crc32(0, c, 120);
    put32(c + 124, (uint32_t)crc32(crc, c + 128, 384));
    evtx_fast *f = evtx_fast_open(img, sizeof img, wx);
    if (!f) abort(); /* the wrapper is always intact */
    const winrec *rec;
    uint64_t recno, index = 0;
    int r;
    while ((r = evtx_fast_next(f, &rec, &recno, &index)) <= 0)
        if (r == 0) fuzz_winmap_check(wm, rec);
    evtx_fast_close(f);
    return 0;
}
