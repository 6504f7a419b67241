#!/bin/sh
# A watcher whose resource is not served yet warns once and keeps looking:
# a CustomResourceDefinition created later is watched within 30 s, with
# no restart.  A watcher that RBAC refuses warns clearly and keeps
# retrying, while a watcher of a resource RBAC allows works beside it.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

cluster_shared
ns=$(test_namespace)
# A group of this run's own: the shared control plane outlives the test.
group=w$$.example.com
crd=widgets.$group

crd_delete() {
    k delete crd "$crd" --wait=false >/dev/null 2>&1
}
test_cleanup crd_delete

# count_lines FILE REGEX: how many lines of FILE match.
count_lines() {
    grep -Ec -- "$2" "$1"
}

# at_least N FILE REGEX: FILE has N lines or more matching REGEX.
at_least() {
    [ "$(count_lines "$2" "$3")" -ge "$1" ]
}

# --- A CustomResourceDefinition installed after the watcher started ---

watcher_start widgets --kubeconfig "$KUBECONFIG" --group "$group" \
    --version v1 --resource widgets --namespace "$ns" -v 2
log=$test_tmp/widgets.log
missing="$crd is not served|widgets.v1.$group is not served"
check "a watcher of a resource not served keeps looking for it" \
    wait_until 30 at_least 3 "$log" "not served"
is "$(count_lines "$log" "^W.*widgets.v1.$group is not served; is its \
CustomResourceDefinition installed\? retrying")" 1 \
    "it warns once that the resource is not served, naming the CRD"

cat <<YAML | k apply -f - >/dev/null
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: $crd}
spec:
  group: $group
  names: {kind: Widget, plural: widgets, singular: widget,
          listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object,
                        x-kubernetes-preserve-unknown-fields: true}
YAML
start=$(date +%s)
check "once the CRD is created, the watch starts within 30 s" \
    wait_until 30 grep -q 'start to watch' "$log"
echo "# watching $(($(date +%s) - start)) s after the CRD was created"
expect_record widgets '^SYNCED ' "the new resource is listed"
cat <<YAML | k apply -f - >/dev/null
apiVersion: $group/v1
kind: Widget
metadata: {name: w1, namespace: $ns}
YAML
expect_record widgets '^CREATED w1$' "and a Widget created is reported"
is "$(record_field widgets '^CREATED w1' kind)" Widget \
    "with the kind that discovery found"
watcher_stop widgets
is "$status" 0 "the watcher stops with status 0"
log_clean "$log"
no_unexpected_warnings "$log" "$missing"

# --- RBAC: configmaps allowed, notebooks refused ---

restricted=$cluster_dir/restricted.kubeconfig
k -n "$ns" create role cm-reader --verb=get,list,watch \
    --resource=configmaps >/dev/null
k -n "$ns" create rolebinding cm-reader --role=cm-reader \
    --user=restricted >/dev/null

watcher_start denied --kubeconfig "$restricted" --group tensorstack.dev \
    --version v1beta1 --resource notebooks --namespace "$ns" -v 2
watcher_start allowed --kubeconfig "$restricted" --group "" --version v1 \
    --resource configmaps --namespace "$ns"
denied_log=$test_tmp/denied.log
forbidden='notebooks.v1beta1.tensorstack.dev in namespace '"$ns"': 403'
forbidden="$forbidden Forbidden; RBAC must allow list and watch on it"
check "the refused watcher keeps retrying" \
    wait_until 30 at_least 3 "$denied_log" "403 Forbidden"
is "$(count_lines "$denied_log" "^W.*$forbidden")" 1 \
    "it warns once, naming the resource, namespace and verbs needed"

expect_record allowed '^SYNCED ' "the allowed watcher lists configmaps"
k -n "$ns" create configmap c1 >/dev/null
expect_record allowed '^CREATED c1$' "and reports a ConfigMap created"

watcher_stop denied
is "$status" 0 "the refused watcher stops with status 0"
watcher_stop allowed
is "$status" 0 "and so does the allowed one"
log_clean "$denied_log"
no_unexpected_warnings "$denied_log" "$forbidden"
log_clean "$test_tmp/allowed.log"
no_unexpected_warnings "$test_tmp/allowed.log" '403 Forbidden'

test_done
