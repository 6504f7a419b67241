#!/bin/sh
# A watcher that the API server stops accepting keeps retrying and
# recovers by itself once the cause is fixed, with no restart of its own:
# its token file rotated to a bad token (401) and then to a good one, its
# RoleBinding deleted (403) and then created again, the
# CustomResourceDefinition of its resource deleted (404) and then
# installed again.  No token reaches its log.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

# A control plane of its own, as it restarts the apiserver.
cluster_private auth
ns=$(test_namespace)
# A broken connection, while the apiserver restarts.
transport='event-controller/[a-z]+ (watch|list|discovery): '

# count_lines FILE REGEX: how many lines of FILE match.
count_lines() {
    grep -Ec -- "$2" "$1"
}

# at_least N FILE REGEX: FILE has N lines or more matching REGEX.
at_least() {
    [ "$(count_lines "$2" "$3")" -ge "$1" ]
}

# running NAME: a check that the watcher NAME has not exited.
running() {
    if kill -0 "$(watcher_pid "$1")" 2>/dev/null; then
        pass "the watcher $1 keeps running"
    else
        fail "the watcher $1 keeps running" "expected: a live process" \
            "got: it exited; log:" "$(tail -20 "$test_tmp/$1.log")"
    fi
}

# last_attempt_accepted NAME REJECTION: a check that the last line of the
# log of NAME that starts a watch or tells of REJECTION starts a watch.
last_attempt_accepted() {
    last=$(grep -E -- "\[start to watch\]|$2" "$test_tmp/$1.log" | tail -1)
    like "$last" '\[start to watch\] from=' \
        "the last watch that $1 started is accepted"
}

# stopped NAME ALLOWED: stops the watcher NAME and checks its log, where
# the only warnings are those matching ALLOWED or a broken connection.
stopped() {
    watcher_stop "$1"
    is "$status" 0 "the watcher $1 stops with status 0"
    log_clean "$test_tmp/$1.log"
    no_unexpected_warnings "$test_tmp/$1.log" "$2|$transport"
}

# mint SA: prints a fresh token of ServiceAccount SA, which no log may
# hold.
mint() {
    token=$(k -n "$ns" create token "$1") || bail_out "no token for $1"
    secret_add "$token"
    printf '%s\n' "$token"
}

# bind SA: grants SA the Role nb-reader through a RoleBinding named SA.
bind() {
    k -n "$ns" create rolebinding "$1" --role=nb-reader \
        --serviceaccount="$ns:$1" >/dev/null
}

# notebook_watcher SA: starts a watcher of notebooks, named SA, whose
# kubeconfig reads the token of SA from $test_tmp/SA.token, as one in a
# pod reads the file that the kubelet rotates.
notebook_watcher() {
    k -n "$ns" create serviceaccount "$1" >/dev/null
    bind "$1"
    mint "$1" >"$test_tmp/$1.token"
    kubeconfig_as "$test_tmp/$1.yaml" "tokenFile: $test_tmp/$1.token"
    watcher_start "$1" --kubeconfig "$test_tmp/$1.yaml" \
        --group tensorstack.dev --version v1beta1 --resource notebooks \
        --namespace "$ns" -v 2
}

k -n "$ns" create role nb-reader --verb=get,list,watch \
    --resource=notebooks.tensorstack.dev >/dev/null

# Two watchers of notebooks: one whose token is about to be replaced by a
# bad one, one whose RoleBinding is about to go.  A restart of the
# apiserver ends their watches, so that each must be accepted again.
notebook_watcher rotated
notebook_watcher unbound
expect_record rotated '^SYNCED ' "a watcher with a token file lists"
expect_record unbound '^SYNCED ' "and so does a second one"

bad_token=not-a-token-$$
secret_add "$bad_token"
printf '%s\n' "$bad_token" >"$test_tmp/rotated.token"
k -n "$ns" delete rolebinding unbound >/dev/null
check "the apiserver restarts, ending the watches" \
    "$KUBE" restart "$cluster_dir"

# --- 401 and 403: refused, and retried ---

unauthorized='watch of notebooks.v1beta1.tensorstack.dev: the API server'
unauthorized="$unauthorized rejects the credential \(401 Unauthorized\)"
check "a watch with a rejected token is retried, not given up" \
    wait_until 30 at_least 2 "$test_tmp/rotated.log" "$unauthorized"
is "$(count_lines "$test_tmp/rotated.log" "^W.*$unauthorized, retrying in")" \
    1 "it warns once that the API server rejects the credential"
running rotated

forbidden="cannot watch notebooks.v1beta1.tensorstack.dev in namespace $ns:"
forbidden="$forbidden 403 Forbidden; RBAC must allow watch on it"
check "a watch that RBAC forbids is retried, not given up" \
    wait_until 30 at_least 2 "$test_tmp/unbound.log" "$forbidden"
is "$(count_lines "$test_tmp/unbound.log" "^W.*$forbidden, retrying in")" 1 \
    "it warns once, naming the namespace and the verb RBAC must allow"
running unbound

# --- 401 and 403: accepted again once the cause is gone ---

mint rotated >"$test_tmp/rotated.token"
bind unbound
notebook nb-after-fix
expect_record rotated '^CREATED nb-after-fix( at_relist)?$' \
    "a good token written to the file is used: a new Notebook is reported"
last_attempt_accepted rotated "$unauthorized"
expect_record unbound '^CREATED nb-after-fix( at_relist)?$' \
    "once the RoleBinding is back, the new Notebook is reported too"
last_attempt_accepted unbound "$forbidden"
stopped rotated "$unauthorized"
stopped unbound "$forbidden"

# --- 404: the CustomResourceDefinition is deleted ---

watcher_start builders --kubeconfig "$KUBECONFIG" --group tensorstack.dev \
    --version v1beta1 --resource imagebuilders --namespace "$ns" -v 2
log=$test_tmp/builders.log
expect_record builders '^SYNCED ' "a watcher of imagebuilders lists"

check "the CRD of imagebuilders can be deleted" \
    k delete crd imagebuilders.tensorstack.dev
not_found='watch of imagebuilders.v1beta1.tensorstack.dev: 404 Not Found,'
not_found="$not_found discovering it again"
check "the watch ends, and its 404 sends the watcher back to discovery" \
    wait_until 30 grep -Eq -- "$not_found" "$log"
not_served='imagebuilders.v1beta1.tensorstack.dev is not served; is its'
not_served="$not_served CustomResourceDefinition installed\? retrying"
check "which finds the resource is not served, and says so" \
    wait_until 30 grep -Eq -- "^W.*$not_served" "$log"
running builders

# The fixture's definition, as t/cluster/crds.go installs it.
cat <<YAML | k apply -f - >/dev/null
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: imagebuilders.tensorstack.dev}
spec:
  group: tensorstack.dev
  scope: Namespaced
  names: {kind: ImageBuilder, plural: imagebuilders,
          singular: imagebuilder, listKind: ImageBuilderList}
  versions:
  - name: v1beta1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
YAML
check "the CRD can be installed again" \
    wait_until 30 k -n "$ns" get imagebuilders
cat <<YAML | k apply -f - >/dev/null
apiVersion: tensorstack.dev/v1beta1
kind: ImageBuilder
metadata: {name: ib-after-404, namespace: $ns}
YAML
expect_record builders '^CREATED ib-after-404( at_relist)?$' \
    "once it is, a new ImageBuilder is reported"
last_attempt_accepted builders "$not_found|not served"
stopped builders "$not_served"

test_done
