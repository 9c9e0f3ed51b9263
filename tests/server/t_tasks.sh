# Tasks as code through leurad (docs/server.md, "Tasks as code"): the
# list (targets, hosts, schedule, params, last run, ?search, filtered by
# read), one task with its YAML and commit; create, change and delete as
# commits on the source's branch authored by the caller; a task that does
# not load (422, path:line:col, nothing committed); a task that exists
# (409) or not (404); a stale expect_commit (409) and one that is stale
# for another file only (accepted); a caller without admin (403); a
# source whose branch is checked out (409, refused); a remote source
# behind a git server (git daemon), where the edit is pushed, and a
# file:// one, committed to in place; creates racing each other (none
# lost, the losers 409); leura tasks through leurad (the
# caller's tasks, with their last run) and --direct.
. "$LEURA_SRC/tests/server/lib.sh"

new_repo
git clone -q --bare "$T/repo" "$T/bare.git"
srv_start a --source "$T/bare.git" --signing-key "$LEURA_SIGNING_KEY"
ADMIN_PW=$SRV_ADMIN_PASSWORD

login() {
	SRV_TOKEN= srv_curl POST /v1/login \
	    -d "{\"user\":\"$1\",\"password\":\"$2\"}" >"$T/code"
	[ "$(cat "$T/code")" = 200 ] || {
		fail "login $1: $(cat "$T/code") $(cat "$T/body")"
		return
	}
	json_get "$T/body" token
}
# body FILE [KEY=VALUE...]: a JSON body with FILE's text as "yaml"
body() {
	python3 -c 'import json,sys
d={"yaml":open(sys.argv[1]).read()} if sys.argv[1] != "-" else {}
for a in sys.argv[2:]:
    k,v=a.split("=",1); d[k]=v
print(json.dumps(d))' "$@" >"$T/req"
}
# call METHOD PATH [BODY-FILE]: expect the status in $want
call() {
	if [ $# -gt 2 ]; then
		code=$(srv_curl "$1" "$2" --data-binary @"$3")
	else
		code=$(srv_curl "$1" "$2")
	fi
	[ "$code" = "$want" ] ||
	    fail "$1 $2: $code, expected $want: $(cat "$T/body")"
}
# bare_file PATH: the file at the bare repository's main (empty: none)
bare_file() {
	git -C "$T/bare.git" show "main:$1" 2>/dev/null || :
}
nitems() {
	python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$T/body"
}
head_of() {
	git -C "$1" rev-parse main
}

# race REPO N: N creates of new tasks at once (each from the head it
# read); every 201's task is at the end, a loser is 409 (never 5xx), and
# the branch holds one commit per 201: a concurrent commit never loses an
# edit
race() {
	r_repo=$1
	r_n=$2
	r_before=$(git -C "$r_repo" rev-list --count main)
	r_pids=
	i=0
	while [ $i -lt "$r_n" ]; do
		printf 'targets: {groups: [all]}\nsteps: [{script: "echo %s"}]\n' \
		    "$i" >"$T/race$i.yml"
		body "$T/race$i.yml"
		cp "$T/req" "$T/race$i.req"
		i=$((i + 1))
	done
	i=0
	while [ $i -lt "$r_n" ]; do
		curl -s -m 30 -o "$T/race$i.body" -w '%{http_code}' -X POST \
		    -H "Authorization: Bearer $SRV_TOKEN" --data-binary \
		    @"$T/race$i.req" "$SRV_URL/v1/tasks/race$i" \
		    >"$T/race$i.code" &
		r_pids="$r_pids $!"
		i=$((i + 1))
	done
	# the curls only (a bare wait would wait for leurad and etcd too)
	for p in $r_pids; do
		wait "$p" || :
	done
	r_ok=0
	i=0
	while [ $i -lt "$r_n" ]; do
		case $(cat "$T/race$i.code") in
		201)	r_ok=$((r_ok + 1))
			git -C "$r_repo" show "main:tasks/race$i.yml" |
			    cmp -s - "$T/race$i.yml" ||
			    fail "race$i answered 201 and is not on the branch" ;;
		409)	grep -q '"code":"conflict"' "$T/race$i.body" ||
			    fail "race$i: $(cat "$T/race$i.body")"
			git -C "$r_repo" show "main:tasks/race$i.yml" \
			    >/dev/null 2>&1 &&
			    fail "race$i answered 409 and is on the branch" ;;
		*)	fail "race$i: $(cat "$T/race$i.code") $(cat "$T/race$i.body")" ;;
		esac
		i=$((i + 1))
	done
	echo "race on $r_repo: $r_ok of $r_n created, the others refused"
	[ "$r_ok" -ge 1 ] || fail "no create of the race won"
	[ "$r_ok" -lt "$r_n" ] ||
	    echo "(none refused: they did not overlap, or one at a time)"
	[ "$(git -C "$r_repo" rev-list --count main)" = \
	    $((r_before + r_ok)) ] ||
	    fail "$r_ok creates won but the branch has $(git -C "$r_repo" rev-list --count main) commits, $r_before before"
}

