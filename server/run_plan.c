/*
 * The pure decisions of task runs (run-int.h): times, the dedupe
 * overlap, and run_advance, one pass of the engine over a run record.
 * Nothing here touches etcd, the clock (but run_now_ms) or a lock: the
 * engine reads, calls run_advance, and writes what it says in one
 * transaction (run_engine.c).
 *
 * The model (docs/runs.md): hosts (sorted) go in batches of "parallel"
 * (0: all at once); each host runs its steps in order, one at a time.
 * Approval steps cut the steps into segments: a batch starts a segment
 * once every host of the batches before it has ended that segment, and
 * an approval step waits ("waiting_approval") until every host has ended
 * the steps before it.  A failed step whose on_failure (the step's, else
 * the task's) is "stop" halts the run: nothing new is dispatched, what
 * runs ends, and the run ends "failed"; with "continue" the host goes on
 * with its next step and the run ends "failed" all the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "run-int.h"
#include "xalloc.h"

/* ---- times ---- */

int64_t
run_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
run_time_iso(int64_t ms, char buf[32])
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	char t[96];

	gmtime_r(&sec, &tm);
	snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	t[31] = '\0';	/* 24 characters; years past 9999 are cut */
	memcpy(buf, t, strlen(t) + 1);
}

int64_t
run_time_parse(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0, n = 0;
	time_t t;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    &n) != 6)
		return -1;
	s += n;
	if (*s == '.') {
		int d = 0;

		for (s++; *s >= '0' && *s <= '9'; s++, d++)
			if (d < 3)
				ms = ms * 10 + (*s - '0');
		for (; d < 3; d++)
			ms *= 10;
	}
	if (strcmp(s, "Z") != 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	return (int64_t)t * 1000 + ms;
}

/* ---- dedupe ---- */

bool
run_hosts_overlap(const json_t *a, const json_t *b)
{
	size_t i, j;
	json_t *x, *y;

	json_array_foreach(a, i, x)
		json_array_foreach(b, j, y)
			if (json_equal(x, y))
				return true;
	return false;
}

bool
run_dedupe_match(const json_t *rec, const char *task, const char *command,
    const json_t *hosts, int64_t now_ms, int64_t window_ms)
{
	int64_t created;

	if (window_ms <= 0)
		return false;
	if (task != NULL) {
		if (strcmp(lr_json_str(rec, "kind"), "task") != 0 ||
		    strcmp(lr_json_str(rec, "task"), task) != 0)
			return false;
	} else if (strcmp(lr_json_str(rec, "kind"), "exec") != 0 ||
	    command == NULL || strcmp(lr_json_str(rec, "command"),
	    command) != 0)
		return false;
	created = run_time_parse(lr_json_strn(rec, "created"));
	if (created < 0 || now_ms - created > window_ms)
		return false;
	return run_hosts_overlap(json_object_get(rec, "hosts"), hosts);
}

json_t *
run_summary(const json_t *rec)
{
	return json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "id",
	    json_object_get(rec, "id"), "by", json_object_get(rec, "by"),
	    "created", json_object_get(rec, "created"), "hosts",
	    json_object_get(rec, "hosts"), "outcome",
	    json_object_get(rec, "outcome"), "state",
	    json_object_get(rec, "state"));
}

/* ---- statuses ---- */

bool
run_status_failed(const char *st)
{
	return st != NULL && (strcmp(st, "failed") == 0 ||
	    strcmp(st, "lost") == 0 || strcmp(st, "timed_out") == 0);
}

const char *
run_status_of_result(const char *st)
{
	static const char *const known[] = { "ok", "changed", "skipped",
		"failed", "lost", "timed_out", "cancelled", NULL };
	size_t i;

	if (st == NULL)
		return "failed";
	if (strcmp(st, "aborted") == 0)
		return "cancelled";
	for (i = 0; known[i] != NULL; i++)
		if (strcmp(st, known[i]) == 0)
			return known[i];
	return "failed";
}

/* ---- actions ---- */

