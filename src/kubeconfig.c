/*
 * Where the Kubernetes client's settings come from: kubeconfig files
 * (parsed with libyaml, merged like kubectl merges $KUBECONFIG) or the
 * in-cluster service account, resolved to one server, CA, namespace and
 * user.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "kubeconfig.h"
#include "log.h"

/* Real kubeconfigs are kilobytes; this only stops a runaway read. */
#define KUBECONFIG_MAX (16 * 1024 * 1024)
#define CREDENTIAL_MAX (1024 * 1024)
#define SERVICEACCOUNT "/var/run/secrets/kubernetes.io/serviceaccount"
#define EXEC_V1        "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1   "client.authentication.k8s.io/v1beta1"

/* The part every named entry starts with. */
struct entry_head {
    char *name;
    size_t line;
};

struct kubeconfig_cluster {
    struct entry_head head;
    char *server;
    char *ca_file;
    struct kube_blob ca_data;
    bool insecure;
};

struct kubeconfig_user {
    struct entry_head head;
    char *token;
    char *token_file;
    char *cert_file;
    char *key_file;
    struct kube_blob cert_data;
    struct kube_blob key_data;
    struct kube_exec *exec;
    const char *unsupported; /* why this user cannot be used */
};

struct kubeconfig_context {
    struct entry_head head;
    char *cluster;
    char *user;
    char *namespace;
};

enum entry_type { ENTRY_CLUSTER, ENTRY_USER, ENTRY_CONTEXT, ENTRY_TYPES };

/* The entries of one list, such as clusters, in file order. */
struct entry_list {
    char *items; /* count entries of entry_kinds[type].size bytes */
    size_t count;
};

struct kubeconfig_file {
    char *path;
    char *dir; /* absolute; anchors relative paths */
    char *current_context;
    struct entry_list lists[ENTRY_TYPES];
    struct kubeconfig_file *next; /* the next file of $KUBECONFIG */
};

/* The state of parsing one file. */
struct parse {
    yaml_document_t doc;
    struct kubeconfig_file *file;
    char *err;
    size_t errlen;
};

/* Formats err as "<where>: <message>" and returns error. */
static int
fail(char *err, size_t errlen, int error, const char *where, const char *fmt,
     ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", where, msg);
    return error;
}

/* Reports a problem at a node as "<file>: line N: <message>". */
static int
fail_at(struct parse *p, const yaml_node_t *node, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s: line %zu: %s", p->file->path,
             node->start_mark.line + 1, msg);
    return -EINVAL;
}

int
kube_read_file(const char *path, size_t max, char **data, size_t *len)
{
    size_t size = 0, cap = 4096;
    char *buf, *bigger;
    ssize_t n;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }

    for (;;) {
        if (size + 1 >= cap) {
            if (cap > max) {
                r = -EFBIG;
                break;
            }
            bigger = realloc(buf, cap * 2);
            if (!bigger) {
                r = -ENOMEM;
                break;
            }
            buf = bigger, cap *= 2;
        }
        n = read(fd, buf + size, cap - size - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        size += (size_t)n;
    }
    close(fd);

    if (r == 0 && size > max)
        r = -EFBIG;
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return 0;
}

/* Decodes base64 as kubeconfig's []byte fields hold it (with padding). */
static int
base64_decode(const unsigned char *text, size_t len, struct kube_blob *out)
{
    EVP_ENCODE_CTX *ctx;
    unsigned char *data;
    int n, last, r = 0;

    if (len > INT_MAX / 2)
        return -EFBIG;
    data = malloc(len / 4 * 3 + 4);
    ctx = EVP_ENCODE_CTX_new();
    if (!data || !ctx) {
        free(data);
        EVP_ENCODE_CTX_free(ctx);
        return -ENOMEM;
    }

    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, data, &n, text, (int)len) < 0 ||
        EVP_DecodeFinal(ctx, data + n, &last) < 0)
        r = -EBADMSG;
    EVP_ENCODE_CTX_free(ctx);

    if (r < 0) {
        free(data);
        return r;
    }
    out->data = data;
    out->len = (size_t)n + (size_t)last;
    return 0;
}

/* Joins a relative path to the kubeconfig's directory, as kubectl does. */
static char *
resolve_path(const char *dir, const char *path)
{
    char *joined;

    if (path[0] == '/')
        return strdup(path);
    if (asprintf(&joined, "%s/%s", dir, path) < 0)
        return NULL;
    return joined;
}

