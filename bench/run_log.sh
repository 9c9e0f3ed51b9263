#!/bin/sh
# bench/run_log.sh [--mb N]: log streaming of a task-run step (issue 14),
# the agent's side.
#
# Builds leura-agent (Release) in build-bench-runs/ (or
# $LEURA_BENCH_BUILD), starts a private etcd and one agent
# (--insecure-unsigned: the bench plays leurad, and a signature check
# costs one Ed25519 verification per step), and dispatches one step that
# prints N MB (default 100; `head -c N /dev/zero | tr '\0' a`) with a
# log_max above N, so that every byte is meant to reach etcd as 64 KiB
# chunks.  It measures
#   stream   from the dispatch's put to the result in etcd: the step's
#            run with its output streamed (claim, chunks, result);
#   floor    the same command with its output through `cat` to
#            /dev/null;
# and prints both in MB/s, their ratio, the bytes that reached etcd (all
# of them, unless etcd took them more slowly than the step wrote them:
# then at most 1 MiB waits in the agent and the rest is dropped, counted
# and said in the chunks), and the agent's peak RSS (VmHWM) before and
# after.  Exits 0 when the benchmark ran, 1 when something failed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LEURA_BENCH_BUILD:-$src/build-bench-runs}
etcd=${ETCD:-etcd}
mb=100

while [ $# -gt 0 ]; do
	case $1 in
	--mb)
		[ $# -ge 2 ] || { echo "usage: $0 [--mb N]" >&2; exit 64; }
		mb=$2
		shift 2 ;;
	-h|--help)
		sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		echo "usage: $0 [--mb N]" >&2
		exit 64 ;;
	esac
done
case $mb in
''|*[!0-9]*|0) echo "bench: error: --mb needs a positive number" >&2
	exit 64 ;;
esac
[ "$mb" -le 1000 ] || { echo "bench: error: at most 1000 MB" >&2; exit 64; }
for t in "$etcd" curl; do
	command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || {
		echo "bench: error: no '$t' (tools/bootstrap installs" \
		    "etcd-server and curl)" >&2
		exit 1
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/leura-bench-runlog.XXXXXX")
. "$here/etcd.sh"		# start_etcd, stop_pid, free_port; etcd_pid=
agent_pid=
# shellcheck disable=SC2317	# called by the trap
cleanup() {
	[ -z "$agent_pid" ] || stop_pid "$agent_pid"
	[ -z "$etcd_pid" ] || stop_pid "$etcd_pid"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "bench: error: $*" >&2
	exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
b64() { printf %s "$1" | base64 -w0; }
# get KEY: its value, base64 (empty when absent)
get() {
	curl -s -m 10 -X POST "$endpoint/v3/kv/range" \
	    -d "{\"key\":\"$(b64 "$1")\"}" |
	    sed -n 's/.*"value":"\([^"]*\)".*/\1/p'
}

jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
echo "bench: building leura-agent (Release) in $build"
if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    >"$work/build.log" 2>&1 ||
   ! cmake --build "$build" --target leura-agent -j "$jobs" \
    >>"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	fail "cannot build leura-agent"
fi
agent=$build/leura-agent

start_etcd --quota-backend-bytes 4294967296
"$agent" --host h1 --etcd "$endpoint" --state-dir "$work/state" \
    --insecure-unsigned </dev/null >"$work/agent.log" 2>&1 &
agent_pid=$!
t=0
while [ -z "$(get /leura/agents/h1)" ]; do
	t=$((t + 1))
	[ $t -lt 300 ] || { tail -n 20 "$work/agent.log" >&2
		fail "the agent did not start"; }
	sleep 0.1
done
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$agent_pid/status"; }

bytes=$((mb * 1000000))
cmd="head -c $bytes /dev/zero | tr '\\\\0' a"
run=$(date -u +r@%Y%m%d-%H%M%S-b10b10)
key=/leura/runs/dispatch/h1/$run/0000
u=$(printf '{"attempt":1,"deadline":null,"host":"h1","log_max":%d,'\
'"run":"%s","spec":{"id":"bench/0","kind":"script","script":"%s"},'\
'"step":0,"task":null}' $((bytes + 1048576)) "$run" "$cmd")
hwm0=$(hwm)
t0=$(now_ms)
curl -sf -m 10 -X POST "$endpoint/v3/kv/put" \
    -d "{\"key\":\"$(b64 "$key")\",\"value\":\"$(b64 "$u")\"}" \
    >/dev/null || fail "cannot put the dispatch"
res=/leura/runs/results/$run/h1/0000
t=0
while [ -z "$(get "$res")" ]; do
	t=$((t + 1))
	[ $t -lt 60000 ] || fail "no result after 600 s"
	sleep 0.01
done
t1=$(now_ms)
hwm1=$(hwm)
result=$(get "$res" | base64 -d)

t2=$(now_ms)
sh -c "head -c $bytes /dev/zero | tr '\\0' a | cat >/dev/null"
t3=$(now_ms)

# the bytes in etcd: the chunks' values, base64, summed
p=/leura/runs/log/$run/h1/0000/
kept=$(curl -s -m 120 -X POST "$endpoint/v3/kv/range" -d "{\"key\":\
\"$(b64 "$p")\",\"range_end\":\"$(b64 "${p%/}0")\"}" |
    grep -o '"value":"[^"]*"' |
    awk '{ v = substr($0, 10, length($0) - 10); n = length(v) * 3 / 4;
	if (v ~ /==$/) n -= 2; else if (v ~ /=$/) n -= 1; s += n }
	END { printf "%d", s }')
ms=$((t1 - t0))
fms=$((t3 - t2))
[ $ms -gt 0 ] || ms=1
[ $fms -gt 0 ] || fms=1
echo "result: $result" | cut -c1-200
awk -v b="$bytes" -v ms="$ms" -v fms="$fms" -v kept="$kept" \
    -v h0="$hwm0" -v h1="$hwm1" 'BEGIN {
	printf "stream  %6d ms  %8.1f MB/s  (%d MB printed, %.1f MB in etcd)\n",
	    ms, b / ms / 1000, b / 1e6, kept / 1e6
	printf "floor   %6d ms  %8.1f MB/s  (cat to /dev/null)\n", fms,
	    b / fms / 1000
	printf "ratio   %.1fx the floor\n", ms / fms
	printf "agent   VmHWM %d kB before, %d kB after\n", h0, h1
}'
