# Saved plans and confirmation, against a real etcd: leura plan -o FILE
# saves what the plan saw (commit, revision, prefix, digest of what would
# be written); leura apply FILE applies exactly it, and refuses, with what
# moved, when the cluster, the documents, the prefix or the repository
# differ, and bad files (not JSON, cut short, another version, not a
# plan).  The text plan prints the revision --expect-revision takes.  On
# a terminal (a pseudo-terminal from script(1)), apply asks before
# writing; "n" writes nothing, "y" writes, --yes and a pipe never ask.
. "$LEURA_SRC/tests/cli/lib.sh"
. "$LEURA_SRC/tests/lib/etcd.sh"
etcd_start

# etcd's store revision (changes on every write)
revision() {
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" \
	    -d '{"key":"AA==","range_end":"AA==","count_only":true}' |
	    sed 's/.*"revision":"\([0-9]*\)".*/\1/'
}
# the value of "KEY": N in $T/out
num() {
	sed -n "s/.*\"$1\": \\([0-9]*\\).*/\\1/p" "$T/out" | head -n 1
}

new_repo
run 0 "$LEURA" -C repo apply --no-diff
sed -i 's/size_mb: 64/size_mb: 128/' repo/services.yml
commit_all "bigger cache"
c1=$(cd repo && git rev-parse HEAD)

# the text plan prints the revision --expect-revision takes: the JSON's
run 0 "$LEURA" -C repo plan --json
rev=$(sed -n '/"from"/,/}/s/.*"revision": \([0-9]*\).*/\1/p' "$T/out")
[ -n "$rev" ] || fail "plan --json has no from.revision"
run 0 "$LEURA" -C repo plan
expect_in "$T/out" "This plan saw revision $rev of the desired state in etcd: deploy #1"
expect_in "$T/out" "apply --ref $(echo "$c1" | cut -c1-12) --expect-revision $rev"

# plan -o: the saved plan, 0600, what it pins
run 0 "$LEURA" -C repo plan -o plan.json --no-diff
expect_in "$T/out" "Saved to plan.json; to apply exactly it"
expect_in "$T/out" "leura -C 'repo' apply plan.json"
[ "$(stat -c %a plan.json)" = 600 ] || fail "plan.json is not 0600: $(stat -c %a plan.json)"
cp plan.json "$T/out"
expect_in "$T/out" '"format": "leura-plan"'
expect_in "$T/out" '"version": 1'
expect_in "$T/out" "\"commit\": \"$c1\""
expect_in "$T/out" '"prefix": "/leura"'
expect_in "$T/out" '"fleet": "example"'
expect_in "$T/out" '"digest": "sha256:'
expect_in "$T/out" '"writes": 3'
[ "$(num revision)" = "$rev" ] || fail "plan.json revision $(num revision), plan --json $rev"
cp plan.json good.json

# bad files: a clear error each, nothing written
r0=$(revision)
run 1 "$LEURA" -C repo apply no-such.json
expect_in "$T/err" "no-such.json"
: >empty.json
run 1 "$LEURA" -C repo apply empty.json
expect_in "$T/err" "'empty.json' is not a saved plan: not JSON"
expect_in "$T/err" "the file is empty"
head -c 300 good.json >cut.json
run 1 "$LEURA" -C repo apply cut.json
expect_in "$T/err" "'cut.json' is not a saved plan: not JSON"
expect_in "$T/err" "cut short"
echo 'not json at all' >text.json
run 1 "$LEURA" -C repo apply text.json
expect_in "$T/err" "not JSON"
"$LEURA" -C repo plan --json >notplan.json
run 1 "$LEURA" -C repo apply notplan.json
expect_in "$T/err" "'notplan.json' is not a saved plan: JSON without \"format\": \"leura-plan\""
expect_in "$T/err" "prints a plan to read, not to apply"
sed 's/"version": 1/"version": 2/' good.json >v2.json
run 1 "$LEURA" -C repo apply v2.json
expect_in "$T/err" "has format version 2, and this leura"
sed 's/"commit": "[0-9a-f]*"/"commit": "HEAD"/' good.json >commit.json
run 1 "$LEURA" -C repo apply commit.json
expect_in "$T/err" "the saved plan 'commit.json' is damaged: \"commit\" is not a commit id"
sed 's/"digest": "sha256:/"digest": "md5:/' good.json >digest.json
run 1 "$LEURA" -C repo apply digest.json
expect_in "$T/err" "is damaged: \"digest\""
sed '/"revision"/d' good.json >norev.json
run 1 "$LEURA" -C repo apply norev.json
expect_in "$T/err" "is damaged: \"revision\""
echo '[1, 2]' >array.json
run 1 "$LEURA" -C repo apply array.json
expect_in "$T/err" "is not a saved plan"
# every cut of the file is refused, never a crash or a write
n=$(wc -c <good.json)
i=1
while [ "$i" -lt "$n" ]; do
	head -c "$i" good.json >cut.json
	st=0
	"$LEURA" -C repo apply cut.json >/dev/null 2>"$T/err" || st=$?
	[ "$st" -eq 1 ] || fail "cut at $i bytes: exit $st"
	expect_in "$T/err" "leura: error: "
	i=$((i + 97))
done
[ "$(revision)" = "$r0" ] || fail "a bad plan file wrote: revision $r0 -> $(revision)"

