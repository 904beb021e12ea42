/* A minimal test harness: CHECK-style assertions that count and report instead of aborting, and
 * a summary line "N passed, N failed" that CI reads. Include once per test binary. */
#ifndef RESTPG_TESTS_TEST_H
#define RESTPG_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int t_pass = 0, t_fail = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (cond) t_pass++;                                                             \
        else {                                                                          \
            t_fail++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
        }                                                                               \
    } while (0)

#define CHECK_MSG(cond, ...)                                                            \
    do {                                                                                \
        if (cond) t_pass++;                                                             \
        else {                                                                          \
            t_fail++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
        }                                                                               \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                \
        double ta_ = (double)(a), tb_ = (double)(b);                                    \
        if (fabs(ta_ - tb_) <= (tol)) t_pass++;                                         \
        else {                                                                          \
            t_fail++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tol %g)\n", \
                    __FILE__, __LINE__, #a, ta_, #b, tb_, (double)(tol));               \
        }                                                                               \
    } while (0)

#define CHECK_STR(a, b)                                                                 \
    do {                                                                                \
        const char *sa_ = (a), *sb_ = (b);                                              \
        if (sa_ && sb_ && !strcmp(sa_, sb_)) t_pass++;                                  \
        else {                                                                          \
            t_fail++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_STR failed: '%s' != '%s'\n", __FILE__,        \
                    __LINE__, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");              \
        }                                                                               \
    } while (0)

/* Checks a call returned RP_OK, printing the Error message otherwise. */
#define CHECK_OK(call, err)                                                             \
    do {                                                                                \
        int rc_ = (call);                                                               \
        if (rc_ == 0) t_pass++;                                                         \
        else {                                                                          \
            t_fail++;                                                                   \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call,   \
                    rc_, (err)->msg);                                                   \
        }                                                                               \
    } while (0)

static inline int test_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}

#endif
