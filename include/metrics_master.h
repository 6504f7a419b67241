/*
 * The master's side of the metrics: it checks the sample lines children
 * send (they are not trusted), and renders /metrics from its own families
 * and the children's latest samples, one HELP and TYPE per family.
 */
#ifndef EC_METRICS_MASTER_H
#define EC_METRICS_MASTER_H

#include <stdbool.h>
#include <stddef.h>

struct master;

/*
 * Keeps the lines of a datagram that are valid samples ("name{labels}
 * value"), each ending in a newline; returns a new string or NULL.
 * *dropped counts the lines refused.
 */
char *metrics_samples_filter(const char *data, size_t len, size_t *dropped);

/* True when samples hold a sample of the gauge name whose value is 1. */
bool metrics_samples_flag(const char *samples, const char *name);

/* Renders the Prometheus text format 0.0.4; a malloc'd string or NULL. */
char *metrics_render(const struct master *m, size_t *len);

#endif
