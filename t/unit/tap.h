/*
 * A small TAP producer for the C unit tests: each check prints "ok N" or
 * "not ok N" with a description, and what it expected and saw on failure.
 */
#ifndef EC_TAP_H
#define EC_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static inline int
tap_ok(int pass, const char *desc, const char *file, int line)
{
    tap_count++;
    printf("%sok %d - %s\n", pass ? "" : "not ", tap_count, desc);
    if (!pass) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return pass;
}

#define ok(cond, desc) tap_ok(!!(cond), (desc), __FILE__, __LINE__)

#define is_int(got, want, desc)                                                \
    do {                                                                       \
        long long got_ = (long long)(got), want_ = (long long)(want);          \
        if (!ok(got_ == want_, desc))                                          \
            printf("#   expected %lld, got %lld\n", want_, got_);              \
    } while (0)

#define is_str(got, want, desc)                                                \
    do {                                                                       \
        const char *got_ = (got), *want_ = (want);                             \
        int same_ = got_ && want_ ? strcmp(got_, want_) == 0 : got_ == want_;  \
        if (!ok(same_, desc))                                                  \
            printf("#   expected \"%s\", got \"%s\"\n",                        \
                   want_ ? want_ : "(null)", got_ ? got_ : "(null)");          \
    } while (0)

/* A check that cannot be made here, counted as passed. */
static inline void
skip(const char *desc, const char *why)
{
    printf("ok %d - %s # SKIP %s\n", ++tap_count, desc, why);
    fflush(stdout);
}

static inline int
tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
