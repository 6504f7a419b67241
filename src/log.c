/*
 * Log lines in the text or JSON form, one write(2) each; or, when stderr
 * is the journal's stream, one journal entry each, with the process's
 * role, resource and pid as fields of their own.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The fields of the entry say where; the library need not add its own. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE_MAX 4096

int log_verbosity = LOG_DEFAULT_VERBOSITY;

static enum log_format log_format = LOG_FORMAT_TEXT;
static char log_tag[160] = "event-controller";
static char log_role[32] = "master";
static char log_resource[128];
static char log_resource_version[128];
static bool log_journal;

/*
 * Whether stderr is the journal: systemd then puts the device and inode
 * of the stream in JOURNAL_STREAM, and children inherit both.
 */
static bool
stderr_is_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!stream || sscanf(stream, "%llu:%llu", &dev, &ino) != 2 ||
        fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

/* The resourceVersion the next lines speak of; NULL or "" for none. */
void
log_set_resource_version(const char *resource_version)
{
    snprintf(log_resource_version, sizeof(log_resource_version), "%s",
             resource_version ? resource_version : "");
}

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
    /* Asked for JSON, the lines stay JSON, for whoever collects them. */
    log_journal = format == LOG_FORMAT_TEXT && stderr_is_journal();
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

/* Adds the field "NAME=value" to v; value is formatted. */
static void
field(struct iovec *v, int *n, char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    v[*n].iov_base = buf;
    v[(*n)++].iov_len = (size_t)len < size ? (size_t)len : size - 1;
}

/* Sends one journal entry; 0, or a negative errno to write stderr. */
static int
journal_send(char severity, const char *file, int line, const char *msg)
{
    int priority = severity == 'I'   ? LOG_INFO
                   : severity == 'W' ? LOG_WARNING
                   : severity == 'E' ? LOG_ERR
                                     : LOG_CRIT;
    char f[8][LOG_LINE_MAX];
    struct iovec v[8];
    int n = 0;

    field(v, &n, f[n], sizeof(f[0]), "MESSAGE=%s %s", log_tag, msg);
    field(v, &n, f[n], sizeof(f[0]), "PRIORITY=%d", priority);
    field(v, &n, f[n], sizeof(f[0]), "CODE_FILE=%s", base_name(file));
    field(v, &n, f[n], sizeof(f[0]), "CODE_LINE=%d", line);
    field(v, &n, f[n], sizeof(f[0]), "EC_ROLE=%s", log_role);
    if (strcmp(log_role, "master") != 0)
        field(v, &n, f[n], sizeof(f[0]), "EC_CHILD_PID=%ld", (long)getpid());
    if (log_resource[0])
        field(v, &n, f[n], sizeof(f[0]), "EC_RESOURCE=%s", log_resource);
    if (log_resource_version[0])
        field(v, &n, f[n], sizeof(f[0]), "EC_RESOURCE_VERSION=%s",
              log_resource_version);
    return sd_journal_sendv(v, n);
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
    /* Should the journal be gone, stderr still gets the line. */
    if (log_journal && journal_send(severity, file, line, msg) == 0) {
        errno = saved_errno;
        return;
    }
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
