#!/bin/sh
# `make install DESTDIR=... PREFIX=/usr/local` puts configs, units, man pages,
# programs and example alert scripts where README.md ("Deploy with systemd"),
# logbookd(8) and the units say; it keeps a config that is already there; and
# the installed unit and config name the paths the man page gives.
# Usage: tests/install.sh [BIN [BUILD]] (from the repository root).
set -eu
bin=${1:-bin}
build=${2:-build/release}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...
    what=$1
    shift
    if "$@"; then echo "install: ok: $what"; else echo "install: FAILED: $what"; fail=1; fi
}
make --no-print-directory -s install DESTDIR="$tmp" PREFIX=/usr/local BIN="$bin" BUILD="$build" \
    >"$tmp.log" 2>&1 || { cat "$tmp.log"; rm -f "$tmp.log"; echo "install: make install FAILED"; exit 1; }
p=$tmp/usr/local
for f in bin/logbookd bin/logbook bin/logbook-notify \
    etc/logbook/logbookd.yaml etc/logbook/clients.yaml \
    lib/systemd/system/logbookd.service lib/systemd/system/logbook-notify@.service \
    share/man/man8/logbookd.8 share/man/man1/logbook.1 share/man/man1/logbook-notify.1 \
    share/logbook/indicators.yaml share/logbook/holidays.yaml share/logbook/workflows/tpmap-household.yaml \
    share/logbook/examples/alert-line.sh share/logbook/examples/alert-sms.sh; do
    check "$f" test -f "$p/$f"
done
unit=$p/lib/systemd/system/logbookd.service
conf=$p/etc/logbook/logbookd.yaml
check "the unit starts /usr/local/bin/logbookd with /usr/local/etc/logbook/logbookd.yaml" \
    grep -q '^ExecStart=/usr/local/bin/logbookd --config /usr/local/etc/logbook/logbookd.yaml ' "$unit"
check "logbookd(8) names the config the unit uses" \
    grep -q 'usr/local/etc/logbook/logbookd.yaml' "$p/share/man/man8/logbookd.8"
check "the config's data_dir is the unit's StateDirectory" \
    sh -c "grep -q '^StateDirectory=logbook$' '$unit' && grep -q '^data_dir: /var/lib/logbook ' '$conf'"
# every absolute path under /usr/local in the installed config exists in DESTDIR
# shellcheck disable=SC2013 # the paths hold no blanks
for path in $(grep -o '/usr/local/[^ ]*' "$conf"); do
    check "the config's $path is installed" test -e "$tmp$path"
done
check "the config's files are 0644" test "$(stat -c %a "$conf")" = 644
# an existing config is kept
echo "# the site's own" >>"$conf"
make --no-print-directory -s install DESTDIR="$tmp" PREFIX=/usr/local BIN="$bin" BUILD="$build" \
    >"$tmp.log" 2>&1 || { cat "$tmp.log"; fail=1; }
check "a second install keeps the edited logbookd.yaml" grep -q "the site's own" "$conf"
check "and says so" grep -q "keeping .*logbookd.yaml" "$tmp.log"
# PREFIX=/usr rewrites every /usr/local path
make --no-print-directory -s install DESTDIR="$tmp/u" PREFIX=/usr BIN="$bin" BUILD="$build" \
    >"$tmp.log" 2>&1 || { cat "$tmp.log"; fail=1; }
check "PREFIX=/usr: no /usr/local left in the unit or config" \
    sh -c "! grep -q /usr/local '$tmp/u/usr/lib/systemd/system/logbookd.service' '$tmp/u/usr/etc/logbook/logbookd.yaml'"
rm -f "$tmp.log"
exit $fail
