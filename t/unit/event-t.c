/*
 * Deciding Events: the reasons, messages and types a change makes, the
 * limits on their lengths, their names, and their JSON bodies for both
 * Event APIs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "event.h"
#include "tap.h"

/* An update of notebook nb from generation 2 to 3 with no other change. */
static struct change
change_update(void)
{
    struct change c = {
        .type = CHANGE_UPDATED,
        .resource = "notebooks.v1beta1.tensorstack.dev",
        .api_version = "tensorstack.dev/v1beta1",
        .kind = "Notebook",
        .resource_version = "101",
        .manager = "",
        .old = {"u-1", "nb", "ns", "100", 2, "", "", "{\"phase\":\"Pending\"}",
                ""},
        .new = {"u-1", "nb", "ns", "101", 2, "", "", "{\"phase\":\"Pending\"}",
                ""},
    };
    return c;
}

/* The one Event of change, or a failed check when it makes another count. */
static struct event
decide_one(const struct change *c, const char *desc)
{
    struct event e[EVENT_PER_CHANGE_MAX] = {{0}};
    int n = event_decide(c, e);

    if (!ok(n == 1, desc))
        printf("#   expected 1 Event, got %d\n", n);
    return e[0];
}

/* Created, Deleted and the resync variants. */
static void
test_create_delete(void)
{
    struct change c = change_update();
    struct event e;

    c.type = CHANGE_CREATED;
    e = decide_one(&c, "a create makes one Event");
    is_str(e.reason, "Created", "its reason is Created");
    is_str(e.action, "Create", "its action is Create");
    is_str(e.type, "Normal", "its type is Normal");

    c.type = CHANGE_DELETED;
    e = decide_one(&c, "a delete makes one Event");
    is_str(e.reason, "Deleted", "its reason is Deleted");
    is_str(e.note, "deleted", "its message says deleted");

    c.flags = CHANGE_AT_RELIST | CHANGE_FINAL_STATE_UNKNOWN;
    e = decide_one(&c, "a delete found at a relist makes one Event");
    is_str(e.note, "deleted while not watched (observed at resync)",
           "a delete with unknown final state says so");

    c.type = CHANGE_CREATED;
    c.flags = CHANGE_AT_RELIST;
    e = decide_one(&c, "a create found at a relist makes one Event");
    is_str(e.note, "created (observed at resync)",
           "a change found at a relist is marked as such");
}

/* Nothing but noise, bookmarks and the end of a list make no Event. */
static void
test_no_event(void)
{
    struct change c = change_update();
    struct event e[EVENT_PER_CHANGE_MAX];

    is_int(event_decide(&c, e), 0, "a metadata-only update makes no Event");
    c.type = CHANGE_PROGRESS;
    is_int(event_decide(&c, e), 0, "a bookmark makes no Event");
    c.type = CHANGE_SYNCED;
    is_int(event_decide(&c, e), 0, "the end of the first list makes none");
}

/* Updated names the generations and the manager. */
static void
test_updated(void)
{
    struct change c = change_update();
    struct event e;

    c.new.generation = 3;
    e = decide_one(&c, "a spec change makes one Event");
    is_str(e.reason, "Updated", "its reason is Updated");
    is_str(e.note, "spec changed (generation 2 → 3)",
           "its message names both generations");
    c.manager = "kubectl-edit";
    e = decide_one(&c, "a spec change with a manager makes one Event");
    is_str(e.note, "spec changed (generation 2 → 3) by kubectl-edit",
           "its message names the manager");
}

/* StatusChanged messages and the Warning rules. */
static void
test_status(void)
{
    struct change c = change_update();
    struct event e;

    c.new.status = "{\"phase\":\"Running\"}";
    e = decide_one(&c, "a phase change makes one Event");
    is_str(e.reason, "StatusChanged", "its reason is StatusChanged");
    is_str(e.action, "UpdateStatus", "its action is UpdateStatus");
    is_str(e.note, "phase Pending → Running", "its message has an arrow");
    is_str(e.type, "Normal", "Running is Normal");

    c.new.status = "{\"phase\":\"Failed\"}";
    e = decide_one(&c, "a failing phase makes one Event");
    is_str(e.type, "Warning", "phase Failed is a Warning");
    c.new.status = "{\"phase\":\"Error\"}";
    is_str(decide_one(&c, "an Error phase makes one Event").type, "Warning",
           "phase Error is a Warning");

    c.old.status = "{\"conditions\":{\"Ready\":[\"True\",\"PodReady\"]},"
                   "\"phase\":\"Running\"}";
    c.new.status = "{\"conditions\":{\"Ready\":[\"False\",\"Crash\"]},"
                   "\"phase\":\"Running\"}";
    e = decide_one(&c, "a condition change makes one Event");
    is_str(e.note, "condition Ready True → False (Crash)",
           "its message names the condition and the reason");
    is_str(e.type, "Warning", "Ready going False is a Warning");

    c.old.status = "{\"conditions\":{\"Ready\":[\"False\",\"Init\"]},"
                   "\"phase\":\"Pending\"}";
    c.new.status = "{\"conditions\":{\"Ready\":[\"True\",\"PodReady\"]},"
                   "\"phase\":\"Running\"}";
    e = decide_one(&c, "two status fields changing make one Event");
    is_str(e.note,
           "condition Ready False → True (PodReady); "
           "phase Pending → Running",
           "the parts are joined with \"; \"");
    is_str(e.type, "Normal", "becoming Ready is Normal");

    c.old.status = "{\"conditions\":{\"Other\":[\"True\",\"\"]}}";
    c.new.status = "{\"conditions\":{\"Other\":[\"False\",\"\"]}}";
    is_str(decide_one(&c, "another condition makes one Event").type, "Normal",
           "a condition not named Ready, Available, Succeeded stays Normal");
}

