# leura validate: exit codes, positioned errors, --ref, --json.
. "$LEURA_SRC/tests/cli/lib.sh"
new_repo

run 0 "$LEURA" -C repo validate
expect_in out "valid: 5 hosts, 3 groups, 3 services, 3 roles, 3 tasks"

# several errors in one run, each positioned, sorted, with hints
cat >> repo/services.yml <<'YML'
api:
  num_instance: 2
  depends_on: [dbb]
YML
run 1 "$LEURA" -C repo validate
expect_in err "services.yml:26:3: error: unknown key 'num_instance' in service 'api'"
expect_in err "hint: did you mean 'num_instances'?"
expect_in err "services.yml:27:16: error: unknown service"
expect_in err "'dbb'"
expect_in err "did you mean 'db'?"
expect_in err "   26 |   num_instance: 2"
expect_in err "      |   ^~~~~~~~~~~~"

# the committed tree is still valid: --ref reads it, not the working tree
run 0 "$LEURA" -C repo validate --ref HEAD
expect_in out "commit "

# a bare clone has no working tree: --ref reads the commit
git clone -q --bare repo bare.git
run 0 "$LEURA" -C bare.git validate --ref HEAD
expect_in out "valid: 5 hosts"
run 0 "$LEURA" -C bare.git schedule --ref main --json
expect_in out '"web": ['
# ... and without --ref it says so, not "the repo has no services.yml"
run 1 "$LEURA" -C bare.git validate
expect_in err "error: 'bare.git' is a bare git repository: it has no working tree to read"
expect_in err "hint: pass --ref to read one of its commits (e.g. --ref HEAD or --ref main)"
expect_not_in err "services.yml"
# plan reads HEAD by default (what apply deploys): fine in a bare clone;
# --worktree asks for the working tree it has not
run 0 "$LEURA" -C bare.git plan --from HEAD
expect_in out "No changes"
run 1 "$LEURA" -C bare.git plan --from HEAD --worktree
expect_in err "hint: pass --ref"

# an error that follows from another is folded into its cause: a
# spread_by typo, not also "no eligible hosts"
rm -rf typo
cp -R "$LEURA_SRC/examples/basic" typo
sed -i 's/spread_by: zone/spread_by: zon/' typo/services.yml
run 1 "$LEURA" -C typo validate
expect_in err "error: spread_by 'zon' of service 'web': no host of group 'frontend' has a var 'zon'"
expect_in err "did you mean 'zone'?"
expect_not_in err "cannot be placed"
expect_in err "leura: 1 error in"
# while too few distinct values is a placement error of its own
sed -i 's/spread_by: zon/spread_by: zone/; s/num_instances: 2/num_instances: 4/' \
    typo/services.yml
run 1 "$LEURA" -C typo validate
expect_in err "service 'web' cannot be placed"

# a group and a host of the same name: an error at the group
rm -rf same
cp -R "$LEURA_SRC/examples/basic" same
sed -i 's/groups: \[backend\], vars: {zone: b}/groups: [backend, web1], vars: {zone: b}/' \
    same/inventory/hosts.yml
run 1 "$LEURA" -C same validate
expect_in err "inventory/hosts.yml:6:48: error: group 'web1' has the name of a host (defined at inventory/hosts.yml:2)"
expect_in err "hint: rename the group or the host"

# --json carries the diagnostics
run 1 "$LEURA" -C repo validate --json
expect_in out '"valid": false'
expect_in out '"path": "services.yml"'
expect_in out '"line": 26'

# YAML syntax error: positioned, with a hint
new_repo
printf 'web:\n\tnum_instances: 2\n' > repo/services.yml
run 1 "$LEURA" -C repo validate
expect_in err "services.yml:2:1: error: invalid YAML"
expect_in err "hint: YAML does not allow tabs"

# impossible placement names the service
new_repo
sed -i 's/num_instances: 2/num_instances: 4/' repo/services.yml
run 1 "$LEURA" -C repo validate
expect_in err "service 'web' cannot be placed"
expect_in err "hint: lower num_instances"

# an undefined template name is an error with its position
new_repo
sed -i 's/{{ params.workers }}/{{ params.worker }}/' repo/roles/web/files/site.conf
run 1 "$LEURA" -C repo validate
expect_in err "roles/web/files/site.conf:3:9: error: undefined name 'params.worker'"
expect_in err "did you mean 'params.workers'?"

# a bad cron expression points into the string
new_repo
sed -i 's/30 3 \* \* \*/30 25 * * */' repo/tasks/rotate-logs.yml
run 1 "$LEURA" -C repo validate
expect_in err "tasks/rotate-logs.yml:3:"
expect_in err "invalid cron expression '30 25 * * *'"

# a spec directory that is a symlink out of the repo is an error, not a crash
new_repo
mkdir -p outside && mv repo/tasks outside/ && ln -s ../outside/tasks repo/tasks
run 1 "$LEURA" -C repo validate
expect_in err "tasks: error: 'tasks' leads outside the repo"
expect_in err "hint: spec directories must be inside the repo"

# unknown ref, missing repo, usage
run 1 "$LEURA" -C repo validate --ref nosuchbranch
expect_in err "unknown revision 'nosuchbranch'"
run 1 "$LEURA" -C "$T/nonexistent" validate
expect_in err "cannot open config repo"
run 64 "$LEURA" -C repo validate --bogus
run 64 "$LEURA" -C repo validate --max-errors many
run 64 "$LEURA" validate -C repo
expect_in err "hint: global options go before the command"
run 64 "$LEURA" valdate
expect_in err "did you mean 'leura validate'?"
done_testing
