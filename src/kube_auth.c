/*
 * Credentials for the Kubernetes client: a static token, a token file that
 * is re-read before every request because kubelet rotates it, or the
 * token or certificate an exec plugin prints (client.authentication.k8s.io
 * ExecCredential), cached until it expires.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "kubeconfig.h"

/* A token is a few kilobytes at most; more is not a credential. */
#define TOKEN_MAX       (64 * 1024)
#define EXEC_OUTPUT_MAX (1024 * 1024)
/* kubectl waits for ever; a daemon must not hang on a stuck plugin. */
#define EXEC_TIMEOUT_MS (60 * 1000)

extern char **environ;

struct kube_auth {
    const struct kube_config *config;
    char *file_token;

    /* The exec plugin's last credential, valid until exec_expiry. */
    bool exec_valid;
    time_t exec_expiry; /* 0: does not expire */
    char *exec_token;
    struct kube_blob exec_cert;
    struct kube_blob exec_key;
};

int
kube_auth_new(const struct kube_config *config, struct kube_auth **out)
{
    struct kube_auth *auth;

    auth = calloc(1, sizeof(*auth));
    if (!auth)
        return -ENOMEM;
    auth->config = config;
    *out = auth;
    return 0;
}

/* Frees a secret after overwriting it, so it does not linger in memory. */
static void
free_secret(void *secret, size_t len)
{
    if (secret)
        explicit_bzero(secret, len);
    free(secret);
}

static void
forget_exec_credential(struct kube_auth *auth)
{
    if (auth->exec_token)
        free_secret(auth->exec_token, strlen(auth->exec_token));
    free(auth->exec_cert.data);
    free_secret(auth->exec_key.data, auth->exec_key.len);
    auth->exec_token = NULL;
    auth->exec_cert = (struct kube_blob){0};
    auth->exec_key = (struct kube_blob){0};
    auth->exec_valid = false;
}

void
kube_auth_free(struct kube_auth *auth)
{
    if (!auth)
        return;
    forget_exec_credential(auth);
    if (auth->file_token)
        free_secret(auth->file_token, strlen(auth->file_token));
    free(auth);
}

/* Reads the token file; client-go trims surrounding white space too. */
static int
read_token_file(struct kube_auth *auth, char *err, size_t errlen)
{
    const char *path = auth->config->token_file;
    char *token, *start, *end;
    size_t len;
    int r;

    r = kube_read_file(path, TOKEN_MAX, &token, &len);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-r));
        return -ENOKEY;
    }
    for (start = token; *start && strchr(" \t\r\n", *start); start++)
        ;
    for (end = token + strlen(token); end > start && strchr(" \t\r\n", end[-1]);
         end--)
        ;
    *end = '\0';
    if (start == end) {
        free_secret(token, len);
        snprintf(err, errlen, "%s: empty token", path);
        return -ENOKEY;
    }
    memmove(token, start, (size_t)(end - start) + 1);

    if (auth->file_token)
        free_secret(auth->file_token, strlen(auth->file_token));
    auth->file_token = token;
    return 0;
}

/* Parses an RFC 3339 time such as 2024-05-01T10:00:00.5+02:00. */
static int
parse_rfc3339(const char *text, time_t *out)
{
    struct tm tm = {0};
    const char *rest;
    long offset;
    time_t t;

    rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -EINVAL;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    rest = strptime(rest, "%z", &tm);
    if (!rest || *rest)
        return -EINVAL;
    /* timegm() resets tm_gmtoff, so keep the parsed offset first. */
    offset = tm.tm_gmtoff;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *out = t - offset;
    return 0;
}

