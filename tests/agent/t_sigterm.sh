# SIGTERM (and SIGINT) during a long step: the agent stops the step's
# process group, exits 0 within a few seconds, revokes its heartbeat, and
# leaves the report "converging" with the stopped step as `current`; the
# step runs again when the agent starts next.  A step that ignores
# SIGTERM gets SIGKILL 5 s later, and the agent still exits 0.
# The bounds are leura-agent(8)'s (Stopping): 7 s at worst with a step
# that needs its SIGKILL, 10 s whatever happens; a busy machine (two
# cores loaded) slows the agent, not its timers, so the test holds there
# too.  Every wait is on an event, with a deadline.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {groups: [one]}
  h2: {groups: [two]}
  h3: {groups: [one]}
groups:
  all:
    vars: {root: $ROOT, pids: $PIDS}
EOF
cat >"$R/services.yml" <<'EOF'
app: {scheduling_group: one}
stubborn: {scheduling_group: two}
EOF
mkdir -p "$R/roles/app" "$R/roles/stubborn"
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: long
    script: |
      echo $$ > {{ host.vars.pids }}/long-$LEURA_HOST
      echo start >> {{ host.vars.root }}/runs-$LEURA_HOST.log
      [ -f {{ host.vars.root }}/quick ] && exit 0
      sleep 30 &
      echo $! > {{ host.vars.root }}/bg-$LEURA_HOST.pid
      sleep 30
    timeout: 1m
EOF
cat >"$R/roles/stubborn/role.yml" <<'EOF'
converge:
  - name: ignores TERM
    script: |
      echo $$ > {{ host.vars.pids }}/stubborn
      trap '' TERM
      sleep 30
    timeout: 1m
EOF
commit_all init
apply
for h in h1 h2 h3; do
	agent_start $h
done
wait_until 30 "h1's step to start" test -s "$ROOT/bg-h1.pid"
wait_until 30 "h3's step to start" test -s "$ROOT/bg-h3.pid"
wait_until 30 "h2's step to start" test -s "$PIDS/stubborn"
wait_until 30 "h1 to report its current step" eval \
    '[ "$(obs h1 .current)" = app/app/converge/long ]'
heartbeat h1 || fail "h1: no heartbeat"

t0=$(now_ms)
kill -TERM "$(agent_pid h1)" "$(agent_pid h2)"
kill -INT "$(agent_pid h3)"
agents_wait 30 h1 h2 h3
for h in h1 h3; do
	eval "took=\$((AGENT_MS_$h - t0)) rc=\$AGENT_RC_$h"
	expect_eq "$h: exit status after the signal" "$rc" 0
	# the step ends on SIGTERM: etcd's 2 s at most, and slack
	[ "$took" -lt 7000 ] || fail "$h: took $took ms to stop"
	leader=$(cat "$PIDS/long-$h")
	wait_until 3 "$h: the step's process group $leader to go" \
	    eval "! group_alive $leader"
	alive "$(cat "$ROOT/bg-$h.pid")" &&
	    fail "$h: the step's background child survived"
	# revoked; if etcd was too slow for that, gone with its lease
	wait_until 15 "$h: its heartbeat to go" eval "! heartbeat $h"
	expect_eq "$h: report state" "$(obs $h .state)" converging
	expect_eq "$h: report current" "$(obs $h .current)" \
	    app/app/converge/long
	res $h >/dev/null && fail "$h: results written for a stopped run"
	sig=$(case $h in h1) echo SIGTERM ;; *) echo SIGINT ;; esac)
	log_has $h "$sig received" ||
	    fail "$h: the log does not name the signal"
done
# the stopped run's logs are packed
ls "$T/state/h1/logs/"*.tar.gz >/dev/null 2>&1 ||
    fail "h1: the stopped run's logs are not packed"

# the step that ignores SIGTERM: SIGKILL 5 s later
took=$((AGENT_MS_h2 - t0))
expect_eq "h2: exit status" "$AGENT_RC_h2" 0
[ "$took" -ge 4500 ] && [ "$took" -lt 11000 ] ||
    fail "h2: stopped after $took ms, expected the 5 s grace"
wait_until 3 "h2: the step's process group to go" \
    eval "! group_alive $(cat "$PIDS/stubborn")"

# started again: the stopped step runs again
touch "$ROOT/quick"
agent_start h1
wait_state h1 converged 1
expect_eq "h1: runs of the stopped step" "$(cat "$ROOT/runs-h1.log")" \
    "start
start"
expect_eq "h1: its result" "$(step h1 app/app/converge/long status)" changed
agent_stop h1
done_testing
