/*
 * leura-agent's private header: the daemon's state, shared by main.c
 * (options, signals, lifetime), sync.c (everything etcd: the desired
 * state, contents, reports, heartbeat, other hosts' reports for rollout
 * order) and converge.c (runs: converging, drift checks).
 *
 * One libuv loop, one thread (plus libuv's pool for file and http steps
 * and log packing).  Nothing polls: the loop sleeps until an etcd watch,
 * a step's process, a lease keep-alive or the drift timer wakes it.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "etcd_uv.h"
#include "step.h"
#include "store.h"

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
};

struct agent_run;

struct agent {
	uv_loop_t	*loop;
	struct agent_opts o;
	char		*self_exe;	/* owned: /proc/self/exe */
	struct agent_store *store;
	struct etcd_uv	*eu;
	int64_t		 started_unix;

	/* keys, owned */
	char	*k_head;	/* P/desired/head */
	char	*k_docs;	/* P/desired/hosts/HOST/ */
	char	*k_files;	/* P/desired/files/ */
	char	*k_observed;	/* P/observed/HOST */
	char	*k_results;	/* P/results/HOST */
	char	*k_agent;	/* P/agents/HOST */
	char	*k_obs_dir;	/* P/observed/ */

	/* ---- what etcd says (sync.c) ---- */
	bool	 synced;	/* the initial read is done */
	int64_t	 head_gen;	/* head.generation; 0: none */
	int64_t	 head_deploy;
	int64_t	 head_rev;	/* its mod_revision */
	json_t	*docs;		/* {key: document} under k_docs */
	int64_t	 docs_rev;	/* docs is known up to this revision */
	bool	 docs_reading;
	struct etcd_uv_watch *w_head, *w_docs, *w_obs;
	struct etcd_uv_lease *lease;
	int64_t	 lease_id;
	uv_timer_t t_sync;	/* retry of the initial read, fetches */
	uv_timer_t t_facts;	/* heartbeat refresh */
	long	 sync_backoff_ms;
	char	*fetching;	/* key of the document whose files come */
	/* other hosts' reports, while a rollout gate waits on them */
	json_t	*observed;	/* {host: report}; NULL: not loaded */
	bool	 obs_loading;

	/* ---- the desired state in force (desired.json) ---- */
	/*
	 * {"key": document key, "doc": document, "turndown": [steps of
	 * services that left the host, still to run], "head": head gen}
	 */
	json_t	*cur;

	/* ---- reporting ---- */
	json_t	*report;	/* what P/observed/HOST should say */
	json_t	*results;	/* what P/results/HOST should say */
	bool	 put_busy, put_dirty, results_dirty;
	char	*interrupted;	/* step id a crash interrupted; owned */

	/* ---- runs (converge.c) ---- */
	struct agent_run *run;
	bool	 rerun;		/* converge again when the run ends */
	bool	 repair;	/* that run repairs drift a check found */
	uv_timer_t t_drift;
	int64_t	 runs;		/* runs finished */
	int	 last_ok;	/* last run converged: 1, failed: 0, -1 none */

	/* ---- lifetime (main.c) ---- */
	uv_signal_t sig_term, sig_int, sig_hup;
	bool	 stopping;
	int	 exit_code;
	int	 closing;	/* agent_stop has closed our handles */
};

/* main.c */
void	agent_stop(struct agent *a, int code);

/* sync.c */
int	agent_sync_start(struct agent *a, struct lr_err *err);
void	agent_sync_stop(struct agent *a);
/* Publish a->report (and a->results when results_dirty), coalesced. */
void	agent_report_put(struct agent *a);
/* A rollout gate waits: make sure a->observed is loaded and watched. */
void	agent_observe_start(struct agent *a);
void	agent_observe_stop(struct agent *a);

/* converge.c */
/* a->cur changed (or the agent started with one): converge it. */
void	agent_converge(struct agent *a);
/* Something a waiting run depends on changed (reports, head). */
void	agent_run_kick(struct agent *a);
/*
 * SIGTERM: stop the run.  true: a step is being aborted, and its end
 * calls agent_stop again; false: no run is left.
 */
bool	agent_run_abort(struct agent *a);
/* Fill the report's common fields (generation, head, at, ...). */
void	agent_report_stamp(struct agent *a, const char *state);
/* Document generation of a->cur, 0 when none. */
int64_t	agent_cur_generation(const struct agent *a);

#endif
