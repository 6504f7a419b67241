/*
 * Positions kept in ConfigMaps (state_sync.h): restoring them into the
 * state folder when leadership starts, uploading them while it lasts.
 *
 * Only the leader writes the ConfigMaps, and it stops before another
 * replica may become leader (lease.h), so an update needs no
 * resourceVersion: a PUT replaces the ConfigMap, a POST makes it first.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "api_status.h"
#include "log.h"
#include "state_sync.h"
#include "store.h"

#define MANAGED_BY       "app.kubernetes.io/managed-by"
#define MANAGED_BY_VALUE "event-controller"

/*
 * The files of a key, as members of binaryData, in the order they are
 * read for an upload and written by a restore: the aggregation table of
 * earlier versions, which kept it in a file of its own, before the
 * snapshot, so that the counts are never ahead of the store
 * (position.c), and the journal last, which extends only the snapshot it
 * names (store_file.c).  Only the snapshot must exist.
 */
enum { MEMBER_AGGREGATE, MEMBER_STATE, MEMBER_JOURNAL, MEMBERS };
static const struct member {
    const char *name;   /* in binaryData */
    const char *suffix; /* of the file in the state folder */
} members[MEMBERS] = {
    [MEMBER_AGGREGATE] = {"aggregate.gz", ".aggregate"},
    [MEMBER_STATE] = {"state.gz", ".state"},
    [MEMBER_JOURNAL] = {"journal.gz", ".state.journal"},
};
/* The apiserver refuses a ConfigMap whose data exceed 1 MiB. */
#define CONFIGMAP_DATA_MAX (1024 * 1024)
/* A restored state expands at most this far; a store is far smaller. */
#define INFLATED_MAX (256L * 1024 * 1024)
/* "-state-" and 16 hex digits of the key's SHA-256. */
#define NAME_MAX_LEN 256

struct entry {
    char *key;
    unsigned long generation; /* the local save last uploaded */
    bool too_large;           /* warned that it does not fit */
};

struct state_sync {
    struct kube_client *client;
    char *namespace, *lease_name, *state_dir;
    struct entry *entries;
    size_t n_entries;
};

/* A byte buffer owned by its holder. */
struct bytes {
    unsigned char *p;
    size_t len;
};

int
state_sync_new(struct kube_client *client, const char *namespace,
               const char *lease_name, const char *state_dir,
               struct state_sync **out)
{
    struct state_sync *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    s->client = client;
    s->namespace = strdup(namespace);
    s->lease_name = strdup(lease_name);
    s->state_dir = strdup(state_dir);
    if (!s->namespace || !s->lease_name || !s->state_dir) {
        state_sync_free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void
state_sync_free(struct state_sync *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_entries; i++)
        free(s->entries[i].key);
    free(s->entries);
    free(s->namespace);
    free(s->lease_name);
    free(s->state_dir);
    free(s);
}

/* The entry of key, made on first use; NULL when out of memory. */
static struct entry *
entry_for(struct state_sync *s, const char *key)
{
    struct entry *v;

    for (size_t i = 0; i < s->n_entries; i++)
        if (strcmp(s->entries[i].key, key) == 0)
            return &s->entries[i];
    v = realloc(s->entries, (s->n_entries + 1) * sizeof(*v));
    if (!v)
        return NULL;
    s->entries = v;
    v = &s->entries[s->n_entries];
    *v = (struct entry){.key = strdup(key)};
    if (!v->key)
        return NULL;
    s->n_entries++;
    return v;
}

/*
 * The ConfigMap of key.  Keys hold "@" and "_", which names may not, and
 * may be long: a hash keeps the name valid; the key itself is in data.
 */
static void
configmap_name(const struct state_sync *s, const char *key, char *buf,
               size_t size)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[17];

