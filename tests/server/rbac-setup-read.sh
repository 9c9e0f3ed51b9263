# The read API's things for the RBAC matrix (sourced by t_rbac.sh, with
# the admin token in $ADM): deploy 1 of a fleet of two hosts, web1 (runs
# web) and api1 (runs api), their reports and heartbeats, put where
# leura apply and the agents put them (docs/etcd-layout.md); then the
# wait (10 s at most) until leurad's status view shows them.
_rd_b64() { printf %s "$1" | base64 -w0; }
_rd_put() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" -d \
	    "{\"key\":\"$(_rd_b64 "$1")\",\"value\":\"$(_rd_b64 "$2")\"}" \
	    >/dev/null || { echo "setup: cannot put $1" >&2; exit 1; }
}
_rd_put /leura/fleet '{"name":"rbac"}'
_rd_put /leura/desired/hosts/web1/000000000001/aa '{"generation":1,"services":["web"]}'
_rd_put /leura/desired/hosts/api1/000000000001/bb '{"generation":1,"services":["api"]}'
_rd_put /leura/source/deploys/0000000001 '{"deploy":1,"generation":1,"commit":"0123456789abcdef0123456789abcdef01234567","by":"rbac"}'
_rd_put /leura/desired/head '{"generation":1,"deploy":1,"commit":"0123456789abcdef0123456789abcdef01234567"}'
for _rd_h in web1 api1; do
	_rd_put "/leura/agents/$_rd_h" '{"agent":"rbac"}'
	_rd_put "/leura/observed/$_rd_h" '{"generation":1,"state":"converged"}'
done
_rd_i=0
until [ "$(SRV_TOKEN=$ADM srv_curl GET /v1/status/hosts/api1)" = 200 ]; do
	_rd_i=$((_rd_i + 1))
	[ $_rd_i -lt 200 ] || { echo "setup: the status view never showed api1" >&2; exit 1; }
	sleep 0.05
done
