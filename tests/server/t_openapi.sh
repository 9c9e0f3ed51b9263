#!/bin/sh
# docs/api/openapi.yaml against the server: every route leurad registers
# (its router table, from `leurad --list-routes`) is in the document, every
# path and method of the document is a route and is answered by a running
# leurad (not the router's 404 "no route", not 405), GET /v1/openapi.yaml
# serves the document, and the document passes a real OpenAPI validator:
# @apidevtools/swagger-cli (pinned below), installed from npm into the
# build dir (LEURA_BUILD, else this test's temp dir).  The validator part
# is skipped (and the test exits 77 at its end) only when npm is not
# installed; an npm that is there but fails is a failure.
. "$LEURA_SRC/tests/server/lib.sh"

DOC=$LEURA_SRC/docs/api/openapi.yaml
SWAGGER_CLI_VERSION=4.0.4

# ---- the router's table and the document's paths: "METHOD PATTERN"
# (Debian's python3, where tools/bootstrap put python3-yaml)
run 0 "$LEURAD" --list-routes
sort -u "$T/out" >"$T/routes"
[ -s "$T/routes" ] || fail "leurad --list-routes printed no route"
/usr/bin/python3 - "$DOC" >"$T/doc" <<'EOF' || fail "cannot read $DOC"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for path, item in doc["paths"].items():
    for m in ("get", "put", "post", "delete", "patch", "head", "options"):
        if m in item:
            print(m.upper(), path)
EOF
sort -u "$T/doc" -o "$T/doc"
comm -23 "$T/routes" "$T/doc" >"$T/undocumented"
comm -13 "$T/routes" "$T/doc" >"$T/unrouted"
while read -r m p; do
	fail "route $m $p is not in docs/api/openapi.yaml"
done <"$T/undocumented"
while read -r m p; do
	fail "docs/api/openapi.yaml has $m $p, which leurad does not route"
done <"$T/unrouted"

# ---- every documented path and method is answered
srv_start a
ADM=$(SRV_TOKEN='' srv_curl POST /v1/login \
    -d "{\"user\":\"admin\",\"password\":\"$SRV_ADMIN_PASSWORD\"}" >/dev/null &&
    json_get "$T/body" token)
[ -n "$ADM" ] || fail "admin cannot log in"
while read -r m p; do
	# captures get a name of no thing: the handler answers, 404 or not
	url=$(printf '%s' "$p" | sed 's/{[^}]*}/t-openapi-none/g')
	code=$(SRV_TOKEN=$ADM srv_curl "$m" "$url" \
	    -H 'Content-Type: application/json' -d '{}')
	case $code in
	405)	fail "$m $p: 405" ;;
	000)	fail "$m $p: no answer" ;;
	404)	if grep -q 'no route for' "$T/body"; then
			fail "$m $p: the router has no route for it"
		fi ;;
	esac
done <"$T/doc"

# ---- the server serves the document
code=$(srv_curl GET /v1/openapi.yaml)
[ "$code" = 200 ] || fail "GET /v1/openapi.yaml: $code"
cmp -s "$T/body" "$DOC" || fail "GET /v1/openapi.yaml is not $DOC"

# ---- a real validator
if ! command -v npm >/dev/null 2>&1; then
	echo "SKIP: no npm: docs/api/openapi.yaml not validated" \
	    "(apt-get install npm)" >&2
	[ "$nfail" -eq 0 ] || done_testing
	exit 77
fi
lint=${LEURA_BUILD:-$T}/openapi-lint
cli=$lint/node_modules/.bin/swagger-cli
if [ ! -x "$cli" ] || ! "$cli" --version 2>/dev/null |
    grep -qx "$SWAGGER_CLI_VERSION"; then
	mkdir -p "$lint"
	if ! npm install --prefix "$lint" --no-audit --no-fund \
	    --no-save "@apidevtools/swagger-cli@$SWAGGER_CLI_VERSION" \
	    >"$T/npm.log" 2>&1; then
		tail -n 20 "$T/npm.log" >&2
		fail "npm cannot install @apidevtools/swagger-cli"
		done_testing
	fi
fi
run 0 "$cli" validate "$DOC"
done_testing
