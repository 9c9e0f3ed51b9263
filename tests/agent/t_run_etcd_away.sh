# Task runs with etcd down mid-step (issue 14's fault list): the step goes
# on, its output waits in the agent (under 1 MiB: nothing dropped), and
# once etcd is back every chunk and then the result arrive, in order,
# with the whole output; the step ran once.  SIGTERM while etcd hangs
# stops the agent within its bounds; the step is then reported lost.
. "$LEURA_SRC/tests/agent/lib.sh"
. "$LEURA_SRC/tests/agent/runs.sh"
agent_test_start
RUN=$(date -u +r@%Y%m%d-%H%M%S-ffffff)

agent_start h1
wait_until 30 "h1's heartbeat" heartbeat h1
dispatch h1 $RUN 0 "$(script_spec "echo x >> $ROOT/count; i=0; \
while [ \$i -lt 40 ]; do echo line \$i; i=\$((i + 1)); sleep 0.05; \
[ \$i = 5 ] && while [ ! -e $ROOT/go ]; do sleep 0.05; done; done; \
touch $ROOT/done")"
first() { [ "$(nchunks $RUN h1 0)" -ge 1 ]; }
wait_until 30 "the first chunk" first
etcd_stop
touch "$ROOT/go"
wait_until 30 "the step to end while etcd is down" test -e "$ROOT/done"
etcd_restart
wait_result $RUN h1 0 60
expect_eq "status" "$(rres $RUN h1 0 .status)" changed
expect_eq "truncated" "$(rres $RUN h1 0 .truncated)" false
i=0
while [ $i -lt 40 ]; do echo "line $i"; i=$((i + 1)); done >"$T/want"
rlog $RUN h1 0 >"$T/got"
cmp -s "$T/got" "$T/want" || fail "the chunks lack output: $(wc -l <"$T/got") lines"
expect_eq "bytes" "$(rres $RUN h1 0 .bytes)" "$(wc -c <"$T/want")"
expect_eq "chunks" "$(nchunks $RUN h1 0)" "$(rres $RUN h1 0 .chunks)"
expect_eq "ran once" "$(cat "$ROOT/count")" x
etcd_has "$(ckey $RUN h1 0)" && fail "the claim is still there"

# SIGTERM while a step runs and etcd hangs (SIGSTOP: it answers
# nothing): the agent aborts the step and stops within its bounds, and
# once etcd is back the step has one result: 'lost' from the restarted
# agent (the marker stayed), or 'aborted' when the stopping agent's
# request had reached etcd's socket before it gave up (a stopped etcd
# still takes bytes into its buffer, and applies them once resumed);
# never a second run
dispatch h1 $RUN 1 "$(script_spec "echo \$\$ >> $PIDS/s1; exec sleep 60")"
wait_until 30 "step 1 started" test -s "$PIDS/s1"
etcd_pause
t0=$(now_ms)
agent_stop h1 9
echo "stopped in $(($(now_ms) - t0)) ms with etcd hung"
log_has h1 "stopping took over" && fail "the stop ran into its 10 s bound"
etcd_resume
agent_start h1
wait_result $RUN h1 1 30
case $(rres $RUN h1 1 .status) in
lost|aborted) ;;
*) fail "after a stop etcd missed: got '$(rres $RUN h1 1 .status)'" ;;
esac
[ "$(wc -l <"$PIDS/s1")" = 1 ] || fail "step 1 ran again"
agent_stop h1
done_testing
