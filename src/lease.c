/*
 * The Lease protocol (lease.h): reading a Lease, deciding whose it is,
 * and writing it back with the resourceVersion that was read.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "api_status.h"
#include "lease.h"
#include "log.h"

#define LEASE_API "/apis/coordination.k8s.io/v1"

struct lease {
    struct kube_client *client;
    char *namespace, *name, *identity;
    char *path; /* of the Lease object */
    struct lease_observation observed;
};

/* Parses len bytes of JSON; NULL if they are not one whole value. */
static struct json_object *
json_parse(const char *text, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *json;

    if (!tok)
        return NULL;
    json = json_tokener_parse_ex(tok, text, (int)len);
    if (json && json_tokener_get_parse_end(tok) != len) {
        json_object_put(json);
        json = NULL;
    }
    json_tokener_free(tok);
    return json;
}

/* Copies the string at obj.key into buf; "" when absent or not a string. */
static void
copy_string(struct json_object *obj, const char *key, char *buf, size_t size)
{
    struct json_object *v;

    buf[0] = '\0';
    if (obj && json_object_object_get_ex(obj, key, &v) &&
        json_object_is_type(v, json_type_string))
        snprintf(buf, size, "%s", json_object_get_string(v));
}

/* The integer at obj.key; 0 when absent or not an integer. */
static long
get_long(struct json_object *obj, const char *key)
{
    struct json_object *v;

    if (obj && json_object_object_get_ex(obj, key, &v) &&
        json_object_is_type(v, json_type_int))
        return (long)json_object_get_int64(v);
    return 0;
}

/* Fills out from a parsed Lease; -EBADMSG if it is not one. */
static int
record_read(struct json_object *json, struct lease_record *out)
{
    struct json_object *metadata = NULL, *spec = NULL, *kind;

    memset(out, 0, sizeof(*out));
    if (!json_object_is_type(json, json_type_object) ||
        !json_object_object_get_ex(json, "kind", &kind) ||
        strcmp(json_object_get_string(kind), "Lease") != 0 ||
        !json_object_object_get_ex(json, "metadata", &metadata))
        return -EBADMSG;
    copy_string(metadata, "resourceVersion", out->resource_version,
                sizeof(out->resource_version));
    /* A Lease made by kubectl may have no spec yet: it is free. */
    json_object_object_get_ex(json, "spec", &spec);
    copy_string(spec, "holderIdentity", out->holder, sizeof(out->holder));
    copy_string(spec, "acquireTime", out->acquire_time,
                sizeof(out->acquire_time));
    copy_string(spec, "renewTime", out->renew_time, sizeof(out->renew_time));
    out->duration_s = get_long(spec, "leaseDurationSeconds");
    out->transitions = get_long(spec, "leaseTransitions");
    return 0;
}

/* Parses a Lease; see lease.h. */
int
lease_parse(const char *body, size_t len, struct lease_record *out)
{
    struct json_object *json = json_parse(body, len);
    int r;

    memset(out, 0, sizeof(*out));
    if (!json)
        return -EBADMSG;
    r = record_read(json, out);
    json_object_put(json);
    return r;
}

/* Whether the spec differs; the resourceVersion is not part of it. */
static bool
record_changed(const struct lease_record *a, const struct lease_record *b)
{
    return strcmp(a->holder, b->holder) != 0 ||
           strcmp(a->acquire_time, b->acquire_time) != 0 ||
           strcmp(a->renew_time, b->renew_time) != 0 ||
           a->duration_s != b->duration_s || a->transitions != b->transitions;
}

/* Notes what was read; see lease.h. */
void
lease_observe(struct lease_observation *o, const struct lease_record *record,
              double now)
{
    if (!o->seen || record_changed(&o->record, record))
        o->changed_at = now;
    o->seen = true;
    o->record = *record;
}

/*
 * Decides whose the Lease is.  As in client-go, expiry is measured from
 * when this candidate saw the record change, never from renewTime.
 */
enum lease_verdict
lease_decide(const struct lease_observation *o, const char *identity,
             double now)
{
    const struct lease_record *r = &o->record;
    long duration = r->duration_s > 0 ? r->duration_s : LEASE_DURATION_S;

    if (!o->seen || r->holder[0] == '\0')
        return LEASE_FREE;
    if (strcmp(r->holder, identity) == 0)
        return LEASE_OURS;
    if (now > o->changed_at + (double)duration)
        return LEASE_FREE;
    return LEASE_HELD;
}

