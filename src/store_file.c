/*
 * The store's snapshot file.  Its layout, all integers little-endian:
 *
 *   "ECST" | version u32 | object count u64 | id u64
 *     | resourceVersion (u16 string)
 *   then per object: uid, name, namespace, resourceVersion (u16 strings),
 *     generation i64, deletionTimestamp, finalizers, status, status_since
 *     (u16 strings)
 *   then, from version 4, the caller's entries: a count u32 and entries
 *     as in a journal frame (below), 'X' only
 *   then the crc32 of every byte before it, u32
 *
 * where a u16 string is its length, then its bytes.  The checksum and the
 * exact count make a truncated or damaged file fail as a whole: a watcher
 * that resumed from half a snapshot would report the other half as
 * created.  The reader checks every length against what is left before
 * using it, so a hostile file is refused, never followed.
 *
 * Version 1 had no status_since: its objects load with "" there, as if
 * each status had held since the version saved.  Versions 1 and 2 had no
 * id, and load with id 0, which no journal names.  Versions before 4 had
 * no entries of the caller's.
 *
 * Beside it, PATH.journal holds what changed since, so that saving costs
 * what changed rather than what is held:
 *
 *   "ECJN" | version u32 | the id of its snapshot u64
 *   then frames: "ECJF" | payload length u32 | payload | crc32 of payload
 *   payload: resourceVersion (u16 string) | entry count u32 | entries
 *   entry: 'P' and an object as above, put | 'R' and a uid, removed
 *        | 'X' and a u16 string, the caller's own
 *
 * A journal naming another snapshot is stale: a crash came between a new
 * snapshot and its journal, and the snapshot holds it all.  A frame cut
 * short or failing its checksum ends the journal: a crash while it was
 * appended, and the frames before it hold.  A frame that passes its
 * checksum and does not parse is damage, and refuses the whole load.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "store.h"

#define SNAPSHOT_MAGIC   "ECST"
#define SNAPSHOT_VERSION 4
#define HEADER_SIZE      16 /* magic, version, count; then the id */
#define TRAILER_SIZE     4
#define JOURNAL_MAGIC    "ECJN"
#define JOURNAL_VERSION  1
#define JOURNAL_HEADER   16 /* magic, version, id */
#define FRAME_MAGIC      "ECJF"
#define FRAME_HEADER     8 /* magic, payload length */
/* Far above a million objects of the largest sizes a store accepts. */
#define SNAPSHOT_FILE_MAX (1024LL * 1024 * 1024)

/* A snapshot being written to file, or a delta to memory; the first
 * failure sticks. */
struct writer {
    FILE *file;
    struct store_delta *delta;
    uLong crc;
    int error;
};

/* A snapshot being read from memory. */
struct reader {
    const unsigned char *p;
    size_t left;
    const char *reason; /* why it was refused */
    uint64_t version;
};

/* Writes bytes and adds them to the checksum. */
static void
put_bytes(struct writer *w, const void *bytes, size_t n)
{
    struct store_delta *d = w->delta;

    if (w->error || n == 0)
        return;
    if (!d) {
        w->crc = crc32_z(w->crc, bytes, n);
        if (fwrite(bytes, 1, n, w->file) != n)
            w->error = errno ? -errno : -EIO;
        return;
    }
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap : 4096;
        unsigned char *p;

        while (cap < d->len + n)
            cap *= 2;
        p = realloc(d->p, cap);
        if (!p) {
            w->error = -ENOMEM;
            return;
        }
        d->p = p;
        d->cap = cap;
    }
    memcpy(d->p + d->len, bytes, n);
    d->len += n;
}

/* Writes v as n bytes, least significant first. */
static void
put_uint(struct writer *w, uint64_t v, size_t n)
{
    unsigned char b[8];

    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put_bytes(w, b, n);
}

/* Writes a string: its u16 length, then its bytes. */
static void
put_string(struct writer *w, const char *s)
{
    size_t len = strlen(s);

    /* store_put keeps every string within a u16 length. */
    put_uint(w, len, 2);
    put_bytes(w, s, len);
}

/* Writes one object: a store_foreach callback. */
static int
put_object(const struct object_fields *f, void *ctx)
{
    struct writer *w = ctx;

    put_string(w, f->uid);
    put_string(w, f->name);
    put_string(w, f->namespace);
    put_string(w, f->resource_version);
    put_uint(w, (uint64_t)f->generation, 8);
    put_string(w, f->deletion_timestamp);
    put_string(w, f->finalizers);
    put_string(w, f->status);
    put_string(w, f->status_since);
    return w->error;
}

