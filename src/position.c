/*
 * The watermark of one watcher's changes and the state saved with it
 * (position.h): a FIFO of pending changes, the delta of the objects they
 * change, saved in order, and the aggregation table committed alongside.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "position.h"
#include "store.h"

struct position {
    char *key;
    char state_path[PATH_MAX];
    char aggregate_path[PATH_MAX];
    char *watermark; /* the resourceVersion of the state saved */
    struct aggregate *aggregate;
    bool had_state;
    struct pending *head, *tail;
    size_t waiting;
    bool dirty;               /* the watermark moved since the last save */
    struct store_delta delta; /* what changed since the last save */
    int journal_fd;           /* -1: the next save writes a snapshot */
    off_t journal_bytes;      /* appended to the journal since */
    off_t snapshot_bytes;     /* the snapshot and table it extends */
    struct timespec saved_at; /* CLOCK_MONOTONIC */
    long save_gap_ms;         /* from saved_at to the next save */
    bool counted;             /* in open_positions */
    unsigned long saves;
};

/* How many positions are open: they share the time for saving. */
static size_t open_positions;

/* Milliseconds from a to b. */
static long
elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* Hands a line of the aggregation table from the journal to the table. */
static int
restore_line(const char *text, void *ctx)
{
    return aggregate_restore(ctx, text);
}

/* Opens the position of key; see position.h. */
int
position_open(const char *state_dir, const char *key, struct position **out)
{
    struct position *p = calloc(1, sizeof(*p));
    struct store *store;
    char err[256];
    int r;

    if (!p || !(p->key = strdup(key)) || !(p->aggregate = aggregate_new())) {
        r = -ENOMEM;
        log_error("cannot open the position of %s: %s", key, strerror(-r));
        goto out_free;
    }
    snprintf(p->state_path, sizeof(p->state_path), "%s/%s.state", state_dir,
             key);
    snprintf(p->aggregate_path, sizeof(p->aggregate_path), "%s/%s.aggregate",
             state_dir, key);

    p->journal_fd = -1;
    store = store_new();
    if (!store) {
        r = -ENOMEM;
        log_error("cannot open the position of %s: %s", key, strerror(-r));
        goto out_free;
    }
    /* The table first: the journal holds what changed in it since. */
    r = aggregate_load(p->aggregate, p->aggregate_path);
    if (r < 0)
        log_warn("cannot load %s: %s, aggregating from scratch",
                 p->aggregate_path, strerror(-r));
    /* Only the watermark and the table are kept: the objects stay saved. */
    r = store_load_extra(p->state_path, store, &p->watermark,
                         &(struct store_extra){restore_line, p->aggregate}, err,
                         sizeof(err));
    store_free(store);
    p->had_state = r == 0;
    if (r < 0 && r != -ENOENT) {
        log_error("cannot load %s: %s", p->state_path, err);
        goto out_free;
    }
    clock_gettime(CLOCK_MONOTONIC, &p->saved_at);
    p->save_gap_ms = POSITION_SAVE_MS;
    p->counted = true;
    open_positions++;
    *out = p;
    return 0;

out_free:
    position_free(p);
    return r;
}

/* Frees the position and whatever still waits in it. */
void
position_free(struct position *p)
{
    if (!p)
        return;
    if (p->counted)
        open_positions--;
    while (p->head) {
        struct pending *next = p->head->next;

        free(p->head->strings);
        free(p->head);
        p->head = next;
    }
    if (p->journal_fd >= 0)
        close(p->journal_fd);
    store_delta_free(&p->delta);
    free(p->watermark);
    aggregate_free(p->aggregate);
    free(p->key);
    free(p);
}

const char *
position_key(const struct position *p)
{
    return p->key;
}

bool
position_had_state(const struct position *p)
{
    return p->had_state;
}

struct aggregate *
position_aggregate(struct position *p)
{
    return p->aggregate;
}

unsigned long
position_saves(const struct position *p)
{
    return p->saves;
}

size_t
position_waiting(const struct position *p)
{
    return p->waiting;
}

