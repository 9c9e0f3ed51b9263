#!/bin/sh
# bench/runs.sh [-n RUNS] [--agents N] [--burst N] [--burst-hosts K]
#               [--strict]: the task-run benchmark (issue 14).
#
# Builds leura, leurad and leura-agent (Release) and bench/runs_client.c,
# writes a config repo of N hosts (default 50, node01...) in one group
# and a task 'noop' with one step, `true`, on all of them (dedupe_window:
# 0), starts a private etcd on 127.0.0.1 (random free ports, temp data
# dir), applies it, starts leurad (--source the repo, --signing-key) and
# one leura-agent per host (distinct --host names, each its state dir,
# all on this machine), waits for every agent's heartbeat, and logs in.
# Then:
#   latency  RUNS times (default 20) one run of 'noop' on every host,
#            from the POST to the poll (every 5 ms) that sees it
#            finalised: p50 and p99;
#   floor    RUNS times the same command started N times at once from
#            one process (fork + exec `true`) and waited for: p50, p99;
#   burst    1,000 runs (--burst) POSTed at once by 8 client threads
#            ({"force":true}, each run on K hosts round-robin: --burst-
#            hosts, default 1), then waited for: runs finalised per
#            second from the first POST to the last run finalised, and
#            leurad's peak RssAnon (sampled every 10 ms) against its
#            RssAnon before the burst.
# Prints the figures and the ratios (run / floor; the issue sets no
# figure to reach), and one check marked PASS or MISS: every run
# succeeded on every host.
#
# Exits 0 when the benchmark ran (1 when something failed to build or
# run); with --strict, 3 when a target was missed.  Environment:
# LEURA_BENCH_BUILD (build dir, default build-bench-runs in the source
# tree), CC (for the tool, default cc), ETCD (default etcd),
# LEURA_BENCH_KEEP=1 keeps the work dir (repo, logs, raw figures).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LEURA_BENCH_BUILD:-$src/build-bench-runs}
cc=${CC:-cc}
etcd=${ETCD:-etcd}
runs=20
agents=50
burst=1000
bhosts=1
strict=0

usage() {
	echo "usage: $0 [-n RUNS] [--agents N] [--burst N] [--burst-hosts K]" \
	    "[--strict]" >&2
	exit 64
}
while [ $# -gt 0 ]; do
	case $1 in
	-n|--agents|--burst|--burst-hosts)
		[ $# -ge 2 ] || usage
		case $1 in
		-n) runs=$2 ;;
		--agents) agents=$2 ;;
		--burst) burst=$2 ;;
		--burst-hosts) bhosts=$2 ;;
		esac
		shift 2 ;;
	--strict)
		strict=1
		shift ;;
	-h|--help)
		sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		usage ;;
	esac
done
for v in "$runs" "$agents" "$burst" "$bhosts"; do
	case $v in
	''|*[!0-9]*|0)
		echo "bench: error: -n, --agents, --burst and --burst-hosts" \
		    "need a positive number" >&2
		exit 64 ;;
	esac
done
[ "$agents" -le 99 ] || { echo "bench: error: at most 99 agents" >&2; exit 64; }
[ "$bhosts" -le "$agents" ] ||
    { echo "bench: error: --burst-hosts is more than --agents" >&2; exit 64; }
for t in "$etcd" curl pkg-config; do
	command -v "$t" >/dev/null 2>&1 && continue
	[ -x "$t" ] && continue
	echo "bench: error: no '$t' (tools/bootstrap installs etcd-server," \
	    "curl and pkg-config)" >&2
	exit 1
done