/* The absolute directory of path, without resolving symlinks. */
static char *
absolute_dir(const char *path)
{
    char *copy, *dir, *cwd, *joined = NULL;

    copy = strdup(path);
    if (!copy)
        return NULL;
    dir = dirname(copy);
    if (dir[0] == '/') {
        joined = strdup(dir);
        free(copy);
        return joined;
    }

    cwd = getcwd(NULL, 0);
    if (cwd && strcmp(dir, ".") == 0)
        joined = strdup(cwd);
    else if (cwd && asprintf(&joined, "%s/%s", cwd, dir) < 0)
        joined = NULL;
    free(cwd);
    free(copy);
    return joined;
}

/* Looks a key up in a mapping node; NULL if absent. */
static yaml_node_t *
map_get(struct parse *p, const yaml_node_t *map, const char *key)
{
    size_t keylen = strlen(key);
    yaml_node_pair_t *pair;
    yaml_node_t *k;

    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        k = yaml_document_get_node(&p->doc, pair->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            k->data.scalar.length == keylen &&
            memcmp(k->data.scalar.value, key, keylen) == 0)
            return yaml_document_get_node(&p->doc, pair->value);
    }
    return NULL;
}

/* A plain empty, "~" or "null" scalar means the field is not set. */
static bool
is_null(const yaml_node_t *node)
{
    const char *v;

    if (!node)
        return true;
    if (node->type != YAML_SCALAR_NODE ||
        node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = (const char *)node->data.scalar.value;
    return strcmp(v, "") == 0 || strcmp(v, "~") == 0 ||
           strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* Copies a scalar node's text; NULs inside would cut strings short. */
static int
scalar_string(struct parse *p, const yaml_node_t *node, const char *key,
              char **out)
{
    if (node->type != YAML_SCALAR_NODE)
        return fail_at(p, node, "%s must be a string", key);
    if (memchr(node->data.scalar.value, '\0', node->data.scalar.length))
        return fail_at(p, node, "%s contains a NUL character", key);
    *out = strndup((const char *)node->data.scalar.value,
                   node->data.scalar.length);
    return *out ? 0 : -ENOMEM;
}

/* Gets map[key] as a string; *out stays NULL if it is not set. */
static int
get_string(struct parse *p, const yaml_node_t *map, const char *key, char **out)
{
    yaml_node_t *node = map_get(p, map, key);

    *out = NULL;
    if (is_null(node))
        return 0;
    return scalar_string(p, node, key, out);
}

/* Gets map[key] as a path relative to the kubeconfig's directory. */
static int
get_path(struct parse *p, const yaml_node_t *map, const char *key, char **out)
{
    char *path;
    int r;

    r = get_string(p, map, key, &path);
    if (r < 0 || !path || !path[0]) {
        free(path);
        *out = NULL;
        return r;
    }
    *out = resolve_path(p->file->dir, path);
    free(path);
    return *out ? 0 : -ENOMEM;
}

/* Gets map[key] as base64-encoded bytes. */
static int
get_data(struct parse *p, const yaml_node_t *map, const char *key,
         struct kube_blob *out)
{
    yaml_node_t *node = map_get(p, map, key);
    int r;

    if (is_null(node))
        return 0;
    if (node->type != YAML_SCALAR_NODE)
        return fail_at(p, node, "%s must be a string", key);
    r = base64_decode(node->data.scalar.value, node->data.scalar.length, out);
    if (r == -EBADMSG)
        return fail_at(p, node, "%s is not valid base64", key);
    return r;
}

/* Gets map[key] as a YAML boolean, in the spellings Kubernetes accepts. */
static int
get_bool(struct parse *p, const yaml_node_t *map, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    yaml_node_t *node = map_get(p, map, key);
    const char *v;
    size_t i;

    *out = false;
    if (is_null(node))
        return 0;
    if (node->type != YAML_SCALAR_NODE)
        return fail_at(p, node, "%s must be true or false", key);
    v = (const char *)node->data.scalar.value;
    for (i = 0; i < 3; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(v, no[i]) == 0)
            return 0;
    }
    return fail_at(p, node, "%s must be true or false", key);
}

/* Gets map[key] if it is a node of the given type; NULL if not set. */
static int
get_node(struct parse *p, const yaml_node_t *map, const char *key,
         yaml_node_type_t type, yaml_node_t **out)
{
    yaml_node_t *node = map_get(p, map, key);

    *out = NULL;
    if (is_null(node))
        return 0;
    if (node->type != type)
        return fail_at(p, node, "%s must be a %s", key,
                       type == YAML_MAPPING_NODE ? "mapping" : "sequence");
    *out = node;
    return 0;
}

static void
free_strv(char **v)
{
    char **s;

    for (s = v; s && *s; s++)
        free(*s);
    free(v);
}

/* exec.args: a sequence of strings. */
static int
parse_exec_args(struct parse *p, const yaml_node_t *seq, char ***out)
{
    yaml_node_item_t *item;
    yaml_node_t *node;
    size_t n = 0;
    char **args;
    int r;

    args = calloc((size_t)(seq->data.sequence.items.top -
                           seq->data.sequence.items.start) +
                      1,
                  sizeof(*args));
    if (!args)
        return -ENOMEM;
    *out = args;
    for (item = seq->data.sequence.items.start;
         item < seq->data.sequence.items.top; item++) {
        node = yaml_document_get_node(&p->doc, *item);
        r = scalar_string(p, node, "exec.args", &args[n]);
        if (r < 0)
            return r;
        n++;
    }
    return 0;
}

/* exec.env: a sequence of {name, value}, kept as "name=value". */
static int
parse_exec_env(struct parse *p, const yaml_node_t *seq, char ***out)
{
    yaml_node_item_t *item;
    yaml_node_t *node;
    char *name, *value, **env;
    size_t n = 0;
    int r;

    env = calloc((size_t)(seq->data.sequence.items.top -
                          seq->data.sequence.items.start) +
                     1,
                 sizeof(*env));
    if (!env)
        return -ENOMEM;
    *out = env;
    for (item = seq->data.sequence.items.start;
         item < seq->data.sequence.items.top; item++) {
        node = yaml_document_get_node(&p->doc, *item);
        if (node->type != YAML_MAPPING_NODE)
            return fail_at(p, node, "exec.env entries must be mappings");
        name = value = NULL;
        r = get_string(p, node, "name", &name);
        if (r == 0 && (!name || !name[0] || strchr(name, '=')))
            r = fail_at(p, node, "exec.env entry without a valid name");
        if (r == 0)
            r = get_string(p, node, "value", &value);
        if (r == 0 &&
            asprintf(&env[n], "%s=%s", name, value ? value : "") < 0) {
            env[n] = NULL;
            r = -ENOMEM;
        }
        free(name);
        free(value);
        if (r < 0)
            return r;
        n++;
    }
    return 0;
}

static void
free_exec(struct kube_exec *exec)
{
    if (!exec)
        return;
    free(exec->api_version);
    free(exec->command);
    free_strv(exec->args);
    free_strv(exec->env);
    free(exec->interactive_mode);
    free(exec);
}

/* users[].user.exec */
static int
parse_exec(struct parse *p, const yaml_node_t *map, struct kube_exec **out)
{
    struct kube_exec *exec;
    yaml_node_t *args, *env;
    char *command;
    int r;

    exec = calloc(1, sizeof(*exec));
    if (!exec)
        return -ENOMEM;
    *out = exec;

    r = get_string(p, map, "apiVersion", &exec->api_version);
    if (r == 0)
        r = get_string(p, map, "command", &command);
    if (r < 0)
        return r;
    if (!command || !command[0]) {
        free(command);
        return fail_at(p, map, "exec without a command");
    }

    /* A bare name is looked up in PATH; one with a slash is a path. */
    if (strchr(command, '/'))
        exec->command = resolve_path(p->file->dir, command);
    else
        exec->command = strdup(command);
    free(command);
    if (!exec->command)
        return -ENOMEM;

    r = get_node(p, map, "args", YAML_SEQUENCE_NODE, &args);
    if (r == 0 && args)
        r = parse_exec_args(p, args, &exec->args);
    if (r == 0)
        r = get_node(p, map, "env", YAML_SEQUENCE_NODE, &env);
    if (r == 0 && env)
        r = parse_exec_env(p, env, &exec->env);
    if (r == 0)
        r = get_string(p, map, "interactiveMode", &exec->interactive_mode);
    if (r == 0)
        r = get_bool(p, map, "provideClusterInfo", &exec->provide_cluster_info);
    return r;
}

/* clusters[].cluster */
static int
parse_cluster(struct parse *p, const yaml_node_t *map, void *entry)
{
    struct kubeconfig_cluster *cluster = entry;
    int r;

    r = get_string(p, map, "server", &cluster->server);
    if (r == 0)
        r = get_path(p, map, "certificate-authority", &cluster->ca_file);
    if (r == 0)
        r = get_data(p, map, "certificate-authority-data", &cluster->ca_data);
    if (r == 0)
        r = get_bool(p, map, "insecure-skip-tls-verify", &cluster->insecure);
    return r;
}

/* users[].user */
static int
parse_user(struct parse *p, const yaml_node_t *map, void *entry)
{
    static const struct {
        const char *key, *why;
    } unsupported[] = {
        {"auth-provider", "auth-provider is not supported, use an exec plugin"},
        {"username", "basic authentication is not supported"},
        {"as", "impersonation is not supported"},
    };
    struct kubeconfig_user *user = entry;
    yaml_node_t *exec;
    size_t i;
    int r;

    r = get_string(p, map, "token", &user->token);
    if (r == 0)
        r = get_path(p, map, "tokenFile", &user->token_file);
    if (r == 0)
        r = get_path(p, map, "client-certificate", &user->cert_file);
    if (r == 0)
        r = get_path(p, map, "client-key", &user->key_file);
    if (r == 0)
        r = get_data(p, map, "client-certificate-data", &user->cert_data);
    if (r == 0)
        r = get_data(p, map, "client-key-data", &user->key_data);
    if (r == 0)
        r = get_node(p, map, "exec", YAML_MAPPING_NODE, &exec);
    if (r == 0 && exec)
        r = parse_exec(p, exec, &user->exec);
    if (r < 0)
        return r;

    /* Refused only when this user is chosen, as kubectl would. */
    for (i = 0; i < sizeof(unsupported) / sizeof(*unsupported); i++)
        if (!is_null(map_get(p, map, unsupported[i].key)))
            user->unsupported = unsupported[i].why;
    return 0;
}

/* contexts[].context */
static int
parse_context(struct parse *p, const yaml_node_t *map, void *entry)
{
    struct kubeconfig_context *context = entry;
    int r;

    r = get_string(p, map, "cluster", &context->cluster);
    if (r == 0)
        r = get_string(p, map, "user", &context->user);
    if (r == 0)
        r = get_string(p, map, "namespace", &context->namespace);
    return r;
}

static void
free_cluster(void *entry)
{
    struct kubeconfig_cluster *cluster = entry;

    free(cluster->server);
    free(cluster->ca_file);
    free(cluster->ca_data.data);
}

static void
free_user(void *entry)
{
    struct kubeconfig_user *user = entry;

    if (user->token)
        explicit_bzero(user->token, strlen(user->token));
    free(user->token);
    free(user->token_file);
    free(user->cert_file);
    free(user->key_file);
    free(user->cert_data.data);
    if (user->key_data.data)
        explicit_bzero(user->key_data.data, user->key_data.len);
    free(user->key_data.data);
    free_exec(user->exec);
}

static void
free_context(void *entry)
{
    struct kubeconfig_context *context = entry;

    free(context->cluster);
    free(context->user);
    free(context->namespace);
}

/* What distinguishes clusters, users and contexts. */
struct entry_kind {
    const char *list;  /* "clusters" */
    const char *inner; /* "cluster" */
    size_t size;
    int (*parse)(struct parse *p, const yaml_node_t *map, void *entry);
    void (*free)(void *entry);
};

static const struct entry_kind entry_kinds[ENTRY_TYPES] = {
    [ENTRY_CLUSTER] = {"clusters", "cluster", sizeof(struct kubeconfig_cluster),
                       parse_cluster, free_cluster},
    [ENTRY_USER] = {"users", "user", sizeof(struct kubeconfig_user), parse_user,
                    free_user},
    [ENTRY_CONTEXT] = {"contexts", "context", sizeof(struct kubeconfig_context),
                       parse_context, free_context},
};

/* One {name: ..., <inner>: {...}} item of a list. */
static int
parse_entry(struct parse *p, const struct entry_kind *kind,
            const yaml_node_t *item, struct entry_head *head)
{
    yaml_node_t *inner;
    int r;

    if (item->type != YAML_MAPPING_NODE)
        return fail_at(p, item, "%s entries must be mappings", kind->list);
    r = get_string(p, item, "name", &head->name);
    if (r < 0)
        return r;
    if (!head->name || !head->name[0])
        return fail_at(p, item, "%s entry without a name", kind->inner);
    head->line = item->start_mark.line + 1;

    r = get_node(p, item, kind->inner, YAML_MAPPING_NODE, &inner);
    if (r < 0 || !inner)
        return r;
    return kind->parse(p, inner, head);
}

/* Parses one of the lists (clusters, users, contexts) of the root. */
static int
parse_entries(struct parse *p, const yaml_node_t *root, enum entry_type type)
{
    const struct entry_kind *kind = &entry_kinds[type];
    struct entry_list *list = &p->file->lists[type];
    yaml_node_item_t *item;
    yaml_node_t *seq;
    int r;

    r = get_node(p, root, kind->list, YAML_SEQUENCE_NODE, &seq);
    if (r < 0 || !seq)
        return r;
    list->items = calloc((size_t)(seq->data.sequence.items.top -
                                  seq->data.sequence.items.start) +
                             1,
                         kind->size);
    if (!list->items)
        return -ENOMEM;

    for (item = seq->data.sequence.items.start;
         item < seq->data.sequence.items.top; item++) {
        r = parse_entry(
            p, kind, yaml_document_get_node(&p->doc, *item),
            (struct entry_head *)(list->items + list->count * kind->size));
        list->count++;
        if (r < 0)
            return r;
    }
    return 0;
}

/* Turns a libyaml error into "<file>: line N: <problem>". */
static int
yaml_failure(struct parse *p, const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "bad YAML";

    if (parser->error == YAML_MEMORY_ERROR)
        return -ENOMEM;
    if (parser->error == YAML_READER_ERROR)
        snprintf(p->err, p->errlen, "%s: byte %zu: %s", p->file->path,
                 parser->problem_offset, problem);
    else
        snprintf(p->err, p->errlen, "%s: line %zu: %s", p->file->path,
                 parser->problem_mark.line + 1, problem);
    return -EBADMSG;
}

static int
parse_document(struct parse *p)
{
    struct kubeconfig_file *file = p->file;
    yaml_node_t *root;
    int r;

    root = yaml_document_get_root_node(&p->doc);
    if (!root)
        return 0; /* an empty file is an empty configuration */
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(p, root, "a kubeconfig must be a mapping");

    r = get_string(p, root, "current-context", &file->current_context);
    if (r == 0)
        r = parse_entries(p, root, ENTRY_CLUSTER);
    if (r == 0)
        r = parse_entries(p, root, ENTRY_USER);
    if (r == 0)
        r = parse_entries(p, root, ENTRY_CONTEXT);
    return r;
}

int
kubeconfig_parse(const char *data, size_t len, const char *path,
                 struct kubeconfig_file **out, char *err, size_t errlen)
{
    struct parse p = {.err = err, .errlen = errlen};
    yaml_parser_t parser;
    int r;

    p.file = calloc(1, sizeof(*p.file));
    if (!p.file)
        return -ENOMEM;
    p.file->path = strdup(path);
    p.file->dir = absolute_dir(path);
    if (!p.file->path || !p.file->dir) {
        kubeconfig_file_free(p.file);
        return -ENOMEM;
    }

    if (!yaml_parser_initialize(&parser)) {
        kubeconfig_file_free(p.file);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &p.doc)) {
        r = yaml_failure(&p, &parser);
        yaml_parser_delete(&parser);
        kubeconfig_file_free(p.file);
        return r;
    }
    yaml_parser_delete(&parser);

    r = parse_document(&p);
    yaml_document_delete(&p.doc);
    if (r < 0) {
        if (r == -ENOMEM)
            fail(err, errlen, r, path, "out of memory");
        kubeconfig_file_free(p.file);
        return r;
    }
    *out = p.file;
    return 0;
}

