/*
 * A change to a watched object, as the watcher finds it and the emitter
 * turns it into an Event.  The watcher fills one per change and sends it
 * through a pipe as a record (record.h); no field is optional, but a
 * string may be "".
 */
#ifndef EC_CHANGE_H
#define EC_CHANGE_H

#include <stdint.h>

enum change_type {
    CHANGE_CREATED = 1,
    CHANGE_UPDATED,
    CHANGE_DELETED,
    /* A bookmark or the end of a list: resource_version only. */
    CHANGE_PROGRESS,
    /* The first list is complete. */
    CHANGE_SYNCED
};

/* Found by diffing a relist, not by a watch event. */
#define CHANGE_AT_RELIST 0x1u
/* Deleted while not watching: the object's last state is not known. */
#define CHANGE_FINAL_STATE_UNKNOWN 0x2u
/*
 * A CHANGE_CREATED for an object that already existed at the very first
 * list, with no saved position: the emitter records its state, so that
 * later relists diff against it, and writes no Event for it.
 */
#define CHANGE_EXISTING 0x4u

/* The fields of one version of the object that Events are made from. */
struct object_fields {
    const char *uid, *name, *namespace, *resource_version;
    int64_t generation;
    const char *deletion_timestamp; /* "" when unset */
    const char *finalizers;         /* comma-separated, "" when none */
    /* Canonical text of the tracked status fields, "" when none. */
    const char *status;
    /*
     * The resourceVersion of the version where status took its value, ""
     * for this very version (object_status_since).  Kept through changes
     * that leave the status alone, so that a status change has the same
     * identity seen by a watch and restated by a relist (event_name).
     */
    const char *status_since;
};

struct change {
    enum change_type type;
    unsigned flags;
    const char *resource; /* "notebooks.v1beta1.tensorstack.dev" */
    const char *api_version, *kind;
    /* Where the stream stands after this change. */
    const char *resource_version;
    /* The field manager of the latest write, "" if unknown. */
    const char *manager;
    struct object_fields old, new; /* old: all "" / 0 for a create */
};

#endif
