#!/bin/sh
# alert-sms.sh - a logbook-notify --exec command: sends one escalation as an
# SMS through an HTTP gateway, as one JSON POST:
#
#   {"to": ["66812345678", ...], "message": "...", "reference": "logbook-SEQ"}
#
# with "Authorization: Bearer $SMS_GATEWAY_TOKEN" and an Idempotency-Key
# header computed from the seq and the recipients (the same on every retry of
# that seq). Most Thai and international gateways take this shape or a small
# change of it: adapt the body below to yours.
#
#   SMS_GATEWAY_URL    the gateway's send URL (required)
#   SMS_GATEWAY_TOKEN  its API token (required; never on the command line)
#   SMS_TO             comma-separated numbers, unless given as the argument
#
# Exit 0 on a 2xx answer (and on 409, a duplicate the gateway recognised);
# 1 otherwise, and logbook-notify runs it again.
set -eu

to=${1:-${SMS_TO:-}}
[ -n "$to" ] || { echo "alert-sms: no recipient (argument or SMS_TO)" >&2; exit 2; }
url=${SMS_GATEWAY_URL:-}
[ -n "$url" ] || { echo "alert-sms: SMS_GATEWAY_URL is not set" >&2; exit 2; }
[ -n "${SMS_GATEWAY_TOKEN:-}" ] || { echo "alert-sms: SMS_GATEWAY_TOKEN is not set" >&2; exit 2; }
seq=${LOGBOOK_SEQ:?alert-sms: LOGBOOK_SEQ is not set (run by logbook-notify --exec)}

retry_key() {
    h=$(printf 'logbook-notify %s %s' "$1" "$2" | sha256sum | cut -c1-32)
    printf '%s-%s-5%s-a%s-%s\n' "$(echo "$h" | cut -c1-8)" "$(echo "$h" | cut -c9-12)" \
        "$(echo "$h" | cut -c14-16)" "$(echo "$h" | cut -c18-20)" "$(echo "$h" | cut -c21-32)"
}

# JSON string content: backslashes, quotes and control characters escaped.
json_text() {
    printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
}

# Numbers as a JSON list: digits and + only, each quoted.
numbers=$(printf '%s' "$to" | tr -cd '0-9+,' | sed -e 's/,,*/,/g' -e 's/^,//' -e 's/,$//' -e 's/,/","/g')
text="Logbook ${LOGBOOK_LEVEL:-?}: case ${LOGBOOK_CASE_ID:-?} area ${LOGBOOK_AREA:-?} state ${LOGBOOK_STATE:-?}"
text=$(json_text "$text")
key=$(retry_key "$to" "$seq")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077
printf 'Authorization: Bearer %s\n' "$SMS_GATEWAY_TOKEN" >"$tmp/auth"
code=$(printf '{"to":["%s"],"message":"%s","reference":"logbook-%s"}' "$numbers" "$text" "$seq" |
    curl -sS -o "$tmp/reply" -w '%{http_code}' --max-time 30 -X POST \
        -H @"$tmp/auth" -H 'Content-Type: application/json' -H "Idempotency-Key: $key" \
        --data-binary @- "$url") || code=000
case $code in
2??) exit 0 ;;
409) echo "alert-sms: seq $seq was sent already" >&2; exit 0 ;;
*)
    echo "alert-sms: the gateway answered $code for seq $seq: $(head -c 300 "$tmp/reply" 2>/dev/null)" >&2
    exit 1
    ;;
esac
