#!/bin/sh
# alert-line.sh - a logbook-notify --exec command: pushes one escalation as a
# text message with the LINE Messaging API (POST /v2/bot/message/push).
# LINE Notify was shut down on 2025-03-31; this is its replacement.
#
#   logbook-notify ... --exec '/usr/local/share/logbook/examples/alert-line.sh Cxxxxxxxx'
#
# The argument (or $LINE_TO) is the user, group or room id to push to; the
# channel access token comes from $LINE_CHANNEL_TOKEN (never the command line,
# which other users can read). The event comes in LOGBOOK_* variables; see
# logbook-notify(1), THE COMMAND.
#
# Retries are idempotent: X-Line-Retry-Key is a UUID computed from the event's
# seq and the recipient, so logbook-notify running this again for the same
# seq sends the same key, and LINE answers 409 instead of pushing twice (LINE
# keeps a key for 24 hours). Exit 0 when LINE took the message (200) or had
# taken it already (409); 1 otherwise, and logbook-notify runs it again.
set -eu

to=${1:-${LINE_TO:-}}
[ -n "$to" ] || { echo "alert-line: no recipient (argument or LINE_TO)" >&2; exit 2; }
[ -n "${LINE_CHANNEL_TOKEN:-}" ] || { echo "alert-line: LINE_CHANNEL_TOKEN is not set" >&2; exit 2; }
seq=${LOGBOOK_SEQ:?alert-line: LOGBOOK_SEQ is not set (run by logbook-notify --exec)}
api=${LINE_API:-https://api.line.me}

# A UUID (version 5 layout) from SHA-256 of the recipient and the seq.
retry_key() {
    h=$(printf 'logbook-notify %s %s' "$1" "$2" | sha256sum | cut -c1-32)
    printf '%s-%s-5%s-a%s-%s\n' "$(echo "$h" | cut -c1-8)" "$(echo "$h" | cut -c9-12)" \
        "$(echo "$h" | cut -c14-16)" "$(echo "$h" | cut -c18-20)" "$(echo "$h" | cut -c21-32)"
}

# JSON string content: backslashes, quotes and control characters escaped.
json_text() {
    printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
}

text="Logbook: ${LOGBOOK_LEVEL:-?} escalation for case ${LOGBOOK_CASE_ID:-?} (house ${LOGBOOK_HOUSE_ID:-?}, area ${LOGBOOK_AREA:-?}), state ${LOGBOOK_STATE:-?}, seq $seq"
key=$(retry_key "$to" "$seq")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077
printf 'Authorization: Bearer %s\n' "$LINE_CHANNEL_TOKEN" >"$tmp/auth"
code=$(printf '{"to":"%s","messages":[{"type":"text","text":"%s"}]}' \
        "$(json_text "$to")" "$(json_text "$text")" |
    curl -sS -o "$tmp/reply" -w '%{http_code}' --max-time 30 -X POST \
        -H @"$tmp/auth" -H 'Content-Type: application/json' -H "X-Line-Retry-Key: $key" \
        --data-binary @- "$api/v2/bot/message/push") || code=000
case $code in
200) exit 0 ;;
409) echo "alert-line: seq $seq was pushed already (retry key $key)" >&2; exit 0 ;;
*)
    echo "alert-line: LINE answered $code for seq $seq: $(head -c 300 "$tmp/reply" 2>/dev/null)" >&2
    exit 1
    ;;
esac
