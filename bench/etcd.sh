# bench/etcd.sh: a private etcd for the benchmark scripts (sourced).
#
#   work=...; etcd=/usr/bin/etcd; fail() { ...; }   # the caller's
#   . "$here/etcd.sh"
#   start_etcd [EXTRA ETCD FLAGS...]   # sets endpoint, etcd_pid
#   stop_pid "$etcd_pid"               # also for the caller's processes
#
# Unlike tests/lib/etcd.sh it leaves the caller's traps alone, and it keeps
# its data under $work/etcd-data and its log in $work/etcd.log.

etcd_pid=

# Stop one process of ours by its pid: SIGTERM, 5 s, SIGKILL.
stop_pid() {
	kill "$1" 2>/dev/null || return 0
	t=0
	while kill -0 "$1" 2>/dev/null && [ $t -lt 50 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	kill -9 "$1" 2>/dev/null || :
	wait "$1" 2>/dev/null || :
}

# A random port in 20000-49999 whose next port is free too (peer port).
free_port() {
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 + 20000 ))
		if command -v ss >/dev/null 2>&1 &&
		   ss -Htln "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null |
		   grep -q .; then
			continue
		fi
		echo "$p"
		return
	done
}

start_etcd() {
	tries=0
	while [ $tries -lt 5 ]; do
		tries=$((tries + 1))
		cport=$(free_port)
		pport=$((cport + 1))
		rm -rf "$work/etcd-data"
		"$etcd" --name bench --data-dir "$work/etcd-data" \
		    --listen-client-urls "http://127.0.0.1:$cport" \
		    --advertise-client-urls "http://127.0.0.1:$cport" \
		    --listen-peer-urls "http://127.0.0.1:$pport" \
		    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		    --initial-cluster "bench=http://127.0.0.1:$pport" \
		    --heartbeat-interval 10 --election-timeout 100 "$@" \
		    </dev/null >"$work/etcd.log" 2>&1 &
		etcd_pid=$!
		# ours once its own log says so (a port taken by another etcd
		# would answer, but ours would have died)
		t=0
		while [ $t -lt 100 ] && kill -0 "$etcd_pid" 2>/dev/null; do
			if grep -q 'ready to serve client requests' \
			    "$work/etcd.log"; then
				endpoint=http://127.0.0.1:$cport
				return 0
			fi
			sleep 0.1
			t=$((t + 1))
		done
		stop_pid "$etcd_pid"
		etcd_pid=
	done
	tail -n 20 "$work/etcd.log" >&2
	fail "cannot start etcd"
}
