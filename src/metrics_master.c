/*
 * /metrics: the master's own families and the children's latest samples.
 *
 * A child's datagram is untrusted input: only lines of the sample grammar
 * are kept (a name, labels with escaped values, a float), and samples of
 * the master's own families are dropped, since no child speaks for the
 * master.  Families the master knows get their TYPE and HELP; others are
 * served as untyped.  The same series from two children (a resource
 * watched in two namespaces) is added up, except a gauge, of which the
 * smallest value is kept: watch_synced is 1 only when every watch is.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "metrics_master.h"

/* Bounds a child's datagram can make the master keep. */
#define SAMPLE_LINE_MAX 1024
#define SAMPLES_MAX     4096
#define LABELS_MAX      16

enum family_type {
    FAMILY_COUNTER,
    FAMILY_GAUGE,
    FAMILY_HISTOGRAM,
    FAMILY_UNTYPED,
};

struct family {
    const char *name;
    enum family_type type;
    const char *help;
    bool master; /* the master's own: children may not send it */
};

static const struct family families[] = {
    {"event_controller_up", FAMILY_GAUGE, "1 while the master runs.", true},
    {"event_controller_children", FAMILY_GAUGE,
     "Child processes running, by role.", true},
    {"event_controller_child_restarts_total", FAMILY_COUNTER,
     "Restarts of child processes after a crash.", true},
    {"event_controller_reloads_total", FAMILY_COUNTER,
     "Configuration reloads, by result.", true},
    {"event_controller_watches_started_total", FAMILY_COUNTER,
     "Watch requests started.", false},
    {"event_controller_relists_total", FAMILY_COUNTER,
     "Lists made after a watch could not resume.", false},
    {"event_controller_expired_total", FAMILY_COUNTER,
     "Watches that ended with 410 Expired.", false},
    {"event_controller_changes_observed_total", FAMILY_COUNTER,
     "Meaningful changes observed by the watchers.", false},
    {"event_controller_watch_errors_total", FAMILY_COUNTER,
     "Watch and list requests that failed.", false},
    {"event_controller_watch_synced", FAMILY_GAUGE,
     "1 once the watcher has its first list.", false},
    {"event_controller_watch_waiting", FAMILY_GAUGE,
     "1 while the resource is not served or not allowed.", false},
    {"event_controller_events_written_total", FAMILY_COUNTER,
     "Events written to the apiserver.", false},
    {"event_controller_events_aggregated_total", FAMILY_COUNTER,
     "Events folded into an earlier one as a repeat.", false},
    {"event_controller_events_dropped_total", FAMILY_COUNTER,
     "Events the API server refused, or whose writes kept failing.", false},
    {"event_controller_events_retried_total", FAMILY_COUNTER,
     "Event writes tried again.", false},
    {"event_controller_events_spam_limited_total", FAMILY_COUNTER,
     "Events held back by the per-object limit.", false},
    {"event_controller_queue_depth", FAMILY_GAUGE,
     "Events waiting to be written.", false},
    {"event_controller_change_to_event_seconds", FAMILY_HISTOGRAM,
     "Time from a change seen to its Event written.", false},
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static bool
name_start(int c)
{
    return isalpha(c) || c == '_' || c == ':';
}

static bool
name_char(int c)
{
    return isalnum(c) || c == '_' || c == ':';
}

/* Skips a quoted label value with \\, \" and \n escapes; NULL if bad. */
static const char *
skip_label_value(const char *p, const char *end)
{
    if (p >= end || *p++ != '"')
        return NULL;
    while (p < end && *p != '"') {
        if (*p == '\\' && (p + 1 >= end || !strchr("\\\"n", p[1])))
            return NULL;
        p += *p == '\\' ? 2 : 1;
    }
    return p < end ? p + 1 : NULL;
}

/* Skips {name="value",...}, each name once; NULL if bad. */
static const char *
skip_labels(const char *p, const char *end)
{
    const char *names[LABELS_MAX];
    size_t lens[LABELS_MAX], n = 0, len;

    if (p >= end || *p != '{')
        return p;
    for (p++; p < end && *p != '}';) {
        if (n == LABELS_MAX || !(isalpha(*p) || *p == '_') ||
            (p[0] == '_' && p + 1 < end && p[1] == '_'))
            return NULL;
        for (len = 0; p + len < end && (isalnum(p[len]) || p[len] == '_');)
            len++;
        for (size_t i = 0; i < n; i++)
            if (lens[i] == len && memcmp(names[i], p, len) == 0)
                return NULL;
        names[n] = p;
        lens[n++] = len;
        p += len;
        if (p >= end || *p++ != '=' || !(p = skip_label_value(p, end)))
            return NULL;
        if (p < end && *p == ',')
            p++;
    }
    return p < end ? p + 1 : NULL;
}

/* A float as the text format writes it: digits, or +Inf, -Inf, NaN. */
static bool
valid_value(const char *p, const char *end, double *value)
{
    char buf[64], *stop;
    size_t len = (size_t)(end - p);

    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "-Inf") == 0 ||
        strcmp(buf, "NaN") == 0) {
        *value = strtod(buf, NULL);
        return true;
    }
    if (strspn(buf, "0123456789.eE+-") != len)
        return false;
    *value = strtod(buf, &stop);
    return *stop == '\0';
}

