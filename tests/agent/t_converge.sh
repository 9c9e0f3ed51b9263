# Three hosts converge one deploy: the files their steps write (content,
# mode), `leura status`, the reports and per-step results in etcd, the
# heartbeat, the step logs packed in the state dir, the state dir's lock,
# SIGTERM (exit 0, heartbeat gone), a restart that writes nothing again,
# --once, and --once for a host with no desired state (exit 1).
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {zone: a}}
  h2: {vars: {zone: b}}
  h3: {vars: {zone: c}}
groups:
  all:
    vars: {root: $ROOT}
EOF
cat >"$R/services.yml" <<'EOF'
app:
  params: {greeting: hello}
EOF
mkdir -p "$R/roles/app/files"
cat >"$R/roles/app/files/app.conf" <<'EOF'
# app on {{ host.name }} (zone {{ host.vars.zone }})
greeting = {{ params.greeting }}
EOF
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: conf
    file:
      src: files/app.conf
      dest: "{{ host.vars.root }}/{{ host.name }}/etc/app.conf"
      mode: "0640"
      template: true
  - name: plain
    file: {content: "no template {{ here }}\n", dest: "{{ host.vars.root }}/{{ host.name }}/plain.txt"}
  - name: init
    script: |
      echo "init on $LEURA_HOST gen $LEURA_GENERATION step $LEURA_STEP_ID" \
          >> {{ host.vars.root }}/{{ host.name }}/init.log
      echo some output
validate:
  - name: check
    script: grep -q 'greeting = hello' {{ host.vars.root }}/{{ host.name }}/etc/app.conf
EOF
commit_all init
apply
[ "$GEN" = 1 ] || fail "first apply: generation $GEN"

agent_start h1
agent_start h2
agent_start h3
for h in h1 h2 h3; do
	wait_state $h converged 1
done

for h in h1 h2 h3; do
	f=$ROOT/$h/etc/app.conf
	if [ ! -f "$f" ]; then
		fail "$h: $f missing"
		continue
	fi
	z=$(case $h in h1) echo a ;; h2) echo b ;; h3) echo c ;; esac)
	printf '# app on %s (zone %s)\ngreeting = hello\n' "$h" "$z" >"$T/want"
	cmp -s "$f" "$T/want" || fail "$h: app.conf: $(cat "$f")"
	expect_eq "$h: mode of app.conf" "$(stat -c %a "$f")" 640
	expect_eq "$h: mode of plain.txt (default)" \
	    "$(stat -c %a "$ROOT/$h/plain.txt")" 644
	expect_eq "$h: plain.txt" "$(cat "$ROOT/$h/plain.txt")" \
	    "no template {{ here }}"
	expect_eq "$h: init.log" "$(cat "$ROOT/$h/init.log")" \
	    "init on $h gen 1 step app/app/converge/init"

	# the report
	expect_eq "$h: report generation" "$(obs $h .generation)" 1
	expect_eq "$h: report head" "$(obs $h .head)" 1
	expect_eq "$h: app validated" "$(obs $h .services.app.validated)" true
	expect_eq "$h: failed_steps" "$(obs $h '.failed_steps|length')" 0
	expect_eq "$h: run steps" "$(obs $h .run.steps)" 4
	expect_eq "$h: run done" "$(obs $h .run.done)" 4

	# the results: every step ran; the converge steps changed
	# something, the validate step that passed did not (a check)
	expect_eq "$h: results generation" "$(res $h .generation)" 1
	expect_eq "$h: results run" "$(res $h .run)" "$(obs $h .run.id)"
	expect_eq "$h: results count" "$(res $h '.steps|length')" 4
	for s in converge/conf converge/plain converge/init; do
		expect_eq "$h: $s status" "$(step $h app/app/$s status)" changed
		expect_eq "$h: $s changed" "$(step $h app/app/$s changed)" true
	done
	expect_eq "$h: check status" "$(step $h app/app/validate/check \
	    status)" ok
	expect_eq "$h: check changed" "$(step $h app/app/validate/check \
	    changed)" false
	expect_eq "$h: check exit" "$(step $h app/app/validate/check exit)" 0
	log_has $h "generation 1: converged in" ||
	    fail "$h: no end-of-run line in its log"
	expect_has "$h: the end-of-run line" "$(grep "generation 1: converged" \
	    "$T/agent-$h.log")" "(4 steps, 3 changed)"

	expect_eq "$h: init exit" "$(step $h app/app/converge/init exit)" 0
	expect_has "$h: init output" \
	    "$(step $h app/app/converge/init output)" "some output"
	st=$(step $h app/app/converge/init started_unix_ms)
	[ "$st" -ge "$(obs $h .run.started_unix_ms)" ] ||
	    fail "$h: init started before its run"

	# the step logs, packed under the run's id
	run_id=$(obs $h .run.id)
	tgz=$T/state/$h/logs/$run_id.tar.gz
	if poll 10 test -f "$tgz"; then
		tar -xzf "$tgz" -O "$run_id/manifest.json" >"$T/manifest" ||
		    fail "$h: no manifest in $tgz"
		expect_eq "$h: manifest host" \
		    "$("$TJSON" .host <"$T/manifest")" "$h"
		tar -xzf "$tgz" -O --wildcards "$run_id/*.log" \
		    >"$T/logs" 2>&1 || fail "$h: no step logs in $tgz"
		expect_in "$T/logs" "some output"
	else
		fail "$h: no log archive $tgz"
		ls -lR "$T/state/$h" >&2
	fi
