#!/bin/sh
# bench/runlogs.sh [--mb N]: the run-log streaming benchmark (issue 14).
#
# Builds leura and leurad (Release), starts a private etcd and leurad
# (random free ports, temp dirs), and makes a step's output of N MB
# (default 100) of text lines.  Then, in one run:
#   floor     cat of the file to /dev/null;
#   etcd      the agent's half alone: the file put as 64 KiB chunks
#             under P/runs/log/ through etcd's JSON gateway (one
#             keep-alive connection, tests/server/logs_put.py), for a
#             run nobody follows;
#   follow    leura logs --follow --host web1 --step 0 RUN >/dev/null
#             started first, then the same chunks and the step's
#             result put: the time from the
#             first chunk to leura's exit (agent -> etcd -> leurad's
#             store -> chunked HTTP -> leura), and whether what leura
#             printed is the file, byte for byte (a second follow to a
#             file);
#   read      leura logs RUN of the packed run (from its archive).
# Prints each time, its MB/s and its ratio to the floor.
#
# Environment: LEURA_BENCH_BUILD (build dir, default build-bench-logs in
# the source tree), ETCD (default etcd), LEURA_BENCH_KEEP=1 keeps the
# work dir.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LEURA_BENCH_BUILD:-$src/build-bench-logs}
etcd=${ETCD:-etcd}
mb=100

while [ $# -gt 0 ]; do
	case $1 in
	--mb)
		[ $# -ge 2 ] || { echo "usage: $0 [--mb N]" >&2; exit 64; }
		mb=$2
		shift 2 ;;
	-h|--help)
		sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		echo "usage: $0 [--mb N]" >&2
		exit 64 ;;
	esac
