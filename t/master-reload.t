#!/bin/sh
# A reload starts watchers for added resources, stops removed ones, leaves
# the others alone, keeps the running settings when the new ones are
# broken, and follows a ConfigMap volume's symlink swap without a signal.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
ns=$(test_namespace)

# The volume's layout: config.json -> ..data/config.json, ..data -> a
# timestamped folder; an update renames a new ..data over the old one.
vol=$test_tmp/volume
mkdir -p "$vol/..v1"
resources_json "$vol/..v1/config.json" notebooks imagebuilders
ln -s ..v1 "$vol/..data"
ln -s ..data/config.json "$vol/config.json"
master_start --resources "$vol/config.json" --namespace "$ns"
check "the master becomes ready" wait_until 30 ready
notebooks=$(child_pid watcher notebooks)
starts=$(grep -c 'notebooks.*\[start to watch\]' "$master_log")

# swap RESOURCE...: updates the volume the way the kubelet does.
swap_n=1
swap() {
    swap_n=$((swap_n + 1))
    mkdir "$vol/..v$swap_n"
    resources_json "$vol/..v$swap_n/config.json" "$@"
    ln -s "..v$swap_n" "$vol/..data_tmp"
    mv -T "$vol/..data_tmp" "$vol/..data"
}

swap notebooks workflowtemplates
check "a resource added by the swap gets a watcher, without a signal" \
    wait_until 20 child_pid watcher workflowtemplates
no_imagebuilders() { [ -z "$(child_pid watcher imagebuilders)" ]; }
check "the watcher of a removed resource stops" \
    wait_until 20 no_imagebuilders
is "$(child_pid watcher notebooks)" "$notebooks" \
    "the watcher of an unchanged resource keeps running"
is "$(grep -c 'notebooks.*\[start to watch\]' "$master_log")" "$starts" \
    "and does not start to watch again"

# A direct edit and SIGHUP.
rm "$vol/config.json"
resources_json "$vol/config.json" notebooks imagebuilders
kill -HUP "$master_pid"
check "SIGHUP reloads: an added resource gets a watcher" \
    wait_until 20 child_pid watcher imagebuilders
no_workflowtemplates() { [ -z "$(child_pid watcher workflowtemplates)" ]; }
check "and a removed one stops" wait_until 20 no_workflowtemplates
is "$(child_pid watcher notebooks)" "$notebooks" \
    "the unchanged watcher still runs with the same pid"

check "the master is ready once the new watcher has listed" \
    wait_until 60 ready
before=$(children_count)
echo '{"resources": [ {"group": 7} ]' >"$vol/config.json"
kill -HUP "$master_pid"
check "a broken file is reported with file and line" \
    wait_until 20 log_has "^E.*config.json:[0-9]+: "
check "and the reload is refused, keeping the running configuration" \
    wait_until 5 log_has '^E.*reload failed: .*keeping the running one'
is "$(children_count)" "$before" "the children are unchanged"
is "$(child_pid watcher notebooks)" "$notebooks" \
    "the notebooks watcher still runs"
check "the master is still ready" ready

log_clean "$master_log" 'config.json:[0-9]+: |reload failed'
test_done
