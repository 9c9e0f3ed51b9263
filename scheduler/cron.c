/*
 * Cron expressions and `at` times for task schedules, in UTC or in a time
 * zone (tz.c: sched_cron_next_tz() reads the fields as wall-clock times
 * there).
 *
 * A cron expression compiles into one bit mask per field; sched_cron_next()
 * then walks the calendar month by month, day by day and hour by hour,
 * jumping straight to the next allowed value of each field, so a search
 * costs at most a few thousand steps even for expressions that never fire.
 * Calendar arithmetic is done here (days from civil, Howard Hinnant's
 * algorithm) rather than with timegm() or mktime(), so nothing depends on
 * TZ or the C library's time zone database.  Times outside the years
 * 0001-9999 are not supported: sched_cron_next() reports them as never
 * firing.  Reading schedules out of task specs is left to specs/, and
 * running tasks to the reconciler: this file only turns strings into times.
 *
 * Day fields follow Debian's cron(5) (Vixie cron): when either day field
 * begins with '*' ("*", "*\/2", "*,5"; Leura's "?" counts as "*"), a day
 * must match both fields; when both are restricted (neither begins with
 * '*', even "1-31"), a day matching either fires.  Vixie cron looks at the
 * first character only, and so does this file, whatever values the field
 * then holds.
 *
 * In the weekday field "*" is 0-7 and 7 is Sunday, as in Vixie cron.  A
 * single value with a step ("a/n") is refused there, as Debian's cron
 * refuses it in every field: "to the end" is ambiguous when the end is
 * both 6 and 7.  The other four fields accept "a/n" as "a-max/n".
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cal-int.h"
#include "scheduler.h"

struct sched_cron {
	uint64_t minutes;	/* bit n: minute n */
	uint32_t hours;		/* bit n: hour n */
	uint32_t days;		/* bit n: day of month n, 1-31 */
	uint16_t months;	/* bit n: month n, 1-12 */
	uint8_t	 weekdays;	/* bit n: weekday n, 0 = Sunday */
	bool	 days_restricted;
	bool	 weekdays_restricted;
};

