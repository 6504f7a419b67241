/*
 * Deciding Events from a change.  The watcher reduces an object to the few
 * fields Events are made from (change.h); here they become reasons,
 * messages, names and request bodies.  Nothing here reads a clock or any
 * state: the caller passes the time, so a replayed change makes the same
 * Events and the same names, and the apiserver's 409 AlreadyExists stops
 * the duplicate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "event.h"
#include "object.h"

#define RESYNC_SUFFIX " (observed at resync)"
#define HASH_HEX      16

/* Appends formatted text to note, which stops growing at its size. */
static void __attribute__((format(printf, 2, 3)))
note_add(struct event *event, const char *fmt, ...)
{
    size_t len = strlen(event->note);
    va_list ap;

    if (len >= sizeof(event->note) - 1)
        return;
    va_start(ap, fmt);
    vsnprintf(event->note + len, sizeof(event->note) - len, fmt, ap);
    va_end(ap);
}

/* Cuts s to at most max bytes on a UTF-8 boundary; see event.h. */
size_t
event_utf8_cut(char *s, size_t max)
{
    size_t len = strlen(s);

    if (len <= max)
        return len;

    /* Back up over continuation bytes (10xxxxxx) to a sequence start. */
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    s[len] = '\0';
    return len;
}

/* The object an Event is about; see event.h. */
const struct object_fields *
event_object(const struct change *change)
{
    return change->new.uid[0] ? &change->new : &change->old;
}

/* The namespace of the Event; see event.h. */
const char *
event_namespace(const struct change *change)
{
    const char *ns = event_object(change)->namespace;

    return ns[0] ? ns : "default";
}

