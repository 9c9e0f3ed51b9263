#!/bin/sh
# Two leurad replicas started at once on an empty etcd, without
# --admin-password-file: exactly one first admin (one user, one grant),
# its generated password printed once in all, usable on either replica;
# a user made, a token revoked and a grant given on one replica are seen
# by the other within a deadline (each replica's watch).
. "$LEURA_SRC/tests/server/lib.sh"

etcd_start
start_one() {
	s_dir=$T/r$1
	mkdir -p "$s_dir"
	s_port=$(_srv_port)
	"$LEURAD" --etcd "$ETCD_ENDPOINT" --listen "127.0.0.1:$s_port" \
	    --data-dir "$s_dir/data" </dev/null >>"$s_dir/log" 2>&1 &
	eval "PID$1=$!"
	SRV_PIDS="$SRV_PIDS $!"
	eval "URL$1=http://127.0.0.1:$s_port"
}
start_one 1
start_one 2
# both ready, with a deadline; one whose port was taken meanwhile is
# started again on another (the race for the first admin is over by then)
for r in 1 2; do
	i=0
	tries=0
	until curl -s -m 1 -f "$(eval "echo \$URL$r")/readyz" |
	    grep -q ":$(eval "echo \$PID$r"):"; do
		i=$((i + 1))
		if grep -q 'ERROR on binding\|cannot listen' "$T/r$r/log" &&
		    [ $tries -lt 5 ]; then
			# (it may have exited already: 'cannot listen')
			kill -KILL "$(eval "echo \$PID$r")" 2>/dev/null || :
			sed -i 's/ERROR on binding\|cannot listen/(port taken)/' "$T/r$r/log"
			start_one $r
			tries=$((tries + 1))
			i=0
		fi
		if [ $i -ge 200 ]; then
			cat "$T"/r*/log >&2
			echo "a replica did not become ready" >&2
			exit 1
		fi
		sleep 0.05
	done
done

n=$(grep -c 'password (shown once)' "$T/r1/log" "$T/r2/log" |
    awk -F: '{ s += $2 } END { print s }')
[ "$n" = 1 ] || fail "the first admin's password was printed $n times"
PW=$(sed -n "s/.*password (shown once): //p" "$T"/r*/log | head -n 1)
[ -n "$PW" ] || fail "no generated password"
etcdctl --endpoints "$ETCD_ENDPOINT" get --prefix --keys-only \
    /leura/auth/ | grep -v '^$' >"$T/authkeys"
expect_in "$T/authkeys" /leura/auth/users/admin
[ "$(grep -c /leura/auth/users/ "$T/authkeys")" = 1 ] || fail "not one user"
[ "$(grep -c /leura/auth/grants/ "$T/authkeys")" = 1 ] || fail "not one grant"

# login on replica 2 with what replica 1 or 2 printed
SRV_URL=$URL2
code=$(srv_curl POST /v1/login -d "{\"user\":\"admin\",\"password\":\"$PW\"}")
[ "$code" = 200 ] || fail "admin login on replica 2: $code"
ADM=$(json_get "$T/body" token)

# made on replica 1, seen on replica 2
SRV_URL=$URL1
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/users \
    -d '{"name":"bob","password":"bob-password-1"}')
[ "$code" = 201 ] || fail "create bob on replica 1: $code"
code=$(srv_curl POST /v1/login -d '{"user":"bob","password":"bob-password-1"}')
[ "$code" = 200 ] || fail "bob's login on replica 1: $code"
BOB=$(json_get "$T/body" token)
SRV_URL=$URL2
i=0
until [ "$(SRV_TOKEN=$BOB srv_curl GET /v1/whoami)" = 200 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { fail "replica 2 never saw bob's session"; break; }
	sleep 0.05
done
# revoked on replica 1: 401 there at once, on replica 2 within 5 s
SRV_URL=$URL1
code=$(SRV_TOKEN=$BOB srv_curl POST /v1/logout)
[ "$code" = 204 ] || fail "logout on replica 1: $code"
code=$(SRV_TOKEN=$BOB srv_curl GET /v1/whoami)
[ "$code" = 401 ] || fail "replica 1 still takes a revoked token: $code"
SRV_URL=$URL2
i=0
until [ "$(SRV_TOKEN=$BOB srv_curl GET /v1/whoami)" = 401 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { fail "replica 2 still takes a revoked token"; break; }
	sleep 0.05
done
grep -qF "$PW" "$T/body" && fail "an answer shows the admin's password"
done_testing
