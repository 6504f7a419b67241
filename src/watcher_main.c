/*
 * "event-controller watcher": the command line of a watcher process, as
 * the master builds it, and the process around the loop: signals, logging,
 * metrics and the Kubernetes client.
 *
 *   event-controller watcher --group G --version V --resource R
 *       [--namespace NS [--namespaced-only] | --all-namespaces]
 *       [--label-selector S]
 *       [--field-selector S] [--status-field F]... [--no-status-fields]
 *       [--kubeconfig FILE] [--context NAME] [--state FILE]
 *       [--output-fd N] [--metrics-fd N] [--max-event-bytes N]
 *       [--stall-timeout SECONDS] [-v N] [--log-format text|json]
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "sandbox.h"
#include "stream.h"
#include "watcher.h"

/* What the command line gives, before it is checked. */
struct watcher_args {
    struct watcher_options opt;
    const char *status_fields[CONFIG_STATUS_FIELDS_MAX];
    size_t n_status_fields;
    bool no_status_fields;
    bool all_namespaces;
    const char *kubeconfig, *context;
    int metrics_fd;
    int verbosity;
    enum log_format log_format;
    char key[512];
};

enum {
    OPT_GROUP = 256,
    OPT_VERSION,
    OPT_RESOURCE,
    OPT_NAMESPACE,
    OPT_ALL_NAMESPACES,
    OPT_LABEL_SELECTOR,
    OPT_FIELD_SELECTOR,
    OPT_STATUS_FIELD,
    OPT_NO_STATUS_FIELDS,
    OPT_KUBECONFIG,
    OPT_CONTEXT,
    OPT_STATE,
    OPT_OUTPUT_FD,
    OPT_METRICS_FD,
    OPT_MAX_EVENT_BYTES,
    OPT_STALL_TIMEOUT,
    OPT_LOG_FORMAT,
    OPT_NAMESPACED_ONLY,
};

static const struct option long_options[] = {
    {"group", required_argument, NULL, OPT_GROUP},
    {"version", required_argument, NULL, OPT_VERSION},
    {"resource", required_argument, NULL, OPT_RESOURCE},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"all-namespaces", no_argument, NULL, OPT_ALL_NAMESPACES},
    {"namespaced-only", no_argument, NULL, OPT_NAMESPACED_ONLY},
    {"label-selector", required_argument, NULL, OPT_LABEL_SELECTOR},
    {"field-selector", required_argument, NULL, OPT_FIELD_SELECTOR},
    {"status-field", required_argument, NULL, OPT_STATUS_FIELD},
    {"no-status-fields", no_argument, NULL, OPT_NO_STATUS_FIELDS},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"state", required_argument, NULL, OPT_STATE},
    {"output-fd", required_argument, NULL, OPT_OUTPUT_FD},
    {"metrics-fd", required_argument, NULL, OPT_METRICS_FD},
    {"max-event-bytes", required_argument, NULL, OPT_MAX_EVENT_BYTES},
    {"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {NULL, 0, NULL, 0},
};

static char *const default_status_fields[] = {"phase", "conditions"};

static volatile sig_atomic_t stop_requested;

/* SIGTERM and SIGINT: the loop ends at its next check. */
static void
on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

/* Reports a usage error; returns the exit status for it. */
__attribute__((format(printf, 1, 2))) static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("event-controller watcher: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return WATCHER_EXIT_USAGE;
}

/* Parses a decimal integer in [min, max]. */
static bool
parse_long(const char *s, long min, long max, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return !errno && end != s && !*end && *out >= min && *out <= max;
}

/* The name of an option, for messages. */
static const char *
option_name(int c)
{
    for (const struct option *o = long_options; o->name; o++)
        if (o->val == c)
            return o->name;
    return "v";
}

/* Takes a numeric option's value; false if out of range. */
static bool
number_option(struct watcher_args *a, int c, const char *value)
{
    long v;

    switch (c) {
    case OPT_OUTPUT_FD:
        if (!parse_long(value, 0, INT_MAX, &v))
            return false;
        a->opt.output_fd = (int)v;
        return true;
    case OPT_METRICS_FD:
        if (!parse_long(value, 0, INT_MAX, &v))
            return false;
        a->metrics_fd = (int)v;
        return true;
    case OPT_MAX_EVENT_BYTES:
        if (!parse_long(value, 1024, 1024L * 1024 * 1024, &v))
            return false;
        a->opt.max_event_bytes = (size_t)v;
        return true;
    case OPT_STALL_TIMEOUT:
        if (!parse_long(value, 1, 86400, &v))
            return false;
        a->opt.stall_seconds = v;
        return true;
    default:
        if (!parse_long(value, 0, 10, &v))
            return false;
        a->verbosity = (int)v;
        return true;
    }
}

/* Takes one option; returns 0 or the usage exit status. */
static int
take_option(struct watcher_args *a, int c, const char *value)
{
    switch (c) {
    case OPT_GROUP:
        a->opt.group = value;
        break;
    case OPT_VERSION:
        a->opt.version = value;
        break;
    case OPT_RESOURCE:
        a->opt.resource = value;
        break;
    case OPT_NAMESPACE:
        a->opt.namespace = value;
        break;
    case OPT_ALL_NAMESPACES:
        a->all_namespaces = true;
        break;
    case OPT_NAMESPACED_ONLY:
        a->opt.namespaced_only = true;
        break;
    case OPT_LABEL_SELECTOR:
        a->opt.label_selector = value;
        break;
    case OPT_FIELD_SELECTOR:
        a->opt.field_selector = value;
        break;
    case OPT_STATUS_FIELD:
        if (a->n_status_fields == CONFIG_STATUS_FIELDS_MAX)
            return usage_error("more than %d --status-field",
                               CONFIG_STATUS_FIELDS_MAX);
        a->status_fields[a->n_status_fields++] = value;
        break;
    case OPT_NO_STATUS_FIELDS:
        a->no_status_fields = true;
        break;
    case OPT_KUBECONFIG:
        a->kubeconfig = value;
        break;
    case OPT_CONTEXT:
        a->context = value;
        break;
    case OPT_STATE:
        a->opt.state_path = value;
        break;
    case OPT_LOG_FORMAT:
        if (log_format_parse(value, &a->log_format) < 0)
            return usage_error("--log-format: \"%s\" is not text or json",
                               value);
        break;
    default:
        if (!number_option(a, c, value))
            return usage_error("-%s%s: \"%s\" is not a valid number",
                               c == 'v' ? "" : "-", option_name(c), value);
    }
    return 0;
}

