/*
 * The emitter's loop: one thread, one curl multi handle.  Each turn waits
 * for the apiserver, the control socket and the watchers' pipes at once,
 * turns every change read into Events, and saves positions when due.
 *
 * Write-ahead: an Event decided is held until its outbox entry is saved
 * (position.h), and sent only then; at a start, what the outbox holds is
 * sent again before anything else.
 *
 * Backpressure: while queue_max changes wait for their Events, the pipes
 * are not read, so the watchers block on a full pipe instead of anything
 * being dropped.
 *
 * Release: a watcher that starts again resumes from the state file, and
 * replays what came after it.  Had the emitter kept its memory of that
 * watcher, it would take the replayed changes for repeats and count them
 * twice.  So once a pipe ends, the emitter writes what it holds of that
 * key, saves it, forgets it, and only then tells the master "released
 * KEY"; the master starts the next watcher of KEY after that, and both
 * begin from the same saved state.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
#include "election.h"
#include "backoff.h"
#include "emitter.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "position.h"
#include "record.h"
#include "sandbox.h"
#include "spam.h"
#include "writer.h"

#define READ_SIZE (64 * 1024)
#define TICK_MS   100

struct input {
    int fd; /* -1: closed */
    struct record_reader *reader;
    struct position *position;
    bool releasing; /* ended: let go of once its changes are written */
};

struct emitter {
    const struct emitter_options *opt;
    struct event_source source;
    enum event_api api;
    struct kube_client *client;
    struct writer *writer;
    struct spam *spam;
    struct position *positions[EMITTER_INPUTS_MAX];
    size_t n_positions;
    struct input inputs[EMITTER_INPUTS_MAX];
    size_t n_inputs;
    size_t waiting; /* changes in every FIFO */
    int control_fd;
    struct election *election; /* NULL: no leader election */
    bool leading;              /* may read and write: elected, or no election */
    /* Decided, in order, each waiting for its outbox entry to be saved. */
    struct writer_request *held_head, *held_tail;
};

static volatile sig_atomic_t stop_requested;

/* SIGTERM and SIGINT: drain and exit. */
static void
on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Monotonic seconds. */
static double
mono_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int resend(struct outbox_entry *entry, const struct outbox_event *ev,
                  void *ctx);

/* The position of key, opened on first use; NULL if it cannot be. */
static struct position *
position_for(struct emitter *e, const char *key)
{
    struct position *position;
    void *ctx[2] = {e};

    for (size_t i = 0; i < e->n_positions; i++)
        if (strcmp(position_key(e->positions[i]), key) == 0)
            return e->positions[i];
    if (e->n_positions == EMITTER_INPUTS_MAX) {
        log_error("more than %d resources, ignoring %s", EMITTER_INPUTS_MAX,
                  key);
        return NULL;
    }
    if (position_open(e->opt->state_dir, key, &e->positions[e->n_positions]))
        return NULL;
    position = e->positions[e->n_positions++];
    if (position_outbox_size(position) > 0)
        log_info(1,
                 "sending again the %zu Events of %s that may not be "
                 "written",
                 position_outbox_size(position), key);
    ctx[1] = position;
    if (position_outbox_restored(position, resend, ctx) < 0)
        log_fatal(EXIT_FAILURE, "out of memory sending again the Events of %s",
                  key);
    return position;
}

/* Updates the queue depth gauge. */
static void
depth_changed(struct emitter *e, long delta)
{
    e->waiting += delta;
    metrics_set("event_controller_queue_depth", NULL, (double)e->waiting);
}

/* The writer finished a request: count it and move the watermark. */
static void
on_done(struct writer_request *r, enum writer_outcome outcome, void *ctx)
{
    struct emitter *e = ctx;
    struct pending *pending = r->pending;
    struct position *position;
    char labels[256];
    size_t before;

    snprintf(labels, sizeof(labels), "resource=\"%s\",reason=\"%s\"",
             pending->change.resource, r->reason);
    switch (outcome) {
    case WRITER_WRITTEN:
        metrics_add("event_controller_events_written_total", labels, 1);
        if (r->aggregated)
            metrics_add("event_controller_events_aggregated_total", labels, 1);
        metrics_observe("event_controller_change_to_event_seconds", NULL,
                        mono_s() - ((double)pending->arrived.tv_sec +
                                    pending->arrived.tv_nsec / 1e9));
        break;
    case WRITER_DROPPED:
        metrics_add("event_controller_events_dropped_total", labels, 1);
        break;
    case WRITER_ABANDONED:
        /* Not done: it stays in the outbox, and a restart sends it again. */
        writer_request_free(r);
        return;
    }
    /* position_event_done may free pending: keep its position. */
    position = pending->position;
    position_outbox_done(position, r->outbox);
    writer_request_free(r);

    before = position_waiting(position);
    position_event_done(pending);
    depth_changed(e, (long)position_waiting(position) - (long)before);
}

