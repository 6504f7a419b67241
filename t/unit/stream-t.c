/*
 * The watch stream decoder: every event of a watch response comes out the
 * same however the response is cut into chunks, and broken, oversized or
 * truncated responses are refused with the documented error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "stream.h"
#include "heap.h"
#include "tap.h"

#define MAX_EVENTS 64

/* What a decoder produced: each event in its plain JSON form. */
struct events {
    int count;
    char *json[MAX_EVENTS];
    int stop_after; /* the callback returns 7 after this many, if set */
};

/*
 * A watch response as the apiserver writes it, with the strings that make
 * cutting it interesting: braces and newlines inside strings, escapes,
 * unicode, a bookmark, a delete and an expired watch.
 */
static const char *const watch_events[] = {
    "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":"
    "\"tensorstack.dev/v1beta1\",\"kind\":\"Notebook\",\"metadata\":{"
    "\"name\":\"nb-1\",\"namespace\":\"team-a\",\"uid\":"
    "\"0b7c6a1e-2f0d-4c52-9d3e-6a1f2b3c4d5e\",\"resourceVersion\":\"1001\","
    "\"generation\":1,\"creationTimestamp\":\"2024-05-01T10:00:00Z\","
    "\"labels\":{\"app\":\"nb\",\"owner\":\"ana\"},\"annotations\":{"
    "\"note\":\"braces { } and \\\"quotes\\\" and a\\nnewline\"},"
    "\"finalizers\":[\"tensorstack.dev/cleanup\"]},\"spec\":{\"image\":"
    "\"jupyter:4\",\"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":"
    "\"4Gi\"}}},\"status\":{\"phase\":\"Pending\"}}}",

    "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":"
    "\"tensorstack.dev/v1beta1\",\"kind\":\"Notebook\",\"metadata\":{"
    "\"name\":\"nb-1\",\"namespace\":\"team-a\",\"uid\":"
    "\"0b7c6a1e-2f0d-4c52-9d3e-6a1f2b3c4d5e\",\"resourceVersion\":\"1002\","
    "\"generation\":2,\"managedFields\":[{\"manager\":\"kubectl\","
    "\"operation\":\"Update\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{"
    "\"f:spec\":{\"f:image\":{}}}}]},\"spec\":{\"image\":\"jupyter:5\"},"
    "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\","
    "\"status\":\"True\",\"reason\":\"Started\",\"message\":"
    "\"caf\\u00e9 \\u2713 \xe6\x97\xa5\xe6\x9c\xac \\ud83d\\ude80\","
    "\"lastTransitionTime\":\"2024-05-01T10:01:00Z\"}]}}}",

    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Notebook\",\"apiVersion\":"
    "\"tensorstack.dev/v1beta1\",\"metadata\":{\"resourceVersion\":\"1005\","
    "\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}",

    "{\"type\":\"DELETED\",\"object\":{\"apiVersion\":"
    "\"tensorstack.dev/v1beta1\",\"kind\":\"Notebook\",\"metadata\":{"
    "\"name\":\"nb-1\",\"namespace\":\"team-a\",\"uid\":"
    "\"0b7c6a1e-2f0d-4c52-9d3e-6a1f2b3c4d5e\",\"resourceVersion\":\"1007\","
    "\"deletionTimestamp\":\"2024-05-01T11:00:00Z\",\"generation\":3,"
    "\"numbers\":[0,-1,2.5,1e3,true,false,null]}}}",

    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
    "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
    "\"too old resource version: 1001 (1005)\",\"reason\":\"Expired\","
    "\"code\":410}}",
};

#define WATCH_EVENT_COUNT (sizeof(watch_events) / sizeof(watch_events[0]))

/* Separators as they occur: the apiserver's newline, and others JSON allows. */
static const char *const separators[] = {"\n", "\r\n", "", "  \n\t", "\n"};

/* Collects each event's text; stops when told to. */
static int
collect(struct json_object *event, void *ctx)
{
    struct events *got = ctx;

    if (got->count < MAX_EVENTS)
        got->json[got->count] = strdup(
            json_object_to_json_string_ext(event, JSON_C_TO_STRING_PLAIN));
    got->count++;
    if (got->stop_after && got->count == got->stop_after)
        return 7;
    return 0;
}

