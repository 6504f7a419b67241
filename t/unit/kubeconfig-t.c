/*
 * Finding the API server and credentials: kubeconfig fields, $KUBECONFIG
 * merging, --context, relative paths, the in-cluster service account, the
 * exec plugin's cache, and messages for broken configurations.  No
 * network: nothing here connects anywhere.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kube.h"
#include "kubeconfig.h"
#include "tap.h"

static char *data_dir; /* absolute, t/data/kubeconfig */
static char tmp_dir[256];

/* An absolute path under t/data/kubeconfig. */
static const char *
data(const char *name)
{
    static char paths[4][PATH_MAX];
    static int next;
    char *path = paths[next++ % 4];

    snprintf(path, PATH_MAX, "%s/%s", data_dir, name);
    return path;
}

/* A path in the test's scratch directory. */
static const char *
scratch(const char *name)
{
    static char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    return path;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
}

/* A file's contents, for comparison; a static buffer. */
static const char *
slurp(const char *path)
{
    static char text[4096];
    FILE *f = fopen(path, "r");
    size_t n = 0;

    text[0] = '\0';
    if (f) {
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
    }
    text[n] = '\0';
    return text;
}

/* A blob as a string, for is_str. */
static const char *
blob_text(const struct kube_blob *blob)
{
    static char text[4096];
    size_t n = blob->len < sizeof(text) - 1 ? blob->len : sizeof(text) - 1;

    if (blob->len)
        memcpy(text, blob->data, n);
    text[n] = '\0';
    return text;
}

/* Every variable that steers resolution, so each test starts clean. */
static void
clean_environment(void)
{
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("EC_SERVICEACCOUNT_DIR");
    unsetenv("POD_NAMESPACE");
    setenv("HOME", tmp_dir, 1);
}

static struct kube_config *
load(const char *kubeconfig, const char *context, char *err, size_t errlen)
{
    struct kube_options opt = {.kubeconfig = kubeconfig, .context = context};
    struct kube_config *config = NULL;
    int r;

    r = kube_config_load(&opt, &config, err, errlen);
    if (r < 0)
        printf("# kube_config_load: %s\n", err);
    return config;
}

static void
test_server_token_and_ca_file(void)
{
    struct kube_config *config;
    char err[512];

    config = load(data("basic.yaml"), NULL, err, sizeof(err));
    ok(config, "basic.yaml loads");
    if (!config)
        return;
    is_str(config->server, "https://dev.example.com:6443",
           "server comes from the current context, trailing slash dropped");
    is_str(blob_text(&config->ca), slurp(data("ca.pem")),
           "certificate-authority is read from the file");
    is_str(config->token, "dev-token", "token comes from the user");
    is_str(config->namespace, "team-a", "namespace comes from the context");
    is_int(config->insecure, 0, "TLS verification is on by default");
    kube_config_free(config);
}

static void
test_context_override_and_data_fields(void)
{
    struct kube_config *config;
    char err[512];

    config = load(data("basic.yaml"), "prod", err, sizeof(err));
    ok(config, "--context prod loads");
    if (!config)
        return;
    is_str(config->server, "https://prod.example.com",
           "--context overrides current-context");
    is_str(blob_text(&config->ca), "ca-bytes",
           "certificate-authority-data is base64-decoded");
    is_str(blob_text(&config->client_cert), "cert-bytes",
           "client-certificate-data is base64-decoded");
    is_str(blob_text(&config->client_key), "key-bytes",
           "client-key-data is base64-decoded");
    is_str(config->token, NULL, "the prod user has no token");
    is_str(config->namespace, "default",
           "a context without namespace means default");
    kube_config_free(config);
}

static void
test_insecure_flag(void)
{
    struct kube_config *config;
    char err[512];

    config = load(data("insecure.yaml"), NULL, err, sizeof(err));
    ok(config, "insecure.yaml loads");
    if (!config)
        return;
    is_int(config->insecure, 1, "insecure-skip-tls-verify: true is read");
    is_int(config->ca.len, 0, "no CA is set");
    kube_config_free(config);
}

