/*
 * Settings: the configuration file with the command-line flags over it.
 * The flags win because they are what an operator typed for this run; a
 * reload reads the file again and applies the same flags again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"

/* --config, else the default file if there is one, else the defaults. */
const char *
settings_config_path(const struct options *opts)
{
    if (opts->config_path)
        return opts->config_path;
    if (access(SETTINGS_DEFAULT_CONFIG, F_OK) == 0)
        return SETTINGS_DEFAULT_CONFIG;
    return NULL;
}

/* Replaces *field with a copy of value; false when out of memory. */
static bool
override(char **field, const char *value)
{
    char *copy;

    if (!value)
        return true;
    if (!(copy = strdup(value)))
        return false;
    free(*field);
    *field = copy;
    return true;
}

/* --namespace NS... or --all-namespaces replace the file's choice. */
static int
override_namespaces(const struct options *opts, struct ec_config *cfg,
                    struct config_problems *problems)
{
    char **v;
    const char *why;

    if (!opts->all_namespaces && opts->n_namespaces == 0)
        return 0;
    v = calloc(opts->n_namespaces + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < opts->n_namespaces; i++) {
        why = config_name_problem(CONFIG_NAME_DNS_LABEL, opts->namespaces[i]);
        if (why)
            config_problems_add(problems, NULL, 0, "--namespace %s: %s",
                                opts->namespaces[i], why);
        if (!(v[i] = strdup(opts->namespaces[i])))
            problems->out_of_memory = true;
    }

    for (size_t i = 0; i < cfg->n_namespaces; i++)
        free(cfg->namespaces[i]);
    free(cfg->namespaces);
    cfg->namespaces = v;
    cfg->n_namespaces = opts->n_namespaces;
    cfg->all_namespaces = opts->all_namespaces;
    return 0;
}

/* The flags over the file's settings. */
static int
apply_flags(const struct options *opts, struct ec_config *cfg,
            struct config_problems *problems)
{
    int r = 0;

    if (opts->resources_path)
        r = resources_load_json(opts->resources_path, cfg, problems);
    if (r == -ENOMEM)
        return -ENOMEM;
    if (override_namespaces(opts, cfg, problems) < 0)
        return -ENOMEM;
    if (!override(&cfg->state_dir, opts->state_dir) ||
        !override(&cfg->metrics_address, opts->metrics_address) ||
        !override(&cfg->kubeconfig, opts->kubeconfig) ||
        !override(&cfg->context, opts->context))
        return -ENOMEM;
    if (opts->verbosity >= 0)
        cfg->verbosity = opts->verbosity;
    if (opts->log_format_given)
        cfg->log_format = opts->log_format;
    if (opts->leader_elect)
        cfg->leader_election = true;
    if (r == 0 && cfg->n_resources == 0)
        config_problems_add(problems, NULL, 0,
                            "no resources: give --resources FILE or a "
                            "configuration file that lists them");
    return 0;
}

int
settings_load(const struct options *opts, struct ec_config **out,
              struct config_problems *problems)
{
    unsigned flags = opts->resources_path ? CONFIG_LOAD_RESOURCES_GIVEN : 0;
    struct ec_config *cfg;
    size_t before = problems->n;
    int r;

    *out = NULL;
    r = config_load_flags(settings_config_path(opts), flags, &cfg, problems);
    if (r < 0)
        return r;

    r = apply_flags(opts, cfg, problems);
    if (r == 0 && problems->out_of_memory)
        r = -ENOMEM;
    else if (r == 0 && problems->n > before)
        r = -EINVAL;
    if (r < 0) {
        config_free(cfg);
        return r;
    }
    *out = cfg;
    return 0;
}

int
settings_check(const struct options *opts)
{
    struct config_problems problems = {0};
    struct ec_config *cfg;
    int r;

    r = settings_load(opts, &cfg, &problems);
    config_problems_print(&problems, stderr);
    if (r == -ENOMEM && problems.n == 0)
        fputs("event-controller: out of memory\n", stderr);
    config_problems_free(&problems);
    config_free(cfg);
    return r < 0 ? 1 : 0;
}