/* Makes the request for one decided Event of pending. */
static struct writer_request *
request_new(struct emitter *e, struct pending *pending,
            const struct event *event, const struct aggregate_decision *d)
{
    struct writer_request *r = calloc(1, sizeof(*r));
    struct timespec now;

    if (!r)
        return NULL;
    clock_gettime(CLOCK_REALTIME, &now);
    r->pending = pending;
    r->reason = event->reason;
    memcpy(r->name, d->name, sizeof(r->name));
    snprintf(r->namespace, sizeof(r->namespace), "%s",
             event_namespace(&pending->change));
    r->body = event_body(e->api, &pending->change, event, d->name, &e->source,
                         &now, d->count);
    if (d->count > 1) {
        r->patch = event_repeat_patch(e->api, d->count, &now);
        r->aggregated = true;
    }
    if (!r->body || (d->count > 1 && !r->patch)) {
        writer_request_free(r);
        return NULL;
    }
    return r;
}

/* Holds r until its outbox entry is saved. */
static void
hold(struct emitter *e, struct writer_request *r)
{
    r->next = NULL;
    if (e->held_tail)
        e->held_tail->next = r;
    else
        e->held_head = r;
    e->held_tail = r;
}

/* Submits r to the writer; out of memory there, nothing can go on. */
static void
submit(struct emitter *e, struct writer_request *r)
{
    if (writer_submit(e->writer, r) < 0)
        log_fatal(EXIT_FAILURE, "out of memory submitting %s of %s/%s",
                  r->reason, r->namespace, r->name);
}

/*
 * Saves the positions whose outbox entries wait, then submits, in order,
 * the held requests whose entries are saved.
 */
static void
flush_held(struct emitter *e)
{
    struct writer_request *r, *next, *kept = NULL, *kept_tail = NULL;

    if (!e->held_head)
        return;
    for (size_t i = 0; i < e->n_positions; i++)
        if (position_unsaved(e->positions[i]))
            position_save(e->positions[i], true);
    for (r = e->held_head; r; r = next) {
        next = r->next;
        if (!position_unsaved(r->pending->position)) {
            submit(e, r);
            continue;
        }
        r->next = NULL;
        if (kept_tail)
            kept_tail->next = r;
        else
            kept = r;
        kept_tail = r;
    }
    e->held_head = kept;
    e->held_tail = kept_tail;
}

/*
 * Sends again an Event found in the outbox at the start, as the one Event
 * of a change of its own: it is saved already.
 */
static int
resend(struct outbox_entry *entry, const struct outbox_event *ev, void *ctx)
{
    struct emitter *e = ((void **)ctx)[0];
    struct position *position = ((void **)ctx)[1];
    struct change change = {.type = CHANGE_PROGRESS, .resource = ev->resource};
    struct writer_request *r = calloc(1, sizeof(*r));
    struct pending *pending;

    change.api_version = change.kind = change.resource_version = "";
    change.manager = "";
    change.old = change.new =
        (struct object_fields){"", "", "", "", 0, "", "", "", ""};
    change.new.uid = ev->uid;
    pending = r ? position_push(position, &change) : NULL;
    if (!pending) {
        free(r);
        return -ENOMEM;
    }
    r->pending = pending;
    r->outbox = entry;
    r->reason = event_reason_word(ev->reason);
    snprintf(r->name, sizeof(r->name), "%s", ev->name);
    snprintf(r->namespace, sizeof(r->namespace), "%s", ev->namespace);
    r->body = strdup(ev->body);
    r->patch = ev->patch[0] ? strdup(ev->patch) : NULL;
    r->aggregated = ev->patch[0] != '\0';
    if (!r->body || (ev->patch[0] && !r->patch)) {
        writer_request_free(r);
        return -ENOMEM;
    }
    pending->outstanding = 1;
    submit(e, r);
    depth_changed(e, 1);
    position_seal(pending);
    return 0;
}

