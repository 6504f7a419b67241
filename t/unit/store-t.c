/*
 * The object store: objects go in and come out whole, a relist diff finds
 * exactly the objects that vanished, a snapshot survives the round trip
 * and a damaged one is refused as a whole, and 10,000 objects take little
 * memory (printed as a comment, bytes per object).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "object.h"
#include "store.h"
#include "heap.h"
#include "tap.h"

#define MANY 10000

static char tmpdir[] = "/tmp/store-t.XXXXXX";

/* The strings of a made-up object i, like a Notebook of a busy project. */
struct sample {
    char uid[40], name[40], rv[16];
    struct object_fields f;
};

static const char *const statuses[] = {
    "",
    "{\"phase\":\"Pending\"}",
    "{\"conditions\":{\"Ready\":[\"False\",\"ContainersNotReady\"]},"
    "\"phase\":\"Running\"}",
    "{\"conditions\":{\"Ready\":[\"True\",\"PodReady\"]},\"phase\":"
    "\"Running\"}",
    "{\"phase\":\"Succeeded\"}",
};

static void
sample(struct sample *s, int i)
{
    static const char *const namespaces[] = {"demo", "team-a", "team-b"};

    snprintf(s->uid, sizeof(s->uid), "%08x-08af-42ef-ac46-4d92a10a%04x",
             (unsigned)i * 2654435761u, (unsigned)i & 0xffff);
    snprintf(s->name, sizeof(s->name), "notebook-%d", i);
    snprintf(s->rv, sizeof(s->rv), "%d", 479109581 + i);
    s->f = (struct object_fields){
        .uid = s->uid,
        .name = s->name,
        .namespace = namespaces[i % 3],
        .resource_version = s->rv,
        .generation = i % 7,
        .deletion_timestamp = i % 50 == 0 ? "2024-05-01T10:00:00Z" : "",
        .finalizers = i % 4 == 0 ? "tensorstack.dev/cleanup" : "",
        .status = statuses[i % 5],
        .status_since = i % 3 == 0 ? "479000000" : "",
    };
}

/* Whether two versions agree on every field. */
static int
same_fields(const struct object_fields *a, const struct object_fields *b)
{
    return strcmp(a->uid, b->uid) == 0 && strcmp(a->name, b->name) == 0 &&
           strcmp(a->namespace, b->namespace) == 0 &&
           strcmp(a->resource_version, b->resource_version) == 0 &&
           a->generation == b->generation &&
           strcmp(a->deletion_timestamp, b->deletion_timestamp) == 0 &&
           strcmp(a->finalizers, b->finalizers) == 0 &&
           strcmp(a->status, b->status) == 0 &&
           strcmp(object_status_since(a), object_status_since(b)) == 0;
}

/* Put, get, replace and remove, with the strings copied in. */
static void
test_basics(void)
{
    struct store *store = store_new();
    struct object_fields got;
    struct sample s;
    char name[] = "mutable";

    sample(&s, 1);
    s.f.name = name;
    is_int(store_put(store, &s.f), 0, "an object goes in");
    name[0] = 'X';
    ok(store_get(store, s.uid, &got), "and comes out by uid");
    is_str(got.name, "mutable", "with its own copy of the strings");
    is_str(got.status, statuses[1], "and every field");

    s.f.name = "mutable";
    s.f.resource_version = "999";
    s.f.status = statuses[3];
    is_int(store_put(store, &s.f), 0, "a new version replaces it");
    store_get(store, s.uid, &got);
    ok(same_fields(&got, &s.f), "and reads back as the new version");
    is_int(store_count(store), 1, "still one object");

    ok(!store_get(store, "nope", &got), "an unknown uid is not found");
    ok(store_remove(store, s.uid), "removing it succeeds");
    ok(!store_remove(store, s.uid), "removing it twice does not");
    is_int(store_count(store), 0, "the store is empty again");

    s.f.uid = "";
    is_int(store_put(store, &s.f), -EINVAL, "an empty uid is refused");
    store_free(store);
}

