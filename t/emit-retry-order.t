#!/bin/sh
# An Event waiting for its retry holds back the Events of its object's
# later changes, so that they are written in the order of the changes;
# the retry waits as Retry-After says, unless that is no count of
# seconds.  The Events go to a SCRIPTED FAKE SERVER
# (t/lib/scripted-server.py) that fails the first write twice with 503,
# which the real apiserver cannot be made to do on demand; the watcher
# watches the real one, a control plane of the test's own, so that no
# other test's changes push its resourceVersion out of the watch cache.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"
. "$top_srcdir/t/lib/scripted-lib.sh"

cluster_private retry-order
ns=$(test_namespace)
emit_init
scripted_start event-fails-twice sink
emit_kubeconfig=$test_tmp/sink/kubeconfig
requests=$test_tmp/sink/requests

emit_notebooks
check "the first start saves a position" \
    wait_until 30 test -s "$emit_dir/state/nb.state"
emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"

# Made while neither runs, the four changes reach the emitter together
# when the watcher resumes from the saved resourceVersion.
notebook nb
k -n "$ns" patch notebook nb --subresource=status --type=merge \
    -p '{"status":{"phase":"Pending"}}' >/dev/null
k -n "$ns" patch notebook nb --type=merge -p '{"spec":{"image":"b"}}' \
    >/dev/null
k -n "$ns" patch notebook nb --subresource=status --type=merge \
    -p '{"status":{"phase":"Running"}}' >/dev/null

emit_notebooks
check "the four Events are written" \
    wait_until 60 sh -c "[ \$(grep -c ' POST 201 ' '$requests') -ge 4 ]"
sleep 2
writes=$(sed -n 's/^[0-9.]* POST \([0-9]*\) \([A-Za-z]*\) .*/\1 \2/p' \
    "$requests")
is "$writes" "503 Created
503 Created
201 Created
201 StatusChanged
201 Updated
201 StatusChanged" \
    "the first write fails twice; its retries come before later Events"
rvs=$(sed -n 's/^[0-9.]* POST 201 [A-Za-z]* \([0-9]*\)$/\1/p' "$requests")
is "$rvs" "$(printf '%s\n' "$rvs" | sort -n)" \
    "and each names a resourceVersion no older than the one before"
delays=$(sed -n 's/.*HTTP 503, retrying in \([-0-9.]*\)s.*/\1/p' \
    "$emit_dir/emitter.log" | tr '\n' ' ')
like "$delays" '^[34]\.[0-9] ' \
    "the first retry waits as Retry-After: 3 says ($delays)"
like "$delays" '^[^ ]* [23]\.[0-9] $' \
    "the second, told \"7s\", waits its backoff of 2 s or so"

emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"
log_clean "$emit_dir/emitter.log"
log_clean "$emit_dir/watcher-nb.log"
test_done
