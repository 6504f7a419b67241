/*
 * Change records: encoding a struct change into a frame, writing it to a
 * pipe, and reading frames back from whatever pieces the pipe delivers.
 * The frame layout is in record.h.  The reader copies each frame into its
 * own buffer before looking at it, so nothing depends on how the writer's
 * bytes were split, and it checks every length before using it.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "record.h"

#define RECORD_MAGIC       "ECR1"
#define RECORD_MAGIC_SIZE  4
#define RECORD_FRAME_MAX   (RECORD_HEADER_SIZE + RECORD_PAYLOAD_MAX)
#define FIELD_HEADER_SIZE  3 /* tag, then a u16 length */
#define FIELD_INTEGER_SIZE 8

/*
 * Field tags.  They are the wire format between processes of possibly
 * different builds during an upgrade: never renumber one, only add.
 */
enum record_tag {
    TAG_TYPE = 0x01,
    TAG_FLAGS = 0x02,
    TAG_RESOURCE = 0x03,
    TAG_API_VERSION = 0x04,
    TAG_KIND = 0x05,
    TAG_RESOURCE_VERSION = 0x06,
    TAG_MANAGER = 0x07,
    /* The fields of the old and new object: one of these plus a field. */
    TAG_OLD = 0x10,
    TAG_NEW = 0x20,
};

/* The fields of struct object_fields, added to TAG_OLD or TAG_NEW. */
enum object_field {
    FIELD_UID,
    FIELD_NAME,
    FIELD_NAMESPACE,
    FIELD_RESOURCE_VERSION,
    FIELD_GENERATION,
    FIELD_DELETION_TIMESTAMP,
    FIELD_FINALIZERS,
    FIELD_STATUS,
    FIELD_STATUS_SINCE,
};

/* Where a string field lives in struct change. */
struct string_field {
    unsigned char tag;
    size_t offset;
};

#define STRING_FIELD(tag, member)                                              \
    {                                                                          \
        (tag), offsetof(struct change, member)                                 \
    }

static const struct string_field string_fields[] = {
    STRING_FIELD(TAG_RESOURCE, resource),
    STRING_FIELD(TAG_API_VERSION, api_version),
    STRING_FIELD(TAG_KIND, kind),
    STRING_FIELD(TAG_RESOURCE_VERSION, resource_version),
    STRING_FIELD(TAG_MANAGER, manager),
    STRING_FIELD(TAG_OLD + FIELD_UID, old.uid),
    STRING_FIELD(TAG_OLD + FIELD_NAME, old.name),
    STRING_FIELD(TAG_OLD + FIELD_NAMESPACE, old.namespace),
    STRING_FIELD(TAG_OLD + FIELD_RESOURCE_VERSION, old.resource_version),
    STRING_FIELD(TAG_OLD + FIELD_DELETION_TIMESTAMP, old.deletion_timestamp),
    STRING_FIELD(TAG_OLD + FIELD_FINALIZERS, old.finalizers),
    STRING_FIELD(TAG_OLD + FIELD_STATUS, old.status),
    STRING_FIELD(TAG_OLD + FIELD_STATUS_SINCE, old.status_since),
    STRING_FIELD(TAG_NEW + FIELD_UID, new.uid),
    STRING_FIELD(TAG_NEW + FIELD_NAME, new.name),
    STRING_FIELD(TAG_NEW + FIELD_NAMESPACE, new.namespace),
    STRING_FIELD(TAG_NEW + FIELD_RESOURCE_VERSION, new.resource_version),
    STRING_FIELD(TAG_NEW + FIELD_DELETION_TIMESTAMP, new.deletion_timestamp),
    STRING_FIELD(TAG_NEW + FIELD_FINALIZERS, new.finalizers),
    STRING_FIELD(TAG_NEW + FIELD_STATUS, new.status),
    STRING_FIELD(TAG_NEW + FIELD_STATUS_SINCE, new.status_since),
};

#define STRING_FIELD_COUNT (sizeof(string_fields) / sizeof(string_fields[0]))

/* A frame being encoded; the first error sticks and stops all writing. */
struct frame_writer {
    unsigned char *buf;
    size_t len;
    int error;
};

