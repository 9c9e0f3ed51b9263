/*
 * leura-agent, the daemon: its options and its lifetime (agent.c).
 *
 * An agent is two sides and the glue between them.  The sync side
 * (sync.h, sync.c) talks to etcd: it reads and watches the desired state,
 * fetches contents, keeps the heartbeat and publishes reports.  The run
 * side (converge.h, converge.c, desired.c) enforces the desired state in
 * force: runs, steps, records, drift checks, and the report they make.
 * agent.c owns both, passes the sync side's news to the run side, handles
 * signals and --once, and stops them in order.
 *
 * One libuv loop, one thread (plus libuv's pool for file and http steps
 * and log packing).  Nothing polls: the loop sleeps until an etcd watch,
 * a step's process, a lease keep-alive or the drift timer wakes it.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "err.h"
#include "etcd.h"
#include "sign.h"

struct agent_opts {
	const char *host;		/* required */
	const char *prefix;		/* "/leura" */
	const char *state_dir;
	struct etcd_config etcd;
	bool	 once;			/* converge once, then exit */
	long	 lease_ttl_s;		/* heartbeat lease; 0: 10 */
	long	 drift_interval_ms;	/* override; 0: the document's */
	long	 retry_base_ms;		/* step retries; 0: 1000 */
	size_t	 keep_logs;		/* packed runs kept; 0: 50 */
	size_t	 step_log_max;		/* a step's log; 0: the default */
	size_t	 max_request_bytes;	/* etcd's limit; 0: its default */
	size_t	 run_parallel;		/* task-run steps at once; 0: 4 */
	/*
	 * The fleet's public keys: only what they signed is acted on
	 * (trust.h).  NULL: --insecure-unsigned, everything is.
	 */
	const struct lr_sign_key *keys;
};

struct agent;

/*
 * Make an agent on loop: create the state dir's parents, open (and lock)
 * the state dir, take the desired state cached there, catch SIGTERM,
 * SIGINT and SIGHUP.  o's strings must live as long as the agent; argv0
 * names the agent's own executable when /proc/self/exe cannot.  Errors
 * (the state dir) leave nothing behind.
 */
int	agent_new(uv_loop_t *loop, const struct agent_opts *o,
	    const char *argv0, struct agent **out, struct lr_err *err);
/*
 * Connect to etcd in the background, enforce the cached desired state
 * at once (unless --once), and run the loop until SIGTERM/SIGINT or the
 * end of the --once run.  The exit status: 0, or 1 after a failure.
 */
int	agent_run(struct agent *a);
/* Close what is left, run the loop dry, free.  NULL is fine. */
void	agent_free(struct agent *a);

#endif
