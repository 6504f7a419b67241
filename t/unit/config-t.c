/*
 * The configuration: good files load into the settings they spell out, and
 * each broken file fails with the "file:line: text" problem that names its
 * mistake.  The files are in $srcdir/t/data/config; those that cannot live
 * in a source tree (too large, a FIFO, unreadable) are made in a scratch
 * folder.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static char data_dir[PATH_MAX];
static char scratch_dir[PATH_MAX];

struct broken {
    const char *file;    /* loaded */
    const char *where;   /* the file the problem names; NULL: file */
    const char *problem; /* what follows that file's path */
    const char *desc;
};

static const struct broken broken_files[] = {
    {"bad-syntax.conf", NULL, ":3: syntax error",
     "a syntax error is reported at its line"},
    {"bad-unknown-setting.conf", NULL, ":3: unknown setting \"colour\"",
     "an unknown setting is refused"},
    {"bad-unknown-resource-setting.conf", NULL,
     ":4: resources[0]: unknown setting \"kind\"",
     "an unknown setting in a resource is refused"},
    {"bad-wrong-type.conf", NULL,
     ":3: batch_max: expected an integer, got a string",
     "a string where an integer belongs is refused"},
    {"bad-out-of-range.conf", NULL, ":3: verbosity: 12 is out of range [0, 9]",
     "a number out of range is refused"},
    {"bad-duplicate.conf", NULL,
     ":5: resources[2]: notebooks.v1beta1.tensorstack.dev repeats "
     "resources[0] on line 3",
     "a repeated resource names the line it repeats"},
    {"bad-empty-list.conf", NULL, ":3: resources: empty list, nothing to watch",
     "an empty resource list is refused"},
    {"bad-no-resources.conf", NULL,
     ": no resources: set \"resources\" or \"resources_file\"",
     "a file without resources is refused"},
    {"bad-unreadable-resources-file.conf", "sub",
     ": cannot read: Is a directory",
     "a resources file that cannot be read is reported with strerror"},
    {"bad-missing-resources-file.conf", "absent.json",
     ": cannot open: No such file or directory",
     "a missing resources file is reported with strerror"},
    {"bad-invalid-json.conf", "bad-trailing-comma.json",
     ":4: invalid JSON: unexpected character",
     "invalid JSON is reported at its line with json-c's text"},
    {"bad-version.conf", NULL,
     ":3: resources[0]: version: \"V1\" is not a version such as v1 or "
     "v1beta1",
     "a version in capitals is refused"},
    {"bad-group.conf", NULL,
     ":3: resources[0]: group: \"Tensorstack_dev\" is not a DNS subdomain",
     "a group that is not a DNS subdomain is refused"},
    {"bad-resource-name.conf", NULL,
     ":3: resources[0]: resource: \"Notebook\" is not a DNS label",
     "a resource name that is not a lowercase DNS label is refused"},
    {"bad-missing-group.conf", NULL, ":3: resources[0]: missing \"group\"",
     "a resource without a group is refused, even in the core group"},
    {"bad-both-resources.conf", NULL,
     ":3: resources_file: resources are already listed on line 2; use one "
     "of the two",
     "resources and resources_file together are refused"},
    {"bad-log-format.conf", NULL,
     ":3: log_format: \"xml\" is not \"text\" or \"json\"",
     "an unknown log format is refused"},
    {"bad-empty.conf", NULL, ": empty file", "an empty file is refused"},
    {"bad-binary.conf", NULL, ":1: not a text file: control byte 0x1f",
     "binary data is refused as such"},
    {"bad-include.conf", NULL, ":4: @include is not supported",
     "@include is refused"},
    {"bad-lease.conf", NULL,
     ":3: leader_election_lease: \"Event_Controller\" is not a DNS "
     "subdomain",
     "a Lease name that is not a DNS subdomain is refused"},
    {"bad-lease.conf", NULL,
     ":4: leader_election_namespace: \"Event-Controller\" is not a DNS "
     "label",
     "a Lease namespace that is not a DNS label is refused"},
    {"bad-namespaces.conf", NULL,
     ":3: namespaces[1]: \"Demo\" is not a DNS label",
     "a namespace that is not a DNS label is refused"},
    {"bad-namespaces.conf", NULL,
     ":3: namespaces[2]: \"demo\" repeats namespaces[0]",
     "a repeated namespace is refused"},
    {"bad-namespaces.conf", NULL,
     ":4: all_namespaces: true, yet namespaces are listed on line 3",
     "all_namespaces with a namespace list is refused"},
    {"bad-metrics-address.conf", NULL,
     ":3: metrics_address: \"::1:9464\" must put an IPv6 address in "
     "brackets",
     "an IPv6 metrics address without brackets is refused"},
    {"bad-reporting-controller.conf", NULL,
     ":3: reporting_controller: \"event controller\" is not a qualified name",
     "a reporting controller that is not a qualified name is refused"},
    {"bad-status-fields.conf", NULL,
     ":3: resources[0]: status field \"status.phase\" is not the name of a "
     "field of .status",
     "a status field that is a path is refused"},
    {"bad-status-fields.conf", NULL,
     ":3: resources[0]: status field \"phase\" is listed twice",
     "a status field listed twice is refused"},
    {"bad-many.conf", NULL, ":2: unknown setting \"colour\"",
     "every problem is reported: the first"},
    {"bad-many.conf", NULL, ":3: qps: 0 is out of range [0.01, 10000]",
     "every problem is reported: the second"},
    {"bad-many.conf", NULL,
     ":4: state_dir: \"var/lib\" must be an absolute path",
     "every problem is reported: the third"},
    {"bad-many.conf", NULL,
     ":6: resources[0]: expected a group { ... }, got a string",
     "every problem is reported: the last"},
};

