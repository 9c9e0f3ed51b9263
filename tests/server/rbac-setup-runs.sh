# The runs' things for the RBAC matrix (sourced by t_rbac.sh, with the
# admin token in $ADM): two finished runs put where leurad puts them
# (docs/etcd-layout.md, P/runs/docs/): r@20261207-000000-00000a of task
# flush-cache and r@20261207-000000-00000b, an ad-hoc command on web1.
_ru_b64() { printf %s "$1" | base64 -w0; }
for _ru in 'r@20261207-000000-00000a task "flush-cache" null' \
    'r@20261207-000000-00000b exec null "true"'; do
	set -- $_ru
	_ru_v="{\"id\":\"$1\",\"kind\":\"$2\",\"task\":$3,\"command\":$4,\"hosts\":[\"web1\"],\"by\":\"rbac\",\"created\":\"2026-12-07T00:00:00.000Z\",\"state\":\"finalised\",\"outcome\":\"succeeded\",\"ended\":\"2026-12-07T00:00:01.000Z\",\"steps\":[{\"name\":\"s\",\"kind\":\"script\"}],\"progress\":{\"web1\":[{\"state\":\"done\",\"status\":\"ok\",\"attempt\":1}]},\"approvals\":[]}"
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" -d \
	    "{\"key\":\"$(_ru_b64 "/leura/runs/docs/$1")\",\"value\":\"$(_ru_b64 "$_ru_v")\"}" \
	    >/dev/null || { echo "setup: cannot put run $1" >&2; exit 1; }
done
set --
