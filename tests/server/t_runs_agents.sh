# Task runs end to end (docs/runs.md): a real leurad and real leura-agent
# processes.  A task's steps rendered per host (params and host names in
# the output preview), run by the agents and collected; a file step
# rendered with the run's params; an ad-hoc command; an agent killed with -9 mid-step: the step is lost once its
# lease runs out, the run goes on per on_failure: continue, and the agent
# restarted never runs the claimed step again; the leader killed with -9
# mid-run: the other replica carries the run on and every step ran once
# on its host; a cancel aborts a running step on its agent.
. "$LEURA_SRC/tests/server/lib.sh"
. "$LEURA_SRC/tests/server/runs_lib.sh"
if [ -z "${LEURA_AGENT:-}" ] || [ ! -x "$LEURA_AGENT" ]; then
	echo "SKIP: no leura-agent (LEURA_AGENT)" >&2
	exit 77
fi

PIDS=$T/pids
mkdir -p "$PIDS" "$T/root"
runs_repo
# the example's converge steps write under its root: ours, not /tmp's
sed -i "s|root: /tmp/leura-example|root: $T/root|" "$T/repo/inventory/hosts.yml"
# steps that say where their shell is, so that the test kills what an
# agent killed with -9 leaves behind
cat >"$T/repo/tasks/slow.yml" <<EOF
description: A step that takes long, then one more
targets: {hosts: [db1]}
on_failure: continue
steps:
  - name: hang
    script: echo \$\$ >$PIDS/hang; echo started; sleep 60
  - name: after
    script: echo after on {{ host.name }}
EOF
cat >"$T/repo/tasks/long.yml" <<EOF
description: One long step
targets: {hosts: [web1]}
steps:
  - name: wait
    script: echo \$\$ >$PIDS/wait; sleep 60
EOF
cat >"$T/repo/tasks/conf.yml" <<'EOF'
description: A file rendered with the run's params
targets: {hosts: [web2]}
params:
  word: {type: string, default: plain}
steps:
  - name: put
    file:
      content: "word={{ params.word }} host={{ host.name }}\n"
      dest: "{{ host.vars.root }}/{{ host.name }}/task.conf"
      mode: "0640"
      template: true
EOF
mkdir -p "$T/count"
cat >"$T/repo/tasks/rolling.yml" <<EOF
description: Three hosts one at a time, each step counted where it ran
targets: {hosts: [web1, web2, db1]}
parallel: 1
steps:
  - name: one
    script: echo one >>$T/count/{{ host.name }}; sleep 0.3
  - name: two
    script: echo two >>$T/count/{{ host.name }}; sleep 0.3
EOF
commit_all "tasks for real agents"

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

