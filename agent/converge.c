/*
 * The run side's runs (converge.h): converging the desired state in force
 * (desired.c keeps it), and re-checking it for drift.  What a run reports
 * goes out through the sync side (agent_sync_publish); what a rollout
 * gate needs of other hosts comes from it (agent_sync_observed).
 *
 * A converge run goes through, in order: the turndown steps of services
 * that left the host, then for each service of the document (dependencies
 * first) its converge steps and its validate steps, then the turndown
 * steps that make before break (turndown_gate: each waits for its service
 * to validate where the head places it now).  Before a service's
 * first step, its rollout gates (doc["gates"], built by `leura apply`)
 * must be open: every host they name reports the service they name
 * validated, at a head no older than this document's generation.  A
 * closed gate holds the run (state "converging", "waiting" says why)
 * until another host's report or a new head reopens the question.  A
 * gate that opened stays open for the rest of the generation (repairs,
 * SIGHUP, a restart): cur["gates_open"], saved in desired.json, says so,
 * and such runs go on while etcd is away.
 *
 * Which steps run (the records in steps.json remember, per step id, the
 * hash of the step as last done and its outcome):
 *
 *   file steps       always: they compare the checksum and write only when
 *                    it differs;
 *   validate steps   always, after the service's converge steps;
 *   turndown steps   once, for a service that left;
 *   when_changed     only when a step it names changed something (in this
 *                    run, or in one a crash cut short: the trigger is
 *                    saved in the records before the step runs);
 *   other steps      when their hash differs from the record, or the
 *                    record says they did not succeed.
 *
 * A failed step fails its service: the service's later steps are skipped
 * and the services that depend on it on this host fail too; other
 * services go on.  A check run (every drift interval, after a converged
 * run) compares file steps, re-runs validate steps and looks for the paths
 * of `creates` guards; what it finds is reported as drift and, for
 * services with `drift: repair`, converged again.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define LR_LOG_COMPONENT "agent"
#include "clock.h"
#include "converge-int.h"
#include "json.h"
#include "log.h"
#include "report.h"
#include "step.h"
#include "xalloc.h"

#define FAIL_OUTPUT	1024	/* output kept in a report's failed_steps */

enum run_kind { RUN_CONVERGE, RUN_CHECK };

struct agent_run {
	struct agent_conv *cv;
	enum run_kind	 kind;
	json_t		*doc;		/* reference to cv->cur's document */
	json_t		*plan;		/* steps to go through, in order */
	int64_t		 gen;
	char		 id[64];	/* names the run's logs */
	size_t		 idx;
	const char	*svc;		/* service of the step at idx */
	json_t		*results;	/* [result] */
	json_t		*services;	/* {svc: {"validated", "failed"}} */
	json_t		*changed;	/* {step id: true} */
	json_t		*failed;	/* failed_steps of the report */
	json_t		*drift;		/* check runs: [{"id","detail"}] */
	json_t		*turned_down;	/* turndown step ids that succeeded */
	size_t		 late;		/* plan index of the turndowns that
					 * wait (make before break) */
	json_t		*td_open;	/* {svc: true}: their gate opened */
	struct agent_step_run *step;	/* running */
	char		*waiting;
	json_t		*waiting_for;	/* {"service", "host"} */
	bool		 aborting;
	bool		 repair;	/* converging again after drift */
	uint64_t	 t0;
	int64_t		 started_ms;
};

static void	run_next(struct agent_run *r);
static void	check_start(struct agent_conv *cv);

/* ---- small helpers ---- */

/* Whether step st is of phase p (PROTO_PHASE_*), of kind k (PROTO_KIND_*) */
static bool
is_phase(const json_t *st, const char *p)
{
	return strcmp(lr_json_str(st, PROTO_STEP_PHASE), p) == 0;
}

static bool
is_kind(const json_t *st, const char *k)
{
	return strcmp(lr_json_str(st, PROTO_STEP_KIND), k) == 0;
}

static int64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
conv_report_stamp(struct agent_conv *cv, const char *state)
{
	/*
	 * The head this desired state was found current at: other hosts'
	 * rollout gates read it, so it must not run ahead of the document
	 */
	proto_report_stamp(cv->report, conv_cur_generation(cv),
	    lr_json_int(cv->cur, "head"), agent_sync_head_deploy(cv->sync),
	    state, (int64_t)time(NULL), cv->interrupted);
}

/* Service svc's entry in the run, created validated false. */
static json_t *
svc_state(struct agent_run *r, const char *svc)
{
	json_t *s = json_object_get(r->services, svc);

	if (s == NULL) {
		s = json_pack("{s:b, s:b}", "validated", 0, "failed", 0);
		json_object_set_new(r->services, svc, s);
	}
	return s;
}

/* {svc: {"validated": bool}} for the report. */
static json_t *
report_services(const struct agent_run *r)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(r->services, k, v)
		json_object_set_new(out, k, proto_service_state(
		    lr_json_bool(v, "validated")));
	return out;
}

/* The report's run: r so far; took_ms -1 while it goes on. */
static void
report_run(struct agent_run *r, int64_t took_ms)
{
	struct proto_run run;

	run.id = r->id;
	run.started_unix_ms = r->started_ms;
	run.steps = (int64_t)json_array_size(r->plan);
	run.done = (int64_t)r->idx;
	run.duration_ms = took_ms;
	proto_report_set_run(r->cv->report, &run);
}

