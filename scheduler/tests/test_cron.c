/*
 * Tests for scheduler/cron.c: cron expressions and `at` times.
 *
 * Expected fire times are written as readable UTC dates and converted with
 * the C library's timegm(), and a brute-force matcher walks the calendar
 * with gmtime_r(), so neither depends on cron.c's own calendar arithmetic.
 * The random cross-check uses a fixed seed: every run tests the same
 * expressions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "scheduler.h"

/* "YYYY-MM-DD HH:MM" or "YYYY-MM-DD HH:MM:SS", UTC, to Unix seconds. */
static int64_t
utc(const char *s)
{
	struct tm	 tm;
	int		 n;

	memset(&tm, 0, sizeof(tm));
	n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
	if (n != 5 && n != 6)
		fail_msg("bad date '%s' in the test", s);
	tm.tm_year -= 1900;
	tm.tm_mon--;
	return (int64_t)timegm(&tm);
}

static struct sched_cron *
parse_ok(const char *expr)
{
	struct sched_cron *c = NULL;
	char		 err[256] = "";
	size_t		 pos = 0;

	if (sched_cron_parse(expr, &c, err, sizeof(err), &pos) != 0)
		fail_msg("'%s' does not parse: %s (at %zu)", expr, err, pos);
	return c;
}

/* ---- expressions with known fire times ---- */