/* Decides and holds one Event of pending, unless the spam limit holds. */
static int
submit_event(struct emitter *e, struct pending *pending,
             const struct event *event)
{
    const struct object_fields *o = event_object(&pending->change);
    struct aggregate_decision *d;
    struct writer_request *r;
    char name[EVENT_NAME_MAX + 1], labels[256];

    if (!spam_allow(e->spam, o->uid, mono_s())) {
        snprintf(labels, sizeof(labels), "resource=\"%s\",reason=\"%s\"",
                 pending->change.resource, event->reason);
        metrics_add("event_controller_events_spam_limited_total", labels, 1);
        log_info(2, "spam limit: not writing %s of %s/%s: %s", event->reason,
                 o->namespace, o->name, event->note);
        return 0;
    }

    if (event_name(&pending->change, event->reason, name) < 0)
        return -EIO;
    d = &pending->decisions[pending->n_decisions];
    if (aggregate_decide(position_aggregate(pending->position), o->uid, event,
                         name, time(NULL), d) < 0)
        return -ENOMEM;
    r = request_new(e, pending, event, d);
    if (!r)
        return -ENOMEM;
    r->outbox = position_outbox_add(
        pending->position,
        &(struct outbox_event){pending->change.resource, o->uid, r->reason,
                               r->namespace, r->name, r->body,
                               r->patch ? r->patch : ""});
    if (!r->outbox) {
        writer_request_free(r);
        return -ENOMEM;
    }
    hold(e, r);
    pending->n_decisions++;
    pending->outstanding++;
    return 0;
}

/* A change from a watcher: queue it and its Events. */
static int
on_change(const struct change *change, void *ctx)
{
    struct input *in = ((void **)ctx)[1];
    struct emitter *e = ((void **)ctx)[0];
    struct event events[EVENT_PER_CHANGE_MAX];
    struct pending *pending;
    size_t before = position_waiting(in->position);
    int n, r;

    pending = position_push(in->position, change);
    if (!pending)
        log_fatal(EXIT_FAILURE, "out of memory queueing a change of %s",
                  position_key(in->position));
    n = event_decide(&pending->change, events);
    for (int i = 0; i < n; i++) {
        r = submit_event(e, pending, &events[i]);
        /* Going on would move the watermark past an unwritten Event. */
        if (r < 0)
            log_fatal(EXIT_FAILURE, "cannot queue %s of %s: %s",
                      events[i].reason, pending->change.new.name, strerror(-r));
    }
    depth_changed(e, 1);
    position_seal(pending);
    depth_changed(e, (long)position_waiting(in->position) - (long)before - 1);
    return 0;
}

/* Stops reading an input; its position is released once written. */
static void
input_close(struct input *in)
{
    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
    in->releasing = true;
}

/* Drops position from the table of open positions and frees it. */
static void
position_forget(struct emitter *e, struct position *position)
{
    for (size_t i = 0; i < e->n_positions; i++) {
        if (e->positions[i] != position)
            continue;
        e->positions[i] = e->positions[--e->n_positions];
        break;
    }
    position_free(position);
}

/*
 * Sends "released KEY" to the master.  Returns 0, or -EAGAIN to try
 * again later; without a control socket there is nobody to tell.
 */
