# leura run, runs, run show, exec, cancel and approve against a real
# leurad (the run engine), a real etcd and two real agents (h1, h2): a
# task started and waited for, its output on the hosts; the same task
# again refused before it runs with who, when, where and how it ended
# (exit 3), then forced; runs listed and filtered; run show's record; a
# failing task's --wait (exit 1, the step's output); cancel of a
# finished run refused; an approval step that waits, refused to its
# starter, approved by a member, and rejected while --wait says who must
# approve, Ctrl-C stopping the waiting (130) and not the run, a waiting
# run cancelled; exec on two hosts, its dedupe and --force; --follow
# streaming the output, then the summary; bad input: unknown
# task, -p without '=', a param of the wrong type (leurad's words),
# unknown options, exec without '--', no server configured.
. "$LEURA_SRC/tests/server/lib.sh"
if [ -z "${LEURA_AGENT:-}" ] || [ ! -x "$LEURA_AGENT" ]; then
	echo "SKIP: no leura-agent (LEURA_AGENT)" >&2
	exit 77
fi

# ---- the config repo: two hosts, four tasks
R=$T/repo
ROOT=$T/root
mkdir -p "$R/inventory" "$R/tasks" "$ROOT"
cat >"$R/leura.yml" <<EOF
name: runs
EOF
cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {address: 127.0.0.1, groups: [g]}
  h2: {address: 127.0.0.1, groups: [g]}
EOF
cat >"$R/services.yml" <<EOF
{}
EOF
cat >"$R/tasks/hello.yml" <<EOF
description: say hello on every host of g
targets: {groups: [g]}
params:
  who: {type: string, default: world}
  count: {type: integer, default: 1}
steps:
  - name: hello
    script: echo "hello {{ params.who }} {{ params.count }}" >$ROOT/hello-{{ host.name }}
EOF
cat >"$R/tasks/boom.yml" <<EOF
description: fails on h1
targets: {hosts: [h1]}
steps:
  - name: break
    script: |
      echo first line
      echo 'oops: disk full' >&2
      exit 3
EOF
cat >"$R/tasks/gated.yml" <<EOF
description: waits for an approver
targets: {hosts: [h2]}
steps:
  - name: sign-off
    approval: {groups: [approvers]}
  - name: after
    script: echo approved >$ROOT/gated-{{ host.name }}
EOF
(cd "$R" && git init -q -b main . && git add -A && git commit -q -m init)
run 0 "$LEURA" -C "$R" validate

srv_start a --source "$R" --signing-key "$LEURA_SIGNING_KEY"
export LEURA_SERVER="$SRV_URL"
unset LEURA_TOKEN LEURA_CREDENTIALS XDG_CONFIG_HOME || :
bob() { env XDG_CONFIG_HOME="$T/bob" "$LEURA" "$@"; }

# no server configured: a clear error, before anything else
run 1 env -u LEURA_SERVER XDG_CONFIG_HOME="$T/none" "$LEURA" runs
expect_in "$T/err" "no leurad server is configured"
run 1 env -u LEURA_SERVER XDG_CONFIG_HOME="$T/none" "$LEURA" run hello
expect_in "$T/err" "hint: give one with --server URL"

run 0 "$LEURA" login --password-file "$SRV_ADMIN_PASSWORD_FILE" admin
printf 'bob-pass-1234\n' >"$T/bob.pw"
run 0 "$LEURA" users add bob --password-file "$T/bob.pw"
run 0 "$LEURA" groups add approvers
run 0 "$LEURA" groups join approvers bob
run 0 "$LEURA" groups join approvers admin
# bob reads the tasks' runs (approving one needs it) and may run none
run 0 "$LEURA" grant bob read 'tasks/*'
run 0 bob login --password-file "$T/bob.pw" bob
run 0 "$LEURA" -C "$R" apply --no-diff

for h in h1 h2; do
	mkdir -p "$T/state/$h"
	"$LEURA_AGENT" --host "$h" --etcd "$ETCD_ENDPOINT" \
	    --state-dir "$T/state/$h" --fleet-key "$LEURA_FLEET_KEY" \
	    >"$T/agent-$h.log" 2>&1 &
	# killed with leurad when the test ends (srv_kill_all)
	SRV_PIDS="$SRV_PIDS $!"
done

# lw: leura with a deadline (a wait has none of its own but the run's)
lw() { timeout 120 "$LEURA" "$@"; }
# run_id: the id in "Started run ID ..." of $T/out
run_id() { sed -n 's/^Started run \(r@[^ ]*\) .*/\1/p' "$T/out" | head -n 1; }
# wait_state ID STATE: leura run show --json says STATE (60 s)
wait_state() {
	w_i=0
	until "$LEURA" run show --json "$1" >"$T/w" 2>&1 &&
	    [ "$(json_get "$T/w" state)" = "$2" ]; do
		w_i=$((w_i + 1))
		if [ $w_i -ge 600 ]; then
			fail "run $1 never $2"
			cat "$T/w" >&2
			return 1
		fi
		sleep 0.1
	done
}