/* Frees what collect kept. */
static void
events_clear(struct events *got)
{
    for (int i = 0; i < got->count && i < MAX_EVENTS; i++)
        free(got->json[i]);
    memset(got, 0, sizeof(*got));
}

/* The events json-c makes of each text parsed alone: the expectation. */
static void
expected_events(struct events *want)
{
    memset(want, 0, sizeof(*want));
    for (size_t i = 0; i < WATCH_EVENT_COUNT; i++) {
        struct json_object *event = json_tokener_parse(watch_events[i]);

        collect(event, want);
        json_object_put(event);
    }
}

/* The whole response: every event followed by its separator. */
static char *
watch_response(size_t *len)
{
    size_t size = 1;
    char *text;

    for (size_t i = 0; i < WATCH_EVENT_COUNT; i++)
        size += strlen(watch_events[i]) + strlen(separators[i]);
    text = malloc(size);
    text[0] = '\0';
    for (size_t i = 0; i < WATCH_EVENT_COUNT; i++) {
        strcat(text, watch_events[i]);
        strcat(text, separators[i]);
    }
    *len = strlen(text);
    return text;
}

/* Feeds text in chunks of chunk bytes and finishes; returns the first error. */
static int
decode_chunked(struct watch_stream *stream, const char *text, size_t len,
               size_t chunk, struct events *got)
{
    for (size_t pos = 0; pos < len; pos += chunk) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        int r = watch_stream_feed(stream, text + pos, n, collect, got);

        if (r)
            return r;
    }
    return watch_stream_finish(stream);
}

/* Feeds text as two chunks cut at split and finishes. */
static int
decode_split(struct watch_stream *stream, const char *text, size_t len,
             size_t split, struct events *got)
{
    int r;

    r = watch_stream_feed(stream, text, split, collect, got);
    if (r)
        return r;
    r = watch_stream_feed(stream, text + split, len - split, collect, got);
    if (r)
        return r;
    return watch_stream_finish(stream);
}

/* Feeds each piece in turn and finishes; returns the first error. */
static int
decode_pieces(struct watch_stream *stream, const char *const *pieces,
              struct events *got)
{
    for (; *pieces; pieces++) {
        int r =
            watch_stream_feed(stream, *pieces, strlen(*pieces), collect, got);

        if (r)
            return r;
    }
    return watch_stream_finish(stream);
}

/* Returns the index of the first event that differs, or -1. */
static int
first_difference(const struct events *got, const struct events *want)
{
    for (int i = 0; i < want->count || i < got->count; i++) {
        if (i >= want->count || i >= got->count)
            return i;
        if (strcmp(got->json[i], want->json[i]) != 0)
            return i;
    }
    return -1;
}

/* Checks that got holds exactly the events of want. */
static void
is_events(const struct events *got, const struct events *want, const char *desc)
{
    int i = first_difference(got, want);

    if (ok(i < 0, desc))
        return;
    printf("#   expected %d events, got %d; first difference at event %d\n",
           want->count, got->count, i);
    if (i < want->count)
        printf("#   expected %s\n", want->json[i]);
    if (i < got->count)
        printf("#   got      %s\n", got->json[i]);
}

/* Decodes buf whole and finishes; returns the first error. */
static int
decode_whole(const char *buf, size_t len, size_t cap, struct events *got)
{
    struct watch_stream *stream = watch_stream_new(cap);
    int r;

    r = watch_stream_feed(stream, buf, len, collect, got);
    if (r == 0)
        r = watch_stream_finish(stream);
    watch_stream_free(stream);
    return r;
}

/* A response in one chunk gives every event. */
static void
test_response_fed_whole(void)
{
    struct events want, got = {0};
    size_t len;
    char *text = watch_response(&len);

    expected_events(&want);
    is_int(decode_whole(text, len, 0, &got), 0, "a whole response decodes");
    is_events(&got, &want, "a whole response gives every event in order");

    events_clear(&got);
    events_clear(&want);
    free(text);
}

/* A response one byte at a time gives every event. */
static void
test_response_fed_byte_by_byte(void)
{
    struct watch_stream *stream = watch_stream_new(0);
    struct events want, got = {0};
    size_t len;
    char *text = watch_response(&len);

    expected_events(&want);
    is_int(decode_chunked(stream, text, len, 1, &got), 0,
           "a response fed one byte at a time decodes");
    is_events(&got, &want, "one byte at a time gives every event in order");

    events_clear(&got);
    events_clear(&want);
    watch_stream_free(stream);
    free(text);
}

