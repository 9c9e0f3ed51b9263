# Task runs through leurad's API (docs/runs.md), the agent's side played
# by runs_agent.py over etcd: bad input first (an unknown task, a bad
# param, targets matching no host, a body of the wrong shape), a run of
# two steps on two hosts to "succeeded" (results with previews, the list,
# the events), "did someone just do that?" (409 recent_run with who, when
# and hosts; --force records it), cancel of a finished run (409),
# on_failure: stop (nothing more starts), a lost step (its claim's lease
# ran out) and on_failure: continue, an approval (a non-member and the
# starter are refused, a member approves; a rejection ends the run), a
# cancel of a running run, and an ad-hoc command under the run grant of
# every target host.
. "$LEURA_SRC/tests/server/lib.sh"
. "$LEURA_SRC/tests/server/runs_lib.sh"

runs_repo
srv_start a --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY" \
    --leader-ttl 2
ADM=$(runs_login admin "$SRV_ADMIN_PASSWORD")
[ -n "$ADM" ] || fail "admin cannot log in"

# nothing deployed yet: no task to run
runs_start "$ADM" hello '{"params":{"who":"x"}}'
[ "$code" = 400 ] || fail "a run before any deploy: $code $(cat "$T/body")"
expect_in "$T/body" 'nothing is deployed yet'

code=$(SRV_TOKEN=$ADM srv_curl POST /v1/apply -d '{}')
[ "$code" = 200 ] || fail "apply: $code $(cat "$T/body")"

# ---- bad input ----
runs_start "$ADM" helo '{}'
[ "$code" = 404 ] || fail "unknown task: $code $(cat "$T/body")"
expect_in "$T/body" "no task 'helo'"
expect_in "$T/body" "did you mean 'hello'"
runs_start "$ADM" hello '{"params":{"who":"x","count":"many"}}'
[ "$code" = 400 ] || fail "bad param: $code $(cat "$T/body")"
expect_in "$T/body" 'count'
expect_in "$T/body" 'integer'
runs_start "$ADM" hello '{"params":{"count":2}}'
[ "$code" = 400 ] || fail "missing required param: $code $(cat "$T/body")"
expect_in "$T/body" 'who'
runs_start "$ADM" hello '{"params":{"who":"x"},"targets":{"hosts":["nohost"]}}'
[ "$code" = 400 ] || fail "targets matching no host: $code $(cat "$T/body")"
expect_in "$T/body" 'nohost'
runs_start "$ADM" hello '{"params":{"who":"x"},"targets":{"hosts":"web1"}}'
[ "$code" = 400 ] || fail "targets of the wrong shape: $code"
runs_start "$ADM" hello '{"params":{"who":"x"},"forse":true}'
[ "$code" = 400 ] || fail "unknown field: $code"
expect_in "$T/body" 'forse'
code=$(SRV_TOKEN=$ADM srv_curl GET /v1/runs/r@nope)
[ "$code" = 400 ] || fail "a bad run id: $code"
code=$(SRV_TOKEN=$ADM srv_curl GET /v1/runs/r@20261207-000000-000000)
[ "$code" = 404 ] || fail "an unknown run: $code"
[ "$(etcd_count /leura/runs/docs/)" = 0 ] || fail "bad input wrote a run"

# ---- a run to "succeeded" ----
agent_fake 120 web1 web2 web3 db1 db2 --fail boom --hold hang \
    --ignore wait
runs_start "$ADM" hello '{"params":{"who":"world","count":"3"}}'
[ "$code" = 201 ] || fail "start hello: $code $(cat "$T/body")"
R1=$RUN
expect_in "$T/body" '"state":"scheduled"'
expect_in "$T/body" '"hosts":["web1","web2"]'
expect_in "$T/body" '"count":3'
expect_in "$T/body" '"by":"admin"'
runs_wait "$R1" 'r["state"]=="finalised"'
[ "$(runs_field "$R1" outcome)" = succeeded ] ||
    fail "hello: $(cat "$T/body")"
expect_in "$T/body" '"head":"hello\n"'
expect_in "$T/body" '"started":"'
# each step ran once per host, in order
for h in web1 web2; do
	[ "$(grep -c "^result $R1 $h " "$T/fake.log")" = 2 ] ||
	    fail "$h did not run both steps once: $(cat "$T/fake.log")"
done
# the dispatches are gone once collected
[ "$(etcd_count "/leura/runs/dispatch/web1/$R1/")" = 0 ] ||
    fail "dispatches of $R1 left behind"
# the dispatch was signed for its host (the log of leurad: no warning)
code=$(SRV_TOKEN=$ADM srv_curl GET '/v1/runs?task=hello')
[ "$code" = 200 ] || fail "list: $code"
expect_in "$T/body" "\"id\":\"$R1\""
code=$(SRV_TOKEN=$ADM srv_curl GET '/v1/events?resource=tasks/hello')
for a in run.created run.started step.ok run.finalised; do
	expect_in "$T/body" "\"action\":\"$a\""
