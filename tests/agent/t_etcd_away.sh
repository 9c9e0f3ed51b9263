# etcd away: an agent that converged keeps enforcing its cached desired
# state while etcd is down: restarted (SIGTERM, then started again without
# etcd) it converges the cached state at once (a deleted file comes back),
# and its drift checks repair an edit.  When etcd comes back the agent
# reports and heartbeats again, and converges the next deploy.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
app: {params: {v: 1}}
EOF
mkdir -p "$R/roles/app"
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: conf
    file: {content: "v={{ params.v }}\n", dest: "{{ host.vars.root }}/app.conf", template: true}
  - name: init
    script: echo "init {{ params.v }}" >> {{ host.vars.root }}/init.log
EOF
commit_all init
apply
agent_start h1 --drift-interval 1s
wait_state h1 converged 1
at1=$(obs h1 .at_unix)

etcd_stop
# SIGTERM with etcd gone: the last report cannot go out; it still stops
t0=$(now_ms)
agent_stop h1 20
took=$(($(now_ms) - t0))
[ "$took" -lt 10000 ] || fail "SIGTERM without etcd took $took ms"

# started again without etcd: the cached desired state is enforced
rm "$ROOT/app.conf"
agent_start h1 --drift-interval 1s
wait_until 15 "app.conf back from the cached desired state (etcd down)" \
    test -f "$ROOT/app.conf"
expect_eq "app.conf from the cache" "$(cat "$ROOT/app.conf")" "v=1"
expect_eq "init did not run again" "$(cat "$ROOT/init.log")" "init 1"
log_has h1 "(with a cached desired state)" ||
    fail "the log does not say the agent started from its cache"

# drift checks work without etcd
wait_until 10 "the first run from the cache to end" log_more h1 \
    "generation 1: converged" 1
echo edited >"$ROOT/app.conf"
wait_until 15 "app.conf repaired with etcd down" eval \
    '[ "$(cat "$ROOT/app.conf")" = "v=1" ]'

# etcd back: the agent reports again
etcd_restart
wait_until 45 "h1 to report again after etcd came back" eval \
    '[ "$(obs h1 .at_unix)" -gt "$at1" ]'
wait_until 30 "h1's heartbeat after etcd came back" heartbeat h1
wait_state h1 converged 1

# and converges the next deploy
sed -i 's/v: 1/v: 2/' "$R/services.yml"
commit_all v2
apply
wait_state h1 converged 2
expect_eq "app.conf of generation 2" "$(cat "$ROOT/app.conf")" "v=2"
expect_eq "init.log" "$(cat "$ROOT/init.log")" "init 1
init 2"
agent_stop h1
done_testing
