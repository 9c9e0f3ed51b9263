# Helpers for leurad's tests (tests/server/t_*.sh, POSIX sh): a real etcd
# (tests/lib/etcd.sh) and real leurad processes on 127.0.0.1.
#
#   . "$LEURA_SRC/tests/server/lib.sh"   # $T, fail, run (tests/cli/lib.sh)
#   srv_start NAME [leurad flags...]     # etcd first if none runs yet
#   code=$(srv_curl GET /healthz)        # the status; the body in $T/body
#   SRV_TOKEN=... srv_curl POST /v1/x -d '{"a":1}'
#   srv_stop NAME                        # SIGTERM, wait (deadline 10 s)
#
# srv_start starts leurad with a free port, a temp data dir and an admin
# whose password comes from a file, and waits (10 s at most) until
# /readyz answers 200; exits 1 with leurad's log when it does not.  It
# sets SRV_URL, SRV_PID, SRV_LOG, SRV_DIR (for NAME, and the same as
# SRV_URL_NAME... for later use), SRV_ADMIN_PASSWORD and
# SRV_ADMIN_PASSWORD_FILE.  A server started with --tls-cert is reached
# with https and curl --cacert of that certificate (SRV_CACERT).  Every
# leurad still running is killed on exit, before etcd stops.
#
# SRV_PROBE_OPTS: more curl options for the readiness probe (a client
# certificate).  Environment (CTest): LEURAD the server, LEURA the CLI, LEURA_SRC.
: "${LEURAD:?set LEURAD to the leurad binary}"
. "$LEURA_SRC/tests/cli/lib.sh"
SRV_PIDS=
ETCD_TRAP='srv_kill_all; rm -rf "$T"'
. "$LEURA_SRC/tests/lib/etcd.sh"
trap 'srv_kill_all; rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
SRV_CURL_OPTS=

srv_kill_all() {
	for p in $SRV_PIDS; do
		kill -KILL "$p" 2>/dev/null || :
	done
	for p in $SRV_PIDS; do
		wait "$p" 2>/dev/null || :
	done
	SRV_PIDS=
}

_srv_port() {
	# below etcd's (tests/lib/etcd.sh: 20000-39999) and below the
	# kernel's ephemeral ports (32768-60999), which every client here
	# takes its source ports from
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((10000 + n % 10000))
}

# _srv_var NAME FIELD: the value srv_start recorded for NAME
_srv_var() {
	eval "printf '%s' \"\${SRV_${2}_$1:-}\""
}

# srv_use NAME: make NAME's server the current one (SRV_URL, SRV_PID...)
srv_use() {
	SRV_URL=$(_srv_var "$1" URL)
	SRV_PID=$(_srv_var "$1" PID)
	SRV_LOG=$(_srv_var "$1" LOG)
	SRV_DIR=$(_srv_var "$1" DIR)
	SRV_CACERT=$(_srv_var "$1" CACERT)
	SRV_CURL_OPTS=
	[ -z "$SRV_CACERT" ] || SRV_CURL_OPTS="--cacert $SRV_CACERT"
}

srv_start() {
	name=$1
	shift
	# etcd_start's EXIT trap stops etcd, then runs ETCD_TRAP (above):
	# leurad and whatever else a test added to SRV_PIDS go with it
	[ -n "$ETCD_PID" ] || etcd_start
	dir=$T/srv-$name
	mkdir -p "$dir"
	SRV_ADMIN_PASSWORD_FILE=$dir/admin-password
	SRV_ADMIN_PASSWORD=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')
	(umask 077 && printf '%s\n' "$SRV_ADMIN_PASSWORD" \
	    >"$SRV_ADMIN_PASSWORD_FILE")
	scheme=http
	cacert=
	prev=
	for a in "$@"; do
		if [ "$prev" = --tls-cert ]; then
			scheme=https
			cacert=$a
		fi
		prev=$a
	done
	tries=0
	while :; do
		port=$(_srv_port)
		log=$dir/leurad.log
		: >"$log"
		"$LEURAD" --etcd "$ETCD_ENDPOINT" --listen "127.0.0.1:$port" \
		    --data-dir "$dir/data" \
		    --admin-password-file "$SRV_ADMIN_PASSWORD_FILE" "$@" \
		    </dev/null >>"$log" 2>&1 &
		pid=$!
		SRV_PIDS="$SRV_PIDS $pid"
		url=$scheme://127.0.0.1:$port
		copt=
		[ -z "$cacert" ] || copt="--cacert $cacert"
		copt="$copt ${SRV_PROBE_OPTS:-}"
		i=0
		ok=
		while [ $i -lt 200 ]; do
			# shellcheck disable=SC2086
			# ready, and ours: the replica id is host:PID:random
			# (another test's leurad may hold a port we drew)
			if curl -s -m 1 -f $copt "$url/readyz" 2>/dev/null |
			    grep -q ":$pid:"; then
				ok=1
				break
			fi
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			sleep 0.05
			i=$((i + 1))
		done
		[ -z "$ok" ] || break
		kill -KILL "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
		tries=$((tries + 1))
		if grep -q 'cannot listen' "$log" && [ $tries -lt 5 ]; then
			continue
		fi
		echo "srv_start $name: leurad did not become ready; log:" >&2
		tail -n 30 "$log" >&2
		exit 1
	done
	eval "SRV_URL_$name=\$url SRV_PID_$name=\$pid SRV_LOG_$name=\$log"
	eval "SRV_DIR_$name=\$dir SRV_CACERT_$name=\$cacert"
	srv_use "$name"
}

# srv_curl METHOD PATH [curl args...]: the status code on stdout, the body
# in $T/body, the headers in $T/headers; SRV_TOKEN, when set, is sent as
# a bearer token.
srv_curl() {
	m=$1
	p=$2
	shift 2
	set -- -X "$m" "$@"
	if [ -n "${SRV_TOKEN:-}" ]; then
		set -- -H "Authorization: Bearer $SRV_TOKEN" "$@"
	fi
	# shellcheck disable=SC2086
	curl -s -m 20 $SRV_CURL_OPTS -o "$T/body" -D "$T/headers" \
	    -w '%{http_code}' "$@" "$SRV_URL$p" || :
}

# srv_stop NAME: SIGTERM, and wait for leurad to exit (10 s at most);
# its exit status in SRV_STATUS
srv_stop() {
	pid=$(_srv_var "$1" PID)
	kill -TERM "$pid" 2>/dev/null || :
	i=0
	while kill -0 "$pid" 2>/dev/null && \
	    ! grep -q '^State:.*zombie' "/proc/$pid/status" 2>/dev/null &&
	    [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	if [ $i -ge 200 ]; then
		fail "leurad $1 did not stop within 10 s of SIGTERM"
		kill -KILL "$pid" 2>/dev/null || :
	fi
	set +e
	wait "$pid"
	SRV_STATUS=$?
	set -e
}

# json_get FILE EXPR: jq-free field access for tests, with python3
json_get() {
	python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v.get(k)
print("" if v is None else (json.dumps(v) if isinstance(v,(dict,list)) else v))' "$1" "$2"
}
