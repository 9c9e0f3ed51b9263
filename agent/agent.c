/*
 * The agent's lifetime (agent.h): it makes the two sides, passes the sync
 * side's news to the run side, handles signals and --once, and stops in
 * order.
 *
 * Who owns what: this file, the state dir (struct agent_store, which both
 * sides use: the sync side for contents, the run side for the rest), the
 * signals and the exit status; sync.c, its etcd client, timers, watches
 * and what etcd said; converge.c and desired.c, the desired state in
 * force, the runs, the drift timer and the report.  Neither side calls the
 * other or this file directly: the sync side's hooks and the run side's
 * stop hook land here.
 *
 * Stopping (SIGTERM, SIGINT, the end of a --once run): the sync side
 * holds (it acts on nothing etcd says any more), the run side aborts the
 * running step (its process group gets SIGTERM, then SIGKILL 5 s later)
 * and calls back when it has ended; then the signals close and the sync
 * side sends the last report, revokes the heartbeat and lets go of etcd,
 * and the loop runs out.  On a signal each of these has its own deadline
 * (etcd's: STOP_ETCD_MS), so a stop takes about 7 s at worst; what no
 * deadline can cut short (a process that SIGKILL does not end, a file or
 * http step on the thread pool, packing a run's logs) meets STOP_MAX_MS,
 * past which the agent says what it was waiting for and exits at once
 * (docs/man/leura-agent.8.md, Stopping).  At the end of a --once run,
 * which nobody is waiting to see stop, the last report (the run's result,
 * what a provisioning script wants in etcd) gets ONCE_ETCD_MS instead.
 */
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LR_LOG_COMPONENT "agent"
#include "agent.h"
#include "converge.h"
#include "file.h"
#include "log.h"
#include "runs.h"
#include "store.h"
#include "sync.h"
#include "xalloc.h"

#define STOP_MAX_MS	10000	/* from the signal to the exit, at most */
#define STOP_ETCD_MS	2000	/* the last report and the revoke, on a
				 * signal */
#define ONCE_ETCD_MS	15000	/* the same at the end of --once: a
				 * request's timeout, its retry, the revoke */

struct agent {
	uv_loop_t	*loop;		/* main's */
	struct agent_opts o;		/* strings borrowed from main */
	char		*self_exe;	/* owned: /proc/self/exe */
	struct agent_store *store;	/* owned, lent to both sides */
	struct agent_sync *sync;	/* owned: the sync side */
	struct agent_conv *conv;	/* owned: the run side */
	struct agent_runs *runs;	/* owned: task runs */
	uv_signal_t	 sig_term, sig_int, sig_hup;
	uv_timer_t	 t_stop;	/* STOP_MAX_MS after the stop began */
	bool		 signals_closed;
	bool		 stopping;
	bool		 signalled;	/* the stop came from SIGTERM/SIGINT */
	int		 exit_code;
};

/* ---- stopping ---- */

/*
 * The stop took STOP_MAX_MS: something no deadline of ours can end holds
 * the loop (a thread-pool job cannot be cancelled, a process may survive
 * SIGKILL in uninterruptible sleep).  Exit now, without the exit
 * handlers: libuv's would join that thread.  What the state dir needs is
 * on disk already (records and desired.json are written at once).
 */
static void
stop_overdue_cb(uv_timer_t *t)
{
	struct agent *a = t->data;

	lr_log_error("stopping took over %d s (still waiting for %s); "
	    "exiting now", STOP_MAX_MS / 1000, a->signals_closed ? "etcd, "
	    "or the packing of a run's logs" : "the running step to end");
	_exit(a->exit_code);
}

/*
 * Stop (signalled: on SIGTERM or SIGINT; else at the end of --once, or
 * when etcd's client cannot be made).  Called again when the run side has
 * ended the run.
 */
static void
agent_stop(struct agent *a, int code, bool signalled)
{
	if (!a->stopping) {
		a->stopping = true;
		a->exit_code = code;
		lr_log_notice("stopping");
		agent_sync_hold(a->sync);
	}
	if (signalled && !a->signalled) {
		a->signalled = true;
		/* a bound, not a reason to keep the loop alive */
		uv_timer_start(&a->t_stop, stop_overdue_cb, STOP_MAX_MS, 0);
		uv_unref((uv_handle_t *)&a->t_stop);
	}
	if (agent_conv_stop(a->conv))
		return;		/* the step's end calls again */
	if (agent_runs_stop(a->runs))
		return;		/* the last result calls again */
	if (a->signals_closed)
		return;
	a->signals_closed = true;
	uv_close((uv_handle_t *)&a->sig_term, NULL);
	uv_close((uv_handle_t *)&a->sig_int, NULL);
	uv_close((uv_handle_t *)&a->sig_hup, NULL);
	/* signals are open until here: signalled is final */
	agent_sync_stop(a->sync, a->signalled ? STOP_ETCD_MS : ONCE_ETCD_MS);
}