static const struct broken broken_json[] = {
    {"bad-trailing-comma.json", NULL, ":4: invalid JSON: unexpected character",
     "JSON with a trailing comma is refused"},
    {"bad-not-object.json", NULL,
     ": expected an object {\"resources\": [...]}, got array",
     "JSON that is not an object is refused"},
    {"bad-resources-not-array.json", NULL,
     ": resources: expected an array, got object",
     "JSON whose resources is not an array is refused"},
    {"bad-missing-resource.json", NULL, ": resources[1]: missing \"resource\"",
     "a JSON element without resource is refused"},
    {"bad-unknown-key.json", NULL, ": resources[0]: unknown key \"kind\"",
     "a JSON element with an unknown key is refused"},
    {"bad-duplicate.json", NULL,
     ": resources[1]: configmaps.v1 repeats resources[0]",
     "a repeated JSON element is refused"},
    {"bad-nul-in-string.json", NULL,
     ": resources[0]: resource: holds a NUL character",
     "a JSON string with a NUL character is refused"},
    {"good-seed.conf", NULL, ":1: invalid JSON: unexpected character",
     "a libconfig file is not taken for JSON"},
    {"bad-binary.conf", NULL, ":1: not a text file: control byte 0x1f",
     "binary data is refused as JSON too"},
};

static void format_path(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf for paths: one that does not fit ends the run. */
static void
format_path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        printf("Bail out! a path longer than %zu bytes\n", size);
        exit(1);
    }
}

/* dir/name into buf. */
static void
path_of(char *buf, const char *dir, const char *name)
{
    format_path(buf, PATH_MAX, "%s/%s", dir, name);
}

/* The problems as config_problems_print writes them. */
static char *
problems_text(const struct config_problems *problems)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);

    if (!stream)
        return strdup("");
    config_problems_print(problems, stream);
    fclose(stream);
    return text;
}

/* Prints the problems as TAP comments. */
static void
show_problems(const char *text)
{
    const char *line = text;

    printf("#   saw these problems:\n");
    while (*line) {
        int len = (int)strcspn(line, "\n");

        printf("#     %.*s\n", len, line);
        line += len + (line[len] == '\n');
    }
}

/* Checks that the result is -EINVAL with want among the problems. */
static void
check_failure(int r, const struct config_problems *problems, const char *want,
              const char *desc)
{
    char *text = problems_text(problems);

    if (!ok(r == -EINVAL && strstr(text, want), desc)) {
        printf("#   expected -EINVAL and the problem \"%s\"\n", want);
        printf("#   got %d\n", r);
        show_problems(text);
    }
    free(text);
}

/* Checks that the file of b fails to load with its problem. */
static void
load_fails(const char *dir, const struct broken *b)
{
    struct config_problems problems = {0};
    struct ec_config *cfg = NULL;
    char path[PATH_MAX], want[2 * PATH_MAX];
    int r;

    path_of(path, dir, b->file);
    if (b->where)
        format_path(want, sizeof(want), "%s/%s%s", dir, b->where, b->problem);
    else
        format_path(want, sizeof(want), "%s%s", path, b->problem);
    r = config_load(path, &cfg, &problems);
    check_failure(r, &problems, want, b->desc);
    config_free(cfg);
    config_problems_free(&problems);
}

