#!/bin/sh
# The manifests of deploy/ are accepted by a real API server; their Role
# grants the service account exactly what event-controller needs; and with
# that identity alone, configured by the ConfigMap, the controller lists
# the seed's Notebooks and writes their Events without an error.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
command -v jq >/dev/null || bail_out "jq is needed to read the API's JSON"
# The fixture installs the seed's CRDs, notebooks among them.

# dry_run DIR: kustomize DIR and apply it with a server-side dry run;
# the objects as the server would store them go to $test_tmp/dry-run.json.
dry_run() {
    kubectl kustomize "$1" >"$test_tmp/manifests.yaml" &&
        k apply --dry-run=server -o json -f "$test_tmp/manifests.yaml" \
            >"$test_tmp/dry-run.json"
}

# --- The manifests as shipped, in the namespace they name ---

home=$(kubectl kustomize "$top_srcdir/deploy" |
       sed -n 's/^  namespace: //p' | sort -u)
is "$(echo "$home" | wc -l | tr -d ' ')" 1 \
    "deploy/ puts everything into one namespace ($home)"
k get namespace "$home" >/dev/null 2>&1 || k create namespace "$home" \
    >/dev/null
check "kubectl apply --dry-run=server accepts deploy/" \
    dry_run "$top_srcdir/deploy"

# item KIND JQ: a field of the dry run's object of KIND.
item() {
    jq -r --arg k "$1" ".items[] | select(.kind == \$k) | $2" \
        "$test_tmp/dry-run.json"
}
is "$(item Deployment '.spec.template.metadata.labels.app')" \
    event-controller "the pods carry the seed's label app=event-controller"
is "$(item Deployment '.spec.replicas')" 2 \
    "two replicas, since the configuration elects a leader"
pod='.spec.template.spec'
c="$pod.containers[0]"
is "$(item Deployment "$c.args | join(\" \")")" \
    "--config /etc/event-controller/event-controller.conf" \
    "the container runs with --config naming the mounted file"
is "$(item Deployment "$c.livenessProbe.httpGet.path + \" \" +
    $c.readinessProbe.httpGet.path")" "/healthz /readyz" \
    "the probes ask /healthz and /readyz"
