#!/bin/sh
# bench/run.sh [-n RUNS] [--strict] [gen_repo options]: the spec benchmark.
#
# Builds leura (Release) and the bench tools, generates a repo of 5,000
# hosts, 2,000 services and 500 roles (bench/gen_repo.c; options such as
# --hosts N --services N --roles N --seed S are passed on), then runs RUNS
# times (default 5), interleaved: the floor (bench/yaml_floor: a bare libyaml
# event parse of every *.yml of the repo), `leura -C REPO validate` and
# `leura -C REPO schedule --json >/dev/null`.  Prints the median wall time,
# the peak RSS (max over the runs) and the ratio to the floor of each, then
# the targets: validate+schedule <= 2x the floor, and peak memory <= 64 MiB,
# each marked PASS or MISS.  `leura schedule` loads and validates the repo
# itself, so validate+schedule counts the load twice; the line "schedule
# alone" is the honest figure (see bench/README.md).
#
# Exits 0 when the benchmark ran (1 when something failed to build or run);
# with --strict, 3 when a target was missed.  Environment: LEURA_BENCH_BUILD
# (build dir, default build-bench in the source tree), CC (for the tools,
# default cc), LEURA_BENCH_KEEP=1 keeps the generated repo.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LEURA_BENCH_BUILD:-$src/build-bench}
cc=${CC:-cc}
runs=5
strict=0
genargs=

while [ $# -gt 0 ]; do
	case $1 in
	-n)
		[ $# -ge 2 ] || { echo "usage: $0 [-n RUNS] [--strict] [gen_repo options]" >&2; exit 64; }
		runs=$2
		shift 2 ;;
	--strict)
		strict=1
		shift ;;
	-h|--help)
		sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		genargs="$genargs $1"
		shift ;;
	esac
done
case $runs in
''|*[!0-9]*|0)
	echo "bench: error: -n needs a positive number" >&2
	exit 64 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/leura-bench.XXXXXX")
if [ "${LEURA_BENCH_KEEP:-0}" = 1 ]; then
	trap 'echo "bench: repo kept in $work/repo"' EXIT
else
	trap 'rm -rf "$work"' EXIT
fi
trap 'exit 1' INT TERM

fail() {
	echo "bench: error: $*" >&2
	exit 1
}

# ---- build
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
echo "bench: building leura (Release) in $build"
if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    >"$work/build.log" 2>&1 ||
   ! cmake --build "$build" --target leura -j "$jobs" \
    >>"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	fail "cannot build leura"
fi
leura=$build/leura
[ -x "$leura" ] || fail "no leura binary at $leura"

mkdir -p "$work/bin"
yaml_flags=$(pkg-config --cflags --libs yaml-0.1 2>/dev/null || echo -lyaml)
for t in gen_repo yaml_floor measure; do
	libs=
	[ $t = yaml_floor ] && libs=$yaml_flags
	# shellcheck disable=SC2086
	$cc -O2 -std=c11 -Wall -Wextra -I"$src/lib" -o "$work/bin/$t" "$here/$t.c" \
	    $libs ||
	    fail "cannot build bench/$t.c"
done

# ---- the repo
repo=$work/repo
# shellcheck disable=SC2086
"$work/bin/gen_repo" "$repo" $genargs || fail "gen_repo failed"
"$work/bin/yaml_floor" "$repo" >"$work/floor.out" ||
    fail "the generated repo is not valid YAML"
read -r _ nfiles _ nbytes _ _ _ _ <"$work/floor.out"

# Warm-up, and a check that leura accepts the repo: timing a failure
# would measure nothing useful.
if ! "$leura" -C "$repo" validate >"$work/validate.out" 2>&1; then
	head -n 40 "$work/validate.out" >&2
	fail "leura validate rejects the generated repo"
fi
if ! "$leura" -C "$repo" schedule --json >/dev/null 2>"$work/schedule.err"
then
	head -n 40 "$work/schedule.err" >&2
	fail "leura schedule fails on the generated repo"
fi

# ---- measure: one line "name seconds KiB" per run
measure() {
	name=$1
	shift
	"$work/bin/measure" -o "$work/m" "$@" >/dev/null 2>"$work/err" ||
	    { head -n 20 "$work/err" >&2; fail "'$*' failed"; }
	read -r secs kib _ <"$work/m"
	echo "$name $secs $kib" >>"$work/results"
}

: >"$work/results"
echo "bench: $runs runs of each command"
i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	[ -t 2 ] && printf '\rbench: run %d/%d' "$i" "$runs" >&2
	measure floor "$work/bin/yaml_floor" "$repo"
	measure validate "$leura" -C "$repo" validate
	measure schedule "$leura" -C "$repo" schedule --json
done
[ -t 2 ] && printf '\n' >&2

# ---- report
awk -v runs="$runs" -v files="$nfiles" -v bytes="$nbytes" \
    -v desc="$(head -n 1 "$work/validate.out")" -v strict="$strict" '
function median(name,    n, i, j, t, a) {
	n = cnt[name]
	for (i = 1; i <= n; i++)
		a[i] = val[name, i]
	for (i = 2; i <= n; i++)	# insertion sort, n is small
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function mark(ok) {
	if (!ok)
		missed++
	return ok ? "PASS" : "MISS"
}
{
	cnt[$1]++
	val[$1, cnt[$1]] = $2
	if ($3 > peak[$1])
		peak[$1] = $3
}
END {
	f = median("floor"); v = median("validate"); s = median("schedule")
	pf = peak["floor"] / 1024; pv = peak["validate"] / 1024
	ps = peak["schedule"] / 1024
	pmax = pv > ps ? pv : ps
	sub(/^.*valid: /, "", desc)
	printf "\nrepo: %s; %d YAML files, %.2f MiB\n", desc, files,
	    bytes / 1048576
	printf "%d runs each, interleaved; median wall time, peak RSS\n\n",
	    runs
	printf "%-40s %9s %9s %8s\n", "command", "seconds", "peak MiB",
	    "x floor"
	printf "%-40s %9.3f %9.1f %8.2f\n", "floor: libyaml event parse", f,
	    pf, 1
	printf "%-40s %9.3f %9.1f %8.2f\n", "leura validate", v, pv, v / f
	printf "%-40s %9.3f %9.1f %8.2f\n", "leura schedule --json", s, ps,
	    s / f
	printf "\n%-40s %9s %9s %8s  %s\n", "target", "seconds", "peak MiB",
	    "x floor", "result"
	printf "%-40s %9.3f %9s %8.2f  <= 2.00x  %s\n",
	    "validate + schedule (load counted twice)", v + s, "",
	    (v + s) / f, mark((v + s) <= 2 * f)
	printf "%-40s %9.3f %9s %8.2f  <= 2.00x  %s\n",
	    "schedule alone (load+validate+place)", s, "", s / f,
	    mark(s <= 2 * f)
	printf "%-40s %9s %9.1f %8s  <= 64 MiB %s\n",
	    "peak memory (validate, schedule)", "", pmax, "",
	    mark(pmax <= 64)
	exit strict && missed ? 3 : 0
}' "$work/results" || status=$?

# ---- placement stability (no repo needed: random inventories in-process)
echo
echo "scheduler movement on host removal/addition (bench/sched_movement.c):"
$cc -O2 -std=c11 -o "$work/bin/sched_movement" "$here/sched_movement.c" \
    "$src/scheduler/place.c" "$src/scheduler/place_input.c" \
    -I"$src/scheduler" -I"$src/lib" -lm ||
    fail "cannot build bench/sched_movement.c"
"$work/bin/sched_movement" -n 100
exit "${status:-0}"
