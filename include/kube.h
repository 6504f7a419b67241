/*
 * The Kubernetes client: finds the API server and credentials the way
 * controllers do (kubeconfig, $KUBECONFIG, in-cluster service account,
 * ~/.kube/config), and makes plain and streaming HTTP requests to it.
 *
 * One client holds one connection (HTTP/2 over TLS) that successive
 * requests reuse.  A client is not safe to share between threads.
 */
#ifndef EC_KUBE_H
#define EC_KUBE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct curl_slist;
struct kube_client;

struct kube_options {
    const char *kubeconfig; /* --kubeconfig or NULL */
    const char *context;    /* --context or NULL */
};

/*
 * Resolution order as controllers do it: options->kubeconfig; else
 * $KUBECONFIG (colon-separated, merged like kubectl: for each named
 * cluster, user and context the first file that defines it wins;
 * current-context from the first file that sets it); else the in-cluster
 * service account (KUBERNETES_SERVICE_HOST/PORT and the files in
 * /var/run/secrets/kubernetes.io/serviceaccount, or $EC_SERVICEACCOUNT_DIR);
 * else ~/.kube/config.  A --context skips the in-cluster step.
 *
 * On failure fills err with one line naming the file and the reason and
 * returns a negative errno.
 */
int kube_client_new(const struct kube_options *opt, struct kube_client **out,
                    char *err, size_t errlen);

void kube_client_free(struct kube_client *client);

/* The context's namespace, the in-cluster namespace, or "default". */
const char *kube_client_namespace(const struct kube_client *client);

/* The API server's base URL, without a trailing slash. */
const char *kube_client_server(const struct kube_client *client);

/*
 * Whether credentials come from an exec plugin, which the client runs as
 * a child process: a sandbox must then allow fork and exec.
 */
bool kube_client_uses_exec_plugin(const struct kube_client *client);

struct kube_response {
    long status; /* HTTP status, 0 if none */
    char *body;  /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
    long retry_after; /* seconds from Retry-After, -1 if absent */
    char error[256];  /* transport error text */
};

/*
 * One request; path includes the query, body may be NULL.  Returns 0 when
 * an HTTP exchange completed (any status), a negative errno on transport
 * failure with resp->error set: -ECONNREFUSED, -ETIMEDOUT, -EPROTO (TLS),
 * -ECONNRESET, -ECANCELED (cancel flag), -ENOKEY (no credential).
 * On 401 with an exec plugin or a token file the credential is refreshed
 * and the request retried once, as client-go does.
 */
int kube_request(struct kube_client *client, const char *method,
                 const char *path, const char *content_type, const char *body,
                 size_t body_len, struct kube_response *resp);

void kube_response_free(struct kube_response *resp);

/*
 * Gets one chunk of a streaming response, not NUL-terminated.  A nonzero
 * return aborts the transfer and becomes kube_stream's return value.
 */
typedef int (*kube_data_cb)(const char *data, size_t len, void *ctx);

/*
 * Streaming GET (watch).  While the status is 2xx, data goes to cb as it
 * arrives; any other status has its body collected into resp->body.  If no
 * byte arrives for stall_seconds (0: no limit) the transfer fails with
 * -ETIMEDOUT.
 */
int kube_stream(struct kube_client *client, const char *path,
                long stall_seconds, kube_data_cb cb, void *ctx,
                struct kube_response *resp);

/*
 * A flag, set by a signal handler, that aborts any transfer in progress
 * within about a second (the transfer returns -ECANCELED).
 */
void kube_set_cancel_flag(volatile sig_atomic_t *flag);

/*
 * For a libcurl multi user: sets URL, method, TLS, a fresh credential and
 * the common headers on an easy handle.  The headers are appended to
 * *headers, which the caller frees after the transfer.  Fails with -ENOKEY
 * when no credential can be had (an exec plugin failed, say).
 */
int kube_prepare_easy(struct kube_client *client, void *curl_easy,
                      const char *method, const char *path,
                      struct curl_slist **headers);

/*
 * The Retry-After of a finished transfer in seconds, -1 when absent, in
 * the HTTP-date form or not a count of seconds.
 */
long kube_retry_after(void *curl_easy);

/* Why kube_prepare_easy last failed with -ENOKEY, for its caller's log. */
const char *kube_client_auth_error(const struct kube_client *client);

#endif
