/* fuzz_baseline_fold.c - libFuzzer target: the baseline path folder (any
 * bytes, every flag combination, small and large output buffers). */
#include <stdlib.h>
#include <string.h>

#include "modus/baseline.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!size) return 0;
    unsigned flags = data[0] & 3;
    size_t cap = (data[0] & 4) ? 16 : 1024;
    char out[1024];
    size_t n = modus_baseline_fold((const char *)data + 1, size - 1, flags, out, cap);
    if (n >= cap || strlen(out) != n) abort();
    return 0;
}
