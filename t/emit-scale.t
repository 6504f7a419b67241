#!/bin/sh
# Through the master, 1,000 changes to Notebooks, ImageBuilders and
# WorkflowTemplates, made by four concurrent clients, make exactly the
# Events they should: each change one Event, with its reason, about its
# object, none twice, in the order of each object's changes.
# EC_WORKLOAD_SEED replays one run's changes.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

changes=1000
cluster_shared
ns=$(test_namespace)
emit_init
workload_master "$ns"

# 50 changes a second over 4 connections: the emitter's default qps.
if $workload --namespace "$ns" --changes $changes --rate 50 \
    --connections 4 ${EC_WORKLOAD_SEED:+--seed "$EC_WORKLOAD_SEED"} \
    --record "$record" >"$test_tmp/workload.out" 2>&1; then
    pass "the workload makes $changes changes: $(tail -1 \
        "$test_tmp/workload.out")"
else
    fail "the workload makes $changes changes" "$(cat "$test_tmp/workload.out")"
fi
echo "# workload $(head -1 "$test_tmp/workload.out")"

# Every change to these resources makes one Event.
check "every change gets its Event" \
    wait_until 120 events_at_least "$ns" $changes
check "and no more appear" wait_until 30 events_settled "$ns" $changes
events_json "$ns" >"$test_tmp/events.json"
check "each change has its Event: none missed, duplicated, wrong or late" \
    $verify_events --log "$master_log" "$record" "$test_tmp/events.json"

log_clean "$master_log"
test_done
