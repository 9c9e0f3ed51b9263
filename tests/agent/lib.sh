# Helpers for the agent integration tests (tests/agent/t_*.sh): a real
# etcd, real leura-agent processes, steps that write under $T only.
#
#   . "$LEURA_SRC/tests/agent/lib.sh"   # $T, fail/run/expect_in (cli/lib.sh)
#   agent_test_start                   # etcd (exits 77 without), empty $R
#   cat >"$R/services.yml" <<EOF ... EOF; commit_all init
#   apply                               # leura apply; $GEN = head generation
#   agent_start web1 --drift-interval 1s
#   wait_state web1 converged "$GEN"
#   [ "$(obs web1 .services.web.validated)" = true ] || fail ...
#   agent_stop web1                     # SIGTERM, bounded, exits 0
#   done_testing
#
# Set by CTest: LEURA, LEURA_AGENT, LEURA_SRC, TJSON (tests/agent/tjson.c,
# the JSON query: jq is not a dependency), LEURA_SANITIZED=1 in sanitized
# builds.  Layout: the config repo in $R ($T/repo), the files steps write
# under $ROOT ($T/root; templates: {{ host.vars.root }}), agent HOST's
# state dir $T/state/HOST and its output (-v) $T/agent-HOST.log.
#
# Cleanup: the EXIT trap SIGKILLs the agents still running and the process
# groups whose leader's pid a step wrote to $PIDS/NAME (`echo $$ >
# $PIDS/x` in a script step: a step's shell leads its own group), stops
# etcd and removes $T.  Every wait is bounded (poll, wait_until,
# wait_state: 30 s unless told).  A wait_until or wait_state that times
# out is fatal: it prints the agents' logs and exits 1 (what follows would
# only fail for the same reason).  Tests that find a bug in the agent say
# "AGENT BUG" in their failure and in a comment above the check.
. "$LEURA_SRC/tests/cli/lib.sh"
if [ -z "${LEURA_AGENT:-}" ] || [ ! -x "$LEURA_AGENT" ]; then
	echo "SKIP: no leura-agent (LEURA_AGENT)" >&2
	exit 77
fi
: "${TJSON:?set TJSON to the tjson helper (tests/agent/tjson.c)}"
AGENT_PIDS=
R=$T/repo
ROOT=$T/root
PIDS=$T/pids
mkdir -p "$ROOT" "$PIDS"
ETCD_TRAP='_agents_cleanup; rm -rf "$T"'
. "$LEURA_SRC/tests/lib/etcd.sh"
trap 'eval "$ETCD_TRAP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

