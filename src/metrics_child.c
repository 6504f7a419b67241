/*
 * The child side of the metrics: a fixed registry of series, published to
 * the master as one datagram.  Fixed, because a child's series are few
 * (one resource, a handful of reasons) and a bound keeps a hostile input
 * from growing it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "metrics.h"

#define METRICS_SERIES_MAX 512
#define METRICS_KEY_MAX    240
#define METRICS_DATAGRAM   65536

/* Change-to-Event lag and similar durations, in seconds. */
static const double metrics_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define N_BUCKETS (sizeof(metrics_buckets) / sizeof(metrics_buckets[0]))

struct series {
    char key[METRICS_KEY_MAX]; /* family{labels} */
    double value;
};

static struct series registry[METRICS_SERIES_MAX];
static size_t n_series;
static int metrics_fd = -1;
static bool registry_full_logged;
static struct timespec last_publish;

void
metrics_init(int fd)
{
    metrics_fd = fd;
}

/* Finds or adds the series family{labels}; NULL when the registry is full. */
static struct series *
series_get(const char *family, const char *suffix, const char *labels)
{
    char key[METRICS_KEY_MAX];
    int n;

    if (labels && *labels)
        n = snprintf(key, sizeof(key), "%s%s{%s}", family, suffix, labels);
    else
        n = snprintf(key, sizeof(key), "%s%s", family, suffix);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;

    for (size_t i = 0; i < n_series; i++)
        if (strcmp(registry[i].key, key) == 0)
            return &registry[i];

    if (n_series == METRICS_SERIES_MAX) {
        if (!registry_full_logged)
            log_warn("metrics registry full at %d series, dropping %s",
                     METRICS_SERIES_MAX, key);
        registry_full_logged = true;
        return NULL;
    }
    memcpy(registry[n_series].key, key, (size_t)n + 1);
    registry[n_series].value = 0;
    return &registry[n_series++];
}

void
metrics_add(const char *family, const char *labels, double delta)
{
    struct series *s = series_get(family, "", labels);

    if (s)
        s->value += delta;
}

void
metrics_set(const char *family, const char *labels, double value)
{
    struct series *s = series_get(family, "", labels);

    if (s)
        s->value = value;
}

void
metrics_observe(const char *family, const char *labels, double value)
{
    char with_le[METRICS_KEY_MAX];
    const char *sep = labels && *labels ? "," : "";
    struct series *s;

    for (size_t i = 0; i <= N_BUCKETS; i++) {
        if (i < N_BUCKETS && value > metrics_buckets[i])
            continue;
        if (i < N_BUCKETS)
            snprintf(with_le, sizeof(with_le), "%s%sle=\"%g\"",
                     labels ? labels : "", sep, metrics_buckets[i]);
        else
            snprintf(with_le, sizeof(with_le), "%s%sle=\"+Inf\"",
                     labels ? labels : "", sep);
        s = series_get(family, "_bucket", with_le);
        if (s)
            s->value += 1;
    }
    s = series_get(family, "_sum", labels);
    if (s)
        s->value += value;
    s = series_get(family, "_count", labels);
    if (s)
        s->value += 1;
}

size_t
metrics_format(char *buf, size_t size)
{
    size_t len = 0;

    for (size_t i = 0; i < n_series; i++) {
        int n =
            snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
                     "%s %.17g\n", registry[i].key, registry[i].value);
        if (n > 0)
            len += (size_t)n;
    }
    return len;
}

void
metrics_publish(bool force)
{
    static char buf[METRICS_DATAGRAM];
    struct timespec now;
    size_t len;

    if (metrics_fd < 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!force && now.tv_sec == last_publish.tv_sec)
        return;
    last_publish = now;

    len = metrics_format(buf, sizeof(buf));
    if (len > sizeof(buf))
        len = sizeof(buf);
    /*
     * An empty datagram reads as the end of the socket to the master,
     * which would stop listening to this child for good.
     */
    if (len == 0)
        return;
    /* A full socket means the master is busy: the next snapshot will do. */
    if (send(metrics_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
        return;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        return;
    log_warn("send() of metrics failed: %s, not publishing any more",
             strerror(errno));
    metrics_fd = -1;
}
