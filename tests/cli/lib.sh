# Helpers for CLI tests: sourced by t_*.sh.  $LEURA is the built binary,
# $LEURA_SRC the source tree (both set by CTest).  Each test works in its own
# temp dir, removed on exit.
set -eu
: "${LEURA:?set LEURA to the leura binary}"
: "${LEURA_SRC:?set LEURA_SRC to the source tree}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.invalid
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.invalid
export GIT_CONFIG_NOSYSTEM=1 HOME="$T"
nfail=0

# The fleet's signing key pair (docs/security.md), for every test: leura
# apply signs with the private key, agents check with the public one.
# Only the test of --insecure-unsigned goes without.
KEYS=$T/keys
"$LEURA" keygen "$KEYS" >/dev/null
export LEURA_SIGNING_KEY="$KEYS/signing.key"
export LEURA_FLEET_KEY="$KEYS/signing.pub"

fail() {
	echo "FAIL: $*" >&2
	nfail=$((nfail + 1))
}

# run EXPECTED_STATUS CMD...: run, keep stdout in $T/out, stderr in $T/err
run() {
	want=$1
	shift
	set +e
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	set -e
	if [ "$got" -ne "$want" ]; then
		fail "'$*' exited $got, expected $want"
		sed 's/^/  out: /' "$T/out" >&2
		sed 's/^/  err: /' "$T/err" >&2
	fi
}

# expect_in FILE TEXT: FILE contains the fixed string TEXT
expect_in() {
	grep -qF -- "$2" "$1" || {
		fail "'$1' lacks: $2"
		sed 's/^/  | /' "$1" >&2
	}
}

expect_not_in() {
	if grep -qF -- "$2" "$1"; then
		fail "'$1' unexpectedly has: $2"
	fi
}


# new_repo: $T/repo holds the bundled example, committed on branch main.
new_repo() {
	rm -rf "$T/repo"
	cp -R "$LEURA_SRC/examples/basic" "$T/repo"
	(cd "$T/repo" && git init -q -b main . && git add -A &&
	    git commit -q -m init)
}

commit_all() {
	(cd "$T/repo" && git add -A && git commit -q -m "$1")
}

done_testing() {
	if [ "$nfail" -ne 0 ]; then
		echo "$nfail failure(s)" >&2
		exit 1
	fi
	echo ok
}
