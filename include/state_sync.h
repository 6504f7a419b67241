/*
 * Positions kept in the cluster, so that a new leader resumes where the
 * old one stopped.
 *
 * Each watcher key has a ConfigMap "<lease>-state-<hash of the key>" in
 * the Lease's namespace, labelled app.kubernetes.io/managed-by=
 * event-controller, that holds the key in data and the key's state file
 * and journal gzip'd in binaryData (and the aggregation table that
 * earlier versions kept in a file of its own).  The leader uploads a
 * key's files after the emitter saved them locally, so the cluster is
 * never ahead of what the leader saved: a new leader sends their outbox
 * again and may replay a little, which the deterministic Event names make
 * harmless (409), and never skips a change.
 *
 * Known shortcoming: a ConfigMap holds at most 1 MiB.  A state larger
 * than that gzip'd stays on the leader's disk only, with a warning; a new
 * leader then resumes from the last upload that fitted, or from scratch.
 */
#ifndef EC_STATE_SYNC_H
#define EC_STATE_SYNC_H

#include "kube.h"

/* Uploads at most this often, which bounds what a failover replays. */
#define STATE_SYNC_PERIOD_S 2

struct state_sync;

/* Returns 0 or -ENOMEM. */
int state_sync_new(struct kube_client *client, const char *namespace,
                   const char *lease_name, const char *state_dir,
                   struct state_sync **out);

void state_sync_free(struct state_sync *sync);

/*
 * Writes the state of every key the cluster holds into the state folder,
 * each file atomically.  Returns 0, or a negative errno, logged here.
 */
int state_sync_restore(struct state_sync *sync);

/*
 * Uploads the local files of key unless generation, a count of its local
 * saves, was uploaded already.  Returns 0 or a negative errno, logged
 * here; a failed upload is tried again at the next call.
 */
int state_sync_upload(struct state_sync *sync, const char *key,
                      unsigned long generation);

#endif