/* Builds $KUBERNETES_EXEC_INFO, the ExecCredential kubectl hands over. */
static char *
exec_info(const struct kube_config *config)
{
    const struct kube_exec *exec = config->exec;
    json_object *info, *spec, *cluster;
    unsigned char *ca = NULL;
    char *text;

    info = json_object_new_object();
    spec = json_object_new_object();
    json_object_object_add(info, "kind",
                           json_object_new_string("ExecCredential"));
    json_object_object_add(info, "apiVersion",
                           json_object_new_string(exec->api_version));
    json_object_object_add(info, "spec", spec);
    json_object_object_add(spec, "interactive", json_object_new_boolean(false));

    if (exec->provide_cluster_info) {
        cluster = json_object_new_object();
        json_object_object_add(spec, "cluster", cluster);
        json_object_object_add(cluster, "server",
                               json_object_new_string(config->server));
        if (config->insecure)
            json_object_object_add(cluster, "insecure-skip-tls-verify",
                                   json_object_new_boolean(true));
        if (config->ca.len > 0)
            ca = malloc(config->ca.len / 3 * 4 + 5);
        if (ca) {
            EVP_EncodeBlock(ca, config->ca.data, (int)config->ca.len);
            json_object_object_add(cluster, "certificate-authority-data",
                                   json_object_new_string((const char *)ca));
            free(ca);
        }
    }

    text = strdup(json_object_to_json_string_ext(
        info, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(info);
    return text;
}

/* True if the "NAME=value" entry env sets a name that one of over sets. */
static bool
overridden(const char *env, char *const *over)
{
    size_t len = strcspn(env, "=");

    for (; over && *over; over++)
        if (strncmp(env, *over, len) == 0 && (*over)[len] == '=')
            return true;
    return false;
}

/*
 * The plugin's environment: ours, then the exec env entries, then
 * KUBERNETES_EXEC_INFO, later ones replacing earlier ones as in kubectl.
 */
static char **
exec_environment(const struct kube_exec *exec, char *info)
{
    char *extra[] = {info, NULL};
    size_t n = 0, i = 0, j;
    char **env;

    while (environ[n])
        n++;
    for (j = 0; exec->env && exec->env[j]; j++)
        n++;
    env = calloc(n + 2, sizeof(*env));
    if (!env)
        return NULL;

    for (j = 0; environ[j]; j++)
        if (!overridden(environ[j], exec->env) &&
            !overridden(environ[j], extra))
            env[i++] = environ[j];
    for (j = 0; exec->env && exec->env[j]; j++)
        if (!overridden(exec->env[j], extra) &&
            !overridden(exec->env[j], exec->env + j + 1))
            env[i++] = exec->env[j];
    env[i] = info;
    return env;
}

/* Starts the plugin with stdout on a pipe and stdin on /dev/null. */
static int
exec_spawn(const struct kube_exec *exec, char **env, pid_t *pid, int *out)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char **argv;
    size_t n = 0;
    int pipefd[2], r;

    while (exec->args && exec->args[n])
        n++;
    argv = calloc(n + 2, sizeof(*argv));
    if (!argv)
        return -ENOMEM;
    argv[0] = exec->command;
    if (n > 0)
        memcpy(argv + 1, exec->args, n * sizeof(*argv));

    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        r = -errno;
        free(argv);
        return r;
    }

    /* The plugin gets default signal handling, whatever ours is. */
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);

    /* posix_spawnp forks and execs without a shell and reports exec
     * failures itself. */
    r = -posix_spawnp(pid, exec->command, &actions, &attr, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    free(argv);
    close(pipefd[1]);
    if (r < 0) {
        close(pipefd[0]);
        return r;
    }
    *out = pipefd[0];
    return 0;
}

