/*
 * The watermark of one watcher's changes and the state saved with it
 * (position.h): a FIFO of pending changes, the delta of the objects they
 * change, saved in order, the aggregation table committed alongside, and
 * the outbox.
 *
 * The outbox travels in the journal as the caller's entries, beside the
 * lines of the aggregation table: "+SEQ" and the Event's fields separated
 * by tabs when an Event is decided, "-SEQ" once it is written.  A new
 * snapshot carries the entries still open in its own file, so that no
 * crash between two files can lose one.
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

/* The fields of an outbox entry's line after "+SEQ". */
#define OUTBOX_FIELDS 7

struct outbox_entry {
    struct outbox_entry *prev, *next;
    uint64_t seq;
    bool restored; /* found by position_open */
    char line[];   /* "+SEQ\tresource\tuid\t...", as saved */
};

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
    struct outbox_entry *outbox_head, *outbox_tail;
    size_t outbox_size;
    uint64_t next_seq;
    bool unsaved; /* outbox entries added since the last save */
};

/* How many positions are open: they share the time for saving. */
static size_t open_positions;

/* Milliseconds from a to b. */
static long
elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* Links a new outbox entry of line at the end of the outbox. */
static struct outbox_entry *
outbox_link(struct position *p, uint64_t seq, const char *line)
{
    size_t len = strlen(line);
    struct outbox_entry *entry = malloc(sizeof(*entry) + len + 1);

    if (!entry)
        return NULL;
    entry->seq = seq;
    entry->restored = false;
    memcpy(entry->line, line, len + 1);
    entry->next = NULL;
    entry->prev = p->outbox_tail;
    if (p->outbox_tail)
        p->outbox_tail->next = entry;
    else
        p->outbox_head = entry;
    p->outbox_tail = entry;
    p->outbox_size++;
    if (seq >= p->next_seq)
        p->next_seq = seq + 1;
    return entry;
}

/* Takes entry out of the outbox and frees it. */
static void
outbox_unlink(struct position *p, struct outbox_entry *entry)
{
    if (entry->prev)
        entry->prev->next = entry->next;
    else
        p->outbox_head = entry->next;
    if (entry->next)
        entry->next->prev = entry->prev;
    else
        p->outbox_tail = entry->prev;
    p->outbox_size--;
    free(entry);
}

/*
 * Reads the SEQ of a "+SEQ" or "-SEQ" line; returns the text after it, or
 * NULL if there is no SEQ.
 */
static const char *
outbox_seq(const char *line, uint64_t *seq)
{
    char *end;

    if (line[1] < '0' || line[1] > '9')
        return NULL;
    errno = 0;
    *seq = strtoull(line + 1, &end, 10);
    return errno ? NULL : end;
}

/* Restores a "+SEQ" or "-SEQ" line of the outbox; -EINVAL if damaged. */
static int
outbox_restore(struct position *p, const char *line)
{
    struct outbox_entry *entry;
    uint64_t seq;
    const char *rest = outbox_seq(line, &seq);
    int tabs = 0;

    if (!rest)
        return -EINVAL;
    if (line[0] == '-') {
        if (*rest)
            return -EINVAL;
        /* Done marks come mostly in the order of the entries. */
        for (entry = p->outbox_head; entry; entry = entry->next)
            if (entry->seq == seq) {
                outbox_unlink(p, entry);
                break;
            }
        return 0;
    }
    for (const char *c = rest; *c; c++)
        tabs += *c == '\t';
    if (*rest != '\t' || tabs != OUTBOX_FIELDS)
        return -EINVAL;
    entry = outbox_link(p, seq, line);
    if (!entry)
        return -ENOMEM;
    entry->restored = true;
    return 0;
}

/*
 * Hands a line saved by the caller to the outbox or to the aggregation
 * table.  The table's lines begin with a hex digit, never "+" or "-".
 */
