# leura status against a real etcd: its exit status says the worst state
# of what it shows (0 converged, 2 failed or drifted, 3 unknown, 4
# converging), names of hosts and services select what it shows,
# --failed hides what is fine, and a failed step's output ends under its
# host.  The reports and heartbeats are the test's own, put with curl
# where the agents put theirs (docs/etcd-layout.md).
. "$LEURA_SRC/tests/cli/lib.sh"
. "$LEURA_SRC/tests/lib/etcd.sh"
etcd_start

ESC=$(printf '\033')
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
converged() {
	for h in "$@"; do
		report "$h" '{"generation":1,"state":"converged"}'
	done
}
ALL="web1 web2 web3 db1 db2"

new_repo
# before the first apply there is nothing to be wrong
run 0 "$LEURA" -C repo status
expect_in "$T/out" "Nothing applied yet"
run 1 "$LEURA" -C repo status web1
expect_in "$T/err" "no host or service 'web1' in what is applied"

run 0 "$LEURA" -C repo apply --no-diff
# no agent has reported: unknown
run 3 "$LEURA" -C repo status
expect_in "$T/out" "web1                 down   unknown"
# agents up, no report yet: converging
up $ALL
run 4 "$LEURA" -C repo status
expect_in "$T/out" "the agent is up but has not reported yet"
run 4 "$LEURA" -C repo status --json
# converging is not "not fine": --failed hides it, the status stays
run 4 "$LEURA" -C repo status --failed
expect_in "$T/out" "Nothing failed, drifted or unknown."
expect_not_in "$T/out" "HOST"
# every host converged
converged $ALL
run 0 "$LEURA" -C repo status
expect_in "$T/out" "web1                 up     converged"
run 0 "$LEURA" -C repo status --failed
expect_in "$T/out" "Nothing failed, drifted or unknown."

# web1 fails: the status is 2, its output's end is under its row, made
# visible (a host's output never acts on the terminal)
report web1 '{"generation":1,"state":"failed","failed_steps":[{"id":"cache/cache/converge/conf","exit":3,"output":"line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nlast \u001b]0;pwned\u0007 line\n"}]}'
run 2 "$LEURA" -C repo status
expect_in "$T/out" "web1                 up     failed      1/1       step 'cache/cache/converge/conf' failed: exit 3"
expect_in "$T/out" "    output of 'cache/cache/converge/conf' (its end):"
expect_in "$T/out" "      ..."
expect_in "$T/out" "      line 3"
expect_in "$T/out" '      last \x1b]0;pwned\x07 line'
expect_not_in "$T/out" "line 2"
expect_not_in "$T/out" "$ESC"
run 2 "$LEURA" -C repo status --json
expect_in "$T/out" '"failures": ['
expect_in "$T/out" '"output": "line 1\nline 2'
expect_in "$T/out" '"exit": 3'

# --failed: only what is not fine, with the same status
run 2 "$LEURA" -C repo status --failed
expect_in "$T/out" "web1                 up     failed"
expect_in "$T/out" "cache                failed"
expect_not_in "$T/out" "web2 "
expect_not_in "$T/out" "db1 "
expect_not_in "$T/out" "Nothing failed"

# names select: a host, a service with its hosts
run 0 "$LEURA" -C repo status web2
expect_in "$T/out" "web2                 up     converged"
expect_not_in "$T/out" "web1 "
expect_not_in "$T/out" "SERVICE"
run 0 "$LEURA" -C repo status db
expect_in "$T/out" "db                   converged"
expect_not_in "$T/out" "web"
expect_not_in "$T/out" "cache"
run 2 "$LEURA" -C repo status cache
for h in web1 web2 web3; do
	expect_in "$T/out" "$h "
done
expect_not_in "$T/out" "db1 "
# two names; --json selects as the table does; options go first
run 64 "$LEURA" -C repo status web2 --json
expect_in "$T/err" "option '--json' after 'web2': options go before the names"
run 2 "$LEURA" -C repo status --json web2 web1
expect_in "$T/out" '"web1": {'
expect_not_in "$T/out" '"web3": {'
expect_in "$T/out" '"services": {}'
run 0 "$LEURA" -C repo status -- web2
# a name that is neither: an error with the closest name
run 1 "$LEURA" -C repo status cahce
expect_in "$T/err" "no host or service 'cahce' in what is applied"
expect_in "$T/err" "did you mean the service 'cache'?"
run 1 "$LEURA" -C repo status web1 wbe2
expect_in "$T/err" "did you mean the host 'web2'?"
run 1 "$LEURA" -C repo status zzzzzz
expect_in "$T/err" "'leura status' without names lists the hosts and services"

# drifted is as bad as failed; an agent down is unknown (3)
converged web1
report web3 '{"generation":1,"state":"drifted","drift":[{"id":"cache/cache/converge/conf","detail":"content differs"}]}'
run 2 "$LEURA" -C repo status web3
expect_in "$T/out" "drifted"
converged web3
del /leura/agents/db2
run 3 "$LEURA" -C repo status db2
expect_in "$T/out" "db2                  down   unknown"
run 3 "$LEURA" -C repo status --failed
expect_in "$T/out" "db2                  down   unknown"
expect_not_in "$T/out" "web1 "
up db2
run 0 "$LEURA" -C repo status

# plan lists the hosts not converged with the agents' reasons, which
# quote what an agent reported: made visible there too
report web1 '{"generation":1,"state":"failed","failed_steps":[{"id":"cache/cache/converge/conf\u001bc","exit":3}]}'
run 0 "$LEURA" -C repo plan
expect_in "$T/out" "  web1: failed: step 'cache/cache/converge/conf\\x1bc' failed"
expect_not_in "$T/out" "$ESC"
converged web1

# a head and a deploy record without the fields Leura writes (anyone
# with etcd access may put one) are shown without them, never a crash
put /leura/desired/head '{"deploy":1,"generation":1}'
run 0 "$LEURA" -C repo status
expect_in "$T/out" "Deploy #1, commit , generation 1 (applied by  at )"
put /leura/source/deploys/0000000001 '{"deploy":1}'
run 0 "$LEURA" -C repo history
expect_in "$T/out" "#1"
# nor does a head's commit act on the terminal where plan names it
put /leura/desired/head '{"deploy":1,"generation":1,"commit":"\u001bc0123"}'
run 0 "$LEURA" -C repo plan
expect_in "$T/out" "leura plan: deploy #1 (commit \\x1bc0123) ->"
expect_not_in "$T/out" "$ESC"

# the did-you-mean of a name is the store's word: made visible (a host
# key with \033c, which resets a terminal, never acts on it)
put "/leura/desired/hosts/webzz${ESC}c/000000000001/$(printf '0%.0s' $(seq 64))" '{}'
run 1 "$LEURA" -C repo status webzz
expect_in "$T/err" "did you mean the host 'webzz\\x1bc'?"
expect_not_in "$T/err" "$ESC"

# usage errors stay 64
run 64 "$LEURA" -C repo status --bogus
done_testing