static void
test_kubeconfig_merge(void)
{
    struct kube_config *config;
    char list[3 * PATH_MAX], err[512];

    snprintf(list, sizeof(list), "%s:%s:%s", data("merge-first.yaml"),
             scratch("missing.yaml"), data("merge-second.yaml"));
    setenv("KUBECONFIG", list, 1);

    config = load(NULL, NULL, err, sizeof(err));
    ok(config, "$KUBECONFIG with a missing file in the middle loads");
    if (config) {
        is_str(config->namespace, "second-ns",
               "current-context comes from the first file that sets it");
        is_str(config->server, "https://first.example.com",
               "a cluster defined twice comes from the first file");
        kube_config_free(config);
    }

    config = load(NULL, "only-first", err, sizeof(err));
    ok(config, "--context with $KUBECONFIG loads");
    if (config) {
        is_str(config->namespace, "default",
               "a context defined twice comes from the first file");
        kube_config_free(config);
    }
    unsetenv("KUBECONFIG");
}

static void
test_relative_paths(void)
{
    struct kube_config *config;
    char want[PATH_MAX + 16], err[512];

    config = load(data("nested/config"), NULL, err, sizeof(err));
    ok(config, "nested/config loads");
    if (!config)
        return;
    is_str(blob_text(&config->ca), slurp(data("nested/certs/ca.pem")),
           "certificate-authority is relative to the kubeconfig's directory");
    snprintf(want, sizeof(want), "%s/nested/token", data_dir);
    is_str(config->token_file, want,
           "tokenFile is made absolute from the kubeconfig's directory");
    kube_config_free(config);
}

static void
test_token_file_is_reread(void)
{
    struct kube_credential cred;
    struct kube_config *config;
    struct kube_auth *auth;
    char text[PATH_MAX + 256], err[512];

    snprintf(text, sizeof(text),
             "current-context: c\n"
             "clusters: [{name: c, cluster: {server: https://c}}]\n"
             "users: [{name: u, user: {tokenFile: %s, token: stale}}]\n"
             "contexts: [{name: c, context: {cluster: c, user: u}}]\n",
             scratch("token"));
    write_file(scratch("config"), text);
    write_file(scratch("token"), "first\n");
    config = load(scratch("config"), NULL, err, sizeof(err));
    ok(config, "a kubeconfig with tokenFile loads");
    if (!config)
        return;
    kube_auth_new(config, &auth);

    kube_auth_get(auth, &cred, err, sizeof(err));
    is_str(cred.token, "first", "the token file's trimmed content is used");
    write_file(scratch("token"), "second");
    kube_auth_get(auth, &cred, err, sizeof(err));
    is_str(cred.token, "second", "a rotated token file is read again");
    ok(kube_auth_refresh(auth), "a 401 with a token file is worth a retry");

    kube_auth_free(auth);
    kube_config_free(config);
    unlink(scratch("token"));
    unlink(scratch("config"));
}

static void
test_in_cluster(void)
{
    struct kube_client *client = NULL;
    char err[512];
    int r;

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("EC_SERVICEACCOUNT_DIR", data("serviceaccount"), 1);

    r = kube_client_new(NULL, &client, err, sizeof(err));
    is_int(r, 0, "in-cluster configuration loads");
    if (r == 0) {
        is_str(kube_client_server(client), "https://10.96.0.1:443",
               "server comes from KUBERNETES_SERVICE_HOST and _PORT");
        is_str(kube_client_namespace(client), "sa-namespace",
               "namespace comes from the service account's file");
        kube_client_free(client);
    }

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("POD_NAMESPACE", "from-env", 1);
    r = kube_client_new(NULL, &client, err, sizeof(err));
    is_int(r, 0, "in-cluster configuration with IPv6 loads");
    if (r == 0) {
        is_str(kube_client_server(client), "https://[fd00::1]:443",
               "an IPv6 service host is bracketed");
        is_str(kube_client_namespace(client), "from-env",
               "POD_NAMESPACE overrides the namespace file");
        kube_client_free(client);
    }
    clean_environment();
}

static void
test_in_cluster_token_and_ca(void)
{
    struct kube_credential cred;
    struct kube_config *config;
    struct kube_auth *auth;
    char err[512];

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("EC_SERVICEACCOUNT_DIR", data("serviceaccount"), 1);
    config = load(NULL, NULL, err, sizeof(err));
    ok(config, "in-cluster configuration loads");
    if (config) {
        is_str(blob_text(&config->ca), slurp(data("serviceaccount/ca.crt")),
               "the CA is the service account's ca.crt");
        kube_auth_new(config, &auth);
        kube_auth_get(auth, &cred, err, sizeof(err));
        is_str(cred.token, "sa-token", "the token is the service account's");
        kube_auth_free(auth);
        kube_config_free(config);
    }
    clean_environment();
}

