# leurad's HTTP core on a real etcd: health, the error shape of 404, 405
# and 413, request ids, keep-alive, slow clients, the connection limit,
# TLS (and client certificates), the refusal to listen in clear off
# loopback, audit events of 401s, /metrics, and a prompt SIGTERM.
. "$LEURA_SRC/tests/server/lib.sh"

# expect WHAT WANT GOT
expect() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# error_is STATUS CODE GOT_STATUS: the status, and the one error shape
error_is() {
	expect "status" "$1" "$3"
	expect "error code" "$2" "$(json_get "$T/body" error.code)"
	[ -n "$(json_get "$T/body" error.message)" ] ||
	    fail "no error message in $(cat "$T/body")"
}

srv_start a

# health
expect "healthz" 200 "$(srv_curl GET /healthz)"
expect "healthz body" ok "$(json_get "$T/body" status)"
expect "readyz" 200 "$(srv_curl GET /readyz)"
grep -qi '^cache-control: no-store' "$T/headers" ||
    fail "no Cache-Control: no-store"
grep -qi '^x-content-type-options: nosniff' "$T/headers" ||
    fail "no X-Content-Type-Options: nosniff"

# the API document
expect "openapi" 200 "$(srv_curl GET /v1/openapi.yaml)"
head -n 1 "$T/body" | grep -q '^openapi: 3' || fail "openapi.yaml: $(head -n 1 "$T/body")"

# 404, 405 (with Allow), in the error shape
error_is 404 not_found "$(srv_curl GET /no/such/route)"
error_is 405 method_not_allowed "$(srv_curl DELETE /healthz)"
grep -qi '^allow: GET' "$T/headers" || fail "405 without Allow: GET"
# path tricks: libwebsockets resolves "." and ".." (encoded or not)
# before routing, so a capture never sees one
code=$(srv_curl GET /healthz/.. --path-as-is)
[ "$code" != 200 ] || fail "/healthz/.. answered 200"
code=$(srv_curl GET '/v1/openapi.yaml/%2e%2e/%2e%2e/healthz' --path-as-is)
expect "/v1/openapi.yaml/../../healthz, resolved" 200 "$code"
error_is 404 not_found "$(srv_curl GET '/v1/%2e%2e/%2e%2e/%2e%2e/etc/passwd' --path-as-is)"

# 413: a declared length over --max-body (1 MiB), and a body that grows
# past it
head -c 1100000 /dev/zero >"$T/big"
error_is 413 too_large "$(srv_curl POST /healthz --data-binary @"$T/big")"
error_is 413 too_large "$(srv_curl POST /healthz -H 'Transfer-Encoding:' \
    --data-binary @"$T/big")"

# bodies: bad JSON named at line:col, an unknown field named with the
# allowed ones (POST /v1/login: anonymous, a JSON body)
error_is 400 bad_request "$(srv_curl POST /v1/login \
    -H 'Content-Type: application/json' --data-binary '{"user": "a",
  "password": }')"
json_get "$T/body" error.message | grep -q 'invalid JSON at line 2:' ||
    fail "bad JSON not placed: $(cat "$T/body")"
error_is 400 bad_request "$(srv_curl POST /v1/login \
    -H 'Content-Type: application/json' -d '{"user":"a","pasword":"b"}')"
json_get "$T/body" error.message |
    grep -q "unknown field 'pasword' (did you mean 'password'?" ||
    fail "unknown field not named: $(cat "$T/body")"

# query arguments: a long one does not hide those after it (the admin's
# GET /v1/users?after=3000 bytes&limit=0 is refused for its limit)
expect "admin login" 200 "$(srv_curl POST /v1/login \
    -H 'Content-Type: application/json' \
    -d "{\"user\":\"admin\",\"password\":\"$SRV_ADMIN_PASSWORD\"}")"
admin=$(json_get "$T/body" token)
long=$(head -c 3000 /dev/zero | tr '\0' a)
error_is 400 bad_request "$(SRV_TOKEN=$admin srv_curl GET \
    "/v1/users?after=$long&limit=0")"
json_get "$T/body" error.message | grep -q "invalid limit '0'" ||
    fail "limit after a long argument: $(cat "$T/body")"

# request ids: echoed when sane, else 128 random bits
srv_curl GET /healthz -H 'X-Request-Id: ci-run-42' >/dev/null
grep -qi '^x-request-id: ci-run-42' "$T/headers" ||
    fail "X-Request-Id not echoed: $(cat "$T/headers")"
srv_curl GET /healthz -H 'X-Request-Id: bad id;' >/dev/null
grep -Eqi '^x-request-id: [0-9a-f]{32}' "$T/headers" ||
    fail "a bad X-Request-Id was not replaced: $(cat "$T/headers")"

# keep-alive: two requests on one connection
curl -sv -o /dev/null -o /dev/null "$SRV_URL/healthz" "$SRV_URL/readyz" \
    2>"$T/v" || fail "curl of two URLs failed"
grep -q 'Re-using existing connection' "$T/v" ||
    fail "the second request did not re-use the connection"

