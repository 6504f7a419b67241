/*
 * Reading the kept fields of a Kubernetes object from its JSON, and the
 * canonical text of its tracked status.
 *
 * The canonical text must not change unless the status did: json-c keeps
 * an object's keys in the order they arrived, and nothing obliges a server
 * to send them in the same order twice, so every object is rebuilt with
 * its keys sorted before it is written out.  Numbers keep the text they
 * arrived as (json-c keeps it), so 1.0 stays 1.0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hash.h"
#include "object.h"

#define TEXT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A member of obj of the given type, or NULL. */
static struct json_object *
member(struct json_object *obj, const char *key, enum json_type type)
{
    struct json_object *v;

    if (!json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, type))
        return NULL;
    return v;
}

/*
 * A string member of obj into *out: 0 and "" when absent or null, 1 when
 * present, -EINVAL when of another type, too long or holding a NUL (the
 * records would cut it short there).
 */
static int
string_member(struct json_object *obj, const char *key, size_t max,
              const char **out)
{
    struct json_object *v;
    const char *s;
    size_t len;

    *out = "";
    if (!json_object_object_get_ex(obj, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -EINVAL;
    s = json_object_get_string(v);
    len = (size_t)json_object_get_string_len(v);
    if (len > max || strlen(s) != len)
        return -EINVAL;
    *out = s;
    return 1;
}

/* Stands for a text too long to keep: its digest and length. */
static struct json_object *
digest_of(const char *text)
{
    struct json_object *d = json_object_new_object();
    char hex[17];

    if (!d)
        return NULL;
    snprintf(hex, sizeof(hex), "%016" PRIx64, hash_text64(text));
    json_object_object_add(d, "bytes", json_object_new_int64(strlen(text)));
    json_object_object_add(d, "digest", json_object_new_string(hex));
    return d;
}

/* qsort order for strings. */
static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static struct json_object *canonical_copy(struct json_object *v);

/* A copy of an object with its keys sorted, recursively. */
static struct json_object *
canonical_object(struct json_object *v)
{
    size_t n = (size_t)json_object_object_length(v), i = 0;
    struct json_object *copy = json_object_new_object();
    const char **keys = calloc(n ? n : 1, sizeof(*keys));

    if (!copy || !keys) {
        json_object_put(copy);
        free(keys);
        return NULL;
    }
    json_object_object_foreach(v, key, child)
    {
        (void)child;
        keys[i++] = key;
    }
    qsort(keys, n, sizeof(*keys), compare_strings);

    for (i = 0; i < n; i++) {
        struct json_object *c = json_object_object_get(v, keys[i]);
        struct json_object *cc = c ? canonical_copy(c) : NULL;

        if (c && !cc)
            break;
        json_object_object_add(copy, keys[i], cc);
    }
    free(keys);
    if (i < n) {
        json_object_put(copy);
        return NULL;
    }
    return copy;
}

/* A copy of an array whose objects have their keys sorted. */
static struct json_object *
canonical_array(struct json_object *v)
{
    size_t n = json_object_array_length(v);
    struct json_object *copy = json_object_new_array_ext((int)n);

    for (size_t i = 0; copy && i < n; i++) {
        struct json_object *c = json_object_array_get_idx(v, i);
        struct json_object *cc = c ? canonical_copy(c) : NULL;

        if (c && !cc) {
            json_object_put(copy);
            return NULL;
        }
        json_object_array_add(copy, cc);
    }
    return copy;
}

/* v with every object's keys sorted; scalars are shared, not copied. */
static struct json_object *
canonical_copy(struct json_object *v)
{
    if (json_object_is_type(v, json_type_object))
        return canonical_object(v);
    if (json_object_is_type(v, json_type_array))
        return canonical_array(v);
    return json_object_get(v);
}

/* A condition's string member, "" when absent or not a string. */
static const char *
condition_string(struct json_object *condition, const char *key)
{
    struct json_object *v = member(condition, key, json_type_string);

    return v ? json_object_get_string(v) : "";
}

/*
 * {type: [status, reason]} for a list of conditions: what Events about
 * conditions are made of, without the timestamps and messages that change
 * on every probe.  Entries without a type are skipped; of two with the same
 * type the first counts, as a list map keyed by type holds only one.  NULL
 * when none is usable.
 */
static struct json_object *
conditions_map(struct json_object *list)
{
    struct json_object *map, *sorted;
    size_t n = json_object_array_length(list);

    map = json_object_new_object();
    if (!map)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        struct json_object *c = json_object_array_get_idx(list, i);
        const char *type = condition_string(c, "type");
        struct json_object *pair;

        if (!*type || json_object_object_get_ex(map, type, NULL))
            continue;
        pair = json_object_new_array_ext(2);
        if (!pair)
            break;
        json_object_array_add(
            pair, json_object_new_string(condition_string(c, "status")));
        json_object_array_add(
            pair, json_object_new_string(condition_string(c, "reason")));
        json_object_object_add(map, type, pair);
    }
    sorted = json_object_object_length(map) ? canonical_copy(map) : NULL;
    json_object_put(map);
    return sorted;
}

/* The canonical value of one status field, NULL when absent. */
static struct json_object *
status_field_value(struct json_object *status, const char *field)
{
    struct json_object *v, *value;
    const char *text;

    if (!json_object_object_get_ex(status, field, &v) || !v)
        return NULL;
    if (strcmp(field, "conditions") == 0)
        value =
            json_object_is_type(v, json_type_array) ? conditions_map(v) : NULL;
    else
        value = canonical_copy(v);
    if (!value)
        return NULL;

    text = json_object_to_json_string_ext(value, TEXT_FLAGS);
    if (text && strlen(text) > OBJECT_STATUS_FIELD_MAX) {
        struct json_object *d = digest_of(text);

        json_object_put(value);
        value = d;
    }
    return value;
}

/* The status fields in the order of their names, so that order is moot. */
static const char **
sorted_fields(char *const *fields, size_t n)
{
    const char **sorted = calloc(n ? n : 1, sizeof(*sorted));

    if (!sorted)
        return NULL;
    memcpy(sorted, fields, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), compare_strings);
    return sorted;
}

