# Helpers of the task-run tests (tests/server/t_runs*.sh), sourced after
# tests/server/lib.sh: a config repo with tasks to run, deployed through
# a leurad, users to run and approve, the run API, and a stand-in agent
# (runs_agent.py) or real agents.
#
#   runs_repo                    $T/repo: examples/basic and the tasks below
#   runs_login NAME PASSWORD     the token on stdout
#   runs_user NAME [GROUP]       a user (password $RUNS_PW), in GROUP
#   runs_start TOKEN TASK BODY   POST /v1/tasks/TASK/runs: the status in
#                                $code, the body in $T/body, the id in $RUN
#   runs_wait RUN EXPR [SECS]    until the record (GET /v1/runs/RUN)
#                                matches the python EXPR on r (30 s)
#   runs_field RUN FIELD         a field of the record (json_get's form)
#   agent_fake SECS HOST... [--fail N] [--hold N] [--ignore N]: the stand-in, in the
#                                background ($FAKE_PID), logging to
#                                $T/fake.log
RUNS_PW=runs-password-1

runs_repo() {
	new_repo
	cat >"$T/repo/tasks/hello.yml" <<'EOF'
description: Say hello twice
targets: {hosts: [web1, web2]}
params:
  who: {type: string, required: true}
  count: {type: integer, default: 1}
steps:
  - name: one
    script: echo "hello {{ params.who }}"
  - name: two
    script: echo again
EOF
	cat >"$T/repo/tasks/lossy.yml" <<'EOF'
description: A step that may be lost, then one more
targets: {hosts: [db1]}
on_failure: continue
steps:
  - name: hang
    script: sleep 600
  - name: after
    script: echo after
EOF
	cat >"$T/repo/tasks/strict.yml" <<'EOF'
description: The first failure stops everything
targets: {hosts: [web1, web2, web3]}
parallel: 1
steps:
  - name: boom
    script: exit 1
  - name: never
    script: echo never
EOF
	cat >"$T/repo/tasks/gated.yml" <<'EOF'
description: Wait for a second pair of eyes
targets: {hosts: [db1, db2]}
steps:
  - name: before
    script: echo before
  - name: sign-off
    approval: {groups: [sre-leads], timeout: 1h}
  - name: after
    script: echo after
EOF
	cat >"$T/repo/tasks/stuck.yml" <<'EOF'
description: A step no agent takes
targets: {hosts: [web1]}
steps:
  - name: wait
    script: sleep 600
EOF
	cat >"$T/repo/tasks/hasty.yml" <<'EOF'
description: An approval nobody gives in time
targets: {hosts: [web3]}
steps:
  - name: sign-off
    approval: {groups: [sre-leads], timeout: 2s}
  - name: after
    script: echo after
EOF
	cat >"$T/repo/tasks/short.yml" <<'EOF'
description: A run that takes longer than its timeout
targets: {hosts: [web3]}
timeout: 2s
steps:
  - name: wait
    script: sleep 600
EOF
	commit_all "tasks for the run tests"
}

runs_login() {
	SRV_TOKEN= srv_curl POST /v1/login \
	    -d "{\"user\":\"$1\",\"password\":\"$2\"}" >/dev/null
	json_get "$T/body" token
}

_runs_api() {
	c=$(SRV_TOKEN=$ADM srv_curl "$@")
	case $c in
	2??) ;;
	*) fail "setup: $1 $2: $c $(cat "$T/body")" ;;
	esac
}

runs_user() {
	_runs_api POST /v1/users -d "{\"name\":\"$1\",\"password\":\"$RUNS_PW\"}"
	if [ -n "${2:-}" ]; then
		SRV_TOKEN=$ADM srv_curl POST /v1/groups -d "{\"name\":\"$2\"}" \
		    >/dev/null
		_runs_api PUT "/v1/groups/$2/members/$1"
	fi
}

runs_start() {
	code=$(SRV_TOKEN=$1 srv_curl POST "/v1/tasks/$2/runs" -d "$3")
	RUN=$(json_get "$T/body" id 2>/dev/null || :)
}

runs_field() {
	SRV_TOKEN=$ADM srv_curl GET "/v1/runs/$1" >/dev/null
	json_get "$T/body" "$2"
}

runs_wait() {
	w_i=0
	w_max=$(( ${3:-30} * 10 ))
	while :; do
		SRV_TOKEN=$ADM srv_curl GET "/v1/runs/$1" >/dev/null
		if python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/body" "$2" 2>/dev/null; then
			return 0
		fi
		w_i=$((w_i + 1))
		if [ $w_i -ge $w_max ]; then
			fail "run $1: '$2' never held; the record: $(cat "$T/body")"
			return 1
		fi
		sleep 0.1
	done
}

agent_fake() {
	secs=$1
	shift
	python3 "$LEURA_SRC/tests/server/runs_agent.py" "$ETCD_ENDPOINT" \
	    /leura "$secs" "$@" --log "$T/fake.log" 2>>"$T/fake.err" &
	FAKE_PID=$!
	SRV_PIDS="$SRV_PIDS $FAKE_PID"
}

agent_fake_stop() {
	kill "$FAKE_PID" 2>/dev/null || :
	wait "$FAKE_PID" 2>/dev/null || :
}

# etcd_count PREFIX: how many keys under it
etcd_count() {
	k=$(printf %s "$1" | base64 -w0)
	e=$(printf %s "$1" | python3 -c 'import sys
s=sys.stdin.read(); print(s[:-1]+chr(ord(s[-1])+1), end="")' | base64 -w0)
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" \
	    -d "{\"key\":\"$k\",\"range_end\":\"$e\",\"count_only\":true}" |
	    sed -n 's/.*"count":"\([0-9]*\)".*/\1/p' | grep . || echo 0
}
