#!/bin/sh
# Chaos, short form: through the master, 2,000 changes to Notebooks,
# ImageBuilders and WorkflowTemplates, while a child picked at random, a
# watcher or the emitter, is killed with SIGKILL every 2 s;
# at each fifth of the changes, etcd is compacted or the apiserver
# restarts, twice each.  No change is missed and none is written twice;
# a change a compaction took from a watcher comes back in a resync Event,
# as verify-events.py defines it.  The watch cache is off, so that
# compaction reaches the watches of custom resources.
#
#   EC_CHAOS_CHANGES   how many changes (2000)
#   EC_CHAOS_SECONDS   how long they should take (40): sets their rate
#   EC_WORKLOAD_SEED   replays the changes of one run
#   EC_CHAOS_KILL_EMITTER=no  kills only watchers
#
# "make chaos" runs the long form, 10,000 changes in 60 s.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

changes=${EC_CHAOS_CHANGES:-2000}
seconds=${EC_CHAOS_SECONDS:-40}
resources="notebooks imagebuilders workflowtemplates"

cluster_private chaos --no-watch-cache
ns=$(test_namespace)
emit_init
# Twice the workload's rate, so that the queue empties between kills.
workload_master "$ns" "qps = $((changes * 2 / seconds + 1)).0;" \
    "burst = 100;"

$workload --namespace "$ns" --changes "$changes" \
    --rate "$((changes / seconds))" --connections 4 \
    ${EC_WORKLOAD_SEED:+--seed "$EC_WORKLOAD_SEED"} --record "$record" \
    >"$test_tmp/workload.out" 2>&1 &
workload_pid=$!

# kill_child ROLE [RESOURCE]: SIGKILL to that child of the master, if it
# runs.
kill_child() {
    pid=$(child_pid "$@")
    [ -z "$pid" ] || kill -9 "$pid"
}

# The emitter is killed too, at any moment, compactions and restarts
# included: what it decided is in its outbox, and no change is decided
# twice.  EC_CHAOS_KILL_EMITTER=no kills only watchers.
kill_emitter=${EC_CHAOS_KILL_EMITTER:-yes}

# The master exits when the emitter crashes five times within two
# minutes, as it should: so the emitter is killed at most three times in
# any two minutes, which leaves room for one crash of its own to show.
emitter_kills_max=3
emitter_kill_times=

# emitter_may_die NOW: fewer than emitter_kills_max kills in the last
# 120 s.
emitter_may_die() {
    [ "$kill_emitter" != no ] || return 1
    recent=0
    for t in $emitter_kill_times; do
        [ $(($1 - t)) -ge 120 ] || recent=$((recent + 1))
    done
    [ "$recent" -lt "$emitter_kills_max" ]
}

# disruption_due: the next disruption is due, at each fifth of the
# changes made.
disruption_due() {
    [ "$disrupted" -lt 4 ] || return 1
    made=$(wc -l <"$record")
    [ "$made" -ge $((changes * (disrupted + 1) / 5)) ]
}

# restart_reap: notes the end of a restart running in the background.
restart_reap() {
    [ -n "$restart_pid" ] && ! kill -0 "$restart_pid" 2>/dev/null ||
        return 0
    wait "$restart_pid" || echo "restart failed" >>"$test_tmp/kube.out"
    restart_pid=
}

# disrupt N: the Nth disruption.  Compaction follows a watcher's kill, so
# that the watcher resumes from a position etcd no longer holds; a
# restart runs in the background, since kills go on while the apiserver
# is down.
disrupt() {
    case $1 in
    1 | 3)
        kill_child watcher notebooks
        watcher_kills=$((watcher_kills + 1))
        if "$KUBE" compact "$cluster_dir" >>"$test_tmp/kube.out" 2>&1; then
            compactions=$((compactions + 1))
        fi
        ;;
    2 | 4)
        [ -z "$restart_pid" ] || wait "$restart_pid" ||
            echo "restart failed" >>"$test_tmp/kube.out"
        "$KUBE" restart "$cluster_dir" >>"$test_tmp/kube.out" 2>&1 &
        restart_pid=$!
        restarts=$((restarts + 1))
        ;;
    esac
}

# kill_one NOW: SIGKILL to a child picked at random: a watcher, or the
# emitter when it may die, then at least every 10 s.
kill_one() {
    what=$(random_ms 0 4)
    if emitter_may_die "$1" &&
        { [ "$what" -eq 3 ] || [ $(($1 - emitter_killed_at)) -ge 10 ]; }
    then
        kill_child emitter
        emitter_kills=$((emitter_kills + 1))
        emitter_kill_times="$emitter_kill_times $1"
        emitter_killed_at=$1
        return
    fi
    # shellcheck disable=SC2086
    set -- $resources
    [ "$what" -lt 3 ] || what=$(random_ms 0 3)
    shift "$what"
    kill_child watcher "$1"
    watcher_kills=$((watcher_kills + 1))
}

start=$(date +%s)
watcher_kills=0
emitter_kills=0
emitter_killed_at=$start
compactions=0
restarts=0
restart_pid=
disrupted=0
while kill -0 "$workload_pid" 2>/dev/null; do
    sleep 2
    restart_reap
    now=$(date +%s)
    if disruption_due; then
        disrupted=$((disrupted + 1))
        disrupt "$disrupted"
    else
        kill_one "$now"
    fi
done
workload_done
echo "# workload $(head -1 "$test_tmp/workload.out"), $watcher_kills" \
    "watcher kills, $emitter_kills emitter kills"
[ -z "$restart_pid" ] || wait "$restart_pid" ||
    echo "restart failed" >>"$test_tmp/kube.out"
is "$restarts $compactions $(grep -c failed "$test_tmp/kube.out")" "2 2 0" \
    "the apiserver restarts twice and etcd is compacted twice, unfailed"
like "$watcher_kills" '^([5-9]|[1-9][0-9]+)$' \
    "watchers were killed, several times"
if [ "$kill_emitter" != no ]; then
    like "$emitter_kills" '^[1-9]' "the emitter was killed too"
fi

workload_verified "$ns" 240

relists=$(grep -c 'is too old (410 Gone), relisting' "$master_log")
like "$relists" '^[1-9]' "watchers relisted after 410 Gone ($relists times)"
check "the master still runs" kill -0 "$master_pid"
unlike "$(grep 'writing core/v1 Events' "$master_log")" . \
    "the emitter writes events.k8s.io/v1 Events throughout"

log_clean "$master_log" \
    'killed by signal SIGKILL|ended mid-record|crashed|ended, waiting'
test_done
