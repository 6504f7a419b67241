/*
 * The store's snapshot file.  Its layout, all integers little-endian:
 *
 *   "ECST" | version u32 | object count u64 | resourceVersion (u16 string)
 *   then per object: uid, name, namespace, resourceVersion (u16 strings),
 *     generation i64, deletionTimestamp, finalizers, status, status_since
 *     (u16 strings)
 *   then the crc32 of every byte before it, u32
 *
 * where a u16 string is its length, then its bytes.  The checksum and the
 * exact count make a truncated or damaged file fail as a whole: a watcher
 * that resumed from half a snapshot would report the other half as
 * created.  The reader checks every length against what is left before
 * using it, so a hostile file is refused, never followed.
 *
 * Version 1 had no status_since: its objects load with "" there, as if
 * each status had held since the version saved.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "store.h"

#define SNAPSHOT_MAGIC   "ECST"
#define SNAPSHOT_VERSION 2
#define HEADER_SIZE      16 /* magic, version, count */
#define TRAILER_SIZE     4
/* Far above a million objects of the largest sizes a store accepts. */
#define SNAPSHOT_FILE_MAX (1024LL * 1024 * 1024)

/* A snapshot being written; the first failure sticks. */
struct writer {
    FILE *file;
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
    if (w->error || n == 0)
        return;
    w->crc = crc32_z(w->crc, bytes, n);
    if (fwrite(bytes, 1, n, w->file) != n)
        w->error = errno ? -errno : -EIO;
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
               const char *resource_version)
{
    struct writer w = {.file = file, .crc = crc32(0L, Z_NULL, 0)};

    if (strlen(resource_version) > UINT16_MAX)
        return -E2BIG;
    put_bytes(&w, SNAPSHOT_MAGIC, 4);
    put_uint(&w, SNAPSHOT_VERSION, 4);
    put_uint(&w, store_count(store), 8);
    put_string(&w, resource_version);
    store_foreach(store, put_object, &w);
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
           const char *resource_version)
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

    r = write_snapshot(file, store, resource_version);
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
check_frame(struct reader *rd, uint64_t *count)
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
    return 0;
}

/* Parses a snapshot held in memory into store. */
static int
parse_snapshot(struct reader *rd, struct store *store, char **rv)
{
    struct object_buffers *b;
    uint64_t count;
    int r;

    r = check_frame(rd, &count);
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

/* Loads a snapshot; see store.h. */
int
store_load(const char *path, struct store *store, char **resource_version,
           char *err, size_t errlen)
{
    unsigned char *data = NULL;
    struct reader rd = {0};
    size_t len = 0;
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
    r = parse_snapshot(&rd, store, resource_version);
    free(data);
    if (r == 0)
        return 0;
    snprintf(err, errlen, "%s",
             r == -EBADMSG && rd.reason ? rd.reason : strerror(-r));
    store_clear(store);
    free(*resource_version);
    *resource_version = NULL;
    return r;
}