static void
report_progress(struct agent_run *r, const char *current)
{
	struct agent_conv *cv = r->cv;
	json_t *svcs;

	if (r->kind == RUN_CHECK)
		return;		/* checks report when they find something */
	conv_report_stamp(cv, PROTO_STATE_CONVERGING);
	report_run(r, -1);
	proto_report_set_current(cv->report, current);
	proto_report_set_waiting(cv->report, r->waiting, r->waiting_for);
	if (r->kind == RUN_CONVERGE) {
		svcs = report_services(r);
		proto_report_set_services(cv->report, svcs);
		json_decref(svcs);
	}
	agent_sync_publish(cv->sync, cv->report, NULL);
}

/* ---- rollout gates ---- */

enum gate { GATE_OPEN, GATE_WAIT, GATE_FAIL };

/*
 * The gates that opened at the generation in force:
 * cur["gates_open"] = {"generation": G, "services": {svc: true}}.  A new
 * document (desired.c) makes a new cur without it.
 */
static bool
gate_opened(const struct agent_conv *cv, int64_t gen, const char *svc)
{
	json_t *go = json_object_get(cv->cur, "gates_open");

	return lr_json_int(go, "generation") == gen &&
	    lr_json_bool(json_object_get(go, "services"), svc);
}

/* svc's gates opened at gen: remember it, in desired.json too. */
static void
gate_remember(struct agent_conv *cv, int64_t gen, const char *svc)
{
	json_t *go = json_object_get(cv->cur, "gates_open");
	struct lr_err err;

	if (cv->cur == NULL || conv_cur_generation(cv) != gen ||
	    gate_opened(cv, gen, svc))
		return;
	if (lr_json_int(go, "generation") != gen) {
		go = json_pack("{s:I, s:{}}", "generation", (json_int_t)gen,
		    "services");
		json_object_set_new(cv->cur, "gates_open", go);
	}
	json_object_set_new(json_object_get(go, "services"), svc,
	    json_true());
	if (agent_store_desired_save(cv->store, cv->cur, &err) < 0)
		lr_log_error("%s", err.msg);
}

/*
 * Whether service svc may start in run r (see the top of this file).  On
 * GATE_WAIT and GATE_FAIL *why says why (owned) and *on is
 * {"service", "host"}: what it waits for (new reference).
 */
static enum gate
gate_check(struct agent_run *r, const char *svc, char **why, json_t **on)
{
	struct agent_conv *cv = r->cv;
	json_t *gates = json_object_get(json_object_get(r->doc,
	    PROTO_DOC_GATES), svc);
	const json_t *obs = agent_sync_observed(cv->sync);
	json_t *g, *hv, *rep, *st;
	struct proto_report rr;
	const char *d, *h, *x;
	size_t i, j;
	bool opened = gate_opened(cv, r->gen, svc), remote = false;

	*why = NULL;
	*on = NULL;
	json_array_foreach(gates, i, g) {
		d = lr_json_str(g, PROTO_GATE_SERVICE);
		json_array_foreach(json_object_get(g, PROTO_GATE_HOSTS), j,
		    hv) {
			h = json_string_value(hv);
			if (h == NULL)
				continue;
			if (strcmp(h, cv->host) == 0) {
				st = json_object_get(r->services, d);
				if (lr_json_bool(st, "failed")) {
					*why = lr_xasprintf("%s depends on %s, "
					    "which failed on this host", svc,
					    d);
					*on = proto_waiting_for(d, h);
					return GATE_FAIL;
				}
				continue;
			}
			remote = true;
			if (opened)
				continue;	/* no need to ask etcd again */
			if ((obs = agent_sync_observed(cv->sync)) == NULL) {
				agent_sync_observe_start(cv->sync);
				*why = lr_xasprintf("%s waits for %s to "
				    "validate on %s (reading its report)", svc,
				    d, h);
				*on = proto_waiting_for(d, h);
				return GATE_WAIT;
			}
			rep = json_object_get(obs, h);
			if (rep == NULL) {
				*why = lr_xasprintf("%s waits for %s to "
				    "validate on %s (no report from its agent "
				    "yet)", svc, d, h);
				*on = proto_waiting_for(d, h);
				return GATE_WAIT;
			}
			proto_report_decode(rep, &rr);
			if (rr.head < r->gen) {
				*why = lr_xasprintf("%s waits for %s to "
				    "validate on %s (its agent is at "
				    "generation %lld, this deploy is %lld)",
				    svc, d, h, (long long)rr.head,
				    (long long)r->gen);
				*on = proto_waiting_for(d, h);
				return GATE_WAIT;
			}
			if (!lr_json_bool(json_object_get(rr.services, d),
			    PROTO_SERVICE_VALIDATED)) {
				*why = lr_xasprintf("%s waits for %s to "
				    "validate on %s (%s)", svc, d, h,
				    *rr.state ? rr.state : "no state");
				*on = proto_waiting_for(d, h);
				return GATE_WAIT;
			}
		}
		if (strcmp(lr_json_str(g, PROTO_GATE_WHY),
		    PROTO_GATE_WHY_ROLLOUT) != 0 || obs == NULL || opened)
			continue;
		/* a failure anywhere in this rollout stops it */
		json_object_foreach((json_t *)obs, x, rep) {
			proto_report_decode(rep, &rr);
			if (strcmp(x, cv->host) == 0 ||
			    rr.generation < r->gen ||
			    strcmp(rr.state, PROTO_STATE_FAILED) != 0)
				continue;
			st = json_object_get(rr.services, svc);
			if (st && !lr_json_bool(st, PROTO_SERVICE_VALIDATED)) {
				*why = lr_xasprintf("the rollout of %s "
				    "stopped: it failed on %s", svc, x);
				*on = proto_waiting_for(svc, x);
				return GATE_WAIT;
			}
		}
	}
	if (remote && !opened)
		gate_remember(cv, r->gen, svc);
	return GATE_OPEN;
}

