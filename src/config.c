/*
 * The daemon's configuration file, in libconfig syntax, merged over the
 * defaults.  Every setting is looked up in one table of names, types and
 * ranges, so that an unknown or mistyped setting is a problem rather than
 * silently ignored.  The resources file it may name is read by resources.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "stream.h"

/* Values echoed in problems are cut so that a line stays readable. */
#define SHOWN "%.80s"

/* One load of a file into cfg. */
struct load {
    const char *file;
    unsigned flags; /* CONFIG_LOAD_* */
    struct ec_config *cfg;
    struct config_problems *problems;

    /* The settings that rules across settings need, NULL if not set. */
    const config_setting_t *resources;
    const config_setting_t *resources_file;
    const config_setting_t *namespaces;
    const config_setting_t *all_namespaces;
    const config_setting_t *batch_max;
};

struct key;
typedef void load_fn(struct load *ld, const config_setting_t *s,
                     const struct key *key);

/* One known setting: how to load it and where it goes in ec_config. */
struct key {
    const char *name;
    load_fn *load;
    size_t offset;
    double min, max;                    /* numbers: the range allowed */
    const char *(*check)(const char *); /* strings: why a value is wrong */
};

static void problems_vadd(struct config_problems *problems, const char *file,
                          int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Appends a problem; a failed allocation is remembered, not returned. */
static void
problems_vadd(struct config_problems *problems, const char *file, int line,
              const char *fmt, va_list ap)
{
    struct config_problem *v;
    char *text, *copy = NULL;

    if (vasprintf(&text, fmt, ap) < 0)
        goto out_of_memory;
    if (file && !(copy = strdup(file)))
        goto out_free;
    v = reallocarray(problems->v, problems->n + 1, sizeof(*v));
    if (!v)
        goto out_free;

    /* A value echoed in the text must not split the one-line form. */
    for (char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';

    problems->v = v;
    v[problems->n++] = (struct config_problem){copy, line, text};
    return;

out_free:
    free(copy);
    free(text);
out_of_memory:
    problems->out_of_memory = true;
}

/* Appends "file:line: text" to problems. */
void
config_problems_add(struct config_problems *problems, const char *file,
                    int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    problems_vadd(problems, file, line, fmt, ap);
    va_end(ap);
}

/* Writes one problem a line, in the order found. */
void
config_problems_print(const struct config_problems *problems, FILE *stream)
{
    for (size_t i = 0; i < problems->n; i++) {
        const struct config_problem *p = &problems->v[i];

        if (p->file && p->line > 0)
            fprintf(stream, "%s:%d: %s\n", p->file, p->line, p->text);
        else if (p->file)
            fprintf(stream, "%s: %s\n", p->file, p->text);
        else
            fprintf(stream, "%s\n", p->text);
    }
    if (problems->out_of_memory)
        fprintf(stream, "out of memory: some problems are not shown\n");
}

/* Frees the problems and leaves an empty list. */
void
config_problems_free(struct config_problems *problems)
{
    for (size_t i = 0; i < problems->n; i++) {
        free(problems->v[i].file);
        free(problems->v[i].text);
    }
    free(problems->v);
    *problems = (struct config_problems){0};
}

/* The line of the first byte that a text file may not hold, or 0. */
static int
control_byte_line(const char *buf, size_t len, unsigned char *byte)
{
    int line = 1;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\n')
            line++;
        else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
            *byte = c;
            return line;
        }
    }
    return 0;
}

/* Reads fd to the end into a buffer that may grow to CONFIG_FILE_MAX + 1. */
static long
read_bounded(int fd, size_t hint, char **text)
{
    size_t size = hint < CONFIG_FILE_MAX ? hint + 2 : CONFIG_FILE_MAX + 2;
    size_t len = 0;
    char *buf = malloc(size), *bigger;
    ssize_t got;

    while (buf && len <= CONFIG_FILE_MAX) {
        if (len + 1 == size) {
            size =
                size * 2 < CONFIG_FILE_MAX + 2 ? size * 2 : CONFIG_FILE_MAX + 2;
            if (!(bigger = realloc(buf, size)))
                break;
            buf = bigger;
        }
        got = read(fd, buf + len, size - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            got = -errno;
            free(buf);
            return (long)got;
        }
        if (got == 0) {
            buf[len] = '\0';
            *text = buf;
            return (long)len;
        }
        len += (size_t)got;
    }
    free(buf);
    return len > CONFIG_FILE_MAX ? -EFBIG : -ENOMEM;
}

