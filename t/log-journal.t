#!/bin/sh
# When stderr is the journal's stream (systemd sets JOURNAL_STREAM to its
# device and inode), each line becomes a journal entry of its own, with
# the role, resource, child pid and resourceVersion as fields.
#
# No journald runs here, so a stand-in listens on the journal's socket: a
# few lines of Python that keep each datagram it gets.  It works only as
# root and where no journal socket exists yet.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

socket=/run/systemd/journal/socket
[ "$(id -u)" -eq 0 ] || skip_all "the stand-in journal needs root"
[ ! -e "$socket" ] || skip_all "a journal already listens on $socket"
cluster_shared
ns=$(test_namespace)

mkdir -p "$(dirname "$socket")"
entries=$test_tmp/entries
${PYTHON:-python3} - "$socket" "$entries" <<'PY' &
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
with open(out, "ab", buffering=0) as f:
    try:
        while True:
            f.write(s.recv(65536) + b"\0")
    except socket.timeout:
        pass
    finally:
        os.unlink(path)
PY
journal_pid=$!
test_cleanup "kill $journal_pid; rm -f $socket"
check "the stand-in journal listens" wait_until 10 test -S "$socket"

: >"$test_tmp/stderr"
stream=$(stat -c '%d:%i' "$test_tmp/stderr")
mkfifo "$test_tmp/records"
cat "$test_tmp/records" >/dev/null &
JOURNAL_STREAM=$stream "$EC_BIN" watcher --kubeconfig "$KUBECONFIG" \
    --group tensorstack.dev --version v1beta1 --resource notebooks \
    --namespace "$ns" >"$test_tmp/records" 2>>"$test_tmp/stderr" &
watcher=$!
test_cleanup "kill -9 $watcher"

# field NAME: the value of field NAME of the entry of the watch's start.
field() {
    grep -az -- '\[start to watch\] from=' "$entries" | tr '\0' '\n' |
        sed -n "s/^$1=//p" | head -1
}
started() {
    [ -n "$(field MESSAGE)" ]
}
check "the start of the watch is a journal entry" wait_until 30 started
like "$(field MESSAGE)" \
    '^event-controller/notebooks \[start to watch\] from=[0-9]+$' \
    "its MESSAGE keeps the seed's form"
from=$(field MESSAGE | sed 's/.*from=//')
is "$(field PRIORITY)" 6 "it has the priority of info"
is "$(field EC_ROLE)" watcher "it names the role"
is "$(field EC_RESOURCE)" notebooks "and the resource"
is "$(field EC_CHILD_PID)" "$watcher" "and the pid of the process"
is "$(field EC_RESOURCE_VERSION)" "$from" \
    "and the resourceVersion it starts from"
is "$(field CODE_FILE)" watcher.c "and the source file, once"
is "$(grep -az -- '\[start to watch\]' "$entries" | tr '\0' '\n' |
    grep -c '^CODE_FILE=')" 1 "only once"
is "$(cat "$test_tmp/stderr")" "" "nothing went to stderr as well"

kill "$watcher"
test_done
