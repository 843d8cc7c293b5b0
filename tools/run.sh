#!/bin/sh
# tools/run.sh - `make run`: logbookd and logbook-web together in the
# foreground; Ctrl-C (or SIGTERM) stops both. On first start it makes the
# gateway's CURVE key (var/data/keys/web.key_secret), admits it with role
# gateway in var/clients.yaml (the shipped registry plus that entry), and
# creates an `admin` web user whose password it prints once.
#
# The daemon runs from var/logbookd.yaml: config/logbookd.yaml with its
# relative paths pointed back at config/ and its registry at var/clients.yaml,
# so no generated key is ever written into a tracked file.
# Environment: BIN (default bin), CLOCK (manual for the manual clock), DATA (a
# data folder instead of var/data, e.g. var/walk for the README's walk: the
# generated configs and keys live there too, and removing it starts afresh).
set -eu
BIN=${BIN:-bin}
CONF=config
ROOT=$(pwd)
if [ -n "${DATA:-}" ]; then
    VAR=$DATA
    DATADIR=$DATA
else
    VAR=var
    DATADIR=var/data
fi
mkdir -p "$DATADIR"
DATADIR=$(cd "$DATADIR" && pwd)
KEYS=$DATADIR/keys
USERS=$CONF/users.tsv
# the bundled tools (ping below) use this data folder's admin certificate
export LOGBOOK_CERT="$KEYS/admin.key_secret" LOGBOOK_SERVER_CERT="$KEYS/server.key"

die() {
    echo "make run: $*" >&2
    exit 1
}

# config/X.yaml -> VAR/X.yaml: relative path values become absolute (from config/),
# and the shipped data folder (var/data) becomes DATADIR.
rebase_config() {
    awk -v clients="$2" -v conf="$ROOT/config/" -v root="$ROOT/" -v data="$DATADIR" '
    function rebase(line, key,    pre, val, rest) {
        if (!match(line, "^[ ]*" key ":[ ]*")) return line
        pre = substr(line, 1, RLENGTH); rest = substr(line, RLENGTH + 1)
        if (rest == "" || rest ~ /^[#"\/\[{]/) return line
        val = rest; sub(/[ ]+#.*$/, "", val)
        if (val ~ /^\.\.\//) val = root substr(val, 4); else val = conf val
        if (index(val, root "var/data") == 1) val = data substr(val, length(root "var/data") + 1)
        return pre val
    }
    /^[ ]*clients:[ ]*/ && clients != "" { sub(/clients:.*/, "clients: " clients); print; next }
    {
        n = split("data_dir workflows indicators holidays server_cert users keys_dir cert key static", k, " ")
        for (i = 1; i <= n; i++) $0 = rebase($0, k[i])
        print
    }' "$1"
}

# The shipped registry with the gateway appended (block style only).
write_clients() {
    pub=$(sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$KEYS/web.key")
    [ -n "$pub" ] || die "no public key in $KEYS/web.key"
    {
        sed 's/^clients: *\[\] *$/clients:/' "$CONF/clients.yaml"
        printf '  - name: web        # logbook-web, added by make run (tools/run.sh)\n'
        printf '    public_key: "%s"\n    role: gateway\n' "$pub"
        printf '    areas: ["*"]\n    events: true\n'
    } >"$VAR/clients.yaml.tmp"
    mv "$VAR/clients.yaml.tmp" "$VAR/clients.yaml"
}

first_admin() {
    if [ -f "$USERS" ] && grep -q '^admin	' "$USERS"; then
        return 0
    fi
    pw=$(head -c 12 /dev/urandom | base64 | tr '+/' 'xy')
    printf '%s\n' "$pw" | "$BIN/logbook" user add admin --role admin --areas '*' \
        --users "$USERS" --password-stdin >/dev/null || die "could not create the admin web user"
    ADMIN_PW=$pw
}

[ -d "$KEYS" ] || mkdir -m 700 "$KEYS"
if [ ! -f "$KEYS/web.key_secret" ]; then
    "$BIN/logbook" keygen web --dir "$KEYS" >/dev/null || die "keygen failed"
fi
write_clients
rebase_config "$CONF/logbookd.yaml" "$(cd "$VAR" && pwd)/clients.yaml" >"$VAR/logbookd.yaml"
rebase_config "$CONF/logbook-web.yaml" "" >"$VAR/logbook-web.yaml"
ADMIN_PW=""
first_admin

DPID=""
WPID=""
stop() {
    trap - INT TERM EXIT
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null || true
    [ -n "$DPID" ] && kill "$DPID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

"$BIN/logbookd" --config "$VAR/logbookd.yaml" --foreground ${CLOCK:+--clock "$CLOCK"} &
DPID=$!
# the gateway needs the server's public key (made on first start) and a daemon that answers
i=0
until [ -f "$KEYS/server.key" ] && "$BIN/logbook" ping >/dev/null 2>&1; do
    kill -0 "$DPID" 2>/dev/null || die "logbookd stopped (see its messages above)"
    i=$((i + 1))
    [ $i -lt 100 ] || die "logbookd did not answer within 20 s"
    sleep 0.2
done
"$BIN/logbook-web" --config "$VAR/logbook-web.yaml" &
WPID=$!

listen=$(sed -n 's/^listen: *\([^ #]*\).*/\1/p' "$CONF/logbook-web.yaml")
port=${listen##*:}
echo
echo "  Logbook is running: http://127.0.0.1:${port:-8080}/   (Ctrl-C stops both)"
if [ -n "$ADMIN_PW" ]; then
    echo "  First start: web user 'admin', password: $ADMIN_PW"
    echo "  (shown once; change it with: $BIN/logbook user passwd admin)"
fi
echo

# Whichever stops first stops the other.
while kill -0 "$DPID" 2>/dev/null && kill -0 "$WPID" 2>/dev/null; do
    sleep 1
done
echo "make run: one of logbookd or logbook-web stopped; stopping the other" >&2
exit 1
