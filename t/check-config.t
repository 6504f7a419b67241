#!/bin/sh
# --check-config reports every problem of the settings as file:line:
# problem and exits 1, or exits 0 for valid settings.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

data=$top_srcdir/t/data/check-config

for conf in "$data"/bad-*.conf; do
    name=$(basename "$conf")
    out=$("$EC_BIN" --check-config --config "$conf" 2>&1)
    is "$?" 1 "$name: --check-config exits 1"
    grep '^# expect: ' "$conf" | sed 's/^# expect: //' >"$test_tmp/expect"
    while IFS= read -r want; do
        case $out in
        *"$want"*) pass "$name: reports '$want'" ;;
        *) fail "$name: reports '$want'" "expected: $want" "got: $out" ;;
        esac
    done <"$test_tmp/expect"
done

out=$("$EC_BIN" --check-config --config "$data/good.conf" 2>&1)
is "$?:$out" "0:" "a valid file: exit 0, nothing printed"

seed=$top_srcdir/t/data/seed-config.json
out=$("$EC_BIN" --check-config --resources "$seed" 2>&1)
is "$?:$out" "0:" "--resources with the seed's JSON alone is valid"

out=$("$EC_BIN" --check-config --config "$data/no-resources.conf" \
    --resources "$seed" 2>&1)
is "$?:$out" "0:" "--resources makes a file without resources valid"

out=$("$EC_BIN" --check-config --config "$data/no-resources.conf" 2>&1)
is "$?" 1 "a file without resources and no --resources exits 1"
like "$out" 'no-resources.conf: no resources' "and says so"

out=$("$EC_BIN" --check-config --resources "$data/missing.json" 2>&1)
is "$?" 1 "a missing --resources file exits 1"
like "$out" 'missing.json: cannot open' "and names the file"

test_done