static const struct next_case {
	const char *expr;
	const char *after;
	const char *next[3];	/* NULL: never fires again */
} next_cases[] = {
	{ "* * * * *", "2026-01-15 10:30:00",
	    { "2026-01-15 10:31", "2026-01-15 10:32", "2026-01-15 10:33" } },
	{ "* * * * *", "2026-01-15 10:30:59",
	    { "2026-01-15 10:31", "2026-01-15 10:32", "2026-01-15 10:33" } },
	{ "*/1 * * * *", "2026-12-31 23:58:30",
	    { "2026-12-31 23:59", "2027-01-01 00:00", "2027-01-01 00:01" } },
	{ "0 * * * *", "2026-01-15 10:30:00",
	    { "2026-01-15 11:00", "2026-01-15 12:00", "2026-01-15 13:00" } },
	{ "0 * * * *", "2026-01-15 22:30:00",
	    { "2026-01-15 23:00", "2026-01-16 00:00", "2026-01-16 01:00" } },
	{ "45 22,23 * * *", "2026-12-31 22:50:00",
	    { "2026-12-31 23:45", "2027-01-01 22:45", "2027-01-01 23:45" } },
	{ "0 3 * * *", "2026-01-15 10:30:00",
	    { "2026-01-16 03:00", "2026-01-17 03:00", "2026-01-18 03:00" } },
	{ "0 3 * * *", "2026-01-15 03:00:00",
	    { "2026-01-16 03:00", "2026-01-17 03:00", "2026-01-18 03:00" } },
	{ "0 3 * * *", "2026-01-15 02:59:59",
	    { "2026-01-15 03:00", "2026-01-16 03:00", "2026-01-17 03:00" } },
	{ "30 2 * * *", "2026-12-31 23:00:00",
	    { "2027-01-01 02:30", "2027-01-02 02:30", "2027-01-03 02:30" } },
	{ "59 23 31 12 *", "2026-06-01 00:00:00",
	    { "2026-12-31 23:59", "2027-12-31 23:59", "2028-12-31 23:59" } },
	{ "0 0 1 1 *", "2026-12-31 23:59:59",
	    { "2027-01-01 00:00", "2028-01-01 00:00", "2029-01-01 00:00" } },
	{ "0 0 1 1 *", "2026-01-01 00:00:00",
	    { "2027-01-01 00:00", "2028-01-01 00:00", "2029-01-01 00:00" } },
	{ "0 0 1 1 *", "1969-12-31 23:59:59",
	    { "1970-01-01 00:00", "1971-01-01 00:00", "1972-01-01 00:00" } },
	{ "0 0 * * *", "1965-06-01 12:00:00",
	    { "1965-06-02 00:00", "1965-06-03 00:00", "1965-06-04 00:00" } },
	{ "0 0 1 1 *", "9997-06-01 00:00:00",
	    { "9998-01-01 00:00", "9999-01-01 00:00", NULL } },
	{ "00 03 01 01 *", "2026-01-15 10:30:00",
	    { "2027-01-01 03:00", "2028-01-01 03:00", "2029-01-01 03:00" } },
	{ "0 0 1 * *", "2026-01-31 12:00:00",
	    { "2026-02-01 00:00", "2026-03-01 00:00", "2026-04-01 00:00" } },
	{ "0 0 31 * *", "2026-01-31 00:00:00",
	    { "2026-03-31 00:00", "2026-05-31 00:00", "2026-07-31 00:00" } },
	{ "0 0 30 * *", "2026-01-15 10:30:00",
	    { "2026-01-30 00:00", "2026-03-30 00:00", "2026-04-30 00:00" } },
	{ "0 0 29 * *", "2027-01-30 00:00:00",
	    { "2027-03-29 00:00", "2027-04-29 00:00", "2027-05-29 00:00" } },
	{ "0 0 29 * *", "2028-01-30 00:00:00",
	    { "2028-02-29 00:00", "2028-03-29 00:00", "2028-04-29 00:00" } },
	{ "0 0 29 2 *", "2026-01-01 00:00:00",
	    { "2028-02-29 00:00", "2032-02-29 00:00", "2036-02-29 00:00" } },
	{ "0 0 29 2 *", "2096-03-01 00:00:00",
	    { "2104-02-29 00:00", "2108-02-29 00:00", "2112-02-29 00:00" } },
	{ "0 0 29 2 *", "2099-01-01 00:00:00",
	    { "2104-02-29 00:00", "2108-02-29 00:00", "2112-02-29 00:00" } },
	{ "0 0 28-31 2 *", "2026-01-01 00:00:00",
	    { "2026-02-28 00:00", "2027-02-28 00:00", "2028-02-28 00:00" } },
	{ "0 0 28-31 2 *", "2028-02-28 00:00:00",
	    { "2028-02-29 00:00", "2029-02-28 00:00", "2030-02-28 00:00" } },
	{ "59 23 28 2 *", "2100-02-27 00:00:00",
	    { "2100-02-28 23:59", "2101-02-28 23:59", "2102-02-28 23:59" } },
	{ "59 23 * * *", "2026-02-28 23:59:00",
	    { "2026-03-01 23:59", "2026-03-02 23:59", "2026-03-03 23:59" } },
	{ "0 12 31 12 *", "2027-12-31 12:00:00",
	    { "2028-12-31 12:00", "2029-12-31 12:00", "2030-12-31 12:00" } },
	{ "0 0 30 2 *", "2026-01-01 00:00:00",
	    { NULL, NULL, NULL } },
	{ "0 0 31 4 *", "2026-01-01 00:00:00",
	    { NULL, NULL, NULL } },
	{ "0 0 31 2,4,6,9,11 *", "2026-01-01 00:00:00",
	    { NULL, NULL, NULL } },
	{ "0 0 31 4,7 *", "2026-01-01 00:00:00",
	    { "2026-07-31 00:00", "2027-07-31 00:00", "2028-07-31 00:00" } },
	{ "0 0 30 2 1", "2026-01-01 00:00:00",
	    { "2026-02-02 00:00", "2026-02-09 00:00", "2026-02-16 00:00" } },
	{ "0 0 29 2 1", "2026-01-01 00:00:00",
	    { "2026-02-02 00:00", "2026-02-09 00:00", "2026-02-16 00:00" } },
	{ "*/15 * * * *", "2026-01-15 10:31:00",
	    { "2026-01-15 10:45", "2026-01-15 11:00", "2026-01-15 11:15" } },
	{ "*/7 * * * *", "2026-01-15 10:55:00",
	    { "2026-01-15 10:56", "2026-01-15 11:00", "2026-01-15 11:07" } },
	{ "5/20 * * * *", "2026-01-15 10:30:00",
	    { "2026-01-15 10:45", "2026-01-15 11:05", "2026-01-15 11:25" } },
	{ "10-30/10 * * * *", "2026-01-15 10:25:00",
	    { "2026-01-15 10:30", "2026-01-15 11:10", "2026-01-15 11:20" } },
	{ "0-5 * * * *", "2026-01-15 10:58:00",
	    { "2026-01-15 11:00", "2026-01-15 11:01", "2026-01-15 11:02" } },
	{ "58-59,0-1 * * * *", "2026-01-15 10:58:00",
	    { "2026-01-15 10:59", "2026-01-15 11:00", "2026-01-15 11:01" } },
	{ "0 */6 * * *", "2026-01-15 10:30:00",
	    { "2026-01-15 12:00", "2026-01-15 18:00", "2026-01-16 00:00" } },
	{ "0 9-17/4 * * *", "2026-01-15 10:30:00",
	    { "2026-01-15 13:00", "2026-01-15 17:00", "2026-01-16 09:00" } },
	{ "23 0-20/2 * * *", "2026-01-15 19:00:00",
	    { "2026-01-15 20:23", "2026-01-16 00:23", "2026-01-16 02:23" } },
	{ "15,45 8,20 * * *", "2026-01-15 10:30:00",
	    { "2026-01-15 20:15", "2026-01-15 20:45", "2026-01-16 08:15" } },
	{ "0 0,12 1,15 * *", "2026-01-15 12:00:00",
	    { "2026-02-01 00:00", "2026-02-01 12:00", "2026-02-15 00:00" } },
	{ "0 0 * * 0", "2026-01-15 10:30:00",
	    { "2026-01-18 00:00", "2026-01-25 00:00", "2026-02-01 00:00" } },
	{ "0 0 * * 7", "2026-01-15 10:30:00",
	    { "2026-01-18 00:00", "2026-01-25 00:00", "2026-02-01 00:00" } },
	{ "0 0 * * sun", "2026-01-15 10:30:00",
	    { "2026-01-18 00:00", "2026-01-25 00:00", "2026-02-01 00:00" } },
	{ "0 0 * * SUN", "2026-01-15 10:30:00",
	    { "2026-01-18 00:00", "2026-01-25 00:00", "2026-02-01 00:00" } },
	{ "5 4 * * Sun", "2026-01-18 04:05:00",
	    { "2026-01-25 04:05", "2026-02-01 04:05", "2026-02-08 04:05" } },
	{ "0 9 * * mon-fri", "2026-01-16 18:00:00",
	    { "2026-01-19 09:00", "2026-01-20 09:00", "2026-01-21 09:00" } },
	{ "0 9 * * 1-5", "2026-01-16 18:00:00",
	    { "2026-01-19 09:00", "2026-01-20 09:00", "2026-01-21 09:00" } },
	{ "0 9 * * 6,0", "2026-01-15 10:30:00",
	    { "2026-01-17 09:00", "2026-01-18 09:00", "2026-01-24 09:00" } },
	{ "0 9 * * fri-sun", "2026-01-15 10:30:00",
	    { "2026-01-16 09:00", "2026-01-17 09:00", "2026-01-18 09:00" } },
	{ "0 9 * * 5-7", "2026-01-15 10:30:00",
	    { "2026-01-16 09:00", "2026-01-17 09:00", "2026-01-18 09:00" } },
	{ "0 9 * * */2", "2026-01-15 10:30:00",
	    { "2026-01-17 09:00", "2026-01-18 09:00", "2026-01-20 09:00" } },
	{ "0 9 * * 1-7/2", "2026-01-15 10:30:00",
	    { "2026-01-16 09:00", "2026-01-18 09:00", "2026-01-19 09:00" } },
	{ "0 9 * * */7", "2026-01-15 10:30:00",
	    { "2026-01-18 09:00", "2026-01-25 09:00", "2026-02-01 09:00" } },
	{ "0 0 * * 1,3,5", "2026-01-16 00:00:00",
	    { "2026-01-19 00:00", "2026-01-21 00:00", "2026-01-23 00:00" } },
	{ "0 0 * * 1-1", "2026-01-15 10:30:00",
	    { "2026-01-19 00:00", "2026-01-26 00:00", "2026-02-02 00:00" } },
	{ "0 22 * * 1-5", "2026-01-16 22:00:00",
	    { "2026-01-19 22:00", "2026-01-20 22:00", "2026-01-21 22:00" } },
	{ "0 0 13 * 5", "2026-01-15 10:30:00",
	    { "2026-01-16 00:00", "2026-01-23 00:00", "2026-01-30 00:00" } },
	{ "0 0 1 * 1", "2026-01-15 10:30:00",
	    { "2026-01-19 00:00", "2026-01-26 00:00", "2026-02-01 00:00" } },
	{ "30 4 1,15 * 5", "2026-01-15 10:30:00",
	    { "2026-01-16 04:30", "2026-01-23 04:30", "2026-01-30 04:30" } },
	/* Vixie: "1-31" does not begin with '*', so the days are ORed */
	{ "0 0 1-31 * 1", "2026-01-15 10:30:00",
	    { "2026-01-16 00:00", "2026-01-17 00:00", "2026-01-18 00:00" } },
	{ "0 0 ? * 1", "2026-01-15 10:30:00",
	    { "2026-01-19 00:00", "2026-01-26 00:00", "2026-02-02 00:00" } },
	{ "0 0 1 * ?", "2026-01-15 10:30:00",
	    { "2026-02-01 00:00", "2026-03-01 00:00", "2026-04-01 00:00" } },
	/* "*\/2" begins with '*': ANDed, odd days that are Mondays */
	{ "0 0 */2 * 1", "2026-01-15 10:30:00",
	    { "2026-01-19 00:00", "2026-02-09 00:00", "2026-02-23 00:00" } },
	{ "0 0 13 * */2", "2026-01-15 10:30:00",
	    { "2026-06-13 00:00", "2026-08-13 00:00", "2026-09-13 00:00" } },
	{ "0 0 13 * *,5", "2026-01-15 10:30:00",
	    { "2026-02-13 00:00", "2026-03-13 00:00", "2026-04-13 00:00" } },
	{ "0 0 13 * 0-7", "2026-01-15 10:30:00",
	    { "2026-01-16 00:00", "2026-01-17 00:00", "2026-01-18 00:00" } },
	{ "0 0 13 * 0-6", "2026-01-15 10:30:00",
	    { "2026-01-16 00:00", "2026-01-17 00:00", "2026-01-18 00:00" } },
	{ "0 0 13 * *", "2026-01-15 10:30:00",
	    { "2026-02-13 00:00", "2026-03-13 00:00", "2026-04-13 00:00" } },
	{ "0 12 * jan,jul *", "2026-01-31 11:00:00",
	    { "2026-01-31 12:00", "2026-07-01 12:00", "2026-07-02 12:00" } },
	{ "0 0 1 JAN-MAR *", "2026-02-15 00:00:00",
	    { "2026-03-01 00:00", "2027-01-01 00:00", "2027-02-01 00:00" } },
	{ "0 0 1 */3 *", "2026-01-15 10:30:00",
	    { "2026-04-01 00:00", "2026-07-01 00:00", "2026-10-01 00:00" } },
	{ "0 0 1 2/5 *", "2026-01-15 10:30:00",
	    { "2026-02-01 00:00", "2026-07-01 00:00", "2026-12-01 00:00" } },
	{ "0 0 1 dec *", "2026-12-01 00:00:00",
	    { "2027-12-01 00:00", "2028-12-01 00:00", "2029-12-01 00:00" } },
	{ "0 0 1 Feb,aug 1", "2026-01-15 10:30:00",
	    { "2026-02-01 00:00", "2026-02-02 00:00", "2026-02-09 00:00" } },
	{ "30 2 * 3 *", "2026-03-28 00:00:00",
	    { "2026-03-28 02:30", "2026-03-29 02:30", "2026-03-30 02:30" } },
	{ "@yearly", "2026-05-05 00:00:00",
	    { "2027-01-01 00:00", "2028-01-01 00:00", "2029-01-01 00:00" } },
	{ "@annually", "2026-05-05 00:00:00",
	    { "2027-01-01 00:00", "2028-01-01 00:00", "2029-01-01 00:00" } },
	{ "@monthly", "2026-01-31 23:59:59",
	    { "2026-02-01 00:00", "2026-03-01 00:00", "2026-04-01 00:00" } },
	{ "@weekly", "2026-01-15 10:30:00",
	    { "2026-01-18 00:00", "2026-01-25 00:00", "2026-02-01 00:00" } },
	{ "@daily", "2026-12-31 00:00:00",
	    { "2027-01-01 00:00", "2027-01-02 00:00", "2027-01-03 00:00" } },
	{ "@midnight", "2026-12-31 00:00:00",
	    { "2027-01-01 00:00", "2027-01-02 00:00", "2027-01-03 00:00" } },
	{ "@hourly", "2026-01-15 23:30:00",
	    { "2026-01-16 00:00", "2026-01-16 01:00", "2026-01-16 02:00" } },
	{ "@DAILY", "2026-01-15 10:30:00",
	    { "2026-01-16 00:00", "2026-01-17 00:00", "2026-01-18 00:00" } },
	{ "0 0 1 1 *", "2024-02-29 12:00:00",
	    { "2025-01-01 00:00", "2026-01-01 00:00", "2027-01-01 00:00" } },
	{ "0 0 * * 1", "2027-12-27 00:00:00",
	    { "2028-01-03 00:00", "2028-01-10 00:00", "2028-01-17 00:00" } },
};

