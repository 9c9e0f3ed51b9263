/*
 * The static scheduler: pure functions, no I/O, no dependency on the rest of
 * Leura (the reconciler translates specs into these structs).
 *
 * Placement assigns num_instances of each service to distinct eligible hosts
 * so that the result is
 *   - valid: only eligible hosts, distinct hosts, distinct spread values;
 *   - deterministic: a function of names only, not of input order;
 *   - balanced: no host carries more than ceil(load_factor * mean) instances
 *     where the constraints allow it;
 *   - stable: removing a host moves only its instances (plus a few for
 *     rebalancing); adding one moves about its fair share.
 *
 * Cron and `at` schedules of tasks are parsed and evaluated here too, in
 * UTC or in an IANA time zone read from the system's compiled zoneinfo
 * (TZif files).  sched_tz_load() is the module's one piece of I/O: it
 * reads one file; everything else is a pure function.
 */
#ifndef LEURA_SCHEDULER_H
#define LEURA_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sched_host {
	const char *name;	/* borrowed; unique */
};

struct sched_service {
	const char *name;	/* borrowed; unique */
	const size_t *eligible;	/* indices into hosts; any order, no dups */
	size_t	 neligible;
	int	 num_instances;	/* -1: every eligible host */
	/*
	 * With spread_by: spread[h] is host h's value (indexed like hosts,
	 * non-NULL for every eligible host); instances go to hosts with
	 * distinct values.  NULL when the service has no spread_by.
	 */
	const char *const *spread;
};

struct sched_input {
	const struct sched_host *hosts;
	size_t	 nhosts;
	const struct sched_service *services;
	size_t	 nservices;
	double	 load_factor;	/* 0: the default 1.25 */
};

struct sched_placement {
	size_t	*hosts;		/* owned: host indices, sorted by host name */
	size_t	 n;
	char	*error;		/* owned: why it is impossible, or NULL */
};

struct sched_result {
	struct sched_placement *services;	/* owned; like input services */
	size_t	 nservices;
	size_t	 nerrors;	/* services that could not be placed */
};

/*
 * Place every service.  Always fills res (free with sched_result_release);
 * a service that cannot be placed gets an error such as "needs 3 instances
 * but only 2 hosts of group 'core' are eligible" and no hosts, and the rest
 * are still placed.  Returns 0, or -1 when some service failed.
 */
int	sched_place(const struct sched_input *in, struct sched_result *res);
void	sched_result_release(struct sched_result *res);

/* ---- cron and `at` ---- */

struct sched_cron;

/*
 * Parse a 5-field cron expression (minute hour day-of-month month
 * day-of-week), with lists, ranges, steps, names (jan, mon), '?' and the
 * macros @hourly @daily @midnight @weekly @monthly @yearly @annually.
 * Vixie semantics: when both day fields are restricted, either matches.
 * On error returns -1, writes a message into errbuf and the 0-based byte
 * offset of the offending field into *errpos (may be NULL).
 */
int	sched_cron_parse(const char *expr, struct sched_cron **out,
	    char *errbuf, size_t errlen, size_t *errpos);
void	sched_cron_free(struct sched_cron *c);
/*
 * First fire time strictly after `after` (Unix seconds, UTC).  Returns 0,
 * or -1 when it never fires (e.g. "0 0 30 2 *").
 */
int	sched_cron_next(const struct sched_cron *c, int64_t after,
	    int64_t *next);

/*
 * Parse an RFC 3339 time ("2026-12-01T03:00:00Z", offsets "+02:00",
 * optional fractional seconds ignored) into Unix seconds.  -1 with errbuf
 * on error.
 */
int	sched_at_parse(const char *s, int64_t *out, char *errbuf,
	    size_t errlen);

/* ---- time zones (tz.c) ---- */

struct sched_tz;

#define SCHED_ZONEINFO	"/usr/share/zoneinfo"

/*
 * Whether name can be a zone name: non-empty, at most 255 bytes of
 * [A-Za-z0-9_+-/], no leading, trailing or doubled '/', no "." or ".."
 * component.  Only such names are ever opened.
 */
bool	sched_tz_name_valid(const char *name);
/*
 * Parse a TZif file (RFC 8536, versions 1 to 4) held in buf: its
 * transitions and, from version 2, the POSIX TZ footer that governs the
 * times after the last one ("CET-1CEST,M3.5.0,M10.5.0/3").  name is
 * copied, for sched_tz_name().  Zones with leap seconds ("right/...")
 * are refused.  -1 with a message in errbuf on error.
 */
int	sched_tz_parse(const void *buf, size_t len, const char *name,
	    struct sched_tz **out, char *errbuf, size_t errlen);
/*
 * Load zone name (checked with sched_tz_name_valid) from the directory
 * dir (NULL: $TZDIR when set, as the C library and the spec checks read
 * it, else SCHED_ZONEINFO), opened relative to it with openat().  The
 * error says whether the name is malformed, unknown or the file bad.
 */
int	sched_tz_load(const char *dir, const char *name,
	    struct sched_tz **out, char *errbuf, size_t errlen);
void	sched_tz_free(struct sched_tz *tz);
const char *sched_tz_name(const struct sched_tz *tz);	/* borrowed */
/*
 * The wall-clock time at instant t (Unix seconds), as seconds since
 * 1970-01-01T00:00 of that wall clock (a "wall" value: the local date
 * and time read as if they were UTC).  *off: t's UTC offset in seconds
 * east, *abbr: its abbreviation ("CEST"), borrowed from tz; both may be
 * NULL.  tz NULL is UTC.
 */
int64_t	sched_tz_utc_to_wall(const struct sched_tz *tz, int64_t t,
	    int32_t *off, const char **abbr);
/*
 * The instant of a wall time.  A wall time that occurs twice (the hour
 * a DST change repeats) gives its first occurrence; one that does not
 * occur (the hour skipped when DST starts) gives the first instant after
 * the gap, i.e. the instant of the change.
 */
int64_t	sched_tz_wall_to_utc(const struct sched_tz *tz, int64_t wall);
/* The largest UTC offset of the zone minus the smallest, in seconds. */
int64_t	sched_tz_span(const struct sched_tz *tz);

/*
 * sched_cron_next() with the fields read as wall-clock times in tz (NULL:
 * UTC).  A wall time in a DST gap fires once, at the first instant after
 * the gap; one in a DST overlap fires once, at its first occurrence.
 */
int	sched_cron_next_tz(const struct sched_cron *c,
	    const struct sched_tz *tz, int64_t after, int64_t *next);
/*
 * sched_at_parse() where a time without a zone designator is a wall time
 * in tz (gap and overlap as above); with a 'Z' or an offset it is
 * absolute.  tz NULL: the zone designator is required.
 */
int	sched_at_parse_tz(const char *s, const struct sched_tz *tz,
	    int64_t *out, char *errbuf, size_t errlen);

#endif