/*
 * Make before break (docs/etcd-layout.md): a service that left this host
 * is turned down here only once it has validated on every host the head
 * places it on now, at a head no older than this document's generation,
 * so that a move never leaves it with no validated instance.  The head's
 * make_before_break names those hosts; a service it does not name
 * (rollout.move: break-before-make, no longer placed anywhere, or a head
 * of an older leura) is turned down at once, first in the run as before.
 * Before the head is read, every turndown waits.
 */
static bool
turndown_waits(struct agent_conv *cv, const char *svc)
{
	const json_t *mbb;
	int64_t hg;

	mbb = agent_sync_head_make_before_break(cv->sync, &hg);
	return hg == 0 || json_array_size(json_object_get(mbb, svc)) > 0;
}

/* Whether the turndown of svc may run now; as gate_check. */
static enum gate
turndown_gate(struct agent_run *r, const char *svc, char **why, json_t **on)
{
	struct agent_conv *cv = r->cv;
	const json_t *mbb, *obs, *rep;
	struct proto_report rr;
	json_t *hv;
	const char *h;
	int64_t hg;
	size_t i;

	*why = NULL;
	*on = NULL;
	if (lr_json_bool(r->td_open, svc))
		return GATE_OPEN;
	mbb = agent_sync_head_make_before_break(cv->sync, &hg);
	if (hg == 0) {
		*why = lr_xasprintf("the turndown of %s waits for the desired "
		    "state's head, to learn where %s runs now (reading it)",
		    svc, svc);
		return GATE_WAIT;
	}
	json_array_foreach(json_object_get(mbb, svc), i, hv) {
		if ((h = json_string_value(hv)) == NULL ||
		    strcmp(h, cv->host) == 0)
			continue;
		if ((obs = agent_sync_observed(cv->sync)) == NULL) {
			agent_sync_observe_start(cv->sync);
			*why = lr_xasprintf("the turndown of %s waits for %s "
			    "to validate on %s (reading its report)", svc, svc,
			    h);
			*on = proto_waiting_for(svc, h);
			return GATE_WAIT;
		}
		if ((rep = json_object_get(obs, h)) == NULL) {
			*why = lr_xasprintf("the turndown of %s waits for %s "
			    "to validate on %s (no report from its agent yet)",
			    svc, svc, h);
			*on = proto_waiting_for(svc, h);
			return GATE_WAIT;
		}
		proto_report_decode(rep, &rr);
		if (rr.head < r->gen) {
			*why = lr_xasprintf("the turndown of %s waits for %s "
			    "to validate on %s (its agent is at generation "
			    "%lld, this deploy is %lld)", svc, svc, h,
			    (long long)rr.head, (long long)r->gen);
			*on = proto_waiting_for(svc, h);
			return GATE_WAIT;
		}
		if (!lr_json_bool(json_object_get(rr.services, svc),
		    PROTO_SERVICE_VALIDATED)) {
			*why = lr_xasprintf("the turndown of %s waits for %s "
			    "to validate on %s (%s)", svc, svc, h,
			    *rr.state ? rr.state : "no state");
			*on = proto_waiting_for(svc, h);
			return GATE_WAIT;
		}
	}
	json_object_set_new(r->td_open, svc, json_true());
	return GATE_OPEN;
}

/* ---- records ---- */

static json_t *
record(struct agent_conv *cv, const char *id)
{
	return json_object_get(agent_store_records(cv->store), id);
}

static void
records_save(struct agent_conv *cv)
{
	struct lr_err err;

	if (agent_store_records_save(cv->store, &err) < 0)
		lr_log_error("%s", err.msg);
}

/*
 * Mark the steps of the plan after idx whose when_changed names step st;
 * true when a record changed.
 */
static bool
trigger_dependents(struct agent_run *r, const json_t *st)
{
	json_t *o, *n, *rec, *recs = agent_store_records(r->cv->store);
	size_t i, j;
	bool changed = false;

	for (i = r->idx + 1; i < json_array_size(r->plan); i++) {
		o = json_array_get(r->plan, i);
		if (strcmp(lr_json_str(o, PROTO_STEP_SERVICE),
		    lr_json_str(st, PROTO_STEP_SERVICE)) != 0 ||
		    strcmp(lr_json_str(o, PROTO_STEP_ROLE),
		    lr_json_str(st, PROTO_STEP_ROLE)) != 0)
			continue;
		json_array_foreach(json_object_get(o, PROTO_STEP_WHEN_CHANGED),
		    j, n) {
			if (strcmp(json_string_value(n),
			    lr_json_str(st, PROTO_STEP_NAME)))
				continue;
			if ((rec = json_object_get(recs,
			    lr_json_str(o, PROTO_STEP_ID))) == NULL) {
				rec = json_object();
				json_object_set_new(recs, lr_json_str(o,
				    PROTO_STEP_ID), rec);
			}
			json_object_set_new(rec, "triggered", json_true());
			changed = true;
		}
	}
	return changed;
}

/*
 * Whether step st must run in a converge run, and if not the reason put
 * in *why ("unchanged", "not triggered").
 */
static bool
must_run(struct agent_run *r, const json_t *st, const char **why)
{
	const char *kind = lr_json_str(st, PROTO_STEP_KIND);
	const char *phase = lr_json_str(st, PROTO_STEP_PHASE);
	const char *status;
	json_t *rec = record(r->cv, lr_json_str(st, PROTO_STEP_ID));
	char hash[65];

	if (strcmp(kind, PROTO_KIND_FILE) == 0 ||
	    strcmp(phase, PROTO_PHASE_CONVERGE) != 0)
		return true;
	if (json_array_size(json_object_get(st, PROTO_STEP_WHEN_CHANGED)) > 0) {
		if (lr_json_bool(rec, "triggered"))
			return true;
		*why = "not triggered: the steps it names did not change";
		return false;
	}
	status = lr_json_str(rec, "status");
	agent_step_hash(st, hash);
	if (strcmp(lr_json_str(rec, "hash"), hash) == 0 && (strcmp(status,
	    "ok") == 0 || strcmp(status, "changed") == 0 || strcmp(status,
	    "skipped") == 0)) {
		*why = "unchanged since it last ran";
		return false;
	}
	return true;
}

