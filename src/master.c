/*
 * The master's event loop.
 *
 * Everything the master does happens on one sd-event loop in one thread:
 * signals (blocked, then read as signal sources), children's metrics
 * datagrams, the restart timer, inotify, HTTP.  One thread matters twice:
 * nothing needs a lock, and PR_SET_PDEATHSIG fires when the thread that
 * forked ends, which here is the process.
 *
 * The emitter holds the read ends of the watchers' pipes.  Records it had
 * read but not written are lost when it dies, so then every watcher whose
 * pipe it held is stopped too and started again with a fresh pipe once
 * the emitter is back; each resumes from the state file the emitter keeps.
 *
 * With leader election the emitter of a standby replica runs alone: the
 * watchers start only once it says "leader" on the control socket, and
 * all of them stop when it ends, whatever the reason.
 *
 * A watcher that ends alone starts again only once the emitter has
 * released what it held of it (control.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "master.h"
#include "metrics_master.h"
#include "settings.h"

/* A child asked to stop gets SIGKILL after this long. */
#define STOP_TIMEOUT_US (10 * 1000000ULL)

/* The emitter crashing this often this fast means it cannot stay up. */
#define EMITTER_CRASH_WINDOW_US (120 * 1000000ULL)
#define EMITTER_CRASHES_MAX     5

/* There is one master a process; the metrics callbacks report to it. */
static struct master *the_master;

/* Asks c to stop; it is killed if it has not ended by the deadline. */
static void
child_stop(struct child *c, uint64_t timeout_us)
{
    if (c->pid <= 0 || c->state == CHILD_STOPPING)
        return;
    if (kill(c->pid, SIGTERM) < 0)
        log_warn("kill() of %s pid %d failed: %s", c->key, (int)c->pid,
                 strerror(errno));
    c->state = CHILD_STOPPING;
    c->due_usec = now_usec() + timeout_us;
}

/* Drops c from the watcher table and frees it. */
static void
watcher_remove(struct master *m, size_t i)
{
    struct child *c = m->watchers[i];

    if (m->emitter->pid > 0)
        control_send(m, "remove", c);
    log_info(1, "stopped watching %s", c->key);
    m->watchers[i] = m->watchers[--m->n_watchers];
    child_free(c);
}

/* Reads a child's metrics datagram and keeps its valid samples. */
static int
on_metrics(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    static char buf[65536];
    struct child *c = userdata;
    size_t dropped = 0;
    ssize_t n;
    char *samples;

    n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        /* The child closed its end: it is ending. */
        sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
    }
    if ((size_t)n > sizeof(buf)) {
        log_warn("metrics datagram of %s is %zd bytes, more than %zu, "
                 "ignoring it",
                 c->key, n, sizeof(buf));
        return 0;
    }

    samples = metrics_samples_filter(buf, (size_t)n, &dropped);
    if (!samples)
        return 0;
    if (dropped > 0)
        log_warn("%zu metrics lines of %s are not samples, dropping them",
                 dropped, c->key);
    free(c->samples);
    c->samples = samples;
    if (c->role == CHILD_WATCHER)
        c->waiting =
            metrics_samples_flag(samples, "event_controller_watch_waiting");
    if (c->role == CHILD_WATCHER && !c->synced &&
        metrics_samples_flag(samples, "event_controller_watch_synced")) {
        c->synced = true;
        log_info(2, "watcher %s has its first list", c->key);
        master_report(the_master);
    }
    return 0;
}

