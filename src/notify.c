/*
 * What the master tells systemd (sd_notify) and the readiness probe.
 *
 * With Type=notify only the main process may notify, so the children
 * never do: they publish their state (watch_synced) in their metrics
 * datagrams and the master turns it into READY=1 and STATUS=.  Without
 * $NOTIFY_SOCKET sd_notify does nothing and returns 0.
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "master.h"

/* Sends state; a failure costs only systemd's view, so it is a warning. */
static void
notify(const char *state)
{
    int r = sd_notify(0, state);

    if (r < 0)
        log_warn("sd_notify(%s) failed: %s, ignoring", state, strerror(-r));
}

void
notify_ready(void)
{
    notify("READY=1");
}

void
notify_reloading(void)
{
    notify("RELOADING=1");
}

void
notify_stopping(void)
{
    notify("STOPPING=1");
}

void
notify_status(struct master *m, const char *status)
{
    char line[sizeof(m->status) + 8];

    if (strcmp(status, m->status) == 0)
        return;
    snprintf(m->status, sizeof(m->status), "%s", status);
    snprintf(line, sizeof(line), "STATUS=%s", status);
    notify(line);
}

/*
 * sd-event sends WATCHDOG=1 itself, at a fraction of WATCHDOG_USEC, each
 * time the loop runs: a hung loop stops the pings, which is the point.
 */
int
notify_watchdog_init(sd_event *event)
{
    int r = sd_event_set_watchdog(event, 1);

    if (r < 0)
        log_warn("sd_event_set_watchdog() failed: %s, no watchdog pings",
                 strerror(-r));
    return r;
}

bool
master_ready(const struct master *m, char *reason, size_t size)
{
    size_t waiting = 0;
    const char *first = NULL;

    if (m->emitter->state != CHILD_RUNNING) {
        snprintf(reason, size, "the emitter is not running");
        return false;
    }
    /* A standby is ready: it is doing all it should, waiting. */
    if (m->cfg->leader_election && !m->emitter_leads) {
        snprintf(reason, size, "ok: standby");
        return true;
    }
    for (size_t i = 0; i < m->n_watchers; i++) {
        const struct child *c = m->watchers[i];

        /* One that cannot list, maybe for good, holds nothing back. */
        if (!c->wanted || c->synced || c->waiting || c->state == CHILD_FAILED)
            continue;
        if (waiting++ == 0)
            first = c->key;
    }
    if (waiting > 0) {
        snprintf(reason, size, "%zu watchers have not listed yet, as %s",
                 waiting, first);
        return false;
    }
    snprintf(reason, size, m->cfg->leader_election ? "ok: leader" : "ok");
    return true;
}

/* "leader: ", "standby: " or nothing without leader election. */
static const char *
election_role(const struct master *m)
{
    if (!m->cfg->leader_election)
        return "";
    return m->emitter_leads ? "leader: " : "standby: ";
}

/* "up", "restarting", ... for STATUS=. */
static const char *
emitter_state(const struct child *e)
{
    switch (e->state) {
    case CHILD_RUNNING:
        return "up";
    case CHILD_STOPPING:
        return "stopping";
    case CHILD_FAILED:
        return "failed";
    case CHILD_IDLE:
        break;
    }
    return e->restarts > 0 ? "restarting" : "starting";
}

void
master_report(struct master *m)
{
    size_t wanted = 0, synced = 0, waiting = 0, restarting = 0, failed = 0;
    char status[256], reason[128];

    for (size_t i = 0; i < m->n_watchers; i++) {
        const struct child *c = m->watchers[i];

        if (!c->wanted)
            continue;
        wanted++;
        synced += c->synced;
        waiting += c->waiting && !c->synced;
        restarting += c->state == CHILD_IDLE && c->restarts > 0;
        failed += c->state == CHILD_FAILED;
    }
    snprintf(status, sizeof(status),
             "%s%swatching %zu resources, %zu synced, %zu waiting for "
             "their resource, %zu restarting, %zu failed, emitter %s",
             m->stopping ? "stopping: " : "", election_role(m), wanted, synced,
             waiting, restarting, failed, emitter_state(m->emitter));
    notify_status(m, status);

    if (!m->ready_sent && !m->stopping &&
        master_ready(m, reason, sizeof(reason))) {
        log_info(1, "%s: ready",
                 m->cfg->leader_election && !m->emitter_leads
                     ? "the emitter stands by"
                     : "every watcher that can list has listed and the "
                       "emitter is up");
        notify_ready();
        m->ready_sent = true;
    }
}
