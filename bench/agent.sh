#!/bin/sh
# bench/agent.sh [-n RUNS] [--agents N] [--changes N]: the agent benchmark.
#
# Builds leura and leura-agent (Release) and the bench tools, starts a
# private etcd on 127.0.0.1 (random free ports, temp data dir), then
#
# 1. converge, one host: a generated repo with one host and one service
#    whose role has 100 file steps (distinct 22-byte contents, mode 0644)
#    and 20 script steps (`echo N > OUT/sNN.out`), applied once.  RUNS times
#    (default 5), interleaved:
#      floor       a generated sh script doing the same writes: printf into
#                  each file and chmod it, then the 20 commands each through
#                  `/bin/sh -c`, into a fresh output dir;
#      first run   `leura-agent --once` on an empty state dir and a fresh
#                  output dir: wall time, and run.duration_ms of its report;
#      first run, state dir on tmpfs  the same with --state-dir in /dev/shm
#                  (when it is a writable tmpfs): what the state dir's
#                  fsyncs and file creations cost;
#      no-op       `leura-agent --once` again on the same state dir.
#    Medians; first run against the floor (target <= 1.3x), no-op <= 50 ms.
# 2. idle: the agent as a daemon on the converged state dir; once it
#    reports converged, 2 s later: RssAnon, VmRSS, threads (target RssAnon
#    <= 2 MiB), next to the RssAnon of an empty program linked to the same
#    libraries; its libraries (ldd: no libgit2, no libyaml); then its CPU
#    time (utime+stime) and context switches over $BENCH_IDLE_SECONDS
#    (default 60).
# 3. fleet: 50 agents (--agents) on loopback, one service on all of them
#    with one script step (`sleep 0.05; echo vK > OUT/HOST/version`);
#    commit 1 is applied and converged, then --changes (default 3) commits
#    change the step.  For each, from just before `leura apply` starts, from
#    when the head it writes is seen through a watch (its own stream, as an
#    agent's), and from the apply's end, to each agent's converged report
#    at the new generation (seen through another watch; bench/agent_watch.c):
#    p50/p90/p99/max, each host's time split into reaction, run and report,
#    the CPU time of the agents and of etcd, and p99 minus the step's 50 ms
#    against the target (<= 250 ms).
#
# Exits 0 when the benchmark ran, 1 when something failed to build or run
# (a missed target is printed, not an error).  Environment:
# LEURA_BENCH_BUILD or BUILD (a build dir to use as it is, its targets
# built; default build-bench-agent in the source tree, configured Release),
# CC (for the tools, default cc), ETCD (default etcd), BENCH_IDLE_SECONDS,
# LEURA_BENCH_KEEP=1 keeps the work dir (repos, logs, state dirs).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LEURA_BENCH_BUILD:-${BUILD:-}}
cc=${CC:-cc}
etcd=${ETCD:-etcd}
runs=5
nagents=50
nchanges=3
idle=${BENCH_IDLE_SECONDS:-60}
step_sleep_ms=50		# the fleet's script step: sleep 0.05

usage() {
	echo "usage: $0 [-n RUNS] [--agents N] [--changes N]" >&2
	exit 64
}
while [ $# -gt 0 ]; do
	case $1 in
	-n)	[ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--agents)
		[ $# -ge 2 ] || usage; nagents=$2; shift 2 ;;
	--changes)
		[ $# -ge 2 ] || usage; nchanges=$2; shift 2 ;;
	-h|--help)
		sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)	usage ;;
	esac
done
for v in "$runs" "$nagents" "$nchanges" "$idle"; do
	case $v in
	''|*[!0-9]*|0)
		echo "bench: error: -n, --agents, --changes and" \
		    "BENCH_IDLE_SECONDS need positive numbers" >&2
		exit 64 ;;
	esac
done
[ "$nagents" -le 999 ] || { echo "bench: error: at most 999 agents" >&2; exit 64; }
command -v "$etcd" >/dev/null 2>&1 ||
    { echo "bench: error: no '$etcd' (apt-get install etcd-server)" >&2; exit 1; }
