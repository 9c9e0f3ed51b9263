# Timed and cron tasks fired by the leader (docs/schedules.md), on a real
# etcd and real leurad replicas, without waiting for real cron times:
#
# A. an `at` time a few seconds ahead, two replicas: exactly one run
#    (via at, by cron) and one fired key, and no second one later;
# B. leurad killed (-9) and restarted with its clock moved past 03:00
#    (LEURA_TEST_CLOCK_OFFSET, honoured with LEURA_TEST=1): a missed
#    daily firing with misfire skip is recorded missed (event
#    cron.missed, no run), with misfire run_once makes one run marked
#    misfire; an hourly task with a deadline of an hour fires 03:00 late;
# C. restarted with the clock an hour further: the hourly task's 04:00
#    is skipped (overlap forbid: the 03:00 run is not finalised; event
#    cron.skipped); with overlap replace the 03:00 run is asked to cancel
#    (by cron) and a new run starts; with allow a second run starts
#    beside the first; the dailies do nothing more;
# D. the clock stepped back to now, then forwards again: nothing fires
#    twice (runs and fired keys counted).
# No agent runs: the runs stay unfinalised, which is what C needs.
. "$LEURA_SRC/tests/server/lib.sh"

TTL=2
P=/leura

# etcd_kv PREFIX: "KEY VALUE" lines (values on one line) under PREFIX
etcd_kv() {
	python3 - "$ETCD_ENDPOINT" "$1" <<'PY'
import base64, json, sys, urllib.request
ep, p = sys.argv[1], sys.argv[2].encode()
end = p[:-1] + bytes([p[-1] + 1])
b = lambda s: base64.b64encode(s).decode()
req = urllib.request.Request(ep + "/v3/kv/range", data=json.dumps(
    {"key": b(p), "range_end": b(end)}).encode())
r = json.load(urllib.request.urlopen(req, timeout=10))
for kv in r.get("kvs", []):
    v = base64.b64decode(kv.get("value", "")).decode()
    print(base64.b64decode(kv["key"]).decode(), v.replace("\n", " "))
PY
}

# runs_of TASK: how many run records of TASK
runs_of() {
	etcd_kv $P/runs/docs/ | grep -c "\"task\":\"$1\"" || :
}

# fired_of TASK: how many fired keys TASK has
fired_of() {
	etcd_kv "$P/runs/fired/$1/" | wc -l
}

# wait_for DESC SECONDS CMD...: until CMD succeeds, or fail after SECONDS
wait_for() {
	desc=$1
	n=$(($2 * 5))
	shift 2
	while ! "$@"; do
		n=$((n - 1))
		if [ $n -le 0 ]; then
			fail "timed out waiting for $desc"
			for r in $RUNNING; do
				echo "--- leurad $r" >&2
				tail -n 20 "$(_srv_var "$r" LOG)" >&2
			done
			exit 1
		fi
		sleep 0.2
	done
}

has_fired() { [ "$(fired_of "$1")" -ge "$2" ]; }
has_runs() { [ "$(runs_of "$1")" -ge "$2" ]; }

login() {
	SRV_TOKEN=
	code=$(srv_curl POST /v1/login \
	    -d "{\"user\":\"admin\",\"password\":\"$ADMIN_PW\"}")
	[ "$code" = 200 ] || fail "login: $code $(cat "$T/body")"
	SRV_TOKEN=$(sed 's/.*"token":"\([^"]*\)".*/\1/' "$T/body")
}

# start NAME [OFFSET]: a replica with its clock OFFSET seconds ahead
start() {
	if [ -n "${2:-}" ]; then
		export LEURA_TEST=1 LEURA_TEST_CLOCK_OFFSET="$2"
	fi
	srv_start "$1" --source "$T/repo" --leader-ttl $TTL \
	    --signing-key "$LEURA_SIGNING_KEY"
	unset LEURA_TEST LEURA_TEST_CLOCK_OFFSET
	# the first replica made the admin: its password holds for all
	[ -n "$ADMIN_PW" ] || ADMIN_PW=$SRV_ADMIN_PASSWORD
	RUNNING="$RUNNING $1"
}

kill9() {
	pid=$(_srv_var "$1" PID)
	kill -KILL "$pid" 2>/dev/null || :
	wait "$pid" 2>/dev/null || :
	RUNNING=$(echo "$RUNNING" | sed "s/ $1//")
}

any_leader() {
	srv_curl GET /v1/leader >/dev/null
	grep -q '"leader":"[^"]' "$T/body"
}

leads() {
	srv_curl GET /v1/leader >/dev/null
	grep -q '"is_leader":true' "$T/body"
}

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

RUNNING=
ADMIN_PW=
new_repo
rm -f "$T/repo/tasks/"*.yml
task() {
	printf 'targets: {hosts: [web1]}\nschedule: %s\nsteps:\n' "$2" \
	    >"$T/repo/tasks/$1.yml"
	printf '  - script: "true"\n' >>"$T/repo/tasks/$1.yml"
}

# ---- A: an `at` time, two replicas: one run ----
start a
start b
srv_use a
login
wait_for "a leader" 10 any_leader
AT=$(($(date +%s) + 6))
task once "{at: $(iso $AT)}"
task skipme "{cron: \"0 3 * * *\", misfire: skip, starting_deadline: 1m}"
task catchup "{cron: \"0 3 * * *\", misfire: run_once, starting_deadline: 1m}"
task hourly "{cron: \"0 * * * *\", starting_deadline: 1h, overlap: forbid}"
task replacer "{cron: \"0 * * * *\", starting_deadline: 1h, overlap: replace}"
task allower "{cron: \"0 * * * *\", starting_deadline: 1h, overlap: allow}"
commit_all "scheduled tasks"
run 0 "$LEURA" -C "$T/repo" validate
code=$(srv_curl POST /v1/apply -d '{}')
if [ "$code" != 200 ]; then
	srv_use b
	code=$(srv_curl POST /v1/apply -d '{}')
