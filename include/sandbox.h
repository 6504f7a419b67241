/*
 * Isolation of the child processes: no new privileges, and a seccomp
 * allow-list of the system calls each role makes.  A child calls
 * sandbox_enter once its setup is done (files opened, client built).
 */
#ifndef EC_SANDBOX_H
#define EC_SANDBOX_H

#include <stdbool.h>

enum sandbox_role {
    SANDBOX_WATCHER, /* writes only to its pipe, its log and its sockets */
    SANDBOX_EMITTER, /* may also write files in the state folder */
};

/*
 * Enters the sandbox of role.  output_fd is the watcher's pipe (-1 for the
 * emitter): it must be a pipe open for writing.  exec_plugin allows fork
 * and exec, for a kubeconfig exec credential plugin.  Returns 0 or
 * -errno; the caller should exit then.
 */
int sandbox_enter(enum sandbox_role role, int output_fd, bool exec_plugin);

/*
 * Whether this process runs under valgrind, which implements no seccomp
 * and runs its tool in the process: there the children run without the
 * filter, and exec this binary by its file name.
 */
bool sandbox_under_valgrind(void);

#endif
