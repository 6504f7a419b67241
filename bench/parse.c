/*
 * How close the watch stream decoder comes to json-c parsing alone.  It
 * generates watch events like those of real custom resources, 2 to 10 KiB
 * each, and measures in the same run:
 *
 *   (a) the decoder fed the response in 16 KiB chunks, as libcurl gives it;
 *   (b) json_tokener_parse_ex on each event from memory: the bound.
 *
 * The decoder adds chunk handling, whitespace skipping and the size cap on
 * top of json-c; the ratio (a)/(b) is what they cost.  The two alternate
 * for several rounds and the fastest of each is kept, to leave out a busy
 * machine's noise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "stream.h"

#define EVENT_COUNT 2000
#define EVENT_MIN   (2 * 1024)
#define EVENT_MAX   (10 * 1024)
#define CHUNK_SIZE  (16 * 1024) /* what libcurl's write callback gets */
#define ROUNDS      21

/* The events, one after another with a newline each, as the apiserver. */
struct workload {
    char *response;
    size_t response_len;
    const char *events[EVENT_COUNT];
    size_t event_lens[EVENT_COUNT];
    size_t event_bytes;
};

static uint64_t random_state = 0x9e3779b97f4a7c15u;

/* A number in [0, n): xorshift, fixed seed, so every run sees one workload. */
static unsigned
random_below(unsigned n)
{
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return (unsigned)(random_state % n);
}

/* Adds key = value, a string, to object. */
static void
add_string(struct json_object *object, const char *key, const char *value)
{
    json_object_object_add(object, key, json_object_new_string(value));
}

/* Labels and annotations, as tooling and users set them. */
static void
add_labels(struct json_object *metadata, int i)
{
    struct json_object *labels = json_object_new_object();
    struct json_object *annotations = json_object_new_object();
    char key[64], value[96];

    for (unsigned k = 0, n = 3 + random_below(8); k < n; k++) {
        snprintf(key, sizeof(key), "app.kubernetes.io/part-%u", k);
        snprintf(value, sizeof(value), "value-%d-%u", i, k);
        add_string(labels, key, value);
    }
    for (unsigned k = 0, n = 2 + random_below(6); k < n; k++) {
        snprintf(key, sizeof(key), "tensorstack.dev/annotation-%u", k);
        snprintf(value, sizeof(value), "setting %u of notebook %d, on", k, i);
        add_string(annotations, key, value);
    }
    json_object_object_add(metadata, "labels", labels);
    json_object_object_add(metadata, "annotations", annotations);
}

/* One managedFields entry: fieldsV1 mirrors the fields it owns. */
static struct json_object *
managed_fields_entry(const char *manager)
{
    struct json_object *entry = json_object_new_object();
    struct json_object *fields = json_tokener_parse(
        "{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}},"
        "\"f:spec\":{\".\":{},\"f:image\":{},\"f:resources\":{\".\":{},"
        "\"f:limits\":{\".\":{},\"f:cpu\":{},\"f:memory\":{}}},"
        "\"f:env\":{\"k:{\\\"name\\\":\\\"MODE\\\"}\":{\".\":{},"
        "\"f:name\":{},\"f:value\":{}}}},\"f:status\":{\"f:conditions\":{}}}");

    add_string(entry, "manager", manager);
    add_string(entry, "operation", "Update");
    add_string(entry, "apiVersion", "tensorstack.dev/v1beta1");
    add_string(entry, "time", "2024-05-01T10:00:00Z");
    add_string(entry, "fieldsType", "FieldsV1");
    json_object_object_add(entry, "fieldsV1", fields);
    return entry;
}

/* The metadata of notebook i. */
static struct json_object *
metadata(int i)
{
    static const char *const managers[] = {"kubectl", "notebook-controller",
                                           "kube-scheduler", "helm"};
    struct json_object *m = json_object_new_object();
    struct json_object *managed = json_object_new_array();
    char text[64];

    snprintf(text, sizeof(text), "notebook-%d", i);
    add_string(m, "name", text);
    add_string(m, "namespace", "team-research");
    snprintf(text, sizeof(text), "0b7c6a1e-2f0d-4c52-9d3e-%012d", i);
    add_string(m, "uid", text);
    snprintf(text, sizeof(text), "%d", 4800000 + i);
    add_string(m, "resourceVersion", text);
    json_object_object_add(m, "generation", json_object_new_int64(1 + i % 9));
    add_string(m, "creationTimestamp", "2024-05-01T10:00:00Z");
    add_labels(m, i);
    for (unsigned k = 0, n = 1 + random_below(4); k < n; k++)
        json_object_array_add(managed, managed_fields_entry(managers[k]));
    json_object_object_add(m, "managedFields", managed);
    return m;
}

