# Task runs: a step printing 1 GB (issue 14's fault list).  The agent's
# memory stays bounded (its peak RSS, VmHWM, grows by less than
# RSS_BOUND_KB over the step; the output goes through a fixed 64 KiB read
# buffer, at most 1 MiB waits for etcd, and nothing is kept past the
# dispatch's log_max), the chunks stop at log_max, the result counts every
# byte, says truncated, and its preview is bounded (4 KiB each side).
. "$LEURA_SRC/tests/agent/lib.sh"
. "$LEURA_SRC/tests/agent/runs.sh"
agent_test_start

BYTES=1000000000
LOG_MAX=4194304
# 16 MiB: the agent's own bound is about 1 MiB of pending output and the
# 64 KiB chunks in flight; the rest is slack for allocator and sanitizer
# noise (the sanitized build keeps freed memory in quarantine for a while)
RSS_BOUND_KB=16384

# a sanitized agent keeps freed memory in quarantine (256 MB by default),
# which is not the agent's: keep it small here
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
agent_start h1
wait_until 30 "h1's heartbeat" heartbeat h1
P=$(agent_pid h1)
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$P/status"; }
# a small step first, so that the loop, curl and the step runner are warm
RUN=$(date -u +r@%Y%m%d-%H%M%S-cccccc)
dispatch h1 $RUN 0 "$(script_spec "echo warm")"
wait_result $RUN h1 0
HWM0=$(hwm)

t0=$(now_ms)
dispatch h1 $RUN 1 "$(script_spec "yes leura | head -c $BYTES")" $LOG_MAX
wait_result $RUN h1 1 240
t1=$(now_ms)
HWM1=$(hwm)
echo "1 GB step: $((t1 - t0)) ms; agent VmHWM ${HWM0} kB before, \
${HWM1} kB after (bound: +${RSS_BOUND_KB} kB)"
[ $((HWM1 - HWM0)) -lt $RSS_BOUND_KB ] ||
    fail "the agent's memory grew by $((HWM1 - HWM0)) kB on a 1 GB step"
expect_eq "status" "$(rres $RUN h1 1 .status)" changed
expect_eq "bytes" "$(rres $RUN h1 1 .bytes)" $BYTES
expect_eq "truncated" "$(rres $RUN h1 1 .truncated)" true
H=$(rres $RUN h1 1 .head)
[ ${#H} -eq 4096 ] || fail "head: ${#H} bytes"
TL=$(rres $RUN h1 1 .tail)
[ ${#TL} -eq 4096 ] || fail "tail: ${#TL} bytes"
expect_has "head" "$H" "leura
leura"
rlog $RUN h1 1 >"$T/log1"
n=$(wc -c <"$T/log1")
# log_max of output, lines where etcd was too slow (at most one a
# chunk), then the line that says what was not kept
[ "$n" -ge $LOG_MAX ] && [ "$n" -lt $((LOG_MAX + 200 * (LOG_MAX / 65536 + 2))) ] ||
    fail "chunks hold $n bytes, expected $LOG_MAX and a few lines"
tail -n 1 "$T/log1" >"$T/last"
expect_in "$T/last" "bytes of output past the log's limit of $LOG_MAX bytes"
expect_eq "chunks" "$(nchunks $RUN h1 1)" "$(rres $RUN h1 1 .chunks)"

agent_stop h1
done_testing