void
run_actions_init(struct run_actions *a)
{
	memset(a, 0, sizeof(*a));
	a->events = json_array();
}

void
run_actions_release(struct run_actions *a)
{
	free(a->dispatch);
	free(a->undispatch);
	free(a->lost);
	json_decref(a->events);
	memset(a, 0, sizeof(*a));
}

static void
hs_add(struct run_hs **v, size_t *n, const char *host, int step)
{
	*v = lr_xrealloc(*v, (*n + 1) * sizeof(**v));	/* a's */
	(*v)[*n].host = host;
	(*v)[*n].step = step;
	(*n)++;
}

static size_t
ops_of(const struct run_actions *a)
{
	return 1 + a->ndispatch + a->nundispatch + a->nlost;
}

/* ---- one pass ---- */

/* What a pass reads of the record (borrowed from it). */
struct pass {
	json_t		*rec, *progress, *steps, *hosts;
	const char	*id, *actor_res;
	size_t		 nsteps, nhosts;
	int64_t		 now;
	struct run_actions *a;
};

static json_t *
cell(const struct pass *p, size_t h, size_t s)
{
	return json_array_get(json_object_get(p->progress,
	    json_string_value(json_array_get(p->hosts, h))), s);
}

static const char *
cell_state(const struct pass *p, size_t h, size_t s)
{
	return lr_json_str(cell(p, h, s), "state");
}

static const char *
host_of(const struct pass *p, size_t h)
{
	return json_string_value(json_array_get(p->hosts, h));
}

static bool
is_approval(const struct pass *p, size_t s)
{
	return strcmp(lr_json_str(json_array_get(p->steps, s), "kind"),
	    "approval") == 0;
}

static bool
in_flight(const char *st)
{
	return strcmp(st, "dispatched") == 0 || strcmp(st, "running") == 0;
}

static void
set_cell(const struct pass *p, size_t h, size_t s, const char *state,
    const char *status)
{
	json_t *c = cell(p, h, s);

	json_object_set_new(c, "state", json_string(state));
	json_object_set_new(c, "status", status ? json_string(status) :
	    json_null());
	p->a->changed = true;
}

static void
event(const struct pass *p, const char *actor, const char *action,
    const char *outcome, json_t *detail)
{
	json_object_set_new(detail, "run", json_string(p->id));
	json_array_append_new(p->a->events, json_pack("{s:s, s:s, s:s, s:s, "
	    "s:o}", "actor", actor ? actor : "leurad", "action", action,
	    "resource", p->actor_res, "outcome", outcome, "detail", detail));
}

static void
step_event(const struct pass *p, size_t h, size_t s, const char *status)
{
	char action[64];

	snprintf(action, sizeof(action), "step.%s", status);
	event(p, NULL, action, run_status_failed(status) ? "failed" : "ok",
	    json_pack("{s:s, s:i, s:s}", "host", host_of(p, h), "step",
	    (int)s, "name", lr_json_str(json_array_get(p->steps, s),
	    "name")));
}

static void
set_state(const struct pass *p, const char *st)
{
	json_object_set_new(p->rec, "state", json_string(st));
	p->a->changed = true;
}

static void
finalise(const struct pass *p, const char *outcome, const char *reason)
{
	char t[32];

	run_time_iso(p->now, t);
	set_state(p, "finalised");
	json_object_set_new(p->rec, "outcome", json_string(outcome));
	json_object_set_new(p->rec, "ended", json_string(t));
	if (reason != NULL)
		json_object_set_new(p->rec, "reason", json_string(reason));
	event(p, NULL, "run.finalised", strcmp(outcome, "succeeded") == 0 ?
	    "ok" : "failed", json_pack("{s:s, s:s?}", "outcome", outcome,
	    "reason", reason));
}