void
kubeconfig_file_free(struct kubeconfig_file *file)
{
    const struct entry_kind *kind;
    struct kubeconfig_file *next;
    struct entry_head *head;
    int type;
    size_t i;

    for (; file; file = next) {
        next = file->next;
        for (type = 0; type < ENTRY_TYPES; type++) {
            kind = &entry_kinds[type];
            for (i = 0; i < file->lists[type].count; i++) {
                head = (struct entry_head *)(file->lists[type].items +
                                             i * kind->size);
                free(head->name);
                kind->free(head);
            }
            free(file->lists[type].items);
        }
        free(file->current_context);
        free(file->path);
        free(file->dir);
        free(file);
    }
}

/*
 * Finds a named entry: across files the first file that defines the name
 * wins, within one file the last entry does (kubectl's merge rules).
 */
static void *
find_entry(struct kubeconfig_file *files, enum entry_type type,
           const char *name, struct kubeconfig_file **where)
{
    size_t i, size = entry_kinds[type].size;
    struct kubeconfig_file *file;
    struct entry_head *head;

    for (file = files; file; file = file->next) {
        for (i = file->lists[type].count; i-- > 0;) {
            head = (struct entry_head *)(file->lists[type].items + i * size);
            if (strcmp(head->name, name) == 0) {
                *where = file;
                return head;
            }
        }
    }
    return NULL;
}