static void
test_sched_cron_next__table(void **state)
{
	const struct next_case	*tc;
	struct sched_cron	*c;
	int64_t			 t, next;
	size_t			 i, k;
	int			 rc;

	for (i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
		tc = &next_cases[i];
		c = parse_ok(tc->expr);
		t = utc(tc->after);
		for (k = 0; k < 3; k++) {
			next = 12345;
			rc = sched_cron_next(c, t, &next);
			if (tc->next[k] == NULL) {
				if (rc != -1)
					fail_msg("'%s' after %s: expected no "
					    "fire time #%zu, got %lld",
					    tc->expr, tc->after, k + 1,
					    (long long)next);
				assert_int_equal(next, 12345);
				break;
			}
			if (rc != 0 || next != utc(tc->next[k]))
				fail_msg("'%s' after %s: fire time #%zu is "
				    "%lld (rc %d), expected %s (%lld)",
				    tc->expr, tc->after, k + 1,
				    (long long)next, rc, tc->next[k],
				    (long long)utc(tc->next[k]));
			t = next;
		}
		sched_cron_free(c);
	}
}

static void
test_sched_cron_next__second_resolution(void **state)
{
	struct sched_cron	*c = parse_ok("* * * * *");
	int64_t			 next, base = utc("2026-01-15 10:30:00");

	/* any second of a minute moves to the next whole minute */
	assert_int_equal(sched_cron_next(c, base, &next), 0);
	assert_int_equal(next, base + 60);
	assert_int_equal(sched_cron_next(c, base - 1, &next), 0);
	assert_int_equal(next, base);
	assert_int_equal(sched_cron_next(c, base + 59, &next), 0);
	assert_int_equal(next, base + 60);
	/* before 1970, where division rounds the other way */
	assert_int_equal(sched_cron_next(c, -1, &next), 0);
	assert_int_equal(next, 0);
	assert_int_equal(sched_cron_next(c, -61, &next), 0);
	assert_int_equal(next, -60);
	assert_int_equal(sched_cron_next(c, -60, &next), 0);
	assert_int_equal(next, 0);
	sched_cron_free(c);
}