/*
 * Checks one line "name{labels} value"; sets the series' end (name and
 * labels) and the value.
 */
static bool
valid_sample(const char *p, const char *end, const char **series_end,
             double *value)
{
    const char *q = p;

    if (end - p > SAMPLE_LINE_MAX || q >= end || !name_start(*q))
        return false;
    while (q < end && name_char(*q))
        q++;
    if (!(q = skip_labels(q, end)) || q >= end || *q != ' ')
        return false;
    *series_end = q;
    return valid_value(q + 1, end, value);
}

char *
metrics_samples_filter(const char *data, size_t len, size_t *dropped)
{
    const char *p = data, *end = data + len, *nl, *series_end;
    char *out = malloc(len + 1), *o = out;
    size_t kept = 0;
    double value;

    if (!out)
        return NULL;
    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (nl == p)
            continue;
        if (kept == SAMPLES_MAX || memchr(p, '\0', (size_t)(nl - p)) ||
            !valid_sample(p, nl, &series_end, &value)) {
            (*dropped)++;
            continue;
        }
        memcpy(o, p, (size_t)(nl - p));
        o += nl - p;
        *o++ = '\n';
        kept++;
    }
    *o = '\0';
    return out;
}

bool
metrics_samples_flag(const char *samples, const char *name)
{
    size_t len = strlen(name);
    const char *p = samples, *sp;

    for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, len) != 0 || (p[len] != '{' && p[len] != ' '))
            continue;
        sp = strchr(p, ' ');
        if (sp && strtod(sp + 1, NULL) == 1)
            return true;
    }
    return false;
}

/* The family of a sample name: an index, N_FAMILIES for unknown. */
static size_t
family_of(const char *name, size_t len)
{
    static const char *suffixes[] = {"_bucket", "_sum", "_count"};

    for (size_t i = 0; i < N_FAMILIES; i++) {
        size_t n = strlen(families[i].name);

        if (families[i].type != FAMILY_HISTOGRAM) {
            if (n == len && memcmp(families[i].name, name, n) == 0)
                return i;
            continue;
        }
        for (size_t s = 0; s < 3; s++)
            if (n + strlen(suffixes[s]) == len &&
                memcmp(families[i].name, name, n) == 0 &&
                strcmp(name + n, suffixes[s]) == 0)
                return i;
    }
    return N_FAMILIES;
}

/* One merged series of the children. */
struct series {
    char *key; /* name{labels} */
    size_t name_len;
    size_t family; /* N_FAMILIES: unknown, named by the series' name */
    double value;
    bool written;
};

struct render {
    struct series *v;
    size_t n, size;
    char *out;
    size_t len;
    FILE *f;
};

/* Adds or merges one validated sample line. */
static void
series_add(struct render *rd, const char *line, size_t len)
{
    const char *sp = memrchr(line, ' ', len);
    size_t key_len = (size_t)(sp - line), name_len = strcspn(line, "{ ");
    size_t family = family_of(line, name_len);
    double value = strtod(sp + 1, NULL);
    struct series *s;

    if (family < N_FAMILIES && families[family].master)
        return;
    for (size_t i = 0; i < rd->n; i++) {
        s = &rd->v[i];
        if (strlen(s->key) != key_len || memcmp(s->key, line, key_len) != 0)
            continue;
        if (family < N_FAMILIES && families[family].type == FAMILY_GAUGE)
            s->value = value < s->value ? value : s->value;
        else
            s->value += value;
        return;
    }
    if (rd->n == rd->size) {
        size_t size = rd->size ? rd->size * 2 : 64;
        struct series *v = realloc(rd->v, size * sizeof(*v));

        if (!v)
            return;
        rd->v = v;
        rd->size = size;
    }
    s = &rd->v[rd->n];
    if (!(s->key = strndup(line, key_len)))
        return;
    s->name_len = name_len;
    s->family = family;
    s->value = value;
    s->written = false;
    rd->n++;
}