fi
[ "$code" = 200 ] || fail "apply: $code $(cat "$T/body")"
[ "$(date +%s)" -lt $AT ] || echo "note: the apply took until the at time"
wait_for "the at firing" 30 has_fired once 1
wait_for "the at run" 10 has_runs once 1
# a second tick on each replica, and a leader change, make no second run
L=a
srv_use a
leads || L=b
kill9 $L
if [ $L = a ]; then srv_use b; else srv_use a; fi
wait_for "a new leader" 15 leads
sleep 2
[ "$(runs_of once)" = 1 ] || fail "'once' ran $(runs_of once) times"
[ "$(fired_of once)" = 1 ] || fail "'once' has $(fired_of once) fired keys"
etcd_kv $P/runs/docs/ | grep '"task":"once"' >"$T/once"
expect_in "$T/once" '"via":"at"'
expect_in "$T/once" '"by":"cron"'
expect_in "$T/once" "\"time\":\"$(iso $AT)\""
for r in $RUNNING; do kill9 "$r"; done

# ---- B: killed over 03:00, back at 03:05 ----
now=$(date +%s)
D=$(( (now / 86400 + 1) * 86400 + 3 * 3600 ))	# the next 03:00 UTC
# (today's when it is still ahead)
[ $((D - 86400)) -le "$now" ] || D=$((D - 86400))
start a $((D + 300 - now))
srv_use a
wait_for "the misfire of skipme" 20 has_fired skipme 1
wait_for "the misfire run of catchup" 20 has_runs catchup 1
wait_for "the late run of hourly" 20 has_runs hourly 1
wait_for "the late run of replacer" 20 has_runs replacer 1
wait_for "the late run of allower" 20 has_runs allower 1
etcd_kv "$P/runs/fired/skipme/" >"$T/skipme"
expect_in "$T/skipme" '"skipped":"misfire"'
expect_in "$T/skipme" "$(iso $D)"
[ "$(runs_of skipme)" = 0 ] || fail "skipme ran"
etcd_kv $P/events/ >"$T/events"
expect_in "$T/events" '"action":"cron.missed"'
expect_in "$T/events" '"resource":"tasks/skipme"'
etcd_kv $P/runs/docs/ | grep '"task":"catchup"' >"$T/catchup"
expect_in "$T/catchup" '"misfire":true'
expect_in "$T/catchup" "\"time\":\"$(iso $D)\""
etcd_kv $P/runs/docs/ | grep '"task":"hourly"' >"$T/hourly"
expect_in "$T/hourly" "\"time\":\"$(iso $D)\""
expect_not_in "$T/hourly" '"misfire"'
srv_curl GET /metrics >/dev/null
expect_in "$T/body" 'leurad_cron_fired_total 4'
expect_in "$T/body" 'leurad_cron_skipped_total{reason="misfire"} 1'
kill9 a

# ---- C: an hour later: hourly's 04:00 skipped, the 03:00 run goes on ----
start a $((D + 3600 + 300 - now))
srv_use a
wait_for "hourly's 04:00" 20 has_fired hourly 2
etcd_kv "$P/runs/fired/hourly/" >"$T/hourly-fired"
expect_in "$T/hourly-fired" '"skipped":"overlap"'
[ "$(runs_of hourly)" = 1 ] || fail "hourly ran $(runs_of hourly) times"
wait_for "replacer's 04:00 run" 20 has_runs replacer 2
wait_for "allower's 04:00 run" 20 has_runs allower 2
etcd_kv $P/runs/docs/ | grep '"task":"replacer"' |
    grep '"time":"'"$(iso $D)"'"' >"$T/replaced"
expect_in "$T/replaced" '"cancel":{'
msg="replaced by the firing of $(iso $((D + 3600)))"
expect_in "$T/replaced" "\"message\":\"$msg\""
etcd_kv $P/runs/docs/ | grep '"task":"allower"' >"$T/allowed"
expect_not_in "$T/allowed" '"cancel":{'
etcd_kv $P/events/ >"$T/events"
expect_in "$T/events" '"action":"cron.skipped"'
srv_curl GET /metrics >/dev/null
expect_in "$T/body" 'leurad_cron_skipped_total{reason="overlap"} 1'
kill9 a

# ---- D: the clock back to now, then forwards again: nothing twice ----
counts() {
	echo "$(etcd_kv $P/runs/docs/ | wc -l) $(etcd_kv $P/runs/fired/ |
	    wc -l)"
}
before=$(counts)
start a
srv_use a
wait_for "a leader" 10 leads
sleep 3
start b $((D + 3600 + 300 - $(date +%s) + 2))
kill9 a
srv_use b
wait_for "b leads" 15 leads
sleep 3
after=$(counts)
[ "$before" = "$after" ] ||
    fail "the clock jumps made runs or firings: $before, then $after"
for t in skipme catchup; do
	[ "$(fired_of $t)" = 1 ] || fail "$t has $(fired_of $t) fired keys"
done
[ "$(runs_of catchup)" = 1 ] || fail "catchup ran $(runs_of catchup) times"
for r in $RUNNING; do kill9 "$r"; done
done_testing
