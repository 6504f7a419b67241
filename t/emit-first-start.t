#!/bin/sh
# The very first start (an empty state dir) writes no Created Event for
# the objects that already exist, but does for those created afterwards;
# a restart with the same state dir writes nothing again.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"

cluster_shared
ns=$(test_namespace)
emit_init

check "two Notebooks exist before the first start" \
    sh -c "$(command -v kubectl) --kubeconfig $KUBECONFIG apply -f - <<YAML
apiVersion: v1
kind: List
items:
- {apiVersion: tensorstack.dev/v1beta1, kind: Notebook,
   metadata: {name: old1, namespace: $ns}, spec: {image: a}}
- {apiVersion: tensorstack.dev/v1beta1, kind: Notebook,
   metadata: {name: old2, namespace: $ns}, spec: {image: a},
   status: {phase: Running}}
YAML"

emit_notebooks
check "the first start saves a position" \
    wait_until 30 test -s "$emit_dir/state/nb.state"
notebook new1
expect new1 Created 'created'
check "a Notebook created afterwards gets its Created Event" \
    wait_until 20 events_at_least "$ns" 1
k -n "$ns" patch notebook old1 --type=merge -p '{"spec":{"image":"b"}}' \
    >/dev/null
expect old1 Updated 'spec changed \(generation 1 → 2\) by kubectl-patch'
check "an existing Notebook's update is an update" \
    wait_until 20 events_at_least "$ns" 2
check "and nothing else is written" wait_until 20 events_settled "$ns" 2
events_json "$ns" >"$test_tmp/events-1.json"
check "no Created Event for the Notebooks that existed" \
    $verify_events "$record" "$test_tmp/events-1.json"

emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"
emit_notebooks
notebook new2
expect new2 Created 'created'
check "after a restart a new Notebook gets its Event" \
    wait_until 20 events_at_least "$ns" 3
check "and nothing is written again" wait_until 20 events_settled "$ns" 3
events_json "$ns" >"$test_tmp/events-2.json"
check "every Event once, none for the Notebooks that existed" \
    $verify_events "$record" "$test_tmp/events-2.json"

emit_kill "$emitter_pid"
emit_kill "$watcher_pid_nb"
emit_notebooks
notebook new3
expect new3 Created 'created'
check "after a kill -9 and a restart a new Notebook gets its Event" \
    wait_until 20 events_at_least "$ns" 4
check "and nothing else is written" wait_until 20 events_settled "$ns" 4
events_json "$ns" >"$test_tmp/events-3.json"
check "still every Event once" \
    $verify_events "$record" "$test_tmp/events-3.json"

emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"
log_clean "$emit_dir/emitter.log"
log_clean "$emit_dir/watcher-nb.log"
test_done
