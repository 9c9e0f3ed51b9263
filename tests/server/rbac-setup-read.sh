# The read API's things for the RBAC matrix (sourced by t_rbac.sh, with
# the admin token in $ADM): deploy 1 of two of the bundled example's
# hosts, web1 (runs web) and db1 (runs db), with their reports and
# heartbeats, put where leura apply and the agents put them
# (docs/etcd-layout.md); then the wait (10 s at most) until leurad's
# status view shows them.  The head names no commit and the prefix no
# fleet, so that the source's apply row (the example, through leurad)
# still has something to change, and may; web1, db1, web and db are
# there after it too.
_rd_b64() { printf %s "$1" | base64 -w0; }
_rd_put() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" -d \
	    "{\"key\":\"$(_rd_b64 "$1")\",\"value\":\"$(_rd_b64 "$2")\"}" \
	    >/dev/null || { echo "setup: cannot put $1" >&2; exit 1; }
}
_rd_put /leura/desired/hosts/web1/000000000001/aa '{"generation":1,"services":["web"]}'
_rd_put /leura/desired/hosts/db1/000000000001/bb '{"generation":1,"services":["db"]}'
_rd_put /leura/source/deploys/0000000001 '{"deploy":1,"generation":1,"by":"rbac"}'
_rd_put /leura/desired/head '{"generation":1,"deploy":1}'
for _rd_h in web1 db1; do
	_rd_put "/leura/agents/$_rd_h" '{"agent":"rbac"}'
	_rd_put "/leura/observed/$_rd_h" '{"generation":1,"state":"converged"}'
done
_rd_i=0
until [ "$(SRV_TOKEN=$ADM srv_curl GET /v1/status/services/db)" = 200 ]; do
	_rd_i=$((_rd_i + 1))
	[ $_rd_i -lt 200 ] || { echo "setup: the status view never showed db" >&2; exit 1; }
	sleep 0.05
done
