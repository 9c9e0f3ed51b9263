# The built-in roles in roles/ validate, used as roles/services.yml uses them.
. "$LEURA_SRC/tests/cli/lib.sh"
mkdir -p repo/inventory repo/roles
for r in "$LEURA_SRC"/roles/*/; do
	cp -R "$r" repo/roles/
done
cp "$LEURA_SRC/roles/services.yml" repo/
printf 'hosts:\n  h1: {}\n  h2: {}\n' > repo/inventory/hosts.yml
run 0 "$LEURA" -C repo validate
expect_in out "valid:"
done_testing