ADMIN=$(login admin "$ADMIN_PW")
SRV_TOKEN=$ADMIN

# ---- the list ----
want=200 call GET /v1/tasks
expect_in "$T/body" '"name":"rotate-logs"'
expect_in "$T/body" '"name":"flush-cache"'
expect_in "$T/body" '"commit":"'"$(head_of "$T/bare.git")"'"'
[ "$(json_get "$T/body" items.2.name)" = say ] ||
    fail "the list is not sorted: $(cat "$T/body")"
[ "$(json_get "$T/body" items.2.params.0.name)" = message ] ||
    fail "say's params: $(cat "$T/body")"
[ "$(json_get "$T/body" items.2.params.0.required)" = True ] ||
    fail "say's message is required: $(cat "$T/body")"
[ "$(json_get "$T/body" items.2.params.1.default)" = 1 ] ||
    fail "say's times defaults to 1: $(cat "$T/body")"
[ "$(json_get "$T/body" items.1.schedule.cron)" = "30 3 * * *" ] ||
    fail "rotate-logs' cron: $(cat "$T/body")"
[ -n "$(json_get "$T/body" items.1.schedule.next.0)" ] ||
    fail "rotate-logs has no next fire time: $(cat "$T/body")"
[ "$(json_get "$T/body" items.1.hosts)" = '["web1", "web2"]' ] ||
    fail "rotate-logs' hosts: $(json_get "$T/body" items.1.hosts)"
[ "$(json_get "$T/body" items.1.last_run)" = "" ] ||
    fail "a task never run has a last run"
want=200 call GET '/v1/tasks?search=ROTATE'
[ "$(json_get "$T/body" items.0.name)" = rotate-logs ] &&
    [ "$(nitems)" = 1 ] ||
    fail "search by name: $(cat "$T/body")"
want=200 call GET '/v1/tasks?search=sign-off'
expect_in "$T/body" '"name":"flush-cache"'

