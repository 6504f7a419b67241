#!/bin/sh
# When the watcher's resourceVersion is compacted away while it is cut off,
# it gets 410 Gone, relists, and reports exactly what changed in the gap,
# each marked at_relist: an object created, one updated, one deleted (its
# final state unknown), and nothing for one left alone.  The watch cache
# is off so that compaction reaches custom resources' watches.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

cluster_private compact --no-watch-cache
ns=$(test_namespace)

watcher_start nb --kubeconfig "$KUBECONFIG" --group tensorstack.dev \
    --version v1beta1 --resource notebooks --namespace "$ns" -v 2
expect_record nb '^SYNCED ' "the watcher lists and syncs"
for n in keep change gone; do
    notebook "$n" jupyter:1
done
expect_record nb '^CREATED gone$' "three Notebooks are created and reported"

pid=$(watcher_pid nb)
kill -STOP "$pid"
check "the API server restarts while the watcher is stopped" \
    "$KUBE" restart "$cluster_dir"
notebook new jupyter:1
k -n "$ns" patch notebook change --type=merge -p '{"spec":{"image":"j:2"}}' \
    >/dev/null
k -n "$ns" delete notebook gone >/dev/null
rev=$("$KUBE" compact "$cluster_dir")
like "$rev" '^[0-9]+$' "etcd is compacted to revision $rev"
kill -CONT "$pid"

if wait_until 60 grep -q 'too old (410 Gone), relisting' "$test_tmp/nb.log"
then
    pass "the resumed watch gets 410 Gone and relists"
else
    fail "the resumed watch gets 410 Gone and relists" \
        "$(tail -20 "$test_tmp/nb.log")"
fi
expect_record nb '^PROGRESS ' "the relist ends with a PROGRESS record" 60
expect_record nb '^DELETED gone' "the relist reports the deletion" 60

k -n "$ns" patch notebook keep --type=merge -p '{"spec":{"image":"j:3"}}' \
    >/dev/null
expect_record nb '^UPDATED keep generation:1->2$' \
    "the watch goes on after the relist"
watcher_stop nb
is "$status" 0 "the watcher stops with status 0"

is "$(changes_of nb | sed -n '4,6p' | sort)" \
    "CREATED new at_relist
DELETED gone at_relist,final_state_unknown
UPDATED change generation:1->2 at_relist" \
    "the relist reports the three changes of the gap, marked at_relist"
is "$(changes_of nb | sed -n '1,3p;7,$p')" "CREATED keep
CREATED change
CREATED gone
UPDATED keep generation:1->2" "and nothing else is reported twice or more"

log_clean "$test_tmp/nb.log"
no_unexpected_warnings "$test_tmp/nb.log" '(discovery|watch|list): '

test_done