done

# ---- did someone just do that? ----
runs_start "$ADM" hello '{"params":{"who":"again"},"targets":{"hosts":["web2","web3"]}}'
[ "$code" = 409 ] || fail "a second run in the window: $code $(cat "$T/body")"
expect_in "$T/body" '"code":"recent_run"'
expect_in "$T/body" "\"id\":\"$R1\""
expect_in "$T/body" '"by":"admin"'
expect_in "$T/body" '"hosts":["web1","web2"]'
expect_in "$T/body" '"outcome":"succeeded"'
expect_in "$T/body" '--force'
# no overlap: no question
runs_start "$ADM" hello '{"params":{"who":"x"},"targets":{"hosts":["web3"]}}'
[ "$code" = 201 ] || fail "a run on other hosts: $code $(cat "$T/body")"
runs_wait "$RUN" 'r["state"]=="finalised"'
runs_start "$ADM" hello '{"params":{"who":"again"},"force":true}'
[ "$code" = 201 ] || fail "forced: $code $(cat "$T/body")"
expect_in "$T/body" "\"forced\":{\"recent\":\""
R2=$RUN
runs_wait "$R2" 'r["state"]=="finalised"'

# ---- cancel of a finished run ----
code=$(SRV_TOKEN=$ADM srv_curl POST "/v1/runs/$R1/cancel" -d '{}')
[ "$code" = 409 ] || fail "cancel of a finished run: $code $(cat "$T/body")"
expect_in "$T/body" 'already finalised'

# ---- on_failure: stop ----
runs_start "$ADM" strict '{}'
[ "$code" = 201 ] || fail "strict: $code $(cat "$T/body")"
runs_wait "$RUN" 'r["state"]=="finalised"'
[ "$(runs_field "$RUN" outcome)" = failed ] || fail "strict: $(cat "$T/body")"
expect_in "$T/body" "step 'boom' failed on web1 (on_failure: stop)"
grep -q "claim $RUN web2" "$T/fake.log" &&
    fail "a step started after the failure (parallel 1, stop)"

# ---- a lost step, and on_failure: continue ----
runs_start "$ADM" lossy '{}'
[ "$code" = 201 ] || fail "lossy: $code $(cat "$T/body")"
RL=$RUN
runs_wait "$RL" 'r["state"]=="finalised"' 20
[ "$(runs_field "$RL" outcome)" = failed ] || fail "lossy: $(cat "$T/body")"
runs_wait "$RL" 'r["progress"]["db1"][0]["status"]=="lost"'
runs_wait "$RL" 'r["results"]["db1"][0]["status"]=="lost"'
runs_wait "$RL" 'r["progress"]["db1"][1]["status"]=="ok"'
code=$(SRV_TOKEN=$ADM srv_curl GET '/v1/events?resource=tasks/lossy')
expect_in "$T/body" '"action":"step.lost"'

# ---- approvals ----
runs_user alice sre-leads
runs_user bob sre-leads
runs_user carol
runs_user dave sre-leads	# no grant: membership is what approving takes
for u in alice bob carol; do
	_runs_api POST /v1/grants -d "{\"subject\":\"user:$u\",\"verb\":\"run\",\"resource\":\"tasks/*\"}"
done
ALICE=$(runs_login alice "$RUNS_PW")
BOB=$(runs_login bob "$RUNS_PW")
CAROL=$(runs_login carol "$RUNS_PW")

# run on tasks/* is not run on any host: targets of carol's choosing
# need run on every host they name (db1 is not hello's own)
runs_start "$CAROL" hello '{"params":{"who":"x"},"targets":{"hosts":["db1"]},"force":true}'
[ "$code" = 403 ] || fail "carol's own targets: $code $(cat "$T/body")"
expect_in "$T/body" 'hosts/db1'
DAVE=$(runs_login dave "$RUNS_PW")
runs_start "$ALICE" gated '{}'
[ "$code" = 201 ] || fail "gated: $code $(cat "$T/body")"
RG=$RUN
runs_wait "$RG" 'r["state"]=="waiting_approval"'
grep -q "claim $RG db1 2" "$T/fake.log" && fail "a step past the barrier ran"
code=$(SRV_TOKEN=$CAROL srv_curl POST "/v1/runs/$RG/approve" -d '{}')
[ "$code" = 403 ] || fail "approve by a non-member: $code $(cat "$T/body")"
expect_in "$T/body" 'sre-leads'
code=$(SRV_TOKEN=$ALICE srv_curl POST "/v1/runs/$RG/approve" -d '{}')
[ "$code" = 403 ] || fail "approve by the starter: $code $(cat "$T/body")"
expect_in "$T/body" 'alice started'
expect_in "$T/body" 'self_approval'
code=$(SRV_TOKEN=$BOB srv_curl POST "/v1/runs/$RG/approve" \
    -d '{"decision":"approve","message":"checked the backups"}')