struct record_reader {
    size_t have;        /* bytes of the current frame in frame[] */
    size_t payload_len; /* known once the header is in */
    int error;          /* sticky until reset */
    const char *reason;
    unsigned char frame[RECORD_FRAME_MAX];
    /*
     * The strings of the frame, each NUL-terminated.  Every field costs at
     * least three bytes of header, so the strings and their NULs always
     * fit in the payload's size.
     */
    char strings[RECORD_PAYLOAD_MAX];
};

/* Stores v as two bytes, least significant first. */
static void
put_le16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

/* Stores v as four bytes, least significant first. */
static void
put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Stores v as eight bytes, least significant first. */
static void
put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Reads two bytes, least significant first. */
static uint16_t
get_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Reads four bytes, least significant first. */
static uint32_t
get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Reads eight bytes, least significant first. */
static uint64_t
get_le64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The checksum of a payload, zlib's crc32. */
static uint32_t
payload_crc(const unsigned char *payload, size_t len)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), payload, (uInt)len);
}

/* The string field member of change that f describes. */
static const char **
string_at(struct change *change, const struct string_field *f)
{
    return (const char **)((char *)change + f->offset);
}

/* The value of the string field of change that f describes. */
static const char *
string_value(const struct change *change, const struct string_field *f)
{
    return *(const char *const *)((const char *)change + f->offset);
}

/* Appends one field; sets the writer's error if it does not fit. */
static void
put_field(struct frame_writer *w, unsigned char tag, const void *bytes,
          size_t n)
{
    if (w->error)
        return;
    if (n > UINT16_MAX || n + FIELD_HEADER_SIZE > RECORD_FRAME_MAX - w->len) {
        w->error = -E2BIG;
        return;
    }

    w->buf[w->len] = tag;
    put_le16(w->buf + w->len + 1, (uint16_t)n);
    memcpy(w->buf + w->len + FIELD_HEADER_SIZE, bytes, n);
    w->len += FIELD_HEADER_SIZE + n;
}

/* Appends an integer field; zero is what a missing field reads as. */
static void
put_integer(struct frame_writer *w, unsigned char tag, int64_t v)
{
    unsigned char bytes[FIELD_INTEGER_SIZE];

    if (v == 0)
        return;
    put_le64(bytes, (uint64_t)v);
    put_field(w, tag, bytes, sizeof(bytes));
}

/* Appends a string field; "" is what a missing field reads as. */
static void
put_string(struct frame_writer *w, unsigned char tag, const char *s)
{
    if (s && *s)
        put_field(w, tag, s, strlen(s));
}

/* Appends every field of change. */
static void
put_change(struct frame_writer *w, const struct change *change)
{
    put_integer(w, TAG_TYPE, change->type);
    put_integer(w, TAG_FLAGS, change->flags);
    put_integer(w, TAG_OLD + FIELD_GENERATION, change->old.generation);
    put_integer(w, TAG_NEW + FIELD_GENERATION, change->new.generation);

    for (size_t i = 0; i < STRING_FIELD_COUNT; i++) {
        const struct string_field *f = &string_fields[i];

        put_string(w, f->tag, string_value(change, f));
    }
}

/* Whether type is one the reader accepts. */
static bool
change_type_known(int64_t type)
{
    return type >= CHANGE_CREATED && type <= CHANGE_SYNCED;
}

/* Encodes change into a frame; see record.h. */
int
record_encode(const struct change *change, char **frame, size_t *len)
{
    struct frame_writer w = {.len = RECORD_HEADER_SIZE};
    size_t payload_len;
    unsigned char *shrunk;

    /* The reader would refuse it; better to fail where the bug is. */
    if (!change_type_known(change->type))
        return -EINVAL;

    w.buf = malloc(RECORD_FRAME_MAX);
    if (!w.buf)
        return -ENOMEM;
    put_change(&w, change);
    if (w.error) {
        free(w.buf);
        return w.error;
    }

    payload_len = w.len - RECORD_HEADER_SIZE;
    memcpy(w.buf, RECORD_MAGIC, RECORD_MAGIC_SIZE);
    put_le32(w.buf + 4, (uint32_t)payload_len);
    put_le32(w.buf + 8, payload_crc(w.buf + RECORD_HEADER_SIZE, payload_len));

    shrunk = realloc(w.buf, w.len);
    *frame = (char *)(shrunk ? shrunk : w.buf);
    *len = w.len;
    return 0;
}