/* Strings too long for the snapshot are refused, leaving the store as is. */
static void
test_limits(void)
{
    struct store *store = store_new();
    char *big = malloc(70000);
    struct sample s;

    memset(big, 'x', 69999);
    big[69999] = '\0';
    sample(&s, 1);
    s.f.status = big;
    is_int(store_put(store, &s.f), -E2BIG,
           "a status over 65535 bytes is "
           "refused");
    big[300] = '\0';
    s.f.status = statuses[0];
    s.f.uid = big;
    is_int(store_put(store, &s.f), -E2BIG, "a uid over 255 bytes is refused");
    is_int(store_count(store), 0, "and nothing went in");
    free(big);
    store_free(store);
}

/* Many objects in and half of them out: the table stays consistent. */
static void
test_many(void)
{
    struct store *store = store_new();
    struct object_fields got;
    struct sample s;
    int found = 0, right = 0, absent = 0;

    for (int i = 0; i < MANY; i++) {
        sample(&s, i);
        store_put(store, &s.f);
    }
    for (int i = 0; i < MANY; i += 2) {
        sample(&s, i);
        store_remove(store, s.uid);
    }
    for (int i = 0; i < MANY; i++) {
        sample(&s, i);
        if (!store_get(store, s.uid, &got)) {
            absent += i % 2 == 0;
            continue;
        }
        found++;
        right += i % 2 == 1 && same_fields(&got, &s.f);
    }
    is_int(store_count(store), MANY / 2, "half of 10,000 objects remain");
    is_int(found, MANY / 2, "each remaining one is found");
    is_int(right, MANY / 2, "with its own fields");
    is_int(absent, MANY / 2, "and each removed one is gone");
    store_free(store);
}

/* What a sweep reported. */
struct swept {
    int count;
    int wrong;
    int stop_at;
};

static int
on_swept(const struct object_fields *f, void *ctx)
{
    struct swept *sw = ctx;

    /* Samples 0..99 were stored; only the multiples of 10 vanish. */
    if (atoi(f->name + strlen("notebook-")) % 10 != 0)
        sw->wrong++;
    if (sw->stop_at && sw->count == sw->stop_at)
        return 42;
    sw->count++;
    return 0;
}

/* Mark, put what a list holds, sweep: exactly the vanished are reported. */
static void
test_mark_sweep(void)
{
    struct store *store = store_new();
    struct swept sw = {0};
    struct sample s;

    for (int i = 0; i < 100; i++) {
        sample(&s, i);
        store_put(store, &s.f);
    }
    store_mark(store);
    for (int i = 0; i < 100; i++) {
        if (i % 10 == 0)
            continue;
        sample(&s, i);
        store_put(store, &s.f);
    }
    sw.stop_at = 3;
    is_int(store_sweep(store, on_swept, &sw), 42,
           "a sweep stops when its callback says so");
    is_int(store_count(store), 97, "having removed only what it reported");
    sw.stop_at = 0;
    is_int(store_sweep(store, on_swept, &sw), 0, "a second sweep completes");
    is_int(sw.count, 10, "the 10 objects the list lacked were reported once");
    is_int(sw.wrong, 0, "and no object the list held");
    is_int(store_count(store), 90, "the rest stay");
    sw.count = 0;
    is_int(store_sweep(store, on_swept, &sw), 0,
           "a sweep with nothing "
           "marked");
    is_int(sw.count, 0, "reports nothing");
    store_free(store);
}

/* Memory per object with 10,000 objects, as the store counts it and as
 * the heap sees it. */
static void
test_memory(void)
{
    size_t before = heap_in_use(), counted, heap;
    struct store *store = store_new();
    struct sample s;

    for (int i = 0; i < MANY; i++) {
        sample(&s, i);
        store_put(store, &s.f);
    }
    counted = store_memory(store);
    heap = heap_in_use() - before;
    printf("# bytes per object with %d objects: %zu asked of malloc, %zu "
           "on the heap\n",
           MANY, counted / MANY, heap / MANY);
    ok(counted / MANY < 200, "the store asks for under 200 bytes an object");
    store_free(store);
}

