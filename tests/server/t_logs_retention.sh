#!/bin/sh
# The log store's retention and a big step, on a real etcd and leurad:
# archives past --log-max-bytes go oldest first, archives past
# --log-retention go by age (an archive's mtime set back), both reported
# beforehand by GET /v1/logs/retention (and leura logs --retention) and
# counted in /metrics (leurad_logs_bytes, _runs, _oldest_seconds,
# _deleted_total); a step of 100 MB is stored whole, in order, packed,
# and read back through the API with its sha256 in the manifest.
. "$LEURA_SRC/tests/server/lib.sh"

PUT="python3 $LEURA_SRC/tests/server/logs_put.py"
P=/leura
srv_start a --log-max-bytes 700K --log-retention 1h
DATA=$SRV_DIR/data/logs

SRV_TOKEN='' srv_curl POST /v1/login \
    -d "{\"user\":\"admin\",\"password\":\"$SRV_ADMIN_PASSWORD\"}" >/dev/null
ADMIN=$(json_get "$T/body" token)
as() {
	a_tok=$1
	shift
	SRV_TOKEN=$a_tok srv_curl "$@"
}
wait_for() {
	w_what=$1
	shift
	i=0
	until "$@" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 1200 ] || { fail "timed out waiting for $w_what"; return 1; }
		sleep 0.05
	done
}
put() { $PUT "$ETCD_ENDPOINT" $P put "$1" "$2"; }
# a_run ID FILE: one step of web1 printing FILE, finalised; wait for its pack
a_run() {
	n=$($PUT "$ETCD_ENDPOINT" $P chunks "$1" web1 0 "$2")
	put "runs/results/$1/web1/0000" "{\"status\":\"ok\",\"chunks\":$n,\"bytes\":$(stat -c %s "$2")}"
	put "runs/docs/$1" "{\"id\":\"$1\",\"kind\":\"task\",\"task\":\"t\",\"by\":\"admin\",\"state\":\"finalised\",\"outcome\":\"succeeded\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"s\"}]}"
	wait_for "the pack of $1" test -f "$DATA/$1.tar.gz"
}
metric() {
	as "$ADMIN" GET /metrics >/dev/null
	sed -n "s/^$1 //p" "$T/body"
}

# three runs of 300 KB (incompressible): the third leaves two under 700K
head -c 300000 /dev/urandom >"$T/r300"
A=r@20261207-100000-00000a B=r@20261207-100000-00000b
C=r@20261207-100000-00000c
a_run $A "$T/r300"
a_run $B "$T/r300"
[ "$(metric leurad_logs_runs)" = 2 ] || fail "runs after two: $(metric leurad_logs_runs)"
as "$ADMIN" GET /v1/logs/retention >/dev/null
[ "$(json_get "$T/body" would_delete)" = "[]" ] || fail "would delete: $(cat "$T/body")"
a_run $C "$T/r300"
wait_for "the oldest archive deleted by size" test ! -e "$DATA/$A.tar.gz"
[ -f "$DATA/$B.tar.gz" ] && [ -f "$DATA/$C.tar.gz" ] || fail "a newer archive went"
[ "$(metric leurad_logs_deleted_total)" = 1 ] || fail "deleted_total: $(metric leurad_logs_deleted_total)"
[ "$(metric leurad_logs_runs)" = 2 ] || fail "runs: $(metric leurad_logs_runs)"
b=$(metric leurad_logs_bytes)
[ "$b" -gt 600000 ] && [ "$b" -le 716800 ] || fail "bytes: $b"
grep -q 'retention: deleted the logs of r@20261207-100000-00000a' "$SRV_LOG" ||
    fail "no log line of the deletion"

# by age: B set back two hours is reported, then deleted at the next pack
touch -d '2 hours ago' "$DATA/$B.tar.gz"
as "$ADMIN" GET /v1/logs/retention >/dev/null
python3 - "$T/body" "$B" <<'PY' || fail "retention report: $(cat "$T/body")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["policy"] == {"retention_seconds": 3600, "max_bytes": 716800}, j["policy"]
assert [(w["run"], w["reason"]) for w in j["would_delete"]] == [(sys.argv[2], "age")]
assert j["usage"]["runs"] == 2 and j["usage"]["oldest_seconds"] >= 7200
PY
[ "$(metric leurad_logs_oldest_seconds)" -ge 0 ] || fail "oldest"
LEURA_SERVER=$SRV_URL LEURA_TOKEN=$ADMIN run 0 "$LEURA" logs --retention
expect_in "$T/out" "$B"
expect_in "$T/out" "(age)"
head -c 1000 /dev/urandom >"$T/small"
a_run r@20261207-100000-00000d "$T/small"
wait_for "the archive past its age deleted" test ! -e "$DATA/$B.tar.gz"
[ "$(metric leurad_logs_deleted_total)" = 2 ] || fail "deleted_total: $(metric leurad_logs_deleted_total)"
# and at the start: C set back, leurad restarted
touch -d '3 hours ago' "$DATA/$C.tar.gz"
srv_stop a
srv_start a --log-max-bytes 200M --log-retention 1h
wait_for "the old archive deleted at the start" test ! -e "$DATA/$C.tar.gz"

# a step of 100 MB: stored whole, in order, packed, read back
python3 - "$T/big" <<'PY'
import sys
left = 100000000
with open(sys.argv[1], "wb") as f:
    i = 0
    while left > 0:
        b = b"%07d the quick brown fox jumps over the lazy dog..\n" % i
        f.write(b[:left])
        left -= len(b[:left])
        i += 1
PY
BIG=r@20261207-110000-00b1b1
put "runs/docs/$BIG" "{\"id\":\"$BIG\",\"kind\":\"task\",\"task\":\"t\",\"by\":\"admin\",\"state\":\"running\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"big\"}]}"
n=$($PUT "$ETCD_ENDPOINT" $P chunks $BIG web1 0 "$T/big")
[ "$n" = 1526 ] || fail "chunks: $n"
put "runs/results/$BIG/web1/0000" "{\"status\":\"ok\",\"chunks\":$n,\"bytes\":100000000}"
stored() { [ "$(stat -c %s "$DATA/open/$BIG/web1/0000.log")" = 100000000 ]; }
wait_for "100 MB stored" stored
cmp "$DATA/open/$BIG/web1/0000.log" "$T/big" || fail "the stored step differs"
put "runs/docs/$BIG" "{\"id\":\"$BIG\",\"kind\":\"task\",\"task\":\"t\",\"by\":\"admin\",\"state\":\"finalised\",\"outcome\":\"succeeded\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"big\"}]}"
wait_for "the big pack" test -f "$DATA/$BIG.tar.gz"
curl -s -m 60 -H "Authorization: Bearer $ADMIN" \
    "$SRV_URL/v1/runs/$BIG/logs?host=web1&step=0" | cmp - "$T/big" ||
    fail "the step read back from the archive differs"
tar xzf "$DATA/$BIG.tar.gz" -C "$T" manifest.json
[ "$(json_get "$T/manifest.json" steps.0.sha256)" = "$(sha256sum "$T/big" | cut -c1-64)" ] ||
    fail "sha256 in the manifest"

done_testing
