#!/bin/sh
# SIGTERM stops the watchers, then the emitter, and the master exits 0
# within the emitter's drain deadline.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
ns=$(test_namespace)
resources_json "$test_tmp/resources.json" notebooks imagebuilders
master_start --resources "$test_tmp/resources.json" --namespace "$ns"
check "the master becomes ready" wait_until 30 ready
children=$(pgrep -P "$master_pid" | tr '\n' ' ')
is "$(echo $children | wc -w)" 3 "two watchers and an emitter run"

kill -TERM "$master_pid"
start=$(date +%s)
# Ended, or a zombie waiting for this shell's wait.
exited() {
    [ ! -d /proc/"$master_pid" ] ||
        awk '{ exit $3 != "Z" }' /proc/"$master_pid"/stat
}
# The default drain deadline is 10 s; the master kills the emitter 2 s
# after it.
check "the master exits within the drain deadline" wait_until 13 exited
wait "$master_pid"
is "$?" 0 "with status 0"
gone() {
    for c in $children; do
        [ -d /proc/"$c" ] && return 1
    done
    return 0
}
check "no child is left" gone
check "the watchers ended before the emitter" sh -c "
    grep -n 'ended' '$master_log' | tail -1 | grep -q 'emitter pid'"
like "$(($(date +%s) - start))" '^([0-9]|1[0-2])$' \
    "within 12 s (seconds taken)"

log_clean "$master_log"
test_done
