/*
 * Metrics of the child processes.
 *
 * A child counts into a small registry of its own and publishes a snapshot
 * of it to the master, at most about once a second, as one datagram on the
 * SOCK_SEQPACKET socket the master gave it (--metrics-fd).  The snapshot is
 * Prometheus sample lines without HELP or TYPE ("name{labels} value");
 * the master knows every family, merges the children's samples and serves
 * /metrics.  A child without a metrics socket counts and publishes nothing.
 */
#ifndef EC_METRICS_H
#define EC_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* Uses fd, a SOCK_SEQPACKET socket, for publishing; -1 disables. */
void metrics_init(int fd);

/*
 * Adds delta to the counter or sets the gauge named family with labels,
 * given as Prometheus label text without braces ("resource=\"x\"") or
 * NULL.  Series beyond the registry's capacity are dropped, once logged.
 */
void metrics_add(const char *family, const char *labels, double delta);
void metrics_set(const char *family, const char *labels, double value);

/*
 * Records value in the histogram family with the fixed buckets of
 * metrics_buckets (seconds): family_bucket, family_sum and family_count.
 */
void metrics_observe(const char *family, const char *labels, double value);

/* Sends a snapshot if a second has passed since the last one, or if force. */
void metrics_publish(bool force);

/*
 * Formats the registry as sample lines into buf; returns the length, or
 * the length it would need when larger than size.  For tests.
 */
size_t metrics_format(char *buf, size_t size);

#endif