/* Checks one name against the rule for its kind. */
static int
check_name(const char *option, const char *value, enum config_name kind)
{
    const char *why;

    if (!value)
        return usage_error("--%s is required", option);
    if ((why = config_name_problem(kind, value)))
        return usage_error("--%s \"%.80s\" %s", option, value, why);
    return 0;
}

/* Checks the names and the combinations of options. */
static int
check_args(struct watcher_args *a)
{
    int r;

    if (a->opt.group && !*a->opt.group)
        r = 0;
    else
        r = check_name("group", a->opt.group, CONFIG_NAME_DNS_SUBDOMAIN);
    if (!r)
        r = check_name("version", a->opt.version, CONFIG_NAME_VERSION);
    if (!r)
        r = check_name("resource", a->opt.resource, CONFIG_NAME_DNS_LABEL);
    if (!r && a->opt.namespace)
        r = check_name("namespace", a->opt.namespace, CONFIG_NAME_DNS_LABEL);
    if (!r && a->opt.namespace && a->all_namespaces)
        r = usage_error("--namespace and --all-namespaces exclude each other");
    if (!r && a->no_status_fields && a->n_status_fields)
        r = usage_error("--status-field and --no-status-fields exclude each "
                        "other");
    for (size_t i = 0; !r && i < a->n_status_fields; i++)
        r = check_name("status-field", a->status_fields[i],
                       CONFIG_NAME_STATUS_FIELD);
    return r;
}

/* Parses argv into a; returns 0 or the usage exit status. */
static int
parse_args(int argc, char **argv, struct watcher_args *a)
{
    int c, r;

    memset(a, 0, sizeof(*a));
    a->opt.output_fd = STDOUT_FILENO;
    a->opt.max_event_bytes = WATCH_STREAM_DEFAULT_MAX_EVENT_BYTES;
    a->opt.stall_seconds = WATCHER_DEFAULT_STALL_SECONDS;
    a->metrics_fd = -1;
    a->verbosity = LOG_DEFAULT_VERBOSITY;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "v:", long_options, NULL)) != -1) {
        if (c == '?' || c == ':')
            return usage_error("unknown option or missing value: %s",
                               argv[optind - 1]);
        r = take_option(a, c, optarg);
        if (r)
            return r;
    }
    if (optind < argc)
        return usage_error("unexpected argument: %s", argv[optind]);
    return check_args(a);
}

/* The defaults that depend on other options, and the resource's key. */
static void
finish_args(struct watcher_args *a)
{
    if (a->n_status_fields) {
        a->opt.status_fields = (char *const *)a->status_fields;
        a->opt.n_status_fields = a->n_status_fields;
    } else if (!a->no_status_fields) {
        a->opt.status_fields = default_status_fields;
        a->opt.n_status_fields = 2;
    }
    snprintf(a->key, sizeof(a->key), "%s.%s%s%s", a->opt.resource,
             a->opt.version, *a->opt.group ? "." : "", a->opt.group);
    a->opt.key = a->key;
}

/* Stops on SIGTERM and SIGINT; a reader that went away is an EPIPE. */
static void
set_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};

    /* No SA_RESTART: a sleep must end at once when a stop is asked for. */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    kube_set_cancel_flag(&stop_requested);
}

/*
 * From here on a hijacked watcher can do little (sandbox.h): it may write
 * only to its pipe and sockets, and open files only for reading.
 */
static int
enter_sandbox(const struct watcher_args *a, struct kube_client *client)
{
    return sandbox_enter(SANDBOX_WATCHER, a->opt.output_fd,
                         kube_client_uses_exec_plugin(client));
}

/* Runs a watcher; see watcher.h. */
int
watcher_command(int argc, char **argv)
{
    struct kube_options kopt = {0};
    struct kube_client *client;
    struct watcher_args a;
    char err[512];
    int r;

    r = parse_args(argc, argv, &a);
    if (r)
        return r;
    finish_args(&a);
    log_init("watcher", a.opt.resource, a.verbosity, a.log_format);
    set_signals();
    metrics_init(a.metrics_fd);

    kopt.kubeconfig = a.kubeconfig;
    kopt.context = a.context;
    r = kube_client_new(&kopt, &client, err, sizeof(err));
    if (r < 0) {
        log_error("cannot set up the Kubernetes client: %s", err);
        return r == -ENOMEM ? WATCHER_EXIT_TEMPFAIL : WATCHER_EXIT_CONFIG;
    }
    if (!a.opt.namespace && !a.all_namespaces)
        a.opt.namespace = kube_client_namespace(client);

    if (enter_sandbox(&a, client) < 0) {
        kube_client_free(client);
        return WATCHER_EXIT_CONFIG;
    }
    r = watcher_run(client, &a.opt, &stop_requested);
    kube_client_free(client);
    return r;
}
