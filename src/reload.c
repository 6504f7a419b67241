/*
 * Reloading the configuration: on SIGHUP, and when the configuration file
 * or the resources file changes.
 *
 * inotify watches the folders, not the files: a ConfigMap volume updates
 * by renaming a new "..data" symlink over the old one, so the file itself
 * never changes and a watch on it would follow the old copy.  Changes come
 * in bursts (an editor's temp file and rename, the volume's several
 * steps), so a reload waits for 200 ms of quiet.
 *
 * The new configuration is parsed completely before anything changes; a
 * broken one is reported line by line and the old one keeps running.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "master.h"
#include "settings.h"

#define RELOAD_DEBOUNCE_US 200000
#define WATCHED_MAX        2

struct reload_state {
    int fd;
    sd_event_source *io, *debounce;
    int wd[WATCHED_MAX];
    char *names[WATCHED_MAX]; /* base names of the files in use */
};

/* True for a change to one of the files, or to a volume's ..data. */
static bool
relevant(const struct reload_state *rs, const char *name)
{
    if (strcmp(name, "..data") == 0)
        return true;
    for (size_t i = 0; i < WATCHED_MAX; i++)
        if (rs->names[i] && strcmp(rs->names[i], name) == 0)
            return true;
    return false;
}

/* Reads the inotify events; a relevant one (re)arms the debounce. */
static int
on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct master *m = userdata;
    struct reload_state *rs = m->reload;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    const struct inotify_event *ev;
    bool changed = false;
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
            ev = (const struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW ||
                (ev->len > 0 && relevant(rs, ev->name)))
                changed = true;
        }
    if (!changed)
        return 0;
    sd_event_source_set_time_relative(rs->debounce, RELOAD_DEBOUNCE_US);
    sd_event_source_set_enabled(rs->debounce, SD_EVENT_ONESHOT);
    return 0;
}

static int
on_debounce(sd_event_source *s, uint64_t usec, void *userdata)
{
    struct master *m = userdata;

    log_info(1, "the configuration changed on disk, reloading");
    reload_now(m);
    return 0;
}

/* Watches the folder of path and remembers its base name. */
static void
watch_file(struct reload_state *rs, size_t slot, const char *path)
{
    char dir[PATH_MAX], base[PATH_MAX];
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                          IN_CREATE | IN_DELETE | IN_ATTRIB;

    if (!path || strlen(path) >= sizeof(dir))
        return;
    strcpy(dir, path);
    strcpy(base, path);
    rs->names[slot] = strdup(basename(base));
    rs->wd[slot] = inotify_add_watch(rs->fd, dirname(dir), mask);
    if (rs->wd[slot] < 0)
        log_warn("inotify_add_watch() of %s failed: %s, reloading it only "
                 "on SIGHUP",
                 dir, strerror(errno));
}

void
reload_watch_files(struct master *m)
{
    struct reload_state *rs = m->reload;
    const char *resources = m->opts->resources_path;

    for (size_t i = 0; i < WATCHED_MAX; i++) {
        if (rs->wd[i] >= 0)
            inotify_rm_watch(rs->fd, rs->wd[i]);
        rs->wd[i] = -1;
        free(rs->names[i]);
        rs->names[i] = NULL;
    }
    if (!resources)
        resources = m->cfg->resources_file;
    watch_file(rs, 0, settings_config_path(m->opts));
    watch_file(rs, 1, resources);
}

int
reload_init(struct master *m)
{
    struct reload_state *rs = calloc(1, sizeof(*rs));
    int r;

    if (!rs)
        return -ENOMEM;
    m->reload = rs;
    for (size_t i = 0; i < WATCHED_MAX; i++)
        rs->wd[i] = -1;
    rs->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (rs->fd < 0) {
        log_warn("inotify_init1() failed: %s, reloading only on SIGHUP",
                 strerror(errno));
        return 0;
    }
    r = sd_event_add_io(m->event, &rs->io, rs->fd, EPOLLIN, on_inotify, m);
    if (r >= 0)
        r = sd_event_add_time(m->event, &rs->debounce, CLOCK_MONOTONIC,
                              UINT64_MAX, 0, on_debounce, m);
    if (r < 0) {
        log_error("cannot watch the configuration: %s, exiting", strerror(-r));
        return r;
    }
    sd_event_source_set_enabled(rs->debounce, SD_EVENT_OFF);
    reload_watch_files(m);
    return 0;
}

void
reload_free(struct master *m)
{
    struct reload_state *rs = m->reload;

    if (!rs)
        return;
    sd_event_source_disable_unref(rs->io);
    sd_event_source_disable_unref(rs->debounce);
    if (rs->fd >= 0)
        close(rs->fd);
    for (size_t i = 0; i < WATCHED_MAX; i++)
        free(rs->names[i]);
    free(rs);
    m->reload = NULL;
}

/* The metrics address moved: serve at the new one. */
static void
http_move(struct master *m, const char *old_address)
{
    struct http_server *h;

    if (strcmp(old_address, m->cfg->metrics_address) == 0)
        return;
    if (http_start(m, m->cfg->metrics_address, &h) < 0)
        return;
    http_stop(m->http);
    m->http = h;
}

void
reload_now(struct master *m)
{
    struct config_problems problems = {0};
    struct ec_config *cfg;
    char *old_address;
    int r;

    if (m->stopping)
        return;
    notify_reloading();
    r = settings_load(m->opts, &cfg, &problems);
    if (r < 0) {
        master_log_problems(&problems);
        log_error("reload failed: the new configuration is not valid, "
                  "keeping the running one");
        m->reloads_failed++;
        goto out;
    }

    old_address = strdup(m->cfg->metrics_address);
    r = master_set_config(m, cfg);
    if (r < 0)
        log_error("reload: out of memory, some watchers may be missing");
    if (old_address)
        http_move(m, old_address);
    free(old_address);
    reload_watch_files(m);
    m->reloads_ok++;
    log_info(1, "reloaded the configuration: %zu resources",
             m->cfg->n_resources);
    master_reconcile(m);

out:
    config_problems_free(&problems);
    /* READY=1 ends the reload; before the first one, readiness sends it. */
    if (m->ready_sent)
        notify_ready();
}