/* A spec with containers' usual settings. */
static struct json_object *
spec(void)
{
    struct json_object *s = json_tokener_parse(
        "{\"image\":\"registry.example.com/jupyter/scipy-notebook:2024.05\","
        "\"resources\":{\"limits\":{\"cpu\":\"4\",\"memory\":\"16Gi\","
        "\"nvidia.com/gpu\":\"1\"},\"requests\":{\"cpu\":\"2\",\"memory\":"
        "\"8Gi\"}},\"volumes\":[{\"name\":\"home\",\"persistentVolumeClaim\":"
        "{\"claimName\":\"home-pvc\"}}],\"tolerations\":[{\"key\":"
        "\"nvidia.com/gpu\",\"operator\":\"Exists\",\"effect\":"
        "\"NoSchedule\"}]}");
    struct json_object *env = json_object_new_array();
    char value[64];

    for (unsigned k = 0, n = 2 + random_below(10); k < n; k++) {
        struct json_object *var = json_object_new_object();

        snprintf(value, sizeof(value), "VARIABLE_%u", k);
        add_string(var, "name", value);
        snprintf(value, sizeof(value), "/opt/notebook/setting/%u", k * 7);
        add_string(var, "value", value);
        json_object_array_add(env, var);
    }
    json_object_object_add(s, "env", env);
    return s;
}

/* A status with its conditions. */
static struct json_object *
status(void)
{
    static const char *const types[] = {"Ready", "PodScheduled",
                                        "ContainersReady", "Initialized",
                                        "VolumesAttached"};
    struct json_object *s = json_object_new_object();
    struct json_object *conditions = json_object_new_array();

    add_string(s, "phase", "Running");
    for (unsigned k = 0, n = 2 + random_below(4); k < n; k++) {
        struct json_object *c = json_object_new_object();

        add_string(c, "type", types[k]);
        add_string(c, "status", "True");
        add_string(c, "reason", "Reconciled");
        add_string(c, "message", "the notebook server answers on port 8888");
        add_string(c, "lastTransitionTime", "2024-05-01T10:01:00Z");
        json_object_object_add(c, "observedGeneration",
                               json_object_new_int64(3));
        json_object_array_add(conditions, c);
    }
    json_object_object_add(s, "conditions", conditions);
    return s;
}

/* Compact JSON without json-c's escaped slashes: as the apiserver writes. */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* The length of value's JSON text. */
static size_t
json_len(struct json_object *value)
{
    return strlen(json_object_to_json_string_ext(value, JSON_FLAGS));
}

/*
 * Grows the object to about target bytes the way real objects are big:
 * with kubectl's last-applied-configuration, JSON text kept as an escaped
 * string in an annotation.
 */
static void
pad_to(struct json_object *object, struct json_object *meta, size_t target)
{
    struct json_object *annotations, *spec_text;
    size_t have = json_len(object), raw, escaped, len = 0;
    const char *text;
    char *applied;

    /* The annotation's key and quotes take about 60 bytes. */
    if (have + 60 >= target)
        return;
    text = json_object_to_json_string_ext(
        json_object_object_get(object, "spec"), JSON_FLAGS);
    spec_text = json_object_new_string(text);
    raw = strlen(text);
    escaped = json_len(spec_text) - 2;
    len = (target - have - 60) * raw / escaped;

    applied = malloc(len + 1);
    for (size_t pos = 0; pos < len; pos += raw)
        memcpy(applied + pos, text, len - pos < raw ? len - pos : raw);
    applied[len] = '\0';
    json_object_object_get_ex(meta, "annotations", &annotations);
    add_string(annotations, "kubectl.kubernetes.io/last-applied-configuration",
               applied);
    json_object_put(spec_text);
    free(applied);
}

/* Watch event i, as compact JSON text in a malloc'd string. */
static char *
make_event(int i, size_t *len)
{
    struct json_object *event = json_object_new_object();
    struct json_object *object = json_object_new_object();
    struct json_object *meta = metadata(i);
    /* The padding's estimate runs up to a few dozen bytes over. */
    size_t target = EVENT_MIN + random_below(EVENT_MAX - EVENT_MIN - 64);
    char *text;

    add_string(event, "type", i % 10 ? "MODIFIED" : "ADDED");
    add_string(object, "apiVersion", "tensorstack.dev/v1beta1");
    add_string(object, "kind", "Notebook");
    json_object_object_add(object, "metadata", meta);
    json_object_object_add(object, "spec", spec());
    json_object_object_add(object, "status", status());
    pad_to(object, meta, target);
    json_object_object_add(event, "object", object);

    text = strdup(json_object_to_json_string_ext(event, JSON_FLAGS));
    *len = strlen(text);
    json_object_put(event);
    return text;
}

