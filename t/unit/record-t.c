/*
 * Change records: every field survives the trip through a frame, however
 * the pipe splits it, and a frame that is cut off, damaged or hostile is
 * refused without ever reaching the callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "record.h"
#include "tap.h"

#define MAX_RECORDS 2000

/* The changes a reader delivered, with their strings copied. */
struct received {
    int count;
    struct change changes[MAX_RECORDS];
    int stop_after; /* the callback returns 5 after this many, if set */
};

/* What the reader delivered in the current test: static for its size. */
static struct received delivered;

/* A string member of struct change, for comparing and copying them all. */
struct string_member {
    const char *name;
    size_t offset;
};

static const struct string_member string_members[] = {
    {"resource", offsetof(struct change, resource)},
    {"api_version", offsetof(struct change, api_version)},
    {"kind", offsetof(struct change, kind)},
    {"resource_version", offsetof(struct change, resource_version)},
    {"manager", offsetof(struct change, manager)},
    {"old.uid", offsetof(struct change, old.uid)},
    {"old.name", offsetof(struct change, old.name)},
    {"old.namespace", offsetof(struct change, old.namespace)},
    {"old.resource_version", offsetof(struct change, old.resource_version)},
    {"old.deletion_timestamp", offsetof(struct change, old.deletion_timestamp)},
    {"old.finalizers", offsetof(struct change, old.finalizers)},
    {"old.status", offsetof(struct change, old.status)},
    {"old.status_since", offsetof(struct change, old.status_since)},
    {"new.uid", offsetof(struct change, new.uid)},
    {"new.name", offsetof(struct change, new.name)},
    {"new.namespace", offsetof(struct change, new.namespace)},
    {"new.resource_version", offsetof(struct change, new.resource_version)},
    {"new.deletion_timestamp", offsetof(struct change, new.deletion_timestamp)},
    {"new.finalizers", offsetof(struct change, new.finalizers)},
    {"new.status", offsetof(struct change, new.status)},
    {"new.status_since", offsetof(struct change, new.status_since)},
};

#define STRING_MEMBER_COUNT (sizeof(string_members) / sizeof(string_members[0]))

/* The string member m of change. */
static const char **
member(struct change *change, const struct string_member *m)
{
    return (const char **)((char *)change + m->offset);
}

/* Keeps a copy of each change, since its strings live only during cb. */
static int
receive(const struct change *change, void *ctx)
{
    struct received *got = ctx;
    struct change *copy;

    if (got->count == MAX_RECORDS)
        return -ENOSPC;
    copy = &got->changes[got->count++];
    *copy = *change;
    /* A NULL is kept, for the comparison to report. */
    for (size_t i = 0; i < STRING_MEMBER_COUNT; i++) {
        const char **s = member(copy, &string_members[i]);

        *s = *s ? strdup(*s) : NULL;
    }
    if (got->stop_after && got->count == got->stop_after)
        return 5;
    return 0;
}

/* Frees the copies receive made. */
static void
received_clear(struct received *got)
{
    for (int i = 0; i < got->count; i++) {
        for (size_t j = 0; j < STRING_MEMBER_COUNT; j++)
            free((char *)*member(&got->changes[i], &string_members[j]));
    }
    got->count = 0;
    got->stop_after = 0;
}

/* A string member as the reader must give it back: NULL reads as "". */
static const char *
expected_string(struct change *want, const struct string_member *m)
{
    const char *s = *member(want, m);

    return s ? s : "";
}

/* Describes into diag the first integer field where got and want differ. */
static int
integer_difference(const struct change *got, const struct change *want,
                   char *diag, size_t size)
{
    const struct {
        const char *name;
        long long got, want;
    } fields[] = {
        {"type", got->type, want->type},
        {"flags", got->flags, want->flags},
        {"old.generation", got->old.generation, want->old.generation},
        {"new.generation", got->new.generation, want->new.generation},
    };

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].got != fields[i].want) {
            snprintf(diag, size, "%s: expected %lld, got %lld", fields[i].name,
                     fields[i].want, fields[i].got);
            return 1;
        }
    }
    return 0;
}

