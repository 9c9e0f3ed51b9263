# An agent whose watches fall behind a compaction goes on: the agent is
# frozen (SIGSTOP) while etcd restarts (its streams are cut) and two
# deploys land, the second compacting etcd's history past where the
# agent's watches stood (apply compacts up to the previous deploy's
# commit); thawed, its watches resume from a compacted revision, get the
# whole current state instead (RESYNC), and the agent converges the last
# deploy.
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
EOF
commit_all init
apply
agent_start h1
wait_state h1 converged 1
# where the agent's watches stand, at most
rev1=$(curl -sS -m 10 -X POST "$ETCD_ENDPOINT/v3/kv/range" \
    -d '{"key":"AA==","count_only":true}' | sed -n \
    's/.*"revision":"\([0-9]*\)".*/\1/p')
[ -n "$rev1" ] || die "no store revision"

kill -STOP "$(agent_pid h1)"
etcd_restart
for v in 2 3; do
	sed -i "s/v: [0-9]*/v: $v/" "$R/services.yml"
	commit_all "v $v"
	run 0 "$LEURA" -C "$R" apply --json
done
compacted=$("$TJSON" .compacted <"$T/out")
[ "${compacted:-0}" -gt "$rev1" ] ||
    fail "apply compacted up to ${compacted:-nothing}, not past $rev1"
kill -CONT "$(agent_pid h1)"

wait_state h1 converged 3
expect_eq "app.conf" "$(cat "$ROOT/app.conf")" "v=3"
log_has h1 "fell behind a compaction" ||
    fail "the agent's log does not say its watch was re-listed"
agent_stop h1
done_testing
