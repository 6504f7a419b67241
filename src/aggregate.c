/*
 * The table behind Event aggregation (aggregate.h): an open hash of
 * entries keyed by a hash of (uid, reason, message), each with a decided
 * and a committed view, saved as one text line per committed entry.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aggregate.h"

#define BUCKETS 4096
/*
 * How often a decision sweeps the whole table.  Between sweeps it expires
 * only its own bucket, which, at a few Events a second over 4096 buckets,
 * it would meet again only after a quarter of an hour: entries would
 * outlive the window more than twice over.
 */
#define SWEEP_S 60

/*
 * An entry lives for the window after each Event, so there are as many as
 * Events in the last 10 minutes: the names are kept at their length.
 */
struct view {
    char *name;    /* malloc'd; NULL while count is 0 */
    int64_t count; /* 0: nothing */
    time_t when;   /* last occurrence */
};

struct entry {
    struct entry *next;
    uint64_t key;
    struct view decided, committed;
};

struct aggregate {
    struct entry *buckets[BUCKETS];
    time_t swept; /* the last sweep of every bucket */
};

/* Frees an entry and its names. */
static void
entry_free(struct entry *e)
{
    free(e->decided.name);
    free(e->committed.name);
    free(e);
}

/* Sets a view's name to a copy of name; -ENOMEM leaves it as it was. */
static int
view_name(struct view *v, const char *name)
{
    char *copy;

    if (v->name && strcmp(v->name, name) == 0)
        return 0;
    copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    free(v->name);
    v->name = copy;
    return 0;
}

/* Creates an empty table. */
struct aggregate *
aggregate_new(void)
{
    return calloc(1, sizeof(struct aggregate));
}

/* Frees the table; NULL is allowed. */
void
aggregate_free(struct aggregate *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < BUCKETS; i++) {
        while (table->buckets[i]) {
            struct entry *e = table->buckets[i];

            table->buckets[i] = e->next;
            entry_free(e);
        }
    }
    free(table);
}

/* The first 8 bytes of SHA-256 of the identity of an Event. */
static uint64_t
event_key(const char *uid, const struct event *event)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len;
    uint64_t key = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
        EVP_DigestUpdate(ctx, uid, strlen(uid) + 1) &&
        EVP_DigestUpdate(ctx, event->reason, strlen(event->reason) + 1) &&
        EVP_DigestUpdate(ctx, event->note, strlen(event->note)) &&
        EVP_DigestFinal_ex(ctx, digest, &len))
        memcpy(&key, digest, sizeof(key));
    EVP_MD_CTX_free(ctx);
    return key;
}

/* The entry for key, created empty if create; NULL if none or no memory. */
static struct entry *
entry_get(struct aggregate *table, uint64_t key, bool create)
{
    struct entry **head = &table->buckets[key % BUCKETS], *e;

    for (e = *head; e; e = e->next)
        if (e->key == key)
            return e;
    if (!create)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->key = key;
    e->next = *head;
    *head = e;
    return e;
}

/* Drops entries that no later Event can repeat, so the table stays small. */
static void
expire(struct aggregate *table, size_t bucket, time_t now)
{
    struct entry **p = &table->buckets[bucket];

    while (*p) {
        struct entry *e = *p;

        if (now - e->decided.when > AGGREGATE_WINDOW_S &&
            e->decided.count == e->committed.count) {
            *p = e->next;
            entry_free(e);
            continue;
        }
        p = &e->next;
    }
}

/* Decides new Event or repeat; see aggregate.h. */
int
aggregate_decide(struct aggregate *table, const char *uid,
                 const struct event *event, const char *name, time_t now,
                 struct aggregate_decision *d)
{
    uint64_t key = event_key(uid, event);
    struct entry *e;

    if (now - table->swept >= SWEEP_S) {
        for (size_t i = 0; i < BUCKETS; i++)
            expire(table, i, now);
        table->swept = now;
    } else {
        expire(table, key % BUCKETS, now);
    }
    e = entry_get(table, key, true);
    if (!e)
        return -ENOMEM;

