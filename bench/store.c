/*
 * How much memory the watcher's store takes per object, against the
 * straightforward way of keeping the same fields: a struct of string
 * pointers per object with every string strdup'd, in a table of pointers.
 * Both hold the same realistic objects (Notebooks of a busy project: a
 * UUID, a name, a few namespaces, a handful of status texts, finalizers on
 * one object in four); memory is measured as heap in use, malloc's own
 * overhead included.  Also times store_put and store_get.
 *
 * Then the cost of saving: a journal frame of SAVE_CHANGES changed
 * objects, as the emitter appends at each save, against rewriting the
 * snapshot of the whole store, the baseline; both with their fsync.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define COUNTS 3

static const int counts[COUNTS] = {1000, 10000, 100000};

static const char *const statuses[] = {
    "{\"phase\":\"Pending\"}",
    "{\"conditions\":{\"Ready\":[\"False\",\"ContainersNotReady\"]},"
    "\"phase\":\"Running\"}",
    "{\"conditions\":{\"Ready\":[\"True\",\"PodReady\"]},\"phase\":"
    "\"Running\"}",
    "{\"phase\":\"Succeeded\"}",
};

/* The strings of object i. */
struct sample {
    char uid[40], name[40], rv[16];
    struct object_fields f;
};

static void
sample(struct sample *s, int i)
{
    static const char *const namespaces[] = {"demo", "team-a", "team-b",
                                             "team-c"};

    snprintf(s->uid, sizeof(s->uid), "%08x-08af-42ef-ac46-%012x",
             (unsigned)i * 2654435761u, (unsigned)i);
    snprintf(s->name, sizeof(s->name), "notebook-%d", i);
    snprintf(s->rv, sizeof(s->rv), "%d", 479109581 + i);
    s->f = (struct object_fields){
        .uid = s->uid,
        .name = s->name,
        .namespace = namespaces[i % 4],
        .resource_version = s->rv,
        .generation = 1 + i % 5,
        .deletion_timestamp = "",
        .finalizers = i % 4 == 0 ? "tensorstack.dev/cleanup" : "",
        .status = statuses[i % 4],
        .status_since = "",
    };
}

static size_t
heap_in_use(void)
{
    return mallinfo2().uordblks;
}

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The baseline: every field strdup'd, objects in an array of pointers. */
static size_t
naive_bytes(int n)
{
    size_t before = heap_in_use(), used;
    struct object_fields **all = calloc((size_t)n, sizeof(*all));
    struct sample s;

    for (int i = 0; i < n; i++) {
        struct object_fields *f = malloc(sizeof(*f));

        sample(&s, i);
        *f = s.f;
        f->uid = strdup(f->uid);
        f->name = strdup(f->name);
        f->namespace = strdup(f->namespace);
        f->resource_version = strdup(f->resource_version);
        f->deletion_timestamp = strdup(f->deletion_timestamp);
        f->finalizers = strdup(f->finalizers);
        f->status = strdup(f->status);
        all[i] = f;
    }
    used = heap_in_use() - before;
    for (int i = 0; i < n; i++) {
        free((char *)all[i]->uid);
        free((char *)all[i]->name);
        free((char *)all[i]->namespace);
        free((char *)all[i]->resource_version);
        free((char *)all[i]->deletion_timestamp);
        free((char *)all[i]->finalizers);
        free((char *)all[i]->status);
        free(all[i]);
    }
    free(all);
    return used;
}

/* The store: its heap use, and the time of a put and a get. */
static size_t
store_bytes(int n, double *put_ns, double *get_ns)
{
    size_t before = heap_in_use(), used;
    struct store *store = store_new();
    struct object_fields got;
    struct sample s;
    double t0, t1;
    int found = 0;

    t0 = now_seconds();
    for (int i = 0; i < n; i++) {
        sample(&s, i);
        store_put(store, &s.f);
    }
    t1 = now_seconds();
    used = heap_in_use() - before;
    *put_ns = (t1 - t0) * 1e9 / n;

    t0 = now_seconds();
    for (int i = 0; i < n; i++) {
        sample(&s, i);
        found += store_get(store, s.uid, &got);
    }
    t1 = now_seconds();
    *get_ns = (t1 - t0) * 1e9 / n;
    if (found != n)
        fprintf(stderr, "store lost objects: %d of %d found\n", found, n);
    store_free(store);
    return used;
}

/* Changes in a save's journal frame; saves of each kind timed. */
#define SAVE_CHANGES 100
#define SAVE_ROUNDS  20

/*
 * Seconds per save of a store of n objects in dir: a snapshot, and a
 * journal frame of SAVE_CHANGES objects.
 */
static void
save_seconds(int n, const char *dir, double *snapshot_s, double *frame_s)
{
    struct store *store = store_new();
    struct store_delta delta = {0};
    struct sample s;
    char path[256];
    uint64_t id = store_new_id();
    double t0;
    int fd, failed = 0;

    snprintf(path, sizeof(path), "%s/bench.state", dir);
    for (int i = 0; i < n; i++) {
        sample(&s, i);
        store_put(store, &s.f);
    }
    t0 = now_seconds();
    for (int r = 0; r < SAVE_ROUNDS; r++)
        failed |= store_save(store, path, "479109581", id, NULL);
    *snapshot_s = (now_seconds() - t0) / SAVE_ROUNDS;

    fd = store_journal_start(path, id);
    failed |= fd < 0;
    t0 = now_seconds();
    for (int r = 0; r < SAVE_ROUNDS && fd >= 0; r++) {
        store_delta_reset(&delta);
        for (int i = 0; i < SAVE_CHANGES; i++) {
            sample(&s, (r * SAVE_CHANGES + i) % n);
            store_delta_put(&delta, &s.f);
        }
        failed |= store_journal_append(fd, "479109582", &delta);
    }
    *frame_s = (now_seconds() - t0) / SAVE_ROUNDS;
    if (failed)
        fprintf(stderr, "a save failed\n");
    if (fd >= 0)
        close(fd);
    store_delta_free(&delta);
    store_free(store);
}

int
main(void)
{
    char dir[] = "bench-store.XXXXXX", cmd[64];

    printf("%8s %14s %14s %7s %9s %9s\n", "objects", "store B/obj",
           "naive B/obj", "ratio", "put ns", "get ns");
    for (int k = 0; k < COUNTS; k++) {
        double put_ns, get_ns;
        size_t a = store_bytes(counts[k], &put_ns, &get_ns);
        size_t b = naive_bytes(counts[k]);

        printf("%8d %14.1f %14.1f %7.3f %9.0f %9.0f\n", counts[k],
               (double)a / counts[k], (double)b / counts[k],
               (double)a / (double)b, put_ns, get_ns);
    }

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("\nsaves: a snapshot of every object, or a journal frame of %d\n",
           SAVE_CHANGES);
    printf("%8s %14s %14s %7s\n", "objects", "snapshot ms", "frame ms",
           "ratio");
    for (int k = 0; k < COUNTS; k++) {
        double snapshot_s, frame_s;

        save_seconds(counts[k], dir, &snapshot_s, &frame_s);
        printf("%8d %14.3f %14.3f %7.3f\n", counts[k], snapshot_s * 1e3,
               frame_s * 1e3, frame_s / snapshot_s);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