static int
restore_line(const char *text, void *ctx)
{
    struct position *p = ctx;

    if (text[0] == '+' || text[0] == '-')
        return outbox_restore(p, text);
    return aggregate_restore(p->aggregate, text);
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
    p->next_seq = 1;
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
                         &(struct store_extra){restore_line, p}, err,
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
    while (p->outbox_head)
        outbox_unlink(p, p->outbox_head);
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

/* Notes a change whose Events are decided in the state the next save writes. */
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

/* Frees every finished change at the head of the FIFO. */
static void
advance(struct position *p)
{
    while (p->head && p->head->sealed && p->head->outstanding == 0) {
        struct pending *done = p->head;

        p->head = done->next;
        if (!p->head)
            p->tail = NULL;
        p->waiting--;
        free(done->strings);
        free(done);
    }
}

/* Every Event of pending is decided; see position.h. */
void
position_seal(struct pending *pending)
{
    commit(pending->position, pending);
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

/* Adds an Event to the outbox; see position.h. */
struct outbox_entry *
position_outbox_add(struct position *p, const struct outbox_event *event)
{
    const char *fields[OUTBOX_FIELDS] = {
        event->resource, event->uid,  event->reason, event->namespace,
        event->name,     event->body, event->patch,
    };
    struct outbox_entry *entry = NULL;
    char *line = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&line, &size);

    if (!f)
        return NULL;
    fprintf(f, "+%llu", (unsigned long long)p->next_seq);
    for (int i = 0; i < OUTBOX_FIELDS; i++) {
        if (strchr(fields[i], '\t'))
            goto out;
        fprintf(f, "\t%s", fields[i]);
    }
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;
    if (store_delta_extra(&p->delta, line) < 0)
        goto out;
    entry = outbox_link(p, p->next_seq, line);
    /* Unlinked, the entry saved is sent again at the next start: harmless. */
    if (entry) {
        p->unsaved = true;
        p->dirty = true;
    }
out:
    if (f)
        fclose(f);
    free(line);
    return entry;
}

/* The Event of entry is written or refused; see position.h. */
void
position_outbox_done(struct position *p, struct outbox_entry *entry)
{
    char line[32];

    snprintf(line, sizeof(line), "-%llu", (unsigned long long)entry->seq);
    /* Without the mark, a restart sends it again, to be refused: harmless. */
    if (store_delta_extra(&p->delta, line) == 0)
        p->dirty = true;
    outbox_unlink(p, entry);
}

bool
position_unsaved(const struct position *p)
{
    return p->unsaved;
}

size_t
position_outbox_size(const struct position *p)
{
    return p->outbox_size;
}

/* Splits a copy of an entry's line into the fields of event. */
static void
outbox_fields(char *copy, struct outbox_event *event)
{
    const char **fields[OUTBOX_FIELDS] = {
        &event->resource, &event->uid,  &event->reason, &event->namespace,
        &event->name,     &event->body, &event->patch,
    };
    char *at = strchr(copy, '\t');

    /* outbox_restore let in only lines of exactly these tabs. */
    for (int i = 0; i < OUTBOX_FIELDS; i++) {
        *at++ = '\0';
        *fields[i] = at;
        at = strchr(at, '\t');
        if (!at)
            break;
    }
}

/* Hands each entry found at the start to cb; see position.h. */
int
position_outbox_restored(struct position *p,
                         int (*cb)(struct outbox_entry *entry,
                                   const struct outbox_event *event, void *ctx),
                         void *ctx)
{
    struct outbox_entry *entry, *next;
    struct outbox_event event;
    int r = 0;

    for (entry = p->outbox_head; entry && r == 0; entry = next) {
        char *copy;

        next = entry->next;
        if (!entry->restored)
            continue;
        entry->restored = false;
        copy = strdup(entry->line);
        if (!copy)
            return -ENOMEM;
        outbox_fields(copy, &event);
        r = cb(entry, &event, ctx);
        free(copy);
    }
    return r;
}

/* The size of the file at path, 0 if there is none. */
static off_t
file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Adds a line of the aggregation table to a snapshot's tail. */
static int
tail_line(const char *line, void *ctx)
{
    return store_delta_extra(ctx, line);
}

/*
 * What a snapshot carries besides the objects: the aggregation table and
 * the outbox, so that one rename saves all three at once.
 */
static int
snapshot_tail(struct position *p, struct store_delta *tail)
{
    int r = aggregate_lines(p->aggregate, time(NULL), tail_line, tail);

    for (struct outbox_entry *e = p->outbox_head; e && r == 0; e = e->next)
        r = store_delta_extra(tail, e->line);
    return r;
}

/*
 * Writes a snapshot of the objects, those saved and what changed since,
 * with the aggregation table and the outbox, and starts its journal.  The
 * emitter keeps no copy of the objects: they are read back from the files
 * here, which only it writes.  KEY.aggregate, where the table was kept
 * before the snapshot carried it, is loaded first at an open and removed
 * here: the snapshot's table replaces it.
 */
static int
write_snapshot(struct position *p)
{
    uint64_t id = store_new_id();
    struct store *store = store_new();
    struct store_delta tail = {0};
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
    if (r == 0 && (r = snapshot_tail(p, &tail)) < 0)
        log_error("cannot save %s: %s, retrying", p->state_path, strerror(-r));
    if (r == 0 &&
        (r = store_save(store, p->state_path, p->watermark, id, &tail)) < 0)
        log_error("cannot save %s: %s, retrying", p->state_path, strerror(-r));
    store_delta_free(&tail);
    store_free(store);
    if (r < 0)
        return r;
    if (unlink(p->aggregate_path) < 0 && errno != ENOENT)
        log_warn("unlink() of %s failed: %s, ignoring it", p->aggregate_path,
                 strerror(errno));
    r = store_journal_start(p->state_path, id);
    if (r < 0) {
        log_warn("cannot start the journal of %s: %s, saving snapshots only",
                 p->state_path, strerror(-r));
        return 0;
    }
    p->journal_fd = r;
    p->journal_bytes = 0;
    p->snapshot_bytes = file_size(p->state_path);
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
    /*
     * Before the first list ends there is nothing to resume from, and no
     * Event: the first list only records what exists.
     */
    if (!p->watermark) {
        p->unsaved = false;
        return 0;
    }
    if (!p->dirty || (!force && !p->unsaved &&
                      elapsed_ms(&p->saved_at, &now) < p->save_gap_ms))
        return 0;

    if (!append_journal(p) && (r = write_snapshot(p)) < 0)
        return r;
    store_delta_reset(&p->delta);
    p->dirty = false;
    p->unsaved = false;
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
