#!/bin/sh
# Central run logs (server/logs*.c) on a real etcd and leurad, the test
# playing the agent (chunks and results put where agents put them) and
# the engine (the run record): chunks stored in order, a duplicate
# ignored, a gap read back; the text of a step and of a whole run; a
# live follow that ends with the step; the pack (tar.gz with a
# manifest) once the run is finalised; chunk keys deleted by the leader
# only (a second replica, not leading, stores and leaves them); keys
# with a bad run id or host name (../) ignored; no read
# grant answers 404 like a missing run; a deploy's converge log.
. "$LEURA_SRC/tests/server/lib.sh"

PUT="python3 $LEURA_SRC/tests/server/logs_put.py"
P=/leura
srv_start a --request-timeout 1s --leader-ttl 30s

login() {
	SRV_TOKEN='' srv_curl POST /v1/login \
	    -d "{\"user\":\"$1\",\"password\":\"$2\"}" >/dev/null
	json_get "$T/body" token
}
ADMIN=$(login admin "$SRV_ADMIN_PASSWORD")
[ -n "$ADMIN" ] || fail "no admin token: $(cat "$T/body")"
as() {
	a_tok=$1
	shift
	SRV_TOKEN=$a_tok srv_curl "$@"
}
want() {
	[ "$1" = "$2" ] || { fail "$3: status $2, expected $1"; sed 's/^/  | /' "$T/body" >&2; }
}
# wait_for WHAT CMD...: until CMD succeeds, 20 s at most
wait_for() {
	w_what=$1
	shift
	i=0
	until "$@" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 400 ] || { fail "timed out waiting for $w_what"; return 1; }
		sleep 0.05
	done
}
put() { $PUT "$ETCD_ENDPOINT" $P put "$1" "$2"; }
etcd_count() {
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\"$(printf %s "$1" | base64 -w0)\",\"range_end\":\"$(printf %s "$1" | python3 -c 'import sys,base64;k=sys.stdin.buffer.read();print(base64.b64encode(k[:-1]+bytes([k[-1]+1])).decode())')\",\"count_only\":true}" |
	    python3 -c 'import json,sys;print(json.load(sys.stdin).get("count","0"))'
}
DATA=$SRV_DIR/data/logs

R=r@20261207-120000-abc123
doc() {
	put "runs/docs/$R" "{\"id\":\"$R\",\"kind\":\"task\",\"task\":\"deploy\",\"by\":\"admin\",\"created\":\"2026-12-07T12:00:00Z\",\"state\":\"$1\",\"outcome\":$2,\"hosts\":[\"web1\",\"web2\"],\"steps\":[{\"name\":\"build\"},{\"name\":\"check it\"}]}"
}
doc running null

# chunks in order, a duplicate, a gap (chunk 3 before 2)
printf 'line one\n' >"$T/c0"; printf 'line two\n' >"$T/c1"
printf 'line three\n' >"$T/c2"; printf 'line four\n' >"$T/c3"
$PUT "$ETCD_ENDPOINT" $P chunks $R web1 0 "$T/c0" 0 >/dev/null
$PUT "$ETCD_ENDPOINT" $P chunks $R web1 0 "$T/c1" 1 >/dev/null
$PUT "$ETCD_ENDPOINT" $P chunks $R web1 0 "$T/c0" 1 >/dev/null 2>&1 || :
$PUT "$ETCD_ENDPOINT" $P chunks $R web1 0 "$T/c3" 3 >/dev/null
$PUT "$ETCD_ENDPOINT" $P chunks $R web1 0 "$T/c2" 2 >/dev/null
printf 'line one\nline two\nline three\n' >"$T/want3"
step_is() {
	cmp -s "$DATA/open/$R/web1/0000.log" "$1"
}
wait_for "chunks 0-2 stored in order, the duplicate ignored" step_is "$T/want3" || { od -c "$DATA/open/$R/web1/0000.log"; tail -5 $SRV_LOG; }

# the step's text through the API, while it runs
want 200 "$(as "$ADMIN" GET "/v1/runs/$R/logs?host=web1&step=0")" "step text"
cmp -s "$T/body" "$T/want3" || fail "step text: $(cat "$T/body")"
grep -qi '^transfer-encoding: chunked' "$T/headers" || fail "not chunked"

# a follow of the step: live output, then it ends with the result
curl -s -m 30 -H "Authorization: Bearer $ADMIN" -N \
    "$SRV_URL/v1/runs/$R/logs?host=web1&step=0&follow=1" >"$T/follow" &
