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

# a config repo in a folder of a larger repository, as leura up's
mkdir -p "$T/mono"
cp -R "$LEURA_SRC/examples/basic" "$T/mono/fleet"
echo "# docs" >"$T/mono/README"
(cd "$T/mono" && git init -q -b main . && git add -A && git commit -q -m mono)
srv_start b --source "$T/mono/fleet" --signing-key "$LEURA_SIGNING_KEY"
code=$(srv_curl GET /v1/sources)
[ "$code" = 200 ] || fail "sources of a folder: $code $(cat "$T/body")"
expect_in "$T/body" "\"url\":\"$T/mono\""
expect_in "$T/body" '"path":"fleet"'
code=$(srv_curl POST /v1/plan -d '{}')
[ "$code" = 200 ] || fail "plan of a folder: $code $(cat "$T/body")"
expect_in "$T/body" '"commit":"'"$(git -C "$T/mono" rev-parse main)"'"'
expect_in "$T/body" '"changes":0'
# not a repository at all
mkdir "$T/plain"
run 1 "$LEURAD" --etcd "$ETCD_ENDPOINT" --listen 127.0.0.1:0 \
    --data-dir "$T/plain-data" --source "$T/plain"
expect_in "$T/err" "commit the config repo to git first"

done_testing