/* Spec and status together, and deletion with finalizers. */
static void
test_several(void)
{
    struct change c = change_update();
    struct event e[EVENT_PER_CHANGE_MAX];

    c.new.generation = 3;
    c.new.status = "{\"phase\":\"Running\"}";
    is_int(event_decide(&c, e), 2, "spec and status changing make two Events");
    is_str(e[0].reason, "Updated", "the first is Updated");
    is_str(e[1].reason, "StatusChanged", "the second is StatusChanged");

    c = change_update();
    c.new.deletion_timestamp = "2026-01-01T00:00:00Z";
    c.new.finalizers = "tensorstack.dev/a,b";
    is_int(event_decide(&c, e), 1, "a deletion request makes one Event");
    is_str(e[0].reason, "Deleting", "its reason is Deleting");
    is_str(e[0].note,
           "deletion requested, waiting for finalizers: tensorstack.dev/a, b",
           "it names the finalizers");
    c.new.finalizers = "";
    event_decide(&c, e);
    is_str(e[0].note, "deletion requested", "without finalizers it says so");

    /* The apiserver bumps the generation as it sets deletionTimestamp. */
    c.new.generation = c.old.generation + 1;
    is_int(event_decide(&c, e), 1,
           "the generation the deletion bumps makes no Updated Event");
    is_str(e[0].reason, "Deleting", "only Deleting");
}

/* Whether s is valid UTF-8. */
static int
utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int n = *p < 0x80 ? 0 : *p >= 0xF0 ? 3 : *p >= 0xE0 ? 2 : 1;

        if (*p >= 0x80 && *p < 0xC0)
            return 0;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

/* Messages stay within 1024 bytes and valid UTF-8. */
static void
test_limits(void)
{
    struct change c = change_update();
    char status[8192], buf[300];
    struct event e;
    size_t len;

    /* "é" is two bytes; an odd start makes the cut fall mid-sequence. */
    strcpy(status, "{\"phase\":\"x");
    for (int i = 0; i < 1500; i++)
        strcat(status, "é");
    strcat(status, "\"}");
    c.new.status = status;
    e = decide_one(&c, "a long multibyte status makes one Event");
    len = strlen(e.note);
    ok(len <= EVENT_NOTE_MAX && len >= EVENT_NOTE_MAX - 3,
       "the message is cut to at most 1024 bytes");
    ok(utf8_valid(e.note), "the cut does not split a UTF-8 sequence");

    c.flags = CHANGE_AT_RELIST;
    e = decide_one(&c, "the same at a relist makes one Event");
    ok(strlen(e.note) <= EVENT_NOTE_MAX, "with the suffix it still fits");
    ok(strstr(e.note, "(observed at resync)") != NULL,
       "the suffix survives the cut");

    memset(buf, 0, sizeof(buf));
    strcpy(buf, "a");
    for (int i = 0; i < 80; i++)
        strcat(buf, "€"); /* three bytes each */
    is_int(event_utf8_cut(buf, 128), 127, "a cut at 128 backs up to 127");
    ok(utf8_valid(buf), "and leaves valid UTF-8");
}

/*
 * A status change is named by the version its old status held since and
 * its new status: the same seen by a watch and restated by a relist.
 */
static void
test_status_names(struct change *c)
{
    char a[EVENT_NAME_MAX + 1], b[EVENT_NAME_MAX + 1];

    c->new.status = "{\"phase\":\"Running\"}";
    event_name(c, "StatusChanged", a);
    c->new.resource_version = "109";
    c->new.generation = 3;
    event_name(c, "StatusChanged", b);
    is_str(b, a, "a status change restated after a spec change keeps its name");
    c->new.status = "{\"phase\":\"Failed\"}";
    event_name(c, "StatusChanged", b);
    ok(strcmp(a, b) != 0, "another new status gets another name");
    c->new.status = "{\"phase\":\"Running\"}";
    c->old.status_since = "90";
    event_name(c, "StatusChanged", b);
    ok(strcmp(a, b) != 0,
       "so does an old status that held since another version");
    c->old.status_since = c->old.resource_version;
    event_name(c, "StatusChanged", b);
    is_str(b, a, "status_since \"\" stands for the version's own");
    c->old.status_since = "";
    c->new.status = c->old.status;
    c->new.resource_version = "101";
    c->new.generation = 2;
}