/* Moves a string out of a parsed file that is about to be freed. */
static char *
take(char **s)
{
    char *taken = *s;

    *s = NULL;
    return taken;
}

static struct kube_blob
take_blob(struct kube_blob *blob)
{
    struct kube_blob taken = *blob;

    blob->data = NULL;
    blob->len = 0;
    return taken;
}

/* Fills blob from data if set, else from the file if named. */
static int
data_or_file(struct kube_blob *data, const char *file, const char *where,
             struct kube_blob *blob, char *err, size_t errlen)
{
    size_t len;
    char *text;
    int r;

    if (data->len > 0 || !file) {
        *blob = take_blob(data);
        return 0;
    }
    r = kube_read_file(file, CREDENTIAL_MAX, &text, &len);
    if (r < 0)
        return fail(err, errlen, r, where, "%s: %s", file, strerror(-r));
    blob->data = (unsigned char *)text;
    blob->len = len;
    return 0;
}

/* Normalizes the server URL: https:// if no scheme, no trailing slash. */
static int
set_server(struct kube_config *config, const char *server)
{
    size_t len;

    if (strstr(server, "://"))
        config->server = strdup(server);
    else if (asprintf(&config->server, "https://%s", server) < 0)
        config->server = NULL;
    if (!config->server)
        return -ENOMEM;
    len = strlen(config->server);
    while (len > 0 && config->server[len - 1] == '/')
        config->server[--len] = '\0';
    return 0;
}