/* Serializes the collected fields, or their digest when too long. */
static char *
status_text_of(struct json_object *tracked)
{
    const char *text;
    struct json_object *d;
    char *out;

    if (json_object_object_length(tracked) == 0)
        return strdup("");
    text = json_object_to_json_string_ext(tracked, TEXT_FLAGS);
    if (!text)
        return NULL;
    if (strlen(text) <= OBJECT_STATUS_MAX)
        return strdup(text);

    d = digest_of(text);
    text = d ? json_object_to_json_string_ext(d, TEXT_FLAGS) : NULL;
    out = text ? strdup(text) : NULL;
    json_object_put(d);
    return out;
}

/* The canonical text of the tracked status fields; see object.h. */
char *
object_status_text(struct json_object *status, char *const *status_fields,
                   size_t n_status_fields)
{
    struct json_object *tracked;
    const char **fields;
    char *text = NULL;

    if (!json_object_is_type(status, json_type_object) || n_status_fields == 0)
        return strdup("");

    fields = sorted_fields(status_fields, n_status_fields);
    tracked = json_object_new_object();
    if (!fields || !tracked)
        goto out;
    for (size_t i = 0; i < n_status_fields; i++) {
        struct json_object *v = status_field_value(status, fields[i]);

        if (v)
            json_object_object_add(tracked, fields[i], v);
    }
    text = status_text_of(tracked);
out:
    json_object_put(tracked);
    free(fields);
    return text;
}

/* metadata.finalizers joined by commas; -EINVAL if not a list of strings. */
static int
finalizers_text(struct json_object *metadata, char **out)
{
    struct json_object *list, *f;
    size_t n, len = 0, kept = 0;
    char *text;

    *out = NULL;
    if (!json_object_object_get_ex(metadata, "finalizers", &list) || !list)
        return (*out = strdup("")) ? 0 : -ENOMEM;
    if (!json_object_is_type(list, json_type_array))
        return -EINVAL;

    n = json_object_array_length(list);
    text = calloc(1, OBJECT_FINALIZERS_MAX + 1);
    if (!text)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        f = json_object_array_get_idx(list, i);
        if (!json_object_is_type(f, json_type_string)) {
            free(text);
            return -EINVAL;
        }
        /* Whole names only: a cut name would read as another finalizer. */
        if (len + 1 + (size_t)json_object_get_string_len(f) >
            OBJECT_FINALIZERS_MAX - 32)
            break;
        len += (size_t)sprintf(text + len, "%s%s", kept ? "," : "",
                               json_object_get_string(f));
        kept++;
    }
    if (kept < n)
        sprintf(text + len, ",+%zu more", n - kept);
    *out = text;
    return 0;
}

/*
 * The manager of the managedFields entry with the latest time: who wrote
 * last.  Times are RFC 3339 in UTC with second precision, so they compare
 * as strings; of equal times the later entry wins.
 */