static void
collect(struct render *rd, const char *samples)
{
    const char *p = samples, *nl;

    for (; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl)
            break;
        series_add(rd, p, (size_t)(nl - p));
    }
}

/* A float in the text format's spelling. */
static void
put_value(FILE *f, double v)
{
    if (isnan(v))
        fputs("NaN\n", f);
    else if (isinf(v))
        fputs(v > 0 ? "+Inf\n" : "-Inf\n", f);
    else
        fprintf(f, "%.17g\n", v);
}

static const char *
type_name(enum family_type t)
{
    static const char *names[] = {"counter", "gauge", "histogram", "untyped"};

    return names[t];
}

static void
put_header(FILE *f, const char *name, enum family_type type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
            type_name(type));
}

/* A label value with \, " and newline escaped. */
static void
put_label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void
put_restarts(FILE *f, const struct child *c)
{
    fprintf(f,
            "event_controller_child_restarts_total{role=\"%s\","
            "resource=\"",
            c->role == CHILD_WATCHER ? "watcher" : "emitter");
    put_label_value(f, c->role == CHILD_WATCHER ? c->key : "");
    fprintf(f, "\"} %lu\n", c->restarts);
}

/* The master's own families. */
static void
put_master(FILE *f, const struct master *m)
{
    size_t watchers = 0;

    for (size_t i = 0; i < m->n_watchers; i++)
        watchers += m->watchers[i]->pid > 0;
    put_header(f, families[0].name, families[0].type, families[0].help);
    fputs("event_controller_up 1\n", f);
    put_header(f, families[1].name, families[1].type, families[1].help);
    fprintf(f, "event_controller_children{role=\"watcher\"} %zu\n", watchers);
    fprintf(f, "event_controller_children{role=\"emitter\"} %d\n",
            m->emitter->pid > 0);
    put_header(f, families[2].name, families[2].type, families[2].help);
    put_restarts(f, m->emitter);
    for (size_t i = 0; i < m->n_watchers; i++)
        if (m->watchers[i]->wanted)
            put_restarts(f, m->watchers[i]);
    put_header(f, families[3].name, families[3].type, families[3].help);
    fprintf(f, "event_controller_reloads_total{result=\"success\"} %lu\n",
            m->reloads_ok);
    fprintf(f, "event_controller_reloads_total{result=\"failure\"} %lu\n",
            m->reloads_failed);
}

/* The series of one family, with its header first. */
static void
put_family(struct render *rd, size_t first)
{
    const struct series *f = &rd->v[first];
    size_t family = f->family, name_len = f->name_len;
    const char *name = f->key;

    if (family < N_FAMILIES)
        put_header(rd->f, families[family].name, families[family].type,
                   families[family].help);
    else
        fprintf(rd->f,
                "# HELP %.*s Not known to the master.\n"
                "# TYPE %.*s untyped\n",
                (int)name_len, name, (int)name_len, name);

    for (size_t j = first; j < rd->n; j++) {
        struct series *s = &rd->v[j];

        if (s->written || s->family != family ||
            (family == N_FAMILIES &&
             (s->name_len != name_len || memcmp(s->key, name, name_len) != 0)))
            continue;
        fprintf(rd->f, "%s ", s->key);
        put_value(rd->f, s->value);
        s->written = true;
    }
}

char *
metrics_render(const struct master *m, size_t *len)
{
    struct render rd = {0};

    rd.f = open_memstream(&rd.out, &rd.len);
    if (!rd.f)
        return NULL;
    put_master(rd.f, m);

    collect(&rd, m->emitter->samples);
    for (size_t i = 0; i < m->n_watchers; i++)
        collect(&rd, m->watchers[i]->samples);
    for (size_t i = 0; i < rd.n; i++)
        if (!rd.v[i].written)
            put_family(&rd, i);

    for (size_t i = 0; i < rd.n; i++)
        free(rd.v[i].key);
    free(rd.v);
    if (fclose(rd.f) != 0) {
        free(rd.out);
        return NULL;
    }
    *len = rd.len;
    return rd.out;
}