static void
test_sched_cron_next__extreme_times(void **state)
{
	struct sched_cron	*c = parse_ok("* * * * *");
	int64_t			 next = 7;

	/* outside the years 0001-9999: reported as never firing */
	assert_int_equal(sched_cron_next(c, INT64_MAX, &next), -1);
	assert_int_equal(sched_cron_next(c, INT64_MIN, &next), -1);
	assert_int_equal(sched_cron_next(c, utc("9999-12-31 23:59:00"),
	    &next), -1);
	assert_int_equal(next, 7);
	assert_int_equal(sched_cron_next(c, utc("9999-12-31 23:58:00"),
	    &next), 0);
	assert_int_equal(next, utc("9999-12-31 23:59:00"));
	assert_int_equal(sched_cron_next(c, utc("0001-01-01 00:00:00"),
	    &next), 0);
	assert_int_equal(next, utc("0001-01-01 00:01:00"));
	sched_cron_free(c);
}

static void
test_sched_cron_next__never_fires(void **state)
{
	static const char *const never[] = {
		"0 0 30 2 *", "0 0 31 4 *", "0 0 31 6 *", "0 0 31 9 *",
		"0 0 31 11 *", "* * 30-31 feb *", "0 0 31 2,4,6,9,11 *",
		"*/5 * 30 2 ?",
	};
	struct sched_cron	*c;
	int64_t			 next = 7;
	size_t			 i;

	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		c = parse_ok(never[i]);
		if (sched_cron_next(c, utc("2026-01-01 00:00"), &next) != -1)
			fail_msg("'%s' fires at %lld", never[i],
			    (long long)next);
		assert_int_equal(sched_cron_next(c, 0, &next), -1);
		assert_int_equal(next, 7);
		sched_cron_free(c);
	}
}

/* ---- invalid expressions ---- */