static int
resolve_cluster(struct kube_config *config, struct kubeconfig_file *file,
                struct kubeconfig_cluster *cluster, char *err, size_t errlen)
{
    char where[PATH_MAX + 32];
    int r;

    snprintf(where, sizeof(where), "%s: line %zu", file->path,
             cluster->head.line);
    if (!cluster->server || !cluster->server[0])
        return fail(err, errlen, -EINVAL, where, "cluster \"%s\" has no server",
                    cluster->head.name);
    r = set_server(config, cluster->server);
    if (r < 0)
        return r;

    /* client-go refuses this pair rather than guess which one is meant. */
    config->insecure = cluster->insecure;
    if (config->insecure && (cluster->ca_file || cluster->ca_data.len))
        return fail(err, errlen, -EINVAL, where,
                    "cluster \"%s\" sets a CA and insecure-skip-tls-verify",
                    cluster->head.name);
    return data_or_file(&cluster->ca_data, cluster->ca_file, file->path,
                        &config->ca, err, errlen);
}

/* Checks the exec plugin settings a daemon can honour. */
static int
check_exec(const struct kube_exec *exec, const char *where, char *err,
           size_t errlen)
{
    const char *mode = exec->interactive_mode;

    if (!exec->api_version || (strcmp(exec->api_version, EXEC_V1) != 0 &&
                               strcmp(exec->api_version, EXEC_V1BETA1) != 0))
        return fail(err, errlen, -EINVAL, where,
                    "exec apiVersion \"%s\" is not supported (use %s)",
                    exec->api_version ? exec->api_version : "", EXEC_V1);
    if (strcmp(exec->api_version, EXEC_V1) == 0 && !mode)
        return fail(err, errlen, -EINVAL, where,
                    "exec interactiveMode must be set for %s", EXEC_V1);
    if (mode && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0)
        return fail(
            err, errlen, -EINVAL, where,
            "exec interactiveMode \"%s\" needs a terminal; a daemon has none",
            mode);
    return 0;
}

