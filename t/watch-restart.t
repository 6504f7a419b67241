#!/bin/sh
# When the API server restarts under a watch, the watcher resumes from the
# last resourceVersion it had, logging the seed's line with it, and the
# changes made right after the restart are reported once each: none lost,
# none repeated.  A private control plane, so that the shared one is not
# disturbed.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

cluster_private restart
ns=$(test_namespace)

watcher_start nb --kubeconfig "$KUBECONFIG" --group tensorstack.dev \
    --version v1beta1 --resource notebooks --namespace "$ns" -v 2
expect_record nb '^SYNCED ' "the watcher lists and syncs"
notebook a jupyter:1
expect_record nb '^CREATED a$' "a Notebook created before the restart"
k -n "$ns" patch notebook a --type=merge -p '{"spec":{"image":"j:2"}}' \
    >/dev/null
expect_record nb '^UPDATED a generation:1->2$' "and updated"

position=$(python3 -c 'import json,sys
print(json.loads(open(sys.argv[1]).readlines()[-1])["resource_version"])' \
    "$test_tmp/nb.out")
check "the API server restarts" "$KUBE" restart "$cluster_dir"

notebook b jupyter:1
k -n "$ns" patch notebook a --subresource=status --type=merge \
    -p '{"status":{"phase":"Running"}}' >/dev/null

if wait_until 60 grep -q "\[start to watch\] from=$position\$" \
    "$test_tmp/nb.log"; then
    pass "the watch resumes from the last resourceVersion ($position)"
else
    fail "the watch resumes from the last resourceVersion ($position)" \
        "$(grep 'start to watch' "$test_tmp/nb.log")"
fi
expect_record nb '^CREATED b( at_relist)?$' \
    "a Notebook created right after the restart is reported" 60
expect_record nb '^UPDATED a status:->\{"phase":"Running"\}( at_relist)?$' \
    "a status written right after the restart is reported" 60

k -n "$ns" delete notebook b >/dev/null
expect_record nb '^DELETED b$' "a deletion after the watch resumed"

watcher_stop nb
is "$status" 0 "the watcher stops with status 0"
got=$(changes_of nb | sed 's/ at_relist$//')
is "$(echo "$got" | head -2)" "CREATED a
UPDATED a generation:1->2" "the changes before the restart, once each"
is "$(echo "$got" | sed -n '3,4p' | sort)" 'CREATED b
UPDATED a status:->{"phase":"Running"}' \
    "the changes right after it, once each"
is "$(echo "$got" | sed -n '5,$p')" "DELETED b" "then the deletion, and no more"

log_clean "$test_tmp/nb.log"
# While the API server is down, connections fail; after a while that is
# worth a warning.
no_unexpected_warnings "$test_tmp/nb.log" '(discovery|watch|list): '

test_done