FPID=$!
wait_for "the follow's first bytes" grep -q 'line three' "$T/follow"
kill -0 $FPID || fail "the follow ended before the step"
# the result says 4 chunks: chunk 3 (seen before 2) is read back
put "runs/results/$R/web1/0000" '{"status":"ok","bytes":40,"chunks":4,"truncated":false}'
wait $FPID || fail "the follow failed"
printf 'line one\nline two\nline three\nline four\n' >"$T/want4"
cmp -s "$T/follow" "$T/want4" || fail "follow: $(cat "$T/follow")"
step_is "$T/want4" || fail "stored: $(cat "$DATA/open/$R/web1/0000.log")"

# the leader (the only replica) deleted the step's chunk keys
gone() { [ "$(etcd_count "$P/runs/log/$R/web1/0000/")" = 0 ]; }
wait_for "the leader's delete of web1's chunks" gone

# a gap while leurad is down: read back from etcd at its start
srv_stop a
printf 'web2 says hi\n' >"$T/w0"
printf 'web2 again\n' >"$T/w1"
$PUT "$ETCD_ENDPOINT" $P chunks $R web2 1 "$T/w0" 0 >/dev/null
$PUT "$ETCD_ENDPOINT" $P chunks $R web2 1 "$T/w1" 1 >/dev/null
# keys that must never become files
put "runs/log/$R/../../../../escape/0000/00000000" 'x'
put "runs/log/r@../web1/0000/00000000" 'x'
put "runs/log/$R/..%2f/0000/00000000" 'x'
put "runs/log/$R/.hidden/0000/00000000" 'x'
put "runs/log/$R/web1/00x0/00000000" 'x'
put "runs/results/r@bad/web1/0000" '{"status":"ok"}'
srv_start a --request-timeout 1s --leader-ttl 30s
printf 'web2 says hi\nweb2 again\n' >"$T/want_w2"
w2_is() { cmp -s "$DATA/open/$R/web2/0001.log" "$T/want_w2"; }
wait_for "web2's chunks read at the start" w2_is
[ ! -e "$SRV_DIR/data/escape" ] && [ ! -e "$DATA/escape" ] &&
    [ ! -e "$DATA/open/escape" ] || fail "a ../ key made a file"
[ "$(ls "$DATA/open")" = "$R" ] || fail "open/ holds: $(ls "$DATA/open")"
[ "$(ls "$DATA/open/$R")" = "$(printf 'web1\nweb2')" ] ||
    fail "open/$R holds: $(ls "$DATA/open/$R")"

# the whole run: each step under a header
want 200 "$(as "$ADMIN" GET "/v1/runs/$R/logs")" "run text"
grep -q '^==> web1 0 build <==$' "$T/body" || fail "no web1 header: $(cat "$T/body")"
grep -q '^==> web2 1 check it <==$' "$T/body" || fail "no web2 header"
grep -q '^web2 again$' "$T/body" || fail "no web2 output"

# not finalised: no archive yet
want 409 "$(as "$ADMIN" GET "/v1/runs/$R/logs.tar.gz")" "archive too early"

# finalised, every result in: packed, the open folder gone
put "runs/results/$R/web2/0001" '{"status":"failed","bytes":24,"chunks":2,"truncated":true}'
doc finalised '"failed"'
packed() { [ -f "$DATA/$R.tar.gz" ] && [ ! -e "$DATA/open/$R" ]; }
wait_for "the pack" packed
tar tzf "$DATA/$R.tar.gz" | sort >"$T/list"
printf 'manifest.json\nweb1/0000-build.log\nweb2/0001-check_it.log\n' >"$T/want_list"
cmp -s "$T/list" "$T/want_list" || fail "archive: $(cat "$T/list")"
tar xzf "$DATA/$R.tar.gz" -C "$T" manifest.json
python3 - "$T/manifest.json" "$R" <<'PY' || fail "manifest: $(cat "$T/manifest.json")"
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
assert m["run"] == sys.argv[2] and m["task"] == "deploy" and m["by"] == "admin"
assert m["outcome"] == "failed" and m["created"] and m["ended"]
s = m["steps"]
assert [(x["host"], x["step"], x["name"]) for x in s] == [("web1", 0, "build"), ("web2", 1, "check it")]
assert s[0]["status"] == "ok" and s[1]["status"] == "failed" and s[1]["truncated"] is True
assert s[0]["bytes"] == 39 and s[0]["sha256"] == hashlib.sha256(b"line one\nline two\nline three\nline four\n").hexdigest()
PY
[ "$(stat -c %a "$DATA/$R.tar.gz")" = 600 ] || fail "archive mode"
want 200 "$(as "$ADMIN" GET "/v1/runs/$R/logs.tar.gz")" "archive"
tar tzf "$T/body" >/dev/null || fail "the archive served is no tar.gz"
# the text, now from the archive
want 200 "$(as "$ADMIN" GET "/v1/runs/$R/logs?host=web2&step=1")" "archived step"
cmp -s "$T/body" "$T/want_w2" || fail "archived step: $(cat "$T/body")"
want 200 "$(as "$ADMIN" GET "/v1/runs/$R/logs?host=web1&step=0&follow=1")" "follow of a packed run"
cmp -s "$T/body" "$T/want4" || fail "follow of a packed run: $(cat "$T/body")"
want 404 "$(as "$ADMIN" GET "/v1/runs/$R/logs?host=web9")" "no such host"

