/*
 * HTTP to the Kubernetes API server with libcurl: one easy handle per
 * client so that requests reuse one HTTP/2 connection, plain requests with
 * a single retry after a 401, and streaming GETs for watches.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kube.h"
#include "metrics.h"
#include "kubeconfig.h"
#include "log.h"

#ifdef PACKAGE_VERSION
#define USER_AGENT "event-controller/" PACKAGE_VERSION
#else
#define USER_AGENT "event-controller/dev"
#endif

/* Lists of thousands of objects are megabytes; more is a runaway. */
#define BODY_MAX (256L * 1024 * 1024)
/* client-go's dialer: 30 s to connect, TCP keepalive every 30 s. */
#define CONNECT_TIMEOUT   30L
#define KEEPALIVE_SECONDS 30L
/*
 * The API server ends non-watch requests after 60 s (--request-timeout),
 * so 90 s without a byte means the connection is dead.
 */
#define REQUEST_STALL_SECONDS 90L

_Static_assert(sizeof(((struct kube_response *)0)->error) >= CURL_ERROR_SIZE,
               "resp->error must hold a curl error buffer");

struct kube_client {
    struct kube_config *config;
    struct kube_auth *auth;
    CURL *curl;
    char auth_error[256]; /* why the last credential could not be had */
};

/* One transfer in progress. */
struct transfer {
    CURL *curl;
    struct kube_response *resp;
    kube_data_cb cb;
    void *ctx;
    int cb_result; /* what cb returned to abort */
    int error;     /* a failure of our own: -ENOMEM, -EFBIG */
    size_t capacity;
};

static volatile sig_atomic_t *cancel_flag;

void
kube_set_cancel_flag(volatile sig_atomic_t *flag)
{
    cancel_flag = flag;
}

/*
 * Called by libcurl at least once a second, which bounds the delay of a
 * cancel; and the moment to publish the metrics, which on a quiet watch
 * would otherwise wait for its next data.
 */
static int
progress_cb(void *data, curl_off_t dltotal, curl_off_t dlnow,
            curl_off_t ultotal, curl_off_t ulnow)
{
    (void)data, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    metrics_publish(false);
    return cancel_flag && *cancel_flag;
}

/* Appends to resp->body, keeping it NUL-terminated. */
static int
append_body(struct transfer *t, const char *data, size_t len)
{
    struct kube_response *resp = t->resp;
    size_t need = resp->body_len + len + 1;
    char *bigger;

    if (need > BODY_MAX)
        return -EFBIG;
    if (need > t->capacity) {
        t->capacity = t->capacity ? t->capacity : 16384;
        while (t->capacity < need)
            t->capacity *= 2;
        bigger = realloc(resp->body, t->capacity);
        if (!bigger)
            return -ENOMEM;
        resp->body = bigger;
    }
    memcpy(resp->body + resp->body_len, data, len);
    resp->body_len += len;
    resp->body[resp->body_len] = '\0';
    return 0;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t len = size * nmemb;
    long status = 0;

    /* Watch events stream only on success; errors are a Status body. */
    if (t->cb) {
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            t->cb_result = t->cb(data, len, t->ctx);
            return t->cb_result ? 0 : len;
        }
    }
    t->error = append_body(t, data, len);
    return t->error ? 0 : len;
}

/* Sets TLS options from the config and the current credential. */
static int
set_tls(CURL *curl, const struct kube_config *config,
        const struct kube_credential *cred)
{
    struct curl_blob blob = {.flags = CURL_BLOB_COPY};
    CURLcode c = CURLE_OK;

    /* A cluster CA replaces the system's CAs, as in client-go. */
    if (config->ca.len > 0) {
        blob.data = config->ca.data;
        blob.len = config->ca.len;
        c |= curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
        c |= curl_easy_setopt(curl, CURLOPT_CAINFO, NULL);
        c |= curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }
    if (config->insecure) {
        c |= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        c |= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (cred->client_cert && cred->client_key) {
        blob.data = cred->client_cert->data;
        blob.len = cred->client_cert->len;
        c |= curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &blob);
        c |= curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        blob.data = cred->client_key->data;
        blob.len = cred->client_key->len;
        c |= curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &blob);
        c |= curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    return c == CURLE_OK ? 0 : -ENOMEM;
}

/* Sets the method; GET and HEAD have their own options in libcurl. */
static CURLcode
set_method(CURL *curl, const char *method)
{
    if (strcmp(method, "GET") == 0)
        return curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "HEAD") == 0)
        return curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    return curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
}

/* Appends the Authorization header; the token is wiped from our copy. */
static int
add_bearer(struct curl_slist **headers, const char *token)
{
    struct curl_slist *more;
    char *line;

    if (asprintf(&line, "Authorization: Bearer %s", token) < 0)
        return -ENOMEM;
    more = curl_slist_append(*headers, line);
    explicit_bzero(line, strlen(line));
    free(line);
    if (!more)
        return -ENOMEM;
    *headers = more;
    return 0;
}

