/*
 * The Status object the API server sends with a failure, as the body of
 * an error response or as the object of a watch ERROR event:
 *
 *   {"kind":"Status","status":"Failure","message":"...","reason":"Expired",
 *    "code":410,"details":{"causes":[{"reason":"..."}],
 *    "retryAfterSeconds":1}}
 *
 * Only what the watcher decides on is read, each field checked for type.
 */
#ifndef EC_API_STATUS_H
#define EC_API_STATUS_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

struct api_status {
    long code;         /* 0 if absent */
    char reason[64];   /* "Expired", "Forbidden"; "" if absent */
    char message[256]; /* cut to fit; "" if absent */
    /* A cause ResourceVersionTooLarge, or the message saying so. */
    bool resource_version_too_large;
    long retry_after; /* details.retryAfterSeconds, -1 if absent */
};

/* Reads a Status object; false (out cleared) if json is not an object. */
bool api_status_read(struct json_object *json, struct api_status *out);

/* Parses body as a Status; false (out cleared) if it is not JSON. */
bool api_status_parse(const char *body, size_t len, struct api_status *out);

#endif
