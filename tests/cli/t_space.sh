# etcd's disk space: an etcd with a small quota (--quota-backend-bytes
# 3 MB) takes 20 applies of a 200 KB file content each (4 MB written in
# all) because each apply compacts etcd's history (without it, etcd
# raised NOSPACE around the 12th); when etcd is full all the same (junk
# written beside Leura's keys), apply says so with what to do, and doing
# it (delete, compact, defrag, disarm: docs/etcd-layout.md, Disk space)
# makes the next apply work.  Needs etcd: exits 77 (skipped) without it.
. "$LEURA_SRC/tests/cli/lib.sh"
. "$LEURA_SRC/tests/lib/etcd.sh"
command -v curl >/dev/null || { echo "SKIP: no curl" >&2; exit 77; }
ETCD_ARGS="--quota-backend-bytes 3000000"
etcd_start
export LEURA_ETCD_PREFIX=/space

mkdir -p repo/inventory repo/roles/blob/files
cat >repo/inventory/hosts.yml <<'EOF'
hosts:
  h1: {address: 192.0.2.1}
EOF
cat >repo/services.yml <<'EOF'
blob: {}
EOF
cat >repo/roles/blob/role.yml <<'EOF'
description: one large file
converge:
  - name: blob
    file: {src: files/blob.txt, dest: /tmp/leura-space-blob.txt}
EOF
# blob N: 200 KB of text that differs each time
blob() {
	od -An -tx1 -N100000 /dev/urandom | tr -d ' \n' |
	    head -c 200000 >repo/roles/blob/files/blob.txt
	echo "$1" >>repo/roles/blob/files/blob.txt
}
blob 0
(cd repo && git init -q -b main . && git add -A && git commit -q -m blob0)

# post PATH JSON: etcd's JSON gateway, the answer in $T/post
post() {
	printf '%s' "$2" >"$T/body"
	curl -sS -m 30 -X POST "$ETCD_ENDPOINT$1" --data-binary @"$T/body" \
	    >"$T/post"
}

i=1
while [ $i -le 20 ]; do
	run 0 "$LEURA" -C repo apply --json
	grep -q '"written": true' "$T/out" || fail "apply $i wrote nothing"
	if [ $i -ge 3 ] && grep -q '"compacted": 0' "$T/out"; then
		fail "apply $i did not compact: $(cat "$T/out")"
	fi
	[ "$nfail" -eq 0 ] || break
	blob $i
	(cd repo && git commit -qam "blob$i")
	i=$((i + 1))
done

# full: junk of 1 MB values beside Leura's keys until etcd says NOSPACE
od -An -tx1 -N400000 /dev/urandom | tr -d ' \n' | base64 -w0 >"$T/junk"
n=0
while [ $n -lt 10 ]; do
	k=$(printf "/junk/%d" $n | base64)
	{ printf '{"key":"%s","value":"' "$k"; cat "$T/junk"; printf '"}'; } \
	    >"$T/body"
	curl -sS -m 30 -X POST "$ETCD_ENDPOINT/v3/kv/put" \
	    --data-binary @"$T/body" >"$T/post"
	grep -q 'database space exceeded' "$T/post" && break
	n=$((n + 1))
done
grep -q 'database space exceeded' "$T/post" ||
    fail "etcd did not fill up: $(cat "$T/post")"
run 1 "$LEURA" -C repo apply
expect_in "$T/err" "database space exceeded"
expect_in "$T/err" "hint: etcd's database is at its --quota-backend-bytes"
expect_in "$T/err" "etcdctl alarm disarm"

# what the hint says: free space (here the junk), compact, defrag, disarm
post /v3/kv/deleterange '{"key":"'"$(printf /junk/ | base64)"'","range_end":"'"$(printf /junk0 | base64)"'"}'
rev=$(sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p' "$T/post")
[ -n "$rev" ] || fail "no revision in: $(cat "$T/post")"
post /v3/kv/compaction '{"revision":"'"$rev"'","physical":true}'
post /v3/maintenance/defragment '{}'
post /v3/maintenance/alarm '{"action":"GET"}'
member=$(sed -n 's/.*"memberID":"\([0-9]*\)".*/\1/p' "$T/post")
post /v3/maintenance/alarm '{"action":"DEACTIVATE","memberID":"'"$member"'","alarm":"NOSPACE"}'
run 0 "$LEURA" -C repo apply
expect_in "$T/out" "Applied deploy #21"
done_testing
