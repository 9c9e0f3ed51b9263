# Order between hosts, kept by the agents through their reports:
#   - depends_on: web on w1 depends on db on d1, whose converge takes
#     ~1.5 s: w1 reports waiting for it, and web's first step starts only
#     after db's validate step has ended;
#   - rollout max_parallel: 1 over r1 r2 r3: one host at a time, in name
#     order: their runs of the service do not overlap;
#   - a failure stops a rollout: with max_parallel: 2, r2 failing keeps
#     r3 waiting ("the rollout of ... stopped: it failed on r2") though
#     its own gate (r1) is open; the fix lets it go on.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  d1: {groups: [dbs]}
  w1: {groups: [webs]}
  r1: {groups: [rs]}
  r2: {groups: [rs]}
  r3: {groups: [rs]}
groups:
  all:
    vars: {root: $ROOT}
EOF
cat >"$R/services.yml" <<'EOF'
db: {scheduling_group: dbs}
web: {scheduling_group: webs, depends_on: [db]}
roll: {scheduling_group: rs, rollout: {max_parallel: 1}}
roll2: {scheduling_group: rs, rollout: {max_parallel: 2}, params: {bad: none}}
EOF
mkdir -p "$R/roles/db" "$R/roles/web" "$R/roles/roll" "$R/roles/roll2"
cat >"$R/roles/db/role.yml" <<'EOF'
converge:
  - name: init
    script: sleep 1.5; echo db > {{ host.vars.root }}/db.data
validate:
  - name: ready
    script: test -f {{ host.vars.root }}/db.data && date +%s%N > {{ host.vars.root }}/db.ready
EOF
cat >"$R/roles/web/role.yml" <<'EOF'
converge:
  - name: start
    script: date +%s%N > {{ host.vars.root }}/web.start
validate:
  - name: up
    script: test -f {{ host.vars.root }}/web.start
EOF
cat >"$R/roles/roll/role.yml" <<'EOF'
converge:
  - name: work
    script: sleep 0.3
validate:
  - name: check
    script: "true"
EOF
cat >"$R/roles/roll2/role.yml" <<'EOF'
converge:
  - name: work
    script: |
      echo "roll2 on $LEURA_HOST" >> {{ host.vars.root }}/roll2-$LEURA_HOST.log
      [ "$LEURA_HOST" != "{{ params.bad }}" ] || { echo "bad host"; exit 5; }
      # r1 is slow while r2 fails, so that r2 has failed when r3 looks
      [ "$LEURA_HOST" != r1 ] || [ "{{ params.bad }}" != r2 ] || sleep 2
EOF
commit_all init
apply

# the dependent host first, so that it has to wait
agent_start w1
for h in r3 r2 r1; do
	agent_start $h
done
wait_until 30 "w1 to wait for db on d1" eval \
    '[ "$(obs w1 .waiting_for.host)" = d1 ]'
expect_has "w1: waiting" "$(obs w1 .waiting)" \
    "web waits for db to validate on d1"
expect_eq "w1: waiting for" "$(obs w1 .waiting_for.service)" db
expect_eq "w1: state while waiting" "$(obs w1 .state)" converging
[ -e "$ROOT/web.start" ] && fail "web started before db ran at all"
agent_start d1
for h in d1 w1 r1 r2 r3; do
	wait_state $h converged 1
done

# depends_on: web's first step after db's validate step
db_end=$(($(step d1 db/db/validate/ready started_unix_ms) +
    $(step d1 db/db/validate/ready duration_ms)))
web_start=$(step w1 web/web/converge/start started_unix_ms)
[ "$web_start" -ge "$db_end" ] ||
    fail "web started at $web_start, before db validated at $db_end"
[ "$(cat "$ROOT/web.start")" -gt "$(cat "$ROOT/db.ready")" ] ||
    fail "web.start is older than db.ready"
obs w1 .waiting >/dev/null && fail "w1: still waiting once converged"

# max_parallel: 1: r1, then r2, then r3, never two at once
prev_end=0
for h in r1 r2 r3; do
	s=$(step $h roll/roll/converge/work started_unix_ms)
	e=$(($(step $h roll/roll/validate/check started_unix_ms) +
	    $(step $h roll/roll/validate/check duration_ms)))
	[ "$s" -ge "$prev_end" ] ||
	    fail "roll on $h started at $s, before the previous host" \
	    "ended at $prev_end"
	prev_end=$e
done

# a failure stops the rollout of roll2: r2 fails; r3, whose gate names r1
# (validated, 2 s later), waits for the rollout to be fixed
sed -i 's/bad: none/bad: r2/' "$R/services.yml"
commit_all "roll2 fails on r2"
apply
wait_state r1 converged 2
wait_state r2 failed 2
expect_eq "r2: failed step" "$(obs r2 '.failed_steps[0].id')" \
    roll2/roll2/converge/work
expect_eq "r2: exit" "$(obs r2 '.failed_steps[0].exit')" 5
wait_until 30 "r3 to report the rollout stopped" eval \
    '[ "$(obs r3 .waiting_for.host)" = r2 ]'
expect_has "r3: waiting" "$(obs r3 .waiting)" \
    "the rollout of roll2 stopped: it failed on r2"
expect_eq "r3: waiting for" "$(obs r3 .waiting_for.service)" roll2
expect_eq "r3: state" "$(obs r3 .state)" converging
expect_eq "r3: generation" "$(obs r3 .generation)" 2
sleep 1
expect_eq "r3: roll2 ran at generation 2" \
    "$(wc -l <"$ROOT/roll2-r3.log")" 1

# the fix: r3 goes on
sed -i 's/bad: r2/bad: fixed/' "$R/services.yml"
commit_all "roll2 fixed"
apply
for h in r1 r2 r3; do
	wait_state $h converged 3
done
expect_eq "r3: roll2 ran again" "$(wc -l <"$ROOT/roll2-r3.log")" 2
for h in d1 w1 r1 r2 r3; do
	agent_stop $h
done
done_testing