_agents_cleanup() {
	for _p in $AGENT_PIDS; do
		kill -KILL "$_p" 2>/dev/null || :
	done
	for _f in "$PIDS"/*; do
		[ -f "$_f" ] || continue
		_p=$(cat "$_f" 2>/dev/null) || continue
		[ -n "$_p" ] || continue
		kill -KILL "-$_p" 2>/dev/null || :
		kill -KILL "$_p" 2>/dev/null || :
	done
}

# alive PID: the process exists and is not a zombie
alive() {
	[ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" \
	    2>/dev/null
}

# group_alive PGID: some process of that process group is alive
group_alive() {
	for _s in /proc/[0-9]*/stat; do
		# field 5 is the pgrp; the command (field 2) has no blanks here
		_g=$(cut -d' ' -f5 "$_s" 2>/dev/null) || continue
		[ "$_g" = "$1" ] || continue
		_p=${_s#/proc/}
		alive "${_p%/stat}" && return 0
	done
	return 1
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

dump_logs() {
	for _l in "$T"/agent-*.log; do
		[ -f "$_l" ] || continue
		echo "--- ${_l##*/} (last 40 lines)" >&2
		tail -n ${DUMP_LINES:-40} "$_l" | sed 's/^/  | /' >&2
	done
}

die() {
	fail "$*"
	dump_logs
	echo "$nfail failure(s)" >&2
	exit 1
}

done_testing() {
	if [ "$nfail" -ne 0 ]; then
		dump_logs
		echo "$nfail failure(s)" >&2
		exit 1
	fi
	echo ok
}

# poll SECONDS CMD...: poll CMD every 0.1 s until it succeeds (status 0) or
# SECONDS have passed (status 1)
poll() {
	_lim=$(($1 * 10))
	shift
	_i=0
	while ! "$@" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -le $_lim ] || return 1
		sleep 0.1
	done
}

# wait_until SECONDS WHAT CMD...: poll CMD; fatal after SECONDS
wait_until() {
	_secs=$1
	_what=$2
	shift 2
	poll "$_secs" "$@" || die "timed out after $_secs s: $_what"
}

# ---- etcd ----

# etcd_get KEY: the value (nothing when absent)
etcd_get() {
	curl -s -m 5 -X POST "$ETCD_ENDPOINT/v3/kv/range" \
	    -d "{\"key\":\"$(printf %s "$1" | base64 -w0)\"}" |
	    "$TJSON" '.kvs[0].value' 2>/dev/null | base64 -d
}

# obs HOST [EXPR]: P/observed/HOST, or what EXPR selects in it (tjson);
# res HOST [EXPR]: the same for P/results/HOST.  Status 1: no match.
obs() {
	etcd_get "/leura/observed/$1" | "$TJSON" "${2:-.}" 2>/dev/null
}
res() {
	etcd_get "/leura/results/$1" | "$TJSON" "${2:-.}" 2>/dev/null
}

# step HOST ID FIELD: FIELD of step ID's result in P/results/HOST
step() {
	res "$1" ".steps[id=$2].$3"
}

# is_state HOST STATE [GEN]: the report says STATE (at generation GEN)
is_state() {
	# one read: state and generation of the same report
	_rep=$(etcd_get "/leura/observed/$1")
	[ "$(printf %s "$_rep" | "$TJSON" .state 2>/dev/null)" = "$2" ] ||
	    return 1
	[ -z "${3:-}" ] ||
	    [ "$(printf %s "$_rep" | "$TJSON" .generation 2>/dev/null)" = "$3" ]
}

# wait_state HOST STATE [GEN [SECONDS]]: until the report says so (30 s)
wait_state() {
	_lim=$((${4:-30} * 10))
	_i=0
	while ! is_state "$1" "$2" "${3:-}"; do
		_i=$((_i + 1))
		[ $_i -le $_lim ] || die "timed out after ${4:-30} s" \
		    "waiting for $1 to report $2${3:+ at generation $3};" \
		    "it reports: $(obs "$1")"
		sleep 0.1
	done
}

# heartbeat HOST: the agent's heartbeat key exists
heartbeat() {
	[ -n "$(etcd_get "/leura/agents/$1")" ]
}

# ---- the config repo ----

# repo_init: an empty git repository in $R (the test writes its files)
repo_init() {
	rm -rf "$R"
	mkdir -p "$R/inventory" "$R/roles"
	(cd "$R" && git init -q -b main .)
}

# agent_test_start: the set-up every t_*.sh shares, after its own skips: a
# private etcd (exit 77 without an etcd binary; stopped with the rest at
# exit) and an empty config repo in $R
agent_test_start() {
	etcd_start
	repo_init
}

# apply: leura apply of HEAD; GEN is the head's generation afterwards
apply() {
	run 0 "$LEURA" -C "$R" apply --no-diff
	GEN=$(etcd_get /leura/desired/head | "$TJSON" .generation)
}

# ---- agents ----

# agent_start HOST [ARGS...]: leura-agent for HOST in the background (-v);
# AGENT_WRAP, when set, is a command (split on blanks) the agent runs under
agent_start() {
	_h=$1
	shift
	mkdir -p "$T/state"
	echo "=== $(date +%T.%N) start $*" >>"$T/agent-$_h.log"
	# shellcheck disable=SC2086
	${AGENT_WRAP:-} "$LEURA_AGENT" --host "$_h" \
	    --state-dir "$T/state/$_h" --etcd "$ETCD_ENDPOINT" -v "$@" \
	    </dev/null >>"$T/agent-$_h.log" 2>&1 &
	eval "_pid_$_h=\$!"
	AGENT_PIDS="$AGENT_PIDS $!"
}

# agent_pid HOST: the pid of HOST's last started agent
agent_pid() {
	eval "echo \${_pid_$1:-}"
}

# agent_wait HOST SECONDS: wait for HOST's agent to exit; AGENT_RC is its
# exit status (124 when it did not exit: it is then SIGKILLed)
agent_wait() {
	_p=$(agent_pid "$1")
	_i=0
	while alive "$_p"; do
		_i=$((_i + 1))
		if [ $_i -gt $(($2 * 10)) ]; then
			kill -KILL "$_p" 2>/dev/null || :
			wait "$_p" 2>/dev/null || :
			AGENT_RC=124
			return 0
		fi
		sleep 0.1
	done
	set +e
	wait "$_p" 2>/dev/null
	AGENT_RC=$?
	set -e
}

# agents_wait SECONDS HOST...: wait for the agents of all HOSTs at once
# (SECONDS for all); for each, AGENT_RC_HOST is its exit status (124 when
# it did not exit: it is then SIGKILLed) and AGENT_MS_HOST when it was
# seen gone (now_ms; polled every 50 ms, so that the checks a test makes
# of one host do not count in the time of the next)
agents_wait() {
	_end=$(($(now_ms) + $1 * 1000))
	shift
	_left="$*"
	while [ -n "$_left" ]; do
		_still=
		for _h in $_left; do
			_p=$(agent_pid "$_h")
			if alive "$_p"; then
				if [ "$(now_ms)" -le "$_end" ]; then
					_still="$_still $_h"
					continue
				fi
				kill -KILL "$_p" 2>/dev/null || :
				_rc=124
				wait "$_p" 2>/dev/null || :
			else
				set +e
				wait "$_p" 2>/dev/null
				_rc=$?
				set -e
			fi
			eval "AGENT_MS_$_h=$(now_ms) AGENT_RC_$_h=$_rc"
		done
		_left=$_still
		[ -z "$_left" ] || sleep 0.05
	done
}

# agent_ready HOST: HOST's last started agent has logged its first line
# (agent_run), so it handles SIGTERM: before that, SIGTERM kills it (143)
agent_ready() {
	awk '/^=== .* start/ { ok = 0; next }
	    / notice agent: leura-agent / { ok = 1 }
	    END { exit !ok }' "$T/agent-$1.log" 2>/dev/null
}

# agent_stop HOST [SECONDS]: SIGTERM, once the agent handles it (10 s at
# most); the agent must exit 0 within SECONDS (default 20)
agent_stop() {
	poll 10 agent_ready "$1" || :
	kill -TERM "$(agent_pid "$1")" 2>/dev/null || :
	agent_wait "$1" "${2:-20}"
	if [ "$AGENT_RC" -eq 124 ]; then
		fail "agent $1 did not stop within ${2:-20} s of SIGTERM"
	elif [ "$AGENT_RC" -ne 0 ]; then
		fail "agent $1 exited $AGENT_RC after SIGTERM, expected 0"
	fi
}

# agent_kill9 HOST: SIGKILL, no cleanup of any kind
agent_kill9() {
	kill -KILL "$(agent_pid "$1")" 2>/dev/null || :
	agent_wait "$1" 10
}

# log_has HOST TEXT: the agent's log has the fixed string TEXT
log_has() {
	grep -qF -- "$2" "$T/agent-$1.log"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# expect_has WHAT TEXT PART: TEXT contains PART
expect_has() {
	case $2 in
	*"$3"*) ;;
	*) fail "$1: '$2' lacks '$3'" ;;
	esac
}

# log_count HOST TEXT: how many lines of the agent's log have TEXT
log_count() {
	if [ -f "$T/agent-$1.log" ]; then
		grep -cF -- "$2" "$T/agent-$1.log" || :
	else
		echo 0
	fi
}

# log_more HOST TEXT N: more than N lines of the agent's log have TEXT
log_more() {
	[ "$(log_count "$1" "$2")" -gt "$3" ]
}
