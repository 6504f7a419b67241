/*
 * Aggregation of repeated Events: identical Events for one object (same
 * reason and message) within AGGREGATE_WINDOW_S become one Event whose
 * series count grows.
 *
 * The count a repeat gets must not depend on crashes: a repeat is written
 * as a merge patch that sets the series count to an absolute value, and
 * the table is kept twice.  The decided view changes as Events are
 * decided; the committed view only as their change is noted in the
 * position (position.h), and it is what the state file carries.  A replay
 * after a crash, of changes decided but not yet saved, starts from the
 * committed view and sees the same changes in the same order, so it
 * decides the same counts and patches the same values again, which
 * changes nothing.  Only a replay more than AGGREGATE_WINDOW_S later can
 * decide differently: it then writes the repeat as an Event of its own.
 */
#ifndef EC_AGGREGATE_H
#define EC_AGGREGATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "event.h"

/* client-go's aggregation window: ten minutes. */
#define AGGREGATE_WINDOW_S 600

struct aggregate;

/* What was decided for one Event. */
struct aggregate_decision {
    uint64_t key;                  /* hash of uid, reason and message */
    char name[EVENT_NAME_MAX + 1]; /* the Event written or patched */
    int64_t count;                 /* 1: a new Event; more: a repeat */
    time_t when;
};

struct aggregate *aggregate_new(void);
void aggregate_free(struct aggregate *table);

/*
 * Decides whether event, named name if it is new, repeats an earlier one
 * at time now; fills d.  Returns 0 or -ENOMEM.
 */
int aggregate_decide(struct aggregate *table, const char *uid,
                     const struct event *event, const char *name, time_t now,
                     struct aggregate_decision *d);

/* Records a decision in the committed view: its change is written. */
int aggregate_commit(struct aggregate *table,
                     const struct aggregate_decision *d);

/*
 * Calls cb with each entry of the committed view still inside the window
 * at now, as a line of a saved view, until cb returns nonzero; returns
 * that, or 0.
 */
int aggregate_lines(struct aggregate *table, time_t now,
                    int (*cb)(const char *line, void *ctx), void *ctx);

/* Saves the committed view to path atomically.  Returns 0 or -errno. */
int aggregate_save(struct aggregate *table, const char *path, time_t now);

/*
 * Loads a saved view into both views; a missing file is empty, and a line
 * that does not parse ends it.  Returns 0 or a negative errno.
 */
int aggregate_load(struct aggregate *table, const char *path);

/* The longest line of a saved view, its newline and NUL included. */
#define AGGREGATE_LINE_MAX (16 + 1 + 20 + 1 + 20 + 1 + EVENT_NAME_MAX + 2)

/*
 * The committed view of a decision as a line of a saved view, into buf of
 * AGGREGATE_LINE_MAX bytes: a journal of the table between saves.
 */
void aggregate_line(const struct aggregate_decision *d, char *buf, size_t size);

/*
 * Puts one line of a saved view into both views, replacing the entry of
 * its key.  Returns 0, -EINVAL if it does not parse, or -ENOMEM.
 */
int aggregate_restore(struct aggregate *table, const char *line);

#endif
