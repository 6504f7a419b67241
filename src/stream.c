/*
 * The watch stream decoder.  One json_tokener lives as long as the stream
 * and is fed each chunk in place: json-c keeps a value's partial state
 * between calls, and json_tokener_get_parse_end tells where to resume
 * after a value that ends inside a chunk.  This file only skips the
 * whitespace between values, enforces the size cap and checks that every
 * value is an object.
 *
 * Known shortcoming: json-c 0.16 takes a '-' at the start of a chunk as
 * part of the number the previous chunk ended in.  A malformed number cut
 * just there, such as 1-2, is then read as 1 instead of refused, and --
 * at the end of a response gives -EPIPE instead of -EBADMSG.  Valid JSON
 * is never affected, and what gets through is JSON a server could have
 * sent; detecting it would take json-c's private state.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "stream.h"

/*
 * Kubernetes objects can nest deeper than json-c's default of 32: each
 * nested field in a CustomResourceDefinition's openAPIV3Schema costs two
 * levels ("properties", then the field), and managedFields repeat an
 * object's nesting four levels down.
 */
#define WATCH_STREAM_DEPTH 64

struct watch_stream {
    struct json_tokener *tokener;
    size_t max_event_bytes;
    bool in_value;      /* the tokener holds part of a value */
    size_t value_bytes; /* fed to the tokener since that value began */
    int error;          /* sticky until reset */
    const char *reason;
};

/* Creates a decoder with its tokener, between values. */
struct watch_stream *
watch_stream_new(size_t max_event_bytes)
{
    struct watch_stream *stream;

    stream = calloc(1, sizeof(*stream));
    if (!stream)
        return NULL;

    stream->tokener = json_tokener_new_ex(WATCH_STREAM_DEPTH);
    if (!stream->tokener) {
        free(stream);
        return NULL;
    }

    /*
     * The apiserver writes strict JSON; anything json-c would merely
     * tolerate (comments, trailing commas, leading zeros) means the bytes
     * are not what the server sent.  Values follow each other, so trailing
     * characters are the next value, not an error.
     */
    json_tokener_set_flags(stream->tokener,
                           JSON_TOKENER_STRICT |
                               JSON_TOKENER_ALLOW_TRAILING_CHARS);

    stream->max_event_bytes = max_event_bytes
                                  ? max_event_bytes
                                  : WATCH_STREAM_DEFAULT_MAX_EVENT_BYTES;
    return stream;
}

/* Records a failure that stops the stream until reset. */
static int
stream_fail(struct watch_stream *stream, int error, const char *reason)
{
    /* Frees the partial value now rather than at the next reset. */
    json_tokener_reset(stream->tokener);
    stream->in_value = false;
    stream->error = error;
    stream->reason = reason;
    return error;
}

/* The whitespace JSON allows between values, and all the apiserver sends. */
static bool
is_json_whitespace(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/*
 * Starts a value whose first byte, not whitespace, is first.  Only an
 * object can be an event, and only '{' can begin one: refusing anything
 * else at its first byte spares building up to the cap of a value that
 * would be thrown away.
 */
static int
begin_value(struct watch_stream *stream, char first)
{
    if (first != '{')
        return stream_fail(stream, -EBADMSG, "value is not an object");

    stream->in_value = true;
    stream->value_bytes = 0;
    return 0;
}

/*
 * Gives the tokener as much of buf as the cap leaves room for.  Sets *used
 * to the bytes consumed and *event to the event if one was completed.
 */
static int
continue_value(struct watch_stream *stream, const char *buf, size_t len,
               size_t *used, struct json_object **event)
{
    size_t room = stream->max_event_bytes - stream->value_bytes;
    enum json_tokener_error error;
    struct json_object *value;

    if (room == 0)
        return stream_fail(stream, -EMSGSIZE, "event over the size cap");

    /* json_tokener_parse_ex takes an int length. */
    if (len > room)
        len = room;
    if (len > INT_MAX)
        len = INT_MAX;

    value = json_tokener_parse_ex(stream->tokener, buf, (int)len);
    error = json_tokener_get_error(stream->tokener);
    if (error == json_tokener_continue) {
        stream->value_bytes += len;
        *used = len;
        return 0;
    }
    if (error != json_tokener_success)
        return stream_fail(stream, -EBADMSG, json_tokener_error_desc(error));

    stream->in_value = false;
    *used = json_tokener_get_parse_end(stream->tokener);
    *event = value;
    return 0;
}

/* Skips whitespace, then feeds values one by one to the tokener. */
int
watch_stream_feed(struct watch_stream *stream, const char *buf, size_t len,
                  watch_event_cb cb, void *ctx)
{
    size_t pos = 0;

    if (stream->error)
        return stream->error;

    while (pos < len) {
        struct json_object *event = NULL;
        size_t used = 0;
        int r;

        if (!stream->in_value) {
            while (pos < len && is_json_whitespace(buf[pos]))
                pos++;
            if (pos == len)
                break;
            r = begin_value(stream, buf[pos]);
            if (r < 0)
                return r;
        }

        r = continue_value(stream, buf + pos, len - pos, &used, &event);
        if (r < 0)
            return r;
        pos += used;

        if (event) {
            r = cb(event, ctx);
            json_object_put(event);
            if (r)
                return r;
        }
    }
    return 0;
}

/* Reports whether the response ended between values, and discards any. */
int
watch_stream_finish(struct watch_stream *stream)
{
    if (stream->error)
        return stream->error;
    if (!stream->in_value)
        return 0;

    json_tokener_reset(stream->tokener);
    stream->in_value = false;
    stream->reason = "stream ended inside an event";
    return -EPIPE;
}

/* Drops any partial value and error. */
void
watch_stream_reset(struct watch_stream *stream)
{
    json_tokener_reset(stream->tokener);
    stream->in_value = false;
    stream->value_bytes = 0;
    stream->error = 0;
    stream->reason = NULL;
}

/* The reason of the last failure, a fixed text. */
const char *
watch_stream_error(const struct watch_stream *stream)
{
    return stream->reason;
}

/* Frees the decoder and any partial value; NULL is allowed. */
void
watch_stream_free(struct watch_stream *stream)
{
    if (!stream)
        return;
    json_tokener_free(stream->tokener);
    free(stream);
}
