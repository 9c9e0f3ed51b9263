/*
 * Waiting for a deploy to land: `leura apply --wait` and `leura up` follow
 * the hosts a deploy wrote until each one is done, from the agents' reports
 * (P/observed/<host>) and heartbeats (P/agents/<host>).
 *
 * Two halves.  The decisions are pure and the library's (follow.h): the
 * state of one host toward its target generation, what changed, and the
 * progress line.  The runner here (cmd_wait_run) reads both prefixes
 * once, then follows them with the blocking etcd_watch, and prints.
 */
#ifndef LEURA_WAIT_H
#define LEURA_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "etcd.h"
#include "follow.h"

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
	/*
	 * The agents were just started (`leura up`): a host whose agent has
	 * not put its heartbeat yet is "starting", not "agent down".
	 */
	bool	 agents_starting;
	long	 timeout_ms;	/* > 0 */
	enum cmd_wait_output output;
	/* set (signal handler, other thread): stop waiting; may be NULL */
	atomic_int *stop;
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
