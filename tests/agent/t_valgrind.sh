# leura-agent under valgrind (memcheck): a --once run, and a daemon that
# converges, takes a second deploy, runs drift checks and repairs, then
# runs task-run steps (one to its end, one cancelled, one cut by the
# stop: agent/runs.c), stops on SIGTERM, on a small repo (file, script, validate and
# when_changed steps).  Both must exit 0 with no memory error and nothing
# definitely or indirectly lost.  Skipped (77) in sanitized builds, where
# ASan does this job, and without valgrind.  Slow: keep the repo small.
. "$LEURA_SRC/tests/agent/lib.sh"
. "$LEURA_SRC/tests/agent/runs.sh"
if [ "${LEURA_SANITIZED:-0}" = 1 ]; then
	echo "SKIP: a sanitized build (LEURA_SANITIZED=1): ASan checks it" >&2
	exit 77
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP: no valgrind" >&2
	exit 77
fi
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
  h2: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
app: {params: {v: 1}}
EOF
mkdir -p "$R/roles/app"
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: conf
    file: {content: "v={{ params.v }}\n", dest: "{{ host.vars.root }}/{{ host.name }}/app.conf", mode: "0600", template: true}
  - name: init
    script: echo init >> {{ host.vars.root }}/{{ host.name }}/init.log
    creates: "{{ host.vars.root }}/{{ host.name }}/init.log"
  - name: reload
    script: echo "reload $LEURA_GENERATION" >> {{ host.vars.root }}/{{ host.name }}/reload.log
    when_changed: [conf]
validate:
  - name: check
    script: test -s {{ host.vars.root }}/{{ host.name }}/app.conf
EOF
commit_all init
apply

vg() {	# vg NAME: AGENT_WRAP for a valgrind run logging to $T/vg-NAME.log
	AGENT_WRAP="valgrind -q --leak-check=full --trace-children=no"
	AGENT_WRAP="$AGENT_WRAP --show-leak-kinds=definite,indirect"
	AGENT_WRAP="$AGENT_WRAP --errors-for-leak-kinds=definite,indirect"
	AGENT_WRAP="$AGENT_WRAP --error-exitcode=99 --log-file=$T/vg-$1.log"
}
vg_clean() {	# vg_clean NAME: valgrind ran and logged nothing
	if [ ! -f "$T/vg-$1.log" ]; then
		fail "valgrind ($1) did not run"
	elif [ -s "$T/vg-$1.log" ]; then
		fail "valgrind ($1) reports:"
		head -n 60 "$T/vg-$1.log" >&2
	fi
}

# --once
vg once
agent_start h2 --once
agent_wait h2 120
expect_eq "--once under valgrind: exit status" "$AGENT_RC" 0
vg_clean once
expect_eq "--once: app.conf" "$(cat "$ROOT/h2/app.conf")" "v=1"
expect_eq "--once: report" "$(obs h2 .state)" converged

# the daemon: converge, a new deploy (its deploy log sent: a leurad
# leads), drift repaired, SIGTERM
etcd_put /leura/leader '{"id":"test"}'
vg daemon
agent_start h1 --drift-interval 1s
wait_state h1 converged 1 120
sed -i 's/v: 1/v: 2/' "$R/services.yml"
commit_all v2
apply
wait_state h1 converged 2 120
wait_until 120 "deploy 2's log under valgrind" has_result d@2 h1 0
expect_eq "reload.log" "$(cat "$ROOT/h1/reload.log")" "reload 1
reload 2"
n=$(log_count h1 "generation 2: converged")
echo edited >"$ROOT/h1/app.conf"
wait_until 60 "the drift repaired under valgrind" eval \
    '[ "$(cat "$ROOT/h1/app.conf")" = "v=2" ]'
wait_until 60 "the repair run to end" log_more h1 \
    "generation 2: converged" "$n"
# task runs: a step to its end, one whose dispatch is deleted, one
# running when SIGTERM comes
RUN=$(date -u +r@%Y%m%d-%H%M%S-eeeeee)
dispatch h1 $RUN 0 "$(script_spec "echo task")"
wait_result $RUN h1 0 120
expect_eq "task step under valgrind" "$(rres $RUN h1 0 .status)" changed
dispatch h1 $RUN 1 "$(script_spec "echo \$\$ > $PIDS/v1; exec sleep 60")"
wait_until 60 "step 1 started" test -s "$PIDS/v1"
etcd_del "$(dkey h1 $RUN 1)"
wait_result $RUN h1 1 120
dispatch h1 $RUN 2 "$(script_spec "echo \$\$ > $PIDS/v2; exec sleep 60")"
wait_until 60 "step 2 started" test -s "$PIDS/v2"
agent_stop h1 120
vg_clean daemon
expect_eq "step 2 at the stop" "$(rres $RUN h1 2 .status)" aborted
AGENT_WRAP=
done_testing
