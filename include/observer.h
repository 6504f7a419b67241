/*
 * The observer: decides what changed.  It holds the store of the objects a
 * watcher knows, compares each version of an object the watcher receives
 * (a watch event or a list item) with it, and writes a change record for
 * every change it finds to the watcher's output.
 *
 * It also holds the stream position, the resourceVersion up to which every
 * change has been written: where a broken watch resumes.
 */
#ifndef EC_OBSERVER_H
#define EC_OBSERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "change.h"

struct json_object;
struct store;

/* resourceVersions are opaque; etcd's are decimal numbers of a few digits. */
#define OBSERVER_RESOURCE_VERSION_MAX 128

enum observed_type {
    OBSERVED_ADDED,
    OBSERVED_MODIFIED,
    OBSERVED_DELETED,
};

struct observer_settings {
    int output_fd;
    const char *resource; /* the resource's key, for records and logs */
    /* The resource label of the metrics: the plural name, "notebooks". */
    const char *metrics_resource;
    const char *api_version, *kind;
    char *const *status_fields;
    size_t n_status_fields;
};

struct observer {
    struct observer_settings settings;
    struct store *store;
    struct store *listed; /* a list in progress, or NULL */
    bool report_list;     /* a relist: report what it changed */
    bool synced;          /* a SYNCED record has been written */
    bool progress_due;    /* the position moved past the last record */
    char position[OBSERVER_RESOURCE_VERSION_MAX + 1];
    char metric_labels[256];
};

/* Returns 0 or -ENOMEM. */
int observer_init(struct observer *o, const struct observer_settings *s);

void observer_release(struct observer *o);

/* "" until a list or a snapshot gave one. */
const char *observer_position(const struct observer *o);

/*
 * Takes the store of a loaded snapshot and its resourceVersion as the
 * starting point, and writes SYNCED: the watcher resumes from there
 * without a list.  The observer owns the store from then on.
 */
int observer_resume(struct observer *o, struct store *store,
                    const char *resource_version);

/*
 * A watch event's object: writes CREATED, UPDATED or DELETED as the store
 * says, or nothing for a repeat (a resourceVersion the store has) or a
 * write that changed no kept field.  An object that cannot be used is
 * skipped with a warning.  Returns 0, or the negative errno of writing the
 * record.
 */
int observer_event(struct observer *o, enum observed_type type,
                   struct json_object *object);

/* A bookmark: the position moves to resource_version. */
void observer_bookmark(struct observer *o, const char *resource_version);

/*
 * Writes one PROGRESS record if the position moved since the last record:
 * called after each chunk of a stream, it coalesces bookmarks and silent
 * writes into one record per chunk.
 */
int observer_flush(struct observer *o);

/*
 * A list begins: its items are gathered apart until observer_list_end.
 * The first list of a watcher without a snapshot reports its objects as
 * CHANGE_CREATED with CHANGE_EXISTING (they existed before the watcher
 * started: no Event, but the reader learns their state); any later one
 * reports what changed since the store was last current.
 */
int observer_list_begin(struct observer *o);

/* One object of the list; skipped with a warning when it cannot be used. */
int observer_list_item(struct observer *o, struct json_object *object);

/* An object a streaming list retracted before it ended. */
void observer_list_remove(struct observer *o, struct json_object *object);

/*
 * The list is complete at resource_version: writes the existing objects
 * of a first list, or CREATED, UPDATED and DELETED (all CHANGE_AT_RELIST)
 * for the differences of a relist, each at the position from before the
 * list; then moves the position to resource_version and writes SYNCED the
 * first time, PROGRESS after.
 */
int observer_list_end(struct observer *o, const char *resource_version);

/* Drops a list that broke off; the store is untouched. */
void observer_list_abort(struct observer *o);

#endif