[ "$code" = 200 ] || fail "approve by bob: $code $(cat "$T/body")"
runs_wait "$RG" 'r["state"]=="finalised"'
[ "$(runs_field "$RG" outcome)" = succeeded ] || fail "gated: $(cat "$T/body")"
expect_in "$T/body" '"by":"bob"'
expect_in "$T/body" '"message":"checked the backups"'
code=$(SRV_TOKEN=$BOB srv_curl POST "/v1/runs/$RG/approve" -d '{}')
[ "$code" = 409 ] || fail "approve of a finished run: $code"
# a rejection ends it
runs_start "$ALICE" gated '{"force":true}'
[ "$code" = 201 ] || fail "gated again: $code $(cat "$T/body")"
RJ=$RUN
runs_wait "$RJ" 'r["state"]=="waiting_approval"'
code=$(SRV_TOKEN=$DAVE srv_curl POST "/v1/runs/$RJ/approve" \
    -d '{"decision":"reject","message":"not now"}')
[ "$code" = 200 ] || fail "reject: $code $(cat "$T/body")"
runs_wait "$RJ" 'r["state"]=="finalised"'
[ "$(runs_field "$RJ" outcome)" = rejected ] || fail "rejected: $(cat "$T/body")"
expect_in "$T/body" 'rejected by dave: not now'

# ---- timeouts: an approval's, the task's ----
runs_start "$ADM" hasty '{}'
[ "$code" = 201 ] || fail "hasty: $code $(cat "$T/body")"
RH=$RUN
runs_wait "$RH" 'r["state"]=="finalised"'
[ "$(runs_field "$RH" outcome)" = timed_out ] || fail "hasty: $(cat "$T/body")"
expect_in "$T/body" "no decision on approval step 'sign-off' within 2 s"
runs_start "$ADM" short '{}'
[ "$code" = 201 ] || fail "short: $code $(cat "$T/body")"
RT=$RUN
runs_wait "$RT" 'r["state"]=="finalised"'
[ "$(runs_field "$RT" outcome)" = timed_out ] || fail "short: $(cat "$T/body")"
expect_in "$T/body" "the run's timeout (2 s) passed"
expect_in "$T/body" '"status":"timed_out"'
[ "$(etcd_count "/leura/runs/dispatch/web3/$RT/")" = 0 ] ||
    fail "the timed out run's dispatch is still there"

# ---- cancel of a running run ----
runs_start "$ADM" stuck '{}'
[ "$code" = 201 ] || fail "stuck: $code"
RC=$RUN
runs_wait "$RC" 'r["progress"]["web1"][0]["state"]=="dispatched"'
[ "$(etcd_count "/leura/runs/dispatch/web1/$RC/")" = 1 ] ||
    fail "the stuck run's dispatch is not there"
code=$(SRV_TOKEN=$CAROL srv_curl POST "/v1/runs/$RC/cancel" -d '{"message":"oops"}')
[ "$code" = 200 ] || fail "cancel: $code $(cat "$T/body")"
expect_in "$T/body" '"outcome":"cancelled"'
expect_in "$T/body" 'cancelled by carol: oops'
[ "$(etcd_count "/leura/runs/dispatch/web1/$RC/")" = 0 ] ||
    fail "the cancelled run's dispatch is still there"

# ---- ad-hoc commands ----
code=$(SRV_TOKEN=$CAROL srv_curl POST /v1/exec \
    -d '{"command":"uptime","hosts":["web1"]}')
[ "$code" = 403 ] || fail "exec without run on the host: $code $(cat "$T/body")"
expect_in "$T/body" 'hosts/web1'
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/exec -d '{"hosts":["web1"]}')
[ "$code" = 400 ] || fail "exec without a command: $code"
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/exec \
    -d '{"command":"uptime","groups":["frontend"],"run_as":"nobody"}')
[ "$code" = 201 ] || fail "exec: $code $(cat "$T/body")"
RX=$RUN
RX=$(json_get "$T/body" id)
expect_in "$T/body" '"kind":"exec"'
expect_in "$T/body" '"hosts":["web1","web2","web3"]'
runs_wait "$RX" 'r["state"]=="finalised"'
[ "$(runs_field "$RX" outcome)" = succeeded ] || fail "exec: $(cat "$T/body")"
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/exec \
    -d '{"command":"uptime","hosts":["web3"]}')
[ "$code" = 409 ] || fail "the same command again: $code $(cat "$T/body")"
expect_in "$T/body" '"code":"recent_run"'
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/exec \
    -d '{"command":"uptime -p","hosts":["web3"]}')