static int
resolve_user(struct kube_config *config, struct kubeconfig_file *file,
             struct kubeconfig_user *user, char *err, size_t errlen)
{
    char where[PATH_MAX + 32];
    int r;

    snprintf(where, sizeof(where), "%s: line %zu", file->path, user->head.line);
    if (user->unsupported)
        return fail(err, errlen, -EOPNOTSUPP, where, "user \"%s\": %s",
                    user->head.name, user->unsupported);
    if (user->exec) {
        r = check_exec(user->exec, where, err, errlen);
        if (r < 0)
            return r;
    }
    if (!!(user->cert_file || user->cert_data.len) !=
        !!(user->key_file || user->key_data.len))
        return fail(
            err, errlen, -EINVAL, where,
            "user \"%s\" needs both a client certificate and a client key",
            user->head.name);

    config->token = take(&user->token);
    config->token_file = take(&user->token_file);
    config->exec = user->exec;
    user->exec = NULL;
    r = data_or_file(&user->cert_data, user->cert_file, file->path,
                     &config->client_cert, err, errlen);
    if (r == 0)
        r = data_or_file(&user->key_data, user->key_file, file->path,
                         &config->client_key, err, errlen);
    return r;
}

/* Picks the context and fills config from it. */
static int
resolve(struct kube_config *config, struct kubeconfig_file *files,
        const char *sources, const char *context_name, char *err, size_t errlen)
{
    struct kubeconfig_context *context;
    struct kubeconfig_cluster *cluster;
    struct kubeconfig_user *user = NULL;
    struct kubeconfig_file *file, *cluster_file, *user_file = NULL;
    char where[PATH_MAX + 32];
    int r;

    for (file = files; !context_name && file; file = file->next)
        if (file->current_context && file->current_context[0])
            context_name = file->current_context;
    if (!context_name)
        return fail(err, errlen, -ENOENT, sources,
                    "current-context is not set and no --context given");

    context = find_entry(files, ENTRY_CONTEXT, context_name, &file);
    if (!context)
        return fail(err, errlen, -ENOENT, sources, "context \"%s\" not found",
                    context_name);
    snprintf(where, sizeof(where), "%s: line %zu", file->path,
             context->head.line);
    if (!context->cluster || !context->cluster[0])
        return fail(err, errlen, -EINVAL, where,
                    "context \"%s\" names no cluster", context_name);
    cluster = find_entry(files, ENTRY_CLUSTER, context->cluster, &cluster_file);
    if (!cluster)
        return fail(err, errlen, -ENOENT, where,
                    "cluster \"%s\" of context \"%s\" not found",
                    context->cluster, context_name);
    /* A context without a user is anonymous, which kubectl allows. */
    if (context->user && context->user[0]) {
        user = find_entry(files, ENTRY_USER, context->user, &user_file);
        if (!user)
            return fail(err, errlen, -ENOENT, where,
                        "user \"%s\" of context \"%s\" not found",
                        context->user, context_name);
    }

    config->source = strdup(sources);
    if (context->namespace && context->namespace[0])
        config->namespace = take(&context->namespace);
    else
        config->namespace = strdup("default");
    if (!config->source || !config->namespace)
        return -ENOMEM;
    r = resolve_cluster(config, cluster_file, cluster, err, errlen);
    if (r == 0 && user)
        r = resolve_user(config, user_file, user, err, errlen);
    return r;
}

