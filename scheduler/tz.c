/*
 * Time zones for task schedules: the system's compiled zoneinfo (TZif
 * files, RFC 8536) read into memory, without setenv("TZ") or
 * localtime_r(), which share global state between threads.
 *
 * A zone is its table of transitions (instant, local time type) plus,
 * from TZif version 2, the POSIX TZ string of the file's footer that
 * governs every instant after the last transition: "CET-1CEST,M3.5.0,
 * M10.5.0/3" (standard time CET one hour east of UTC, summer time CEST
 * from March's last Sunday 02:00 to October's last Sunday 03:00).  Before
 * the first transition, the first local time type applies (RFC 8536 3.2).
 *
 * Wall times are "wall" values: the local date and time counted in
 * seconds as if they were UTC.  The instant of a wall time is looked for
 * in [wall - largest offset, wall - smallest offset], the only instants
 * whose wall time can be it, walking the transitions there in order: the
 * first instant found is the answer (a DST overlap repeats a wall time:
 * its first occurrence wins); when none matches the wall time falls in a
 * gap, and the answer is the instant of the change that skipped it (the
 * first instant after the gap), as cronie and systemd fire such times.
 *
 * Leap seconds are not counted ("right/..." zones are refused): Leura's
 * clocks are POSIX clocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cal-int.h"
#include "scheduler.h"

#define TZ_NAME_MAX	255
#define TZ_FILE_MAX	(1 << 20)	/* the largest zone is ~4 KiB */
#define TZ_FOOTER_MAX	256
#define TZ_OFF_MAX	(26 * 3600)	/* |UTC offset| in seconds */
#define TZ_ABBR_MAX	32
/* Transitions walked to find one wall time: a safety bound only. */
#define TZ_WALK_MAX	1024
/* Instants handled by the POSIX rule: years 1 to 9999. */
#define TZ_T_MIN	(-62135596800LL)
#define TZ_T_MAX	253402300799LL

struct tz_type {
	int32_t	 off;		/* seconds east of UTC */
	bool	 dst;
	uint8_t	 abbr;		/* index into chars */
};

/* One end of a DST period in a POSIX TZ string. */
struct tz_rule_date {
	char	 kind;		/* 'J': Jn, 'N': n, 'M': Mm.w.d */
	int	 n;		/* day of year: J 1-365, N 0-365 */
	int	 m, w, d;	/* month 1-12, week 1-5 (5: last), weekday */
	int32_t	 secs;		/* local time of the change, -167h..167h */
};

struct tz_rule {
	int32_t	 std_off, dst_off;	/* seconds east of UTC */
	bool	 has_dst;
	char	 std_abbr[TZ_ABBR_MAX], dst_abbr[TZ_ABBR_MAX];
	struct tz_rule_date start, end;
};

struct sched_tz {
	char	*name;			/* owned */
	int64_t	*trans;			/* owned: ascending */
	uint8_t	*idx;			/* owned: trans[i]'s type */
	size_t	 ntrans;
	struct tz_type *types;		/* owned; at least one */
	size_t	 ntypes;
	char	*chars;			/* owned: abbreviations, NUL-ended */
	size_t	 nchars;
	bool	 has_rule;
	struct tz_rule rule;
	int32_t	 minoff, maxoff;
};

static void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n ? n : 1, size)) == NULL)
		abort();	/* out of memory aborts, as everywhere */
	return p;
}

/* ---- names ---- */

bool
sched_tz_name_valid(const char *name)
{
	size_t	 i, n;
	char	 c;

	if (name == NULL || (n = strlen(name)) == 0 || n > TZ_NAME_MAX)
		return false;
	if (name[0] == '/' || name[n - 1] == '/')
		return false;
	for (i = 0; i < n; i++) {
		c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '+' ||
		    c == '-' || c == '/'))
			return false;
		if (c == '/' && name[i + 1] == '/')
			return false;
	}
	/* '.' is no allowed character, so "." and ".." cannot occur */
	return true;
}

/* ---- the POSIX TZ string ---- */

struct tzs {
	const char *s;		/* the cursor */
};

static bool
tzs_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number of at most maxdig digits, at most max. */
static bool
tzs_num(struct tzs *p, int maxdig, int max, int *out)
{
	int	 v = 0, n = 0;

	while (tzs_digit(*p->s) && n < maxdig) {
		v = v * 10 + (*p->s++ - '0');
		n++;
	}
	if (n == 0 || v > max || tzs_digit(*p->s))
		return false;
	*out = v;
	return true;
}

