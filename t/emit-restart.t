#!/bin/sh
# Crashes lose no Event and duplicate none: 200 changes to Notebooks are
# made while the emitter and the watcher are killed with SIGKILL at random
# moments and restarted with the same state dir; in the end every change
# has exactly one Event.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"

cluster_shared
ns=$(test_namespace)
emit_init
done_file=$test_tmp/changes-done
: >"$record"

emit_notebooks
check "the first start saves a position" \
    wait_until 30 test -s "$emit_dir/state/nb.state"

changes 2>"$test_tmp/changes.err" &
changes_pid=$!
kills=0
while [ ! -e "$done_file" ]; do
    sleep "$(awk -v ms="$(random_ms 300 2500)" 'BEGIN { print ms / 1000 }')"
    if [ "$(random_ms 0 2)" -eq 0 ]; then
        emit_kill "$emitter_pid"
        sleep "0.$(random_ms 0 5)"
        emit_kill "$watcher_pid_nb"
    else
        emit_kill "$watcher_pid_nb"
        sleep "0.$(random_ms 0 5)"
        emit_kill "$emitter_pid"
    fi
    kills=$((kills + 1))
    emit_notebooks
done
wait "$changes_pid"
is "$(cat "$test_tmp/changes.err")" "" "the test made its changes"
is "$(wc -l <"$record")" 200 "200 changes were made"
like "$kills" '^([3-9]|[1-9][0-9]+)$' \
    "the pair was killed several times ($kills)"

check "every change gets its Event" \
    wait_until 120 events_at_least "$ns" 200
check "and no more appear" wait_until 30 events_settled "$ns" 200
events_json "$ns" >"$test_tmp/events.json"
check "every change has exactly one Event, in the order of the changes" \
    $verify_events "$record" "$test_tmp/events.json"

emit_stop "$emitter_pid"
emit_stop "$watcher_pid_nb"
log_clean "$emit_dir/emitter.log"
log_clean "$emit_dir/watcher-nb.log"
test_done
