#!/bin/sh
# The read API against a real etcd and leurad: GET /v1/status as an admin,
# a reader of one service and a user without grants (each sees only what
# is granted; no grant, nothing), single hosts and services (404 alike for
# missing and not readable, ETags), the view following etcd (a report
# changes a host's state, also after etcd restarts), deploys (newest first, pages, read on fleet),
# events after mutating calls (filters since, actor, action, resource;
# the cursor; a bad since answers 400 naming it; what a caller may not
# read is left out) and the fleet's gauges in /metrics.  The fleet is the
# bundled example applied twice by `leura apply`; reports and heartbeats
# are the test's own, put where agents put theirs (docs/etcd-layout.md).
. "$LEURA_SRC/tests/server/lib.sh"

srv_start a
PW=read-password-1

b64() { printf %s "$1" | base64 -w0; }
put() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" \
	    -d "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"}" >/dev/null
}
# as TOKEN METHOD PATH [curl args]: the status code; body in $T/body
as() {
	a_tok=$1
	shift
	SRV_TOKEN=$a_tok srv_curl "$@"
}
login() {
	SRV_TOKEN='' srv_curl POST /v1/login \
	    -d "{\"user\":\"$1\",\"password\":\"$2\"}" >/dev/null
	json_get "$T/body" token
}
# want CODE GOT WHAT: compare a status code
want() {
	[ "$1" = "$2" ] || { fail "$3: status $2, expected $1"; sed 's/^/  | /' "$T/body" >&2; }
}
# jq-free: a Python expression over the body (as j)
pyj() {
	python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
v=eval(sys.argv[2])
print(" ".join(str(x) for x in v) if isinstance(v, tuple) else v)' "$T/body" "$1"
}
# wait_for TOKEN PATH EXPR: GET PATH until EXPR is True (10 s deadline)
wait_for() {
	w_i=0
	while [ $w_i -lt 200 ]; do
		if [ "$(as "$1" GET "$2")" = 200 ] &&
		    [ "$(pyj "$3")" = True ]; then
			return 0
		fi
		sleep 0.05
		w_i=$((w_i + 1))
	done
	fail "GET $2: never $3"
	sed 's/^/  | /' "$T/body" >&2
	return 1
}

ADM=$(login admin "$SRV_ADMIN_PASSWORD")
[ -n "$ADM" ] || { echo "admin cannot log in" >&2; exit 1; }

# ---- before anything is applied: an empty fleet
want 200 "$(as "$ADM" GET /v1/status)" "status, nothing applied"
[ "$(pyj 'j["generation"], len(j["hosts"]), j["deploy"]')" = "0 0 None" ] ||
    fail "status before any apply: $(cat "$T/body")"

# ---- the fleet: the example applied twice (deploys 1 and 2)
new_repo
run 0 "$LEURA" -C repo apply --no-diff
sed 's/workers: 4/workers: 5/' repo/services.yml >"$T/s" &&
    mv "$T/s" repo/services.yml && commit_all "more workers"
run 0 "$LEURA" -C repo apply --no-diff
for h in web1 web2 web3 db1 db2; do
	put "/leura/agents/$h" '{"agent":"test"}'
	put "/leura/observed/$h" '{"generation":2,"state":"converged"}'
done
wait_for "$ADM" /v1/status \
    'j["generation"] == 2 and all(h["state"] == "converged" for h in j["hosts"].values()) and len(j["hosts"]) == 5'
[ "$(pyj 'j["fleet"], j["deploy"], sorted(j["services"])')" = \
    "example 2 ['cache', 'db', 'web']" ] ||
    fail "admin's status: $(cat "$T/body")"

# ---- users: a reader of services/web, one without grants
for u in reader nogrant auditor; do
	want 201 "$(as "$ADM" POST /v1/users \
	    -d "{\"name\":\"$u\",\"password\":\"$PW\"}")" "create $u"
done
want 201 "$(as "$ADM" POST /v1/grants \
    -d '{"subject":"user:reader","verb":"read","resource":"services/web"}')" \
    "grant reader"
want 201 "$(as "$ADM" POST /v1/grants \
    -d '{"subject":"user:auditor","verb":"read","resource":"events"}')" \
    "grant auditor"
RD=$(login reader "$PW")
NG=$(login nogrant "$PW")
AU=$(login auditor "$PW")

# ---- status, filtered
want 200 "$(as "$RD" GET /v1/status)" "status as reader"
[ "$(pyj 'sorted(j["services"]), len(j["hosts"]), j["generation"]')" = \
    "['web'] 0 2" ] || fail "reader's status: $(cat "$T/body")"
want 200 "$(as "$NG" GET /v1/status)" "status as nogrant"
[ "$(pyj 'len(j["services"]), len(j["hosts"]), j["fleet"], j["generation"]')" = \
    "0 0 None 0" ] || fail "nogrant's status: $(cat "$T/body")"
