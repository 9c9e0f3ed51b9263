# leura status and leura history through a real leurad: a fleet forged
# in etcd (two hosts' documents, the head, a deploy record, reports and
# heartbeats, where apply and the agents put theirs: docs/etcd-layout.md).
# The admin sees every host and service; bob (read on services/web) only
# web, no host; a user without grants an empty status with a hint; exit
# codes follow the states shown (2 failed, 4 converging, 0 converged);
# history for the admin, 403 for bob naming the grant; --direct still
# reads etcd; what the server sends is printed made visible.
. "$LEURA_SRC/tests/server/lib.sh"

srv_start a
export LEURA_SERVER="$SRV_URL"
unset LEURA_TOKEN LEURA_CREDENTIALS XDG_CONFIG_HOME || :
b64() { printf %s "$1" | base64 -w0; }
put() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" -d \
	    "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"}" \
	    >/dev/null || fail "cannot put $1"
}
bob() { env XDG_CONFIG_HOME="$T/bob" "$LEURA" "$@"; }
eve() { env XDG_CONFIG_HOME="$T/eve" "$LEURA" "$@"; }
# wait_status STATE HOST: the admin's status shows HOST in STATE (10 s)
wait_status() {
	w_i=0
	until "$LEURA" status --json "$2" >"$T/w" 2>&1
	    [ "$(python3 -c 'import json,sys
print(json.load(open(sys.argv[1]))["hosts"][sys.argv[2]]["state"])' \
	    "$T/w" "$2" 2>/dev/null)" = "$1" ]; do
		w_i=$((w_i + 1))
		[ $w_i -lt 200 ] || { fail "$2 never $1"; cat "$T/w" >&2; return 1; }
		sleep 0.05
	done
}

run 0 "$LEURA" login --password-file "$SRV_ADMIN_PASSWORD_FILE" admin
printf 'bob-pass-1234\n' >"$T/pw"
run 0 "$LEURA" users add bob --password-file "$T/pw"
run 0 "$LEURA" users add eve --password-file "$T/pw"
run 0 "$LEURA" grant bob read services/web
run 0 bob login --password-file "$T/pw" bob
run 0 eve login --password-file "$T/pw" eve

# nothing applied yet: the admin is told so
run 0 "$LEURA" status
expect_in "$T/out" "Nothing to show at $SRV_URL"

# the fleet: web1 runs web (converged), db1 runs db (failed, with output)
put /leura/desired/hosts/web1/000000000001/aa '{"generation":1,"services":["web"]}'
put /leura/desired/hosts/db1/000000000001/bb '{"generation":1,"services":["db"]}'
put /leura/source/deploys/0000000001 '{"deploy":1,"generation":1,"commit":"0123456789abcdef","by":"carol","at":"2026-12-07T20:00:00Z","summary":"first\u001b]0;x"}'
put /leura/desired/head '{"generation":1,"deploy":1,"commit":"0123456789abcdef","by":"carol","at":"2026-12-07T20:00:00Z"}'
for h in web1 db1; do put "/leura/agents/$h" '{"agent":"t"}'; done
put /leura/observed/web1 '{"generation":1,"state":"converged"}'
put /leura/observed/db1 '{"generation":1,"state":"failed","failed_steps":[{"id":"db/db/conf","exit":3,"output":"boom\u001b[31m red"}]}'
wait_status failed db1

# the admin: every host and service, exit 2 (something failed)
run 2 "$LEURA" status
expect_in "$T/out" "Deploy #1, commit 0123456789ab, generation 1 (applied by carol at 2026-12-07T20:00:00Z)"
for w in web1 db1 web db "output of 'db/db/conf'"; do expect_in "$T/out" "$w"; done
expect_in "$T/out" 'boom\x1b[31m red'
expect_not_in "$T/out" "$(printf '\033')"
run 2 "$LEURA" status --failed
expect_in "$T/out" db1
expect_not_in "$T/out" web1
run 0 "$LEURA" status web1
run 2 "$LEURA" status --json
expect_in "$T/out" '"applied_by": "carol"'
run 1 "$LEURA" status nosuch
expect_in "$T/err" "leura can read services/nosuch"

# bob: web, no host; its state decides the exit
run 0 bob status
expect_in "$T/out" "Deploy #1"
expect_in "$T/out" "web "
expect_not_in "$T/out" web1
expect_not_in "$T/out" db
# web's one host is counted, though bob may not read its name
grep -Eq '^web +converged +1( |$)' "$T/out" ||
    fail "web's HOSTS is not 1 for bob: $(cat "$T/out")"
run 0 bob status --failed
expect_in "$T/out" "Nothing failed, drifted or unknown."
run 1 bob status db
expect_in "$T/err" "no host or service 'db' that you may read"
expect_in "$T/err" "leura can read services/db"
put /leura/desired/hosts/web1/000000000002/aa '{"generation":2,"services":["web"]}'
put /leura/desired/head '{"generation":2,"deploy":2,"commit":"0123456789abcdef","by":"carol","at":"2026-12-07T20:05:00Z"}'
wait_status converging web1
run 4 bob status web
expect_in "$T/out" converging

# eve: no grant, an empty status and what to do
run 0 eve status
expect_in "$T/out" "you may read none of it"
expect_in "$T/out" "leura can read services/NAME"
expect_in "$T/out" "ask an admin"
run 0 eve status --json
expect_in "$T/out" '"hosts": {}'

# history: the admin's, made visible; bob's refused, naming the grant
run 0 "$LEURA" history
expect_in "$T/out" "#1     0123456789ab  2026-12-07T20:00:00Z  carol"
expect_in "$T/out" 'first\x1b]0;x'
expect_not_in "$T/out" "$(printf '\033')"
run 0 "$LEURA" history --json -n 1
expect_in "$T/out" '"by": "carol"'
run 1 bob history
expect_in "$T/err" "leura: error:"
expect_in "$T/err" "fleet"
expect_in "$T/err" "hint:"

# --direct: etcd, not the server (bob's token is no use there)
run 4 bob status --direct --etcd "$ETCD_ENDPOINT" web
run 0 bob history --direct --etcd "$ETCD_ENDPOINT"
expect_in "$T/out" "carol"
srv_stop a
run 1 bob status
expect_in "$T/err" "$SRV_URL"
run 4 bob status --direct --etcd "$ETCD_ENDPOINT" web
done_testing
