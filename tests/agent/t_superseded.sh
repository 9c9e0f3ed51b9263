# A run superseded by a new desired state while its last step runs: the
# run's end must not report the new generation as converged before that
# generation ran.  Deploy 1's only step holds until the test lets it go;
# deploy 2 (a validate step that fails) is applied with --wait meanwhile;
# the wait must see h1 fail at generation 2, never converge (it latches
# the first final state it reads, as an operator would).
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
held: {}
EOF
mkdir -p "$R/roles/held"
cat >"$R/roles/held/role.yml" <<'EOF'
converge:
  - name: hold
    script: |
      touch {{ host.vars.root }}/holding
      i=0
      while [ ! -e {{ host.vars.root }}/go ] && [ $i -lt 600 ]; do
        sleep 0.1; i=$((i + 1))
      done
EOF
commit_all init
apply
agent_start h1
wait_until 30 "deploy 1's step runs" test -e "$ROOT/holding"

cat >>"$R/roles/held/role.yml" <<'EOF'
validate:
  - name: broken
    script: exit 3
EOF
commit_all "a validate step that fails"
"$LEURA" -C "$R" apply --no-diff --wait --wait-timeout 60s \
    >"$T/wait.out" 2>"$T/wait.err" &
waiter=$!
wait_until 30 "h1 reads deploy 2 while deploy 1's step runs" \
    log_has h1 "desired state: generation 2"
touch "$ROOT/go"
set +e
wait "$waiter"
rc=$?
set -e
expect_eq "apply --wait's exit" "$rc" 1
grep -qF "h1: failed: step 'held/held/validate/broken' failed: exit 3" \
    "$T/wait.out" || fail "the wait did not see h1 fail: $(cat "$T/wait.out")"
if grep -qF "h1: converged" "$T/wait.out"; then
	fail "generation 2 was reported converged before it ran"
fi
wait_state h1 failed 2
done_testing
