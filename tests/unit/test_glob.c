/* test_glob.c - compiled wildcard patterns (eql_glob_compile: exact, prefix,
 * suffix, substring, length-only, '?' then a literal, the general glob)
 * answer as the reference matcher (sv_glob / sv_iglob) does, on random
 * patterns and texts over a small alphabet, with and without case. */
#include <stdlib.h>

#include "check.h"
#include "rules/eql.h"
#include "util/sv.h"

static uint64_t rng = 42;

static uint32_t next(uint32_t n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33) % n;
}

int main(void)
{
    static const char pat_chars[] = "ab?*A:\\";
    static const char txt_chars[] = "abAB:\\";
    arena a;
    arena_init(&a, 1 << 16);
    /* one check per 10,000 random cases, so the suite's total counts
     * assertions a reader can weigh, not loop iterations; each mismatch is
     * printed (the first 10) */
    int mismatches = 0, batch_bad = 0;
    for (int round = 0; round < 200000 && mismatches < 10; round++) {
        char p[12], t[14];
        uint32_t pn = next(sizeof p), tn = next(sizeof t);
        for (uint32_t i = 0; i < pn; i++) p[i] = pat_chars[next(sizeof pat_chars - 1)];
        for (uint32_t i = 0; i < tn; i++) t[i] = txt_chars[next(sizeof txt_chars - 1)];
        bool ci = next(2);
        const void *g = eql_glob_compile(&a, p, pn, ci);
        bool want = ci ? sv_iglob((sv){p, pn}, (sv){t, tn}) : sv_glob((sv){p, pn}, (sv){t, tn});
        bool got = g && eql_glob_match(g, t, tn);
        if (got != want)
            fprintf(stderr, "mismatch: '%.*s' %s '%.*s': got %d, want %d\n", (int)pn, p,
                    ci ? "~" : "", (int)tn, t, got, want);
        mismatches += got != want;
        batch_bad += got != want;
        if (round % 10000 == 9999) {
            CHECK(batch_bad == 0, "cases %d..%d: %d mismatches", round - 9999, round, batch_bad);
            batch_bad = 0;
        }
        if (round % 1000 == 999) {
            arena_free(&a);
            arena_init(&a, 1 << 16);
        }
    }
    CHECK(mismatches == 0, "%d mismatches in all", mismatches);
    arena_free(&a);
    return check_done();
}
