# The read API's things for the RBAC matrix (sourced by t_rbac.sh, with
# the admin token in $ADM and leurad's git source the bundled example):
# deploy 1, the example applied through leurad (web1..web3 run web and
# cache, db1 or db2 runs db), and each host's report and heartbeat, put
# where the agents put them (docs/etcd-layout.md); then the wait (10 s
# at most) until leurad's status view shows them.
api POST /v1/apply '{"ref":"main"}'
_rd_b64() { printf %s "$1" | base64 -w0; }
_rd_put() {
	curl -sf -X POST "$ETCD_ENDPOINT/v3/kv/put" -d \
	    "{\"key\":\"$(_rd_b64 "$1")\",\"value\":\"$(_rd_b64 "$2")\"}" \
	    >/dev/null || { echo "setup: cannot put $1" >&2; exit 1; }
}
for _rd_h in web1 web2 web3 db1 db2; do
	_rd_put "/leura/agents/$_rd_h" '{"agent":"rbac"}'
	_rd_put "/leura/observed/$_rd_h" '{"generation":1,"state":"converged"}'
done
_rd_i=0
until [ "$(SRV_TOKEN=$ADM srv_curl GET /v1/status/services/db)" = 200 ]; do
	_rd_i=$((_rd_i + 1))
	[ $_rd_i -lt 200 ] || { echo "setup: the status view never showed db" >&2; exit 1; }
	sleep 0.05
done