/* Waits until fd, a non-blocking pipe that was full, takes data again. */
static int
wait_writable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};

    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* Writes all of buf, as often as the pipe takes only part of it. */
static int
write_fully(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_writable(fd);

            if (r < 0)
                return r;
            continue;
        }
        if (n < 0)
            return -errno;

        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Encodes change and writes the frame; see record.h. */
int
record_write(int fd, const struct change *change)
{
    char *frame;
    size_t len;
    int r;

    r = record_encode(change, &frame, &len);
    if (r < 0)
        return r;
    r = write_fully(fd, frame, len);
    free(frame);
    return r;
}

/* Creates a reader between frames. */
struct record_reader *
record_reader_new(void)
{
    return calloc(1, sizeof(struct record_reader));
}

/* Records a corrupt frame; the reader refuses input until reset. */
static int
reader_fail(struct record_reader *reader, const char *reason)
{
    reader->have = 0;
    reader->error = -EBADMSG;
    reader->reason = reason;
    return -EBADMSG;
}

/*
 * Checks a frame's header as soon as it is in, so that garbage is refused
 * at once instead of after up to 64 KiB more of it.
 */
static int
check_header(struct record_reader *reader)
{
    uint32_t payload_len = get_le32(reader->frame + 4);

    if (memcmp(reader->frame, RECORD_MAGIC, RECORD_MAGIC_SIZE) != 0)
        return reader_fail(reader, "bad magic");
    if (payload_len > RECORD_PAYLOAD_MAX)
        return reader_fail(reader, "payload length over the maximum");

    reader->payload_len = payload_len;
    return 0;
}

/* The string field with this tag, or NULL. */
static const struct string_field *
find_string_field(unsigned tag)
{
    for (size_t i = 0; i < STRING_FIELD_COUNT; i++) {
        if (string_fields[i].tag == tag)
            return &string_fields[i];
    }
    return NULL;
}

/* Copies a string field into the reader's strings and NUL-terminates it. */
static const char *
decode_string(struct record_reader *reader, size_t *used,
              const unsigned char *bytes, size_t n)
{
    char *s = reader->strings + *used;

    /* A NUL inside would silently cut the string short. */
    if (memchr(bytes, '\0', n))
        return NULL;

    memcpy(s, bytes, n);
    s[n] = '\0';
    *used += n + 1;
    return s;
}

/* Decodes an integer field into change. */
static int
decode_integer(struct record_reader *reader, struct change *change,
               unsigned tag, const unsigned char *bytes, size_t n)
{
    int64_t v;

    if (n != FIELD_INTEGER_SIZE)
        return reader_fail(reader, "integer field is not 8 bytes");
    v = (int64_t)get_le64(bytes);

    switch (tag) {
    case TAG_TYPE:
        if (!change_type_known(v))
            return reader_fail(reader, "unknown change type");
        change->type = (enum change_type)v;
        break;
    case TAG_FLAGS:
        if (v < 0 || v > UINT_MAX)
            return reader_fail(reader, "flags out of range");
        change->flags = (unsigned)v;
        break;
    case TAG_OLD + FIELD_GENERATION:
        change->old.generation = v;
        break;
    case TAG_NEW + FIELD_GENERATION:
        change->new.generation = v;
        break;
    }
    return 0;
}

/* Whether tag is one of the integer fields. */
static bool
is_integer_tag(unsigned tag)
{
    return tag == TAG_TYPE || tag == TAG_FLAGS ||
           tag == TAG_OLD + FIELD_GENERATION ||
           tag == TAG_NEW + FIELD_GENERATION;
}

/* Decodes one field into change; a tag this build does not know is skipped. */
static int
decode_field(struct record_reader *reader, struct change *change, size_t *used,
             unsigned tag, const unsigned char *bytes, size_t n)
{
    const struct string_field *f;

    if (is_integer_tag(tag))
        return decode_integer(reader, change, tag, bytes, n);

    f = find_string_field(tag);
    if (!f)
        return 0;
    *string_at(change, f) = decode_string(reader, used, bytes, n);
    if (!*string_at(change, f))
        return reader_fail(reader, "string holds a NUL byte");
    return 0;
}