static void
test_context_skips_in_cluster(void)
{
    struct kube_config *config;
    char want[PATH_MAX + 128], err[512];

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("EC_SERVICEACCOUNT_DIR", data("serviceaccount"), 1);
    config = load(NULL, "some-context", err, sizeof(err));
    ok(!config, "--context without a kubeconfig fails in a pod");
    snprintf(
        want, sizeof(want), "%s/.kube/config: %s", tmp_dir,
        "No such file or directory, and not in a cluster (--context given)");
    is_str(err, want, "--context means ~/.kube/config, not in-cluster");
    kube_config_free(config);
    clean_environment();
}

/* The plugin's run count, from the file it keeps. */
static int
exec_runs(void)
{
    return atoi(slurp(scratch("runs")));
}

/* Sets the expiry the plugin prints: now + seconds, in a given offset. */
static void
set_expiry(long seconds, int offset_hours)
{
    char text[64], zone[16];
    time_t t = time(NULL) + seconds + offset_hours * 3600;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S.123", &tm);
    if (offset_hours)
        snprintf(zone, sizeof(zone), "%+03d:00", offset_hours);
    else
        snprintf(zone, sizeof(zone), "Z");
    strcat(text, zone);
    setenv("EC_TEST_EXPIRY", text, 1);
}

static void
test_exec_plugin_cache(void)
{
    struct kube_credential cred = {0};
    struct kube_config *config;
    struct kube_auth *auth;
    char err[512];

    setenv("EC_TEST_EXEC_DIR", tmp_dir, 1);
    unlink(scratch("runs"));
    config = load(data("exec.yaml"), NULL, err, sizeof(err));
    ok(config, "exec.yaml loads");
    if (!config)
        return;
    kube_auth_new(config, &auth);

    set_expiry(3600, -2);
    is_int(kube_auth_get(auth, &cred, err, sizeof(err)), 0,
           "the exec plugin gives a credential");
    is_str(cred.token, "exec-token-1", "the token is the plugin's");
    kube_auth_get(auth, &cred, err, sizeof(err));
    is_int(exec_runs(), 1,
           "a credential valid for an hour (in a -02:00 offset) is cached");
    is_str(cred.token, "exec-token-1", "the cached token is used");

    ok(kube_auth_refresh(auth), "a 401 with an exec plugin is worth a retry");
    set_expiry(-60, 0);
    kube_auth_get(auth, &cred, err, sizeof(err));
    is_int(exec_runs(), 2, "after a 401 the plugin runs again");
    is_str(cred.token, "exec-token-2", "the new token is used");
    kube_auth_get(auth, &cred, err, sizeof(err));
    is_int(exec_runs(), 3, "an expired credential makes the plugin run again");

    is_str(slurp(scratch("args")), "--prefix\n", "args reach the plugin");
    ok(strstr(slurp(scratch("exec-info")),
              "\"apiVersion\":\"client.authentication.k8s.io/v1\""),
       "KUBERNETES_EXEC_INFO names the apiVersion");
    ok(strstr(slurp(scratch("exec-info")), "\"interactive\":false"),
       "KUBERNETES_EXEC_INFO says the session is not interactive");
    ok(strstr(slurp(scratch("exec-info")),
              "\"certificate-authority-data\":\"Y2EtYnl0ZXM=\""),
       "provideClusterInfo passes the cluster's CA");

    kube_auth_free(auth);
    kube_config_free(config);
    unlink(scratch("runs"));
    unlink(scratch("args"));
    unlink(scratch("exec-info"));
}

static void
test_exec_plugin_failure(void)
{
    struct kube_credential cred;
    struct kube_config *config;
    struct kube_auth *auth;
    char err[512];

    config = load(data("exec.yaml"), "failing", err, sizeof(err));
    ok(config, "exec.yaml with --context failing loads");
    if (!config)
        return;
    kube_auth_new(config, &auth);
    err[0] = '\0';
    is_int(kube_auth_get(auth, &cred, err, sizeof(err)), -ENOKEY,
           "a failing plugin gives no credential");
    is_str(err, "false: exited with status 1",
           "the message names the plugin and its exit status");
    kube_auth_free(auth);
    kube_config_free(config);
}

static void
test_bearer_header(void)
{
    struct kube_options opt = {.kubeconfig = data("basic.yaml")};
    struct curl_slist *headers = NULL, *h;
    struct kube_client *client;
    const char *found = NULL;
    char err[512];
    CURL *curl;

    if (kube_client_new(&opt, &client, err, sizeof(err)) < 0) {
        ok(0, "basic.yaml makes a client");
        printf("#   %s\n", err);
        return;
    }
    curl = curl_easy_init();
    is_int(kube_prepare_easy(client, curl, "GET", "/api", &headers), 0,
           "kube_prepare_easy succeeds");
    for (h = headers; h; h = h->next)
        if (strncmp(h->data, "Authorization:", 14) == 0)
            found = h->data;
    is_str(found, "Authorization: Bearer dev-token",
           "the token goes into an Authorization header");
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    kube_client_free(client);
}

