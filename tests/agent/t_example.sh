# The bundled example (examples/basic), its root var pointed at $ROOT:
# five agents converge it (web depends on db and cache, rollout of web
# one host at a time), `leura status` says every host and service is
# converged, and the files are where the example says.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

rm -rf "$R"
cp -R "$LEURA_SRC/examples/basic" "$R"
sed -i "s|root: /tmp/leura-example|root: $ROOT|" "$R/inventory/hosts.yml"
grep -q "root: $ROOT" "$R/inventory/hosts.yml" ||
    die "test setup: the example's root var is not where expected"
(cd "$R" && git init -q -b main . && git add -A && git commit -q -m init)
apply
hosts="db1 db2 web1 web2 web3"
for h in $hosts; do
	agent_start $h
done
for h in $hosts; do
	wait_state $h converged 1
done

run 0 "$LEURA" -C "$R" status
for h in $hosts; do
	grep -Eq "^$h +up +converged +1/1" "$T/out" ||
	    fail "status: $h not up and converged"
done
for s in db cache web; do
	grep -Eq "^$s +converged" "$T/out" || fail "status: $s not converged"
done
[ "$nfail" -eq 0 ] || sed 's/^/  status: /' "$T/out" >&2

# where the services went, from the status's JSON, and their files
run 0 "$LEURA" -C "$R" status --json
cp "$T/out" "$T/status.json"
db=$("$TJSON" '.services.db.hosts[0]' <"$T/status.json")
case $db in db1 | db2) ;; *) fail "db placed on '$db'" ;; esac
expect_eq "cache instances" \
    "$("$TJSON" ".services.cache.hosts|length" <"$T/status.json")" 3
for h in $("$TJSON" '.services.cache.hosts[*]' <"$T/status.json"); do
	expect_eq "$h: cache.conf" "$(cat "$ROOT/$h/cache.conf")" "size_mb=64"
	expect_eq "$h: mode of cache.conf" \
	    "$(stat -c %a "$ROOT/$h/cache.conf")" 600
done
n=0
for h in $("$TJSON" '.services.web.hosts[*]' <"$T/status.json"); do
	n=$((n + 1))
	expect_in "$ROOT/$h/web/site.conf" "database $db"
	expect_in "$ROOT/$h/web/site.conf" "listen 8080"
	expect_eq "$h: reloads.log" "$(cat "$ROOT/$h/web/reloads.log")" \
	    "reload web on $h"
done
expect_eq "web instances" "$n" 2
[ -f "$ROOT/$db/db/PG_VERSION" ] || fail "$db: no PG_VERSION"
expect_eq "$db: postgresql.conf" "$(cat "$ROOT/$db/db/postgresql.conf")" \
    "port = 5432"
for h in $hosts; do
	agent_stop $h
done
done_testing