/* Reads the open file fd whole, reporting what makes it no config file. */
static long
read_file(int fd, const char *path, char **text,
          struct config_problems *problems)
{
    struct stat st;
    long len;

    if (fstat(fd, &st) < 0)
        len = -errno;
    else if (S_ISDIR(st.st_mode))
        len = -EISDIR;
    else if (!S_ISREG(st.st_mode)) {
        config_problems_add(problems, path, 0, "not a regular file");
        return -EINVAL;
    } else if (st.st_size > CONFIG_FILE_MAX)
        len = -EFBIG;
    else
        len = read_bounded(fd, (size_t)st.st_size, text);

    if (len == -EFBIG)
        config_problems_add(problems, path, 0,
                            "larger than %d bytes, the most a ConfigMap holds",
                            CONFIG_FILE_MAX);
    else if (len == -ENOMEM)
        problems->out_of_memory = true;
    else if (len < 0)
        config_problems_add(problems, path, 0, "cannot read: %s",
                            strerror((int)-len));
    else if (len == 0) {
        config_problems_add(problems, path, 0, "empty file");
        return -EINVAL;
    }
    return len;
}

/* Reads a configuration file whole, refusing what is not one. */
long
config_file_read(const char *path, char **text,
                 struct config_problems *problems)
{
    unsigned char byte = 0;
    long len;
    int fd, line;

    *text = NULL;

    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        len = -errno;
        config_problems_add(problems, path, 0, "cannot open: %s",
                            strerror((int)-len));
        return len;
    }
    len = read_file(fd, path, text, problems);
    close(fd);
    if (len < 0) {
        free(*text);
        *text = NULL;
        return len;
    }

    line = control_byte_line(*text, (size_t)len, &byte);
    if (line > 0) {
        config_problems_add(problems, path, line,
                            "not a text file: control byte 0x%02x", byte);
        free(*text);
        *text = NULL;
        return -EINVAL;
    }
    return len;
}

static void problem(struct load *ld, const config_setting_t *s, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

/* Appends a problem at the line of setting s (0: the file as a whole). */
static void
problem(struct load *ld, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    problems_vadd(ld->problems, ld->file,
                  s ? (int)config_setting_source_line(s) : 0, fmt, ap);
    va_end(ap);
}

/* The type of s as problems name it. */
static const char *
type_name(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    }
    return "nothing";
}

/* An integer is int64 when written with the L suffix: 4096L. */
static bool
is_integer(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_INT ||
           config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* strdup that records a failure instead of returning it. */
static char *
dup_string(struct load *ld, const char *s)
{
    char *c = strdup(s);

    if (!c)
        ld->problems->out_of_memory = true;
    return c;
}

/*
 * An integer within the key's range.  libconfig 1.5 wraps integers beyond
 * 32 bits without an error (2147483648 reads as -2147483648): a value that
 * wraps into the range cannot be told from a correct one.
 */
static void
load_int(struct load *ld, const config_setting_t *s, const struct key *key)
{
    long long value;

    if (!is_integer(s)) {
        problem(ld, s, "%s: expected an integer, got %s", key->name,
                type_name(s));
        return;
    }
    value = config_setting_get_int64(s);
    if (value < key->min || value > key->max) {
        problem(ld, s, "%s: %lld is out of range [%.0f, %.0f]", key->name,
                value, key->min, key->max);
        return;
    }
    *(int *)((char *)ld->cfg + key->offset) = (int)value;
}

/* A number, integer or not, within the key's range. */
static void
load_float(struct load *ld, const config_setting_t *s, const struct key *key)
{
    double value;

    if (is_integer(s))
        value = (double)config_setting_get_int64(s);
    else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
        value = config_setting_get_float(s);
    else {
        problem(ld, s, "%s: expected a number, got %s", key->name,
                type_name(s));
        return;
    }
    if (!isfinite(value) || value < key->min || value > key->max) {
        problem(ld, s, "%s: %g is out of range [%g, %g]", key->name, value,
                key->min, key->max);
        return;
    }
    *(double *)((char *)ld->cfg + key->offset) = value;
}

/* true or false; 1 and 0 are integers and refused. */
static void
load_bool(struct load *ld, const config_setting_t *s, const struct key *key)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        problem(ld, s, "%s: expected true or false, got %s", key->name,
                type_name(s));
        return;
    }
    *(bool *)((char *)ld->cfg + key->offset) = config_setting_get_bool(s);
}