/* Names: deterministic, distinct per reason, valid, at most 253. */
static void
test_names(void)
{
    struct change c = change_update();
    char a[EVENT_NAME_MAX + 1], b[EVENT_NAME_MAX + 1], long_name[260];

    event_name(&c, "Updated", a);
    event_name(&c, "Updated", b);
    is_str(a, b, "the same change and reason give the same name");
    ok(strncmp(a, "nb.", 3) == 0 && strlen(a) == 3 + 16,
       "the name is the object's name, a dot and 16 hex digits");
    event_name(&c, "StatusChanged", b);
    ok(strcmp(a, b) != 0, "another reason gives another name");
    test_status_names(&c);
    c.new.generation = 7;
    event_name(&c, "Updated", a);
    c.new.resource_version = "109";
    event_name(&c, "Updated", b);
    is_str(b, a, "an update is named by its generation, not its version");
    c.new.generation = 8;
    event_name(&c, "Updated", b);
    ok(strcmp(a, b) != 0, "another generation gets another name");
    event_name(&c, "Created", a);
    c.new.resource_version = "200";
    c.new.generation = 9;
    event_name(&c, "Created", b);
    is_str(b, a, "an object's Created has one name, whatever its version");
    event_name(&c, "Deleted", b);
    ok(strcmp(a, b) != 0, "and its Deleted another");
    event_name(&c, "Updated", a);

    memset(long_name, 'n', 250);
    long_name[250] = '\0';
    long_name[100] = '.';
    c.new.name = long_name;
    event_name(&c, "Updated", a);
    ok(strlen(a) <= EVENT_NAME_MAX, "a 250-character name stays within 253");
    ok(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789.-") == strlen(a),
       "it holds only DNS subdomain characters");

    c.new.name = "Upper_Case..x-.";
    event_name(&c, "Updated", a);
    ok(strncmp(a, "upper-case.x.", 13) == 0,
       "invalid characters are replaced and empty labels dropped");
}

/* Parses a body and returns member path a.b of it as a string. */
static const char *
member(json_object *obj, const char *a, const char *b)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, a, &v))
        return NULL;
    if (b && !json_object_object_get_ex(v, b, &v))
        return NULL;
    return json_object_get_string(v);
}

/* The JSON bodies of both APIs. */
static void
test_bodies(void)
{
    struct change c = change_update();
    struct event_source src = {"tensorstack.dev/event-controller", "pod-1"};
    struct timespec now = {1796320800, 123456789};
    struct event e[EVENT_PER_CHANGE_MAX];
    json_object *j;
    char *text;

    c.new.generation = 3;
    event_decide(&c, e);
    text = event_body(EVENT_API_EVENTS_V1, &c, &e[0], "nb.x", &src, &now, 1);
    j = json_tokener_parse(text);
    ok(j != NULL, "the events.k8s.io/v1 body is JSON");
    is_str(member(j, "apiVersion", NULL), "events.k8s.io/v1", "apiVersion");
    is_str(member(j, "metadata", "namespace"), "ns", "it is in the namespace");
    is_str(member(j, "eventTime", NULL), "2026-12-03T18:00:00.123456Z",
           "eventTime has microseconds");
    is_str(member(j, "reportingController", NULL),
           "tensorstack.dev/event-controller", "reportingController");
    is_str(member(j, "action", NULL), "Update", "action");
    is_str(member(j, "regarding", "uid"), "u-1", "regarding.uid");
    is_str(member(j, "regarding", "resourceVersion"), "101",
           "regarding.resourceVersion");
    ok(!member(j, "count", NULL) && !member(j, "source", NULL) &&
           !member(j, "firstTimestamp", NULL),
       "the deprecated fields are unset");
    json_object_put(j);
    free(text);

    c.new.namespace = c.old.namespace = "";
    text = event_body(EVENT_API_CORE_V1, &c, &e[0], "nb.x", &src, &now, 1);
    j = json_tokener_parse(text);
    is_str(member(j, "metadata", "namespace"), "default",
           "a cluster-scoped object's Event goes to default");
    is_str(member(j, "involvedObject", "kind"), "Notebook", "involvedObject");
    ok(!member(j, "involvedObject", "namespace"),
       "involvedObject has no namespace");
    is_str(member(j, "message", NULL), e[0].note, "core/v1 has a message");
    is_str(member(j, "source", "component"), src.reporting_controller,
           "source.component");
    is_str(member(j, "count", NULL), "1", "count is 1");
    is_str(member(j, "action", NULL), e[0].action, "core/v1 has the action");
    ok(!member(j, "eventTime", NULL), "eventTime stays unset in core/v1");
    json_object_put(j);
    free(text);

    text = event_repeat_patch(EVENT_API_EVENTS_V1, 4, &now);
    is_str(text,
           "{\"series\":{\"count\":4,"
           "\"lastObservedTime\":\"2026-12-03T18:00:00.123456Z\"}}",
           "a repeat patches an absolute series count");
    free(text);
}

int
main(void)
{
    test_create_delete();
    test_no_event();
    test_updated();
    test_status();
    test_several();
    test_limits();
    test_names();
    test_bodies();
    return tap_done();
}