void
lease_micro_time(char *buf, size_t size)
{
    struct timespec now;
    struct tm tm;
    char date[32];

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06ldZ", date, now.tv_nsec / 1000);
}

int
lease_new(struct kube_client *client, const char *namespace, const char *name,
          const char *identity, struct lease **out)
{
    struct lease *l = calloc(1, sizeof(*l));

    if (!l)
        return -ENOMEM;
    l->client = client;
    l->namespace = strdup(namespace);
    l->name = strdup(name);
    l->identity = strdup(identity);
    if (!l->namespace || !l->name || !l->identity ||
        asprintf(&l->path, LEASE_API "/namespaces/%s/leases/%s", namespace,
                 name) < 0) {
        l->path = NULL;
        lease_free(l);
        return -ENOMEM;
    }
    *out = l;
    return 0;
}

void
lease_free(struct lease *l)
{
    if (!l)
        return;
    free(l->namespace);
    free(l->name);
    free(l->identity);
    free(l->path);
    free(l);
}

/* Sets spec of the Lease json to record. */
static void
spec_set(struct json_object *json, const struct lease_record *r)
{
    struct json_object *spec = json_object_new_object();

    json_object_object_add(spec, "holderIdentity",
                           json_object_new_string(r->holder));
    json_object_object_add(spec, "leaseDurationSeconds",
                           json_object_new_int64(r->duration_s));
    if (r->acquire_time[0])
        json_object_object_add(spec, "acquireTime",
                               json_object_new_string(r->acquire_time));
    if (r->renew_time[0])
        json_object_object_add(spec, "renewTime",
                               json_object_new_string(r->renew_time));
    json_object_object_add(spec, "leaseTransitions",
                           json_object_new_int64(r->transitions));
    json_object_object_add(json, "spec", spec);
}

/* A new Lease object holding record. */
static struct json_object *
lease_object(const struct lease *l, const struct lease_record *r)
{
    struct json_object *json = json_object_new_object();
    struct json_object *metadata = json_object_new_object();

    json_object_object_add(json, "apiVersion",
                           json_object_new_string("coordination.k8s.io/v1"));
    json_object_object_add(json, "kind", json_object_new_string("Lease"));
    json_object_object_add(metadata, "name", json_object_new_string(l->name));
    json_object_object_add(metadata, "namespace",
                           json_object_new_string(l->namespace));
    json_object_object_add(json, "metadata", metadata);
    spec_set(json, r);
    return json;
}

/*
 * Sends json with method to path; on success the Lease written becomes
 * the observed one.  Returns 1 on success, -EAGAIN on 409 (another
 * candidate wrote first), else a negative errno, logged.
 */
static int
lease_write(struct lease *l, const char *method, const char *path,
            struct json_object *json, double now)
{
    struct kube_response resp = {0};
    struct lease_record written;
    struct api_status status;
    const char *body = json_object_to_json_string_ext(json, 0);
    int r;

    r = kube_request(l->client, method, path, "application/json", body,
                     strlen(body), &resp);
    if (r < 0) {
        log_warn("%s of Lease %s/%s failed: %s, retrying in %d s", method,
                 l->namespace, l->name, resp.error, LEASE_RETRY_PERIOD_S);
        return r;
    }
    if (resp.status == 409) {
        log_info(2, "Lease %s/%s was written by another candidate first",
                 l->namespace, l->name);
        r = -EAGAIN;
    } else if ((resp.status == 200 || resp.status == 201) &&
               lease_parse(resp.body, resp.body_len, &written) == 0) {
        lease_observe(&l->observed, &written, now);
        r = 1;
    } else {
        api_status_parse(resp.body, resp.body_len, &status);
        log_warn("%s of Lease %s/%s: HTTP %ld %s, retrying in %d s", method,
                 l->namespace, l->name, resp.status, status.message,
                 LEASE_RETRY_PERIOD_S);
        r = -EIO;
    }
    kube_response_free(&resp);
    return r;
}

/* Creates the Lease, held by us, when there is none. */
static int
lease_create(struct lease *l, double now)
{
    struct lease_record r = {.duration_s = LEASE_DURATION_S};
    struct json_object *json;
    char *path;
    int ret;

    snprintf(r.holder, sizeof(r.holder), "%s", l->identity);
    lease_micro_time(r.acquire_time, sizeof(r.acquire_time));
    memcpy(r.renew_time, r.acquire_time, sizeof(r.renew_time));
    json = lease_object(l, &r);
    if (asprintf(&path, LEASE_API "/namespaces/%s/leases", l->namespace) < 0) {
        json_object_put(json);
        return -ENOMEM;
    }
    ret = lease_write(l, "POST", path, json, now);
    free(path);
    json_object_put(json);
    return ret;
}