/* The string value of s, or NULL after reporting that it is none. */
static const char *
string_value(struct load *ld, const config_setting_t *s, const char *name)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        problem(ld, s, "%s: expected a string, got %s", name, type_name(s));
        return NULL;
    }
    return config_setting_get_string(s);
}

/* A string the key's check accepts. */
static void
load_string(struct load *ld, const config_setting_t *s, const struct key *key)
{
    char **field = (char **)((char *)ld->cfg + key->offset);
    const char *value = string_value(ld, s, key->name), *why;

    if (!value)
        return;
    if (key->check && (why = key->check(value))) {
        problem(ld, s, "%s: \"" SHOWN "\" %s", key->name, value, why);
        return;
    }
    free(*field);
    *field = dup_string(ld, value);
}

/* log_format: a name log_format_parse knows. */
static void
load_log_format(struct load *ld, const config_setting_t *s,
                const struct key *key)
{
    const char *value = string_value(ld, s, key->name);

    if (value && log_format_parse(value, &ld->cfg->log_format) < 0)
        problem(ld, s, "%s: \"" SHOWN "\" is not \"text\" or \"json\"",
                key->name, value);
}

/* The strings of an array or list, NULL-terminated; NULL on a problem. */
static char **
load_strings(struct load *ld, const config_setting_t *s, const char *name,
             size_t *n)
{
    int type = config_setting_type(s), length = config_setting_length(s);
    const config_setting_t *e;
    char **v;

    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
        problem(ld, s, "%s: expected a list of strings, got %s", name,
                type_name(s));
        return NULL;
    }
    if (!(v = calloc((size_t)length + 1, sizeof(*v)))) {
        ld->problems->out_of_memory = true;
        return NULL;
    }
    for (*n = 0; *n < (size_t)length; (*n)++) {
        e = config_setting_get_elem(s, (unsigned int)*n);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            problem(ld, e, "%s[%zu]: expected a string, got %s", name, *n,
                    type_name(e));
            break;
        }
        if (!(v[*n] = dup_string(ld, config_setting_get_string(e))))
            break;
    }
    if (*n < (size_t)length) {
        for (size_t i = 0; i < *n; i++)
            free(v[i]);
        free(v);
        *n = 0;
        return NULL;
    }
    return v;
}

/* Frees an array of n strings. */
static void
free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* namespaces: distinct DNS labels. */
static void
load_namespaces(struct load *ld, const config_setting_t *s,
                const struct key *key)
{
    char **v;
    size_t n = 0;
    const char *why;

    ld->namespaces = s;
    if (config_setting_is_aggregate(s) &&
        config_setting_length(s) > CONFIG_NAMESPACES_MAX) {
        problem(ld, s, "%s: %d namespaces, more than %d", key->name,
                config_setting_length(s), CONFIG_NAMESPACES_MAX);
        return;
    }
    if (!(v = load_strings(ld, s, key->name, &n)))
        return;

    for (size_t i = 0; i < n; i++) {
        if ((why = config_name_problem(CONFIG_NAME_DNS_LABEL, v[i])))
            problem(ld, config_setting_get_elem(s, (unsigned int)i),
                    "%s[%zu]: \"" SHOWN "\" %s", key->name, i, v[i], why);
        for (size_t j = 0; j < i; j++)
            if (strcmp(v[i], v[j]) == 0) {
                problem(ld, config_setting_get_elem(s, (unsigned int)i),
                        "%s[%zu]: \"" SHOWN "\" repeats %s[%zu]", key->name, i,
                        v[i], key->name, j);
                break;
            }
    }
    free_strings(ld->cfg->namespaces, ld->cfg->n_namespaces);
    ld->cfg->namespaces = v;
    ld->cfg->n_namespaces = n;
}

/* all_namespaces: remembered to check it against namespaces. */
static void
load_all_namespaces(struct load *ld, const config_setting_t *s,
                    const struct key *key)
{
    ld->all_namespaces = s;
    load_bool(ld, s, key);
}

/* batch_max: remembered to check it against queue_max. */
static void
load_batch_max(struct load *ld, const config_setting_t *s,
               const struct key *key)
{
    ld->batch_max = s;
    load_int(ld, s, key);
}

