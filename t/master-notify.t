#!/bin/sh
# The master speaks systemd's notification protocol: READY=1 once every
# watcher has listed, STATUS=, RELOADING=1 on SIGHUP, STOPPING=1 on
# SIGTERM, and WATCHDOG=1 when the watchdog is on.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
ns=$(test_namespace)
resources_json "$test_tmp/resources.json" notebooks
sock=$test_tmp/notify.sock
got=$test_tmp/notify.log
# The listener writes its own pid: python3 may be a wrapper that forks.
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[3], "w").write(str(os.getpid()))
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode() + "\n")
        out.flush()
' "$sock" "$got" "$test_tmp/listener.pid" >/dev/null 2>&1 &
wait_until 5 test -s "$test_tmp/listener.pid" || bail_out "no notify socket"
listener_pid=$(cat "$test_tmp/listener.pid")
listener_kill() { kill "$listener_pid"; }
test_cleanup listener_kill

# WATCHDOG_PID must name the master, so it is set where its pid is known.
NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 sh -c 'exec env WATCHDOG_PID=$$ \
    "$0" "$@"' "$EC_BIN" --kubeconfig "$KUBECONFIG" \
    --state-dir "$test_tmp/state" --metrics-address 127.0.0.1:0 -v 2 \
    --resources "$test_tmp/resources.json" --namespace "$ns" \
    >>"$master_log" 2>&1 &
master_pid=$!
test_cleanup master_kill

got_line() { grep -Eq -- "$1" "$got"; }
check "READY=1 is sent" wait_until 30 got_line '^READY=1$'
check "STATUS= says how many resources are watched" \
    got_line '^STATUS=watching 1 resources, 1 synced, .*emitter up'
check "WATCHDOG=1 is sent with a 1 s watchdog" \
    wait_until 5 got_line '^WATCHDOG=1$'

# Only the master may talk to systemd: the children do not even know how.
for child in $(pgrep -P "$master_pid"); do
    is "$(tr '\0' '\n' </proc/"$child"/environ |
        grep -c '^\(NOTIFY_SOCKET\|WATCHDOG_PID\|WATCHDOG_USEC\)=')" 0 \
        "child $child has none of systemd's notification variables"
done

kill -HUP "$master_pid"
check "RELOADING=1 is sent on SIGHUP" wait_until 10 got_line '^RELOADING=1$'
check "then READY=1 again" wait_until 10 sh -c \
    "sed -n '/^RELOADING=1/,\$p' '$got' | grep -q '^READY=1$'"

kill -TERM "$master_pid"
check "STOPPING=1 is sent on SIGTERM" wait_until 10 got_line '^STOPPING=1$'
wait "$master_pid"
is "$?" 0 "the master exits 0"

log_clean "$master_log"
test_done
