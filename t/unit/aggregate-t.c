/*
 * Aggregation: an identical Event for one object within the window is a
 * repeat of the first, with a growing series count; a replay from the
 * committed view decides the same counts again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "heap.h"
#include "tap.h"

/* A StatusChanged Event with note. */
static struct event
event_with(const char *note)
{
    struct event e = {
        .reason = "StatusChanged", .action = "UpdateStatus", .type = "Normal"};

    snprintf(e.note, sizeof(e.note), "%s", note);
    return e;
}

/* Repeats within the window count up; after it, a new Event starts. */
static void
test_window(void)
{
    struct aggregate *t = aggregate_new();
    struct event e = event_with("phase Pending → Running");
    struct event other = event_with("phase Running → Pending");
    struct aggregate_decision d;

    aggregate_decide(t, "u-1", &e, "nb.aaaa", 1000, &d);
    is_int(d.count, 1, "a first Event is new");
    is_str(d.name, "nb.aaaa", "with its own name");

    aggregate_decide(t, "u-1", &other, "nb.bbbb", 1001, &d);
    is_int(d.count, 1, "another message is another Event");

    aggregate_decide(t, "u-1", &e, "nb.cccc", 1000 + 300, &d);
    is_int(d.count, 2, "a repeat within ten minutes counts 2");
    is_str(d.name, "nb.aaaa", "and patches the first Event");

    aggregate_decide(t, "u-2", &e, "nb2.dddd", 1301, &d);
    is_int(d.count, 1, "the same message of another object is new");

    aggregate_decide(t, "u-1", &e, "nb.eeee", 1300 + AGGREGATE_WINDOW_S + 1,
                     &d);
    is_int(d.count, 1, "a repeat after the window is new again");
    is_str(d.name, "nb.eeee", "under its own name");
    aggregate_free(t);
}

/* A replay from the saved committed view decides what was decided. */
static void
test_replay(void)
{
    char dir[] = "/tmp/aggregate-t.XXXXXX", path[64];
    struct aggregate *t = aggregate_new(), *again = aggregate_new();
    struct event e = event_with("condition Ready True → False");
    struct aggregate_decision first, second, replayed;

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/k.aggregate", dir);

    aggregate_decide(t, "u-1", &e, "nb.1111", 2000, &first);
    aggregate_commit(t, &first);
    aggregate_decide(t, "u-1", &e, "nb.2222", 2010, &second);
    is_int(second.count, 2, "the second occurrence is a repeat");
    /* Only the first reached the watermark before the crash. */
    ok(aggregate_save(t, path, 2011) == 0, "the committed view is saved");

    ok(aggregate_load(again, path) == 0, "and loaded after a restart");
    aggregate_decide(again, "u-1", &e, "nb.2222", 2020, &replayed);
    is_int(replayed.count, second.count, "the replay decides the same count");
    is_str(replayed.name, second.name, "for the same Event");

    aggregate_commit(again, &replayed);
    ok(aggregate_save(again, path, 2021) == 0, "the replay is committed");
    aggregate_free(again);
    again = aggregate_new();
    aggregate_load(again, path);
    aggregate_decide(again, "u-1", &e, "nb.3333", 2030, &replayed);
    is_int(replayed.count, 3, "a later occurrence continues the series");

    unlink(path);
    rmdir(dir);
    aggregate_free(t);
    aggregate_free(again);
}

/*
 * The table holds an entry for each Event of the last ten minutes: at 50
 * Events a second, 30,000.  Each costs its names' length, not their
 * limit.
 */
static void
test_memory(void)
{
    struct aggregate *t = aggregate_new();
    struct aggregate_decision d;
    size_t before = heap_in_use(), per;
    char uid[32], name[64];

    for (int i = 0; i < 10000; i++) {
        struct event e = event_with("spec changed (generation 1 → 2)");

        snprintf(uid, sizeof(uid), "u-%d", i);
        snprintf(name, sizeof(name), "notebook-%d.0123456789abcdef", i);
        aggregate_decide(t, uid, &e, name, 1000, &d);
        aggregate_commit(t, &d);
    }
    per = (heap_in_use() - before) / 10000;
    printf("#   %zu bytes per entry\n", per);
    if (heap_measurable())
        ok(per <= 200,
           "an entry with a 30-character name takes at most 200 bytes");
    else
        skip("an entry with a 30-character name takes at most 200 bytes",
             "the heap cannot be measured here");
    aggregate_free(t);
}

/*
 * Entries past the window are dropped within a minute, whichever buckets
 * later Events fall into: the table stays as large as the window.
 */
static void
test_expiry(void)
{
    struct aggregate *t = aggregate_new();
    struct aggregate_decision d;
    struct event e = event_with("phase Pending → Running");
    size_t before = heap_in_use(), full, after;
    char uid[32];

    for (int i = 0; i < 10000; i++) {
        snprintf(uid, sizeof(uid), "u-%d", i);
        aggregate_decide(t, uid, &e, "notebook.0123456789abcdef", 1000, &d);
        aggregate_commit(t, &d);
    }
    full = heap_in_use() - before;
    /* One Event, two minutes past the window of all the others. */
    aggregate_decide(t, "late", &e, "late.0123456789abcdef",
                     1000 + AGGREGATE_WINDOW_S + 120, &d);
    aggregate_commit(t, &d);
    after = heap_in_use() - before;
    printf("#   %zu bytes held by 10,000 entries, %zu after\n", full, after);
    if (heap_measurable())
        ok(after < full / 10, "the entries past the window are all dropped");
    else
        skip("the entries past the window are all dropped",
             "the heap cannot be measured here");
    aggregate_free(t);
}

int
main(void)
{
    test_window();
    test_replay();
    test_memory();
    test_expiry();
    return tap_done();
}
