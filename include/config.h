/*
 * The daemon's settings.
 *
 * They come from a libconfig file; the resources to watch are listed in it
 * or in a JSON file of the format the Project controller's ConfigMap holds
 * ({"resources": [{"group": ..., "version": ..., "resource": ...}]}).
 * Loading does not stop at the first mistake: it collects every problem it
 * finds as "file:line: text", so that a broken file is fixed in one round.
 *
 * Ownership: every string and array in these structures is allocated for
 * the structure and freed by config_free.  A caller that overrides a field
 * (command-line flags) frees the old value and stores its own strdup'd copy.
 */
#ifndef EC_CONFIG_H
#define EC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"

/* A ConfigMap holds at most 1 MiB, so no legitimate file is larger. */
#define CONFIG_FILE_MAX (1024 * 1024)

/*
 * Each resource is watched by a process of its own and each namespace costs
 * a watch per resource; lists are compared in quadratic time.  These bounds
 * are far beyond any real project.
 */
#define CONFIG_RESOURCES_MAX  1000
#define CONFIG_NAMESPACES_MAX 1000

/* .status of a Kubernetes object has a handful of top-level fields. */
#define CONFIG_STATUS_FIELDS_MAX 32

#define CONFIG_DEFAULT_STATE_DIR             "/var/lib/event-controller"
#define CONFIG_DEFAULT_METRICS_ADDRESS       "127.0.0.1:9464"
#define CONFIG_DEFAULT_REPORTING_CONTROLLER  "event-controller"
#define CONFIG_DEFAULT_LEADER_ELECTION_LEASE "event-controller"

/*
 * The Lease name is also the prefix of the ConfigMaps that keep positions,
 * "<lease>-state-<16 hex digits>", which must stay a 253-character name.
 */
#define CONFIG_LEASE_NAME_MAX 200

struct ec_resource {
    char *group;            /* "" for the core group */
    char *version;          /* "v1", "v1beta1" */
    char *resource;         /* the plural, lowercase name: "notebooks" */
    char *label_selector;   /* NULL: every object */
    char *field_selector;   /* NULL: every object */
    char **status_fields;   /* top-level fields of .status whose changes */
    size_t n_status_fields; /* make Events; none: creation and deletion */
    char *key;              /* see config_resource_key; NULL until checked */
    int line;               /* where the file defines it; 0 if unknown */
};

/* What the emitter does with the Events it is given. */
struct ec_emitter_settings {
    int batch_window_ms; /* how long to gather Events into one batch */
    int batch_max;       /* Events per batch at most */
    double qps;          /* sustained writes per second to the apiserver */
    int burst;           /* writes allowed above qps for a short while */
    int spam_burst;      /* Events per object before limiting */
    int spam_interval_s; /* then one Event per object per this many s */
    int drain_timeout_s; /* time to flush the queue on shutdown */
    int queue_max;       /* changes waiting at most; then pipes wait */
};

/* The emitter's settings when neither file nor flag sets them. */
extern const struct ec_emitter_settings ec_emitter_defaults;

struct ec_config {
    char **namespaces; /* none: the client's own namespace */
    size_t n_namespaces;
    bool all_namespaces;
    struct ec_resource *resources;
    size_t n_resources;
    char *resources_file; /* NULL: resources are inline; else the JSON */
    char *state_dir;
    char *metrics_address; /* host:port, ":port" or "[v6]:port" */
    int verbosity;
    enum log_format log_format;
    char *reporting_controller;
    char *kubeconfig;    /* NULL: not set */
    char *context;       /* NULL: the kubeconfig's current context */
    int max_event_bytes; /* largest watch event a watcher accepts */
    struct ec_emitter_settings emitter;
    bool leader_election;            /* replicas elect a leader */
    char *leader_election_namespace; /* NULL: the client's own namespace */
    char *leader_election_lease;     /* the Lease's name */
};