command -v git >/dev/null 2>&1 || { echo "bench: error: no git" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/leura-bench-agent.XXXXXX")
shm=
. "$here/etcd.sh"		# start_etcd, stop_pid; sets etcd_pid=
daemon_pid=
fleet_pids=
aw_pid=

stop_fleet() {
	# all at once (each by its pid), then wait for each
	for p in $fleet_pids; do
		kill "$p" 2>/dev/null || :
	done
	for p in $fleet_pids; do
		stop_pid "$p"
	done
	fleet_pids=
}
# shellcheck disable=SC2317	# called by the trap
cleanup() {
	[ -z "$aw_pid" ] || stop_pid "$aw_pid"
	[ -z "$daemon_pid" ] || stop_pid "$daemon_pid"
	stop_fleet
	[ -z "$etcd_pid" ] || stop_pid "$etcd_pid"
	[ -z "$shm" ] || rm -rf "$shm"
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
if [ -n "$build" ] && [ -f "$build/CMakeCache.txt" ]; then
	echo "bench: using the build in $build"
	btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
	[ "$btype" = Release ] ||
	    echo "bench: warning: $build is a '$btype' build, not Release"
	if ! cmake --build "$build" --target leura leura-agent leura_etcd \
	    -j "$jobs" >"$work/build.log" 2>&1; then
		tail -n 30 "$work/build.log" >&2
		fail "cannot build leura and leura-agent in $build"
	fi
else
	build=${build:-$src/build-bench-agent}
	btype=Release
	echo "bench: building leura and leura-agent (Release) in $build"
	if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	    >"$work/build.log" 2>&1 ||
	   ! cmake --build "$build" --target leura leura-agent leura_etcd \
	    -j "$jobs" >>"$work/build.log" 2>&1; then
		tail -n 30 "$work/build.log" >&2
		fail "cannot build leura and leura-agent"
	fi
fi
leura=$build/leura
agent=$build/leura-agent
[ -x "$leura" ] || fail "no leura binary at $leura"
[ -x "$agent" ] || fail "no leura-agent binary at $agent"

mkdir -p "$work/bin"
$cc -O2 -std=c11 -Wall -Wextra -o "$work/bin/measure" "$here/measure.c" ||
    fail "cannot build bench/measure.c"
libs=$(pkg-config --libs libcurl jansson libcrypto libuv) ||
    fail "pkg-config knows no libcurl, jansson, libcrypto or libuv"
# shellcheck disable=SC2086
$cc -O2 -std=c11 -Wall -Wextra -I"$src/lib" -I"$src/lib/etcd" \
    -I"$src/proto" -o "$work/bin/agent_watch" \
    "$here/agent_watch.c" "$build/proto/libleura_proto.a" \
    "$build/lib/libleura_etcd.a" "$build/lib/libleura_common.a" $libs \
    -lpthread ||
    fail "cannot build bench/agent_watch.c"
# the floor of idle memory: nothing, linked like the agent
alibs=$(pkg-config --libs libarchive libcurl libuv jansson libcrypto) ||
    fail "pkg-config knows no libarchive"
# shellcheck disable=SC2086
$cc -O2 -o "$work/bin/rss_floor" "$here/rss_floor.c" -Wl,--no-as-needed \
    $alibs || fail "cannot build bench/rss_floor.c"
aw=$work/bin/agent_watch

# ---- the private etcd: random free ports, retried if one was taken

mkdir -p "$work/home"
export HOME="$work/home" LEURA_USER=bench GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.net
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.net
unset LEURA_CONFIG XDG_CONFIG_HOME XDG_STATE_HOME LEURA_ETCD_CACERT \
    LEURA_ETCD_CERT LEURA_ETCD_KEY LEURA_ETCD_USER LEURA_ETCD_PASSWORD \
    2>/dev/null || :

# apply signs, agents verify (docs/security.md): the fleet's key pair
# where apply looks by default, its public half for every agent
"$leura" keygen "$HOME/.config/leura" >/dev/null || fail "leura keygen failed"
export LEURA_FLEET_KEY="$HOME/.config/leura/signing.pub"

git_commit() {	# git_commit REPO MESSAGE
	git -C "$1" add -A || fail "git add in $1 failed"
	git -C "$1" commit -q -m "$2" || fail "git commit in $1 failed"
}

# ---- 1. the one-host workload, its repo and its floor
conv=$work/conv
out=$conv/out			# the agent's output dir
outf=$conv/outf			# the floor's
mkdir -p "$conv/repo/inventory" "$conv/repo/roles/bench"
cat >"$conv/repo/leura.yml" <<EOF
name: bench
domain: bench.internal
defaults:
  timeout: 2m
  retries: 0
EOF
cat >"$conv/repo/inventory/hosts.yml" <<EOF
hosts:
  h1: {address: 127.0.0.1, vars: {out: "$out"}}
EOF
cat >"$conv/repo/services.yml" <<EOF
bench:
  num_instances: all
  roles: [bench]
EOF
awk 'BEGIN {
	print "description: 100 small files and 20 cheap commands"
	print "converge:"
	for (i = 0; i < 100; i++)
		printf "  - name: f%03d\n    file: {content: \"file %03d of " \
		    "the bench\\n\", dest: \"{{ host.vars.out }}/f%03d.conf\", " \
		    "mode: \"0644\"}\n", i, i, i
	for (i = 0; i < 20; i++)
		printf "  - name: s%02d\n    script: echo %d > " \
		    "{{ host.vars.out }}/s%02d.out\n", i, i, i
}' >"$conv/repo/roles/bench/role.yml"
# the floor: the same bytes, modes and commands, from sh
awk -v o="$outf" 'BEGIN {
	q = "\047"
	printf "mkdir -p %s\n", o
	for (i = 0; i < 100; i++)
		printf "printf %sfile %03d of the bench\\n%s >%s/f%03d.conf; " \
		    "chmod 0644 %s/f%03d.conf\n", q, i, q, o, i, o, i
	for (i = 0; i < 20; i++)
		printf "/bin/sh -c %secho %d > %s/s%02d.out%s\n", q, i, o, i, q
}' >"$conv/floor.sh"
git -C "$conv/repo" -c init.defaultBranch=main init -q
git_commit "$conv/repo" "100 files, 20 scripts"
if ! "$leura" -C "$conv/repo" validate >"$work/validate.out" 2>&1; then
	head -n 20 "$work/validate.out" >&2
	fail "leura validate rejects the generated one-host repo"
