# File contents from etcd: a content damaged in etcd (its bytes do not
# match its SHA-256) is refused, and fetched again with back-off, not in a
# tight loop; once repaired in etcd the agent converges.  A file step
# whose content is not UTF-8 text (any bytes may be sent: leura-spec(5),
# file) arrives byte for byte.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

b64() { printf %s "$1" | base64 -w0; }
# etcd_put_file KEY FILE: put FILE's bytes at KEY
etcd_put_file() {
	curl -sf -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/put" \
	    -d "{\"key\":\"$(b64 "$1")\",\"value\":\"$(base64 -w0 <"$2")\"}" \
	    >/dev/null
}

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {groups: [one], vars: {root: $ROOT}}
  h2: {groups: [two], vars: {root: $ROOT}}
EOF
cat >"$R/services.yml" <<'EOF'
app: {scheduling_group: one}
bin: {scheduling_group: two}
EOF
mkdir -p "$R/roles/app/files" "$R/roles/bin/files"
printf 'the real content\n' >"$R/roles/app/files/app.conf"
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: conf
    file: {src: files/app.conf, dest: "{{ host.vars.root }}/app.conf"}
EOF
# not UTF-8: Latin-1 text, a byte-order mark of UTF-16, a NUL
printf 'caf\351 \377\376 nul:\000 end\n' >"$R/roles/bin/files/data.bin"
cat >"$R/roles/bin/role.yml" <<'EOF'
converge:
  - name: data
    file: {src: files/data.bin, dest: "{{ host.vars.root }}/data.bin"}
EOF
commit_all init
apply

# ---- damaged in etcd ----
sha=$(sha256sum <"$R/roles/app/files/app.conf" | cut -d' ' -f1)
key=/leura/desired/files/$sha
[ "$(etcd_get "$key")" = "the real content" ] ||
    fail "test setup: no content at $key"
printf 'damaged\n' >"$T/damaged"
etcd_put_file "$key" "$T/damaged"
agent_start h1
wait_until 15 "h1 to refuse the damaged content" log_has h1 \
    "refusing the content of '$sha'"
sleep 3
n=$(log_count h1 "refusing the content of '$sha'")
# back-off from 0.5 s: a handful of fetches in 3 s, not thousands
# (a regression test: until 60f2632, a refused content was fetched again
# at once, in a tight loop, thousands of times a second, each logged)
[ "$n" -le 20 ] || fail "a damaged content was fetched $n times in ~3 s" \
    "(no back-off)"
[ -e "$ROOT/app.conf" ] && fail "a damaged content was written"
# repaired in etcd: the agent converges
etcd_put_file "$key" "$R/roles/app/files/app.conf"
wait_state h1 converged 1 30
expect_eq "app.conf" "$(cat "$ROOT/app.conf")" "the real content"
agent_stop h1

# ---- bytes that are not UTF-8 ----
sha=$(sha256sum <"$R/roles/bin/files/data.bin" | cut -d' ' -f1)
stored=$(etcd_get "/leura/desired/files/$sha" | wc -c)
if [ "$stored" -ne "$(wc -c <"$R/roles/bin/files/data.bin")" ]; then
	# LEURA APPLY BUG (reported; the reconciler, not the agent): such a
	# content is stored empty in etcd (and the agent refuses it)
	fail "LEURA APPLY BUG: a file that is not UTF-8 is stored in etcd" \
	    "with $stored bytes, not $(wc -c <"$R/roles/bin/files/data.bin")"
else
	agent_start h2
	wait_state h2 converged 1
	cmp "$ROOT/data.bin" "$R/roles/bin/files/data.bin" ||
	    fail "data.bin is not the bytes of the repo's file"
	agent_stop h2
fi
done_testing
