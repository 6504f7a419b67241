/*
 * The watcher's watch streams: a watch from the position, or a streaming
 * list (initial events, then a bookmark that ends them).  Each chunk of
 * the response goes through the stream decoder; each event to the
 * observer; and at the end of the request its outcome decides what the
 * loop does next.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "api_status.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "object.h"
#include "stream.h"
#include "watcher_internal.h"

/* Watches end after a random 5 to 10 minutes, as the reflector's do. */
#define WATCH_TIMEOUT_MIN 300
#define WATCH_TIMEOUT_MAX 600
/* A watch ending sooner with no event is a broken server or proxy. */
#define WATCH_MIN_LIFE_MS 1000
/* The same oversized event this many times: relist to get past it. */
#define OVERSIZED_RELIST_AFTER 3

#define INITIAL_EVENTS_END "k8s.io/initial-events-end"

/* Why a stream callback stopped the transfer (kube_stream returns it). */
enum stream_stop {
    STOP_EXPIRED = 1, /* an ERROR event with code 410 */
    STOP_TOO_LARGE,   /* an ERROR event: too large resource version */
    STOP_INTERNAL,    /* an ERROR event with code 500 */
    STOP_ERROR_EVENT, /* another ERROR event */
    STOP_FAILED,      /* writing records failed: see output_error */
    STOP_LISTED,      /* a streaming list reached its last bookmark */
};

/* Whether a bookmark ends the initial events of a streaming list. */
static bool
ends_initial_events(struct json_object *object)
{
    struct json_object *metadata, *annotations, *v;

    return json_object_object_get_ex(object, "metadata", &metadata) &&
           json_object_object_get_ex(metadata, "annotations", &annotations) &&
           json_object_object_get_ex(annotations, INITIAL_EVENTS_END, &v) &&
           json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), "true") == 0;
}

/*
 * A bookmark: progress, or the end of a streaming list's snapshot.  There
 * the request is ended and the watch goes on in a request of its own, from
 * the snapshot's resourceVersion: the list and the watch stay two steps of
 * the loop, each with its own outcome, and one request more per list costs
 * nothing.
 */
static int
on_bookmark(struct watcher *w, struct json_object *object)
{
    const char *rv = object_resource_version(object);
    int r;

    if (!rv || !*rv) {
        log_warn("a bookmark of %s has no resourceVersion, ignoring it",
                 w->opt->key);
        return 0;
    }
    /* Mid-list bookmarks do not cover the objects still to come. */
    if (w->listing_stream && !ends_initial_events(object))
        return 0;
    if (!w->listing_stream) {
        observer_bookmark(&w->observer, rv);
        return 0;
    }

    w->listing_stream = false;
    r = observer_list_end(&w->observer, rv);
    if (r < 0) {
        w->output_error = r;
        return STOP_FAILED;
    }
    watcher_list_done(w, rv);
    return STOP_LISTED;
}

/*
 * An ERROR event: 410 relists; "too large resource version", the watch
 * cache's 504, waits as its hint says; anything else is a failed watch.
 */
static int
on_error_event(struct watcher *w, struct json_object *object)
{
    struct api_status st;

    api_status_read(object, &st);
    if (st.code == 410)
        return STOP_EXPIRED;
    if (st.resource_version_too_large) {
        w->event_retry_after = st.retry_after;
        return STOP_TOO_LARGE;
    }
    snprintf(w->event_error, sizeof(w->event_error),
             "the watch of %s ended with an error: %s (code %ld)", w->opt->key,
             st.message[0] ? st.message : "no message", st.code);
    return st.code == 500 ? STOP_INTERNAL : STOP_ERROR_EVENT;
}

/* An object event: a list item while a streaming list lasts. */
static int
on_object(struct watcher *w, enum observed_type type,
          struct json_object *object)
{
    int r;

    if (w->listing_stream && type == OBSERVED_DELETED) {
        observer_list_remove(&w->observer, object);
        return 0;
    }
    if (w->listing_stream)
        r = observer_list_item(&w->observer, object);
    else
        r = observer_event(&w->observer, type, object);
    if (r < 0) {
        w->output_error = r;
        return STOP_FAILED;
    }
    return 0;
}

