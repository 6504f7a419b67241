/*
 * The resources to watch: the rules every list obeys, whichever file it
 * came from, and the JSON file of the Project controller's ConfigMap
 * (config.json), accepted as it is, with three optional keys of our own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Values echoed in problems are cut so that a line stays readable. */
#define SHOWN "%.80s"

/* The patterns of k8s.io/apimachinery/pkg/util/validation. */
#define DNS_LABEL     "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define QUALIFIED     "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define DNS_SUBDOMAIN DNS_LABEL "(\\." DNS_LABEL ")*"

static const struct name_rule {
    const char *pattern;
    size_t max;
    const char *why;
} name_rules[] = {
    [CONFIG_NAME_DNS_LABEL] =
        {"^" DNS_LABEL "$", 63,
         "is not a DNS label: at most 63 of a-z, 0-9 and '-', starting and "
         "ending with a letter or digit"},
    [CONFIG_NAME_DNS_SUBDOMAIN] =
        {"^" DNS_SUBDOMAIN "$", 253,
         "is not a DNS subdomain: DNS labels joined by '.', at most 253 "
         "characters"},
    /* apimachinery's version helpers order versions of this form. */
    [CONFIG_NAME_VERSION] = {"^v[0-9]+((alpha|beta)[0-9]+)?$", 63,
                             "is not a version such as v1 or v1beta1"},
    [CONFIG_NAME_QUALIFIED] =
        {"^(" DNS_SUBDOMAIN "/)?" QUALIFIED "$", 253 + 1 + 63,
         "is not a qualified name: [DNS subdomain/]name, the name at most "
         "63 of A-Z, a-z, 0-9, '-', '_' and '.'"},
    /* Kubernetes' JSON field names: camelCase identifiers. */
    [CONFIG_NAME_STATUS_FIELD] = {"^[A-Za-z_][A-Za-z0-9_]*$", 63,
                                  "is not the name of a field of .status"},
};

/* True if s matches the extended regular expression pattern. */
static bool
matches(const char *pattern, const char *s)
{
    regex_t re;
    bool match;

    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    match = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return match;
}

/* The name part of a qualified name has its own bound of 63. */
static bool
qualified_name_too_long(const char *name)
{
    const char *slash = strchr(name, '/');

    return strlen(slash ? slash + 1 : name) > 63 ||
           (slash && slash - name > 253);
}

/* Why name breaks the rule of kind, or NULL. */
const char *
config_name_problem(enum config_name kind, const char *name)
{
    const struct name_rule *rule = &name_rules[kind];

    if (strlen(name) > rule->max || !matches(rule->pattern, name))
        return rule->why;
    if (kind == CONFIG_NAME_QUALIFIED && qualified_name_too_long(name))
        return rule->why;
    return NULL;
}

/* Sets the optional fields of r to their defaults. */
int
config_resource_init(struct ec_resource *r)
{
    static const char *const defaults[] = {"phase", "conditions"};
    size_t n = sizeof(defaults) / sizeof(defaults[0]);

    r->label_selector = NULL;
    r->field_selector = NULL;
    r->n_status_fields = 0;
    if (!(r->status_fields = calloc(n + 1, sizeof(char *))))
        return -ENOMEM;
    for (; r->n_status_fields < n; r->n_status_fields++) {
        r->status_fields[r->n_status_fields] =
            strdup(defaults[r->n_status_fields]);
        if (!r->status_fields[r->n_status_fields])
            return -ENOMEM;
    }
    return 0;
}

/* The key check_resource built. */
const char *
config_resource_key(const struct ec_resource *r)
{
    return r->key;
}

/* strcmp for strings that may be NULL. */
static bool
same_string(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/* True if s is among the n strings of v. */
static bool
has_string(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* Status fields hold no repeats (see check_status_fields): set equality. */
bool
config_resource_equal(const struct ec_resource *a, const struct ec_resource *b)
{
    if (!a->key || !same_string(a->key, b->key) ||
        !same_string(a->label_selector, b->label_selector) ||
        !same_string(a->field_selector, b->field_selector) ||
        a->n_status_fields != b->n_status_fields)
        return false;
    for (size_t i = 0; i < a->n_status_fields; i++)
        if (!has_string(b->status_fields, b->n_status_fields,
                        a->status_fields[i]))
            return false;
    return true;
}

/* Frees n resources and the array holding them. */
void
resources_free(struct ec_resource *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].group);
        free(v[i].version);
        free(v[i].resource);
        free(v[i].label_selector);
        free(v[i].field_selector);
        for (size_t k = 0; k < v[i].n_status_fields; k++)
            free(v[i].status_fields[k]);
        free(v[i].status_fields);
        free(v[i].key);
    }
    free(v);
}