# ---- a task, waited for
run 0 lw run hello -p who=alice --wait
expect_in "$T/out" "Started run r@"
expect_in "$T/out" "of task 'hello' on 2 hosts: h1, h2"
expect_in "$T/out" ": succeeded in "
expect_in "$T/out" "2 hosts ok: h1, h2"
ID1=$(run_id)
for h in h1 h2; do
	[ "$(cat "$ROOT/hello-$h" 2>/dev/null)" = "hello alice 1" ] ||
	    fail "hello on $h wrote '$(cat "$ROOT/hello-$h" 2>/dev/null)'"
done

# ---- did someone just do that?  refused before anything runs
rm -f "$ROOT/hello-h1"
run 3 "$LEURA" run hello --hosts h1
expect_in "$T/err" "leura: refused: "
expect_in "$T/err" "nothing was started"
expect_in "$T/err" "  run      $ID1"
expect_in "$T/err" "  by       admin"
expect_in "$T/err" " ago)"
expect_in "$T/err" "  hosts    h1, h2"
expect_in "$T/err" "  ended    succeeded"
expect_in "$T/err" "hint: if it must run again now, give the same command with --force"
[ ! -e "$ROOT/hello-h1" ] || fail "the refused run ran"
run 3 "$LEURA" run hello --hosts h1 --json
[ "$(json_get "$T/out" recent.id)" = "$ID1" ] ||
    fail "--json refusal: no recent.id $ID1: $(cat "$T/out")"
run 0 lw run hello --hosts h1 -p count=2 --force --wait --json
[ "$(json_get "$T/out" outcome)" = succeeded ] || fail "forced: not succeeded"
[ "$(json_get "$T/out" forced.recent)" = "$ID1" ] || fail "forced: no forced.recent"
ID2=$(json_get "$T/out" id)
[ "$(cat "$ROOT/hello-h1")" = "hello world 2" ] || fail "forced run did not run"

# ---- runs and run show
run 0 "$LEURA" runs
expect_in "$T/out" "ID "
expect_in "$T/out" "$ID1"
expect_in "$T/out" "$ID2"
expect_in "$T/out" "hello"
expect_in "$T/out" "succeeded"
run 0 "$LEURA" runs --task boom
expect_in "$T/out" "No runs match."
run 0 "$LEURA" runs --limit 1 --json
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
    "$T/out")" = 1 ] || fail "runs --limit 1: not one run"
run 0 "$LEURA" run show "$ID1"
expect_in "$T/out" "run        $ID1"
expect_in "$T/out" "task       hello"
expect_in "$T/out" "by         admin"
expect_in "$T/out" "state      finalised: succeeded"
expect_in "$T/out" "params     count=1, who=alice"
expect_in "$T/out" "hosts      2: h1, h2"
expect_in "$T/out" "hello"
run 64 "$LEURA" run show hello
expect_in "$T/err" "'hello' is not a run id"
run 1 "$LEURA" run show r@20000101-000000-000000
expect_in "$T/err" "leura: error:"

# ---- a failing task
run 1 lw run boom --wait
expect_in "$T/out" ": failed in "
expect_in "$T/out" "h1"
expect_in "$T/out" "exit 3"
expect_in "$T/out" "oops: disk full"
ID3=$(run_id)
run 0 "$LEURA" run show "$ID3"
expect_in "$T/out" "finalised: failed"
expect_in "$T/out" "oops: disk full"
# cancel of a finished run: leurad's refusal, shown
run 1 "$LEURA" cancel "$ID3" -m late
expect_in "$T/err" "leura: error:"
run 64 "$LEURA" cancel
expect_in "$T/err" "cancel wants a RUN id"

# ---- approvals
run 0 "$LEURA" run gated
ID4=$(run_id)
wait_state "$ID4" waiting_approval
run 0 "$LEURA" run show "$ID4"
expect_in "$T/out" "Waiting for approval of step 1 'sign-off' by a member of approvers"
expect_in "$T/out" "leura approve $ID4"
# the starter may not approve their own run
run 1 "$LEURA" approve "$ID4" -m mine
expect_in "$T/err" "leura: error:"
run 0 bob approve "$ID4" -m "looks fine"
expect_in "$T/out" "Approved run $ID4"
wait_state "$ID4" finalised
[ "$(json_get "$T/w" outcome)" = succeeded ] || fail "approved run: $(cat "$T/w")"
[ "$(cat "$ROOT/gated-h2" 2>/dev/null)" = approved ] || fail "gated step did not run"
run 0 "$LEURA" run show "$ID4"
expect_in "$T/out" "approval   step 1 'sign-off' approved by bob at "
expect_in "$T/out" ": looks fine"
# --wait says who must approve; a rejection ends it (exit 1)
rm -f "$ROOT/gated-h2"
lw run gated --force --wait >"$T/wait.out" 2>"$T/wait.err" &
wpid=$!
i=0
until grep -q "Waiting for approval" "$T/wait.out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 600 ] || { fail "--wait never said it waits"; break; }
	sleep 0.1
