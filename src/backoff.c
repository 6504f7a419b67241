/*
 * Exponential backoff with jitter, the reflector's: 800 ms, doubled up to
 * 30 s, each delay drawn from [d, 2d), reset after two quiet minutes.
 *
 * The reflector lets the jitter take a delay up to twice its cap; here the
 * cap bounds the delay itself, so that a broken API server is tried again
 * at least every 30 s.
 */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"

/* xorshift64*: plenty for spreading retries, no global state. */
static double
default_random(void *ctx)
{
    static uint64_t state;

    (void)ctx;
    if (state == 0 &&
        getrandom(&state, sizeof(state), GRND_NONBLOCK) != sizeof(state))
        state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (state == 0)
        state = 0x9e3779b97f4a7c15u;

    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (double)((state * 0x2545f4914f6cdd1du) >> 11) / 9007199254740992.0;
}

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t
backoff_clock_ms(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sets the delays and the real clock and random source. */
void
backoff_init(struct backoff *b, uint64_t initial_ms, uint64_t cap_ms)
{
    b->initial_ms = initial_ms;
    b->cap_ms = cap_ms;
    b->reset_after_ms = BACKOFF_RESET_MS;
    b->now_ms = backoff_clock_ms;
    b->random = default_random;
    b->ctx = NULL;
    backoff_reset(b);
}

/* Starts the sequence again from the initial delay. */
void
backoff_reset(struct backoff *b)
{
    b->step_ms = b->initial_ms;
    b->failures = 0;
}

/* The next delay; see backoff.h. */
uint64_t
backoff_next(struct backoff *b)
{
    uint64_t now = b->now_ms(b->ctx);
    double r = b->random(b->ctx);
    uint64_t delay;

    if (b->failures > 0 && now - b->last_ms > b->reset_after_ms)
        backoff_reset(b);

    /* A broken random source must not stretch or shrink the delay. */
    if (!(r >= 0.0 && r < 1.0))
        r = 0.0;
    delay = b->step_ms + (uint64_t)((double)b->step_ms * r);
    if (delay > b->cap_ms)
        delay = b->cap_ms;

    b->step_ms = b->step_ms > b->cap_ms / 2 ? b->cap_ms : b->step_ms * 2;
    b->last_ms = now;
    b->failures++;
    return delay;
}
