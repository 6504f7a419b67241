/*
 * The writer (writer.h): requests move from the open batch to the ready
 * queue when the batch closes, from there into the multi handle as tokens
 * allow, and on a retryable failure to the delayed list until their time.
 *
 * Each request is also in the lane of its object, in order of submission,
 * from submission until it is finished.  Only the requests of the change
 * at the head of a lane may be ready, in flight or delayed; those of the
 * object's later changes are parked, in no queue, until it is finished.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "hash.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "writer.h"

/*
 * The apiserver allows 100 to 250 concurrent HTTP/2 streams; staying at
 * 100 keeps a connection from queueing inside libcurl.
 */
#define INFLIGHT_MAX 100
#define RESPONSE_MAX (64 * 1024)
/* client-go's Event broadcaster retries for about this long, then drops. */
#define RETRY_DELAY_MAX 30.0
#define LANE_BUCKETS    4096

struct queue {
    struct writer_request *head, *tail;
    size_t n;
};

/* The requests of one object not yet finished, oldest first. */
struct writer_lane {
    struct writer_lane *next; /* in its bucket */
    struct writer_request *head, *tail;
    char uid[];
};

struct writer {
    struct kube_client *client;
    enum event_api api;
    struct ec_emitter_settings settings;
    writer_done_cb done;
    void *ctx;
    CURLM *multi;
    struct queue batch, ready, delayed;
    double batch_opened;
    struct writer_request *inflight[INFLIGHT_MAX];
    size_t n_inflight;
    size_t n_requests; /* submitted and not finished */
    double tokens, tokens_at;
    struct writer_lane *lanes[LANE_BUCKETS];
};

/* Monotonic seconds. */
static double
now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Appends r to q. */
static void
queue_push(struct queue *q, struct writer_request *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
}

/* Unlinks r, which follows prev (NULL: r is the head), from q. */
static void
queue_unlink(struct queue *q, struct writer_request *prev,
             struct writer_request *r)
{
    if (prev)
        prev->next = r->next;
    else
        q->head = r->next;
    if (q->tail == r)
        q->tail = prev;
    q->n--;
    r->next = NULL;
}

/* Creates a writer; see writer.h. */
int
writer_new(struct kube_client *client, enum event_api api,
           const struct ec_emitter_settings *settings, writer_done_cb done,
           void *ctx, struct writer **out)
{
    struct writer *w = calloc(1, sizeof(*w));

    if (!w || !(w->multi = curl_multi_init())) {
        log_error("cannot create the writer: out of memory");
        free(w);
        return -ENOMEM;
    }
    w->client = client;
    w->api = api;
    w->settings = *settings;
    w->done = done;
    w->ctx = ctx;
    w->tokens = settings->burst;
    w->tokens_at = now_s();
    curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
    *out = w;
    return 0;
}

/* Frees a finished request. */
void
writer_request_free(struct writer_request *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->patch);
    free(r->response);
    free(r);
}

/* The lane of uid, made if there is none; NULL when out of memory. */
static struct writer_lane *
lane_get(struct writer *w, const char *uid)
{
    struct writer_lane **bucket = &w->lanes[hash_text(uid) % LANE_BUCKETS];
    struct writer_lane *lane;
    size_t len = strlen(uid);

    for (lane = *bucket; lane; lane = lane->next)
        if (strcmp(lane->uid, uid) == 0)
            return lane;
    lane = calloc(1, sizeof(*lane) + len + 1);
    if (!lane)
        return NULL;
    memcpy(lane->uid, uid, len + 1);
    lane->next = *bucket;
    *bucket = lane;
    return lane;
}

/* Whether r belongs to the change at the head of its lane. */
static bool
lane_first(const struct writer_request *r)
{
    return r->lane->head->pending == r->pending;
}

/* Takes a request into the open batch; see writer.h. */
int
writer_submit(struct writer *w, struct writer_request *r)
{
    struct writer_lane *lane =
        lane_get(w, event_object(&r->pending->change)->uid);

    if (!lane)
        return -ENOMEM;
    r->lane = lane;
    r->lane_next = NULL;
    if (lane->tail)
        lane->tail->lane_next = r;
    else
        lane->head = r;
    lane->tail = r;
    w->n_requests++;
    if (w->batch.n == 0)
        w->batch_opened = now_s();
    queue_push(&w->batch, r);
    return 0;
}

size_t
writer_depth(const struct writer *w)
{
    return w->n_requests;
}

/*
 * Takes r, in no queue, out of its lane and hands it back; the requests
 * of the change now at the lane's head that were parked become ready.
 */
static void
complete(struct writer *w, struct writer_request *r,
         enum writer_outcome outcome)
{
    struct writer_lane *lane = r->lane, **p;
    struct writer_request **link = &lane->head, *prev = NULL;

    while (*link != r) {
        prev = *link;
        link = &(*link)->lane_next;
    }
    *link = r->lane_next;
    if (lane->tail == r)
        lane->tail = prev;
    w->n_requests--;
    w->done(r, outcome, w->ctx);