/* ---- results ---- */

static json_t *
result_json(const json_t *st, const struct agent_step_result *res,
    bool ran)
{
	struct proto_step_result o;

	memset(&o, 0, sizeof(o));
	o.id = lr_json_str(st, PROTO_STEP_ID);
	o.status = agent_step_status_name(res->status);
	o.changed = res->status == AGENT_STEP_CHANGED;
	o.ran = ran;
	/*
	 * why a step was skipped (a guard, an earlier failure) or did
	 * nothing is its reason; error is for a step that failed
	 */
	if (res->status == AGENT_STEP_FAILED ||
	    res->status == AGENT_STEP_ABORTED)
		o.error = res->error;
	else
		o.reason = res->error;
	o.started_unix_ms = res->started_ms;
	o.duration_ms = res->duration_ms;
	o.attempts = res->attempts;
	o.exit_code = res->exit_code;
	o.signal = res->term_signal;
	o.timed_out = res->timed_out;
	o.message = res->message;
	o.output = res->tail;
	return proto_step_result_encode(&o);
}

static void
note_failure(struct agent_run *r, const json_t *st,
    const struct agent_step_result *res)
{
	json_array_append_new(r->failed, proto_failed_step(lr_json_str(st,
	    PROTO_STEP_ID), res->timed_out ? -1 : res->exit_code,
	    res->error[0] ? res->error : agent_step_status_name(res->status),
	    proto_output_tail(res->tail, FAIL_OUTPUT)));
}

/* ---- log packing, on the thread pool ---- */

struct pack {
	uv_work_t w;
	char	*dir, *run;
	json_t	*manifest;
	size_t	 keep;
	struct lr_err err;
	int	 rc;
	/* the packed hook, and what it is told */
	void	(*packed)(void *, const char *, int64_t, const char *,
		    const char *);
	void	*arg;
	int64_t	 deploy;
	const char *status;	/* static */
};

static void
pack_work(uv_work_t *w)
{
	struct pack *p = w->data;

	p->rc = agent_store_logs_pack(p->dir, p->run, p->manifest, p->keep,
	    &p->err);
}

static void
pack_done(uv_work_t *w, int status)
{
	struct pack *p = w->data;

	char *archive;

	if (status == 0 && p->rc < 0)
		lr_log_warn("%s", p->err.msg);
	else if (status == 0 && p->packed != NULL) {
		archive = lr_xasprintf("%s/logs/%s.tar.gz", p->dir, p->run);
		p->packed(p->arg, p->run, p->deploy, p->status, archive);
		free(archive);
	}
	free(p->dir);
	free(p->run);
	json_decref(p->manifest);
	free(p);
}

static void
pack_logs(struct agent_run *r)
{
	struct agent_conv *cv = r->cv;
	struct pack *p = lr_xcalloc(1, sizeof(*p));
	json_t *steps = json_array(), *v, *c;
	size_t i;

	/* the manifest names each log: NNN.log is plan step NNN */
	json_array_foreach(r->results, i, v) {
		c = json_deep_copy(v);
		json_object_del(c, "output");
		json_array_append_new(steps, c);
	}
	p->dir = lr_xstrdup(agent_store_dir(cv->store));
	p->run = lr_xstrdup(r->id);
	p->keep = cv->keep_logs ? cv->keep_logs : 50;
	p->packed = cv->packed_cb;
	p->arg = cv->arg;
	p->deploy = lr_json_int(r->doc, PROTO_DOC_DEPLOY);
	if (p->deploy <= 0)
		p->deploy = agent_sync_head_deploy(cv->sync);
	p->status = r->aborting ? "aborted" : json_array_size(r->failed) > 0 ?
	    "failed" : "ok";
	p->manifest = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "host",
	    cv->host, "run", r->id, "kind", r->kind == RUN_CHECK ? "check" :
	    "converge", "generation", (json_int_t)r->gen, "started_unix_ms",
	    (json_int_t)r->started_ms, "steps", steps);
	p->w.data = p;
	if (uv_queue_work(cv->loop, &p->w, pack_work, pack_done) < 0) {
		p->rc = 0;
		pack_done(&p->w, 0);
	}
}

/* ---- the run ---- */

static void
run_free(struct agent_run *r)
{
	json_decref(r->doc);
	json_decref(r->plan);
	json_decref(r->results);
	json_decref(r->services);
	json_decref(r->changed);
	json_decref(r->failed);
	json_decref(r->drift);
	json_decref(r->turned_down);
	json_decref(r->td_open);
	free(r->waiting);
	json_decref(r->waiting_for);
	free(r);
}

