# A fleet is tied to its etcd: the first apply records leura.yml's name
# under the prefix (P/fleet, in the txn of the head); plan, apply, status
# and history refuse an etcd whose prefix holds another fleet's name (the
# tester's private etcd failed to start and every apply went into another
# fleet's etcd); leura.yml's etcd.endpoints and etcd.prefix come between
# the LEURA_ETCD* variables and the config file.
. "$LEURA_SRC/tests/cli/lib.sh"
. "$LEURA_SRC/tests/lib/etcd.sh"
etcd_start

# the value of KEY in etcd, decoded (empty when absent)
etcd_value() {
	k=$(printf '%s' "$1" | base64 | tr -d '\n')
	curl -s -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\"$k\"}" |
	    sed -n 's/.*"value":"\([^"]*\)".*/\1/p' | base64 -d
}

new_repo
# fleet "example": the bundled example's name
run 0 "$LEURA" -C repo apply --no-diff
expect_in "$T/out" "Applied deploy #1"
etcd_value /leura/fleet >"$T/fleet"
expect_in "$T/fleet" '"name":"example"'
run 3 "$LEURA" -C repo status
run 0 "$LEURA" -C repo history

# another fleet, "shop", pointed at the same etcd and prefix by mistake
cp -R repo shop
sed -i 's/^name: example$/name: shop/' shop/leura.yml
(cd shop && git commit -qam "the shop fleet")
for cmd in plan apply status history; do
	run 1 "$LEURA" -C shop $cmd
	expect_in "$T/err" "error: etcd at '$ETCD_ENDPOINT' holds fleet 'example' under prefix '/leura', not 'shop' (the name in leura.yml)"
	expect_in "$T/err" "hint: wrong etcd?"
done
run 1 "$LEURA" -C shop apply --wait --wait-timeout 5s
expect_in "$T/err" "holds fleet 'example'"
# nothing of shop was written
run 0 "$LEURA" -C repo history
expect_not_in "$T/out" "#2"

# a repo without a name is refused by a named fleet too
cp -R repo anon
sed -i '/^name: /d' anon/leura.yml
(cd anon && git commit -qam "no name")
run 1 "$LEURA" -C anon plan
expect_in "$T/err" "holds fleet 'example' under prefix '/leura', and leura.yml names no fleet"
expect_in "$T/err" "add 'name: example' to leura.yml"
# ... and applies to an unnamed prefix, recording nothing
run 0 env LEURA_ETCD_PREFIX=/anon "$LEURA" -C anon apply --no-diff
expect_in "$T/out" "Applied deploy #1"
[ -z "$(etcd_value /anon/fleet)" ] || fail "an unnamed fleet recorded a name"

# under its own prefix, shop is a fleet of its own; leura.yml says where
cat >>shop/leura.yml <<EOF
etcd:
  endpoints: [$ETCD_ENDPOINT]
  prefix: /shop
EOF
(cd shop && git commit -qam "the shop's etcd")
# no LEURA_ETCD, and a config file that points elsewhere: leura.yml wins
mkdir -p "$T/.config/leura"
printf 'etcd:\n  endpoints: [http://127.0.0.1:9]\n  prefix: /nowhere\n' \
    >"$T/.config/leura/config"
run 0 env -u LEURA_ETCD "$LEURA" -C shop apply --no-diff
expect_in "$T/out" "Applied deploy #1"
etcd_value /shop/fleet >"$T/fleet"
expect_in "$T/fleet" '"name":"shop"'
run 3 env -u LEURA_ETCD "$LEURA" -C shop status
expect_in "$T/out" "web1"
# the variables win over leura.yml: shop's name is refused under /leura
run 1 env LEURA_ETCD_PREFIX=/leura "$LEURA" -C shop status
expect_in "$T/err" "holds fleet 'example'"
# and the flags over the variables
run 0 env LEURA_ETCD=http://127.0.0.1:9 "$LEURA" -C shop \
    --etcd "$ETCD_ENDPOINT" plan
expect_in "$T/out" "No changes"
rm -rf "$T/.config"

# leura.yml names the backend, never credentials
printf 'etcd:\n  user: root\n' >>anon/leura.yml
run 1 "$LEURA" -C anon validate
expect_in "$T/err" "leura.yml names etcd's endpoints and prefix, not credentials: 'user' is not allowed here"
run 1 "$LEURA" -C anon status
expect_in "$T/err" "'user' is not allowed here"

done_testing
