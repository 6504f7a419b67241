/*
 * The emitter process: reads the change records of every watcher from
 * their pipes, decides Events (event.h), writes them (writer.h), and keeps
 * each watcher's position and state (position.h).
 *
 * The master hands it the pipes over --control-fd, a SOCK_SEQPACKET
 * socket: "add KEY" with the read end of KEY's pipe as SCM_RIGHTS, and
 * "remove KEY".  Tests pass pipes as --input KEY=FD instead.
 *
 * With --lease the emitter first elects a leader among the replicas
 * (election.h) and tells the master "leader" over the same socket once it
 * leads; until then it takes no pipe.  It exits with EXIT_LEASE_LOST
 * (children.h) when it cannot renew the Lease.
 */
#ifndef EC_EMITTER_H
#define EC_EMITTER_H

#include <stddef.h>

#include "config.h"
#include "kube.h"

#define EMITTER_INPUTS_MAX 1024

struct emitter_input {
    const char *key;
    int fd;
};

struct emitter_options {
    const char *state_dir;
    int control_fd; /* -1: none */
    struct kube_options kube;
    const char *reporting_controller;
    const char *reporting_instance;
    const char *lease_name;      /* NULL: no leader election */
    const char *lease_namespace; /* NULL: the client's own namespace */
    struct ec_emitter_settings settings;
    struct emitter_input inputs[EMITTER_INPUTS_MAX];
    size_t n_inputs;
};

/* Runs until SIGTERM or the end of the control socket; the exit status. */
int emitter_run(const struct emitter_options *opt);

/* "event-controller emitter ...": parses argv and runs. */
int emitter_command(int argc, char **argv);

#endif