/* resources_file: read once every setting is known. */
static void
load_resources_file(struct load *ld, const config_setting_t *s,
                    const struct key *key)
{
    ld->resources_file = s;
    load_string(ld, s, key);
}

/* The optional string setting name of group g into *field. */
static void
load_member_string(struct load *ld, const config_setting_t *g, size_t i,
                   const char *name, bool required, char **field)
{
    const config_setting_t *s = config_setting_get_member(g, name);

    if (!s) {
        if (required)
            problem(ld, g, "resources[%zu]: missing \"%s\"", i, name);
        return;
    }
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        problem(ld, s, "resources[%zu]: %s: expected a string, got %s", i, name,
                type_name(s));
        return;
    }
    free(*field);
    *field = dup_string(ld, config_setting_get_string(s));
}

static const char *const resource_settings[] = {
    "group",          "version",        "resource",
    "label_selector", "field_selector", "status_fields",
};

/* True if name is a setting of an inline resource. */
static bool
is_resource_setting(const char *name)
{
    for (size_t k = 0; k < sizeof(resource_settings) / sizeof(char *); k++)
        if (strcmp(name, resource_settings[k]) == 0)
            return true;
    return false;
}

/* One element of the inline list: { group = ...; version = ...; ... }. */
static void
load_resource(struct load *ld, const config_setting_t *g, size_t i,
              struct ec_resource *r)
{
    const config_setting_t *s;
    char name[32];

    r->line = (int)config_setting_source_line(g);
    if (!config_setting_is_group(g)) {
        problem(ld, g, "resources[%zu]: expected a group { ... }, got %s", i,
                type_name(g));
        return;
    }
    if (config_resource_init(r) < 0)
        ld->problems->out_of_memory = true;

    for (int k = 0; k < config_setting_length(g); k++) {
        s = config_setting_get_elem(g, (unsigned int)k);
        if (!is_resource_setting(config_setting_name(s)))
            problem(ld, s, "resources[%zu]: unknown setting \"" SHOWN "\"", i,
                    config_setting_name(s));
    }
    load_member_string(ld, g, i, "group", true, &r->group);
    load_member_string(ld, g, i, "version", true, &r->version);
    load_member_string(ld, g, i, "resource", true, &r->resource);
    load_member_string(ld, g, i, "label_selector", false, &r->label_selector);
    load_member_string(ld, g, i, "field_selector", false, &r->field_selector);

    if ((s = config_setting_get_member(g, "status_fields"))) {
        snprintf(name, sizeof(name), "resources[%zu].status_fields", i);
        free_strings(r->status_fields, r->n_status_fields);
        r->n_status_fields = 0;
        r->status_fields = load_strings(ld, s, name, &r->n_status_fields);
    }
}

