#!/bin/sh
# Identity and authorization through a real leurad (docs/auth.md): the
# first admin from a file, login, users, a 403 that names the missing
# grant, grants, explain, groups, API tokens (scopes, revocation, expiry),
# disabled users, ETag/If-Match, the login back-off; and no password,
# token or hash in any answer but the one that issues it, in leurad's log
# or in the audit events.
. "$LEURA_SRC/tests/server/lib.sh"

: >"$T/all"
# want CODE METHOD PATH [curl args]: the answer is kept for the final grep
want() {
	w_code=$1
	shift
	w_got=$(srv_curl "$@")
	cat "$T/headers" "$T/body" >>"$T/all"
	if [ "$w_got" != "$w_code" ]; then
		fail "$1 $2: status $w_got, expected $w_code"
		sed 's/^/  | /' "$T/body" >&2
	fi
}
# want_secret: the same for the answers that show a secret once
want_secret() {
	w_code=$1
	shift
	w_got=$(srv_curl "$@")
	if [ "$w_got" != "$w_code" ]; then
		fail "$1 $2: status $w_got, expected $w_code"
		sed 's/^/  | /' "$T/body" >&2
	fi
}
body_has() {
	expect_in "$T/body" "$1"
}
field() {
	json_get "$T/body" "$1"
}
# login USER PASSWORD: the session token on stdout
login() {
	SRV_TOKEN= want_secret 200 POST /v1/login \
	    -d "{\"user\":\"$1\",\"password\":\"$2\"}" >/dev/null
	field token
}
rnd() {
	od -An -N12 -tx1 /dev/urandom | tr -d ' \n'
}

srv_start a
BOBPW=bob-$(rnd)
CAROLPW=carol-$(rnd)

# ---- the first admin, from --admin-password-file
ADM=$(login admin "$SRV_ADMIN_PASSWORD")
[ -n "$ADM" ] || fail "the admin cannot log in"
SRV_TOKEN=$ADM want 200 GET /v1/whoami
body_has '"user":"admin"'
body_has '"resource":"*"'
body_has '"kind":"session"'
expect_not_in "$SRV_LOG" "$SRV_ADMIN_PASSWORD"
expect_not_in "$SRV_LOG" "password (shown once)"

# wrong passwords and unknown users: the same answer
SRV_TOKEN= want 401 POST /v1/login -d '{"user":"admin","password":"nope-nope"}'
body_has 'wrong user or password'
SRV_TOKEN= want 401 POST /v1/login -d '{"user":"nobody","password":"nope-nope"}'
body_has 'wrong user or password'
SRV_TOKEN= want 400 POST /v1/login -d '{"user":"admin","pasword":"x"}'
body_has 'pasword'
SRV_TOKEN= want 401 GET /v1/whoami
body_has 'leura login'
SRV_TOKEN=garbage want 401 GET /v1/whoami
body_has 'leura login'

# ---- users
SRV_TOKEN=$ADM want 201 POST /v1/users -d "{\"name\":\"bob\",\"password\":\"$BOBPW\"}"
body_has '"created_by":"admin"'
SRV_TOKEN=$ADM want 409 POST /v1/users -d "{\"name\":\"bob\",\"password\":\"$BOBPW\"}"
SRV_TOKEN=$ADM want 400 POST /v1/users -d '{"name":"Bob","password":"long-enough"}'
body_has 'a-z'
SRV_TOKEN=$ADM want 400 POST /v1/users -d '{"name":"..","password":"long-enough"}'
SRV_TOKEN=$ADM want 400 POST /v1/users -d '{"name":"x","password":"short"}'
body_has 'password too short'
SRV_TOKEN=$ADM want 400 POST /v1/users -d '{"name":"x","password":"long-enough","admin":true}'
body_has 'admin'
SRV_TOKEN=$ADM want 400 POST /v1/users -d '{"name":"x","password":7}'
body_has 'string'
SRV_TOKEN=$ADM want 400 POST /v1/users -d '{"name":"x",'
SRV_TOKEN=$ADM want 400 POST /v1/users -d '["x"]'
SRV_TOKEN=$ADM want 400 POST /v1/grants -d '{"subject":"user:admin","verb":"read","resource":["*"]}'
body_has 'resource'
SRV_TOKEN=$ADM want 400 POST /v1/tokens -d '{"name":"x","scopes":"read"}'
body_has 'scopes'