/* Writes the whole snapshot to an open file; returns its error. */
static int
write_snapshot(FILE *file, const struct store *store,
               const char *resource_version, uint64_t id,
               const struct store_delta *tail)
{
    struct writer w = {.file = file, .crc = crc32(0L, Z_NULL, 0)};

    if (strlen(resource_version) > UINT16_MAX)
        return -E2BIG;
    put_bytes(&w, SNAPSHOT_MAGIC, 4);
    put_uint(&w, SNAPSHOT_VERSION, 4);
    put_uint(&w, store_count(store), 8);
    put_uint(&w, id, 8);
    put_string(&w, resource_version);
    store_foreach(store, put_object, &w);
    put_uint(&w, tail ? tail->entries : 0, 4);
    if (tail)
        put_bytes(&w, tail->p, tail->len);
    put_uint(&w, w.crc, TRAILER_SIZE);
    if (w.error == 0 && fflush(file) != 0)
        w.error = -errno;
    if (w.error == 0 && fsync(fileno(file)) < 0)
        w.error = -errno;
    return w.error;
}

/* fsyncs the directory holding path, so that a rename survives a crash. */
static int
sync_directory(const char *path)
{
    char *copy = strdup(path);
    int fd, r = 0;

    if (!copy)
        return -ENOMEM;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    return r;
}

/* Saves a snapshot atomically; see store.h. */
int
store_save(const struct store *store, const char *path,
           const char *resource_version, uint64_t id,
           const struct store_delta *tail)
{
    char *tmp;
    FILE *file;
    int fd, r;

    if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
        return -ENOMEM;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        free(tmp);
        return r;
    }
    file = fdopen(fd, "w");
    if (!file) {
        r = -errno;
        close(fd);
        goto out_unlink;
    }

    r = write_snapshot(file, store, resource_version, id, tail);
    if (fclose(file) != 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r == 0) {
        free(tmp);
        return sync_directory(path);
    }
out_unlink:
    unlink(tmp);
    free(tmp);
    return r;
}

/* Reads n bytes as an unsigned integer; false if fewer are left. */
static bool
get_uint(struct reader *rd, size_t n, uint64_t *v)
{
    if (rd->left < n) {
        rd->reason = "file ends inside a field";
        return false;
    }
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v |= (uint64_t)rd->p[i] << (8 * i);
    rd->p += n;
    rd->left -= n;
    return true;
}

/* Reads a string into buf (at least 65536 bytes), NUL-terminated. */
static bool
get_string(struct reader *rd, char *buf)
{
    uint64_t len;

    if (!get_uint(rd, 2, &len))
        return false;
    if (rd->left < len) {
        rd->reason = "a string runs past the end of the file";
        return false;
    }
    if (memchr(rd->p, '\0', len)) {
        rd->reason = "a string holds a NUL byte";
        return false;
    }
    memcpy(buf, rd->p, len);
    buf[len] = '\0';
    rd->p += len;
    rd->left -= len;
    return true;
}

/* The strings of one object while it is read. */
struct object_buffers {
    char uid[65536], name[65536], namespace[65536], rv[65536];
    char deletion_timestamp[65536], finalizers[65536], status[65536];
    char status_since[65536];
};

/* Reads one object and puts it into store. */
static int
read_object(struct reader *rd, struct object_buffers *b, struct store *store)
{
    struct object_fields f = {
        .uid = b->uid,
        .name = b->name,
        .namespace = b->namespace,
        .resource_version = b->rv,
        .deletion_timestamp = b->deletion_timestamp,
        .finalizers = b->finalizers,
        .status = b->status,
        .status_since = b->status_since,
    };
    uint64_t generation;
    int r;

    if (!get_string(rd, b->uid) || !get_string(rd, b->name) ||
        !get_string(rd, b->namespace) || !get_string(rd, b->rv) ||
        !get_uint(rd, 8, &generation) ||
        !get_string(rd, b->deletion_timestamp) ||
        !get_string(rd, b->finalizers) || !get_string(rd, b->status))
        return -EBADMSG;
    b->status_since[0] = '\0';
    if (rd->version >= 2 && !get_string(rd, b->status_since))
        return -EBADMSG;
    f.generation = (int64_t)generation;

    r = store_put(store, &f);
    if (r == -EINVAL || r == -E2BIG)
        rd->reason = "an object has an empty uid or an overlong field";
    return r == -EINVAL || r == -E2BIG ? -EBADMSG : r;
}

