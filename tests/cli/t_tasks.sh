# leura tasks without a server (-C, or --direct): the repo's tasks with
# targets, hosts, schedule and params, --search, --json, a repo with
# errors (printed, exit 1), a usage error.
. "$LEURA_SRC/tests/cli/lib.sh"
unset LEURA_SERVER LEURA_TOKEN || :
export XDG_CONFIG_HOME="$T/config"

cp -R "$LEURA_SRC/examples/basic" repo
run 0 "$LEURA" -C repo tasks
expect_in out "TASK"
expect_in out "rotate-logs          services: web            2     cron \"30 3 * * *\", next "
expect_in out "say                  services: web            2     on demand"
expect_in out "    params: message: string, required; times: integer = 1"
expect_in out "flush-cache"
[ "$(grep -c '^[a-z]' "$T/out")" = 3 ] || fail "not 3 tasks: $(cat "$T/out")"

run 0 "$LEURA" -C repo tasks --search ROTATE
expect_in out "rotate-logs"
expect_not_in out "flush-cache"
run 0 "$LEURA" -C repo tasks --search "sign-off"
expect_in out "flush-cache"
run 0 "$LEURA" -C repo tasks --search nothing-like-it
expect_in out "No task matches 'nothing-like-it'."

run 0 "$LEURA" -C repo tasks --json
python3 - "$T/out" <<'PY' || fail "--json: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["name"]: x for x in d["items"]}
assert sorted(t) == ["flush-cache", "rotate-logs", "say"], t.keys()
r = t["rotate-logs"]
assert r["hosts"] == ["web1", "web2"], r["hosts"]
assert r["schedule"]["cron"] == "30 3 * * *" and len(r["schedule"]["next"]) == 3
assert r["last_run"] is None
s = t["say"]
assert s["schedule"] is None
assert s["params"][0] == {"name": "message", "type": "string", "required": True,
    "description": "the line to write"}, s["params"][0]
assert s["params"][1]["default"] == 1 and s["params"][1]["type"] == "integer"
assert s["dedupe_window_ms"] == 300000 and s["on_failure"] == "stop"
PY

# a time zone: shown with the schedule
cat >repo/tasks/nightly.yml <<'YML'
targets: {groups: [backend]}
schedule: {cron: "0 2 * * *", timezone: Europe/Paris}
steps: [{script: "true"}]
YML
run 0 "$LEURA" -C repo tasks --search nightly
expect_in out 'cron "0 2 * * *" Europe/Paris, next '

# a repo with errors lists nothing and says why
printf 'targets: {groups: [all]}\nparams: {n: {type: int}}\nsteps: [{script: x}]\n' \
    >repo/tasks/bad.yml
run 1 "$LEURA" -C repo tasks
expect_in err "tasks/bad.yml:2:"
expect_in err "unknown type 'int'"

run 64 "$LEURA" -C repo tasks extra
run 64 "$LEURA" -C repo tasks --bogus
done_testing