/* One decoded event of a watch stream. */
static int
on_event(struct json_object *event, void *ctx)
{
    struct watcher *w = ctx;
    struct json_object *type, *object;
    const char *t;

    w->events++;
    if (!json_object_object_get_ex(event, "type", &type) ||
        !json_object_is_type(type, json_type_string) ||
        !json_object_object_get_ex(event, "object", &object) ||
        !json_object_is_type(object, json_type_object)) {
        log_warn("a watch event of %s has no type or object, ignoring it",
                 w->opt->key);
        return 0;
    }

    t = json_object_get_string(type);
    if (strcmp(t, "ADDED") == 0)
        return on_object(w, OBSERVED_ADDED, object);
    if (strcmp(t, "MODIFIED") == 0)
        return on_object(w, OBSERVED_MODIFIED, object);
    if (strcmp(t, "DELETED") == 0)
        return on_object(w, OBSERVED_DELETED, object);
    if (strcmp(t, "BOOKMARK") == 0)
        return on_bookmark(w, object);
    if (strcmp(t, "ERROR") == 0)
        return on_error_event(w, object);
    log_warn("a watch event of %s has the unknown type \"%.32s\", ignoring "
             "it",
             w->opt->key, object_loggable(t));
    return 0;
}

/* A chunk of the stream; a PROGRESS record at most once per chunk. */
static int
on_data(const char *data, size_t len, void *ctx)
{
    struct watcher *w = ctx;
    int r;

    if (!w->got_data) {
        w->got_data = true;
        watcher_trouble_over(w);
    }
    r = watch_stream_feed(w->stream, data, len, on_event, w);
    if (r == 0 && (r = observer_flush(&w->observer)) < 0) {
        w->output_error = r;
        r = STOP_FAILED;
    }
    metrics_publish(false);
    return r;
}

/* A random timeout in [WATCH_TIMEOUT_MIN, WATCH_TIMEOUT_MAX] seconds. */
static long
watch_timeout(struct watcher *w)
{
    double r = w->backoff.random(w->backoff.ctx);

    return WATCH_TIMEOUT_MIN +
           (long)(r * (WATCH_TIMEOUT_MAX - WATCH_TIMEOUT_MIN + 1));
}

/* The path of a watch from the position, or of a streaming list. */
static void
stream_path(struct watcher *w, char *buf, size_t size, bool list)
{
    if (list)
        snprintf(buf, size,
                 "%s?watch=1&sendInitialEvents=true&resourceVersionMatch="
                 "NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=%ld%s",
                 w->path, watch_timeout(w), w->selectors);
    else
        snprintf(buf, size,
                 "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&"
                 "timeoutSeconds=%ld%s",
                 w->path, observer_position(&w->observer), watch_timeout(w),
                 w->selectors);
}

/*
 * An oversized event: rewatch, or relist when it keeps coming back.  In a
 * streaming list the same object would come back at every try: this list
 * goes in pages, which have no such limit.
 */
static void
oversized(struct watcher *w)
{
    const char *at = observer_position(&w->observer);

    if (w->listing_stream) {
        log_warn("an object of %s over %zu bytes in the streaming list, "
                 "listing in pages this time",
                 w->opt->key, w->opt->max_event_bytes);
        watcher_count_error(w, "oversized");
        w->list_in_pages_once = true;
        return;
    }
    if (strcmp(at, w->oversized_at) == 0)
        w->oversized_count++;
    else
        w->oversized_count = 1;
    snprintf(w->oversized_at, sizeof(w->oversized_at), "%s", at);

    if (w->oversized_count >= OVERSIZED_RELIST_AFTER) {
        log_warn("event over %zu bytes after resourceVersion %s again, "
                 "relisting to get past it",
                 w->opt->max_event_bytes, at);
        w->oversized_count = 0;
        w->phase = PHASE_LIST;
        return;
    }
    watcher_retry(w, &w->backoff, -1, true, "oversized",
                  "event over %zu bytes, dropping the connection",
                  w->opt->max_event_bytes);
}

/* A stream that ended with HTTP 200 and no error of its own. */
static void
stream_ended(struct watcher *w, bool list, uint64_t elapsed_ms)
{
    int r = watch_stream_finish(w->stream);

    if (r == -EPIPE) {
        log_info(1, "the watch of %s ended inside an event, rewatching",
                 w->opt->key);
        watcher_count_error(w, "truncated");
    } else if (elapsed_ms < WATCH_MIN_LIFE_MS && w->events == 0) {
        watcher_retry(w, &w->backoff, -1, true, "closed_early",
                      "the watch of %s closed at once with no event",
                      w->opt->key);
    } else if (list && w->listing_stream) {
        watcher_retry(w, &w->backoff, -1, true, "truncated",
                      "the streaming list of %s ended before its last object",
                      w->opt->key);
    } else {
        log_info(2, "the watch of %s ended, rewatching", w->opt->key);
    }
}

