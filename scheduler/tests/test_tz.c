/*
 * Tests for scheduler/tz.c (time zones from the system's zoneinfo) and
 * the zone-aware sched_cron_next_tz() / sched_at_parse_tz() of cron.c.
 *
 * Europe/Paris, America/New_York, Australia/Lord_Howe (a 30-minute DST)
 * and UTC, read from /usr/share/zoneinfo (Debian's tzdata).  Expected
 * instants are written as UTC dates (timegm); the offsets of every zone
 * are cross-checked against the C library's localtime_r() over 1900-2100
 * (this test sets TZ: it is single-threaded), which covers both the
 * transitions table (to 2037 in Debian's files) and the POSIX rule of
 * the footer (after it).  The DST days: Paris 2026-03-29 (02:00 -> 03:00,
 * at 01:00Z) and 2026-10-25 (03:00 -> 02:00, at 01:00Z); New York
 * 2026-03-08 (at 07:00Z) and 2026-11-01 (at 06:00Z); Lord Howe
 * 2026-04-05 (02:00 -> 01:30, at 04-04 15:00Z) and 2026-10-04 (02:00 ->
 * 02:30, at 10-03 15:30Z); the same in 2050 through the footer's rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "prng.h"
#include "scheduler.h"

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

static struct sched_tz *
load(const char *name)
{
	struct sched_tz *tz = NULL;
	char	 err[256] = "";

	if (sched_tz_load(NULL, name, &tz, err, sizeof(err)) != 0)
		fail_msg("zone '%s' does not load: %s", name, err);
	assert_string_equal(sched_tz_name(tz), name);
	return tz;
}

static void
t_names(void **state)
{
	static const char *const good[] = {
		"UTC", "Europe/Paris", "America/Argentina/Buenos_Aires",
		"Etc/GMT+5", "Etc/GMT-14", "America/Port-au-Prince",
	};
	static const char *const bad[] = {
		"", "/etc/passwd", "Europe/../../etc/passwd", "..", ".",
		"Europe/", "Europe//Paris", "Europe/Paris\n", "Europe Paris",
		"Europe/./Paris", "~root", "Europe/Paris;",
	};
	char	 long_name[300];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(sched_tz_name_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sched_tz_name_valid(bad[i]))
			fail_msg("'%s' passes as a zone name", bad[i]);
	memset(long_name, 'A', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(sched_tz_name_valid(long_name));
	assert_false(sched_tz_name_valid(NULL));
}

static void
expect_load_error(const char *dir, const char *name, const char *msg)
{
	struct sched_tz *tz = NULL;
	char	 err[256] = "";

	if (sched_tz_load(dir, name, &tz, err, sizeof(err)) == 0)
		fail_msg("zone '%s' loads", name);
	assert_null(tz);
	if (strstr(err, msg) == NULL)
		fail_msg("zone '%s': '%s' lacks '%s'", name, err, msg);
}

static void
t_load_errors(void **state)
{
	(void)state;
	expect_load_error(NULL, "Mars/Olympus_Mons", "unknown time zone");
	expect_load_error(NULL, "Europe", "not a zone file");
	expect_load_error(NULL, "../../etc/passwd", "invalid time zone name");
	expect_load_error(NULL, "/etc/passwd", "invalid time zone name");
	expect_load_error(NULL, "zone1970", "unknown time zone");
	expect_load_error(NULL, "leapseconds", "not a TZif file");
	expect_load_error("/nonexistent-zoneinfo", "UTC",
	    "cannot open the zoneinfo directory");
	expect_load_error(NULL, "right/UTC", "leap seconds");
}

/* Offsets against the C library's, at random instants 1900-2100. */
static void
cross_check(const char *name)
{
	struct sched_tz *tz = load(name);
	uint64_t rng = 14;
	struct tm tm;
	int64_t	 t, lo = utc("1900-01-01 00:00"), hi = utc("2100-01-01 00:00");
	int32_t	 off;
	time_t	 tt;
	const char *abbr;
	int	 i;

	setenv("TZ", name, 1);
	tzset();
	for (i = 0; i < 20000; i++) {
		t = lo + (int64_t)(lr_splitmix64(&rng) % (uint64_t)(hi - lo));
		tt = (time_t)t;
		localtime_r(&tt, &tm);
		sched_tz_utc_to_wall(tz, t, &off, &abbr);
		if (off != tm.tm_gmtoff || strcmp(abbr, tm.tm_zone) != 0)
			fail_msg("%s at %lld: %d %s, libc says %ld %s", name,
			    (long long)t, off, abbr, tm.tm_gmtoff, tm.tm_zone);
	}
	sched_tz_free(tz);
}