/* [+-]hh[:mm[:ss]] with hh at most maxh, into seconds. */
static bool
tzs_hms(struct tzs *p, int maxh, bool sign_ok, int32_t *out)
{
	int	 h, m = 0, sec = 0, sign = 1;

	if (*p->s == '+' || *p->s == '-') {
		if (!sign_ok)
			return false;
		sign = *p->s++ == '-' ? -1 : 1;
	}
	if (!tzs_num(p, 3, maxh, &h))
		return false;
	if (*p->s == ':') {
		p->s++;
		if (!tzs_num(p, 2, 59, &m))
			return false;
		if (*p->s == ':') {
			p->s++;
			if (!tzs_num(p, 2, 59, &sec))
				return false;
		}
	}
	*out = sign * (h * 3600 + m * 60 + sec);
	return true;
}

/* An abbreviation: 3 or more letters, or <...> of [A-Za-z0-9+-]. */
static bool
tzs_abbr(struct tzs *p, char out[TZ_ABBR_MAX])
{
	size_t	 n = 0;
	char	 c;

	if (*p->s == '<') {
		p->s++;
		while ((c = *p->s) != '>') {
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' &&
			    c <= 'z') || tzs_digit(c) || c == '+' ||
			    c == '-') || n + 1 >= TZ_ABBR_MAX)
				return false;
			out[n++] = c;
			p->s++;
		}
		p->s++;
	} else {
		while (((c = *p->s) >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z')) {
			if (n + 1 >= TZ_ABBR_MAX)
				return false;
			out[n++] = c;
			p->s++;
		}
	}
	out[n] = '\0';
	return n >= 3;
}

static bool
tzs_date(struct tzs *p, struct tz_rule_date *d)
{
	memset(d, 0, sizeof(*d));
	if (*p->s == 'J') {
		p->s++;
		d->kind = 'J';
		if (!tzs_num(p, 3, 365, &d->n) || d->n < 1)
			return false;
	} else if (*p->s == 'M') {
		p->s++;
		d->kind = 'M';
		if (!tzs_num(p, 2, 12, &d->m) || d->m < 1 ||
		    *p->s++ != '.' || !tzs_num(p, 1, 5, &d->w) || d->w < 1 ||
		    *p->s++ != '.' || !tzs_num(p, 1, 6, &d->d))
			return false;
	} else {
		d->kind = 'N';
		if (!tzs_num(p, 3, 365, &d->n))
			return false;
	}
	d->secs = 2 * 3600;
	if (*p->s == '/') {
		p->s++;
		/* RFC 8536 3.3.1: -167 to 167 hours */
		if (!tzs_hms(p, 167, true, &d->secs))
			return false;
	}
	return true;
}

/*
 * Parse a POSIX TZ string; without a DST rule after a DST name, the US
 * rule of tzcode's default ("M3.2.0,M11.1.0") applies.
 */
static bool
tzs_parse(const char *s, struct tz_rule *r)
{
	struct tzs p = { s };
	int32_t	 o;

	memset(r, 0, sizeof(*r));
	if (!tzs_abbr(&p, r->std_abbr) || !tzs_hms(&p, 24, true, &o))
		return false;
	r->std_off = -o;
	if (*p.s == '\0')
		return true;
	if (!tzs_abbr(&p, r->dst_abbr))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*p.s != ',' && *p.s != '\0') {
		if (!tzs_hms(&p, 24, true, &o))
			return false;
		r->dst_off = -o;
	}
	if (*p.s == '\0') {
		r->start = (struct tz_rule_date){ 'M', 0, 3, 2, 0, 7200 };
		r->end = (struct tz_rule_date){ 'M', 0, 11, 1, 0, 7200 };
		return true;
	}
	if (*p.s++ != ',' || !tzs_date(&p, &r->start) || *p.s++ != ',' ||
	    !tzs_date(&p, &r->end))
		return false;
	return *p.s == '\0';
}

/* The day (since 1970-01-01) of a rule date in year y. */
static int64_t
rule_day(int64_t y, const struct tz_rule_date *d)
{
	int64_t	 jan1 = days_from_civil(y, 1, 1), first;
	int	 day;

	switch (d->kind) {
	case 'J':
		return jan1 + d->n - 1 + (is_leap(y) && d->n >= 60);
	case 'N':
		return jan1 + d->n;
	default:
		first = days_from_civil(y, d->m, 1);
		day = (d->d - weekday_of(first) + 7) % 7 + 7 * (d->w - 1);
		while (day >= days_in_month(y, d->m))
			day -= 7;
		return first + day;
	}
}

static int64_t
clamp_t(int64_t t)
{
	return t < TZ_T_MIN ? TZ_T_MIN : t > TZ_T_MAX ? TZ_T_MAX : t;
}