/* Describes into diag the first field where got and want differ, if any. */
static int
change_difference(struct change *got, struct change *want, char *diag,
                  size_t size)
{
    for (size_t i = 0; i < STRING_MEMBER_COUNT; i++) {
        const struct string_member *m = &string_members[i];
        const char *g = *member(got, m), *w = expected_string(want, m);

        if (!g || strcmp(g, w) != 0) {
            snprintf(diag, size, "%s: expected \"%s\", got \"%s\"", m->name, w,
                     g ? g : "(null)");
            return 1;
        }
    }
    return integer_difference(got, want, diag, size);
}

/* Checks every field of got against want, naming the first that differs. */
static void
is_change(struct change *got, struct change *want, const char *desc)
{
    char diag[512];

    if (!ok(!change_difference(got, want, diag, sizeof(diag)), desc))
        printf("#   %s\n", diag);
}

/* An update with every field set, some in non-ASCII text. */
static struct change
full_change(void)
{
    struct change c = {
        .type = CHANGE_UPDATED,
        .flags = CHANGE_AT_RELIST | CHANGE_FINAL_STATE_UNKNOWN,
        .resource = "notebooks.v1beta1.tensorstack.dev",
        .api_version = "tensorstack.dev/v1beta1",
        .kind = "Notebook",
        .resource_version = "48213",
        .manager = "kubectl-client-side-apply",
        .old = {"0b7c6a1e-2f0d-4c52-9d3e-6a1f2b3c4d5e", "nb-\xc3\xa9t\xc3\xa9",
                "team-\xe6\x97\xa5\xe6\x9c\xac", "48100", -1,
                "2024-05-01T11:00:00Z", "a.dev/x,b.dev/y",
                "phase=Running;Ready=True \xf0\x9f\x9a\x80"},
        .new = {"0b7c6a1e-2f0d-4c52-9d3e-6a1f2b3c4d5e", "nb-\xc3\xa9t\xc3\xa9",
                "team-\xe6\x97\xa5\xe6\x9c\xac", "48213", INT64_MAX,
                "2024-05-01T11:00:01Z", "b.dev/y",
                "phase=Terminating;Ready=False \xe2\x9c\x93"},
    };
    return c;
}

/* Encodes change, failing the test run if it cannot. */
static char *
encode(const struct change *change, size_t *len)
{
    char *frame = NULL;
    int r = record_encode(change, &frame, len);

    if (r < 0) {
        printf("Bail out! record_encode failed: %s\n", strerror(-r));
        exit(1);
    }
    return frame;
}

/* Feeds buf whole to a new reader and finishes; returns the first error. */
static int
read_whole(const char *buf, size_t len, struct received *got)
{
    struct record_reader *reader = record_reader_new();
    int r;

    r = record_reader_feed(reader, buf, len, receive, got);
    if (r == 0)
        r = record_reader_finish(reader);
    record_reader_free(reader);
    return r;
}

/* Wraps a hand-made payload into a frame with a correct checksum. */
static size_t
make_frame(char *frame, const unsigned char *payload, size_t len)
{
    uint32_t crc = (uint32_t)crc32(0L, payload, (uInt)len);

    memcpy(frame, "ECR1", 4);
    for (int i = 0; i < 4; i++) {
        frame[4 + i] = (char)(len >> (8 * i));
        frame[8 + i] = (char)(crc >> (8 * i));
    }
    memcpy(frame + RECORD_HEADER_SIZE, payload, len);
    return RECORD_HEADER_SIZE + len;
}

/* Reads a hand-made payload; returns the reader's result. */
static int
read_payload(const unsigned char *payload, size_t len, struct received *got)
{
    char frame[256];

    return read_whole(frame, make_frame(frame, payload, len), got);
}

/* Checks that a hand-made payload is refused as corrupt. */
static void
is_corrupt_payload(const unsigned char *payload, size_t len, const char *desc)
{
    char what[160];

    is_int(read_payload(payload, len, &delivered), -EBADMSG, desc);
    snprintf(what, sizeof(what), "%s: no callback", desc);
    is_int(delivered.count, 0, what);
    received_clear(&delivered);
}