/* A snapshot round trip keeps every object and the resourceVersion. */
static void
test_snapshot_round_trip(void)
{
    struct store *store = store_new(), *loaded = store_new();
    struct object_fields got;
    char path[256], err[256], *rv = NULL;
    struct sample s;
    int right = 0;

    snprintf(path, sizeof(path), "%s/round.state", tmpdir);
    for (int i = 0; i < MANY; i++) {
        sample(&s, i);
        store_put(store, &s.f);
    }
    is_int(store_save(store, path, "479119581", store_new_id(), NULL), 0,
           "a snapshot is saved");
    is_int(store_load(path, loaded, &rv, err, sizeof(err)), 0,
           "and loaded back");
    is_str(rv, "479119581", "with its resourceVersion");
    is_int(store_count(loaded), MANY, "and every object");
    for (int i = 0; i < MANY; i++) {
        sample(&s, i);
        right += store_get(loaded, s.uid, &got) && same_fields(&got, &s.f);
    }
    is_int(right, MANY, "each with all its fields");
    free(rv);

    is_int(store_load(path, loaded, &rv, err, sizeof(err)), -EINVAL,
           "loading into a store that is not empty is refused");
    store_free(store);
    store_free(loaded);
}

/* Writes len bytes to path. */
static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");

    fwrite(data, 1, len, f);
    fclose(f);
}

/* Reads path whole. */
static unsigned char *
read_file(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *data;
    FILE *f = fopen(path, "r");

    fstat(fileno(f), &st);
    data = malloc((size_t)st.st_size);
    *len = fread(data, 1, (size_t)st.st_size, f);
    fclose(f);
    return data;
}

/* Loads path and expects -EBADMSG with an empty store after. */
static void
expect_refused(const char *path, const char *what)
{
    struct store *store = store_new();
    char err[256] = "", *rv = NULL;
    int r = store_load(path, store, &rv, err, sizeof(err));
    char desc[200];

    snprintf(desc, sizeof(desc), "%s is refused", what);
    is_int(r, -EBADMSG, desc);
    if (r == -EBADMSG)
        printf("#   reason: %s\n", err);
    ok(store_count(store) == 0 && !rv && err[0],
       "with a reason, no objects and no resourceVersion");
    store_free(store);
}

/* Replaces the trailing checksum with the right one for the damaged body. */
static void
fix_checksum(unsigned char *data, size_t len)
{
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, len - 4);

    for (int i = 0; i < 4; i++)
        data[len - 4 + i] = (unsigned char)(crc >> (8 * i));
}

/* Appends a u16 string to buf at *len. */
static void
put_v1_string(unsigned char *buf, size_t *len, const char *s)
{
    size_t n = strlen(s);

    buf[(*len)++] = (unsigned char)n;
    buf[(*len)++] = (unsigned char)(n >> 8);
    memcpy(buf + *len, s, n);
    *len += n;
}

/* A snapshot of the first version, without status_since, still loads. */
static void
test_snapshot_version_1(void)
{
    static const char *const strings[] = {"u-1", "nb", "ns", "41"};
    unsigned char buf[256] = "ECST\1\0\0\0\1";
    struct store *store = store_new();
    struct object_fields got;
    char path[256], err[256] = "", *rv = NULL;
    size_t len = 16;

    put_v1_string(buf, &len, "42");
    for (size_t i = 0; i < 4; i++)
        put_v1_string(buf, &len, strings[i]);
    buf[len] = 3; /* generation */
    len += 8;
    put_v1_string(buf, &len, "");
    put_v1_string(buf, &len, "");
    put_v1_string(buf, &len, "{\"phase\":\"Up\"}");
    len += 4;
    fix_checksum(buf, len);
    snprintf(path, sizeof(path), "%s/v1.state", tmpdir);
    write_file(path, buf, len);

    is_int(store_load(path, store, &rv, err, sizeof(err)), 0,
           "a version 1 snapshot loads");
    ok(store_get(store, "u-1", &got) && got.generation == 3 &&
           strcmp(got.status, "{\"phase\":\"Up\"}") == 0,
       "with its object");
    is_str(object_status_since(&got), "41",
           "whose status holds since its own version");
    free(rv);
    store_free(store);
}