/* Reports a name of r that breaks its rule; true if it is valid. */
static bool
check_name(const struct ec_resource *r, size_t i, const char *field,
           const char *value, enum config_name kind, const char *file,
           struct config_problems *problems)
{
    const char *why;

    /* Missing: the loader said so. */
    if (!value)
        return false;
    if (kind == CONFIG_NAME_DNS_SUBDOMAIN && !value[0])
        return true;
    if (!(why = config_name_problem(kind, value)))
        return true;
    config_problems_add(problems, file, r->line,
                        "resources[%zu]: %s: \"" SHOWN "\" %s", i, field, value,
                        why);
    return false;
}

/* Status fields: field names, each listed once, not too many. */
static void
check_status_fields(const struct ec_resource *r, size_t i, const char *file,
                    struct config_problems *problems)
{
    char *const *v = r->status_fields;
    const char *why;

    if (r->n_status_fields > CONFIG_STATUS_FIELDS_MAX) {
        config_problems_add(problems, file, r->line,
                            "resources[%zu]: %zu status fields, more than %d",
                            i, r->n_status_fields, CONFIG_STATUS_FIELDS_MAX);
        return;
    }
    for (size_t k = 0; k < r->n_status_fields; k++) {
        if ((why = config_name_problem(CONFIG_NAME_STATUS_FIELD, v[k])))
            config_problems_add(problems, file, r->line,
                                "resources[%zu]: status field \"" SHOWN "\" %s",
                                i, v[k], why);
        else if (has_string(v, k, v[k]))
            config_problems_add(problems, file, r->line,
                                "resources[%zu]: status field \"%s\" is "
                                "listed twice",
                                i, v[k]);
    }
}

/* Checks the names of resource i and, if they are valid, sets its key. */
static void
check_resource(struct ec_resource *r, size_t i, const char *file,
               struct config_problems *problems)
{
    bool valid = true;
    int n;

    valid &= check_name(r, i, "group", r->group, CONFIG_NAME_DNS_SUBDOMAIN,
                        file, problems);
    valid &= check_name(r, i, "version", r->version, CONFIG_NAME_VERSION, file,
                        problems);
    valid &= check_name(r, i, "resource", r->resource, CONFIG_NAME_DNS_LABEL,
                        file, problems);
    check_status_fields(r, i, file, problems);
    if (!valid)
        return;

    if (r->group[0])
        n = asprintf(&r->key, "%s.%s.%s", r->resource, r->version, r->group);
    else
        n = asprintf(&r->key, "%s.%s", r->resource, r->version);
    if (n < 0) {
        r->key = NULL;
        problems->out_of_memory = true;
    }
}

/* Two entries for one resource would start two watchers fighting. */
static void
check_repeats(const struct ec_resource *v, size_t n, const char *file,
              struct config_problems *problems)
{
    for (size_t i = 1; i < n; i++) {
        size_t j = 0;

        while (j < i && !(v[i].key && same_string(v[i].key, v[j].key)))
            j++;
        if (j == i)
            continue;
        if (v[j].line > 0)
            config_problems_add(problems, file, v[i].line,
                                "resources[%zu]: %s repeats resources[%zu] "
                                "on line %d",
                                i, v[i].key, j, v[j].line);
        else
            config_problems_add(problems, file, v[i].line,
                                "resources[%zu]: %s repeats resources[%zu]", i,
                                v[i].key, j);
    }
}

/* Checks a loaded list and counts the problems it appends. */
size_t
resources_check(struct ec_resource *v, size_t n, const char *file, int line,
                struct config_problems *problems)
{
    size_t before = problems->n;

