/*
 * The master's HTTP endpoint: /healthz, /readyz and /metrics.
 */
#ifndef EC_HTTP_H
#define EC_HTTP_H

struct master;
struct http_server;

/*
 * Listens on address (host:port, :port, [v6]:port) and serves from the
 * master's event loop.  Returns 0 or -errno.
 */
int http_start(struct master *m, const char *address, struct http_server **out);
void http_stop(struct http_server *h);

#endif