    if (lane->head) {
        for (struct writer_request *q = lane->head; q && lane_first(q);
             q = q->lane_next) {
            if (q->parked) {
                q->parked = false;
                queue_push(&w->ready, q);
            }
        }
        return;
    }
    p = &w->lanes[hash_text(lane->uid) % LANE_BUCKETS];
    while (*p != lane)
        p = &(*p)->next;
    *p = lane->next;
    free(lane);
}

/*
 * Collects the body of a refusal, up to RESPONSE_MAX, for its message; a
 * success's body, the Event written, is not kept.
 */
static size_t
on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct writer_request *r = ctx;
    size_t len = size * n, keep = len;
    long status = 0;
    char *grown;

    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return len;
    if (r->response_len + keep > RESPONSE_MAX)
        keep = RESPONSE_MAX - r->response_len;
    grown = realloc(r->response, r->response_len + keep + 1);
    if (!grown)
        return len;
    r->response = grown;
    memcpy(r->response + r->response_len, data, keep);
    r->response_len += keep;
    r->response[r->response_len] = '\0';
    return len;
}

/* Puts r into the multi handle.  Returns 0 or a negative errno. */
static int
start(struct writer *w, struct writer_request *r)
{
    char path[1024];
    const char *type =
        r->patch ? "application/merge-patch+json" : "application/json";
    char header[128];
    int ret;

    event_path(w->api, r->namespace, r->patch ? r->name : NULL, path,
               sizeof(path));
    r->easy = curl_easy_init();
    if (!r->easy)
        return -ENOMEM;
    ret = kube_prepare_easy(w->client, r->easy, r->patch ? "PATCH" : "POST",
                            path, &r->headers);
    if (ret < 0)
        return ret;
    snprintf(header, sizeof(header), "Content-Type: %s", type);
    r->headers = curl_slist_append(r->headers, header);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS,
                     r->patch ? r->patch : r->body);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, 30L);
    if (curl_multi_add_handle(w->multi, r->easy) != CURLM_OK)
        return -ENOMEM;
    w->inflight[w->n_inflight++] = r;
    r->attempts++;
    return 0;
}

/* Releases the easy handle of a request that left the multi handle. */
static void
release(struct writer *w, struct writer_request *r)
{
    for (size_t i = 0; i < w->n_inflight; i++) {
        if (w->inflight[i] == r) {
            w->inflight[i] = w->inflight[--w->n_inflight];
            break;
        }
    }
    curl_multi_remove_handle(w->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    r->easy = NULL;
    r->headers = NULL;
    free(r->response);
    r->response = NULL;
    r->response_len = 0;
}

/* Schedules r again after a delay, Retry-After when the server gave one. */
static void
retry(struct writer *w, struct writer_request *r, long retry_after,
      const char *why)
{
    double delay = 0.5 * (double)(1 << (r->attempts < 7 ? r->attempts : 7));
    char labels[256];

    if (delay > RETRY_DELAY_MAX)
        delay = RETRY_DELAY_MAX;
    if (retry_after >= 0)
        delay = (double)retry_after;
    /* Jitter in [d, 1.5d): requests that failed together spread out. */
    delay += delay * 0.5 * ((double)rand() / RAND_MAX);
    r->not_before = now_s() + delay;
    snprintf(labels, sizeof(labels), "resource=\"%s\",reason=\"%s\"",
             r->pending->change.resource, r->reason);
    metrics_add("event_controller_events_retried_total", labels, 1);
    log_info(r->attempts == 1 ? 1 : 2,
             "event %s/%s (%s): %s, retrying in %.1fs (attempt %d)",
             r->namespace, r->name, r->reason, why, delay, r->attempts + 1);
    queue_push(&w->delayed, r);
}

/* The message of a Status body, or the body's start. */
static void
status_message(const struct writer_request *r, char *buf, size_t size)
{
    json_object *status = r->response ? json_tokener_parse(r->response) : NULL;
    json_object *message;

    if (status && json_object_object_get_ex(status, "message", &message))
        snprintf(buf, size, "%s", json_object_get_string(message));
    else
        snprintf(buf, size, "%.200s", r->response ? r->response : "");
    json_object_put(status);
}

/* Decides what a finished transfer means for its request. */
static void
finish(struct writer *w, struct writer_request *r, CURLcode code)
{
    long status = 0, after = -1;
    char message[512];

    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK)
        after = kube_retry_after(r->easy);
    /* A success's body is the Event written: nothing to read there. */
    message[0] = '\0';
    if (code == CURLE_OK && (status < 200 || status >= 300))
        status_message(r, message, sizeof(message));
    release(w, r);

    if (code != CURLE_OK) {
        retry(w, r, -1, curl_easy_strerror(code));
    } else if ((status >= 200 && status < 300) ||
               (status == 409 && !r->patch)) {
        complete(w, r, WRITER_WRITTEN);
    } else if (status == 404 && r->patch) {
        /* The Event it repeats is gone (TTL, or never written): create. */
        free(r->patch);
        r->patch = NULL;
        r->aggregated = false;
        queue_push(&w->ready, r);
    } else if (status == 429 || status >= 500) {
        snprintf(message, sizeof(message), "HTTP %ld", status);
        retry(w, r, after, message);
    } else {
        log_warn("event %s/%s (%s) refused with HTTP %ld: %s, dropping it",
                 r->namespace, r->name, r->reason, status, message);
        complete(w, r, WRITER_DROPPED);
    }
}

