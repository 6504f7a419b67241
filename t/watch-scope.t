#!/bin/sh
# What a watcher watches: label and field selectors reach the API server
# intact, a cluster-scoped resource is watched whatever the namespace, and
# --all-namespaces spans them all.  What it refuses to watch, it says once
# and exits 78 (EX_CONFIG), so that the master does not restart it: a
# selector the server rejects, a resource that cannot be listed.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

cluster_shared
ns=$(test_namespace)

# configmap NAME LABEL...: creates a ConfigMap with labels k=v.
configmap() {
    name=$1
    shift
    k -n "$ns" create configmap "$name" >/dev/null
    [ $# -eq 0 ] || k -n "$ns" label configmap "$name" "$@" >/dev/null
}

# --- Selectors ---

watcher_start labels --kubeconfig "$KUBECONFIG" --group "" --version v1 \
    --resource configmaps --namespace "$ns" \
    --label-selector 'app in (a, b),tier!=x'
watcher_start fields --kubeconfig "$KUBECONFIG" --group "" --version v1 \
    --resource configmaps --namespace "$ns" \
    --field-selector 'metadata.name=only'
expect_record labels '^SYNCED ' "a watcher with a label selector syncs"
expect_record fields '^SYNCED ' "a watcher with a field selector syncs"
configmap a1 app=a
configmap b1 app=b tier=x
configmap c1 app=c
configmap b2 app=b
configmap only
expect_record labels '^CREATED b2$' "the label selector lets matches in"
expect_record fields '^CREATED only$' "so does the field selector"
is "$(changes_of labels)" "CREATED a1
CREATED b2" "and nothing else: selectors with spaces, parentheses, commas"
is "$(changes_of fields)" "CREATED only" "the field selector, likewise"
watcher_stop labels
watcher_stop fields

# --- A cluster-scoped resource, and every namespace ---

watcher_start namespaces --kubeconfig "$KUBECONFIG" --group "" \
    --version v1 --resource namespaces --namespace "$ns"
watcher_start everywhere --kubeconfig "$KUBECONFIG" --group "" \
    --version v1 --resource configmaps --all-namespaces
expect_record namespaces '^SYNCED ' "a cluster-scoped resource syncs"
expect_record everywhere '^SYNCED ' "so does a watch of all namespaces"
other=$ns-b
k create namespace "$other" >/dev/null
k -n "$other" create configmap elsewhere >/dev/null
expect_record namespaces "^CREATED $other\$" \
    "a cluster-scoped resource ignores --namespace"
expect_record everywhere '^CREATED elsewhere$' \
    "--all-namespaces sees a namespace created after it started"
watcher_stop namespaces
watcher_stop everywhere
for name in labels fields namespaces everywhere; do
    log_clean "$test_tmp/$name.log"
    no_unexpected_warnings "$test_tmp/$name.log"
done

# --- Refusals ---

# refused NAME ARGS...: runs a watcher that should exit at once, its
# output a pipe as the master gives it; its status in $test_tmp/NAME.status.
refused() {
    name=$1
    shift
    {
        timeout 60 "$EC_BIN" watcher "$@" 2>"$test_tmp/$name.log"
        echo $? >"$test_tmp/$name.status"
    } | cat >/dev/null
}

refused bad-selector --kubeconfig "$KUBECONFIG" --group "" --version v1 \
    --resource configmaps --namespace "$ns" --label-selector 'app in ('
is "$(cat "$test_tmp/bad-selector.status")" 78 \
    "a selector the API server rejects exits 78"
like "$(grep '^E' "$test_tmp/bad-selector.log")" \
    "rejected by the API server: .*; not watching it" \
    "with one error line quoting the server"

refused bindings --kubeconfig "$KUBECONFIG" --group "" --version v1 \
    --resource bindings --namespace "$ns"
is "$(cat "$test_tmp/bindings.status")" 78 \
    "a resource that cannot be listed and watched exits 78"
like "$(cat "$test_tmp/bindings.log")" \
    "^E.* bindings.v1 does not support list and watch, not watching it" \
    "saying so"

"$EC_BIN" watcher --group "" --version v1 >/dev/null 2>"$test_tmp/usage.log"
is "$?" 64 "a command line without --resource is a usage error (64)"
like "$(cat "$test_tmp/usage.log")" 'resource is required' "naming the option"

test_done
