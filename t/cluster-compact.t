#!/bin/sh
# The fixture's fault modes: compact makes old resourceVersions 410 Gone
# (with the watch cache off, custom resources too), and a small in-flight
# limit makes writes see 429.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

cluster_private compact --no-watch-cache
ns=$(test_namespace)
base=/apis/tensorstack.dev/v1beta1/namespaces/$ns/notebooks

k -n "$ns" create configmap seed >/dev/null
cat >"$test_tmp/nb.yaml" <<YAML
apiVersion: tensorstack.dev/v1beta1
kind: Notebook
metadata: {name: a, namespace: $ns}
spec: {n: 1}
YAML
k apply -f "$test_tmp/nb.yaml" >/dev/null
old=$(k -n "$ns" get notebook a -o jsonpath='{.metadata.resourceVersion}')
for n in 2 3 4; do
    k -n "$ns" patch notebook a --type=merge -p "{\"spec\":{\"n\":$n}}" \
        >/dev/null
done

out=$(curl_api "$base?watch=1&resourceVersion=$old&timeoutSeconds=2" \
      --max-time 10)
like "$out" '"type":"MODIFIED"' "before compaction a watch from $old works"

rev=$("$KUBE" compact "$cluster_dir")
like "$rev" '^[0-9]+$' "compact compacts etcd to its revision ($rev)"

code=$(curl_api "$base?watch=1&resourceVersion=$old&timeoutSeconds=2" \
       --max-time 10 -o "$test_tmp/watch" -w '%{http_code}')
body=$(cat "$test_tmp/watch")
if [ "$code" = 410 ]; then
    pass "after compaction the watch from $old is 410 Gone (HTTP status)"
else
    like "$body" '"type":"ERROR".*"code":410' \
        "after compaction the watch from $old is 410 Gone (in the stream)"
fi
code=$(curl_api "$base?resourceVersion=$old&resourceVersionMatch=Exact" \
       -o /dev/null -w '%{http_code}')
is "$code" 410 "a list at the old resourceVersion is 410 Gone too"

other=${EC_CLUSTER_DIR:-$top_builddir/t/.cluster-shared}
if kube_ready "$other"; then
    check "the shared control plane keeps running beside this one" \
        kube_ready "$other"
fi
"$KUBE" down "$cluster_dir" >/dev/null

cluster_private throttle --max-mutating-inflight 1
ns=$(test_namespace)
# The in-flight limit spares system:masters, so write as the restricted
# identity, allowed to create ConfigMaps here.
k -n "$ns" create role cm-writer --verb=create --resource=configmaps \
    >/dev/null
k -n "$ns" create rolebinding cm-writer --role=cm-writer --user=restricted \
    >/dev/null

# 200 creates at once, multiplexed over one HTTP/2 connection.
url=$(apiserver_url)/api/v1/namespaces/$ns/configmaps
urls=$(i=0; while [ $i -lt 200 ]; do echo "$url"; i=$((i + 1)); done)
curl -sS --cacert "$cluster_dir/ca.crt" \
    -H "Authorization: Bearer $(cat "$cluster_dir/restricted.token")" \
    --parallel --parallel-max 200 -X POST \
    -H 'Content-Type: application/json' \
    -d '{"metadata":{"generateName":"c-"}}' \
    -w '\ncode=%{http_code}\n' $urls | sed -n 's/^code=//p' \
    >"$test_tmp/codes"
like "$(sort "$test_tmp/codes" | uniq -c)" ' 429$' \
    "with --max-mutating-inflight 1, concurrent writes see 429"
like "$(sort "$test_tmp/codes" | uniq -c)" ' 201$' "and some still succeed"

test_done