# no read grant on tasks/deploy: 404, as for a run that does not exist
as "$ADMIN" POST /v1/users -d '{"name":"bob","password":"bob-password-1"}' >/dev/null
BOB=$(login bob bob-password-1)
want 404 "$(as "$BOB" GET "/v1/runs/$R/logs")" "bob's read"
cp "$T/body" "$T/bob"
want 404 "$(as "$BOB" GET "/v1/runs/r@20261207-120000-ffffff/logs")" "missing run"
[ "$(json_get "$T/bob" error.message | sed 's/r@[^ ]*//')" = \
  "$(json_get "$T/body" error.message | sed 's/r@[^ ]*//')" ] ||
    fail "bob's 404 differs from a missing run's"
want 404 "$(as "$BOB" GET "/v1/runs/$R/logs.tar.gz")" "bob's archive"
want 403 "$(as "$BOB" GET "/v1/logs/retention")" "bob's retention"
want 404 "$(as "$ADMIN" GET "/v1/runs/..%2fx/logs")" "bad id"

# a deploy's converge log: the agent's own archive as chunks
mkdir -p "$T/conv/logs" && printf 'converge output\n' >"$T/conv/logs/step1.log"
tar czf "$T/conv.tar.gz" -C "$T/conv" logs
n=$($PUT "$ETCD_ENDPOINT" $P chunks d@7 web1 0 "$T/conv.tar.gz" 0 100)
put "runs/results/d@7/web1/0000" "{\"status\":\"ok\",\"archive\":true,\"bytes\":$(stat -c %s "$T/conv.tar.gz"),\"chunks\":$n,\"local_run\":\"x\"}"
dep() { cmp -s "$DATA/deploys/7/web1.tar.gz" "$T/conv.tar.gz"; }
wait_for "the deploy's archive" dep
want 200 "$(as "$ADMIN" GET "/v1/deploys/7/logs?host=web1")" "deploy log"
grep -q '^==> logs/step1.log <==$' "$T/body" || fail "deploy log: $(cat "$T/body")"
grep -q '^converge output$' "$T/body" || fail "deploy log text"
want 404 "$(as "$BOB" GET "/v1/deploys/7/logs?host=web1")" "bob's deploy log"
want 400 "$(as "$ADMIN" GET "/v1/deploys/7/logs")" "deploy log without host"

# retention report
want 200 "$(as "$ADMIN" GET "/v1/logs/retention")" "retention"
[ "$(json_get "$T/body" usage.runs)" = 1 ] || fail "retention: $(cat "$T/body")"

# the CLI: leura logs RUN, --deploy, --retention; HOST stays a host
# (its follow outlives the request timeout of a quiet step)
export LEURA_SERVER="$SRV_URL" LEURA_TOKEN="$ADMIN"
run 0 "$LEURA" logs --host web2 --step 1 "$R"
cmp -s "$T/out" "$T/want_w2" || fail "leura logs RUN: $(cat "$T/out")"
run 0 "$LEURA" logs "$R"
expect_in "$T/out" "==> web1 0 build <=="
run 0 "$LEURA" logs --deploy 7 --host web1
expect_in "$T/out" "converge output"
run 0 "$LEURA" logs --retention
expect_in "$T/out" "Policy:  keep 2592000 seconds at most, 10737418240 bytes"
run 0 "$LEURA" logs --retention --json
run 1 "$LEURA" logs r@20261207-120000-ffffff
expect_in "$T/err" "no run 'r@20261207-120000-ffffff'"
run 64 "$LEURA" logs --step x "$R"
run 64 "$LEURA" logs --deploy 7
run 64 "$LEURA" logs --follow web1
expect_in "$T/err" "go with a run id"
LEURA_TOKEN=$BOB run 1 "$LEURA" logs "$R"
expect_in "$T/err" "no run '$R'"

