# Make before break (leura-spec(5), rollout.move): when a service moves
# from a1 to b1, a1's instance is turned down only once b1's validates,
# so the service never has zero validated instances.  Each step appends
# to one shared log ($ROOT/events) and the test reads the order of the
# lines, never timings.  While b1 fails, a1 keeps its instance and says
# why it waits; a host removed from the inventory waits the same way;
# rollout: {move: break-before-make} turns the old instance down first.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

write_inventory() {	# HOSTS_OF_webs HOSTS...
	_w=$1
	shift
	{
		echo "hosts:"
		for h in "$@"; do
			case " $_w " in
			*" $h "*) echo "  $h: {groups: [webs]}" ;;
			*) echo "  $h: {groups: [others]}" ;;
			esac
		done
		echo "groups:"
		echo "  all:"
		echo "    vars: {root: $ROOT}"
	} >"$R/inventory/hosts.yml"
}
write_services() {	# MOVE
	echo "web: {scheduling_group: webs, rollout: {move: $1}}" \
	    >"$R/services.yml"
}
write_inventory a1 a1 b1
write_services make-before-break
mkdir -p "$R/roles/web"
# b1 validates only once $ROOT/ok-b1 exists
cat >"$R/roles/web/role.yml" <<'EOF'
converge:
  - name: start
    script: |
      echo "$LEURA_HOST up" >> {{ host.vars.root }}/events
      touch {{ host.vars.root }}/web-$LEURA_HOST
validate:
  - name: check
    script: |
      [ "$LEURA_HOST" != b1 ] || [ -e {{ host.vars.root }}/ok-b1 ] || exit 1
      echo "$LEURA_HOST validated" >> {{ host.vars.root }}/events
turndown:
  - name: stop
    script: |
      echo "$LEURA_HOST down" >> {{ host.vars.root }}/events
      rm -f {{ host.vars.root }}/web-$LEURA_HOST
EOF
commit_all init
apply
agent_start a1
agent_start b1 --drift-interval 1s
wait_state a1 converged "$GEN"
wait_state b1 converged "$GEN"
expect_eq "events" "$(cat "$ROOT/events")" "a1 up
a1 validated"

# line N of the events: the first line with TEXT (0: none)
line_of() {
	grep -nxF -- "$1" "$ROOT/events" | head -n 1 | cut -d: -f1 || :
}
# BEFORE A B: the first "A" comes before the first "B", both there
before() {
	_a=$(line_of "$1")
	_b=$(line_of "$2")
	[ -n "$_a" ] && [ -n "$_b" ] && [ "$_a" -lt "$_b" ] ||
	    fail "'$1' (line ${_a:-none}) is not before '$2'" \
	    "(line ${_b:-none}): $(tr '\n' ',' <"$ROOT/events")"
}

# ---- web moves to b1, which fails its validation: a1 keeps web ----
write_inventory b1 a1 b1
commit_all "web moves to b1"
apply
g=$GEN
wait_state b1 failed "$g"
waiting_on_b1() {
	[ "$(obs a1 .waiting_for.host)" = b1 ] &&
	    [ "$(obs a1 .waiting_for.service)" = web ] &&
	    is_state a1 converging "$g"
}
wait_until 30 "a1 to wait for web on b1" waiting_on_b1
# a1 may first report the wait while b1 is still at the old generation;
# it says why again once b1's failure reaches it
a1_waits_failed() {
	[ "$(obs a1 .waiting)" = \
	    "the turndown of web waits for web to validate on b1 (failed)" ]
}
wait_until 30 "a1 to say b1 failed" a1_waits_failed
[ -e "$ROOT/web-a1" ] || fail "a1 turned web down while b1 failed"
[ -z "$(line_of "a1 down")" ] || fail "a1 down while b1 failed"
# apply --wait says a1 is blocked by b1's failure, and why
run 1 "$LEURA" -C "$R" apply --wait --wait-timeout 60s
cat "$T/out" >>"$T/err"
expect_in "$T/err" "a1 (blocked: the turndown of web waits for web to \
validate on b1, which failed)"

# b1 repaired: it validates (its next run, 1 s later), then a1 turns down
touch "$ROOT/ok-b1"
wait_state b1 converged "$g"
wait_state a1 converged "$g"
before "b1 validated" "a1 down"
[ -e "$ROOT/web-a1" ] && fail "a1: web not turned down"
expect_eq "a1: turndown result" \
    "$(res a1 '.steps[id=web/web/turndown/stop].status')" changed

# ---- b1 leaves the inventory while a1's agent is down: b1 waits ----
agent_stop a1
: >"$ROOT/events"
write_inventory a1 a1
commit_all "b1 retired, web back to a1"
apply
g=$GEN
wait_until 30 "b1 to wait for web on a1" eval \
    '[ "$(obs b1 .waiting_for.host)" = a1 ]'
expect_has "b1 waits" "$(obs b1 .waiting)" \
    "the turndown of web waits for web to validate on a1"
[ -e "$ROOT/web-b1" ] || fail "b1 turned web down before a1 ran it"
agent_start a1
wait_until 30 "b1 to turn web down" eval '[ -n "$(line_of "b1 down")" ]'
before "a1 validated" "b1 down"
wait_state a1 converged "$g"

# ---- break-before-make: the old instance goes first, waiting for none ----
write_inventory b1 a1 b1
commit_all "b1 back"
apply
wait_state b1 converged "$GEN"
wait_state a1 converged "$GEN"
before "b1 validated" "a1 down"
agent_stop a1
: >"$ROOT/events"
write_inventory a1 a1 b1
write_services break-before-make
commit_all "web back to a1, break before make"
apply
# b1's agent runs, a1's does not: b1 turns down without waiting for it
wait_state b1 converged "$GEN"
expect_eq "events" "$(cat "$ROOT/events")" "b1 down"
[ -e "$ROOT/web-b1" ] && fail "break-before-make: web still on b1"
agent_stop b1
done_testing