    if (n == 0) {
        config_problems_add(problems, file, line,
                            "resources: empty list, nothing to watch");
        return 1;
    }
    if (n > CONFIG_RESOURCES_MAX) {
        config_problems_add(problems, file, line,
                            "resources: %zu resources, more than %d", n,
                            CONFIG_RESOURCES_MAX);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        check_resource(&v[i], i, file, problems);
    check_repeats(v, n, file, problems);
    return problems->n - before;
}

/* The line of the byte at offset, counting from 1. */
static int
line_at(const char *text, size_t offset)
{
    int line = 1;

    for (size_t i = 0; i < offset && text[i]; i++)
        line += text[i] == '\n';
    return line;
}

/*
 * Parses text as one JSON value.  Strict, as Go's encoding/json that read
 * the file before us: no trailing commas, nothing after the value.
 */
static struct json_object *
parse(const char *file, const char *text, size_t len,
      struct config_problems *problems)
{
    struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    enum json_tokener_error error;
    struct json_object *root;

    if (!tok) {
        problems->out_of_memory = true;
        return NULL;
    }
    json_tokener_set_flags(tok,
                           JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

    /* With the terminating NUL, the tokener knows that the input ends. */
    root = json_tokener_parse_ex(tok, text, (int)len + 1);
    error = json_tokener_get_error(tok);
    if (!root)
        config_problems_add(problems, file,
                            line_at(text, json_tokener_get_parse_end(tok)),
                            "invalid JSON: %s", json_tokener_error_desc(error));
    json_tokener_free(tok);
    return root;
}

/* A string member of an element, or NULL after reporting what is wrong. */
static char *
member_string(struct json_object *obj, size_t i, const char *key, bool required,
              const char *file, struct config_problems *problems)
{
    struct json_object *value;
    char *s;

    if (!json_object_object_get_ex(obj, key, &value) || (!required && !value)) {
        if (required)
            config_problems_add(problems, file, 0,
                                "resources[%zu]: missing \"%s\"", i, key);
        return NULL;
    }
    if (!json_object_is_type(value, json_type_string)) {
        config_problems_add(
            problems, file, 0, "resources[%zu]: %s: expected a string, got %s",
            i, key, json_type_to_name(json_object_get_type(value)));
        return NULL;
    }
    /* "\u0000" would cut the C string short without a word. */
    if (strlen(json_object_get_string(value)) !=
        (size_t)json_object_get_string_len(value)) {
        config_problems_add(problems, file, 0,
                            "resources[%zu]: %s: holds a NUL character", i,
                            key);
        return NULL;
    }
    if (!(s = strdup(json_object_get_string(value))))
        problems->out_of_memory = true;
    return s;
}

/* statusFields: an array of strings replacing the default fields. */
static void
member_status_fields(struct json_object *obj, size_t i, struct ec_resource *r,
                     const char *file, struct config_problems *problems)
{
    struct json_object *array;
    size_t n;
    char **v;

    if (!json_object_object_get_ex(obj, "statusFields", &array) || !array)
        return;
    if (!json_object_is_type(array, json_type_array)) {
        config_problems_add(problems, file, 0,
                            "resources[%zu]: statusFields: expected an array, "
                            "got %s",
                            i, json_type_to_name(json_object_get_type(array)));
        return;
    }
    n = json_object_array_length(array);
    if (!(v = calloc(n + 1, sizeof(*v)))) {
        problems->out_of_memory = true;
        return;
    }
    for (size_t k = 0; k < r->n_status_fields; k++)
        free(r->status_fields[k]);
    free(r->status_fields);
    r->status_fields = v;
    r->n_status_fields = 0;

    for (size_t k = 0; k < n; k++) {
        struct json_object *e = json_object_array_get_idx(array, k);

        if (!json_object_is_type(e, json_type_string)) {
            config_problems_add(problems, file, 0,
                                "resources[%zu]: statusFields[%zu]: expected "
                                "a string, got %s",
                                i, k,
                                json_type_to_name(json_object_get_type(e)));
            continue;
        }
        if (!(v[r->n_status_fields] = strdup(json_object_get_string(e))))
            problems->out_of_memory = true;
        else
            r->n_status_fields++;
    }
}

static const char *const element_keys[] = {
    "group",         "version",       "resource",
    "labelSelector", "fieldSelector", "statusFields",
};

/* True if key is one an element may hold. */
static bool
is_element_key(const char *key)
{
    for (size_t k = 0; k < sizeof(element_keys) / sizeof(char *); k++)
        if (strcmp(key, element_keys[k]) == 0)
            return true;
    return false;
}

/* One element: {"group": ..., "version": ..., "resource": ...}. */
static void
load_element(struct json_object *obj, size_t i, struct ec_resource *r,
             const char *file, struct config_problems *problems)
{
    if (!json_object_is_type(obj, json_type_object)) {
        config_problems_add(problems, file, 0,
                            "resources[%zu]: expected an object, got %s", i,
                            json_type_to_name(json_object_get_type(obj)));
        return;
    }
    if (config_resource_init(r) < 0)
        problems->out_of_memory = true;

    json_object_object_foreach(obj, key, value)
    {
        (void)value;
        if (!is_element_key(key))
            config_problems_add(problems, file, 0,
                                "resources[%zu]: unknown key \"" SHOWN "\"", i,
                                key);
    }
    r->group = member_string(obj, i, "group", true, file, problems);
    r->version = member_string(obj, i, "version", true, file, problems);
    r->resource = member_string(obj, i, "resource", true, file, problems);
    r->label_selector =
        member_string(obj, i, "labelSelector", false, file, problems);
    r->field_selector =
        member_string(obj, i, "fieldSelector", false, file, problems);
    member_status_fields(obj, i, r, file, problems);
}

/* The document: {"resources": [...]}, and nothing else. */
static void
load_document(struct json_object *root, const char *file,
              struct ec_resource **v, size_t *n,
              struct config_problems *problems)
{
    struct json_object *array;

