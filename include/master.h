/*
 * The master process: it starts a watcher per resource and namespace and
 * one emitter, wires their pipes together, restarts what crashes, reloads
 * the configuration, serves /metrics and /healthz, and is the only
 * process that talks to systemd.
 */
#ifndef EC_MASTER_H
#define EC_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "children.h"
#include "config.h"
#include "options.h"

struct http_server;

struct master {
    sd_event *event;
    const struct options *opts;
    struct ec_config *cfg;

    struct child *emitter;
    struct child **watchers; /* wanted and still running ones */
    size_t n_watchers;
    int control_fd; /* the master's end of the emitter's control socket */
    sd_event_source *control_source;
    /* The emitter may take pipes: it leads, or there is no election. */
    bool emitter_leads;
    char **held; /* keys whose changes the emitter still holds */
    size_t n_held;

    sd_event_source *restart_timer;  /* the next restart due */
    sd_event_source *shutdown_timer; /* escalates to SIGKILL */
    bool stopping;
    bool ready_sent;
    int exit_status;

    /* The emitter's last crashes, to tell a crash loop. */
    uint64_t emitter_crashes[5];
    size_t n_emitter_crashes;

    unsigned long reloads_ok, reloads_failed;
    struct reload_state *reload;
    struct http_server *http;
    char status[256]; /* the last STATUS= sent */
};

/* Runs the master until shutdown; returns the process's exit status. */
int master_main(const struct options *opts);

/*
 * Brings the children in line with m->cfg: starts what should run and is
 * due, stops what should not run.  Called after every change.
 */
void master_reconcile(struct master *m);

/*
 * Runs with cfg (owned from now on) and frees the previous configuration:
 * watchers are started, stopped or left alone to match it.
 */
int master_set_config(struct master *m, struct ec_config *cfg);

/* log_error for each "file:line: problem". */
void master_log_problems(const struct config_problems *problems);

/* Stops the emitter on purpose; it and the watchers start again. */
void master_restart_emitter(struct master *m);

/* Updates readiness, STATUS= and READY=1 from the children's state. */
void master_report(struct master *m);

/* Emitter up and every watcher synced; else why not, in reason. */
bool master_ready(const struct master *m, char *reason, size_t size);

/* The control socket to the emitter (control.c). */
int control_open(struct master *m, int fd);
void control_reset(struct master *m);
int control_send(struct master *m, const char *verb, struct child *c);
void control_send_pipes(struct master *m);
bool control_held(const struct master *m, const char *key);

/* Reload: inotify on the configuration's folders, SIGHUP. */
int reload_init(struct master *m);
void reload_watch_files(struct master *m);
void reload_now(struct master *m);
void reload_free(struct master *m);

/* systemd's notification protocol; only the master may use it. */
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(struct master *m, const char *status);
int notify_watchdog_init(sd_event *event);

#endif