/* The string members of a change, for copying them. */
static const char **
change_strings(struct change *c, size_t *n)
{
    static const char **v[24];
    size_t i = 0;

    v[i++] = &c->resource, v[i++] = &c->api_version, v[i++] = &c->kind;
    v[i++] = &c->resource_version, v[i++] = &c->manager;
    v[i++] = &c->old.uid, v[i++] = &c->old.name, v[i++] = &c->old.namespace;
    v[i++] = &c->old.resource_version, v[i++] = &c->old.deletion_timestamp;
    v[i++] = &c->old.finalizers, v[i++] = &c->old.status;
    v[i++] = &c->old.status_since;
    v[i++] = &c->new.uid, v[i++] = &c->new.name, v[i++] = &c->new.namespace;
    v[i++] = &c->new.resource_version, v[i++] = &c->new.deletion_timestamp;
    v[i++] = &c->new.finalizers, v[i++] = &c->new.status;
    v[i++] = &c->new.status_since;
    *n = i;
    return (const char **)v;
}

/* Copies change into pending, its strings into one allocation. */
static int
change_copy(struct pending *pending, const struct change *change)
{
    const char ***members;
    size_t n, total = 0;
    char *at;

    pending->change = *change;
    members = (const char ***)change_strings(&pending->change, &n);
    for (size_t i = 0; i < n; i++)
        total += strlen(*members[i]) + 1;
    at = pending->strings = malloc(total);
    if (!at)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(*members[i]) + 1;

        memcpy(at, *members[i], len);
        *members[i] = at;
        at += len;
    }
    return 0;
}

/* Appends a change to the FIFO; see position.h. */
struct pending *
position_push(struct position *p, const struct change *change)
{
    struct pending *pending = calloc(1, sizeof(*pending));

    if (!pending || change_copy(pending, change) < 0) {
        free(pending);
        return NULL;
    }
    pending->position = p;
    clock_gettime(CLOCK_MONOTONIC, &pending->arrived);
    if (p->tail)
        p->tail->next = pending;
    else
        p->head = pending;
    p->tail = pending;
    p->waiting++;
    return pending;
}

/*
 * Notes what a change does to the objects saved in the delta the next
 * save writes.  Returns 0 or a negative errno.
 */
static int
note_change(struct position *p, const struct change *change)
{
    switch (change->type) {
    case CHANGE_CREATED:
    case CHANGE_UPDATED:
        return store_delta_put(&p->delta, &change->new);
    case CHANGE_DELETED:
        return store_delta_remove(&p->delta, event_object(change)->uid);
    case CHANGE_PROGRESS:
    case CHANGE_SYNCED:
        break;
    }
    return 0;
}

/* Applies a change that reached the watermark to the saved state. */
static void
commit(struct position *p, struct pending *pending)
{
    const char *rv = pending->change.resource_version;
    char line[AGGREGATE_LINE_MAX];
    int r = note_change(p, &pending->change);

    /* The objects saved are the watcher's memory; a gap is a wrong diff. */
    if (r < 0)
        log_error("cannot save the change at resourceVersion %s of %s: %s, "
                  "a later relist may misreport it",
                  rv, p->key, strerror(-r));
    if (rv[0] && (!p->watermark || strcmp(rv, p->watermark) != 0)) {
        char *copy = strdup(rv);

        if (copy) {
            free(p->watermark);
            p->watermark = copy;
        }
    }
    for (int i = 0; i < pending->n_decisions; i++) {
        aggregate_commit(p->aggregate, &pending->decisions[i]);
        aggregate_line(&pending->decisions[i], line, sizeof(line));
        if (store_delta_extra(&p->delta, line) < 0)
            log_warn("cannot save the count of Event %s of %s, a repeat "
                     "after a restart may count from an older one",
                     pending->decisions[i].name, p->key);
    }
    p->dirty = true;

    /* The end of the first list is the first point a restart resumes from. */
    if (pending->change.type == CHANGE_SYNCED)
        position_save(p, true);
}

/* Moves the watermark over every finished change at the head. */
static void
advance(struct position *p)
{
    while (p->head && p->head->sealed && p->head->outstanding == 0) {
        struct pending *done = p->head;

        p->head = done->next;
        if (!p->head)
            p->tail = NULL;
        p->waiting--;
        commit(p, done);
        free(done->strings);
        free(done);
    }
}

/* Every Event of pending is submitted; see position.h. */
void
position_seal(struct pending *pending)
{
    pending->sealed = true;
    advance(pending->position);
}

/* One Event of pending finished; see position.h. */
void
position_event_done(struct pending *pending)
{
    pending->outstanding--;
    advance(pending->position);
}