static void
t_cross_check(void **state)
{
	(void)state;
	cross_check("Europe/Paris");
	cross_check("America/New_York");
	cross_check("Australia/Lord_Howe");
	cross_check("UTC");
	unsetenv("TZ");
	tzset();
}

/* A wall time ("YYYY-MM-DD HH:MM" read as UTC) in tz is instant `want`. */
static void
expect_wall(const struct sched_tz *tz, const char *wall, const char *want)
{
	int64_t	 t = sched_tz_wall_to_utc(tz, utc(wall));

	if (t != utc(want))
		fail_msg("%s %s: %lld, want %s (%lld)", sched_tz_name(tz),
		    wall, (long long)t, want, (long long)utc(want));
}

static void
t_wall_to_utc(void **state)
{
	struct sched_tz *paris = load("Europe/Paris");
	struct sched_tz *ny = load("America/New_York");
	struct sched_tz *lh = load("Australia/Lord_Howe");
	struct sched_tz *u = load("UTC");
	const char *yr[] = { "2026", "2050" };
	char	 w[64], x[64];
	int	 i;

	(void)state;
	expect_wall(paris, "2026-01-15 10:00", "2026-01-15 09:00");
	expect_wall(paris, "2026-07-15 10:00", "2026-07-15 08:00");
	/* spring gap: 02:00-02:59 do not exist; the change is 01:00Z */
	expect_wall(paris, "2026-03-29 01:59", "2026-03-29 00:59");
	expect_wall(paris, "2026-03-29 02:00", "2026-03-29 01:00");
	expect_wall(paris, "2026-03-29 02:30", "2026-03-29 01:00");
	expect_wall(paris, "2026-03-29 03:00", "2026-03-29 01:00");
	expect_wall(paris, "2026-03-29 03:01", "2026-03-29 01:01");
	/* autumn overlap: 02:00-02:59 twice; the first (CEST) wins */
	expect_wall(paris, "2026-10-25 01:59", "2026-10-24 23:59");
	expect_wall(paris, "2026-10-25 02:30", "2026-10-25 00:30");
	expect_wall(paris, "2026-10-25 03:00", "2026-10-25 02:00");
	/* the footer's rule, past Debian's table (2037) */
	expect_wall(paris, "2050-03-27 02:30", "2050-03-27 01:00");
	expect_wall(paris, "2050-10-30 02:30", "2050-10-30 00:30");
	for (i = 0; i < 2; i++) {
		/* NY: 2nd Sunday of March, 1st of November */
		snprintf(w, sizeof(w), "%s-01-15 12:00", yr[i]);
		snprintf(x, sizeof(x), "%s-01-15 17:00", yr[i]);
		expect_wall(ny, w, x);
	}
	expect_wall(ny, "2026-03-08 02:30", "2026-03-08 07:00");
	expect_wall(ny, "2026-03-08 03:30", "2026-03-08 07:30");
	expect_wall(ny, "2026-11-01 01:30", "2026-11-01 05:30");
	expect_wall(ny, "2026-11-01 02:30", "2026-11-01 07:30");
	expect_wall(ny, "2050-03-13 02:30", "2050-03-13 07:00");
	expect_wall(ny, "2050-11-06 01:30", "2050-11-06 05:30");
	/* Lord Howe: +10:30, +11 in summer; 02:00-02:29 skipped in October */
	expect_wall(lh, "2026-10-04 01:59", "2026-10-03 15:29");
	expect_wall(lh, "2026-10-04 02:15", "2026-10-03 15:30");
	expect_wall(lh, "2026-10-04 02:30", "2026-10-03 15:30");
	expect_wall(lh, "2026-10-04 02:31", "2026-10-03 15:31");
	/* ... and 01:30-01:59 twice in April: the first (+11) wins */
	expect_wall(lh, "2026-04-05 01:45", "2026-04-04 14:45");
	expect_wall(lh, "2026-04-05 02:00", "2026-04-04 15:30");
	expect_wall(lh, "2050-10-02 02:15", "2050-10-01 15:30");
	expect_wall(lh, "2050-04-03 01:45", "2050-04-02 14:45");
	expect_wall(u, "2026-03-29 02:30", "2026-03-29 02:30");
	expect_wall(NULL, "2026-03-29 02:30", "2026-03-29 02:30");
	sched_tz_free(paris);
	sched_tz_free(ny);
	sched_tz_free(lh);
	sched_tz_free(u);
}

