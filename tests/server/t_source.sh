# leurad's git source (docs/server.md, "Git source, webhooks, auto-apply,
# HA"): a local repository as the source; push webhooks of GitHub, Gitea
# and GitLab, signed, apply the auto_apply branch and record the pusher;
# a wrong or missing signature is 401 and applies nothing; a push to
# another branch fetches without applying; POST /v1/plan and /v1/apply
# under the caller's grants (403 naming the first missing), a stale
# expect_revision (409), bad bodies (400 naming the field), and a
# leura.yml whose auto_apply is bad (a positioned error).
. "$LEURA_SRC/tests/server/lib.sh"

SECRET=webhook-s3cret-for-tests
printf '%s\n' "$SECRET" >"$T/secret"
chmod 600 "$T/secret"

new_repo
printf 'auto_apply: main\n' >>"$T/repo/leura.yml"
commit_all "auto_apply: main"

srv_start a --source "$T/repo" --webhook-secret-file "$T/secret" \
    --signing-key "$LEURA_SIGNING_KEY"
ADMIN_PW=$SRV_ADMIN_PASSWORD

# login NAME PASSWORD: the token on stdout
login() {
	SRV_TOKEN= srv_curl POST /v1/login -H 'Content-Type: application/json' \
	    -d "{\"user\":\"$1\",\"password\":\"$2\"}" >"$T/code"
	[ "$(cat "$T/code")" = 200 ] || {
		fail "login $1: $(cat "$T/code") $(cat "$T/body")"
		return
	}
	sed 's/.*"token":"\([^"]*\)".*/\1/' "$T/body"
}

# deploys: how many deploy records etcd holds
deploys() {
	k=$(printf /leura/source/deploys/ | base64 -w0)
	e=$(printf /leura/source/deploys0 | base64 -w0)
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" \
	    -d "{\"key\":\"$k\",\"range_end\":\"$e\",\"count_only\":true}" |
	    sed -n 's/.*"count":"\([0-9]*\)".*/\1/p' | grep . || echo 0
}

# deploy_by N: the "by" of deploy record N
deploy_by() {
	k=$(printf '/leura/source/deploys/%010d' "$1" | base64 -w0)
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\"$k\"}" |
	    sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d |
	    sed -n 's/.*"by":"\([^"]*\)".*/\1/p'
}

# hook PROVIDER BRANCH PUSHER [SECRET]: send a push webhook signed as
# PROVIDER does (github, gitea, gitlab; "none" unsigned); status on stdout
hook() {
	sha=$(git -C "$T/repo" rev-parse "$2")
	case $1 in
	github) body="{\"ref\":\"refs/heads/$2\",\"after\":\"$sha\",\"pusher\":{\"name\":\"$3\"},\"sender\":{\"login\":\"x\"}}" ;;
	gitea) body="{\"ref\":\"refs/heads/$2\",\"after\":\"$sha\",\"pusher\":{\"login\":\"$3\"}}" ;;
	*) body="{\"object_kind\":\"push\",\"ref\":\"refs/heads/$2\",\"after\":\"$sha\",\"user_username\":\"$3\"}" ;;
	esac
	printf '%s' "$body" >"$T/hook-body"
	sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "${4:-$SECRET}" |
	    sed 's/.* //')
	case $1 in
	github) set -- -H "X-Hub-Signature-256: sha256=$sig" -H "X-GitHub-Delivery: d-$sha" ;;
	gitea) set -- -H "X-Gitea-Signature: $sig" -H "X-Hub-Signature-256: sha256=$sig" ;;
	gitlab) set -- -H "X-Gitlab-Token: ${4:-$SECRET}" -H "X-Gitlab-Event: Push Hook" ;;
	*) set -- ;;
	esac
	SRV_TOKEN= srv_curl POST /v1/sources/refresh \
	    -H 'Content-Type: application/json' "$@" --data-binary @"$T/hook-body"
}

ADMIN=$(login admin "$ADMIN_PW")

# ---- the source ----
SRV_TOKEN=$ADMIN
code=$(srv_curl GET /v1/sources)
[ "$code" = 200 ] || fail "GET /v1/sources: $code $(cat "$T/body")"
expect_in "$T/body" "\"url\":\"$T/repo\""
expect_in "$T/body" '"branch":"main"'
SRV_TOKEN= code=$(srv_curl GET /v1/sources)
[ "$code" = 401 ] || fail "anonymous GET /v1/sources: $code"

