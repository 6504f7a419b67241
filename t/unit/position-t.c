/*
 * The position of one watcher's changes: the watermark moves as each
 * change's Events are decided, in the order of arrival, never comparing
 * resourceVersions as numbers; the FIFO empties only over a run of
 * finished changes, whatever order their Events finish in; and the
 * outbox keeps every Event decided and not yet written across a restart.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aggregate.h"
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

/* How many objects KEY.state and its journal hold. */
static size_t
saved_count(const char *key)
{
    char path[512], err[128], *rv = NULL;
    struct store *store = store_new();
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/%s.state", dir, key);
    if (store && store_load(path, store, &rv, err, sizeof(err)) == 0)
        n = store_count(store);
    free(rv);
    store_free(store);
    return n;
}

/* The size of DIR/NAME, -1 if there is none. */
static long
size_of(const char *name)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
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

/*
 * The watermark is the last change decided, in arrival order; Events
 * finishing out of order empty the FIFO in arrival order.
 */
static void
test_out_of_order(void)
{
    struct position *p;
    struct pending *first, *second, *third;

    ok(position_open(dir, "k1", &p) == 0, "a position opens in an empty dir");
    ok(!position_had_state(p), "with no saved state");

    first = push_one(p, "u-1", "100");
    second = push_one(p, "u-2", "99");
    position_save(p, true);
    is_str(saved_watermark("k1"), "99",
           "the watermark is the second's, although 99 < 100 as numbers");
    third = push_one(p, "u-3", "a7");
    is_int(position_waiting(p), 3, "three changes wait");

    position_event_done(second);
    is_int(position_waiting(p), 3, "the second finishing first frees nothing");
    position_event_done(first);
    is_int(position_waiting(p), 1, "the first finishing frees both");
    position_event_done(third);
    is_int(position_waiting(p), 0, "the third finishing empties the FIFO");
    position_save(p, true);
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

/* An outbox Event of reason for object uid. */
static struct outbox_event
outbox_event(const char *uid, const char *reason)
{
    static char name[64];

    snprintf(name, sizeof(name), "%s.%s", uid, reason);
    return (struct outbox_event){
        .resource = "notebooks.v1beta1.tensorstack.dev",
        .uid = uid,
        .reason = reason,
        .namespace = "ns",
        .name = name,
        .body = "{\"note\":\"a\\ttab, escaped as JSON does\"}",
        .patch = "",
    };
}

/* The patch of the last entry collect saw. */
static char restored_patch[256];

/* Collects the names of the entries found at the start, space-separated. */
static int
collect(struct outbox_entry *entry, const struct outbox_event *event, void *ctx)
{
    char *names = ctx;

    (void)entry;
    snprintf(restored_patch, sizeof(restored_patch), "%s", event->patch);
    if (strcmp(event->reason, "Created") != 0 || event->body[0] != '{' ||
        strcmp(event->namespace, "ns") != 0)
        return -1;
    strcat(names, names[0] ? " " : "");
    strcat(names, event->name);
    return 0;
}

/* The names of the Events the outbox of key holds when it opens. */
static const char *
restored(const char *key)
{
    static char names[4096];
    struct position *p;

    names[0] = '\0';
    if (position_open(dir, key, &p) < 0)
        return "(does not open)";
    if (position_outbox_restored(p, collect, names) < 0)
        snprintf(names, sizeof(names), "(an entry came back damaged)");
    position_free(p);
    return names;
}

/*
 * Events decided wait for a save; what a restart finds in the outbox is
 * every Event saved and not marked written, in order, across snapshots.
 */
static void
test_outbox(void)
{
    struct outbox_event e1 = outbox_event("u-1", "Created");
    struct outbox_entry *first, *second;
    struct position *p;
    char uid[32], rv[32];

    ok(position_open(dir, "k4", &p) == 0, "a fourth position opens");
    push_one(p, "u-0", "1");
    position_save(p, true);
    first = position_outbox_add(p, &e1);
    ok(first && position_unsaved(p), "an Event added waits for a save");
    second = position_outbox_add(
        p, &(struct outbox_event){"r", "u-2", "Created", "ns", "u-2.C", "{}",
                                  "{\"series\":{\"count\":2}}"});
    ok(!position_outbox_add(p, &(struct outbox_event){"r", "u\t3", "Created",
                                                      "ns", "n", "{}", ""}),
       "an Event whose field holds a tab is refused");
    is_str(restored("k4"), "", "before the save, a restart finds none");
    position_save(p, false);
    ok(!position_unsaved(p), "a save is due at once, not forced");
    is_str(restored("k4"), "u-1.Created u-2.C",
           "after it, a restart finds both, in order");
    is_str(restored_patch, "{\"series\":{\"count\":2}}",
           "with the repeat's patch");

    position_outbox_done(p, first);
    position_save(p, true);
    is_str(restored("k4"), "u-2.C", "an Event written is not found again");
    is_int(position_outbox_size(p), 1, "one entry is left");

    for (int i = 0; i < 20000 && size_of("k4.state.journal") > 16; i++) {
        snprintf(uid, sizeof(uid), "u-%d", i + 10);
        snprintf(rv, sizeof(rv), "%d", i + 10);
        position_event_done(push_one(p, uid, rv));
        position_save(p, true);
    }
    is_int(size_of("k4.state.journal"), 16, "the journal starts anew");
    is_str(restored("k4"), "u-2.C",
           "and the snapshot carries the entry still open");
    position_outbox_done(p, second);
    position_save(p, true);
    is_str(restored("k4"), "", "until it is written");
    position_free(p);
}

/*
 * Saves append to the journal, which reopening replays, the aggregation
 * table's lines with it; once the journal outgrows what it extends, a
 * save writes a snapshot and starts the journal anew.
 */
static void
test_journal(void)
{
    struct event e = {.reason = "Created",
                      .action = "Create",
                      .type = "Normal",
                      .note = "created"};
    struct aggregate_decision d;
    struct position *p;
    struct pending *pending;
    char uid[32], rv[32];
    long snapshot, journal, now;
    bool compacted = false;

    ok(position_open(dir, "k3", &p) == 0, "a third position opens");
    {
        struct change c = change_at("u-0", "1");

        pending = position_push(p, &c);
    }
    pending->outstanding = 1;
    aggregate_decide(position_aggregate(p), "u-0", &e, "nb.first", time(NULL),
                     &pending->decisions[0]);
    pending->n_decisions = 1;
    position_seal(pending);
    position_event_done(pending);
    position_save(p, true);
    snapshot = size_of("k3.state");
    ok(snapshot > 0 && size_of("k3.state.journal") > 0,
       "the first save writes a snapshot and starts its journal");
    position_event_done(push_one(p, "u-1", "2"));
    position_save(p, true);
    ok(size_of("k3.state") == snapshot,
       "a later save leaves the snapshot as it was");
    ok(size_of("k3.state.journal") > 16, "and appends to the journal");
    position_free(p);
    is_str(saved_watermark("k3"), "2", "the watermark saved is the journal's");

    ok(position_open(dir, "k3", &p) == 0, "the position opens again");
    aggregate_decide(position_aggregate(p), "u-0", &e, "nb.other", time(NULL),
                     &d);
    is_int(d.count, 2, "with the journal's entry of the aggregation table");
    is_str(d.name, "nb.first", "under its first Event's name");

    position_event_done(push_one(p, "u-2", "3"));
    position_save(p, true);
    journal = size_of("k3.state.journal");
    for (int i = 0; i < 20000 && !compacted; i++) {
        snprintf(uid, sizeof(uid), "u-%d", i + 10);
        snprintf(rv, sizeof(rv), "%d", i + 10);
        position_event_done(push_one(p, uid, rv));
        if (i % 20 != 19)
            continue;
        position_save(p, true);
        now = size_of("k3.state.journal");
        compacted = now < journal;
        journal = now;
    }
    ok(compacted, "the journal starts anew once it outgrows the snapshot");
    ok(size_of("k3.state") > snapshot, "after a snapshot of every object");
    is_int(saved_count("k3"), 3 + atoi(rv) - 9,
           "the objects saved before and every one since");
    position_free(p);
    is_str(saved_watermark("k3"), rv, "which loads at the last watermark");

    ok(position_open(dir, "k3", &p) == 0, "the position opens once more");
    aggregate_decide(position_aggregate(p), "u-0", &e, "nb.third", time(NULL),
                     &d);
    is_int(d.count, 2, "with the aggregation table the snapshot carries");
    is_str(d.name, "nb.first", "its names too");
    is_int(size_of("k3.aggregate"), -1, "and no table in a file of its own");
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
    test_journal();
    test_outbox();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# cannot remove %s\n", dir);
    return tap_done();
}
