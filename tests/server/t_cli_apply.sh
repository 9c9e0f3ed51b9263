# leura plan and apply through leurad (a real one, with the test's
# repository as its git source): a user with no apply grant is refused
# with the first service or host named; the admin applies (deploy #1, as
# the server says) and plan then finds nothing to write
# (--detailed-exitcode 0); what only the direct path does is a usage
# error naming --direct, and --direct wants the signing key named.
. "$LEURA_SRC/tests/server/lib.sh"

new_repo
srv_start a --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY"
export LEURA_SERVER="$SRV_URL"
unset LEURA_TOKEN LEURA_CREDENTIALS XDG_CONFIG_HOME || :
# bob: leura with bob's own credentials file
bob() {
	env XDG_CONFIG_HOME="$T/bob" "$LEURA" "$@"
}

run 0 "$LEURA" login --password-file "$SRV_ADMIN_PASSWORD_FILE" admin
printf 'bob-pass-1234\n' >"$T/bob.pw"
run 0 "$LEURA" users add bob --password-file "$T/bob.pw"
run 0 "$LEURA" grant bob read 'services/*'
run 0 bob login --password-file "$T/bob.pw" bob

# ---- plan through the server ----
run 2 "$LEURA" plan --detailed-exitcode
expect_in "$T/out" "leura plan: nothing applied yet -> commit"
expect_in "$T/out" "Host web1:"
expect_in "$T/out" "leura apply --ref"
run 0 "$LEURA" plan --json
[ "$(json_get "$T/out" writes)" -gt 0 ] || fail "plan --json: no writes"

# ---- bob may read, not apply: refused, the resource named ----
run 1 bob apply --yes
expect_in "$T/err" "leura: error:"
grep -qE "(services|hosts)/[a-z0-9]+" "$T/err" ||
    fail "the refusal names no service or host: $(cat "$T/err")"
expect_in "$T/err" "hint:"

# ---- the admin applies ----
run 0 "$LEURA" apply --yes
expect_in "$T/out" "Applied deploy #1 through $SRV_URL"
run 0 "$LEURA" plan --detailed-exitcode
expect_in "$T/out" "No changes"
run 0 "$LEURA" apply --yes --json
[ "$(json_get "$T/out" written)" = False ] ||
    fail "a second apply wrote something"

# ---- the direct path's options; break glass ----
run 64 "$LEURA" apply --yes --wait
expect_in "$T/err" "--wait goes with apply --direct"
run 64 "$LEURA" apply --yes --signing-key "$LEURA_SIGNING_KEY"
expect_in "$T/err" "--direct"
run 64 env -u LEURA_SIGNING_KEY "$LEURA" apply --direct \
    --etcd "$ETCD_ENDPOINT" --yes
expect_in "$T/err" "--signing-key"
run 0 "$LEURA" -C "$T/repo" plan --direct --etcd "$ETCD_ENDPOINT"
expect_in "$T/out" "deploy #1"

done_testing
