/*
 * The watcher's loop, after client-go's Reflector: discover the resource,
 * list it, watch it from the list's resourceVersion, and after any break
 * watch again from the last resourceVersion written; relist only when the
 * API server no longer has that version (410 Gone).
 *
 * The loop is a small state machine over three phases.  Each step is one
 * request; its outcome picks the next phase and how long to wait first.
 * Every failure is logged once, where its outcome is decided, with what
 * happens next.  A trouble that persists is warned about once and then
 * logged at verbosity 2 until something succeeds.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "api_status.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "stream.h"
#include "watcher_internal.h"

/* A CRD installed later must be found within 30 s: retry every 10 s. */
#define DISCOVERY_CAP_MS 10000
/* Waiting out "too large resource version" without a Retry-After. */
#define TOO_LARGE_WAIT_MS 1000
/*
 * Internal errors (500) of a watch are retried from the same
 * resourceVersion for 30 s, then the watcher relists: client-go's
 * reflector with the bound the API server sets for its own watch cache
 * (informers set none and relist at the first).  A minute without one
 * starts the count again.
 */
#define INTERNAL_ERROR_RETRY_MS 30000
#define INTERNAL_ERROR_RESET_MS 60000
/*
 * Failures in a row that may be passing (connections refused or reset,
 * a 503 while an API server starts) before they are a warning, not info:
 * about half a minute of backoff.
 */
#define BLIPS_BEFORE_WARNING 5
/* A stop is noticed at least this often while waiting. */
#define SLEEP_SLICE_MS 200

/* Sleeps ms milliseconds, or less if a stop is asked for. */
static void
sleep_ms(struct watcher *w, long ms)
{
    uint64_t end = backoff_clock_ms(NULL) + (uint64_t)ms, now;

    while (!*w->stop && (now = backoff_clock_ms(NULL)) < end) {
        uint64_t left = end - now < SLEEP_SLICE_MS ? end - now : SLEEP_SLICE_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000};

        /*
         * A signal interrupts it, but one that comes just before it
         * starts does not: the slices bound how late a stop is seen.
         */
        nanosleep(&ts, NULL);
    }
}

/* Adds one to a counter of this resource. */
void
watcher_count(struct watcher *w, const char *family)
{
    metrics_add(family, w->metric_labels, 1);
}

/* Counts a failure by reason. */
void
watcher_count_error(struct watcher *w, const char *reason)
{
    char labels[400];

    snprintf(labels, sizeof(labels), "%s,reason=\"%s\"", w->metric_labels,
             reason);
    metrics_add("event_controller_watch_errors_total", labels, 1);
}

/*
 * The master is ready once every watcher knows its objects; it learns so
 * from this gauge, published at once rather than within the second.
 */
void
watcher_synced(struct watcher *w)
{
    metrics_set("event_controller_watch_synced", w->metric_labels, 1);
    metrics_set("event_controller_watch_waiting", w->metric_labels, 0);
    metrics_publish(true);
}

/*
 * A resource that is not served, or not allowed, may stay so for good:
 * the master must not hold readiness back for it, and learns from this
 * gauge that the watcher waits rather than lists.
 */
static void
watcher_waiting(struct watcher *w)
{
    metrics_set("event_controller_watch_waiting", w->metric_labels, 1);
    metrics_publish(true);
}

/* Something worked: the next trouble is news again. */
void
watcher_trouble_over(struct watcher *w)
{
    w->warned[0] = '\0';
    w->blips = 0;
}

