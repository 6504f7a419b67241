# The SCRIPTED FAKE SERVER (t/lib/scripted-server.py), for faults the real
# API server cannot be made to produce on demand: scripted_start starts a
# scenario and writes a kubeconfig for it; the test's end stops them all.

scripted_pids=

scripted_kill() {
    for pid in $scripted_pids; do
        kill "$pid" 2>/dev/null
    done
}
test_cleanup scripted_kill

# scripted_start SCENARIO [NAME]: starts the SCRIPTED FAKE SERVER playing
# SCENARIO, with its files and a kubeconfig for it in $test_tmp/NAME
# (default: the scenario's name).
scripted_start() {
    dir=$test_tmp/${2:-$1}
    mkdir -p "$dir"
    python3 "$top_srcdir/t/lib/scripted-server.py" "$1" "$dir" \
        2>"$dir/server.log" &
    scripted_pids="$scripted_pids $!"
    wait_until 10 test -s "$dir/port" ||
        bail_out "the scripted fake server did not start: $1"
    cat >"$dir/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: scripted
  cluster: {server: "http://127.0.0.1:$(cat "$dir/port")"}
users:
- name: scripted
  user: {token: scripted-token}
contexts:
- name: scripted
  context: {cluster: scripted, user: scripted, namespace: demo}
current-context: scripted
YAML
}
