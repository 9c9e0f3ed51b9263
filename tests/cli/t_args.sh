# Refs that name no commit, and arguments after the command's options.
# A bad ref is an error with words (rec_load gives LR_EINVAL with no
# diagnostics for it: cmd_print_load_error prints the error), never a
# silent exit 1.  Options end at the first word that is not one ("+" in
# every builtin's optstring), so a stray word is the error named.
. "$LEURA_SRC/tests/cli/lib.sh"
new_repo

tree=$(cd repo && git rev-parse 'HEAD^{tree}')
blob=$(cd repo && git rev-parse HEAD:services.yml)
# a 4-digit prefix two objects share: 3000 blobs make one near certain
mkdir blobs
i=0
while [ $i -lt 3000 ]; do
	echo "blob $i" > blobs/$i
	i=$((i + 1))
done
amb=$(cd repo && ls ../blobs | sed 's|^|../blobs/|' |
    git hash-object -w --stdin-paths | cut -c1-4 | sort | uniq -d | head -1)
[ -n "$amb" ] || fail "no shared 4-digit object prefix in 3000 blobs"

for ref in "$tree" "$blob"; do
	for cmd in "schedule --ref $ref" "schedule --tasks --ref $ref" \
	    "inventory --ansible --ref $ref" "plan --from $ref" \
	    "plan --from HEAD --ref $ref" "validate --ref $ref" \
	    "validate --json --ref $ref"; do
		# shellcheck disable=SC2086
		run 1 "$LEURA" -C repo $cmd
		expect_in err "leura: error: revision '$ref'"
		expect_in err "not a commit"
		expect_in err "hint: "
		expect_not_in out '"source": null'
	done
done
if [ -n "$amb" ]; then
	for cmd in "schedule --ref $amb" "inventory --prometheus --ref $amb" \
	    "plan --from $amb" "validate --ref $amb" \
	    "validate --json --ref $amb"; do
		# shellcheck disable=SC2086
		run 1 "$LEURA" -C repo $cmd
		expect_in err "leura: error: ambiguous revision '$amb'"
		expect_in err "hint: give more characters"
	done
fi

# a word before an option: the word is the error, whatever follows
# (apply takes one word, its saved plan: then what follows is the error)
run 64 "$LEURA" -C repo apply extra --lock-timeout x
expect_in err "leura: error: option '--lock-timeout' after 'extra': options go before the saved plan"
expect_in err "usage: leura apply"
run 64 "$LEURA" -C repo apply extra -h
expect_in err "option '-h' after 'extra'"
for cmd in plan history validate schedule inventory; do
	run 64 "$LEURA" -C repo $cmd extra --lock-timeout x
	expect_in err "leura: error: unknown argument 'extra'"
	[ "$(grep -c 'leura: error' err)" -eq 1 ] || fail "$cmd: more than one error"
	run 64 "$LEURA" -C repo $cmd extra -h
	expect_in err "leura: error: unknown argument 'extra'"
	expect_in err "usage: leura $cmd"
	run 64 "$LEURA" -C repo $cmd extra --help
	expect_in err "unknown argument 'extra'"
done
# status takes names, logs a host and a step: an option after one of them
# is the error (options go first, as for every command)
for cmd in status logs; do
	run 64 "$LEURA" -C repo $cmd extra --lock-timeout x
	expect_in err "leura: error: option '--lock-timeout' after 'extra': options go before the names"
	[ "$(grep -c 'leura: error' err)" -eq 1 ] || fail "$cmd: more than one error"
	run 64 "$LEURA" -C repo $cmd extra -h
	expect_in err "option '-h' after 'extra'"
	expect_in err "usage: leura $cmd"
	run 64 "$LEURA" -C repo $cmd extra --help
done
run 64 "$LEURA" -C repo logs h1 step extra
expect_in err "leura: error: unknown argument 'extra'"
run 64 "$LEURA" -C repo logs
expect_in err "leura: error: which host? 'leura logs' takes a host name"
# a unique prefix of a long option is that option (as git's)
run 0 "$LEURA" -C repo validate --js
expect_in out '"valid": true'
done_testing