/* status_since survives a put and a snapshot; its own version costs 0. */
static void
test_status_since(void)
{
    struct store *store = store_new(), *loaded = store_new();
    struct object_fields got;
    char path[256], err[256], *rv = NULL;
    struct sample s;
    size_t bytes;

    sample(&s, 1);
    s.f.status_since = s.f.resource_version;
    store_put(store, &s.f);
    bytes = store_memory(store);
    store_get(store, s.uid, &got);
    is_str(got.status_since, "", "the version's own is kept as \"\"");
    s.f.status_since = "479000001";
    store_put(store, &s.f);
    ok(store_memory(store) > bytes, "another takes its bytes");
    store_get(store, s.uid, &got);
    is_str(got.status_since, "479000001", "and reads back");
    snprintf(path, sizeof(path), "%s/since.state", tmpdir);
    store_save(store, path, "479000002", store_new_id(), NULL);
    store_load(path, loaded, &rv, err, sizeof(err));
    ok(store_get(loaded, s.uid, &got) &&
           strcmp(got.status_since, "479000001") == 0,
       "and survives a snapshot");
    free(rv);
    store_free(store);
    store_free(loaded);
}

/* Damaged, truncated and foreign files are refused as a whole. */
static void
test_snapshot_damage(void)
{
    struct store *store = store_new(), *loaded = store_new();
    char good[256], bad[256], err[256], *rv;
    unsigned char *data;
    size_t len, cut_ok = 0, cuts = 0;
    struct sample s;

    snprintf(good, sizeof(good), "%s/good.state", tmpdir);
    snprintf(bad, sizeof(bad), "%s/bad.state", tmpdir);
    for (int i = 0; i < 20; i++) {
        sample(&s, i);
        store_put(store, &s.f);
    }
    store_save(store, good, "42", store_new_id(), NULL);
    data = read_file(good, &len);

    /* Every truncation: a crash mid-write of a non-atomic writer. */
    for (size_t n = 0; n < len; n += n < 64 ? 1 : 37) {
        write_file(bad, data, n);
        rv = NULL;
        cuts++;
        cut_ok += store_load(bad, loaded, &rv, err, sizeof(err)) == -EBADMSG &&
                  store_count(loaded) == 0 && !rv;
    }
    is_int(cut_ok, cuts, "every truncated snapshot is refused");

    data[len / 2] ^= 0x40;
    write_file(bad, data, len);
    expect_refused(bad, "a flipped bit");
    data[len / 2] ^= 0x40;

    memcpy(data, "XXXX", 4);
    write_file(bad, data, len);
    expect_refused(bad, "a file of another format");
    memcpy(data, "ECST", 4);

    data[4] = 9;
    fix_checksum(data, len);
    write_file(bad, data, len);
    expect_refused(bad, "a snapshot of a future version");
    data[4] = 1;

    data[8] += 1;
    fix_checksum(data, len);
    write_file(bad, data, len);
    expect_refused(bad, "a count that does not match, checksum and all");
    data[8] -= 1;

    data[8] = 0xff;
    data[15] = 0x7f;
    fix_checksum(data, len);
    write_file(bad, data, len);
    expect_refused(bad, "a huge count");

    write_file(bad, "", 0);
    expect_refused(bad, "an empty file");

    rv = NULL;
    is_int(store_load("/nonexistent/x.state", loaded, &rv, err, sizeof(err)),
           -ENOENT, "a missing snapshot is -ENOENT");
    is_int(store_load(tmpdir, loaded, &rv, err, sizeof(err)), -EINVAL,
           "a directory is not a snapshot");
    free(data);
    store_free(store);
    store_free(loaded);
}

/* A save that fails leaves the old snapshot, and no temporary file. */
static void
test_snapshot_atomic(void)
{
    struct store *store = store_new();
    char path[256], cmd[512];
    struct sample s;
    FILE *p;
    int files;

    snprintf(path, sizeof(path), "%s/nodir/x.state", tmpdir);
    sample(&s, 1);
    store_put(store, &s.f);
    ok(store_save(store, path, "1", store_new_id(), NULL) < 0,
       "saving into a missing directory "
       "fails");
    snprintf(path, sizeof(path), "%s/atomic.state", tmpdir);
    store_save(store, path, "1", store_new_id(), NULL);
    store_save(store, path, "2", store_new_id(), NULL);
    snprintf(cmd, sizeof(cmd), "ls %s | grep -c atomic", tmpdir);
    p = popen(cmd, "r");
    if (fscanf(p, "%d", &files) != 1)
        files = -1;
    pclose(p);
    is_int(files, 1, "saving twice leaves one file and no temporary one");
    store_free(store);
}

