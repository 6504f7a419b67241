/*
 * Change records: how a struct change crosses the pipe from a watcher to
 * the emitter.  A frame is
 *
 *   "ECR1" | payload length, u32 LE | crc32 of payload, u32 LE | payload
 *
 * and the payload a sequence of fields: tag u8 | length u16 LE | bytes.
 * Strings are their bytes without NUL; integers are 8 bytes LE.  The
 * reader trusts nothing: a watcher may die mid-record or misbehave, and
 * neither may take the emitter down.  It skips tags it does not know, so
 * that a newer writer can add fields, and reads a missing string as "".
 */
#ifndef EC_RECORD_H
#define EC_RECORD_H

#include <stddef.h>

#include "change.h"

/* The largest payload: a change is a few KiB at most. */
#define RECORD_PAYLOAD_MAX (64 * 1024)
/* Magic, length and checksum. */
#define RECORD_HEADER_SIZE 12

/*
 * Encodes a change into a frame in a malloc'd buffer.  Returns 0, -E2BIG
 * if a string or the payload is over its maximum, -EINVAL if the type is
 * not a change_type, or -ENOMEM.  NULL strings are written as "".
 */
int record_encode(const struct change *change, char **frame, size_t *len);

/*
 * Writes the frame of a change fully to fd, retrying on EINTR, short
 * writes and, on a non-blocking fd, EAGAIN.  Returns 0 or a negative
 * errno; after a failure part of the frame may have been written.
 */
int record_write(int fd, const struct change *change);

struct record_reader;

/* Returns NULL when out of memory. */
struct record_reader *record_reader_new(void);

/*
 * Feeds bytes read from a pipe.  For each complete, valid record calls cb
 * with a change whose strings point into the reader (valid during cb).
 * Returns 0, cb's nonzero value (the rest of buf is dropped), or -EBADMSG
 * on a corrupt frame: bad magic, length over the maximum, checksum
 * mismatch, or a malformed field (one overrunning the payload, a string
 * holding a NUL, an integer not 8 bytes, a field given twice, a type
 * missing or unknown).  After -EBADMSG the reader refuses further input
 * until reset.
 */
int record_reader_feed(struct record_reader *reader, const char *buf,
                       size_t len,
                       int (*cb)(const struct change *change, void *ctx),
                       void *ctx);

/*
 * At end of input: 0 if nothing is pending, -EPIPE if a partial frame was
 * left (the writer died mid-record), which is discarded, or -EBADMSG if
 * the reader had refused a corrupt frame.
 */
int record_reader_finish(struct record_reader *reader);

/* Readies the reader for a new stream, clearing any error. */
void record_reader_reset(struct record_reader *reader);

/*
 * Why the reader last failed, for the caller's log line: a fixed text.
 * NULL if it never did.
 */
const char *record_reader_error(const struct record_reader *reader);

void record_reader_free(struct record_reader *reader);

#endif