done
expect_in "$T/wait.out" "by a member of approvers"
expect_in "$T/wait.out" "leura approve --reject r@"
ID5=$(sed -n 's/^Started run \(r@[^ ]*\) .*/\1/p' "$T/wait.out")
run 0 bob approve --reject "$ID5" -m "not now"
expect_in "$T/out" "Rejected run $ID5"
set +e
wait "$wpid"
wst=$?
set -e
[ "$wst" = 1 ] || fail "--wait of a rejected run exited $wst"
expect_in "$T/wait.out" ": rejected in "
[ ! -e "$ROOT/gated-h2" ] || fail "the rejected run went on"
# Ctrl-C stops the waiting, not the run
"$LEURA" run gated --force --wait >"$T/int.out" 2>"$T/int.err" &
wpid=$!
i=0
until grep -q "Waiting for approval" "$T/int.out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 600 ] || { fail "--wait never said it waits"; break; }
	sleep 0.1
done
kill -INT "$wpid"
set +e
wait "$wpid"
wst=$?
set -e
[ "$wst" = 130 ] || fail "--wait stopped by SIGINT exited $wst"
ID7=$(sed -n 's/^Started run \(r@[^ ]*\) .*/\1/p' "$T/int.out")
expect_in "$T/int.err" "leura: stopped waiting: run $ID7 goes on"
expect_in "$T/int.err" "'leura cancel $ID7' stops it"
wait_state "$ID7" waiting_approval
# a waiting run cancelled: it ends cancelled, with who and why
# bob may read the run, not cancel it
run 1 bob cancel "$ID7"
expect_in "$T/err" "leura: error:"
run 0 "$LEURA" cancel "$ID7" -m "not needed"
expect_in "$T/out" "$ID7"
wait_state "$ID7" finalised
[ "$(json_get "$T/w" outcome)" = cancelled ] || fail "cancelled run: $(cat "$T/w")"
run 0 "$LEURA" run show "$ID7"
expect_in "$T/out" "cancelled  by admin at "
expect_in "$T/out" ": not needed"

# ---- exec on two hosts; dedupe and --force
run 0 lw exec --hosts h1,h2 -- echo 'a b'
expect_in "$T/out" "(exec: echo 'a b') on 2 hosts: h1, h2"
ID6=$(run_id)
wait_state "$ID6" finalised
[ "$(json_get "$T/w" outcome)" = succeeded ] || fail "exec: $(cat "$T/w")"
for h in h1 h2; do
	[ "$(json_get "$T/w" "results.$h.0000.tail")" = "a b" ] ||
	    fail "exec on $h: output '$(json_get "$T/w" "results.$h.0000.tail")'"
done
run 3 "$LEURA" exec --hosts h2 -- echo 'a b'
expect_in "$T/err" "  run      $ID6"
expect_in "$T/err" "  by       admin"
expect_in "$T/err" "--force"
run 0 lw exec --hosts h2 --force --wait -- echo 'a b'
expect_in "$T/out" ": succeeded in "
run 0 "$LEURA" runs
expect_in "$T/out" "exec: echo 'a b'"

# --follow: the output as it comes, then the summary
run 0 lw exec --hosts h1,h2 --force --follow -- sh -c 'echo "from $0"; sleep 1; echo done' x
expect_in "$T/out" "from x"
expect_in "$T/out" "done"
expect_in "$T/out" ": succeeded in "
expect_not_in "$T/out" "Waiting for run"
run 1 lw run boom --force --follow
expect_in "$T/out" "first line"
expect_in "$T/out" ": failed in "
run 64 "$LEURA" run boom --follow --json
expect_in "$T/err" "give one of --follow and --json"

# ---- bad input
run 1 "$LEURA" run nosuch
expect_in "$T/err" "nosuch"
expect_in "$T/err" "hint:"
run 64 "$LEURA" run hello -p count
expect_in "$T/err" "-p 'count' is not NAME=VALUE"
run 1 "$LEURA" run hello --force -p count=many
expect_in "$T/err" "count"
expect_in "$T/err" "integer"
run 64 "$LEURA" run hello --bogus
expect_in "$T/err" "unknown argument '--bogus'"
run 64 "$LEURA" runs --bogus
run 64 "$LEURA" approve
run 64 "$LEURA" exec --hosts h1 uptime
expect_in "$T/err" "the command goes after '--'"
run 64 "$LEURA" exec -- uptime
expect_in "$T/err" "--hosts, --groups or --services"
run 1 "$LEURA" run hello --force --hosts nosuchhost
expect_in "$T/err" "nosuchhost"
done_testing