fi

start_etcd
export LEURA_ETCD="$endpoint"
etcd_version=$("$etcd" --version 2>/dev/null | head -n 1)

export LEURA_ETCD_PREFIX=/bench-conv
"$leura" -C "$conv/repo" apply --no-diff --json >"$work/apply-conv.json" \
    2>"$work/err" || { head -n 20 "$work/err" >&2; fail "leura apply failed"; }

if [ -d /dev/shm ] && [ -w /dev/shm ] &&
   [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	shm=$(mktemp -d /dev/shm/leura-bench-agent.XXXXXX)
fi

: >"$work/results"
note() {
	echo "$*" >>"$work/results"
}
measure() {	# measure NAME LOG COMMAND...: wall seconds, peak KiB
	name=$1
	log=$2
	shift 2
	"$work/bin/measure" -o "$work/m" "$@" >"$log" 2>&1 ||
	    { tail -n 20 "$log" >&2; fail "'$*' failed"; }
	read -r secs kib _ <"$work/m"
	note "$name $secs $kib"
}
# check_report NAME RAN CHANGED: the run's report, checked, noted
check_report() {
	"$aw" report "$endpoint" "$LEURA_ETCD_PREFIX" h1 >"$work/r" ||
	    fail "cannot read the agent's report"
	read -r state gen dur steps ran changed <"$work/r"
	if [ "$state" != converged ] || [ "$steps" != 120 ] ||
	    [ "$ran" != "$2" ] || [ "$changed" != "$3" ]; then
		fail "$1: the report says state $state, generation $gen," \
		    "$steps steps, $ran ran, $changed changed (wanted" \
		    "converged, 120, $2, $3)"
	fi
	note "${1}_ms $dur"
}
count_out() {	# count_out DIR: the 120 files must be there
	n=$(find "$1" -type f | wc -l)
	[ "$n" -eq 120 ] || fail "$n files in $1, not 120"
}

echo "bench: 1. converge one host (100 file + 20 script steps), $runs runs"
i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	[ -t 2 ] && printf '\rbench: run %d/%d' "$i" "$runs" >&2
	rm -rf "$outf"
	measure floor "$work/floor.log" sh "$conv/floor.sh"
	count_out "$outf"

	rm -rf "$out" "$conv/st"
	measure first "$work/first.log" "$agent" --host h1 \
	    --state-dir "$conv/st" --once
	check_report first 120 120
	count_out "$out"

	measure noop "$work/noop.log" "$agent" --host h1 \
	    --state-dir "$conv/st" --once
	check_report noop 100 0		# file steps always check

	if [ -n "$shm" ]; then
		rm -rf "$out" "$shm/st"
		measure tmpfs "$work/tmpfs.log" "$agent" --host h1 \
		    --state-dir "$shm/st" --once
		check_report tmpfs 120 120
		count_out "$out"
		measure tmpfs_noop "$work/tmpfs-noop.log" "$agent" --host h1 \
		    --state-dir "$shm/st" --once
		check_report tmpfs_noop 100 0
	fi
done
[ -t 2 ] && printf '\n' >&2

# ---- 2. idle: the daemon on the converged state dir
echo "bench: 2. idle daemon: converge, 2 s, memory; CPU over $idle s"
since=$(date +%s%3N)
case $since in
*[!0-9]*)	# no GNU date: whole seconds, after the last run's
	sleep 1
	since=$(date +%s)000 ;;
