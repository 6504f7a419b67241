/*
 * Log lines in the text or JSON form, one write(2) each.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096

int log_verbosity = LOG_DEFAULT_VERBOSITY;

static enum log_format log_format = LOG_FORMAT_TEXT;
static char log_tag[160] = "event-controller";
static char log_role[32] = "master";
static char log_resource[128];

void
log_init(const char *role, const char *resource, int verbosity,
         enum log_format format)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
    snprintf(log_resource, sizeof(log_resource), "%s",
             resource ? resource : "");
    if (resource)
        snprintf(log_tag, sizeof(log_tag), "event-controller/%s", resource);
    else if (strcmp(role, "master") == 0)
        snprintf(log_tag, sizeof(log_tag), "event-controller");
    else
        snprintf(log_tag, sizeof(log_tag), "event-controller/%s", role);
    log_verbosity = verbosity;
    log_format = format;
}

int
log_format_parse(const char *name, enum log_format *format)
{
    if (strcmp(name, "text") == 0)
        *format = LOG_FORMAT_TEXT;
    else if (strcmp(name, "json") == 0)
        *format = LOG_FORMAT_JSON;
    else
        return -EINVAL;
    return 0;
}

static const char *
base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* Appends s to buf as the body of a JSON string, escaped. */
static size_t
json_escape(char *buf, size_t len, size_t size, const char *s)
{
    for (; *s && len + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, size - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

static size_t
format_text(char *buf, size_t size, char severity, int verbosity,
            const struct tm *tm, const char *file, int line, const char *msg)
{
    int n;

    n = snprintf(buf, size, "%c%d %02d/%02d %02d:%02d:%02d %s:%d %s %s",
                 severity, verbosity, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour,
                 tm->tm_min, tm->tm_sec, base_name(file), line, log_tag, msg);
    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

static size_t
format_json(char *buf, size_t size, char severity, int verbosity,
            const struct timespec *now, const struct tm *tm, const char *file,
            int line, const char *msg)
{
    static const char *names[] = {
        ['I'] = "info", ['W'] = "warning", ['E'] = "error", ['F'] = "fatal"};
    size_t len;
    int n;

    n = snprintf(buf, size,
                 "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
                 "\"level\":\"%s\",\"v\":%d,\"caller\":\"%s:%d\","
                 "\"pid\":%ld,\"role\":\"%s\",",
                 tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour,
                 tm->tm_min, tm->tm_sec, now->tv_nsec / 1000000,
                 names[(unsigned char)severity], verbosity, base_name(file),
                 line, (long)getpid(), log_role);
    if (n < 0 || (size_t)n >= size)
        return 0;
    len = (size_t)n;
    if (log_resource[0]) {
        len += (size_t)snprintf(buf + len, size - len, "\"resource\":\"");
        len = json_escape(buf, len, size, log_resource);
        len += (size_t)snprintf(buf + len, size - len, "\",");
    }
    len += (size_t)snprintf(buf + len, size - len, "\"msg\":\"");
    len = json_escape(buf, len, size, msg);
    if (len + 2 < size)
        buf[len++] = '"', buf[len++] = '}';
    return len;
}

void
log_vemit(char severity, int verbosity, const char *file, int line,
          const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX - 256], buf[LOG_LINE_MAX];
    struct timespec now;
    struct tm tm;
    size_t len;
    int saved_errno = errno;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &now);
    if (log_format == LOG_FORMAT_JSON) {
        gmtime_r(&now.tv_sec, &tm);
        len = format_json(buf, sizeof(buf) - 1, severity, verbosity, &now, &tm,
                          file, line, msg);
    } else {
        localtime_r(&now.tv_sec, &tm);
        len = format_text(buf, sizeof(buf) - 1, severity, verbosity, &tm, file,
                          line, msg);
    }
    buf[len++] = '\n';
    (void)!write(STDERR_FILENO, buf, len);
    errno = saved_errno;
}

void
log_emit(char severity, int verbosity, const char *file, int line,
         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vemit(severity, verbosity, file, line, fmt, ap);
    va_end(ap);
}
