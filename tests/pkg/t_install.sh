# cmake --install, as a package installs it (packaging/CMakeLists.txt):
# into a temp root (DESTDIR; never the system), then the layout (binaries,
# man pages, roles, examples, the agent's unit and its /etc/default file,
# the license as copyright), --version naming the commit, and the
# installed leura up --once: the example and the agent found relative to
# the installed leura (BIN/../share/leura, BIN/../sbin), the example,
# which is no git repository there, copied to the state dir and committed.
# Needs etcd for the last part (exit 77, skipped, without it).
. "$LEURA_SRC/tests/cli/lib.sh"
: "${LEURA_BUILD:?set LEURA_BUILD to the build dir}"
ROOT=$T/root
DESTDIR=$ROOT cmake --install "$LEURA_BUILD" >"$T/install.out" 2>&1 || {
	cat "$T/install.out" >&2
	fail "cmake --install failed"
	exit 1
}
# the configured prefix (/usr/local by default) under the temp root
P=$ROOT$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' \
    "$LEURA_BUILD/CMakeCache.txt")
if [ "$P" = "$ROOT/usr" ]; then ETC=$ROOT/etc; else ETC=$P/etc; fi

has() {
	[ -e "$1" ] || fail "not installed: ${1#"$ROOT"}"
}
has "$P/bin/leura"
has "$P/sbin/leura-agent"
has "$P/sbin/leurad"
[ ! -e "$P/bin/leura-agent" ] || fail "leura-agent in bin: a daemon, sbin"
for r in "$LEURA_SRC"/roles/*/; do
	has "$P/share/leura/roles/$(basename "$r")/role.yml"
done
has "$P/share/leura/examples/basic/leura.yml"
has "$P/share/leura/examples/basic/services.yml"
has "$P/share/doc/leura/copyright"
cmp -s "$P/share/doc/leura/copyright" "$LEURA_SRC/LICENSE" ||
    fail "copyright is not LICENSE"
grep -q "Apache License" "$LEURA_SRC/LICENSE" || fail "LICENSE: not Apache"
UNIT=$P/lib/systemd/system/leura-agent.service
has "$UNIT"
has "$ETC/default/leura-agent"
if [ "${LEURA_MAN:-0}" = 1 ]; then
	for md in "$LEURA_SRC"/docs/man/*.md; do
		page=$(basename "$md" .md)
		s=${page##*.}
		has "$P/share/man/man$s/$page.gz"
		gzip -dc "$P/share/man/man$s/$page.gz" 2>/dev/null | head -3 |
		    grep -q "^\.TH \"${page%.*}\" \"$s\"" ||
		    fail "$page: no .TH line with its name and section"
	done
else
	echo "note: lowdown not found at configure time: no man pages" >&2
fi

# the unit: the installed agent, its settings from the /etc/default file
# and the fleet key file, no secret on the command line
expect_in "$UNIT" "ExecStart=${P#"$ROOT"}/sbin/leura-agent --host="
expect_in "$UNIT" "EnvironmentFile=-${ETC#"$ROOT"}/default/leura-agent"
expect_in "$UNIT" "Environment=LEURA_FLEET_KEY=${ETC#"$ROOT"}/leura/fleet.pub"
expect_not_in "$UNIT" "PASSWORD"
expect_not_in "$UNIT" "--insecure-unsigned"
# systemd's own check, where there is one: only the paths outside the
# temp root may be missing (the binary, the man page)
if command -v systemd-analyze >/dev/null 2>&1; then
	systemd-analyze verify "$UNIT" >"$T/verify" 2>&1 || :
	if grep -v "is not executable\|Command 'man " "$T/verify" >&2; then
		fail "systemd-analyze verify: the unit has errors"
	fi
fi

# leurad's unit: its binary, its settings file, no secret
DUNIT=$P/lib/systemd/system/leurad.service
has "$DUNIT"
has "$ETC/default/leurad"
expect_in "$DUNIT" "ExecStart=${P#"$ROOT"}/sbin/leurad --data-dir="
expect_in "$DUNIT" "EnvironmentFile=-${ETC#"$ROOT"}/default/leurad"
expect_not_in "$DUNIT" "--insecure-no-tls"
if command -v systemd-analyze >/dev/null 2>&1; then
	systemd-analyze verify "$DUNIT" >"$T/verify" 2>&1 || :
	if grep -v "is not executable\|Command 'man " "$T/verify" >&2; then
		fail "systemd-analyze verify: leurad.service has errors"
	fi
fi

# --version names the commit the build was made from
for b in leura leura-agent leurad; do
	case $b in
	leura) exe=$P/bin/leura ;;
	*) exe=$P/sbin/$b ;;
	esac
	run 0 "$exe" --version
	if git -C "$LEURA_SRC" rev-parse --show-toplevel >/dev/null 2>&1; then
		# the hash git describe gives: "1a2b3c4", or "v1-3-g1a2b3c4";
		# a tag alone (a build at the tag) names no commit: resolve it
		id=$(sed -n 's/.*(commit \([^)]*\)).*/\1/p' "$T/out")
		id=${id%-dirty}
		case $id in
		*-g[0-9a-f]*) id=${id##*-g} ;;
		*[!0-9a-f]*|'') id=$(git -C "$LEURA_SRC" rev-parse \
		    "$id^{commit}" 2>/dev/null || echo "none") ;;
		esac
		head=$(git -C "$LEURA_SRC" rev-parse HEAD)
		case $head in
		"$id"?*) ;;
		*) fail "$b --version names '$id', HEAD is $head" \
		       "(built before HEAD moved? cmake --build first)"
		   cat "$T/out" >&2 ;;
		esac
	else
		expect_in "$T/out" "not built from a git checkout"
	fi
