#!/bin/sh
# The watcher reaches the API server with every kind of kubeconfig
# credential controllers use: the CA inline, a client certificate (inline
# and as files), a token file and an exec plugin.  A broken kubeconfig is
# refused naming the file and the reason, and a server certificate from
# another CA is refused with a clear TLS message.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"

cluster_shared
ns=$(test_namespace)
server=$(apiserver_url)
token=$(cat "$cluster_dir/admin.token")
b64() {
    base64 -w0 <"$1"
}

# kubeconfig NAME CLUSTER-LINES USER-LINES: writes $test_tmp/NAME.yaml,
# a kubeconfig with the given cluster and user settings.
kubeconfig() {
    cat >"$test_tmp/$1.yaml" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: $server
$2
users:
- name: u
  user:
$3
contexts:
- name: x
  context: {cluster: c, user: u, namespace: $ns}
current-context: x
YAML
}

# syncs NAME DESCRIPTION: a watcher with kubeconfig NAME lists configmaps.
syncs() {
    watcher_start "$1" --kubeconfig "$test_tmp/$1.yaml" --group "" \
        --version v1 --resource configmaps
    expect_record "$1" '^SYNCED ' "$2"
    watcher_stop "$1"
    log_clean "$test_tmp/$1.log"
    no_unexpected_warnings "$test_tmp/$1.log"
}

kubeconfig ca-data \
    "    certificate-authority-data: $(b64 "$cluster_dir/ca.crt")" \
    "    token: $token"
syncs ca-data "certificate-authority-data instead of a file"

set -- $("$KUBE" client-cert "$cluster_dir" "kc-$$" system:masters)
cert=$1
key=$2
kubeconfig cert-data \
    "    certificate-authority: $cluster_dir/ca.crt" \
    "    client-certificate-data: $(b64 "$cert")
    client-key-data: $(b64 "$key")"
syncs cert-data "a client certificate and key given inline"

kubeconfig cert-files \
    "    certificate-authority: $cluster_dir/ca.crt" \
    "    client-certificate: $cert
    client-key: $key"
syncs cert-files "a client certificate and key given as files"

kubeconfig token-file \
    "    certificate-authority: $cluster_dir/ca.crt" \
    "    tokenFile: $cluster_dir/admin.token"
syncs token-file "a token file"

cat >"$test_tmp/credential-plugin" <<SH
#!/bin/sh
# An exec credential plugin: prints the admin token as an ExecCredential.
printf '{"apiVersion":"client.authentication.k8s.io/v1",'
printf '"kind":"ExecCredential","status":{"token":"%s"}}\n' \
    "\$(cat "$cluster_dir/admin.token")"
SH
chmod +x "$test_tmp/credential-plugin"
kubeconfig exec \
    "    certificate-authority: $cluster_dir/ca.crt" \
    "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: $test_tmp/credential-plugin
      interactiveMode: Never"
syncs exec "an exec credential plugin"

# --- Refusals ---

printf 'apiVersion: v1\nclusters: [\n' >"$test_tmp/broken.yaml"
"$EC_BIN" watcher --kubeconfig "$test_tmp/broken.yaml" --group "" \
    --version v1 --resource configmaps >/dev/null 2>"$test_tmp/broken.log"
code=$?
like "$code" '^(78|1)$' "a broken kubeconfig stops the watcher (status $code)"
like "$(cat "$test_tmp/broken.log")" \
    "^E.*cannot set up the Kubernetes client: .*broken\.yaml.*" \
    "with an error naming the file"
unlike "$(cat "$test_tmp/broken.log")" 'Sanitizer|runtime error|Segmentation' \
    "and no crash"

"$EC_BIN" watcher --kubeconfig "$test_tmp/missing.yaml" --group "" \
    --version v1 --resource configmaps >/dev/null 2>"$test_tmp/missing.log"
is "$?" 78 "a missing kubeconfig is a configuration error (78)"
like "$(cat "$test_tmp/missing.log")" 'missing\.yaml.*(No such file|not)' \
    "naming the file and the reason"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca \
    -keyout "$test_tmp/other-ca.key" -out "$test_tmp/other-ca.crt" \
    >/dev/null 2>&1
kubeconfig other-ca \
    "    certificate-authority: $test_tmp/other-ca.crt" \
    "    token: $token"
watcher_start other-ca --kubeconfig "$test_tmp/other-ca.yaml" --group "" \
    --version v1 --resource configmaps
check "a server certificate from another CA is refused" \
    wait_until 20 grep -q '^W.*TLS failure: ' "$test_tmp/other-ca.log"
like "$(grep '^W' "$test_tmp/other-ca.log")" \
    'discovery: TLS failure: .*certificate.*retrying in' \
    "with a TLS message that names the certificate problem"
is "$(summary other-ca)" "" "and nothing is listed"
watcher_stop other-ca
is "$status" 0 "the watcher still stops with status 0"
log_clean "$test_tmp/other-ca.log"

test_done