/* Logs a failure and sets the wait; see watcher_internal.h. */
void
watcher_retry(struct watcher *w, struct backoff *b, long wait_ms, bool warn,
              const char *reason, const char *fmt, ...)
{
    char text[sizeof(w->warned)];
    const char *sep;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    /* "installed? retrying" reads better than "installed?, retrying". */
    sep = text[0] && text[strlen(text) - 1] == '?' ? " " : ", ";
    w->wait_ms = wait_ms >= 0 ? wait_ms : (long)backoff_next(b);
    watcher_count_error(w, reason);
    if (strcmp(reason, "not_served") == 0 || strcmp(reason, "forbidden") == 0)
        watcher_waiting(w);
    if (warn && strcmp(text, w->warned) != 0) {
        log_warn("%s%sretrying in %.1fs", text, sep, w->wait_ms / 1000.0);
        snprintf(w->warned, sizeof(w->warned), "%s", text);
    } else {
        log_info(warn ? 2 : 1, "%s%sretrying in %.1fs", text, sep,
                 w->wait_ms / 1000.0);
    }
}

/* The namespace words for log lines: " in namespace x" or "". */
static const char *
scope(const struct watcher *w, char *buf, size_t size)
{
    if (w->api.namespaced && w->opt->namespace)
        snprintf(buf, size, " in namespace %s", w->opt->namespace);
    else
        buf[0] = '\0';
    return buf;
}

/* A transport failure: info while it may be a blip, then a warning. */
void
watcher_transport_trouble(struct watcher *w, struct backoff *b,
                          const char *what, int r, const char *error)
{
    bool tls = r == -EPROTO, credential = r == -ENOKEY;
    bool warn = tls || credential;

    w->blips++;
    warn |= w->blips > BLIPS_BEFORE_WARNING;
    watcher_retry(w, b, -1, warn,
                  tls          ? "tls"
                  : credential ? "credential"
                               : "connection",
                  "%s: %s%s", what,
                  tls          ? "TLS failure: "
                  : credential ? "no credential: "
                               : "",
                  error[0] ? error : strerror(-r));
}

/* Appends "&name=value" with value URL-encoded. */
static int
add_selector(char *buf, size_t size, const char *name, const char *value)
{
    char *escaped;
    size_t len = strlen(buf);
    int n;

    if (!value || !*value)
        return 0;
    escaped = curl_easy_escape(NULL, value, 0);
    if (!escaped)
        return -ENOMEM;
    n = snprintf(buf + len, size - len, "&%s=%s", name, escaped);
    curl_free(escaped);
    return n < 0 || (size_t)n >= size - len ? -E2BIG : 0;
}

/* The collection's path and the selectors, once discovery says scope. */
static int
build_paths(struct watcher *w)
{
    const struct watcher_options *o = w->opt;
    char prefix[512];
    int n, r;

    if (*o->group)
        snprintf(prefix, sizeof(prefix), "/apis/%s/%s", o->group, o->version);
    else
        snprintf(prefix, sizeof(prefix), "/api/%s", o->version);
    if (w->api.namespaced && o->namespace)
        n = snprintf(w->path, sizeof(w->path), "%s/namespaces/%s/%s", prefix,
                     o->namespace, o->resource);
    else
        n = snprintf(w->path, sizeof(w->path), "%s/%s", prefix, o->resource);
    if (n < 0 || (size_t)n >= sizeof(w->path))
        return -E2BIG;

    w->selectors[0] = '\0';
    r = add_selector(w->selectors, sizeof(w->selectors), "labelSelector",
                     o->label_selector);
    if (r == 0)
        r = add_selector(w->selectors, sizeof(w->selectors), "fieldSelector",
                         o->field_selector);
    return r;
}

/* Resumes from the snapshot, if one is given and readable. */
static void
load_snapshot(struct watcher *w)
{
    struct store *store;
    char err[256], *rv = NULL;
    int r;

    w->phase = PHASE_LIST;
    if (!w->opt->state_path || !(store = store_new()))
        return;
    r = store_load(w->opt->state_path, store, &rv, err, sizeof(err));
    if (r == 0 && rv[0] && strlen(rv) <= OBSERVER_RESOURCE_VERSION_MAX) {
        log_info(1, "resuming from %s: %zu objects at resourceVersion %s",
                 w->opt->state_path, store_count(store), rv);
        w->phase = PHASE_WATCH;
        w->relisting = true;
        r = observer_resume(&w->observer, store, rv);
        if (r < 0)
            w->output_error = r;
        else
            watcher_synced(w);
        free(rv);
        return;
    }
    if (r == -ENOENT)
        log_info(1, "no snapshot at %s yet, listing", w->opt->state_path);
    else
        log_warn("cannot resume from %s: %s; listing instead, changes made "
                 "while no watcher ran are not reported",
                 w->opt->state_path, r == 0 ? "no resourceVersion" : err);
    free(rv);
    store_free(store);
}

