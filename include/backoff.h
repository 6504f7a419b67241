/*
 * Retry delays as client-go's reflector computes them: exponential from
 * 800 ms, doubled each time, with jitter so that many watchers failing at
 * once do not retry at once, capped, and forgotten after a quiet spell.
 *
 * The clock and the random source are injectable so that tests can step
 * through a sequence of delays without waiting for them.
 */
#ifndef EC_BACKOFF_H
#define EC_BACKOFF_H

#include <stdint.h>

#define BACKOFF_INITIAL_MS 800
#define BACKOFF_CAP_MS     30000
/* client-go's reflector starts again from the initial delay after this. */
#define BACKOFF_RESET_MS 120000

struct backoff {
    uint64_t initial_ms;
    uint64_t cap_ms;
    uint64_t reset_after_ms;
    uint64_t step_ms; /* the base delay of the next failure */
    uint64_t last_ms; /* when the last delay was handed out */
    int failures;     /* since the last reset */
    /* Milliseconds of a monotonic clock, and a number in [0, 1). */
    uint64_t (*now_ms)(void *ctx);
    double (*random)(void *ctx);
    void *ctx;
};

/*
 * Sets up b with the given initial delay and cap, the default reset time,
 * the monotonic clock and a random source seeded from the kernel.
 */
void backoff_init(struct backoff *b, uint64_t initial_ms, uint64_t cap_ms);

/*
 * The delay before retrying after a failure now: the base delay d times a
 * random factor in [1, 2), but never more than the cap; d doubles with each
 * failure up to the cap, and starts again at the initial delay when the
 * previous failure is more than reset_after_ms ago.
 */
uint64_t backoff_next(struct backoff *b);

/* Forgets past failures: the next delay is the initial one again. */
void backoff_reset(struct backoff *b);

/* Milliseconds of CLOCK_MONOTONIC; the default clock. */
uint64_t backoff_clock_ms(void *ctx);

#endif
