/*
 * The master's end of the emitter's control socket.
 *
 * The master sends "add KEY" with the read end of a watcher's pipe, and
 * "remove KEY".  With leader election, the emitter says "leader" once it
 * leads, and only then do watchers start.  It answers "released KEY"
 * once it has written,
 * saved and forgotten what it held of KEY (emitter.c says why).  Until
 * then KEY is held: no new watcher of KEY starts, because it would read a
 * state file the emitter is still moving.  The emitter is trusted no more
 * than any child: a message that is not exactly that is logged and
 * ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

#define CONTROL_MESSAGE_MAX 512

/* The index of key among the held keys, or -1. */
static ssize_t
held_index(const struct master *m, const char *key)
{
    for (size_t i = 0; i < m->n_held; i++)
        if (strcmp(m->held[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

/* Whether the emitter still holds the changes of key; see above. */
bool
control_held(const struct master *m, const char *key)
{
    return held_index(m, key) >= 0;
}

/* Marks key as held by the emitter. */
static int
hold(struct master *m, const char *key)
{
    char **v;

    if (control_held(m, key))
        return 0;
    v = realloc(m->held, (m->n_held + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    m->held = v;
    if (!(m->held[m->n_held] = strdup(key)))
        return -ENOMEM;
    m->n_held++;
    return 0;
}

/* The emitter let go of key. */
static void
unhold(struct master *m, const char *key)
{
    ssize_t i = held_index(m, key);

    if (i < 0) {
        log_info(2, "the emitter released %s, which it did not hold", key);
        return;
    }
    free(m->held[i]);
    m->held[i] = m->held[--m->n_held];
    log_info(2, "the emitter released %s", key);
}

/* The emitter ended: what it held is gone with it. */
void
control_reset(struct master *m)
{
    m->control_source = sd_event_source_disable_unref(m->control_source);
    if (m->control_fd >= 0)
        close(m->control_fd);
    m->control_fd = -1;
    for (size_t i = 0; i < m->n_held; i++)
        free(m->held[i]);
    free(m->held);
    m->held = NULL;
    m->n_held = 0;
    m->emitter_leads = false;
}

/*
 * Sends "verb KEY" to the emitter, with the watcher's pipe for "add".
 * The master's copy of the pipe is closed once the emitter has it.
 */
int
control_send(struct master *m, const char *verb, struct child *c)
{
    char text[CONTROL_MESSAGE_MAX];
    char cmsg_buf[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {.iov_base = text};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *cmsg;
    int n;

    n = snprintf(text, sizeof(text), "%s %s", verb, c->key);
    if (n < 0 || (size_t)n >= sizeof(text))
        return -ENAMETOOLONG;
    iov.iov_len = (size_t)n;
    if (strcmp(verb, "add") == 0) {
        msg.msg_control = cmsg_buf;
        msg.msg_controllen = sizeof(cmsg_buf);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &c->output_read, sizeof(int));
    }

    if (sendmsg(m->control_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        n = -errno;
        /* A full socket: the emitter is busy; the pipe goes next round. */
        if (n != -EAGAIN)
            log_warn("sendmsg() of \"%s\" to the emitter failed: %s, "
                     "retrying when the emitter restarts",
                     text, strerror(-n));
        return n;
    }
    if (msg.msg_control) {
        close(c->output_read);
        c->output_read = -1;
        if (hold(m, c->key) < 0)
            log_fatal(EXIT_FAILURE, "out of memory holding %s", c->key);
    }
    return 0;
}

/* Gives the emitter every pipe it does not have yet. */
void
control_send_pipes(struct master *m)
{
    for (size_t i = 0; i < m->n_watchers; i++)
        if (m->watchers[i]->output_read >= 0 &&
            control_send(m, "add", m->watchers[i]) == -EAGAIN)
            return;
}

/* Reads what the emitter says; each message may let watchers start. */
static int
on_control(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    struct master *m = userdata;
    char buf[CONTROL_MESSAGE_MAX];
    bool reconcile = false;
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
        buf[n] = '\0';
        if (strncmp(buf, "released ", 9) == 0 && buf[9]) {
            unhold(m, buf + 9);
            reconcile = true;
            continue;
        }
        if (strcmp(buf, "leader") == 0 && m->cfg->leader_election) {
            if (!m->emitter_leads)
                log_info(1, "the emitter leads, starting the watchers");
            m->emitter_leads = true;
            reconcile = true;
            continue;
        }
        log_warn("unexpected message \"%.64s\" from the emitter, ignoring "
                 "it",
                 buf);
    }
    /* The end of the socket is the emitter ending: SIGCHLD handles it. */
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        sd_event_source_set_enabled(s, SD_EVENT_OFF);
    if (reconcile)
        master_reconcile(m);
    return 0;
}

/* Takes fd as the master's end of the new emitter's control socket. */
int
control_open(struct master *m, int fd)
{
    int r;

    control_reset(m);
    m->control_fd = fd;
    m->emitter_leads = !m->cfg->leader_election;
    r = sd_event_add_io(m->event, &m->control_source, fd, EPOLLIN, on_control,
                        m);
    if (r < 0)
        log_error("sd_event_add_io() of the control socket failed: %s, "
                  "watchers will not restart while the emitter runs",
                  strerror(-r));
    return r;
}