/* Reads and parses one file; -ENOENT is left for the caller to judge. */
static int
load_file(const char *path, struct kubeconfig_file **out, char *err,
          size_t errlen)
{
    size_t len;
    char *data;
    int r;

    r = kube_read_file(path, KUBECONFIG_MAX, &data, &len);
    if (r < 0)
        return fail(err, errlen, r, path, "%s", strerror(-r));
    r = kubeconfig_parse(data, len, path, out, err, errlen);
    free(data);
    return r;
}

/*
 * Loads the files of a colon-separated list in order.  Files that do not
 * exist are skipped, as kubectl skips them in $KUBECONFIG.
 */
static int
load_list(const char *list, struct kubeconfig_file **files, char *err,
          size_t errlen)
{
    struct kubeconfig_file **tail = files, *file;
    char *copy, *path, *save = NULL;
    int r = 0;

    copy = strdup(list);
    if (!copy)
        return -ENOMEM;
    for (path = strtok_r(copy, ":", &save); path;
         path = strtok_r(NULL, ":", &save)) {
        r = load_file(path, &file, err, errlen);
        if (r == -ENOENT) {
            r = 0;
            continue;
        }
        if (r < 0)
            break;
        *tail = file;
        tail = &file->next;
    }
    free(copy);

    if (r == 0 && !*files)
        r = fail(err, errlen, -ENOENT, list, "none of these files exists");
    return r;
}

static int
load_kubeconfig(struct kube_config *config, const char *paths, bool list,
                const char *context, char *err, size_t errlen)
{
    struct kubeconfig_file *files = NULL;
    int r;

    if (list)
        r = load_list(paths, &files, err, errlen);
    else
        r = load_file(paths, &files, err, errlen);
    if (r == 0)
        r = resolve(config, files, paths, context, err, errlen);
    kubeconfig_file_free(files);
    return r;
}

/* Reads a one-line file such as the service account's namespace. */
static char *
read_trimmed(const char *path)
{
    size_t len;
    char *text;

    if (kube_read_file(path, CREDENTIAL_MAX, &text, &len) < 0)
        return NULL;
    while (len > 0 && strchr(" \t\r\n", text[len - 1]))
        text[--len] = '\0';
    if (len == 0) {
        free(text);
        return NULL;
    }
    return text;
}

/*
 * The service account Kubernetes mounts into a pod.  Like client-go, this
 * counts only when the service variables are set and the token is there.
 */
