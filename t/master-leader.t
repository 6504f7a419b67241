#!/bin/sh
# Two replicas elect one leader through a Lease: only the leader watches
# and writes Events.  When the leader's whole process tree is killed, the
# standby takes the Lease within 20 s, resumes from the positions kept in
# ConfigMaps, and in the end every change has exactly one Event.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/lib/emit-lib.sh"

cluster_shared
ns=$(test_namespace)
record=$test_tmp/record
: >"$record"
lease=event-controller
resources_json() {
    printf '{"resources": [{"group": "tensorstack.dev", "version": '
    printf '"v1beta1", "resource": "notebooks"}]}\n'
}
resources_json >"$test_tmp/resources.json"
cat >"$test_tmp/ha.conf" <<CONF
leader_election = true;
leader_election_namespace = "$ns";
leader_election_lease = "$lease";
CONF

# replica NAME: starts a master as replica NAME (a or b), with a state
# folder and a log of its own; sets pid_NAME.
replica() {
    mkdir -p "$test_tmp/state-$1"
    POD_NAME=replica-$1 "$EC_BIN" --config "$test_tmp/ha.conf" \
        --kubeconfig "$KUBECONFIG" --resources "$test_tmp/resources.json" \
        --namespace "$ns" --state-dir "$test_tmp/state-$1" \
        --metrics-address 127.0.0.1:0 -v 2 >>"$test_tmp/$1.log" 2>&1 &
    eval "pid_$1=\$!"
    test_cleanup "kill -9 $! \$(pgrep -P $!)"
}

# holder: the replica named in the Lease's holderIdentity, or nothing.
holder() {
    k -n "$ns" get lease "$lease" -o jsonpath='{.spec.holderIdentity}' \
        2>/dev/null | sed -n 's/^replica-\([ab]\)_[0-9a-f]*$/\1/p'
}

# held: some replica holds the Lease.
held() {
    [ -n "$(holder)" ]
}

# holder_is NAME: replica NAME holds the Lease.
holder_is() {
    [ "$(holder)" = "$1" ]
}

# readyz NAME: the /readyz body of replica NAME.
readyz() {
    port=$(sed -n 's/.*serving \/metrics.* at 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
        "$test_tmp/$1.log" | tail -1)
    [ -n "$port" ] && curl -sS "http://127.0.0.1:$port/readyz"
}

# readyz_is NAME BODY
readyz_is() {
    [ "$(readyz "$1")" = "$2" ]
}

# watchers NAME: how many watchers replica NAME's master runs now.
watchers() {
    eval "p=\$pid_$1"
    pgrep -P "$p" -f '(^|/)event-controller watcher ' | wc -l
}

# changes PREFIX: creates Notebooks PREFIX-1 to PREFIX-4 and changes
# their status twice: 12 changes, each expected to make one Event.
changes() {
    for i in 1 2 3 4; do
        notebook "$1-$i" && expect "$1-$i" Created 'created'
    done
    for phase in Pending Running; do
        was=$([ $phase = Pending ] && echo none || echo Pending)
        for i in 1 2 3 4; do
            k -n "$ns" patch notebook "$1-$i" --subresource=status \
                --type=merge -p "{\"status\":{\"phase\":\"$phase\"}}" \
                >/dev/null &&
                expect "$1-$i" StatusChanged "phase $was → $phase"
        done
    done
}

# reporting_instances: the reportingInstance of every Event, sorted, unique.
reporting_instances() {
    events_json "$ns" | jq -r '.items[].reportingInstance' | sort -u |
        tr '\n' ' '
}

# state_kept: a ConfigMap holds the position of the Notebooks' watcher.
state_kept() {
    k -n "$ns" get configmaps -l app.kubernetes.io/managed-by=event-controller \
        -o jsonpath='{.items[*].data.key}' 2>/dev/null |
        grep -q "^notebooks\.v1beta1\.tensorstack\.dev@$ns\$"
}

# watching NAME: replica NAME runs its watcher.
watching() {
    [ "$(watchers "$1")" -eq 1 ]
}

replica a
replica b
check "one replica takes the Lease" wait_until 60 held
leader=$(holder)
standby=$([ "$leader" = a ] && echo b || echo a)
check "the leader is ready and says it leads" \
    wait_until 30 readyz_is "$leader" "ok: leader"
check "the standby is ready and says it stands by" \
    wait_until 10 readyz_is "$standby" "ok: standby"
is "$(watchers "$standby")" 0 "the standby runs no watcher"
is "$(watchers "$leader")" 1 "the leader runs the watcher"

changes one
check "the leader writes the Events of the first changes" \
    wait_until 30 events_at_least "$ns" 12
is "$(reporting_instances)" "replica-$leader " \
    "every Event so far was written by the leader"
check "the leader keeps its position in a ConfigMap" \
    wait_until 10 state_kept
# Changes the leader wrote but may not have uploaded yet are replayed.
changes two
sleep 1

eval "victim=\$pid_$leader"
kill -9 "$victim" $(pgrep -P "$victim")
killed_at=$(date +%s)
changes three
check "the standby takes the Lease within 20 s of the kill" \
    wait_until 20 holder_is "$standby"
took=$(($(date +%s) - killed_at))
check "the new leader restored the position from the cluster" \
    wait_until 10 grep -q 'restored the state of notebooks' \
    "$test_tmp/$standby.log"
check "the new leader starts its watcher" \
    wait_until 20 watching "$standby"
changes four

n=$(grep -c . "$record")
check "the Events of all $n changes are written" \
    wait_until 60 events_at_least "$ns" "$n"
check "and no more appear" wait_until 30 events_settled "$ns" "$n"
events_json "$ns" >"$test_tmp/events.json"
got=$($verify_events "$record" "$test_tmp/events.json")
like "$got" '^0 problems' \
    "no Event is missed or duplicated across the failover (took ${took} s)"
like "$(reporting_instances)" "replica-$standby" \
    "the new leader wrote the Events after the failover"
like "$(cat "$test_tmp/$standby.log")" \
    'the emitter leads, starting the watchers' \
    "the new leader's master logs that it leads"

# not_watching NAME: replica NAME runs no watcher.
not_watching() {
    [ "$(watchers "$1")" -eq 0 ]
}
k -n "$ns" patch lease "$lease" --type=merge \
    -p '{"spec":{"holderIdentity":"intruder"}}' >/dev/null
check "a leader that finds its Lease taken stops its watchers" \
    wait_until 15 not_watching "$standby"
check "and its master logs a lost Lease, not a crash" \
    wait_until 5 grep -q 'emitter lost the leader Lease, standing by again' \
    "$test_tmp/$standby.log"
check "it takes the Lease back once the intruder lets it expire" \
    wait_until 30 holder_is "$standby"
check "and starts its watcher again" wait_until 20 watching "$standby"

# released: the Lease exists and nobody holds it.
released() {
    k -n "$ns" get lease "$lease" >/dev/null 2>&1 && [ -z "$(holder)" ] &&
        [ -z "$(k -n "$ns" get lease "$lease" \
            -o jsonpath='{.spec.holderIdentity}')" ]
}
eval "kill -TERM \$pid_$standby"
check "a leader stopped with SIGTERM releases the Lease" \
    wait_until 30 released
log_clean "$test_tmp/$standby.log"
log_clean "$test_tmp/$leader.log"
test_done