[ "$code" = 201 ] || fail "another command: $code $(cat "$T/body")"
RY=$(json_get "$T/body" id)

# ---- the list: newest first, pages, filters ----
code=$(SRV_TOKEN=$ADM srv_curl GET '/v1/runs?limit=2')
[ "$code" = 200 ] || fail "list: $code"
[ "$(json_get "$T/body" items.0.id)" = "$RY" ] ||
    fail "the newest run is not first: $(cat "$T/body")"
[ "$(json_get "$T/body" items.1.id)" = "$RX" ] ||
    fail "the second newest is not second: $(cat "$T/body")"
NEXT=$(json_get "$T/body" next)
[ -n "$NEXT" ] || fail "no next page"
expect_not_in "$T/body" '"progress"'
code=$(SRV_TOKEN=$ADM srv_curl GET "/v1/runs?limit=1&after=$NEXT")
[ "$code" = 200 ] || fail "page 2: $code"
[ "$(json_get "$T/body" items.0.id)" = "$RC" ] ||
    fail "page 2 is not the stuck run: $(cat "$T/body")"
code=$(SRV_TOKEN=$ADM srv_curl GET '/v1/runs?state=rejected')
[ "$code" = 200 ] || fail "state filter: $code"
# the one rejected run (RJ's record names RG: it was forced past it)
[ "$(json_get "$T/body" items.0.id)" = "$RJ" ] &&
    [ -z "$(json_get "$T/body" items.1)" ] ||
    fail "state=rejected: $(cat "$T/body")"
code=$(SRV_TOKEN=$ADM srv_curl GET '/v1/runs?task=gated&since=1h')
[ "$code" = 200 ] || fail "task filter: $code"
expect_in "$T/body" "$RG"
expect_not_in "$T/body" "$R1"
code=$(SRV_TOKEN=$ADM srv_curl GET '/v1/runs?since=yesterday')
[ "$code" = 400 ] || fail "a bad since: $code"
code=$(SRV_TOKEN=$ADM srv_curl GET '/v1/runs?sort=asc')
[ "$code" = 400 ] || fail "an unknown argument: $code"
# carol may read the task runs she may run, not the ad-hoc one
code=$(SRV_TOKEN=$CAROL srv_curl GET "/v1/runs/$RX")
[ "$code" = 404 ] || fail "carol reads an exec run: $code"
expect_in "$T/body" "no run '$RX'"
code=$(SRV_TOKEN=$CAROL srv_curl GET /v1/runs)
[ "$code" = 200 ] || fail "carol lists: $code"
expect_not_in "$T/body" "$RX"
expect_in "$T/body" "$RG"

# ---- a record written into etcd by someone else (an agent's etcd
# credentials suffice): leurad never signs a dispatch for it
FORGED=r@20261207-000000-00f0f0
put_raw() {
	curl -sf -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/put" -d "{\"key\":\
\"$(printf %s "$1" | base64 -w0)\",\"value\":\"$(printf %s "$2" |
	    base64 -w0)\"}" >/dev/null || fail "cannot put $1"
}
put_raw "/leura/runs/docs/$FORGED" "{\"id\":\"$FORGED\",\"kind\":\"exec\",\
\"task\":null,\"command\":\"touch /tmp/pwned\",\"run_as\":null,\"params\":{},\
\"targets\":{\"hosts\":[\"db1\"]},\"hosts\":[\"db1\"],\"commit\":null,\
\"by\":\"admin\",\"via\":\"api\",\"created\":\"2026-12-07T00:00:00.000Z\",\
\"state\":\"scheduled\",\"parallel\":0,\"on_failure\":\"stop\",\"timeout_ms\":0,\
\"steps\":[{\"name\":\"command\",\"kind\":\"script\"}],\"progress\":{\"db1\":\
[{\"state\":\"pending\",\"status\":null,\"attempt\":0}]},\"approvals\":[],\
\"self_approval\":false}"
i=0
until grep -q "run $FORGED: refusing its record: it is not sealed" \
    "$T/srv-a/leurad.log"; do
	[ $i -lt 300 ] || fail "leurad does not refuse the forged record"
	sleep 0.1
	i=$((i + 1))
done
[ "$(etcd_count "/leura/runs/dispatch/db1/$FORGED/")" = 0 ] ||
    fail "leurad dispatched a record it did not make"

# ---- metrics ----
code=$(SRV_TOKEN=$ADM srv_curl GET /metrics)
[ "$code" = 200 ] || fail "metrics: $code"
expect_in "$T/body" 'leurad_runs_created_total{kind="task"}'
expect_in "$T/body" 'leurad_runs_created_total{kind="exec"}'
expect_in "$T/body" 'leurad_runs_finalised_total'
grep -q '^leurad_runs_active [0-9]' "$T/body" || fail "no leurad_runs_active"

agent_fake_stop
done_testing