static const struct bad_case {
	const char *expr;
	const char *msg;	/* a substring of the message */
	size_t	 pos;
} bad_cases[] = {
	{ "", "empty cron expression", 0 },
	{ "   ", "empty cron expression", 3 },
	{ "0 0 * * * *",
	    "expected 5 fields (minute hour day month weekday), got 6", 10 },
	{ "0 0 * * * * 7 8", "got 8", 10 },
	{ "0 0 * *", "expected 5 fields (minute hour day month weekday), "
	    "got 4", 7 },
	{ "0", "got 1", 1 },
	{ "60 * * * *", "minute 60 out of range 0-59", 0 },
	{ "* 24 * * *", "hour 24 out of range 0-23", 2 },
	{ "* 0-24 * * *", "hour 24 out of range 0-23", 2 },
	{ "* * 0 * *", "day 0 out of range 1-31", 4 },
	{ "* * 32 * *", "day 32 out of range 1-31", 4 },
	{ "0 0 1-32 * *", "day 32 out of range 1-31", 4 },
	{ "* * * 13 *", "month 13 out of range 1-12", 6 },
	{ "* * * 0 *", "month 0 out of range 1-12", 6 },
	{ "* * * * 8", "weekday 8 out of range 0-7", 8 },
	{ "0  0  *  *  8", "weekday 8 out of range 0-7", 12 },
	{ "\t0 0 * * 1,9", "weekday 9 out of range 0-7", 9 },
	{ "99999999999999999999 * * * *",
	    "minute 99999999999999999999 out of range 0-59", 0 },
	{ "5-2 * * * *", "minute range '5-2' runs backwards", 0 },
	{ "0 0 * * sat-mon", "weekday range 'sat-mon' runs backwards", 8 },
	{ "0 0 * * 6-0", "weekday range '6-0' runs backwards", 8 },
	{ "0 0 * dec-jan *", "month range 'dec-jan' runs backwards", 6 },
	{ "*/0 * * * *", "minute step 0", 0 },
	{ "0 1-5/0 * * *", "hour step 0", 2 },
	{ "0 0 * jan-dec/0 *", "month step 0", 6 },
	{ "*/60 * * * *", "minute step 60 out of range 1-59", 0 },
	{ "0 */24 * * *", "hour step 24 out of range 1-23", 2 },
	{ "*/ * * * *", "missing minute step", 0 },
	{ "x * * * *", "invalid minute 'x'", 0 },
	{ "-1 * * * *", "invalid minute '-1'", 0 },
	{ "*5 * * * *", "invalid minute '*5'", 0 },
	{ "1-2-3 * * * *", "invalid minute '1-2-3'", 0 },
	{ "1/2/3 * * * *", "invalid minute '1/2/3'", 0 },
	{ "0 9 * * 1/2", "weekday step '1/2' needs a range: write 'a-b/n'",
	    8 },
	{ "0 9 * * 0,mon/2", "weekday step 'mon/2' needs a range", 8 },
	{ "0 9 * * 7/1", "weekday step '7/1' needs a range", 8 },
	{ "0 jan * * *", "invalid hour 'jan'", 2 },
	{ "* * * foo *", "invalid month 'foo': expected a number 1-12 or a "
	    "name jan-dec", 6 },
	{ "* * * january *", "invalid month 'january'", 6 },
	{ "* * * * mon-fry", "invalid weekday 'mon-fry'", 8 },
	{ "* * * * MONDAY", "invalid weekday 'MONDAY'", 8 },
	{ "* * * * mon/x", "invalid weekday 'mon/x'", 8 },
	{ "* * * * */mon", "invalid weekday '*/mon'", 8 },
	{ "* * L * *", "invalid day 'L'", 4 },
	{ "* * 15W * *", "invalid day '15W'", 4 },
	{ "* * * * 5#3", "invalid weekday '5#3'", 8 },
	{ "1,,2 * * * *", "empty element in minute list '1,,2'", 0 },
	{ "* * * * 1,", "empty element in weekday list '1,'", 8 },
	{ "* * ,1 * *", "empty element in day list ',1'", 4 },
	{ "? * * * *", "'?' is only allowed in the day and weekday fields, "
	    "not in the minute field", 0 },
	{ "* * * ? *", "not in the month field", 6 },
	{ "* * ?/2 * *", "invalid day '?/2'", 4 },
	{ "@reboot", "@reboot is not supported: tasks run on the leura "
	    "server, which has no boot", 0 },
	{ "  @REBOOT", "@reboot is not supported", 2 },
	{ "@every 5m", "unknown macro '@every'", 0 },
	{ "@", "unknown macro '@'", 0 },
	{ "@daily 5", "unexpected '5' after @daily", 7 },
	{ "  @hourly x", "unexpected 'x' after @hourly", 10 },
};

static void
test_sched_cron_parse__invalid(void **state)
{
	const struct bad_case	*tc;
	struct sched_cron	*c;
	char			 err[256];
	size_t			 i, pos;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		tc = &bad_cases[i];
		c = (struct sched_cron *)&c;	/* must stay untouched */
		err[0] = '\0';
		pos = 9999;
		if (sched_cron_parse(tc->expr, &c, err, sizeof(err),
		    &pos) != -1)
			fail_msg("'%s' parses", tc->expr);
		assert_ptr_equal(c, (struct sched_cron *)&c);
		if (strstr(err, tc->msg) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", tc->expr,
			    err, tc->msg);
		if (pos != tc->pos)
			fail_msg("'%s': error at %zu, expected %zu (%s)",
			    tc->expr, pos, tc->pos, err);
	}
}

static void
test_sched_cron_parse__null_error_outputs(void **state)
{
	struct sched_cron	*c = NULL;
	char			 err[8];

	assert_int_equal(sched_cron_parse("61 * * * *", &c, NULL, 0, NULL),
	    -1);
	assert_null(c);
	/* a short buffer gets a truncated, terminated message */
	assert_int_equal(sched_cron_parse("61 * * * *", &c, err, sizeof(err),
	    NULL), -1);
	assert_string_equal(err, "minute ");
	assert_int_equal(sched_cron_parse("0 3 * * *", &c, NULL, 0, NULL),
	    0);
	assert_non_null(c);
	sched_cron_free(c);
	sched_cron_free(NULL);
}