/* Collect results and claims into the progress. */
static void
collect(const struct pass *p, const json_t *results, const json_t *claims,
    const json_t *gone)
{
	const json_t *r;
	const char *st, *host;
	char sk[24], gk[300];
	size_t h, s;

	for (h = 0; h < p->nhosts; h++) {
		host = host_of(p, h);
		for (s = 0; s < p->nsteps; s++) {
			st = cell_state(p, h, s);
			if (!in_flight(st))
				continue;
			snprintf(sk, sizeof(sk), "%04zu", s);
			snprintf(gk, sizeof(gk), "%s/%s", host, sk);
			r = json_object_get(json_object_get(results, host), sk);
			if (r != NULL) {
				st = run_status_of_result(lr_json_strn(r,
				    "status"));
				set_cell(p, h, s, "done", st);
				hs_add(&p->a->undispatch, &p->a->nundispatch,
				    host, (int)s);
				step_event(p, h, s, st);
			} else if (json_object_get(json_object_get(claims,
			    host), sk) != NULL) {
				if (strcmp(st, "dispatched") == 0)
					set_cell(p, h, s, "running", NULL);
			} else if (strcmp(st, "running") == 0 ||
			    json_object_get(gone, gk) != NULL) {
				/* the claim went with no result: the lease of
				   an agent that died ran out */
				set_cell(p, h, s, "done", "lost");
				hs_add(&p->a->lost, &p->a->nlost, host, (int)s);
				hs_add(&p->a->undispatch, &p->a->nundispatch,
				    host, (int)s);
				step_event(p, h, s, "lost");
			}
		}
	}
}

/* End the run now (cancel, timeout): in-flight steps end as status. */
static void
stop_all(const struct pass *p, const char *status)
{
	size_t h, s;

	for (h = 0; h < p->nhosts; h++)
		for (s = 0; s < p->nsteps; s++)
			if (in_flight(cell_state(p, h, s))) {
				set_cell(p, h, s, "done", status);
				hs_add(&p->a->undispatch, &p->a->nundispatch,
				    host_of(p, h), (int)s);
			}
}

static const char *
step_on_failure(const struct pass *p, size_t s)
{
	const char *f = lr_json_strn(json_array_get(p->steps, s),
	    "on_failure");

	if (f == NULL)
		f = lr_json_strn(p->rec, "on_failure");
	return f ? f : "stop";
}

/* The first failure that halts the run: its reason into buf; false: none. */
static bool
halted(const struct pass *p, char *buf, size_t len)
{
	size_t h, s;
	const json_t *c;

	for (s = 0; s < p->nsteps; s++)
		for (h = 0; h < p->nhosts; h++) {
			c = cell(p, h, s);
			if (run_status_failed(lr_json_strn(c, "status")) &&
			    strcmp(step_on_failure(p, s), "stop") == 0) {
				snprintf(buf, len, "step '%s' %s on %s "
				    "(on_failure: stop): nothing more was "
				    "started", lr_json_str(json_array_get(
				    p->steps, s), "name"),
				    strcmp(lr_json_str(c, "status"), "lost") ==
				    0 ? "was lost" : strcmp(lr_json_str(c,
				    "status"), "timed_out") == 0 ? "timed out" :
				    "failed", host_of(p, h));
				return true;
			}
		}
	return false;
}

/* The first approval step not yet approved; nsteps: none. */
static size_t
barrier(const struct pass *p)
{
	size_t s;

	for (s = 0; s < p->nsteps; s++)
		if (is_approval(p, s) && (p->nhosts == 0 ||
		    strcmp(cell_state(p, 0, s), "done") != 0))
			return s;
	return p->nsteps;
}

/* Whether host h has ended every step in [lo, hi). */
static bool
host_ended(const struct pass *p, size_t h, size_t lo, size_t hi)
{
	size_t s;

	for (s = lo; s < hi; s++)
		if (strcmp(cell_state(p, h, s), "done") != 0)
			return false;
	return true;
}

static size_t
count_in_flight(const struct pass *p)
{
	size_t h, s, n = 0;

	for (h = 0; h < p->nhosts; h++)
		for (s = 0; s < p->nsteps; s++)
			n += in_flight(cell_state(p, h, s));
	return n;
}

