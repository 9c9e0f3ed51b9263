# The agent's own words for bad connection options, as before the shared
# lr_conn_resolve (the CLI keeps its wording): a prefix that does not start
# with '/' is "invalid etcd prefix 'P'" (trailing '/' removed, exit 64),
# an unreadable password file "cannot read the etcd password file 'F':
# why" (exit 1).  A bad --etcd-max-request-bytes or --step-log-max is a
# usage error (64).
# No etcd needed: all are refused before connecting.
. "$LEURA_SRC/tests/agent/lib.sh"

st=0
err=$("$LEURA_AGENT" --host web1 --prefix 'x//' 2>&1 >/dev/null) || st=$?
expect_eq "bad prefix: status" "$st" 64
expect_has "bad prefix" "$err" \
    "leura-agent: error: invalid etcd prefix 'x'"
expect_has "bad prefix: hint" "$err" \
    "hint: a path like /leura (the same as leura apply's)"

st=0
err=$(LEURA_ETCD_PREFIX=leura "$LEURA_AGENT" --host web1 2>&1 \
    >/dev/null) || st=$?
expect_eq "bad prefix from the environment: status" "$st" 64
expect_has "bad prefix from the environment" "$err" \
    "invalid etcd prefix 'leura'"

st=0
err=$("$LEURA_AGENT" --host web1 --etcd-password-file "$T/none" 2>&1 \
    >/dev/null) || st=$?
expect_eq "missing password file: status" "$st" 1
expect_has "missing password file" "$err" "leura-agent: error: cannot \
read the etcd password file '$T/none': No such file or directory"

for bad in 10 1572865 12k -5 ""; do
	st=0
	err=$("$LEURA_AGENT" --host web1 --etcd-max-request-bytes "$bad" 2>&1 \
	    >/dev/null) || st=$?
	expect_eq "--etcd-max-request-bytes '$bad': status" "$st" 64
	expect_has "--etcd-max-request-bytes '$bad'" "$err" \
	    "invalid --etcd-max-request-bytes '$bad'"
	expect_has "--etcd-max-request-bytes '$bad': hint" "$err" \
	    "hint: etcd's --max-request-bytes, from 65536 to 1572864"
done

for bad in 1K 16383 65M 2G 5x -16K "" 99999999999999999999M; do
	st=0
	err=$("$LEURA_AGENT" --host web1 --step-log-max "$bad" 2>&1 \
	    >/dev/null) || st=$?
	expect_eq "--step-log-max '$bad': status" "$st" 64
	expect_has "--step-log-max '$bad'" "$err" \
	    "invalid --step-log-max '$bad'"
	expect_has "--step-log-max '$bad': hint" "$err" \
	    "hint: the most a step's log keeps, from 16K to 64M (default 1M)"
done
done_testing