struct config_problem {
    char *file; /* NULL if the problem belongs to no file */
    int line;   /* 0 if unknown */
    char *text;
};

/*
 * Start from {0}.  Loaders append to it, so the problems of several steps
 * (file, resources file, flags) can be shown together.
 */
struct config_problems {
    struct config_problem *v;
    size_t n;
    bool out_of_memory; /* a problem or a value was lost: fail -ENOMEM */
};

/*
 * Loads the libconfig file at path (NULL: the defaults only), then the
 * resources file it names.  Returns 0 and fills *out; -EINVAL with every
 * problem found appended to problems; -ENOMEM.  *out is NULL on failure.
 */
int config_load(const char *path, struct ec_config **out,
                struct config_problems *problems);

/*
 * The caller supplies the resources (--resources): a file listing none is
 * fine, and the resources_file it names is not read.
 */
#define CONFIG_LOAD_RESOURCES_GIVEN 0x1

/* config_load, with CONFIG_LOAD_* flags. */
int config_load_flags(const char *path, unsigned flags, struct ec_config **out,
                      struct config_problems *problems);

/*
 * Loads a JSON file in the ConfigMap's format and on success replaces the
 * resources of cfg and its resources_file.  On failure cfg is untouched.
 * Returns 0, -EINVAL with problems appended, or -ENOMEM.
 */
int resources_load_json(const char *path, struct ec_config *cfg,
                        struct config_problems *problems);

/* True when two configurations run the emitter identically (reload). */
bool config_emitter_equal(const struct ec_config *a, const struct ec_config *b);

/*
 * The stable name of a resource, "resource.version.group", or
 * "resource.version" for the core group: "notebooks.v1beta1.tensorstack.dev",
 * "configmaps.v1".  It matches resources across reloads and names their
 * state files.  NULL for a resource that was never checked.
 */
const char *config_resource_key(const struct ec_resource *r);

/* Same key, selectors and status fields (in any order). */
bool config_resource_equal(const struct ec_resource *a,
                           const struct ec_resource *b);

/* Sets the defaults: no selectors; status fields phase and conditions. */
int config_resource_init(struct ec_resource *r);

/*
 * Checks a list of resources built by a loader: names, status fields,
 * duplicates, an empty list (reported at line, where the list is); fills
 * each key.  Appends one problem per mistake, in file, and returns how many.
 * Loaders leave a field NULL when they already reported it missing or of
 * the wrong type.
 */
size_t resources_check(struct ec_resource *v, size_t n, const char *file,
                       int line, struct config_problems *problems);

void resources_free(struct ec_resource *v, size_t n);

void config_free(struct ec_config *cfg);

enum config_name {
    CONFIG_NAME_DNS_LABEL,     /* namespaces, resources: RFC 1123 label */
    CONFIG_NAME_DNS_SUBDOMAIN, /* API groups: RFC 1123 subdomain */
    CONFIG_NAME_VERSION,       /* v1, v2beta3: Kubernetes' version form */
    CONFIG_NAME_QUALIFIED,     /* [prefix/]name, as reportingController */
    CONFIG_NAME_STATUS_FIELD,  /* a JSON field name: phase, conditions */
};

/* NULL if name is valid as kind, else why not: "must be ...". */
const char *config_name_problem(enum config_name kind, const char *name);

/*
 * Reads a whole configuration file into *text (NUL-terminated, owned by the
 * caller) and refuses what is not one: not a regular file, larger than
 * CONFIG_FILE_MAX, empty, or holding control bytes.  Returns the length,
 * or -errno / -EINVAL with the problem appended.
 */
long config_file_read(const char *path, char **text,
                      struct config_problems *problems);

/* Appends "file:line: text"; file may be NULL and line 0. */
void config_problems_add(struct config_problems *problems, const char *file,
                         int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One "file:line: text" a line. */
void config_problems_print(const struct config_problems *problems,
                           FILE *stream);

void config_problems_free(struct config_problems *problems);

#endif