static int
control_released(struct emitter *e, const char *key)
{
    char text[512];
    int n = snprintf(text, sizeof(text), "released %s", key);

    if (e->control_fd < 0)
        return 0;
    if (send(e->control_fd, text, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return -EAGAIN;
        log_warn("send() of \"%s\" to the master failed: %s", text,
                 strerror(errno));
    }
    return 0;
}

/*
 * Lets go of each ended input whose changes are all written: saves its
 * position, frees it and tells the master; see the top of this file.
 */
static void
release_inputs(struct emitter *e)
{
    for (size_t i = 0; i < e->n_inputs;) {
        struct input *in = &e->inputs[i];

        if (!in->releasing || position_waiting(in->position) > 0 ||
            position_save(in->position, true) < 0 ||
            control_released(e, position_key(in->position)) < 0) {
            i++;
            continue;
        }
        log_info(2, "released the position of %s", position_key(in->position));
        /* The next watcher of it may run on another replica. */
        if (e->election)
            election_upload(e->election, position_key(in->position),
                            position_saves(in->position));
        position_forget(e, in->position);
        record_reader_free(in->reader);
        *in = e->inputs[--e->n_inputs];
    }
}

/* Starts reading fd as the pipe of key, replacing an earlier one. */
static void
input_add(struct emitter *e, const char *key, int fd)
{
    struct position *position = position_for(e, key);
    struct input *in = NULL;

    if (!position) {
        close(fd);
        return;
    }
    for (size_t i = 0; i < e->n_inputs; i++)
        if (e->inputs[i].position == position)
            in = &e->inputs[i];
    if (!in && e->n_inputs < EMITTER_INPUTS_MAX) {
        in = &e->inputs[e->n_inputs++];
        in->fd = -1;
        in->reader = record_reader_new();
        in->position = position;
    }
    if (!in || !in->reader)
        log_fatal(EXIT_FAILURE, "cannot add the input of %s", key);
    input_close(in);
    in->releasing = false;
    record_reader_reset(in->reader);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    in->fd = fd;
    log_info(1, "reading the changes of %s", key);
}

/* Reads what the pipe of in holds and feeds it to its reader. */
static void
input_read(struct emitter *e, struct input *in)
{
    static char buf[READ_SIZE];
    void *ctx[2] = {e, in};
    const char *key = position_key(in->position);
    ssize_t n = read(in->fd, buf, sizeof(buf));
    int r;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        r = record_reader_finish(in->reader);
        if (r < 0)
            log_warn("the changes of %s ended mid-record (%s), waiting for "
                     "its watcher to restart",
                     key, record_reader_error(in->reader));
        else
            log_info(1,
                     "the changes of %s ended, waiting for its watcher to "
                     "restart",
                     key);
        input_close(in);
        return;
    }
    r = record_reader_feed(in->reader, buf, (size_t)n, on_change, ctx);
    if (r == -EBADMSG) {
        log_error("corrupt change record from the watcher of %s: %s, no "
                  "longer reading it",
                  key, record_reader_error(in->reader));
        input_close(in);
    }
}

/* Handles one datagram of the control socket; false at its end. */
static bool
control_read(struct emitter *e)
{
    char buf[512], cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = cbuf,
                         .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cmsg;
    int fd = -1;
    ssize_t n = recvmsg(e->control_fd, &msg, MSG_CMSG_CLOEXEC);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    buf[n] = '\0';
    cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));

    if (strncmp(buf, "add ", 4) == 0 && fd >= 0 && !strchr(buf + 4, '/') &&
        e->leading) {
        input_add(e, buf + 4, fd);
        return true;
    }
    if (fd >= 0)
        close(fd);
    if (strncmp(buf, "remove ", 7) == 0) {
        for (size_t i = 0; i < e->n_inputs; i++)
            if (strcmp(position_key(e->inputs[i].position), buf + 7) == 0)
                input_close(&e->inputs[i]);
        return true;
    }
    /* The master is trusted no more than a watcher: ignore, but say so. */
    log_warn("unexpected control message \"%.64s\", ignoring it", buf);
    return true;
}

/* Fills fds with what to wait for; returns how many. */
static unsigned
wait_set(struct emitter *e, struct curl_waitfd *fds, bool reading)
{
    unsigned n = 0;

    if (e->control_fd >= 0)
        fds[n++] = (struct curl_waitfd){e->control_fd, CURL_WAIT_POLLIN, 0};
    if (!reading || e->waiting >= (size_t)e->opt->settings.queue_max)
        return n;
    for (size_t i = 0; i < e->n_inputs; i++)
        if (e->inputs[i].fd >= 0)
            fds[n++] =
                (struct curl_waitfd){e->inputs[i].fd, CURL_WAIT_POLLIN, 0};
    return n;
}

/* Handles whatever the poll found readable. */
static void
handle_ready(struct emitter *e, struct curl_waitfd *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (!(fds[i].revents & (CURL_WAIT_POLLIN | CURL_WAIT_POLLPRI)) &&
            !fds[i].revents)
            continue;
        if (fds[i].fd == e->control_fd) {
            if (!control_read(e)) {
                log_info(1, "the control socket closed, stopping");
                close(e->control_fd);
                e->control_fd = -1;
                stop_requested = 1;
            }
            continue;
        }
        for (size_t j = 0; j < e->n_inputs; j++)
            if (e->inputs[j].fd == fds[i].fd)
                input_read(e, &e->inputs[j]);
    }
}

