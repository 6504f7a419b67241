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

# A relist after a crash reports without the field manager and marks the
# message; the same change is still one Event.
by='( by kubectl-patch)?( \(observed at resync\))?'

# change R STEP: step STEP (1 to 10) of Notebook nb-R's life.
change() {
    name=nb-$1
    case $2 in
    1)
        printf '{"apiVersion":"tensorstack.dev/v1beta1","kind":"Notebook",
            "metadata":{"name":"%s","namespace":"%s"},
            "spec":{"image":"i1"}}' "$name" "$ns" | k create -f - &&
            expect "$name" Created "created$by"
        ;;
    2 | 4 | 6 | 8)
        was=$([ "$2" -eq 2 ] && echo none || echo "p$(($2 - 2))")
        k -n "$ns" patch notebook "$name" --subresource=status \
            --type=merge -p "{\"status\":{\"phase\":\"p$2\"}}" &&
            expect "$name" StatusChanged "phase $was → p$2$by"
        ;;
    3 | 5 | 7 | 9)
        g=$(($2 / 2))
        k -n "$ns" patch notebook "$name" --type=merge \
            -p "{\"spec\":{\"image\":\"i$2\"}}" &&
            expect "$name" Updated \
                "spec changed \\(generation $g → $((g + 1))\\)$by"
        ;;
    10)
        if [ $(($1 % 2)) -eq 1 ]; then
            k -n "$ns" delete notebook "$name" --wait=false &&
                expect "$name" Deleted "deleted$by"
        else
            k -n "$ns" patch notebook "$name" --subresource=status \
                --type=merge -p '{"status":{"phase":"p10"}}' &&
                expect "$name" StatusChanged "phase p8 → p10$by"
        fi
        ;;
    esac
}

# changes: 4 groups of 5 Notebooks, the 10 steps of a group's Notebooks
# interleaved: 200 changes.
changes() {
    for group in 0 1 2 3; do
        for step in 1 2 3 4 5 6 7 8 9 10; do
            for i in 1 2 3 4 5; do
                change $((group * 5 + i)) "$step" >/dev/null 2>&1 ||
                    echo "change $((group * 5 + i)) $step failed" >&2
            done
        done
    done
    touch "$done_file"
}

# random_ms MIN MAX
random_ms() {
    awk -v min="$1" -v max="$2" -v seed="$(od -An -N4 -tu4 /dev/urandom)" \
        'BEGIN { srand(seed); print int(min + rand() * (max - min)) }'
}

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
