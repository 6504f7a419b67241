#!/bin/sh
# Starts the shared control plane that the other tests use, and checks
# that it serves what they rely on.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

start=$(date +%s)
cluster_shared
pass "the shared control plane is up ($(($(date +%s) - start))s)"

check "/readyz answers" k get --raw /readyz
for r in notebooks imagebuilders workflowtemplates; do
    check "the seed's CRD $r is served" \
        k get --raw /apis/tensorstack.dev/v1beta1/namespaces/default/$r
done
version=$(k get --raw /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')
like "$version" '^v1\.3[67]\.' "the apiserver is a 1.36 or 1.37 release"

test_done
