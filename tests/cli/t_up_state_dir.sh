# leura up refuses a state dir that others may write, or that another
# user owns: the state dir holds the fleet's signing key, etcd's socket
# folder and the agents' state, so whoever may write it (plant a key pair
# of their own, swap the socket folder after up checked it) is root on
# the fleet.  Each case must fail before anything is made in the dir (no
# signing.key).  The owner case needs root (chown to nobody); the others
# run as anyone.
. "$LEURA_SRC/tests/cli/lib.sh"
unset LEURA_ETCD LEURA_ETCD_PREFIX

# a one-host repo (up loads it before it starts etcd)
mkdir -p repo/inventory repo/roles/note
cat >repo/inventory/hosts.yml <<EOF
hosts:
  h1: {address: 127.0.0.1}
EOF
cat >repo/services.yml <<'EOF'
note: {}
EOF
cat >repo/roles/note/role.yml <<'EOF'
description: nothing
converge:
  - name: note
    script: "true"
EOF
(cd repo && git init -q -b main . && git add -A && git commit -q -m init)

refused() {	# DIR WHAT: up with DIR as its state dir says WHAT, made nothing
	# a deadline: before the fix, up started and ran on
	run 1 timeout -s INT 30 "$LEURA" up --state-dir "$1" -C repo
	expect_in "$T/err" "$2"
	expect_in "$T/err" "hint:"
	[ ! -e "$1/signing.key" ] || fail "up made a signing key in '$1'"
	[ ! -e "$1/sock" ] || fail "up made a socket folder in '$1'"
}

mkdir open
chmod 777 open
refused open "may be written by others"
mkdir grp
chmod 770 grp
refused grp "may be written by others"
# a world-writable dir with the sticky bit (like /tmp) is no better
mkdir sticky
chmod 1777 sticky
refused sticky "may be written by others"
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 700 theirs
	chown nobody theirs
	refused theirs "belongs to user"
fi

[ "$nfail" -eq 0 ]
