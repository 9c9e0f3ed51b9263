/*
 * Private to the run side (converge.c, desired.c): its state.  converge.c
 * runs; desired.c keeps the desired state in force.  Nothing outside the
 * run side sees these fields: agent.c and sync.c go through converge.h.
 */
#ifndef AGENT_CONVERGE_INT_H
#define AGENT_CONVERGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "converge.h"
#include "store.h"
#include "sync.h"

struct agent_run;

struct agent_conv {
	/* ---- settings (agent_conv_new), owned or borrowed as said ---- */
	uv_loop_t	*loop;
	struct agent_store *store;	/* borrowed */
	struct agent_sync *sync;	/* borrowed */
	char		*host;
	char		*self_exe;
	bool		 once;
	long		 drift_interval_ms;
	long		 retry_base_ms;
	size_t		 keep_logs;
	size_t		 step_log_max;
	void		(*stop_cb)(void *arg, int code);
	void		(*packed_cb)(void *arg, const char *run, int64_t deploy,
			    const char *status, const char *archive);
	void		*arg;

	/* ---- the desired state in force (desired.c) ---- */
	/*
	 * {"key": document key, "doc": document, "turndown": [steps of
	 * services that left the host, still to run], "head": head gen}
	 */
	json_t		*cur;
	char		*interrupted;	/* step id a crash interrupted */

	/* ---- what P/observed/HOST should say (both files) ---- */
	json_t		*report;

	/* ---- runs (converge.c) ---- */
	struct agent_run *run;
	bool		 rerun;		/* converge again when the run ends */
	bool		 repair;	/* that run repairs drift found */
	uv_timer_t	 t_drift;
	bool		 t_drift_closed;
	int64_t		 runs;		/* runs finished */
	int		 last_ok;	/* last run converged: 1, failed: 0,
					 * -1 none */
	bool		 stopping;
};

/* desired.c */
/* Read desired.json and running.json into cv (at agent_conv_new). */
void	conv_desired_load(struct agent_conv *cv);
/* Document generation of cv->cur, 0 when none. */
int64_t	conv_cur_generation(const struct agent_conv *cv);
/* Remove the contents the desired state in force no longer needs. */
void	conv_files_gc(struct agent_conv *cv);
/*
 * Add to cur's "turndown" the turndown steps of old's services that next
 * no longer has, and drop those of services next has again.  Any JSON is
 * fine: what is not of the document's shape is passed over.
 */
void	conv_turndown_add(json_t *cur, const json_t *old, const json_t *next);
/* Drop the turndown steps named in done (ids) from cur and desired.json. */
void	conv_turndown_done(struct agent_conv *cv, const json_t *done);

/* converge.c */
/* Fill the report's common fields (generation, head, at, ...). */
void	conv_report_stamp(struct agent_conv *cv, const char *state);

#endif
