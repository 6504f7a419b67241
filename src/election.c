/*
 * Leader election in the emitter (election.h): a small state machine
 * turned by the emitter's loop about ten times a second.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "election.h"
#include "lease.h"
#include "log.h"
#include "state_sync.h"

/*
 * client-go jitters the retries of a standby by up to 1.2 periods.  A
 * jitter of 0.2 keeps the worst takeover after a leader dies within 20 s:
 * its last renewal at most 2 s before, seen at most 2.4 s after, 15 s of
 * duration, and a last retry at most 2.4 s late.
 */
#define STANDBY_JITTER 0.2

struct election {
    struct lease *lease;
    struct state_sync *sync;
    enum election_state state;
    char *namespace, *lease_name;
    char identity[LEASE_HOLDER_MAX];
    int control_fd;
    double next_try, renewed_at, next_upload; /* monotonic seconds */
    unsigned int seed;
};

/* Monotonic seconds. */
static double
mono_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * holderIdentity: the instance and 16 random hex digits, unique per
 * process start as client-go's host name and UUID are, so that a
 * restarted emitter never mistakes its predecessor's Lease for its own.
 */
static void
make_identity(struct election *el, const char *instance)
{
    unsigned char r[8];
    char hex[17];

    if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
        uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

        memcpy(r, &t, sizeof(r));
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    memcpy(&el->seed, r, sizeof(el->seed));
    snprintf(el->identity, sizeof(el->identity), "%s_%s", instance, hex);
}

int
election_new(struct kube_client *client, const struct election_options *o,
             struct election **out)
{
    struct election *el = calloc(1, sizeof(*el));
    const char *ns =
        o->namespace ? o->namespace : kube_client_namespace(client);

    if (!el)
        return -ENOMEM;
    el->control_fd = o->control_fd;
    make_identity(el, o->instance);
    el->namespace = strdup(ns);
    el->lease_name = strdup(o->lease_name);
    if (!el->namespace || !el->lease_name ||
        lease_new(client, ns, o->lease_name, el->identity, &el->lease) < 0 ||
        state_sync_new(client, ns, o->lease_name, o->state_dir, &el->sync) <
            0) {
        election_free(el);
        return -ENOMEM;
    }
    log_info(1, "standing by for Lease %s/%s as %s", ns, o->lease_name,
             el->identity);
    *out = el;
    return 0;
}

void
election_free(struct election *el)
{
    if (!el)
        return;
    lease_free(el->lease);
    state_sync_free(el->sync);
    free(el->namespace);
    free(el->lease_name);
    free(el);
}

/* Tells the master that the watchers may start. */
static void
announce(struct election *el)
{
    el->state = ELECTION_LEADING;
    el->next_upload = mono_s() + STATE_SYNC_PERIOD_S;
    log_info(1, "leading: Lease %s/%s held and positions restored",
             el->namespace, el->lease_name);
    if (el->control_fd >= 0 &&
        send(el->control_fd, "leader", 6, MSG_NOSIGNAL) < 0)
        log_warn("send() of \"leader\" to the master failed: %s, the "
                 "watchers start when the master sees it again",
                 strerror(errno));
}

/* The next try of a standby, jittered so that standbys spread out. */
static double
standby_retry(struct election *el, double now)
{
    double jitter = (double)rand_r(&el->seed) / RAND_MAX * STANDBY_JITTER;

    return now + LEASE_RETRY_PERIOD_S * (1.0 + jitter);
}

/* After a round while holding the Lease: lost, or still ours. */
static void
check_renewal(struct election *el, int r)
{
    double since = mono_s() - el->renewed_at;

    if (r == 0) {
        log_warn("lost Lease %s/%s to another holder, stopping writes and "
                 "exiting",
                 el->namespace, el->lease_name);
        el->state = ELECTION_LOST;
    } else if (r < 0 && since >= LEASE_RENEW_DEADLINE_S) {
        log_warn("cannot renew Lease %s/%s for %.0f s, past the renew "
                 "deadline of %d s: stopping writes and exiting",
                 el->namespace, el->lease_name, since, LEASE_RENEW_DEADLINE_S);
        el->state = ELECTION_LOST;
    }
}

/* Tries or renews the Lease when due; see election.h. */
enum election_state
election_tick(struct election *el)
{
    double now = mono_s();
    int r;

    if (el->state == ELECTION_LOST || now < el->next_try)
        return el->state;
    /*
     * Known shortcoming: the request blocks the emitter, and an apiserver
     * that accepts it and never answers holds it for the client's stall
     * limit (90 s).  Nothing is written meanwhile, and the deadline check
     * after it gives the Lease up, so no second leader writes beside us.
     */
    r = lease_try(el->lease, now);
    if (r == 1)
        el->renewed_at = now;

    if (el->state == ELECTION_STANDBY) {
        el->next_try = standby_retry(el, now);
        if (r != 1)
            return el->state;
        log_info(1, "acquired Lease %s/%s, restoring positions", el->namespace,
                 el->lease_name);
        el->state = ELECTION_RESTORING;
    } else {
        el->next_try = now + LEASE_RETRY_PERIOD_S;
        check_renewal(el, r);
    }

    if (el->state == ELECTION_RESTORING && state_sync_restore(el->sync) == 0)
        announce(el);
    return el->state;
}

bool
election_upload_due(struct election *el, bool force)
{
    double now = mono_s();

    if (el->state != ELECTION_LEADING || (!force && now < el->next_upload))
        return false;
    el->next_upload = now + STATE_SYNC_PERIOD_S;
    return true;
}

void
election_upload(struct election *el, const char *key, unsigned long generation)
{
    state_sync_upload(el->sync, key, generation);
}

void
election_release(struct election *el)
{
    if (el->state == ELECTION_RESTORING || el->state == ELECTION_LEADING)
        lease_release(el->lease);
}