/* resources: a list of groups, one per resource. */
static void
load_resources(struct load *ld, const config_setting_t *s,
               const struct key *key)
{
    struct ec_resource *v;
    size_t n;

    ld->resources = s;

    /* "resources = [];" is an empty array, not a list: the same mistake. */
    if (config_setting_type(s) != CONFIG_TYPE_LIST &&
        !(config_setting_is_array(s) && config_setting_length(s) == 0)) {
        problem(ld, s, "%s: expected a list ( { ... }, ... ), got %s",
                key->name, type_name(s));
        return;
    }
    n = (size_t)config_setting_length(s);
    if (n > CONFIG_RESOURCES_MAX) {
        problem(ld, s, "%s: %zu resources, more than %d", key->name, n,
                CONFIG_RESOURCES_MAX);
        return;
    }
    if (!(v = calloc(n + 1, sizeof(*v)))) {
        ld->problems->out_of_memory = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        load_resource(ld, config_setting_get_elem(s, (unsigned int)i), i,
                      &v[i]);
    resources_check(v, n, ld->file, (int)config_setting_source_line(s),
                    ld->problems);

    resources_free(ld->cfg->resources, ld->cfg->n_resources);
    ld->cfg->resources = v;
    ld->cfg->n_resources = n;
}

/* A path or name that may be anything but empty. */
static const char *
check_nonempty(const char *value)
{
    return value[0] ? NULL : "must not be empty";
}

/* The daemon changes directory and runs from systemd: no cwd to rely on. */
static const char *
check_absolute(const char *value)
{
    return value[0] == '/' ? NULL : "must be an absolute path";
}

/* reportingController must be a qualified name. */
static const char *
check_reporting_controller(const char *value)
{
    return config_name_problem(CONFIG_NAME_QUALIFIED, value);
}

/* A namespace is a DNS label. */
static const char *
check_namespace(const char *value)
{
    return config_name_problem(CONFIG_NAME_DNS_LABEL, value);
}

/* A Lease name is a DNS subdomain that leaves room for its ConfigMaps. */
static const char *
check_lease_name(const char *value)
{
    if (strlen(value) > CONFIG_LEASE_NAME_MAX)
        return "must be at most 200 characters";
    return config_name_problem(CONFIG_NAME_DNS_SUBDOMAIN, value);
}

/* host:port, :port (every address) or [IPv6]:port; names resolve later. */
static const char *
check_host_port(const char *value)
{
    const char *colon = strrchr(value, ':');
    char host[INET6_ADDRSTRLEN + 2], *end;
    struct in6_addr addr;
    size_t host_len;
    long port;

    if (!colon)
        return "must be host:port";
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port < 1 || port > 65535 ||
        !isdigit((unsigned char)colon[1]))
        return "must end in :port, a port from 1 to 65535";

    host_len = (size_t)(colon - value);
    if (host_len == 0 || value[0] != '[')
        return memchr(value, ':', host_len)
                   ? "must put an IPv6 address in brackets: [::1]:9464"
                   : NULL;
    if (value[host_len - 1] != ']' || host_len - 2 >= sizeof(host))
        return "must put an IPv6 address in brackets: [::1]:9464";
    memcpy(host, value + 1, host_len - 2);
    host[host_len - 2] = '\0';
    return inet_pton(AF_INET6, host, &addr) == 1
               ? NULL
               : "must hold an IPv6 address in its brackets";
}

#define AT(field) offsetof(struct ec_config, field)

/*
 * Every setting the file may hold.  The ranges keep values within what the
 * emitter and the log format can represent; the defaults are in
 * config_defaults and in etc/event-controller.conf.
 */
static const struct key keys[] = {
    {.name = "namespaces", .load = load_namespaces},
    {.name = "all_namespaces",
     .load = load_all_namespaces,
     .offset = AT(all_namespaces)},
    {.name = "resources", .load = load_resources},
    {.name = "resources_file",
     .load = load_resources_file,
     .offset = AT(resources_file),
     .check = check_nonempty},
    {.name = "state_dir",
     .load = load_string,
     .offset = AT(state_dir),
     .check = check_absolute},
    {.name = "metrics_address",
     .load = load_string,
     .offset = AT(metrics_address),
     .check = check_host_port},
    /* The log header holds the verbosity as one digit. */
    {.name = "verbosity",
     .load = load_int,
     .offset = AT(verbosity),
     .min = 0,
     .max = 9},
    {.name = "log_format", .load = load_log_format},
    {.name = "reporting_controller",
     .load = load_string,
     .offset = AT(reporting_controller),
     .check = check_reporting_controller},
    {.name = "batch_window_ms",
     .load = load_int,
     .offset = AT(emitter.batch_window_ms),
     .min = 0,
     .max = 60000},
    {.name = "batch_max",
     .load = load_batch_max,
     .offset = AT(emitter.batch_max),
     .min = 1,
     .max = 10000},
    {.name = "qps",
     .load = load_float,
     .offset = AT(emitter.qps),
     .min = 0.01,
     .max = 10000},
    {.name = "burst",
     .load = load_int,
     .offset = AT(emitter.burst),
     .min = 1,
     .max = 100000},
    {.name = "spam_burst",
     .load = load_int,
     .offset = AT(emitter.spam_burst),
     .min = 1,
     .max = 100000},
    {.name = "spam_interval_s",
     .load = load_int,
     .offset = AT(emitter.spam_interval_s),
     .min = 1,
     .max = 86400},
    {.name = "drain_timeout_s",
     .load = load_int,
     .offset = AT(emitter.drain_timeout_s),
     .min = 0,
     .max = 3600},
    {.name = "queue_max",
     .load = load_int,
     .offset = AT(emitter.queue_max),
     .min = 1,
     .max = 10000000},
    /*
     * Objects reach 1.5 MiB (etcd's limit); past 64 MiB a broken server
     * could make a watcher take all memory.
     */
    {.name = "max_event_bytes",
     .load = load_int,
     .offset = AT(max_event_bytes),
     .min = 64 * 1024,
     .max = 64 * 1024 * 1024},
    {.name = "kubeconfig",
     .load = load_string,
     .offset = AT(kubeconfig),
     .check = check_nonempty},
    {.name = "context",
     .load = load_string,
     .offset = AT(context),
     .check = check_nonempty},
    {.name = "leader_election",
     .load = load_bool,
     .offset = AT(leader_election)},
    {.name = "leader_election_namespace",
     .load = load_string,
     .offset = AT(leader_election_namespace),
     .check = check_namespace},
    {.name = "leader_election_lease",
     .load = load_string,
     .offset = AT(leader_election_lease),
     .check = check_lease_name},
};

