#!/bin/sh
# The house style: no line wider than 80 columns in the code, the tests,
# the scripts and the build files, and C formatted by .clang-format.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

cd "$top_srcdir" || bail_out "no source tree"
files=$( (find src include t fuzz bench -type f \
        \( -name '*.[ch]' -o -name '*.sh' -o -name '*.t' -o -name '*.go' \
        -o -name '*.py' -o -name kube -o -name setup -o -name run-tests \
        -o -name run \) ! -path 't/.*' 2>/dev/null
        ls configure.ac Makefile.am demo .ci/run) | sort)

wide=
for f in $files; do
    n=$(expand -t 8 "$f" | awk 'length > 80 { n++ } END { print n + 0 }')
    [ "$n" -eq 0 ] || wide="$wide $f:$n"
done
is "${wide:-none}" none "no line is wider than 80 columns (file:lines)"

if command -v clang-format >/dev/null; then
    drift=
    for f in $files; do
        case $f in *.[ch]) ;; *) continue ;; esac
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 ||
            drift="$drift $f"
    done
    is "${drift:-none}" none "C files are formatted by .clang-format"
fi

test_done
