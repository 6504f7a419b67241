#!/bin/sh
# The Events of a Notebook's life and of a ConfigMap's: one Event per
# change, with the reason, type and message kubectl shows, and a complete
# reference to the object.  A metadata-only change makes none.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"

cluster_shared
ns=$(test_namespace)
emit_init

emit_watcher nb --group tensorstack.dev --version v1beta1 \
    --resource notebooks --namespace "$ns"
emit_watcher cm --group "" --version v1 --resource configmaps \
    --namespace "$ns"
emit_emitter nb cm
check "the emitter saves each position once its watcher has listed" \
    wait_until 30 test -s "$emit_dir/state/nb.state" -a \
    -s "$emit_dir/state/cm.state"

n=0
# step DESCRIPTION COMMAND...: a change, then waits for its Event.
step() {
    desc=$1
    shift
    n=$((n + 1))
    if out=$("$@" 2>&1) && wait_until 20 events_at_least "$ns" "$n"; then
        pass "$desc"
    else
        fail "$desc" "expected $n Events in $ns, got $(event_count "$ns")" \
            "$out"
    fi
}

cat >"$test_tmp/nb1.yaml" <<YAML
apiVersion: tensorstack.dev/v1beta1
kind: Notebook
metadata:
  name: nb1
  namespace: $ns
  finalizers: [example.com/hold]
spec:
  image: jupyter:1
YAML
step "a create makes an Event" k apply -f "$test_tmp/nb1.yaml"
expect nb1 Created 'created'
step "a first status makes an Event" \
    k -n "$ns" patch notebook nb1 --subresource=status --type=merge \
    -p '{"status":{"phase":"Pending"}}'
expect nb1 StatusChanged 'phase none → Pending'
step "a spec update makes an Event" \
    k -n "$ns" patch notebook nb1 --type=merge \
    -p '{"spec":{"image":"jupyter:2"}}'
expect nb1 Updated 'spec changed \(generation 1 → 2\) by kubectl-patch'
step "a status change makes an Event" \
    k -n "$ns" patch notebook nb1 --subresource=status --type=merge \
    -p '{"status":{"phase":"Running","conditions":[
        {"type":"Ready","status":"True","reason":"Started"}]}}'
expect nb1 StatusChanged \
    'condition Ready none → True \(Started\); phase Pending → Running'
step "a condition Ready going False makes an Event" \
    k -n "$ns" patch notebook nb1 --subresource=status --type=merge \
    -p '{"status":{"conditions":[
        {"type":"Ready","status":"False","reason":"CrashLoop"}]}}'
expect nb1 StatusChanged 'condition Ready True → False \(CrashLoop\)'

got=$(object_events "$ns" nb1 | tail -n 1)
is "$got" "StatusChanged|Warning|condition Ready True → False (CrashLoop)" \
    "Ready going False is a Warning"
got=$(object_events "$ns" nb1 | sed -n 3p)
spec_changed='spec changed \(generation 1 → 2\)'
like "$got" "^Updated\\|Normal\\|$spec_changed by kubectl-" \
    "a spec update is Normal and names the field manager"

got=$(k -n "$ns" get events 2>&1)
ready_false='condition Ready True → False'
like "$got" "Warning +StatusChanged +notebook/nb1 +$ready_false" \
    "kubectl get events shows the Warning"
like "$got" "Normal +Updated +notebook/nb1 +$spec_changed" \
    "and the update"
got=$(k -n "$ns" describe notebook nb1 2>&1 | sed -n '/^Events:/,$p')
like "$got" \
    "Warning +StatusChanged .*event-controller +$ready_false \\(CrashLoop\\)" \
    "kubectl describe lists the Warning among the Notebook's Events"
like "$got" 'Normal +Created .*event-controller +created' \
    "and its creation"

k -n "$ns" annotate notebook nb1 example.com/note=metadata >/dev/null
step "deletion with a finalizer makes an Event" \
    k -n "$ns" delete notebook nb1 --wait=false
expect nb1 Deleting \
    'deletion requested, waiting for finalizers: example.com/hold'
step "removing the finalizer makes the last Event" \
    k -n "$ns" patch notebook nb1 --type=json \
    -p '[{"op":"remove","path":"/metadata/finalizers"}]'
expect nb1 Deleted 'deleted'
got=$(object_events "$ns" nb1 | sed -n 6p)
waiting='deletion requested, waiting for finalizers: example.com/hold'
is "$got" "Deleting|Normal|$waiting" \
    "Deleting names the finalizer, and the annotation made no Event"

step "a ConfigMap's create makes an Event" \
    k -n "$ns" create configmap cm1 --from-literal=a=b
expect cm1 Created 'created'
step "and its deletion" k -n "$ns" delete configmap cm1
expect cm1 Deleted 'deleted'

check "no further Event appears" wait_until 20 events_settled "$ns" "$n"
events_json "$ns" >"$test_tmp/events.json"
check "each change has exactly one complete Event" \
    $verify_events "$record" "$test_tmp/events.json"
got=$(jq -r '.items[] | select(.regarding.kind == "ConfigMap")
    | "\(.regarding.apiVersion) \(.action) \(.reportingController)"' \
    "$test_tmp/events.json" | sort | tr '\n' ';')
is "$got" "v1 Create event-controller;v1 Delete event-controller;" \
    "a core object's Events refer to apiVersion v1"

emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"
emit_stop "$watcher_pid_cm"
log_clean "$emit_dir/emitter.log"
log_clean "$emit_dir/watcher-nb.log"
log_clean "$emit_dir/watcher-cm.log"
test_done