/* A response cut in two anywhere gives every event. */
static void
test_response_split_anywhere(void)
{
    struct watch_stream *stream = watch_stream_new(0);
    struct events want, got = {0};
    size_t len, bad = 0, first_bad = 0;
    int first_r = 0;
    char *text = watch_response(&len);

    expected_events(&want);
    for (size_t split = 0; split <= len; split++) {
        int r;

        watch_stream_reset(stream);
        r = decode_split(stream, text, len, split, &got);
        if ((r != 0 || first_difference(&got, &want) >= 0) && bad++ == 0) {
            first_bad = split;
            first_r = r;
        }
        events_clear(&got);
    }
    if (!ok(bad == 0, "a response cut in two anywhere gives every event"))
        printf("#   expected 0 bad cuts of %zu, got %zu; first at byte %zu "
               "(returned %d)\n",
               len + 1, bad, first_bad, first_r);

    events_clear(&want);
    watch_stream_free(stream);
    free(text);
}

/* A chunk holding several events gives each of them. */
static void
test_several_events_in_one_chunk(void)
{
    const char *chunk = "{\"type\":\"ADDED\",\"n\":1}{\"type\":\"ADDED\","
                        "\"n\":2}\n{\"type\":\"DELETED\",\"n\":3}\n";
    struct events got = {0};

    is_int(decode_whole(chunk, strlen(chunk), 0, &got), 0,
           "a chunk of several events decodes");
    is_int(got.count, 3, "a chunk of several events gives each");
    if (got.count == 3)
        is_str(got.json[2], "{\"type\":\"DELETED\",\"n\":3}",
               "the last event of a chunk is whole");
    events_clear(&got);
}

/* Whitespace around events is no event and no error. */
static void
test_whitespace_between_events(void)
{
    const char *chunk = "\n\r\n \t{\"a\":1}\n\n\n   \r\n{\"b\":2}\t \n\n";
    struct events got = {0};

    is_int(decode_whole(chunk, strlen(chunk), 0, &got), 0,
           "whitespace around events is skipped");
    is_int(got.count, 2, "whitespace is not an event");

    events_clear(&got);
    is_int(decode_whole("\n\n  \r\n", 6, 0, &got), 0,
           "a response of only whitespace ends cleanly");
    is_int(got.count, 0, "a response of only whitespace has no event");
    events_clear(&got);
}

/* Objects nest deeper than json-c allows by default. */
static void
test_deep_object(void)
{
    char text[512] = "";
    struct events got = {0};

    /* 48 levels: past json-c's default depth of 32, within the stream's. */
    for (int i = 0; i < 47; i++)
        strcat(text, "{\"a\":");
    strcat(text, "{}");
    for (int i = 0; i < 47; i++)
        strcat(text, "}");
    is_int(decode_whole(text, strlen(text), 0, &got), 0,
           "an object nested 48 deep decodes");
    is_int(got.count, 1, "an object nested 48 deep is one event");
    events_clear(&got);
}

/* Checks that text is refused with error after the events before it. */
static void
is_refused(const char *text, int want_events, int error, const char *desc)
{
    struct events got = {0};
    char what[160];

    is_int(decode_whole(text, strlen(text), 0, &got), error, desc);
    snprintf(what, sizeof(what), "%s: %d events before it", desc, want_events);
    is_int(got.count, want_events, what);
    events_clear(&got);
}

/* What strict JSON forbids is refused. */
static void
test_malformed_json(void)
{
    is_refused("{\"type\":\"ADDED\"}\n{\"type\" \"ADDED\"}\n", 1, -EBADMSG,
               "a missing colon is malformed");
    is_refused("{\"a\":1,}\n", 0, -EBADMSG, "a trailing comma is malformed");
    is_refused("{\"a\":01}\n", 0, -EBADMSG, "a leading zero is malformed");
    is_refused("{\"a\":1/**/}\n", 0, -EBADMSG, "a comment is malformed");
    is_refused("{\"a\":tru}\n", 0, -EBADMSG, "a broken literal is malformed");
    is_refused("{\"a\":\"x\\q\"}\n", 0, -EBADMSG, "a bad escape is malformed");
    is_refused("{\"a\":1}}\n", 1, -EBADMSG, "a stray brace is malformed");
}

