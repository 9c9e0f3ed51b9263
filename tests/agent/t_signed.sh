# etcd is not trusted for integrity (docs/security.md): whoever can write
# to etcd (etcd 3.4's auth can be bypassed: NOTES-deps §7) forges host h1's
# desired state straight into etcd, as an attacker would with curl, and
# h1's agent refuses each forgery, says so in its report and its log, and
# runs none of its steps:
#   a  an unsigned document          e  another host's valid document
#   b  one signed with another key   f  an older document under a newer key
#   c  another key under our key id  g  an older generation put back (a
#   d  a tampered one (a few bytes)     replay, after a restart too)
#   h  an unsigned head              i  a head changed under its signature
# Then: a legitimate deploy (and a rollback) still goes through; the fleet
# key rotates (agent with both public keys, apply with the new key signs
# every host anew); apply without a key, and an agent without one, refuse
# to start, with a hint; and --insecure-unsigned, tested here only.
. "$LEURA_SRC/tests/agent/lib.sh"
agent_test_start

cat >"$R/inventory/hosts.yml" <<EOF
hosts:
  h1: {vars: {n: 1}}
  h2: {vars: {n: 1}}
groups:
  all:
    vars: {root: $ROOT}
EOF
cat >"$R/services.yml" <<'EOF'
app: {}
EOF
mkdir -p "$R/roles/app"
cat >"$R/roles/app/role.yml" <<'EOF'
converge:
  - name: conf
    file: {content: "n={{ host.vars.n }}\n", dest: "{{ host.vars.root }}/{{ host.name }}/app.conf", template: true}
  - name: mark
    script: echo "$LEURA_GENERATION" >> {{ host.vars.root }}/{{ host.name }}/ran.log
EOF
commit_all init
apply
[ "$GEN" = 1 ] || fail "first apply: generation $GEN"

# ---- etcd as the attacker sees it ----

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
# doc_key HOST: the key of HOST's newest document
doc_key() {
	_p=/leura/desired/hosts/$1/
	curl -s -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\
\"$(b64 "$_p")\",\"range_end\":\"$(b64 "${_p%/}0")\",\"keys_only\":true}" |
	    "$TJSON" '.kvs[*].key' | while read -r k; do
		printf '%s\n' "$k" | base64 -d
		echo
	done | tail -n 1
}
# unsigned VALUE: the value without its signature member
unsigned() {
	printf %s "$1" | sed 's/,"signature":"[^"]*"}$/}/'
}
# sign_with KEYFILE ID HOST U: U signed as apply would, by KEYFILE, naming ID
sign_with() {
	printf 'leura-doc-v1\n%s\n%s' "$3" "$4" >"$T/msg"
	_s=$(openssl pkeyutl -sign -inkey "$1" -rawin -in "$T/msg" |
	    base64 -w0)
	printf '%s,"signature":"ed25519:%s:%s"}' "${4%\}}" "$2" "$_s"
}
key_id() {
	openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | sha256sum |
	    cut -c1-16
}

# refused KEY TEXT: h1's report names KEY as refused, with TEXT in the
# error (one report: the key, error and hint read together)
is_refused() {
	etcd_get /leura/observed/h1 >"$T/rep"
	[ "$("$TJSON" .refused.key <"$T/rep" 2>/dev/null)" = "$1" ]
}
refused() {
	wait_until 20 "h1 reports the refusal of $1" is_refused "$1"
	"$TJSON" .refused.error <"$T/rep" >"$T/why" || :
	expect_in "$T/why" "$2"
	"$TJSON" .refused.hint <"$T/rep" >"$T/hint" || :
	expect_in "$T/hint" "docs/security.md"
	log_has h1 "'$1': " || fail "h1's log does not say it refused $1"
	expect_eq "h1 still at its generation" "$(obs h1 .generation)" "$H1GEN"
	# the mark step ran once, for the first document (it never changed)
	expect_eq "h1's mark step" "$(cat "$ROOT/h1/ran.log")" 1
	[ ! -e "$ROOT/h1/pwned" ] || fail "a forged step ran on h1"
	[ ! -e "$ROOT/h2" ] || fail "h2's document ran on h1"
}

agent_start h1
wait_state h1 converged 1
H1GEN=1

