/*
 * The object store: an open-addressing hash table from uid to a compact
 * entry, and a pool of interned texts.
 *
 * An entry is one allocation: a few pointers to interned texts, the
 * generation, and the object's own strings (uid, name, resourceVersion,
 * and status_since unless it is the resourceVersion) inline after it.
 * Namespaces, deletionTimestamps, finalizers and status texts repeat
 * across objects (most objects have no finalizer and one of a few
 * statuses), so each distinct text is kept once with a reference
 * count, and "" costs nothing.  Both tables use linear probing with
 * backward-shift deletion, which leaves no tombstones to clean up.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "hash.h"
#include "store.h"

/* Grow when more than 7 slots in 10 are taken. */
#define LOAD_NUMERATOR   7
#define LOAD_DENOMINATOR 10
#define INITIAL_SLOTS    64

#define SHORT_MAX 255   /* uid, resourceVersion, deletionTimestamp */
#define LONG_MAX_ 65535 /* the other strings: a u16 in the snapshot */

struct interned {
    uint32_t refs;
    uint32_t hash;
    char text[];
};

struct pool {
    struct interned **slots;
    size_t n_slots; /* a power of two */
    size_t count;
};

struct entry {
    struct interned *namespace, *deletion_timestamp, *finalizers, *status;
    int64_t generation;
    uint16_t name_len;
    uint8_t uid_len, rv_len, since_len;
    bool marked;
    char text[]; /* uid, name, resourceVersion, status_since, with NULs */
};

struct store {
    struct entry **slots;
    size_t n_slots; /* a power of two */
    size_t count;
    struct pool pool;
    size_t bytes; /* asked of malloc, tables included */
};

/* The uid, first of the strings after the entry. */
static const char *
entry_uid(const struct entry *e)
{
    return e->text;
}

/* The name, after the uid. */
static const char *
entry_name(const struct entry *e)
{
    return e->text + e->uid_len + 1;
}

/* The resourceVersion, after the name. */
static const char *
entry_rv(const struct entry *e)
{
    return e->text + e->uid_len + 1 + e->name_len + 1;
}

/* status_since, after the resourceVersion. */
static const char *
entry_since(const struct entry *e)
{
    return entry_rv(e) + e->rv_len + 1;
}

/* The bytes of an entry: its fixed part and its four strings. */
static size_t
entry_size(const struct entry *e)
{
    return offsetof(struct entry, text) + e->uid_len + e->name_len + e->rv_len +
           e->since_len + 4;
}

/* The text of an interned string; NULL stands for "". */
static const char *
text_of(const struct interned *i)
{
    return i ? i->text : "";
}

/* The slot of text in the pool, or of the empty slot where it would go. */
static size_t
pool_find(const struct pool *pool, const char *text, uint32_t hash)
{
    size_t mask = pool->n_slots - 1, i = hash & mask;

    while (pool->slots[i] && (pool->slots[i]->hash != hash ||
                              strcmp(pool->slots[i]->text, text) != 0))
        i = (i + 1) & mask;
    return i;
}

/* Doubles the pool's table; false when out of memory. */
static bool
pool_grow(struct store *store)
{
    struct pool *pool = &store->pool;
    size_t n = pool->n_slots ? pool->n_slots * 2 : INITIAL_SLOTS;
    struct pool bigger = {.n_slots = n, .count = pool->count};

    bigger.slots = calloc(n, sizeof(*bigger.slots));
    if (!bigger.slots)
        return false;
    for (size_t i = 0; i < pool->n_slots; i++) {
        struct interned *t = pool->slots[i];

        if (t)
            bigger.slots[pool_find(&bigger, t->text, t->hash)] = t;
    }
    store->bytes += n * sizeof(*bigger.slots);
    store->bytes -= pool->n_slots * sizeof(*pool->slots);
    free(pool->slots);
    *pool = bigger;
    return true;
}

/* A counted reference to text; NULL stands for "" and for no memory. */
static struct interned *
intern(struct store *store, const char *text, bool *failed)
{
    struct pool *pool = &store->pool;
    uint32_t hash = hash_text(text);
    size_t len = strlen(text), i;
    struct interned *t;

    if (len == 0)
        return NULL;
    if ((pool->count + 1) * LOAD_DENOMINATOR > pool->n_slots * LOAD_NUMERATOR &&
        !pool_grow(store))
        return *failed = true, NULL;

    i = pool_find(pool, text, hash);
    if (pool->slots[i]) {
        pool->slots[i]->refs++;
        return pool->slots[i];
    }
    t = malloc(sizeof(*t) + len + 1);
    if (!t)
        return *failed = true, NULL;
    t->refs = 1;
    t->hash = hash;
    memcpy(t->text, text, len + 1);
    pool->slots[i] = t;
    pool->count++;
    store->bytes += sizeof(*t) + len + 1;
    return t;
}

/*
 * Whether the entry at slot j, which hashes to slot home, may move back to
 * the free slot hole: only if hole lies on its probe path, between home
 * and j, in a table of mask + 1 slots.
 */
