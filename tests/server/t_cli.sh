# The leura commands of leurad's API against a real leurad (and etcd):
# login with a password file into a 0600 credentials file (a 0644 one is
# refused with a chmod hint), whoami, users, groups, grant, grants,
# revoke, tokens, can (exit 0 yes, 2 no, with the explanation),
# LEURA_TOKEN, a server that is not there, an expired or revoked token
# ("log in" hint), and the password never in any process's argv.  Plan,
# apply and events through the server: t_cli_apply.sh.
. "$LEURA_SRC/tests/server/lib.sh"

srv_start a
export LEURA_SERVER="$SRV_URL"
unset LEURA_TOKEN LEURA_CREDENTIALS XDG_CONFIG_HOME || :
CRED=$HOME/.config/leura/credentials
# bob: leura with bob's own credentials file
bob() {
	env XDG_CONFIG_HOME="$T/bob" "$LEURA" "$@"
}

# ---- login, the credentials file, whoami ----
run 0 "$LEURA" login --password-file "$SRV_ADMIN_PASSWORD_FILE" admin
expect_in "$T/out" "Logged in to $SRV_URL as admin"
[ "$(stat -c %a "$CRED")" = 600 ] ||
    fail "credentials mode $(stat -c %a "$CRED"), want 600"
[ "$(stat -c %a "$(dirname "$CRED")")" = 700 ] ||
    fail "credentials folder mode $(stat -c %a "$(dirname "$CRED")")"
