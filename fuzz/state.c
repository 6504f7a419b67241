/*
 * libFuzzer target for the state files: a store's snapshot and its
 * journal, as the emitter wrote them or as a new leader restores them
 * from a ConfigMap, with the lines of the aggregation table and of the
 * outbox in both; read by the store alone, and by position_open as the
 * emitter reads them.
 *
 * The first byte of an input says whether to repair checksums; the next
 * two give the snapshot's length; the snapshot follows, and the journal
 * is the rest.  Random bytes almost never carry a valid crc32, so without
 * the repair the fuzzer would test little beyond the checksums.
 *
 * A state that loads is saved again, and must load to the same objects
 * at the same resourceVersion.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "aggregate.h"
#include "position.h"
#include "store.h"

#define REPAIR_CHECKSUMS 0x80

static char dir[] = "/tmp/state-fuzzer.XXXXXX";
static char snapshot_path[64], journal_path[80], again_path[64];

static void
put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
crc_of(const unsigned char *p, size_t n)
{
    return (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), p, n);
}

/* Sets the checksum of the snapshot and of each journal frame found. */
static void
repair(unsigned char *snapshot, size_t n, unsigned char *journal, size_t m)
{
    size_t at = 16;

    if (n >= 4)
        put_le32(snapshot + n - 4, crc_of(snapshot, n - 4));
    while (at + 12 <= m && memcmp(journal + at, "ECJF", 4) == 0) {
        uint32_t size =
            (uint32_t)journal[at + 4] | (uint32_t)journal[at + 5] << 8 |
            (uint32_t)journal[at + 6] << 16 | (uint32_t)journal[at + 7] << 24;

        if (size > m - at - 12)
            break;
        put_le32(journal + at + 8 + size, crc_of(journal + at + 8, size));
        at += 12 + size;
    }
}

static void
write_file(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "w");

    if (!f)
        abort();
    if (n > 0 && fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

/* The table's lines to the table; the outbox's are position_open's. */
static int
restore_line(const char *text, void *ctx)
{
    if (text[0] == '+' || text[0] == '-')
        return 0;
    return aggregate_restore(ctx, text);
}

/* Every field of an outbox entry read back is a string. */
static int
check_entry(struct outbox_entry *entry, const struct outbox_event *e, void *ctx)
{
    size_t *n = ctx;

    (void)entry;
    *n += strlen(e->resource) + strlen(e->uid) + strlen(e->reason) +
          strlen(e->namespace) + strlen(e->name) + strlen(e->body) +
          strlen(e->patch);
    return 0;
}

/* Opens the files as the emitter does, and sends the outbox nowhere. */
static void
open_position(void)
{
    struct position *p;
    size_t n = 0;

    if (position_open(dir, "k", &p) < 0)
        return;
    if (position_outbox_restored(p, check_entry, &n) != 0)
        abort();
    position_free(p);
}

/* Whether every object of a is in b with the same resourceVersion. */
static int
same_object(const struct object_fields *f, void *ctx)
{
    struct object_fields got;

    if (!store_get(ctx, f->uid, &got) ||
        strcmp(got.resource_version, f->resource_version) != 0 ||
        strcmp(got.status, f->status) != 0)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store *store = store_new(), *again = store_new();
    struct aggregate *table = aggregate_new();
    unsigned char *copy;
    size_t n;
    char err[256], *rv = NULL, *rv2 = NULL;

    if (!store || !again || !table || size < 3)
        goto out;
    if (!snapshot_path[0]) {
        if (!mkdtemp(dir))
            abort();
        snprintf(snapshot_path, sizeof(snapshot_path), "%s/k.state", dir);
        snprintf(journal_path, sizeof(journal_path), "%s.journal",
                 snapshot_path);
        snprintf(again_path, sizeof(again_path), "%s/again.state", dir);
    }
    n = (size_t)data[1] | (size_t)data[2] << 8;
    if (n > size - 3)
        n = size - 3;
    copy = malloc(size - 3 + 1);
    if (!copy)
        goto out;
    memcpy(copy, data + 3, size - 3);
    if (data[0] & REPAIR_CHECKSUMS)
        repair(copy, n, copy + n, size - 3 - n);
    write_file(snapshot_path, copy, n);
    write_file(journal_path, copy + n, size - 3 - n);
    free(copy);

    if (store_load_extra(snapshot_path, store, &rv,
                         &(struct store_extra){restore_line, table}, err,
                         sizeof(err)) == 0) {
        if (store_save(store, again_path, rv, store_new_id(), NULL) != 0 ||
            store_load(again_path, again, &rv2, err, sizeof(err)) != 0 ||
            strcmp(rv, rv2) != 0 || store_count(again) != store_count(store))
            abort();
        store_foreach(store, same_object, again);
    }
    open_position();
out:
    free(rv);
    free(rv2);
    aggregate_free(table);
    store_free(store);
    store_free(again);
    return 0;
}