static bool
may_move_back(size_t home, size_t hole, size_t j, size_t mask)
{
    return ((j - home) & mask) >= ((j - hole) & mask);
}

/* Empties slot hole of the pool, moving later texts of its run back. */
static void
pool_shift_back(struct pool *pool, size_t hole)
{
    size_t mask = pool->n_slots - 1, j = hole;

    for (j = (j + 1) & mask; pool->slots[j]; j = (j + 1) & mask) {
        if (may_move_back(pool->slots[j]->hash & mask, hole, j, mask)) {
            pool->slots[hole] = pool->slots[j];
            hole = j;
        }
    }
    pool->slots[hole] = NULL;
}

/* Drops a reference; the last one frees the text. */
static void
unintern(struct store *store, struct interned *t)
{
    struct pool *pool = &store->pool;
    size_t hole;

    if (!t || --t->refs > 0)
        return;
    hole = pool_find(pool, t->text, t->hash);
    pool_shift_back(pool, hole);
    pool->count--;
    store->bytes -= sizeof(*t) + strlen(t->text) + 1;
    free(t);
}

/* An empty store; its tables grow on the first put. */
struct store *
store_new(void)
{
    return calloc(1, sizeof(struct store));
}

/* The slot of uid, or of the empty slot where it would go. */
static size_t
table_find(const struct store *store, const char *uid)
{
    size_t mask = store->n_slots - 1, i = hash_text(uid) & mask;

    while (store->slots[i] && strcmp(entry_uid(store->slots[i]), uid) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Doubles the table; false when out of memory. */
static bool
table_grow(struct store *store)
{
    size_t n = store->n_slots ? store->n_slots * 2 : INITIAL_SLOTS;
    struct entry **old = store->slots, **slots;
    size_t old_n = store->n_slots;

    slots = calloc(n, sizeof(*slots));
    if (!slots)
        return false;
    store->slots = slots;
    store->n_slots = n;
    for (size_t i = 0; i < old_n; i++)
        if (old[i])
            slots[table_find(store, entry_uid(old[i]))] = old[i];
    store->bytes += (n - old_n) * sizeof(*slots);
    free(old);
    return true;
}

/* Frees an entry and its references. */
static void
entry_free(struct store *store, struct entry *e)
{
    unintern(store, e->namespace);
    unintern(store, e->deletion_timestamp);
    unintern(store, e->finalizers);
    unintern(store, e->status);
    store->bytes -= entry_size(e);
    free(e);
}

/* Whether every string fits what an entry and a snapshot can hold. */
int
store_check_fields(const struct object_fields *f)
{
    if (!f->uid || !*f->uid)
        return -EINVAL;
    if (strlen(f->uid) > SHORT_MAX || strlen(f->resource_version) > SHORT_MAX ||
        strlen(f->status_since) > SHORT_MAX ||
        strlen(f->deletion_timestamp) > SHORT_MAX ||
        strlen(f->name) > LONG_MAX_ || strlen(f->namespace) > LONG_MAX_ ||
        strlen(f->finalizers) > LONG_MAX_ || strlen(f->status) > LONG_MAX_)
        return -E2BIG;
    return 0;
}

/* A new entry for fields, its texts interned; NULL when out of memory. */
static struct entry *
entry_new(struct store *store, const struct object_fields *f)
{
    /* Most statuses hold since the version itself: that costs nothing. */
    const char *since = strcmp(f->status_since, f->resource_version) == 0
                            ? ""
                            : f->status_since;
    struct entry head = {
        .uid_len = (uint8_t)strlen(f->uid),
        .name_len = (uint16_t)strlen(f->name),
        .rv_len = (uint8_t)strlen(f->resource_version),
        .since_len = (uint8_t)strlen(since),
    };
    struct entry *e = calloc(1, entry_size(&head));
    bool failed = false;
    char *at;

    if (!e)
        return NULL;
    *e = head;
    e->generation = f->generation;
    at = e->text;
    memcpy(at, f->uid, e->uid_len + 1);
    at += e->uid_len + 1;
    memcpy(at, f->name, e->name_len + 1);
    at += e->name_len + 1;
    memcpy(at, f->resource_version, e->rv_len + 1);
    at += e->rv_len + 1;
    memcpy(at, since, e->since_len + 1);
    store->bytes += entry_size(e);

    e->namespace = intern(store, f->namespace, &failed);
    e->deletion_timestamp = intern(store, f->deletion_timestamp, &failed);
    e->finalizers = intern(store, f->finalizers, &failed);
    e->status = intern(store, f->status, &failed);
    if (failed) {
        entry_free(store, e);
        return NULL;
    }
    return e;
}

/* Adds or replaces an object; see store.h. */
int
store_put(struct store *store, const struct object_fields *fields)
{
    struct entry *e;
    size_t i;
    int r;

    r = store_check_fields(fields);
    if (r < 0)
        return r;
    if ((store->count + 1) * LOAD_DENOMINATOR >
            store->n_slots * LOAD_NUMERATOR &&
        !table_grow(store))
        return -ENOMEM;

    /* A new entry before the old goes: a failure leaves the store as is. */
    e = entry_new(store, fields);
    if (!e)
        return -ENOMEM;
    i = table_find(store, fields->uid);
    if (store->slots[i])
        entry_free(store, store->slots[i]);
    else
        store->count++;
    store->slots[i] = e;
    return 0;
}

/* Points out's strings at the entry's. */
static void
entry_fields(const struct entry *e, struct object_fields *out)
{
    out->uid = entry_uid(e);
    out->name = entry_name(e);
    out->namespace = text_of(e->namespace);
    out->resource_version = entry_rv(e);
    out->generation = e->generation;
    out->deletion_timestamp = text_of(e->deletion_timestamp);
    out->finalizers = text_of(e->finalizers);
    out->status = text_of(e->status);
    out->status_since = entry_since(e);
}

/* The slot holding uid, or -1. */
static ssize_t
table_lookup(const struct store *store, const char *uid)
{
    size_t i;

    if (store->count == 0)
        return -1;
    i = table_find(store, uid);
    return store->slots[i] ? (ssize_t)i : -1;
}

/* Finds an object by uid; see store.h. */
bool
store_get(const struct store *store, const char *uid, struct object_fields *out)
{
    ssize_t i = table_lookup(store, uid);

    if (i < 0)
        return false;
    entry_fields(store->slots[i], out);
    return true;
}

/* Empties slot hole of the table, moving later entries of its run back. */
static void
table_shift_back(struct store *store, size_t hole)
{
    size_t mask = store->n_slots - 1, j = hole, home;

    for (j = (j + 1) & mask; store->slots[j]; j = (j + 1) & mask) {
        home = hash_text(entry_uid(store->slots[j])) & mask;
        if (may_move_back(home, hole, j, mask)) {
            store->slots[hole] = store->slots[j];
            hole = j;
        }
    }
    store->slots[hole] = NULL;
}

/* Empties slot i of the table and frees its entry. */
static void
table_remove_at(struct store *store, size_t i)
{
    struct entry *e = store->slots[i];

    table_shift_back(store, i);
    store->count--;
    entry_free(store, e);
}

/* Removes an object by uid; see store.h. */
bool
store_remove(struct store *store, const char *uid)
{
    ssize_t i = table_lookup(store, uid);

    if (i < 0)
        return false;
    table_remove_at(store, i);
    return true;
}

/* Removes every object, keeping the tables. */
void
store_clear(struct store *store)
{
    for (size_t i = 0; i < store->n_slots; i++) {
        if (store->slots[i])
            entry_free(store, store->slots[i]);
        store->slots[i] = NULL;
    }
    store->count = 0;
}

/* Frees the store and all it holds. */
void
store_free(struct store *store)
{
    if (!store)
        return;
    store_clear(store);
    free(store->slots);
    free(store->pool.slots);
    free(store);
}

/* How many objects the store holds. */
size_t
store_count(const struct store *store)
{
    return store->count;
}

/* What the store asked of malloc, itself included. */
size_t
store_memory(const struct store *store)
{
    return sizeof(*store) + store->bytes;
}

/* Marks every object as not seen by the list in progress. */
void
store_mark(struct store *store)
{
    for (size_t i = 0; i < store->n_slots; i++)
        if (store->slots[i])
            store->slots[i]->marked = true;
}

/*
 * Removing shifts later entries back, so the marked entries are gathered
 * by uid first and removed afterwards, one lookup each.
 */
int
store_sweep(struct store *store,
            int (*cb)(const struct object_fields *fields, void *ctx), void *ctx)
{
    struct object_fields f;
    size_t n = 0;
    char **uids;
    int r = 0;

    for (size_t i = 0; i < store->n_slots; i++)
        n += store->slots[i] && store->slots[i]->marked;
    if (n == 0)
        return 0;
    uids = calloc(n, sizeof(*uids));
    if (!uids)
        return -ENOMEM;

    n = 0;
    for (size_t i = 0; i < store->n_slots; i++)
        if (store->slots[i] && store->slots[i]->marked &&
            !(uids[n++] = strdup(entry_uid(store->slots[i]))))
            r = -ENOMEM;

    for (size_t k = 0; k < n && r == 0; k++) {
        if (store_get(store, uids[k], &f))
            r = cb(&f, ctx);
        if (r == 0)
            store_remove(store, uids[k]);
    }
    for (size_t k = 0; k < n; k++)
        free(uids[k]);
    free(uids);
    return r;
}

/* Visits every object; see store.h. */
int
store_foreach(const struct store *store,
              int (*cb)(const struct object_fields *fields, void *ctx),
              void *ctx)
{
    struct object_fields f;
    int r;

    for (size_t i = 0; i < store->n_slots; i++) {
        if (!store->slots[i])
            continue;
        entry_fields(store->slots[i], &f);
        r = cb(&f, ctx);
        if (r)
            return r;
    }
    return 0;
}