/* The resource was found: set up the paths and choose the first phase. */
static void
discovered(struct watcher *w)
{
    if (!w->api.listable) {
        log_error("%s does not support list and watch, not watching it",
                  w->opt->key);
        w->exit_code = WATCHER_EXIT_CONFIG;
        w->phase = PHASE_EXIT;
        return;
    }
    if (build_paths(w) < 0) {
        log_error("selectors of %s are too long", w->opt->key);
        w->exit_code = WATCHER_EXIT_CONFIG;
        w->phase = PHASE_EXIT;
        return;
    }
    if (!w->api.namespaced && w->opt->namespaced_only) {
        log_info(1,
                 "%s is cluster-scoped: the watcher of the first "
                 "namespace watches it, this one stands by",
                 w->opt->key);
        watcher_synced(w);
        w->phase = PHASE_STANDBY;
        return;
    }
    snprintf(w->api_version, sizeof(w->api_version), "%s%s%s", w->opt->group,
             *w->opt->group ? "/" : "", w->opt->version);
    log_info(2, "%s is served: kind %s, %s", w->opt->key, w->api.kind,
             w->api.namespaced ? "namespaced" : "cluster-scoped");
    watcher_trouble_over(w);
    backoff_reset(&w->discovery_backoff);

    if (!w->discovered)
        load_snapshot(w);
    else
        w->phase =
            observer_position(&w->observer)[0] ? PHASE_WATCH : PHASE_LIST;
    w->discovered = true;
}

/* Finds the resource; retries until it is served. */
static void
discover(struct watcher *w)
{
    struct discovery_failure f;
    struct backoff *b = &w->discovery_backoff;
    int r;

    r = discovery_find(w->client, w->opt->group, w->opt->version,
                       w->opt->resource, &w->api, &f);
    if (r == 0)
        discovered(w);
    else if (r == -ENOENT)
        watcher_retry(
            w, b, -1, true, "not_served", "%s is not served; %s", w->opt->key,
            *w->opt->group ? "is its CustomResourceDefinition installed?"
                           : "is the version right?");
    else if (r == -EACCES)
        watcher_retry(w, b, -1, true, "forbidden",
                      "discovery of %s refused: %s; RBAC must allow get on "
                      "its API group",
                      w->opt->key, f.message);
    else if (r == -EAGAIN || r == -EBADMSG)
        watcher_retry(w, b, f.retry_after * 1000, true, "server_error",
                      "discovery of %s failed: %s", w->opt->key, f.message);
    else if (r != -ECANCELED)
        watcher_transport_trouble(w, b, "discovery", r, f.message);
}

/* The resourceVersion is gone from the server's history: relist. */
void
watcher_expired(struct watcher *w, const char *from)
{
    log_info(1, "resourceVersion %s is too old (410 Gone), relisting",
             from[0] ? from : "(list)");
    watcher_count(w, "event_controller_expired_total");
    w->phase = PHASE_LIST;
    w->relisting = true;
    w->wait_ms = 0;
}

/*
 * The seed's line, from this file as the seed's came from its loop.  The
 * metrics go out now, not within the second as during a watch.
 */
void
watcher_started(struct watcher *w)
{
    log_set_resource_version(observer_position(&w->observer));
    log_info(1, "[start to watch] from=%s", observer_position(&w->observer));
    log_set_resource_version(NULL);
    watcher_count(w, "event_controller_watches_started_total");
    metrics_publish(true);
}

