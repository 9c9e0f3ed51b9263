# run_as: as root, steps run as the user they name (uid, user name, HOME
# from the passwd entry), defaults.run_as applies to steps that name none,
# a file step's owner and group are set, and an unknown user fails the
# step with the reason.  Not root: a step with `run_as: root` fails
# saying the agent must run as root, and the test exits 77 (skipped) after
# checking that.
. "$LEURA_SRC/tests/agent/lib.sh"
if ! id nobody >/dev/null 2>&1; then
	echo "SKIP: no user 'nobody'" >&2
	exit 77
fi
agent_test_start
me=$(id -u)
nobody_uid=$(id -u nobody)
nobody_group=$(id -gn nobody)
nobody_home=$(getent passwd nobody | cut -d: -f6)

# nobody must reach $ROOT/shared
chmod 0711 "$T"
chmod 0755 "$ROOT"
mkdir -m 1777 "$ROOT/shared"

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
app: {}
EOF
mkdir -p "$R/roles/app"

if [ "$me" -ne 0 ]; then
	cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: as root
    script: id -u > {{ host.vars.root }}/shared/uid
    run_as: root
EOF
	commit_all init
	apply
	agent_start h1
	wait_state h1 failed 1
	expect_has "not root: error" \
	    "$(obs h1 '.failed_steps[0].error')" \
	    "needs leura-agent to run as root"
	[ -e "$ROOT/shared/uid" ] && fail "not root: the step ran anyway"
	agent_stop h1
	[ "$nfail" -eq 0 ] || done_testing
	echo "SKIP: not root: run_as as another user is tested as root only" >&2
	exit 77
fi

cat >"$R/leura.yml" <<'EOF'
defaults:
  run_as: nobody
EOF
cat >"$R/roles/app/role.yml" <<EOF
converge:
  - name: default user
    script: |
      d={{ host.vars.root }}/shared
      id -u > \$d/uid
      id -un > \$d/user
      echo "\$HOME" > \$d/home
      echo "\$USER \$LOGNAME" > \$d/names
      echo "\$LEURA_HOST" > \$d/leura-host
  - name: as root
    script: id -u > {{ host.vars.root }}/shared/root-uid
    run_as: root
  - name: owned
    file: {content: "mine\n", dest: "{{ host.vars.root }}/shared/owned", owner: nobody, group: $nobody_group, mode: "0600"}
  - name: written by nobody
    script: echo "nobody was here" >> {{ host.vars.root }}/shared/owned
EOF
cat >"$R/services.yml" <<'EOF'
app: {}
ghost: {}
EOF
mkdir -p "$R/roles/ghost"
cat >"$R/roles/ghost/role.yml" <<'EOF'
converge:
  - name: unknown user
    script: touch {{ host.vars.root }}/shared/ghost
    run_as: no-such-user-leura
EOF
commit_all init
apply
agent_start h1
wait_state h1 failed 1

d=$ROOT/shared
expect_eq "uid of the step" "$(cat "$d/uid" 2>&1)" "$nobody_uid"
expect_eq "user of the step" "$(cat "$d/user" 2>&1)" nobody
expect_eq "HOME of the step" "$(cat "$d/home" 2>&1)" "$nobody_home"
expect_eq "USER LOGNAME of the step" "$(cat "$d/names" 2>&1)" \
    "nobody nobody"
expect_eq "LEURA_HOST of the step" "$(cat "$d/leura-host" 2>&1)" h1
expect_eq "run_as: root" "$(cat "$d/root-uid" 2>&1)" 0
expect_eq "owner of the file" "$(stat -c %U:%G:%a "$d/owned")" \
    "nobody:$nobody_group:600"
expect_eq "the file, appended to by nobody" "$(cat "$d/owned")" "mine
nobody was here"
expect_eq "app validated" "$(obs h1 .services.app.validated)" true

g='ghost/ghost/converge/unknown user'
expect_eq "unknown user: status" "$(step h1 "$g" status)" failed
[ -e "$d/ghost" ] && fail "unknown user: the step ran"
expect_has "unknown user: error" "$(step h1 "$g" error)" \
    "run_as user 'no-such-user-leura' does not exist"
agent_stop h1
done_testing