static int64_t
year_of(int64_t t)
{
	int64_t	 y;
	int	 m, d;

	civil_from_days(floor_div(clamp_t(t), 86400), &y, &m, &d);
	return y;
}

/* The instants DST starts (*s) and ends (*e) in year y. */
static void
rule_year(const struct tz_rule *r, int64_t y, int64_t *s, int64_t *e)
{
	*s = rule_day(y, &r->start) * 86400 + r->start.secs - r->std_off;
	*e = rule_day(y, &r->end) * 86400 + r->end.secs - r->dst_off;
}

static bool
rule_is_dst(const struct tz_rule *r, int64_t t)
{
	int64_t	 s, e;

	if (!r->has_dst)
		return false;
	rule_year(r, year_of(t + r->std_off), &s, &e);
	if (s < e)
		return t >= s && t < e;
	return !(t >= e && t < s);	/* southern hemisphere */
}

/* The first change of the rule after t, or INT64_MAX. */
static int64_t
rule_next(const struct tz_rule *r, int64_t t)
{
	int64_t	 y, s, e, best = INT64_MAX;
	int	 k;

	if (!r->has_dst)
		return INT64_MAX;
	y = year_of(t);
	for (k = -1; k <= 1; k++) {
		rule_year(r, y + k, &s, &e);
		if (s > t && s < best)
			best = s;
		if (e > t && e < best)
			best = e;
	}
	return best;
}

/* ---- lookups ---- */

/* Whether the footer's rule governs t. */
static bool
by_rule(const struct sched_tz *tz, int64_t t)
{
	return tz->has_rule && (tz->ntrans == 0 ||
	    t >= tz->trans[tz->ntrans - 1]);
}

/* The type of t from the table: types[0] before the first transition. */
static const struct tz_type *
table_type(const struct sched_tz *tz, int64_t t)
{
	size_t	 lo = 0, hi = tz->ntrans, mid;

	if (tz->ntrans == 0 || t < tz->trans[0])
		return &tz->types[0];
	/* the last transition <= t */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return &tz->types[tz->idx[lo]];
}

static int32_t
off_at(const struct sched_tz *tz, int64_t t, const char **abbr)
{
	const struct tz_type *ty;
	bool	 dst;

	if (by_rule(tz, t)) {
		dst = rule_is_dst(&tz->rule, t);
		if (abbr != NULL)
			*abbr = dst ? tz->rule.dst_abbr : tz->rule.std_abbr;
		return dst ? tz->rule.dst_off : tz->rule.std_off;
	}
	ty = table_type(tz, t);
	if (abbr != NULL)
		*abbr = tz->chars + ty->abbr;
	return ty->off;
}

/* The first instant after t where the offset may change, or INT64_MAX. */
static int64_t
next_change(const struct sched_tz *tz, int64_t t)
{
	size_t	 lo = 0, hi;

	if (by_rule(tz, t))
		return rule_next(&tz->rule, t);
	if (tz->ntrans == 0)
		return INT64_MAX;
	if (t < tz->trans[0])
		return tz->trans[0];
	/* the first transition > t: there is one, t < the last */
	hi = tz->ntrans - 1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->trans[mid] > t)
			hi = mid;
		else
			lo = mid;
	}
	return tz->trans[hi];
}

int64_t
sched_tz_utc_to_wall(const struct sched_tz *tz, int64_t t, int32_t *off,
    const char **abbr)
{
	int32_t	 o;

	if (tz == NULL) {
		if (off != NULL)
			*off = 0;
		if (abbr != NULL)
			*abbr = "UTC";
		return t;
	}
	o = off_at(tz, t, abbr);
	if (off != NULL)
		*off = o;
	return t + o;
}

int64_t
sched_tz_wall_to_utc(const struct sched_tz *tz, int64_t wall)
{
	int64_t	 a, c, hi, t;
	int32_t	 o;
	int	 i;

	if (tz == NULL)
		return wall;
	a = wall - tz->maxoff;
	hi = wall - tz->minoff;
	for (i = 0; i < TZ_WALK_MAX; i++) {
		/* the segment [a, c) has offset o; wall(a) <= wall */
		o = off_at(tz, a, NULL);
		c = next_change(tz, a);
		t = wall - o;
		if (t >= a && t < c)
			return t;
		if (c > hi)
			break;
		if (c + off_at(tz, c, NULL) > wall)
			return c;	/* a gap: the change skipped wall */
		a = c;
	}
	return wall - off_at(tz, hi, NULL);	/* an inconsistent zone */
}

