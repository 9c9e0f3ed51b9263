# Task runs, the agent's side (agent/runs.c): a dispatched step runs once,
# its output reaches etcd as chunks and its result (with the preview) is
# created, the claim goes; a restarted agent does not run it again; file
# steps fetch their content; and dispatches that are unsigned, forged,
# signed for another host or copied under another key are refused (said
# in the log and the report), never run.  The test plays leurad
# (tests/agent/runs.sh).
. "$LEURA_SRC/tests/agent/lib.sh"
. "$LEURA_SRC/tests/agent/runs.sh"
agent_test_start

agent_start h1
wait_until 30 "h1's heartbeat" heartbeat h1
RUN=$(date -u +r@%Y%m%d-%H%M%S-aaaaaa)

# ---- a step runs once; output, result, claim ----
dispatch h1 $RUN 0 "$(script_spec "echo x >> $ROOT/count; echo hello; \
echo oops >&2; printf 'caf\\\\303\\\\251 \\\\377\\\\n'; exit 3")"
wait_result $RUN h1 0
expect_eq "status" "$(rres $RUN h1 0 .status)" failed
expect_eq "exit_code" "$(rres $RUN h1 0 .exit_code)" 3
expect_eq "head" "$(rres $RUN h1 0 .head)" "$(printf 'hello\noops\ncafé \357\277\275')"
expect_eq "truncated" "$(rres $RUN h1 0 .truncated)" false
expect_eq "bytes" "$(rres $RUN h1 0 .bytes)" 19
expect_eq "attempts" "$(rres $RUN h1 0 .attempts)" 1
[ "$(rres $RUN h1 0 .chunks)" -ge 1 ] || fail "no chunks said"
expect_eq "chunks in etcd" "$(nchunks $RUN h1 0)" "$(rres $RUN h1 0 .chunks)"
rlog $RUN h1 0 >"$T/log0"
printf 'hello\noops\ncaf\303\251 \377\n' >"$T/want0"
cmp -s "$T/log0" "$T/want0" || fail "chunks: $(od -c "$T/log0" | head -3)"
etcd_has "$(ckey $RUN h1 0)" && fail "the claim is still there"
expect_eq "ran once" "$(cat "$ROOT/count")" x

# a step that succeeds, with LEURA_RUN in its environment
dispatch h1 $RUN 1 "$(script_spec "echo \$LEURA_RUN:\$LEURA_RUN_STEP")"
wait_result $RUN h1 1
expect_eq "status 1" "$(rres $RUN h1 1 .status)" changed
expect_eq "head 1" "$(rres $RUN h1 1 .head)" "$RUN:1"
expect_eq "log 1" "$(rlog $RUN h1 1)" "$RUN:1"

# a restarted agent does not run a step again (its result is there)
agent_stop h1
agent_start h1
wait_until 30 "h1's heartbeat again" heartbeat h1
dispatch h1 $RUN 2 "$(script_spec "echo after")"
wait_result $RUN h1 2
wait_until 20 "the restarted agent sees step 0 as done" \
    log_has h1 "step 0 of run $RUN was taken by this agent before"
expect_eq "ran once after a restart" "$(cat "$ROOT/count")" x

# ---- a file step: its content from P/desired/files/ ----
CONTENT='hello file'
SHA=$(printf %s "$CONTENT" | sha256sum | cut -c1-64)
etcd_put "/leura/desired/files/$SHA" "$CONTENT"
dispatch h1 $RUN 3 "{\"id\":\"task/t/3/f\",\"kind\":\"file\",\
\"dest\":\"$ROOT/f.txt\",\"sha256\":\"$SHA\",\"mode\":\"0600\"}"
wait_result $RUN h1 3
expect_eq "file step" "$(rres $RUN h1 3 .status)" changed
expect_eq "file content" "$(cat "$ROOT/f.txt")" "$CONTENT"
# its content missing from etcd: the step fails, saying so
dispatch h1 $RUN 4 "{\"id\":\"task/t/4/f\",\"kind\":\"file\",\
\"dest\":\"$ROOT/g.txt\",\"sha256\":\"$(printf %064d 0)\"}"
wait_result $RUN h1 4
expect_eq "missing content" "$(rres $RUN h1 4 .status)" failed
expect_has "missing content: error" "$(rres $RUN h1 4 .error)" "not in etcd"

# ---- refused dispatches: said, never run ----
# refused KEY TEXT: the log says KEY was refused with TEXT, the report
# names it, and no result was written
refused() {
	wait_until 20 "h1 refuses $1" log_has h1 "refusing the dispatch '$1'"
	grep -F "refusing the dispatch '$1'" "$T/agent-h1.log" >"$T/why"
	expect_in "$T/why" "$2"
	is_refused() { [ "$(obs h1 .refused.key)" = "$1" ]; }
	wait_until 20 "h1's report names $1" is_refused "$1"
}
PWN=$(script_spec "touch $ROOT/pwned")
# unsigned
K=$(dkey h1 $RUN 10)
etcd_put "$K" "$(dispatch_u h1 $RUN 10 "$PWN")"
refused "$K" "it is not signed"
# forged: changed after signing
K=$(dkey h1 $RUN 11)
etcd_put "$K" "$(run_sign h1 "$(dispatch_u h1 $RUN 11 \
    "$(script_spec "true")")" | sed "s|\"script\":\"true\"|\"script\":\"touch $ROOT/pwned\"|")"
refused "$K" "does not match"
# signed for another host, put under h1's prefix
K=$(dkey h1 $RUN 12)
etcd_put "$K" "$(run_sign h2 "$(dispatch_u h2 $RUN 12 "$PWN")")"
refused "$K" "does not match"
# signed for h1 but saying another host
K=$(dkey h1 $RUN 13)
etcd_put "$K" "$(run_sign h1 "$(dispatch_u h2 $RUN 13 "$PWN")")"
refused "$K" "not its key's"
# a valid dispatch copied under another step's key
K=$(dkey h1 $RUN 14)
etcd_put "$K" "$(run_sign h1 "$(dispatch_u h1 $RUN 15 "$PWN")")"
refused "$K" "not its key's"
# the refusal is said once, not on every event
n=$(log_count h1 "refusing the dispatch '$K'")
expect_eq "said once" "$n" 1
[ ! -e "$ROOT/pwned" ] || fail "a refused dispatch ran"
for s in 11 12 13 14; do
	has_result $RUN h1 $s && fail "refused step $s has a result"
done
# a refused key written again, well signed this time: it runs
dispatch h1 $RUN 10 "$(script_spec "echo fixed")"
wait_result $RUN h1 10
expect_eq "refused, then fixed" "$(rres $RUN h1 10 .head)" fixed
# a good one still runs after them
dispatch h1 $RUN 5 "$(script_spec "true")"
wait_result $RUN h1 5

agent_stop h1
done_testing
