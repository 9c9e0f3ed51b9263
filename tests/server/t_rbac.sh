#!/bin/sh
# The RBAC matrix: every route of tests/server/rbac.tsv x {anonymous, a
# user with no grants, a reader of one service, an owner, an approver, an
# admin} against a real leurad; each cell's status must be the one the
# table expects, and a cell expected to be refused (401/403) that answers
# 2xx is an unauthorized read or write.  rbac.tsv says how to add rows.
. "$LEURA_SRC/tests/server/lib.sh"

# a git source (the bundled example, committed), for the source's rows
new_repo
srv_start a --source "$T/repo" --signing-key "$LEURA_SIGNING_KEY"
ROLES="anon none reader owner approver admin"
PW=rbac-password-1

# api METHOD PATH [BODY]: as admin; the body of the answer in $T/body
api() {
	a_code=$(SRV_TOKEN=$ADM srv_curl "$1" "$2" ${3:+-d "$3"})
	case $a_code in
	2??) ;;
	*)	echo "setup: $1 $2: $a_code" >&2
		cat "$T/body" >&2
		exit 1 ;;
	esac
}
# as TOKEN METHOD PATH [BODY]: the same as another caller
as() {
	a_tok=$1
	shift
	a_code=$(SRV_TOKEN=$a_tok srv_curl "$1" "$2" ${3:+-d "$3"})
	case $a_code in
	2??) ;;
	*)	echo "setup: $1 $2 as another: $a_code" >&2
		cat "$T/body" >&2
		exit 1 ;;
	esac
}
login() {
	SRV_TOKEN= srv_curl POST /v1/login \
	    -d "{\"user\":\"$1\",\"password\":\"$2\"}" >/dev/null
	json_get "$T/body" token
}
field() {
	json_get "$T/body" "$1"
}

ADM=$(login admin "$SRV_ADMIN_PASSWORD")
[ -n "$ADM" ] || { echo "admin cannot log in" >&2; exit 1; }
for u in none reader owner approver bystander; do
	api POST /v1/users "{\"name\":\"$u\",\"password\":\"$PW\"}"
done
api POST /v1/grants '{"subject":"user:reader","verb":"read","resource":"services/web"}'
api POST /v1/grants '{"subject":"user:approver","verb":"approve","resource":"services/*"}'
for r in 'users/owned-*' 'groups/owned-*' 'services/owned-*'; do
	api POST /v1/grants "{\"subject\":\"user:owner\",\"verb\":\"admin\",\"resource\":\"$r\"}"
done
TOK_anon=
for r in none reader owner approver; do
	eval "TOK_$r=\$(login $r $PW)"
done
TOK_admin=$ADM
for f in "$LEURA_SRC"/tests/server/rbac-setup-*.sh; do
	[ -e "$f" ] || continue
	. "$f"
done