int64_t
sched_tz_span(const struct sched_tz *tz)
{
	return tz == NULL ? 0 : (int64_t)tz->maxoff - tz->minoff;
}

const char *
sched_tz_name(const struct sched_tz *tz)
{
	return tz == NULL ? "UTC" : tz->name;
}

void
sched_tz_free(struct sched_tz *tz)
{
	if (tz == NULL)
		return;
	free(tz->name);
	free(tz->trans);
	free(tz->idx);
	free(tz->types);
	free(tz->chars);
	free(tz);
}

/* ---- TZif ---- */

struct tzif_hdr {
	char	 version;	/* 0, '2', '3', '4' */
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

#define TZIF_HDR_LEN	44

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64s(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int
read_hdr(const unsigned char *p, size_t len, struct tzif_hdr *h,
    char *errbuf, size_t errlen)
{
	if (len < TZIF_HDR_LEN || memcmp(p, "TZif", 4) != 0) {
		seterr(errbuf, errlen, "not a TZif file (no 'TZif' header)");
		return -1;
	}
	h->version = (char)p[4];
	if (h->version != 0 && (h->version < '2' || h->version > '4')) {
		seterr(errbuf, errlen, "unknown TZif version 0x%02x",
		    p[4] & 0xff);
		return -1;
	}
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
	    h->charcnt > 256 || h->timecnt > TZ_FILE_MAX ||
	    h->leapcnt > TZ_FILE_MAX ||
	    (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)) {
		seterr(errbuf, errlen, "bad TZif header counts");
		return -1;
	}
	return 0;
}

/* The size of a data block of the header h with times of ts bytes. */
static size_t
block_len(const struct tzif_hdr *h, size_t ts)
{
	return (size_t)h->timecnt * ts + h->timecnt + h->typecnt * 6 +
	    h->charcnt + (size_t)h->leapcnt * (ts + 4) + h->isstdcnt +
	    h->isutcnt;
}

/* Read the data block at p (of block_len bytes) into tz. */
static int
read_block(const unsigned char *p, const struct tzif_hdr *h, size_t ts,
    struct sched_tz *tz, char *errbuf, size_t errlen)
{
	size_t	 i;
	int64_t	 t;
	uint32_t u;

	if (h->leapcnt != 0) {
		seterr(errbuf, errlen, "zones with leap seconds are not "
		    "supported: use the zone of the same name outside "
		    "'right/'");
		return -1;
	}
	tz->ntrans = h->timecnt;
	tz->trans = xcalloc(tz->ntrans, sizeof(*tz->trans));
	tz->idx = xcalloc(tz->ntrans, sizeof(*tz->idx));
	for (i = 0; i < h->timecnt; i++, p += ts) {
		t = ts == 8 ? be64s(p) : (int64_t)(int32_t)be32(p);
		if (i > 0 && t <= tz->trans[i - 1]) {
			seterr(errbuf, errlen, "TZif transitions out of "
			    "order");
			return -1;
		}
		tz->trans[i] = t;
	}
	for (i = 0; i < h->timecnt; i++, p++) {
		if (*p >= h->typecnt) {
			seterr(errbuf, errlen, "TZif transition to type %u of "
			    "%u", *p, h->typecnt);
			return -1;
		}
		tz->idx[i] = *p;
	}
	tz->ntypes = h->typecnt;
	tz->types = xcalloc(tz->ntypes, sizeof(*tz->types));
	for (i = 0; i < h->typecnt; i++, p += 6) {
		u = be32(p);
		if ((int32_t)u < -TZ_OFF_MAX || (int32_t)u > TZ_OFF_MAX ||
		    p[4] > 1 || p[5] >= h->charcnt) {
			seterr(errbuf, errlen, "bad TZif local time type %zu",
			    i);
			return -1;
		}
		tz->types[i].off = (int32_t)u;
		tz->types[i].dst = p[4];
		tz->types[i].abbr = p[5];
	}
	tz->nchars = h->charcnt;
	tz->chars = xcalloc(tz->nchars + 1, 1);
	memcpy(tz->chars, p, h->charcnt);
	return 0;
}

static void
widen(struct sched_tz *tz, int32_t off)
{
	if (off < tz->minoff)
		tz->minoff = off;
	if (off > tz->maxoff)
		tz->maxoff = off;
}

int
sched_tz_parse(const void *buf, size_t len, const char *name,
    struct sched_tz **out, char *errbuf, size_t errlen)
{
	const unsigned char *p = buf, *end = p + len, *f, *nl;
	struct sched_tz *tz;
	struct tzif_hdr h;
	char	 footer[TZ_FOOTER_MAX + 1];
	size_t	 n, i;

