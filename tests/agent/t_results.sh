# Results say what happened (P/results/HOST, docs/etcd-layout.md): a step
# a guard skipped is "skipped" with the guard as its reason, not an error;
# a validate step that passes is "ok", not "changed"; the agent's
# end-of-run line counts only the steps that changed something.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
echo 'app: {}' >"$R/services.yml"
mkdir -p "$R/roles/app"
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: write
    script: echo v1 > {{ host.vars.root }}/app.txt
  - name: guarded
    script: echo ran >> {{ host.vars.root }}/guarded.log
    unless: test -f {{ host.vars.root }}/app.txt
  - name: created
    script: echo ran >> {{ host.vars.root }}/created.log
    creates: "{{ host.vars.root }}/app.txt"
validate:
  - name: check
    script: grep -q v1 {{ host.vars.root }}/app.txt
EOF
commit_all init
apply
agent_start h1
wait_state h1 converged "$GEN"
[ -e "$ROOT/guarded.log" ] && fail "the unless guard did not skip its step"
[ -e "$ROOT/created.log" ] && fail "the creates guard did not skip its step"
s=app/app/converge
expect_eq "write: status" "$(step h1 $s/write status)" changed
expect_eq "guarded: status" "$(step h1 $s/guarded status)" skipped
expect_eq "guarded: changed" "$(step h1 $s/guarded changed)" false
expect_eq "guarded: reason" "$(step h1 $s/guarded reason)" \
    "unless: 'test -f $ROOT/app.txt' exited 0"
step h1 $s/guarded error >/dev/null &&
    fail "a skip is not an error: $(step h1 $s/guarded error)"
expect_eq "created: status" "$(step h1 $s/created status)" skipped
expect_eq "created: reason" "$(step h1 $s/created reason)" \
    "creates: '$ROOT/app.txt' exists"
step h1 $s/created error >/dev/null &&
    fail "a skip is not an error: $(step h1 $s/created error)"
expect_eq "check: status" "$(step h1 app/app/validate/check status)" ok
expect_eq "check: changed" "$(step h1 app/app/validate/check changed)" false
expect_eq "check: exit" "$(step h1 app/app/validate/check exit)" 0
expect_has "the end-of-run line" "$(grep "generation $GEN: converged" \
    "$T/agent-h1.log")" "(4 steps, 1 changed)"
expect_eq "failed_steps" "$(obs h1 '.failed_steps|length')" 0

# a failing validate step: failed, with its error, and counts no change
sed -i 's/grep -q v1/grep -q v2/' "$R/roles/app/role.yml"
commit_all "check for v2"
apply
wait_state h1 failed "$GEN"
expect_eq "check: status" "$(step h1 app/app/validate/check status)" failed
expect_eq "check: error" "$(step h1 app/app/validate/check error)" \
    "exited with status 1"
step h1 app/app/validate/check reason >/dev/null &&
    fail "a failure has an error, not a reason"
expect_has "the end-of-run line" "$(grep "generation $GEN: failed" \
    "$T/agent-h1.log")" "(4 steps, 0 changed, first failure: "
agent_stop h1
done_testing
