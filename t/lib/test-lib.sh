# Helpers for the shell tests: TAP output, the local control plane, and
# checks of the controller's log.  A test sources this file, states its
# checks, and ends with test_done.
#
# Each check prints "ok N - what" or "not ok N - what" followed by what it
# expected and what it saw, as "# " lines.

set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${EC_BIN:=$top_builddir/src/event-controller}"
: "${EC_CLUSTER_TESTS:=yes}"
export top_srcdir top_builddir EC_BIN

KUBE=$top_srcdir/t/cluster/kube
test_name=$(basename "$0" .t)
test_tmp=$top_builddir/t/.tmp/$test_name.$$
mkdir -p "$test_tmp"

# Under make check-valgrind, $EC_BIN runs under valgrind, and so does every
# process it starts (t/lib/valgrind).  A child's command line then begins
# with valgrind's and the binary's path: match children with
# '(^|/)event-controller ROLE'.
if [ -n "${EC_VALGRIND_LOGS:-}" ]; then
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' \
        "$top_srcdir/t/lib/valgrind" "$EC_BIN" >"$test_tmp/event-controller"
    chmod +x "$test_tmp/event-controller"
    EC_BIN=$test_tmp/event-controller
fi
test_count=0
test_failed=0
test_cleanups=

# Runs the registered cleanups, last registered first, at exit: one
# command a line.
test_run_cleanups() {
    printf '%s\n' "$test_cleanups" | while IFS= read -r c; do
        [ -z "$c" ] || eval "$c" >/dev/null 2>&1 || true
    done
}
trap test_run_cleanups EXIT
trap 'exit 130' INT TERM

# test_cleanup COMMAND: run COMMAND, one line of shell, when the test
# exits.
test_cleanup() {
    test_cleanups="$1
$test_cleanups"
}

pass() {
    test_count=$((test_count + 1))
    echo "ok $test_count - $1"
}

# fail DESCRIPTION [DETAIL...]: a failed check, with what went wrong.
fail() {
    test_count=$((test_count + 1))
    test_failed=$((test_failed + 1))
    echo "not ok $test_count - $1"
    shift
    for line in "$@"; do
        printf '%s\n' "$line" | sed 's/^/#   /'
    done
}

# is GOT WANT DESCRIPTION
is() {
    if [ "$1" = "$2" ]; then
        pass "$3"
    else
        fail "$3" "expected: $2" "got:      $1"
    fi
}

# like GOT REGEX DESCRIPTION: GOT matches the extended regex.
like() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        pass "$3"
    else
        fail "$3" "expected to match: $2" "got: $1"
    fi
}

# unlike GOT REGEX DESCRIPTION
unlike() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        fail "$3" "expected not to match: $2" "got: $1"
    else
        pass "$3"
    fi
}

# check DESCRIPTION COMMAND...: the command succeeds; its output is shown
# when it does not.
check() {
    desc=$1
    shift
    if out=$("$@" 2>&1); then
        pass "$desc"
    else
        fail "$desc" "command failed ($?): $*" "$out"
    fi
}

# refuse DESCRIPTION COMMAND...: the command fails.
refuse() {
    desc=$1
    shift
    if out=$("$@" 2>&1); then
        fail "$desc" "command succeeded, expected a failure: $*" "$out"
    else
        pass "$desc"
    fi
}

# skip DESCRIPTION REASON: a check that cannot be made here.
skip() {
    test_count=$((test_count + 1))
    echo "ok $test_count - $1 # SKIP $2"
}

skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}

bail_out() {
    echo "Bail out! $1"
    exit 1
}