/* The caller's journal entries, joined by '|', for comparing. */
static int
collect_extra(const char *text, void *ctx)
{
    char *seen = ctx;

    if (strcmp(text, "refuse") == 0)
        return -EINVAL;
    strcat(seen, text);
    strcat(seen, "|");
    return 0;
}

/* Loads path into a fresh store; returns the result, the rv in rv. */
static int
load_journaled(const char *path, struct store **out, char *rv, char *seen)
{
    char err[256], *v = NULL;
    int r;

    *out = store_new();
    seen[0] = '\0';
    r = store_load_extra(path, *out, &v,
                         &(struct store_extra){collect_extra, seen}, err,
                         sizeof(err));
    snprintf(rv, 64, "%.63s", v ? v : (r < 0 ? err : ""));
    free(v);
    return r;
}

/* Truncates the file at path by n bytes. */
static void
cut_file(const char *path, off_t n)
{
    struct stat st;

    if (stat(path, &st) == 0 && truncate(path, st.st_size - n) != 0)
        printf("# cannot truncate %s\n", path);
}

/*
 * The journal: frames replay over the snapshot in order; a frame cut
 * short ends it; one of another snapshot is ignored; a frame that passes
 * its checksum and does not parse refuses the load.
 */
static void
test_journal(void)
{
    struct store *store = store_new(), *loaded;
    struct store_delta d = {0};
    struct object_fields got;
    struct sample s, moved;
    char path[256], journal[300], rv[64], seen[256], *long_uid;
    uint64_t id = store_new_id();
    int fd;

    snprintf(path, sizeof(path), "%s/journal.state", tmpdir);
    snprintf(journal, sizeof(journal), "%s.journal", path);
    for (int i = 0; i < 10; i++) {
        sample(&s, i);
        store_put(store, &s.f);
    }
    is_int(store_save(store, path, "100", id, NULL), 0, "a snapshot is saved");
    fd = store_journal_start(path, id);
    ok(fd >= 0, "its journal starts");

    sample(&s, 20);
    store_delta_put(&d, &s.f);
    sample(&s, 3);
    store_delta_remove(&d, s.uid);
    store_delta_extra(&d, "first");
    is_int(store_journal_append(fd, "101", &d), 0, "a frame is appended");
    store_delta_reset(&d);
    sample(&moved, 5);
    moved.f.status = "phase=Failed";
    store_delta_put(&d, &moved.f);
    store_delta_extra(&d, "second");
    is_int(store_journal_append(fd, "102", &d), 0, "and a second one");

    is_int(load_journaled(path, &loaded, rv, seen), 0, "both load");
    is_str(rv, "102", "the resourceVersion is the last frame's");
    is_int(store_count(loaded), 10, "one object put and one removed");
    sample(&s, 20);
    ok(store_get(loaded, s.uid, &got) && same_fields(&got, &s.f),
       "the put object is there with its fields");
    sample(&s, 3);
    ok(!store_get(loaded, s.uid, &got), "the removed one is gone");
    ok(store_get(loaded, moved.uid, &got) &&
           strcmp(got.status, "phase=Failed") == 0,
       "a later put replaces the object");
    is_str(seen, "first|second|", "the caller's entries come back in order");
    store_free(loaded);

    cut_file(journal, 3);
    is_int(load_journaled(path, &loaded, rv, seen), 0,
           "a journal cut inside its last frame loads");
    is_str(rv, "101", "up to the frame before it");
    ok(store_get(loaded, moved.uid, &got) &&
           strcmp(got.status, "phase=Failed") != 0,
       "without the cut frame's change");
    store_free(loaded);

    close(fd);
    fd = store_journal_start(path, id + 1);
    store_delta_reset(&d);
    store_delta_extra(&d, "stale");
    store_journal_append(fd, "999", &d);
    close(fd);
    is_int(load_journaled(path, &loaded, rv, seen), 0,
           "a journal of another snapshot loads");
    is_str(rv, "100", "as if there were none");
    is_str(seen, "", "and hands back nothing");
    store_free(loaded);

    fd = store_journal_start(path, id);
    store_delta_reset(&d);
    store_delta_extra(&d, "refuse");
    store_journal_append(fd, "103", &d);
    is_int(load_journaled(path, &loaded, rv, seen), -EBADMSG,
           "an entry the caller refuses fails the load");
    is_str(rv, "an entry of the journal does not parse", "and says why");
    is_int(store_count(loaded), 0, "leaving the store empty");
    store_free(loaded);
    close(fd);

    fd = store_journal_start(path, id);
    store_delta_reset(&d);
    store_delta_extra(&d, "x");
    d.p[0] = 'Z';
    store_journal_append(fd, "104", &d);
    close(fd);
    is_int(load_journaled(path, &loaded, rv, seen), -EBADMSG,
           "a whole frame of an unknown entry fails the load");
    is_str(rv, "an entry of the journal is of an unknown kind", "and says why");
    store_free(loaded);

    store_delta_reset(&d);
    sample(&s, 30);
    store_delta_put(&d, &s.f);
    long_uid = calloc(1, 300);
    memset(long_uid, 'u', 299);
    moved.f.uid = long_uid;
    is_int(store_delta_put(&d, &moved.f), -E2BIG,
           "a delta refuses an object a snapshot cannot hold");
    is_int(d.entries, 1, "and keeps what it held");
    sample(&s, 0);
    store_delta_remove(&d, s.uid);
    is_int(store_apply_delta(store, &d), 0, "a delta applies to a store");
    sample(&s, 30);
    ok(store_get(store, s.uid, &got), "its put is there");
    sample(&s, 0);
    ok(!store_get(store, s.uid, &got), "its removal is done");
    free(long_uid);

    unlink(journal);
    is_int(load_journaled(path, &loaded, rv, seen), 0,
           "a snapshot without a journal loads");
    is_str(rv, "100", "as saved");
    store_free(loaded);
    store_delta_free(&d);
    store_free(store);
}

