/*
 * The emitter's side of leader election: when to try the Lease (lease.h),
 * restoring positions from the cluster before leading (state_sync.h),
 * telling the master "leader" over the control socket so that it starts
 * the watchers, and uploading positions while leading.
 *
 * The emitter runs it because it is the only process that writes: when
 * it stops leading it exits, and everything it wrote is behind the
 * position it uploaded last.
 */
#ifndef EC_ELECTION_H
#define EC_ELECTION_H

#include <stdbool.h>

#include "kube.h"

enum election_state {
    ELECTION_STANDBY,   /* another replica leads; we retry the Lease */
    ELECTION_RESTORING, /* we hold the Lease; positions not restored yet */
    ELECTION_LEADING,   /* positions restored, the master told */
    ELECTION_LOST,      /* the Lease could not be renewed: stop writing */
};

struct election_options {
    const char *namespace; /* NULL: the client's own namespace */
    const char *lease_name;
    const char *instance; /* reportingInstance, the start of the identity */
    const char *state_dir;
    int control_fd; /* where "leader" goes; -1: nowhere */
};

struct election;

/* Returns 0 or -ENOMEM. */
int election_new(struct kube_client *client, const struct election_options *o,
                 struct election **out);

void election_free(struct election *election);

/* Tries or renews the Lease when due; the state after it. */
enum election_state election_tick(struct election *election);

/*
 * Whether positions are due for an upload: while leading, every
 * STATE_SYNC_PERIOD_S, or now if force.
 */
bool election_upload_due(struct election *election, bool force);

/* Uploads the state of key if its generation changed. */
void election_upload(struct election *election, const char *key,
                     unsigned long generation);

/* Gives the Lease up on a clean stop, for a fast takeover. */
void election_release(struct election *election);

#endif
