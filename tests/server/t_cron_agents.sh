# A timed task end to end (docs/schedules.md): two leurad replicas and a
# real leura-agent.  The task's `at` is a wall time in Europe/Paris
# without an offset, a few seconds ahead; the leader fires it once, the
# agent runs its step once (a line appended to a file), and the run ends
# succeeded, via at, by cron.  Later ticks of both replicas, and the
# leader killed with -9 after the firing, run nothing more.
. "$LEURA_SRC/tests/server/lib.sh"
. "$LEURA_SRC/tests/server/runs_lib.sh"
if [ -z "${LEURA_AGENT:-}" ] || [ ! -x "$LEURA_AGENT" ]; then
	echo "SKIP: no leura-agent (LEURA_AGENT)" >&2
	exit 77
fi

new_repo
rm -f "$T/repo/tasks/"*.yml
commit_all "no tasks"
srv_start a --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY" \
    --leader-ttl 2
ADMIN_PW=$SRV_ADMIN_PASSWORD
srv_start b --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY" \
    --leader-ttl 2
srv_use a
ADM=$(runs_login admin "$ADMIN_PW")
[ -n "$ADM" ] || fail "admin cannot log in"
"$LEURA_AGENT" --host web1 --state-dir "$T/state" --etcd "$ETCD_ENDPOINT" \
    -v </dev/null >>"$T/agent.log" 2>&1 &
# killed with the servers on exit (srv_kill_all, in the EXIT trap)
SRV_PIDS="$SRV_PIDS $!"

# the time 6 s ahead, as Paris's wall clock shows it, without an offset
AT=$(($(date +%s) + 6))
WALL=$(TZ=Europe/Paris date -d "@$AT" +%Y-%m-%dT%H:%M:%S)
cat >"$T/repo/tasks/stamp.yml" <<EOF
description: Leave a mark, once
targets: {hosts: [web1]}
schedule: {at: "$WALL", timezone: Europe/Paris}
steps:
  - name: mark
    script: echo fired >>$T/marks
EOF
commit_all "a timed task"
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/apply -d '{}')
[ "$code" = 200 ] || fail "apply: $code $(cat "$T/body")"
run 0 "$LEURA" -C "$T/repo" schedule --tasks
expect_in out "stamp: at $WALL in Europe/Paris, next:"
expect_in out "($(date -u -d "@$AT" +%Y-%m-%dT%H:%M:%SZ))"

# the run the firing made, by its fired key
i=0
RUN=
while [ -z "$RUN" ] && [ $i -lt 300 ]; do
	RUN=$(SRV_TOKEN=$ADM srv_curl GET '/v1/runs?task=stamp' >/dev/null &&
	    python3 -c 'import json,sys
items=json.load(open(sys.argv[1])).get("items") or []
print(items[0]["id"] if items else "")' "$T/body")
	[ -n "$RUN" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$RUN" ] || fail "no run of stamp 30 s after its time"
[ "$(date +%s)" -ge $AT ] || fail "stamp fired before its time"
runs_wait "$RUN" 'r["state"]=="finalised"' 60
[ "$(runs_field "$RUN" outcome)" = succeeded ] || fail "stamp: $(cat "$T/body")"
[ "$(runs_field "$RUN" via)" = at ] || fail "via: $(cat "$T/body")"
[ "$(runs_field "$RUN" by)" = cron ] || fail "by: $(cat "$T/body")"
[ "$(runs_field "$RUN" fired.time)" = \
    "$(date -u -d "@$AT" +%Y-%m-%dT%H:%M:%SZ)" ] ||
    fail "fired: $(cat "$T/body")"

# the leader dies; the other replica takes over and fires nothing more
for r in a b; do
	srv_use $r
	SRV_TOKEN=$ADM srv_curl GET /v1/leader >/dev/null
	if grep -q '"is_leader":true' "$T/body"; then
		kill -KILL "$SRV_PID"
		wait "$SRV_PID" 2>/dev/null || :
		[ $r = a ] && srv_use b || srv_use a
		break
	fi
done
i=0
until SRV_TOKEN=$ADM srv_curl GET /v1/leader >/dev/null &&
    grep -q '"is_leader":true' "$T/body" || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
grep -q '"is_leader":true' "$T/body" || fail "no new leader: $(cat "$T/body")"
sleep 2
SRV_TOKEN=$ADM srv_curl GET '/v1/runs?task=stamp' >/dev/null
n=$(python3 -c 'import json,sys
print(len(json.load(open(sys.argv[1])).get("items") or []))' "$T/body")
[ "$n" = 1 ] || fail "stamp has $n runs"
[ "$(wc -l <"$T/marks")" = 1 ] || fail "the step ran $(wc -l <"$T/marks") times"
[ "$(etcd_count /leura/runs/fired/stamp/)" = 1 ] ||
    fail "$(etcd_count /leura/runs/fired/stamp/) fired keys"
done_testing
