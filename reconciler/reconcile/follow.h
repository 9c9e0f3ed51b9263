/*
 * Following a rollout: the state of each host a deploy wrote toward its
 * target generation, from the agents' reports (P/observed/<host>) and
 * heartbeats (P/agents/<host>).  Pure decisions, no I/O: the caller reads
 * and watches the store, feeds the keys in (rec_follow_put/del/clear),
 * calls rec_follow_update and shows what changed.  `leura apply --wait`
 * and `leura up` print it (builtin/wait.c); a daemon would publish it.
 * reconciler/tests/test_wait.c tests it without etcd.
 */
#ifndef REC_FOLLOW_H
#define REC_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "etcd.h"

/*
 * A host's state toward its target generation G.  The first three are
 * pending, the others done: a done host stays done for the rest of the
 * follow (rec_follow_update latches it), whatever its agent does next.
 */
enum rec_follow_state {
	REC_FOLLOW_DOWN,	/* no heartbeat and no final report at >= G */
	/* down, but its agent was just started (rec_follow.starting) */
	REC_FOLLOW_STARTING,
	REC_FOLLOW_CONVERGING,	/* the agent has not finished G yet */
	REC_FOLLOW_WAITING,	/* held back by rollout order */
	REC_FOLLOW_CONVERGED,
	REC_FOLLOW_FAILED,
	REC_FOLLOW_DRIFTED,
	/* waiting for a service on a host whose report says failed */
	REC_FOLLOW_BLOCKED,
	/* a report Leura cannot read, or a state it does not know */
	REC_FOLLOW_UNKNOWN
};
#define REC_FOLLOW_NSTATES (REC_FOLLOW_UNKNOWN + 1)

/* "down", "converging", ...: as --json shows it. */
const char *rec_follow_state_name(enum rec_follow_state s);
/* As people read it: "agent down" rather than "down". */
const char *rec_follow_state_shown(enum rec_follow_state s);
bool	rec_follow_state_done(enum rec_follow_state s);

/*
 * The state of host toward generation gen, from observed ({host: report},
 * a report that is not a JSON object counts as unreadable), agents ({host:
 * heartbeat}: present means alive) and targets ({host: G} of every host
 * followed: a waiting host is blocked only by a failure at the target of
 * the host it waits for).  The rules:
 *
 *   - a report at generation >= gen whose state is not "converging" is
 *     final: converged, failed, drifted, or unknown for another state
 *     (heartbeat or not: the agent said so);
 *   - otherwise no heartbeat is "agent down" (rec_follow_update makes
 *     it "starting" for an agent just started: rec_follow.starting);
 *   - a "converging" report at >= gen with "waiting" is waiting, or
 *     blocked when the report's waiting_for names a host whose report
 *     says failed or drifted at or above that host's target, or a host
 *     that waits, at its target, on such a host (and so on down the
 *     chain: a blocked host blocks whoever waits on it);
 *   - anything else is converging.
 *
 * *detail is set to a new string saying why (the current step's name, the
 * waiting text, a failure reason) or NULL; the caller frees it.
 */
enum rec_follow_state rec_follow_decide(const char *host, int64_t gen,
	    const json_t *observed, const json_t *agents, const json_t *targets,
	    char **detail);

/* One host followed. */
struct rec_follow_host {
	char	*name;		/* owned */
	int64_t	 generation;	/* the target G */
	enum rec_follow_state state;
	char	*detail;	/* owned, may be NULL */
	long	 took_ms;	/* converged: how long its run took, or -1 */
	bool	 shown;		/* its state was decided once */
	bool	 agent_seen;	/* a heartbeat was put in this follow */
	bool	 changed;	/* news in the last rec_follow_update */
};

/* The order states are listed in, in progress and summary lines. */
#define REC_FOLLOW_NORDER 8
extern const enum rec_follow_state rec_follow_order[REC_FOLLOW_NORDER];

/* How many hosts are in each state. */
void	rec_follow_count(const struct rec_follow_host *hosts, size_t n,
	    size_t count[REC_FOLLOW_NSTATES]);

/*
 * The progress line into b (appended), e.g.
 *   deploy #5: 3/5 converged, 1 converging (web1: site config), 1 waiting
 *   (web2: web waits for db to validate on db1), 0 failed  12s
 * Counts of every state present (failed always), each with the first host
 * by name in that state and its detail, "+N" when more share it; the
 * clock unless elapsed_ms < 0.  hosts sorted by name.  Names and details
 * go in made visible (lr_buf_add_visible): the line is for a terminal.
 */
void	rec_follow_progress(const struct rec_follow_host *hosts, size_t n,
	    int64_t deploy, long elapsed_ms, struct lr_buf *b);

/*
 * "12s", "2m05s", "30m", "1h02m", "2h" into buf; precise: "850ms" below a
 * second, "1.4s" below a minute.
 */
void	rec_follow_fmt_ms(long ms, bool precise, char *buf, size_t len);

/* ---- a rollout followed ---- */

struct rec_follow {
	const json_t *targets;		/* borrowed: {host: G} */
	int64_t	 min_revision;		/* keys written before are ignored */
	/*
	 * The agents were just started (`leura up` starts them): a host
	 * down whose agent has not put a heartbeat yet in this follow is
	 * starting; once it has, a lost heartbeat is down.
	 */
	bool	 starting;
	char	*obs_pfx, *agt_pfx;	/* "P/observed/", "P/agents/" */
	json_t	*observed, *agents;	/* what the keys say */
	struct rec_follow_host *hosts;	/* sorted by name */
	size_t	 n;
};

/*
 * Follow the hosts of targets ({host: G}, borrowed until release) under
 * prefix.  Keys last written before min_revision are ignored (`leura up`
 * counts only what the agents it started wrote; 0: all count).
 */
void	rec_follow_init(struct rec_follow *f, const char *prefix,
	    const json_t *targets, int64_t min_revision);
void	rec_follow_release(struct rec_follow *f);
/* A key of P/ put or deleted (others are ignored); a re-list clears. */
void	rec_follow_put(struct rec_follow *f, const struct etcd_kv *kv);
void	rec_follow_del(struct rec_follow *f, const char *key);
void	rec_follow_clear(struct rec_follow *f);
/*
 * Re-decide the pending hosts, marking hosts[i].changed where a state (or
 * a waiting reason) is news; elapsed_ms since the follow began stands for
 * the run time of a host seen pending whose report has none.  True when
 * every host is done.
 */
bool	rec_follow_update(struct rec_follow *f, long elapsed_ms);
bool	rec_follow_all_converged(const struct rec_follow *f);

#endif