/* Parses canonical status text; "" and garbage give NULL. */
static json_object *
status_parse(const char *text)
{
    json_object *obj;

    if (!text[0])
        return NULL;
    obj = json_tokener_parse(text);
    if (obj && !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* Whether a condition going to False means failure. */
static bool
condition_failure(const char *type)
{
    return strcmp(type, "Ready") == 0 || strcmp(type, "Available") == 0 ||
           strcmp(type, "Succeeded") == 0;
}

/* Element i of a [status, reason] pair, "" when absent. */
static const char *
pair_at(json_object *pair, size_t i)
{
    json_object *v;

    if (!pair || !json_object_is_type(pair, json_type_array) ||
        json_object_array_length(pair) <= i)
        return "";
    v = json_object_array_get_idx(pair, i);
    return v ? json_object_get_string(v) : "";
}

/* Separates the parts of a message. */
static void
note_sep(struct event *event)
{
    if (event->note[0])
        note_add(event, "; ");
}

/* Describes the conditions that changed; sets *warning for failures. */
static void
conditions_diff(struct event *event, json_object *old, json_object *new,
                bool *warning)
{
    json_object_object_foreach(new, type, pair)
    {
        json_object *old_pair = NULL;
        const char *was, *is = pair_at(pair, 0), *why = pair_at(pair, 1);

        if (old)
            json_object_object_get_ex(old, type, &old_pair);
        was = old_pair ? pair_at(old_pair, 0) : "none";
        if (old_pair && strcmp(was, is) == 0 &&
            strcmp(pair_at(old_pair, 1), why) == 0)
            continue;

        note_sep(event);
        note_add(event, "condition %s %s → %s", type, was, is);
        if (why[0])
            note_add(event, " (%s)", why);
        if (strcmp(is, "False") == 0 && strcmp(was, "False") != 0 &&
            condition_failure(type))
            *warning = true;
    }
    if (!old)
        return;
    json_object_object_foreach(old, gone, unused)
    {
        (void)unused;
        if (!new || !json_object_object_get_ex(new, gone, NULL)) {
            note_sep(event);
            note_add(event, "condition %s removed", gone);
        }
    }
}

/* A status value as text: strings bare, anything else as compact JSON. */
static const char *
value_text(json_object *v)
{
    if (!v)
        return "none";
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* Describes one top-level status field that changed. */
static void
field_diff(struct event *event, const char *key, json_object *old_status,
           json_object *new_value, bool *warning)
{
    json_object *old_value = NULL;
    const char *was, *is;

    if (old_status)
        json_object_object_get_ex(old_status, key, &old_value);
    if (strcmp(key, "conditions") == 0 &&
        (!new_value || json_object_is_type(new_value, json_type_object)) &&
        (!old_value || json_object_is_type(old_value, json_type_object))) {
        conditions_diff(event, old_value, new_value, warning);
        return;
    }

    was = value_text(old_value);
    is = value_text(new_value);
    if (strcmp(was, is) == 0)
        return;
    note_sep(event);
    note_add(event, "%s %s → %s", key, was, is);
    if (strcmp(key, "phase") == 0 &&
        (strcmp(is, "Failed") == 0 || strcmp(is, "Error") == 0))
        *warning = true;
}

/* Fills a StatusChanged message from two status texts. */
static void
status_diff(struct event *event, const char *old_text, const char *new_text,
            bool *warning)
{
    json_object *old = status_parse(old_text), *new = status_parse(new_text);

    if (new) {
        json_object_object_foreach(new, key, value)
            field_diff(event, key, old, value, warning);
    }
    if (old) {
        json_object_object_foreach(old, key, value)
        {
            (void)value;
            if (!new || !json_object_object_get_ex(new, key, NULL))
                field_diff(event, key, old, NULL, warning);
        }
    }

    /* Texts differ but no field does (unparsable status): say so. */
    if (!event->note[0])
        note_add(event, "status changed");
    json_object_put(old);
    json_object_put(new);
}

/* Starts an Event in out with a fixed reason. */
static struct event *
event_start(struct event *out, const char *reason, const char *action)
{
    out->reason = reason;
    out->action = action;
    out->type = "Normal";
    out->note[0] = '\0';
    return out;
}

/* The finalizers list "a,b" as "a, b". */
static void
note_finalizers(struct event *event, const char *finalizers)
{
    note_add(event, "deletion requested");
    if (!finalizers[0])
        return;
    note_add(event, ", waiting for finalizers: ");
    for (const char *p = finalizers; *p; p++) {
        if (*p == ',')
            note_add(event, ", ");
        else
            note_add(event, "%c", *p);
    }
}

/* The Events of an UPDATED change; returns how many. */
static int
decide_update(const struct change *change, struct event *out)
{
    const struct object_fields *o = &change->old, *n = &change->new;
    bool deleting = !o->deletion_timestamp[0] && n->deletion_timestamp[0];
    int count = 0;

    /*
     * The apiserver bumps the generation itself when it sets the
     * deletionTimestamp of an object with finalizers: that is Deleting,
     * not a change of spec.
     */
    if (o->generation != n->generation &&
        !(deleting && n->generation == o->generation + 1)) {
        struct event *e = event_start(&out[count++], "Updated", "Update");

        note_add(e, "spec changed (generation %" PRId64 " → %" PRId64 ")",
                 o->generation, n->generation);
        if (change->manager[0])
            note_add(e, " by %s", change->manager);
    }
    if (strcmp(o->status, n->status) != 0) {
        struct event *e =
            event_start(&out[count++], "StatusChanged", "UpdateStatus");
        bool warning = false;

        status_diff(e, o->status, n->status, &warning);
        if (warning)
            e->type = "Warning";
    }
    if (deleting)
        note_finalizers(event_start(&out[count++], "Deleting", "Delete"),
                        n->finalizers);
    return count;
}

/* The fixed word of reason; see event.h. */
const char *
event_reason_word(const char *reason)
{
    static const char *const words[] = {"Created", "Updated", "StatusChanged",
                                        "Deleting", "Deleted"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(reason, words[i]) == 0)
            return words[i];
    return "Unknown";
}

/* Decides the Events of a change; see event.h. */
int
event_decide(const struct change *change, struct event *out)
{
    int count = 0;

    if (change->flags & CHANGE_EXISTING)
        return 0;

    switch (change->type) {
    case CHANGE_CREATED:
        note_add(event_start(&out[count++], "Created", "Create"), "created");
        break;
    case CHANGE_UPDATED:
        count = decide_update(change, out);
        break;
    case CHANGE_DELETED:
        event_start(&out[count++], "Deleted", "Delete");
        if (change->flags & CHANGE_FINAL_STATE_UNKNOWN) {
            note_add(&out[0], "deleted while not watched" RESYNC_SUFFIX);
            return count;
        }
        note_add(&out[0], "deleted");
        break;
    case CHANGE_PROGRESS:
    case CHANGE_SYNCED:
        return 0;
    }

    for (int i = 0; i < count; i++) {
        /* Leave room for the suffix, so that it is never the part cut. */
        if (change->flags & CHANGE_AT_RELIST) {
            event_utf8_cut(out[i].note, EVENT_NOTE_MAX - strlen(RESYNC_SUFFIX));
            note_add(&out[i], RESYNC_SUFFIX);
        }
        event_utf8_cut(out[i].note, EVENT_NOTE_MAX);
    }
    return count;
}

/* Whether c may stand in a DNS subdomain label. */
static bool
name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/*
 * Copies the object's name into out as a valid DNS subdomain prefix of at
 * most max characters: lowercase, other characters as '-', and labels that
 * neither start nor end with '-' and are never empty.
 */
static void
name_prefix(const char *object, char *out, size_t max)
{
    size_t len = 0;
    bool label_start = true;

    for (const char *p = object; *p && len < max; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

        if (c == '.') {
            while (len > 0 && out[len - 1] == '-')
                len--;
            if (len > 0 && out[len - 1] != '.')
                out[len++] = '.';
            label_start = true;
            continue;
        }
        if (!name_char(c))
            c = '-';
        if (c == '-' && label_start)
            continue;
        out[len++] = c;
        label_start = false;
    }
    while (len > 0 && (out[len - 1] == '-' || out[len - 1] == '.'))
        len--;
    out[len] = '\0';
}

/*
 * What tells one occurrence of reason apart from the others of the same
 * object, as up to two texts; see event_name in event.h.
 */
static void
occurrence(const struct change *change, const char *reason, char *instance,
           size_t size, const char **part1, const char **part2)
{
    const struct object_fields *o = event_object(change);

    *part1 = *part2 = "";
    if (strcmp(reason, "Updated") == 0) {
        snprintf(instance, size, "generation %lld", (long long)o->generation);
        *part1 = instance;
    } else if (strcmp(reason, "StatusChanged") == 0) {
        *part1 = object_status_since(&change->old);
        *part2 = change->new.status;
    }
}

/* Names an Event; see event.h. */
int
event_name(const struct change *change, const char *reason, char *name)
{
    const struct object_fields *o = event_object(change);
    char instance[32];
    const char *part1, *part2;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    occurrence(change, reason, instance, sizeof(instance), &part1, &part2);
    /* The NULs keep ("ab", "c") and ("a", "bc") apart. */
    ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(ctx, o->uid, strlen(o->uid) + 1) &&
         EVP_DigestUpdate(ctx, part1, strlen(part1) + 1) &&
         /* Left out when empty: the names of earlier builds stay. */
         (!part2[0] || EVP_DigestUpdate(ctx, part2, strlen(part2) + 1)) &&
         EVP_DigestUpdate(ctx, reason, strlen(reason)) &&
         EVP_DigestFinal_ex(ctx, digest, &digest_len);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -EIO;

    name_prefix(o->name, name, EVENT_NAME_MAX - 1 - HASH_HEX);
    if (!name[0])
        strcpy(name, "event");
    for (int i = 0; i < HASH_HEX / 2; i++)
        sprintf(name + strlen(name), "%s%02x", i == 0 ? "." : "", digest[i]);
    return 0;
}

/* Formats t as RFC 3339 with microseconds; see event.h. */
void
event_time_format(const struct timespec *t, char *buf, size_t size)
{
    struct tm tm;
    char date[20]; /* 2026-12-03T18:00:00 */

    gmtime_r(&t->tv_sec, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06dZ", date, (int)(t->tv_nsec / 1000 % 1000000));
}

/* Formats t as RFC 3339 in whole seconds, as core/v1 timestamps are. */
static void
time_format_seconds(const struct timespec *t, char *buf, size_t size)
{
    struct tm tm;

    gmtime_r(&t->tv_sec, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Adds a string member; json_object_object_add takes the new string. */
static void
add_string(json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

/* The object reference: regarding (events.k8s.io) or involvedObject. */
static json_object *
object_reference(const struct change *change)
{
    const struct object_fields *o = event_object(change);
    json_object *ref = json_object_new_object();

    add_string(ref, "apiVersion", change->api_version);
    add_string(ref, "kind", change->kind);
    add_string(ref, "name", o->name);
    if (o->namespace[0])
        add_string(ref, "namespace", o->namespace);
    add_string(ref, "uid", o->uid);
    if (o->resource_version[0])
        add_string(ref, "resourceVersion", o->resource_version);
    return ref;
}

/* The members only events.k8s.io/v1 has. */
static void
body_events_v1(json_object *body, const struct event *event,
               const struct event_source *source, const char *now,
               int64_t count)
{
    add_string(body, "eventTime", now);
    add_string(body, "reportingController", source->reporting_controller);
    add_string(body, "reportingInstance", source->reporting_instance);
    add_string(body, "action", event->action);
    add_string(body, "note", event->note);
    if (count > 1) {
        json_object *series = json_object_new_object();

        json_object_object_add(series, "count", json_object_new_int64(count));
        add_string(series, "lastObservedTime", now);
        json_object_object_add(body, "series", series);
    }
}

/*
 * The members of a core/v1 Event.  eventTime stays unset: with it set the
 * apiserver would demand the events.k8s.io fields this API lacks.
 */
static void
body_core_v1(json_object *body, const struct event *event,
             const struct event_source *source, const struct timespec *now,
             int64_t count)
{
    json_object *src = json_object_new_object();
    char stamp[32];

    time_format_seconds(now, stamp, sizeof(stamp));
    add_string(body, "message", event->note);
    add_string(body, "firstTimestamp", stamp);
    add_string(body, "lastTimestamp", stamp);
    json_object_object_add(body, "count",
                           json_object_new_int64(count > 1 ? count : 1));
    add_string(src, "component", source->reporting_controller);
    json_object_object_add(body, "source", src);
    add_string(body, "reportingComponent", source->reporting_controller);
    add_string(body, "reportingInstance", source->reporting_instance);
    add_string(body, "action", event->action);
}

/* The body that creates an Event; see event.h. */
char *
event_body(enum event_api api, const struct change *change,
           const struct event *event, const char *name,
           const struct event_source *source, const struct timespec *now,
           int64_t count)
{
    json_object *body = json_object_new_object(), *meta;
    char stamp[40];
    char *text;

    if (!body)
        return NULL;
    meta = json_object_new_object();
    add_string(body, "apiVersion",
               api == EVENT_API_EVENTS_V1 ? "events.k8s.io/v1" : "v1");
    add_string(body, "kind", "Event");
    add_string(meta, "name", name);
    add_string(meta, "namespace", event_namespace(change));
    json_object_object_add(body, "metadata", meta);
    add_string(body, "reason", event->reason);
    add_string(body, "type", event->type);

    event_time_format(now, stamp, sizeof(stamp));
    if (api == EVENT_API_EVENTS_V1) {
        body_events_v1(body, event, source, stamp, count);
        json_object_object_add(body, "regarding", object_reference(change));
    } else {
        body_core_v1(body, event, source, now, count);
        json_object_object_add(body, "involvedObject",
                               object_reference(change));
    }

    text = strdup(json_object_to_json_string_ext(
        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(body);
    return text;
}

/* The merge patch of a repeat; see event.h. */
char *
event_repeat_patch(enum event_api api, int64_t count,
                   const struct timespec *now)
{
    char stamp[40], *text;
    int n;

    if (api == EVENT_API_EVENTS_V1) {
        event_time_format(now, stamp, sizeof(stamp));
        n = asprintf(&text,
                     "{\"series\":{\"count\":%" PRId64
                     ",\"lastObservedTime\":\"%s\"}}",
                     count, stamp);
    } else {
        time_format_seconds(now, stamp, sizeof(stamp));
        n = asprintf(&text, "{\"count\":%" PRId64 ",\"lastTimestamp\":\"%s\"}",
                     count, stamp);
    }
    return n < 0 ? NULL : text;
}

/* The path for Events of a namespace; see event.h. */
void
event_path(enum event_api api, const char *namespace, const char *name,
           char *buf, size_t size)
{
    const char *base =
        api == EVENT_API_EVENTS_V1 ? "/apis/events.k8s.io/v1" : "/api/v1";

    snprintf(buf, size, "%s/namespaces/%s/events%s%s", base, namespace,
             name ? "/" : "", name ? name : "");
}