/* The latest decision on approval step s: borrowed, or NULL. */
static const json_t *
decision(const struct pass *p, size_t s)
{
	const json_t *v, *d = NULL;
	size_t i;

	json_array_foreach(json_object_get(p->rec, "approvals"), i, v)
		if (lr_json_int(v, "step") == (int64_t)s)
			d = v;
	return d;
}

/*
 * At the barrier A (every host ended the steps before it): apply a
 * decision, or wait.  true when the run may go on past A now.
 */
static bool
at_barrier(const struct pass *p, size_t A)
{
	const json_t *d = decision(p, A), *ap;
	const char *name = lr_json_str(json_array_get(p->steps, A), "name");
	char reason[600], t[32];
	int64_t since, tmo;
	size_t h;

	if (d != NULL && strcmp(lr_json_str(d, "decision"), "approved") == 0) {
		for (h = 0; h < p->nhosts; h++)
			set_cell(p, h, A, "done", "ok");
		json_object_del(p->rec, "waiting_since");
		set_state(p, "running");
		event(p, lr_json_str(d, "by"), "run.approved", "ok",
		    json_pack("{s:s, s:i, s:s}", "step_name", name, "step",
		    (int)A, "message", lr_json_str(d, "message")));
		return true;
	}
	if (d != NULL) {
		snprintf(reason, sizeof(reason), "approval step '%s' rejected "
		    "by %s%s%s", name, lr_json_str(d, "by"),
		    *lr_json_str(d, "message") ? ": " : "",
		    lr_json_str(d, "message"));
		event(p, lr_json_str(d, "by"), "run.rejected", "failed",
		    json_pack("{s:s, s:i, s:s}", "step_name", name, "step",
		    (int)A, "message", lr_json_str(d, "message")));
		finalise(p, "rejected", reason);
		return false;
	}
	if (strcmp(lr_json_str(p->rec, "state"), "waiting_approval") != 0) {
		run_time_iso(p->now, t);
		set_state(p, "waiting_approval");
		json_object_set_new(p->rec, "waiting_since", json_string(t));
		ap = json_object_get(json_array_get(p->steps, A), "approval");
		event(p, NULL, "run.waiting_approval", "ok", json_pack("{s:s,"
		    " s:i, s:O?}", "step_name", name, "step", (int)A, "groups",
		    json_object_get(ap, "groups")));
		return false;
	}
	ap = json_object_get(json_array_get(p->steps, A), "approval");
	tmo = lr_json_int(ap, "timeout_ms");
	since = run_time_parse(lr_json_strn(p->rec, "waiting_since"));
	if (tmo > 0 && since >= 0 && p->now - since >= tmo) {
		snprintf(reason, sizeof(reason), "no decision on approval step "
		    "'%s' within %lld s", name, (long long)(tmo / 1000));
		finalise(p, "timed_out", reason);
	}
	return false;
}

/* Dispatch what may start in the segment [lo, A). */
static void
dispatch(const struct pass *p, size_t lo, size_t A)
{
	size_t par = (size_t)lr_json_int(p->rec, "parallel"), b, h, s;
	bool busy;

	if (par == 0 || par > p->nhosts)
		par = p->nhosts;
	for (b = 0; b < p->nhosts; b += par) {
		/* the batches before b ended the segment */
		for (h = 0; h < b; h++)
			if (!host_ended(p, h, lo, A))
				return;
		for (h = b; h < b + par && h < p->nhosts; h++) {
			busy = false;
			for (s = lo; s < A && !busy; s++)
				busy = in_flight(cell_state(p, h, s));
			if (busy)
				continue;
			for (s = lo; s < A; s++)
				if (strcmp(cell_state(p, h, s), "pending") == 0)
					break;
			if (s == A)
				continue;
			if (ops_of(p->a) + 1 > RUN_TXN_OPS) {
				p->a->more = true;
				return;
			}
			set_cell(p, h, s, "dispatched", NULL);
			json_object_set_new(cell(p, h, s), "attempt",
			    json_integer(1));
			hs_add(&p->a->dispatch, &p->a->ndispatch,
			    host_of(p, h), (int)s);
		}
	}
}