BOB=$(login bob "$BOBPW")
[ -n "$BOB" ] || fail "bob cannot log in"
# pages: admin, then bob, then the end
SRV_TOKEN=$ADM want 200 GET '/v1/users?limit=1'
body_has '"items":[{"name":"admin"'
body_has '"next":"admin"'
SRV_TOKEN=$ADM want 200 GET '/v1/users?limit=1&after=admin'
body_has '"items":[{"name":"bob"'
SRV_TOKEN=$ADM want 200 GET '/v1/users?limit=1&after=bob'
body_has '"items":[],"next":null'
SRV_TOKEN=$ADM want 400 GET '/v1/users?limit=0'
# bob sees only himself, and is refused the admin with the grant named
SRV_TOKEN=$BOB want 200 GET /v1/users
body_has '"name":"bob"'
expect_not_in "$T/body" '"name":"admin"'
SRV_TOKEN=$BOB want 403 GET /v1/users/admin
body_has 'read on users/admin needs a grant'
body_has 'ask'
SRV_TOKEN=$BOB want 403 POST /v1/users -d '{"name":"eve","password":"long-enough"}'
body_has 'admin on users/eve needs a grant'
SRV_TOKEN=$BOB want 403 POST /v1/grants \
    -d '{"subject":"user:bob","verb":"admin","resource":"*"}'
body_has 'admin on * needs a grant'

# ---- grants and explain
SRV_TOKEN=$BOB want 200 GET '/v1/auth/explain?verb=read&resource=services/web'
body_has '"allowed":false'
body_has 'no grant gives read on services/web'
body_has 'ask'
SRV_TOKEN=$ADM want 201 POST /v1/grants \
    -d '{"subject":"user:bob","verb":"read","resource":"services/web"}'
GID=$(field id)
SRV_TOKEN=$ADM want 400 POST /v1/grants \
    -d '{"subject":"user:bob","verb":"read","resource":"services/../users"}'
body_has "'..'"
SRV_TOKEN=$ADM want 400 POST /v1/grants \
    -d '{"subject":"user:bob","verb":"reed","resource":"services/web"}'
body_has 'unknown verb'
SRV_TOKEN=$ADM want 400 POST /v1/grants \
    -d '{"subject":"user:ghost","verb":"read","resource":"services/web"}'
body_has 'does not exist'
SRV_TOKEN=$BOB want 200 GET '/v1/auth/explain?verb=read&resource=services/web'
body_has '"allowed":true'
body_has "grant $GID (user:bob read services/web)"
SRV_TOKEN=$ADM want 200 GET "/v1/auth/explain?verb=apply&resource=services/web&user=bob"
body_has '"allowed":false'
body_has "nearest grants are $GID"
body_has "\"id\":\"$GID\""
SRV_TOKEN=$BOB want 403 GET "/v1/auth/explain?verb=read&resource=fleet&user=admin"
body_has 'admin on users/admin needs a grant'
SRV_TOKEN=$BOB want 200 GET /v1/grants
body_has "\"id\":\"$GID\""
SRV_TOKEN=$BOB want 403 DELETE "/v1/grants/$GID"

# path tricks: refused, never matched, never a 500
SRV_TOKEN=$ADM want 400 GET /v1/users/Bob
body_has 'a-z'
# (as bob, who reads only himself: whatever the path resolves to, he gets
# no other user; 000: the HTTP layer dropped the request)
for pth in '/v1/users/a%00b' '/v1/users/bob%2f..%2fadmin' \
    '/v1/users/..%2fusers%2fadmin' '/v1/users/%2e%2e' '/v1/users/bob%2fx' \
    '/v1/grants/..%2fusers%2fadmin' "/v1/users/$(printf 'a%.0s' $(seq 1 300))"; do
	code=$(SRV_TOKEN=$BOB srv_curl GET "$pth")
	case $code in
	000|400|403|404) ;;
	*) fail "GET $pth as bob: $code, expected a refusal" ;;
	esac
done
[ "$(srv_curl GET /healthz)" = 200 ] || fail "leurad died of a path trick"
SRV_TOKEN=$ADM want 200 GET '/v1/auth/explain?verb=read&resource=services/..%2fusers'
body_has '"allowed":false'
body_has "'..'"
SRV_TOKEN=$ADM want 200 GET "/v1/auth/explain?verb=read&resource=services/$(printf 'a%.0s' $(seq 1 300))"
body_has '"allowed":false'
body_has 'longer than 255'

# ---- groups
SRV_TOKEN=$ADM want 201 POST /v1/groups -d '{"name":"ops","members":[]}'
SRV_TOKEN=$ADM want 200 PUT /v1/groups/ops/members/bob
body_has '"members":["bob"]'
SRV_TOKEN=$ADM want 404 PUT /v1/groups/ops/members/ghost
SRV_TOKEN=$ADM want 201 POST /v1/grants \
    -d '{"subject":"group:ops","verb":"apply","resource":"services/*"}'
