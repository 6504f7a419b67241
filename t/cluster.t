#!/bin/sh
# The local control plane is a real one: objects persist across an
# apiserver restart, and RBAC denies the restricted identity.  A plane of
# its own: the shared one must not restart under the tests running on it.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

cluster_private plane
ns=$(test_namespace)
restricted=$cluster_dir/restricted.kubeconfig

cat >"$test_tmp/notebook.yaml" <<YAML
apiVersion: tensorstack.dev/v1beta1
kind: Notebook
metadata:
  name: kaniko
  namespace: $ns
spec:
  image: jupyter:1
YAML
check "a Notebook can be created" k apply -f "$test_tmp/notebook.yaml"
is "$(k -n "$ns" get notebook kaniko -o jsonpath='{.spec.image}')" \
    "jupyter:1" "it reads back with its spec"
check "its status can be written through the status subresource" \
    k -n "$ns" patch notebook kaniko --subresource=status --type=merge \
    -p '{"status":{"phase":"Running"}}'
is "$(k -n "$ns" get notebook kaniko -o jsonpath='{.status.phase}')" \
    "Running" "the status reads back"

refuse "the restricted identity may not list notebooks" \
    kubectl --kubeconfig "$restricted" -n "$ns" get notebooks
out=$(kubectl --kubeconfig "$restricted" -n "$ns" get notebooks 2>&1)
like "$out" 'Forbidden|forbidden' "and the refusal is RBAC's"
is "$(kubectl --kubeconfig "$restricted" -n "$ns" auth can-i create events \
    2>/dev/null)" "no" "the restricted identity may not create events"

check "a Role may grant it get on notebooks" \
    k -n "$ns" create role nb-reader --verb=get,list \
    --resource=notebooks.tensorstack.dev
check "bound to the restricted user" \
    k -n "$ns" create rolebinding nb-reader --role=nb-reader \
    --user=restricted
check "then it may list notebooks" \
    wait_until 10 kubectl --kubeconfig "$restricted" -n "$ns" get notebooks
refuse "but still not delete them" \
    kubectl --kubeconfig "$restricted" -n "$ns" delete notebook kaniko

check "a service account can be created" k -n "$ns" create sa watcher
token=$(k -n "$ns" create token watcher 2>&1)
like "$token" '^ey' "a token can be minted for it (TokenRequest)"
is "$(kubectl --kubeconfig "$restricted" --token "$token" -n "$ns" \
    auth whoami -o jsonpath='{.status.userInfo.username}' 2>/dev/null)" \
    "system:serviceaccount:$ns:watcher" "the apiserver accepts that token"

uid=$(k -n "$ns" get notebook kaniko -o jsonpath='{.metadata.uid}')
check "restart restarts the apiserver" "$KUBE" restart "$cluster_dir"
is "$(k -n "$ns" get notebook kaniko -o jsonpath='{.metadata.uid}')" \
    "$uid" "the Notebook survives the restart"

test_done
