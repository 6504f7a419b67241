#!/bin/sh
# A watcher reports every change to the objects it watches exactly once,
# in order: creation, a spec update (the generation moves), a status
# update, deletion; objects that existed before it started are marked
# existing, and a write that changes no field it keeps (an annotation)
# only moves its position.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

cluster_shared
ns=$(test_namespace)

# --- Notebooks ---

notebook before jupyter:1
watcher_start nb --kubeconfig "$KUBECONFIG" --group tensorstack.dev \
    --version v1beta1 --resource notebooks --namespace "$ns" -v 2
expect_record nb '^SYNCED ' "the watcher of notebooks lists and syncs"
is "$(summary nb | head -2)" "CREATED before existing
SYNCED rv=$(record_field nb '^SYNCED' resource_version)" \
    "an object there before the start is reported as existing, then SYNCED"

notebook nb-1 jupyter:1
expect_record nb '^CREATED nb-1$' "a new Notebook is reported as created"
is "$(record_field nb '^CREATED nb-1' api_version) \
$(record_field nb '^CREATED nb-1' kind)" "tensorstack.dev/v1beta1 Notebook" \
    "the record names the apiVersion and kind"

k -n "$ns" patch notebook nb-1 --type=merge -p '{"spec":{"image":"j:2"}}' \
    >/dev/null
expect_record nb '^UPDATED nb-1 generation:1->2$' \
    "a spec update is reported with the generation it moved to"

k -n "$ns" patch notebook nb-1 --subresource=status --type=merge -p \
    '{"status":{"phase":"Running","conditions":[{"type":"Ready",
      "status":"True","reason":"PodReady","message":"up",
      "lastTransitionTime":"2024-01-01T00:00:00Z"}]}}' >/dev/null
status='{"conditions":{"Ready":["True","PodReady"]},"phase":"Running"}'
expect_line nb "UPDATED nb-1 status:->$status" \
    "a status update is reported with the canonical status text"

k -n "$ns" annotate notebook nb-1 note=noise >/dev/null
rv=$(k -n "$ns" get notebook nb-1 -o jsonpath='{.metadata.resourceVersion}')
expect_record nb "^PROGRESS rv=$rv\$" \
    "an annotation change only moves the position (PROGRESS at $rv)"

k -n "$ns" delete notebook nb-1 >/dev/null
expect_record nb '^DELETED nb-1$' "a deleted Notebook is reported as deleted"

is "$(changes_of nb)" "CREATED before existing
CREATED nb-1
UPDATED nb-1 generation:1->2
UPDATED nb-1 status:->$status
DELETED nb-1" "every Notebook change was reported once, in order"

# --- ConfigMaps: no status, no generation; finalizers and deletion ---

watcher_start cm --kubeconfig "$KUBECONFIG" --version v1 --group "" \
    --resource configmaps --namespace "$ns"
expect_record cm '^SYNCED ' "the watcher of configmaps lists and syncs"
k -n "$ns" create configmap c1 --from-literal=a=1 >/dev/null
k -n "$ns" patch configmap c1 -p '{"data":{"a":"2"}}' >/dev/null
k -n "$ns" patch configmap c1 --type=merge \
    -p '{"metadata":{"finalizers":["example.com/keep"]}}' >/dev/null
k -n "$ns" delete configmap c1 --wait=false >/dev/null
k -n "$ns" patch configmap c1 --type=merge \
    -p '{"metadata":{"finalizers":null}}' >/dev/null
expect_record cm '^DELETED c1$' "a ConfigMap's deletion is reported"
stamp='s/deletion_timestamp:->[0-9TZ:-]*/deletion_timestamp:->T/'
is "$(changes_of cm | sed "$stamp")" "CREATED c1
UPDATED c1 finalizers:->example.com/keep
UPDATED c1 deletion_timestamp:->T
DELETED c1" "ConfigMap changes once each, a data change none"

watcher_stop nb
is "$status" 0 "SIGTERM stops the watcher with status 0"
watcher_stop cm
is "$status" 0 "and the other one too"
seed='^I1 [0-9]{2}/[0-9]{2} [0-9:]{8} watcher\.c:[0-9]+ '
seed="${seed}event-controller/notebooks \\[start to watch\\] from=[0-9]+\$"
like "$(cat "$test_tmp/nb.log")" "$seed" \
    "the watch start is logged in the seed's form"
log_clean "$test_tmp/nb.log"
no_unexpected_warnings "$test_tmp/nb.log"
log_clean "$test_tmp/cm.log"
no_unexpected_warnings "$test_tmp/cm.log"

test_done
