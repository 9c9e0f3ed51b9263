# Step timeouts: a step that outlives its `timeout: 1s` fails as timed
# out within a few seconds, and its whole process group goes, background
# children included, even one that ignores SIGTERM.  A step whose
# background child keeps its output open ends when its shell does (the
# output is read 1 s more, then left), not at its timeout.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT, pids: $PIDS}}
EOF
cat >"$R/services.yml" <<'EOF'
slow: {}
stubborn: {}
lingering: {}
EOF
mkdir -p "$R/roles/slow" "$R/roles/stubborn" "$R/roles/lingering"
cat >"$R/roles/slow/role.yml" <<'EOF'
converge:
  - name: sleeps
    script: |
      echo $$ > {{ host.vars.pids }}/slow
      sleep 30 &
      echo $! > {{ host.vars.root }}/slow-bg.pid
      echo started
      sleep 30
    timeout: 1s
EOF
cat >"$R/roles/stubborn/role.yml" <<'EOF'
converge:
  - name: ignores TERM
    script: |
      echo $$ > {{ host.vars.pids }}/stubborn
      (trap '' TERM; exec sleep 30) &
      echo $! > {{ host.vars.root }}/stubborn-bg.pid
      sleep 30
    timeout: 1s
EOF
cat >"$R/roles/lingering/role.yml" <<'EOF'
converge:
  - name: leaves a child
    script: |
      echo $$ > {{ host.vars.pids }}/lingering
      sleep 8 &
      echo $! > {{ host.vars.root }}/lingering-bg.pid
      echo done
    timeout: 20s
EOF
commit_all init
apply
t0=$(now_ms)
agent_start h1
wait_state h1 failed 1
took=$(($(now_ms) - t0))
# 1 s + 1 s of timeouts + ~1 s of lingering output, plus start-up
[ "$took" -lt 15000 ] || fail "the run took $took ms"

for s in slow/slow/converge/sleeps "stubborn/stubborn/converge/ignores TERM"
do
	expect_eq "$s: status" "$(step h1 "$s" status)" failed
	expect_eq "$s: timed_out" "$(step h1 "$s" timed_out)" true
	expect_has "$s: error" "$(step h1 "$s" error)" "timed out"
	expect_has "$s: failed_steps error" \
	    "$(obs h1 ".failed_steps[id=$s].error")" "timed out"
	d=$(step h1 "$s" duration_ms)
	[ "$d" -ge 900 ] && [ "$d" -lt 4000 ] ||
	    fail "$s: duration $d ms for a 1 s timeout"
done
expect_has "slow: output" "$(step h1 slow/slow/converge/sleeps output)" \
    started

# the process groups are gone, background children included
for n in slow stubborn; do
	bg=$(cat "$ROOT/$n-bg.pid")
	leader=$(cat "$PIDS/$n")
	wait_until 5 "$n: background child $bg gone" eval "! alive $bg"
	wait_until 5 "$n: process group $leader gone" \
	    eval "! group_alive $leader"
done

# the lingering child does not hold the step until its timeout
l='lingering/lingering/converge/leaves a child'
expect_eq "lingering: status" "$(step h1 "$l" status)" changed
d=$(step h1 "$l" duration_ms)
[ "$d" -lt 5000 ] || fail "lingering: the step took $d ms (its child 8 s)"
expect_eq "lingering: validated" "$(obs h1 .services.lingering.validated)" \
    true
agent_stop h1
done_testing