enum cron_field {
	F_MINUTE,
	F_HOUR,
	F_DAY,
	F_MONTH,
	F_WEEKDAY,
	F_COUNT
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const weekday_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const struct cron_field_def {
	const char *name;
	int	 min;
	int	 max;		/* largest value: of "*", of "a/n" too */
	const char *const *names;	/* names[i] is min + i */
	const char *expect;	/* what a value looks like */
} field_defs[F_COUNT] = {
	{ "minute", 0, 59, NULL, "a number 0-59" },
	{ "hour", 0, 23, NULL, "a number 0-23" },
	{ "day", 1, 31, NULL, "a number 1-31" },
	{ "month", 1, 12, month_names, "a number 1-12 or a name jan-dec" },
	/* 0 and 7 are Sunday; "*" is 0-7 */
	{ "weekday", 0, 7, weekday_names, "a number 0-7 or a name sun-sat" },
};

static const struct cron_macro {
	const char *name;
	const char *expr;
} cron_macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

#define YEAR_MIN	1
#define YEAR_MAX	9999
/*
 * A schedule that can fire at all fires within 8 years (Feb 29 skips 2100,
 * 2200, ...); 28 years is a full cycle of weekdays over leap years.
 */
#define SEARCH_YEARS	28
/*
 * sched_cron_next_tz(): wall times tried before giving up; a zone's span
 * of offsets is at most a day (1,440 minutes of "* * * * *").
 */
#define CRON_TZ_MAX_CANDIDATES	4096

/* ---- cron parsing ---- */

struct cron_parse {
	const char *expr;	/* the whole expression, for offsets */
	char	*errbuf;
	size_t	 errlen;
	size_t	*errpos;
};

static int
parse_fail(struct cron_parse *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
parse_fail(struct cron_parse *p, const char *at, const char *fmt, ...)
{
	va_list	 ap;

	if (p->errbuf != NULL && p->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(p->errbuf, p->errlen, fmt, ap);
		va_end(ap);
	}
	if (p->errpos != NULL)
		*p->errpos = (size_t)(at - p->expr);
	return -1;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Read a number or a name at *sp, stopping at end or at '-', '/' or ','.
 * Sets *val (saturated at 9999; the caller reports the text) and *named.
 * Returns 0, or -1 on garbage.
 */
static int
parse_value(const struct cron_field_def *fd, const char **sp,
    const char *end, int *val, bool *named)
{
	const char	*s = *sp, *t;
	size_t		 n, i;

	for (t = s; t < end && *t != '-' && *t != '/' && *t != ','; t++)
		;
	n = (size_t)(t - s);
	if (n == 0)
		return -1;
	if (is_digit(*s)) {
		*val = 0;
		for (i = 0; i < n; i++) {
			if (!is_digit(s[i]))
				return -1;
			if (*val < 9999)
				*val = *val * 10 + (s[i] - '0');
		}
		if (*val > 9999)
			*val = 9999;
		*named = false;
		*sp = t;
		return 0;
	}
	if (fd->names == NULL || n != 3)
		return -1;
	for (i = 0; fd->names[i] != NULL; i++) {
		if (to_lower(s[0]) == fd->names[i][0] &&
		    to_lower(s[1]) == fd->names[i][1] &&
		    to_lower(s[2]) == fd->names[i][2]) {
			*val = fd->min + (int)i;
			*named = true;
			*sp = t;
			return 0;
		}
	}
	return -1;
}

/*
 * One element of a list: "*", "v", "a-b", each optionally followed by
 * "/step".  Adds its values to *mask.
 */
static int
parse_element(struct cron_parse *p, enum cron_field f, const char *field,
    size_t flen, const char *s, const char *end, uint64_t *mask)
{
	const struct cron_field_def *fd = &field_defs[f];
	const char	*lo_s, *hi_s = NULL, *step_s;
	int		 lo, hi, step = 1, v;
	bool		 named, hi_named = false;

	lo_s = s;
	if (*s == '*') {
		lo = fd->min;
		hi = fd->max;
		s++;
	} else {
		if (parse_value(fd, &s, end, &lo, &named) < 0)
			goto garbage;
		if (lo < fd->min || lo > fd->max)
			return parse_fail(p, field, "%s %.*s out of range "
			    "%d-%d", fd->name, (int)(s - lo_s), lo_s, fd->min,
			    fd->max);
		hi = lo;
		if (s < end && *s == '-') {
			hi_s = ++s;
			if (parse_value(fd, &s, end, &hi, &hi_named) < 0)
				goto garbage;
			if (hi < fd->min || hi > fd->max)
				return parse_fail(p, field, "%s %.*s out of "
				    "range %d-%d", fd->name, (int)(s - hi_s),
				    hi_s, fd->min, fd->max);
			/* "fri-sun" means Friday to Sunday */
			if (f == F_WEEKDAY && hi_named && hi == 0 && lo > 0)
				hi = 7;
			if (lo > hi)
				return parse_fail(p, field, "%s range "
				    "'%.*s' runs backwards: write the smaller "
				    "value first", fd->name, (int)(s - lo_s),
				    lo_s);
		}
	}
	if (s < end && *s == '/') {
		step_s = ++s;
		if (s == end)
			return parse_fail(p, field,
			    "missing %s step after '/' in '%.*s'", fd->name,
			    (int)flen, field);
		for (step = 0; s < end && is_digit(*s); s++)
			if (step < 9999)
				step = step * 10 + (*s - '0');
		if (s != end)
			goto garbage;
		if (step == 0)
			return parse_fail(p, field,
			    "%s step 0 in '%.*s': a step must be at least 1",
			    fd->name, (int)flen, field);
		if (step > fd->max)
			return parse_fail(p, field,
			    "%s step %.*s out of range 1-%d", fd->name,
			    (int)(end - step_s), step_s, fd->max);
		/* "a/n": from a to the end, but for the weekday */
		if (*lo_s != '*' && hi_s == NULL && f == F_WEEKDAY)
			return parse_fail(p, field, "weekday step '%.*s' "
			    "needs a range: write 'a-b/n' such as '1-5/2', "
			    "or '*/n' (cron refuses 'a/n' there: the week "
			    "ends at 6 and at 7)", (int)(end - lo_s), lo_s);
		if (*lo_s != '*' && hi_s == NULL)
			hi = fd->max;
	}
	if (s != end)
		goto garbage;
	for (v = lo; v <= hi; v += step)
		*mask |= (uint64_t)1 << v;
	return 0;

garbage:
	return parse_fail(p, field,
	    "invalid %s '%.*s': expected %s, '*', a list 'a,b', a range "
	    "'a-b' or a step '*/n'", fd->name, (int)flen, field, fd->expect);
}

static int
parse_field(struct cron_parse *p, enum cron_field f, const char *field,
    size_t flen, uint64_t *maskp, bool *restricted)
{
	const struct cron_field_def *fd = &field_defs[f];
	const char	*s, *e, *end = field + flen;
	uint64_t	 mask = 0;

	if (flen == 1 && *field == '?') {
		if (f != F_DAY && f != F_WEEKDAY)
			return parse_fail(p, field,
			    "'?' is only allowed in the day and weekday "
			    "fields, not in the %s field", fd->name);
		mask = ((uint64_t)2 << fd->max) - ((uint64_t)1 << fd->min);
	} else {
		for (s = field; ; s = e + 1) {
			for (e = s; e < end && *e != ','; e++)
				;
			if (e == s)
				return parse_fail(p, field,
				    "empty element in %s list '%.*s'",
				    fd->name, (int)flen, field);
			if (parse_element(p, f, field, flen, s, e,
			    &mask) < 0)
				return -1;
			if (e == end)
				break;
		}
	}
	if (f == F_WEEKDAY && (mask & (1u << 7)))
		mask = (mask & ~(uint64_t)(1u << 7)) | 1u;
	*maskp = mask;
	/* Vixie cron's DOM_STAR and DOW_STAR: the first character only */
	*restricted = *field != '*' && *field != '?';
	return 0;
}

static int
parse_fields(struct cron_parse *p, const char *s, struct sched_cron *c)
{
	const char	*field[F_COUNT + 1], *t;
	size_t		 len[F_COUNT + 1];
	uint64_t	 mask = 0;
	bool		 restricted = false;
	int		 n = 0, f;

	for (;;) {
		while (is_blank(*s))
			s++;
		if (*s == '\0')
			break;
		for (t = s; *t != '\0' && !is_blank(*t); t++)
			;
		if (n <= F_COUNT) {
			field[n] = s;
			len[n] = (size_t)(t - s);
		}
		n++;
		s = t;
	}
	if (n != F_COUNT)
		return parse_fail(p, n > F_COUNT ? field[F_COUNT] : s,
		    "expected 5 fields (minute hour day month weekday), "
		    "got %d", n);
	for (f = 0; f < F_COUNT; f++) {
		if (parse_field(p, f, field[f], len[f], &mask,
		    &restricted) < 0)
			return -1;
		switch (f) {
		case F_MINUTE:
			c->minutes = mask;
			break;
		case F_HOUR:
			c->hours = (uint32_t)mask;
			break;
		case F_DAY:
			c->days = (uint32_t)mask;
			c->days_restricted = restricted;
			break;
		case F_MONTH:
			c->months = (uint16_t)mask;
			break;
		default:
			c->weekdays = (uint8_t)mask;
			c->weekdays_restricted = restricted;
			break;
		}
	}
	return 0;
}

int
sched_cron_parse(const char *expr, struct sched_cron **out, char *errbuf,
    size_t errlen, size_t *errpos)
{
	struct cron_parse p = { expr, errbuf, errlen, errpos };
	struct sched_cron c;
	const char	*s = expr, *t, *u;
	size_t		 i, n;

	memset(&c, 0, sizeof(c));
	while (is_blank(*s))
		s++;
	if (*s == '\0')
		return parse_fail(&p, s, "empty cron expression: expected 5 "
		    "fields (minute hour day month weekday) or a macro such "
		    "as @daily");
	if (*s == '@') {
		for (t = s; *t != '\0' && !is_blank(*t); t++)
			;
		n = (size_t)(t - s);
		for (u = t; is_blank(*u); u++)
			;
		if (n == 7 && strncasecmp(s, "@reboot", n) == 0)
			return parse_fail(&p, s, "@reboot is not supported: "
			    "tasks run on the leura server, which has no boot");
		for (i = 0; i < sizeof(cron_macros) / sizeof(cron_macros[0]);
		    i++)
			if (strlen(cron_macros[i].name) == n &&
			    strncasecmp(s, cron_macros[i].name, n) == 0)
				break;
		if (i == sizeof(cron_macros) / sizeof(cron_macros[0]))
			return parse_fail(&p, s, "unknown macro '%.*s': "
			    "expected @yearly, @annually, @monthly, @weekly, "
			    "@daily, @midnight or @hourly", (int)n, s);
		if (*u != '\0')
			return parse_fail(&p, u, "unexpected '%s' after %.*s: "
			    "a macro stands for all 5 fields", u, (int)n, s);
		p.expr = cron_macros[i].expr;
		if (parse_fields(&p, cron_macros[i].expr, &c) < 0)
			abort();	/* the table is wrong */
	} else if (parse_fields(&p, expr, &c) < 0)
		return -1;

	if ((*out = malloc(sizeof(**out))) == NULL)
		abort();	/* out of memory aborts, as everywhere */
	**out = c;
	return 0;
}

void
sched_cron_free(struct sched_cron *c)
{
	free(c);
}

/* ---- cron evaluation ---- */

/* The lowest set bit of mask at or above from, or -1. */
static int
next_bit(uint64_t mask, int from)
{
	if (from >= 64)
		return -1;
	mask &= ~(uint64_t)0 << from;
	if (mask == 0)
		return -1;
	return __builtin_ctzll(mask);
}

static bool
day_matches(const struct sched_cron *c, int64_t y, int m, int d)
{
	bool	 dom, dow;

	dom = (c->days >> d) & 1;
	dow = (c->weekdays >> weekday_of(days_from_civil(y, m, d))) & 1;
	if (c->days_restricted && c->weekdays_restricted)
		return dom || dow;
	return dom && dow;
}

int
sched_cron_next(const struct sched_cron *c, int64_t after, int64_t *next)
{
	int64_t	 mins, days, y, ylimit;
	int	 m, d, h, mi, v;

	mins = floor_div(after, 60) + 1;
	days = floor_div(mins, 1440);
	h = (int)(mins - days * 1440) / 60;
	mi = (int)(mins - days * 1440) % 60;
	civil_from_days(days, &y, &m, &d);
	if (y < YEAR_MIN || y > YEAR_MAX)
		return -1;
	ylimit = y + SEARCH_YEARS;
	if (ylimit > YEAR_MAX)
		ylimit = YEAR_MAX;

	for (;;) {
		if (!((c->months >> m) & 1)) {
			v = next_bit(c->months, m + 1);
			if (v < 0) {
				v = next_bit(c->months, 1);
				y++;
			}
			m = v;
			d = 1;
			h = mi = 0;
		} else if (!day_matches(c, y, m, d)) {
			goto next_day;
		} else if ((v = next_bit(c->hours, h)) < 0) {
			goto next_day;
		} else {
			if (v != h) {
				h = v;
				mi = 0;
			}
			if ((v = next_bit(c->minutes, mi)) >= 0) {
				mi = v;
				break;
			}
			if (++h < 24) {
				mi = 0;
				continue;
			}
			goto next_day;
		}
		if (y > ylimit)
			return -1;
		continue;
next_day:
		h = mi = 0;
		if (++d > days_in_month(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				if (++y > ylimit)
					return -1;
			}
		}
	}
	*next = ((days_from_civil(y, m, d) * 24 + h) * 60 + mi) * 60;
	return 0;
}

/* ---- `at` ---- */

/* Read exactly n digits at *sp into *val. */
static bool
read_digits(const char **sp, int n, int *val)
{
	const char	*s = *sp;
	int		 i;

	*val = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		*val = *val * 10 + (s[i] - '0');
	}
	*sp = s + n;
	return true;
}

/*
 * An RFC 3339 time into *out: Unix seconds when it has a zone (*zoned
 * true), else, when tz_optional, the wall time as if it were UTC.
 */
static int
at_parse(const char *s, bool tz_optional, int64_t *out, bool *zoned,
    char *errbuf, size_t errlen)
{
	const char	*p = s;
	int		 y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

	if (*p == '\0') {
		seterr(errbuf, errlen, "empty time: expected RFC 3339 such as "
		    "'2026-12-01T03:00:00Z'");
		return -1;
	}
	if (!read_digits(&p, 4, &y) || *p++ != '-') {
		seterr(errbuf, errlen, "invalid time '%s': expected a date "
		    "'YYYY-MM-DD' with a 4-digit year", s);
		return -1;
	}
	if (!read_digits(&p, 2, &mo) || *p++ != '-' ||
	    !read_digits(&p, 2, &d)) {
		seterr(errbuf, errlen, "invalid time '%s': expected a date "
		    "'YYYY-MM-DD' with 2-digit month and day", s);
		return -1;
	}
	if (*p == '\0') {
		seterr(errbuf, errlen, "missing time of day in '%s': add "
		    "'THH:MM:SS' and a timezone, e.g. 'T03:00:00Z'", s);
		return -1;
	}
	if (*p != 'T' && *p != 't' && *p != ' ') {
		seterr(errbuf, errlen, "invalid time '%s': expected 'T' "
		    "between the date and the time of day", s);
		return -1;
	}
	p++;
	if (!read_digits(&p, 2, &h) || *p++ != ':' ||
	    !read_digits(&p, 2, &mi)) {
		seterr(errbuf, errlen, "invalid time '%s': expected the time "
		    "of day as 'HH:MM:SS'", s);
		return -1;
	}
	if (*p != ':') {
		seterr(errbuf, errlen, "missing seconds in '%s': write the "
		    "time of day as 'HH:MM:SS'", s);
		return -1;
	}
	p++;
	if (!read_digits(&p, 2, &sec)) {
		seterr(errbuf, errlen, "invalid time '%s': expected 2-digit "
		    "seconds", s);
		return -1;
	}
	if (*p == '.') {
		if (!is_digit(*++p)) {
			seterr(errbuf, errlen, "invalid time '%s': expected "
			    "digits after '.'", s);
			return -1;
		}
		while (is_digit(*p))
			p++;
	}
	*zoned = *p != '\0';
	if (*p == '\0' && !tz_optional) {
		seterr(errbuf, errlen, "missing timezone: add 'Z' for UTC or "
		    "an offset like '+02:00'");
		return -1;
	}
	if (*p == '\0') {
		/* a wall time: the caller reads it in its zone */
	} else if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!read_digits(&p, 2, &oh) || *p++ != ':' ||
		    !read_digits(&p, 2, &om)) {
			seterr(errbuf, errlen, "invalid timezone offset in "
			    "'%s': expected '+HH:MM' or '-HH:MM'", s);
			return -1;
		}
	} else {
		seterr(errbuf, errlen, "invalid timezone in '%s': expected "
		    "'Z' for UTC or an offset like '+02:00'", s);
		return -1;
	}
	if (*p != '\0') {
		seterr(errbuf, errlen, "unexpected '%s' after the timezone "
		    "in '%s'", p, s);
		return -1;
	}

