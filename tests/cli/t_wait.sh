# leura apply --wait against a real etcd.  The reports and heartbeats are
# the test's own, put with curl where the agents put theirs
# (docs/etcd-layout.md): that is all the wait reads, so this tests it
# without leura-agent (t_up.sh runs the real agents).  Every wait is
# bounded by --wait-timeout; background writers are killed on exit.
. "$LEURA_SRC/tests/cli/lib.sh"
ETCD_TRAP='[ -z "${bg:-}" ] || kill "$bg" 2>/dev/null; rm -rf "$T"'
. "$LEURA_SRC/tests/lib/etcd.sh"
etcd_start
bg=

b64() { printf %s "$1" | base64 -w0; }
put() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" \
	    -d "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"}" >/dev/null
}
del() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/deleterange" \
	    -d "{\"key\":\"$(b64 "$1")\"}" >/dev/null
}
up() { for h in "$@"; do put "/leura/agents/$h" '{"agent":"test"}'; done; }
report() { put "/leura/observed/$1" "$2"; }

# wait_for FILE TEXT: until FILE has TEXT (10 s at most)
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			fail "timed out waiting for '$2' in $1"
			sed 's/^/  | /' "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# start_wait ARGS...: leura apply --wait ARGS in the background, output in
# $T/out and $T/err; returns once it waits
start_wait() {
	# emptied here: the child's redirection may come after wait_for
	# looked at the last wait's output
	: >"$T/out"
	: >"$T/err"
	"$LEURA" -C repo apply --no-diff --wait "$@" >"$T/out" 2>"$T/err" &
	bg=$!
	wait_for "$T/out" "Waiting up to"
}

# end_wait STATUS: the background wait exits with STATUS
end_wait() {
	set +e
	wait "$bg"
	got=$?
	set -e
	bg=
	if [ "$got" -ne "$1" ]; then
		fail "apply --wait exited $got, expected $1"
		sed 's/^/  out: /' "$T/out" >&2
		sed 's/^/  err: /' "$T/err" >&2
	fi
}

new_repo

# no agent at all: every host is "agent down" until the timeout
run 1 "$LEURA" -C repo apply --no-diff --wait --wait-timeout 2s
expect_in "$T/out" "Applied deploy #1"
expect_in "$T/out" "Waiting up to 2s for deploy #1 on 5 hosts"
for h in db1 db2 web1 web2 web3; do
	expect_in "$T/out" "$h: agent down"
done
expect_in "$T/out" "deploy #1: 0/5 converged, 5 agent down after 2s"
expect_in "$T/err" "leura: error: deploy #1: 5 hosts not done after 2s: db1 (agent down), db2 (agent down)"
expect_in "$T/err" "hint: the rollout goes on without you"

# nothing to write: the wait follows every host that is not done; the
# agents come up, report converging, then converged
start_wait --wait-timeout 30s
expect_in "$T/out" "No changes: deploy #1"
up db1 db2 web1 web2 web3
report web1 '{"generation":1,"state":"converging","current":"web/web/converge/site config","run":{"id":"r1","steps":6,"done":2}}'
wait_for "$T/out" "web1: converging"
report web2 '{"generation":1,"state":"converging","waiting":"web waits for db to validate on db2"}'
wait_for "$T/out" "web2: waiting: web waits for db to validate on db2"
for h in db1 db2 web3; do
	report $h '{"generation":1,"state":"converged","run":{"duration_ms":250}}'
done
report web1 '{"generation":1,"state":"converged","run":{"duration_ms":1400}}'
report web2 '{"generation":1,"state":"converged"}'
end_wait 0
expect_in "$T/out" "web1: converged in 1.4s"
expect_in "$T/out" "db1: converged in 250ms"
expect_in "$T/out" "deploy #1: all 5 hosts converged in"
[ ! -s "$T/err" ] || fail "stderr not empty: $(cat "$T/err")"