static void
signal_cb(uv_signal_t *s, int signum)
{
	struct agent *a = s->data;

	if (signum == SIGHUP) {
		/* an operator's "converge now" */
		lr_log_notice("SIGHUP received: converging again");
		agent_conv_converge(a->conv);
		return;
	}
	lr_log_notice("%s received", signum == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	agent_stop(a, 0, true);
}

/* ---- the sync side's hooks, and the run side's ---- */

static const char *
hook_in_force(void *arg, int64_t *head)
{
	struct agent *a = arg;

	return agent_conv_in_force(a->conv, head);
}

static void
hook_desired(void *arg, const char *key, json_t *doc, int64_t head_gen)
{
	struct agent *a = arg;

	agent_conv_desired(a->conv, key, doc, head_gen);
}

static void
hook_head(void *arg, int64_t head_gen, int64_t head_deploy)
{
	struct agent *a = arg;

	agent_conv_head(a->conv, head_gen, head_deploy);
}

static void
hook_refused(void *arg, const char *key, const struct lr_err *err)
{
	struct agent *a = arg;

	agent_conv_refused(a->conv, key, err);
}

static void
hook_kick(void *arg)
{
	struct agent *a = arg;

	agent_conv_kick(a->conv);
}

/*
 * --once: after the first read (or its failure: from the cache), converge
 * once, or stop when there is nothing to converge.  true when it acted.
 */
static bool
hook_read_done(void *arg, const char *failure)
{
	struct agent *a = arg;

	if (!a->o.once || a->stopping || agent_conv_busy(a->conv))
		return false;
	if (agent_conv_has_desired(a->conv)) {
		if (failure)
			lr_log_warn("etcd: %s; converging the cached desired "
			    "state", failure);
		agent_conv_converge(a->conv);
		return true;
	}
	if (failure)
		lr_log_error("cannot read the desired state: %s, and none is "
		    "cached in %s", failure, agent_store_dir(a->store));
	else
		lr_log_error("no desired state for host %s under %s: run "
		    "'leura apply' with this host in the inventory",
		    a->o.host, a->o.prefix);
	agent_stop(a, 1, false);
	return true;
}

static void
conv_stopped(void *arg, int code)
{
	agent_stop(arg, code, false);
}

/* A converge run's logs are packed: they go to leurad as the deploy's. */
static void
conv_packed(void *arg, const char *run, int64_t deploy, const char *status,
    const char *archive)
{
	struct agent *a = arg;

	if (!a->stopping)
		agent_runs_deploy_log(a->runs, run, deploy, status, archive);
}

static void
runs_refused(void *arg, const char *key, const struct lr_err *err)
{
	struct agent *a = arg;

	agent_conv_refused(a->conv, key, err);
}

static void
runs_stopped(void *arg)
{
	struct agent *a = arg;

	agent_stop(a, a->exit_code, false);
}

/* ---- lifetime ---- */

static char *
self_exe(const char *argv0)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return lr_xstrdup(argv0);
	buf[n] = '\0';
	return lr_xstrdup(buf);
}

/* Create the folders that lead to path (0755), not path itself. */
static void
mkdir_parents(const char *path)
{
	char *p = lr_xstrdup(path), *slash = strrchr(p, '/');

	if (slash && slash != p) {
		*slash = '\0';
		(void)lr_mkdir_p(p, 0755);
	}
	free(p);
}

int
agent_new(uv_loop_t *loop, const struct agent_opts *o, const char *argv0,
    struct agent **out, struct lr_err *err)
{
	static const struct agent_sync_hooks hooks = {
		.in_force = hook_in_force,
		.desired = hook_desired,
		.head = hook_head,
		.kick = hook_kick,
		.read_done = hook_read_done,
		.refused = hook_refused,
	};
	struct agent_sync_hooks h = hooks;
	struct agent_sync_config sc = { 0 };
	struct agent_conv_config cc = { 0 };
	struct agent_runs_config rc_ = { 0 };
	struct agent_store *store;
	struct agent *a;
	int64_t started;
	int rc;

