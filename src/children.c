/*
 * Starting the children and deciding when they start again.
 *
 * A child is this binary run again with a role word: fork, put the fds in
 * place, exec /proc/self/exe (see exec_path).  Between fork and exec the
 * child calls only async-signal-safe functions, since the master's other
 * state (the event loop, the HTTP server, malloc's locks) is a copy it
 * cannot trust.  An exec failure comes back to the parent through a
 * close-on-exec pipe: read() sees end of file when exec worked, else the
 * errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "children.h"
#include "log.h"
#include "sandbox.h"

/*
 * The first restart comes fast, in [100, 800) ms, then the delay doubles
 * up to 30 s; a child that ran for 2 minutes is healthy again.  Jitter
 * keeps the watchers of a broken apiserver from coming back in step.
 */
#define BACKOFF_FIRST_MS   400
#define BACKOFF_MAX_MS     30000
#define BACKOFF_HEALTHY_US (120 * 1000000ULL)

/* Where a child finds its fds; the others are closed. */
#define CHILD_OUTPUT_FD  3
#define CHILD_METRICS_FD 4
#define CHILD_ERROR_FD   5 /* the exec error pipe, closed by exec */

/* CLOCK_MONOTONIC in microseconds. */
uint64_t
now_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A new table entry, not running; NULL when out of memory. */
struct child *
child_new(enum child_role role, const char *key, const char *namespace,
          struct ec_resource *resource)
{
    struct child *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->role = role;
    c->resource = resource;
    c->wanted = true;
    c->output_read = -1;
    c->metrics_fd = -1;
    c->key = strdup(key);
    if (namespace)
        c->namespace = strdup(namespace);
    if (!c->key || (namespace && !c->namespace)) {
        child_free(c);
        return NULL;
    }
    return c;
}

void
child_free(struct child *c)
{
    if (!c)
        return;
    sd_event_source_disable_unref(c->metrics_source);
    if (c->metrics_fd >= 0)
        close(c->metrics_fd);
    if (c->output_read >= 0)
        close(c->output_read);
    child_argv_free(c->argv);
    free(c->samples);
    free(c->namespace);
    free(c->key);
    free(c);
}

/*
 * Keys and namespaces are DNS names; anything else is replaced so that
 * the key stays one safe file name.
 */
