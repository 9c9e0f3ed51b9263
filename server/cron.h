/*
 * Timed and cron tasks (cron_*, cron.c): the leader leurad fires the
 * schedules of the tasks of the deployed commit (docs/schedules.md).
 *
 * Every scheduled time of a task is handled once, across replicas and
 * leader changes, by creating its key P/runs/fired/<task>/<unix-s:012>
 * if absent: with the run (run_create's fire_key, one transaction), or,
 * when no run starts, with a record of why ({"skipped": "overlap" |
 * "misfire" | "error", ...}) and an event (cron.skipped, cron.missed,
 * cron.failed).  The newest such key is where a new leader takes over:
 * times up to it are done, later ones are due.  A leader also deletes a
 * task's keys more than a day older than its newest.
 */
#ifndef SRV_CRON_H
#define SRV_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct srv;
struct sched_cron;
struct sched_tz;

/* Module hooks (main.c): cron_init starts the thread (after ldr_init). */
int	cron_init(struct srv *s, struct lr_err *err);
void	cron_free(struct srv *s);

/* One task's schedule, as read from the deployed commit. */
struct cron_sched {
	char	*task;			/* owned */
	char	*expr;			/* owned: the cron text or the at text */
	struct sched_cron *cron;	/* owned; NULL for an `at` */
	int64_t	 at;			/* the `at` time (Unix s) */
	struct sched_tz *tz;		/* owned; NULL: UTC */
	int	 overlap;		/* enum spec_overlap */
	int	 misfire;		/* enum spec_misfire */
	int64_t	 deadline_s;		/* starting_deadline */
	/* the last time handled (fired, skipped, missed); INT64_MIN: unread */
	int64_t	 cursor;
};

enum cron_action {
	CRON_NONE,		/* nothing is due */
	CRON_FIRE,		/* time is due, at most deadline_s ago */
	CRON_MISSED		/* time passed more than deadline_s ago */
};

struct cron_due {
	enum cron_action what;
	int64_t	 time;		/* the newest due time */
	int64_t	 older;		/* due times before it (missed with it) */
};

/*
 * What is due at now for c after its cursor: the newest scheduled time in
 * (cursor, now], and whether it is still in time.  Pure.
 */
void	cron_due(const struct cron_sched *c, int64_t now,
	    struct cron_due *out);
/* The first scheduled time of c after `after`: 0, or -1 when none. */
int	cron_sched_next(const struct cron_sched *c, int64_t after,
	    int64_t *next);
void	cron_sched_release(struct cron_sched *c);

#endif
