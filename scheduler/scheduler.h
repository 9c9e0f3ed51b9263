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
 * Cron and `at` schedules of tasks are parsed and evaluated here too (UTC).
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

#endif