# a saved plan names its commit and revision: no --ref, --expect-revision
run 64 "$LEURA" -C repo apply --ref HEAD plan.json
expect_in "$T/err" "do not go with 'plan.json'"
run 64 "$LEURA" -C repo apply --expect-revision 1 plan.json

# another prefix, another repository: refused, saying which
run 1 env LEURA_ETCD_PREFIX=/other "$LEURA" -C repo apply plan.json
expect_in "$T/err" "is for the etcd prefix '/leura', and this apply writes under '/other'"
mkdir other && cp -R "$LEURA_SRC/examples/basic/." other/
(cd other && git init -q -b main . && git add -A && git commit -q -m other)
run 1 "$LEURA" -C other apply plan.json
expect_in "$T/err" "which is not in the git repository of 'other'"
expect_in "$T/err" "hint: apply it in the repository it was made in"

# HEAD moves on after the plan: apply FILE applies the plan's commit
echo "# later" >>repo/services.yml
commit_all "later"
run 0 "$LEURA" -C repo apply --no-diff plan.json
expect_in "$T/out" "Applied deploy #2: commit $(echo "$c1" | cut -c1-12)"
expect_in "$T/out" "-> commit $(echo "$c1" | cut -c1-12) (HEAD), the saved plan 'plan.json'"
expect_in "$T/err" "note: HEAD is commit $(cd repo && git rev-parse --short=12 HEAD) now; this applies the saved plan's commit $(echo "$c1" | cut -c1-12), as planned"
run 0 "$LEURA" -C repo history -n 1 --json
expect_in "$T/out" "\"commit\": \"$c1\""

# the same plan again: the cluster moved since (the revision)
run 1 "$LEURA" -C repo apply plan.json
expect_in "$T/err" "desired state changed since your plan (it saw revision $rev"
expect_in "$T/err" "hint: run 'leura plan -o FILE' again"

# the documents moved without a deploy (one deleted): the digest differs
run 0 "$LEURA" -C repo plan -o plan2.json --no-diff
key=$(curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\"$(printf /leura/desired/hosts/web1/ | base64 -w0)\",\"range_end\":\"$(printf /leura/desired/hosts/web10 | base64 -w0)\",\"keys_only\":true}" |
    sed 's/.*"key":"\([^"]*\)".*/\1/')
curl -s -X POST "$ETCD_ENDPOINT/v3/kv/deleterange" -d "{\"key\":\"$key\"}" >/dev/null
r0=$(revision)
run 1 "$LEURA" -C repo apply plan2.json
expect_in "$T/err" "is not what the saved plan 'plan2.json' would write"
expect_in "$T/err" "make a new plan with 'leura plan -o FILE'"
[ "$(revision)" = "$r0" ] || fail "a refused plan wrote"
run 0 "$LEURA" -C repo plan -o plan3.json --json
expect_in "$T/out" '"saved": "plan3.json"'
expect_in "$T/out" '"writes": 1'
run 0 "$LEURA" -C repo apply --json plan3.json
expect_in "$T/out" '"hosts_written": 1'

# a plan with nothing to write applies as nothing
run 0 "$LEURA" -C repo plan -o empty-plan.json
run 0 "$LEURA" -C repo apply empty-plan.json
expect_in "$T/out" "No changes"

# confirmation on a terminal: script(1) gives apply a pseudo-terminal
sed -i 's/size_mb: 128/size_mb: 256/' repo/services.yml
commit_all "even bigger cache"
tty_apply() {	# INPUT ARGS...: apply on a terminal fed INPUT; exit status
	input=$1
	shift
	set +e
	printf "$input" | timeout 60 script -qec \
	    "'$LEURA' -C repo apply --no-diff $*" /dev/null >"$T/out" 2>&1
	got=$?
	set -e
	return 0
}
r0=$(revision)
tty_apply 'n\n'
[ "$got" = 1 ] || fail "apply answered n exited $got"
expect_in "$T/out" "Plan: 3 changes"
expect_in "$T/out" "Apply? Only 'y' or 'yes' writes. [y/N]"
expect_in "$T/out" "apply cancelled: nothing written"
[ "$(revision)" = "$r0" ] || fail "apply answered n wrote"
tty_apply ''
[ "$got" = 1 ] || fail "apply with no answer exited $got"
[ "$(revision)" = "$r0" ] || fail "apply with no answer wrote"
tty_apply 'y\n'
[ "$got" = 0 ] || fail "apply answered y exited $got"
expect_in "$T/out" "Apply? Only 'y' or 'yes' writes. [y/N]"
expect_in "$T/out" "Applied deploy #"
sed -i 's/size_mb: 256/size_mb: 64/' repo/services.yml
commit_all "small cache"
tty_apply '' --yes
[ "$got" = 0 ] || fail "apply --yes on a terminal exited $got"
expect_not_in "$T/out" "Apply?"
expect_in "$T/out" "Applied deploy #"
tty_apply '' --json
[ "$got" = 64 ] || fail "apply --json on a terminal exited $got"
expect_in "$T/out" "pass --yes to apply without asking"
# a saved plan was the review: no question
run 0 "$LEURA" -C repo plan -o tty.json
sed -i 's/size_mb: 64/size_mb: 96/' repo/services.yml
commit_all "cache 96"
run 0 "$LEURA" -C repo plan -o tty.json
tty_apply '' tty.json
[ "$got" = 0 ] || fail "apply FILE on a terminal exited $got"
expect_not_in "$T/out" "Apply?"
expect_in "$T/out" "Applied deploy #"
done_testing
