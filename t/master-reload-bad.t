#!/bin/sh
# A reload to a broken configuration keeps the running one: every broken
# file of t/data/config (syntax, types, unknown keys, duplicates, empty,
# binary, missing files...), a huge one and one with no read permission,
# put in place of the configuration or of its resources file and sent a
# SIGHUP, is refused with a log line, and the watchers run on untouched.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
ns=$(test_namespace)
data=$top_srcdir/t/data/config
etc=$test_tmp/etc
mkdir -p "$etc"
cat >"$etc/good.conf" <<CONF
resources_file = "resources.json";
namespaces = [ "$ns" ];
CONF
resources_json "$etc/good.json" notebooks
cp "$etc/good.conf" "$etc/event-controller.conf"
cp "$etc/good.json" "$etc/resources.json"
master_start --config "$etc/event-controller.conf"
check "the master becomes ready" wait_until 30 ready
watcher=$(child_pid watcher notebooks)

# Two more broken files: 16 MiB of one string, and a file nobody may read
# (root reads it all the same: then it is broken for its content).
{
    printf 'reporting_controller = "'
    head -c 16777216 /dev/zero | tr '\0' x
    printf '";\n'
} >"$etc/huge.conf"
printf 'namespaces = [ 1, 2 ];\n' >"$etc/unreadable.conf"
chmod 000 "$etc/unreadable.conf"

failures() {
    grep -c 'reload failed: the new configuration is not valid' "$master_log"
}

# refused FILE TARGET: puts FILE in place of TARGET, sends SIGHUP, and
# checks that the reload is refused and nothing changes.
refused() {
    name=$(basename "$1")
    before=$(failures)
    cp "$1" "$etc/$2.tmp" 2>/dev/null || cat "$1" >"$etc/$2.tmp"
    mv "$etc/$2.tmp" "$etc/$2"
    kill -HUP "$master_pid"
    more() { [ "$(failures)" -gt "$before" ]; }
    check "$name: the reload is refused" wait_until 10 more
    is "$(child_pid watcher notebooks)" "$watcher" \
        "$name: the watcher runs on untouched"
    cp "$etc/good.conf" "$etc/event-controller.conf"
    cp "$etc/good.json" "$etc/resources.json"
}

n=0
for f in "$data"/bad-*.conf "$etc/huge.conf" "$etc/unreadable.conf"; do
    refused "$f" event-controller.conf
    n=$((n + 1))
done
for f in "$data"/bad-*.json; do
    refused "$f" resources.json
    n=$((n + 1))
done
like "$n" '^([2-9][0-9]|[1-9][0-9][0-9]+)$' \
    "at least 20 broken files were tried ($n)"

kill -0 "$master_pid"
is "$?" 0 "the master is still running"
is "$(http /readyz | tail -1)" 200 "and still ready"
resources_json "$etc/resources.json" notebooks imagebuilders
kill -HUP "$master_pid"
check "a good configuration after them all is taken" \
    wait_until 20 child_pid watcher imagebuilders
is "$(child_pid watcher notebooks)" "$watcher" \
    "and the watcher of notebooks still runs on"

log_clean "$master_log" \
    'reload failed|[a-z./-]+:[0-9]+: |cannot (read|open)|event-controller\.conf'
test_done
