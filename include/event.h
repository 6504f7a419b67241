/*
 * Deciding Events: which Events a change makes (reason, action, type,
 * message), their names and their JSON bodies for events.k8s.io/v1 and
 * core/v1.  Pure functions of their arguments, so that the same change
 * always makes the same Events: replays after a crash depend on it.
 */
#ifndef EC_EVENT_H
#define EC_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "change.h"

/* The apiserver's limits (pkg/apis/core/validation/events.go). */
#define EVENT_REASON_MAX   128  /* reason and action, characters */
#define EVENT_INSTANCE_MAX 128  /* reportingInstance, characters */
#define EVENT_NOTE_MAX     1024 /* note / message, bytes */
#define EVENT_NAME_MAX     253  /* a DNS subdomain */

/* Updated, StatusChanged and Deleting can come from one change. */
#define EVENT_PER_CHANGE_MAX 3

enum event_api {
    EVENT_API_EVENTS_V1, /* events.k8s.io/v1 */
    EVENT_API_CORE_V1,   /* v1, where events.k8s.io is not served */
};

struct event {
    const char *reason; /* a fixed word: "Created", "Updated", ... */
    const char *action; /* its verb form: "Create", "Update", ... */
    const char *type;   /* "Normal" or "Warning" */
    /*
     * Room beyond the limit: text is first built, possibly cut anywhere by
     * the buffer's end, then cut to EVENT_NOTE_MAX on a UTF-8 boundary.
     */
    char note[2 * EVENT_NOTE_MAX];
};

/* Who writes the Events. */
struct event_source {
    const char *reporting_controller;
    const char *reporting_instance;
};

/*
 * Fills out with the Events change makes, at most EVENT_PER_CHANGE_MAX,
 * and returns how many: 0 for PROGRESS, SYNCED and metadata noise.
 */
int event_decide(const struct change *change, struct event *out);

/*
 * The fixed word of reason, for an Event read back from the outbox;
 * "Unknown" for a word this build does not write.
 */
const char *event_reason_word(const char *reason);

/* The fields of the object an Event is about: new, or old if new is empty. */
const struct object_fields *event_object(const struct change *change);

/*
 * The Event's name, "<object name>.<16 hex>": the hex is SHA-256 of the
 * object's uid, the reason and what tells this occurrence of the reason
 * from the others: nothing for Created, Deleting and Deleted, which
 * happen once to an object; the generation for Updated; for
 * StatusChanged, the resourceVersion since which the old status had held
 * (object_status_since) and the new status.  So a replayed change gets
 * the same name, and so does a change restated by a relist after a gap:
 * "created (observed at resync)" of an object whose Created is written,
 * "generation 2 → 4" after the Event of generation 4, or a status change
 * followed by spec changes.  The API server refuses either with 409.
 * Always a valid DNS subdomain of at most EVENT_NAME_MAX characters.
 * name must hold EVENT_NAME_MAX + 1 bytes.  Returns 0 or -EIO when the
 * digest fails.
 *
 * A change whose Events were decided is never decided again, even after
 * a crash (the outbox, position.h), so a relist restates only changes
 * never decided; the names above make a restatement harmless should one
 * come all the same, from a state saved by another replica before the
 * last upload.
 */
int event_name(const struct change *change, const char *reason, char *name);

/* The namespace the Event goes to: the object's, or "default". */
const char *event_namespace(const struct change *change);

/*
 * Cuts s to at most max bytes without splitting a UTF-8 sequence;
 * returns the new length.
 */
size_t event_utf8_cut(char *s, size_t max);

/* Formats t as RFC 3339 with microseconds, "2026-12-03T18:00:00.123456Z". */
void event_time_format(const struct timespec *t, char *buf, size_t size);

/*
 * The JSON body that creates the Event, malloc'd; NULL when out of memory.
 * count > 1 adds a series (events.k8s.io/v1) or a count (core/v1), for an
 * aggregated Event whose first write went missing.
 */
char *event_body(enum event_api api, const struct change *change,
                 const struct event *event, const char *name,
                 const struct event_source *source, const struct timespec *now,
                 int64_t count);

/*
 * The merge patch that records a repeat of an Event: the series (or the
 * count) set to count, an absolute value so that a replayed patch changes
 * nothing.  malloc'd; NULL when out of memory.
 */
char *event_repeat_patch(enum event_api api, int64_t count,
                         const struct timespec *now);

/* The path to POST Events of the namespace to, or to PATCH name at. */
void event_path(enum event_api api, const char *namespace, const char *name,
                char *buf, size_t size);

#endif
