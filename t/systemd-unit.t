#!/bin/sh
# "make install" puts the binary, the default configuration, the man page
# and the systemd unit in place; systemd accepts the unit as installed; the
# man page renders without warnings and documents every option and setting.
. "${top_srcdir:-$(dirname "$0")/..}/t/lib/test-lib.sh"

root=$test_tmp/root
# The test runs inside "make check": its jobserver is not for this make.
check "make install DESTDIR= succeeds" \
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    make -C "$top_builddir" install DESTDIR="$root"

installed() {
    find "$root" -path "*/$1" -type f | head -1
}
bin=$(installed bin/event-controller)
conf=$(installed etc/event-controller/event-controller.conf)
man=$(installed man8/event-controller.8)
unit=$(installed systemd/system/event-controller.service)
like "$bin" . "the binary is installed into bindir"
like "$conf" . "the default configuration into sysconfdir/event-controller"
like "$man" . "the man page into man8"
check "the installed configuration is the default one" \
    cmp "$conf" "$top_srcdir/etc/event-controller.conf"

if [ -z "$unit" ]; then
    # Configured --without-systemdsystemunitdir: check the unit built.
    unit=$top_builddir/etc/systemd/event-controller.service
    pass "the unit is not installed, as configured # SKIP no unit folder"
else
    pass "the unit is installed into systemdsystemunitdir"
fi

# The unit names the paths of the install without DESTDIR.
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
is "$root$exec_start" "$bin" "ExecStart runs the installed binary"
config=$(sed -n 's/^ *--config \([^ ]*\).*/\1/p' "$unit")
is "$root$config" "$conf" "with --config naming the installed configuration"
unlike "$(cat "$unit")" '@[a-z]+@' "every @variable@ of the unit is replaced"

if command -v systemd-analyze >/dev/null; then
    # verify checks that ExecStart exists and that the man page of
    # Documentation= opens: both point into DESTDIR here.
    mkdir -p "$test_tmp/verify"
    sed "s|^ExecStart=|ExecStart=$root|" "$unit" \
        >"$test_tmp/verify/event-controller.service"
    out=$(MANPATH=${man%/man8/*} systemd-analyze verify \
        "$test_tmp/verify/event-controller.service" 2>&1)
    status=$?
    is "$status:$out" "0:" "systemd-analyze verify accepts the unit"
else
    pass "systemd-analyze verify accepts the unit # SKIP not installed"
fi
for setting in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' \
    WatchdogSec=30 Restart=on-failure DynamicUser=yes \
    StateDirectory=event-controller NoNewPrivileges=yes; do
    check "the unit sets $setting" grep -qxF "$setting" "$unit"
done
like "$(grep '^SystemCallFilter=' "$unit")" ' seccomp( |$)' \
    "the system call filter lets the children load their own"

if command -v groff >/dev/null; then
    out=$(LC_ALL=C.UTF-8 groff -man -ww -z "$man" 2>&1)
    is "$out" "" "the man page renders without warnings"
else
    pass "the man page renders without warnings # SKIP groff is missing"
fi

# Every option of --help and every setting of the default file.
options=$("$EC_BIN" --help | sed -n 's/^  \(--*[a-z-]*\).*/\1/p')
settings=$(sed -n 's/^\(# \)\{0,1\}\([a-z_]*\) = .*/\2/p' \
    "$top_srcdir/etc/event-controller.conf" | sort -u)
missing=
for word in $options $settings; do
    # In roff a dash is written "\-".
    pattern=$(printf '%s' "$word" | sed 's/-/\\\\-/g')
    grep -Eq "^\.(B|BR|BI|TP) +\"?$pattern( |\"|$)" "$man" ||
        missing="$missing $word"
done
is "${missing:-none}" none "the man page documents every option and setting"

test_done
