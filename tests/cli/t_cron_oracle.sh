# leura schedule --tasks --now against two other cron implementations:
# a brute-force scanner written from crontab(5) and Debian's
# python3-croniter (tools/bootstrap installs it), on 3000 random
# expressions from several start times each (tests/cli/cron_oracle.py).
. "$LEURA_SRC/tests/cli/lib.sh"
PY=/usr/bin/python3
if ! "$PY" -c 'import croniter' 2>/dev/null; then
	[ -n "${CI:-}" ] && { echo "FAIL: python3-croniter is missing" >&2; exit 1; }
	echo "skip: python3-croniter is not installed (tools/bootstrap)"
	exit 77
fi
new_repo
rm -f repo/tasks/*
"$PY" "$LEURA_SRC/tests/cli/cron_oracle.py" "$LEURA" repo 3000 20261207 ||
    fail "leura's fire times differ from the oracles' (above)"

# --now: a usage error without --tasks or with a time without a zone
run 64 "$LEURA" -C repo schedule --now 2026-01-15T10:30:00Z
expect_in err "--now goes with --tasks"
run 64 "$LEURA" -C repo schedule --tasks --now 2026-01-15T10:30:00
expect_in err "missing timezone"
expect_in err "hint: write the time in ISO 8601 with a zone"
done_testing
