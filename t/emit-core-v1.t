#!/bin/sh
# Where the API server does not serve events.k8s.io/v1, the Events are
# written as core/v1 Events, with the same reasons and messages, and
# kubectl describe shows them.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_private corev1 --no-events-v1
ns=$(test_namespace)
refuse "the API server does not serve events.k8s.io/v1" \
    k get --raw /apis/events.k8s.io/v1
resources_json "$test_tmp/resources.json" notebooks
master_start --resources "$test_tmp/resources.json" --namespace "$ns"
check "the master becomes ready" wait_until 30 ready
check "the emitter says it writes core/v1 Events" \
    log_has 'writing core/v1 Events'

notebook nb1
# core_event REASON: the core/v1 Event of nb1 with REASON, as
# "type|action|message|reportingComponent|source.component|count".
core_event() {
    k get --raw "/api/v1/namespaces/$ns/events" |
        jq -r --arg r "$1" '.items[] | select(.involvedObject.name == "nb1"
            and .reason == $r) | [.type, .action, .message,
            .reportingComponent, .source.component, .count]
            | map(tostring) | join("|")'
}
created() { [ -n "$(core_event Created)" ]; }
check "a Notebook created gets a core/v1 Event" wait_until 30 created
is "$(core_event Created)" \
    "Normal|Create|created|event-controller|event-controller|1" \
    "with its type, action, message, component and count"
notebook nb1 jupyter:2
updated() { [ -n "$(core_event Updated)" ]; }
check "a spec change gets one too" wait_until 30 updated
like "$(k -n "$ns" describe notebook nb1)" \
    'Normal +Updated .*spec changed \(generation 1 → 2\)' \
    "kubectl describe shows it"

log_clean "$master_log"
test_done
