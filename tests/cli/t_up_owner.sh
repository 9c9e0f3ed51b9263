# leura up's etcd is reachable by its owner only: whoever reaches etcd
# writes what the (root) agents run, and etcd 3.4's authentication is no
# barrier (a nested transaction needs no token, NOTES-deps §7).  With up
# running as root, another local user (nobody) tries `leura apply` of a
# repo of their own against the endpoint up prints, and the nested
# transaction with curl: both must be refused, while the same request
# from the owner works; and no TCP port of that etcd listens (ss).  The
# state dir is made world-readable first, so that the socket folder is
# what keeps the other user out.  Needs root (runuser), leura-agent, etcd,
# curl and ss: exits 77 (skipped) without them.
. "$LEURA_SRC/tests/cli/lib.sh"
ETCD_TRAP='[ -z "${bg:-}" ] || kill -KILL "$bg" 2>/dev/null; sleep 0.2; rm -rf "$T"'
. "$LEURA_SRC/tests/lib/etcd.sh"
bg=
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root, to run commands as another user" >&2
	exit 77
fi
if [ -z "${LEURA_AGENT:-}" ] || [ ! -x "$LEURA_AGENT" ]; then
	echo "SKIP: no leura-agent (LEURA_AGENT)" >&2
	exit 77
fi
if ! _etcd_find; then
	echo "SKIP: no etcd binary (install etcd-server)" >&2
	exit 77
fi
for p in curl ss runuser; do
	command -v "$p" >/dev/null || { echo "SKIP: no $p" >&2; exit 77; }
done
trap 'eval "$ETCD_TRAP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
PATH="$(dirname "$LEURA_AGENT"):$(dirname "$ETCD_BIN"):$PATH"
export PATH
unset LEURA_ETCD LEURA_ETCD_PREFIX
S=$T/state
chmod 755 "$T"
mkdir -m 755 "$S"

# wait_for FILE TEXT: until FILE has TEXT (60 s at most)
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ]; then
			fail "timed out waiting for '$2' in $1"
			sed 's/^/  | /' "$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

# a one-host repo for up (root's), and one for the other user (theirs:
# libgit2 refuses a repo its user does not own)
mkrepo() {
	mkdir -p "$1/inventory" "$1/roles/note"
	cat >"$1/inventory/hosts.yml" <<EOF
hosts:
  h1: {address: 127.0.0.1}
EOF
	cat >"$1/services.yml" <<'EOF'
note:
  params: {text: hello}
EOF
	cat >"$1/roles/note/role.yml" <<EOF
description: writes a note
params: {text: hi}
converge:
  - name: note
    script: echo "{{ params.text }}" >"$T/note-\$(id -u)"
EOF
	(cd "$1" && git init -q -b main . && git add -A && git commit -q -m init)
}
mkrepo repo
mkrepo theirs
sed -i 's/text: hello/text: pwned/' theirs/services.yml
(cd theirs && git commit -qam "as another user")
mkdir -p bin nobody-home
cp "$LEURA" bin/leura
chmod 755 bin bin/leura
chown -R nobody theirs nobody-home

: >"$T/bg.out"
"$LEURA" up --state-dir "$S" -C repo >"$T/bg.out" 2>"$T/bg.err" &
bg=$!
wait_for "$T/bg.out" "Leura is up: etcd "
url=$(sed -n 's/^Leura is up: etcd \([^,]*\), .*/\1/p' "$T/bg.out")
[ -n "$url" ] || fail "no endpoint in: $(cat "$T/bg.out")"

# no TCP listener of that etcd
epid=$(pgrep -f -- "--data-dir $S/etcd" | head -n 1)
[ -n "$epid" ] || fail "no etcd of ours running"
ss -Hlntp >"$T/ss" 2>&1 || fail "ss -lntp failed: $(cat "$T/ss")"
if grep -q "pid=$epid," "$T/ss"; then
	fail "etcd listens on TCP:"
	grep "pid=$epid," "$T/ss" | sed 's/^/  | /' >&2
fi

# as nobody: leura apply of their own repo is refused
as_nobody() {
	runuser -u nobody -- env HOME="$T/nobody-home" \
	    LEURA_SIGNING_KEY="$T/nobody-home/.config/leura/signing.key" "$@"
}
# with a signing key of their own: what they lack is etcd
run 0 as_nobody bin/leura keygen
run 1 as_nobody bin/leura --etcd "$url" -C theirs apply --no-diff
expect_in "$T/err" "cannot reach etcd"
expect_in "$T/err" "permission denied"
[ ! -e "$T/note-0" ] || [ "$(cat "$T/note-0")" = hello ] ||
    fail "root's agent ran the other user's step: $(cat "$T/note-0")"

# the nested transaction that etcd 3.4 serves without a token: refused
# for nobody, served for the owner
k=$(printf /leura/ | base64)
e=$(printf /leura0 | base64)
body='{"success":[{"request_txn":{"success":[{"request_range":{"key":"'$k'","range_end":"'$e'","keys_only":true}}]}}]}'
case $url in
unix://*) sock=${url#unix://} base=http://localhost ;;
*) sock= base=$url ;;
esac
set +e
as_nobody curl -sS -m 10 -X POST ${sock:+--unix-socket "$sock"} \
    "$base/v3/kv/txn" -d "$body" >"$T/out" 2>"$T/err"
got=$?
curl -sS -m 10 -X POST ${sock:+--unix-socket "$sock"} "$base/v3/kv/txn" \
    -d "$body" >"$T/own" 2>&1
own=$?
set -e
if [ "$got" -eq 0 ] || grep -q '"header"' "$T/out"; then
	fail "nobody's nested txn was served: $(cat "$T/out")"
fi
# 7: curl could not connect (the socket's folder is not theirs to open)
[ "$got" -eq 7 ] || fail "nobody's curl exited $got, not 7: $(cat "$T/err")"
[ "$own" -eq 0 ] && grep -q '"succeeded":true' "$T/own" ||
    fail "the owner's nested txn failed: $(cat "$T/own")"

kill -INT "$bg"
i=0
while kill -0 "$bg" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 300 ]; then
		fail "leura up did not stop within 30 s of SIGINT"
		kill -KILL "$bg"
		break
	fi
	sleep 0.1
done
wait "$bg" || fail "leura up exited $?"
bg=
done_testing
