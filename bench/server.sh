#!/bin/sh
# bench/server.sh [-n RUNS] [--hosts N] [--strict]: the server benchmark.
#
# Builds leura and leurad (Release), generates a fleet of 1,000 hosts
# (bench/gen_repo.c --hosts 1000 --services 420 --roles 100 --groups 10),
# starts a private etcd on 127.0.0.1 (random free ports, temp data dir),
# applies the fleet, and writes each host's agent report and heartbeat
# where the agents write theirs (P/observed/<host>, P/agents/<host>: most
# hosts converged, one in 50 failed with a step's output, one in 97 with
# no agent), in one transaction.  Then it starts leurad (free port, temp
# data dir, an admin whose password comes from a file), logs in, waits
# until GET /v1/status lists every host, and saves that answer.  nginx
# (Debian's nginx-light, a temp config on 127.0.0.1, a free port, run as
# the current user, pid and logs in the work dir, the stock settings:
# worker_processes auto, keep-alive defaults) serves the same bytes as a
# static file; the two bodies are compared.  RUNS times (default 3),
# interleaved:
#   leurad   wrk -t2 -c64 -d10s --latency, GET /v1/status with the token;
#   nginx    the same request (same header) for the static file.
# Prints the median req/s and p99 of each, the ratio, and leurad's idle
# RSS (VmRSS and RssAnon from /proc, once the view is built, before any
# load, and again after the runs), and the targets: leurad >= 0.5x
# nginx's req/s, leurad's p99 < 20 ms, each PASS or MISS.
#
# Exits 0 when the benchmark ran (1 when something failed to build or
# run); with --strict, 3 when a target was missed.  Environment:
# LEURA_BENCH_BUILD (build dir, default build-bench-server in the source
# tree), CC (for the tools, default cc), ETCD (default etcd), NGINX
# (default nginx), WRK (default wrk), BENCH_SECONDS (wrk's -d, default
# 10), LEURA_BENCH_KEEP=1 keeps the work dir (repo, logs, the body).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LEURA_BENCH_BUILD:-$src/build-bench-server}
cc=${CC:-cc}
etcd=${ETCD:-etcd}
nginx=${NGINX:-nginx}
wrk=${WRK:-wrk}
secs=${BENCH_SECONDS:-10}
runs=3
strict=0
hosts=1000

usage() {
	echo "usage: $0 [-n RUNS] [--hosts N] [--strict]" >&2
	exit 64
}
while [ $# -gt 0 ]; do
	case $1 in
	-n)
		[ $# -ge 2 ] || usage
		runs=$2
		shift 2 ;;
	--hosts)
		[ $# -ge 2 ] || usage
		hosts=$2
		shift 2 ;;
	--strict)
		strict=1
		shift ;;
	-h|--help)
		sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		usage ;;
	esac
done
for v in "$runs" "$hosts" "$secs"; do
	case $v in
	''|*[!0-9]*|0)
		echo "bench: error: -n, --hosts and BENCH_SECONDS need a" \
		    "positive number" >&2
		exit 64 ;;
	esac
done
for t in "$etcd" curl "$wrk" "$nginx" base64; do
	command -v "$t" >/dev/null 2>&1 && continue
	[ -x "$t" ] && continue
	echo "bench: error: no '$t' (tools/bootstrap installs etcd-server," \
	    "curl, wrk and nginx-light)" >&2
	exit 1
done
[ -x "$nginx" ] || nginx=$(command -v "$nginx")