static void
test_sched_cron_parse__equivalent_spellings(void **state)
{
	/* each group fires at the same times */
	static const char *const groups[][4] = {
		{ "0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "@weekly" },
		{ "0 9 * * 1-5", "0 9 * * mon-fri", "0 9 ? * Mon-Fri",
		    "0 9 * * 1,2,3,4,5" },
		{ "0 0 1 1 *", "@yearly", "@annually", "0 0 1 jan ?" },
		{ "0 0 * * *", "@daily", "@midnight", "0 0 1-31 1-12 0-7" },
		{ "0 * * * *", "@hourly", "0 */1 * * *", "0 0-23 * * *" },
		{ "*/15 * * * *", "0,15,30,45 * * * *", "0-59/15 * * * *",
		    "0/15 * * * *" },
		{ "0 0 * * 5-7", "0 0 * * fri-sun", "0 0 * * 0,5,6",
		    "0 0 * * fri-sat,7" },
		{ "0 0 1 * *", "@monthly", "0 0 1 */1 *", "0 0 1 * ?" },
	};
	struct sched_cron	*c[4];
	int64_t			 t[4], start;
	size_t			 g, k, n;

	start = utc("2026-01-15 10:30:17");
	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		for (k = 0; k < 4; k++) {
			c[k] = parse_ok(groups[g][k]);
			t[k] = start;
		}
		for (n = 0; n < 50; n++) {
			for (k = 0; k < 4; k++)
				assert_int_equal(sched_cron_next(c[k], t[k],
				    &t[k]), 0);
			for (k = 1; k < 4; k++)
				if (t[k] != t[0])
					fail_msg("'%s' and '%s' differ: %lld "
					    "vs %lld", groups[g][0],
					    groups[g][k], (long long)t[0],
					    (long long)t[k]);
		}
		for (k = 0; k < 4; k++)
			sched_cron_free(c[k]);
	}
}

/* ---- cross-check against a brute-force matcher ---- */

struct ref_cron {
	uint64_t minutes, hours, days, months, weekdays;
	int	 days_restricted, weekdays_restricted;
};

static uint64_t
prng(uint64_t *s)
{
	uint64_t	 z;

	/* splitmix64 */
	z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
pick(uint64_t *s, int lo, int hi)
{
	return lo + (int)(prng(s) % (uint64_t)(hi - lo + 1));
}

static const char *const ref_months[] = {
	"jan", "Feb", "mar", "APR", "may", "jun", "jul", "aug", "Sep", "oct",
	"nov", "dec"
};
static const char *const ref_weekdays[] = {
	"sun", "Mon", "tue", "WED", "thu", "fri", "sat"
};

/* Write v, sometimes as a name. */
static int
put_value(char *buf, size_t len, uint64_t *s, int f, int v)
{
	if (f == 3 && pick(s, 0, 2) == 0)
		return snprintf(buf, len, "%s", ref_months[v - 1]);
	if (f == 4 && v < 7 && pick(s, 0, 2) == 0)
		return snprintf(buf, len, "%s", ref_weekdays[v]);
	return snprintf(buf, len, "%d", v);
}

/*
 * Append a random field to buf and return the set of values it stands for,
 * computed from the pieces chosen rather than from the text.
 */
static uint64_t
random_field(char *buf, size_t len, uint64_t *s, int f, int *restricted)
{
	static const int min[] = { 0, 0, 1, 1, 0 };
	static const int max[] = { 59, 23, 31, 12, 7 };
	uint64_t	 set = 0, full;
	size_t		 n = strlen(buf);
	int		 elems, e, kind, a, b, step, v;

	full = ((uint64_t)2 << max[f]) - ((uint64_t)1 << min[f]);
	if (f == 4)
		full = (full & ~((uint64_t)1 << 7)) | 1;	/* 7 is 0 */
	if (pick(s, 0, 3) == 0) {
		snprintf(buf + n, len - n, (f == 2 || f == 4) &&
		    pick(s, 0, 1) ? "?" : "*");
		*restricted = 0;
		return full;
	}
	/* cron(5): a field is restricted unless it begins with '*' */
	*restricted = 1;
	elems = pick(s, 1, 3);
	for (e = 0; e < elems; e++) {
		if (e > 0)
			n += snprintf(buf + n, len - n, ",");
		/* no "a/n" in the weekday field */
		kind = pick(s, 0, f == 4 ? 3 : 4);
		a = pick(s, min[f], max[f]);
		b = pick(s, a, max[f]);
		step = pick(s, 1, f == 4 ? 3 : max[f] / 3 + 1);
		switch (kind) {
		case 0:		/* v */
			n += put_value(buf + n, len - n, s, f, a);
			b = a;
			step = 1;
			break;
		case 1:		/* a-b */
			n += put_value(buf + n, len - n, s, f, a);
			n += snprintf(buf + n, len - n, "-");
			n += put_value(buf + n, len - n, s, f, b);
			step = 1;
			break;
		case 2:		/* a-b/n */
			n += put_value(buf + n, len - n, s, f, a);
			n += snprintf(buf + n, len - n, "-");
			n += put_value(buf + n, len - n, s, f, b);
			n += snprintf(buf + n, len - n, "/%d", step);
			break;
		case 3:		/* star, step */
			n += snprintf(buf + n, len - n, "*/%d", step);
			if (e == 0)
				*restricted = 0;
			a = min[f];
			b = max[f];
			break;
		default:	/* a/n */
			n += put_value(buf + n, len - n, s, f, a);
			n += snprintf(buf + n, len - n, "/%d", step);
			b = max[f];
			break;
		}
		for (v = a; v <= b; v += step)
			set |= (uint64_t)1 << (f == 4 && v == 7 ? 0 : v);
	}
	return set;
}

/* Append one space, within len (no strcat: see tools/check). */
static void
strlcat_space(char *buf, size_t len)
{
	size_t n = strlen(buf);

	if (n + 1 < len) {
		buf[n] = ' ';
		buf[n + 1] = '\0';
	}
}

static void
random_cron(char *buf, size_t len, uint64_t *s, struct ref_cron *r)
{
	int	 unused;

	buf[0] = '\0';
	r->minutes = random_field(buf, len, s, 0, &unused);
	strlcat_space(buf, len);
	r->hours = random_field(buf, len, s, 1, &unused);
	strlcat_space(buf, len);
	r->days = random_field(buf, len, s, 2, &r->days_restricted);
	strlcat_space(buf, len);
	r->months = random_field(buf, len, s, 3, &unused);
	strlcat_space(buf, len);
	r->weekdays = random_field(buf, len, s, 4, &r->weekdays_restricted);
}

static int
ref_day_matches(const struct ref_cron *r, const struct tm *tm)
{
	int	 dom, dow;

	if (!((r->months >> (tm->tm_mon + 1)) & 1))
		return 0;
	dom = (r->days >> tm->tm_mday) & 1;
	dow = (r->weekdays >> tm->tm_wday) & 1;
	if (r->days_restricted && r->weekdays_restricted)
		return dom || dow;
	return dom && dow;
}

/*
 * The first matching minute after `after`, checking every minute of every
 * matching day; days that do not match are skipped whole.  -1 when nothing
 * matches within 30 years.
 */
static int64_t
ref_next(const struct ref_cron *r, int64_t after)
{
	struct tm	 tm;
	time_t		 t;
	int64_t		 limit = after + 30LL * 366 * 86400;

	t = (time_t)(after - ((after % 60) + 60) % 60 + 60);
	while (t <= limit) {
		gmtime_r(&t, &tm);
		if (!ref_day_matches(r, &tm)) {
			t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60 +
			    tm.tm_sec);
			continue;
		}
		if (((r->hours >> tm.tm_hour) & 1) &&
		    ((r->minutes >> tm.tm_min) & 1))
			return t;
		t += 60;
	}
	return -1;
}

