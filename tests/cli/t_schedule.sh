# leura schedule: table, --json shape, determinism, --tasks.
. "$LEURA_SRC/tests/cli/lib.sh"
new_repo

run 0 "$LEURA" -C repo schedule --json
cp out sched1.json
expect_in out '"services": {'
expect_in out '"hosts": {'
expect_in out '"db": ['

# the same placement whatever the order of hosts and services in the files
cat > repo/inventory/hosts.yml <<'YML'
groups:
  backend:
    description: hosts that keep state
  frontend:
    vars: {http_port: 8080}
    description: hosts that serve HTTP
  all:
    vars:
      root: /tmp/leura-example
hosts:
  db2:  {address: 127.0.0.1, groups: [backend], vars: {zone: b}}
  web3: {address: 127.0.0.1, groups: [frontend], vars: {zone: c}}
  db1:  {address: 127.0.0.1, groups: [backend], vars: {zone: a}}
  web2: {address: 127.0.0.1, groups: [frontend], vars: {zone: b}}
  web1: {address: 127.0.0.1, groups: [frontend], vars: {zone: a}}
YML
# and the services in another order
awk 'BEGIN{RS=""; ORS="\n\n"} {b[n++]=$0} END{for(i=n-1;i>=0;i--) print b[i]}' \
    repo/services.yml > svc.tmp && mv svc.tmp repo/services.yml
run 0 "$LEURA" -C repo validate
run 0 "$LEURA" -C repo schedule --json
cmp -s out sched1.json || fail "placement changed when hosts were reordered"

run 0 "$LEURA" -C repo schedule
expect_in out "SERVICE"
expect_in out "HOST"

run 0 "$LEURA" -C repo schedule --tasks --json
expect_in out '"rotate-logs": {'
expect_in out '"cron": "30 3 * * *"'
expect_in out 'T03:30:00Z'
done_testing
