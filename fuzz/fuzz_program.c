/* fuzz_program.c - libFuzzer target: the input chooses a where clause and
 * four events (tests/unit/prog_check.h); the compiled program over the shared
 * predicate table must answer as the tree walker (eql_eval) does. */
#include <stdlib.h>

#include "../tests/unit/prog_check.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (prog_check(data, size, true) == 1) abort();
    return 0;
}