/*
 * Writes our record over the Lease read as body.  The object read is
 * written back with only its spec replaced, so that its labels and
 * annotations stay, and with its resourceVersion, so that the write
 * fails if anyone wrote in between.
 */
static int
lease_update(struct lease *l, const char *body, size_t len,
             enum lease_verdict verdict, double now)
{
    const struct lease_record *old = &l->observed.record;
    struct lease_record r = *old;
    struct json_object *json = json_parse(body, len);
    int ret;

    if (!json)
        return -EBADMSG;
    snprintf(r.holder, sizeof(r.holder), "%s", l->identity);
    r.duration_s = LEASE_DURATION_S;
    lease_micro_time(r.renew_time, sizeof(r.renew_time));
    if (verdict != LEASE_OURS) {
        memcpy(r.acquire_time, r.renew_time, sizeof(r.acquire_time));
        r.transitions = old->transitions + 1;
    }
    spec_set(json, &r);
    ret = lease_write(l, "PUT", l->path, json, now);
    json_object_put(json);
    return ret;
}

/* Logs who holds the Lease when that changes, for a standby's log. */
static void
note_holder(const struct lease *l, const char *before)
{
    const char *holder = l->observed.record.holder;

    if (strcmp(before, holder) != 0 && strcmp(holder, l->identity) != 0)
        log_info(1, "Lease %s/%s is held by %s", l->namespace, l->name,
                 holder[0] ? holder : "nobody");
}

/* Reads the Lease; returns the HTTP status, or a negative errno, logged. */
static int
lease_get(struct lease *l, struct kube_response *resp)
{
    struct api_status status;
    int r = kube_request(l->client, "GET", l->path, NULL, NULL, 0, resp);

    if (r < 0) {
        log_warn("GET of Lease %s/%s failed: %s, retrying in %d s",
                 l->namespace, l->name, resp->error, LEASE_RETRY_PERIOD_S);
        return r;
    }
    if (resp->status != 200 && resp->status != 404) {
        api_status_parse(resp->body, resp->body_len, &status);
        log_warn("GET of Lease %s/%s: HTTP %ld %s, retrying in %d s",
                 l->namespace, l->name, resp->status, status.message,
                 LEASE_RETRY_PERIOD_S);
        kube_response_free(resp);
        return -EIO;
    }
    return (int)resp->status;
}

/* One round of acquire-or-renew; see lease.h. */
int
lease_try(struct lease *l, double now)
{
    struct kube_response resp = {0};
    struct lease_record got;
    char before[LEASE_HOLDER_MAX];
    enum lease_verdict verdict;
    int r = lease_get(l, &resp);

    if (r == 404)
        r = lease_create(l, now);
    if (r != 200)
        goto out;
    if (lease_parse(resp.body, resp.body_len, &got) < 0) {
        log_warn("Lease %s/%s is not a Lease object, retrying in %d s",
                 l->namespace, l->name, LEASE_RETRY_PERIOD_S);
        r = -EBADMSG;
        goto out;
    }
    snprintf(before, sizeof(before), "%s", l->observed.record.holder);
    lease_observe(&l->observed, &got, now);
    note_holder(l, before);

    verdict = lease_decide(&l->observed, l->identity, now);
    r = 0;
    if (verdict != LEASE_HELD)
        r = lease_update(l, resp.body, resp.body_len, verdict, now);

out:
    kube_response_free(&resp);
    return r;
}

/* Gives the Lease up; see lease.h.  A failure only delays the next one. */
void
lease_release(struct lease *l)
{
    struct kube_response resp = {0};
    struct lease_record r;
    struct json_object *json;

    if (lease_get(l, &resp) != 200)
        goto out;
    if (lease_parse(resp.body, resp.body_len, &r) < 0 ||
        strcmp(r.holder, l->identity) != 0)
        goto out;
    json = json_parse(resp.body, resp.body_len);
    if (!json)
        goto out;
    r.holder[0] = '\0';
    r.duration_s = 1;
    lease_micro_time(r.renew_time, sizeof(r.renew_time));
    spec_set(json, &r);
    if (lease_write(l, "PUT", l->path, json, 0) == 1)
        log_info(1, "released Lease %s/%s", l->namespace, l->name);
    json_object_put(json);
out:
    kube_response_free(&resp);
}