want 401 "$(as "" GET /v1/status)" "status anonymous"

# a service's hosts are not the reader's: no host name in what he reads,
# not in the service's hosts nor in a reason naming one (web1 failing)
put /leura/observed/web1 '{"generation":2,"state":"failed","failed_steps":[{"id":"web/web/converge/conf","exit":3}]}'
wait_for "$ADM" /v1/status/services/web \
    'j.get("reason", "").startswith("web1: step")'
for p in /v1/status /v1/status/services/web; do
	want 200 "$(as "$RD" GET $p)" "$p as reader, web1 failing"
	for h in web1 web2 web3 db1 db2; do
		# as a word: commit ids are hex and may hold "db1"
		! grep -qw "$h" "$T/body" ||
		    fail "$p as reader names host $h: $(cat "$T/body")"
	done
done
[ "$(pyj 'j["hidden_hosts"], j["hosts"], j["state"], j["reason"]')" = \
    "2 [] failed a host you may not read is failed" ] ||
    fail "reader's web: $(cat "$T/body")"
put /leura/observed/web1 '{"generation":2,"state":"converged"}'
wait_for "$ADM" /v1/status/services/web 'j["state"] == "converged"'

# one host or service: 404 alike when missing or not readable; ETags
want 200 "$(as "$ADM" GET /v1/status/hosts/web1)" "host as admin"
grep -qi '^etag: "[0-9]*"' "$T/headers" || fail "no ETag on a host"
[ "$(pyj 'j["name"], j["state"], "cache" in j["services"]')" = \
    "web1 converged True" ] || fail "host web1: $(cat "$T/body")"
want 404 "$(as "$RD" GET /v1/status/hosts/web1)" "host as reader"
expect_in "$T/body" "no host 'web1' that you may read"
want 404 "$(as "$ADM" GET /v1/status/hosts/nosuch)" "missing host"
expect_in "$T/body" "no host 'nosuch' that you may read"
want 200 "$(as "$RD" GET /v1/status/services/web)" "service as reader"
grep -qi '^etag: "[0-9]*"' "$T/headers" || fail "no ETag on a service"
want 404 "$(as "$RD" GET /v1/status/services/db)" "other service as reader"
expect_in "$T/body" '"code":"not_found"'
want 404 "$(as "$NG" GET /v1/status/services/web)" "service as nogrant"

# the view follows etcd: db's host fails, and its ETag moves
as "$ADM" GET /v1/status >/dev/null
dbh=$(pyj 'j["services"]["db"]["hosts"][0]')
as "$ADM" GET "/v1/status/hosts/$dbh" >/dev/null
tag1=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$T/headers" | tr -d '\r')
put "/leura/observed/$dbh" '{"generation":2,"state":"failed","failed_steps":[{"id":"db/db/converge/conf","exit":3}]}'
wait_for "$ADM" "/v1/status/hosts/$dbh" 'j["state"] == "failed"'
tag2=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$T/headers" | tr -d '\r')
if [ -z "$tag1" ] || [ "$tag1" = "$tag2" ]; then
	fail "the ETag of $dbh did not move: '$tag1' '$tag2'"
fi
expect_in "$T/body" "step 'db/db/converge/conf' failed: exit 3"
wait_for "$ADM" /v1/status/services/db 'j["state"] == "failed"'
# ... and across a restart of etcd (the watches resume)
etcd_restart
put "/leura/observed/$dbh" '{"generation":2,"state":"failed","failed_steps":[{"id":"db/db/converge/conf","exit":4}]}'
wait_for "$ADM" "/v1/status/hosts/$dbh" '"exit 4" in j["reason"]'

# ---- deploys: read on fleet; newest first; pages
want 200 "$(as "$ADM" GET /v1/deploys)" "deploys as admin"
[ "$(pyj '[d["deploy"] for d in j["items"]], j["next"]')" = "[2, 1] None" ] ||
    fail "deploys: $(cat "$T/body")"
want 200 "$(as "$ADM" GET '/v1/deploys?limit=1')" "deploys page 1"
[ "$(pyj '[d["deploy"] for d in j["items"]], j["next"]')" = "[2] 2" ] ||
    fail "deploys page 1: $(cat "$T/body")"
want 200 "$(as "$ADM" GET '/v1/deploys?limit=1&after=2')" "deploys page 2"
[ "$(pyj '[d["deploy"] for d in j["items"]], j["next"]')" = "[1] None" ] ||
    fail "deploys page 2: $(cat "$T/body")"
want 200 "$(as "$ADM" GET /v1/deploys/1)" "deploy 1"
grep -qi '^etag: "[0-9]*"' "$T/headers" || fail "no ETag on a deploy"
[ "$(pyj 'j["deploy"], j["generation"], len(j["commit"])')" = "1 1 40" ] ||
    fail "deploy 1: $(cat "$T/body")"