	if (mo < 1 || mo > 12) {
		seterr(errbuf, errlen, "month %d out of range 1-12", mo);
		return -1;
	}
	if (d < 1 || d > days_in_month(y, mo)) {
		seterr(errbuf, errlen, "day %d out of range 1-%d for "
		    "%04d-%02d", d, days_in_month(y, mo), y, mo);
		return -1;
	}
	if (h > 23) {
		seterr(errbuf, errlen, "hour %d out of range 0-23", h);
		return -1;
	}
	if (mi > 59) {
		seterr(errbuf, errlen, "minute %d out of range 0-59", mi);
		return -1;
	}
	if (sec > 59) {
		seterr(errbuf, errlen, "second %d out of range 0-59%s", sec,
		    sec == 60 ? " (leap seconds are not supported)" : "");
		return -1;
	}
	if (oh > 23) {
		seterr(errbuf, errlen, "timezone offset hour %d out of range "
		    "0-23", oh);
		return -1;
	}
	if (om > 59) {
		seterr(errbuf, errlen, "timezone offset minute %d out of "
		    "range 0-59", om);
		return -1;
	}
	*out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec -
	    sign * (oh * 3600 + om * 60);
	return 0;
}

int
sched_at_parse(const char *s, int64_t *out, char *errbuf, size_t errlen)
{
	bool	 zoned;

	return at_parse(s, false, out, &zoned, errbuf, errlen);
}