work=$(mktemp -d "${TMPDIR:-/tmp}/leura-bench-server.XXXXXX")
. "$here/etcd.sh"		# start_etcd, stop_pid, free_port; etcd_pid=
leurad_pid=
nginx_pid=
# shellcheck disable=SC2317	# called by the trap
cleanup() {
	[ -z "$nginx_pid" ] || stop_pid "$nginx_pid"
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
if [ ! -x "$leura" ] || [ ! -x "$leurad" ]; then
	fail "no leura or leurad in $build"
fi
mkdir -p "$work/bin"
$cc -O2 -std=c11 -Wall -Wextra -I"$src/lib" -o "$work/bin/gen_repo" \
    "$here/gen_repo.c" || fail "cannot build bench/gen_repo.c"

# ---- the fleet, applied
repo=$work/repo
mkdir -p "$work/home"
export HOME="$work/home" LEURA_USER=bench GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.net
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.net
unset LEURA_CONFIG XDG_CONFIG_HOME LEURA_ETCD_CACERT LEURA_ETCD_CERT \
    LEURA_ETCD_KEY LEURA_ETCD_USER LEURA_ETCD_PASSWORD LEURA_SERVER \
    LEURA_TOKEN 2>/dev/null || :
export LEURA_ETCD_PREFIX=/leura
"$leura" keygen "$HOME/.config/leura" >/dev/null || fail "leura keygen failed"
"$work/bin/gen_repo" "$repo" --hosts "$hosts" --services 420 --roles 100 \
    --groups 10 || fail "gen_repo failed"
git -C "$repo" -c init.defaultBranch=main init -q
git -C "$repo" add -A
git -C "$repo" commit -q -m "generated repo" || fail "git commit failed"

start_etcd --max-request-bytes 67108864 --max-txn-ops 100000
export LEURA_ETCD="$endpoint"
"$leura" -C "$repo" apply --json --no-diff >"$work/apply.json" \
    2>"$work/err" || { head -n 20 "$work/err" >&2; fail "leura apply failed"; }

# The agents' reports and heartbeats, forged where agents write them
# (docs/etcd-layout.md), in one transaction.
b64() { printf %s "$1" | base64 -w0; }
now=$(date +%s)
at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ok=$(b64 "{\"generation\":1,\"head\":1,\"deploy\":1,\"state\":\"converged\",\"at\":\"$at\",\"at_unix\":$now,\"agent\":\"bench\",\"run\":{\"id\":\"r1\",\"started_unix_ms\":${now}000,\"steps\":20,\"done\":20,\"duration_ms\":812},\"checked_unix_ms\":${now}000}")
bad=$(b64 "{\"generation\":1,\"head\":1,\"deploy\":1,\"state\":\"failed\",\"at\":\"$at\",\"at_unix\":$now,\"agent\":\"bench\",\"failed_steps\":[{\"id\":\"svc/role/converge/config\",\"exit\":3,\"output\":\"cannot bind 0.0.0.0:8080: address in use\\nretrying\\ngiving up\\n\"}]}")
beat=$(b64 '{"agent":"bench","facts":{"os":"debian","cores":2}}')
{
	printf '{"success":['
	i=1
	sep=
	while [ $i -le "$hosts" ]; do
		h=$(printf 'node%05d' "$i")
		v=$ok
		[ $((i % 50)) -ne 0 ] || v=$bad
		printf '%s{"request_put":{"key":"%s","value":"%s"}}' "$sep" \
		    "$(b64 "/leura/observed/$h")" "$v"
		sep=,
		if [ $((i % 97)) -ne 0 ]; then
			printf ',{"request_put":{"key":"%s","value":"%s"}}' \
			    "$(b64 "/leura/agents/$h")" "$beat"
		fi
		i=$((i + 1))
	done
	printf ']}'
} >"$work/reports.json"
curl -sf -X POST "$endpoint/v3/kv/txn" --data-binary @"$work/reports.json" \
    >/dev/null || fail "cannot write the agents' reports"

# ---- leurad
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
	[ $t -lt 300 ] ||
	    { tail -n 20 "$work/leurad.log" >&2; fail "leurad not ready in 30 s"; }
	sleep 0.1
	t=$((t + 1))
done
curl -sf -X POST "$url/v1/login" -H 'Content-Type: application/json' \
    -d "{\"user\":\"admin\",\"password\":\"$(cat "$pw")\"}" \
    >"$work/login.json" || fail "cannot log in as admin"
token=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$work/login.json")
[ -n "$token" ] || fail "no token in the login answer"
auth="Authorization: Bearer $token"
# the view lists every host once it has read etcd
t=0
while :; do
	curl -sf -H "$auth" "$url/v1/status" -o "$work/status.json" ||
	    fail "GET /v1/status failed"
	n=$(grep -o '"node[0-9]*":{"alive"' "$work/status.json" | wc -l)
	[ "$n" -lt "$hosts" ] || break
	[ $t -lt 300 ] || fail "GET /v1/status lists $n hosts, not $hosts"
	sleep 0.1
	t=$((t + 1))
done
bytes=$(wc -c <"$work/status.json")

# ---- nginx, serving the same bytes
mkdir -p "$work/www/v1" "$work/nginx"
cp "$work/status.json" "$work/www/v1/status"
nport=$(free_port)
user_line=
# as root, nginx runs its workers as 'nobody' unless told otherwise
[ "$(id -u)" -ne 0 ] || user_line="user root;"
cat >"$work/nginx.conf" <<EOF
$user_line
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	server {
		listen 127.0.0.1:$nport;
		root $work/www;
		location / { default_type application/json; }
	}
}
EOF
"$nginx" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx.conf" \
    </dev/null \
    >"$work/nginx/out.log" 2>&1 &
nginx_pid=$!
nurl=http://127.0.0.1:$nport
t=0
until curl -sf -m 1 -o "$work/nginx.json" -H "$auth" "$nurl/v1/status"; do
	kill -0 "$nginx_pid" 2>/dev/null ||
	    { cat "$work/nginx/out.log" "$work/nginx/error.log" >&2 2>/dev/null
	      fail "nginx died"; }
	[ $t -lt 100 ] || fail "nginx does not answer"
	sleep 0.1
	t=$((t + 1))