/* The verbs RBAC must grant for the phase that failed. */
static const char *
verbs_needed(const struct watcher *w)
{
    return w->phase == PHASE_WATCH ? "watch" : "list and watch";
}

/* A status that says the request itself is wrong: stop for good. */
static void
rejected(struct watcher *w, const char *verb, const char *where,
         const char *msg)
{
    log_error("%s of %s%s rejected by the API server: %s; not watching it",
              verb, w->opt->key, where, msg);
    w->exit_code = WATCHER_EXIT_CONFIG;
    w->phase = PHASE_EXIT;
}

/* The API server is behind the resourceVersion: wait, then the same. */
void
watcher_too_large(struct watcher *w, const char *verb, long retry_after)
{
    watcher_retry(w, &w->backoff,
                  retry_after >= 0 ? retry_after * 1000 : TOO_LARGE_WAIT_MS,
                  false, "too_large_resource_version",
                  "%s of %s: resourceVersion %s is ahead of the API server",
                  verb, w->opt->key, observer_position(&w->observer));
}

/*
 * Whether the internal errors (500) of the watch have lasted too long to
 * retry from the same resourceVersion.  The span starts at the first one
 * and ends after INTERNAL_ERROR_RESET_MS without any.
 */
static bool
internal_errors_too_long(struct watcher *w)
{
    uint64_t now = backoff_clock_ms(NULL);

    if (w->phase != PHASE_WATCH)
        return false;
    if (!w->internal_error_first ||
        now - w->internal_error_last >= INTERNAL_ERROR_RESET_MS)
        w->internal_error_first = now;
    w->internal_error_last = now;
    return now - w->internal_error_first > INTERNAL_ERROR_RETRY_MS;
}

/* Internal errors went on too long: relist, after the backoff. */
static void
watcher_internal_errors(struct watcher *w, const char *verb)
{
    w->internal_error_first = 0;
    w->phase = PHASE_LIST;
    w->relisting = true;
    w->wait_ms = (long)backoff_next(&w->backoff);
    watcher_count_error(w, "server_error");
    log_warn("%s of %s: internal errors for more than %ds, relisting in "
             "%.1fs",
             verb, w->opt->key, INTERNAL_ERROR_RETRY_MS / 1000,
             w->wait_ms / 1000.0);
}

/* An ERROR event with code 500: the same resourceVersion, for a time. */
void
watcher_internal_error_event(struct watcher *w, const char *error)
{
    if (internal_errors_too_long(w))
        watcher_internal_errors(w, "watch");
    else
        watcher_retry(w, &w->backoff, -1, true, "error_event", "%s", error);
}

/* An HTTP status other than 200 for a list or a watch. */
void
watcher_http_trouble(struct watcher *w, const struct kube_response *resp,
                     const char *verb)
{
    const char *key = w->opt->key, *msg;
    struct backoff *b = &w->backoff;
    long status = resp->status;
    struct api_status st;
    char where[128];

    api_status_parse(resp->body, resp->body_len, &st);
    msg = st.message[0] ? st.message : "no message";
    scope(w, where, sizeof(where));

    if (status == 410)
        watcher_expired(w, observer_position(&w->observer));
    else if (status == 429)
        watcher_retry(w, b, resp->retry_after * 1000, false, "throttled",
                      "%s of %s throttled (429)", verb, key);
    else if (status == 504 && st.resource_version_too_large)
        watcher_too_large(w, verb,
                          resp->retry_after >= 0 ? resp->retry_after
                                                 : st.retry_after);
    else if (status == 401)
        watcher_retry(w, b, -1, true, "unauthorized",
                      "%s of %s: the API server rejects the credential (401 "
                      "Unauthorized)",
                      verb, key);
    else if (status == 403)
        watcher_retry(w, b, -1, true, "forbidden",
                      "cannot %s %s%s: 403 Forbidden; RBAC must allow %s on it",
                      verb, key, where, verbs_needed(w));
    else if (status == 400 || status == 422)
        rejected(w, verb, where, msg);
    else if (status == 500 && internal_errors_too_long(w))
        watcher_internal_errors(w, verb);
    else if (status == 404) {
        log_info(1, "%s of %s: 404 Not Found, discovering it again", verb, key);
        w->phase = PHASE_DISCOVER;
    } else {
        w->blips += status >= 500;
        watcher_retry(w, b, -1, status < 500 || w->blips > BLIPS_BEFORE_WARNING,
                      "server_error", "%s of %s%s failed: HTTP %ld: %s", verb,
                      key, where, status, msg);
    }
}

