# The disk a step's output takes is bounded: with --step-log-max 64K a
# step printing 2 MiB leaves a log of about 64 KiB in the run's archive,
# with its first and last lines and a line saying how much was cut, and
# the step's result says it too.  The log folder of a run a kill -9 cut
# short is removed when the next agent starts.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
app: {}
EOF
mkdir -p "$R/roles/app"
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: loud
    script: |
      echo FIRST-LINE
      head -c 2097152 /dev/zero | tr '\0' x
      echo
      echo LAST-LINE
EOF
commit_all init
apply
agent_start h1 --step-log-max 64K
wait_state h1 converged "$GEN"
loud=app/app/converge/loud
out=$(step h1 $loud output)
expect_has "the result's output" "$out" "bytes of output cut from the log \
(it keeps the first 32768 and the last 32768); the end:"
expect_has "the result's output ends as the step's" "$out" "xx
LAST-LINE"
agent_stop h1
tgz=$(ls "$T/state/h1/logs/"*.tar.gz | tail -n 1)
mkdir "$T/x"
tar -xzf "$tgz" -C "$T/x" || fail "cannot unpack $tgz"
log=$(ls "$T"/x/*/000.log)
size=$(stat -c %s "$log")
[ "$size" -le $((65536 + 1024)) ] ||
    fail "the step's log takes $size bytes, over 64 KiB and the notes"
grep -q '^FIRST-LINE$' "$log" || fail "the log lacks its first line"
grep -q '^LAST-LINE$' "$log" || fail "the log lacks its last line"
grep -q '^\[leura\] [0-9]* bytes of output cut here' "$log" ||
    fail "the log does not say what was cut"

# ---- a run cut short: its log folder goes at the next start ----
cat >"$R/roles/app/role.yml" <<EOF
converge:
  - name: hold
    script: |
      echo \$\$ >$PIDS/hold
      i=0
      while [ ! -e $ROOT/go ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
EOF
commit_all hold
apply
agent_start h1
wait_until 30 "the step to start" test -s "$PIDS/hold"
left=$(cd "$T/state/h1/logs" && ls -d ./*/ 2>/dev/null | wc -l)
expect_eq "log folders while the run goes on" "$left" 1
agent_kill9 h1
touch "$ROOT/go"
agent_start h1
wait_state h1 converged "$GEN"
log_has h1 "removed 1 log folder of interrupted runs" ||
    fail "the agent does not say it removed the folder"
agent_stop h1
left=$(cd "$T/state/h1/logs" && ls -d ./*/ 2>/dev/null | wc -l)
expect_eq "log folders after the restart" "$left" 0
done_testing
