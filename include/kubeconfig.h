/*
 * Inside the Kubernetes client: the connection settings that kubeconfig
 * files or the in-cluster service account resolve to (kubeconfig.c), and
 * the credentials derived from them (kube_auth.c).  Only kube.c, the unit
 * test and the fuzz target use this.
 */
#ifndef EC_KUBECONFIG_H
#define EC_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "kube.h"

/* Bytes decoded from a *-data field or read from a file; may hold NULs. */
struct kube_blob {
    unsigned char *data;
    size_t len;
};

/* A user's exec credential plugin (client.authentication.k8s.io). */
struct kube_exec {
    char *api_version;
    char *command; /* relative with a '/' is made absolute, as kubectl does */
    char **args;   /* NULL-terminated */
    char **env;    /* "NAME=value", NULL-terminated */
    char *interactive_mode;
    bool provide_cluster_info;
};

/* Where to connect and how to authenticate, after resolution. */
struct kube_config {
    char *source; /* the file(s) or directory it came from, for messages */
    char *server; /* no trailing slash */
    char *namespace;
    struct kube_blob ca; /* empty: the system's CA certificates */
    bool insecure;       /* insecure-skip-tls-verify */
    char *token;
    char *token_file; /* absolute; re-read before each request */
    struct kube_blob client_cert;
    struct kube_blob client_key;
    struct kube_exec *exec;
};

/* One parsed kubeconfig file. */
struct kubeconfig_file;

/*
 * Parses one kubeconfig held in memory; path names it in messages and
 * anchors its relative paths.  Decodes the *-data fields but reads no
 * other file.
 */
int kubeconfig_parse(const char *data, size_t len, const char *path,
                     struct kubeconfig_file **out, char *err, size_t errlen);

void kubeconfig_file_free(struct kubeconfig_file *file);

/* Finds and resolves the configuration; see kube_client_new(). */
int kube_config_load(const struct kube_options *opt, struct kube_config **out,
                     char *err, size_t errlen);

void kube_config_free(struct kube_config *config);

/* Reads a whole file of at most max bytes, NUL-terminated. */
int kube_read_file(const char *path, size_t max, char **data, size_t *len);

/* A credential to present now; the pointers stay valid until the next
 * kube_auth call. */
struct kube_credential {
    const char *token; /* NULL: no bearer token */
    const struct kube_blob *client_cert;
    const struct kube_blob *client_key;
};

struct kube_auth;

/* The config must outlive the kube_auth. */
int kube_auth_new(const struct kube_config *config, struct kube_auth **out);

void kube_auth_free(struct kube_auth *auth);

/*
 * Gives the credential to use for the next request: re-reads a token file,
 * runs the exec plugin when its credential is missing or expired.
 */
int kube_auth_get(struct kube_auth *auth, struct kube_credential *cred,
                  char *err, size_t errlen);

/* After a 401: forgets what may be stale; true if a retry can help. */
bool kube_auth_refresh(struct kube_auth *auth);

#endif