# once all are converged, a wait ends at once
run 0 "$LEURA" -C repo apply --wait --wait-timeout 5s
expect_in "$T/out" "deploy #1: all 5 hosts converged in 0s"

# a deploy that changes the three cache hosts waits for those only, at
# the new generation: their reports of generation 1 do not count
sed -i 's/size_mb: 64/size_mb: 128/' repo/services.yml
commit_all "bigger cache"
start_wait --wait-timeout 30s
expect_in "$T/out" "Applied deploy #2"
expect_in "$T/out" "on 3 hosts"
wait_for "$T/out" "web3: converging"
expect_not_in "$T/out" "db1:"
report web1 '{"generation":2,"state":"converged"}'
report web2 '{"generation":2,"state":"converged"}'
report web3 '{"generation":2,"state":"failed","failed_steps":[{"id":"cache/cache/converge/cache config","exit":3,"output":"l1\nl2\nl3\nl4\nl5\nl6\nl7"}]}'
end_wait 1
expect_in "$T/out" "web3: failed: step 'cache/cache/converge/cache config' failed: exit 3"
# the end of the output, where the error usually is
expect_in "$T/out" "    l3"
expect_in "$T/out" "    l7"
expect_not_in "$T/out" "    l2"
expect_in "$T/out" "    ..."
expect_in "$T/out" "deploy #2: 2/3 converged, 1 failed after"
expect_in "$T/err" "leura: error: deploy #2 did not converge: web3 (failed: step 'cache/cache/converge/cache config' failed: exit 3)"
expect_in "$T/err" "hint: 'leura status' shows every host"
report web3 '{"generation":2,"state":"converged"}'

# rollout order: web waits for db, whose step fails: the wait ends
# without waiting for the timeout (web is blocked)
sed -i 's/workers: 4/workers: 8/; s/port: 5432/port: 5433/' repo/services.yml
commit_all "more workers, another db port"
start_wait --wait-timeout 60s
expect_in "$T/out" "Applied deploy #3"
expect_in "$T/out" "on 3 hosts"
report web1 '{"generation":3,"state":"converging","waiting":"web waits for db to validate on db2","waiting_for":{"service":"db","host":"db2"}}'
wait_for "$T/out" "web1: waiting: web waits for db to validate on db2"
report db2 '{"generation":3,"state":"drifted","drift":[{"id":"db/db/converge/data dir","detail":"content differs"}]}'
wait_for "$T/out" "db2: drifted: step 'db/db/converge/data dir' drifted: content differs"
# web2 waits its turn behind web1 (max_parallel): blocked in turn, so
# done too, without waiting for the timeout
report web2 '{"generation":3,"state":"converging","waiting":"max_parallel 1 of web: web1 goes first","waiting_for":{"service":"web","host":"web1"}}'
end_wait 1
expect_in "$T/out" "web1: blocked: web waits for db to validate on db2, which drifted"
expect_in "$T/out" "web2: blocked: max_parallel 1 of web: web1 goes first; web1 waits on db2, which drifted"
expect_in "$T/out" "deploy #3: 0/3 converged, 1 drifted, 2 blocked after"
expect_in "$T/err" "did not converge: db2 (drifted: step"

# an agent that goes away while its host converges: "agent down", and the
# timeout names it
for h in db2 web1 web2; do
	report $h '{"generation":3,"state":"converging"}'
done
start_wait --wait-timeout 3s
report db2 '{"generation":3,"state":"failed","failed_steps":[{"id":"db/db/converge/data dir","exit":2}]}'
wait_for "$T/out" "db2: failed"
del /leura/agents/web1
wait_for "$T/out" "web1: agent down"
end_wait 1
# each count names the hosts it counts
expect_in "$T/err" "2 hosts not done after 3s: web1 (agent down), web2 (converging); 1 did not converge: db2 (failed: step 'db/db/converge/data dir' failed: exit 2)"
report db2 '{"generation":3,"state":"converged"}'