/* Starts c, a watcher or the emitter; on failure it is retried later. */
static int
start_child(struct master *m, struct child *c)
{
    int fds[2] = {-1, -1};
    char **argv;
    int r;

    if (!(argv = child_argv(c, m->cfg)))
        return -ENOMEM;
    if (c->role == CHILD_WATCHER)
        r = pipe2(fds, O_CLOEXEC);
    else
        r = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
    if (r < 0) {
        r = -errno;
        goto out_failed;
    }

    c->started_usec = now_usec();
    r = child_spawn(c, argv, fds[1]);
    close(fds[1]);
    if (r < 0) {
        close(fds[0]);
        goto out_failed;
    }

    child_argv_free(c->argv);
    c->argv = argv;
    c->state = CHILD_RUNNING;
    c->synced = false;
    if (c->role == CHILD_WATCHER) {
        if (c->output_read >= 0)
            close(c->output_read);
        c->output_read = fds[0];
    } else {
        control_open(m, fds[0]);
    }
    sd_event_add_io(m->event, &c->metrics_source, c->metrics_fd, EPOLLIN,
                    on_metrics, c);
    log_info(1, "started %s %s, pid %d",
             c->role == CHILD_WATCHER ? "watcher" : "emitter", c->key,
             (int)c->pid);
    return 0;

out_failed:
    log_error("cannot start %s: %s, retrying in 5 s", c->key, strerror(-r));
    child_argv_free(argv);
    c->due_usec = now_usec() + 5000000;
    return r;
}

/* Whether any watcher is still on its way out. */
static bool
watchers_stopping(const struct master *m)
{
    for (size_t i = 0; i < m->n_watchers; i++)
        if (m->watchers[i]->state == CHILD_STOPPING)
            return true;
    return false;
}

/* Arms the restart timer for the earliest deadline of any child. */
static void
arm_timer(struct master *m)
{
    uint64_t next = UINT64_MAX;
    struct child *c;

    for (size_t i = 0; i <= m->n_watchers; i++) {
        c = i < m->n_watchers ? m->watchers[i] : m->emitter;
        /* A held watcher waits for the emitter's word, not for a time. */
        if (c->state == CHILD_IDLE && c->role == CHILD_WATCHER &&
            control_held(m, c->key))
            continue;
        if ((c->state == CHILD_IDLE || c->state == CHILD_STOPPING) &&
            c->due_usec < next)
            next = c->due_usec;
    }
    if (next == UINT64_MAX) {
        sd_event_source_set_enabled(m->restart_timer, SD_EVENT_OFF);
        return;
    }
    sd_event_source_set_time(m->restart_timer, next);
    sd_event_source_set_enabled(m->restart_timer, SD_EVENT_ONESHOT);
}

/* Shutdown: the watchers first, then the emitter drains, then exit. */
static void
shutdown_step(struct master *m)
{
    uint64_t drain = (uint64_t)m->cfg->emitter.drain_timeout_s * 1000000;

    for (size_t i = 0; i < m->n_watchers; i++) {
        child_stop(m->watchers[i], STOP_TIMEOUT_US);
        if (m->watchers[i]->pid > 0)
            return;
    }
    if (m->emitter->pid > 0) {
        /* The emitter may use the whole drain time; 2 s more to exit. */
        child_stop(m->emitter, drain + 2000000);
        return;
    }
    sd_event_exit(m->event, m->exit_status);
}

void
master_reconcile(struct master *m)
{
    struct child *e = m->emitter;
    uint64_t now = now_usec();

    if (m->stopping) {
        shutdown_step(m);
        goto out;
    }

    if (e->state == CHILD_IDLE && e->due_usec <= now && !watchers_stopping(m) &&
        start_child(m, e) == 0 && m->emitter_leads)
        control_send_pipes(m);

    for (size_t i = 0; i < m->n_watchers; i++) {
        struct child *c = m->watchers[i];

        if (c->state != CHILD_IDLE || c->due_usec > now)
            continue;
        /* Wait for the emitter unless it cannot run at all. */
        if (!(e->state == CHILD_RUNNING && m->emitter_leads) &&
            !(e->state == CHILD_FAILED && !m->cfg->leader_election))
            continue;
        /* It would read a state file the emitter is still writing. */
        if (control_held(m, c->key)) {
            log_info(2, "watcher %s waits for the emitter to release it",
                     c->key);
            continue;
        }
        if (start_child(m, c) == 0 && e->state == CHILD_RUNNING)
            control_send(m, "add", c);
    }

out:
    arm_timer(m);
    master_report(m);
}