/* The known setting called name, or NULL. */
static const struct key *
find_key(const char *name)
{
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (strcmp(name, keys[k].name) == 0)
            return &keys[k];
    return NULL;
}

/*
 * spam_burst and spam_interval_s are client-go's record defaults: 25 Events
 * per object, then one every 5 minutes.
 */
const struct ec_emitter_settings ec_emitter_defaults = {
    .batch_window_ms = 20,
    .batch_max = 100,
    .qps = 50.0,
    .burst = 100,
    .spam_burst = 25,
    .spam_interval_s = 300,
    .drain_timeout_s = 10,
    .queue_max = 10000,
};

/* A configuration holding the defaults, or NULL. */
static struct ec_config *
config_defaults(void)
{
    struct ec_config *cfg = calloc(1, sizeof(*cfg));

    if (!cfg)
        return NULL;
    cfg->state_dir = strdup(CONFIG_DEFAULT_STATE_DIR);
    cfg->metrics_address = strdup(CONFIG_DEFAULT_METRICS_ADDRESS);
    cfg->reporting_controller = strdup(CONFIG_DEFAULT_REPORTING_CONTROLLER);
    cfg->leader_election_lease = strdup(CONFIG_DEFAULT_LEADER_ELECTION_LEASE);
    if (!cfg->state_dir || !cfg->metrics_address ||
        !cfg->reporting_controller || !cfg->leader_election_lease) {
        config_free(cfg);
        return NULL;
    }
    cfg->verbosity = LOG_DEFAULT_VERBOSITY;
    cfg->log_format = LOG_FORMAT_TEXT;
    cfg->max_event_bytes = WATCH_STREAM_DEFAULT_MAX_EVENT_BYTES;

    cfg->emitter = ec_emitter_defaults;
    return cfg;
}

/*
 * libconfig would read any file an @include names, past the size and type
 * checks, and a reload would not notice it change: refuse it.  The scanner
 * takes @include only at the start of a line, and so does this.
 */
static bool
refuse_include(struct load *ld, const char *text)
{
    const char *p = text;

    for (int line = 1; p; line++) {
        p += strspn(p, " \t");
        if (strncmp(p, "@include", 8) == 0) {
            config_problems_add(ld->problems, ld->file, line,
                                "@include is not supported: keep the "
                                "configuration in one file");
            return true;
        }
        if ((p = strchr(p, '\n')))
            p++;
    }
    return false;
}

/* A relative resources_file is relative to the configuration's folder. */
static char *
resolve(const char *config_path, const char *name)
{
    const char *slash = strrchr(config_path, '/');
    char *path;

    if (name[0] == '/' || !slash)
        return strdup(name);
    if (asprintf(&path, "%.*s/%s", (int)(slash - config_path), config_path,
                 name) < 0)
        return NULL;
    return path;
}

/* Reads the resources file named by the configuration. */
static void
load_resources_json(struct load *ld)
{
    char *path = resolve(ld->file, ld->cfg->resources_file);

    if (!path) {
        ld->problems->out_of_memory = true;
        return;
    }
    resources_load_json(path, ld->cfg, ld->problems);
    free(path);
}

