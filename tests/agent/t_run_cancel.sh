# Task runs, the agent's faults (agent/runs.c): a dispatch deleted while
# its step runs aborts the step (its process group ends, result
# "aborted"); kill -9 of the agent mid-step, then a restart: the step is
# reported "lost" and never run again (a counter file says how often it
# started); a step whose claim is taken (another agent's, or leurad's
# result is there) is not run; SIGTERM aborts a running step with a
# result that says the agent stopped; more steps than --run-parallel
# wait their turn.
. "$LEURA_SRC/tests/agent/lib.sh"
. "$LEURA_SRC/tests/agent/runs.sh"
agent_test_start

agent_start h1
wait_until 30 "h1's heartbeat" heartbeat h1
RUN=$(date -u +r@%Y%m%d-%H%M%S-bbbbbb)

# ---- dispatch deleted mid-step: aborted ----
dispatch h1 $RUN 0 "$(script_spec "echo \$\$ > $PIDS/s0; echo started; \
exec sleep 60")"
wait_until 20 "step 0 started" test -s "$PIDS/s0"
wait_until 20 "the claim of step 0" etcd_has "$(ckey $RUN h1 0)"
log0() { [ "$(rlog $RUN h1 0)" = started ]; }
wait_until 20 "step 0's output streamed while it runs" log0
etcd_del "$(dkey h1 $RUN 0)"
wait_result $RUN h1 0 20
expect_eq "aborted" "$(rres $RUN h1 0 .status)" aborted
expect_has "aborted: why" "$(rres $RUN h1 0 .error)" "cancelled"
group_alive "$(cat "$PIDS/s0")" && fail "step 0's process group lives on"
etcd_has "$(ckey $RUN h1 0)" && fail "step 0's claim is still there"

# ---- a claim already taken, a result already there: not run ----
etcd_put "$(ckey $RUN h1 1)" '{"started":"x","pid":1,"lease":1}'
dispatch h1 $RUN 1 "$(script_spec "touch $ROOT/ran1")"
etcd_put "$(reskey $RUN h1 2)" '{"status":"lost"}'
dispatch h1 $RUN 2 "$(script_spec "touch $ROOT/ran2")"
wait_until 20 "step 1 seen as taken" \
    log_has h1 "step 1 of run $RUN is claimed or done already"
wait_until 20 "step 2 seen as done" \
    log_has h1 "step 2 of run $RUN is claimed or done already"
[ ! -e "$ROOT/ran1" ] || fail "a step claimed elsewhere ran"
[ ! -e "$ROOT/ran2" ] || fail "a step with a result ran"

# ---- kill -9 mid-step, restart: lost, never run again ----
dispatch h1 $RUN 3 "$(script_spec "echo x >> $ROOT/count3; \
echo \$\$ > $PIDS/s3; exec sleep 60")"
wait_until 20 "step 3 started" test -s "$PIDS/s3"
agent_kill9 h1
agent_start h1
wait_result $RUN h1 3 30
expect_eq "lost" "$(rres $RUN h1 3 .status)" lost
expect_has "lost: why" "$(rres $RUN h1 3 .error)" "restarted"
expect_eq "step 3 started once" "$(cat "$ROOT/count3")" x
# the markers stay (a step is never run twice, even put back with its
# result deleted) until their run is older than the agent remembers
ls "$T/state/h1/runs/" >"$T/marks"
grep -qx "$RUN.0003" "$T/marks" || fail "no marker of step 3: $(cat "$T/marks")"
_p=/leura/runs/results/$RUN/h1/0003
curl -sf -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/deleterange" -d "{\"key\":\
\"$(printf %s "$_p" | base64 -w0)\"}" >/dev/null || fail "cannot delete $_p"
agent_stop h1
dispatch h1 $RUN 3 "$(script_spec "echo y >> $ROOT/count3")"
agent_start h1
wait_result $RUN h1 3 30
expect_eq "a replayed step: lost" "$(rres $RUN h1 3 .status)" lost
expect_eq "step 3 ran once, replayed too" "$(cat "$ROOT/count3")" x
kill -KILL "-$(cat "$PIDS/s3")" 2>/dev/null || :

# ---- more steps than --run-parallel: they wait, all run ----
agent_stop h1
agent_start h1 --run-parallel 2
wait_until 30 "h1's heartbeat again" heartbeat h1
mkdir "$ROOT/live"
for s in 4 5 6 7 8; do
	dispatch h1 $RUN $s "$(script_spec "echo \$\$ >> $ROOT/par; \
touch $ROOT/live/\$\$; ls $ROOT/live | wc -l >> $ROOT/seen; sleep 0.5; \
rm $ROOT/live/\$\$")"
done
for s in 4 5 6 7 8; do
	wait_result $RUN h1 $s 30
	expect_eq "step $s" "$(rres $RUN h1 $s .status)" changed
done
expect_eq "five ran" "$(wc -l <"$ROOT/par")" 5
expect_eq "at most 2 at once" "$(sort -n "$ROOT/seen" | tail -n 1 |
    awk '$1 > 2 { print "more" } $1 <= 2 { print "ok" }')" ok

# ---- SIGTERM mid-step: aborted, the agent said so ----
dispatch h1 $RUN 9 "$(script_spec "echo \$\$ > $PIDS/s9; exec sleep 60")"
wait_until 20 "step 9 started" test -s "$PIDS/s9"
agent_stop h1
wait_result $RUN h1 9 5
expect_eq "stopped: aborted" "$(rres $RUN h1 9 .status)" aborted
expect_has "stopped: why" "$(rres $RUN h1 9 .error)" "leura-agent stopped"
group_alive "$(cat "$PIDS/s9")" && fail "step 9's process group lives on"

done_testing
