/*
 * The settings the master runs with: the configuration file, then the
 * command-line flags over it.  The master loads them at start and on each
 * reload; --check-config loads them once and reports.
 */
#ifndef EC_SETTINGS_H
#define EC_SETTINGS_H

#include "config.h"
#include "options.h"

#define SETTINGS_DEFAULT_CONFIG "/etc/event-controller/event-controller.conf"

/*
 * The configuration file in use: --config, else the default path if it
 * exists, else NULL (the defaults).
 */
const char *settings_config_path(const struct options *opts);

/*
 * Loads the configuration and applies the flags of opts over it.  Returns
 * 0 and sets *out; -EINVAL with every problem appended; -ENOMEM.
 */
int settings_load(const struct options *opts, struct ec_config **out,
                  struct config_problems *problems);

/*
 * --check-config: prints "file:line: problem" for each problem on stderr.
 * Returns the exit status: 0 when the settings are valid, else 1.
 */
int settings_check(const struct options *opts);

#endif
