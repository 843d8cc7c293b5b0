#!/bin/sh
# Checks the systemd units (logbookd, logbook-notify@, logbook-web) with `systemd-analyze verify`, with ExecStart
# pointing at the binaries just built and the man pages of docs/ on MANPATH
# (verify looks up every Documentation=man: page). Skipped, and said so, on a
# machine without systemd-analyze.
set -eu
bin=$(cd "${1:-bin}" && pwd)
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "verify-units: skipped (no systemd-analyze here)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/units" "$tmp/man/man1" "$tmp/man/man8"
for m in docs/*.1; do ln -s "$PWD/$m" "$tmp/man/man1/"; done
for m in docs/*.8; do ln -s "$PWD/$m" "$tmp/man/man8/"; done
for u in systemd/*.service; do
    sed "s|/usr/local/bin/|$bin/|g" "$u" > "$tmp/units/$(basename "$u")"
done
# a template is verified through an instance
mv "$tmp/units/logbook-notify@.service" "$tmp/units/logbook-notify@district-6501.service"
fail=0
for u in "$tmp"/units/*.service; do
    # verify exits 0 on lines it ignores ("Failed to parse ..., ignoring"): any output fails too
    if out=$(MANPATH="$tmp/man" systemd-analyze verify "$u" 2>&1) && [ -z "$out" ]; then
        echo "verify-units: $(basename "$u") ok"
    else
        printf '%s\n' "$out"
        echo "verify-units: $(basename "$u") FAILED"
        fail=1
    fi
done
exit $fail
