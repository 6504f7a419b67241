#!/bin/sh
# The command line: --help and --version succeed, wrong usage exits 64
# with a one-line reason and a hint.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

out=$("$EC_BIN" --help 2>&1); status=$?
is "$status" 0 "--help exits 0"
like "$out" '^usage: event-controller' "--help prints the usage"
for flag in --config --resources --kubeconfig --context --namespace \
            --all-namespaces --state-dir --metrics-address --log-format \
            --leader-elect --check-config --version --help; do
    like "$out" "  $flag( |$)" "--help documents $flag"
done

out=$("$EC_BIN" --version 2>&1); status=$?
is "$status" 0 "--version exits 0"
like "$out" '^event-controller [0-9]+\.[0-9]+\.[0-9]+$' \
    "--version prints the name and version"

"$EC_BIN" --no-such-flag >"$test_tmp/out" 2>"$test_tmp/err"; status=$?
is "$status" 64 "an unknown flag exits 64"
is "$(sed -n 1p "$test_tmp/err")" \
    "event-controller: unknown option '--no-such-flag'" \
    "the first line names the bad flag"
like "$(sed -n 2p "$test_tmp/err")" "--help" "the second line hints at --help"
is "$(wc -l < "$test_tmp/err" | tr -d ' ')" 2 "nothing more is printed"
is "$(wc -c < "$test_tmp/out" | tr -d ' ')" 0 "stdout stays empty"

"$EC_BIN" -v loud 2>"$test_tmp/err"; status=$?
is "$status" 64 "a bad -v value exits 64"
like "$(cat "$test_tmp/err")" "invalid verbosity 'loud'" "and says why"

# An emitter that cannot reach any API server cannot write a single Event:
# the master does not run on without it.
timeout 30 "$EC_BIN" --kubeconfig "$test_tmp/no-such-kubeconfig" \
    --resources "$top_srcdir/t/data/seed-config.json" --namespace default \
    --state-dir "$test_tmp/state" --metrics-address 127.0.0.1:0 \
    2>"$test_tmp/err"; status=$?
is "$status" 1 "a master whose emitter cannot run exits 1"
like "$(cat "$test_tmp/err")" \
    'emitter emitter exited with status 78: its configuration cannot work' \
    "the log says the emitter's configuration cannot work"
like "$(cat "$test_tmp/err")" \
    'the emitter cannot run with this configuration, exiting' \
    "and that the master exits for it"

test_done