static struct agent_run *
run_new(struct agent_conv *cv, enum run_kind kind)
{
	struct agent_run *r = lr_xcalloc(1, sizeof(*r));
	json_t *doc = json_object_get(cv->cur, "doc"), *st, *s, *late;
	size_t i;

	r->cv = cv;
	r->kind = kind;
	r->doc = json_incref(doc);
	r->gen = lr_json_int(doc, PROTO_DOC_GENERATION);
	r->plan = json_array();
	r->results = json_array();
	r->services = json_object();
	r->changed = json_object();
	r->failed = json_array();
	r->drift = json_array();
	r->turned_down = json_array();
	r->t0 = uv_now(cv->loop);
	r->started_ms = unix_ms();
	snprintf(r->id, sizeof(r->id), "%012lld-%lld%s", (long long)r->gen,
	    (long long)r->started_ms, kind == RUN_CHECK ? "-check" : "");
	r->td_open = json_object();
	late = json_array();
	/* turndowns that need not wait go first, as they always did */
	json_array_foreach(kind == RUN_CONVERGE ? json_object_get(cv->cur,
	    "turndown") : NULL, i, st)
		json_array_append(turndown_waits(cv, lr_json_str(st,
		    PROTO_STEP_SERVICE)) ? late : r->plan, st);
	json_array_foreach(json_object_get(doc, PROTO_DOC_STEPS), i, st) {
		if (is_phase(st, PROTO_PHASE_TURNDOWN))
			continue;
		if (kind == RUN_CHECK && !is_phase(st, PROTO_PHASE_VALIDATE) &&
		    !is_kind(st, PROTO_KIND_FILE) &&
		    json_object_get(st, PROTO_STEP_CREATES) == NULL)
			continue;
		json_array_append(r->plan, st);
	}
	/* the others last: this host's services are done when they wait */
	r->late = json_array_size(r->plan);
	json_array_extend(r->plan, late);
	json_decref(late);
	/* services with nothing to do are as good as validated */
	json_array_foreach(json_object_get(doc, PROTO_DOC_SERVICES), i, s)
		json_object_set_new(r->services, json_string_value(s),
		    json_pack("{s:b, s:b}", "validated", 1, "failed", 0));
	json_array_foreach(r->plan, i, st)
		if (!is_phase(st, PROTO_PHASE_TURNDOWN))
			json_object_set_new(svc_state(r, lr_json_str(st,
			    PROTO_STEP_SERVICE)), "validated", json_false());
	return r;
}

/*
 * Every drift interval: check a converged host; converge a failed one
 * again (its failed steps run again, the others are skipped).
 */
static void
drift_cb(uv_timer_t *t)
{
	struct agent_conv *cv = t->data;

	if (cv->run != NULL || cv->stopping || cv->cur == NULL)
		return;
	if (cv->last_ok == 0) {
		lr_log_notice("the last run failed: converging again");
		agent_conv_converge(cv);
	} else
		check_start(cv);
}

static void
drift_arm(struct agent_conv *cv)
{
	int64_t ms = cv->drift_interval_ms;

	if (ms <= 0)
		ms = lr_json_int(json_object_get(cv->cur, "doc"),
		    PROTO_DOC_DRIFT_INTERVAL_MS);
	if (ms <= 0)
		ms = 15 * 60 * 1000;
	uv_timer_start(&cv->t_drift, drift_cb, (uint64_t)ms, 0);
}

static void
check_finish(struct agent_run *r)
{
	struct agent_conv *cv = r->cv;
	json_t *d, *recs = agent_store_records(cv->store), *st, *svcs;
	json_t *none;
	const char *id, *svc, *mode;
	size_t i, j;
	bool repair = false;

	proto_report_set_checked(cv->report, unix_ms());
	if (json_array_size(r->drift) == 0) {
		if (strcmp(lr_json_str(cv->report, PROTO_REPORT_STATE),
		    PROTO_STATE_DRIFTED) == 0)
			conv_report_stamp(cv, PROTO_STATE_CONVERGED);
		none = json_array();
		proto_report_set_drift(cv->report, none);
		json_decref(none);
		agent_sync_publish(cv->sync, cv->report, NULL);
		drift_arm(cv);
		return;
	}
	/* services with drift: repair converge again */
	svcs = json_object_get(r->doc, PROTO_DOC_DRIFT);
	json_array_foreach(r->drift, i, d) {
		id = lr_json_str(d, PROTO_DRIFTED_ID);
		svc = lr_json_str(d, "service");
		mode = lr_json_str(svcs, svc);
		lr_log_warn("drift: %s: %s%s", id, lr_json_str(d,
		    PROTO_DRIFTED_DETAIL), strcmp(mode, PROTO_DRIFT_REPORT) ?
		    " (repairing)" : "");
		if (strcmp(mode, PROTO_DRIFT_REPORT) == 0)
			continue;
		repair = true;
		json_object_del(recs, id);
		/* a failed validation converges its whole service again */
		if (strcmp(lr_json_str(d, "phase"), PROTO_PHASE_VALIDATE) != 0)
			continue;
		json_array_foreach(json_object_get(r->doc, PROTO_DOC_STEPS), j,
		    st)
			if (strcmp(lr_json_str(st, PROTO_STEP_SERVICE),
			    svc) == 0)
				json_object_del(recs, lr_json_str(st,
				    PROTO_STEP_ID));
	}
	records_save(cv);
	json_array_foreach(r->drift, i, d) {
		json_object_del(d, "service");
		json_object_del(d, "phase");
	}
	conv_report_stamp(cv, PROTO_STATE_DRIFTED);
	proto_report_set_drift(cv->report, r->drift);
	agent_sync_publish(cv->sync, cv->report, NULL);
	if (repair)
		cv->rerun = cv->repair = true;
	else
		drift_arm(cv);
}