	if (read_hdr(p, len, &h, errbuf, errlen) < 0)
		return -1;
	n = block_len(&h, 4);
	if (n > len - TZIF_HDR_LEN) {
		seterr(errbuf, errlen, "truncated TZif file");
		return -1;
	}
	tz = xcalloc(1, sizeof(*tz));	/* freed below unless returned */
	if (h.version == 0) {
		if (read_block(p + TZIF_HDR_LEN, &h, 4, tz, errbuf,
		    errlen) < 0)
			goto fail;
	} else {
		p += TZIF_HDR_LEN + n;
		if (read_hdr(p, (size_t)(end - p), &h, errbuf, errlen) < 0)
			goto fail;
		n = block_len(&h, 8);
		if (n > (size_t)(end - p) - TZIF_HDR_LEN) {
			seterr(errbuf, errlen, "truncated TZif file");
			goto fail;
		}
		if (read_block(p + TZIF_HDR_LEN, &h, 8, tz, errbuf,
		    errlen) < 0)
			goto fail;
		f = p + TZIF_HDR_LEN + n;
		if (f >= end || *f != '\n' || (nl = memchr(f + 1, '\n',
		    (size_t)(end - f - 1))) == NULL) {
			seterr(errbuf, errlen, "TZif footer missing");
			goto fail;
		}
		n = (size_t)(nl - f - 1);
		if (n > TZ_FOOTER_MAX || memchr(f + 1, '\0', n) != NULL) {
			seterr(errbuf, errlen, "bad TZif footer");
			goto fail;
		}
		memcpy(footer, f + 1, n);
		footer[n] = '\0';
		if (n > 0) {
			if (!tzs_parse(footer, &tz->rule)) {
				seterr(errbuf, errlen, "bad TZ rule '%s' in "
				    "the TZif footer", footer);
				goto fail;
			}
			if (tz->rule.std_off < -TZ_OFF_MAX ||
			    tz->rule.std_off > TZ_OFF_MAX ||
			    tz->rule.dst_off < -TZ_OFF_MAX ||
			    tz->rule.dst_off > TZ_OFF_MAX) {
				seterr(errbuf, errlen, "TZ rule '%s': offset "
				    "out of range", footer);
				goto fail;
			}
			tz->has_rule = true;
		}
	}
	tz->minoff = tz->maxoff = tz->types[0].off;
	for (i = 0; i < tz->ntypes; i++)
		widen(tz, tz->types[i].off);
	if (tz->has_rule) {
		widen(tz, tz->rule.std_off);
		if (tz->rule.has_dst)
			widen(tz, tz->rule.dst_off);
	}
	tz->name = strdup(name != NULL ? name : "");
	if (tz->name == NULL)
		abort();
	*out = tz;
	return 0;
fail:
	sched_tz_free(tz);
	return -1;
}

int
sched_tz_load(const char *dir, const char *name, struct sched_tz **out,
    char *errbuf, size_t errlen)
{
	struct stat st;
	unsigned char *buf = NULL;	/* owned: the file */
	size_t	 got = 0;
	ssize_t	 r;
	int	 dfd = -1, fd = -1, rc = -1;
	char	 why[200];

	if (dir == NULL && ((dir = getenv("TZDIR")) == NULL || *dir == '\0'))
		dir = SCHED_ZONEINFO;
	if (!sched_tz_name_valid(name)) {
		seterr(errbuf, errlen, "invalid time zone name '%.64s': "
		    "expected an IANA name such as 'Europe/Paris' (letters, "
		    "digits, '_', '+', '-' and '/')", name ? name : "");
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		seterr(errbuf, errlen, "cannot open the zoneinfo directory "
		    "'%s': %s", dir, strerror(errno));
		goto out;
	}
	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			seterr(errbuf, errlen, "unknown time zone '%s': no "
			    "such zone in %s", name, dir);
		else
			seterr(errbuf, errlen, "cannot open time zone '%s' "
			    "in %s: %s", name, dir, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > TZ_FILE_MAX) {
		seterr(errbuf, errlen, "unknown time zone '%s': %s/%s is not "
		    "a zone file", name, dir, name);
		goto out;
	}
	buf = xcalloc((size_t)st.st_size + 1, 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			seterr(errbuf, errlen, "cannot read time zone '%s' "
			    "in %s: %s", name, dir, r < 0 ? strerror(errno) :
			    "short read");
			goto out;
		}
		got += (size_t)r;
	}
	if (sched_tz_parse(buf, got, name, out, why, sizeof(why)) < 0) {
		seterr(errbuf, errlen, "time zone '%s' (%s/%s): %s", name,
		    dir, name, why);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}