/* Every field of a change, unicode included, reads back as written. */
static void
test_round_trip_every_field(void)
{
    struct change want = full_change();
    size_t len;
    char *frame = encode(&want, &len);

    is_int(read_whole(frame, len, &delivered), 0, "a frame reads back");
    is_int(delivered.count, 1, "a frame is one change");
    if (delivered.count == 1)
        is_change(&delivered.changes[0], &want,
                  "every field, unicode included, survives a frame");
    received_clear(&delivered);
    free(frame);
}

/* Empty and NULL strings read back as "", zero integers as 0. */
static void
test_round_trip_empty_fields(void)
{
    struct change want = {
        .type = CHANGE_CREATED,
        .resource = "notebooks.v1beta1.tensorstack.dev",
        .old = {"", "", "", "", 0, "", "", ""},
        .new = {.uid = "u-1", .name = "nb-1", .namespace = "", .generation = 1},
    };
    size_t len;
    char *frame = encode(&want, &len);

    is_int(read_whole(frame, len, &delivered), 0, "a create reads back");
    is_int(delivered.count, 1, "a create is one change");
    if (delivered.count == 1)
        is_change(&delivered.changes[0], &want,
                  "empty and NULL strings read back as \"\"");
    received_clear(&delivered);
    free(frame);
}

/* Two different changes in one buffer, as a pipe would carry them. */
static char *
two_frames(size_t *len, struct change *first, struct change *second)
{
    size_t len1, len2;
    char *frame1, *frame2, *both;

    *first = full_change();
    *second =
        (struct change){.type = CHANGE_PROGRESS, .resource_version = "48300"};
    frame1 = encode(first, &len1);
    frame2 = encode(second, &len2);
    both = malloc(len1 + len2);
    memcpy(both, frame1, len1);
    memcpy(both + len1, frame2, len2);
    *len = len1 + len2;
    free(frame1);
    free(frame2);
    return both;
}

/* Whether r holds exactly first and second, quietly. */
static int
holds_both(struct received *r, struct change *first, struct change *second)
{
    char diag[512];

    return r->count == 2 &&
           !change_difference(&r->changes[0], first, diag, sizeof(diag)) &&
           !change_difference(&r->changes[1], second, diag, sizeof(diag));
}

/* Frames read the same however a pipe splits them. */
static void
test_split_at_every_byte(void)
{
    struct record_reader *reader = record_reader_new();
    struct change first, second;
    size_t len, bad = 0, first_bad = 0;
    char *both = two_frames(&len, &first, &second);

    for (size_t split = 0; split <= len; split++) {
        int r;

        record_reader_reset(reader);
        r = record_reader_feed(reader, both, split, receive, &delivered);
        if (r == 0)
            r = record_reader_feed(reader, both + split, len - split, receive,
                                   &delivered);
        if (r == 0)
            r = record_reader_finish(reader);
        if ((r != 0 || !holds_both(&delivered, &first, &second)) && bad++ == 0)
            first_bad = split;
        received_clear(&delivered);
    }
    if (!ok(bad == 0, "two frames cut in two anywhere read back"))
        printf("#   expected 0 bad cuts of %zu, got %zu; first at byte %zu\n",
               len + 1, bad, first_bad);

    record_reader_reset(reader);
    for (size_t pos = 0; pos < len; pos++)
        record_reader_feed(reader, both + pos, 1, receive, &delivered);
    is_int(record_reader_finish(reader), 0,
           "two frames fed a byte at a time end cleanly");
    ok(holds_both(&delivered, &first, &second),
       "two frames fed a byte at a time read back");

    received_clear(&delivered);
    record_reader_free(reader);
    free(both);
}

/* A frame cut anywhere is reported at the end, never delivered. */
static void
test_truncated_frame(void)
{
    struct change want = full_change();
    size_t len, bad = 0;
    char *frame = encode(&want, &len);
    struct record_reader *reader = record_reader_new();

    for (size_t cut = 1; cut < len; cut++) {
        int r = read_whole(frame, cut, &delivered);

        if ((r != -EPIPE || delivered.count != 0) && bad++ == 0)
            printf("#   cut at %zu: expected -EPIPE and no change, got %d "
                   "and %d\n",
                   cut, r, delivered.count);
        received_clear(&delivered);
    }
    is_int(bad, 0, "a frame cut anywhere ends in -EPIPE, no callback");

    record_reader_feed(reader, frame, len - 1, receive, &delivered);
    record_reader_finish(reader);
    is_int(record_reader_feed(reader, frame, len, receive, &delivered), 0,
           "after a cut frame, the next frame reads");
    is_int(delivered.count, 1,
           "the cut frame was discarded, the next delivered");

    received_clear(&delivered);
    record_reader_free(reader);
    free(frame);
}

