# Task runs across faults of leurad and etcd (docs/runs.md, "Faults"),
# the agent's side played by runs_agent.py: two leurad replicas, the
# leader killed with -9 mid-run: the other carries the run on from etcd
# and it completes once (every step dispatched once, every result written
# once); etcd stopped (SIGSTOP) for longer than the leader's lease during
# a run, then resumed: the run completes, once too.
. "$LEURA_SRC/tests/server/lib.sh"
. "$LEURA_SRC/tests/server/runs_lib.sh"

runs_repo
cat >"$T/repo/tasks/long.yml" <<'EOF'
description: Five hosts, one at a time, three steps each
targets: {hosts: [web1, web2, web3, db1, db2]}
parallel: 1
steps:
  - name: a
    script: echo a
  - name: b
    script: echo b
  - name: c
    script: echo c
EOF
commit_all "a long task"
srv_start a --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY" \
    --leader-ttl 2
ADMIN_PW=$SRV_ADMIN_PASSWORD
srv_start b --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY" \
    --leader-ttl 2
srv_use a
ADM=$(runs_login admin "$ADMIN_PW")
[ -n "$ADM" ] || fail "admin cannot log in"
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/apply -d '{}')
[ "$code" = 200 ] || fail "apply: $code $(cat "$T/body")"

# leader: the name (a or b) of the replica that leads now (10 s at most)
leader() {
	l_i=0
	while [ $l_i -lt 100 ]; do
		for n in a b; do
			srv_use "$n"
			if [ "$(SRV_TOKEN=$ADM srv_curl GET /v1/leader)" = 200 ] &&
			    grep -q '"is_leader":true' "$T/body"; then
				echo "$n"
				return 0
			fi
		done
		l_i=$((l_i + 1))
		sleep 0.1
	done
	echo none
}

# once RUN: every step of RUN was dispatched once and has one result,
# written once (its key's version is 1)
once() {
	for h in web1 web2 web3 db1 db2; do
		for s in 0 1 2; do
			n=$(grep -c "^dispatch $1 $h $s\$" "$T/fake.log" || :)
			[ "$n" = 1 ] || fail "$1: step $s of $h dispatched $n times"
			k=$(printf '/leura/runs/results/%s/%s/%04d' "$1" "$h" "$s" |
			    base64 -w0)
			v=$(curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" \
			    -d "{\"key\":\"$k\"}" |
			    sed -n 's/.*"version":"\([0-9]*\)".*/\1/p')
			[ "$v" = 1 ] || fail "$1: the result of $h step $s has version '$v'"
		done
	done
}

agent_fake 240 web1 web2 web3 db1 db2 --slow b

# ---- the leader killed with -9 mid-run ----
L=$(leader)
[ "$L" != none ] || fail "no leader"
F=b
[ "$L" = a ] || F=a
srv_use "$F"		# ask the follower: it outlives the leader
runs_start "$ADM" long '{}'
[ "$code" = 201 ] || fail "long: $code $(cat "$T/body")"
R1=$RUN
runs_wait "$R1" 'r["progress"]["web2"][0]["state"]=="done"' 20
kill -KILL "$(_srv_var "$L" PID)"
runs_wait "$R1" 'r["state"]=="finalised"' 60
[ "$(runs_field "$R1" outcome)" = succeeded ] || fail "long: $(cat "$T/body")"
[ "$(leader)" = "$F" ] || fail "the follower did not take over"
grep -q 'carrying on 1 unfinished run' "$(_srv_var "$F" LOG)" ||
    fail "the new leader did not say it carried the run on"
once "$R1"

# ---- etcd stopped mid-run, longer than the leader's lease ----
runs_start "$ADM" long '{"force":true}'
[ "$code" = 201 ] || fail "long again: $code $(cat "$T/body")"
R2=$RUN
runs_wait "$R2" 'r["progress"]["web2"][0]["state"]=="done"' 20
etcd_pause
sleep 3
etcd_resume
runs_wait "$R2" 'r["state"]=="finalised"' 60
[ "$(runs_field "$R2" outcome)" = succeeded ] || fail "long: $(cat "$T/body")"
once "$R2"

agent_fake_stop
done_testing
