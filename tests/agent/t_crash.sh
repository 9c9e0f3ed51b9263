# kill -9 of the agent: a step it was running when killed is reported in
# "interrupted" by the next agent and runs again to completion; repeated
# kill -9 at random points of runs (and of fetching a new deploy) leave a
# state dir the next agent starts from without complaint, and no
# half-written files: the last agent converges everything.  A crash in
# the middle of a file step's write (made certain with RLIMIT_FSIZE: the
# kernel's SIGXFSZ kills the agent inside the write, as a kill -9 there
# would) leaves no temporary file once the next agent has converged.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {groups: [one], vars: {root: $ROOT, pids: $PIDS}}
  h2: {groups: [two], vars: {root: $ROOT}}
  h3: {groups: [three], vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
app: {scheduling_group: one}
many: {scheduling_group: two, params: {v: 1}}
big: {scheduling_group: three}
EOF
mkdir -p "$R/roles/app" "$R/roles/many/files" "$R/roles/big/files"
# 400 KB of text (an agent limited to 100 KB files dies writing it)
head -c 300000 /dev/urandom | base64 >"$R/roles/big/files/big.txt"
cat >"$R/roles/big/role.yml" <<'EOF'
converge:
  - name: big
    file: {src: files/big.txt, dest: "{{ host.vars.root }}/big/big.txt"}
EOF
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: conf
    file: {content: "app\n", dest: "{{ host.vars.root }}/app.conf"}
  - name: long
    script: |
      echo $$ > {{ host.vars.pids }}/long
      echo "start $LEURA_GENERATION" >> {{ host.vars.root }}/runs.log
      sleep 3
      echo "done $LEURA_GENERATION" >> {{ host.vars.root }}/runs.log
  - name: after
    script: echo after >> {{ host.vars.root }}/after.log
EOF

# many: 12 files of 200 KB (rendered per version) between script steps
{
	echo "converge:"
	i=1
	while [ $i -le 12 ]; do
		head -c 150000 /dev/urandom | base64 -w 76 \
		    >"$R/roles/many/files/f$i.txt"
		echo "v={{ params.v }}" >>"$R/roles/many/files/f$i.txt"
		cat <<EOF
  - name: f$i
    file: {src: files/f$i.txt, dest: "{{ host.vars.root }}/many/f$i.txt", template: true, mode: "0640"}
  - name: s$i
    script: sleep 0.02; echo "s$i {{ params.v }}" > {{ host.vars.root }}/many/s$i
EOF
		i=$((i + 1))
	done
} >"$R/roles/many/role.yml"
commit_all init
apply

# ---- a step interrupted by kill -9 runs again ----
long=app/app/converge/long
agent_start h1
wait_until 30 "the long step to start" grep -q start "$ROOT/runs.log"
wait_until 5 "the long step's pid" test -s "$PIDS/long"
wait_until 10 "h1 to report the long step as current" eval \
    '[ "$(obs h1 .current)" = "$long" ]'
[ -f "$T/state/h1/running.json" ] || fail "no running.json while it runs"
agent_kill9 h1
# the step's process outlives the agent (its own session); end it so that
# only the rerun writes "done"
kill -KILL "-$(cat "$PIDS/long")" 2>/dev/null || :
expect_eq "runs.log after the kill" "$(cat "$ROOT/runs.log")" "start 1"

agent_start h1
wait_state h1 converged 1
expect_eq "interrupted" "$(obs h1 '.interrupted[*]')" "$long"
log_has h1 "step '$long' was interrupted (the agent stopped while it ran)" ||
    fail "the log does not say the step was interrupted"
expect_eq "runs.log after the restart" "$(cat "$ROOT/runs.log")" "start 1
start 1
done 1"
expect_eq "long: status" "$(step h1 $long status)" changed
expect_eq "after ran once" "$(cat "$ROOT/after.log")" after
[ -f "$T/state/h1/running.json" ] && fail "running.json left after the run"
agent_stop h1

# ---- kill -9 at random points, many times ----
rand_ms() {	# 0..$1-1
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((n % $1))
}
k=1
while [ $k -le 8 ]; do
	if [ $k -eq 4 ]; then
		# a new deploy for the next agents to fetch
		sed -i 's/v: 1/v: 2/' "$R/services.yml"
		commit_all "v2"
		apply
	fi
	n=$(log_count h2 "run 0000")
	agent_start h2
	# a random point in the first ~0.5 s of its run (or of its fetch)
	if [ $((k % 2)) -eq 0 ]; then
		wait_until 30 "run $k of h2 to start" \
		    log_more h2 "run 0000" "$n"
	fi
	sleep "0.$(printf %03d "$(rand_ms 500)")"
	agent_kill9 h2
	expect_eq "kill $k: exit status" "$AGENT_RC" 137
	k=$((k + 1))
done
# (an agent killed late may have converged already: wait for this one's run)
n=$(log_count h2 "converged in")
agent_start h2
wait_until 30 "the last agent to converge" log_more h2 "converged in" "$n"
wait_state h2 converged "$GEN"
expect_eq "final: v" "$(tail -n 1 "$ROOT/many/f7.txt")" "v=2"
i=1
while [ $i -le 12 ]; do
	tail -n 1 "$ROOT/many/f$i.txt" | grep -qx 'v=2' ||
	    fail "final: f$i.txt is not version 2"
	expect_eq "final: mode of f$i.txt" \
	    "$(stat -c %a "$ROOT/many/f$i.txt")" 640
	expect_eq "final: s$i" "$(cat "$ROOT/many/s$i")" "s$i 2"
	i=$((i + 1))
done
# only the files of the steps: no temporary file left behind by a kill
extra=$(cd "$ROOT/many" && ls -A | grep -Ev '^(f|s)[0-9]+(\.txt)?$' || :)
[ -z "$extra" ] || fail "files left in the steps' folder by kill -9:" $extra
# the agents after each kill started without complaint
grep -E 'corrupt|not a desired state|without a cached|error' \
    "$T/agent-h2.log" >"$T/complaints" || :
[ -s "$T/complaints" ] &&
    fail "complaints after kill -9: $(cat "$T/complaints")"
for f in desired.json steps.json; do
	"$TJSON" . <"$T/state/h2/$f" >/dev/null ||
	    fail "state dir: $f is not JSON"
done
tmps=$(find "$T/state/h2" -name '*.tmp*' -o -name '*-XXXXXX' | head -5)
[ -z "$tmps" ] || fail "temporary files in the state dir: $tmps"
agent_stop h2

# ---- a crash in the middle of a file step's write ----
agent_start h3 --once
agent_wait h3 30
expect_eq "h3 --once" "$AGENT_RC" 0
cmp -s "$ROOT/big/big.txt" "$R/roles/big/files/big.txt" ||
    fail "h3: big.txt not written"
rm "$ROOT/big/big.txt"
# the content is cached in the state dir: the next agent writes big.txt
# at once, from its cached desired state, and dies in the write
echo "=== $(date +%T.%N) start with ulimit -f 200" >>"$T/agent-h3.log"
(ulimit -f 200 && exec "$LEURA_AGENT" --host h3 --state-dir "$T/state/h3" \
    --etcd "$ETCD_ENDPOINT" -v) </dev/null >>"$T/agent-h3.log" 2>&1 &
_pid_h3=$!
AGENT_PIDS="$AGENT_PIDS $!"
agent_wait h3 30
partial=$(cd "$ROOT/big" && ls -A | grep -v '^big\.txt$' || :)
if [ "$AGENT_RC" -ne 153 ] || [ -z "$partial" ]; then
	echo "note: no crash inside the write (exit $AGENT_RC, left:" \
	    "'$partial'); that part is not checked" >&2
else
	agent_start h3
	wait_state h3 converged 1
	cmp -s "$ROOT/big/big.txt" "$R/roles/big/files/big.txt" ||
	    fail "h3: big.txt not repaired after the crash"
	# AGENT BUG (reported; agent/step_file.c write_dest): the temporary
	# file of the interrupted write (.big.txt.leura-XXXXXX, partial)
	# stays in the destination folder for ever
	left=$(cd "$ROOT/big" && ls -A | grep -v '^big\.txt$' || :)
	[ -z "$left" ] || fail "AGENT BUG: a crash in a file step's write" \
	    "left a partial temporary file in its folder: $left" \
	    "($(stat -c %s "$ROOT/big/$left" 2>/dev/null) bytes)"
	agent_stop h3
fi
done_testing
