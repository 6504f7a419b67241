#!/bin/sh
# Under the master, a child killed with SIGKILL at any moment loses no
# Event and repeats none: 200 changes to Notebooks are made while the
# watcher alone, the emitter alone, or both are killed at random, and the
# master restarts them.  A watcher killed alone replays what came after
# the saved position; none of it may be written, or counted, twice.  A low
# qps keeps changes queued in the emitter, so that there is always
# something to replay.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
ns=$(test_namespace)
emit_init
done_file=$test_tmp/changes-done
: >"$record"
resources_json "$test_tmp/resources.json" notebooks
cat >"$test_tmp/event-controller.conf" <<CONF
resources_file = "resources.json";
namespaces = [ "$ns" ];
qps = 2.5;
burst = 1;
CONF
master_start --config "$test_tmp/event-controller.conf"
check "the master becomes ready" wait_until 30 ready

# The master gives up after five crashes of the emitter within two
# minutes, so it is killed three times at most.
emitter_kills_max=3

# kill_child ROLE: SIGKILL to the master's child; fails if none runs.
kill_child() {
    pid=$(child_pid "$1" notebooks) && kill -9 "$pid"
}

changes 2>"$test_tmp/changes.err" &
changes_pid=$!
watcher_kills=0
emitter_kills=0
while [ ! -e "$done_file" ]; do
    sleep "$(awk -v ms="$(random_ms 300 2000)" 'BEGIN { print ms / 1000 }')"
    what=$(random_ms 0 4)
    [ "$emitter_kills" -lt "$emitter_kills_max" ] || what=0
    case $what in
    0 | 1)
        kill_child watcher && watcher_kills=$((watcher_kills + 1))
        ;;
    2)
        kill_child emitter && emitter_kills=$((emitter_kills + 1))
        ;;
    *)
        kill_child watcher && watcher_kills=$((watcher_kills + 1))
        kill_child emitter && emitter_kills=$((emitter_kills + 1))
        ;;
    esac
done
wait "$changes_pid"
is "$(cat "$test_tmp/changes.err")" "" "the test made its changes"
is "$(wc -l <"$record")" 200 "200 changes were made"
like "$watcher_kills" '^[1-9][0-9]*$' \
    "the watcher was killed ($watcher_kills times)"

# Once more, the watcher alone: it must not start again before the
# emitter has written and released what it holds of it, or its replay
# would count those changes twice.
check "the watcher runs again" wait_until 180 child_pid watcher notebooks
mark=$(($(wc -l <"$master_log") + 1))
kill_child watcher
# since: the master's log since the kill.
since() {
    tail -n +"$mark" "$master_log"
}
released() { since | grep -q 'the emitter released notebooks\.'; }
check "the emitter releases what it held of the killed watcher" \
    wait_until 180 released
restarted() {
    since | sed -n '/the emitter released notebooks\./,$p' |
        grep -q 'started watcher notebooks\.'
}
check "then the watcher starts again" wait_until 60 restarted
is "$(since | sed '/the emitter released notebooks\./q' |
    grep -c 'started watcher notebooks\.')" 0 "and not before"
check "every change gets its Event" \
    wait_until 180 events_at_least "$ns" 200
check "and no more appear" wait_until 30 events_settled "$ns" 200
events_json "$ns" >"$test_tmp/events.json"
check "every change has one Event, counted once, in the order of changes" \
    $verify_events "$record" "$test_tmp/events.json"

log_clean "$master_log" \
    'killed by signal SIGKILL|ended mid-record|crashed|ended, waiting'
test_done
