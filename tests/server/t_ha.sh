# Three leurad replicas on one etcd (docs/server.md, "Git source,
# webhooks, auto-apply, HA"): one leads; an apply answered 200 by the
# leader survives its kill -9; another replica leads within the lease
# TTL (waited for on etcd's watch of P/leader, with a deadline); a push
# sent while no replica leads is queued and applied by the new leader; a
# push sent to a follower after the failover is applied exactly once
# (deploy records counted), and sent again to another replica applies
# nothing more.
. "$LEURA_SRC/tests/server/lib.sh"

TTL=3
SECRET=ha-webhook-secret
printf '%s\n' "$SECRET" >"$T/secret"
new_repo
printf 'auto_apply: main\n' >>"$T/repo/leura.yml"
commit_all "auto_apply: main"

for r in a b c; do
	srv_start $r --source "$T/repo" --webhook-secret-file "$T/secret" \
	    --signing-key "$LEURA_SIGNING_KEY" --leader-ttl $TTL
	[ $r != a ] || ADMIN_PW=$SRV_ADMIN_PASSWORD
done

b64() { printf '%s' "$1" | base64 -w0; }

# leader_value: P/leader's value (JSON), "" when none
leader_value() {
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" \
	    -d "{\"key\":\"$(b64 /leura/leader)\"}" |
	    sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d
}

deploys() {
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\"$(b64 \
	    /leura/source/deploys/)\",\"range_end\":\"$(b64 \
	    /leura/source/deploys0)\",\"count_only\":true}" |
	    sed -n 's/.*"count":"\([0-9]*\)".*/\1/p' | grep . || echo 0
}

srv_use a
code=$(srv_curl POST /v1/login -d "{\"user\":\"admin\",\"password\":\"$ADMIN_PW\"}")
[ "$code" = 200 ] || fail "login: $code $(cat "$T/body")"
SRV_TOKEN=$(sed 's/.*"token":"\([^"]*\)".*/\1/' "$T/body")

# The leader: a campaign is one transaction after start, so wait for the
# key itself on a watch (deadline 2 TTLs) when it is not there yet.
if [ -z "$(leader_value)" ]; then
	curl -sN -m $((2 * TTL)) -X POST "$ETCD_ENDPOINT/v3/watch" \
	    -d "{\"create_request\":{\"key\":\"$(b64 /leura/leader)\"}}" |
	    grep -m1 -q '"value"' || :
fi
lid=$(leader_value | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
[ -n "$lid" ] || fail "no leader after $((2 * TTL)) s"
L=
for r in a b c; do
	srv_use $r
	srv_curl GET /v1/leader >/dev/null
	if grep -q '"is_leader":true' "$T/body"; then
		[ -z "$L" ] || fail "two replicas say they lead: $L and $r"
		L=$r
		expect_in "$T/body" "\"leader\":\"$lid\""
	fi
done
[ -n "$L" ] || fail "no replica says it leads ($lid does in etcd)"
srv_use "$L"
srv_curl GET /metrics >/dev/null
expect_in "$T/body" 'leurad_leader 1'

# an apply the leader answers 200, then the leader dies
srv_use "$L"
sed -i 's/workers: 4/workers: 5/' "$T/repo/services.yml"
commit_all "5 workers"
code=$(srv_curl POST /v1/apply -d '{}')
[ "$code" = 200 ] || fail "apply on the leader: $code $(cat "$T/body")"
expect_in "$T/body" '"deploy":1'
rev=$(curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" \
    -d "{\"key\":\"$(b64 /leura/leader)\"}" |
    sed 's/.*"revision":"\([0-9]*\)".*/\1/')
# watch P/leader from this revision on: the new leader's put is the event
mkfifo "$T/watch"
curl -sN -m $((TTL + 5)) -X POST "$ETCD_ENDPOINT/v3/watch" \
    -d "{\"create_request\":{\"key\":\"$(b64 /leura/leader)\",\"start_revision\":\"$((rev + 1))\"}}" \
    >"$T/watch" 2>/dev/null &
wpid=$!
exec 3<"$T/watch"
t0=$(date +%s%N)
kill -KILL "$SRV_PID"
wait "$SRV_PID" 2>/dev/null || :
# a push while no replica leads: queued, taken by the next leader
sed -i 's/workers: 5/workers: 6/' "$T/repo/services.yml"
commit_all "6 workers"
sha=$(git -C "$T/repo" rev-parse main)
body="{\"ref\":\"refs/heads/main\",\"after\":\"$sha\",\"pusher\":{\"name\":\"dora\"}}"
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/.* //')
for r in a b c; do
	[ "$r" = "$L" ] || break
done
curl -s -m 30 -o "$T/body-gap" -w '%{http_code}' -X POST \
    -H "X-Hub-Signature-256: sha256=$sig" --data-binary "$body" \
    "$(_srv_var "$r" URL)/v1/sources/refresh" >"$T/code-gap" &
gap=$!
new=
t1=
while IFS= read -r line <&3; do
	v=$(printf '%s' "$line" | sed -n 's/.*"value":"\([^"]*\)".*/\1/p')
	[ -n "$v" ] || continue
	t1=$(date +%s%N)
	new=$(printf '%s' "$v" | base64 -d | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
	break
done
kill "$wpid" 2>/dev/null || :
wait "$wpid" 2>/dev/null || :
exec 3<&-
[ -n "$new" ] || fail "no new leader within $((TTL + 5)) s of the kill"
[ "$new" != "$lid" ] || fail "the dead replica leads again"
if [ -n "$t1" ]; then
	ms=$(( (t1 - t0) / 1000000 ))
	echo "failover: $ms ms from kill -9 to the new leader (TTL $TTL s)"
	# the lease ends at most TTL after the last keep-alive, and etcd
	# checks expiries every 500 ms
	[ "$ms" -le $((TTL * 1000 + 600)) ] ||
	    fail "failover took $ms ms, TTL is $TTL s"
fi

# the survivors: F the one that leads now, O the other
F=
O=
for r in a b c; do
	[ "$r" != "$L" ] || continue
	srv_use $r
	srv_curl GET /v1/leader >/dev/null
	if grep -q '"is_leader":true' "$T/body"; then F=$r; else O=$r; fi
	expect_in "$T/body" "\"leader\":\"$new\""
done
[ -n "$F" ] && [ -n "$O" ] || fail "survivors: leader '$F', follower '$O'"

# the apply answered 200 before the kill is in etcd, and the push sent
# in the gap was applied by the new leader
wait "$gap" || :
[ "$(cat "$T/code-gap")" = 200 ] ||
    fail "push in the gap: $(cat "$T/code-gap") $(cat "$T/body-gap")"
expect_in "$T/body-gap" '"status":"applied"'
expect_in "$T/body-gap" '"deploy":2'
expect_in "$T/body-gap" "\"leader\":\"$new\""
[ "$(deploys)" = 2 ] || fail "deploys after the failover: $(deploys)"

# a push after the failover, sent to the follower: the leader applies it
sed -i 's/workers: 6/workers: 7/' "$T/repo/services.yml"
commit_all "7 workers"
sha=$(git -C "$T/repo" rev-parse main)
body="{\"ref\":\"refs/heads/main\",\"after\":\"$sha\",\"pusher\":{\"name\":\"erin\"}}"
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/.* //')
for r in "$O" "$F"; do
	srv_use "$r"
	code=$(SRV_TOKEN= srv_curl POST /v1/sources/refresh \
	    -H "X-Hub-Signature-256: sha256=$sig" -H "X-GitHub-Delivery: ha-1" \
	    --data-binary "$body")
	[ "$code" = 200 ] || fail "push to $r: $code $(cat "$T/body")"
	expect_in "$T/body" '"deploy":3'
	expect_in "$T/body" "\"leader\":\"$new\""
done
# the first applied, the second found nothing to do: once
[ "$(deploys)" = 3 ] || fail "the push was applied $(( $(deploys) - 2 )) times"
srv_use "$F"
code=$(srv_curl GET /v1/deploys/3)
[ "$code" != 200 ] || expect_in "$T/body" 'erin (webhook, via leurad)'

done_testing