esac
"$agent" --host h1 --state-dir "$conv/st" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
"$aw" wait "$endpoint" "$LEURA_ETCD_PREFIX" 30 1 --since "$since" ||
    { tail -n 20 "$work/daemon.log" >&2; fail "the daemon did not converge"; }
sleep 2
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died"
status_kib() {	# status_kib FIELD
	sed -n "s/^$1:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$daemon_pid/status"
}
rss_anon=$(status_kib RssAnon)
vm_rss=$(status_kib VmRSS)
threads=$(status_kib Threads)
read -r floor_anon floor_rss <<EOF
$("$work/bin/rss_floor")
EOF
cpu_ticks() {	# utime + stime of the whole process, in clock ticks
	sed 's/.*) //' "/proc/$daemon_pid/stat" | awk '{ print $12 + $13 }'
}
switches() {	# context switches of all its threads
	cat /proc/"$daemon_pid"/task/*/status 2>/dev/null |
	    awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n }'
}
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks)
w0=$(switches)
sleep "$idle"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died while idle"
c1=$(cpu_ticks)
w1=$(switches)
stop_pid "$daemon_pid"
daemon_pid=
ldd "$agent" >"$work/ldd" 2>&1 || fail "ldd $agent failed"
nlibs=$(grep -c '=>' "$work/ldd" || :)
needed=$(objdump -p "$agent" 2>/dev/null |
    awk '$1 == "NEEDED" { printf "%s%s", sep, $2; sep = " " }') || :
[ -n "$needed" ] || needed="? (no objdump)"
forbidden=$(grep -Eo 'lib(git2|yaml)[^ ]*' "$work/ldd" | tr '\n' ' ' || :)

# ---- 3. the fleet
echo "bench: 3. fleet: $nagents agents, commit 1 then $nchanges changes"
fleet=$work/fleet
export LEURA_ETCD_PREFIX=/bench-fleet
mkdir -p "$fleet/repo/inventory" "$fleet/repo/roles/ver" "$fleet/out" \
    "$fleet/st" "$fleet/log"
cat >"$fleet/repo/leura.yml" <<EOF
name: fleet
domain: fleet.internal
defaults:
  timeout: 2m
  retries: 0
EOF
awk -v n="$nagents" -v o="$fleet/out" 'BEGIN {
	print "hosts:"
	for (i = 1; i <= n; i++)
		printf "  h%03d: {address: 127.0.0.1}\n", i
	print "groups:"
	print "  all:"
	printf "    vars: {out: \"%s\"}\n", o
}' >"$fleet/repo/inventory/hosts.yml"
cat >"$fleet/repo/services.yml" <<EOF
ver:
  num_instances: all
  roles: [ver]
EOF
fleet_role() {	# fleet_role VERSION
	cat >"$fleet/repo/roles/ver/role.yml" <<EOF
description: one step of a known run time
converge:
  - name: version
    script: sleep 0.05; echo $1 > {{ host.vars.out }}/{{ host.name }}/version
EOF
}
fleet_role v1
git -C "$fleet/repo" -c init.defaultBranch=main init -q
git_commit "$fleet/repo" v1
i=0
while [ $i -lt "$nagents" ]; do
	i=$((i + 1))
	h=$(printf 'h%03d' "$i")
	mkdir -p "$fleet/out/$h"
	"$agent" --host "$h" --state-dir "$fleet/st/$h" \
	    >"$fleet/log/$h.log" 2>&1 &
	fleet_pids="$fleet_pids $!"
done
# apply_wait K OUT: apply HEAD, the per-host arrivals into OUT
apply_wait() {
	# in the background, so that a signal stops the benchmark at once
	"$aw" apply "$endpoint" "$LEURA_ETCD_PREFIX" 120 "$nagents" \
	    "$work/apply-$1.log" -- "$leura" -C "$fleet/repo" apply \
	    --no-diff --json >"$2" &
	aw_pid=$!
	wait "$aw_pid" || {
		aw_pid=
		head -n 20 "$work/apply-$1.log" >&2
		for f in "$fleet"/log/*.log; do
			grep -l 'error' "$f" >/dev/null 2>&1 &&
			    { echo "== $f" >&2; tail -n 5 "$f" >&2; }
		done
		fail "change $1: the fleet did not converge"
	}
	aw_pid=
	n=$(grep -vc '^#' "$2" || :)
	[ "$n" -eq "$nagents" ] ||
	    fail "change $1: $n converged reports, not $nagents"
}
# CPU time (user+system, children reaped included) of processes, in ticks
cpu_of() {
	for p in "$@"; do
		sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || :
	done | awk '{ n += $12 + $13 + $14 + $15 } END { print n + 0 }'
}
apply_wait 0 "$work/lat-0"
sleep 1
k=0
while [ $k -lt "$nchanges" ]; do
	k=$((k + 1))
	fleet_role "v$((k + 1))"
	git_commit "$fleet/repo" "v$((k + 1))"
	# shellcheck disable=SC2086
	a0=$(cpu_of $fleet_pids)
	e0=$(cpu_of "$etcd_pid")
	apply_wait "$k" "$work/lat-$k"
	sleep 1		# reports, results and log packing of the run
	# shellcheck disable=SC2086
	a1=$(cpu_of $fleet_pids)
	e1=$(cpu_of "$etcd_pid")
	echo "#cpu $k $((a1 - a0)) $((e1 - e0))" >>"$work/results"
	for h in h001 "$(printf 'h%03d' "$nagents")"; do
		[ "$(cat "$fleet/out/$h/version")" = "v$((k + 1))" ] ||
		    fail "change $k: $fleet/out/$h/version is not v$((k + 1))"
	done
done
stop_fleet

# ---- report
fstype=$(stat -f -c %T "$work" 2>/dev/null || echo '?')
{
	echo "#meta runs $runs"
	echo "#meta agents $nagents"
	echo "#meta changes $nchanges"
	echo "#meta step_ms $step_sleep_ms"
	echo "#meta idle $idle"
	echo "#meta hz $hz"
	echo "#meta cpu $((c1 - c0))"
	echo "#meta wake $((w1 - w0))"
	echo "#meta rss_anon $rss_anon"
	echo "#meta vm_rss $vm_rss"
	echo "#meta threads $threads"
	echo "#meta floor_anon $floor_anon"
	echo "#meta floor_rss $floor_rss"
	echo "#meta nlibs $nlibs"
	echo "#meta shm ${shm:+1}"
	k=0
	while [ $k -le "$nchanges" ]; do
		sed "s/^/#lat $k /" "$work/lat-$k"
		k=$((k + 1))
	done
} >>"$work/results"

echo
echo "machine: $(getconf _NPROCESSORS_ONLN) CPUs, $(uname -sr)," \
    "work dir on $fstype ($work)"
echo "leura-agent: $("$agent" --version 2>/dev/null) ($btype, $build)"
echo "etcd: $etcd_version, one member on 127.0.0.1"
echo "agent links (NEEDED): $needed"
if [ -n "$forbidden" ]; then
	echo "  ldd: $nlibs libraries in all, INCLUDING $forbidden"
else
	echo "  ldd: $nlibs libraries in all; no libgit2, no libyaml"
fi
awk '
function median(name,    n, i, j, t, a) {
	n = cnt[name]
	for (i = 1; i <= n; i++)
		a[i] = val[name, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
# nearest rank: the ceil(q*n)-th smallest of list name
function pct(name, q,    n, r) {
	n = lcnt[name]
	r = int(q * n); if (r < q * n) r++
	if (r < 1) r = 1
	return sorted[name, r]
}
function sortlist(name,    n, i, j, t) {
	n = lcnt[name]
	for (i = 1; i <= n; i++)
		sorted[name, i] = lst[name, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && sorted[name, j - 1] > sorted[name, j]; j--) {
			t = sorted[name, j]; sorted[name, j] = sorted[name, j - 1]
			sorted[name, j - 1] = t
		}
}
function add(name, v) {
	lst[name, ++lcnt[name]] = v
}
function mark(ok) {
	return ok ? "PASS" : "MISS"
}
function latrow(label, name,    n) {
	sortlist(name)
	printf "%-36s %4d %7.0f %7.0f %7.0f %7.0f\n", label, lcnt[name],
	    pct(name, 0.5), pct(name, 0.9), pct(name, 0.99), pct(name, 1)
}
$1 == "#meta" { meta[$2] = $3; next }
$1 == "#lat" && $3 == "#" {
	apply_ms[$2] = $5; head_ms[$2] = $7; apply_cpu[$2] = $11; next
}
$1 == "#cpu" { cpu_agents[$2] = $3; cpu_etcd[$2] = $4; next }
$1 == "#lat" {
	k = $2
	add("start" k, $4); add("head" k, $5); add("end" k, $6)
	if (k > 0) {
		add("start", $4); add("head", $5); add("end", $6)
		add("react", $7); add("run", $8); add("report", $9)
		add("over", $5 - $8)
	}
	next
}
{
	cnt[$1]++
	val[$1, cnt[$1]] = $2
	if ($3 + 0 > peak[$1])
		peak[$1] = $3
}
END {
	f = median("floor"); a = median("first"); n = median("noop")
	printf "\n1. converge one host: 120 steps (100 file, 20 script), " \
	    "%d runs, medians\n", meta["runs"]
	printf "%-44s %8s %8s %8s %8s\n", "", "wall s", "run ms", "peak MiB",
	    "x floor"
	printf "%-44s %8.3f %8s %8.1f %8.2f\n",
	    "floor: sh (printf+chmod, 20 x sh -c)", f, "", peak["floor"] / 1024, 1
	printf "%-44s %8.3f %8d %8.1f %8.2f\n",
	    "agent --once, first run (empty state dir)", a,
	    median("first_ms"), peak["first"] / 1024, a / f
	if (meta["shm"])
		printf "%-44s %8.3f %8d %8.1f %8.2f\n",
		    "  same, state dir on tmpfs", median("tmpfs"),
		    median("tmpfs_ms"), peak["tmpfs"] / 1024,
		    median("tmpfs") / f
	printf "%-44s %8.3f %8d %8.1f\n", "agent --once, no-op re-run", n,
	    median("noop_ms"), peak["noop"] / 1024
	if (meta["shm"])
		printf "%-44s %8.3f %8d %8.1f\n", "  same, state dir on tmpfs",
		    median("tmpfs_noop"), median("tmpfs_noop_ms"),
		    peak["tmpfs_noop"] / 1024

	printf "\n2. idle daemon, converged (120 steps), 2 s after its report\n"
	printf "RssAnon %d KiB, VmRSS %d KiB, %d threads; an empty main() " \
	    "linked like it: RssAnon %d KiB, VmRSS %d KiB\n", meta["rss_anon"],
	    meta["vm_rss"], meta["threads"], meta["floor_anon"],
	    meta["floor_rss"]
	cpu_ms = meta["cpu"] * 1000 / meta["hz"]
	printf "CPU over %d s idle: %d ms (%.3f%% of one CPU; clock tick " \
	    "%d ms), %d context switches\n", meta["idle"], cpu_ms,
	    cpu_ms / (meta["idle"] * 10), 1000 / meta["hz"], meta["wake"]

	printf "\n3. commit-to-converged, %d agents on loopback, one script " \
	    "step (sleep %d ms)\n", meta["agents"], meta["step_ms"]
	printf "%-36s %4s %7s %7s %7s %7s\n", "ms, to each converged report",
	    "n", "p50", "p90", "p99", "max"
	latrow("commit 1 (fresh agents), from apply", "start0")
	for (k = 1; k <= meta["changes"]; k++) {
		printf "change %d: apply %.0f ms (CPU %.0f ms), head seen at " \
		    "%.0f ms; CPU: agents (and their steps) %d ms, etcd %d ms\n", k,
		    apply_ms[k], apply_cpu[k], head_ms[k],
		    cpu_agents[k] * 1000 / meta["hz"],
		    cpu_etcd[k] * 1000 / meta["hz"]
		latrow("  from apply start", "start" k)
		latrow("  from head seen", "head" k)
		latrow("  from apply end", "end" k)
	}
	latrow("all changes, from apply start", "start")
	latrow("all changes, from head seen", "head")
	latrow("  head seen -> run start (reaction)", "react")
	latrow("  run.duration_ms (the step)", "run")
	latrow("  run end -> report seen", "report")
	latrow("  from head seen - own run.duration", "over")

	s = meta["step_ms"]
	printf "\n%-44s %10s  %-18s %s\n", "target", "measured", "wanted",
	    "result"
	printf "%-44s %9.2fx  %-18s %s\n", "first run / floor", a / f,
	    "<= 1.30x", mark(a <= 1.3 * f)
	printf "%-44s %8.3f s  %-18s %s\n", "no-op re-run, wall", n,
	    "<= 0.050 s", mark(n <= 0.050)
	printf "%-44s %7d ms  %-18s %s\n", "no-op re-run, run.duration_ms",
	    median("noop_ms"), "<= 50 ms", mark(median("noop_ms") <= 50)
	printf "%-44s %6d KiB  %-18s %s\n", "idle RssAnon", meta["rss_anon"],
	    "<= 2048 KiB", mark(meta["rss_anon"] <= 2048)
	printf "%-44s %7d ms  %-18s %s\n",
	    "idle CPU over " meta["idle"] " s", cpu_ms, "~0",
	    mark(cpu_ms <= meta["idle"] * 1)
	printf "%-44s %7.0f ms  %-18s %s\n",
	    "p99 from head seen - step (" s " ms)",
	    pct("head", 0.99) - s, "<= 250 ms", mark(pct("head", 0.99) - s <= 250)
	printf "%-44s %7.0f ms  %-18s %s\n",
	    "p99 from apply start - step (" s " ms)",
	    pct("start", 0.99) - s, "<= 250 ms",
	    mark(pct("start", 0.99) - s <= 250)
}' "$work/results"