void
run_advance(json_t *rec, const json_t *results, const json_t *claims,
    const json_t *gone, int64_t now_ms, struct run_actions *a)
{
	struct pass p = { 0 };
	const char *state = lr_json_str(rec, "state");
	const json_t *cancel;
	char reason[600], t[32], res[300];
	int64_t started, tmo;
	size_t A, lo, s, h;
	bool failed;

	if (strcmp(state, "finalised") == 0)
		return;
	p.rec = rec;
	p.progress = json_object_get(rec, "progress");
	p.steps = json_object_get(rec, "steps");
	p.hosts = json_object_get(rec, "hosts");
	p.nsteps = json_array_size(p.steps);
	p.nhosts = json_array_size(p.hosts);
	p.id = lr_json_str(rec, "id");
	p.now = now_ms;
	p.a = a;
	if (lr_json_strn(rec, "task") != NULL)
		snprintf(res, sizeof(res), "tasks/%s", lr_json_str(rec,
		    "task"));
	else
		snprintf(res, sizeof(res), "runs/%s", p.id);
	p.actor_res = res;
	if (strcmp(state, "scheduled") == 0 || strcmp(state, "init") == 0) {
		run_time_iso(now_ms, t);
		set_state(&p, "running");
		json_object_set_new(rec, "started", json_string(t));
		event(&p, NULL, "run.started", "ok", json_pack("{s:O}", "hosts",
		    p.hosts));
	}
	collect(&p, results, claims, gone);
	if ((cancel = json_object_get(rec, "cancel")) != NULL) {
		stop_all(&p, "cancelled");
		snprintf(reason, sizeof(reason), "cancelled by %s%s%s",
		    lr_json_str(cancel, "by"), *lr_json_str(cancel, "message") ?
		    ": " : "", lr_json_str(cancel, "message"));
		event(&p, lr_json_str(cancel, "by"), "run.cancelled", "ok",
		    json_pack("{s:s}", "message", lr_json_str(cancel,
		    "message")));
		finalise(&p, "cancelled", reason);
		return;
	}
	tmo = lr_json_int(rec, "timeout_ms");
	started = run_time_parse(lr_json_strn(rec, "started"));
	if (tmo > 0 && started >= 0 && now_ms - started >= tmo) {
		stop_all(&p, "timed_out");
		snprintf(reason, sizeof(reason), "the run's timeout (%lld s) "
		    "passed", (long long)(tmo / 1000));
		finalise(&p, "timed_out", reason);
		return;
	}
	if (halted(&p, reason, sizeof(reason))) {
		if (count_in_flight(&p) == 0)
			finalise(&p, "failed", reason);
		return;
	}
	for (;;) {
		A = barrier(&p);
		for (lo = A; lo > 0 && !is_approval(&p, lo - 1); lo--)
			;
		dispatch(&p, lo, A);
		if (count_in_flight(&p) > 0 || a->more)
			return;
		for (h = 0; h < p.nhosts; h++)
			if (!host_ended(&p, h, lo, A))
				return;
		if (A == p.nsteps)
			break;
		if (!at_barrier(&p, A))
			return;
	}
	failed = false;
	for (h = 0; h < p.nhosts; h++)
		for (s = 0; s < p.nsteps; s++)
			failed |= run_status_failed(lr_json_strn(cell(&p, h, s),
			    "status"));
	finalise(&p, failed ? "failed" : "succeeded", failed ? "a step failed "
	    "(on_failure: continue): see the hosts' results" : NULL);
}

json_t *
run_exec_step(const char *run, const char *command, const char *run_as)
{
	char *id = lr_xasprintf("exec/%s/0/command", run);
	json_t *st;

	st = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "name",
	    "command", "kind", "script", "phase", "task", "script", command);
	if (run_as != NULL)
		json_object_set_new(st, "run_as", json_string(run_as));
	free(id);
	return st;
}
