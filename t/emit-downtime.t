#!/bin/sh
# Changes made while neither the watcher nor the emitter runs, and lost to
# a compaction of etcd, are still represented: the relist finds them and
# they are written as resync Events.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"

cluster_private downtime --no-watch-cache
ns=$(test_namespace)
emit_init
resync=' \(observed at resync\)'

emit_notebooks
check "the first start saves a position" \
    wait_until 30 test -s "$emit_dir/state/nb.state"
for name in keep1 keep2 gone1; do
    notebook $name
    expect $name Created 'created'
done
check "three Notebooks get their Created Events" \
    wait_until 20 events_at_least "$ns" 3
emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"

notebook new1
k -n "$ns" patch notebook keep1 --type=merge -p '{"spec":{"image":"b"}}' \
    >/dev/null
k -n "$ns" patch notebook keep1 --subresource=status --type=merge \
    -p '{"status":{"phase":"Running"}}' >/dev/null
k -n "$ns" delete notebook gone1 >/dev/null
check "etcd compacts the history of the downtime" "$KUBE" compact "$cluster_dir"
expect new1 Created "created$resync"
expect keep1 Updated "spec changed \\(generation 1 → 2\\)$resync"
expect keep1 StatusChanged "phase none → Running$resync"
expect gone1 Deleted "deleted while not watched$resync"

emit_notebooks
check "after the restart the changes of the downtime get Events" \
    wait_until 60 events_at_least "$ns" 7
check "and no more appear" wait_until 30 events_settled "$ns" 7
events_json "$ns" >"$test_tmp/events.json"
check "each change is represented once, as a resync Event" \
    $verify_events "$record" "$test_tmp/events.json"
like "$(cat "$emit_dir/watcher-nb.log")" '410|[Ee]xpired|too old' \
    "the watcher's resume point was compacted away"

emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"
log_clean "$emit_dir/emitter.log"
log_clean "$emit_dir/watcher-nb.log"
test_done
