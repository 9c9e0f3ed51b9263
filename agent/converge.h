/*
 * The run side of leura-agent (converge.c, desired.c): the desired state
 * in force (desired.json, with the turndown steps still to run), converge
 * runs and drift checks, the step records, and the report they make.  It
 * never talks to etcd: the sync side (sync.h) tells it, through the
 * owner (agent.c), when a newer document is in force, and publishes what
 * it reports.
 *
 * One thread: the loop's.  Nothing here calls back into the caller from
 * inside these calls, except agent_conv_desired and agent_conv_converge,
 * which may start a run at once (its first report goes out through the
 * sync side).
 */
#ifndef AGENT_CONVERGE_H
#define AGENT_CONVERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "store.h"
#include "sync.h"

struct agent_conv;

struct agent_conv_config {
	uv_loop_t	*loop;
	struct agent_store *store;	/* borrowed */
	struct agent_sync *sync;	/* borrowed: reports go out there */
	const char	*host;		/* the strings are copied */
	const char	*self_exe;	/* for run_as steps */
	bool		 once;		/* converge once, then stop */
	long		 drift_interval_ms; /* 0: the document's */
	long		 retry_base_ms;	/* step retries; 0: 1000 */
	size_t		 keep_logs;	/* packed runs kept; 0: 50 */
	size_t		 step_log_max;	/* a step's log; 0: the default */
	/*
	 * The run side is done: a --once run ended (code 0 when it
	 * converged, 1 when not), or a run ended after agent_conv_stop.
	 */
	void		(*stop)(void *arg, int code);
	/*
	 * A converge run's logs are packed (store.h): run, its id; deploy,
	 * the deploy of its document (the head's when the document has
	 * none); status "ok", "failed" or "aborted" (stopped or superseded);
	 * archive, the path of logs/RUN.tar.gz.  Strings borrowed for the
	 * call.  May be NULL.
	 */
	void		(*packed)(void *arg, const char *run, int64_t deploy,
			    const char *status, const char *archive);
	void		*arg;
};

/*
 * Make the run side and take what the state dir remembers: the cached
 * desired state (a corrupt one is ignored with a warning) and the step a
 * crash interrupted, if any (it runs again).  Nothing runs yet.
 */
struct agent_conv *agent_conv_new(const struct agent_conv_config *c);
/* After agent_conv_stop returned false and the loop ran dry.  NULL ok. */
void	agent_conv_free(struct agent_conv *cv);

/* A desired state is in force (cached, or accepted since). */
bool	agent_conv_has_desired(const struct agent_conv *cv);
/* A run is going on, or one has finished. */
bool	agent_conv_busy(const struct agent_conv *cv);
/* The key of the document in force (borrowed) and its head; NULL: none. */
const char *agent_conv_in_force(const struct agent_conv *cv, int64_t *head);

/*
 * A newer document is in force (the sync side's desired hook): keep the
 * turndown steps of services that left, save desired.json, converge.
 */
void	agent_conv_desired(struct agent_conv *cv, const char *key,
	    json_t *doc, int64_t head_gen);
/*
 * The sync side refused a document or head under key (trust.h): the
 * report says so (report.refused) until a newer document is in force.
 */
void	agent_conv_refused(struct agent_conv *cv, const char *key,
	    const struct lr_err *err);
/* The head moved without changing the document: say so in the report. */
void	agent_conv_head(struct agent_conv *cv, int64_t head_gen,
	    int64_t head_deploy);
/* Converge the desired state in force (at start, SIGHUP, --once). */
void	agent_conv_converge(struct agent_conv *cv);
/* Something a run waiting at a rollout gate depends on changed. */
void	agent_conv_kick(struct agent_conv *cv);
/*
 * Stop: no new run; the run going on is aborted.  true: a step is being
 * aborted, and the stop hook follows when it has ended; false: no run is
 * left (call again after the hook: it is false then).
 */
bool	agent_conv_stop(struct agent_conv *cv);

#endif
