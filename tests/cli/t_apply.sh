# leura apply / plan / status / history against a real etcd: the flow of
# a commit through deploy, no-op applies that write nothing, uncommitted
# edits left out, a host leaving the inventory, and exit codes.
. "$LEURA_SRC/tests/cli/lib.sh"
. "$LEURA_SRC/tests/lib/etcd.sh"
etcd_start

# etcd's store revision (changes on every write)
revision() {
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" \
	    -d '{"key":"AA==","range_end":"AA==","count_only":true}' |
	    sed 's/.*"revision":"\([0-9]*\)".*/\1/'
}

new_repo

# nothing applied yet: everything is a change
run 2 "$LEURA" -C repo plan --detailed-exitcode --no-diff
expect_in "$T/out" "nothing applied yet"
run 0 "$LEURA" -C repo status
expect_in "$T/out" "Nothing applied yet"
run 0 "$LEURA" -C repo history
expect_in "$T/out" "No deploys yet."

# first apply
run 0 "$LEURA" -C repo apply --no-diff
expect_in "$T/out" "Applied deploy #1: commit"
expect_in "$T/out" "5 hosts and 3 files written"
run 0 "$LEURA" -C repo plan --detailed-exitcode
expect_in "$T/out" "No changes"
expect_in "$T/out" "Not converged"
expect_in "$T/out" "db1: unknown: no agent has reported"

# status: every host unknown until agents report, with a reason (exit 3)
run 3 "$LEURA" -C repo status --json
expect_in "$T/out" '"state": "unknown"'
expect_in "$T/out" '"deploy": 1'
for h in web1 web2 web3 db1 db2; do
	expect_in "$T/out" "\"$h\": {"
done
expect_in "$T/out" '"observed_generation": null'
expect_in "$T/out" '"services": {'
run 3 "$LEURA" -C repo status
expect_in "$T/out" "Deploy #1, commit"
expect_in "$T/out" "web1                 down   unknown"

# an apply of the same commit writes nothing
r1=$(revision)
run 0 "$LEURA" -C repo apply
expect_in "$T/out" "No changes: deploy #1"
[ "$(revision)" = "$r1" ] || fail "no-op apply wrote: revision $r1 -> $(revision)"

# a lost document (someone deleted it) is rewritten by the next apply
key=$(curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\"$(printf /leura/desired/hosts/web1/ | base64 -w0)\",\"range_end\":\"$(printf /leura/desired/hosts/web10 | base64 -w0)\",\"keys_only\":true}" |
    sed 's/.*"key":"\([^"]*\)".*/\1/')
curl -s -X POST "$ETCD_ENDPOINT/v3/kv/deleterange" -d "{\"key\":\"$key\"}" >/dev/null
run 2 "$LEURA" -C repo plan --detailed-exitcode --no-diff
expect_in "$T/out" "Host web1:"
run 0 "$LEURA" -C repo apply --no-diff
expect_in "$T/out" "1 host and 0 files written"
r1=$(revision)

