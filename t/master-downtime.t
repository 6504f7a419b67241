#!/bin/sh
# Downtime, short form: the whole controller stops (SIGTERM) for 15 s
# while the workload goes on creating, changing and deleting Notebooks,
# ImageBuilders and WorkflowTemplates, and etcd is compacted meanwhile, so
# that no watch can resume where it stopped.  Started again on the same
# state, every change is represented once: by its own Event, or, where
# the compaction took it, by the resync Event of the relist, as
# verify-events.py defines it.  The watch cache is off, so that
# compaction reaches the watches of custom resources.
#
#   EC_DOWNTIME_CHANGES  how many changes (1500)
#   EC_DOWNTIME_SECONDS  how long the controller stays down (15); the
#                        workload runs three times as long
#   EC_WORKLOAD_SEED     replays the changes of one run
#
# "make downtime" runs the long form, 6,000 changes and 60 s down.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

changes=${EC_DOWNTIME_CHANGES:-1500}
down=${EC_DOWNTIME_SECONDS:-15}

cluster_private downtime --no-watch-cache
ns=$(test_namespace)
emit_init
workload_master "$ns"

$workload --namespace "$ns" --changes "$changes" \
    --rate "$((changes / (3 * down) + 1))" --connections 4 \
    ${EC_WORKLOAD_SEED:+--seed "$EC_WORKLOAD_SEED"} --record "$record" \
    >"$test_tmp/workload.out" 2>&1 &
workload_pid=$!

sleep "$down"
kill -TERM "$master_pid"
wait "$master_pid"
is "$?" 0 "SIGTERM stops the whole controller, with status 0"
made_before=$(wc -l <"$record")
sleep "$down"
check "etcd is compacted while the controller is down" \
    "$KUBE" compact "$cluster_dir"
made_during=$(($(wc -l <"$record") - made_before))
like "$made_during" '^[1-9]' \
    "the workload changed objects meanwhile ($made_during changes)"

master_start --config "$test_tmp/event-controller.conf"
check "the master starts again and becomes ready" wait_until 60 ready

workload_done

workload_verified "$ns" 180

relists=$(grep -c 'is too old (410 Gone), relisting' "$master_log")
like "$relists" '^[1-9]' "watchers relisted after 410 Gone ($relists times)"
resyncs=$(grep -o "observed at resync" "$events" | wc -l)
like "$resyncs" '^[1-9]' "the relists wrote resync Events ($resyncs)"

log_clean "$master_log"
test_done