/* The rules that tie settings together, once all are loaded. */
static void
check_together(struct load *ld)
{
    const struct ec_emitter_settings *e = &ld->cfg->emitter;

    if (ld->resources && ld->resources_file)
        problem(ld, ld->resources_file,
                "resources_file: resources are already listed on line %u; "
                "use one of the two",
                config_setting_source_line(ld->resources));
    else if (ld->flags & CONFIG_LOAD_RESOURCES_GIVEN)
        ; /* the caller's resources replace the file's */
    else if (!ld->resources && !ld->resources_file)
        problem(ld, NULL,
                "no resources: set \"resources\" or "
                "\"resources_file\"");
    else if (ld->resources_file && ld->cfg->resources_file)
        load_resources_json(ld);

    if (ld->all_namespaces && ld->cfg->all_namespaces &&
        ld->cfg->n_namespaces > 0)
        problem(ld, ld->all_namespaces,
                "all_namespaces: true, yet namespaces are listed on line %u",
                config_setting_source_line(ld->namespaces));
    if (e->batch_max > e->queue_max)
        problem(ld, ld->batch_max, "batch_max: %d is more than queue_max %d",
                e->batch_max, e->queue_max);
}

/* Loads each setting of the file, then the rules across them. */
static void
load_settings(struct load *ld, const config_setting_t *root)
{
    const config_setting_t *s;
    const struct key *key;

    for (int i = 0; i < config_setting_length(root); i++) {
        s = config_setting_get_elem(root, (unsigned int)i);
        key = find_key(config_setting_name(s));
        if (key)
            key->load(ld, s, key);
        else
            problem(ld, s, "unknown setting \"" SHOWN "\"",
                    config_setting_name(s));
    }
    check_together(ld);
}

/*
 * libconfig 1.5 leaks the string token it was scanning when a syntax error
 * follows it; a broken file thus costs up to its size on each reload.
 */
static void
load_file(struct load *ld)
{
    config_t lc;
    char *text;

    if (config_file_read(ld->file, &text, ld->problems) < 0)
        return;
    if (refuse_include(ld, text))
        goto out_free;

    config_init(&lc);
    if (config_read_string(&lc, text) == CONFIG_TRUE)
        load_settings(ld, config_root_setting(&lc));
    else
        config_problems_add(ld->problems, ld->file, config_error_line(&lc),
                            "%s", config_error_text(&lc));
    config_destroy(&lc);

out_free:
    free(text);
}

/* Loads the defaults, then the file at path over them. */
int
config_load(const char *path, struct ec_config **out,
            struct config_problems *problems)
{
    return config_load_flags(path, 0, out, problems);
}

/* config_load, with CONFIG_LOAD_* flags. */
int
config_load_flags(const char *path, unsigned flags, struct ec_config **out,
                  struct config_problems *problems)
{
    struct load ld = {.file = path, .flags = flags, .problems = problems};
    size_t before = problems->n;

    *out = NULL;
    if (!(ld.cfg = config_defaults()))
        return -ENOMEM;
    if (path)
        load_file(&ld);

    if (problems->out_of_memory || problems->n > before) {
        config_free(ld.cfg);
        return problems->out_of_memory ? -ENOMEM : -EINVAL;
    }
    *out = ld.cfg;
    return 0;
}

/* strcmp for strings that may be NULL. */
static bool
same_string(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/*
 * The emitter's behaviour depends on its settings, on the controller name
 * it writes into every Event, and on the client it writes with.
 */
bool
config_emitter_equal(const struct ec_config *a, const struct ec_config *b)
{
    const struct ec_emitter_settings *x = &a->emitter, *y = &b->emitter;

    return x->batch_window_ms == y->batch_window_ms &&
           x->batch_max == y->batch_max && x->qps == y->qps &&
           x->burst == y->burst && x->spam_burst == y->spam_burst &&
           x->spam_interval_s == y->spam_interval_s &&
           x->drain_timeout_s == y->drain_timeout_s &&
           x->queue_max == y->queue_max &&
           same_string(a->reporting_controller, b->reporting_controller) &&
           same_string(a->kubeconfig, b->kubeconfig) &&
           same_string(a->context, b->context) &&
           a->leader_election == b->leader_election &&
           same_string(a->leader_election_namespace,
                       b->leader_election_namespace) &&
           same_string(a->leader_election_lease, b->leader_election_lease);
}

/* Frees the configuration and all it owns. */
void
config_free(struct ec_config *cfg)
{
    if (!cfg)
        return;
    free_strings(cfg->namespaces, cfg->n_namespaces);
    resources_free(cfg->resources, cfg->n_resources);
    free(cfg->resources_file);
    free(cfg->state_dir);
    free(cfg->metrics_address);
    free(cfg->reporting_controller);
    free(cfg->kubeconfig);
    free(cfg->context);
    free(cfg->leader_election_namespace);
    free(cfg->leader_election_lease);
    free(cfg);
}
