# The docs say what the code does: the whole-file examples of the format
# pages form valid config repos, each command's SYNOPSIS carries its usage
# line, and every leura-spec(5) section a hint cites exists.
. "$LEURA_SRC/tests/cli/lib.sh"
MAN="$LEURA_SRC/docs/man"

# extract PAGE DIR: write every fenced block whose first line is
# "# file: PATH" to DIR/PATH (the marker line dropped); prints the count.
# A path marked twice, absolute or with '..' fails.
extract() {
	awk -v dest="$2" '
	/^```/ {
		if (!inblk) { inblk = 1; first = 1; out = ""; next }
		inblk = 0
		if (out != "") close(out)
		out = ""
		next
	}
	inblk && first {
		first = 0
		if ($0 ~ /^# file: /) {
			path = substr($0, 9)
			if (path == "" || path ~ /^\// ||
			    path ~ /(^|\/)\.\.(\/|$)/) {
				print "bad path: " path > "/dev/stderr"
				bad = 1
				exit
			}
			if (seen[path]++) {
				print "marked twice: " path > "/dev/stderr"
				bad = 1
				exit
			}
			out = dest "/" path
			d = out
			sub(/\/[^\/]*$/, "", d)
			system("mkdir -p \"" d "\"")
			printf "" > out
			n++
			next
		}
	}
	inblk && out != "" { print > out }
	END {
		if (bad || inblk) exit 1
		print n + 0
	}
	' "$1"
}

# (1) the marked examples of each format page make a valid repo
for page in leura-spec.5.md leura-inventory.5.md; do
	repo="$T/ex-${page%%.*}"
	rm -rf "$repo"
	mkdir -p "$repo"
	if ! n=$(extract "$MAN/$page" "$repo"); then
		fail "$page: cannot extract the marked examples"
		continue
	fi
	[ "$n" -ge 3 ] || fail "$page: only $n marked example files"
	run 0 "$LEURA" -C "$repo" validate
	expect_in "$T/out" "valid:"
	run 0 "$LEURA" -C "$repo" schedule
done
# the spec page's repo uses every kind of file the format has
for f in leura.yml inventory/hosts.yml services.yml systems.yml; do
	[ -f "$T/ex-leura-spec/$f" ] || fail "leura-spec.5.md has no '# file: $f'"
done
ls "$T"/ex-leura-spec/roles/*/role.yml >/dev/null 2>&1 ||
    fail "leura-spec.5.md has no role.yml example"
ls "$T"/ex-leura-spec/tasks/*.yml >/dev/null 2>&1 ||
    fail "leura-spec.5.md has no task example"

# section TITLE of PAGE (between "## TITLE" and the next "## ")
section() {
	awk -v t="## $1" '
	$0 == t { on = 1; next }
	on && /^## / { exit }
	on { print }
	' "$2"
}

# (2) each command's usage line is in its page's SYNOPSIS
for cmd in validate schedule inventory plan apply status history up keygen \
    login logout whoami users groups grant grants revoke tokens can events \
    run runs exec cancel approve; do
	page="$MAN/leura-$cmd.1.md"
	if [ ! -f "$page" ]; then
		fail "no $page"
		continue
	fi
	"$LEURA" "$cmd" -h >"$T/usage" 2>&1 || fail "leura $cmd -h failed"
	line=$(head -n 1 "$T/usage")
	section SYNOPSIS "$page" >"$T/synopsis"
	grep -qxF -- "$line" "$T/synopsis" ||
	    fail "SYNOPSIS of leura-$cmd.1.md lacks the line: $line"
	expect_in "$MAN/leura.1.md" "leura-$cmd(1)"
done
# leura-agent(8): its whole usage, line by line
if [ -n "${LEURA_AGENT:-}" ] && [ -x "$LEURA_AGENT" ]; then
	"$LEURA_AGENT" -h >"$T/usage" 2>&1 || fail "leura-agent -h failed"
	section SYNOPSIS "$MAN/leura-agent.8.md" >"$T/synopsis"
	while IFS= read -r line; do
		grep -qxF -- "$line" "$T/synopsis" ||
		    fail "SYNOPSIS of leura-agent.8.md lacks the line: $line"
	done <"$T/usage"
fi
"$LEURA" --help | head -n 1 >"$T/usage"
section SYNOPSIS "$MAN/leura.1.md" >"$T/synopsis"
grep -qxF -- "$(cat "$T/usage")" "$T/synopsis" ||
    fail "SYNOPSIS of leura.1.md lacks: $(cat "$T/usage")"

# (3) every section a hint cites is a heading of leura-spec.5.md
(
	cd "$LEURA_SRC"
	grep -rho "leura-spec(5), [A-Z]*" specs reconciler |
	    sed 's/^leura-spec(5), //'
	grep -rhoE '#define SEC_[A-Z]+[[:space:]]+"[A-Z]+"' specs |
	    sed 's/.*"\([A-Z]*\)"$/\1/'
) | sort -u >"$T/cited"
ncited=0
while read -r sec; do
	[ -n "$sec" ] || continue
	ncited=$((ncited + 1))
	grep -qx "## $sec" "$MAN/leura-spec.5.md" ||
	    fail "leura-spec.5.md has no section '## $sec' (cited in a hint)"
done <"$T/cited"
[ "$ncited" -ge 5 ] || fail "found only $ncited cited sections"

# every man page has the fixed sections, in order
for page in "$MAN"/*.md; do
	prev=0
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" \
	    ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
		at=$(grep -nx "## $sec" "$page" | head -n 1 | cut -d: -f1)
		if [ -z "$at" ]; then
			fail "$(basename "$page"): no section '## $sec'"
		elif [ "$at" -le "$prev" ]; then
			fail "$(basename "$page"): '## $sec' out of order"
		else
			prev=$at
		fi
	done
done
done_testing