# the last run, from the run records (the newest first)
_b64() { printf %s "$1" | base64 -w0; }
for r in 'r@20261201-010000-aaaaaa {"id":"r@20261201-010000-aaaaaa","task":"say","by":"old","created":"2026-12-01T01:00:00Z","outcome":"failed"}' \
    'r@20261202-010000-bbbbbb {"id":"r@20261202-010000-bbbbbb","task":"say","by":"bob","created":"2026-12-02T01:00:00Z","state":"finalised","outcome":"succeeded"}' \
    'r@20261203-010000-cccccc {"id":"r@20261203-010000-cccccc","kind":"exec","task":null,"by":"eve","created":"2026-12-03T01:00:00Z"}'; do
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" -d "{\"key\":\"$(_b64 "/leura/runs/docs/${r%% *}")\",\"value\":\"$(_b64 "${r#* }")\"}" >/dev/null ||
	    fail "cannot put a run record"
done
want=200 call GET /v1/tasks/say
[ "$(json_get "$T/body" last_run.by)" = bob ] &&
    [ "$(json_get "$T/body" last_run.outcome)" = succeeded ] ||
    fail "the last run of say: $(cat "$T/body")"
expect_in "$T/body" '"yaml":"description: Write a message'
[ "$(json_get "$T/body" commit)" = "$(head_of "$T/bare.git")" ] ||
    fail "GET /v1/tasks/say: commit"
want=404 call GET /v1/tasks/nosuch
want=400 call GET /v1/tasks/.hidden

# ---- a reader of one task sees that one only; writing needs admin ----
printf '%s' '{"name":"rita","password":"rita-password-1"}' >"$T/u"
want=201 call POST /v1/users "$T/u"
printf '%s' '{"subject":"user:rita","verb":"read","resource":"tasks/say"}' >"$T/g"
want=201 call POST /v1/grants "$T/g"
RITA=$(login rita rita-password-1)
SRV_TOKEN=$RITA
want=200 call GET /v1/tasks
[ "$(json_get "$T/body" items.0.name)" = say ] && [ "$(nitems)" = 1 ] ||
    fail "rita sees more than say: $(cat "$T/body")"
want=403 call GET /v1/tasks/rotate-logs
cat >"$T/drain.yml" <<'YML'
description: Take the web hosts out, one at a time
targets: {services: [web]}
parallel: 1
params:
  reason: {type: string, required: true}
steps:
  - name: drain
    script: echo "drain {{ host.name }} for {{ params.reason }}"
YML
body "$T/drain.yml" message="add drain"
want=403 call POST /v1/tasks/drain "$T/req"
[ -z "$(bare_file tasks/drain.yml)" ] || fail "a 403 committed"
SRV_TOKEN=$ADMIN

# ---- create ----
before=$(head_of "$T/bare.git")
want=201 call POST /v1/tasks/drain "$T/req"
after=$(head_of "$T/bare.git")
[ "$(json_get "$T/body" commit)" = "$after" ] &&
    [ "$(json_get "$T/body" parent)" = "$before" ] ||
    fail "POST: commit $after parent $before: $(cat "$T/body")"
[ "$(git -C "$T/bare.git" log -1 --format='%an <%ae>|%cn' main)" = \
    "admin <admin@leurad>|admin" ] ||
    fail "author: $(git -C "$T/bare.git" log -1 --format='%an <%ae>|%cn' main)"
git -C "$T/bare.git" log -1 --format=%B main | grep -q '^add drain$' ||
    fail "message: $(git -C "$T/bare.git" log -1 --format=%B main)"
bare_file tasks/drain.yml | cmp -s - "$T/drain.yml" ||
    fail "tasks/drain.yml is not what was sent"
[ "$(git -C "$T/bare.git" diff --name-only "$before" "$after")" = \
    tasks/drain.yml ] || fail "the commit changed more than the task"
want=200 call GET /v1/tasks/drain
[ "$(json_get "$T/body" commit)" = "$after" ] ||
    fail "GET after POST: $(cat "$T/body")"
want=409 call POST /v1/tasks/drain "$T/req"
expect_in "$T/body" '"code":"exists"'

# ---- a task that does not load: 422 at its position, nothing made ----
printf 'targets: {services: [web]}\nparalel: 2\nsteps: [{script: x}]\n' \
    >"$T/bad.yml"
body "$T/bad.yml"
want=422 call PUT /v1/tasks/drain "$T/req"
expect_in "$T/body" "\"message\":\"tasks/drain.yml:2:1: unknown key 'paralel'"
expect_in "$T/body" '"diagnostics":['
expect_in "$T/body" "did you mean 'parallel'?"
[ "$(head_of "$T/bare.git")" = "$after" ] || fail "a 422 moved the branch"
printf 'targets: {services: [web]}\nparams: {n: {type: int}}\nsteps: [{script: x}]\n' \
    >"$T/bad2.yml"
body "$T/bad2.yml"
want=422 call POST /v1/tasks/other "$T/req"
expect_in "$T/body" "\"message\":\"tasks/other.yml:2:"
expect_in "$T/body" "unknown type 'int'"
[ -z "$(bare_file tasks/other.yml)" ] || fail "a 422 committed"
printf '{"yaml":""}' >"$T/e"
want=400 call PUT /v1/tasks/drain "$T/e"

# ---- change, with expect_commit ----
sed 's/one at a time/one by one/' "$T/drain.yml" >"$T/drain2.yml"
body "$T/drain2.yml" expect_commit="$after"
want=200 call PUT /v1/tasks/drain "$T/req"
c2=$(head_of "$T/bare.git")
bare_file tasks/drain.yml | grep -q 'one by one' || fail "PUT did not land"
git -C "$T/bare.git" log -1 --format=%s main | grep -q '^tasks: change drain$' ||
    fail "default message: $(git -C "$T/bare.git" log -1 --format=%s main)"
# someone else changes another file: an edit based on c2 still applies
git clone -q "$T/bare.git" "$T/work"
(cd "$T/work" && git config user.email bob@x && git config user.name bob &&
    echo "# note" >>services.yml && git commit -qam "a note" &&
    git push -q origin main)
sed 's/one by one/in turn/' "$T/drain2.yml" >"$T/drain3.yml"
body "$T/drain3.yml" expect_commit="$c2"
want=200 call PUT /v1/tasks/drain "$T/req"
c3=$(head_of "$T/bare.git")
git -C "$T/bare.git" show main:services.yml | grep -q '^# note' ||
    fail "the other commit was lost"
# ... but not one based on a commit before a change to the task itself
(cd "$T/work" && git pull -q && sed -i 's/in turn/by bob/' tasks/drain.yml &&
    git commit -qam "bob's drain" && git push -q origin main)
body "$T/drain2.yml" expect_commit="$c3"
want=409 call PUT /v1/tasks/drain "$T/req"
expect_in "$T/body" "task 'drain' changed since commit"
bare_file tasks/drain.yml | grep -q 'by bob' || fail "bob's edit was lost"
body "$T/drain2.yml" expect_commit=nothex
want=400 call PUT /v1/tasks/drain "$T/req"
want=404 call PUT /v1/tasks/nosuch "$T/req"

# the same text again: nothing to commit
bare_file tasks/drain.yml >"$T/cur.yml"
(cd "$T/work" && git pull -q)
body "$T/cur.yml"
want=200 call PUT /v1/tasks/drain "$T/req"
[ "$(json_get "$T/body" unchanged)" = True ] ||
    fail "an unchanged PUT: $(cat "$T/body")"
[ "$(head_of "$T/bare.git")" = "$(git -C "$T/work" rev-parse HEAD)" ] ||
    fail "an unchanged PUT made a commit"

# ---- delete ----
want=404 call DELETE "/v1/tasks/nosuch"
want=409 call DELETE "/v1/tasks/drain?expect_commit=$c3"
want=200 call DELETE "/v1/tasks/drain?message=gone"
[ -z "$(bare_file tasks/drain.yml)" ] || fail "DELETE left the file"
git -C "$T/bare.git" log -1 --format=%s main | grep -q '^gone$' ||
    fail "delete message: $(git -C "$T/bare.git" log -1 --format=%s main)"
want=404 call GET /v1/tasks/drain
want=404 call DELETE /v1/tasks/drain

# ---- the audit trail names the task and the commit ----
want=200 call GET '/v1/events?limit=50'
expect_in "$T/body" '"resource":"tasks/drain"'

# ---- creates at the same moment: a compare-and-swap each ----
# (a larger inventory makes each edit's check take a while, so that the
# creates overlap and most find the branch moved)
(cd "$T/work" && git pull -q &&
    python3 -c 'print("hosts:"); [print("  h%d: {groups: [many]}" % i) for i in range(3000)]' \
    >inventory/many.yml && git add -A && git commit -qm "many hosts" &&
    git push -q origin main)
race "$T/bare.git" 6

# ---- leura tasks through leurad: the caller's tasks, their last run ----
export LEURA_SERVER="$SRV_URL" XDG_CONFIG_HOME="$T/config"
LEURA_TOKEN=$ADMIN run 0 "$LEURA" tasks
expect_in "$T/out" "say                  services: web            2     on demand                                    r@20261202-010000-bbbbbb by bob, succeeded"
expect_in "$T/out" "rotate-logs"
expect_in "$T/out" "    params: message: string, required; times: integer = 1"
LEURA_TOKEN=$RITA run 0 "$LEURA" tasks
expect_in "$T/out" "say "
expect_not_in "$T/out" "rotate-logs"
LEURA_TOKEN=$ADMIN run 0 "$LEURA" tasks --search "reload log" --json
[ "$(json_get "$T/out" items.0.name)" = rotate-logs ] ||
    fail "leura tasks --search --json: $(cat "$T/out")"
LEURA_TOKEN=$ADMIN run 0 "$LEURA" tasks --search nothing-like-it
expect_in "$T/out" "No task matches 'nothing-like-it'."
# --direct reads the repo, even with a server configured: no last run
LEURA_TOKEN=$ADMIN run 0 "$LEURA" -C "$T/repo" tasks --direct --search say
expect_in "$T/out" "on demand                                    -"
LEURA_TOKEN=not-a-token run 1 "$LEURA" tasks
unset LEURA_SERVER

# ---- a source whose branch is checked out: refused ----
# (the replicas share etcd, so their users and tokens)
srv_start b --source "$T/repo"
body "$T/drain.yml"
h=$(head_of "$T/repo")
want=409 call POST /v1/tasks/drain "$T/req"
expect_in "$T/body" '"code":"checked_out"'
expect_in "$T/body" 'git clone --bare'
[ "$(head_of "$T/repo")" = "$h" ] || fail "the checked-out branch moved"
want=200 call GET /v1/tasks

# ---- a file:// source: a local repository, committed to in place ----
git clone -q --bare "$T/repo" "$T/remote.git"
srv_start c --source "file://$T/remote.git"
want=201 call POST /v1/tasks/drain "$T/req"
[ "$(json_get "$T/body" commit)" = "$(head_of "$T/remote.git")" ] ||
    fail "the file:// source did not get the commit: $(cat "$T/body")"
git -C "$T/remote.git" show main:tasks/drain.yml | cmp -s - "$T/drain.yml" ||
    fail "the file:// source's tasks/drain.yml"
race "$T/remote.git" 4

# ---- a remote behind a git server (git daemon, git://): pushed ----
git clone -q --bare "$T/repo" "$T/pushed.git"
gport=
for try in 1 2 3 4 5; do
	gport=$(_srv_port)
	git daemon --export-all --enable=receive-pack --base-path="$T" \
	    --listen=127.0.0.1 --port="$gport" --reuseaddr \
	    >"$T/daemon.log" 2>&1 &
	gpid=$!
	SRV_PIDS="$SRV_PIDS $gpid"	# killed on exit with the servers
	i=0
	until git ls-remote "git://127.0.0.1:$gport/pushed.git" >/dev/null 2>&1; do
		i=$((i + 1))
		kill -0 "$gpid" 2>/dev/null && [ $i -lt 100 ] || break
		sleep 0.05
	done
	git ls-remote "git://127.0.0.1:$gport/pushed.git" >/dev/null 2>&1 &&
	    break
	kill "$gpid" 2>/dev/null || :
	gport=
done
if [ -z "$gport" ]; then
	fail "git daemon did not start: $(cat "$T/daemon.log")"
else
	srv_start d --source "git://127.0.0.1:$gport/pushed.git"
	before=$(head_of "$T/pushed.git")
	body "$T/drain.yml"
	want=201 call POST /v1/tasks/drain "$T/req"
	[ "$(json_get "$T/body" commit)" = "$(head_of "$T/pushed.git")" ] &&
	    [ "$(json_get "$T/body" parent)" = "$before" ] ||
	    fail "the git server did not get the push: $(cat "$T/body")"
	git -C "$T/pushed.git" show main:tasks/drain.yml |
	    cmp -s - "$T/drain.yml" || fail "the pushed tasks/drain.yml"
	want=200 call GET /v1/tasks/drain
	race "$T/pushed.git" 4
	# a push made meanwhile by someone else: the edit is made anew on
	# it (a fresh fetch) and both stay
	git clone -q "$T/pushed.git" "$T/dev"
	(cd "$T/dev" && echo "# dev" >>services.yml && git commit -qam dev &&
	    git push -q origin main)
	body "$T/drain2.yml"
	want=200 call PUT /v1/tasks/drain "$T/req"
	git -C "$T/pushed.git" show main:services.yml | grep -q '^# dev' ||
	    fail "the developer's push was lost"
	git -C "$T/pushed.git" for-each-ref | grep -q refs/leura &&
	    fail "a push left a ref on the remote"
	git -C "$SRV_DIR/data/source.git" for-each-ref | grep -q refs/leura/ &&
	    fail "the mirror kept its edit ref"
fi

done_testing
