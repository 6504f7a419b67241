#!/bin/sh
# /metrics is valid Prometheus text and its counters move; /healthz and
# /readyz answer.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

command -v promtool >/dev/null ||
    skip_all "promtool is not installed (Debian package prometheus)"
cluster_shared
ns=$(test_namespace)
resources_json "$test_tmp/resources.json" notebooks imagebuilders
master_start --resources "$test_tmp/resources.json" --namespace "$ns"
check "the master serves HTTP" wait_until 20 sh -c "[ -n \"\$(sed -n \
    's/.*serving \/metrics.* at //p' '$master_log')\" ]"

is "$(http /healthz | sed "/^$/d" | tr "\n" " ")" "ok 200" \
    "/healthz answers 200 ok"
check "/readyz answers 200 once every watcher has listed" wait_until 30 ready

# metric_value SERIES: the value of the series in /metrics.
metric_value() {
    http /metrics | awk -v s="$1" '$1 == s { print $2 }'
}
http /metrics | sed '$d' >"$test_tmp/metrics"
check "/metrics passes promtool's parser" sh -c \
    "promtool check metrics <'$test_tmp/metrics' 2>&1 | \
     grep -v '^$' | (! grep .)"
is "$(metric_value event_controller_up)" 1 "event_controller_up is 1"
is "$(metric_value 'event_controller_children{role="watcher"}')" 2 \
    "two watchers run"
# started SERIES: the counter SERIES is at least 1.
started() {
    [ "$(metric_value "$1")" -ge 1 ] 2>/dev/null
}
for r in notebooks imagebuilders; do
    check "watches_started counts the watch of $r" wait_until 10 \
        started "event_controller_watches_started_total{resource=\"$r\"}"
done
is "$(grep '^# TYPE ' "$test_tmp/metrics" | sort | uniq -d)" "" \
    "each family has one TYPE line"

# moved SERIES [LABEL-REGEX]: a series named SERIES, with labels that
# match if given, is 1 or more.
moved() {
    if [ -n "${2:-}" ]; then
        http /metrics | grep -Eq "^$1\{[^}]*$2[^}]*\} [1-9]"
    else
        http /metrics | grep -Eq "^$1 [1-9]"
    fi
}
notebook counted
check "changes_observed counts the Notebook created" wait_until 20 moved \
    event_controller_changes_observed_total 'resource="notebooks"'
check "events_written counts its Created Event" wait_until 20 moved \
    event_controller_events_written_total 'reason="Created"'
check "change_to_event_seconds has observed it" wait_until 20 moved \
    event_controller_change_to_event_seconds_count
is "$(metric_value event_controller_queue_depth)" 0 \
    "the queue is empty again"

restarts='event_controller_child_restarts_total{role="watcher",'
restarts="${restarts}resource=\"notebooks.v1beta1.tensorstack.dev@$ns\"}"
is "$(metric_value "$restarts")" 0 "no restart so far"
kill -9 "$(child_pid watcher notebooks)"
restarted() { [ "$(metric_value "$restarts")" = 1 ]; }
check "child_restarts_total counts the restart after a SIGKILL" \
    wait_until 10 restarted

log_clean "$master_log" 'killed by signal SIGKILL'
test_done
