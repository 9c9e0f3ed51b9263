#!/bin/sh
# Run logs end to end (docs/server.md, Run logs): a real leurad (its
# engine, its log store) and a real leura-agent.  A task's step printing
# lines over a second is followed live by `leura logs --follow` to its
# end, byte for byte what the step printed; the run's archive holds each
# step and a manifest, the chunk keys are gone (the leader's store has
# them); the agent's converge log of the deploy reaches leurad
# (`leura logs --deploy 1 --host db2`).
. "$LEURA_SRC/tests/server/lib.sh"
. "$LEURA_SRC/tests/server/runs_lib.sh"
if [ -z "${LEURA_AGENT:-}" ] || [ ! -x "$LEURA_AGENT" ]; then
	echo "SKIP: no leura-agent (LEURA_AGENT)" >&2
	exit 77
fi

mkdir -p "$T/root"
runs_repo
sed -i "s|root: /tmp/leura-example|root: $T/root|" "$T/repo/inventory/hosts.yml"
cat >"$T/repo/tasks/chatty.yml" <<'EOF'
description: Lines over a second, then a last one
targets: {hosts: [web1]}
steps:
  - name: talk
    script: for i in 1 2 3 4 5; do echo "line $i on {{ host.name }}"; sleep 0.2; done
  - name: done
    script: echo done
EOF
commit_all "a chatty task"

srv_start a --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY"
ADM=$(runs_login admin "$SRV_ADMIN_PASSWORD")
[ -n "$ADM" ] || fail "admin cannot log in"
code=$(SRV_TOKEN=$ADM srv_curl POST /v1/apply -d '{}')
[ "$code" = 200 ] || fail "apply: $code $(cat "$T/body")"
# web1 runs the task; db2 runs db, which web1 waits for
# (its converge log is the deploy log checked)
AGENTS=
for h in web1 db2; do
	"$LEURA_AGENT" --host $h --state-dir "$T/state/$h" \
	    --etcd "$ETCD_ENDPOINT" -v </dev/null >>"$T/agent-$h.log" 2>&1 &
	AGENTS="$AGENTS $!"
done
trap 'kill -KILL $AGENTS 2>/dev/null; srv_kill_all; etcd_stop; rm -rf "$T"' EXIT
export LEURA_SERVER="$SRV_URL" LEURA_TOKEN="$ADM"
DATA=$SRV_DIR/data/logs
# wait_for WHAT CMD...: until CMD succeeds, 60 s at most
wait_for() {
	w_what=$1
	shift
	i=0
	until "$@" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 1200 ] || { fail "timed out waiting for $w_what"; return 1; }
		sleep 0.05
	done
}

runs_start "$ADM" chatty '{}'
[ "$code" = 201 ] || fail "chatty: $code $(cat "$T/body")"
R=$RUN
"$LEURA" logs --follow --host web1 --step 0 "$R" >"$T/follow" \
    2>"$T/follow.err" &
F=$!
wait_for "the first line, live" grep -q '^line 1 on web1$' "$T/follow"
grep -q '^line 5' "$T/follow" && fail "the whole step came at once: not live"
wait $F || fail "leura logs --follow: $(cat "$T/follow.err")"
printf 'line %s on web1\n' 1 2 3 4 5 >"$T/want"
cmp -s "$T/follow" "$T/want" || fail "followed: $(cat "$T/follow")"
runs_wait "$R" 'r["state"]=="finalised"' 60
[ "$(runs_field "$R" outcome)" = succeeded ] || fail "chatty: $(cat "$T/body")"

wait_for "the run's archive" test -f "$DATA/$R.tar.gz"
tar tzf "$DATA/$R.tar.gz" | sort >"$T/list"
printf 'manifest.json\nweb1/0000-talk.log\nweb1/0001-done.log\n' >"$T/want_list"
cmp -s "$T/list" "$T/want_list" || fail "archive: $(cat "$T/list")"
run 0 "$LEURA" logs "$R"
{
	printf '==> web1 0 talk <==\n'
	printf 'line %s on web1\n' 1 2 3 4 5
	printf '\n==> web1 1 done <==\ndone\n'
} >"$T/want_all"
cmp -s "$T/out" "$T/want_all" || fail "leura logs RUN: $(cat "$T/out")"
chunks_gone() { [ "$(etcd_count "/leura/runs/log/$R/")" = 0 ]; }
wait_for "the chunk keys deleted by the leader" chunks_gone

# the deploy's converge log, from db2's agent's archive
deploy_log() { "$LEURA" logs --deploy 1 --host db2 >"$T/dep" 2>/dev/null; }
wait_for "the converge log of deploy 1" deploy_log ||
    tail -n 25 "$T/agent-db2.log" >&2
grep -q '^==> ' "$T/dep" || fail "deploy log: $(head -5 "$T/dep")"

done_testing
