# Run records past the retention (docs/runs.md, Retention): the leader
# deletes a finalised run created before --log-retention, with its
# results and any chunk left, and keeps a recent one and an old one that
# is not finalised (an approval still waiting).  Records are put by hand
# as the engine writes them; the sweep runs when a replica starts to lead.
. "$LEURA_SRC/tests/server/lib.sh"
. "$LEURA_SRC/tests/server/runs_lib.sh"

etcd_start
put() {
	curl -sf -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/put" -d "{\"key\":\
\"$(printf %s "$1" | base64 -w0)\",\"value\":\"$(printf %s "$2" |
	    base64 -w0)\"}" >/dev/null || fail "cannot put $1"
}
OLD=r@20200101-000000-000001
WAIT=r@20200101-000000-000002
NEW=$(date -u +r@%Y%m%d-%H%M%S-000003)
for id in $OLD $WAIT $NEW; do
	state=finalised
	[ $id = $WAIT ] && state=waiting_approval
	put "/leura/runs/docs/$id" "{\"id\":\"$id\",\"kind\":\"task\",\
\"task\":\"t\",\"state\":\"$state\",\"hosts\":[\"h1\"],\"steps\":\
[{\"name\":\"ok\",\"kind\":\"approval\",\"approval\":{\"groups\":[\"g\"],\
\"timeout_ms\":0,\"self_approval\":false}}],\"progress\":{\"h1\":\
[{\"state\":\"pending\",\"status\":null,\"attempt\":0}]},\"approvals\":[],\
\"timeout_ms\":0,\"parallel\":0,\"on_failure\":\"stop\",\"by\":\"admin\",\
\"created\":\"2020-01-01T00:00:00.000Z\",\"started\":\"2020-01-01T00:00:00.000Z\"}"
	put "/leura/runs/results/$id/h1/0000" '{"status":"ok"}'
	put "/leura/runs/log/$id/h1/0000/00000000" 'x'
done

srv_start a --log-retention 30d
gone() { [ "$(etcd_count "/leura/runs/docs/$OLD")" = 0 ]; }
i=0
until gone; do
	[ $i -lt 300 ] || fail "the old finalised run is still there"
	sleep 0.1
	i=$((i + 1))
done
for p in results log; do
	[ "$(etcd_count "/leura/runs/$p/$OLD/")" = 0 ] ||
	    fail "the old run's $p are still there"
done
[ "$(etcd_count "/leura/runs/docs/$WAIT")" = 1 ] ||
    fail "an old run that still waits was deleted"
[ "$(etcd_count "/leura/runs/results/$WAIT/")" = 1 ] ||
    fail "the results of a run that still waits were deleted"
[ "$(etcd_count "/leura/runs/docs/$NEW")" = 1 ] ||
    fail "a run within the retention was deleted"
[ "$(etcd_count "/leura/runs/results/$NEW/")" = 1 ] ||
    fail "the results of a recent run were deleted"
grep -q "deleted the records of 1 run" "$T/srv-a/leurad.log" ||
    fail "leurad does not say what it deleted"
done_testing