static const char *
latest_manager(struct json_object *metadata)
{
    struct json_object *list =
        member(metadata, "managedFields", json_type_array);
    const char *best = "", *best_time = "";
    size_t n = list ? json_object_array_length(list) : 0;

    for (size_t i = 0; i < n; i++) {
        struct json_object *entry = json_object_array_get_idx(list, i);
        const char *manager, *time;

        if (!json_object_is_type(entry, json_type_object) ||
            string_member(entry, "manager", OBJECT_SHORT_MAX, &manager) <= 0 ||
            string_member(entry, "time", OBJECT_SHORT_MAX, &time) < 0)
            continue;
        if (strcmp(time, best_time) >= 0) {
            best = manager;
            best_time = time;
        }
    }
    return best;
}

/* metadata.generation; -EINVAL when not a non-negative integer. */
static int
generation_of(struct json_object *metadata, int64_t *out)
{
    struct json_object *v;

    *out = 0;
    if (!json_object_object_get_ex(metadata, "generation", &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -EINVAL;
    *out = json_object_get_int64(v);
    return *out >= 0 ? 0 : -EINVAL;
}

/* The identity and metadata strings; a fixed text says what is wrong. */
static int
read_metadata(struct json_object *metadata, struct object_fields *f,
              const char **problem)
{
    if (string_member(metadata, "uid", OBJECT_SHORT_MAX, &f->uid) < 0 ||
        !*f->uid)
        return *problem = "metadata.uid is missing or invalid", -EINVAL;
    if (string_member(metadata, "name", OBJECT_NAME_MAX, &f->name) < 0 ||
        !*f->name)
        return *problem = "metadata.name is missing or invalid", -EINVAL;
    if (string_member(metadata, "namespace", OBJECT_NAME_MAX, &f->namespace) <
        0)
        return *problem = "metadata.namespace is invalid", -EINVAL;
    if (string_member(metadata, "resourceVersion", OBJECT_SHORT_MAX,
                      &f->resource_version) < 0)
        return *problem = "metadata.resourceVersion is invalid", -EINVAL;
    if (string_member(metadata, "deletionTimestamp", OBJECT_SHORT_MAX,
                      &f->deletion_timestamp) < 0)
        return *problem = "metadata.deletionTimestamp is invalid", -EINVAL;
    if (generation_of(metadata, &f->generation) < 0)
        return *problem = "metadata.generation is invalid", -EINVAL;
    return 0;
}

/* Reads the kept fields of an object; see object.h. */
int
object_read(struct json_object *json, char *const *status_fields,
            size_t n_status_fields, struct object *out, const char **problem)
{
    struct json_object *metadata = member(json, "metadata", json_type_object);
    struct json_object *status = member(json, "status", json_type_object);
    int r;

    memset(out, 0, sizeof(*out));
    *problem = NULL;
    if (!metadata)
        return *problem = "metadata is missing", -EINVAL;
    r = read_metadata(metadata, &out->fields, problem);
    if (r < 0)
        return r;

    r = finalizers_text(metadata, &out->finalizers);
    if (r == -EINVAL)
        *problem = "metadata.finalizers is not a list of strings";
    if (r < 0)
        return r;
    out->status = object_status_text(status, status_fields, n_status_fields);
    if (!out->status) {
        object_release(out);
        return -ENOMEM;
    }

    out->fields.finalizers = out->finalizers;
    out->fields.status = out->status;
    out->fields.status_since = "";
    out->manager = latest_manager(metadata);
    return 0;
}

/* Frees the texts of an object read. */
void
object_release(struct object *object)
{
    free(object->finalizers);
    free(object->status);
    object->finalizers = NULL;
    object->status = NULL;
}

/* s, unless it holds a control character. */
const char *
object_loggable(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "(unprintable)";
    return s;
}

/* metadata.resourceVersion when it is a usable string. */
const char *
object_resource_version(struct json_object *json)
{
    struct json_object *metadata = member(json, "metadata", json_type_object);
    const char *rv;

    if (!metadata ||
        string_member(metadata, "resourceVersion", OBJECT_SHORT_MAX, &rv) <= 0)
        return NULL;
    return rv;
}

/* Equal kept fields, the resourceVersion aside. */
bool
object_fields_same(const struct object_fields *a, const struct object_fields *b)
{
    return a->generation == b->generation && strcmp(a->uid, b->uid) == 0 &&
           strcmp(a->name, b->name) == 0 &&
           strcmp(a->namespace, b->namespace) == 0 &&
           strcmp(a->deletion_timestamp, b->deletion_timestamp) == 0 &&
           strcmp(a->finalizers, b->finalizers) == 0 &&
           strcmp(a->status, b->status) == 0;
}

const char *
object_status_since(const struct object_fields *f)
{
    return f->status_since[0] ? f->status_since : f->resource_version;
}

void
object_status_carry(const struct object_fields *old, struct object_fields *new)
{
    new->status_since =
        strcmp(old->status, new->status) == 0 ? object_status_since(old) : "";
}