done

# cmake/version.cmake outside a git checkout (a tarball), with a commit
# given (-DLEURA_COMMIT), and the header left alone when nothing moved
mkdir "$T/tarball"
V="$LEURA_SRC/cmake/version.cmake"
cmake -DSRC="$T/tarball" -DOUT="$T/v.h" -P "$V"
expect_in "$T/v.h" '#define LEURA_COMMIT "not built from a git checkout"'
cmake -DSRC="$T/tarball" -DOUT="$T/v.h" -DCOMMIT=v0.1.0-debian1 -P "$V"
expect_in "$T/v.h" '#define LEURA_COMMIT "v0.1.0-debian1"'
touch -d @1000000000 "$T/v.h"
cmake -DSRC="$T/tarball" -DOUT="$T/v.h" -DCOMMIT=v0.1.0-debian1 -P "$V"
[ "$(stat -c %Y "$T/v.h")" = 1000000000 ] ||
    fail "version.cmake rewrote an unchanged header (a needless rebuild)"

# the installed leura up, with no leura-agent in PATH: BIN/../sbin
. "$LEURA_SRC/tests/lib/etcd.sh"
if ! _etcd_find; then
	echo "SKIP: no etcd binary (install etcd-server)" >&2
	exit 77
fi
PATH=$(dirname "$ETCD_BIN"):/usr/bin:/bin
S=$T/state
# a symlink in the example (a role may link a file it shares) is copied
# as one
ln -s services.yml "$P/share/leura/examples/basic/services-link.yml"
run 0 "$P/bin/leura" up --once --state-dir "$S"
expect_in "$T/out" "Copied the bundled example to '$S/example'"
expect_in "$T/out" "Applying '$S/example'"
expect_in "$T/out" "all 5 hosts converged"
[ "$(git -C "$S/example" rev-list --count HEAD 2>&1)" = 1 ] ||
    fail "$S/example: not a git repository with one commit"
diff -r -x .git "$S/example" "$P/share/leura/examples/basic" >&2 ||
    fail "$S/example differs from the installed example"
[ -L "$S/example/services-link.yml" ] || fail "a symlink was not copied"
git -C "$S/example" status --porcelain >"$T/st"
[ ! -s "$T/st" ] || fail "$S/example has uncommitted files: $(cat "$T/st")"
# a second run keeps the copy and deploys nothing new
run 0 "$P/bin/leura" up --once --state-dir "$S"
expect_not_in "$T/out" "Copied"
expect_in "$T/out" "No changes"
exit $((nfail > 0))