/* Sets every field of change to what a missing field reads as. */
static void
change_clear(struct change *change)
{
    memset(change, 0, sizeof(*change));
    for (size_t i = 0; i < STRING_FIELD_COUNT; i++)
        *string_at(change, &string_fields[i]) = "";
}

/* Decodes the payload of the frame in the reader into change. */
static int
decode_payload(struct record_reader *reader, struct change *change)
{
    const unsigned char *p = reader->frame + RECORD_HEADER_SIZE;
    size_t len = reader->payload_len, pos = 0, used = 0;
    bool seen[256] = {false};

    change_clear(change);
    while (pos < len) {
        unsigned tag;
        size_t n;
        int r;

        if (len - pos < FIELD_HEADER_SIZE)
            return reader_fail(reader, "field header overruns the payload");
        tag = p[pos];
        n = get_le16(p + pos + 1);
        pos += FIELD_HEADER_SIZE;
        if (n > len - pos)
            return reader_fail(reader, "field overruns the payload");

        /* Two values for one field: which one the writer meant is unclear. */
        if (seen[tag] && (is_integer_tag(tag) || find_string_field(tag)))
            return reader_fail(reader, "field repeated");
        seen[tag] = true;

        r = decode_field(reader, change, &used, tag, p + pos, n);
        if (r < 0)
            return r;
        pos += n;
    }

    if (!seen[TAG_TYPE])
        return reader_fail(reader, "change type missing");
    return 0;
}

/* Checks and decodes the complete frame in the reader, then calls cb. */
static int
deliver_frame(struct record_reader *reader,
              int (*cb)(const struct change *change, void *ctx), void *ctx)
{
    const unsigned char *payload = reader->frame + RECORD_HEADER_SIZE;
    struct change change;
    int r;

    if (payload_crc(payload, reader->payload_len) !=
        get_le32(reader->frame + 8))
        return reader_fail(reader, "checksum mismatch");
    r = decode_payload(reader, &change);
    if (r < 0)
        return r;

    /* The strings stay in the reader while cb runs; the frame is done. */
    reader->have = 0;
    return cb(&change, ctx);
}

/* Copies into the frame buffer as much of buf as the current frame needs. */
static size_t
take_bytes(struct record_reader *reader, const char *buf, size_t len)
{
    size_t needed = RECORD_HEADER_SIZE, n;

    if (reader->have >= RECORD_HEADER_SIZE)
        needed += reader->payload_len;
    n = needed - reader->have;
    if (n > len)
        n = len;

    memcpy(reader->frame + reader->have, buf, n);
    reader->have += n;
    return n;
}

/* Assembles frames from buf and delivers each complete one; see record.h. */
int
record_reader_feed(struct record_reader *reader, const char *buf, size_t len,
                   int (*cb)(const struct change *change, void *ctx), void *ctx)
{
    size_t pos = 0;
    int r;

    if (reader->error)
        return reader->error;

    while (pos < len) {
        bool header_was_in = reader->have >= RECORD_HEADER_SIZE;

        pos += take_bytes(reader, buf + pos, len - pos);
        if (reader->have < RECORD_HEADER_SIZE)
            continue;
        if (!header_was_in) {
            r = check_header(reader);
            if (r < 0)
                return r;
        }
        if (reader->have < RECORD_HEADER_SIZE + reader->payload_len)
            continue;

        r = deliver_frame(reader, cb, ctx);
        if (r)
            return r;
    }
    return 0;
}

/* Reports whether input ended between frames, and discards any partial. */
int
record_reader_finish(struct record_reader *reader)
{
    if (reader->error)
        return reader->error;
    if (reader->have == 0)
        return 0;

    reader->have = 0;
    reader->reason = "input ended inside a record";
    return -EPIPE;
}

/* Drops any partial frame and error. */
void
record_reader_reset(struct record_reader *reader)
{
    reader->have = 0;
    reader->payload_len = 0;
    reader->error = 0;
    reader->reason = NULL;
}

/* The reason of the last failure, a fixed text. */
const char *
record_reader_error(const struct record_reader *reader)
{
    return reader->reason;
}

/* Frees the reader; NULL is allowed. */
void
record_reader_free(struct record_reader *reader)
{
    free(reader);
}