# HEAD: the GET's headers, its length, no body; the connection goes on
curl -sv -I "$SRV_URL/v1/openapi.yaml" -o /dev/null "$SRV_URL/healthz" \
    >"$T/head" 2>&1 || fail "curl HEAD then GET failed"
n=$(wc -c <"$LEURA_SRC/docs/api/openapi.yaml")
grep -qi "content-length: $n" "$T/head" ||
    fail "HEAD /v1/openapi.yaml: no Content-Length $n"
grep -q 'Re-using existing connection' "$T/head" ||
    fail "no keep-alive after HEAD"

# no route without authentication: 401 in the error shape, and its
# audit event in etcd
error_is 401 unauthorized "$(srv_curl GET /metrics -H 'X-Request-Id: audit-401')"
if command -v etcdctl >/dev/null; then
	ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get --prefix \
	    /leura/events/ --print-value-only >"$T/events"
	grep -q '"request_id":"audit-401"' "$T/events" ||
	    fail "no audit event of the 401: $(cat "$T/events")"
	grep '"request_id":"audit-401"' "$T/events" |
	    grep -q '"outcome":"denied"' || fail "the 401 event is not denied"
fi

# every route of the API document needs a token, but the anonymous ones
# it marks (security: [] or {}), which are exactly these
awk '
/^  \/[^:]*:$/ { path = substr($1, 1, length($1) - 1); next }
/^    (get|post|put|patch|delete):/ {
	if (m != "") print m, p, anon
	m = toupper(substr($1, 1, length($1) - 1)); p = path; anon = 0; next
}
/^      security: .*(\[\]|\{\})/ { anon = 1 }
/^[a-z]/ { if (m != "") print m, p, anon; m = "" }
END { if (m != "") print m, p, anon }
' "$LEURA_SRC/docs/api/openapi.yaml" >"$T/routes"
[ "$(wc -l <"$T/routes")" -ge 5 ] || fail "no routes read from openapi.yaml"
awk '$3 == 1 { print $1, $2 }' "$T/routes" | sort >"$T/anon"
printf '%s\n' "GET /healthz" "GET /readyz" "GET /v1/openapi.yaml" \
    "POST /v1/login" "POST /v1/sources/refresh" | sort >"$T/anon.want"
awk '{ print $1, $2 }' "$T/routes" | sort | comm -12 - "$T/anon.want" \
    >"$T/anon.listed"
cmp -s "$T/anon" "$T/anon.listed" ||
    fail "anonymous routes beyond the allowed ones: $(comm -23 "$T/anon" \
    "$T/anon.want" | tr '\n' ' ')"
while read -r m p anon; do
	[ "$anon" = 0 ] || continue
	path=$(printf '%s' "$p" | sed 's/{[^}]*}/x/g')
	for tok in "" "not-a-token"; do
		code=$(SRV_TOKEN=$tok srv_curl "$m" "$path" \
		    -H 'Content-Type: application/json' -d '{}')
		if [ "$code" != 401 ] ||
		    [ "$(json_get "$T/body" error.code)" != unauthorized ]; then
			fail "$m $path with token '$tok': $code $(cat "$T/body")"
		fi
	done
done <"$T/routes"

# SIGTERM while a request runs (etcd hangs): it is answered, then
# leurad exits 0
etcd_pause
curl -s -m 20 -o "$T/inflight" -w '%{http_code}' "$SRV_URL/readyz" \
    >"$T/inflight.code" &
inflight=$!
# in flight: read by leurad and not yet answered (a connection merely
# established may not have sent its request yet, and an idle connection
# is closed at SIGTERM); /metrics counts itself too, hence 2
in_flight() {
	SRV_TOKEN=$admin srv_curl GET /metrics >/dev/null
	[ "$(sed -n 's/^leurad_http_requests_in_flight //p' "$T/body")" \
	    -ge 2 ] 2>/dev/null
}
i=0
until in_flight; do
	[ $i -lt 400 ] || fail "the request to /readyz is not in flight"
	sleep 0.05
	i=$((i + 1))
done
kill -TERM "$SRV_PID"
sleep 0.5
etcd_resume
wait "$inflight" || :
code=$(cat "$T/inflight.code")
case $code in
200|503) ;;
*) fail "the request in flight at SIGTERM got '$code', not an answer" ;;
esac
srv_stop a
expect "exit status after SIGTERM" 0 "$SRV_STATUS"

# /metrics with --metrics-anonymous; counts what it served
srv_start m --metrics-anonymous
srv_curl GET /healthz >/dev/null
expect "metrics" 200 "$(srv_curl GET /metrics)"
grep -q '^leurad_http_requests_total{route="/healthz",method="GET",status="200"} 1$' \
    "$T/body" || fail "no request count in /metrics"
grep -q '^leurad_http_request_duration_seconds_count{route="/healthz"} 1$' \
    "$T/body" || fail "no duration histogram in /metrics"
grep -q '^leurad_audit_failures_total 0$' "$T/body" ||
    fail "no audit failure count in /metrics"
grep -q '^process_start_time_seconds ' "$T/body" ||
    fail "no start time in /metrics"
