#!/bin/sh
# Faults the real API server cannot be made to produce on demand, played
# by a SCRIPTED FAKE SERVER (t/lib/scripted-server.py), one scenario each:
# the watcher reconnects from the right resourceVersion, relists when it
# must, waits as long as it is told, and never reports a change twice or
# takes a hostile byte for data.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"
. "$top_srcdir/t/lib/watch-lib.sh"
. "$top_srcdir/t/lib/scripted-lib.sh"

# scripted_watcher NAME [ARGS...]: a watcher of the configmaps of the
# server started as NAME, named NAME too.
scripted_watcher() {
    scenario=$1
    shift
    watcher_start "$scenario" --kubeconfig "$test_tmp/$scenario/kubeconfig" \
        --group "" --version v1 --resource configmaps -v 2 "$@"
}

# watches SCENARIO: the watch requests the server got, streaming lists
# aside, one "time resourceVersion" line each.
watches() {
    grep 'watch=1' "$test_tmp/$1/requests" | grep -v sendInitialEvents |
        sed 's/^\([0-9.]*\) .*resourceVersion=\([^&]*\).*/\1 \2/'
}

# watch_rv SCENARIO N: the resourceVersion of the Nth watch request.
watch_rv() {
    watches "$1" | sed -n "${2}p" | cut -d' ' -f2
}

# watch_gap SCENARIO N: seconds from the Nth watch request to the next.
watch_gap() {
    watches "$1" | sed -n "${2}p;$(($2 + 1))p" | cut -d' ' -f1 |
        awk 'NR == 1 { a = $1 } NR == 2 { printf "%.1f\n", $1 - a }'
}

# at_least_watches SCENARIO N: the server got N watch requests or more.
at_least_watches() {
    [ "$(watches "$1" | wc -l)" -ge "$2" ]
}

# ge A B: A >= B, for decimal numbers.
ge() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'
}

# write_snapshot FILE RV NAME:GENERATION:RV...: a store snapshot in the
# format of src/store_file.c, as the emitter saves it.
write_snapshot() {
    python3 - "$@" <<'PY'
import struct, sys, zlib
path, rv, objects = sys.argv[1], sys.argv[2], sys.argv[3:]
def string(text):
    data = text.encode()
    return struct.pack("<H", len(data)) + data
body = b"ECST" + struct.pack("<IQ", 1, len(objects)) + string(rv)
for spec in objects:
    name, generation, object_rv = spec.split(":")
    body += string("uid-" + name) + string(name) + string("demo")
    body += string(object_rv) + struct.pack("<q", int(generation))
    body += string("") + string("") + string("")
body += struct.pack("<I", zlib.crc32(body))
open(path, "wb").write(body)
PY
}

# finish SCENARIO [ALLOWED WARNINGS]: stops the watcher and checks its log.
finish() {
    watcher_stop "$1"
    is "$status" 0 "$1: the watcher stops with status 0"
    log_clean "$test_tmp/$1.log"
    no_unexpected_warnings "$test_tmp/$1.log" "${2:-^$}"
}

# --- Internal errors that do not pass (checked at the end: they take 30 s)

scripted_start internal-errors
scripted_watcher internal-errors
internal_start=$(date +%s)

# --- A stream that stalls mid-object ---

scripted_start stall
scripted_watcher stall --stall-timeout 2
expect_record stall '^CREATED c$' \
    "stall: after 2 s without a byte the watcher reconnects and goes on" 20
is "$(watch_rv stall 2)" 101 \
    "stall: it reconnects from the last resourceVersion it had"
like "$(cat "$test_tmp/stall.log")" \
    'no data from the watch of configmaps.v1 for 2s, reconnecting' \
    "stall: and says why, at info level"
is "$(changes_of stall)" "CREATED a existing
CREATED b
CREATED c" "stall: the object cut off is not reported; each change once"
finish stall

# --- An event one byte per write ---

scripted_start one-byte
scripted_watcher one-byte
expect_record one-byte '^CREATED d$' \
    "one-byte: an event sent one byte per write is decoded"
is "$(record_field one-byte '^CREATED d' new.status)" \
    '{"conditions":{"Ready":["True","Up ✓"]},"phase":"Running"}' \
    "one-byte: with every byte in place"
finish one-byte

# --- Malformed JSON, and an object without a uid ---

scripted_start malformed
scripted_watcher malformed
expect_record malformed '^CREATED e$' \
    "malformed: after malformed JSON the watcher reconnects and goes on"