/* The fire times of expr in zone after `after` (UTC dates). */
static void
expect_fires(const char *zone, const char *expr, const char *after,
    const char *const *want, size_t n)
{
	struct sched_tz *tz = zone ? load(zone) : NULL;
	struct sched_cron *c = NULL;
	char	 err[256];
	int64_t	 t = utc(after);
	size_t	 i;

	if (sched_cron_parse(expr, &c, err, sizeof(err), NULL) != 0)
		fail_msg("'%s': %s", expr, err);
	for (i = 0; i < n; i++) {
		if (sched_cron_next_tz(c, tz, t, &t) != 0)
			fail_msg("%s '%s': no fire %zu", zone, expr, i);
		if (t != utc(want[i]))
			fail_msg("%s '%s' fire %zu: %lld, want %s (%lld)",
			    zone, expr, i, (long long)t, want[i],
			    (long long)utc(want[i]));
	}
	sched_cron_free(c);
	sched_tz_free(tz);
}

#define FIRES(z, e, a, ...) do {					\
	static const char *const w_[] = { __VA_ARGS__ };		\
	expect_fires(z, e, a, w_, sizeof(w_) / sizeof(w_[0]));		\
} while (0)

static void
t_cron_dst(void **state)
{
	(void)state;
	/* Paris, 02:30 daily: the gap day fires once at 03:00 CEST */
	FIRES("Europe/Paris", "30 2 * * *", "2026-03-27 12:00",
	    "2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30");
	/* every 15 minutes across the gap: 02:00-02:45 make one firing */
	FIRES("Europe/Paris", "*/15 * * * *", "2026-03-29 00:40",
	    "2026-03-29 00:45", "2026-03-29 01:00", "2026-03-29 01:15");
	/* the overlap: 02:30 once, at its first occurrence (CEST) */
	FIRES("Europe/Paris", "30 2 * * *", "2026-10-24 12:00",
	    "2026-10-25 00:30", "2026-10-26 01:30");
	/* hourly through the overlap: 02:00 CEST, then 03:00 CET */
	FIRES("Europe/Paris", "0 * * * *", "2026-10-24 23:30",
	    "2026-10-25 00:00", "2026-10-25 02:00", "2026-10-25 03:00");
	/* from inside the repeated hour: nothing repeats */
	FIRES("Europe/Paris", "*/20 * * * *", "2026-10-25 01:05",
	    "2026-10-25 02:00", "2026-10-25 02:20");
	/* the same days in 2050, through the footer's rule */
	FIRES("Europe/Paris", "30 2 * * *", "2050-03-26 12:00",
	    "2050-03-27 01:00", "2050-03-28 00:30");
	FIRES("Europe/Paris", "30 2 * * *", "2050-10-29 12:00",
	    "2050-10-30 00:30", "2050-10-31 01:30");
	/* New York */
	FIRES("America/New_York", "30 2 * * *", "2026-03-07 12:00",
	    "2026-03-08 07:00", "2026-03-09 06:30");
	FIRES("America/New_York", "30 1 * * *", "2026-10-31 12:00",
	    "2026-11-01 05:30", "2026-11-02 06:30");
	FIRES("America/New_York", "0 9 * * 1-5", "2026-03-06 15:00",
	    "2026-03-09 13:00", "2026-03-10 13:00");
	/* Lord Howe: the 30-minute gap and overlap */
	FIRES("Australia/Lord_Howe", "15 2 * * *", "2026-10-02 12:00",
	    "2026-10-02 15:45", "2026-10-03 15:30", "2026-10-04 15:15");
	FIRES("Australia/Lord_Howe", "45 1 * * *", "2026-04-03 12:00",
	    "2026-04-03 14:45", "2026-04-04 14:45", "2026-04-05 15:15");
	/* 01:55 (+11); 02:00 exists once only, after the repeat (+10:30) */
	FIRES("Australia/Lord_Howe", "*/10 * * * *", "2026-04-04 14:45",
	    "2026-04-04 14:50", "2026-04-04 15:30", "2026-04-04 15:40");
	/* UTC: as sched_cron_next */
	FIRES("UTC", "30 2 * * *", "2026-03-28 12:00",
	    "2026-03-29 02:30", "2026-03-30 02:30");
	FIRES(NULL, "30 2 * * *", "2026-10-24 12:00",
	    "2026-10-25 02:30", "2026-10-26 02:30");
}

