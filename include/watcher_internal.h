/*
 * Inside the watcher: the state its loop (watcher.c), its paginated lists
 * (watcher_list.c) and its watch streams (watcher_stream.c) share, and the
 * loop's functions for deciding what follows a failure.  Only those files
 * use this.
 */
#ifndef EC_WATCHER_INTERNAL_H
#define EC_WATCHER_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "discovery.h"
#include "observer.h"
#include "watcher.h"

struct kube_client;
struct kube_response;
struct watch_stream;

enum phase {
    PHASE_DISCOVER,
    PHASE_LIST,
    PHASE_WATCH,
    PHASE_STANDBY, /* cluster-scoped, watched by another watcher */
    PHASE_EXIT,
};

struct watcher {
    const struct watcher_options *opt;
    struct kube_client *client;
    volatile sig_atomic_t *stop;
    enum phase phase;
    int exit_code;
    long wait_ms; /* before the next step */

    struct api_resource api;
    char api_version[256];
    char path[1024];      /* of the collection */
    char selectors[4096]; /* "&labelSelector=..." */
    bool discovered;
    bool streaming_list_refused;
    bool relisting; /* a list after the first */

    struct observer observer;
    struct watch_stream *stream;
    struct backoff backoff, discovery_backoff;

    /* The request in progress. */
    bool listing_stream; /* a streaming list before its last bookmark */
    bool got_data;
    unsigned long events;
    int output_error;
    char event_error[320];
    long event_retry_after; /* seconds an ERROR event says to wait */

    char warned[320];        /* the trouble last warned about */
    int blips;               /* failures in a row that may be passing */
    bool list_in_pages_once; /* the streaming list failed this time */
    uint64_t internal_error_first, internal_error_last; /* 500s, in ms */
    int oversized_count;
    char oversized_at[OBSERVER_RESOURCE_VERSION_MAX + 1];
    char metric_labels[300];
};

/* Adds one to the counter family of this resource. */
void watcher_count(struct watcher *w, const char *family);

/* Counts a failure in event_controller_watch_errors_total. */
void watcher_count_error(struct watcher *w, const char *reason);

/* Something worked: the next trouble is news again. */
void watcher_trouble_over(struct watcher *w);

/*
 * Logs a failure with the wait before the next try, and sets that wait:
 * wait_ms, or the next delay of b when wait_ms is negative.  With warn, a
 * warning the first time the same text comes up in a row, else info.
 * reason labels the failure in the metrics.
 */
void watcher_retry(struct watcher *w, struct backoff *b, long wait_ms,
                   bool warn, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* A request failed in transport (r, a kube.h errno, and its text). */
void watcher_transport_trouble(struct watcher *w, struct backoff *b,
                               const char *what, int r, const char *error);

/* A list or watch got an HTTP status other than 200. */
void watcher_http_trouble(struct watcher *w, const struct kube_response *resp,
                          const char *verb);

/*
 * "Too large resource version": the API server has not caught up with the
 * resourceVersion yet.  Waits retry_after seconds (a default if negative)
 * and tries the same again, without growing the backoff.
 */
void watcher_too_large(struct watcher *w, const char *verb, long retry_after);

/* A watch ERROR event with code 500, error its text: retry or relist. */
void watcher_internal_error_event(struct watcher *w, const char *error);

/* The resourceVersion is gone from the server's history: relist. */
void watcher_expired(struct watcher *w, const char *from);

/* Records could not be written: exit, quietly if the reader is gone. */
void watcher_output_failed(struct watcher *w);

/* The watcher knows its objects: tells the master, once. */
void watcher_synced(struct watcher *w);

/* A list is complete at rv: the watch starts from there. */
void watcher_list_done(struct watcher *w, const char *rv);

/* Lists in pages of LIST_PAGE_SIZE objects. */
void watcher_list_pages(struct watcher *w);

/* A watch starts, however it began: logs the seed's line. */
void watcher_started(struct watcher *w);

/* One watch request, or a streaming list when list is true. */
void watcher_stream(struct watcher *w, bool list);

#endif