static void
run_finish(struct agent_run *r)
{
	struct agent_conv *cv = r->cv;
	bool failed = json_array_size(r->failed) > 0;
	int64_t took = (int64_t)(uv_now(cv->loop) - r->t0);
	json_t *results, *svcs;

	cv->run = NULL;
	agent_sync_observe_stop(cv->sync);
	/*
	 * A newer desired state came while the last step ran: the report
	 * is stamped with the document in force, so finishing this run
	 * would say the new generation converged (or drifted) before it
	 * ran.  Superseded: the run of the new document reports.
	 */
	if (r->gen != conv_cur_generation(cv))
		r->aborting = true;
	if (r->aborting) {
		/* stopped or superseded: the next run reports */
	} else if (r->kind == RUN_CHECK) {
		check_finish(r);
	} else {
		conv_turndown_done(cv, r->turned_down);
		conv_report_stamp(cv, failed ? PROTO_STATE_FAILED :
		    PROTO_STATE_CONVERGED);
		report_run(r, took);
		proto_report_set_current(cv->report, NULL);
		proto_report_set_waiting(cv->report, NULL, NULL);
		proto_report_set_failed_steps(cv->report, r->failed);
		svcs = report_services(r);
		proto_report_set_services(cv->report, svcs);
		json_decref(svcs);
		if (!r->repair) {
			svcs = json_array();
			proto_report_set_drift(cv->report, svcs);
			json_decref(svcs);
		}
		/* the sync side fits them to what etcd takes */
		results = proto_results_encode(r->gen, r->id, r->results);
		agent_sync_publish(cv->sync, cv->report, results);
		json_decref(results);
		conv_files_gc(cv);
		cv->last_ok = failed ? 0 : 1;
		lr_log_notice("generation %lld: %s in %lld ms (%zu steps, %zu "
		    "changed%s%s)", (long long)r->gen, failed ? "failed" :
		    "converged", (long long)took, json_array_size(r->plan),
		    json_object_size(r->changed), failed ? ", first failure: " :
		    "", failed ? lr_json_str(json_array_get(r->failed, 0),
		    PROTO_FAILED_ID) : "");
		free(cv->interrupted);
		cv->interrupted = NULL;
		cv->runs++;
	}
	if (r->kind == RUN_CONVERGE && json_array_size(r->results) > 0)
		pack_logs(r);
	run_free(r);
	malloc_trim(0);		/* idle from here on: give the heap back */
	if (cv->stopping) {
		cv->stop_cb(cv->arg, 0);	/* the owner is stopping */
		return;
	}
	if (cv->once && !cv->rerun) {
		cv->stop_cb(cv->arg, cv->last_ok == 1 ? 0 : 1);
		return;
	}
	if (cv->rerun) {
		cv->rerun = false;
		agent_conv_converge(cv);
		return;
	}
	drift_arm(cv);
}

/*
 * Step st drifted (detail says how): an entry of the report's drift, with
 * the service and phase the check needs until it reports.
 */
static void
drifted(struct agent_run *r, const json_t *st, const char *detail)
{
	json_t *d = proto_drifted(lr_json_str(st, PROTO_STEP_ID), detail);

	json_object_set_new(d, "service", json_string(lr_json_str(st,
	    PROTO_STEP_SERVICE)));
	json_object_set_new(d, "phase", json_string(lr_json_str(st,
	    PROTO_STEP_PHASE)));
	json_array_append_new(r->drift, d);
}

static void
step_done(struct agent_step_run *sr, const struct agent_step_result *res,
    void *arg)
{
	struct agent_run *r = arg;
	struct agent_conv *cv = r->cv;
	json_t *st = json_array_get(r->plan, r->idx), *recs, *rec;
	const char *id = lr_json_str(st, PROTO_STEP_ID);
	const char *phase = lr_json_str(st, PROTO_STEP_PHASE);
	struct agent_step_result checked;
	struct lr_err err;
	char hash[65];
	bool file = is_kind(st, PROTO_KIND_FILE), save = false;

	r->step = NULL;
	/*
	 * A validate command that passes checked, it changed nothing (a
	 * script's or a request's success counts as a change elsewhere)
	 */
	if (res->status == AGENT_STEP_CHANGED &&
	    is_phase(st, PROTO_PHASE_VALIDATE) &&
	    (is_kind(st, PROTO_KIND_SCRIPT) || is_kind(st, PROTO_KIND_HTTP))) {
		checked = *res;
		checked.status = AGENT_STEP_OK;
		res = &checked;
	}
	json_array_append_new(r->results, result_json(st, res, true));
	if (!file && agent_store_running_set(cv->store, NULL, &err) < 0)
		lr_log_error("%s", err.msg);
	if (res->status == AGENT_STEP_ABORTED) {
		r->aborting = true;
		run_finish(r);
		return;
	}
	if (r->kind == RUN_CHECK) {
		if (file && res->status == AGENT_STEP_CHANGED)
			drifted(r, st, res->error[0] ? res->error :
			    "content differs");
		else if (res->status == AGENT_STEP_FAILED)
			drifted(r, st, res->error[0] ? res->error :
			    "validation failed");
		r->idx++;
		run_next(r);
		return;
	}
	recs = agent_store_records(cv->store);
	if (res->status == AGENT_STEP_FAILED) {
		note_failure(r, st, res);
		if (strcmp(phase, PROTO_PHASE_TURNDOWN) != 0)
			json_object_set_new(svc_state(r, lr_json_str(st,
			    PROTO_STEP_SERVICE)), "failed", json_true());
		/* it runs again next time; a pending trigger stays */
		if (!file && lr_json_bool(record(cv, id), "triggered"))
			json_object_set_new(recs, id, json_pack("{s:b}",
			    "triggered", 1));
		else if (!file)
			json_object_del(recs, id);
		save = !file;
		lr_log_warn("step '%s' failed: %s", id, res->error[0] ?
		    res->error : "see its log");
	} else {
		if (res->status == AGENT_STEP_CHANGED) {
			json_object_set_new(r->changed, id, json_true());
			save = trigger_dependents(r, st);
		}
		if (strcmp(phase, PROTO_PHASE_TURNDOWN) == 0)
			json_array_append_new(r->turned_down, json_string(id));
		else if (!file && strcmp(phase, PROTO_PHASE_CONVERGE) == 0) {
			agent_step_hash(st, hash);
			rec = json_pack("{s:s, s:s, s:I, s:I}", "hash", hash,
			    "status", agent_step_status_name(res->status),
			    "generation", (json_int_t)r->gen, "at_unix_ms",
			    (json_int_t)(res->started_ms + res->duration_ms));
			json_object_set_new(recs, id, rec);
			save = true;
		}
	}
	if (save)
		records_save(cv);
	r->idx++;
	run_next(r);
}

