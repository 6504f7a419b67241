/*
 * Reading a Kubernetes Status.  Its message is the server's text and may
 * be shown in a log line; it is cut to a fixed size and stripped of
 * control characters so that a hostile server cannot forge log lines.
 */
#include <string.h>

#include <json-c/json.h>

#include "api_status.h"

/* A Status's message could nest, but never deeply. */
#define STATUS_DEPTH 16
/* A Status is a few hundred bytes; a larger error body is not one. */
#define STATUS_BODY_MAX (1024 * 1024)
/* A longer wait than an hour is not a hint a watcher should follow. */
#define API_STATUS_RETRY_AFTER_MAX 3600

/* Copies a string member of obj into buf, control characters replaced. */
static void
copy_member(struct json_object *obj, const char *key, char *buf, size_t size)
{
    struct json_object *v;
    const char *s;
    size_t i;

    buf[0] = '\0';
    if (!json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return;
    s = json_object_get_string(v);
    for (i = 0; s[i] && i + 1 < size; i++)
        buf[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    buf[i] = '\0';
}

/* Whether details.causes holds a cause with reason. */
static bool
has_cause(struct json_object *status, const char *reason)
{
    struct json_object *details, *causes, *cause, *v;
    size_t n;

    if (!json_object_object_get_ex(status, "details", &details) ||
        !json_object_object_get_ex(details, "causes", &causes) ||
        !json_object_is_type(causes, json_type_array))
        return false;
    n = json_object_array_length(causes);
    for (size_t i = 0; i < n; i++) {
        cause = json_object_array_get_idx(causes, i);
        if (json_object_object_get_ex(cause, "reason", &v) &&
            json_object_is_type(v, json_type_string) &&
            strcmp(json_object_get_string(v), reason) == 0)
            return true;
    }
    return false;
}

/* details.retryAfterSeconds, the server's hint; -1 if absent. */
static long
retry_after(struct json_object *status)
{
    struct json_object *details, *v;
    int64_t seconds;

    if (!json_object_object_get_ex(status, "details", &details) ||
        !json_object_object_get_ex(details, "retryAfterSeconds", &v) ||
        !json_object_is_type(v, json_type_int))
        return -1;
    seconds = json_object_get_int64(v);
    return seconds >= 0 && seconds <= API_STATUS_RETRY_AFTER_MAX ? (long)seconds
                                                                 : -1;
}

/* Reads a Status object; see api_status.h. */
bool
api_status_read(struct json_object *json, struct api_status *out)
{
    struct json_object *code;

    memset(out, 0, sizeof(*out));
    out->retry_after = -1;
    if (!json_object_is_type(json, json_type_object))
        return false;
    if (json_object_object_get_ex(json, "code", &code) &&
        json_object_is_type(code, json_type_int))
        out->code = (long)json_object_get_int64(code);
    copy_member(json, "reason", out->reason, sizeof(out->reason));
    copy_member(json, "message", out->message, sizeof(out->message));
    out->resource_version_too_large =
        has_cause(json, "ResourceVersionTooLarge") ||
        strstr(out->message, "Too large resource version") != NULL;
    out->retry_after = retry_after(json);
    return true;
}

/* Parses and reads a Status body; see api_status.h. */
bool
api_status_parse(const char *body, size_t len, struct api_status *out)
{
    struct json_tokener *tok;
    struct json_object *json;
    bool ok;

    memset(out, 0, sizeof(*out));
    out->retry_after = -1;
    if (!body || len > STATUS_BODY_MAX)
        return false;
    tok = json_tokener_new_ex(STATUS_DEPTH);
    if (!tok)
        return false;
    json = json_tokener_parse_ex(tok, body, (int)len);
    ok = json && api_status_read(json, out);
    json_object_put(json);
    json_tokener_free(tok);
    return ok;
}