work=$(mktemp -d "${TMPDIR:-/tmp}/leura-bench-runs.XXXXXX")
. "$here/etcd.sh"		# start_etcd, stop_pid, free_port; etcd_pid=
leurad_pid=
agent_pids=
# shellcheck disable=SC2317	# called by the trap
cleanup() {
	for p in $agent_pids; do
		kill "$p" 2>/dev/null || :
	done
	for p in $agent_pids; do
		stop_pid "$p"
	done
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

# ---- build
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
echo "bench: building leura, leurad and leura-agent (Release) in $build"
if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    >"$work/build.log" 2>&1 ||
   ! cmake --build "$build" --target leura leurad leura-agent -j "$jobs" \
    >>"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	fail "cannot build leura, leurad and leura-agent"
fi
leura=$build/leura
leurad=$build/leurad
agent=$build/leura-agent
for b in "$leura" "$leurad" "$agent"; do
	[ -x "$b" ] || fail "no $b"
done
mkdir -p "$work/bin"
# shellcheck disable=SC2046	# pkg-config's words
$cc -O2 -std=c11 -Wall -Wextra -o "$work/bin/runs_client" \
    "$here/runs_client.c" $(pkg-config --cflags --libs libcurl jansson) \
    -lpthread || fail "cannot build bench/runs_client.c"
client=$work/bin/runs_client

# ---- the fleet: N hosts, one task
repo=$work/repo
mkdir -p "$work/home" "$repo/inventory" "$repo/tasks"
export HOME="$work/home" LEURA_USER=bench GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.net
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.net
unset LEURA_CONFIG XDG_CONFIG_HOME LEURA_ETCD_CACERT LEURA_ETCD_CERT \
    LEURA_ETCD_KEY LEURA_ETCD_USER LEURA_ETCD_PASSWORD LEURA_SERVER \
    LEURA_TOKEN 2>/dev/null || :
export LEURA_ETCD_PREFIX=/leura
keys=$work/keys
"$leura" keygen "$keys" >/dev/null || fail "leura keygen failed"
hosts=
{
	echo "hosts:"
	i=1
	while [ $i -le "$agents" ]; do
		h=$(printf 'node%02d' "$i")
		echo "  $h: {address: 127.0.0.1, groups: [fleet]}"
		hosts="$hosts${hosts:+,}$h"
		i=$((i + 1))
	done
} >"$repo/inventory/hosts.yml"
echo "name: bench-runs" >"$repo/leura.yml"
echo "{}" >"$repo/services.yml"
cat >"$repo/tasks/noop.yml" <<EOF
description: one step that does nothing, on every host
targets: {groups: [fleet]}
dedupe_window: 0
steps:
  - name: nothing
    script: "true"
EOF
git -C "$repo" -c init.defaultBranch=main init -q
git -C "$repo" add -A
git -C "$repo" commit -q -m "bench fleet" || fail "git commit failed"
"$leura" -C "$repo" validate >"$work/validate.out" 2>&1 ||
    { cat "$work/validate.out" >&2; fail "the bench repo is not valid"; }

start_etcd
export LEURA_ETCD="$endpoint"
"$leura" -C "$repo" apply --no-diff --signing-key "$keys/signing.key" \
    >"$work/apply.out" 2>&1 ||
    { tail -n 20 "$work/apply.out" >&2; fail "leura apply failed"; }

# ---- leurad and the agents
pw=$work/admin-password
(umask 077 && od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$pw")
# a port another process takes between free_port and leurad's listen:
# try another
tries=0
while :; do
	tries=$((tries + 1))
	port=$(free_port)
	"$leurad" --etcd "$endpoint" --listen "127.0.0.1:$port" \
	    --data-dir "$work/leurad" --admin-password-file "$pw" \
	    --source "$repo" --signing-key "$keys/signing.key" \
	    </dev/null >"$work/leurad.log" 2>&1 &
	leurad_pid=$!
	url=http://127.0.0.1:$port
	t=0
	until curl -sf -m 1 -o /dev/null "$url/readyz"; do
		kill -0 "$leurad_pid" 2>/dev/null || break
		[ $t -lt 300 ] || { tail -n 20 "$work/leurad.log" >&2
		    fail "leurad not ready in 30 s"; }
		sleep 0.1
		t=$((t + 1))
	done
	kill -0 "$leurad_pid" 2>/dev/null && break
	wait "$leurad_pid" 2>/dev/null || :
	leurad_pid=
	if ! grep -q 'cannot listen' "$work/leurad.log" || [ $tries -ge 5 ]; then
		tail -n 20 "$work/leurad.log" >&2
		fail "leurad died"
	fi
done
curl -sf -X POST "$url/v1/login" -H 'Content-Type: application/json' \
    -d "{\"user\":\"admin\",\"password\":\"$(cat "$pw")\"}" \
    >"$work/login.json" || fail "cannot log in as admin"
token=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$work/login.json")
[ -n "$token" ] || fail "no token in the login answer"

i=1
while [ $i -le "$agents" ]; do
	h=$(printf 'node%02d' "$i")
	mkdir -p "$work/agents/$h"
	"$agent" --host "$h" --etcd "$endpoint" --state-dir "$work/agents/$h" \
	    --fleet-key "$keys/signing.pub" </dev/null \
	    >"$work/agents/$h.log" 2>&1 &
	agent_pids="$agent_pids $!"
	i=$((i + 1))
done
# every agent's heartbeat (P/agents/<host>) is in etcd
b64() { printf %s "$1" | base64 -w0; }
range="{\"key\":\"$(b64 /leura/agents/)\",\"range_end\":\"$(b64 /leura/agents0)\",\"count_only\":true}"
t=0
while :; do
	n=$(curl -sf -X POST "$endpoint/v3/kv/range" -d "$range" |
	    sed -n 's/.*"count":"\([0-9]*\)".*/\1/p')
	[ "${n:-0}" -lt "$agents" ] || break
	[ $t -lt 600 ] || fail "only ${n:-0} of $agents agents up after 60 s"
	sleep 0.1
	t=$((t + 1))
done
echo "bench: $agents agents up; leurad at $url"

# ---- measure
# a first run warms every agent's watch and leurad's task cache
"$client" latency "$url" "$token" noop 2 >"$work/warm" ||
    { tail -n 20 "$work/leurad.log" >&2; fail "the warm-up run failed"; }
: >"$work/results"
echo "bench: $runs one-step runs on $agents hosts, and the floor, interleaved"
i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	[ -t 2 ] && printf '\rbench: run %d/%d' "$i" "$runs" >&2
	"$client" latency "$url" "$token" noop 1 >>"$work/results" ||
	    fail "run $i failed"
	"$client" floor "$agents" 1 >>"$work/results" || fail "the floor failed"
done
[ -t 2 ] && printf '\n' >&2
echo "bench: $burst runs at once ($bhosts host(s) each)"
"$client" burst "$url" "$token" noop "$burst" "$hosts" "$bhosts" \
    "$leurad_pid" >>"$work/results" ||
    { tail -n 20 "$work/leurad.log" >&2; fail "the burst failed"; }
[ "${LEURA_BENCH_KEEP:-0}" = 1 ] && cp "$work/results" "$work/results.txt"

awk -v agents="$agents" -v runs="$runs" -v strict="$strict" \
    -v bhosts="$bhosts" \
    -v cpus="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')" '
function pct(name, p,    n, i, j, t, a, k) {
	n = cnt[name]
	for (i = 1; i <= n; i++)
		a[i] = val[name, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	k = int(p * n + 0.999999)	# nearest rank
	if (k < 1) k = 1
	if (k > n) k = n
	return a[k]
}
function mark(ok) {
	if (!ok)
		missed++
	return ok ? "PASS" : "MISS"
}
$1 == "latency" {
	val["run", ++cnt["run"]] = $2
	if ($3 != agents || $4 != "succeeded")
		bad++
}
$1 == "floor" { val["floor", ++cnt["floor"]] = $2 }
$1 == "burst" {
	bn = $2; bpost = $3; bfinal = $4; brate = $5
	bpeak = $6; bstart = $7; bbad = $8
}
END {
	r50 = pct("run", 0.5); r99 = pct("run", 0.99)
	f50 = pct("floor", 0.5); f99 = pct("floor", 0.99)
	printf "\n%d agents on one machine (%s CPUs), one leurad, one etcd; " \
	    "%d runs each\n\n", agents, cpus, runs
	printf "%-44s %10s %10s\n", "one-step run (`true`) on every host",
	    "p50 ms", "p99 ms"
	printf "%-44s %10.1f %10.1f\n", "leura run: POST to all finalised",
	    r50, r99
	printf "%-44s %10.1f %10.1f\n", "floor: fork+exec `true` x" agents \
	    ", wait all", f50, f99
	printf "%-44s %10.1f %10.1f\n\n", "run / floor", r50 / f50, r99 / f99
	printf "%d runs at once (%d host%s each, 8 client threads)\n", bn,
	    bhosts, bhosts == 1 ? "" : "s"
	printf "  POSTed in %.2f s; all finalised %.2f s after the first " \
	    "POST: %.1f runs/s\n", bpost, bfinal, brate
	printf "  leurad RssAnon: %.1f MiB before, %.1f MiB peak " \
	    "(+%.1f MiB)\n\n", bstart / 1024, bpeak / 1024,
	    (bpeak - bstart) / 1024
	printf "%-36s %10s  %-10s %s\n", "check", "measured", "wanted",
	    "result"
	printf "%-36s %10d  %-10s %s\n", "runs not succeeded", bad + bbad,
	    "0", mark(bad + bbad == 0)
	exit strict && missed ? 3 : 0
}' "$work/results" || status=$?
exit "${status:-0}"
