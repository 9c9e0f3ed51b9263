#!/bin/sh
# bench/apply.sh [-n RUNS] [--strict] [gen_repo options]: the apply benchmark.
#
# Builds leura (Release) and the bench tools, generates a repo of 1,000
# hosts with about 20 steps each (bench/gen_repo.c --hosts 1000 --services
# 420 --roles 100 --groups 10; more gen_repo options are passed on and win),
# commits it (commit A), changes the params of the service placed on the
# most hosts and commits that (commit B), and starts a private etcd on
# 127.0.0.1 (random free ports, temp data dir, killed at exit).  Then RUNS
# times (default 5), interleaved, each run under its own key prefix
# (LEURA_ETCD_PREFIX=/bench-I):
#   floor (first)   bench/etcd_floor: the bytes of the first apply as ONE
#                   txn to a separate prefix, timing only the commit;
#   first apply     leura apply --ref A on the empty prefix;
#   no-op apply     leura apply --ref A again; etcd's revision before and
#                   after tells whether anything was written;
#   change apply    leura apply --ref B (one service's params changed);
#   floor (change)  the bytes of the change apply as one txn;
#   validate        leura validate --ref A (no etcd): loading, checks and
#                   placement, the part of an apply that is not per-host
#                   compile, documents, etcd or teardown.
# Prints medians, the ratio of each apply to its floor, and the targets:
# first apply <= 3x its floor; no-op apply <= 100 ms and no writes; the
# change writes exactly the hosts of the changed service, each PASS or MISS.
#
# Exits 0 when the benchmark ran (1 when something failed to build or run);
# with --strict, 3 when a target was missed.  Environment: LEURA_BENCH_BUILD
# (build dir, default build-bench-apply in the source tree), CC (for the
# tools, default cc), ETCD (default etcd), LEURA_BENCH_KEEP=1 keeps the work
# dir (repo, etcd data and log).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LEURA_BENCH_BUILD:-$src/build-bench-apply}
cc=${CC:-cc}
etcd=${ETCD:-etcd}
runs=5
strict=0
genargs="--hosts 1000 --services 420 --roles 100 --groups 10"

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
		sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'
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
command -v "$etcd" >/dev/null 2>&1 ||
    { echo "bench: error: no '$etcd' (apt-get install etcd-server)" >&2; exit 1; }