/* A NUL byte is refused wherever it is. */
static void
test_nul_byte(void)
{
    struct events got = {0};

    is_int(decode_whole("{\"a\":\"x\0\"}", 10, 0, &got), -EBADMSG,
           "a NUL byte inside an event is malformed");
    events_clear(&got);
    is_int(decode_whole("{}\n\0{}", 6, 0, &got), -EBADMSG,
           "a NUL byte between events is malformed");
    events_clear(&got);
}

/* Only an object can be an event. */
static void
test_top_level_not_object(void)
{
    is_refused("[{\"type\":\"ADDED\"}]\n", 0, -EBADMSG,
               "a top-level array is refused");
    is_refused("{\"n\":1}\n42\n", 1, -EBADMSG, "a top-level number is refused");
    is_refused("\"ADDED\"\n", 0, -EBADMSG, "a top-level string is refused");
    is_refused("null\n", 0, -EBADMSG, "a top-level null is refused");
}

/* After an error nothing is decoded until reset. */
static void
test_error_is_sticky(void)
{
    struct watch_stream *stream = watch_stream_new(0);
    struct events got = {0};

    watch_stream_feed(stream, "[1]", 3, collect, &got);
    is_int(watch_stream_feed(stream, "{}", 2, collect, &got), -EBADMSG,
           "after an error, feed refuses input");
    is_int(got.count, 0, "after an error, no event comes out");
    ok(watch_stream_error(stream) != NULL, "an error has a reason");

    watch_stream_reset(stream);
    is_int(watch_stream_feed(stream, "{}", 2, collect, &got), 0,
           "after reset, feed takes input again");
    is_int(got.count, 1, "after reset, events come out again");
    events_clear(&got);
    watch_stream_free(stream);
}

/*
 * Feeds {"a":"xxx... in 16 KiB chunks, as libcurl would, until the decoder
 * refuses it; returns feed's result and how many bytes it took.
 */
static int
feed_endless_event(struct watch_stream *stream, size_t *fed)
{
    static char chunk[16384];
    struct events none = {0};
    int r;

    memset(chunk, 'x', sizeof(chunk));
    r = watch_stream_feed(stream, "{\"a\":\"", 6, collect, &none);
    for (*fed = 6; r == 0 && *fed < 64u * 1024 * 1024; *fed += sizeof(chunk))
        r = watch_stream_feed(stream, chunk, sizeof(chunk), collect, &none);
    return r;
}

/* An endless event is refused near the cap, in bytes and in memory. */
static void
test_event_over_cap(void)
{
    size_t cap = 1024 * 1024, before = heap_in_use(), fed, grown;
    struct watch_stream *stream = watch_stream_new(cap);
    int r;

    r = feed_endless_event(stream, &fed);
    grown = heap_in_use() - before;
    is_int(r, -EMSGSIZE, "an event over the cap is refused");
    if (!ok(fed <= cap + 16384, "an event is refused within a chunk of cap"))
        printf("#   expected at most %zu bytes fed, got %zu\n", cap + 16384,
               fed);
    /* json-c's buffer doubles as it grows: twice the cap, plus change. */
    if (!heap_measurable())
        skip("memory stays near the cap", "the heap cannot be measured here");
    else if (!ok(grown <= 2 * cap + 65536, "memory stays near the cap"))
        printf("#   expected at most %zu bytes of heap, got %zu\n",
               2 * cap + 65536, grown);
    is_int(watch_stream_feed(stream, "{}", 2, collect, NULL), -EMSGSIZE,
           "after an event over the cap, feed refuses input");
    watch_stream_free(stream);
}

/* The cap counts an event's bytes exactly. */
static void
test_event_at_cap(void)
{
    const char *text = "{\"a\":\"12345678\"}\n{\"a\":\"123456789\"}\n";
    struct events got = {0};

    /* The first event is 16 bytes; the second, 17, is one too many. */
    is_int(decode_whole(text, strlen(text), 16, &got), -EMSGSIZE,
           "an event one byte over the cap is refused");
    is_int(got.count, 1, "an event exactly at the cap is taken");
    events_clear(&got);
}