    EVP_Digest(key, strlen(key), digest, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    snprintf(buf, size, "%s-state-%s", s->lease_name, hex);
}

/* A key as child_watcher_key makes them: one safe file name. */
static bool
key_valid(const char *key)
{
    size_t len = strlen(key);

    return len > 0 && len < NAME_MAX - 16 && key[0] != '.' &&
           strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789.-_@") == len;
}

/* Compresses in as gzip into out; 0 or -ENOMEM. */
static int
gzip_bytes(const struct bytes *in, struct bytes *out)
{
    z_stream z = {0};
    uLong bound;
    int r;

    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    bound = deflateBound(&z, in->len);
    out->p = malloc(bound);
    if (!out->p) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    z.next_in = in->p;
    z.avail_in = (uInt)in->len;
    z.next_out = out->p;
    z.avail_out = (uInt)bound;
    r = deflate(&z, Z_FINISH);
    out->len = z.total_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? 0 : -ENOMEM;
}

/* Grows out for inflate; false past INFLATED_MAX or out of memory. */
static bool
grow(struct bytes *out, size_t *size, z_stream *z)
{
    unsigned char *p;

    if (*size >= (size_t)INFLATED_MAX)
        return false;
    *size = *size ? *size * 2 : 64 * 1024;
    p = realloc(out->p, *size);
    if (!p)
        return false;
    out->p = p;
    z->next_out = p + z->total_out;
    z->avail_out = (uInt)(*size - z->total_out);
    return true;
}

/* Decompresses gzip in into out; 0 or -EBADMSG. */
static int
gunzip_bytes(const struct bytes *in, struct bytes *out)
{
    z_stream z = {0};
    size_t size = 0;
    int r = Z_OK;

    out->p = NULL;
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return -ENOMEM;
    z.next_in = in->p;
    z.avail_in = (uInt)in->len;
    while (r == Z_OK || r == Z_BUF_ERROR) {
        if (z.avail_out == 0 && !grow(out, &size, &z))
            break;
        r = inflate(&z, Z_NO_FLUSH);
        if (r == Z_BUF_ERROR && z.avail_in == 0)
            break;
    }
    out->len = z.total_out;
    inflateEnd(&z);
    if (r == Z_STREAM_END)
        return 0;
    free(out->p);
    out->p = NULL;
    return -EBADMSG;
}

/* The base64 text of in, malloc'd; NULL when out of memory. */
static char *
base64_encode(const struct bytes *in)
{
    char *text = malloc(4 * ((in->len + 2) / 3) + 1);

    if (text)
        EVP_EncodeBlock((unsigned char *)text, in->p, (int)in->len);
    return text;
}

/* Decodes base64 text into out; 0 or -EBADMSG. */
static int
base64_decode(const char *text, struct bytes *out)
{
    size_t len = strlen(text);
    int n;

    out->p = malloc(len / 4 * 3 + 3);
    if (!out->p)
        return -ENOMEM;
    n = len % 4 ? -1 : EVP_DecodeBlock(out->p, (unsigned char *)text, (int)len);
    if (n < 0) {
        free(out->p);
        out->p = NULL;
        return -EBADMSG;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    while (len > 0 && text[len - 1] == '=' && n > 0)
        len--, n--;
    out->len = (size_t)n;
    return 0;
}

/* Reads the whole file at path; -ENOENT when there is none. */
static int
read_bytes(const char *path, struct bytes *out)
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

    out->p = NULL;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (st.st_size > INFLATED_MAX) {
        r = -EFBIG;
        goto out;
    }
    out->p = malloc((size_t)st.st_size + 1);
    if (!out->p) {
        r = -ENOMEM;
        goto out;
    }
    n = read(fd, out->p, (size_t)st.st_size);
    if (n != st.st_size)
        r = n < 0 ? -errno : -EIO;
    out->len = (size_t)st.st_size;
out:
    close(fd);
    if (r < 0) {
        free(out->p);
        out->p = NULL;
    }
    return r;
}

/* Writes data to a new temporary file beside path; its name in *tmp. */
static int
write_temp(const char *path, const struct bytes *data, char **tmp)
{
    int fd, r = 0;

    if (asprintf(tmp, "%s.XXXXXX", path) < 0)
        return -ENOMEM;
    fd = mkostemp(*tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        free(*tmp);
        return r;
    }
    if (write(fd, data->p, data->len) != (ssize_t)data->len)
        r = -EIO;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0) {
        unlink(*tmp);
        free(*tmp);
    }
    return r;
}

/* Whether the file at path is a store snapshot that loads. */
static bool
snapshot_valid(const char *path, char *err, size_t errlen)
{
    struct store *store = store_new();
    char *resource_version = NULL;
    int r;

    if (!store) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    r = store_load(path, store, &resource_version, err, errlen);
    free(resource_version);
    store_free(store);
    return r == 0;
}

/*
 * Writes data as path: a temporary file, fsync, rename, fsync of the
 * folder.  A state file is checked before it replaces anything.
 */