/* Kills children that did not stop in time, then reconciles. */
static int
on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct master *m = userdata;
    struct child *c;

    for (size_t i = 0; i <= m->n_watchers; i++) {
        c = i < m->n_watchers ? m->watchers[i] : m->emitter;
        if (c->state != CHILD_STOPPING || c->due_usec > usec || c->pid <= 0)
            continue;
        log_error("%s pid %d did not stop in time, killing it", c->key,
                  (int)c->pid);
        kill(c->pid, SIGKILL);
        c->due_usec = UINT64_MAX;
    }
    master_reconcile(m);
    return 0;
}

/* True when the emitter crashed too often too fast to go on. */
static bool
emitter_crash_loop(struct master *m, uint64_t now)
{
    uint64_t *v = m->emitter_crashes;

    if (m->n_emitter_crashes == EMITTER_CRASHES_MAX) {
        memmove(v, v + 1, (EMITTER_CRASHES_MAX - 1) * sizeof(*v));
        m->n_emitter_crashes--;
    }
    v[m->n_emitter_crashes++] = now;
    return m->n_emitter_crashes == EMITTER_CRASHES_MAX &&
           now - v[0] < EMITTER_CRASH_WINDOW_US;
}

/* Starts the shutdown; status is the master's exit status. */
static void
master_stop(struct master *m, int status)
{
    if (m->stopping)
        return;
    m->stopping = true;
    m->exit_status = status;
    notify_stopping();
}

/* The emitter ended: its watchers' pipes are gone with it. */
static void
emitter_ended(struct master *m, int status)
{
    struct child *e = m->emitter;
    uint64_t now = now_usec();
    bool lost_lease = child_lost_lease(e, status);

    control_reset(m);

    if (m->stopping || e->state == CHILD_STOPPING) {
        log_info(1, "emitter pid %d ended", (int)e->pid);
        e->pid = 0;
        e->state = CHILD_IDLE;
        e->due_usec = now;
    } else if (!child_ended(e, status, now)) {
        log_error("the emitter cannot run with this configuration, exiting "
                  "so that the whole service stops visibly");
        master_stop(m, EXIT_FAILURE);
    } else if (!lost_lease && emitter_crash_loop(m, now)) {
        log_error("the emitter crashed %d times within %llu s, exiting so "
                  "that the whole service restarts",
                  EMITTER_CRASHES_MAX,
                  (unsigned long long)(EMITTER_CRASH_WINDOW_US / 1000000));
        master_stop(m, EXIT_FAILURE);
    }

    /* Without a leading emitter no replica's watchers may run. */
    for (size_t i = 0; i < m->n_watchers; i++)
        if (m->watchers[i]->output_read < 0 || m->cfg->leader_election)
            child_stop(m->watchers[i], STOP_TIMEOUT_US);
}

/* A watcher ended: as asked, removed, or on its own. */
static void
watcher_ended(struct master *m, size_t i, int status)
{
    struct child *c = m->watchers[i];

    if (!c->wanted) {
        c->pid = 0;
        watcher_remove(m, i);
        return;
    }
    if (m->stopping || c->state == CHILD_STOPPING) {
        log_info(2, "watcher %s pid %d ended", c->key, (int)c->pid);
        c->pid = 0;
        c->state = CHILD_IDLE;
        c->due_usec = now_usec();
        return;
    }
    child_ended(c, status, now_usec());
}

/* Forgets what a child that ended had published. */
static void
child_forget(struct child *c)
{
    c->metrics_source = sd_event_source_disable_unref(c->metrics_source);
    if (c->metrics_fd >= 0)
        close(c->metrics_fd);
    c->metrics_fd = -1;
    free(c->samples);
    c->samples = NULL;
    c->synced = false;
    c->waiting = false;
}

/* Reaps every child that ended. */
static int
on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si,
           void *userdata)
{
    struct master *m = userdata;
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == m->emitter->pid) {
            child_forget(m->emitter);
            emitter_ended(m, status);
            continue;
        }
        for (size_t i = 0; i < m->n_watchers; i++) {
            if (m->watchers[i]->pid != pid)
                continue;
            child_forget(m->watchers[i]);
            watcher_ended(m, i, status);
            break;
        }
    }
    master_reconcile(m);
    return 0;
}