is "$(item Deployment "$c.ports[] | select(.name == \"metrics\")
    | .containerPort")" 9464 "on the metrics port, 9464"
is "$(item Deployment "[$c.securityContext.readOnlyRootFilesystem,
    $c.securityContext.allowPrivilegeEscalation,
    $c.securityContext.capabilities.drop[0],
    $pod.securityContext.runAsNonRoot,
    $pod.securityContext.seccompProfile.type] | map(tostring) | join(\" \")")" \
    "true false ALL true RuntimeDefault" \
    "the container is locked down (read-only root, no privileges)"
is "$(item Deployment "[$c.volumeMounts[] | select(.subPath)] | length")" 0 \
    "the ConfigMap is mounted as a folder, so that updates reach the pod"
is "$(item Deployment "$c.env[] | select(.name == \"POD_NAME\")
    | .valueFrom.fieldRef.fieldPath")" metadata.name \
    "POD_NAME comes from the downward API"
conf=$(item ConfigMap '.data["event-controller.conf"]')
like "$conf" '^metrics_address = ":9464";' \
    "the daemon serves its probes on every address of the pod"
is "$(item ConfigMap '.metadata.name')" project-operator-event-ctl-config \
    "the ConfigMap has the seed's name"
base_config=$(item ConfigMap '.data["config.json"]')

check "kubectl apply --dry-run=server accepts deploy/multi-namespace/" \
    dry_run "$top_srcdir/deploy/multi-namespace"
multi_conf=$(item ConfigMap '.data["event-controller.conf"]')
like "$multi_conf" '^namespaces = \[ "[^"]+", "[^"]+"' \
    "the multi-namespace configuration lists several namespaces"
is "$(item ConfigMap '.data["config.json"]')" "$base_config" \
    "and keeps the base's config.json"

# --- The Role, applied for real in a namespace of the test's own ---

ns=$(test_namespace)
sa=system:serviceaccount:$ns:event-controller
# overlay DIR BASE [LINES]: a kustomization in DIR putting BASE into $ns.
overlay() {
    mkdir -p "$1"
    {
        echo "namespace: $ns"
        echo "resources:"
        echo "- $(realpath --relative-to="$1" "$2")"
        [ $# -lt 3 ] || echo "$3"
    } >"$1/kustomization.yaml"
}
overlay "$test_tmp/single" "$top_srcdir/deploy"
check "deploy/ applies in another namespace" k apply -k "$test_tmp/single"

# can VERB RESOURCE [NS]: what the API server answers for the account.
can() {
    k auth can-i "$1" "$2" -n "${3:-$ns}" --as="$sa" 2>/dev/null
}
for verb in get list watch; do
    is "$(can $verb notebooks.tensorstack.dev)" yes \
        "the service account may $verb notebooks"
done
for resource in events events.events.k8s.io; do
    for verb in create patch; do
        is "$(can $verb $resource)" yes "it may $verb $resource"
    done
done
for verb in get create update; do
    is "$(can $verb leases.coordination.k8s.io)" yes \
        "it may $verb leases, for leader election"
done
for verb in get list create update; do
    is "$(can $verb configmaps)" yes \
        "it may $verb configmaps, for the leader's positions"
done
for denied in "delete notebooks.tensorstack.dev" \
    "create notebooks.tensorstack.dev" "update notebooks.tensorstack.dev" \
    "get secrets" "list secrets" "create pods" "get pods" \
    "get events" "delete events.events.k8s.io" "delete leases" \
    "delete configmaps" "watch configmaps" \
    "list imagebuilders.tensorstack.dev"; do
    is "$(can $denied)" no "it may not $denied"
done
is "$(can list notebooks.tensorstack.dev default)" no \
    "it may not list notebooks in another namespace"
is "$(can create events default)" no \
    "nor create events in another namespace"

# --- The controller with that identity and the ConfigMap's settings ---

token=$(k -n "$ns" create token event-controller --duration=1h 2>&1)
secret_add "$token"
like "$token" '^ey' "a token can be minted for the service account"
kubeconfig_as "$test_tmp/sa.kubeconfig" "token: $token"

# The files of the ConfigMap as the pod would see them mounted.
etc=$test_tmp/etc
mkdir -p "$etc"
cm=project-operator-event-ctl-config
k -n "$ns" get configmap "$cm" -o jsonpath='{.data.config\.json}' \
    >"$etc/config.json"
k -n "$ns" get configmap "$cm" -o jsonpath='{.data.event-controller\.conf}' \
    >"$etc/event-controller.conf"
is "$(jq -c '[.resources[].resource]' "$etc/config.json")" '["notebooks"]' \
    "config.json is the seed's: notebooks"
# Its resources_file names the mount, /etc/event-controller: point
# --resources at the copy instead, and the state and port at the test's.
args="--config $etc/event-controller.conf --resources $etc/config.json"
check "the ConfigMap's configuration is valid" \
    "$EC_BIN" --check-config $args

POD_NAME=event-controller-test POD_NAMESPACE=$ns "$EC_BIN" $args \
    --kubeconfig "$test_tmp/sa.kubeconfig" --state-dir "$test_tmp/state" \
    --metrics-address 127.0.0.1:0 -v 2 >>"$master_log" 2>&1 &
master_pid=$!
test_cleanup master_kill
check "with only the Role's permissions it becomes ready" \
    wait_until 30 ready
# Ready may mean standing by for the Lease; a Notebook made before the
# first list would be one that already existed, with no Created Event.
check "it takes the Lease, lists and starts to watch" wait_until 30 \
    log_has 'event-controller/notebooks \[start to watch\] from='

# created_event: the Created Event of Notebook nb1, as
# "type|action|note|reportingController|reportingInstance".
created_event() {
    k get --raw "/apis/events.k8s.io/v1/namespaces/$ns/events" |
        jq -r '.items[] | select(.regarding.name == "nb1" and
            .reason == "Created") | [.type, .action, .note,
            .reportingController, .reportingInstance] | join("|")'
}
has_created_event() {
    [ -n "$(created_event)" ]
}
check "a Notebook can be created" notebook nb1
check "its Created Event is written" wait_until 30 has_created_event
is "$(created_event)" \
    "Normal|Create|created|event-controller|event-controller-test" \
    "as the seed's Event, reported by the pod's name"

like "$(cat "$master_log")" \
    'event-controller/notebooks \[start to watch\] from=[0-9]+' \
    "it logs the seed's line when it starts to watch"
like "$(k -n "$ns" get lease event-controller \
    -o jsonpath='{.spec.holderIdentity}' 2>&1)" '^event-controller-test' \
    "it holds the Lease, with only the Role's permissions"
has_position() {
    [ -n "$(k -n "$ns" get configmaps -o name \
        -l app.kubernetes.io/managed-by=event-controller)" ]
}
check "and keeps its position in a ConfigMap" wait_until 10 has_position

kill -TERM "$master_pid"
wait "$master_pid"
is "$?" 0 "SIGTERM stops it with status 0"
log_clean "$master_log"
warnings=$(grep -E '^W[0-9] ' "$master_log" | head -5)
is "${warnings:-none}" none "and the log has no warning, so nothing was denied"

# --- The multi-namespace variant, with its ClusterRole ---

# The cluster-wide names get the test's pid, so that runs do not meet.
own_ns=$ns
ns=$own_ns-multi
k create namespace "$ns" >/dev/null || bail_out "cannot create $ns"
overlay "$test_tmp/multi" "$top_srcdir/deploy/multi-namespace" \
    "nameSuffix: \"-$$\""
test_cleanup "k delete clusterrolebinding,clusterrole event-controller-$$"
check "deploy/multi-namespace/ applies" k apply -k "$test_tmp/multi"
sa=system:serviceaccount:$ns:event-controller-$$
for watched in $(printf '%s\n' "$multi_conf" |
    sed -n 's/^namespaces = \[\(.*\)\];/\1/p' | tr -d '",'); do
    is "$(can list notebooks.tensorstack.dev "$watched")" yes \
        "its service account may list notebooks in $watched"
    is "$(can create events.events.k8s.io "$watched")" yes \
        "and create Events there"
done
is "$(can delete notebooks.tensorstack.dev "$own_ns")" no \
    "but still not delete notebooks"
is "$(can get secrets "$own_ns")" no "nor read secrets"

test_done