/* A refusal of the streaming list: list in pages from now on. */
static bool
streaming_list_refused(struct watcher *w, const struct kube_response *resp)
{
    long s = resp->status;

    if (s < 400 || s >= 500 || s == 401 || s == 403 || s == 404 || s == 410 ||
        s == 429)
        return false;
    log_info(1,
             "the API server refuses streaming lists (HTTP %ld), listing "
             "in pages",
             s);
    w->streaming_list_refused = true;
    return true;
}

/*
 * A streaming list that broke off after its data began, in transport:
 * list in pages this time, as the reflector falls back to a list when its
 * watch-list fails, since making progress matters more.  The next list
 * streams again.
 */
static bool
streaming_list_broke(struct watcher *w, int r)
{
    if (!w->listing_stream || !w->got_data || r >= 0 || r == -ECANCELED ||
        r == -ETIMEDOUT || r == -EMSGSIZE)
        return false;
    log_info(1,
             "the streaming list of %s broke off, listing in pages this "
             "time",
             w->opt->key);
    watcher_count_error(w, "streaming_list");
    w->list_in_pages_once = true;
    return true;
}

/* A failure the stream itself reported, decoded or not. */
static void
stream_failed(struct watcher *w, int r, const struct kube_response *resp)
{
    if (streaming_list_broke(w, r))
        w->wait_ms = 0;
    else if (r == STOP_LISTED)
        w->wait_ms = 0;
    else if (r == STOP_EXPIRED)
        watcher_expired(w, observer_position(&w->observer));
    else if (r == STOP_TOO_LARGE)
        watcher_too_large(w, "watch", w->event_retry_after);
    else if (r == STOP_INTERNAL)
        watcher_internal_error_event(w, w->event_error);
    else if (r == STOP_ERROR_EVENT)
        watcher_retry(w, &w->backoff, -1, true, "error_event", "%s",
                      w->event_error);
    else if (r == -EMSGSIZE)
        oversized(w);
    else if (r == -EBADMSG)
        watcher_retry(w, &w->backoff, -1, true, "malformed",
                      "malformed watch event (%s), dropping the connection",
                      watch_stream_error(w->stream));
    else if (r == -ETIMEDOUT && resp->status == 200) {
        log_info(1, "no data from the watch of %s for %lds, reconnecting",
                 w->opt->key, w->opt->stall_seconds);
        watcher_count_error(w, "stall");
    } else if (r != -ECANCELED)
        watcher_transport_trouble(w, &w->backoff, "watch", r, resp->error);
}

/* Decides what follows a watch or streaming list request. */
static void
stream_outcome(struct watcher *w, int r, const struct kube_response *resp,
               bool list, uint64_t elapsed_ms)
{
    if (w->output_error)
        watcher_output_failed(w);
    else if (r != 0)
        stream_failed(w, r, resp);
    else if (resp->status == 200)
        stream_ended(w, list, elapsed_ms);
    else if (!(list && streaming_list_refused(w, resp)))
        watcher_http_trouble(w, resp, list ? "list" : "watch");
}

/* One watch request, or a streaming list that goes on as a watch. */
void
watcher_stream(struct watcher *w, bool list)
{
    struct kube_response resp;
    char path[8192];
    uint64_t start;
    int r;

    stream_path(w, path, sizeof(path), list);
    if (list && observer_list_begin(&w->observer) < 0) {
        w->output_error = -ENOMEM;
        watcher_output_failed(w);
        return;
    }
    if (!list)
        watcher_started(w);

    w->listing_stream = list;
    w->got_data = false;
    w->events = 0;
    watch_stream_reset(w->stream);
    start = backoff_clock_ms(NULL);
    r = kube_stream(w->client, path, w->opt->stall_seconds, on_data, w, &resp);
    if (w->listing_stream)
        observer_list_abort(&w->observer);

    stream_outcome(w, r, &resp, list, backoff_clock_ms(NULL) - start);
    w->listing_stream = false;
    kube_response_free(&resp);
}
