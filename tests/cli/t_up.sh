# leura up: a real etcd and real agents started by leura up itself, on a
# small test repo whose steps write under $T.  Checks that it converges,
# that a second run is a no-op on the same data, that Ctrl-C during the
# rollout and after it stops everything, that SIGKILL leaves nothing
# behind (PR_SET_PDEATHSIG), that deaths are told after the wait, and the
# errors.  Needs leura-agent
# (LEURA_AGENT) and etcd: exits 77 (skipped) without them.
. "$LEURA_SRC/tests/cli/lib.sh"
ETCD_TRAP='for p in ${bg:-} ${slow:-}; do kill -KILL "$p" 2>/dev/null; done; sleep 0.2; rm -rf "$T"'
. "$LEURA_SRC/tests/lib/etcd.sh"
bg=
slow=
if [ -z "${LEURA_AGENT:-}" ] || [ ! -x "$LEURA_AGENT" ]; then
	echo "SKIP: no leura-agent (LEURA_AGENT)" >&2
	exit 77
fi
if ! _etcd_find; then
	echo "SKIP: no etcd binary (install etcd-server)" >&2
	exit 77
fi
trap 'eval "$ETCD_TRAP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# leura up looks next to leura, then in PATH
PATH="$(dirname "$LEURA_AGENT"):$(dirname "$ETCD_BIN"):$PATH"
export PATH
unset LEURA_ETCD LEURA_ETCD_PREFIX
S=$T/state
OUT=$T/files

# survivors: processes whose command line names the state dir
survivors() {
	pgrep -f -- "$S" 2>/dev/null | grep -vx "$$" || :
}

# no_survivors WHAT: within 12 s no etcd or agent of ours is left
no_survivors() {
	i=0
	while [ -n "$(survivors)" ]; do
		i=$((i + 1))
		if [ $i -gt 120 ]; then
			fail "$1: processes left: $(survivors | tr '\n' ' ')"
			ps -o pid,args -p "$(survivors | tr '\n' ',' |
			    sed 's/,$//')" >&2 || :
			kill -KILL $(survivors) 2>/dev/null || :
			return 0
		fi
		sleep 0.1
	done
}

# wait_for FILE TEXT: until FILE has TEXT (60 s at most)
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ]; then
			fail "timed out waiting for '$2' in $1"
			sed 's/^/  | /' "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# start_bg ARGS...: leura up ARGS in the background, output in $T/bg.*
# (emptied first: the child's redirection truncates them only once it
# runs, and a wait_for before that would read the last case's output)
start_bg() {
	: >"$T/bg.out"
	: >"$T/bg.err"
	"$LEURA" up "$@" >"$T/bg.out" 2>"$T/bg.err" &
	bg=$!
}

# end_bg STATUS: the background leura up exits with STATUS (bounded)
end_bg() {
	i=0
	while kill -0 "$bg" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			fail "leura up did not stop within 30 s"
			kill -KILL "$bg"
			break
		fi
		sleep 0.1
	done
	set +e
	wait "$bg"
	got=$?
	set -e
	bg=
	if [ "$got" -ne "$1" ]; then
		fail "leura up exited $got, expected $1"
		sed 's/^/  out: /' "$T/bg.out" >&2
		sed 's/^/  err: /' "$T/bg.err" >&2
	fi
}

# the test repo: two hosts on this machine, one elsewhere
mkdir -p repo/inventory repo/roles/note
cat >repo/inventory/hosts.yml <<EOF
hosts:
  h1: {address: 127.0.0.1}
  h2: {address: localhost}
  far: {address: 192.0.2.1}
groups:
  all:
    vars: {root: "$OUT"}
EOF
cat >repo/services.yml <<'EOF'
note:
  params: {text: hello}
EOF
cat >repo/roles/note/role.yml <<'EOF'
description: writes a note
params: {text: hi}
converge:
  - name: note
    file:
      content: "{{ params.text }} from {{ host.name }}\n"
      dest: "{{ host.vars.root }}/{{ host.name }}/note.txt"
      mode: "0644"
      template: true
validate:
  - name: note present
    script: test -s {{ host.vars.root }}/{{ host.name }}/note.txt
EOF
(cd repo && git init -q -b main . && git add -A && git commit -q -m init)