/* Saves every position that is due, or all of them if force. */
static void
save_positions(struct emitter *e, bool force)
{
    for (size_t i = 0; i < e->n_positions; i++)
        position_save(e->positions[i], force);
}

/* Uploads the positions saved since the last upload, when due. */
static void
upload_positions(struct emitter *e, bool force)
{
    if (!e->election || !election_upload_due(e->election, force))
        return;
    for (size_t i = 0; i < e->n_positions; i++)
        election_upload(e->election, position_key(e->positions[i]),
                        position_saves(e->positions[i]));
}

/* Starts reading the pipes of --input. */
static void
add_inputs(struct emitter *e)
{
    for (size_t i = 0; i < e->opt->n_inputs; i++)
        input_add(e, e->opt->inputs[i].key, e->opt->inputs[i].fd);
}

/* Turns the election; false once the Lease is lost. */
static bool
elect(struct emitter *e)
{
    enum election_state state;

    if (!e->election)
        return true;
    state = election_tick(e->election);
    if (state == ELECTION_LOST)
        return false;
    if (state == ELECTION_LEADING && !e->leading) {
        e->leading = true;
        add_inputs(e);
    }
    upload_positions(e, false);
    return true;
}

/* Reads and writes until asked to stop or the Lease is lost. */
static int
run_loop(struct emitter *e)
{
    static struct curl_waitfd fds[EMITTER_INPUTS_MAX + 1];

    while (!stop_requested) {
        unsigned n = wait_set(e, fds, true);

        if (writer_poll(e->writer, fds, n, TICK_MS) < 0)
            return EXIT_FAILURE;
        handle_ready(e, fds, n);
        flush_held(e);
        release_inputs(e);
        save_positions(e, false);
        if (!elect(e))
            return EXIT_LEASE_LOST;
        metrics_publish(false);
    }
    return EXIT_SUCCESS;
}

/* Writes what is queued, within the drain timeout. */
static void
drain(struct emitter *e)
{
    double deadline = mono_s() + e->opt->settings.drain_timeout_s;

    for (size_t i = 0; i < e->n_inputs; i++)
        input_close(&e->inputs[i]);
    flush_held(e);
    log_info(1, "stopping: writing %zu queued Events", writer_depth(e->writer));
    while (writer_depth(e->writer) > 0 && mono_s() < deadline) {
        if (writer_poll(e->writer, NULL, 0, TICK_MS) < 0)
            break;
        save_positions(e, false);
    }
    if (writer_depth(e->writer) > 0)
        log_warn("drain timeout: %zu Events not written, they stay in the "
                 "outbox and are sent again at the next start",
                 writer_depth(e->writer));
}

/* Sleeps ms milliseconds, or less if asked to stop. */
static void
sleep_unless_stopped(uint64_t ms)
{
    uint64_t end = backoff_clock_ms(NULL) + ms;

    while (!stop_requested && backoff_clock_ms(NULL) < end)
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
}

/*
 * Finds which Event API the apiserver serves: events.k8s.io/v1 where the
 * group version answers 200, core/v1 where it answers 404.  Any other
 * answer says nothing about it, and a guess would write the older form
 * until the next restart: ask again, with backoff.  Returns 0 or
 * -ECANCELED when asked to stop meanwhile.
 */
static int
discover_api(struct kube_client *client, enum event_api *api)
{
    struct backoff b;

    backoff_init(&b, BACKOFF_INITIAL_MS, BACKOFF_CAP_MS);
    while (!stop_requested) {
        struct kube_response resp = {0};
        int r = kube_request(client, "GET", "/apis/events.k8s.io/v1", NULL,
                             NULL, 0, &resp);
        long status = r == 0 ? resp.status : 0;
        uint64_t wait = status == 200 || status == 404 ? 0 : backoff_next(&b);

        if (wait > 0)
            log_warn("discovery of events.k8s.io/v1 failed: %s, retrying in "
                     "%.1fs",
                     r < 0 ? resp.error : "unexpected HTTP status",
                     wait / 1000.0);
        kube_response_free(&resp);
        if (wait == 0) {
            *api = status == 200 ? EVENT_API_EVENTS_V1 : EVENT_API_CORE_V1;
            log_info(1, "writing %s Events",
                     status == 200 ? "events.k8s.io/v1" : "core/v1");
            return 0;
        }
        sleep_unless_stopped(wait);
    }
    return -ECANCELED;
}