like "$(grep '^W' "$test_tmp/malformed.log")" \
    'malformed watch event \(.*\), dropping the connection, retrying in' \
    "malformed: it warns about the malformed event"
skip='skipping an object of configmaps.v1 at resourceVersion 101: '
like "$(grep '^W' "$test_tmp/malformed.log")" \
    "${skip}metadata.uid is missing" \
    "malformed: and skips the object without a uid, with a warning"
is "$(watch_rv malformed 2)" 101 \
    "malformed: it reconnects from past the skipped object"
is "$(changes_of malformed)" "CREATED a existing
CREATED e" \
    "malformed: nothing else is reported"
finish malformed 'malformed watch event|skipping an object'

# --- An oversized event ---

scripted_start oversized
scripted_watcher oversized --max-event-bytes 4096
expect_record oversized '^CREATED f$' \
    "oversized: after an oversized event the watcher reconnects and goes on"
like "$(grep '^W' "$test_tmp/oversized.log")" \
    'event over 4096 bytes, dropping the connection, retrying in' \
    "oversized: it warns, naming the limit"
is "$(watch_rv oversized 2)" 100 \
    "oversized: it reconnects from before the oversized event"
is "$(changes_of oversized)" "CREATED a existing
CREATED f" \
    "oversized: the oversized object is not reported"
finish oversized 'event over 4096 bytes'

# --- 410 Gone, as a status and as an ERROR event ---

scripted_start gone
scripted_watcher gone
expect_record gone '^PROGRESS rv=106$' \
    "gone: two expired watches, two relists"
is "$(changes_of gone | sed -n '1,2p' | sort)" "CREATED a existing
CREATED g0 existing" "gone: the first list reports the existing objects"
is "$(changes_of gone | sed -n '3,4p' | sort)" "CREATED g at_relist
UPDATED a generation:1->2 at_relist" \
    "gone: the relist after HTTP 410 reports what changed, marked at_relist"
is "$(changes_of gone | sed -n '5,$p' | sort)" "CREATED h at_relist
DELETED g at_relist,final_state_unknown" \
    "gone: and so does the relist after an ERROR event 410"
lists=$(grep -v 'watch=1' "$test_tmp/gone/requests" | grep configmaps |
    sed 's/.*resourceVersion=\([^&]*\).*/rv=\1/')
is "$lists" "rv=0
rv=
rv=" "gone: the first list reads the cache, the relists the latest state"
is "$(grep -c sendInitialEvents "$test_tmp/gone/requests")" 1 \
    "gone: a refused streaming list is not tried again"
is "$(grep -c 'too old (410 Gone), relisting' "$test_tmp/gone.log")" 2 \
    "gone: both kinds of 410 are logged as such"
finish gone

# --- 429 with Retry-After ---

scripted_start throttled
scripted_watcher throttled
expect_record throttled '^CREATED i$' "throttled: a 429 is retried"
gap=$(watch_gap throttled 1)
if ge "$gap" 0.9 && ! ge "$gap" 3; then
    pass "throttled: after the Retry-After of 1 s ($gap s)"
else
    fail "throttled: after the Retry-After of 1 s" "expected: 1 s" \
        "got: $gap s"
fi
is "$(watch_rv throttled 2)" 100 "throttled: with the same resourceVersion"
finish throttled

# --- 504 too large resource version ---

scripted_start too-large
scripted_watcher too-large
expect_record too-large '^CREATED j$' \
    "too-large: a resourceVersion ahead of the server is retried"
gap=$(watch_gap too-large 1)
if ge "$gap" 0.9 && ! ge "$gap" 3; then
    pass "too-large: after waiting 1 s ($gap s)"
else
    fail "too-large: after waiting 1 s" "expected: 1 s" "got: $gap s"
fi
is "$(watch_rv too-large 2)" 100 "too-large: with the same resourceVersion"
finish too-large

# --- "Too large resource version" as an ERROR event, with a hint ---

scripted_start too-large-event
scripted_watcher too-large-event
expect_record too-large-event '^CREATED r$' \
    "too-large-event: the watch cache's ERROR event 504 is retried"
gap=$(watch_gap too-large-event 1)
if ge "$gap" 1.9 && ! ge "$gap" 3.5; then
    pass "too-large-event: after the retryAfterSeconds of 2 s ($gap s)"
else
    fail "too-large-event: after the retryAfterSeconds of 2 s" \
        "expected: 2 s, not the backoff or the 1 s default" "got: $gap s"
fi
is "$(watch_rv too-large-event 2)" 100 \
    "too-large-event: with the same resourceVersion"
