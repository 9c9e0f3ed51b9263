/*
 * Waiting for a deploy to land: `leura apply --wait` and `leura up` follow
 * the hosts a deploy wrote until each one is done, from the agents' reports
 * (P/observed/<host>) and heartbeats (P/agents/<host>).
 *
 * Two halves.  The decisions are pure: the state of one host toward its
 * target generation is a function of the reports, the heartbeats and the
 * targets (cmd_wait_decide), and the progress line a function of the
 * hosts' states (cmd_wait_progress); reconciler/tests/test_wait.c tests
 * them without etcd.  The runner (cmd_wait_run) reads both prefixes once,
 * then follows them with the blocking etcd_watch, and prints.
 */
#ifndef LEURA_WAIT_H
#define LEURA_WAIT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "etcd.h"

/*
 * A host's state toward its target generation G.  The first three are
 * pending, the others done: a done host stays done for the rest of the
 * wait (cmd_wait_run latches it), whatever its agent does next.
 */
enum cmd_wait_state {
	CMD_WAIT_DOWN,		/* no heartbeat and no final report at >= G */
	CMD_WAIT_CONVERGING,	/* the agent has not finished G yet */
	CMD_WAIT_WAITING,	/* held back by rollout order */
	CMD_WAIT_CONVERGED,
	CMD_WAIT_FAILED,
	CMD_WAIT_DRIFTED,
	/* waiting for a service on a host whose report says failed */
	CMD_WAIT_BLOCKED,
	/* a report Leura cannot read, or a state it does not know */
	CMD_WAIT_UNKNOWN
};
#define CMD_WAIT_NSTATES (CMD_WAIT_UNKNOWN + 1)

/* "converging", "agent down", ...: as the output shows it. */
const char *cmd_wait_state_name(enum cmd_wait_state s);
bool	cmd_wait_state_done(enum cmd_wait_state s);

/*
 * The state of host toward generation gen, from observed ({host: report},
 * a report that is not a JSON object counts as unreadable), agents ({host:
 * heartbeat}: present means alive) and targets ({host: G} of every host
 * waited for: a waiting host is blocked only by a failure at the target of
 * the host it waits for).  The rules:
 *
 *   - a report at generation >= gen whose state is not "converging" is
 *     final: converged, failed, drifted, or unknown for another state
 *     (heartbeat or not: the agent said so);
 *   - otherwise no heartbeat is "agent down";
 *   - a "converging" report at >= gen with "waiting" is waiting, or
 *     blocked when the waiting text ends in " on HOST" and HOST's report
 *     says failed or drifted at or above HOST's target;
 *   - anything else is converging.
 *
 * *detail is set to a new string saying why (the current step's name, the
 * waiting text, a failure reason) or NULL; the caller frees it.
 */
enum cmd_wait_state cmd_wait_decide(const char *host, int64_t gen,
	    const json_t *observed, const json_t *agents, const json_t *targets,
	    char **detail);

/* One host followed by a wait. */
struct cmd_wait_host {
	char	*name;		/* owned */
	int64_t	 generation;	/* the target G */
	enum cmd_wait_state state;
	char	*detail;	/* owned, may be NULL */
	long	 took_ms;	/* converged: how long its run took, or -1 */
	bool	 shown;		/* its state was printed once */
};

/*
 * The progress line into b (appended), e.g.
 *   deploy #5: 3/5 converged, 1 converging (web1: site config), 1 waiting
 *   (web2: web waits for db to validate on db1), 0 failed  12s
 * Counts of every state present (failed always), each with the first host
 * by name in that state and its detail, "+N" when more share it; the
 * clock unless elapsed_ms < 0.  hosts sorted by name.  Pure.
 */
void	cmd_wait_progress(const struct cmd_wait_host *hosts, size_t n,
	    int64_t deploy, long elapsed_ms, struct lr_buf *b);

/*
 * "12s", "2m05s", "30m", "1h02m", "2h" into buf; precise: "850ms" below a
 * second, "1.4s" below a minute.
 */
void	cmd_wait_fmt_ms(long ms, bool precise, char *buf, size_t len);


enum cmd_wait_output {
	CMD_WAIT_LINES,		/* one line per host state change */
	CMD_WAIT_PROGRESS,	/* a line rewritten in place (a terminal) */
	CMD_WAIT_QUIET		/* nothing on stdout (apply --json) */
};

struct cmd_wait_opts {
	int64_t	 deploy;	/* for messages */
	int64_t	 revision;	/* read at this store revision, watch after;
				   0: now */
	/*
	 * Keys last written before this revision are ignored: `leura up`
	 * counts only what the agents it started wrote.  0: all count.
	 */
	int64_t	 min_revision;
	long	 timeout_ms;	/* > 0 */
	enum cmd_wait_output output;
	/* set by the caller's signal handler: stop waiting (may be NULL) */
	volatile sig_atomic_t *stop;
	const char *hint;	/* after a timeout or failure; NULL: default */
};

enum cmd_wait_result {
	CMD_WAIT_ALL_CONVERGED,
	CMD_WAIT_NOT_CONVERGED,	/* every host done, some not converged */
	CMD_WAIT_TIMED_OUT,
	CMD_WAIT_STOPPED,	/* *o->stop was set */
	CMD_WAIT_ERROR		/* etcd failed; printed */
};

/*
 * Follow the hosts of targets ({host: G}) under prefix until each is done,
 * the timeout passes, or *o->stop is set.  Prints the progress to stdout
 * (o->output), and at the end a summary line, and on stderr what went
 * wrong (hosts failed, not done in time, etcd errors) with a hint.  When
 * out is not NULL, *out gets {"result": "converged"|"failed"|"timeout"|
 * "interrupted"|"error", "hosts": {host: {"state", "generation",
 * "detail"?}}} (new reference).  Returns the result.
 */
enum cmd_wait_result cmd_wait_run(struct etcd *e, const char *prefix,
	    const json_t *targets, const struct cmd_wait_opts *o, json_t **out);

/* Whether stdout is a terminal that takes ESC[K. */
bool	cmd_wait_tty(void);

#endif
