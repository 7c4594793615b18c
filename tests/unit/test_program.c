/* test_program.c - compiled where clauses answer as the tree walker does:
 * 20,000 random clauses, each over four random events, and where one is
 * true, some member of each of its witness clauses holds (tests/unit/prog_check.h;
 * fuzz/fuzz_program.c runs the same check on libFuzzer's inputs). */
#include <stdint.h>

#include "check.h"
#include "prog_check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(void)
{
    unsigned char data[96];
    int agree = 0, differ = 0, failed = 0;
    for (int i = 0; i < 20000; i++) {
        for (size_t k = 0; k < sizeof data; k++) data[k] = (unsigned char)next();
        int r = prog_check(data, sizeof data, differ < 5);
        agree += r == 0;
        differ += r == 1;
        failed += r < 0;
    }
    CHECK(differ == 0, "%d of 20000 random clauses: the program differs from the tree walker",
          differ);
    CHECK(failed == 0, "%d random clauses did not compile", failed);
    CHECK(pc_witnessed > 1000, "%lu true clauses had their witnesses checked", pc_witnessed);
    CHECK(agree == 20000, "%d clauses agree", agree);
    return check_done();
}