is "$(grep -v 'watch=1' "$test_tmp/too-large-event/requests" |
    grep -c configmaps)" 1 "too-large-event: and no relist"
like "$(cat "$test_tmp/too-large-event.log")" \
    'resourceVersion 100 is ahead of the API server, retrying in 2.0s' \
    "too-large-event: the log names the wait"
finish too-large-event

# --- Watches that close at once ---

scripted_start closes
scripted_watcher closes
expect_record closes '^CREATED k$' \
    "closes: after watches that close at once the watcher gets through" 30
g1=$(watch_gap closes 1)
g2=$(watch_gap closes 2)
g3=$(watch_gap closes 3)
if ge "$g1" 0.7 && ge "$g2" 1.5 && ge "$g3" 3.1; then
    pass "closes: with growing backoff ($g1 s, $g2 s, $g3 s)"
else
    fail "closes: with growing backoff" "expected: >= 0.8, 1.6, 3.2 s" \
        "got: $g1 s, $g2 s, $g3 s"
fi
is "$(grep -c '^W.*closed at once with no event' "$test_tmp/closes.log")" 1 \
    "closes: warned about once, not at each try"
finish closes 'closed at once'

# --- An ERROR event other than 410 ---

scripted_start error-event
scripted_watcher error-event
expect_record error-event '^CREATED l$' \
    "error-event: after an ERROR event the watcher rewatches"
like "$(grep '^W' "$test_tmp/error-event.log")" \
    'ended with an error: etcd is sad \(code 500\), retrying in' \
    "error-event: with a warning quoting the server"
is "$(watch_rv error-event 2)" 100 \
    "error-event: from the same resourceVersion"
finish error-event 'ended with an error'

# --- A list in pages whose continue token expires ---

scripted_start pages
scripted_watcher pages
expect_record pages '^SYNCED rv=101$' \
    "pages: an expired continue token falls back to one full list"
lists=$(grep -v 'watch=1' "$test_tmp/pages/requests" | grep configmaps |
    sed 's/^[0-9.]* //')
is "$lists" "$(printf '%s\n' \
    '/api/v1/namespaces/demo/configmaps?limit=500&resourceVersion=0' \
    '/api/v1/namespaces/demo/configmaps?limit=500&continue=tok-1' \
    '/api/v1/namespaces/demo/configmaps?')" \
    "pages: first page, continue page, then a list without limit"
is "$(changes_of pages)" "CREATED a existing
CREATED m existing" "pages: the full list's objects, each once"
is "$(watch_rv pages 1)" 101 "pages: the watch starts at the full list's"
finish pages

# --- A server with streaming lists ---

scripted_start streaming
scripted_watcher streaming
expect_record streaming '^CREATED o$' \
    "streaming: a streaming list, then the watch from its bookmark"
is "$(summary streaming | sed -n '1,2p' | sort)" "CREATED a existing
CREATED n existing" "streaming: the initial events are the existing objects"
is "$(summary streaming | sed -n '3,$p')" "SYNCED rv=101
CREATED o" "streaming: then SYNCED and the watch's changes"
is "$(watch_rv streaming 1)" 101 \
    "streaming: the watch starts at the bookmark's resourceVersion"
is "$(grep -c 'limit=' "$test_tmp/streaming/requests")" 0 \
    "streaming: no list in pages"
finish streaming

# --- An oversized object in a streaming list ---

scripted_start oversized-list
scripted_watcher oversized-list --max-event-bytes 4096
expect_record oversized-list '^DELETED big at_relist' \
    "oversized-list: the watcher lists past an oversized object and relists"
requests=$(grep configmaps "$test_tmp/oversized-list/requests" |
    sed -e 's/^[0-9.]* //' -e 's/.*sendInitialEvents.*/streaming list/' \
        -e 's/.*limit=.*/list in pages/' -e 's/.*watch=1.*/watch/')
is "$requests" "streaming list
list in pages
watch
streaming list
watch" "oversized-list: that list goes in pages, the next streams again"
is "$(summary oversized-list | sed -n '1,3p' | sort)" "CREATED a existing
CREATED big existing
SYNCED rv=101" "oversized-list: the list in pages has the oversized object"
like "$(grep '^W' "$test_tmp/oversized-list.log")" \
    'over 4096 bytes in the streaming list, listing in pages this time' \
    "oversized-list: with a warning that says what happens"
finish oversized-list 'in the streaming list, listing in pages'

# --- A bookmark, then the stream breaks ---

