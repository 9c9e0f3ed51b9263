# Only what changed runs again: a commit that changes one file step's
# content rewrites that file, runs the when_changed step that names it and
# not the one that names an unchanged file, and leaves the script steps
# alone (ran: false, "unchanged"); validate steps always run.  Then a
# changed script runs again by itself, and a step that failed runs again
# on the next deploy even though its text did not change.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
app: {params: {color: red, size: 1, tag: x}}
EOF
mkdir -p "$R/roles/app"
write_role() {
	cat >"$R/roles/app/role.yml" <<EOF
converge:
  - name: setup
    script: echo "setup $1" >> {{ host.vars.root }}/setup.log
  - name: color
    file: {content: "color={{ params.color }}\n", dest: "{{ host.vars.root }}/color.conf", template: true}
  - name: size
    file: {content: "size={{ params.size }}\n", dest: "{{ host.vars.root }}/size.conf", template: true}
  - name: on color
    script: echo "on color \$LEURA_GENERATION" >> {{ host.vars.root }}/on-color.log
    when_changed: [color]
  - name: on size
    script: echo "on size \$LEURA_GENERATION" >> {{ host.vars.root }}/on-size.log
    when_changed: [size]
  - name: flaky
    script: test -f {{ host.vars.root }}/go || { echo "not yet {{ params.tag }}"; exit 1; }
validate:
  - name: check
    script: echo "check \$LEURA_GENERATION" >> {{ host.vars.root }}/check.log
EOF
}
write_role v1
touch "$ROOT/go"
commit_all init
apply
agent_start h1
wait_state h1 converged "$GEN"
for f in setup on-color on-size check; do
	expect_eq "gen 1: lines in $f.log" "$(wc -l <"$ROOT/$f.log")" 1
done
run1=$(res h1 .run)

# one file's content changes
sed -i 's/color: red/color: blue/' "$R/services.yml"
commit_all "blue"
apply
expect_eq "second apply: generation" "$GEN" 2
wait_state h1 converged 2
expect_eq "color.conf" "$(cat "$ROOT/color.conf")" "color=blue"
[ "$(res h1 .run)" != "$run1" ] || fail "gen 2: results still of run $run1"
expect_eq "results generation" "$(res h1 .generation)" 2
s=app/app/converge
expect_eq "color: status" "$(step h1 "$s/color" status)" changed
expect_eq "color: changed" "$(step h1 "$s/color" changed)" true
expect_eq "size: status" "$(step h1 "$s/size" status)" ok
expect_eq "size: changed" "$(step h1 "$s/size" changed)" false
expect_eq "setup: ran" "$(step h1 "$s/setup" ran)" false
expect_eq "setup: status" "$(step h1 "$s/setup" status)" ok
expect_has "setup: reason" "$(step h1 "$s/setup" reason)" "unchanged"
expect_eq "flaky: ran" "$(step h1 "$s/flaky" ran)" false
expect_eq "on color: status" "$(step h1 "$s/on color" status)" changed
step h1 "$s/on color" ran >/dev/null && fail "on color: ran: false"
expect_eq "on size: ran" "$(step h1 "$s/on size" ran)" false
expect_has "on size: reason" "$(step h1 "$s/on size" reason)" \
    "not triggered"
expect_eq "check: status" "$(step h1 app/app/validate/check status)" ok
expect_eq "check: changed" "$(step h1 app/app/validate/check changed)" false
step h1 app/app/validate/check ran >/dev/null && fail "check: ran: false"
# color and on color: the validate step that ran is no change
log_has h1 "generation 2: converged in" || fail "no end-of-run line"
expect_has "the end-of-run line" "$(grep "generation 2: converged" \
    "$T/agent-h1.log")" ", 2 changed)"
expect_eq "setup.log" "$(cat "$ROOT/setup.log")" "setup v1"
expect_eq "on-color.log" "$(cat "$ROOT/on-color.log")" "on color 1
on color 2"
expect_eq "on-size.log" "$(cat "$ROOT/on-size.log")" "on size 1"
expect_eq "check.log" "$(cat "$ROOT/check.log")" "check 1
check 2"
expect_eq "report: steps in the run" "$(obs h1 .run.steps)" 7

# a script's text changes: that step runs, the triggered ones do not
write_role v2
commit_all "setup v2"
apply
wait_state h1 converged 3
expect_eq "setup.log after v2" "$(cat "$ROOT/setup.log")" "setup v1
setup v2"
expect_eq "gen 3: setup status" "$(step h1 "$s/setup" status)" changed
expect_eq "gen 3: on color ran" "$(step h1 "$s/on color" ran)" false
expect_eq "gen 3: flaky ran" "$(step h1 "$s/flaky" ran)" false
expect_eq "on-color.log after v2" "$(wc -l <"$ROOT/on-color.log")" 2

# a step that failed runs again on the next deploy, unchanged as it is
rm "$ROOT/go"
sed -i "s/size: 1, tag: x/size: 2, tag: y/" "$R/services.yml"
commit_all "size 2"
apply
wait_state h1 failed 4
expect_eq "gen 4: failed step" "$(obs h1 '.failed_steps[0].id')" "$s/flaky"
expect_has "gen 4: its output" "$(obs h1 ".failed_steps[0].output")" "not yet y"
expect_eq "gen 4: on size ran" "$(step h1 "$s/on size" status)" changed
touch "$ROOT/go"
sed -i "s/size: 2/size: 3/" "$R/services.yml"
commit_all "size 3"
apply
wait_state h1 converged 5
expect_eq "gen 5: flaky" "$(step h1 "$s/flaky" status)" changed
expect_eq "gen 5: setup ran" "$(step h1 "$s/setup" ran)" false
expect_eq "on-size.log" "$(cat "$ROOT/on-size.log")" "on size 1
on size 4
on size 5"
agent_stop h1
done_testing