# a live follow through the CLI: a second run, its output as it comes
R2=r@20261207-130000-00beef
put "runs/docs/$R2" "{\"id\":\"$R2\",\"kind\":\"exec\",\"task\":null,\"by\":\"admin\",\"state\":\"running\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"command\"}]}"
"$LEURA" logs --follow "$R2" >"$T/f2" 2>"$T/f2err" &
FPID=$!
printf 'first\n' >"$T/x0"; printf 'second\n' >"$T/x1"
$PUT "$ETCD_ENDPOINT" $P chunks $R2 web1 0 "$T/x0" 0 >/dev/null
wait_for "the CLI's live output" grep -q '^first$' "$T/f2"
# a quiet step: the follow outlives --request-timeout (1 s) threefold
i=0
while [ $i -lt 60 ]; do
	kill -0 $FPID || { fail "leura logs --follow ended early: $(cat "$T/f2err")"; break; }
	sleep 0.05
	i=$((i + 1))
done
$PUT "$ETCD_ENDPOINT" $P chunks $R2 web1 0 "$T/x1" 1 >/dev/null
wait_for "the CLI's second line" grep -q '^second$' "$T/f2"
put "runs/results/$R2/web1/0000" '{"status":"ok","chunks":2,"bytes":13}'
put "runs/docs/$R2" "{\"id\":\"$R2\",\"kind\":\"exec\",\"task\":null,\"by\":\"admin\",\"state\":\"finalised\",\"outcome\":\"succeeded\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"command\"}]}"
wait $FPID || fail "leura logs --follow: $(cat "$T/f2err")"
printf '==> web1 0 command <==\nfirst\nsecond\n' >"$T/want_f2"
cmp -s "$T/f2" "$T/want_f2" || fail "CLI follow: $(cat "$T/f2")"
# an exec run needs read on its hosts: bob has none
LEURA_TOKEN=$BOB run 1 "$LEURA" logs "$R2"

# the follow slots (UV_THREADPOOL_SIZE 16 / 4): a follower that goes
# away gives its slot back; past four, 503 with a hint
R3=r@20261207-140000-00cafe
put "runs/docs/$R3" "{\"id\":\"$R3\",\"kind\":\"task\",\"task\":\"deploy\",\"by\":\"admin\",\"state\":\"running\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"s\"}]}"
follows() {
	as "$ADMIN" GET /metrics >/dev/null
	[ "$(sed -n 's/^leurad_logs_follows //p' "$T/body")" = "$1" ]
}
for i in 1 2 3 4 5 6; do
	curl -s -m 1 -H "Authorization: Bearer $ADMIN" \
	    "$SRV_URL/v1/runs/$R3/logs?follow=1" >/dev/null 2>&1 || :
done
wait_for "the slots of followers gone" follows 0
for i in 1 2 3 4; do
	curl -s -m 60 -H "Authorization: Bearer $ADMIN" -N \
	    "$SRV_URL/v1/runs/$R3/logs?follow=1" >/dev/null 2>&1 &
	eval "H$i=\$!"
done
wait_for "four follows" follows 4
want 503 "$(as "$ADMIN" GET "/v1/runs/$R3/logs?follow=1")" "a fifth follow"
grep -q 'UV_THREADPOOL_SIZE' "$T/body" || fail "503 without a hint: $(cat "$T/body")"
kill $H1 $H2 $H3 $H4 2>/dev/null || :
wait_for "the slots given back" follows 0

# a second replica stores too, and only the leader deletes chunk keys:
# with a (the leader, lease 30 s) stopped, b stores R4's step and leaves
# its chunks; a, resumed, stores it and deletes them
srv_start b
DATA_B=$SRV_DIR/data/logs
srv_use a
R4=r@20261207-150000-0000b4
kill -STOP "$SRV_PID"
put "runs/docs/$R4" "{\"id\":\"$R4\",\"kind\":\"task\",\"task\":\"deploy\",\"state\":\"running\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"s\"}]}"
$PUT "$ETCD_ENDPOINT" $P chunks $R4 web1 0 "$T/c0" 0 >/dev/null
put "runs/results/$R4/web1/0000" '{"status":"ok","chunks":1,"bytes":9}'
b_has() { cmp -s "$DATA_B/open/$R4/web1/0000.log" "$T/c0"; }
wait_for "replica b's copy" b_has
[ "$(etcd_count "$P/runs/log/$R4/")" = 1 ] || fail "a replica that does not lead deleted chunk keys"
kill -CONT "$SRV_PID"
gone4() { [ "$(etcd_count "$P/runs/log/$R4/")" = 0 ]; }
wait_for "the leader's delete of R4's chunks" gone4
cmp -s "$DATA/open/$R4/web1/0000.log" "$T/c0" || fail "the leader's copy of R4"

done_testing