static int
add_header(struct curl_slist **headers, const char *line)
{
    struct curl_slist *more = curl_slist_append(*headers, line);

    if (!more)
        return -ENOMEM;
    *headers = more;
    return 0;
}

/* Options every transfer gets, whatever its credential. */
static CURLcode
set_common(CURL *curl)
{
    CURLcode c = CURLE_OK;

    c |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    c |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    c |= curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
                          (long)CURL_HTTP_VERSION_2TLS);
    c |= curl_easy_setopt(curl, CURLOPT_USERAGENT, USER_AGENT);
    c |= curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    c |= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
    c |= curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    c |= curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, KEEPALIVE_SECONDS);
    c |= curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, KEEPALIVE_SECONDS);
    c |= curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
    c |= curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    return c;
}

static int
prepare(struct kube_client *client, CURL *curl, const char *method,
        const char *path, struct curl_slist **headers)
{
    struct kube_credential cred;
    char *url;
    int r;

    r = kube_auth_get(client->auth, &cred, client->auth_error,
                      sizeof(client->auth_error));
    if (r < 0)
        return r;
    if (asprintf(&url, "%s%s", client->config->server, path) < 0)
        return -ENOMEM;
    r = curl_easy_setopt(curl, CURLOPT_URL, url) == CURLE_OK ? 0 : -ENOMEM;
    free(url);

    if (r == 0 &&
        (set_common(curl) != CURLE_OK || set_method(curl, method) != CURLE_OK))
        r = -ENOMEM;
    if (r == 0)
        r = set_tls(curl, client->config, &cred);
    if (r == 0)
        r = add_header(headers, "Accept: application/json");
    /* Keep libcurl from waiting for a 100 Continue on large bodies. */
    if (r == 0)
        r = add_header(headers, "Expect:");
    if (r == 0 && cred.token)
        r = add_bearer(headers, cred.token);
    return r;
}

int
kube_prepare_easy(struct kube_client *client, void *curl_easy,
                  const char *method, const char *path,
                  struct curl_slist **headers)
{
    return prepare(client, curl_easy, method, path, headers);
}

const char *
kube_client_auth_error(const struct kube_client *client)
{
    return client->auth_error;
}

/* The errno for a libcurl failure, as kube.h promises them. */
static int
curl_errno(CURLcode code)
{
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
        return -EHOSTUNREACH;
    case CURLE_ABORTED_BY_CALLBACK:
        return -ECANCELED;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CLIENTCERT:
        return -EPROTO;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EINVAL;
    default:
        return -ECONNRESET;
    }
}

/* Retry-After in seconds; see kube.h. */
long
kube_retry_after(void *curl)
{
    struct curl_header *header;
    char *end;
    long seconds;

    if (curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &header) !=
        CURLHE_OK)
        return -1;
    errno = 0;
    seconds = strtol(header->value, &end, 10);
    if (errno || end == header->value || *end || seconds < 0)
        return -1;
    return seconds;
}

/* Sets the body of a request; methods other than GET and HEAD need one. */
static CURLcode
set_body(CURL *curl, const char *method, const char *body, size_t len)
{
    CURLcode c = CURLE_OK;

    if (!body && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return CURLE_OK;
    c |= curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                          (curl_off_t)(body ? len : 0));
    c |= curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
    return c;
}

/* Turns the outcome of curl_easy_perform into kube.h's return value. */
static int
finish(struct transfer *t, CURLcode code)
{
    struct kube_response *resp = t->resp;

    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->retry_after = kube_retry_after(t->curl);
    if (code == CURLE_WRITE_ERROR && t->cb_result)
        return t->cb_result;
    if (code == CURLE_WRITE_ERROR && t->error) {
        snprintf(resp->error, sizeof(resp->error), "response body: %s",
                 strerror(-t->error));
        return t->error;
    }
    if (code != CURLE_OK) {
        if (!resp->error[0])
            snprintf(resp->error, sizeof(resp->error), "%s",
                     curl_easy_strerror(code));
        return curl_errno(code);
    }
    if (!resp->body)
        resp->body = calloc(1, 1);
    return resp->body ? 0 : -ENOMEM;
}

/* One HTTP exchange on the client's handle. */
static int
perform(struct kube_client *client, const char *method, const char *path,
        const char *content_type, const char *body, size_t body_len,
        long stall_seconds, kube_data_cb cb, void *ctx,
        struct kube_response *resp)
{
    struct transfer t = {
        .curl = client->curl, .resp = resp, .cb = cb, .ctx = ctx};
    struct curl_slist *headers = NULL;
    char line[256];
    CURLcode c = CURLE_OK;
    int r;

    memset(resp, 0, sizeof(*resp));
    resp->retry_after = -1;

    log_info(3, "%s %s", method, path);

