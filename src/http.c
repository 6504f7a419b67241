/*
 * The master's HTTP endpoint, with libmicrohttpd: /healthz, /readyz and
 * /metrics.
 *
 * libmicrohttpd runs inside the master's event loop, not in a thread of
 * its own: its epoll fd is one more source on the loop and MHD_run never
 * blocks.  So the handlers read the master's state without locks, and
 * /healthz answers only while the loop turns: a hung loop leaves the probe
 * without an answer, and the probe's timeout fails it.  It also keeps the
 * master single-threaded, which PR_SET_PDEATHSIG of the children needs
 * (the signal follows the thread that forked, not the process).
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "master.h"
#include "metrics_master.h"

/* A scraper or a probe needs few connections, none of them slow. */
#define HTTP_CONNECTIONS_MAX 32
#define HTTP_TIMEOUT_S       10

struct http_server {
    struct MHD_Daemon *daemon;
    sd_event_source *io, *timer;
    int listen_fd;
};

/* Splits host:port, [v6]:port or :port; host NULL means any address. */
static int
split_address(const char *address, char *host, size_t size, const char **port)
{
    const char *colon, *start = address, *end;

    if (address[0] == '[') {
        end = strchr(address, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        start = address + 1;
        colon = end + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon)
            return -EINVAL;
        end = colon;
    }
    if ((size_t)(end - start) >= size)
        return -EINVAL;
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    *port = colon + 1;
    return 0;
}

/* A listening socket at address; returns the fd or -errno. */
static int
listen_at(const char *address)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai;
    char host[256];
    const char *port;
    int fd, one = 1, r;

    if (split_address(address, host, sizeof(host), &port) < 0)
        return -EINVAL;
    /* ":port" listens on every address, IPv6 and IPv4 alike. */
    if (host[0] == '\0')
        hints.ai_family = AF_INET6;
    r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (r != 0)
        return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;

    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        r = -errno;
        close(fd);
        goto out;
    }
    r = fd;
out:
    freeaddrinfo(ai);
    return r;
}

/* Logs where the socket listens, so that a port of 0 can be found. */
static void
log_listening(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    log_info(1, "serving /metrics, /healthz and /readyz at %s%s%s:%s",
             ss.ss_family == AF_INET6 ? "[" : "", host,
             ss.ss_family == AF_INET6 ? "]" : "", port);
}

/* Queues a response of text, copied. */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned code, const char *type, char *body,
      size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    ret = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned code, const char *text)
{
    char *copy;

    if (asprintf(&copy, "%s\n", text) < 0)
        return MHD_NO;
    return reply(conn, code, "text/plain; charset=utf-8", copy, strlen(copy),
                 MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **state)
{
    struct master *m = cls;
    char reason[160];
    size_t len;
    char *body;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "only GET and HEAD");
    if (strcmp(url, "/healthz") == 0)
        return reply_text(conn, MHD_HTTP_OK, "ok");
    if (strcmp(url, "/readyz") == 0) {
        if (master_ready(m, reason, sizeof(reason)))
            return reply_text(conn, MHD_HTTP_OK, reason);
        return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, reason);
    }
    if (strcmp(url, "/metrics") == 0) {
        body = metrics_render(m, &len);
        if (!body)
            return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                              "out of memory");
        return reply(conn, MHD_HTTP_OK,
                     "text/plain; version=0.0.4; "
                     "charset=utf-8",
                     body, len, MHD_RESPMEM_MUST_FREE);
    }
    return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* Arms the timer for libmicrohttpd's next connection timeout. */
static void
http_arm(struct http_server *h)
{
    MHD_UNSIGNED_LONG_LONG ms;

    if (MHD_get_timeout(h->daemon, &ms) != MHD_YES) {
        sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        return;
    }
    sd_event_source_set_time_relative(h->timer, ms * 1000);
    sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static int
on_http_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct http_server *h = userdata;

    MHD_run(h->daemon);
    http_arm(h);
    return 0;
}

static int
on_http_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    return on_http_io(s, -1, 0, userdata);
}

/* Puts libmicrohttpd's epoll fd and timeout on the master's loop. */
static int
http_attach(struct master *m, struct http_server *h)
{
    const union MHD_DaemonInfo *info;
    int r;

    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info)
        return -EINVAL;
    r = sd_event_add_io(m->event, &h->io, info->epoll_fd, EPOLLIN, on_http_io,
                        h);
    if (r >= 0)
        r = sd_event_add_time(m->event, &h->timer, CLOCK_MONOTONIC, UINT64_MAX,
                              0, on_http_timer, h);
    if (r < 0)
        return r;
    sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
    return 0;
}

int
http_start(struct master *m, const char *address, struct http_server **out)
{
    struct http_server *h = calloc(1, sizeof(*h));
    int r;

    *out = NULL;
    if (!h)
        return -ENOMEM;
    h->listen_fd = listen_at(address);
    if (h->listen_fd < 0) {
        r = h->listen_fd;
        log_error("cannot listen at %s: %s, not serving /metrics there",
                  address, strerror(-r));
        free(h);
        return r;
    }
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, m,
        MHD_OPTION_LISTEN_SOCKET, h->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_END);
    r = h->daemon ? http_attach(m, h) : -EINVAL;
    if (r < 0) {
        log_error("cannot start the HTTP server at %s: %s, not serving "
                  "/metrics there",
                  address, strerror(-r));
        http_stop(h);
        return r;
    }
    log_listening(h->listen_fd);
    *out = h;
    return 0;
}

void
http_stop(struct http_server *h)
{
    if (!h)
        return;
    sd_event_source_disable_unref(h->io);
    sd_event_source_disable_unref(h->timer);
    /* libmicrohttpd closes the listening socket it was given. */
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    else if (h->listen_fd >= 0)
        close(h->listen_fd);
    free(h);
}