/* A frame with any byte damaged is refused, never delivered. */
static void
test_flipped_byte(void)
{
    struct change want = full_change();
    size_t len, callbacks = 0, unrefused = 0;
    char *frame = encode(&want, &len);
    const unsigned char masks[] = {0x01, 0x80, 0xff};

    for (size_t pos = 0; pos < len; pos++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            int r;

            frame[pos] ^= (char)masks[m];
            r = read_whole(frame, len, &delivered);
            frame[pos] ^= (char)masks[m];

            /* A longer length leaves the reader waiting for more. */
            if (r != -EBADMSG && !(pos >= 4 && pos < 8 && r == -EPIPE))
                unrefused++;
            callbacks += (size_t)delivered.count;
            received_clear(&delivered);
        }
    }
    is_int(callbacks, 0, "a frame with any byte flipped reaches no callback");
    is_int(unrefused, 0, "a frame with any byte flipped is refused");

    frame[RECORD_HEADER_SIZE + 5] ^= 0x20;
    is_int(read_whole(frame, len, &delivered), -EBADMSG,
           "a flipped payload byte is -EBADMSG");
    frame[0] = 'X';
    is_int(read_whole(frame, len, &delivered), -EBADMSG,
           "bad magic is -EBADMSG");
    free(frame);
}

/* A length over the maximum is refused as soon as the header is in. */
static void
test_oversized_length(void)
{
    struct record_reader *reader = record_reader_new();
    /* Magic, then 65537 little-endian: one byte over the maximum. */
    const char header[RECORD_HEADER_SIZE] = "ECR1\x01\x00\x01\x00\0\0\0\0";
    const char largest[RECORD_HEADER_SIZE] = "ECR1\x00\x00\x01\x00\0\0\0\0";

    is_int(
        record_reader_feed(reader, header, sizeof(header), receive, &delivered),
        -EBADMSG, "a length over 64 KiB is refused with the header");

    record_reader_reset(reader);
    is_int(record_reader_feed(reader, largest, sizeof(largest), receive,
                              &delivered),
           0, "a length of exactly 64 KiB is taken");
    is_int(record_reader_finish(reader), -EPIPE,
           "a 64 KiB frame without its payload is cut off");
    record_reader_free(reader);
}

/* The encoder refuses what the reader would. */
static void
test_encode_limits(void)
{
    struct change c = {.type = CHANGE_UPDATED};
    char *big = malloc(70001), *frame = NULL;
    size_t len;

    memset(big, 's', 70000);
    big[70000] = '\0';
    c.new.status = big;
    is_int(record_encode(&c, &frame, &len), -E2BIG,
           "a string over 64 KiB is -E2BIG");

    big[40000] = '\0';
    c.old.status = big;
    is_int(record_encode(&c, &frame, &len), -E2BIG,
           "a payload over 64 KiB is -E2BIG");

    c.old.status = "";
    is_int(record_encode(&c, &frame, &len), 0, "a 40000-byte status fits");
    free(frame);

    c.type = 0;
    is_int(record_encode(&c, &frame, &len), -EINVAL,
           "a change without a type is -EINVAL");
    free(big);
}

