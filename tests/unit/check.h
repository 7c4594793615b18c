/* check.h - a minimal table-driven test harness for modus's C tests.
 *
 * CHECK(cond, fmt, ...) records one assertion; a test program returns
 * check_done(), which prints "N passed, M failed" and exits non-zero on any
 * failure. ctest runs every program (tests/CMakeLists.txt).
 */
#ifndef MODUS_CHECK_H
#define MODUS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_pass++;                                                                          \
        } else {                                                                                   \
            check_fail++;                                                                          \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                                  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        CHECK(g_ && !strcmp(g_, w_), "%s: got '%s', want '%s'", #got, g_ ? g_ : "(null)", w_);     \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_pass, check_fail);
    return check_fail ? 1 : 0;
}

#endif
