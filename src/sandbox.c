/*
 * The children's sandbox: PR_SET_NO_NEW_PRIVS, then a seccomp filter that
 * allows only the system calls a role makes (found with strace -f -c on
 * real runs, plus the paths of errors and of the resolver).
 *
 * A system call off the list kills the process (SCMP_ACT_KILL_PROCESS)
 * rather than failing with EPERM: a child that can be made to run code it
 * should not must not get to probe, and the death is easy to diagnose,
 * since the master logs it as "killed by signal SIGSYS" and restarts the
 * child.  Writing a file is different: the open is refused with EACCES,
 * so that the code that tried reports the path it could not open.
 *
 * The filter cannot tell a socket from a file by its fd, so write() stays
 * allowed; a watcher writes only to what it was given (its pipe, stderr)
 * and the sockets it opens, because it cannot open a file for writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "log.h"
#include "sandbox.h"

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

/* What both roles do: memory, time, polling, sockets, reading files. */
static const int common_syscalls[] = {
    SCMP_SYS(read),
    SCMP_SYS(readv),
    SCMP_SYS(pread64),
    SCMP_SYS(write),
    SCMP_SYS(writev),
    SCMP_SYS(close),
    SCMP_SYS(lseek),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(statx),
    SCMP_SYS(stat),
    SCMP_SYS(lstat),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(getcwd),
    SCMP_SYS(getdents64),
    SCMP_SYS(fcntl),
    SCMP_SYS(dup),
    SCMP_SYS(dup2),
    SCMP_SYS(dup3),
    SCMP_SYS(pipe2),
    SCMP_SYS(ioctl),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(mremap),
    SCMP_SYS(madvise),
    SCMP_SYS(brk),
    SCMP_SYS(mlock),
    SCMP_SYS(munlock),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(kill),
    SCMP_SYS(tgkill),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(futex),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(get_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(set_tid_address),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(membarrier),
    SCMP_SYS(getpid),
    SCMP_SYS(getppid),
    SCMP_SYS(gettid),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(getresuid),
    SCMP_SYS(getresgid),
    SCMP_SYS(getrlimit),
    SCMP_SYS(prlimit64),
    SCMP_SYS(getrusage),
    SCMP_SYS(uname),
    SCMP_SYS(sysinfo),
    SCMP_SYS(prctl),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(time),
    SCMP_SYS(nanosleep),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(getrandom),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(select),
    SCMP_SYS(pselect6),
    SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_pwait2),
    SCMP_SYS(eventfd2),
    SCMP_SYS(timerfd_create),
    SCMP_SYS(timerfd_settime),
    SCMP_SYS(timerfd_gettime),
    SCMP_SYS(socket),
    SCMP_SYS(socketpair),
    SCMP_SYS(connect),
    SCMP_SYS(bind),
    SCMP_SYS(getsockname),
    SCMP_SYS(getpeername),
    SCMP_SYS(getsockopt),
    SCMP_SYS(setsockopt),
    SCMP_SYS(shutdown),
    SCMP_SYS(sendto),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(recvmmsg),
};

/* The emitter keeps its positions: temporary file, fsync, rename. */
static const int emitter_syscalls[] = {
    SCMP_SYS(fsync),    SCMP_SYS(fdatasync), SCMP_SYS(rename),
    SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink),
    SCMP_SYS(unlinkat), SCMP_SYS(ftruncate), SCMP_SYS(fchmod),
    SCMP_SYS(pwrite64),
};

/* An exec credential plugin: fork, exec, wait. */
static const int exec_syscalls[] = {
    SCMP_SYS(execve),
    SCMP_SYS(vfork),
    SCMP_SYS(wait4),
    SCMP_SYS(fork),
};

static int
allow_all(scmp_filter_ctx ctx, const int *v, size_t n)
{
    int r;

    for (size_t i = 0; i < n; i++) {
        /* A call this kernel's table lacks is simply not there. */
        if (v[i] < 0)
            continue;
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, v[i], 0);
        if (r < 0)
            return r;
    }
    return 0;
}

/*
 * Allows syscall (an open) when its flags, argument arg, have no write
 * flag, and refuses it with EACCES when they have any: one rule a flag,
 * since seccomp can test a masked value for equality only.
 */
