#!/bin/sh
# A server that stops answering without closing its connections: the
# apiserver process stopped with SIGSTOP, whose sockets the kernel keeps
# open, as it does the connection to a peer that vanished.  The watcher
# drops the silent stream after --stall-timeout, keeps trying while the
# server is silent, and once it answers again watches on from the last
# resourceVersion it had, with no relist, nothing lost and nothing
# repeated.  A
# private control plane, so that the shared one is not disturbed.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

cluster_private stopped
ns=$(test_namespace)
apiserver=$(cat "$cluster_dir/apiserver.pid")
test_cleanup "kill -CONT $apiserver"

watcher_start nb --kubeconfig "$KUBECONFIG" --group tensorstack.dev \
    --version v1beta1 --resource notebooks --namespace "$ns" -v 2 \
    --stall-timeout 5
expect_record nb '^SYNCED ' "the watcher lists and syncs"
notebook a jupyter:1
expect_record nb '^CREATED a$' "a Notebook created before the server stops"

stalls=$(grep -c "no data from the watch" "$test_tmp/nb.log")
kill -STOP "$apiserver"
if wait_until 30 sh -c "[ \$(grep -c 'no data from the watch of .* for 5s, \
reconnecting' '$test_tmp/nb.log') -gt $stalls ]"; then
    pass "the silent stream is dropped after the stall timeout"
else
    fail "the silent stream is dropped after the stall timeout" \
        "$(tail -5 "$test_tmp/nb.log")"
fi
# The new connection gets no answer either; let it wait a while.
sleep 3
kill -0 "$(watcher_pid nb)" 2>/dev/null
is "$?" 0 "the watcher keeps running while the server is silent"
kill -CONT "$apiserver"

notebook b jupyter:1
expect_record nb '^CREATED b$' \
    "a Notebook created once the server answers again is reported" 90

watcher_stop nb
is "$status" 0 "the watcher stops with status 0"
is "$(changes_of nb)" "CREATED a
CREATED b" "each change is reported once, from the watch: no relist"

log_clean "$test_tmp/nb.log"
no_unexpected_warnings "$test_tmp/nb.log" '(discovery|watch|list): '
test_done