AGENT_PIDS=
cleanup_agents() {
	for p in $AGENT_PIDS; do
		kill -KILL "$p" 2>/dev/null || :
	done
	for f in "$PIDS"/*; do
		[ -f "$f" ] || continue
		p=$(cat "$f" 2>/dev/null) || continue
		[ -n "$p" ] || continue
		kill -KILL "-$p" 2>/dev/null || :
		kill -KILL "$p" 2>/dev/null || :
	done
}
trap 'cleanup_agents; srv_kill_all; etcd_stop; rm -rf "$T"' EXIT

# agent HOST: start leura-agent for HOST (the fleet key: LEURA_FLEET_KEY)
agent() {
	"$LEURA_AGENT" --host "$1" --state-dir "$T/state/$1" \
	    --etcd "$ETCD_ENDPOINT" -v </dev/null >>"$T/agent-$1.log" 2>&1 &
	eval "AGENT_$1=\$!"
	AGENT_PIDS="$AGENT_PIDS $!"
}
for h in web1 web2 db1; do
	agent "$h"
done

# ---- a task, rendered per host, run by the agents ----
runs_start "$ADM" hello '{"params":{"who":"world"}}'
[ "$code" = 201 ] || fail "hello: $code $(cat "$T/body")"
R1=$RUN
runs_wait "$R1" 'r["state"]=="finalised"' 60
[ "$(runs_field "$R1" outcome)" = succeeded ] || fail "hello: $(cat "$T/body")"
runs_wait "$R1" '"hello world" in r["results"]["web1"][0]["head"]'
runs_wait "$R1" 'r["results"]["web2"][1]["status"] in ("ok","changed")'

# ---- an ad-hoc command ----
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/exec \
    -d '{"command":"echo adhoc on $(hostname) as $(id -un)","hosts":["web2"]}')
[ "$code" = 201 ] || fail "exec: $code $(cat "$T/body")"
RX=$(json_get "$T/body" id)
runs_wait "$RX" 'r["state"]=="finalised"' 60
[ "$(runs_field "$RX" outcome)" = succeeded ] || fail "exec: $(cat "$T/body")"
runs_wait "$RX" '"adhoc on" in r["results"]["web2"][0]["head"]'

# ---- a file step: its content stored under P/desired/files/ first ----
runs_start "$ADM" conf '{"params":{"word":"loud"}}'
[ "$code" = 201 ] || fail "conf: $code $(cat "$T/body")"
runs_wait "$RUN" 'r["state"]=="finalised"' 60
[ "$(runs_field "$RUN" outcome)" = succeeded ] || fail "conf: $(cat "$T/body")"
[ "$(cat "$T/root/web2/task.conf")" = "word=loud host=web2" ] ||
    fail "the file step wrote '$(cat "$T/root/web2/task.conf")'"

# ---- kill -9 of the agent mid-step ----
runs_start "$ADM" slow '{}'
[ "$code" = 201 ] || fail "slow: $code $(cat "$T/body")"
RS=$RUN
runs_wait "$RS" 'r["progress"]["db1"][0]["state"]=="running"' 60
i=0
until [ -s "$PIDS/hang" ] || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -KILL "$AGENT_db1"
# lost once the agent's lease (10 s) runs out
runs_wait "$RS" 'r["progress"]["db1"][0]["status"]=="lost"' 40
runs_wait "$RS" 'r["results"]["db1"][0]["status"]=="lost"'
# on_failure: continue: the next step is dispatched; a new agent runs it,
# and not the claimed one again
runs_wait "$RS" 'r["progress"]["db1"][1]["state"]=="dispatched"'
kill -KILL "-$(cat "$PIDS/hang")" 2>/dev/null || :
rm -f "$PIDS/hang"
agent db1
runs_wait "$RS" 'r["state"]=="finalised"' 60
[ "$(runs_field "$RS" outcome)" = failed ] || fail "slow: $(cat "$T/body")"
runs_wait "$RS" '"after on db1" in r["results"]["db1"][1]["head"]'
[ ! -e "$PIDS/hang" ] || fail "the restarted agent ran the claimed step again"
expect_in "$SRV_LOG" "run $RS finalised: failed"

# ---- the leader killed with -9 mid-run: the run completes once ----
# (the replica that leads: the one whose log says so last)
L=a
grep -q 'replica .* leads' "$(_srv_var b LOG)" && L=b
F=b
[ "$L" = b ] && F=a
srv_use "$F"
runs_start "$ADM" rolling '{}'
[ "$code" = 201 ] || fail "rolling: $code $(cat "$T/body")"
RR=$RUN
runs_wait "$RR" 'r["progress"]["web1"][1]["state"]=="done"' 60
kill -KILL "$(_srv_var "$L" PID)"
runs_wait "$RR" 'r["state"]=="finalised"' 60
[ "$(runs_field "$RR" outcome)" = succeeded ] || fail "rolling: $(cat "$T/body")"
for h in web1 web2 db1; do
	[ "$(cat "$T/count/$h")" = "$(printf 'one\ntwo')" ] ||
	    fail "$h ran: $(tr '\n' ' ' <"$T/count/$h") (each step once, in order)"
done

# ---- cancel aborts a running step on its agent ----
runs_start "$ADM" long '{}'
[ "$code" = 201 ] || fail "long: $code $(cat "$T/body")"
RL=$RUN
runs_wait "$RL" 'r["progress"]["web1"][0]["state"]=="running"' 60
code=$(SRV_TOKEN=$ADM srv_curl POST "/v1/runs/$RL/cancel" -d '{"message":"enough"}')
[ "$code" = 200 ] || fail "cancel: $code $(cat "$T/body")"
expect_in "$T/body" '"outcome":"cancelled"'
# the agent aborts the step: its result says so, its shell is gone
runs_wait "$RL" 'r["results"]["web1"][0] is not None and r["results"]["web1"][0]["status"]=="aborted"' 30
p=$(cat "$PIDS/wait")
i=0
while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -0 "$p" 2>/dev/null && fail "the cancelled step still runs (pid $p)"

done_testing
