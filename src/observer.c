/*
 * The observer: object versions in, change records out.
 *
 * A record is written before the store takes the new version, because the
 * old version's strings live in the store; a watcher whose output fails
 * exits, so a store left one version behind is never used.  A list is
 * gathered into a store of its own and compared with the main store only
 * once it is complete, so that a list that breaks off reports nothing and
 * every record of a relist carries the list's resourceVersion.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "object.h"
#include "observer.h"
#include "record.h"
#include "store.h"

static const char *const change_names[] = {
    [CHANGE_CREATED] = "created",
    [CHANGE_UPDATED] = "updated",
    [CHANGE_DELETED] = "deleted",
};

/* Sets up an observer with an empty store. */
int
observer_init(struct observer *o, const struct observer_settings *s)
{
    memset(o, 0, sizeof(*o));
    o->settings = *s;
    snprintf(o->metric_labels, sizeof(o->metric_labels), "resource=\"%s\"",
             s->metrics_resource);
    o->store = store_new();
    return o->store ? 0 : -ENOMEM;
}

/* Frees the stores. */
void
observer_release(struct observer *o)
{
    store_free(o->store);
    store_free(o->listed);
    o->store = o->listed = NULL;
}

/* The resourceVersion every change up to is written. */
const char *
observer_position(const struct observer *o)
{
    return o->position;
}

/* Moves the position; a PROGRESS record becomes due. */
static void
set_position(struct observer *o, const char *resource_version)
{
    if (!*resource_version || strcmp(o->position, resource_version) == 0)
        return;
    snprintf(o->position, sizeof(o->position), "%s", resource_version);
    o->progress_due = true;
}

/* Counts a change by type, for event_controller_changes_observed_total. */
static void
count_change(const struct observer *o, enum change_type type)
{
    char labels[320];

    snprintf(labels, sizeof(labels), "%s,type=\"%s\"", o->metric_labels,
             change_names[type]);
    metrics_add("event_controller_changes_observed_total", labels, 1);
}

/* Writes one record at the current position; old or new may be NULL. */
static int
write_change(struct observer *o, enum change_type type, unsigned flags,
             const struct object_fields *old, const struct object_fields *new,
             const char *manager)
{
    struct change c = {
        .type = type,
        .flags = flags,
        .resource = o->settings.resource,
        .api_version = o->settings.api_version,
        .kind = o->settings.kind,
        .resource_version = o->position,
        .manager = manager ? manager : "",
    };
    int r;

    if (old)
        c.old = *old;
    if (new)
        c.new = *new;
    r = record_write(o->settings.output_fd, &c);
    if (r < 0)
        return r;
    o->progress_due = false;
    if (type <= CHANGE_DELETED)
        count_change(o, type);
    return 0;
}

/* Logs an object that cannot be used; the position still moves past it. */
static void
skip_object(struct observer *o, struct json_object *json, const char *problem)
{
    const char *rv = object_resource_version(json);

    log_warn("skipping an object of %s at resourceVersion %s: %s",
             o->settings.resource, rv ? object_loggable(rv) : "(none)",
             problem);
    if (rv)
        set_position(o, rv);
}

/* ADDED or MODIFIED: a create for a new uid, else an update if any. */
static int
apply_write(struct observer *o, const struct object_fields *old,
            const struct object *obj)
{
    struct object_fields new = obj->fields;
    int r = 0;

    if (!old) {
        r = write_change(o, CHANGE_CREATED, 0, NULL, &new, obj->manager);
    } else {
        object_status_carry(old, &new);
        if (!object_fields_same(old, &new))
            r = write_change(o, CHANGE_UPDATED, 0, old, &new, obj->manager);
    }
    if (r == 0)
        r = store_put(o->store, &new);
    return r;
}

/* DELETED: old is the last version known, obj the final one. */
static int
apply_delete(struct observer *o, const struct object_fields *old,
             const struct object *obj)
{
    int r;

    /* Deleted before it was ever seen, or deleted twice: nothing to say. */
    if (!old) {
        log_info(2, "DELETED event for %s %s/%s, which was not known",
                 o->settings.resource, object_loggable(obj->fields.namespace),
                 object_loggable(obj->fields.name));
        return 0;
    }
    r = write_change(o, CHANGE_DELETED, 0, old, &obj->fields, obj->manager);
    if (r == 0)
        store_remove(o->store, obj->fields.uid);
    return r;
}

/* A watch event's object; see observer.h. */
int
observer_event(struct observer *o, enum observed_type type,
               struct json_object *json)
{
    struct object_fields old;
    struct object obj;
    const char *problem;
    bool known;
    int r;

    r = object_read(json, o->settings.status_fields,
                    o->settings.n_status_fields, &obj, &problem);
    if (r == -EINVAL) {
        skip_object(o, json, problem);
        return 0;
    }
    if (r < 0)
        return r;

    known = store_get(o->store, obj.fields.uid, &old);
    if (known &&
        strcmp(old.resource_version, obj.fields.resource_version) == 0) {
        object_release(&obj);
        return 0;
    }

