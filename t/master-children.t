#!/bin/sh
# The master runs one watcher per resource and one emitter, restarts a
# watcher that crashes, isolates its children, and leaves no orphans.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
ns=$(test_namespace)
# gadgets are not served: their watcher waits for them, and may for good.
resources_json "$test_tmp/resources.json" notebooks imagebuilders gadgets
master_start --resources "$test_tmp/resources.json" --namespace "$ns"

check "a watcher for notebooks starts" wait_until 20 child_pid watcher notebooks
check "a watcher for imagebuilders starts" \
    wait_until 20 child_pid watcher imagebuilders
check "the emitter starts" wait_until 20 child_pid emitter
check "the master becomes ready, not held back by gadgets" wait_until 30 ready
check "the watcher of gadgets says what it waits for" log_has \
    'gadgets\.v1beta1\.tensorstack\.dev is not served; is its Custom'
gadgets_waiting() {
    http /metrics |
        grep -q '^event_controller_watch_waiting{resource="gadgets"} 1$'
}
check "and /metrics shows that it waits" wait_until 10 gadgets_waiting

pid=$(child_pid watcher notebooks)
fds=$(ls /proc/"$pid"/fd | sort -n | head -5 | tr '\n' ' ')
is "$fds" "0 1 2 3 4 " "the watcher was given fds 0 to 4"
# Under valgrind, the tool's own fds sit at the top of the range, and its
# report file anywhere.
others=$(for fd in $(ls /proc/"$pid"/fd | sort -n | tail -n +6); do
    [ -n "${EC_VALGRIND_LOGS:-}" ] && [ "$fd" -ge 1000 ] && continue
    readlink /proc/"$pid"/fd/"$fd"
done | grep -Ev '^(socket|anon_inode):' |
    grep -Fv "${EC_VALGRIND_LOGS:-/nonexistent}/" | tr '\n' ' ')
is "$others" "" "its other fds are only sockets and event fds of its own"
like "$(readlink /proc/"$pid"/fd/3)" '^pipe:' "its fd 3 is a pipe"
like "$(readlink /proc/"$pid"/fd/4)" '^socket:' "its fd 4 is a socket"
is "$(readlink /proc/"$pid"/fd/0)" /dev/null "its stdin is /dev/null"
is "$(readlink /proc/"$pid"/fd/1)" /dev/null "so is its stdout"
is "$(awk '/^NoNewPrivs:/ {print $2}' /proc/"$pid"/status)" 1 \
    "the watcher runs with no_new_privs"
emitter=$(child_pid emitter)
if [ -n "${EC_SANITIZERS:-}" ] || [ -n "${EC_VALGRIND_LOGS:-}" ]; then
    # The sanitizer build and valgrind leave the filter out (src/sandbox.c).
    want=0
else
    want=2
fi
is "$(awk '/^Seccomp:/ {print $2}' /proc/"$pid"/status)" $want \
    "the watcher runs under a seccomp filter (none with sanitizers)"
is "$(awk '/^Seccomp:/ {print $2}' /proc/"$emitter"/status)" $want \
    "the emitter runs under a seccomp filter (none with sanitizers)"

kill -9 "$pid"
restarted() {
    new=$(child_pid watcher notebooks)
    [ -n "$new" ] && [ "$new" != "$pid" ]
}
check "a watcher killed with SIGKILL is started again" wait_until 20 restarted
check "the crash is logged with its signal and the delay" log_has \
    '^E.* watcher notebooks\..* killed by signal SIGKILL, restarting it in'
is "$(child_pid emitter)" "$emitter" "the emitter keeps running"

# A watcher exits 78 when the API server rejects its configuration: custom
# resources cannot be selected by a spec field.
cat >"$test_tmp/resources.json.tmp" <<JSON
{"resources": [
  {"group": "tensorstack.dev", "version": "v1beta1", "resource": "notebooks"},
  {"group": "tensorstack.dev", "version": "v1beta1",
   "resource": "imagebuilders"},
  {"group": "tensorstack.dev", "version": "v1beta1",
   "resource": "workflowtemplates", "fieldSelector": "spec.size=1"}
]}
JSON
mv "$test_tmp/resources.json.tmp" "$test_tmp/resources.json"
check "a watcher whose configuration cannot work is not restarted" \
    wait_until 30 log_has \
    "watcher workflowtemplates.* status 78: .*not restarting"
n=$(grep -c 'started watcher workflowtemplates' "$master_log")
sleep 2
is "$(grep -c 'started watcher workflowtemplates' "$master_log")" "$n" \
    "and no start of it follows"
is "$(http /readyz | tail -1)" 200 "nor does it make the master unready"

children=$(pgrep -P "$master_pid" | tr '\n' ' ')
kill -9 "$master_pid"
gone() {
    for c in $children; do
        [ -d /proc/"$c" ] && return 1
    done
    return 0
}
check "killing the master kills its children: no orphans" wait_until 10 gone

log_clean "$master_log" \
    'killed by signal SIGKILL|rejected by the API server|status 78'
test_done
