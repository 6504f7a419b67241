/*
 * The watch stream decoder: turns the body of a Kubernetes watch response,
 * a sequence of JSON objects such as {"type":"ADDED","object":{...}}
 * separated by newlines, into one json_object per event, whatever the
 * sizes of the chunks it arrives in.
 *
 * Errors are sticky: after a failure, feed returns the same error until
 * the stream is reset, because the bytes that follow a broken value cannot
 * be placed.
 */
#ifndef EC_STREAM_H
#define EC_STREAM_H

#include <stddef.h>

struct json_object;
struct watch_stream;

/*
 * A cap on one event well above any object the apiserver stores (etcd
 * refuses values over 1.5 MiB by default) yet small enough that a broken
 * or hostile server cannot make a watcher take all memory.
 */
#define WATCH_STREAM_DEFAULT_MAX_EVENT_BYTES (4 * 1024 * 1024)

/*
 * Called once per event.  The event is borrowed: the decoder puts it after
 * the callback returns, so a callback that keeps it takes a reference.  A
 * nonzero return stops feeding: feed returns it and drops the rest of the
 * chunk.
 */
typedef int (*watch_event_cb)(struct json_object *event, void *ctx);

/*
 * Creates a decoder that refuses an event of more than max_event_bytes
 * bytes of JSON text, or WATCH_STREAM_DEFAULT_MAX_EVENT_BYTES if 0.  The cap
 * bounds the text, not the memory: the objects built from it take a few
 * times as much, up to about 36 times for an array of one-digit numbers.
 * Returns NULL when out of memory.
 */
struct watch_stream *watch_stream_new(size_t max_event_bytes);

/*
 * Decodes len bytes of the stream, which need not end on a boundary, and
 * calls cb for each event completed.  Returns 0, the callback's nonzero
 * value, -EMSGSIZE for an event over the cap, or -EBADMSG for malformed
 * JSON or a value that is not an object.
 */
int watch_stream_feed(struct watch_stream *stream, const char *buf, size_t len,
                      watch_event_cb cb, void *ctx);

/*
 * Called when the response ends.  Returns 0 if it ended between events,
 * -EPIPE if it cut an event off (which is discarded), or the error that
 * stopped the stream.
 */
int watch_stream_finish(struct watch_stream *stream);

/* Readies the decoder for a new response, clearing any error. */
void watch_stream_reset(struct watch_stream *stream);

/*
 * Why the stream last failed, for the caller's log line: a fixed text, never
 * the data itself.  NULL if nothing failed.
 */
const char *watch_stream_error(const struct watch_stream *stream);

void watch_stream_free(struct watch_stream *stream);

#endif
