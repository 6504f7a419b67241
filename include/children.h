/*
 * The child processes: how each is started (fork and exec of this binary
 * with a role word), the table entry the master keeps for it, and when a
 * child that ended is started again.
 */
#ifndef EC_CHILDREN_H
#define EC_CHILDREN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"

/* sysexits.h: a fatal configuration problem; the child is not restarted. */
#define EXIT_CONFIG 78

/*
 * The emitter could not renew the leader Lease and stopped writing
 * (sysexits.h's EX_TEMPFAIL): it stands by again, which is no crash.
 */
#define EXIT_LEASE_LOST 75

enum child_role {
    CHILD_WATCHER,
    CHILD_EMITTER,
};

enum child_state {
    CHILD_IDLE,     /* not running; starts when due */
    CHILD_RUNNING,  /* running and wanted */
    CHILD_STOPPING, /* sent SIGTERM, waiting for it to end */
    CHILD_FAILED,   /* ended fatally (78): waits for a new configuration */
};

struct child {
    enum child_role role;
    char *key; /* watcher: "resource.version.group@namespace"; "emitter" */
    char *namespace; /* watcher: NULL for its client's own namespace */
    bool all_namespaces;
    struct ec_resource *resource; /* watcher: points into the master's cfg */
    char **argv;                  /* of the running process */
    pid_t pid;
    enum child_state state;
    bool wanted;     /* false: removed, freed once it ended */
    int output_read; /* watcher: pipe end not yet given to the emitter */
    int metrics_fd;  /* the master's end of the metrics socket */
    sd_event_source *metrics_source;

    uint64_t started_usec; /* CLOCK_MONOTONIC */
    uint64_t due_usec;     /* when it may start again */
    unsigned backoff_ms;   /* the last delay; 0 after a healthy run */
    unsigned long restarts;

    char *samples; /* the last metrics datagram, validated lines only */
    bool synced;   /* watcher: its first list is done */
    bool waiting;  /* watcher: its resource is not served or not allowed */
};

struct child *child_new(enum child_role role, const char *key,
                        const char *namespace, struct ec_resource *resource);
void child_free(struct child *c);

/*
 * The command line of the child for cfg (NULL-terminated, owned by the
 * caller, freed with child_argv_free), or NULL when out of memory.
 */
char **child_argv(const struct child *c, const struct ec_config *cfg);
void child_argv_free(char **argv);
bool child_argv_equal(char **a, char **b);

/*
 * Starts argv as the child c, with out_fd as its fd 3 and a new metrics
 * socket as its fd 4.  Returns 0 or -errno; exec failures included.
 */
int child_spawn(struct child *c, char **argv, int out_fd);

/*
 * Records the end of c with wait status: logs it and computes when it
 * may start again.  Returns true when it should be started again.
 */
bool child_ended(struct child *c, int status, uint64_t now_usec);

/* Whether status is the emitter's exit after losing the leader Lease. */
bool child_lost_lease(const struct child *c, int status);

/*
 * The filename-safe key of a watcher: resource key + "@" + scope, the
 * scope being a namespace, "all" for every namespace, "own" for the
 * client's own.
 */
char *child_watcher_key(const struct ec_resource *r, const char *namespace);

uint64_t now_usec(void);

#endif