static int
write_atomic(const char *dir, const char *path, const struct bytes *data,
             bool snapshot)
{
    char *tmp, err[256];
    int fd, r = write_temp(path, data, &tmp);

    if (r < 0)
        return r;
    if (snapshot && !snapshot_valid(tmp, err, sizeof(err))) {
        log_warn("the state for %s in the cluster does not load: %s", path,
                 err);
        r = -EBADMSG;
    } else if (rename(tmp, path) < 0) {
        r = -errno;
    }
    if (r < 0)
        unlink(tmp);
    free(tmp);
    if (r < 0)
        return r;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* The string at obj.key, or NULL. */
static const char *
get_string(struct json_object *obj, const char *key)
{
    struct json_object *v;

    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Writes one member of binaryData, gunzip'd, as the file at path. */
static int
restore_file(struct state_sync *s, const char *text, const char *path,
             bool snapshot)
{
    struct bytes gz = {0}, raw = {0};
    int r = base64_decode(text, &gz);

    if (r == 0)
        r = gunzip_bytes(&gz, &raw);
    if (r == 0)
        r = write_atomic(s->state_dir, path, &raw, snapshot);
    free(gz.p);
    free(raw.p);
    return r;
}

/* Restores the files of one ConfigMap; skips what is not ours. */
static int
restore_item(struct state_sync *s, struct json_object *item)
{
    struct json_object *metadata = NULL, *data = NULL, *binary = NULL;
    char want[NAME_MAX_LEN], path[PATH_MAX];
    const char *key, *text;
    int r = 0;

    json_object_object_get_ex(item, "metadata", &metadata);
    json_object_object_get_ex(item, "data", &data);
    json_object_object_get_ex(item, "binaryData", &binary);
    key = get_string(data, "key");
    if (!key || !key_valid(key))
        return 0;
    configmap_name(s, key, want, sizeof(want));
    if (!get_string(metadata, "name") ||
        strcmp(get_string(metadata, "name"), want) != 0)
        return 0;
    if (!get_string(binary, members[MEMBER_STATE].name))
        return 0;

    for (int i = 0; i < MEMBERS && r == 0; i++) {
        snprintf(path, sizeof(path), "%s/%s%s", s->state_dir, key,
                 members[i].suffix);
        text = get_string(binary, members[i].name);
        if (text)
            r = restore_file(s, text, path, i == MEMBER_STATE);
        else
            unlink(path);
    }
    if (r < 0) {
        log_warn("cannot restore the state of %s from ConfigMap %s/%s: %s, "
                 "resuming from the local state",
                 key, s->namespace, want, strerror(-r));
        return 0;
    }
    log_info(1, "restored the state of %s from ConfigMap %s/%s", key,
             s->namespace, want);
    return entry_for(s, key) ? 0 : -ENOMEM;
}

/* Restores every ConfigMap of a list body. */
static int
restore_list(struct state_sync *s, const char *body, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *list = NULL, *items;
    int r = 0;

    if (tok)
        list = json_tokener_parse_ex(tok, body, (int)len);
    json_tokener_free(tok);
    if (!list || !json_object_object_get_ex(list, "items", &items) ||
        !json_object_is_type(items, json_type_array)) {
        json_object_put(list);
        return -EBADMSG;
    }
    for (size_t i = 0; i < json_object_array_length(items) && r == 0; i++)
        r = restore_item(s, json_object_array_get_idx(items, i));
    json_object_put(list);
    return r;
}

/* Restores every key's state; see state_sync.h. */
int
state_sync_restore(struct state_sync *s)
{
    struct kube_response resp = {0};
    struct api_status status;
    char *path;
    int r;

    if (asprintf(&path,
                 "/api/v1/namespaces/%s/configmaps?labelSelector="
                 "app.kubernetes.io%%2Fmanaged-by%%3Devent-controller",
                 s->namespace) < 0)
        return -ENOMEM;
    r = kube_request(s->client, "GET", path, NULL, NULL, 0, &resp);
    free(path);
    if (r < 0) {
        log_warn("cannot list the ConfigMaps of positions in %s: %s, "
                 "retrying in %d s",
                 s->namespace, resp.error, STATE_SYNC_PERIOD_S);
        return r;
    }
    if (resp.status != 200) {
        api_status_parse(resp.body, resp.body_len, &status);
        log_warn("cannot list the ConfigMaps of positions in %s: HTTP %ld "
                 "%s, retrying in %d s",
                 s->namespace, resp.status, status.message,
                 STATE_SYNC_PERIOD_S);
        kube_response_free(&resp);
        return -EIO;
    }
    r = restore_list(s, resp.body, resp.body_len);
    if (r < 0)
        log_warn("cannot read the ConfigMaps of positions in %s: %s, "
                 "retrying in %d s",
                 s->namespace, strerror(-r), STATE_SYNC_PERIOD_S);
    kube_response_free(&resp);
    return r;
}

/* The ConfigMap of key holding its gzip'd files, those that exist. */
static char *
configmap_body(const struct state_sync *s, const char *key, const char *name,
               const struct bytes files[MEMBERS])
{
    struct json_object *cm = json_object_new_object();
    struct json_object *metadata = json_object_new_object();
    struct json_object *labels = json_object_new_object();
    struct json_object *data = json_object_new_object();
    struct json_object *binary = json_object_new_object();
    char *body = NULL;

    for (int i = 0; i < MEMBERS; i++) {
        char *text;

        if (!files[i].p)
            continue;
        text = base64_encode(&files[i]);
        if (!text)
            goto out;
        json_object_object_add(binary, members[i].name,
                               json_object_new_string(text));
        free(text);
    }
    json_object_object_add(cm, "apiVersion", json_object_new_string("v1"));
    json_object_object_add(cm, "kind", json_object_new_string("ConfigMap"));
    json_object_object_add(metadata, "name", json_object_new_string(name));
    json_object_object_add(metadata, "namespace",
                           json_object_new_string(s->namespace));
    json_object_object_add(labels, MANAGED_BY,
                           json_object_new_string(MANAGED_BY_VALUE));
    json_object_object_add(metadata, "labels", json_object_get(labels));
    json_object_object_add(cm, "metadata", json_object_get(metadata));
    json_object_object_add(data, "key", json_object_new_string(key));
    json_object_object_add(cm, "data", json_object_get(data));
    json_object_object_add(cm, "binaryData", json_object_get(binary));
    body = strdup(json_object_to_json_string_ext(cm, JSON_C_TO_STRING_PLAIN));
out:
    json_object_put(labels);
    json_object_put(metadata);
    json_object_put(data);
    json_object_put(binary);
    json_object_put(cm);
    return body;
}

/* PUT, or POST when it does not exist yet; the HTTP status or -errno. */
static long
configmap_write(struct state_sync *s, const char *name, const char *body,
                struct kube_response *resp)
{
    char path[512];
    int r;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s",
             s->namespace, name);
    r = kube_request(s->client, "PUT", path, "application/json", body,
                     strlen(body), resp);
    if (r == 0 && resp->status == 404) {
        kube_response_free(resp);
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps",
                 s->namespace);
        r = kube_request(s->client, "POST", path, "application/json", body,
                         strlen(body), resp);
    }
    return r < 0 ? r : resp->status;
}