	mkdir_parents(o->state_dir);
	if ((rc = agent_store_open(o->state_dir, &store, err)) < 0)
		return rc;
	a = lr_xcalloc(1, sizeof(*a));
	a->loop = loop;
	a->o = *o;
	a->store = store;
	a->self_exe = self_exe(argv0);
	started = (int64_t)time(NULL);
	srandom((unsigned)getpid() ^ (unsigned)started);	/* jitter */

	h.arg = a;
	sc.loop = loop;
	sc.store = store;
	sc.host = o->host;
	sc.prefix = o->prefix;
	sc.etcd = &a->o.etcd;
	sc.lease_ttl_s = o->lease_ttl_s;
	sc.started_unix = started;
	sc.max_request_bytes = o->max_request_bytes;
	sc.keys = o->keys;
	a->sync = agent_sync_new(&sc, &h);

	cc.loop = loop;
	cc.store = store;
	cc.sync = a->sync;
	cc.host = o->host;
	cc.self_exe = a->self_exe;
	cc.once = o->once;
	cc.drift_interval_ms = o->drift_interval_ms;
	cc.retry_base_ms = o->retry_base_ms;
	cc.step_log_max = o->step_log_max;
	cc.keep_logs = o->keep_logs;
	cc.stop = conv_stopped;
	cc.packed = conv_packed;
	cc.arg = a;

	uv_signal_init(loop, &a->sig_term);
	uv_signal_init(loop, &a->sig_int);
	uv_signal_init(loop, &a->sig_hup);
	uv_timer_init(loop, &a->t_stop);
	a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
	a->t_stop.data = a;
	uv_signal_start(&a->sig_term, signal_cb, SIGTERM);
	uv_signal_start(&a->sig_int, signal_cb, SIGINT);
	uv_signal_start(&a->sig_hup, signal_cb, SIGHUP);

	a->conv = agent_conv_new(&cc);		/* reads the cache */

	rc_.loop = loop;
	rc_.store = store;
	rc_.sync = a->sync;
	rc_.host = o->host;
	rc_.prefix = o->prefix;
	rc_.self_exe = a->self_exe;
	rc_.keys = o->keys;
	rc_.retry_base_ms = o->retry_base_ms;
	rc_.parallel = o->run_parallel;
	rc_.max_request_bytes = o->max_request_bytes;
	rc_.refused = runs_refused;
	rc_.stopped = runs_stopped;
	rc_.arg = a;
	a->runs = agent_runs_new(&rc_);
	*out = a;
	return 0;
}

int
agent_run(struct agent *a)
{
	struct lr_err err;

	lr_err_clear(&err);
	lr_log_notice("leura-agent %s for host %s: etcd %s, prefix %s, state "
	    "in %s%s", LEURA_VERSION, a->o.host, a->o.etcd.endpoints,
	    a->o.prefix, a->o.state_dir, agent_conv_has_desired(a->conv) ?
	    " (with a cached desired state)" : "");
	if (agent_sync_start(a->sync, &err) < 0) {
		lr_err_print(&err);
		a->exit_code = 1;
		agent_stop(a, 1, false);
	} else {
		if (!a->o.once)
			agent_runs_start(a->runs);
		if (agent_conv_has_desired(a->conv) && !a->o.once)
			/* enforce what we last knew, while etcd is asked */
			agent_conv_converge(a->conv);
	}
	uv_run(a->loop, UV_RUN_DEFAULT);
	return a->exit_code;
}

void
agent_free(struct agent *a)
{
	if (a == NULL)
		return;
	a->stopping = true;	/* late hooks (a log packed) act on nothing */
	if (!a->signals_closed) {
		a->signals_closed = true;
		uv_close((uv_handle_t *)&a->sig_term, NULL);
		uv_close((uv_handle_t *)&a->sig_int, NULL);
		uv_close((uv_handle_t *)&a->sig_hup, NULL);
	}
	uv_close((uv_handle_t *)&a->t_stop, NULL);
	agent_conv_free(a->conv);
	agent_runs_free(a->runs);	/* its watch, before the client */
	agent_sync_free(a->sync);
	uv_run(a->loop, UV_RUN_DEFAULT);	/* the close callbacks */
	agent_store_close(a->store);
	free(a->self_exe);
	free(a);
}
