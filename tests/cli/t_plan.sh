# leura plan --from: exit codes 0/2/1, moves, per-host step changes; the
# commit by default (what apply deploys), the working tree with
# --worktree, labelled not deployable; uncommitted changes always named.
. "$LEURA_SRC/tests/cli/lib.sh"
new_repo

run 0 "$LEURA" -C repo plan --from HEAD --detailed-exitcode
expect_in out "No changes"
run 0 "$LEURA" -C repo plan --from HEAD --json
expect_in out '"changes": 0'

# a placement change and a template change
sed -i 's/num_instances: 2/num_instances: 3/' repo/services.yml
echo "keepalive 65" >> repo/roles/web/files/site.conf
# by default the plan reads HEAD, as apply does: no change, and the
# uncommitted edits named on stderr, in the text and in --json
run 0 "$LEURA" -C repo plan --from HEAD --detailed-exitcode
expect_in out "No changes"
expect_in err "leura: warning: 2 uncommitted changes in the working tree (roles/web/files/site.conf, services.yml) are not in this plan"
expect_in err "'leura plan --worktree' previews uncommitted changes"
expect_in out "2 uncommitted changes in the working tree not in this plan"
expect_in out "  services.yml"
run 0 "$LEURA" -C repo plan --from HEAD --json
expect_in out '"uncommitted": ['
expect_in out '"services.yml"'
expect_in out '"deployable": true'
# --worktree previews them, labelled not deployable
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode
expect_in out "-> working tree 'repo', not deployable"
expect_in out "in this preview (not deployable"
expect_in err "in this plan, which previews the working tree: apply deploys commits"
run 0 "$LEURA" -C repo plan --from HEAD --worktree --json
expect_in out '"deployable": false'
run 64 "$LEURA" -C repo plan --worktree --ref HEAD
expect_in err "--worktree and --ref name two sources"
run 64 "$LEURA" -C repo plan --worktree -o plan.json
expect_in err "a plan of the working tree cannot be saved"
[ ! -e plan.json ] || fail "plan --worktree -o wrote a file"
run 64 "$LEURA" -C repo plan --from HEAD -o plan.json
expect_in err "-o does not go with --from"
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode
expect_in out "~ web: web1 web2 -> web1 web2 web3"
expect_in out "+ web/web/converge/site config"
expect_in out "~ web/web/converge/site config (sha256, size)"
# what changed inside the file, once; other hosts refer to it
expect_in out "        +keepalive 65"
expect_in out "(the same change as on host web1)"
run 0 "$LEURA" -C repo plan --from HEAD --worktree --no-diff
expect_not_in out "+keepalive 65"
run 0 "$LEURA" -C repo plan --from HEAD --worktree
run 0 "$LEURA" -C repo plan --from HEAD --worktree --json
expect_in out '"changes": 8'

# between two commits, without touching the working tree
commit_all "three web instances"
run 2 "$LEURA" -C repo plan --from HEAD~1 --ref HEAD --detailed-exitcode
run 0 "$LEURA" -C repo plan --from HEAD --ref HEAD --detailed-exitcode

# a removed step shows as removed, a parameter change as changed
sed -i '/name: reload/,/when_changed/d' repo/roles/web/role.yml
sed -i 's/size_mb: 64/size_mb: 128/' repo/services.yml
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode
expect_in out "- web/web/converge/reload"
expect_in out "~ cache/cache/converge/cache config (sha256, size)"
expect_in out "        -size_mb=64"
expect_in out "        +size_mb=128"

# expect_lines FILE TEXT: FILE has the lines of TEXT, one after the other
expect_lines() {
	tr '\n' '\001' <"$1" | grep -qF -- "$(printf '%s' "$2" |
	    tr '\n' '\001')" || {
		fail "'$1' lacks the lines: $2"
		sed 's/^/  | /' "$1" >&2
	}
}

# consequences, not only edits: the when_changed steps a change sets off,
# and the turndowns the agent runs where a service leaves (a host that
# leaves the inventory included), not shown as removed steps
new_repo
echo "keepalive 65" >> repo/roles/web/files/site.conf
sed -i 's/num_instances: 2/num_instances: 1/' repo/services.yml
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode --no-diff
expect_lines out "Host web1:
  ~ web/web/converge/site config (sha256, size)
  > will run web/web/converge/reload (site config changed)"
expect_lines out "Host web2:
  - service web
  > will run turndown web/web/turndown/remove site (service web leaves the host, once it validates on web1)"
expect_not_in out "- web/web/turndown/remove site"
expect_in out "The agents will also run 1 when_changed step and 1 turndown step (marked >)."
# break-before-make: the turndown does not wait
sed -i 's/rollout: {max_parallel: 1}/rollout: {max_parallel: 1, move: break-before-make}/' \
    repo/services.yml
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode --no-diff
expect_lines out "Host web2:
  - service web
  > will run turndown web/web/turndown/remove site (service web leaves the host)
"
sed -i 's/, move: break-before-make//' repo/services.yml
run 0 "$LEURA" -C repo plan --from HEAD --worktree --json
expect_lines out '"triggered": [
        {
          "because": [
            "site config"
          ],
          "id": "web/web/converge/reload"
        }'
expect_lines out '"turndown": [
        {
          "id": "web/web/turndown/remove site",
          "service": "web"
        }'
# a when_changed step whose trigger does not change is not set off
git -C repo checkout -q roles/web/files/site.conf
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode --no-diff
expect_not_in out "will run web/web/converge/reload"
# a host removed from the inventory: its turndowns run
git -C repo checkout -q services.yml
sed -i '/^  web2:/d' repo/inventory/hosts.yml
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode --no-diff
expect_lines out "Host web2 (removed from the inventory):
  - service cache
  - service web
  > will run turndown web/web/turndown/remove site (service web goes with the host, once it validates on web1 web3)"
expect_not_in out "- web/web/turndown/remove site"
git -C repo checkout -q inventory/hosts.yml

# a config repo that is a folder of a larger git repository
mkdir -p mono && cp -R "$LEURA_SRC/examples/basic" mono/fleet
(cd mono && git init -q -b main . && git add -A && git commit -q -m mono)
run 0 "$LEURA" -C mono/fleet plan --from HEAD --detailed-exitcode
expect_in out "folder 'fleet'"
sed -i 's/size_mb: 64/size_mb: 32/' mono/fleet/services.yml
run 2 "$LEURA" -C mono/fleet plan --from HEAD --worktree --detailed-exitcode
expect_in err "1 uncommitted change in the working tree (fleet/services.yml) is in this plan"
expect_in out "+size_mb=32"

# a file's lines are shown, never acted on by the terminal: control
# characters made visible (the old side may come from etcd)
git -C repo checkout -q .
printf 'title \033]0;pwned\007 end\n' >> repo/roles/web/files/site.conf
run 2 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode
expect_in out '        +title \x1b]0;pwned\x07 end'
expect_not_in out "$(printf '\033')"
git -C repo checkout -q .

# errors on either side: exit 1
echo "bad: [" >> repo/services.yml
run 1 "$LEURA" -C repo plan --from HEAD --worktree --detailed-exitcode
expect_in err "invalid YAML"
# without --from, plan asks etcd; none here: exit 1, and the offline way
run 1 "$LEURA" -C repo plan --etcd http://127.0.0.1:9
expect_in err "cannot reach etcd: tried 'http://127.0.0.1:9'"
expect_in err "leura plan --from REF"
done_testing
