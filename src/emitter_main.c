/*
 * The emitter's command line: "event-controller emitter ...", as the
 * master spawns it, or by hand with --input for tests.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emitter.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "options.h"

enum {
    OPT_CONTROL_FD = 256,
    OPT_STATE_DIR,
    OPT_METRICS_FD,
    OPT_KUBECONFIG,
    OPT_CONTEXT,
    OPT_REPORTING_CONTROLLER,
    OPT_REPORTING_INSTANCE,
    OPT_BATCH_WINDOW,
    OPT_BATCH_MAX,
    OPT_QPS,
    OPT_BURST,
    OPT_SPAM_BURST,
    OPT_SPAM_INTERVAL,
    OPT_QUEUE_MAX,
    OPT_DRAIN_TIMEOUT,
    OPT_LOG_FORMAT,
    OPT_INPUT,
    OPT_LEASE,
    OPT_LEASE_NAMESPACE,
};

static const struct option long_options[] = {
    {"control-fd", required_argument, NULL, OPT_CONTROL_FD},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"metrics-fd", required_argument, NULL, OPT_METRICS_FD},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"reporting-controller", required_argument, NULL, OPT_REPORTING_CONTROLLER},
    {"reporting-instance", required_argument, NULL, OPT_REPORTING_INSTANCE},
    {"batch-window-ms", required_argument, NULL, OPT_BATCH_WINDOW},
    {"batch-max", required_argument, NULL, OPT_BATCH_MAX},
    {"qps", required_argument, NULL, OPT_QPS},
    {"burst", required_argument, NULL, OPT_BURST},
    {"spam-burst", required_argument, NULL, OPT_SPAM_BURST},
    {"spam-interval", required_argument, NULL, OPT_SPAM_INTERVAL},
    {"queue-max", required_argument, NULL, OPT_QUEUE_MAX},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"input", required_argument, NULL, OPT_INPUT},
    {"lease", required_argument, NULL, OPT_LEASE},
    {"lease-namespace", required_argument, NULL, OPT_LEASE_NAMESPACE},
    {NULL, 0, NULL, 0},
};

/* Parses a whole number in [min, max]; false if arg is not one. */
static bool
parse_int(const char *arg, long min, long max, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

/* Parses a number in [min, max]; false if arg is not one. */
static bool
parse_double(const char *arg, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (!*arg || *end || errno || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

/* Parses KEY=FD of --input into opt. */
static bool
parse_input(char *arg, struct emitter_options *opt)
{
    char *eq = strchr(arg, '=');
    int fd;

    if (!eq || eq == arg || strchr(arg, '/') ||
        opt->n_inputs == EMITTER_INPUTS_MAX ||
        !parse_int(eq + 1, 0, INT_MAX, &fd))
        return false;
    *eq = '\0';
    opt->inputs[opt->n_inputs++] = (struct emitter_input){arg, fd};
    return true;
}

/* Applies one option; false when its value is bad. */
static bool
parse_option(int c, char *arg, struct emitter_options *opt, int *metrics_fd,
             int *verbosity, enum log_format *format)
{
    struct ec_emitter_settings *s = &opt->settings;

    switch (c) {
    case OPT_CONTROL_FD:
        return parse_int(arg, 0, INT_MAX, &opt->control_fd);
    case OPT_STATE_DIR:
        opt->state_dir = arg;
        return true;
    case OPT_METRICS_FD:
        return parse_int(arg, 0, INT_MAX, metrics_fd);
    case OPT_KUBECONFIG:
        opt->kube.kubeconfig = arg;
        return true;
    case OPT_CONTEXT:
        opt->kube.context = arg;
        return true;
    case OPT_REPORTING_CONTROLLER:
        opt->reporting_controller = arg;
        return true;
    case OPT_REPORTING_INSTANCE:
        opt->reporting_instance = arg;
        return true;
    case OPT_BATCH_WINDOW:
        return parse_int(arg, 0, 60000, &s->batch_window_ms);
    case OPT_BATCH_MAX:
        return parse_int(arg, 1, 100000, &s->batch_max);
    case OPT_QPS:
        /* The range of the configuration file's qps. */
        return parse_double(arg, 0.01, 10000, &s->qps);
    case OPT_BURST:
        return parse_int(arg, 1, 100000, &s->burst);
    case OPT_SPAM_BURST:
        return parse_int(arg, 1, 1000000, &s->spam_burst);
    case OPT_SPAM_INTERVAL:
        return parse_int(arg, 1, 86400, &s->spam_interval_s);
    case OPT_QUEUE_MAX:
        return parse_int(arg, 1, 10000000, &s->queue_max);
    case OPT_DRAIN_TIMEOUT:
        return parse_int(arg, 0, 3600, &s->drain_timeout_s);
    case 'v':
        return parse_int(arg, 0, 9, verbosity);
    case OPT_LOG_FORMAT:
        return log_format_parse(arg, format) == 0;
    case OPT_INPUT:
        return parse_input(arg, opt);
    case OPT_LEASE:
        opt->lease_name = arg;
        return true;
    case OPT_LEASE_NAMESPACE:
        opt->lease_namespace = arg;
        return true;
    }
    return false;
}

/* The defaults: client-go's recorder where it has one. */
static void
set_defaults(struct emitter_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->control_fd = -1;
    opt->reporting_controller = "event-controller";
    opt->settings = ec_emitter_defaults;
}

/* reportingInstance: --reporting-instance, $POD_NAME or the host name. */
static void
set_instance(struct emitter_options *opt, char *host, size_t size)
{
    const char *pod = getenv("POD_NAME");

    if (!opt->reporting_instance && pod && *pod)
        opt->reporting_instance = pod;
    if (!opt->reporting_instance) {
        if (gethostname(host, size - 1) < 0)
            strcpy(host, "unknown");
        host[size - 1] = '\0';
        opt->reporting_instance = host;
    }
    if (strlen(opt->reporting_instance) > EVENT_INSTANCE_MAX) {
        snprintf(host, size, "%s", opt->reporting_instance);
        event_utf8_cut(host, EVENT_INSTANCE_MAX);
        opt->reporting_instance = host;
    }
}

/* "event-controller emitter ..."; see emitter.h. */
int
emitter_command(int argc, char **argv)
{
    static struct emitter_options opt;
    int c, metrics_fd = -1, verbosity = LOG_DEFAULT_VERBOSITY;
    enum log_format format = LOG_FORMAT_TEXT;
    char host[EVENT_INSTANCE_MAX * 4];

    set_defaults(&opt);
    optind = 1;
    while ((c = getopt_long(argc, argv, "v:", long_options, NULL)) != -1) {
        if (c == '?' ||
            !parse_option(c, optarg, &opt, &metrics_fd, &verbosity, &format)) {
            if (c != '?')
                fprintf(stderr,
                        "event-controller emitter: bad value "
                        "\"%s\" for %s\n",
                        optarg, argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc || !opt.state_dir ||
        (opt.control_fd < 0 && opt.n_inputs == 0)) {
        fprintf(stderr, "usage: event-controller emitter --state-dir DIR "
                        "(--control-fd N | --input KEY=FD...) [options]\n");
        return EXIT_USAGE;
    }
    set_instance(&opt, host, sizeof(host));

    log_init("emitter", NULL, verbosity, format);
    metrics_init(metrics_fd);
    return emitter_run(&opt);
}
