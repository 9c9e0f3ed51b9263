# The log store's things for the RBAC matrix (sourced by t_rbac.sh, with
# the admin token in $ADM): run r@20261207-120000-0000aa of task t,
# finalised, one step of web1 with its chunk and result, packed by
# leurad (the wait: 10 s at most); deploy 1's converge log of web1.
_lg_b64() { printf %s "$1" | base64 -w0; }
_lg_put() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" -d \
	    "{\"key\":\"$(_lg_b64 "$1")\",\"value\":\"$(_lg_b64 "$2")\"}" \
	    >/dev/null || { echo "setup: cannot put $1" >&2; exit 1; }
}
_lg_r=r@20261207-120000-0000aa
_lg_put "/leura/runs/log/$_lg_r/web1/0000/00000000" 'hello'
_lg_put "/leura/runs/results/$_lg_r/web1/0000" '{"status":"ok","chunks":1,"bytes":5}'
_lg_put "/leura/runs/docs/$_lg_r" "{\"id\":\"$_lg_r\",\"kind\":\"task\",\"task\":\"t\",\"by\":\"admin\",\"state\":\"finalised\",\"outcome\":\"succeeded\",\"hosts\":[\"web1\"],\"steps\":[{\"name\":\"s\"}]}"
_lg_tgz=$(printf 'converge\n' | gzip | base64 -w0)
curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" -d "{\"key\":\"$(_lg_b64 /leura/runs/log/d@1/web1/0000/00000000)\",\"value\":\"$_lg_tgz\"}" >/dev/null
_lg_put "/leura/runs/results/d@1/web1/0000" '{"status":"ok","archive":true,"chunks":1,"bytes":30}'
_lg_i=0
until [ "$(SRV_TOKEN=$ADM srv_curl GET /v1/runs/$_lg_r/logs.tar.gz)" = 200 ] &&
    [ "$(SRV_TOKEN=$ADM srv_curl GET '/v1/deploys/1/logs?host=web1')" = 200 ]; do
	_lg_i=$((_lg_i + 1))
	[ $_lg_i -lt 200 ] || { echo "setup: run logs never packed" >&2; exit 1; }
	sleep 0.05
done
