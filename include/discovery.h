/*
 * API discovery for one resource: whether the API server serves it, under
 * which kind, namespaced or not, and whether it can be listed and watched.
 * Asks /api/v1 for the core group and /apis/GROUP/VERSION for the others.
 */
#ifndef EC_DISCOVERY_H
#define EC_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>

struct kube_client;

/* Kinds are CamelCase identifiers, far shorter than this. */
#define DISCOVERY_KIND_MAX 128

struct api_resource {
    char kind[DISCOVERY_KIND_MAX + 1];
    bool namespaced;
    bool listable; /* its verbs include both list and watch */
};

/* What went wrong, for the caller's log line and its decision. */
struct discovery_failure {
    long status;       /* HTTP status, 0 for a transport failure */
    long retry_after;  /* seconds, -1 if absent */
    char message[256]; /* the server's or the transport's reason */
};

/*
 * Looks resource up in group/version (group "" is the core group).
 * Returns 0 with out filled; -ENOENT when it is not served (404 or absent
 * from the list); -EACCES for 401 or 403; -EBADMSG for a response that is
 * not a resource list; -EAGAIN for another HTTP status; the transport's
 * negative errno (kube.h) otherwise, -ECANCELED included.  failure says
 * more for every error.
 */
int discovery_find(struct kube_client *client, const char *group,
                   const char *version, const char *resource,
                   struct api_resource *out, struct discovery_failure *failure);

#endif