char *
child_watcher_key(const struct ec_resource *r, const char *namespace)
{
    const char *key = config_resource_key(r);
    char *s;

    if (!key || asprintf(&s, "%s@%s", key, namespace ? namespace : "") < 0)
        return NULL;
    for (char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789.-_@", *p))
            *p = '_';
    return s;
}

void
child_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

bool
child_argv_equal(char **a, char **b)
{
    if (!a || !b)
        return a == b;
    for (; *a && *b; a++, b++)
        if (strcmp(*a, *b) != 0)
            return false;
    return *a == *b;
}

/* A growing argv; on allocation failure it is marked broken. */
struct args {
    char **v;
    size_t n, size;
    bool broken;
};

static void arg(struct args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one formatted argument. */
static void
arg(struct args *a, const char *fmt, ...)
{
    va_list ap;
    char **v;
    char *s;

    if (a->broken)
        return;
    if (a->n + 2 > a->size) {
        a->size = a->size ? a->size * 2 : 32;
        if (!(v = realloc(a->v, a->size * sizeof(*v)))) {
            a->broken = true;
            return;
        }
        a->v = v;
    }
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) {
        a->broken = true;
        s = NULL;
    }
    va_end(ap);
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

/* The flags every role takes the same way. */
static void
common_args(struct args *a, const struct ec_config *cfg)
{
    if (cfg->kubeconfig) {
        arg(a, "--kubeconfig");
        arg(a, "%s", cfg->kubeconfig);
    }
    if (cfg->context) {
        arg(a, "--context");
        arg(a, "%s", cfg->context);
    }
    arg(a, "--metrics-fd");
    arg(a, "%d", CHILD_METRICS_FD);
}

static void
watcher_args(struct args *a, const struct child *c, const struct ec_config *cfg)
{
    const struct ec_resource *r = c->resource;

    arg(a, "watcher");
    arg(a, "--group");
    arg(a, "%s", r->group);
    arg(a, "--version");
    arg(a, "%s", r->version);
    arg(a, "--resource");
    arg(a, "%s", r->resource);
    if (c->all_namespaces)
        arg(a, "--all-namespaces");
    else if (c->namespace) {
        arg(a, "--namespace");
        arg(a, "%s", c->namespace);
        /* A cluster-scoped resource is watched once, in the first. */
        if (cfg->n_namespaces > 1 &&
            strcmp(c->namespace, cfg->namespaces[0]) != 0)
            arg(a, "--namespaced-only");
    }
    if (r->label_selector) {
        arg(a, "--label-selector");
        arg(a, "%s", r->label_selector);
    }
    if (r->field_selector) {
        arg(a, "--field-selector");
        arg(a, "%s", r->field_selector);
    }
    for (size_t i = 0; i < r->n_status_fields; i++) {
        arg(a, "--status-field");
        arg(a, "%s", r->status_fields[i]);
    }
    common_args(a, cfg);
    arg(a, "--state");
    arg(a, "%s/%s.state", cfg->state_dir, c->key);
    arg(a, "--output-fd");
    arg(a, "%d", CHILD_OUTPUT_FD);
    arg(a, "--max-event-bytes");
    arg(a, "%d", cfg->max_event_bytes);
}

static void
emitter_args(struct args *a, const struct ec_config *cfg)
{
    const struct ec_emitter_settings *e = &cfg->emitter;

    arg(a, "emitter");
    arg(a, "--control-fd");
    arg(a, "%d", CHILD_OUTPUT_FD);
    common_args(a, cfg);
    arg(a, "--state-dir");
    arg(a, "%s", cfg->state_dir);
    arg(a, "--reporting-controller");
    arg(a, "%s", cfg->reporting_controller);
    arg(a, "--batch-window-ms");
    arg(a, "%d", e->batch_window_ms);
    arg(a, "--batch-max");
    arg(a, "%d", e->batch_max);
    arg(a, "--qps");
    arg(a, "%.17g", e->qps);
    arg(a, "--burst");
    arg(a, "%d", e->burst);
    arg(a, "--spam-burst");
    arg(a, "%d", e->spam_burst);
    arg(a, "--spam-interval");
    arg(a, "%d", e->spam_interval_s);
    arg(a, "--queue-max");
    arg(a, "%d", e->queue_max);
    arg(a, "--drain-timeout");
    arg(a, "%d", e->drain_timeout_s);
    if (!cfg->leader_election)
        return;
    arg(a, "--lease");
    arg(a, "%s", cfg->leader_election_lease);
    if (cfg->leader_election_namespace) {
        arg(a, "--lease-namespace");
        arg(a, "%s", cfg->leader_election_namespace);
    }
}

char **
child_argv(const struct child *c, const struct ec_config *cfg)
{
    struct args a = {0};

    arg(&a, "event-controller");
    if (c->role == CHILD_WATCHER)
        watcher_args(&a, c, cfg);
    else
        emitter_args(&a, cfg);
    arg(&a, "-v");
    arg(&a, "%d", cfg->verbosity);
    arg(&a, "--log-format");
    arg(&a, "%s", cfg->log_format == LOG_FORMAT_JSON ? "json" : "text");

    if (a.broken) {
        child_argv_free(a.v);
        return NULL;
    }
    return a.v;
}

/*
 * Moves fd to at least CHILD_ERROR_FD + 1, so that the dup2 calls that
 * follow cannot overwrite one fd with another.  Async-signal-safe.
 */
static int
lift(int fd)
{
    return fd < 0 ? -1 : fcntl(fd, F_DUPFD, CHILD_ERROR_FD + 1);
}

/* Reports errno to the parent and ends the child.  Async-signal-safe. */
static void __attribute__((noreturn)) child_fail(int error_fd)
{
    int e = errno;

    if (write(error_fd, &e, sizeof(e)) < 0)
        _exit(127);
    _exit(127);
}

/*
 * The child between fork and exec: fds 0, 3, 4 in place, the exec error
 * pipe at 5, everything else closed, signals as a fresh process has them,
 * and death with the master.
 */
static void __attribute__((noreturn))
child_exec(const char *path, char **argv, char **envp, int null_fd, int out_fd,
           int metrics_fd, int error_fd, pid_t master)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigset_t none;

    null_fd = lift(null_fd);
    out_fd = lift(out_fd);
    metrics_fd = lift(metrics_fd);
    error_fd = lift(error_fd);
    if (error_fd < 0 || dup2(error_fd, CHILD_ERROR_FD) < 0 ||
        fcntl(CHILD_ERROR_FD, F_SETFD, FD_CLOEXEC) < 0)
        _exit(127);
    /* A child writes to its pipe and its log; stdout is not for it. */
    if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 ||
        dup2(out_fd, CHILD_OUTPUT_FD) < 0 ||
        dup2(metrics_fd, CHILD_METRICS_FD) < 0)
        child_fail(CHILD_ERROR_FD);
    if (close_range(CHILD_ERROR_FD + 1, ~0U, 0) < 0)
        child_fail(CHILD_ERROR_FD);

    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        child_fail(CHILD_ERROR_FD);

    /* The parent may have died before the death signal was armed. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail(CHILD_ERROR_FD);
    if (getppid() != master)
        _exit(127);

    execve(path, argv, envp);
    child_fail(CHILD_ERROR_FD);
}

/*
 * What a child execs.  /proc/self/exe is the binary the master runs even
 * when a package upgrade has replaced the file since, so that master and
 * children always speak the same protocol.  Under valgrind it is
 * valgrind's tool instead, so there the file's name is used, which
 * valgrind reports for the program it runs.
 */
static const char *
exec_path(void)
{
    static char path[PATH_MAX];
    ssize_t n;

    if (!sandbox_under_valgrind())
        return "/proc/self/exe";
    if (path[0])
        return path;
    n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0 || (size_t)n >= sizeof(path) - 1) {
        path[0] = '\0';
        return "/proc/self/exe";
    }
    path[n] = '\0';
    return path;
}

