/*
 * Leader election through a coordination.k8s.io/v1 Lease, with the rules
 * and timings of client-go's leaderelection package.
 *
 * A candidate reads the Lease, creates it when absent, and takes it over
 * when it is free: held by nobody, or not changed for leaseDurationSeconds
 * by the candidate's own clock.  Remote timestamps are written but never
 * trusted, so clock skew between replicas cannot elect two leaders.  The
 * leader renews every LEASE_RETRY_PERIOD_S and gives up when it has not
 * renewed for LEASE_RENEW_DEADLINE_S, which is shorter than the duration
 * a standby waits, so the old leader stops before a new one starts.
 * Every write carries the resourceVersion that was read: of two replicas
 * racing for a free Lease, the apiserver lets one win (409 Conflict).
 */
#ifndef EC_LEASE_H
#define EC_LEASE_H

#include <stdbool.h>
#include <stddef.h>

#include "kube.h"

/* client-go's defaults: LeaseDuration 15 s, RenewDeadline 10 s, 2 s retry. */
#define LEASE_DURATION_S       15
#define LEASE_RENEW_DEADLINE_S 10
#define LEASE_RETRY_PERIOD_S   2

/* holderIdentity is at most this long here; ours stays well within it. */
#define LEASE_HOLDER_MAX 256

/* The spec of a Lease and the version it was read at. */
struct lease_record {
    char holder[LEASE_HOLDER_MAX]; /* "" when nobody holds it */
    char resource_version[64];
    long duration_s;       /* leaseDurationSeconds; 0 if unset */
    long transitions;      /* leaseTransitions */
    char acquire_time[40]; /* MicroTime, RFC 3339 with µs */
    char renew_time[40];
};

/* What a candidate knows of the Lease and when it last saw it change. */
struct lease_observation {
    bool seen;
    struct lease_record record;
    double changed_at; /* CLOCK_MONOTONIC seconds */
};

enum lease_verdict {
    LEASE_OURS, /* we hold it: renew */
    LEASE_FREE, /* nobody holds it, or the holder let it expire: take it */
    LEASE_HELD, /* another holder renews it: wait */
};

/*
 * Parses a Lease object (the body of a GET).  Returns 0, or -EBADMSG when
 * body is not a Lease.
 */
int lease_parse(const char *body, size_t len, struct lease_record *out);

/* Notes record as read at now; the clock restarts when it changed. */
void lease_observe(struct lease_observation *o,
                   const struct lease_record *record, double now);

/* Whose the observed Lease is at now, for a candidate called identity. */
enum lease_verdict lease_decide(const struct lease_observation *o,
                                const char *identity, double now);

/* A MicroTime for the wall clock now: "2006-01-02T15:04:05.000000Z". */
void lease_micro_time(char *buf, size_t size);

struct lease;

/*
 * A candidate for Lease name in namespace, as identity.  Returns 0 or
 * -ENOMEM.
 */
int lease_new(struct kube_client *client, const char *namespace,
              const char *name, const char *identity, struct lease **out);

void lease_free(struct lease *lease);

/*
 * One round of acquire-or-renew at monotonic time now.  Returns 1 when we
 * hold the Lease after it, 0 when another holder does, -EAGAIN when our
 * write lost a race (409 Conflict), and another negative errno when the
 * apiserver could not be asked; the reason is logged here.
 */
int lease_try(struct lease *lease, double now);

/*
 * Gives the Lease up as client-go's ReleaseOnCancel does: holder cleared,
 * duration 1 s, so that a standby takes over at once.
 */
void lease_release(struct lease *lease);

#endif
