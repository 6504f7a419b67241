#!/bin/sh
# verify-events.py on a workload record: each kind of problem is counted,
# and what a relist after 410 Gone legitimately collapses is not.  No
# control plane: the record, the Events and the log are made up here.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/test-lib.sh"

verify="${PYTHON:-python3} $top_srcdir/t/lib/verify-events.py"
command -v jq >/dev/null || skip_all "jq is not installed (run t/setup)"
record=$test_tmp/record
good=$test_tmp/events.json
log=$test_tmp/log
: >"$log"

# change NAME STEP REASON NOTE RV EXISTS GENERATION PHASE [DELETED_BY]:
# one line of a workload record, about Notebook NAME of uid uNAME.
change() {
    jq -cn --arg n "$1" --argjson step "$2" --arg r "$3" --arg note "$4" \
        --arg rv "$5" --argjson exists "$6" --argjson g "$7" \
        --argjson phase "$8" --arg by "${9:-}" '{
        resource: "notebooks", kind: "Notebook", name: $n, uid: "u\($n)",
        step: $step, reason: $r, note: $note, rv: $rv, exists: $exists,
        generation: $g, phase: $phase}
        + if $by == "" then {} else {deleted_by: $by} end'
}

# Notebook a: created, status p1, spec 1 → 2, deleted.  Notebook b:
# created at 20 and deleted, within the gap (15, 40] of the log below.
{
    change a 0 Created created 10 true 1 null
    change a 1 StatusChanged 'phase none → p1' 11 true 1 '"p1"'
    change a 2 Updated 'spec changed (generation 1 → 2) by workload' 12 \
        true 2 '"p1"'
    change a 3 Deleted deleted 12 false 2 '"p1"' 14
    change b 0 Created created 20 true 1 null
    change b 1 Deleted deleted 20 false 1 null 22
} >"$record"

# event NAME UID REASON NOTE RV MICROSECONDS: an events.k8s.io/v1 Event.
event() {
    jq -n --arg n "$1" --arg u "$2" --arg r "$3" --arg note "$4" \
        --arg rv "$5" --arg t "2026-12-04T10:00:00.$6Z" '{
        metadata: {name: "\($n).\($rv)\($r)", namespace: "ns"},
        eventTime: $t, reportingController: "event-controller",
        reportingInstance: "test", action: "Create", reason: $r,
        type: "Normal", note: $note,
        regarding: {apiVersion: "tensorstack.dev/v1beta1",
            kind: "Notebook", namespace: "ns", name: $n, uid: $u,
            resourceVersion: $rv}}'
}
{
    event a ua Created created 10 000001
    event a ua StatusChanged 'phase none → p1' 11 000002
    event a ua Updated 'spec changed (generation 1 → 2) by workload' 12 \
        000003
    event a ua Deleted deleted 13 000004
} | jq -s '{items: .}' >"$good"

# verdict [LOG] < EVENTS: the verifier's summary line.
verdict() {
    $verify ${1:+--log "$1"} "$record" /dev/stdin | tail -1
}

zeros='missed 0, duplicated 0, wrong reason 0, wrong object 0,'
zeros="$zeros out of order 0"

# b was never seen: without a gap, its two changes are missed.
is "$(verdict <"$good")" \
    "missed 2, duplicated 0, wrong reason 0, wrong object 0, out of order 0" \
    "without a gap, an object created and deleted unseen is missed"

watcher='I1 12/04 10:00:00 watcher.c:1 event-controller/notebooks'
{
    echo "$watcher resourceVersion 15 is too old (410 Gone), relisting"
    echo "$watcher listed notebooks.v1beta1.tensorstack.dev at" \
        "resourceVersion 40"
} >"$log"
is "$(verdict "$log" <"$good")" "$zeros" \
    "an object created and deleted within a gap may have no Event"

is "$(jq 'del(.items[1])' "$good" | verdict "$log")" \
    "missed 1, duplicated 0, wrong reason 0, wrong object 0, out of order 0" \
    "a change observed directly without its Event is missed"

is "$(jq '.items[1].series = {count: 2}' "$good" | verdict "$log")" \
    "missed 0, duplicated 1, wrong reason 0, wrong object 0, out of order 0" \
    "a series count of 2 for one change is a duplicate"

is "$(jq '.items += [.items[0] | .metadata.name = "other"]' "$good" |
    verdict "$log")" \
    "missed 0, duplicated 1, wrong reason 0, wrong object 0, out of order 0" \
    "two Events for one change are a duplicate"

is "$(jq --argjson e "$(event a ua Deleted \
    'deleted while not watched (observed at resync)' 12 000005)" \
    '.items += [$e]' "$good" | verdict "$log")" \
    "missed 0, duplicated 1, wrong reason 0, wrong object 0, out of order 0" \
    "a deletion written directly and again at resync is a duplicate"

is "$(jq '.items[2].reason = "StatusChanged"' "$good" | verdict "$log")" \
    "missed 1, duplicated 0, wrong reason 1, wrong object 0, out of order 0" \
    "an Event with the reason of another change is a wrong reason"

is "$(jq '.items[1].regarding.uid = "uz"' "$good" | verdict "$log")" \
    "missed 1, duplicated 0, wrong reason 0, wrong object 1, out of order 0" \
    "an Event about an object never changed is a wrong object"

is "$(jq '.items[1].regarding.resourceVersion = "12"' "$good" |
    verdict "$log")" \
    "missed 1, duplicated 0, wrong reason 0, wrong object 1, out of order 0" \
    "an Event that names another version of its object is a wrong object"

is "$(jq '.items[0].eventTime = "2026-12-04T10:00:00.000009Z"' "$good" |
    verdict "$log")" \
    "missed 0, duplicated 0, wrong reason 0, wrong object 0, out of order 1" \
    "an Event written before the Event of an earlier change is out of order"

# A relist that found a at version 12 after it last knew version 10.
{
    event a ua Created created 10 000001
    event a ua StatusChanged 'phase none → p1 (observed at resync)' 12 \
        000002
    event a ua Updated \
        'spec changed (generation 1 → 2) (observed at resync)' 12 000002
    event a ua Deleted deleted 13 000004
} | jq -s '{items: .}' >"$test_tmp/resync.json"
is "$(verdict "$log" <"$test_tmp/resync.json")" "$zeros" \
    "resync Events represent the changes the relist collapsed"

is "$(jq '.items[1].note = "phase p1 → p2 (observed at resync)"' \
    "$test_tmp/resync.json" | verdict "$log")" \
    "missed 1, duplicated 0, wrong reason 1, wrong object 0, out of order 0" \
    "a resync Event that describes no change is a wrong reason"

test_done