expect_not_in "$T/out" "$SRV_ADMIN_PASSWORD"
ADMIN_TOKEN=$(python3 -c 'import json,sys
print(json.load(open(sys.argv[1]))["servers"][sys.argv[2]]["token"])' \
    "$CRED" "$SRV_URL")
[ -n "$ADMIN_TOKEN" ] || fail "no token in the credentials file"
expect_not_in "$T/out" "$ADMIN_TOKEN"
run 0 "$LEURA" whoami
expect_in "$T/out" "user:    admin"
expect_in "$T/out" "admin"
run 0 "$LEURA" whoami --json
[ "$(json_get "$T/out" user)" = admin ] || fail "whoami --json: not admin"
# the --server flag and a wrong password
run 1 "$LEURA" login --server "$SRV_URL" --password-stdin admin <<EOF
not-the-password
EOF
expect_in "$T/err" "leura: error:"
# a credentials file others may read is refused, not used
chmod 644 "$CRED"
run 1 "$LEURA" whoami
expect_in "$T/err" "may be read by others (mode 0644)"
expect_in "$T/err" "chmod 600"
chmod 600 "$CRED"

# ---- users, groups, grants ----
printf 'bob-pass-1234\n' >"$T/bob.pw"
run 0 "$LEURA" users add bob --password-file "$T/bob.pw"
expect_in "$T/out" "Added user bob."
run 0 "$LEURA" users
expect_in "$T/out" "bob"
run 0 "$LEURA" users list --json
expect_in "$T/out" '"name": "bob"'
expect_not_in "$T/out" "argon2"
run 1 "$LEURA" users add bob --password-file "$T/bob.pw"
run 0 "$LEURA" groups add ops
run 0 "$LEURA" groups join ops bob
run 0 "$LEURA" groups members ops
expect_in "$T/out" "bob"
run 0 "$LEURA" groups
expect_in "$T/out" "ops"
run 0 "$LEURA" grant --json group:ops read 'services/web'
GID=$(json_get "$T/out" id)
[ -n "$GID" ] || fail "grant --json: no id"
run 0 "$LEURA" grants --subject group:ops
expect_in "$T/out" "$GID"
expect_in "$T/out" "services/web"

# ---- bob: login, can ----
run 0 bob login --password-file "$T/bob.pw" bob
[ "$(stat -c %a "$T/bob/leura/credentials")" = 600 ] ||
    fail "bob's credentials are not 0600"
run 0 bob whoami
expect_in "$T/out" "groups:  ops"
run 0 bob can read services/web
expect_in "$T/out" "yes:"
expect_in "$T/out" "ops"
run 2 bob can apply services/web
expect_in "$T/out" "no:"
expect_in "$T/out" "hint: ask an admin"
run 0 "$LEURA" can read services/web --as bob
run 2 "$LEURA" can apply services/db --as bob
run 0 "$LEURA" can --json read services/web --as bob
[ "$(json_get "$T/out" allowed)" = True ] || fail "can --json: not allowed"

# ---- revoke ----
run 0 "$LEURA" revoke "$GID"
expect_in "$T/out" "Revoked grant $GID."
run 2 bob can read services/web
run 1 "$LEURA" revoke "$GID"

# ---- API tokens, LEURA_TOKEN ----
run 0 "$LEURA" tokens create ci --scopes read --expires 1h
TOK=$(head -n 1 "$T/out")
[ ${#TOK} -ge 32 ] || fail "tokens create printed no token: $TOK"
run 0 "$LEURA" tokens
expect_in "$T/out" "ci"
expect_not_in "$T/out" "$TOK"
run 0 env LEURA_TOKEN="$TOK" "$LEURA" whoami
expect_in "$T/out" "user:    admin"
TID=$(env LEURA_TOKEN="$TOK" "$LEURA" whoami --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"]["id"])')
run 0 "$LEURA" tokens revoke "$TID"
run 1 env LEURA_TOKEN="$TOK" "$LEURA" whoami
expect_in "$T/err" "hint: log in: leura login"
run 1 env LEURA_TOKEN=not-a-token "$LEURA" whoami
expect_in "$T/err" "log in"
# an expired one: refused from its expiry on (deadline 10 s)
run 0 "$LEURA" tokens create brief --expires 1s
TOK=$(head -n 1 "$T/out")
i=0
while env LEURA_TOKEN="$TOK" "$LEURA" whoami >/dev/null 2>&1 &&
    [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
run 1 env LEURA_TOKEN="$TOK" "$LEURA" whoami
expect_in "$T/err" "hint: log in: leura login"

# ---- users disable, passwd ----
run 0 "$LEURA" users disable bob
run 1 bob whoami
expect_in "$T/err" "log in"
run 0 "$LEURA" users enable bob
printf 'bob-pass-5678\n' >"$T/bob2.pw"
run 0 "$LEURA" users passwd bob --password-file "$T/bob2.pw"
run 1 bob login --password-file "$T/bob.pw" bob
run 0 bob login --password-file "$T/bob2.pw" bob
run 0 "$LEURA" groups leave ops bob
run 0 "$LEURA" groups rm ops
run 0 "$LEURA" users rm bob
run 1 "$LEURA" users rm bob
expect_in "$T/err" "bob"

# ---- the password never in a process's argv ----
mkfifo "$T/pw.fifo"
"$LEURA" login --password-file "$T/pw.fifo" admin >"$T/login.out" 2>&1 &
LPID=$!
# leura is blocked opening the FIFO: its argv is there to read
i=0
while ! grep -q login "/proc/$LPID/cmdline" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
printf '%s\n' "$SRV_ADMIN_PASSWORD" >"$T/pw.fifo"
for f in /proc/[0-9]*/cmdline; do
	if { tr '\0' ' ' <"$f"; } 2>/dev/null |
	    grep -qF "$SRV_ADMIN_PASSWORD"; then
		fail "the password is in $f"
	fi
done
wait "$LPID" || fail "login from a FIFO failed: $(cat "$T/login.out")"

# ---- the password asked on a terminal (script(1)'s): never echoed ----
if command -v script >/dev/null 2>&1; then
	mkfifo "$T/tty.in"
	script -qfc "'$LEURA' login admin" "$T/tty.out" <"$T/tty.in" \
	    >/dev/null 2>&1 &
	SPID=$!
	exec 3>"$T/tty.in"
	i=0
	while ! grep -q "Password for admin" "$T/tty.out" 2>/dev/null &&
	    [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	printf '%s\n' "$SRV_ADMIN_PASSWORD" >&3
	wait "$SPID" || fail "login on a terminal failed"
	exec 3>&-
	expect_in "$T/tty.out" "Logged in to $SRV_URL as admin"
	expect_not_in "$T/tty.out" "$SRV_ADMIN_PASSWORD"
fi

# ---- logout; a server that is not there; no server ----
run 0 "$LEURA" logout
expect_in "$T/out" "Logged out of $SRV_URL."
expect_not_in "$CRED" "$ADMIN_TOKEN"
run 1 "$LEURA" whoami
expect_in "$T/err" "not logged in"
run 1 "$LEURA" --server http://127.0.0.1:1 whoami
run 1 env LEURA_TOKEN=x "$LEURA" whoami --server http://127.0.0.1:1
expect_in "$T/err" "cannot reach leurad at 'http://127.0.0.1:1'"
expect_in "$T/err" "is leurad running"
run 1 env LEURA_TOKEN=x "$LEURA" whoami --server ftp://x
expect_in "$T/err" "not http:// or https://"
run 1 env -u LEURA_SERVER "$LEURA" whoami
expect_in "$T/err" "no leurad server is configured"
done_testing