/* A response that ends inside an event is reported at the end. */
static void
test_truncated_response(void)
{
    struct watch_stream *stream = watch_stream_new(0);
    struct events got = {0};
    size_t len;
    char *text = watch_response(&len);
    size_t cut = len - strlen(watch_events[WATCH_EVENT_COUNT - 1]) / 2;

    is_int(watch_stream_feed(stream, text, cut, collect, &got), 0,
           "a response cut inside an event feeds without error");
    is_int(got.count, (int)WATCH_EVENT_COUNT - 1,
           "the events before the cut come out");
    is_int(watch_stream_finish(stream), -EPIPE,
           "the end of a response inside an event is -EPIPE");
    is_int(watch_stream_finish(stream), 0,
           "the cut event is discarded at the end");

    events_clear(&got);
    watch_stream_free(stream);
    free(text);
}

/* A callback can stop the decoder. */
static void
test_callback_stops_feeding(void)
{
    struct events got = {.stop_after = 2};
    size_t len;
    char *text = watch_response(&len);

    is_int(decode_whole(text, len, 0, &got), 7,
           "a callback's nonzero return is feed's result");
    is_int(got.count, 2, "no event follows a callback's nonzero return");

    events_clear(&got);
    free(text);
}

/*
 * Reports a check of a known shortcoming as TODO: it shows in the output
 * but does not fail the run, and says so when the shortcoming goes away.
 */
static void
todo_is_int(long long got, long long want, const char *desc, const char *why)
{
    printf("%sok %d - %s # TODO %s\n", got == want ? "" : "not ", ++tap_count,
           desc, why);
    if (got != want)
        printf("#   expected %lld, got %lld\n", want, got);
}

/* Valid numbers split anywhere decode as when whole. */
static void
test_numbers_split_anywhere(void)
{
    const char *text = "{\"n\":[-12,0,-0.5,1e-5,-2.5E+3,-7e12,3.25,-0]}\n";
    size_t len = strlen(text), bad = 0;
    struct watch_stream *stream = watch_stream_new(0);
    struct events want = {0}, got = {0};

    decode_whole(text, len, 0, &want);
    for (size_t split = 0; split <= len; split++) {
        watch_stream_reset(stream);
        if (decode_split(stream, text, len, split, &got) != 0 ||
            first_difference(&got, &want) >= 0)
            bad++;
        events_clear(&got);
    }
    is_int(bad, 0, "valid numbers cut in two anywhere decode the same");
    events_clear(&want);
    watch_stream_free(stream);
}

/* A malformed number is refused, unless json-c's flaw hides it. */
static void
test_minus_after_chunk_boundary(void)
{
    static const char why[] = "json-c 0.16 continues a number with a '-' "
                              "that starts a chunk";
    static const char *const double_minus[] = {"{\"", "\":-", "-", NULL};
    static const char *const one_minus_two[] = {"{\"n\":1", "-2}\n", NULL};
    struct watch_stream *stream = watch_stream_new(0);
    struct events got = {0};

    /* The smallest input fuzz/stream.c found, whole and as it cut it. */
    is_int(decode_whole("{\"\":--", 6, 0, &got), -EBADMSG,
           "a double minus is malformed");
    todo_is_int(decode_pieces(stream, double_minus, &got), -EBADMSG,
                "a double minus cut between its signs is malformed", why);

    watch_stream_reset(stream);
    events_clear(&got);
    todo_is_int(decode_pieces(stream, one_minus_two, &got), -EBADMSG,
                "1-2 cut before the minus is malformed", why);

    events_clear(&got);
    watch_stream_free(stream);
}

int
main(void)
{
    test_response_fed_whole();
    test_response_fed_byte_by_byte();
    test_response_split_anywhere();
    test_several_events_in_one_chunk();
    test_whitespace_between_events();
    test_deep_object();
    test_malformed_json();
    test_nul_byte();
    test_top_level_not_object();
    test_error_is_sticky();
    test_event_over_cap();
    test_event_at_cap();
    test_truncated_response();
    test_callback_stops_feeding();
    test_numbers_split_anywhere();
    test_minus_after_chunk_boundary();
    return tap_done();
}
