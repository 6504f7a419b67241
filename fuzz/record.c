/*
 * libFuzzer target for the change record reader.  The first byte of an
 * input chooses a chunk size and whether to repair checksums; the rest is
 * what a watcher wrote.  Random bytes almost never carry a valid crc32, so
 * without the repair the fuzzer would test little beyond the checksum.
 *
 * Every change the reader delivers is encoded again and read back, and
 * must come out identical: what the emitter receives is what the watcher
 * meant, field by field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "record.h"

#define REPAIR_CHECKSUMS 0x80

static const size_t string_offsets[] = {
    offsetof(struct change, resource),
    offsetof(struct change, api_version),
    offsetof(struct change, kind),
    offsetof(struct change, resource_version),
    offsetof(struct change, manager),
    offsetof(struct change, old.uid),
    offsetof(struct change, old.name),
    offsetof(struct change, old.namespace),
    offsetof(struct change, old.resource_version),
    offsetof(struct change, old.deletion_timestamp),
    offsetof(struct change, old.finalizers),
    offsetof(struct change, old.status),
    offsetof(struct change, new.uid),
    offsetof(struct change, new.name),
    offsetof(struct change, new.namespace),
    offsetof(struct change, new.resource_version),
    offsetof(struct change, new.deletion_timestamp),
    offsetof(struct change, new.finalizers),
    offsetof(struct change, new.status),
};

#define STRING_COUNT (sizeof(string_offsets) / sizeof(string_offsets[0]))

/* The string of change at offset. */
static const char *
string_at(const struct change *change, size_t offset)
{
    return *(const char *const *)((const char *)change + offset);
}

/* Aborts unless both changes hold the same values. */
static int
check_same(const struct change *again, void *ctx)
{
    const struct change *first = ctx;

    if (again->type != first->type || again->flags != first->flags ||
        again->old.generation != first->old.generation ||
        again->new.generation != first->new.generation)
        abort();
    for (size_t i = 0; i < STRING_COUNT; i++) {
        if (strcmp(string_at(again, string_offsets[i]),
                   string_at(first, string_offsets[i])) != 0)
            abort();
    }
    return 0;
}

/* Encodes a delivered change and reads it back; it must come out the same. */
static int
round_trip(const struct change *change, void *ctx)
{
    struct record_reader *reader = record_reader_new();
    size_t *delivered = ctx, len;
    char *frame;

    (*delivered)++;
    if (!reader || record_encode(change, &frame, &len) < 0)
        abort();
    if (record_reader_feed(reader, frame, len, check_same, (void *)change) ||
        record_reader_finish(reader))
        abort();
    free(frame);
    record_reader_free(reader);
    return 0;
}

/* Rewrites the checksum of every frame whose header is plausible. */
static void
repair_checksums(unsigned char *buf, size_t len)
{
    size_t pos = 0;

    while (len - pos >= RECORD_HEADER_SIZE) {
        unsigned char *p = buf + pos;
        size_t payload_len =
            p[4] | p[5] << 8 | (size_t)p[6] << 16 | (size_t)p[7] << 24;
        uint32_t crc;

        if (payload_len > len - pos - RECORD_HEADER_SIZE)
            return;
        crc = (uint32_t)crc32(0L, p + RECORD_HEADER_SIZE, (uInt)payload_len);
        for (int i = 0; i < 4; i++)
            p[8 + i] = (unsigned char)(crc >> (8 * i));
        pos += RECORD_HEADER_SIZE + payload_len;
    }
}

/* Reads buf in chunks of chunk bytes; returns the result and the count. */
static int
read_frames(const unsigned char *buf, size_t len, size_t chunk,
            size_t *delivered)
{
    struct record_reader *reader = record_reader_new();
    size_t pos = 0;
    int r = 0;

    if (!reader)
        abort();
    while (r == 0 && pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk;

        r = record_reader_feed(reader, (const char *)buf + pos, n, round_trip,
                               delivered);
        pos += n;
    }
    if (r == 0)
        r = record_reader_finish(reader);
    record_reader_free(reader);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads one input whole and chunked; aborts if they disagree. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk, whole_count = 0, chunked_count = 0;
    unsigned char *buf;
    int r_whole, r_chunked;

    if (size < 1)
        return 0;
    chunk = 1 + (data[0] & 0x7f);
    buf = malloc(size);
    if (!buf)
        abort();
    memcpy(buf, data + 1, size - 1);
    if (data[0] & REPAIR_CHECKSUMS)
        repair_checksums(buf, size - 1);

    r_whole = read_frames(buf, size - 1, size, &whole_count);
    r_chunked = read_frames(buf, size - 1, chunk, &chunked_count);
    if (r_whole != r_chunked || whole_count != chunked_count)
        abort();

    free(buf);
    return 0;
}