/* The u32 at p, least significant byte first. */
static uint32_t
le32_at(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Checks the frame of the snapshot: magic, version, size and checksum. */
static int
check_frame(struct reader *rd, uint64_t *count, uint64_t *id)
{
    size_t body;

    if (rd->left < HEADER_SIZE + TRAILER_SIZE)
        return rd->reason = "file is too short to be a snapshot", -EBADMSG;
    if (memcmp(rd->p, SNAPSHOT_MAGIC, 4) != 0)
        return rd->reason = "not a snapshot file (bad magic)", -EBADMSG;
    body = rd->left - TRAILER_SIZE;
    if (crc32_z(crc32(0L, Z_NULL, 0), rd->p, body) != le32_at(rd->p + body))
        return rd->reason = "checksum mismatch (truncated or damaged)",
               -EBADMSG;

    rd->left = body - 4;
    rd->p += 4;
    get_uint(rd, 4, &rd->version);
    if (rd->version < 1 || rd->version > SNAPSHOT_VERSION)
        return rd->reason = "snapshot of an unknown version", -EBADMSG;
    get_uint(rd, 8, count);
    *id = 0;
    if (rd->version >= 3 && !get_uint(rd, 8, id))
        return -EBADMSG;
    return 0;
}

/* Hands the caller's entries that end a snapshot to extra. */
static int
parse_tail(struct reader *rd, struct object_buffers *b,
           const struct store_extra *extra)
{
    uint64_t n, kind;

    if (rd->version < 4)
        return 0;
    if (!get_uint(rd, 4, &n))
        return -EBADMSG;
    for (uint64_t i = 0; i < n; i++) {
        if (!get_uint(rd, 1, &kind) || !get_string(rd, b->status))
            return -EBADMSG;
        if (kind != 'X') {
            rd->reason = "an entry of the snapshot is of an unknown kind";
            return -EBADMSG;
        }
        if (extra && extra->cb(b->status, extra->ctx) < 0) {
            rd->reason = "an entry of the snapshot does not parse";
            return -EBADMSG;
        }
    }
    return 0;
}

/* Parses a snapshot held in memory into store. */
static int
parse_snapshot(struct reader *rd, struct store *store, char **rv, uint64_t *id,
               const struct store_extra *extra)
{
    struct object_buffers *b;
    uint64_t count;
    int r;

    r = check_frame(rd, &count, id);
    if (r < 0)
        return r;
    b = malloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    r = get_string(rd, b->rv) ? 0 : -EBADMSG;
    if (r == 0 && !(*rv = strdup(b->rv)))
        r = -ENOMEM;

    for (uint64_t i = 0; r == 0 && i < count; i++)
        r = read_object(rd, b, store);
    if (r == 0)
        r = parse_tail(rd, b, extra);
    free(b);
    if (r == 0 && (rd->left != 0 || store_count(store) != count)) {
        rd->reason = "object count does not match the contents";
        r = -EBADMSG;
    }
    return r;
}

/* Reads the whole file at path into memory. */
static int
slurp(const char *path, unsigned char **data, size_t *len)
{
    struct stat st;
    ssize_t n;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (!S_ISREG(st.st_mode))
        r = -EINVAL;
    else if (st.st_size > SNAPSHOT_FILE_MAX)
        r = -EFBIG;
    if (r < 0) {
        close(fd);
        return r;
    }
    *data = malloc((size_t)st.st_size + 1);
    if (!*data) {
        close(fd);
        return -ENOMEM;
    }
    for (*len = 0; *len < (size_t)st.st_size; *len += (size_t)n) {
        n = read(fd, *data + *len, (size_t)st.st_size - *len);
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
    }
    close(fd);
    return r;
}

/* Applies n entries of a journal frame or delta to store; see the top. */
static int
apply_entries(struct reader *rd, struct object_buffers *b, struct store *store,
              uint64_t n, const struct store_extra *extra)
{
    uint64_t kind;
    int r = 0;

    for (uint64_t i = 0; r == 0 && i < n; i++) {
        if (!get_uint(rd, 1, &kind))
            return -EBADMSG;
        switch (kind) {
        case 'P':
            r = read_object(rd, b, store);
            break;
        case 'R':
            r = get_string(rd, b->uid) ? 0 : -EBADMSG;
            if (r == 0)
                store_remove(store, b->uid);
            break;
        case 'X':
            r = get_string(rd, b->status) ? 0 : -EBADMSG;
            if (r == 0 && extra && extra->cb(b->status, extra->ctx) < 0) {
                rd->reason = "an entry of the journal does not parse";
                r = -EBADMSG;
            }
            break;
        default:
            rd->reason = "an entry of the journal is of an unknown kind";
            r = -EBADMSG;
        }
    }
    if (r == 0 && rd->left != 0) {
        rd->reason = "a frame of the journal holds more than its entries";
        r = -EBADMSG;
    }
    return r;
}

/* Applies one journal frame's payload to store; see the top. */
static int
apply_frame(struct reader *rd, struct object_buffers *b, struct store *store,
            char **rv, const struct store_extra *extra)
{
    uint64_t n;
    char *frame_rv;
    int r;

    if (!get_string(rd, b->rv) || !get_uint(rd, 4, &n))
        return -EBADMSG;
    /* The objects read next take the buffer over. */
    if (!(frame_rv = strdup(b->rv)))
        return -ENOMEM;
    r = apply_entries(rd, b, store, n, extra);
    if (r < 0) {
        free(frame_rv);
        return r;
    }
    free(*rv);
    *rv = frame_rv;
    return 0;
}

/*
 * Applies path's journal if it extends the snapshot of id: every whole
 * frame, in order, up to the first cut short or damaged.  A journal that
 * is missing, stale or of another format is no journal.
 */
static int
replay_journal(const char *path, uint64_t id, struct store *store, char **rv,
               const struct store_extra *extra, const char **reason)
{
    struct object_buffers *b = NULL;
    unsigned char *data = NULL;
    struct reader rd = {.version = SNAPSHOT_VERSION};
    char *journal;
    size_t len = 0;
    uint64_t version = 0, named = 0;
    int r;

    if (id == 0)
        return 0;
    if (asprintf(&journal, "%s.journal", path) < 0)
        return -ENOMEM;
    r = slurp(journal, &data, &len);
    free(journal);
    if (r < 0) {
        free(data);
        return r == -ENOENT ? 0 : r;
    }
    rd.p = data;
    rd.left = len;
    if (len < JOURNAL_HEADER || memcmp(data, JOURNAL_MAGIC, 4) != 0)
        goto out;
    rd.p += 4;
    rd.left -= 4;
    get_uint(&rd, 4, &version);
    get_uint(&rd, 8, &named);
    if (version != JOURNAL_VERSION || named != id)
        goto out;
    if (!(b = malloc(sizeof(*b)))) {
        r = -ENOMEM;
        goto out;
    }
    while (r == 0 && rd.left >= FRAME_HEADER + TRAILER_SIZE &&
           memcmp(rd.p, FRAME_MAGIC, 4) == 0) {
        size_t size = le32_at(rd.p + 4);
        struct reader frame = {.version = SNAPSHOT_VERSION};

        if (size > rd.left - FRAME_HEADER - TRAILER_SIZE)
            break;
        frame.p = rd.p + FRAME_HEADER;
        frame.left = size;
        if (crc32_z(crc32(0L, Z_NULL, 0), frame.p, size) !=
            le32_at(frame.p + size))
            break;
        r = apply_frame(&frame, b, store, rv, extra);
        if (r == -EBADMSG)
            *reason = frame.reason ? frame.reason
                                   : "a frame of the journal does not parse";
        rd.p += FRAME_HEADER + size + TRAILER_SIZE;
        rd.left -= FRAME_HEADER + size + TRAILER_SIZE;
    }
out:
    free(b);
    free(data);
    return r;
}

/* Loads a snapshot and its journal; see store.h. */
int
store_load(const char *path, struct store *store, char **resource_version,
           char *err, size_t errlen)
{
    return store_load_extra(path, store, resource_version, NULL, err, errlen);
}

/* Loads a snapshot and its journal, with the caller's entries; store.h. */
int
store_load_extra(const char *path, struct store *store, char **resource_version,
                 const struct store_extra *extra, char *err, size_t errlen)
{
    unsigned char *data = NULL;
    struct reader rd = {0};
    size_t len = 0;
    uint64_t id = 0;
    int r;

    *resource_version = NULL;
    if (store_count(store) != 0)
        return snprintf(err, errlen, "store is not empty"), -EINVAL;
    r = slurp(path, &data, &len);
    if (r < 0) {
        free(data);
        snprintf(err, errlen, "%s", strerror(-r));
        return r;
    }

    rd.p = data;
    rd.left = len;
    r = parse_snapshot(&rd, store, resource_version, &id, extra);
    free(data);
    if (r == 0)
        r = replay_journal(path, id, store, resource_version, extra,
                           &rd.reason);
    if (r == 0)
        return 0;
    snprintf(err, errlen, "%s",
             r == -EBADMSG && rd.reason ? rd.reason : strerror(-r));
    store_clear(store);
    free(*resource_version);
    *resource_version = NULL;
    return r;
}

/* A fresh snapshot id: random, never 0. */
uint64_t
store_new_id(void)
{
    uint64_t id = 0;

    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
    return id ? id : 1;
}

/* Ends an entry of the delta: counts it, or takes back what it added. */
static int
end_entry(struct store_delta *d, const struct writer *w, size_t start)
{
    if (w->error) {
        d->len = start;
        return w->error;
    }
    d->entries++;
    return 0;
}

/* Adds a put of f to the delta; see store.h. */
int
store_delta_put(struct store_delta *d, const struct object_fields *f)
{
    struct writer w = {.delta = d};
    size_t start = d->len;
    int r = store_check_fields(f);

    if (r < 0)
        return r;
    put_uint(&w, 'P', 1);
    put_object(f, &w);
    return end_entry(d, &w, start);
}

/* Adds an entry of kind holding one string to the delta. */
static int
put_text_entry(struct store_delta *d, char kind, const char *text)
{
    struct writer w = {.delta = d};
    size_t start = d->len;

    if (strlen(text) > UINT16_MAX)
        return -E2BIG;
    put_uint(&w, (uint64_t)kind, 1);
    put_string(&w, text);
    return end_entry(d, &w, start);
}

/* Adds the removal of uid to the delta; see store.h. */
int
store_delta_remove(struct store_delta *d, const char *uid)
{
    return put_text_entry(d, 'R', uid);
}

/* Adds one of the caller's entries to the delta; see store.h. */
int
store_delta_extra(struct store_delta *d, const char *text)
{
    return put_text_entry(d, 'X', text);
}

/* Empties the delta, keeping its buffer. */
void
store_delta_reset(struct store_delta *d)
{
    d->len = 0;
    d->entries = 0;
}

void
store_delta_free(struct store_delta *d)
{
    free(d->p);
    *d = (struct store_delta){0};
}

/* Applies a delta's puts and removals to store; see store.h. */
int
store_apply_delta(struct store *store, const struct store_delta *d)
{
    struct reader rd = {.p = d->p, .left = d->len, .version = SNAPSHOT_VERSION};
    struct object_buffers *b = malloc(sizeof(*b));
    int r;

    if (!b)
        return -ENOMEM;
    r = apply_entries(&rd, b, store, d->entries, NULL);
    free(b);
    return r;
}

/* Writes all of n bytes; -EIO for a short write that made no error. */
static int
write_all(int fd, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;

    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Starts path's journal afresh for the snapshot of id; see store.h. */
int
store_journal_start(const char *path, uint64_t id)
{
    struct store_delta head = {0};
    struct writer w = {.delta = &head};
    char *journal, *tmp;
    int fd, r;

    if (asprintf(&journal, "%s.journal", path) < 0)
        return -ENOMEM;
    if (asprintf(&tmp, "%s.XXXXXX", journal) < 0) {
        free(journal);
        return -ENOMEM;
    }
    put_bytes(&w, JOURNAL_MAGIC, 4);
    put_uint(&w, JOURNAL_VERSION, 4);
    put_uint(&w, id, 8);
    r = w.error;
    fd = r < 0 ? r : mkostemp(tmp, O_CLOEXEC | O_APPEND);
    if (fd < 0) {
        r = r < 0 ? r : -errno;
        goto out;
    }
    r = write_all(fd, head.p, head.len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && rename(tmp, journal) < 0)
        r = -errno;
    if (r == 0)
        r = sync_directory(journal);
    if (r < 0) {
        unlink(tmp);
        close(fd);
    }
out:
    store_delta_free(&head);
    free(tmp);
    free(journal);
    return r < 0 ? r : fd;
}

/* Appends the delta to a journal as one frame; see store.h. */
int
store_journal_append(int fd, const char *resource_version,
                     const struct store_delta *d)
{
    struct store_delta frame = {0};
    struct writer w = {.delta = &frame};
    size_t payload;
    int r;

    if (strlen(resource_version) > UINT16_MAX)
        return -E2BIG;
    payload = 2 + strlen(resource_version) + 4 + d->len;
    if (payload > UINT32_MAX)
        return -E2BIG;
    put_bytes(&w, FRAME_MAGIC, 4);
    put_uint(&w, payload, 4);
    put_string(&w, resource_version);
    put_uint(&w, d->entries, 4);
    put_bytes(&w, d->p, d->len);
    if (w.error == 0)
        put_uint(&w,
                 crc32_z(crc32(0L, Z_NULL, 0), frame.p + FRAME_HEADER, payload),
                 TRAILER_SIZE);
    r = w.error;
    if (r == 0)
        r = write_all(fd, frame.p, frame.len);
    if (r == 0 && fdatasync(fd) < 0)
        r = -errno;
    store_delta_free(&frame);
    return r;
}
