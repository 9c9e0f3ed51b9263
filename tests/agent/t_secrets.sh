# Secrets stay in the agent: with etcd authentication on, the etcd
# password given in LEURA_ETCD_PASSWORD is gone from the agent's
# /proc/PID/environ (as root reads it, and as a step reads it through
# /proc/$PPID/environ) and from the steps' environment; a script step's
# text, and an unless command's, never show in any process's command line
# (ps): the shell reads them from a file descriptor.  The markers are
# searched with grep -f, so no command line of the test holds them.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

PW="pw-$$-leak-marker"
MARK="script-$$-leak-marker"
printf '%s\n' "$PW" >"$T/pw.pat"
printf '%s\n' "$MARK" >"$T/mark.pat"
for _req in "/v3/auth/user/add {\"name\":\"root\",\"password\":\"$PW\"}" \
    '/v3/auth/user/grant {"user":"root","role":"root"}' \
    '/v3/auth/enable {}'; do
	curl -sf -m 10 -X POST "$ETCD_ENDPOINT${_req%% *}" -d "${_req#* }" \
	    >/dev/null || die "cannot turn on etcd authentication (${_req%% *})"
done

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
app: {}
EOF
mkdir -p "$R/roles/app"
cat >"$R/roles/app/role.yml" <<EOF
converge:
  - name: hold
    unless: |
      echo \$\$ >$PIDS/unless
      i=0
      while [ ! -e {{ host.vars.root }}/go-unless ] && [ \$i -lt 300 ]; do
        sleep 0.1
        i=\$((i + 1))
      done
      test -e {{ host.vars.root }}/never # $MARK
    script: |
      echo \$\$ >$PIDS/hold
      cat /proc/\$PPID/environ >{{ host.vars.root }}/ppid-environ
      env >{{ host.vars.root }}/env
      echo \$PPID >{{ host.vars.root }}/ppid
      : $MARK
      i=0
      while [ ! -e {{ host.vars.root }}/go ] && [ \$i -lt 300 ]; do
        sleep 0.1
        i=\$((i + 1))
      done
EOF
commit_all init
export LEURA_ETCD_USER=root LEURA_ETCD_PASSWORD="$PW"
run 0 "$LEURA" -C "$R" apply --no-diff
agent_start h1
unset LEURA_ETCD_PASSWORD LEURA_ETCD_USER

# no command line holds the script or the unless command while they run
# (their shells and whatever those started)
no_mark_in_ps() {
	seen=
	for _c in /proc/[0-9]*/cmdline; do
		if tr '\0' ' ' <"$_c" 2>/dev/null |
		    grep -qF -f "$T/mark.pat"; then
			seen="$seen ${_c%/cmdline}: $(tr '\0' ' ' \
			    <"$_c" 2>/dev/null | cut -c1-60)"
		fi
	done
	[ -z "$seen" ] || fail "$1 shows in ps:$seen"
	_sh=$(tr '\0' ' ' <"/proc/$(cat "$2")/cmdline")
	expect_eq "the command line of $1" "$_sh" "/bin/sh /dev/fd/3 "
}
wait_until 30 "the unless command to start" test -s "$PIDS/unless"
no_mark_in_ps "an unless command" "$PIDS/unless"
touch "$ROOT/go-unless"
wait_until 30 "the step to start" test -s "$ROOT/ppid"

apid=$(agent_pid h1)
expect_eq "the step's parent" "$(cat "$ROOT/ppid")" "$apid"
grep -q PATH= "$ROOT/ppid-environ" ||
    fail "the step could not read /proc/\$PPID/environ: $(wc -c \
    <"$ROOT/ppid-environ") bytes"
# the password, as root and as the step see the agent's environment
if tr '\0' '\n' <"/proc/$apid/environ" | grep -qF -f "$T/pw.pat"; then
	fail "the etcd password is in /proc/<agent>/environ"
fi
if tr '\0' '\n' <"$ROOT/ppid-environ" | grep -qF -f "$T/pw.pat"; then
	fail "a step read the etcd password in /proc/\$PPID/environ"
fi
if grep -qF -f "$T/pw.pat" "$ROOT/env"; then
	fail "the etcd password is in a step's environment"
fi

no_mark_in_ps "a script" "$PIDS/hold"

touch "$ROOT/go"
agent_stop h1
done_testing
