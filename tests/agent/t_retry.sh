# A failed host converges again by itself every drift interval, and at
# once on SIGHUP: after the cause of a failure is fixed by hand, h2 (drift
# interval 1 s) converges within seconds, h1 (the default, 15 min) stays
# failed until it gets SIGHUP.  SIGHUP on a converged host starts a new
# run, which runs nothing that is done already.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
  h2: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
fix: {}
EOF
mkdir -p "$R/roles/fix"
cat >"$R/roles/fix/role.yml" <<'EOF'
converge:
  - name: needs fixing
    script: test -f {{ host.vars.root }}/$LEURA_HOST.fixed || { echo "not fixed"; exit 4; }
  - name: after
    script: echo after >> {{ host.vars.root }}/$LEURA_HOST.after
EOF
commit_all init
apply
agent_start h1
agent_start h2 --drift-interval 1s
wait_state h1 failed 1
wait_state h2 failed 1
expect_eq "h1: exit" "$(obs h1 '.failed_steps[0].exit')" 4

# fixed by hand: h2 converges again by itself
touch "$ROOT/h1.fixed" "$ROOT/h2.fixed"
wait_state h2 converged 1 15
expect_eq "h2: after ran" "$(cat "$ROOT/h2.after")" after

# h1 (drift interval 15 min) does not, until SIGHUP
sleep 1.5
expect_eq "h1 before SIGHUP" "$(obs h1 .state)" failed
kill -HUP "$(agent_pid h1)"
wait_state h1 converged 1 15
expect_eq "h1: after ran" "$(cat "$ROOT/h1.after")" after
alive "$(agent_pid h1)" || fail "h1: SIGHUP ended the agent"

# SIGHUP on a converged host: a new run, nothing done again
run1=$(obs h1 .run.id)
kill -HUP "$(agent_pid h1)"
wait_until 15 "h1 to run again after SIGHUP" eval \
    '[ "$(obs h1 .run.id)" != "$run1" ] && is_state h1 converged 1'
expect_eq "h1: after ran once" "$(cat "$ROOT/h1.after")" after
expect_eq "h1: needs fixing ran" \
    "$(step h1 'fix/fix/converge/needs fixing' ran)" false
agent_stop h1
agent_stop h2
done_testing
