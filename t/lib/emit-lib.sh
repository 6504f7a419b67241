# Helpers for the emitter's tests: watchers and an emitter joined by named
# pipes, as the master joins them, but started and killed by the test;
# and the Events the apiserver holds, as JSON.
#
# A test sets emit_dir (logs, pipes and the state dir live there), starts
# watchers with emit_watcher and the emitter with emit_emitter, and reads
# the pids from watcher_pid_KEY and emitter_pid.

. "$top_srcdir/t/lib/test-lib.sh"

verify_events="${PYTHON:-python3} $top_srcdir/t/lib/verify-events.py"
workload="${PYTHON:-python3} $top_srcdir/t/lib/workload.py"

# emit_init: the directories of this test's processes.
emit_init() {
    emit_dir=$test_tmp/emit
    record=$test_tmp/record
    mkdir -p "$emit_dir/state"
    test_cleanup emit_kill_all
}

# emit_watcher KEY ARGS...: starts a watcher whose changes go into KEY's
# pipe, with its state beside the emitter's.  KEY is a shell word.
emit_watcher() {
    key=$1
    shift
    [ -p "$emit_dir/$key.fifo" ] || mkfifo "$emit_dir/$key.fifo"
    "$EC_BIN" watcher "$@" --kubeconfig "$KUBECONFIG" \
        --state "$emit_dir/state/$key.state" --output-fd 3 -v 2 \
        3>"$emit_dir/$key.fifo" 2>>"$emit_dir/watcher-$key.log" &
    eval "watcher_pid_$key=\$!"
}

# emit_emitter KEY... [-- OPTIONS...]: starts the emitter reading the pipes
# of these keys, with the options after "--", as the identity of
# $emit_kubeconfig if set.
emit_emitter() {
    inputs=
    redirects=
    fd=3
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        inputs="$inputs --input $1=$fd"
        redirects="$redirects $fd<\"\$emit_dir/$1.fifo\""
        fd=$((fd + 1))
        shift
    done
    [ $# -gt 0 ] && shift
    eval "\"\$EC_BIN\" emitter --state-dir \"\$emit_dir/state\"" \
        "--kubeconfig \"\${emit_kubeconfig:-\$KUBECONFIG}\"" \
        "--reporting-instance test-emitter" \
        "$inputs -v 2 \"\$@\" $redirects 2>>\"\$emit_dir/emitter.log\" &"
    emitter_pid=$!
}

# emit_notebooks: a watcher of the test's Notebooks, key nb, and the
# emitter reading it.
emit_notebooks() {
    emit_watcher nb --group tensorstack.dev --version v1beta1 \
        --resource notebooks --namespace "$ns"
    emit_emitter nb
}

# expect NAME REASON NOTE-REGEX: one Event the test's changes must make,
# added to $record for verify-events.py.
expect() {
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$record"
}

# emit_stop PID: SIGTERM, then waits for the process to exit.
emit_stop() {
    kill "$1" 2>/dev/null || return 0
    wait "$1" 2>/dev/null || true
}

# emit_kill PID: SIGKILL, then reaps it.
emit_kill() {
    kill -9 "$1" 2>/dev/null || return 0
    wait "$1" 2>/dev/null || true
}

# emit_kill_all: kills whatever this test still runs.
emit_kill_all() {
    for pid in $(jobs -p); do
        kill -9 "$pid" 2>/dev/null || true
    done
}

# events_json NS: the events.k8s.io/v1 Events of NS.
events_json() {
    k get --raw "/apis/events.k8s.io/v1/namespaces/$1/events"
}

# event_count NS: how many occurrences the Events of NS tell of: one an
# Event, or its series count when identical Events were folded into it.
event_count() {
    events_json "$1" | jq '[.items[] | .series.count // 1] | add // 0'
}

# events_at_least NS N: the Events of NS tell of at least N occurrences.
events_at_least() {
    [ "$(event_count "$1")" -ge "$2" ]
}

# events_settled NS N: the count of NS has stayed at N for 2 seconds, so a
# late duplicate would have had its chance to appear.
events_settled() {
    [ "$(event_count "$1")" -eq "$2" ] && sleep 2 &&
        [ "$(event_count "$1")" -eq "$2" ]
}

# object_events NS NAME: one line per Event of object NAME,
# "reason|type|note", oldest change first.
object_events() {
    events_json "$1" | jq -r --arg n "$2" '.items
        | map(select(.regarding.name == $n))
        | sort_by(.regarding.resourceVersion | tonumber)
        | .[] | "\(.reason)|\(.type)|\(.note)"'
}

# The life of a Notebook in 10 steps, for tests that make many changes
# while processes die.  A relist after a crash reports without the field
# manager and marks the message; the same change is still one Event.
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
# interleaved: 200 changes; touches $done_file when they are made.
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

