/*
 * The command line.  Flags override the configuration file; the caller
 * applies them after loading it.
 */
#ifndef EC_OPTIONS_H
#define EC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"

/* sysexits.h's EX_USAGE: the command was used incorrectly. */
#define EXIT_USAGE 64

enum options_action {
    OPTIONS_RUN,
    OPTIONS_HELP,
    OPTIONS_VERSION,
    OPTIONS_USAGE_ERROR,
};

struct options {
    const char *config_path;
    const char *resources_path;
    const char *kubeconfig;
    const char *context;
    const char **namespaces; /* points into argv; the array is owned */
    size_t n_namespaces;
    bool all_namespaces;
    const char *state_dir;
    const char *metrics_address;
    int verbosity; /* -1 when not given */
    enum log_format log_format;
    bool log_format_given;
    bool check_config;
    bool leader_elect; /* --leader-elect: leader_election = true */
};

/*
 * Parses argv into opts.  On OPTIONS_USAGE_ERROR, err holds a one-line
 * message without the program name.
 */
enum options_action options_parse(int argc, char **argv, struct options *opts,
                                  char *err, size_t errlen);

void options_usage(FILE *out);

void options_free(struct options *opts);

#endif