# (1) up --once: etcd, two agents, apply, converged, stopped
run 0 "$LEURA" up --once --state-dir "$S" -C repo --wait-timeout 60s
expect_in "$T/out" "Starting etcd (data in $S/etcd)"
expect_in "$T/out" "starting 2 agents"
expect_in "$T/out" "Applied deploy #1"
expect_in "$T/out" "note: not on this machine, so not waited for: far"
expect_in "$T/out" "deploy #1: all 2 hosts converged in"
expect_in "$T/out" "HOST                 AGENT  STATE"
expect_in "$T/out" "Stopped leurad, 2 agents and etcd."
expect_not_in "$T/out" "Leura is up"
[ "$(cat "$OUT/h1/note.txt" 2>/dev/null)" = "hello from h1" ] ||
    fail "h1's note was not written"
[ "$(cat "$OUT/h2/note.txt" 2>/dev/null)" = "hello from h2" ] ||
    fail "h2's note was not written"
[ ! -e "$OUT/far" ] || fail "far's steps ran here"
for f in etcd.log config agents/h1.log agents/h2.log; do
	[ -f "$S/$f" ] || fail "no $S/$f"
done
[ "$(stat -c %a "$S/sock")" = 700 ] || fail "$S/sock is not of mode 0700"
no_survivors "up --once"

# (2) again, on the same etcd data: nothing to write, the new agents
# report, done
run 0 "$LEURA" up --once --state-dir "$S" -C repo --wait-timeout 60s
expect_in "$T/out" "No changes: deploy #1"
expect_in "$T/out" "deploy #1: all 2 hosts converged in"
no_survivors "second up --once"

# (2b) agents slow to start: until its first heartbeat, an agent up
# started is "starting", not "agent down".  A leura-agent next to a copy
# of leura (where up looks first) waits for the test's go, given once up
# says the hosts are starting, then runs the real one.
mkdir "$T/slow"
cp "$LEURA" "$T/slow/leura"
cat >"$T/slow/leura-agent" <<EOF
#!/bin/sh
i=0
while [ ! -e "$T/go" ] && [ \$i -lt 600 ]; do i=\$((i + 1)); sleep 0.1; done
exec "$LEURA_AGENT" "\$@"
EOF
chmod +x "$T/slow/leura-agent"
"$T/slow/leura" up --once --state-dir "$S.slow" -C repo --wait-timeout 60s \
    >"$T/slow.out" 2>"$T/slow.err" &
slow=$!
wait_for "$T/slow.out" "h1: starting"
wait_for "$T/slow.out" "h2: starting"
touch "$T/go"
set +e
wait "$slow"
got=$?
set -e
[ "$got" -eq 0 ] || fail "slow agents: leura up exited $got"
expect_in "$T/slow.out" "deploy #1: all 2 hosts converged in"
expect_not_in "$T/slow.out" "agent down"
slow=
no_survivors "up --once with slow agents"

# (3) without --once: up until Ctrl-C, which stops everything (exit 0);
# meanwhile the state dir is taken and its client config works
start_bg --state-dir "$S" -C repo
wait_for "$T/bg.out" "Leura is up: etcd unix://$S/sock/etcd:2379,"
expect_in "$T/bg.out" "2 agents, state in $S. Ctrl-C stops everything."
# leurad: on loopback, ready, its admin's password 0600 in the state dir,
# its URL in the client config
expect_in "$T/bg.out" "leurad serves http://127.0.0.1:"
url=$(sed -n 's/^leurad serves \(http:[^;]*\);.*/\1/p' "$T/bg.out")
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$url/readyz" || :)
[ "$code" = 200 ] || fail "leurad at '$url' answered /readyz $code"
[ "$(stat -c %a "$S/admin-password")" = 600 ] ||
    fail "$S/admin-password is not of mode 0600"
[ "$(wc -c <"$S/admin-password")" -eq 44 ] ||
    fail "the admin password is not 32 bytes in base64url"
expect_in "$S/config" "url: \"$url\""
expect_in "$T/bg.out" "leura login --password-file $S/admin-password admin"
# and the admin logs in with it, as up says
run 0 env LEURA_CONFIG="$S/config" "$LEURA" login --password-file \
    "$S/admin-password" admin
