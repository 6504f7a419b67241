/*
 * The per-object spam limit of client-go's Event recorder: each object may
 * have a burst of Events, then one per interval.  Limited Events are not
 * written; the caller counts and logs them.
 */
#ifndef EC_SPAM_H
#define EC_SPAM_H

#include <stdbool.h>

struct spam;

/* NULL when out of memory. */
struct spam *spam_new(int burst, int interval_s);
void spam_free(struct spam *spam);

/* Whether one more Event for the object uid may be written at now (s). */
bool spam_allow(struct spam *spam, const char *uid, double now);

#endif
