# leura events against a real leurad: the audit log lists a grant (actor,
# action) and a refused call (outcome denied), filtered by actor and
# action, limited, every page followed; a bad --since is the server's
# error.
. "$LEURA_SRC/tests/server/lib.sh"

srv_start a
export LEURA_SERVER="$SRV_URL"
unset LEURA_TOKEN LEURA_CREDENTIALS XDG_CONFIG_HOME || :
# bob: leura with bob's own credentials file
bob() {
	env XDG_CONFIG_HOME="$T/bob" "$LEURA" "$@"
}

run 0 "$LEURA" login --password-file "$SRV_ADMIN_PASSWORD_FILE" admin
printf 'bob-pass-1234\n' >"$T/bob.pw"
run 0 "$LEURA" users add bob --password-file "$T/bob.pw"
run 0 "$LEURA" grant bob read services/web
run 0 bob login --password-file "$T/bob.pw" bob
# refused: bob may not make users
run 1 bob users add eve --password-file "$T/bob.pw"
# more events than a page holds: the pages are followed
i=0
while [ $i -lt 120 ]; do
	"$LEURA" grant bob read "services/s$i" >/dev/null ||
	    fail "grant $i"
	i=$((i + 1))
done

run 0 "$LEURA" events --action 'POST /v1/grants'
expect_in "$T/out" "admin"
expect_in "$T/out" "POST /v1/grants"
[ "$(wc -l <"$T/out")" -ge 121 ] ||
    fail "events: $(wc -l <"$T/out") grant events, want 121 (pages)"
run 0 "$LEURA" events --actor bob --json
expect_in "$T/out" '"denied"'
expect_not_in "$T/out" "bob-pass-1234"
run 0 "$LEURA" events --limit 1 --json
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
    "$T/out")" = 1 ] || fail "events --limit 1: not one event"
run 1 "$LEURA" events --since nonsense
expect_in "$T/err" "since"
done_testing
