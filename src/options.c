/*
 * Command-line parsing.  getopt_long does the work; this file turns its
 * results into struct options and its complaints into one-line errors.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

enum {
    OPT_CONFIG = 256,
    OPT_RESOURCES,
    OPT_KUBECONFIG,
    OPT_CONTEXT,
    OPT_NAMESPACE,
    OPT_ALL_NAMESPACES,
    OPT_STATE_DIR,
    OPT_METRICS_ADDRESS,
    OPT_LOG_FORMAT,
    OPT_CHECK_CONFIG,
    OPT_LEADER_ELECT,
    OPT_VERSION,
    OPT_HELP,
};

static const struct option long_options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"resources", required_argument, NULL, OPT_RESOURCES},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"all-namespaces", no_argument, NULL, OPT_ALL_NAMESPACES},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
    {"leader-elect", no_argument, NULL, OPT_LEADER_ELECT},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void
options_usage(FILE *out)
{
    fputs("usage: event-controller [options]\n"
          "\n"
          "Writes a Kubernetes Event for every change to the watched "
          "resources.\n"
          "\n"
          "  --config FILE          the daemon's configuration file\n"
          "                         (default "
          "/etc/event-controller/event-controller.conf)\n"
          "  --resources FILE       resources to watch, as the JSON of "
          "config.json\n"
          "  --kubeconfig FILE      kubeconfig to use out of cluster\n"
          "  --context NAME         kubeconfig context to use\n"
          "  --namespace NS         watch namespace NS; may be repeated\n"
          "  --all-namespaces       watch every namespace\n"
          "  --state-dir DIR        where positions are kept\n"
          "  --metrics-address ADDR serve /metrics, /healthz and /readyz "
          "at ADDR\n"
          "  -v N                   log info lines up to verbosity N\n"
          "  --log-format FORMAT    text or json\n"
          "  --leader-elect         elect a leader among replicas through "
          "a Lease\n"
          "  --check-config         validate the configuration and exit\n"
          "  --version              print the version and exit\n"
          "  --help                 print this help and exit\n",
          out);
}

/* Parses a verbosity level: a whole number from 0 to 10. */
static int
parse_verbosity(const char *arg)
{
    char *end;
    long v;

    v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < 0 || v > 10)
        return -1;
    return (int)v;
}

/*
 * Describes the option getopt_long rejected: c is ':' for a missing
 * argument and '?' for an unknown option.
 */
static void
describe_bad_option(int c, char **argv, char *err, size_t errlen)
{
    const char *arg = argv[optind - 1];

    if (c == ':' && optopt < 256)
        snprintf(err, errlen, "option '-%c' requires an argument", optopt);
    else if (c == ':')
        snprintf(err, errlen, "option '%s' requires an argument", arg);
    else if (optopt > 0 && optopt < 256)
        snprintf(err, errlen, "unknown option '-%c'", optopt);
    else
        snprintf(err, errlen, "unknown option '%s'", arg);
}

static enum options_action
parse_one(int c, char **argv, struct options *opts, char *err, size_t errlen)
{
    switch (c) {
    case OPT_CONFIG:
        opts->config_path = optarg;
        break;
    case OPT_RESOURCES:
        opts->resources_path = optarg;
        break;
    case OPT_KUBECONFIG:
        opts->kubeconfig = optarg;
        break;
    case OPT_CONTEXT:
        opts->context = optarg;
        break;
    case OPT_NAMESPACE:
        opts->namespaces[opts->n_namespaces++] = optarg;
        break;
    case OPT_ALL_NAMESPACES:
        opts->all_namespaces = true;
        break;
    case OPT_STATE_DIR:
        opts->state_dir = optarg;
        break;
    case OPT_LEADER_ELECT:
        opts->leader_elect = true;
        break;
    case OPT_METRICS_ADDRESS:
        opts->metrics_address = optarg;
        break;
    case 'v':
        opts->verbosity = parse_verbosity(optarg);
        if (opts->verbosity < 0) {
            snprintf(err, errlen,
                     "invalid verbosity '%s': expected a number from 0 to 10",
                     optarg);
            return OPTIONS_USAGE_ERROR;
        }
        break;
    case OPT_LOG_FORMAT:
        if (log_format_parse(optarg, &opts->log_format) < 0) {
            snprintf(err, errlen,
                     "invalid log format '%s': expected text or json", optarg);
            return OPTIONS_USAGE_ERROR;
        }
        opts->log_format_given = true;
        break;
    case OPT_CHECK_CONFIG:
        opts->check_config = true;
        break;
    case OPT_VERSION:
        return OPTIONS_VERSION;
    case OPT_HELP:
        return OPTIONS_HELP;
    default:
        describe_bad_option(c, argv, err, errlen);
        return OPTIONS_USAGE_ERROR;
    }
    return OPTIONS_RUN;
}

enum options_action
options_parse(int argc, char **argv, struct options *opts, char *err,
              size_t errlen)
{
    enum options_action action = OPTIONS_RUN;
    int c;

    memset(opts, 0, sizeof(*opts));
    opts->verbosity = -1;
    opts->namespaces = calloc((size_t)argc, sizeof(*opts->namespaces));
    if (!opts->namespaces) {
        snprintf(err, errlen, "out of memory");
        return OPTIONS_USAGE_ERROR;
    }

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":v:", long_options, NULL)) != -1) {
        action = parse_one(c, argv, opts, err, errlen);
        if (action != OPTIONS_RUN)
            return action;
    }

    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return OPTIONS_USAGE_ERROR;
    }
    if (opts->all_namespaces && opts->n_namespaces > 0) {
        snprintf(err, errlen,
                 "--namespace and --all-namespaces exclude each other");
        return OPTIONS_USAGE_ERROR;
    }
    return OPTIONS_RUN;
}

void
options_free(struct options *opts)
{
    free(opts->namespaces);
    opts->namespaces = NULL;
}