    if (!json_object_is_type(root, json_type_object)) {
        config_problems_add(problems, file, 0,
                            "expected an object {\"resources\": [...]}, got %s",
                            json_type_to_name(json_object_get_type(root)));
        return;
    }
    json_object_object_foreach(root, key, value)
    {
        (void)value;
        if (strcmp(key, "resources") != 0)
            config_problems_add(problems, file, 0, "unknown key \"" SHOWN "\"",
                                key);
    }
    if (!json_object_object_get_ex(root, "resources", &array)) {
        config_problems_add(problems, file, 0, "missing \"resources\"");
        return;
    }
    if (!json_object_is_type(array, json_type_array)) {
        config_problems_add(problems, file, 0,
                            "resources: expected an array, got %s",
                            json_type_to_name(json_object_get_type(array)));
        return;
    }

    *n = json_object_array_length(array);
    if (*n <= CONFIG_RESOURCES_MAX && !(*v = calloc(*n + 1, sizeof(**v)))) {
        problems->out_of_memory = true;
        return;
    }
    for (size_t i = 0; *v && i < *n; i++)
        load_element(json_object_array_get_idx(array, i), i, &(*v)[i], file,
                     problems);
    resources_check(*v, *n, file, 0, problems);
}

/* Loads a resources file; cfg changes only on success. */
int
resources_load_json(const char *path, struct ec_config *cfg,
                    struct config_problems *problems)
{
    size_t before = problems->n, n = 0;
    struct ec_resource *v = NULL;
    struct json_object *root;
    char *text, *file;
    long len;

    len = config_file_read(path, &text, problems);
    if (len < 0)
        return problems->out_of_memory ? -ENOMEM : -EINVAL;
    root = parse(path, text, (size_t)len, problems);
    free(text);
    if (root) {
        load_document(root, path, &v, &n, problems);
        json_object_put(root);
    }

    file = strdup(path);
    if (!file)
        problems->out_of_memory = true;
    if (problems->out_of_memory || problems->n > before) {
        resources_free(v, v ? n : 0);
        free(file);
        return problems->out_of_memory ? -ENOMEM : -EINVAL;
    }
    resources_free(cfg->resources, cfg->n_resources);
    cfg->resources = v;
    cfg->n_resources = n;
    free(cfg->resources_file);
    cfg->resources_file = file;
    return 0;
}
