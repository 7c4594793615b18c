/* fuzz_pool_lane.c - libFuzzer target: the host finder of `modus scan -j`
 * (src/detect/detect_pool.c), which reads raw, undecoded lines. Invariants:
 * it reads only the line's bytes (the copy has no padding), the lane is
 * below the lane count, one lane means lane 0, and the answer is the same
 * when asked again. */
#include <stdlib.h>
#include <string.h>

#include "detect/pool.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    if (!line) return 0;
    memcpy(line, data, size);
    unsigned a = pool_lane(line, size, 7);
    if (a >= 7) abort();
    if (pool_lane(line, size, 7) != a) abort();
    if (pool_lane(line, size, 1) != 0) abort();
    if (pool_lane(line, size, 256) >= 256) abort();
    free(line);
    return 0;
}