# a second deploy that changes h2 only: the head is at 2, h1's document
# stays at 1, so a document of h1 at generation 2 would be in force
sed -i 's/h2: {vars: {n: 1}}/h2: {vars: {n: 2}}/' "$R/inventory/hosts.yml"
commit_all "h2: n=2"
apply
[ "$GEN" = 2 ] || fail "second apply: generation $GEN"
at_head() { [ "$(obs h1 .head)" = "$1" ]; }
wait_until 20 "h1 sees head 2" at_head 2
K1=$(doc_key h1)
V1=$(etcd_get "$K1")
K2=$(doc_key h2)
V2=$(etcd_get "$K2")
case $K1 in */000000000001/*) ;; *) fail "h1's document key: $K1" ;; esac
case $V1 in *'"signature":"ed25519:'*) ;; *) fail "not signed: $V1" ;; esac
G2=/leura/desired/hosts/h1/000000000002
# the attacker's document: h1's, generation 2, its step writes pwned
EVIL=$(unsigned "$V1" | sed 's/"generation":1,/"generation":2,/;
    s/ran\.log/pwned/')

# a: unsigned; leura status, which reads etcd as it is, says so too
etcd_put "$G2/aaaa" "$EVIL"
refused "$G2/aaaa" "it is not signed"
run 2 "$LEURA" status
expect_in "$T/out" "the agent refuses what etcd holds for it: refusing \
the document '$G2/aaaa': it is not signed"
etcd_del "$G2/aaaa"

# b: signed with another key (the attacker's own)
"$LEURA" keygen "$T/evil" >/dev/null
EID=$(key_id "$T/evil/signing.key")
etcd_put "$G2/bbbb" "$(sign_with "$T/evil/signing.key" "$EID" h1 "$EVIL")"
refused "$G2/bbbb" "it is signed with key '$EID', which is not among the \
trusted keys"
etcd_del "$G2/bbbb"

# c: another key's signature under the fleet key's id
FID=$(key_id "$KEYS/signing.key")
etcd_put "$G2/cccc" "$(sign_with "$T/evil/signing.key" "$FID" h1 "$EVIL")"
refused "$G2/cccc" "the signature does not match"
etcd_del "$G2/cccc"

# d: h1's own signed document, a few bytes changed
etcd_put "$G2/dddd" "$(printf %s "$V1" | sed 's/ran\.log/pwned  /')"
refused "$G2/dddd" "the signature does not match: it was changed after \
signing, or signed for another host than 'h1'"
etcd_del "$G2/dddd"

# e: h2's valid document (generation 2, signed for h2) under h1's key
etcd_put "$G2/eeee" "$V2"
refused "$G2/eeee" "signed for another host than 'h1'"
etcd_del "$G2/eeee"

# f: h1's valid document of generation 1 copied under generation 2
etcd_put "$G2/ffff" "$V1"
refused "$G2/ffff" "it was signed as generation 1, its key says 2"
etcd_del "$G2/ffff"

# h: an unsigned head that commits generation 3 (and h1's unsigned doc
# there): the head is refused, so the document is never in force
etcd_put /leura/desired/hosts/h1/000000000003/hhhh \
    "$(printf %s "$EVIL" | sed 's/"generation":2,/"generation":3,/')"
HEAD=$(etcd_get /leura/desired/head)
etcd_put /leura/desired/head "$(unsigned "$HEAD" |
    sed 's/"generation":2,/"generation":3,/')"
refused /leura/desired/head "refusing the head '/leura/desired/head': it \
is not signed"
etcd_del /leura/desired/hosts/h1/000000000003/hhhh

# i: the head with other bytes under the fleet key's signature: refused;
# and apply, which checks the head it builds on, does not take it for
# its own (nothing to change): it signs every host anew
etcd_put /leura/desired/head "$(printf %s "$HEAD" |
    sed 's/"by":"[^"]*"/"by":"mallory@evil"/')"
refused /leura/desired/head "refusing the head '/leura/desired/head': the \
signature does not match"
run 0 "$LEURA" -C "$R" apply --no-diff
expect_in "$T/err" "every host's document is written anew"
GEN=$(etcd_get /leura/desired/head | "$TJSON" .generation)
wait_state h1 converged "$GEN"
H1GEN=$GEN

# a legitimate deploy that changes h1 still goes through, and clears the
# refusal
sed -i 's/h1: {vars: {n: 1}}/h1: {vars: {n: 3}}/' "$R/inventory/hosts.yml"
commit_all "h1: n=3"
apply
wait_state h1 converged "$GEN"
H1GEN=$GEN
expect_eq "h1 has the new deploy" "$(cat "$ROOT/h1/app.conf")" "n=3"
obs h1 .refused >/dev/null && fail "the refusal stayed after a deploy"
[ "$("$TJSON" .generation <"$T/state/h1/verified.json")" = "$GEN" ] ||
    fail "verified.json: $(cat "$T/state/h1/verified.json")"

# g: a replay: the attacker deletes h1's documents (the newest, and any
# older one apply's clean-up left) and puts the one of generation 1 back
# under its own key (apply removed it)
_p=/leura/desired/hosts/h1/
curl -sf -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/deleterange" -d "{\"key\":\
\"$(b64 "$_p")\",\"range_end\":\"$(b64 "${_p%/}0")\"}" >/dev/null ||
    die "cannot delete h1's documents"
etcd_put "$K1" "$V1"
refused "$K1" "it is generation 1, older than generation $GEN, which this \
agent verified before (a replay)"
# ... which a restarted agent refuses too: the generation is remembered
# (its report goes first, so that the refusal read is the new agent's)
agent_stop h1
etcd_del /leura/observed/h1
: >"$T/agent-h1.log"
agent_start h1
refused "$K1" "(a replay)"
etcd_del "$K1"

# a rollback writes a new generation, signed: it is not a replay
run 0 "$LEURA" -C "$R" apply --no-diff --rollback --ref HEAD~1
GEN=$(etcd_get /leura/desired/head | "$TJSON" .generation)
wait_state h1 converged "$GEN"
H1GEN=$GEN
expect_eq "h1 rolled back" "$(cat "$ROOT/h1/app.conf")" "n=1"

# j: a document of an apply that never committed (signed: apply signs
# before its commit), kept by the attacker and put back once a later head
# sits above its generation.  The later apply deletes it and its head
# lists the generation as never deployed, so the copy put back is refused
# though its signature is good.
K1=$(doc_key h1)
GJ=$(printf '/leura/desired/hosts/h1/%012d/jjjj' $((GEN + 1)))
GHOST=$(sign_with "$KEYS/signing.key" "$FID" h1 "$(unsigned \
    "$(etcd_get "$K1")" | sed "s/\"generation\":$GEN,/\"generation\":$((GEN + 1)),/;
    s/ran\.log/pwned/")")
etcd_put "$GJ" "$GHOST"
# the next deploy changes h2 only (h1 as deployed by the rollback)
sed -i 's/h1: {vars: {n: 3}}/h1: {vars: {n: 1}}/;
    s/h2: {vars: {n: 2}}/h2: {vars: {n: 6}}/' "$R/inventory/hosts.yml"
commit_all "h2: n=6"
apply
[ "$GEN" = "$((H1GEN + 2))" ] || fail "the apply after the aborted one: $GEN"
case $(etcd_get /leura/desired/head) in
*"\"skipped\":[[$((H1GEN + 1)),$((H1GEN + 1))]]"*) ;;
*) fail "the head does not list generation $((H1GEN + 1)) as skipped" ;;
esac
[ -z "$(etcd_get "$GJ" 2>/dev/null)" ] || fail "the aborted document stayed"
wait_until 20 "h1 sees head $GEN" at_head "$GEN"
etcd_put "$GJ" "$GHOST"
refused "$GJ" "it is generation $((H1GEN + 1)), which the head lists as \
never deployed"
etcd_del "$GJ"

# ---- rotating the key ----
# the agent trusts the old and the new public key; apply with the new one
# signs every host's document anew, h2's too, though nothing changed
"$LEURA" keygen "$T/new" >/dev/null
cat "$KEYS/signing.pub" "$T/new/signing.pub" >"$T/both.pub"
agent_stop h1
agent_start h1 --fleet-key "$T/both.pub"
wait_state h1 converged "$H1GEN"
run 0 "$LEURA" -C "$R" apply --no-diff --signing-key "$T/new/signing.key"
expect_in "$T/err" "every host's document is written anew"
GEN=$(etcd_get /leura/desired/head | "$TJSON" .generation)
NID=$(key_id "$T/new/signing.key")
for h in h1 h2; do
	case $(etcd_get "$(doc_key $h)") in
	*"\"signature\":\"ed25519:$NID:"*) ;;
	*) fail "$h's document is not signed with the new key" ;;
	esac
done
wait_state h1 converged "$GEN"
# then the old key goes: an agent with only the new one is content
agent_stop h1
agent_start h1 --fleet-key "$T/new/signing.pub"
wait_state h1 converged "$GEN"
agent_stop h1

# ---- no key: refused, with a hint ----
run 1 env -u LEURA_SIGNING_KEY -u XDG_CONFIG_HOME -u LEURA_CONFIG \
    "$LEURA" -C "$R" apply
expect_in "$T/err" "cannot open the signing key '$T/.config/leura/signing.key'"
expect_in "$T/err" "leura keygen"
run 1 "$LEURA" -C "$R" apply --signing-key "$T/new/signing.pub"
expect_in "$T/err" "may be read by others (mode 0644)"
expect_in "$T/err" "chmod 600"
run 64 env -u LEURA_FLEET_KEY "$LEURA_AGENT" --host h1 --state-dir \
    "$T/state/h1" --etcd "$ETCD_ENDPOINT" --once
expect_in "$T/err" "no fleet public key"
expect_in "$T/err" "leura keygen"

# ---- --insecure-unsigned: throwaway tests only (this is the one) ----
run 0 env LEURA_ETCD_PREFIX=/insecure "$LEURA" -C "$R" apply --no-diff \
    --insecure-unsigned
expect_in "$T/err" "--insecure-unsigned"
case $(etcd_get /insecure/desired/head) in
*signature*) fail "--insecure-unsigned signed the head" ;;
esac
# an agent with the fleet key refuses it; one with the flag runs it
run 1 "$LEURA_AGENT" --host h1 --prefix /insecure --state-dir "$T/state/i1" \
    --etcd "$ETCD_ENDPOINT" --once
expect_in "$T/err" "it is not signed"
run 0 "$LEURA_AGENT" --host h1 --prefix /insecure --state-dir "$T/state/i2" \
    --etcd "$ETCD_ENDPOINT" --once --insecure-unsigned
expect_in "$T/err" "--insecure-unsigned"

done_testing