run 0 env LEURA_CONFIG="$S/config" "$LEURA" whoami
expect_in "$T/out" "admin"
run 1 "$LEURA" up --once --state-dir "$S" -C repo
expect_in "$T/err" "another leura up (pid $bg) is running with the state dir"
# the hosts up started converged (exit 0); far has no agent (exit 3)
run 0 env LEURA_CONFIG="$S/config" "$LEURA" status h1 h2
expect_in "$T/out" "h1                   up     converged"
run 3 "$LEURA" --etcd "unix://$S/sock/etcd:2379" status
expect_in "$T/out" "h2                   up     converged"
kill -INT "$bg"
end_bg 0
expect_in "$T/bg.out" "Stopped leurad, 2 agents and etcd."
no_survivors "up after Ctrl-C"

# (4) SIGKILL: the children die with it
start_bg --state-dir "$S" -C repo
wait_for "$T/bg.out" "Leura is up"
kill -KILL "$bg"
wait "$bg" 2>/dev/null || :
bg=
no_survivors "up killed with SIGKILL"

# (4b) plan and apply through up's leurad: its git source is the config
# repo on its branch (trunk here, not leurad's default main); the admin
# logs in, plans (nothing to do), applies a committed edit as admin; bob,
# who may only read, is refused the apply, the missing grant named
S3=$T/s3
mkdir -p srv
cp -R repo/inventory repo/services.yml repo/roles srv/
sed -i "s|root: \"$OUT\"|root: \"$T/files3\"|" srv/inventory/hosts.yml
(cd srv && git init -q -b trunk . && git add -A && git commit -q -m init)
start_bg --state-dir "$S3" -C srv
wait_for "$T/bg.out" "Leura is up"
url=$(sed -n 's/^leurad serves \(http:[^;]*\);.*/\1/p' "$T/bg.out")
expect_not_in "$T/bg.out" "leurad starts with no git source"
lc() { env LEURA_CONFIG="$S3/config" "$LEURA" "$@"; }
run 0 lc login --password-file "$S3/admin-password" admin
run 0 lc plan
expect_in "$T/out" "No changes"
sed -i 's/text: hello/text: hej/' srv/services.yml
(cd srv && git commit -qam "hej")
run 0 lc apply --yes
expect_in "$T/out" "Applied deploy #2 through $url"
run 0 lc history --json
expect_in "$T/out" '"by": "admin"'
expect_in "$T/out" '"ref": "trunk"'
wait_for "$T/files3/h1/note.txt" "hej from h1"
printf 'bob-password-1\n' >"$T/bob-pw"
run 0 lc users add bob --password-file "$T/bob-pw"
run 0 lc grant user:bob read services/note
run 0 lc login --password-file "$T/bob-pw" bob
sed -i 's/text: hej/text: hallo/' srv/services.yml
(cd srv && git commit -qam "hallo")
run 1 lc apply --yes
expect_in "$T/err" "apply on services/note needs a grant"
run 2 lc can apply services/note
expect_in "$T/out" "no: "
# bob may not read the deploys through leurad: read them from etcd
run 1 lc history --json
expect_in "$T/err" "read on fleet needs a grant"
run 0 lc history --direct --json
expect_in "$T/out" '"by": "admin"'
expect_not_in "$T/out" '"by": "bob"'
kill -INT "$bg"
end_bg 0
no_survivors "up with plan and apply through leurad"

# (5) a step that fails: up --once says which and exits 1
cat >>repo/roles/note/role.yml <<'EOF'
  - name: broken
    script: echo "cannot do it" >&2; exit 3
EOF
(cd repo && git commit -qam "a broken validate step")
run 1 "$LEURA" up --once --state-dir "$S" -C repo --wait-timeout 60s
expect_in "$T/out" "Applied deploy #2"
expect_in "$T/out" "h1: failed: step 'note/note/validate/broken' failed: exit 3"
expect_in "$T/err" "deploy #2 did not converge"
expect_in "$T/err" "hint: the agents' logs are in $S/agents/"
no_survivors "up --once that failed"

# (6) Ctrl-C during the rollout: exit 130, everything stopped
(cd repo && git revert --no-edit HEAD >/dev/null)
cat >>repo/roles/note/role.yml <<'EOF'
  - name: slow
    script: sleep 60
EOF
(cd repo && git commit -qam "a slow validate step")
start_bg --state-dir "$S" -C repo
wait_for "$T/bg.out" "Applied deploy #3"
wait_for "$T/bg.out" "h1: converging"
kill -INT "$bg"
end_bg 130
expect_in "$T/bg.err" "interrupted: stopping the agents and etcd"
expect_in "$T/bg.out" "Stopped leurad, 2 agents and etcd."
no_survivors "up interrupted during the rollout"

