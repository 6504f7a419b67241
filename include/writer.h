/*
 * The writer: sends Events to the apiserver through one libcurl multi
 * handle, many requests at once over one HTTP/2 connection.  It gathers
 * requests into batches (batch_window_ms or batch_max), spends a global
 * token bucket (qps, burst), retries 429, 5xx and transport failures with
 * backoff honouring Retry-After.  An object's requests wait for those of
 * its earlier changes to finish, retries included, so that its Events are
 * written in the order of its changes and a repeat's patch follows the
 * create it patches; the Events of one change go out together.
 */
#ifndef EC_WRITER_H
#define EC_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "config.h"
#include "event.h"
#include "position.h"

struct kube_client;
struct writer;
struct writer_lane;

enum writer_outcome {
    WRITER_WRITTEN,   /* created, patched, or already there (409) */
    WRITER_DROPPED,   /* refused by the apiserver (validation) */
    WRITER_ABANDONED, /* not written when the writer stopped */
};

struct writer_request {
    struct writer_request *next;
    struct pending *pending;     /* the change it belongs to */
    struct outbox_entry *outbox; /* its entry in the outbox (position.h) */
    const char *reason;          /* a fixed word */
    char name[EVENT_NAME_MAX + 1];
    char namespace[EVENT_NAME_MAX + 1];
    char *body;      /* the create body */
    char *patch;     /* the repeat's merge patch, NULL for a create */
    bool aggregated; /* a repeat, counted when written */
    int attempts;
    double not_before; /* monotonic seconds; retries wait until then */
    /* Owned by the writer from submission. */
    struct writer_lane *lane;
    struct writer_request *lane_next;
    bool parked; /* held until the object's earlier changes are written */
    /* Owned by the writer while in flight. */
    CURL *easy;
    struct curl_slist *headers;
    char *response;
    size_t response_len;
};

/* Called once per request when it is finished; the callee frees it. */
typedef void (*writer_done_cb)(struct writer_request *request,
                               enum writer_outcome outcome, void *ctx);

/* Returns 0 or a negative errno, logged here. */
int writer_new(struct kube_client *client, enum event_api api,
               const struct ec_emitter_settings *settings, writer_done_cb done,
               void *ctx, struct writer **out);

/*
 * Takes a request; it is sent with the next batch.  Returns 0, or -ENOMEM
 * and the request stays the caller's.
 */
int writer_submit(struct writer *writer, struct writer_request *request);

/*
 * Waits up to timeout_ms for the apiserver or for extra_fds (whose
 * revents it fills), then progresses transfers and finishes requests.
 * Returns 0 or a negative errno when the multi handle fails.
 */
int writer_poll(struct writer *writer, struct curl_waitfd *extra_fds,
                unsigned n_extra, int timeout_ms);

/* Requests submitted and not yet finished. */
size_t writer_depth(const struct writer *writer);

/* Finishes every request as abandoned, then frees the writer. */
void writer_free(struct writer *writer);

/* Frees a finished request. */
void writer_request_free(struct writer_request *request);

#endif
