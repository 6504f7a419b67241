#!/bin/sh
# With a list of namespaces, a cluster-scoped resource is watched once:
# the watcher of the first namespace watches it, the others stand by, and
# each change gets one Event, in the namespace default.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
first=$(test_namespace)
second=$(k create namespace "$first-b" -o name | sed 's|.*/||')
cat >"$test_tmp/resources.json" <<JSON
{"resources": [
  {"group": "", "version": "v1", "resource": "namespaces"},
  {"group": "tensorstack.dev", "version": "v1beta1", "resource": "notebooks"}
]}
JSON
cat >"$test_tmp/event-controller.conf" <<CONF
resources_file = "resources.json";
namespaces = [ "$first", "$second" ];
CONF
master_start --config "$test_tmp/event-controller.conf"
check "the master becomes ready" wait_until 30 ready

is "$(grep -c 'event-controller/namespaces \[start to watch\]' \
    "$master_log")" 1 "one watcher of namespaces watches"
check "the other stands by, and says why" log_has \
    'namespaces\.v1 is cluster-scoped: the watcher of the first namespace'
is "$(grep -c 'event-controller/notebooks \[start to watch\]' \
    "$master_log")" 2 "a namespaced resource is watched in both"

made=$(k create namespace "$first-made" -o name | sed 's|.*/||')
made_events() {
    events_json default | jq --arg n "$made" '[.items[]
        | select(.regarding.name == $n and .reason == "Created")] | length'
}
one_event() { [ "$(made_events)" -ge 1 ]; }
check "a namespace created gets its Created Event in default" \
    wait_until 30 one_event
sleep 2
is "$(made_events)" 1 "exactly one"

log_clean "$master_log"
test_done
