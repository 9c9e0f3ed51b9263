# Deploy logs (issue 14, item 6): after a converge run the agent puts its
# packed log (logs/RUN.tar.gz) in etcd as run "d@DEPLOY", step 0000 (the
# chunks, byte for byte the archive, then the result {"status",
# "archive": true, "bytes", "chunks", "local_run"}); a later converge of
# the same deploy replaces both; a failed deploy says "failed".  Only
# while a leurad leads (P/leader exists): without one nobody would take
# them out of etcd, so they stay on the host.
. "$LEURA_SRC/tests/agent/lib.sh"
. "$LEURA_SRC/tests/agent/runs.sh"
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
  - name: hello
    script: echo "hello from $LEURA_GENERATION"; echo x >> {{ host.vars.root }}/runs
EOF
commit_all init
apply
agent_start h1
wait_state h1 converged 1

# no leurad: the log stays on the host
wait_until 30 "h1 to say there is no leurad" log_has h1 "no leurad leads"
has_result d@1 h1 0 && fail "a deploy log without a leurad"
expect_eq "no chunks without a leurad" "$(nchunks d@1 h1 0)" 0

# a leurad leads (the test writes its key): converge again (SIGHUP)
etcd_put /leura/leader '{"id":"test"}'
kill -HUP "$(agent_pid h1)"
# deploy_ok N: the result of deploy N's log is there
deploy_ok() { has_result "d@$1" h1 0; }
wait_until 30 "deploy 1's log in etcd" deploy_ok 1
LR=$(rres d@1 h1 0 .local_run)
expect_eq "status" "$(rres d@1 h1 0 .status)" ok
expect_eq "archive" "$(rres d@1 h1 0 .archive)" true
A="$T/state/h1/logs/$LR.tar.gz"
[ -f "$A" ] || fail "no archive $A"
rlog d@1 h1 0 >"$T/got.tar.gz"
cmp -s "$T/got.tar.gz" "$A" || fail "the chunks are not the archive"
expect_eq "bytes" "$(rres d@1 h1 0 .bytes)" "$(wc -c <"$A")"
expect_eq "chunks" "$(rres d@1 h1 0 .chunks)" "$(nchunks d@1 h1 0)"
mkdir "$T/x"
tar -xzf "$T/got.tar.gz" -C "$T/x" "$LR/manifest.json" ||
    fail "the chunks do not unpack"

# the same deploy converged again (SIGHUP): its log is replaced
kill -HUP "$(agent_pid h1)"
other() { [ "$(rres d@1 h1 0 .local_run)" != "$LR" ]; }
wait_until 30 "deploy 1's log replaced" other
LR2=$(rres d@1 h1 0 .local_run)
rlog d@1 h1 0 >"$T/got2.tar.gz"
cmp -s "$T/got2.tar.gz" "$T/state/h1/logs/$LR2.tar.gz" ||
    fail "the replaced chunks are not the new archive"
expect_eq "chunks after the replacement" "$(nchunks d@1 h1 0)" \
    "$(rres d@1 h1 0 .chunks)"

# a failed deploy
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: hello
    script: echo "this fails"; exit 4
EOF
commit_all fail
apply
wait_state h1 failed 2
wait_until 30 "deploy 2's log in etcd" deploy_ok 2
expect_eq "failed status" "$(rres d@2 h1 0 .status)" failed
rlog d@2 h1 0 | tar -xzO -f - >"$T/all2" 2>/dev/null || :
expect_in "$T/all2" "this fails"

agent_stop h1
done_testing