scripted_start bookmark
scripted_watcher bookmark
expect_record bookmark '^CREATED s$' \
    "bookmark: after a bookmark and a break the watcher goes on"
is "$(watch_rv bookmark 2)" 150 \
    "bookmark: it rewatches from the bookmark's resourceVersion"
bad=$(grep 'watch=1' "$test_tmp/bookmark/requests" | while read -r _ path; do
    t=$(echo "$path" | sed -n 's/.*[?&]timeoutSeconds=\([0-9]*\).*/\1/p')
    case $path in
    *allowWatchBookmarks=true*) ;;
    *) echo "no allowWatchBookmarks=true: $path" ;;
    esac
    if [ -z "$t" ] || [ "$t" -lt 300 ] || [ "$t" -gt 600 ]; then
        echo "timeoutSeconds not in [300, 600]: $path"
    fi
done)
is "$bad" "" \
    "bookmark: every watch asks for bookmarks, with a timeout of 5 to 10 min"
finish bookmark

# --- Resuming from a snapshot whose resourceVersion expired ---

scripted_start resume
write_snapshot "$test_tmp/resume.state" 100 a:1:100 gone:1:90
scripted_watcher resume --state "$test_tmp/resume.state"
expect_record resume '^PROGRESS rv=110$' \
    "resume: the watcher resumes from a snapshot, gets 410 and relists"
is "$(summary resume | head -1)" "SYNCED rv=100" \
    "resume: it starts at the snapshot's resourceVersion"
is "$(grep configmaps "$test_tmp/resume/requests" | head -1 |
    sed 's/.*resourceVersion=\([^&]*\).*/\1/')" 100 \
    "resume: with a watch, not a list"
is "$(changes_of resume | sort)" "CREATED q at_relist
DELETED gone at_relist,final_state_unknown
UPDATED a generation:1->2 at_relist" \
    "resume: the relist is compared with the snapshot"
finish resume

scripted_start resume damaged
cp "$test_tmp/resume.state" "$test_tmp/damaged.state"
printf 'X' | dd of="$test_tmp/damaged.state" bs=1 seek=20 conv=notrunc \
    2>/dev/null
scripted_watcher damaged --state "$test_tmp/damaged.state"
expect_record damaged '^SYNCED rv=110$' \
    "damaged: a damaged snapshot is not used; the watcher lists instead"
like "$(grep '^W' "$test_tmp/damaged.log")" \
    'cannot resume from .*damaged.state: checksum mismatch' \
    "damaged: with a warning that says why"
finish damaged 'cannot resume from'

# --- Internal errors that do not pass, started first ---

# The relist comes 30 s after the first error, plus up to 50 s of backoff.
left=$((internal_start + 130 - $(date +%s)))
[ "$left" -ge 5 ] || left=5
expect_record internal-errors '^CREATED t at_relist$' \
    "internal-errors: after internal errors for 30 s the watcher relists" \
    "$left"
lists=$(grep -v 'watch=1' "$test_tmp/internal-errors/requests" |
    grep configmaps | cut -d' ' -f1)
first_watch=$(watches internal-errors | head -1 | cut -d' ' -f1)
relist_gap=$(echo "$lists" | sed -n 2p |
    awk -v a="$first_watch" '{ printf "%.1f\n", $1 - a }')
if ge "$relist_gap" 30 && ! ge "$relist_gap" 100; then
    pass "internal-errors: not before 30 s ($relist_gap s)"
else
    fail "internal-errors: not before 30 s" "expected: 30 to 100 s" \
        "got: $relist_gap s"
fi
is "$(watches internal-errors | sed -n '1,3p' | cut -d' ' -f2 | sort -u)" \
    100 "internal-errors: until then, from the same resourceVersion"
like "$(grep '^W' "$test_tmp/internal-errors.log")" \
    'internal errors for more than 30s, relisting in' \
    "internal-errors: the relist is warned about"
finish internal-errors 'no leader|internal errors'

# --- The reader of the records goes away ---

scripted_start late
(
    timeout 20 "$EC_BIN" watcher --kubeconfig "$test_tmp/late/kubeconfig" \
        --group "" --version v1 --resource configmaps \
        2>"$test_tmp/epipe.log"
    echo $? >"$test_tmp/epipe.status"
) | head -c 1 >/dev/null
is "$(cat "$test_tmp/epipe.status")" 0 \
    "a watcher whose reader is gone exits with status 0"
is "$(grep -c '^[EFW]' "$test_tmp/epipe.log")" 0 "and quietly"

test_done