/* Reads and gzips the files of key, in order; the state must exist. */
static int
gzip_files(struct state_sync *s, const char *key, struct bytes files[MEMBERS])
{
    char path[PATH_MAX];
    int r = 0;

    for (int i = 0; i < MEMBERS && r == 0; i++) {
        struct bytes raw = {0};

        snprintf(path, sizeof(path), "%s/%s%s", s->state_dir, key,
                 members[i].suffix);
        r = read_bytes(path, &raw);
        if (r == 0)
            r = gzip_bytes(&raw, &files[i]);
        else if (i != MEMBER_STATE)
            r = 0;
        free(raw.p);
    }
    return r;
}

/* Whether the files fit a ConfigMap; warns once when they stop fitting. */
static bool
fits(struct entry *e, const struct bytes files[MEMBERS])
{
    size_t size = strlen(e->key);

    for (int i = 0; i < MEMBERS; i++)
        size += files[i].len;
    if (size <= CONFIGMAP_DATA_MAX) {
        e->too_large = false;
        return true;
    }
    if (!e->too_large)
        log_warn("the state of %s is %zu bytes gzip'd, more than a ConfigMap "
                 "holds (1 MiB): keeping it on local disk only, so a new "
                 "leader resumes from an older position",
                 e->key, size);
    e->too_large = true;
    return false;
}

/* Uploads the files of key when they changed; see state_sync.h. */
int
state_sync_upload(struct state_sync *s, const char *key,
                  unsigned long generation)
{
    struct bytes files[MEMBERS] = {{0}};
    struct kube_response resp = {0};
    struct entry *e = entry_for(s, key);
    struct api_status status;
    char name[NAME_MAX_LEN], *body = NULL;
    long code;
    int r;

    if (!e)
        return -ENOMEM;
    if (e->generation == generation)
        return 0;
    r = gzip_files(s, key, files);
    if (r < 0)
        log_warn("cannot read the state of %s for its upload: %s, retrying "
                 "in %d s",
                 key, strerror(-r), STATE_SYNC_PERIOD_S);
    if (r < 0)
        goto out;
    if (!fits(e, files)) {
        e->generation = generation;
        goto out;
    }
    configmap_name(s, key, name, sizeof(name));
    body = configmap_body(s, key, name, files);
    if (!body) {
        r = -ENOMEM;
        goto out;
    }
    code = configmap_write(s, name, body, &resp);
    if (code == 200 || code == 201) {
        e->generation = generation;
    } else if (code < 0) {
        log_warn("cannot upload the state of %s to ConfigMap %s/%s: %s, "
                 "retrying in %d s",
                 key, s->namespace, name, resp.error, STATE_SYNC_PERIOD_S);
        r = (int)code;
    } else {
        api_status_parse(resp.body, resp.body_len, &status);
        log_warn("cannot upload the state of %s to ConfigMap %s/%s: HTTP "
                 "%ld %s, retrying in %d s",
                 key, s->namespace, name, code, status.message,
                 STATE_SYNC_PERIOD_S);
        r = -EIO;
    }
    kube_response_free(&resp);
out:
    free(body);
    for (int i = 0; i < MEMBERS; i++)
        free(files[i].p);
    return r;
}
