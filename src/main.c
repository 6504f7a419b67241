/*
 * event-controller: writes a Kubernetes Event for every meaningful change
 * to the objects of the configured resources.
 *
 * main() parses the command line and hands over to the role this process
 * plays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emitter.h"
#include "log.h"
#include "master.h"
#include "options.h"
#include "settings.h"
#include "watcher.h"

int
main(int argc, char **argv)
{
    struct options opts;
    char err[256];
    int status;

    /*
     * The master starts its children as this same binary with a role
     * word first; the roles are internal and not documented as usage.
     */
    if (argc > 1 && strcmp(argv[1], "watcher") == 0)
        return watcher_command(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "records") == 0)
        return records_command(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "emitter") == 0)
        return emitter_command(argc - 1, argv + 1);

    switch (options_parse(argc, argv, &opts, err, sizeof(err))) {
    case OPTIONS_HELP:
        options_usage(stdout);
        options_free(&opts);
        return EXIT_SUCCESS;
    case OPTIONS_VERSION:
        printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        options_free(&opts);
        return EXIT_SUCCESS;
    case OPTIONS_USAGE_ERROR:
        fprintf(stderr, "event-controller: %s\n", err);
        fprintf(stderr, "Try 'event-controller --help' for more "
                        "information.\n");
        options_free(&opts);
        return EXIT_USAGE;
    case OPTIONS_RUN:
        break;
    }

    log_init("master", NULL,
             opts.verbosity >= 0 ? opts.verbosity : LOG_DEFAULT_VERBOSITY,
             opts.log_format);
    status = opts.check_config ? settings_check(&opts) : master_main(&opts);
    options_free(&opts);
    return status;
}