    /* Reset keeps the live connection, so HTTP/2 is reused. */
    curl_easy_reset(client->curl);
    r = prepare(client, client->curl, method, path, &headers);
    if (r == 0 && content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", content_type);
        r = add_header(&headers, line);
    }
    if (r < 0) {
        curl_slist_free_all(headers);
        snprintf(resp->error, sizeof(resp->error), "%s",
                 r == -ENOKEY ? client->auth_error : strerror(-r));
        return r;
    }

    /*
     * A watch is asked for without compression.  The API server gzips a
     * watch whose first events are large (a streaming list, a watch
     * without resourceVersion) and flushes each batch as a gzip member of
     * its own; libcurl stops at the end of the first member and fails the
     * transfer with a write error.  A plain watch is sent uncompressed
     * anyway.
     */
    if (cb)
        c |= curl_easy_setopt(client->curl, CURLOPT_ACCEPT_ENCODING, NULL);
    c |= set_body(client->curl, method, body, body_len);
    c |= curl_easy_setopt(client->curl, CURLOPT_HTTPHEADER, headers);
    c |= curl_easy_setopt(client->curl, CURLOPT_ERRORBUFFER, resp->error);
    c |= curl_easy_setopt(client->curl, CURLOPT_WRITEFUNCTION, write_cb);
    c |= curl_easy_setopt(client->curl, CURLOPT_WRITEDATA, &t);
    if (stall_seconds > 0) {
        c |= curl_easy_setopt(client->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        c |= curl_easy_setopt(client->curl, CURLOPT_LOW_SPEED_TIME,
                              stall_seconds);
    }
    /* Setting options fails only for want of memory. */
    if (c == CURLE_OK)
        c = curl_easy_perform(client->curl);
    else
        c = CURLE_OUT_OF_MEMORY;
    curl_slist_free_all(headers);

    /* The handle must not point at resp or t once we return. */
    curl_easy_setopt(client->curl, CURLOPT_ERRORBUFFER, NULL);
    r = finish(&t, c);
    if (r != 0)
        kube_response_free(resp);
    return r;
}

int
kube_request(struct kube_client *client, const char *method, const char *path,
             const char *content_type, const char *body, size_t body_len,
             struct kube_response *resp)
{
    int r;

    r = perform(client, method, path, content_type, body, body_len,
                REQUEST_STALL_SECONDS, NULL, NULL, resp);
    if (r < 0 || resp->status != 401 || !kube_auth_refresh(client->auth))
        return r;

    /* A rotated token or an expired plugin credential: one more try. */
    log_info(2, "%s %s: 401 Unauthorized, retrying with a fresh credential",
             method, path);
    kube_response_free(resp);
    return perform(client, method, path, content_type, body, body_len,
                   REQUEST_STALL_SECONDS, NULL, NULL, resp);
}

int
kube_stream(struct kube_client *client, const char *path, long stall_seconds,
            kube_data_cb cb, void *ctx, struct kube_response *resp)
{
    int r;

    r = perform(client, "GET", path, NULL, NULL, 0, stall_seconds, cb, ctx,
                resp);
    if (r < 0 || resp->status != 401 || !kube_auth_refresh(client->auth))
        return r;

    log_info(2, "GET %s: 401 Unauthorized, retrying with a fresh credential",
             path);
    kube_response_free(resp);
    return perform(client, "GET", path, NULL, NULL, 0, stall_seconds, cb, ctx,
                   resp);
}

void
kube_response_free(struct kube_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

int
kube_client_new(const struct kube_options *opt, struct kube_client **out,
                char *err, size_t errlen)
{
    struct kube_client *client;
    int r;

    client = calloc(1, sizeof(*client));
    if (!client) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r = kube_config_load(opt, &client->config, err, errlen);
    if (r < 0) {
        free(client);
        return r;
    }

    if (client->config->insecure)
        log_warn(
            "TLS verification of %s is off: insecure-skip-tls-verify in %s",
            client->config->server, client->config->source);

    r = kube_auth_new(client->config, &client->auth);
    if (r == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        r = -ENOMEM;
    else if (r == 0 && !(client->curl = curl_easy_init())) {
        curl_global_cleanup();
        r = -ENOMEM;
    }
    if (r < 0) {
        snprintf(err, errlen, "cannot set up libcurl: %s", strerror(-r));
        kube_auth_free(client->auth);
        kube_config_free(client->config);
        free(client);
        return r;
    }
    *out = client;
    return 0;
}

void
kube_client_free(struct kube_client *client)
{
    if (!client)
        return;
    curl_easy_cleanup(client->curl);
    curl_global_cleanup();
    kube_auth_free(client->auth);
    kube_config_free(client->config);
    free(client);
}

const char *
kube_client_namespace(const struct kube_client *client)
{
    return client->config->namespace;
}

const char *
kube_client_server(const struct kube_client *client)
{
    return client->config->server;
}

bool
kube_client_uses_exec_plugin(const struct kube_client *client)
{
    return client->config->exec != NULL;
}
