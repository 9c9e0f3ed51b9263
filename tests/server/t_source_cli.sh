# leura plan and leura apply through leurad (a server configured): the
# plan of the server's git source, an apply signed by leurad and recorded
# by the caller, and a user refused an apply outside their grants, told
# which grant is missing.
. "$LEURA_SRC/tests/server/lib.sh"

new_repo
srv_start a --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY"
export LEURA_SERVER="$SRV_URL"
ADMIN_PW=$SRV_ADMIN_PASSWORD
cd "$T/repo"

printf '%s\n' "$ADMIN_PW" >"$T/admin-pw"
run 0 "$LEURA" login --password-file "$T/admin-pw" admin
run 2 "$LEURA" plan --detailed-exitcode --no-diff
expect_in "$T/out" "Plan: 19 changes"
run 0 "$LEURA" apply --no-diff
expect_in "$T/out" "Applied deploy #1 through $SRV_URL"
run 0 "$LEURA" history
expect_in "$T/out" "admin"
run 0 "$LEURA" apply
expect_in "$T/out" "No changes"

# bob may apply web only; a change of web and db is refused, named
code=$(srv_curl POST /v1/login \
    -d "{\"user\":\"admin\",\"password\":\"$ADMIN_PW\"}")
[ "$code" = 200 ] || fail "login: $code"
SRV_TOKEN=$(sed 's/.*"token":"\([^"]*\)".*/\1/' "$T/body")
code=$(srv_curl POST /v1/users -d '{"name":"bob","password":"bob-password-1"}')
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "create bob: $code"
code=$(srv_curl POST /v1/grants \
    -d '{"subject":"user:bob","verb":"apply","resource":"services/web"}')
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "grant: $code"
code=$(srv_curl POST /v1/grants \
    -d '{"subject":"user:bob","verb":"read","resource":"*"}')
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "grant read: $code"
sed -i 's/workers: 4/workers: 7/; s/port: 5432/port: 5433/' services.yml
commit_all "web and db"
printf 'bob-password-1\n' >"$T/bob-pw"
run 0 "$LEURA" login --password-file "$T/bob-pw" bob
run 2 "$LEURA" plan --detailed-exitcode --no-diff
run 1 "$LEURA" apply --no-diff
expect_in "$T/err" "apply on services/db needs a grant"
run 0 "$LEURA" history
expect_not_in "$T/out" "bob"

done_testing