# Ctrl-C stops the waiting, not the rollout: exit 130
start_wait --wait-timeout 60s
t0=$(date +%s)
kill -INT "$bg"
end_wait 130
[ $(($(date +%s) - t0)) -le 3 ] || fail "SIGINT took more than 3 s to stop the wait"
expect_in "$T/err" "leura: stopped waiting: deploy #3 rolls out without you"
expect_in "$T/err" "'leura apply --wait' waits again"

# --json: no progress; the result has the wait's
up web1
report web1 '{"generation":3,"state":"converged"}'
report web2 '{"generation":3,"state":"converged","run":{"duration_ms":2000}}'
run 0 "$LEURA" -C repo apply --json --wait-timeout 10s
expect_in "$T/out" '"written": false'
expect_in "$T/out" '"result": "converged"'
expect_in "$T/out" '"took_ms": 2000'
expect_not_in "$T/out" "Waiting"

# etcd goes away during the wait and comes back: the wait goes on from
# where it was
report web1 '{"generation":3,"state":"converging"}'
start_wait --wait-timeout 60s
wait_for "$T/out" "web1: converging"
etcd_stop
wait_for "$T/err" "; retrying"
etcd_restart
report web1 '{"generation":3,"state":"converged"}'
end_wait 0
expect_in "$T/err" "leura: etcd answers again at $ETCD_ENDPOINT"
expect_in "$T/out" "web1: converged"

# a report that is not JSON: the host is unknown, the wait fails
put /leura/observed/web2 'not json'
run 1 "$LEURA" -C repo apply --wait --wait-timeout 5s
expect_in "$T/out" "web2: unknown: its report in etcd is not a JSON object"
report web2 '{"generation":3,"state":"converged"}'

# a host leaving the inventory: its tombstone is waited for too
sed -i '/^  web3:/d' repo/inventory/hosts.yml
commit_all "retire web3"
start_wait --wait-timeout 30s
expect_in "$T/out" "Applied deploy #4"
wait_for "$T/out" "web3: converging"
report web3 '{"generation":4,"state":"converged"}'
for h in web1 web2 db1 db2; do
	report $h '{"generation":4,"state":"converged"}'
done
end_wait 0
expect_in "$T/out" "web3: converged"

# what a host reports is shown, never acted on by the terminal: a report
# that sets the window title and writes the clipboard (OSC 0, OSC 52)
# prints those bytes escaped, in apply --wait and in status
ESC=$(printf '\033')
sed -i 's/size_mb: 128/size_mb: 256/' repo/services.yml
commit_all "even bigger cache"
start_wait --wait-timeout 30s
expect_in "$T/out" "Applied deploy #5"
report web2 '{"generation":5,"state":"converged"}'
report web1 '{"generation":5,"state":"failed","failed_steps":[{"id":"cache/cache/converge/x\u001b]0;pwned\u0007","exit":1,"output":"ok\n\u001b]52;c;aGk=\u0007\u009b31m\n"}]}'
end_wait 1
expect_in "$T/out" 'web1: failed: step '"'"'cache/cache/converge/x\x1b]0;pwned\x07'"'"' failed: exit 1'
expect_in "$T/out" '    \x1b]52;c;aGk=\x07\xc2\x9b31m'
expect_in "$T/err" 'did not converge: web1 (failed: step '"'"'cache/cache/converge/x\x1b]0;pwned\x07'"'"
"$LEURA" -C repo status >"$T/out" 2>"$T/err" || :
expect_in "$T/out" 'x\x1b]0;pwned\x07'
for f in "$T/out" "$T/err"; do
	expect_not_in "$f" "$ESC"
done

# usage
run 64 "$LEURA" -C repo apply --wait-timeout 10x
expect_in "$T/err" "wants a duration such as 90s, 10m or 1h, not '10x'"
run 64 "$LEURA" -C repo apply --wait-timeout 0
run 0 "$LEURA" -C repo apply -h
expect_in "$T/out" "[--wait] [--wait-timeout DURATION]"
done_testing
