/*
 * The watcher's memory of the objects it watches: per uid, only the fields
 * changes are reported from (struct object_fields), so that a watcher of
 * tens of thousands of objects stays small.  Texts that many objects share
 * (namespaces, finalizers, status texts) are kept once.
 *
 * It also diffs a relist (mark, then put what the list holds, then sweep
 * what was not in it) and saves and loads a snapshot file, so that a
 * restarted watcher can resume from the snapshot's resourceVersion instead
 * of listing again.
 */
#ifndef EC_STORE_H
#define EC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "change.h"

struct store;
struct store_delta;

/* Returns NULL when out of memory. */
struct store *store_new(void);

void store_free(struct store *store);

size_t store_count(const struct store *store);

/*
 * Whether fields can be stored: 0, -EINVAL for an empty uid, -E2BIG for a
 * string longer than a snapshot holds (see store_put).
 */
int store_check_fields(const struct object_fields *fields);

/*
 * Adds or replaces the object with fields->uid, copying every string, and
 * clears its mark.  Returns 0, -EINVAL for an empty uid, -E2BIG for a
 * string longer than a snapshot can hold (uid, resourceVersion and
 * deletionTimestamp 255 bytes, the others 65535), or -ENOMEM, leaving the
 * store as it was.
 */
int store_put(struct store *store, const struct object_fields *fields);

/*
 * Fills out with the object of this uid and returns true, or returns false.
 * The strings point into the store: they stay valid until the store is
 * next changed.
 */
bool store_get(const struct store *store, const char *uid,
               struct object_fields *out);

/* Removes the object of this uid; false if there was none. */
bool store_remove(struct store *store, const char *uid);

/* Removes every object. */
void store_clear(struct store *store);

/* Marks every object as not seen; store_put clears the mark. */
void store_mark(struct store *store);

/*
 * For each object still marked, calls cb with its fields, then removes it.
 * Stops at the first nonzero return of cb and returns it, leaving the
 * objects not yet visited marked; returns 0 when all were swept.
 */
int store_sweep(struct store *store,
                int (*cb)(const struct object_fields *fields, void *ctx),
                void *ctx);

/* Calls cb for each object, in no order, until it returns nonzero. */
int store_foreach(const struct store *store,
                  int (*cb)(const struct object_fields *fields, void *ctx),
                  void *ctx);

/* The bytes the store has asked malloc for, tables included. */
size_t store_memory(const struct store *store);

/*
 * Writes every object and the resourceVersion they are current at to path,
 * atomically: a temporary file in the same directory, fsync, rename, fsync
 * of the directory.  id names the snapshot for its journal: see
 * store_new_id.  tail, if not NULL, holds the caller's entries
 * (store_delta_extra only) to keep in the same file: store_load_extra
 * hands them back before those of the journal.  Returns 0 or a negative
 * errno; path is then unchanged.
 */
int store_save(const struct store *store, const char *path,
               const char *resource_version, uint64_t id,
               const struct store_delta *tail);

/* A fresh id for a snapshot, never 0. */
uint64_t store_new_id(void);

/*
 * What changed in a store since its snapshot, as journal entries: puts,
 * removals and the caller's own texts, replayed in the order added.
 * Zero-initialised.  Adding returns 0, or -EINVAL, -E2BIG (as store_put)
 * or -ENOMEM, and then leaves the delta as it was.
 */
struct store_delta {
    unsigned char *p;
    size_t len, cap;
    size_t entries;
};

int store_delta_put(struct store_delta *delta,
                    const struct object_fields *fields);
int store_delta_remove(struct store_delta *delta, const char *uid);
/* text is at most 65535 bytes; store_load_extra hands it back. */
int store_delta_extra(struct store_delta *delta, const char *text);
void store_delta_reset(struct store_delta *delta);
void store_delta_free(struct store_delta *delta);

/*
 * Applies the puts and removals of delta to store, in order.  Returns 0,
 * or a negative errno with store changed up to the failure.
 */
int store_apply_delta(struct store *store, const struct store_delta *delta);

/*
 * Replaces path.journal, atomically, with an empty journal of the snapshot
 * of id, and returns a descriptor open for appending to it, or a negative
 * errno.
 */
int store_journal_start(const char *path, uint64_t id);

/*
 * Appends delta to the journal open at fd as one frame, at
 * resource_version, and fdatasyncs it.  Returns 0 or a negative errno;
 * after a failure the journal may end in a partial frame, which ends it
 * for a reader, so the caller starts a new snapshot.
 */
int store_journal_append(int fd, const char *resource_version,
                         const struct store_delta *delta);

/*
 * Reads a snapshot written by store_save into store, which must be empty,
 * and its resourceVersion into *resource_version (malloc'd), then applies
 * the journal beside it: the store and resourceVersion are then as of its
 * last whole frame.  A file that is truncated, damaged or of another
 * format is refused as a whole with -EBADMSG and a reason in err; so is a
 * journal frame that passes its checksum and does not parse.  A missing
 * file is -ENOENT; other failures of reading are a negative errno with err
 * set.  On failure the store is left empty.
 */
int store_load(const char *path, struct store *store, char **resource_version,
               char *err, size_t errlen);

/* Where store_load_extra hands the caller's journal entries. */
struct store_extra {
    int (*cb)(const char *text, void *ctx); /* negative: damaged */
    void *ctx;
};

/* store_load, handing each of the caller's entries to extra, in order. */
int store_load_extra(const char *path, struct store *store,
                     char **resource_version, const struct store_extra *extra,
                     char *err, size_t errlen);

#endif