/* Checks that the file of b fails as a resources file. */
static void
json_fails(const char *dir, const struct broken *b)
{
    struct config_problems problems = {0};
    struct ec_config *cfg;
    char path[PATH_MAX], want[2 * PATH_MAX];
    int r;

    path_of(path, dir, b->file);
    format_path(want, sizeof(want), "%s%s", path, b->problem);
    if (config_load(NULL, &cfg, &problems) < 0)
        exit(99);
    r = resources_load_json(path, cfg, &problems);
    check_failure(r, &problems, want, b->desc);
    is_int(cfg->n_resources, 0, "a failed resources file leaves no trace");
    config_free(cfg);
    config_problems_free(&problems);
}

/* Loads a file that must be good; exits if it is not. */
static struct ec_config *
load_good(const char *name)
{
    struct config_problems problems = {0};
    struct ec_config *cfg;
    char path[PATH_MAX], *text;
    int r;

    path_of(path, data_dir, name);
    r = config_load(path, &cfg, &problems);
    text = problems_text(&problems);
    if (!ok(r == 0 && problems.n == 0, name)) {
        printf("#   expected 0 and no problems, got %d\n", r);
        show_problems(text);
    }
    free(text);
    config_problems_free(&problems);
    return r == 0 ? cfg : NULL;
}

/* Checks that cfg holds the seed's resources, in order. */
static void
check_seed_resources(const struct ec_config *cfg, const char *what)
{
    static const char *const keys[] = {
        "notebooks.v1beta1.tensorstack.dev",
        "imagebuilders.v1beta1.tensorstack.dev",
        "workflowtemplates.v1beta1.tensorstack.dev",
    };
    char desc[160];

    snprintf(desc, sizeof(desc), "%s: the seed's three resources", what);
    is_int(cfg->n_resources, 3, desc);
    for (size_t i = 0; i < 3 && i < cfg->n_resources; i++) {
        snprintf(desc, sizeof(desc), "%s: resource %zu is %s", what, i,
                 keys[i]);
        is_str(config_resource_key(&cfg->resources[i]), keys[i], desc);
    }
    if (cfg->n_resources > 0) {
        snprintf(desc, sizeof(desc), "%s: status fields default", what);
        is_int(cfg->resources[0].n_status_fields, 2, desc);
        is_str(cfg->resources[0].status_fields[0], "phase", desc);
        is_str(cfg->resources[0].status_fields[1], "conditions", desc);
    }
}

/* Without a file, every setting has its documented default. */
static void
test_defaults(void)
{
    struct config_problems problems = {0};
    struct ec_config *cfg;

    is_int(config_load(NULL, &cfg, &problems), 0, "no file: the defaults");
    is_str(cfg->state_dir, "/var/lib/event-controller", "default state_dir");
    is_str(cfg->metrics_address, "127.0.0.1:9464", "default metrics_address");
    is_int(cfg->verbosity, 1, "default verbosity");
    is_int(cfg->log_format, LOG_FORMAT_TEXT, "default log_format");
    is_str(cfg->reporting_controller, "event-controller",
           "default reporting_controller");
    is_int(cfg->emitter.batch_window_ms, 20, "default batch_window_ms");
    is_int(cfg->emitter.batch_max, 100, "default batch_max");
    ok(cfg->emitter.qps == 50.0, "default qps");
    is_int(cfg->emitter.burst, 100, "default burst");
    is_int(cfg->emitter.spam_burst, 25, "default spam_burst");
    is_int(cfg->emitter.spam_interval_s, 300, "default spam_interval_s");
    is_int(cfg->emitter.drain_timeout_s, 10, "default drain_timeout_s");
    is_int(cfg->emitter.queue_max, 10000, "default queue_max");
    is_int(cfg->max_event_bytes, 4194304, "default max_event_bytes");
    ok(!cfg->kubeconfig && !cfg->context, "no kubeconfig, no context");
    ok(cfg->n_namespaces == 0 && !cfg->all_namespaces,
       "default: the client's own namespace");
    ok(!cfg->leader_election, "default: no leader election");
    ok(!cfg->leader_election_namespace,
       "default: the Lease in the client's own namespace");
    is_str(cfg->leader_election_lease, "event-controller",
           "default leader_election_lease");
    config_free(cfg);
}