/* Records could not be written: the reader is gone, or worse. */
void
watcher_output_failed(struct watcher *w)
{
    w->phase = PHASE_EXIT;
    if (w->output_error == -EPIPE) {
        w->exit_code = WATCHER_EXIT_OK;
        return;
    }
    log_error("cannot write change records: %s, exiting",
              strerror(-w->output_error));
    w->exit_code = WATCHER_EXIT_TEMPFAIL;
}

/* A list: streamed if the server allows it, else in pages. */
static void
list(struct watcher *w)
{
    if (w->streaming_list_refused || w->list_in_pages_once)
        watcher_list_pages(w);
    else
        watcher_stream(w, true);
    if (w->output_error)
        watcher_output_failed(w);
}

/* Sets up what the loop needs; false when out of memory. */
static bool
watcher_init(struct watcher *w, struct kube_client *client,
             const struct watcher_options *opt, volatile sig_atomic_t *stop)
{
    struct observer_settings s = {
        .output_fd = opt->output_fd,
        .resource = opt->key,
        .metrics_resource = opt->resource,
        .api_version = w->api_version,
        .kind = w->api.kind,
        .status_fields = opt->status_fields,
        .n_status_fields = opt->n_status_fields,
    };

    w->opt = opt;
    w->client = client;
    w->stop = stop;
    w->phase = PHASE_DISCOVER;
    w->exit_code = WATCHER_EXIT_OK;
    /*
     * The label is the plural name, as the master's own metrics have it:
     * watchers of the same resource in several namespaces add up.
     */
    snprintf(w->metric_labels, sizeof(w->metric_labels), "resource=\"%s\"",
             opt->resource);
    metrics_set("event_controller_watch_synced", w->metric_labels, 0);
    metrics_set("event_controller_watch_waiting", w->metric_labels, 0);
    backoff_init(&w->backoff, BACKOFF_INITIAL_MS, BACKOFF_CAP_MS);
    backoff_init(&w->discovery_backoff, BACKOFF_INITIAL_MS, DISCOVERY_CAP_MS);
    w->stream = watch_stream_new(opt->max_event_bytes);
    return w->stream && observer_init(&w->observer, &s) == 0;
}

/* Watches until stopped; see watcher.h. */
int
watcher_run(struct kube_client *client, const struct watcher_options *opt,
            volatile sig_atomic_t *stop)
{
    struct watcher w;
    int code;

    memset(&w, 0, sizeof(w));
    if (!watcher_init(&w, client, opt, stop)) {
        log_error("out of memory setting up the watcher of %s", opt->key);
        code = WATCHER_EXIT_TEMPFAIL;
        goto out;
    }

    while (!*stop && w.phase != PHASE_EXIT) {
        w.wait_ms = 0;
        if (w.phase == PHASE_DISCOVER)
            discover(&w);
        else if (w.phase == PHASE_LIST)
            list(&w);
        else if (w.phase == PHASE_STANDBY)
            w.wait_ms = 60000;
        else
            watcher_stream(&w, false);
        if (w.output_error && w.phase != PHASE_EXIT)
            watcher_output_failed(&w);
        metrics_publish(false);
        if (w.wait_ms > 0 && w.phase != PHASE_EXIT)
            sleep_ms(&w, w.wait_ms);
    }
    code = w.exit_code;
out:
    metrics_publish(true);
    observer_release(&w.observer);
    watch_stream_free(w.stream);
    return code;
}