done
cmp -s "$work/status.json" "$work/nginx.json" ||
    fail "nginx does not serve the same bytes as leurad"
if ! curl -sf -H "$auth" "$url/v1/status" -o "$work/again.json" ||
   ! cmp -s "$work/status.json" "$work/again.json"; then
	fail "GET /v1/status changed between two reads (is something writing?)"
fi

# resident memory of leurad: "VmRSS RssAnon" in KiB
rss() {
	awk '/^VmRSS:/ { v = $2 } /^RssAnon:/ { a = $2 }
	    END { print v, a }' "/proc/$leurad_pid/status"
}
sleep 1
rss_idle=$(rss)

# ---- measure: lines "name reqs p99_ms" per run
: >"$work/results"
# wrk's "Requests/sec:" and the 99% line of --latency, in ms
bench() {	# bench NAME URL
	"$wrk" -t2 -c64 -d"${secs}s" --latency -H "$auth" "$2" \
	    >"$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; fail "wrk failed"; }
	awk -v name="$1" '
	function ms(s) {
		if (s ~ /us$/) return substr(s, 1, length(s) - 2) / 1000
		if (s ~ /ms$/) return substr(s, 1, length(s) - 2) + 0
		if (s ~ /s$/) return substr(s, 1, length(s) - 1) * 1000
		if (s ~ /m$/) return substr(s, 1, length(s) - 1) * 60000
		return s + 0
	}
	/^Requests\/sec:/ { r = $2 }
	/^ +99%/ { p = ms($2) }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	/Socket errors:/ { err = $0 }
	END {
		if (bad) { print "bench: error: " name ": " bad \
		    " non-2xx answers" > "/dev/stderr"; exit 1 }
		print name, r, p
	}' "$work/wrk.out" >>"$work/results" ||
	    { cat "$work/wrk.out" >&2; fail "wrk against $1 went wrong"; }
	grep -q 'Socket errors' "$work/wrk.out" &&
	    echo "bench: $1: $(grep 'Socket errors' "$work/wrk.out")" >&2
	return 0
}

echo "bench: $runs runs of ${secs}s each, wrk -t2 -c64, interleaved"
i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	[ -t 2 ] && printf '\rbench: run %d/%d' "$i" "$runs" >&2
	bench leurad "$url/v1/status"
	bench nginx "$nurl/v1/status"
done
[ -t 2 ] && printf '\n' >&2
rss_after=$(rss)
curl -sf -H "$auth" "$url/metrics" -o "$work/metrics.txt" || :

awk -v runs="$runs" -v bytes="$bytes" -v hosts="$hosts" -v strict="$strict" \
    -v idle="$rss_idle" -v after="$rss_after" -v secs="$secs" \
    -v nginxv="$("$nginx" -v 2>&1 | sed 's/.*: //')" \
    -v cpus="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')" '
function median(name, k,    n, i, j, t, a) {
	n = cnt[name]
	for (i = 1; i <= n; i++)
		a[i] = val[name, k, i]
	for (i = 2; i <= n; i++)
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
	val[$1, 1, cnt[$1]] = $2
	val[$1, 2, cnt[$1]] = $3
}
END {
	lr = median("leurad", 1); lp = median("leurad", 2)
	nr = median("nginx", 1); np = median("nginx", 2)
	split(idle, I, " "); split(after, A, " ")
	printf "\nGET /v1/status: %d hosts, %d bytes (the same bytes from " \
	    "both servers)\n", hosts, bytes
	printf "nginx %s, worker_processes auto (%s CPUs); %d runs of %ds " \
	    "each, wrk -t2 -c64, medians\n\n", nginxv, cpus, runs, secs
	printf "%-22s %12s %10s\n", "server", "req/s", "p99 ms"
	printf "%-22s %12.0f %10.2f\n", "leurad GET /v1/status", lr, lp
	printf "%-22s %12.0f %10.2f\n", "nginx static file", nr, np
	printf "%-22s %12.2f\n\n", "leurad / nginx", lr / nr
	printf "leurad RSS idle (view built, before load): VmRSS %.1f MiB, " \
	    "RssAnon %.1f MiB\n", I[1] / 1024, I[2] / 1024
	printf "leurad RSS after the runs:                 VmRSS %.1f MiB, " \
	    "RssAnon %.1f MiB\n\n", A[1] / 1024, A[2] / 1024
	printf "%-28s %10s  %-12s %s\n", "target", "measured", "wanted",
	    "result"
	printf "%-28s %10.2f  %-12s %s\n", "leurad req/s / nginx req/s",
	    lr / nr, ">= 0.50", mark(lr >= 0.5 * nr)
	printf "%-28s %10.2f  %-12s %s\n", "leurad p99 (ms), 64 conns", lp,
	    "< 20", mark(lp < 20)
	exit strict && missed ? 3 : 0
}' "$work/results" || status=$?
exit "${status:-0}"