done
case $mb in ''|*[!0-9]*|0) echo "bench: error: --mb wants a number" >&2; exit 64 ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/leura-bench-logs.XXXXXX")
. "$here/etcd.sh"		# start_etcd, stop_pid, free_port; etcd_pid=
leurad_pid=
# shellcheck disable=SC2317	# called by the trap
cleanup() {
	[ -z "$leurad_pid" ] || stop_pid "$leurad_pid"
	[ -z "$etcd_pid" ] || stop_pid "$etcd_pid"
	if [ "${LEURA_BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: work dir kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() {
	echo "bench: error: $*" >&2
	exit 1
}
now() { date +%s.%N; }
# rate SECONDS: MB/s of the file
rate() { echo "$mb $1" | awk '{ printf "%.1f", $1 / ($2 > 0 ? $2 : 1e-9) }'; }
ratio() { echo "$1 $2" | awk '{ printf "%.1f", $1 / ($2 > 0 ? $2 : 1e-9) }'; }

# ---- build
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
echo "bench: building leura and leurad (Release) in $build"
if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    >"$work/build.log" 2>&1 ||
   ! cmake --build "$build" --target leura leurad -j "$jobs" \
    >>"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	fail "cannot build leura and leurad"
fi
leura=$build/leura
leurad=$build/leurad
put="python3 $src/tests/server/logs_put.py"

# ---- etcd, leurad
start_etcd --quota-backend-bytes 8589934592
port=$(free_port)
pw=$work/admin-password
(umask 077 && od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$pw")
"$leurad" --etcd "$endpoint" --listen "127.0.0.1:$port" \
    --data-dir "$work/leurad" --admin-password-file "$pw" \
    </dev/null >"$work/leurad.log" 2>&1 &
leurad_pid=$!
url=http://127.0.0.1:$port
t=0
until curl -sf -m 1 -o /dev/null "$url/readyz"; do
	kill -0 "$leurad_pid" 2>/dev/null ||
	    { tail -n 20 "$work/leurad.log" >&2; fail "leurad died"; }
	[ $t -lt 300 ] || fail "leurad not ready in 30 s"
	sleep 0.1
	t=$((t + 1))
done
curl -sf -X POST "$url/v1/login" -H 'Content-Type: application/json' \
    -d "{\"user\":\"admin\",\"password\":\"$(cat "$pw")\"}" \
    >"$work/login.json" || fail "cannot log in as admin"
LEURA_TOKEN=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["token"])' "$work/login.json")
export LEURA_TOKEN LEURA_SERVER="$url"

# ---- the step's output: lines of text
python3 - "$work/out" "$mb" <<'PY'
import sys
left = int(sys.argv[2]) * 1000000
with open(sys.argv[1], "wb") as f:
    i = 0
    while left > 0:
        b = (b"%08d step output: the quick brown fox jumps over the lazy "
             b"dog\n" % i)[:left]
        f.write(b)
        left -= len(b)
        i += 1
PY

doc() {
	$put "$endpoint" /leura put "runs/docs/$1" "{\"id\":\"$1\",\"kind\":\"exec\",\"task\":null,\"by\":\"admin\",\"state\":\"$2\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"command\"}]}"
}
# one_run ID: put the chunks and the result, the run finalised after
one_run() {
	n=$($put "$endpoint" /leura chunks "$1" web1 0 "$work/out")
	$put "$endpoint" /leura put "runs/results/$1/web1/0000" \
	    "{\"status\":\"ok\",\"chunks\":$n,\"bytes\":$((mb * 1000000))}"
}

# ---- floor
t0=$(now); cat "$work/out" >/dev/null; t1=$(now)
floor=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')

# ---- etcd: the chunks alone
R0=r@20261207-000000-000000
doc $R0 running
t0=$(now); one_run $R0; t1=$(now)
tetcd=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
doc $R0 finalised

# ---- follow
R1=r@20261207-000001-000001
doc $R1 running
"$leura" logs --follow --host web1 --step 0 "$R1" >/dev/null \
    2>"$work/follow.err" &
fpid=$!
"$leura" logs --follow --host web1 --step 0 "$R1" >"$work/follow.out" \
    2>>"$work/follow.err" &
cpid=$!
sleep 0.5
t0=$(now)
one_run $R1
wait $fpid || fail "leura logs --follow: $(cat "$work/follow.err")"
t1=$(now)
wait $cpid || fail "leura logs --follow (copy): $(cat "$work/follow.err")"
tfollow=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
cmp -s "$work/follow.out" "$work/out" && same=yes || same=NO
doc $R1 finalised

# ---- read back from the archive
t=0
until [ -f "$work/leurad/logs/$R1.tar.gz" ]; do
	[ $t -lt 1200 ] || fail "run $R1 not packed in 120 s"
	sleep 0.1
	t=$((t + 1))
done
t0=$(now); "$leura" logs "$R1" >/dev/null; t1=$(now)
tread=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')

echo
echo "run logs of a step printing $mb MB ($(wc -l <"$work/out") lines), one run:"
printf '  %-44s %8.3f s %9s MB/s\n' "floor: cat to /dev/null" "$floor" "$(rate "$floor")"
printf '  %-44s %8.3f s %9s MB/s  %7sx the floor\n' \
    "etcd: the chunks put (the agent's half)" "$tetcd" "$(rate "$tetcd")" \
    "$(ratio "$tetcd" "$floor")"
printf '  %-44s %8.3f s %9s MB/s  %7sx the floor\n' \
    "follow: chunks -> leurad -> leura --follow" "$tfollow" \
    "$(rate "$tfollow")" "$(ratio "$tfollow" "$floor")"
printf '  %-44s %8.3f s %9s MB/s  %7sx the floor\n' \
    "read: leura logs RUN from the archive" "$tread" "$(rate "$tread")" \
    "$(ratio "$tread" "$floor")"
echo "  follow over the etcd half: $(ratio "$tfollow" "$tetcd")x;" \
    "the followed output is the step's, byte for byte: $same"
[ "$same" = yes ]
