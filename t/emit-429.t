#!/bin/sh
# Throttling: with the apiserver taking one mutating request at a time,
# a burst of changes makes the emitter's writes meet 429; it retries them
# until every Event is written, and counts the retries.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"

cluster_private throttle --max-mutating-inflight 1
ns=$(test_namespace)
emit_init
n=60

# The in-flight limit spares system:masters: the emitter writes as a user
# that may only write Events.
check "a Role lets the restricted user write Events" \
    k -n "$ns" create role writer --verb=create,patch --resource=events \
    --resource=events.events.k8s.io
check "bound to it" \
    k -n "$ns" create rolebinding writer --role=writer --user=restricted
emit_kubeconfig=$cluster_dir/restricted.kubeconfig

emit_watcher nb --group tensorstack.dev --version v1beta1 \
    --resource notebooks --namespace "$ns"
# -v 3: the emitter logs its counters when it stops.
emit_emitter nb -- -v 3
check "the first start saves a position" \
    wait_until 30 test -s "$emit_dir/state/nb.state"

# Stopped, the emitter lets the changes pile up in the pipe, then sends
# all their Events at once.
kill -STOP "$emitter_pid"
for i in $(seq $n); do
    printf -- '---\n{"apiVersion":"tensorstack.dev/v1beta1","kind":"Notebook",
"metadata":{"name":"nb-%d","namespace":"%s"},"spec":{"image":"a"}}\n' \
        "$i" "$ns"
    printf 'nb-%d\tCreated\tcreated\n' "$i" >>"$record"
done >"$test_tmp/notebooks.yaml"
check "$n Notebooks are created" k apply -f "$test_tmp/notebooks.yaml"
kill -CONT "$emitter_pid"

check "every Event is written" wait_until 120 events_at_least "$ns" $n
check "and no more" wait_until 30 events_settled "$ns" $n
events_json "$ns" >"$test_tmp/events.json"
check "each Notebook has exactly one Created Event" \
    $verify_events "$record" "$test_tmp/events.json"

emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"
series='event_controller_events_retried_total{resource="notebooks[^"]*"'
retried=$(sed -n "s/^$series,reason=\"[A-Za-z]*\"} \([0-9]*\)\$/\1/p" \
    "$emit_dir/emitter.log" | head -1)
# Under valgrind the emitter sends too slowly to meet the limit of one.
if [ -n "${EC_VALGRIND_LOGS:-}" ]; then
    skip "the emitter counted its retries" "too slow under valgrind for 429"
    skip "and logged them as 429s" "too slow under valgrind for 429"
else
    like "${retried:-none}" '^[1-9][0-9]*$' \
        "the emitter counted its retries (events_retried_total)"
    like "$(grep -c 'HTTP 429, retrying' "$emit_dir/emitter.log")" '^[1-9]' \
        "and logged them as 429s"
fi
log_clean "$emit_dir/emitter.log"
log_clean "$emit_dir/watcher-nb.log"
test_done