# (7) etcd dies during the rollout: up says so, stops the agents, exit 1
start_bg --state-dir "$S" -C repo
wait_for "$T/bg.out" "No changes: deploy #3"
wait_for "$T/bg.out" "h1: converging"
pkill -KILL -f -- "--data-dir $S/etcd"
end_bg 1
expect_in "$T/bg.err" "leura: error: etcd was killed by signal 9; its log"
expect_in "$T/bg.out" "Stopped leurad, 2 agents and etcd."
no_survivors "up whose etcd died"

# (8) an agent dies during the rollout: up says so after the wait is done
# (its progress line is not broken by it) and before it is up; stdout and
# stderr in one file, to see the order
: >"$T/bg.out"
: >"$T/bg.err"
"$LEURA" up --state-dir "$S" -C repo --wait-timeout 8s >"$T/bg.out" 2>&1 &
bg=$!
wait_for "$T/bg.out" "h1: converging"
pkill -TERM -f -- "--host h1 --state-dir $S/agents/h1" ||
    fail "no agent of h1 to stop while h1 converges"
wait_for "$T/bg.out" "Leura is up"
expect_in "$T/bg.out" "leura: warning: the agent of h1 "
expect_in "$T/bg.out" "; its log, $S/agents/h1.log, ends:"
awk -v died="leura: warning: the agent of h1 " '
    index($0, "HOST                 AGENT  STATE") == 1 && !st { st = NR }
    index($0, died) == 1 && !d { d = NR }
    index($0, "Leura is up") == 1 && !up { up = NR }
    END { exit !(st && d > st && up > d) }' "$T/bg.out" ||
    { fail "the agent's death was not told between the status and" \
    "'Leura is up'"; sed 's/^/  | /' "$T/bg.out" >&2; }
kill -INT "$bg"
end_bg 0
expect_in "$T/bg.out" "Stopped leurad, 2 agents and etcd."
no_survivors "up whose agent died"

# errors, before anything starts
run 0 "$LEURA" up -h
line=$(head -n 1 "$T/out")
awk '/^## SYNOPSIS/ { on = 1; next } on && /^## / { exit } on' \
    "$LEURA_SRC/docs/man/leura-up.1.md" | grep -qxF -- "$line" ||
    fail "SYNOPSIS of leura-up.1.md lacks: $line"
run 64 "$LEURA" up --port 2379
expect_in "$T/err" "has no TCP port any more, only a unix socket"
long=$T/0123456789012345678901234567890123456789012345678901234567890123456789
long=$long/0123456789012345678901234567890123456789
run 1 "$LEURA" up --once --state-dir "$long" -C repo
expect_in "$T/err" "is too long a path for etcd's unix socket"
expect_in "$T/err" "hint: give a shorter one with --state-dir"
run 64 "$LEURA" up --etcd http://127.0.0.1:2379
expect_in "$T/err" "starts its own etcd"
mkdir -p far/inventory
cat >far/inventory/hosts.yml <<'EOF'
hosts:
  a: {address: 192.0.2.10}
EOF
echo '{}' >far/services.yml
(cd far && git init -q -b main . && git add -A && git commit -q -m init)
run 1 "$LEURA" up --once --state-dir "$T/s2" -C far
expect_in "$T/err" "no host of the inventory lives on this machine: a (192.0.2.10)"
expect_in "$T/err" "hint: leura up starts an agent for each host whose address is a loopback one"
# a load error without diagnostics (the folder's git work tree is
# elsewhere) is told, not left blank
mkdir -p elsewhere
cp -R far wt
git -C wt config core.worktree "$T/elsewhere"
run 1 "$LEURA" up --once --state-dir "$T/s2" -C wt
expect_in "$T/err" "leura: error: 'wt' is not inside the git work tree"
mkdir -p nogit
cp -R repo/inventory repo/services.yml repo/roles nogit/
run 1 "$LEURA" up --once --state-dir "$T/s2" -C nogit
expect_in "$T/err" "commit '"
mkdir -p bin
cp "$LEURA" bin/leura
run 1 env PATH=/usr/bin:/bin bin/leura up --once --state-dir "$T/s2" -C repo
expect_in "$T/err" "cannot find leura-agent next to leura (in '$T/bin') or in PATH"
[ ! -e "$T/s2/etcd" ] || fail "etcd was started without an agent to run"
[ -z "$(survivors)" ] || fail "processes left at the end"
done_testing