/* Waits for exec; returns 0, or -errno of the child's failed step. */
static int
wait_exec(pid_t pid, int error_read)
{
    ssize_t n;
    int e;

    do
        n = read(error_read, &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    if (n != sizeof(e))
        e = EIO;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return -e;
}

/*
 * The environment of a child: the master's without systemd's notification
 * variables, so that only the master can talk to systemd.  NULL when out
 * of memory; free the array only, the strings are the master's.
 */
static char **
child_environment(void)
{
    static const char *const dropped[] = {
        "NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC="};
    size_t n = 0, kept = 0;
    char **envp;

    while (environ[n])
        n++;
    envp = calloc(n + 1, sizeof(*envp));
    if (!envp)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        bool drop = false;

        for (size_t j = 0; j < sizeof(dropped) / sizeof(dropped[0]); j++)
            if (strncmp(environ[i], dropped[j], strlen(dropped[j])) == 0)
                drop = true;
        if (!drop)
            envp[kept++] = environ[i];
    }
    return envp;
}

int
child_spawn(struct child *c, char **argv, int out_fd)
{
    int metrics[2], error_pipe[2], null_fd;
    pid_t pid, master = getpid();
    const char *path = exec_path();
    char **envp;
    int r;

    envp = child_environment();
    if (!envp)
        return -ENOMEM;
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        r = -errno;
        free(envp);
        return r;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, metrics) < 0) {
        r = -errno;
        goto out_null;
    }
    if (pipe2(error_pipe, O_CLOEXEC) < 0) {
        r = -errno;
        goto out_metrics;
    }

    pid = fork();
    if (pid == 0)
        child_exec(path, argv, envp, null_fd, out_fd, metrics[1], error_pipe[1],
                   master);
    if (pid < 0) {
        r = -errno;
        close(error_pipe[1]);
        goto out_error_pipe;
    }

    close(error_pipe[1]);
    r = wait_exec(pid, error_pipe[0]);
    if (r == 0) {
        c->pid = pid;
        c->metrics_fd = metrics[0];
        fcntl(c->metrics_fd, F_SETFL, O_NONBLOCK);
        metrics[0] = -1;
    }

out_error_pipe:
    close(error_pipe[0]);
out_metrics:
    if (metrics[0] >= 0)
        close(metrics[0]);
    close(metrics[1]);
out_null:
    close(null_fd);
    free(envp);
    return r;
}

/* A delay in [d/4, 2d) for the backoff step d, in milliseconds. */
static unsigned
jittered(unsigned d)
{
    unsigned r;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (unsigned)rand();
    return d / 4 + r % (2 * d - d / 4);
}

/* How the process ended, for the log: "exited with status 3". */
static void
describe_status(int status, char *buf, size_t size)
{
    const char *name;

    if (WIFSIGNALED(status)) {
        name = sigabbrev_np(WTERMSIG(status));
        snprintf(buf, size, "killed by signal SIG%s", name ? name : "UNKNOWN");
    } else {
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    }
}

bool
child_lost_lease(const struct child *c, int status)
{
    return c->role == CHILD_EMITTER && WIFEXITED(status) &&
           WEXITSTATUS(status) == EXIT_LEASE_LOST;
}

bool
child_ended(struct child *c, int status, uint64_t now)
{
    const char *role = c->role == CHILD_WATCHER ? "watcher" : "emitter";
    char how[64];
    unsigned delay;

    describe_status(status, how, sizeof(how));
    c->pid = 0;

    /*
     * 78 is the child's verdict that its configuration cannot work; 64
     * means the master built a command line the child refuses.  Neither
     * changes by trying again, only with a new configuration.
     */
    if (WIFEXITED(status) &&
        (WEXITSTATUS(status) == EXIT_CONFIG || WEXITSTATUS(status) == 64)) {
        log_error("%s %s %s: its configuration cannot work, not restarting "
                  "it until the configuration changes",
                  role, c->key, how);
        c->state = CHILD_FAILED;
        return false;
    }

    if (now - c->started_usec >= BACKOFF_HEALTHY_US)
        c->backoff_ms = 0;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    delay = jittered(c->backoff_ms);
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    c->due_usec = now + (uint64_t)delay * 1000;
    c->restarts++;
    c->state = CHILD_IDLE;

    if (child_lost_lease(c, status))
        log_warn("%s lost the leader Lease, standing by again in %u ms", c->key,
                 delay);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        log_warn("%s %s %s, yet it should run: restarting it in %u ms", role,
                 c->key, how, delay);
    else
        log_error("%s %s %s, restarting it in %u ms", role, c->key, how, delay);
    return true;
}
