# Drift repair while etcd is away, behind a gate that already opened at
# this generation (issue 10, item 8: the repair run asked etcd for the
# other host's report again, and waited as long as etcd was away).  web
# on w1 depends on db on d1; both converge.  With etcd stopped:
#   - an edit of web's file is drift: w1 repairs it, the gate being
#     remembered as open at this generation;
#   - w1 restarted (from its cached desired state) converges web again,
#     the gate being remembered in its state dir (desired.json);
# and once etcd is back, w1 reports converged at the same generation.
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
web: {scheduling_group: webs, depends_on: [db]}
EOF
mkdir -p "$R/roles/db" "$R/roles/web"
cat >"$R/roles/db/role.yml" <<'EOF'
validate:
  - name: ready
    script: "true"
EOF
cat >"$R/roles/web/role.yml" <<'EOF'
converge:
  - name: conf
    file: {content: "web\n", dest: "{{ host.vars.root }}/web.conf"}
EOF
commit_all init
apply
agent_start d1
wait_state d1 converged "$GEN"
agent_start w1 --drift-interval 1s
wait_state w1 converged "$GEN"
expect_eq "web.conf" "$(cat "$ROOT/web.conf")" web
waited=$(log_count w1 "waits for db")

etcd_stop
echo edited >"$ROOT/web.conf"
# AGENT BUG (item 8): the repair waited at web's gate for etcd
wait_until 20 "web.conf repaired with etcd away" eval \
    '[ "$(cat "$ROOT/web.conf")" = web ]'
expect_eq "w1's waits at the gate, after the repair" \
    "$(log_count w1 "waits for db")" "$waited"

agent_stop w1
rm "$ROOT/web.conf"
agent_start w1 --drift-interval 1s
wait_until 20 "web.conf back after a restart with etcd away" \
    test -f "$ROOT/web.conf"
expect_eq "w1's waits at the gate, after a restart" \
    "$(log_count w1 "waits for db")" "$waited"

etcd_restart
wait_until 45 "w1 to report again" eval \
    "is_state w1 converged $GEN && [ \"\$(obs w1 .run.id)\" != \"\" ]"
agent_stop w1
agent_stop d1
done_testing