/*
 * The caller's entries a snapshot carries come back before the journal's;
 * the snapshot refuses any other kind of entry, and its checksum covers
 * them.
 */
static void
test_snapshot_tail(void)
{
    struct store *store = store_new(), *loaded;
    struct store_delta tail = {0}, d = {0};
    struct sample s;
    char path[256], rv[64], seen[256];
    uint64_t id = store_new_id();
    int fd;

    snprintf(path, sizeof(path), "%s/tail.state", tmpdir);
    sample(&s, 1);
    store_put(store, &s.f);
    store_delta_extra(&tail, "kept");
    store_delta_extra(&tail, "and kept");
    is_int(store_save(store, path, "7", id, &tail), 0,
           "a snapshot with entries of the caller's is saved");
    fd = store_journal_start(path, id);
    store_delta_extra(&d, "journal");
    store_journal_append(fd, "8", &d);
    close(fd);
    is_int(load_journaled(path, &loaded, rv, seen), 0, "it loads");
    is_str(seen, "kept|and kept|journal|",
           "its entries come back first, then the journal's");
    is_int(store_count(loaded), 1, "beside its object");
    store_free(loaded);

    store_delta_reset(&tail);
    store_delta_remove(&tail, "u");
    store_save(store, path, "7", id, &tail);
    is_int(load_journaled(path, &loaded, rv, seen), -EBADMSG,
           "a snapshot ending in a removal is refused");
    is_str(rv, "an entry of the snapshot is of an unknown kind",
           "and says why");
    store_free(loaded);

    store_delta_reset(&tail);
    store_delta_extra(&tail, "refuse");
    store_save(store, path, "7", id, &tail);
    is_int(load_journaled(path, &loaded, rv, seen), -EBADMSG,
           "an entry the caller refuses fails the load");
    is_str(rv, "an entry of the snapshot does not parse", "and says why");
    store_free(loaded);

    store_delta_free(&d);
    store_delta_free(&tail);
    store_free(store);
}

/* Removes the test's directory. */
static void
remove_tmpdir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
}

int
main(void)
{
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    test_basics();
    test_limits();
    test_many();
    test_mark_sweep();
    test_memory();
    test_snapshot_round_trip();
    test_snapshot_damage();
    test_snapshot_atomic();
    test_journal();
    test_snapshot_tail();
    test_snapshot_version_1();
    test_status_since();
    remove_tmpdir();
    return tap_done();
}
