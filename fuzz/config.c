/*
 * libFuzzer target for the configuration: each input is written to a file
 * and loaded twice, as the daemon's libconfig file and as a resources file
 * in the ConfigMap's JSON format.  Whatever the bytes, loading must end with
 * either a configuration or problems, never a crash, a leak or a hang.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[4096];
static int fd = -1;
static FILE *sink; /* problems are printed too, to exercise the printer */

/* The suppressed leaks above would otherwise be listed at every check. */
const char *
__lsan_default_options(void)
{
    return "print_suppressions=0";
}

/* Removes the input file when the fuzzer exits. */
static void
remove_input(void)
{
    if (fd >= 0)
        unlink(path);
}

/*
 * libconfig 1.5's scanner leaks the string token it was scanning when a
 * syntax error follows it (name"x"; or name"";): not ours to fix, and the
 * daemon loses at most a file's size per failed reload.
 */
const char *
__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* One file for all inputs: loading reads a path, not a buffer. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmpdir = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    snprintf(path, sizeof(path), "%s/fuzz-config.XXXXXX",
             tmpdir ? tmpdir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "mkstemp %s: %s\n", path, strerror(errno));
        abort();
    }
    atexit(remove_input);
    if (!(sink = fopen("/dev/null", "w")))
        abort();
    return 0;
}

/* Loading must succeed exactly when it reports no problem. */
static void
check(int r, const struct config_problems *problems)
{
    if ((r == 0) != (problems->n == 0) && !problems->out_of_memory)
        abort();
}

/* Loads one input both ways. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_problems problems = {0};
    struct ec_config *cfg;
    int r;

    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    r = config_load(path, &cfg, &problems);
    check(r, &problems);
    config_free(cfg);
    config_problems_print(&problems, sink);
    config_problems_free(&problems);

    if (config_load(NULL, &cfg, &problems) < 0)
        abort();
    r = resources_load_json(path, cfg, &problems);
    check(r, &problems);
    config_free(cfg);
    config_problems_free(&problems);
    return 0;
}