/* The size of the file at path, 0 if there is none. */
static off_t
file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : 0;
}

/*
 * Writes a snapshot of the objects, those saved and what changed since,
 * and of the aggregation table, and starts their journal.  The emitter
 * keeps no copy of the objects: they are read back from the files here,
 * which only it writes.  The objects first: after a crash between the two
 * files the counts are behind the objects, never ahead.  Ahead, the
 * changes replayed from the older objects would find their own decisions
 * committed and count once more: a series of 2 for one change.  Behind, a
 * later repeat of an Event decided in between is counted from the older
 * count, or written as an Event of its own.
 */
static int
write_snapshot(struct position *p)
{
    uint64_t id = store_new_id();
    struct store *store = store_new();
    char err[256], *saved = NULL;
    int r;

    if (p->journal_fd >= 0)
        close(p->journal_fd);
    p->journal_fd = -1;
    if (!store) {
        log_error("cannot save %s: %s, retrying", p->state_path,
                  strerror(ENOMEM));
        return -ENOMEM;
    }
    r = store_load(p->state_path, store, &saved, err, sizeof(err));
    free(saved);
    if (r == -ENOENT)
        r = 0;
    else if (r < 0)
        log_error("cannot read %s back to save it anew: %s, retrying",
                  p->state_path, err);
    if (r == 0 && (r = store_apply_delta(store, &p->delta)) < 0)
        log_error("cannot save %s: %s, retrying", p->state_path, strerror(-r));
    if (r == 0 && (r = store_save(store, p->state_path, p->watermark, id)) < 0)
        log_error("cannot save %s: %s, retrying", p->state_path, strerror(-r));
    store_free(store);
    if (r < 0)
        return r;
    r = aggregate_save(p->aggregate, p->aggregate_path, time(NULL));
    if (r < 0)
        log_warn("cannot save %s: %s, retrying", p->aggregate_path,
                 strerror(-r));
    r = store_journal_start(p->state_path, id);
    if (r < 0) {
        log_warn("cannot start the journal of %s: %s, saving snapshots only",
                 p->state_path, strerror(-r));
        return 0;
    }
    p->journal_fd = r;
    p->journal_bytes = 0;
    p->snapshot_bytes = file_size(p->state_path) + file_size(p->aggregate_path);
    return 0;
}

/*
 * Appends what changed since the last save to the journal, while the
 * journal is smaller than what it extends; returns false when a snapshot
 * is due instead.
 */
static bool
append_journal(struct position *p)
{
    off_t limit = p->snapshot_bytes > POSITION_JOURNAL_MIN
                      ? p->snapshot_bytes
                      : POSITION_JOURNAL_MIN;
    int r;

    if (p->journal_fd < 0 || p->journal_bytes + (off_t)p->delta.len > limit)
        return false;
    r = store_journal_append(p->journal_fd, p->watermark, &p->delta);
    if (r < 0) {
        log_warn("cannot append to the journal of %s: %s, writing a "
                 "snapshot",
                 p->state_path, strerror(-r));
        return false;
    }
    p->journal_bytes += (off_t)p->delta.len;
    return true;
}

/* Saves the state when due; see position.h. */
int
position_save(struct position *p, bool force)
{
    struct timespec now, done;
    int r;

    clock_gettime(CLOCK_MONOTONIC, &now);
    /* Before the first list ends there is nothing to resume from. */
    if (!p->watermark)
        return 0;
    if (!p->dirty ||
        (!force && elapsed_ms(&p->saved_at, &now) < p->save_gap_ms))
        return 0;

    if (!append_journal(p) && (r = write_snapshot(p)) < 0)
        return r;
    store_delta_reset(&p->delta);
    p->dirty = false;
    p->saved_at = now;
    clock_gettime(CLOCK_MONOTONIC, &done);
    p->save_gap_ms =
        POSITION_SAVE_SHARE * (long)open_positions * elapsed_ms(&now, &done);
    if (p->save_gap_ms < POSITION_SAVE_MS)
        p->save_gap_ms = POSITION_SAVE_MS;
    if (p->save_gap_ms > POSITION_SAVE_MAX_MS)
        p->save_gap_ms = POSITION_SAVE_MAX_MS;
    p->saves++;
    return 0;
}