int
sched_at_parse_tz(const char *s, const struct sched_tz *tz, int64_t *out,
    char *errbuf, size_t errlen)
{
	int64_t	 t;
	bool	 zoned;

	if (tz == NULL)
		return sched_at_parse(s, out, errbuf, errlen);
	if (at_parse(s, true, &t, &zoned, errbuf, errlen) < 0)
		return -1;
	*out = zoned ? t : sched_tz_wall_to_utc(tz, t);
	return 0;
}

int
sched_cron_next_tz(const struct sched_cron *c, const struct sched_tz *tz,
    int64_t after, int64_t *next)
{
	int64_t	 wall, t;
	int	 i;

	if (tz == NULL)
		return sched_cron_next(c, after, next);
	/*
	 * Every wall time whose first instant is after `after` is at least
	 * after's wall time minus the zone's span of offsets: start there
	 * and take the candidates in order (the first-instant mapping never
	 * goes backwards), so the first one past `after` is the answer.
	 */
	wall = sched_tz_utc_to_wall(tz, after, NULL, NULL) -
	    sched_tz_span(tz) - 1;
	for (i = 0; i < CRON_TZ_MAX_CANDIDATES; i++) {
		if (sched_cron_next(c, wall, &wall) < 0)
			return -1;
		t = sched_tz_wall_to_utc(tz, wall);
		if (t > after) {
			*next = t;
			return 0;
		}
	}
	return -1;
}