/* The documented file must spell out exactly the defaults. */
static void
test_documented_file(void)
{
    struct config_problems problems = {0};
    struct ec_config *defaults, *cfg;
    const char *srcdir = getenv("srcdir");
    char path[PATH_MAX], *text;
    int r;

    format_path(path, sizeof(path), "%s/etc/event-controller.conf",
                srcdir ? srcdir : ".");
    r = config_load(path, &cfg, &problems);
    text = problems_text(&problems);
    if (!ok(r == 0, "etc/event-controller.conf loads")) {
        printf("#   expected 0, got %d\n", r);
        show_problems(text);
    }
    free(text);
    config_problems_free(&problems);
    if (r < 0)
        return;

    config_load(NULL, &defaults, &problems);
    ok(config_emitter_equal(cfg, defaults),
       "etc/event-controller.conf: emitter settings are the defaults");
    is_str(cfg->state_dir, defaults->state_dir, "documented state_dir");
    is_str(cfg->metrics_address, defaults->metrics_address,
           "documented metrics_address");
    is_int(cfg->verbosity, defaults->verbosity, "documented verbosity");
    is_int(cfg->log_format, defaults->log_format, "documented log_format");
    is_int(cfg->max_event_bytes, defaults->max_event_bytes,
           "documented max_event_bytes");
    ok(cfg->leader_election == defaults->leader_election &&
           !cfg->leader_election_namespace,
       "documented leader_election and its namespace");
    is_str(cfg->leader_election_lease, defaults->leader_election_lease,
           "documented leader_election_lease");
    ok(cfg->n_namespaces == 0 && !cfg->all_namespaces, "documented namespaces");
    check_seed_resources(cfg, "etc/event-controller.conf");
    config_free(defaults);
    config_free(cfg);
}

/* Resources listed in the file itself, with optional settings. */
static void
test_inline(void)
{
    struct ec_config *cfg = load_good("good-inline.conf");
    const struct ec_resource *r;

    if (!cfg)
        return;
    is_int(cfg->n_namespaces, 2, "inline: two namespaces");
    is_str(cfg->namespaces[1], "demo-2", "inline: namespaces in order");
    is_int(cfg->n_resources, 3, "inline: three resources");
    ok(!cfg->resources_file, "inline: no resources file");
    r = &cfg->resources[0];
    is_str(config_resource_key(r), "notebooks.v1beta1.tensorstack.dev",
           "inline: key of a resource in a group");
    ok(!r->label_selector && !r->field_selector, "inline: no selectors");
    is_int(r->line, 4, "inline: a resource knows its line");
    r = &cfg->resources[1];
    is_str(config_resource_key(r), "configmaps.v1",
           "inline: key of a core resource");
    is_str(r->group, "", "inline: the core group is \"\"");
    is_str(r->label_selector, "app=demo", "inline: label selector");
    is_str(r->field_selector, "metadata.name!=kube-root-ca.crt",
           "inline: field selector");
    is_int(r->n_status_fields, 1, "inline: status fields as given");
    is_str(r->status_fields[0], "phase", "inline: the status field given");
    is_int(cfg->resources[2].n_status_fields, 0,
           "inline: an empty status field list stays empty");
    config_free(cfg);
}

/* Resources in the seed's JSON, named by a relative path. */
static void
test_resources_file(void)
{
    struct ec_config *cfg = load_good("good-seed.conf");
    char want[PATH_MAX];

    if (cfg) {
        path_of(want, data_dir, "seed.json");
        is_str(cfg->resources_file, want,
               "a relative resources_file is relative to the file's folder");
        is_int(cfg->verbosity, 2, "settings beside resources_file load");
        check_seed_resources(cfg, "seed.json");
        config_free(cfg);
    }

    cfg = load_good("sub/good-parent.conf");
    if (cfg) {
        path_of(want, data_dir, "sub/../seed.json");
        is_str(cfg->resources_file, want, "a relative path may use ..");
        check_seed_resources(cfg, "sub/../seed.json");
        config_free(cfg);
    }
}