/* Fields of a newer writer are skipped, the rest read. */
static void
test_unknown_tag_skipped(void)
{
    /* type = CREATED; tag 0x7f "future"; new.name (0x21) = "nb-1" */
    const unsigned char payload[] = {
        0x01, 8,   0,   1,   0,   0,    0, 0, 0,   0,   0,   0x7f, 6,    0, 'f',
        'u',  't', 'u', 'r', 'e', 0x21, 4, 0, 'n', 'b', '-', '1',  0x7e, 0, 0,
    };

    is_int(read_payload(payload, sizeof(payload), &delivered), 0,
           "a frame with unknown tags reads");
    if (delivered.count == 1) {
        is_int(delivered.changes[0].type, CHANGE_CREATED,
               "fields before an unknown tag read");
        is_str(delivered.changes[0].new.name, "nb-1",
               "fields after an unknown tag read");
        is_str(delivered.changes[0].kind, "", "a missing string reads as \"\"");
    } else {
        is_int(delivered.count, 1, "a frame with unknown tags is one change");
    }
    received_clear(&delivered);
}

/* Every way a payload can be malformed is refused. */
static void
test_malformed_fields(void)
{
    const unsigned char type[] = {0x01, 8, 0, 2, 0, 0, 0, 0, 0, 0, 0};
    unsigned char p[64];

    memcpy(p, type, sizeof(type));
    memcpy(p + 11, "\x21\x04\x00nb\0x", 7);
    is_corrupt_payload(p, 18, "a string holding a NUL is refused");

    memcpy(p + 11, "\x21\x09\x00nb-1", 7);
    is_corrupt_payload(p, 18, "a field longer than the payload is refused");

    memcpy(p + 11, "\x21\x04", 2);
    is_corrupt_payload(p, 13, "a cut field header is refused");

    memcpy(p + 11, "\x02\x04\x00\x01\x00\x00\x00", 7);
    is_corrupt_payload(p, 18, "an integer of 4 bytes is refused");

    memcpy(p + 11, "\x21\x01\x00x\x21\x01\x00y", 8);
    is_corrupt_payload(p, 19, "a field given twice is refused");

    memcpy(p + 11, "\x02\x08\x00\x00\x00\x00\x00\x01\x00\x00\x00", 11);
    is_corrupt_payload(p, 22, "flags over 32 bits are refused");

    memcpy(p, "\x21\x04\x00nb-1", 7);
    is_corrupt_payload(p, 7, "a change without a type is refused");
    is_corrupt_payload(p, 0, "an empty payload is refused");

    memcpy(p, type, sizeof(type));
    p[3] = 9;
    is_corrupt_payload(p, 11, "an unknown change type is refused");
}

/* After a corrupt frame nothing is read until reset. */
static void
test_error_is_sticky(void)
{
    struct record_reader *reader = record_reader_new();
    struct change want = full_change();
    size_t len;
    char *frame = encode(&want, &len);

    record_reader_feed(reader, "ECR2", 4, receive, &delivered);
    record_reader_feed(reader, "\0\0\0\0\0\0\0\0", 8, receive, &delivered);
    is_int(record_reader_feed(reader, frame, len, receive, &delivered),
           -EBADMSG, "after a corrupt frame, the reader refuses input");
    is_int(delivered.count, 0, "after a corrupt frame, no change comes out");
    is_int(record_reader_finish(reader), -EBADMSG,
           "after a corrupt frame, finish reports it");
    ok(record_reader_error(reader) != NULL, "a corrupt frame has a reason");

    record_reader_reset(reader);
    is_int(record_reader_feed(reader, frame, len, receive, &delivered), 0,
           "after reset, the reader takes input");
    is_int(delivered.count, 1, "after reset, changes come out");

    received_clear(&delivered);
    record_reader_free(reader);
    free(frame);
}

/* Change number i of a long sequence, each one different. */
static struct change
numbered_change(int i, char *buf, size_t size)
{
    struct change c = full_change();

    snprintf(buf, size, "%d", 100000 + i);
    c.type = (enum change_type)(1 + i % 5);
    c.resource_version = buf;
    c.new.generation = i;
    c.manager = i % 3 ? "" : "kube-controller-manager";
    return c;
}