/* Generates the events and the response that carries them. */
static void
make_workload(struct workload *w)
{
    size_t pos = 0;

    w->event_bytes = 0;
    for (int i = 0; i < EVENT_COUNT; i++) {
        w->events[i] = make_event(i, &w->event_lens[i]);
        w->event_bytes += w->event_lens[i];
    }

    w->response_len = w->event_bytes + EVENT_COUNT;
    w->response = malloc(w->response_len);
    for (int i = 0; i < EVENT_COUNT; i++) {
        memcpy(w->response + pos, w->events[i], w->event_lens[i]);
        pos += w->event_lens[i];
        w->response[pos++] = '\n';
    }
}

/* Says what was generated, to show that it is what was asked for. */
static void
print_workload(const struct workload *w)
{
    size_t smallest = SIZE_MAX, largest = 0;

    for (int i = 0; i < EVENT_COUNT; i++) {
        if (w->event_lens[i] < smallest)
            smallest = w->event_lens[i];
        if (w->event_lens[i] > largest)
            largest = w->event_lens[i];
    }
    printf("%d events of %zu to %zu bytes, %zu on average\n", EVENT_COUNT,
           smallest, largest, w->event_bytes / EVENT_COUNT);
}

/*
 * Seconds of this thread's CPU time: on a busy machine, other processes
 * then slow the measurement down less than they would the wall clock.
 */
static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Counts events, so that none can be optimized away. */
static int
count_event(struct json_object *event, void *ctx)
{
    (void)event;
    (*(long *)ctx)++;
    return 0;
}

/* (a): the decoder fed in 16 KiB chunks; returns seconds taken. */
static double
time_stream(const struct workload *w, long *events)
{
    struct watch_stream *stream = watch_stream_new(0);
    double start = now();

    for (size_t pos = 0; pos < w->response_len; pos += CHUNK_SIZE) {
        size_t n = w->response_len - pos;

        if (n > CHUNK_SIZE)
            n = CHUNK_SIZE;
        if (watch_stream_feed(stream, w->response + pos, n, count_event,
                              events) != 0) {
            fprintf(stderr, "decoder failed: %s\n", watch_stream_error(stream));
            exit(1);
        }
    }
    if (watch_stream_finish(stream) != 0)
        exit(1);

    start = now() - start;
    watch_stream_free(stream);
    return start;
}

/* (b): json-c on each event alone, with the decoder's settings. */
static double
time_tokener(const struct workload *w, long *events)
{
    struct json_tokener *tokener = json_tokener_new_ex(64);
    double start;

    json_tokener_set_flags(tokener, JSON_TOKENER_STRICT |
                                        JSON_TOKENER_ALLOW_TRAILING_CHARS);
    start = now();
    for (int i = 0; i < EVENT_COUNT; i++) {
        struct json_object *event;

        json_tokener_reset(tokener);
        event =
            json_tokener_parse_ex(tokener, w->events[i], (int)w->event_lens[i]);
        if (!event)
            exit(1);
        count_event(event, events);
        json_object_put(event);
    }
    start = now() - start;
    json_tokener_free(tokener);
    return start;
}

/* Prints one measurement's rates. */
static void
report(const char *what, double seconds, size_t bytes)
{
    printf("%-34s %10.0f events/s %8.1f MB/s\n", what, EVENT_COUNT / seconds,
           (double)bytes / seconds / 1e6);
}

int
main(void)
{
    struct workload w;
    double best_stream = 1e9, best_tokener = 1e9;
    long events = 0;

    make_workload(&w);
    print_workload(&w);

    for (int round = 0; round < ROUNDS; round++) {
        double a = time_stream(&w, &events);
        double b = time_tokener(&w, &events);

        best_stream = a < best_stream ? a : best_stream;
        best_tokener = b < best_tokener ? b : best_tokener;
    }
    if (events != 2L * ROUNDS * EVENT_COUNT) {
        fprintf(stderr, "expected %ld events, got %ld\n",
                2L * ROUNDS * EVENT_COUNT, events);
        return 1;
    }

    report("(a) watch_stream, 16 KiB chunks", best_stream, w.response_len);
    report("(b) json_tokener_parse_ex, bound", best_tokener, w.event_bytes);
    printf("ratio (a)/(b): %.3f\n", best_tokener / best_stream);

    for (int i = 0; i < EVENT_COUNT; i++)
        free((char *)w.events[i]);
    free(w.response);
    return 0;
}