# ---- plan: the shape of leura plan --json ----
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/plan -d '{}')
[ "$code" = 200 ] || fail "plan: $code $(cat "$T/body")"
for k in '"changes":' '"hosts":' '"from":' '"to":' '"writes":5' \
    '"digest":"sha256:' '"not_converged":' '"deployable":true'; do
	expect_in "$T/body" "$k"
done

# ---- webhooks: wrong and missing signatures apply nothing ----
n0=$(deploys)
[ "$n0" = 0 ] || fail "deploys before any apply: $n0"
code=$(hook github main mallory wrong-secret)
[ "$code" = 401 ] || fail "wrong GitHub signature: $code"
expect_in "$T/body" '"code":"unauthorized"'
expect_in "$T/body" 'X-Hub-Signature-256'
code=$(hook gitea main mallory wrong-secret)
[ "$code" = 401 ] || fail "wrong Gitea signature: $code"
code=$(hook gitlab main mallory wrong-secret)
[ "$code" = 401 ] || fail "wrong GitLab token: $code"
code=$(hook none main mallory)
[ "$code" = 401 ] || fail "unsigned webhook: $code"
expect_in "$T/body" 'signature or a valid bearer token'
[ "$(deploys)" = 0 ] || fail "a refused webhook applied: $(deploys) deploys"
expect_not_in "$SRV_LOG" "$SECRET"

# ---- a GitHub push to main (auto_apply) applies it, by the pusher ----
code=$(hook github main alice)
[ "$code" = 200 ] || fail "GitHub push: $code $(cat "$T/body")"
expect_in "$T/body" '"status":"applied"'
expect_in "$T/body" '"deploy":1'
expect_in "$T/body" '"by":"alice (webhook, via leurad)"'
[ "$(deploys)" = 1 ] || fail "deploys after the GitHub push: $(deploys)"
[ "$(deploy_by 1)" = "alice (webhook, via leurad)" ] ||
    fail "deploy 1 by: $(deploy_by 1)"
# the same delivery again: nothing more is written
code=$(hook github main alice)
[ "$code" = 200 ] || fail "GitHub push again: $code"
expect_in "$T/body" '"status":"unchanged"'
[ "$(deploys)" = 1 ] || fail "a repeated push applied again: $(deploys)"

# ---- a push to another branch fetches, applies nothing ----
(cd "$T/repo" && git checkout -q -b dev &&
    sed -i 's/workers: 4/workers: 6/' services.yml &&
    git commit -qam "dev: 6 workers" && git checkout -q main)
code=$(hook gitea dev carol)
[ "$code" = 200 ] || fail "Gitea push to dev: $code $(cat "$T/body")"
expect_in "$T/body" '"status":"fetched"'
expect_in "$T/body" 'not in auto_apply'
[ "$(deploys)" = 1 ] || fail "a push to dev applied: $(deploys)"
code=$(SRV_TOKEN=$ADMIN srv_curl GET /v1/sources)
expect_in "$T/body" "\"dev\":{\"commit\":\"$(git -C "$T/repo" rev-parse dev)\""
# the last delivery: carol's push, fetched
expect_in "$T/body" '"pusher":"carol"'
expect_in "$T/body" '"status":"fetched"'

# ---- a GitLab push to main ----
sed -i 's/workers: 4/workers: 5/' "$T/repo/services.yml"
commit_all "5 workers"
five=$(git -C "$T/repo" rev-parse main)
code=$(hook gitlab main dave)
[ "$code" = 200 ] || fail "GitLab push: $code $(cat "$T/body")"
expect_in "$T/body" '"deploy":2'
[ "$(deploy_by 2)" = "dave (webhook, via leurad)" ] ||
    fail "deploy 2 by: $(deploy_by 2)"
code=$(SRV_TOKEN=$ADMIN srv_curl GET /v1/sources)
expect_in "$T/body" '"pusher":"dave"'

# ---- POST /v1/apply under the caller's grants ----
SRV_TOKEN=$ADMIN
code=$(srv_curl POST /v1/users -d '{"name":"bob","password":"bob-password-1"}')
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "create bob: $code $(cat "$T/body")"
BOB=$(login bob bob-password-1)
# web and db both change
sed -i 's/workers: 5/workers: 7/; s/port: 5432/port: 5433/' \
    "$T/repo/services.yml"
