# Helpers for the task-run tests (tests/agent/t_run_*.sh), sourced after
# lib.sh: the test plays leurad, writing dispatches signed with the
# fleet's key (openssl, as proto_sign_run_value signs: context
# "leura-run-v1", the host, the value) and reading what the agent writes
# (server/run.h, docs/etcd-layout.md "Task runs").
#
#   dispatch HOST RUN S SPEC [LOG_MAX]   put step S of RUN for HOST
#   wait_result RUN HOST S [SECONDS]     the result exists (fatal if not)
#   rres RUN HOST S EXPR                 a field of the result (tjson)
#   rlog RUN HOST S                      the chunks, concatenated, to stdout

b64() { printf %s "$1" | base64 -w0; }

etcd_put() {
	curl -sf -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/put" \
	    -d "{\"key\":\"$(b64 "$1")\",\"value\":\"$(b64 "$2")\"}" \
	    >/dev/null || die "cannot put $1"
}

etcd_del() {
	curl -sf -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/deleterange" \
	    -d "{\"key\":\"$(b64 "$1")\"}" >/dev/null || die "cannot delete $1"
}

# etcd_has KEY: the key exists
etcd_has() {
	curl -s -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/range" \
	    -d "{\"key\":\"$(b64 "$1")\",\"count_only\":true}" |
	    grep -q '"count":"[1-9]'
}

key_id() {
	openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | sha256sum |
	    cut -c1-16
}

# run_sign HOST U: U signed for HOST with the fleet's private key
run_sign() {
	printf 'leura-run-v1\n%s\n%s' "$1" "$2" >"$T/msg"
	_s=$(openssl pkeyutl -sign -inkey "$LEURA_SIGNING_KEY" -rawin \
	    -in "$T/msg" | base64 -w0)
	printf '%s,"signature":"ed25519:%s:%s"}' "${2%\}}" \
	    "$(key_id "$LEURA_SIGNING_KEY")" "$_s"
}

# dkey HOST RUN S: the dispatch's key
dkey() { printf '/leura/runs/dispatch/%s/%s/%04d' "$1" "$2" "$3"; }
# ckey RUN HOST S: the claim's key; reskey: the result's
ckey() { printf '/leura/runs/exec/%s/%s/%04d' "$1" "$2" "$3"; }
reskey() { printf '/leura/runs/results/%s/%s/%04d' "$1" "$2" "$3"; }

# dispatch_u HOST RUN S SPEC [LOG_MAX]: the unsigned dispatch
dispatch_u() {
	printf '{"attempt":1,"deadline":null,"host":"%s","log_max":%s,'\
'"run":"%s","spec":%s,"step":%d,"task":null}' "$1" "${5:-1048576}" "$2" \
	    "$4" "$3"
}

dispatch() {
	etcd_put "$(dkey "$1" "$2" "$3")" "$(run_sign "$1" \
	    "$(dispatch_u "$@")")"
}

has_result() { etcd_has "$(reskey "$1" "$2" "$3")"; }

wait_result() {
	wait_until "${4:-30}" "the result of step $3 of $1 on $2" \
	    has_result "$1" "$2" "$3"
}

rres() {
	etcd_get "$(reskey "$1" "$2" "$3")" | "$TJSON" "$4" 2>/dev/null
}

# rlog RUN HOST S: the chunks in key order, concatenated
rlog() {
	_p=$(printf '/leura/runs/log/%s/%s/%04d/' "$1" "$2" "$3")
	curl -s -m 10 -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\
\"$(b64 "$_p")\",\"range_end\":\"$(b64 "${_p%/}0")\"}" |
	    "$TJSON" '.kvs[*].value' 2>/dev/null | while read -r _v; do
		printf %s "$_v" | base64 -d
	done
}

# nchunks RUN HOST S: how many chunks there are
nchunks() {
	_p=$(printf '/leura/runs/log/%s/%s/%04d/' "$1" "$2" "$3")
	curl -s -m 10 -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\
\"$(b64 "$_p")\",\"range_end\":\"$(b64 "${_p%/}0")\",\"count_only\":true}" |
	    "$TJSON" .count 2>/dev/null || echo 0
}

# script_spec TEXT: a script step's spec with TEXT as its script (TEXT:
# no double quotes nor backslashes)
script_spec() {
	printf '{"id":"task/t/0/s","name":"s","kind":"script","script":"%s"}' \
	    "$1"
}