    set_position(o, obj.fields.resource_version);
    if (type == OBSERVED_DELETED)
        r = apply_delete(o, known ? &old : NULL, &obj);
    else
        r = apply_write(o, known ? &old : NULL, &obj);
    object_release(&obj);
    return r;
}

/* A bookmark moves the position and nothing else. */
void
observer_bookmark(struct observer *o, const char *resource_version)
{
    set_position(o, resource_version);
}

/* Writes the PROGRESS record due, if any. */
int
observer_flush(struct observer *o)
{
    if (!o->progress_due || !o->position[0])
        return 0;
    return write_change(o, CHANGE_PROGRESS, 0, NULL, NULL, NULL);
}

/* Starts from a loaded snapshot; see observer.h. */
int
observer_resume(struct observer *o, struct store *store,
                const char *resource_version)
{
    store_free(o->store);
    o->store = store;
    set_position(o, resource_version);
    o->synced = true;
    return write_change(o, CHANGE_SYNCED, 0, NULL, NULL, NULL);
}

/* Starts gathering a list apart from the store. */
int
observer_list_begin(struct observer *o)
{
    observer_list_abort(o);
    o->listed = store_new();
    o->report_list = o->synced;
    return o->listed ? 0 : -ENOMEM;
}

/* Gathers one listed object. */
int
observer_list_item(struct observer *o, struct json_object *json)
{
    struct object obj;
    const char *problem;
    int r;

    r = object_read(json, o->settings.status_fields,
                    o->settings.n_status_fields, &obj, &problem);
    if (r == -EINVAL) {
        log_warn("skipping a listed object of %s: %s", o->settings.resource,
                 problem);
        return 0;
    }
    if (r < 0)
        return r;
    r = store_put(o->listed, &obj.fields);
    object_release(&obj);
    return r;
}

/* Drops an object a streaming list took back. */
void
observer_list_remove(struct observer *o, struct json_object *json)
{
    struct object obj;
    const char *problem;

    if (object_read(json, NULL, 0, &obj, &problem) < 0)
        return;
    store_remove(o->listed, obj.fields.uid);
    object_release(&obj);
}

/* A listed object against the store: created, updated or unchanged. */
static int
diff_listed(const struct object_fields *listed, void *ctx)
{
    struct observer *o = ctx;
    struct object_fields old, new = *listed;
    int r = 0;

    if (!store_get(o->store, listed->uid, &old)) {
        r = write_change(o, CHANGE_CREATED, CHANGE_AT_RELIST, NULL, &new, NULL);
    } else {
        object_status_carry(&old, &new);
        if (!object_fields_same(&old, &new))
            r = write_change(o, CHANGE_UPDATED, CHANGE_AT_RELIST, &old, &new,
                             NULL);
    }
    if (r == 0)
        r = store_put(o->store, &new);
    return r;
}

/* An object the list no longer holds: deleted while not watched. */
static int
report_vanished(const struct object_fields *last, void *ctx)
{
    struct observer *o = ctx;

    /* Like client-go's DeletedFinalStateUnknown: the last state known. */
    return write_change(o, CHANGE_DELETED,
                        CHANGE_AT_RELIST | CHANGE_FINAL_STATE_UNKNOWN, last,
                        last, NULL);
}

/* An object of the first list: it existed before the watcher started. */
static int
report_existing(const struct object_fields *listed, void *ctx)
{
    return write_change(ctx, CHANGE_CREATED, CHANGE_EXISTING, NULL, listed,
                        NULL);
}

/* Reports the differences of a relist and takes its objects. */
static int
take_relist(struct observer *o)
{
    int r;

    store_mark(o->store);
    r = store_foreach(o->listed, diff_listed, o);
    if (r == 0)
        r = store_sweep(o->store, report_vanished, o);
    store_free(o->listed);
    o->listed = NULL;
    return r;
}

/* Reports the objects of the first list and takes them as the store. */
static int
take_first_list(struct observer *o)
{
    int r = store_foreach(o->listed, report_existing, o);

    store_free(o->store);
    o->store = o->listed;
    o->listed = NULL;
    return r;
}

/*
 * The records of a list carry the position from before it: until the list
 * is complete, that is the only position every change before is written
 * for.  A reader that saves its state mid-list and crashes then resumes
 * from there, gets 410 and relists, instead of skipping the rest.
 */
int
observer_list_end(struct observer *o, const char *resource_version)
{
    enum change_type done = o->synced ? CHANGE_PROGRESS : CHANGE_SYNCED;
    int r;

    if (!o->listed)
        return -EINVAL;
    r = o->report_list ? take_relist(o) : take_first_list(o);
    if (r < 0)
        return r;

    snprintf(o->position, sizeof(o->position), "%s", resource_version);
    r = write_change(o, done, 0, NULL, NULL, NULL);
    if (r == 0)
        o->synced = true;
    return r;
}

/* Forgets a list that broke off. */
void
observer_list_abort(struct observer *o)
{
    store_free(o->listed);
    o->listed = NULL;
}