static void
test_sched_cron_next__matches_brute_force(void **state)
{
	struct ref_cron		 r;
	struct sched_cron	*c;
	char			 expr[256];
	uint64_t		 seed = 20260115;
	int64_t			 after, got, want;
	int			 i, j, k, rc;

	for (i = 0; i < 200; i++) {
		random_cron(expr, sizeof(expr), &seed, &r);
		c = parse_ok(expr);
		for (j = 0; j < 3; j++) {
			/* 1901 to 2099, any second */
			after = (int64_t)(prng(&seed) % 6247000000ULL) -
			    2145916800LL;
			for (k = 0; k < 3; k++) {
				want = ref_next(&r, after);
				got = -1;
				rc = sched_cron_next(c, after, &got);
				if (want == -1 ? rc != -1 :
				    rc != 0 || got != want)
					fail_msg("'%s' after %lld: got %lld "
					    "(rc %d), brute force says %lld",
					    expr, (long long)after,
					    (long long)got, rc,
					    (long long)want);
				if (want == -1)
					break;
				after = want;
			}
		}
		sched_cron_free(c);
	}
}

/* ---- `at` ---- */

static void
test_sched_at_parse__valid(void **state)
{
	static const struct {
		const char *in;
		const char *utc;
	} cases[] = {
		{ "2026-12-01T03:00:00Z", "2026-12-01 03:00:00" },
		{ "2026-12-01t03:00:00z", "2026-12-01 03:00:00" },
		{ "2026-12-01 03:00:00Z", "2026-12-01 03:00:00" },
		{ "2026-12-01T03:00:00+00:00", "2026-12-01 03:00:00" },
		{ "2026-12-01T03:00:00-00:00", "2026-12-01 03:00:00" },
		{ "2026-12-01T03:00:00+02:00", "2026-12-01 01:00:00" },
		{ "2026-12-01T03:00:00-05:30", "2026-12-01 08:30:00" },
		{ "2026-01-01T00:30:00+01:00", "2025-12-31 23:30:00" },
		{ "2026-12-31T23:30:00-01:00", "2027-01-01 00:30:00" },
		{ "2026-06-30T23:59:59+14:00", "2026-06-30 09:59:59" },
		{ "2026-12-01T03:00:00.123456Z", "2026-12-01 03:00:00" },
		{ "2026-12-01T03:00:59.999+00:00", "2026-12-01 03:00:59" },
		{ "2028-02-29T00:00:00Z", "2028-02-29 00:00:00" },
		{ "2000-02-29T12:00:00Z", "2000-02-29 12:00:00" },
		{ "2026-04-30T12:00:00Z", "2026-04-30 12:00:00" },
		{ "1970-01-01T00:00:00Z", "1970-01-01 00:00:00" },
		{ "1969-12-31T23:59:59Z", "1969-12-31 23:59:59" },
		{ "1970-01-01T01:00:00+01:00", "1970-01-01 00:00:00" },
		{ "9999-12-31T23:59:59Z", "9999-12-31 23:59:59" },
	};
	int64_t	 t;
	char	 err[256];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (sched_at_parse(cases[i].in, &t, err, sizeof(err)) != 0)
			fail_msg("'%s' does not parse: %s", cases[i].in, err);
		if (t != utc(cases[i].utc))
			fail_msg("'%s' is %lld, expected %s", cases[i].in,
			    (long long)t, cases[i].utc);
	}
	assert_int_equal(sched_at_parse("1970-01-01T00:00:00Z", &t, NULL, 0),
	    0);
	assert_int_equal(t, 0);
}