    if (e->decided.count > 0 && now - e->decided.when <= AGGREGATE_WINDOW_S) {
        e->decided.count++;
    } else {
        if (view_name(&e->decided, name) < 0)
            return -ENOMEM;
        e->decided.count = 1;
    }
    e->decided.when = now;

    d->key = key;
    snprintf(d->name, sizeof(d->name), "%s", e->decided.name);
    d->count = e->decided.count;
    d->when = now;
    return 0;
}

/* Moves one decision into the committed view; see aggregate.h. */
int
aggregate_commit(struct aggregate *table, const struct aggregate_decision *d)
{
    struct entry *e = entry_get(table, d->key, true);

    if (!e || view_name(&e->committed, d->name) < 0)
        return -ENOMEM;
    e->committed.count = d->count;
    e->committed.when = d->when;
    return 0;
}

/* One committed entry as a line of the saved table: key, count, when, name. */
#define LINE_FORMAT "%016" PRIx64 " %" PRId64 " %lld %s\n"

/* Hands each committed entry inside the window to cb; see aggregate.h. */
int
aggregate_lines(struct aggregate *table, time_t now,
                int (*cb)(const char *line, void *ctx), void *ctx)
{
    char line[AGGREGATE_LINE_MAX];
    int r = 0;

    for (size_t i = 0; i < BUCKETS && r == 0; i++) {
        for (struct entry *e = table->buckets[i]; e && r == 0; e = e->next) {
            const struct view *v = &e->committed;

            if (v->count <= 0 || now - v->when > AGGREGATE_WINDOW_S)
                continue;
            snprintf(line, sizeof(line), LINE_FORMAT, e->key, v->count,
                     (long long)v->when, v->name);
            r = cb(line, ctx);
        }
    }
    return r;
}

/* Writes a line of the saved table to a FILE. */
static int
put_line(const char *line, void *ctx)
{
    return fputs(line, ctx) < 0 ? -EIO : 0;
}

/* A decision as a line of the saved table; see aggregate.h. */
void
aggregate_line(const struct aggregate_decision *d, char *buf, size_t size)
{
    snprintf(buf, size, LINE_FORMAT, d->key, d->count, (long long)d->when,
             d->name);
}

/* Saves the committed view: temporary file, fsync, rename. */
int
aggregate_save(struct aggregate *table, const char *path, time_t now)
{
    char tmp[4096];
    FILE *f;
    int r = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "we");
    if (!f)
        return -errno;
    aggregate_lines(table, now, put_line, f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        r = -errno;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) != 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

/* Puts one saved line into both views; see aggregate.h. */
int
aggregate_restore(struct aggregate *table, const char *line)
{
    char name[EVENT_NAME_MAX + 1];
    uint64_t key;
    int64_t count;
    long long when;
    struct entry *e;

    if (sscanf(line, "%" SCNx64 " %" SCNd64 " %lld %253s", &key, &count, &when,
               name) != 4)
        return -EINVAL;
    e = entry_get(table, key, true);
    if (!e || view_name(&e->committed, name) < 0 ||
        view_name(&e->decided, name) < 0)
        return -ENOMEM;
    e->committed.count = count;
    e->committed.when = (time_t)when;
    e->decided.count = count;
    e->decided.when = (time_t)when;
    return 0;
}

/* Loads saved entries into both views; see aggregate.h. */
int
aggregate_load(struct aggregate *table, const char *path)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t size = 0;
    int r = 0;

    if (!f)
        return errno == ENOENT ? 0 : -errno;
    /* A damaged line ends the table, as before: what came before holds. */
    while (getline(&line, &size, f) > 0)
        if ((r = aggregate_restore(table, line)) < 0)
            break;
    free(line);
    fclose(f);
    return r == -ENOMEM ? r : 0;
}