static int
on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si,
           void *userdata)
{
    struct master *m = userdata;

    log_info(1, "got SIG%s, stopping the watchers, then the emitter",
             sigabbrev_np((int)si->ssi_signo));
    master_stop(m, EXIT_SUCCESS);
    master_reconcile(m);
    return 0;
}

static int
on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
    reload_now(userdata);
    return 0;
}

void
master_restart_emitter(struct master *m)
{
    if (m->emitter->pid > 0)
        child_stop(m->emitter,
                   STOP_TIMEOUT_US +
                       (uint64_t)m->cfg->emitter.drain_timeout_s * 1000000);
    else if (m->emitter->state != CHILD_STOPPING)
        m->emitter->state = CHILD_IDLE;
}

/* The index of the watcher with key, or -1. */
static ssize_t
watcher_find(const struct master *m, const char *key)
{
    for (size_t i = 0; i < m->n_watchers; i++)
        if (m->watchers[i]->wanted && strcmp(m->watchers[i]->key, key) == 0)
            return (ssize_t)i;
    return -1;
}

/* Adds a watcher for r in one namespace scope, or adopts the running one. */
static int
watcher_want(struct master *m, struct ec_resource *r, const char *namespace,
             bool all, bool *kept)
{
    const char *scope = all ? "all" : namespace ? namespace : "own";
    struct child *c, **v;
    char *key = child_watcher_key(r, scope);
    ssize_t i;

    if (!key)
        return -ENOMEM;
    i = watcher_find(m, key);
    if (i >= 0) {
        kept[i] = true;
        m->watchers[i]->resource = r;
        free(key);
        return 0;
    }

    c = child_new(CHILD_WATCHER, key, namespace, r);
    free(key);
    v = realloc(m->watchers, (m->n_watchers + 1) * sizeof(*v));
    if (!c || !v) {
        child_free(c);
        return -ENOMEM;
    }
    c->all_namespaces = all;
    m->watchers = v;
    m->watchers[m->n_watchers++] = c;
    return 0;
}

/* Restarts c if its command line changed; retries a failed one then. */
static void
watcher_refresh(struct master *m, struct child *c)
{
    char **argv = child_argv(c, m->cfg);

    if (!argv || child_argv_equal(argv, c->argv)) {
        child_argv_free(argv);
        return;
    }
    child_argv_free(argv);
    if (c->pid > 0)
        child_stop(c, STOP_TIMEOUT_US);
    else if (c->state == CHILD_FAILED)
        c->state = CHILD_IDLE;
}

/*
 * Makes the watcher table match m->cfg: new watchers for new resources,
 * removed ones stopped, the others left running unless their command
 * line changed.
 */
static int
watchers_update(struct master *m)
{
    const struct ec_config *cfg = m->cfg;
    size_t n_old = m->n_watchers;
    bool *kept = calloc(n_old + 1, sizeof(*kept));
    int r = 0;

    if (!kept)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->n_resources && r == 0; i++) {
        struct ec_resource *res = &cfg->resources[i];

        if (cfg->all_namespaces || cfg->n_namespaces == 0)
            r = watcher_want(m, res, NULL, cfg->all_namespaces, kept);
        for (size_t j = 0; j < cfg->n_namespaces && r == 0; j++)
            r = watcher_want(m, res, cfg->namespaces[j], false, kept);
    }

    for (size_t i = n_old; i-- > 0;) {
        struct child *c = m->watchers[i];

        if (kept[i] || !c->wanted) {
            if (kept[i])
                watcher_refresh(m, c);
            continue;
        }
        c->wanted = false;
        c->resource = NULL;
        if (c->pid > 0)
            child_stop(c, STOP_TIMEOUT_US);
        else
            watcher_remove(m, i);
    }
    free(kept);
    return r;
}