/* Every setting moved from its default is read. */
static void
test_every_setting(void)
{
    struct ec_config *cfg = load_good("good-everything.conf");

    if (!cfg)
        return;
    ok(cfg->all_namespaces, "all_namespaces");
    is_str(cfg->state_dir, "/srv/event-controller", "state_dir");
    is_str(cfg->metrics_address, "[::1]:9100", "metrics_address in brackets");
    is_int(cfg->verbosity, 4, "verbosity");
    is_int(cfg->log_format, LOG_FORMAT_JSON, "log_format");
    is_str(cfg->reporting_controller, "tensorstack.dev/event-controller",
           "reporting_controller with a prefix");
    is_int(cfg->emitter.batch_window_ms, 50, "batch_window_ms");
    is_int(cfg->emitter.batch_max, 200, "batch_max");
    ok(cfg->emitter.qps == 12.5, "qps");
    is_int(cfg->emitter.burst, 30, "burst");
    is_int(cfg->emitter.spam_burst, 5, "spam_burst");
    is_int(cfg->emitter.spam_interval_s, 60, "spam_interval_s");
    is_int(cfg->emitter.drain_timeout_s, 3, "drain_timeout_s");
    is_int(cfg->emitter.queue_max, 500, "queue_max");
    is_int(cfg->max_event_bytes, 1048576, "max_event_bytes");
    is_str(cfg->kubeconfig, "/etc/kubernetes/admin.conf", "kubeconfig");
    is_str(cfg->context, "kind-demo", "context");
    ok(cfg->leader_election, "leader_election");
    is_str(cfg->leader_election_namespace, "event-controller",
           "leader_election_namespace");
    is_str(cfg->leader_election_lease, "tensorstack.dev-event-controller",
           "leader_election_lease");
    config_free(cfg);
}

/* A resources file given alone, as --resources does. */
static void
test_resources_json(void)
{
    struct config_problems problems = {0};
    struct ec_config *cfg;
    const struct ec_resource *r;
    char path[PATH_MAX];

    config_load(NULL, &cfg, &problems);
    path_of(path, data_dir, "good-extended.json");
    is_int(resources_load_json(path, cfg, &problems), 0,
           "JSON with the optional keys loads");
    is_int(problems.n, 0, "JSON with the optional keys: no problems");
    is_str(cfg->resources_file, path, "the JSON file is remembered");
    is_int(cfg->n_resources, 2, "JSON: two resources");
    if (cfg->n_resources == 2) {
        r = &cfg->resources[0];
        is_str(r->label_selector, "team=ml", "JSON: labelSelector");
        is_str(r->field_selector, "metadata.namespace=demo",
               "JSON: fieldSelector");
        is_int(r->n_status_fields, 3, "JSON: statusFields");
        is_str(r->status_fields[2], "readyReplicas",
               "JSON: statusFields in order");
        r = &cfg->resources[1];
        ok(!r->label_selector, "JSON: a null labelSelector is none");
        is_str(config_resource_key(r), "pods.v1", "JSON: a core resource");
    }

    path_of(path, data_dir, "seed.json");
    is_int(resources_load_json(path, cfg, &problems), 0,
           "the seed's JSON loads as it is");
    check_seed_resources(cfg, "resources_load_json");
    config_problems_free(&problems);
    config_free(cfg);
}

/* What decides, on reload, which parts restart. */
static void
test_reload_comparisons(void)
{
    struct ec_config *a = load_good("good-inline.conf");
    struct ec_config *b = load_good("good-inline.conf");
    struct ec_resource *x, *y;
    char *swap;

    if (!a || !b)
        goto out;
    ok(config_emitter_equal(a, b), "the same file: the same emitter");
    b->emitter.qps = 10;
    ok(!config_emitter_equal(a, b), "another qps: another emitter");
    b->emitter.qps = a->emitter.qps;
    free(b->reporting_controller);
    b->reporting_controller = strdup("other");
    ok(!config_emitter_equal(a, b),
       "another reporting controller: another emitter");

    x = &a->resources[0];
    y = &b->resources[0];
    ok(config_resource_equal(x, y), "the same resource is equal");
    swap = y->status_fields[0];
    y->status_fields[0] = y->status_fields[1];
    y->status_fields[1] = swap;
    ok(config_resource_equal(x, y), "the order of status fields is moot");
    y->label_selector = strdup("app=other");
    ok(!config_resource_equal(x, y), "another selector: another resource");
    ok(!config_resource_equal(x, &a->resources[1]),
       "another key: another resource");
out:
    config_free(a);
    config_free(b);
}