# a new name (subst runs in a subshell: no counter survives it)
fresh() {
	echo "r$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')"
}
# subst TEXT ROLE: TEXT with its placeholders made for this cell
subst() {
	s_text=$1
	s_role=$2
	s_me=$s_role
	[ "$s_role" != anon ] || s_me=nobody
	case $s_text in *'{ME}'*)
		s_text=$(printf '%s' "$s_text" | sed "s/{ME}/$s_me/g") ;;
	esac
	case $s_text in *'{NAME}'*)
		s_n=$(fresh)
		[ "$s_role" != owner ] || s_n=owned-$s_n
		s_text=$(printf '%s' "$s_text" | sed "s/{NAME}/$s_n/g") ;;
	esac
	case $s_text in *'{U}'*)
		s_n=$(fresh)
		api POST /v1/users "{\"name\":\"$s_n\",\"password\":\"$PW\"}"
		s_text=$(printf '%s' "$s_text" | sed "s/{U}/$s_n/g") ;;
	esac
	case $s_text in *'{OU}'*)
		s_n=owned-$(fresh)
		as "$TOK_owner" POST /v1/users "{\"name\":\"$s_n\",\"password\":\"$PW\"}"
		s_text=$(printf '%s' "$s_text" | sed "s/{OU}/$s_n/g") ;;
	esac
	case $s_text in *'{G}'*)
		s_n=$(fresh)
		api POST /v1/groups "{\"name\":\"$s_n\"}"
		s_text=$(printf '%s' "$s_text" | sed "s/{G}/$s_n/g") ;;
	esac
	case $s_text in *'{OG}'*)
		s_n=owned-$(fresh)
		as "$TOK_owner" POST /v1/groups "{\"name\":\"$s_n\"}"
		s_text=$(printf '%s' "$s_text" | sed "s/{OG}/$s_n/g") ;;
	esac
	case $s_text in *'{GR}'*)
		api POST /v1/grants '{"subject":"user:bystander","verb":"read","resource":"services/x"}'
		s_n=$(field id)
		s_text=$(printf '%s' "$s_text" | sed "s/{GR}/$s_n/g") ;;
	esac
	case $s_text in *'{OGR}'*)
		as "$TOK_owner" POST /v1/grants '{"subject":"user:bystander","verb":"read","resource":"services/owned-x"}'
		s_n=$(field id)
		s_text=$(printf '%s' "$s_text" | sed "s/{OGR}/$s_n/g") ;;
	esac
	case $s_text in *'{T}'*)
		api POST /v1/tokens '{"name":"rbac","expires_in":600}'
		s_n=$(field id)
		s_text=$(printf '%s' "$s_text" | sed "s/{T}/$s_n/g") ;;
	esac
	case $s_text in *'{MT}'*)
		s_tok=$(eval "printf '%s' \"\$TOK_$s_role\"")
		if [ -n "$s_tok" ]; then
			as "$s_tok" POST /v1/tokens '{"name":"mine","expires_in":600}'
			s_n=$(field id)
		else
			s_n=t0000
		fi
		s_text=$(printf '%s' "$s_text" | sed "s/{MT}/$s_n/g") ;;
	esac
	printf '%s' "$s_text"
}

cells=0
bad=0
unauth=0
tab=$(printf '\t')
while IFS=$tab read -r method path body e_anon e_none e_reader e_owner \
    e_approver e_admin; do
	case $method in ''|'#'*) continue ;; esac
	for role in $ROLES; do
		want=$(eval "printf '%s' \"\$e_$role\"")
		[ "$want" != - ] || continue
		tok=$(eval "printf '%s' \"\$TOK_$role\"")
		# logging out ends the session: use a new one
		if [ "$path" = /v1/logout ] && [ -n "$tok" ]; then
			tok=$(login "$role" "$PW")
			[ "$role" != admin ] || tok=$(login admin "$SRV_ADMIN_PASSWORD")
		fi
		p_=$(subst "$path" "$role")
		b_=
		[ "$body" = - ] || b_=$(subst "$body" "$role")
		got=$(SRV_TOKEN=$tok srv_curl "$method" "$p_" ${b_:+-d "$b_"})
		cells=$((cells + 1))
		case $want in
		?xx)	ok=; [ "${got%??}" != "${want%xx}" ] || ok=1 ;;
		*)	ok=; [ "$got" != "$want" ] || ok=1 ;;
		esac
		if [ -z "$ok" ]; then
			bad=$((bad + 1))
			fail "$method $p_ as $role: $got, expected $want"
			sed 's/^/  | /' "$T/body" >&2
			case $want$got in
			40[13]2??) unauth=$((unauth + 1)) ;;
			esac
		fi
		# a refusal names what is missing
		case $got in 403)
			grep -q 'needs a grant\|scopes' "$T/body" ||
			    fail "$method $p_ as $role: 403 without the grant"
		esac
	done
done <"$LEURA_SRC/tests/server/rbac.tsv"
echo "rbac: $cells cells, $bad unexpected, $unauth unauthorized"
[ "$unauth" -eq 0 ] || fail "$unauth unauthorized reads or writes"
[ "$cells" -ge 200 ] || fail "only $cells cells"
done_testing