done

# leura status: every host converged, every agent up
run 0 "$LEURA" -C "$R" status
for h in h1 h2 h3; do
	grep -Eq "^$h +up +converged +1/1" "$T/out" ||
	    fail "status: $h not up and converged"
done
grep -Eq "^app +converged +3" "$T/out" || fail "status: service app"
run 0 "$LEURA" -C "$R" status --json
[ "$("$TJSON" .hosts.h1.state <"$T/out")" = converged ] ||
    fail "status --json: h1 not converged"
[ "$("$TJSON" .services.app.state <"$T/out")" = converged ] ||
    fail "status --json: app not converged"

# one agent per state dir: a second one is refused while h1's runs
run 1 "$LEURA_AGENT" --host h1 --state-dir "$T/state/h1" \
    --etcd "$ETCD_ENDPOINT" --once
expect_in "$T/err" "another leura-agent (pid $(agent_pid h1)) uses"

# the same commit applied again: nothing to do, nothing runs again
apply
expect_in "$T/out" "No changes"

# SIGTERM: exit 0, heartbeat revoked
heartbeat h1 || fail "h1: no heartbeat while running"
agent_stop h1
heartbeat h1 && fail "h1: heartbeat left after SIGTERM"
run 3 "$LEURA" -C "$R" status
expect_in "$T/out" "(its last report: converged at generation 1)"
grep -Eq "^h1 +down +unknown" "$T/out" || fail "status: h1 not down"

# restarted: the same desired state, nothing is written again
before=$(stat -c %Y.%i "$ROOT/h1/etc/app.conf")
n=$(log_count h1 "generation 1: converged")
agent_start h1
wait_until 30 "h1 restarted and converged" \
    log_more h1 "generation 1: converged" "$n"
wait_state h1 converged 1
expect_eq "h1 restart: app.conf rewritten" \
    "$(stat -c %Y.%i "$ROOT/h1/etc/app.conf")" "$before"
expect_eq "h1 restart: init ran again" "$(wc -l <"$ROOT/h1/init.log")" 1
agent_stop h1
agent_stop h2

# --once from scratch (no state dir, no files): one run, then exit 0
agent_stop h3
rm -rf "$T/state/h3" "$ROOT/h3"
agent_start h3 --once
agent_wait h3 30
expect_eq "h3 --once: exit status" "$AGENT_RC" 0
[ -f "$ROOT/h3/etc/app.conf" ] || fail "h3 --once: app.conf not written"
expect_eq "h3 --once: report" "$(obs h3 .state)/$(obs h3 .run.done)" \
    converged/4
heartbeat h3 && fail "h3 --once: heartbeat left after it exited"

# --once for a host etcd has no desired state for, and nothing cached
run 1 timeout 30 "$LEURA_AGENT" --host nohost --state-dir "$T/state/nohost" \
    --etcd "$ETCD_ENDPOINT" --once
expect_in "$T/err" "no desired state for host nohost under /leura"
done_testing