command -v curl >/dev/null 2>&1 ||
    { echo "bench: error: no curl" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/leura-bench-apply.XXXXXX")
. "$here/etcd.sh"		# start_etcd, stop_pid; sets etcd_pid=
stop_etcd() {
	[ -z "$etcd_pid" ] || stop_pid "$etcd_pid"
	etcd_pid=
}
# shellcheck disable=SC2317	# called by the trap
cleanup() {
	stop_etcd
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
echo "bench: building leura (Release) in $build"
if ! cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    >"$work/build.log" 2>&1 ||
   ! cmake --build "$build" --target leura leura_etcd -j "$jobs" \
    >>"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	fail "cannot build leura"
fi
leura=$build/leura
[ -x "$leura" ] || fail "no leura binary at $leura"

mkdir -p "$work/bin"
for t in gen_repo measure; do
	$cc -O2 -std=c11 -Wall -Wextra -I"$src/lib" -o "$work/bin/$t" \
	    "$here/$t.c" || fail "cannot build bench/$t.c"
done
etcd_libs=$(pkg-config --cflags --libs libcurl jansson libcrypto libuv) ||
    fail "pkg-config knows no libcurl, jansson, libcrypto or libuv"
# shellcheck disable=SC2086
$cc -O2 -std=c11 -Wall -Wextra -I"$src/lib" -I"$src/lib/etcd" \
    -I"$src/proto" -o "$work/bin/etcd_floor" \
    "$here/etcd_floor.c" "$build/proto/libleura_proto.a" \
    "$build/lib/libleura_etcd.a" "$build/lib/libleura_common.a" \
    $etcd_libs ||
    fail "cannot build bench/etcd_floor.c"

# ---- the private etcd: random free ports, retried if one was taken

# etcd's current revision: the header of a count-only range.
revision() {
	curl -sS --max-time 5 -X POST "$endpoint/v3/kv/range" \
	    -d '{"key":"AA==","count_only":true}' |
	    sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p'
}

# A number from the flat JSON object `leura apply --json` prints.
jnum() {
	sed -n "s/^ *\"$1\": *\([0-9]*\).*/\1/p" "$2"
}
jbool() {
	sed -n "s/^ *\"$1\": *\([a-z]*\).*/\1/p" "$2"
}

# ---- the repo: commit A, then B with one service's params changed
repo=$work/repo
mkdir -p "$work/home"
export HOME="$work/home" LEURA_USER=bench GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.net
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.net
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z'
export GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
unset LEURA_CONFIG XDG_CONFIG_HOME LEURA_ETCD_CACERT LEURA_ETCD_CERT \
    LEURA_ETCD_KEY LEURA_ETCD_USER LEURA_ETCD_PASSWORD 2>/dev/null || :
# apply signs what it writes (docs/security.md): the key where apply
# looks by default, under this HOME; signing is part of what is measured
"$leura" keygen "$HOME/.config/leura" >/dev/null || fail "leura keygen failed"
# shellcheck disable=SC2086
"$work/bin/gen_repo" "$repo" $genargs || fail "gen_repo failed"
if ! "$leura" -C "$repo" validate >"$work/validate.out" 2>&1; then
	head -n 40 "$work/validate.out" >&2
	fail "leura validate rejects the generated repo"
fi
"$leura" -C "$repo" schedule --json >"$work/sched-a.json" 2>"$work/err" ||
    { head -n 20 "$work/err" >&2; fail "leura schedule fails"; }

# hosts of each service, from the pretty JSON: "name count" lines
svc_hosts() {
	awk '/^  "services": \{/ { s = 1; next }
	    s && /^  [}]/ { s = 0 }
	    s && /^    "[^"]*": \[/ { name = $1; gsub(/[":]/, "", name)
		n[name] = 0; next }
	    s && /^      "/ { n[name]++ }
	    END { for (k in n) print k, n[k] }' "$1"
}
svc_hosts "$work/sched-a.json" | sort -k2,2nr -k1,1 >"$work/svc-a"
read -r svc svc_n <"$work/svc-a" || fail "no services placed"
grep -n "^$svc:" "$repo/services.yml" >/dev/null ||
    fail "service '$svc' not found in services.yml"

