/*
 * Backoff: the reflector's sequence of delays, the jitter range, the cap,
 * and the reset after a quiet spell, stepped through with a fake clock
 * and a fake random source.
 */
#include <math.h>
#include <stdint.h>

#include "backoff.h"
#include "tap.h"

/* The fake world: time stands still unless a test moves it. */
struct fake {
    uint64_t now;
    double random;
};

static uint64_t
fake_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static double
fake_random(void *ctx)
{
    return ((struct fake *)ctx)->random;
}

static void
fake_backoff(struct backoff *b, struct fake *f, uint64_t initial, uint64_t cap)
{
    backoff_init(b, initial, cap);
    b->now_ms = fake_now;
    b->random = fake_random;
    b->ctx = f;
}

/* With no jitter the delays double from 800 ms and stop at 30 s. */
static void
test_doubling_to_the_cap(void)
{
    static const uint64_t want[] = {800,   1600,  3200,  6400,
                                    12800, 25600, 30000, 30000};
    struct fake f = {.now = 1000, .random = 0};
    struct backoff b;
    int same = 1;

    fake_backoff(&b, &f, BACKOFF_INITIAL_MS, BACKOFF_CAP_MS);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t got = backoff_next(&b);

        if (got != want[i]) {
            printf("#   delay %zu: expected %llu, got %llu\n", i,
                   (unsigned long long)want[i], (unsigned long long)got);
            same = 0;
        }
        f.now += got;
    }
    ok(same, "delays double from 800 ms up to the 30 s cap");
}

/* Jitter stretches each delay within [d, 2d), never past the cap. */
static void
test_jitter_range(void)
{
    struct fake f = {.now = 0, .random = 0.999};
    struct backoff b;

    fake_backoff(&b, &f, BACKOFF_INITIAL_MS, BACKOFF_CAP_MS);
    is_int(backoff_next(&b), 1599, "the largest jitter keeps 800 under 1600");
    is_int(backoff_next(&b), 3198, "and 1600 under 3200");
    f.random = 0.5;
    is_int(backoff_next(&b), 4800, "half the jitter is half again");
    for (int i = 0; i < 5; i++)
        backoff_next(&b);
    f.random = 0.999;
    is_int(backoff_next(&b), 30000, "jitter never takes a delay past the cap");
}

/* Two quiet minutes and the sequence starts again. */
static void
test_reset_after_quiet(void)
{
    struct fake f = {.now = 0, .random = 0};
    struct backoff b;

    fake_backoff(&b, &f, BACKOFF_INITIAL_MS, BACKOFF_CAP_MS);
    for (int i = 0; i < 4; i++)
        backoff_next(&b);
    f.now += BACKOFF_RESET_MS;
    is_int(backoff_next(&b), 12800,
           "a failure exactly two minutes after the last keeps growing");
    f.now += BACKOFF_RESET_MS + 1;
    is_int(backoff_next(&b), 800,
           "a failure more than two minutes after the last starts at 800 ms");
    is_int(backoff_next(&b), 1600, "and grows again from there");
    backoff_reset(&b);
    is_int(backoff_next(&b), 800, "backoff_reset starts it over at once");
}

/* Discovery's sequence has its own, lower cap. */
static void
test_lower_cap(void)
{
    struct fake f = {.now = 0, .random = 0.999};
    struct backoff b;
    uint64_t most = 0;

    fake_backoff(&b, &f, BACKOFF_INITIAL_MS, 10000);
    for (int i = 0; i < 20; i++) {
        uint64_t d = backoff_next(&b);

        most = d > most ? d : most;
    }
    is_int(most, 10000, "a cap of 10 s bounds every delay");
}

/* A random source out of [0, 1) adds no jitter rather than a wild one. */
static void
test_broken_random(void)
{
    struct fake f = {.now = 0, .random = 7.5};
    struct backoff b;

    fake_backoff(&b, &f, BACKOFF_INITIAL_MS, BACKOFF_CAP_MS);
    is_int(backoff_next(&b), 800, "a random value over 1 is ignored");
    f.random = NAN;
    is_int(backoff_next(&b), 1600, "so is NaN");
    f.random = -1;
    is_int(backoff_next(&b), 3200, "and a negative one");
}

/* The real clock and random source give delays in range. */
static void
test_real_sources(void)
{
    struct backoff b;
    uint64_t d;

    backoff_init(&b, BACKOFF_INITIAL_MS, BACKOFF_CAP_MS);
    d = backoff_next(&b);
    ok(d >= 800 && d < 1600, "the default sources give a first delay in "
                             "[800, 1600) ms");
}

int
main(void)
{
    test_doubling_to_the_cap();
    test_jitter_range();
    test_reset_after_quiet();
    test_lower_cap();
    test_broken_random();
    test_real_sources();
    return tap_done();
}
