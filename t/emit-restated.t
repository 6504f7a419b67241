#!/bin/sh
# The emitter loses the position it saved after writing Events, as a crash
# before its next save would, and a compaction then takes the watch's
# history: the relist restates what the older position had not seen.  A
# restated change must get the name its Event was written under, so that
# the apiserver refuses it with 409 and no change is written twice.  The
# case here is the hard one: a status change followed by a spec change,
# so that the object's resourceVersion moved on after the status change.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"

cluster_private restated --no-watch-cache
ns=$(test_namespace)
emit_init
state=$emit_dir/state

emit_watcher nb --group tensorstack.dev --version v1beta1 \
    --resource notebooks --namespace "$ns"
emit_emitter nb -- -v 3
# Until the first list is done, a new Notebook would count as one that
# was there before the controller, and get no Event.
check "the first start saves a position" \
    wait_until 30 test -s "$state/nb.state"
notebook a
expect a Created 'created'
uid=$(k -n "$ns" get notebook a -o jsonpath='{.metadata.uid}')
# The snapshot, or the journal of what changed since.
check "the position saved holds the new Notebook" \
    wait_until 30 grep -q "$uid" "$state"/nb.state*
mkdir -p "$test_tmp/saved"
cp "$state"/nb.* "$test_tmp/saved/"

k -n "$ns" patch notebook a --subresource=status --type=merge \
    -p '{"status":{"phase":"Running"}}' >/dev/null
expect a StatusChanged 'phase none → Running'
k -n "$ns" patch notebook a --type=merge -p '{"spec":{"image":"b"}}' \
    >/dev/null
expect a Updated 'spec changed \(generation 1 → 2\)( by .*)?'
check "the status and the spec change get their Events" \
    wait_until 30 events_at_least "$ns" 3
emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"

# As if the emitter had died before saving what it wrote.
rm -f "$state"/nb.*
cp "$test_tmp/saved"/nb.* "$state/"
check "etcd compacts the history since" "$KUBE" compact "$cluster_dir"
mv "$emit_dir/emitter.log" "$emit_dir/emitter-before.log"
watches=$(grep -c '\[start to watch\]' "$emit_dir/watcher-nb.log")
emit_watcher nb --group tensorstack.dev --version v1beta1 \
    --resource notebooks --namespace "$ns"
emit_emitter nb -- -v 3
relisted() {
    [ "$(grep -c '\[start to watch\]' "$emit_dir/watcher-nb.log")" -ge \
        $((watches + 2)) ]
}
check "the watcher's resume point is gone, and it relists" \
    wait_until 60 relisted
check "no Event is added" wait_until 30 events_settled "$ns" 3
emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"

# written_total counts 409 as written: after the restart, the restated
# changes were sent.
written() {
    series='event_controller_events_written_total{resource="notebooks[^"]*"'
    sed -n "s/^$series,reason=\"$1\"} \([0-9]*\)\$/\1/p" \
        "$emit_dir/emitter.log" | tail -1
}
is "$(written StatusChanged)" 1 "the status change was restated and sent"
is "$(written Updated)" 1 "so was the spec change"
events_json "$ns" >"$test_tmp/events.json"
check "each change has one Event, written once" \
    $verify_events "$record" "$test_tmp/events.json"

log_clean "$emit_dir/emitter-before.log"
log_clean "$emit_dir/emitter.log"
log_clean "$emit_dir/watcher-nb.log"
test_done
