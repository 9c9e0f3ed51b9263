# leura inventory --ansible: groups per inventory group and per service,
# enable_<service> host vars, --host.
. "$LEURA_SRC/tests/cli/lib.sh"
new_repo

run 0 "$LEURA" -C repo inventory --ansible --list
expect_in out '"_meta":{'
expect_in out '"enable_web":true'
expect_in out '"enable_web":false'
expect_in out '"frontend":{'
run 0 "$LEURA" -C repo inventory --ansible --host db1
expect_in out '"enable_db"'
expect_in out '"zone": "a"'
run 1 "$LEURA" -C repo inventory --ansible --host nosuch
run 64 "$LEURA" -C repo inventory
run 0 "$LEURA" -C repo inventory --prometheus
expect_in out '"targets"'
done_testing