# uncommitted edits: plan and apply both read HEAD and agree (no
# change), and both name the edits, on stderr and in their output;
# plan --worktree previews them, labelled not deployable
sed -i 's/size_mb: 64/size_mb: 128/' repo/services.yml
run 0 "$LEURA" -C repo plan --detailed-exitcode
expect_in "$T/out" "No changes"
expect_in "$T/err" "leura: warning: 1 uncommitted change in the working tree (services.yml) is not in this plan"
expect_in "$T/out" "1 uncommitted change in the working tree not in this plan"
expect_in "$T/out" "  services.yml"
run 0 "$LEURA" -C repo plan --json
expect_in "$T/out" '"uncommitted": ['
expect_in "$T/out" '"deployable": true'
run 2 "$LEURA" -C repo plan --worktree --detailed-exitcode
expect_in "$T/out" "+size_mb=128"
expect_in "$T/out" "Plan: 3 changes"
expect_in "$T/out" "-> working tree 'repo', not deployable"
expect_in "$T/out" "in this preview (not deployable"
expect_not_in "$T/out" "Placement:"
expect_not_in "$T/out" "--expect-revision"
run 0 "$LEURA" -C repo plan --worktree --json
expect_in "$T/out" '"deployable": false'
run 0 "$LEURA" -C repo apply
expect_in "$T/err" "leura: warning: 1 uncommitted change in the working tree (services.yml) is not applied"
expect_in "$T/out" "No changes"
expect_in "$T/out" "1 uncommitted change in the working tree not applied"
expect_in "$T/out" "  services.yml"
run 0 "$LEURA" -C repo apply --json
expect_in "$T/out" '"written": false'
expect_in "$T/out" '"services.yml"'
# a folder not in git: plan and apply have no commit to read, and say
# so; --worktree previews it
cp -R "$LEURA_SRC/examples/basic" "$T/plain"
run 1 "$LEURA" -C "$T/plain" plan
expect_in "$T/err" "hint: plan shows the commit apply would deploy: commit the config repo to git first, or preview a folder as it is with 'leura plan --worktree'"
[ "$(grep -c '^hint:' "$T/err")" -eq 1 ] || fail "plan of a plain folder: not one hint"
run 0 "$LEURA" -C "$T/plain" plan --worktree --no-diff
expect_in "$T/out" "not deployable"
run 1 "$LEURA" -C "$T/plain" apply
expect_in "$T/err" "'leura plan --worktree' previews it"
run 64 "$LEURA" -C repo apply --worktree
expect_in "$T/err" "apply deploys commits, never the working tree"
expect_in "$T/err" "hint: commit your changes"
[ "$(revision)" = "$r1" ] || fail "apply of HEAD wrote the working tree"

# commit it: apply writes only the three cache hosts
commit_all "bigger cache"
run 0 "$LEURA" -C repo apply --json
expect_in "$T/out" '"deploy": 3'
expect_in "$T/out" '"hosts_written": 3'
expect_in "$T/out" '"files_written": 1'
run 0 "$LEURA" -C repo plan --detailed-exitcode --json
expect_in "$T/out" '"writes": 0'
expect_in "$T/out" '"deploy": 3'
run 0 "$LEURA" -C repo history
head -n 1 "$T/out" | grep -q '^#3 .*bigger cache' || fail "history: newest first"
expect_in "$T/out" "#1 "
run 0 "$LEURA" -C repo history -n 1 --json
expect_in "$T/out" '"summary": "bigger cache"'
expect_not_in "$T/out" '"deploy": 2,'

# a host leaves the inventory: its services move, it is dropped
sed -i '/^  db2:/d' repo/inventory/hosts.yml
if grep -q 'db2' repo/inventory/hosts.yml; then
	fail "test setup: db2 still in the inventory"
	cat repo/inventory/hosts.yml >&2
fi
commit_all "retire db2"
run 2 "$LEURA" -C repo plan --detailed-exitcode
expect_in "$T/out" "Host db2 (removed from the inventory)"
run 0 "$LEURA" -C repo apply --no-diff
expect_in "$T/out" "Applied deploy #4"
run 3 "$LEURA" -C repo status --json
expect_not_in "$T/out" '"db2"'
run 0 "$LEURA" -C repo plan --detailed-exitcode

# an apply whose plan saw another revision is refused, even with nothing
# to write
run 1 "$LEURA" -C repo apply --expect-revision 1
expect_in "$T/err" "desired state changed since your plan (it saw revision 1"
# connection settings that cannot be right
run 1 env LEURA_ETCD_PREFIX=leura "$LEURA" -C repo status
expect_in "$T/err" "does not start with '/'"
run 1 env LEURA_CONFIG="$T/no-such-config" "$LEURA" -C repo status
expect_in "$T/err" "no-such-config"

# usage errors and bad values
run 64 "$LEURA" -C repo apply --bogus
run 64 "$LEURA" -C repo history -n zero
run 64 "$LEURA" -C repo apply --expect-revision x
run 1 "$LEURA" -C repo apply --ref no-such-ref
expect_in "$T/err" "no-such-ref"

# a value that is not leura's in the head: a clear error, no crash
curl -s -X POST "$ETCD_ENDPOINT/v3/kv/put" -d "{\"key\":\"$(printf /bad/desired/head | base64 -w0)\",\"value\":\"$(printf 'not json' | base64 -w0)\"}" >/dev/null
run 1 env LEURA_ETCD_PREFIX=/bad "$LEURA" -C repo status
expect_in "$T/err" "is not JSON"
done_testing
