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
# each instance of a service with spread_by shows the value it spread by
expect_in out "web      web1 (zone=a) web2 (zone=b)"
expect_in out "cache    web1 web2 web3"
run 0 "$LEURA" -C repo schedule --json
expect_in out '"spread_by": {'
expect_in out '"var": "zone"'
expect_in out '"web1": "a"'

run 0 "$LEURA" -C repo schedule --tasks --json
expect_in out '"rotate-logs": {'
expect_in out '"cron": "30 3 * * *"'
expect_in out 'T03:30:00Z'

# each task's targets, as written and as hosts
cat > repo/tasks/audit.yml <<'YML'
targets: {groups: [backend], hosts: [web3], services: [db]}
steps:
  - script: "true"
YML
run 0 "$LEURA" -C repo schedule --tasks
expect_in out "rotate-logs: cron"
expect_in out "  targets: services web -> web1 web2"
[ "$(grep -A1 '^audit: on demand$' out | tail -n 1)" = \
    "  targets: services db, groups backend, hosts web3 -> db1 db2 web3" ] ||
    fail "audit's targets: $(cat out)"
run 0 "$LEURA" -C repo schedule --tasks --json
expect_in out '"groups": ['
tr -d ' \n' <out >out.flat
expect_in out.flat '"hosts":["db1","db2","web3"]'
expect_in out.flat '"targets":{"services":["web"]}'
# time zones: the cron fields are wall-clock times in the zone; the
# spring-forward gap fires at the first instant after it, the autumn
# overlap once at its first occurrence; shown in the zone and in UTC
cat > repo/tasks/paris.yml <<'YML'
targets: {services: [web]}
schedule: {cron: "30 2 * * *", timezone: Europe/Paris}
steps:
  - script: "true"
YML
cat > repo/tasks/lordhowe.yml <<'YML'
targets: {services: [web]}
schedule: {at: "2026-10-04T02:10:00", timezone: Australia/Lord_Howe}
steps:
  - script: "true"
YML
cat > repo/tasks/ny.yml <<'YML'
targets: {services: [web]}
schedule: {cron: "30 1 * * *", timezone: America/New_York}
steps:
  - script: "true"
YML
run 0 "$LEURA" -C repo schedule --tasks --now 2026-03-28T12:00:00Z
expect_in out 'paris: cron "30 2 * * *" in Europe/Paris, next: 2026-03-29T03:00:00+02:00 (2026-03-29T01:00:00Z) 2026-03-30T02:30:00+02:00 (2026-03-30T00:30:00Z) 2026-03-31T02:30:00+02:00 (2026-03-31T00:30:00Z)'
expect_in out 'lordhowe: at 2026-10-04T02:10:00 in Australia/Lord_Howe, next: 2026-10-04T02:30:00+11:00 (2026-10-03T15:30:00Z)'
expect_in out 'rotate-logs: cron "30 3 * * *", next: 2026-03-29T03:30:00Z'
run 0 "$LEURA" -C repo schedule --tasks --now 2026-10-24T12:00:00Z
expect_in out 'paris: cron "30 2 * * *" in Europe/Paris, next: 2026-10-25T02:30:00+02:00 (2026-10-25T00:30:00Z) 2026-10-26T02:30:00+01:00 (2026-10-26T01:30:00Z)'
run 0 "$LEURA" -C repo schedule --tasks --now 2026-10-31T12:00:00Z
expect_in out 'ny: cron "30 1 * * *" in America/New_York, next: 2026-11-01T01:30:00-04:00 (2026-11-01T05:30:00Z) 2026-11-02T01:30:00-05:00 (2026-11-02T06:30:00Z)'
run 0 "$LEURA" -C repo schedule --tasks --json --now 2026-03-28T12:00:00Z
tr -d ' \n' <out >out.flat
expect_in out.flat '"next":["2026-03-29T01:00:00Z","2026-03-30T00:30:00Z","2026-03-31T00:30:00Z"],"next_local":["2026-03-29T03:00:00+02:00","2026-03-30T02:30:00+02:00","2026-03-31T02:30:00+02:00"]'
expect_in out.flat '"timezone":"Europe/Paris"'
expect_in out.flat '"timezone":"UTC"'
done_testing
