/*
 * Tests for cron_due() (server/cron.c): what is due for a schedule at a
 * given wall-clock time after its cursor (the last time handled), the
 * pure decision behind the leader's firings, misfires and clock jumps.
 * The firing itself (etcd, run_create, two replicas) is tested by
 * tests/server/t_cron.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cron.h"
#include "scheduler.h"

static int64_t
utc(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		fail_msg("bad date '%s' in the test", s);
	tm.tm_year -= 1900;
	tm.tm_mon--;
	return (int64_t)timegm(&tm);
}

static void
make(struct cron_sched *c, const char *expr, const char *zone,
    int64_t deadline_s, const char *cursor)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	if (sched_cron_parse(expr, &c->cron, err, sizeof(err), NULL) < 0)
		fail_msg("'%s': %s", expr, err);
	if (zone != NULL && sched_tz_load(NULL, zone, &c->tz, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	c->deadline_s = deadline_s;
	c->cursor = utc(cursor);
}

static void
expect_due(const struct cron_sched *c, const char *now,
    enum cron_action what, const char *time, int64_t older)
{
	struct cron_due d;

	cron_due(c, utc(now), &d);
	assert_int_equal(d.what, what);
	if (what == CRON_NONE)
		return;
	assert_int_equal(d.time, utc(time));
	assert_int_equal(d.older, older);
}

static void
t_due(void **state)
{
	struct cron_sched c;

	(void)state;
	make(&c, "*/5 * * * *", NULL, 600, "2026-12-07 10:00:00");
	/* nothing yet; on time; a second late; at the deadline; past it */
	expect_due(&c, "2026-12-07 10:04:59", CRON_NONE, NULL, 0);
	expect_due(&c, "2026-12-07 10:05:00", CRON_FIRE,
	    "2026-12-07 10:05:00", 0);
	expect_due(&c, "2026-12-07 10:05:01", CRON_FIRE,
	    "2026-12-07 10:05:00", 0);
	expect_due(&c, "2026-12-07 10:15:00", CRON_FIRE,
	    "2026-12-07 10:15:00", 2);
	expect_due(&c, "2026-12-07 10:19:59", CRON_FIRE,
	    "2026-12-07 10:15:00", 2);
	/* leurad down for an hour: the newest time, 11 older ones */
	expect_due(&c, "2026-12-07 11:04:00", CRON_FIRE,
	    "2026-12-07 11:00:00", 11);
	/* the newest time is older than the deadline: a misfire */
	c.deadline_s = 60;
	expect_due(&c, "2026-12-07 11:04:00", CRON_MISSED,
	    "2026-12-07 11:00:00", 11);
	/* a clock jump back behind the cursor: nothing, ever twice */
	c.cursor = utc("2026-12-07 11:00:00");
	expect_due(&c, "2026-12-07 10:30:00", CRON_NONE, NULL, 0);
	expect_due(&c, "2026-12-07 11:00:00", CRON_NONE, NULL, 0);
	expect_due(&c, "2026-12-07 11:05:00", CRON_FIRE,
	    "2026-12-07 11:05:00", 0);
	cron_sched_release(&c);

	/* a year of minutes down: counted, and still the newest */
	make(&c, "* * * * *", NULL, 600, "2025-12-07 10:00:00");
	expect_due(&c, "2026-12-07 10:00:30", CRON_FIRE,
	    "2026-12-07 10:00:00", 525599);
	cron_sched_release(&c);
}

static void
t_due_tz(void **state)
{
	struct cron_sched c;

	(void)state;
	/* 02:30 in Paris on the spring-forward day: due at 03:00 CEST */
	make(&c, "30 2 * * *", "Europe/Paris", 600, "2026-03-28 12:00:00");
	expect_due(&c, "2026-03-29 00:59:59", CRON_NONE, NULL, 0);
	expect_due(&c, "2026-03-29 01:00:00", CRON_FIRE,
	    "2026-03-29 01:00:00", 0);
	cron_sched_release(&c);
	/* the autumn overlap: due once, at the first 02:30 (CEST) */
	make(&c, "30 2 * * *", "Europe/Paris", 600, "2026-10-24 12:00:00");
	expect_due(&c, "2026-10-25 00:30:00", CRON_FIRE,
	    "2026-10-25 00:30:00", 0);
	c.cursor = utc("2026-10-25 00:30:00");
	expect_due(&c, "2026-10-25 01:30:00", CRON_NONE, NULL, 0);
	cron_sched_release(&c);
}

static void
t_due_at(void **state)
{
	struct cron_sched c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.at = utc("2026-12-07 10:00:00");
	c.deadline_s = 600;
	c.cursor = utc("2026-12-07 09:00:00");
	expect_due(&c, "2026-12-07 09:59:59", CRON_NONE, NULL, 0);
	expect_due(&c, "2026-12-07 10:09:00", CRON_FIRE,
	    "2026-12-07 10:00:00", 0);
	expect_due(&c, "2026-12-07 10:11:00", CRON_MISSED,
	    "2026-12-07 10:00:00", 0);
	/* deployed after its time: it never fires */
	c.cursor = utc("2026-12-07 10:00:01");
	expect_due(&c, "2026-12-07 10:00:02", CRON_NONE, NULL, 0);
	cron_sched_release(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_due),
		cmocka_unit_test(t_due_tz),
		cmocka_unit_test(t_due_at),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