grep -q '^leurad_http_connections 1$' "$T/body" ||
    fail "no connection gauge in /metrics"
grep -q '^leurad_http_requests_in_flight 1$' "$T/body" ||
    fail "no in-flight gauge in /metrics (the scrape itself is one)"
# an audit event etcd does not take: the answer still goes, the failure
# is logged and counted
# (meanwhile a client gives up on a request that runs: its answer has
# nowhere to go, and leurad goes on)
etcd_pause
# stopped for sure (state T) before leurad is asked anything
i=0
until [ "$(awk '{print $3}' "/proc/$ETCD_PID/stat" 2>/dev/null)" = T ] ||
    [ $i -ge 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
if code=$(curl -s -m 1 -o /dev/null -w '%{http_code} in %{time_total}s' \
    "$SRV_URL/readyz"); then
	fail "readyz answered while etcd hangs: $code (etcd $ETCD_PID: \
$(awk '{print $3}' "/proc/$ETCD_PID/stat" 2>/dev/null))"
fi
expect "401 while etcd hangs" 401 "$(srv_curl GET /v1/whoami \
    -H 'X-Request-Id: lost-event')"
# and with every worker waiting for etcd, /healthz still answers
port=${SRV_URL##*:}
busy=
for i in $(seq 20); do
	curl -s -m 15 -o /dev/null "$SRV_URL/readyz" &
	busy="$busy $!"
done
i=0
while [ "$(ss -Htn state established "( sport = :$port )" | wc -l)" -lt 20 ] &&
    [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$SRV_URL/healthz" || :)
expect "healthz while the workers wait for etcd" 200 "$code"
etcd_resume
for p in $busy; do
	wait "$p" || :
done
expect "healthz after a client left" 200 "$(srv_curl GET /healthz)"
srv_curl GET /metrics >/dev/null
grep -q '^leurad_audit_failures_total 1$' "$T/body" ||
    fail "the lost audit event was not counted: $(grep audit "$T/body")"
grep -q 'cannot write the audit event of GET /v1/whoami (request lost-event)' \
    "$SRV_LOG" || fail "the lost audit event was not logged"

# a slow client (half a body) is closed after --request-timeout
srv_start slow --request-timeout 2s --max-connections 2
t0=$(date +%s)
curl -s -m 20 -o /dev/null -X POST -H 'Content-Length: 100' \
    --data-binary 'abc' "$SRV_URL/healthz" && fail "a slow client got an answer"
t1=$(date +%s)
[ $((t1 - t0)) -le 5 ] || fail "a slow client was closed after $((t1 - t0)) s"

# and so is one that sends its head a line at a time (slowloris)
port=${SRV_URL##*:}
python3 - "$port" <<'EOF' || fail "a slow head was not closed in time"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t = time.time()
try:
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    for i in range(40):
        s.sendall(b"X-A: b\r\n")
        time.sleep(0.25)
    sys.exit(1)
except OSError:
    sys.exit(0 if time.time() - t < 5 else 1)
EOF

# the connection limit: 2 held open, the third is refused; then served
for i in 1 2; do
	curl -s -m 20 -o /dev/null -X POST -H 'Content-Length: 100' \
	    --data-binary 'abc' "$SRV_URL/healthz" &
	held="${held:-} $!"
done
i=0
while [ "$(ss -Htn state established "( sport = :$port )" | wc -l)" -lt 2 ] &&
    [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
code=$(srv_curl GET /healthz)
[ "$code" != 200 ] || fail "a third connection over --max-connections 2 was served"
for p in $held; do
	wait "$p" || :
done
expect "served after the limit" 200 "$(srv_curl GET /healthz)"

# TLS: curl with the server's certificate; client certificates with
# --tls-ca
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/ckey.pem" -out "$T/ccert.pem" -days 1 -subj /CN=client \
    2>/dev/null
srv_start tls --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
expect "healthz over TLS" 200 "$(srv_curl GET /healthz)"
case $SRV_URL in https://*) ;; *) fail "TLS server not on https" ;; esac
plain=http://${SRV_URL#https://}
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$plain/healthz" || :)
[ "$code" != 200 ] || fail "plain HTTP answered on the TLS port"
SRV_PROBE_OPTS="--cert $T/ccert.pem --key $T/ckey.pem" srv_start mtls \
    --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --tls-ca "$T/ccert.pem"
expect "healthz with a client certificate" 200 "$(srv_curl GET /healthz \
    --cert "$T/ccert.pem" --key "$T/ckey.pem")"
code=$(srv_curl GET /healthz)
[ "$code" != 200 ] || fail "served a client without a certificate"

# secure by default: no clear text off loopback
run 64 "$LEURAD" --etcd "$ETCD_ENDPOINT" --listen 0.0.0.0:7480
grep -q 'refusing to listen' "$T/err" || fail "no refusal: $(cat "$T/err")"
run 64 "$LEURAD" --listen 127.0.0.1:7480 --tls-cert "$T/cert.pem"
run 64 "$LEURAD" --listen nope

exit $((nfail > 0))