test_done() {
    echo "1..$test_count"
    [ "$test_failed" -eq 0 ] && [ "$test_count" -gt 0 ]
    status=$?
    [ $status -eq 0 ] && rm -rf "$test_tmp"
    exit $status
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s until it
# succeeds; fails when the time runs out.
wait_until() {
    limit=$1
    shift
    end=$(($(date +%s) + limit))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}

# --- The local control plane ---

# need_cluster_tests: skips the test unless control plane tests are on.
need_cluster_tests() {
    [ "$EC_CLUSTER_TESTS" = yes ] ||
        skip_all "control plane tests are disabled (--disable-cluster-tests)"
    command -v go >/dev/null || skip_all "go is not installed (run t/setup)"
}

# kube_up DIR [UP OPTIONS]: starts a control plane in DIR, trying up to
# three times: the fixture picks free ports, and another process may take
# one before the fixture binds it.
kube_up() {
    dir=$1
    shift
    for attempt in 1 2 3; do
        "$KUBE" up "$dir" "$@" && return 0
        echo "kube: start $attempt in $dir failed, starting afresh" >&2
        "$KUBE" down "$dir" >/dev/null 2>&1 || true
        rm -rf "$dir" && mkdir -p "$dir"
    done
    return 1
}

# cluster_shared: makes sure the shared control plane runs and points
# KUBECONFIG at it.  Tests in parallel start it once, under a lock.
cluster_shared() {
    need_cluster_tests
    cluster_dir=${EC_CLUSTER_DIR:-$top_builddir/t/.cluster-shared}
    mkdir -p "$cluster_dir"
    (
        flock 8
        if ! kube_ready "$cluster_dir"; then
            "$KUBE" down "$cluster_dir" >/dev/null 2>&1 || true
            # The daemons must not inherit the lock, or hold it forever.
            kube_up "$cluster_dir" 8>&- >&2
        fi
    ) 8>"$cluster_dir.lock" || bail_out "the shared control plane did not start"
    export KUBECONFIG=$cluster_dir/kubeconfig
}

# cluster_private NAME [UP OPTIONS]: a control plane of this test's own,
# stopped when the test exits.
cluster_private() {
    need_cluster_tests
    cluster_dir=$top_builddir/t/.cluster-$1.$$
    shift
    mkdir -p "$cluster_dir"
    test_cleanup "\"$KUBE\" down \"$cluster_dir\"; rm -rf \"$cluster_dir\""
    kube_up "$cluster_dir" "$@" >&2 ||
        bail_out "a private control plane did not start"
    export KUBECONFIG=$cluster_dir/kubeconfig
}

# kube_ready DIR: the apiserver in DIR answers /readyz.
kube_ready() {
    [ -f "$1/kubeconfig" ] &&
        kubectl --kubeconfig "$1/kubeconfig" get --raw /readyz \
            >/dev/null 2>&1
}

k() {
    kubectl --kubeconfig "$KUBECONFIG" "$@"
}

# test_namespace: creates a namespace for this test alone and prints its
# name.  Without a controller-manager a namespace is never finalized, so
# names are never reused.
test_namespace() {
    ns=t-$(echo "$test_name" | tr -c 'a-z0-9\n' '-' | cut -c1-30)-$$
    k create namespace "$ns" >/dev/null || bail_out "cannot create $ns"
    echo "$ns"
}

# notebook NAME [IMAGE]: creates or updates Notebook NAME in $ns, with
# spec.image IMAGE (jupyter:1 by default).
notebook() {
    k apply -f - >/dev/null <<YAML
apiVersion: tensorstack.dev/v1beta1
kind: Notebook
metadata: {name: $1, namespace: $ns}
spec: {image: "${2:-jupyter:1}"}
YAML
}

# kubeconfig_as FILE USER-SETTING: writes FILE, a kubeconfig for the
# control plane of $cluster_dir and the namespace $ns, whose user has the
# one setting USER-SETTING ("token: ..." or "tokenFile: ...").
kubeconfig_as() {
    cat >"$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: $(apiserver_url)
    certificate-authority: $cluster_dir/ca.crt
users:
- name: u
  user:
    $2
contexts:
- name: x
  context: {cluster: c, user: u, namespace: $ns}
current-context: x
YAML
}

# apiserver_url: the server of the current kubeconfig.
apiserver_url() {
    k config view --minify -o jsonpath='{.clusters[0].cluster.server}'
}

# curl_api PATH [CURL OPTIONS]: a raw request as the admin.
curl_api() {
    path=$1
    shift
    curl -sS --cacert "$cluster_dir/ca.crt" \
        -H "Authorization: Bearer $(cat "$cluster_dir/admin.token")" \
        "$@" "$(apiserver_url)$path"
}

# --- The controller's log ---

# log_clean FILE [ALLOWED REGEX]: no error or fatal line except those
# allowed, and no sanitizer report.
log_clean() {
    file=$1
    allowed=${2:-'^$'}
    bad=$(grep -E '^[EF][0-9] |"level":"(error|fatal)"' "$file" |
          grep -Ev -- "$allowed" | head -5)
    san=$(grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$file" |
          head -5)
    if [ -z "$bad$san" ]; then
        pass "the log has no unexpected error and no sanitizer report"
    else
        fail "the log has no unexpected error and no sanitizer report" \
            "$bad" "$san"
    fi
    secrets_absent "$file"
}

# secret_add SECRET: a token or key the test made, which no log may hold.
secret_add() {
    printf '%s\n' "$1" >>"$test_tmp/secrets"
}

# secrets_list: the tokens and private keys in use, one a line: the
# control plane's static tokens, a line from the middle of each of its
# private keys, and what the test added with secret_add.
secrets_list() {
    dir=${cluster_dir:-}
    if [ -n "$dir" ] && [ -d "$dir" ]; then
        [ -f "$dir/tokens.csv" ] && cut -d, -f1 "$dir/tokens.csv"
        for key in "$dir"/*.key; do
            [ -f "$key" ] && sed -n 3p "$key"
        done
    fi
    [ -f "$test_tmp/secrets" ] && cat "$test_tmp/secrets"
    return 0
}

# secrets_absent FILE: FILE holds none of secrets_list.
secrets_absent() {
    secrets_list | grep -v '^$' >"$test_tmp/secrets.all"
    if [ ! -s "$test_tmp/secrets.all" ]; then
        pass "the log holds no token or key (none in use)"
    elif grep -qF -f "$test_tmp/secrets.all" "$1"; then
        fail "the log holds no token or key" \
            "found $(grep -cF -f "$test_tmp/secrets.all" "$1") line(s)"
    else
        pass "the log holds no token or key"
    fi
}
