/*
 * The watcher: one process per resource and namespace scope.  It lists
 * and watches the resource as client-go's Reflector does and writes every
 * change it observes, once, as a change record (record.h) to its output,
 * which the master connects to the emitter.
 *
 * Its exit status tells the master what to do next.
 */
#ifndef EC_WATCHER_H
#define EC_WATCHER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct kube_client;

/* Stopped by a signal, or its reader is gone: nothing to restart. */
#define WATCHER_EXIT_OK 0
/* sysexits.h's EX_USAGE: a command line the master should never build. */
#define WATCHER_EXIT_USAGE 64
/* EX_TEMPFAIL: a failure a restart may cure; restart with backoff. */
#define WATCHER_EXIT_TEMPFAIL 75
/*
 * EX_CONFIG: this resource cannot be watched as configured (it does not
 * support list and watch, the server rejects a selector, the kubeconfig
 * is broken); restarting will not help until the configuration changes.
 */
#define WATCHER_EXIT_CONFIG 78

/* Without --stall-timeout: see the option in watcher_main.c. */
#define WATCHER_DEFAULT_STALL_SECONDS 120

struct watcher_options {
    const char *group; /* "" for the core group */
    const char *version;
    const char *resource;
    const char *namespace;                       /* NULL: every namespace */
    const char *label_selector, *field_selector; /* NULL: none */
    char *const *status_fields;
    size_t n_status_fields;
    const char *state_path; /* a snapshot to resume from, or NULL */
    const char *key;        /* "notebooks.v1beta1.tensorstack.dev" */
    int output_fd;
    size_t max_event_bytes;
    long stall_seconds;
    /*
     * Stand by if the resource is cluster-scoped: the watcher of another
     * namespace of the same list watches it, once for all.
     */
    bool namespaced_only;
};

/*
 * Watches until *stop is set (exit 0) or a failure the watcher cannot get
 * past; returns the exit status.
 */
int watcher_run(struct kube_client *client, const struct watcher_options *opt,
                volatile sig_atomic_t *stop);

/*
 * "event-controller watcher ...": parses the command line, sets up
 * signals, logging, metrics and the client, and runs the watcher.
 */
int watcher_command(int argc, char **argv);

/*
 * "event-controller records": reads change records on stdin and prints
 * each as one JSON line on stdout; for debugging and the tests.
 */
int records_command(int argc, char **argv);

#endif
