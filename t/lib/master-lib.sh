# Helpers for the tests of the master: start it against the shared
# control plane, find its children, read its log and its HTTP endpoint.
# Source after test-lib.sh.

master_log=$test_tmp/master.log

# master_start ARGS...: starts the master in the background, logging to
# $master_log; sets master_pid.  The state folder and a free port are
# chosen here; it is killed when the test ends.
master_start() {
    "$EC_BIN" --kubeconfig "$KUBECONFIG" --state-dir "$test_tmp/state" \
        --metrics-address 127.0.0.1:0 -v 2 "$@" >>"$master_log" 2>&1 &
    master_pid=$!
    test_cleanup master_kill
}

# master_kill: the cleanup; its children die with it (PR_SET_PDEATHSIG).
# Registered by name, since test_cleanup runs each word on its own.
master_kill() {
    kill -9 "$master_pid"
}

# master_port: the port the master serves HTTP on, from its log.
master_port() {
    sed -n 's/.*serving \/metrics.* at 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
        "$master_log" | tail -1
}

# http PATH: the body of GET PATH, with the status code on the last line.
http() {
    curl -sS -w '\n%{http_code}' "http://127.0.0.1:$(master_port)$1"
}

# child_pid ROLE [RESOURCE]: the pid of the master's child; fails when
# none runs, so that it serves as a condition too.
child_pid() {
    if [ "$1" = emitter ]; then
        pid=$(pgrep -P "$master_pid" -f '(^|/)event-controller emitter ' |
            head -1)
    else
        pid=$(pgrep -P "$master_pid" -f \
            "(^|/)event-controller watcher .*--resource $2 " | head -1)
    fi
    [ -n "$pid" ] && echo "$pid"
}

# children_count: how many children the master has.
children_count() {
    pgrep -P "$master_pid" | wc -l
}

# log_has REGEX: the master's log has a line matching REGEX.
log_has() {
    grep -Eq -- "$1" "$master_log"
}

# ready: /readyz answers 200.
ready() {
    [ "$(http /readyz | tail -1)" = 200 ]
}

# resources_json FILE RESOURCE...: a resources file of the seed's CRDs.
resources_json() {
    file=$1
    shift
    {
        printf '{"resources": ['
        sep=
        for r in "$@"; do
            printf '%s{"group": "tensorstack.dev", "version": "v1beta1", ' \
                "$sep"
            printf '"resource": "%s"}' "$r"
            sep=', '
        done
        printf ']}\n'
    } >"$file.tmp" && mv "$file.tmp" "$file"
}

# workload_master NS [SETTING...]: starts the master on the workload's
# Notebooks, ImageBuilders and WorkflowTemplates in NS, with these
# settings added to its configuration, $test_tmp/event-controller.conf,
# and checks that it becomes ready.
workload_master() {
    resources_json "$test_tmp/resources.json" \
        notebooks imagebuilders workflowtemplates
    {
        echo 'resources_file = "resources.json";'
        echo "namespaces = [ \"$1\" ];"
        shift
        for setting in "$@"; do
            echo "$setting"
        done
    } >"$test_tmp/event-controller.conf"
    master_start --config "$test_tmp/event-controller.conf"
    check "the master becomes ready" wait_until 30 ready
}

# workload_done: the workload started as $workload_pid ends, having made
# its $changes changes; its output is $test_tmp/workload.out.
workload_done() {
    if wait "$workload_pid"; then
        pass "the workload makes $changes changes: $(tail -1 \
            "$test_tmp/workload.out")"
    else
        fail "the workload makes $changes changes" \
            "$(cat "$test_tmp/workload.out")"
    fi
}

# workload_verified NS SECONDS: checks, within SECONDS, that the Events of
# NS represent every change of $record once, as verify-events.py judges
# with the gaps of $master_log; then, 5 s later, that it stays so.  The
# Events are left in $test_tmp/events.json.
workload_verified() {
    events=$test_tmp/events.json
    verdict=$test_tmp/verdict
    verify_ns=$1
    if wait_until "$2" verified; then
        pass "every change is represented once"
    else
        fail "every change is represented once" \
            "expected: missed 0, duplicated 0, wrong reason 0," \
            "          wrong object 0, out of order 0" \
            "got:      $(tail -1 "$verdict")" "$(head -20 "$verdict")"
    fi
    sed 's/^/# /' "$verdict" | tail -2
    sleep 5
    if verified; then
        pass "and it stays so: no late Event appears"
    else
        fail "and it stays so: no late Event appears" \
            "$(head -20 "$verdict")"
    fi
}

# verified: the Events pass the verifier; tries again 2 s later.
verified() {
    events_json "$verify_ns" >"$events" &&
        $verify_events --log "$master_log" "$record" "$events" \
            >"$verdict" && return 0
    sleep 2
    return 1
}