git -C "$repo" -c init.defaultBranch=main init -q
git -C "$repo" add -A
git -C "$repo" commit -q -m "generated repo" || fail "git commit failed"
commit_a=$(git -C "$repo" rev-parse HEAD)
# B: the changed service's workers param + 100 (every host of it renders
# a different app.conf, nothing moves)
awk -v svc="$svc:" '
	$0 == svc { in_svc = 1; print; next }
	/^[^ #]/ { in_svc = 0 }
	in_svc && /^  params: \{/ && !done {
		if (match($0, /workers: [0-9]+/)) {
			w = substr($0, RSTART + 9, RLENGTH - 9) + 100
			$0 = substr($0, 1, RSTART - 1) "workers: " w \
			    substr($0, RSTART + RLENGTH)
			done = 1
		}
	}
	{ print }
	END { if (!done) exit 1 }' "$repo/services.yml" >"$work/services.yml" ||
    fail "cannot change the params of '$svc'"
mv "$work/services.yml" "$repo/services.yml"
git -C "$repo" commit -q -a -m "$svc: more workers" ||
    fail "git commit failed"
commit_b=$(git -C "$repo" rev-parse HEAD)
"$leura" -C "$repo" schedule --json >"$work/sched-b.json" 2>"$work/err" ||
    { head -n 20 "$work/err" >&2; fail "leura schedule fails"; }
svc_hosts "$work/sched-b.json" | sort -k2,2nr -k1,1 >"$work/svc-b"
cmp -s "$work/svc-a" "$work/svc-b" ||
    echo "bench: warning: the params change moved placements"

start_etcd --max-request-bytes 67108864 --max-txn-ops 100000
export LEURA_ETCD="$endpoint"

# Warm-up, and the sizes the floors write: an apply that fails would
# measure nothing useful.
apply() {	# apply PREFIX COMMIT OUT
	LEURA_ETCD_PREFIX=$1 "$leura" -C "$repo" apply --ref "$2" --json \
	    --no-diff >"$3" 2>"$work/err" ||
	    { head -n 20 "$work/err" >&2; fail "leura apply --ref $2 failed"; }
}
apply /bench-warm "$commit_a" "$work/warm-a.json"
apply /bench-warm "$commit_b" "$work/warm-b.json"
first_bytes=$(jnum bytes "$work/warm-a.json")
first_keys=$(( $(jnum hosts_written "$work/warm-a.json") +
    $(jnum files_written "$work/warm-a.json") + 2 ))
change_bytes=$(jnum bytes "$work/warm-b.json")
change_keys=$(( $(jnum hosts_written "$work/warm-b.json") +
    $(jnum files_written "$work/warm-b.json") + 2 ))
"$work/bin/etcd_floor" --steps "$endpoint" /bench-warm >"$work/steps" ||
    fail "cannot read back the host documents"
read -r shape_hosts _ shape_mean shape_min shape_med shape_max <"$work/steps"

# ---- measure: lines "name value [KiB]" per run
: >"$work/results"
note() {
	echo "$*" >>"$work/results"
}
measure() {	# measure NAME OUT COMMAND...
	name=$1
	out=$2
	shift 2
	"$work/bin/measure" -o "$work/m" "$@" >"$out" 2>"$work/err" ||
	    { head -n 20 "$work/err" >&2; fail "'$*' failed"; }
	read -r secs kib _ <"$work/m"
	note "$name $secs $kib"
}
floor() {	# floor NAME PREFIX BYTES KEYS
	"$work/bin/etcd_floor" "$endpoint" "$2" "$3" "$4" >"$work/f" ||
	    fail "etcd_floor failed"
	read -r secs _ _ reqbytes _ <"$work/f"
	note "$1 $secs 0"
	note "$1_request $reqbytes"
}

echo "bench: $runs runs of each command"
i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	[ -t 2 ] && printf '\rbench: run %d/%d' "$i" "$runs" >&2
	export LEURA_ETCD_PREFIX=/bench-$i
	floor floor_first "/floor-$i/first" "$first_bytes" "$first_keys"
	measure first "$work/a.json" "$leura" -C "$repo" \
	    apply --ref "$commit_a" --json --no-diff
	note first_bytes "$(jnum bytes "$work/a.json")"
	note first_txns "$(jnum transactions "$work/a.json")"
	note first_hosts "$(jnum hosts_written "$work/a.json")"
	note first_files "$(jnum files_written "$work/a.json")"
	r0=$(revision)
	measure noop "$work/n.json" "$leura" -C "$repo" \
	    apply --ref "$commit_a" --json --no-diff
	r1=$(revision)
	if [ -z "$r0" ] || [ -z "$r1" ]; then
		fail "cannot read etcd's revision"
	fi
	note noop_writes $((r1 - r0))
	note noop_written "$(jbool written "$work/n.json")"
	measure change "$work/b.json" "$leura" \
	    -C "$repo" apply --ref "$commit_b" --json --no-diff
	note change_bytes "$(jnum bytes "$work/b.json")"
	note change_txns "$(jnum transactions "$work/b.json")"
	note change_hosts "$(jnum hosts_written "$work/b.json")"
	note change_files "$(jnum files_written "$work/b.json")"
	floor floor_change "/floor-$i/change" "$change_bytes" "$change_keys"
	measure validate "$work/v.out" "$leura" -C "$repo" validate \
	    --ref "$commit_a"
done
[ -t 2 ] && printf '\n' >&2

# ---- report
awk -v runs="$runs" -v desc="$(head -n 1 "$work/validate.out")" \
    -v strict="$strict" -v svc="$svc" -v svc_n="$svc_n" \
    -v shape="$shape_hosts hosts, steps per host mean $shape_mean, min $shape_min, median $shape_med, max $shape_max" \
    -v etcdv="$("$etcd" --version 2>/dev/null | head -n 1)" '
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
function all_equal(name, want,    i) {
	for (i = 1; i <= cnt[name]; i++)
		if (val[name, i] != want)
			return 0
	return 1
}
function row(label, name, fl,    t) {
	t = median(name)
	printf "%-34s %9.3f %9s %8s\n", label, t,
	    peak[name] ? sprintf("%.1f", peak[name] / 1024) : "",
	    fl != "" ? sprintf("%.2f", t / median(fl)) : ""
}
{
	cnt[$1]++
	val[$1, cnt[$1]] = $2
	if ($3 + 0 > peak[$1])
		peak[$1] = $3
}
END {
	ff = median("floor_first"); fc = median("floor_change")
	a = median("first"); n = median("noop"); c = median("change")
	v = median("validate")
	maxw = 0
	for (i = 1; i <= cnt["noop_writes"]; i++)
		if (val["noop_writes", i] > maxw)
			maxw = val["noop_writes", i]
	sub(/^.*valid: /, "", desc)
	printf "\nrepo: %s\n%s\n", desc, shape
	printf "etcd: %s, one member on 127.0.0.1\n", etcdv
	printf "first apply: %d bytes (%.2f MiB) in %d txns: %d hosts, " \
	    "%d files\n", median("first_bytes"),
	    median("first_bytes") / 1048576, median("first_txns"),
	    median("first_hosts"), median("first_files")
	printf "change: params of %s (placed on %d hosts): %d bytes in " \
	    "%d txns: %d hosts, %d files\n", svc, svc_n,
	    median("change_bytes"), median("change_txns"),
	    median("change_hosts"), median("change_files")
	printf "floors: the same bytes and key count in ONE txn " \
	    "(requests of %.2f MiB and %.2f MiB)\n",
	    median("floor_first_request") / 1048576,
	    median("floor_change_request") / 1048576
	printf "%d runs each, interleaved; median wall time, peak RSS\n\n",
	    runs
	printf "%-34s %9s %9s %8s\n", "command", "seconds", "peak MiB",
	    "x floor"
	row("floor: first apply bytes, 1 txn", "floor_first", "floor_first")
	row("leura apply (first)", "first", "floor_first")
	row("floor: change bytes, 1 txn", "floor_change", "floor_change")
	row("leura apply (one-service change)", "change", "floor_change")
	row("leura apply (no-op)", "noop", "")
	row("leura validate (load+check+place)", "validate", "")
	printf "%-34s %9.3f\n", "  no-op - validate", n - v
	printf "%-34s %9.3f\n", "  first - no-op (the writing)", a - n
	printf "\n%-34s %9s %8s  %-16s %s\n", "target", "measured", "x floor",
	    "wanted", "result"
	printf "%-34s %9.3f %8.2f  %-16s %s\n", "first apply", a, a / ff,
	    "<= 3.00x floor", mark(a <= 3 * ff)
	printf "%-34s %9.3f %8s  %-16s %s\n", "no-op apply time", n, "",
	    "<= 0.100 s", mark(n <= 0.100)
	printf "%-34s %9d %8s  %-16s %s\n", "no-op apply writes (rev delta)",
	    maxw, "", "0", mark(maxw == 0 && all_equal("noop_written", "false"))
	printf "%-34s %9d %8s  %-16s %s\n", "change: hosts_written",
	    median("change_hosts"), "", "== " svc_n " (" svc ")",
	    mark(all_equal("change_hosts", svc_n))
	exit strict && missed ? 3 : 0
}' "$work/results" || status=$?
exit "${status:-0}"
