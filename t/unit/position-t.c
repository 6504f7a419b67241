/*
 * The watermark of one watcher's changes: it moves only over a run of
 * finished changes at the head of the FIFO, whatever order their Events
 * finish in, and resourceVersions are taken in the order of arrival, never
 * compared as numbers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "position.h"
#include "store.h"
#include "tap.h"

static char dir[] = "/tmp/position-t.XXXXXX";

/* A created object at resourceVersion rv. */
static struct change
change_at(const char *uid, const char *rv)
{
    struct change c = {
        .type = CHANGE_CREATED,
        .resource = "notebooks.v1beta1.tensorstack.dev",
        .api_version = "tensorstack.dev/v1beta1",
        .kind = "Notebook",
        .resource_version = rv,
        .manager = "",
        .old = {"", "", "", "", 0, "", "", "", ""},
        .new = {uid, uid, "ns", rv, 1, "", "", "", ""},
    };
    return c;
}

/* The resourceVersion saved in KEY.state, "" when there is none. */
static const char *
saved_watermark(const char *key)
{
    static char text[64];
    char path[512], err[128], *rv = NULL;
    struct store *store = store_new();

    snprintf(path, sizeof(path), "%s/%s.state", dir, key);
    text[0] = '\0';
    if (store && store_load(path, store, &rv, err, sizeof(err)) == 0)
        snprintf(text, sizeof(text), "%s", rv);
    free(rv);
    store_free(store);
    return text;
}

/* Pushes a change with one outstanding Event and seals it. */
static struct pending *
push_one(struct position *p, const char *uid, const char *rv)
{
    struct change c = change_at(uid, rv);
    struct pending *pending = position_push(p, &c);

    pending->outstanding = 1;
    position_seal(pending);
    return pending;
}

/* Events finishing out of order move the watermark in arrival order. */
static void
test_out_of_order(void)
{
    struct position *p;
    struct pending *first, *second, *third;

    ok(position_open(dir, "k1", &p) == 0, "a position opens in an empty dir");
    ok(!position_had_state(p), "with no saved state");

    first = push_one(p, "u-1", "100");
    second = push_one(p, "u-2", "99");
    third = push_one(p, "u-3", "a7");
    is_int(position_waiting(p), 3, "three changes wait");

    position_event_done(second);
    position_save(p, true);
    is_int(position_waiting(p), 3, "the second finishing first moves nothing");
    is_str(saved_watermark("k1"), "", "and nothing is saved");

    position_event_done(first);
    position_save(p, true);
    is_int(position_waiting(p), 1, "the first finishing releases both");
    is_str(saved_watermark("k1"), "99",
           "the watermark is the second's, although 99 < 100 as numbers");

    position_event_done(third);
    position_save(p, true);
    is_int(position_waiting(p), 0, "the third finishing empties the FIFO");
    is_str(saved_watermark("k1"), "a7", "an opaque resourceVersion is saved");
    position_free(p);

    ok(position_open(dir, "k1", &p) == 0, "the position opens again");
    ok(position_had_state(p), "with its saved state");
    position_free(p);
}

/* A change that makes no Event is done when sealed. */
static void
test_no_event(void)
{
    struct position *p;
    struct change c = change_at("u-9", "7");
    struct pending *blocked, *pending;

    ok(position_open(dir, "k2", &p) == 0, "a second position opens");
    blocked = push_one(p, "u-8", "6");
    pending = position_push(p, &c);
    position_seal(pending);
    is_int(position_waiting(p), 2, "an empty change waits behind a busy one");
    position_event_done(blocked);
    position_save(p, true);
    is_int(position_waiting(p), 0, "and passes with it");
    is_str(saved_watermark("k2"), "7", "the watermark is the empty change's");
    position_free(p);
}

int
main(void)
{
    char cmd[64];

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_out_of_order();
    test_no_event();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# cannot remove %s\n", dir);
    return tap_done();
}