static int
refuse_writes(scmp_filter_ctx ctx, int syscall, unsigned arg)
{
    static const int flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};
    int r;

    r = seccomp_rule_add(
        ctx, SCMP_ACT_ALLOW, syscall, 1,
        (struct scmp_arg_cmp){arg, SCMP_CMP_MASKED_EQ, WRITE_FLAGS, 0});
    for (size_t i = 0; r == 0 && i < sizeof(flags) / sizeof(flags[0]); i++)
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), syscall, 1,
                             (struct scmp_arg_cmp){arg, SCMP_CMP_MASKED_EQ,
                                                   (scmp_datum_t)flags[i],
                                                   (scmp_datum_t)flags[i]});
    return r;
}

/*
 * open and openat only without write flags for the watcher; the emitter
 * may write too (only in the state folder, by its own code: a path rule
 * cannot be checked by seccomp).  openat2 keeps its flags in memory the
 * filter cannot read, and glibc does not need it: ENOSYS.
 */
static int
allow_open(scmp_filter_ctx ctx, enum sandbox_role role)
{
    int r;

    if (role == SANDBOX_EMITTER) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 0);
        if (r == 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 0);
    } else {
        r = refuse_writes(ctx, SCMP_SYS(openat), 2);
        if (r == 0)
            r = refuse_writes(ctx, SCMP_SYS(open), 1);
    }
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0);
    return r;
}

/*
 * Threads (curl's resolver) but no processes, unless for an exec plugin.
 * clone3 passes its flags in memory: ENOSYS makes glibc fall back to
 * clone, whose flags the filter can read.
 */
static int
allow_clone(scmp_filter_ctx ctx, bool exec_plugin)
{
    int r;

    r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (r == 0 && exec_plugin)
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
    if (r == 0)
        r = seccomp_rule_add(
            ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
            SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    return r;
}

/* The watcher must have been given a pipe to write to, nothing else. */
static int
check_output(int fd)
{
    struct stat st;
    int flags;

    if (fstat(fd, &st) < 0 || (flags = fcntl(fd, F_GETFL)) < 0)
        return -errno;
    if (!S_ISFIFO(st.st_mode) || (flags & O_ACCMODE) != O_WRONLY)
        return -EBADF;
    return 0;
}

/* The filter of role, loaded into the kernel. */
static int
load_filter(enum sandbox_role role, bool exec_plugin)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    int r;

    if (!ctx)
        return -ENOMEM;
    r = allow_all(ctx, common_syscalls,
                  sizeof(common_syscalls) / sizeof(common_syscalls[0]));
    if (r == 0 && role == SANDBOX_EMITTER)
        r = allow_all(ctx, emitter_syscalls,
                      sizeof(emitter_syscalls) / sizeof(emitter_syscalls[0]));
    if (r == 0 && exec_plugin)
        r = allow_all(ctx, exec_syscalls,
                      sizeof(exec_syscalls) / sizeof(exec_syscalls[0]));
    if (r == 0)
        r = allow_open(ctx, role);
    if (r == 0)
        r = allow_clone(ctx, exec_plugin);
    if (r == 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    return r;
}

int
sandbox_enter(enum sandbox_role role, int output_fd, bool exec_plugin)
{
    int r;

    if (role == SANDBOX_WATCHER && (r = check_output(output_fd)) < 0) {
        log_error("fd %d is not a pipe open for writing: %s, exiting",
                  output_fd, strerror(-r));
        return r;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        r = -errno;
        log_error("prctl(PR_SET_NO_NEW_PRIVS) failed: %s, exiting",
                  strerror(errno));
        return r;
    }
#if defined(__SANITIZE_ADDRESS__)
    /*
     * The leak check of AddressSanitizer stops the process at exit with
     * clone and ptrace, which the filter would kill: sanitizer builds run
     * their children without it, and the plain build tests the filter.
     */
    return 0;
#endif
    /*
     * Known shortcoming: the filter would pass through exec to a
     * credential plugin and kill it, so a child whose credentials come
     * from one runs with no_new_privs only.
     */
    if (exec_plugin) {
        log_info(1, "credentials come from an exec plugin: running "
                    "without the seccomp filter");
        return 0;
    }
    if (sandbox_under_valgrind()) {
        log_info(1, "running under valgrind: no seccomp filter");
        return 0;
    }
    r = load_filter(role, exec_plugin);
    if (r < 0)
        log_error("cannot load the seccomp filter: %s, exiting", strerror(-r));
    return r;
}

bool
sandbox_under_valgrind(void)
{
    return RUNNING_ON_VALGRIND != 0;
}
