# Turndown: a service that leaves a host (moved to another host by an
# inventory change, or deleted from services.yml) runs its turndown steps
# there, once; the host where it lands converges it; a host removed from
# the inventory (a tombstone) turns down everything it ran.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

write_inventory() {	# HOSTS_OF_g HOSTS...
	g=$1
	shift
	{
		echo "hosts:"
		for h in "$@"; do
			case " $g " in
			*" $h "*) echo "  $h: {groups: [g]}" ;;
			*) echo "  $h: {groups: [other]}" ;;
			esac
		done
		echo "groups:"
		echo "  all:"
		echo "    vars: {root: $ROOT}"
	} >"$R/inventory/hosts.yml"
}
write_inventory h1 h1 h2 h3
cat >"$R/services.yml" <<'EOF'
svc: {scheduling_group: g}
keep: {}
gone: {}
EOF
for s in svc keep gone; do
	mkdir -p "$R/roles/$s"
	cat >"$R/roles/$s/role.yml" <<EOF
converge:
  - name: conf
    file: {content: "$s\n", dest: "{{ host.vars.root }}/{{ host.name }}/$s.conf"}
turndown:
  - name: down
    script: |
      echo "$s down on \$LEURA_HOST" >> {{ host.vars.root }}/{{ host.name }}/turndown.log
      rm -f {{ host.vars.root }}/{{ host.name }}/$s.conf
EOF
done
commit_all init
apply
for h in h1 h2 h3; do
	agent_start $h
done
for h in h1 h2 h3; do
	wait_state $h converged 1
done
[ -f "$ROOT/h1/svc.conf" ] || fail "svc not on h1"
[ -f "$ROOT/h2/svc.conf" ] && fail "svc on h2 already"
for h in h1 h2 h3; do
	[ -e "$ROOT/$h/turndown.log" ] && fail "$h: turndown ran on converge"
done

# svc moves from h1 to h2, gone is deleted, h3 leaves the inventory
write_inventory h2 h1 h2
cat >"$R/services.yml" <<'EOF'
svc: {scheduling_group: g}
keep: {}
EOF
commit_all "move svc, delete gone, retire h3"
apply
wait_state h1 converged 2
wait_state h2 converged 2
expect_eq "h1: turndown.log" "$(sort "$ROOT/h1/turndown.log" 2>&1)" \
    "gone down on h1
svc down on h1"
[ -e "$ROOT/h1/svc.conf" ] && fail "h1: svc.conf left after turndown"
[ -e "$ROOT/h1/keep.conf" ] || fail "h1: keep turned down"
# AGENT BUG (reported; agent/converge.c run_next calls svc_state() for
# turndown steps too): the report lists the services turned down as
# {"validated": false}, which other hosts' rollout gates read as a
# failure of those services here.
[ "$(obs h1 '.services|keys')" = keep ] ||
    fail "AGENT BUG: h1's report lists services it turned down:" \
    "$(obs h1 .services)"
expect_eq "h1: turndown results" \
    "$(res h1 '.steps[id=svc/svc/turndown/down].status')" changed
expect_eq "h2: turndown.log" "$(cat "$ROOT/h2/turndown.log" 2>&1)" \
    "gone down on h2"
[ -f "$ROOT/h2/svc.conf" ] || fail "h2: svc not converged"
expect_eq "h2: svc validated" "$(obs h2 .services.svc.validated)" true

# h3: a tombstone, every service it ran turned down
wait_until 30 "h3 to turn down its services" eval \
    '[ "$(wc -l <"$ROOT/h3/turndown.log" 2>/dev/null)" = 2 ]'
expect_eq "h3: turndown.log" "$(sort "$ROOT/h3/turndown.log" 2>&1)" \
    "gone down on h3
keep down on h3"
run 0 "$LEURA" -C "$R" status
expect_not_in "$T/out" "h3 "

# turndown runs once: not again on a restart nor on the next deploy
agent_stop h1
agent_start h1
sed -i 's/content: "keep/content: "keep v2/' "$R/roles/keep/role.yml"
commit_all "touch keep"
apply
wait_state h1 converged "$GEN"
wait_state h2 converged "$GEN"
expect_eq "h1: turndown.log after a restart and a deploy" \
    "$(wc -l <"$ROOT/h1/turndown.log")" 2
expect_eq "h2: turndown.log after a deploy" \
    "$(wc -l <"$ROOT/h2/turndown.log")" 1
agent_stop h1
agent_stop h2
agent_stop h3
done_testing