/* The service of the step at idx is done: it validated unless it failed. */
static void
service_end(struct agent_run *r)
{
	json_t *s;

	if (r->svc == NULL)
		return;
	s = svc_state(r, r->svc);
	json_object_set_new(s, "validated", json_boolean(!json_is_true(
	    json_object_get(s, "failed"))));
	r->svc = NULL;
}

/* A step that does not run: its result says why. */
static void
not_run(struct agent_run *r, const json_t *st, enum agent_step_status s,
    const char *why)
{
	struct agent_step_result res;

	memset(&res, 0, sizeof(res));
	res.status = s;
	res.exit_code = -1;
	snprintf(res.error, sizeof(res.error), "%s", why);
	json_array_append_new(r->results, result_json(st, &res, false));
}

/* Check runs: a `creates` guard's path should still be there. */
static void
check_creates(struct agent_run *r, const json_t *st)
{
	struct stat sb;
	json_t *rec = record(r->cv, lr_json_str(st, PROTO_STEP_ID));
	const char *p = lr_json_str(st, PROTO_STEP_CREATES);
	char *detail;

	if (rec == NULL || strcmp(lr_json_str(rec, "status"), "failed") == 0 ||
	    stat(p, &sb) == 0)
		return;
	detail = lr_xasprintf("'%s' (creates) is missing", p);
	drifted(r, st, detail);
	free(detail);
}

/* The run waits (why and on taken): say so once. */
static void
hold(struct agent_run *r, char *why, json_t *on)
{
	if (r->waiting != NULL && strcmp(r->waiting, why) == 0) {
		free(why);
		json_decref(on);
		return;
	}
	lr_log_info("%s", why);
	free(r->waiting);
	r->waiting = why;
	json_decref(r->waiting_for);
	r->waiting_for = on;
	report_progress(r, NULL);
}

/* The run goes on: no longer waiting. */
static void
unhold(struct agent_run *r)
{
	free(r->waiting);
	r->waiting = NULL;
	json_decref(r->waiting_for);
	r->waiting_for = NULL;
}

static void
run_next(struct agent_run *r)
{
	struct agent_conv *cv = r->cv;
	struct agent_step_ctx ctx;
	struct lr_err err;
	json_t *st, *entry;
	const char *svc, *why = NULL;
	char *gwhy, *log;
	json_t *gon;
	enum gate g;
	int rc;

	for (; r->idx < json_array_size(r->plan); r->idx++) {
		if (r->aborting || cv->rerun) {
			/* stopping, or superseded by a newer desired state */
			r->aborting = true;
			break;
		}
		st = json_array_get(r->plan, r->idx);
		svc = lr_json_str(st, PROTO_STEP_SERVICE);
		if (is_phase(st, PROTO_PHASE_TURNDOWN)) {
			service_end(r);
			if (r->idx >= r->late) {
				g = turndown_gate(r, svc, &gwhy, &gon);
				if (g == GATE_WAIT) {
					hold(r, gwhy, gon);
					return;	/* agent_conv_kick goes on */
				}
				unhold(r);
			}
		} else if (r->svc == NULL || strcmp(r->svc, svc) != 0) {
			service_end(r);
			if (r->kind == RUN_CONVERGE) {
				g = gate_check(r, svc, &gwhy, &gon);
				if (g == GATE_WAIT) {
					hold(r, gwhy, gon);
					return;	/* agent_conv_kick goes on */
				}
				json_decref(gon);
				unhold(r);
				if (g == GATE_FAIL) {
					json_object_set_new(svc_state(r, svc),
					    "failed", json_true());
					json_array_append_new(r->failed,
					    proto_failed_step(lr_json_str(st,
					    PROTO_STEP_ID), -1, gwhy, NULL));
					free(gwhy);
				}
			}
			r->svc = svc;
			report_progress(r, NULL);
		}
		if (r->kind == RUN_CONVERGE &&
		    !is_phase(st, PROTO_PHASE_TURNDOWN) &&
		    lr_json_bool(svc_state(r, svc), "failed")) {
			not_run(r, st, AGENT_STEP_SKIPPED, "an earlier step "
			    "of the service failed");
			continue;
		}
		if (r->repair && strcmp(lr_json_str(json_object_get(r->doc,
		    PROTO_DOC_DRIFT), svc), PROTO_DRIFT_REPORT) == 0) {
			/* drift: report: what drifted stays as it is */
			not_run(r, st, AGENT_STEP_OK, "not repaired: the "
			    "service has drift: report");
			continue;
		}
		if (r->kind == RUN_CONVERGE && !must_run(r, st, &why)) {
			not_run(r, st, AGENT_STEP_OK, why);
			continue;
		}
		if (r->kind == RUN_CHECK && !is_kind(st, PROTO_KIND_FILE) &&
		    !is_phase(st, PROTO_PHASE_VALIDATE)) {
			check_creates(r, st);
			continue;
		}
		break;
	}
	if (r->idx >= json_array_size(r->plan) || r->aborting) {
		service_end(r);
		run_finish(r);
		return;
	}
	st = json_array_get(r->plan, r->idx);
	/*
	 * Logs are for commands of converge runs: file steps (but for their
	 * validate command) and checks keep what they say in their result
	 */
	log = r->kind == RUN_CHECK || (is_kind(st, PROTO_KIND_FILE) &&
	    json_object_get(st, PROTO_STEP_VALIDATE) == NULL) ? NULL :
	    agent_store_log_path(cv->store, r->id, r->idx);
	memset(&ctx, 0, sizeof(ctx));
	ctx.loop = cv->loop;
	ctx.step = st;
	ctx.mode = r->kind == RUN_CHECK && is_kind(st, PROTO_KIND_FILE) ?
	    AGENT_STEP_CHECK : AGENT_STEP_RUN;
	ctx.files_dir = agent_store_files_dir(cv->store);
	ctx.work_dir = agent_store_work_dir(cv->store);
	ctx.log_path = log;
	ctx.self_exe = cv->self_exe;
	ctx.host = cv->host;
	ctx.generation = r->gen;
	ctx.retry_base_ms = cv->retry_base_ms;
	ctx.log_max = cv->step_log_max;
	if (!is_kind(st, PROTO_KIND_FILE)) {
		entry = json_pack("{s:s, s:I, s:s, s:I}", "id",
		    lr_json_str(st, PROTO_STEP_ID), "generation",
		    (json_int_t)r->gen, "run", r->id, "started_unix_ms",
		    (json_int_t)unix_ms());
		if (agent_store_running_set(cv->store, entry, &err) < 0)
			lr_log_error("%s", err.msg);
		json_decref(entry);
		report_progress(r, lr_json_str(st, PROTO_STEP_ID));
	}
	lr_log_debug("step '%s'", lr_json_str(st, PROTO_STEP_ID));
	rc = agent_step_start(&ctx, step_done, r, &r->step, &err);
	free(log);
	if (rc < 0) {
		struct agent_step_result res;

		memset(&res, 0, sizeof(res));
		res.status = AGENT_STEP_FAILED;
		res.exit_code = -1;
		res.started_ms = unix_ms();
		snprintf(res.error, sizeof(res.error), "%s", err.msg);
		step_done(NULL, &res, r);
	}
}