want 404 "$(as "$ADM" GET /v1/deploys/99)" "deploy 99"
want 400 "$(as "$ADM" GET /v1/deploys/x1)" "deploy x1"
want 400 "$(as "$ADM" GET '/v1/deploys?after=x')" "deploys bad cursor"
want 403 "$(as "$RD" GET /v1/deploys)" "deploys as reader"
expect_in "$T/body" "fleet"
want 403 "$(as "$NG" GET /v1/deploys/1)" "deploy as nogrant"

# ---- events, after the mutating calls above (users, grants, logins)
want 200 "$(as "$ADM" GET '/v1/events?limit=1000')" "events as admin"
total=$(pyj 'len(j["items"])')
[ "$(pyj 'any(e["action"] == "POST /v1/users" and e["actor"] == "admin" and e["resource"] == "users/reader" for e in j["items"])')" = True ] ||
    fail "no event of the creation of reader: $(cat "$T/body")"
[ "$(pyj 'all(j["items"][i]["id"] < j["items"][i+1]["id"] for i in range(len(j["items"])-1))')" = True ] ||
    fail "events are not oldest first"
want 200 "$(as "$ADM" GET '/v1/events?action=POST%20/v1/grants&actor=admin&since=1h')" \
    "events filtered"
[ "$(pyj 'len(j["items"]), set(e["action"] for e in j["items"])')" = \
    "2 {'POST /v1/grants'}" ] || fail "events by action: $(cat "$T/body")"
want 200 "$(as "$ADM" GET '/v1/events?resource=users/*&action=POST%20/v1/users')" \
    "events by resource"
[ "$(pyj 'sorted(e["resource"] for e in j["items"])')" = \
    "['users/auditor', 'users/nogrant', 'users/reader']" ] ||
    fail "events by resource: $(cat "$T/body")"
want 200 "$(as "$ADM" GET '/v1/events?since=2099-01-01T00:00:00Z')" \
    "events since the future"
[ "$(pyj 'len(j["items"]), j["next"]')" = "0 None" ] ||
    fail "events since 2099: $(cat "$T/body")"
# every event once, page by page
seen=
after=
pages=0
while :; do
	want 200 "$(as "$ADM" GET "/v1/events?limit=3${after:+&after=$after}")" \
	    "events page"
	seen="$seen $(pyj '" ".join(e["id"] for e in j["items"])')"
	after=$(pyj 'j["next"] or ""')
	pages=$((pages + 1))
	if [ -z "$after" ] || [ $pages -ge 100 ]; then
		break
	fi
done
# shellcheck disable=SC2086	# one id a word
n=$(printf '%s\n' $seen | sort -u | grep -c .)
if [ "$n" -lt "$total" ] || [ "$pages" -lt 2 ]; then
	fail "paging saw $n distinct events in $pages pages, expected $total"
fi
# bad arguments are named
want 400 "$(as "$ADM" GET '/v1/events?since=yesterday')" "bad since"
expect_in "$T/body" "since=yesterday"
expect_in "$T/body" "24h"
want 400 "$(as "$ADM" GET '/v1/events?sinse=1h')" "unknown argument"
expect_in "$T/body" "sinse"
want 400 "$(as "$ADM" GET '/v1/events?after=../auth')" "bad cursor"
# what a caller may not read is left out: events about identity need
# admin on their resource (a grant's event names services/web here)
want 200 "$(as "$RD" GET '/v1/events?limit=1000')" "events as reader"
[ "$(pyj 'any(e["resource"].startswith("users/") or "/v1/grants" in e["action"] for e in j["items"])')" = \
    False ] || fail "reader sees events about identity: $(cat "$T/body")"
want 200 "$(as "$NG" GET '/v1/events?limit=1000')" "events as nogrant"
[ "$(pyj 'len([e for e in j["items"] if e["actor"] != "nogrant"])')" = 0 ] ||
    fail "nogrant sees events: $(cat "$T/body")"
want 200 "$(as "$AU" GET '/v1/events?limit=1000')" "events as auditor"
[ "$(pyj 'len(j["items"])')" -ge "$total" ] ||
    fail "read on events shows fewer than the admin saw"
anon=$(as "" GET /v1/events)
want 401 "$anon" "events anonymous"

# ---- the fleet's gauges
want 200 "$(as "$ADM" GET /metrics)" "metrics"
expect_in "$T/body" 'leura_hosts{state="converged"} 4'
expect_in "$T/body" 'leura_hosts{state="failed"} 1'
expect_in "$T/body" 'leura_services{state="failed"} 1'
expect_in "$T/body" 'leura_agents_alive 5'
expect_in "$T/body" 'leura_steps_failed 1'
expect_in "$T/body" 'leura_generation 2'
expect_in "$T/body" '# TYPE leura_hosts gauge'

done_testing
