# Input that used to become something else silently: a NUL in a string or
# a key (a spec file, leura.yml, the client configuration), aliases past
# their limit, a spec file past 16 MiB.  Each is an error that says where.
. "$LEURA_SRC/tests/cli/lib.sh"
new_repo

# "/srv/app\0" deployed as /srv/app
cat >> repo/services.yml <<'YML'

cleaner:
  roles: [web]
  params: {dir: "/srv/app\0"}
YML
run 1 "$LEURA" -C repo validate
expect_in err 'services.yml:'
expect_in err ": error: a string holds a NUL character (\\0 or \\u0000) after '/srv/app'"
expect_in err 'hint: remove the escape'
git -C repo checkout -q services.yml

# host "h1\u0000/../../evil" became h1
printf 'hosts:\n  "h1\\u0000/../../evil": {address: 127.0.0.1}\n' \
    > repo/inventory/evil.yml
run 1 "$LEURA" -C repo validate
expect_in err "inventory/evil.yml:2:3: error: a key holds a NUL character (\\0 or \\u0000) after 'h1'"
rm repo/inventory/evil.yml

# leura.yml and the client configuration
printf 'name: "demo\\0"\n' > repo/leura.yml
run 1 "$LEURA" -C repo validate
expect_in err "leura.yml:1:7: error: a string holds a NUL character"
git -C repo checkout -q leura.yml
printf 'etcd:\n  endpoints: ["http://127.0.0.1:9\\0evil"]\n' > cfg.yml
run 1 env LEURA_CONFIG="$T/cfg.yml" "$LEURA" -C repo status
expect_in err "cfg.yml:2:15: error: a string holds a NUL character"

# a billion laughs: said so, where it happens, and nothing else
{
	echo 'cache:'
	echo '  params:'
	echo '    a0: &a0 [x, x, x, x, x, x, x, x, x, x]'
	for i in 1 2 3 4 5 6 7; do
		p=$((i - 1))
		printf '    a%d: &a%d [' $i $i
		for j in 1 2 3 4 5 6 7 8 9; do printf '*a%d, ' $p; done
		printf '*a%d]\n' $p
	done
} > repo/services.yml.new
sed '/^cache:/,$d' repo/services.yml >> repo/services.yml.new
mv repo/services.yml.new repo/services.yml
run 1 "$LEURA" -C repo validate
expect_in err "values from aliases (it stands for 111111)"
expect_not_in err "params.a"
git -C repo checkout -q services.yml

# a 17 MiB inventory file
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' '#' > repo/inventory/big.yml
run 1 "$LEURA" -C repo validate
expect_in err "inventory/big.yml: error: spec file 'inventory/big.yml' is 17.0 MiB (17825792 bytes), over the 16 MiB limit"
done_testing