/* Runs with cfg from now on; the old configuration is freed. */
int
master_set_config(struct master *m, struct ec_config *cfg)
{
    struct ec_config *old = m->cfg;
    char **argv;
    int r;

    m->cfg = cfg;
    log_verbosity = cfg->verbosity;
    r = watchers_update(m);

    argv = child_argv(m->emitter, cfg);
    if (old && (!config_emitter_equal(old, cfg) ||
                !child_argv_equal(argv, m->emitter->argv))) {
        log_info(1, "the emitter's settings changed, restarting it");
        if (m->emitter->state == CHILD_FAILED)
            m->emitter->state = CHILD_IDLE;
        master_restart_emitter(m);
    }
    child_argv_free(argv);
    config_free(old);
    return r;
}

/* Blocks the signals the loop handles and sets up their sources. */
static int
signals_init(struct master *m)
{
    sigset_t set;
    int r;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    /* A write to a child's closed socket must fail, not kill the master. */
    signal(SIGPIPE, SIG_IGN);

    r = sd_event_add_signal(m->event, NULL, SIGCHLD, on_sigchld, m);
    if (r >= 0)
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m);
    if (r >= 0)
        r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m);
    if (r >= 0)
        r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
    return r;
}

/* Logs the problems of a configuration, one line each. */
void
master_log_problems(const struct config_problems *problems)
{
    for (size_t i = 0; i < problems->n; i++) {
        const struct config_problem *p = &problems->v[i];

        if (p->file)
            log_error("%s:%d: %s", p->file, p->line, p->text);
        else
            log_error("%s", p->text);
    }
    if (problems->out_of_memory)
        log_error("out of memory while loading the configuration");
}

/* The state folder holds the emitter's positions; made if missing. */
static void
state_dir_make(const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        log_warn("mkdir() of %s failed: %s, the emitter cannot keep "
                 "positions there",
                 dir, strerror(errno));
}

/* The loop and every source on it; the first configuration applied. */
static int
master_init(struct master *m, struct ec_config *cfg)
{
    int r;

    r = sd_event_default(&m->event);
    if (r < 0) {
        log_error("sd_event_default() failed: %s, exiting", strerror(-r));
        return r;
    }
    the_master = m;
    r = signals_init(m);
    if (r < 0) {
        log_error("cannot handle signals: %s, exiting", strerror(-r));
        return r;
    }
    r = sd_event_add_time(m->event, &m->restart_timer, CLOCK_MONOTONIC,
                          UINT64_MAX, 0, on_timer, m);
    if (r < 0) {
        log_error("sd_event_add_time() failed: %s, exiting", strerror(-r));
        return r;
    }
    notify_watchdog_init(m->event);

    m->emitter = child_new(CHILD_EMITTER, "emitter", NULL, NULL);
    if (!m->emitter || master_set_config(m, cfg) < 0) {
        log_error("out of memory, exiting");
        return -ENOMEM;
    }
    state_dir_make(cfg->state_dir);

    /* Without /healthz the probes fail and say so; the work goes on. */
    http_start(m, cfg->metrics_address, &m->http);
    return reload_init(m);
}

static void
master_free(struct master *m)
{
    reload_free(m);
    http_stop(m->http);
    for (size_t i = 0; i < m->n_watchers; i++)
        child_free(m->watchers[i]);
    free(m->watchers);
    child_free(m->emitter);
    control_reset(m);
    sd_event_source_disable_unref(m->restart_timer);
    sd_event_unref(m->event);
    config_free(m->cfg);
}

int
master_main(const struct options *opts)
{
    struct config_problems problems = {0};
    struct master m = {.opts = opts, .control_fd = -1};
    struct ec_config *cfg;
    int r;

    r = settings_load(opts, &cfg, &problems);
    if (r < 0) {
        master_log_problems(&problems);
        log_error("the configuration is not valid, exiting");
        config_problems_free(&problems);
        return EXIT_CONFIG;
    }
    config_problems_free(&problems);
    log_init("master", NULL, cfg->verbosity, cfg->log_format);

    r = master_init(&m, cfg);
    if (r == 0) {
        master_reconcile(&m);
        r = sd_event_loop(m.event);
        if (r < 0)
            log_error("sd_event_loop() failed: %s, exiting", strerror(-r));
    }
    if (!m.cfg)
        config_free(cfg);
    master_free(&m);
    if (r < 0)
        return EXIT_FAILURE;
    log_info(1, "stopped");
    return r;
}
