#!/bin/sh
# A resources_file named relative to the configuration file is read from
# the configuration's folder, and a change to it is reloaded without a
# signal, whatever the folder the master runs in.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/master-lib.sh"

cluster_shared
ns=$(test_namespace)
# The resources in a folder of their own, so that only a watch of that
# folder sees them change.
conf=$test_tmp/etc
mkdir -p "$conf/lists"
resources_json "$conf/lists/resources.json" notebooks
cat >"$conf/event-controller.conf" <<CONF
resources_file = "lists/resources.json";
namespaces = [ "$ns" ];
CONF
master_start --config "$conf/event-controller.conf"
check "the master becomes ready" wait_until 30 ready
check "it watches the resource of the relative file" \
    wait_until 10 child_pid watcher notebooks

resources_json "$conf/lists/resources.json" notebooks imagebuilders
check "a change to the file starts the watcher it adds" \
    wait_until 20 child_pid watcher imagebuilders
check "without a signal" log_has 'changed on disk, reloading'

log_clean "$master_log"
unlike "$(cat "$master_log")" 'inotify_add_watch\(\) .* failed' \
    "every file of the configuration is watched"
test_done
