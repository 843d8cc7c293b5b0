#!/bin/sh
# Runs examples/alert-line.sh and examples/alert-sms.sh as logbook-notify
# --exec would, with a fake `curl` first on PATH that records its arguments,
# the header files it is given (-H @FILE) and the body (--data-binary @-),
# and answers with $FAKE_CURL_CODE. Checks the request each script sends, that
# the retry key is the same for the same seq and differs for another, that no
# token appears on a command line, and the exit status for 200, 409 and 500.
set -eu
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cat >"$tmp/bin/curl" <<'STUB'
#!/bin/sh
# fake curl: one argument a line in $FAKE_CURL_LOG, then the headers and body
log=$FAKE_CURL_LOG
: >"$log"
out=
prev=
for a in "$@"; do
    printf 'arg %s\n' "$a" >>"$log"
    case $prev in
    -H) case $a in @*) sed 's/^/header /' "${a#@}" >>"$log" ;; *) printf 'header %s\n' "$a" >>"$log" ;; esac ;;
    -o) out=$a ;;
    --data-binary) [ "$a" = @- ] && { printf 'body '; cat; echo; } >>"$log" ;;
    esac
    prev=$a
done
[ -n "$out" ] && echo '{"message":"fake"}' >"$out"
printf '%s' "${FAKE_CURL_CODE:-200}"
STUB
chmod +x "$tmp/bin/curl"
fail=0
check() {
    what=$1
    shift
    if "$@"; then echo "alerts: ok: $what"; else echo "alerts: FAILED: $what"; fail=1; fi
}
# shellcheck disable=SC2317 # called through check
has() { grep -qF -- "$2" "$1"; }
# shellcheck disable=SC2317
hasnt() { ! grep -qF -- "$2" "$1"; }
# run LOG SEQ CODE SCRIPT ARGS...: the script's exit status
run() {
    log=$1 seq=$2 code=$3
    shift 3
    rc=0
    PATH="$tmp/bin:$PATH" FAKE_CURL_LOG=$log FAKE_CURL_CODE=$code \
        LOGBOOK_SEQ=$seq LOGBOOK_CASE_ID=C000000042 LOGBOOK_HOUSE_ID=65010000042 \
        LOGBOOK_AREA=65010101 LOGBOOK_LEVEL=subdistrict LOGBOOK_STATE=assisting \
        LOGBOOK_ATTEMPT=1 LINE_CHANNEL_TOKEN=line-secret-token SMS_GATEWAY_URL=https://sms.example/send \
        SMS_GATEWAY_TOKEN=sms-secret-token "$@" 2>"$log.err" </dev/null || rc=$?
    return $rc
}
key_of() { sed -n "s/^header $2: //p" "$1"; }

# ---- LINE Messaging API ----
line="$root/examples/alert-line.sh"
check "LINE: 200 exits 0" run "$tmp/l1" 17 200 "$line" Uabc123
check "LINE: POST to the push endpoint" has "$tmp/l1" "arg https://api.line.me/v2/bot/message/push"
check "LINE: POST" has "$tmp/l1" "arg POST"
check "LINE: bearer token from the environment" has "$tmp/l1" "header Authorization: Bearer line-secret-token"
check "LINE: the token is on no command line" hasnt "$tmp/l1" "arg Authorization"
check "LINE: JSON content type" has "$tmp/l1" "header Content-Type: application/json"
check "LINE: body names the recipient and the case" \
    has "$tmp/l1" 'body {"to":"Uabc123","messages":[{"type":"text","text":"Logbook: subdistrict escalation for case C000000042'
k1=$(key_of "$tmp/l1" X-Line-Retry-Key)
check "LINE: the retry key is a UUID ($k1)" \
    sh -c "printf '%s' '$k1' | grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}'"
check "LINE: a retry of seq 17 exits 0 on 409" run "$tmp/l2" 17 409 "$line" Uabc123
check "LINE: and sends the same retry key" test "$k1" = "$(key_of "$tmp/l2" X-Line-Retry-Key)"
run "$tmp/l3" 18 200 "$line" Uabc123 || true
check "LINE: seq 18 has another key" test "$k1" != "$(key_of "$tmp/l3" X-Line-Retry-Key)"
run "$tmp/l4" 17 200 "$line" Cgroup9 || true
check "LINE: another recipient has another key" test "$k1" != "$(key_of "$tmp/l4" X-Line-Retry-Key)"
rc=0; run "$tmp/l5" 19 500 "$line" Uabc123 || rc=$?
check "LINE: 500 exits 1, so logbook-notify retries" test "$rc" = 1
rc=0; run "$tmp/l6" 19 200 sh -c "LINE_CHANNEL_TOKEN= $line Uabc123" || rc=$?
check "LINE: no token exits 2 and sends nothing" sh -c "test $rc = 2 && ! test -s '$tmp/l6'"

# ---- SMS gateway ----
sms="$root/examples/alert-sms.sh"
check "SMS: 200 exits 0" run "$tmp/s1" 17 200 "$sms" "0812345678,66898765432"
check "SMS: POST to SMS_GATEWAY_URL" has "$tmp/s1" "arg https://sms.example/send"
check "SMS: bearer token from the environment" has "$tmp/s1" "header Authorization: Bearer sms-secret-token"
check "SMS: the token is on no command line" hasnt "$tmp/s1" "arg Authorization"
check "SMS: body" has "$tmp/s1" \
    'body {"to":["0812345678","66898765432"],"message":"Logbook subdistrict: case C000000042 area 65010101 state assisting","reference":"logbook-17"}'
s1=$(key_of "$tmp/s1" Idempotency-Key)
run "$tmp/s2" 17 503 "$sms" "0812345678,66898765432" || true
check "SMS: the same seq has the same idempotency key" test -n "$s1" -a "$s1" = "$(key_of "$tmp/s2" Idempotency-Key)"
rc=0; run "$tmp/s3" 17 503 "$sms" "0812345678" || rc=$?
check "SMS: 503 exits 1" test "$rc" = 1
exit $fail
