#!/bin/sh
# Edges: a 220-character object name still makes a valid Event name; a
# message over 1024 bytes is cut on a UTF-8 boundary; one emitter serves
# watchers of two namespaces; a cluster-scoped object's Events go to the
# namespace "default".
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"

cluster_shared
ns1=$(test_namespace)
ns2=$ns1-b
k create namespace "$ns2" >/dev/null || bail_out "cannot create $ns2"
emit_init

emit_watcher one --group tensorstack.dev --version v1beta1 \
    --resource notebooks --namespace "$ns1"
emit_watcher two --group tensorstack.dev --version v1beta1 \
    --resource notebooks --namespace "$ns2"
emit_watcher cluster --group "" --version v1 --resource namespaces \
    --label-selector "event-controller-test=$ns1"
emit_emitter one two cluster
check "the emitter saves the position of each watcher" \
    wait_until 30 test -s "$emit_dir/state/one.state" -a \
    -s "$emit_dir/state/two.state" -a -s "$emit_dir/state/cluster.state"

long=$(printf 'n%.0s' $(seq 100)).$(printf 'x%.0s' $(seq 119))
k -n "$ns1" apply -f - >/dev/null <<YAML
apiVersion: tensorstack.dev/v1beta1
kind: Notebook
metadata: {name: $long}
spec: {image: a}
YAML
check "a Notebook with a 220-character name gets its Event" \
    wait_until 20 events_at_least "$ns1" 1
name=$(events_json "$ns1" | jq -r --arg n "$long" \
    '.items[] | select(.regarding.name == $n) | .metadata.name')
like "${#name}" '^(2[0-4][0-9]|25[0-3])$' \
    "its Event's name is at most 253 characters"
label='[a-z0-9]([-a-z0-9]*[a-z0-9])?'
like "$name" "^$label(\\.$label)*\$" \
    "and a DNS subdomain"

reason=$(printf 'ü%.0s' $(seq 600))
k -n "$ns1" patch notebook "$long" --subresource=status --type=merge \
    -p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",
        \"status\":\"False\",\"reason\":\"$reason\"}]}}" >/dev/null
check "a status with a 1200-byte reason gets its Event" \
    wait_until 20 events_at_least "$ns1" 2
events_json "$ns1" | jq -r '.items[] | select(.reason == "StatusChanged")
    | .note' >"$test_tmp/note"
got=$(python3 -c '
import sys
b = open(sys.argv[1], "rb").read().rstrip(b"\n")
t = b.decode("utf-8")
print(len(b) <= 1024, len(b) > 1000,
      t.startswith("condition Ready none → False (üü"),
      "\ufffd" in t, t[-1])' "$test_tmp/note")
is "$got" "True True True False ü" \
    "the message is cut near 1024 bytes on a UTF-8 boundary"

k -n "$ns2" apply -f - >/dev/null <<YAML
apiVersion: tensorstack.dev/v1beta1
kind: Notebook
metadata: {name: other}
spec: {image: a}
YAML
check "a Notebook of the second namespace gets its Event" \
    wait_until 20 events_at_least "$ns2" 1
is "$(events_json "$ns2" | jq -r '.items[0].regarding.namespace')" "$ns2" \
    "in its own namespace"

cluster_object=$ns1-scoped
k create namespace "$cluster_object" >/dev/null
k label namespace "$cluster_object" "event-controller-test=$ns1" >/dev/null
# cluster_object_events: "namespace|kind|apiVersion|reason" per Event.
cluster_object_events() {
    events_json default | jq -r --arg n "$cluster_object" '.items[]
        | select(.regarding.name == $n)
        | .regarding as $r
        | "\($r.namespace // "")|\($r.kind)|\($r.apiVersion)|\(.reason)"'
}
# cluster_object_written: it has an Event.
cluster_object_written() {
    [ -n "$(cluster_object_events)" ]
}
check "a cluster-scoped object gets its Event in the namespace default" \
    wait_until 20 cluster_object_written
# The labelling made the Namespace match the selector: a create.
is "$(cluster_object_events)" "|Namespace|v1|Created" \
    "its reference names no namespace"

emit_stop "$emitter_pid"
for key in one two cluster; do
    eval "emit_stop \$watcher_pid_$key"
done
log_clean "$emit_dir/emitter.log"
for key in one two cluster; do
    log_clean "$emit_dir/watcher-$key.log"
done
test_done