/* A long run of frames in odd-sized reads comes out whole and in order. */
static void
test_many_records_back_to_back(void)
{
    struct record_reader *reader = record_reader_new();
    size_t len = 0, size = 1024 * 1024, bad = 0;
    char *stream = malloc(size), rv[32];

    for (int i = 0; i < MAX_RECORDS; i++) {
        struct change c = numbered_change(i, rv, sizeof(rv));
        size_t n;
        char *frame = encode(&c, &n);

        if (len + n > size) {
            size *= 2;
            stream = realloc(stream, size);
        }
        memcpy(stream + len, frame, n);
        len += n;
        free(frame);
    }

    /* A prime chunk size, so that frames start anywhere in a chunk. */
    for (size_t pos = 0; pos < len; pos += 4093) {
        size_t n = len - pos < 4093 ? len - pos : 4093;

        record_reader_feed(reader, stream + pos, n, receive, &delivered);
    }
    is_int(record_reader_finish(reader), 0, "2000 frames end cleanly");
    is_int(delivered.count, MAX_RECORDS, "2000 frames back to back all read");
    for (int i = 0; i < delivered.count; i++) {
        struct change want = numbered_change(i, rv, sizeof(rv));

        if (strcmp(delivered.changes[i].resource_version, rv) != 0 ||
            delivered.changes[i].type != want.type ||
            strcmp(delivered.changes[i].manager, want.manager) != 0)
            bad++;
    }
    is_int(bad, 0, "2000 frames read back in order, each intact");

    received_clear(&delivered);
    record_reader_free(reader);
    free(stream);
}

/* A callback can stop the reader. */
static void
test_callback_stops_feeding(void)
{
    struct change first, second;
    size_t len;
    char *both = two_frames(&len, &first, &second);

    delivered.stop_after = 1;
    is_int(read_whole(both, len, &delivered), 5,
           "a callback's nonzero return is feed's result");
    is_int(delivered.count, 1, "no change follows a callback's nonzero return");
    received_clear(&delivered);
    free(both);
}

/* In a child: writes count changes of about 20 KiB each, non-blocking. */
static void
write_changes(int fd, int count)
{
    static char status[20000];
    struct change c = full_change();

    memset(status, 'r', sizeof(status) - 1);
    c.new.status = status;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < count; i++) {
        if (record_write(fd, &c) < 0)
            _exit(1);
    }
    _exit(0);
}

/* record_write gets large frames through a full non-blocking pipe. */
static void
test_write_through_pipe(void)
{
    struct record_reader *reader;
    int fds[2], status, r = 0;
    char buf[4096];
    ssize_t n;
    pid_t pid;

    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        printf("Bail out! pipe or fork failed\n");
        exit(1);
    }
    if (pid == 0) {
        close(fds[0]);
        write_changes(fds[1], 50);
    }
    close(fds[1]);
    reader = record_reader_new();

    /* 1 MB through a 64 KiB pipe: the writer must wait and retry. */
    while (r == 0 && (n = read(fds[0], buf, sizeof(buf))) > 0)
        r = record_reader_feed(reader, buf, (size_t)n, receive, &delivered);
    close(fds[0]);
    waitpid(pid, &status, 0);

    is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
           "record_write writes 50 large frames to a non-blocking pipe");
    is_int(record_reader_finish(reader), 0, "the pipe ends between frames");
    is_int(delivered.count, 50, "every frame written is read");
    if (delivered.count > 0)
        is_int(strlen(delivered.changes[49 % delivered.count].new.status),
               19999, "a large field crosses the pipe whole");
    received_clear(&delivered);
    record_reader_free(reader);
}

/* record_write reports a reader that is gone. */
static void
test_write_to_closed_pipe(void)
{
    struct change c = full_change();
    int fds[2];

    signal(SIGPIPE, SIG_IGN);
    if (pipe(fds) < 0) {
        printf("Bail out! pipe failed\n");
        exit(1);
    }
    close(fds[0]);
    is_int(record_write(fds[1], &c), -EPIPE,
           "writing to a pipe nobody reads is -EPIPE");
    close(fds[1]);
}

int
main(void)
{
    test_round_trip_every_field();
    test_round_trip_empty_fields();
    test_split_at_every_byte();
    test_truncated_frame();
    test_flipped_byte();
    test_oversized_length();
    test_encode_limits();
    test_unknown_tag_skipped();
    test_malformed_fields();
    test_error_is_sticky();
    test_many_records_back_to_back();
    test_callback_stops_feeding();
    test_write_through_pipe();
    test_write_to_closed_pipe();
    return tap_done();
}
