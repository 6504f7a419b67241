/*
 * The command line: every documented flag is parsed, and wrong usage is
 * refused with a one-line reason.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "options.h"
#include "tap.h"

static enum options_action
parse(struct options *opts, char *err, size_t errlen, int argc, ...)
{
    static char *argv[32];
    va_list ap;

    va_start(ap, argc);
    argv[0] = "event-controller";
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    argv[argc] = NULL;
    va_end(ap);
    err[0] = '\0';
    return options_parse(argc, argv, opts, err, errlen);
}

static void
test_every_flag(void)
{
    struct options o;
    char err[256];
    enum options_action a;

    a = parse(&o, err, sizeof(err), 21, "--config", "c.conf", "--resources",
              "r.json", "--kubeconfig", "kc", "--context", "ctx", "--namespace",
              "a", "--namespace", "b", "--state-dir", "/s", "--metrics-address",
              "127.0.0.1:9464", "-v", "3", "--log-format", "json");
    is_int(a, OPTIONS_RUN, "every flag together parses");
    is_str(o.config_path, "c.conf", "--config");
    is_str(o.resources_path, "r.json", "--resources");
    is_str(o.kubeconfig, "kc", "--kubeconfig");
    is_str(o.context, "ctx", "--context");
    is_int(o.n_namespaces, 2, "--namespace repeats");
    is_str(o.namespaces[1], "b", "second namespace kept in order");
    is_str(o.state_dir, "/s", "--state-dir");
    is_str(o.metrics_address, "127.0.0.1:9464", "--metrics-address");
    is_int(o.verbosity, 3, "-v");
    is_int(o.log_format, LOG_FORMAT_JSON, "--log-format json");
    options_free(&o);

    a = parse(&o, err, sizeof(err), 3, "--all-namespaces", "--check-config");
    is_int(a, OPTIONS_RUN, "--all-namespaces --check-config parse");
    ok(o.all_namespaces && o.check_config, "both flags are set");
    is_int(o.verbosity, -1, "verbosity is unset when -v is absent");
    options_free(&o);
}

static void
test_help_and_version(void)
{
    struct options o;
    char err[256];

    is_int(parse(&o, err, sizeof(err), 2, "--help"), OPTIONS_HELP,
           "--help asks for help");
    options_free(&o);
    is_int(parse(&o, err, sizeof(err), 2, "--version"), OPTIONS_VERSION,
           "--version asks for the version");
    options_free(&o);
}

static void
expect_usage_error(const char *desc, const char *want, int argc, char *a1,
                   char *a2, char *a3)
{
    struct options o;
    char err[256];
    enum options_action a;

    a = parse(&o, err, sizeof(err), argc, a1, a2, a3);
    is_int(a, OPTIONS_USAGE_ERROR, desc);
    is_str(err, want, "  with the reason");
    options_free(&o);
}

static void
test_usage_errors(void)
{
    expect_usage_error("an unknown long option is refused",
                       "unknown option '--bogus'", 2, "--bogus", NULL, NULL);
    expect_usage_error("an unknown short option is refused",
                       "unknown option '-x'", 2, "-x", NULL, NULL);
    expect_usage_error("a missing argument is refused",
                       "option '--config' requires an argument", 2, "--config",
                       NULL, NULL);
    expect_usage_error("-v without a number is refused",
                       "option '-v' requires an argument", 2, "-v", NULL, NULL);
    expect_usage_error("a verbosity out of range is refused",
                       "invalid verbosity '11': expected a number from 0 to 10",
                       3, "-v", "11", NULL);
    expect_usage_error("an unknown log format is refused",
                       "invalid log format 'xml': expected text or json", 3,
                       "--log-format", "xml", NULL);
    expect_usage_error("a stray argument is refused",
                       "unexpected argument 'extra'", 2, "extra", NULL, NULL);
    expect_usage_error("--namespace with --all-namespaces is refused",
                       "--namespace and --all-namespaces exclude each other", 4,
                       "--namespace", "a", "--all-namespaces");
}

int
main(void)
{
    test_every_flag();
    test_help_and_version();
    test_usage_errors();
    return tap_done();
}
