/*
 * Where the emitter stands in the changes of one watcher (one KEY): the
 * watermark, that is the resourceVersion of the last change whose Events
 * are decided and saved, the state saved with it, and the outbox of
 * Events decided and not yet known to be written.
 *
 * A change's Events are decided in the order the changes arrive, and the
 * change is noted at once: what it did to the object, the watermark, the
 * aggregation table's counts and an outbox entry per Event, all saved
 * together in DIR/KEY.state and its journal (store.h).  An Event is sent
 * only once its outbox entry is saved, and leaves the outbox once the
 * apiserver has answered.  So a crash at any moment leaves every decided
 * Event either in the outbox, sent again at the next start under the
 * name it had (event.h; the apiserver refuses a duplicate with 409), or
 * written; and a restarted watcher resumes after the last change decided,
 * so that no change is decided twice, even one that a relist after a gap
 * in the history would restate otherwise.  The emitter keeps no copy of
 * the objects: writing the snapshot anew reads them back.
 */
#ifndef EC_POSITION_H
#define EC_POSITION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aggregate.h"
#include "change.h"
#include "event.h"

/*
 * A save appends what changed since the last one to the journal of the
 * snapshot, and costs what changed and an fdatasync.  Once the journal
 * outgrows the snapshot it extends (or
 * POSITION_JOURNAL_MIN), the save writes both anew instead, which costs
 * what is held.  A save that Events wait for happens at once.  The others
 * only note Events written and changes that make none, and a crash before
 * them costs only Events sent again and refused, and changes decided
 * again with no Event: they wait POSITION_SAVE_MS, and for a large store,
 * which takes long to write, POSITION_SAVE_SHARE times the last save's
 * duration for each position open, so that all of them together take at
 * most a tenth of the emitter's time; never more than POSITION_SAVE_MAX_MS.
 */
#define POSITION_SAVE_MS     100
#define POSITION_SAVE_SHARE  10
#define POSITION_SAVE_MAX_MS 10000
#define POSITION_JOURNAL_MIN (256 * 1024)

struct position;

struct outbox_entry;

/* One change waiting for its Events to be written. */
struct pending {
    struct pending *next;
    struct position *position;
    struct change change; /* a deep copy; the strings live in strings */
    char *strings;
    struct timespec arrived; /* CLOCK_MONOTONIC, for the lag metric */
    int outstanding;         /* Events submitted and not yet finished */
    bool sealed;             /* every Event of it has been submitted */
    int n_decisions;
    struct aggregate_decision decisions[EVENT_PER_CHANGE_MAX];
};

/*
 * Opens the position of key: loads DIR/KEY.state with the aggregation
 * table and the outbox it carries, and its journal; first DIR/KEY.aggregate,
 * where earlier versions kept the table.  Returns 0 or a negative errno,
 * logged here.
 */
int position_open(const char *state_dir, const char *key,
                  struct position **out);

void position_free(struct position *position);

const char *position_key(const struct position *position);

/* Whether the state file existed: false on a first start. */
bool position_had_state(const struct position *position);

/* The aggregation table of this key. */
struct aggregate *position_aggregate(struct position *position);

/* Appends a change to the FIFO.  NULL when out of memory. */
struct pending *position_push(struct position *position,
                              const struct change *change);

/*
 * Marks that every Event of pending is decided, and notes the change in
 * the state the next save writes; one that made none is done at once.
 */
void position_seal(struct pending *pending);

/* One Event of pending is written or dropped for good. */
void position_event_done(struct pending *pending);

/*
 * Saves the state if it changed and POSITION_SAVE_MS passed since the
 * last save, or at once if force or if outbox entries wait for it.
 * Returns 0 or a negative errno, logged here.
 */
int position_save(struct position *position, bool force);

/* How many times the state was saved, for uploading what changed. */
unsigned long position_saves(const struct position *position);

/* Changes in the FIFO. */
size_t position_waiting(const struct position *position);

/* What an outbox entry holds: all it takes to send its Event again. */
struct outbox_event {
    const char *resource, *uid; /* for the metrics and the object's order */
    const char *reason, *namespace, *name;
    const char *body;  /* the create body */
    const char *patch; /* the repeat's merge patch, "" for a create */
};

/*
 * Adds an Event to the outbox: it may be sent once position_unsaved is
 * false.  NULL when out of memory or when a field holds a tab, or the
 * entry is too long to save.
 */
struct outbox_entry *position_outbox_add(struct position *position,
                                         const struct outbox_event *event);

/* The Event of entry was written or refused for good: frees entry. */
void position_outbox_done(struct position *position,
                          struct outbox_entry *entry);

/* Whether outbox entries wait for a save before they may be sent. */
bool position_unsaved(const struct position *position);

/* Entries in the outbox. */
size_t position_outbox_size(const struct position *position);

/*
 * Calls cb, in order, for each entry position_open found in the outbox:
 * Events decided and saved before a restart, perhaps never written.
 * Stops at cb's first nonzero return and returns it.
 */
int position_outbox_restored(struct position *position,
                             int (*cb)(struct outbox_entry *entry,
                                       const struct outbox_event *event,
                                       void *ctx),
                             void *ctx);

#endif
