/*
 * Where the emitter stands in the changes of one watcher (one KEY): the
 * watermark, that is the resourceVersion up to which every change's
 * Events are written, and the state saved with it.
 *
 * Writes complete out of order, so changes wait in a FIFO in the order
 * they arrived; the watermark moves to a change's resourceVersion once it
 * and every change before it are done.  resourceVersions are opaque: the
 * order is the order of arrival, never a comparison.  Only then is what
 * the change did to the object noted and, now and then (see
 * POSITION_SAVE_SHARE), saved in DIR/KEY.state and its journal (store.h),
 * from which a restarted watcher resumes.  The emitter keeps no copy of
 * the objects: writing the snapshot anew reads them back.  A crash
 * therefore replays every change whose Events might be missing, and
 * replayed Events have the names they had (event.h), so the apiserver
 * refuses the duplicates with 409.
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
 * outgrows the snapshot and aggregation table it extends (or
 * POSITION_JOURNAL_MIN), the save writes both anew instead, which costs
 * what is held.  Ten saves a second bound the replay after a crash;
 * but a large store takes long to write, and so a position saves again
 * only after POSITION_SAVE_SHARE times its last save's duration for each
 * position open: all of them together take at most a tenth of the
 * emitter's time.  Every POSITION_SAVE_MAX_MS at the least, which bounds
 * the replay.
 */
#define POSITION_SAVE_MS     100
#define POSITION_SAVE_SHARE  10
#define POSITION_SAVE_MAX_MS 10000
#define POSITION_JOURNAL_MIN (256 * 1024)

struct position;

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
 * Opens the position of key: loads DIR/KEY.state, the aggregation table
 * saved beside it, and their journal.  Returns 0 or a negative errno,
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
 * Marks that every Event of pending was submitted; one that made none is
 * done at once.
 */
void position_seal(struct pending *pending);

/* One Event of pending is written or dropped for good. */
void position_event_done(struct pending *pending);

/*
 * Saves the state if the watermark moved and POSITION_SAVE_MS passed since
 * the last save, or whenever it moved if force.  Returns 0 or a negative
 * errno, logged here.
 */
int position_save(struct position *position, bool force);

/* How many times the state was saved, for uploading what changed. */
unsigned long position_saves(const struct position *position);

/* Changes in the FIFO. */
size_t position_waiting(const struct position *position);

#endif
