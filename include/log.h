/*
 * Logging for every process of event-controller.
 *
 * One line per message, written with a single write(2) so that lines of
 * processes sharing stderr never interleave.  The text form keeps the
 * header of the controller this one replaces:
 *
 *   I1 10/09 16:52:19 watcher.c:105 event-controller/notebooks [start ...]
 *
 * that is: severity letter and verbosity, month/day, time, source file and
 * line, the process tag (role and resource), the message.  Severity is in
 * the macro: log_info for normal operation (shown up to the -v level),
 * log_warn for trouble that is handled, log_error for trouble that loses
 * service, log_fatal for a process that cannot go on (it exits).
 */
#ifndef EC_LOG_H
#define EC_LOG_H

#include <stdarg.h>
#include <unistd.h>

enum log_format {
    LOG_FORMAT_TEXT,
    LOG_FORMAT_JSON,
};

/* The default verbosity: info lines at level 1 and below are shown. */
#define LOG_DEFAULT_VERBOSITY 1

extern int log_verbosity;

/*
 * Sets the tag every line of this process carries: "event-controller" for
 * the master, "event-controller/notebooks" for the watcher of notebooks.
 * role and resource also become fields of the JSON and journal forms;
 * resource may be NULL.
 */
void log_init(const char *role, const char *resource, int verbosity,
              enum log_format format);

int log_format_parse(const char *name, enum log_format *format);

/*
 * The resourceVersion the following lines speak of, a field of the
 * journal form; NULL clears it.
 */
void log_set_resource_version(const char *resource_version);

void log_emit(char severity, int verbosity, const char *file, int line,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void log_vemit(char severity, int verbosity, const char *file, int line,
               const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

#define log_info(v, ...)                                                       \
    do {                                                                       \
        if ((v) <= log_verbosity)                                              \
            log_emit('I', (v), __FILE__, __LINE__, __VA_ARGS__);               \
    } while (0)

#define log_warn(...)  log_emit('W', 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_emit('E', 0, __FILE__, __LINE__, __VA_ARGS__)

/* Logs and exits with status; for a process that cannot go on. */
#define log_fatal(status, ...)                                                 \
    do {                                                                       \
        log_emit('F', 0, __FILE__, __LINE__, __VA_ARGS__);                     \
        _exit(status);                                                         \
    } while (0)

#endif