/*
 * "* * * * *" over the DST days: the fire times only go forwards; every
 * instant minute fires (the gap's wall minutes make one firing, at the
 * change, which is also the first minute after the gap) but those of the
 * second pass of a repeated hour.  n: the firings strictly between the
 * two instants.
 */
static void
t_cron_every_minute(void **state)
{
	static const struct { const char *zone, *from, *to; int n; } d[] = {
		/* a 23-hour, a 25-hour and a 23.5-hour day */
		{ "Europe/Paris", "2026-03-28 23:00", "2026-03-29 22:00",
		    23 * 60 - 1 },
		{ "Europe/Paris", "2026-10-24 22:00", "2026-10-25 23:00",
		    25 * 60 - 60 - 1 },
		{ "Australia/Lord_Howe", "2026-10-03 13:30",
		    "2026-10-04 13:00", 23 * 60 + 30 - 1 },
		{ "Australia/Lord_Howe", "2026-04-04 13:00",
		    "2026-04-05 13:30", 24 * 60 + 30 - 30 - 1 },
	};
	struct sched_cron *c = NULL;
	struct sched_tz *tz;
	int64_t	 t, prev, end;
	size_t	 i;
	int	 n;

	(void)state;
	assert_int_equal(sched_cron_parse("* * * * *", &c, NULL, 0, NULL),
	    0);
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		tz = load(d[i].zone);
		t = prev = utc(d[i].from);
		end = utc(d[i].to);
		for (n = 0; ; n++) {
			assert_int_equal(sched_cron_next_tz(c, tz, t, &t), 0);
			assert_true(t > prev);
			prev = t;
			if (t >= end)
				break;
		}
		if (n != d[i].n)
			fail_msg("%s from %s: %d firings, want %d", d[i].zone,
			    d[i].from, n, d[i].n);
		sched_tz_free(tz);
	}
	sched_cron_free(c);
}

