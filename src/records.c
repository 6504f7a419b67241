/*
 * "event-controller records": change records on stdin, one JSON line each
 * on stdout.  A debugging aid, and how the tests read what a watcher
 * wrote:
 *
 *   event-controller watcher ... | event-controller records
 *
 * Each line is flushed at once so that a reader polling the output sees a
 * record as soon as the watcher wrote it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "change.h"
#include "log.h"
#include "record.h"
#include "watcher.h"

static const char *const type_names[] = {
    [CHANGE_CREATED] = "CREATED", [CHANGE_UPDATED] = "UPDATED",
    [CHANGE_DELETED] = "DELETED", [CHANGE_PROGRESS] = "PROGRESS",
    [CHANGE_SYNCED] = "SYNCED",
};

/* Adds a string member to obj. */
static void
add_string(struct json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

/* One version of the object, or nothing for an absent one. */
static void
add_fields(struct json_object *obj, const char *key,
           const struct object_fields *f)
{
    struct json_object *o;

    if (!f->uid[0])
        return;
    o = json_object_new_object();
    add_string(o, "uid", f->uid);
    add_string(o, "name", f->name);
    add_string(o, "namespace", f->namespace);
    add_string(o, "resource_version", f->resource_version);
    json_object_object_add(o, "generation",
                           json_object_new_int64(f->generation));
    add_string(o, "deletion_timestamp", f->deletion_timestamp);
    add_string(o, "finalizers", f->finalizers);
    add_string(o, "status", f->status);
    add_string(o, "status_since", f->status_since);
    json_object_object_add(obj, key, o);
}

/* The flags as a list of names. */
static void
add_flags(struct json_object *obj, unsigned flags)
{
    struct json_object *list = json_object_new_array();

    if (flags & CHANGE_AT_RELIST)
        json_object_array_add(list, json_object_new_string("at_relist"));
    if (flags & CHANGE_FINAL_STATE_UNKNOWN)
        json_object_array_add(list,
                              json_object_new_string("final_state_unknown"));
    if (flags & CHANGE_EXISTING)
        json_object_array_add(list, json_object_new_string("existing"));
    json_object_object_add(obj, "flags", list);
}

/* Prints one record as a JSON line. */
static int
print_change(const struct change *c, void *ctx)
{
    struct json_object *obj = json_object_new_object();
    int r = 0;

    (void)ctx;
    if (!obj)
        return -ENOMEM;
    add_string(obj, "type", type_names[c->type]);
    add_flags(obj, c->flags);
    add_string(obj, "resource", c->resource);
    add_string(obj, "api_version", c->api_version);
    add_string(obj, "kind", c->kind);
    add_string(obj, "resource_version", c->resource_version);
    add_string(obj, "manager", c->manager);
    add_fields(obj, "old", &c->old);
    add_fields(obj, "new", &c->new);

    if (puts(json_object_to_json_string_ext(
            obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) ==
            EOF ||
        fflush(stdout) == EOF)
        r = -EPIPE;
    json_object_put(obj);
    return r;
}

/* Reads stdin to its end; returns the exit status. */
static int
copy_records(struct record_reader *reader)
{
    char buf[65536];
    ssize_t n;
    int r;

    for (;;) {
        n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("read() of stdin failed: %s", strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        r = record_reader_feed(reader, buf, (size_t)n, print_change, NULL);
        if (r == -EPIPE)
            return 0;
        if (r < 0) {
            log_error("corrupt record on stdin: %s, stopping",
                      record_reader_error(reader));
            return 1;
        }
    }
    if (record_reader_finish(reader) < 0) {
        log_warn("stdin ended inside a record, which is dropped");
        return 1;
    }
    return 0;
}

/* Prints records as JSON lines; see watcher.h. */
int
records_command(int argc, char **argv)
{
    struct record_reader *reader;
    int status;

    (void)argv;
    log_init("records", NULL, LOG_DEFAULT_VERBOSITY, LOG_FORMAT_TEXT);
    if (argc > 1) {
        fprintf(stderr, "event-controller records: takes no argument; it "
                        "reads records on stdin\n");
        return WATCHER_EXIT_USAGE;
    }
    reader = record_reader_new();
    if (!reader) {
        log_error("out of memory");
        return 1;
    }
    status = copy_records(reader);
    record_reader_free(reader);
    return status;
}