static long
monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the plugin's stdout until EOF or the deadline. */
static int
read_output(int fd, char **out, size_t *outlen)
{
    long deadline = monotonic_ms() + EXEC_TIMEOUT_MS, left;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t len = 0;
    int ready, r = 0;
    char *buf;
    ssize_t n;

    buf = malloc(EXEC_OUTPUT_MAX + 1);
    if (!buf)
        return -ENOMEM;
    while (r == 0) {
        left = deadline - monotonic_ms();
        ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) {
            r = ready < 0 ? -errno : -ETIMEDOUT;
            break;
        }
        n = read(fd, buf + len, EXEC_OUTPUT_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        len += (size_t)n;
        if (len == EXEC_OUTPUT_MAX)
            r = -EFBIG;
    }
    if (r < 0) {
        free_secret(buf, len);
        return r;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

/* Gets status.<key> as a string, or NULL. */
static const char *
status_string(json_object *status, const char *key)
{
    json_object *value;

    if (!json_object_object_get_ex(status, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

static int
copy_blob(const char *text, struct kube_blob *blob)
{
    blob->len = strlen(text);
    blob->data = (unsigned char *)strdup(text);
    return blob->data ? 0 : -ENOMEM;
}

/* Checks the ExecCredential's status and takes the credential from it. */
static int
take_status(struct kube_auth *auth, json_object *status, char *err,
            size_t errlen)
{
    const char *token = status_string(status, "token");
    const char *cert = status_string(status, "clientCertificateData");
    const char *key = status_string(status, "clientKeyData");
    const char *expiry = status_string(status, "expirationTimestamp");
    const char *command = auth->config->exec->command;

    if (!token && !cert && !key) {
        snprintf(err, errlen,
                 "%s: no token and no client certificate in status", command);
        return -ENOKEY;
    }
    if (!!cert != !!key) {
        snprintf(err, errlen, "%s: a client certificate needs a key", command);
        return -ENOKEY;
    }
    auth->exec_expiry = 0;
    if (expiry && parse_rfc3339(expiry, &auth->exec_expiry) < 0) {
        snprintf(err, errlen, "%s: bad expirationTimestamp \"%.40s\"", command,
                 expiry);
        return -ENOKEY;
    }

    /* PEM text in ExecCredential, unlike the base64 of kubeconfig. */
    if (token && !(auth->exec_token = strdup(token)))
        return -ENOMEM;
    if (cert && (copy_blob(cert, &auth->exec_cert) < 0 ||
                 copy_blob(key, &auth->exec_key) < 0))
        return -ENOMEM;
    auth->exec_valid = true;
    return 0;
}

/* Parses the plugin's output, an ExecCredential of the configured version. */
static int
parse_exec_credential(struct kube_auth *auth, const char *output, char *err,
                      size_t errlen)
{
    const struct kube_exec *exec = auth->config->exec;
    json_object *credential, *kind, *version, *status;
    enum json_tokener_error error;
    int r = -ENOKEY;

    credential = json_tokener_parse_verbose(output, &error);
    if (!credential) {
        snprintf(err, errlen, "%s: output is not JSON: %s", exec->command,
                 json_tokener_error_desc(error));
        return -ENOKEY;
    }
    if (!json_object_object_get_ex(credential, "kind", &kind) ||
        strcmp(json_object_get_string(kind), "ExecCredential") != 0)
        snprintf(err, errlen, "%s: output is not an ExecCredential",
                 exec->command);
    else if (!json_object_object_get_ex(credential, "apiVersion", &version) ||
             strcmp(json_object_get_string(version), exec->api_version) != 0)
        snprintf(err, errlen, "%s: output is not of apiVersion %s",
                 exec->command, exec->api_version);
    else if (!json_object_object_get_ex(credential, "status", &status) ||
             !json_object_is_type(status, json_type_object))
        snprintf(err, errlen, "%s: output has no status", exec->command);
    else
        r = take_status(auth, status, err, errlen);
    json_object_put(credential);
    return r;
}

/* Waits for the plugin and says how it ended if not with status 0. */
static int
exec_wait(pid_t pid, const char *command, bool kill_it, char *err,
          size_t errlen)
{
    int status;

    if (kill_it)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "%s: waitpid() failed: %s", command,
                     strerror(errno));
            return -ENOKEY;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        snprintf(err, errlen, "%s: exited with status %d", command,
                 WEXITSTATUS(status));
    else
        snprintf(err, errlen, "%s: killed by signal %d", command,
                 WTERMSIG(status));
    return -ENOKEY;
}

/* Runs the exec plugin and caches the credential it prints. */
static int
exec_run(struct kube_auth *auth, char *err, size_t errlen)
{
    const struct kube_exec *exec = auth->config->exec;
    char *info, **env, *output = NULL;
    size_t len = 0;
    int fd, r, w;
    pid_t pid;

    forget_exec_credential(auth);
    output = exec_info(auth->config);
    if (!output)
        return -ENOMEM;
    r = asprintf(&info, "KUBERNETES_EXEC_INFO=%s", output);
    free(output);
    output = NULL;
    if (r < 0)
        return -ENOMEM;
    env = exec_environment(exec, info);
    r = env ? exec_spawn(exec, env, &pid, &fd) : -ENOMEM;
    free(env);
    free(info);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", exec->command, strerror(-r));
        return -ENOKEY;
    }

    r = read_output(fd, &output, &len);
    close(fd);
    w = exec_wait(pid, exec->command, r < 0, err, errlen);
    if (r == -ETIMEDOUT)
        snprintf(err, errlen, "%s: no credential after %d s, killed",
                 exec->command, EXEC_TIMEOUT_MS / 1000);
    else if (r < 0)
        snprintf(err, errlen, "%s: reading its output: %s", exec->command,
                 strerror(-r));
    if (r == 0 && w == 0)
        r = parse_exec_credential(auth, output, err, errlen);
    free_secret(output, len);
    return r < 0 ? -ENOKEY : w;
}

static bool
exec_expired(const struct kube_auth *auth)
{
    return auth->exec_expiry != 0 && time(NULL) >= auth->exec_expiry;
}

int
kube_auth_get(struct kube_auth *auth, struct kube_credential *cred, char *err,
              size_t errlen)
{
    const struct kube_config *config = auth->config;
    int r;

    cred->token = config->token;
    cred->client_cert = config->client_cert.len ? &config->client_cert : NULL;
    cred->client_key = config->client_key.len ? &config->client_key : NULL;

    if (config->exec) {
        if (!auth->exec_valid || exec_expired(auth)) {
            r = exec_run(auth, err, errlen);
            if (r < 0)
                return r;
        }
        if (auth->exec_token)
            cred->token = auth->exec_token;
        if (auth->exec_cert.len) {
            cred->client_cert = &auth->exec_cert;
            cred->client_key = &auth->exec_key;
        }
        return 0;
    }

    if (config->token_file) {
        r = read_token_file(auth, err, errlen);
        if (r < 0)
            return r;
        cred->token = auth->file_token;
    }
    return 0;
}

bool
kube_auth_refresh(struct kube_auth *auth)
{
    if (auth->config->exec) {
        forget_exec_credential(auth);
        return true;
    }
    /* The file is read again before the retry anyway. */
    return auth->config->token_file != NULL;
}