static void
t_at_tz(void **state)
{
	struct sched_tz *paris = load("Europe/Paris");
	struct sched_tz *lh = load("Australia/Lord_Howe");
	char	 err[256];
	int64_t	 t;

	(void)state;
	assert_int_equal(sched_at_parse_tz("2026-07-01T12:00:00", paris, &t,
	    err, sizeof(err)), 0);
	assert_int_equal(t, utc("2026-07-01 10:00"));
	/* an offset or Z is absolute, whatever the zone */
	assert_int_equal(sched_at_parse_tz("2026-07-01T12:00:00Z", paris, &t,
	    err, sizeof(err)), 0);
	assert_int_equal(t, utc("2026-07-01 12:00"));
	assert_int_equal(sched_at_parse_tz("2026-07-01T12:00:00-04:00",
	    paris, &t, err, sizeof(err)), 0);
	assert_int_equal(t, utc("2026-07-01 16:00"));
	/* gap and overlap */
	assert_int_equal(sched_at_parse_tz("2026-03-29T02:30:00", paris, &t,
	    err, sizeof(err)), 0);
	assert_int_equal(t, utc("2026-03-29 01:00"));
	assert_int_equal(sched_at_parse_tz("2026-10-25T02:30:00", paris, &t,
	    err, sizeof(err)), 0);
	assert_int_equal(t, utc("2026-10-25 00:30"));
	assert_int_equal(sched_at_parse_tz("2026-10-04T02:10:00", lh, &t,
	    err, sizeof(err)), 0);
	assert_int_equal(t, utc("2026-10-03 15:30"));
	/* without a zone a zone designator is still required */
	assert_int_equal(sched_at_parse_tz("2026-07-01T12:00:00", NULL, &t,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing timezone"));
	assert_int_equal(sched_at_parse_tz("2026-07-01T12:00", paris, &t,
	    err, sizeof(err)), -1);
	sched_tz_free(paris);
	sched_tz_free(lh);
}

/* ---- hand-made TZif files ---- */

static size_t
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return 4;
}

/*
 * A TZif file of version ver ('\0' or '2') with one transition at 0 to
 * type 1 (types: off0 "AAA", off1 "BBB") and the footer (version 2).
 */
static size_t
make_tzif(unsigned char *buf, char ver, int32_t off0, int32_t off1,
    const char *footer)
{
	unsigned char *p = buf;
	int	 pass, ts;

	for (pass = 0; pass < (ver ? 2 : 1); pass++) {
		ts = pass ? 8 : 4;
		memcpy(p, "TZif", 4);
		p[4] = (unsigned char)ver;
		memset(p + 5, 0, 15);
		p += 20;
		p += put32(p, 0);	/* isutcnt */
		p += put32(p, 0);	/* isstdcnt */
		p += put32(p, 0);	/* leapcnt */
		p += put32(p, 1);	/* timecnt */
		p += put32(p, 2);	/* typecnt */
		p += put32(p, 8);	/* charcnt */
		if (ts == 8)
			p += put32(p, 0);
		p += put32(p, 0);	/* the transition, at 0 */
		*p++ = 1;
		p += put32(p, (uint32_t)off0);
		*p++ = 0;
		*p++ = 0;
		p += put32(p, (uint32_t)off1);
		*p++ = 0;
		*p++ = 4;
		memcpy(p, "AAA\0BBB\0", 8);
		p += 8;
	}
	if (ver) {
		*p++ = '\n';
		memcpy(p, footer, strlen(footer));
		p += strlen(footer);
		*p++ = '\n';
	}
	return (size_t)(p - buf);
}

static void
t_tzif(void **state)
{
	static const char *const good_footers[] = {
		"", "BBB-1", "<+0130>-1:30", "EST5EDT",
		"EST5EDT4,M3.2.0/2:00:00,M11.1.0/2", "XXX3YYY,J60/25,J300/-1", "XXX3YYY,0/0,J365/25",
		"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "AAA-10BBB,59,300/167",
	};
	static const char *const bad_footers[] = {
		"B1", "BBB", "BBB25", "BBB1CCC,M13.1.0,M1.1.0",
		"BBB1CCC,M3.6.0,M11.1.0", "BBB1CCC,M3.1.7,M11.1.0",
		"BBB1CCC,J0,J5", "BBB1CCC,366,1", "BBB1CCC,1/168,2",
		"<B>1", "<BBBB1", "BBB1CCC,M3.1.0", "BBB1CCC,1,2x",
	};
	unsigned char buf[512];
	struct sched_tz *tz = NULL;
	char	 err[256];
	const char *abbr;
	int32_t	 off;
	size_t	 n, i;

	(void)state;
	/* version 1: the table only */
	n = make_tzif(buf, 0, 3600, 7200, "");
	assert_int_equal(sched_tz_parse(buf, n, "v1", &tz, err, sizeof(err)),
	    0);
	sched_tz_utc_to_wall(tz, -10, &off, &abbr);
	assert_int_equal(off, 3600);
	assert_string_equal(abbr, "AAA");
	sched_tz_utc_to_wall(tz, 10, &off, &abbr);
	assert_int_equal(off, 7200);
	assert_string_equal(abbr, "BBB");
	assert_int_equal(sched_tz_span(tz), 3600);
	sched_tz_free(tz);
	for (i = 0; i < sizeof(good_footers) / sizeof(good_footers[0]);
	    i++) {
		n = make_tzif(buf, '2', 0, 3600, good_footers[i]);
		tz = NULL;
		if (sched_tz_parse(buf, n, "v2", &tz, err, sizeof(err)) != 0)
			fail_msg("footer '%s': %s", good_footers[i], err);
		sched_tz_free(tz);
	}
	for (i = 0; i < sizeof(bad_footers) / sizeof(bad_footers[0]); i++) {
		n = make_tzif(buf, '2', 0, 3600, bad_footers[i]);
		tz = NULL;
		if (sched_tz_parse(buf, n, "v2", &tz, err, sizeof(err)) == 0)
			fail_msg("footer '%s' parses", bad_footers[i]);
		assert_non_null(strstr(err, "footer"));
	}
	/* the footer's rule after the last transition */
	n = make_tzif(buf, '2', 0, 3600, "<+0130>-1:30");
	assert_int_equal(sched_tz_parse(buf, n, "v2", &tz, err, sizeof(err)),
	    0);
	sched_tz_utc_to_wall(tz, 10, &off, &abbr);
	assert_int_equal(off, 5400);
	assert_string_equal(abbr, "+0130");
	sched_tz_free(tz);
	/* damage: every truncation, a bad magic, a bad version */
	n = make_tzif(buf, '2', 0, 3600, "BBB-1");
	for (i = 0; i < n; i++) {
		tz = NULL;
		if (sched_tz_parse(buf, i, "cut", &tz, err, sizeof(err)) == 0)
			fail_msg("a TZif cut at %zu of %zu parses", i, n);
	}
	buf[0] = 'X';
	assert_int_equal(sched_tz_parse(buf, n, "x", &tz, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "not a TZif file"));
	buf[0] = 'T';
	buf[4] = '9';
	assert_int_equal(sched_tz_parse(buf, n, "x", &tz, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "version"));
	/* a transition to a type that does not exist */
	n = make_tzif(buf, 0, 0, 3600, "");
	buf[44 + 4] = 7;
	assert_int_equal(sched_tz_parse(buf, n, "x", &tz, err, sizeof(err)),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_names),
		cmocka_unit_test(t_load_errors),
		cmocka_unit_test(t_cross_check),
		cmocka_unit_test(t_wall_to_utc),
		cmocka_unit_test(t_cron_dst),
		cmocka_unit_test(t_cron_every_minute),
		cmocka_unit_test(t_at_tz),
		cmocka_unit_test(t_tzif),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
