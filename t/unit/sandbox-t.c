/*
 * The sandbox: a watcher under its filter may read files, may not open
 * one for writing in any way (EACCES), and dies by SIGSYS on a system
 * call off its list.  The emitter may write files.  Each case runs in a
 * child of its own, since a filter cannot be taken back.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "tap.h"

static char path[] = "/tmp/sandbox-t.XXXXXX";

/* Runs case in a child in the sandbox of role; its wait status. */
static int
in_sandbox(enum sandbox_role role, int (*test_case)(void))
{
    int fds[2], status = -1;
    pid_t pid;

    if (pipe(fds) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        if (sandbox_enter(role, role == SANDBOX_WATCHER ? fds[1] : -1, false) <
            0)
            _exit(100);
        _exit(test_case());
    }
    close(fds[0]);
    close(fds[1]);
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return status;
}

/* 0 when the file opens for reading. */
static int
read_file(void)
{
    int fd = open(path, O_RDONLY);

    return fd >= 0 ? 0 : 1;
}

/* 0 when each way to open for writing fails with EACCES. */
static int
write_file(void)
{
    static const int flags[] = {O_WRONLY,
                                O_RDWR,
                                O_WRONLY | O_APPEND,
                                O_RDONLY | O_CREAT,
                                O_RDONLY | O_TRUNC,
                                O_WRONLY | O_CREAT | O_TRUNC};

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (open(path, flags[i], 0600) >= 0 || errno != EACCES)
            return (int)i + 1;
    return 0;
}

/* Makes a call no role needs; the filter should kill the process. */
static int
forbidden_call(void)
{
    ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    return 0;
}

/* 0 when the file opens for writing. */
static int
emitter_write(void)
{
    int fd = open(path, O_WRONLY | O_APPEND);

    return fd >= 0 && write(fd, "x", 1) == 1 ? 0 : 1;
}

int
main(void)
{
    int fd = mkstemp(path), status;

#if defined(__SANITIZE_ADDRESS__)
    /* The sanitizer build runs its children without the filter. */
    printf("1..0 # SKIP the sanitizer build has no seccomp filter\n");
    return 0;
#endif
    if (sandbox_under_valgrind()) {
        printf("1..0 # SKIP valgrind implements no seccomp\n");
        return 0;
    }
    if (fd < 0) {
        printf("Bail out! mkstemp() failed\n");
        return 1;
    }
    close(fd);

    status = in_sandbox(SANDBOX_WATCHER, read_file);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "a watcher may open a file for reading");
    status = in_sandbox(SANDBOX_WATCHER, write_file);
    is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
           "a watcher's every open for writing fails with EACCES");
    status = in_sandbox(SANDBOX_WATCHER, forbidden_call);
    ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
       "a watcher dies by SIGSYS on a call off its list");
    status = in_sandbox(SANDBOX_EMITTER, forbidden_call);
    ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
       "so does the emitter");
    status = in_sandbox(SANDBOX_EMITTER, emitter_write);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "the emitter may open a file for writing");

    unlink(path);
    return tap_done();
}