/* The Kubernetes name rules at their edges. */
static void
test_names(void)
{
    char label[80];

    memset(label, 'a', 63);
    label[63] = '\0';
    ok(!config_name_problem(CONFIG_NAME_DNS_LABEL, label),
       "a DNS label of 63 characters is valid");
    label[63] = 'a';
    label[64] = '\0';
    ok(config_name_problem(CONFIG_NAME_DNS_LABEL, label),
       "a DNS label of 64 characters is not");
    ok(config_name_problem(CONFIG_NAME_DNS_LABEL, "-demo"),
       "a DNS label does not start with '-'");
    ok(!config_name_problem(CONFIG_NAME_VERSION, "v2alpha1"),
       "v2alpha1 is a version");
    ok(config_name_problem(CONFIG_NAME_VERSION, "v1.2"),
       "v1.2 is not a version");
    ok(!config_name_problem(CONFIG_NAME_DNS_SUBDOMAIN, "a.b-c.d"),
       "a.b-c.d is a DNS subdomain");
    ok(config_name_problem(CONFIG_NAME_DNS_SUBDOMAIN, "a..b"),
       "a..b is not a DNS subdomain");
    ok(!config_name_problem(CONFIG_NAME_QUALIFIED, "example.com/My_Name.1"),
       "a qualified name may have a prefix");
    ok(config_name_problem(CONFIG_NAME_QUALIFIED, "/name"),
       "a qualified name's prefix is not empty");
}

/* Files that cannot be kept in the tree: made here, then removed. */
static void
test_made_files(void)
{
    static const struct broken made[] = {
        {"huge.conf", NULL,
         ": larger than 1048576 bytes, the most a ConfigMap "
         "holds",
         "a file over 1 MiB is refused without reading it all"},
        {"fifo.conf", NULL, ": not a regular file",
         "a FIFO is refused without waiting for a writer"},
        {"unreadable.conf", NULL, ": cannot open: Permission denied",
         "an unreadable file is reported with strerror"},
    };
    char path[PATH_MAX], line[81];
    FILE *f;

    path_of(path, scratch_dir, "huge.conf");
    f = fopen(path, "w");
    memset(line, '#', 79);
    line[79] = '\n';
    line[80] = '\0';
    for (int i = 0; f && i <= CONFIG_FILE_MAX / 80; i++)
        fputs(line, f);
    if (f)
        fclose(f);
    load_fails(scratch_dir, &made[0]);

    path_of(path, scratch_dir, "fifo.conf");
    if (mkfifo(path, 0600) < 0)
        printf("# mkfifo %s: %s\n", path, strerror(errno));
    load_fails(scratch_dir, &made[1]);

    /* root reads any file: there is nothing to test then. */
    path_of(path, scratch_dir, "unreadable.conf");
    close(open(path, O_WRONLY | O_CREAT, 0));
    if (geteuid() != 0)
        load_fails(scratch_dir, &made[2]);
}

/* Removes the scratch folder and the files made in it. */
static void
remove_scratch(void)
{
    static const char *const names[] = {"huge.conf", "fifo.conf",
                                        "unreadable.conf"};
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        path_of(path, scratch_dir, names[i]);
        unlink(path);
    }
    rmdir(scratch_dir);
}

/* Runs every test; the data folder comes from $srcdir. */
int
main(void)
{
    const char *srcdir = getenv("srcdir");
    const char *tmpdir = getenv("TMPDIR");

    format_path(data_dir, sizeof(data_dir), "%s/t/data/config",
                srcdir ? srcdir : ".");
    format_path(scratch_dir, sizeof(scratch_dir), "%s/config-t.XXXXXX",
                tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(scratch_dir)) {
        printf("Bail out! mkdtemp %s: %s\n", scratch_dir, strerror(errno));
        return 1;
    }

    test_defaults();
    test_documented_file();
    test_inline();
    test_resources_file();
    test_every_setting();
    test_resources_json();
    test_reload_comparisons();
    test_names();
    for (size_t i = 0; i < sizeof(broken_files) / sizeof(broken_files[0]); i++)
        load_fails(data_dir, &broken_files[i]);
    for (size_t i = 0; i < sizeof(broken_json) / sizeof(broken_json[0]); i++)
        json_fails(data_dir, &broken_json[i]);
    test_made_files();

    remove_scratch();
    return tap_done();
}
