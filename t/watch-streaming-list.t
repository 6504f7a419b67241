#!/bin/sh
# A watcher lists by streaming, a watch with sendInitialEvents, and reads
# the list to its last bookmark however large it is.  Above 128 KiB the API
# server compresses such a response, in several gzip members that libcurl
# does not decode: the watcher must not ask for compression on a watch.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

cluster_shared
ns=$(test_namespace)

# 200 ConfigMaps of 1 KiB each: initial events of about 250 KiB.
python3 - "$ns" <<'PY' | k create -f - >/dev/null
import json, sys
items = [{"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "cm-%03d" % i, "namespace": sys.argv[1]},
          "data": {"payload": "%04d" % i * 256}} for i in range(200)]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
is "$(k -n "$ns" get configmaps -o name | grep -c cm-)" 200 \
    "200 ConfigMaps of 1 KiB are there to list"

watcher_start stream --kubeconfig "$KUBECONFIG" --group "" --version v1 \
    --resource configmaps --namespace "$ns" -v 3
expect_record stream '^SYNCED ' "the watcher syncs" 60
is "$(summary stream | grep -c '^CREATED cm-[0-9]* existing$')" 200 \
    "with every ConfigMap reported once"
requests=$(grep -F " GET /api/v1/namespaces/$ns/configmaps?" \
    "$test_tmp/stream.log" | sed 's/.* GET //')
like "$requests" 'watch=1&sendInitialEvents=true' "it lists by streaming"
unlike "$requests" 'limit=' "and never in pages"
unlike "$(grep "broke off" "$test_tmp/stream.log")" "broke off" \
    "the streaming list does not break off"

k -n "$ns" create configmap after >/dev/null
expect_record stream '^CREATED after$' "then the watch goes on"
watcher_stop stream
is "$status" 0 "the watcher stops with status 0"
log_clean "$test_tmp/stream.log"
no_unexpected_warnings "$test_tmp/stream.log"

test_done