static int
load_in_cluster(struct kube_config *config, char *why, size_t whylen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = getenv("EC_SERVICEACCOUNT_DIR");
    const char *namespace = getenv("POD_NAMESPACE");
    char path[PATH_MAX];
    size_t len;
    char *ca;
    int r;

    if (!host || !host[0] || !port || !port[0]) {
        snprintf(why, whylen, "KUBERNETES_SERVICE_HOST is unset");
        return -ENOENT;
    }
    if (!dir || !dir[0])
        dir = SERVICEACCOUNT;
    if (asprintf(&config->token_file, "%s/token", dir) < 0) {
        config->token_file = NULL;
        return -ENOMEM;
    }
    if (access(config->token_file, R_OK) < 0) {
        snprintf(why, whylen, "%s: %s", config->token_file, strerror(errno));
        free(config->token_file);
        config->token_file = NULL;
        return -ENOENT;
    }

    /* An IPv6 address needs brackets in a URL. */
    if (asprintf(&config->server,
                 strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
                 port) < 0) {
        config->server = NULL;
        return -ENOMEM;
    }
    config->source = strdup(dir);

    /* client-go lets POD_NAMESPACE override the mounted namespace. */
    snprintf(path, sizeof(path), "%s/namespace", dir);
    if (namespace && namespace[0])
        config->namespace = strdup(namespace);
    else
        config->namespace = read_trimmed(path);
    if (!config->namespace)
        config->namespace = strdup("default");

    /* Without ca.crt client-go goes on with the system's CAs; so do we. */
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    r = kube_read_file(path, CREDENTIAL_MAX, &ca, &len);
    if (r == 0) {
        config->ca.data = (unsigned char *)ca;
        config->ca.len = len;
    } else {
        log_warn("cannot read %s: %s, using the system's CA certificates", path,
                 strerror(-r));
    }
    return config->source && config->namespace ? 0 : -ENOMEM;
}

/* ~/.kube/config, with HOME from the environment or the password file. */
static int
home_kubeconfig(char *path, size_t size)
{
    const char *home = getenv("HOME");
    struct passwd *pw;

    if (!home || !home[0]) {
        pw = getpwuid(getuid());
        if (!pw)
            return -ENOENT;
        home = pw->pw_dir;
    }
    snprintf(path, size, "%s/.kube/config", home);
    return 0;
}

static int
load(struct kube_config *config, const struct kube_options *opt, char *err,
     size_t errlen)
{
    const char *env = getenv("KUBECONFIG");
    const char *context = opt ? opt->context : NULL;
    char home[PATH_MAX], why[PATH_MAX + 64];
    int r;

    if (opt && opt->kubeconfig && opt->kubeconfig[0])
        return load_kubeconfig(config, opt->kubeconfig, false, context, err,
                               errlen);
    if (env && env[0])
        return load_kubeconfig(config, env, true, context, err, errlen);

    /* As in controller-runtime: a --context needs a kubeconfig. */
    snprintf(why, sizeof(why), "--context given");
    if (!context) {
        r = load_in_cluster(config, why, sizeof(why));
        if (r != -ENOENT)
            return r;
    }

    r = home_kubeconfig(home, sizeof(home));
    if (r < 0)
        return fail(err, errlen, r, "~/.kube/config",
                    "no home directory, and not in a cluster (%s)", why);
    r = load_kubeconfig(config, home, false, context, err, errlen);
    if (r == -ENOENT && access(home, F_OK) < 0)
        fail(err, errlen, r, home,
             "No such file or directory, and not in a cluster (%s)", why);
    return r;
}

int
kube_config_load(const struct kube_options *opt, struct kube_config **out,
                 char *err, size_t errlen)
{
    struct kube_config *config;
    int r;

    if (errlen > 0)
        err[0] = '\0';
    config = calloc(1, sizeof(*config));
    if (!config)
        return -ENOMEM;
    r = load(config, opt, err, errlen);
    if (r < 0) {
        if (errlen > 0 && !err[0])
            snprintf(err, errlen, "%s", strerror(-r));
        kube_config_free(config);
        return r;
    }
    *out = config;
    return 0;
}

void
kube_config_free(struct kube_config *config)
{
    if (!config)
        return;
    free(config->source);
    free(config->server);
    free(config->namespace);
    free(config->ca.data);
    if (config->token)
        explicit_bzero(config->token, strlen(config->token));
    free(config->token);
    free(config->token_file);
    free(config->client_cert.data);
    if (config->client_key.data)
        explicit_bzero(config->client_key.data, config->client_key.len);
    free(config->client_key.data);
    free_exec(config->exec);
    free(config);
}