/* ---- entry points ---- */

static void
start(struct agent_conv *cv, enum run_kind kind, bool repair)
{
	struct agent_run *r;

	uv_timer_stop(&cv->t_drift);
	r = run_new(cv, kind);
	r->repair = repair;
	cv->run = r;
	if (kind == RUN_CONVERGE)
		lr_log_info("run %s: %zu steps", r->id,
		    json_array_size(r->plan));
	run_next(r);
}

static void
check_start(struct agent_conv *cv)
{
	start(cv, RUN_CHECK, false);
}

void
agent_conv_converge(struct agent_conv *cv)
{
	bool repair = cv->repair;

	if (cv->cur == NULL || cv->stopping)
		return;
	if (cv->run != NULL) {
		cv->rerun = true;
		/* a run held by a gate, or a check, can go at once */
		if (cv->run->step == NULL)
			run_next(cv->run);
		return;
	}
	cv->repair = false;
	start(cv, RUN_CONVERGE, repair);
}

void
agent_conv_kick(struct agent_conv *cv)
{
	if (cv->run != NULL && cv->run->step == NULL && cv->run->waiting)
		run_next(cv->run);
}

bool
agent_conv_stop(struct agent_conv *cv)
{
	struct agent_run *r = cv->run;

	cv->stopping = true;
	if (r != NULL) {
		r->aborting = true;
		if (r->step) {
			/* step_done comes with AGENT_STEP_ABORTED, then the
			 * stop hook */
			agent_step_abort(r->step);
			return true;
		}
		cv->run = NULL;
		agent_sync_observe_stop(cv->sync);
		if (r->kind == RUN_CONVERGE && json_array_size(r->results) > 0)
			pack_logs(r);
		run_free(r);
	}
	if (!cv->t_drift_closed) {
		cv->t_drift_closed = true;
		uv_timer_stop(&cv->t_drift);
		uv_close((uv_handle_t *)&cv->t_drift, NULL);
	}
	return false;
}

bool
agent_conv_busy(const struct agent_conv *cv)
{
	return cv->run != NULL || cv->runs > 0;
}

struct agent_conv *
agent_conv_new(const struct agent_conv_config *c)
{
	struct agent_conv *cv = lr_xcalloc(1, sizeof(*cv));

	cv->loop = c->loop;
	cv->store = c->store;
	cv->sync = c->sync;
	cv->host = lr_xstrdup(c->host);
	cv->self_exe = lr_xstrdup(c->self_exe);
	cv->once = c->once;
	cv->drift_interval_ms = c->drift_interval_ms;
	cv->retry_base_ms = c->retry_base_ms;
	cv->step_log_max = c->step_log_max;
	cv->keep_logs = c->keep_logs;
	cv->stop_cb = c->stop;
	cv->packed_cb = c->packed;
	cv->arg = c->arg;
	cv->last_ok = -1;
	cv->report = json_object();
	uv_timer_init(cv->loop, &cv->t_drift);
	cv->t_drift.data = cv;
	conv_desired_load(cv);
	return cv;
}

static void
conv_release(struct agent_conv *cv)
{
	json_decref(cv->cur);
	json_decref(cv->report);
	free(cv->interrupted);
	free(cv->host);
	free(cv->self_exe);
	free(cv);
}

static void
conv_closed(uv_handle_t *h)
{
	conv_release(h->data);
}

void
agent_conv_free(struct agent_conv *cv)
{
	if (cv == NULL)
		return;
	if (cv->run)
		LR_BUG("agent_conv_free with a run going on");
	if (cv->t_drift_closed) {
		conv_release(cv);
		return;
	}
	cv->t_drift_closed = true;
	uv_close((uv_handle_t *)&cv->t_drift, conv_closed);
}
