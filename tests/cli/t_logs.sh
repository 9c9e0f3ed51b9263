# leura logs HOST [STEP] against a real etcd: a host's last run step by
# step from the results its agent put (P/results/HOST), each step's
# status, exit, time and whole output made visible; STEP selects by id,
# name or a beginning of the id; --json; the errors (no such host, no
# results yet, no such step) say what to do.  The results are the test's
# own, put with curl where an agent puts them (docs/etcd-layout.md);
# tests/agent/t_fail.sh reads a real agent's.
. "$LEURA_SRC/tests/cli/lib.sh"
. "$LEURA_SRC/tests/lib/etcd.sh"
etcd_start

ESC=$(printf '\033')
b64() { printf %s "$1" | base64 -w0; }
put() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" \
	    -d "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"}" >/dev/null
}

# a host nobody reported for
run 1 "$LEURA" logs web1
expect_in "$T/err" "no agent has reported for a host 'web1' under /leura"
expect_in "$T/err" "'leura status' lists the hosts"

put /leura/results/web1 '{"generation":6,"run":"000000000006-1795341599874","steps":[
 {"id":"db/db/converge/install","status":"ok","changed":false,"ran":false,"reason":"unchanged since it last ran"},
 {"id":"db/db/converge/data dir","status":"failed","changed":false,"started_unix_ms":1795341599880,"duration_ms":31,"attempts":2,"exit":1,"output":"first line\nmkdir: cannot create directory \u001b]0;pwned\u0007/srv/db\u009b31m: Permission denied\n"},
 {"id":"db/db/validate/accepts connections","status":"skipped","changed":false,"ran":false,"reason":"an earlier step of the service failed"},
 {"id":"db/db/converge/init","status":"skipped","changed":false,"reason":"unless: '"'"'test -e /srv/db/ready'"'"' exited 0","started_unix_ms":1795341599900,"duration_ms":12},
 {"id":"web/nginx/converge/reload","status":"failed","changed":false,"started_unix_ms":1795341599990,"duration_ms":5000,"attempts":1,"signal":9,"timed_out":true,"error":"timed out after 5s"}]}'
put /leura/agents/web2 '{"agent":"test"}'

# every step, in order, with its output whole and made visible
run 0 "$LEURA" logs web1
expect_in "$T/out" "Host web1, generation 6, run 000000000006-1795341599874: 5 steps, as its agent reported them"
expect_in "$T/out" "== db/db/converge/install: ok, not run (unchanged since it last ran)"
expect_in "$T/out" "== db/db/converge/data dir: failed, exit 1 (31ms, 2 attempts, started 2026-11-22T"
expect_in "$T/out" "    first line"
expect_in "$T/out" '    mkdir: cannot create directory \x1b]0;pwned\x07/srv/db\xc2\x9b31m: Permission denied'
expect_in "$T/out" "== db/db/validate/accepts connections: skipped, not run (an earlier step of the service failed)"
expect_in "$T/out" "== web/nginx/converge/reload: failed: timed out after 5s, killed by signal 9 (5.0s"
# a step an unless guard skipped: why, and no exit (its command never ran)
expect_in "$T/out" "== db/db/converge/init: skipped: unless: 'test -e /srv/db/ready' exited 0 (12ms, started "
expect_not_in "$T/out" "$ESC"
[ "$(grep -n '^== ' "$T/out" | cut -d: -f1 | tr '\n' ' ')" = "3 4 7 8 9 " ] ||
    fail "logs: steps not in order: $(cat "$T/out")"

# STEP: an id, a name, a service (a beginning of ids)
run 0 "$LEURA" logs web1 "db/db/converge/data dir"
expect_in "$T/out" ": 1 of 5 steps (db/db/converge/data dir)"
expect_in "$T/out" "== db/db/converge/data dir"
expect_not_in "$T/out" "install"
run 0 "$LEURA" logs web1 reload
expect_in "$T/out" "== web/nginx/converge/reload"
expect_not_in "$T/out" "== db/"
run 0 "$LEURA" logs web1 db
expect_in "$T/out" ": 4 of 5 steps (db)"
expect_not_in "$T/out" "reload"
run 0 "$LEURA" logs web1 db/db/validate/
expect_in "$T/out" "== db/db/validate/accepts connections"
expect_not_in "$T/out" "install"
run 1 "$LEURA" logs web1 "data dri"
expect_in "$T/err" "no step 'data dri' in the results of the last run"
expect_in "$T/err" "did you mean 'data dir'?"
run 1 "$LEURA" logs web1 zzzzzzzz
expect_in "$T/err" "('leura logs HOST' lists them)"

# --json: the results as reported, the steps selected, the host named
run 0 "$LEURA" logs --json web1 reload
expect_in "$T/out" '"host": "web1"'
expect_in "$T/out" '"generation": 6'
expect_in "$T/out" '"signal": 9'
expect_not_in "$T/out" 'install'
run 0 "$LEURA" logs --json web1
expect_in "$T/out" '"output": "first line\nmkdir: cannot create directory \u001B]0;pwned\u0007/srv/db'

# results cut to fit: say so, and where the rest is
put /leura/results/db1 '{"generation":2,"run":"r","steps":[{"id":"a/a/converge/x","status":"changed","changed":true,"started_unix_ms":1795341599880,"duration_ms":1200,"attempts":1,"exit":0}],"steps_left_out":3}'
run 0 "$LEURA" logs db1
expect_in "$T/out" "== a/a/converge/x: changed, exit 0 (1.2s, started"
expect_in "$T/out" "3 more steps were left out: the results did not fit in etcd."
expect_in "$T/out" "log archive on the host"

# a host whose agent is up but has not finished a run; a typo
run 1 "$LEURA" logs web2
expect_in "$T/err" "the agent of host 'web2' has not reported the results of a run yet"
expect_in "$T/err" "'leura status web2' says where it is"
run 1 "$LEURA" logs wbe1
expect_in "$T/err" "did you mean 'web1'?"
run 1 "$LEURA" logs ../x
expect_in "$T/err" "'../x' is not a host name"

# the did-you-mean of a step or host is the store's word too: made
# visible (a step id that resets the terminal, \033c, never acts on it)
put /leura/results/db2 '{"generation":2,"run":"r","steps":[{"id":"a/a/converge/conf\u001bc","status":"ok","changed":false}]}'
run 1 "$LEURA" logs db2 a/a/converge/co
expect_in "$T/err" "did you mean 'a/a/converge/conf\\x1bc'?"
expect_not_in "$T/err" "$ESC"
put "/leura/results/db3$ESC" '{"generation":2,"run":"r","steps":[]}'
run 1 "$LEURA" logs db3x
expect_in "$T/err" "did you mean 'db3\\x1b'?"
expect_not_in "$T/err" "$ESC"

# a value that is not JSON: a clear error
put /leura/results/bad 'not json'
run 1 "$LEURA" logs bad
expect_in "$T/err" "is not JSON"
done_testing
