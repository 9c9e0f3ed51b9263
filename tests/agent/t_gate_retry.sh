# A rollout gate whose read of the other hosts' reports fails goes on
# once etcd answers again (issue 10, item 7: it used to wait forever,
# "the next kick asks again", with nothing to kick).  web on w1 depends
# on db on d1, which has converged.  w1's first service, pre, holds its
# run until the test has paused etcd (SIGSTOP: the connection stays up and
# nothing answers), so the gate's one read of P/observed/ times out.  etcd
# resumes: w1 must read again on its own and converge, within the retry
# back-off (10 s at most) and the client's request timeout (5 s).
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  d1: {groups: [dbs]}
  w1: {groups: [webs]}
groups:
  all:
    vars: {root: $ROOT}
EOF
cat >"$R/services.yml" <<'EOF'
db: {scheduling_group: dbs}
pre: {scheduling_group: webs}
web: {scheduling_group: webs, depends_on: [pre, db]}
EOF
mkdir -p "$R/roles/db" "$R/roles/pre" "$R/roles/web"
cat >"$R/roles/db/role.yml" <<'EOF'
validate:
  - name: ready
    script: "true"
EOF
cat >"$R/roles/pre/role.yml" <<'EOF'
converge:
  - name: hold
    script: |
      touch {{ host.vars.root }}/at-gate
      while [ ! -f {{ host.vars.root }}/go ]; do sleep 0.05; done
EOF
cat >"$R/roles/web/role.yml" <<'EOF'
converge:
  - name: start
    script: touch {{ host.vars.root }}/web.started
EOF
commit_all init
apply
agent_start d1
wait_state d1 converged "$GEN"
agent_start w1
wait_until 30 "w1 to reach its hold step" test -f "$ROOT/at-gate"

etcd_pause
touch "$ROOT/go"
# the gate's read is sent now, to an etcd that does not answer
wait_until 30 "w1's read of the reports to fail" log_has w1 \
    "cannot read other hosts' reports"
etcd_resume
t0=$(now_ms)
# AGENT BUG (item 7): nothing asked again; w1 waited forever
wait_state w1 converged "$GEN" 40
echo "w1 converged $(($(now_ms) - t0)) ms after etcd resumed"
[ -f "$ROOT/web.started" ] || fail "web's step did not run"
agent_stop w1
agent_stop d1
done_testing
