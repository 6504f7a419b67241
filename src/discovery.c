/*
 * Discovery of one resource from its group version's APIResourceList:
 *
 *   {"kind":"APIResourceList","groupVersion":"tensorstack.dev/v1beta1",
 *    "resources":[{"name":"notebooks","namespaced":true,"kind":"Notebook",
 *                  "verbs":["get","list","watch",...]},
 *                 {"name":"notebooks/status",...}]}
 *
 * A group version that is not served is a 404; a served one without the
 * resource simply does not list it.  Both mean "not served (yet)": a
 * CustomResourceDefinition may be installed later.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "api_status.h"
#include "discovery.h"
#include "kube.h"

/* An APIResourceList nests a few levels; the cap guards the parser. */
#define DISCOVERY_DEPTH 16

/* Whether the verbs array holds verb. */
static bool
has_verb(struct json_object *verbs, const char *verb)
{
    size_t n;

    if (!json_object_is_type(verbs, json_type_array))
        return false;
    n = json_object_array_length(verbs);
    for (size_t i = 0; i < n; i++) {
        struct json_object *v = json_object_array_get_idx(verbs, i);

        if (json_object_is_type(v, json_type_string) &&
            strcmp(json_object_get_string(v), verb) == 0)
            return true;
    }
    return false;
}

/* Fills out from one entry of "resources"; -EBADMSG if it is malformed. */
static int
read_entry(struct json_object *entry, struct api_resource *out)
{
    struct json_object *kind, *namespaced, *verbs = NULL;

    if (!json_object_object_get_ex(entry, "kind", &kind) ||
        !json_object_is_type(kind, json_type_string) ||
        json_object_get_string_len(kind) == 0 ||
        json_object_get_string_len(kind) > DISCOVERY_KIND_MAX ||
        !json_object_object_get_ex(entry, "namespaced", &namespaced) ||
        !json_object_is_type(namespaced, json_type_boolean))
        return -EBADMSG;
    json_object_object_get_ex(entry, "verbs", &verbs);

    snprintf(out->kind, sizeof(out->kind), "%s", json_object_get_string(kind));
    out->namespaced = json_object_get_boolean(namespaced);
    out->listable = has_verb(verbs, "list") && has_verb(verbs, "watch");
    return 0;
}

/* Finds resource in an APIResourceList. */
static int
find_in_list(struct json_object *list, const char *resource,
             struct api_resource *out)
{
    struct json_object *resources, *name;
    size_t n;

    if (!json_object_object_get_ex(list, "resources", &resources) ||
        !json_object_is_type(resources, json_type_array))
        return -EBADMSG;
    n = json_object_array_length(resources);
    for (size_t i = 0; i < n; i++) {
        struct json_object *entry = json_object_array_get_idx(resources, i);

        if (json_object_object_get_ex(entry, "name", &name) &&
            json_object_is_type(name, json_type_string) &&
            strcmp(json_object_get_string(name), resource) == 0)
            return read_entry(entry, out);
    }
    return -ENOENT;
}

/* Parses the body of a 200 and looks the resource up in it. */
static int
parse_list(const struct kube_response *resp, const char *resource,
           struct api_resource *out, struct discovery_failure *failure)
{
    struct json_tokener *tok = json_tokener_new_ex(DISCOVERY_DEPTH);
    struct json_object *list = NULL;
    int r;

    if (!tok)
        return -ENOMEM;
    if (resp->body_len <= (size_t)__INT_MAX__)
        list = json_tokener_parse_ex(tok, resp->body, (int)resp->body_len);
    json_tokener_free(tok);

    r = list ? find_in_list(list, resource, out) : -EBADMSG;
    json_object_put(list);
    if (r == -EBADMSG)
        snprintf(failure->message, sizeof(failure->message),
                 "the response is not an APIResourceList");
    return r;
}

/* The error for a status other than 200, with the server's message. */
static int
status_error(const struct kube_response *resp,
             struct discovery_failure *failure)
{
    struct api_status status;

    if (api_status_parse(resp->body, resp->body_len, &status) &&
        status.message[0])
        snprintf(failure->message, sizeof(failure->message), "%s",
                 status.message);
    else
        snprintf(failure->message, sizeof(failure->message), "HTTP %ld",
                 resp->status);

    if (resp->status == 404)
        return -ENOENT;
    if (resp->status == 401 || resp->status == 403)
        return -EACCES;
    return -EAGAIN;
}

/* Looks a resource up; see discovery.h. */
int
discovery_find(struct kube_client *client, const char *group,
               const char *version, const char *resource,
               struct api_resource *out, struct discovery_failure *failure)
{
    struct kube_response resp;
    char path[512];
    int r;

    memset(out, 0, sizeof(*out));
    memset(failure, 0, sizeof(*failure));
    failure->retry_after = -1;
    if (*group)
        snprintf(path, sizeof(path), "/apis/%s/%s", group, version);
    else
        snprintf(path, sizeof(path), "/api/%s", version);

    r = kube_request(client, "GET", path, NULL, NULL, 0, &resp);
    if (r < 0) {
        snprintf(failure->message, sizeof(failure->message), "%s", resp.error);
        return r;
    }
    failure->status = resp.status;
    failure->retry_after = resp.retry_after;
    if (resp.status == 200)
        r = parse_list(&resp, resource, out, failure);
    else
        r = status_error(&resp, failure);
    kube_response_free(&resp);
    return r;
}
