/*
 * check: the smallest test harness that does the job. CHECK records a
 * failure with its line and goes on, so one run shows every broken case;
 * check_done() turns the tally into the exit code meson reads
 * (0 pass, 1 fail, 77 skip).
 */
#ifndef VULTFS_TEST_CHECK_H
#define VULTFS_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_passes;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            check_passes++;                                                  \
        } else {                                                             \
            check_failures++;                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECK_EQ_INT(got, want)                                              \
    do {                                                                     \
        long long check_got_ = (long long)(got);                             \
        long long check_want_ = (long long)(want);                           \
        if (check_got_ == check_want_) {                                     \
            check_passes++;                                                  \
        } else {                                                             \
            check_failures++;                                                \
            fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__,      \
                    __LINE__, #got, check_got_, check_want_);                \
        }                                                                    \
    } while (0)

#define CHECK_EQ_STR(got, want)                                              \
    do {                                                                     \
        const char *check_got_ = (got);                                      \
        const char *check_want_ = (want);                                    \
        if (check_got_ && check_want_ && strcmp(check_got_, check_want_) == 0) { \
            check_passes++;                                                  \
        } else {                                                             \
            check_failures++;                                                \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__,  \
                    __LINE__, #got, check_got_ ? check_got_ : "(null)",      \
                    check_want_ ? check_want_ : "(null)");                   \
        }                                                                    \
    } while (0)

/* Ends the test: prints the tally, returns the exit code for meson. */
static inline int check_done(const char *name)
{
    fprintf(stderr, "%s: %d checks passed, %d failed\n", name, check_passes,
            check_failures);
    if (check_failures == 0 && check_passes == 0)
        return 77;
    return check_failures ? 1 : 0;
}

/* The shared fixtures directory, from VULTFS_FIXTURES (meson sets it when
 * ../shared/fixtures exists), or NULL: tests that need it skip. */
static inline const char *check_fixtures_dir(void)
{
    const char *dir = getenv("VULTFS_FIXTURES");
    return dir && *dir ? dir : NULL;
}

#endif