OPSG=$(field id)
SRV_TOKEN=$BOB want 200 GET '/v1/auth/explain?verb=apply&resource=services/api'
body_has '"allowed":true'
body_has "grant $OPSG (group:ops apply services/*) via group ops"
SRV_TOKEN=$BOB want 200 GET '/v1/auth/explain?verb=apply&resource=services/api/x'
body_has '"allowed":false'
SRV_TOKEN=$BOB want 200 GET /v1/groups/ops
SRV_TOKEN=$BOB want 403 DELETE /v1/groups/ops
SRV_TOKEN=$ADM want 200 DELETE /v1/groups/ops/members/bob
SRV_TOKEN=$BOB want 200 GET '/v1/auth/explain?verb=apply&resource=services/api'
body_has '"allowed":false'

# ---- API tokens: scoped, listed without secrets, revoked at once
SRV_TOKEN=$BOB want_secret 201 POST /v1/tokens \
    -d '{"name":"ci","scopes":["read"],"expires_in":3600}'
TOK=$(field token)
TID=$(field id)
case $TOK in leura_*) ;; *) fail "token '$TOK' lacks its prefix" ;; esac
SRV_TOKEN=$BOB want 200 GET /v1/tokens
body_has "\"id\":\"$TID\""
SRV_TOKEN=$BOB want 400 POST /v1/tokens -d '{"name":"x","expires_in":"forever"}'
body_has 'expires_in'
SRV_TOKEN=$BOB want_secret 201 POST /v1/tokens -d '{"name":"d","expires_in":"90d"}'
SRV_TOKEN=$TOK want 200 GET /v1/whoami
body_has '"scopes":["read"]'
body_has '"kind":"api"'
SRV_TOKEN=$TOK want 403 POST /v1/tokens -d '{"name":"more","scopes":["apply"]}'
body_has 'scopes'
# an API token cannot stretch itself: one made by it ends when it ends
SRV_TOKEN=$TOK want 403 POST /v1/tokens -d '{"name":"long","expires_in":"90d"}'
body_has 'cannot outlive'
body_has 'leura login'
SRV_TOKEN=$TOK want_secret 201 POST /v1/tokens -d '{"name":"shorter","expires_in":600}'
# scopes are ordered: an admin-scoped token may make a read-scoped one
SRV_TOKEN=$BOB want_secret 201 POST /v1/tokens \
    -d '{"name":"adm","scopes":["admin"],"expires_in":3600}'
ATOK=$(field token)
SRV_TOKEN=$ATOK want_secret 201 POST /v1/tokens \
    -d '{"name":"rd","scopes":["read"],"expires_in":600}'
SRV_TOKEN=$ADM want 200 GET '/v1/tokens?user=bob'
body_has "\"id\":\"$TID\""
SRV_TOKEN=$BOB want 403 GET '/v1/tokens?user=admin'
SRV_TOKEN=$BOB want 204 DELETE "/v1/tokens/$TID"
SRV_TOKEN=$TOK want 401 GET /v1/whoami
body_has 'leura login'

# an expired token: 401, polled with a deadline
SRV_TOKEN=$BOB want_secret 201 POST /v1/tokens \
    -d '{"name":"short","expires_in":1}'
