# etcd.sh: one real etcd member for CLI tests (POSIX sh, no python).
#
#   . "$LEURA_SRC/tests/cli/lib.sh"      # sets $T and trap 'rm -rf "$T"' EXIT
#   . "$LEURA_SRC/tests/lib/etcd.sh"
#   etcd_start                # exits 77 (CTest skip) when etcd is missing
#   "$LEURA" --etcd "$ETCD_ENDPOINT" ...    # LEURA_ETCD is exported too
#   etcd_restart              # same data dir and port (e.g. watch resume)
#   etcd_pause; etcd_resume   # SIGSTOP, SIGCONT: etcd hangs meanwhile
#   etcd_stop                 # optional: the EXIT trap stops it anyway
#
# Traps: a shell has one EXIT trap, so etcd_start replaces it with
#   trap 'etcd_stop; eval "$ETCD_TRAP"' EXIT
# ETCD_TRAP defaults to lib.sh's 'rm -rf "$T"'.  A test with exit work of
# its own puts it in ETCD_TRAP before calling etcd_start, keeping the rm:
#   ETCD_TRAP='kill "$agent_pid" 2>/dev/null; rm -rf "$T"'
# INT and TERM exit, so the EXIT trap runs on ^C too.
#
# Ports: random in 20000-39999, retried when etcd cannot bind them.
# Variables set: ETCD_ENDPOINT, LEURA_ETCD (exported), ETCD_PID, ETCD_DIR,
# ETCD_LOG.  Extra etcd flags: ETCD_ARGS (word-split), e.g. auth-token-ttl.

ETCD_BIN=${ETCD_BIN:-}
ETCD_PID=
ETCD_DIR=
ETCD_TRAP=${ETCD_TRAP:-'rm -rf "$T"'}

_etcd_find() {
	if [ -z "$ETCD_BIN" ]; then
		if [ -x /usr/bin/etcd ]; then
			ETCD_BIN=/usr/bin/etcd
		else
			ETCD_BIN=$(command -v etcd 2>/dev/null) || ETCD_BIN=
		fi
	fi
	[ -n "$ETCD_BIN" ]
}

_etcd_port() {
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((20000 + n % 20000))
}

# _etcd_ready: 0 once OUR member serves clients and answers a read, 1 if it
# died or took 10 s.  The read alone is not enough: when two tests pick the
# same port, the one whose etcd could not bind would read from the other's
# (and the tests would share a store), so the member's own log, since this
# spawn, must say it serves client traffic.
_etcd_ready() {
	i=0
	while [ $i -lt 200 ]; do
		if tail -c "+$((ETCD_LOG_FROM + 1))" "$ETCD_LOG" 2>/dev/null |
		    grep -q 'serving client traffic' &&
		    curl -s -m 1 -o /dev/null -X POST \
		    "$ETCD_ENDPOINT/v3/kv/range" -d '{"key":"AA=="}'; then
			return 0
		fi
		if tail -c "+$((ETCD_LOG_FROM + 1))" "$ETCD_LOG" 2>/dev/null |
		    grep -q 'address already in use' ||
		    ! kill -0 "$ETCD_PID" 2>/dev/null ||
		    grep -q '^State:.*zombie' "/proc/$ETCD_PID/status" \
		    2>/dev/null; then
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

_etcd_spawn() {
	peer="http://127.0.0.1:$ETCD_PEER_PORT"
	ETCD_LOG_FROM=$(wc -c <"$ETCD_LOG" 2>/dev/null || echo 0)
	# shellcheck disable=SC2086
	"$ETCD_BIN" --name s1 --data-dir "$ETCD_DIR/data" \
	    --listen-client-urls "$ETCD_ENDPOINT" \
	    --advertise-client-urls "$ETCD_ENDPOINT" \
	    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
	    --initial-cluster "s1=$peer" --initial-cluster-state new \
	    --heartbeat-interval 10 --election-timeout 100 \
	    --logger zap --log-outputs stderr ${ETCD_ARGS:-} \
	    </dev/null >>"$ETCD_LOG" 2>&1 &
	ETCD_PID=$!
}

etcd_stop() {
	[ -n "$ETCD_PID" ] || return 0
	kill "$ETCD_PID" 2>/dev/null || :
	kill -CONT "$ETCD_PID" 2>/dev/null || :	# after etcd_pause
	wait "$ETCD_PID" 2>/dev/null || :
	ETCD_PID=
}

etcd_start() {
	if ! _etcd_find; then
		echo "SKIP: no etcd binary (install etcd-server)" >&2
		exit 77
	fi
	ETCD_DIR=${T:-$(mktemp -d)}/etcd
	mkdir -p "$ETCD_DIR"
	ETCD_LOG=$ETCD_DIR/etcd.log
	trap 'etcd_stop; eval "$ETCD_TRAP"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	tries=0
	while [ $tries -lt 10 ]; do
		ETCD_PORT=$(_etcd_port)
		ETCD_PEER_PORT=$(_etcd_port)
		[ "$ETCD_PORT" != "$ETCD_PEER_PORT" ] || continue
		ETCD_ENDPOINT=http://127.0.0.1:$ETCD_PORT
		rm -rf "$ETCD_DIR/data"
		: >"$ETCD_LOG"
		_etcd_spawn
		if _etcd_ready; then
			LEURA_ETCD=$ETCD_ENDPOINT
			export ETCD_ENDPOINT LEURA_ETCD
			return 0
		fi
		etcd_stop
		tries=$((tries + 1))
	done
	echo "etcd_start: etcd did not start; log:" >&2
	tail -n 20 "$ETCD_LOG" >&2
	exit 1
}

# etcd_pause, etcd_resume: SIGSTOP and SIGCONT etcd: it keeps its
# connections and answers nothing meanwhile (a hung member, as opposed to
# a stopped one, which refuses connections)
etcd_pause() {
	kill -STOP "$ETCD_PID"
}
etcd_resume() {
	kill -CONT "$ETCD_PID"
}

# etcd_restart: stop and start again on the same data dir and ports
etcd_restart() {
	etcd_stop
	_etcd_spawn
	if ! _etcd_ready; then
		echo "etcd_restart: etcd did not come back; log:" >&2
		tail -n 20 "$ETCD_LOG" >&2
		exit 1
	fi
}
