# A failing step: reported in failed_steps with its exit code and output
# (or its error when there is no exit code), the host failed in `leura
# status` with the reason, the service's later steps skipped, a service
# that depends on it on the same host failed too, independent services
# converged; a retried step that fails once succeeds on its second
# attempt; a fix commit converges the host and runs the failed step again.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
bad: {params: {code: 3}}
after: {depends_on: [bad]}
good: {}
baddest: {}
retried: {}
EOF
mkdir -p "$R/roles/bad" "$R/roles/after" "$R/roles/good" \
    "$R/roles/baddest" "$R/roles/retried" "$ROOT/a-dir"
cat >"$R/roles/bad/role.yml" <<'EOF'
converge:
  - name: first
    script: touch {{ host.vars.root }}/bad-first
  - name: boom
    script: |
      echo "boom-output line 1"
      echo "boom on stderr" >&2
      [ {{ params.code }} -eq 0 ] || exit {{ params.code }}
  - name: third
    script: touch {{ host.vars.root }}/bad-third
validate:
  - name: check
    script: test -f {{ host.vars.root }}/bad-third
EOF
cat >"$R/roles/after/role.yml" <<'EOF'
converge:
  - name: mark
    script: touch {{ host.vars.root }}/after
EOF
cat >"$R/roles/good/role.yml" <<'EOF'
converge:
  - name: conf
    file: {content: "good\n", dest: "{{ host.vars.root }}/good.conf"}
  - name: run
    script: touch {{ host.vars.root }}/good-ran
validate:
  - name: check
    script: test -f {{ host.vars.root }}/good-ran
EOF
cat >"$R/roles/baddest/role.yml" <<'EOF'
converge:
  - name: onto a dir
    file: {content: "x\n", dest: "{{ host.vars.root }}/a-dir"}
EOF
cat >"$R/roles/retried/role.yml" <<'EOF'
converge:
  - name: second time lucky
    script: |
      echo try >> {{ host.vars.root }}/tries
      [ "$(wc -l < {{ host.vars.root }}/tries)" -ge 2 ] || { echo "first try fails"; exit 1; }
    retries: 1
EOF
commit_all init
apply
agent_start h1
wait_state h1 failed 1

# the report
obs h1 .failed_steps >"$T/failed"
boom=bad/bad/converge/boom
expect_eq "boom: exit" "$(obs h1 ".failed_steps[id=$boom].exit")" 3
out=$(obs h1 ".failed_steps[id=$boom].output")
expect_has "boom: output" "$out" "boom-output line 1"
expect_has "boom: stderr in the output" "$out" "boom on stderr"
expect_eq "the first failure is boom" "$(obs h1 '.failed_steps[0].id')" \
    "$boom"
ids=$(obs h1 '.failed_steps[*].id')
expect_has "failed_steps" "$ids" "baddest/baddest/converge/onto a dir"
err=$(obs h1 '.failed_steps[id=baddest/baddest/converge/onto a dir].error')
[ -n "$err" ] || fail "baddest: no error in failed_steps: $(cat "$T/failed")"
obs h1 '.failed_steps[id=baddest/baddest/converge/onto a dir].exit' &&
    fail "baddest: an exit code for a step that ran no command"
expect_has "after: failed" "$ids" "after/after/converge/mark"
expect_has "after: why" \
    "$(obs h1 '.failed_steps[id=after/after/converge/mark].error')" \
    "depends on bad, which failed on this host"
expect_eq "failed_steps count" "$(obs h1 '.failed_steps|length')" 3
expect_eq "bad validated" "$(obs h1 .services.bad.validated)" false
expect_eq "after validated" "$(obs h1 .services.after.validated)" false
expect_eq "baddest validated" "$(obs h1 .services.baddest.validated)" false
expect_eq "good validated" "$(obs h1 .services.good.validated)" true
expect_eq "retried validated" "$(obs h1 .services.retried.validated)" true

# the results
expect_eq "boom: status" "$(step h1 $boom status)" failed
expect_eq "boom: exit" "$(step h1 $boom exit)" 3
expect_eq "first: status" "$(step h1 bad/bad/converge/first status)" changed
for s in bad/bad/converge/third bad/bad/validate/check \
    after/after/converge/mark; do
	expect_eq "$s: status" "$(step h1 "$s" status)" skipped
	expect_eq "$s: ran" "$(step h1 "$s" ran)" false
	expect_has "$s: reason" "$(step h1 "$s" reason)" \
	    "an earlier step of the service failed"
done
[ -e "$ROOT/bad-third" ] && fail "bad: the step after the failure ran"
[ -e "$ROOT/after" ] && fail "after: ran though bad failed"
[ -f "$ROOT/good.conf" ] && [ -f "$ROOT/good-ran" ] ||
    fail "good: not converged"
lucky='retried/retried/converge/second time lucky'
expect_eq "retried: status" "$(step h1 "$lucky" status)" changed
expect_eq "retried: attempts" "$(step h1 "$lucky" attempts)" 2
expect_eq "retried: tries" "$(wc -l <"$ROOT/tries")" 2

# leura status: exit 2, something failed
run 2 "$LEURA" -C "$R" status
grep -Eq "^h1 +up +failed +1/1 +step '$boom' failed: exit 3 \(and 2 more\)" \
    "$T/out" || fail "status: h1 not failed with the reason"
grep -Eq "^bad +failed +1 +h1: step '$boom' failed: exit 3" "$T/out" ||
    fail "status: service bad not failed"
# (good shows failed too: a service takes the worst state of its hosts,
# leura-status(1); the report above says it validated)
[ "$nfail" -eq 0 ] || sed 's/^/  status: /' "$T/out" >&2
run 2 "$LEURA" -C "$R" status --json
expect_eq "status --json: h1" "$("$TJSON" .hosts.h1.state <"$T/out")" failed

# leura logs: the failed step's status, exit and whole output, from the
# agent's results, without a shell on the host
run 0 "$LEURA" logs h1 boom
expect_in "$T/out" "== $boom: failed: exited with status 3 ("
expect_in "$T/out" "    boom-output line 1"
expect_in "$T/out" "    boom on stderr"
run 0 "$LEURA" logs h1
expect_in "$T/out" "== bad/bad/converge/third: skipped, not run (an earlier step of the service failed)"
expect_in "$T/out" "== retried/retried/converge/second time lucky: changed, exit 0 ("
expect_in "$T/out" ", 2 attempts, started "

# the fix: boom and everything skipped run, the rest does not
sed -i 's/code: 3/code: 0/' "$R/services.yml"
rmdir "$ROOT/a-dir"
commit_all fix
apply
wait_state h1 converged 2
expect_eq "fixed: failed_steps" "$(obs h1 '.failed_steps|length')" 0
[ -f "$ROOT/bad-third" ] || fail "fixed: bad's third step did not run"
[ -f "$ROOT/after" ] || fail "fixed: after did not run"
expect_eq "fixed: baddest" "$(cat "$ROOT/a-dir")" x
expect_eq "fixed: boom" "$(step h1 $boom status)" changed
expect_eq "fixed: first ran" "$(step h1 bad/bad/converge/first ran)" false
expect_eq "fixed: good run ran" "$(step h1 good/good/converge/run ran)" false
expect_eq "fixed: tries" "$(wc -l <"$ROOT/tries")" 2
run 0 "$LEURA" -C "$R" status
grep -Eq "^h1 +up +converged +2/2" "$T/out" || fail "status: h1 not converged"
agent_stop h1
done_testing