ETOK=$(field token)
i=0
while [ "$(SRV_TOKEN=$ETOK srv_curl GET /v1/whoami)" = 200 ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
SRV_TOKEN=$ETOK want 401 GET /v1/whoami
body_has 'expired'
body_has 'leura login'

# ---- a disabled user: no login, no token; ETag/If-Match
SRV_TOKEN=$ADM want 201 POST /v1/users -d "{\"name\":\"carol\",\"password\":\"$CAROLPW\"}"
CAROL=$(login carol "$CAROLPW")
SRV_TOKEN=$ADM want 200 GET /v1/users/carol
ETAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$T/headers" | tr -d '\r')
[ -n "$ETAG" ] || fail "GET /v1/users/carol: no ETag"
SRV_TOKEN=$ADM want 200 PATCH /v1/users/carol -H "If-Match: $ETAG" \
    -d '{"disabled":true}'
body_has '"disabled":true'
SRV_TOKEN=$ADM want 412 PATCH /v1/users/carol -H "If-Match: $ETAG" \
    -d '{"disabled":false}'
SRV_TOKEN= want 401 POST /v1/login \
    -d "{\"user\":\"carol\",\"password\":\"$CAROLPW\"}"
body_has 'disabled'
SRV_TOKEN=$CAROL want 401 GET /v1/whoami
body_has 'disabled'
SRV_TOKEN=$ADM want 400 PATCH /v1/users/admin -d '{"disabled":true}'

# bob changes his own password; his other sessions end
BOB2=$(login bob "$BOBPW")
BOBPW2=bob2-$(rnd)
SRV_TOKEN=$BOB want 200 PATCH /v1/users/bob -d "{\"password\":\"$BOBPW2\"}"
SRV_TOKEN=$BOB2 want 401 GET /v1/whoami
SRV_TOKEN=$BOB want 200 GET /v1/whoami
SRV_TOKEN=$BOB want 403 PATCH /v1/users/bob -d '{"disabled":false}'

# logout ends the session
SRV_TOKEN=$BOB want 204 POST /v1/logout
SRV_TOKEN=$BOB want 401 GET /v1/whoami

# deleting a user takes their grants: a new bob starts with nothing
SRV_TOKEN=$ADM want 204 DELETE /v1/users/bob
SRV_TOKEN=$ADM want 201 POST /v1/users -d "{\"name\":\"bob\",\"password\":\"$BOBPW\"}"
BOB=$(login bob "$BOBPW")
SRV_TOKEN=$BOB want 200 GET '/v1/auth/explain?verb=read&resource=services/web'
body_has '"allowed":false'

# ---- login latency, and failures that cost the same for unknown users
lat=$(curl -s -o /dev/null -w '%{time_total}' -X POST \
    -d "{\"user\":\"bob\",\"password\":\"$BOBPW\"}" "$SRV_URL/v1/login")
unk=$(curl -s -o /dev/null -w '%{time_total}' -X POST \
    -d '{"user":"zed","password":"not-it-at-all"}' "$SRV_URL/v1/login")
bad=$(curl -s -o /dev/null -w '%{time_total}' -X POST \
    -d '{"user":"carol","password":"not-it-at-all"}' "$SRV_URL/v1/login")
echo "login: ok ${lat}s, unknown user ${unk}s, wrong password ${bad}s"
# (without the dummy hash an unknown user would answer 100 times faster)
python3 -c "import sys; u=float(sys.argv[1]); b=float(sys.argv[2]);
sys.exit(0 if u > b / 10 else 1)" "$unk" "$bad" ||
    fail "an unknown user's login took ${unk}s against ${bad}s"

# ---- back-off: after 5 failures in a row for a user, 429 (the window
# is 1 s, then 2, 4...: a loaded machine may let one more try through)
i=0
while [ $i -lt 4 ]; do
	SRV_TOKEN= want 401 POST /v1/login \
	    -d '{"user":"zed","password":"not-it-at-all"}'
	i=$((i + 1))
done
i=0
while code=$(srv_curl POST /v1/login -d '{"user":"zed","password":"x-x-x"}') &&
    [ "$code" = 401 ] && [ $i -lt 3 ]; do
	i=$((i + 1))
done
cat "$T/headers" "$T/body" >>"$T/all"
[ "$code" = 429 ] || fail "no 429 after $((5 + i)) failed logins: $code"
body_has 'try again in'
grep -qi '^retry-after: [0-9]' "$T/headers" || fail "429 without Retry-After"
# another user from the same address is not blocked yet
SRV_TOKEN= want_secret 200 POST /v1/login -d "{\"user\":\"admin\",\"password\":\"$SRV_ADMIN_PASSWORD\"}"

# ---- no secret anywhere: answers, leurad's log, audit events
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get --prefix \
    /leura/events/ >"$T/events"
[ -s "$T/events" ] || fail "no audit events"
expect_in "$T/events" 'users/bob'
for f in "$T/all" "$SRV_LOG" "$T/events"; do
	for s in "$SRV_ADMIN_PASSWORD" "$BOBPW" "$BOBPW2" "$CAROLPW" "$TOK" \
	    "$ETOK" "$ADM" "$BOB" "$CAROL" "argon2id" "leura_"; do
		[ -n "$s" ] || continue
		if grep -qF -- "$s" "$f"; then
			fail "$(basename "$f") shows a secret (${s%"${s#??????}"}...)"
		fi
	done
done
# nor a token's hash (the key of P/auth/tokens/)
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get --prefix --keys-only \
    /leura/auth/tokens/ | sed -n 's|.*/tokens/||p' >"$T/hashes"
while read -r h; do
	[ -n "$h" ] || continue
	for f in "$T/all" "$SRV_LOG" "$T/events"; do
		if grep -qF -- "$h" "$f"; then
			fail "$(basename "$f") shows a token hash"
		fi
	done
done <"$T/hashes"
# nor when a P/auth/tokens/ value is not JSON (leurad warns of the key)
bad=$(printf 'x' | sha256sum | cut -c1-64)
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put \
    "/leura/auth/tokens/$bad" 'not json' >/dev/null
i=0
while ! grep -q 'not JSON' "$SRV_LOG" && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
expect_in "$SRV_LOG" 'tokens/...: not JSON; ignored'
expect_not_in "$SRV_LOG" "$bad"

done_testing