/* The candidate for the Lease of --lease. */
static int
setup_election(struct emitter *e, const struct emitter_options *opt)
{
    struct election_options o = {
        .namespace = opt->lease_namespace,
        .lease_name = opt->lease_name,
        .instance = opt->reporting_instance,
        .state_dir = opt->state_dir,
        .control_fd = opt->control_fd,
    };
    int r = election_new(e->client, &o, &e->election);

    if (r < 0)
        log_error("cannot set up leader election: %s, exiting", strerror(-r));
    return r;
}

/* Sets up the process: signals and the Kubernetes client. */
static int
setup(struct emitter *e, const struct emitter_options *opt)
{
    struct sigaction sa = {.sa_handler = on_stop};
    char err[512];
    int r;

    signal(SIGPIPE, SIG_IGN);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    e->opt = opt;
    e->control_fd = opt->control_fd;
    e->source.reporting_controller = opt->reporting_controller;
    e->source.reporting_instance = opt->reporting_instance;
    if (kube_client_new(&opt->kube, &e->client, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return -EINVAL;
    }
    kube_set_cancel_flag(&stop_requested);
    r = discover_api(e->client, &e->api);
    kube_set_cancel_flag(NULL);
    if (r < 0)
        return r;
    e->leading = !opt->lease_name;
    if (opt->lease_name && setup_election(e, opt) < 0)
        return -ENOMEM;
    e->spam = spam_new(opt->settings.spam_burst, opt->settings.spam_interval_s);
    if (!e->spam)
        return -ENOMEM;
    if (e->control_fd >= 0)
        fcntl(e->control_fd, F_SETFL,
              fcntl(e->control_fd, F_GETFL) | O_NONBLOCK);
    return writer_new(e->client, e->api, &opt->settings, on_done, e,
                      &e->writer);
}

/* Runs the emitter; see emitter.h. */
int
emitter_run(const struct emitter_options *opt)
{
    struct emitter *e = calloc(1, sizeof(*e));
    int status = EXIT_FAILURE;
    int r;

    if (!e)
        return EXIT_FAILURE;
    r = setup(e, opt);
    if (r < 0) {
        /* No client: the kubeconfig cannot work until it changes. */
        if (r == -EINVAL)
            status = EX_CONFIG;
        else if (r == -ECANCELED)
            status = EXIT_SUCCESS;
        goto out;
    }
    if (e->leading)
        add_inputs(e);
    if (sandbox_enter(SANDBOX_EMITTER, -1,
                      kube_client_uses_exec_plugin(e->client)) < 0)
        goto out;

    status = run_loop(e);
    /* A lost Lease is another leader's to write: no drain, no upload. */
    if (status != EXIT_LEASE_LOST)
        drain(e);
    writer_free(e->writer);
    e->writer = NULL;
    save_positions(e, true);
    if (status != EXIT_LEASE_LOST && e->election) {
        upload_positions(e, true);
        election_release(e->election);
    }
    metrics_publish(true);
    if (log_verbosity >= 3) {
        static char text[64 * 1024];
        size_t len = metrics_format(text, sizeof(text));

        if (len < sizeof(text))
            log_info(3, "metrics at exit:\n%s", text);
    }

out:
    /* Saved, they are in the outbox; unsaved, their change is replayed. */
    while (e->held_head) {
        struct writer_request *next = e->held_head->next;

        writer_request_free(e->held_head);
        e->held_head = next;
    }
    writer_free(e->writer);
    for (size_t i = 0; i < e->n_inputs; i++) {
        input_close(&e->inputs[i]);
        record_reader_free(e->inputs[i].reader);
    }
    for (size_t i = 0; i < e->n_positions; i++)
        position_free(e->positions[i]);
    spam_free(e->spam);
    election_free(e->election);
    if (e->client)
        kube_client_free(e->client);
    free(e);
    return status;
}
