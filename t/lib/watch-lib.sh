# Helpers for the watcher tests, on top of test-lib.sh: run a watcher
# with its records decoded by "event-controller records", and read those
# records back as one short line each.
#
#   watcher_start NAME ARGS...   start "event-controller watcher ARGS"
#   watcher_stop NAME            SIGTERM it; its exit status in $status
#   summary NAME                 its records, one short line each
#   wait_record NAME REGEX [S]   wait until a summary line matches
#
# A summary line is the record's type, the object's name, what changed
# for an update and the flags, for example:
#
#   CREATED nb-1
#   UPDATED nb-1 generation:1->2
#   DELETED nb-1 at_relist,final_state_unknown
#   PROGRESS rv=1234
#   SYNCED rv=1200

# watcher_start NAME ARGS...: runs a watcher in the background; records
# go to $test_tmp/NAME.out, its log to $test_tmp/NAME.log.  A fifo between
# the two processes keeps the watcher's own pid at hand for signals.
watcher_start() {
    name=$1
    shift
    rm -f "$test_tmp/$name.fifo"
    mkfifo "$test_tmp/$name.fifo"
    : >"$test_tmp/$name.out"
    "$EC_BIN" records <"$test_tmp/$name.fifo" >"$test_tmp/$name.out" \
        2>>"$test_tmp/$name.log" &
    eval "watcher_records_$(watcher_var "$name")=$!"
    "$EC_BIN" watcher "$@" >"$test_tmp/$name.fifo" 2>>"$test_tmp/$name.log" &
    eval "watcher_pid_$(watcher_var "$name")=$!"
    watcher_pids="${watcher_pids:-} $!"
}

# watcher_var NAME: NAME made fit for a shell variable name.
watcher_var() {
    echo "$1" | tr -c 'a-zA-Z0-9_\n' '_'
}

# Stops every watcher still running when the test exits, even a stopped
# one.
watchers_kill() {
    for pid in ${watcher_pids:-}; do
        kill -CONT "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
}
test_cleanup watchers_kill

# watcher_pid NAME: the pid of the watcher NAME.
watcher_pid() {
    eval "echo \$watcher_pid_$(watcher_var "$1")"
}

# watcher_stop NAME: stops the watcher with SIGTERM, waits for it and its
# records reader, and sets $status to the watcher's exit status (124 if it
# did not exit within 10 s).
watcher_stop() {
    pid=$(watcher_pid "$1")
    kill -TERM "$pid" 2>/dev/null
    n=0
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do
        sleep 0.2
        n=$((n + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        status=124
    else
        wait "$pid"
        status=$?
    fi
    wait "$(eval "echo \$watcher_records_$(watcher_var "$1")")" 2>/dev/null
}

# summary NAME: the records of watcher NAME, one short line each.
summary() {
    python3 - "$test_tmp/$1.out" <<'PY'
import json, sys

def changes(old, new):
    out = []
    for key in ("generation", "deletion_timestamp", "finalizers", "status"):
        if old.get(key) != new.get(key):
            out.append("%s:%s->%s" % (key, old.get(key, ""), new.get(key, "")))
    return " ".join(out)

for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        print("UNREADABLE " + line.strip())
        continue
    words = [r["type"]]
    if r["type"] in ("PROGRESS", "SYNCED"):
        words.append("rv=" + r["resource_version"])
    else:
        obj = r.get("new") or r.get("old") or {}
        words.append(obj.get("name", "?"))
    if r["type"] == "UPDATED":
        words.append(changes(r.get("old", {}), r.get("new", {})))
    if r["flags"]:
        words.append(",".join(r["flags"]))
    print(" ".join(w for w in words if w))
PY
}

# changes_of NAME: the summary without PROGRESS and SYNCED lines.
changes_of() {
    summary "$1" | grep -Ev '^(PROGRESS|SYNCED) '
}

# has_record NAME REGEX: a summary line of NAME matches REGEX.
has_record() {
    summary "$1" | grep -Eq -- "$2"
}

# wait_record NAME REGEX [SECONDS]: waits for a record; fails after
# SECONDS (default 30).
wait_record() {
    wait_until "${3:-30}" has_record "$1" "$2"
}

# expect_record NAME REGEX DESCRIPTION [SECONDS]: a check that waits for a
# record and shows every record when it does not come.
expect_record() {
    if wait_record "$1" "$2" "${4:-30}"; then
        pass "$3"
    else
        fail "$3" "expected a record matching: $2" "got:" \
            "$(summary "$1")" "log:" "$(tail -20 "$test_tmp/$1.log")"
    fi
}

# has_line NAME LINE: a summary line of NAME is exactly LINE.
has_line() {
    summary "$1" | grep -Fqx -- "$2"
}

# expect_line NAME LINE DESCRIPTION [SECONDS]: expect_record for a whole
# summary line given as it is, not as a regex.
expect_line() {
    if wait_until "${4:-30}" has_line "$1" "$2"; then
        pass "$3"
    else
        fail "$3" "expected the record: $2" "got:" "$(summary "$1")"
    fi
}

# record_field NAME REGEX FIELD: FIELD of the last record whose summary
# line matches REGEX.
record_field() {
    python3 - "$test_tmp/$1.out" "$2" "$3" <<'PY'
import json, re, sys
path, pattern, field = sys.argv[1:]
lines = [json.loads(l) for l in open(path)]
found = ""
for r in lines:
    obj = r.get("new") or r.get("old") or {}
    text = r["type"] + " " + (obj.get("name") or "rv=" + r["resource_version"])
    if re.search(pattern, text):
        found = r
if found:
    value = found
    for part in field.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    print(value)
PY
}

# no_unexpected_warnings FILE [ALLOWED]: a check that the log has no
# warning line but those matching the extended regex ALLOWED.
no_unexpected_warnings() {
    bad=$(grep -E '^W[0-9] ' "$1" | grep -Ev -- "${2:-^$}" | head -5)
    if [ -z "$bad" ]; then
        pass "the log has no warning but those expected"
    else
        fail "the log has no warning but those expected" "$bad"
    fi
}
