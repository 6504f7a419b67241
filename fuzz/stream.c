/*
 * libFuzzer target for the watch stream decoder.  An input's first four
 * bytes choose chunk sizes from 1 to 256, its fifth a size cap from 32
 * bytes to 4 KiB (small, so that small inputs reach it), and the rest is
 * the response.  It is decoded twice, whole and in those chunks, and both
 * must give the same events and the same result: how the network splits a
 * response must never change what it means.
 *
 * One exception is json-c's, not the decoder's: json-c 0.16 takes a '-'
 * that starts a chunk as part of a number the previous chunk ended in, so
 * a malformed number such as 1-2 or -- cut there is read differently.  An
 * input with such a cut is not checked; valid JSON never has one outside a
 * string.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "stream.h"

#define CHUNK_SIZES 4
#define PREFIX_SIZE (CHUNK_SIZES + 1)

/* The events of one decoding, as their texts one after another. */
struct transcript {
    char *text;
    size_t len, size;
};

/* Appends the event's text to the transcript. */
static int
record_event(struct json_object *event, void *ctx)
{
    struct transcript *t = ctx;
    size_t n;
    const char *text;

    text = json_object_to_json_string_ext(event, JSON_C_TO_STRING_PLAIN);
    n = strlen(text) + 1;
    if (t->len + n > t->size) {
        t->size = (t->len + n) * 2;
        t->text = realloc(t->text, t->size);
        if (!t->text)
            abort();
    }
    memcpy(t->text + t->len, text, n);
    t->len += n;
    return 0;
}

/* Whether a chunk starting at pos may continue a number with a '-'. */
static bool
minus_after_number(const char *buf, size_t pos)
{
    return pos > 0 && buf[pos] == '-' && strchr("0123456789.-", buf[pos - 1]);
}

/*
 * Decodes buf in chunks cycling through sizes, or whole if sizes is NULL;
 * returns the first error.  Sets *suspect if a cut may meet json-c's flaw.
 */
static int
decode(const char *buf, size_t len, size_t cap, const size_t *sizes,
       struct transcript *t, bool *suspect)
{
    struct watch_stream *stream = watch_stream_new(cap);
    size_t pos = 0;
    int r = 0;

    if (!stream)
        abort();
    for (int i = 0; r == 0 && pos < len; i++) {
        size_t n = sizes ? sizes[i % CHUNK_SIZES] : len;

        if (n > len - pos)
            n = len - pos;
        if (minus_after_number(buf, pos))
            *suspect = true;
        r = watch_stream_feed(stream, buf + pos, n, record_event, t);
        pos += n;
    }
    if (r == 0)
        r = watch_stream_finish(stream);
    watch_stream_free(stream);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes one input whole and chunked; aborts if they disagree. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct transcript whole = {0}, chunked = {0};
    size_t sizes[CHUNK_SIZES], cap, len;
    const char *buf = (const char *)data + PREFIX_SIZE;
    bool suspect = false;
    int r_whole, r_chunked;

    if (size < PREFIX_SIZE)
        return 0;
    for (int i = 0; i < CHUNK_SIZES; i++)
        sizes[i] = 1 + (size_t)data[i];
    cap = (size_t)32 << (data[CHUNK_SIZES] % 8);
    len = size - PREFIX_SIZE;

    r_whole = decode(buf, len, cap, NULL, &whole, &suspect);
    r_chunked = decode(buf, len, cap, sizes, &chunked, &suspect);
    if ((r_whole != r_chunked || whole.len != chunked.len ||
         (whole.len && memcmp(whole.text, chunked.text, whole.len) != 0)) &&
        !suspect)
        abort();

    free(whole.text);
    free(chunked.text);
    return 0;
}