/* Reads finished transfers from the multi handle. */
static void
collect(struct writer *w)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(w->multi, &left))) {
        struct writer_request *r;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        finish(w, r, msg->data.result);
    }
}

/* Moves the closed batch and the retries that are due to the ready queue. */
static void
release_due(struct writer *w, double now)
{
    struct writer_request *prev = NULL, *r;

    if (w->batch.n > 0 &&
        ((int)w->batch.n >= w->settings.batch_max ||
         now - w->batch_opened >= w->settings.batch_window_ms / 1000.0)) {
        while ((r = w->batch.head)) {
            queue_unlink(&w->batch, NULL, r);
            if (lane_first(r))
                queue_push(&w->ready, r);
            else
                r->parked = true;
        }
    }

    r = w->delayed.head;
    while (r) {
        struct writer_request *next = r->next;

        if (r->not_before <= now) {
            queue_unlink(&w->delayed, prev, r);
            queue_push(&w->ready, r);
        } else {
            prev = r;
        }
        r = next;
    }
}

/* Starts ready requests as the token bucket and the stream limit allow. */
static void
start_ready(struct writer *w, double now)
{
    struct writer_request *r;

    w->tokens += (now - w->tokens_at) * w->settings.qps;
    if (w->tokens > w->settings.burst)
        w->tokens = w->settings.burst;
    w->tokens_at = now;

    while (w->tokens >= 1 && w->n_inflight < INFLIGHT_MAX &&
           (r = w->ready.head)) {
        int ret;

        queue_unlink(&w->ready, NULL, r);
        ret = start(w, r);
        if (ret < 0) {
            /* No credential now (an exec plugin failed): try again later. */
            if (r->easy)
                curl_easy_cleanup(r->easy);
            curl_slist_free_all(r->headers);
            r->easy = NULL;
            r->headers = NULL;
            retry(w, r, -1,
                  ret == -ENOKEY ? kube_client_auth_error(w->client)
                                 : strerror(-ret));
        } else {
            w->tokens -= 1;
        }
    }
}

/* How long the poll may sleep before the writer has work of its own. */
static int
sleep_ms(const struct writer *w, double now, int limit)
{
    double until = now + limit / 1000.0;

    if (w->batch.n > 0) {
        double close = w->batch_opened + w->settings.batch_window_ms / 1000.0;

        if (close < until)
            until = close;
    }
    for (struct writer_request *r = w->delayed.head; r; r = r->next)
        if (r->not_before < until)
            until = r->not_before;
    if (w->ready.n > 0 && w->n_inflight < INFLIGHT_MAX && w->tokens < 1) {
        double refill = now + (1 - w->tokens) / w->settings.qps;

        if (refill < until)
            until = refill;
    }
    if (until <= now)
        return 0;
    return (int)((until - now) * 1000) + 1;
}

/* One round of waiting and work; see writer.h. */
int
writer_poll(struct writer *w, struct curl_waitfd *extra_fds, unsigned n_extra,
            int timeout_ms)
{
    double now = now_s();
    int running;
    CURLMcode mc;

    release_due(w, now);
    start_ready(w, now);
    mc = curl_multi_poll(w->multi, extra_fds, n_extra,
                         sleep_ms(w, now, timeout_ms), NULL);
    if (mc != CURLM_OK && mc != CURLM_UNRECOVERABLE_POLL) {
        log_error("curl_multi_poll() failed: %s", curl_multi_strerror(mc));
        return -EIO;
    }
    mc = curl_multi_perform(w->multi, &running);
    if (mc != CURLM_OK) {
        log_error("curl_multi_perform() failed: %s", curl_multi_strerror(mc));
        return -EIO;
    }
    collect(w);
    now = now_s();
    release_due(w, now);
    start_ready(w, now);
    return 0;
}

/* Abandons what is left and frees the writer; see writer.h. */
void
writer_free(struct writer *w)
{
    if (!w)
        return;
    while (w->n_inflight > 0)
        release(w, w->inflight[0]);
    /* Every request not finished is in a lane, whatever its queue. */
    for (size_t i = 0; i < LANE_BUCKETS; i++) {
        struct writer_lane *lane;

        while ((lane = w->lanes[i])) {
            struct writer_request *r;

            w->lanes[i] = lane->next;
            while ((r = lane->head)) {
                lane->head = r->lane_next;
                w->done(r, WRITER_ABANDONED, w->ctx);
            }
            free(lane);
        }
    }
    curl_multi_cleanup(w->multi);
    free(w);
}