static void
test_sched_at_parse__invalid(void **state)
{
	static const struct {
		const char *in;
		const char *msg;
	} cases[] = {
		{ "", "empty time" },
		{ "2026-13-01T00:00:00Z", "month 13 out of range" },
		{ "2026-00-10T00:00:00Z", "month 0 out of range" },
		{ "2026-02-29T00:00:00Z", "day 29 out of range 1-28 for "
		    "2026-02" },
		{ "2100-02-29T00:00:00Z", "day 29 out of range 1-28 for "
		    "2100-02" },
		{ "2026-04-31T00:00:00Z", "day 31 out of range 1-30" },
		{ "2026-01-32T00:00:00Z", "day 32 out of range 1-31" },
		{ "2026-01-00T00:00:00Z", "day 0 out of range" },
		{ "2026-12-01T24:00:00Z", "hour 24 out of range 0-23" },
		{ "2026-12-01T03:60:00Z", "minute 60 out of range 0-59" },
		{ "2026-12-01T03:00:60Z", "second 60 out of range 0-59 (leap "
		    "seconds are not supported)" },
		{ "2026-12-01T03:00:61Z", "second 61 out of range 0-59" },
		{ "2026-12-01T03:00:00", "missing timezone: add 'Z' for UTC or "
		    "an offset like '+02:00'" },
		{ "2026-12-01T03:00:00.5", "missing timezone" },
		{ "2026-12-01", "missing time of day" },
		{ "2026-12-01T03:00Z", "missing seconds" },
		{ "2026-12-01T03:00", "missing seconds" },
		{ "26-12-01T03:00:00Z", "4-digit year" },
		{ "tomorrow", "4-digit year" },
		{ "2026-1-01T03:00:00Z", "2-digit month and day" },
		{ "2026/12/01T03:00:00Z", "expected a date 'YYYY-MM-DD'" },
		{ "2026-12-01X03:00:00Z", "expected 'T'" },
		{ "2026-12-01T3:00:00Z", "'HH:MM:SS'" },
		{ "2026-12-01T03:00:0Z", "2-digit seconds" },
		{ "2026-12-01T03:00:00+0200", "invalid timezone offset" },
		{ "2026-12-01T03:00:00+02", "invalid timezone offset" },
		{ "2026-12-01T03:00:00+24:00", "timezone offset hour 24" },
		{ "2026-12-01T03:00:00+02:60", "timezone offset minute 60" },
		{ "2026-12-01T03:00:00 UTC", "invalid timezone" },
		{ "2026-12-01T03:00:00Zjunk", "unexpected 'junk' after the "
		    "timezone" },
		{ "2026-12-01T03:00:00Z ", "unexpected ' ' after the "
		    "timezone" },
		{ "2026-12-01T03:00:00.Z", "digits after '.'" },
	};
	int64_t	 t = 42;
	char	 err[256];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (sched_at_parse(cases[i].in, &t, err, sizeof(err)) != -1)
			fail_msg("'%s' parses", cases[i].in);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].in,
			    err, cases[i].msg);
		assert_int_equal(t, 42);
	}
	assert_int_equal(sched_at_parse("2026-02-29T00:00:00Z", &t, NULL, 0),
	    -1);
}

static void
test_sched_at_parse__matches_timegm(void **state)
{
	struct tm	 tm;
	uint64_t	 seed = 42;
	char		 buf[64], err[256];
	int64_t		 t, want;
	time_t		 tt;
	int		 i, off;

	/* random instants 0001-9999, printed with a random offset */
	for (i = 0; i < 2000; i++) {
		want = (int64_t)(prng(&seed) % 315537897600ULL) -
		    62135596800LL;
		off = pick(&seed, -23 * 60 - 59, 23 * 60 + 59);
		tt = (time_t)(want + off * 60);
		gmtime_r(&tt, &tm);
		if (tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
			continue;
		snprintf(buf, sizeof(buf),
		    "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
		    (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
		if (sched_at_parse(buf, &t, err, sizeof(err)) != 0)
			fail_msg("'%s' does not parse: %s", buf, err);
		if (t != want)
			fail_msg("'%s' is %lld, expected %lld", buf,
			    (long long)t, (long long)want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_cron_next__table),
		cmocka_unit_test(test_sched_cron_next__second_resolution),
		cmocka_unit_test(test_sched_cron_next__extreme_times),
		cmocka_unit_test(test_sched_cron_next__never_fires),
		cmocka_unit_test(test_sched_cron_parse__invalid),
		cmocka_unit_test(test_sched_cron_parse__null_error_outputs),
		cmocka_unit_test(test_sched_cron_parse__equivalent_spellings),
		cmocka_unit_test(test_sched_cron_next__matches_brute_force),
		cmocka_unit_test(test_sched_at_parse__valid),
		cmocka_unit_test(test_sched_at_parse__invalid),
		cmocka_unit_test(test_sched_at_parse__matches_timegm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
