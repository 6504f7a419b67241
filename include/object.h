/*
 * The fields of a Kubernetes object that the watcher keeps, read from the
 * object's JSON: the identity and metadata Events are made from, and a
 * canonical text of the tracked status fields, so that "did the status
 * change" is a string comparison.
 *
 * The JSON comes from the API server and is trusted no further than its
 * syntax: every field is checked for its type and size before use.
 */
#ifndef EC_OBJECT_H
#define EC_OBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "change.h"

struct json_object;

/*
 * Limits on what one object may carry.  Names are at most 253 characters
 * and uids are UUIDs, so the first limits only stop a hostile server; the
 * text limits keep a change record (two versions of an object) well under
 * RECORD_PAYLOAD_MAX.
 */
#define OBJECT_NAME_MAX       1024
#define OBJECT_SHORT_MAX      128 /* uid, resourceVersion, timestamps */
#define OBJECT_FINALIZERS_MAX 4096
/* A status field whose text is longer is kept as a digest of it. */
#define OBJECT_STATUS_FIELD_MAX 4096
/* A status text longer than this is kept as one digest. */
#define OBJECT_STATUS_MAX 24576

/* One version of an object, as read. */
struct object {
    /* Strings borrow from the JSON, or from the texts below. */
    struct object_fields fields;
    /* The field manager of the latest write, "" if unknown. */
    const char *manager;
    char *finalizers; /* owned */
    char *status;     /* owned */
};

/*
 * Reads the kept fields of json, a Kubernetes object.  status_fields are
 * the top-level fields of .status to track ("conditions" is read as its
 * list of conditions).  The strings of out borrow from json, which must
 * outlive it.  Returns 0; -EINVAL when the object cannot be used (no uid or
 * name, a field of the wrong type or too long), with *problem set to a
 * fixed text; -ENOMEM.
 */
int object_read(struct json_object *json, char *const *status_fields,
                size_t n_status_fields, struct object *out,
                const char **problem);

/* Frees what object_read allocated. */
void object_release(struct object *object);

/*
 * The canonical text of the tracked status fields of json's .status, in a
 * malloc'd string: a compact JSON object with keys sorted at every level,
 * where "conditions" maps each condition type to [status, reason].
 * Absent fields are left out; "" when none is present.  NULL when out of
 * memory.
 */
char *object_status_text(struct json_object *status, char *const *status_fields,
                         size_t n_status_fields);

/*
 * s itself if it can be shown in a log line as it is, else a placeholder:
 * a server's string may hold control characters that would forge lines.
 */
const char *object_loggable(const char *s);

/* metadata.resourceVersion of json if it is a string, else NULL. */
const char *object_resource_version(struct json_object *json);

/*
 * True when a and b agree on every kept field but the resourceVersion: a
 * write that changed nothing the watcher reports.
 */
bool object_fields_same(const struct object_fields *a,
                        const struct object_fields *b);

/* The resourceVersion since which f's status has held. */
const char *object_status_since(const struct object_fields *f);

/*
 * Carries status_since from old, the version known before, to new: kept
 * while the status is the same, else new's own ("").
 */
void object_status_carry(const struct object_fields *old,
                         struct object_fields *new);

#endif
