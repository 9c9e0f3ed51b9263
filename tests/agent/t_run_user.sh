# Task runs: a step with run_as runs as that user (as root; `nobody`),
# like converge steps (t_run_as.sh); not root, it fails saying the agent
# must run as root, and the test exits 77 (skipped) after checking that.
. "$LEURA_SRC/tests/agent/lib.sh"
. "$LEURA_SRC/tests/agent/runs.sh"
if ! id nobody >/dev/null 2>&1; then
	echo "SKIP: no user 'nobody'" >&2
	exit 77
fi
agent_test_start
chmod 0711 "$T"
chmod 0755 "$ROOT"
mkdir -m 1777 "$ROOT/shared"
RUN=$(date -u +r@%Y%m%d-%H%M%S-dddddd)

agent_start h1
wait_until 30 "h1's heartbeat" heartbeat h1
if [ "$(id -u)" -ne 0 ]; then
	dispatch h1 $RUN 0 '{"id":"task/t/0/s","kind":"script","script":"id -u","run_as":"root"}'
	wait_result $RUN h1 0
	expect_eq "not root: status" "$(rres $RUN h1 0 .status)" failed
	expect_has "not root: error" "$(rres $RUN h1 0 .error)" \
	    "needs leura-agent to run as root"
	agent_stop h1
	[ "$nfail" -eq 0 ] || done_testing
	echo "SKIP: not root: run_as as another user is tested as root only" >&2
	exit 77
fi
dispatch h1 $RUN 0 "{\"id\":\"task/t/0/s\",\"kind\":\"script\",\
\"script\":\"id -un > $ROOT/shared/who; id -u\",\"run_as\":\"nobody\"}"
wait_result $RUN h1 0
expect_eq "status" "$(rres $RUN h1 0 .status)" changed
expect_eq "who" "$(cat "$ROOT/shared/who")" nobody
expect_eq "output" "$(rlog $RUN h1 0)" "$(id -u nobody)"
# an unknown user: the step fails, saying so
dispatch h1 $RUN 1 '{"id":"task/t/1/s","kind":"script","script":"true","run_as":"no-such-user-x"}'
wait_result $RUN h1 1
expect_eq "unknown user" "$(rres $RUN h1 1 .status)" failed
expect_has "unknown user: error" "$(rres $RUN h1 1 .error)" "no-such-user-x"
agent_stop h1
done_testing