/* Loading kubeconfig must fail with the given errno and message. */
static void
fails_with(const char *kubeconfig, const char *context, int want_errno,
           const char *want, const char *desc)
{
    struct kube_options opt = {.kubeconfig = kubeconfig, .context = context};
    struct kube_config *config = NULL;
    char err[512] = "";
    int r;

    r = kube_config_load(&opt, &config, err, sizeof(err));
    is_int(r, -want_errno, desc);
    is_str(err, want, desc);
    kube_config_free(config);
}

static void
test_broken_configurations(void)
{
    char want[PATH_MAX + 128];

    snprintf(want, sizeof(want),
             "%s: line 7: mapping values are not allowed in this context",
             data("bad-yaml.yaml"));
    fails_with(data("bad-yaml.yaml"), NULL, EBADMSG, want,
               "bad YAML names the file, the line and libyaml's reason");

    snprintf(want, sizeof(want), "%s: context \"nope\" not found",
             data("basic.yaml"));
    fails_with(data("basic.yaml"), "nope", ENOENT, want,
               "a missing context is named");

    snprintf(want, sizeof(want), "%s: line 5: cluster \"empty\" has no server",
             data("no-server.yaml"));
    fails_with(data("no-server.yaml"), NULL, EINVAL, want,
               "a cluster without server is named with its line");

    snprintf(want, sizeof(want), "%s: Is a directory", data("nested"));
    fails_with(data("nested"), NULL, EISDIR, want,
               "an unreadable kubeconfig names the file and the reason");

    snprintf(want, sizeof(want), "%s: No such file or directory",
             data("absent.yaml"));
    fails_with(data("absent.yaml"), NULL, ENOENT, want,
               "a missing --kubeconfig is an error, not skipped");

    snprintf(
        want, sizeof(want), "%s: line 9: %s", data("auth-provider.yaml"),
        "user \"gcp\": auth-provider is not supported, use an exec plugin");
    fails_with(data("auth-provider.yaml"), NULL, EOPNOTSUPP, want,
               "an auth-provider user is refused, not ignored");
}

static void
test_parse_refuses_bad_base64(void)
{
    static const char text[] =
        "clusters:\n"
        "- name: c\n"
        "  cluster:\n"
        "    certificate-authority-data: '!!not base64!!'\n";
    struct kubeconfig_file *file = NULL;
    char err[256] = "";

    is_int(kubeconfig_parse(text, sizeof(text) - 1, "/x/config", &file, err,
                            sizeof(err)),
           -EINVAL, "invalid base64 is an error");
    is_str(err,
           "/x/config: line 4: certificate-authority-data is not valid base64",
           "the message names the field and its line");
    kubeconfig_file_free(file);
}

static void
find_data_dir(void)
{
    const char *srcdir = getenv("srcdir");
    char *cwd = getcwd(NULL, 0);
    int n;

    if (!srcdir || !srcdir[0])
        srcdir = ".";
    if (srcdir[0] == '/')
        n = asprintf(&data_dir, "%s/t/data/kubeconfig", srcdir);
    else
        n = asprintf(&data_dir, "%s/%s/t/data/kubeconfig", cwd, srcdir);
    free(cwd);
    if (n < 0) {
        printf("Bail out! cannot find t/data/kubeconfig\n");
        exit(1);
    }
}

int
main(void)
{
    const char *tmp = getenv("TMPDIR");

    find_data_dir();
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/kubeconfig-t.XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        printf("Bail out! mkdtemp() failed\n");
        return 1;
    }
    clean_environment();

    test_server_token_and_ca_file();
    test_context_override_and_data_fields();
    test_insecure_flag();
    test_kubeconfig_merge();
    test_relative_paths();
    test_token_file_is_reread();
    test_in_cluster();
    test_in_cluster_token_and_ca();
    test_context_skips_in_cluster();
    test_exec_plugin_cache();
    test_exec_plugin_failure();
    test_bearer_header();
    test_broken_configurations();
    test_parse_refuses_bad_base64();

    rmdir(tmp_dir);
    free(data_dir);
    return tap_done();
}