commit_all "web and db"
code=$(SRV_TOKEN=$BOB srv_curl POST /v1/apply -d '{}')
[ "$code" = 403 ] || fail "apply without grants: $code $(cat "$T/body")"
expect_in "$T/body" 'apply on services/'
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/grants \
    -d '{"subject":"user:bob","verb":"apply","resource":"services/web"}')
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "grant: $code $(cat "$T/body")"
code=$(SRV_TOKEN=$BOB srv_curl POST /v1/apply -d '{}')
[ "$code" = 403 ] || fail "apply with web only: $code $(cat "$T/body")"
expect_in "$T/body" 'apply on services/db'
[ "$(deploys)" = 2 ] || fail "a refused apply wrote: $(deploys)"

# the plan's revision, then a stale one
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/plan -d '{"ref":"main"}')
rev=$(sed 's/.*"from":{[^}]*"revision":\([0-9]*\).*/\1/' "$T/body")
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/apply \
    -d "{\"ref\":\"main\",\"expect_revision\":$((rev - 1))}")
[ "$code" = 409 ] || fail "stale expect_revision: $code $(cat "$T/body")"
expect_in "$T/body" "\"revision\":$rev"
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/apply \
    -d "{\"ref\":\"main\",\"expect_revision\":$rev}")
[ "$code" = 200 ] || fail "admin apply: $code $(cat "$T/body")"
expect_in "$T/body" '"deploy":3'
expect_in "$T/body" '"services":["db","web"]'
[ "$(deploy_by 3)" = admin ] || fail "deploy 3 by: $(deploy_by 3)"

# ---- refresh by a caller with apply on fleet (no signature) ----
code=$(SRV_TOKEN=$BOB srv_curl POST /v1/sources/refresh -d '{}')
[ "$code" = 403 ] || fail "refresh by bob: $code $(cat "$T/body")"
expect_in "$T/body" 'apply on fleet'
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/sources/refresh -d '{"branch":"main"}')
[ "$code" = 200 ] || fail "refresh by admin: $code $(cat "$T/body")"
expect_in "$T/body" '"status":"unchanged"'
expect_in "$T/body" '"by":"admin (refresh, via leurad)"'
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/sources/refresh -d '{"brnch":"main"}')
[ "$code" = 400 ] || fail "refresh with an unknown field: $code"
[ "$(deploys)" = 3 ] || fail "refreshes wrote: $(deploys)"

# ---- bad bodies ----
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/apply -d '{"ref":')
[ "$code" = 400 ] || fail "bad JSON: $code"
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/apply -d '{"refx":"main"}')
[ "$code" = 400 ] || fail "unknown field: $code"
expect_in "$T/body" 'refx'
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/apply -d '{"expect_revision":"7"}')
[ "$code" = 400 ] || fail "expect_revision a string: $code"
expect_in "$T/body" 'expect_revision'
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/plan -d '{"ref":42}')
[ "$code" = 400 ] || fail "ref a number: $code"
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/plan -d '{"ref":"no-such-branch"}')
[ "$code" = 404 ] || fail "unknown ref: $code $(cat "$T/body")"

# ---- a bad auto_apply: a positioned error, nothing applied ----
sed -i 's/^auto_apply: main$/auto_apply: [main, "bad..name"]/' \
    "$T/repo/leura.yml"
commit_all "bad auto_apply"
code=$(hook github main alice)
[ "$code" = 400 ] || fail "push of a bad leura.yml: $code $(cat "$T/body")"
expect_in "$T/body" '"code":"invalid_specs"'
expect_in "$T/body" '"path":"leura.yml"'
expect_in "$T/body" "'bad..name' is not a branch name"
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/plan -d '{}')
[ "$code" = 400 ] || fail "plan of a bad leura.yml: $code"
expect_in "$T/body" '"line":'
[ "$(deploys)" = 3 ] || fail "a bad leura.yml applied: $(deploys)"

# ---- back to an older commit: only with rollback ----
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/apply -d "{\"ref\":\"$five\"}")
[ "$code" = 409 ] || fail "apply of an older commit: $code $(cat "$T/body")"
expect_in "$T/body" 'rollback'
code=$(SRV_TOKEN=$ADMIN srv_curl POST /v1/apply \
    -d "{\"ref\":\"$five\",\"rollback\":true}")
[ "$code" = 200 ] || fail "rollback: $code $(cat "$T/body")"
expect_in "$T/body" '"deploy":4'
expect_in "$T/body" "\"commit\":\"$five\""
expect_not_in "$SRV_LOG" "$SECRET"

[ "$nfail" = 0 ] || cat "$SRV_LOG" >&2
done_testing
