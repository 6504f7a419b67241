#!/bin/sh
# Stops the shared control plane once every test that uses it is done.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

need_cluster_tests
dir=${EC_CLUSTER_DIR:-$top_builddir/t/.cluster-shared}
[ -d "$dir" ] || skip_all "the shared control plane was never started"

check "down stops the shared control plane" "$KUBE" down "$dir"
refuse "its apiserver no longer answers" kube_ready "$dir"
test_done
