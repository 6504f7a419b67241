#!/bin/sh
# SIGTERM drains: the Events queued when it comes are written before the
# master exits, within the drain deadline.  What the deadline cuts off is
# written at the next start, and nothing twice.  A low qps keeps the
# Events queued.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
ns=$(test_namespace)
resources_json "$test_tmp/resources.json" notebooks

# run DRAIN_SECONDS: the master with that drain deadline, writing two
# Events a second.
run() {
    cat >"$test_tmp/event-controller.conf" <<CONF
resources_file = "resources.json";
namespaces = [ "$ns" ];
qps = 2.0;
burst = 1;
drain_timeout_s = $1;
CONF
    master_start --config "$test_tmp/event-controller.conf"
    check "the master becomes ready (drain $1 s)" wait_until 30 ready
}

# notebooks PREFIX: creates 12 Notebooks at once.
notebooks() {
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        printf -- '---\napiVersion: tensorstack.dev/v1beta1\nkind: Notebook\n'
        printf 'metadata: {name: %s-%s, namespace: %s}\n' "$1" "$i" "$ns"
        printf 'spec: {image: "jupyter:1"}\n'
    done | k apply -f - >/dev/null
}

# created PREFIX: how many Created Events the Notebooks PREFIX-* have.
created() {
    events_json "$ns" | jq --arg p "$1-" '[.items[]
        | select(.reason == "Created" and (.regarding.name
        | startswith($p)))] | length'
}

# stop: SIGTERM; sets status to the master's exit status and took to the
# seconds it took.
stop() {
    start=$(date +%s)
    kill -TERM "$master_pid"
    wait "$master_pid"
    status=$?
    took=$(($(date +%s) - start))
}

run 30
notebooks a
some() { [ "$(created a)" -ge 1 ]; }
check "the first Events are written" wait_until 20 some
like "$(created a)" '^([1-9]|1[01])$' "and some are still queued"
stop
is "$status" 0 "SIGTERM stops the master with status 0"
is "$(created a)" 12 "after writing every queued Event"
like "$took" '^([0-9]|[12][0-9])$' "within the deadline ($took s)"

run 1
notebooks b
some_b() { [ "$(created b)" -ge 1 ]; }
check "the first Events are written again" wait_until 20 some_b
stop
is "$status" 0 "a short deadline stops it with status 0 too"
like "$took" '^[0-5]$' "soon ($took s)"
like "$(created b)" '^([0-9]|1[01])$' "with Events still unwritten"
check "which the log says will be sent again" log_has \
    'drain timeout: [0-9]+ Events not written, they stay in the outbox'

run 30
all_b() { [ "$(created b)" -ge 12 ]; }
check "the next start writes the rest" wait_until 30 all_b
sleep 2
is "$(created b)" 12 "each Event once"
stop

log_clean "$master_log" 'drain timeout'
test_done
